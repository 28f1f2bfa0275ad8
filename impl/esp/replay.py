"""The anti-replay sliding window of RFC 4303 §3.4.3, as a bitmap.

Theory of operation
-------------------
The window remembers the highest *authenticated* sequence number (its right
edge, ``top``) and, for the ``size`` numbers ending at ``top``, which were seen.
The bitmap is one Python ``int``: bit ``i`` stands for sequence number
``top - i`` (bit 0 is the right edge itself). A packet is checked in two stages
(RFC 4303 §3.4.3 allows it, and recommends the pre-check as the first check
after the SA lookup):

- ``check(seq)`` before the ICV is verified: no state change. Sequence number 0
  is never valid (the first packet carries 1, RFC 4303 §2.2); a number right of
  the window is new; one left of the window is too old; one inside it is new
  iff its bit is clear.
- ``update(seq)`` only after the ICV verified: a number right of the window
  slides it (the bitmap shifts left by the distance, so the window is always
  ``top - size + 1 .. top``); one inside it sets its bit.

Sequence numbers are 32-bit (no ESN, RFC 4303 §2.2.1): a sender never wraps, so
the right edge only grows. ``jump_to(top)`` is what an HA takeover does
(DESIGN §4): move the right edge forward and mark the whole window seen, so
nothing the old active may already have accepted can be accepted again.
"""

from __future__ import annotations

from dataclasses import dataclass

from vpnha.impl.errors import LocalProtocolError

__all__ = [
    "DEFAULT_WINDOW_SIZE",
    "MAX_WINDOW_SIZE",
    "MIN_WINDOW_SIZE",
    "SEQ_MAX",
    "ReplayState",
    "ReplayWindow",
]

SEQ_MAX = 0xFFFF_FFFF
"""Largest 32-bit sequence number (RFC 4303 §2.2)."""
MIN_WINDOW_SIZE = 32
"""RFC 4303 §3.4.3: a window of 32 MUST be supported."""
DEFAULT_WINDOW_SIZE = 64
"""RFC 4303 §3.4.3: 64 SHOULD be the default."""
MAX_WINDOW_SIZE = 1024
"""Largest window this implementation offers (Cisco's ``replay window-size`` maximum)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayState:
    """A snapshot of a window, e.g. for replication to the standby."""

    size: int
    """Window size in packets (32-1024)."""
    top: int
    """Right edge: highest authenticated sequence number (0 = none yet; 0..2^32-1)."""
    bitmap: int
    """Bit i set = sequence number ``top - i`` seen (0 <= bitmap < 2^size)."""


class ReplayWindow:
    """RFC 4303 §3.4.3 receive window for one inbound SA (32-bit sequence numbers)."""

    __slots__ = ("_bitmap", "_mask", "_size", "_top")

    def __init__(self, size: int = DEFAULT_WINDOW_SIZE) -> None:
        if not MIN_WINDOW_SIZE <= size <= MAX_WINDOW_SIZE:
            msg = f"replay window size {size} is outside {MIN_WINDOW_SIZE}..{MAX_WINDOW_SIZE}"
            raise LocalProtocolError(msg)
        self._size = size
        self._mask = (1 << size) - 1
        self._top = 0
        self._bitmap = 0

    @classmethod
    def from_state(cls, state: ReplayState) -> ReplayWindow:
        """A window restored from a snapshot (validated like a decoder would)."""
        window = cls(state.size)
        if not 0 <= state.top <= SEQ_MAX:
            msg = f"replay window top {state.top} is outside 0..{SEQ_MAX}"
            raise LocalProtocolError(msg)
        if not 0 <= state.bitmap <= window._mask:
            msg = f"replay bitmap {state.bitmap:#x} is wider than the window ({state.size} bits)"
            raise LocalProtocolError(msg)
        window._top = state.top
        window._bitmap = state.bitmap
        return window

    @property
    def size(self) -> int:
        """Window size in packets."""
        return self._size

    @property
    def top(self) -> int:
        """Right edge: the highest authenticated sequence number (0 before the first)."""
        return self._top

    def state(self) -> ReplayState:
        """A snapshot of the window."""
        return ReplayState(size=self._size, top=self._top, bitmap=self._bitmap)

    def check(self, seq: int) -> bool:
        """Pre-check (RFC 4303 §3.4.3): True if ``seq`` may be new; changes nothing."""
        top = self._top
        if seq > top:
            return seq <= SEQ_MAX
        offset = top - seq
        if seq <= 0 or offset >= self._size:
            return False  # zero, or left of the window: too old
        return not (self._bitmap >> offset) & 1

    def update(self, seq: int) -> bool:
        """Record ``seq`` after its ICV verified; False (and no change) if it is a replay."""
        top = self._top
        if seq > top:
            if seq > SEQ_MAX:
                return False
            shift = seq - top
            # Right of the window: slide it (RFC 4303 §3.4.3); a jump wider than the
            # window leaves only the new right edge set (and keeps the int small).
            self._bitmap = ((self._bitmap << shift) | 1) & self._mask if shift < self._size else 1
            self._top = seq
            return True
        offset = top - seq
        if seq <= 0 or offset >= self._size:
            return False
        bit = 1 << offset
        if self._bitmap & bit:
            return False
        self._bitmap |= bit
        return True

    def seen(self, seq: int) -> bool:
        """True if ``seq`` is inside the window and marked seen."""
        offset = self._top - seq
        return seq > 0 and 0 <= offset < self._size and bool((self._bitmap >> offset) & 1)

    def jump_to(self, top: int) -> None:
        """Takeover (DESIGN §4): right edge := ``top``, every number in the window seen.

        Moving the edge back would make numbers between the two edges acceptable
        again, so only forward (or staying put) is allowed.
        """
        if not 0 <= top <= SEQ_MAX:
            msg = f"replay window top {top} is outside 0..{SEQ_MAX}"
            raise LocalProtocolError(msg)
        if top < self._top:
            msg = f"replay window cannot move back from {self._top} to {top}"
            raise LocalProtocolError(msg)
        self._top = top
        self._bitmap = self._mask

    def __repr__(self) -> str:
        return f"ReplayWindow(size={self._size}, top={self._top}, bitmap={self._bitmap:#x})"
