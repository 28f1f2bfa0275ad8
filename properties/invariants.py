"""Invariants I1–I10 (DESIGN §6) as named predicates over observations and the wire log.

Feed every observation of a run, in order, to an ``InvariantChecker``; it returns
the violations of that step. Each invariant is a method whose docstring states
it precisely; ``INVARIANTS`` maps the names to those statements. The checker keeps
only what history the invariants need (first-seen lifetimes, highest byte counts,
last DPD numbers), so a long run costs O(wire log) per step.

Two of them need a scenario rather than a single step: I10 (continuity) is the
function ``check_continuity(before, after)`` applied around a failover, and the
conformance machine applies it; I5's step form checks every takeover record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from .observation import Observation, RouterObs, Run

__all__ = [
    "INVARIANTS",
    "ContinuityWatch",
    "InvariantChecker",
    "Violation",
    "check_continuity",
    "conforming",
    "overlaps",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Violation:
    """One invariant broken at one instant."""

    invariant: str
    """``I1`` … ``I10``."""
    time_ms: int
    message: str

    def __str__(self) -> str:
        return f"{self.invariant} at {self.time_ms} ms: {self.message}"


def overlaps(runs: Iterable[Run]) -> list[tuple[Run, Run]]:
    """Pairs of runs on the same SPI that share a sequence number."""
    by_spi: dict[int, list[Run]] = {}
    for run in runs:
        by_spi.setdefault(run.spi, []).append(run)
    found: list[tuple[Run, Run]] = []
    for spi_runs in by_spi.values():
        spi_runs.sort(key=lambda r: (r.first, r.last))
        reach: Run | None = None
        for run in spi_runs:
            if reach is not None and run.first <= reach.last:
                found.append((reach, run))
            if reach is None or run.last > reach.last:
                reach = run
    return found


def conforming(obs: Observation) -> bool:
    """The configuration meets the document's HA requirements (the premise of I2).

    Equal priorities on both routers for each group, preempt on every group,
    inside and outside tracking each other on both routers, and interface
    addresses ordered the same way on both segments (document, "Configuring HSRP").
    """
    cfg = obs.config
    (p0i, p0o), (p1i, p1o) = cfg.priorities
    (a0i, a0o), (a1i, a1o) = cfg.addresses
    return (
        p0i == p1i
        and p0o == p1o
        and all(all(pair) for pair in cfg.preempt)
        and all(cfg.mutual_tracking)
        and (a0i > a1i) == (a0o > a1o)
    )


def _fully_up(obs: Observation) -> bool:
    return all(
        r.up and r.inside.interface_up and r.outside.interface_up for r in obs.routers
    ) and not any(obs.partitioned)


def _active(router: RouterObs, side: str) -> bool:
    group = router.inside if side == "inside" else router.outside
    return router.up and group.state == "Active"


@dataclass(slots=True)
class InvariantChecker:
    """Checks I1–I9 on every observation of one run (I10: ``check_continuity``)."""

    expiry: dict[int, int] = field(default_factory=dict)
    high_bytes: dict[int, int] = field(default_factory=dict)
    """Per SA: the highest byte count any ACTIVE instance has shown."""
    instance_bytes: dict[tuple[int, int], int] = field(default_factory=dict)
    """Per (SA, router) holding it ACTIVE: the byte count last seen."""
    dpd_seen: int = 0
    boots_seen: tuple[int, int] = (-1, -1)
    """The routers' boot instants when I2 last looked."""
    conforming_since_boot: bool = True
    """The configuration has been conforming ever since either router last booted."""
    takeovers_seen: int = 0
    survivors: dict[int, set[str]] = field(default_factory=dict)
    """Per SA seen gone: the routers that held it ACTIVE then and have not let go since."""
    priorities_seen: dict[tuple[int, str], int] = field(default_factory=dict)
    """Per (router, side): the group's effective priority when I1 last looked."""
    priority_moved_ms: dict[str, int] = field(default_factory=dict)
    """Per side: when a group priority on either router was last seen to move (I1)."""
    skip: frozenset[str] = frozenset()
    """Invariants not to check (e.g. I2 while exploring a non-conforming configuration)."""

    def observe(self, obs: Observation) -> list[Violation]:
        """All violations in this observation (given everything observed before)."""
        found: list[Violation] = []
        for name, check in _CHECKS:
            if name in self.skip:
                continue
            found.extend(
                Violation(invariant=name, time_ms=obs.now_ms, message=m) for m in check(self, obs)
            )
        return found

    def i1_single_active(self, obs: Observation) -> list[str]:
        """I1 single active: at most one router is Active for a group once both have been
        Active together for longer than one hello time plus two link latencies on a
        segment that has been lossless (no loss, delay, duplicate or partition) and
        undisturbed for that long, with the group's priority unchanged on both routers
        for that long — i.e. no split-brain survives a clean hello exchange.

        A priority move (``standby priority``, or tracking: an interface of the router
        going down or up) restarts the grace period like a segment fault, as the Z3 proof
        of I1 states it (``properties/z3/hsrp.py``): a move between a Hello and the Coup it
        provokes leaves the Coup below its target, which ignores it. Without the restart
        the property is false on the model and on the implementation: raising each
        Coup's (and each Active Hello's) target above it while the message is in flight
        keeps both routers Active indefinitely (``tests/proofs/test_i1_priority_flap.py``:
        eight operator changes in one second after a partition heals, reported by this
        check before the restart was added).
        """
        grace = obs.config.hello_ms + 2 * obs.config.latency_ms
        for index, router in enumerate(obs.routers):
            for side in ("inside", "outside"):
                priority = (router.inside if side == "inside" else router.outside).priority
                seen = self.priorities_seen.get((index, side))
                if seen is not None and seen != priority:
                    self.priority_moved_ms[side] = obs.now_ms
                self.priorities_seen[(index, side)] = priority
        problems = []
        for side_index, side in enumerate(("inside", "outside")):
            if obs.partitioned[side_index]:
                continue
            routers = [r for r in obs.routers if _active(r, side)]
            if len(routers) < 2:
                continue
            groups = [r.inside if side == "inside" else r.outside for r in routers]
            together_since = max(
                [g.state_since_ms for g in groups]
                + [obs.clean_since[side_index], self.priority_moved_ms.get(side, 0)]
            )
            if obs.now_ms - together_since > grace:
                problems.append(
                    f"both routers Active for the {side} group since {together_since} ms "
                    f"(> hello {obs.config.hello_ms} ms + 2 × latency on a clean segment, "
                    "priorities unchanged)"
                )
        return problems

    def i2_coherent_device(self, obs: Observation) -> list[str]:
        """I2 coherent device: an SSP role of ACTIVE implies every group Active, always; and
        with a configuration that has been conforming (see ``conforming``) ever since
        either router last booted, both routers and all four interfaces up and nothing
        disturbed for ``settle_ms``, each router's inside and outside groups are both
        Active or both not (no black-hole split).

        "Ever since a boot": a split made while the configuration was not conforming
        (one group's priority lowered, then restored) outlives the repair, because HSRP
        never preempts on equal priority; only a re-election (a router booting) clears
        it. The lockstep suite found this; the document's recipe (equal priorities,
        preempt, mutual tracking) prevents splits from interface failures, not from an
        operator's priority excursion.
        """
        if obs.boot_ms != self.boots_seen:
            self.boots_seen = obs.boot_ms
            self.conforming_since_boot = True
        if not conforming(obs):
            self.conforming_since_boot = False
        problems = []
        for router in obs.routers:
            if router.role == "ACTIVE" and not (
                _active(router, "inside") and _active(router, "outside")
            ):
                problems.append(f"{router.name} is SSP ACTIVE without both groups Active")
        stable = obs.now_ms - obs.disturbed_ms > obs.config.settle_ms
        if stable and _fully_up(obs) and self.conforming_since_boot:
            for router in obs.routers:
                if _active(router, "inside") != _active(router, "outside"):
                    problems.append(
                        f"{router.name} is {router.inside.state} inside but "
                        f"{router.outside.state} outside, stable for "
                        f"{obs.now_ms - obs.disturbed_ms} ms: black hole"
                    )
        return problems

    def i3_outbound_ahead(self, obs: Observation) -> list[str]:
        """I3 outbound ahead: no (SPI, sequence number) is ever transmitted twice, by either
        router, across any number of failovers."""
        return [
            f"SPI {a.spi:#x} seq {max(a.first, b.first)}..{min(a.last, b.last)} sent by "
            f"router {a.router} at {a.time_ms} ms and again by router {b.router} at {b.time_ms} ms"
            for a, b in overlaps(obs.transmitted)
        ]

    def i4_inbound_ahead(self, obs: Observation) -> list[str]:
        """I4 inbound ahead: no (SPI, sequence number) is ever accepted twice, by either
        router — a packet captured before a failover and replayed after it is refused."""
        return [
            f"SPI {a.spi:#x} seq {max(a.first, b.first)}..{min(a.last, b.last)} accepted by "
            f"router {a.router} at {a.time_ms} ms and again by router {b.router} at {b.time_ms} ms"
            for a, b in overlaps(obs.accepted)
        ]

    def i5_no_sa_lost(self, obs: Observation) -> list[str]:
        """I5 no SA lost: at every takeover, every standby copy that was usable (acknowledged,
        not stale, not expired) is promoted, and a promoted SA stays ACTIVE on the new
        active (while it keeps the role) until it is deleted or expires."""
        problems = []
        deleted = {sa_id for sa_id, _ in obs.deleted}
        for takeover in obs.takeovers[self.takeovers_seen :]:
            lost = sorted(set(takeover.usable) - set(takeover.promoted))
            if lost:
                problems.append(f"takeover by router {takeover.router} lost usable SAs {lost}")
        self.takeovers_seen = len(obs.takeovers)
        for index, router in enumerate(obs.routers):
            mine = [t for t in obs.takeovers if t.router == index]
            if not mine or router.role != "ACTIVE" or router.role_since_ms != mine[-1].time_ms:
                continue
            active = {sa.sa_id for sa in router.sas if sa.status == "ACTIVE"}
            missing = sorted(set(mine[-1].promoted) - active - deleted)
            if missing:
                problems.append(f"{router.name} promoted SAs {missing} but no longer holds them")
        return problems

    def i6_no_resurrection(self, obs: Observation) -> list[str]:
        """I6 no resurrection: an SA whose delete the standby acknowledged, or that expired,
        is never ACTIVE again on either router. (A delete not yet acknowledged when the
        active fails can be undone by the takeover: that window is inherent and documented.)

        A router that still holds the SA ACTIVE when it is first seen gone (a split brain:
        the other active spent its copy's kilobytes) is not resurrecting it; it keeps it
        until it lets go, and from then on it must not hold it ACTIVE again either."""
        gone = {sa_id for sa_id, how in obs.deleted if how in ("acked", "expired")}
        problems = []
        for sa_id in gone:
            holders = {
                router.name
                for router in obs.routers
                for sa in router.sas
                if sa.sa_id == sa_id and sa.status == "ACTIVE"
            }
            kept = self.survivors.setdefault(sa_id, holders) & holders
            self.survivors[sa_id] = kept
            problems += [
                f"SA {sa_id} is ACTIVE on {name} after it was deleted or expired"
                for name in sorted(holders - kept)
            ]
        return problems

    def i7_capacity(self, obs: Observation) -> list[str]:
        """I7 capacity: no card holds more SAs than its capacity (active and standby alike),
        and every refusal is reported with a reason."""
        problems = [
            f"{r.name} holds {r.card_in_use} SAs on a card of {r.card_capacity}"
            for r in obs.routers
            if r.card_capacity is not None and r.card_in_use > r.card_capacity
        ]
        problems += [
            f"refusal without a reason: {text!r}" for text in obs.refusals if ":" not in text
        ]
        return problems

    def i8_lifetimes(self, obs: Observation) -> list[str]:
        """I8 lifetimes never extended: an SA's expiry time is the same wherever and whenever
        it is seen; a router that takes an SA over (its ACTIVE instance appears) starts at a
        byte count no lower than any ACTIVE instance ever showed, and an instance's count
        never goes down while the router holds it; the cluster's DPD R-U-THERE numbers only
        increase per IKE SA. (During a split-brain two ACTIVE instances count separately:
        hold-back keeps them apart, so each is judged on its own.)"""
        problems = []
        current: dict[tuple[int, int], int] = {}
        for index, router in enumerate(obs.routers):
            for sa in router.sas:
                first = self.expiry.setdefault(sa.sa_id, sa.expires_ms)
                if sa.expires_ms != first:
                    problems.append(
                        f"SA {sa.sa_id} expiry moved from {first} to {sa.expires_ms} "
                        f"on {router.name}"
                    )
                if sa.status == "ACTIVE":
                    current[(sa.sa_id, index)] = sa.bytes_used
        for key, count in sorted(current.items()):
            sa_id, index = key
            name = obs.routers[index].name
            previous = self.instance_bytes.get(key)
            floor = self.high_bytes.get(sa_id, 0) if previous is None else previous
            if count < floor:
                what = "took over" if previous is None else "went back"
                problems.append(
                    f"SA {sa_id} byte count {what} at {count} on {name}, below {floor}: "
                    "kilobyte lifetime extended"
                )
        self.instance_bytes = current
        for (sa_id, _), count in current.items():
            self.high_bytes[sa_id] = max(self.high_bytes.get(sa_id, 0), count)
        last: dict[int, int] = {}
        for time_ms, ike_id, seq in obs.dpd_sent:
            if seq <= last.get(ike_id, 0):
                problems.append(
                    f"DPD R-U-THERE {seq} for IKE SA {ike_id:#x} at {time_ms} ms "
                    f"does not exceed {last[ike_id]}"
                )
            last[ike_id] = max(seq, last.get(ike_id, 0))
        return problems

    def i9_no_cleartext(self, obs: Observation) -> list[str]:
        """I9 no cleartext leak: traffic matching a ``permit`` never leaves the outside
        interface unencrypted, even during failover."""
        if obs.cleartext_leaked:
            return [f"{obs.cleartext_leaked} permit packets left the outside interface in clear"]
        return []


_CHECKS: Sequence[tuple[str, Callable[[InvariantChecker, Observation], list[str]]]] = (
    ("I1", InvariantChecker.i1_single_active),
    ("I2", InvariantChecker.i2_coherent_device),
    ("I3", InvariantChecker.i3_outbound_ahead),
    ("I4", InvariantChecker.i4_inbound_ahead),
    ("I5", InvariantChecker.i5_no_sa_lost),
    ("I6", InvariantChecker.i6_no_resurrection),
    ("I7", InvariantChecker.i7_capacity),
    ("I8", InvariantChecker.i8_lifetimes),
    ("I9", InvariantChecker.i9_no_cleartext),
)


def check_continuity(before: Observation, after: Observation, *, failed: int) -> list[str]:
    """I10 continuity: after the ACTIVE router ``failed`` fails while the other is STANDBY
    with SSP connected, the other is ACTIVE within hold time + hello time and holds,
    ACTIVE, every SA it had as a usable (non-stale) copy that has not expired."""
    survivor = 1 - failed
    old, new = before.router(failed), before.router(survivor)
    if old.role != "ACTIVE" or new.role != "STANDBY" or not new.ssp_connected:
        return []  # premise not met: nothing to check
    usable = {sa.sa_id for sa in new.sas if sa.status == "STANDBY" and not sa.stale} & {
        sa.sa_id for sa in old.sas if sa.status == "ACTIVE"
    }
    deadline = before.now_ms + before.config.hold_ms + before.config.hello_ms
    survivor_after = after.router(survivor)
    problems = []
    if after.now_ms < deadline:
        return [f"continuity checked too early ({after.now_ms} < {deadline} ms)"]
    if survivor_after.role != "ACTIVE" or survivor_after.role_since_ms > deadline:
        problems.append(
            f"{survivor_after.name} is {survivor_after.role} since "
            f"{survivor_after.role_since_ms} ms; ACTIVE was due by {deadline} ms"
        )
    expired = {sa_id for sa_id, how in after.deleted if how == "expired"}
    active = {sa.sa_id for sa in survivor_after.sas if sa.status == "ACTIVE"}
    lost = sorted(usable - active - expired)
    if lost:
        problems.append(f"SAs {lost} were in sync on the standby but are not ACTIVE after takeover")
    return problems


_QUIET_OPERATIONS: Final = frozenset(
    {
        "Advance",
        "AdvanceToNextEvent",
        "SendTraffic",
        "ReceiveTraffic",
        "ReplayCaptured",
        "ForgeCaptured",
    }
)
"""Operations that cannot excuse a late takeover (everything else cancels a watch)."""


@dataclass(slots=True)
class ContinuityWatch:
    """I10 over a run of operations: a crash of the ACTIVE router starts a watch, which is
    checked (``check_continuity``) at the first step at or after hold + hello time; any
    operation other than time passing and traffic in between cancels it (a fault on the
    survivor may rightly delay the takeover), and a crash while a message fault is still
    in flight starts none. The same rule for campaigns and replays."""

    before: Observation | None = None
    failed: int = 0
    checked: int = 0
    """How many watches ran to their check."""

    def step(self, operation: object, before: Observation, after: Observation) -> list[str]:
        """Problems found by this step (``before``/``after``: the observations around it)."""
        name = type(operation).__name__
        if name == "Crash":
            router = getattr(operation, "router", -1)
            self.before = None
            # Not while a message fault is still in flight (a Hello delayed before the
            # crash may land after it and rightly delay the takeover).
            clean = max(before.clean_since) <= before.now_ms
            if before.router(router).role == "ACTIVE" and before.router(router).up and clean:
                self.before, self.failed = before, router
            return []
        watched = self.before
        if watched is None:
            return []
        if name not in _QUIET_OPERATIONS:
            self.before = None
            return []
        deadline = watched.now_ms + watched.config.hold_ms + watched.config.hello_ms
        if after.now_ms < deadline:
            return []
        self.before = None
        self.checked += 1
        return check_continuity(watched, after, failed=self.failed)


INVARIANTS: dict[str, str] = {
    name: " ".join((check.__doc__ or "").split()) for name, check in _CHECKS
} | {"I10": " ".join((check_continuity.__doc__ or "").split())}
"""Invariant name -> its precise statement."""
