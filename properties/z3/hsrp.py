"""HSRP election (I1 single active, I2 coherent device) for every priority, address and timer.

Theory of operation
-------------------
**The group machine.** :func:`group_step` is RFC 2281 §5.7 written as Z3 terms: a
group state (phase, effective priority, the Active/Standby/Hello timers as *time
remaining*, time since enable) and one event ``a`` … ``l`` give the next state
and what is sent (Hello with its state field, Coup, Resign). The table below is
restated from the RFC, not imported from ``model/hsrp.py``; the model's own
resolutions are restated too: GAP-1 (entering Standby with no Active timer runs
the Standby × c cell at once), timers started with the local hold time, Coup and
Resign carry the phase before the transition and Hellos the phase after it,
preempt only after the preempt delay and only when the step's ``clients_ready`` input
allows it (below), ties broken by the higher address.
:func:`classify` turns a received message into its event. A standing test
evaluates these terms on Hypothesis-drawn concrete states and compares them with
``vpnha.model.hsrp.step`` / ``receive``.

**Preempt delay reload and sync.** The model also implements ``standby N preempt delay
reload R`` (R instead of ``minimum`` for the first enable after the router started) and
``preempt delay sync S`` (once the delay has passed, wait until the redundancy clients
are synchronised, at most S, before preempting). The encoding covers both with one free
Boolean input per step, ``clients_ready``, drawn fresh by every transition that can
deliver an ``h`` (``deliver_*``, ``havoc``): the preempting form of the ``h`` cell needs
``preempt ∧ since_enable ≥ pdelay ∧ clients_ready``. Every model run is a run of the
encoding, for every value of minimum, reload and sync: take ``pdelay`` := the least
delay any enable of the group can get on either router (min of the minimums and the set
reloads, ≥ 0 — ``pdelay`` is universally quantified, so the proof covers it). The model
preempts only when the delay of the current enable (minimum, or reload on the first
enable) has passed, which is ≥ ``pdelay``, and then only when ``synchronised`` or the sync
time is over; at each ``h`` let ``clients_ready`` be exactly that decision. Where the
model's delay is longer than ``pdelay`` (a longer reload), or sync makes it wait, the
input withholds the preempt; sync never makes it preempt earlier (it only adds a
condition), so nothing else changes. The model's ``sync_since`` (when the waiting began)
is abstracted by the input: the encoding allows every sequence of decisions, the model's
among them. The agreement tests (``tests/proofs/test_agreement.py`` on ``group_step``,
``tests/proofs/test_hsrp_pair.py`` on the coupled system's delivery) draw minimum, reload,
sync and ``synchronised`` and pin the input to the model's decision; ``test_vacuity.py``
checks the preempt stays reachable under the strengthening. I1's strengthening needed
no change: it never relies on a preempt happening (preempting less only removes steps
that make a router Active).

**I1 (single active).** Two routers, two groups — inside and outside — coupled
the way the product document configures them (``standby N track``: each group loses
a decrement while a tracked interface is down). Each group is the RFC machine above
with its own parameters: distinct addresses (32-bit), hello ≥ 1 ms, hold > hello,
preempt delay ≥ 0; link latency ``lat`` (shared) with ``2·lat < hello``; per router
and group a configured priority 1–255 and a decrement 0–255 for each interface (0:
not tracked). Transitions, per group: a timer fires, a tracked message is delivered,
the environment loses/delays messages (``fault``: a segment fault), a group is
enabled (its interface up) or disabled, preempt changes, and ``havoc``: any router
may receive *any* message from the other at any time (every op, state field and
priority) — it over-approximates every message this encoding does not track, so
dropping a message from tracking is always sound. Shared: ``tick`` (time passes
for both groups, never past a due timer or delivery). The coupling (the model's
``_interface`` and ``_refresh_priorities``): an interface going down disables its
own group (event b, with the priority it had) and then every group of that router
takes its *effective* priority — configured minus the decrements of the tracked
interfaces that are down, within 0–255; an interface coming up, and ``standby
priority``, do the same (the group comes back through ``enable``). The one-group
system (:func:`i1_system`) is the same machine with the priority changed freely.

Tracked messages, per group and sender: the earliest *Active* Hello and the earliest
Coup sent since the current window began (``hs_*``/``cp_*``: present, time to
delivery, priority); a tracked message is delivered exactly ``lat`` after it was sent
unless a ``fault`` happens. The ghost ``tog`` (per group) is the time both routers
have been Active together on a clean segment: it restarts at 0 when a router becomes
Active, on a segment fault, and when the group's priority on either router *moves*
— set by the operator or moved by tracking — which also forgets the group's tracked
messages.

Safety: for each group, ``both Active ⇒ tog ≤ hello + 2·lat`` (properties/invariants.py:
both Active together for more than one hello time plus two latencies on a clean
segment is a violation).

Strengthening (``I1`` conjuncts, each per group, ``[in]`` / ``[out]``):

- ``timers``: every router that is not Initial has its Hello timer running, due
  within one hello time; timers and deliveries are never overdue; tracked
  messages arrive within ``lat``.
- ``converge``: for the two routers ``x``, ``y`` both Active, one of: (1) ``x``'s
  next Hello is due before the window is one hello old; (2) ``x``'s Active Hello
  with its current priority is in flight and arrives before ``hello + lat``;
  (3) ``y`` outranks ``x`` and ``y``'s Coup (with ``y``'s priority) is in flight,
  arriving before ``hello + 2·lat``. Delivering (2) makes ``y`` step down (event
  ``g``) or send the Coup of (3) (event ``h``); delivering (3) makes ``x`` step down
  (event ``j``).
- ``coups``: while both are Active, a tracked Coup arrives before ``hello + 2·lat``
  and carries its sender's priority.
- ``tracking`` (the coupled system only): configured priorities are 1–255 and every
  group's priority *is* its effective priority (configured minus the decrements of the
  tracked interfaces that are down). I1 itself does not need it: a group's conjuncts
  mention only its own fields, so the coupled proof is the one-group proof per group —
  the coupling enters only through priorities, and every move restarts the group's
  window. It is proved alongside so that the proof also says the encoding's priorities
  are the model's (``tests/proofs/test_hsrp_pair.py`` checks the steps against
  ``Router.effective_priority``).

The checker states the same property (``invariants.py``: ``i1_single_active`` restarts a
group's grace period when its priority moves on either router, as well as on segment
faults). The restart is needed: without it the property is not inductive — a priority
change between a Hello and the Coup it provokes makes the Coup lower than its target,
which ignores it; repeated on both sides, both can stay Active longer than the grace
period. Z3 returns that step for a configured change (``I1-priority-flap``:
``set_priority`` breaks ``coups``) and for a tracked one (``I1-tracking-flap``: an
interface going down on one side breaks ``coups`` on the other group). A change that
keeps the two routers' order is not harmless either: it can cross the priority a Coup
in flight carries (restarting only on reversals, Z3 returns exactly that step), so the
restart is on every move. The step is reachable: ``replay.priority_flap_operations``
plays it from boot on the shipped pair (the operator raises the target of each Coup and
Active Hello above it while it is in flight, eight times in about a second), and model
and implementation both keep the split past hello + 2 × latency on a clean segment
(``tests/proofs/test_i1_priority_flap.py``); the checker without the restart reported
it as I1 on both.

**I2 (coherent device).** (a) The SSP role is ACTIVE exactly when every group
named by ``redundancy`` is Active (valid for all phases). (b) A *stable* election
— both groups converged: exactly one Active router per group, and delivering
either router's current Hello to the other changes no phase and provokes no
Coup — with a conforming configuration (equal priorities per group on both
routers, preempt everywhere, tracking mutual, all interfaces up) elects the same
router on both groups, for all priorities and addresses ordered the same way on
both segments. Stability is the premise of I2 ("once stable"), so (b) is stated
over the fixpoints of ``group_step``; with the addresses ordered differently Z3
returns the split (``I2-address-order``, expected counterexample).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import z3

from .engine import FieldKind, Frame, StatePredicate, System, Vars

__all__ = [
    "EVENTS",
    "PHASES",
    "GroupTerms",
    "Sent",
    "both_active_start",
    "classify",
    "group_step",
    "i1_invariant",
    "i1_pair_invariant",
    "i1_pair_safe",
    "i1_pair_system",
    "i1_safe",
    "i1_system",
    "i2_role_formula",
    "i2_stable_formula",
]

PHASES: Final = ("Initial", "Learn", "Listen", "Speak", "Standby", "Active")
"""Phase names by index (Z3 integers 0-5)."""
INITIAL, LEARN, LISTEN, SPEAK, STANDBY, ACTIVE = range(6)
EVENTS: Final = "abcdefghijkl"
"""RFC 2281 §5.5 events by index (Z3 integers 0-11)."""
EV: Final = {name: index for index, name in enumerate(EVENTS)}
OP_HELLO, OP_COUP, OP_RESIGN = 0, 1, 2
NO_EVENT: Final = -1

# RFC 2281 §5.7, restated: (phase, event) -> (actions, next phase or None = unchanged).
# Actions: A start Active timer, B start Standby timer, C stop Active timer, D stop Standby
# timer, E learn vIP, F send Hello, G send Coup, H send Resign, I gratuitous ARP.
_TABLE: Final[dict[tuple[int, str], tuple[str, int | None]]] = {
    (INITIAL, "a"): ("AB", LISTEN),  # vIP configured (note +)
    (LEARN, "b"): ("CD", INITIAL),
    (LISTEN, "b"): ("CD", INITIAL),
    (SPEAK, "b"): ("CD", INITIAL),
    (STANDBY, "b"): ("CD", INITIAL),
    (ACTIVE, "b"): ("CDH", INITIAL),
    (LISTEN, "c"): ("AB", SPEAK),
    (STANDBY, "c"): ("CDFI", ACTIVE),
    (LISTEN, "d"): ("B", SPEAK),
    (SPEAK, "d"): ("D", STANDBY),
    (SPEAK, "e"): ("F", None),
    (STANDBY, "e"): ("F", None),
    (ACTIVE, "e"): ("F", None),
    (SPEAK, "f"): ("B", LISTEN),
    (STANDBY, "f"): ("B", LISTEN),
    (LEARN, "g"): ("EAB", LISTEN),
    (LISTEN, "g"): ("EA", None),
    (SPEAK, "g"): ("EA", None),
    (STANDBY, "g"): ("EA", None),
    (ACTIVE, "g"): ("AB", SPEAK),
    (LEARN, "h"): ("EAB", LISTEN),
    (LISTEN, "h"): ("A", None),  # without preempt; with preempt: _PREEMPT
    (SPEAK, "h"): ("A", None),
    (STANDBY, "h"): ("A", None),
    (ACTIVE, "h"): ("G", None),
    (LISTEN, "i"): ("AB", SPEAK),
    (SPEAK, "i"): ("A", None),
    (STANDBY, "i"): ("CFI", ACTIVE),
    (ACTIVE, "j"): ("ABH", SPEAK),
    (LISTEN, "k"): ("B", None),
    (SPEAK, "k"): ("B", LISTEN),
    (STANDBY, "k"): ("B", LISTEN),
    (ACTIVE, "k"): ("B", None),
    (LISTEN, "l"): ("B", SPEAK),
    (SPEAK, "l"): ("D", STANDBY),
    (ACTIVE, "l"): ("B", None),
}
_PREEMPT: Final = ("BGFI", ACTIVE)
"""The ``h`` cell of Listen, Speak and Standby for a router configured to preempt."""
_GAP_1: Final = ("CDFI", ACTIVE)
"""Standby entered while the Active timer is not running -> Standby × c at once."""


@dataclass(frozen=True, slots=True)
class GroupTerms:
    """One group on one router as Z3 terms (times are ms remaining / elapsed)."""

    phase: z3.ArithRef
    priority: z3.ArithRef
    act_on: z3.BoolRef
    act_rem: z3.ArithRef
    sby_on: z3.BoolRef
    sby_rem: z3.ArithRef
    hel_on: z3.BoolRef
    hel_rem: z3.ArithRef
    since_enable: z3.ArithRef
    """ms since event a (for ``preempt delay minimum``)."""


@dataclass(frozen=True, slots=True)
class Sent:
    """What one step sends (each a condition, plus the Hello's state field)."""

    hello: z3.BoolRef
    hello_state: z3.ArithRef
    coup: z3.BoolRef
    resign: z3.BoolRef


@dataclass(frozen=True, slots=True)
class GroupConfig:
    """What the step needs to know of the router's configuration (terms or constants)."""

    own_ip: z3.ArithRef
    hello_ms: z3.ArithRef
    hold_ms: z3.ArithRef
    preempt: z3.BoolRef
    preempt_delay_ms: z3.ArithRef


def outranks(
    priority: z3.ArithRef, ip: z3.ArithRef, than_priority: z3.ArithRef, than_ip: z3.ArithRef
) -> z3.BoolRef:
    """RFC 2281 §5.1: higher priority wins; on equal priority the higher address."""
    return z3.Or(priority > than_priority, z3.And(priority == than_priority, ip > than_ip))


def classify(
    g: GroupTerms,
    cfg: GroupConfig,
    *,
    op: z3.ArithRef,
    state: z3.ArithRef,
    priority: z3.ArithRef,
    src_ip: z3.ArithRef,
) -> z3.ArithRef:
    """The event a message from the other router is (``NO_EVENT`` for none).

    Both routers share group number and authentication and the virtual IP is
    configured (the premises of a working pair), so only the op, state field and
    rank decide.
    """
    higher = outranks(priority, src_ip, g.priority, cfg.own_ip)
    lower = outranks(g.priority, cfg.own_ip, priority, src_ip)
    ev = z3.IntVal(NO_EVENT)
    by_state = z3.If(
        state == SPEAK,
        z3.If(higher, EV["f"], ev),
        z3.If(
            state == ACTIVE,
            z3.If(higher, EV["g"], z3.If(lower, EV["h"], ev)),
            z3.If(state == STANDBY, z3.If(higher, EV["k"], z3.If(lower, EV["l"], ev)), ev),
        ),
    )
    return z3.If(
        src_ip == cfg.own_ip,
        ev,
        z3.If(
            op == OP_RESIGN,
            z3.If(state == ACTIVE, EV["i"], ev),
            z3.If(op == OP_COUP, z3.If(higher, EV["j"], ev), by_state),
        ),
    )


def _apply_cell(
    g: GroupTerms, cfg: GroupConfig, cell: tuple[str, int | None]
) -> tuple[GroupTerms, Sent]:
    actions, nxt = cell
    act_on, act_rem, sby_on, sby_rem = g.act_on, g.act_rem, g.sby_on, g.sby_rem
    for action in actions:
        if action == "A":
            act_on, act_rem = z3.BoolVal(True), cfg.hold_ms
        elif action == "B":
            sby_on, sby_rem = z3.BoolVal(True), cfg.hold_ms
        elif action == "C":
            act_on = z3.BoolVal(False)
        elif action == "D":
            sby_on = z3.BoolVal(False)
    phase = g.phase if nxt is None else z3.IntVal(nxt)
    state = GroupTerms(
        phase, g.priority, act_on, act_rem, sby_on, sby_rem, g.hel_on, g.hel_rem, g.since_enable
    )
    sent = Sent(
        hello=z3.BoolVal("F" in actions),
        hello_state=phase,
        coup=z3.BoolVal("G" in actions),
        resign=z3.BoolVal("H" in actions),
    )
    return state, sent


def _merge(
    cond: z3.BoolRef, a: tuple[GroupTerms, Sent], b: tuple[GroupTerms, Sent]
) -> tuple[GroupTerms, Sent]:
    (ga, sa), (gb, sb) = a, b
    state = GroupTerms(*(z3.If(cond, x, y) for x, y in zip(_fields(ga), _fields(gb), strict=True)))
    sent = Sent(
        z3.If(cond, sa.hello, sb.hello),
        z3.If(cond, sa.hello_state, sb.hello_state),
        z3.If(cond, sa.coup, sb.coup),
        z3.If(cond, sa.resign, sb.resign),
    )
    return state, sent


def _fields(g: GroupTerms) -> tuple[z3.ExprRef, ...]:
    return (
        g.phase,
        g.priority,
        g.act_on,
        g.act_rem,
        g.sby_on,
        g.sby_rem,
        g.hel_on,
        g.hel_rem,
        g.since_enable,
    )


def _nothing(g: GroupTerms) -> Sent:
    del g
    no = z3.BoolVal(False)
    return Sent(no, z3.IntVal(INITIAL), no, no)


def _cell_for(
    g: GroupTerms, cfg: GroupConfig, phase: int, event: str, clients_ready: z3.BoolRef
) -> tuple[GroupTerms, Sent] | None:
    cell = _TABLE.get((phase, event))
    if cell is None:
        return None
    result = _apply_cell(g, cfg, cell)
    if event == "h" and phase in (LISTEN, SPEAK, STANDBY):
        # PREEMPT (model): the delay has passed and the wait for the redundancy clients
        # (``preempt delay sync``) is over; ``clients_ready`` also withholds a longer
        # ``preempt delay reload`` (module docstring).
        may_preempt = z3.And(cfg.preempt, g.since_enable >= cfg.preempt_delay_ms, clients_ready)
        result = _merge(may_preempt, _apply_cell(g, cfg, _PREEMPT), result)
    if phase != STANDBY and cell[1] == STANDBY:
        # GAP-1: entering Standby with no Active timer -> Standby × c at once.
        entered, sent = result
        gap, gap_sent = _apply_cell(entered, cfg, _GAP_1)
        both = Sent(gap_sent.hello, gap_sent.hello_state, sent.coup, sent.resign)
        result = _merge(entered.act_on, result, (gap, both))
    return result


def group_step(
    g: GroupTerms,
    cfg: GroupConfig,
    event: z3.ArithRef,
    *,
    jitter_ms: z3.ArithRef,
    clients_ready: z3.BoolRef,
) -> tuple[GroupTerms, Sent]:
    """One RFC 2281 event (an Int term, ``NO_EVENT`` for none) applied to ``g``.

    The timer that fired is cleared first (``c``, ``d``); ``e`` re-arms the Hello timer
    ``hello − jitter`` later; ``a`` starts it (and the preempt-delay clock), ``b``
    stops it. ``clients_ready``: whether an ``h`` may preempt once the delay has passed
    (False withholds it: a longer reload delay, or waiting for the clients' sync).
    """
    no = z3.BoolVal(False)
    pre = GroupTerms(
        g.phase,
        g.priority,
        z3.If(event == EV["c"], no, g.act_on),
        g.act_rem,
        z3.If(event == EV["d"], no, g.sby_on),
        g.sby_rem,
        z3.If(
            event == EV["a"],
            z3.If(g.phase == INITIAL, z3.BoolVal(True), g.hel_on),
            z3.If(event == EV["b"], no, z3.If(event == EV["e"], g.phase != INITIAL, g.hel_on)),
        ),
        z3.If(
            z3.And(event == EV["a"], g.phase == INITIAL),
            cfg.hello_ms - jitter_ms,
            z3.If(event == EV["e"], cfg.hello_ms - jitter_ms, g.hel_rem),
        ),
        z3.If(z3.And(event == EV["a"], g.phase == INITIAL), z3.IntVal(0), g.since_enable),
    )
    result: tuple[GroupTerms, Sent] = (pre, _nothing(pre))
    for phase in range(len(PHASES)):
        for name in EVENTS:
            cell = _cell_for(pre, cfg, phase, name, clients_ready)
            if cell is not None:
                result = _merge(z3.And(pre.phase == phase, event == EV[name]), cell, result)
    return result


# ------------------------------------------------------------------------------- I1


@dataclass(frozen=True, slots=True)
class _Group:
    """The names of one group's fields and parameters in an election system: ``tag`` is
    ``""`` in the one-group system, ``in_`` / ``out_`` in the coupled one."""

    tag: str

    def f(self, name: str, r: int) -> str:
        """Router r's field ``name``."""
        return f"{self.tag}{name}{r}"

    def p(self, name: str) -> str:
        """The group's parameter ``name`` (``lat`` is shared by every group)."""
        return name if name == "lat" else f"{self.tag}{name}"

    @property
    def tog(self) -> str:
        """The ghost: how long both routers have been Active together on a clean segment."""
        return f"{self.tag}tog"


_NOT_H: Final = z3.BoolVal(True)
"""``clients_ready`` for the steps whose event is never ``h`` (timers, enable, disable)."""
_ONE: Final = _Group("")
_INSIDE: Final = _Group("in_")
_OUTSIDE: Final = _Group("out_")
_PAIR: Final = (_INSIDE, _OUTSIDE)
_NAMED: Final = (("in", _INSIDE), ("out", _OUTSIDE))
_GROUP_STATE: Final = ("ph", "pr", "act_on", "act_rem", "sby_on", "sby_rem", "hel_on", "hel_rem")
_TIMERS: Final = (
    ("act_on", "act_rem"),
    ("sby_on", "sby_rem"),
    ("hel_on", "hel_rem"),
    ("hs_on", "hs_rem"),
    ("cp_on", "cp_rem"),
)


def _router_fields(grp: _Group, r: int) -> list[tuple[str, FieldKind]]:
    names: list[tuple[str, FieldKind]] = [
        ("ph", "int"),
        ("pr", "int"),
        ("act_on", "bool"),
        ("act_rem", "int"),
        ("sby_on", "bool"),
        ("sby_rem", "int"),
        ("hel_on", "bool"),
        ("hel_rem", "int"),
        ("since", "int"),
        ("preempt", "bool"),
        ("hs_on", "bool"),
        ("hs_rem", "int"),
        ("hs_pr", "int"),
        ("cp_on", "bool"),
        ("cp_rem", "int"),
        ("cp_pr", "int"),
    ]
    return [(grp.f(n, r), k) for n, k in names]


def _group_fields(grp: _Group) -> tuple[tuple[str, FieldKind], ...]:
    return (*(f for r in (0, 1) for f in _router_fields(grp, r)), (grp.tog, "int"))


def _group_params(grp: _Group) -> tuple[tuple[str, FieldKind], ...]:
    return tuple((grp.p(n), "int") for n in ("ip0", "ip1", "hello", "hold", "pdelay"))


def _tracking_fields() -> tuple[tuple[str, FieldKind], ...]:
    """Per router: each interface up (``up_in0`` …) and each group's configured priority."""
    kinds: tuple[tuple[str, FieldKind], ...] = (("up", "bool"), ("cfg", "int"))
    return tuple(
        (f"{kind}_{side}{r}", k) for r in (0, 1) for kind, k in kinds for side in ("in", "out")
    )


def _decrements() -> tuple[tuple[str, FieldKind], ...]:
    """``dec_{group}_{side}{r}``: what router r's group loses while its ``side`` interface
    is down (``standby N track``; 0: not tracked)."""
    return tuple(
        (f"dec_{g}_{side}{r}", "int")
        for r in (0, 1)
        for g in ("in", "out")
        for side in ("in", "out")
    )


def _terms(s: Vars, grp: _Group, r: int) -> GroupTerms:
    return GroupTerms(
        s[grp.f("ph", r)],
        s[grp.f("pr", r)],
        s[grp.f("act_on", r)],
        s[grp.f("act_rem", r)],
        s[grp.f("sby_on", r)],
        s[grp.f("sby_rem", r)],
        s[grp.f("hel_on", r)],
        s[grp.f("hel_rem", r)],
        s[grp.f("since", r)],
    )


def _config(s: Vars, par: Vars, grp: _Group, r: int) -> GroupConfig:
    return GroupConfig(
        own_ip=par[grp.p(f"ip{r}")],
        hello_ms=par[grp.p("hello")],
        hold_ms=par[grp.p("hold")],
        preempt=s[grp.f("preempt", r)],
        preempt_delay_ms=par[grp.p("pdelay")],
    )


def _write(t: Vars, grp: _Group, r: int, g: GroupTerms) -> list[z3.BoolRef]:
    names = (*_GROUP_STATE, "since")
    return [t[grp.f(n, r)] == v for n, v in zip(names, _fields(g), strict=True)]


def _both_active(s: Vars, grp: _Group = _ONE) -> z3.BoolRef:
    return z3.And(s[grp.f("ph", 0)] == ACTIVE, s[grp.f("ph", 1)] == ACTIVE)


def _slots(grp: _Group) -> list[str]:
    kinds = ("hs_on", "hs_rem", "hs_pr", "cp_on", "cp_rem", "cp_pr")
    return [grp.f(n, r) for r in (0, 1) for n in kinds]


def _forget(grp: _Group) -> list[str]:
    """The fields a new window changes: the ghost and every tracked message's presence."""
    return [grp.tog] + [grp.f(f"{k}_on", q) for q in (0, 1) for k in ("hs", "cp")]


def _group_param_range(par: Vars, grp: _Group) -> list[z3.BoolRef]:
    ip0, ip1 = par[grp.p("ip0")], par[grp.p("ip1")]
    hello = par[grp.p("hello")]
    return [
        ip0 != ip1,
        *[z3.And(ip >= 0, ip < 2**32) for ip in (ip0, ip1)],
        hello >= 1,
        par[grp.p("hold")] > hello,
        2 * par["lat"] < hello,
        par[grp.p("pdelay")] >= 0,
    ]


def _group_init(s: Vars, grp: _Group) -> list[z3.BoolRef]:
    parts = [s[grp.tog] == 0]
    for r in (0, 1):
        parts += [
            s[grp.f("ph", r)] == INITIAL,
            s[grp.f("pr", r)] >= 0,
            s[grp.f("pr", r)] <= 255,
            z3.Not(s[grp.f("act_on", r)]),
            z3.Not(s[grp.f("sby_on", r)]),
            z3.Not(s[grp.f("hel_on", r)]),
            s[grp.f("since", r)] == 0,
            z3.Not(s[grp.f("hs_on", r)]),
            z3.Not(s[grp.f("cp_on", r)]),
        ]
    return parts


Trans = Callable[[Frame], z3.BoolRef]


def _group_transitions(
    grp: _Group, fields: tuple[tuple[str, FieldKind], ...]
) -> list[tuple[str, Trans]]:
    """One group's own transitions (timers, deliveries, havoc, enable/disable, preempt,
    segment fault) inside a system with ``fields``; everything else stays unchanged."""

    def keep(fr: Frame, changed: set[str]) -> z3.BoolRef:
        return fr.same(*(n for n, _ in fields if n not in changed))

    def after_step(
        fr: Frame, r: int, result: tuple[GroupTerms, Sent], changed: set[str]
    ) -> z3.BoolRef:
        """Write router r's new group state and track what it sent."""
        s, t, par = fr.pre, fr.post, fr.par
        g, sent = result
        became_active = z3.And(s[grp.f("ph", r)] != ACTIVE, g.phase == ACTIVE)
        parts = _write(t, grp, r, g)
        # A new window: forget every tracked message, then track this step's sends.
        reset = became_active
        parts.append(t[grp.tog] == z3.If(reset, 0, s[grp.tog]))
        for q in (0, 1):
            for kind in ("hs", "cp"):
                on, rem, pr = (
                    grp.f(f"{kind}_on", q),
                    grp.f(f"{kind}_rem", q),
                    grp.f(f"{kind}_pr", q),
                )
                base_on = z3.And(z3.Not(reset), s[on])
                if q == r:
                    fresh = (
                        sent.coup
                        if kind == "cp"
                        else z3.And(sent.hello, sent.hello_state == ACTIVE)
                    )
                    track = z3.And(fresh, z3.Not(base_on))
                    parts += [
                        t[on] == z3.Or(base_on, track),
                        t[rem] == z3.If(track, par["lat"], s[rem]),
                        t[pr] == z3.If(track, g.priority, s[pr]),
                    ]
                else:
                    parts += [t[on] == base_on, t[rem] == s[rem], t[pr] == s[pr]]
        names = {n for n, _ in _router_fields(grp, r)} | set(_slots(grp)) | {grp.tog}
        names -= {grp.f("preempt", r)}
        parts.append(keep(fr, names | changed))
        return z3.And(parts)

    def timer(r: int, which: str) -> tuple[str, Trans]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, par = fr.pre, fr.par
            jitter = fr.int_input("jitter")
            due = {
                "c": ("act_on", "act_rem"),
                "d": ("sby_on", "sby_rem"),
                "e": ("hel_on", "hel_rem"),
            }
            on, rem = due[which]
            result = group_step(
                _terms(s, grp, r),
                _config(s, par, grp, r),
                z3.IntVal(EV[which]),
                jitter_ms=jitter,
                clients_ready=_NOT_H,
            )
            return z3.And(
                s[grp.f(on, r)],
                s[grp.f(rem, r)] == 0,
                jitter >= 0,
                jitter < par[grp.p("hello")],
                after_step(fr, r, result, set()),
            )

        return (f"{grp.tag}timer_{which}{r}", trans)

    def deliver(r: int, kind: str) -> tuple[str, Trans]:
        """The tracked message of sender r arrives at the other router."""
        o = 1 - r

        def trans(fr: Frame) -> z3.BoolRef:
            s, t, par = fr.pre, fr.post, fr.par
            g = _terms(s, grp, o)
            op = OP_HELLO if kind == "hs" else OP_COUP
            event = classify(
                g,
                _config(s, par, grp, o),
                op=z3.IntVal(op),
                state=z3.IntVal(ACTIVE),
                priority=s[grp.f(f"{kind}_pr", r)],
                src_ip=par[grp.p(f"ip{r}")],
            )
            event = z3.If(s[grp.f("ph", o)] == INITIAL, NO_EVENT, event)
            result = group_step(
                g,
                _config(s, par, grp, o),
                event,
                jitter_ms=z3.IntVal(0),
                clients_ready=fr.bool_input("clients_ready"),
            )
            pre_cleared = dict(s)
            pre_cleared[grp.f(f"{kind}_on", r)] = z3.BoolVal(False)
            inner = Frame(pre=pre_cleared, post=t, par=par, prefix=fr.prefix)
            return z3.And(
                s[grp.f(f"{kind}_on", r)],
                s[grp.f(f"{kind}_rem", r)] == 0,
                after_step(inner, o, result, set()),
            )

        return (f"{grp.tag}deliver_{kind}{r}", trans)

    def havoc(o: int) -> tuple[str, Trans]:
        r = 1 - o

        def trans(fr: Frame) -> z3.BoolRef:
            s, par = fr.pre, fr.par
            op, state, priority = fr.int_input("op"), fr.int_input("state"), fr.int_input("pr")
            g = _terms(s, grp, o)
            cfg = _config(s, par, grp, o)
            event = classify(
                g, cfg, op=op, state=state, priority=priority, src_ip=par[grp.p(f"ip{r}")]
            )
            event = z3.If(s[grp.f("ph", o)] == INITIAL, NO_EVENT, event)
            result = group_step(
                g, cfg, event, jitter_ms=z3.IntVal(0), clients_ready=fr.bool_input("clients_ready")
            )
            return z3.And(
                op >= 0,
                op <= 2,
                state >= 0,
                state <= 5,
                priority >= 0,
                priority <= 255,
                after_step(fr, o, result, set()),
            )

        return (f"{grp.tag}havoc{o}", trans)

    def admin(r: int, which: str) -> tuple[str, Trans]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, par = fr.pre, fr.par
            jitter = fr.int_input("jitter")
            result = group_step(
                _terms(s, grp, r),
                _config(s, par, grp, r),
                z3.IntVal(EV[which]),
                jitter_ms=jitter,
                clients_ready=_NOT_H,
            )
            phase = s[grp.f("ph", r)]
            guard = phase == INITIAL if which == "a" else phase != INITIAL
            if which == "a" and grp is not _ONE:
                # Event a needs the interface up (``standby delay`` elapsed after it came up).
                guard = z3.And(guard, s[f"up_{grp.tag.rstrip('_')}{r}"])
            return z3.And(
                guard, jitter >= 0, jitter < par[grp.p("hello")], after_step(fr, r, result, set())
            )

        return f"{grp.tag}{'enable' if which == 'a' else 'disable'}{r}", trans

    def fault(fr: Frame) -> z3.BoolRef:
        t = fr.post
        offs = [z3.Not(t[grp.f(f"{k}_on", r)]) for r in (0, 1) for k in ("hs", "cp")]
        return z3.And(t[grp.tog] == 0, *offs, keep(fr, set(_forget(grp))))

    def set_preempt(r: int) -> tuple[str, Trans]:
        def trans(fr: Frame) -> z3.BoolRef:
            return keep(fr, {grp.f("preempt", r)})

        return (f"{grp.tag}set_preempt{r}", trans)

    transitions: list[tuple[str, Trans]] = [(f"{grp.tag}fault", fault)]
    for r in (0, 1):
        transitions += [timer(r, w) for w in "cde"]
        transitions += [deliver(r, "hs"), deliver(r, "cp"), havoc(r)]
        transitions += [admin(r, "a"), admin(r, "b"), set_preempt(r)]
    return transitions


def _tick(groups: tuple[_Group, ...], fields: tuple[tuple[str, FieldKind], ...]) -> Trans:
    """Time passes for every group at once, never past a due timer or delivery."""

    def trans(fr: Frame) -> z3.BoolRef:
        s, t = fr.pre, fr.post
        d = fr.int_input("ms")
        parts = [d >= 1]
        changed: set[str] = set()
        for grp in groups:
            parts.append(t[grp.tog] == s[grp.tog] + d)
            changed.add(grp.tog)
            for r in (0, 1):
                for on, rem in _TIMERS:
                    on_f, rem_f = grp.f(on, r), grp.f(rem, r)
                    parts += [
                        z3.Implies(s[on_f], s[rem_f] >= d),
                        t[rem_f] == z3.If(s[on_f], s[rem_f] - d, s[rem_f]),
                    ]
                    changed.add(rem_f)
                parts.append(t[grp.f("since", r)] == s[grp.f("since", r)] + d)
                changed.add(grp.f("since", r))
        return z3.And(*parts, fr.same(*(n for n, _ in fields if n not in changed)))

    return trans


def _restart_if(fr: Frame, grp: _Group, changed: z3.BoolRef) -> list[z3.BoolRef]:
    """A group whose ranking changed starts a new window (tracked messages forgotten)."""
    s, t = fr.pre, fr.post
    parts = [t[grp.tog] == z3.If(changed, 0, s[grp.tog])]
    for q in (0, 1):
        for k in ("hs", "cp"):
            on = grp.f(f"{k}_on", q)
            parts.append(t[on] == z3.And(s[on], z3.Not(changed)))
    return parts


def i1_system(
    *, priority_change_restarts: bool = True, only: frozenset[str] | None = None
) -> System:
    """The two-router, one-group election with tracked messages (module docstring).

    ``only`` keeps just the named transitions (a sub-system: each of its traces is one
    of the full system, which makes a bounded search for a known schedule faster).
    """
    grp = _ONE
    fields = _group_fields(grp)

    def param_range(par: Vars) -> z3.BoolRef:
        return z3.And(*_group_param_range(par, grp), par["lat"] >= 0)

    def init(s: Vars, par: Vars) -> z3.BoolRef:
        del par
        return z3.And(_group_init(s, grp))

    def set_priority(r: int) -> tuple[str, Trans]:
        def trans(fr: Frame) -> z3.BoolRef:
            t = fr.post
            pr = grp.f("pr", r)
            parts = [t[pr] >= 0, t[pr] <= 255]
            changed = {pr}
            if priority_change_restarts:
                parts += _restart_if(fr, grp, z3.BoolVal(True))
                changed |= set(_forget(grp))
            return z3.And(*parts, fr.same(*(n for n, _ in fields if n not in changed)))

        return (f"set_priority{r}", trans)

    transitions: list[tuple[str, Trans]] = [("tick", _tick((grp,), fields))]
    transitions += _group_transitions(grp, fields)
    transitions += [set_priority(r) for r in (0, 1)]
    if only is not None:
        transitions = [(n, t) for n, t in transitions if n in only]
    return System(
        name="hsrp-election",
        fields=fields,
        params=(*_group_params(grp), ("lat", "int")),
        param_range=param_range,
        init=init,
        transitions=tuple(transitions),
    )


def _clamp(value: z3.ArithRef) -> z3.ArithRef:
    return z3.If(value < 0, 0, z3.If(value > 255, 255, value))


def _effective(s: Vars, par: Vars, g: str, r: int) -> z3.ArithRef:
    """Router r's priority for group ``g``: configured minus the decrement of every tracked
    interface that is down, within 0-255 (``Router.effective_priority``)."""
    down = [z3.If(s[f"up_{side}{r}"], 0, par[f"dec_{g}_{side}{r}"]) for side in ("in", "out")]
    return _clamp(s[f"cfg_{g}{r}"] - down[0] - down[1])


def i1_pair_system(*, tracking_restarts: bool = True) -> System:
    """Two routers, two groups (inside, outside) coupled by interface tracking.

    Every group transition of the one-group system, per group; ``tick`` moves both; and
    the coupling: an interface going down disables its group (event b) and, like an
    interface coming up or ``standby priority``, sets each group's priority to the
    configured one minus the decrements of the tracked interfaces that are down. A group
    whose priority changes starts a new grace window (``tracking_restarts=False``: only a
    configured change does, not one made by tracking; Z3 refutes that).
    """
    fields = (*_group_fields(_INSIDE), *_group_fields(_OUTSIDE), *_tracking_fields())
    params = (*_group_params(_INSIDE), *_group_params(_OUTSIDE), ("lat", "int"), *_decrements())

    def param_range(par: Vars) -> z3.BoolRef:
        decs = [z3.And(par[n] >= 0, par[n] <= 255) for n, _ in _decrements()]
        ranges = _group_param_range(par, _INSIDE) + _group_param_range(par, _OUTSIDE)
        return z3.And(*ranges, par["lat"] >= 0, *decs)

    def init(s: Vars, par: Vars) -> z3.BoolRef:
        parts = _group_init(s, _INSIDE) + _group_init(s, _OUTSIDE)
        for r in (0, 1):
            for g, grp in (("in", _INSIDE), ("out", _OUTSIDE)):
                parts += [
                    s[f"cfg_{g}{r}"] >= 1,
                    s[f"cfg_{g}{r}"] <= 255,
                    s[grp.f("pr", r)] == _effective(s, par, g, r),
                ]
        return z3.And(parts)

    def refresh(fr: Frame, r: int, *, restart: bool) -> list[z3.BoolRef]:
        """Both groups of router r take their effective priority (``_refresh_priorities``);
        with ``restart``, a group whose priority moved starts a new window."""
        s, t, par = fr.pre, fr.post, fr.par
        parts = []
        for g, grp in _NAMED:
            pr = grp.f("pr", r)
            parts.append(t[pr] == _effective(t, par, g, r))
            parts += _restart_if(fr, grp, z3.And(z3.BoolVal(restart), t[pr] != s[pr]))
        return parts

    def touched(r: int) -> set[str]:
        names = {grp.f("pr", r) for grp in _PAIR}
        for grp in _PAIR:
            names |= set(_forget(grp))
        return names

    def set_priority(r: int, g: str) -> tuple[str, Trans]:
        def trans(fr: Frame) -> z3.BoolRef:
            t = fr.post
            cfg = f"cfg_{g}{r}"
            parts = [t[cfg] >= 1, t[cfg] <= 255, *refresh(fr, r, restart=True)]
            changed = touched(r) | {cfg}
            return z3.And(*parts, fr.same(*(n for n, _ in fields if n not in changed)))

        return (f"set_priority_{g}{r}", trans)

    def interface(r: int, side: str, *, up: bool) -> tuple[str, Trans]:
        grp = _INSIDE if side == "in" else _OUTSIDE

        def trans(fr: Frame) -> z3.BoolRef:
            s, t, par = fr.pre, fr.post, fr.par
            flag = f"up_{side}{r}"
            parts = [s[flag] != up, t[flag] == up]
            changed = touched(r) | {flag}
            if up:
                # The group stays Initial until ``standby delay minimum`` has passed (enable).
                parts += refresh(fr, r, restart=tracking_restarts)
            else:
                # Event b on this side's group first (its Resign carries the old priority),
                # then every group's priority follows the tracked interfaces.
                g = _terms(s, grp, r)
                disabled, _ = group_step(
                    g,
                    _config(s, par, grp, r),
                    z3.If(g.phase == INITIAL, NO_EVENT, EV["b"]),
                    jitter_ms=z3.IntVal(0),
                    clients_ready=_NOT_H,
                )
                names = (*_GROUP_STATE, "since")
                parts += [
                    t[grp.f(n, r)] == v
                    for n, v in zip(names, _fields(disabled), strict=True)
                    if n != "pr"
                ]
                parts += refresh(fr, r, restart=tracking_restarts)
                changed |= {grp.f(n, r) for n in names}
            return z3.And(*parts, fr.same(*(n for n, _ in fields if n not in changed)))

        return (f"{'up' if up else 'down'}_{side}{r}", trans)

    transitions: list[tuple[str, Trans]] = [("tick", _tick(_PAIR, fields))]
    for grp in _PAIR:
        transitions += _group_transitions(grp, fields)
    for r in (0, 1):
        for side in ("in", "out"):
            transitions += [
                set_priority(r, side),
                interface(r, side, up=False),
                interface(r, side, up=True),
            ]
    return System(
        name="hsrp-election-pair",
        fields=fields,
        params=params,
        param_range=param_range,
        init=init,
        transitions=tuple(transitions),
    )


def i1_safe(s: Vars, par: Vars) -> z3.BoolRef:
    """No two Active routers on a clean segment for more than hello + 2 × latency."""
    return _group_safe(s, par, _ONE)


def _group_safe(s: Vars, par: Vars, grp: _Group) -> z3.BoolRef:
    return z3.Implies(_both_active(s, grp), s[grp.tog] <= par[grp.p("hello")] + 2 * par["lat"])


def i1_pair_safe(s: Vars, par: Vars) -> z3.BoolRef:
    """I1 on the inside and on the outside segment."""
    return z3.And(_group_safe(s, par, _INSIDE), _group_safe(s, par, _OUTSIDE))


def both_active_start(s: Vars, par: Vars) -> z3.BoolRef:
    """Both routers Active right after a segment fault, nothing tracked (reachable: two
    routers that became Active on a partitioned segment, when it heals)."""
    parts = [_both_active(s), s["tog"] == 0]
    for r in (0, 1):
        parts += [
            z3.Not(s[f"hs_on{r}"]),
            z3.Not(s[f"cp_on{r}"]),
            s[f"pr{r}"] >= 0,
            s[f"pr{r}"] <= 255,
            s[f"hel_on{r}"],
            s[f"hel_rem{r}"] >= 0,
            s[f"hel_rem{r}"] <= par["hello"],
            z3.Not(s[f"act_on{r}"]),
            z3.Not(s[f"sby_on{r}"]),
            s[f"since{r}"] >= 0,
        ]
    return z3.And(parts)


def _group_invariant(grp: _Group) -> list[tuple[str, StatePredicate]]:
    """The one-group strengthening (module docstring) for ``grp``."""

    def f(name: str, r: int) -> str:
        return grp.f(name, r)

    def timers(s: Vars, par: Vars) -> z3.BoolRef:
        hello, lat = par[grp.p("hello")], par["lat"]
        parts = [s[grp.tog] >= 0]
        for r in (0, 1):
            parts += [
                s[f("ph", r)] >= 0,
                s[f("ph", r)] <= 5,
                s[f("pr", r)] >= 0,
                s[f("pr", r)] <= 255,
                s[f("since", r)] >= 0,
                z3.Implies(s[f("act_on", r)], s[f("act_rem", r)] >= 0),
                z3.Implies(s[f("sby_on", r)], s[f("sby_rem", r)] >= 0),
                z3.Implies(
                    s[f("hel_on", r)],
                    z3.And(s[f("hel_rem", r)] >= 0, s[f("hel_rem", r)] <= hello),
                ),
                z3.Implies(s[f("ph", r)] != INITIAL, s[f("hel_on", r)]),
                z3.Implies(
                    s[f("hs_on", r)], z3.And(s[f("hs_rem", r)] >= 0, s[f("hs_rem", r)] <= lat)
                ),
                z3.Implies(
                    s[f("cp_on", r)], z3.And(s[f("cp_rem", r)] >= 0, s[f("cp_rem", r)] <= lat)
                ),
            ]
        return z3.And(parts)

    def converge(s: Vars, par: Vars) -> z3.BoolRef:
        hello, lat, tog = par[grp.p("hello")], par["lat"], s[grp.tog]
        parts = []
        for x in (0, 1):
            y = 1 - x
            next_hello = s[f("hel_rem", x)] + tog <= hello
            hello_flying = z3.And(
                s[f("hs_on", x)],
                s[f("hs_pr", x)] == s[f("pr", x)],
                tog + s[f("hs_rem", x)] <= hello + lat,
            )
            coup_flying = z3.And(
                s[f("cp_on", y)],
                s[f("cp_pr", y)] == s[f("pr", y)],
                outranks(s[f("pr", y)], par[grp.p(f"ip{y}")], s[f("pr", x)], par[grp.p(f"ip{x}")]),
                tog + s[f("cp_rem", y)] <= hello + 2 * lat,
            )
            parts.append(z3.Or(next_hello, hello_flying, coup_flying))
        return z3.Implies(_both_active(s, grp), z3.And(parts))

    def coups(s: Vars, par: Vars) -> z3.BoolRef:
        parts = []
        for y in (0, 1):
            parts.append(z3.Implies(s[f("hs_on", y)], s[f("hs_pr", y)] == s[f("pr", y)]))
            parts.append(
                z3.Implies(
                    s[f("cp_on", y)],
                    z3.And(
                        s[f("cp_pr", y)] == s[f("pr", y)],
                        s[grp.tog] + s[f("cp_rem", y)] <= par[grp.p("hello")] + 2 * par["lat"],
                    ),
                )
            )
        return z3.Implies(_both_active(s, grp), z3.And(parts))

    label = grp.tag.rstrip("_")
    suffix = f" [{label}]" if label else ""
    return [
        (f"timers{suffix}", timers),
        (f"coups{suffix}", coups),
        (f"converge{suffix}", converge),
    ]


def i1_invariant() -> list[tuple[str, StatePredicate]]:
    """The strengthening of I1 (module docstring)."""
    return _group_invariant(_ONE)


def i1_pair_invariant() -> list[tuple[str, StatePredicate]]:
    """The strengthening of I1 for the coupled pair: each group's, and ``tracking``."""

    def tracking(s: Vars, par: Vars) -> z3.BoolRef:
        parts = []
        for r in (0, 1):
            for g, grp in (("in", _INSIDE), ("out", _OUTSIDE)):
                parts += [
                    s[f"cfg_{g}{r}"] >= 1,
                    s[f"cfg_{g}{r}"] <= 255,
                    s[grp.f("pr", r)] == _effective(s, par, g, r),
                ]
        return z3.And(parts)

    return [*_group_invariant(_INSIDE), *_group_invariant(_OUTSIDE), ("tracking", tracking)]


# ------------------------------------------------------------------------------- I2


def i2_role_formula() -> tuple[z3.BoolRef, Vars]:
    """SSP role ACTIVE ⇔ every named group Active (``model/ssp.device_role``), restated.

    Returns the formula (role ACTIVE ⇒ both groups Active, and STANDBY ⇒ neither
    is Active) and its free variables.
    """
    inside, outside = z3.Int("inside_phase"), z3.Int("outside_phase")
    role_active = z3.And(inside == ACTIVE, outside == ACTIVE)
    role_standby = z3.And(inside == STANDBY, outside == STANDBY)
    formula = z3.And(
        z3.Implies(role_active, z3.And(inside == ACTIVE, outside == ACTIVE)),
        z3.Implies(role_standby, z3.And(inside != ACTIVE, outside != ACTIVE)),
        z3.Not(z3.And(role_active, role_standby)),
    )
    return formula, {"inside_phase": inside, "outside_phase": outside}


def _stable_group(
    phases: tuple[z3.ArithRef, z3.ArithRef],
    priorities: tuple[z3.ArithRef, z3.ArithRef],
    ips: tuple[z3.ArithRef, z3.ArithRef],
    preempt: tuple[z3.BoolRef, z3.BoolRef],
) -> z3.BoolRef:
    """Exactly one Active; delivering either router's Hello to the other changes nothing."""
    parts = [
        z3.Or(phases[0] == ACTIVE, phases[1] == ACTIVE),
        z3.Not(z3.And(phases[0] == ACTIVE, phases[1] == ACTIVE)),
    ]
    for r in (0, 1):
        o = 1 - r
        parts += [phases[r] >= LISTEN, phases[r] <= ACTIVE]
        g = GroupTerms(
            phases[o],
            priorities[o],
            z3.BoolVal(True),
            z3.IntVal(1),
            z3.BoolVal(True),
            z3.IntVal(1),
            z3.BoolVal(True),
            z3.IntVal(1),
            z3.IntVal(10**9),
        )
        cfg = GroupConfig(
            own_ip=ips[o],
            hello_ms=z3.IntVal(1),
            hold_ms=z3.IntVal(3),
            preempt=preempt[o],
            preempt_delay_ms=z3.IntVal(0),
        )
        event = classify(
            g, cfg, op=z3.IntVal(OP_HELLO), state=phases[r], priority=priorities[r], src_ip=ips[r]
        )
        # A fixpoint: the sync wait is over (``preempt delay sync`` waits at most S).
        after, sent = group_step(
            g, cfg, event, jitter_ms=z3.IntVal(0), clients_ready=z3.BoolVal(True)
        )
        parts += [after.phase == phases[o], z3.Not(sent.coup)]
    return z3.And(parts)


def i2_stable_formula(*, conforming: bool = True) -> tuple[z3.BoolRef, Vars]:
    """Stable elections on both groups never split the device (see the module docstring).

    ``conforming=False`` drops the premise that the addresses are ordered the same way
    on both segments (the document's requirement), which Z3 then refutes.
    """
    names = ("in_ph0", "in_ph1", "out_ph0", "out_ph1", "p_in", "p_out")
    in_ph0, in_ph1, out_ph0, out_ph1, p_in, p_out = (z3.Int(n) for n in names)
    ips = {n: z3.Int(n) for n in ("in_ip0", "in_ip1", "out_ip0", "out_ip1")}
    yes = z3.BoolVal(True)
    premise = [
        p_in >= 1,
        p_in <= 255,
        p_out >= 1,
        p_out <= 255,
        *[z3.And(v >= 0, v < 2**32) for v in ips.values()],
        ips["in_ip0"] != ips["in_ip1"],
        ips["out_ip0"] != ips["out_ip1"],
        _stable_group((in_ph0, in_ph1), (p_in, p_in), (ips["in_ip0"], ips["in_ip1"]), (yes, yes)),
        _stable_group(
            (out_ph0, out_ph1), (p_out, p_out), (ips["out_ip0"], ips["out_ip1"]), (yes, yes)
        ),
    ]
    if conforming:
        premise.append((ips["in_ip0"] > ips["in_ip1"]) == (ips["out_ip0"] > ips["out_ip1"]))
    coherent = z3.And(
        (in_ph0 == ACTIVE) == (out_ph0 == ACTIVE), (in_ph1 == ACTIVE) == (out_ph1 == ACTIVE)
    )
    shown: dict[str, z3.ExprRef] = {
        "inside_phase_r0": in_ph0,
        "inside_phase_r1": in_ph1,
        "outside_phase_r0": out_ph0,
        "outside_phase_r1": out_ph1,
        "inside_priority": p_in,
        "outside_priority": p_out,
        **ips,
    }
    return z3.Implies(z3.And(premise), coherent), shown
