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
                          acknowledges it; in order: only an update sent before the
                          first pending Add (``u ≤`` its value) overtakes nothing
``deliver_ack{r}``        the holder raises its floor to some acknowledged value
``sync{r}``               replication (re)starts (new connection, the other end left
                          ACTIVE, or this end became ACTIVE): adopt the other end's
                          announced value (its copy, else what it remembers), apply rule
                          6 if the other end rebooted since the floor was set (permanent
                          cap, never replicated again), drop the floor, send the full
                          copy (seed floor := value); ``keep_floor`` (the re-seed fix): a
                          floor it has stays, raised only to the value announced; late
                          Adds: the full copy queues behind Adds still in flight, none is
                          in flight towards r, and acknowledgements held behind the
                          announcement (``lack``) may now arrive
``resync{r}``             ``clear crypto sa ha standby resync`` on a router not holding the
                          SA ACTIVE, at any time (SSP up, down or silently dead): its copy
                          is dropped and its value *remembered* (the fix); the request
                          goes out only on a connection
``answer{r}``             the request arrives: a replicating holder sends the full copy
                          again (seeding its floor if it had none; ``answer_reseeds``,
                          the implementation's rule: re-seeding it at its value), behind
                          any Add already in flight; otherwise nothing happens
``deliver_add{r}``        the first Add in flight arrives: usable copy := its value (the
                          fixed rule, ``add_keeps``: at least the copy held or the value
                          remembered), acknowledged with its value; or refused (card full,
                          or the SA buried there): the holder drops its floor (the fixed
                          rule: only if no later Add is in flight); an ACTIVE router drops
                          it silently
``delete{r}``             the ACTIVE holder deletes the SA (operator, peer, or the old SA of
                          a rekey, ``_delete_sa``): it remembers the value, buries the SA
                          (tombstone: copies of it refused) and, while replicating, sends
                          a Delete; it stays ACTIVE as a device (``gone``)
``leave{r}``              a router that deleted the SA while ACTIVE leaves ACTIVE: both
                          ends restart replication (its announcement carries what it
                          remembers)
``bare{r}``               r becomes ACTIVE as a device without the SA (no usable copy:
                          ``_promote`` discards and remembers it); Adds to it are dropped
``unbare{r}``             it leaves ACTIVE: both ends restart replication
``deliver_delete{r}``     the Delete arrives (after any Add sent before it): a non-ACTIVE
                          router drops its copy and buries the SA (not remembered)
``lose``                  SSP loses any in-flight messages (silent death: nothing learns)
``disconnect``            the connection ends (cut, dead timer, silent death): every
                          in-flight message is gone
``connect``               a new connection: every copy is stale until a full copy arrives
``demote{r}``             the holder leaves ACTIVE: its SA becomes a stale copy (its value);
                          acknowledgements still on their way arrive while it is not
                          ACTIVE (ignored)
``promote{r}``            a usable copy becomes ACTIVE at ``copy + J`` (inbound: the whole
                          window ``(copy + J − W, copy + J]`` marked seen; N = 0: never)
``crash{r}``              a router loses everything and comes back as a new incarnation
========================  ===========================================================

HSRP is abstracted away: any router may promote a usable copy at any time, and
the old holder may keep running (split brain), be demoted or crash. In-flight
updates and acknowledgements are summarised by the largest value in flight
towards each end (delivery picks any value up to it, so every interleaving of
the real FIFO is included). Adds (full copies) towards a router are a queue
summarised by its first value ``addv``, its last ``addm`` and whether there is more
than one (``addn``): a resync answered while a full copy is still on its way puts a
second one behind it (values only grow along the queue: the sender is ACTIVE and
its value never decreases). Announcing a value and the other end adopting it
(``sync``) are one step; in the model the announcement travels. With ``late_adds``
(assumption 1 dropped) what travels behind it is kept apart: an acknowledgement or a
``Refuse`` written by the announcing end after it (an Add landing there before the
holder adopted the announcement) reaches the holder only after ``sync`` (``lack``;
the ``Refuse`` then names an Add older than the holder's answer and is ignored). These
are orders within one direction of the SSP stream, which TCP keeps; the encoding
assumes no order between the two directions.
A dropped SA's remembered values and a tombstone last until the SA expires, when no
router uses it any more (I8: expiry is never extended); the encoding keeps them for
ever (a crash clears them, as ``_power_on`` does). A rekey is a new SA with its own
SPI and counters; for the old SPI it is a delete.

State fields (``r`` = 0, 1): ``act`` (holds the SA ACTIVE), ``cpy``/``usable`` (holds a
standby copy / not stale), ``v`` (value), ``fon``/``fl`` (hold-back floor), ``capon``/
``cap`` (rule 6), ``unrep`` (never copied again), ``inc`` (incarnation), ``flset``/
``flinc`` (the other end's incarnation the floor is for), ``addp``/``addn``/``addv``/``addm``
(Adds in flight *towards* r), ``updp``/``updv``, ``ackp``/``ackv`` (largest update / ack in
flight towards r), ``lackp``/``lackv`` (acks towards r behind an announcement it has not
adopted, late Adds only), ``rqp`` (a resync request in flight towards r), ``rem``/
``remv`` (r remembers the value of a copy it cleared or an SA it deleted), ``tomb`` (r
buried the SA), ``delp`` (a Delete in flight towards r), ``gone`` (r deleted the SA
while ACTIVE and is still ACTIVE as a device), ``bare`` (r is ACTIVE as a device
without the SA), ``seen`` (inbound window), and ``conn``.
The ghost ``used`` is the set of every number any router has ever used on this SPI
(never shrinks, survives crashes).

Property. I3/I4: every ``use`` takes numbers not in ``used`` (stated as the safety
predicate "every ACTIVE holder's next numbers, up to its limit, are unused"). I8
(byte counts, DPD numbers) adds: a takeover starts at or above every number ever
used (:func:`counter_ahead_safe`), so the numbers only increase across takeovers.

Strengthening (the inductive invariant; the names are the conjuncts Z3 reports):

- ``shape``: the bookkeeping that makes the rest hold — values and floors are
  non-negative, ``fl ≤ v ≤ fl + J`` for a holder with a floor (hold-back), a cap
  only after rule 6 fired (then the SA is never copied again and the other end holds
  nothing of it), ``bulk`` (replication restarted) only while connected and for the
  other end's current incarnation, at most one usable copy, and every value in
  flight (update, every Add, ack) is at most the value of the router it came from;
  with ``N = 0`` only the first router ever holds the SA ACTIVE. A holder that has
  restarted replication towards an ACTIVE other end is the lower of the two:
  ``fl + J`` (and any ack ``+ J``) ``≤`` where the other end started.
- ``remembered`` (new with the fixed resync rule, deletes and tombstones): a
  remembered value is no higher than the copy, the ACTIVE value or the first Add
  (to a router that did not bury the SA) the router holds or receives later — so
  the announcement, which carries the copy in preference to the remembered value,
  never hides it — and no higher than the value of a holder that has restarted
  replication (it adopted it), unless the router deleted the SA during a split and
  is still ACTIVE (``gone``: its use is above the holder's limit by ``split``, and is
  adopted when it leaves); such a holder is also at or above the other end's copy;
  no copy is above the Add in flight towards it. A buried SA is neither ACTIVE nor
  copied; a ``gone`` router has no Add in flight towards it (assumption 1); a Delete
  in flight comes from a router that buried the SA; the remembered value of a
  router that buried the SA is no higher than a holder that sends it an Add (so the
  ``Refuse`` that drops the holder's floor leaves nothing of it above the holder's
  value). Without it the induction fails at ``sync`` (a copy below the remembered
  value hides it), at ``resync`` (the value remembered above the Add that follows),
  at ``delete`` in a split and at a tombstone's refusal.
- ``split``: when both hold the SA ACTIVE, one of them has a limit (floor or cap)
  no higher than the value the other *started* from (``lo``), and so do its acks.
- ``ack-covers``: raising the floor to any acknowledged value keeps the holder's
  future numbers unused.
- ``holder-covers``: everything used is at most the holder's value, or the other
  end's held, ACTIVE *or remembered* value (the remembered case is what the fix
  adds: the other end's own use as a former active survives its resync or delete),
  or beyond the holder's cap, or — if the other end rebooted since the floor was
  set — beyond ``fl + J`` (rule 6's region); right after restarting replication
  towards an end that is not ACTIVE (nor ``gone``), at most the holder's value.
- ``window-covers`` (inbound): the window of an ACTIVE holder has every number from
  ``v − W`` up to where it started marked seen.
- ``future-free``: an ACTIVE holder's numbers above ``v`` up to its limit are unused
  (inbound: and every used number in its window is seen) — the safety property.
- ``copy-covers``: a usable copy ``c`` covers everything: every used number, every
  value in flight and the old holder's value are ``≤ c + J``; an ACTIVE other end has
  restarted replication (while connected), a floor ``≤ c`` and acks ``≤ c``.
- ``add-covers``: the same for the first Add in flight to a router that did not
  bury the SA (its value becomes a usable copy; the later ones carry larger values,
  so they are covered too); the router it goes to is not ACTIVE. (A usable copy may
  now coexist with it: the first of two Adds has arrived.)
- late Adds (``late_adds``, only): an Add may be in flight towards a router that is
  ACTIVE (it covers then with the value it would install: at least the receiver's own
  value); ``add-covers`` uses that installed value (``kept``); Adds are in flight one way
  at a time, never towards a replicating holder, and their sender holds no usable copy;
  the sender of an update, an Add or an acknowledgement in flight still holds or
  remembers at least its value (or buried the SA); only one end replicates; a held-back
  acknowledgement (``lack``) is from the current incarnation and at most what both ends
  hold. Some conjuncts that assumption 1 made true are dropped (each marked ``if not
  spec.late_adds``).

WHAT IS PROVED, UNDER WHAT, AND WHAT IS OPEN (``vpnha prove``; registry.py).

- ``I3``, ``I4``, ``I8-counters``: the model's and the implementation's rules
  (``registry.MODEL_RULES``: the fixed resync, Add and Refuse rules and ``keep_floor``)
  for every allowed interval, WITHOUT assumption 1 (``late_adds``: a full copy may arrive
  at any time). Inductive; every transition is enabled under the strengthening (not
  vacuous: tests/proofs/test_vacuity.py). What the encoding still assumes: per-direction
  FIFO of the SSP stream (TCP; nothing across the two directions); a router ACTIVE as a
  device without the SA may be one that held a usable copy (more behaviours than the
  model, sound).
- ``I3-reseed`` (expected counterexample, 10 steps) and ``I3-resync-reseed`` (9 steps):
  the adoption rule and the implementation's resync answer before the fix (below), each
  a real duplicate on the model and the implementation then.
- Open: DPD numbers through IKE copies are the same counter rule restated
  (``I8-counters``), not their own encoding (the IKE copies' late-Add rule, a
  responder-cookie match, is not encoded).

ASSUMPTION 1 (retired; the rules before the re-seed fix needed it): an Add in flight
towards a router that becomes ACTIVE, or sent to it while it is ACTIVE (with or without
the SA: ``bare``), reaches it while it is still ACTIVE (refused, no effect) or is lost
(``late_adds=False``; encoded by dropping it at ``promote`` and ``bare`` and not
queueing it in ``answer`` for a router that holds the SA ACTIVE, is ``gone`` or
``bare``). The model does not guarantee it; dropping it found two races, both fixed:

1. ``I3-late-add`` (11 steps), the Add rule before the fix: router 1 resyncs while the
   first full copy is on its way; router 0 answers with a second one; the first
   arrives, router 1 takes over and sends, leaves ACTIVE; the second arrives, replaces
   router 1's stale copy (its own use) by the older value without remembering it, and
   router 1 takes over again from there and sends the same numbers. (``lifecycle.py``
   used to make the same assumption; it now proves I6 without it: the tombstone refuses
   a late Add.) Fixed in the model and the implementation and encoded (``add_keeps``):
   an Add installs at least what the router held or remembers (a standby never lowers a
   copy; a ``BulkBegin`` remembers what it clears), acknowledged with the Add's own
   value; Z3's own 11-step schedule then reuses nothing (tests/proofs/test_naive.py).
2. The re-seed race (``I3-reseed``, fixed). A full copy of value ``a`` is on its way to
   router 1 while router 1 is ACTIVE as a device without the SA (it had no usable copy:
   never received one, or cleared it with a resync) and then leaves ACTIVE. Router 0,
   the holder, sends past ``a`` within its floor + J, adopts router 1's announcement
   (which has nothing above ``a`` for the SA) and re-seeds its floor at its own value
   ``v > a``. The full copy then lands on router 1, not ACTIVE any more, as a usable
   copy of ``a``; router 0 sends up to ``v + J``; router 1 takes over from ``a`` at
   ``a + J`` and sends ``a + J + 1`` again. Concrete (``replay.reseed_race_operations``;
   tests/proofs/test_reseed_race.py): with HSRP timers of 100/300 ms a split brain fits
   in SSP's dead interval; the model sends M + 1 twice (outbound), and in lockstep model
   and implementation agree step by step and both accept a replayed packet N + 1 twice
   (inbound, N = 3). Both the plain establishment Add and a resync's answer can be the
   late copy.
   The fix (``keep_floor``, in the model and the implementation): adopting an
   announcement keeps a hold-back floor the holder has — raised to the value the other
   end announced for the SA, if any, never to the holder's own value (every full copy
   still on its way is at least the floor, and lands at least at what the other end
   announced); a floor it does not have is seeded as before. ``fl ≤ v ≤ fl + J`` still
   holds (an announced value above ``v`` becomes the floor), so the holder is never held
   back more than before, except that after an announcement with nothing above its floor
   it keeps its old headroom until the new full copy is acknowledged. The
   implementation's variant (``I3-resync-reseed``): its answer to a resync request
   re-seeded every floor as well, while the establishment's Add, older, was on its way
   to the requester (``replay.resync_crossing_operations``: the implementation
   accepted packet N + 1 twice, the model held it back); the same fix (keep the floor
   on every full copy) closes it.

Assumption 2 (no longer needed): the card refuses only the last Add in flight
(``early_refusals=False``). Refuted as ``I3-early-refusal`` (9 steps) for the Refuse rule
before the fix: the first full copy is refused (card full) and the second, the resync's
answer, admitted; the ``Refuse`` arrives after the answer was sent and drops the holder's
floor, so it sends on without hold-back while router 1 holds a usable copy, which is then
promoted below those numbers. Fixed (``refusal_waits=True``; the implementation did it
already): a ``Refuse`` drops the floor only when no later full copy of the SA is in
flight — in the model an Add carries a serial and a ``Refuse`` counts only if it names
the latest Add of the SA. All the proofs above use that rule.

The rule before the fix (``resync_forgets=True``): a cleared copy is forgotten. Z3
finds a reachable duplicate (``I3-resync-offline``, 12 steps): router 1 takes over
in a split while SSP is down and sends, leaves ACTIVE, clears its copies while SSP
is still down; SSP reconnects, router 1 announces nothing for the SA and has not
rebooted (rule 6 does not fire), so router 0 re-seeds its floor at its own value and
sends router 1's numbers again (``replay.resync_offline_operations``; the model
sent a number twice before the fix). That variant lets a resync on a live
connection happen only once the holder has adopted the last announcement (as the
model orders it), so that what it finds is a real schedule.

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
    "EARLY_REFUSAL_MOVES",
    "LATE_ADD_MOVES",
    "RESEED_MOVES",
    "RESYNC_RESEED_MOVES",
    "SEQ_MAX",
    "CounterSpec",
    "counter_ahead_safe",
    "counter_invariant",
    "counter_safe",
    "counter_system",
    "counter_witness_safe",
]

SEQ_MAX: Final = 2**32 - 1
"""Largest ESP sequence number (RFC 4303 §2.2)."""

Kind = Literal["out", "in"]

LATE_ADD_MOVES: Final = (
    "connect",
    "sync0",
    "resync1",
    "answer0",
    "deliver_add1",
    "promote1",
    "use1",
    "demote1",
)
"""The kinds of step ``I3-late-add`` needs (router 0 the first active, router 1 the one
that resyncs): a guided bounded search; any duplicate found in them is one of the whole
system."""
EARLY_REFUSAL_MOVES: Final = (
    "connect",
    "sync0",
    "resync1",
    "answer0",
    "deliver_add1",
    "use0",
    "promote1",
    "use1",
)
"""The kinds of step ``I3-early-refusal`` needs (guided, as :data:`LATE_ADD_MOVES`)."""
RESEED_MOVES: Final = (
    "connect",
    "sync0",
    "deliver_add1",
    "use0",
    "bare1",
    "unbare1",
    "promote1",
    "use1",
)
"""The kinds of step ``I3-reseed`` needs (guided, as :data:`LATE_ADD_MOVES`): router 1
ACTIVE as a device without the SA while a full copy is on its way to it."""
RESYNC_RESEED_MOVES: Final = (
    "connect",
    "sync0",
    "resync1",
    "answer0",
    "deliver_add1",
    "use0",
    "promote1",
    "use1",
)
"""The kinds of step ``I3-resync-reseed`` needs (the implementation's resync answer)."""


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
    resync_forgets: bool = False
    """The resync rule before the fix: cleared copies are forgotten (Z3 refutes it)."""
    late_adds: bool = False
    """Drop ASSUMPTION 1: an Add may land on a router that has been ACTIVE since it was
    sent (the model allows it). Z3 refutes the model's rules with it (``I3-late-add``
    before the Add fix, ``I3-reseed`` now) and proves them with ``keep_floor``."""
    early_refusals: bool = False
    """Drop ASSUMPTION 2: the card may refuse an Add while a later Add of the same SA is
    in flight behind it (the model allows it; Z3 refutes the rule with it)."""
    refusal_waits: bool = False
    """The fix proposed for assumption 2: a ``Refuse`` drops the holder's floor only when
    no later full copy of the SA is in flight (the holder counts the copies it sent)."""
    add_keeps: bool = False
    """The fixed Add rule (``_apply_add``): a standby never lowers a copy — an Add installs
    the largest of its own value, the copy held and the value remembered, and is
    acknowledged with its own value."""
    keep_floor: bool = False
    """The fix of the re-seed race (module docstring): adopting the other end's
    announcement (``sync``) keeps a hold-back floor the holder has — only an
    acknowledgement raises it — instead of re-seeding it at the adopted value, which an
    older full copy still on its way may be below."""
    answer_reseeds: bool = False
    """The implementation's answer to a resync request (``SaDatabase._send_full_copy``):
    it re-seeds the holder's floor at its value, like a full copy that follows an
    announcement, instead of keeping the floor it has as the model does (Z3 refutes it:
    ``I3-resync-reseed``)."""
    card_refusals: bool = True
    """The standby's card may refuse an Add (off only to guide a bounded search)."""
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
    ("rem", "bool"),
    ("remv", "int"),
    ("rqp", "bool"),
    ("addn", "bool"),
    ("addm", "int"),
    ("tomb", "bool"),
    ("delp", "bool"),
    ("gone", "bool"),
    ("bare", "bool"),
    ("lackp", "bool"),
    ("lackv", "int"),
)
FIELDS: Final[tuple[tuple[str, FieldKind], ...]] = (
    *tuple((f"{name}{r}", kind) for r in _routers() for name, kind in _PER_ROUTER),
    ("conn", "bool"),
    ("used", "set"),
)


_LOST_AT_CRASH: Final = (
    "act",
    "cpy",
    "usable",
    "fon",
    "capon",
    "unrep",
    "flset",
    "rem",
    "tomb",
    "gone",
    "bare",
)
"""Per-router flags a crash clears (``_power_on``: SAs, floors, remembered, tombstones)."""


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
                z3.Not(_f(s, "rem", r)),
                z3.Not(_f(s, "rqp", r)),
                z3.Not(_f(s, "addn", r)),
                z3.Not(_f(s, "tomb", r)),
                z3.Not(_f(s, "delp", r)),
                z3.Not(_f(s, "gone", r)),
                z3.Not(_f(s, "bare", r)),
                z3.Not(_f(s, "lackp", r)),
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
            usable = _f(s, "usable", o)
            # Late Adds: behind an announcement the holder has not adopted yet (``lack``).
            behind = (
                z3.And(usable, _f(s, "act", r), z3.Not(_f(s, "bulk", r)))
                if spec.late_adds
                else z3.BoolVal(False)
            )
            acked = z3.And(usable, z3.Not(behind))
            ackp, ackv = _f(s, "ackp", r), _f(s, "ackv", r)
            lackp, lackv = _f(s, "lackp", r), _f(s, "lackv", r)
            return z3.And(
                _f(s, "updp", o),
                # FIFO: only an update sent before the first pending Add (so no larger).
                z3.Implies(_f(s, "addp", o), u <= _f(s, "addv", o)),
                u >= 0,
                u <= _f(s, "updv", o),
                applies,
                _f(t, "v", o) == _max(_f(s, "v", o), u),
                _f(t, "ackp", r) == z3.Or(ackp, acked),
                _f(t, "ackv", r) == z3.If(acked, z3.If(ackp, _max(ackv, u), u), ackv),
                _f(t, "lackp", r) == z3.Or(lackp, behind),
                _f(t, "lackv", r) == z3.If(behind, z3.If(lackp, _max(lackv, u), u), lackv),
                keep(fr, {f"v{o}", f"ackp{r}", f"ackv{r}", f"lackp{r}", f"lackv{r}"}),
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
            # The announcement carries the other end's copy or, failing that, what it
            # remembers of a copy it dropped (``_announce``: copies first).
            announced = z3.If(_f(s, "cpy", o), held, z3.If(_f(s, "rem", o), _f(s, "remv", o), v))
            nv = _max(v, announced)
            if spec.naive:
                forgot: z3.BoolRef = z3.BoolVal(False)
            else:
                forgot = z3.And(
                    _f(s, "flset", r), _f(s, "flinc", r) != _f(s, "inc", o), _f(s, "fon", r)
                )
            bound = _f(s, "fl", r) + jump
            capped = z3.If(_f(s, "capon", r), _min(_f(s, "cap", r), bound), bound)
            unrep = z3.Or(_f(s, "unrep", r), forgot)
            fon = _f(s, "fon", r)
            if spec.keep_floor:
                # The fix: a floor the holder has stays, raised only to a value the
                # other end announced for the SA (its copy or what it remembers), never to
                # the holder's own value: an older full copy may still be on its way there.
                told = z3.Or(_f(s, "cpy", o), _f(s, "rem", o))
                raised = _max(_f(s, "fl", r), announced)
                seeded = z3.And(z3.Not(unrep), z3.Or(fon, _seeds(spec, jump)))
                floor = z3.If(fon, z3.If(told, raised, _f(s, "fl", r)), nv)
            else:
                # rule 1: the full copy seeds the floor at the current value (inbound: N > 0)
                seeded = z3.And(z3.Not(unrep), _seeds(spec, jump))
                floor = nv
            addp, sends = _f(s, "addp", o), z3.Not(unrep)
            if spec.late_adds:
                # The new full copy goes behind the Adds still in flight towards the other end
                # (written before this announcement was adopted). None is in flight towards
                # this end: the other end wrote its Adds while ACTIVE, before it announced
                # that it left, and SSP delivers in order.
                queue = [
                    z3.Not(_f(s, "addp", r)),
                    _f(t, "addp", o) == z3.Or(addp, sends),
                    _f(t, "addn", o) == z3.Or(_f(s, "addn", o), z3.And(addp, sends)),
                    _f(t, "addv", o) == z3.If(addp, _f(s, "addv", o), nv),
                    _f(t, "addm", o) == z3.If(sends, nv, _f(s, "addm", o)),
                ]
            else:
                # ASSUMPTION 1: no Add is in flight towards the end that announced.
                queue = [
                    z3.Not(addp),
                    _f(t, "addp", o) == sends,
                    z3.Not(_f(t, "addn", o)),
                    _f(t, "addv", o) == nv,
                    _f(t, "addm", o) == nv,
                ]
            parts = [
                s["conn"],
                _f(s, "act", r),
                z3.Not(_f(s, "act", o)),
                z3.Not(_f(s, "gone", o)),
                z3.Not(_f(s, "bare", o)),
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
                _f(t, "fon", r) == seeded,
                _f(t, "fl", r) == floor,
                *queue,
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
                f"addn{o}",
                f"addv{o}",
                f"addm{o}",
                f"v{o}",
            }
            if spec.late_adds:
                # The acknowledgements behind the adopted announcement may arrive now.
                lack, lackv, ackp = _f(s, "lackp", r), _f(s, "lackv", r), _f(s, "ackp", r)
                parts += [
                    z3.Not(_f(t, "lackp", r)),
                    _f(t, "ackp", r) == z3.Or(ackp, lack),
                    _f(t, "ackv", r)
                    == z3.If(
                        lack, z3.If(ackp, _max(_f(s, "ackv", r), lackv), lackv), _f(s, "ackv", r)
                    ),
                ]
                changed |= {f"lackp{r}", f"ackp{r}", f"ackv{r}"}
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
            s, t = fr.pre, fr.post
            had = _f(s, "cpy", o)
            parts = [
                # ``clear crypto sa ha standby resync``: any time the SA is not ACTIVE here,
                # SSP up, down or silently dead (a standby command: not while ACTIVE).
                z3.Not(_f(s, "act", o)),
                z3.Not(_f(s, "gone", o)),
                z3.Not(_f(s, "bare", o)),
                # The rule before the fix, searched for a genuine counterexample: online only
                # once the holder has adopted our last announcement (which carries what the
                # copy counted), as the model orders it; offline at any time.
                z3.Implies(s["conn"], z3.Implies(_f(s, "act", r), _f(s, "bulk", r)))
                if spec.resync_forgets
                else z3.BoolVal(True),
                z3.Not(_f(t, "cpy", o)),
                z3.Not(_f(t, "usable", o)),
                # The request goes out only on a connection (``_ssp_send``).
                _f(t, "rqp", r) == z3.Or(_f(s, "rqp", r), s["conn"]),
            ]
            changed = {f"cpy{o}", f"usable{o}", f"rqp{r}"}
            if not spec.resync_forgets:
                # The fix: what the cleared copy counted is remembered (``_remember``).
                parts += [
                    _f(t, "rem", o) == z3.Or(_f(s, "rem", o), had),
                    _f(t, "remv", o) == z3.If(had, _f(s, "v", o), _f(s, "remv", o)),
                ]
                changed |= {f"rem{o}", f"remv{o}"}
            parts.append(keep(fr, changed))
            return z3.And(parts)

        return (f"resync{o}", trans)

    def answer(r: int) -> tuple[str, Transition]:
        o = 1 - r

        def trans(fr: Frame) -> z3.BoolRef:
            s, t, jump = fr.pre, fr.post, fr.par["J"]
            v = _f(s, "v", r)
            more = fr.bool_input("more")
            # ``ResyncRequest``: a replicating holder sends the full copy again (seeding its
            # floor if it had none); otherwise the request has no effect.
            send = z3.And(s["conn"], _f(s, "act", r), _f(s, "bulk", r), z3.Not(_f(s, "unrep", r)))
            queued = _f(s, "addp", o)
            # ASSUMPTION 1 (module docstring): an Add sent to an ACTIVE router is refused
            # there (not queued).
            send_add = (
                send
                if spec.late_adds
                else z3.And(
                    send,
                    z3.Not(_f(s, "act", o)),
                    z3.Not(_f(s, "gone", o)),
                    z3.Not(_f(s, "bare", o)),
                )
            )
            return z3.And(
                _f(s, "rqp", r),
                _f(t, "rqp", r) == more,
                _f(t, "fon", r) == z3.Or(_f(s, "fon", r), z3.And(send, _seeds(spec, jump))),
                _f(t, "fl", r)
                == (
                    z3.If(send, v, _f(s, "fl", r))
                    if spec.answer_reseeds
                    else z3.If(_f(s, "fon", r), _f(s, "fl", r), v)
                ),
                _f(t, "addp", o) == z3.Or(queued, send_add),
                _f(t, "addn", o) == z3.Or(_f(s, "addn", o), z3.And(queued, send_add)),
                _f(t, "addv", o) == z3.If(z3.And(send_add, z3.Not(queued)), v, _f(s, "addv", o)),
                _f(t, "addm", o) == z3.If(send_add, v, _f(s, "addm", o)),
                keep(
                    fr,
                    {f"rqp{r}", f"fon{r}", f"fl{r}", f"addp{o}", f"addn{o}", f"addv{o}"}
                    | {f"addm{o}"},
                ),
            )

        return (f"answer{r}", trans)

    def deliver_add(o: int) -> tuple[str, Transition]:
        r = 1 - o

        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            refuse = fr.bool_input("refuse")
            following = fr.int_input("next")
            value = _f(s, "addv", o)
            ackv = _f(s, "ackv", r)
            # Refused: by the card (full; a held copy is only replaced) or by the tombstone
            # of an SA deleted here (``_apply_add``); either way a ``Refuse`` goes back.
            # ACTIVE (as a device, with or without the SA): dropped, nothing sent back.
            active = z3.Or(_f(s, "act", o), _f(s, "gone", o), _f(s, "bare", o))
            refused = z3.And(
                z3.Not(active),
                z3.Or(_f(s, "tomb", o), z3.And(refuse, z3.Not(_f(s, "cpy", o)))),
            )
            taken = z3.And(z3.Not(active), z3.Not(refused))
            installed: z3.ArithRef = value
            if spec.add_keeps:
                # Never below the copy held or the value remembered (``_copy_for_standby``).
                kept = z3.If(_f(s, "cpy", o), _max(value, _f(s, "v", o)), value)
                installed = z3.If(_f(s, "rem", o), _max(kept, _f(s, "remv", o)), kept)
            refused_by_card = z3.And(refused, _f(s, "act", r))
            if spec.refusal_waits:
                refused_by_card = z3.And(refused_by_card, z3.Not(_f(s, "addn", o)))
            if spec.late_adds:
                # The Refuse travels: if the other end has announced since the holder last
                # adopted (no ``bulk``: it left ACTIVE since), the announcement arrives first
                # and the holder's answer is a newer full copy, so the Refuse does not name
                # the latest Add and is ignored (``Refuse``: only the latest counts).
                refused_by_card = z3.And(refused_by_card, _f(s, "bulk", r))
            # Several Adds in flight (a resync answered behind a full copy): the next one
            # carries a value between this one and the last one's; the last is ``addm``.
            several = _f(s, "addn", o)
            # ASSUMPTION 2 (module docstring): the card refuses only the last Add in flight.
            refusal_ok = (
                z3.BoolVal(True) if spec.early_refusals else z3.Not(z3.And(refuse, several))
            )
            if not spec.card_refusals:
                refusal_ok = z3.Not(refuse)
            # Late Adds: the acknowledgement of an Add that lands after this end announced
            # (the holder has not adopted it yet: no ``bulk``) travels behind that
            # announcement; it can raise the floor only after ``sync`` (``lack``).
            behind = (
                z3.And(taken, _f(s, "act", r), z3.Not(_f(s, "bulk", r)))
                if spec.late_adds
                else z3.BoolVal(False)
            )
            direct = z3.And(taken, z3.Not(behind))
            return z3.And(
                _f(s, "addp", o),
                refusal_ok,
                _f(t, "addp", o) == several,
                z3.Implies(z3.Not(_f(t, "addn", o)), following == _f(s, "addm", o)),
                z3.Implies(_f(t, "addn", o), several),
                value <= following,
                following <= _f(s, "addm", o),
                _f(t, "addv", o) == following,
                _f(t, "cpy", o) == z3.Or(_f(s, "cpy", o), taken),
                _f(t, "usable", o) == z3.Or(_f(s, "usable", o), taken),
                _f(t, "v", o) == z3.If(taken, installed, _f(s, "v", o)),
                _f(t, "ackp", r) == z3.Or(_f(s, "ackp", r), direct),
                _f(t, "ackv", r)
                == z3.If(direct, z3.If(_f(s, "ackp", r), _max(ackv, value), value), ackv),
                _f(t, "lackp", r) == z3.Or(_f(s, "lackp", r), behind),
                _f(t, "lackv", r)
                == z3.If(
                    behind,
                    z3.If(_f(s, "lackp", r), _max(_f(s, "lackv", r), value), value),
                    _f(s, "lackv", r),
                ),
                _f(t, "fon", r) == z3.And(_f(s, "fon", r), z3.Not(refused_by_card)),
                keep(
                    fr,
                    {
                        f"addp{o}",
                        f"addn{o}",
                        f"addv{o}",
                        f"cpy{o}",
                        f"usable{o}",
                        f"v{o}",
                        f"ackp{r}",
                        f"ackv{r}",
                        f"fon{r}",
                        f"lackp{r}",
                        f"lackv{r}",
                    },
                ),
            )

        return (f"deliver_add{o}", trans)

    pending = [
        f"{name}{r}"
        for r in _routers()
        for name in ("addp", "addn", "updp", "ackp", "rqp", "delp", "lackp")
    ]

    def lose(fr: Frame) -> z3.BoolRef:
        s, t = fr.pre, fr.post
        parts = [z3.Or(t[p] == s[p], z3.Not(t[p])) for p in pending if not p.startswith("addn")]
        # Adds are lost together (TCP delivers the rest of the stream or nothing).
        parts += [
            _f(t, "addn", r) == z3.And(_f(s, "addn", r), _f(t, "addp", r)) for r in _routers()
        ]
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
        # A list, not a set: the order of the terms must not follow the string hash
        # (PYTHONHASHSEED), or Z3's search, and so its counterexamples, vary by run.
        bulks = [f"bulk{r}" for r in _routers()]
        return z3.And(
            z3.Not(s["conn"]),
            t["conn"],
            *stale,
            *[z3.Not(t[b]) for b in bulks],
            keep(fr, changed | set(bulks)),
        )

    def delete(r: int) -> tuple[str, Transition]:
        o = 1 - r

        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            # ``_delete_sa`` on the ACTIVE holder: gone, remembered (announced until
            # expiry), buried (copies refused until expiry); replicated while replicating.
            return z3.And(
                _f(s, "act", r),
                z3.Not(_f(t, "act", r)),
                z3.Not(_f(t, "fon", r)),
                z3.Not(_f(t, "capon", r)),
                z3.Not(_f(t, "bulk", r)),
                _f(t, "rem", r),
                _f(t, "remv", r) == _f(s, "v", r),
                _f(t, "tomb", r),
                # Still ACTIVE as a device (the encoding otherwise reads the role off ``act``).
                _f(t, "gone", r),
                _f(t, "delp", o) == z3.Or(_f(s, "delp", o), z3.And(s["conn"], _f(s, "bulk", r))),
                z3.Not(_f(t, "lackp", r)),
                keep(
                    fr,
                    {f"act{r}", f"fon{r}", f"capon{r}", f"bulk{r}", f"rem{r}", f"remv{r}"}
                    | {f"tomb{r}", f"gone{r}", f"delp{o}", f"lackp{r}"},
                ),
            )

        return (f"delete{r}", trans)

    def leaving_active(flag: str, name: str, r: int) -> tuple[str, Transition]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            # Router r, ACTIVE in the role ``flag`` marks, leaves ACTIVE: its announcement
            # (carrying what it remembers) restarts replication at the other end.
            return z3.And(
                _f(s, flag, r),
                z3.Not(_f(t, flag, r)),
                *[z3.Not(_f(t, "bulk", q)) for q in _routers()],
                keep(fr, {f"{flag}{r}"} | {f"bulk{q}" for q in _routers()}),
            )

        return (f"{name}{r}", trans)

    def leave(r: int) -> tuple[str, Transition]:
        # It deleted the SA while ACTIVE.
        return leaving_active("gone", "leave", r)

    def bare(r: int) -> tuple[str, Transition]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            # Router r becomes ACTIVE as a device without promoting the SA: it holds no
            # usable copy (none, stale, or N = 0), so ``_promote`` discards and remembers
            # any copy. (Allowed with a usable copy too: more behaviours, still sound.)
            parts = [
                z3.Not(_f(s, "act", r)),
                z3.Not(_f(s, "gone", r)),
                z3.Not(_f(s, "bare", r)),
                _f(t, "bare", r),
                z3.Not(_f(t, "cpy", r)),
                z3.Not(_f(t, "usable", r)),
                _f(t, "rem", r) == z3.Or(_f(s, "rem", r), _f(s, "cpy", r)),
                _f(t, "remv", r) == z3.If(_f(s, "cpy", r), _f(s, "v", r), _f(s, "remv", r)),
            ]
            changed = {f"bare{r}", f"cpy{r}", f"usable{r}", f"rem{r}", f"remv{r}"}
            if not spec.late_adds:
                # ASSUMPTION 1: an Add in flight towards it arrives while it is ACTIVE.
                parts += [z3.Not(_f(t, "addp", r)), z3.Not(_f(t, "addn", r))]
                changed |= {f"addp{r}", f"addn{r}"}
            parts.append(keep(fr, changed))
            return z3.And(parts)

        return (f"bare{r}", trans)

    def unbare(r: int) -> tuple[str, Transition]:
        # It was ACTIVE without the SA.
        return leaving_active("bare", "unbare", r)

    def deliver_delete(o: int) -> tuple[str, Transition]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, t = fr.pre, fr.post
            # FIFO: an Add sent before the Delete arrives first. An ACTIVE receiver refuses
            # it; otherwise its copy (if any) goes and is buried — not remembered.
            applies = z3.And(z3.Not(_f(s, "act", o)), _f(s, "cpy", o))
            return z3.And(
                _f(s, "delp", o),
                z3.Not(_f(s, "addp", o)),
                z3.Not(_f(t, "delp", o)),
                _f(t, "cpy", o) == z3.And(_f(s, "cpy", o), z3.Not(applies)),
                _f(t, "usable", o) == z3.And(_f(s, "usable", o), z3.Not(applies)),
                _f(t, "tomb", o) == z3.Or(_f(s, "tomb", o), applies),
                keep(fr, {f"delp{o}", f"cpy{o}", f"usable{o}", f"tomb{o}"}),
            )

        return (f"deliver_delete{o}", trans)

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
                # Acknowledgements still on their way arrive while it is not ACTIVE (ignored):
                # a copy it could promote again comes behind them.
                z3.Not(_f(t, "lackp", r)),
                keep(
                    fr,
                    {f"act{r}", f"cpy{r}", f"usable{r}", f"fon{r}", f"capon{r}", f"lackp{r}"}
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
            if not spec.late_adds:
                # ASSUMPTION 1 (module docstring): an Add in flight towards a router that
                # becomes ACTIVE reaches it while ACTIVE (refused: no effect) or is lost.
                parts += [z3.Not(_f(t, "addp", r)), z3.Not(_f(t, "addn", r))]
                changed |= {f"addp{r}", f"addn{r}"}
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
            cleared = [z3.Not(_f(t, name, r)) for name in _LOST_AT_CRASH] + [
                z3.Not(_f(t, "bulk", q)) for q in _routers()
            ]
            return z3.And(
                *cleared,
                _f(t, "v", r) == 0,
                _f(t, "inc", r) == _f(s, "inc", r) + 1,
                _f(t, "seen", r) == _empty(),
                z3.Not(t["conn"]),
                *[z3.Not(t[p]) for p in pending],
                keep(
                    fr,
                    {f"{name}{r}" for name in _LOST_AT_CRASH}
                    | {f"v{r}", f"inc{r}", f"seen{r}", "conn", *pending}
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
            answer(r),
            deliver_add(r),
            delete(r),
            leave(r),
            # (Not for the naive rule: its refutation needs no such role, and the search
            # keeps the counterexample it has always found.)
            *([] if spec.naive else [bare(r), unbare(r)]),
            deliver_delete(r),
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


def counter_ahead_safe(spec: CounterSpec) -> StatePredicate:
    """I8 (counters only increase, across takeovers and splits): I3/I4's "never reused",
    and a takeover starts at or above every number ever used, by either router. Each
    router's own numbers increase by construction (``use`` moves ``v`` up), so what a
    router that takes over sends is above everything sent before it took over; during a
    split the old active's numbers stay below where the new one started (the split
    conjunct keeps them from meeting)."""
    never_reused = counter_safe(spec)

    def safe(s: Vars, par: Vars) -> z3.BoolRef:
        x = z3.Int("x")
        ahead = [
            z3.Implies(
                z3.And(_f(s, "cpy", r), _f(s, "usable", r), z3.Not(_f(s, "act", r)), par["J"] > 0),
                z3.ForAll([x], z3.Implies(s["used"][x], x <= _f(s, "v", r) + par["J"])),
            )
            for r in _routers()
        ]
        return z3.And(never_reused(s, par), *ahead)

    return safe


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
                    z3.Not(
                        z3.Or(
                            _f(s, "act", o),
                            _f(s, "cpy", o),
                            _f(s, "addp", o),
                            # Late Adds: nor one from the other end (not a holder since).
                            _f(s, "addp", r) if spec.late_adds else z3.BoolVal(False),
                        )
                    ),
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
                )
                if not spec.late_adds
                else z3.BoolVal(True),
                z3.Implies(
                    z3.And(_f(s, "addp", o), _f(s, "ackp", r)),
                    _f(s, "ackv", r) <= _f(s, "addv", o),
                )
                if not spec.late_adds
                else z3.BoolVal(True),
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
                )
                if not spec.late_adds
                else z3.BoolVal(True),
                z3.Implies(
                    z3.And(_f(s, "ackp", r), _f(s, "act", o)),
                    _f(s, "ackv", r) <= _f(s, "v", o),
                ),
                z3.Implies(
                    z3.And(_f(s, "updp", o), z3.Or(_f(s, "act", r), _f(s, "cpy", r))),
                    _f(s, "updv", o) <= v,
                ),
                # The sender of an update or an Add in flight still holds, or remembers, at
                # least its value (or buried the SA: the receiver deleted it as the holder).
                *(
                    [
                        z3.Implies(
                            _f(s, pending, o),
                            z3.Or(
                                z3.And(
                                    z3.Or(_f(s, "act", r), _f(s, "cpy", r)),
                                    _f(s, value, o) <= v,
                                ),
                                z3.And(_f(s, "rem", r), _f(s, value, o) <= _f(s, "remv", r)),
                                _f(s, "tomb", r),
                            ),
                        )
                        for pending, value in (("updp", "updv"), ("addp", "addm"))
                    ]
                    + [
                        # An acknowledgement in flight towards r carries a value r sent.
                        z3.Implies(
                            _f(s, "ackp", r),
                            z3.Or(
                                z3.And(
                                    z3.Or(_f(s, "act", r), _f(s, "cpy", r)),
                                    _f(s, "ackv", r) <= v,
                                ),
                                z3.And(_f(s, "rem", r), _f(s, "ackv", r) <= _f(s, "remv", r)),
                                _f(s, "tomb", r),
                            ),
                        )
                    ]
                    if spec.late_adds
                    else []
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
                    _f(s, "addm", o) <= v,
                ),
                z3.Implies(z3.Or(_f(s, "addp", r), _f(s, "updp", r), _f(s, "ackp", r)), s["conn"]),
                z3.Implies(_f(s, "flset", r), _f(s, "flinc", r) <= _f(s, "inc", o)),
                # Only one end replicates (``sync`` needs the other end not ACTIVE).
                z3.Not(z3.And(_f(s, "bulk", r), _f(s, "bulk", o))),
                # Acknowledgements behind an announcement not yet adopted (late Adds only).
                z3.Not(_f(s, "lackp", r))
                if not spec.late_adds
                else z3.Implies(
                    _f(s, "lackp", r),
                    z3.And(
                        s["conn"],
                        _f(s, "act", r),
                        z3.Not(_f(s, "bulk", r)),
                        _f(s, "lackv", r) >= 0,
                        _f(s, "lackv", r) <= v,
                        # The end that acknowledged holds at least it (or buried the SA).
                        z3.Or(
                            z3.And(
                                z3.Or(_f(s, "act", o), _f(s, "cpy", o)),
                                _f(s, "lackv", r) <= _f(s, "v", o),
                            ),
                            z3.And(_f(s, "rem", o), _f(s, "lackv", r) <= _f(s, "remv", o)),
                            _f(s, "tomb", o),
                        ),
                        z3.Not(
                            z3.And(
                                _f(s, "fon", r),
                                _f(s, "flset", r),
                                _f(s, "flinc", r) != _f(s, "inc", o),
                            )
                        ),
                    ),
                ),
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
                        # (A late Add may land, on this end's own use, before the holder
                        # adopted this end's announcement.)
                        z3.And(c <= _f(s, "v", r), z3.Implies(s["conn"], _f(s, "bulk", r)))
                        if not spec.late_adds
                        else z3.Implies(_f(s, "bulk", r), c <= _f(s, "v", r)),
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
            if spec.late_adds and spec.add_keeps:
                # What the first Add will install (never below the copy held or the value
                # remembered there): a late Add lands on the receiver's own use. While the
                # receiver holds the SA ACTIVE, its value (its copy when it leaves).
                held = z3.Or(_f(s, "cpy", o), _f(s, "act", o))
                kept = z3.If(held, _max(w, _f(s, "v", o)), w)
                w = z3.If(_f(s, "rem", o), _max(kept, _f(s, "remv", o)), kept)
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
                # Late Adds: the holder may have lost ``bulk`` since (the receiver left ACTIVE
                # and announced; the holder has not adopted it yet).
                z3.BoolVal(True)
                if spec.late_adds
                else z3.Implies(_f(s, "act", r), _f(s, "bulk", r)),
            )
            # An Add towards a router that buried the SA is refused there: it covers nothing;
            # nor does a late Add while its receiver is ACTIVE (dropped if it lands then).
            live = z3.And(_f(s, "addp", o), z3.Not(_f(s, "tomb", o)), jump > 0)

            parts.append(z3.Implies(live, covers))
            if not spec.late_adds:
                parts.append(
                    z3.Implies(
                        _f(s, "addp", o),
                        z3.Not(z3.Or(_f(s, "act", o), _f(s, "usable", r), _f(s, "addp", r))),
                    )
                )
            else:
                # SSP delivers in order and the sender of an Add wrote it as the replicating
                # holder, before it announced that it left ACTIVE; the other end replicates
                # only after adopting that announcement. So Adds are in flight one way at a
                # time, never towards a replicating holder, and the sender holds no usable
                # copy (one would come from a later Add the other way).
                parts.append(
                    z3.Implies(
                        _f(s, "addp", o),
                        z3.Not(z3.Or(_f(s, "usable", r), _f(s, "addp", r), _f(s, "bulk", o))),
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
            held = z3.Or(
                z3.And(z3.Or(_f(s, "cpy", o), _f(s, "act", o)), x <= _f(s, "v", o)),
                z3.And(_f(s, "rem", o), x <= _f(s, "remv", o)),
            )
            synced = z3.Implies(
                z3.And(
                    _f(s, "act", r),
                    _f(s, "bulk", r),
                    z3.Not(_f(s, "act", o)),
                    z3.Not(_f(s, "gone", o)),
                ),
                all_used(s, z3.Or(x <= v, capped)),
            )
            ready = z3.Implies(
                _f(s, "act", r),
                all_used(s, z3.Or(x <= v, capped, forgotten, held)),
            )
            parts += [synced, ready]
        return z3.And(parts)

    def remembered(s: Vars, par: Vars) -> z3.BoolRef:
        del par
        parts = []
        for o in _routers():
            r = 1 - o
            rem, remv = _f(s, "rem", o), _f(s, "remv", o)
            alive = z3.Not(_f(s, "tomb", o))
            parts += [
                # A copy (or an Add) arrives after the value was remembered and is no lower,
                # so the announcement (copy first) never hides a remembered value.
                z3.Implies(
                    z3.And(rem, z3.Or(_f(s, "cpy", o), _f(s, "act", o))), remv <= _f(s, "v", o)
                ),
                z3.Implies(z3.And(rem, _f(s, "addp", o), alive), remv <= _f(s, "addv", o))
                if not spec.late_adds
                else z3.BoolVal(True),
                # A replicating holder has adopted everything the other end holds (but not
                # what the other end used and deleted during a split while still ACTIVE:
                # above the holder's limit by ``split``, adopted once it leaves).
                z3.Implies(
                    z3.And(_f(s, "bulk", r), rem, z3.Not(_f(s, "gone", o))),
                    remv <= _f(s, "v", r),
                ),
                z3.Implies(
                    z3.And(_f(s, "bulk", r), _f(s, "cpy", o)), _f(s, "v", o) <= _f(s, "v", r)
                ),
                # An Add carries the holder's value, which no copy here is above.
                z3.Implies(
                    z3.And(_f(s, "addp", o), _f(s, "cpy", o)), _f(s, "v", o) <= _f(s, "addv", o)
                )
                if not spec.late_adds
                else z3.BoolVal(True),
                z3.Implies(_f(s, "addn", o), _f(s, "addp", o)),
                z3.Implies(_f(s, "addp", o), _f(s, "addv", o) <= _f(s, "addm", o)),
                z3.Implies(_f(s, "rqp", r), s["conn"]),
                # A deleted SA never comes back to the router that buried it.
                z3.Implies(_f(s, "tomb", o), z3.Not(z3.Or(_f(s, "act", o), _f(s, "cpy", o)))),
                z3.Implies(_f(s, "delp", o), z3.And(s["conn"], _f(s, "tomb", r))),
                # Deleted while ACTIVE: nothing is sent to it until it has left ACTIVE and
                # the holder has adopted what it remembers; an Add to a buried router is
                # refused only after that.
                z3.Implies(
                    _f(s, "gone", o),
                    z3.And(
                        _f(s, "tomb", o),
                        z3.Not(_f(s, "act", o)),
                        z3.BoolVal(True) if spec.late_adds else z3.Not(_f(s, "addp", o)),
                    ),
                ),
                z3.Implies(
                    z3.And(
                        _f(s, "addp", o),
                        _f(s, "tomb", o),
                        rem,
                        _f(s, "act", r),
                        # Late Adds: a Refuse counts only once the holder has adopted the
                        # announcement of the end it goes to (see ``deliver_add``).
                        z3.And(_f(s, "bulk", r), z3.Not(_f(s, "gone", o)))
                        if spec.late_adds
                        else z3.BoolVal(True),
                    ),
                    remv <= _f(s, "v", r),
                ),
                # ACTIVE as a device without the SA: no copy, and (assumption 1) no Add on
                # its way to it.
                z3.Implies(
                    _f(s, "bare", o),
                    z3.Not(
                        z3.Or(
                            _f(s, "act", o),
                            _f(s, "cpy", o),
                            _f(s, "gone", o),
                            z3.BoolVal(False) if spec.late_adds else _f(s, "addp", o),
                        )
                    ),
                ),
            ]
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
        ("remembered", remembered),
        ("split", split),
        ("ack-covers", ack_covers),
        ("holder-covers", holder_covers),
        *([("window-covers", window_covers)] if spec.kind == "in" else []),
        ("future-free", future_free),
        ("copy-covers", copy_covers),
        ("add-covers", add_covers),
    ]
