"""Campaigns: the lockstep machine under Hypothesis, then the post-pass, then a trace file.

Theory of operation
-------------------
:func:`hunt` runs :class:`~vpnha.properties.machines.LockstepMachine` (optionally
with one seeded bug switched on, :mod:`vpnha.impl.mutants`) for a budget of examples.
Hypothesis generates; its own shrinking is switched off because on long stateful
runs it is slow and stops at local minima (mbt-anchors §3). When an example fails,
the machine has recorded its operations; :func:`vpnha.properties.trace.shrink`
deletes what the failure does not need, replaying each candidate on the model and
the implementation, and the result can be written as an ITF trace.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, settings
from hypothesis.database import ExampleDatabase
from hypothesis.stateful import run_state_machine_as_test
from vpnha.impl import mutants
from vpnha.model import hsrp
from vpnha.model import operations as op

from .machines import COVERAGE, LAST_FAILURE, LockstepMachine, lockstep_config_texts
from .trace import RunSpec, TraceFile, replay, shrink, signature

__all__ = ["HuntResult", "hsrp_cell_labels", "hunt"]


def hsrp_cell_labels() -> frozenset[str]:
    """Every RFC 2281 §5.7 cell the model distinguishes (its table and the alternatives)."""
    labels: set[str] = set()
    for cell in hsrp.TABLE.values():
        labels.add(cell.label)
        labels.update(alt.label for alt in (cell.preempt, cell.no_vip) if alt is not None)
    return frozenset(labels)


@dataclass(slots=True, kw_only=True)
class HuntResult:
    """What a campaign found."""

    mutant: str | None
    seconds: float
    """Wall time of the search (the post-pass not included)."""
    steps: int
    """Lockstep steps executed by the search."""
    trace: TraceFile | None = None
    """The shrunk counterexample, or None when nothing failed."""
    found_length: int = 0
    """Operations in the failing example as Hypothesis found it."""
    shrink_seconds: float = 0.0
    examples: int = 0
    coverage: dict[str, int] | None = None
    """What the search exercised (``machines.COVERAGE``: cells, operations)."""

    @property
    def steps_per_second(self) -> float:
        """Lockstep steps per wall second of the search."""
        return self.steps / self.seconds if self.seconds > 0 else 0.0

    def cells_hit(self) -> frozenset[str]:
        """RFC 2281 cells the model took during the search."""
        return frozenset(
            key.removeprefix("cell: ") for key in (self.coverage or {}) if key.startswith("cell: ")
        )

    @property
    def killed(self) -> bool:
        """Whether the campaign found a failure."""
        return self.trace is not None


class _CountingMachine(LockstepMachine):
    steps = 0
    progress: Callable[[int, int], None] | None = None

    def _do(self, operation: op.Operation) -> None:
        _CountingMachine.steps += 1
        super()._do(operation)

    def teardown(self) -> None:
        if _CountingMachine.progress is not None:
            _CountingMachine.progress(COVERAGE["examples"], _CountingMachine.steps)
        super().teardown()


def hunt(
    *,
    mutant: str | None = None,
    max_examples: int = 100,
    steps: int = 40,
    derandomize: bool = True,
    database: ExampleDatabase | None = None,
    shrink_budget_s: float = 60.0,
    progress: Callable[[int, int], None] | None = None,
) -> HuntResult:
    """Search for a lockstep failure (with ``mutant`` on); shrink and describe what failed.

    ``progress(examples, steps)`` is called after every example.
    """
    LAST_FAILURE.clear()
    COVERAGE.clear()
    _CountingMachine.steps = 0
    _CountingMachine.progress = progress
    config = settings(
        max_examples=max_examples,
        stateful_step_count=steps,
        deadline=None,
        derandomize=derandomize,
        database=database,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    started = time.monotonic()
    with mutants.enabled(mutant):
        try:
            run_state_machine_as_test(_CountingMachine, settings=config)
        except Exception:
            if not LAST_FAILURE:
                raise
    seconds = time.monotonic() - started
    _CountingMachine.progress = None
    result = HuntResult(
        mutant=mutant,
        seconds=seconds,
        steps=_CountingMachine.steps,
        examples=COVERAGE["examples"],
        coverage=dict(COVERAGE),
    )
    if not LAST_FAILURE:
        return result
    failure = LAST_FAILURE[0]
    spec = RunSpec(
        configs=lockstep_config_texts(),
        latency_ms=failure.latency_ms,
        seed=failure.seed,
        mutant=mutant,
    )
    result.found_length = len(failure.operations)
    begun = time.monotonic()
    operations = shrink(spec, failure.operations, budget_s=shrink_budget_s)
    result.shrink_seconds = time.monotonic() - begun
    steps_run = replay(spec, operations, stop_at_failure=True)
    result.trace = TraceFile(
        spec=spec,
        operations=operations,
        expect="fail",
        failure=signature(steps_run),
        description=(
            f"killed by the lockstep suite: {mutants.MUTANTS[mutant]}"
            if mutant
            else "a lockstep failure of the clean implementation"
        ),
    )
    return result
