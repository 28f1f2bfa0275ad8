"""The coupled-groups I1 encoding (``hsrp.i1_pair_system``) against the model: interface
tracking, an interface going down or up and ``standby priority`` leave each group with
the priority ``Router.effective_priority`` computes, and the downed side's group
disabled — drawn by Hypothesis on the shipped pair's router 0; and a delivered Hello
preempts (the step's ``clients_ready`` input pinned to the model's decision under preempt
delay minimum, reload and sync) exactly when the model's does."""

from __future__ import annotations

import copy as copy_module
import functools
from dataclasses import replace

import z3
from hypothesis import given
from hypothesis import strategies as st
from vpnha.model import hsrp as hsrp_model
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


NOW = 100_000


@given(
    preempt=st.booleans(),
    minimum=st.sampled_from([0, 1_000, 30_000]),
    reload=st.sampled_from([0, 500, 45_000]),
    sync=st.sampled_from([0, 2_000, 60_000]),
    synchronised=st.booleans(),
    enables=st.integers(0, 3),
    since=st.integers(0, 70_000),
    waiting_for=st.one_of(st.none(), st.integers(0, 70_000)),
    priorities=st.tuples(st.integers(1, 255), st.integers(0, 254)),
)
def test_preempt_in_the_pair_agrees_with_the_model(
    *,
    preempt: bool,
    minimum: int,
    reload: int,
    sync: int,
    synchronised: bool,
    enables: int,
    since: int,
    waiting_for: int | None,
    priorities: tuple[int, int],
) -> None:
    """Router 1's Active Hello reaches router 0 in Standby with a higher priority
    (``in_deliver_hs1``, event h): with ``pdelay`` the shortest delay and the step's
    ``clients_ready`` the model's decision (delay of this enable over, clients in step or
    sync time over), router 0 preempts exactly when the model's does."""
    own, other = priorities[0], min(priorities[1], priorities[0] - 1)
    params = hsrp_model.GroupParams(
        group=1,
        own_ip=0x0A000002,
        virtual_ip=0x0A000001,
        priority=own,
        preempt=preempt,
        preempt_delay_ms=minimum,
        hello_ms=1_000,
        hold_ms=3_000,
        auth=bytes(8),
        preempt_reload_ms=reload,
        preempt_sync_ms=sync,
    )
    state = hsrp_model.GroupState(
        phase=Phase.STANDBY,
        priority=own,
        virtual_ip=params.virtual_ip,
        active_expiry=NOW + 2_000,
        standby_expiry=None,
        hello_due=NOW + 500,
        enable_due=None,
        enabled_at=NOW - since,
        active_ip=None,
        standby_ip=None,
        unauthenticated=0,
        enables=enables,
        sync_since=None if waiting_for is None else NOW - waiting_for,
    )
    hello = hsrp_model.Message(
        op=hsrp_model.OpCode.HELLO,
        group=1,
        state=Phase.ACTIVE,
        priority=other,
        src_ip=0x0A000003,
        virtual_ip=params.virtual_ip,
        hello_ms=1_000,
        hold_ms=3_000,
        auth=bytes(8),
    )
    expected, event = hsrp_model.receive(params, state, hello, now=NOW, synchronised=synchronised)
    assert event is not None
    assert event.value == "h"
    # The model's decision (PREEMPT), preempt aside.
    delay_over = since >= hsrp_model.preempt_delay(params, state)
    waiting_since = NOW if state.sync_since is None else state.sync_since
    ready = delay_over and (sync == 0 or synchronised or NOW - waiting_since >= sync)

    enc = hsrp.i1_pair_system()
    pre, post = enc.state("p."), enc.state("q.")
    par = enc.parameters()
    frame = Frame(pre=pre, post=post, par=par, prefix="i.")
    solver = z3.Solver()
    solver.add(enc.param_range(par), dict(enc.transitions)["in_deliver_hs1"](frame))
    solver.add(
        par["in_ip0"] == params.own_ip,
        par["in_ip1"] == hello.src_ip,
        par["in_hello"] == 1_000,
        par["in_hold"] == 3_000,
        par["in_pdelay"] == (min(minimum, reload) if reload > 0 else minimum),
        pre["in_ph0"] == hsrp.PHASES.index("Standby"),
        pre["in_pr0"] == own,
        pre["in_preempt0"] == preempt,
        pre["in_since0"] == since,
        pre["in_act_on0"],
        pre["in_act_rem0"] == 2_000,
        pre["in_hs_pr1"] == other,
        frame.inputs["clients_ready"] == ready,
    )
    assert solver.check() == z3.sat
    after = _value(solver.model().eval(post["in_ph0"]))
    assert hsrp.PHASES[after] == expected.state.phase.value
