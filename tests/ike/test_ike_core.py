"""The IKEv1 core against itself: Main Mode, Quick Mode, DPD, delete, loss, bad input."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vpnha.impl.dataplane import transform_of
from vpnha.impl.entropy import SeededEntropy
from vpnha.impl.esp import EspInboundSA, EspOutboundSA
from vpnha.impl.ike import crypto
from vpnha.impl.ike.core import (
    DpdAnswered,
    IkeEngine,
    IkeEvent,
    IkeSaRetired,
    IpsecSaNegotiated,
    MemoryIkeStore,
    NegotiationFailed,
    PeerDeleted,
    Phase1Established,
)
from vpnha.impl.ike.wire import DropReason, Exchange, decode_header
from vpnha.impl.sadb import NewIpsecSa

from .conftest import PEER, VIP, Pair, peer_config, router_config


def events(engine: IkeEngine) -> list[IkeEvent]:
    out = []
    while (event := engine.next_event()) is not None:
        out.append(event)
    return out


def negotiated(engine: IkeEngine) -> list[NewIpsecSa]:
    return [e.params for e in events(engine) if isinstance(e, IpsecSaNegotiated)]


def assert_mirrored(ours: NewIpsecSa, theirs: NewIpsecSa) -> None:
    """Both ends agree on SPIs and keys, each direction the other's mirror, and ESP works."""
    assert ours.inbound_spi == theirs.outbound_spi
    assert ours.outbound_spi == theirs.inbound_spi
    assert ours.inbound_encryption_key == theirs.outbound_encryption_key
    assert ours.inbound_integrity_key == theirs.outbound_integrity_key
    assert ours.outbound_encryption_key == theirs.inbound_encryption_key
    assert ours.transforms == theirs.transforms
    transform = transform_of(ours.transforms)
    assert transform is not None
    sender = EspOutboundSA(
        spi=theirs.outbound_spi,
        transform=transform,
        encryption_key=theirs.outbound_encryption_key,
        integrity_key=theirs.outbound_integrity_key,
        entropy=SeededEntropy(9),
    )
    receiver = EspInboundSA(
        spi=ours.inbound_spi,
        transform=transform,
        encryption_key=ours.inbound_encryption_key,
        integrity_key=ours.inbound_integrity_key,
    )
    inner = bytes.fromhex("4500001c00010000400100000a0000010a000002") + bytes(8)
    packet = sender.encapsulate(inner)
    assert isinstance(packet, bytes)
    assert receiver.decapsulate(packet) == inner


# --- crypto ---------------------------------------------------------------------------------


@pytest.mark.parametrize("group", [1, 2, 5])
def test_oakley_primes_are_the_published_safe_primes(group: int) -> None:
    prime = crypto.oakley_prime(group)
    assert prime.bit_length() == crypto.GROUP_BITS[group]
    # Every Oakley prime starts with 64 one bits and then the binary expansion of pi.
    assert hex(prime).startswith("0xffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd1")
    assert hex(prime).endswith("ffffffffffffffff")
    half = (prime - 1) // 2
    for base in (2, 3, 5, 7, 11):
        assert pow(base, prime - 1, prime) == 1
        assert pow(base, half - 1, half) == 1


def test_group2_prime_matches_rfc2409_tail() -> None:
    # RFC 2409 §6.2 ends the modulus with ...49286651 ECE65381 FFFFFFFF FFFFFFFF.
    assert hex(crypto.oakley_prime(2)).endswith("49286651ece65381ffffffffffffffff")


def test_expand_key_lengthens_short_skeyid_e() -> None:
    # md5 gives 16 octets; 3des needs 24 (RFC 2409 Appendix B).
    key = crypto.expand_key("md5", b"k" * 16, 24)
    first = crypto.prf("md5", b"k" * 16, b"\x00")
    assert key[:16] == first
    assert key[16:] == crypto.prf("md5", b"k" * 16, first)[:8]
    assert crypto.expand_key("sha", b"s" * 20, 16) == b"s" * 16


def test_shared_secret_refuses_degenerate_values() -> None:
    key = crypto.DhKey.generate(2, SeededEntropy(1))
    size = crypto.GROUP_BITS[2] // 8
    assert crypto.shared_secret(key, (1).to_bytes(size, "big")) is None
    assert crypto.shared_secret(key, (crypto.oakley_prime(2) - 1).to_bytes(size, "big")) is None
    assert crypto.shared_secret(key, b"\x02") is None


# --- negotiation ------------------------------------------------------------------------------


def test_peer_initiates_and_router_answers(pair: Pair) -> None:
    assert pair.peer.initiate(VIP, 0)
    pair.pump()
    router_events = events(pair.router)
    assert [type(e) for e in router_events] == [Phase1Established, IpsecSaNegotiated]
    peer_sas = negotiated(pair.peer)
    assert len(peer_sas) == 1
    router_sa = router_events[1]
    assert isinstance(router_sa, IpsecSaNegotiated)
    assert_mirrored(router_sa.params, peer_sas[0])
    assert str(router_sa.params.remote_proxy) == "192.168.4.0/24"
    assert router_sa.params.crypto_map == "CMAP_1"
    assert not pair.router.drops
    assert not pair.peer.drops
    # The first three Main Mode messages each way in the clear, the rest encrypted.
    flags = [decode_header(payload).flags & 1 for _, payload in pair.wire]
    assert flags == [0, 0, 0, 0, 1, 1, 1, 1, 1]


def test_router_initiates_main_and_quick_mode(pair: Pair) -> None:
    assert pair.router.initiate(PEER, 0)
    pair.pump()
    ours, theirs = negotiated(pair.router), negotiated(pair.peer)
    assert len(ours) == len(theirs) == 1
    assert_mirrored(ours[0], theirs[0])
    # The crypto ACL's "any" source is proposed as 0.0.0.0/0.
    assert str(ours[0].local_proxy) == "0.0.0.0/0"
    # A second request reuses the IKE SA: Quick Mode only.
    before = len(pair.wire)
    assert pair.router.initiate(PEER, 10)
    pair.pump()
    assert len(pair.wire) - before == 3
    assert len(negotiated(pair.router)) == 1


def _edit(encr: str, hash_name: str, group: int, transforms: str, pfs: str | None):
    def edit(text: str) -> str:
        text = text.replace(" encr 3des", f" encr {encr}\n hash {hash_name}").replace(
            " group 2", f" group {group}"
        )
        text = text.replace("esp-3des esp-sha-hmac", transforms)
        if pfs:
            text = text.replace(" match address 100", f" match address 100\n set pfs {pfs}")
        return text

    return edit


@pytest.mark.parametrize(
    ("encr", "hash_name", "group", "transforms", "pfs"),
    [
        ("aes 256", "sha", 5, "esp-aes 256 esp-sha-hmac", None),
        ("aes", "md5", 1, "esp-aes esp-md5-hmac", "group2"),
        ("aes 192", "sha", 2, "esp-aes 192 esp-sha-hmac", "group5"),
        ("des", "md5", 1, "esp-des esp-md5-hmac", None),
        ("3des", "sha", 2, "esp-gcm 128", None),
    ],
)
def test_every_policy_and_transform_negotiates(
    encr: str, hash_name: str, group: int, transforms: str, pfs: str | None
) -> None:
    router = router_config(_edit(encr, hash_name, group, transforms, pfs))
    peer = peer_config(encr=encr, hash_name=hash_name, group=group, transforms=transforms, pfs=pfs)
    for initiator in ("peer", "router"):
        pair = Pair(router, peer)
        if initiator == "peer":
            assert pair.peer.initiate(VIP, 0)
        else:
            assert pair.router.initiate(PEER, 0)
        pair.pump()
        ours, theirs = negotiated(pair.router), negotiated(pair.peer)
        assert len(ours) == len(theirs) == 1, (initiator, pair.router.drops, pair.peer.drops)
        assert_mirrored(ours[0], theirs[0])


def test_wrong_pre_shared_key_fails_authentication() -> None:
    pair = Pair(router_config(), peer_config(key="not-cisco"))
    pair.peer.initiate(VIP, 0)
    pair.pump()
    # Another key gives other SKEYIDs: the fifth message decrypts to garbage.
    assert (
        pair.router.drops[DropReason.DECRYPT_FAILED] + pair.router.drops[DropReason.BAD_HASH] == 1
    )
    assert not negotiated(pair.router)
    assert not pair.router_store.sas


def test_no_matching_policy_is_refused_with_a_notification() -> None:
    pair = Pair(router_config(), peer_config(encr="aes"))
    pair.peer.initiate(VIP, 0)
    pair.pump()
    assert pair.router.drops[DropReason.NO_PROPOSAL_CHOSEN] == 1
    # The answer is an unauthenticated notification, which the peer counts and ignores.
    assert pair.peer.drops[DropReason.NOT_ENCRYPTED] == 1


def test_proxy_identities_outside_the_crypto_acl_are_refused() -> None:
    def narrow(text: str) -> str:
        return text.replace(
            "permit ip any 192.168.4.0 0.0.0.255", "permit ip any 192.168.9.0 0.0.0.255"
        )

    pair = Pair(router_config(narrow), peer_config())
    pair.peer.initiate(VIP, 0)
    pair.pump()
    assert pair.router.drops[DropReason.BAD_ID] == 1
    assert not negotiated(pair.router)


def test_transform_set_mismatch_is_refused() -> None:
    pair = Pair(router_config(), peer_config(transforms="esp-aes esp-sha-hmac"))
    pair.peer.initiate(VIP, 0)
    pair.pump()
    assert pair.router.drops[DropReason.NO_PROPOSAL_CHOSEN] == 1


# --- loss and retransmission -------------------------------------------------------------------


def test_lost_answer_is_repeated_for_the_retransmitted_request(pair: Pair) -> None:
    lost: list[bytes] = []

    def lose_first_answer(direction: str, payload: bytes) -> bool:
        if direction == "r->p" and not lost:
            lost.append(payload)
            return True
        return False

    pair.peer.initiate(VIP, 0)
    pair.pump(lose=lose_first_answer)
    assert not negotiated(pair.peer)
    pair.advance(2_000)
    pair.pump()
    # The router answered the retransmitted first message with the very same octets.
    assert pair.wire[1][0] == "p->r"  # the retransmitted first message
    assert pair.wire[2] == ("r->p", lost[0])
    assert pair.router.drops[DropReason.RETRANSMISSION] == 1
    assert len(negotiated(pair.peer)) == 1


def test_lost_quick_mode_confirmation_is_recovered(pair: Pair) -> None:
    quick_from_peer: list[bytes] = []

    def lose_qm3(direction: str, payload: bytes) -> bool:
        header = decode_header(payload[4:] if payload[:4] == bytes(4) else payload)
        if direction != "p->r" or header.exchange != Exchange.QUICK:
            return False
        quick_from_peer.append(payload)
        return len(quick_from_peer) == 2  # QM1 passes, the first QM3 is lost

    pair.peer.initiate(VIP, 0)
    pair.pump(lose=lose_qm3)
    assert len(negotiated(pair.peer)) == 1
    assert not negotiated(pair.router)
    pair.advance(2_000)  # the router repeats its Quick Mode answer; the peer its confirmation
    pair.pump(lose=lose_qm3)
    assert len(negotiated(pair.router)) == 1
    assert quick_from_peer[2] == quick_from_peer[1]


def test_initiator_gives_up_after_its_retransmissions() -> None:
    pair = Pair(router_config(), peer_config())
    pair.router.initiate(PEER, 0)
    pair.router.datagrams_to_send()  # lost
    for _ in range(6):
        pair.advance(20_000)
        pair.router.datagrams_to_send()
    failures = [e for e in events(pair.router) if isinstance(e, NegotiationFailed)]
    assert [f.exchange for f in failures] == ["main mode"]


# --- informational: DPD, delete ---------------------------------------------------------------


def established(pair: Pair) -> tuple[bytes, bytes]:
    pair.peer.initiate(VIP, 0)
    pair.pump()
    (cookies,) = pair.router_store.sas
    events(pair.router)
    events(pair.peer)
    return cookies


def test_dpd_both_ways(pair: Pair) -> None:
    cookies = established(pair)
    assert pair.peer.send_dpd(cookies, 100)
    pair.pump()
    assert [e.acked for e in events(pair.peer) if isinstance(e, DpdAnswered)] == [True]
    assert [e.acked for e in events(pair.router) if isinstance(e, DpdAnswered)] == [False]
    assert pair.router.send_dpd(cookies, 200)
    pair.pump()
    assert [e.acked for e in events(pair.router) if isinstance(e, DpdAnswered)] == [True]
    assert not pair.router.drops
    assert not pair.peer.drops


def test_dpd_number_going_back_is_refused(pair: Pair) -> None:
    cookies = established(pair)
    pair.peer.send_dpd(cookies, 100)
    pair.pump()
    pair.peer_store._dpd_out[cookies] -= 5  # the peer's counter goes back
    pair.peer.send_dpd(cookies, 6_000)
    pair.pump()
    assert pair.router.drops[DropReason.DPD_REJECTED] == 1


def test_unanswered_dpd_is_reported(pair: Pair) -> None:
    cookies = established(pair)
    pair.router.send_dpd(cookies, 100)
    pair.router.datagrams_to_send()  # lost
    pair.advance(10_000)
    assert [e.exchange for e in events(pair.router) if isinstance(e, NegotiationFailed)] == ["dpd"]


def test_peer_delete_is_reported(pair: Pair) -> None:
    established(pair)
    pair.peer.send_delete(3, (b"\x00\x00\x12\x34",), VIP, 100)
    pair.pump()
    deleted = [e for e in events(pair.router) if isinstance(e, PeerDeleted)]
    assert [(d.protocol, d.spis) for d in deleted] == [(3, (b"\x00\x00\x12\x34",))]


def test_ike_delete_removes_the_sa(pair: Pair) -> None:
    cookies = established(pair)
    pair.peer.send_delete(1, (cookies[0] + cookies[1],), VIP, 100)
    pair.pump()
    assert not pair.router_store.sas


def test_standby_copy_answers_dpd_and_quick_mode_after_takeover(pair: Pair) -> None:
    """What SSP replicates is enough: a second engine with only the copy carries on."""
    cookies = established(pair)
    pair.peer.send_dpd(cookies, 100)
    pair.pump()
    copy = pair.router_store.sas[cookies]
    standby_store = MemoryIkeStore()
    standby_store.add_ike(replace(copy, dpd_in=pair.router_store._dpd_in[cookies]), 0)
    pair.router = IkeEngine(router_config(), SeededEntropy(77), standby_store, local_address=VIP)
    events(pair.peer)
    assert pair.peer.send_dpd(cookies, 5_000)
    pair.pump()
    assert [e.acked for e in events(pair.peer) if isinstance(e, DpdAnswered)] == [True]
    assert pair.peer.initiate(VIP, 6_000)  # a phase-2 rekey on the old IKE SA
    pair.pump()
    ours, theirs = negotiated(pair.router), negotiated(pair.peer)
    assert len(ours) == len(theirs) == 1
    assert_mirrored(ours[0], theirs[0])
    assert not pair.router.drops


def test_unknown_cookies_and_cleartext_notifications_are_dropped(pair: Pair) -> None:
    cookies = established(pair)
    pair.peer.send_dpd(cookies, 100)
    (datagram,) = pair.peer.datagrams_to_send()
    forged = bytearray(datagram.payload)
    forged[0] ^= 1  # another initiator cookie
    pair.router.receive(bytes(forged), src=datagram.src, dst=datagram.dst, now=200)
    assert pair.router.drops[DropReason.NO_SA] == 1
    tampered = bytearray(datagram.payload)
    tampered[-1] ^= 1
    pair.router.receive(bytes(tampered), src=datagram.src, dst=datagram.dst, now=200)
    assert (
        pair.router.drops[DropReason.BAD_HASH] + pair.router.drops[DropReason.DECRYPT_FAILED] == 1
    )


# --- bad input never raises ---------------------------------------------------------------------


def _recorded_wire() -> list[tuple[str, bytes]]:
    pair = Pair(router_config(), peer_config())
    pair.peer.initiate(VIP, 0)
    pair.pump()
    cookies = next(iter(pair.router_store.sas))
    pair.peer.send_dpd(cookies, 10)
    pair.pump()
    return pair.wire


_WIRE = _recorded_wire()


@given(
    index=st.integers(0, len(_WIRE) - 1),
    edits=st.lists(st.tuples(st.integers(0, 2_000), st.integers(0, 255)), max_size=4),
    cut=st.integers(0, 2_000),
)
def test_mutated_messages_are_counted_never_raised(
    index: int, edits: list[tuple[int, int]], cut: int
) -> None:
    pair = Pair(router_config(), peer_config())
    pair.peer.initiate(VIP, 0)
    for direction, payload in _WIRE[:index]:
        sink = pair.router if direction == "p->r" else pair.peer
        port = 4500 if payload[:4] == bytes(4) else 500
        src = (PEER, port) if direction == "p->r" else (VIP, port)
        dst = (VIP, port) if direction == "p->r" else (PEER, port)
        sink.receive(payload, src=src, dst=dst, now=0)
    direction, payload = _WIRE[index]
    data = bytearray(payload[: max(1, cut)] if cut < len(payload) else payload)
    for offset, value in edits:
        if offset < len(data):
            data[offset] = value
    sink = pair.router if direction == "p->r" else pair.peer
    port = 4500 if payload[:4] == bytes(4) else 500
    # The property is the absence of an exception: whatever was changed is either
    # refused and counted or (padding, an unchecked reserved octet) harmless.
    sink.receive(bytes(data), src=(PEER, port), dst=(VIP, port), now=0)
    sink.handle_timer(60_000)


@given(st.binary(max_size=400), st.sampled_from([500, 4500]))
def test_random_datagrams_are_counted_never_raised(data: bytes, port: int) -> None:
    engine = IkeEngine(router_config(), SeededEntropy(1), MemoryIkeStore(), local_address=VIP)
    engine.receive(data, src=(PEER, port), dst=(VIP, port), now=0)
    engine.handle_timer(10_000)


def test_replayed_informational_is_refused(pair: Pair) -> None:
    """An attacker re-sending a captured R-U-THERE: authentic, but its message id is used."""
    cookies = established(pair)
    pair.peer.send_dpd(cookies, 100)
    (datagram,) = pair.peer.datagrams_to_send()
    pair.router.receive(datagram.payload, src=datagram.src, dst=datagram.dst, now=100)
    pair.router.datagrams_to_send()
    pair.router.receive(datagram.payload, src=datagram.src, dst=datagram.dst, now=200)
    assert pair.router.drops[DropReason.MESSAGE_ID_REUSED] == 1
    assert [e.acked for e in events(pair.router) if isinstance(e, DpdAnswered)] == [False]


def test_retransmitted_first_message_is_answered_and_a_new_one_starts_afresh(pair: Pair) -> None:
    pair.peer.initiate(VIP, 0)
    (first,) = pair.peer.datagrams_to_send()
    pair.router.receive(first.payload, src=first.src, dst=first.dst, now=0)
    (answer,) = pair.router.datagrams_to_send()
    pair.router.receive(first.payload, src=first.src, dst=first.dst, now=10)
    assert [d.payload for d in pair.router.datagrams_to_send()] == [answer.payload]
    # The same initiator cookie in another first message is a new negotiation.
    second = first.payload[:-1] + b"\x02"  # the DPD vendor ID's minor version
    pair.router.receive(second, src=first.src, dst=first.dst, now=20)
    (fresh,) = pair.router.datagrams_to_send()
    assert (
        decode_header(fresh.payload).responder_cookie
        != decode_header(answer.payload).responder_cookie
    )


def test_replaced_ike_sa_is_deleted_after_the_grace_time(pair: Pair) -> None:
    """A second Main Mode with the same peer (a re-authentication): the old IKE SA goes
    10 s later, and the peer is told with an ISAKMP Delete."""
    first = established(pair)
    pair.now = 1_000
    assert pair.peer.start_main_mode(VIP, 1_000)
    pair.pump()
    assert len(pair.router_store.sas) == 2
    pair.advance(9_000)
    assert len(pair.router_store.sas) == 2  # still within the grace time
    pair.advance(2_000)
    pair.pump()
    assert first not in pair.router_store.sas
    assert first not in pair.peer_store.sas  # the peer's copy went with the Delete
    retired = [e for e in events(pair.router) if isinstance(e, IkeSaRetired)]
    assert [(e.cookies, e.reason) for e in retired] == [(first, "replaced")]
    assert not pair.router.drops


def test_the_router_that_takes_over_retires_what_a_reauthentication_replaced(
    pair: Pair,
) -> None:
    """The re-authentication's grace timer ran in the old active's engine, which died;
    the engine that takes over (same store: the replicated copies) keeps the newest IKE
    SA and retires the others itself, with a Delete, after the grace time."""
    first = established(pair)
    pair.now = 1_000
    assert pair.peer.start_main_mode(VIP, 1_000)
    pair.pump()
    (second,) = set(pair.router_store.sas) - {first}
    successor = IkeEngine(router_config(), SeededEntropy(9), pair.router_store, local_address=VIP)
    pair.router = successor  # the old engine's timer is gone with it
    pair.now = 3_000
    successor.retire_replaced([PEER], pair.now)
    pair.advance(9_999)
    assert len(pair.router_store.sas) == 2
    pair.advance(1)
    pair.pump()
    assert set(pair.router_store.sas) == {second}
    assert set(pair.peer_store.sas) == {second}
    retired = [e for e in events(successor) if isinstance(e, IkeSaRetired)]
    assert [(e.cookies, e.reason) for e in retired] == [(first, "replaced")]
    successor.retire_replaced([PEER], pair.now)  # one SA left: nothing to do
    assert successor.get_timer() is None


def test_initial_contact_retires_the_old_sas_at_once(pair: Pair) -> None:
    """A restarted peer says INITIAL-CONTACT in its fifth message: nothing of before stays."""
    first = established(pair)
    restarted = Pair(router_config(), peer_config(), seed=5)
    restarted.router, restarted.router_store = pair.router, pair.router_store
    restarted.peer.initial_contact = True
    assert restarted.peer.initiate(VIP, 2_000)
    restarted.now = 2_000
    restarted.pump()
    assert first not in pair.router_store.sas
    assert len(pair.router_store.sas) == 1
    retired = [e for e in events(pair.router) if isinstance(e, IkeSaRetired)]
    assert [(e.cookies, e.reason) for e in retired] == [(first, "initial-contact")]
