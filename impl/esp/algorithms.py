"""ESP and AH transforms by their Table 2 names, with key lengths and cipher objects.

Theory of operation
-------------------
A transform set line such as ``esp-aes 256 esp-sha-hmac`` names one encryption
and at most one integrity algorithm; ``esp_transform`` turns those names into an
``EspTransform`` record that says everything the data plane needs: key lengths,
IV, block and ICV sizes. ``ah_transform`` does the same for AH. The ``new_*``
helpers build the long-lived ``cryptography`` objects an SA keeps for its
whole life (lab-notes §4: reusing them is what makes the data path fast).

=================  ===============================  ==========  ======  =====  ===
name               algorithm                        key bytes   IV      block  ICV
=================  ===============================  ==========  ======  =====  ===
esp-des            DES-CBC (RFC 2405)               8           8       8      -
esp-3des           3DES-EDE-CBC (RFC 2451)          24          8       8      -
esp-aes [128]      AES-CBC (RFC 3602)               16          16      16     -
esp-aes 192/256    AES-CBC                          24 / 32     16      16     -
esp-null           NULL (RFC 2410)                  0           0       1      -
esp-gcm [128]      AES-GCM-16 (RFC 4106)            16 + 4 salt 8       1      16
esp-gcm 192/256    AES-GCM-16                       24/32 + 4   8       1      16
esp-sha-hmac       HMAC-SHA1-96 (RFC 2404)          20          -       -      12
esp-md5-hmac       HMAC-MD5-96 (RFC 2403)           16          -       -      12
ah-sha-hmac        HMAC-SHA1-96 in AH (RFC 4302)    20          -       -      12
ah-md5-hmac        HMAC-MD5-96 in AH                16          -       -      12
=================  ===============================  ==========  ======  =====  ===

DES is run as TripleDES with K1 = K2 = K3 (EDE with one key is single DES);
``cryptography`` accepts that, and the 24-byte form avoids its deprecation
warning for 8-byte TripleDES keys. TripleDES lives in ``cryptography``'s
``decrepit`` package; if a build lacks it (or OpenSSL refuses an algorithm, e.g.
in FIPS mode), the SA constructor raises ``UnsupportedTransform``.

``esp-null`` without an integrity transform is accepted because Table 2 allows
it, although RFC 4303 §5 says encryption and integrity MUST NOT both be NULL:
such an SA protects nothing (the configuration lint should warn about it).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import lcm

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import (
    Cipher,
    CipherContext,
    algorithms,
    modes,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from vpnha.impl.errors import LocalProtocolError

try:
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover - cryptography < 43 or a build without it
    TripleDES = None  # type: ignore[assignment,misc]

__all__ = [
    "AH_TRANSFORM_NAMES",
    "ESP_AUTHENTICATION_NAMES",
    "ESP_ENCRYPTION_NAMES",
    "AhTransform",
    "EspTransform",
    "KeyLengthError",
    "UnsupportedTransform",
    "ah_transform",
    "esp_transform",
]

ESP_ENCRYPTION_NAMES = ("esp-des", "esp-3des", "esp-aes", "esp-null", "esp-gcm")
"""ESP encryption transforms (Table 2, plus the vpnha extension ``esp-gcm``)."""
ESP_AUTHENTICATION_NAMES = ("esp-md5-hmac", "esp-sha-hmac")
"""ESP integrity transforms (Table 2)."""
AH_TRANSFORM_NAMES = ("ah-md5-hmac", "ah-sha-hmac")
"""AH transforms (Table 2)."""

AES_KEY_BITS = (128, 192, 256)
GCM_SALT_LENGTH = 4  # RFC 4106 §8.1: KEYMAT = key ‖ 4-octet salt
GCM_IV_LENGTH = 8  # RFC 4106 §3.1: explicit IV in every packet
GCM_ICV_LENGTH = 16  # RFC 4106 §6: 16-octet ICV ("AES-GCM-16")
HMAC_96_ICV_LENGTH = 12  # RFC 2403 / RFC 2404: HMAC truncated to 96 bits

_HMAC_KEY_LENGTHS = {"sha": 20, "md5": 16}  # RFC 2404 §3 (160 bits), RFC 2403 §3 (128 bits)
_CBC_PARAMETERS = {  # name -> (key bytes, IV bytes = block bytes)
    "esp-des": (8, 8),  # RFC 2405
    "esp-3des": (24, 8),  # RFC 2451
}


class UnsupportedTransform(LocalProtocolError):  # noqa: N818 (public name)
    """A transform name, combination or algorithm this build cannot run."""


class KeyLengthError(LocalProtocolError):
    """A key whose length does not fit its transform (the message names both)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EspTransform:
    """An ESP transform: one encryption and at most one integrity algorithm."""

    encryption: str
    """esp-des, esp-3des, esp-aes, esp-null or esp-gcm."""
    key_bits: int | None
    """AES key size for esp-aes / esp-gcm: 128, 192 or 256; None for the others."""
    authentication: str | None
    """esp-md5-hmac or esp-sha-hmac; None without an integrity transform (and for esp-gcm)."""
    encryption_key_length: int
    """Encryption key material in bytes, the GCM salt included (0-36)."""
    integrity_key_length: int
    """Integrity key in bytes (0, 16 or 20)."""
    iv_length: int
    """Explicit IV carried in every packet, bytes (0, 8 or 16)."""
    block_length: int
    """Cipher block size in bytes (1 for NULL and GCM, 8 for DES/3DES, 16 for AES-CBC)."""
    icv_length: int
    """ICV appended to every packet, bytes (0, 12 or 16)."""

    @property
    def name(self) -> str:
        """Canonical transform-set text as impl/config writes it (``esp-aes 256 esp-sha-hmac``)."""
        words = [self.encryption]
        if self.key_bits is not None and self.key_bits != 128:
            words.append(str(self.key_bits))
        if self.authentication is not None:
            words.append(self.authentication)
        return " ".join(words)

    @property
    def alignment(self) -> int:
        """Bytes the encrypted part is padded to: the block size, at least 4 (RFC 4303 §2.4)."""
        return lcm(self.block_length, 4)

    @property
    def is_aead(self) -> bool:
        """True for combined-mode (AES-GCM): one algorithm gives secrecy and integrity."""
        return self.encryption == "esp-gcm"

    @property
    def has_confidentiality(self) -> bool:
        """True unless the encryption is esp-null."""
        return self.encryption != "esp-null"

    @property
    def has_integrity(self) -> bool:
        """True when packets carry an ICV (an HMAC transform, or GCM)."""
        return self.icv_length > 0

    def check_keys(self, encryption_key: bytes, integrity_key: bytes) -> None:
        """Raise ``KeyLengthError`` (naming transform and lengths) unless both keys fit."""
        if len(encryption_key) != self.encryption_key_length:
            what = "key + 4-byte salt" if self.is_aead else "key"
            msg = (
                f"{self.name}: encryption {what} is {len(encryption_key)} bytes, "
                f"needs {self.encryption_key_length}"
            )
            raise KeyLengthError(msg)
        if len(integrity_key) != self.integrity_key_length:
            msg = (
                f"{self.name}: integrity key is {len(integrity_key)} bytes, "
                f"needs {self.integrity_key_length}"
            )
            raise KeyLengthError(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class AhTransform:
    """An AH transform (RFC 4302): integrity only, over the outer IP header too."""

    authentication: str
    """ah-md5-hmac or ah-sha-hmac."""
    integrity_key_length: int
    """Integrity key in bytes (16 or 20)."""
    icv_length: int
    """ICV in the AH header, bytes (12)."""

    @property
    def name(self) -> str:
        """The Table 2 name."""
        return self.authentication

    def check_key(self, integrity_key: bytes) -> None:
        """Raise ``KeyLengthError`` unless the key fits."""
        if len(integrity_key) != self.integrity_key_length:
            msg = (
                f"{self.name}: integrity key is {len(integrity_key)} bytes, "
                f"needs {self.integrity_key_length}"
            )
            raise KeyLengthError(msg)


def _split_bits(name: str, key_bits: int | None) -> tuple[str, int | None]:
    words = name.split()
    if len(words) == 2 and words[1].isdigit():
        given = int(words[1])
        if key_bits is not None and key_bits != given:
            msg = f"{name}: key size given twice ({given} and {key_bits})"
            raise UnsupportedTransform(msg)
        return words[0], given
    if len(words) != 1:
        msg = f"transform {name!r} is not one of {', '.join(ESP_ENCRYPTION_NAMES)}"
        raise UnsupportedTransform(msg)
    return words[0], key_bits


def esp_transform(
    encryption: str, authentication: str | None = None, *, key_bits: int | None = None
) -> EspTransform:
    """The ESP transform for Table 2 names, e.g. ``esp_transform("esp-aes 256", "esp-sha-hmac")``.

    ``encryption`` may carry the AES key size (``esp-aes 192``) or take it from
    ``key_bits``; AES defaults to 128 bits. Raises ``UnsupportedTransform`` for an
    unknown name or combination.
    """
    base, bits = _split_bits(encryption, key_bits)
    if base not in ESP_ENCRYPTION_NAMES:
        msg = f"ESP encryption {encryption!r} is not one of {', '.join(ESP_ENCRYPTION_NAMES)}"
        raise UnsupportedTransform(msg)
    if authentication is not None and authentication not in ESP_AUTHENTICATION_NAMES:
        msg = (
            f"ESP authentication {authentication!r} is not one of "
            f"{', '.join(ESP_AUTHENTICATION_NAMES)}"
        )
        raise UnsupportedTransform(msg)
    if base in ("esp-aes", "esp-gcm"):
        bits = 128 if bits is None else bits
        if bits not in AES_KEY_BITS:
            msg = f"{base} key size {bits} is not one of 128, 192, 256"
            raise UnsupportedTransform(msg)
    elif bits is not None:
        msg = f"{base} takes no key size (got {bits})"
        raise UnsupportedTransform(msg)
    if base == "esp-gcm" and authentication is not None:
        msg = f"esp-gcm authenticates by itself and cannot be combined with {authentication}"
        raise UnsupportedTransform(msg)

    integrity_key_length = 0
    icv_length = 0
    if authentication is not None:
        integrity_key_length = _HMAC_KEY_LENGTHS[_hash_of(authentication)]
        icv_length = HMAC_96_ICV_LENGTH
    if base == "esp-gcm":
        assert bits is not None
        return EspTransform(
            encryption=base,
            key_bits=bits,
            authentication=None,
            encryption_key_length=bits // 8 + GCM_SALT_LENGTH,
            integrity_key_length=0,
            iv_length=GCM_IV_LENGTH,
            block_length=1,
            icv_length=GCM_ICV_LENGTH,
        )
    if base == "esp-aes":
        assert bits is not None
        key_length, iv_length = bits // 8, 16  # RFC 3602 §3: 16-octet IV
    elif base == "esp-null":
        key_length, iv_length = 0, 0  # RFC 2410: no key, no IV, block size 1
    else:
        key_length, iv_length = _CBC_PARAMETERS[base]
    return EspTransform(
        encryption=base,
        key_bits=bits,
        authentication=authentication,
        encryption_key_length=key_length,
        integrity_key_length=integrity_key_length,
        iv_length=iv_length,
        block_length=max(iv_length, 1),
        icv_length=icv_length,
    )


def ah_transform(name: str) -> AhTransform:
    """The AH transform for a Table 2 name (``ah-sha-hmac`` or ``ah-md5-hmac``)."""
    if name not in AH_TRANSFORM_NAMES:
        msg = f"AH transform {name!r} is not one of {', '.join(AH_TRANSFORM_NAMES)}"
        raise UnsupportedTransform(msg)
    return AhTransform(
        authentication=name,
        integrity_key_length=_HMAC_KEY_LENGTHS[_hash_of(name)],
        icv_length=HMAC_96_ICV_LENGTH,
    )


def _hash_of(authentication: str) -> str:
    return "sha" if "-sha-" in authentication else "md5"


def new_hmac(authentication: str, key: bytes) -> hmac.HMAC:
    """A keyed HMAC template; per packet ``copy()`` it (lab-notes §4: cheaper than re-keying)."""
    algorithm: hashes.HashAlgorithm = (
        hashes.SHA1() if _hash_of(authentication) == "sha" else hashes.MD5()
    )
    try:
        return hmac.HMAC(key, algorithm)
    except UnsupportedAlgorithm as error:
        msg = f"{authentication}: this cryptography/OpenSSL build refuses it ({error})"
        raise UnsupportedTransform(msg) from error


def _cbc_cipher(transform: EspTransform, key: bytes) -> Cipher[modes.CBC]:
    name = transform.name
    try:
        if transform.encryption == "esp-aes":
            algorithm: algorithms.AES | TripleDES = algorithms.AES(key)
        else:
            if TripleDES is None:  # pragma: no cover - depends on the installed build
                msg = f"{name}: this cryptography build has no TripleDES (decrepit) cipher"
                raise UnsupportedTransform(msg)
            # esp-des: TripleDES EDE with K1 = K2 = K3 is single DES.
            algorithm = TripleDES(key * 3 if transform.encryption == "esp-des" else key)
        return Cipher(algorithm, modes.CBC(bytes(transform.block_length)))
    except UnsupportedAlgorithm as error:
        msg = f"{name}: this cryptography/OpenSSL build refuses it ({error})"
        raise UnsupportedTransform(msg) from error


def new_cbc_encryptor(transform: EspTransform, key: bytes) -> CipherContext:
    """A long-lived CBC encryptor (never finalized): see ``esp`` for the IV it yields."""
    return _cbc_cipher(transform, key).encryptor()


def new_cbc_decryptor(transform: EspTransform, key: bytes) -> CipherContext:
    """A long-lived CBC decryptor (never finalized): fed IV ‖ ciphertext per packet."""
    return _cbc_cipher(transform, key).decryptor()


def new_aead(transform: EspTransform, key_material: bytes) -> tuple[AESGCM, bytes]:
    """The reusable ``AESGCM`` object and the 4-byte salt from key ‖ salt (RFC 4106 §8.1)."""
    key = key_material[:-GCM_SALT_LENGTH]
    salt = key_material[-GCM_SALT_LENGTH:]
    try:
        return AESGCM(key), salt
    except UnsupportedAlgorithm as error:  # pragma: no cover - depends on the build
        msg = f"{transform.name}: this cryptography/OpenSSL build refuses it ({error})"
        raise UnsupportedTransform(msg) from error
