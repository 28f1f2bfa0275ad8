"""The IKE engine on the router's replicated SA database: a takeover the peer cannot see."""

from __future__ import annotations

from unit.test_impl_sadb import Pair as SadbPair
from unit.test_impl_sadb import make_db
from vpnha.impl.entropy import SeededEntropy
from vpnha.impl.ike.core import DpdAnswered, IkeEngine, IpsecSaNegotiated
from vpnha.impl.ike.store import SadbIkeStore
from vpnha.impl.ike.wire import DropReason
from vpnha.impl.sadb import HaStatus

from .conftest import VIP, Pair, peer_config, router_config


def replicated() -> tuple[SadbPair, Pair]:
    """Router A ACTIVE on a replicating database, the peer's SAs negotiated with it."""
    sadbs = SadbPair(make_db(seed=1), make_db(seed=2))
    sadbs.db(0).become_active(sadbs.now)
    sadbs.connect()
    sadbs.settle()
    ike = Pair(router_config(), peer_config())
    ike.router_store = SadbIkeStore(sadbs.db(0))  # type: ignore[assignment]
    ike.router = IkeEngine(router_config(), SeededEntropy(5), ike.router_store, local_address=VIP)
    ike.peer.initiate(VIP, 0)
    ike.pump()
    sadbs.settle()
    return sadbs, ike


def test_ike_sa_is_replicated_to_the_standby() -> None:
    sadbs, _ = replicated()
    (active,) = sadbs.db(0).ike_sas(HaStatus.ACTIVE)
    (copy,) = sadbs.db(1).ike_sas(HaStatus.STANDBY)
    assert copy.cookies == active.cookies
    assert copy.skeyid_e == active.skeyid_e
    assert copy.last_phase1_cbc_block == active.last_phase1_cbc_block
    assert copy.peer_port == active.peer_port


def test_standby_refuses_to_keep_a_new_ike_sa() -> None:
    sadbs, _ = replicated()
    standby = IkeEngine(
        router_config(), SeededEntropy(6), SadbIkeStore(sadbs.db(1)), local_address=VIP
    )
    ike = Pair(router_config(), peer_config())
    ike.router = standby
    ike.peer.initiate(VIP, 0)
    ike.pump()
    assert standby.drops[DropReason.NOT_ACTIVE] == 1
    assert not sadbs.db(1).ike_sas(HaStatus.ACTIVE)


def test_after_takeover_the_new_active_answers_dpd_and_rekeys_phase_2() -> None:
    sadbs, ike = replicated()
    (cookies,) = ike.peer_store.sas
    # A few DPD rounds each way while A is active (its DPD_OUT moves, replicated).
    for step in range(3):
        assert ike.peer.send_dpd(cookies, 100 + step)
        assert ike.router.send_dpd(cookies, 100 + step)
        ike.pump()
        ike.advance(100)
        sadbs.settle()
    used_by_a = sadbs.db(0).ike_sas(HaStatus.ACTIVE)[0].dpd_out
    while ike.peer.next_event() is not None:
        pass
    # A dies; B takes over from its copies alone.
    sadbs.cut()
    sadbs.notice(1)
    sadbs.db(1).become_active(sadbs.now)
    ike.router = IkeEngine(
        router_config(), SeededEntropy(7), SadbIkeStore(sadbs.db(1)), local_address=VIP
    )
    assert ike.peer.send_dpd(cookies, 10_000)
    ike.pump()
    assert [e.acked for e in drain(ike.peer) if isinstance(e, DpdAnswered)] == [True]
    # B's own R-U-THERE numbers start beyond anything A could have used.
    assert ike.router.send_dpd(cookies, 10_100)
    ike.pump()
    (promoted,) = sadbs.db(1).ike_sas(HaStatus.ACTIVE)
    assert promoted.dpd_out > used_by_a
    acked = [e for e in drain(ike.router) if isinstance(e, DpdAnswered) and e.acked]
    assert [e.seq > used_by_a for e in acked] == [True]
    # The peer rekeys phase 2 on the same IKE SA: B answers.
    assert ike.peer.initiate(VIP, 11_000)
    ike.pump()
    assert [type(e) for e in drain(ike.router)] == [IpsecSaNegotiated]
    assert not ike.router.drops
    assert not ike.peer.drops


def drain(engine: IkeEngine) -> list[object]:
    out = []
    while (event := engine.next_event()) is not None:
        out.append(event)
    return out
