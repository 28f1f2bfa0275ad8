"""IKE and IPsec security associations, and the rule that keeps replicated counters ahead.

Theory of operation
-------------------
Every number an SA consumes and that must never be used twice is a *counter*:

============  =====================================  ==========================
kind          value                                  interval (``crypto map ha``)
============  =====================================  ==========================
``OUT``       highest ESP sequence number sent       M packets (outbound × 10^6)
``IN``        right edge of the anti-replay window   N packets (inbound)
``BYTES``     bytes counted against the KB lifetime  ``byte_interval``
``DPD_OUT``   last R-U-THERE sequence number sent    every probe
============  =====================================  ==========================

The configured interval is the jump ``J``: how far the standby may lag, and so
how far it moves every counter on takeover (DESIGN §4: "inbound right edge :=
last_synced + N"). The active sends the standby an update each time a counter
has moved ``⌈J / 2⌉`` past the last value it sent, so the acknowledgement has half
an interval to come back before the hold-back (rule 1) bites. DEVIATION (the
document calls the interval "the interval at which the active router sends
packet sequence updates"): we send twice as often, so that the takeover costs
exactly one interval — at most N legitimate inbound packets refused, M outbound
numbers skipped — and never stalls traffic while an update is in flight. The
standby applies updates in order and acknowledges each.

THE AHEAD RULE (invariants I3, I4, I8):

1. *Hold-back.* On the active, each counter has a ``floor``: None while the
   standby cannot hold a copy of the SA, otherwise the smallest value the standby
   may hold. It is set to the current value when the active first sends the SA
   (add or resync) and raised to every acknowledged value. The active never moves
   a counter past ``floor + J``: it does not send sequence number ``floor + J + 1``,
   and does not accept an inbound packet above ``floor + J``. Packets it cannot
   send or accept are *held back* and counted.
2. *Jump.* A standby copy holds the last value applied, ``v ≥ floor``. On takeover
   the new active sets every counter to ``v + J`` and (for ``IN``) marks the whole
   window seen. So everything the old active ever sent or accepted is ``≤ floor + J
   ≤ v + J``: no sequence number is sent twice, no packet accepted twice, the byte
   count never goes back (lifetime never extended), DPD numbers only increase.
3. The rule needs no clock and no timeout, so a silently dead SSP cannot break
   it. The price: an active whose standby has gone quiet stops at ``floor + J`` on
   each SA, and that SA must be rekeyed (a new SA has no standby copy, so no
   floor, until SSP returns). With the defaults that is one million outbound
   packets and 1000 inbound packets past the last acknowledgement.
4. ``IN`` with N = 0 means inbound sync is disabled (there is nothing to bound
   the window with): the active accepts without hold-back, and the standby's copy
   cannot be promoted (secure choice: it is discarded and must be renegotiated).
5. 32-bit limit (RFC 4303 §3.3.3): ``OUT`` never passes 2^32 − 1; an SA whose
   outbound space is exhausted, or whose promoted value would pass it, carries no
   more outbound traffic and must be rekeyed.
6. *Forgotten use.* The other end may have promoted its copy during a split brain
   and used it up to any value before it crashed; after a reboot it cannot say how
   far it went. So when the active hears from a new *incarnation* of the other end
   (it rebooted) while its floors were set for the old one, each counter gets a
   permanent ``cap = floor + J`` — everything the old incarnation can have used is
   above it — that no later acknowledgement lifts, and the SA is never copied to
   the other end again (a copy would be promoted from our values, into the range
   the forgotten incarnation may have used): it must be rekeyed before the cap.
   (Found by the implementation's tests: partition both segments, the standby
   promotes and sends, crashes and restarts, the old active then reused its
   sequence numbers.)

The inbound anti-replay window is written the plain way (RFC 4303 §3.4.3 as a
set): accept ``s`` iff ``s ≥ 1``, ``s > top − W`` and ``s`` not yet seen.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Final

__all__ = [
    "SEQ_MAX",
    "Counter",
    "HaStatus",
    "IkeSa",
    "IpsecSa",
    "Kind",
    "accept_window",
    "accept_window_range",
    "new_counter",
    "promote_counter",
]

SEQ_MAX: Final = 2**32 - 1
"""Largest ESP sequence number (RFC 4303 §2.2, no extended sequence numbers)."""


class Kind(enum.Enum):
    """Replicated counter kinds."""

    # Members are singletons: hash by identity, in C (Enum's __hash__ is Python code).
    __hash__ = object.__hash__

    OUT = "out"
    IN = "in"
    BYTES = "bytes"
    DPD_OUT = "dpd-out"


class HaStatus(enum.Enum):
    """``HA Status`` of an SA (``show crypto ipsec sa``)."""

    # Members are singletons: hash by identity, in C (Enum's __hash__ is Python code).
    __hash__ = object.__hash__

    ACTIVE = "ACTIVE"
    STANDBY = "STANDBY"


@dataclass(frozen=True, slots=True, kw_only=True)
class Counter:
    """One replicated counter (see the table above)."""

    value: int
    """Current value (active) or last applied value (standby)."""
    floor: int | None
    """Active only: hold-back base; None when the standby cannot hold a copy."""
    sent: int
    """Active only: the value last sent to the standby (sync cadence)."""
    cap: int | None = None
    """Active only: a limit no acknowledgement can lift (rule 6), or None."""


def new_counter(value: int = 0, *, cap: int | None = None) -> Counter:
    """A counter with no standby copy (keeping ``cap``, which only a rekey removes)."""
    return Counter(value=value, floor=None, sent=value, cap=cap)


def limit(counter: Counter, jump: int) -> int | None:
    """The highest value the active may move ``counter`` to (rules 1 and 6), None for none."""
    held_back = None if counter.floor is None else counter.floor + jump
    present = [b for b in (held_back, counter.cap) if b is not None]
    return min(present) if present else None


def promote_counter(counter: Counter, jump: int) -> Counter:
    """Takeover: move a standby copy ``jump`` ahead (rule 2); no standby copy exists yet."""
    value = counter.value + jump
    return Counter(value=value, floor=None, sent=value)


@dataclass(frozen=True, slots=True, kw_only=True)
class IkeSa:
    """An ISAKMP SA (phase 1) with the remote peer."""

    ike_id: int
    """Identifier: the initiator cookie (64-bit)."""
    cookie_r: int
    """Responder cookie (64-bit)."""
    expires_ms: int
    """Absolute expiry, ms."""
    dpd_out: Counter
    """Our R-U-THERE sequence numbers (RFC 3706)."""
    dpd_in: int
    """Highest R-U-THERE sequence number accepted from the peer."""
    status: HaStatus
    """ACTIVE on the router in use, STANDBY for a replicated copy."""
    stale: bool
    """Standby copy that may have missed a delete (SSP was lost since it was sent)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IpsecSa:
    """An IPsec SA pair (inbound and outbound) with the remote peer."""

    sa_id: int
    """Identifier of the pair (the harness's choice; stable across rekeys of nothing)."""
    ike_id: int
    """The IKE SA that negotiated it."""
    spi_in: int
    """Inbound SPI (32-bit), chosen by us."""
    spi_out: int
    """Outbound SPI (32-bit), chosen by the peer."""
    transform: tuple[str, ...]
    """Transform set, e.g. (``esp-3des``, ``esp-sha-hmac``)."""
    expires_ms: int
    """Absolute expiry of the seconds lifetime, ms."""
    lifetime_bytes: int
    """Kilobyte lifetime in bytes."""
    out: Counter
    """Highest outbound sequence number sent."""
    inbound: Counter
    """Right edge of the inbound anti-replay window."""
    seen: frozenset[int]
    """Inbound sequence numbers seen inside the window (top − W, top]."""
    byte_count: Counter
    """Bytes counted against the lifetime."""
    status: HaStatus
    """ACTIVE or STANDBY."""
    stale: bool
    """Standby copy that may have missed a delete (see ``IkeSa.stale``)."""
    inbound_known: bool
    """False when inbound sync is disabled (N = 0): the copy cannot be promoted."""

    def counter(self, kind: Kind) -> Counter:
        """The counter of ``kind`` (DPD lives on the IKE SA)."""
        match kind:
            case Kind.OUT:
                return self.out
            case Kind.IN:
                return self.inbound
            case Kind.BYTES:
                return self.byte_count
            case Kind.DPD_OUT:
                msg = "DPD counters live on the IKE SA"
                raise ValueError(msg)

    def with_counter(self, kind: Kind, counter: Counter) -> IpsecSa:
        """A copy with the counter of ``kind`` replaced."""
        match kind:
            case Kind.OUT:
                return replace(self, out=counter)
            case Kind.IN:
                return replace(self, inbound=counter)
            case Kind.BYTES:
                return replace(self, byte_count=counter)
            case Kind.DPD_OUT:
                msg = "DPD counters live on the IKE SA"
                raise ValueError(msg)


def accept_window(top: int, seen: frozenset[int], seq: int, window: int) -> bool:
    """RFC 4303 §3.4.3 as a set: would ``seq`` be accepted?"""
    return seq >= 1 and seq > top - window and seq not in seen


def _slide(top: int, seen: frozenset[int], window: int) -> frozenset[int]:
    return frozenset(s for s in seen if s > top - window)


def accept_window_range(
    top: int, seen: frozenset[int], first: int, last: int, window: int
) -> tuple[int, frozenset[int], list[tuple[int, int]]]:
    """Offer ``first..last`` in order; return the new (top, seen) and accepted runs.

    Equivalent to offering each number in turn; the run is handled in closed form
    so a million-packet burst costs O(window).
    """
    accepted: list[tuple[int, int]] = []
    if first > last:
        return top, seen, accepted
    # Numbers at or below the current top can only be accepted one by one from the set.
    low_end = min(last, top)
    run_start: int | None = None
    for seq in range(max(first, top - window + 1, 1), low_end + 1):
        if accept_window(top, seen, seq, window):
            seen = seen | {seq}
            if run_start is None:
                run_start = seq
        elif run_start is not None:
            accepted.append((run_start, seq - 1))
            run_start = None
    if run_start is not None:
        accepted.append((run_start, low_end))
    if last > top:
        start = max(first, top + 1)
        new_top = last
        fresh = frozenset(range(max(start, new_top - window + 1), new_top + 1))
        seen = _slide(new_top, seen, window) | fresh
        if accepted and accepted[-1][1] == start - 1:
            accepted[-1] = (accepted[-1][0], last)
        else:
            accepted.append((start, last))
        top = new_top
    return top, seen, accepted
