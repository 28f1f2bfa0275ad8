"""Wall-clock to integer milliseconds, at the driver boundary only (DESIGN §3).

The sans-IO cores take ``now`` as integer milliseconds; the live drivers read it
here and nowhere else. The time base is ``CLOCK_MONOTONIC``: it never goes back
(the cores refuse a clock that does), and every process on one host reads the same
value, so the absolute SA lifetimes that SSP replicates mean the same instant on
both routers of the lab. (Two routers on two hosts would need a synchronised clock
here instead.) ``epoch_ms`` converts a monotonic instant to wall-clock time for
``show`` output ("Active since 13:00:16 ...").
"""

from __future__ import annotations

import time

__all__ = ["LiveClock"]


class LiveClock:
    """The live drivers' clock: integer milliseconds of ``CLOCK_MONOTONIC``."""

    def __init__(self) -> None:
        self.epoch_ms = time.time_ns() // 1_000_000 - self.now()
        """Wall-clock milliseconds since 1970 at monotonic instant 0."""

    @staticmethod
    def now() -> int:
        """Milliseconds of the monotonic clock (shared by every process of the host)."""
        return time.monotonic_ns() // 1_000_000

    def loop_delay_s(self, deadline_ms: int) -> float:
        """Seconds from now until ``deadline_ms`` (0 when it has passed)."""
        return max(0.0, (deadline_ms - self.now()) / 1000.0)
