"""The simulated world (DESIGN §3): the implementation's routers on a byte-level network.

Theory of operation
-------------------
Two :class:`~vpnha.impl.router.Router` cores, the inside segment (the routers'
inside interfaces and a LAN host), the outside segment (their outside interfaces
and a remote IPsec peer that protects a remote LAN), and the SSP TCP connection
between the routers, all in one process on an integer-millisecond clock. Every
message is bytes: HSRP payloads, ESP in UDP 4500, IPv4 packets, SSP stream octets.

**Time.** An agenda (a heap of deliveries) plus each router's ``get_timer()``;
``run_until(t)`` processes everything due up to ``t`` in time order — at one
instant HSRP deliveries, then SSP deliveries, then the other deliveries, then
timers, router 0 before router 1 (the model's order) — so a run is a pure
function of the calls made and the seeds.

**Segments.** A message sent on a segment reaches every other attached node that
is up and whose interface is up, ``latency_ms`` later (the sender's interface
must be up too); once sent it arrives even if its sender crashes meanwhile (the
model's rule: a crash cannot recall a frame). HSRP goes to the other router.
Frames for a virtual IP go to the router the segment's switch currently
associates with the virtual MAC: the last one that sent a gratuitous ARP or an
Active hello (whose source MAC is the virtual MAC, RFC 2281 §6.1) — a switch
learns the MAC from either.

**SSP.** The client router's :class:`~vpnha.impl.router.SspOpen` reaches the other
router if the inside path is up (both inside interfaces up, both routers up): it
is accepted or refused there, and the client learns the outcome a round trip
later. Octets written on a connection arrive in order, one SSP latency later (the
segment latency, unless ``ssp_delay`` holds the stream up: then requests, answers and
octets sent from then on take that long, and nothing overtakes what is on its way). A
connection survives a path failure: octets written while the path is down wait
and arrive in order once it returns (TCP retransmits), unless an end's dead timer
closes the connection first; what was already on the wire still arrives. A
crashed router's connections die with it, in-flight octets included. An orderly
close reaches the other end as end of stream.

**IKE stand-in.** There is no IKE core yet (issue 7): an SA is negotiated by the
world, which draws SPIs and keys from its own seeded entropy and installs the pair
on the ACTIVE router and the mirror pair on the remote peer. A
:class:`~vpnha.impl.router.RequestSa` from a router is served the same way,
``ike_delay_ms`` later, if that router is still ACTIVE; every negotiation after the
first counts as a renegotiation (the document's promise is zero).

**The wire log** records every message with its segment, addresses and bytes (for
the pcap and the invariants): which (SPI, sequence number) each router transmitted,
which the routers and the peer accepted, what the peer refused, and any cleartext
that a crypto ACL protects leaving on the outside segment.
"""

from __future__ import annotations

import enum
import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial
from ipaddress import IPv4Address, IPv4Network
from typing import Final

from vpnha.impl.config import AccessList, RouterConfig
from vpnha.impl.dataplane import transform_of
from vpnha.impl.entropy import SeededEntropy
from vpnha.impl.esp import Drop, EspInboundSA, EspOutboundSA, build_ipv4, build_udp
from vpnha.impl.hsrp import HsrpState
from vpnha.impl.hsrp.core import StateChanged, virtual_mac
from vpnha.impl.ike.core import (
    NAT_T_PORT,
    DpdAnswered,
    IkeEngine,
    IpsecSaNegotiated,
    MemoryIkeStore,
)
from vpnha.impl.ike.mirror import mirror_config
from vpnha.impl.router import (
    GroupEvent,
    IkeReport,
    Output,
    RequestSa,
    RoleChanged,
    Router,
    SendGratuitousArp,
    SendHsrp,
    SendIke,
    SendLan,
    SendOutsideClear,
    SendUdp4500,
    Side,
    SspEvent,
    SspOpen,
    SspShut,
    SspWrite,
    Takeover,
)
from vpnha.impl.sadb import HaStatus, IpsecSaPair, NewIpsecSa
from vpnha.impl.ssp.core import Closed, Established

__all__ = [
    "LAN_HOST",
    "REMOTE_HOST",
    "PeerSa",
    "RunLog",
    "Segment",
    "WirePacket",
    "World",
]

LAN_HOST: Final = IPv4Address("172.16.31.50")
"""The LAN host (inside segment; default gateway: the inside virtual IP)."""
REMOTE_HOST: Final = IPv4Address("192.168.4.10")
"""A host on the remote LAN behind the remote IPsec peer."""
HSRP_GROUP_ADDRESS: Final = IPv4Address("224.0.0.2")
"""All routers (RFC 2281 §3)."""
HSRP_PORT: Final = 1985
NATT_PORT: Final = 4500
UDP: Final = 17
_HSRP_OP_OFFSET: Final = 1
_HSRP_HELLO: Final = 0
_HSRP_STATE_OFFSET: Final = 2
_HSRP_ACTIVE: Final = 16
_TRAFFIC_PORT: Final = 5001
_IPV4_HEADER: Final = 20
_RANK_HSRP: Final = 0
_RANK_SSP: Final = 1
_RANK_OTHER: Final = 2
"""Deliveries due at the same instant: HSRP first, then SSP, then the rest (the model's
order), each kind in the order sent."""
_TRAFFIC_HEADERS: Final = 28


class Segment(enum.Enum):
    """Where a message travels."""

    INSIDE = "inside"
    OUTSIDE = "outside"
    SSP = "ssp"
    """The SSP TCP connection (carried on the inside segment)."""


_SIDE_SEGMENT: Final = {Side.INSIDE: Segment.INSIDE, Side.OUTSIDE: Segment.OUTSIDE}


@dataclass(frozen=True, slots=True, kw_only=True)
class WirePacket:
    """One message on the wire."""

    time_ms: int
    """When it was sent."""
    segment: Segment
    kind: str
    """hsrp, garp, esp, clear, lan, ssp-open, ssp-data, ssp-close."""
    sender: str
    """Node name: a router's hostname, ``lan-host`` or ``peer``."""
    src: IPv4Address
    dst: IPv4Address
    payload: bytes
    """UDP payload (hsrp, esp), IPv4 packet (clear, lan), stream octets (ssp-data)."""
    src_mac: bytes = b""
    """Ethernet source (6 octets) where it matters: HSRP, gratuitous ARP."""
    delivered: bool = True
    """False when nobody could receive it (interface down, no owner, path cut)."""
    connection: int = 0
    """SSP connection number (ssp-* kinds)."""


@dataclass(slots=True, kw_only=True)
class PeerSa:
    """The remote peer's half of one negotiated SA pair."""

    sa_id: int
    """The id the router's database gave the pair."""
    outbound: EspOutboundSA
    """Encrypts towards the cluster (SPI = the router's inbound SPI)."""
    inbound: EspInboundSA
    """Decrypts what the cluster sends (SPI = the router's outbound SPI)."""


@dataclass(slots=True, eq=False)
class _HelloFlight:
    """An HSRP message on its segment, in the order sent (faults pick one by position)."""

    when: int
    """When it arrives."""
    order: int
    """Its place among same-instant deliveries (kept when it is delayed)."""
    sender: int
    out: SendHsrp
    cancelled: bool = False


@dataclass(slots=True)
class _Slot:
    """One router position: its configuration, seeds and (while up) its core."""

    config: RouterConfig
    seed: int
    router: Router | None = None
    boots: int = 0
    boot_ms: int = 0
    iface_up: dict[Side, bool] = field(default_factory=lambda: dict.fromkeys(Side, True))
    connection: int = 0
    """The SSP connection number this router holds (0 = none)."""
    numbers: dict[int, int] = field(default_factory=dict)
    """The router's own connection ids (``Router.ssp_connection_id``) -> world numbers."""
    priority: dict[Side, int] = field(default_factory=dict)
    """Priorities changed at run time (saved configuration: they survive a restart)."""
    preempt: dict[Side, bool] = field(default_factory=dict)
    """Preempt settings changed at run time (they survive a restart too)."""


class RunLog:
    """(time, router, SPI, seq) events folded into runs of consecutive sequence numbers.

    Each run is ``[time of its first packet, router, SPI, first seq, last seq]``; a
    packet that continues the latest run of its (router, SPI) extends it, any other
    starts a new run. Appending is O(1) and a long stream stays a handful of runs.
    """

    __slots__ = ("_open", "count", "runs")

    def __init__(self) -> None:
        self.runs: list[list[int]] = []
        self._open: dict[tuple[int, int], int] = {}
        self.count = 0
        """Packets recorded."""

    def add(self, time_ms: int, router: int, spi: int, seq: int) -> None:
        """Record one packet."""
        self.count += 1
        at = self._open.get((router, spi))
        if at is not None:
            run = self.runs[at]
            if run[4] + 1 == seq:
                run[4] = seq
                return
        self._open[(router, spi)] = len(self.runs)
        self.runs.append([time_ms, router, spi, seq, seq])

    def repeated(self) -> int:
        """How many recorded (SPI, seq) were recorded before (by any router)."""
        seen: dict[int, list[tuple[int, int]]] = {}
        for _, _, spi, first, last in self.runs:
            seen.setdefault(spi, []).append((first, last))
        total = 0
        for spans in seen.values():
            spans.sort()
            reach = 0
            for first, last in spans:
                if first <= reach:
                    total += min(last, reach) - first + 1
                reach = max(reach, last)
        return total


@dataclass(slots=True, kw_only=True)
class Stats:
    """What the hosts and the peer saw."""

    lan_sent: int = 0
    remote_sent: int = 0
    delivered_to_lan: int = 0
    delivered_to_remote: int = 0
    lost_no_gateway: int = 0
    """LAN or peer packets that found no router owning the virtual IP."""
    peer_refused: int = 0
    """ESP packets the peer refused as replays (its window said no; every drop is in peer_drops)."""
    peer_drops: dict[str, int] = field(default_factory=dict)
    cleartext_leaked: int = 0
    """Packets a crypto ACL protects that left on the outside segment in the clear."""
    negotiations: int = 0
    last_lan_delivery_ms: int | None = None
    last_remote_delivery_ms: int | None = None


class World:
    """Two routers, two segments, the SSP stream, a LAN host and a remote peer."""

    def __init__(
        self,
        configs: tuple[RouterConfig, RouterConfig],
        *,
        seed: int = 1,
        latency_ms: int = 1,
        now: int = 0,
        ike_delay_ms: int = 50,
        sa_lifetime_ms: int | None = None,
        keep_log: bool = True,
        answer_sa_requests: bool = True,
        host_latency_ms: int | None = None,
        hsrp_jitter: bool = True,
        stand_in_ike: bool = False,
    ) -> None:
        self.now = now
        self.latency_ms = latency_ms
        self.host_latency_ms = latency_ms if host_latency_ms is None else host_latency_ms
        self.hsrp_jitter = hsrp_jitter
        """False: hellos are never sent early (the model's harness-drawn jitter of 0)."""
        """Delivery time between a router and the LAN host or the remote peer (default: the
        segments' latency; 0 delivers at the instant of sending, as the model does)."""
        self.ike_delay_ms = ike_delay_ms
        self._entropy = SeededEntropy(seed * 7919 + 17)
        self._slots = [_Slot(configs[0], seed * 2 + 1), _Slot(configs[1], seed * 2 + 2)]
        self._agenda: list[tuple[int, int, int, Callable[[], None]]] = []
        self._order = 0
        self._owner: dict[Segment, int | None] = {Segment.INSIDE: None, Segment.OUTSIDE: None}
        self._next_connection = 1
        self._dead_connections: set[int] = set()
        """Connections closed or lost with a crashed end: nothing in flight arrives."""
        self._closed: set[int] = set()
        """Connections one end closed (FIN sent): nothing written after it is delivered."""
        self._stalled: list[tuple[int, int, int, bytes | None]] = []
        """(write order, connection, writer, octets or None for a FIN) waiting for the path:
        written while it was down, or on the wire when SSP was silenced."""
        self._ssp_writes = 0
        self.ssp_latency_ms = latency_ms
        """One-way delivery time of the SSP connection for what is sent from now on (the
        segment latency until ``ssp_delay`` changes it)."""
        self._ssp_due: list[tuple[int, int]] = []
        """(arrival time, connection) of SSP octets scheduled to arrive later than now: a
        shorter delay set meanwhile never lets later octets overtake them (one stream)."""
        self._deleted: dict[int, str] = {}
        self._lifetimes: dict[int, tuple[int, bool]] = {}
        """Per SA id negotiated or seen on a router: (expiry instant ms, octets spent), as
        last seen (``deletions``)."""
        self._ssp_broken = False
        """SSP cut or silenced (``ssp_cut``, ``ssp_silent``) until ``ssp_heal``."""
        self.partitioned: dict[Side, bool] = dict.fromkeys(Side, False)
        """Per segment: the two routers cannot reach each other on it (``partition``)."""
        self._pending_ike: set[tuple[str, int, IPv4Address]] = set()
        self.keep_log = keep_log
        self.ssp_tap: Callable[[int, int, bytes], None] | None = None
        """Called with (connection number, writer's index, octets) for every SSP write on a
        live connection, delivered or not (the campaign's coverage of SSP message kinds)."""
        self.answer_sa_requests = answer_sa_requests
        """Whether the stand-in IKE answers a router's request for an SA (else only
        ``establish_sa`` creates SAs, as in the model, which has no IKE initiator)."""
        self.sa_requests = 0
        self.log: list[WirePacket] = []
        self.stats = Stats()
        self.peer_sas: dict[int, PeerSa] = {}
        self.negotiated: list[NewIpsecSa] = []
        """Every SA pair the stand-in IKE handed a router (keys included, for the pcap)."""
        self.transmitted = RunLog()
        """Every ESP packet a router sent, as runs of consecutive sequence numbers."""
        self.accepted_by_router = RunLog()
        """Every ESP packet a router accepted and delivered, as runs."""
        self.accepted_by_peer: list[tuple[int, int, int]] = []
        """(time, SPI, seq) of every ESP packet the peer accepted."""
        self.captured: list[bytes] = []
        """ESP packets the peer sent, as an attacker on the outside segment saw them."""
        self.events: list[tuple[int, str, str]] = []
        """(time, node, text): what happened, for timelines."""
        self.takeovers: list[tuple[int, int, tuple[int, ...], tuple[int, ...]]] = []
        """(time, router, usable copies, promoted copies) of every takeover."""
        self.state_since: dict[tuple[int, Side], int] = {}
        """When each router's group entered its current state."""
        self.clean_since: dict[Segment, int] = {Segment.INSIDE: now, Segment.OUTSIDE: now}
        """Last time a fault touched each segment."""
        self.disturbed_ms = now
        """Last time anything changed HSRP's inputs."""
        self._lan_seq = 0
        self._remote_seq = 0
        first = configs[0].crypto_map(configs[0].outside_interface().crypto_map or "")  # type: ignore[union-attr]
        self._entry = first[0]
        self._peer = self._entry.peers[0]
        self._acl = configs[0].access_lists.get(self._entry.match_address or "")
        self._protected = _protected_network(self._acl)
        self._sa_lifetime_ms = (
            sa_lifetime_ms
            if sa_lifetime_ms is not None
            else configs[0].ipsec_lifetime_seconds * 1000
        )
        outside = configs[0].outside_interface()
        vip = outside.standby_groups[0].virtual_ip if outside is not None else None
        self._vip = vip if vip is not None else IPv4Address(0)
        self.stand_in_ike = stand_in_ike
        """True: ``establish_sa`` hands out drawn keys (no IKE on the wire); False: the
        peer runs the IKE engine against the router's (Main Mode, Quick Mode, DPD)."""
        self.peer_ike_store = MemoryIkeStore()
        self.peer_ike = IkeEngine(
            mirror_config(configs[0]),
            SeededEntropy(seed * 7919 + 29),
            self.peer_ike_store,
            local_address=self._peer,
            replaced_grace_ms=None,
        )
        """The remote peer's IKE (the mirror of router 1's crypto configuration)."""
        self._to_peer: list[SendIke] = []
        self._hellos: list[_HelloFlight] = []
        """HSRP messages on the segments, in the order sent (the model's in-flight list)."""
        self.dpd_by_cluster: list[tuple[int, int, int]] = []
        """(time, IKE id = CKY-I as an integer, number) of every R-U-THERE a router sent
        (I8 on the implementation's side)."""
        self.dpd_completed = 0
        """DPD exchanges (either direction) whose R-U-THERE-ACK came back."""
        for index in (0, 1):
            self._boot(index)

    # --- views ---------------------------------------------------------------------------

    def router(self, index: int) -> Router | None:
        """Router 0 or 1 (None while crashed)."""
        return self._slots[index].router

    def deletions(self) -> dict[int, str]:
        """SA ids IKE deleted (``delete_sa``): "acked" once no running router holds the SA
        any more (the standby's copy went too), "unacked" before that; and "expired" for an
        SA that no running router holds any more after its lifetime (seconds or octets)
        ended (I5, I6)."""
        held: set[int] = set()
        for slot in self._slots:
            if slot.router is not None:
                for sa in slot.router.sadb.ipsec_sas():
                    held.add(sa.sa_id)
                    # The lifetime as last seen (a takeover never changes it; I8).
                    self._lifetimes[sa.sa_id] = (sa.expiry_ms, sa.spent)
        for sa_id, how in self._deleted.items():
            if how == "unacked" and sa_id not in held:
                self._deleted[sa_id] = "acked"
        for sa_id, (expiry_ms, spent) in self._lifetimes.items():
            if (
                sa_id not in held
                and sa_id not in self._deleted
                and (expiry_ms <= self.now or spent)
            ):
                self._deleted[sa_id] = "expired"
        return dict(self._deleted)

    def vip_owner(self, side: Side) -> int | None:
        """The router answering for ``side``'s virtual IP: the one the switch learned the
        virtual MAC from, if it is up there with its group Active (None otherwise)."""
        index = self._owner[_SIDE_SEGMENT[side]]
        if index is None or not self._reaches(index, side):
            return None
        router = self._slots[index].router
        if router is None or router.core.group(side).state is not HsrpState.ACTIVE:
            return None
        return index

    def standby_overrides(self, index: int) -> tuple[dict[Side, int], dict[Side, bool]]:
        """Router ``index``'s priorities and preempt settings changed at run time."""
        slot = self._slots[index]
        return dict(slot.priority), dict(slot.preempt)

    def config(self, index: int) -> RouterConfig:
        """Router ``index``'s configuration."""
        return self._slots[index].config

    def name(self, index: int) -> str:
        """Router 0's or 1's hostname."""
        return self._slots[index].config.hostname

    def boot_ms(self, index: int) -> int:
        """When router ``index`` last booted."""
        return self._slots[index].boot_ms

    def interface_is_up(self, index: int, side: Side) -> bool:
        """Whether router ``index``'s interface on ``side`` is up (administratively here)."""
        return self._slots[index].iface_up[side]

    def owner(self, segment: Segment) -> int | None:
        """The router the segment's switch sends the virtual MAC's frames to."""
        return self._owner[segment]

    @property
    def outside_vip(self) -> IPv4Address:
        """The outside virtual IP (the peer's IPsec peer address)."""
        return self._vip

    def router_mac(self, index: int, side: Side) -> bytes:
        """Router ``index``'s own MAC on ``side`` (HSRP hellos when not Active)."""
        return _router_mac(index, side)

    @property
    def peer_address(self) -> IPv4Address:
        """The remote IPsec peer's address."""
        return self._peer

    # --- time ----------------------------------------------------------------------------

    def next_deadline(self) -> int | None:
        """The earliest pending delivery or router timer."""
        when = self._agenda[0][0] if self._agenda else None
        for slot in self._slots:
            deadline = slot.router.get_timer() if slot.router is not None else None
            if deadline is not None and (when is None or deadline < when):
                when = deadline
        return when

    def run_until(self, until: int) -> None:
        """Process everything due up to ``until`` in order; then the clock reads ``until``.

        At each instant what the agenda holds goes first, then the routers' timers, router
        0 before router 1.
        """
        agenda = self._agenda
        slots = self._slots
        while True:
            # ``next_deadline``, written out: this loop turns once per message and timer.
            when = agenda[0][0] if agenda else None
            for slot in slots:
                router = slot.router
                if router is not None:
                    deadline = router.get_timer()
                    if deadline is not None and (when is None or deadline < when):
                        when = deadline
            if when is None or when > until:
                break
            now = self.now = max(self.now, when)
            if agenda and agenda[0][0] <= now:
                heapq.heappop(agenda)[3]()
                continue
            for index, slot in enumerate(slots):
                router = slot.router
                if router is not None:
                    deadline = router.get_timer()
                    if deadline is not None and deadline <= now:
                        router.handle_timer(now)
                        self._collect(index)
                        break
        self.now = max(self.now, until)

    def advance(self, ms: int) -> None:
        """Let ``ms`` milliseconds pass."""
        self.run_until(self.now + ms)

    # --- faults and administration -------------------------------------------------------

    def crash(self, index: int) -> None:
        """Router ``index`` loses power: every volatile state and its SSP connection."""
        slot = self._slots[index]
        if slot.router is None:
            return
        slot.router = None
        # What it already sent is on the wire and still arrives (the model's rule too), and
        # a message fault may still pick it.
        if slot.connection:
            self._dead_connections.add(slot.connection)
            slot.connection = 0
        slot.numbers.clear()
        # The switches keep the crashed router's MAC entries: frames for the virtual
        # IPs still go to it (and are lost) until another router claims them.
        self._disturb(Segment.INSIDE, Segment.OUTSIDE)
        self.events.append((self.now, self.name(index), "crash"))

    def restart(self, index: int) -> None:
        """Router ``index`` boots again from its configuration."""
        if self._slots[index].router is not None:
            return
        path_was_up = self._inside_path()
        self._boot(index)
        if not path_was_up and self._inside_path():
            self._path_restored()

    def interface_down(self, index: int, side: Side) -> None:
        """Router ``index``'s interface on ``side`` goes down."""
        slot = self._slots[index]
        slot.iface_up[side] = False
        self._disturb(_SIDE_SEGMENT[side])
        if slot.router is not None:
            slot.router.interface_down(side, self.now)
            self._collect(index)
        self.events.append((self.now, self.name(index), f"{side.value} interface down"))

    def interface_up(self, index: int, side: Side) -> None:
        """Router ``index``'s interface on ``side`` comes back."""
        slot = self._slots[index]
        path_was_up = self._inside_path()
        slot.iface_up[side] = True
        self._disturb(_SIDE_SEGMENT[side])
        if not path_was_up and self._inside_path():
            self._path_restored()
        if slot.router is not None:
            slot.router.interface_up(side, self.now)
            self._collect(index)
        self.events.append((self.now, self.name(index), f"{side.value} interface up"))

    def partition(self, side: Side) -> None:
        """The segment on ``side`` splits between the two routers: they no longer hear each
        other there (each still reaches the hosts, whose switch learns from both)."""
        self.partitioned[side] = True
        self._disturb(_SIDE_SEGMENT[side])
        self.events.append((self.now, "world", f"{side.value} segment partitioned"))

    def heal(self, side: Side) -> None:
        """The segment on ``side`` is whole again."""
        if not self.partitioned[side]:
            return
        path_was_up = self._inside_path()
        self.partitioned[side] = False
        self._disturb(_SIDE_SEGMENT[side])
        if not path_was_up and self._inside_path():
            self._path_restored()
        self.events.append((self.now, "world", f"{side.value} segment healed"))

    def ssp_cut(self) -> None:
        """The SSP path breaks with a reset: both ends lose the connection at once and
        everything in flight on it is gone; nothing passes until ``ssp_heal``."""
        self._ssp_broken = True
        self._ssp_due.clear()
        for index, slot in enumerate(self._slots):
            if slot.connection:
                self._dead_connections.add(slot.connection)
            if slot.router is not None:
                slot.router.ssp_lost(self.now)
                self._collect(index)
        self.events.append((self.now, "world", "SSP cut"))

    def ssp_silent(self) -> None:
        """SSP goes silent (a black hole): no octet passes and no end is told; what is on
        the wire is lost and TCP sends it again after ``ssp_heal`` (if the connection
        still exists then)."""
        self._ssp_broken = True
        self.events.append((self.now, "world", "SSP silent"))

    def ssp_heal(self) -> None:
        """SSP carries octets again (after ``ssp_cut`` or ``ssp_silent``)."""
        if not self._ssp_broken:
            return
        self._ssp_broken = False
        if self._inside_path():
            self._path_restored()
        self.events.append((self.now, "world", "SSP healed"))

    def ssp_delay(self, ms: int) -> None:
        """SSP octets (and connection requests and answers) sent from now on take ``ms``
        (at least 0) to arrive instead of one segment latency; what is already on the wire
        keeps its time, and nothing overtakes it: the connection is one ordered stream."""
        self.ssp_latency_ms = max(0, ms)
        self.events.append((self.now, "world", f"SSP one-way delay {self.ssp_latency_ms} ms"))

    def soonest_sa_expiry(self) -> int | None:
        """The earliest lifetime end of an IPsec SA a running router holds (ms), if any."""
        return min(
            (
                sa.expiry_ms
                for slot in self._slots
                if slot.router is not None
                for sa in slot.router.sadb.ipsec_sas()
            ),
            default=None,
        )

    def expire_soonest(self) -> None:
        """Run to the earliest lifetime end of an IPsec SA a router holds (nothing if no
        router holds one; the clock never goes back)."""
        due = self.soonest_sa_expiry()
        if due is not None:
            self.run_until(max(due, self.now))

    def set_priority(self, index: int, side: Side, priority: int) -> None:
        """``standby N priority P`` on router ``index``, saved: a restart keeps it."""
        self._slots[index].priority[side] = priority
        self._disturb()
        router = self._slots[index].router
        if router is not None:
            router.set_priority(side, priority, self.now)
            self._collect(index)
            self.events.append((self.now, self.name(index), f"{side.value} priority {priority}"))

    def set_preempt(self, index: int, side: Side, preempt: bool) -> None:
        """``[no] standby N preempt`` on router ``index``, saved: a restart keeps it."""
        self._slots[index].preempt[side] = preempt
        self._disturb()
        router = self._slots[index].router
        if router is not None:
            router.set_preempt(side, preempt, self.now)
            self._collect(index)
            word = "preempt" if preempt else "no preempt"
            self.events.append((self.now, self.name(index), f"{side.value} {word}"))

    def resync(self, index: int) -> bool:
        """``clear crypto sa ha standby resync`` on router ``index`` (False: refused)."""
        router = self._slots[index].router
        if router is None or not router.request_resync(self.now):
            return False
        self._collect(index)
        self.events.append((self.now, self.name(index), "standby resync requested"))
        return True

    def delete_sa(self, spi_in: int, spi_out: int) -> bool:
        """IKE deletes the SA pair with these SPIs (the router's inbound and outbound) on the
        router that holds it ACTIVE, and the peer drops its half (False: nobody holds it)."""
        for index, slot in enumerate(self._slots):
            router = slot.router
            if router is None:
                continue
            for sa in router.sadb.ipsec_sas():
                if (
                    sa.inbound_spi == spi_in
                    and sa.outbound_spi == spi_out
                    and sa.status is HaStatus.ACTIVE
                ):
                    router.delete_sa(sa.sa_id, self.now)
                    self._deleted[sa.sa_id] = "unacked"
                    self._collect(index)
                    self._ike_pump()
                    self.peer_sas.pop(spi_in, None)
                    self.events.append((self.now, self.name(index), f"SA {sa.sa_id} deleted"))
                    return True
        return False

    # --- IKE stand-in --------------------------------------------------------------------

    def establish_sa(
        self,
        *,
        spi_in: int | None = None,
        spi_out: int | None = None,
        cookies: tuple[int, int] | None = None,
    ) -> IpsecSaPair | None:
        """Negotiate an SA pair between the peer and the router that answers for the
        outside virtual IP, if it is ACTIVE (None otherwise: the peer's IKE reaches
        whoever holds the virtual MAC, and only an ACTIVE router negotiates).

        The SPIs (the router's inbound and outbound) are drawn from the world's
        entropy unless given; keys always are.
        """
        index = self._owner[Segment.OUTSIDE]
        if index is None or not self._reaches(index, Side.OUTSIDE):
            return None
        router = self._slots[index].router
        if router is None or not router.sadb.is_active:
            return None
        if self.stand_in_ike or router.ike is None:
            pair = self._negotiate(
                index, self._entry.name, self._entry.seq, self._peer, spis=(spi_in, spi_out)
            )
        else:
            pair = self._establish_with_ike(
                index, router, router.ike, spi_in=spi_in, spi_out=spi_out, cookies=cookies
            )
        if pair is not None:
            self._lifetimes[pair.sa_id] = (pair.expiry_ms, False)
        return pair

    def _establish_with_ike(
        self,
        index: int,
        router: Router,
        engine: IkeEngine,
        *,
        spi_in: int | None,
        spi_out: int | None,
        cookies: tuple[int, int] | None,
    ) -> IpsecSaPair | None:
        """The peer negotiates with the router on the wire: Quick Mode under the IKE SA
        with CKY-I ``cookies[0]`` if the router holds it ACTIVE, else Main Mode first.
        Every value the harness chose (SPIs, cookies, DPD's first number 0) is handed
        to the two engines; the exchange runs at this instant."""
        rng = self._entropy
        spi_in = spi_in if spi_in is not None else 0x1000 + rng.randbelow(0xFFFF_0000)
        spi_out = spi_out if spi_out is not None else 0x1000 + rng.randbelow(0xFFFF_0000)
        if cookies is None:
            cookies = (1 + rng.randbelow(0xFFFF_FFFF), 1 + rng.randbelow(0xFFFF_FFFF))
        cookie_i, cookie_r = (c.to_bytes(8, "big") for c in cookies)
        engine.hints.spis.append(spi_in)
        self.peer_ike.hints.spis.append(spi_out)
        held = next(
            (
                sa.cookies
                for sa in router.sadb.ike_sas(HaStatus.ACTIVE)
                if sa.initiator_cookie == cookie_i
                and self.peer_ike_store.ike_by_cookies(sa.cookies) is not None
            ),
            None,
        )
        if held is not None:
            self.peer_ike.start_quick_mode(held, self.now)
        else:
            # The harness reuses cookie values where the model reuses IKE ids: whatever
            # either side remembers of an earlier SA with these cookies is gone.
            self.peer_ike.forget((cookie_i, cookie_r))
            self.peer_ike_store.remove_ike((cookie_i, cookie_r), self.now)
            engine.forget((cookie_i, cookie_r))
            engine.hints.cookies.append(cookie_r)
            engine.hints.dpd_starts.append(0)
            self.peer_ike.hints.cookies.append(cookie_i)
            self.peer_ike.hints.dpd_starts.append(0)
            self.peer_ike.start_main_mode(self._vip, self.now)
        self._ike_pump()
        for hints in (engine.hints, self.peer_ike.hints):  # unused ones must not linger
            hints.spis.clear()
            hints.cookies.clear()
            hints.dpd_starts.clear()
        for sa in router.sadb.ipsec_sas(HaStatus.ACTIVE):
            if sa.inbound_spi == spi_in and sa.outbound_spi == spi_out:
                return sa
        self.events.append((self.now, self.name(index), "IKE negotiation failed"))
        return None

    def dpd(self, *, from_peer: bool) -> bool:
        """A DPD exchange on the newest (highest CKY-I) IKE SA the outside virtual IP's
        owner holds ACTIVE: R-U-THERE from the peer, or from that router (False: none)."""
        index = self.vip_owner(Side.OUTSIDE)
        router = self._slots[index].router if index is not None else None
        if index is None or router is None or router.ike is None:
            return False
        active = router.sadb.ike_sas(HaStatus.ACTIVE)
        if not active:
            return False
        newest = max(active, key=lambda sa: sa.initiator_cookie)
        if from_peer:
            sent = self.peer_ike.send_dpd(newest.cookies, self.now)
        else:
            sent = router.send_dpd(self.now, newest.cookies)
            after = next((sa for sa in router.sadb.ike_sas() if sa.sa_id == newest.sa_id), None)
            if sent and after is not None:
                ike_id = int.from_bytes(newest.initiator_cookie, "big")
                self.dpd_by_cluster.append((self.now, ike_id, after.dpd_out))
            self._collect(index)
        self._ike_pump()
        return sent

    def _ike_pump(self) -> None:
        """Deliver IKE datagrams both ways at this instant until both sides are quiet."""
        for _ in range(32):
            moved = False
            for datagram in self.peer_ike.datagrams_to_send():
                moved = True
                owner = self._owner[Segment.OUTSIDE]
                ok = owner is not None and self._reaches(owner, Side.OUTSIDE)
                self._record(
                    Segment.OUTSIDE,
                    "ike",
                    "peer",
                    src=self._peer,
                    dst=self._vip,
                    payload=datagram.payload,
                    delivered=ok,
                )
                router = self._slots[owner].router if owner is not None else None
                if ok and router is not None and owner is not None:
                    if datagram.dst[1] == NAT_T_PORT:
                        router.receive_udp4500(datagram.payload, self._peer, self.now)
                    else:
                        router.receive_ike(
                            datagram.payload, self._peer, datagram.src[1], datagram.dst[1], self.now
                        )
                    self._collect(owner)
            outbox, self._to_peer = self._to_peer, []
            for out in outbox:
                moved = True
                self.peer_ike.receive(
                    out.payload,
                    src=(self._vip, out.src_port),
                    dst=(self._peer, out.dst_port),
                    now=self.now,
                )
            self._peer_ike_events()
            if not moved:
                return

    def _peer_ike_events(self) -> None:
        while (event := self.peer_ike.next_event()) is not None:
            if isinstance(event, IpsecSaNegotiated):
                self._peer_sa(event)
            elif isinstance(event, DpdAnswered) and event.acked:
                self.dpd_completed += 1

    def _peer_sa(self, event: IpsecSaNegotiated) -> None:
        """The peer's half of a pair the peer's IKE negotiated (its inbound = our outbound)."""
        params = event.params
        transform = transform_of(params.transforms)
        if transform is None:
            return
        spi_to_cluster = params.outbound_spi
        sa_id = next(
            (
                sa.sa_id
                for slot in self._slots
                if slot.router is not None
                for sa in slot.router.sadb.ipsec_sas(HaStatus.ACTIVE)
                if sa.inbound_spi == spi_to_cluster
            ),
            0,
        )
        self.peer_sas[spi_to_cluster] = PeerSa(
            sa_id=sa_id,
            outbound=EspOutboundSA(
                spi=spi_to_cluster,
                transform=transform,
                encryption_key=params.outbound_encryption_key,
                integrity_key=params.outbound_integrity_key,
                entropy=SeededEntropy(spi_to_cluster),
            ),
            inbound=EspInboundSA(
                spi=params.inbound_spi,
                transform=transform,
                encryption_key=params.inbound_encryption_key,
                integrity_key=params.inbound_integrity_key,
            ),
        )
        self.negotiated.append(
            NewIpsecSa(
                peer=self._vip,
                crypto_map="PEER",
                crypto_map_seq=1,
                local_proxy=params.remote_proxy,
                remote_proxy=params.local_proxy,
                inbound_spi=params.outbound_spi,
                outbound_spi=params.inbound_spi,
                transforms=params.transforms,
                inbound_encryption_key=params.outbound_encryption_key,
                outbound_encryption_key=params.inbound_encryption_key,
                inbound_integrity_key=params.outbound_integrity_key,
                outbound_integrity_key=params.inbound_integrity_key,
                expiry_ms=params.expiry_ms,
                lifetime_kilobytes=params.lifetime_kilobytes,
            )
        )
        self.stats.negotiations += 1
        self.events.append(
            (
                self.now,
                "peer",
                f"SA pair negotiated (IKE): spi in {spi_to_cluster:#x} at the cluster",
            )
        )

    def _negotiate(
        self,
        index: int,
        crypto_map: str,
        seq: int,
        peer: IPv4Address,
        *,
        spis: tuple[int | None, int | None] = (None, None),
    ) -> IpsecSaPair | None:
        router = self._slots[index].router
        if router is None or not router.sadb.is_active:
            return None
        config = self._slots[index].config
        entry = next(e for e in config.crypto_map(crypto_map) if e.seq == seq)
        transform_set = config.transform_sets[entry.transform_sets[0]]
        transform = transform_of(transform_set.transforms)
        if transform is None:
            return None
        rng = self._entropy
        spi_in = spis[0] if spis[0] is not None else 0x1000 + rng.randbelow(0xFFFF_0000)
        spi_out = spis[1] if spis[1] is not None else 0x1000 + rng.randbelow(0xFFFF_0000)
        keys = [
            rng.token_bytes(transform.encryption_key_length),
            rng.token_bytes(transform.encryption_key_length),
            rng.token_bytes(transform.integrity_key_length),
            rng.token_bytes(transform.integrity_key_length),
        ]
        params = NewIpsecSa(
            peer=peer,
            crypto_map=crypto_map,
            crypto_map_seq=seq,
            local_proxy=self._local_network(config),
            remote_proxy=self._protected,
            inbound_spi=spi_in,
            outbound_spi=spi_out,
            transforms=transform_set.transforms,
            inbound_encryption_key=keys[0],
            outbound_encryption_key=keys[1],
            inbound_integrity_key=keys[2],
            outbound_integrity_key=keys[3],
            expiry_ms=self.now + self._sa_lifetime_ms,
            lifetime_kilobytes=config.ipsec_lifetime_kilobytes,
        )
        result = router.install_sa(params, self.now)
        self.negotiated.append(params)
        self._collect(index)
        if not isinstance(result, IpsecSaPair):
            self.events.append((self.now, self.name(index), f"SA refused: {result.reason}"))
            return None
        self.peer_sas[spi_in] = PeerSa(
            sa_id=result.sa_id,
            outbound=EspOutboundSA(
                spi=spi_in,
                transform=transform,
                encryption_key=keys[0],
                integrity_key=keys[2],
                entropy=SeededEntropy(spi_in),
            ),
            inbound=EspInboundSA(
                spi=spi_out, transform=transform, encryption_key=keys[1], integrity_key=keys[3]
            ),
        )
        self.stats.negotiations += 1
        self.events.append(
            (self.now, self.name(index), f"SA {result.sa_id} negotiated with {peer} (stand-in IKE)")
        )
        return result

    # --- traffic -------------------------------------------------------------------------

    def lan_send(self, packets: int, size: int = 100) -> None:
        """The LAN host sends ``packets`` sequenced UDP packets to the remote host now."""
        owner = self._owner[Segment.INSIDE]
        for _ in range(packets):
            self._lan_seq += 1
            self.stats.lan_sent += 1
            packet = _traffic(LAN_HOST, REMOTE_HOST, self._lan_seq, size)
            if owner is None or not self._reaches(owner, Side.INSIDE):
                self.stats.lost_no_gateway += 1
                self._record(
                    Segment.INSIDE,
                    "lan",
                    "lan-host",
                    src=LAN_HOST,
                    dst=REMOTE_HOST,
                    payload=packet,
                    delivered=False,
                )
                continue
            self._record(
                Segment.INSIDE, "lan", "lan-host", src=LAN_HOST, dst=REMOTE_HOST, payload=packet
            )
            self._later(partial(self._router_lan, owner, packet), self.host_latency_ms)

    def remote_send(self, packets: int, size: int = 100) -> None:
        """The remote host sends ``packets`` to the LAN host through the peer's newest SA."""
        if not self.peer_sas:
            return
        sa = list(self.peer_sas.values())[-1]  # the newest negotiation
        for _ in range(packets):
            self._remote_seq += 1
            self.stats.remote_sent += 1
            inner = _traffic(REMOTE_HOST, LAN_HOST, self._remote_seq, size)
            esp = sa.outbound.encapsulate(inner)
            if isinstance(esp, Drop):
                continue
            self._peer_to_cluster(esp)

    def replay_captured(self, pick: int) -> bool:
        """An attacker on the outside segment re-sends a captured ESP packet (False: none)."""
        if not self.captured:
            return False
        packet = self.captured[pick % len(self.captured)]
        self.events.append((self.now, "attacker", "replays a captured ESP packet"))
        self._peer_to_cluster(packet, capture=False)
        return True

    def replay_old(self, age: int) -> bool:
        """An attacker re-sends the captured ESP packet sent ``age`` packets before the
        newest one (False: not that many captured)."""
        if age >= len(self.captured):
            return False
        self.events.append((self.now, "attacker", f"replays the packet {age} before the newest"))
        self._peer_to_cluster(self.captured[-1 - age], capture=False)
        return True

    def forge_captured(self, pick: int, ahead: int) -> bool:
        """An attacker takes one of the four newest captured ESP packets (``pick``), raises
        its sequence number by ``ahead`` (the ICV no longer verifies) and sends it to the
        outside virtual IP: a number above the window's top (False: none captured)."""
        if not self.captured:
            return False
        packet = self.captured[-1 - pick % min(4, len(self.captured))]
        seq = (int.from_bytes(packet[4:8], "big") + ahead) % (1 << 32)
        forged = packet[:4] + seq.to_bytes(4, "big") + packet[8:]
        self.events.append((self.now, "attacker", f"sends a forged ESP packet (seq {seq})"))
        self._peer_to_cluster(forged, capture=False)
        return True

    # --- internals: delivery -------------------------------------------------------------

    def _later(
        self, action: Callable[[], None], delay: int | None = None, *, rank: int = _RANK_OTHER
    ) -> None:
        self._order += 1
        when = self.now + (self.latency_ms if delay is None else delay)
        heapq.heappush(self._agenda, (when, rank, self._order, action))

    def _reaches(self, index: int, side: Side) -> bool:
        slot = self._slots[index]
        return slot.router is not None and slot.iface_up[side]

    def _record(
        self,
        segment: Segment,
        kind: str,
        sender: str,
        *,
        src: IPv4Address,
        dst: IPv4Address,
        payload: bytes,
        src_mac: bytes = b"",
        delivered: bool = True,
        connection: int = 0,
    ) -> None:
        if self.keep_log:
            self.log.append(
                WirePacket(
                    time_ms=self.now,
                    segment=segment,
                    kind=kind,
                    sender=sender,
                    src=src,
                    dst=dst,
                    payload=payload,
                    src_mac=src_mac,
                    delivered=delivered,
                    connection=connection,
                )
            )

    def _peer_to_cluster(self, esp: bytes, *, capture: bool = True) -> None:
        if capture:
            self.captured.append(esp)
        owner = self._owner[Segment.OUTSIDE]
        vip = self._outside_vip()
        ok = owner is not None and self._reaches(owner, Side.OUTSIDE)
        self._record(
            Segment.OUTSIDE, "esp", "peer", src=self._peer, dst=vip, payload=esp, delivered=ok
        )
        if not ok or owner is None:
            self.stats.lost_no_gateway += 1
            return
        self._later(partial(self._router_udp4500, owner, esp), self.host_latency_ms)

    def _outside_vip(self) -> IPv4Address:
        return self._vip

    def _router_lan(self, index: int, packet: bytes) -> None:
        router = self._slots[index].router
        if router is None or not self._slots[index].iface_up[Side.INSIDE]:
            return
        router.receive_lan(packet, self.now)
        self._collect(index)

    def _router_udp4500(self, index: int, esp: bytes) -> None:
        router = self._slots[index].router
        if router is None or not self._slots[index].iface_up[Side.OUTSIDE]:
            return
        router.receive_udp4500(esp, self._peer, self.now)
        outputs = router.outputs()
        if any(isinstance(o, SendLan) for o in outputs) and len(esp) >= 8:
            spi = int.from_bytes(esp[:4], "big")
            seq = int.from_bytes(esp[4:8], "big")
            self.accepted_by_router.add(self.now, index, spi, seq)
        self._collect(index, outputs)

    def _disturb(self, *segments: Segment) -> None:
        for segment in segments:
            self.clean_since[segment] = self.now
        self.disturbed_ms = self.now

    def _boot(self, index: int) -> None:
        slot = self._slots[index]
        self._disturb(Segment.INSIDE, Segment.OUTSIDE)
        for side in Side:
            self.state_since[(index, side)] = self.now
        slot.boots += 1
        slot.boot_ms = self.now
        slot.router = Router(
            slot.config,
            entropy=SeededEntropy(slot.seed * 1000 + slot.boots),
            now=self.now,
            latency_allowance_ms=self.latency_ms,
            hsrp_entropy=None if self.hsrp_jitter else _NoJitter(),
            ike_replaced_grace_ms=None,  # the model keeps every IKE SA until it ends
        )
        for side, priority in slot.priority.items():
            slot.router.set_priority(side, priority, self.now)
        for side, preempt in slot.preempt.items():
            slot.router.set_preempt(side, preempt, self.now)
        for side in Side:
            if not slot.iface_up[side]:
                slot.router.interface_down(side, self.now)
        self.events.append((self.now, self.name(index), "boot"))
        self._collect(index)

    def _collect(self, index: int, outputs: list[Output] | None = None) -> None:
        router = self._slots[index].router
        if router is None:
            return
        self._drain_events(index, router)
        self._handle_outputs(index, router.outputs() if outputs is None else outputs)

    def _drain_events(self, index: int, router: Router) -> None:
        event = router.next_event()
        if event is None:
            return  # the usual case: asked after every input
        name = self.name(index)
        while event is not None:
            if isinstance(event, GroupEvent):
                inner = event.event
                if isinstance(inner, StateChanged):
                    self.state_since[(index, event.side)] = inner.at_ms
                    self.events.append(
                        (
                            self.now,
                            name,
                            f"hsrp {event.side.value}: {inner.old_state.name.title()} -> "
                            f"{inner.new_state.name.title()} ({inner.cell})",
                        )
                    )
            elif isinstance(event, RoleChanged):
                self.events.append((self.now, name, f"role {event.old.value} -> {event.new.value}"))
            elif isinstance(event, Takeover):
                report = event.report
                # A copy whose octet count the jump took to its lifetime was promoted and
                # then ended by its lifetime at once (the model records it the same way):
                # it is not lost (I5), it expired.
                promoted = report.promoted_ipsec + report.expired_ipsec
                self.takeovers.append((event.at_ms, index, promoted, promoted))
                for sa_id in report.expired_ipsec:
                    self._deleted.setdefault(sa_id, "expired")
                self.events.append(
                    (
                        self.now,
                        name,
                        f"takeover: promoted {list(report.promoted_ipsec)}, "
                        f"discarded {list(report.discarded_ipsec)}",
                    )
                )
            elif isinstance(event, IkeReport):
                if isinstance(event.event, DpdAnswered) and event.event.acked:
                    self.dpd_completed += 1
            elif isinstance(event, SspEvent):
                inner_ssp = event.event
                if isinstance(inner_ssp, Established):
                    self.events.append((self.now, name, "ssp-connected"))
                elif isinstance(inner_ssp, Closed):
                    self.events.append((self.now, name, f"ssp-disconnected: {inner_ssp.reason}"))
            event = router.next_event()

    def _handle_outputs(self, index: int, outputs: list[Output]) -> None:
        slot = self._slots[index]
        name = slot.config.hostname
        for out in outputs:
            if isinstance(out, SendHsrp):
                self._send_hsrp(index, out)
            elif isinstance(out, SendGratuitousArp):
                segment = _SIDE_SEGMENT[out.side]
                if slot.iface_up[out.side]:
                    self._owner[segment] = index
                self._record(
                    segment,
                    "garp",
                    name,
                    src=out.virtual_ip,
                    dst=out.virtual_ip,
                    payload=b"",
                    src_mac=out.virtual_mac,
                )
            elif isinstance(out, SendUdp4500):
                self.transmitted.add(self.now, index, out.spi, out.seq)
                ok = slot.iface_up[Side.OUTSIDE]
                self._record(
                    Segment.OUTSIDE,
                    "esp",
                    name,
                    src=out.src,
                    dst=out.dst,
                    payload=out.payload,
                    delivered=ok,
                )
                if ok:
                    self._later(partial(self._peer_receive, out.payload), self.host_latency_ms)
            elif isinstance(out, SendLan):
                ok = slot.iface_up[Side.INSIDE]
                src, dst = _ip_addresses(out.ip_packet)
                self._record(
                    Segment.INSIDE,
                    "lan",
                    name,
                    src=src,
                    dst=dst,
                    payload=out.ip_packet,
                    delivered=ok,
                )
                if ok:
                    self._later(self._lan_receive, self.host_latency_ms)
            elif isinstance(out, SendIke):
                ok = slot.iface_up[Side.OUTSIDE]
                self._record(
                    Segment.OUTSIDE,
                    "ike",
                    name,
                    src=self._vip,
                    dst=out.dst,
                    payload=out.payload,
                    delivered=ok,
                )
                if ok and out.dst == self._peer:
                    self._to_peer.append(out)
            elif isinstance(out, SendOutsideClear):
                src, dst = _ip_addresses(out.ip_packet)
                if self._acl is not None and _permits(self._acl, src, dst):
                    self.stats.cleartext_leaked += 1
                self._record(
                    Segment.OUTSIDE, "clear", name, src=src, dst=dst, payload=out.ip_packet
                )
            elif isinstance(out, RequestSa):
                self.sa_requests += 1
                key = (out.crypto_map, out.crypto_map_seq, out.peer)
                if self.answer_sa_requests and key not in self._pending_ike:
                    self._pending_ike.add(key)
                    self._later(partial(self._serve_ike, index, key), delay=self.ike_delay_ms)
            elif isinstance(out, SspOpen):
                self._ssp_open(index, out)
            elif isinstance(out, SspWrite):
                self._ssp_write(index, slot.numbers.get(out.connection, 0), out.data)
            elif isinstance(out, SspShut):
                self._ssp_shut(index, slot.numbers.pop(out.connection, 0))

    @staticmethod
    def _local_network(config: RouterConfig) -> IPv4Network:
        """The protected LAN: the inside interface's subnet."""
        inside = config.inside_interface()
        if inside is None or inside.address is None:
            return IPv4Network("0.0.0.0/0")
        return inside.address.network

    def _serve_ike(self, index: int, key: tuple[str, int, IPv4Address]) -> None:
        self._pending_ike.discard(key)
        self._negotiate(index, *key)

    def _send_hsrp(self, index: int, out: SendHsrp) -> None:
        slot = self._slots[index]
        segment = _SIDE_SEGMENT[out.side]
        # The switch learns the virtual MAC from an Active router's Hellos (and its
        # gratuitous ARPs), as the model does: a Resign or Coup goes out from the
        # interface's own MAC, so the Resign of a router leaving Active does not pull
        # the virtual MAC back to it after the new active's first Hello.
        active = (
            len(out.payload) > _HSRP_STATE_OFFSET
            and out.payload[_HSRP_OP_OFFSET] == _HSRP_HELLO
            and out.payload[_HSRP_STATE_OFFSET] == _HSRP_ACTIVE
        )
        if active and slot.iface_up[out.side]:
            self._owner[segment] = index
        if self.keep_log:
            group = slot.router.core.group(out.side).group if slot.router is not None else 0
            self._record(
                segment,
                "hsrp",
                slot.config.hostname,
                src=out.src,
                dst=HSRP_GROUP_ADDRESS,
                payload=out.payload,
                src_mac=virtual_mac(group) if active else _router_mac(index, out.side),
                delivered=slot.iface_up[out.side] and self._reaches(1 - index, out.side),
            )
        if slot.iface_up[out.side]:
            # On the wire whoever listens: the receiver's state counts when it arrives.
            self._order += 1
            flight = _HelloFlight(
                when=self.now + self.latency_ms, order=self._order, sender=index, out=out
            )
            self._hellos.append(flight)
            self._push_hello(flight)

    def _push_hello(self, flight: _HelloFlight) -> None:
        land: Callable[[], None] = partial(self._hello_lands, flight)
        heapq.heappush(self._agenda, (flight.when, _RANK_HSRP, flight.order, land))

    def _hello_lands(self, flight: _HelloFlight) -> None:
        if flight.cancelled:
            return
        self._hellos.remove(flight)  # by identity (eq=False)
        self._hsrp_arrives(1 - flight.sender, flight.out)

    def _taint(self, side: Side, until: int) -> None:
        segment = _SIDE_SEGMENT[side]
        self.clean_since[segment] = max(self.clean_since[segment], until, self.now)
        self.disturbed_ms = max(self.disturbed_ms, until, self.now)

    @property
    def hellos_in_flight(self) -> int:
        """HSRP messages on the segments now."""
        return len(self._hellos)

    def drop_hello(self, index: int) -> None:
        """The HSRP message in flight at ``index`` (modulo their number) is lost."""
        if self._hellos:
            lost = self._hellos.pop(index % len(self._hellos))
            lost.cancelled = True
            self._taint(lost.out.side, self.now)

    def duplicate_hello(self, index: int) -> None:
        """The HSRP message in flight at ``index`` arrives twice (the copy after it)."""
        if self._hellos:
            twin = self._hellos[index % len(self._hellos)]
            self._order += 1
            copy = _HelloFlight(when=twin.when, order=self._order, sender=twin.sender, out=twin.out)
            self._hellos.append(copy)
            self._push_hello(copy)
            self._taint(twin.out.side, twin.when)

    def delay_hello(self, index: int, ms: int) -> None:
        """The HSRP message in flight at ``index`` arrives ``ms`` later (reordered)."""
        if self._hellos and ms > 0:
            at = index % len(self._hellos)
            late = self._hellos[at]
            late.cancelled = True
            moved = _HelloFlight(
                when=late.when + ms, order=late.order, sender=late.sender, out=late.out
            )
            self._hellos[at] = moved
            self._push_hello(moved)
            self._taint(late.out.side, moved.when)

    def _hsrp_arrives(self, index: int, out: SendHsrp) -> None:
        router = self._slots[index].router
        if router is None or not self._slots[index].iface_up[out.side]:
            return
        if self.partitioned[out.side]:  # lost between the halves (the switch still learned)
            return
        router.receive_hsrp(out.side, out.payload, out.src, self.now)
        self._collect(index)

    def _peer_receive(self, esp: bytes) -> None:
        if len(esp) < 8:
            return
        spi = int.from_bytes(esp[:4], "big")
        sa = next((s for s in self.peer_sas.values() if s.inbound.spi == spi), None)
        if sa is None:
            self._peer_drop("unknown-spi")
            return
        inner = sa.inbound.decapsulate(esp)
        if isinstance(inner, Drop):
            self._peer_drop(str(inner.reason))
            return
        self.accepted_by_peer.append((self.now, spi, int.from_bytes(esp[4:8], "big")))
        self.stats.delivered_to_remote += 1
        self.stats.last_remote_delivery_ms = self.now

    def _peer_drop(self, reason: str) -> None:
        # "Refused as a replay" is the peer's window saying no, as the model counts it; an
        # SPI the peer no longer holds (a pair deleted before the standby learnt it) or a
        # bad ICV is a drop of another kind, counted in ``peer_drops`` only.
        if reason == "replay":
            self.stats.peer_refused += 1
        self.stats.peer_drops[reason] = self.stats.peer_drops.get(reason, 0) + 1

    def _lan_receive(self) -> None:
        self.stats.delivered_to_lan += 1
        self.stats.last_lan_delivery_ms = self.now

    # --- internals: SSP ------------------------------------------------------------------

    def _inside_path(self) -> bool:
        """SSP can carry octets: both routers up, both inside interfaces up, the inside
        segment whole, SSP not broken."""
        return not (self._ssp_broken or self.partitioned[Side.INSIDE]) and all(
            s.router is not None and s.iface_up[Side.INSIDE] for s in self._slots
        )

    def _ssp_open(self, index: int, out: SspOpen) -> None:
        other = 1 - index
        number = self._next_connection
        self._next_connection += 1
        reachable = self._inside_path()
        self._record(
            Segment.SSP,
            "ssp-open",
            self.name(index),
            src=out.src,
            dst=out.dst,
            payload=b"",
            delivered=reachable,
            connection=number,
        )

        def arrive() -> None:
            server = self._slots[other].router
            accepted = (
                self._inside_path() and server is not None and server.ssp_accept(out.src, self.now)
            )
            # The SYN-ACK leaves before anything the server writes on the new connection.
            self._later(partial(answer, accepted), delay=self.ssp_latency_ms, rank=_RANK_SSP)
            if accepted and server is not None:
                slot = self._slots[other]
                if slot.connection:
                    self._dead_connections.add(slot.connection)
                slot.connection = number
                slot.numbers[server.ssp_connection_id] = number
                self._collect(other)

        opener = self._slots[index].router

        def answer(accepted: bool) -> None:
            client = self._slots[index].router
            if client is None or client is not opener:  # crashed (and maybe rebooted) since
                self._dead_connections.add(number)
                return
            if accepted and number not in self._dead_connections:
                slot = self._slots[index]
                slot.connection = number
                client.ssp_connected(self.now)
                slot.numbers[client.ssp_connection_id] = number
            else:
                client.ssp_connect_failed(self.now)
            self._collect(index)

        latency = self.ssp_latency_ms
        if reachable:
            self._later(arrive, delay=latency, rank=_RANK_SSP)
        else:
            self._later(partial(answer, False), delay=2 * latency, rank=_RANK_SSP)

    def _ssp_write(self, index: int, number: int, data: bytes) -> None:
        if not number or number in self._dead_connections or number in self._closed:
            return
        if self.ssp_tap is not None:
            self.ssp_tap(number, index, data)
        alive = self._inside_path()
        self._record(
            Segment.SSP,
            "ssp-data",
            self.name(index),
            src=self._ssp_src(index),
            dst=self._ssp_src(1 - index),
            payload=data,
            delivered=alive,
            connection=number,
        )
        self._ssp_writes += 1
        if not alive:
            # The path is down: TCP keeps the octets and retransmits them, in order, when
            # it returns (``_path_restored``), unless the connection ends first.
            self._stalled.append((self._ssp_writes, number, index, data))
            return
        self._deliver_later(self._ssp_writes, number, index, data)

    def _deliver_later(self, order: int, number: int, index: int, data: bytes | None) -> None:
        """Octets (or, for None, the FIN) from ``index`` arrive one SSP latency from now, or
        with the last octets still on their way if those arrive later."""
        other = 1 - index
        now, dead = self.now, self._dead_connections
        self._ssp_due = [(due, n) for due, n in self._ssp_due if due > now and n not in dead]
        when = max([now + self.ssp_latency_ms, *(due for due, _ in self._ssp_due)])
        if when > now:
            self._ssp_due.append((when, number))

        def arrive() -> None:
            if number in self._dead_connections:
                return
            if self._ssp_broken:  # silenced while on the wire: lost, sent again on heal
                self._stalled.append((order, number, index, data))
                return
            if self._slots[other].connection != number:
                return
            router = self._slots[other].router
            if data is None:
                self._slots[other].connection = 0
            if router is not None:
                router.ssp_receive(b"" if data is None else data, self.now)
                self._collect(other)

        self._later(arrive, delay=when - now, rank=_RANK_SSP)

    def _path_restored(self) -> None:
        """The inside path works again: what waited goes out, in the order written."""
        stalled, self._stalled = sorted(self._stalled, key=lambda entry: entry[0]), []
        for order, number, index, data in stalled:
            if number not in self._dead_connections:
                self._deliver_later(order, number, index, data)

    def _ssp_shut(self, index: int, number: int) -> None:
        if self._slots[index].connection == number:
            self._slots[index].connection = 0
        if not number or number in self._dead_connections or number in self._closed:
            return
        # Nothing written after the FIN arrives; what was written before still does.
        self._closed.add(number)
        other = 1 - index
        alive = self._inside_path()
        self._record(
            Segment.SSP,
            "ssp-close",
            self.name(index),
            src=self._ssp_src(index),
            dst=self._ssp_src(other),
            payload=b"",
            delivered=alive,
            connection=number,
        )
        self._ssp_writes += 1
        if alive:
            self._deliver_later(self._ssp_writes, number, index, None)
        else:
            self._stalled.append((self._ssp_writes, number, index, None))

    def _ssp_src(self, index: int) -> IPv4Address:
        router = self._slots[index].router
        if router is not None:
            return router.ssp_address
        inside = self._slots[index].config.inside_interface()
        assert inside is not None
        assert inside.address is not None
        return inside.address.ip


class _NoJitter:
    """An entropy source for HSRP that always draws 0: hellos exactly every hello time."""

    def token_bytes(self, n: int) -> bytes:
        return bytes(n)

    def randbelow(self, n: int) -> int:
        if n < 1:
            msg = f"randbelow bound {n} must be at least 1"
            raise ValueError(msg)
        return 0


def _router_mac(index: int, side: Side) -> bytes:
    return bytes((0x02, 0, 0, 0, index + 1, 1 if side is Side.INSIDE else 2))


@cache
def _traffic_template(src: IPv4Address, dst: IPv4Address, size: int) -> tuple[bytes, bytes]:
    """The IPv4 + UDP headers of a ``size``-octet test packet, and its padding.

    Only the 8-octet sequence number varies, so the UDP checksum is left out (0 is
    allowed over IPv4, RFC 768) and the IPv4 header, checksum included, is constant.
    """
    padding = bytes(max(0, size - _TRAFFIC_HEADERS - 8))
    udp = build_udp(
        src=src,
        dst=dst,
        src_port=_TRAFFIC_PORT,
        dst_port=_TRAFFIC_PORT,
        payload=bytes(8) + padding,
        checksum=False,
    )
    return build_ipv4(src=src, dst=dst, protocol=UDP, payload=udp)[:_TRAFFIC_HEADERS], padding


def _traffic(src: IPv4Address, dst: IPv4Address, seq: int, size: int) -> bytes:
    headers, padding = _traffic_template(src, dst, size)
    return headers + seq.to_bytes(8, "big") + padding


def _ip_addresses(packet: bytes) -> tuple[IPv4Address, IPv4Address]:
    if len(packet) < _IPV4_HEADER:
        return IPv4Address(0), IPv4Address(0)
    return IPv4Address(packet[12:16]), IPv4Address(packet[16:20])


def _permits(acl: AccessList, src: IPv4Address, dst: IPv4Address) -> bool:
    """Whether some ``permit`` line of the crypto ACL covers (src, dst), ports aside.

    Deliberately coarser than the forwarder's walk (an independent over-approximation:
    any permitted pair of addresses seen in the clear on the outside counts as a leak).
    """
    return any(
        entry.action == "permit" and entry.source.matches(src) and entry.destination.matches(dst)
        for entry in acl.entries
    )


def _protected_network(acl: AccessList | None) -> IPv4Network:
    """The remote LAN the crypto ACL protects (the document's ``permit ip any NET WILD``)."""
    for entry in acl.entries if acl is not None else ():
        if entry.action == "permit":
            return IPv4Network(f"{entry.destination.address}/{entry.destination.wildcard}")
    return IPv4Network("192.168.4.0/24")
