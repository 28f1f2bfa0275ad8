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
runs (mbt-anchors §3); this post-pass deletes what the failure does not need: first
chunks of operations (halves, quarters, …), then single operations, then it halves
each ``Advance``; a candidate is kept when its replay still fails *the same way*
(same invariant, or the same kind of difference). Each replay is a fresh run, so the
result depends only on the operations.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

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


def shrink(
    spec: RunSpec,
    operations: Sequence[op.Operation],
    *,
    budget_s: float = 60.0,
    clock: Callable[[], float] | None = None,
) -> list[op.Operation]:
    """Delete the steps the failure does not need (see the module docstring)."""
    now = clock or time.monotonic
    deadline = now() + budget_s
    target = signature(replay(spec, operations, stop_at_failure=True))
    if not target:
        msg = "shrink: the operations do not fail"
        raise ValueError(msg)

    def fails(candidate: list[op.Operation]) -> bool:
        return signature(replay(spec, candidate, stop_at_failure=True)) == target

    current = _cut_after_failure(spec, list(operations))
    chunk = max(1, len(current) // 2)
    while chunk >= 1 and now() < deadline:
        start, progressed = 0, False
        while start < len(current) and now() < deadline:
            candidate = current[:start] + current[start + chunk :]
            if candidate and fails(candidate):
                current, progressed = candidate, True
            else:
                start += chunk
        if not progressed:
            chunk //= 2
    for position in range(len(current)):
        if now() >= deadline:
            break
        step = current[position]
        if isinstance(step, op.Advance) and step.ms > 1:
            for smaller in (step.ms // 2, step.ms * 3 // 4):
                candidate = [*current[:position], op.Advance(ms=smaller), *current[position + 1 :]]
                if fails(candidate):
                    current = candidate
                    break
    return current


def _cut_after_failure(spec: RunSpec, operations: list[op.Operation]) -> list[op.Operation]:
    steps = replay(spec, operations, stop_at_failure=True)
    return operations[: len(steps)]


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
