"""Model speed: how fast the executable specification runs (figures, not a pass/fail test).

    python bench/model.py

Prints, for the document's pair with the document's timers (hello 500 ms):
simulated seconds per wall-clock second and events per second while idle and
under traffic, and the cost of one observation plus the I1-I9 check.
"""

from __future__ import annotations

import time

from vpnha.model import operations as op
from vpnha.model.system import apply_in_place, boot
from vpnha.properties.invariants import InvariantChecker
from vpnha.properties.observation import observe_model
from vpnha.properties.scenarios import builtin_configs, cluster_params


def _events(system: object) -> int:
    return len(getattr(system, "log", []))


def main() -> None:
    params = cluster_params(*builtin_configs(), jitter_ms=(37, 211, 5, 123))

    system = boot(params)
    start = time.perf_counter()
    apply_in_place(system, op.Advance(ms=600_000))
    idle = time.perf_counter() - start
    print(f"idle cluster: {600 / idle:8.0f} simulated s per wall s")

    apply_in_place(system, op.Establish(sa_id=1, spi_in=1000, spi_out=2000, cookie_i=1, cookie_r=2))
    start = time.perf_counter()
    ticks = 3000
    for _ in range(ticks):
        apply_in_place(system, op.SendTraffic(packets=100, size=100))
        apply_in_place(system, op.ReceiveTraffic(packets=100, size=100))
        apply_in_place(system, op.Advance(ms=100))
    busy = time.perf_counter() - start
    print(
        f"with traffic: {ticks * 0.1 / busy:8.0f} simulated s per wall s, "
        f"{3 * ticks / busy:8.0f} operations/s"
    )

    checker = InvariantChecker()
    start = time.perf_counter()
    rounds = 200
    for _ in range(rounds):
        checker.observe(observe_model(system))
    per = (time.perf_counter() - start) / rounds
    print(
        f"observe + check I1-I9: {per * 1e6:8.0f} µs per observation "
        f"({len(system.transmitted)} transmitted runs in the wire log)"
    )


if __name__ == "__main__":
    main()
