"""The naive replication rule's counterexample, and the model's resync-offline finding."""

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
    counter_schedule,
    duplicates,
    resync_offline_operations,
    run_on_model,
    write_trace,
)


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


@pytest.mark.slow
def test_resync_offline_counterexample_found() -> None:
    found = _fresh("I3-resync-offline")
    assert isinstance(found, Counterexample)
    offline = [
        i
        for i, step in enumerate(found.steps)
        if step == "resync1" and not found.value(f"s{i}.conn")
    ]
    assert offline, found.steps


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
