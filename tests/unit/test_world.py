"""The implementation's routers in the simulated world: election, SSP, replication, failover."""

from __future__ import annotations

from collections import Counter

import pytest
from vpnha.impl.config import RouterConfig, parse_config
from vpnha.impl.forward import ForwardDropReason
from vpnha.impl.router import DeviceRole, Router, Side, SspLink
from vpnha.impl.sadb import HaStatus
from vpnha.properties.scenarios import example_path
from vpnha.properties.world import RunLog, Segment, World

FAST_DELAYS = ("standby delay minimum 30 reload 60", "standby delay minimum 2 reload 2")
HOLD_MS = 3000


def configs(*edits: tuple[str, str]) -> tuple[RouterConfig, RouterConfig]:
    """The shipped pair with short standby delays (and any further text edits)."""
    out = []
    for name in ("router1.cfg", "router2.cfg"):
        text = example_path(name).read_text()
        for old, new in (FAST_DELAYS, *edits):
            text = text.replace(old, new)
        out.append(parse_config(text, source=name))
    return out[0], out[1]


def up(world: World, index: int) -> Router:
    router = world.router(index)
    assert router is not None
    return router


def active_index(world: World) -> int:
    (index,) = [i for i in (0, 1) if (r := world.router(i)) is not None and r.sadb.is_active]
    return index


def settled_world(seed: int = 1) -> World:
    world = World(configs(), seed=seed)
    world.advance(2000 + 4 * HOLD_MS)
    return world


def traffic(world: World, ms: int, per_tick: int = 10, tick: int = 100) -> None:
    for _ in range(ms // tick):
        world.lan_send(per_tick)
        world.remote_send(per_tick)
        world.advance(tick)


def reused(world: World) -> int:
    return world.transmitted.repeated()


def test_pair_elects_one_active_and_connects_ssp() -> None:
    world = settled_world()
    r1, r2 = up(world, 0), up(world, 1)
    # Equal priorities: the higher inside/outside address (router 1, .100) wins both groups.
    assert r1.role is DeviceRole.ACTIVE
    assert r2.role is DeviceRole.STANDBY
    assert {r1.core.group(s).state.name for s in Side} == {"ACTIVE"}
    assert {r2.core.group(s).state.name for s in Side} == {"STANDBY"}
    # The lower SSP address (router 2, .6) is the TCP client; both ends established.
    assert r2.ssp_is_client
    assert not r1.ssp_is_client
    assert r1.ssp_link is SspLink.OPEN
    assert r2.ssp_link is SspLink.OPEN
    assert r1.sadb.connected
    assert r2.sadb.connected
    assert world.owner(Segment.INSIDE) == 0
    assert world.owner(Segment.OUTSIDE) == 0


def test_sa_is_replicated_and_carries_traffic_both_ways() -> None:
    world = settled_world()
    sa = world.establish_sa()
    assert sa is not None
    traffic(world, 1000)
    copy = up(world, 1).sadb.ipsec_sa(sa.sa_id)
    assert copy is not None
    assert copy.status is HaStatus.STANDBY
    assert not copy.stale
    assert world.stats.delivered_to_remote == world.stats.lan_sent == 100
    assert world.stats.delivered_to_lan == world.stats.remote_sent == 100
    assert world.stats.peer_refused == 0
    assert world.stats.cleartext_leaked == 0
    assert reused(world) == 0


def test_crash_of_the_active_hands_over_without_renegotiation_or_reuse() -> None:
    world = settled_world()
    sa = world.establish_sa()
    assert sa is not None
    traffic(world, 1000)
    last_out = up(world, 0).sadb.ipsec_sa(sa.sa_id)
    assert last_out is not None
    crash_at = world.now
    world.crash(0)
    traffic(world, HOLD_MS + 2000)
    survivor = up(world, 1)
    assert survivor.role is DeviceRole.ACTIVE
    assert crash_at < survivor.core.role_since_ms <= crash_at + HOLD_MS + 100
    promoted = survivor.sadb.ipsec_sa(sa.sa_id)
    assert promoted is not None
    assert promoted.status is HaStatus.ACTIVE
    # The jump: outbound one replay interval (1 million packets) past what it held.
    assert promoted.outbound_seq > last_out.outbound_seq + 1_000_000 - 1
    assert world.stats.negotiations == 1
    assert reused(world) == 0
    assert world.stats.peer_refused == 0
    delivered = world.stats.delivered_to_remote
    traffic(world, 500)
    assert world.stats.delivered_to_remote == delivered + 50


def test_restart_preempts_back_and_keeps_the_sa() -> None:
    world = settled_world()
    sa = world.establish_sa()
    assert sa is not None
    traffic(world, 500)
    world.crash(0)
    traffic(world, HOLD_MS + 1000)
    world.restart(0)
    traffic(world, 2000 + 4 * HOLD_MS)
    assert up(world, 0).role is DeviceRole.ACTIVE
    assert up(world, 1).role is DeviceRole.STANDBY
    back = up(world, 0).sadb.ipsec_sa(sa.sa_id)
    assert back is not None
    assert back.status is HaStatus.ACTIVE
    assert world.stats.negotiations == 1
    assert reused(world) == 0
    assert world.stats.peer_refused == 0
    before = world.stats.delivered_to_remote
    traffic(world, 500)
    assert world.stats.delivered_to_remote == before + 50


def test_captured_packet_replayed_after_failover_is_refused() -> None:
    world = settled_world()
    assert world.establish_sa() is not None
    traffic(world, 500)
    world.crash(0)
    traffic(world, HOLD_MS + 1000)
    survivor = up(world, 1)
    delivered = world.stats.delivered_to_lan
    refused = survivor.forwarder.counters().dropped(ForwardDropReason.REPLAY)
    assert world.replay_captured(3)
    world.advance(10)
    assert world.stats.delivered_to_lan == delivered
    assert survivor.forwarder.counters().dropped(ForwardDropReason.REPLAY) == refused + 1


def test_tracking_moves_both_groups_when_the_outside_interface_fails() -> None:
    world = settled_world()
    assert world.establish_sa() is not None
    traffic(world, 500)
    world.interface_down(0, Side.OUTSIDE)
    traffic(world, HOLD_MS + 1000)
    r1, r2 = up(world, 0), up(world, 1)
    assert r2.role is DeviceRole.ACTIVE
    assert r2.core.group(Side.INSIDE).state.name == "ACTIVE"
    assert r1.role is not DeviceRole.ACTIVE
    assert reused(world) == 0
    before = world.stats.delivered_to_remote
    traffic(world, 500)
    assert world.stats.delivered_to_remote == before + 50


def test_ssp_with_different_keys_never_establishes_and_counts_the_refusals() -> None:
    text1 = example_path("router1.cfg").read_text().replace(*FAST_DELAYS)
    text2 = (
        example_path("router2.cfg")
        .read_text()
        .replace(*FAST_DELAYS)
        .replace("vpnha ssp-key ha-pair-secret", "vpnha ssp-key another-secret")
    )
    world = World((parse_config(text1), parse_config(text2)), seed=2)
    world.advance(5000)
    for index in (0, 1):
        router = up(world, index)
        assert router.ssp_link is not SspLink.OPEN or not router.sadb.connected
        assert not router.sadb.connected
    counters = up(world, 1).ssp_counters()
    assert counters is not None
    assert sum(counters.drops.values()) >= 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_runs_are_deterministic_for_a_seed(seed: int) -> None:
    def run() -> list[tuple[int, str, str, bytes]]:
        world = World(configs(), seed=seed)
        world.advance(8000)
        world.establish_sa()
        traffic(world, 300)
        return [(p.time_ms, p.segment.value, p.kind, p.payload) for p in world.log]

    assert run() == run()


def test_run_log_folds_runs_and_counts_repeats() -> None:
    log = RunLog()
    for seq in (1, 2, 3):
        log.add(0, 0, 0x100, seq)
    log.add(5, 1, 0x100, 3)  # another router reuses 3
    log.add(6, 1, 0x100, 4)
    log.add(7, 0, 0x200, 1)
    assert log.runs == [[0, 0, 0x100, 1, 3], [5, 1, 0x100, 3, 4], [7, 0, 0x200, 1, 1]]
    assert log.count == 6
    assert log.repeated() == 1
    log.add(8, 0, 0x100, 2)  # a gap back: new run, 2 repeated
    assert log.repeated() == 2


def test_capture_and_keys_cover_the_log() -> None:
    import io

    from vpnha.properties.capture import esp_keys, write_capture

    world = settled_world()
    assert world.establish_sa() is not None
    traffic(world, 300)
    out = io.BytesIO()
    frames = write_capture(world, out)
    kinds = Counter(p.kind for p in world.log)
    # Every logged message is at least one frame (SSP handshakes add some).
    assert frames >= sum(n for kind, n in kinds.items() if kind != "ssp-open")
    assert out.getvalue()[:4] == bytes.fromhex("0a0d0d0a")  # pcapng section header
    keys = esp_keys(world)
    assert len(keys) == 2
    assert {k.spi for k in keys} == {
        world.negotiated[0].inbound_spi,
        world.negotiated[0].outbound_spi,
    }


def test_a_deleted_sa_stops_carrying_inbound_traffic_at_once() -> None:
    """A delete ends inbound traffic on the SA at once (SPI lookups are cached; the
    database still decides)."""
    world = settled_world()
    sa = world.establish_sa()
    assert sa is not None
    traffic(world, 300)
    active = up(world, 0)
    delivered = world.stats.delivered_to_lan
    assert active.delete_sa(sa.sa_id, world.now)
    world.remote_send(5)
    world.advance(10)
    assert world.stats.delivered_to_lan == delivered
    assert active.forwarder.counters().dropped(ForwardDropReason.UNKNOWN_SPI) == 5


def test_a_crashed_routers_hello_on_the_wire_still_lands() -> None:
    """A crash cannot recall a frame already sent: the Standby router hears the crashed
    Active router's last Hello and restarts its Active timer on it (the model's rule too),
    and until it lands a message fault may still pick it."""
    world = World(configs(), seed=1, latency_ms=3, hsrp_jitter=False)
    world.advance(2000 + 4 * HOLD_MS)
    active = active_index(world)
    name = world.name(active)

    def just_sent() -> bool:
        return any(
            p.kind == "hsrp" and p.sender == name and p.time_ms == world.now for p in world.log[-8:]
        )

    for _ in range(1000):
        if just_sent():
            break
        world.advance(1)
    assert just_sent()
    on_the_wire = world.hellos_in_flight
    world.crash(active)
    assert world.hellos_in_flight == on_the_wire
    world.advance(3)
    timers = up(world, 1 - active).core.group(Side.INSIDE).timers
    outside = up(world, 1 - active).core.group(Side.OUTSIDE).timers
    assert world.now + HOLD_MS in (timers.active_ms, outside.active_ms)


def test_a_held_up_ssp_stream_delivers_late_and_in_order() -> None:
    """``ssp_delay``: an SA add written while the stream takes 1 s reaches the standby
    1 s later, not one latency later (longer than the SSP dead time, 3 s, would end the
    connection); a shorter delay set meanwhile lets nothing
    overtake what is on its way (an add written after a held-up delete arrives after it)."""
    world = settled_world()
    world.ssp_delay(1_000)
    first = world.establish_sa()
    assert first is not None
    world.advance(900)
    assert up(world, 1).sadb.ipsec_sa(first.sa_id) is None
    world.advance(200)
    assert up(world, 1).sadb.ipsec_sa(first.sa_id) is not None
    world.delete_sa(first.inbound_spi, first.outbound_spi)
    world.ssp_delay(world.latency_ms)
    assert world.ssp_latency_ms == world.latency_ms
    second = world.establish_sa()
    assert second is not None
    world.advance(900)
    assert up(world, 1).sadb.ipsec_sa(first.sa_id) is not None  # the delete is on its way
    assert up(world, 1).sadb.ipsec_sa(second.sa_id) is None  # and the add behind it
    world.advance(200)
    assert up(world, 1).sadb.ipsec_sa(first.sa_id) is None
    assert up(world, 1).sadb.ipsec_sa(second.sa_id) is not None
    world.ssp_delay(-5)
    assert world.ssp_latency_ms == 0  # a negative delay means none, as in the model


def test_expire_soonest_runs_to_the_first_lifetime_end_and_reports_it() -> None:
    """``expire_soonest`` stops at the earliest expiry of an SA a router holds; the SA is
    then gone from both routers and ``deletions`` says it expired (I5, I6 read that)."""
    world = settled_world()
    assert world.soonest_sa_expiry() is None
    start = world.now
    world.expire_soonest()
    assert world.now == start  # no SA: nothing to run to
    first = world.establish_sa()
    world.advance(1_000)
    second = world.establish_sa()
    assert first is not None
    assert second is not None
    world.advance(100)
    due = world.soonest_sa_expiry()
    assert due is not None
    assert due > world.now
    world.expire_soonest()
    assert world.now == due
    held = {sa.sa_id for i in (0, 1) for sa in up(world, i).sadb.ipsec_sas()}
    assert first.sa_id not in held
    assert second.sa_id in held
    assert world.deletions() == {first.sa_id: "expired"}
