"""The observation schema both sides map onto, and the model's abstraction function.

An ``Observation`` is what an outside observer can see of the cluster after a step
(DESIGN §6): per router and group the HSRP state and priority; the SSP connection
and device role; per SA the HA status, the next outbound sequence number, the
inbound window top and the lifetimes; card usage; traffic counters; and the wire
log (every ESP run transmitted and accepted). Invariants are predicates over
observations, so the same invariants judge the model and the implementation.

This module (and ``properties`` as a whole) is the only place that knows both the
model's and the implementation's types; ``observe_model`` is the model side.
"""

from __future__ import annotations

from dataclasses import dataclass

from vpnha.model import system as msys
from vpnha.model.params import GroupSide
from vpnha.model.sadb import HaStatus

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


def _facts(system: msys.System) -> ConfigFacts:
    r0, r1 = system.routers
    params = system.params
    hello = max(p.inside.hello_ms for p in params.routers)
    hold = max(p.inside.hold_ms for p in params.routers)
    delays = max(
        p.inside.delay_reload_ms + p.inside.delay_minimum_ms + s.preempt_delay_ms
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
