"""The inductive proofs are not vacuous: ``init`` is satisfiable, and every transition can
be taken from some state that satisfies the strengthening (a transition that never can
would make "Inv ∧ T ⇒ Inv'" hold for nothing)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
import z3
from vpnha.properties.z3 import counters, hsrp, lifecycle
from vpnha.properties.z3.engine import Frame, StatePredicate, System
from vpnha.properties.z3.registry import FIXED_RULES, MODEL_RULES


def _counters(**flags: bool) -> tuple[System, Sequence[tuple[str, StatePredicate]]]:
    spec = counters.CounterSpec(
        kind="out", jump_min=1_000_000, jump_max=10_000_000, jump_step=1_000_000, **flags
    )
    return counters.counter_system(spec), counters.counter_invariant(spec)


CASES: dict[str, Callable[[], tuple[System, Sequence[tuple[str, StatePredicate]]]]] = {
    "I1-pair": lambda: (hsrp.i1_pair_system(), hsrp.i1_pair_invariant()),
    "I6": lambda: (lifecycle.lifecycle_system(), lifecycle.i6_invariant()),
    "I3 (assumption 1)": lambda: _counters(**FIXED_RULES),
    "I3": lambda: _counters(**MODEL_RULES),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_transition_is_enabled_under_the_strengthening(name: str) -> None:
    system, invariant = CASES[name]()
    par = system.parameters()
    pre, post = system.state("s."), system.state("t.")
    solver = z3.Solver()
    solver.set("timeout", 20_000)
    solver.add(system.param_range(par))
    solver.push()
    solver.add(system.init(pre, par))
    assert solver.check() == z3.sat, "init is unsatisfiable"
    solver.pop()
    solver.add(*[pred(pre, par) for _, pred in invariant])
    disabled = []
    for tname, trans in system.transitions:
        solver.push()
        solver.add(trans(Frame(pre=pre, post=post, par=par, prefix=f"in.{tname}.")))
        result = solver.check()
        if result == z3.unknown:  # a timeout on a loaded machine: once more, longer
            solver.set("timeout", 180_000)
            result = solver.check()
            solver.set("timeout", 20_000)
        if result != z3.sat:
            disabled.append(f"{tname} ({result})")
        solver.pop()
    assert disabled == []


def test_preempt_stays_reachable_under_the_strengthening() -> None:
    """The preempting ``h`` cell is not made vacuous by ``clients_ready`` (reload, sync):
    a delivered Active Hello can still take a Standby router to Active, and only when the
    step's input allows it."""
    system, invariant = hsrp.i1_pair_system(), hsrp.i1_pair_invariant()
    par = system.parameters()
    pre, post = system.state("s."), system.state("t.")
    frame = Frame(pre=pre, post=post, par=par, prefix="in.")
    solver = z3.Solver()
    solver.set("timeout", 60_000)
    solver.add(system.param_range(par), *[pred(pre, par) for _, pred in invariant])
    solver.add(dict(system.transitions)["in_deliver_hs1"](frame))
    solver.add(pre["in_ph0"] == hsrp.PHASES.index("Standby"))
    solver.add(post["in_ph0"] == hsrp.PHASES.index("Active"))
    assert solver.check() == z3.sat
    solver.add(z3.Not(frame.inputs["clients_ready"]))
    assert solver.check() == z3.unsat
