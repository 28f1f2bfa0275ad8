"""IKEv1 sans-IO: Main Mode with pre-shared keys, Quick Mode, Informational (DPD, delete).

Theory of operation
-------------------
:class:`IkeEngine` speaks IKEv1 for one router's outside address (the outside
virtual IP). It is fed datagrams (``receive``) and the time (``handle_timer``);
it hands back datagrams (``datagrams_to_send``) and events (``next_event``). It
owns no socket, no clock and no randomness of its own (cookies, nonces, SPIs,
Diffie-Hellman exponents and message ids come from the injected ``Entropy``).

Established IKE SAs do **not** live in the engine. They live in an
:class:`IkeSaStore` — in a router, the SA database, which replicates every IKE SA to
the standby over SSP (cookies, SKEYID_d/a/e, the last phase-1 CBC block, DPD numbers,
lifetime, peer endpoint). The engine looks an SA up by its cookies for every
message that needs it, so after a takeover the new active answers Quick Mode,
DPD and deletes on SAs it never negotiated, from the replicated copy alone. DPD
numbers are drawn through the store (the database jumps DPD_OUT ahead on takeover,
like an ESP counter). Only exchanges in progress stay in the engine; they are not
replicated (a peer retransmits or starts again).

Exchanges (RFC 2409 §5, §5.5, §5.7; RFC 3947; RFC 3706)::

    Main Mode     I: SA, VIDs                       R: SA, VIDs
                  I: KE, Ni, NAT-D, NAT-D           R: KE, Nr, NAT-D, NAT-D
                  I: *IDii, HASH_I [, N]            R: *IDir, HASH_R
    Quick Mode    I: *HASH(1), SA, Ni [, KE] [, IDci, IDcr]
                  R: *HASH(2), SA, Nr [, KE] [, IDci, IDcr]
                  I: *HASH(3)
    Informational *HASH(1), N or D                  (DPD: N(R-U-THERE) / N(R-U-THERE-ACK))

    (* = encrypted)

NAT traversal: when both sides announce RFC 3947 and the NAT-D hashes show an
address translation (strongSwan with kernel-libipsec always claims one), both move
to UDP 4500 from the fifth message on; datagrams on port 4500 carry four zero
octets (the non-ESP marker) before the ISAKMP header, which the engine adds and
strips itself. ESP then travels in UDP 4500 as well (the ``encapsulation`` of
:class:`IpsecSaNegotiated`).

A datagram that is malformed, unauthenticated, for an unknown SA or out of turn is
dropped and counted under its :class:`~vpnha.impl.ike.wire.DropReason`; nothing a
peer sends raises. A repeated request is answered with the repeated response.
"""

from __future__ import annotations

import hmac as _hmac
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Final, Protocol, TypeVar

from vpnha.impl import mutants
from vpnha.impl.config import RouterConfig
from vpnha.impl.config.schema import CryptoMapEntry
from vpnha.impl.dataplane import transform_of
from vpnha.impl.entropy import Entropy
from vpnha.impl.sadb import NewIkeSa, NewIpsecSa

from . import crypto
from .crypto import DhKey, IkeCipher
from .policy import (
    ENCAP_TUNNEL,
    ENCAP_UDP_TUNNEL,
    PROTO_ESP,
    PROTO_ISAKMP,
    EspChoice,
    Phase1Choice,
    acl_proxies,
    id_for_network,
    match_phase1,
    match_phase2,
    network_of_id,
    phase1_transform,
    phase2_transform,
    pre_shared_key,
    proxies_allowed,
)
from .wire import (
    FLAG_ENCRYPTED,
    HEADER_LEN,
    DeletePayload,
    DropReason,
    Exchange,
    HashPayload,
    Header,
    IdPayload,
    IkeDecodeError,
    KePayload,
    NatDPayload,
    NoncePayload,
    NotifyPayload,
    NotifyType,
    Payload,
    Proposal,
    SaPayload,
    VendorIdPayload,
    decode_header,
    decode_payloads,
    encode_header,
    encode_payloads,
)

__all__ = [
    "DPD_VENDOR_ID",
    "IKE_PORT",
    "NAT_T_PORT",
    "NAT_T_VENDOR_ID",
    "Datagram",
    "DpdAnswered",
    "Endpoint",
    "Hints",
    "IkeEngine",
    "IkeEvent",
    "IkeSaRetired",
    "IkeSaStore",
    "IkeSaView",
    "IpsecSaNegotiated",
    "MemoryIkeStore",
    "NegotiationFailed",
    "PeerDeleted",
    "Phase1Established",
]

IKE_PORT: Final = 500
NAT_T_PORT: Final = 4500
NON_ESP_MARKER: Final = bytes(4)
DPD_VENDOR_ID: Final = bytes.fromhex("afcad71368a1f1c96b8696fc77570100")
"""RFC 3706 §7: the DPD vendor ID (14 octets, then major 1, minor 0)."""
NAT_T_VENDOR_ID: Final = bytes.fromhex("4a131c81070358455c5728f20e95452f")
"""RFC 3947 §3.1: MD5 of the string "RFC 3947"."""

_NONCE_OCTETS: Final = 20
_RETRANSMIT_MS: Final = (2_000, 4_000, 8_000, 16_000)
"""Initiator retransmission delays; after the last one the negotiation fails."""
_DONE_KEEP_MS: Final = 30_000
"""How long a finished exchange keeps its last answer for a retransmitted request."""
_DPD_TIMEOUT_MS: Final = 5_000
_SPI_FLOOR: Final = 0x100
DEFAULT_REPLACED_GRACE_MS: Final = 10_000
"""How long an IKE SA replaced by a new one with the same peer (a re-authentication)
lives on before this side deletes it; the peer may still finish exchanges on it."""
_MID_MEMORY: Final = 1024
"""Message ids remembered per IKE SA for the replay check."""

Endpoint = tuple[IPv4Address, int]
"""An address and UDP port."""

_P = TypeVar("_P")
_K = TypeVar("_K")
_X = TypeVar("_X", bound="_Exchange")


# --- outputs ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Datagram:
    """A UDP datagram to send (``payload`` already carries the non-ESP marker on 4500)."""

    src: Endpoint
    dst: Endpoint
    payload: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Phase1Established:
    """An IKE SA reached QM_IDLE (already added to the store)."""

    at_ms: int
    params: NewIkeSa


@dataclass(frozen=True, slots=True, kw_only=True)
class IpsecSaNegotiated:
    """Quick Mode finished: install this SA pair (the engine does not)."""

    at_ms: int
    params: NewIpsecSa
    cookies: tuple[bytes, bytes]
    """The IKE SA it was negotiated under."""
    encapsulation: int
    """1 tunnel (raw ESP), 3 or 61443 ESP in UDP 4500."""
    peer_port: int
    """The peer's UDP port (4500 when encapsulated)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerDeleted:
    """The peer sent an authenticated Delete."""

    at_ms: int
    peer: IPv4Address
    protocol: int
    """1 ISAKMP (``spis`` hold the 16-octet cookies), 3 ESP (4-octet SPIs)."""
    spis: tuple[bytes, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class DpdAnswered:
    """A DPD message: ``acked`` our R-U-THERE was acknowledged, else we acknowledged one."""

    at_ms: int
    cookies: tuple[bytes, bytes]
    seq: int
    acked: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class NegotiationFailed:
    """An exchange this router started got no (valid) answer in time."""

    at_ms: int
    peer: IPv4Address
    exchange: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IkeSaRetired:
    """An IKE SA was removed: replaced by a newer one with the same peer, or expired."""

    at_ms: int
    peer: IPv4Address
    cookies: tuple[bytes, bytes]
    reason: str
    """``replaced`` (a Delete told the peer, after the grace time), ``expired`` (its
    lifetime ended; a Delete told the peer) or ``initial-contact`` (the peer said it
    holds no other SA with us: nothing to tell it)."""


IkeEvent = (
    Phase1Established
    | IpsecSaNegotiated
    | PeerDeleted
    | DpdAnswered
    | NegotiationFailed
    | IkeSaRetired
)


# --- the store of established IKE SAs ----------------------------------------------------


class IkeSaView(Protocol):
    """What the engine reads of an established IKE SA (``NewIkeSa`` and ``IkeSa`` have it)."""

    @property
    def initiator_cookie(self) -> bytes: ...
    @property
    def responder_cookie(self) -> bytes: ...
    @property
    def is_initiator(self) -> bool: ...
    @property
    def encryption(self) -> str: ...
    @property
    def hash_algorithm(self) -> str: ...
    @property
    def skeyid_d(self) -> bytes: ...
    @property
    def skeyid_a(self) -> bytes: ...
    @property
    def skeyid_e(self) -> bytes: ...
    @property
    def last_phase1_cbc_block(self) -> bytes: ...
    @property
    def peer(self) -> IPv4Address: ...
    @property
    def local_port(self) -> int: ...
    @property
    def peer_port(self) -> int: ...
    @property
    def expiry_ms(self) -> int: ...


class IkeSaStore(Protocol):
    """Where established IKE SAs live (a router's SA database; :class:`MemoryIkeStore`)."""

    def ike_by_cookies(self, cookies: tuple[bytes, bytes]) -> IkeSaView | None:
        """The SA if this router may use it now (an ACTIVE one), else None."""
        ...

    def ike_for_peer(self, peer: IPv4Address) -> IkeSaView | None:
        """A usable SA with this peer, the newest first, or None."""
        ...

    def ike_sas_with(self, peer: IPv4Address) -> Sequence[IkeSaView]:
        """Every usable SA with this peer."""
        ...

    def add_ike(self, params: NewIkeSa, now: int) -> bool:
        """Keep (and replicate) a new SA; False when this router may not (not ACTIVE)."""
        ...

    def remove_ike(self, cookies: tuple[bytes, bytes], now: int) -> None:
        """Forget an SA (deleted by the peer or by us)."""
        ...

    def next_dpd_out(self, cookies: tuple[bytes, bytes], now: int) -> int | None:
        """The next own R-U-THERE number, or None while it cannot be bounded."""
        ...

    def accept_dpd_in(self, cookies: tuple[bytes, bytes], seq: int, now: int) -> bool:
        """Record the peer's R-U-THERE number; False refuses it (it went back)."""
        ...

    def note_message_id(self, cookies: tuple[bytes, bytes], message_id: int, now: int) -> bool:
        """Remember a message id the peer used on this SA; False: used before (a replay)."""
        ...

    def message_id_in_use(self, cookies: tuple[bytes, bytes], message_id: int) -> bool:
        """Whether the id is remembered on this SA (so this side does not pick it)."""
        ...


class MemoryIkeStore:
    """A store without replication: a dict, for tests and for a peer that is not a router."""

    def __init__(self) -> None:
        self.sas: dict[tuple[bytes, bytes], NewIkeSa] = {}
        self._dpd_out: dict[tuple[bytes, bytes], int] = {}
        self._dpd_in: dict[tuple[bytes, bytes], int] = {}
        self._mids: dict[tuple[bytes, bytes], deque[int]] = {}

    def ike_by_cookies(self, cookies: tuple[bytes, bytes]) -> IkeSaView | None:
        """The SA with these cookies."""
        return self.sas.get(cookies)

    def ike_for_peer(self, peer: IPv4Address) -> IkeSaView | None:
        """The last SA added for this peer."""
        for sa in reversed(list(self.sas.values())):
            if sa.peer == peer:
                return sa
        return None

    def ike_sas_with(self, peer: IPv4Address) -> list[IkeSaView]:
        """Every SA with this peer."""
        return [sa for sa in self.sas.values() if sa.peer == peer]

    def add_ike(self, params: NewIkeSa, now: int) -> bool:
        """Keep it."""
        key = (params.initiator_cookie, params.responder_cookie)
        self.sas[key] = params
        self._dpd_out[key] = params.dpd_out
        self._dpd_in[key] = params.dpd_in
        self._mids[key] = deque(params.message_ids, maxlen=_MID_MEMORY)
        return True

    def remove_ike(self, cookies: tuple[bytes, bytes], now: int) -> None:
        """Forget it."""
        self.sas.pop(cookies, None)
        self._mids.pop(cookies, None)

    def next_dpd_out(self, cookies: tuple[bytes, bytes], now: int) -> int | None:
        """The last number + 1."""
        if cookies not in self.sas:
            return None
        self._dpd_out[cookies] = (self._dpd_out[cookies] + 1) & 0xFFFF_FFFF
        return self._dpd_out[cookies]

    def accept_dpd_in(self, cookies: tuple[bytes, bytes], seq: int, now: int) -> bool:
        """Accept a number not below the last one accepted."""
        if cookies not in self.sas or seq < self._dpd_in[cookies]:
            return False
        self._dpd_in[cookies] = seq
        return True

    def note_message_id(self, cookies: tuple[bytes, bytes], message_id: int, now: int) -> bool:
        """Remember the id (the newest :data:`_MID_MEMORY`); False when seen before."""
        seen = self._mids.get(cookies)
        if seen is None or message_id in seen:
            return False
        seen.append(message_id)
        return True

    def message_id_in_use(self, cookies: tuple[bytes, bytes], message_id: int) -> bool:
        """Whether the id is remembered."""
        return message_id in self._mids.get(cookies, ())


# --- exchanges in progress ----------------------------------------------------------------


@dataclass(slots=True)
class _Exchange:
    """What every exchange in progress keeps for retransmissions."""

    peer: Endpoint
    local: Endpoint
    is_initiator: bool = False
    last_in: bytes = b""
    """The last request (or answer) received, to spot a retransmission."""
    last_out: bytes = b""
    """The last message sent, resent for a retransmitted request or on timeout."""
    retransmit_at: int | None = None
    tries: int = 0
    done_at: int | None = None
    """When the exchange finished (kept a while to answer retransmissions)."""


@dataclass(slots=True)
class _MainMode(_Exchange):
    cookie_i: bytes = b""
    cookie_r: bytes = b""
    stage: int = 0
    """Messages handled so far (1-6)."""
    sa_i_body: bytes = b""
    choice: Phase1Choice | None = None
    psk: bytes = b""
    dh: DhKey | None = None
    public_i: bytes = b""
    public_r: bytes = b""
    nonce_i: bytes = b""
    nonce_r: bytes = b""
    gxy: bytes = b""
    first_in: bytes = b""
    """A responder's first message, to tell its retransmission from a new negotiation."""
    skeyid: bytes = b""
    skeyid_d: bytes = b""
    skeyid_a: bytes = b""
    skeyid_e: bytes = b""
    key: bytes = b""
    iv: bytes = b""
    peer_nat_t: bool = False
    peer_dpd: bool = False
    nat_detected: bool = False
    then_quick: CryptoMapEntry | None = None
    """Start Quick Mode for this entry once phase 1 is done (initiator)."""


@dataclass(slots=True)
class _QuickMode(_Exchange):
    cookies: tuple[bytes, bytes] = (b"", b"")
    message_id: int = 0
    iv: bytes = b""
    entry: CryptoMapEntry | None = None
    choice: EspChoice | None = None
    nonce_i: bytes = b""
    nonce_r: bytes = b""
    dh: DhKey | None = None
    gxy: bytes = b""
    spi_in: bytes = b""
    spi_out: bytes = b""
    local_proxy: IPv4Network | None = None
    remote_proxy: IPv4Network | None = None
    proposals: tuple[Proposal, ...] = ()
    encapsulation: int = ENCAP_TUNNEL


@dataclass(slots=True)
class Hints:
    """Values a harness hands the engine instead of drawing them (first in, first used).

    The conformance harness draws every nondeterministic choice itself and gives the
    same values to the model and to the implementation (DESIGN §6); these queues are
    how the implementation's IKE takes them. Empty queues: the engine draws.
    """

    cookies: deque[bytes] = field(default_factory=deque)
    """Our next cookies (CKY-I as initiator, CKY-R as responder), 8 octets, not zero."""
    spis: deque[int] = field(default_factory=deque)
    """Our next inbound SPIs, 256 .. 2^32 − 1."""
    dpd_starts: deque[int] = field(default_factory=deque)
    """DPD_OUT of our next IKE SAs (the first R-U-THERE carries this + 1)."""


@dataclass(slots=True)
class _DpdProbe:
    cookies: tuple[bytes, bytes]
    seq: int
    deadline: int


@dataclass(frozen=True, slots=True)
class _Keys:
    """The phase-1 material an encrypted exchange needs, from the store's record."""

    hash: str
    cipher: IkeCipher
    key: bytes
    skeyid_a: bytes
    skeyid_d: bytes
    last_block: bytes


def _keys(sa: IkeSaView) -> _Keys:
    cipher = crypto.cipher_named(sa.encryption)
    return _Keys(
        hash=sa.hash_algorithm,
        cipher=cipher,
        key=crypto.expand_key(sa.hash_algorithm, sa.skeyid_e, cipher.key_length),
        skeyid_a=sa.skeyid_a,
        skeyid_d=sa.skeyid_d,
        last_block=sa.last_phase1_cbc_block,
    )


class _Drop(Exception):  # noqa: N818 (internal control flow, never escapes)
    def __init__(self, reason: DropReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


# --- the engine ------------------------------------------------------------------------------


class IkeEngine:
    """IKEv1 for one local address; see the module docstring."""

    def __init__(
        self,
        config: RouterConfig,
        entropy: Entropy,
        store: IkeSaStore,
        *,
        local_address: IPv4Address,
        replaced_grace_ms: int | None = DEFAULT_REPLACED_GRACE_MS,
    ) -> None:
        self._config = config
        self._replaced_grace_ms = replaced_grace_ms
        self._retire: dict[tuple[bytes, bytes], int] = {}
        """IKE SAs replaced by a newer one with the same peer -> when to delete them."""
        self._entropy = entropy
        self._store = store
        self.local_address = local_address
        self._main: dict[tuple[bytes, bytes], _MainMode] = {}
        """Main Mode exchanges by (CKY-I, CKY-R); a responder's first key has CKY-R zero."""
        self._quick: dict[tuple[bytes, bytes, int], _QuickMode] = {}
        self._dpd: dict[tuple[bytes, bytes], _DpdProbe] = {}
        self._mid_counter = 0
        self._out: deque[Datagram] = deque()
        self._events: deque[IkeEvent] = deque()
        self.drops: Counter[DropReason] = Counter()
        """Datagrams dropped, by reason (``show crypto isakmp`` counters)."""
        self.sent: Counter[str] = Counter()
        """Messages sent, by kind."""
        self.initial_contact = False
        """Say INITIAL-CONTACT in the fifth Main Mode message (this side holds no SA with
        the peer, e.g. after a restart without a standby): the peer drops what it had."""
        self.hints = Hints()
        """Harness-chosen cookies, SPIs and DPD starting numbers (see :class:`Hints`)."""
        self.log: deque[str] = deque(maxlen=256)
        """``debug crypto isakmp ha`` style lines, newest last."""

    # -- surface ------------------------------------------------------------------------

    def datagrams_to_send(self) -> list[Datagram]:
        """Everything queued since the last call."""
        out = list(self._out)
        self._out.clear()
        return out

    def next_event(self) -> IkeEvent | None:
        """The oldest event not yet taken."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> int | None:
        """The next instant ``handle_timer`` has work, or None."""
        if not (self._main or self._quick or self._dpd or self._retire):
            return None  # the usual case between negotiations: asked after every input
        # One pass, no lists: finished exchanges stay for _DONE_KEEP_MS, and this is asked
        # after every input the router takes.
        earliest: int | None = None
        for exchanges in (self._main, self._quick):
            for exchange in exchanges.values():
                if exchange.retransmit_at is not None and (
                    earliest is None or exchange.retransmit_at < earliest
                ):
                    earliest = exchange.retransmit_at
                if exchange.done_at is not None:
                    forget_at = exchange.done_at + _DONE_KEEP_MS
                    if earliest is None or forget_at < earliest:
                        earliest = forget_at
        for probe in self._dpd.values():
            if earliest is None or probe.deadline < earliest:
                earliest = probe.deadline
        for due in self._retire.values():
            if earliest is None or due < earliest:
                earliest = due
        return earliest

    def handle_timer(self, now: int) -> None:
        """Retransmit, give up, and forget finished exchanges whose time has come."""
        self._sweep(self._main, now)
        self._sweep(self._quick, now)
        for cookies, due in list(self._retire.items()):
            if now >= due:
                del self._retire[cookies]
                self._retire_now(cookies, now, reason="replaced")
        for cookies, probe in list(self._dpd.items()):
            if now >= probe.deadline:
                del self._dpd[cookies]
                sa = self._store.ike_by_cookies(cookies)
                self._note(f"DPD R-U-THERE {probe.seq} unanswered")
                if sa is not None:
                    self._events.append(
                        NegotiationFailed(
                            at_ms=now, peer=sa.peer, exchange="dpd", reason="no R-U-THERE-ACK"
                        )
                    )

    def receive(self, payload: bytes, *, src: Endpoint, dst: Endpoint, now: int) -> None:
        """One UDP datagram for port 500 or 4500 (never raises for what a peer sent)."""
        data = payload
        if dst[1] != IKE_PORT:
            if data == b"\xff":
                return  # NAT keepalive (RFC 3948 §2.3)
            if data[:4] != NON_ESP_MARKER:
                self._drop(DropReason.UNEXPECTED, "ESP on the IKE path")
                return
            data = data[4:]
        try:
            header = decode_header(data)
            match header.exchange:
                case Exchange.MAIN:
                    self._main_mode(header, data, src, dst, now)
                case Exchange.QUICK:
                    self._quick_mode(header, data, src, dst, now)
                case Exchange.INFORMATIONAL:
                    self._informational(header, data, src, now)
                case _:
                    raise _Drop(DropReason.UNKNOWN_EXCHANGE, f"exchange {header.exchange}")
        except IkeDecodeError as error:
            self._drop(error.reason, str(error))
        except _Drop as error:
            self._drop(error.reason, str(error))

    def initiate(self, peer: IPv4Address, now: int) -> bool:
        """Negotiate an SA pair with this crypto map peer: Quick Mode, after Main Mode if needed.

        False when no crypto map entry names the peer or a negotiation is under way.
        """
        entry = self._entry_for(peer)
        if entry is None:
            return False
        sa = self._store.ike_for_peer(peer)
        if sa is not None:  # even while a Main Mode replaces it
            return self._start_quick(sa, entry, now)
        if any(x.peer[0] == peer and x.done_at is None for x in self._main.values()):
            return False
        self._start_main(peer, entry, now)
        return True

    def start_main_mode(self, peer: IPv4Address, now: int, *, then_quick: bool = True) -> bool:
        """Negotiate a new IKE SA with this crypto map peer, then (``then_quick``) an SA
        pair under it; without, the IKE SA alone (it replaces one whose lifetime ends)."""
        entry = self._entry_for(peer)
        if entry is None:
            return False
        self._start_main(peer, entry, now, then_quick=then_quick)
        return True

    def start_quick_mode(self, cookies: tuple[bytes, bytes], now: int) -> bool:
        """Negotiate an SA pair under this established IKE SA (a phase-2 rekey)."""
        sa = self._store.ike_by_cookies(cookies)
        entry = self._entry_for(sa.peer) if sa is not None else None
        if sa is None or entry is None:
            return False
        return self._start_quick(sa, entry, now)

    def forget(self, cookies: tuple[bytes, bytes]) -> None:
        """Drop every exchange and memory of the IKE SA with these cookies (not the store's
        record): its cookies may be negotiated again (a harness that chooses them does)."""
        for key in [k for k, x in self._main.items() if x.cookie_i == cookies[0]]:
            del self._main[key]
        for qkey in [k for k in self._quick if k[:2] == cookies]:
            del self._quick[qkey]
        self._dpd.pop(cookies, None)

    def send_dpd(self, cookies: tuple[bytes, bytes], now: int) -> bool:
        """Send R-U-THERE on this SA (False: no such SA, or no number may be used yet).

        Each probe takes a new number (RFC 3706 §5.5: a retransmission is a new
        R-U-THERE); one still unanswered is given up for the new one.
        """
        sa = self._store.ike_by_cookies(cookies)
        if sa is None:
            return False
        seq = self._store.next_dpd_out(cookies, now)
        if seq is None:
            return False
        self._dpd[cookies] = _DpdProbe(cookies, seq, now + _DPD_TIMEOUT_MS)
        notify = NotifyPayload(
            notify_type=NotifyType.R_U_THERE,
            protocol=PROTO_ISAKMP,
            spi=cookies[0] + cookies[1],
            data=seq.to_bytes(4, "big"),
        )
        self._send_informational(sa, notify, now)
        self.sent["dpd"] += 1
        return True

    def retire_replaced(self, peers: Iterable[IPv4Address], now: int) -> None:
        """After a takeover: of the IKE SAs with each of ``peers``, all but the newest (the
        one that lives longest) are retired, with a Delete, after the grace time from now.

        A re-authentication's grace timers ran in the other router's engine and are not
        replicated; without this the replaced IKE SA outlives the takeover until it
        expires, on both routers and (REKEYING) on the peer.
        """
        if self._replaced_grace_ms is None:
            return
        for peer in set(peers):
            sas = self._store.ike_sas_with(peer)
            if len(sas) < 2:
                continue
            newest = max(sas, key=lambda sa: sa.expiry_ms)
            keep = (newest.initiator_cookie, newest.responder_cookie)
            for sa in sas:
                cookies = (sa.initiator_cookie, sa.responder_cookie)
                if cookies != keep and cookies not in self._retire:
                    self._retire[cookies] = now + self._replaced_grace_ms

    def send_delete(
        self, protocol: int, spis: tuple[bytes, ...], peer: IPv4Address, now: int
    ) -> bool:
        """Tell the peer these SAs are gone (ESP SPIs, or an IKE SA's cookies)."""
        sa = self._store.ike_for_peer(peer)
        if sa is None or not spis:
            return False
        self._send_informational(sa, DeletePayload(protocol=protocol, spis=spis), now)
        self.sent["delete"] += 1
        return True

    # -- helpers --------------------------------------------------------------------------

    def _drop(self, reason: DropReason, detail: str) -> None:
        self.drops[reason] += 1
        self._note(f"drop {reason.value}: {detail}")

    def _note(self, text: str) -> None:
        self.log.append(text)

    def _entry_for(self, peer: IPv4Address) -> CryptoMapEntry | None:
        # The HSRP interface with a crypto map; a peer without HSRP has it on a plain one.
        outside = self._config.outside_interface() or next(
            (i for i in self._config.interfaces if i.crypto_map is not None), None
        )
        name = outside.crypto_map if outside is not None else None
        for entry in self._config.crypto_map(name or ""):
            if peer in entry.peers:
                return entry
        return None

    def _emit(self, local: Endpoint, peer: Endpoint, message: bytes) -> None:
        marker = NON_ESP_MARKER if NAT_T_PORT in (local[1], peer[1]) else b""
        self._out.append(Datagram(src=local, dst=peer, payload=marker + message))

    def _message(
        self,
        cookies: tuple[bytes, bytes],
        exchange: int,
        message_id: int,
        payloads: list[Payload],
        *,
        encrypt: tuple[IkeCipher, bytes, bytes] | None = None,
    ) -> tuple[bytes, bytes]:
        """The message octets and, when encrypted, its last ciphertext block."""
        first, chain = encode_payloads(payloads)
        flags = 0
        if encrypt is not None:
            cipher, key, iv = encrypt
            chain = cipher.encrypt(key, iv, chain)
            flags = FLAG_ENCRYPTED
        header = Header(
            initiator_cookie=cookies[0],
            responder_cookie=cookies[1],
            next_payload=first,
            exchange=exchange,
            flags=flags,
            message_id=message_id,
            length=HEADER_LEN + len(chain),
        )
        last = chain[-encrypt[0].block :] if encrypt is not None else b""
        return encode_header(header) + chain, last

    def _open(
        self, header: Header, data: bytes, cipher: IkeCipher, key: bytes, iv: bytes
    ) -> tuple[tuple[Payload, ...], bytes]:
        """Decrypt and decode an encrypted message; returns the payloads and the last block."""
        if not header.encrypted:
            raise _Drop(DropReason.NOT_ENCRYPTED, f"exchange {header.exchange} in the clear")
        body = data[HEADER_LEN:]
        plain = cipher.decrypt(key, iv, body)
        if plain is None:
            raise _Drop(DropReason.DECRYPT_FAILED, f"ciphertext length {len(body)}")
        try:
            payloads = decode_payloads(plain, header.next_payload)
        except IkeDecodeError as error:
            raise _Drop(DropReason.DECRYPT_FAILED, f"garbage after decryption ({error})") from None
        return payloads, body[-cipher.block :]

    def _new_message_id(self, cookies: tuple[bytes, bytes]) -> int:
        if mutants.active("ike-message-id-counter"):
            self._mid_counter += 1
            return self._mid_counter
        while True:
            message_id = 1 + self._entropy.randbelow(0xFFFF_FFFE)
            if not self._store.message_id_in_use(cookies, message_id):
                return message_id

    def _fresh_message_id(self, cookies: tuple[bytes, bytes], message_id: int, now: int) -> None:
        """Refuse an authenticated message whose id the peer used before on this IKE SA.

        The memory is the store's (a router's SA database replicates it), so the router
        that takes over refuses a replay of a message the other one accepted.
        """
        if not self._store.note_message_id(cookies, message_id, now):
            raise _Drop(DropReason.MESSAGE_ID_REUSED, f"message id {message_id:#010x}")

    def _new_cookie(self) -> bytes:
        if self.hints.cookies:
            return self.hints.cookies.popleft()
        while True:
            cookie = self._entropy.token_bytes(8)
            if cookie != bytes(8):
                return cookie

    def _new_spi(self) -> bytes:
        if self.hints.spis:
            return self.hints.spis.popleft().to_bytes(4, "big")
        return (_SPI_FLOOR + self._entropy.randbelow(0xFFFF_FFFF - _SPI_FLOOR)).to_bytes(4, "big")

    def _sweep(self, table: dict[_K, _X], now: int) -> None:
        for key, exchange in list(table.items()):
            if exchange.done_at is not None and now >= exchange.done_at + _DONE_KEEP_MS:
                del table[key]
            elif exchange.retransmit_at is not None and now >= exchange.retransmit_at:
                self._retransmit(table, key, exchange, now)

    def _retransmit(self, table: dict[_K, _X], key: _K, exchange: _X, now: int) -> None:
        if exchange.tries >= len(_RETRANSMIT_MS):
            del table[key]
            kind = "main mode" if isinstance(exchange, _MainMode) else "quick mode"
            self._note(f"{kind} with {exchange.peer[0]}: no answer, giving up")
            self._events.append(
                NegotiationFailed(at_ms=now, peer=exchange.peer[0], exchange=kind, reason="timeout")
            )
            return
        exchange.retransmit_at = now + _RETRANSMIT_MS[exchange.tries]
        exchange.tries += 1
        self._emit(exchange.local, exchange.peer, exchange.last_out)
        self.sent["retransmission"] += 1

    def _send_request(self, exchange: _Exchange, message: bytes, now: int) -> None:
        exchange.last_out = message
        exchange.tries = 0
        exchange.retransmit_at = now + _RETRANSMIT_MS[0]
        self._emit(exchange.local, exchange.peer, message)

    def _answer(self, exchange: _Exchange, request: bytes, message: bytes) -> None:
        exchange.last_in = request
        exchange.last_out = message
        exchange.retransmit_at = None
        self._emit(exchange.local, exchange.peer, message)

    def _repeat(self, exchange: _Exchange, data: bytes) -> bool:
        """Answer a retransmitted request with the answer already given."""
        if exchange.last_in and data == exchange.last_in:
            if exchange.last_out:
                self._emit(exchange.local, exchange.peer, exchange.last_out)
            self.drops[DropReason.RETRANSMISSION] += 1
            return True
        return False

    def _nat_verdict(
        self, exchange: _MainMode, received: list[NatDPayload], src: Endpoint
    ) -> tuple[bytes, bytes]:
        """Set ``nat_detected`` (RFC 3947 §3.2: the first hash is of us as the peer sees
        us, the others of the peer); return (the peer's hash, ours) as we compute them."""
        assert exchange.choice is not None
        hash_name, cookies = exchange.choice.hash, (exchange.cookie_i, exchange.cookie_r)
        ours = self._nat_d(hash_name, *cookies, exchange.local)
        theirs = self._nat_d(hash_name, *cookies, src)
        exchange.nat_detected = received[0].data != ours or all(
            p.data != theirs for p in received[1:]
        )
        return theirs, ours

    def _nat_d(self, hash_name: str, cookie_i: bytes, cookie_r: bytes, endpoint: Endpoint) -> bytes:
        return crypto.digest(
            hash_name, cookie_i + cookie_r + endpoint[0].packed + endpoint[1].to_bytes(2, "big")
        )

    # -- Main Mode ------------------------------------------------------------------------

    def _main_mode(
        self, header: Header, data: bytes, src: Endpoint, dst: Endpoint, now: int
    ) -> None:
        if header.message_id != 0:
            raise _Drop(DropReason.UNEXPECTED, f"main mode message id {header.message_id}")
        zero = bytes(8)
        exchange = self._main.get(header.cookies)
        if exchange is None and header.responder_cookie == zero:
            # A retransmitted first message is answered again; any other starts afresh.
            exchange = next(
                (
                    x
                    for x in self._main.values()
                    if not x.is_initiator
                    and x.cookie_i == header.initiator_cookie
                    and x.peer[0] == src[0]
                    and x.first_in == data
                ),
                None,
            )
            if exchange is None:
                self._main_responder_first(header, data, src, dst, now)
                return
            if exchange.stage == 2:
                self._emit(exchange.local, exchange.peer, exchange.last_out)
            self.drops[DropReason.RETRANSMISSION] += 1
            return
        if exchange is None:
            exchange = self._main.get((header.initiator_cookie, zero))
            if exchange is None or not exchange.is_initiator:
                raise _Drop(DropReason.NO_SA, f"main mode cookies {header.initiator_cookie.hex()}")
        if self._repeat(exchange, data):
            return
        if exchange.done_at is not None:
            raise _Drop(DropReason.UNEXPECTED, "main mode message after completion")
        if exchange.is_initiator:
            self._main_initiator(exchange, header, data, src, now)
        else:
            self._main_responder(exchange, header=header, data=data, src=src, dst=dst, now=now)

    def _main_responder_first(
        self, header: Header, data: bytes, src: Endpoint, dst: Endpoint, now: int
    ) -> None:
        payloads = decode_payloads(data[HEADER_LEN:], header.next_payload)
        sa = next((p for p in payloads if isinstance(p, SaPayload)), None)
        if sa is None:
            raise _Drop(DropReason.MISSING_PAYLOAD, "main mode 1 without SA")
        choice = None
        chosen: tuple[Proposal, int] | None = None
        for proposal in sa.proposals:
            if proposal.protocol != PROTO_ISAKMP:
                continue
            for transform in proposal.transforms:
                choice = match_phase1(transform, self._config.isakmp_policies)
                if choice is not None:
                    chosen = (proposal, transform.number)
                    break
            if chosen is not None:
                break
        if choice is None or chosen is None:
            self._notify_clear(header.initiator_cookie, src, dst, NotifyType.NO_PROPOSAL_CHOSEN)
            raise _Drop(DropReason.NO_PROPOSAL_CHOSEN, f"main mode from {src[0]}")
        psk = pre_shared_key(self._config, src[0])
        if psk is None:
            raise _Drop(DropReason.NO_KEY, f"no crypto isakmp key for {src[0]}")
        vendor_ids = {p.data for p in payloads if isinstance(p, VendorIdPayload)}
        proposal, number = chosen
        transform = next(t for t in proposal.transforms if t.number == number)
        exchange = _MainMode(
            peer=src,
            local=dst,
            is_initiator=False,
            cookie_i=header.initiator_cookie,
            cookie_r=self._new_cookie(),
            stage=2,
            sa_i_body=sa.raw[4:],
            choice=choice,
            psk=psk,
            first_in=data,
            peer_nat_t=NAT_T_VENDOR_ID in vendor_ids,
            peer_dpd=any(v[:14] == DPD_VENDOR_ID[:14] for v in vendor_ids),
        )
        answer: list[Payload] = [
            SaPayload(
                proposals=(
                    Proposal(
                        number=proposal.number,
                        protocol=PROTO_ISAKMP,
                        spi=b"",
                        transforms=(transform,),
                    ),
                ),
                doi=sa.doi,
                situation=sa.situation,
            )
        ]
        if exchange.peer_nat_t:
            answer.append(VendorIdPayload(data=NAT_T_VENDOR_ID))
        answer.append(VendorIdPayload(data=DPD_VENDOR_ID))
        message, _ = self._message((exchange.cookie_i, exchange.cookie_r), Exchange.MAIN, 0, answer)
        self._main[(exchange.cookie_i, exchange.cookie_r)] = exchange
        self._note(f"main mode with {src[0]}: policy {choice.priority} chosen, MM_SA_SETUP")
        self._answer(exchange, data, message)

    def _main_responder(
        self,
        exchange: _MainMode,
        *,
        header: Header,
        data: bytes,
        src: Endpoint,
        dst: Endpoint,
        now: int,
    ) -> None:
        assert exchange.choice is not None
        cipher = crypto.cipher_named(exchange.choice.encryption)
        if exchange.stage == 2:
            payloads = decode_payloads(data[HEADER_LEN:], header.next_payload)
            ke = _one(payloads, KePayload, "KE")
            nonce = _one(payloads, NoncePayload, "nonce")
            dh = DhKey.generate(exchange.choice.group, self._entropy)
            gxy = _shared(dh, ke)
            exchange.dh, exchange.gxy = dh, gxy
            exchange.public_i, exchange.public_r = ke.data, dh.public
            exchange.nonce_i = nonce.data
            exchange.nonce_r = self._entropy.token_bytes(_NONCE_OCTETS)
            self._derive(exchange, cipher)
            answer: list[Payload] = [KePayload(data=dh.public), NoncePayload(data=exchange.nonce_r)]
            nat_d = [p for p in payloads if isinstance(p, NatDPayload)]
            if exchange.peer_nat_t and nat_d:
                theirs, ours = self._nat_verdict(exchange, nat_d, src)
                answer += [NatDPayload(data=theirs), NatDPayload(data=ours)]
            message, _ = self._message(
                (exchange.cookie_i, exchange.cookie_r), Exchange.MAIN, 0, answer
            )
            exchange.stage = 4
            nat = "seen" if exchange.nat_detected else "none"
            self._note(f"main mode with {src[0]}: MM_KEY_EXCH (NAT {nat})")
            self._answer(exchange, data, message)
            return
        if exchange.stage == 4:
            payloads, last = self._open(header, data, cipher, exchange.key, exchange.iv)
            identity = _one(payloads, IdPayload, "ID")
            hash_i = _one(payloads, HashPayload, "HASH")
            expected = _phase1_hash(exchange, of_initiator=True, id_body=identity.raw[4:])
            if not _hmac.compare_digest(expected, hash_i.data):
                raise _Drop(DropReason.BAD_HASH, f"HASH_I from {src[0]} (pre-shared key mismatch?)")
            exchange.peer = src  # NAT traversal may have moved it to 4500
            exchange.local = (exchange.local[0], dst[1])
            id_r = IdPayload(id_type=1, data=exchange.local[0].packed)
            id_r_raw = encode_payloads([id_r])[1]
            hash_r = _phase1_hash(exchange, of_initiator=False, id_body=id_r_raw[4:])
            message, final = self._message(
                (exchange.cookie_i, exchange.cookie_r),
                Exchange.MAIN,
                0,
                [id_r, HashPayload(data=hash_r)],
                encrypt=(cipher, exchange.key, last),
            )
            exchange.iv = final
            self._answer(exchange, data, message)
            contact = any(
                isinstance(p, NotifyPayload) and p.notify_type == NotifyType.INITIAL_CONTACT
                for p in payloads
            )
            self._established(exchange, final, now, initial_contact=contact)
            return
        raise _Drop(DropReason.UNEXPECTED, f"main mode stage {exchange.stage}")

    def _derive(self, exchange: _MainMode, cipher: IkeCipher) -> None:
        assert exchange.choice is not None
        hash_name = exchange.choice.hash
        exchange.skeyid, exchange.skeyid_d, exchange.skeyid_a, exchange.skeyid_e = (
            crypto.derive_skeyids(
                hash_name,
                psk=exchange.psk,
                nonce_i=exchange.nonce_i,
                nonce_r=exchange.nonce_r,
                gxy=exchange.gxy,
                cookie_i=exchange.cookie_i,
                cookie_r=exchange.cookie_r,
            )
        )
        exchange.key = crypto.expand_key(hash_name, exchange.skeyid_e, cipher.key_length)
        exchange.iv = crypto.phase1_iv(
            hash_name, exchange.public_i, exchange.public_r, cipher.block
        )

    def retire(self, cookies: tuple[bytes, bytes], now: int, *, reason: str) -> None:
        """Delete an IKE SA whose lifetime ends (``reason="expired"``) or that a newer
        one replaced, with an ISAKMP Delete to the peer; any other reason is silent."""
        self._retire.pop(cookies, None)
        self._retire_now(cookies, now, reason=reason)

    def _retire_now(self, cookies: tuple[bytes, bytes], now: int, *, reason: str) -> None:
        """Delete a replaced IKE SA (telling the peer unless it said it forgot us)."""
        sa = self._store.ike_by_cookies(cookies)
        if sa is None:
            return
        if reason in ("replaced", "expired"):
            delete = DeletePayload(protocol=PROTO_ISAKMP, spis=(cookies[0] + cookies[1],))
            self._send_informational(sa, delete, now)
            self.sent["delete"] += 1
        self._store.remove_ike(cookies, now)
        self.forget(cookies)
        self._note(f"IKE SA with {sa.peer} {cookies[0].hex()} retired ({reason})")
        self._events.append(IkeSaRetired(at_ms=now, peer=sa.peer, cookies=cookies, reason=reason))

    def _replaced(
        self, new: tuple[bytes, bytes], peer: IPv4Address, now: int, *, initial_contact: bool
    ) -> None:
        """Older IKE SAs with ``peer`` once ``new`` exists: gone at once after the peer's
        INITIAL-CONTACT (it holds nothing else with us), else after the grace time."""
        for sa in self._store.ike_sas_with(peer):
            cookies = (sa.initiator_cookie, sa.responder_cookie)
            if cookies == new:
                continue
            if initial_contact:
                self._retire.pop(cookies, None)
                self._retire_now(cookies, now, reason="initial-contact")
            elif self._replaced_grace_ms is not None and cookies not in self._retire:
                self._retire[cookies] = now + self._replaced_grace_ms

    def _established(
        self, exchange: _MainMode, last_block: bytes, now: int, *, initial_contact: bool = False
    ) -> None:
        assert exchange.choice is not None
        exchange.done_at = now
        exchange.retransmit_at = None
        if self.hints.dpd_starts:
            dpd_first = self.hints.dpd_starts.popleft() + 1
        else:  # RFC 3706 §5.5: a random first number with the top bit clear
            dpd_first = self._entropy.randbelow(0x7FFF_FFFF) + 1
        params = NewIkeSa(
            initiator_cookie=exchange.cookie_i,
            responder_cookie=exchange.cookie_r,
            is_initiator=exchange.is_initiator,
            encryption=exchange.choice.encryption,
            hash_algorithm=exchange.choice.hash,
            authentication="pre-share",
            dh_group=exchange.choice.group,
            skeyid_d=exchange.skeyid_d,
            skeyid_a=exchange.skeyid_a,
            skeyid_e=exchange.skeyid_e,
            last_phase1_cbc_block=last_block,
            dpd_out=dpd_first - 1,
            expiry_ms=now + exchange.choice.lifetime_s * 1000,
            peer=exchange.peer[0],
            local_port=exchange.local[1],
            peer_port=exchange.peer[1],
        )
        if not self._store.add_ike(params, now):
            self._drop(DropReason.NOT_ACTIVE, f"IKE SA with {exchange.peer[0]} not kept")
            return
        self._note(f"main mode with {exchange.peer[0]}: QM_IDLE")
        self._events.append(Phase1Established(at_ms=now, params=params))
        if not exchange.is_initiator:  # the responder deletes what was replaced (as charon does)
            self._replaced(
                (exchange.cookie_i, exchange.cookie_r),
                exchange.peer[0],
                now,
                initial_contact=initial_contact,
            )

    def _start_main(
        self, peer: IPv4Address, entry: CryptoMapEntry, now: int, *, then_quick: bool = True
    ) -> None:
        transforms = tuple(
            phase1_transform(policy, index + 1)
            for index, policy in enumerate(
                sorted(self._config.isakmp_policies, key=lambda p: p.priority)
            )
            if policy.authentication == "pre-share"
        )
        psk = pre_shared_key(self._config, peer)
        if not transforms or psk is None:
            self._events.append(
                NegotiationFailed(
                    at_ms=now, peer=peer, exchange="main mode", reason="no pre-share policy or key"
                )
            )
            return
        sa = SaPayload(
            proposals=(Proposal(number=1, protocol=PROTO_ISAKMP, spi=b"", transforms=transforms),)
        )
        exchange = _MainMode(
            peer=(peer, IKE_PORT),
            local=(self.local_address, IKE_PORT),
            is_initiator=True,
            cookie_i=self._new_cookie(),
            cookie_r=bytes(8),
            stage=1,
            psk=psk,
            then_quick=entry if then_quick else None,
        )
        payloads: list[Payload] = [
            sa,
            VendorIdPayload(data=NAT_T_VENDOR_ID),
            VendorIdPayload(data=DPD_VENDOR_ID),
        ]
        _first, chain = encode_payloads(payloads)
        exchange.sa_i_body = chain[4 : int.from_bytes(chain[2:4], "big")]
        message, _ = self._message((exchange.cookie_i, bytes(8)), Exchange.MAIN, 0, payloads)
        self._main[(exchange.cookie_i, bytes(8))] = exchange
        self._note(f"main mode with {peer}: initiating")
        self._send_request(exchange, message, now)

    def _main_initiator(
        self, exchange: _MainMode, header: Header, data: bytes, src: Endpoint, now: int
    ) -> None:
        if src[0] != exchange.peer[0]:
            raise _Drop(DropReason.UNEXPECTED, f"main mode answer from {src[0]}")
        if exchange.stage == 1:
            payloads = decode_payloads(data[HEADER_LEN:], header.next_payload)
            sa = _one(payloads, SaPayload, "SA")
            transform = sa.proposals[0].transforms[0]
            choice = match_phase1(transform, self._config.isakmp_policies)
            if choice is None or len(sa.proposals) != 1 or len(sa.proposals[0].transforms) != 1:
                raise _Drop(
                    DropReason.NO_PROPOSAL_CHOSEN,
                    f"answer from {src[0]} chose what we did not offer",
                )
            vendor_ids = {p.data for p in payloads if isinstance(p, VendorIdPayload)}
            del self._main[(exchange.cookie_i, bytes(8))]
            exchange.cookie_r = header.responder_cookie
            self._main[(exchange.cookie_i, exchange.cookie_r)] = exchange
            exchange.choice = choice
            exchange.peer_nat_t = NAT_T_VENDOR_ID in vendor_ids
            exchange.peer_dpd = any(v[:14] == DPD_VENDOR_ID[:14] for v in vendor_ids)
            dh = DhKey.generate(choice.group, self._entropy)
            exchange.dh, exchange.public_i = dh, dh.public
            exchange.nonce_i = self._entropy.token_bytes(_NONCE_OCTETS)
            request: list[Payload] = [
                KePayload(data=dh.public),
                NoncePayload(data=exchange.nonce_i),
            ]
            if exchange.peer_nat_t:
                request += [
                    NatDPayload(
                        data=self._nat_d(
                            choice.hash, exchange.cookie_i, exchange.cookie_r, exchange.peer
                        )
                    ),
                    NatDPayload(
                        data=self._nat_d(
                            choice.hash, exchange.cookie_i, exchange.cookie_r, exchange.local
                        )
                    ),
                ]
            message, _ = self._message(
                (exchange.cookie_i, exchange.cookie_r), Exchange.MAIN, 0, request
            )
            exchange.stage = 3
            exchange.last_in = data
            self._send_request(exchange, message, now)
            return
        assert exchange.choice is not None
        assert exchange.dh is not None
        cipher = crypto.cipher_named(exchange.choice.encryption)
        if exchange.stage == 3:
            payloads = decode_payloads(data[HEADER_LEN:], header.next_payload)
            ke = _one(payloads, KePayload, "KE")
            nonce = _one(payloads, NoncePayload, "nonce")
            gxy = _shared(exchange.dh, ke)
            exchange.gxy, exchange.public_r, exchange.nonce_r = gxy, ke.data, nonce.data
            self._derive(exchange, cipher)
            nat_d = [p for p in payloads if isinstance(p, NatDPayload)]
            if exchange.peer_nat_t and nat_d:
                self._nat_verdict(exchange, nat_d, src)
            if exchange.nat_detected:
                exchange.peer = (exchange.peer[0], NAT_T_PORT)
                exchange.local = (exchange.local[0], NAT_T_PORT)
            id_i = IdPayload(id_type=1, data=self.local_address.packed)
            id_i_raw = encode_payloads([id_i])[1]
            hash_i = _phase1_hash(exchange, of_initiator=True, id_body=id_i_raw[4:])
            fifth: list[Payload] = [id_i, HashPayload(data=hash_i)]
            if self.initial_contact:
                fifth.append(
                    NotifyPayload(
                        notify_type=NotifyType.INITIAL_CONTACT,
                        protocol=PROTO_ISAKMP,
                        spi=exchange.cookie_i + exchange.cookie_r,
                    )
                )
            message, last = self._message(
                (exchange.cookie_i, exchange.cookie_r),
                Exchange.MAIN,
                0,
                fifth,
                encrypt=(cipher, exchange.key, exchange.iv),
            )
            exchange.iv = last
            exchange.stage = 5
            exchange.last_in = data
            self._send_request(exchange, message, now)
            return
        if exchange.stage == 5:
            payloads, last = self._open(header, data, cipher, exchange.key, exchange.iv)
            identity = _one(payloads, IdPayload, "ID")
            hash_r = _one(payloads, HashPayload, "HASH")
            expected = _phase1_hash(exchange, of_initiator=False, id_body=identity.raw[4:])
            if not _hmac.compare_digest(expected, hash_r.data):
                raise _Drop(DropReason.BAD_HASH, f"HASH_R from {src[0]} (pre-shared key mismatch?)")
            exchange.last_in = data
            self._established(exchange, last, now)
            entry = exchange.then_quick
            established = self._store.ike_by_cookies((exchange.cookie_i, exchange.cookie_r))
            if entry is not None and established is not None:
                self._start_quick(established, entry, now)
            return
        raise _Drop(DropReason.UNEXPECTED, f"main mode stage {exchange.stage}")

    def _notify_clear(self, cookie_i: bytes, peer: Endpoint, local: Endpoint, kind: int) -> None:
        """An unauthenticated notification (before any key exists)."""
        message, _ = self._message(
            (cookie_i, bytes(8)),
            Exchange.INFORMATIONAL,
            0,
            [NotifyPayload(notify_type=kind, protocol=PROTO_ISAKMP)],
        )
        self._emit(local, peer, message)
        self.sent["notify"] += 1

    # -- Quick Mode ------------------------------------------------------------------------

    def _quick_mode(
        self, header: Header, data: bytes, src: Endpoint, dst: Endpoint, now: int
    ) -> None:
        if header.message_id == 0:
            raise _Drop(DropReason.UNEXPECTED, "quick mode with message id 0")
        sa = self._store.ike_by_cookies(header.cookies)
        if sa is None:
            raise _Drop(DropReason.NO_SA, f"quick mode for cookies {header.initiator_cookie.hex()}")
        keys = _keys(sa)
        key = (header.initiator_cookie, header.responder_cookie, header.message_id)
        exchange = self._quick.get(key)
        if exchange is not None and self._repeat(exchange, data):
            return
        if exchange is None:
            iv = crypto.phase2_iv(keys.hash, keys.last_block, header.message_id, keys.cipher.block)
            payloads, last = self._open(header, data, keys.cipher, keys.key, iv)
            self._check_hash1(keys, header.message_id, payloads)
            self._fresh_message_id(header.cookies, header.message_id, now)
            self._quick_responder_first(
                sa, keys=keys, header=header, data=data, payloads=payloads, last=last, now=now
            )
            return
        if exchange.done_at is not None:
            raise _Drop(DropReason.UNEXPECTED, "quick mode message after completion")
        payloads, last = self._open(header, data, keys.cipher, keys.key, exchange.iv)
        if exchange.is_initiator:
            self._quick_initiator_second(
                sa, keys=keys, exchange=exchange, data=data, payloads=payloads, last=last, now=now
            )
        else:
            self._quick_responder_third(
                sa, keys=keys, exchange=exchange, data=data, payloads=payloads, now=now
            )

    def _check_hash1(self, keys: _Keys, message_id: int, payloads: tuple[Payload, ...]) -> None:
        if not payloads or not isinstance(payloads[0], HashPayload):
            raise _Drop(DropReason.MISSING_PAYLOAD, "first payload is not HASH")
        rest = b"".join(p.raw for p in payloads[1:])
        expected = crypto.prf(keys.hash, keys.skeyid_a, message_id.to_bytes(4, "big") + rest)
        if not _hmac.compare_digest(expected, payloads[0].data):
            raise _Drop(DropReason.BAD_HASH, "HASH(1)")

    def _quick_responder_first(
        self,
        sa: IkeSaView,
        *,
        keys: _Keys,
        header: Header,
        data: bytes,
        payloads: tuple[Payload, ...],
        last: bytes,
        now: int,
    ) -> None:
        proposal_sa = _one(payloads, SaPayload, "SA")
        nonce = _one(payloads, NoncePayload, "nonce")
        ke = next((p for p in payloads if isinstance(p, KePayload)), None)
        ids = [p for p in payloads if isinstance(p, IdPayload)]
        entry = self._entry_for(sa.peer)
        if entry is None:
            raise _Drop(DropReason.NO_PROPOSAL_CHOSEN, f"no crypto map entry for {sa.peer}")
        if ids:
            if len(ids) != 2:
                raise _Drop(DropReason.BAD_ID, f"{len(ids)} identities")
            remote, local = network_of_id(ids[0]), network_of_id(ids[1])
        else:
            remote, local = IPv4Network(sa.peer), IPv4Network(self.local_address)
        if (
            remote is None
            or local is None
            or not proxies_allowed(self._config, entry, local, remote)
        ):
            self._send_informational(
                sa,
                NotifyPayload(notify_type=NotifyType.INVALID_ID_INFORMATION, protocol=PROTO_ESP),
                now,
            )
            raise _Drop(
                DropReason.BAD_ID, f"proxy identities {local} <- {remote} not in the crypto ACL"
            )
        chosen = None
        for proposal in proposal_sa.proposals:
            if proposal.protocol != PROTO_ESP or len(proposal.spi) != 4:
                continue
            for transform in proposal.transforms:
                choice = match_phase2(self._config, entry, transform)
                if choice is not None:
                    chosen = (proposal, transform, choice)
                    break
            if chosen is not None:
                break
        if chosen is None:
            self._send_informational(
                sa,
                NotifyPayload(notify_type=NotifyType.NO_PROPOSAL_CHOSEN, protocol=PROTO_ESP),
                now,
            )
            raise _Drop(DropReason.NO_PROPOSAL_CHOSEN, f"quick mode from {sa.peer}")
        proposal, transform, choice = chosen
        if (ke is None) != (choice.pfs_group is None):
            raise _Drop(DropReason.NO_PROPOSAL_CHOSEN, "PFS key exchange does not match set pfs")
        exchange = _QuickMode(
            peer=(sa.peer, sa.peer_port),
            local=(self.local_address, sa.local_port),
            is_initiator=False,
            cookies=header.cookies,
            message_id=header.message_id,
            entry=entry,
            choice=choice,
            nonce_i=nonce.data,
            nonce_r=self._entropy.token_bytes(_NONCE_OCTETS),
            spi_in=self._new_spi(),
            spi_out=proposal.spi,
            local_proxy=local,
            remote_proxy=remote,
            encapsulation=choice.encapsulation,
        )
        answer: list[Payload] = [
            SaPayload(
                proposals=(
                    Proposal(
                        number=proposal.number,
                        protocol=PROTO_ESP,
                        spi=exchange.spi_in,
                        transforms=(transform,),
                    ),
                ),
                doi=proposal_sa.doi,
                situation=proposal_sa.situation,
            ),
            NoncePayload(data=exchange.nonce_r),
        ]
        if ke is not None and choice.pfs_group is not None:
            dh = DhKey.generate(choice.pfs_group, self._entropy)
            gxy = _shared(dh, ke)
            exchange.dh, exchange.gxy = dh, gxy
            answer.append(KePayload(data=dh.public))
        answer += ids
        message, final = self._hashed(
            keys,
            Exchange.QUICK,
            header.message_id,
            answer,
            prefix=nonce.data,
            iv=last,
            cookies=header.cookies,
        )
        exchange.iv = final
        self._quick[(header.initiator_cookie, header.responder_cookie, header.message_id)] = (
            exchange
        )
        self._answer(exchange, data, message)
        # Repeat the answer until the confirmation (HASH(3)) arrives: without it the
        # initiator has the SA pair and this router has not.
        exchange.retransmit_at = now + _RETRANSMIT_MS[0]

    def _hashed(
        self,
        keys: _Keys,
        exchange: int,
        message_id: int,
        payloads: list[Payload],
        *,
        prefix: bytes,
        iv: bytes,
        cookies: tuple[bytes, bytes],
    ) -> tuple[bytes, bytes]:
        """A Quick Mode / Informational message: HASH over M-ID ‖ prefix ‖ the payloads."""
        _, chain = encode_payloads(payloads)
        digest = crypto.prf(
            keys.hash, keys.skeyid_a, message_id.to_bytes(4, "big") + prefix + chain
        )
        return self._message(
            cookies,
            exchange,
            message_id,
            [HashPayload(data=digest), *payloads],
            encrypt=(keys.cipher, keys.key, iv),
        )

    def _quick_responder_third(
        self,
        sa: IkeSaView,
        *,
        keys: _Keys,
        exchange: _QuickMode,
        data: bytes,
        payloads: tuple[Payload, ...],
        now: int,
    ) -> None:
        hash3 = _one(payloads, HashPayload, "HASH")
        expected = crypto.prf(
            keys.hash,
            keys.skeyid_a,
            b"\x00" + exchange.message_id.to_bytes(4, "big") + exchange.nonce_i + exchange.nonce_r,
        )
        if not _hmac.compare_digest(expected, hash3.data):
            raise _Drop(DropReason.BAD_HASH, "HASH(3)")
        exchange.last_in = data
        exchange.last_out = b""
        self._install(sa, keys, exchange, now)

    def _install(self, sa: IkeSaView, keys: _Keys, exchange: _QuickMode, now: int) -> None:
        choice, entry = exchange.choice, exchange.entry
        assert choice is not None
        assert entry is not None
        assert exchange.local_proxy is not None
        assert exchange.remote_proxy is not None
        exchange.done_at = now
        exchange.retransmit_at = None
        transform = transform_of(choice.transforms)
        if transform is None:
            raise _Drop(DropReason.NO_PROPOSAL_CHOSEN, f"transform set {choice.transform_set}")
        length = transform.encryption_key_length + transform.integrity_key_length
        nonce_i, nonce_r = exchange.nonce_i, exchange.nonce_r

        def material(spi: bytes) -> tuple[bytes, bytes]:
            octets = crypto.keymat(
                keys.hash,
                skeyid_d=keys.skeyid_d,
                protocol=PROTO_ESP,
                spi=spi,
                nonce_i=nonce_i,
                nonce_r=nonce_r,
                length=length,
                gxy=exchange.gxy,
            )
            return octets[: transform.encryption_key_length], octets[
                transform.encryption_key_length :
            ]

        in_key, in_auth = material(exchange.spi_in)
        out_key, out_auth = material(exchange.spi_out)
        params = NewIpsecSa(
            peer=sa.peer,
            crypto_map=entry.name,
            crypto_map_seq=entry.seq,
            local_proxy=exchange.local_proxy,
            remote_proxy=exchange.remote_proxy,
            inbound_spi=int.from_bytes(exchange.spi_in, "big"),
            outbound_spi=int.from_bytes(exchange.spi_out, "big"),
            transforms=choice.transforms,
            inbound_encryption_key=in_key,
            outbound_encryption_key=out_key,
            inbound_integrity_key=in_auth,
            outbound_integrity_key=out_auth,
            expiry_ms=now + choice.lifetime_s * 1000,
            lifetime_kilobytes=choice.lifetime_kilobytes,
        )
        self._note(
            f"quick mode with {sa.peer}: SA pair in {params.inbound_spi:#010x}"
            f" out {params.outbound_spi:#010x}"
        )
        self._events.append(
            IpsecSaNegotiated(
                at_ms=now,
                params=params,
                cookies=exchange.cookies,
                encapsulation=exchange.encapsulation,
                peer_port=exchange.peer[1],
            )
        )

    def _start_quick(self, sa: IkeSaView, entry: CryptoMapEntry, now: int) -> bool:
        proxies = acl_proxies(self._config, entry)
        if proxies is None:
            return False
        local, remote = proxies
        keys = _keys(sa)
        encapsulation = ENCAP_UDP_TUNNEL if sa.peer_port == NAT_T_PORT else ENCAP_TUNNEL
        spi_in = self._new_spi()
        transforms = [
            t
            for index, name in enumerate(entry.transform_sets)
            if (t := phase2_transform(self._config, entry, name, index + 1, encapsulation))
            is not None
        ]
        if not transforms:
            return False
        proposals = tuple(
            Proposal(number=index + 1, protocol=PROTO_ESP, spi=spi_in, transforms=(t,))
            for index, t in enumerate(transforms)
        )
        message_id = self._new_message_id((sa.initiator_cookie, sa.responder_cookie))
        exchange = _QuickMode(
            peer=(sa.peer, sa.peer_port),
            local=(self.local_address, sa.local_port),
            is_initiator=True,
            cookies=(sa.initiator_cookie, sa.responder_cookie),
            message_id=message_id,
            entry=entry,
            nonce_i=self._entropy.token_bytes(_NONCE_OCTETS),
            spi_in=spi_in,
            local_proxy=local,
            remote_proxy=remote,
            proposals=proposals,
            encapsulation=encapsulation,
        )
        payloads: list[Payload] = [
            SaPayload(proposals=proposals),
            NoncePayload(data=exchange.nonce_i),
        ]
        if entry.pfs is not None:
            group = {"group1": 1, "group2": 2, "group5": 5}[entry.pfs]
            exchange.dh = DhKey.generate(group, self._entropy)
            payloads.append(KePayload(data=exchange.dh.public))
        payloads += [id_for_network(local), id_for_network(remote)]
        iv = crypto.phase2_iv(keys.hash, keys.last_block, message_id, keys.cipher.block)
        message, last = self._hashed(
            keys, Exchange.QUICK, message_id, payloads, prefix=b"", iv=iv, cookies=exchange.cookies
        )
        exchange.iv = last
        self._quick[(*exchange.cookies, message_id)] = exchange
        self._note(f"quick mode with {sa.peer}: initiating")
        self._send_request(exchange, message, now)
        return True

    def _quick_initiator_second(
        self,
        sa: IkeSaView,
        *,
        keys: _Keys,
        exchange: _QuickMode,
        data: bytes,
        payloads: tuple[Payload, ...],
        last: bytes,
        now: int,
    ) -> None:
        if not payloads or not isinstance(payloads[0], HashPayload):
            raise _Drop(DropReason.MISSING_PAYLOAD, "first payload is not HASH")
        rest = b"".join(p.raw for p in payloads[1:])
        expected = crypto.prf(
            keys.hash,
            keys.skeyid_a,
            exchange.message_id.to_bytes(4, "big") + exchange.nonce_i + rest,
        )
        if not _hmac.compare_digest(expected, payloads[0].data):
            raise _Drop(DropReason.BAD_HASH, "HASH(2)")
        answer = _one(payloads, SaPayload, "SA")
        nonce = _one(payloads, NoncePayload, "nonce")
        assert exchange.entry is not None
        if len(answer.proposals) != 1 or len(answer.proposals[0].transforms) != 1:
            raise _Drop(DropReason.NO_PROPOSAL_CHOSEN, "answer is not one transform")
        proposal = answer.proposals[0]
        choice = match_phase2(self._config, exchange.entry, proposal.transforms[0])
        if choice is None or len(proposal.spi) != 4:
            raise _Drop(DropReason.NO_PROPOSAL_CHOSEN, "answer chose what we did not offer")
        if exchange.dh is not None:
            ke = _one(payloads, KePayload, "KE")
            gxy = _shared(exchange.dh, ke)
            exchange.gxy = gxy
        exchange.choice = choice
        exchange.nonce_r = nonce.data
        exchange.spi_out = proposal.spi
        digest = crypto.prf(
            keys.hash,
            keys.skeyid_a,
            b"\x00" + exchange.message_id.to_bytes(4, "big") + exchange.nonce_i + exchange.nonce_r,
        )
        message, _ = self._message(
            exchange.cookies,
            Exchange.QUICK,
            exchange.message_id,
            [HashPayload(data=digest)],
            encrypt=(keys.cipher, keys.key, last),
        )
        exchange.last_in = data
        exchange.last_out = message
        self._emit(exchange.local, exchange.peer, message)
        self._install(sa, keys, exchange, now)

    # -- Informational ------------------------------------------------------------------------

    def _send_informational(self, sa: IkeSaView, payload: Payload, now: int) -> None:
        keys = _keys(sa)
        message_id = self._new_message_id((sa.initiator_cookie, sa.responder_cookie))
        iv = crypto.phase2_iv(keys.hash, keys.last_block, message_id, keys.cipher.block)
        cookies = (sa.initiator_cookie, sa.responder_cookie)
        message, _ = self._hashed(
            keys, Exchange.INFORMATIONAL, message_id, [payload], prefix=b"", iv=iv, cookies=cookies
        )
        self._emit((self.local_address, sa.local_port), (sa.peer, sa.peer_port), message)

    def _informational(self, header: Header, data: bytes, src: Endpoint, now: int) -> None:
        if not header.encrypted:
            payloads = decode_payloads(data[HEADER_LEN:], header.next_payload)
            kinds = [p.notify_type for p in payloads if isinstance(p, NotifyPayload)]
            raise _Drop(
                DropReason.NOT_ENCRYPTED, f"unauthenticated notification {kinds} from {src[0]}"
            )
        sa = self._store.ike_by_cookies(header.cookies)
        if sa is None:
            raise _Drop(
                DropReason.NO_SA, f"informational for cookies {header.initiator_cookie.hex()}"
            )
        keys = _keys(sa)
        iv = crypto.phase2_iv(keys.hash, keys.last_block, header.message_id, keys.cipher.block)
        payloads, _ = self._open(header, data, keys.cipher, keys.key, iv)
        self._check_hash1(keys, header.message_id, payloads)
        self._fresh_message_id(header.cookies, header.message_id, now)
        cookies = header.cookies
        for payload in payloads[1:]:
            match payload:
                case NotifyPayload(notify_type=NotifyType.R_U_THERE, data=seq_octets, spi=spi):
                    self._r_u_there(sa, cookies, spi, seq_octets, now)
                case NotifyPayload(notify_type=NotifyType.R_U_THERE_ACK, data=seq_octets):
                    probe = self._dpd.get(cookies)
                    seq = int.from_bytes(seq_octets, "big") if len(seq_octets) == 4 else -1
                    if probe is None or probe.seq != seq:
                        raise _Drop(
                            DropReason.DPD_REJECTED, f"R-U-THERE-ACK {seq} matches no probe"
                        )
                    del self._dpd[cookies]
                    self._events.append(
                        DpdAnswered(at_ms=now, cookies=cookies, seq=seq, acked=True)
                    )
                case NotifyPayload(notify_type=kind):
                    self._note(f"notification {kind} from {sa.peer}")
                case DeletePayload(protocol=protocol, spis=spis):
                    if protocol == PROTO_ISAKMP:
                        for spi in spis:
                            if len(spi) == 16:
                                self._store.remove_ike((spi[:8], spi[8:]), now)
                    self._note(f"delete from {sa.peer}: protocol {protocol}, {len(spis)} SPI(s)")
                    self._events.append(
                        PeerDeleted(at_ms=now, peer=sa.peer, protocol=protocol, spis=spis)
                    )
                case _:
                    self._note(f"informational payload {type(payload).__name__} ignored")

    def _r_u_there(
        self, sa: IkeSaView, cookies: tuple[bytes, bytes], spi: bytes, seq_octets: bytes, now: int
    ) -> None:
        if len(seq_octets) != 4 or (spi and spi != cookies[0] + cookies[1]):
            raise _Drop(
                DropReason.DPD_REJECTED, f"R-U-THERE with SPI {spi.hex()} data {seq_octets.hex()}"
            )
        seq = int.from_bytes(seq_octets, "big")
        if not self._store.accept_dpd_in(cookies, seq, now):
            raise _Drop(DropReason.DPD_REJECTED, f"R-U-THERE {seq} went back")
        ack = NotifyPayload(
            notify_type=NotifyType.R_U_THERE_ACK,
            protocol=PROTO_ISAKMP,
            spi=cookies[0] + cookies[1],
            data=seq_octets,
        )
        self._send_informational(sa, ack, now)
        self.sent["dpd-ack"] += 1
        self._events.append(DpdAnswered(at_ms=now, cookies=cookies, seq=seq, acked=False))


def _phase1_hash(exchange: _MainMode, *, of_initiator: bool, id_body: bytes) -> bytes:
    """HASH_I or HASH_R (RFC 2409 §5): prf(SKEYID, g^x ‖ g^y ‖ CKY ‖ CKY ‖ SAi_b ‖ IDx_b),
    the sender's public value and cookie first."""
    assert exchange.choice is not None
    mine, theirs = (exchange.public_i, exchange.public_r)[:: 1 if of_initiator else -1]
    first, second = (exchange.cookie_i, exchange.cookie_r)[:: 1 if of_initiator else -1]
    return crypto.prf(
        exchange.choice.hash,
        exchange.skeyid,
        mine + theirs + first + second + exchange.sa_i_body + id_body,
    )


def _shared(key: DhKey, ke: KePayload) -> bytes:
    """g^xy from the peer's KE payload, or a counted drop for a bad public value."""
    gxy = crypto.shared_secret(key, ke.data)
    if gxy is None:
        raise _Drop(DropReason.BAD_KE, f"public value of {len(ke.data)} octets")
    return gxy


def _one(payloads: Iterable[Payload], kind: type[_P], name: str) -> _P:
    for payload in payloads:
        if isinstance(payload, kind):
            return payload
    raise _Drop(DropReason.MISSING_PAYLOAD, f"no {name} payload")
