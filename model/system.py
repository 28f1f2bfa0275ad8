"""The composed cluster: two routers, their segments, SSP, the remote peer and the LAN host.

Theory of operation
-------------------
``System`` is the whole world at one instant ``now`` (integer ms). ``apply(system,
op)`` returns the next world and never changes its argument. Inside, the world is
advanced by *events* in a fixed order: at equal times HSRP deliveries come first,
then SSP deliveries, then HSRP timers, then SSP timers, then SA expiries; ties
between routers go to router 0. Nothing is random: hello jitter, SPIs, cookies
and every fault come in as data.

The pieces, each with its own rules file:

- ``hsrp``: one RFC 2281 machine per router and side. A router's interface
  being down disables its group (event b); tracking lowers the other group's
  priority by the configured decrement (document: "the interfaces must track
  each other"). ``standby delay minimum/reload`` postpone event a. A group named by
  ``redundancy`` has SSP as its redundancy client: ``preempt delay sync`` waits for
  the router to be in step (``in_step``: the other end's whole copy arrived, see
  ``ssp``); other groups have no client.
- ``ssp``: the connection epochs, keepalives and dead timer, device role.
- ``sadb``: the SA records and the ahead rule (hold-back + jump).
- ``vam``: card admission; ``topology``: LAN → remote LAN reachability.

Data path. The LAN host's packets go to the router the inside segment's ARP
entry points at (the last router to send a gratuitous ARP for the inside VIP,
action I); it forwards only if Active for the inside group, encrypts only if it
holds an ACTIVE SA, and sends only if Active for the outside group (a router
that is not Active for the outside VIP never sends or accepts tunnel traffic).
Matching traffic is never forwarded in clear: without an SA it is dropped. The
peer's packets go to the outside segment's ARP owner, which accepts them only if
Active for the outside group and holding the SA, checks the hold-back limit and
the anti-replay window, and forwards to the LAN if Active for the inside group.

Takeover. When a router's device role becomes ACTIVE it promotes every standby
copy that is usable (not stale, inbound state known, not expired) by the jump
of ``sadb`` and discards the others (counted: they must be renegotiated); if SSP
is up it then sends the peer a full copy of everything. A router that leaves
ACTIVE keeps its SAs as stale standby copies until the new active refreshes them.

Staleness (for I6). A standby copy may be promoted only while SSP is up, or
within ``ssp_grace_ms`` (hold + keepalive + latency) of the last thing SSP
delivered: older than that, SSP died while the active lived on and deletes may
have been missed. A new SSP connection marks every copy stale until the active's
full copy replaces it.

Full copies. Two full copies of one SA can be in flight at once (a standby's resync
request crosses the first), so a full copy may land after the standby took over,
used the SA and left ACTIVE again. Two rules keep that safe (both found by Z3):
a standby never lowers a copy — ``BulkBegin`` remembers the copies it clears and an
``Add`` installs at least what the router held or remembers, while acknowledging the
Add's own values, so the sender's floors rise only to what it sent (``I3-late-add``);
and a ``Refuse`` drops the sender's floors only if it answers the latest Add of the SA
(Adds carry a serial), since a later copy may have been admitted (``I3-early-refusal``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from operator import attrgetter
from typing import Final

from . import hsrp, operations, ssp, vam
from .hsrp import Event, GroupParams, GroupState, Phase
from .params import ClusterParams, GroupSide, RouterParams
from .sadb import (
    SEQ_MAX,
    Counter,
    HaStatus,
    IkeSa,
    IpsecSa,
    Kind,
    accept_window_range,
    limit,
    new_counter,
    promote_counter,
)
from .ssp import Role
from .topology import RouterView, lan_reaches_remote

__all__ = [
    "SIDES",
    "Capture",
    "HsrpInFlight",
    "LogEntry",
    "PeerSa",
    "Router",
    "System",
    "WireRun",
    "apply",
    "boot",
    "in_step",
]

SIDES: Final = (GroupSide.INSIDE, GroupSide.OUTSIDE)
MAX_EVENTS_PER_ADVANCE: Final = 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class WireRun:
    """A run of consecutive ESP sequence numbers sent or accepted on one SPI."""

    time_ms: int
    router: int | None
    """Router index, or None for the remote peer."""
    spi: int
    first: int
    last: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Capture:
    """Peer → cluster ESP packets an attacker on the outside segment recorded."""

    spi: int
    first: int
    last: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LogEntry:
    """A notable event, for timelines and for history-based invariants."""

    time_ms: int
    router: int | None
    kind: str
    detail: str


@dataclass(slots=True, kw_only=True)
class PeerSa:
    """The remote peer's view of one SA pair."""

    sa_id: int
    spi_to_cluster: int
    """The cluster's inbound SPI."""
    spi_from_cluster: int
    """The cluster's outbound SPI."""
    sent: int = 0
    """Highest sequence number the peer sent."""
    top: int = 0
    """Right edge of the peer's window for cluster → peer packets."""
    seen: frozenset[int] = frozenset()
    dpd_in: int = 0
    """Highest R-U-THERE number accepted from the cluster."""


@dataclass(slots=True, kw_only=True)
class HsrpInFlight:
    """An HSRP message on a segment."""

    deliver_at: int
    sender: int
    side: GroupSide
    message: hsrp.Message


@dataclass(slots=True, kw_only=True)
class SspInFlight:
    """An SSP message on the connection."""

    deliver_at: int
    sender: int
    epoch: int
    message: ssp.SspMessage
    held: bool = False
    """Written while the path was down: it waits for the path (TCP retransmits it then).
    A message written while the path was up is on the wire and arrives regardless."""


@dataclass(slots=True, kw_only=True)
class SspOpenStep:
    """A connection attempt on its way: the client's request reaching the server
    (``answer`` None) or the server's answer reaching the client (True: accepted)."""

    at: int
    epoch: int
    client: int
    answer: bool | None = None


@dataclass(slots=True, kw_only=True)
class Router:
    """One router's state. Everything but ``params`` and the overrides is lost on a crash."""

    params: RouterParams
    up: bool = True
    boot_ms: int = 0
    iface_up: dict[GroupSide, bool] = field(default_factory=lambda: dict.fromkeys(SIDES, True))
    priority: dict[GroupSide, int] = field(default_factory=dict)
    """Configured priority per side (``SetPriority`` changes it)."""
    preempt: dict[GroupSide, bool] = field(default_factory=dict)
    groups: dict[GroupSide, GroupState] = field(default_factory=dict)
    phase_since: dict[GroupSide, int] = field(default_factory=dict)
    """When each group last changed phase, ms."""
    role: Role = Role.NONE
    role_since_ms: int = 0
    jitter_index: int = 0
    # SSP
    epoch: int | None = None
    """SSP connection epoch this router is on, or None when disconnected."""
    opening: int | None = None
    """Epoch of a connection this end has started but that is not up yet (handshake)."""
    got_hello: bool = False
    """Opening: the other end's ``Hello`` arrived (and our ``Confirm`` went out)."""
    connecting: int | None = None
    """Client: the epoch of its attempt still on its way (no answer yet)."""
    attempt_ms: int = 0
    """Client: when it last tried to connect (attempts keep a fixed period)."""
    last_frame_ms: int = 0
    """When this end last received anything on its connection (the dead timer)."""
    last_heard_ms: int = 0
    ssp_hello_due: int | None = None
    ssp_retry_due: int | None = None
    ssp_counters: ssp.SspCounters = field(default_factory=ssp.SspCounters)
    peer_role: Role | None = None
    """The other end's last announced role on this connection (None: not heard yet)."""
    bulk_sent: bool = False
    """ACTIVE only: a full copy went out on this connection since the role began."""
    copy_open: bool = False
    """Not ACTIVE: a ``BulkBegin`` arrived on this connection and its ``BulkEnd`` has not."""
    copy_whole: bool = False
    """A whole copy from the other end arrived on this connection since it announced that
    it became ACTIVE (``ssp``: in step)."""
    floor_incarnation: int | None = None
    """ACTIVE only: the other end's incarnation the hold-back floors were set for."""
    unreplicated: set[int] = field(default_factory=set)
    """SAs a rebooted other end may have used (sadb rule 6): capped, never copied again."""
    adds_written: int = 0
    """Adds this router has written (each ``Add`` carries the count as its serial)."""
    last_add: dict[int, int] = field(default_factory=dict)
    """ACTIVE only: SA id -> serial of the latest Add of it written on this connection
    (a ``Refuse`` of an older one is ignored: the later copy may be admitted)."""
    # SAs
    ike: dict[int, IkeSa] = field(default_factory=dict)
    sas: dict[int, IpsecSa] = field(default_factory=dict)
    degraded: set[int] = field(default_factory=set)
    """SA ids the standby's card refused (HA degraded, I7)."""
    remembered: dict[int, tuple[int, ssp.Values]] = field(default_factory=dict)
    """SAs this router dropped (discarded at takeover or deleted): (expiry ms, last counter
    values), announced until expiry so an active that still holds the SA adopts them."""
    remembered_dpd: dict[int, tuple[int, int]] = field(default_factory=dict)
    """The same for IKE SA copies cleared by a full copy or a resync: IKE id -> (expiry
    ms, DPD_OUT), so a late Add never lowers this router's own R-U-THERE numbers."""
    tombstones: dict[int, int] = field(default_factory=dict)
    """SAs this router deleted or saw expire: SA id -> its expiry (ms). Until then a copy
    of it is refused (I6: a replicated add must not bring a deleted SA back)."""
    counters: dict[str, int] = field(default_factory=dict)

    def count(self, name: str, amount: int = 1) -> None:
        """Add to a named drop/event counter."""
        self.counters[name] = self.counters.get(name, 0) + amount

    def group_params(self, side: GroupSide) -> GroupParams:
        """The HSRP parameters of ``side`` with the current priority/preempt overrides."""
        sp = self.params.inside if side is GroupSide.INSIDE else self.params.outside
        return GroupParams(
            group=sp.group,
            own_ip=sp.address,
            virtual_ip=sp.virtual_ip,
            priority=self.priority[side],
            preempt=self.preempt[side],
            preempt_delay_ms=sp.preempt_delay_ms,
            hello_ms=sp.hello_ms,
            hold_ms=sp.hold_ms,
            auth=sp.auth,
            preempt_reload_ms=sp.preempt_reload_ms,
            preempt_sync_ms=sp.preempt_sync_ms,
        )

    def effective_priority(self, side: GroupSide) -> int:
        """Configured priority minus the decrements of tracked interfaces that are down."""
        sp = self.params.inside if side is GroupSide.INSIDE else self.params.outside
        decrement = sum(dec for tracked, dec in sp.tracks if not self.iface_up[tracked])
        return max(0, min(255, self.priority[side] - decrement))


@dataclass(slots=True, kw_only=True)
class System:
    """The whole simulated world. Use ``boot`` to make one and ``apply`` to step it."""

    params: ClusterParams
    now: int
    routers: list[Router]
    hsrp_in_flight: list[HsrpInFlight] = field(default_factory=list)
    ssp_in_flight: list[SspInFlight] = field(default_factory=list)
    ssp_opening: list[SspOpenStep] = field(default_factory=list)
    ssp_epoch: int = 0
    ssp_link_broken: bool = False
    ssp_latency_ms: int = 0
    partitioned: dict[GroupSide, bool] = field(default_factory=lambda: dict.fromkeys(SIDES, False))
    arp_owner: dict[GroupSide, int | None] = field(
        default_factory=lambda: dict.fromkeys(SIDES, None)
    )
    """Per segment, the router whose port the virtual MAC was last seen on (gratuitous
    ARP, or a Hello sent while Active): where traffic for the virtual IP goes."""
    peer: dict[int, PeerSa] = field(default_factory=dict)
    captures: list[Capture] = field(default_factory=list)
    transmitted: list[WireRun] = field(default_factory=list)
    """Every ESP run a router sent to the peer (I3)."""
    accepted: list[WireRun] = field(default_factory=list)
    """Every ESP run a router accepted from the peer (I4)."""
    peer_refused: int = 0
    """Cluster → peer packets the peer refused as replays."""
    dpd_sent: list[tuple[int, int, int]] = field(default_factory=list)
    """(time, IKE id, R-U-THERE number) the cluster sent (I8)."""
    dpd_completed: int = 0
    """DPD exchanges (either direction) that got their R-U-THERE-ACK."""
    delivered_to_remote: int = 0
    delivered_to_lan: int = 0
    cleartext_leaked: int = 0
    """Permit traffic sent unencrypted on the outside (I9); the model never does."""
    deleted: dict[int, str] = field(default_factory=dict)
    """SA ids gone from the cluster: "acked", "unacked" (delete not yet confirmed), "expired"."""
    refusals: list[LogEntry] = field(default_factory=list)
    takeovers: list[tuple[int, int, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    """(time, router, usable standby copies, promoted SA ids) of every takeover (I5)."""
    log: list[LogEntry] = field(default_factory=list)
    hsrp_cells: dict[str, int] = field(default_factory=dict)
    """How often each RFC 2281 §5.7 cell (``hsrp.Cell.label``) was applied, whether or not
    it changed the phase (coverage: the log notes only phase changes)."""
    dropped: dict[str, int] = field(default_factory=dict)
    """Packets lost outside any router (no gateway answering for a virtual IP)."""
    clean_since: dict[GroupSide, int] = field(default_factory=lambda: dict.fromkeys(SIDES, 0))
    """Last time a fault touched HSRP on the segment (loss, delay, duplicate, partition)."""
    disturbed_ms: int = 0
    """Last time anything changed HSRP's inputs (crash, interface, priority, partition…)."""

    # ------------------------------------------------------------------ helpers

    def other(self, index: int) -> int:
        """The index of the other router."""
        return 1 - index

    def count(self, name: str, amount: int = 1) -> None:
        """Add to a named environment drop counter."""
        self.dropped[name] = self.dropped.get(name, 0) + amount

    def note(self, router: int | None, kind: str, detail: str = "") -> None:
        """Append to the event log."""
        self.log.append(LogEntry(time_ms=self.now, router=router, kind=kind, detail=detail))

    def jump(self, kind: Kind) -> int:
        """``J`` of the ahead rule: the configured interval (``crypto map ha``)."""
        match kind:
            case Kind.OUT:
                return self.params.outbound_interval
            case Kind.IN:
                return self.params.inbound_interval
            case Kind.BYTES:
                return self.params.byte_interval
            case Kind.DPD_OUT:
                return self.params.dpd_interval

    def interval(self, kind: Kind) -> int:
        """How far a counter moves between two updates: half the jump, at least 1."""
        return max(1, (self.jump(kind) + 1) // 2)

    def ssp_link_ok(self) -> bool:
        """SSP can carry messages: not cut/silenced, and the inside segment it runs on (its
        ``remote`` is the partner's inside address) is neither partitioned nor shut on
        either router."""
        return (
            not self.ssp_link_broken
            and not self.partitioned[GroupSide.INSIDE]
            and all(r.iface_up[GroupSide.INSIDE] for r in self.routers)
        )

    def owner(self, side: GroupSide) -> int | None:
        """The router that owns a virtual IP: the ARP target, if it is up and Active."""
        index = self.arp_owner[side]
        if index is None:
            return None
        router = self.routers[index]
        if router.up and router.groups[side].phase is Phase.ACTIVE:
            return index
        return None

    def reachable(self) -> bool:
        """LAN host → remote LAN through the current owners (topology.lan_reaches_remote)."""
        views = [
            RouterView(
                name=r.params.name,
                up=r.up,
                owns_inside_vip=self.owner(GroupSide.INSIDE) == i,
                owns_outside_vip=self.owner(GroupSide.OUTSIDE) == i,
                has_active_sa=any(sa.status is HaStatus.ACTIVE for sa in r.sas.values()),
            )
            for i, r in enumerate(self.routers)
        ]
        return lan_reaches_remote(views)


# ---------------------------------------------------------------------- boot


def boot(params: ClusterParams, *, start_ms: int = 1_000) -> System:
    """Both routers powered on at ``start_ms`` (non-zero: trio's MockClock advice)."""
    system = System(
        params=params,
        now=start_ms,
        routers=[Router(params=rp) for rp in params.routers],
        ssp_latency_ms=params.link_latency_ms,
    )
    for index, router in enumerate(system.routers):
        for side in SIDES:
            sp = router.params.inside if side is GroupSide.INSIDE else router.params.outside
            router.priority[side] = sp.priority
            router.preempt[side] = sp.preempt
        _power_on(system, index)
    system.disturbed_ms = start_ms
    return system


def _power_on(system: System, index: int) -> None:
    router = system.routers[index]
    router.up = True
    router.boot_ms = system.now
    router.role = Role.NONE
    router.role_since_ms = system.now
    router.epoch = None
    router.opening = None
    router.connecting = None
    router.ssp_hello_due = None
    router.ssp_retry_due = system.now if is_ssp_client(router) else None
    router.ike.clear()
    router.sas.clear()
    router.degraded.clear()
    router.remembered.clear()
    router.remembered_dpd.clear()
    router.tombstones.clear()
    router.counters.clear()
    router.floor_incarnation = None
    router.unreplicated.clear()
    router.adds_written = 0
    router.last_add.clear()
    router.copy_open = False
    router.copy_whole = False
    router.ssp_counters = ssp.SspCounters()
    router.jitter_index = 0
    for side in SIDES:
        gp = router.group_params(side)
        state = hsrp.initial(gp, priority=router.effective_priority(side))
        sp = router.params.inside if side is GroupSide.INSIDE else router.params.outside
        if router.iface_up[side]:
            state = replace(state, enable_due=system.now + sp.delay_reload_ms)
        router.groups[side] = state
        router.phase_since[side] = system.now
    system.note(index, "boot", f"HSRP starts in {_side_delays(router)}")


def _side_delays(router: Router) -> str:
    return f"{router.params.inside.delay_reload_ms} ms (standby delay reload)"


# -------------------------------------------------------------------- apply


def apply(system: System, op: operations.Operation) -> System:
    """The world after ``op``. Pure: ``system`` is not changed."""
    nxt = copy.deepcopy(system)
    apply_in_place(nxt, op)
    return nxt


def apply_in_place(system: System, op: operations.Operation) -> None:
    """Like ``apply`` but mutates ``system`` (for long scripted runs)."""
    path_was_up = system.ssp_link_ok()
    _dispatch(system, op)
    if not path_was_up and system.ssp_link_ok():
        _ssp_path_restored(system)


def _ssp_path_restored(system: System) -> None:
    """SSP messages held while the path was down go out again, in order (TCP retransmits):
    each arrives one latency after the path is back, or later if already due later."""
    resend = system.now + system.ssp_latency_ms
    for msg in system.ssp_in_flight:
        if msg.held:
            msg.deliver_at = max(msg.deliver_at, resend)
            msg.held = False


def _dispatch(system: System, op: operations.Operation) -> None:
    match op:
        case operations.Advance(ms=ms):
            if ms < 0:
                msg = f"Advance ms {ms} is negative (time only moves forward)"
                raise ValueError(msg)
            _run_until(system, system.now + ms)
        case operations.AdvanceToNextEvent():
            due = _next_event_time(system)
            if due is not None:
                _run_until(system, max(due, system.now))
        case operations.ExpireSoonest():
            expiries = [sa.expires_ms for r in system.routers if r.up for sa in r.sas.values()]
            if expiries:
                _run_until(system, max(min(expiries), system.now))
        case operations.Crash(router=index):
            _crash(system, index)
        case operations.Restart(router=index):
            if not system.routers[index].up:
                system.disturbed_ms = system.now
                _power_on(system, index)
        case operations.InterfaceDown(router=index, side=side):
            _interface(system, index, side, up=False)
        case operations.InterfaceUp(router=index, side=side):
            _interface(system, index, side, up=True)
        case operations.Partition(side=side):
            system.partitioned[side] = True
            system.clean_since[side] = system.now
            system.disturbed_ms = system.now
            system.note(None, "partition", side.value)
        case operations.Heal(side=side):
            if system.partitioned[side]:
                system.partitioned[side] = False
                system.clean_since[side] = system.now
                system.disturbed_ms = system.now
                system.note(None, "heal", side.value)
        case operations.DropHello(index=i):
            if system.hsrp_in_flight:
                lost = system.hsrp_in_flight.pop(i % len(system.hsrp_in_flight))
                _taint(system, lost.side, system.now)
        case operations.DuplicateHello(index=i):
            if system.hsrp_in_flight:
                twin = system.hsrp_in_flight[i % len(system.hsrp_in_flight)]
                system.hsrp_in_flight.append(copy.copy(twin))
                _taint(system, twin.side, twin.deliver_at)
        case operations.DelayHello(index=i, ms=ms):
            if system.hsrp_in_flight and ms > 0:
                late = system.hsrp_in_flight[i % len(system.hsrp_in_flight)]
                late.deliver_at += ms
                _taint(system, late.side, late.deliver_at)
        case operations.SspCut():
            system.note(None, "ssp-cut")
            system.ssp_link_broken = True
            system.ssp_in_flight.clear()
            for index in range(2):
                _ssp_disconnect(system, index, "connection reset", notify_peer=False)
        case operations.SspSilent():
            system.note(None, "ssp-silent")
            system.ssp_link_broken = True
            for in_flight in system.ssp_in_flight:  # lost on the wire; TCP sends them again
                in_flight.held = True
        case operations.SspHeal():
            if system.ssp_link_broken:
                system.note(None, "ssp-heal")
            system.ssp_link_broken = False
        case operations.SspDelay(ms=ms):
            system.ssp_latency_ms = max(0, ms)
        case operations.Establish():
            _establish(system, op)
        case operations.Rekey(sa_id=old, new_sa_id=new, spi_in=spi_in, spi_out=spi_out):
            holder = _active_holder(system, old)
            if holder is None:
                system.note(None, "rekey-refused", f"SA {old} not active anywhere")
                return
            ike_id = system.routers[holder].sas[old].ike_id
            ike = system.routers[holder].ike.get(ike_id)
            if _establish(
                system,
                operations.Establish(
                    sa_id=new,
                    spi_in=spi_in,
                    spi_out=spi_out,
                    cookie_i=ike_id,
                    cookie_r=ike.cookie_r if ike else 0,
                ),
            ):
                _delete_sa(system, holder, old, reason="rekeyed")
        case operations.Delete(sa_id=sa_id):
            holder = _active_holder(system, sa_id)
            if holder is not None:
                _delete_sa(system, holder, sa_id, reason="deleted")
        case operations.SendTraffic(packets=packets, size=size):
            _send_traffic(system, packets, size)
        case operations.ReceiveTraffic(packets=packets, size=size):
            _receive_traffic(system, packets, size)
        case operations.ReplayCaptured(pick=pick):
            _replay(system, pick)
        case operations.ReplayOld(age=age):
            _replay_old(system, age)
        case operations.ForgeCaptured(pick=pick, ahead=ahead):
            _forge(system, pick, ahead)
        case operations.Resync(router=index):
            _resync(system, index)
        case operations.SetPriority(router=index, side=side, priority=priority):
            if not 1 <= priority <= 255:
                msg = f"priority {priority} out of range 1-255"
                raise ValueError(msg)
            system.routers[index].priority[side] = priority
            system.disturbed_ms = system.now
            _refresh_priorities(system, index)
        case operations.SetPreempt(router=index, side=side, preempt=preempt):
            system.routers[index].preempt[side] = preempt
            system.disturbed_ms = system.now
        case operations.DpdProbe(from_peer=from_peer):
            _dpd(system, from_peer=from_peer)


def _taint(system: System, side: GroupSide, until: int) -> None:
    system.clean_since[side] = max(system.clean_since[side], until, system.now)
    system.disturbed_ms = max(system.disturbed_ms, until, system.now)


# ------------------------------------------------------------ event engine


def _next_event(system: System) -> tuple[int, str, int, int] | None:
    """The first of everything pending, as (time, what, router, side-order), or None.

    Candidates are ranked by (time, category, router, side-order): at one instant the
    earliest category fires first (HSRP deliveries, SSP connection steps, SSP
    deliveries, HSRP timers, SSP timers, SA expiries), then the lower router, then the
    lower side-order. HSRP deliveries at one instant go in the order sent, so one
    candidate stands for all of them (``_fire`` takes the earliest sent).
    """
    # Candidates are visited in rank order, so a later one replaces the best so far only
    # when it is strictly earlier.
    best: tuple[int, str, int, int] | None = None
    best_due: int | None = None
    if system.hsrp_in_flight:
        best_due = min(map(_DELIVER_AT, system.hsrp_in_flight))
        best = (best_due, "hsrp-deliver", -1, 0)
    if system.ssp_opening:
        # Before any SSP message due at the same instant: the world's answer to a
        # connection request leaves before what the server then writes on it.
        due = min(step.at for step in system.ssp_opening)
        if best_due is None or due < best_due:
            best_due, best = due, (due, "ssp-open", -1, 0)
    if system.ssp_in_flight:
        smsg = system.ssp_in_flight[0]
        if not smsg.held or system.ssp_link_ok():  # held ones wait for the path (in order)
            due = smsg.deliver_at
            if best_due is None or due < best_due:
                best_due, best = due, (due, "ssp-deliver", smsg.sender, 0)
    running = [(index, router) for index, router in enumerate(system.routers) if router.up]
    for index, router in running:
        for order, side in _SIDE_ORDERS:
            timer = hsrp.next_due(router.groups[side])
            if timer is not None and (best_due is None or timer < best_due):
                best_due, best = timer, (timer, _HSRP_TIMER, index, order)
    dead_ms = system.params.ssp_dead_ms
    for index, router in running:
        timer = router.ssp_hello_due
        if timer is not None and (best_due is None or timer < best_due):
            best_due, best = timer, (timer, "ssp-hello", index, 0)
        if router.epoch is not None or router.opening is not None:
            due = router.last_frame_ms + dead_ms
            if best_due is None or due < best_due:
                best_due, best = due, (due, "ssp-dead", index, 1)
        timer = router.ssp_retry_due
        if timer is not None and (best_due is None or timer < best_due):
            best_due, best = timer, (timer, "ssp-retry", index, 2)
    for index, router in running:
        if router.sas or router.ike:
            due = min(map(_EXPIRES_MS, chain(router.sas.values(), router.ike.values())))
            if best_due is None or due < best_due:
                best_due, best = due, (due, "expiry", index, 0)
    return best


_SIDE_ORDERS: Final = tuple(enumerate(SIDES))
_DELIVER_AT: Final = attrgetter("deliver_at")
_EXPIRES_MS: Final = attrgetter("expires_ms")


_HSRP_TIMER: Final = "hsrp-timer"
"""A group's timer (the side is the candidate's side-order, an index into ``SIDES``)."""


def _next_event_time(system: System) -> int | None:
    first = _next_event(system)
    return None if first is None else first[0]


def _run_until(system: System, target: int) -> None:
    for _ in range(MAX_EVENTS_PER_ADVANCE):
        first = _next_event(system)
        if first is None or first[0] > target:
            break
        due, what, index, order = first
        system.now = max(system.now, due)
        _fire(system, what, index, SIDES[order] if what == _HSRP_TIMER else None)
    else:  # pragma: no cover - a model bug, not an input error
        msg = f"more than {MAX_EVENTS_PER_ADVANCE} events before {target} ms"
        raise RuntimeError(msg)
    system.now = max(system.now, target)


def _fire(system: System, what: str, index: int, side: GroupSide | None) -> None:
    match what:
        case "hsrp-timer":
            assert side is not None
            _hsrp_timer(system, index, side)
        case "hsrp-deliver":
            pending = system.hsrp_in_flight
            due = [msg.deliver_at for msg in pending]
            _deliver_hsrp(system, pending.pop(due.index(min(due))))  # the first sent of those
        case "ssp-open":
            steps = system.ssp_opening
            first = min(range(len(steps)), key=lambda i: (steps[i].at, i))
            _ssp_open_step(system, steps.pop(first))
        case "ssp-deliver":
            _deliver_ssp(system, system.ssp_in_flight.pop(0))
        case "ssp-hello":
            _ssp_send(system, index, ssp.Heartbeat())
            system.routers[index].ssp_hello_due = system.now + system.params.ssp_hello_ms
        case "ssp-dead":
            _ssp_disconnect(system, index, "dead timer expired")
        case "ssp-retry":
            _ssp_try_connect(system, index)
        case "expiry":
            _expire(system, index)
        case _:  # pragma: no cover - every kind is above
            msg = f"unknown event kind {what!r}"
            raise AssertionError(msg)


# --------------------------------------------------------------------- HSRP


def _next_jitter(system: System, router: Router, hello_ms: int) -> int:
    values = system.params.jitter_ms
    if not values:
        return 0
    raw = values[router.jitter_index % len(values)]
    router.jitter_index += 1
    return raw % max(1, hello_ms // 4)


def _hsrp_timer(system: System, index: int, side: GroupSide) -> None:
    router = system.routers[index]
    deadline = hsrp.next_deadline(router.groups[side])
    assert deadline is not None
    event = deadline[1]
    gp = router.group_params(side)
    jitter = _next_jitter(system, router, gp.hello_ms) if event in _HELLO_ARMING else 0
    result = hsrp.step(gp, router.groups[side], event, now=system.now, jitter_ms=jitter)
    _hsrp_result(system, index, side, result)


_HELLO_ARMING: Final = frozenset({Event.A_ENABLED, Event.E_HELLO_TIMER})


def _deliver_hsrp(system: System, msg: HsrpInFlight) -> None:
    receiver = system.other(msg.sender)
    router = system.routers[receiver]
    if system.partitioned[msg.side] or not router.up or not router.iface_up[msg.side]:
        return
    gp = router.group_params(msg.side)
    result, _ = hsrp.receive(
        gp,
        router.groups[msg.side],
        msg.message,
        now=system.now,
        synchronised=in_step(system, receiver, msg.side),
    )
    _hsrp_result(system, receiver, msg.side, result)


def in_step(system: System, index: int, side: GroupSide) -> bool:
    """Whether the group's redundancy client is in step (``preempt delay sync``).

    Only a group that ``redundancy`` names has a client, SSP; any other group has none
    and is always in step. SSP is in step when this router is connected, has heard the
    other end's role, and the other end is not ACTIVE (nothing to copy) or its whole
    copy has arrived since it announced that it became ACTIVE (``ssp``: In step).
    """
    router = system.routers[index]
    sp = router.params.inside if side is GroupSide.INSIDE else router.params.outside
    if sp.name not in router.params.redundancy:
        return True
    if router.epoch is None or router.peer_role is None:
        return False
    return router.peer_role is not Role.ACTIVE or router.copy_whole


def _hsrp_result(system: System, index: int, side: GroupSide, result: hsrp.Step) -> None:
    router = system.routers[index]
    router.groups[side] = result.state
    for label in result.cells:
        system.hsrp_cells[label] = system.hsrp_cells.get(label, 0) + 1
    for out in result.outputs:
        match out:
            case hsrp.Send(message=message):
                if router.iface_up[side]:
                    if message.op is hsrp.OpCode.HELLO and message.state is Phase.ACTIVE:
                        # RFC 2281 §6.1: an Active router's Hellos carry the virtual MAC as
                        # source, so the segment's switches learn it on this port.
                        system.arp_owner[side] = index
                    system.hsrp_in_flight.append(
                        HsrpInFlight(
                            deliver_at=system.now + system.params.link_latency_ms,
                            sender=index,
                            side=side,
                            message=message,
                        )
                    )
            case hsrp.GratuitousArp():
                system.arp_owner[side] = index
                system.note(index, "garp", side.value)
            case hsrp.PhaseChanged(old=old, new=new, cell=cell):
                router.phase_since[side] = system.now
                system.note(index, "hsrp", f"{side.value} {old.value} -> {new.value} [{cell}]")
    _update_role(system, index)


def _interface(system: System, index: int, side: GroupSide, *, up: bool) -> None:
    router = system.routers[index]
    if router.iface_up[side] == up:
        return
    system.disturbed_ms = system.now
    router.iface_up[side] = up
    system.note(index, "interface", f"{side.value} {'up' if up else 'down'}")
    if not router.up:
        return
    sp = router.params.inside if side is GroupSide.INSIDE else router.params.outside
    if up:
        router.groups[side] = replace(
            router.groups[side], enable_due=system.now + sp.delay_minimum_ms
        )
    else:
        gp = router.group_params(side)
        result = hsrp.step(gp, router.groups[side], Event.B_DISABLED, now=system.now)
        _hsrp_result(system, index, side, result)
    _refresh_priorities(system, index)


def _refresh_priorities(system: System, index: int) -> None:
    router = system.routers[index]
    for side in SIDES:
        router.groups[side] = replace(router.groups[side], priority=router.effective_priority(side))


def _crash(system: System, index: int) -> None:
    router = system.routers[index]
    if not router.up:
        return
    system.disturbed_ms = system.now
    system.note(index, "crash")
    router.up = False
    for side in SIDES:
        router.groups[side] = hsrp.initial(router.group_params(side))
        router.phase_since[side] = system.now
    router.role = Role.NONE
    router.epoch = None
    router.opening = None
    router.connecting = None
    router.ssp_hello_due = None
    router.ssp_retry_due = None
    router.copy_open = False
    router.copy_whole = False
    router.ike.clear()
    router.sas.clear()
    router.degraded.clear()
    router.last_add.clear()
    # An HSRP frame already sent is on the wire and still arrives (a crash cannot recall
    # it): the Standby router may restart its Active timer on the crashed router's last
    # Hello. The SSP connection dies with the router, what it had written included.
    system.ssp_in_flight = [m for m in system.ssp_in_flight if m.sender != index]


# --------------------------------------------------------------- device role


def _update_role(system: System, index: int) -> None:
    router = system.routers[index]
    inside, outside = router.params.inside.name, router.params.outside.name
    # The groups ``redundancy`` names (a name both sides carry is the outside's).
    phases = [
        router.groups[GroupSide.OUTSIDE if name == outside else GroupSide.INSIDE].phase
        for name in router.params.redundancy
        if name in (inside, outside)
    ]
    role = ssp.device_role(phases) if router.up else Role.NONE
    if role is router.role:
        return
    old = router.role
    router.role = role
    router.role_since_ms = system.now
    system.note(index, "role", f"{old.value} -> {role.value}")
    router.bulk_sent = False
    if old is Role.ACTIVE:
        _demote(system, index)
    if role is Role.ACTIVE:
        _promote(system, index)
    _announce(system, index, reply_wanted=role is Role.ACTIVE)


def _demote(system: System, index: int) -> None:
    """Leaving ACTIVE: keep the SAs as stale copies until the new active refreshes them."""
    router = system.routers[index]
    router.last_add.clear()
    for sa_id, sa in router.sas.items():
        router.sas[sa_id] = replace(
            sa,
            status=HaStatus.STANDBY,
            stale=True,
            out=new_counter(sa.out.value),
            inbound=new_counter(sa.inbound.value),
            byte_count=new_counter(sa.byte_count.value),
        )
    for ike_id, ike in router.ike.items():
        router.ike[ike_id] = replace(
            ike, status=HaStatus.STANDBY, stale=True, dpd_out=new_counter(ike.dpd_out.value)
        )


def _promote(system: System, index: int) -> None:
    """Becoming ACTIVE: jump every usable copy ahead, discard the rest (sadb rules 2, 4, 5)."""
    router = system.routers[index]
    window = system.params.replay_window
    usable = sorted(
        sa_id
        for sa_id, sa in router.sas.items()
        if sa.status is HaStatus.STANDBY
        and copy_usable(system, index, stale=sa.stale)
        and sa.inbound_known
        and sa.expires_ms > system.now
    )
    promoted: list[int] = []
    for sa_id, sa in list(router.sas.items()):
        if sa.status is HaStatus.ACTIVE:
            continue
        if sa_id not in usable:
            _remember(router, sa)
            del router.sas[sa_id]
            router.count("takeover_discarded")
            system.note(index, "sa-discarded", f"SA {sa_id} unusable at takeover: renegotiate")
            continue
        inbound = promote_counter(sa.inbound, system.jump(Kind.IN))
        top = inbound.value
        router.sas[sa_id] = replace(
            sa,
            status=HaStatus.ACTIVE,
            stale=False,
            out=promote_counter(sa.out, system.jump(Kind.OUT)),
            inbound=inbound,
            seen=frozenset(range(max(1, top - window + 1), top + 1)),
            byte_count=promote_counter(sa.byte_count, system.jump(Kind.BYTES)),
        )
        promoted.append(sa_id)
    for ike_id, ike in list(router.ike.items()):
        if ike.status is HaStatus.ACTIVE:
            continue
        if not copy_usable(system, index, stale=ike.stale) or ike.expires_ms <= system.now:
            del router.ike[ike_id]
            continue
        router.ike[ike_id] = replace(
            ike,
            status=HaStatus.ACTIVE,
            stale=False,
            dpd_out=promote_counter(ike.dpd_out, system.jump(Kind.DPD_OUT)),
        )
    system.note(index, "takeover", f"usable={usable} promoted={promoted}")
    system.takeovers.append((system.now, index, tuple(usable), tuple(promoted)))
    for sa_id in promoted:
        if router.sas[sa_id].byte_count.value >= router.sas[sa_id].lifetime_bytes:
            _delete_sa(system, index, sa_id, reason="expired")


def _active_holder(system: System, sa_id: int) -> int | None:
    for index, router in enumerate(system.routers):
        sa = router.sas.get(sa_id)
        if router.up and sa is not None and sa.status is HaStatus.ACTIVE:
            return index
    return None


# ---------------------------------------------------------------------- SSP


def _ssp_send(system: System, index: int, message: ssp.SspMessage) -> None:
    router = system.routers[index]
    epoch = router.epoch
    if isinstance(message, ssp.Hello | ssp.Confirm | ssp.Heartbeat) and epoch is None:
        epoch = router.opening  # the handshake, and keepalives once keys exist
    if epoch is None:
        return
    router.ssp_counters = replace(
        router.ssp_counters, packets_sent=router.ssp_counters.packets_sent + 1
    )
    _ssp_write(system, index, epoch, message)


def _ssp_write(system: System, index: int, epoch: int, message: ssp.SspMessage) -> None:
    # A message written while the path is down is not lost: the connection holds it and
    # delivers it, in order, once the path is back (``_ssp_path_restored``), unless the
    # connection ends first (dead timer, cut, crash).
    last = system.ssp_in_flight[-1].deliver_at if system.ssp_in_flight else system.now
    system.ssp_in_flight.append(
        SspInFlight(
            deliver_at=max(last, system.now + system.ssp_latency_ms),
            sender=index,
            epoch=epoch,
            message=message,
            held=not system.ssp_link_ok(),
        )
    )


def is_ssp_client(router: Router) -> bool:
    """The router with the lower address on the SSP subnet opens the connection."""
    return router.params.inside.address < router.params.ssp_remote


def _ssp_try_connect(system: System, index: int) -> None:
    """The client's attempt: a request that reaches the server one latency later if the
    path and the server are up; otherwise the client hears "no" two latencies later."""
    router = system.routers[index]
    peer = system.routers[system.other(index)]
    router.ssp_retry_due = None
    if router.epoch is not None or router.opening is not None or router.connecting is not None:
        return
    system.ssp_epoch += 1
    router.connecting = system.ssp_epoch
    router.attempt_ms = system.now
    latency = system.ssp_latency_ms
    if peer.up and system.ssp_link_ok():
        step = SspOpenStep(at=system.now + latency, epoch=system.ssp_epoch, client=index)
    else:
        step = SspOpenStep(
            at=system.now + 2 * latency, epoch=system.ssp_epoch, client=index, answer=False
        )
    system.ssp_opening.append(step)


def _ssp_open_step(system: System, step: SspOpenStep) -> None:
    client = system.routers[step.client]
    server_index = system.other(step.client)
    server = system.routers[server_index]
    if step.answer is None:  # the request reaches the server
        accepted = server.up and system.ssp_link_ok()
        if accepted:
            _ssp_disconnect(
                system,
                server_index,
                "replaced by a new connection from the peer",
                notify_peer=False,
            )
            _ssp_start(system, server_index, step.epoch)
        system.ssp_opening.append(
            SspOpenStep(
                at=system.now + system.ssp_latency_ms,
                epoch=step.epoch,
                client=step.client,
                answer=accepted,
            )
        )
        return
    if not client.up or client.connecting != step.epoch:
        return  # the client crashed meanwhile: the connection died with it
    client.connecting = None
    if step.answer and server.up and server.opening == step.epoch:
        _ssp_start(system, step.client, step.epoch)
        return
    # Attempts keep a fixed period from the first, however long each took to fail.
    client.ssp_retry_due = max(system.now + 1, client.attempt_ms + system.params.ssp_retry_ms)


def _ssp_start(system: System, index: int, epoch: int) -> None:
    """This end of connection ``epoch`` exists: it writes its ``Hello``; its dead timer runs."""
    router = system.routers[index]
    router.opening = epoch
    router.got_hello = False
    router.last_frame_ms = system.now
    router.ssp_hello_due = None
    _ssp_send(system, index, ssp.Hello())


def _ssp_established(system: System, index: int) -> None:
    """This end has the other's ``Hello`` and ``Confirm``: the connection is up here."""
    router = system.routers[index]
    epoch = router.opening
    assert epoch is not None
    router.opening = None
    router.got_hello = False
    system.note(index, "ssp-connected", f"epoch {epoch}")
    _mark_copies_stale(router)
    router.epoch = epoch
    router.last_heard_ms = system.now
    router.ssp_retry_due = None
    router.peer_role = None
    router.bulk_sent = False
    router.copy_open = False
    router.copy_whole = False
    router.last_add.clear()
    _announce(system, index, reply_wanted=False)


def _mark_copies_stale(router: Router) -> None:
    """Deletes may have been missed while SSP was down: no copy may be promoted (I6)."""
    for sa_id, sa in router.sas.items():
        if sa.status is HaStatus.STANDBY:
            router.sas[sa_id] = replace(sa, stale=True)
    for ike_id, ike in router.ike.items():
        if ike.status is HaStatus.STANDBY:
            router.ike[ike_id] = replace(ike, stale=True)


def ssp_grace_ms(system: System, index: int) -> int:
    """How long after SSP last delivered anything a standby copy stays promotable.

    An active that crashes at C was last heard over SSP no earlier than C − keepalive
    − latency, and HSRP hands over no later than C + hold, so a copy heard from within
    hold + keepalive + latency is as fresh as SSP can make it. Older than that, SSP has
    been dead while the active was alive and deletes may have been missed.
    """
    router = system.routers[index]
    hold = max(router.params.inside.hold_ms, router.params.outside.hold_ms)
    return hold + system.params.ssp_hello_ms + system.params.link_latency_ms


def copy_usable(system: System, index: int, *, stale: bool) -> bool:
    """Whether a standby copy (not marked ``stale``) may be promoted right now."""
    router = system.routers[index]
    if stale:
        return False
    return router.epoch is not None or (
        router.last_heard_ms >= system.now - ssp_grace_ms(system, index)
    )


def _ssp_disconnect(system: System, index: int, reason: str, *, notify_peer: bool = True) -> None:
    router = system.routers[index]
    epoch = router.epoch if router.epoch is not None else router.opening
    if epoch is None:
        return
    if router.epoch is not None:
        system.note(index, "ssp-disconnected", reason)
    router.epoch = None
    router.opening = None
    router.got_hello = False
    router.peer_role = None
    router.bulk_sent = False
    router.copy_open = False
    router.copy_whole = False
    router.last_add.clear()
    router.ssp_hello_due = None
    if router.up and is_ssp_client(router):
        router.ssp_retry_due = system.now + system.params.ssp_retry_ms
    if notify_peer:
        # What this end wrote still arrives, then its Close (TCP's FIN).
        _ssp_write(system, index, epoch, ssp.Close())
    else:
        system.ssp_in_flight = [m for m in system.ssp_in_flight if m.epoch != epoch]


def _deliver_ssp(system: System, msg: SspInFlight) -> None:
    index = system.other(msg.sender)
    router = system.routers[index]
    if not router.up or msg.epoch not in (router.epoch, router.opening):
        return
    router.last_frame_ms = system.now
    router.ssp_counters = replace(
        router.ssp_counters, packets_received=router.ssp_counters.packets_received + 1
    )
    if isinstance(msg.message, ssp.Close):
        _ssp_disconnect(system, index, "connection closed by peer", notify_peer=False)
        return
    if router.epoch is None:  # the handshake
        match msg.message:
            case ssp.Hello() if not router.got_hello:
                router.got_hello = True
                _ssp_send(system, index, ssp.Confirm())
                router.ssp_hello_due = system.now + system.params.ssp_hello_ms
            case ssp.Confirm() if router.got_hello:
                _ssp_established(system, index)
            case _:
                _ssp_disconnect(system, index, "unexpected message in the handshake")
        return
    router.last_heard_ms = system.now
    match msg.message:
        case ssp.Heartbeat():
            pass
        case ssp.Hello() | ssp.Confirm():
            _ssp_disconnect(system, index, "unexpected handshake message")
        case ssp.Announce():
            _receive_announce(system, index, msg.message)
        case ssp.Add():
            _apply_add(system, index, msg.message)
        case ssp.Delete(sa_id=sa_id, ike=is_ike):
            if router.role is Role.ACTIVE:
                router.count("ssp_refused_while_active")
                return
            if is_ike:
                if router.ike.pop(sa_id, None) is not None:
                    router.ssp_counters = replace(
                        router.ssp_counters, deletes=router.ssp_counters.deletes + 1
                    )
            else:
                held = router.sas.pop(sa_id, None)
                router.degraded.discard(sa_id)
                if held is not None:
                    _bury(system, router, held)
            _ssp_send(system, index, ssp.Ack(sa_id=sa_id, kind=None, value=0))
        case ssp.Update(sa_id=sa_id, kind=kind, value=value):
            _apply_update(system, index, sa_id, kind, value)
        case ssp.Ack(sa_id=sa_id, kind=kind, value=value):
            _apply_ack(system, index, sa_id, kind, value)
        case ssp.Refuse(sa_id=sa_id, reason=reason, serial=serial):
            sa = router.sas.get(sa_id)
            # Only a refusal of the latest Add of the SA counts: a later full copy (a
            # resync's answer) may have been admitted, and the floors protect that copy
            # (found by Z3: I3-early-refusal).
            latest = router.last_add.get(sa_id) == serial
            if latest and sa is not None and sa.status is HaStatus.ACTIVE:
                # The standby holds no copy: nothing to hold back for.
                router.sas[sa_id] = replace(
                    sa,
                    out=replace(sa.out, floor=None),
                    inbound=replace(sa.inbound, floor=None),
                    byte_count=replace(sa.byte_count, floor=None),
                )
                router.count("ha_degraded")
                system.note(index, "ha-degraded", f"SA {sa_id} not replicated: {reason}")
        case ssp.ResyncRequest():
            if _replicating(router):
                _send_bulk(system, index, resync=True)
        case ssp.BulkBegin(entries=entries, resync=resync):
            if router.role is Role.ACTIVE:
                router.count("ssp_refused_while_active")
                return
            # The full set follows: copies not in it are gone from the active. What each
            # cleared copy counted is remembered (as ``_resync`` does), and an Add never
            # installs less (``_apply_add``): a full copy written before this router last
            # took over (a resync's answer queued behind another) is older than the stale
            # copy that holds this router's own use (found by Z3: I3-late-add).
            for held in router.sas.values():
                if held.status is HaStatus.STANDBY:
                    _remember(router, held)
            _remember_ike_copies(router)
            router.sas = {k: v for k, v in router.sas.items() if v.status is HaStatus.ACTIVE}
            router.ike = {k: v for k, v in router.ike.items() if v.status is HaStatus.ACTIVE}
            router.degraded.clear()
            router.copy_open = True
            router.copy_whole = False
            if resync:
                router.ssp_counters = replace(
                    router.ssp_counters, requests=router.ssp_counters.requests + entries
                )

        case ssp.BulkEnd():
            if router.role is Role.ACTIVE:
                router.count("ssp_refused_while_active")
                return
            if router.copy_open:  # the whole copy is here: in step (``ssp``)
                router.copy_open = False
                router.copy_whole = True


def _copy_for_standby(sa: IpsecSa, inbound_known: bool, known: Sequence[ssp.Values]) -> IpsecSa:
    """The standby copy an Add installs: never below what this router ``known`` of the SA
    (the copy it held, what it remembers — possibly its own use as a former active)."""
    out = max([sa.out.value, *(k.out for k in known)])
    inbound = max([sa.inbound.value, *(k.inbound for k in known)])
    byte_count = max([sa.byte_count.value, *(k.byte_count for k in known)])
    return replace(
        sa,
        status=HaStatus.STANDBY,
        stale=False,
        inbound_known=inbound_known,
        seen=frozenset(),
        out=new_counter(out),
        inbound=new_counter(inbound),
        byte_count=new_counter(byte_count),
    )


def _apply_add(system: System, index: int, add: ssp.Add) -> None:
    router = system.routers[index]
    if router.role is Role.ACTIVE:
        router.count("ssp_refused_while_active")
        return
    counters = router.ssp_counters
    if add.ike is not None:
        ike = add.ike
        # Never below the copy held or what a cleared copy counted (the IPsec rule).
        held_ike = router.ike.get(ike.ike_id)
        dpd_known = [ike.dpd_out.value, router.remembered_dpd.get(ike.ike_id, (0, 0))[1]]
        if held_ike is not None and held_ike.cookie_r == ike.cookie_r:
            dpd_known.append(held_ike.dpd_out.value)
        router.ike[ike.ike_id] = replace(
            ike, status=HaStatus.STANDBY, stale=False, dpd_out=new_counter(max(dpd_known))
        )
        if add.resync:
            counters = replace(counters, replies=counters.replies + 1)
        else:
            counters = replace(counters, adds=counters.adds + 1)
        router.ssp_counters = counters
        _ssp_send(
            system, index, ssp.Ack(sa_id=ike.ike_id, kind=Kind.DPD_OUT, value=ike.dpd_out.value)
        )
    if add.ipsec is not None:
        sa = add.ipsec
        router.tombstones = {k: t for k, t in router.tombstones.items() if t > system.now}
        if sa.sa_id in router.tombstones:
            system.note(index, "copy-refused", f"SA {sa.sa_id} was deleted here")
            _ssp_send(
                system,
                index,
                ssp.Refuse(sa_id=sa.sa_id, reason="SA was deleted here", serial=add.serial),
            )
            return
        if sa.sa_id not in router.sas:
            refusal = vam.admit(
                capacity=router.params.card_capacity,
                in_use=vam.sas_per_pair() * len(router.sas),
                transform=sa.transform,
                supported=router.params.card_algorithms,
            )
            if refusal is not None:
                router.degraded.add(sa.sa_id)
                router.count("ha_degraded")
                system.refusals.append(
                    LogEntry(
                        time_ms=system.now,
                        router=index,
                        kind="standby-refused",
                        detail=f"SA {sa.sa_id}: {refusal.value}",
                    )
                )
                system.note(index, "ha-degraded", f"cannot hold SA {sa.sa_id}: {refusal.value}")
                _ssp_send(
                    system,
                    index,
                    ssp.Refuse(sa_id=sa.sa_id, reason=refusal.value, serial=add.serial),
                )
                return
        router.degraded.discard(sa.sa_id)
        # A standby never lowers a copy: the Add installs at least what this router held or
        # remembers of the SA, and acknowledges the Add's own values (the sender's floors may
        # rise only to what it sent: the rest is this router's use, which the sender adopts
        # from its announcement before it may reach it).
        held = router.sas.get(sa.sa_id)
        remembered = router.remembered.get(sa.sa_id)
        known = [_values(held)] if held is not None else []
        if remembered is not None:
            known.append(remembered[1])
        router.sas[sa.sa_id] = _copy_for_standby(sa, system.params.inbound_interval > 0, known)
        for kind in (Kind.OUT, Kind.IN, Kind.BYTES):
            _ssp_send(
                system,
                index,
                ssp.Ack(sa_id=sa.sa_id, kind=kind, value=sa.counter(kind).value),
            )


def _apply_update(system: System, index: int, sa_id: int, kind: Kind, value: int) -> None:
    router = system.routers[index]
    if router.role is Role.ACTIVE:
        router.count("ssp_refused_while_active")
        return
    if kind is Kind.DPD_OUT:
        ike = router.ike.get(sa_id)
        if ike is None:
            return
        router.ike[sa_id] = replace(ike, dpd_out=new_counter(max(ike.dpd_out.value, value)))
    else:
        sa = router.sas.get(sa_id)
        if sa is None:
            return
        current = sa.counter(kind)
        router.sas[sa_id] = sa.with_counter(kind, new_counter(max(current.value, value)))
    _ssp_send(system, index, ssp.Ack(sa_id=sa_id, kind=kind, value=value))


def _raise_floor(counter: Counter, value: int) -> Counter:
    if counter.floor is None:
        return counter
    return replace(counter, floor=max(counter.floor, value))


def _apply_ack(system: System, index: int, sa_id: int, kind: Kind | None, value: int) -> None:
    router = system.routers[index]
    if kind is None:
        if system.deleted.get(sa_id) == "unacked":
            system.deleted[sa_id] = "acked"
        return
    if kind is Kind.DPD_OUT:
        ike = router.ike.get(sa_id)
        if ike is not None and ike.status is HaStatus.ACTIVE:
            router.ike[sa_id] = replace(ike, dpd_out=_raise_floor(ike.dpd_out, value))
        return
    sa = router.sas.get(sa_id)
    if sa is not None and sa.status is HaStatus.ACTIVE:
        router.sas[sa_id] = sa.with_counter(kind, _raise_floor(sa.counter(kind), value))


def _seed_floor(counter: Counter) -> Counter:
    """Sending a full record: from now on the standby may hold this value (rule 1)."""
    floor = counter.value if counter.floor is None else counter.floor
    return replace(counter, floor=floor, sent=counter.value)


def _replicate_sa(system: System, index: int, sa_id: int, *, resync: bool) -> None:
    router = system.routers[index]
    sa = router.sas[sa_id]
    inbound = sa.inbound
    if system.params.inbound_interval > 0:
        inbound = _seed_floor(inbound)
    sa = replace(
        sa, out=_seed_floor(sa.out), inbound=inbound, byte_count=_seed_floor(sa.byte_count)
    )
    router.sas[sa_id] = sa
    _ssp_send(
        system, index, ssp.Add(ike=None, ipsec=sa, resync=resync, serial=_add_serial(router, sa_id))
    )


def _replicate_ike(system: System, index: int, ike_id: int, *, resync: bool) -> None:
    router = system.routers[index]
    ike = replace(router.ike[ike_id], dpd_out=_seed_floor(router.ike[ike_id].dpd_out))
    router.ike[ike_id] = ike
    if not resync:
        router.ssp_counters = replace(router.ssp_counters, adds=router.ssp_counters.adds + 1)
    _ssp_send(
        system, index, ssp.Add(ike=ike, ipsec=None, resync=resync, serial=_add_serial(router, None))
    )


def _add_serial(router: Router, sa_id: int | None) -> int:
    """Number the next Add; for an IPsec SA (``sa_id``), it is now the latest of it."""
    router.adds_written += 1
    if sa_id is not None:
        router.last_add[sa_id] = router.adds_written
    return router.adds_written


def _replicating(router: Router) -> bool:
    """ACTIVE, connected, and the full copy has gone out: keep the standby up to date."""
    return router.role is Role.ACTIVE and router.epoch is not None and router.bulk_sent


def _announce(system: System, index: int, *, reply_wanted: bool) -> None:
    router = system.routers[index]
    if router.epoch is None:
        return
    router.remembered = {
        sa_id: entry for sa_id, entry in router.remembered.items() if entry[0] > system.now
    }
    held = {sa.sa_id: _values(sa) for sa in router.sas.values()}
    for sa_id, (_, remembered) in router.remembered.items():
        held.setdefault(sa_id, remembered)
    values = tuple(held[sa_id] for sa_id in sorted(held))
    router.remembered_dpd = {
        ike_id: entry for ike_id, entry in router.remembered_dpd.items() if entry[0] > system.now
    }
    held_dpd = {ike.ike_id: ike.dpd_out.value for ike in router.ike.values()}
    for ike_id, (_, value) in router.remembered_dpd.items():
        held_dpd.setdefault(ike_id, value)
    dpd = tuple(sorted(held_dpd.items()))
    _ssp_send(
        system,
        index,
        ssp.Announce(
            role=router.role,
            reply_wanted=reply_wanted,
            incarnation=router.boot_ms,
            values=values,
            dpd=dpd,
        ),
    )


def _ike_key(ike: IkeSa) -> int:
    return ike.ike_id


def _receive_announce(system: System, index: int, message: ssp.Announce) -> None:
    router = system.routers[index]
    previous = router.peer_role
    router.peer_role = message.role
    if message.role is Role.ACTIVE and previous is not Role.ACTIVE:
        router.copy_whole = False  # it copies everything again once it hears from us
    if message.reply_wanted:
        _announce(system, index, reply_wanted=False)
    if router.role is not Role.ACTIVE:
        _raise_copies(router, message)
        return
    if message.role is Role.ACTIVE:
        return
    if router.bulk_sent and previous is not None and previous is not Role.ACTIVE:
        return
    # The other end holds only stale copies now (new connection, it just left ACTIVE, or we
    # just became ACTIVE): adopt anything it used beyond our values and send the full copy.
    # A hold-back floor we have stays, raised only to the value the other end announced:
    # a full copy written before this announcement may still be on its way there and land
    # as a usable copy of its older value (found by Z3: I3-reseed).
    # Rule 6: a rebooted other end cannot say how far it used a promoted copy.
    forgot = router.floor_incarnation not in (None, message.incarnation)
    window = system.params.replay_window
    announced = {values.sa_id: values for values in message.values}
    for sa in list(router.sas.values()):
        if sa.status is not HaStatus.ACTIVE:
            continue
        values = announced.get(sa.sa_id)
        top, seen = sa.inbound.value, sa.seen
        if values is not None and values.inbound > top:
            top = values.inbound
            seen = frozenset(range(max(1, top - window + 1), top + 1))
        if forgot and any(c.floor is not None for c in (sa.out, sa.inbound, sa.byte_count)):
            router.unreplicated.add(sa.sa_id)
        out_value = max(sa.out.value, values.out if values else 0)
        byte_value = max(sa.byte_count.value, values.byte_count if values else 0)
        keep = not forgot and sa.sa_id not in router.unreplicated
        router.sas[sa.sa_id] = replace(
            sa,
            out=_adopt(
                sa.out,
                out_value,
                values.out if values else None,
                cap=_cap(system, sa.out, Kind.OUT, forgot=forgot),
                keep=keep,
            ),
            inbound=_adopt(
                sa.inbound,
                top,
                values.inbound if values else None,
                cap=_cap(system, sa.inbound, Kind.IN, forgot=forgot),
                keep=keep,
            ),
            seen=seen,
            byte_count=_adopt(
                sa.byte_count,
                byte_value,
                values.byte_count if values else None,
                cap=_cap(system, sa.byte_count, Kind.BYTES, forgot=forgot),
                keep=keep,
            ),
        )
    theirs = dict(message.dpd)
    for ike_id, ike in router.ike.items():
        if ike.status is HaStatus.ACTIVE:
            value = max(ike.dpd_out.value, theirs.get(ike_id, 0))
            cap = _cap(system, ike.dpd_out, Kind.DPD_OUT, forgot=forgot)
            dpd_out = _adopt(ike.dpd_out, value, theirs.get(ike_id), cap=cap, keep=not forgot)
            router.ike[ike_id] = replace(ike, dpd_out=dpd_out)
    router.floor_incarnation = message.incarnation
    _send_bulk(system, index, resync=False)


def _adopt(
    counter: Counter, value: int, announced: int | None, *, cap: int | None, keep: bool
) -> Counter:
    """An ACTIVE counter adopting the other end's announcement: ``value`` (already the
    larger of ours and ``announced``), ``cap``; its floor, if it has one and ``keep``,
    stays, raised to ``announced`` (None: the other end announced nothing for it)."""
    if not keep or counter.floor is None:
        return new_counter(value, cap=cap)
    floor = counter.floor if announced is None else max(counter.floor, announced)
    return Counter(value=value, floor=floor, sent=value, cap=cap)


def _raise_copies(router: Router, message: ssp.Announce) -> None:
    """A router that is not ACTIVE raises its standby copies to what the other end announces.

    The other end announces when it leaves ACTIVE (or a connection starts): its values
    are the truth of how far it went, so a copy raised to them jumps from there at the
    next takeover instead of from the last replicated value. Raising only, and only
    copies: never a counter of an SA this router uses.
    """
    for values in message.values:
        sa = router.sas.get(values.sa_id)
        if sa is None or sa.status is not HaStatus.STANDBY:
            continue
        announced = (
            (Kind.OUT, values.out),
            (Kind.IN, values.inbound),
            (Kind.BYTES, values.byte_count),
        )
        for kind, value in announced:
            if value > sa.counter(kind).value:
                sa = sa.with_counter(kind, new_counter(value))
        router.sas[values.sa_id] = sa
    theirs = dict(message.dpd)
    for ike_id, ike in router.ike.items():
        value = theirs.get(ike_id, 0)
        if ike.status is HaStatus.STANDBY and value > ike.dpd_out.value:
            router.ike[ike_id] = replace(ike, dpd_out=new_counter(value))


def _cap(system: System, counter: Counter, kind: Kind, *, forgot: bool) -> int | None:
    """The counter's permanent cap after the other end rebooted (sadb rule 6)."""
    if not forgot or counter.floor is None:
        return counter.cap
    bound = counter.floor + system.jump(kind)
    return bound if counter.cap is None else min(counter.cap, bound)


def _send_bulk(system: System, index: int, *, resync: bool) -> None:
    router = system.routers[index]
    if router.epoch is None or router.role is not Role.ACTIVE:
        return
    router.bulk_sent = True
    ike_ids = sorted(i for i, ike in router.ike.items() if ike.status is HaStatus.ACTIVE)
    _ssp_send(system, index, ssp.BulkBegin(entries=len(ike_ids), resync=resync))
    if resync:
        router.ssp_counters = replace(
            router.ssp_counters, replies=router.ssp_counters.replies + len(ike_ids)
        )
    for ike_id in ike_ids:
        _replicate_ike(system, index, ike_id, resync=resync)
    for sa_id in sorted(router.sas):
        if router.sas[sa_id].status is HaStatus.ACTIVE and sa_id not in router.unreplicated:
            _replicate_sa(system, index, sa_id, resync=resync)
    _ssp_send(system, index, ssp.BulkEnd())


def _maybe_update(system: System, index: int, sa_id: int, kind: Kind) -> None:
    """Send a counter update once it has moved an interval past the last one sent."""
    router = system.routers[index]
    if kind is Kind.DPD_OUT:
        ike = router.ike[sa_id]
        counter = ike.dpd_out
    else:
        counter = router.sas[sa_id].counter(kind)
    if counter.floor is None or not _replicating(router):
        return
    interval = system.interval(kind)
    if interval <= 0 or counter.value - counter.sent < interval:
        return
    updated = replace(counter, sent=counter.value)
    if kind is Kind.DPD_OUT:
        router.ike[sa_id] = replace(router.ike[sa_id], dpd_out=updated)
    else:
        router.sas[sa_id] = router.sas[sa_id].with_counter(kind, updated)
    _ssp_send(system, index, ssp.Update(sa_id=sa_id, kind=kind, value=counter.value))


def _resync(system: System, index: int) -> None:
    router = system.routers[index]
    if not router.up or router.role is Role.ACTIVE:
        system.note(index, "resync-refused", "resync is a standby command")
        return
    # What a cleared copy counted is remembered and announced (as for any dropped SA): it
    # may be this router's own use as a former active — a split brain while SSP was down —
    # which the active must adopt before it replicates again (found by Z3: without it
    # the active re-seeds its floors at its own values and reuses this router's numbers).
    for held in router.sas.values():
        if held.status is HaStatus.STANDBY:
            _remember(router, held)
    _remember_ike_copies(router)
    router.sas = {k: v for k, v in router.sas.items() if v.status is not HaStatus.STANDBY}
    router.ike = {k: v for k, v in router.ike.items() if v.status is not HaStatus.STANDBY}
    router.degraded.clear()
    router.copy_whole = False  # cleared: out of step until the answer's BulkEnd
    router.ssp_counters = replace(router.ssp_counters, adds=0, deletes=0)
    system.note(index, "resync", "standby copies cleared; resync requested")
    _ssp_send(system, index, ssp.ResyncRequest())


# ----------------------------------------------------------------- SA life


def _establish(system: System, op: operations.Establish) -> bool:
    holder = system.owner(GroupSide.OUTSIDE)
    if holder is None or system.routers[holder].role is not Role.ACTIVE:
        system.refusals.append(
            LogEntry(
                time_ms=system.now,
                router=holder,
                kind="establish-refused",
                detail=f"SA {op.sa_id}: no router is ACTIVE for the outside VIP",
            )
        )
        return False
    router = system.routers[holder]
    known = {sa_id for r in system.routers for sa_id in r.sas} | set(system.deleted)
    spis = {s for r in system.routers for sa in r.sas.values() for s in (sa.spi_in, sa.spi_out)}
    if op.sa_id in known or op.spi_in in spis or op.spi_out in spis or op.spi_in == op.spi_out:
        system.refusals.append(
            LogEntry(
                time_ms=system.now,
                router=holder,
                kind="establish-refused",
                detail=f"SA {op.sa_id}: identifier or SPI already in use",
            )
        )
        return False
    refusal = vam.admit(
        capacity=router.params.card_capacity,
        in_use=vam.sas_per_pair() * len(router.sas),
        transform=system.params.transform,
        supported=router.params.card_algorithms,
    )
    if refusal is not None:
        system.refusals.append(
            LogEntry(
                time_ms=system.now,
                router=holder,
                kind="establish-refused",
                detail=f"SA {op.sa_id}: {refusal.value}",
            )
        )
        router.count("admission_refused")
        return False
    ike = router.ike.get(op.cookie_i)
    if ike is None or ike.status is not HaStatus.ACTIVE:
        ike = IkeSa(
            ike_id=op.cookie_i,
            cookie_r=op.cookie_r,
            expires_ms=system.now + 86_400_000,
            dpd_out=new_counter(),
            dpd_in=0,
            status=HaStatus.ACTIVE,
            stale=False,
        )
        router.ike[ike.ike_id] = ike
        if _replicating(router):
            _replicate_ike(system, holder, ike.ike_id, resync=False)
    sa = IpsecSa(
        sa_id=op.sa_id,
        ike_id=ike.ike_id,
        spi_in=op.spi_in,
        spi_out=op.spi_out,
        transform=system.params.transform,
        expires_ms=system.now + system.params.lifetime_ms,
        lifetime_bytes=system.params.lifetime_bytes,
        out=new_counter(),
        inbound=new_counter(),
        seen=frozenset(),
        byte_count=new_counter(),
        status=HaStatus.ACTIVE,
        stale=False,
        inbound_known=True,
    )
    router.sas[sa.sa_id] = sa
    system.peer[sa.sa_id] = PeerSa(
        sa_id=sa.sa_id, spi_to_cluster=sa.spi_in, spi_from_cluster=sa.spi_out
    )
    system.note(holder, "sa-established", f"SA {sa.sa_id} in {sa.spi_in:#x} out {sa.spi_out:#x}")
    if _replicating(router):
        _replicate_sa(system, holder, sa.sa_id, resync=False)
    return True


def _bury(system: System, router: Router, sa: IpsecSa) -> None:
    """``router`` deleted ``sa`` (or saw it expire): refuse copies of it until its expiry."""
    if sa.expires_ms > system.now:
        router.tombstones[sa.sa_id] = sa.expires_ms


def _remember_ike_copies(router: Router) -> None:
    """Keep what the IKE copies about to be cleared counted (DPD_OUT): as for IPsec, a
    copy may hold this router's own R-U-THERE numbers from when it was ACTIVE."""
    for held in router.ike.values():
        if held.status is HaStatus.STANDBY:
            before = router.remembered_dpd.get(held.ike_id, (0, 0))[1]
            router.remembered_dpd[held.ike_id] = (
                held.expires_ms,
                max(before, held.dpd_out.value),
            )


def _remember(router: Router, sa: IpsecSa) -> None:
    """Keep a dropped SA's counters: it may have been used here (split brain) beyond what
    the router that still holds it knows (a model bug the implementation's tests found)."""
    router.remembered[sa.sa_id] = (sa.expires_ms, _values(sa))


def _values(sa: IpsecSa) -> ssp.Values:
    """The counter values of ``sa`` as an announcement carries them."""
    return ssp.Values(
        sa_id=sa.sa_id,
        out=sa.out.value,
        inbound=sa.inbound.value,
        byte_count=sa.byte_count.value,
    )


def _delete_sa(system: System, index: int, sa_id: int, *, reason: str) -> None:
    router = system.routers[index]
    dropped = router.sas.pop(sa_id, None)
    if dropped is None:
        return
    _remember(router, dropped)
    _bury(system, router, dropped)
    system.peer.pop(sa_id, None)
    system.note(index, "sa-deleted", f"SA {sa_id} {reason}")
    system.deleted[sa_id] = "expired" if reason == "expired" else "unacked"
    if _replicating(router):
        _ssp_send(system, index, ssp.Delete(sa_id=sa_id, ike=False))


def _expire(system: System, index: int) -> None:
    router = system.routers[index]
    for sa_id, sa in sorted(router.sas.items()):
        if sa.expires_ms <= system.now:
            if sa.status is HaStatus.ACTIVE:
                _delete_sa(system, index, sa_id, reason="expired")
            else:
                del router.sas[sa_id]
                system.deleted.setdefault(sa_id, "expired")
    for ike_id, ike in sorted(router.ike.items()):
        if ike.expires_ms <= system.now:
            del router.ike[ike_id]


# --------------------------------------------------------------- data path


def _newest_active_sa(router: Router) -> IpsecSa | None:
    active = [sa for sa in router.sas.values() if sa.status is HaStatus.ACTIVE]
    return max(active, key=lambda sa: sa.sa_id) if active else None


def _headroom(counter: Counter, jump: int) -> int | None:
    """How far the active may still move ``counter`` (rules 1 and 6), None for no limit."""
    bound = limit(counter, jump)
    return None if bound is None else max(0, bound - counter.value)


def _send_traffic(system: System, packets: int, size: int) -> None:
    if packets <= 0:
        return
    inside = system.owner(GroupSide.INSIDE)
    if inside is None:
        system.count("lan_blackhole", packets)
        return
    router = system.routers[inside]
    if router.groups[GroupSide.OUTSIDE].phase is not Phase.ACTIVE:
        router.count("split_blackhole", packets)
        return
    sa = _newest_active_sa(router)
    if sa is None:
        # Permit traffic with no SA is dropped, never sent in clear (I9).
        router.count("no_sa", packets)
        return
    limits = [packets, SEQ_MAX - sa.out.value]
    room = _headroom(sa.out, system.jump(Kind.OUT))
    if room is not None:
        limits.append(room)
    bytes_left = sa.lifetime_bytes - sa.byte_count.value
    limits.append(bytes_left // size)
    byte_room = _headroom(sa.byte_count, system.jump(Kind.BYTES))
    if byte_room is not None:
        limits.append(byte_room // size)
    n = max(0, min(limits))
    if n < packets:
        router.count("held_back_out", packets - n)
    if n == 0:
        if sa.out.value >= SEQ_MAX:
            router.count("seq_exhausted")
        return
    first, last = sa.out.value + 1, sa.out.value + n
    sa = replace(
        sa,
        out=replace(sa.out, value=last),
        byte_count=replace(sa.byte_count, value=sa.byte_count.value + n * size),
    )
    router.sas[sa.sa_id] = sa
    _log_run(system.transmitted, system.now, inside, sa.spi_out, first=first, last=last)
    router.count("encaps", n)
    _maybe_update(system, inside, sa.sa_id, Kind.OUT)
    _maybe_update(system, inside, sa.sa_id, Kind.BYTES)
    _peer_receive(system, sa.sa_id, first, last)
    if sa.byte_count.value >= sa.lifetime_bytes:
        _delete_sa(system, inside, sa.sa_id, reason="expired")


def _log_run(log: list[WireRun], now: int, router: int, spi: int, *, first: int, last: int) -> None:
    """Append a run, extending the previous one when it continues it (same router and SPI)."""
    if log:
        previous = log[-1]
        if previous.router == router and previous.spi == spi and previous.last + 1 == first:
            log[-1] = replace(previous, last=last)
            return
    log.append(WireRun(time_ms=now, router=router, spi=spi, first=first, last=last))


def _peer_receive(system: System, sa_id: int, first: int, last: int) -> None:
    peer = system.peer.get(sa_id)
    if peer is None:
        return
    window = system.params.peer_replay_window
    top, seen, runs = accept_window_range(peer.top, peer.seen, first, last, window)
    accepted = sum(b - a + 1 for a, b in runs)
    system.peer_refused += (last - first + 1) - accepted
    system.delivered_to_remote += accepted
    peer.top, peer.seen = top, seen


def _receive_traffic(system: System, packets: int, size: int) -> None:
    if packets <= 0 or not system.peer:
        return
    peer = system.peer[max(system.peer)]
    first, last = peer.sent + 1, peer.sent + packets
    peer.sent = last
    system.captures.append(Capture(spi=peer.spi_to_cluster, first=first, last=last))
    _cluster_accept(system, peer.spi_to_cluster, first, last, size)


def _cluster_accept(system: System, spi: int, first: int, last: int, size: int) -> None:
    index = system.owner(GroupSide.OUTSIDE)
    offered = last - first + 1
    if index is None:
        system.count("outside_blackhole", offered)
        return
    router = system.routers[index]
    sa = next(
        (s for s in router.sas.values() if s.spi_in == spi and s.status is HaStatus.ACTIVE),
        None,
    )
    if sa is None:
        router.count("unknown_spi", offered)
        return
    room = _headroom(sa.inbound, system.jump(Kind.IN))
    if room is not None:
        limit = sa.inbound.value + room
        if first > limit:
            router.count("held_back_in", offered)
            return
        if last > limit:
            router.count("held_back_in", last - limit)
            last = limit
    # Bytes are bounded like packets (lifetime never extended, I8); offered packets are
    # charged before the replay check so the bound holds whatever the window decides.
    byte_limits = [(sa.lifetime_bytes - sa.byte_count.value) // size]
    byte_room = _headroom(sa.byte_count, system.jump(Kind.BYTES))
    if byte_room is not None:
        byte_limits.append(byte_room // size)
    most = min(byte_limits)
    if most <= 0:
        router.count("held_back_in", last - first + 1)
        return
    if last - first + 1 > most:
        router.count("held_back_in", last - first + 1 - most)
        last = first + most - 1
    top, seen, runs = accept_window_range(
        sa.inbound.value, sa.seen, first, last, system.params.replay_window
    )
    accepted = sum(b - a + 1 for a, b in runs)
    router.count("replay_dropped", (last - first + 1) - accepted)
    if not runs:
        return
    sa = replace(
        sa,
        inbound=replace(sa.inbound, value=top),
        seen=seen,
        byte_count=replace(sa.byte_count, value=sa.byte_count.value + accepted * size),
    )
    router.sas[sa.sa_id] = sa
    for a, b in runs:
        _log_run(system.accepted, system.now, index, spi, first=a, last=b)
    router.count("decaps", accepted)
    _maybe_update(system, index, sa.sa_id, Kind.IN)
    _maybe_update(system, index, sa.sa_id, Kind.BYTES)
    if router.groups[GroupSide.INSIDE].phase is Phase.ACTIVE:
        system.delivered_to_lan += accepted
    else:
        router.count("split_blackhole", accepted)
    if sa.byte_count.value >= sa.lifetime_bytes:
        _delete_sa(system, index, sa.sa_id, reason="expired")


def _replay(system: System, pick: int) -> None:
    if not system.captures:
        return
    capture = system.captures[pick % len(system.captures)]
    size = capture.last - capture.first + 1
    seq = capture.first + (pick // len(system.captures)) % size
    system.note(None, "replay", f"attacker re-sends SPI {capture.spi:#x} seq {seq}")
    _cluster_accept(system, capture.spi, seq, seq, 100)


def _replay_old(system: System, age: int) -> None:
    """Counting back ``age`` packets from the newest capture (runs are in sending order)."""
    remaining = age
    for capture in reversed(system.captures):
        size = capture.last - capture.first + 1
        if remaining < size:
            seq = capture.last - remaining
            system.note(None, "replay", f"attacker re-sends SPI {capture.spi:#x} seq {seq}")
            _cluster_accept(system, capture.spi, seq, seq, 100)
            return
        remaining -= size


def _forge(system: System, pick: int, ahead: int) -> None:
    """A forged packet fails the integrity check wherever it lands: counted, nothing else
    changes — in particular not the replay window (RFC 4303 §3.4.3: the window moves only
    after the ICV verified)."""
    if not system.captures:
        return
    capture = system.captures[pick % len(system.captures)]
    system.note(None, "forge", f"attacker sends SPI {capture.spi:#x} with a bad ICV")
    owner = system.owner(GroupSide.OUTSIDE)
    if owner is not None and system.routers[owner].up:
        system.routers[owner].count("auth_failed")


def _dpd(system: System, *, from_peer: bool) -> None:
    index = system.owner(GroupSide.OUTSIDE)
    if index is None:
        return
    router = system.routers[index]
    active = [ike for ike in router.ike.values() if ike.status is HaStatus.ACTIVE]
    if not active:
        return
    ike = max(active, key=lambda i: i.ike_id)
    if from_peer:
        # The peer's own R-U-THERE numbers: accepted if newer (RFC 3706 §5.5); not replicated
        # ahead because rejecting the peer's probe would make it declare us dead.
        router.ike[ike.ike_id] = replace(ike, dpd_in=ike.dpd_in + 1)
        system.dpd_completed += 1
        return
    room = _headroom(ike.dpd_out, system.jump(Kind.DPD_OUT))
    if room == 0:
        router.count("held_back_dpd")
        return
    seq = ike.dpd_out.value + 1
    router.ike[ike.ike_id] = replace(ike, dpd_out=replace(ike.dpd_out, value=seq))
    system.dpd_sent.append((system.now, ike.ike_id, seq))
    system.dpd_completed += 1  # the peer answers every R-U-THERE that reaches it
    _maybe_update(system, index, ike.ike_id, Kind.DPD_OUT)
