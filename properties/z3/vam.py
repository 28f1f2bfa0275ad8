"""Crypto-card capacity (I7) for a given pair of cards and SA load.

Theory of operation
-------------------
Each router's card holds at most ``capacity`` IPsec SAs, counting both directions
of a pair (two per pair) and counting standby copies as well as ACTIVE SAs
(``model/vam.py``, ``model/system.py``). The encoding counts, per router, the
pairs it holds ACTIVE (``act``) and as copies (``cpy``), the Adds in flight to it
(``addp``), and, as ghosts, the refusals reported (``refused``) and the copies
lost without a report (``silent``). The load is the number of distinct SAs the
peer negotiates (``issued ≤ load``); a router holds at most one instance of each.

Transitions: ``establish`` (admitted iff two more fit, else a reported refusal),
``replicate`` (an Add for one of the holder's SAs), ``deliver_add`` (stored iff two
more fit, else refused *and reported*: HA degraded, I7), ``delete`` (and the copy
with it), ``promote``/``demote`` (a copy becomes ACTIVE and back: the count does
not change), ``resync``/``crash`` (copies / everything dropped).

Properties:

- **I7**: ``2·(act + cpy) ≤ capacity`` on both cards, and ``silent = 0`` (every SA
  that is not stored is reported). Inductive as stated, with ``act, cpy ≥ 0``.
- **I7-load**: when ``2·load ≤`` a card's capacity, that card never refuses: each
  router holds at most one instance per issued SA (strengthening:
  ``act + cpy + addp ≤ issued``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import z3

from .engine import FieldKind, Frame, StatePredicate, System, Vars

__all__ = ["i7_invariant", "i7_load_safe", "i7_safe", "vam_system"]

_INT: Final[FieldKind] = "int"
FIELDS: Final[tuple[tuple[str, FieldKind], ...]] = (
    *((f"{n}{r}", _INT) for r in (0, 1) for n in ("act", "cpy", "addp", "refused")),
    ("issued", _INT),
    ("silent", _INT),
)


def vam_system(capacity: tuple[int | None, int | None], load: int) -> System:
    """Counts of SAs on two cards of the given capacities (None: no limit) under ``load``."""

    def fits(s: Vars, r: int) -> z3.BoolRef:
        cap = capacity[r]
        if cap is None:
            return z3.BoolVal(True)
        return 2 * (s[f"act{r}"] + s[f"cpy{r}"]) + 2 <= cap

    def keep(fr: Frame, changed: set[str]) -> z3.BoolRef:
        return fr.same(*(n for n, _ in FIELDS if n not in changed))

    def init(s: Vars, par: Vars) -> z3.BoolRef:
        del par
        return z3.And([s[n] == 0 for n, _ in FIELDS])

    def establish(r: int) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            ok = fits(s, r)
            return z3.And(
                s["issued"] < load,
                t["issued"] == s["issued"] + 1,
                t[f"act{r}"] == s[f"act{r}"] + z3.If(ok, 1, 0),
                t[f"refused{r}"] == s[f"refused{r}"] + z3.If(ok, 0, 1),
                keep(fr, {"issued", f"act{r}", f"refused{r}"}),
            )

        return (f"establish{r}", trans)

    def replicate(r: int) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        o = 1 - r

        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            # One Add per SA the holder has that the other end neither holds nor awaits.
            return z3.And(
                s[f"act{o}"] + s[f"cpy{o}"] + s[f"addp{o}"] < s[f"act{r}"],
                t[f"addp{o}"] == s[f"addp{o}"] + 1,
                keep(fr, {f"addp{o}"}),
            )

        return (f"replicate{r}", trans)

    def deliver_add(o: int) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            ok = fits(s, o)
            return z3.And(
                s[f"addp{o}"] >= 1,
                t[f"addp{o}"] == s[f"addp{o}"] - 1,
                t[f"cpy{o}"] == s[f"cpy{o}"] + z3.If(ok, 1, 0),
                t[f"refused{o}"] == s[f"refused{o}"] + z3.If(ok, 0, 1),
                keep(fr, {f"addp{o}", f"cpy{o}", f"refused{o}"}),
            )

        return (f"deliver_add{o}", trans)

    def delete(r: int) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        o = 1 - r

        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            with_copy = fr.bool_input("with_copy")
            return z3.And(
                s[f"act{r}"] >= 1,
                t[f"act{r}"] == s[f"act{r}"] - 1,
                z3.Implies(with_copy, s[f"cpy{o}"] >= 1),
                t[f"cpy{o}"] == s[f"cpy{o}"] - z3.If(with_copy, 1, 0),
                keep(fr, {f"act{r}", f"cpy{o}"}),
            )

        return (f"delete{r}", trans)

    def promote(r: int) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            n = fr.int_input("n")
            return z3.And(
                n >= 0,
                n <= s[f"cpy{r}"],
                t[f"cpy{r}"] == s[f"cpy{r}"] - n,
                t[f"act{r}"] == s[f"act{r}"] + n,
                keep(fr, {f"cpy{r}", f"act{r}"}),
            )

        return (f"promote{r}", trans)

    def demote(r: int) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            return z3.And(
                t[f"cpy{r}"] == s[f"cpy{r}"] + s[f"act{r}"],
                t[f"act{r}"] == 0,
                keep(fr, {f"cpy{r}", f"act{r}"}),
            )

        return (f"demote{r}", trans)

    def resync(r: int) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        def trans(fr: Frame) -> z3.BoolRef:
            t = fr.post
            return z3.And(t[f"cpy{r}"] == 0, keep(fr, {f"cpy{r}"}))

        return (f"resync{r}", trans)

    def crash(r: int) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        def trans(fr: Frame) -> z3.BoolRef:
            t = fr.post
            gone = {f"act{r}", f"cpy{r}", "addp0", "addp1"}
            return z3.And(*[t[n] == 0 for n in gone], keep(fr, gone))

        return (f"crash{r}", trans)

    def lose(fr: Frame) -> z3.BoolRef:
        t = fr.post
        return z3.And(t["addp0"] == 0, t["addp1"] == 0, keep(fr, {"addp0", "addp1"}))

    transitions: list[tuple[str, Callable[[Frame], z3.BoolRef]]] = [("lose", lose)]
    for r in (0, 1):
        transitions += [
            establish(r),
            replicate(r),
            deliver_add(r),
            delete(r),
            promote(r),
            demote(r),
            resync(r),
            crash(r),
        ]
    return System(
        name="vam-capacity",
        fields=FIELDS,
        params=(),
        param_range=lambda par: z3.BoolVal(True),
        init=init,
        transitions=tuple(transitions),
    )


def i7_safe(capacity: tuple[int | None, int | None]) -> StatePredicate:
    """I7: no card over capacity, no SA dropped without a report."""

    def safe(s: Vars, par: Vars) -> z3.BoolRef:
        del par
        parts = [s["silent"] == 0]
        for r in (0, 1):
            cap = capacity[r]
            if cap is not None:
                parts.append(2 * (s[f"act{r}"] + s[f"cpy{r}"]) <= cap)
        return z3.And(parts)

    return safe


def i7_load_safe(capacity: tuple[int | None, int | None], load: int) -> StatePredicate:
    """I7-load: a card with room for twice the load never refuses."""

    def safe(s: Vars, par: Vars) -> z3.BoolRef:
        del par
        parts = [
            s[f"refused{r}"] == 0
            for r in (0, 1)
            if capacity[r] is None or 2 * load <= (capacity[r] or 0)
        ]
        return z3.And(parts) if parts else z3.BoolVal(True)

    return safe


def i7_invariant(
    capacity: tuple[int | None, int | None], load: int
) -> list[tuple[str, StatePredicate]]:
    """Counts are non-negative; each router holds or awaits at most one instance per SA."""

    def counts(s: Vars, par: Vars) -> z3.BoolRef:
        del par
        parts = [s[n] >= 0 for n, _ in FIELDS]
        parts.append(s["issued"] <= load)
        for r in (0, 1):
            parts.append(s[f"act{r}"] + s[f"cpy{r}"] + s[f"addp{r}"] <= s["issued"])
        return z3.And(parts)

    return [
        ("counts", counts),
        ("capacity", i7_safe(capacity)),
        ("no-refusal-when-room", i7_load_safe(capacity, load)),
    ]
