"""The proof engine: results, solvers, inductive and bounded checks over transition systems.

Theory of operation
-------------------
A *transition system* (:class:`System`) is written the mini_ic3 / mypyvy way: a
list of state fields (each a Z3 ``Int``, ``Bool`` or ``Array(Int, Bool)``),
parameters that never change (priorities, intervals, timers …) with the range the
configuration allows, an ``init`` predicate, and named transitions, each a
two-state formula over the current fields (``pre``) and the primed ones
(``post``). A transition may draw its own inputs (how many packets, which value
an acknowledgement carries) with :meth:`Frame.int_input` / :meth:`Frame.bool_input`;
they are existentially quantified and shown in counterexamples.

:func:`prove_inductive` follows mypyvy's ``check_init`` / ``check_transitions``: one
query per invariant conjunct for ``init ⇒ inv``, one per (transition × conjunct) for
``Inv ∧ T ⇒ Inv'``, and one for ``Inv ⇒ Safe``. Each check (property) gets its own
fresh solver with a fixed random seed and a per-query timeout; every query is a
push/pop frame on it (mypyvy's ``new_frame``). ``unknown`` from any query makes the
whole result :class:`Unknown` (never proved). ``vpnha prove`` also runs each property
in a fresh process, so nothing built for one property influences another. A
satisfiable query is a counterexample *to induction*: the pre-state need not be
reachable, so it says the strengthening is too weak, not that the system is wrong;
it is reported as such.

:func:`find_violation` unrolls the system from ``init`` for up to ``depth`` steps
(bounded model checking) and returns the first reachable violation of ``safe`` as
a trace: a genuine counterexample. It is used for the rules that are expected to
be wrong (the naive replication rule).

:func:`follow` takes one known sequence of transitions instead of every path: it
concretizes an abstract counterexample under other constraints (the smallest
parameters a replay needs).

:func:`check_valid` proves a single formula valid (for stateless statements such
as "a stable election never splits").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, Literal

import z3

__all__ = [
    "DEFAULT_TIMEOUT_MS",
    "SEED",
    "Counterexample",
    "FieldKind",
    "Frame",
    "Proved",
    "Result",
    "StatePredicate",
    "System",
    "Transition",
    "Unknown",
    "Vars",
    "check_valid",
    "find_violation",
    "follow",
    "new_solver",
    "plain_value",
    "prove_inductive",
]

SEED: Final = 0
"""``random_seed`` of every solver (mypyvy passes ``--seed=0``)."""
DEFAULT_TIMEOUT_MS: Final = 20_000
"""Per-query timeout (ms)."""

FieldKind = Literal["int", "bool", "set"]
"""A state field: an integer, a Boolean, or a set of integers (``Array(Int, Bool)``)."""
Plain = int | bool | str
"""What a counterexample's values are made of (no Z3 objects leak out)."""
Vars = Mapping[str, z3.ExprRef]
"""Field name -> Z3 constant (one state, or the parameters)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Proved:
    """The property holds for every parameter value in range."""

    property: str
    seconds: float
    method: str
    """How: ``inductive (k queries)``, ``valid``, …"""
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Counterexample:
    """Z3 found values that break the property (``values``: plain Python data)."""

    property: str
    seconds: float
    method: str
    """``bounded depth k`` (a reachable trace) or ``induction: <transition>`` (a CTI)."""
    description: str
    values: tuple[tuple[str, Plain], ...]
    """Parameters, then each state's fields and each step's inputs, in order."""
    trace: str | None = None
    """Path of a concrete replay written for it, if any."""
    steps: tuple[str, ...] = ()
    """The transitions taken (bounded counterexamples)."""

    def value(self, name: str) -> Plain:
        """One value by name (KeyError if absent)."""
        for key, val in self.values:
            if key == name:
                return val
        raise KeyError(name)


@dataclass(frozen=True, slots=True, kw_only=True)
class Unknown:
    """The solver gave up (timeout or incompleteness): never counts as proved."""

    property: str
    seconds: float
    method: str
    reason: str


Result = Proved | Counterexample | Unknown


def new_solver(timeout_ms: int = DEFAULT_TIMEOUT_MS) -> z3.Solver:
    """A fresh solver with the fixed seed and a timeout."""
    solver = z3.Solver()
    solver.set("random_seed", SEED)
    solver.set("timeout", timeout_ms)
    return solver


def plain_value(model: z3.ModelRef, expr: z3.ExprRef) -> Plain:
    """The value of ``expr`` in ``model`` as an int, bool or (for sets/others) a string."""
    value = model.eval(expr, model_completion=True)
    if z3.is_int_value(value):
        return int(value.as_long())
    if z3.is_true(value):
        return True
    if z3.is_false(value):
        return False
    return str(value)


@dataclass(slots=True)
class Frame:
    """One step of a system: pre-state, post-state, parameters and the step's inputs."""

    pre: Vars
    post: Vars
    par: Vars
    prefix: str
    inputs: dict[str, z3.ExprRef] = field(default_factory=dict)

    def int_input(self, name: str) -> z3.ArithRef:
        """A fresh integer input of this step (existential)."""
        const = z3.Int(f"{self.prefix}{name}")
        self.inputs[name] = const
        return const

    def bool_input(self, name: str) -> z3.BoolRef:
        """A fresh Boolean input of this step (existential)."""
        const = z3.Bool(f"{self.prefix}{name}")
        self.inputs[name] = const
        return const

    def same(self, *names: str) -> z3.BoolRef:
        """These fields keep their value."""
        return z3.And([self.post[n] == self.pre[n] for n in names])


Transition = Callable[[Frame], z3.BoolRef]
StatePredicate = Callable[[Vars, Vars], z3.BoolRef]
"""(state, parameters) -> formula."""


@dataclass(frozen=True, slots=True, kw_only=True)
class System:
    """A symbolic transition system (see the module docstring)."""

    name: str
    fields: tuple[tuple[str, FieldKind], ...]
    params: tuple[tuple[str, FieldKind], ...]
    param_range: Callable[[Vars], z3.BoolRef]
    init: StatePredicate
    transitions: tuple[tuple[str, Transition], ...]

    def only(self, names: Sequence[str]) -> System:
        """The same system with only the transitions ``names`` (KeyError for an unknown one).

        For guided bounded search: every trace of the restriction is a trace of the whole
        system, so a violation found in it is a genuine counterexample; the restriction
        only narrows where the solver looks (and proves nothing when it finds none).
        """
        known = dict(self.transitions)
        return replace(self, transitions=tuple((name, known[name]) for name in names))

    def state(self, prefix: str) -> dict[str, z3.ExprRef]:
        """Fresh constants for one state."""
        return {name: _const(f"{prefix}{name}", kind) for name, kind in self.fields}

    def parameters(self) -> dict[str, z3.ExprRef]:
        """The parameter constants (shared by every step)."""
        return {name: _const(f"param.{name}", kind) for name, kind in self.params}

    def step(self, pre: Vars, post: Vars, par: Vars, prefix: str) -> tuple[z3.BoolRef, Frame]:
        """Some transition is taken (and every other field is given by it)."""
        frame = Frame(pre=pre, post=post, par=par, prefix=prefix)
        choice = frame.int_input("transition")
        options = []
        for index, (tname, trans) in enumerate(self.transitions):
            own = Frame(pre=pre, post=post, par=par, prefix=f"{prefix}{tname}.")
            options.append(z3.And(choice == index, trans(own)))
            frame.inputs.update({f"{tname}.{k}": v for k, v in own.inputs.items()})
        return z3.Or(options), frame


def _const(name: str, kind: FieldKind) -> z3.ExprRef:
    match kind:
        case "int":
            return z3.Int(name)
        case "bool":
            return z3.Bool(name)
        case "set":
            return z3.Array(name, z3.IntSort(), z3.BoolSort())


def _values(model: z3.ModelRef, prefix: str, exprs: Vars) -> list[tuple[str, Plain]]:
    return [
        (f"{prefix}{name}", plain_value(model, expr))
        for name, expr in exprs.items()
        if not z3.is_array(expr)
    ]


def _unknown(name: str, started: float, method: str, solver: z3.Solver) -> Unknown:
    return Unknown(
        property=name,
        seconds=time.monotonic() - started,
        method=method,
        reason=str(solver.reason_unknown()),
    )


def prove_inductive(
    prop: str,
    system: System,
    invariant: Sequence[tuple[str, StatePredicate]],
    safe: StatePredicate,
    *,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> Result:
    """``init ⇒ Inv``, ``Inv ∧ T ⇒ Inv'`` (per transition × conjunct), ``Inv ⇒ Safe``.

    One solver for the property; every query is its own push/pop frame on it (mypyvy's
    ``new_frame``), so shared assertions (the parameter range, ``Inv ∧ T``) are added once.
    """
    started = time.monotonic()
    par = system.parameters()
    pre, post = system.state("s."), system.state("t.")
    solver = new_solver(timeout_ms)
    solver.add(system.param_range(par))
    inv_pre = [pred(pre, par) for _, pred in invariant]
    queries = 0

    def check(label: str, goal: z3.BoolRef, frame: Frame | None) -> Result | None:
        nonlocal queries
        queries += 1
        solver.push()
        solver.add(goal)
        try:
            verdict = solver.check()
            if verdict == z3.unsat:
                return None
            method = f"induction: {label}"
            if verdict == z3.unknown:
                return _unknown(prop, started, method, solver)
            model = solver.model()
        finally:
            solver.pop()
        values = _values(model, "", par) + _values(model, "pre.", pre)
        if frame is not None:
            values += _values(model, "input.", frame.inputs) + _values(model, "post.", post)
        return Counterexample(
            property=prop,
            seconds=time.monotonic() - started,
            method=method,
            description=f"the strengthening does not hold: {label} (not necessarily reachable)",
            values=tuple(values),
        )

    initial = system.init(pre, par)
    for (name, _), formula in zip(invariant, inv_pre, strict=True):
        found = check(f"init ⇒ {name}", z3.And(initial, z3.Not(formula)), None)
        if found is not None:
            return found
    solver.push()
    solver.add(*inv_pre)
    try:
        for tname, trans in system.transitions:
            frame = Frame(pre=pre, post=post, par=par, prefix=f"in.{tname}.")
            solver.push()
            solver.add(trans(frame))
            try:
                for name, pred in invariant:
                    found = check(f"{tname} breaks {name}", z3.Not(pred(post, par)), frame)
                    if found is not None:
                        return found
            finally:
                solver.pop()
        found = check("Inv ⇏ Safe", z3.Not(safe(pre, par)), None)
        if found is not None:
            return found
    finally:
        solver.pop()
    return Proved(
        property=prop,
        seconds=time.monotonic() - started,
        method=f"inductive ({queries} queries)",
    )


def find_violation(
    prop: str,
    system: System,
    safe: StatePredicate,
    *,
    depth: int,
    describe: Callable[[Counterexample], str],
    extra: StatePredicate | None = None,
    start: StatePredicate | None = None,
    min_depth: int = 0,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> Result:
    """Bounded model checking: a reachable state within ``depth`` steps that breaks ``safe``.

    ``extra`` constrains every state (e.g. to keep a counterexample readable);
    ``start`` replaces ``init`` (a state shown reachable separately); depths below
    ``min_depth`` are not searched. No violation within the bound is reported as
    :class:`Unknown` (a bound proves nothing).
    """
    started = time.monotonic()
    par = system.parameters()
    states = [system.state("s0.")]
    solver = new_solver(timeout_ms)
    first = system.init if start is None else start
    solver.add(system.param_range(par), first(states[0], par))
    frames: list[Frame] = []
    for k in range(depth + 1):
        if extra is not None:
            solver.add(extra(states[k], par))
        solver.push()
        solver.add(z3.Not(safe(states[k], par)))
        verdict = solver.check() if k >= min_depth else z3.unsat
        if verdict == z3.sat:
            model = solver.model()
            values = _values(model, "", par)
            taken: list[str] = []
            for i, state in enumerate(states):
                values += _values(model, f"s{i}.", state)
                if i < len(frames):
                    fr = frames[i]
                    index = plain_value(model, fr.inputs["transition"])
                    assert isinstance(index, int)
                    tname = system.transitions[index][0]
                    taken.append(tname)
                    own = {
                        k.removeprefix(f"{tname}."): v
                        for k, v in fr.inputs.items()
                        if k.startswith(f"{tname}.")
                    }
                    values.append((f"step{i}", tname))
                    values += _values(model, f"in{i}.", own)
            found = Counterexample(
                property=prop,
                seconds=0.0,
                method=f"bounded: violation reached in {k} steps (searched up to {depth})",
                description="",
                values=tuple(values),
                steps=tuple(taken),
            )
            return Counterexample(
                property=prop,
                seconds=time.monotonic() - started,
                method=found.method,
                description=describe(found),
                values=found.values,
                steps=found.steps,
            )
        if verdict == z3.unknown:
            return _unknown(prop, started, f"bounded depth {k}", solver)
        solver.pop()
        if k == depth:
            break
        nxt = system.state(f"s{k + 1}.")
        formula, frame = system.step(states[k], nxt, par, f"in{k}.")
        solver.add(formula)
        frames.append(frame)
        states.append(nxt)
    return Unknown(
        property=prop,
        seconds=time.monotonic() - started,
        method=f"bounded depth {depth}",
        reason=f"no violation within {depth} steps (a bound proves nothing)",
    )


def follow(
    prop: str,
    system: System,
    steps: Sequence[str],
    safe: StatePredicate,
    *,
    extra: StatePredicate | None = None,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> Result:
    """The transitions ``steps``, in that order, from ``init``: values (parameters, every
    state, every step's inputs) with which the last state breaks ``safe``.

    It concretizes a known abstract schedule under other constraints (``extra``, on every
    state: e.g. the smallest parameters). A violation found is a genuine trace; none is
    reported as :class:`Unknown` (this one sequence proves nothing).
    """
    started = time.monotonic()
    known = dict(system.transitions)
    par = system.parameters()
    states = [system.state("s0.")]
    solver = new_solver(timeout_ms)
    solver.add(system.param_range(par), system.init(states[0], par))
    frames: list[Frame] = []
    for index, name in enumerate(steps):
        nxt = system.state(f"s{index + 1}.")
        frame = Frame(pre=states[index], post=nxt, par=par, prefix=f"in{index}.")
        solver.add(known[name](frame))
        frames.append(frame)
        states.append(nxt)
    if extra is not None:
        solver.add(*[extra(state, par) for state in states])
    solver.add(z3.Not(safe(states[-1], par)))
    method = f"along {len(steps)} given steps"
    verdict = solver.check()
    if verdict == z3.sat:
        model = solver.model()
        values = _values(model, "", par)
        for index, state in enumerate(states):
            values += _values(model, f"s{index}.", state)
            if index < len(frames):
                values.append((f"step{index}", steps[index]))
                values += _values(model, f"in{index}.", frames[index].inputs)
        return Counterexample(
            property=prop,
            seconds=time.monotonic() - started,
            method=method,
            description=" → ".join(steps),
            values=tuple(values),
            steps=tuple(steps),
        )
    if verdict == z3.unknown:
        return _unknown(prop, started, method, solver)
    return Unknown(
        property=prop,
        seconds=time.monotonic() - started,
        method=method,
        reason="no violation along these steps",
    )


def check_valid(
    prop: str,
    formula: z3.BoolRef,
    *,
    shown: Vars,
    describe: Callable[[Counterexample], str] | None = None,
    method: str = "valid",
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> Result:
    """``formula`` holds for every value of its constants; otherwise the ``shown`` values."""
    started = time.monotonic()
    solver = new_solver(timeout_ms)
    solver.add(z3.Not(formula))
    verdict = solver.check()
    if verdict == z3.unsat:
        return Proved(property=prop, seconds=time.monotonic() - started, method=method)
    if verdict == z3.unknown:
        return _unknown(prop, started, method, solver)
    model = solver.model()
    found = Counterexample(
        property=prop,
        seconds=0.0,
        method=method,
        description="",
        values=tuple(_values(model, "", shown)),
    )
    return Counterexample(
        property=prop,
        seconds=time.monotonic() - started,
        method=method,
        description=describe(found) if describe else "counterexample",
        values=found.values,
    )
