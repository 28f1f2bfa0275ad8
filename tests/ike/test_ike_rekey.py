"""A negotiating router (``vpnha router --negotiate``) keeps its tunnel up by itself:
a new pair before the old one's lifetime ends, Deletes when lifetimes end."""

from __future__ import annotations

from vpnha.impl.config import parse_config
from vpnha.impl.entropy import SeededEntropy
from vpnha.impl.ike.core import (
    IkeEngine,
    IkeSaRetired,
    IpsecSaNegotiated,
    MemoryIkeStore,
    PeerDeleted,
)
from vpnha.impl.router import REKEY_LEAD_MS, IkeReport, Router, SendIke
from vpnha.impl.sadb import HaStatus

from .conftest import EXAMPLES, PEER, PEER_CONFIG, VIP

IPSEC_LIFETIME_S = 120
IKE_LIFETIME_S = 300


def router_text() -> str:
    text = (EXAMPLES / "router1.cfg").read_text()
    text = text.replace("standby delay minimum 30 reload 60", "standby delay minimum 0 reload 0")
    text = text.replace(" group 2\n", f" group 2\n lifetime {IKE_LIFETIME_S}\n")
    return text.replace(
        " match address 100\n",
        f" match address 100\n set security-association lifetime seconds {IPSEC_LIFETIME_S}\n",
    )


def peer_text() -> str:
    text = PEER_CONFIG.format(
        encr="3des", hash="sha", group=2, key="cisco", transforms="esp-3des esp-sha-hmac", pfs=""
    )
    return text.replace(" group 2\n", f" group 2\n lifetime {IKE_LIFETIME_S}\n")


class Lab:
    """One negotiating router (alone: it becomes ACTIVE) and a remote peer's engine."""

    def __init__(self) -> None:
        self.now = 0
        self.router = Router(
            parse_config(router_text()), entropy=SeededEntropy(5), now=0, negotiate=True
        )
        self.peer = IkeEngine(
            parse_config(peer_text()), SeededEntropy(6), MemoryIkeStore(), local_address=PEER
        )
        self.router_events: list[object] = []
        self.peer_events: list[object] = []

    def pump(self) -> None:
        for _ in range(32):
            moved = False
            for out in self.router.outputs():
                if isinstance(out, SendIke):
                    moved = True
                    self.peer.receive(
                        out.payload, src=(VIP, out.src_port), dst=(PEER, out.dst_port), now=self.now
                    )
            for datagram in self.peer.datagrams_to_send():
                moved = True
                self.router.receive_ike(
                    datagram.payload, PEER, datagram.src[1], datagram.dst[1], self.now
                )
            while (event := self.router.next_event()) is not None:
                if isinstance(event, IkeReport):
                    self.router_events.append(event.event)
            while (peer_event := self.peer.next_event()) is not None:
                self.peer_events.append(peer_event)
            if not moved:
                return

    def run_to(self, when: int) -> None:
        while True:
            deadlines = [
                d for d in (self.router.get_timer(), self.peer.get_timer()) if d is not None
            ]
            step = min([*deadlines, when])
            self.now = max(self.now, step)
            if (d := self.router.get_timer()) is not None and d <= self.now:
                self.router.handle_timer(self.now)
            if (d := self.peer.get_timer()) is not None and d <= self.now:
                self.peer.handle_timer(self.now)
            self.pump()
            if step >= when:
                return

    def pairs(self) -> list[int]:
        return [sa.sa_id for sa in self.router.sadb.ipsec_sas(HaStatus.ACTIVE)]


def negotiated(events: list[object]) -> int:
    return sum(isinstance(e, IpsecSaNegotiated) for e in events)


def test_the_router_rekeys_before_expiry_and_deletes_what_expires() -> None:
    lab = Lab()
    lab.run_to(15_000)
    assert lab.router.sadb.is_active
    assert lab.peer.initiate(VIP, lab.now)
    lab.pump()
    (first,) = lab.pairs()
    old = lab.router.sadb.ipsec_sa(first)
    assert old is not None
    assert old.expiry_ms == lab.now + IPSEC_LIFETIME_S * 1000  # the shorter lifetime won
    # Just before the lead time: nothing; at it, Quick Mode under the same IKE SA.
    lab.run_to(old.expiry_ms - REKEY_LEAD_MS - 1)
    assert lab.pairs() == [first]
    lab.run_to(old.expiry_ms - REKEY_LEAD_MS)
    assert len(lab.pairs()) == 2
    assert negotiated(lab.peer_events) == 2
    (ike,) = lab.router.sadb.ike_sas(HaStatus.ACTIVE)  # no new Main Mode
    # The old pair's lifetime ends: the peer is told (an ESP Delete for its SPI).
    lab.run_to(old.expiry_ms)
    assert first not in lab.pairs()
    assert len(lab.pairs()) == 1
    deleted = [e for e in lab.peer_events if isinstance(e, PeerDeleted)]
    assert [e.spis for e in deleted] == [(old.inbound_spi.to_bytes(4, "big"),)]
    # The IKE SA still carries a pair: a new Main Mode replaces it before its lifetime
    # ends (a peer such as strongSwan deletes an IKE SA's CHILD SAs with it), and the
    # peer, the responder, deletes the old one after its grace time.
    lab.run_to(ike.expiry_ms - REKEY_LEAD_MS)
    assert len(lab.router.sadb.ike_sas(HaStatus.ACTIVE)) == 2
    lab.run_to(ike.expiry_ms)
    (newer,) = lab.router.sadb.ike_sas(HaStatus.ACTIVE)
    assert newer.cookies != ike.cookies
    assert any(isinstance(e, IkeSaRetired) and e.reason == "replaced" for e in lab.peer_events)
    assert len(lab.pairs()) == 1  # the pair lives on
    # Every later pair comes due in turn and is rekeyed under the current IKE SA.
    rekeys = negotiated(lab.router_events)
    lab.run_to(ike.expiry_ms + 2 * IPSEC_LIFETIME_S * 1000)
    assert negotiated(lab.router_events) >= rekeys + 2
    assert 1 <= len(lab.router.sadb.ike_sas()) <= 2  # two within a replacement's grace time
    assert 1 <= len(lab.pairs()) <= 2
    assert lab.router.ike is not None
    assert not lab.router.ike.drops
    assert not lab.peer.drops


def test_a_pair_the_peer_already_replaced_is_not_rekeyed_again() -> None:
    lab = Lab()
    lab.run_to(15_000)
    assert lab.peer.initiate(VIP, lab.now)
    lab.pump()
    (first,) = lab.pairs()
    old = lab.router.sadb.ipsec_sa(first)
    assert old is not None
    lab.run_to(lab.now + 10_000)
    assert lab.peer.initiate(VIP, lab.now)  # the peer rekeys first (Quick Mode)
    lab.pump()
    assert len(lab.pairs()) == 2
    lab.run_to(old.expiry_ms - REKEY_LEAD_MS)
    assert len(lab.pairs()) == 2  # the router started no third pair
    assert negotiated(lab.router_events) == 2


def test_a_router_that_does_not_negotiate_leaves_lifetimes_to_the_peer() -> None:
    lab = Lab()
    lab.router = Router(parse_config(router_text()), entropy=SeededEntropy(5), now=0)
    lab.run_to(15_000)
    assert lab.peer.initiate(VIP, lab.now)
    lab.pump()
    (first,) = lab.pairs()
    old = lab.router.sadb.ipsec_sa(first)
    assert old is not None
    lab.run_to(old.expiry_ms)
    assert not lab.pairs()
    assert not [e for e in lab.peer_events if isinstance(e, PeerDeleted)]
    assert negotiated(lab.peer_events) == 1
