"""I1 as the Z3 proof states it and as the checker checks it: a priority move restarts a
group's grace period. Without the restart I1 is false on the model and the implementation:
the concrete form of ``I1-priority-flap`` (properties/z3/replay.py) keeps both routers
Active on a clean segment well past one hello time."""

from __future__ import annotations

from vpnha.model import operations as op
from vpnha.model.params import GroupSide
from vpnha.properties.trace import RunSpec, replay
from vpnha.properties.z3.replay import example_configs, priority_flap_operations


def _both_active_inside(step_model: object) -> bool:
    routers = step_model.routers  # type: ignore[attr-defined]
    return all(r.up and r.inside.state == "Active" for r in routers)


def test_priority_flap_keeps_both_routers_active_on_a_clean_segment() -> None:
    """Model and implementation agree step by step; both routers are Active on the inside
    for more than hello + 2 × latency after the heal, with no segment fault since — the
    checker's statement before the restart; with it (priorities move), no violation."""
    operations = priority_flap_operations()
    changes = [o for o in operations if isinstance(o, op.SetPriority)]
    assert len(changes) == 8
    assert all(o.side is GroupSide.INSIDE for o in changes)
    steps = replay(RunSpec(configs=example_configs()), operations)
    assert all(not step.problems for step in steps), [s.problems for s in steps if s.problems]
    heal = next(i for i, o in enumerate(operations) if isinstance(o, op.Heal))
    healed_at = steps[heal].model.now_ms
    grace = steps[heal].model.config.hello_ms + 2 * steps[heal].model.config.latency_ms
    split = [
        s for s in steps[heal:] if _both_active_inside(s.model) and _both_active_inside(s.impl)
    ]
    last = split[-1].model
    assert last.clean_since[0] == healed_at  # no segment fault since the heal
    since = max([r.inside.state_since_ms for r in last.routers] + [healed_at])
    assert last.now_ms - since > grace  # past the grace: only the priority moves excuse it


def test_fewer_priority_changes_do_not_keep_the_split() -> None:
    """Seven changes are not enough with the shipped timers: the election converges
    within the grace (so the restart excuses only a deliberately timed flap)."""
    operations = priority_flap_operations(changes=7)
    steps = replay(RunSpec(configs=example_configs()), operations)
    heal = next(i for i, o in enumerate(operations) if isinstance(o, op.Heal))
    grace = steps[heal].model.config.hello_ms + 2 * steps[heal].model.config.latency_ms
    for step in steps[heal:]:
        if _both_active_inside(step.model):
            clean = step.model.clean_since[0]
            since = max([r.inside.state_since_ms for r in step.model.routers] + [clean])
            assert step.model.now_ms - since <= grace
