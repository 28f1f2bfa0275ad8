"""impl/esp/replay: the RFC 4303 §3.4.3 bitmap window against the RFC's cases and a set."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vpnha.impl.errors import LocalProtocolError
from vpnha.impl.esp import SEQ_MAX, ReplayState, ReplayWindow

SIZES = (32, 64, 1024)


@dataclass
class SetWindow:
    """The plain formulation: the numbers seen, and the highest one (test oracle)."""

    size: int
    top: int = 0
    seen: set[int] = field(default_factory=set)

    def check(self, seq: int) -> bool:
        return 0 < seq <= SEQ_MAX and seq not in self.seen and seq > self.top - self.size

    def update(self, seq: int) -> bool:
        if not self.check(seq):
            return False
        self.seen.add(seq)
        self.top = max(self.top, seq)
        return True

    def jump_to(self, top: int) -> None:
        self.top = top
        self.seen.update(range(max(1, top - self.size + 1), top + 1))


def test_default_size_is_64() -> None:
    assert ReplayWindow().size == 64  # RFC 4303 §3.4.3: 64 SHOULD be the default


@pytest.mark.parametrize("size", [0, 31, 1025, -1])
def test_size_outside_32_to_1024_is_refused(size: int) -> None:
    with pytest.raises(LocalProtocolError, match=f"size {size} is outside 32..1024"):
        ReplayWindow(size)


@pytest.mark.parametrize("size", SIZES)
def test_rfc4303_cases(size: int) -> None:
    window = ReplayWindow(size)
    assert not window.check(0)  # seq 0 is never sent (first packet carries 1)
    assert window.check(1)
    assert window.check(1)  # check changes nothing
    assert window.update(1)
    assert not window.check(1)  # duplicate
    assert not window.update(1)
    top = 10 * size
    assert window.update(top)  # right of the window: new right edge
    assert window.top == top
    assert window.check(top - size + 1)  # left edge, inside the window, not seen
    assert not window.check(top - size)  # one left of the window: too old
    assert window.update(top - 5)  # late but inside the window: accepted once
    assert not window.check(top - 5)
    assert window.check(top - 4)
    assert window.update(top + 1)  # slide by one: top - size + 1 falls out
    assert not window.check(top - size + 1)
    assert window.check(top - size + 2)
    assert not window.check(top - 5)  # still remembered after the slide
    assert window.seen(top - 5)
    assert not window.seen(top - 4)


@pytest.mark.parametrize("size", SIZES)
def test_jump_wider_than_the_window_forgets_everything_but_the_edge(size: int) -> None:
    window = ReplayWindow(size)
    for seq in range(1, size + 1):
        assert window.update(seq)
    assert window.update(5 * size)
    assert window.state().bitmap == 1
    assert window.check(5 * size - 1)
    assert not window.check(4 * size)


def test_32_bit_limits() -> None:
    window = ReplayWindow()
    assert window.check(SEQ_MAX)
    assert not window.check(SEQ_MAX + 1)
    assert not window.update(SEQ_MAX + 1)
    assert window.update(SEQ_MAX)
    assert window.top == SEQ_MAX
    assert not window.check(SEQ_MAX)
    assert window.check(SEQ_MAX - 1)


def test_update_without_check_never_accepts_a_replay() -> None:
    window = ReplayWindow(32)
    assert window.update(100)
    assert not window.update(100)
    assert not window.update(68)  # 100 - 32
    assert window.update(69)


@pytest.mark.parametrize("size", SIZES)
def test_jump_to_marks_the_whole_window_seen(size: int) -> None:
    window = ReplayWindow(size)
    window.update(3)
    window.jump_to(1000 + size)
    assert window.top == 1000 + size
    for seq in range(1000, 1000 + size + 1):
        assert not window.check(seq)
    assert window.check(1001 + size)
    window.jump_to(1000 + size)  # staying put is allowed
    with pytest.raises(LocalProtocolError, match="cannot move back"):
        window.jump_to(999 + size)
    with pytest.raises(LocalProtocolError, match="outside"):
        window.jump_to(SEQ_MAX + 1)


def test_jump_to_on_a_fresh_window() -> None:
    window = ReplayWindow()
    window.jump_to(0)
    assert window.check(1)
    window.jump_to(10)
    assert not any(window.check(seq) for seq in range(11))
    assert window.check(11)


def test_state_round_trip_and_validation() -> None:
    window = ReplayWindow(32)
    for seq in (5, 10, 30, 40):
        window.update(seq)
    state = window.state()
    assert state == ReplayState(size=32, top=40, bitmap=1 | 1 << 10 | 1 << 30)
    again = ReplayWindow.from_state(state)
    assert again.state() == state
    assert [again.check(seq) for seq in range(9, 41)] == [window.check(seq) for seq in range(9, 41)]
    with pytest.raises(LocalProtocolError, match="wider"):
        ReplayWindow.from_state(ReplayState(size=32, top=40, bitmap=1 << 32))
    with pytest.raises(LocalProtocolError, match="top"):
        ReplayWindow.from_state(ReplayState(size=32, top=-1, bitmap=0))


# A step: ("check" | "update" | "jump", offset from the current right edge).
steps = st.lists(
    st.tuples(
        st.sampled_from(["check", "update", "update", "update", "jump"]),
        st.one_of(
            st.integers(-70, 3),  # around the right edge of a 64 window
            st.integers(-1100, 1100),
            st.integers(-(2**32), 2**32),
        ),
    ),
    max_size=60,
)


@pytest.mark.parametrize("size", SIZES)
@given(steps=steps, start=st.sampled_from([0, 1, 2**31, SEQ_MAX - 2000]))
def test_bitmap_agrees_with_the_set_formulation(
    size: int, steps: list[tuple[str, int]], start: int
) -> None:
    window, oracle = ReplayWindow(size), SetWindow(size)
    if start:
        window.jump_to(start)
        oracle.jump_to(start)
    for action, offset in steps:
        seq = oracle.top + offset
        if action == "check":
            assert window.check(seq) == oracle.check(seq), seq
        elif action == "update":
            assert window.update(seq) == oracle.update(seq), seq
        elif 0 <= seq <= SEQ_MAX and seq >= oracle.top:
            window.jump_to(seq)
            oracle.jump_to(seq)
        assert window.top == oracle.top
    for seq in range(max(0, oracle.top - size - 2), oracle.top + 3):
        assert window.check(seq) == oracle.check(seq), seq


@dataclass
class BitmapWindow:
    """RFC 4303 §3.4.3's bitmap, shifted on every slide: the snapshot format (test oracle)."""

    size: int
    top: int = 0
    bitmap: int = 0

    def update(self, seq: int) -> None:
        if seq > self.top:
            shift = min(seq - self.top, self.size)  # wider jumps forget everything alike
            self.bitmap = ((self.bitmap << shift) | 1) & ((1 << self.size) - 1)
            self.top = seq
        else:
            self.bitmap |= 1 << (self.top - seq)

    def jump_to(self, top: int) -> None:
        self.top = top
        self.bitmap = (1 << self.size) - 1


@pytest.mark.parametrize("size", [*SIZES, 100])
@given(steps=steps, start=st.sampled_from([0, 1, 2**31, SEQ_MAX - 2000]))
def test_ring_snapshots_agree_with_the_shifted_bitmap(
    size: int, steps: list[tuple[str, int]], start: int
) -> None:
    """The live ring and the RFC bitmap give the same ``state()``, and it round-trips."""
    window, oracle = ReplayWindow(size), BitmapWindow(size)
    if start:
        window.jump_to(start)
        oracle.jump_to(start)
    for action, offset in steps:
        seq = oracle.top + offset
        if action == "check":
            continue
        if action == "update":
            if window.update(seq):
                oracle.update(seq)
        elif 0 <= seq <= SEQ_MAX and seq >= oracle.top:
            window.jump_to(seq)
            oracle.jump_to(seq)
        state = window.state()
        assert state == ReplayState(size=size, top=oracle.top, bitmap=oracle.bitmap)
        again = ReplayWindow.from_state(state)
        assert again.state() == state
        for probe in range(max(0, oracle.top - size - 2), min(oracle.top + 3, SEQ_MAX + 1)):
            assert again.check(probe) == window.check(probe), probe
            assert again.seen(probe) == window.seen(probe), probe


def test_repr_shows_the_bitmap() -> None:
    window = ReplayWindow(32)
    window.update(3)
    window.update(1)
    assert repr(window) == "ReplayWindow(size=32, top=3, bitmap=0x5)"
