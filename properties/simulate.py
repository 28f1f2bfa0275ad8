"""``vpnha simulate``: the document's failover story on the model or the implementation.

The script: both routers boot and elect; the remote peer negotiates an SA;
traffic flows both ways; the active router crashes; the standby takes over
after the hold time and moves every counter ahead; an attacker replays a packet
captured before the failover; the old active restarts, resynchronises over SSP,
preempts and takes over again. Every step is observed and checked against
I1–I10. The result carries the figures (takeover time, traffic gap, packets
lost, replays refused, sequence numbers reused) and the text timeline.

The same script drives either side through the :class:`Cluster` surface:
:class:`ModelCluster` (the model's ``System``, operation by operation) or
:class:`ImplCluster` (the implementation's routers in the byte-level simulated
world, :mod:`.world`). Both are observed with the same schema, so the same
invariants judge them and :func:`agreement` compares their snapshots.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from vpnha.impl.config import RouterConfig
from vpnha.model import operations as op
from vpnha.model.params import ClusterParams
from vpnha.model.system import System, apply_in_place, boot

from .invariants import INVARIANTS, InvariantChecker, Violation, check_continuity, overlaps
from .observation import Observation, RouterObs, observe_model, observe_world
from .world import World

__all__ = [
    "IMPL_RATE",
    "MODEL_RATE",
    "Cluster",
    "ImplCluster",
    "ModelCluster",
    "SimulationReport",
    "StoryEvent",
    "agreement",
    "render_timeline",
    "run_failover_story",
    "run_story",
]

TRAFFIC_TICK_MS = 100
"""The LAN host and the remote peer each send a burst every this many ms."""
MODEL_RATE = 1000
"""Default packets per second each way on the model (which counts packets, cheaply)."""
IMPL_RATE = 100
"""Default packets per second each way when the implementation runs the story: every
packet is really encrypted, forwarded and decrypted (about 150 µs of Python per packet
through the world), so the same story at 1000 packets/s takes about 25 s."""
PACKET_BYTES = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryEvent:
    """One line of the timeline between snapshots."""

    time_ms: int
    who: str
    text: str


class Cluster(Protocol):
    """What the script needs from a side: operations, observation, an event log."""

    side: str
    """``model`` or ``impl``."""
    names: tuple[str, str]

    def observe(self) -> Observation:
        """The cluster now."""
        ...

    def advance(self, ms: int) -> None:
        """Let time pass."""
        ...

    def establish(self) -> None:
        """The remote peer negotiates an SA pair with the ACTIVE router."""
        ...

    def traffic(self, packets: int, size: int) -> None:
        """The LAN host and the remote peer each send ``packets`` packets now."""
        ...

    def crash(self, index: int) -> None:
        """Router ``index`` loses power."""
        ...

    def restart(self, index: int) -> None:
        """Router ``index`` boots again."""
        ...

    def replay(self, pick: int) -> None:
        """An attacker re-sends a captured peer packet."""
        ...

    def events(self) -> list[StoryEvent]:
        """Everything notable so far, in order."""
        ...

    def negotiations(self) -> int:
        """SA negotiations so far (the first included)."""
        ...

    def delays(self) -> tuple[int, int]:
        """The pair's largest ``standby delay reload`` and ``minimum``, ms."""
        ...


_SHOWN_EVENTS = frozenset(
    {
        "boot",
        "crash",
        "hsrp",
        "role",
        "takeover",
        "ssp-connected",
        "ssp-disconnected",
        "sa-established",
        "sa-deleted",
        "sa-discarded",
        "replay",
        "ha-degraded",
        "resync",
    }
)


class ModelCluster:
    """The model's ``System`` behind the :class:`Cluster` surface."""

    side = "model"

    def __init__(self, params: ClusterParams) -> None:
        self.system: System = boot(params)
        self.names = (params.routers[0].name, params.routers[1].name)

    def observe(self) -> Observation:
        return observe_model(self.system)

    def _do(self, operation: op.Operation) -> None:
        apply_in_place(self.system, operation)

    def advance(self, ms: int) -> None:
        self._do(op.Advance(ms=ms))

    def establish(self) -> None:
        self._do(
            op.Establish(
                sa_id=1, spi_in=0x5A000001, spi_out=0xC1000001, cookie_i=0xA1, cookie_r=0xB2
            )
        )

    def traffic(self, packets: int, size: int) -> None:
        self._do(op.SendTraffic(packets=packets, size=size))
        self._do(op.ReceiveTraffic(packets=packets, size=size))

    def crash(self, index: int) -> None:
        self._do(op.Crash(router=index))

    def restart(self, index: int) -> None:
        self._do(op.Restart(router=index))

    def replay(self, pick: int) -> None:
        self._do(op.ReplayCaptured(pick=pick))

    def events(self) -> list[StoryEvent]:
        return [
            StoryEvent(
                time_ms=e.time_ms,
                who=self.names[e.router] if e.router is not None else "cluster",
                text=f"{e.kind}: {e.detail}" if e.detail else e.kind,
            )
            for e in self.system.log
            if e.kind in _SHOWN_EVENTS
        ]

    def negotiations(self) -> int:
        return sum(1 for e in self.system.log if e.kind == "sa-established")

    def delays(self) -> tuple[int, int]:
        routers = self.system.params.routers
        return (
            max(r.inside.delay_reload_ms for r in routers),
            max(r.inside.delay_minimum_ms for r in routers),
        )


class ImplCluster:
    """The implementation's routers in the simulated world behind the :class:`Cluster` surface."""

    side = "impl"

    def __init__(self, configs: tuple[RouterConfig, RouterConfig], *, seed: int = 1) -> None:
        self.world = World(configs, seed=seed, now=1_000)
        self.names = (self.world.name(0), self.world.name(1))

    def observe(self) -> Observation:
        return observe_world(self.world)

    def advance(self, ms: int) -> None:
        self.world.advance(ms)

    def establish(self) -> None:
        self.world.establish_sa()

    def traffic(self, packets: int, size: int) -> None:
        self.world.lan_send(packets, size)
        self.world.remote_send(packets, size)

    def crash(self, index: int) -> None:
        self.world.crash(index)

    def restart(self, index: int) -> None:
        self.world.restart(index)

    def replay(self, pick: int) -> None:
        self.world.replay_captured(pick)
        # The model delivers at once; here the packet needs one latency to arrive.
        self.world.advance(self.world.latency_ms)

    def events(self) -> list[StoryEvent]:
        return [
            StoryEvent(time_ms=t, who=who, text=text)
            for t, who, text in self.world.events
            if not text.startswith("hsrp") or "-> Active" in text or "-> Standby" in text
        ]

    def negotiations(self) -> int:
        return self.world.stats.negotiations

    def delays(self) -> tuple[int, int]:
        interfaces = [
            iface
            for i in (0, 1)
            for iface in (self.world.config(i).inside_interface(),)
            if iface is not None
        ]
        return (
            max((iface.standby_delay_reload_s or 0) * 1000 for iface in interfaces),
            max((iface.standby_delay_minimum_s or 0) * 1000 for iface in interfaces),
        )


@dataclass(slots=True, kw_only=True)
class Snapshot:
    """The cluster at one point of the script."""

    title: str
    observation: Observation
    log_position: int
    """How many events existed when the snapshot was taken."""


@dataclass(slots=True, kw_only=True)
class SimulationReport:
    """What ``run_story`` found."""

    side: str = "model"
    snapshots: list[Snapshot] = field(default_factory=list)
    events: list[StoryEvent] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    checks: int = 0
    """Observations checked against I1–I9."""
    figures: dict[str, int] = field(default_factory=dict)
    names: tuple[str, str] = ("router-1", "router-2")

    @property
    def ok(self) -> bool:
        """No invariant was violated."""
        return not self.violations


class _Run:
    def __init__(self, cluster: Cluster, rate: int) -> None:
        self.cluster = cluster
        self.burst = max(1, rate * TRAFFIC_TICK_MS // 1000)
        self.checker = InvariantChecker()
        self.report = SimulationReport(side=cluster.side, names=cluster.names)
        self.last = cluster.observe()
        self.offered = 0

    def check(self) -> Observation:
        self.last = self.cluster.observe()
        self.report.checks += 1
        self.report.violations.extend(self.checker.observe(self.last))
        return self.last

    def snapshot(self, title: str) -> None:
        self.report.snapshots.append(
            Snapshot(title=title, observation=self.last, log_position=len(self.cluster.events()))
        )

    def traffic_for(self, duration_ms: int, *, until: Callable[[], bool] | None = None) -> int:
        """Offer traffic both ways every tick; return the ms spent."""
        spent = 0
        while spent < duration_ms:
            self.cluster.traffic(self.burst, PACKET_BYTES)
            self.offered += 2 * self.burst
            self.cluster.advance(TRAFFIC_TICK_MS)
            self.check()
            spent += TRAFFIC_TICK_MS
            if until is not None and until():
                break
        return spent


def _delivered(obs: Observation) -> int:
    return obs.delivered_to_lan + obs.delivered_to_remote


def run_failover_story(params: ClusterParams, *, rate: int = MODEL_RATE) -> SimulationReport:
    """Run the scripted failover on the model and check every step."""
    return run_story(ModelCluster(params), rate=rate)


def run_story(cluster: Cluster, *, rate: int = MODEL_RATE) -> SimulationReport:
    """Run the scripted failover on ``cluster``, ``rate`` packets/s each way; check every step."""
    if not 10 <= rate <= 100_000:
        msg = f"rate {rate} packets/s must be 10-100000"
        raise ValueError(msg)
    run = _Run(cluster, rate)
    config = run.last.config
    hold = config.hold_ms
    hello = config.hello_ms
    reload_ms, minimum_ms = cluster.delays()

    run.snapshot("Both routers power on")
    cluster.advance(reload_ms + 3 * hold + 1000)
    run.check()
    run.snapshot("Elected (standby delay reload, then HSRP)")

    cluster.establish()
    run.check()
    cluster.advance(50)
    run.check()
    run.snapshot("Remote peer negotiated SA 1 with the outside VIP; replicated over SSP")

    run.traffic_for(2000)
    run.snapshot("Traffic flows both ways through the active router")

    active = next((i for i, r in enumerate(run.last.routers) if r.role == "ACTIVE"), 0)
    before = run.last
    crash_ms = before.now_ms
    delivered_at_crash = _delivered(before)
    remote_at_crash = before.delivered_to_remote
    cluster.crash(active)
    run.check()
    run.snapshot(f"{run.report.names[active]} (ACTIVE) crashes")

    survivor = 1 - active
    run.traffic_for(
        hold + hello + 5000,
        until=lambda: run.last.delivered_to_remote > remote_at_crash,
    )
    first_after = run.last.now_ms
    takeover_at = run.last.routers[survivor].role_since_ms
    run.traffic_for(1000)
    after = run.last
    run.snapshot(f"{run.report.names[survivor]} took over; traffic resumed on the same SA")
    continuity = check_continuity(before, after, failed=active)
    run.report.violations.extend(
        Violation(invariant="I10", time_ms=after.now_ms, message=m) for m in continuity
    )

    refused_before = _drop(after.routers[survivor], "replay_dropped")
    cluster.replay(3)
    replay = run.check()
    run.snapshot("An attacker replays an ESP packet captured before the failover")

    cluster.restart(active)
    run.check()
    run.traffic_for(reload_ms + minimum_ms // 10 + 2 * hold)
    run.snapshot(f"{run.report.names[active]} restarted, resynchronised over SSP and preempted")
    run.traffic_for(1000)
    run.snapshot("Traffic flows through the original active again")

    final = run.last
    run.report.events = cluster.events()
    run.report.figures = {
        "hold_ms": hold,
        "takeover_ms": takeover_at - crash_ms,
        "traffic_gap_ms": first_after - crash_ms,
        "packets_offered": run.offered,
        "packets_lost": run.offered - _delivered(final),
        "delivered_before_crash": delivered_at_crash,
        "delivered_total": _delivered(final),
        "replay_accepted": _accepted_count(replay) - _accepted_count(after),
        "replay_refused": _drop(replay.routers[survivor], "replay_dropped") - refused_before,
        "seq_reused": sum(
            min(a.last, b.last) - max(a.first, b.first) + 1 for a, b in overlaps(final.transmitted)
        ),
        "accepted_twice": sum(
            min(a.last, b.last) - max(a.first, b.first) + 1 for a, b in overlaps(final.accepted)
        ),
        "peer_refused": final.peer_refused,
        "renegotiations": cluster.negotiations() - 1,
    }
    return run.report


def _accepted_count(obs: Observation) -> int:
    return sum(r.last - r.first + 1 for r in obs.accepted)


def _coarse(router: RouterObs) -> tuple[object, ...]:
    return (
        router.up,
        router.inside.state if router.up else "-",
        router.outside.state if router.up else "-",
        router.role,
        router.ssp_connected,
        tuple(sorted(sa.status for sa in router.sas)),
    )


def agreement(model: SimulationReport, impl: SimulationReport) -> list[str]:
    """Where the two timelines disagree: per snapshot, each router's HSRP states, role,
    SSP connection and SA statuses; and the figures that must match exactly."""
    problems = []
    for m, i in zip(model.snapshots, impl.snapshots, strict=True):
        for index in (0, 1):
            left, right = (
                _coarse(m.observation.routers[index]),
                _coarse(i.observation.routers[index]),
            )
            if left != right:
                problems.append(f"{m.title}: {model.names[index]} model {left} vs impl {right}")
    for name in ("seq_reused", "accepted_twice", "replay_accepted", "renegotiations"):
        if model.figures.get(name) != impl.figures.get(name):
            problems.append(
                f"figure {name}: model {model.figures.get(name)} vs impl {impl.figures.get(name)}"
            )
    return problems


def _drop(router: RouterObs, name: str) -> int:
    return dict(router.drops).get(name, 0)


# --------------------------------------------------------------- rendering


def _ms(value: int) -> str:
    return f"{value / 1000:9.3f}s"


def _router_line(router: RouterObs) -> str:
    if not router.up:
        return f"  {router.name:<10} DOWN"
    sas = ", ".join(
        f"SA {sa.sa_id} {sa.status}{'/stale' if sa.stale else ''} "
        f"out→{sa.next_out} in≤{sa.inbound_top}"
        for sa in router.sas
    )
    ssp = "up" if router.ssp_connected else "down"
    return (
        f"  {router.name:<10} inside {router.inside.state:<8} outside {router.outside.state:<8}"
        f" role {router.role:<8} SSP {ssp:<5} {sas or 'no SAs'}"
    )


def render_timeline(report: SimulationReport) -> str:
    """The report as text: snapshots interleaved with the events between them."""
    lines: list[str] = []
    position = 0
    for snapshot in report.snapshots:
        obs = snapshot.observation
        for entry in report.events[position : snapshot.log_position]:
            lines.append(f"{_ms(entry.time_ms)}  {entry.who:<10} {entry.text}")
        position = snapshot.log_position
        lines.append("")
        lines.append(f"{_ms(obs.now_ms)}  == {snapshot.title}")
        lines.extend(_router_line(r) for r in obs.routers)
        lines.append(
            f"  delivered LAN←{obs.delivered_to_lan} remote←{obs.delivered_to_remote}"
            f"  peer refused {obs.peer_refused}  reachable {'yes' if obs.reachable else 'NO'}"
        )
        lines.append("")
    lines.append("Figures")
    for name, value in report.figures.items():
        lines.append(f"  {name:<24} {value}")
    lines.append("")
    lines.append(f"Invariants ({report.checks} observations checked)")
    broken = {v.invariant for v in report.violations}
    for name, statement in INVARIANTS.items():
        verdict = "VIOLATED" if name in broken else "held"
        lines.append(f"  {name:<4} {verdict:<9} {statement.split(':')[0]}")
    for violation in report.violations[:20]:
        lines.append(f"  ! {violation}")
    return "\n".join(lines)
