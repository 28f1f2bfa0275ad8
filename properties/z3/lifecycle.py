"""SA life cycle: I6 (no resurrection) and the seconds half of I8 (lifetimes never extended).

Theory of operation
-------------------
One SA, two routers, time. The rules restated from ``model/system.py``:

- The SA is negotiated on one router (ACTIVE) with an absolute expiry ``EXP``.
- The ACTIVE holder replicates it with an Add (the record, expiry included);
  the other end keeps a copy, *usable* until something makes it stale (a new SSP
  connection, its own demotion).
- ``delete`` on the holder removes it and, while connected, sends a Delete; the
  other end removes its copy and acknowledges (a holder that is itself ACTIVE
  refuses it and does not acknowledge). The acknowledgement marks the SA
  ``gone`` (the model's ``deleted[sa] = "acked"``).
- Every instance is removed when its expiry comes; that marks it ``gone``
  (``"expired"``); a copy is promoted only while ``expires > now``.
- SSP may lose messages or die at any time (nothing is learnt), connect again
  (copies stale), a router may crash (loses everything), demote (its SA becomes
  a stale copy), the other end may ask for a resync (drops its copies; the holder
  answers with Adds). Messages between the two ends are FIFO: a Delete never
  overtakes an Add sent before it, an acknowledgement never overtakes an Add.
- ASSUMPTION: an Add sent towards a router before it became ACTIVE is delivered
  (and refused) or lost before that router leaves ACTIVE again. Without it the
  encoding allows: the Add is held (SSP path down) while the router takes over,
  deletes the SA, leaves ACTIVE; the Add then lands as a usable copy, the other
  end acknowledges the Delete, and the copy can be promoted after the delete was
  acknowledged. The model does not rule such a late Add out in general
  (``replay.late_add_operations``: an Add held while SSP is silent lands after its
  receiver took over and left; ``counters.py`` assumption 1, refuted as
  ``I3-late-add``); in this scenario the model's tombstone (a router refuses copies of
  an SA it deleted, not encoded here) is what refuses it. The lease
  (``copy_usable``'s grace after SSP was last heard) only narrows when a copy may be
  promoted; the encoding lets any non-stale copy be promoted at any time, which
  includes it.

State: per router ``act``/``cpy``/``usable``/``exp`` (the instance and the expiry it
carries), ``addp``/``addv`` (an Add in flight towards it and the expiry it carries),
``delp`` (a Delete in flight towards it), ``ackp`` (an acknowledgement towards it);
``conn``, ``now``, ghosts ``gone`` and ``unacked`` (deleted, not yet acknowledged).

Properties and strengthening:

- **I6**: once ``gone``, no router holds the SA ACTIVE with lifetime left, and no
  copy or Add of it with lifetime left exists. Strengthening: a pending Delete
  or acknowledgement implies the deleting router holds nothing and ``unacked``; an
  acknowledgement in flight implies the other end holds no copy and no Add is in
  flight to it; expiries are all ``EXP`` (below).
- **I8 (seconds)**: every instance, copy and Add carries exactly ``EXP``. This is
  inductive as it stands: nothing ever recomputes an expiry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import z3

from .engine import FieldKind, Frame, StatePredicate, System, Vars

__all__ = ["i6_invariant", "i6_safe", "i8_expiry_safe", "lifecycle_system"]

_PER: Final[tuple[tuple[str, FieldKind], ...]] = (
    ("act", "bool"),
    ("cpy", "bool"),
    ("usable", "bool"),
    ("exp", "int"),
    ("addp", "bool"),
    ("addv", "int"),
    ("delp", "bool"),
    ("ackp", "bool"),
    ("role", "bool"),
)
FIELDS: Final[tuple[tuple[str, FieldKind], ...]] = (
    *((f"{n}{r}", k) for r in (0, 1) for n, k in _PER),
    ("conn", "bool"),
    ("now", "int"),
    ("gone", "bool"),
    ("unacked", "bool"),
)


def _held(s: Vars, r: int) -> z3.BoolRef:
    return z3.Or(s[f"act{r}"], s[f"cpy{r}"])


def lifecycle_system() -> System:
    """The SA life-cycle transition system (module docstring)."""

    def keep(fr: Frame, changed: set[str]) -> z3.BoolRef:
        return fr.same(*(n for n, _ in FIELDS if n not in changed))

    def init(s: Vars, par: Vars) -> z3.BoolRef:
        parts = [
            s["act0"],
            s["role0"],
            z3.Not(s["role1"]),
            s["exp0"] == par["EXP"],
            s["now"] >= 0,
            s["now"] < par["EXP"],
            z3.Not(s["conn"]),
            z3.Not(s["gone"]),
            z3.Not(s["unacked"]),
            z3.Not(s["act1"]),
        ]
        for r in (0, 1):
            parts += [z3.Not(s[f"{n}{r}"]) for n in ("cpy", "usable", "addp", "delp", "ackp")]
        return z3.And(parts)

    def tick(fr: Frame) -> z3.BoolRef:
        s, t = fr.pre, fr.post
        d = fr.int_input("ms")
        # Time never passes an instance's expiry: the expiry event runs first.
        limits = [z3.Implies(_held(s, r), s["now"] + d <= s[f"exp{r}"]) for r in (0, 1)]
        return z3.And(d >= 1, *limits, t["now"] == s["now"] + d, keep(fr, {"now"}))

    def expire(r: int) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            return z3.And(
                _held(s, r),
                s[f"exp{r}"] <= s["now"],
                z3.Not(t[f"act{r}"]),
                z3.Not(t[f"cpy{r}"]),
                z3.Not(t[f"usable{r}"]),
                t["gone"],
                keep(fr, {f"act{r}", f"cpy{r}", f"usable{r}", "gone"}),
            )

        return (f"expire{r}", trans)

    def replicate(r: int) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        o = 1 - r

        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            return z3.And(
                s["conn"],
                s[f"act{r}"],
                z3.Not(s[f"role{o}"]),
                # FIFO: r replicates to o only after o's announcement, which travels
                # behind any Delete o sent before it.
                z3.Not(s[f"delp{r}"]),
                t[f"addp{o}"],
                t[f"addv{o}"] == s[f"exp{r}"],
                keep(fr, {f"addp{o}", f"addv{o}"}),
            )

        return (f"replicate{r}", trans)

    def deliver_add(o: int) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            taken = z3.Not(s[f"role{o}"])
            return z3.And(
                s[f"addp{o}"],
                z3.Not(t[f"addp{o}"]),
                t[f"cpy{o}"] == z3.Or(s[f"cpy{o}"], taken),
                t[f"usable{o}"] == z3.Or(s[f"usable{o}"], taken),
                t[f"exp{o}"] == z3.If(taken, s[f"addv{o}"], s[f"exp{o}"]),
                keep(fr, {f"addp{o}", f"cpy{o}", f"usable{o}", f"exp{o}"}),
            )

        return (f"deliver_add{o}", trans)

    def delete(r: int) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        o = 1 - r

        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            return z3.And(
                s[f"act{r}"],
                z3.Not(t[f"act{r}"]),
                t["unacked"] == z3.Or(s["unacked"], z3.Not(s["gone"])),
                t[f"delp{o}"] == z3.Or(s[f"delp{o}"], s["conn"]),
                keep(fr, {f"act{r}", "unacked", f"delp{o}"}),
            )

        return (f"delete{r}", trans)

    def deliver_delete(o: int) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        r = 1 - o

        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            applies = z3.Not(s[f"role{o}"])
            return z3.And(
                s[f"delp{o}"],
                z3.Not(s[f"addp{o}"]),  # FIFO: an earlier Add arrives first
                z3.Not(t[f"delp{o}"]),
                t[f"cpy{o}"] == z3.And(s[f"cpy{o}"], z3.Not(applies)),
                t[f"usable{o}"] == z3.And(s[f"usable{o}"], z3.Not(applies)),
                t[f"ackp{r}"] == z3.Or(s[f"ackp{r}"], applies),
                keep(fr, {f"delp{o}", f"cpy{o}", f"usable{o}", f"ackp{r}"}),
            )

        return (f"deliver_delete{o}", trans)

    def deliver_ack(r: int) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            return z3.And(
                s[f"ackp{r}"],
                z3.Not(s[f"addp{r}"]),  # FIFO: an Add sent before the acknowledgement
                z3.Not(t[f"ackp{r}"]),
                t["gone"] == z3.Or(s["gone"], s["unacked"]),
                keep(fr, {f"ackp{r}", "gone"}),
            )

        return (f"deliver_ack{r}", trans)

    def promote(r: int) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            return z3.And(
                s[f"cpy{r}"],
                s[f"usable{r}"],
                s[f"exp{r}"] > s["now"],
                t[f"act{r}"],
                t[f"role{r}"],
                z3.Not(t[f"cpy{r}"]),
                z3.Not(t[f"usable{r}"]),
                keep(fr, {f"act{r}", f"cpy{r}", f"usable{r}", f"role{r}"}),
            )

        return (f"promote{r}", trans)

    def demote(r: int) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            # Leaving ACTIVE (the SA, if held, becomes a stale copy).
            return z3.And(
                s[f"role{r}"],
                # ASSUMPTION (see the module docstring): an Add sent towards a router
                # before it became ACTIVE is delivered (refused) or lost before it leaves.
                z3.Not(s[f"addp{r}"]),
                z3.Not(t[f"role{r}"]),
                z3.Not(t[f"act{r}"]),
                t[f"cpy{r}"] == z3.Or(s[f"cpy{r}"], s[f"act{r}"]),
                t[f"usable{r}"] == z3.And(s[f"usable{r}"], z3.Not(s[f"act{r}"])),
                keep(fr, {f"act{r}", f"cpy{r}", f"usable{r}", f"role{r}"}),
            )

        return (f"demote{r}", trans)

    def become_active(r: int) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            # Becoming ACTIVE without promoting this SA: an unusable copy is discarded.
            return z3.And(
                z3.Not(s[f"role{r}"]),
                t[f"role{r}"],
                z3.Not(t[f"cpy{r}"]),
                z3.Not(t[f"usable{r}"]),
                keep(fr, {f"role{r}", f"cpy{r}", f"usable{r}"}),
            )

        return (f"become_active{r}", trans)

    def resync(o: int) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            return z3.And(
                z3.Not(s[f"role{o}"]),
                z3.Not(t[f"cpy{o}"]),
                z3.Not(t[f"usable{o}"]),
                keep(fr, {f"cpy{o}", f"usable{o}"}),
            )

        return (f"resync{o}", trans)

    def crash(r: int) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        pending = [f"{n}{q}" for q in (0, 1) for n in ("addp", "delp", "ackp")]

        def trans(fr: Frame) -> z3.BoolRef:
            t = fr.post
            gone_here = [z3.Not(t[f"{n}{r}"]) for n in ("act", "cpy", "usable", "role")]
            return z3.And(
                *gone_here,
                z3.Not(t["conn"]),
                *[z3.Not(t[p]) for p in pending],
                keep(fr, {f"act{r}", f"cpy{r}", f"usable{r}", f"role{r}", "conn", *pending}),
            )

        return (f"crash{r}", trans)

    pending = [f"{n}{q}" for q in (0, 1) for n in ("addp", "delp", "ackp")]

    def lose(fr: Frame) -> z3.BoolRef:
        s, t = fr.pre, fr.post
        return z3.And(*[z3.Or(t[p] == s[p], z3.Not(t[p])) for p in pending], keep(fr, set(pending)))

    def disconnect(fr: Frame) -> z3.BoolRef:
        t = fr.post
        return z3.And(
            z3.Not(t["conn"]), *[z3.Not(t[p]) for p in pending], keep(fr, {"conn", *pending})
        )

    def connect(fr: Frame) -> z3.BoolRef:
        s, t = fr.pre, fr.post
        return z3.And(
            z3.Not(s["conn"]),
            t["conn"],
            z3.Not(t["usable0"]),
            z3.Not(t["usable1"]),
            keep(fr, {"conn", "usable0", "usable1"}),
        )

    transitions: list[tuple[str, Callable[[Frame], z3.BoolRef]]] = [
        ("tick", tick),
        ("lose", lose),
        ("disconnect", disconnect),
        ("connect", connect),
    ]
    for r in (0, 1):
        transitions += [
            expire(r),
            replicate(r),
            deliver_add(r),
            delete(r),
            deliver_delete(r),
            deliver_ack(r),
            promote(r),
            demote(r),
            resync(r),
            become_active(r),
            crash(r),
        ]
    return System(
        name="sa-lifecycle",
        fields=FIELDS,
        params=(("EXP", "int"),),
        param_range=lambda par: par["EXP"] > 0,
        init=init,
        transitions=tuple(transitions),
    )


def i6_safe(s: Vars, par: Vars) -> z3.BoolRef:
    """I6: once gone (acknowledged delete or expiry), nothing of it has lifetime left: no
    ACTIVE instance, no usable copy, no Add that the receiver would take."""
    del par
    alive = [
        z3.And(z3.Or(s[f"act{r}"], s[f"usable{r}"]), s[f"exp{r}"] > s["now"]) for r in (0, 1)
    ] + [z3.And(s[f"addp{r}"], z3.Not(s[f"role{r}"]), s[f"addv{r}"] > s["now"]) for r in (0, 1)]
    return z3.Implies(s["gone"], z3.Not(z3.Or(alive)))


def i8_expiry_safe(s: Vars, par: Vars) -> z3.BoolRef:
    """I8 (seconds): every instance, copy and Add carries the negotiated expiry."""
    parts = []
    for r in (0, 1):
        parts += [
            z3.Implies(z3.Or(s[f"act{r}"], s[f"cpy{r}"]), s[f"exp{r}"] == par["EXP"]),
            z3.Implies(s[f"addp{r}"], s[f"addv{r}"] == par["EXP"]),
        ]
    return z3.And(parts)


def i6_invariant() -> list[tuple[str, StatePredicate]]:
    """The strengthening of I6 (module docstring)."""

    def expiries(s: Vars, par: Vars) -> z3.BoolRef:
        return z3.And(i8_expiry_safe(s, par), s["now"] >= 0)

    def deletes(s: Vars, par: Vars) -> z3.BoolRef:
        del par
        parts = []
        for o in (0, 1):
            r = 1 - o
            nothing_at_r = z3.Not(z3.Or(s[f"act{r}"], s[f"cpy{r}"]))
            refused_at_r = z3.Implies(s[f"addp{r}"], s[f"role{r}"])
            parts += [
                # A Delete towards o: r deleted it (holds nothing), not yet acknowledged.
                z3.Implies(
                    s[f"delp{o}"],
                    z3.And(nothing_at_r, z3.Or(s["unacked"], s["gone"]), s["conn"]),
                ),
                # An acknowledgement towards r: o dropped its copy, nothing more comes.
                z3.Implies(
                    s[f"ackp{r}"],
                    z3.And(
                        nothing_at_r,
                        refused_at_r,
                        z3.Not(z3.Or(s[f"act{o}"], s[f"cpy{o}"], s[f"addp{o}"])),
                        z3.Or(s["unacked"], s["gone"]),
                    ),
                ),
                z3.Implies(s[f"usable{o}"], s[f"cpy{o}"]),
                z3.Not(z3.And(s[f"act{o}"], s[f"cpy{o}"])),
                z3.Implies(s[f"act{o}"], s[f"role{o}"]),
                z3.Implies(s[f"addp{o}"], s["conn"]),
                z3.Implies(s[f"delp{o}"], refused_at_r),
            ]
        return z3.And(parts)

    def gone(s: Vars, par: Vars) -> z3.BoolRef:
        nothing = z3.Not(z3.Or([s[f"{n}{r}"] for r in (0, 1) for n in ("act", "cpy")]))
        refused = z3.And([z3.Implies(s[f"addp{r}"], s[f"role{r}"]) for r in (0, 1)])
        return z3.Implies(s["gone"], z3.Or(s["now"] >= par["EXP"], z3.And(nothing, refused)))

    return [("expiries", expiries), ("deletes", deletes), ("gone", gone)]
