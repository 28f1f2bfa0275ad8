"""SA life cycle: I6 (no resurrection) and the seconds half of I8 (lifetimes never extended).

Theory of operation
-------------------
One SA, two routers, time. The rules are restated from ``model/system.py``, not
imported; ``r`` is a router, ``o`` the other one:

=======================  ==========================================================
transition               effect (model function)
=======================  ==========================================================
``replicate{r}``         r holds the SA ACTIVE and has a connection: an Add (the
                         record, expiry included) goes towards o — a new SA, a full
                         copy, a resync's answer, at any time, whatever o's role
                         (``_replicate_sa``; o's role may have changed meanwhile)
``deliver_add{o}``       an Add arrives: ignored if o is ACTIVE as a device; refused
                         if o buried the SA (a tombstone, until the SA's expiry) or
                         its card is full and it holds no copy; otherwise o holds a
                         usable copy (``_apply_add``)
``delete{r}``            ``clear crypto sa``, the peer's delete, or a rekey (for the old
                         SPI a rekey is a delete: ``Rekey`` runs ``_delete_sa``): r
                         drops its ACTIVE instance, buries it, the SA is ``unacked``,
                         and while replicating a Delete goes towards o
``exhaust{r}``           the kilobyte lifetime runs out on r's instance: as ``delete``
                         but the SA is gone at once (``deleted = "expired"``)
``expire{r}``            the seconds lifetime runs out: r's instance or copy goes (gone);
                         an ACTIVE one may send a Delete (``_expire``)
``deliver_delete{o}``    a Delete arrives (after every Add sent before it): ignored by
                         a router ACTIVE as a device; otherwise o drops its copy,
                         buries it if it held one, and acknowledges
``deliver_ack{r}``       the acknowledgement arrives (after every Add sent before it):
                         the SA is gone (``deleted = "acked"``)
``promote{r}``           r becomes ACTIVE and promotes a usable, unexpired copy; a copy
                         of a kilobyte-exhausted SA is deleted at once (below)
``become_active{r}``     r becomes ACTIVE without promoting: its copy is discarded
``demote{r}``            r leaves ACTIVE: its instance becomes a stale copy
``resync{o}``            ``clear crypto sa ha standby resync``, or a ``BulkBegin``, on a
                         router not ACTIVE: its copies go; its tombstones stay
``crash{r}``             r loses everything, tombstones included (``_power_on``)
``tick``                 time passes, never past an instance's expiry
``lose``                 SSP loses any messages in flight (silent death)
``disconnect``           an end gives up the connection; what it wrote may still arrive
``connect``              a new connection: older messages are dropped, copies are stale
=======================  ==========================================================

Messages are FIFO (the model keeps one queue for both directions; the encoding only
needs each direction in order): a Delete never overtakes an Add sent before it, an
acknowledgement never overtakes an Add. The encoding over-approximates the rest: an
Add may be written at any time by an ACTIVE holder and land on a router that has
since become ACTIVE and left again (the *late Add* the old encoding assumed away);
any non-stale copy may be promoted at any time (the lease, ``copy_usable``, only
narrows when); any router may become ACTIVE or leave at any time (HSRP abstracted);
either end may disconnect at any time. A connection's two ends are established at
different instants in the model; the encoding makes it one step (what happens at one
end in between commutes with the other end's establishment).

The tombstone rule (``Router.tombstones``): a router that deletes an SA, or drops its
copy on a Delete, refuses every copy of it until the SA's expiry. It is what stops
the late Add: router 1 takes over, deletes the SA and leaves ACTIVE while an Add
towards it (written by router 0 before the takeover, held by a silent SSP) is still
in flight; router 0 acknowledges the Delete *behind* that Add, so without the
tombstone the Add lands first as a usable copy, the acknowledgement then marks the
SA gone, and router 1 promotes the copy (``I6-no-tombstone``, expected
counterexample; the lockstep suite found the same rule missing from the model,
``counterexamples/sadb-copy-of-deleted-refused.itf.json``).

Kilobyte lifetimes (a COMPOSITION with ``counters.py``): the encoding does not count
bytes; ``exhaust`` says the count reached the lifetime somewhere, and the ghost
``spent`` records it. A copy promoted after that starts at or above every byte count
ever used (I8-counters: ``counter_ahead_safe``, proved under counters.py's
assumptions 1 and 2), so ``_promote`` deletes it at once; ``promote`` does that when
``spent``. During a split brain the other router's ACTIVE instance counts its own
bytes (lower: hold-back) and *stays* ACTIVE after the exhausted one went: that is not a
resurrection, and the ghost ``old`` marks such an instance (ACTIVE continuously since
the SA went). NOTE: ``properties/invariants.py``'s I6 check flags it (it reads
"expired" cluster-wide), which the model reaches: partition both segments, the
standby takes over and runs the kilobyte lifetime out while the old active still
holds the SA.

State: per router ``role`` (ACTIVE as a device), ``act``/``cpy``/``usable`` (the ACTIVE
instance, a standby copy, not stale), ``exp`` (the expiry it carries), ``tomb``
(buried), ``addp``/``addv`` (Adds in flight towards it and the expiry they carry),
``delp`` (a Delete towards it), ``ackp`` (an acknowledgement towards it), ghost ``old``;
``conn``, ``now``, ghosts ``gone`` (acknowledged delete or expiry), ``unacked`` (deleted,
not yet acknowledged), ``spent`` (kilobyte lifetime exhausted).

Properties and strengthening (the names are the conjuncts Z3 reports):

- **I6** (:func:`i6_safe`): once gone, no router holds the SA ACTIVE with lifetime left
  unless it has held it so since before it went (``old``), and unless the kilobyte
  lifetime ran out, no usable copy with lifetime left exists either.
- ``expiries``: every instance, copy and Add carries the negotiated expiry (I8), so a
  tombstone (which keeps the SA's expiry) lasts exactly as long as any copy could.
- ``shape``: an instance implies the ACTIVE role, a copy its absence; a usable copy is
  a copy; a buried SA is neither held nor copied while it has lifetime left (copies
  are refused); ``spent`` implies gone; ``old`` only for an instance held when the
  kilobyte lifetime ran out elsewhere.
- ``deletes``: a Delete in flight towards o comes from a router that holds nothing of
  the SA and buried it, and the SA is unacked (or gone); an acknowledgement in flight
  towards r additionally means o holds nothing of it and no Add is in flight towards
  o (they all arrived before the Delete, and no one holds the SA ACTIVE to send
  another). This is where the tombstone works: Adds may still be in flight towards
  r, but r refuses them.
- ``gone``: once gone by acknowledgement (not ``spent``), nothing of the SA is held or
  in flight anywhere (the acknowledgement arrived after every Add towards r); after
  ``spent``, every ACTIVE instance is ``old``.
- **I8 (seconds)** (:func:`i8_expiry_safe`): inductive as it stands: nothing ever
  recomputes an expiry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import z3

from .engine import FieldKind, Frame, StatePredicate, System, Vars

__all__ = [
    "FIELDS",
    "NO_TOMBSTONE_MOVES",
    "i6_invariant",
    "i6_safe",
    "i8_expiry_safe",
    "lifecycle_system",
]

_PER: Final[tuple[tuple[str, FieldKind], ...]] = (
    ("role", "bool"),
    ("act", "bool"),
    ("cpy", "bool"),
    ("usable", "bool"),
    ("exp", "int"),
    ("tomb", "bool"),
    ("addp", "bool"),
    ("addv", "int"),
    ("delp", "bool"),
    ("ackp", "bool"),
    ("old", "bool"),
)
FIELDS: Final[tuple[tuple[str, FieldKind], ...]] = (
    *((f"{n}{r}", k) for r in (0, 1) for n, k in _PER),
    ("conn", "bool"),
    ("now", "int"),
    ("gone", "bool"),
    ("unacked", "bool"),
    ("spent", "bool"),
)
_PENDING: Final = tuple(f"{n}{q}" for q in (0, 1) for n in ("addp", "delp", "ackp"))

NO_TOMBSTONE_MOVES: Final = (
    "connect",
    "replicate0",
    "deliver_add1",
    "promote1",
    "demote0",
    "delete1",
    "demote1",
    "deliver_delete0",
    "deliver_ack1",
)
"""The kinds of step the late-Add resurrection needs (a guided bounded search)."""


def _held(s: Vars, r: int) -> z3.BoolRef:
    return z3.Or(s[f"act{r}"], s[f"cpy{r}"])


Trans = Callable[[Frame], z3.BoolRef]


def lifecycle_system(*, tombstones: bool = True) -> System:
    """The SA life-cycle transition system (module docstring); ``tombstones=False`` is the
    model's rule before ``Router.tombstones`` (Z3 refutes it: ``I6-no-tombstone``)."""

    def keep(fr: Frame, changed: set[str]) -> z3.BoolRef:
        """Every other field is unchanged; the ghosts ``old`` follow ``gone`` and ``act``."""
        s, t = fr.pre, fr.post
        ghosts = [
            t[f"old{r}"]
            == z3.If(s["gone"], z3.And(s[f"old{r}"], t[f"act{r}"]), z3.And(t["gone"], t[f"act{r}"]))
            for r in (0, 1)
        ]
        frozen = fr.same(*(n for n, _ in FIELDS if n not in changed and not n.startswith("old")))
        return z3.And(frozen, *ghosts)

    def bury(s: Vars, par: Vars) -> z3.BoolRef:
        """``_bury``: a tombstone while the SA has lifetime left (when the rule exists)."""
        return z3.And(z3.BoolVal(tombstones), s["now"] < par["EXP"])

    def buried(s: Vars, par: Vars, r: int) -> z3.BoolRef:
        """An Add towards r is refused by its tombstone (``_apply_add`` drops expired ones)."""
        return z3.And(s[f"tomb{r}"], s["now"] < par["EXP"])

    def init(s: Vars, par: Vars) -> z3.BoolRef:
        # Negotiated on router 0, ACTIVE as a device; router 1 in any role.
        parts = [
            s["role0"],
            s["act0"],
            s["exp0"] == par["EXP"],
            s["now"] >= 0,
            s["now"] < par["EXP"],
            z3.Not(s["conn"]),
            z3.Not(s["gone"]),
            z3.Not(s["unacked"]),
            z3.Not(s["spent"]),
            z3.Not(s["act1"]),
        ]
        for r in (0, 1):
            parts += [
                z3.Not(s[f"{n}{r}"]) for n in ("cpy", "usable", "tomb", "addp", "delp", "ackp")
            ]
            parts.append(z3.Not(s[f"old{r}"]))
        return z3.And(parts)

    def tick(fr: Frame) -> z3.BoolRef:
        s, t = fr.pre, fr.post
        d = fr.int_input("ms")
        # Time never passes an instance's expiry: the expiry event runs first.
        limits = [z3.Implies(_held(s, r), s["now"] + d <= s[f"exp{r}"]) for r in (0, 1)]
        return z3.And(d >= 1, *limits, t["now"] == s["now"] + d, keep(fr, {"now"}))

    def sends_delete(fr: Frame, o: int) -> z3.BoolRef:
        """A Delete goes towards o if replicating (an input: connected is necessary)."""
        s, t = fr.pre, fr.post
        sent = fr.bool_input("sent")
        return t[f"delp{o}"] == z3.Or(s[f"delp{o}"], z3.And(s["conn"], sent))

    def expire(r: int) -> tuple[str, Trans]:
        o = 1 - r

        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            return z3.And(
                _held(s, r),
                s[f"exp{r}"] <= s["now"],
                z3.Not(t[f"act{r}"]),
                z3.Not(t[f"cpy{r}"]),
                z3.Not(t[f"usable{r}"]),
                t["gone"],
                z3.If(s[f"act{r}"], sends_delete(fr, o), t[f"delp{o}"] == s[f"delp{o}"]),
                keep(fr, {f"act{r}", f"cpy{r}", f"usable{r}", "gone", f"delp{o}"}),
            )

        return (f"expire{r}", trans)

    def replicate(r: int) -> tuple[str, Trans]:
        o = 1 - r

        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            return z3.And(
                s["conn"],
                s[f"act{r}"],
                t[f"addp{o}"],
                t[f"addv{o}"] == s[f"exp{r}"],
                keep(fr, {f"addp{o}", f"addv{o}"}),
            )

        return (f"replicate{r}", trans)

    def deliver_add(o: int) -> tuple[str, Trans]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t, par = fr.pre, fr.post, fr.par
            more = fr.bool_input("more")
            card_full = fr.bool_input("card_full")
            refused = z3.Or(buried(s, par, o), z3.And(card_full, z3.Not(s[f"cpy{o}"])))
            taken = z3.And(z3.Not(s[f"role{o}"]), z3.Not(refused))
            return z3.And(
                s[f"addp{o}"],
                t[f"addp{o}"] == more,  # later Adds (same record) may still be on their way
                t[f"cpy{o}"] == z3.Or(s[f"cpy{o}"], taken),
                t[f"usable{o}"] == z3.Or(s[f"usable{o}"], taken),
                t[f"exp{o}"] == z3.If(taken, s[f"addv{o}"], s[f"exp{o}"]),
                keep(fr, {f"addp{o}", f"cpy{o}", f"usable{o}", f"exp{o}"}),
            )

        return (f"deliver_add{o}", trans)

    def delete(r: int) -> tuple[str, Trans]:
        o = 1 - r

        def trans(fr: Frame) -> z3.BoolRef:
            s, t, par = fr.pre, fr.post, fr.par
            return z3.And(
                s[f"act{r}"],
                s["now"] < s[f"exp{r}"],
                z3.Not(t[f"act{r}"]),
                t[f"tomb{r}"] == z3.Or(s[f"tomb{r}"], bury(s, par)),
                t["unacked"] == z3.Or(s["unacked"], z3.Not(s["gone"])),
                sends_delete(fr, o),
                keep(fr, {f"act{r}", f"tomb{r}", "unacked", f"delp{o}"}),
            )

        return (f"delete{r}", trans)

    def exhaust(r: int) -> tuple[str, Trans]:
        o = 1 - r

        def trans(fr: Frame) -> z3.BoolRef:
            s, t, par = fr.pre, fr.post, fr.par
            return z3.And(
                s[f"act{r}"],
                s["now"] < s[f"exp{r}"],
                z3.Not(t[f"act{r}"]),
                t[f"tomb{r}"] == z3.Or(s[f"tomb{r}"], bury(s, par)),
                t["gone"],
                t["spent"],
                sends_delete(fr, o),
                keep(fr, {f"act{r}", f"tomb{r}", "gone", "spent", f"delp{o}"}),
            )

        return (f"exhaust{r}", trans)

    def deliver_delete(o: int) -> tuple[str, Trans]:
        r = 1 - o

        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            applies = z3.Not(s[f"role{o}"])
            dropped = z3.And(applies, s[f"cpy{o}"])
            alive = s[f"exp{o}"] > s["now"]
            return z3.And(
                s[f"delp{o}"],
                z3.Not(s[f"addp{o}"]),  # FIFO: an earlier Add arrives first
                z3.Not(t[f"delp{o}"]),
                t[f"cpy{o}"] == z3.And(s[f"cpy{o}"], z3.Not(applies)),
                t[f"usable{o}"] == z3.And(s[f"usable{o}"], z3.Not(applies)),
                t[f"tomb{o}"]
                == z3.Or(s[f"tomb{o}"], z3.And(dropped, alive, z3.BoolVal(tombstones))),
                t[f"ackp{r}"] == z3.Or(s[f"ackp{r}"], applies),
                keep(fr, {f"delp{o}", f"cpy{o}", f"usable{o}", f"tomb{o}", f"ackp{r}"}),
            )

        return (f"deliver_delete{o}", trans)

    def deliver_ack(r: int) -> tuple[str, Trans]:
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

    def promote(r: int) -> tuple[str, Trans]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t, par = fr.pre, fr.post, fr.par
            # A copy of a kilobyte-exhausted SA starts at or above the lifetime (I8-counters)
            # and ``_promote`` deletes it at once (buried; not replicating yet: no Delete).
            return z3.And(
                z3.Not(s[f"role{r}"]),
                s[f"cpy{r}"],
                s[f"usable{r}"],
                s[f"exp{r}"] > s["now"],
                t[f"role{r}"],
                t[f"act{r}"] == z3.Not(s["spent"]),
                z3.Not(t[f"cpy{r}"]),
                z3.Not(t[f"usable{r}"]),
                t[f"tomb{r}"] == z3.Or(s[f"tomb{r}"], z3.And(s["spent"], bury(s, par))),
                keep(fr, {f"role{r}", f"act{r}", f"cpy{r}", f"usable{r}", f"tomb{r}"}),
            )

        return (f"promote{r}", trans)

    def demote(r: int) -> tuple[str, Trans]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            # Leaving ACTIVE: the instance, if held, becomes a stale copy (``_demote``).
            return z3.And(
                s[f"role{r}"],
                z3.Not(t[f"role{r}"]),
                z3.Not(t[f"act{r}"]),
                t[f"cpy{r}"] == z3.Or(s[f"cpy{r}"], s[f"act{r}"]),
                z3.Not(t[f"usable{r}"]),
                keep(fr, {f"role{r}", f"act{r}", f"cpy{r}", f"usable{r}"}),
            )

        return (f"demote{r}", trans)

    def become_active(r: int) -> tuple[str, Trans]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            return z3.And(
                z3.Not(s[f"role{r}"]),
                t[f"role{r}"],
                z3.Not(t[f"cpy{r}"]),
                z3.Not(t[f"usable{r}"]),
                keep(fr, {f"role{r}", f"cpy{r}", f"usable{r}"}),
            )

        return (f"become_active{r}", trans)

    def resync(o: int) -> tuple[str, Trans]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            return z3.And(
                z3.Not(s[f"role{o}"]),
                z3.Not(t[f"cpy{o}"]),
                z3.Not(t[f"usable{o}"]),
                keep(fr, {f"cpy{o}", f"usable{o}"}),
            )

        return (f"resync{o}", trans)

    def crash(r: int) -> tuple[str, Trans]:
        def trans(fr: Frame) -> z3.BoolRef:
            t = fr.post
            lost = [z3.Not(t[f"{n}{r}"]) for n in ("role", "act", "cpy", "usable", "tomb")]
            return z3.And(
                *lost,
                z3.Not(t["conn"]),
                *[z3.Not(t[p]) for p in _PENDING],
                keep(
                    fr,
                    {f"{n}{r}" for n in ("role", "act", "cpy", "usable", "tomb")}
                    | {"conn", *_PENDING},
                ),
            )

        return (f"crash{r}", trans)

    def lose(fr: Frame) -> z3.BoolRef:
        s, t = fr.pre, fr.post
        dropped = [z3.Or(t[p] == s[p], z3.Not(t[p])) for p in _PENDING]
        return z3.And(*dropped, keep(fr, set(_PENDING)))

    def disconnect(fr: Frame) -> z3.BoolRef:
        # One end gives up; what it wrote may still arrive at the other (its ``Close``
        # follows), so messages in flight stay until lost or a new connection.
        s, t = fr.pre, fr.post
        return z3.And(s["conn"], z3.Not(t["conn"]), keep(fr, {"conn"}))

    def connect(fr: Frame) -> z3.BoolRef:
        s, t = fr.pre, fr.post
        return z3.And(
            z3.Not(s["conn"]),
            t["conn"],
            *[z3.Not(t[p]) for p in _PENDING],
            z3.Not(t["usable0"]),
            z3.Not(t["usable1"]),
            keep(fr, {"conn", "usable0", "usable1", *_PENDING}),
        )

    transitions: list[tuple[str, Trans]] = [
        ("tick", tick),
        ("lose", lose),
        ("disconnect", disconnect),
        ("connect", connect),
    ]
    for r in (0, 1):
        transitions += [
            expire(r),
            exhaust(r),
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
    """I6: once gone (acknowledged delete or expiry), no router holds the SA ACTIVE with
    lifetime left unless it has held it so ever since (``old``: the other instance of a
    split brain when the kilobyte lifetime ran out); unless the kilobyte lifetime ran out,
    no usable copy with lifetime left exists either."""
    del par
    parts = []
    for r in (0, 1):
        alive = s[f"exp{r}"] > s["now"]
        parts += [
            z3.Implies(z3.And(s[f"act{r}"], alive), s[f"old{r}"]),
            z3.Not(z3.And(s[f"usable{r}"], alive, z3.Not(s["spent"]))),
        ]
    return z3.Implies(s["gone"], z3.And(parts))


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
    """The strengthening of I6 (module docstring), conjunct by conjunct."""

    def expiries(s: Vars, par: Vars) -> z3.BoolRef:
        return z3.And(i8_expiry_safe(s, par), s["now"] >= 0)

    def shape(s: Vars, par: Vars) -> z3.BoolRef:
        live = s["now"] < par["EXP"]
        parts = [z3.Implies(s["spent"], s["gone"])]
        for r in (0, 1):
            parts += [
                z3.Implies(s[f"act{r}"], s[f"role{r}"]),
                z3.Implies(s[f"cpy{r}"], z3.Not(s[f"role{r}"])),
                z3.Implies(s[f"usable{r}"], s[f"cpy{r}"]),
                z3.Implies(z3.And(s[f"tomb{r}"], live), z3.Not(_held(s, r))),
                z3.Implies(s[f"old{r}"], z3.And(s[f"act{r}"], z3.Or(s["spent"], z3.Not(live)))),
            ]
        return z3.And(parts)

    def deletes(s: Vars, par: Vars) -> z3.BoolRef:
        live = s["now"] < par["EXP"]
        pending = z3.Or(s["unacked"], s["gone"])
        parts = []
        for o in (0, 1):
            r = 1 - o
            deleter = z3.And(z3.Not(_held(s, r)), s[f"tomb{r}"], pending)
            parts += [
                # A Delete towards o: r deleted the SA, buried it, holds nothing of it.
                z3.Implies(z3.And(s[f"delp{o}"], live), deleter),
                # An acknowledgement towards r: o dropped its copy and nothing more comes
                # to o; Adds may still be in flight towards r, whose tombstone refuses them.
                z3.Implies(
                    z3.And(s[f"ackp{r}"], live),
                    z3.And(deleter, z3.Not(_held(s, o)), z3.Not(s[f"addp{o}"])),
                ),
            ]
        return z3.And(parts)

    def gone(s: Vars, par: Vars) -> z3.BoolRef:
        live = s["now"] < par["EXP"]
        nothing = z3.Not(z3.Or([s[f"{n}{r}"] for r in (0, 1) for n in ("act", "cpy", "addp")]))
        only_old = z3.And([z3.Implies(s[f"act{r}"], s[f"old{r}"]) for r in (0, 1)])
        return z3.And(
            z3.Implies(z3.And(s["gone"], z3.Not(s["spent"]), live), nothing),
            z3.Implies(s["spent"], only_old),
        )

    return [("expiries", expiries), ("shape", shape), ("deletes", deletes), ("gone", gone)]
