"""The re-seed race (counters.py, ASSUMPTION 1): a real duplicate on the model and on the
implementation before the fix, and its implementation-only variant (the resync answer).

The fix (counters.py, "The re-seed race"): an ACTIVE holder that adopts the other end's
announcement keeps the hold-back floor it has, raised only to what the other end
announced, and the implementation's answer to a resync no longer re-seeds its floors
(an Add's ACK raises them to what the Add carried). The schedules that reused a number
before it now hold back at the floor: each test below was, before the fix, a known
failure asserting the reuse.
"""

from __future__ import annotations

import pytest
from vpnha.model.system import WireRun
from vpnha.properties.trace import RunSpec, replay, signature
from vpnha.properties.z3 import counters
from vpnha.properties.z3.engine import Counterexample, Unknown, find_violation
from vpnha.properties.z3.registry import FIXED_RULES, run_proofs
from vpnha.properties.z3.replay import (
    RESEED_INBOUND,
    duplicates,
    finding_trace,
    reseed_race_configs,
    reseed_race_operations,
    resync_crossing_operations,
    run_on_model,
)

M = 1_000_000
"""The shipped pair's outbound interval (``replay-interval outbound 1``)."""
N = 3
"""The inbound interval of the inbound schedules: the smallest for which router 0's one
packet before the race sends no counter update (the update interval is ceil(N/2))."""


def _runs(runs: list[WireRun]) -> list[tuple[int, int, int]]:
    return [(run.router, run.first, run.last) for run in runs]


@pytest.mark.parametrize("resync", [False, True])
def test_reseed_race_sends_no_sequence_number_twice_on_the_model(resync: bool) -> None:
    """I3. Router 1 is ACTIVE without the SA for a moment and leaves; router 0 adopts its
    announcement while its older full copy (0: the establishment's, or with ``resync`` a
    resync's answer) is still on its way. Router 0 keeps its floor (0), so it holds back at
    M; the old copy lands as usable at 0 and router 1 takes over above M. Before the fix
    router 0 re-seeded its floor at 1, sent M + 1, and router 1 sent M + 1 again."""
    operations = reseed_race_operations(inbound=False, packets=M, resync=resync)
    system = run_on_model(operations, reseed_race_configs())
    assert system.params.outbound_interval == M
    takeovers = [(router, usable) for _, router, usable, _ in system.takeovers]
    assert takeovers == [(0, ()), (1, ()), (1, (1,))]
    assert _runs(system.transmitted) == [(0, 1, M), (1, M + 1, M + 1)]
    assert duplicates(system.transmitted) == []


@pytest.mark.parametrize("resync", [False, True])
def test_reseed_race_accepts_no_replay_twice_on_model_and_implementation(resync: bool) -> None:
    """I4, in lockstep: model and implementation agree at every step, router 0 holds back
    packet N + 1 (its floor kept at 0), router 1 accepts it once after the takeover and
    refuses the attacker's copy. Before the fix both accepted it twice."""
    operations = reseed_race_operations(inbound=True, packets=N, resync=resync)
    steps = replay(RunSpec(configs=reseed_race_configs(inbound=N)), operations)
    assert signature(steps) == ""
    assert all(not step.problems and not step.differences for step in steps)
    system = run_on_model(operations, reseed_race_configs(inbound=N))
    assert _runs(system.accepted) == [(0, 1, N), (1, N + 1, N + 1)]


def test_resync_answer_keeps_the_implementation_floor_below_an_add_in_flight() -> None:
    """Implementation only before the fix: the answer to a resync request re-seeded every
    floor while the establishment Add, older, was still on its way to the requester, so
    the implementation accepted packet N + 1 (the model held it back) and, after the
    takeover, accepted it again. Now both hold it back and agree at every step."""
    operations = resync_crossing_operations(N)
    configs = reseed_race_configs(inbound=N)
    system = run_on_model(operations, configs)
    assert not duplicates(system.accepted)
    assert system.routers[1].sas[1].inbound.value == N + 1
    assert _runs(system.accepted) == [(0, 1, N), (1, N + 1, N + 1)]
    steps = replay(RunSpec(configs=configs), operations)
    assert signature(steps) == ""
    assert all(not step.problems and not step.differences for step in steps)


def _outbound(**flags: bool) -> counters.CounterSpec:
    """The outbound counter encoding over every ``replay-interval outbound`` (1-10
    million), with the duplicate witness."""
    return counters.CounterSpec(
        kind="out", jump_min=M, jump_max=10 * M, jump_step=M, witness=True, **flags
    )


def _fresh(name: str) -> Counterexample:
    """Run one property in a fresh process (what ``vpnha prove`` does)."""
    (found,) = run_proofs(False, jobs=2, names=[name])
    assert isinstance(found, Counterexample), found
    return found


def test_z3_reseed_counterexample_is_the_race() -> None:
    """Z3's ``I3-reseed``: the full copy (the first Add) is still in flight while router 1 is
    ACTIVE without the SA and leaves; router 0 adopts the announcement and re-seeds its
    floor above that Add, which then lands as a usable copy below router 0's numbers."""
    found = _fresh("I3-reseed")
    steps = found.steps
    bare, unbare = steps.index("bare1"), steps.index("unbare1")
    adopt = steps.index("sync0", unbare)
    late = steps.index("deliver_add1", adopt)
    assert bare < unbare < adopt < late < steps.index("promote1", late)
    assert found.value(f"s{bare}.addp1") is True  # the full copy, in flight all along
    written = found.value(f"s{bare}.addv1")
    assert isinstance(written, int)
    assert found.value(f"s{adopt + 1}.fl0") == found.value(f"s{adopt}.v0")  # re-seeded
    assert found.value(f"s{late + 1}.v1") == written < found.value(f"s{adopt + 1}.fl0")
    assert found.value(f"s{late + 1}.usable1") is True
    assert found.value(f"s{len(steps)}.uses") == 2


def test_z3_resync_reseed_counterexample_needs_the_implementation_rule() -> None:
    """``I3-resync-reseed`` (the implementation's resync answer re-seeds the floor) is a
    duplicate; the same guided search under the model's rule (the answer keeps the floor)
    finds none."""
    found = _fresh("I3-resync-reseed")
    assert "answer0" in found.steps
    assert found.value(f"s{len(found.steps)}.uses") == 2
    system = counters.counter_system(_outbound(**FIXED_RULES)).only(counters.RESYNC_RESEED_MOVES)
    none = find_violation(
        "model-rule", system, counters.counter_witness_safe, depth=9, describe=str
    )
    assert isinstance(none, Unknown), none
    assert none.reason.startswith("no violation within 9 steps"), none.reason


def test_proposed_fix_closes_the_reseed_race_within_twelve_steps() -> None:
    """The fix proposed in counters.py (``keep_floor``: adoption keeps a floor the holder
    has, raised only to a value the other end announced) makes the guided I3-reseed search
    find no duplicate within 12 steps, where the model's rule has one in 10. A bound
    proves nothing: see counters.py for what stops the inductive proof."""
    spec = _outbound(late_adds=True, keep_floor=True, **FIXED_RULES)
    system = counters.counter_system(spec).only(counters.RESEED_MOVES)
    none = find_violation(
        "I3-reseed-fixed",
        system,
        counters.counter_witness_safe,
        depth=12,
        min_depth=10,
        describe=str,
        timeout_ms=120_000,
    )
    assert isinstance(none, Unknown), none
    assert none.reason.startswith("no violation within 12 steps"), none.reason


@pytest.mark.parametrize("name", ["I3-reseed", "I3-resync-reseed"])
def test_reseed_traces_replay_clean_since_the_fix(name: str) -> None:
    """``vpnha prove --traces`` writes each re-seed race's concrete replay (the inbound
    window, N = RESEED_INBOUND); with the fix in the model and the implementation it shows
    no failure and no disagreement (before, it showed "model I4" and, for the resync
    answer, "differ: packets delivered to the LAN host")."""
    found = _fresh(name)
    trace = finding_trace(found)
    assert trace is not None
    assert trace.spec.configs == reseed_race_configs(inbound=RESEED_INBOUND)
    assert trace.expect == "pass"
    assert trace.failure == ""
