"""The registry of Z3 properties, ``run_proofs`` and the report ``vpnha prove`` prints.

Each :class:`Property` names the invariant it is about (``I3``; a variant that
must fail is ``I3-naive``), states the expected outcome (``proved`` or
``counterexample``), whether it is in the fast tier, and how to run it. A result
is *as expected* when its outcome equals the expected one; ``unknown`` never is.
Properties run in worker processes (two by default: the CI machine has two
cores); each builds its own encoding and solvers, so results are independent of
order and of each other.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Final, Literal

from . import counters, hsrp, lifecycle, vam
from .engine import (
    DEFAULT_TIMEOUT_MS,
    Counterexample,
    Proved,
    Result,
    Unknown,
    check_valid,
    find_violation,
    prove_inductive,
)
from .replay import write_trace

__all__ = [
    "PROPERTIES",
    "Property",
    "as_expected",
    "outcome",
    "property_named",
    "render_table",
    "run_one",
    "run_proofs",
    "to_json",
]

Outcome = Literal["proved", "counterexample", "unknown"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Property:
    """One Z3 check."""

    name: str
    """``I3``, ``I3-naive`` …"""
    expected: Literal["proved", "counterexample"]
    fast: bool
    """In the default tier (``vpnha prove``); the others run with ``--all``."""
    summary: str
    run: Callable[[], Result]


def _counters(
    kind: str, *, jump: tuple[int, int | None, int], **flags: bool
) -> counters.CounterSpec:

    low, high, step = jump
    return counters.CounterSpec(
        kind="out" if kind == "out" else "in",
        jump_min=low,
        jump_max=high,
        jump_step=step,
        **flags,
    )


def _prove_counter(
    name: str,
    kind: str,
    jump: tuple[int, int | None, int],
    *,
    ahead: bool = False,
    **flags: bool,
) -> Result:
    """Prove I3/I4 (``ahead``: and that every takeover starts above all numbers used)."""
    spec = _counters(kind, jump=jump, **flags)
    return prove_inductive(
        name,
        counters.counter_system(spec),
        counters.counter_invariant(spec),
        counters.counter_ahead_safe(spec) if ahead else counters.counter_safe(spec),
    )


def _describe_duplicate(found: Counterexample) -> str:
    values = dict(found.values)
    path = " → ".join(found.steps)
    return f"number {values.get('w')} used twice (J = {values.get('J')}); steps: {path}"


def _bounded_counter(
    name: str, depth: int, moves: Sequence[str] | None = None, **flags: bool
) -> Result:
    """Search ``depth`` steps for a duplicate; ``moves``: only these transitions (guided)."""
    spec = _counters("out", jump=(1_000_000, 10_000_000, 1_000_000), witness=True, **flags)
    system = counters.counter_system(spec)
    return find_violation(
        name,
        system if moves is None else system.only(moves),
        counters.counter_witness_safe,
        depth=depth,
        min_depth=depth if depth > 8 else 0,
        describe=_describe_duplicate,
        # An unguided search of 11-12 steps is one hard query (15-60 s, more on a loaded
        # machine); the guided ones take about a second.
        timeout_ms=DEFAULT_TIMEOUT_MS if depth <= 8 else 600_000,
    )


FIXED_RULES: Final = {"add_keeps": True, "early_refusals": True, "refusal_waits": True}
"""The model's Add and Refuse rules since the fixes (a standby never lowers a copy; a
Refuse counts only for the latest Add): assumption 2 is not needed with them."""


def _i3() -> Result:
    return _prove_counter("I3", "out", (1_000_000, 10_000_000, 1_000_000), **MODEL_RULES)


def _i3_naive() -> Result:
    return _bounded_counter("I3-naive", 6, naive=True)


# The guided searches: the kinds of step each scenario needs (router 0 the first active,
# router 1 the one that resyncs); any duplicate found in them is one of the whole system.
# (The late Add's and the early refusal's are ``counters.LATE_ADD_MOVES`` / ``EARLY_…``:
# the concrete schedules in replay.py use them too.)
_RESYNC_OFFLINE_MOVES: Final = (
    "connect",
    "disconnect",
    "sync0",
    "deliver_add1",
    "use0",
    "promote1",
    "use1",
    "demote1",
    "resync1",
)


def _i3_resync_offline() -> Result:
    return _bounded_counter("I3-resync-offline", 12, _RESYNC_OFFLINE_MOVES, resync_forgets=True)


def _i3_late_add() -> Result:
    # No card refusal: a refused late Add is blocked in the model by the order of the
    # announcement and the Refuse, which the encoding does not keep (the search would
    # find that; the duplicate it is after needs no refusal).
    return _bounded_counter(
        "I3-late-add", 11, counters.LATE_ADD_MOVES, late_adds=True, card_refusals=False
    )


def _i3_early_refusal() -> Result:
    return _bounded_counter(
        "I3-early-refusal", 9, counters.EARLY_REFUSAL_MOVES, early_refusals=True
    )


def _i3_reseed() -> Result:
    # Assumption 1 dropped (late Adds), the model's rules: the re-seed race, concrete in
    # replay.reseed_race_operations (tests/proofs/test_reseed_race.py).
    return _bounded_counter("I3-reseed", 10, counters.RESEED_MOVES, late_adds=True, **FIXED_RULES)


def _i3_resync_reseed() -> Result:
    # The implementation's resync answer (re-seeds the floor), under assumption 1.
    return _bounded_counter(
        "I3-resync-reseed", 9, counters.RESYNC_RESEED_MOVES, answer_reseeds=True, **FIXED_RULES
    )


MODEL_RULES: Final = {**FIXED_RULES, "keep_floor": True, "late_adds": True}
"""The model's and the implementation's rules since the re-seed race was fixed
(counters.py: adopting an announcement keeps a hold-back floor, raised only to the values
announced; an Add's ACK raises it to what the Add carried), with no assumption about
when Adds arrive (late Adds allowed: assumption 1 retired)."""


def _i4() -> Result:
    return _prove_counter("I4", "in", (0, 10_000, 1), **MODEL_RULES)


def _i8_counters() -> Result:
    return _prove_counter(
        "I8-counters", "out", (1, None, 1), ahead=True, limit32=False, **MODEL_RULES
    )


def _i1() -> Result:

    return prove_inductive("I1", hsrp.i1_pair_system(), hsrp.i1_pair_invariant(), hsrp.i1_pair_safe)


def _i1_tracking_flap() -> Result:

    # Only the interface steps (the ones that differ): a counterexample to induction of
    # the restriction is one of the whole system.
    interfaces = [
        f"{kind}_{side}{r}" for r in (0, 1) for side in ("in", "out") for kind in ("down", "up")
    ]
    result = prove_inductive(
        "I1-tracking-flap",
        hsrp.i1_pair_system(tracking_restarts=False).only(interfaces),
        hsrp.i1_pair_invariant(),
        hsrp.i1_pair_safe,
    )
    if isinstance(result, Counterexample):
        return replace(
            result,
            description=(
                "an interface change moves the other group's priority (tracking) between a "
                "Hello and the Coup it provokes (counterexample to induction; see hsrp.py)"
            ),
        )
    return result


def _i1_flap() -> Result:

    result = prove_inductive(
        "I1-priority-flap",
        hsrp.i1_system(priority_change_restarts=False),
        hsrp.i1_invariant(),
        hsrp.i1_safe,
    )
    if isinstance(result, Counterexample):
        return Counterexample(
            property=result.property,
            seconds=result.seconds,
            method=result.method,
            description=(
                "a priority change between a Hello and the Coup it provokes leaves the Coup "
                "lower than its target (counterexample to induction; see hsrp.py)"
            ),
            values=result.values,
        )
    return result


def _i2() -> Result:

    started = time.monotonic()
    role, shown = hsrp.i2_role_formula()
    first = check_valid("I2", role, shown=shown)
    if not isinstance(first, Proved):
        return first
    stable, shown = hsrp.i2_stable_formula(conforming=True)
    second = check_valid("I2", stable, shown=shown)
    if not isinstance(second, Proved):
        return second
    return Proved(
        property="I2",
        seconds=time.monotonic() - started,
        method="valid (role definition; fixpoints of the election)",
    )


def _describe_split(found: Counterexample) -> str:
    v = dict(found.values)

    def ip(value: object) -> str:
        return str(value)

    inside = "router 0" if v.get("inside_phase_r0") == 5 else "router 1"
    outside = "router 0" if v.get("outside_phase_r0") == 5 else "router 1"
    return (
        f"equal priorities, inside addresses {ip(v.get('in_ip0'))}/{ip(v.get('in_ip1'))}, "
        f"outside {ip(v.get('out_ip0'))}/{ip(v.get('out_ip1'))}: "
        f"inside Active on {inside}, outside Active on {outside}"
    )


def _i2_order() -> Result:

    stable, shown = hsrp.i2_stable_formula(conforming=False)
    return check_valid(
        "I2-address-order",
        stable,
        shown=shown,
        describe=_describe_split,
        method="validity over the stable elections",
    )


def _i6() -> Result:

    return prove_inductive(
        "I6", lifecycle.lifecycle_system(), lifecycle.i6_invariant(), lifecycle.i6_safe
    )


def _describe_resurrection(found: Counterexample) -> str:
    path = " → ".join(found.steps)
    return f"a copy of the SA is usable after its delete was acknowledged; steps: {path}"


def _i6_no_tombstone() -> Result:
    # Guided (the kinds of step the late Add needs): any violation found is one of the
    # whole system without tombstones.
    system = lifecycle.lifecycle_system(tombstones=False).only(lifecycle.NO_TOMBSTONE_MOVES)
    return find_violation(
        "I6-no-tombstone",
        system,
        lifecycle.i6_safe,
        depth=10,
        describe=_describe_resurrection,
    )


def _i8() -> Result:

    return prove_inductive(
        "I8",
        lifecycle.lifecycle_system(),
        [("expiry", lifecycle.i8_expiry_safe)],
        lifecycle.i8_expiry_safe,
    )


EXAMPLE_CARDS: Final = (10_000, 10_000)
"""SA capacity of the shipped pair's cards (``vpnha crypto-card vam``: 10000 SAs each)."""
EXAMPLE_LOAD: Final = 5_000
"""SA pairs the peer negotiates in the I7 checks."""


def _i7(name: str, *, load_safe: bool) -> Result:

    safe = (
        vam.i7_load_safe(EXAMPLE_CARDS, EXAMPLE_LOAD) if load_safe else vam.i7_safe(EXAMPLE_CARDS)
    )
    return prove_inductive(
        name,
        vam.vam_system(EXAMPLE_CARDS, EXAMPLE_LOAD),
        vam.i7_invariant(EXAMPLE_CARDS, EXAMPLE_LOAD),
        safe,
    )


def _i7_capacity() -> Result:
    return _i7("I7", load_safe=False)


def _i7_load() -> Result:
    return _i7("I7-load", load_safe=True)


PROPERTIES: Final[tuple[Property, ...]] = (
    Property(
        name="I1",
        expected="proved",
        fast=True,
        summary=(
            "single Active within hello + 2 × latency on a clean segment, inside and outside "
            "groups coupled by interface tracking (the grace restarts when a group's "
            "priority moves)"
        ),
        run=_i1,
    ),
    Property(
        name="I1-tracking-flap",
        expected="counterexample",
        fast=True,
        summary="I1 for the coupled groups without restarting on a priority moved by tracking",
        run=_i1_tracking_flap,
    ),
    Property(
        name="I1-priority-flap",
        expected="counterexample",
        fast=True,
        summary="I1 without restarting the grace period on a priority change",
        run=_i1_flap,
    ),
    Property(
        name="I2",
        expected="proved",
        fast=True,
        summary="role ACTIVE iff all groups Active; a stable conforming election never splits",
        run=_i2,
    ),
    Property(
        name="I2-address-order",
        expected="counterexample",
        fast=True,
        summary="I2 with inside/outside addresses ordered differently",
        run=_i2_order,
    ),
    Property(
        name="I3",
        expected="proved",
        fast=True,
        summary=(
            "no outbound sequence number sent twice, M = 1-10 million, 32-bit limit, resync "
            "at any time, full copies arriving at any time (late Adds), the model's rules"
        ),
        run=_i3,
    ),
    Property(
        name="I3-naive",
        expected="counterexample",
        fast=True,
        summary="takeover jumps by M but no hold-back and no stale copies",
        run=_i3_naive,
    ),
    Property(
        name="I3-resync-offline",
        expected="counterexample",
        fast=False,
        summary=(
            "the resync rule before the fix (a resync while SSP is down forgot what the "
            "cleared copies counted); I3 proves the fixed rule"
        ),
        run=_i3_resync_offline,
    ),
    Property(
        name="I3-late-add",
        expected="counterexample",
        fast=True,
        summary=(
            "I3 without assumption 1: a resync's second full copy lands after the requester "
            "took over and left, below its own use (the Add rule before the fix: a "
            "standby now never lowers a copy)"
        ),
        run=_i3_late_add,
    ),
    Property(
        name="I3-early-refusal",
        expected="counterexample",
        fast=True,
        summary=(
            "I3 without assumption 2 under the Refuse rule before the fix: the refusal of a "
            "first full copy drops the floor although the resync's second one was admitted "
            "(a Refuse now counts only for the latest Add: I3 proves that rule)"
        ),
        run=_i3_early_refusal,
    ),
    Property(
        name="I3-reseed",
        expected="counterexample",
        fast=True,
        summary=(
            "the adoption rule before the fix: a full copy still on its way lands after its "
            "receiver was ACTIVE without the SA and left, below the floor the holder "
            "re-seeded on its announcement (now the floor is kept: I3 proves that rule)"
        ),
        run=_i3_reseed,
    ),
    Property(
        name="I3-resync-reseed",
        expected="counterexample",
        fast=True,
        summary=(
            "the implementation's resync answer before the fix, which re-seeded the "
            "holder's floor while an older full copy was on its way (now it keeps it)"
        ),
        run=_i3_resync_reseed,
    ),
    Property(
        name="I4",
        expected="proved",
        fast=True,
        summary=(
            "no inbound sequence number accepted twice, N = 0-10000, any window, resync at "
            "any time, late Adds, the model's rules"
        ),
        run=_i4,
    ),
    Property(
        name="I6",
        expected="proved",
        fast=True,
        summary=(
            "no resurrection after an acknowledged delete or expiry (seconds or kilobytes), "
            "across resync, rekey and failover, late Adds included (tombstones)"
        ),
        run=_i6,
    ),
    Property(
        name="I6-no-tombstone",
        expected="counterexample",
        fast=True,
        summary=(
            "I6 without tombstones: a late Add lands on the router that deleted the SA, "
            "ahead of the acknowledgement"
        ),
        run=_i6_no_tombstone,
    ),
    Property(
        name="I7",
        expected="proved",
        fast=True,
        summary="cards never over capacity, every refusal reported (VAM pair, 5000 SAs)",
        run=_i7_capacity,
    ),
    Property(
        name="I7-load",
        expected="proved",
        fast=True,
        summary="a card with room for the whole load never refuses",
        run=_i7_load,
    ),
    Property(
        name="I8",
        expected="proved",
        fast=True,
        summary="expiry carried unchanged by every copy (seconds lifetime never extended)",
        run=_i8,
    ),
    Property(
        name="I8-counters",
        expected="proved",
        fast=True,
        summary=(
            "byte counts and DPD numbers never reused, and a takeover starts above every "
            "number used (strictly increasing across splits), any interval, late Adds, the "
            "model's rules"
        ),
        run=_i8_counters,
    ),
)


def property_named(name: str) -> Property:
    """The registered property ``name`` (KeyError if none)."""
    for prop in PROPERTIES:
        if prop.name == name:
            return prop
    raise KeyError(name)


def run_one(name: str, trace_dir: Path | None = None) -> Result:
    """Run one registered property (in this process); timing covers building the encoding.

    With ``trace_dir``, a counterexample that has a concrete schedule is replayed on the
    model and the implementation and written there as an ITF trace (``result.trace``).
    """
    started = time.monotonic()
    result = property_named(name).run()
    if isinstance(result, Counterexample) and trace_dir is not None:
        written = write_trace(result, trace_dir)
        if written is not None:
            result = replace(result, trace=str(written))
    elapsed = time.monotonic() - started
    match result:
        case Proved():
            return Proved(
                property=result.property, seconds=elapsed, method=result.method, note=result.note
            )
        case Counterexample():
            return Counterexample(
                property=result.property,
                seconds=elapsed,
                method=result.method,
                description=result.description,
                values=result.values,
                trace=result.trace,
                steps=result.steps,
            )
        case Unknown():
            return Unknown(
                property=result.property,
                seconds=elapsed,
                method=result.method,
                reason=result.reason,
            )


def run_proofs(
    fast_only: bool,
    *,
    jobs: int = 2,
    names: Sequence[str] | None = None,
    trace_dir: Path | None = None,
) -> list[Result]:
    """Run the registered properties (``fast_only``: the default tier) in ``jobs`` processes.

    Results come back in registry order. With ``jobs > 1`` each property runs in a fresh
    process, so its result does not depend on what ran before; ``jobs=1`` runs them here.
    """
    chosen = [
        p.name
        for p in PROPERTIES
        if (names is None or p.name in names) and (p.fast or not fast_only)
    ]
    if jobs <= 1:
        return [run_one(name, trace_dir) for name in chosen]
    # A fresh process per property: Z3's search depends on what else was built in the
    # process, so this keeps every result (and counterexample) the same run after run.
    # Forked from a fork server (not from here, not spawned): the server starts clean with
    # this module imported, so the children start fast and with no Z3 term built — a
    # plain fork would inherit whatever the caller built (a test suite does) and Z3
    # would then find other counterexamples.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    with context.Pool(processes=jobs, maxtasksperchild=1) as pool:
        return pool.map(partial(run_one, trace_dir=trace_dir), chosen, chunksize=1)


def outcome(result: Result) -> Outcome:
    """``proved``, ``counterexample`` or ``unknown``."""
    match result:
        case Proved():
            return "proved"
        case Counterexample():
            return "counterexample"
        case Unknown():
            return "unknown"


def as_expected(result: Result) -> bool:
    """The outcome is the registered expectation (``unknown`` never is)."""
    return outcome(result) == property_named(result.property).expected


def _detail(result: Result) -> str:
    match result:
        case Proved():
            return result.method
        case Counterexample():
            text = f"{result.method}: {result.description}"
            return text + (f" [trace: {result.trace}]" if result.trace else "")
        case Unknown():
            return f"{result.method}: {result.reason}"


def render_table(results: Sequence[Result], *, wall_seconds: float | None = None) -> str:
    """The ``vpnha prove`` table: property, expected, result, as expected, seconds, detail."""
    header = f"{'property':<20} {'expected':<15} {'result':<15} {'ok':<3} {'seconds':>8}  detail"
    lines = [header, "-" * len(header)]
    for result in results:
        expected = property_named(result.property).expected
        ok = "yes" if as_expected(result) else "NO"
        lines.append(
            f"{result.property:<20} {expected:<15} {outcome(result):<15} {ok:<3} "
            f"{result.seconds:>8.2f}  {_detail(result)}"
        )
    total = sum(r.seconds for r in results)
    good = sum(as_expected(r) for r in results)
    summary = f"{good}/{len(results)} as expected; solver time {total:.1f} s"
    if wall_seconds is not None:
        summary += f", wall time {wall_seconds:.1f} s"
    lines += ["", summary]
    return "\n".join(lines)


def to_json(results: Sequence[Result]) -> list[dict[str, object]]:
    """``vpnha prove --json``: one record per property."""
    records: list[dict[str, object]] = []
    for result in results:
        record: dict[str, object] = {
            "property": result.property,
            "result": outcome(result),
            "expected": property_named(result.property).expected,
            "as_expected": as_expected(result),
            "seconds": round(result.seconds, 3),
            "method": result.method,
            "trace": result.trace if isinstance(result, Counterexample) else None,
        }
        if isinstance(result, Counterexample):
            record["description"] = result.description
            record["values"] = dict(result.values)
        if isinstance(result, Unknown):
            record["reason"] = result.reason
        records.append(record)
    return records
