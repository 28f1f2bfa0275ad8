"""Model and implementation in lockstep (properties/lockstep.py, LockstepMachine)."""

from __future__ import annotations

import pytest
from vpnha.model import operations as op
from vpnha.model.params import GroupSide
from vpnha.properties.lockstep import LockstepPair, UnsupportedOperationError, differences
from vpnha.properties.machines import LockstepMachine, lockstep_configs

TestLockstepMachine = pytest.mark.slow(LockstepMachine.TestCase)


def story(pair: LockstepPair) -> list[tuple[str, list[str]]]:
    """A crash, a restart with preempt and a tracked interface flap, with traffic between."""
    steps: list[tuple[str, list[str]]] = []

    def do(operation: op.Operation) -> None:
        pair.apply(operation)
        steps.append((f"{pair.now} {operation}", pair.differences()))

    def traffic() -> None:
        do(op.SendTraffic(packets=20, size=100))
        do(op.ReceiveTraffic(packets=20, size=100))
        do(op.Advance(ms=100))

    do(op.Advance(ms=30_000))
    do(op.Establish(sa_id=1, spi_in=0x5000, spi_out=0x6000, cookie_i=1, cookie_r=2))
    do(op.Advance(ms=100))
    traffic()
    do(op.Crash(router=0))
    do(op.Advance(ms=30_000))
    traffic()
    do(op.Restart(router=0))
    do(op.Advance(ms=30_000))
    traffic()
    do(op.InterfaceDown(router=0, side=GroupSide.OUTSIDE))
    do(op.Advance(ms=30_000))
    traffic()
    do(op.InterfaceUp(router=0, side=GroupSide.OUTSIDE))
    do(op.Advance(ms=30_000))
    traffic()
    return steps


def test_scripted_failovers_agree_at_every_step() -> None:
    pair = LockstepPair(lockstep_configs())
    steps = story(pair)
    assert [(s, d) for s, d in steps if d] == []
    model, impl = pair.observe()
    # Both sides took over three times with the same jumps: counters agree exactly.
    (m_sa,) = model.routers[0].sas
    (i_sa,) = impl.routers[0].sas
    assert (m_sa.next_out, m_sa.inbound_top, m_sa.bytes_used) == (
        i_sa.next_out,
        i_sa.inbound_top,
        i_sa.bytes_used,
    )
    assert m_sa.next_out > 4_000_000  # four takeovers, a million each


def test_the_comparison_can_fail() -> None:
    """A doctored implementation observation is reported field by field."""
    pair = LockstepPair(lockstep_configs())
    pair.apply(op.Advance(ms=30_000))
    model, impl = pair.observe()
    assert differences(model, impl, settled=True) == []
    broken = impl.routers[0]
    doctored = type(impl.routers[0].inside)(
        side="inside",
        group=broken.inside.group,
        state="Standby",
        priority=broken.inside.priority,
        interface_up=True,
        state_since_ms=0,
    )
    import dataclasses

    impl2 = dataclasses.replace(
        impl, routers=(dataclasses.replace(broken, inside=doctored), impl.routers[1])
    )
    assert differences(model, impl2, settled=True) == [
        "7200-1 inside state: model 'Active', impl 'Standby'"
    ]
    # Before the cluster settles, HSRP states are not compared.
    assert differences(model, impl2, settled=False) == []


def test_operations_the_world_lacks_are_refused_before_either_side_moves() -> None:
    pair = LockstepPair(lockstep_configs())
    before = pair.now
    with pytest.raises(UnsupportedOperationError, match="SspDelay"):
        pair.apply(op.SspDelay(ms=5))
    assert pair.now == before == pair.world.now


def test_a_silenced_connection_delivers_in_order_after_heal() -> None:
    """SSP silenced: both ends keep the connection for a while; what they wrote (and what
    was on the wire) arrives after the heal, and the two sides still agree."""
    pair = LockstepPair(lockstep_configs())
    pair.apply(op.Advance(ms=20_000))
    pair.apply(op.Establish(sa_id=1, spi_in=0x1002, spi_out=0x1003, cookie_i=1, cookie_r=2))
    pair.apply(op.Advance(ms=50))
    pair.apply(op.SspSilent())
    pair.apply(op.SendTraffic(packets=5, size=100))
    pair.apply(op.Advance(ms=500))
    pair.apply(op.SspHeal())
    pair.apply(op.Advance(ms=120_000))
    model, impl = pair.observe()
    assert pair.differences() == []
    assert [r.ssp_connected for r in model.routers] == [True, True]
    assert [r.ssp_connected for r in impl.routers] == [True, True]


def test_a_cut_resets_both_ends_and_they_reconnect() -> None:
    pair = LockstepPair(lockstep_configs())
    pair.apply(op.Advance(ms=20_000))
    pair.apply(op.SspCut())
    model, impl = pair.observe()
    assert [r.ssp_connected for r in model.routers] == [False, False]
    assert [r.ssp_connected for r in impl.routers] == [False, False]
    pair.apply(op.SspHeal())
    pair.apply(op.Advance(ms=120_000))
    assert pair.differences() == []
    model, impl = pair.observe()
    assert [r.ssp_connected for r in impl.routers] == [True, True]
