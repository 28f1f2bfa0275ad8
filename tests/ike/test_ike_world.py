"""The simulated world with IKE on the wire: the peer's engine against the routers'."""

from __future__ import annotations

from collections import Counter

import pytest
from unit.test_world import configs, settled_world
from vpnha.impl.config import parse_config
from vpnha.impl.ike.mirror import MirrorError, mirror_config, mirror_text
from vpnha.impl.ike.wire import DropReason
from vpnha.impl.router import SendIke, Side
from vpnha.impl.sadb import HaStatus
from vpnha.properties.world import World

from .conftest import EXAMPLES


def settled() -> World:
    return settled_world(seed=3)


def test_mirror_is_the_peer_side_of_the_crypto_map() -> None:
    mirror = mirror_config(configs()[0])
    (entry,) = mirror.crypto_map("PEER")
    assert [str(p) for p in entry.peers] == ["40.0.0.1"]
    assert mirror.transform_sets[entry.transform_sets[0]].transforms == (
        "esp-3des",
        "esp-sha-hmac",
    )
    assert "access-list 199 permit ip 192.168.4.0 0.0.0.255 any" in mirror_text(configs()[0])


def test_mirror_needs_a_key_for_the_peer() -> None:
    text = (EXAMPLES / "router1.cfg").read_text().replace("crypto isakmp key cisco address", "!")
    with pytest.raises(MirrorError, match=r"no crypto isakmp key for 192\.168\.3\.1"):
        mirror_config(parse_config(text))


def test_establish_runs_main_and_quick_mode_on_the_wire() -> None:
    world = settled()
    pair = world.establish_sa(spi_in=0x5000, spi_out=0x6000, cookies=(7, 8))
    assert pair is not None
    assert (pair.inbound_spi, pair.outbound_spi) == (0x5000, 0x6000)
    kinds = Counter(p.kind for p in world.log if p.sender == "peer")
    assert kinds["ike"] == 5  # MM1, MM3, MM5, QM1, QM3
    owner = world.vip_owner(Side.OUTSIDE)
    assert owner is not None
    router = world.router(owner)
    assert router is not None
    (ike,) = router.sadb.ike_sas(HaStatus.ACTIVE)
    assert ike.cookies == ((7).to_bytes(8, "big"), (8).to_bytes(8, "big"))
    # A second SA under the same IKE SA is Quick Mode only.
    before = len(world.log)
    assert world.establish_sa(spi_in=0x5002, spi_out=0x6002, cookies=(7, 8)) is not None
    assert sum(1 for p in world.log[before:] if p.kind == "ike") == 3
    # Traffic flows on what IKE negotiated.
    world.lan_send(5)
    world.remote_send(5)
    world.advance(100)
    assert world.stats.delivered_to_remote == 5
    assert world.stats.delivered_to_lan == 5


def test_dpd_both_ways_and_after_a_takeover() -> None:
    world = settled()
    world.establish_sa(spi_in=0x5000, spi_out=0x6000, cookies=(7, 8))
    world.advance(100)
    assert world.dpd(from_peer=True)
    assert world.dpd(from_peer=False)
    assert world.dpd_completed == 2
    active = next(i for i in (0, 1) if (r := world.router(i)) is not None and r.sadb.is_active)
    world.crash(active)
    world.advance(10_000)
    assert world.dpd(from_peer=True)
    assert world.dpd(from_peer=False)
    assert world.dpd_completed == 4
    numbers = [seq for _, _, seq in world.dpd_by_cluster]
    assert numbers == sorted(set(numbers))  # never reused, always rising (I8)
    assert not world.peer_ike.drops


def test_delete_reaches_the_peer() -> None:
    world = settled()
    world.establish_sa(spi_in=0x5000, spi_out=0x6000, cookies=(7, 8))
    world.advance(100)
    assert world.delete_sa(0x5000, 0x6000)
    assert any(p.kind == "ike" and p.sender != "peer" for p in world.log[-2:])
    assert not world.peer_ike.drops


def test_a_replayed_informational_is_refused_by_the_router_that_took_over() -> None:
    """The peer's message ids are replicated: a captured R-U-THERE replayed to the new
    active is refused as a reused id, not answered (its DPD number alone would pass)."""
    world = settled()
    world.establish_sa(spi_in=0x5000, spi_out=0x6000, cookies=(7, 8))
    world.advance(100)
    before = len(world.log)
    assert world.dpd(from_peer=True)
    probe = next(p for p in world.log[before:] if p.sender == "peer" and p.kind == "ike")
    world.advance(1_000)  # the message id reaches the standby's copy
    active = next(i for i in (0, 1) if (r := world.router(i)) is not None and r.sadb.is_active)
    world.crash(active)
    world.advance(10_000)
    owner = world.vip_owner(Side.OUTSIDE)
    assert owner is not None
    assert owner != active
    router = world.router(owner)
    assert router is not None
    assert router.ike is not None
    router.receive_ike(probe.payload, probe.src, 500, 500, world.now)
    assert router.ike.drops[DropReason.MESSAGE_ID_REUSED] == 1
    assert not [o for o in router.outputs() if isinstance(o, SendIke)]
    # A fresh probe from the peer is still answered.
    assert world.dpd(from_peer=True)
