"""The naive replication rule's counterexample, and the findings about resync: the rule
before the fix (resync offline) and the two races Z3 found with it (late Add, early
refusal), each played on the model, which holds since the fixes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from vpnha.model import operations as op
from vpnha.properties.trace import load_trace
from vpnha.properties.z3.counters import SEQ_MAX
from vpnha.properties.z3.engine import Counterexample
from vpnha.properties.z3.registry import run_proofs
from vpnha.properties.z3.replay import (
    EARLY_REFUSAL_STEPS,
    counter_schedule,
    duplicates,
    early_refusal_configs,
    early_refusal_inbound_configs,
    early_refusal_inbound_operations,
    early_refusal_operations,
    finding_trace,
    late_add_operations,
    resync_offline_operations,
    run_on_model,
    smallest_early_refusal,
    write_trace,
)

CORPUS = Path(__file__).resolve().parents[2] / "counterexamples"


def _fresh(name: str) -> Counterexample:
    """Run one property in a fresh process (what ``vpnha prove`` does)."""
    (found,) = run_proofs(False, jobs=2, names=[name])
    assert isinstance(found, Counterexample), found
    return found


def _state(found: Counterexample, step: int, name: str) -> object:
    return found.value(f"s{step}.{name}")


def test_naive_counterexample_values_are_sensible() -> None:
    found = _fresh("I3-naive")
    assert isinstance(found, Counterexample)
    jump = found.value("J")
    assert isinstance(jump, int)
    assert jump % 1_000_000 == 0
    assert 1_000_000 <= jump <= 10_000_000
    duplicate = found.value("w")
    assert isinstance(duplicate, int)
    assert 1 <= duplicate <= SEQ_MAX
    # The standby promoted, and the number used twice is above its copy + J ...
    assert "promote1" in found.steps
    k = found.steps.index("promote1")
    copy = _state(found, k, "v1")
    assert isinstance(copy, int)
    assert _state(found, k + 1, "v1") == copy + jump
    assert duplicate > copy + jump
    # ... which the old active, never held back, had already reached before the takeover.
    used_before = [
        _state(found, i + 1, "v0") for i, step in enumerate(found.steps[:k]) if step == "use0"
    ]
    assert any(isinstance(v, int) and v >= duplicate for v in used_before)
    assert found.value("s0.uses") == 0
    assert found.value(f"s{len(found.steps)}.uses") == 2
    assert str(duplicate) in found.description


def test_resync_offline_counterexample_found() -> None:
    """The rule before the fix: the resync that forgets happens while SSP is down."""
    found = _fresh("I3-resync-offline")
    assert isinstance(found, Counterexample)
    offline = [
        i
        for i, step in enumerate(found.steps)
        if step == "resync1" and not found.value(f"s{i}.conn")
    ]
    assert offline, found.steps
    assert found.value(f"s{len(found.steps)}.uses") == 2


def _after(steps: tuple[str, ...], name: str, start: int) -> int:
    return steps.index(name, start)


def test_late_add_counterexample_is_the_race() -> None:
    """Without assumption 1: the second full copy (the resync's answer) lands after router
    1 took over and left, and router 1 takes over again from its older value."""
    found = _fresh("I3-late-add")
    steps = found.steps
    first_promote = steps.index("promote1")
    assert steps.index("resync1") < first_promote
    assert "answer0" in steps
    demote = _after(steps, "demote1", first_promote)
    late = _after(steps, "deliver_add1", demote)
    assert _after(steps, "promote1", late) > late
    assert found.value(f"s{late + 1}.usable1") is True
    assert found.value(f"s{late + 1}.v1") < found.value(f"s{late}.v1")  # its own use, lost
    assert found.value(f"s{len(steps)}.uses") == 2


def test_late_add_schedule_reuses_nothing_under_the_fixed_add_rule() -> None:
    """Z3's own late-Add search (the same kinds of step, 11 of them) with the fixed Add rule
    encoded (an Add never installs less than the copy held or the value remembered) finds
    no duplicate: the race is closed, though assumption 1 is not dropped (counters.py)."""
    from vpnha.properties.z3 import counters
    from vpnha.properties.z3.engine import Unknown, find_violation

    spec = counters.CounterSpec(
        kind="out",
        jump_min=1_000_000,
        jump_max=10_000_000,
        jump_step=1_000_000,
        witness=True,
        late_adds=True,
        add_keeps=True,
        card_refusals=False,
    )
    system = counters.counter_system(spec).only(counters.LATE_ADD_MOVES)
    found = find_violation(
        "I3-late-add-fixed",
        system,
        counters.counter_witness_safe,
        depth=11,
        describe=lambda found: " → ".join(found.steps),
    )
    assert isinstance(found, Unknown), found
    assert found.reason.startswith("no violation within 11 steps"), found.reason


def test_early_refusal_counterexample_is_the_race() -> None:
    """Without assumption 2: the first full copy is refused, the second admitted, and the
    refusal has dropped the holder's floor."""
    found = _fresh("I3-early-refusal")
    steps = found.steps
    delivered = [i for i, step in enumerate(steps) if step == "deliver_add1"]
    assert len(delivered) == 2, steps
    refused, admitted = delivered
    assert found.value(f"in{refused}.refuse") is True
    assert found.value(f"in{admitted}.refuse") is False
    assert found.value(f"s{refused + 1}.fon0") is False
    assert found.value(f"s{admitted + 1}.usable1") is True
    assert found.value(f"s{len(steps)}.uses") == 2


def test_late_add_schedule_is_safe_on_the_model_since_the_fix() -> None:
    """Z3's I3-late-add schedule made concrete. The model used to send 1000001 twice from
    router 1: the resync's second full copy cleared its stale copy (its own use) without
    remembering it and installed the older value. Now a BulkBegin remembers what it
    clears and an Add never installs less, so router 1 takes over again from its own use."""
    system = run_on_model(late_add_operations())
    assert not duplicates(system.transmitted), system.transmitted
    standby_sends = [run for run in system.transmitted if run.router == 1]
    assert len(standby_sends) == 2  # both takeovers happened and sent
    first, second = standby_sends
    assert first.first == first.last == 1_000_001
    assert second.first == first.last + 1_000_000 + 1  # jumped M from its own use
    assert system.routers[1].remembered[1][1].out == first.last


def test_early_refusal_schedule_is_safe_on_the_model_since_the_fix() -> None:
    """Z3's I3-early-refusal schedule made concrete (router 2's card holds two SA pairs).
    The model used to drop router 0's floor on the refusal of the first full copy although
    the resync's second one was admitted; now a Refuse counts only if it answers the latest
    Add of the SA (as the implementation does), so router 0 is held back at copy + M."""
    system = run_on_model(early_refusal_operations(), early_refusal_configs())
    assert not duplicates(system.transmitted), system.transmitted
    before, after = system.transmitted
    assert (before.router, before.first, before.last) == (0, 1, 1_000_000)  # copy 0 + M
    assert system.routers[0].counters["held_back_out"] == 1
    assert after.router == 1
    assert after.first > before.last


def test_early_refusal_on_the_inbound_window_needs_one_packet_past_n() -> None:
    """Z3's early-refusal schedule concretized on the inbound window: the smallest interval
    with which it still ends in a duplicate is N = 1, the number accepted twice N + 1."""
    found = _fresh("I3-early-refusal")
    assert found.steps == EARLY_REFUSAL_STEPS
    assert smallest_early_refusal(found.steps) == (1, 2)


def test_early_refusal_inbound_schedule_is_safe_on_the_model_since_the_fix() -> None:
    """The inbound schedule (N = 1, two packets): router 0 keeps SA 3's floor (the Refuse
    answered an older Add), accepts packet 1 and holds back packet 2; nothing is accepted
    twice after router 1 takes over and the attacker replays packet 2."""
    system = run_on_model(early_refusal_inbound_operations(2), early_refusal_inbound_configs(1))
    assert system.params.inbound_interval == 1
    assert [e.detail for e in system.log if e.kind == "ha-degraded"] == [
        "cannot hold SA 3: card full"
    ]
    assert not duplicates(system.accepted), system.accepted
    assert system.routers[0].counters["held_back_in"] == 1
    assert [(run.router, run.first, run.last) for run in system.accepted] == [(0, 1, 1)]


@pytest.mark.parametrize("name", ["I3-late-add", "I3-early-refusal"])
def test_committed_z3_traces_are_the_current_schedules(name: str) -> None:
    """counterexamples/z3-*.itf.json are what ``vpnha prove --traces`` writes now (the same
    configurations and operations), replay clean on both sides, and replay fast."""
    found = _fresh(name)
    trace = finding_trace(found)
    assert trace is not None
    assert trace.expect == "pass", trace.failure
    committed = load_trace(
        CORPUS / ("z3-late-add.itf.json" if name == "I3-late-add" else "z3-early-refusal.itf.json")
    )
    assert committed.expect == "pass"
    assert committed.operations == trace.operations
    assert committed.spec == trace.spec
    assert "must pass since the fix" in committed.description


def test_resync_offline_schedule_is_safe_on_the_model_since_the_fix() -> None:
    """The Z3 schedule made concrete: split brain, standby resync while SSP is down. The
    model used to send a sequence number twice on it; a cleared copy's counters are now
    remembered and announced, and the active adopts them."""
    system = run_on_model(resync_offline_operations())
    assert not duplicates(system.transmitted)
    standby = system.routers[1]
    assert 1 in standby.remembered  # what the cleared copy counted, announced on reconnect
    assert system.routers[0].sas[1].out.value > 1_000_000


def test_naive_schedule_is_held_back_by_the_model() -> None:
    """The naive counterexample's schedule on the model's rule: held back, nothing reused."""
    found = _fresh("I3-naive")
    assert isinstance(found, Counterexample)
    operations = counter_schedule(found)
    assert any(isinstance(o, op.SendTraffic) for o in operations)
    system = run_on_model(operations)
    assert not duplicates(system.transmitted)
    assert system.routers[0].counters.get("held_back_out", 0) >= 1


@pytest.mark.slow
def test_resync_offline_itf_trace_is_clean_on_model_and_implementation(tmp_path: Path) -> None:
    """The concrete schedule, replayed in lockstep and written with the trace helpers:
    both sides used to send a sequence number twice; since the fix neither does and they
    agree (about 2 min: a million packets each side)."""
    found = Counterexample(
        property="I3-resync-offline",
        seconds=0.0,
        method="bounded",
        description="",
        values=(),
        steps=("connect", "sync0", "deliver_add1", "use0", "promote1", "use1"),
    )
    path = write_trace(found, tmp_path)
    assert path is not None
    trace = load_trace(path)
    assert trace.expect == "pass", trace.failure
    assert trace.operations == resync_offline_operations()
    document = json.loads(path.read_text())
    problems = [p for state in document["states"] for p in state["#meta"]["problems"]]
    assert problems == []
