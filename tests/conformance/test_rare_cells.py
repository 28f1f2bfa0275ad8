"""The two RFC 2281 cells a 100-run campaign reaches least often, placed on purpose.

A uniform search meets Standby × k and Listen × i only when several drawn values line up
(a rejoin within a second and one Hello late by the right amount; a Coup, the new Active's
interface flapping and the Resign late), so across three seeded campaigns neither was
taken. These tests drive the same composite rules with values that take them, on the
model and the implementation in lockstep: the rule's own checks (I1-I10 on both sides,
observations compared after every operation) must hold, and both sides must take the
cell.
"""

from __future__ import annotations

import pytest
from vpnha.model.hsrp import Phase
from vpnha.model.params import GroupSide
from vpnha.properties import machines
from vpnha.properties.machines import LockstepMachine, _new_cells


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch) -> LockstepMachine:
    """A lockstep machine booted outside Hypothesis (its notes and events go nowhere)."""
    monkeypatch.setattr(machines, "note", lambda *_args, **_kw: None)
    monkeypatch.setattr(machines, "event", lambda *_args, **_kw: None)
    lockstep = LockstepMachine()
    lockstep.start(latency=3, seed=1, lifetime_s=None, preempt="preempt", learn_vip=False)
    return lockstep


def _taken(machine: LockstepMachine, since: dict[str, int]) -> tuple[set[str], set[str]]:
    """Cells the model applied since ``since``, and the implementation's state-change cells
    ("event k in Standby") in its event log."""
    assert machine.pair is not None
    model = {label.split(": ")[1] for label in _new_cells(machine.pair.model, since)}
    impl = {
        text.split("(RFC 2281 §5.7, ")[1].rstrip(")")
        for _, _, text in machine.pair.world.events
        if text.startswith("hsrp ") and "(RFC 2281 §5.7, " in text
    }
    return model, impl


def test_standby_meets_a_late_standby_hello_of_higher_priority(machine: LockstepMachine) -> None:
    """The Active router crashes and is back at once; its first Speak Hello is 1.5 s late,
    so it turns Standby (Speak × l) while the other is still Standby, and its Standby
    Hello sends the other to Listen (Standby × k)."""
    assert machine.pair is not None
    since = dict(machine.pair.model.hsrp_cells)
    machine.rejoin_hello_fault(
        which="active",
        down_ms=0,
        side=GroupSide.INSIDE,
        from_rejoining=True,
        state=Phase.SPEAK,
        fault="late",
        fault_ms=1_500,
    )
    model, impl = _taken(machine, since)
    assert "Standby × k" in model
    assert "event k in Standby" in impl


def test_a_late_resign_finds_the_new_active_rejoining_in_listen(machine: LockstepMachine) -> None:
    """The Standby router preempts with a Coup, its interface flaps, and the old Active's
    Resign, 2 s late, reaches it in Listen (Listen × i)."""
    assert machine.pair is not None
    since = dict(machine.pair.model.hsrp_cells)
    machine.priority_flip(side=GroupSide.INSIDE, back_ms=0, resign="late", late_ms=2_000, flap=True)
    model, impl = _taken(machine, since)
    assert "Listen × i" in model
    assert "event i in Listen" in impl
