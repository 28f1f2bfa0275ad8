"""Counterexamples as ITF traces: save, load, replay, and shrink by deleting steps.

Theory of operation
-------------------
A lockstep run is a list of operations (:mod:`vpnha.model.operations`) applied to a
:class:`~vpnha.properties.lockstep.LockstepPair` built from a :class:`RunSpec` (the
two configurations, the link latency, the world's seed). That is all a replay needs:
every nondeterministic choice is in the operations or the seed.

**ITF.** A trace is written in the Apalache/Quint Informal Trace Format (via the
``itf-py`` library): ``meta`` carries the run spec, what the file expects
(``pass``, or ``fail`` with the invariant or difference and the seeded bug switched
on), the vpnha version; ``vars`` are ``step``, ``op``, ``model`` and ``impl``; state
``k`` holds the ``k``-th operation (a tagged record, ``{"tag": "Crash", "value":
{"router": 0}}``) and both sides' observations after it (HSRP state per group,
role, SSP, SA counters, traffic counters), so the file can be read without
running anything.

**Replay** (:func:`replay`) re-executes the operations and reports, per step, the
invariant violations on each side and the model/implementation differences, and
where the first problem appeared.

**Shrinking** (:func:`shrink`). Hypothesis stops at local minima on long stateful
runs (mbt-anchors §3); this post-pass deletes what the failure does not need. A
candidate is kept when its replay still fails *the same way* (its first problem has
the same :func:`signature`: invariant, or kind of difference), cut after the failing
step. Each replay is a fresh run, so the result depends only on the operations; it
costs about as much as the simulated time it covers, so the passes go cheapest (most
removed per replay) first, in rounds until a round removes nothing or the budget is
spent:

1. consecutive Advances become one of their sum (a deletion that needs time to
   pass in one piece, or one operation where a search left several);
2. in a stretch that repeats a block (failover cycles), whole copies of the block go,
   halves first, then one position of the block from every copy at once;
3. chunks of the list go (halves, quarters, …; single operations and neighbouring
   pairs at every position);
4. an operation goes together with the one that undoes it (crash and restart,
   interface down and up, an SA and its delete), or alone, each also with the
   Advances around it merged;
5. each ``Advance`` is halved or cut by a quarter.

A snapshot of the pair after a common prefix would save replaying it, but a
:class:`~vpnha.properties.lockstep.LockstepPair` does not copy (``copy.deepcopy``
fails on the parsed configurations' mapping proxies and on ``cryptography``'s cipher
and HMAC contexts, whose state cannot be copied exactly), so every candidate replays
from time zero. :func:`shrink_with` runs the same passes on any oracle.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeAlias

from itf_py import State, Trace, trace_from_json, trace_to_json
from vpnha.impl import mutants
from vpnha.impl.config import RouterConfig, parse_config
from vpnha.model import operations as op
from vpnha.model.params import GroupSide

from vpnha import __version__

from .invariants import ContinuityWatch, InvariantChecker
from .lockstep import LockstepPair
from .observation import Observation, RouterObs

__all__ = [
    "Oracle",
    "RunSpec",
    "StepResult",
    "TraceFile",
    "corpus_table",
    "decode_operation",
    "encode_operation",
    "load_trace",
    "render_replay",
    "replay",
    "save_trace",
    "shrink",
    "shrink_with",
    "signature",
    "verdict_matches",
]

FORMAT_DESCRIPTION: Final = (
    "vpnha counterexample: Apalache/Quint Informal Trace Format; state k holds operation k "
    "and the model's and the implementation's observations after it"
)
_OPERATIONS: Final[dict[str, type[Any]]] = {
    name: getattr(op, name) for name in op.__all__ if name != "Operation"
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSpec:
    """Everything besides the operations that a replay needs."""

    configs: tuple[str, str]
    """Both routers' configuration text."""
    latency_ms: int = 1
    seed: int = 1
    mutant: str | None = None
    """The seeded bug switched on in the implementation (``vpnha.impl.mutants``), if any."""

    def router_configs(self) -> tuple[RouterConfig, RouterConfig]:
        """The parsed configurations."""
        return (
            parse_config(self.configs[0], source="router 1"),
            parse_config(self.configs[1], source="router 2"),
        )

    def pair(self) -> LockstepPair:
        """A fresh lockstep pair at time zero."""
        return LockstepPair(self.router_configs(), latency_ms=self.latency_ms, seed=self.seed)


@dataclass(frozen=True, slots=True, kw_only=True)
class StepResult:
    """What one step of a replay showed."""

    index: int
    operation: op.Operation
    model: Observation
    impl: Observation
    model_violations: tuple[str, ...]
    impl_violations: tuple[str, ...]
    differences: tuple[str, ...]

    @property
    def problems(self) -> tuple[str, ...]:
        """Every violation and difference, labelled."""
        return (
            tuple(f"model {v}" for v in self.model_violations)
            + tuple(f"impl {v}" for v in self.impl_violations)
            + tuple(f"differ: {d}" for d in self.differences)
        )


@dataclass(slots=True, kw_only=True)
class TraceFile:
    """A counterexample (or a passing run) as stored in ``counterexamples/``."""

    spec: RunSpec
    operations: list[op.Operation]
    expect: str = "fail"
    """``fail``: the replay must show ``failure``; ``pass``: it must show nothing."""
    failure: str = ""
    """The signature of the expected failure (see :func:`signature`)."""
    description: str = ""
    steps: list[StepResult] = field(default_factory=list)
    """Filled by :func:`replay` (and written to the file's states)."""


# --- operations <-> ITF values -------------------------------------------------------------


def encode_operation(operation: op.Operation) -> dict[str, Any]:
    """``{"tag": "Crash", "value": {"router": 0}}`` (ints stay ints; ITF marks them later)."""
    fields = {
        f.name: _encode_field(getattr(operation, f.name)) for f in dataclasses.fields(operation)
    }
    return {"tag": type(operation).__name__, "value": fields}


def _encode_field(value: object) -> object:
    if isinstance(value, GroupSide):
        return value.value
    return value


def decode_operation(value: Any) -> op.Operation:
    """The inverse of :func:`encode_operation` (a dict or an ITF tagged record)."""
    if isinstance(value, dict):
        tag, fields = value["tag"], dict(value.get("value") or {})
    else:  # itf-py turns {"tag", "value"} into a namedtuple named after the tag
        tag = type(value).__name__
        fields = dict(value._asdict())
    cls = _OPERATIONS.get(tag)
    if cls is None:
        msg = f"op: unknown operation tag {tag!r}"
        raise ValueError(msg)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in fields:
            msg = f"op {tag}: field {f.name!r} missing"
            raise ValueError(msg)
        raw = fields[f.name]
        kwargs[f.name] = GroupSide(raw) if f.name == "side" else raw
    result: op.Operation = cls(**kwargs)
    return result


def _router_summary(router: RouterObs) -> dict[str, Any]:
    return {
        "name": router.name,
        "up": router.up,
        "role": router.role,
        "inside": router.inside.state,
        "outside": router.outside.state,
        "inside_priority": router.inside.priority,
        "outside_priority": router.outside.priority,
        "ssp": router.ssp_connected,
        "sas": [
            {
                "spi_in": sa.spi_in,
                "spi_out": sa.spi_out,
                "status": sa.status,
                "usable": not sa.stale,
                "next_out": sa.next_out,
                "inbound_top": sa.inbound_top,
                "bytes": sa.bytes_used,
            }
            for sa in router.sas
        ],
    }


def _summary(obs: Observation) -> dict[str, Any]:
    return {
        "now_ms": obs.now_ms,
        "routers": [_router_summary(r) for r in obs.routers],
        "delivered_to_lan": obs.delivered_to_lan,
        "delivered_to_remote": obs.delivered_to_remote,
        "peer_refused": obs.peer_refused,
        "cleartext_leaked": obs.cleartext_leaked,
    }


# --- files ---------------------------------------------------------------------------------


def save_trace(path: str | Path, trace: TraceFile) -> None:
    """Write ``trace`` (replayed first if it has no steps) as ITF JSON."""
    if not trace.steps:
        trace.steps = replay(trace.spec, trace.operations)
    meta = {
        "format": "ITF",
        "format-description": FORMAT_DESCRIPTION,
        "source": "vpnha",
        "description": trace.description,
        "vpnha": {
            "version": __version__,
            "expect": trace.expect,
            "failure": trace.failure,
            "mutant": trace.spec.mutant,
            "latency_ms": trace.spec.latency_ms,
            "seed": trace.spec.seed,
            "configs": list(trace.spec.configs),
        },
    }
    states = [
        State(
            meta={"index": step.index, "problems": list(step.problems)},
            values={
                "step": step.index,
                "op": encode_operation(step.operation),
                "model": _summary(step.model),
                "impl": _summary(step.impl),
            },
        )
        for step in trace.steps
    ]
    document = trace_to_json(
        Trace(meta=meta, params=[], vars=["step", "op", "model", "impl"], states=states, loop=None)
    )
    Path(path).write_text(json.dumps(document, indent=1) + "\n")


def load_trace(path: str | Path) -> TraceFile:
    """Read an ITF counterexample written by :func:`save_trace` (ValueError names the field)."""
    try:
        document = json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        msg = f"{path}: not JSON ({error})"
        raise ValueError(msg) from error
    if not isinstance(document, dict) or not isinstance(document.get("#meta"), dict):
        msg = f"{path}: #meta missing: not an ITF trace"
        raise ValueError(msg)
    if not isinstance(document["#meta"].get("vpnha"), dict):
        msg = f"{path}: meta.vpnha missing: not a vpnha trace"
        raise ValueError(msg)
    for key, kind in (("vars", list), ("states", list)):
        if not isinstance(document.get(key), kind):
            msg = f"{path}: {key} missing or not a list"
            raise ValueError(msg)
    try:
        trace = trace_from_json(document)
    except (KeyError, TypeError, ValueError) as error:
        msg = f"{path}: not a valid ITF trace ({error!r})"
        raise ValueError(msg) from error
    info = trace.meta["vpnha"]
    configs = info.get("configs")
    if not (isinstance(configs, list) and len(configs) == 2):
        msg = f"{path}: meta.vpnha.configs must hold two configuration texts"
        raise ValueError(msg)
    expect = info.get("expect")
    if expect not in ("pass", "fail"):
        msg = f"{path}: meta.vpnha.expect {expect!r} must be 'pass' or 'fail'"
        raise ValueError(msg)
    spec = RunSpec(
        configs=(str(configs[0]), str(configs[1])),
        latency_ms=int(info.get("latency_ms", 1)),
        seed=int(info.get("seed", 1)),
        mutant=info.get("mutant") or None,
    )
    try:
        operations = [decode_operation(state.values["op"]) for state in trace.states]
    except (KeyError, TypeError) as error:
        msg = f"{path}: a state has no valid op ({error!r})"
        raise ValueError(msg) from error
    return TraceFile(
        spec=spec,
        operations=operations,
        expect=expect,
        failure=str(info.get("failure", "")),
        description=str(trace.meta.get("description", "")),
    )


def corpus_table(directory: str | Path) -> str:
    """The Markdown table of ``counterexamples/README.md``: one row per trace file."""
    rows = ["| file | seeded bug | killed by | steps |", "|---|---|---|---:|"]
    for path in sorted(Path(directory).glob("*.itf.json")):
        trace = load_trace(path)
        mutant = trace.spec.mutant
        if mutant is not None:
            bug = mutants.MUTANTS.get(mutant, mutant)
        elif trace.expect == "fail":
            bug = "- (open divergence, must fail)"
        else:
            bug = "- (resolved divergence, must pass)"
        killed_by = trace.failure if trace.expect == "fail" else "-"
        rows.append(f"| `{path.name}` | {bug} | {killed_by} | {len(trace.operations)} |")
    return "\n".join(rows) + "\n"


# --- replay and shrinking --------------------------------------------------------------------


def replay(
    spec: RunSpec, operations: Sequence[op.Operation], *, stop_at_failure: bool = False
) -> list[StepResult]:
    """Run ``operations`` on a fresh pair (with the spec's mutant on) and report each step."""
    return replay_pair(spec, operations, stop_at_failure=stop_at_failure)[0]


def replay_pair(
    spec: RunSpec, operations: Sequence[op.Operation], *, stop_at_failure: bool = False
) -> tuple[list[StepResult], LockstepPair]:
    """Like :func:`replay`, and the pair afterwards (its world has the wire log)."""
    with mutants.enabled(spec.mutant):
        pair = spec.pair()
        checkers = (InvariantChecker(), InvariantChecker())
        watches = (ContinuityWatch(), ContinuityWatch())
        steps: list[StepResult] = []
        before = pair.observe()
        for index, operation in enumerate(operations):
            pair.apply(operation)
            model, impl = pair.observe()
            model_violations = [str(v) for v in checkers[0].observe(model)]
            impl_violations = [str(v) for v in checkers[1].observe(impl)]
            at = f"I10 at {model.now_ms} ms"
            model_violations += [f"{at}: {p}" for p in watches[0].step(operation, before[0], model)]
            impl_violations += [f"{at}: {p}" for p in watches[1].step(operation, before[1], impl)]
            before = (model, impl)
            result = StepResult(
                index=index,
                operation=operation,
                model=model,
                impl=impl,
                model_violations=tuple(model_violations),
                impl_violations=tuple(impl_violations),
                differences=tuple(pair.differences((model, impl))),
            )
            steps.append(result)
            if stop_at_failure and result.problems:
                break
        return steps, pair


def signature(steps: Sequence[StepResult]) -> str:
    """What kind of failure a replay shows: its first problem with the details removed.

    ``impl I3``, ``model I5``, ``differ: 7200-1 SA next outbound seq`` … ; "" if none.
    """
    for step in steps:
        for problem in step.problems:
            return _kind(problem)
    return ""


def _kind(problem: str) -> str:
    if problem.startswith("differ: "):
        text = problem.removeprefix("differ: ")
        subject, _, _ = text.partition(":")
        words = [w for w in subject.split() if not w.startswith("0x")]
        if "SA" in words:
            words = [w for w in words if w not in ("spi-in",)]
        return "differ: " + " ".join(words)
    side, _, rest = problem.partition(" ")
    return f"{side} {rest.split(' ', 1)[0]}"


Oracle: TypeAlias = Callable[[Sequence[op.Operation]], int | None]
"""Replays a candidate list of operations: how many of them the failure took (the
failing step's index + 1) when it fails the way being shrunk, else None."""

_MAX_PERIOD = 24
"""Longest repeated block (operations) that the cycle passes look for."""


def shrink(
    spec: RunSpec,
    operations: Sequence[op.Operation],
    *,
    budget_s: float = 60.0,
    clock: Callable[[], float] | None = None,
    any_failure: bool = False,
) -> list[op.Operation]:
    """Delete the steps the failure does not need (see the module docstring).

    Every candidate is replayed on a fresh pair and kept only when its first problem has
    the original's :func:`signature`, so the result is a genuine counterexample of the
    same kind whatever the budget.

    ``any_failure`` (a seeded bug's campaign, ``spec.mutant`` set): a candidate is kept
    when it fails in any way with the bug switched on and passes without it — what a
    must-fail trace promises — so that the post-pass may move to a shorter route to the
    same bug (a search that met it through a race of IKE copies, when a plain crash
    shows it too). Each kept candidate costs one more replay, without the bug. If the
    original fails without the bug as well, the exact signature is kept instead.
    """
    steps = replay(spec, operations, stop_at_failure=True)
    target = signature(steps)
    if not target:
        msg = "shrink: the operations do not fail"
        raise ValueError(msg)
    found = operations[: len(steps)]
    clean = dataclasses.replace(spec, mutant=None)

    def passes_clean(candidate: Sequence[op.Operation]) -> bool:
        return not signature(replay(clean, candidate, stop_at_failure=True))

    def same_failure(candidate: Sequence[op.Operation]) -> int | None:
        replayed = replay(spec, candidate, stop_at_failure=True)
        return len(replayed) if signature(replayed) == target else None

    def kills_the_bug(candidate: Sequence[op.Operation]) -> int | None:
        replayed = replay(spec, candidate, stop_at_failure=True)
        if not signature(replayed) or not passes_clean(candidate[: len(replayed)]):
            return None
        return len(replayed)

    oracle = (
        kills_the_bug
        if any_failure and spec.mutant is not None and passes_clean(found)
        else same_failure
    )
    return shrink_with(found, oracle, budget_s=budget_s, clock=clock)


def shrink_with(
    operations: Sequence[op.Operation],
    oracle: Oracle,
    *,
    budget_s: float = 60.0,
    clock: Callable[[], float] | None = None,
) -> list[op.Operation]:
    """The post-pass on any :data:`Oracle` (``operations`` must fail; it is not asked).

    Runs the passes in order, cheapest first, and again while a round still removes
    something and the budget lasts. Returns the smallest list the oracle accepted.
    """
    now = clock or time.monotonic
    probe = _Probe(oracle, deadline=now() + budget_s, clock=now)
    current = list(operations)
    while not probe.out_of_time():
        before = current
        for shrink_pass in _PASSES:
            current = shrink_pass(current, probe)
        if current == before:
            break
    return current


class _Probe:
    """Asks the oracle about each candidate once, until the deadline."""

    def __init__(self, oracle: Oracle, *, deadline: float, clock: Callable[[], float]) -> None:
        self._oracle = oracle
        self._deadline = deadline
        self._clock = clock
        self._verdicts: dict[tuple[op.Operation, ...], list[op.Operation] | None] = {}

    def out_of_time(self) -> bool:
        """Whether the budget is spent."""
        return self._clock() >= self._deadline

    def smaller(self, candidate: Sequence[op.Operation]) -> list[op.Operation] | None:
        """``candidate`` cut after its failing step if it fails the same way, else None."""
        key = tuple(candidate)
        if key in self._verdicts:
            return self._verdicts[key]
        if not key or self.out_of_time():
            return None
        needed = self._oracle(key)
        verdict = None if needed is None else list(key[:needed])
        self._verdicts[key] = verdict
        return verdict


def _merge_run(operations: Sequence[op.Operation], start: int, stop: int) -> list[op.Operation]:
    """``operations`` with the Advances in ``[start, stop)`` replaced by one of their sum."""
    total_ms = sum(o.ms for o in operations[start:stop] if isinstance(o, op.Advance))
    return [*operations[:start], op.Advance(ms=total_ms), *operations[stop:]]


def _advance_runs(operations: Sequence[op.Operation]) -> list[tuple[int, int]]:
    """``(start, stop)`` of every stretch of two or more consecutive Advances."""
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for index, operation in enumerate([*operations, None]):
        if isinstance(operation, op.Advance):
            start = index if start is None else start
            continue
        if start is not None and index - start >= 2:
            runs.append((start, index))
        start = None
    return runs


def _without(
    operations: Sequence[op.Operation], positions: Sequence[int], *, merge: bool = False
) -> list[op.Operation]:
    """``operations`` minus ``positions``; with ``merge``, Advances that the deletion
    makes neighbours become one (the check between them goes too)."""
    doomed = set(positions)
    kept: list[op.Operation] = []
    for index, operation in enumerate(operations):
        if index in doomed:
            continue
        last = kept[-1] if kept else None
        if merge and isinstance(operation, op.Advance) and isinstance(last, op.Advance):
            kept[-1] = op.Advance(ms=last.ms + operation.ms)
        else:
            kept.append(operation)
    return kept


def _merge_advances(current: list[op.Operation], probe: _Probe) -> list[op.Operation]:
    """Consecutive Advances become one of their sum: all at once, else run by run, else
    pair by pair. Time passes the same way; only the checks in between go, and the
    deletions that follow see one operation where there were several."""
    runs = _advance_runs(current)
    if not runs:
        return current
    everything = current
    for start, stop in reversed(runs):
        everything = _merge_run(everything, start, stop)
    found = probe.smaller(everything)
    if found is not None:
        return found
    for start, stop in reversed(runs):
        if probe.out_of_time() or stop > len(current):
            continue
        found = probe.smaller(_merge_run(current, start, stop))
        if found is not None:
            current = found
            continue
        for first in range(stop - 2, start - 1, -1):
            found = probe.smaller(_merge_run(current, first, first + 2))
            if found is not None:
                current = found
    return current


def _repeated_stretch(operations: Sequence[op.Operation]) -> tuple[int, int, int] | None:
    """``(period, start, copies)`` of the longest stretch made of three or more copies of
    one block of operation kinds (a search repeats what works: failover cycles)."""
    kinds = [type(o).__name__ for o in operations]
    best: tuple[int, int, int] | None = None
    for period in range(2, min(_MAX_PERIOD, len(kinds) // 3) + 1):
        index = 0
        while index + period < len(kinds):
            if kinds[index] != kinds[index + period]:
                index += 1
                continue
            start = index
            while index + period < len(kinds) and kinds[index] == kinds[index + period]:
                index += 1
            copies = (index + period - start) // period
            if copies >= 3 and (best is None or copies * period > best[0] * best[2]):
                best = (period, start, copies)
    return best


def _delete_cycles(current: list[op.Operation], probe: _Probe) -> list[op.Operation]:
    """In a repeated stretch, first delete one position of the block from every copy at
    once (an operation each cycle carries but the failure does not need: one replay for
    many operations), then whole copies of the block (halves of them, quarters, …, one),
    so that a deletion never leaves half a failover behind. (Between the two, positions
    of the block go from every copy but the first.)"""
    current = _delete_columns(current, probe)
    current = _delete_columns(current, probe, keep_first=True)
    stretch = _repeated_stretch(current)
    if stretch is None:
        return current
    period, start, copies = stretch
    chunk = max(1, copies // 2)
    while 1 <= chunk <= copies and not probe.out_of_time():
        progressed = False
        block = copies - chunk
        while block >= 0 and not probe.out_of_time():
            begin, end = start + block * period, start + (block + chunk) * period
            found = probe.smaller(current[:begin] + current[end:]) if end <= len(current) else None
            if found is not None:
                current, progressed, copies = found, True, copies - chunk
            block -= chunk
        if not progressed:
            chunk //= 2
        chunk = min(chunk, copies)
    return current


def _delete_columns(
    current: list[op.Operation], probe: _Probe, *, keep_first: bool = False
) -> list[op.Operation]:
    """Delete one position of the repeated block from every copy (with ``keep_first``:
    from every copy but the first — the SA the failure needs is made once, the later
    ones are not), as is, then with the Advances around it merged; look for the stretch
    again after each success."""
    progressed = True
    while progressed and not probe.out_of_time():
        progressed = False
        stretch = _repeated_stretch(current)
        if stretch is None:
            break
        period, start, copies = stretch
        for column in range(period - 1, -1, -1):
            positions = [start + copy * period + column for copy in range(copies)]
            if keep_first:
                positions = positions[1:]
            found = probe.smaller(_without(current, positions)) or probe.smaller(
                _without(current, positions, merge=True)
            )
            if found is not None:
                current, progressed = found, True
                break
    return current


def _delete_chunks(current: list[op.Operation], probe: _Probe) -> list[op.Operation]:
    """Delete chunks of half the list, a quarter, …, one operation, from the end back;
    chunks of one or two slide by one operation so that no neighbouring pair is missed."""
    chunk = max(1, len(current) // 2)
    while chunk >= 1 and not probe.out_of_time():
        progressed = False
        stride = 1 if chunk <= 2 else chunk
        start = len(current) - chunk
        while start >= 0 and not probe.out_of_time():
            if start + chunk <= len(current):
                found = probe.smaller(current[:start] + current[start + chunk :])
                if found is not None:
                    current, progressed = found, True
            start -= stride
        if not progressed:
            chunk //= 2
    return current


def _undoes(first: op.Operation, later: op.Operation) -> bool:
    """Whether ``later`` takes back or finishes what ``first`` started (so that deleting
    only one of them leaves the run in a state the failure never saw)."""
    match first, later:
        case op.Crash(router=crashed), op.Restart(router=restarted):
            return crashed == restarted
        case op.InterfaceDown(router=a, side=side_a), op.InterfaceUp(router=b, side=side_b):
            return a == b and side_a == side_b
        case op.Partition(side=cut), op.Heal(side=healed):
            return cut == healed
        case op.SspCut() | op.SspSilent(), op.SspHeal():
            return True
        case op.Establish(sa_id=made), op.Delete(sa_id=gone) | op.Rekey(sa_id=gone):
            return made == gone
        case op.SetPriority(router=a, side=side_a), op.SetPriority(router=b, side=side_b):
            return a == b and side_a == side_b
        case op.SetPreempt(router=a, side=side_a), op.SetPreempt(router=b, side=side_b):
            return a == b and side_a == side_b
    return False


def _delete_related(current: list[op.Operation], probe: _Probe) -> list[op.Operation]:
    """From the end back: delete an operation together with the next one that undoes it
    (a crash and its restart, an interface down and up, an SA and its delete), then the
    operation alone; each as is, and with the Advances around it merged."""
    index = len(current) - 1
    while index >= 0 and not probe.out_of_time():
        index = min(index, len(current) - 1)
        first = current[index]
        partner = next(
            (later for later in range(index + 1, len(current)) if _undoes(first, current[later])),
            None,
        )
        attempts = [[index, partner]] if partner is not None else []
        if not isinstance(first, op.Advance):
            attempts.append([index])
        for positions in attempts:
            found = probe.smaller(_without(current, positions)) or probe.smaller(
                _without(current, positions, merge=True)
            )
            if found is not None:
                current = found
                break
        index -= 1
    return current


def _shorten_advances(current: list[op.Operation], probe: _Probe) -> list[op.Operation]:
    """Halve each Advance, or take a quarter off it: a shorter run replays faster and
    reads better."""
    for position in range(len(current)):
        if probe.out_of_time() or position >= len(current):
            break
        step = current[position]
        if isinstance(step, op.Advance) and step.ms > 1:
            for smaller_ms in (step.ms // 2, step.ms * 3 // 4):
                candidate = [
                    *current[:position],
                    op.Advance(ms=smaller_ms),
                    *current[position + 1 :],
                ]
                found = probe.smaller(candidate)
                if found is not None:
                    current = found
                    break
    return current


_PASSES: Final = (
    _merge_advances,
    _delete_cycles,
    _delete_chunks,
    _delete_related,
    _shorten_advances,
)
"""One round of the post-pass, cheapest first: on a long trace every replay is costly,
so the passes that remove many operations per replay come first."""


# --- rendering -------------------------------------------------------------------------------


def _router_text(router: RouterObs) -> str:
    if not router.up:
        return f"{router.name} DOWN"
    sas = " ".join(
        f"[{sa.spi_in:#x} {'ACT' if sa.status == 'ACTIVE' else 'STB'}"
        f"{'' if sa.status == 'ACTIVE' or not sa.stale else '/stale'} out>{sa.next_out} "
        f"in<={sa.inbound_top}]"
        for sa in router.sas
    )
    ssp = "SSP up" if router.ssp_connected else "SSP down"
    return (
        f"{router.name} {router.role:<7} in {router.inside.state:<7} out "
        f"{router.outside.state:<7} {ssp} {sas}".rstrip()
    )


def render_replay(trace: TraceFile, steps: Sequence[StepResult]) -> str:
    """A step-by-step timeline of both sides; problems marked with ``!``."""
    lines = [
        f"{trace.description or 'vpnha trace'}",
        f"mutant: {trace.spec.mutant or 'none'}; latency {trace.spec.latency_ms} ms; "
        f"seed {trace.spec.seed}; expect: {trace.expect}"
        + (f" ({trace.failure})" if trace.failure else ""),
        "",
    ]
    first_problem: int | None = None
    for step in steps:
        lines.append(f"step {step.index:>3}  {step.model.now_ms / 1000:9.3f} s  {step.operation}")
        for index in (0, 1):
            model = _router_text(step.model.routers[index])
            impl = _router_text(step.impl.routers[index])
            if model == impl:
                lines.append(f"      both   {model}")
            else:
                lines.append(f"      model  {model}")
                lines.append(f"      impl   {impl}")
        for problem in step.problems:
            lines.append(f"   !  {problem}")
        if step.problems and first_problem is None:
            first_problem = step.index
    lines.append("")
    found = signature(steps)
    if first_problem is None:
        lines.append("verdict: no invariant broken, model and implementation agree")
    else:
        lines.append(f"verdict: fails at step {first_problem}: {found}")
    return "\n".join(lines)


def verdict_matches(trace: TraceFile, steps: Sequence[StepResult]) -> bool:
    """Whether a replay shows what the file expects."""
    found = signature(steps)
    return found == "" if trace.expect == "pass" else found == trace.failure
