"""The shrinking post-pass: its passes on synthetic oracles, and on a real replay."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pytest
from vpnha.model import operations as op
from vpnha.model.params import GroupSide
from vpnha.properties.trace import load_trace, replay, shrink, shrink_with, signature

CORPUS = Path(__file__).resolve().parents[2] / "counterexamples"
INSIDE = GroupSide.INSIDE


class _Counting:
    """An oracle built from a predicate: the failure is at the last step; counts calls."""

    def __init__(self, fails: object) -> None:
        self.fails = fails
        self.calls = 0

    def __call__(self, candidate: Sequence[op.Operation]) -> int | None:
        self.calls += 1
        return len(candidate) if self.fails(candidate) else None  # type: ignore[operator]


def _total_ms(operations: Sequence[op.Operation]) -> int:
    return sum(o.ms for o in operations if isinstance(o, op.Advance))


def _balanced(operations: Sequence[op.Operation], down: type, up: type) -> bool:
    """Every ``down`` is followed by its ``up`` before the next ``down``, and none is left."""
    open_count = 0
    for operation in operations:
        open_count += isinstance(operation, down) - isinstance(operation, up)
        if open_count not in (0, 1):
            return False
    return open_count == 0


def test_consecutive_advances_are_merged_when_the_failure_needs_them_in_one_piece() -> None:
    """A hold timer that must expire within one step: no deletion or halving gets there."""

    def fails(ops: Sequence[op.Operation]) -> bool:
        return any(isinstance(o, op.Advance) and o.ms >= 3000 for o in ops) and (
            op.Crash(router=0) in ops
        )

    found = [op.Advance(ms=1000), op.Advance(ms=1000), op.Advance(ms=1000), op.Crash(router=0)]
    assert shrink_with(found, _Counting(fails)) == [op.Advance(ms=3000), op.Crash(router=0)]


def test_a_crash_and_its_restart_go_together_and_the_time_around_them_is_kept() -> None:
    """Deleting the crash or the restart alone breaks the failure; deleting both, with the
    two Advances around them merged, keeps every millisecond it needs."""

    def fails(ops: Sequence[op.Operation]) -> bool:
        crashes = sum(isinstance(o, op.Crash) for o in ops)
        restarts = sum(isinstance(o, op.Restart) for o in ops)
        establish = any(isinstance(o, op.Establish) for o in ops)
        return crashes == restarts and establish and _total_ms(ops) >= 3500

    establish = op.Establish(sa_id=1, spi_in=4098, spi_out=4099, cookie_i=1, cookie_r=2)
    found = [
        op.Advance(ms=1000),
        op.Crash(router=0),
        op.Advance(ms=500),
        op.Restart(router=0),
        op.Advance(ms=2000),
        establish,
    ]
    assert shrink_with(found, _Counting(fails)) == [op.Advance(ms=3500), establish]


@pytest.mark.parametrize(("needed", "replays"), [(5, 14), (32, 20), (40, 10)])
def test_a_long_run_of_cycles_keeps_the_cycles_it_needs_in_few_replays(
    needed: int, replays: int
) -> None:
    """Forty failover cycles (200 operations) of which the failure needs ``needed``, with a
    budget of ``replays`` replays (the clock is the replay count): the Advances and the
    traffic go from every cycle at once, then whole cycles. (Halving the list first spent
    every replay on chunks that cut a needed cycle.)"""

    def fails(ops: Sequence[op.Operation]) -> bool:
        downs = sum(isinstance(o, op.InterfaceDown) for o in ops)
        return downs >= needed and _balanced(ops, op.InterfaceDown, op.InterfaceUp)

    cycle = [
        op.InterfaceDown(router=1, side=INSIDE),
        op.Advance(ms=24_000),
        op.SendTraffic(packets=3, size=64),
        op.InterfaceUp(router=1, side=INSIDE),
        op.Advance(ms=24_000),
    ]
    oracle = _Counting(fails)
    shrunk = shrink_with(cycle * 40, oracle, budget_s=replays, clock=lambda: float(oracle.calls))
    assert oracle.calls <= replays
    assert shrunk == [cycle[0], cycle[3]] * needed


def test_the_budget_is_kept_and_the_result_still_fails() -> None:
    """A clock that moves one second per replay: a 5 s budget allows five."""
    oracle = _Counting(lambda ops: op.Crash(router=1) in ops)
    found = [op.Advance(ms=100 + k) for k in range(50)] + [op.Crash(router=1)]
    shrunk = shrink_with(found, oracle, budget_s=5, clock=lambda: float(oracle.calls))
    assert oracle.calls <= 5
    assert op.Crash(router=1) in shrunk
    assert len(shrunk) < len(found)


def test_shrink_refuses_operations_that_do_not_fail() -> None:
    trace = load_trace(CORPUS / "sadb-jump-n-for-m.itf.json")
    with pytest.raises(ValueError, match="do not fail"):
        shrink(trace.spec, trace.operations[:1], budget_s=1)


def test_a_padded_counterexample_shrinks_back_to_the_known_short_one() -> None:
    """A committed counterexample with twenty cycles of irrelevant traffic put in front of
    its failover: the post-pass finds the short one again, with the same failure."""
    trace = load_trace(CORPUS / "sadb-jump-n-for-m.itf.json")
    advance, establish, interface_down, tail = trace.operations
    padding = [
        op.SendTraffic(packets=3, size=64),
        op.Advance(ms=100),
        op.ReceiveTraffic(packets=2, size=64),
        op.Advance(ms=150),
    ] * 20
    padded = [advance, establish, *padding, interface_down, tail]
    assert signature(replay(trace.spec, padded, stop_at_failure=True)) == trace.failure
    shrunk = shrink(trace.spec, padded, budget_s=60)
    assert len(shrunk) <= len(trace.operations)
    assert signature(replay(trace.spec, shrunk, stop_at_failure=True)) == trace.failure


def test_a_seeded_bugs_counterexample_may_change_route_but_keeps_its_promise() -> None:
    """``any_failure``: whatever failure the shrunk list shows with the bug on, it passes
    with the bug off (what a must-fail trace in the corpus promises), and it is no longer
    than the exact-signature result."""
    trace = load_trace(CORPUS / "sadb-jump-n-for-m.itf.json")
    advance, establish, interface_down, tail = trace.operations
    padding = [op.SendTraffic(packets=3, size=64), op.Advance(ms=100)] * 10
    padded = [advance, establish, *padding, interface_down, tail]
    shrunk = shrink(trace.spec, padded, budget_s=60, any_failure=True)
    assert len(shrunk) <= len(trace.operations)
    assert signature(replay(trace.spec, shrunk, stop_at_failure=True))
    clean = dataclasses.replace(trace.spec, mutant=None)
    assert signature(replay(clean, shrunk)) == ""
