"""The anti-replay sliding window of RFC 4303 §3.4.3: a bitmap to the outside, a ring inside.

Theory of operation
-------------------
The window remembers the highest *authenticated* sequence number (its right
edge, ``top``) and, for the ``size`` numbers ending at ``top``, which were seen.
A packet is checked in two stages (RFC 4303 §3.4.3 allows it, and recommends
the pre-check as the first check after the SA lookup):

- ``check(seq)`` before the ICV is verified: no state change. Sequence number 0
  is never valid (the first packet carries 1, RFC 4303 §2.2); a number right of
  the window is new; one left of the window is too old; one inside it is new
  iff it was not seen.
- ``update(seq)`` only after the ICV verified: a number right of the window
  slides it (so the window is always ``top - size + 1 .. top``); one inside it
  is marked seen.

Representation: the RFC's bitmap (bit ``i`` for ``top - i``) is what ``state``
and ``from_state`` exchange, but the live window is a ring of ``2^k >= size``
slots, slot ``n mod 2^k`` holding the last number ``n`` marked seen there.
The numbers inside the window are ``size <= 2^k`` consecutive integers, so each
has a slot of its own, and it is seen iff its slot holds exactly it (whatever
an older number left there is outside the window, and the edge only moves
right, so it never comes back). Marking is then one list store whatever the
distance the edge moves, with no shifting or masking of a ``size``-bit integer:
what ESP does per packet (``esp.EspInboundSA.decapsulate`` inlines it).
``state``, ``from_state`` and ``jump_to`` cost ``size`` steps; they are rare.

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
# Fills empty ring slots: below any number a window can hold (top - size + 1 >= -1023).
_NEVER = -(1 << 40)


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

    __slots__ = ("_ring", "_ring_mask", "_size", "_top")

    def __init__(self, size: int = DEFAULT_WINDOW_SIZE) -> None:
        if not MIN_WINDOW_SIZE <= size <= MAX_WINDOW_SIZE:
            msg = f"replay window size {size} is outside {MIN_WINDOW_SIZE}..{MAX_WINDOW_SIZE}"
            raise LocalProtocolError(msg)
        self._size = size
        slots = 1 << (size - 1).bit_length()  # a power of two >= size
        self._ring_mask = slots - 1
        # _NEVER is no number the window can ever contain: nothing is seen yet.
        self._ring = [_NEVER] * slots
        self._top = 0

    @classmethod
    def from_state(cls, state: ReplayState) -> ReplayWindow:
        """A window restored from a snapshot (validated like a decoder would)."""
        window = cls(state.size)
        if not 0 <= state.top <= SEQ_MAX:
            msg = f"replay window top {state.top} is outside 0..{SEQ_MAX}"
            raise LocalProtocolError(msg)
        if not 0 <= state.bitmap < 1 << state.size:
            msg = f"replay bitmap {state.bitmap:#x} is wider than the window ({state.size} bits)"
            raise LocalProtocolError(msg)
        window._top = state.top
        window._mark_bitmap(state.bitmap)
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
        top, ring, ring_mask = self._top, self._ring, self._ring_mask
        bitmap = 0
        for offset in range(self._size):
            number = top - offset
            if ring[number & ring_mask] == number:
                bitmap |= 1 << offset
        return ReplayState(size=self._size, top=top, bitmap=bitmap)

    def check(self, seq: int) -> bool:
        """Pre-check (RFC 4303 §3.4.3): True if ``seq`` may be new; changes nothing."""
        if seq > self._top:
            return seq <= SEQ_MAX
        if seq <= 0 or self._top - seq >= self._size:
            return False  # zero, or left of the window: too old
        return self._ring[seq & self._ring_mask] != seq

    def update(self, seq: int) -> bool:
        """Record ``seq`` after its ICV verified; False (and no change) if it is a replay."""
        if not self.check(seq):
            return False
        # Right of the window this slides it: the numbers it passes over keep
        # whatever older numbers their slots hold, so they read as unseen.
        self._ring[seq & self._ring_mask] = seq
        self._top = max(self._top, seq)
        return True

    def seen(self, seq: int) -> bool:
        """True if ``seq`` is inside the window and marked seen."""
        return (
            seq > 0
            and 0 <= self._top - seq < self._size
            and self._ring[seq & self._ring_mask] == seq
        )

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
        self._mark_bitmap((1 << self._size) - 1)

    def _mark_bitmap(self, bitmap: int) -> None:
        """Mark seen the numbers ``top - i`` for each bit ``i`` set in ``bitmap``.

        Numbers at or below 0 are marked too (a bitmap may carry them, e.g. after
        ``jump_to`` near the start): ``check`` refuses them anyway, and ``state``
        gives the same bitmap back.
        """
        top, ring, ring_mask = self._top, self._ring, self._ring_mask
        for offset in range(self._size):
            if (bitmap >> offset) & 1:
                number = top - offset
                ring[number & ring_mask] = number

    def __repr__(self) -> str:
        return f"ReplayWindow(size={self._size}, top={self._top}, bitmap={self.state().bitmap:#x})"
