"""The black-hole split: interface and tracking failures that elect different routers.

Theory of operation
-------------------
For a concrete router pair (parsed configuration → model parameters), Z3 chooses
which of the four HSRP interfaces are down. A down interface disables its group
(RFC 2281 event b: the router is Initial for it) and lowers the priority of every
group that tracks it by the configured decrement (the document's ``standby N
track``), clamped to 0-255. For each group the election is *stable* in the sense
of :mod:`hsrp` (I2): with both routers enabled, exactly one is Active and neither
router's current Hello changes the other's phase or provokes a Coup (so, with
preempt, the higher (priority, address) is Active); with one enabled it is
Active; with none, nobody is.

A *split* is a stable outcome in which the inside group is Active on one router
and the outside group on the other: LAN traffic reaches one router and tunnel
traffic the other (the document's "active/standby-standby/active" black hole).
Only *avoidable* splits count: some router must still have both interfaces up
(with the inside interface down on one router and the outside on the other, no
router can carry both groups whatever the configuration says).
:func:`search_split` returns :class:`~.engine.Proved` when no failure set splits
the pair, or a :class:`~.engine.Counterexample` with the smallest failure set that
does (Z3 is asked with at most 0, 1, … 4 interfaces down).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import z3
from vpnha.impl.config import ConfigError
from vpnha.model.params import ClusterParams, GroupSide, RouterParams, SideParams
from vpnha.properties.scenarios import cluster_params, load_pair

from .engine import Counterexample, Proved, Result, Unknown, new_solver
from .hsrp import ACTIVE, INITIAL, LISTEN, _stable_group

__all__ = ["SplitFinding", "search_split", "split_line"]

SIDES = (GroupSide.INSIDE, GroupSide.OUTSIDE)


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitFinding:
    """What a split search found, in the configuration's words."""

    failures: tuple[str, ...]
    """``"7200-1 FastEthernet0/1 down"`` …; empty: the pair splits with everything up."""
    inside_active: str
    outside_active: str

    def text(self) -> str:
        """One line for ``vpnha lint``."""
        cause = ", ".join(self.failures) if self.failures else "with every interface up"
        return (
            f"z3 split search: {cause}: inside Active on {self.inside_active}, "
            f"outside Active on {self.outside_active} (black hole)"
        )


def _side(router: RouterParams, side: GroupSide) -> SideParams:
    return router.inside if side is GroupSide.INSIDE else router.outside


def search_split(
    params: ClusterParams, *, timeout_ms: int = 10_000
) -> tuple[Result, SplitFinding | None]:
    """Search for interface failures that split the pair ``params`` (module docstring)."""
    started = time.monotonic()
    routers = params.routers
    down = {(r, side): z3.Bool(f"down_{r}_{side.value}") for r in (0, 1) for side in SIDES}
    phase = {(r, side): z3.Int(f"phase_{r}_{side.value}") for r in (0, 1) for side in SIDES}
    constraints: list[z3.BoolRef] = []
    priority: dict[tuple[int, GroupSide], z3.ArithRef] = {}
    for r in (0, 1):
        for side in SIDES:
            sp = _side(routers[r], side)
            raw = z3.IntVal(sp.priority) - z3.Sum(
                [z3.If(down[(r, tracked)], dec, 0) for tracked, dec in sp.tracks] or [z3.IntVal(0)]
            )
            priority[(r, side)] = z3.If(raw < 0, 0, z3.If(raw > 255, 255, raw))
            enabled = z3.Not(down[(r, side)])
            constraints.append(
                z3.If(
                    enabled,
                    z3.And(phase[(r, side)] >= LISTEN, phase[(r, side)] <= ACTIVE),
                    phase[(r, side)] == INITIAL,
                )
            )
    for side in SIDES:
        both = z3.And(z3.Not(down[(0, side)]), z3.Not(down[(1, side)]))
        stable = _stable_group(
            (phase[(0, side)], phase[(1, side)]),
            (priority[(0, side)], priority[(1, side)]),
            (
                z3.IntVal(_side(routers[0], side).address),
                z3.IntVal(_side(routers[1], side).address),
            ),
            (
                z3.BoolVal(_side(routers[0], side).preempt),
                z3.BoolVal(_side(routers[1], side).preempt),
            ),
        )
        constraints.append(z3.Implies(both, stable))
        for r in (0, 1):
            alone = z3.And(z3.Not(down[(r, side)]), down[(1 - r, side)])
            constraints.append(z3.Implies(alone, phase[(r, side)] == ACTIVE))
    split = z3.Or(
        [
            z3.And(
                phase[(r, GroupSide.INSIDE)] == ACTIVE, phase[(1 - r, GroupSide.OUTSIDE)] == ACTIVE
            )
            for r in (0, 1)
        ]
    )
    # Only avoidable splits count: some router still has both interfaces up and could have
    # carried both groups. (Inside down on one router and outside down on the other leaves
    # no such router; no configuration can help, and the pair is simply broken.)
    constraints.append(
        z3.Or(
            [
                z3.And(z3.Not(down[(r, GroupSide.INSIDE)]), z3.Not(down[(r, GroupSide.OUTSIDE)]))
                for r in (0, 1)
            ]
        )
    )
    count = z3.Sum([z3.If(d, 1, 0) for d in down.values()])
    for most in range(len(down) + 1):
        solver = new_solver(timeout_ms)
        solver.add(*constraints, split, count <= most)
        verdict = solver.check()
        if verdict == z3.unknown:
            return (
                Unknown(
                    property="I2-split",
                    seconds=time.monotonic() - started,
                    method=f"failure sets of size ≤ {most}",
                    reason=str(solver.reason_unknown()),
                ),
                None,
            )
        if verdict == z3.sat:
            model = solver.model()
            failures = tuple(
                f"{routers[r].name} {_side(routers[r], side).interface} down"
                for (r, side), flag in down.items()
                if z3.is_true(model.eval(flag, model_completion=True))
            )
            inside = next(
                routers[r].name
                for r in (0, 1)
                if model.eval(phase[(r, GroupSide.INSIDE)]).as_long() == ACTIVE
            )
            outside = next(
                routers[r].name
                for r in (0, 1)
                if model.eval(phase[(r, GroupSide.OUTSIDE)]).as_long() == ACTIVE
            )
            finding = SplitFinding(failures=failures, inside_active=inside, outside_active=outside)
            values = tuple(
                (
                    f"down.{routers[r].name}.{side.value}",
                    z3.is_true(model.eval(flag, model_completion=True)),
                )
                for (r, side), flag in down.items()
            )
            return (
                Counterexample(
                    property="I2-split",
                    seconds=time.monotonic() - started,
                    method=f"smallest failure set ({most} interfaces)",
                    description=finding.text(),
                    values=values,
                ),
                finding,
            )
    return (
        Proved(
            property="I2-split",
            seconds=time.monotonic() - started,
            method="no set of interface failures splits the pair",
        ),
        None,
    )


def split_line(first: str, second: str) -> str | None:
    """``vpnha lint``'s line for a pair of configuration files: the split found, or None
    (no split, or files that cannot be mapped onto the model; the linter reports those)."""
    try:
        params = cluster_params(*load_pair(first, second))
    except (ConfigError, ValueError, OSError):
        return None
    _, finding = search_split(params)
    return None if finding is None else finding.text()
