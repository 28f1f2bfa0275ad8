"""The crypto engine as a resource: software, VAM or VAM2 (DESIGN §4 "VAM resource model").

Theory of operation
-------------------
One engine per router, built from the configured :class:`CryptoCard`
(``vpnha crypto-card {none|vam|vam2} [capacity N]``). It has two limits:

- *capacity*, counted in IPsec SAs: an SA pair is two SAs (one per direction), and a
  standby copy takes exactly the room of an active SA (the card holds its keys so the
  standby can take over without re-installing). ``None`` = no limit (software).
- *algorithms*: the card's capability table
  (:data:`vpnha.impl.config.crypto.CARD_CAPABILITIES`; VAM has no AES, neither card
  does AES-GCM; software does everything).

``admit(transforms, n_sas)`` answers whether an SA could be installed now; a refusal
is returned **and** counted by reason (``card full`` or ``transform X not supported
by the card``) — never silent (DESIGN I7). ``install`` / ``remove`` move the
capacity; installing without room is the caller's mistake and raises
:class:`LocalProtocolError`. ``try_install`` is admit-then-install in one call.

Transform names are compared in the configuration's canonical text (``esp-aes``,
``esp-aes 256``, ``esp-sha-hmac``); ``esp-aes 128`` is the same as ``esp-aes``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from vpnha.impl.config.crypto import CardKind, CryptoCard
from vpnha.impl.errors import LocalProtocolError

__all__ = ["CARD_FULL", "CryptoEngine", "Refusal", "canonical_transform", "unsupported_reason"]

CARD_FULL = "card full"
"""Refusal reason: installing would pass the card's SA capacity."""
_DEFAULT_KEY_BITS = " 128"
_KEYED_CIPHERS = ("esp-aes", "esp-gcm")


def unsupported_reason(transform: str) -> str:
    """Refusal reason for a transform the card cannot run."""
    return f"transform {transform} not supported by the card"


def canonical_transform(name: str) -> str:
    """The configuration's canonical spelling: lower case, single spaces, no `` 128``."""
    text = " ".join(name.lower().split())
    for cipher in _KEYED_CIPHERS:
        if text == cipher + _DEFAULT_KEY_BITS:
            return cipher
    return text


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """The engine will not take an SA; the reason is shown to the operator."""

    reason: str
    """``card full`` or ``transform X not supported by the card``."""
    n_sas: int
    """SAs that were asked for (2 for a pair), >= 1."""
    in_use: int
    """SAs installed when the refusal was made, >= 0."""
    capacity: int | None
    """The card's SA capacity; None = no limit."""


class CryptoEngine:
    """The router's crypto card: capacity in SAs and supported transforms."""

    __slots__ = ("_capacity", "_card", "_in_use", "_installed", "_refusals")

    def __init__(self, card: CryptoCard) -> None:
        self._card = card
        self._capacity = card.sa_capacity()
        self._installed: dict[int, int] = {}
        self._in_use = 0
        self._refusals: dict[str, int] = {}

    @property
    def kind(self) -> CardKind:
        """``none`` (software), ``vam`` or ``vam2``."""
        return self._card.kind

    @property
    def capacity(self) -> int | None:
        """SAs the card holds; None = no limit."""
        return self._capacity

    @property
    def in_use(self) -> int:
        """SAs installed now (active and standby copies alike)."""
        return self._in_use

    @property
    def free(self) -> int | None:
        """SAs that can still be installed; None = no limit."""
        return None if self._capacity is None else self._capacity - self._in_use

    @property
    def refusals(self) -> Mapping[str, int]:
        """Refusals so far, by reason (reasons never given are absent)."""
        return MappingProxyType(dict(self._refusals))

    @property
    def refused_total(self) -> int:
        """All refusals so far."""
        return sum(self._refusals.values())

    def installed(self, sa_id: int) -> int:
        """SAs installed under ``sa_id`` (0 when none)."""
        return self._installed.get(sa_id, 0)

    def supports(self, transform: str) -> bool:
        """True when the card runs ``transform`` (any spelling of the canonical text)."""
        supported = self._card.capability.transforms
        return supported is None or canonical_transform(transform) in supported

    def admit(self, transforms: Iterable[str], n_sas: int = 2) -> Refusal | None:
        """None when ``n_sas`` SAs with ``transforms`` fit now; else the counted refusal.

        Unsupported transforms are reported before capacity: they are a permanent
        property of the card, a full card is not.
        """
        if n_sas < 1:
            raise LocalProtocolError(f"an SA admission needs at least 1 SA, not {n_sas}")
        for transform in transforms:
            if not self.supports(transform):
                return self._refuse(unsupported_reason(canonical_transform(transform)), n_sas)
        if self._capacity is not None and self._in_use + n_sas > self._capacity:
            return self._refuse(CARD_FULL, n_sas)
        return None

    def install(self, sa_id: int, n_sas: int = 2) -> None:
        """Take ``n_sas`` SAs of capacity for ``sa_id`` (after a successful ``admit``)."""
        if n_sas < 1:
            raise LocalProtocolError(f"an SA install needs at least 1 SA, not {n_sas}")
        if sa_id in self._installed:
            raise LocalProtocolError(f"SA {sa_id} is already installed on the card")
        if self._capacity is not None and self._in_use + n_sas > self._capacity:
            raise LocalProtocolError(
                f"SA {sa_id}: {n_sas} SAs do not fit ({self._in_use}/{self._capacity} in use); "
                "admit first"
            )
        self._installed[sa_id] = n_sas
        self._in_use += n_sas

    def try_install(self, sa_id: int, transforms: Iterable[str], n_sas: int = 2) -> Refusal | None:
        """``admit`` then ``install``; the refusal (counted) or None when installed."""
        refusal = self.admit(transforms, n_sas)
        if refusal is None:
            self.install(sa_id, n_sas)
        return refusal

    def remove(self, sa_id: int) -> int:
        """Free what ``sa_id`` holds; returns the SAs freed (0 when it held none)."""
        n_sas = self._installed.pop(sa_id, 0)
        self._in_use -= n_sas
        return n_sas

    def _refuse(self, reason: str, n_sas: int) -> Refusal:
        self._refusals[reason] = self._refusals.get(reason, 0) + 1
        return Refusal(reason=reason, n_sas=n_sas, in_use=self._in_use, capacity=self._capacity)

    def __repr__(self) -> str:
        return f"CryptoEngine(kind={self.kind}, in_use={self._in_use}, capacity={self._capacity})"
