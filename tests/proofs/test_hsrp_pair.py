"""The coupled-groups I1 encoding (``hsrp.i1_pair_system``) against the model: interface
tracking, an interface going down or up and ``standby priority`` leave each group with
the priority ``Router.effective_priority`` computes, and the downed side's group
disabled — drawn by Hypothesis on the shipped pair's router 0."""

from __future__ import annotations

import copy as copy_module
import functools
from dataclasses import replace

import z3
from hypothesis import given
from hypothesis import strategies as st
from vpnha.model import operations as op
from vpnha.model import system as msys
from vpnha.model.hsrp import Phase
from vpnha.model.params import GroupSide
from vpnha.properties.z3 import hsrp
from vpnha.properties.z3.engine import Frame
from vpnha.properties.z3.replay import example_params

SIDES = {"in": GroupSide.INSIDE, "out": GroupSide.OUTSIDE}


@functools.cache
def _elected() -> msys.System:
    system = msys.boot(example_params())
    msys.apply_in_place(system, op.Advance(ms=70_000))
    assert system.routers[0].groups[GroupSide.INSIDE].phase is Phase.ACTIVE
    return system


def _value(expr: z3.ExprRef) -> int | bool:
    if z3.is_int_value(expr):
        return int(expr.as_long())
    assert z3.is_true(expr) or z3.is_false(expr), expr
    return bool(z3.is_true(expr))


DECREMENT = st.integers(0, 255)


@given(
    decrements=st.fixed_dictionaries(
        {(g, side): DECREMENT for g in ("in", "out") for side in ("in", "out")}
    ),
    configured=st.fixed_dictionaries({g: st.integers(1, 255) for g in ("in", "out")}),
    up=st.fixed_dictionaries({side: st.booleans() for side in ("in", "out")}),
    change=st.sampled_from(["down_in", "down_out", "up_in", "up_out", "set_in", "set_out"]),
    new_priority=st.integers(1, 255),
)
def test_tracking_agrees_with_the_model(
    decrements: dict[tuple[str, str], int],
    configured: dict[str, int],
    up: dict[str, bool],
    change: str,
    new_priority: int,
) -> None:
    system = copy_module.deepcopy(_elected())
    router = system.routers[0]
    sides = {}
    for g, side in SIDES.items():
        tracks = tuple((SIDES[s], d) for (gg, s), d in decrements.items() if gg == g and d > 0)
        params = router.params.inside if side is GroupSide.INSIDE else router.params.outside
        sides[side] = replace(params, tracks=tracks)
        router.priority[side] = configured[g]
        router.iface_up[side] = up[g]
    router.params = replace(
        router.params, inside=sides[GroupSide.INSIDE], outside=sides[GroupSide.OUTSIDE]
    )
    msys._refresh_priorities(system, 0)
    before = {g: router.groups[side] for g, side in SIDES.items()}

    kind, g = change.split("_")
    if kind == "set":
        msys.apply_in_place(system, op.SetPriority(router=0, side=SIDES[g], priority=new_priority))
        name = f"set_priority_{g}0"
    else:
        if up[g] == (kind == "up"):
            return  # no change: the encoding's transition needs one
        msys._interface(system, 0, SIDES[g], up=kind == "up")
        name = f"{kind}_{g}0"

    enc = hsrp.i1_pair_system()
    pre, post = enc.state("p."), enc.state("q.")
    par = enc.parameters()
    frame = Frame(pre=pre, post=post, par=par, prefix="i.")
    solver = z3.Solver()
    solver.add(enc.param_range(par), dict(enc.transitions)[name](frame))
    for (gg, tracked), d in decrements.items():
        solver.add(par[f"dec_{gg}_{tracked}0"] == d)
    for gg, grp in (("in", "in_"), ("out", "out_")):
        state = before[gg]
        solver.add(
            pre[f"cfg_{gg}0"] == configured[gg],
            pre[f"up_{gg}0"] == up[gg],
            pre[f"{grp}pr0"] == state.priority,
            pre[f"{grp}ph0"] == hsrp.PHASES.index(state.phase.value),
        )
    if kind == "set":
        solver.add(post[f"cfg_{g}0"] == new_priority)
    assert solver.check() == z3.sat
    model = solver.model()
    for gg, grp in (("in", "in_"), ("out", "out_")):
        after = router.groups[SIDES[gg]]
        assert _value(model.eval(post[f"{grp}pr0"])) == after.priority
        assert hsrp.PHASES[_value(model.eval(post[f"{grp}ph0"]))] == after.phase.value
        # A group whose priority moved starts a new window (nothing tracked, ghost 0).
        if after.priority != before[gg].priority:
            assert _value(model.eval(post[f"{grp}tog"])) == 0
