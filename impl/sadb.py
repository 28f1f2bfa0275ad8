"""The SA database of one router and the rules that replicate it (DESIGN §4 "SA replication").

Theory of operation
-------------------
A sans-IO core: no clock (``now`` is integer milliseconds passed in), no socket. The
router glue feeds it local events (SAs negotiated, packets, role changes, SSP
connection state) and the SSP messages the peer sent, and takes out the SSP messages
to send (``messages_to_send``) and the next deadline (``get_timer``).

**Records.** An :class:`IkeSa` (cookies, keys, last phase-1 block, DPD numbers, absolute
expiry) and an :class:`IpsecSaPair` (SPIs, transforms, keys, absolute expiry, kilobyte
lifetime, counters). Each is ``ACTIVE`` (it carries traffic here) or ``STANDBY`` (a copy
from the other router, held so this router can take over). A router that is ACTIVE
holds only ACTIVE records; one that is not holds only copies.

**Counters and jumps.** Four counters follow the *ahead rule*; ``J`` is each one's jump:

=========  ============================================  ===============================
counter    meaning                                       J
=========  ============================================  ===============================
OUT        highest ESP sequence number sent              outbound replay-interval × 10⁶
IN         inbound replay window right edge              inbound replay-interval (N)
BYTES      octets counted against the kilobyte lifetime  lifetime octets // 64
DPD_OUT    last R-U-THERE number sent (IKE SA)           1
=========  ============================================  ===============================

(``crypto map NAME ha replay-interval inbound N outbound M``; DPD_IN, the peer's last
R-U-THERE number, is replicated on every change but has no jump.)

*On the ACTIVE router* each counter has a **floor**: the value the standby is known to
hold, or None while it holds no copy we must protect. Sending the SA in full (an add,
alone or in a bulk) sets the floor to the value sent if it was None; an ACK of value v
raises it to max(floor, v); a REFUSE (the standby holds no copy) sets it to None.
**Hold-back:** the active never moves a counter past floor + J — outbound packets
beyond are held back and counted, inbound packets beyond are dropped and counted,
octets beyond are not counted (the packet is held back or dropped), and no DPD
number above floor + 1 is sent. Nothing is lifted by a timeout: only an ACK, a REFUSE
or a new full copy moves a floor. An update goes out when a counter has moved at
least ceil(J/2) past the value last sent.

*Takeover* (``become_active``): each promotable copy becomes ACTIVE with
OUT := v + J, IN := v + J with the whole window marked seen, BYTES := v + J,
DPD_OUT := v + 1, floors None. So the new active is ahead of anything the old one can
have sent, accepted or counted (the old one stopped at floor + J, and floor ≤ v).
A copy is promotable iff it is not stale, its inbound interval N > 0, it has not
expired, and SSP is connected or delivered something within ``grace_ms`` before now.
Other copies are discarded (and counted): they must be renegotiated.

*Staleness:* leaving ACTIVE turns every SA into a stale copy; a new SSP connection
marks every copy stale; a ``BULK_BEGIN`` drops every copy (the full set follows),
keeping what each counted as a remnant (below); an add refreshes a copy (not stale) or
creates one, never below what the copy or a remnant held (a full copy may be older than
this router's own use as a former active: a resync's answer queued behind another full
copy lands after this router took over and left; Z3's ``I3-late-add``); a copy that the
card cannot hold is refused (``REFUSE``) and HA is reported degraded.

*When the active sends the full copy* (``BULK_BEGIN``, adds, ``BULK_END`` per DOI): on a
ROLE message from the other end saying it is not ACTIVE, when this is the first ROLE
heard on the connection, or the other end was ACTIVE before, or this router has
become ACTIVE since the last ROLE heard (proof the other end is alive). Before that it
replicates nothing. First it **adopts** the values the other end announced (below):
the maximum per counter for SAs it holds ACTIVE, and for IN, if the other's edge is
higher, that edge with the whole window marked seen; then it resets every floor.

*Announcements* (this module's answer to "the other end's announced values"): a
router that is not ACTIVE sends its current counters, as COUNTER_UPDATEs, for every
SA it holds — and for every SA it discarded at a takeover or deleted, whose last
counters it keeps (a *remnant*) until the SA's expiry — when a connection comes up and
when it leaves ACTIVE; the glue sends its ROLE message after them. (Without remnants, a
router that used an SA in a split brain, left ACTIVE while cut off, then took over
again — discarding its stale copy — would forget how far it went, and the other
router would reuse those numbers after its next full copy.) A non-ACTIVE receiver
applies them like any update (a copy is only ever raised); an ACTIVE receiver refuses
them (counted, not applied, no reply) but remembers them for the adoption step. The
peer's role is learnt only from ROLE messages, never from the HELLO, so the
announcements always arrive first.

*Synchronised* (what ``standby N preempt delay sync S`` waits for; :attr:`SaDatabase.
synchronised`): a router is synchronised when it holds everything the other end could
copy to it. That needs a connection and the other end's ROLE on it (until then nothing
is known: not synchronised, so a restarted router waits the whole S); then, if the other
end is not ACTIVE, there is nothing to copy (it carries no traffic: taking over drops
none and reuses no counter), and if it is ACTIVE, its full copy must have arrived whole
for both DOIs — ``BULK_BEGIN``, the adds, ``BULK_END`` with the matching count — since
it last became ACTIVE on this connection (a router that becomes ACTIVE sends a new full
copy once it hears from us). A ``BULK_BEGIN`` or our resync request for a DOI makes the
copy of that DOI incomplete again until its ``BULK_END``.

**Messages from the other end** — the flat table ``_MESSAGE_RULES`` below, checked
total by a test (``(this router ACTIVE?, message type) -> handler``):

==============  ===================================  ==================================
message         this router not ACTIVE               this router ACTIVE
==============  ===================================  ==================================
ROLE            record the peer's role               record; maybe send the full copy
IPSEC_SA_ADD    create/refresh copy; ACK or REFUSE   refuse (count, remember values)
IKE_SA_ADD      create/refresh copy; ACK or REFUSE   refuse (count, remember values)
SA_DELETE       remove copy; ACK                     refuse (count)
COUNTER_UPDATE  raise copy; ACK (REFUSE: no copy)    refuse (count, remember value)
ACK             ignore (answers our announcements)   raise the floor
REFUSE          count                                floors None, HA degraded
RESYNC_REQUEST  count                                full copy again (when replicating)
BULK_BEGIN      drop every copy of that DOI          refuse (count)
BULK_END        check the count                      refuse (count)
==============  ===================================  ==================================

HELLO and KEEPALIVE belong to the SSP connection and are ignored here.

**Frame correlation.** An ACK names the frame it answers (its SSP sequence number),
not the SA, so the glue reports the sequence number of every message it sends
(``note_sent``). An ACK or REFUSE older than the latest add of its SA is ignored, so a
reply from before a full copy never moves a floor of the new one.

**The glue's duties** (the router that drives this core):

1. send what ``messages_to_send()`` returns, in order, after every call that may queue
   something (data plane included: counter updates fall due there), and report each
   frame's sequence number with ``note_sent``;
2. after ``ssp_connected`` and after ``leave_active``, send those messages *before*
   its own ROLE message; after ``become_active``, send ROLE(ACTIVE) with
   ``answer_requested``; answer a ROLE that requests it with its own ROLE;
3. call ``ssp_heard`` for every verified frame (keepalives too), ``ssp_disconnected``
   when the connection is declared dead, ``expire`` at ``get_timer()``.

DPD_OUT is kept as the *last* number sent; on the wire (IKE_SA_ADD ``dpd_seq_out``,
COUNTER_UPDATE kind 4) it travels as the *next* number, as ``messages.py`` defines it.

**32-bit limit.** OUT never passes 2^32 − 1 (RFC 4303 §2.2, no ESN): at exhaustion, or
when a jump lands past it, the SA carries no more outbound traffic and is flagged
"rekey needed". **Lifetimes** are absolute instants and are replicated as such (never
extended); an SA whose octets reach its kilobyte lifetime is spent and deleted at the
next ``expire``.

**The per-packet path.** ``next_outbound_seq``, ``inbound_check`` and ``accept_inbound``
run for every packet. The four counters of an ACTIVE SA then live in a small mutable
``_Traffic`` beside its frozen record, with lines derived from the record: the hold-back
limits, 2^32 − 1, the lifetime, and the value at which ``_queue_updates`` would send a
COUNTER_UPDATE. A packet inside every line moves those counters and nothing else; any
other packet takes the full path. Before anything else reads or changes the records
(views, SSP messages, role and connection changes, expiry) the counters are written
back and the lines dropped, to be derived anew at the next packet: a public method
that changes records starts with ``_begin_change``, one that only reads them with
``_fold`` (or ``_fold_all``). An SA is queued for ``_queue_updates`` when a counter
reaches its due value, so what is replicated, and when, is what marking it after
every packet gave.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from ipaddress import IPv4Address, IPv4Network
from types import MappingProxyType
from typing import Any, Final, TypeVar

from vpnha.impl import mutants
from vpnha.impl.config import ReplayInterval
from vpnha.impl.entropy import Entropy
from vpnha.impl.errors import LocalProtocolError
from vpnha.impl.ssp.messages import (
    Ack,
    BulkBegin,
    BulkEnd,
    CounterUpdate,
    IkeSaAdd,
    IpsecSaAdd,
    Message,
    Refuse,
    ResyncRequest,
    RoleChange,
    SaDelete,
)
from vpnha.impl.ssp.wire import CounterKind, DeviceRole, Doi, MessageType
from vpnha.impl.vam import CryptoEngine, Refusal

__all__ = [
    "BYTES_JUMP_DIVISOR",
    "DPD_JUMP",
    "IGNORED_MESSAGES",
    "OUTBOUND_JUMP_UNIT",
    "SEQ_MAX",
    "CounterSync",
    "HaStatus",
    "IkeSa",
    "IpsecSaPair",
    "NewIkeSa",
    "NewIpsecSa",
    "OutboundGrant",
    "SaDatabase",
    "SadbCounters",
    "TakeoverReport",
    "TrafficVerdict",
]

SEQ_MAX: Final = 0xFFFF_FFFF
"""Largest 32-bit sequence number (RFC 4303 §2.2; RFC 3706 DPD numbers are 32-bit too)."""
OUTBOUND_JUMP_UNIT: Final = 1_000_000
"""``replay-interval outbound M`` counts millions of packets (the document)."""
BYTES_JUMP_DIVISOR: Final = 64
"""The BYTES jump is the kilobyte lifetime in octets divided by this."""
DPD_JUMP: Final = 1
"""DPD_OUT jump: one R-U-THERE may be in flight beyond what the standby holds."""
KILOBYTE: Final = 1024
"""Octets per kilobyte of ``set security-association lifetime kilobytes``."""
_ID_SPACE: Final = 1 << 32
_MIN_WINDOW: Final = 32
_MAX_WINDOW: Final = 65536
_IPSEC_KINDS: Final = (CounterKind.OUTBOUND_SEQ, CounterKind.INBOUND_EDGE, CounterKind.BYTES)
_IKE_KINDS: Final = (CounterKind.DPD_OUT, CounterKind.DPD_IN)

MESSAGE_ID_MEMORY: Final = 255
"""Message ids remembered per IKE SA, the newest (as many as an IKE_SA_ADD carries)."""
_PEER_MESSAGES: Final = (
    MessageType.ROLE,
    MessageType.IPSEC_SA_ADD,
    MessageType.IKE_SA_ADD,
    MessageType.SA_DELETE,
    MessageType.COUNTER_UPDATE,
    MessageType.ACK,
    MessageType.REFUSE,
    MessageType.RESYNC_REQUEST,
    MessageType.BULK_BEGIN,
    MessageType.BULK_END,
)


class HaStatus(enum.Enum):
    """A record's HA status (``show crypto isakmp sa`` shows ``ACTIVE`` / ``STDBY``)."""

    # Members are singletons: hash by identity, in C (Enum's __hash__ is Python code).
    __hash__ = object.__hash__

    ACTIVE = "ACTIVE"
    """Carries traffic on this router."""
    STANDBY = "STDBY"
    """A copy held to take over; carries no traffic."""


class TrafficVerdict(enum.StrEnum):
    """What the database says about a packet; every refusal is counted by its value."""

    ACCEPTED = "accepted"
    NOT_ACTIVE = "standby copy"
    """The SA is a standby copy here: it carries no traffic."""
    INVALID_SEQUENCE = "invalid sequence number"
    """Sequence number 0 (never sent, RFC 4303 §2.2) or above 2^32 − 1."""
    TOO_OLD = "left of window"
    """Left of the replay window (RFC 4303 §3.4.3)."""
    REPLAY = "replay"
    """Inside the window and already seen."""
    HELD_BACK = "held back: sequence number"
    """The counter would pass floor + J (the standby has not confirmed enough)."""
    HELD_BACK_BYTES = "held back: bytes"
    """The octet count would pass floor + J_bytes."""
    REKEY_NEEDED = "rekey needed"
    """The outbound sequence number is exhausted (2^32 − 1)."""
    LIFETIME = "lifetime spent"
    """The kilobyte lifetime is used up."""


_ACCEPTED: Final = TrafficVerdict.ACCEPTED
"""Bound once: the data path returns it per packet (a member lookup costs ~0.2 µs)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterSync:
    """Replication bookkeeping of one counter of one ACTIVE SA."""

    floor: int | None = None
    """Value the standby is known to hold (add sent or ACK received); None = no copy."""
    last_sent: int | None = None
    """Value last sent to the standby in an add or update; None = not replicated now."""
    cap: int | None = None
    """A limit no ACK lifts: set when the other end forgot a copy it may have used
    (it rebooted after a split brain); None = none. Only a rekey gets past it."""


_NO_SYNC: Final = CounterSync()


def _keep_cap(sync: CounterSync) -> CounterSync:
    """A reset sync that keeps its permanent cap."""
    return _NO_SYNC if sync.cap is None else CounterSync(cap=sync.cap)


def _capped(sync: CounterSync, jump: int) -> CounterSync:
    """The sync with a permanent cap at floor + J added (the other end forgot its copy)."""
    if sync.floor is None:
        return sync
    bound = sync.floor + jump
    return replace(sync, cap=bound if sync.cap is None else min(sync.cap, bound))


def _min_bound(*bounds: int | None) -> int | None:
    present = [b for b in bounds if b is not None]
    return min(present) if present else None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewIpsecSa:
    """A freshly negotiated IPsec SA pair, as phase 2 hands it to the database."""

    peer: IPv4Address
    """The remote IPsec peer."""
    crypto_map: str
    """Crypto map tag, 1-64 characters, no spaces (selects the replay intervals)."""
    crypto_map_seq: int
    """Crypto map entry sequence number, 1-65535."""
    local_proxy: IPv4Network
    """Local traffic selector."""
    remote_proxy: IPv4Network
    """Remote traffic selector."""
    inbound_spi: int
    """SPI of the inbound SA, 256 .. 2^32 − 1."""
    outbound_spi: int
    """SPI of the outbound SA, 256 .. 2^32 − 1."""
    transforms: tuple[str, ...]
    """Transform names in canonical text (``esp-aes 256``), 1-4."""
    inbound_encryption_key: bytes = field(repr=False)
    """Inbound cipher key (with any salt), 0-255 octets."""
    outbound_encryption_key: bytes = field(repr=False)
    """Outbound cipher key (with any salt), 0-255 octets."""
    inbound_integrity_key: bytes = field(repr=False)
    """Inbound integrity key, 0-255 octets."""
    outbound_integrity_key: bytes = field(repr=False)
    """Outbound integrity key, 0-255 octets."""
    expiry_ms: int
    """Absolute instant the seconds lifetime ends, ms in the shared time base."""
    lifetime_kilobytes: int
    """Kilobyte lifetime, >= 0 (0 = spent at once)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IpsecSaPair:
    """One IPsec SA pair (inbound + outbound) with its replication state."""

    sa_id: int
    """Identifier shared with the other router, 0 .. 2^32 − 1 (the active chooses it)."""
    peer: IPv4Address
    """The remote IPsec peer."""
    crypto_map: str
    """Crypto map tag."""
    crypto_map_seq: int
    """Crypto map entry sequence number, 1-65535."""
    local_proxy: IPv4Network
    """Local traffic selector."""
    remote_proxy: IPv4Network
    """Remote traffic selector."""
    inbound_spi: int
    """SPI of the inbound SA, 256 .. 2^32 − 1."""
    outbound_spi: int
    """SPI of the outbound SA, 256 .. 2^32 − 1."""
    transforms: tuple[str, ...]
    """Transform names in canonical text."""
    inbound_encryption_key: bytes = field(repr=False)
    """Inbound cipher key, 0-255 octets."""
    outbound_encryption_key: bytes = field(repr=False)
    """Outbound cipher key, 0-255 octets."""
    inbound_integrity_key: bytes = field(repr=False)
    """Inbound integrity key, 0-255 octets."""
    outbound_integrity_key: bytes = field(repr=False)
    """Outbound integrity key, 0-255 octets."""
    expiry_ms: int
    """Absolute instant the seconds lifetime ends, ms (never extended by failover)."""
    lifetime_kilobytes: int
    """Kilobyte lifetime, >= 0."""
    outbound_seq: int
    """OUT: highest ESP sequence number sent, 0 = none yet (may exceed 2^32 − 1 after a jump)."""
    inbound_right_edge: int
    """IN: right edge of the inbound replay window, 0 = nothing accepted yet."""
    inbound_bitmap: int
    """Replay bitmap: bit i set = sequence number (edge − i) seen, below 2^window."""
    bytes_used: int
    """BYTES: octets counted against the kilobyte lifetime, >= 0."""
    status: HaStatus
    """ACTIVE here, or a STANDBY copy."""
    stale: bool = False
    """A copy that may lag the truth by more than a jump: never promoted."""
    rekey_needed: bool = False
    """OUT is exhausted (or a jump passed 2^32 − 1): no more outbound traffic."""
    outbound_sync: CounterSync = _NO_SYNC
    """Replication bookkeeping of OUT (ACTIVE only)."""
    inbound_sync: CounterSync = _NO_SYNC
    """Replication bookkeeping of IN (ACTIVE only)."""
    bytes_sync: CounterSync = _NO_SYNC
    """Replication bookkeeping of BYTES (ACTIVE only)."""
    standby_refusal: str | None = None
    """Why the standby could not hold this SA (HA degraded); None = not refused."""

    @property
    def lifetime_bytes(self) -> int:
        """The kilobyte lifetime in octets."""
        return self.lifetime_kilobytes * KILOBYTE

    @property
    def spent(self) -> bool:
        """True when the octet count has reached the kilobyte lifetime."""
        return self.bytes_used >= self.lifetime_bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class NewIkeSa:
    """A freshly established IKEv1 SA (QM_IDLE), as phase 1 hands it to the database."""

    initiator_cookie: bytes
    """CKY-I, 8 octets, not all zero."""
    responder_cookie: bytes
    """CKY-R, 8 octets, not all zero."""
    is_initiator: bool
    """Whether this router initiated phase 1."""
    encryption: str
    """Negotiated cipher (``3des``, ``aes 256``), 1-16 characters."""
    hash_algorithm: str
    """Negotiated hash (``sha``, ``md5``)."""
    authentication: str
    """Authentication method (``pre-share``, ``rsa-sig``)."""
    dh_group: int
    """Diffie-Hellman group, 1-255."""
    skeyid_d: bytes = field(repr=False)
    """SKEYID_d, 1-255 octets."""
    skeyid_a: bytes = field(repr=False)
    """SKEYID_a, 1-255 octets."""
    skeyid_e: bytes = field(repr=False)
    """SKEYID_e, 1-255 octets."""
    last_phase1_cbc_block: bytes
    """Last CBC block of phase 1, 0-32 octets."""
    message_ids: tuple[int, ...] = ()
    """Phase-2 / informational message ids in use, each 1 .. 2^32 − 1."""
    dpd_out: int
    """DPD_OUT: last own R-U-THERE number sent (first number − 1 when none yet), 0 .. 2^32 − 1."""
    dpd_in: int = 0
    """DPD_IN: last R-U-THERE number accepted from the peer, 0 .. 2^32 − 1."""
    expiry_ms: int
    """Absolute instant the lifetime ends, ms in the shared time base."""
    peer: IPv4Address
    """The remote IKE peer."""
    local_port: int = 500
    """Our UDP port, 1-65535."""
    peer_port: int = 500
    """The peer's UDP port, 1-65535."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IkeSa:
    """One IKEv1 SA with its replication state."""

    sa_id: int
    """Identifier shared with the other router, 0 .. 2^32 − 1."""
    initiator_cookie: bytes
    """CKY-I, 8 octets."""
    responder_cookie: bytes
    """CKY-R, 8 octets."""
    is_initiator: bool
    """Whether this router (or the one it took over from) initiated phase 1."""
    encryption: str
    """Negotiated cipher."""
    hash_algorithm: str
    """Negotiated hash."""
    authentication: str
    """Authentication method."""
    dh_group: int
    """Diffie-Hellman group, 1-255."""
    skeyid_d: bytes = field(repr=False)
    """SKEYID_d, 1-255 octets."""
    skeyid_a: bytes = field(repr=False)
    """SKEYID_a, 1-255 octets."""
    skeyid_e: bytes = field(repr=False)
    """SKEYID_e, 1-255 octets."""
    last_phase1_cbc_block: bytes
    """Last CBC block of phase 1, 0-32 octets."""
    message_ids: tuple[int, ...]
    """Message ids in use."""
    dpd_out: int
    """DPD_OUT: last own R-U-THERE number sent, 0 .. 2^32 − 1 (may pass it after a jump)."""
    dpd_in: int
    """DPD_IN: last R-U-THERE number accepted from the peer, 0 .. 2^32 − 1."""
    expiry_ms: int
    """Absolute instant the lifetime ends, ms (never extended by failover)."""
    peer: IPv4Address
    """The remote IKE peer."""
    local_port: int
    """Our UDP port, 1-65535."""
    peer_port: int
    """The peer's UDP port, 1-65535."""
    status: HaStatus
    """ACTIVE here, or a STANDBY copy."""
    stale: bool = False
    """A copy that may lag the truth by more than a jump: never promoted."""
    dpd_out_sync: CounterSync = _NO_SYNC
    """Replication bookkeeping of DPD_OUT (ACTIVE only)."""
    dpd_in_sync: CounterSync = _NO_SYNC
    """Replication bookkeeping of DPD_IN (no floor: it has no jump)."""

    @property
    def cookies(self) -> tuple[bytes, bytes]:
        """(CKY-I, CKY-R), the SA's identity on the wire."""
        return (self.initiator_cookie, self.responder_cookie)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundGrant:
    """The answer to ``send_outbound``: which sequence numbers to use, and what was held."""

    first_seq: int
    """First sequence number to put on the wire (the next after OUT), >= 1."""
    count: int
    """Packets granted: they use ``first_seq .. first_seq + count − 1``."""
    held_back: int
    """Packets not granted (counted under ``reason``)."""
    reason: TrafficVerdict | None
    """Why packets were held back; None when all were granted."""

    @property
    def seqs(self) -> range:
        """The granted sequence numbers."""
        return range(self.first_seq, self.first_seq + self.count)


@dataclass(frozen=True, slots=True, kw_only=True)
class TakeoverReport:
    """What ``become_active`` did with the copies."""

    promoted_ipsec: tuple[int, ...] = ()
    """IPsec SA pairs now ACTIVE (after the jump)."""
    promoted_ike: tuple[int, ...] = ()
    """IKE SAs now ACTIVE."""
    discarded_ipsec: tuple[int, ...] = ()
    """IPsec copies that were not promotable (stale, N = 0, expired, SSP silent too long)."""
    discarded_ike: tuple[int, ...] = ()
    """IKE copies that were not promotable."""
    expired_ipsec: tuple[int, ...] = ()
    """Promoted IPsec SAs whose jumped octet count reached the lifetime: deleted."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SadbCounters:
    """Everything the database counts (``show crypto ipsec ha``, ``show crypto isakmp ha``)."""

    outbound_held_back: Mapping[TrafficVerdict, int]
    """Outbound packets not granted, by reason."""
    inbound_dropped: Mapping[TrafficVerdict, int]
    """Inbound packets refused, by reason."""
    dpd_held_back: int
    """R-U-THERE messages not sent because DPD_OUT would pass floor + 1 (or 2^32 − 1)."""
    promoted: int
    """Copies promoted at takeovers (IPsec pairs and IKE SAs)."""
    discarded_at_takeover: int
    """Copies discarded at takeovers (must be renegotiated)."""
    expired: int
    """SAs deleted because their time or kilobyte lifetime ran out."""
    deleted: int
    """SAs deleted locally or by the other end's SA_DELETE."""
    rekey_needed: int
    """IPsec SA pairs flagged "rekey needed" (32-bit sequence exhausted)."""
    local_refusals: Mapping[str, int]
    """Locally negotiated SA pairs the card refused, by reason."""
    refusals_sent: Mapping[str, int]
    """Copies this router could not hold (REFUSE sent, HA degraded), by reason."""
    refusals_received: Mapping[str, int]
    """SAs the other router could not hold (REFUSE received, HA degraded), by reason."""
    refused_while_active: Mapping[MessageType, int]
    """Replication messages refused (not applied) because this router is ACTIVE, by type."""
    full_copies: int
    """Full copies (bulk transfers) sent."""
    adds_sent: int
    """IPSEC_SA_ADD and IKE_SA_ADD sent (SSP ``ADDS``)."""
    deletes_sent: int
    """SA_DELETE sent (SSP ``DELETES``)."""
    updates_sent: int
    """COUNTER_UPDATE sent as an active."""
    announcements_sent: int
    """COUNTER_UPDATE sent as a non-active (announcing own values)."""
    replies_received: int
    """ACK and REFUSE received that matched a message sent (SSP ``REPLIES``)."""
    unmatched_replies: int
    """ACK and REFUSE received that matched nothing (or an older add): ignored."""
    copies_applied: int
    """Adds applied to copies (created or refreshed)."""
    updates_applied: int
    """Counter updates applied to copies."""
    copies_dropped_by_bulk: int
    """Copies dropped by a BULK_BEGIN."""
    bulk_mismatches: int
    """BULK_END whose count differed from the adds received."""
    resync_requests: int
    """RESYNC_REQUEST received (answered when replicating)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Sent:
    """A message we sent that the other end answers with ACK or REFUSE."""

    doi: Doi
    """DOI of the message."""
    sa_id: int
    """The SA it was about."""
    kind: CounterKind | None
    """The counter of a COUNTER_UPDATE; None for an add or a delete."""
    values: tuple[tuple[CounterKind, int], ...] = ()
    """An add: the counters it carried (its ACK raises the floors to them, as far as the
    floors are kept across a full copy)."""


_Key = tuple[Doi, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Remnant:
    """The last counters of a copy discarded at a takeover, announced until it expires."""

    expiry_ms: int
    """The SA's absolute expiry, ms: after it nobody can use the SA."""
    values: Mapping[CounterKind, int]
    """Counter values (internal units) when it was discarded."""


_UNBOUNDED: Final = 1 << 96
"""Stands for "no limit" in :class:`_Traffic` (above any count an SA can reach)."""


@dataclass(slots=True, kw_only=True)
class _Traffic:
    """The per-packet state of one ACTIVE IPsec SA pair: its four counters, and the lines
    up to which a packet needs no other look at the record.

    The data path moves these instead of copying the frozen record per packet; ``_fold``
    writes them back into it. Every line is derived from the record when this is built,
    and it is dropped whenever anything but traffic changes the record, so a line is
    never stale. A packet that would cross a line takes the full path.
    """

    outbound_seq: int
    """OUT."""
    inbound_right_edge: int
    """IN."""
    inbound_bitmap: int
    """The replay bitmap of IN's window."""
    bytes_used: int
    """BYTES."""
    outbound_stop: int
    """Highest OUT a packet may reach here: below 2^32 − 1 and the hold-back line."""
    inbound_stop: int
    """Highest sequence number accepted here: 2^32 − 1 or the hold-back line."""
    bytes_stop: int
    """Highest BYTES a packet may reach here: below the lifetime, at the hold-back line."""
    outbound_due: int
    """OUT at which a COUNTER_UPDATE falls due (_UNBOUNDED: none is sent)."""
    inbound_due: int
    """IN at which a COUNTER_UPDATE falls due (_UNBOUNDED: none is sent)."""
    bytes_due: int
    """BYTES at which a COUNTER_UPDATE falls due (_UNBOUNDED: none is sent)."""
    plain_inbound: bool
    """No seeded bug is on that changes how an inbound packet is recorded."""
    dirty: bool = False
    """The counters moved since they were last written into the record."""

    def record_inbound(self, seq: int, used: int, mask: int, width: int) -> bool:
        """Mark new packet ``seq`` seen and count ``used`` octets in all; True when a
        COUNTER_UPDATE falls due (IN or BYTES reached its line)."""
        self.inbound_right_edge, self.inbound_bitmap = _advance_window(
            self.inbound_right_edge, self.inbound_bitmap, seq, mask, width
        )
        self.bytes_used = used
        self.dirty = True
        return seq >= self.inbound_due or used >= self.bytes_due


_K = TypeVar("_K")
_F = TypeVar("_F")
_Handler = Callable[["SaDatabase", Message, int, int], None]


def _ceil_half(jump: int) -> int:
    return (jump + 1) // 2


def _dpd_to_wire(last_sent: int) -> int:
    """DPD_OUT goes on the wire as the *next* number (messages.py), saturating at 2^32 − 1."""
    return min(last_sent + 1, SEQ_MAX)


def _dpd_from_wire(next_number: int) -> int:
    return max(next_number - 1, 0)


def _advance_window(edge: int, bitmap: int, seq: int, mask: int, width: int) -> tuple[int, int]:
    """(edge, bitmap) after marking ``seq`` seen (RFC 4303 §3.4.3 window update)."""
    if seq > edge:
        shift = seq - edge
        return seq, ((bitmap << shift) | 1) & mask if shift < width else 1
    return edge, bitmap | (1 << (edge - seq)) if edge - seq < width else bitmap


class SaDatabase:
    """The IKE and IPsec SAs of one router, and the ahead rule that replicates them."""

    def __init__(
        self,
        *,
        engine: CryptoEngine,
        entropy: Entropy,
        grace_ms: int,
        replay_intervals: Mapping[str, ReplayInterval] | None = None,
        replay_window_size: int = 64,
    ) -> None:
        """``grace_ms`` = max hold time + SSP keepalive interval + one latency, ms (>= 0).

        ``replay_intervals`` are this router's ``crypto map NAME ha replay-interval``
        settings by map name (absent maps use the defaults, inbound 1000 / outbound 1);
        ``replay_window_size`` is the inbound window in packets (32-65536, a multiple of 8).
        """
        if grace_ms < 0:
            raise LocalProtocolError(f"grace_ms {grace_ms} must be >= 0")
        if not (_MIN_WINDOW <= replay_window_size <= _MAX_WINDOW and replay_window_size % 8 == 0):
            raise LocalProtocolError(
                f"replay window size {replay_window_size} must be a multiple of 8 in "
                f"{_MIN_WINDOW}..{_MAX_WINDOW}"
            )
        self._engine = engine
        self._entropy = entropy
        self._grace_ms = grace_ms
        self._intervals = dict(replay_intervals or {})
        self._interval_cache: dict[str, ReplayInterval] = {}
        self._window = replay_window_size
        self._window_mask = (1 << replay_window_size) - 1
        self._generation = 0
        # Role and SSP state.
        self._active = False
        self._connected = False
        self._last_heard_ms: int | None = None
        self._peer_role: DeviceRole | None = None
        self._awaiting_peer = False
        self._replicating = False
        # Records.
        self._ipsec: dict[int, IpsecSaPair] = {}
        self._ike: dict[int, IkeSa] = {}
        self._spent_at: dict[int, int] = {}
        self._tombstones_ipsec: dict[tuple[int, int], int] = {}
        self._tombstones_ike: dict[tuple[bytes, bytes], int] = {}
        # Replication.
        self._announced: dict[tuple[Doi, int, CounterKind], int] = {}
        self._unreplicated: set[tuple[Doi, int]] = set()
        self._peer_incarnation: int | None = None
        self._floor_incarnation: int | None = None
        """The other end's incarnation when the floors were last seeded by a full copy."""
        """SAs the other end forgot after it may have used them: capped, never copied again."""
        self._sent: dict[int, _Sent] = {}
        self._last_add_seq: dict[_Key, int] = {}
        self._bulk_adds: dict[Doi, int] = {}
        self._copies_complete: set[Doi] = set()
        """DOIs whose full copy from the other end arrived whole on this connection since
        it last became ACTIVE (see "Synchronised")."""
        self._outbox: list[Message] = []
        self._degraded_copies: set[_Key] = set()
        self._remnants: dict[_Key, _Remnant] = {}
        self._moved: set[_Key] = set()
        self._pending_mids: dict[int, tuple[int, ...]] = {}
        """Per ACTIVE IKE SA, message ids remembered but not yet sent to the standby."""
        # The per-packet path (see ``_Traffic``) and what is derived from the records.
        self._traffic: dict[int, _Traffic] = {}
        self._timer: int | None = None
        self._timer_known = False
        # Counters.
        self._outbound_held: dict[TrafficVerdict, int] = {}
        self._inbound_dropped: dict[TrafficVerdict, int] = {}
        self._local_refusals: dict[str, int] = {}
        self._refusals_sent: dict[str, int] = {}
        self._refusals_received: dict[str, int] = {}
        self._refused_while_active: dict[MessageType, int] = {}
        self._count: dict[str, int] = dict.fromkeys(
            (
                "dpd_held_back",
                "promoted",
                "discarded_at_takeover",
                "expired",
                "deleted",
                "rekey_needed",
                "full_copies",
                "adds_sent",
                "deletes_sent",
                "updates_sent",
                "announcements_sent",
                "replies_received",
                "unmatched_replies",
                "copies_applied",
                "updates_applied",
                "copies_dropped_by_bulk",
                "bulk_mismatches",
                "resync_requests",
            ),
            0,
        )

    # --- read-only views ---------------------------------------------------------------

    @property
    def generation(self) -> int:
        """Changes whenever an IPsec SA is added, removed or flagged "rekey needed", or the
        router changes role.

        A reader that caches lookups (the data path's SA table) re-reads when it moves.
        """
        return self._generation

    @property
    def is_active(self) -> bool:
        """True while this router is the ACTIVE one (its SAs carry traffic)."""
        return self._active

    @property
    def connected(self) -> bool:
        """True while an SSP connection is up (as the glue reported it)."""
        return self._connected

    @property
    def peer_role(self) -> DeviceRole | None:
        """The other end's role from its last ROLE on this connection; None = not heard."""
        return self._peer_role

    @property
    def replicating(self) -> bool:
        """True when this ACTIVE router has sent its full copy on this connection."""
        return self._replicating

    @property
    def synchronised(self) -> bool:
        """Whether this router holds what the other end could copy to it (see the module's
        "Synchronised"): connected, the other end's ROLE heard, and it is not ACTIVE or
        its full copy of both DOIs arrived whole. ``preempt delay sync`` waits for it."""
        if not self._connected or self._peer_role is None:
            return False
        if self._peer_role is not DeviceRole.ACTIVE:
            return True
        return Doi.IPSEC in self._copies_complete and Doi.IKE in self._copies_complete

    @property
    def grace_ms(self) -> int:
        """How long after SSP last delivered something copies stay promotable, ms."""
        return self._grace_ms

    @property
    def replay_window_size(self) -> int:
        """Inbound replay window, packets."""
        return self._window

    @property
    def ha_degraded(self) -> bool:
        """True when HA is degraded: an ACTIVE SA whose copy the standby refused, or a
        copy this standby refused (card full, transform unsupported) since the last bulk."""
        return bool(self._degraded_copies) or any(
            sa.standby_refusal is not None for sa in self._ipsec.values()
        )

    @property
    def degraded_copies(self) -> tuple[tuple[Doi, int], ...]:
        """(DOI, sa_id) of the copies this router refused to hold since the last bulk."""
        return tuple(sorted(self._degraded_copies))

    def ipsec_sa(self, sa_id: int) -> IpsecSaPair | None:
        """The IPsec SA pair ``sa_id`` (ACTIVE or copy), or None."""
        self._fold(sa_id)
        return self._ipsec.get(sa_id)

    def ipsec_sas(self, status: HaStatus | None = None) -> tuple[IpsecSaPair, ...]:
        """IPsec SA pairs by id (``show crypto ipsec sa [standby]``); None = all."""
        self._fold_all()
        return tuple(
            sa for _, sa in sorted(self._ipsec.items()) if status is None or sa.status is status
        )

    def ike_sa(self, sa_id: int) -> IkeSa | None:
        """The IKE SA ``sa_id`` (ACTIVE or copy), or None."""
        return self._ike.get(sa_id)

    def ike_sas(self, status: HaStatus | None = None) -> tuple[IkeSa, ...]:
        """IKE SAs by id (``show crypto isakmp ha [standby]``); all when ``status`` is None."""
        return tuple(
            sa for _, sa in sorted(self._ike.items()) if status is None or sa.status is status
        )

    def replay_interval(self, crypto_map: str) -> ReplayInterval:
        """This router's ``ha replay-interval`` for ``crypto_map`` (defaults when unset)."""
        interval = self._interval_cache.get(crypto_map)
        if interval is None:
            interval = self._intervals.get(crypto_map) or ReplayInterval()
            self._interval_cache[crypto_map] = interval
        return interval

    def jump(self, sa: IpsecSaPair, kind: CounterKind) -> int:
        """J of one IPsec counter of ``sa`` (see the module's table)."""
        if kind is CounterKind.BYTES:
            return sa.lifetime_kilobytes * KILOBYTE // BYTES_JUMP_DIVISOR
        interval = self.replay_interval(sa.crypto_map)
        if kind is CounterKind.OUTBOUND_SEQ:
            return interval.outbound_millions * OUTBOUND_JUMP_UNIT
        if kind is CounterKind.INBOUND_EDGE:
            return interval.inbound_packets
        raise LocalProtocolError(f"{kind.name} is not an IPsec counter")

    def limit(self, sa: IpsecSaPair, kind: CounterKind) -> int | None:
        """floor + J of one IPsec counter (the hold-back line); None = not held back.

        IN is never held back when the inbound interval is 0: such copies are never
        promoted, so the standby can never use them.
        """
        jump = self.jump(sa, kind)
        sync = _ipsec_sync(sa, kind)
        if kind is CounterKind.INBOUND_EDGE and jump == 0:
            return sync.cap
        return _min_bound(None if sync.floor is None else sync.floor + jump, sync.cap)

    def dpd_limit(self, sa: IkeSa) -> int | None:
        """floor + 1 for DPD_OUT; None = not held back."""
        floor = sa.dpd_out_sync.floor
        return _min_bound(None if floor is None else floor + DPD_JUMP, sa.dpd_out_sync.cap)

    def promotable(self, sa: IpsecSaPair | IkeSa, now: int) -> bool:
        """Whether a copy would be promoted by a takeover at ``now``."""
        if sa.stale or sa.expiry_ms <= now or not self._ssp_recent(now):
            return False
        return not (
            isinstance(sa, IpsecSaPair) and self.replay_interval(sa.crypto_map).inbound_packets == 0
        )

    @property
    def counters(self) -> SadbCounters:
        """A snapshot of every counter."""
        count = self._count
        return SadbCounters(
            outbound_held_back=MappingProxyType(dict(self._outbound_held)),
            inbound_dropped=MappingProxyType(dict(self._inbound_dropped)),
            dpd_held_back=count["dpd_held_back"],
            promoted=count["promoted"],
            discarded_at_takeover=count["discarded_at_takeover"],
            expired=count["expired"],
            deleted=count["deleted"],
            rekey_needed=count["rekey_needed"],
            local_refusals=MappingProxyType(dict(self._local_refusals)),
            refusals_sent=MappingProxyType(dict(self._refusals_sent)),
            refusals_received=MappingProxyType(dict(self._refusals_received)),
            refused_while_active=MappingProxyType(dict(self._refused_while_active)),
            full_copies=count["full_copies"],
            adds_sent=count["adds_sent"],
            deletes_sent=count["deletes_sent"],
            updates_sent=count["updates_sent"],
            announcements_sent=count["announcements_sent"],
            replies_received=count["replies_received"],
            unmatched_replies=count["unmatched_replies"],
            copies_applied=count["copies_applied"],
            updates_applied=count["updates_applied"],
            copies_dropped_by_bulk=count["copies_dropped_by_bulk"],
            bulk_mismatches=count["bulk_mismatches"],
            resync_requests=count["resync_requests"],
        )

    # --- local SAs ---------------------------------------------------------------------

    def add_ipsec_pair(self, params: NewIpsecSa, now: int) -> IpsecSaPair | Refusal:
        """Install a newly negotiated SA pair (ACTIVE only); the card's refusal is returned.

        The pair is replicated at once when the full copy has been sent on this
        connection; otherwise it is not held back (no standby copy exists).
        """
        self._begin_change()
        self._require_active("add an IPsec SA")
        sa_id = self._new_id(self._ipsec)
        refusal = self._engine.try_install(sa_id, params.transforms)
        if refusal is not None:
            _bump(self._local_refusals, refusal.reason)
            return refusal
        sa = IpsecSaPair(
            sa_id=sa_id,
            peer=params.peer,
            crypto_map=params.crypto_map,
            crypto_map_seq=params.crypto_map_seq,
            local_proxy=params.local_proxy,
            remote_proxy=params.remote_proxy,
            inbound_spi=params.inbound_spi,
            outbound_spi=params.outbound_spi,
            transforms=params.transforms,
            inbound_encryption_key=params.inbound_encryption_key,
            outbound_encryption_key=params.outbound_encryption_key,
            inbound_integrity_key=params.inbound_integrity_key,
            outbound_integrity_key=params.outbound_integrity_key,
            expiry_ms=params.expiry_ms,
            lifetime_kilobytes=params.lifetime_kilobytes,
            outbound_seq=0,
            inbound_right_edge=0,
            inbound_bitmap=0,
            bytes_used=0,
            status=HaStatus.ACTIVE,
        )
        self._ipsec[sa_id] = sa
        self._generation += 1
        self._note_spent(sa, now)
        if self._replicating:
            self._queue_ipsec_add(sa_id, resync=False)
        return self._ipsec[sa_id]

    def add_ike_sa(self, params: NewIkeSa, now: int) -> IkeSa:
        """Install a newly established IKE SA (ACTIVE only); replicated like an IPsec pair."""
        self._begin_change()
        self._require_active("add an IKE SA")
        sa_id = self._new_id(self._ike)
        sa = IkeSa(
            sa_id=sa_id,
            initiator_cookie=params.initiator_cookie,
            responder_cookie=params.responder_cookie,
            is_initiator=params.is_initiator,
            encryption=params.encryption,
            hash_algorithm=params.hash_algorithm,
            authentication=params.authentication,
            dh_group=params.dh_group,
            skeyid_d=params.skeyid_d,
            skeyid_a=params.skeyid_a,
            skeyid_e=params.skeyid_e,
            last_phase1_cbc_block=params.last_phase1_cbc_block,
            message_ids=params.message_ids,
            dpd_out=params.dpd_out,
            dpd_in=params.dpd_in,
            expiry_ms=params.expiry_ms,
            peer=params.peer,
            local_port=params.local_port,
            peer_port=params.peer_port,
            status=HaStatus.ACTIVE,
        )
        self._ike[sa_id] = sa
        if self._replicating:
            self._queue_ike_add(sa_id)
        return sa

    def delete(self, sa_id: int, now: int) -> bool:
        """Delete IPsec SA pair ``sa_id`` (ACTIVE or copy); False if unknown.

        An ACTIVE pair's delete is replicated when replicating; either way the SA is
        remembered until its expiry so that no later add brings it back (DESIGN I6).
        """
        self._begin_change()
        sa = self._ipsec.get(sa_id)
        if sa is None:
            return False
        self._remove_ipsec(sa, now, tombstone=True)
        self._count["deleted"] += 1
        return True

    def delete_ike(self, sa_id: int, now: int) -> bool:
        """Delete IKE SA ``sa_id`` (ACTIVE or copy); False if unknown."""
        self._begin_change()
        sa = self._ike.get(sa_id)
        if sa is None:
            return False
        self._remove_ike(sa, now, tombstone=True)
        self._count["deleted"] += 1
        return True

    def expire(self, now: int) -> list[tuple[Doi, int]]:
        """Delete every SA whose lifetime ended (expiry <= now, or octets spent)."""
        self._begin_change()
        gone: list[tuple[Doi, int]] = []
        for sa in list(self._ipsec.values()):
            if sa.expiry_ms <= now or sa.spent:
                self._remove_ipsec(sa, now, tombstone=True)
                self._count["expired"] += 1
                gone.append((Doi.IPSEC, sa.sa_id))
        for ike in list(self._ike.values()):
            if ike.expiry_ms <= now:
                self._remove_ike(ike, now, tombstone=True)
                self._count["expired"] += 1
                gone.append((Doi.IKE, ike.sa_id))
        self._remnants = {k: r for k, r in self._remnants.items() if r.expiry_ms > now}
        self._tombstones_ipsec = {k: t for k, t in self._tombstones_ipsec.items() if t > now}
        self._tombstones_ike = {k: t for k, t in self._tombstones_ike.items() if t > now}
        return gone

    def get_timer(self) -> int | None:
        """When ``expire`` must next be called, ms; None when no SA is held."""
        if not self._timer_known:
            # Remembered until the records change (``_begin_change``) or an SA is spent:
            # the router asks after every packet.
            deadlines = [sa.expiry_ms for sa in self._ipsec.values()]
            deadlines += [sa.expiry_ms for sa in self._ike.values()]
            deadlines += self._spent_at.values()
            self._timer = min(deadlines, default=None)
            self._timer_known = True
        return self._timer

    # --- data plane --------------------------------------------------------------------

    def outbound_allowance(self, sa_id: int, packets: int, size: int) -> int:
        """How many of ``packets`` packets of ``size`` octets may be sent now (no change)."""
        self._fold(sa_id)
        return self._outbound_allowance(self._ipsec_or_raise(sa_id), packets, size)[0]

    def next_outbound_seq(self, sa_id: int, size: int, now: int) -> int | TrafficVerdict:
        """``send_outbound`` for one packet of ``size`` octets: its sequence number, or
        the verdict that held it back (counted the same way).

        The per-packet path: while the packet stays inside the lines of the SA's
        ``_Traffic`` only the counters move; anything else goes to ``send_outbound``.
        """
        traffic = self._traffic.get(sa_id) or self._start_traffic(sa_id)
        if traffic is not None and size >= 0:
            seq = traffic.outbound_seq + 1
            used = traffic.bytes_used + size
            if seq <= traffic.outbound_stop and used <= traffic.bytes_stop:
                # The grant send_outbound would make: below 2^32 − 1 and every hold-back
                # line, the lifetime not reached (so no rekey flag and nothing spent).
                traffic.outbound_seq = seq
                traffic.bytes_used = used
                traffic.dirty = True
                if seq >= traffic.outbound_due or used >= traffic.bytes_due:
                    self._moved.add((Doi.IPSEC, sa_id))
                return seq
        grant = self.send_outbound(sa_id, 1, size, now)
        if grant.count:
            return grant.first_seq
        return grant.reason or TrafficVerdict.HELD_BACK

    def send_outbound(self, sa_id: int, packets: int, size: int, now: int) -> OutboundGrant:
        """Take sequence numbers for up to ``packets`` packets of ``size`` octets each.

        The rest are held back and counted by reason (hold-back, rekey needed,
        lifetime, standby copy).
        """
        self._fold(sa_id)
        sa = self._ipsec_or_raise(sa_id)
        granted, reason = self._outbound_allowance(sa, packets, size)
        first = sa.outbound_seq + 1
        if granted:
            self._traffic.pop(sa_id, None)  # the record moves on: the lines are derived anew
            sa = replace(
                sa,
                outbound_seq=sa.outbound_seq + granted,
                bytes_used=sa.bytes_used + granted * size,
            )
            self._ipsec[sa_id] = sa
            self._moved.add((Doi.IPSEC, sa_id))
            if sa.outbound_seq >= SEQ_MAX:
                self._flag_rekey(sa_id)
            self._note_spent(sa, now)
        held = packets - granted
        if held and reason is not None:
            _bump(self._outbound_held, reason, held)
        return OutboundGrant(
            first_seq=first, count=granted, held_back=held, reason=reason if held else None
        )

    def inbound_check(self, sa_id: int, seq: int, size: int) -> TrafficVerdict:
        """Pre-check (RFC 4303 §3.4.3) of an inbound packet; a refusal is counted.

        Call it before the ICV check; call ``accept_inbound`` once the ICV verified.
        """
        traffic = self._traffic.get(sa_id) or self._start_traffic(sa_id)
        # A *plain new packet* needs nothing but the window's answer: the full path would
        # accept it and only move the window and the octets (no seeded bug on the inbound
        # path, a sequence number right of the window or unseen inside it, every line
        # kept, the lifetime not reached). Written out here and in accept_inbound: a
        # helper call would cost as much as the test.
        if (
            traffic is not None
            and traffic.plain_inbound
            and 0 < seq <= traffic.inbound_stop
            and size >= 0
            and traffic.bytes_used + size <= traffic.bytes_stop
        ):
            offset = traffic.inbound_right_edge - seq
            if offset < 0 or (offset < self._window and not (traffic.inbound_bitmap >> offset) & 1):
                return _ACCEPTED
        self._fold(sa_id)
        sa = self._ipsec_or_raise(sa_id)
        verdict = self._inbound_verdict(sa, seq, size)
        if verdict is not _ACCEPTED:
            _bump(self._inbound_dropped, verdict)
        elif mutants.active("esp-window-before-icv"):
            self._traffic.pop(sa_id, None)
            edge, bitmap = _advance_window(
                sa.inbound_right_edge, sa.inbound_bitmap, seq, self._window_mask, self._window
            )
            self._ipsec[sa_id] = replace(sa, inbound_right_edge=edge, inbound_bitmap=bitmap)
            self._moved.add((Doi.IPSEC, sa_id))
        return verdict

    def accept_inbound(self, sa_id: int, seq: int, size: int, now: int) -> TrafficVerdict:
        """Record an authenticated inbound packet: window, edge, octets; refusals counted."""
        traffic = self._traffic.get(sa_id) or self._start_traffic(sa_id)
        # A plain new packet (inbound_check's test, with the packet's size): the window
        # moves as _advance_window moves it; the lifetime is not reached.
        if (
            traffic is not None
            and traffic.plain_inbound
            and 0 < seq <= traffic.inbound_stop
            and size >= 0
        ):
            used = traffic.bytes_used + size
            offset = traffic.inbound_right_edge - seq
            if used <= traffic.bytes_stop and (
                offset < 0 or (offset < self._window and not (traffic.inbound_bitmap >> offset) & 1)
            ):
                if traffic.record_inbound(seq, used, self._window_mask, self._window):
                    self._moved.add((Doi.IPSEC, sa_id))
                return _ACCEPTED
        self._fold(sa_id)
        sa = self._ipsec_or_raise(sa_id)
        if mutants.active("esp-window-before-icv"):  # the check already moved the window
            self._traffic.pop(sa_id, None)
            self._ipsec[sa_id] = sa = replace(sa, bytes_used=sa.bytes_used + size)
            self._note_spent(sa, now)
            return _ACCEPTED
        verdict = self._inbound_verdict(sa, seq, size)
        if verdict is not _ACCEPTED:
            _bump(self._inbound_dropped, verdict)
            return verdict
        self._traffic.pop(sa_id, None)
        edge, bitmap = _advance_window(
            sa.inbound_right_edge, sa.inbound_bitmap, seq, self._window_mask, self._window
        )
        sa = replace(
            sa,
            inbound_right_edge=edge,
            inbound_bitmap=bitmap,
            bytes_used=sa.bytes_used
            + (0 if mutants.active("sadb-inbound-bytes-not-counted") else size),
        )
        self._ipsec[sa_id] = sa
        self._moved.add((Doi.IPSEC, sa_id))
        self._note_spent(sa, now)
        return verdict

    def inbound_packet(
        self,
        sa_id: int,
        seq: int,
        open_packet: Callable[[bytes], bytes | _F],
        packet: bytes,
        now: int,
    ) -> bytes | _F | TrafficVerdict:
        """``inbound_check(sa_id, seq, 0)``, then ``open_packet(packet)`` (the ICV check
        and decryption: the inner packet, or a failure of the caller's own type), then
        ``accept_inbound`` with the inner packet's size: the first refusal or failure,
        else the inner packet. One call per packet instead of two; the same answers,
        counts and records as those calls.
        """
        traffic = self._traffic.get(sa_id) or self._start_traffic(sa_id)
        if (
            traffic is None
            or not traffic.plain_inbound
            or not 0 < seq <= traffic.inbound_stop
            or traffic.bytes_used > traffic.bytes_stop
        ):
            return self._inbound_packet_in_full(sa_id, seq, open_packet, packet, now)
        offset = traffic.inbound_right_edge - seq
        if offset >= 0 and (offset >= self._window or (traffic.inbound_bitmap >> offset) & 1):
            return self._inbound_packet_in_full(sa_id, seq, open_packet, packet, now)
        # A plain new packet (see inbound_check): opening it touches no record here, so
        # the same traffic state answers accept_inbound's test, with the packet's size.
        inner = open_packet(packet)
        if not isinstance(inner, bytes):
            return inner
        used = traffic.bytes_used + len(inner)
        if used > traffic.bytes_stop:
            verdict = self.accept_inbound(sa_id, seq, len(inner), now)
            return inner if verdict is _ACCEPTED else verdict
        if traffic.record_inbound(seq, used, self._window_mask, self._window):
            self._moved.add((Doi.IPSEC, sa_id))
        return inner

    def _inbound_packet_in_full(
        self,
        sa_id: int,
        seq: int,
        open_packet: Callable[[bytes], bytes | _F],
        packet: bytes,
        now: int,
    ) -> bytes | _F | TrafficVerdict:
        verdict = self.inbound_check(sa_id, seq, 0)
        if verdict is not _ACCEPTED:
            return verdict
        inner = open_packet(packet)
        if not isinstance(inner, bytes):
            return inner
        verdict = self.accept_inbound(sa_id, seq, len(inner), now)
        return inner if verdict is _ACCEPTED else verdict

    def next_dpd_out(self, ike_id: int, now: int) -> int | None:
        """The number for a new R-U-THERE (RFC 3706), or None when held back (counted)."""
        sa = self._ike_or_raise(ike_id)
        number = sa.dpd_out + 1
        limit = self.dpd_limit(sa)
        if (
            sa.status is not HaStatus.ACTIVE
            or number > SEQ_MAX
            or (limit is not None and number > limit)
        ):
            self._count["dpd_held_back"] += 1
            return None
        self._ike[ike_id] = replace(sa, dpd_out=number)
        self._moved.add((Doi.IKE, ike_id))
        return number

    def accept_dpd_in(self, ike_id: int, seq: int, now: int) -> bool:
        """Record the peer's R-U-THERE number; False (no change) when it went backwards."""
        sa = self._ike_or_raise(ike_id)
        if sa.status is not HaStatus.ACTIVE or not sa.dpd_in <= seq <= SEQ_MAX:
            return False
        self._ike[ike_id] = replace(sa, dpd_in=seq)
        self._moved.add((Doi.IKE, ike_id))
        return True

    def note_message_id(self, ike_id: int, message_id: int, now: int) -> bool:
        """Remember a message id the peer used on ACTIVE IKE SA ``ike_id`` and replicate it.

        False (nothing changes) when the id was used before on this SA (a replayed
        message), when it is not a phase-2 id (1 .. 2^32 − 1), or when the SA is a copy.
        The standby's copy gets each id in a COUNTER_UPDATE of kind MESSAGE_ID, so the
        router that takes over refuses a replay of a message the other one accepted.
        """
        sa = self._ike_or_raise(ike_id)
        if sa.status is not HaStatus.ACTIVE or not 1 <= message_id <= SEQ_MAX:
            return False
        if message_id in sa.message_ids:
            return False
        self._ike[ike_id] = replace(sa, message_ids=_remember(sa.message_ids, message_id))
        self._pending_mids[ike_id] = _remember(self._pending_mids.get(ike_id, ()), message_id)
        self._moved.add((Doi.IKE, ike_id))
        return True

    # --- role --------------------------------------------------------------------------

    def become_active(self, now: int) -> TakeoverReport:
        """Takeover: promote every promotable copy with the jump, discard the others.

        The glue then sends ROLE(ACTIVE) asking for an answer: the full copy goes out
        when the other end's ROLE comes back (proof that it is alive).
        """
        self._begin_change()
        if self._active:
            return TakeoverReport()
        self._generation += 1
        recent = self._ssp_recent(now)
        self._active = True
        self._degraded_copies.clear()
        self._awaiting_peer = True
        self._replicating = False
        promoted: list[int] = []
        discarded: list[int] = []
        expired: list[int] = []
        for sa in list(self._ipsec.values()):
            if not (recent and self.promotable(sa, now)) and not mutants.active(
                "sadb-stale-copies-promoted"
            ):
                self._engine.remove(sa.sa_id)
                del self._ipsec[sa.sa_id]
                self._generation += 1
                self._spent_at.pop(sa.sa_id, None)
                self._keep_remnant(Doi.IPSEC, sa.sa_id, sa.expiry_ms, _ipsec_values(sa))
                discarded.append(sa.sa_id)
                continue
            skip = 0 if mutants.active("sadb-no-jump") else 1
            jumped = replace(
                sa,
                status=HaStatus.ACTIVE,
                stale=False,
                outbound_seq=sa.outbound_seq
                + skip
                * self.jump(
                    sa,
                    CounterKind.INBOUND_EDGE
                    if mutants.active("sadb-jump-n-for-m")
                    else CounterKind.OUTBOUND_SEQ,
                ),
                inbound_right_edge=sa.inbound_right_edge
                + (0 if mutants.active("sadb-inbound-not-jumped") else skip)
                * self.jump(sa, CounterKind.INBOUND_EDGE),
                inbound_bitmap=(
                    sa.inbound_bitmap
                    if mutants.active("sadb-inbound-not-jumped")
                    else self._window_mask
                ),
                bytes_used=(
                    0
                    if mutants.active("sadb-bytes-reset-on-takeover")
                    else sa.bytes_used + skip * self.jump(sa, CounterKind.BYTES)
                ),
                expiry_ms=(
                    sa.expiry_ms + self._grace_ms
                    if mutants.active("sadb-lifetime-extended")
                    else sa.expiry_ms
                ),
                outbound_sync=_NO_SYNC,
                inbound_sync=_NO_SYNC,
                bytes_sync=_NO_SYNC,
                standby_refusal=None,
                rekey_needed=False,
            )
            self._ipsec[sa.sa_id] = jumped
            if jumped.spent:
                self._remove_ipsec(jumped, now, tombstone=True)
                self._count["expired"] += 1
                expired.append(sa.sa_id)
                continue
            if jumped.outbound_seq >= SEQ_MAX or jumped.inbound_right_edge >= SEQ_MAX:
                self._flag_rekey(sa.sa_id)
            promoted.append(sa.sa_id)
        promoted_ike: list[int] = []
        discarded_ike: list[int] = []
        for ike in list(self._ike.values()):
            if not (recent and self.promotable(ike, now)):
                del self._ike[ike.sa_id]
                self._keep_remnant(Doi.IKE, ike.sa_id, ike.expiry_ms, _ike_values(ike))
                discarded_ike.append(ike.sa_id)
                continue
            self._ike[ike.sa_id] = replace(
                ike,
                status=HaStatus.ACTIVE,
                stale=False,
                dpd_out=ike.dpd_out + (0 if mutants.active("ike-dpd-no-jump") else DPD_JUMP),
                dpd_out_sync=_NO_SYNC,
                dpd_in_sync=_NO_SYNC,
            )
            promoted_ike.append(ike.sa_id)
        self._count["promoted"] += len(promoted) + len(promoted_ike)
        self._count["discarded_at_takeover"] += len(discarded) + len(discarded_ike)
        return TakeoverReport(
            promoted_ipsec=tuple(promoted),
            promoted_ike=tuple(promoted_ike),
            discarded_ipsec=tuple(discarded),
            discarded_ike=tuple(discarded_ike),
            expired_ipsec=tuple(expired),
        )

    def leave_active(self, now: int) -> None:
        """This router is no longer ACTIVE: every SA becomes a stale copy.

        When connected, its counters are announced (queued for ``messages_to_send``);
        the glue sends its ROLE message after them.
        """
        self._begin_change()
        if not self._active:
            return
        self._generation += 1
        self._active = False
        self._awaiting_peer = False
        self._replicating = False
        self._announced.clear()
        self._sent.clear()
        self._last_add_seq.clear()
        for sa in self._ipsec.values():
            self._ipsec[sa.sa_id] = replace(
                sa,
                status=HaStatus.STANDBY,
                stale=True,
                outbound_sync=_NO_SYNC,
                inbound_sync=_NO_SYNC,
                bytes_sync=_NO_SYNC,
                standby_refusal=None,
            )
        for ike in self._ike.values():
            self._ike[ike.sa_id] = replace(
                ike,
                status=HaStatus.STANDBY,
                stale=True,
                dpd_out_sync=_NO_SYNC,
                dpd_in_sync=_NO_SYNC,
            )
        self._queue_announcements()

    # --- SSP connection ----------------------------------------------------------------

    def ssp_connected(self, now: int, *, peer_incarnation: int | None = None) -> None:
        """A new SSP connection is established: every copy becomes stale.

        A non-ACTIVE router queues the announcement of its counters; the glue sends its
        ROLE message after them. The full copy waits for the other end's ROLE.
        ``peer_incarnation`` is the number the other end drew at boot (from its HELLO);
        None = unknown, and then an SA it does not announce is taken as forgotten.
        """
        self._begin_change()
        self._connected = True
        self._peer_incarnation = peer_incarnation
        self.ssp_heard(now)
        self._reset_connection()
        for sa in self._ipsec.values():
            if sa.status is HaStatus.STANDBY and not sa.stale:
                self._ipsec[sa.sa_id] = replace(sa, stale=True)
        for ike in self._ike.values():
            if ike.status is HaStatus.STANDBY and not ike.stale:
                self._ike[ike.sa_id] = replace(ike, stale=True)
        self._queue_announcements()

    def ssp_disconnected(self, now: int) -> None:
        """The SSP connection is gone; floors stay (nothing is lifted by a timeout)."""
        self._begin_change()
        self._connected = False
        self._reset_connection()

    def ssp_heard(self, now: int) -> None:
        """SSP delivered something (any verified frame, keepalives included)."""
        if self._last_heard_ms is None or now > self._last_heard_ms:
            self._last_heard_ms = now

    def request_resync(self, now: int, doi: Doi = Doi.IPSEC) -> None:
        """``clear crypto sa|isakmp ha standby resync`` (non-ACTIVE): the copies of ``doi``
        are cleared (their card slots freed) and the active is asked for a full copy.

        A copy kept meanwhile could fall behind (the active resets its floors when it
        answers), and the command's word is "clear": nothing is kept for a takeover to
        promote until the full copy arrives. What each cleared copy counted is kept as a
        remnant and announced, like any dropped SA's: it may be this router's own use as
        a former active (a split brain while SSP was down), which the active must adopt
        before re-seeding its floors (Z3 found the duplicate sequence number without it).
        """
        if self._active:
            raise LocalProtocolError("only a standby asks the active for a resync")
        self._begin_change()
        if doi is Doi.IPSEC:
            for sa in list(self._ipsec.values()):
                if sa.status is HaStatus.STANDBY:
                    self._remove_ipsec(sa, now, tombstone=False)
                    if sa.expiry_ms > now:
                        self._keep_remnant(Doi.IPSEC, sa.sa_id, sa.expiry_ms, _ipsec_values(sa))
            self._degraded_copies = {k for k in self._degraded_copies if k[0] is not Doi.IPSEC}
        elif doi is Doi.IKE:
            for ike in list(self._ike.values()):
                if ike.status is HaStatus.STANDBY:
                    self._remove_ike(ike, now, tombstone=False)
                    if ike.expiry_ms > now:
                        self._keep_remnant(Doi.IKE, ike.sa_id, ike.expiry_ms, _ike_values(ike))
        else:
            raise LocalProtocolError(f"no resync for DOI {int(doi)}")
        self._copies_complete.discard(doi)  # cleared: not synchronised until the answer
        self._queue(ResyncRequest(doi=doi))

    def note_sent(self, message: Message, seq: int) -> None:
        """The glue sent ``message`` as SSP frame ``seq`` (so ACK/REFUSE can be matched)."""
        if isinstance(message, IpsecSaAdd | IkeSaAdd):
            key = (message.doi, message.sa_id)
            self._last_add_seq[key] = seq
            values: tuple[tuple[CounterKind, int], ...] = (
                (
                    (CounterKind.OUTBOUND_SEQ, message.outbound_seq),
                    (CounterKind.INBOUND_EDGE, message.inbound_right_edge),
                    (CounterKind.BYTES, message.bytes_used),
                )
                if isinstance(message, IpsecSaAdd)
                else ((CounterKind.DPD_OUT, _dpd_from_wire(message.dpd_seq_out)),)
            )
            self._sent[seq] = _Sent(doi=message.doi, sa_id=message.sa_id, kind=None, values=values)
        elif isinstance(message, CounterUpdate):
            self._sent[seq] = _Sent(doi=message.doi, sa_id=message.sa_id, kind=message.kind)
        elif isinstance(message, SaDelete):
            self._sent[seq] = _Sent(doi=message.doi, sa_id=message.sa_id, kind=None)

    def messages_pending(self) -> bool:
        """Whether ``messages_to_send`` would do anything now (False: it would return an
        empty list and change nothing). The data path asks after each packet."""
        return bool(self._outbox) or bool(
            self._moved and self._connected and self._active and self._replicating
        )

    def messages_to_send(self) -> list[Message]:
        """Everything queued for the other end, then the counter updates now due."""
        if self._moved and self._connected and self._active and self._replicating:
            self._begin_change()
            self._queue_updates()
        out, self._outbox = self._outbox, []
        return out

    def handle_ssp_message(self, message: Message, seq: int, now: int) -> None:
        """A message from the other end, frame sequence number ``seq`` (quoted in replies)."""
        self.ssp_heard(now)
        if message.TYPE in IGNORED_MESSAGES:
            return
        self._begin_change()
        handler = _MESSAGE_RULES[(self._active, message.TYPE)]
        handler(self, message, seq, now)

    # --- message handlers (see _MESSAGE_RULES) ------------------------------------------

    def _on_role(self, message: Message, seq: int, now: int) -> None:
        assert isinstance(message, RoleChange)
        previous = self._peer_role
        self._peer_role = message.role
        if message.role is DeviceRole.ACTIVE and previous is not DeviceRole.ACTIVE:
            self._copies_complete.clear()  # it sends a new full copy once it hears from us
        if not self._active:
            return
        if message.role is DeviceRole.ACTIVE:
            # Split brain: the other end may hold promoted copies. Stop replicating;
            # keep every floor (it is what keeps us behind its jump).
            self._replicating = False
            return
        if previous is None or previous is DeviceRole.ACTIVE or self._awaiting_peer:
            self._awaiting_peer = False
            self._send_full_copy(now, (Doi.IPSEC, Doi.IKE), resync=False)

    def _on_ipsec_add(self, message: Message, seq: int, now: int) -> None:
        assert isinstance(message, IpsecSaAdd)
        spis = (message.inbound_spi, message.outbound_spi)
        bulk = self._bulk_adds.get(Doi.IPSEC)
        if bulk is not None:
            self._bulk_adds[Doi.IPSEC] = bulk + 1
        if spis in self._tombstones_ipsec:
            self._refuse(message, seq, "SA was deleted here")
            return
        if message.lifetime_expiry_ms <= now:
            self._refuse(message, seq, "SA has expired")
            return
        bitmap = int.from_bytes(message.inbound_bitmap, "big") & self._window_mask
        existing = self._ipsec.get(message.sa_id)
        if existing is not None and (existing.inbound_spi, existing.outbound_spi) == spis:
            copy = replace(
                existing,
                expiry_ms=message.lifetime_expiry_ms,
                lifetime_kilobytes=message.lifetime_kilobytes,
                outbound_seq=max(existing.outbound_seq, message.outbound_seq),
                bytes_used=max(existing.bytes_used, message.bytes_used),
                stale=False,
            )
            if message.inbound_right_edge >= existing.inbound_right_edge:
                copy = replace(
                    copy, inbound_right_edge=message.inbound_right_edge, inbound_bitmap=bitmap
                )
        else:
            if existing is not None:
                self._remove_ipsec(existing, now, tombstone=False)
            refusal = (
                None
                if mutants.active("vam-standby-not-counted")
                else self._engine.try_install(message.sa_id, message.transforms)
            )
            if refusal is not None:
                self._degraded_copies.add((Doi.IPSEC, message.sa_id))
                self._refuse(message, seq, refusal.reason)
                return
            copy = IpsecSaPair(
                sa_id=message.sa_id,
                peer=message.peer,
                crypto_map=message.crypto_map,
                crypto_map_seq=message.crypto_map_seq,
                local_proxy=message.local_proxy,
                remote_proxy=message.remote_proxy,
                inbound_spi=message.inbound_spi,
                outbound_spi=message.outbound_spi,
                transforms=message.transforms,
                inbound_encryption_key=message.inbound_encryption_key,
                outbound_encryption_key=message.outbound_encryption_key,
                inbound_integrity_key=message.inbound_integrity_key,
                outbound_integrity_key=message.outbound_integrity_key,
                expiry_ms=message.lifetime_expiry_ms,
                lifetime_kilobytes=message.lifetime_kilobytes,
                outbound_seq=message.outbound_seq,
                inbound_right_edge=message.inbound_right_edge,
                inbound_bitmap=bitmap,
                bytes_used=message.bytes_used,
                status=HaStatus.STANDBY,
            )
            # A copy never goes below what this router remembers of the SA (its own use
            # as a former active, say). Safe for the sender: it takes no floor from an
            # add's ACK, and adopts our use from our announcement before it can reach it.
            remnant = self._remnants.get((Doi.IPSEC, copy.sa_id))
            if remnant is not None:
                for kind, value in remnant.values.items():
                    copy = self._raise_ipsec(copy, kind, value)
        self._ipsec[copy.sa_id] = copy
        self._generation += 1
        self._degraded_copies.discard((Doi.IPSEC, copy.sa_id))
        self._note_spent(copy, now)
        self._count["copies_applied"] += 1
        self._ack(message.doi, seq, copy.outbound_seq)

    def _on_ike_add(self, message: Message, seq: int, now: int) -> None:
        assert isinstance(message, IkeSaAdd)
        cookies = (message.initiator_cookie, message.responder_cookie)
        bulk = self._bulk_adds.get(Doi.IKE)
        if bulk is not None:
            self._bulk_adds[Doi.IKE] = bulk + 1
        if cookies in self._tombstones_ike:
            self._refuse(message, seq, "SA was deleted here")
            return
        if message.lifetime_expiry_ms <= now:
            self._refuse(message, seq, "SA has expired")
            return
        dpd_out = _dpd_from_wire(message.dpd_seq_out)
        existing = self._ike.get(message.sa_id)
        if existing is not None and existing.cookies == cookies:
            dpd_out = max(dpd_out, existing.dpd_out)
            dpd_in = max(message.dpd_seq_in, existing.dpd_in)
        else:
            dpd_in = message.dpd_seq_in
        remnant = self._remnants.get((Doi.IKE, message.sa_id))
        if remnant is not None:  # never below what a cleared copy counted (own use)
            dpd_out = max(dpd_out, remnant.values.get(CounterKind.DPD_OUT, 0))
        copy = IkeSa(
            sa_id=message.sa_id,
            initiator_cookie=message.initiator_cookie,
            responder_cookie=message.responder_cookie,
            is_initiator=message.is_initiator,
            encryption=message.encryption,
            hash_algorithm=message.hash_algorithm,
            authentication=message.authentication,
            dh_group=message.dh_group,
            skeyid_d=message.skeyid_d,
            skeyid_a=message.skeyid_a,
            skeyid_e=message.skeyid_e,
            last_phase1_cbc_block=(
                b""
                if mutants.active("ike-phase1-iv-not-replicated")
                else message.last_phase1_cbc_block
            ),
            message_ids=message.message_ids,
            dpd_out=dpd_out,
            dpd_in=dpd_in,
            expiry_ms=message.lifetime_expiry_ms,
            peer=message.peer,
            local_port=message.local_port,
            peer_port=message.peer_port,
            status=HaStatus.STANDBY,
        )
        self._ike[copy.sa_id] = copy
        self._count["copies_applied"] += 1
        self._ack(message.doi, seq, _dpd_to_wire(copy.dpd_out))

    def _on_delete(self, message: Message, seq: int, now: int) -> None:
        assert isinstance(message, SaDelete)
        self._degraded_copies.discard((message.doi, message.sa_id))
        if message.doi is Doi.IPSEC:
            sa = self._ipsec.get(message.sa_id)
            if sa is not None:
                self._remove_ipsec(sa, now, tombstone=True)
                self._count["deleted"] += 1
        else:
            ike = self._ike.get(message.sa_id)
            if ike is not None:
                self._remove_ike(ike, now, tombstone=True)
                self._count["deleted"] += 1
        self._ack(message.doi, seq, 0)

    def _on_counter_update(self, message: Message, seq: int, now: int) -> None:
        assert isinstance(message, CounterUpdate)
        kind = message.kind
        value = _from_wire(kind, message.value)
        if message.doi is Doi.IPSEC:
            sa = self._ipsec.get(message.sa_id)
            if sa is None:
                self._refuse(message, seq, f"no copy of IPsec SA {message.sa_id}")
                return
            sa = self._raise_ipsec(sa, kind, value)
            self._ipsec[sa.sa_id] = sa
            self._note_spent(sa, now)
            applied = _ipsec_value(sa, kind)
        else:
            ike = self._ike.get(message.sa_id)
            if ike is None:
                self._refuse(message, seq, f"no copy of IKE SA {message.sa_id}")
                return
            ike = self._raise_ike(ike, kind, value)
            self._ike[ike.sa_id] = ike
            applied = value if kind is CounterKind.MESSAGE_ID else _ike_value(ike, kind)
        self._count["updates_applied"] += 1
        self._ack(message.doi, seq, _to_wire(kind, applied))

    def _on_ack_as_active(self, message: Message, seq: int, now: int) -> None:
        assert isinstance(message, Ack)
        sent = self._match_reply(message.acked_seq)
        if sent is None:
            return
        if sent.kind is None:
            for kind, value in sent.values:  # an add's ACK: the copy holds what it carried
                self._raise_floor(sent.doi, sent.sa_id, kind, value)
            return
        value = _from_wire(sent.kind, message.applied_value)
        if sent.doi is Doi.IPSEC:
            sa = self._ipsec.get(sent.sa_id)
            if sa is None or sa.status is not HaStatus.ACTIVE:
                return
            sync = _ipsec_sync(sa, sent.kind)
            if sync.floor is not None:
                new = replace(sync, floor=max(sync.floor, value))
                self._ipsec[sa.sa_id] = _with_ipsec_sync(sa, sent.kind, new)
        else:
            ike = self._ike.get(sent.sa_id)
            if ike is None or ike.status is not HaStatus.ACTIVE:
                return
            if sent.kind is CounterKind.DPD_OUT and ike.dpd_out_sync.floor is not None:
                sync = replace(ike.dpd_out_sync, floor=max(ike.dpd_out_sync.floor, value))
                self._ike[ike.sa_id] = replace(ike, dpd_out_sync=sync)

    def _raise_floor(self, doi: Doi, sa_id: int, kind: CounterKind, value: int) -> None:
        """Raise the floor of one counter of an ACTIVE SA that has one to ``value``."""
        if doi is Doi.IPSEC:
            sa = self._ipsec.get(sa_id)
            if sa is None or sa.status is not HaStatus.ACTIVE:
                return
            sync = _ipsec_sync(sa, kind)
            if sync.floor is not None and value > sync.floor:
                self._ipsec[sa_id] = _with_ipsec_sync(sa, kind, replace(sync, floor=value))
            return
        ike = self._ike.get(sa_id)
        if ike is None or ike.status is not HaStatus.ACTIVE or kind is not CounterKind.DPD_OUT:
            return
        floor = ike.dpd_out_sync.floor
        if floor is not None and value > floor:
            self._ike[sa_id] = replace(ike, dpd_out_sync=replace(ike.dpd_out_sync, floor=value))

    def _on_reply_as_standby(self, message: Message, seq: int, now: int) -> None:
        # Answers to our announcements; a REFUSE means the other end has no copy there,
        # which changes nothing for a router that is not ACTIVE.
        if isinstance(message, Ack):
            self._match_reply(message.acked_seq)
        elif isinstance(message, Refuse):
            self._match_reply(message.refused_seq)

    def _on_refuse_as_active(self, message: Message, seq: int, now: int) -> None:
        assert isinstance(message, Refuse)
        self._match_reply(message.refused_seq)
        key = (message.doi, message.sa_id)
        add_seq = self._last_add_seq.get(key)
        if add_seq is None or message.refused_seq < add_seq:
            return  # about an older add (or one we never sent): the copy may exist now
        if message.doi is Doi.IPSEC:
            sa = self._ipsec.get(message.sa_id)
            if sa is None or sa.status is not HaStatus.ACTIVE:
                return
            self._ipsec[sa.sa_id] = replace(
                sa,
                outbound_sync=_keep_cap(sa.outbound_sync),
                inbound_sync=_keep_cap(sa.inbound_sync),
                bytes_sync=_keep_cap(sa.bytes_sync),
                standby_refusal=message.reason,
            )
        else:
            ike = self._ike.get(message.sa_id)
            if ike is None or ike.status is not HaStatus.ACTIVE:
                return
            self._ike[ike.sa_id] = replace(ike, dpd_out_sync=_NO_SYNC, dpd_in_sync=_NO_SYNC)
        _bump(self._refusals_received, message.reason)

    def _on_resync_request(self, message: Message, seq: int, now: int) -> None:
        self._count["resync_requests"] += 1
        assert isinstance(message, ResyncRequest)
        if self._active and self._replicating:
            self._send_full_copy(now, (message.doi,), resync=True)

    def _on_bulk_begin(self, message: Message, seq: int, now: int) -> None:
        assert isinstance(message, BulkBegin)
        self._degraded_copies = {key for key in self._degraded_copies if key[0] is not message.doi}
        if message.doi is Doi.IPSEC:
            # What a dropped copy counted is kept as a remnant (as ``request_resync`` does)
            # and an add never installs less (``_on_ipsec_add``): this full copy may have
            # been written before this router last took over (a resync's answer queued
            # behind another) and be older than the stale copy holding its own use.
            for sa in list(self._ipsec.values()):
                self._remove_ipsec(sa, now, tombstone=False)
                if sa.expiry_ms > now:
                    self._keep_remnant(Doi.IPSEC, sa.sa_id, sa.expiry_ms, _ipsec_values(sa))
                self._count["copies_dropped_by_bulk"] += 1
        else:
            # The same for IKE copies: a late full copy never lowers DPD_OUT (own use).
            for ike in list(self._ike.values()):
                if ike.expiry_ms > now:
                    self._keep_remnant(Doi.IKE, ike.sa_id, ike.expiry_ms, _ike_values(ike))
            self._count["copies_dropped_by_bulk"] += len(self._ike)
            self._ike.clear()
        self._copies_complete.discard(message.doi)
        self._bulk_adds[message.doi] = 0

    def _on_bulk_end(self, message: Message, seq: int, now: int) -> None:
        assert isinstance(message, BulkEnd)
        received = self._bulk_adds.pop(message.doi, None)
        if received != message.entry_count:
            self._count["bulk_mismatches"] += 1
            return
        self._copies_complete.add(message.doi)

    def _on_refused_as_active(self, message: Message, seq: int, now: int) -> None:
        _bump(self._refused_while_active, message.TYPE)
        if isinstance(message, IpsecSaAdd):
            sa = self._ipsec.get(message.sa_id)
            if sa is not None and (sa.inbound_spi, sa.outbound_spi) == (
                message.inbound_spi,
                message.outbound_spi,
            ):
                self._announce_value(
                    Doi.IPSEC, sa.sa_id, CounterKind.OUTBOUND_SEQ, message.outbound_seq
                )
                self._announce_value(
                    Doi.IPSEC, sa.sa_id, CounterKind.INBOUND_EDGE, message.inbound_right_edge
                )
                self._announce_value(Doi.IPSEC, sa.sa_id, CounterKind.BYTES, message.bytes_used)
        elif isinstance(message, IkeSaAdd):
            ike = self._ike.get(message.sa_id)
            if ike is not None and ike.cookies == (
                message.initiator_cookie,
                message.responder_cookie,
            ):
                dpd_out = _dpd_from_wire(message.dpd_seq_out)
                self._announce_value(Doi.IKE, ike.sa_id, CounterKind.DPD_OUT, dpd_out)
                self._announce_value(Doi.IKE, ike.sa_id, CounterKind.DPD_IN, message.dpd_seq_in)
        elif isinstance(message, CounterUpdate) and message.kind is CounterKind.MESSAGE_ID:
            # The other router accepted a message with this id: a replay is refused here too.
            ike = self._ike.get(message.sa_id)
            if ike is not None and ike.status is HaStatus.ACTIVE:
                self._ike[ike.sa_id] = self._raise_ike(ike, message.kind, message.value)
        elif isinstance(message, CounterUpdate):
            value = _from_wire(message.kind, message.value)
            self._announce_value(message.doi, message.sa_id, message.kind, value)

    # --- internals ---------------------------------------------------------------------

    def _require_active(self, what: str) -> None:
        if not self._active:
            raise LocalProtocolError(f"cannot {what}: this router is not ACTIVE")

    def _new_id(self, table: Mapping[int, object]) -> int:
        while True:
            sa_id = self._entropy.randbelow(_ID_SPACE - 1) + 1
            if sa_id not in table:
                return sa_id

    def _ipsec_or_raise(self, sa_id: int) -> IpsecSaPair:
        sa = self._ipsec.get(sa_id)
        if sa is None:
            raise LocalProtocolError(f"no IPsec SA {sa_id}")
        return sa

    def _ike_or_raise(self, sa_id: int) -> IkeSa:
        sa = self._ike.get(sa_id)
        if sa is None:
            raise LocalProtocolError(f"no IKE SA {sa_id}")
        return sa

    def _ssp_recent(self, now: int) -> bool:
        if self._connected:
            return True
        return self._last_heard_ms is not None and now - self._last_heard_ms <= self._grace_ms

    def _flag_rekey(self, sa_id: int) -> None:
        sa = self._ipsec[sa_id]
        if not sa.rekey_needed:
            self._ipsec[sa_id] = replace(sa, rekey_needed=True)
            self._generation += 1  # it carries no more outbound traffic
            self._count["rekey_needed"] += 1

    def _note_spent(self, sa: IpsecSaPair, now: int) -> None:
        if sa.spent and sa.sa_id not in self._spent_at:
            self._spent_at[sa.sa_id] = now
            self._timer_known = False

    def _begin_change(self) -> None:
        """Anything but the per-packet path is about to read or change the records: write
        the traffic counters back, and forget what was derived from the records."""
        if self._traffic:
            self._fold_all()
            self._traffic.clear()
        self._timer_known = False

    def _fold(self, sa_id: int) -> None:
        """Write the traffic counters of ``sa_id`` into its record (they stay in use)."""
        traffic = self._traffic.get(sa_id)
        if traffic is not None and traffic.dirty:
            self._ipsec[sa_id] = replace(
                self._ipsec[sa_id],
                outbound_seq=traffic.outbound_seq,
                inbound_right_edge=traffic.inbound_right_edge,
                inbound_bitmap=traffic.inbound_bitmap,
                bytes_used=traffic.bytes_used,
            )
            traffic.dirty = False

    def _fold_all(self) -> None:
        for sa_id in self._traffic:
            self._fold(sa_id)

    def _start_traffic(self, sa_id: int) -> _Traffic | None:
        """The per-packet state of ``sa_id`` from its record; None unless it is ACTIVE."""
        sa = self._ipsec.get(sa_id)
        if sa is None or sa.status is not HaStatus.ACTIVE:
            return None
        out_limit = self.limit(sa, CounterKind.OUTBOUND_SEQ)
        in_limit = self.limit(sa, CounterKind.INBOUND_EDGE)
        bytes_limit = self.limit(sa, CounterKind.BYTES)
        traffic = _Traffic(
            outbound_seq=sa.outbound_seq,
            inbound_right_edge=sa.inbound_right_edge,
            inbound_bitmap=sa.inbound_bitmap,
            bytes_used=sa.bytes_used,
            outbound_stop=min(SEQ_MAX - 1, _UNBOUNDED if out_limit is None else out_limit),
            inbound_stop=min(SEQ_MAX, _UNBOUNDED if in_limit is None else in_limit),
            bytes_stop=min(
                sa.lifetime_bytes - 1, _UNBOUNDED if bytes_limit is None else bytes_limit
            ),
            outbound_due=self._update_due(sa, CounterKind.OUTBOUND_SEQ),
            inbound_due=self._update_due(sa, CounterKind.INBOUND_EDGE),
            bytes_due=self._update_due(sa, CounterKind.BYTES),
            # These seeded bugs live on the full path (inbound_check, accept_inbound):
            # with one on, every inbound packet takes it.
            plain_inbound=not (
                mutants.active("esp-window-before-icv")
                or mutants.active("sadb-inbound-bytes-not-counted")
            ),
        )
        self._traffic[sa_id] = traffic
        return traffic

    def _update_due(self, sa: IpsecSaPair, kind: CounterKind) -> int:
        """The value of ``kind`` at which ``_queue_ipsec_updates`` sends a COUNTER_UPDATE."""
        sync = _ipsec_sync(sa, kind)
        jump = self.jump(sa, kind)
        if sync.last_sent is None or (kind is CounterKind.INBOUND_EDGE and jump == 0):
            return _UNBOUNDED
        return sync.last_sent + max(1, _ceil_half(jump))

    def _outbound_allowance(
        self, sa: IpsecSaPair, packets: int, size: int
    ) -> tuple[int, TrafficVerdict | None]:
        if packets < 0 or size < 0:
            raise LocalProtocolError(f"packets {packets} and size {size} must be >= 0")
        if sa.status is not HaStatus.ACTIVE:
            return 0, TrafficVerdict.NOT_ACTIVE
        if sa.spent:
            return 0, TrafficVerdict.LIFETIME
        granted, reason = packets, None
        caps: list[tuple[int, TrafficVerdict]] = [
            (max(0, SEQ_MAX - sa.outbound_seq), TrafficVerdict.REKEY_NEEDED)
        ]
        out_limit = self.limit(sa, CounterKind.OUTBOUND_SEQ)
        if out_limit is not None:
            caps.append((max(0, out_limit - sa.outbound_seq), TrafficVerdict.HELD_BACK))
        if size > 0:
            bytes_limit = self.limit(sa, CounterKind.BYTES)
            if bytes_limit is not None:
                room = max(0, bytes_limit - sa.bytes_used)
                caps.append((room // size, TrafficVerdict.HELD_BACK_BYTES))
            # Packets may start while the count is below the lifetime.
            caps.append((-(-(sa.lifetime_bytes - sa.bytes_used) // size), TrafficVerdict.LIFETIME))
        for cap, why in caps:
            if cap < granted:
                granted, reason = cap, why
        return granted, reason

    def _inbound_verdict(self, sa: IpsecSaPair, seq: int, size: int) -> TrafficVerdict:
        if sa.status is not HaStatus.ACTIVE:
            return TrafficVerdict.NOT_ACTIVE
        if not 1 <= seq <= SEQ_MAX:
            return TrafficVerdict.INVALID_SEQUENCE
        edge = sa.inbound_right_edge
        if seq <= edge:
            offset = edge - seq
            limit = self._window + (1 if mutants.active("esp-window-left-edge-off-by-one") else 0)
            if offset >= limit:
                return TrafficVerdict.TOO_OLD
            if (sa.inbound_bitmap >> offset) & 1:
                return TrafficVerdict.REPLAY
        if sa.spent:
            return TrafficVerdict.LIFETIME
        in_limit = self.limit(sa, CounterKind.INBOUND_EDGE)
        if in_limit is not None and seq > in_limit:
            return TrafficVerdict.HELD_BACK
        bytes_limit = self.limit(sa, CounterKind.BYTES)
        if bytes_limit is not None and sa.bytes_used + size > bytes_limit:
            return TrafficVerdict.HELD_BACK_BYTES
        return _ACCEPTED

    def _raise_ipsec(self, sa: IpsecSaPair, kind: CounterKind, value: int) -> IpsecSaPair:
        if kind is CounterKind.OUTBOUND_SEQ:
            return replace(sa, outbound_seq=max(sa.outbound_seq, value))
        if kind is CounterKind.BYTES:
            return replace(sa, bytes_used=max(sa.bytes_used, value))
        if kind is CounterKind.INBOUND_EDGE:
            if value <= sa.inbound_right_edge:
                return sa
            edge, bitmap = _advance_window(
                sa.inbound_right_edge, sa.inbound_bitmap, value, self._window_mask, self._window
            )
            return replace(sa, inbound_right_edge=edge, inbound_bitmap=bitmap)
        return sa  # an IKE counter named under DOI 1 cannot decode; nothing to raise

    @staticmethod
    def _raise_ike(sa: IkeSa, kind: CounterKind, value: int) -> IkeSa:
        if kind is CounterKind.DPD_OUT:
            return replace(sa, dpd_out=max(sa.dpd_out, value))
        if kind is CounterKind.DPD_IN:
            return replace(sa, dpd_in=max(sa.dpd_in, value))
        if kind is CounterKind.MESSAGE_ID and value not in sa.message_ids:
            return replace(sa, message_ids=_remember(sa.message_ids, value))
        return sa

    def _remove_ipsec(self, sa: IpsecSaPair, now: int, *, tombstone: bool) -> None:
        del self._ipsec[sa.sa_id]
        self._generation += 1
        self._engine.remove(sa.sa_id)
        self._spent_at.pop(sa.sa_id, None)
        if tombstone and sa.expiry_ms > now:
            self._tombstones_ipsec[(sa.inbound_spi, sa.outbound_spi)] = sa.expiry_ms
            self._keep_remnant(Doi.IPSEC, sa.sa_id, sa.expiry_ms, _ipsec_values(sa))
        if (
            sa.status is HaStatus.ACTIVE
            and self._replicating
            and not mutants.active("ssp-delete-not-replicated")
        ):
            self._queue(SaDelete(doi=Doi.IPSEC, sa_id=sa.sa_id))
            self._count["deletes_sent"] += 1

    def _remove_ike(self, sa: IkeSa, now: int, *, tombstone: bool) -> None:
        del self._ike[sa.sa_id]
        self._pending_mids.pop(sa.sa_id, None)
        if tombstone and sa.expiry_ms > now:
            self._tombstones_ike[sa.cookies] = sa.expiry_ms
            self._keep_remnant(Doi.IKE, sa.sa_id, sa.expiry_ms, _ike_values(sa))
        if sa.status is HaStatus.ACTIVE and self._replicating:
            self._queue(SaDelete(doi=Doi.IKE, sa_id=sa.sa_id))
            self._count["deletes_sent"] += 1

    def _reset_connection(self) -> None:
        self._peer_role = None
        self._replicating = False
        self._outbox.clear()
        self._sent.clear()
        self._last_add_seq.clear()
        self._bulk_adds.clear()
        self._copies_complete.clear()

    def _queue(self, message: Message) -> None:
        if self._connected:
            self._outbox.append(message)

    def _ack(self, doi: Doi, seq: int, applied: int) -> None:
        self._queue(Ack(doi=doi, acked_seq=seq, applied_value=applied))

    def _refuse(
        self, message: IpsecSaAdd | IkeSaAdd | CounterUpdate, seq: int, reason: str
    ) -> None:
        _bump(self._refusals_sent, reason)
        self._queue(Refuse(doi=message.doi, refused_seq=seq, sa_id=message.sa_id, reason=reason))

    def _match_reply(self, seq: int) -> _Sent | None:
        sent = self._sent.pop(seq, None)
        if sent is None:
            self._count["unmatched_replies"] += 1
            return None
        add_seq = self._last_add_seq.get((sent.doi, sent.sa_id))
        if sent.kind is not None and add_seq is not None and seq < add_seq:
            self._count["unmatched_replies"] += 1
            return None  # answers an update from before the latest add
        self._count["replies_received"] += 1
        return sent

    def _announce_value(self, doi: Doi, sa_id: int, kind: CounterKind, value: int) -> None:
        held = (self._ipsec if doi is Doi.IPSEC else self._ike).get(sa_id)
        if held is None or held.status is not HaStatus.ACTIVE:
            return
        key = (doi, sa_id, kind)
        self._announced[key] = max(self._announced.get(key, value), value)

    def _keep_remnant(
        self, doi: Doi, sa_id: int, expiry_ms: int, values: Mapping[CounterKind, int]
    ) -> None:
        key = (doi, sa_id)
        old = self._remnants.get(key)
        if old is not None:
            values = {kind: max(value, old.values.get(kind, 0)) for kind, value in values.items()}
        self._remnants[key] = _Remnant(expiry_ms=expiry_ms, values=MappingProxyType(dict(values)))

    def _queue_announcements(self) -> None:
        """Announce every copy and remnant (non-ACTIVE, connected); see the module doc."""
        if self._active or not self._connected or mutants.active("sadb-no-announce"):
            return
        announced: list[tuple[Doi, int, Mapping[CounterKind, int]]] = [
            (Doi.IPSEC, sa.sa_id, _ipsec_values(sa)) for sa in self.ipsec_sas()
        ]
        announced += [(Doi.IKE, ike.sa_id, _ike_values(ike)) for ike in self.ike_sas()]
        announced += [(doi, sa_id, r.values) for (doi, sa_id), r in sorted(self._remnants.items())]
        for doi, sa_id, values in announced:
            for kind, value in values.items():
                self._queue_update(doi, sa_id, kind, value)
                self._count["announcements_sent"] += 1

    def _queue_update(self, doi: Doi, sa_id: int, kind: CounterKind, value: int) -> None:
        self._queue(CounterUpdate(doi=doi, sa_id=sa_id, kind=kind, value=_to_wire(kind, value)))

    def _adopt_announcements(self, doi: Doi, now: int) -> None:
        """Raise our ACTIVE SAs of ``doi`` to what the other end announced, then forget it."""
        for key, value in list(self._announced.items()):
            announced_doi, sa_id, kind = key
            if announced_doi is not doi:
                continue
            del self._announced[key]
            if doi is Doi.IPSEC:
                sa = self._ipsec.get(sa_id)
                if sa is None or sa.status is not HaStatus.ACTIVE:
                    continue
                if kind is CounterKind.INBOUND_EDGE:
                    if value > sa.inbound_right_edge:
                        sa = replace(sa, inbound_right_edge=value, inbound_bitmap=self._window_mask)
                else:
                    sa = self._raise_ipsec(sa, kind, value)
                if kind in _IPSEC_KINDS:
                    # A floor stays across the full copy that follows, raised only to what
                    # the other end announced (a full copy written before may still land
                    # there below our own value: Z3's I3-reseed).
                    sync = _ipsec_sync(sa, kind)
                    if sync.floor is not None and value > sync.floor:
                        sa = _with_ipsec_sync(sa, kind, replace(sync, floor=value))
                self._ipsec[sa_id] = sa
                if sa.outbound_seq >= SEQ_MAX:
                    self._flag_rekey(sa_id)
                self._note_spent(sa, now)
            else:
                ike = self._ike.get(sa_id)
                if ike is not None and ike.status is HaStatus.ACTIVE:
                    ike = self._raise_ike(ike, kind, value)
                    floor = ike.dpd_out_sync.floor
                    if kind is CounterKind.DPD_OUT and floor is not None and value > floor:
                        ike = replace(ike, dpd_out_sync=replace(ike.dpd_out_sync, floor=value))
                    self._ike[sa_id] = ike

    def _cap_forgotten(self, doi: Doi) -> None:
        """Cap every counter of an ACTIVE SA whose copy the other end was sent (a floor is
        set) but did not announce, when it restarted since (its incarnation changed, or
        is unknown): it forgot the copy and may have promoted and used it in a split
        brain beyond anything we know. Everything it can
        have used is above floor + J, so that stays a permanent limit (sadb rule 6 of the
        model, found by ``test_restart_after_split_brain_use_never_reuses_sequence_numbers``).
        """
        if self._peer_incarnation is not None and self._peer_incarnation == self._floor_incarnation:
            # The other end has not restarted since it was sent these SAs: it announced
            # every copy it holds (and every one it dropped), so an SA it did not
            # announce never reached it (the add was lost with a dead connection), and
            # the full copy may give it one.
            return
        announced = {sa_id for (d, sa_id, _) in self._announced if d is doi}
        if doi is Doi.IPSEC:
            for sa in list(self._ipsec.values()):
                if sa.status is not HaStatus.ACTIVE or sa.sa_id in announced:
                    continue
                if any(
                    sync.floor is not None
                    for sync in (sa.outbound_sync, sa.inbound_sync, sa.bytes_sync)
                ):
                    # A copy made now would be promoted from our values, below numbers the
                    # forgotten copy may have used: never replicate this SA again.
                    self._unreplicated.add((doi, sa.sa_id))
                self._ipsec[sa.sa_id] = replace(
                    sa,
                    outbound_sync=_capped(
                        sa.outbound_sync, self.jump(sa, CounterKind.OUTBOUND_SEQ)
                    ),
                    inbound_sync=_capped(sa.inbound_sync, self.jump(sa, CounterKind.INBOUND_EDGE)),
                    bytes_sync=_capped(sa.bytes_sync, self.jump(sa, CounterKind.BYTES)),
                )
        else:
            for ike in list(self._ike.values()):
                if ike.status is not HaStatus.ACTIVE or ike.sa_id in announced:
                    continue
                self._ike[ike.sa_id] = replace(
                    ike, dpd_out_sync=_capped(ike.dpd_out_sync, DPD_JUMP)
                )

    def _send_full_copy(self, now: int, dois: tuple[Doi, ...], *, resync: bool) -> None:
        """Adopt, then BULK_BEGIN + every ACTIVE SA + BULK_END per DOI. Floors are kept
        (raised by the adoption to what the other end announced; seeded by the adds where
        there is none): a full copy written before this one may still be on its way and
        land below our values (Z3's I3-reseed, and I3-resync-reseed for a resync's answer).
        Only the floors of SAs that are no longer replicated are reset (their caps stay)."""
        self._replicating = True
        self._count["full_copies"] += 1
        for doi in dois:
            if not resync:
                self._cap_forgotten(doi)
        self._floor_incarnation = self._peer_incarnation
        for doi in dois:
            self._adopt_announcements(doi, now)
            if doi is Doi.IPSEC:
                for sa in list(self._ipsec.values()):
                    if (doi, sa.sa_id) not in self._unreplicated:
                        continue
                    self._ipsec[sa.sa_id] = replace(
                        sa,
                        outbound_sync=_keep_cap(sa.outbound_sync),
                        inbound_sync=_keep_cap(sa.inbound_sync),
                        bytes_sync=_keep_cap(sa.bytes_sync),
                    )
                ids = sorted(i for i in self._ipsec if (doi, i) not in self._unreplicated)
                if resync and mutants.active("sadb-resync-drops-last"):
                    ids = ids[:-1]
                self._queue(BulkBegin(doi=doi, entry_count=len(ids), resync=resync))
                for sa_id in ids:
                    self._queue_ipsec_add(sa_id, resync=resync)
            else:
                for ike in list(self._ike.values()):
                    self._ike[ike.sa_id] = replace(ike, dpd_in_sync=_NO_SYNC)
                ids = sorted(self._ike)
                self._queue(BulkBegin(doi=doi, entry_count=len(ids), resync=resync))
                for sa_id in ids:
                    self._queue_ike_add(sa_id)
            self._queue(BulkEnd(doi=doi, entry_count=len(ids)))

    def _queue_ipsec_add(self, sa_id: int, *, resync: bool) -> None:
        sa = self._ipsec[sa_id]
        syncs = {}
        for kind in _IPSEC_KINDS:
            value = _ipsec_value(sa, kind)
            old = _ipsec_sync(sa, kind)
            floor = value if old.floor is None else old.floor
            syncs[kind] = CounterSync(floor=floor, last_sent=value, cap=old.cap)
        sa = replace(
            sa,
            outbound_sync=syncs[CounterKind.OUTBOUND_SEQ],
            inbound_sync=syncs[CounterKind.INBOUND_EDGE],
            bytes_sync=syncs[CounterKind.BYTES],
            standby_refusal=None,
        )
        self._ipsec[sa_id] = sa
        self._count["adds_sent"] += 1
        self._queue(
            IpsecSaAdd(
                sa_id=sa.sa_id,
                peer=sa.peer,
                crypto_map=sa.crypto_map,
                crypto_map_seq=sa.crypto_map_seq,
                local_proxy=sa.local_proxy,
                remote_proxy=sa.remote_proxy,
                inbound_spi=sa.inbound_spi,
                outbound_spi=sa.outbound_spi,
                transforms=sa.transforms,
                inbound_encryption_key=sa.inbound_encryption_key,
                outbound_encryption_key=sa.outbound_encryption_key,
                inbound_integrity_key=sa.inbound_integrity_key,
                outbound_integrity_key=sa.outbound_integrity_key,
                lifetime_expiry_ms=sa.expiry_ms,
                lifetime_kilobytes=sa.lifetime_kilobytes,
                outbound_seq=sa.outbound_seq,
                inbound_right_edge=sa.inbound_right_edge,
                inbound_bitmap=sa.inbound_bitmap.to_bytes(self._window // 8, "big"),
                bytes_used=sa.bytes_used,
                resync=resync,
            )
        )

    def _queue_ike_add(self, sa_id: int) -> None:
        ike = self._ike[sa_id]
        self._pending_mids.pop(sa_id, None)  # the full copy carries them
        wire_out = _dpd_to_wire(ike.dpd_out)
        sent_out = _dpd_from_wire(wire_out)
        floor = sent_out if ike.dpd_out_sync.floor is None else ike.dpd_out_sync.floor
        ike = replace(
            ike,
            dpd_out_sync=CounterSync(floor=floor, last_sent=sent_out, cap=ike.dpd_out_sync.cap),
            dpd_in_sync=CounterSync(last_sent=ike.dpd_in),
        )
        self._ike[sa_id] = ike
        self._count["adds_sent"] += 1
        self._queue(
            IkeSaAdd(
                sa_id=ike.sa_id,
                initiator_cookie=ike.initiator_cookie,
                responder_cookie=ike.responder_cookie,
                is_initiator=ike.is_initiator,
                encryption=ike.encryption,
                hash_algorithm=ike.hash_algorithm,
                authentication=ike.authentication,
                dh_group=ike.dh_group,
                skeyid_d=ike.skeyid_d,
                skeyid_a=ike.skeyid_a,
                skeyid_e=ike.skeyid_e,
                last_phase1_cbc_block=ike.last_phase1_cbc_block,
                message_ids=ike.message_ids,
                dpd_seq_out=wire_out,
                dpd_seq_in=ike.dpd_in,
                lifetime_expiry_ms=ike.expiry_ms,
                peer=ike.peer,
                local_port=ike.local_port,
                peer_port=ike.peer_port,
            )
        )

    def _queue_updates(self) -> None:
        """COUNTER_UPDATEs now due for the SAs whose counters moved since the last call."""
        moved, self._moved = sorted(self._moved), set()
        for doi, sa_id in moved:
            if doi is Doi.IPSEC:
                sa = self._ipsec.get(sa_id)
                if sa is not None and sa.status is HaStatus.ACTIVE:
                    self._queue_ipsec_updates(sa)
            else:
                ike = self._ike.get(sa_id)
                if ike is not None and ike.status is HaStatus.ACTIVE:
                    self._queue_ike_updates(ike)

    def _queue_ipsec_updates(self, sa: IpsecSaPair) -> None:
        changed = sa
        for kind in _IPSEC_KINDS:
            sync = _ipsec_sync(changed, kind)
            jump = self.jump(changed, kind)
            if sync.last_sent is None or (kind is CounterKind.INBOUND_EDGE and jump == 0):
                continue
            value = _ipsec_value(changed, kind)
            if value > sync.last_sent and value - sync.last_sent >= _ceil_half(jump):
                changed = _with_ipsec_sync(changed, kind, replace(sync, last_sent=value))
                self._queue_update(Doi.IPSEC, sa.sa_id, kind, value)
                self._count["updates_sent"] += 1
        self._ipsec[sa.sa_id] = changed

    def _queue_ike_updates(self, ike: IkeSa) -> None:
        out_sync, in_sync = ike.dpd_out_sync, ike.dpd_in_sync
        # J = 1, so every new R-U-THERE number is sent (ceil(1/2) = 1).
        if out_sync.last_sent is not None and ike.dpd_out > out_sync.last_sent:
            out_sync = replace(out_sync, last_sent=ike.dpd_out)
            self._queue_update(Doi.IKE, ike.sa_id, CounterKind.DPD_OUT, ike.dpd_out)
            self._count["updates_sent"] += 1
        if in_sync.last_sent is not None and ike.dpd_in > in_sync.last_sent:
            in_sync = replace(in_sync, last_sent=ike.dpd_in)
            self._queue_update(Doi.IKE, ike.sa_id, CounterKind.DPD_IN, ike.dpd_in)
            self._count["updates_sent"] += 1
        pending = self._pending_mids.pop(ike.sa_id, ())
        if out_sync.last_sent is not None:  # the standby has a copy to add them to
            for message_id in pending:
                self._queue_update(Doi.IKE, ike.sa_id, CounterKind.MESSAGE_ID, message_id)
                self._count["updates_sent"] += 1
        self._ike[ike.sa_id] = replace(ike, dpd_out_sync=out_sync, dpd_in_sync=in_sync)


_R = TypeVar("_R")
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def replace(record: _R, /, **changes: Any) -> _R:
    """``dataclasses.replace`` for this module's records, several times faster.

    The records are frozen slotted dataclasses without ``__post_init__``, so a copy
    with some fields changed is exactly the same object ``dataclasses.replace`` would
    build; this skips its per-call field introspection and keyword re-parsing (it
    runs on every packet). Unknown field names raise ``TypeError`` like the original.
    """
    cls = type(record)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    unknown = changes.keys() - set(names)
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {sorted(unknown)}")
    new = object.__new__(cls)
    setter = object.__setattr__
    for name in names:
        setter(new, name, changes[name] if name in changes else getattr(record, name))
    return new


def _bump(table: dict[_K, int], key: _K, by: int = 1) -> None:
    table[key] = table.get(key, 0) + by


def _ipsec_values(sa: IpsecSaPair) -> dict[CounterKind, int]:
    return {kind: _ipsec_value(sa, kind) for kind in _IPSEC_KINDS}


def _remember(message_ids: tuple[int, ...], message_id: int) -> tuple[int, ...]:
    """``message_ids`` with ``message_id`` added last, the oldest dropped past the bound."""
    return (*message_ids, message_id)[-MESSAGE_ID_MEMORY:]


def _ike_values(sa: IkeSa) -> dict[CounterKind, int]:
    return {kind: _ike_value(sa, kind) for kind in _IKE_KINDS}


def _ipsec_value(sa: IpsecSaPair, kind: CounterKind) -> int:
    if kind is CounterKind.OUTBOUND_SEQ:
        return sa.outbound_seq
    if kind is CounterKind.INBOUND_EDGE:
        return sa.inbound_right_edge
    return sa.bytes_used


def _ike_value(sa: IkeSa, kind: CounterKind) -> int:
    return sa.dpd_out if kind is CounterKind.DPD_OUT else sa.dpd_in


def _ipsec_sync(sa: IpsecSaPair, kind: CounterKind) -> CounterSync:
    if kind is CounterKind.OUTBOUND_SEQ:
        return sa.outbound_sync
    if kind is CounterKind.INBOUND_EDGE:
        return sa.inbound_sync
    return sa.bytes_sync


def _with_ipsec_sync(sa: IpsecSaPair, kind: CounterKind, sync: CounterSync) -> IpsecSaPair:
    if kind is CounterKind.OUTBOUND_SEQ:
        return replace(sa, outbound_sync=sync)
    if kind is CounterKind.INBOUND_EDGE:
        return replace(sa, inbound_sync=sync)
    return replace(sa, bytes_sync=sync)


def _to_wire(kind: CounterKind, value: int) -> int:
    return _dpd_to_wire(value) if kind is CounterKind.DPD_OUT else value


def _from_wire(kind: CounterKind, value: int) -> int:
    return _dpd_from_wire(value) if kind is CounterKind.DPD_OUT else value


IGNORED_MESSAGES: Final = frozenset({MessageType.HELLO, MessageType.KEEPALIVE})
"""Messages of the SSP connection itself: never passed to the database's rules."""

_MESSAGE_RULES: Final[Mapping[tuple[bool, MessageType], _Handler]] = MappingProxyType(
    {
        # (this router ACTIVE?, message type) -> handler; see the module docstring table.
        (False, MessageType.ROLE): SaDatabase._on_role,
        (True, MessageType.ROLE): SaDatabase._on_role,
        (False, MessageType.IPSEC_SA_ADD): SaDatabase._on_ipsec_add,
        (True, MessageType.IPSEC_SA_ADD): SaDatabase._on_refused_as_active,
        (False, MessageType.IKE_SA_ADD): SaDatabase._on_ike_add,
        (True, MessageType.IKE_SA_ADD): SaDatabase._on_refused_as_active,
        (False, MessageType.SA_DELETE): SaDatabase._on_delete,
        (True, MessageType.SA_DELETE): SaDatabase._on_refused_as_active,
        (False, MessageType.COUNTER_UPDATE): SaDatabase._on_counter_update,
        (True, MessageType.COUNTER_UPDATE): SaDatabase._on_refused_as_active,
        (False, MessageType.ACK): SaDatabase._on_reply_as_standby,
        (True, MessageType.ACK): SaDatabase._on_ack_as_active,
        (False, MessageType.REFUSE): SaDatabase._on_reply_as_standby,
        (True, MessageType.REFUSE): SaDatabase._on_refuse_as_active,
        (False, MessageType.RESYNC_REQUEST): SaDatabase._on_resync_request,
        (True, MessageType.RESYNC_REQUEST): SaDatabase._on_resync_request,
        (False, MessageType.BULK_BEGIN): SaDatabase._on_bulk_begin,
        (True, MessageType.BULK_BEGIN): SaDatabase._on_refused_as_active,
        (False, MessageType.BULK_END): SaDatabase._on_bulk_end,
        (True, MessageType.BULK_END): SaDatabase._on_refused_as_active,
    }
)
