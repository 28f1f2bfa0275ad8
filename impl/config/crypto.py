"""IPsec transform sets (the document's Table 2) and the crypto card's capabilities.

Transform combination rules, from Table 2 "Allowed Transform Combinations":

- at most one AH transform: ``ah-md5-hmac``, ``ah-sha-hmac``;
- at most one ESP encryption transform: ``esp-des``, ``esp-3des``,
  ``esp-aes [128|192|256]`` (128 when no size is given), ``esp-null``;
- at most one ESP authentication transform: ``esp-md5-hmac``, ``esp-sha-hmac``,
  and only together with an ESP encryption transform ("If an ESP Authentication
  Transform is used, you must pick one");
- at most one compression transform: ``comp-lzs``;
- one to three transforms in all (``transform1 [transform2 [transform3]]``).

vpnha extension (not in the document): ``esp-gcm [128|192|256]``, AES-GCM with a
16-octet ICV as in RFC 4106. It authenticates by itself, so it may not be combined
with an ESP authentication transform.

Spellings the document only shows in ``show`` output, such as ``esp-256-aes``, are
not configuration syntax and are rejected.

The crypto card is configured with the vpnha extension command (IOS has no
command for it; the card is simply present in the chassis)::

    vpnha crypto-card {none|vam|vam2} [capacity N]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .errors import CommandError
from .values import parse_int, shown

TransformMode = Literal["tunnel", "transport"]
CardKind = Literal["none", "vam", "vam2"]

AH_TRANSFORMS = ("ah-md5-hmac", "ah-sha-hmac")
ESP_ENCRYPTION_TRANSFORMS = ("esp-des", "esp-3des", "esp-aes", "esp-null", "esp-gcm")
ESP_AUTHENTICATION_TRANSFORMS = ("esp-md5-hmac", "esp-sha-hmac")
COMPRESSION_TRANSFORMS = ("comp-lzs",)
AES_KEY_BITS = (128, 192, 256)
_KEYED_CIPHERS = ("esp-aes", "esp-gcm")
_MAX_TRANSFORMS = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class TransformSet:
    """``crypto ipsec transform-set NAME T1 [T2 [T3]]`` with its ``mode`` sub-command."""

    name: str
    """Transform set name (case-sensitive)."""
    transforms: tuple[str, ...]
    """Transforms in file order, canonical text: ``esp-aes 256``, ``esp-sha-hmac`` (1-3)."""
    ah: str | None = None
    """ah-md5-hmac or ah-sha-hmac; None when no AH transform."""
    esp_encryption: str | None = None
    """esp-des, esp-3des, esp-aes, esp-null or esp-gcm; None when no ESP encryption."""
    esp_key_bits: int | None = None
    """AES key size for esp-aes / esp-gcm: 128, 192 or 256; None for other ciphers."""
    esp_authentication: str | None = None
    """esp-md5-hmac or esp-sha-hmac; None when absent."""
    compression: str | None = None
    """comp-lzs or None."""
    mode: TransformMode = "tunnel"
    """``mode tunnel|transport``; tunnel by default."""
    line: int = field(default=0, compare=False)
    """Line of the ``crypto ipsec transform-set`` command (0 = unknown); not compared."""


def parse_transforms(name: str, words: list[str], line: int = 0) -> TransformSet:
    """Build a transform set from the words after its name, enforcing Table 2."""
    if not words:
        raise CommandError(f"transform-set {name}: at least one transform is required")
    transforms: list[str] = []
    ah: str | None = None
    esp_encryption: str | None = None
    esp_key_bits: int | None = None
    esp_authentication: str | None = None
    compression: str | None = None
    index = 0
    while index < len(words):
        word = words[index].lower()
        index += 1
        if word in AH_TRANSFORMS:
            if ah is not None:
                raise CommandError(f"second AH transform {word} (already {ah}); pick up to one")
            ah = word
            transforms.append(word)
        elif word in ESP_ENCRYPTION_TRANSFORMS:
            if esp_encryption is not None:
                raise CommandError(
                    f"second ESP encryption transform {word} (already {esp_encryption}); "
                    "pick up to one"
                )
            esp_encryption = word
            text = word
            if word in _KEYED_CIPHERS:
                esp_key_bits = 128
                if index < len(words) and words[index][:1].isdigit():
                    esp_key_bits = parse_int(words[index], f"{word} key size", 128, 256)
                    if esp_key_bits not in AES_KEY_BITS:
                        raise CommandError(f"{word} key size {esp_key_bits} is not 128, 192 or 256")
                    index += 1
                if esp_key_bits != 128:
                    text = f"{word} {esp_key_bits}"
            transforms.append(text)
        elif word in ESP_AUTHENTICATION_TRANSFORMS:
            if esp_authentication is not None:
                raise CommandError(
                    f"second ESP authentication transform {word} (already "
                    f"{esp_authentication}); pick up to one"
                )
            esp_authentication = word
            transforms.append(word)
        elif word in COMPRESSION_TRANSFORMS:
            if compression is not None:
                raise CommandError(f"second compression transform {word}; pick up to one")
            compression = word
            transforms.append(word)
        else:
            known = ", ".join(
                AH_TRANSFORMS
                + ESP_ENCRYPTION_TRANSFORMS
                + ESP_AUTHENTICATION_TRANSFORMS
                + COMPRESSION_TRANSFORMS
            )
            raise CommandError(f"transform {shown(words[index - 1])} is not one of {known}")
    if len(transforms) > _MAX_TRANSFORMS:
        raise CommandError(
            f"transform-set {name} has {len(transforms)} transforms; at most {_MAX_TRANSFORMS}"
        )
    if esp_authentication is not None and esp_encryption is None:
        raise CommandError(
            f"ESP authentication transform {esp_authentication} needs an ESP encryption "
            "transform (esp-des, esp-3des, esp-aes, esp-null)"
        )
    if esp_encryption == "esp-gcm" and esp_authentication is not None:
        raise CommandError(
            f"esp-gcm authenticates by itself and cannot be combined with {esp_authentication}"
        )
    return TransformSet(
        name=name,
        transforms=tuple(transforms),
        ah=ah,
        esp_encryption=esp_encryption,
        esp_key_bits=esp_key_bits,
        esp_authentication=esp_authentication,
        compression=compression,
        line=line,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CardCapability:
    """What one kind of crypto card can do (placeholder values, see CARD_CAPABILITIES)."""

    transforms: frozenset[str] | None
    """Transforms it accelerates, canonical text (``esp-aes 256``); None = everything."""
    ike_encryption: frozenset[str] | None
    """IKE ``encryption`` values it supports; None = everything."""
    ike_authentication: frozenset[str] | None
    """IKE ``authentication`` methods it supports; None = everything."""
    default_capacity_sas: int | None
    """SAs it holds when no ``capacity`` is configured; None = no hardware limit."""


_VAM_TRANSFORMS = frozenset(
    {
        "ah-md5-hmac",
        "ah-sha-hmac",
        "esp-des",
        "esp-3des",
        "esp-null",
        "esp-md5-hmac",
        "esp-sha-hmac",
        "comp-lzs",
    }
)
_VAM2_TRANSFORMS = _VAM_TRANSFORMS | {"esp-aes", "esp-aes 192", "esp-aes 256"}

# UNVERIFIED PLACEHOLDERS (protocols.md §5.2 "[U — no primary source retrieved]").
# Facts from the product document: VAM and VAM2 do not support IKE rsa-encr (the IKE
# policy table); AES needs VAM2 (Table 1 lists VAM2 only from 12.2(14)SU, and the
# document's warning "encryption hardware does not support transform esp-aes 256").
# Neither card does AES-GCM (a vpnha extension). Capacities (~5,000 tunnels, i.e.
# ~10,000 SAs) are believed values, not verified. Software ("none") does everything.
CARD_CAPABILITIES: dict[CardKind, CardCapability] = {
    "none": CardCapability(
        transforms=None, ike_encryption=None, ike_authentication=None, default_capacity_sas=None
    ),
    "vam": CardCapability(
        transforms=_VAM_TRANSFORMS,
        ike_encryption=frozenset({"des", "3des"}),
        ike_authentication=frozenset({"rsa-sig", "pre-share"}),
        default_capacity_sas=10000,
    ),
    "vam2": CardCapability(
        transforms=_VAM2_TRANSFORMS,
        ike_encryption=frozenset({"des", "3des", "aes", "aes 192", "aes 256"}),
        ike_authentication=frozenset({"rsa-sig", "pre-share"}),
        default_capacity_sas=10000,
    ),
}
CARD_KINDS: dict[str, CardKind] = {"none": "none", "vam": "vam", "vam2": "vam2"}
MAX_CARD_CAPACITY = 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class CryptoCard:
    """The router's crypto engine: ``vpnha crypto-card {none|vam|vam2} [capacity N]``."""

    kind: CardKind = "none"
    """none (software crypto), vam or vam2."""
    capacity_sas: int | None = None
    """Configured SA capacity 1-1000000; None = the card's default (see sa_capacity)."""
    line: int = field(default=0, compare=False)
    """Line of the ``vpnha crypto-card`` command (0 = absent / unknown); not compared."""

    @property
    def capability(self) -> CardCapability:
        """The capability table entry for this kind of card."""
        return CARD_CAPABILITIES[self.kind]

    def sa_capacity(self) -> int | None:
        """SAs the card can hold (configured, else the default); None = no hardware limit."""
        if self.capacity_sas is not None:
            return self.capacity_sas
        return self.capability.default_capacity_sas

    def unsupported_transforms(self, transform_set: TransformSet) -> tuple[str, ...]:
        """The transforms of ``transform_set`` this card cannot do, in set order."""
        supported = self.capability.transforms
        if supported is None:
            return ()
        return tuple(t for t in transform_set.transforms if t not in supported)

    def supports_ike_encryption(self, encryption: str) -> bool:
        """True when IKE ``encryption`` (des, 3des, aes, aes 192, aes 256) is supported."""
        supported = self.capability.ike_encryption
        return supported is None or encryption in supported

    def supports_ike_authentication(self, method: str) -> bool:
        """True when IKE ``authentication`` (rsa-sig, rsa-encr, pre-share) is supported."""
        supported = self.capability.ike_authentication
        return supported is None or method in supported
