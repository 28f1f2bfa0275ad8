"""The SA database seen by the data path: ESP contexts keyed from the database's records.

Theory of operation
-------------------
:class:`SadbSaTable` is the :class:`~vpnha.impl.forward.SaTable` of a router. The
database (:mod:`vpnha.impl.sadb`) is the one authority over every counter that
replication protects; the ESP contexts (:mod:`vpnha.impl.esp`) only do the
cryptography. So:

- **Outbound.** The ACTIVE pair of the crypto map entry towards the peer is asked
  for one sequence number (``next_outbound_seq``). A grant reserves it; the
  pair's :class:`EspOutboundSA` is advanced to it (forward only) and handed to the
  forwarder, which encapsulates at once. A refusal becomes :class:`Withheld`:
  held back (the standby has not confirmed enough), or exhausted / spent, which
  also asks IKE for a new SA. Sequence numbers therefore come from the database
  alone, and a takeover's jump reaches the wire without a second counter to keep
  in step.
- **Inbound.** The pair's :class:`EspInboundSA` is keyed with anti-replay *off*;
  the database's window is the gate: ``inbound_check`` before the ICV, and
  ``accept_inbound`` after decapsulation succeeded (RFC 4303 §3.4.3: the window
  moves only for authenticated packets), per packet in one call of the gate's
  ``decapsulate``. A standby copy is :class:`Withheld`.
- ESP contexts are built lazily per SA id from the record's transforms and keys
  and dropped when the record goes; a record whose transforms the ESP code cannot
  run (AH, compression) carries no traffic and is counted.

When several ACTIVE pairs serve one entry and peer (a rekey overlap), the one that
expires last is used for outbound traffic.

Lookups are remembered until the database's ``generation`` moves (an SA added,
removed or flagged for a rekey, or a role change): the pair and its contexts per
(entry, peer) and per inbound SPI, so a packet costs the database no search and no
record read.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Final

from vpnha.impl.config import CryptoMapEntry
from vpnha.impl.config.crypto import parse_transforms
from vpnha.impl.config.errors import CommandError
from vpnha.impl.entropy import Entropy
from vpnha.impl.errors import LocalProtocolError
from vpnha.impl.esp import (
    Drop,
    EspInboundSA,
    EspOutboundSA,
    EspTransform,
    SaCounters,
    esp_transform,
)
from vpnha.impl.forward import ForwardDropReason, InboundSa, Withheld
from vpnha.impl.sadb import HaStatus, IpsecSaPair, SaDatabase, TrafficVerdict

__all__ = ["VERDICT_DROPS", "SadbSaTable", "transform_of"]

VERDICT_DROPS: Final[dict[TrafficVerdict, ForwardDropReason]] = {
    TrafficVerdict.NOT_ACTIVE: ForwardDropReason.STANDBY_COPY,
    TrafficVerdict.INVALID_SEQUENCE: ForwardDropReason.REPLAY,
    TrafficVerdict.TOO_OLD: ForwardDropReason.REPLAY,
    TrafficVerdict.REPLAY: ForwardDropReason.REPLAY,
    TrafficVerdict.HELD_BACK: ForwardDropReason.HELD_BACK,
    TrafficVerdict.HELD_BACK_BYTES: ForwardDropReason.HELD_BACK,
    TrafficVerdict.REKEY_NEEDED: ForwardDropReason.SEQ_EXHAUSTED,
    TrafficVerdict.LIFETIME: ForwardDropReason.LIFETIME,
}
"""How a database refusal is counted by the forwarder (RFC 4303 counts seq 0 as a replay)."""

_REKEY_VERDICTS: Final = frozenset({TrafficVerdict.REKEY_NEEDED, TrafficVerdict.LIFETIME})
_ACCEPTED: Final = TrafficVerdict.ACCEPTED
"""Per packet, a module constant: an enum member read through its class costs ~0.2 µs."""
_INBOUND_CACHE_SIZE: Final = 4096
"""SPIs whose lookup is remembered (a flood of random SPIs cannot grow it further)."""


def transform_of(transforms: tuple[str, ...]) -> EspTransform | None:
    """The ESP transform of an SA's transform names, or None when ESP cannot run them."""
    words = [word for name in transforms for word in name.split()]
    try:
        parsed = parse_transforms("sa", words)
    except CommandError:
        return None
    if parsed.ah is not None or parsed.compression is not None or parsed.esp_encryption is None:
        return None
    try:
        return esp_transform(
            parsed.esp_encryption, parsed.esp_authentication, key_bits=parsed.esp_key_bits
        )
    except LocalProtocolError:
        return None


@dataclass(slots=True)
class _Contexts:
    """The ESP contexts of one SA pair, built from the record's keys."""

    spi_in: int
    spi_out: int
    outbound: EspOutboundSA
    inbound: EspInboundSA


_Route = tuple[int, _Contexts | None]
"""An outbound lookup's answer: the pair's id and its ESP contexts (None: unsupported)."""


class _Gate:
    """The database's window as the forwarder's inbound gate for one SA pair.

    A gate is handed out with a lookup that was valid for the database's generation it
    remembers; while the generation holds, its SA exists (no per-packet lookup).
    """

    __slots__ = ("_db", "_generation", "_sa_id")

    def __init__(self, db: SaDatabase, sa_id: int) -> None:
        self._db = db
        self._sa_id = sa_id
        self._generation = db.generation

    def check(self, seq: int) -> ForwardDropReason | None:
        db = self._db
        if db.generation != self._generation and db.ipsec_sa(self._sa_id) is None:
            return ForwardDropReason.UNKNOWN_SPI
        verdict = db.inbound_check(self._sa_id, seq, 0)
        return None if verdict is _ACCEPTED else VERDICT_DROPS[verdict]

    def accept(self, seq: int, size: int, now: int) -> ForwardDropReason | None:
        db = self._db
        if db.generation != self._generation and db.ipsec_sa(self._sa_id) is None:
            return ForwardDropReason.UNKNOWN_SPI
        verdict = db.accept_inbound(self._sa_id, seq, size, now)
        return None if verdict is _ACCEPTED else VERDICT_DROPS[verdict]

    def decapsulate(
        self, sa: EspInboundSA, esp_packet: bytes, seq: int, now: int
    ) -> bytes | Drop | ForwardDropReason:
        """``check``, ``sa.decapsulate``, ``accept`` (``gated_decapsulate``) in one call
        (``SaDatabase.inbound_packet``).

        ``accept``'s own look at the generation is left out: decapsulating touches only
        the SA's ESP context, so it answers what ``check``'s look answered just before.
        """
        db = self._db
        sa_id = self._sa_id
        if db.generation != self._generation and db.ipsec_sa(sa_id) is None:
            return ForwardDropReason.UNKNOWN_SPI
        inner = db.inbound_packet(sa_id, seq, sa.decapsulate, esp_packet, now)
        if isinstance(inner, TrafficVerdict):
            return VERDICT_DROPS[inner]
        return inner


class SadbSaTable:
    """The forwarder's SA lookups over a :class:`SaDatabase` (see the module docstring)."""

    def __init__(self, db: SaDatabase, entropy: Entropy) -> None:
        self._db = db
        self._entropy = entropy
        self._contexts: dict[int, _Contexts] = {}
        self._unsupported: set[int] = set()
        self._unsupported_packets = 0
        self._inbound: dict[int, InboundSa | Withheld | None] = {}
        self._inbound_generation = -1
        self._routes: dict[tuple[str, int, IPv4Address], _Route | None] = {}
        """The pair chosen per (map, entry, peer), valid while the SA set is unchanged."""
        self._generation = -1
        self._last: tuple[CryptoMapEntry, IPv4Address, _Route | None] | None = None
        """The last lookup by identity of its entry and peer (hashing an address is slow)."""

    @property
    def unsupported_packets(self) -> int:
        """Packets dropped because their SA's transforms have no ESP implementation here."""
        return self._unsupported_packets

    # --- SaTable -------------------------------------------------------------------------

    def outbound_sa(
        self, entry: CryptoMapEntry, peer: IPv4Address, size: int, now: int
    ) -> EspOutboundSA | Withheld | None:
        """The ACTIVE pair's outbound context with one sequence number reserved, or why not."""
        db = self._db
        if db.generation != self._generation:
            self._routes.clear()
            self._last = None
            self._generation = db.generation
        last = self._last
        if last is not None and last[0] is entry and last[1] is peer:
            route = last[2]
        else:
            route = self._route(entry, peer)
            self._last = (entry, peer, route)
        if route is None:
            return None
        sa_id, contexts = route
        if contexts is None:
            self._unsupported_packets += 1
            return None
        seq = db.next_outbound_seq(sa_id, size, now)
        if isinstance(seq, TrafficVerdict):
            return Withheld(reason=VERDICT_DROPS[seq], rekey=seq in _REKEY_VERDICTS)
        outbound = contexts.outbound
        if outbound.next_seq < seq:
            outbound.advance_to(seq)
        return outbound

    def inbound_sa(self, spi: int) -> InboundSa | Withheld | None:
        """The ACTIVE pair with inbound SPI ``spi``, gated by the database's window.

        Answers are remembered per SPI (unknown SPIs too, up to a bound) until the
        database's set of SAs or its role changes (``SaDatabase.generation``).
        """
        if self._inbound_generation != self._db.generation:
            self._inbound.clear()
            self._inbound_generation = self._db.generation
        try:
            return self._inbound[spi]  # one dict operation on the per-packet path
        except KeyError:
            pass
        answer = self._lookup_inbound(spi)
        if len(self._inbound) < _INBOUND_CACHE_SIZE:
            self._inbound[spi] = answer
        return answer

    def _lookup_inbound(self, spi: int) -> InboundSa | Withheld | None:
        found: IpsecSaPair | None = None
        for sa in self._db.ipsec_sas():
            if sa.inbound_spi == spi:
                found = sa
                if sa.status is HaStatus.ACTIVE:
                    break
        if found is None:
            return None
        if found.status is not HaStatus.ACTIVE:
            return Withheld(reason=ForwardDropReason.STANDBY_COPY)
        contexts = self._contexts_of(found)
        if contexts is None:
            self._unsupported_packets += 1
            return Withheld(reason=ForwardDropReason.UNKNOWN_SPI)
        return InboundSa(
            sa=contexts.inbound,
            crypto_map=found.crypto_map,
            crypto_map_seq=found.crypto_map_seq,
            peer=found.peer,
            gate=_Gate(self._db, found.sa_id),
        )

    def esp_counters(self, sa: IpsecSaPair) -> tuple[SaCounters, ...]:
        """The ESP contexts' counters of ``sa`` (outbound, inbound); none before first use.

        These count packets actually processed here, unlike the database's sequence
        numbers, which include a takeover's jump.
        """
        contexts = self._contexts.get(sa.sa_id)
        if contexts is None or (contexts.spi_in, contexts.spi_out) != (
            sa.inbound_spi,
            sa.outbound_spi,
        ):
            return ()
        return (contexts.outbound.counters(), contexts.inbound.counters())

    # --- helpers -------------------------------------------------------------------------

    def forget_missing(self) -> None:
        """Drop the contexts of SAs the database no longer holds (call after changes)."""
        for sa_id in [i for i in self._contexts if self._db.ipsec_sa(i) is None]:
            del self._contexts[sa_id]
        self._unsupported = {i for i in self._unsupported if self._db.ipsec_sa(i) is not None}

    def _route(self, entry: CryptoMapEntry, peer: IPv4Address) -> _Route | None:
        """The pair for (entry, peer) in the current generation, with its ESP contexts."""
        key = (entry.name, entry.seq, peer)
        if key in self._routes:
            return self._routes[key]
        best = self._scan_outbound(entry, peer)
        route = None if best is None else (best.sa_id, self._contexts_of(best))
        self._routes[key] = route
        return route

    def _scan_outbound(self, entry: CryptoMapEntry, peer: IPv4Address) -> IpsecSaPair | None:
        best: IpsecSaPair | None = None
        for sa in self._db.ipsec_sas(HaStatus.ACTIVE):
            if (
                sa.crypto_map == entry.name
                and sa.crypto_map_seq == entry.seq
                and sa.peer == peer
                and not sa.rekey_needed
                and (best is None or sa.expiry_ms > best.expiry_ms)
            ):
                best = sa
        return best

    def _contexts_of(self, sa: IpsecSaPair) -> _Contexts | None:
        contexts = self._contexts.get(sa.sa_id)
        if (
            contexts is not None
            and contexts.spi_in == sa.inbound_spi
            and contexts.spi_out == sa.outbound_spi
        ):
            return contexts
        if sa.sa_id in self._unsupported:
            return None
        transform = transform_of(sa.transforms)
        if transform is None:
            self._unsupported.add(sa.sa_id)
            return None
        try:
            outbound = EspOutboundSA(
                spi=sa.outbound_spi,
                transform=transform,
                encryption_key=sa.outbound_encryption_key,
                integrity_key=sa.outbound_integrity_key,
                entropy=self._entropy,
                next_seq=min(max(1, sa.outbound_seq + 1), 0x1_0000_0000),
            )
            inbound = EspInboundSA(
                spi=sa.inbound_spi,
                transform=transform,
                encryption_key=sa.inbound_encryption_key,
                integrity_key=sa.inbound_integrity_key,
                anti_replay=False,
            )
        except LocalProtocolError:
            self._unsupported.add(sa.sa_id)
            return None
        contexts = _Contexts(
            spi_in=sa.inbound_spi, spi_out=sa.outbound_spi, outbound=outbound, inbound=inbound
        )
        self._contexts[sa.sa_id] = contexts
        return contexts
