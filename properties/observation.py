"""The observation schema both sides map onto, and the model's abstraction function.

An ``Observation`` is what an outside observer can see of the cluster after a step
(DESIGN §6): per router and group the HSRP state and priority; the SSP connection
and device role; per SA the HA status, the next outbound sequence number, the
inbound window top and the lifetimes; card usage; traffic counters; and the wire
log (every ESP run transmitted and accepted). Invariants are predicates over
observations, so the same invariants judge the model and the implementation.

This module (and ``properties`` as a whole) is the only place that knows both the
model's and the implementation's types; ``observe_model`` is the model side and
``observe_world`` the implementation's (its routers in the simulated world).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from vpnha.impl.config.schema import InterfaceConfig, StandbyGroup
from vpnha.impl.ike.wire import DropReason as IkeDropReason
from vpnha.impl.router import DeviceRole as ImplDeviceRole
from vpnha.impl.router import Side
from vpnha.impl.sadb import HaStatus as ImplHaStatus
from vpnha.model import system as msys
from vpnha.model.params import GroupSide
from vpnha.model.sadb import HaStatus
from vpnha.model.topology import RouterView, lan_reaches_remote

from .world import RunLog, Segment, World

__all__ = [
    "ConfigFacts",
    "GroupObs",
    "IkeObs",
    "Observation",
    "RouterObs",
    "Run",
    "SaObs",
    "Takeover",
    "observe_model",
    "observe_world",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupObs:
    """One HSRP group on one router."""

    side: str
    """``inside`` or ``outside``."""
    group: int
    state: str
    """RFC 2281 state name: Initial, Learn, Listen, Speak, Standby, Active."""
    priority: int
    """Effective priority (after tracking)."""
    interface_up: bool
    state_since_ms: int
    """When the group entered its current state."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SaObs:
    """One IPsec SA pair on one router."""

    sa_id: int
    spi_in: int
    spi_out: int
    status: str
    """``ACTIVE`` or ``STANDBY`` (``HA Status``)."""
    stale: bool
    """A standby copy that will not be promoted (it may have missed a delete)."""
    next_out: int
    """Next outbound sequence number."""
    inbound_top: int
    """Right edge of the inbound anti-replay window."""
    expires_ms: int
    """Absolute expiry of the seconds lifetime."""
    bytes_used: int
    lifetime_bytes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class IkeObs:
    """One IKE SA on one router."""

    ike_id: int
    status: str
    stale: bool
    dpd_out: int
    """Last R-U-THERE number sent (or, on a standby copy, last one replicated)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RouterObs:
    """One router."""

    name: str
    up: bool
    role: str
    """SSP device role: ACTIVE, STANDBY or NONE."""
    role_since_ms: int
    inside: GroupObs
    outside: GroupObs
    ssp_connected: bool
    adds: int
    deletes: int
    requests: int
    replies: int
    sas: tuple[SaObs, ...]
    ike: tuple[IkeObs, ...]
    card_in_use: int
    """IPsec SAs on the card (active and standby, each direction counts)."""
    card_capacity: int | None
    degraded: tuple[int, ...]
    """SA ids this router's card refused to hold as standby copies."""
    drops: tuple[tuple[str, int], ...]
    """Named drop/event counters (sorted by name)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """Consecutive ESP sequence numbers on one SPI, sent or accepted by one router."""

    time_ms: int
    router: int | None
    spi: int
    first: int
    last: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Takeover:
    """A router became ACTIVE: which standby copies were usable and which it promoted."""

    time_ms: int
    router: int
    usable: tuple[int, ...]
    promoted: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigFacts:
    """What the configuration says, as far as the invariants need it (both routers)."""

    priorities: tuple[tuple[int, int], tuple[int, int]]
    """(inside, outside) configured priority per router."""
    preempt: tuple[tuple[bool, bool], tuple[bool, bool]]
    addresses: tuple[tuple[int, int], tuple[int, int]]
    """(inside, outside) interface address per router (IPv4 integers)."""
    mutual_tracking: tuple[bool, bool]
    """Whether each router's inside tracks the outside interface and vice versa."""
    hello_ms: int
    hold_ms: int
    latency_ms: int
    """One-way delivery time on the segments."""
    settle_ms: int
    """Time after the last disturbance by which elections must have settled."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """Everything an observer can see after one step."""

    now_ms: int
    routers: tuple[RouterObs, RouterObs]
    transmitted: tuple[Run, ...]
    accepted: tuple[Run, ...]
    dpd_sent: tuple[tuple[int, int, int], ...]
    """(time, IKE id, R-U-THERE number) sent by the cluster."""
    cleartext_leaked: int
    peer_refused: int
    delivered_to_lan: int
    delivered_to_remote: int
    reachable: bool
    """LAN host → remote LAN has a path right now."""
    deleted: tuple[tuple[int, str], ...]
    """SA ids gone from the cluster and how: acked, unacked, expired."""
    refusals: tuple[str, ...]
    """Every admission refusal, with its reason."""
    takeovers: tuple[Takeover, ...]
    clean_since: tuple[int, int]
    """(inside, outside): last time a fault touched HSRP on the segment."""
    partitioned: tuple[bool, bool]
    disturbed_ms: int
    """Last time anything changed HSRP's inputs."""
    boot_ms: tuple[int, int]
    config: ConfigFacts
    dpd_completed: int = 0
    """DPD exchanges (either direction) whose R-U-THERE-ACK came back."""
    peer_ike_refused: int = 0
    """IKE messages from the cluster the remote peer could not place or authenticate:
    unknown cookies (an IKE SA it does not hold), failed decryption or hash (keys or
    IV not replicated), a reused message id. Reported, not an invariant: during a split
    brain the router that does not hold the peer's IKE SA rightly meets such refusals."""

    def router(self, index: int) -> RouterObs:
        """Router 0 or 1."""
        return self.routers[index]


def _group(router: msys.Router, side: GroupSide) -> GroupObs:
    state = router.groups[side]
    params = router.params.inside if side is GroupSide.INSIDE else router.params.outside
    return GroupObs(
        side=side.value,
        group=params.group,
        state=state.phase.value,
        priority=state.priority,
        interface_up=router.iface_up[side],
        state_since_ms=router.phase_since[side],
    )


def _router(system: msys.System, index: int) -> RouterObs:
    router = system.routers[index]
    sas = tuple(
        SaObs(
            sa_id=sa.sa_id,
            spi_in=sa.spi_in,
            spi_out=sa.spi_out,
            status=sa.status.value,
            stale=sa.status == HaStatus.STANDBY
            and not (msys.copy_usable(system, index, stale=sa.stale) and sa.inbound_known),
            next_out=sa.out.value + 1,
            inbound_top=sa.inbound.value,
            expires_ms=sa.expires_ms,
            bytes_used=sa.byte_count.value,
            lifetime_bytes=sa.lifetime_bytes,
        )
        for sa in sorted(router.sas.values(), key=lambda sa: sa.sa_id)
    )
    ike = tuple(
        IkeObs(
            ike_id=i.ike_id,
            status=i.status.value,
            stale=i.status == HaStatus.STANDBY
            and not msys.copy_usable(system, index, stale=i.stale),
            dpd_out=i.dpd_out.value,
        )
        for i in sorted(router.ike.values(), key=lambda i: i.ike_id)
    )
    counters = router.ssp_counters
    return RouterObs(
        name=router.params.name,
        up=router.up,
        role=router.role.value,
        role_since_ms=router.role_since_ms,
        inside=_group(router, GroupSide.INSIDE),
        outside=_group(router, GroupSide.OUTSIDE),
        ssp_connected=router.epoch is not None,
        adds=counters.adds,
        deletes=counters.deletes,
        requests=counters.requests,
        replies=counters.replies,
        sas=sas,
        ike=ike,
        card_in_use=2 * len(router.sas),
        card_capacity=router.params.card_capacity,
        degraded=tuple(sorted(router.degraded)),
        drops=tuple(sorted(router.counters.items())),
    )


def _mutual(router: msys.Router) -> bool:
    inside_tracks = {side for side, _ in router.params.inside.tracks}
    outside_tracks = {side for side, _ in router.params.outside.tracks}
    return GroupSide.OUTSIDE in inside_tracks and GroupSide.INSIDE in outside_tracks


def _takeovers(system: msys.System) -> tuple[Takeover, ...]:
    return tuple(
        Takeover(time_ms=time_ms, router=router, usable=usable, promoted=promoted)
        for time_ms, router, usable, promoted in system.takeovers
    )


@dataclass(slots=True)
class _LastFacts:
    """The facts computed last, and what they were computed from: the configuration objects
    (compared by identity: they are never changed) and the run-time settings (by value).
    The facts change only with those, and the suite observes after every step."""

    sources: tuple[object, ...] = ()
    settings: object = None
    facts: ConfigFacts | None = None

    def lookup(self, sources: tuple[object, ...], settings: object) -> ConfigFacts | None:
        """The kept facts if they were computed from the same sources and settings."""
        same = len(sources) == len(self.sources) and all(
            a is b for a, b in zip(sources, self.sources, strict=True)
        )
        return self.facts if same and settings == self.settings else None

    def keep(self, sources: tuple[object, ...], settings: object, facts: ConfigFacts) -> None:
        """Remember ``facts`` as computed from ``sources`` and ``settings``."""
        self.sources, self.settings, self.facts = sources, settings, facts


_MODEL_FACTS = _LastFacts()
_WORLD_FACTS = _LastFacts()


def _facts(system: msys.System) -> ConfigFacts:
    settings = [(r.priority.copy(), r.preempt.copy()) for r in system.routers]
    facts = _MODEL_FACTS.lookup((system.params,), settings)
    if facts is None:
        facts = _compute_facts(system)
        _MODEL_FACTS.keep((system.params,), settings, facts)
    return facts


def _compute_facts(system: msys.System) -> ConfigFacts:
    r0, r1 = system.routers
    params = system.params
    hello = max(p.inside.hello_ms for p in params.routers)
    hold = max(p.inside.hold_ms for p in params.routers)
    # The longest a group can wait before preempting: the enable delays, then the
    # preempt delay in force (reload after a boot, minimum after a flap), then the
    # longest wait for SSP's copy (``preempt delay sync``).
    delays = max(
        p.inside.delay_reload_ms
        + p.inside.delay_minimum_ms
        + max(s.preempt_delay_ms, s.preempt_reload_ms)
        + s.preempt_sync_ms
        for p in params.routers
        for s in (p.inside, p.outside)
    )
    return ConfigFacts(
        priorities=(
            (r0.priority[GroupSide.INSIDE], r0.priority[GroupSide.OUTSIDE]),
            (r1.priority[GroupSide.INSIDE], r1.priority[GroupSide.OUTSIDE]),
        ),
        preempt=(
            (r0.preempt[GroupSide.INSIDE], r0.preempt[GroupSide.OUTSIDE]),
            (r1.preempt[GroupSide.INSIDE], r1.preempt[GroupSide.OUTSIDE]),
        ),
        addresses=(
            (r0.params.inside.address, r0.params.outside.address),
            (r1.params.inside.address, r1.params.outside.address),
        ),
        mutual_tracking=(_mutual(r0), _mutual(r1)),
        hello_ms=hello,
        hold_ms=hold,
        latency_ms=params.link_latency_ms,
        settle_ms=delays + 4 * hold + 2 * hello + 4 * params.link_latency_ms,
    )


def observe_model(system: msys.System) -> Observation:
    """The model's abstraction function: model state -> observation."""
    return Observation(
        now_ms=system.now,
        routers=(_router(system, 0), _router(system, 1)),
        transmitted=tuple(
            Run(time_ms=r.time_ms, router=r.router, spi=r.spi, first=r.first, last=r.last)
            for r in system.transmitted
        ),
        accepted=tuple(
            Run(time_ms=r.time_ms, router=r.router, spi=r.spi, first=r.first, last=r.last)
            for r in system.accepted
        ),
        dpd_sent=tuple(system.dpd_sent),
        dpd_completed=system.dpd_completed,
        cleartext_leaked=system.cleartext_leaked,
        peer_refused=system.peer_refused,
        delivered_to_lan=system.delivered_to_lan,
        delivered_to_remote=system.delivered_to_remote,
        reachable=system.reachable(),
        deleted=tuple(sorted(system.deleted.items())),
        refusals=tuple(f"{e.kind}: {e.detail}" for e in system.refusals),
        takeovers=_takeovers(system),
        clean_since=(
            system.clean_since[GroupSide.INSIDE],
            system.clean_since[GroupSide.OUTSIDE],
        ),
        partitioned=(
            system.partitioned[GroupSide.INSIDE],
            system.partitioned[GroupSide.OUTSIDE],
        ),
        disturbed_ms=system.disturbed_ms,
        boot_ms=(system.routers[0].boot_ms, system.routers[1].boot_ms),
        config=_facts(system),
    )


def is_active(status: str) -> bool:
    """Whether an SA status string means ACTIVE."""
    return status == HaStatus.ACTIVE.value


# --------------------------------------------------------------------------------------
# The implementation side: the simulated world of impl routers -> observation
# --------------------------------------------------------------------------------------

_IMPL_DROP_NAMES: dict[str, str] = {
    "replay": "replay_dropped",
    "no-sa": "no_sa",
    "unknown-spi": "unknown_spi",
    "seq-exhausted": "seq_exhausted",
    "not-active-inside": "split_blackhole",
}
"""Forwarder drop reasons with a model counter of the same meaning (others keep their name)."""


def _impl_group(world: World, index: int, side: Side) -> GroupObs:
    router = world.router(index)
    assert router is not None
    group = router.core.group(side)
    return GroupObs(
        side=side.value,
        group=group.group,
        state=group.state.name.title(),
        priority=group.effective_priority,
        interface_up=world.interface_is_up(index, side),
        state_since_ms=world.state_since.get((index, side), world.boot_ms(index)),
    )


def _impl_down(world: World, index: int) -> RouterObs:
    config = world.config(index)
    groups = []
    for side, iface in (
        (Side.INSIDE, config.inside_interface()),
        (Side.OUTSIDE, config.outside_interface()),
    ):
        number = iface.standby_groups[0].group if iface is not None and iface.standby_groups else 0
        groups.append(
            GroupObs(
                side=side.value,
                group=number,
                state="Initial",
                priority=0,
                interface_up=world.interface_is_up(index, side),
                state_since_ms=world.now,
            )
        )
    return RouterObs(
        name=config.hostname,
        up=False,
        role="NONE",
        role_since_ms=world.now,
        inside=groups[0],
        outside=groups[1],
        ssp_connected=False,
        adds=0,
        deletes=0,
        requests=0,
        replies=0,
        sas=(),
        ike=(),
        card_in_use=0,
        card_capacity=config.crypto_card.sa_capacity(),
        degraded=(),
        drops=(),
    )


def _impl_router(world: World, index: int) -> RouterObs:
    router = world.router(index)
    if router is None:
        return _impl_down(world, index)
    db = router.sadb
    now = world.now
    sas = tuple(
        SaObs(
            sa_id=sa.sa_id,
            spi_in=sa.inbound_spi,
            spi_out=sa.outbound_spi,
            status=sa.status.name,
            stale=sa.status is ImplHaStatus.STANDBY and not db.promotable(sa, now),
            next_out=sa.outbound_seq + 1,
            inbound_top=sa.inbound_right_edge,
            expires_ms=sa.expiry_ms,
            bytes_used=sa.bytes_used,
            lifetime_bytes=sa.lifetime_bytes,
        )
        for sa in sorted(db.ipsec_sas(), key=lambda sa: sa.sa_id)
    )
    ike = tuple(
        IkeObs(
            ike_id=int.from_bytes(sa.initiator_cookie, "big"),
            status=sa.status.name,
            stale=sa.status is ImplHaStatus.STANDBY and not db.promotable(sa, now),
            dpd_out=sa.dpd_out,
        )
        for sa in sorted(db.ike_sas(), key=lambda sa: sa.sa_id)
    )
    counters = db.counters
    forward = router.forwarder.counters()
    drops = {
        _IMPL_DROP_NAMES.get(str(reason), str(reason).replace("-", "_")): count
        for reason, count in forward.drops.items()
        if count
    }
    drops["encaps"] = forward.encrypted_packets
    drops["decaps"] = forward.decrypted_packets
    role = router.role
    return RouterObs(
        name=router.hostname,
        up=True,
        role="NONE" if role is ImplDeviceRole.INIT else role.value,
        role_since_ms=router.core.role_since_ms,
        inside=_impl_group(world, index, Side.INSIDE),
        outside=_impl_group(world, index, Side.OUTSIDE),
        ssp_connected=db.connected,
        adds=counters.adds_sent,
        deletes=counters.deletes_sent,
        requests=counters.resync_requests,
        replies=counters.replies_received,
        sas=sas,
        ike=ike,
        card_in_use=router.engine.in_use,
        card_capacity=router.engine.capacity,
        degraded=tuple(sorted(sa_id for _, sa_id in db.degraded_copies)),
        drops=tuple(sorted(drops.items())),
    )


def _runs(log: RunLog) -> tuple[Run, ...]:
    return tuple(
        Run(time_ms=time_ms, router=router, spi=spi, first=first, last=last)
        for time_ms, router, spi, first, last in log.runs
    )


def _impl_facts(world: World) -> ConfigFacts:
    sources = (world.config(0), world.config(1))
    settings = (world.standby_overrides(0), world.standby_overrides(1), world.latency_ms)
    facts = _WORLD_FACTS.lookup(sources, settings)
    if facts is None:
        facts = _compute_impl_facts(world)
        _WORLD_FACTS.keep(sources, settings, facts)
    return facts


def _compute_impl_facts(world: World) -> ConfigFacts:
    configs = [world.config(0), world.config(1)]
    overrides = [world.standby_overrides(0), world.standby_overrides(1)]
    priority = [overrides[0][0], overrides[1][0]]
    preempt = [overrides[0][1], overrides[1][1]]
    groups = []
    for config in configs:
        pair = []
        for iface in (config.inside_interface(), config.outside_interface()):
            assert iface is not None
            assert iface.address is not None
            pair.append((iface, iface.standby_groups[0]))
        groups.append(pair)
    hello = max(g.hello_ms for pair in groups for _, g in pair)
    hold = max(g.hold_ms for pair in groups for _, g in pair)
    delays = max(  # as the model's facts: enable delays, preempt delay, sync wait
        (
            (iface.standby_delay_reload_s or 0)
            + (iface.standby_delay_minimum_s or 0)
            + max(g.preempt_delay_minimum_s, g.preempt_delay_reload_s)
            + g.preempt_delay_sync_s
        )
        * 1000
        for pair in groups
        for iface, g in pair
    )

    def mutual(pair: list[tuple[InterfaceConfig, StandbyGroup]]) -> bool:
        (inside, inside_group), (outside, outside_group) = pair
        inside_tracks = {t.interface for t in inside_group.tracks}
        outside_tracks = {t.interface for t in outside_group.tracks}
        return outside.name in inside_tracks and inside.name in outside_tracks

    def address(iface: InterfaceConfig) -> int:
        assert iface.address is not None
        return int(iface.address.ip)

    return ConfigFacts(
        priorities=(
            (
                priority[0].get(Side.INSIDE, groups[0][0][1].priority),
                priority[0].get(Side.OUTSIDE, groups[0][1][1].priority),
            ),
            (
                priority[1].get(Side.INSIDE, groups[1][0][1].priority),
                priority[1].get(Side.OUTSIDE, groups[1][1][1].priority),
            ),
        ),
        preempt=(
            (
                preempt[0].get(Side.INSIDE, groups[0][0][1].preempt),
                preempt[0].get(Side.OUTSIDE, groups[0][1][1].preempt),
            ),
            (
                preempt[1].get(Side.INSIDE, groups[1][0][1].preempt),
                preempt[1].get(Side.OUTSIDE, groups[1][1][1].preempt),
            ),
        ),
        addresses=(
            (address(groups[0][0][0]), address(groups[0][1][0])),
            (address(groups[1][0][0]), address(groups[1][1][0])),
        ),
        mutual_tracking=(mutual(groups[0]), mutual(groups[1])),
        hello_ms=hello,
        hold_ms=hold,
        latency_ms=world.latency_ms,
        settle_ms=delays + 4 * hold + 2 * hello + 4 * world.latency_ms,
    )


_PEER_IKE_REFUSALS: Final = (
    IkeDropReason.NO_SA,
    IkeDropReason.DECRYPT_FAILED,
    IkeDropReason.BAD_HASH,
    IkeDropReason.MESSAGE_ID_REUSED,
)
"""What the remote peer's IKE engine drops when the cluster got an IKE SA wrong."""


def observe_world(world: World) -> Observation:
    """The implementation's abstraction function: the simulated world -> observation."""
    views = [
        RouterView(
            name=world.name(i),
            up=world.router(i) is not None,
            owns_inside_vip=world.owner(Segment.INSIDE) == i,
            owns_outside_vip=world.owner(Segment.OUTSIDE) == i,
            has_active_sa=(r := world.router(i)) is not None
            and any(sa.status is ImplHaStatus.ACTIVE for sa in r.sadb.ipsec_sas()),
        )
        for i in (0, 1)
    ]
    refusals = []
    for i in (0, 1):
        router = world.router(i)
        if router is not None:
            refusals += [f"admission: {reason}" for reason in router.engine.refusals]
    return Observation(
        now_ms=world.now,
        routers=(_impl_router(world, 0), _impl_router(world, 1)),
        transmitted=_runs(world.transmitted),
        accepted=_runs(world.accepted_by_router),
        dpd_sent=tuple(world.dpd_by_cluster),
        dpd_completed=world.dpd_completed,
        peer_ike_refused=sum(world.peer_ike.drops[reason] for reason in _PEER_IKE_REFUSALS),
        cleartext_leaked=world.stats.cleartext_leaked,
        peer_refused=world.stats.peer_refused,
        delivered_to_lan=world.stats.delivered_to_lan,
        delivered_to_remote=world.stats.delivered_to_remote,
        reachable=lan_reaches_remote(views),
        deleted=tuple(sorted(world.deletions().items())),
        refusals=tuple(refusals),
        takeovers=tuple(
            Takeover(time_ms=t, router=r, usable=usable, promoted=promoted)
            for t, r, usable, promoted in world.takeovers
        ),
        clean_since=(world.clean_since[Segment.INSIDE], world.clean_since[Segment.OUTSIDE]),
        partitioned=(world.partitioned[Side.INSIDE], world.partitioned[Side.OUTSIDE]),
        disturbed_ms=world.disturbed_ms,
        boot_ms=(world.boot_ms(0), world.boot_ms(1)),
        config=_impl_facts(world),
    )
