"""``vpnha simulate``: the model through the document's failover story, as a readable timeline.

The script: both routers boot and elect; the remote peer negotiates an SA;
traffic flows both ways; the active router crashes; the standby takes over
after the hold time and moves every counter ahead; an attacker replays a packet
captured before the failover; the old active restarts, resynchronises over SSP,
preempts and takes over again. Every step is observed and checked against
I1–I10. The result carries the figures (takeover time, traffic gap, packets
lost, replays refused, sequence numbers reused) and the text timeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from vpnha.model import operations as op
from vpnha.model.params import ClusterParams
from vpnha.model.system import LogEntry, System, apply_in_place, boot

from .invariants import INVARIANTS, InvariantChecker, Violation, check_continuity, overlaps
from .observation import Observation, RouterObs, observe_model

__all__ = ["SimulationReport", "render_timeline", "run_failover_story"]

TRAFFIC_TICK_MS = 100
"""The LAN host and the remote peer each send a burst every this many ms."""
BURST = 100
"""Packets per burst in each direction (1000 packets/s each way)."""
PACKET_BYTES = 100


@dataclass(slots=True, kw_only=True)
class Snapshot:
    """The cluster at one point of the script."""

    title: str
    observation: Observation
    log_position: int
    """How many log entries existed when the snapshot was taken."""


@dataclass(slots=True, kw_only=True)
class SimulationReport:
    """What ``run_failover_story`` found."""

    snapshots: list[Snapshot] = field(default_factory=list)
    events: list[LogEntry] = field(default_factory=list)
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
    def __init__(self, params: ClusterParams) -> None:
        self.system: System = boot(params)
        self.checker = InvariantChecker()
        self.report = SimulationReport(
            names=(params.routers[0].name, params.routers[1].name),
        )
        self.last = observe_model(self.system)
        self.offered = 0

    def do(self, operation: op.Operation) -> Observation:
        apply_in_place(self.system, operation)
        self.last = observe_model(self.system)
        self.report.checks += 1
        self.report.violations.extend(self.checker.observe(self.last))
        return self.last

    def snapshot(self, title: str) -> None:
        self.report.snapshots.append(
            Snapshot(title=title, observation=self.last, log_position=len(self.system.log))
        )

    def traffic_for(self, duration_ms: int, *, until: Callable[[], bool] | None = None) -> int:
        """Offer traffic both ways every tick; return the ms spent."""
        spent = 0
        while spent < duration_ms:
            self.do(op.SendTraffic(packets=BURST, size=PACKET_BYTES))
            self.do(op.ReceiveTraffic(packets=BURST, size=PACKET_BYTES))
            self.offered += 2 * BURST
            self.do(op.Advance(ms=TRAFFIC_TICK_MS))
            spent += TRAFFIC_TICK_MS
            if until is not None and until():
                break
        return spent


def _delivered(obs: Observation) -> int:
    return obs.delivered_to_lan + obs.delivered_to_remote


def run_failover_story(params: ClusterParams) -> SimulationReport:
    """Run the scripted failover on the model and check every step."""
    run = _Run(params)
    system = run.system
    hold = max(r.inside.hold_ms for r in params.routers)
    hello = max(r.inside.hello_ms for r in params.routers)
    reload_ms = max(r.inside.delay_reload_ms for r in params.routers)
    minimum_ms = max(r.inside.delay_minimum_ms for r in params.routers)

    run.snapshot("Both routers power on")
    run.do(op.Advance(ms=reload_ms + 3 * hold + 1000))
    run.snapshot("Elected (standby delay reload, then HSRP)")

    run.do(
        op.Establish(sa_id=1, spi_in=0x5A000001, spi_out=0xC1000001, cookie_i=0xA1, cookie_r=0xB2)
    )
    run.do(op.Advance(ms=50))
    run.snapshot("Remote peer negotiated SA 1 with the outside VIP; replicated over SSP")

    run.traffic_for(2000)
    run.snapshot("Traffic flows both ways through the active router")

    active = next((i for i, r in enumerate(run.last.routers) if r.role == "ACTIVE"), 0)
    before = run.last
    crash_ms = system.now
    delivered_at_crash = _delivered(before)
    remote_at_crash = before.delivered_to_remote
    run.do(op.Crash(router=active))
    run.snapshot(f"{run.report.names[active]} (ACTIVE) crashes")

    survivor = 1 - active
    run.traffic_for(
        hold + hello + 5000,
        until=lambda: run.last.delivered_to_remote > remote_at_crash,
    )
    first_after = system.now
    takeover_at = run.last.routers[survivor].role_since_ms
    run.traffic_for(1000)
    after = run.last
    run.snapshot(f"{run.report.names[survivor]} took over; traffic resumed on the same SA")
    continuity = check_continuity(before, after, failed=active)
    run.report.violations.extend(
        Violation(invariant="I10", time_ms=after.now_ms, message=m) for m in continuity
    )

    accepted_before = len(after.accepted)
    refused_before = _drop(after.routers[survivor], "replay_dropped")
    run.do(op.ReplayCaptured(pick=3))
    replay = run.last
    run.snapshot("An attacker replays an ESP packet captured before the failover")

    run.do(op.Restart(router=active))
    run.traffic_for(reload_ms + minimum_ms // 10 + 2 * hold)
    run.snapshot(f"{run.report.names[active]} restarted, resynchronised over SSP and preempted")
    run.traffic_for(1000)
    run.snapshot("Traffic flows through the original active again")

    final = run.last
    run.report.events = list(system.log)
    run.report.figures = {
        "hold_ms": hold,
        "takeover_ms": takeover_at - crash_ms,
        "traffic_gap_ms": first_after - crash_ms,
        "packets_offered": run.offered,
        "packets_lost": run.offered - _delivered(final),
        "delivered_before_crash": delivered_at_crash,
        "delivered_total": _delivered(final),
        "replay_accepted": len(replay.accepted) - accepted_before,
        "replay_refused": _drop(replay.routers[survivor], "replay_dropped") - refused_before,
        "seq_reused": sum(
            min(a.last, b.last) - max(a.first, b.first) + 1 for a, b in overlaps(final.transmitted)
        ),
        "accepted_twice": sum(
            min(a.last, b.last) - max(a.first, b.first) + 1 for a, b in overlaps(final.accepted)
        ),
        "peer_refused": final.peer_refused,
        "renegotiations": sum(1 for e in system.log if e.kind == "sa-established") - 1,
    }
    return run.report


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


def render_timeline(report: SimulationReport) -> str:
    """The report as text: snapshots interleaved with the events between them."""
    lines: list[str] = []
    position = 0
    for snapshot in report.snapshots:
        obs = snapshot.observation
        for entry in report.events[position : snapshot.log_position]:
            if entry.kind not in _SHOWN_EVENTS:
                continue
            who = report.names[entry.router] if entry.router is not None else "cluster"
            detail = f": {entry.detail}" if entry.detail else ""
            lines.append(f"{_ms(entry.time_ms)}  {who:<10} {entry.kind}{detail}")
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
