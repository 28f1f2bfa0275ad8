"""Model and implementation in lockstep (properties/lockstep.py, LockstepMachine)."""

from __future__ import annotations

import dataclasses

import pytest
from vpnha.model import operations as op
from vpnha.model.params import GroupSide
from vpnha.properties.lockstep import (
    START_MS,
    LockstepPair,
    UnsupportedOperationError,
    differences,
)
from vpnha.properties.machines import SHORT_LIFETIME_S, LockstepMachine, lockstep_configs

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


def test_a_router_that_learns_the_virtual_ips_agrees_through_the_same_failovers() -> None:
    """The second router's ``standby N ip`` lines name no address: it learns both virtual
    IPs (RFC 2281 Learn), takes over, and answers the peer's DPD from the learned outside
    address (the implementation once ran IKE only with a configured one)."""
    configs = lockstep_configs(learn_vip=True)
    assert [g.virtual_ip for i in configs[1].interfaces for g in i.standby_groups] == [
        None,
        None,
    ]
    assert None not in [g.virtual_ip for i in configs[0].interfaces for g in i.standby_groups]
    pair = LockstepPair(configs)
    steps = story(pair)
    for operation in (op.Crash(router=0), op.Advance(ms=5_000), op.DpdProbe(from_peer=True)):
        pair.apply(operation)
        steps.append((str(operation), pair.differences()))
    assert [(s, d) for s, d in steps if d] == []
    model, impl = pair.observe()
    assert model.dpd_completed == impl.dpd_completed == 1
    learned = [cell for cell in pair.model.hsrp_cells if "Learn" in cell or "vIP unknown" in cell]
    assert learned


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
    impl2 = dataclasses.replace(
        impl, routers=(dataclasses.replace(broken, inside=doctored), impl.routers[1])
    )
    assert differences(model, impl2, settled=True) == [
        "7200-1 inside state: model 'Active', impl 'Standby'"
    ]
    # Before the cluster settles, HSRP states are not compared.
    assert differences(model, impl2, settled=False) == []


def test_operations_the_world_lacks_are_refused_before_either_side_moves() -> None:
    @dataclasses.dataclass(frozen=True)
    class Teleport:
        """Not an operation the world knows."""

    pair = LockstepPair(lockstep_configs())
    before = pair.now
    with pytest.raises(UnsupportedOperationError, match="Teleport"):
        pair.apply(Teleport())  # type: ignore[arg-type]
    assert pair.now == before == pair.world.now


@pytest.mark.parametrize("delay_ms", [1_000, 2_500])
def test_a_held_up_ssp_stream_agrees(delay_ms: int) -> None:
    """SspDelay: SA adds and deletes written while the stream is slow arrive late on both
    sides; 2.5 s is close enough to the SSP dead time (3 s) that keepalives run out and
    both sides drop and reopen the connection at the same instants."""
    pair = LockstepPair(lockstep_configs())
    pair.apply(op.Advance(ms=20_000))
    steps = [
        op.SspDelay(ms=delay_ms),
        op.Establish(sa_id=1, spi_in=0x1002, spi_out=0x1003, cookie_i=1, cookie_r=2),
        op.SendTraffic(packets=5, size=100),
        op.Advance(ms=delay_ms // 2),
        op.Establish(sa_id=2, spi_in=0x1004, spi_out=0x1005, cookie_i=1, cookie_r=2),
        op.Advance(ms=delay_ms + 1_500),
        op.SspDelay(ms=1),
        op.Delete(sa_id=1),
        op.Advance(ms=pair.settle_ms + 1),
    ]
    connected = []
    for step in steps:
        pair.apply(step)
        assert pair.differences() == [], step
        model, impl = pair.observe()
        connected.append(([r.ssp_connected for r in model.routers], impl.routers[1].ssp_connected))
    model, impl = pair.observe()
    assert [(sa.spi_in, sa.status) for sa in model.routers[1].sas] == [(0x1004, "STANDBY")]
    assert [(sa.spi_in, sa.status) for sa in impl.routers[1].sas] == [(0x1004, "STANDBY")]
    dropped = any(not both[0][1] for both in connected)
    assert dropped == (delay_ms >= 2_500)


def test_expiry_on_demand_agrees_and_counts_as_expired_on_both_sides() -> None:
    """ExpireSoonest with 120 s lifetimes: each side runs to its own soonest expiry, the
    clocks agree, the first pair is gone from both routers and both observations say it
    expired (so I5 does not call it lost); the second pair lives on."""
    pair = LockstepPair(lockstep_configs(SHORT_LIFETIME_S))
    pair.apply(op.Advance(ms=20_000))
    pair.apply(op.Establish(sa_id=1, spi_in=0x1002, spi_out=0x1003, cookie_i=1, cookie_r=2))
    pair.apply(op.Advance(ms=5_000))
    pair.apply(op.Establish(sa_id=2, spi_in=0x1004, spi_out=0x1005, cookie_i=1, cookie_r=2))
    pair.apply(op.SendTraffic(packets=5, size=100))
    pair.apply(op.ExpireSoonest())
    assert pair.now == pair.world.now == START_MS + 20_000 + SHORT_LIFETIME_S * 1000
    assert pair.differences() == []
    model, impl = pair.observe()
    for obs in (model, impl):
        assert [sa.spi_in for r in obs.routers for sa in r.sas] == [0x1004, 0x1004]
        assert "expired" in dict(obs.deleted).values()
    pair.apply(op.ExpireSoonest())
    assert pair.now == START_MS + 25_000 + SHORT_LIFETIME_S * 1000
    assert pair.differences() == []
    pair.apply(op.ExpireSoonest())  # nothing left: time stands still on both sides
    assert pair.now == pair.world.now == START_MS + 25_000 + SHORT_LIFETIME_S * 1000


def test_a_clock_difference_is_reported() -> None:
    pair = LockstepPair(lockstep_configs())
    pair.apply(op.Advance(ms=30_000))
    model, impl = pair.observe()
    later = dataclasses.replace(impl, now_ms=impl.now_ms + 5)
    assert differences(model, later, settled=True)[0] == (
        f"clock (ms): model {model.now_ms}, impl {model.now_ms + 5}"
    )


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


@pytest.mark.parametrize("latency_ms", [1, 3])
def test_a_crashed_routers_last_hello_still_arrives_on_both_sides(latency_ms: int) -> None:
    """A Hello already on the wire when its sender crashes arrives (a crash cannot recall a
    frame): the Standby router restarts its Active timer on it in the model as in the world,
    so the two take over at the same instant, one hold time after that Hello landed."""
    pair = LockstepPair(lockstep_configs(), latency_ms=latency_ms)
    pair.apply(op.Advance(ms=20_000))
    active = next(i for i, r in enumerate(pair.model.routers) if r.role.value == "ACTIVE")
    while not any(m.sender == active for m in pair.model.hsrp_in_flight):
        pair.apply(op.AdvanceToNextEvent())
    last = {m.side.value: m.deliver_at for m in pair.model.hsrp_in_flight if m.sender == active}
    pair.apply(op.Crash(router=active))
    # Still on the wire on both sides, where a message fault can still pick it.
    assert {m.sender for m in pair.model.hsrp_in_flight} >= {active}
    assert pair.world.hellos_in_flight == len(pair.model.hsrp_in_flight)
    model, _ = pair.observe()
    pair.apply(op.Advance(ms=model.config.hold_ms + model.config.hello_ms))
    model, impl = pair.observe()
    survivor = 1 - active
    for side, landed in last.items():
        took_over = [getattr(obs.routers[survivor], side) for obs in (model, impl)]
        assert [g.state for g in took_over] == ["Active", "Active"]
        assert [g.state_since_ms for g in took_over] == [landed + model.config.hold_ms] * 2


def test_a_late_resign_reaches_a_router_that_is_no_longer_active() -> None:
    """The Standby router's priority rises above the Active's (Standby × h: it preempts,
    the old Active answers Active × j with a Resign), the Resign is held up for 4 s and
    the priority restored at once: the old Active preempts back from Speak, the other
    falls back to Speak and then Standby, and only then the Resign lands (Standby × i).
    Model and implementation take the same cells at the same instants."""
    pair = LockstepPair(lockstep_configs())
    pair.apply(op.Advance(ms=20_000))
    side = GroupSide.INSIDE
    standby = next(i for i, r in enumerate(pair.model.routers) if r.role.value == "STANDBY")
    since = pair.now
    pair.apply(op.SetPriority(router=standby, side=side, priority=255))
    while not any(m.message.op.value == "Resign" for m in pair.model.hsrp_in_flight):
        pair.apply(op.AdvanceToNextEvent())
    assert pair.world.hellos_in_flight == len(pair.model.hsrp_in_flight)
    resign = next(
        i for i, m in enumerate(pair.model.hsrp_in_flight) if m.message.op.value == "Resign"
    )
    pair.apply(op.DelayHello(index=resign, ms=4_000))
    pair.apply(op.SetPriority(router=standby, side=side, priority=100))
    before = dict(pair.model.hsrp_cells)
    pair.apply(op.Advance(ms=pair.settle_ms + 1))
    assert pair.differences() == []
    model, impl = pair.hsrp_transitions(since)
    assert model == impl
    assert f"{pair.model.routers[standby].params.name} inside Standby -> Active" in " ".join(model)
    taken = {k for k, v in pair.model.hsrp_cells.items() if v > before.get(k, 0)}
    assert "RFC 2281 §5.7: Standby × i" in taken
