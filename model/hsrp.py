"""HSRP (RFC 2281, version 0 packet semantics) for one group on one router, as a pure step function.

Theory of operation
-------------------
A group is in one of six phases (RFC 2281 §5.3). Inputs are the twelve events of
RFC 2281 §5.5 (``a`` … ``l``); three of them are timer expiries (``c`` Active
timer, ``d`` Standby timer, ``e`` Hello timer), two are management (``a`` enable,
``b`` disable), seven are classified received messages. ``TABLE`` restates the
§5.7 transition table cell by cell: (phase, event) -> actions (§5.6 ``A`` … ``I``)
and next phase. Pairs the RFC leaves blank are listed in ``IGNORED``; a test
checks that every pair is in exactly one of the two.

Where the RFC table is silent or ambiguous we state a rule (protocols.md §1.8):

- GAP-1 (no active router at all): on entering Standby while the Active timer is
  not running, the router applies the Standby × c cell at once (C, D, F, I ->
  Active). Without it two routers that boot together would wait forever.
- TIMERS: actions A and B start the Active/Standby timer with the *locally
  configured* hold time. DEVIATION(RFC 2281 §5.4): the RFC uses the hold time
  carried in the Hello, but the product document requires identical timers on
  both routers and sub-second timers (``timers msec 500 3``) cannot be carried in
  the one-octet seconds fields of a version-0 packet, so Cisco does not learn them.
- MESSAGE STATE FIELD: Coup and Resign carry the sender's phase *before* the
  transition that sends them (so a Resign from the Active router says Active);
  Hellos carry the phase *after* it.
- PREEMPT: the ``preempt`` variants of the ``h`` cells apply only when preempt is
  configured and the group has been enabled for at least its preempt delay. That
  delay is ``preempt delay reload`` the first time the group is enabled after its
  router started, if reload is set (not 0), and ``preempt delay minimum`` otherwise
  (every later enable, e.g. after an interface came back). A group with ``preempt
  delay sync`` also waits for its IP redundancy clients (here: SSP's SA copies) to be
  in step with the other router, but never longer than the sync time. The caller
  says, at each message, whether they are (``synchronised``; a group without
  clients always is). The waiting begins at the first ``h`` that would otherwise
  preempt and is over once they are in step or the sync time has passed since it
  began; the group then preempts at the next ``h``, like after the delays. The
  waiting is forgotten when the group becomes Active or goes back to Initial, and
  when an ``h`` finds that preempt is off.
- AUTH: a message whose 8-octet authentication differs from ours is
  unauthenticated and produces no event (RFC 2281 §5.4: timers restart only on
  authenticated Hellos); the caller counts it.
- "Higher priority" compares (priority, interface address) lexicographically
  (RFC 2281 §5.1: equal priority -> the higher IP address wins).
- The Hello timer runs whenever the group is enabled and is re-armed
  ``hello_ms - jitter_ms`` after each expiry, the jitter drawn by the caller
  (RFC 2281 §5.4: Hellos MUST be jittered; never later than one hello time).

This module knows nothing about which router it runs on (h11 "Rule 2").
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Final

__all__ = [
    "IGNORED",
    "TABLE",
    "Action",
    "Cell",
    "Event",
    "GratuitousArp",
    "GroupParams",
    "GroupState",
    "Message",
    "OpCode",
    "Output",
    "Phase",
    "PhaseChanged",
    "Send",
    "Step",
    "classify",
    "initial",
    "next_deadline",
    "next_due",
    "preempt_delay",
    "receive",
    "sends_hellos",
    "step",
]


class Phase(enum.Enum):
    """HSRP group states, RFC 2281 §5.3."""

    # Members are singletons: hash by identity, in C (Enum's __hash__ is Python code).
    __hash__ = object.__hash__

    INITIAL = "Initial"
    LEARN = "Learn"
    LISTEN = "Listen"
    SPEAK = "Speak"
    STANDBY = "Standby"
    ACTIVE = "Active"


class OpCode(enum.Enum):
    """HSRP message kinds, RFC 2281 §5.1."""

    # Members are singletons: hash by identity, in C (Enum's __hash__ is Python code).
    __hash__ = object.__hash__

    HELLO = "Hello"
    COUP = "Coup"
    RESIGN = "Resign"


class Event(enum.Enum):
    """RFC 2281 §5.5 events a … l."""

    # Members are singletons: hash by identity, in C (Enum's __hash__ is Python code).
    __hash__ = object.__hash__

    A_ENABLED = "a"
    B_DISABLED = "b"
    C_ACTIVE_TIMER = "c"
    D_STANDBY_TIMER = "d"
    E_HELLO_TIMER = "e"
    F_SPEAK_HIGHER = "f"
    G_ACTIVE_HIGHER = "g"
    H_ACTIVE_LOWER = "h"
    I_RESIGN = "i"
    J_COUP_HIGHER = "j"
    K_STANDBY_HIGHER = "k"
    L_STANDBY_LOWER = "l"


class Action(enum.Enum):
    """RFC 2281 §5.6 actions A … I."""

    # Members are singletons: hash by identity, in C (Enum's __hash__ is Python code).
    __hash__ = object.__hash__

    A_START_ACTIVE_TIMER = "A"
    B_START_STANDBY_TIMER = "B"
    C_STOP_ACTIVE_TIMER = "C"
    D_STOP_STANDBY_TIMER = "D"
    E_LEARN = "E"
    F_SEND_HELLO = "F"
    G_SEND_COUP = "G"
    H_SEND_RESIGN = "H"
    I_GRATUITOUS_ARP = "I"


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupParams:
    """What one router is configured with for one group."""

    group: int
    """Group number, 0-255."""
    own_ip: int
    """This router's interface address (IPv4 as an integer); the tie-break key."""
    virtual_ip: int | None
    """Configured virtual IP (IPv4 as an integer), or None to learn it."""
    priority: int
    """Configured priority, 1-255 (default 100)."""
    preempt: bool
    """Whether ``standby N preempt`` is configured."""
    preempt_delay_ms: int
    """``preempt delay minimum``, milliseconds after enable before preempting."""
    hello_ms: int
    """Hello time, milliseconds."""
    hold_ms: int
    """Hold time, milliseconds (> hello_ms)."""
    auth: bytes
    """Eight-octet authentication data."""
    preempt_reload_ms: int = 0
    """``preempt delay reload``: the delay instead of minimum for the first enable after
    the router started, milliseconds; 0 = not set."""
    preempt_sync_ms: int = 0
    """``preempt delay sync``: the longest wait for the redundancy clients, milliseconds;
    0 = no wait."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """An HSRP message as the model sees it (no bytes)."""

    op: OpCode
    """Hello, Coup or Resign."""
    group: int
    """Group number, 0-255."""
    state: Phase
    """Sender's phase (see MESSAGE STATE FIELD above)."""
    priority: int
    """Sender's current priority, 0-255."""
    src_ip: int
    """Sender's interface address (IPv4 as an integer)."""
    virtual_ip: int | None
    """Virtual IP the sender knows, if any."""
    hello_ms: int
    """Sender's hello time, milliseconds."""
    hold_ms: int
    """Sender's hold time, milliseconds."""
    auth: bytes
    """Eight-octet authentication data."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupState:
    """The state of one group on one router. Deadlines are absolute ms or None (not running)."""

    phase: Phase
    """Current RFC 2281 state."""
    priority: int
    """Effective priority: configured minus tracking decrements, 0-255."""
    virtual_ip: int | None
    """Configured or learned virtual IP."""
    active_expiry: int | None
    """Active timer deadline, ms."""
    standby_expiry: int | None
    """Standby timer deadline, ms."""
    hello_due: int | None
    """Hello timer deadline, ms."""
    enable_due: int | None
    """Pending ``standby delay`` before event a, ms."""
    enabled_at: int | None
    """When event a last happened (for the preempt delay), ms."""
    active_ip: int | None
    """Address of the router believed Active (None: unknown or us)."""
    standby_ip: int | None
    """Address of the router believed Standby (None: unknown or us)."""
    unauthenticated: int
    """Messages ignored because their authentication differs."""
    enables: int = 0
    """How many times event a has started the group since the router started."""
    sync_since: int | None = None
    """When the group began waiting for its redundancy clients (``preempt delay sync``),
    ms; None when it is not waiting."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Send:
    """Output: transmit this message on the group's segment."""

    message: Message


@dataclass(frozen=True, slots=True, kw_only=True)
class GratuitousArp:
    """Output: broadcast a gratuitous ARP binding the virtual IP to the virtual MAC (action I)."""

    group: int
    virtual_ip: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseChanged:
    """Output: the group changed phase (for timelines and coverage)."""

    group: int
    old: Phase
    new: Phase
    event: Event
    cell: str


Output = Send | GratuitousArp | PhaseChanged


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """Result of one input: the next state and what to emit, in order."""

    state: GroupState
    outputs: tuple[Output, ...]
    cells: tuple[str, ...] = ()
    """Labels of the §5.7 cells applied, in order (none: a blank cell absorbed the event)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Cell:
    """One cell of RFC 2281 §5.7: actions, then the next phase (None: no change).

    ``preempt`` is the alternative cell the RFC gives for a preempt-configured
    router (the ``h`` column); ``no_vip`` the one for an unknown virtual IP (the
    ``a`` column).
    """

    actions: tuple[Action, ...]
    next_phase: Phase | None
    label: str
    preempt: Cell | None = None
    no_vip: Cell | None = None


_P = Phase
_E = Event
_A = Action


def _cell(label: str, actions: str, next_phase: Phase | None, **alternatives: Cell) -> Cell:
    return Cell(
        actions=tuple(Action(a) for a in actions),
        next_phase=next_phase,
        label=label,
        **alternatives,
    )


def _h_cell(phase: Phase) -> Cell:
    return _cell(
        f"RFC 2281 §5.7: {phase.value} × h (no preempt)",
        "A",
        None,
        preempt=_cell(f"RFC 2281 §5.7: {phase.value} × h (preempt)", "BGFI", _P.ACTIVE),
    )


TABLE: Final[Mapping[tuple[Phase, Event], Cell]] = {
    # Event a: HSRP configured on an enabled interface.
    (_P.INITIAL, _E.A_ENABLED): _cell(
        "RFC 2281 §5.7: Initial × a (vIP configured)",
        "AB",
        _P.LISTEN,
        no_vip=_cell("RFC 2281 §5.7: Initial × a (vIP unknown)", "AB", _P.LEARN),
    ),
    # Event b: HSRP or the interface disabled.
    (_P.LEARN, _E.B_DISABLED): _cell("RFC 2281 §5.7: Learn × b", "CD", _P.INITIAL),
    (_P.LISTEN, _E.B_DISABLED): _cell("RFC 2281 §5.7: Listen × b", "CD", _P.INITIAL),
    (_P.SPEAK, _E.B_DISABLED): _cell("RFC 2281 §5.7: Speak × b", "CD", _P.INITIAL),
    (_P.STANDBY, _E.B_DISABLED): _cell("RFC 2281 §5.7: Standby × b", "CD", _P.INITIAL),
    (_P.ACTIVE, _E.B_DISABLED): _cell("RFC 2281 §5.7: Active × b", "CDH", _P.INITIAL),
    # Event c: Active timer expiry.
    (_P.LISTEN, _E.C_ACTIVE_TIMER): _cell("RFC 2281 §5.7: Listen × c", "AB", _P.SPEAK),
    (_P.STANDBY, _E.C_ACTIVE_TIMER): _cell("RFC 2281 §5.7: Standby × c", "CDFI", _P.ACTIVE),
    # Event d: Standby timer expiry.
    (_P.LISTEN, _E.D_STANDBY_TIMER): _cell("RFC 2281 §5.7: Listen × d", "B", _P.SPEAK),
    (_P.SPEAK, _E.D_STANDBY_TIMER): _cell("RFC 2281 §5.7: Speak × d", "D", _P.STANDBY),
    # Event e: Hello timer expiry.
    (_P.SPEAK, _E.E_HELLO_TIMER): _cell("RFC 2281 §5.7: Speak × e", "F", None),
    (_P.STANDBY, _E.E_HELLO_TIMER): _cell("RFC 2281 §5.7: Standby × e", "F", None),
    (_P.ACTIVE, _E.E_HELLO_TIMER): _cell("RFC 2281 §5.7: Active × e", "F", None),
    # Event f: Hello of higher priority from a router in Speak.
    (_P.SPEAK, _E.F_SPEAK_HIGHER): _cell("RFC 2281 §5.7: Speak × f", "B", _P.LISTEN),
    (_P.STANDBY, _E.F_SPEAK_HIGHER): _cell("RFC 2281 §5.7: Standby × f", "B", _P.LISTEN),
    # Event g: Hello of higher priority from the Active router.
    (_P.LEARN, _E.G_ACTIVE_HIGHER): _cell("RFC 2281 §5.7: Learn × g", "EAB", _P.LISTEN),
    (_P.LISTEN, _E.G_ACTIVE_HIGHER): _cell("RFC 2281 §5.7: Listen × g", "EA", None),
    (_P.SPEAK, _E.G_ACTIVE_HIGHER): _cell("RFC 2281 §5.7: Speak × g", "EA", None),
    (_P.STANDBY, _E.G_ACTIVE_HIGHER): _cell("RFC 2281 §5.7: Standby × g", "EA", None),
    (_P.ACTIVE, _E.G_ACTIVE_HIGHER): _cell("RFC 2281 §5.7: Active × g", "AB", _P.SPEAK),
    # Event h: Hello of lower priority from the Active router.
    (_P.LEARN, _E.H_ACTIVE_LOWER): _cell("RFC 2281 §5.7: Learn × h", "EAB", _P.LISTEN),
    (_P.LISTEN, _E.H_ACTIVE_LOWER): _h_cell(_P.LISTEN),
    (_P.SPEAK, _E.H_ACTIVE_LOWER): _h_cell(_P.SPEAK),
    (_P.STANDBY, _E.H_ACTIVE_LOWER): _h_cell(_P.STANDBY),
    (_P.ACTIVE, _E.H_ACTIVE_LOWER): _cell("RFC 2281 §5.7: Active × h", "G", None),
    # Event i: Resign from the Active router.
    (_P.LISTEN, _E.I_RESIGN): _cell("RFC 2281 §5.7: Listen × i", "AB", _P.SPEAK),
    (_P.SPEAK, _E.I_RESIGN): _cell("RFC 2281 §5.7: Speak × i", "A", None),
    (_P.STANDBY, _E.I_RESIGN): _cell("RFC 2281 §5.7: Standby × i", "CFI", _P.ACTIVE),
    # Event j: Coup from a higher-priority router.
    (_P.ACTIVE, _E.J_COUP_HIGHER): _cell("RFC 2281 §5.7: Active × j", "ABH", _P.SPEAK),
    # Event k: Hello of higher priority from the Standby router.
    (_P.LISTEN, _E.K_STANDBY_HIGHER): _cell("RFC 2281 §5.7: Listen × k", "B", None),
    (_P.SPEAK, _E.K_STANDBY_HIGHER): _cell("RFC 2281 §5.7: Speak × k", "B", _P.LISTEN),
    (_P.STANDBY, _E.K_STANDBY_HIGHER): _cell("RFC 2281 §5.7: Standby × k", "B", _P.LISTEN),
    (_P.ACTIVE, _E.K_STANDBY_HIGHER): _cell("RFC 2281 §5.7: Active × k", "B", None),
    # Event l: Hello of lower priority from the Standby router.
    (_P.LISTEN, _E.L_STANDBY_LOWER): _cell("RFC 2281 §5.7: Listen × l", "B", _P.SPEAK),
    (_P.SPEAK, _E.L_STANDBY_LOWER): _cell("RFC 2281 §5.7: Speak × l", "D", _P.STANDBY),
    (_P.ACTIVE, _E.L_STANDBY_LOWER): _cell("RFC 2281 §5.7: Active × l", "B", None),
}

# Blank cells of RFC 2281 §5.7: the event is absorbed with no action.
IGNORED: Final[frozenset[tuple[Phase, Event]]] = frozenset(
    {
        (_P.LEARN, _E.A_ENABLED),
        (_P.LISTEN, _E.A_ENABLED),
        (_P.SPEAK, _E.A_ENABLED),
        (_P.STANDBY, _E.A_ENABLED),
        (_P.ACTIVE, _E.A_ENABLED),
        (_P.INITIAL, _E.B_DISABLED),
        (_P.INITIAL, _E.C_ACTIVE_TIMER),
        (_P.LEARN, _E.C_ACTIVE_TIMER),
        (_P.SPEAK, _E.C_ACTIVE_TIMER),
        (_P.ACTIVE, _E.C_ACTIVE_TIMER),
        (_P.INITIAL, _E.D_STANDBY_TIMER),
        (_P.LEARN, _E.D_STANDBY_TIMER),
        (_P.STANDBY, _E.D_STANDBY_TIMER),
        (_P.ACTIVE, _E.D_STANDBY_TIMER),
        (_P.INITIAL, _E.E_HELLO_TIMER),
        (_P.LEARN, _E.E_HELLO_TIMER),
        (_P.LISTEN, _E.E_HELLO_TIMER),
        (_P.INITIAL, _E.F_SPEAK_HIGHER),
        (_P.LEARN, _E.F_SPEAK_HIGHER),
        (_P.LISTEN, _E.F_SPEAK_HIGHER),
        (_P.ACTIVE, _E.F_SPEAK_HIGHER),
        (_P.INITIAL, _E.G_ACTIVE_HIGHER),
        (_P.INITIAL, _E.H_ACTIVE_LOWER),
        (_P.INITIAL, _E.I_RESIGN),
        (_P.LEARN, _E.I_RESIGN),
        (_P.ACTIVE, _E.I_RESIGN),
        (_P.INITIAL, _E.J_COUP_HIGHER),
        (_P.LEARN, _E.J_COUP_HIGHER),
        (_P.LISTEN, _E.J_COUP_HIGHER),
        (_P.SPEAK, _E.J_COUP_HIGHER),
        (_P.STANDBY, _E.J_COUP_HIGHER),
        (_P.INITIAL, _E.K_STANDBY_HIGHER),
        (_P.LEARN, _E.K_STANDBY_HIGHER),
        (_P.INITIAL, _E.L_STANDBY_LOWER),
        (_P.LEARN, _E.L_STANDBY_LOWER),
        (_P.STANDBY, _E.L_STANDBY_LOWER),
    }
)

_SENDING_PHASES: Final = frozenset({_P.SPEAK, _P.STANDBY, _P.ACTIVE})
_GAP_1: Final = _cell(
    "GAP-1: Standby entered with no Active timer -> Standby × c", "CDFI", _P.ACTIVE
)


_STATE_FIELDS: Final = tuple(field.name for field in fields(GroupState))
_STATE_VALUES: Final = attrgetter(*_STATE_FIELDS)


def _evolve(state: GroupState, **changes: object) -> GroupState:
    """``dataclasses.replace(state, **changes)``, with the field names read once rather
    than at every step (a group steps at every hello sent or received)."""
    values = dict(zip(_STATE_FIELDS, _STATE_VALUES(state), strict=True))
    values.update(changes)
    return GroupState(**values)


def initial(params: GroupParams, *, priority: int | None = None) -> GroupState:
    """A group that has not been enabled yet (Initial, no timers)."""
    return GroupState(
        phase=_P.INITIAL,
        priority=params.priority if priority is None else priority,
        virtual_ip=params.virtual_ip,
        active_expiry=None,
        standby_expiry=None,
        hello_due=None,
        enable_due=None,
        enabled_at=None,
        active_ip=None,
        standby_ip=None,
        unauthenticated=0,
    )


def _outranks(priority: int, ip: int, than_priority: int, than_ip: int) -> bool:
    """RFC 2281 §5.1: higher priority wins; equal priority -> higher IP address."""
    return (priority, ip) > (than_priority, than_ip)


def classify(params: GroupParams, state: GroupState, message: Message) -> Event | None:
    """The RFC 2281 §5.5 event a received message is, or None if it is none of f … l."""
    if message.group != params.group or message.src_ip == params.own_ip:
        return None
    if state.virtual_ip is None and message.virtual_ip is None:
        # Nothing to learn from: a router cannot leave Learn without the virtual IP
        # (RFC 2281 §5.2, "a router cannot enter Speak without it").
        return None
    if message.auth != params.auth:
        return None
    higher = _outranks(message.priority, message.src_ip, state.priority, params.own_ip)
    lower = _outranks(state.priority, params.own_ip, message.priority, message.src_ip)
    if message.op is OpCode.RESIGN:
        return _E.I_RESIGN if message.state is _P.ACTIVE else None
    if message.op is OpCode.COUP:
        return _E.J_COUP_HIGHER if higher else None
    if message.state is _P.SPEAK:
        return _E.F_SPEAK_HIGHER if higher else None
    if message.state is _P.ACTIVE:
        return _E.G_ACTIVE_HIGHER if higher else (_E.H_ACTIVE_LOWER if lower else None)
    if message.state is _P.STANDBY:
        return _E.K_STANDBY_HIGHER if higher else (_E.L_STANDBY_LOWER if lower else None)
    return None


def _message(params: GroupParams, state: GroupState, op: OpCode, phase: Phase) -> Message:
    return Message(
        op=op,
        group=params.group,
        state=phase,
        priority=state.priority,
        src_ip=params.own_ip,
        virtual_ip=state.virtual_ip,
        hello_ms=params.hello_ms,
        hold_ms=params.hold_ms,
        auth=params.auth,
    )


def _apply(
    params: GroupParams,
    state: GroupState,
    event: Event,
    cell: Cell,
    *,
    now: int,
    message: Message | None,
) -> Step:
    old_phase = state.phase
    new_phase = cell.next_phase or old_phase
    outputs: list[Output] = []
    timers: dict[str, int | None] = {}
    for action in cell.actions:
        match action:
            case _A.A_START_ACTIVE_TIMER:
                timers["active_expiry"] = now + params.hold_ms
            case _A.B_START_STANDBY_TIMER:
                timers["standby_expiry"] = now + params.hold_ms
            case _A.C_STOP_ACTIVE_TIMER:
                timers["active_expiry"] = None
            case _A.D_STOP_STANDBY_TIMER:
                timers["standby_expiry"] = None
            case _A.E_LEARN:
                if params.virtual_ip is None and message is not None:
                    state = _evolve(state, virtual_ip=message.virtual_ip)
            case _A.F_SEND_HELLO:
                outputs.append(Send(message=_message(params, state, OpCode.HELLO, new_phase)))
            case _A.G_SEND_COUP:
                outputs.append(Send(message=_message(params, state, OpCode.COUP, old_phase)))
            case _A.H_SEND_RESIGN:
                outputs.append(Send(message=_message(params, state, OpCode.RESIGN, old_phase)))
            case _A.I_GRATUITOUS_ARP:
                outputs.append(GratuitousArp(group=params.group, virtual_ip=state.virtual_ip))
    changes: dict[str, object] = dict(timers)
    if new_phase is not old_phase:
        changes["phase"] = new_phase
        outputs.append(
            PhaseChanged(
                group=params.group, old=old_phase, new=new_phase, event=event, cell=cell.label
            )
        )
        if new_phase is _P.ACTIVE:
            changes["active_ip"] = None
        if new_phase in (_P.ACTIVE, _P.INITIAL):
            changes["sync_since"] = None  # PREEMPT: the waiting ends with the election
        if new_phase is _P.STANDBY:
            changes["standby_ip"] = None
    if changes:
        state = _evolve(state, **changes)
    return Step(state=state, outputs=tuple(outputs), cells=(cell.label,))


def preempt_delay(params: GroupParams, state: GroupState) -> int:
    """The delay before preempting, ms: reload on the first enable since the router
    started (when set), minimum otherwise (PREEMPT)."""
    if state.enables <= 1 and params.preempt_reload_ms > 0:
        return params.preempt_reload_ms
    return params.preempt_delay_ms


def _select(
    params: GroupParams, state: GroupState, cell: Cell, *, now: int, synchronised: bool
) -> tuple[Cell, GroupState]:
    """The cell that applies, and the state with the waiting for the clients noted."""
    if cell.no_vip is not None and state.virtual_ip is None:
        return cell.no_vip, state
    if cell.preempt is None:
        return cell, state
    enabled_at = state.enabled_at if state.enabled_at is not None else now
    if not params.preempt or now < enabled_at + preempt_delay(params, state):
        return cell, _waiting(state, None)
    if params.preempt_sync_ms == 0 or synchronised:
        return cell.preempt, _waiting(state, None)
    since = now if state.sync_since is None else state.sync_since
    if now >= since + params.preempt_sync_ms:
        return cell.preempt, _waiting(state, None)
    return cell, _waiting(state, since)


def _waiting(state: GroupState, since: int | None) -> GroupState:
    return state if state.sync_since == since else _evolve(state, sync_since=since)


def _remember_peers(params: GroupParams, state: GroupState, message: Message | None) -> GroupState:
    """Track who is Active/Standby for ``show standby`` (not part of the RFC table)."""
    if message is None or classify(params, state, message) is None:
        return state
    active_ip: int | None
    standby_ip: int | None
    if message.op is OpCode.HELLO and message.state is _P.ACTIVE:
        active_ip, standby_ip = message.src_ip, state.standby_ip
    elif message.op is OpCode.HELLO and message.state is _P.STANDBY:
        active_ip, standby_ip = state.active_ip, message.src_ip
    elif message.op is OpCode.RESIGN:
        active_ip, standby_ip = None, state.standby_ip
    else:
        return state
    if (active_ip, standby_ip) == (state.active_ip, state.standby_ip):
        return state  # nothing new (every Hello of a steady exchange)
    return _evolve(state, active_ip=active_ip, standby_ip=standby_ip)


def _fire(
    params: GroupParams,
    state: GroupState,
    event: Event,
    *,
    now: int,
    message: Message | None,
    synchronised: bool,
) -> Step:
    key = (state.phase, event)
    if key in IGNORED:
        return Step(state=state, outputs=())
    cell, state = _select(params, state, TABLE[key], now=now, synchronised=synchronised)
    result = _apply(params, state, event, cell, now=now, message=message)
    entered_standby = state.phase is not _P.STANDBY and result.state.phase is _P.STANDBY
    if entered_standby and result.state.active_expiry is None:
        gap = _apply(params, result.state, event, _GAP_1, now=now, message=None)
        return Step(
            state=gap.state, outputs=result.outputs + gap.outputs, cells=result.cells + gap.cells
        )
    return result


def step(
    params: GroupParams,
    state: GroupState,
    event: Event,
    *,
    now: int,
    message: Message | None = None,
    jitter_ms: int = 0,
    synchronised: bool = True,
) -> Step:
    """Apply one RFC 2281 event at time ``now`` (ms).

    Timer events clear the timer that fired; ``e`` re-arms the Hello timer
    ``hello_ms - jitter_ms`` later. Event ``a`` starts the Hello timer, ``b``
    stops it. ``synchronised``: whether the group's redundancy clients are in step
    with the other router (``preempt delay sync``; True for a group without any).
    """
    if not 0 <= jitter_ms < params.hello_ms:
        msg = f"jitter_ms {jitter_ms} out of range 0-{params.hello_ms - 1}"
        raise ValueError(msg)
    match event:
        case _E.A_ENABLED:
            if state.phase is not _P.INITIAL:
                return Step(state=_evolve(state, enable_due=None), outputs=())
            state = _evolve(
                state,
                enable_due=None,
                enabled_at=now,
                enables=state.enables + 1,
                hello_due=now + params.hello_ms - jitter_ms,
            )
        case _E.B_DISABLED:
            # A learned virtual IP is forgotten: RFC 2281 §5.7 note (+) decides Learn or
            # Listen on the next enable by whether one is *configured*.
            state = _evolve(
                state,
                hello_due=None,
                enable_due=None,
                active_ip=None,
                standby_ip=None,
                virtual_ip=params.virtual_ip,
            )
        case _E.C_ACTIVE_TIMER:
            state = _evolve(state, active_expiry=None, active_ip=None)
        case _E.D_STANDBY_TIMER:
            state = _evolve(state, standby_expiry=None, standby_ip=None)
        case _E.E_HELLO_TIMER:
            # The Hello timer runs only while the group is enabled (not in Initial).
            due = None if state.phase is _P.INITIAL else now + params.hello_ms - jitter_ms
            state = _evolve(state, hello_due=due)
        case _:
            state = _remember_peers(params, state, message)
    return _fire(params, state, event, now=now, message=message, synchronised=synchronised)


def receive(
    params: GroupParams,
    state: GroupState,
    message: Message,
    *,
    now: int,
    synchronised: bool = True,
) -> tuple[Step, Event | None]:
    """Classify and apply a received message; unauthenticated ones are counted and dropped.

    ``synchronised`` as for ``step``."""
    if message.group == params.group and message.auth != params.auth:
        counted = _evolve(state, unauthenticated=state.unauthenticated + 1)
        return Step(state=counted, outputs=()), None
    event = classify(params, state, message)
    if event is None or state.phase is _P.INITIAL:
        return Step(state=state, outputs=()), event
    return step(params, state, event, now=now, message=message, synchronised=synchronised), event


def next_deadline(state: GroupState) -> tuple[int, Event] | None:
    """The earliest pending timer as (deadline ms, event), ties in the order a, c, d, e."""
    best: tuple[int, Event] | None = None
    # Strict "<" keeps the earlier entry on ties, which gives the a, c, d, e order.
    for due, event in (
        (state.enable_due, _E.A_ENABLED),
        (state.active_expiry, _E.C_ACTIVE_TIMER),
        (state.standby_expiry, _E.D_STANDBY_TIMER),
        (state.hello_due, _E.E_HELLO_TIMER),
    ):
        if due is not None and (best is None or due < best[0]):
            best = (due, event)
    return best


def next_due(state: GroupState) -> int | None:
    """When the earliest pending timer expires, ms (``next_deadline`` without the event)."""
    earliest: int | None = None
    for due in (state.enable_due, state.active_expiry, state.standby_expiry, state.hello_due):
        if due is not None and (earliest is None or due < earliest):
            earliest = due
    return earliest


def sends_hellos(phase: Phase) -> bool:
    """Only Speak, Standby and Active send Hellos (RFC 2281 §5.4; protocols.md §1.8 item 4)."""
    return phase in _SENDING_PHASES
