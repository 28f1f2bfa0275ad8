"""Standing agreement tests: each Z3 encoding's rules, evaluated on concrete values drawn by
Hypothesis, give what ``vpnha.model`` computes (mypyvy's solver smoke test, made standing)."""

from __future__ import annotations

import copy as copy_module
import functools
from dataclasses import replace

import pytest
import z3
from hypothesis import assume, given
from hypothesis import strategies as st
from vpnha.model import hsrp as model_hsrp
from vpnha.model import operations as op
from vpnha.model import sadb, ssp, vam
from vpnha.model import system as msys
from vpnha.model.hsrp import Event, GroupParams, GroupState, Message, OpCode, Phase
from vpnha.properties.z3 import counters, hsrp
from vpnha.properties.z3.engine import Frame
from vpnha.properties.z3.registry import MODEL_RULES

AUTH = b"cisco\x00\x00\x00"
NOW = 50_000
PHASES = [Phase.INITIAL, Phase.LISTEN, Phase.SPEAK, Phase.STANDBY, Phase.ACTIVE]
INDEX = {name: i for i, name in enumerate(hsrp.PHASES)}


def _value(expr: z3.ExprRef) -> int | bool:
    value = z3.simplify(expr)
    if z3.is_int_value(value):
        return int(value.as_long())
    assert z3.is_true(value) or z3.is_false(value), value
    return z3.is_true(value)


@st.composite
def group_cases(draw: st.DrawFn) -> tuple[GroupParams, GroupState]:
    hello = draw(st.integers(1, 5_000))
    params = GroupParams(
        group=1,
        own_ip=draw(st.integers(0, 2**32 - 1)),
        virtual_ip=0x0A000001,
        priority=draw(st.integers(1, 255)),
        preempt=draw(st.booleans()),
        preempt_delay_ms=draw(st.sampled_from([0, 1_000, 30_000])),
        hello_ms=hello,
        hold_ms=draw(st.integers(hello + 1, 4 * hello + 10_000)),
        auth=AUTH,
        preempt_reload_ms=draw(st.sampled_from([0, 500, 1_000, 45_000])),
        preempt_sync_ms=draw(st.sampled_from([0, 1, 2_000, 60_000])),
    )
    phase = draw(st.sampled_from(PHASES))
    timer = st.one_of(st.none(), st.integers(NOW, NOW + 20_000))
    state = GroupState(
        phase=phase,
        priority=draw(st.integers(0, 255)),
        virtual_ip=params.virtual_ip,
        active_expiry=draw(timer),
        standby_expiry=draw(timer),
        hello_due=None if phase is Phase.INITIAL else draw(st.integers(NOW, NOW + hello)),
        enable_due=None,
        enabled_at=draw(st.one_of(st.none(), st.integers(0, NOW))),
        active_ip=None,
        standby_ip=None,
        unauthenticated=0,
        enables=draw(st.integers(0, 3)),
        sync_since=draw(st.one_of(st.none(), st.integers(0, NOW))),
    )
    return params, state


def _wait_over(params: GroupParams, state: GroupState, *, synchronised: bool) -> bool:
    """The model's decision at an ``h`` (PREEMPT in model/hsrp.py), preempt aside: the
    delay of this enable (reload or minimum) has passed and the clients are synchronised
    or the sync time is over. The encoding's ``clients_ready`` input is pinned to it."""
    enabled_at = NOW if state.enabled_at is None else state.enabled_at
    if enabled_at + model_hsrp.preempt_delay(params, state) > NOW:
        return False
    if params.preempt_sync_ms == 0 or synchronised:
        return True
    waiting_since = NOW if state.sync_since is None else state.sync_since
    return waiting_since + params.preempt_sync_ms <= NOW


def _terms(state: GroupState) -> hsrp.GroupTerms:
    def timer(due: int | None) -> tuple[z3.BoolRef, z3.ArithRef]:
        return z3.BoolVal(due is not None), z3.IntVal(0 if due is None else due - NOW)

    act_on, act_rem = timer(state.active_expiry)
    sby_on, sby_rem = timer(state.standby_expiry)
    hel_on, hel_rem = timer(state.hello_due)
    since = 0 if state.enabled_at is None else NOW - state.enabled_at
    return hsrp.GroupTerms(
        z3.IntVal(INDEX[state.phase.value]),
        z3.IntVal(state.priority),
        act_on,
        act_rem,
        sby_on,
        sby_rem,
        hel_on,
        hel_rem,
        z3.IntVal(since),
    )


def _config(params: GroupParams) -> hsrp.GroupConfig:
    # ``pdelay`` is the shortest delay any enable can get (hsrp.py: reload and sync);
    # ``clients_ready`` withholds the rest.
    shortest = params.preempt_delay_ms
    if params.preempt_reload_ms > 0:
        shortest = min(shortest, params.preempt_reload_ms)
    return hsrp.GroupConfig(
        own_ip=z3.IntVal(params.own_ip),
        hello_ms=z3.IntVal(params.hello_ms),
        hold_ms=z3.IntVal(params.hold_ms),
        preempt=z3.BoolVal(params.preempt),
        preempt_delay_ms=z3.IntVal(shortest),
    )


def _compare(result: model_hsrp.Step, enc: tuple[hsrp.GroupTerms, hsrp.Sent]) -> None:
    after, sent = enc
    state = result.state
    assert hsrp.PHASES[int(_value(after.phase))] == state.phase.value
    for on, rem, due in (
        (after.act_on, after.act_rem, state.active_expiry),
        (after.sby_on, after.sby_rem, state.standby_expiry),
        (after.hel_on, after.hel_rem, state.hello_due),
    ):
        assert _value(on) == (due is not None)
        if due is not None:
            assert _value(rem) == due - NOW
    sends = [o.message for o in result.outputs if isinstance(o, model_hsrp.Send)]
    hellos = [m for m in sends if m.op is OpCode.HELLO]
    assert _value(sent.hello) == bool(hellos)
    if hellos:
        assert hsrp.PHASES[int(_value(sent.hello_state))] == hellos[-1].state.value
    assert _value(sent.coup) == any(m.op is OpCode.COUP for m in sends)
    assert _value(sent.resign) == any(m.op is OpCode.RESIGN for m in sends)


@given(
    case=group_cases(),
    event=st.sampled_from(
        [
            Event.A_ENABLED,
            Event.B_DISABLED,
            Event.C_ACTIVE_TIMER,
            Event.D_STANDBY_TIMER,
            Event.E_HELLO_TIMER,
        ]
    ),
    jitter=st.integers(0, 10_000),
    synchronised=st.booleans(),
    clients_ready=st.booleans(),
)
def test_group_step_agrees_with_the_model_on_local_events(
    case: tuple[GroupParams, GroupState],
    event: Event,
    jitter: int,
    synchronised: bool,
    clients_ready: bool,
) -> None:
    """Timers, enable and disable (never an ``h``: ``clients_ready`` changes nothing)."""
    params, state = case
    jitter %= params.hello_ms
    if event is Event.A_ENABLED and state.phase is Phase.INITIAL:
        state = replace(state, active_expiry=None, standby_expiry=None)
    expected = model_hsrp.step(
        params, state, event, now=NOW, jitter_ms=jitter, synchronised=synchronised
    )
    encoded = hsrp.group_step(
        _terms(state),
        _config(params),
        z3.IntVal(hsrp.EVENTS.index(event.value)),
        jitter_ms=z3.IntVal(jitter),
        clients_ready=z3.BoolVal(clients_ready),
    )
    _compare(expected, encoded)


# Received-message events (RFC 2281 §5.5 f-l): the message that produces each one.
MESSAGE_EVENTS = {
    "f": (OpCode.HELLO, Phase.SPEAK, True),
    "g": (OpCode.HELLO, Phase.ACTIVE, True),
    "h": (OpCode.HELLO, Phase.ACTIVE, False),
    "i": (OpCode.RESIGN, Phase.ACTIVE, None),
    "j": (OpCode.COUP, Phase.SPEAK, True),
    "k": (OpCode.HELLO, Phase.STANDBY, True),
    "l": (OpCode.HELLO, Phase.STANDBY, False),
}


@pytest.mark.parametrize("letter", sorted(MESSAGE_EVENTS))
@given(
    case=group_cases(),
    tie=st.booleans(),
    gap=st.integers(1, 255),
    sender_ip=st.integers(0, 2**32 - 1),
    synchronised=st.booleans(),
)
def test_receive_agrees_with_the_model(
    letter: str,
    *,
    case: tuple[GroupParams, GroupState],
    tie: bool,
    gap: int,
    sender_ip: int,
    synchronised: bool,
) -> None:
    """Every receiver phase × every message event (and the classification itself), with
    preempt delay minimum, reload and sync: the encoding's ``clients_ready`` is the model's
    decision whether the delay and the wait for the clients are over."""
    params, state = case
    op, sender_phase, higher = MESSAGE_EVENTS[letter]
    if sender_ip == params.own_ip:
        sender_ip = (sender_ip + 1) % 2**32
    if tie:
        priority = state.priority
        ok = (sender_ip > params.own_ip) == bool(higher)
    else:
        priority = state.priority + gap if higher else state.priority - gap
        ok = 0 <= priority <= 255
    if higher is None:
        priority, ok = gap, True
    assume(ok)
    message = Message(
        op=op,
        group=params.group,
        state=sender_phase,
        priority=priority,
        src_ip=sender_ip,
        virtual_ip=params.virtual_ip,
        hello_ms=params.hello_ms,
        hold_ms=params.hold_ms,
        auth=AUTH,
    )
    expected, event = model_hsrp.receive(params, state, message, now=NOW, synchronised=synchronised)
    assert event is not None
    assert event.value == letter
    terms = _terms(state)
    encoded_event = hsrp.classify(
        terms,
        _config(params),
        op=z3.IntVal([OpCode.HELLO, OpCode.COUP, OpCode.RESIGN].index(op)),
        state=z3.IntVal(INDEX[sender_phase.value]),
        priority=z3.IntVal(priority),
        src_ip=z3.IntVal(sender_ip),
    )
    assert hsrp.EVENTS[int(_value(encoded_event))] == letter
    if state.phase is Phase.INITIAL:
        encoded_event = z3.IntVal(-1)
    ready = _wait_over(params, state, synchronised=synchronised)
    step = hsrp.group_step(
        terms,
        _config(params),
        encoded_event,
        jitter_ms=z3.IntVal(0),
        clients_ready=z3.BoolVal(ready),
    )
    _compare(expected, step)


# ------------------------------------------------------------------ counters


def _counter_state(
    value: int, floor: int | None, cap: int | None, *, kind: str = "out"
) -> dict[str, z3.ExprRef]:
    spec = counters.CounterSpec(kind="out" if kind == "out" else "in", jump_min=1, jump_max=None)
    system = counters.counter_system(spec)
    state = system.state("x.")
    pinned = {
        "act0": z3.BoolVal(True),
        "v0": z3.IntVal(value),
        "fon0": z3.BoolVal(floor is not None),
        "fl0": z3.IntVal(floor or 0),
        "capon0": z3.BoolVal(cap is not None),
        "cap0": z3.IntVal(cap or 0),
    }
    return {**state, **pinned}


@given(
    value=st.integers(0, 3 * 10**7),
    floor=st.one_of(st.none(), st.integers(0, 3 * 10**7)),
    cap=st.one_of(st.none(), st.integers(0, 4 * 10**7)),
    millions=st.integers(1, 10),
    packets=st.integers(1, 2 * 10**7),
)
def test_hold_back_agrees_with_the_model(
    value: int, floor: int | None, cap: int | None, millions: int, packets: int
) -> None:
    """``use`` is enabled for n packets iff the model's limit (rules 1, 5, 6) allows them."""
    jump = millions * 1_000_000
    counter = sadb.Counter(value=value, floor=floor, sent=value, cap=cap)
    bound = sadb.limit(counter, jump)
    model_allows = (bound is None or value + packets <= bound) and value + packets <= sadb.SEQ_MAX
    spec = counters.CounterSpec(kind="out", jump_min=1, jump_max=None)
    system = counters.counter_system(spec)
    pre = _counter_state(value, floor, cap)
    post = system.state("y.")
    frame = Frame(pre=pre, post=post, par={"J": z3.IntVal(jump), "W": z3.IntVal(64)}, prefix="i.")
    use = dict(system.transitions)["use0"]
    solver = z3.Solver()
    solver.add(use(frame), frame.inputs["n"] == packets)
    assert (solver.check() == z3.sat) == model_allows
    if model_allows:
        assert solver.model().eval(post["v0"]).as_long() == value + packets


@given(
    copy=st.integers(0, 10**6),
    interval=st.integers(1, 10_000),
    window=st.integers(1, 1024),
    seq=st.integers(-5, 10**6 + 20_000),
)
def test_promotion_and_window_agree_with_the_model(
    copy: int, interval: int, window: int, seq: int
) -> None:
    """Takeover moves the copy J ahead with the whole window seen; the window then accepts
    exactly what RFC 4303 §3.4.3 (as the model states it) accepts."""
    promoted = sadb.promote_counter(sadb.Counter(value=copy, floor=0, sent=copy), interval)
    top = promoted.value
    seen = frozenset(range(max(1, top - window + 1), top + 1))
    spec = counters.CounterSpec(kind="in", jump_min=0, jump_max=10_000)
    system = counters.counter_system(spec)
    pre = system.state("p.")
    mid = system.state("q.")
    post = system.state("r.")
    par = {"J": z3.IntVal(interval), "W": z3.IntVal(window)}
    promote = dict(system.transitions)["promote1"]
    use = dict(system.transitions)["use1"]
    first = Frame(pre=pre, post=mid, par=par, prefix="a.")
    second = Frame(pre=mid, post=post, par=par, prefix="b.")
    solver = z3.Solver()
    solver.add(
        pre["cpy1"],
        pre["usable1"],
        z3.Not(pre["act1"]),
        pre["v1"] == copy,
        promote(first),
        use(second),
        second.inputs["seq"] == seq,
    )
    verdict = solver.check()
    assert (verdict == z3.sat) == sadb.accept_window(top, seen, seq, window)
    check = z3.Solver()
    check.add(pre["v1"] == copy, pre["cpy1"], pre["usable1"], z3.Not(pre["act1"]), promote(first))
    assert check.check() == z3.sat
    assert check.model().eval(mid["v1"]).as_long() == top


# ------------------------------------------------------------------------ card


@given(
    capacity=st.one_of(st.none(), st.integers(0, 50)),
    active=st.integers(0, 30),
    copies=st.integers(0, 30),
)
def test_admission_agrees_with_the_model(capacity: int | None, active: int, copies: int) -> None:
    from vpnha.properties.z3 import vam as enc

    system = enc.vam_system((capacity, capacity), load=10**6)
    pre = system.state("a.")
    post = system.state("b.")
    frame = Frame(pre=pre, post=post, par={}, prefix="i.")
    establish = dict(system.transitions)["establish0"]
    solver = z3.Solver()
    solver.add(pre["act0"] == active, pre["cpy0"] == copies, pre["issued"] == 0, establish(frame))
    assert solver.check() == z3.sat
    admitted = solver.model().eval(post["act0"]).as_long() == active + 1
    refusal = vam.admit(
        capacity=capacity,
        in_use=vam.sas_per_pair() * (active + copies),
        transform=("esp-3des",),
        supported=frozenset({"esp-3des"}),
    )
    assert admitted == (refusal is None)


# ------------------------------------------------------------------- life cycle


@given(
    stale=st.booleans(),
    expires_in=st.integers(-5_000, 5_000),
    connected=st.booleans(),
    heard_ago=st.integers(0, 20_000),
)
def test_promotion_condition_covers_the_models(
    stale: bool, expires_in: int, connected: bool, heard_ago: int
) -> None:
    """The model promotes a copy iff it is usable (not stale, SSP up or heard within the
    grace) and not expired; the encoding lets every non-stale, unexpired copy be promoted
    (the lease only narrows it), so it includes every promotion the model makes."""
    from vpnha.model import system as msys
    from vpnha.properties.z3 import lifecycle
    from vpnha.properties.z3.replay import example_params

    system = msys.boot(example_params())
    router = system.routers[1]
    router.epoch = 1 if connected else None
    router.last_heard_ms = system.now - heard_ago
    expires = system.now + expires_in
    model_allows = msys.copy_usable(system, 1, stale=stale) and expires > system.now
    enc = lifecycle.lifecycle_system()
    pre, post = enc.state("a."), enc.state("b.")
    frame = Frame(pre=pre, post=post, par={"EXP": z3.IntVal(max(1, expires))}, prefix="i.")
    promote = dict(enc.transitions)["promote1"]
    solver = z3.Solver()
    solver.add(
        pre["cpy1"],
        pre["usable1"] == (not stale),
        z3.Not(pre["act1"]),
        pre["exp1"] == expires,
        pre["now"] == system.now,
        promote(frame),
    )
    encoding_allows = solver.check() == z3.sat
    assert encoding_allows == (not stale and expires > system.now)
    assert not model_allows or encoding_allows
    expire = dict(enc.transitions)["expire1"]
    solver = z3.Solver()
    solver.add(pre["cpy1"], pre["exp1"] == expires, pre["now"] == system.now, expire(frame))
    # ``_expire`` removes an instance once ``expires_ms <= now``.
    assert (solver.check() == z3.sat) == (expires <= system.now)


# ------------------------------------------------------------- counter sync rules
#
# The rules that restart replication, drawn on a real model pair: router 0 holds SA 1
# ACTIVE, router 1 a copy. The model's functions run on a deep copy; the encoding's
# transition (``sync0``, ``resync1``, ``answer0``) is solved on the same concrete values.

OUT_JUMP = 1_000_000
"""M × 10^6 of the shipped pair (``replay-interval outbound 1``)."""


@functools.cache
def _replicated_pair() -> msys.System:
    from vpnha.properties.z3.replay import example_params

    system = msys.boot(example_params())
    for operation in (
        op.Advance(ms=70_000),
        op.Establish(sa_id=1, spi_in=0x100, spi_out=0x200, cookie_i=7, cookie_r=8),
        op.Advance(ms=100),
    ):
        msys.apply_in_place(system, operation)
    assert system.routers[0].sas[1].status is sadb.HaStatus.ACTIVE
    assert system.routers[1].sas[1].status is sadb.HaStatus.STANDBY
    return system


def _solve_transition(
    name: str,
    pinned: dict[str, int | bool],
    post_names: tuple[str, ...],
    inputs: dict[str, int | bool] | None = None,
) -> dict[str, int | bool] | None:
    """The post-state values of ``post_names`` after ``name`` from the pinned pre-state and
    step ``inputs`` (None when the transition is not enabled there)."""
    # The model's rules (the resync, Add and Refuse fixes, the floor kept on adoption).
    spec = counters.CounterSpec(kind="out", jump_min=1, jump_max=None, **MODEL_RULES)
    system = counters.counter_system(spec)
    pre, post = system.state("p."), system.state("q.")
    par = {"J": z3.IntVal(OUT_JUMP), "W": z3.IntVal(64)}
    frame = Frame(pre=pre, post=post, par=par, prefix="i.")
    solver = z3.Solver()
    solver.add(dict(system.transitions)[name](frame))
    for key, value in pinned.items():
        solver.add(pre[key] == (z3.BoolVal(value) if isinstance(value, bool) else value))
    for key, value in (inputs or {}).items():
        term = frame.inputs[key]
        solver.add(term == (z3.BoolVal(value) if isinstance(value, bool) else value))
    if solver.check() != z3.sat:
        return None
    model = solver.model()
    return {key: _value(model.eval(post[key], model_completion=True)) for key in post_names}


def _sent(system: msys.System, sender: int, kind: type) -> list[object]:
    return [
        m.message
        for m in system.ssp_in_flight
        if m.sender == sender and isinstance(m.message, kind)
    ]


@given(
    value=st.integers(0, 5 * OUT_JUMP),
    floor=st.one_of(st.none(), st.integers(0, 5 * OUT_JUMP)),
    cap=st.one_of(st.none(), st.integers(0, 8 * OUT_JUMP)),
    copy=st.one_of(st.none(), st.integers(0, 8 * OUT_JUMP)),
    remembered=st.one_of(st.none(), st.integers(0, 8 * OUT_JUMP)),
    floor_for=st.sampled_from(["none", "same", "rebooted"]),
)
def test_sync_and_rule_6_agree_with_the_model(
    *,
    value: int,
    floor: int | None,
    cap: int | None,
    copy: int | None,
    remembered: int | None,
    floor_for: str,
) -> None:
    """Restarting replication (``sync0``): router 1 announces its copy, else what it
    remembers; router 0 adopts the larger value, applies rule 6 when its floors were set
    for an earlier incarnation of router 1 (cap ``floor + J``, never copied again), and
    sends the full copy that seeds its floor — as ``_announce`` / ``_receive_announce`` do."""
    assume(floor is None or floor <= value)
    system = copy_module.deepcopy(_replicated_pair())
    active, standby = system.routers
    sa = active.sas[1]
    counter = sadb.Counter(value=value, floor=floor, sent=value, cap=cap)
    active.sas[1] = replace(
        sa,
        out=counter,
        inbound=replace(sa.inbound, floor=floor),
        byte_count=replace(sa.byte_count, floor=floor),
    )
    active.bulk_sent = False
    active.unreplicated.clear()
    incarnation = {"none": None, "same": standby.boot_ms, "rebooted": standby.boot_ms - 1}
    active.floor_incarnation = incarnation[floor_for]
    held = standby.sas.pop(1)
    if copy is not None:
        standby.sas[1] = replace(held, stale=True, out=sadb.new_counter(copy))
    standby.remembered.clear()
    if remembered is not None:
        standby.remembered[1] = (
            held.expires_ms,
            ssp.Values(sa_id=1, out=remembered, inbound=0, byte_count=0),
        )
    system.ssp_in_flight.clear()
    msys._announce(system, 1, reply_wanted=False)
    (announcement,) = _sent(system, 1, ssp.Announce)
    assert isinstance(announcement, ssp.Announce)
    system.ssp_in_flight.clear()
    msys._receive_announce(system, 0, announcement)
    after = active.sas[1].out
    adds = [m for m in _sent(system, 0, ssp.Add) if isinstance(m, ssp.Add) and m.ipsec]

    encoded = _solve_transition(
        "sync0",
        {
            "conn": True,
            "act0": True,
            "act1": False,
            "gone1": False,
            "bare1": False,
            "bulk0": False,
            "addp1": False,
            "usable1": False,
            "v0": value,
            "fon0": floor is not None,
            "fl0": floor or 0,
            "capon0": cap is not None,
            "cap0": cap or 0,
            "unrep0": False,
            "flset0": floor_for != "none",
            "flinc0": -1 if floor_for == "rebooted" else 0,
            "inc1": 0,
            "cpy1": copy is not None,
            "v1": copy or 0,
            "rem1": remembered is not None,
            "remv1": remembered or 0,
        },
        ("v0", "fon0", "fl0", "capon0", "cap0", "unrep0", "addp1", "addv1"),
    )
    assert encoded is not None
    assert encoded["v0"] == after.value
    assert encoded["capon0"] == (after.cap is not None)
    if after.cap is not None:
        assert encoded["cap0"] == after.cap
    assert encoded["unrep0"] == (1 in active.unreplicated)
    assert encoded["fon0"] == (after.floor is not None)
    if after.floor is not None:
        assert encoded["fl0"] == after.floor
    assert encoded["addp1"] == bool(adds)
    if adds:
        assert adds[0].ipsec is not None
        assert encoded["addv1"] == adds[0].ipsec.out.value


@given(
    copy=st.one_of(st.none(), st.integers(0, 5 * OUT_JUMP)),
    stale=st.booleans(),
    remembered=st.one_of(st.none(), st.integers(0, 5 * OUT_JUMP)),
    connected=st.booleans(),
)
def test_resync_agrees_with_the_model(
    copy: int | None, stale: bool, remembered: int | None, connected: bool
) -> None:
    """The fixed resync rule (``resync1``), at any time: the copy is cleared, what it
    counted is remembered (an earlier remembered value stays when there is no copy), and
    the request goes out only on a connection — as ``_resync`` does."""
    system = copy_module.deepcopy(_replicated_pair())
    standby = system.routers[1]
    held = standby.sas.pop(1)
    if copy is not None:
        standby.sas[1] = replace(held, stale=stale, out=sadb.new_counter(copy))
    standby.remembered.clear()
    if remembered is not None:
        standby.remembered[1] = (
            held.expires_ms,
            ssp.Values(sa_id=1, out=remembered, inbound=0, byte_count=0),
        )
    if not connected:
        msys._ssp_disconnect(system, 1, "test", notify_peer=False)
    system.ssp_in_flight.clear()
    msys._resync(system, 1)
    requests = _sent(system, 1, ssp.ResyncRequest)

    encoded = _solve_transition(
        "resync1",
        {
            "act1": False,
            "gone1": False,
            "bare1": False,
            "conn": connected,
            "cpy1": copy is not None,
            "usable1": copy is not None and not stale,
            "v1": copy or 0,
            "rem1": remembered is not None,
            "remv1": remembered or 0,
            "rqp0": False,
        },
        ("cpy1", "usable1", "rem1", "remv1", "rqp0"),
    )
    assert encoded is not None
    assert encoded["cpy1"] == (1 in standby.sas)
    assert not encoded["usable1"]
    assert encoded["rem1"] == (1 in standby.remembered)
    if 1 in standby.remembered:
        assert encoded["remv1"] == standby.remembered[1][1].out
    assert encoded["rqp0"] == bool(requests)


@given(
    value=st.integers(0, 5 * OUT_JUMP),
    floor=st.one_of(st.none(), st.integers(0, 5 * OUT_JUMP)),
    replicating=st.booleans(),
)
def test_resync_answer_agrees_with_the_model(
    value: int, floor: int | None, replicating: bool
) -> None:
    """A resync request reaching the holder (``answer0``): a replicating holder sends the
    full copy again and seeds its floor when it had none; otherwise nothing happens."""
    assume(floor is None or floor <= value)
    system = copy_module.deepcopy(_replicated_pair())
    active = system.routers[0]
    sa = active.sas[1]
    active.sas[1] = replace(sa, out=sadb.Counter(value=value, floor=floor, sent=value))
    active.bulk_sent = replicating
    system.ssp_in_flight.clear()
    request = msys.SspInFlight(
        deliver_at=system.now,
        sender=1,
        epoch=active.epoch,
        message=ssp.ResyncRequest(),
    )
    msys._deliver_ssp(system, request)
    after = active.sas[1].out
    adds = [m for m in _sent(system, 0, ssp.Add) if isinstance(m, ssp.Add) and m.ipsec]

    encoded = _solve_transition(
        "answer0",
        {
            "rqp0": True,
            "conn": True,
            "act0": True,
            "act1": False,
            "gone1": False,
            "bare1": False,
            "bulk0": replicating,
            "unrep0": False,
            "addp1": False,
            "v0": value,
            "fon0": floor is not None,
            "fl0": floor or 0,
        },
        ("fon0", "fl0", "addp1", "addv1"),
    )
    assert encoded is not None
    assert encoded["fon0"] == (after.floor is not None)
    if after.floor is not None:
        assert encoded["fl0"] == after.floor
    assert encoded["addp1"] == bool(adds)
    if adds:
        assert adds[0].ipsec is not None
        assert encoded["addv1"] == adds[0].ipsec.out.value


@given(
    copy=st.one_of(st.none(), st.integers(0, 5 * OUT_JUMP)),
    value=st.integers(0, 5 * OUT_JUMP),
)
def test_delete_and_tombstone_agree_with_the_model(copy: int | None, value: int) -> None:
    """A replicated Delete (``deliver_delete1``) drops the copy and buries the SA (not
    remembered); a later full copy (``deliver_add1``) is then refused and the holder drops
    its floor, while without a tombstone it is admitted — as ``_deliver_ssp`` and
    ``_apply_add`` do."""
    system = copy_module.deepcopy(_replicated_pair())
    active, standby = system.routers
    held = standby.sas.pop(1)
    if copy is not None:
        standby.sas[1] = replace(held, out=sadb.new_counter(copy))
    standby.remembered.clear()
    epoch = active.epoch
    assert epoch is not None

    def deliver(sender: int, message: ssp.SspMessage) -> None:
        msys._deliver_ssp(
            system,
            msys.SspInFlight(deliver_at=system.now, sender=sender, epoch=epoch, message=message),
        )

    deliver(0, ssp.Delete(sa_id=1, ike=False))
    buried = 1 in standby.tombstones
    assert 1 not in standby.sas
    sa = active.sas[1]
    active.sas[1] = replace(sa, out=sadb.Counter(value=value, floor=value, sent=value))
    system.ssp_in_flight.clear()
    active.last_add[1] = 1  # the Add below is the latest of the SA: its Refuse counts
    deliver(0, ssp.Add(ike=None, ipsec=active.sas[1], resync=False, serial=1))
    for refusal in _sent(system, 1, ssp.Refuse):
        assert isinstance(refusal, ssp.Refuse)
        deliver(1, refusal)

    after_delete = _solve_transition(
        "deliver_delete1",
        {
            "delp1": True,
            "addp1": False,
            "act1": False,
            "gone1": False,
            "bare1": False,
            "tomb1": False,
            "cpy1": copy is not None,
            "rem1": False,
        },
        ("cpy1", "tomb1", "rem1"),
    )
    assert after_delete is not None
    assert after_delete["cpy1"] is False
    assert after_delete["tomb1"] == buried
    assert after_delete["rem1"] == (1 in standby.remembered)
    after_add = _solve_transition(
        "deliver_add1",
        {
            "addp1": True,
            "addn1": False,
            "addv1": value,
            "addm1": value,
            "act1": False,
            "gone1": False,
            "bare1": False,
            "tomb1": buried,
            "cpy1": False,
            "act0": True,
            "fon0": True,
            "fl0": value,
        },
        ("cpy1", "v1", "fon0"),
        inputs={"refuse": False},  # the card has room: a refusal is the tombstone's
    )
    assert after_add is not None
    assert after_add["cpy1"] == (1 in standby.sas)
    assert after_add["fon0"] == (active.sas[1].out.floor is not None)
    if 1 in standby.sas:
        assert after_add["v1"] == standby.sas[1].out.value
