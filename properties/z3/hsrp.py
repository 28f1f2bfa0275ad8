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
preempt only after ``preempt delay minimum``, ties broken by the higher address.
:func:`classify` turns a received message into its event. A standing test
evaluates these terms on Hypothesis-drawn concrete states and compares them with
``vpnha.model.hsrp.step`` / ``receive``.

**I1 (single active).** Two routers, one group (the inside and the outside group
are the same machine with their own parameters; the proof is for all of them).
Parameters: distinct addresses (32-bit), hello ≥ 1 ms, hold > hello, link latency
``lat`` with ``2·lat < hello``, preempt delay ≥ 0. Transitions: time passes
(``tick``, never past a due timer or delivery), a timer fires, a message is
delivered, the environment loses/delays messages (``fault``), changes a priority
(configuration or tracking, 0–255) or preempt, enables or disables a group
(interface, crash, ``standby delay``), and ``havoc``: any router may receive *any*
message from the other at any time (every op, state field and priority). Havoc
over-approximates every message this encoding does not track, so dropping a
message from tracking is always sound.

Tracked messages: per sender, the earliest *Active* Hello and the earliest Coup
sent since the current window began (``hs_*``/``cp_*``: present, time to delivery,
priority); a tracked message is delivered exactly ``lat`` after it was sent unless
a ``fault`` happens. The ghost ``tog`` is the time both routers have been Active
on a clean segment: it restarts at 0 when a router becomes Active, on a fault and
on a priority change, which also forget every tracked message.

Safety: ``both Active ⇒ tog ≤ hello + 2·lat`` (properties/invariants.py: both
Active together for more than one hello time plus two latencies on a clean
segment is a violation).

Strengthening (``I1`` conjuncts):

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

DEVIATION from the checker: ``invariants.py`` restarts the grace period only on
segment faults, not on a priority change. Without the restart the property is
not inductive (``I1-priority-flap``, expected counterexample to induction): a
priority change between a Hello and the Coup it provokes makes the Coup lower than
its target, which ignores it; repeated on both sides, both can stay Active longer
than the grace period. Z3 returns the step (``set_priority`` breaks ``coups``); a
full schedule from boot is about 20 steps, beyond the bounded search's budget, so
whether the checker's weaker statement is actually violated is not shown.

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
    g: GroupTerms, cfg: GroupConfig, phase: int, event: str
) -> tuple[GroupTerms, Sent] | None:
    cell = _TABLE.get((phase, event))
    if cell is None:
        return None
    result = _apply_cell(g, cfg, cell)
    if event == "h" and phase in (LISTEN, SPEAK, STANDBY):
        may_preempt = z3.And(cfg.preempt, g.since_enable >= cfg.preempt_delay_ms)
        result = _merge(may_preempt, _apply_cell(g, cfg, _PREEMPT), result)
    if phase != STANDBY and cell[1] == STANDBY:
        # GAP-1: entering Standby with no Active timer -> Standby × c at once.
        entered, sent = result
        gap, gap_sent = _apply_cell(entered, cfg, _GAP_1)
        both = Sent(gap_sent.hello, gap_sent.hello_state, sent.coup, sent.resign)
        result = _merge(entered.act_on, result, (gap, both))
    return result


def group_step(
    g: GroupTerms, cfg: GroupConfig, event: z3.ArithRef, *, jitter_ms: z3.ArithRef
) -> tuple[GroupTerms, Sent]:
    """One RFC 2281 event (an Int term, ``NO_EVENT`` for none) applied to ``g``.

    The timer that fired is cleared first (``c``, ``d``); ``e`` re-arms the Hello timer
    ``hello − jitter`` later; ``a`` starts it (and the preempt-delay clock), ``b``
    stops it.
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
            cell = _cell_for(pre, cfg, phase, name)
            if cell is not None:
                result = _merge(z3.And(pre.phase == phase, event == EV[name]), cell, result)
    return result


# ------------------------------------------------------------------------------- I1


def _router_fields(r: int) -> list[tuple[str, FieldKind]]:
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
    return [(f"{n}{r}", k) for n, k in names]


_I1_FIELDS: Final[tuple[tuple[str, FieldKind], ...]] = (
    *tuple((name, kind) for r in (0, 1) for name, kind in _router_fields(r)),
    ("tog", "int"),
)
_I1_PARAMS: Final[tuple[tuple[str, FieldKind], ...]] = (
    ("ip0", "int"),
    ("ip1", "int"),
    ("hello", "int"),
    ("hold", "int"),
    ("lat", "int"),
    ("pdelay", "int"),
)


def _terms(s: Vars, r: int) -> GroupTerms:
    return GroupTerms(
        s[f"ph{r}"],
        s[f"pr{r}"],
        s[f"act_on{r}"],
        s[f"act_rem{r}"],
        s[f"sby_on{r}"],
        s[f"sby_rem{r}"],
        s[f"hel_on{r}"],
        s[f"hel_rem{r}"],
        s[f"since{r}"],
    )


def _config(s: Vars, par: Vars, r: int) -> GroupConfig:
    return GroupConfig(
        own_ip=par[f"ip{r}"],
        hello_ms=par["hello"],
        hold_ms=par["hold"],
        preempt=s[f"preempt{r}"],
        preempt_delay_ms=par["pdelay"],
    )


def _write(t: Vars, r: int, g: GroupTerms) -> list[z3.BoolRef]:
    names = ("ph", "pr", "act_on", "act_rem", "sby_on", "sby_rem", "hel_on", "hel_rem", "since")
    return [t[f"{n}{r}"] == v for n, v in zip(names, _fields(g), strict=True)]


def _both_active(s: Vars) -> z3.BoolRef:
    return z3.And(s["ph0"] == ACTIVE, s["ph1"] == ACTIVE)


def _slots() -> list[str]:
    return [
        f"{n}{r}" for r in (0, 1) for n in ("hs_on", "hs_rem", "hs_pr", "cp_on", "cp_rem", "cp_pr")
    ]


def i1_system(
    *, priority_change_restarts: bool = True, only: frozenset[str] | None = None
) -> System:
    """The two-router, one-group election with tracked messages (module docstring).

    ``only`` keeps just the named transitions (a sub-system: each of its traces is one
    of the full system, which makes a bounded search for a known schedule faster).
    """

    def param_range(par: Vars) -> z3.BoolRef:
        return z3.And(
            par["ip0"] != par["ip1"],
            *[z3.And(par[f"ip{r}"] >= 0, par[f"ip{r}"] < 2**32) for r in (0, 1)],
            par["hello"] >= 1,
            par["hold"] > par["hello"],
            par["lat"] >= 0,
            2 * par["lat"] < par["hello"],
            par["pdelay"] >= 0,
        )

    def init(s: Vars, par: Vars) -> z3.BoolRef:
        del par
        parts = [s["tog"] == 0]
        for r in (0, 1):
            parts += [
                s[f"ph{r}"] == INITIAL,
                s[f"pr{r}"] >= 0,
                s[f"pr{r}"] <= 255,
                z3.Not(s[f"act_on{r}"]),
                z3.Not(s[f"sby_on{r}"]),
                z3.Not(s[f"hel_on{r}"]),
                s[f"since{r}"] == 0,
                z3.Not(s[f"hs_on{r}"]),
                z3.Not(s[f"cp_on{r}"]),
            ]
        return z3.And(parts)

    def keep(fr: Frame, changed: set[str]) -> z3.BoolRef:
        return fr.same(*(n for n, _ in _I1_FIELDS if n not in changed))

    def after_step(
        fr: Frame, r: int, result: tuple[GroupTerms, Sent], changed: set[str]
    ) -> z3.BoolRef:
        """Write router r's new group state and track what it sent."""
        s, t, par = fr.pre, fr.post, fr.par
        g, sent = result
        became_active = z3.And(s[f"ph{r}"] != ACTIVE, g.phase == ACTIVE)
        parts = _write(t, r, g)
        # A new window: forget every tracked message, then track this step's sends.
        reset = became_active
        parts.append(t["tog"] == z3.If(reset, 0, s["tog"]))
        for q in (0, 1):
            for kind in ("hs", "cp"):
                on, rem, pr = f"{kind}_on{q}", f"{kind}_rem{q}", f"{kind}_pr{q}"
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
        names = {n for n, _ in _router_fields(r)} | set(_slots()) | {"tog"}
        names -= {f"preempt{r}"}
        parts.append(keep(fr, names | changed))
        return z3.And(parts)

    def timer(r: int, which: str) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
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
                _terms(s, r), _config(s, par, r), z3.IntVal(EV[which]), jitter_ms=jitter
            )
            return z3.And(
                s[f"{on}{r}"],
                s[f"{rem}{r}"] == 0,
                jitter >= 0,
                jitter < par["hello"],
                after_step(fr, r, result, set()),
            )

        return (f"timer_{which}{r}", trans)

    def deliver(r: int, kind: str) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        """The tracked message of sender r arrives at the other router."""
        o = 1 - r

        def trans(fr: Frame) -> z3.BoolRef:
            s, t, par = fr.pre, fr.post, fr.par
            g = _terms(s, o)
            op = OP_HELLO if kind == "hs" else OP_COUP
            event = classify(
                g,
                _config(s, par, o),
                op=z3.IntVal(op),
                state=z3.IntVal(ACTIVE),
                priority=s[f"{kind}_pr{r}"],
                src_ip=par[f"ip{r}"],
            )
            event = z3.If(s[f"ph{o}"] == INITIAL, NO_EVENT, event)
            result = group_step(g, _config(s, par, o), event, jitter_ms=z3.IntVal(0))
            pre_cleared = dict(s)
            pre_cleared[f"{kind}_on{r}"] = z3.BoolVal(False)
            inner = Frame(pre=pre_cleared, post=t, par=par, prefix=fr.prefix)
            return z3.And(
                s[f"{kind}_on{r}"], s[f"{kind}_rem{r}"] == 0, after_step(inner, o, result, set())
            )

        return (f"deliver_{kind}{r}", trans)

    def havoc(o: int) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        r = 1 - o

        def trans(fr: Frame) -> z3.BoolRef:
            s, par = fr.pre, fr.par
            op, state, priority = fr.int_input("op"), fr.int_input("state"), fr.int_input("pr")
            g = _terms(s, o)
            event = classify(
                g, _config(s, par, o), op=op, state=state, priority=priority, src_ip=par[f"ip{r}"]
            )
            event = z3.If(s[f"ph{o}"] == INITIAL, NO_EVENT, event)
            result = group_step(g, _config(s, par, o), event, jitter_ms=z3.IntVal(0))
            return z3.And(
                op >= 0,
                op <= 2,
                state >= 0,
                state <= 5,
                priority >= 0,
                priority <= 255,
                after_step(fr, o, result, set()),
            )

        return (f"havoc{o}", trans)

    def admin(r: int, which: str) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        def trans(fr: Frame) -> z3.BoolRef:
            s, par = fr.pre, fr.par
            jitter = fr.int_input("jitter")
            result = group_step(
                _terms(s, r), _config(s, par, r), z3.IntVal(EV[which]), jitter_ms=jitter
            )
            guard = s[f"ph{r}"] == INITIAL if which == "a" else s[f"ph{r}"] != INITIAL
            return z3.And(
                guard, jitter >= 0, jitter < par["hello"], after_step(fr, r, result, set())
            )

        return ("enable" if which == "a" else "disable") + str(r), trans

    def tick(fr: Frame) -> z3.BoolRef:
        s, t = fr.pre, fr.post
        d = fr.int_input("ms")
        parts = [d >= 1, t["tog"] == s["tog"] + d]
        for r in (0, 1):
            for on, rem in (
                ("act_on", "act_rem"),
                ("sby_on", "sby_rem"),
                ("hel_on", "hel_rem"),
                ("hs_on", "hs_rem"),
                ("cp_on", "cp_rem"),
            ):
                parts += [
                    z3.Implies(s[f"{on}{r}"], s[f"{rem}{r}"] >= d),
                    t[f"{rem}{r}"] == z3.If(s[f"{on}{r}"], s[f"{rem}{r}"] - d, s[f"{rem}{r}"]),
                ]
            parts.append(t[f"since{r}"] == s[f"since{r}"] + d)
        changed = {"tog"} | {
            f"{rem}{r}"
            for r in (0, 1)
            for rem in ("act_rem", "sby_rem", "hel_rem", "hs_rem", "cp_rem", "since")
        }
        return z3.And(*parts, fr.same(*(n for n, _ in _I1_FIELDS if n not in changed)))

    def fault(fr: Frame) -> z3.BoolRef:
        s, t = fr.pre, fr.post
        del s
        offs = [z3.Not(t[f"{k}_on{r}"]) for r in (0, 1) for k in ("hs", "cp")]
        changed = {"tog"} | {f"{k}_on{r}" for r in (0, 1) for k in ("hs", "cp")}
        return z3.And(
            t["tog"] == 0, *offs, fr.same(*(n for n, _ in _I1_FIELDS if n not in changed))
        )

    def set_priority(r: int) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        def trans(fr: Frame) -> z3.BoolRef:
            t = fr.post
            parts = [t[f"pr{r}"] >= 0, t[f"pr{r}"] <= 255]
            changed = {f"pr{r}"}
            if priority_change_restarts:
                parts += [t["tog"] == 0]
                parts += [z3.Not(t[f"{k}_on{q}"]) for q in (0, 1) for k in ("hs", "cp")]
                changed |= {"tog"} | {f"{k}_on{q}" for q in (0, 1) for k in ("hs", "cp")}
            return z3.And(*parts, fr.same(*(n for n, _ in _I1_FIELDS if n not in changed)))

        return (f"set_priority{r}", trans)

    def set_preempt(r: int) -> tuple[str, Callable[[Frame], z3.BoolRef]]:
        def trans(fr: Frame) -> z3.BoolRef:
            return fr.same(*(n for n, _ in _I1_FIELDS if n != f"preempt{r}"))

        return (f"set_preempt{r}", trans)

    transitions: list[tuple[str, Callable[[Frame], z3.BoolRef]]] = [
        ("tick", tick),
        ("fault", fault),
    ]
    for r in (0, 1):
        transitions += [timer(r, w) for w in "cde"]
        transitions += [deliver(r, "hs"), deliver(r, "cp"), havoc(r)]
        transitions += [admin(r, "a"), admin(r, "b"), set_priority(r), set_preempt(r)]
    if only is not None:
        transitions = [(n, t) for n, t in transitions if n in only]
    return System(
        name="hsrp-election",
        fields=_I1_FIELDS,
        params=_I1_PARAMS,
        param_range=param_range,
        init=init,
        transitions=tuple(transitions),
    )


def i1_safe(s: Vars, par: Vars) -> z3.BoolRef:
    """No two Active routers on a clean segment for more than hello + 2 × latency."""
    return z3.Implies(_both_active(s), s["tog"] <= par["hello"] + 2 * par["lat"])


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


def i1_invariant() -> list[tuple[str, StatePredicate]]:
    """The strengthening of I1 (module docstring)."""

    def timers(s: Vars, par: Vars) -> z3.BoolRef:
        parts = [s["tog"] >= 0]
        for r in (0, 1):
            parts += [
                s[f"ph{r}"] >= 0,
                s[f"ph{r}"] <= 5,
                s[f"pr{r}"] >= 0,
                s[f"pr{r}"] <= 255,
                s[f"since{r}"] >= 0,
                z3.Implies(s[f"act_on{r}"], s[f"act_rem{r}"] >= 0),
                z3.Implies(s[f"sby_on{r}"], s[f"sby_rem{r}"] >= 0),
                z3.Implies(
                    s[f"hel_on{r}"], z3.And(s[f"hel_rem{r}"] >= 0, s[f"hel_rem{r}"] <= par["hello"])
                ),
                z3.Implies(s[f"ph{r}"] != INITIAL, s[f"hel_on{r}"]),
                z3.Implies(
                    s[f"hs_on{r}"], z3.And(s[f"hs_rem{r}"] >= 0, s[f"hs_rem{r}"] <= par["lat"])
                ),
                z3.Implies(
                    s[f"cp_on{r}"], z3.And(s[f"cp_rem{r}"] >= 0, s[f"cp_rem{r}"] <= par["lat"])
                ),
            ]
        return z3.And(parts)

    def converge(s: Vars, par: Vars) -> z3.BoolRef:
        hello, lat, tog = par["hello"], par["lat"], s["tog"]
        parts = []
        for x in (0, 1):
            y = 1 - x
            next_hello = s[f"hel_rem{x}"] + tog <= hello
            hello_flying = z3.And(
                s[f"hs_on{x}"], s[f"hs_pr{x}"] == s[f"pr{x}"], tog + s[f"hs_rem{x}"] <= hello + lat
            )
            coup_flying = z3.And(
                s[f"cp_on{y}"],
                s[f"cp_pr{y}"] == s[f"pr{y}"],
                outranks(s[f"pr{y}"], par[f"ip{y}"], s[f"pr{x}"], par[f"ip{x}"]),
                tog + s[f"cp_rem{y}"] <= hello + 2 * lat,
            )
            parts.append(z3.Or(next_hello, hello_flying, coup_flying))
        return z3.Implies(_both_active(s), z3.And(parts))

    def coups(s: Vars, par: Vars) -> z3.BoolRef:
        parts = []
        for y in (0, 1):
            parts.append(z3.Implies(s[f"hs_on{y}"], s[f"hs_pr{y}"] == s[f"pr{y}"]))
            parts.append(
                z3.Implies(
                    s[f"cp_on{y}"],
                    z3.And(
                        s[f"cp_pr{y}"] == s[f"pr{y}"],
                        s["tog"] + s[f"cp_rem{y}"] <= par["hello"] + 2 * par["lat"],
                    ),
                )
            )
        return z3.Implies(_both_active(s), z3.And(parts))

    return [("timers", timers), ("coups", coups), ("converge", converge)]


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
        after, sent = group_step(g, cfg, event, jitter_ms=z3.IntVal(0))
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
