"""Lockstep speed and the seeded bugs' kill times (figures, not a pass/fail test).

    python bench/lockstep.py

1. **Steps per second**: a derandomised :class:`LockstepMachine` campaign on the
   clean implementation (80 runs of up to 40 steps). A step is one operation applied
   to the model *and* to the implementation's routers in the simulated world, both
   observed, I1–I9 checked on each side and the two compared. Steps are not equal in
   cost: an ``Advance`` of 40 s runs ~160 hello exchanges per group on both sides, a
   composite such as ``fail_and_recover`` waits out a settle time; the figure is the
   campaign's mix. The machine may be shared: steps per CPU second of this process are
   printed too (steadier than wall time when others load it). RFC 2281 cells: the §5.7
   cells the model applied, whether or not they changed the phase.
2. **Mutants**: for each seeded bug (``vpnha.impl.mutants``) the gate's campaign with it
   switched on (seeded searches of 15 examples, seeds 0, 1, …, up to 100 examples);
   the time until the first failing example (wall and CPU seconds of this process), the
   length of that example and of the counterexample after the post-pass, the length of
   the corpus's counterexample for it (the shortest known), and what caught it.

Prints markdown tables for the README.
"""

from __future__ import annotations

import time
from pathlib import Path

from vpnha.impl.mutants import MUTANTS
from vpnha.properties.campaign import hsrp_cell_labels, hunt
from vpnha.properties.gate import run_campaign
from vpnha.properties.trace import load_trace

CORPUS = Path(__file__).resolve().parents[1] / "counterexamples"


def main() -> None:
    started = time.perf_counter()
    cpu = time.process_time()
    clean = hunt(max_examples=80, steps=40, derandomize=True)
    cpu = time.process_time() - cpu
    cells = clean.cells_hit() & hsrp_cell_labels()
    print("| campaign | runs | steps | seconds | steps/s | steps/CPU s | RFC 2281 cells | result |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    verdict = "clean" if clean.trace is None else f"FAILED: {clean.trace.failure}"
    print(
        f"| clean implementation | {clean.examples} | {clean.steps} | {clean.seconds:.1f} | "
        f"{clean.steps_per_second:.0f} | {clean.steps / cpu:.0f} | "
        f"{len(cells)}/{len(hsrp_cell_labels())} | {verdict} |"
    )
    print()
    print(
        "| seeded bug | killed | seconds to kill | CPU s to kill | found at (steps) | "
        "shrunk to | committed | caught by |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for name in sorted(MUTANTS):
        result = run_campaign(name, 100, 40)
        committed = _committed_length(name)
        if result.trace is None:
            times = f"{result.seconds:.1f} | {result.cpu_seconds:.1f}"
            print(f"| `{name}` | **no** | {times} | - | - | {committed} | - |")
            continue
        print(
            f"| `{name}` | yes | {result.seconds:.1f} | {result.cpu_seconds:.1f} | "
            f"{result.found_length} | {len(result.trace.operations)} | {committed} | "
            f"{result.trace.failure} |"
        )
    print(f"\n(run took {time.perf_counter() - started:.0f} s)")


def _committed_length(name: str) -> int | str:
    """Operations in the corpus's counterexample for ``name`` (the shortest known: the
    shrunk length's yardstick), or "-" if there is none."""
    path = CORPUS / f"{name}.itf.json"
    return len(load_trace(path).operations) if path.exists() else "-"


if __name__ == "__main__":
    main()
