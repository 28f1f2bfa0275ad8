"""Counter replication (I3, I4, and the counter half of I8) for every allowed interval.

Theory of operation
-------------------
One SA, one replicated counter, two routers. The counter is the outbound ESP
sequence number (I3: ``J = M × 10^6``, M 1–10, never past 2^32 − 1), the right
edge of the inbound anti-replay window (I4: ``J = N``, N 0–10000, window ``W ≥ 1``),
the kilobyte-lifetime byte count or the DPD R-U-THERE number (I8: ``J ≥ 1``). The
rules are the model's (``model/sadb.py`` rules 1–6, ``model/system.py``), restated
here independently:

========================  ===========================================================
transition                effect
========================  ===========================================================
``use{r}``                the ACTIVE holder sends ``v+1 … v+n`` (outbound) or accepts one
                          number ``s > v − W`` not yet seen (inbound); never past its
                          limit ``min(floor + J, cap)`` (hold-back, rules 1 and 6) nor,
                          outbound, past 2^32 − 1 (rule 5)
``update{r}``             the holder with a floor sends an update carrying ``v``
``deliver_update{r}``     a non-ACTIVE copy applies some in-flight update ``u`` (max) and
                          acknowledges it; in order: not before a pending Add
``deliver_ack{r}``        the holder raises its floor to some acknowledged value
``sync{r}``               replication (re)starts (new connection, the other end left
                          ACTIVE, or this end became ACTIVE): adopt the other end's
                          announced value, apply rule 6 if the other end rebooted since
                          the floor was set (permanent cap, never replicated again), drop
                          the floor, send the full copy (seed floor := value)
``resync{r}``             ``clear crypto sa ha standby resync`` on the non-ACTIVE end: its
                          copies are dropped; the holder answers with a full copy
                          (keeping its floor)
``deliver_add{r}``        the copy arrives: usable copy := the Add's value; acknowledged;
                          or refused (card full): the holder drops its floor
``lose``                  SSP loses any in-flight messages (silent death: nothing learns)
``disconnect``            the connection ends (cut, dead timer, silent death): every
                          in-flight message is gone
``connect``               a new connection: every copy is stale until a full copy arrives
``demote{r}``             the holder leaves ACTIVE: its SA becomes a stale copy (its value)
``promote{r}``            a usable copy becomes ACTIVE at ``copy + J`` (inbound: the whole
                          window ``(copy + J − W, copy + J]`` marked seen; N = 0: never)
``crash{r}``              a router loses everything and comes back as a new incarnation
========================  ===========================================================

HSRP is abstracted away: any router may promote a usable copy at any time, and
the old holder may keep running (split brain), be demoted or crash. In-flight
updates and acknowledgements are summarised by the largest value in flight
towards each end (delivery picks any value up to it, so every interleaving of
the real FIFO is included); an Add is one slot.

State fields (``r`` = 0, 1): ``act`` (holds the SA ACTIVE), ``cpy``/``usable`` (holds a
standby copy / not stale), ``v`` (value), ``fon``/``fl`` (hold-back floor), ``capon``/
``cap`` (rule 6), ``unrep`` (never copied again), ``inc`` (incarnation), ``flset``/
``flinc`` (the other end's incarnation the floor is for), ``addp``/``addv`` (Add in
flight *towards* r), ``updp``/``updv``, ``ackp``/``ackv`` (largest update / ack in flight
towards r), ``seen`` (inbound window), and ``conn``. The ghost ``used`` is the set of
every number any router has ever used on this SPI (never shrinks, survives crashes).

Property. I3/I4: every ``use`` takes numbers not in ``used`` (stated as the safety
predicate "every ACTIVE holder's next numbers, up to its limit, are unused").

Strengthening (the inductive invariant; the names are the conjuncts Z3 reports):

- ``shape``: the bookkeeping that makes the rest hold — values and floors are
  non-negative, ``fl ≤ v ≤ fl + J`` for a holder with a floor (hold-back), a cap
  only after rule 6 fired (then the SA is never copied again and the other end holds
  nothing of it), ``bulk`` (replication restarted) only while connected and for the
  other end's current incarnation, at most one usable copy and one Add in flight,
  and every value in flight (update, Add, ack) is at most the value of the router it
  came from; with ``N = 0`` only the first router ever holds the SA ACTIVE. A holder
  that has restarted replication towards an ACTIVE other end is the lower of the
  two: ``fl + J`` (and any ack ``+ J``) ``≤`` where the other end started.
- ``split``: when both hold the SA ACTIVE, one of them has a limit (floor or cap)
  no higher than the value the other *started* from (``lo``), and so do its acks.
- ``ack-covers``: raising the floor to any acknowledged value keeps the holder's
  future numbers unused.
- ``holder-covers``: everything used is at most the holder's value, or the other
  end's (held or ACTIVE) value, or beyond the holder's cap, or — if the other end
  rebooted since the floor was set — beyond ``fl + J`` (rule 6's region); right after
  restarting replication towards a non-ACTIVE end, at most the holder's value.
- ``window-covers`` (inbound): the window of an ACTIVE holder has every number from
  ``v − W`` up to where it started marked seen.
- ``future-free``: an ACTIVE holder's numbers above ``v`` up to its limit are unused
  (inbound: and every used number in its window is seen) — the safety property.
- ``copy-covers``: a usable copy ``c`` covers everything: every used number, every
  value in flight and the old holder's value are ``≤ c + J``; an ACTIVE other end has
  restarted replication (while connected), a floor ``≤ c`` and acks ``≤ c``.
- ``add-covers``: the same for an Add in flight (its value becomes a usable copy).

ASSUMPTION, and a finding. ``resync`` is encoded only while SSP is connected and,
if the other end is ACTIVE, after it restarted replication (the request travels
behind the announcement of the role change). The model allows ``Resync`` at any
time; with it offline (``resync_offline=True``) Z3 finds a reachable duplicate
(``I3-resync-offline``, 12 steps): router 0 sends past the copy, router 1 takes
over in a split and sends, leaves ACTIVE when the segments heal, clears its
copies while SSP is still down; SSP reconnects, router 1 announces nothing for
the SA and has not rebooted (rule 6 does not fire), so router 0 re-seeds its
floor at its own value and sends router 1's numbers again.
``replay.resync_offline_operations`` is that schedule on the model, and the model
does send a sequence number twice (tests/proofs/test_naive.py).

The naive rule (``naive=True``): no hold-back, no stale copies, no rule 6; takeover
still jumps by ``J``. Z3 finds the old active running more than ``J`` past the
standby's copy before the takeover (expected counterexample ``I3-naive``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import z3

from .engine import FieldKind, Frame, StatePredicate, System, Transition, Vars

__all__ = [
    "SEQ_MAX",
    "CounterSpec",
    "counter_invariant",
    "counter_safe",
    "counter_system",
    "counter_witness_safe",
]

SEQ_MAX: Final = 2**32 - 1
"""Largest ESP sequence number (RFC 4303 §2.2)."""

Kind = Literal["out", "in"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterSpec:
    """Which counter and which rule variant."""

    kind: Kind
    """``out``: a run of numbers per use, 32-bit limit; ``in``: one number, window W."""
    jump_min: int
    """Smallest allowed J."""
    jump_max: int | None
    """Largest allowed J (None: unbounded)."""
    jump_step: int = 1
    """J is a multiple of this (outbound: 10^6)."""
    limit32: bool = True
    """Outbound: never past 2^32 − 1 (rule 5); off for byte counts and DPD numbers."""
    naive: bool = False
    """No hold-back, no staleness, no rule 6 (the rule that Z3 must refute)."""
    resync_offline: bool = False
    """Allow ``resync`` while SSP is down (the variant Z3 refutes)."""
    witness: bool = False
    """Replace the ghost set ``used`` by a count of uses of one symbolic number ``w``
    (quantifier-free, for bounded search: a duplicate is ``uses > 1``)."""


def _routers() -> tuple[int, int]:
    return (0, 1)


_PER_ROUTER: Final[tuple[tuple[str, FieldKind], ...]] = (
    ("act", "bool"),
    ("cpy", "bool"),
    ("usable", "bool"),
    ("v", "int"),
    ("fon", "bool"),
    ("fl", "int"),
    ("capon", "bool"),
    ("cap", "int"),
    ("unrep", "bool"),
    ("inc", "int"),
    ("flset", "bool"),
    ("flinc", "int"),
    ("addp", "bool"),
    ("addv", "int"),
    ("updp", "bool"),
    ("updv", "int"),
    ("ackp", "bool"),
    ("ackv", "int"),
    ("seen", "set"),
    ("bulk", "bool"),
    ("lo", "int"),
)
FIELDS: Final[tuple[tuple[str, FieldKind], ...]] = (
    *tuple((f"{name}{r}", kind) for r in _routers() for name, kind in _PER_ROUTER),
    ("conn", "bool"),
    ("used", "set"),
)


def _fields(spec: CounterSpec) -> tuple[tuple[str, FieldKind], ...]:
    if not spec.witness:
        return FIELDS
    return (*tuple((n, k) for n, k in FIELDS if n != "used"), ("uses", "int"))


def _f(state: Vars, name: str, r: int) -> z3.ExprRef:
    return state[f"{name}{r}"]


def _max(a: z3.ArithRef, b: z3.ArithRef) -> z3.ArithRef:
    return z3.If(a >= b, a, b)


def _min(a: z3.ArithRef, b: z3.ArithRef) -> z3.ArithRef:
    return z3.If(a <= b, a, b)


def _empty() -> z3.ArrayRef:
    return z3.K(z3.IntSort(), z3.BoolVal(False))


def _range_set(lo: z3.ArithRef, hi: z3.ArithRef) -> z3.ArrayRef:
    x = z3.Int("x")
    return z3.Lambda([x], z3.And(lo < x, x <= hi))


def _beyond_limit(state: Vars, r: int, x: z3.ArithRef, jump: z3.ArithRef) -> z3.BoolRef:
    """``x`` is above router r's limit (false when it has none)."""
    return z3.Or(
        z3.And(_f(state, "fon", r), x > _f(state, "fl", r) + jump),
        z3.And(_f(state, "capon", r), x > _f(state, "cap", r)),
    )


def _within_limit(state: Vars, r: int, value: z3.ArithRef, jump: z3.ArithRef) -> z3.BoolRef:
    return z3.And(
        z3.Implies(_f(state, "fon", r), value <= _f(state, "fl", r) + jump),
        z3.Implies(_f(state, "capon", r), value <= _f(state, "cap", r)),
    )


def counter_system(spec: CounterSpec) -> System:
    """The transition system for ``spec`` (see the module docstring)."""
    params: tuple[tuple[str, FieldKind], ...] = (("J", "int"), ("W", "int"))
    if spec.witness:
        params += (("w", "int"),)
    fields = _fields(spec)

    def ghost_use(fr: Frame, hit: z3.BoolRef, new_used: z3.ArrayRef) -> z3.BoolRef:
        s, t = fr.pre, fr.post
        if spec.witness:
            return t["uses"] == s["uses"] + z3.If(hit, 1, 0)
        return t["used"] == new_used

    def param_range(par: Vars) -> z3.BoolRef:
        jump = par["J"]
        parts = [jump >= spec.jump_min, par["W"] >= 1, par["W"] <= 1024]
        if spec.jump_max is not None:
            parts.append(jump <= spec.jump_max)
        if spec.jump_step > 1:
            parts.append(jump % spec.jump_step == 0)
        return z3.And(parts)

    def init(s: Vars, par: Vars) -> z3.BoolRef:
        ghost = s["uses"] == 0 if spec.witness else s["used"] == _empty()
        parts = [ghost, z3.Not(s["conn"])]
        for r in _routers():
            parts += [
                _f(s, "act", r) == (r == 0),
                z3.Not(_f(s, "cpy", r)),
                z3.Not(_f(s, "usable", r)),
                _f(s, "v", r) == 0,
                z3.Not(_f(s, "fon", r)),
                z3.Not(_f(s, "capon", r)),
                z3.Not(_f(s, "unrep", r)),
                _f(s, "inc", r) == 0,
                z3.Not(_f(s, "flset", r)),
                z3.Not(_f(s, "addp", r)),
                z3.Not(_f(s, "updp", r)),
                z3.Not(_f(s, "ackp", r)),
                _f(s, "seen", r) == _empty(),
                z3.Not(_f(s, "bulk", r)),
                _f(s, "lo", r) == 0,
            ]
        return z3.And(parts)

    def keep(fr: Frame, changed: set[str]) -> z3.BoolRef:
        ghost = "uses" if spec.witness else "used"
        changed = {ghost if name == "used" else name for name in changed}
        return fr.same(*(name for name, _ in fields if name not in changed))

    def use(r: int) -> tuple[str, Transition]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t, jump = fr.pre, fr.post, fr.par["J"]
            v = _f(s, "v", r)
            limit_ok = (
                z3.BoolVal(True) if spec.naive else _within_limit(s, r, fr.int_input("hi"), jump)
            )
            if spec.kind == "out":
                n = fr.int_input("n")
                top = v + n
                if not spec.naive:
                    limit_ok = z3.And(fr.inputs["hi"] == top, limit_ok)
                return z3.And(
                    _f(s, "act", r),
                    n >= 1,
                    top <= SEQ_MAX if spec.limit32 else z3.BoolVal(True),
                    limit_ok,
                    _f(t, "v", r) == top,
                    ghost_use(
                        fr,
                        z3.And(v < fr.par.get("w", v), fr.par.get("w", v) <= top),
                        _empty()
                        if spec.witness
                        else z3.Lambda(
                            [x := z3.Int("x")], z3.Or(s["used"][x], z3.And(v < x, x <= top))
                        ),
                    ),
                    keep(fr, {f"v{r}", "used"}),
                )
            seq = fr.int_input("seq")
            seen = _f(s, "seen", r)
            if not spec.naive:
                limit_ok = z3.And(fr.inputs["hi"] == seq, limit_ok)
            return z3.And(
                _f(s, "act", r),
                seq >= 1,
                seq > v - fr.par["W"],
                z3.Not(seen[seq]),
                limit_ok,
                _f(t, "v", r) == _max(v, seq),
                _f(t, "seen", r) == z3.Store(seen, seq, True),
                ghost_use(
                    fr,
                    seq == fr.par.get("w", seq),
                    _empty() if spec.witness else z3.Store(s["used"], seq, True),
                ),
                keep(fr, {f"v{r}", f"seen{r}", "used"}),
            )

        return (f"use{r}", trans)

    def update(r: int) -> tuple[str, Transition]:
        o = 1 - r

        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            v = _f(s, "v", r)
            return z3.And(
                _f(s, "act", r),
                _f(s, "fon", r) if not spec.naive else z3.BoolVal(True),
                _f(s, "bulk", r),
                s["conn"],
                _f(t, "updp", o),
                _f(t, "updv", o) == z3.If(_f(s, "updp", o), _max(_f(s, "updv", o), v), v),
                keep(fr, {f"updp{o}", f"updv{o}"}),
            )

        return (f"update{r}", trans)

    def deliver_update(o: int) -> tuple[str, Transition]:
        r = 1 - o

        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            u = fr.int_input("u")
            applies = z3.And(z3.Not(_f(s, "act", o)), _f(s, "cpy", o))
            # A stale copy applies it too, but its acknowledgement reaches the holder only
            # after the announcement that restarts replication (FIFO), when the floor is
            # already at or above it: it has no effect and is not tracked.
            acked = _f(s, "usable", o)
            ackp, ackv = _f(s, "ackp", r), _f(s, "ackv", r)
            return z3.And(
                _f(s, "updp", o),
                z3.Not(_f(s, "addp", o)),
                u >= 0,
                u <= _f(s, "updv", o),
                applies,
                _f(t, "v", o) == _max(_f(s, "v", o), u),
                _f(t, "ackp", r) == z3.Or(ackp, acked),
                _f(t, "ackv", r) == z3.If(acked, z3.If(ackp, _max(ackv, u), u), ackv),
                keep(fr, {f"v{o}", f"ackp{r}", f"ackv{r}"}),
            )

        return (f"deliver_update{o}", trans)

    def deliver_ack(r: int) -> tuple[str, Transition]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            a = fr.int_input("a")
            return z3.And(
                _f(s, "ackp", r),
                a <= _f(s, "ackv", r),
                _f(s, "act", r),
                _f(s, "fon", r),
                _f(t, "fl", r) == _max(_f(s, "fl", r), a),
                keep(fr, {f"fl{r}"}),
            )

        return (f"deliver_ack{r}", trans)

    def sync(r: int) -> tuple[str, Transition]:
        o = 1 - r

        def trans(fr: Frame) -> z3.BoolRef:
            s, t, jump = fr.pre, fr.post, fr.par["J"]
            v = _f(s, "v", r)
            held = _f(s, "v", o)
            nv = z3.If(_f(s, "cpy", o), _max(v, held), v)
            if spec.naive:
                forgot: z3.BoolRef = z3.BoolVal(False)
            else:
                forgot = z3.And(
                    _f(s, "flset", r), _f(s, "flinc", r) != _f(s, "inc", o), _f(s, "fon", r)
                )
            bound = _f(s, "fl", r) + jump
            capped = z3.If(_f(s, "capon", r), _min(_f(s, "cap", r), bound), bound)
            unrep = z3.Or(_f(s, "unrep", r), forgot)
            parts = [
                s["conn"],
                _f(s, "act", r),
                z3.Not(_f(s, "act", o)),
                z3.Not(_f(s, "addp", o)),
                z3.Not(_f(s, "bulk", r)),
                z3.BoolVal(True) if spec.naive else z3.Not(_f(s, "usable", o)),
                _f(t, "bulk", r),
                _f(t, "v", r) == nv,
                _f(t, "lo", r) == z3.If(nv > v, nv, _f(s, "lo", r)),
                _f(t, "capon", r) == z3.Or(_f(s, "capon", r), forgot),
                _f(t, "cap", r) == z3.If(forgot, capped, _f(s, "cap", r)),
                _f(t, "unrep", r) == unrep,
                _f(t, "flset", r),
                _f(t, "flinc", r) == _f(s, "inc", o),
                # rule 1: the full copy seeds the floor at the current value (inbound: N > 0)
                _f(t, "fon", r) == z3.And(z3.Not(unrep), _seeds(spec, jump)),
                _f(t, "fl", r) == nv,
                _f(t, "addp", o) == z3.Not(unrep),
                _f(t, "addv", o) == nv,
                # _raise_copies: the other end raises its copy to our announced value
                _f(t, "v", o) == z3.If(_f(s, "cpy", o), _max(held, v), held),
            ]
            changed = {
                f"lo{r}",
                f"bulk{r}",
                f"v{r}",
                f"capon{r}",
                f"cap{r}",
                f"unrep{r}",
                f"flset{r}",
                f"flinc{r}",
                f"fon{r}",
                f"fl{r}",
                f"addp{o}",
                f"addv{o}",
                f"v{o}",
            }
            if spec.kind == "in":
                fresh = _range_set(nv - fr.par["W"], nv)
                parts.append(
                    _f(t, "seen", r) == z3.If(nv > v, fresh, _f(s, "seen", r)),
                )
                changed.add(f"seen{r}")
            parts.append(keep(fr, changed))
            return z3.And(parts)

        return (f"sync{r}", trans)

    def resync(o: int) -> tuple[str, Transition]:
        r = 1 - o

        def trans(fr: Frame) -> z3.BoolRef:
            s, t, jump = fr.pre, fr.post, fr.par["J"]
            v = _f(s, "v", r)
            answer = z3.And(
                s["conn"],
                _f(s, "act", r),
                _f(s, "bulk", r),
                z3.Not(_f(s, "unrep", r)),
                z3.Not(_f(s, "addp", o)),
            )
            seeds = _seeds(spec, jump)
            # The request travels behind the announcement of this end's last role change, so
            # an ACTIVE other end has restarted replication (adopted our values) before it
            # answers. Offline, the request is never sent, and nothing of our values survives.
            in_order = z3.And(s["conn"], z3.Implies(_f(s, "act", r), _f(s, "bulk", r)))
            return z3.And(
                z3.Not(_f(s, "act", o)),
                z3.Or(in_order, z3.Not(s["conn"])) if spec.resync_offline else in_order,
                z3.Not(_f(t, "cpy", o)),
                z3.Not(_f(t, "usable", o)),
                _f(t, "addp", o) == z3.Or(_f(s, "addp", o), answer),
                _f(t, "addv", o) == z3.If(answer, v, _f(s, "addv", o)),
                _f(t, "fon", r) == z3.Or(_f(s, "fon", r), z3.And(answer, seeds)),
                _f(t, "fl", r) == z3.If(_f(s, "fon", r), _f(s, "fl", r), v),
                keep(fr, {f"cpy{o}", f"usable{o}", f"addp{o}", f"addv{o}", f"fon{r}", f"fl{r}"}),
            )

        return (f"resync{o}", trans)

    def deliver_add(o: int) -> tuple[str, Transition]:
        r = 1 - o

        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            refuse = fr.bool_input("refuse")
            value = _f(s, "addv", o)
            ackv = _f(s, "ackv", r)
            taken = z3.And(z3.Not(_f(s, "act", o)), z3.Not(z3.And(refuse, z3.Not(_f(s, "cpy", o)))))
            refused_by_card = z3.And(
                z3.Not(_f(s, "act", o)), refuse, z3.Not(_f(s, "cpy", o)), _f(s, "act", r)
            )
            return z3.And(
                _f(s, "addp", o),
                z3.Not(_f(t, "addp", o)),
                _f(t, "cpy", o) == z3.Or(_f(s, "cpy", o), taken),
                _f(t, "usable", o) == z3.Or(_f(s, "usable", o), taken),
                _f(t, "v", o) == z3.If(taken, value, _f(s, "v", o)),
                _f(t, "ackp", r) == z3.Or(_f(s, "ackp", r), taken),
                _f(t, "ackv", r)
                == z3.If(taken, z3.If(_f(s, "ackp", r), _max(ackv, value), value), ackv),
                _f(t, "fon", r) == z3.And(_f(s, "fon", r), z3.Not(refused_by_card)),
                keep(
                    fr,
                    {
                        f"addp{o}",
                        f"cpy{o}",
                        f"usable{o}",
                        f"v{o}",
                        f"ackp{r}",
                        f"ackv{r}",
                        f"fon{r}",
                    },
                ),
            )

        return (f"deliver_add{o}", trans)

    pending = [f"{name}{r}" for r in _routers() for name in ("addp", "updp", "ackp")]

    def lose(fr: Frame) -> z3.BoolRef:
        s, t = fr.pre, fr.post
        parts = [z3.Or(t[p] == s[p], z3.Not(t[p])) for p in pending]
        return z3.And(*parts, keep(fr, set(pending)))

    def disconnect(fr: Frame) -> z3.BoolRef:
        s, t = fr.pre, fr.post
        bulks = [f"bulk{r}" for r in _routers()]
        return z3.And(
            s["conn"],
            z3.Not(t["conn"]),
            *[z3.Not(t[p]) for p in pending + bulks],
            keep(fr, {"conn", *pending, *bulks}),
        )

    def connect(fr: Frame) -> z3.BoolRef:
        s, t = fr.pre, fr.post
        stale = [] if spec.naive else [z3.Not(_f(t, "usable", r)) for r in _routers()]
        changed = {"conn"} | (set() if spec.naive else {f"usable{r}" for r in _routers()})
        bulks = {f"bulk{r}" for r in _routers()}
        return z3.And(
            z3.Not(s["conn"]),
            t["conn"],
            *stale,
            *[z3.Not(t[b]) for b in bulks],
            keep(fr, changed | bulks),
        )

    def demote(r: int) -> tuple[str, Transition]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            return z3.And(
                _f(s, "act", r),
                z3.Not(_f(t, "act", r)),
                _f(t, "cpy", r),
                _f(t, "usable", r) == z3.BoolVal(spec.naive),
                z3.Not(_f(t, "fon", r)),
                z3.Not(_f(t, "capon", r)),
                z3.Not(_f(t, "bulk", r)),
                z3.Not(_f(t, "bulk", 1 - r)),
                keep(
                    fr,
                    {f"act{r}", f"cpy{r}", f"usable{r}", f"fon{r}", f"capon{r}"}
                    | {f"bulk{o}" for o in _routers()},
                ),
            )

        return (f"demote{r}", trans)

    def promote(r: int) -> tuple[str, Transition]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t, jump = fr.pre, fr.post, fr.par["J"]
            start = _f(s, "v", r) + jump
            parts = [
                _f(s, "cpy", r),
                _f(s, "usable", r),
                z3.Not(_f(s, "act", r)),
                jump > 0,
                _f(t, "act", r),
                z3.Not(_f(t, "cpy", r)),
                z3.Not(_f(t, "usable", r)),
                _f(t, "v", r) == start,
                z3.Not(_f(t, "fon", r)),
                z3.Not(_f(t, "capon", r)),
                z3.Not(_f(t, "bulk", r)),
            ]
            parts.append(_f(t, "lo", r) == start)
            changed = {f"act{r}", f"cpy{r}", f"usable{r}", f"v{r}", f"fon{r}", f"capon{r}"}
            changed |= {f"bulk{r}", f"lo{r}"}
            if spec.kind == "in":
                parts.append(_f(t, "seen", r) == _range_set(start - fr.par["W"], start))
                changed.add(f"seen{r}")
            parts.append(keep(fr, changed))
            return z3.And(parts)

        return (f"promote{r}", trans)

    def crash(r: int) -> tuple[str, Transition]:
        o = 1 - r

        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            cleared = [
                z3.Not(_f(t, name, r))
                for name in ("act", "cpy", "usable", "fon", "capon", "unrep", "flset")
            ] + [z3.Not(_f(t, "bulk", q)) for q in _routers()]
            return z3.And(
                *cleared,
                _f(t, "v", r) == 0,
                _f(t, "inc", r) == _f(s, "inc", r) + 1,
                _f(t, "seen", r) == _empty(),
                z3.Not(t["conn"]),
                *[z3.Not(t[p]) for p in pending],
                keep(
                    fr,
                    {f"{name}{r}" for name in ("act", "cpy", "usable", "fon", "capon", "unrep")}
                    | {f"flset{r}", f"v{r}", f"inc{r}", f"seen{r}", "conn", *pending}
                    | {f"bulk{q}" for q in _routers()},
                ),
            )

        del o
        return (f"crash{r}", trans)

    transitions = []
    for r in _routers():
        transitions += [
            use(r),
            update(r),
            deliver_update(r),
            deliver_ack(r),
            sync(r),
            resync(r),
            deliver_add(r),
            demote(r),
            promote(r),
            crash(r),
        ]
    transitions += [("lose", lose), ("disconnect", disconnect), ("connect", connect)]
    return System(
        name=f"counters-{spec.kind}",
        fields=fields,
        params=params,
        param_range=param_range,
        init=init,
        transitions=tuple(transitions),
    )


def _seeds(spec: CounterSpec, jump: z3.ArithRef) -> z3.BoolRef:
    """Whether a full copy seeds a floor: always, except inbound with N = 0 (rule 4)."""
    if spec.naive:
        return z3.BoolVal(False)
    return jump > 0 if spec.kind == "in" else z3.BoolVal(True)


def _in_window_seen(state: Vars, r: int, x: z3.ArithRef, window: z3.ArithRef) -> z3.BoolRef:
    v = _f(state, "v", r)
    return z3.Or(x <= v - window, _f(state, "seen", r)[x])


def counter_witness_safe(s: Vars, par: Vars) -> z3.BoolRef:
    """Bounded form of I3/I4 (with ``witness=True``): the number ``w`` is used at most once."""
    del par
    return s["uses"] <= 1


def counter_safe(spec: CounterSpec) -> StatePredicate:
    """Safety: every number an ACTIVE holder may use next is unused (I3 / I4)."""

    def safe(s: Vars, par: Vars) -> z3.BoolRef:
        x = z3.Int("x")
        parts = []
        for r in _routers():
            v = _f(s, "v", r)
            if spec.kind == "out":
                nxt = v + 1
                parts.append(
                    z3.Implies(
                        z3.And(
                            _f(s, "act", r),
                            nxt <= SEQ_MAX if spec.limit32 else z3.BoolVal(True),
                            _within_limit(s, r, nxt, par["J"]),
                        ),
                        z3.Not(s["used"][nxt]),
                    )
                )
            else:
                parts.append(
                    z3.Implies(
                        _f(s, "act", r),
                        z3.ForAll(
                            [x],
                            z3.Implies(
                                z3.And(
                                    s["used"][x],
                                    x > v - par["W"],
                                    _within_limit(s, r, x, par["J"]),
                                ),
                                _f(s, "seen", r)[x],
                            ),
                        ),
                    )
                )
        return z3.And(parts)

    return safe


def counter_invariant(spec: CounterSpec) -> list[tuple[str, StatePredicate]]:
    """The strengthening (see the module docstring), conjunct by conjunct."""
    x = z3.Int("x")

    def all_used(s: Vars, pred: z3.BoolRef) -> z3.BoolRef:
        return z3.ForAll([x], z3.Implies(s["used"][x], pred))

    def future_free(s: Vars, par: Vars) -> z3.BoolRef:
        jump = par["J"]
        parts = []
        for r in _routers():
            v = _f(s, "v", r)
            pred = z3.Or(x <= v, _beyond_limit(s, r, x, jump))
            if spec.kind == "in":
                pred = z3.And(pred, z3.Implies(x <= v, _in_window_seen(s, r, x, par["W"])))
            parts.append(z3.Implies(_f(s, "act", r), all_used(s, pred)))
        return z3.And(parts)

    def window_covers(s: Vars, par: Vars) -> z3.BoolRef:
        parts = []
        for r in _routers():
            v, lo = _f(s, "v", r), _f(s, "lo", r)
            below_lo = z3.And(x >= 1, x <= lo, x > v - par["W"])
            parts.append(
                z3.Implies(
                    _f(s, "act", r), z3.ForAll([x], z3.Implies(below_lo, _f(s, "seen", r)[x]))
                )
            )
        return z3.And(parts)

    def shape(s: Vars, par: Vars) -> z3.BoolRef:
        # N = 0 (inbound only): no floor is ever seeded and no copy is ever promoted, so
        # only the router the SA was negotiated on ever holds it ACTIVE.
        parts = [
            z3.Implies(
                par["J"] == 0,
                z3.Not(z3.Or(_f(s, "act", 1), _f(s, "fon", 0), _f(s, "fon", 1))),
            ),
            z3.Implies(
                z3.And(par["J"] == 0, _f(s, "act", 0)),
                z3.ForAll([x], z3.Implies(s["used"][x], x <= _f(s, "v", 0))),
            ),
        ]
        for r in _routers():
            o = 1 - r
            v = _f(s, "v", r)
            parts += [
                z3.Implies(
                    _f(s, "unrep", r),
                    z3.Not(
                        z3.Or(
                            _f(s, "act", o),
                            _f(s, "cpy", o),
                            _f(s, "addp", o),
                            _f(s, "addp", r),
                            _f(s, "usable", r),
                        )
                    ),
                ),
                z3.Implies(
                    z3.And(
                        _f(s, "fon", r), _f(s, "flset", r), _f(s, "flinc", r) != _f(s, "inc", o)
                    ),
                    z3.Not(z3.Or(_f(s, "act", o), _f(s, "cpy", o), _f(s, "addp", o))),
                ),
                v >= 0,
                z3.Implies(_f(s, "act", r), _f(s, "lo", r) <= v),
                z3.Implies(_f(s, "fon", r), _f(s, "flset", r)),
                z3.Not(z3.And(_f(s, "usable", r), _f(s, "usable", o))),
                z3.Implies(_f(s, "fon", r), v <= _f(s, "fl", r) + par["J"]),
                z3.Implies(z3.And(_f(s, "updp", r), _f(s, "act", r)), _f(s, "updv", r) <= v),
                z3.Implies(
                    z3.And(_f(s, "addp", o), _f(s, "updp", r)),
                    _f(s, "updv", r) <= _f(s, "addv", o),
                ),
                z3.Implies(
                    z3.And(_f(s, "addp", o), _f(s, "ackp", r)),
                    _f(s, "ackv", r) <= _f(s, "addv", o),
                ),
                z3.Implies(_f(s, "addp", r), _f(s, "addv", r) >= 0),
                z3.Implies(_f(s, "ackp", r), _f(s, "ackv", r) >= 0),
                z3.Not(z3.And(_f(s, "act", r), _f(s, "cpy", r))),
                z3.Implies(_f(s, "usable", r), _f(s, "cpy", r)),
                z3.Implies(_f(s, "fon", r), z3.And(_f(s, "act", r), _f(s, "fl", r) <= v)),
                z3.Implies(_f(s, "fon", r), _f(s, "fl", r) >= 0),
                z3.Implies(
                    _f(s, "bulk", r),
                    z3.And(
                        _f(s, "act", r),
                        s["conn"],
                        _f(s, "flset", r),
                        _f(s, "flinc", r) == _f(s, "inc", o),
                    ),
                ),
                z3.Implies(_f(s, "capon", r), z3.And(_f(s, "act", r), _f(s, "unrep", r))),
                z3.Implies(
                    z3.And(_f(s, "ackp", r), z3.Or(_f(s, "act", r), _f(s, "cpy", r))),
                    _f(s, "ackv", r) <= v,
                ),
                z3.Implies(
                    z3.And(_f(s, "ackp", r), _f(s, "addp", r)),
                    _f(s, "ackv", r) <= _f(s, "addv", r),
                ),
                z3.Implies(
                    z3.And(_f(s, "ackp", r), _f(s, "act", o)),
                    _f(s, "ackv", r) <= _f(s, "v", o),
                ),
                z3.Implies(
                    z3.And(_f(s, "updp", o), z3.Or(_f(s, "act", r), _f(s, "cpy", r))),
                    _f(s, "updv", o) <= v,
                ),
                z3.Implies(
                    z3.And(_f(s, "bulk", r), _f(s, "act", o)),
                    z3.And(
                        _f(s, "fon", r),
                        _f(s, "fl", r) + par["J"] <= _f(s, "lo", o),
                        z3.Implies(_f(s, "ackp", r), _f(s, "ackv", r) + par["J"] <= _f(s, "lo", o)),
                    ),
                ),
                z3.Implies(
                    z3.And(_f(s, "addp", o), z3.Or(_f(s, "act", r), _f(s, "cpy", r))),
                    _f(s, "addv", o) <= v,
                ),
                z3.Implies(z3.Or(_f(s, "addp", r), _f(s, "updp", r), _f(s, "ackp", r)), s["conn"]),
                z3.Implies(_f(s, "flset", r), _f(s, "flinc", r) <= _f(s, "inc", o)),
            ]
        return z3.And(parts)

    def copy_covers(s: Vars, par: Vars) -> z3.BoolRef:
        jump = par["J"]
        parts = []
        for o in _routers():
            r = 1 - o
            c = _f(s, "v", o)
            covers = z3.And(
                all_used(s, x <= c + jump),
                z3.Implies(_f(s, "updp", o), _f(s, "updv", o) <= c + jump),
                z3.Implies(_f(s, "ackp", r), _f(s, "ackv", r) <= c + jump),
                z3.Implies(z3.Or(_f(s, "act", r), _f(s, "cpy", r)), _f(s, "v", r) <= c + jump),
                z3.Implies(
                    _f(s, "act", r),
                    z3.And(
                        c <= _f(s, "v", r),
                        z3.Implies(s["conn"], _f(s, "bulk", r)),
                        _f(s, "fon", r),
                        _f(s, "fl", r) <= c,
                        z3.Implies(_f(s, "ackp", r), _f(s, "ackv", r) <= c),
                    ),
                ),
            )
            parts.append(z3.Implies(z3.And(_f(s, "usable", o), jump > 0), covers))
        return z3.And(parts)

    def add_covers(s: Vars, par: Vars) -> z3.BoolRef:
        jump = par["J"]
        parts = []
        for o in _routers():
            r = 1 - o
            w = _f(s, "addv", o)
            covers = z3.And(
                all_used(s, x <= w + jump),
                z3.Implies(_f(s, "updp", o), _f(s, "updv", o) <= w + jump),
                z3.Implies(_f(s, "ackp", r), _f(s, "ackv", r) <= w + jump),
                z3.Implies(z3.Or(_f(s, "act", r), _f(s, "cpy", r)), _f(s, "v", r) <= w + jump),
                z3.Implies(
                    _f(s, "act", r),
                    z3.And(
                        _f(s, "fon", r),
                        _f(s, "fl", r) <= w,
                        z3.Implies(_f(s, "ackp", r), _f(s, "ackv", r) <= w),
                    ),
                ),
                z3.Implies(_f(s, "act", r), _f(s, "bulk", r)),
            )
            parts.append(z3.Implies(z3.And(_f(s, "addp", o), jump > 0), covers))
            parts.append(
                z3.Implies(
                    _f(s, "addp", o),
                    z3.Not(
                        z3.Or(
                            _f(s, "usable", o),
                            _f(s, "act", o),
                            _f(s, "usable", r),
                            _f(s, "addp", r),
                        )
                    ),
                )
            )
        return z3.And(parts)

    def ack_covers(s: Vars, par: Vars) -> z3.BoolRef:
        jump = par["J"]
        parts = []
        for r in _routers():
            v, a = _f(s, "v", r), _f(s, "ackv", r)
            pred = z3.Or(x <= v, x > a + jump, z3.And(_f(s, "capon", r), x > _f(s, "cap", r)))
            parts.append(z3.Implies(z3.And(_f(s, "act", r), _f(s, "ackp", r)), all_used(s, pred)))
        return z3.And(parts)

    def holder_covers(s: Vars, par: Vars) -> z3.BoolRef:
        jump = par["J"]
        parts = []
        for r in _routers():
            o = 1 - r
            v = _f(s, "v", r)
            capped = z3.And(_f(s, "capon", r), x > _f(s, "cap", r))
            forgotten = z3.And(
                _f(s, "fon", r),
                _f(s, "flset", r),
                _f(s, "flinc", r) != _f(s, "inc", o),
                x > _f(s, "fl", r) + jump,
            )
            held = z3.And(z3.Or(_f(s, "cpy", o), _f(s, "act", o)), x <= _f(s, "v", o))
            synced = z3.Implies(
                z3.And(_f(s, "act", r), _f(s, "bulk", r), z3.Not(_f(s, "act", o))),
                all_used(s, z3.Or(x <= v, capped)),
            )
            ready = z3.Implies(
                _f(s, "act", r),
                all_used(s, z3.Or(x <= v, capped, forgotten, held)),
            )
            parts += [synced, ready]
        return z3.And(parts)

    def split(s: Vars, par: Vars) -> z3.BoolRef:
        jump = par["J"]

        def below(r: int, other: z3.ArithRef) -> z3.BoolRef:
            limited = z3.Or(
                z3.And(_f(s, "fon", r), _f(s, "fl", r) + jump <= other),
                z3.And(_f(s, "capon", r), _f(s, "cap", r) <= other),
            )
            acks = z3.Implies(_f(s, "ackp", r), _f(s, "ackv", r) + jump <= other)
            return z3.And(limited, acks)

        both = z3.And(_f(s, "act", 0), _f(s, "act", 1))
        return z3.Implies(both, z3.Or(below(0, _f(s, "lo", 1)), below(1, _f(s, "lo", 0))))

    return [
        ("shape", shape),
        ("split", split),
        ("ack-covers", ack_covers),
        ("holder-covers", holder_covers),
        *([("window-covers", window_covers)] if spec.kind == "in" else []),
        ("future-free", future_free),
        ("copy-covers", copy_covers),
        ("add-covers", add_covers),
    ]
