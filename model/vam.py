"""The crypto card as a resource (DESIGN §4 "VAM resource model").

Theory of operation
-------------------
Each router has one engine (document Restrictions: "a single VAM/VAM2 card in each
active/standby router"): none (software), VAM or VAM2. It holds at most
``capacity`` IPsec SAs, counting each direction (a pair uses two) and counting
standby copies as well as active SAs, and it runs only the transforms it
supports. Admission is a pure question: given what the card already holds, may
it take one more pair with this transform? The answer is a reason, or None.

A standby that cannot hold a replicated SA does not lose it silently: it refuses
the copy, says so to the active, and reports HA as degraded (invariant I7).
"""

from __future__ import annotations

import enum

__all__ = ["Refusal", "admit", "sas_per_pair"]


class Refusal(enum.Enum):
    """Why the card refused an SA."""

    FULL = "card full"
    UNSUPPORTED = "transform not supported by the card"


def sas_per_pair() -> int:
    """IPsec SAs one negotiated pair occupies on the card (inbound and outbound)."""
    return 2


def admit(
    *, capacity: int | None, in_use: int, transform: tuple[str, ...], supported: frozenset[str]
) -> Refusal | None:
    """Whether one more SA pair with ``transform`` fits; None means admitted."""
    if any(part not in supported for part in transform):
        return Refusal.UNSUPPORTED
    if capacity is not None and in_use + sas_per_pair() > capacity:
        return Refusal.FULL
    return None
