"""impl/forward: the crypto-map data path, LAN → clear / ESP in UDP 4500 and back.

Real ESP SAs (esp-3des esp-sha-hmac, the shipped example's transform set) and the
shipped example configuration (ACL 100 ``permit ip any 192.168.4.0 0.0.0.255``,
peer 192.168.3.1). The Hypothesis tests check invariant I9 with an oracle written
independently of the ACL code: a packet is protected iff its destination is in
192.168.4.0/24.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vpnha.impl.config import (
    ConfigError,
    CryptoMapEntry,
    RouterConfig,
    load_config,
    parse_config,
)
from vpnha.impl.entropy import SeededEntropy
from vpnha.impl.esp import (
    NAT_KEEPALIVE,
    SEQ_MAX,
    Drop,
    DropReason,
    EspInboundSA,
    EspOutboundSA,
    Udp4500Kind,
    build_ipv4,
    build_udp,
    classify_udp_4500,
    esp_transform,
    frame_ike,
    internet_checksum,
)
from vpnha.impl.forward import (
    ESP_DROP_REASONS,
    Action,
    DeliverIke,
    DeliverLan,
    Flow,
    ForwardCounters,
    ForwardDropReason,
    Forwarder,
    InboundSa,
    NeedSa,
    SendClear,
    SendEsp,
    Withheld,
    _deliver_lan,
    _flow_from_key,
    _flow_key,
    _flow_key_any,
    _send_esp,
    flow_of,
    gated_decapsulate,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_TEXT = (ROOT / "examples" / "router1.cfg").read_text()
CONFIG = load_config(ROOT / "examples" / "router1.cfg")
TRANSFORM = esp_transform("esp-3des", "esp-sha-hmac")
PEER = IPv4Address("192.168.3.1")
REMOTE_LAN = IPv4Network("192.168.4.0/24")  # the oracle: ACL 100, written independently
LAN_HOST = "172.16.31.10"
REMOTE_HOST = "192.168.4.5"
OUT_SPI = 0x0000_1001  # ours towards the peer (the peer's inbound)
IN_SPI = 0x0000_2002  # the peer's towards us (our inbound)
UDP = 17
TCP = 6


# -- fixtures: a dict-backed SA table, HSRP flags, real SAs --------------------------------


class FakeSaTable:
    """The ``SaTable`` protocol over two dicts."""

    def __init__(self) -> None:
        self.outbound: dict[tuple[str, int, IPv4Address], EspOutboundSA] = {}
        self.inbound: dict[int, InboundSa] = {}
        self.inbound_withheld: dict[int, Withheld] = {}

        self.withheld: dict[tuple[str, int, IPv4Address], Withheld] = {}
        self.sizes: list[int] = []

    def outbound_sa(
        self, entry: CryptoMapEntry, peer: IPv4Address, size: int, now: int
    ) -> EspOutboundSA | Withheld | None:
        self.sizes.append(size)
        key = (entry.name, entry.seq, peer)
        return self.withheld.get(key) or self.outbound.get(key)

    def inbound_sa(self, spi: int) -> InboundSa | Withheld | None:
        return self.inbound.get(spi) or self.inbound_withheld.get(spi)


class Hsrp:
    """Which virtual IPs this router is Active for (flip the flags between calls)."""

    def __init__(self, *, outside: bool = True, inside: bool = True) -> None:
        self.outside = outside
        self.inside = inside


def sa_pair(spi: int, seed: int, *, next_seq: int = 1) -> tuple[EspOutboundSA, EspInboundSA]:
    keys = SeededEntropy(seed)
    encryption_key = keys.token_bytes(TRANSFORM.encryption_key_length)
    integrity_key = keys.token_bytes(TRANSFORM.integrity_key_length)
    assert (len(encryption_key), len(integrity_key)) == (24, 20)
    outbound = EspOutboundSA(
        spi=spi,
        transform=TRANSFORM,
        encryption_key=encryption_key,
        integrity_key=integrity_key,
        entropy=SeededEntropy(seed + 1000),
        next_seq=next_seq,
    )
    inbound = EspInboundSA(
        spi=spi, transform=TRANSFORM, encryption_key=encryption_key, integrity_key=integrity_key
    )
    return outbound, inbound


@dataclasses.dataclass
class Rig:
    """One router's forwarder, its SA table and HSRP flags, and the remote peer's SAs."""

    forwarder: Forwarder
    table: FakeSaTable
    hsrp: Hsrp
    entry: CryptoMapEntry
    peer_inbound: EspInboundSA
    """Decrypts what our router sends (SPI OUT_SPI)."""
    peer_outbound: EspOutboundSA
    """Encrypts what the peer sends us (SPI IN_SPI)."""

    def counters(self) -> ForwardCounters:
        return self.forwarder.counters()


def make_rig(
    config: RouterConfig = CONFIG,
    *,
    outbound_sa: bool = True,
    inbound_sa: bool = True,
    outside: bool = True,
    inside: bool = True,
    next_seq: int = 1,
    seq: int = 1,
) -> Rig:
    table = FakeSaTable()
    hsrp = Hsrp(outside=outside, inside=inside)
    forwarder = Forwarder(
        config,
        sa_table=table,
        outside_active=lambda: hsrp.outside,
        inside_active=lambda: hsrp.inside,
    )
    entry = next(e for e in forwarder.entries if e.seq == seq)
    ours_out, peer_in = sa_pair(OUT_SPI, 1, next_seq=next_seq)
    peer_out, ours_in = sa_pair(IN_SPI, 2)
    if outbound_sa:
        table.outbound[(entry.name, entry.seq, entry.peers[0] if entry.peers else PEER)] = ours_out
    if inbound_sa:
        table.inbound[IN_SPI] = InboundSa(
            sa=ours_in, crypto_map=entry.name, crypto_map_seq=entry.seq, peer=PEER
        )
    return Rig(
        forwarder=forwarder,
        table=table,
        hsrp=hsrp,
        entry=entry,
        peer_inbound=peer_in,
        peer_outbound=peer_out,
    )


def udp_packet(
    src: str = LAN_HOST,
    dst: str = REMOTE_HOST,
    *,
    src_port: int = 40000,
    dst_port: int = 53,
    data: bytes = b"query",
    protocol: int = UDP,
) -> bytes:
    segment = build_udp(src=src, dst=dst, src_port=src_port, dst_port=dst_port, payload=data)
    return build_ipv4(src=src, dst=dst, protocol=protocol, payload=segment)


def config_with(text: str, before: str = "access-list 100 remark IPSec Rule") -> RouterConfig:
    """The shipped example with ``text`` inserted before ``before``."""
    return parse_config(EXAMPLE_TEXT.replace(before, text + "\n" + before))


def only_drop(counters: ForwardCounters) -> ForwardDropReason:
    """The one reason with a non-zero count (fails if there are several)."""
    reasons = [r for r, n in counters.drops.items() if n]
    assert len(reasons) == 1, counters.drops
    return reasons[0]


def decrypted(rig: Rig, actions: Iterable[Action]) -> list[bytes]:
    """What the peer gets out of every SendEsp."""
    out = []
    for action in actions:
        assert isinstance(action, SendEsp)
        inner = rig.peer_inbound.decapsulate(action.udp_payload)
        assert isinstance(inner, bytes), inner
        out.append(inner)
    return out


# -- from the LAN ------------------------------------------------------------------------


def test_lan_packet_to_the_remote_lan_is_encrypted_and_decrypts_back() -> None:
    rig = make_rig()
    packet = udp_packet()
    actions = rig.forwarder.from_lan(packet, now=1000)
    assert len(actions) == 1
    (send,) = actions
    assert isinstance(send, SendEsp)
    assert (send.peer, send.spi, send.seq) == (PEER, OUT_SPI, 1)
    assert classify_udp_4500(send.udp_payload) is Udp4500Kind.ESP
    assert send.udp_payload[:8] == OUT_SPI.to_bytes(4, "big") + (1).to_bytes(4, "big")
    assert decrypted(rig, actions) == [packet]
    counters = rig.counters()
    assert (counters.encrypted_packets, counters.encrypted_bytes) == (1, len(packet))
    assert counters.total_drops == counters.clear_packets == counters.cleartext_permit_sent == 0


def test_sequence_numbers_follow_the_sa() -> None:
    rig = make_rig()
    sends = [rig.forwarder.from_lan(udp_packet(data=bytes([i])), now=i) for i in range(3)]
    assert [s[0].seq for s in sends if isinstance(s[0], SendEsp)] == [1, 2, 3]
    assert decrypted(rig, [s[0] for s in sends]) == [udp_packet(data=bytes([i])) for i in range(3)]


def test_lan_packet_elsewhere_goes_in_the_clear() -> None:
    rig = make_rig()
    packet = udp_packet(dst="8.8.8.8")
    assert rig.forwarder.from_lan(packet, now=0) == [SendClear(ip_packet=packet)]
    counters = rig.counters()
    assert (counters.clear_packets, counters.clear_bytes) == (1, len(packet))
    assert counters.encrypted_packets == counters.cleartext_permit_sent == 0


def test_clear_forwarding_does_not_depend_on_hsrp() -> None:
    rig = make_rig(outside=False, inside=False)
    packet = udp_packet(dst="8.8.8.8")
    assert rig.forwarder.from_lan(packet, now=0) == [SendClear(ip_packet=packet)]


def test_not_active_outside_drops_protected_traffic_and_sends_nothing() -> None:
    rig = make_rig(outside=False)
    assert rig.forwarder.from_lan(udp_packet(), now=0) == []
    counters = rig.counters()
    assert only_drop(counters) is ForwardDropReason.NOT_ACTIVE_OUTSIDE
    assert counters.encrypted_packets == counters.clear_packets == counters.sa_requests == 0
    # The SA was not touched: no sequence number was spent by the standby.
    assert rig.table.outbound[(rig.entry.name, rig.entry.seq, PEER)].next_seq == 1


def test_no_sa_asks_ike_and_sends_nothing_in_clear() -> None:
    rig = make_rig(outbound_sa=False)
    actions = rig.forwarder.from_lan(udp_packet(), now=0)
    assert actions == [NeedSa(entry=rig.entry, peer=PEER)]
    counters = rig.counters()
    assert only_drop(counters) is ForwardDropReason.NO_SA
    assert counters.sa_requests == 1
    assert counters.clear_packets == counters.cleartext_permit_sent == 0


def test_exhausted_sa_drops_and_asks_for_a_rekey() -> None:
    rig = make_rig(next_seq=SEQ_MAX)
    last = rig.forwarder.from_lan(udp_packet(), now=0)
    assert [a.seq for a in last if isinstance(a, SendEsp)] == [SEQ_MAX]
    assert rig.forwarder.from_lan(udp_packet(), now=1) == [NeedSa(entry=rig.entry, peer=PEER)]
    counters = rig.counters()
    assert only_drop(counters) is ForwardDropReason.SEQ_EXHAUSTED
    assert counters.clear_packets == 0


def test_withheld_sa_is_a_counted_drop_and_asks_ike_only_for_a_rekey() -> None:
    rig = make_rig()
    key = (rig.entry.name, rig.entry.seq, PEER)
    rig.table.withheld[key] = Withheld(reason=ForwardDropReason.HELD_BACK)
    packet = udp_packet()
    assert rig.forwarder.from_lan(packet, now=0) == []
    assert rig.table.sizes == [len(packet)]
    rig.table.withheld[key] = Withheld(reason=ForwardDropReason.LIFETIME, rekey=True)
    assert rig.forwarder.from_lan(packet, now=1) == [NeedSa(entry=rig.entry, peer=PEER)]
    counters = rig.counters()
    assert counters.dropped(ForwardDropReason.HELD_BACK) == 1
    assert counters.dropped(ForwardDropReason.LIFETIME) == 1
    assert counters.sa_requests == 1
    assert counters.clear_packets == counters.encrypted_packets == 0


def test_link_layer_padding_is_not_forwarded() -> None:
    rig = make_rig()
    clear = udp_packet(dst="8.8.8.8")
    assert rig.forwarder.from_lan(clear + bytes(6), now=0) == [SendClear(ip_packet=clear)]
    protected = udp_packet()
    assert decrypted(rig, rig.forwarder.from_lan(protected + bytes(6), now=0)) == [protected]


@pytest.mark.parametrize(
    "packet",
    [
        b"",
        b"\x45" + bytes(10),
        bytes(40),  # version 0
        udp_packet()[:-1],  # total length past the bytes received
        build_ipv4(src=LAN_HOST, dst=REMOTE_HOST, protocol=UDP, payload=b"\x00\x35"),  # no ports
        build_ipv4(src=LAN_HOST, dst=REMOTE_HOST, protocol=TCP, payload=b""),
    ],
    ids=["empty", "short", "version-0", "truncated", "udp-no-ports", "tcp-no-ports"],
)
def test_malformed_lan_packets_are_counted_drops(packet: bytes) -> None:
    rig = make_rig()
    assert rig.forwarder.from_lan(packet, now=0) == []
    assert only_drop(rig.counters()) is ForwardDropReason.LAN_MALFORMED


def test_fragments_are_counted_drops() -> None:
    packet = bytearray(udp_packet())
    packet[6] = 0x20  # More Fragments
    packet[10:12] = b"\x00\x00"
    packet[10:12] = internet_checksum(bytes(packet[:20])).to_bytes(2, "big")
    rig = make_rig()
    assert rig.forwarder.from_lan(bytes(packet), now=0) == []
    assert only_drop(rig.counters()) is ForwardDropReason.LAN_MALFORMED


def test_first_permitting_entry_decides_and_deny_means_not_protected() -> None:
    config = config_with(
        "crypto map CMAP_1 10 ipsec-isakmp\n"
        " set peer 192.168.3.9\n"
        " set transform-set TRANSFORMSET_1\n"
        " match address 120\n"
        "access-list 120 deny ip any host 10.9.9.9\n"
        "access-list 120 permit ip any 10.9.0.0 0.0.255.255\n"
        "access-list 120 permit ip any 192.168.0.0 0.0.255.255"
    )
    rig = make_rig(config, outbound_sa=False)
    second = rig.forwarder.entries[1]
    assert (second.seq, second.peers) == (10, (IPv4Address("192.168.3.9"),))
    nine = IPv4Address("192.168.3.9")
    assert rig.forwarder.from_lan(udp_packet(dst="10.9.1.1"), 0) == [
        NeedSa(entry=second, peer=nine)
    ]
    # Entry 1 (ACL 100) comes first even though ACL 120 also permits 192.168.4.5.
    assert rig.forwarder.from_lan(udp_packet(), 0) == [NeedSa(entry=rig.entry, peer=PEER)]
    assert rig.forwarder.from_lan(udp_packet(dst="192.168.5.5"), 0) == [
        NeedSa(entry=second, peer=nine)
    ]
    # A deny is "not protected by this entry": no later entry protects it, so clear.
    denied = udp_packet(dst="10.9.9.9")
    assert rig.forwarder.from_lan(denied, 0) == [SendClear(ip_packet=denied)]
    assert rig.counters().cleartext_permit_sent == 0


def test_the_first_peer_with_an_sa_carries_the_traffic() -> None:
    config = parse_config(
        EXAMPLE_TEXT.replace(
            " set peer 192.168.3.1", " set peer 192.168.3.1\n set peer 192.168.3.2"
        )
    )
    rig = make_rig(config, outbound_sa=False)
    assert rig.entry.peers == (PEER, IPv4Address("192.168.3.2"))
    assert rig.forwarder.from_lan(udp_packet(), 0) == [NeedSa(entry=rig.entry, peer=PEER)]
    ours_out, peer_in = sa_pair(OUT_SPI, 1)
    rig.table.outbound[(rig.entry.name, rig.entry.seq, IPv4Address("192.168.3.2"))] = ours_out
    (send,) = rig.forwarder.from_lan(udp_packet(), 0)
    assert isinstance(send, SendEsp)
    assert send.peer == IPv4Address("192.168.3.2")
    assert peer_in.decapsulate(send.udp_payload) == udp_packet()


def test_port_conditions_select_and_are_checked_in_mirror_image() -> None:
    config = parse_config(
        EXAMPLE_TEXT.replace(
            "access-list 100 permit ip any 192.168.4.0 0.0.0.255",
            "access-list 100 permit tcp 172.16.31.0 0.0.0.255 10.7.0.0 0.0.255.255 eq 80",
        )
    )
    rig = make_rig(config)
    web = udp_packet(dst="10.7.1.1", dst_port=80, protocol=TCP)
    other = udp_packet(dst="10.7.1.1", dst_port=81, protocol=TCP)
    udp_web = udp_packet(dst="10.7.1.1", dst_port=80)
    assert decrypted(rig, rig.forwarder.from_lan(web, 0)) == [web]
    assert rig.forwarder.from_lan(other, 0) == [SendClear(ip_packet=other)]
    assert rig.forwarder.from_lan(udp_web, 0) == [SendClear(ip_packet=udp_web)]
    # Inbound: the reply from port 80 mirrors the ACL; from port 81 it does not.
    reply = udp_packet(src="10.7.1.1", dst=LAN_HOST, src_port=80, dst_port=40000, protocol=TCP)
    stray = udp_packet(src="10.7.1.1", dst=LAN_HOST, src_port=81, dst_port=40000, protocol=TCP)
    assert from_peer(rig, reply) == [DeliverLan(ip_packet=reply)]
    assert from_peer(rig, stray) == []
    assert only_drop(rig.counters()) is ForwardDropReason.POLICY


def test_an_empty_access_list_drops_everything_that_reaches_its_entry() -> None:
    config = config_with(
        "crypto map CMAP_1 5 ipsec-isakmp\n"
        " set peer 192.168.3.2\n"
        " set transform-set TRANSFORMSET_1\n"
        " match address 150\n"
        "access-list 150 remark nothing yet"
    )
    rig = make_rig(config)
    protected = udp_packet()
    assert decrypted(rig, rig.forwarder.from_lan(protected, 0)) == [protected]
    assert rig.forwarder.from_lan(udp_packet(dst="8.8.8.8"), 0) == []
    counters = rig.counters()
    assert only_drop(counters) is ForwardDropReason.ACL_MISSING
    assert counters.clear_packets == 0


def test_an_undefined_access_list_fails_closed() -> None:
    entry = dataclasses.replace(CONFIG.crypto_maps[0], match_address="199")
    config = dataclasses.replace(CONFIG, crypto_maps=(entry,))
    rig = make_rig(config)
    assert rig.forwarder.from_lan(udp_packet(dst="8.8.8.8"), 0) == []
    assert rig.forwarder.from_lan(udp_packet(), 0) == []
    assert rig.counters().dropped(ForwardDropReason.ACL_MISSING) == 2
    # And nothing decrypted is accepted under it.
    assert from_peer(rig, udp_packet(src=REMOTE_HOST, dst=LAN_HOST)) == []
    assert rig.counters().dropped(ForwardDropReason.POLICY) == 1


def test_a_static_entry_without_peer_drops() -> None:
    entry = dataclasses.replace(CONFIG.crypto_maps[0], peers=())
    rig = make_rig(dataclasses.replace(CONFIG, crypto_maps=(entry,)))
    assert rig.forwarder.from_lan(udp_packet(), 0) == []
    assert only_drop(rig.counters()) is ForwardDropReason.NO_PEER


DYNAMIC = (
    "crypto dynamic-map DMAP 10\n"
    " set transform-set TRANSFORMSET_1\n"
    " match address 101\n"
    "crypto map CMAP_1 30 ipsec-isakmp dynamic DMAP\n"
    "access-list 101 permit ip any 10.5.0.0 0.0.255.255"
)


def test_dynamic_entries_never_initiate_and_never_leak() -> None:
    rig = make_rig(config_with(DYNAMIC), seq=30)
    packet = udp_packet(dst="10.5.1.1")
    assert rig.forwarder.from_lan(packet, 0) == []
    counters = rig.counters()
    assert only_drop(counters) is ForwardDropReason.NO_SA
    assert counters.sa_requests == counters.clear_packets == 0
    # Inbound, an SA of the dynamic entry is held to the dynamic entry's ACL.
    answer = udp_packet(src="10.5.1.1", dst=LAN_HOST)
    assert from_peer(rig, answer) == [DeliverLan(ip_packet=answer)]
    assert from_peer(rig, udp_packet(src="10.6.1.1", dst=LAN_HOST)) == []
    assert rig.counters().dropped(ForwardDropReason.POLICY) == 1


def test_a_dynamic_entry_without_acl_accepts_any_flow_inbound_and_selects_nothing_outbound() -> (
    None
):
    text = DYNAMIC.replace(" match address 101\n", "")
    rig = make_rig(config_with(text), seq=30)
    clear = udp_packet(dst="10.5.1.1")
    assert rig.forwarder.from_lan(clear, 0) == [SendClear(ip_packet=clear)]
    anything = udp_packet(src="10.6.1.1", dst=LAN_HOST)
    assert from_peer(rig, anything) == [DeliverLan(ip_packet=anything)]


def test_a_config_without_crypto_map_is_refused() -> None:
    text = EXAMPLE_TEXT.replace(" crypto map CMAP_1 ssp 1\n", "")
    with pytest.raises(ConfigError, match="no HSRP interface has a crypto map"):
        make_rig(parse_config(text))


def test_flow_of_reads_ports_and_mirrors() -> None:
    parsed = flow_of(udp_packet(src_port=1, dst_port=2))
    assert parsed is not None
    flow, _ = parsed
    assert flow == Flow(
        src=IPv4Address(LAN_HOST),
        dst=IPv4Address(REMOTE_HOST),
        protocol=UDP,
        src_port=1,
        dst_port=2,
    )
    assert flow.mirrored().mirrored() == flow
    assert (flow.mirrored().src, flow.mirrored().dst_port) == (IPv4Address(REMOTE_HOST), 1)
    icmp = flow_of(build_ipv4(src=LAN_HOST, dst=REMOTE_HOST, protocol=1, payload=b"\x08\x00"))
    assert icmp is not None
    assert (icmp[0].src_port, icmp[0].dst_port) == (None, None)


# -- from the outside --------------------------------------------------------------------


def from_peer(rig: Rig, inner: bytes, now: int = 0) -> list[Action]:
    esp = rig.peer_outbound.encapsulate(inner)
    assert isinstance(esp, bytes)
    return rig.forwarder.from_outside(esp, PEER, now)


def remote_packet(data: bytes = b"answer") -> bytes:
    return udp_packet(src=REMOTE_HOST, dst=LAN_HOST, src_port=53, dst_port=40000, data=data)


def test_esp_from_the_peer_is_decrypted_and_delivered() -> None:
    rig = make_rig()
    packet = remote_packet()
    assert from_peer(rig, packet) == [DeliverLan(ip_packet=packet)]
    counters = rig.counters()
    assert (counters.decrypted_packets, counters.decrypted_bytes) == (1, len(packet))
    assert counters.delivered_packets == 1
    assert counters.total_drops == 0


def test_tampered_esp_is_an_icv_drop() -> None:
    rig = make_rig()
    esp = rig.peer_outbound.encapsulate(remote_packet())
    assert isinstance(esp, bytes)
    tampered = esp[:20] + bytes([esp[20] ^ 1]) + esp[21:]
    assert rig.forwarder.from_outside(tampered, PEER, 0) == []
    assert only_drop(rig.counters()) is ForwardDropReason.ICV
    binding = rig.table.inbound[IN_SPI]
    assert binding.sa.counters().dropped(DropReason.ICV) == 1


def test_replayed_esp_is_a_replay_drop() -> None:
    rig = make_rig()
    esp = rig.peer_outbound.encapsulate(remote_packet())
    assert isinstance(esp, bytes)
    assert len(rig.forwarder.from_outside(esp, PEER, 0)) == 1
    assert rig.forwarder.from_outside(esp, PEER, 1) == []
    counters = rig.counters()
    assert only_drop(counters) is ForwardDropReason.REPLAY
    assert counters.delivered_packets == 1


class RecordingGate:
    """An external anti-replay authority that refuses what it is told to."""

    def __init__(self, refuse_check: bool = False, refuse_accept: bool = False) -> None:
        self.refuse_check = refuse_check
        self.refuse_accept = refuse_accept
        self.calls: list[tuple[str, int]] = []

    def check(self, seq: int) -> ForwardDropReason | None:
        self.calls.append(("check", seq))
        return ForwardDropReason.HELD_BACK if self.refuse_check else None

    def accept(self, seq: int, size: int, now: int) -> ForwardDropReason | None:
        self.calls.append(("accept", seq))
        return ForwardDropReason.REPLAY if self.refuse_accept else None

    def decapsulate(
        self, sa: EspInboundSA, esp_packet: bytes, seq: int, now: int
    ) -> bytes | Drop | ForwardDropReason:
        return gated_decapsulate(self, sa, esp_packet, seq, now)


def gated_rig(gate: RecordingGate) -> Rig:
    rig = make_rig()
    binding = rig.table.inbound[IN_SPI]
    rig.table.inbound[IN_SPI] = dataclasses.replace(binding, gate=gate)
    return rig


def test_a_gate_is_asked_before_the_icv_and_told_after_decapsulation() -> None:
    gate = RecordingGate()
    rig = gated_rig(gate)
    packet = remote_packet()
    assert from_peer(rig, packet) == [DeliverLan(ip_packet=packet)]
    assert gate.calls == [("check", 1), ("accept", 1)]
    # A tampered packet is checked, fails its ICV, and never reaches accept.
    esp = rig.peer_outbound.encapsulate(remote_packet())
    assert isinstance(esp, bytes)
    assert rig.forwarder.from_outside(esp[:-1] + bytes([esp[-1] ^ 1]), PEER, 1) == []
    assert gate.calls[-1] == ("check", 2)
    assert rig.counters().dropped(ForwardDropReason.ICV) == 1


@pytest.mark.parametrize(
    ("gate", "reason"),
    [
        (RecordingGate(refuse_check=True), ForwardDropReason.HELD_BACK),
        (RecordingGate(refuse_accept=True), ForwardDropReason.REPLAY),
    ],
)
def test_a_gate_refusal_is_a_counted_drop(gate: RecordingGate, reason: ForwardDropReason) -> None:
    rig = gated_rig(gate)
    assert from_peer(rig, remote_packet()) == []
    assert only_drop(rig.counters()) is reason
    assert rig.counters().delivered_packets == 0


def test_esp_from_another_source_than_the_peer_is_dropped_before_decryption() -> None:
    rig = make_rig()
    esp = rig.peer_outbound.encapsulate(remote_packet())
    assert isinstance(esp, bytes)
    assert rig.forwarder.from_outside(esp, IPv4Address("203.0.113.9"), 0) == []
    assert only_drop(rig.counters()) is ForwardDropReason.WRONG_PEER
    assert rig.table.inbound[IN_SPI].sa.counters().pkts_decaps == 0
    # The same packet from the peer is still good (the window did not move).
    assert len(rig.forwarder.from_outside(esp, PEER, 1)) == 1


def test_unknown_spi_is_counted() -> None:
    rig = make_rig(inbound_sa=False)
    assert from_peer(rig, remote_packet()) == []
    assert only_drop(rig.counters()) is ForwardDropReason.UNKNOWN_SPI


def test_not_active_outside_drops_esp_without_touching_the_window() -> None:
    rig = make_rig(outside=False)
    esp = rig.peer_outbound.encapsulate(remote_packet())
    assert isinstance(esp, bytes)
    assert rig.forwarder.from_outside(esp, PEER, 0) == []
    counters = rig.counters()
    assert only_drop(counters) is ForwardDropReason.NOT_ACTIVE_OUTSIDE
    assert counters.decrypted_packets == 0
    rig.hsrp.outside = True  # taking over: the same packet is still fresh here
    assert rig.forwarder.from_outside(esp, PEER, 1) == [DeliverLan(ip_packet=remote_packet())]


def test_active_outside_but_not_inside_is_the_split_black_hole() -> None:
    rig = make_rig(inside=False)
    assert from_peer(rig, remote_packet()) == []
    counters = rig.counters()
    assert only_drop(counters) is ForwardDropReason.NOT_ACTIVE_INSIDE
    assert (counters.decrypted_packets, counters.delivered_packets) == (1, 0)


def test_decrypted_packet_outside_the_mirror_image_policy_is_dropped() -> None:
    rig = make_rig()
    # ACL 100 protects traffic *to* 192.168.4.0/24, so the inner source must be there.
    assert from_peer(rig, udp_packet(src="10.0.0.1", dst=LAN_HOST)) == []
    # Not mirrored: the remote LAN as destination is what we send, not what we accept.
    assert from_peer(rig, udp_packet(src=LAN_HOST, dst=REMOTE_HOST)) == []
    counters = rig.counters()
    assert counters.dropped(ForwardDropReason.POLICY) == 2
    assert counters.delivered_packets == 0


@pytest.mark.parametrize(
    ("crypto_map", "seq"), [("CMAP_1", 99), ("OTHER", 1)], ids=["no-such-entry", "other-map"]
)
def test_sa_of_an_entry_not_in_the_map_is_a_policy_drop(crypto_map: str, seq: int) -> None:
    rig = make_rig()
    binding = rig.table.inbound[IN_SPI]
    rig.table.inbound[IN_SPI] = dataclasses.replace(
        binding, crypto_map=crypto_map, crypto_map_seq=seq
    )
    assert from_peer(rig, remote_packet()) == []
    assert only_drop(rig.counters()) is ForwardDropReason.POLICY


def test_decrypted_garbage_is_an_inner_malformed_drop() -> None:
    rig = make_rig()
    assert from_peer(rig, b"not an IPv4 packet") == []
    assert only_drop(rig.counters()) is ForwardDropReason.INNER_MALFORMED


@pytest.mark.parametrize("outside", [True, False])
def test_ike_behind_the_non_esp_marker_goes_to_the_ike_core(outside: bool) -> None:
    rig = make_rig(outside=outside)
    ike = bytes(range(28))
    assert rig.forwarder.from_outside(frame_ike(ike), PEER, 0) == [
        DeliverIke(ike_message=ike, src=PEER)
    ]
    counters = rig.counters()
    assert (counters.ike_messages, counters.total_drops) == (1, 0)


def test_nat_keepalive_is_ignored() -> None:
    rig = make_rig()
    assert rig.forwarder.from_outside(NAT_KEEPALIVE, PEER, 0) == []
    counters = rig.counters()
    assert (counters.keepalives, counters.total_drops) == (1, 0)


@pytest.mark.parametrize("payload", [b"", b"\x01\x02\x03", b"\x00\x00\x00\x00\x01"])
def test_invalid_udp_4500_payload_is_counted(payload: bytes) -> None:
    rig = make_rig()
    assert rig.forwarder.from_outside(payload, PEER, 0) == []
    assert only_drop(rig.counters()) is ForwardDropReason.INVALID_UDP_4500


def test_every_esp_drop_reason_is_counted_by_the_data_path() -> None:
    assert set(ESP_DROP_REASONS) == set(DropReason)
    assert len(set(ESP_DROP_REASONS.values())) == len(DropReason)


def test_counters_start_at_zero_with_every_reason() -> None:
    rig = make_rig()
    counters = rig.counters()
    assert set(counters.drops) == set(ForwardDropReason)
    assert counters == ForwardCounters()
    assert counters.total_drops == 0
    assert (rig.forwarder.crypto_map, [e.seq for e in rig.forwarder.entries]) == ("CMAP_1", [1])
    assert repr(rig.forwarder) == "Forwarder(crypto_map='CMAP_1', entries=1)"


def test_the_cleartext_tripwire_can_fire(monkeypatch: pytest.MonkeyPatch) -> None:
    """cleartext_permit_sent is not vacuous: a walk that misses the permit trips it."""
    monkeypatch.setattr(Forwarder, "_protection", lambda self, flow: None)
    rig = make_rig()
    assert rig.forwarder.from_lan(udp_packet(), 0) == [SendClear(ip_packet=udp_packet())]
    assert rig.counters().cleartext_permit_sent == 1


# -- Hypothesis: never raises, never leaks (I9) -------------------------------------------

addresses = st.one_of(
    st.integers(0, 2**32 - 1).map(IPv4Address),
    st.integers(0, 255).map(lambda host: REMOTE_LAN[host]),
)
protocols = st.one_of(st.sampled_from([1, TCP, UDP, 47, 50]), st.integers(0, 255))


@st.composite
def lan_packets(draw: st.DrawFn) -> bytes:
    """Valid IPv4 packets (often to the remote LAN), corrupted ones, and garbage."""
    kind = draw(st.sampled_from(["valid", "corrupt", "garbage"]))
    if kind == "garbage":
        return draw(st.binary(max_size=64))
    packet = build_ipv4(
        src=draw(addresses),
        dst=draw(addresses),
        protocol=draw(protocols),
        payload=draw(st.binary(max_size=40)),
        ttl=draw(st.integers(0, 255)),
    )
    if kind == "corrupt":
        index = draw(st.integers(0, len(packet) - 1))
        packet = (
            packet[:index]
            + bytes([packet[index] ^ draw(st.integers(1, 255))])
            + packet[index + 1 :]
        )
    return packet + draw(st.binary(max_size=4))


def is_protected(packet: bytes) -> bool:
    """The I9 oracle for ACL 100, from raw header bytes (no ACL code)."""
    return len(packet) >= 20 and IPv4Address(packet[16:20]) in REMOTE_LAN


@given(
    steps=st.lists(st.tuples(lan_packets(), st.booleans(), st.booleans()), min_size=1, max_size=8),
    with_sa=st.booleans(),
)
def test_random_lan_traffic_never_raises_and_never_leaks(
    steps: list[tuple[bytes, bool, bool]], with_sa: bool
) -> None:
    rig = make_rig(outbound_sa=with_sa)
    for packet, outside, inside in steps:
        rig.hsrp.outside, rig.hsrp.inside = outside, inside
        before = rig.counters()
        actions = rig.forwarder.from_lan(packet, now=0)
        after = rig.counters()
        # Each packet is accounted for exactly once: encrypted, clear, or a drop.
        handled = (
            after.encrypted_packets
            + after.clear_packets
            + after.total_drops
            - before.encrypted_packets
            - before.clear_packets
            - before.total_drops
        )
        assert handled == 1
        assert after.cleartext_permit_sent == 0
        for action in actions:
            if isinstance(action, SendClear):
                assert not is_protected(action.ip_packet)
                assert packet.startswith(action.ip_packet)
            else:
                assert outside, action  # nothing towards the tunnel from a non-Active router
                assert is_protected(packet)
        if is_protected(packet) and actions:
            (action,) = actions
            if with_sa:
                assert isinstance(action, SendEsp)
                (inner,) = decrypted(rig, [action])
                assert packet.startswith(inner)
            else:
                assert action == NeedSa(entry=rig.entry, peer=PEER)


@st.composite
def outside_payloads(draw: st.DrawFn) -> bytes:
    """Garbage, IKE, keepalives, SPI-prefixed garbage: the peer's ESP is added in the test."""
    return draw(
        st.one_of(
            st.binary(max_size=80),
            st.binary(max_size=40).map(frame_ike),
            st.just(NAT_KEEPALIVE),
            st.binary(min_size=4, max_size=80).map(lambda b: IN_SPI.to_bytes(4, "big") + b),
        )
    )


@given(
    steps=st.lists(
        st.tuples(
            st.one_of(outside_payloads(), lan_packets().map(lambda p: ("esp", p))),
            st.booleans(),
            st.booleans(),
            st.integers(0, 3),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_random_outside_traffic_never_raises_and_only_the_active_pair_delivers(
    steps: list[tuple[bytes | tuple[str, bytes], bool, bool, int]],
) -> None:
    rig = make_rig()
    sent: list[bytes] = []
    for item, outside, inside, replay in steps:
        rig.hsrp.outside, rig.hsrp.inside = outside, inside
        if isinstance(item, tuple):
            esp = rig.peer_outbound.encapsulate(item[1])
            assert isinstance(esp, bytes)
            sent.append(esp)
            payload = sent[-1 - replay] if replay < len(sent) else esp  # replays too
        else:
            payload = item
        before = rig.counters()
        delivered_before = rig.forwarder.delivered_packets
        actions = rig.forwarder.from_outside(payload, PEER, now=0)
        after = rig.counters()
        handled = sum(
            getattr(after, name) - getattr(before, name)
            for name in ("keepalives", "ike_messages", "delivered_packets", "total_drops")
        )
        assert handled == 1
        # The live driver learns "this packet reached the LAN" (its wire log's rx) from
        # the cheap counter alone: it must move, by one, exactly when a DeliverLan comes out.
        assert rig.forwarder.delivered_packets == after.delivered_packets
        assert rig.forwarder.delivered_packets - delivered_before == sum(
            isinstance(action, DeliverLan) for action in actions
        )
        assert sum(isinstance(action, DeliverLan) for action in actions) <= 1
        for action in actions:
            assert isinstance(action, DeliverLan | DeliverIke)
            if isinstance(action, DeliverLan):
                assert outside
                assert inside
                assert IPv4Address(action.ip_packet[12:16]) in REMOTE_LAN
    assert rig.counters().cleartext_permit_sent == 0


class ModuloGate:
    """A gate that refuses by sequence number (the same answers in twin rigs)."""

    def check(self, seq: int) -> ForwardDropReason | None:
        return ForwardDropReason.HELD_BACK if seq % 5 == 0 else None

    def accept(self, seq: int, size: int, now: int) -> ForwardDropReason | None:
        return ForwardDropReason.REPLAY if seq % 7 == 0 else None

    def decapsulate(
        self, sa: EspInboundSA, esp_packet: bytes, seq: int, now: int
    ) -> bytes | Drop | ForwardDropReason:
        return gated_decapsulate(self, sa, esp_packet, seq, now)


class ScriptedStop:
    """A ``stop`` callable that answers from a script (then False) and records its answers."""

    def __init__(self, answers: list[bool]) -> None:
        self.answers = iter(answers)
        self.asked: list[bool] = []

    def __call__(self) -> bool:
        self.asked.append(next(self.answers, False))
        return self.asked[-1]


WITHHELD_SPI = 0x0000_3003
OTHER_PEER = IPv4Address("192.168.3.9")


def twin_rig(gate: str) -> Rig:
    rig = make_rig()
    binding = rig.table.inbound[IN_SPI]
    if gate == "modulo":
        rig.table.inbound[IN_SPI] = dataclasses.replace(binding, gate=ModuloGate())
    rig.table.inbound_withheld[WITHHELD_SPI] = Withheld(reason=ForwardDropReason.STANDBY_COPY)
    return rig


@given(
    gate=st.sampled_from(["own-window", "modulo"]),
    batches=st.lists(
        st.tuples(
            st.lists(
                st.tuples(
                    st.one_of(
                        outside_payloads(),
                        lan_packets().map(lambda p: ("esp", p)),
                        st.just(("esp", b"")).map(lambda item: ("remote", item[1])),
                        st.just(("withheld", b"")),
                    ),
                    st.integers(0, 3),
                    st.sampled_from([PEER, OTHER_PEER, IPv4Address("192.168.3.1")]),
                ),
                max_size=12,
            ),
            st.booleans(),
            st.booleans(),
            st.lists(st.booleans(), max_size=12),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_a_batch_gives_what_one_call_per_payload_gives(
    gate: str,
    batches: list[
        tuple[list[tuple[bytes | tuple[str, bytes], int, IPv4Address]], bool, bool, list[bool]]
    ],
) -> None:
    """``from_outside_batch`` (each non-ESP payload through ``from_outside``, as the router
    does) against ``from_outside`` per payload on a twin: the same delivered packets and
    IKE messages in the same order, the same forwarder and SA counters; and it returns
    exactly at a payload that is not ESP, after a packet where ``stop()`` said True, or
    at the end."""
    one, many = twin_rig(gate), twin_rig(gate)
    sent: list[bytes] = []
    for items, outside, inside, stops in batches:
        for rig in (one, many):
            rig.hsrp.outside, rig.hsrp.inside = outside, inside
        payloads: list[bytes] = []
        sources: list[IPv4Address] = []
        for item, replay, source in items:
            if isinstance(item, tuple):
                kind, inner = item
                if kind == "withheld":
                    payload = WITHHELD_SPI.to_bytes(4, "big") + bytes(40)
                else:
                    esp = one.peer_outbound.encapsulate(inner if inner else remote_packet())
                    assert isinstance(esp, bytes)
                    sent.append(esp)
                    payload = sent[-1 - replay] if replay < len(sent) else esp
            else:
                payload = item
            payloads.append(payload)
            sources.append(source)
        expected: list[object] = []
        for payload, source in zip(payloads, sources, strict=True):
            for action in one.forwarder.from_outside(payload, source, now=5):
                expected.append(action.ip_packet if isinstance(action, DeliverLan) else action)
        got: list[object] = []
        accepted: list[bytes] = []
        stop = ScriptedStop(stops)
        asked = stop.asked
        index = 0
        while index < len(payloads):
            delivered: list[bytes] = []
            asked.clear()
            stopped = many.forwarder.from_outside_batch(
                payloads, sources, index, 5, delivered=delivered, accepted=accepted, stop=stop
            )
            got += delivered
            # Asked before every payload but the first; only the last answer was True.
            assert len(asked) in (stopped - index - 1, stopped - index)
            assert not any(asked[:-1])
            if asked and asked[-1]:
                assert stopped == index + len(asked)
            elif stopped < len(payloads):  # at a payload that is not ESP
                assert not _ESP_HEADER_SPI(payloads[stopped])
            if stopped == index:
                got += many.forwarder.from_outside(payloads[index], sources[index], now=5)
                index += 1
                continue
            index = stopped
        assert got == expected
        assert len(accepted) == sum(isinstance(item, bytes) for item in expected)
        assert one.counters() == many.counters()
        assert one.forwarder.delivered_packets == many.forwarder.delivered_packets
        assert one.table.inbound[IN_SPI].sa.counters() == many.table.inbound[IN_SPI].sa.counters()


def lan_twin(kind: str) -> Rig:
    """A rig whose outbound SA is there, missing, withheld (a rekey or not), or about to
    run out of sequence numbers."""
    rig = make_rig(outbound_sa=kind != "no-sa", next_seq=SEQ_MAX - 1 if kind == "exhausting" else 1)
    key = (rig.entry.name, rig.entry.seq, PEER)
    if kind.startswith("withheld"):
        reason = (
            ForwardDropReason.LIFETIME if kind == "withheld-rekey" else ForwardDropReason.HELD_BACK
        )
        rig.table.withheld[key] = Withheld(reason=reason, rekey=kind == "withheld-rekey")
    return rig


@given(
    kind=st.sampled_from(["sa", "no-sa", "withheld", "withheld-rekey", "exhausting"]),
    batches=st.lists(
        st.tuples(
            st.lists(
                st.one_of(
                    lan_packets(),
                    st.tuples(st.integers(0, 3), st.integers(0, 3)).map(
                        lambda flow_pad: (
                            udp_packet(src_port=40000 + flow_pad[0]) + bytes(flow_pad[1])
                        )
                    ),
                ),
                max_size=12,
            ),
            st.booleans(),
            st.lists(st.booleans(), max_size=12),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_a_lan_batch_gives_what_one_call_per_packet_gives(
    kind: str, batches: list[tuple[list[bytes], bool, list[bool]]]
) -> None:
    """``from_lan_batch`` (the actions it hands back carried out in order, as the router
    does) against ``from_lan`` per packet on a twin: the same ESP packets (SPI, sequence
    number, octets) and other actions in the same order, the same counters, the same SA
    table calls; and it returns exactly at the end, after a packet with other actions,
    or after a packet where ``stop()`` said True."""
    one, many = lan_twin(kind), lan_twin(kind)
    for packets, outside, stops in batches:
        for rig in (one, many):
            rig.hsrp.outside = outside
        expected: list[object] = []
        for packet in packets:
            for action in one.forwarder.from_lan(packet, now=5):
                if isinstance(action, SendEsp):
                    expected.append((action.peer, action.spi, action.seq, action.udp_payload))
                else:
                    expected.append(action)
        got: list[object] = []
        stop = ScriptedStop(stops)
        index = 0
        while index < len(packets):
            sent: list[tuple[IPv4Address, int, int, bytes]] = []
            stop.asked.clear()
            stopped, actions = many.forwarder.from_lan_batch(
                packets, index, 5, sent=sent, stop=stop
            )
            got += sent
            got += actions
            assert stopped > index
            # Asked before every packet but the first; only the last answer was True.
            assert not any(stop.asked[:-1])
            if stop.asked and stop.asked[-1]:
                assert (len(stop.asked), actions) == (stopped - index, [])
            else:
                assert len(stop.asked) == stopped - index - 1
                assert stopped == len(packets) or actions
            index = stopped
        assert got == expected
        assert one.counters() == many.counters()
        assert one.table.sizes == many.table.sizes


def _ESP_HEADER_SPI(payload: bytes) -> int:  # noqa: N802 (reads like the header field)
    """The SPI an ESP header would carry (0: not ESP, as the forwarder sorts it)."""
    return int.from_bytes(payload[:4], "big") if len(payload) >= 8 else 0


@given(packet=st.one_of(lan_packets(), st.binary(max_size=60)))
def test_the_per_packet_header_check_agrees_with_flow_of(packet: bytes) -> None:
    """``from_lan``'s integer fast path and ``flow_of`` accept and read the same packets."""
    fast = _flow_key(packet)
    slow = flow_of(packet)
    assert (fast is None) == (slow is None)
    if fast is not None and slow is not None:
        flow, trimmed = slow
        key, total = fast
        assert _flow_from_key(key) == flow
        assert total == len(trimmed)


@st.composite
def packets_with_options(draw: st.DrawFn) -> bytes:
    """A valid packet given IPv4 options (1-10 words), with its checksum made good."""
    packet = bytearray(draw(lan_packets()))
    if len(packet) < 20 or packet[0] != 0x45:
        return bytes(packet)
    words = draw(st.integers(1, 10))
    options = draw(st.binary(min_size=4 * words, max_size=4 * words))
    total = int.from_bytes(packet[2:4], "big") + len(options)
    header = bytearray(packet[:20])
    header[0] = 0x45 + words
    header[2:4] = min(total, 0xFFFF).to_bytes(2, "big")
    header[10:12] = b"\0\0"
    header += options
    header[10:12] = internet_checksum(bytes(header)).to_bytes(2, "big")
    return bytes(header + packet[20:])


@given(packet=st.one_of(lan_packets(), packets_with_options(), st.binary(max_size=60)))
def test_the_usual_header_path_reads_what_the_general_one_reads(packet: bytes) -> None:
    """``_flow_key``'s one-call path for a 20-octet header agrees with ``_flow_key_any``."""
    assert _flow_key(packet) == _flow_key_any(packet)


def test_decisions_are_cached_per_flow_and_the_cache_is_bounded() -> None:
    rig = make_rig()
    for port in range(5000):
        rig.forwarder.from_lan(udp_packet(src_port=port % 65536), now=0)
    assert rig.counters().encrypted_packets == 5000
    assert len(rig.forwarder._decisions) <= 4096


def test_per_packet_builders_make_the_constructors_records() -> None:
    """``_send_esp`` and ``_deliver_lan`` set every field (comparing reads each one) and
    build the same frozen record as the class itself."""
    built = _send_esp(PEER, 0x1234, 7, b"esp")
    assert built == SendEsp(peer=PEER, spi=0x1234, seq=7, udp_payload=b"esp")
    assert repr(built) == repr(SendEsp(peer=PEER, spi=0x1234, seq=7, udp_payload=b"esp"))
    assert _deliver_lan(b"inner") == DeliverLan(ip_packet=b"inner")
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.seq = 8  # type: ignore[misc]
