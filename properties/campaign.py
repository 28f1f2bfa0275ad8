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

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase
from hypothesis.stateful import get_state_machine_test, run_state_machine_as_test
from vpnha.impl import mutants
from vpnha.model import hsrp
from vpnha.model import operations as op

from .machines import COVERAGE, LAST_FAILURE, LockstepMachine
from .trace import RunSpec, TraceFile, replay, shrink, signature

__all__ = ["HuntResult", "hsrp_cell_labels", "hunt", "hunt_parallel", "open_database"]


def open_database(spec: str | None) -> ExampleDatabase | None:
    """The example database named by ``spec``: None or ``none`` for none, ``redis://…``
    for Hypothesis's Redis database (several machines share what they found; needs the
    ``redis`` package: ``pip install 'vpnha[redis]'``), anything else a directory.

    Raises ValueError naming the problem (a bad URL, redis not installed).
    """
    if spec is None or spec == "none":
        return None
    if spec.startswith(("redis://", "rediss://", "unix://")):
        try:
            import redis  # noqa: PLC0415 - optional: only this choice needs it
            from hypothesis.extra.redis import RedisExampleDatabase  # noqa: PLC0415
        except ImportError as error:
            msg = f"--db {spec}: the redis package is missing (pip install 'vpnha[redis]')"
            raise ValueError(msg) from error
        try:
            client = redis.Redis.from_url(spec)
        except ValueError as error:
            msg = f"--db {spec}: not a Redis URL ({error})"
            raise ValueError(msg) from error
        return RedisExampleDatabase(client, key_prefix=b"vpnha:")
    return DirectoryBasedExampleDatabase(Path(spec))


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
    cpu_seconds: float = 0.0
    """CPU time of this process during the search (steadier than wall time on a shared
    machine; the post-pass not included)."""
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
        return self._labels("cell: ")

    def ssp_kinds_hit(self) -> frozenset[str]:
        """SSP frame kinds written during the search (``coverage.ssp_kinds`` labels)."""
        return frozenset(key for key in (self.coverage or {}) if key.startswith("ssp: "))

    def sa_transitions(self) -> dict[str, int]:
        """SA status changes the model went through, with how often (``coverage``)."""
        return {
            key.removeprefix("sa: "): count
            for key, count in sorted((self.coverage or {}).items())
            if key.startswith("sa: ")
        }

    def _labels(self, prefix: str) -> frozenset[str]:
        return frozenset(
            key.removeprefix(prefix) for key in (self.coverage or {}) if key.startswith(prefix)
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
    search_seed: int | None = None,
) -> HuntResult:
    """Search for a lockstep failure (with ``mutant`` on); shrink and describe what failed.

    ``progress(examples, steps)`` is called after every example. ``search_seed`` fixes
    Hypothesis's seed: a reproducible search other than the derandomised one (as with
    ``derandomize``, Hypothesis then uses no database). ``database`` serves random
    searches: failures found before are tried first, new ones are stored.
    """
    if search_seed is not None:
        derandomize = False
        database = None
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
    started, cpu = time.monotonic(), time.process_time()
    with mutants.enabled(mutant):
        try:
            if search_seed is None:
                run_state_machine_as_test(_CountingMachine, settings=config)
            else:
                seed(search_seed)(get_state_machine_test(_CountingMachine, settings=config))()
        except Exception:
            if not LAST_FAILURE:
                raise
    seconds = time.monotonic() - started
    cpu = time.process_time() - cpu
    _CountingMachine.progress = None
    result = HuntResult(
        mutant=mutant,
        seconds=seconds,
        cpu_seconds=cpu,
        steps=_CountingMachine.steps,
        examples=COVERAGE["examples"],
        coverage=dict(COVERAGE),
    )
    if not LAST_FAILURE:
        return result
    failure = LAST_FAILURE[0]
    spec = RunSpec(
        configs=failure.configs,
        latency_ms=failure.latency_ms,
        seed=failure.seed,
        mutant=mutant,
    )
    result.found_length = len(failure.operations)
    begun = time.monotonic()
    # A seeded bug's counterexample may take any route to it that the clean
    # implementation survives (shrink's any_failure).
    operations = shrink(
        spec, failure.operations, budget_s=shrink_budget_s, any_failure=mutant is not None
    )
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


def _hunt_worker(arguments: dict[str, object]) -> HuntResult:
    database = open_database(arguments.pop("database_spec"))  # type: ignore[arg-type]
    return hunt(database=database, **arguments)  # type: ignore[arg-type]


def hunt_parallel(
    *,
    workers: int,
    mutant: str | None = None,
    max_examples: int = 100,
    steps: int = 40,
    first_seed: int | None = 0,
    database_spec: str | None = None,
    shrink_budget_s: float = 60.0,
) -> HuntResult:
    """``workers`` campaigns at once, in separate processes, sharing ``max_examples``:
    reproducible searches with Hypothesis seeds ``first_seed``, ``first_seed + 1``, …, or
    with ``first_seed`` None random searches sharing the database ``database_spec`` (see
    :func:`open_database`). The result adds their steps and coverage and keeps the first
    worker's failure."""
    if workers < 1:
        msg = f"workers {workers} must be at least 1"
        raise ValueError(msg)
    share = max(1, -(-max_examples // workers))
    jobs = [
        {
            "mutant": mutant,
            "max_examples": share,
            "steps": steps,
            "search_seed": None if first_seed is None else first_seed + index,
            "derandomize": False,
            "database_spec": database_spec,
            "shrink_budget_s": shrink_budget_s,
        }
        for index in range(workers)
    ]
    started = time.monotonic()
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no shared state
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        results = list(pool.map(_hunt_worker, jobs))
    coverage: dict[str, int] = {}
    for result in results:
        for key, value in (result.coverage or {}).items():
            coverage[key] = coverage.get(key, 0) + value
    failed = next((r for r in results if r.trace is not None), None)
    return HuntResult(
        mutant=mutant,
        seconds=time.monotonic() - started,
        cpu_seconds=sum(r.cpu_seconds for r in results),
        steps=sum(r.steps for r in results),
        trace=failed.trace if failed else None,
        found_length=failed.found_length if failed else 0,
        shrink_seconds=failed.shrink_seconds if failed else 0.0,
        examples=sum(r.examples for r in results),
        coverage=coverage,
    )
