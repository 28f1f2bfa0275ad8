"""impl/hsrp/core: the sans-IO speaker against RFC 2281 §5.7 and the project's rules.

The expected §5.7 table is written below again as data (protocols.md §1.8), so a
reviewer can hold it against the RFC one row at a time. Every cell is exercised
through the public surface only: the speaker is driven into the state by real
messages and timer expiries, then the cell's event is delivered the same way and
its effects (state, datagrams, gratuitous ARP, timers, learning) are compared with
what the expected actions say.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vpnha.impl.config import InterfaceConfig, StandbyGroup, Track, parse_config
from vpnha.impl.entropy import Entropy, SeededEntropy
from vpnha.impl.errors import LocalProtocolError
from vpnha.impl.hsrp import (
    DEFAULT_AUTHENTICATION,
    DropReason,
    GratuitousArpNeeded,
    HsrpEvent,
    HsrpGroup,
    HsrpGroupConfig,
    HsrpPacket,
    HsrpState,
    MessageDropped,
    OpCode,
    PriorityChanged,
    StateChanged,
    TrackedInterface,
    decode,
    encode,
    virtual_mac,
)
from vpnha.impl.hsrp.core import BLANK_CELLS, TRANSITIONS, RfcEvent, TransitionCell

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

INITIAL, LEARN, LISTEN, SPEAK, STANDBY, ACTIVE = (
    HsrpState.INITIAL,
    HsrpState.LEARN,
    HsrpState.LISTEN,
    HsrpState.SPEAK,
    HsrpState.STANDBY,
    HsrpState.ACTIVE,
)
HELLO_MS = 3000
HOLD_MS = 10_000
T0 = 1000
ME = IPv4Address("10.0.0.2")
HIGH = IPv4Address("10.0.0.3")  # same priority, higher address: higher
LOW = IPv4Address("10.0.0.1")  # same priority, lower address: lower
VIP = IPv4Address("10.0.0.254")

# ---------------------------------------------------------------------------------------
# RFC 2281 §5.7, restated (protocols.md §1.8): (event, state, variant) -> actions, next.
# Variants: the two conditional cells (note + for a, note * for h); "" elsewhere.
# ---------------------------------------------------------------------------------------
EXPECTED: dict[tuple[str, HsrpState, str], tuple[str, HsrpState | None]] = {
    ("a", INITIAL, "vip configured"): ("A B", LISTEN),
    ("a", INITIAL, "vip not configured"): ("A B", LEARN),
    ("b", LEARN, ""): ("C D", INITIAL),
    ("b", LISTEN, ""): ("C D", INITIAL),
    ("b", SPEAK, ""): ("C D", INITIAL),
    ("b", STANDBY, ""): ("C D", INITIAL),
    ("b", ACTIVE, ""): ("C D H", INITIAL),
    ("c", LISTEN, ""): ("A B", SPEAK),
    ("c", STANDBY, ""): ("C D F I", ACTIVE),
    ("d", LISTEN, ""): ("B", SPEAK),
    ("d", SPEAK, ""): ("D", STANDBY),
    ("e", SPEAK, ""): ("F", None),
    ("e", STANDBY, ""): ("F", None),
    ("e", ACTIVE, ""): ("F", None),
    ("f", SPEAK, ""): ("B", LISTEN),
    ("f", STANDBY, ""): ("B", LISTEN),
    ("g", LEARN, ""): ("E A B", LISTEN),
    ("g", LISTEN, ""): ("E A", None),
    ("g", SPEAK, ""): ("E A", None),
    ("g", STANDBY, ""): ("E A", None),
    ("g", ACTIVE, ""): ("A B", SPEAK),
    ("h", LEARN, ""): ("E A B", LISTEN),
    ("h", LISTEN, "preempt"): ("B G F I", ACTIVE),
    ("h", LISTEN, "no preempt"): ("A", None),
    ("h", SPEAK, "preempt"): ("B G F I", ACTIVE),
    ("h", SPEAK, "no preempt"): ("A", None),
    ("h", STANDBY, "preempt"): ("B G F I", ACTIVE),
    ("h", STANDBY, "no preempt"): ("A", None),
    ("h", ACTIVE, ""): ("G", None),
    ("i", LISTEN, ""): ("A B", SPEAK),
    ("i", SPEAK, ""): ("A", None),
    ("i", STANDBY, ""): ("C F I", ACTIVE),
    ("j", ACTIVE, ""): ("A B H", SPEAK),
    ("k", LISTEN, ""): ("B", None),
    ("k", SPEAK, ""): ("B", LISTEN),
    ("k", STANDBY, ""): ("B", LISTEN),
    ("k", ACTIVE, ""): ("B", None),
    ("l", LISTEN, ""): ("B", SPEAK),
    ("l", SPEAK, ""): ("D", STANDBY),
    ("l", ACTIVE, ""): ("B", None),
}
NON_BLANK = {(event, state) for event, state, _ in EXPECTED}
BLANK = [
    (event, state)
    for event in "abcdefghijkl"
    for state in HsrpState
    if (event, state) not in NON_BLANK
]

# The message that is event f-l for a speaker at ME with priority 100.
MESSAGES: dict[str, tuple[OpCode, HsrpState, IPv4Address]] = {
    "f": (OpCode.HELLO, SPEAK, HIGH),
    "g": (OpCode.HELLO, ACTIVE, HIGH),
    "h": (OpCode.HELLO, ACTIVE, LOW),
    "i": (OpCode.RESIGN, ACTIVE, HIGH),
    "j": (OpCode.COUP, SPEAK, HIGH),
    "k": (OpCode.HELLO, STANDBY, HIGH),
    "l": (OpCode.HELLO, STANDBY, LOW),
}
TIMER_EVENTS = {"c": "active_ms", "d": "standby_ms", "e": "hello_ms"}


class ScriptedEntropy:
    """Entropy whose ``randbelow`` answers are chosen by the test (and recorded)."""

    def __init__(self, answers: Iterator[int]) -> None:
        self.answers = answers
        self.bounds: list[int] = []

    def token_bytes(self, n: int) -> bytes:
        return bytes(n)

    def randbelow(self, n: int) -> int:
        self.bounds.append(n)
        return next(self.answers) % n


def forever(value: int) -> Iterator[int]:
    while True:
        yield value


def message(
    op_code: OpCode,
    state: HsrpState,
    *,
    priority: int = 100,
    group: int = 1,
    authentication: bytes = DEFAULT_AUTHENTICATION,
    virtual_ip: IPv4Address | None = VIP,
    hold_time_s: int = 10,
) -> bytes:
    return encode(
        HsrpPacket(
            op_code=op_code,
            state=state,
            hello_time_s=3,
            hold_time_s=hold_time_s,
            priority=priority,
            group=group,
            authentication=authentication,
            virtual_ip=virtual_ip,
        )
    )


@dataclass
class Lab:
    """One speaker at ME, its clock, and what it said since the last ``drain``."""

    vip: bool = True
    preempt: bool = False
    preempt_delay_ms: int = 0
    entropy: Entropy | None = None
    tracks: tuple[TrackedInterface, ...] = ()
    now: int = T0
    group: HsrpGroup = field(init=False)

    def __post_init__(self) -> None:
        config = HsrpGroupConfig(
            group=1,
            address=ME,
            virtual_ip=VIP if self.vip else None,
            priority=100,
            preempt=self.preempt,
            preempt_delay_minimum_ms=self.preempt_delay_ms,
            hello_ms=HELLO_MS,
            hold_ms=HOLD_MS,
            tracks=self.tracks,
        )
        entropy = self.entropy if self.entropy is not None else SeededEntropy(7)
        self.group = HsrpGroup(config, entropy)

    def advance(self, until: int) -> None:
        """Fire every deadline before ``until``, then set the clock to ``until``."""
        while (deadline := self.group.get_timer()) is not None and deadline < until:
            self.group.handle_timer(deadline)
        self.now = until

    def hear(self, data: bytes, src: IPv4Address) -> None:
        self.group.receive_datagram(data, src, self.now)

    def hear_event(self, letter: str) -> None:
        op_code, state, src = MESSAGES[letter]
        self.hear(message(op_code, state), src)

    def drain(self) -> tuple[list[HsrpPacket], list[HsrpEvent]]:
        sent = [decode(d) for d in self.group.datagrams_to_send(self.now)]
        events = []
        while (event := self.group.next_event()) is not None:
            events.append(event)
        return sent, events


def reach(state: HsrpState, *, variant: str = "", running: str | None = None) -> Lab:
    """A speaker in ``state``; ``running`` names the A/B timer that must expire first."""
    lab = Lab(
        vip=not (state is LEARN or variant == "vip not configured"),
        # The only way into Active with both timers running is preempting (h).
        preempt=variant == "preempt" or state is ACTIVE,
    )
    if state is INITIAL:
        pass
    elif state is LEARN:
        lab.group.enable(T0)  # A = B = T0 + hold: they always expire together in Learn
    elif state is LISTEN:
        lab.group.enable(T0)
        if running is not None:
            lab.advance(T0 + 500)
            lab.hear_event("k" if running == "active_ms" else "g")  # restart B, or A
    elif state is SPEAK:
        # Listen with B earlier than A, then d in Listen: B -> Speak.
        lab.group.enable(T0)
        lab.advance(T0 + 500)
        lab.hear_event("g")
        lab.advance(T0 + HOLD_MS + 1)
        if running == "standby_ms":
            lab.advance(lab.now + 200)
            lab.hear_event("g")  # A now later than B
    elif state is STANDBY:
        lab = reach(SPEAK, variant=variant, running="standby_ms")
        deadline = lab.group.timers.standby_ms
        assert deadline is not None
        lab.advance(deadline + 1)  # d in Speak with the Active timer running
    else:
        lab.group.enable(T0)
        lab.advance(T0 + 500)
        lab.hear_event("h")  # preempt: Listen -> Active, A still running, B restarted
        if running == "standby_ms":
            deadline = lab.group.timers.active_ms
            assert deadline is not None
            lab.advance(deadline + 1)  # c in Active is blank: A simply expires
    lab.drain()
    assert lab.group.state is state
    return lab


@dataclass(frozen=True)
class Snapshot:
    state: HsrpState
    active_ms: int | None
    standby_ms: int | None
    virtual_ip: IPv4Address | None

    @classmethod
    def of(cls, group: HsrpGroup) -> Snapshot:
        timers = group.timers
        return cls(group.state, timers.active_ms, timers.standby_ms, group.virtual_ip)


def trigger(lab: Lab, letter: str) -> Snapshot | None:
    """Deliver event ``letter``; the snapshot just before, or None if it cannot occur."""
    if letter == "a":
        before = Snapshot.of(lab.group)
        lab.group.enable(lab.now)
        return before
    if letter == "b":
        before = Snapshot.of(lab.group)
        lab.group.disable(lab.now)
        return before
    if letter in TIMER_EVENTS:
        deadline = getattr(lab.group.timers, TIMER_EVENTS[letter])
        if deadline is None:
            return None
        lab.advance(deadline)
        lab.drain()
        if lab.group.state is not LEARN:  # in Learn A and B run together; c, d, e are blank
            others = [getattr(lab.group.timers, n) for n in TIMER_EVENTS.values()]
            assert others.count(deadline) == 1, "two timers at one instant: change the seed"
        before = Snapshot.of(lab.group)
        lab.group.handle_timer(deadline)
        return before
    lab.advance(lab.now + 100)
    lab.drain()
    before = Snapshot.of(lab.group)
    lab.hear_event(letter)
    return before


def expected_deadline(before: int | None, *, start: bool, stop: bool, now: int) -> int | None:
    if start:
        return now + HOLD_MS
    if stop or (before is not None and before <= now):
        return None  # stopped, or expired and not restarted
    return before


def check_cell(
    lab: Lab, letter: str, before: Snapshot, actions: str, next_state: HsrpState | None
) -> None:
    letters = set(actions.split())
    new_state = next_state if next_state is not None else before.state
    sent, events = lab.drain()
    after = Snapshot.of(lab.group)
    assert after.state is new_state

    expected_sent = []
    if "G" in letters:
        expected_sent.append((OpCode.COUP, before.state))  # rule 4: state before
    if "H" in letters:
        expected_sent.append((OpCode.RESIGN, before.state))
    if "F" in letters:
        expected_sent.append((OpCode.HELLO, new_state))  # rule 4: state after
    assert [(p.op_code, p.state) for p in sent] == expected_sent
    for packet in sent:
        assert (packet.group, packet.priority, packet.virtual_ip) == (1, 100, VIP)
        assert (packet.hello_time_s, packet.hold_time_s) == (3, 10)

    changes = [e for e in events if isinstance(e, StateChanged)]
    if new_state is before.state:
        assert changes == []
    else:
        assert [(c.old_state, c.new_state, c.event.value) for c in changes] == [
            (before.state, new_state, letter)
        ]
        assert f"event {letter} in {before.state.name.title()}" in changes[0].cell
    arps = [e for e in events if isinstance(e, GratuitousArpNeeded)]
    if "I" in letters:
        assert arps == [GratuitousArpNeeded(at_ms=lab.now, virtual_ip=VIP, virtual_mac=ARP_MAC)]
    else:
        assert arps == []
    assert not [e for e in events if isinstance(e, MessageDropped)]

    assert after.active_ms == expected_deadline(
        before.active_ms, start="A" in letters, stop="C" in letters, now=lab.now
    )
    assert after.standby_ms == expected_deadline(
        before.standby_ms, start="B" in letters, stop="D" in letters, now=lab.now
    )
    if "E" in letters:
        assert after.virtual_ip == VIP
    elif before.virtual_ip is None:
        assert after.virtual_ip is None
    if new_state is INITIAL:
        assert lab.group.get_timer() is None


ARP_MAC = bytes.fromhex("00000c07ac01")


# -- the table -------------------------------------------------------------------------


def test_implementation_table_is_total_and_matches_the_rfc() -> None:
    pairs = {(state, event) for state in HsrpState for event in RfcEvent}
    assert TRANSITIONS.keys() | BLANK_CELLS == pairs
    assert not TRANSITIONS.keys() & BLANK_CELLS
    assert {(event.value, state) for state, event in TRANSITIONS} == NON_BLANK
    seen = set()
    for (state, event), entry in TRANSITIONS.items():
        if isinstance(entry, TransitionCell):
            cells = {"": entry}
        elif event is RfcEvent.ENABLE:
            cells = {"vip configured": entry.when_true, "vip not configured": entry.when_false}
        else:
            cells = {"preempt": entry.when_true, "no preempt": entry.when_false}
        for variant, cell in cells.items():
            actions = " ".join(action.value for action in cell.actions)
            key = (event.value, state, variant)
            assert EXPECTED[key] == (actions, cell.next_state), key
            seen.add(key)
    assert seen == EXPECTED.keys()


@pytest.mark.parametrize(
    ("letter", "state", "variant"),
    list(EXPECTED),
    ids=[f"{e}-{s.name}-{v}".rstrip("-") for e, s, v in EXPECTED],
)
def test_every_non_blank_cell(letter: str, state: HsrpState, variant: str) -> None:
    actions, next_state = EXPECTED[(letter, state, variant)]
    lab = reach(state, variant=variant, running=TIMER_EVENTS.get(letter))
    before = trigger(lab, letter)
    assert before is not None, "a non-blank cell's event must be deliverable"
    check_cell(lab, letter, before, actions, next_state)


@pytest.mark.parametrize(("letter", "state"), BLANK, ids=[f"{e}-{s.name}" for e, s in BLANK])
def test_blank_cells_do_nothing(letter: str, state: HsrpState) -> None:
    lab = reach(state, running=TIMER_EVENTS.get(letter))
    before = trigger(lab, letter)
    if before is None:
        return  # the timer never runs in this state, so the event cannot occur
    check_cell(lab, letter, before, "", None)


def test_timers_that_cannot_run_are_indeed_stopped() -> None:
    assert reach(INITIAL).group.get_timer() is None
    assert reach(STANDBY).group.timers.standby_ms is None
    disabled = reach(ACTIVE)
    disabled.group.disable(disabled.now)
    assert disabled.group.get_timer() is None


# -- rule 1: classification ------------------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "src", "becomes_active"),
    [
        (100, HIGH, False),  # equal priority, higher address: higher (g)
        (100, LOW, True),  # equal priority, lower address: lower (h)
        (99, HIGH, True),  # priority beats address
        (101, LOW, False),
        (255, LOW, False),
        (0, HIGH, True),
    ],
)
def test_higher_is_priority_then_address(
    priority: int, src: IPv4Address, becomes_active: bool
) -> None:
    lab = reach(LISTEN, variant="preempt")
    lab.hear(message(OpCode.HELLO, ACTIVE, priority=priority), src)
    assert (lab.group.state is ACTIVE) is becomes_active


def test_comparison_uses_the_effective_priority() -> None:
    track = TrackedInterface(interface="FastEthernet0/1", decrement=20)
    lab = Lab(preempt=True, tracks=(track,))
    lab.group.enable(T0)
    lab.group.set_tracked_interface("FastEthernet0/1", False, T0)
    lab.hear(message(OpCode.HELLO, ACTIVE, priority=90), LOW)  # 90 > 80: higher
    assert lab.group.state is LISTEN
    lab.group.set_tracked_interface("fa0/1", True, T0)  # any spelling of the name
    lab.hear(message(OpCode.HELLO, ACTIVE, priority=90), LOW)  # 90 < 100: lower
    assert lab.group.state is ACTIVE


@pytest.mark.parametrize(
    ("data", "src", "reason"),
    [
        (message(OpCode.HELLO, ACTIVE, authentication=b"wrong\0\0\0"), LOW, "BAD_AUTHENTICATION"),
        (message(OpCode.HELLO, ACTIVE, group=2), LOW, "WRONG_GROUP"),
        (message(OpCode.HELLO, ACTIVE), ME, "OWN_ADDRESS"),
        (b"\x00\x03garbage", LOW, "MALFORMED"),
        (message(OpCode.HELLO, ACTIVE)[:19], LOW, "MALFORMED"),
    ],
)
def test_dropped_messages_are_counted_and_change_nothing(
    data: bytes, src: IPv4Address, reason: str
) -> None:
    lab = reach(LISTEN, variant="preempt")
    before = Snapshot.of(lab.group)
    lab.hear(data, src)
    sent, events = lab.drain()
    assert Snapshot.of(lab.group) == before
    assert sent == []
    assert [(type(e), e.reason.name) for e in events if isinstance(e, MessageDropped)] == [
        (MessageDropped, reason)
    ]
    assert lab.group.drops[DropReason[reason]] == 1
    assert sum(lab.group.drops.values()) == 1


def test_without_a_virtual_ip_nobody_teaches_anything() -> None:
    lab = reach(LEARN)
    lab.hear(message(OpCode.HELLO, ACTIVE, virtual_ip=None), HIGH)
    assert lab.group.state is LEARN
    assert lab.group.virtual_ip is None
    assert lab.group.drops[DropReason.NO_VIRTUAL_IP] == 1
    lab.hear(message(OpCode.HELLO, ACTIVE), HIGH)
    assert lab.group.state is LISTEN
    assert lab.group.virtual_ip == VIP


def test_a_known_virtual_ip_lets_messages_without_one_count() -> None:
    lab = reach(SPEAK)
    lab.hear(message(OpCode.HELLO, SPEAK, virtual_ip=None), HIGH)  # f
    assert lab.group.state is LISTEN


@pytest.mark.parametrize(
    ("state", "op_code", "their_state", "src"),
    [
        (SPEAK, OpCode.HELLO, SPEAK, LOW),  # a lower Speak Hello is not f
        (SPEAK, OpCode.HELLO, LISTEN, HIGH),  # Listen never speaks; no event
        (SPEAK, OpCode.HELLO, LEARN, HIGH),
        (SPEAK, OpCode.HELLO, INITIAL, HIGH),
        (STANDBY, OpCode.RESIGN, STANDBY, HIGH),  # i needs the Resign of an active
        (STANDBY, OpCode.RESIGN, SPEAK, HIGH),
        (ACTIVE, OpCode.COUP, SPEAK, LOW),  # j needs a higher Coup
    ],
)
def test_other_messages_are_no_event(
    state: HsrpState, op_code: OpCode, their_state: HsrpState, src: IPv4Address
) -> None:
    lab = reach(state)
    lab.advance(lab.now + 100)
    lab.drain()
    before = Snapshot.of(lab.group)
    lab.hear(message(op_code, their_state), src)
    assert Snapshot.of(lab.group) == before
    assert lab.drain() == ([], [])


def test_messages_while_disabled_do_nothing() -> None:
    lab = Lab()
    for letter in MESSAGES:
        lab.hear_event(letter)
    assert lab.group.state is INITIAL
    assert lab.drain() == ([], [])
    assert lab.group.get_timer() is None


# -- rule 2: timers --------------------------------------------------------------------


@pytest.mark.parametrize("hold_time_s", [1, 3, 255])
def test_timers_use_our_hold_time_not_the_wire(hold_time_s: int) -> None:
    lab = reach(LISTEN)
    lab.advance(T0 + 700)
    lab.hear(message(OpCode.HELLO, ACTIVE, hold_time_s=hold_time_s), HIGH)  # g: A
    assert lab.group.timers.active_ms == T0 + 700 + HOLD_MS
    lab.hear(message(OpCode.HELLO, STANDBY, hold_time_s=hold_time_s), HIGH)  # k: B
    assert lab.group.timers.standby_ms == T0 + 700 + HOLD_MS


def test_hello_timer_is_jittered_from_the_injected_entropy() -> None:
    entropy = ScriptedEntropy(iter([0, 100, 749, 5]))
    lab = Lab(entropy=entropy)
    assert lab.group.get_timer() is None
    lab.group.enable(T0)
    expected = [T0 + HELLO_MS]
    expected.append(expected[-1] + HELLO_MS - 100)
    expected.append(expected[-1] + HELLO_MS - 749)
    expected.append(expected[-1] + HELLO_MS - 5)
    seen = [lab.group.timers.hello_ms]
    for _ in range(3):
        deadline = lab.group.timers.hello_ms
        assert deadline is not None
        lab.group.handle_timer(deadline)
        seen.append(lab.group.timers.hello_ms)
    assert seen == expected
    assert entropy.bounds == [HELLO_MS // 4] * 4
    lab.group.disable(expected[-1])
    assert lab.group.timers.hello_ms is None


def test_jitter_bound_is_at_least_one() -> None:
    entropy = ScriptedEntropy(forever(0))
    config = HsrpGroupConfig(group=1, address=ME, virtual_ip=VIP, hello_ms=3, hold_ms=10)
    group = HsrpGroup(config, entropy)
    group.enable(0)
    assert entropy.bounds == [1]
    assert group.timers.hello_ms == 3


def test_hellos_only_in_speak_standby_active() -> None:
    lab = reach(LISTEN)
    lab.advance(T0 + HOLD_MS - 1)  # three Hello expiries in Listen
    assert lab.drain()[0] == []
    lab.advance(T0 + HOLD_MS + 1)  # c: Speak
    lab.drain()
    lab.advance(T0 + HOLD_MS + HELLO_MS + 1)
    sent, _ = lab.drain()
    assert [(p.op_code, p.state) for p in sent] == [(OpCode.HELLO, SPEAK)]


def test_simultaneous_deadlines_fire_active_standby_hello() -> None:
    # Hello at T0 + 4 × (3000 - 500) = T0 + hold: the same instant as A and B.
    lab = Lab(entropy=ScriptedEntropy(forever(500)))
    lab.group.enable(T0)
    lab.advance(T0 + HOLD_MS)
    lab.drain()
    timers = lab.group.timers
    assert timers.active_ms == timers.standby_ms == timers.hello_ms == T0 + HOLD_MS
    lab.group.handle_timer(T0 + HOLD_MS)
    sent, events = lab.drain()
    # c first (Listen -> Speak restarts A and B, so d is no longer due), then e in Speak.
    assert [(e.event.value, e.new_state) for e in events if isinstance(e, StateChanged)] == [
        ("c", SPEAK)
    ]
    assert lab.group.timers.active_ms == T0 + 2 * HOLD_MS
    assert [(p.op_code, p.state) for p in sent] == [(OpCode.HELLO, SPEAK)]


# -- rule 3: the gap -------------------------------------------------------------------


def test_standby_without_active_timer_becomes_active_at_once() -> None:
    lab = reach(LISTEN)
    lab.advance(T0 + HOLD_MS + 1)  # c in Listen: Speak, A = B = T0 + 2 hold
    lab.drain()
    now = T0 + 2 * HOLD_MS
    lab.advance(now)
    lab.drain()
    assert lab.group.timers.active_ms == lab.group.timers.standby_ms == now
    lab.group.handle_timer(now)  # c in Speak (blank), then d: Standby, then the gap rule
    sent, events = lab.drain()
    changes = [e for e in events if isinstance(e, StateChanged)]
    assert [(c.old_state, c.new_state, c.event.value) for c in changes] == [
        (SPEAK, STANDBY, "d"),
        (STANDBY, ACTIVE, "c"),
    ]
    assert "gap" in changes[1].cell
    assert [(p.op_code, p.state) for p in sent] == [(OpCode.HELLO, ACTIVE)]
    assert [e for e in events if isinstance(e, GratuitousArpNeeded)]
    after = lab.group.timers
    assert (after.active_ms, after.standby_ms) == (None, None)


def test_standby_with_active_timer_stays_standby() -> None:
    lab = reach(SPEAK)
    lab.hear_event("l")
    assert lab.group.state is STANDBY
    assert lab.drain()[0] == []


# -- rule 4: which state a message carries ---------------------------------------------


def test_coup_carries_the_old_state_and_hello_the_new() -> None:
    lab = reach(LISTEN, variant="preempt")
    lab.hear_event("h")
    sent, _ = lab.drain()
    assert [(p.op_code, p.state) for p in sent] == [
        (OpCode.COUP, LISTEN),
        (OpCode.HELLO, ACTIVE),
    ]


@pytest.mark.parametrize("how", ["coup", "disable"])
def test_resign_carries_active(how: str) -> None:
    lab = reach(ACTIVE)
    if how == "coup":
        lab.hear_event("j")
    else:
        lab.group.disable(lab.now)
    sent, _ = lab.drain()
    assert [(p.op_code, p.state) for p in sent] == [(OpCode.RESIGN, ACTIVE)]


# -- rule 5: preempt delay -------------------------------------------------------------


def test_preempt_waits_for_its_minimum_delay_since_enable() -> None:
    lab = Lab(preempt=True, preempt_delay_ms=30_000)
    lab.group.enable(T0)
    for offset in (5000, 15_000, 25_000, 29_999):
        lab.advance(T0 + offset)
        lab.hear_event("h")  # not yet: A only
        assert lab.group.state in {LISTEN, SPEAK, STANDBY}
        assert lab.group.timers.active_ms == lab.now + HOLD_MS
    lab.advance(T0 + 30_000)
    lab.hear_event("h")
    assert lab.group.state is ACTIVE
    # The delay counts from the latest enable, not from the first.
    lab.group.disable(lab.now)
    lab.group.enable(lab.now)
    lab.hear_event("h")
    assert lab.group.state is LISTEN


def test_set_preempt_switches_preemption() -> None:
    lab = reach(LISTEN)
    lab.hear_event("h")
    assert lab.group.state is LISTEN
    lab.group.set_preempt(True, lab.now)
    assert lab.group.preempt
    lab.hear_event("h")
    assert lab.group.state is ACTIVE
    lab.group.set_preempt(True, lab.now, delay_minimum_ms=5)
    assert lab.group.config.preempt_delay_minimum_ms == 5


# -- rule 6 and 7: disable forgets, enable delay ---------------------------------------


def test_disable_forgets_a_learned_virtual_ip() -> None:
    lab = reach(LEARN)
    lab.hear_event("g")
    assert (lab.group.state, lab.group.virtual_ip) == (LISTEN, VIP)
    lab.group.disable(lab.now)
    assert lab.group.virtual_ip is None
    lab.group.enable(lab.now)
    assert lab.group.state is LEARN


def test_a_configured_virtual_ip_is_kept() -> None:
    lab = reach(LISTEN)
    lab.group.disable(lab.now)
    assert lab.group.virtual_ip == VIP
    lab.group.enable(lab.now)
    assert lab.group.state is LISTEN


def test_enable_after_schedules_event_a() -> None:
    lab = Lab()
    lab.group.enable_after(30_000, T0)
    assert lab.group.get_timer() == T0 + 30_000
    lab.advance(T0 + 30_000)
    assert lab.group.state is INITIAL
    lab.group.handle_timer(T0 + 30_000)
    assert lab.group.state is LISTEN
    assert lab.group.timers.enable_ms is None
    assert lab.group.timers.active_ms == T0 + 30_000 + HOLD_MS


def test_disable_and_enable_cancel_a_scheduled_enable() -> None:
    lab = Lab()
    lab.group.enable_after(30_000, T0)
    lab.group.disable(T0)
    assert lab.group.get_timer() is None
    lab.group.enable_after(30_000, T0)
    lab.group.enable(T0 + 5)
    assert lab.group.timers.enable_ms is None
    assert lab.group.state is LISTEN
    with pytest.raises(LocalProtocolError, match="negative"):
        lab.group.enable_after(-1, T0)


# -- tracking, priority, configuration -------------------------------------------------


def test_tracking_lowers_priority_never_below_zero() -> None:
    tracks = (
        TrackedInterface(interface="FastEthernet0/1", decrement=60),
        TrackedInterface(interface="Serial0/0", decrement=60),
    )
    lab = Lab(tracks=tracks)
    lab.group.set_tracked_interface("FastEthernet0/1", False, T0)
    assert lab.group.effective_priority == 40
    lab.group.set_tracked_interface("Serial0/0", False, T0)
    assert lab.group.effective_priority == 0
    lab.group.set_tracked_interface("Ethernet9/9", False, T0)  # not tracked: ignored
    lab.group.set_tracked_interface("FastEthernet0/1", True, T0)
    assert lab.group.effective_priority == 40
    _, events = lab.drain()
    assert [(e.old_priority, e.new_priority) for e in events if isinstance(e, PriorityChanged)] == [
        (100, 40),
        (40, 0),
        (0, 40),
    ]
    assert lab.group.priority == 100


def test_hello_carries_the_effective_priority() -> None:
    lab = Lab(tracks=(TrackedInterface(interface="FastEthernet0/1"),))
    lab.group.enable(T0)
    lab.group.set_tracked_interface("FastEthernet0/1", False, T0)
    lab.advance(T0 + HOLD_MS + 1)  # Speak
    lab.advance(T0 + HOLD_MS + HELLO_MS + 1)
    sent, _ = lab.drain()
    assert [p.priority for p in sent] == [90]


def test_set_priority() -> None:
    lab = Lab()
    lab.group.set_priority(150, T0)
    assert (lab.group.priority, lab.group.effective_priority) == (150, 150)
    for bad in (0, 256):
        with pytest.raises(LocalProtocolError, match="priority"):
            lab.group.set_priority(bad, T0)
    assert lab.group.priority == 150


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"group": 256}, "group"),
        ({"priority": 0}, "priority"),
        ({"hello_ms": 0}, "hello"),
        ({"hello_ms": 3000, "hold_ms": 3000}, "hold"),
        ({"authentication": b"cisco"}, "authentication"),
        ({"preempt_delay_minimum_ms": -1}, "preempt delay"),
        ({"tracks": (TrackedInterface(interface="Fa0/1", decrement=0),)}, "decrement"),
    ],
)
def test_config_rejects_bad_values(changes: dict[str, object], words: str) -> None:
    arguments: dict[str, object] = {"group": 1, "address": ME, **changes}
    with pytest.raises(LocalProtocolError, match=words):
        HsrpGroupConfig(**arguments)  # type: ignore[arg-type]


def test_config_from_parsed_ios() -> None:
    interface = InterfaceConfig(
        name="FastEthernet0/0",
        address=IPv4Interface("10.0.0.2/24"),
        standby_groups=(
            StandbyGroup(
                group=7,
                virtual_ip=VIP,
                priority=110,
                preempt=True,
                preempt_delay_minimum_s=30,
                hello_ms=500,
                hold_ms=3000,
                tracks=(Track("FastEthernet0/1", 25),),
                authentication="s3cret",
            ),
        ),
    )
    config = HsrpGroupConfig.from_standby(interface, interface.standby_groups[0])
    assert config == HsrpGroupConfig(
        group=7,
        address=ME,
        virtual_ip=VIP,
        priority=110,
        preempt=True,
        preempt_delay_minimum_ms=30_000,
        hello_ms=500,
        hold_ms=3000,
        authentication=b"s3cret\0\0",
        tracks=(TrackedInterface(interface="FastEthernet0/1", decrement=25),),
    )
    unnumbered = InterfaceConfig(name="FastEthernet0/0", standby_groups=interface.standby_groups)
    with pytest.raises(LocalProtocolError, match="no IP address"):
        HsrpGroupConfig.from_standby(unnumbered, interface.standby_groups[0])


def test_config_from_the_documents_example() -> None:
    router = parse_config((EXAMPLES / "router1.cfg").read_text())
    configs = [
        HsrpGroupConfig.from_standby(interface, standby)
        for interface in router.hsrp_interfaces()
        for standby in interface.standby_groups
    ]
    assert [(c.group, c.address, c.virtual_ip) for c in configs] == [
        (1, IPv4Address("172.16.31.100"), IPv4Address("172.16.31.1")),
        (2, IPv4Address("40.0.0.100"), IPv4Address("40.0.0.1")),
    ]
    for config in configs:
        assert (config.hello_ms, config.hold_ms, config.preempt) == (500, 3000, True)
        assert config.authentication == DEFAULT_AUTHENTICATION
        assert [t.decrement for t in config.tracks] == [10]


def test_virtual_mac() -> None:
    assert virtual_mac(1) == ARP_MAC
    assert virtual_mac(255).hex() == "00000c07acff"


# -- garbage ---------------------------------------------------------------------------


@given(data=st.binary(max_size=80), state=st.sampled_from([LEARN, LISTEN, SPEAK, ACTIVE]))
def test_garbage_never_raises_and_is_counted(data: bytes, state: HsrpState) -> None:
    lab = reach(state)
    lab.group.receive_datagram(data, LOW, lab.now)
    try:
        decode(data)
    except ValueError:
        assert lab.group.drops[DropReason.MALFORMED] == 1
        _, events = lab.drain()
        assert [e.reason for e in events if isinstance(e, MessageDropped)] == [DropReason.MALFORMED]
    else:
        assert lab.group.drops[DropReason.MALFORMED] == 0


@given(
    data=st.builds(
        lambda head, tail: head + tail,
        st.sampled_from([b"\x00\x00", b"\x00\x01", b"\x00\x02"]),
        st.binary(min_size=18, max_size=18),
    )
)
def test_near_valid_datagrams_never_raise(data: bytes) -> None:
    lab = reach(ACTIVE)
    lab.group.receive_datagram(data, LOW, lab.now)
    lab.drain()
    assert sum(lab.group.drops.values()) <= 1


# -- two speakers on one segment -------------------------------------------------------


R1 = IPv4Address("10.0.0.1")
R2 = IPv4Address("10.0.0.2")


class Segment:
    """Lossless, zero-delay multicast between speakers; a crashed speaker is silent."""

    def __init__(self, *speakers: HsrpGroup) -> None:
        self.speakers = list(speakers)
        self.alive = set(range(len(speakers)))
        self.now = 0
        self.timeline: list[tuple[int, IPv4Address, StateChanged]] = []
        self.last_sent: dict[IPv4Address, int] = {}
        self.coups: list[tuple[int, IPv4Address]] = []

    def run(self, until: int) -> None:
        while True:
            self._exchange()
            deadlines = [t for i in self.alive if (t := self.speakers[i].get_timer()) is not None]
            if not deadlines or min(deadlines) > until:
                self.now = until
                return
            self.now = max(self.now, min(deadlines))
            for i in sorted(self.alive):
                timer = self.speakers[i].get_timer()
                if timer is not None and timer <= self.now:
                    self.speakers[i].handle_timer(self.now)

    def crash(self, index: int) -> None:
        self.alive.discard(index)
        self.speakers[index].datagrams_to_send(self.now)

    def _exchange(self) -> None:
        busy = True
        while busy:
            busy = False
            for i in sorted(self.alive):
                sender = self.speakers[i]
                for data in sender.datagrams_to_send(self.now):
                    busy = True
                    self.last_sent[sender.address] = self.now
                    if decode(data).op_code is OpCode.COUP:
                        self.coups.append((self.now, sender.address))
                    for j in sorted(self.alive - {i}):
                        self.speakers[j].receive_datagram(data, sender.address, self.now)
            for i in sorted(self.alive):
                speaker = self.speakers[i]
                while (event := speaker.next_event()) is not None:
                    if isinstance(event, StateChanged):
                        self.timeline.append((self.now, speaker.address, event))

    def states(self) -> list[HsrpState]:
        return [s.state for s in self.speakers]


def speaker(address: IPv4Address, seed: int, **changes: object) -> HsrpGroup:
    arguments: dict[str, object] = {
        "group": 1,
        "address": address,
        "virtual_ip": VIP,
        "hello_ms": HELLO_MS,
        "hold_ms": HOLD_MS,
        **changes,
    }
    return HsrpGroup(HsrpGroupConfig(**arguments), SeededEntropy(seed))  # type: ignore[arg-type]


def elected_pair(**changes: object) -> Segment:
    r1, r2 = speaker(R1, 1, **changes), speaker(R2, 2, **changes)
    segment = Segment(r1, r2)
    r1.enable(T0)
    r2.enable(T0 + 137)
    segment.run(T0 + 5 * HOLD_MS)
    return segment


def test_equal_priority_the_higher_address_is_active() -> None:
    segment = elected_pair()
    r1, r2 = segment.speakers
    assert segment.states() == [STANDBY, ACTIVE]
    for view in (r1, r2):
        assert (view.active_router, view.standby_router) == (R2, R1)
    assert segment.coups == []


def test_standby_takes_over_within_hold_of_the_last_hello() -> None:
    segment = elected_pair()
    crash_at = segment.now + 1234
    segment.run(crash_at)
    segment.crash(1)
    last_hello = segment.last_sent[R2]
    segment.run(crash_at + 2 * HOLD_MS)
    r1 = segment.speakers[0]
    assert r1.state is ACTIVE
    takeovers = [(t, c) for t, who, c in segment.timeline if who == R1 and c.new_state is ACTIVE]
    when, change = takeovers[-1]
    assert (change.old_state, change.event.value) == (STANDBY, "c")
    assert when == last_hello + HOLD_MS
    assert when <= crash_at + HOLD_MS


def test_higher_priority_router_preempts_when_it_comes_back() -> None:
    r1 = speaker(R1, 1, priority=110, preempt=True)
    r2 = speaker(R2, 2, preempt=True)
    segment = Segment(r1, r2)
    segment.crash(0)
    r2.enable(T0)
    segment.run(T0 + 3 * HOLD_MS)
    assert r2.state is ACTIVE
    segment.alive.add(0)
    back = segment.now
    r1.enable(back)
    segment.run(back + 3 * HOLD_MS)
    assert segment.states() == [ACTIVE, STANDBY]
    assert segment.coups
    assert segment.coups[0][1] == R1
    assert segment.coups[0][0] - back <= HELLO_MS  # at the first Hello it hears


def test_without_preempt_a_returning_higher_priority_router_waits() -> None:
    r1 = speaker(R1, 1, priority=110)
    r2 = speaker(R2, 2)
    segment = Segment(r1, r2)
    segment.crash(0)
    r2.enable(T0)
    segment.run(T0 + 3 * HOLD_MS)
    segment.alive.add(0)
    r1.enable(segment.now)
    segment.run(segment.now + 3 * HOLD_MS)
    assert segment.states() == [STANDBY, ACTIVE]


def test_tracking_hands_the_group_over_with_preempt() -> None:
    track = (TrackedInterface(interface="FastEthernet0/1"),)
    segment = elected_pair(preempt=True, tracks=track)
    assert segment.states() == [STANDBY, ACTIVE]
    r1, r2 = segment.speakers
    r2.set_tracked_interface("FastEthernet0/1", False, segment.now)
    segment.run(segment.now + 3 * HOLD_MS)
    assert segment.states() == [ACTIVE, STANDBY]
    assert (r1.effective_priority, r2.effective_priority) == (100, 90)
    assert segment.coups[-1][1] == R1
    # Interface back: equal priorities again, preempt by the higher address.
    r2.set_tracked_interface("FastEthernet0/1", True, segment.now)
    segment.run(segment.now + 3 * HOLD_MS)
    assert segment.states() == [STANDBY, ACTIVE]
