"""Unit tests of ``vpnha.model.hsrp`` against RFC 2281 (protocols.md §1.4-1.8).

The expected §5.7 table is written here again as data, independently of the model,
so a reviewer can hold it against the RFC one row at a time.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field, replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vpnha.model import hsrp, operations
from vpnha.model import system as msys
from vpnha.model.hsrp import (
    IGNORED,
    TABLE,
    Event,
    GratuitousArp,
    GroupParams,
    GroupState,
    Message,
    OpCode,
    Output,
    Phase,
    PhaseChanged,
    Send,
    Step,
    classify,
    initial,
    next_deadline,
    receive,
    step,
)
from vpnha.model.params import GroupSide
from vpnha.properties.machines import lockstep_configs
from vpnha.properties.scenarios import cluster_params

AUTH = b"cisco\x00\x00\x00"
WRONG_AUTH = b"secret\x00\x00"
VIP = 0x0A00_0001  # 10.0.0.1
IP_LOW = 0x0A00_0002  # 10.0.0.2
IP_HIGH = 0x0A00_0003  # 10.0.0.3
IP_THIRD = 0x0A00_0009  # 10.0.0.9
GROUP = 1
HELLO_MS = 3000
HOLD_MS = 10000
T0 = 1_000  # a simulated clock starts at a non-zero instant

P = Phase
E = Event

# ---------------------------------------------------------------- the RFC table

# RFC 2281 §5.7 (protocols.md §1.8), one cell per line: (phase, event) ->
# (actions, next phase or None for "no state change"). Blank cells are absent.
# The two alternative cells (note + and note *) are listed separately below.
RFC_2281_5_7: dict[tuple[Phase, Event], tuple[str, Phase | None]] = {
    # a: HSRP configured on an enabled interface (vIP configured; note +)
    (P.INITIAL, E.A_ENABLED): ("AB", P.LISTEN),
    # b: HSRP or interface disabled
    (P.LEARN, E.B_DISABLED): ("CD", P.INITIAL),
    (P.LISTEN, E.B_DISABLED): ("CD", P.INITIAL),
    (P.SPEAK, E.B_DISABLED): ("CD", P.INITIAL),
    (P.STANDBY, E.B_DISABLED): ("CD", P.INITIAL),
    (P.ACTIVE, E.B_DISABLED): ("CDH", P.INITIAL),
    # c: Active timer expiry
    (P.LISTEN, E.C_ACTIVE_TIMER): ("AB", P.SPEAK),
    (P.STANDBY, E.C_ACTIVE_TIMER): ("CDFI", P.ACTIVE),
    # d: Standby timer expiry
    (P.LISTEN, E.D_STANDBY_TIMER): ("B", P.SPEAK),
    (P.SPEAK, E.D_STANDBY_TIMER): ("D", P.STANDBY),
    # e: Hello timer expiry
    (P.SPEAK, E.E_HELLO_TIMER): ("F", None),
    (P.STANDBY, E.E_HELLO_TIMER): ("F", None),
    (P.ACTIVE, E.E_HELLO_TIMER): ("F", None),
    # f: Hello of higher priority from a router in Speak
    (P.SPEAK, E.F_SPEAK_HIGHER): ("B", P.LISTEN),
    (P.STANDBY, E.F_SPEAK_HIGHER): ("B", P.LISTEN),
    # g: Hello of higher priority from the active router
    (P.LEARN, E.G_ACTIVE_HIGHER): ("EAB", P.LISTEN),
    (P.LISTEN, E.G_ACTIVE_HIGHER): ("EA", None),
    (P.SPEAK, E.G_ACTIVE_HIGHER): ("EA", None),
    (P.STANDBY, E.G_ACTIVE_HIGHER): ("EA", None),
    (P.ACTIVE, E.G_ACTIVE_HIGHER): ("AB", P.SPEAK),
    # h: Hello of lower priority from the active router (no preempt; note *)
    (P.LEARN, E.H_ACTIVE_LOWER): ("EAB", P.LISTEN),
    (P.LISTEN, E.H_ACTIVE_LOWER): ("A", None),
    (P.SPEAK, E.H_ACTIVE_LOWER): ("A", None),
    (P.STANDBY, E.H_ACTIVE_LOWER): ("A", None),
    (P.ACTIVE, E.H_ACTIVE_LOWER): ("G", None),
    # i: Resign from the active router
    (P.LISTEN, E.I_RESIGN): ("AB", P.SPEAK),
    (P.SPEAK, E.I_RESIGN): ("A", None),
    (P.STANDBY, E.I_RESIGN): ("CFI", P.ACTIVE),
    # j: Coup from a higher-priority router
    (P.ACTIVE, E.J_COUP_HIGHER): ("ABH", P.SPEAK),
    # k: Hello of higher priority from the standby router
    (P.LISTEN, E.K_STANDBY_HIGHER): ("B", None),
    (P.SPEAK, E.K_STANDBY_HIGHER): ("B", P.LISTEN),
    (P.STANDBY, E.K_STANDBY_HIGHER): ("B", P.LISTEN),
    (P.ACTIVE, E.K_STANDBY_HIGHER): ("B", None),
    # l: Hello of lower priority from the standby router
    (P.LISTEN, E.L_STANDBY_LOWER): ("B", P.SPEAK),
    (P.SPEAK, E.L_STANDBY_LOWER): ("D", P.STANDBY),
    (P.ACTIVE, E.L_STANDBY_LOWER): ("B", None),
}

# Note +: vIP not configured -> "AB/2" (Learn).
RFC_NO_VIP: dict[tuple[Phase, Event], tuple[str, Phase | None]] = {
    (P.INITIAL, E.A_ENABLED): ("AB", P.LEARN),
}

# Note *: configured to preempt -> "BGFI/6" (Active).
RFC_PREEMPT: dict[tuple[Phase, Event], tuple[str, Phase | None]] = {
    (P.LISTEN, E.H_ACTIVE_LOWER): ("BGFI", P.ACTIVE),
    (P.SPEAK, E.H_ACTIVE_LOWER): ("BGFI", P.ACTIVE),
    (P.STANDBY, E.H_ACTIVE_LOWER): ("BGFI", P.ACTIVE),
}

ALL_PAIRS = frozenset((phase, event) for phase in Phase for event in Event)
LABEL = re.compile(r"^RFC 2281 §5\.7: (\w+) × ([a-l])( \(.+\))?$")


def _actions(cell: hsrp.Cell) -> str:
    return "".join(action.value for action in cell.actions)


def test_rfc_table_as_written_here_covers_36_cells() -> None:
    # Guard against a typo in the expected data itself: 36 filled cells in RFC 2281 §5.7.
    assert len(RFC_2281_5_7) == 36
    assert len(ALL_PAIRS) == 72


def test_table_is_total_and_disjoint() -> None:
    table_keys = frozenset(TABLE)
    assert table_keys.isdisjoint(IGNORED)
    assert table_keys | IGNORED == ALL_PAIRS
    assert len(TABLE) + len(IGNORED) == len(ALL_PAIRS)


def test_filled_cells_are_exactly_the_rfc_cells() -> None:
    assert frozenset(TABLE) == frozenset(RFC_2281_5_7)
    assert frozenset(RFC_2281_5_7) | IGNORED == ALL_PAIRS


def _rfc_order(key: tuple[Phase, Event]) -> tuple[str, int]:
    """Row by row (event), then column by column (phase), as the RFC prints the table."""
    phase, event = key
    return event.value, list(Phase).index(phase)


@pytest.mark.parametrize(("phase", "event"), sorted(RFC_2281_5_7, key=_rfc_order))
def test_cell_matches_rfc(phase: Phase, event: Event) -> None:
    cell = TABLE[phase, event]
    assert (_actions(cell), cell.next_phase) == RFC_2281_5_7[phase, event]


@pytest.mark.parametrize(("phase", "event"), sorted(TABLE, key=_rfc_order))
def test_cell_label_names_its_rfc_cell(phase: Phase, event: Event) -> None:
    cell = TABLE[phase, event]
    for labelled in (cell, cell.preempt, cell.no_vip):
        if labelled is None:
            continue
        match = LABEL.match(labelled.label)
        assert match is not None, labelled.label
        assert (match.group(1), match.group(2)) == (phase.value, event.value)


def test_preempt_variants_are_the_rfc_note_star_cells() -> None:
    with_preempt = {key for key, cell in TABLE.items() if cell.preempt is not None}
    assert with_preempt == set(RFC_PREEMPT)
    for key, expected in RFC_PREEMPT.items():
        preempt = TABLE[key].preempt
        assert preempt is not None
        assert (_actions(preempt), preempt.next_phase) == expected
        assert "preempt" in preempt.label


def test_no_vip_variant_is_the_rfc_note_plus_cell() -> None:
    with_no_vip = {key for key, cell in TABLE.items() if cell.no_vip is not None}
    assert with_no_vip == set(RFC_NO_VIP)
    for key, expected in RFC_NO_VIP.items():
        no_vip = TABLE[key].no_vip
        assert no_vip is not None
        assert (_actions(no_vip), no_vip.next_phase) == expected


def test_only_speak_standby_active_send_hellos() -> None:
    # protocols.md §1.8 gap 4 and RFC 2281 §5.4.
    assert {phase for phase in Phase if hsrp.sends_hellos(phase)} == {
        P.SPEAK,
        P.STANDBY,
        P.ACTIVE,
    }
    # ... and the table agrees: F only appears in cells whose resulting phase sends.
    for (phase, _), cell in TABLE.items():
        for variant in (cell, cell.preempt, cell.no_vip):
            if variant is not None and hsrp.Action.F_SEND_HELLO in variant.actions:
                assert hsrp.sends_hellos(variant.next_phase or phase)


# ---------------------------------------------------------------- helpers


def params(
    own_ip: int = IP_LOW,
    *,
    priority: int = 100,
    virtual_ip: int | None = VIP,
    preempt: bool = False,
    preempt_delay_ms: int = 0,
    hello_ms: int = HELLO_MS,
    hold_ms: int = HOLD_MS,
) -> GroupParams:
    """Group 1 on a router at ``own_ip`` with default timers (3 s / 10 s) and auth."""
    return GroupParams(
        group=GROUP,
        own_ip=own_ip,
        virtual_ip=virtual_ip,
        priority=priority,
        preempt=preempt,
        preempt_delay_ms=preempt_delay_ms,
        hello_ms=hello_ms,
        hold_ms=hold_ms,
        auth=AUTH,
    )


def message(
    op: OpCode = OpCode.HELLO,
    state: Phase = P.ACTIVE,
    *,
    priority: int = 100,
    src_ip: int = IP_HIGH,
    group: int = GROUP,
    auth: bytes = AUTH,
    virtual_ip: int | None = VIP,
) -> Message:
    """A message of group 1 with our auth, from 10.0.0.3 unless told otherwise."""
    return Message(
        op=op,
        group=group,
        state=state,
        priority=priority,
        src_ip=src_ip,
        virtual_ip=virtual_ip,
        hello_ms=HELLO_MS,
        hold_ms=HOLD_MS,
        auth=auth,
    )


def in_phase(
    gp: GroupParams,
    phase: Phase,
    *,
    active_expiry: int | None = None,
    standby_expiry: int | None = None,
) -> GroupState:
    """A group enabled at T0, then forced into ``phase`` with the Active/Standby timers given."""
    enabled = step(gp, initial(gp), E.A_ENABLED, now=T0).state
    return replace(enabled, phase=phase, active_expiry=active_expiry, standby_expiry=standby_expiry)


def sends(outputs: tuple[Output, ...]) -> list[Message]:
    """The messages among ``outputs``, in order."""
    return [out.message for out in outputs if isinstance(out, Send)]


def kinds(outputs: tuple[Output, ...]) -> list[str]:
    """Outputs as short names, in order: 'Hello', 'Coup', 'Resign', 'GARP', 'Listen->Speak'."""
    names: list[str] = []
    for out in outputs:
        match out:
            case Send(message=msg):
                names.append(msg.op.value)
            case GratuitousArp():
                names.append("GARP")
            case PhaseChanged(old=old, new=new):
                names.append(f"{old.value}->{new.value}")
    return names


# ---------------------------------------------------------------- classify


@pytest.mark.parametrize(
    ("their_priority", "their_ip", "expected"),
    [
        (101, IP_LOW - 1, E.G_ACTIVE_HIGHER),  # higher priority wins whatever the IP
        (99, IP_LOW + 100, E.H_ACTIVE_LOWER),  # lower priority loses whatever the IP
        (100, IP_LOW + 1, E.G_ACTIVE_HIGHER),  # equal priority: higher IP wins
        (100, IP_LOW - 1, E.H_ACTIVE_LOWER),  # equal priority: lower IP loses
    ],
)
def test_classify_orders_by_priority_then_ip(
    their_priority: int, their_ip: int, expected: Event
) -> None:
    gp = params(IP_LOW, priority=100)
    msg = message(priority=their_priority, src_ip=their_ip)
    assert classify(gp, in_phase(gp, P.LISTEN), msg) is expected


def test_classify_uses_effective_not_configured_priority() -> None:
    gp = params(IP_LOW, priority=100)
    tracked_down = replace(in_phase(gp, P.LISTEN), priority=90)
    assert classify(gp, tracked_down, message(priority=95, src_ip=IP_LOW - 1)) is E.G_ACTIVE_HIGHER


@pytest.mark.parametrize(
    ("op", "state", "their_ip", "expected"),
    [
        (OpCode.HELLO, P.SPEAK, IP_HIGH, E.F_SPEAK_HIGHER),
        (OpCode.HELLO, P.SPEAK, IP_LOW - 1, None),
        (OpCode.HELLO, P.ACTIVE, IP_HIGH, E.G_ACTIVE_HIGHER),
        (OpCode.HELLO, P.ACTIVE, IP_LOW - 1, E.H_ACTIVE_LOWER),
        (OpCode.HELLO, P.STANDBY, IP_HIGH, E.K_STANDBY_HIGHER),
        (OpCode.HELLO, P.STANDBY, IP_LOW - 1, E.L_STANDBY_LOWER),
        (OpCode.HELLO, P.LISTEN, IP_HIGH, None),
        (OpCode.HELLO, P.INITIAL, IP_HIGH, None),
        (OpCode.COUP, P.STANDBY, IP_HIGH, E.J_COUP_HIGHER),
        (OpCode.COUP, P.STANDBY, IP_LOW - 1, None),
        (OpCode.RESIGN, P.ACTIVE, IP_HIGH, E.I_RESIGN),
        (OpCode.RESIGN, P.ACTIVE, IP_LOW - 1, E.I_RESIGN),  # "from the active router"
        (OpCode.RESIGN, P.SPEAK, IP_HIGH, None),
    ],
)
def test_classify_event_kinds(op: OpCode, state: Phase, their_ip: int, expected: Event) -> None:
    gp = params(IP_LOW, priority=100)
    msg = message(op, state, priority=100, src_ip=their_ip)
    assert classify(gp, in_phase(gp, P.SPEAK), msg) is expected


def test_classify_ignores_other_group_and_own_address() -> None:
    gp = params(IP_LOW)
    st_ = in_phase(gp, P.STANDBY)
    assert classify(gp, st_, message(group=GROUP + 1, priority=200)) is None
    assert classify(gp, st_, message(src_ip=IP_LOW, priority=200)) is None


def test_classify_ignores_wrong_auth_and_receive_counts_it() -> None:
    gp = params(IP_LOW)
    before = in_phase(gp, P.SPEAK, active_expiry=T0 + 500, standby_expiry=T0 + 700)
    msg = message(OpCode.HELLO, P.ACTIVE, priority=200, auth=WRONG_AUTH)
    assert classify(gp, before, msg) is None
    result, event = receive(gp, before, msg, now=T0 + 100)
    assert event is None
    assert result.outputs == ()
    assert result.state == replace(before, unauthenticated=1)
    again, _ = receive(gp, result.state, msg, now=T0 + 200)
    assert again.state.unauthenticated == 2


def test_receive_does_not_count_wrong_auth_of_another_group() -> None:
    gp = params(IP_LOW)
    before = in_phase(gp, P.SPEAK)
    result, event = receive(gp, before, message(group=GROUP + 1, auth=WRONG_AUTH), now=T0)
    assert (event, result.state, result.outputs) == (None, before, ())


def test_receive_in_initial_changes_nothing() -> None:
    gp = params(IP_LOW)
    before = initial(gp)
    result, event = receive(gp, before, message(OpCode.HELLO, P.ACTIVE, priority=200), now=T0)
    assert event is E.G_ACTIVE_HIGHER
    assert (result.state, result.outputs) == (before, ())


# ---------------------------------------------------------------- every cell through step

# A received message that is each of events f … l for a router (IP_HIGH, priority 100).
EVENT_MESSAGES: dict[Event, tuple[OpCode, Phase, int]] = {
    E.F_SPEAK_HIGHER: (OpCode.HELLO, P.SPEAK, 150),
    E.G_ACTIVE_HIGHER: (OpCode.HELLO, P.ACTIVE, 150),
    E.H_ACTIVE_LOWER: (OpCode.HELLO, P.ACTIVE, 50),
    E.I_RESIGN: (OpCode.RESIGN, P.ACTIVE, 50),
    E.J_COUP_HIGHER: (OpCode.COUP, P.STANDBY, 150),
    E.K_STANDBY_HIGHER: (OpCode.HELLO, P.STANDBY, 150),
    E.L_STANDBY_LOWER: (OpCode.HELLO, P.STANDBY, 50),
}
ACTION_OUTPUT = {"F": "Hello", "G": "Coup", "H": "Resign", "I": "GARP"}
LEARNED_VIP = 0x0A00_00FE
CELL_NOW = T0 + 20_000
RUNNING_ACTIVE = T0 + 50_000
RUNNING_STANDBY = T0 + 60_000


def _run_cell(
    phase: Phase, event: Event, *, preempt: bool, vip: int | None
) -> tuple[GroupState, Step]:
    """Put a router in ``phase`` (timers running) and apply ``event`` at CELL_NOW."""
    gp = params(IP_HIGH, priority=100, preempt=preempt, virtual_ip=vip)
    before = initial(gp)
    if phase is not P.INITIAL:
        before = replace(
            step(gp, before, E.A_ENABLED, now=T0).state,
            phase=phase,
            active_expiry=CELL_NOW if event is E.C_ACTIVE_TIMER else RUNNING_ACTIVE,
            standby_expiry=CELL_NOW if event is E.D_STANDBY_TIMER else RUNNING_STANDBY,
            hello_due=CELL_NOW if event is E.E_HELLO_TIMER else T0 + 100,
        )
    if event in EVENT_MESSAGES:
        op, state, priority = EVENT_MESSAGES[event]
        msg = message(op, state, priority=priority, src_ip=IP_LOW, virtual_ip=LEARNED_VIP)
        assert classify(gp, before, msg) is event
        result = step(gp, before, event, now=CELL_NOW, message=msg)
    else:
        result = step(gp, before, event, now=CELL_NOW)
    return before, result


def _expected_timers(before: GroupState, event: Event, actions: str) -> tuple[int | None, ...]:
    active, standby = before.active_expiry, before.standby_expiry
    if event is E.C_ACTIVE_TIMER:
        active = None  # the timer that fired is no longer running
    if event is E.D_STANDBY_TIMER:
        standby = None
    for action in actions:
        match action:
            case "A":
                active = CELL_NOW + HOLD_MS
            case "B":
                standby = CELL_NOW + HOLD_MS
            case "C":
                active = None
            case "D":
                standby = None
    return active, standby


def _cells_to_execute() -> list[tuple[Phase, Event, bool, bool]]:
    """(phase, event, preempt, vip configured) for every filled cell and every alternative."""
    cells = []
    for phase, event in sorted(RFC_2281_5_7, key=_rfc_order):
        cells.append((phase, event, False, phase is not P.LEARN))
    cells.extend((phase, event, True, True) for phase, event in RFC_PREEMPT)
    cells.extend((phase, event, False, False) for phase, event in RFC_NO_VIP)
    return cells


@pytest.mark.parametrize(("phase", "event", "preempt", "vip_configured"), _cells_to_execute())
def test_step_executes_rfc_cell(
    phase: Phase, event: Event, preempt: bool, vip_configured: bool
) -> None:
    if preempt:
        expected_actions, next_phase = RFC_PREEMPT[phase, event]
    elif not vip_configured and (phase, event) in RFC_NO_VIP:
        expected_actions, next_phase = RFC_NO_VIP[phase, event]
    else:
        expected_actions, next_phase = RFC_2281_5_7[phase, event]
    before, result = _run_cell(phase, event, preempt=preempt, vip=VIP if vip_configured else None)
    after = result.state
    new_phase = next_phase or phase
    assert after.phase is new_phase
    expected_outputs = [ACTION_OUTPUT[a] for a in expected_actions if a in ACTION_OUTPUT]
    if new_phase is not phase:
        expected_outputs.append(f"{phase.value}->{new_phase.value}")
    assert kinds(result.outputs) == expected_outputs
    expected_timers = _expected_timers(before, event, expected_actions)
    assert (after.active_expiry, after.standby_expiry) == expected_timers
    # Action E: the vIP is learned only when none is configured.
    learns = "E" in expected_actions and not vip_configured
    expected_vip = LEARNED_VIP if learns else (VIP if vip_configured else None)
    assert after.virtual_ip == expected_vip
    for msg in sends(result.outputs):
        # Hello carries the phase after the step; Coup and Resign the phase before it.
        assert msg.state is (new_phase if msg.op is OpCode.HELLO else phase)


@pytest.mark.parametrize(("phase", "event"), sorted(IGNORED, key=_rfc_order))
def test_step_absorbs_blank_cells(phase: Phase, event: Event) -> None:
    vip = None if phase is P.LEARN else VIP
    before, result = _run_cell(phase, event, preempt=True, vip=vip)
    after = result.state
    assert result.outputs == ()
    assert after.phase is phase
    assert after.virtual_ip == before.virtual_ip
    # Only the timer that fired stops; nothing else is started or stopped.
    expected = _expected_timers(before, event, "")
    assert (after.active_expiry, after.standby_expiry) == expected


# ---------------------------------------------------------------- step


@pytest.mark.parametrize(("vip", "phase"), [(VIP, P.LISTEN), (None, P.LEARN)])
def test_enable_starts_timers_and_enters_listen_or_learn(vip: int | None, phase: Phase) -> None:
    gp = params(virtual_ip=vip)
    result = step(gp, initial(gp), E.A_ENABLED, now=T0, jitter_ms=250)
    state = result.state
    assert state.phase is phase
    assert state.active_expiry == T0 + HOLD_MS
    assert state.standby_expiry == T0 + HOLD_MS
    assert state.hello_due == T0 + HELLO_MS - 250
    assert state.enabled_at == T0
    assert sends(result.outputs) == []
    assert kinds(result.outputs) == [f"Initial->{phase.value}"]
    (changed,) = result.outputs
    assert isinstance(changed, PhaseChanged)
    assert changed.event is E.A_ENABLED
    assert changed.cell.startswith("RFC 2281 §5.7: Initial × a")


def test_enable_when_already_enabled_is_ignored() -> None:
    gp = params()
    listening = step(gp, initial(gp), E.A_ENABLED, now=T0).state
    again = step(gp, listening, E.A_ENABLED, now=T0 + 5000)
    assert again.state == listening
    assert again.outputs == ()


@pytest.mark.parametrize("event", [E.G_ACTIVE_HIGHER, E.H_ACTIVE_LOWER])
def test_learn_learns_vip_from_active_hello(event: Event) -> None:
    gp = params(IP_LOW, virtual_ip=None)
    learning = step(gp, initial(gp), E.A_ENABLED, now=T0).state
    learned_vip = 0x0A00_00FE
    their_ip = IP_HIGH if event is E.G_ACTIVE_HIGHER else IP_LOW - 1
    msg = message(OpCode.HELLO, P.ACTIVE, src_ip=their_ip, virtual_ip=learned_vip)
    result, classified = receive(gp, learning, msg, now=T0 + 4000)
    assert classified is event
    assert result.state.phase is P.LISTEN
    assert result.state.virtual_ip == learned_vip
    assert result.state.active_expiry == T0 + 4000 + HOLD_MS
    assert result.state.standby_expiry == T0 + 4000 + HOLD_MS
    assert result.state.active_ip == their_ip


def test_configured_vip_is_not_overwritten_by_learning() -> None:
    gp = params(IP_LOW, virtual_ip=VIP)
    listening = step(gp, initial(gp), E.A_ENABLED, now=T0).state
    msg = message(OpCode.HELLO, P.ACTIVE, src_ip=IP_HIGH, virtual_ip=0x0A00_00FE)
    result, _ = receive(gp, listening, msg, now=T0 + 100)
    assert result.state.virtual_ip == VIP


def test_learn_stays_in_learn_on_timer_expiry() -> None:
    # Gap 3: Learn has no timer-driven exit.
    gp = params(virtual_ip=None)
    state = step(gp, initial(gp), E.A_ENABLED, now=T0).state
    for event in (E.C_ACTIVE_TIMER, E.D_STANDBY_TIMER, E.E_HELLO_TIMER):
        result = step(gp, state, event, now=T0 + HOLD_MS)
        assert result.state.phase is P.LEARN
        assert sends(result.outputs) == []
        state = result.state


def test_listen_active_timer_expiry_enters_speak() -> None:
    gp = params()
    listening = step(gp, initial(gp), E.A_ENABLED, now=T0).state
    due = listening.active_expiry
    assert due == T0 + HOLD_MS
    # At the hold time both timers are due; c comes first (next_deadline order a, c, d, e).
    assert next_deadline(replace(listening, hello_due=None)) == (due, E.C_ACTIVE_TIMER)
    result = step(gp, listening, E.C_ACTIVE_TIMER, now=due)
    assert result.state.phase is P.SPEAK
    assert result.state.active_expiry == due + HOLD_MS
    assert result.state.standby_expiry == due + HOLD_MS
    assert kinds(result.outputs) == ["Listen->Speak"]


def test_speak_hello_timer_sends_hello_with_speak_state_and_rearms() -> None:
    gp = params()
    speaking = in_phase(gp, P.SPEAK, active_expiry=T0 + 9000, standby_expiry=T0 + 9000)
    result = step(gp, speaking, E.E_HELLO_TIMER, now=T0 + 2000, jitter_ms=100)
    (hello,) = sends(result.outputs)
    assert (hello.op, hello.state, hello.src_ip, hello.priority) == (
        OpCode.HELLO,
        P.SPEAK,
        IP_LOW,
        100,
    )
    assert (hello.virtual_ip, hello.auth, hello.group) == (VIP, AUTH, GROUP)
    assert result.state.hello_due == T0 + 2000 + HELLO_MS - 100
    assert result.state.phase is P.SPEAK


def test_listen_hello_timer_rearms_but_sends_nothing() -> None:
    gp = params()
    listening = step(gp, initial(gp), E.A_ENABLED, now=T0).state
    result = step(gp, listening, E.E_HELLO_TIMER, now=T0 + HELLO_MS)
    assert result.outputs == ()
    assert result.state.hello_due == T0 + 2 * HELLO_MS


def test_speak_standby_timer_with_no_active_applies_gap_1() -> None:
    gp = params()
    now = T0 + 20000
    speaking = in_phase(gp, P.SPEAK, active_expiry=None, standby_expiry=now)
    result = step(gp, speaking, E.D_STANDBY_TIMER, now=now)
    assert result.state.phase is P.ACTIVE
    assert kinds(result.outputs) == ["Speak->Standby", "Hello", "GARP", "Standby->Active"]
    (hello,) = sends(result.outputs)
    assert hello.state is P.ACTIVE
    garp = result.outputs[2]
    assert garp == GratuitousArp(group=GROUP, virtual_ip=VIP)
    to_active = result.outputs[3]
    assert isinstance(to_active, PhaseChanged)
    assert to_active.cell.startswith("GAP-1")
    assert (result.state.active_expiry, result.state.standby_expiry) == (None, None)


def test_speak_standby_timer_with_active_known_stays_standby() -> None:
    gp = params()
    now = T0 + 20000
    speaking = in_phase(gp, P.SPEAK, active_expiry=now + 4000, standby_expiry=now)
    result = step(gp, speaking, E.D_STANDBY_TIMER, now=now)
    assert result.state.phase is P.STANDBY
    assert kinds(result.outputs) == ["Speak->Standby"]
    assert result.state.active_expiry == now + 4000
    assert result.state.standby_expiry is None


def test_standby_active_timer_expiry_takes_over() -> None:
    gp = params()
    now = T0 + 30000
    standby = in_phase(gp, P.STANDBY, active_expiry=now, standby_expiry=now + 3000)
    result = step(gp, standby, E.C_ACTIVE_TIMER, now=now)
    assert result.state.phase is P.ACTIVE
    assert kinds(result.outputs) == ["Hello", "GARP", "Standby->Active"]
    (hello,) = sends(result.outputs)
    assert (hello.op, hello.state) == (OpCode.HELLO, P.ACTIVE)
    assert (result.state.active_expiry, result.state.standby_expiry) == (None, None)


def test_standby_takes_over_on_resign() -> None:
    gp = params(IP_HIGH)
    standby = in_phase(gp, P.STANDBY, active_expiry=T0 + 5000, standby_expiry=T0 + 6000)
    resign = message(OpCode.RESIGN, P.ACTIVE, src_ip=IP_LOW)
    result, event = receive(gp, standby, resign, now=T0 + 1000)
    assert event is E.I_RESIGN
    assert result.state.phase is P.ACTIVE
    assert kinds(result.outputs) == ["Hello", "GARP", "Standby->Active"]
    assert result.state.active_expiry is None
    # RFC cell CFI/6: the Standby timer is not stopped.
    assert result.state.standby_expiry == T0 + 6000


def test_active_coup_from_higher_resigns_to_speak() -> None:
    gp = params(IP_LOW)
    active = in_phase(gp, P.ACTIVE)
    coup = message(OpCode.COUP, P.STANDBY, priority=150, src_ip=IP_HIGH)
    result, event = receive(gp, active, coup, now=T0 + 500)
    assert event is E.J_COUP_HIGHER
    assert result.state.phase is P.SPEAK
    assert kinds(result.outputs) == ["Resign", "Active->Speak"]
    (resign,) = sends(result.outputs)
    assert resign.state is P.ACTIVE  # MESSAGE STATE FIELD: phase before the transition
    assert result.state.active_expiry == T0 + 500 + HOLD_MS
    assert result.state.standby_expiry == T0 + 500 + HOLD_MS


def test_active_coup_from_lower_is_ignored() -> None:
    gp = params(IP_HIGH, priority=150)
    active = in_phase(gp, P.ACTIVE)
    coup = message(OpCode.COUP, P.STANDBY, priority=100, src_ip=IP_LOW)
    result, event = receive(gp, active, coup, now=T0 + 500)
    assert event is None
    assert (result.state, result.outputs) == (active, ())


def test_active_disable_resigns_and_clears_timers() -> None:
    gp = params()
    active = in_phase(gp, P.ACTIVE, standby_expiry=T0 + 8000)
    result = step(gp, active, E.B_DISABLED, now=T0 + 1000)
    assert result.state.phase is P.INITIAL
    assert kinds(result.outputs) == ["Resign", "Active->Initial"]
    (resign,) = sends(result.outputs)
    assert resign.state is P.ACTIVE
    state = result.state
    assert (state.active_expiry, state.standby_expiry, state.hello_due) == (None, None, None)
    assert next_deadline(state) is None


@pytest.mark.parametrize("phase", [P.LISTEN, P.SPEAK, P.STANDBY])
def test_preempt_on_lower_active_hello_sends_coup_hello_garp(phase: Phase) -> None:
    gp = params(IP_HIGH, priority=150, preempt=True)
    before = in_phase(gp, phase, active_expiry=T0 + 7000, standby_expiry=T0 + 7000)
    now = T0 + 2000
    result, event = receive(gp, before, message(priority=100, src_ip=IP_LOW), now=now)
    assert event is E.H_ACTIVE_LOWER
    assert result.state.phase is P.ACTIVE
    assert kinds(result.outputs) == ["Coup", "Hello", "GARP", f"{phase.value}->Active"]
    coup, hello = sends(result.outputs)
    assert coup.state is phase  # sender's phase before the transition
    assert hello.state is P.ACTIVE  # Hello carries the phase after it
    assert result.state.standby_expiry == now + HOLD_MS  # B
    assert result.outputs[-1] == PhaseChanged(
        group=GROUP,
        old=phase,
        new=P.ACTIVE,
        event=E.H_ACTIVE_LOWER,
        cell=f"RFC 2281 §5.7: {phase.value} × h (preempt)",
    )


@pytest.mark.parametrize("phase", [P.LISTEN, P.SPEAK, P.STANDBY])
def test_no_preempt_only_restarts_active_timer(phase: Phase) -> None:
    gp = params(IP_HIGH, priority=150, preempt=False)
    before = in_phase(gp, phase, active_expiry=T0 + 7000, standby_expiry=T0 + 7000)
    now = T0 + 2000
    result, event = receive(gp, before, message(priority=100, src_ip=IP_LOW), now=now)
    assert event is E.H_ACTIVE_LOWER
    assert result.outputs == ()
    assert result.state == replace(before, active_expiry=now + HOLD_MS, active_ip=IP_LOW)


def test_preempt_delay_counts_from_enable() -> None:
    delay = 5000
    gp = params(IP_HIGH, priority=150, preempt=True, preempt_delay_ms=delay)
    enabled = step(gp, initial(gp), E.A_ENABLED, now=T0).state
    assert enabled.enabled_at == T0
    lower = message(priority=100, src_ip=IP_LOW)

    early, _ = receive(gp, enabled, lower, now=T0 + delay - 1)
    assert early.state.phase is P.LISTEN
    assert sends(early.outputs) == []
    assert early.state.active_expiry == T0 + delay - 1 + HOLD_MS

    on_time, _ = receive(gp, early.state, lower, now=T0 + delay)
    assert on_time.state.phase is P.ACTIVE
    assert kinds(on_time.outputs) == ["Coup", "Hello", "GARP", "Listen->Active"]


def test_active_hears_lower_active_sends_coup_and_stays() -> None:
    gp = params(IP_HIGH)
    active = in_phase(gp, P.ACTIVE)
    result, event = receive(gp, active, message(OpCode.HELLO, P.ACTIVE, src_ip=IP_LOW), now=T0)
    assert event is E.H_ACTIVE_LOWER
    assert result.state.phase is P.ACTIVE
    assert kinds(result.outputs) == ["Coup"]
    (coup,) = sends(result.outputs)
    assert coup.state is P.ACTIVE


def test_active_hears_higher_active_steps_down_without_resign() -> None:
    gp = params(IP_LOW)
    active = in_phase(gp, P.ACTIVE)
    result, event = receive(gp, active, message(src_ip=IP_HIGH), now=T0 + 10)
    assert event is E.G_ACTIVE_HIGHER
    assert result.state.phase is P.SPEAK
    assert kinds(result.outputs) == ["Active->Speak"]


def test_stray_hello_timer_in_initial_leaves_no_timer() -> None:
    """Regression: a stray e in Initial used to re-arm the Hello timer of a disabled group."""
    gp = params()
    result = step(gp, initial(gp), E.E_HELLO_TIMER, now=T0)
    assert result.state.phase is P.INITIAL
    assert result.state.hello_due is None
    assert next_deadline(result.state) is None


@pytest.mark.parametrize("jitter_ms", [-1, HELLO_MS, HELLO_MS + 1])
def test_jitter_out_of_range_is_rejected(jitter_ms: int) -> None:
    gp = params()
    with pytest.raises(ValueError, match="jitter_ms"):
        step(gp, initial(gp), E.A_ENABLED, now=T0, jitter_ms=jitter_ms)


def test_largest_jitter_is_accepted() -> None:
    gp = params()
    state = step(gp, initial(gp), E.A_ENABLED, now=T0, jitter_ms=HELLO_MS - 1).state
    assert state.hello_due == T0 + 1


def test_next_deadline_orders_simultaneous_timers_a_c_d_e() -> None:
    gp = params()
    due = T0 + 5000
    state = replace(
        initial(gp), enable_due=due, active_expiry=due, standby_expiry=due, hello_due=due
    )
    # Stop the timer that wins each time: the next one in the a, c, d, e order wins.
    assert next_deadline(state) == (due, E.A_ENABLED)
    state = replace(state, enable_due=None)
    assert next_deadline(state) == (due, E.C_ACTIVE_TIMER)
    state = replace(state, active_expiry=None)
    assert next_deadline(state) == (due, E.D_STANDBY_TIMER)
    state = replace(state, standby_expiry=None)
    assert next_deadline(state) == (due, E.E_HELLO_TIMER)
    state = replace(state, hello_due=None)
    assert next_deadline(state) is None


def test_next_deadline_earliest_wins_over_order() -> None:
    gp = params()
    state = replace(
        initial(gp),
        enable_due=T0 + 4,
        active_expiry=T0 + 3,
        standby_expiry=T0 + 2,
        hello_due=T0 + 1,
    )
    assert next_deadline(state) == (T0 + 1, E.E_HELLO_TIMER)


# ---------------------------------------------------------------- two routers by hand


@dataclass
class Pair:
    """Two routers on one segment, driven with the pure functions; delivery is instant."""

    group_params: tuple[GroupParams, GroupParams]
    states: list[GroupState] = field(default_factory=list)
    alive: list[bool] = field(default_factory=lambda: [True, True])
    link_up: bool = True
    now: int = T0
    phase_log: list[tuple[int, int, Phase]] = field(default_factory=list)
    last_active_hello_at: list[int | None] = field(default_factory=lambda: [None, None])
    jitter_ms: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        self.states = [initial(gp) for gp in self.group_params]

    def enable(self, *indexes: int) -> None:
        """Event a now on the routers given (default both)."""
        for index in indexes or range(len(self.group_params)):
            gp = self.group_params[index]
            self._apply(index, step(gp, self.states[index], E.A_ENABLED, now=self.now))

    def phases(self) -> list[Phase]:
        """Current phase of each router."""
        return [state.phase for state in self.states]

    def _apply(self, index: int, result: Step) -> None:
        pending = [(index, result)]
        while pending:
            at, res = pending.pop(0)
            self.states[at] = res.state
            for out in res.outputs:
                if isinstance(out, PhaseChanged):
                    self.phase_log.append((self.now, at, out.new))
                if isinstance(out, Send) and self.alive[at] and self.link_up:
                    other = 1 - at
                    if not self.alive[other]:
                        continue
                    if out.message.op is OpCode.HELLO and out.message.state is P.ACTIVE:
                        self.last_active_hello_at[other] = self.now
                    reply, _ = receive(
                        self.group_params[other], self.states[other], out.message, now=self.now
                    )
                    pending.append((other, reply))

    def run_until(self, end: int) -> None:
        while True:
            candidates = []
            for index, state in enumerate(self.states):
                deadline = next_deadline(state)
                if deadline is not None and self.alive[index]:
                    candidates.append((deadline[0], index, deadline[1]))
            if not candidates:
                break
            due, index, event = min(candidates, key=lambda c: (c[0], c[1]))
            if due > end:
                break
            assert due >= self.now, "a timer deadline fell into the past"
            self.now = due
            jitter = self.jitter_ms[index] if event is E.E_HELLO_TIMER else 0
            gp = self.group_params[index]
            self._apply(index, step(gp, self.states[index], event, now=due, jitter_ms=jitter))
        self.now = max(self.now, end)

    def reached(self, index: int, phase: Phase) -> int | None:
        """When router ``index`` last entered ``phase`` (None: never)."""
        times = [t for t, i, p in self.phase_log if i == index and p is phase]
        return times[-1] if times else None


@pytest.mark.parametrize("jitter_ms", [(0, 0), (400, 0), (0, 700), (250, 600)])
def test_equal_priority_higher_ip_becomes_active(jitter_ms: tuple[int, int]) -> None:
    pair = Pair(group_params=(params(IP_LOW), params(IP_HIGH)), jitter_ms=jitter_ms)
    pair.enable()
    pair.run_until(T0 + 2 * HOLD_MS + HELLO_MS)
    # The higher IP is Active within 2 × hold + hello (Listen ≈ hold, Speak ≈ hold).
    assert pair.states[1].phase is P.ACTIVE
    became_active = pair.reached(1, P.ACTIVE)
    assert became_active is not None
    assert became_active <= T0 + 2 * HOLD_MS + HELLO_MS
    # The lower IP heard the higher Speak Hello (f -> Listen), so it needs Listen × d
    # then Speak × d to reach Standby: within 3 × hold + hello (RFC 2281 §5.7 rows d, f).
    pair.run_until(T0 + 3 * HOLD_MS + HELLO_MS)
    assert pair.phases() == [P.STANDBY, P.ACTIVE]
    # ... and it is steady afterwards.
    settled = len(pair.phase_log)
    pair.run_until(T0 + 10 * HOLD_MS)
    assert len(pair.phase_log) == settled
    assert pair.phases() == [P.STANDBY, P.ACTIVE]
    assert pair.reached(0, P.ACTIVE) is None  # the loser never was Active
    assert pair.states[0].active_ip == IP_HIGH


def test_higher_priority_wins_regardless_of_ip() -> None:
    group_params = (params(IP_LOW, priority=120), params(IP_HIGH, priority=100))
    pair = Pair(group_params=group_params)
    pair.enable()
    pair.run_until(T0 + 2 * HOLD_MS + HELLO_MS)
    assert pair.states[0].phase is P.ACTIVE
    pair.run_until(T0 + 3 * HOLD_MS + HELLO_MS)
    assert pair.phases() == [P.ACTIVE, P.STANDBY]
    assert pair.reached(1, P.ACTIVE) is None


def test_standby_takes_over_one_hold_after_last_hello() -> None:
    pair = Pair(group_params=(params(IP_LOW), params(IP_HIGH)))
    pair.enable()
    pair.run_until(T0 + 5 * HOLD_MS)
    assert pair.phases() == [P.STANDBY, P.ACTIVE]
    stop_at = pair.now + 1234
    pair.run_until(stop_at)
    pair.alive[1] = False  # the Active router stops: nothing more from it
    last_hello = pair.last_active_hello_at[0]
    assert last_hello is not None
    assert stop_at - HELLO_MS <= last_hello <= stop_at
    assert pair.states[0].active_expiry == last_hello + HOLD_MS
    pair.run_until(stop_at + 2 * HOLD_MS)
    took_over = pair.reached(0, P.ACTIVE)
    assert took_over == last_hello + HOLD_MS
    assert pair.states[0].phase is P.ACTIVE


def test_partition_heal_leaves_the_higher_router_active() -> None:
    pair = Pair(group_params=(params(IP_LOW), params(IP_HIGH)))
    pair.enable()
    pair.run_until(T0 + 5 * HOLD_MS)
    assert pair.phases() == [P.STANDBY, P.ACTIVE]
    pair.link_up = False
    pair.run_until(pair.now + 2 * HOLD_MS)
    assert pair.phases() == [P.ACTIVE, P.ACTIVE]  # both Active while they cannot hear each other
    healed_at = pair.now
    pair.link_up = True
    # The first Hellos across settle it: the lower router hears a higher Active (g: Speak)
    # or a Coup (j: Resign, Speak); it never stays Active.
    pair.run_until(healed_at + HELLO_MS)
    assert pair.phases() == [P.SPEAK, P.ACTIVE]
    pair.run_until(healed_at + HELLO_MS + HOLD_MS)
    assert pair.phases() == [P.STANDBY, P.ACTIVE]
    # The higher router never changed phase after the heal.
    assert all(t < healed_at for t, i, _ in pair.phase_log if i == 1)


def test_preempting_router_enabled_later_takes_over() -> None:
    # A higher-priority router with preempt joins an established Active: Coup, and the
    # old Active resigns to Speak (RFC 2281 §5.7 h* in Listen, j in Active).
    group_params = (params(IP_LOW, priority=100), params(IP_HIGH, priority=150, preempt=True))
    pair = Pair(group_params=group_params)
    pair.enable(0)
    pair.run_until(T0 + 3 * HOLD_MS)
    assert pair.phases() == [P.ACTIVE, P.INITIAL]
    pair.enable(1)
    # It hears the next Hello of the Active (within one hello time) and preempts at once.
    pair.run_until(pair.now + HELLO_MS)
    assert pair.phases() == [P.SPEAK, P.ACTIVE]
    pair.run_until(pair.now + 3 * HOLD_MS)
    assert pair.phases() == [P.STANDBY, P.ACTIVE]


# ---------------------------------------------------------------- random sequences


@st.composite
def group_params_for(draw: st.DrawFn, own_ip: int, *, may_learn: bool) -> GroupParams:
    hello_ms = draw(st.sampled_from([1000, 3000]))
    return params(
        own_ip,
        priority=draw(st.sampled_from([90, 100, 110])),
        virtual_ip=draw(st.sampled_from([VIP, None])) if may_learn else VIP,
        preempt=draw(st.booleans()),
        preempt_delay_ms=draw(st.sampled_from([0, 4000])),
        hello_ms=hello_ms,
        hold_ms=draw(st.sampled_from([3 * hello_ms + 1, 10 * hello_ms // 3])),
    )


# Mostly "advance" (run the segment normally for a while), which is what drives
# elections; single timers, deliveries and drops interleave messages and timers
# in unusual orders; injected messages from a third router reach the other cells.
ACTIONS = st.one_of(
    st.tuples(st.just("advance"), st.sampled_from([1_000, 5_000, 12_000, 25_000])),
    st.tuples(st.just("advance"), st.integers(0, 40_000)),
    st.sampled_from([("timer",), ("timer",), ("deliver",), ("deliver",), ("drop",)]),
    st.tuples(st.sampled_from(["enable", "disable"]), st.integers(0, 1)),
    st.tuples(st.just("priority"), st.integers(0, 1), st.sampled_from([80, 100, 120])),
    st.tuples(
        st.just("inject"),
        st.integers(0, 1),
        st.sampled_from(list(OpCode)),
        st.sampled_from([P.SPEAK, P.STANDBY, P.ACTIVE, P.LISTEN]),
        st.sampled_from([50, 100, 200]),
        st.sampled_from([True, True, True, False]),
    ),
)


def _check_step(gp: GroupParams, before: GroupState, result: Step) -> None:
    after = result.state
    assert isinstance(after.phase, Phase)
    changes = [out for out in result.outputs if isinstance(out, PhaseChanged)]
    if changes:
        assert changes[0].old is before.phase
        assert changes[-1].new is after.phase
        for earlier, later in itertools.pairwise(changes):
            assert earlier.new is later.old
    else:
        assert after.phase is before.phase
    for msg in sends(result.outputs):
        assert msg.src_ip == gp.own_ip
        assert msg.auth == gp.auth
        if msg.op is OpCode.HELLO:
            # Hellos only from Speak/Standby/Active, carrying the phase after the step.
            assert hsrp.sends_hellos(after.phase)
            assert msg.state is after.phase
    garps = [out for out in result.outputs if isinstance(out, GratuitousArp)]
    entered_active = before.phase is not P.ACTIVE and after.phase is P.ACTIVE
    assert bool(garps) == entered_active
    assert len(garps) <= 1
    if after.phase is P.INITIAL:
        timers = (after.active_expiry, after.standby_expiry, after.hello_due, after.enable_due)
        assert timers == (None, None, None, None)
        assert next_deadline(after) is None


@given(
    first=group_params_for(IP_LOW, may_learn=True),
    second=group_params_for(IP_HIGH, may_learn=False),
    enabled=st.sampled_from([(True, True), (True, True), (True, False), (False, True)]),
    actions=st.lists(ACTIONS, min_size=5, max_size=60),
    jitter=st.tuples(st.integers(0, 249), st.integers(0, 249)),
)
def test_random_two_router_runs_keep_structural_properties(
    first: GroupParams,
    second: GroupParams,
    enabled: tuple[bool, bool],
    actions: list[tuple[object, ...]],
    jitter: tuple[int, int],
) -> None:
    group_params = (first, second)
    states = [initial(gp) for gp in group_params]
    in_flight: list[tuple[int, Message]] = []
    now = T0

    def apply(index: int, result: Step) -> None:
        _check_step(group_params[index], states[index], result)
        states[index] = result.state
        in_flight.extend((1 - index, msg) for msg in sends(result.outputs))

    for index, gp in enumerate(group_params):
        if enabled[index]:
            apply(index, step(gp, states[index], E.A_ENABLED, now=now, jitter_ms=jitter[index]))

    def fire_next_timer(until: int | None) -> bool:
        nonlocal now
        pending = [
            (deadline[0], index, deadline[1])
            for index, state in enumerate(states)
            if (deadline := next_deadline(state)) is not None
        ]
        if not pending:
            return False
        due, index, event = min(pending, key=lambda p: (p[0], p[1]))
        if until is not None and due > until:
            return False
        assert due >= now, "a timer deadline fell into the past"
        now = due
        jit = jitter[index] if event is E.E_HELLO_TIMER else 0
        gp = group_params[index]
        apply(index, step(gp, states[index], event, now=now, jitter_ms=jit))
        return True

    def deliver_one() -> None:
        to, msg = in_flight.pop(0)
        result, _ = receive(group_params[to], states[to], msg, now=now)
        apply(to, result)

    for action in actions:
        match action:
            case ("timer",):
                fire_next_timer(None)
            case ("deliver",) if in_flight:
                deliver_one()
            case ("advance", int(duration_ms)):
                # Run the segment normally (instant delivery) for a while.
                end = now + duration_ms
                for _ in range(10_000):
                    if in_flight:
                        deliver_one()
                    elif not fire_next_timer(end):
                        break
                now = end
            case ("drop",) if in_flight:
                in_flight.pop(0)
            case ("enable", int(index)):
                gp = group_params[index]
                apply(index, step(gp, states[index], E.A_ENABLED, now=now, jitter_ms=jitter[index]))
            case ("disable", int(index)):
                apply(index, step(group_params[index], states[index], E.B_DISABLED, now=now))
            case ("priority", int(index), int(priority)):
                states[index] = replace(states[index], priority=priority)
            case ("inject", int(index), OpCode() as op, Phase() as phase, int(prio), bool(ok)):
                forged = message(
                    op, phase, priority=prio, src_ip=IP_THIRD, auth=AUTH if ok else WRONG_AUTH
                )
                counted = states[index].unauthenticated
                result, event = receive(group_params[index], states[index], forged, now=now)
                if not ok:
                    assert event is None
                    assert result.state.unauthenticated == counted + 1
                apply(index, result)
            case _:
                pass
        for state in states:
            assert isinstance(state.phase, Phase)


def test_learned_virtual_ip_is_forgotten_when_disabled() -> None:
    """RFC 2281 §5.7 note (+): Learn or Listen depends on a *configured* virtual IP."""
    gp = replace(params(), virtual_ip=None)
    learn = step(gp, initial(gp), E.A_ENABLED, now=T0).state
    assert learn.phase is P.LEARN
    listen, event = receive(gp, learn, message(src_ip=IP_HIGH), now=T0 + 10)
    assert event is E.G_ACTIVE_HIGHER
    assert listen.state.virtual_ip is not None
    disabled = step(gp, listen.state, E.B_DISABLED, now=T0 + 20).state
    assert disabled.virtual_ip is None
    again = step(gp, disabled, E.A_ENABLED, now=T0 + 30).state
    assert again.phase is P.LEARN


def test_hello_without_virtual_ip_teaches_nothing_in_learn() -> None:
    """A router cannot leave Learn without a virtual IP (RFC 2281 §5.2)."""
    gp = replace(params(), virtual_ip=None)
    learn = step(gp, initial(gp), E.A_ENABLED, now=T0).state
    result, event = receive(gp, learn, replace(message(src_ip=IP_HIGH), virtual_ip=None), now=T0)
    assert event is None
    assert result.state.phase is P.LEARN


def test_a_step_names_the_cells_it_applied_with_or_without_a_phase_change() -> None:
    """``Step.cells``: what coverage counts. A Hello timer in Active changes nothing but is
    a cell (Active × e); a blank cell is none; entering Standby with no Active timer is two
    (Speak × d, then the GAP-1 rule)."""
    gp = params(IP_HIGH)
    active = in_phase(gp, P.ACTIVE)
    hello = step(gp, active, E.E_HELLO_TIMER, now=T0 + HELLO_MS)
    assert hello.cells == ("RFC 2281 §5.7: Active × e",)
    assert not any(isinstance(out, PhaseChanged) for out in hello.outputs)
    assert step(gp, active, E.D_STANDBY_TIMER, now=T0 + 1).cells == ()
    speak = in_phase(gp, P.SPEAK, standby_expiry=T0 + HOLD_MS)
    gap = step(gp, speak, E.D_STANDBY_TIMER, now=T0 + HOLD_MS)
    assert gap.cells == (
        "RFC 2281 §5.7: Speak × d",
        "GAP-1: Standby entered with no Active timer -> Standby × c",
    )
    assert gap.state.phase is P.ACTIVE


# ------------------------------------------- preempt delay reload and sync (PREEMPT)


def _preempting(*, minimum_ms: int = 0, reload_ms: int = 0, sync_ms: int = 0) -> GroupParams:
    """A group at the higher address, preempt on, with the given preempt delays."""
    return replace(
        params(IP_HIGH, preempt=True, preempt_delay_ms=minimum_ms),
        preempt_reload_ms=reload_ms,
        preempt_sync_ms=sync_ms,
    )


LOWER_ACTIVE = message(priority=100, src_ip=IP_LOW)
"""An Active Hello that event h classifies (same priority, lower address)."""


def _hear_lower(
    gp: GroupParams, state: GroupState, now: int, *, synchronised: bool = True
) -> GroupState:
    result, event = receive(gp, state, LOWER_ACTIVE, now=now, synchronised=synchronised)
    assert event is E.H_ACTIVE_LOWER
    return result.state


def test_reload_delay_applies_to_the_first_enable_then_minimum() -> None:
    gp = _preempting(minimum_ms=1_000, reload_ms=6_000)
    first = step(gp, initial(gp), E.A_ENABLED, now=T0).state
    assert first.enables == 1
    assert hsrp.preempt_delay(gp, first) == 6_000
    assert _hear_lower(gp, first, T0 + 1_000).phase is P.LISTEN  # minimum is not enough
    assert _hear_lower(gp, first, T0 + 5_999).phase is P.LISTEN
    assert _hear_lower(gp, first, T0 + 6_000).phase is P.ACTIVE
    # Disabled and enabled again (an interface flap): minimum from now on.
    off = step(gp, first, E.B_DISABLED, now=T0 + 100).state
    again = step(gp, off, E.A_ENABLED, now=T0 + 200).state
    assert again.enables == 2
    assert hsrp.preempt_delay(gp, again) == 1_000
    assert _hear_lower(gp, again, T0 + 1_199).phase is P.LISTEN
    assert _hear_lower(gp, again, T0 + 1_200).phase is P.ACTIVE


def test_reload_zero_leaves_minimum_in_force() -> None:
    gp = _preempting(minimum_ms=2_000)
    first = step(gp, initial(gp), E.A_ENABLED, now=T0).state
    assert hsrp.preempt_delay(gp, first) == 2_000
    assert _hear_lower(gp, first, T0 + 1_999).phase is P.LISTEN
    assert _hear_lower(gp, first, T0 + 2_000).phase is P.ACTIVE


def test_a_crash_forgets_the_enables() -> None:
    """``initial`` is a router that has just started: its next enable is the first."""
    gp = _preempting(minimum_ms=1_000, reload_ms=6_000)
    assert initial(gp).enables == 0
    assert hsrp.preempt_delay(gp, initial(gp)) == 6_000


def test_sync_waits_for_the_clients_then_preempts() -> None:
    gp = _preempting(minimum_ms=1_000, sync_ms=5_000)
    enabled = step(gp, initial(gp), E.A_ENABLED, now=T0).state
    early = _hear_lower(gp, enabled, T0 + 500, synchronised=False)
    assert (early.phase, early.sync_since) == (P.LISTEN, None)  # the delay first
    waiting = _hear_lower(gp, early, T0 + 1_000, synchronised=False)
    assert (waiting.phase, waiting.sync_since) == (P.LISTEN, T0 + 1_000)
    still = _hear_lower(gp, waiting, T0 + 3_000, synchronised=False)
    assert (still.phase, still.sync_since) == (P.LISTEN, T0 + 1_000)
    done = _hear_lower(gp, still, T0 + 3_500, synchronised=True)
    assert (done.phase, done.sync_since) == (P.ACTIVE, None)


def test_sync_gives_up_after_the_sync_time() -> None:
    gp = _preempting(sync_ms=5_000)
    enabled = step(gp, initial(gp), E.A_ENABLED, now=T0).state
    waiting = _hear_lower(gp, enabled, T0 + 100, synchronised=False)
    assert _hear_lower(gp, waiting, T0 + 5_099, synchronised=False).phase is P.LISTEN
    assert _hear_lower(gp, waiting, T0 + 5_100, synchronised=False).phase is P.ACTIVE


@pytest.mark.parametrize(("sync_ms", "synchronised"), [(0, False), (5_000, True)])
def test_no_sync_wait(sync_ms: int, synchronised: bool) -> None:
    gp = _preempting(sync_ms=sync_ms)
    enabled = step(gp, initial(gp), E.A_ENABLED, now=T0).state
    assert _hear_lower(gp, enabled, T0 + 1, synchronised=synchronised).phase is P.ACTIVE


def test_the_sync_wait_is_forgotten_on_disable_and_when_preempt_is_off() -> None:
    gp = _preempting(sync_ms=5_000)
    enabled = step(gp, initial(gp), E.A_ENABLED, now=T0).state
    waiting = _hear_lower(gp, enabled, T0 + 100, synchronised=False)
    assert waiting.sync_since == T0 + 100
    off = step(gp, waiting, E.B_DISABLED, now=T0 + 200).state
    assert off.sync_since is None
    waiting = _hear_lower(
        gp, step(gp, off, E.A_ENABLED, now=T0 + 300).state, T0 + 400, synchronised=False
    )
    assert waiting.sync_since == T0 + 400
    no_preempt = replace(gp, preempt=False)
    assert _hear_lower(no_preempt, waiting, T0 + 500, synchronised=False).sync_since is None


def test_the_system_says_when_ssp_is_in_step() -> None:
    """``system.in_step``: SSP is the named groups' client; in step once the ACTIVE other
    end's whole copy arrived; a resync puts the standby out of step until its answer."""
    cluster = cluster_params(*lockstep_configs())
    system = msys.boot(cluster)
    inside = GroupSide.INSIDE
    assert not msys.in_step(system, 0, inside)  # not connected yet
    system = msys.apply(system, operations.Advance(ms=30_000))
    active = next(i for i, r in enumerate(system.routers) if r.role.value == "ACTIVE")
    standby = 1 - active
    assert system.routers[standby].copy_whole
    assert msys.in_step(system, standby, inside)
    assert msys.in_step(system, active, inside)  # the other end is not ACTIVE
    system = msys.apply(system, operations.Resync(router=standby))
    assert not msys.in_step(system, standby, inside)
    system = msys.apply(system, operations.Advance(ms=100))
    assert msys.in_step(system, standby, inside)
    system = msys.apply(system, operations.SspCut())
    assert not msys.in_step(system, standby, inside)
    # A group the SSP group does not name has no client: always in step.
    unnamed = replace(
        system.routers[standby].params,
        redundancy=(system.routers[standby].params.inside.name,),
    )
    system.routers[standby].params = unnamed
    assert msys.in_step(system, standby, GroupSide.OUTSIDE)
    assert not msys.in_step(system, standby, inside)
