"""impl/router: ``receive_udp4500_batch`` gives exactly what the calls one by one give.

Two identical clusters (the shipped routers with fast HSRP timers, no standby delay,
software crypto and a small inbound replay interval, SSP up, one SA pair installed on
the active and replicated) are driven side by side: twin A takes each UDP 4500 payload
with ``receive_udp4500``, twin B takes the same payloads with one
``receive_udp4500_batch``. Hypothesis draws the mixes — valid packets in and out of
order, replays, forgeries, unknown SPIs, truncations, wrong sources, bad inner packets,
keepalives, IKE and garbage — and what happens between batches (the standby's
acknowledgements delivered or held, time passing, the kilobyte lifetime running out).
After every batch the outputs (in order), the events, the ESP payloads reported
delivered, every counter, the SA records and the deadline must be the same on both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from vpnha.impl.config import parse_config
from vpnha.impl.entropy import SeededEntropy
from vpnha.impl.errors import LocalProtocolError
from vpnha.impl.esp import (
    NAT_KEEPALIVE,
    EspOutboundSA,
    build_ipv4,
    build_udp,
    esp_transform,
    frame_ike,
)
from vpnha.impl.forward import ForwardDropReason, InboundSa, gated_decapsulate
from vpnha.impl.router import (
    DeviceRole,
    Event,
    Output,
    Router,
    SendHsrp,
    SendLan,
    SspOpen,
    SspShut,
    SspWrite,
)
from vpnha.impl.sadb import IpsecSaPair, NewIpsecSa

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
START_MS = 1_000
PEER = IPv4Address("192.168.3.1")
LAN_HOST = IPv4Address("172.16.31.50")
REMOTE_HOST = IPv4Address("192.168.4.10")
INBOUND_SPI = 0x257A1039
OUTBOUND_SPI = 0x20890A6F
LIFETIME_S = 3600
TRANSFORMS = {
    "gcm": (("esp-gcm",), 20, 0),
    "3des-sha": (("esp-3des", "esp-sha-hmac"), 24, 20),
}
"""Transform set: (transform names, encryption key octets, integrity key octets)."""


def _config_text(name: str, inbound: int) -> str:
    text = (EXAMPLES / name).read_text()
    for old, new in {
        "vpnha crypto-card vam\n": "vpnha crypto-card none\n",
        " standby delay minimum 30 reload 60\n": " standby delay minimum 0 reload 0\n",
        " standby 1 timers msec 500 3\n": " standby 1 timers msec 100 msec 300\n",
        " standby 2 timers msec 500 3\n": " standby 2 timers msec 100 msec 300\n",
        " match address 100\n!\n": (
            f" match address 100\n!\ncrypto map CMAP_1 ha replay-interval inbound {inbound}\n!\n"
        ),
    }.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


class Cluster:
    """The two routers wired back to back (HSRP and SSP delivered at once); router 0 is
    the active one once settled. SSP octets to the standby can be held back."""

    def __init__(
        self, *, inbound: int, lifetime_kb: int, transform: str, replicated: bool = True
    ) -> None:
        self.now = START_MS
        self.replicated = replicated
        """False: SSP never connects (no copy to protect: no hold-back, the lifetime bites)."""
        self.routers = [
            Router(
                parse_config(_config_text(name, inbound)),
                entropy=SeededEntropy(seed),
                now=self.now,
            )
            for seed, name in enumerate(("router1.cfg", "router2.cfg"))
        ]
        self.held: list[SspWrite] = []
        self.hold = False
        self.events: list[list[Event]] = [[], []]
        self.run(2_000)
        assert [r.role for r in self.routers] == [DeviceRole.ACTIVE, DeviceRole.STANDBY]
        names, encryption, integrity = TRANSFORMS[transform]
        keys = SeededEntropy(7)
        self.encryption_key = keys.token_bytes(encryption)
        self.integrity_key = keys.token_bytes(integrity)
        installed = self.routers[0].install_sa(
            NewIpsecSa(
                peer=PEER,
                crypto_map="CMAP_1",
                crypto_map_seq=1,
                local_proxy=IPv4Network("172.16.31.0/24"),
                remote_proxy=IPv4Network("192.168.4.0/24"),
                inbound_spi=INBOUND_SPI,
                outbound_spi=OUTBOUND_SPI,
                transforms=names,
                inbound_encryption_key=self.encryption_key,
                outbound_encryption_key=bytes(encryption),
                inbound_integrity_key=self.integrity_key,
                outbound_integrity_key=bytes(integrity),
                expiry_ms=self.now + LIFETIME_S * 1000,
                lifetime_kilobytes=lifetime_kb,
            ),
            self.now,
        )
        assert isinstance(installed, IpsecSaPair)
        self.run(100)

    def deliver(self, sender: int, outputs: list[Output]) -> None:
        """Hand ``sender``'s HSRP and SSP outputs to the other router (SSP octets to the
        standby wait in ``held`` while ``hold`` is set)."""
        other = self.routers[1 - sender]
        for output in outputs:
            if isinstance(output, SendHsrp):
                other.receive_hsrp(output.side, output.payload, output.src, self.now)
            elif isinstance(output, SspOpen):
                if self.replicated and other.ssp_accept(output.src, self.now):
                    self.routers[sender].ssp_connected(self.now)
                else:
                    self.routers[sender].ssp_connect_failed(self.now)
            elif isinstance(output, SspWrite):
                if sender == 0 and (self.hold or self.held):
                    self.held.append(output)
                else:
                    other.ssp_receive(output.data, self.now)
            elif isinstance(output, SspShut):
                other.ssp_receive(b"", self.now)

    def release(self) -> None:
        """Deliver the SSP octets held back, in order."""
        held, self.held = self.held, []
        for output in held:
            self.routers[1].ssp_receive(output.data, self.now)

    def pump(self) -> None:
        busy = True
        while busy:
            busy = False
            for index, router in enumerate(self.routers):
                outputs = router.outputs()
                busy |= bool(outputs)
                self.deliver(index, outputs)
                while (event := router.next_event()) is not None:
                    self.events[index].append(event)

    def run(self, ms: int) -> None:
        end = self.now + ms
        self.pump()
        while True:
            deadlines = [d for r in self.routers if (d := r.get_timer()) is not None]
            if not deadlines or min(deadlines) > end:
                break
            self.now = max(self.now, min(deadlines))
            for router in self.routers:
                router.handle_timer(self.now)
            self.pump()
        self.now = end


# -- the packets of a batch ------------------------------------------------------------------


@dataclass
class Peer:
    """The remote peer's side of the inbound SA: ESP packets by sequence number."""

    transform: str
    encryption_key: bytes
    integrity_key: bytes
    next_seq: int = 1
    sent: list[bytes] = field(default_factory=list)

    def esp(self, seq: int, inner: bytes, spi: int = INBOUND_SPI) -> bytes:
        names = TRANSFORMS[self.transform][0]
        sa = EspOutboundSA(
            spi=spi,
            transform=esp_transform(names[0], names[1] if len(names) > 1 else None),
            encryption_key=self.encryption_key,
            integrity_key=self.integrity_key,
            entropy=SeededEntropy(seq),
            next_seq=seq,
        )
        packet = sa.encapsulate(inner)
        assert isinstance(packet, bytes)
        self.sent.append(packet)
        return packet


def remote_packet(size: int, *, src: IPv4Address = REMOTE_HOST, padding: int = 0) -> bytes:
    udp = build_udp(src=src, dst=LAN_HOST, src_port=5001, dst_port=5001, payload=bytes(size))
    return build_ipv4(src=src, dst=LAN_HOST, protocol=17, payload=udp) + bytes(padding)


VALID = st.tuples(st.just("new"), st.integers(1, 3))
ITEMS = st.one_of(
    VALID,
    VALID,
    VALID,
    VALID,
    st.tuples(st.just("jump"), st.integers(4, 60)),
    st.tuples(st.just("late"), st.integers(1, 80)),
    st.tuples(st.just("replay"), st.integers(0, 1000)),
    st.tuples(st.just("forged"), st.integers(0, 1000)),
    st.tuples(st.just("truncated"), st.integers(0, 60)),
    st.tuples(st.just("unknown-spi"), st.just(0)),
    st.tuples(st.just("wrong-source"), st.just(0)),
    st.tuples(st.just("equal-source"), st.just(0)),
    st.tuples(st.just("policy"), st.just(0)),
    st.tuples(st.just("inner-garbage"), st.just(0)),
    st.tuples(st.just("padded"), st.integers(1, 9)),
    st.tuples(st.just("big"), st.integers(200, 1400)),
    st.tuples(st.just("keepalive"), st.just(0)),
    st.tuples(st.just("ike"), st.integers(0, 40)),
    st.tuples(st.just("zeros"), st.integers(0, 12)),
)


def build_batch(peer: Peer, items: list[tuple[str, int]]) -> list[tuple[bytes, IPv4Address]]:
    """The payloads and their sources (``PEER`` itself, or an equal or another address)."""
    batch: list[tuple[bytes, IPv4Address]] = []
    for kind, value in items:
        src = PEER
        inner = remote_packet(64)
        if kind in ("new", "jump"):
            peer.next_seq += value if kind == "jump" else value - 1
            payload = peer.esp(peer.next_seq, inner)
            peer.next_seq += 1
        elif kind == "late":
            payload = peer.esp(max(1, peer.next_seq - value), inner)
        elif kind == "replay" and peer.sent:
            payload = peer.sent[value % len(peer.sent)]
        elif kind == "forged":
            good = peer.esp(peer.next_seq, inner)
            position = 8 + value % (len(good) - 8)
            payload = good[:position] + bytes([good[position] ^ 0x40]) + good[position + 1 :]
        elif kind == "truncated":
            payload = peer.esp(peer.next_seq, inner)[:value]
            if not payload[:4].strip(b"\0"):
                payload = b"\xff" + payload[1:]  # still ESP (a non-zero SPI), or garbage
        elif kind == "unknown-spi":
            payload = peer.esp(peer.next_seq, inner, spi=INBOUND_SPI + 1)
        elif kind in ("wrong-source", "equal-source"):
            payload = peer.esp(peer.next_seq, inner)
            peer.next_seq += 1
            src = IPv4Address("192.168.3.2" if kind == "wrong-source" else "192.168.3.1")
        elif kind in ("policy", "inner-garbage", "padded", "big"):
            if kind == "policy":
                inner = remote_packet(64, src=IPv4Address("10.1.2.3"))
            elif kind == "inner-garbage":
                inner = b"\x45" + bytes(30)
            elif kind == "padded":
                inner = remote_packet(64, padding=value)
            else:
                inner = remote_packet(value)
            payload = peer.esp(peer.next_seq, inner)
            peer.next_seq += 1
        elif kind == "keepalive":
            payload = NAT_KEEPALIVE
        elif kind == "ike":
            payload = frame_ike(bytes(range(value)))
        else:  # zeros (or a replay before anything was sent)
            payload = bytes(value % 13)
        batch.append((payload, src))
    return batch


LAN_ITEMS = st.one_of(
    st.tuples(st.just("protected"), st.integers(0, 3)),
    st.tuples(st.just("protected"), st.integers(0, 3)),
    st.tuples(st.just("protected"), st.integers(0, 3)),
    st.tuples(st.just("new-flow"), st.integers(4, 60000)),
    st.tuples(st.just("clear"), st.integers(0, 3)),
    st.tuples(st.just("padded"), st.integers(1, 9)),
    st.tuples(st.just("big"), st.integers(200, 1400)),
    st.tuples(st.just("malformed"), st.integers(0, 30)),
)


def build_lan_batch(items: list[tuple[str, int]]) -> list[bytes]:
    """LAN packets: protected (to the remote LAN, on a few flows or a new one), in the
    clear (elsewhere), with link-layer padding, large, or malformed."""
    packets = []
    for kind, value in items:
        dst = IPv4Address("10.9.8.7") if kind == "clear" else REMOTE_HOST
        port = 5001 + value if kind in ("protected", "clear", "new-flow") else 5001
        size = value if kind == "big" else 64
        udp = build_udp(src=LAN_HOST, dst=dst, src_port=port, dst_port=5001, payload=bytes(size))
        packet = build_ipv4(src=LAN_HOST, dst=dst, protocol=17, payload=udp)
        if kind == "padded":
            packet += bytes(value)
        elif kind == "malformed":
            packet = packet[:value]
        packets.append(packet)
    return packets


# -- the twins ---------------------------------------------------------------------------


def observe(cluster: Cluster) -> tuple[object, ...]:
    """Everything the two routers count and hold that the data path can change."""
    seen: list[object] = [cluster.now]
    for router in cluster.routers:
        seen += [
            router.forwarder.counters(),
            router.sadb.counters,
            router.sadb.ipsec_sas(),
            router.get_timer(),
            router.ssp_counters(),
            router.sa_table.unsupported_packets,
        ]
        seen += [router.sa_table.esp_counters(sa) for sa in router.sadb.ipsec_sas()]
    return tuple(seen)


class BatchAgreement(RuleBasedStateMachine):
    """Twin A one call per payload, twin B one batch: the same outputs, events, accepted
    payloads, counters, records and deadline after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.twins: tuple[Cluster, Cluster] | None = None
        self.peer = Peer("gcm", b"", b"")

    @initialize(
        inbound=st.sampled_from([1, 3, 20, 1000, 1000]),
        lifetime_kb=st.sampled_from([1, 4_608_000]),
        transform=st.sampled_from(sorted(TRANSFORMS)),
        replicated=st.sampled_from([True, True, False]),
    )
    def start(self, inbound: int, lifetime_kb: int, transform: str, replicated: bool) -> None:
        twins = tuple(
            Cluster(
                inbound=inbound,
                lifetime_kb=lifetime_kb,
                transform=transform,
                replicated=replicated,
            )
            for _ in range(2)
        )
        self.twins = (twins[0], twins[1])
        self.peer = Peer(transform, twins[0].encryption_key, twins[0].integrity_key)

    def _twins(self) -> tuple[Cluster, Cluster]:
        assert self.twins is not None
        return self.twins

    @rule(items=st.lists(ITEMS, min_size=1, max_size=60), index=st.sampled_from([0] * 5 + [1]))
    def batch(self, items: list[tuple[str, int]], index: int) -> None:
        one, many = self._twins()
        batch = build_batch(self.peer, items)
        payloads = [payload for payload, _ in batch]
        sources = [src for _, src in batch]
        router = one.routers[index]
        delivered: list[bytes] = []
        for payload, src in batch:
            before = router.forwarder.delivered_packets
            router.receive_udp4500(payload, src, one.now)
            if router.forwarder.delivered_packets != before:
                delivered.append(payload)
        accepted = many.routers[index].receive_udp4500_batch(payloads, sources, many.now)
        assert accepted == delivered
        outputs = [router.outputs(), many.routers[index].outputs()]
        assert outputs[0] == outputs[1]
        assert [type(o) for o in outputs[0] if isinstance(o, SendLan)] == [SendLan] * len(delivered)
        for cluster, produced in zip((one, many), outputs, strict=True):
            cluster.deliver(index, produced)
            cluster.pump()

    @rule(items=st.lists(LAN_ITEMS, min_size=1, max_size=60), index=st.sampled_from([0] * 5 + [1]))
    def lan_batch(self, items: list[tuple[str, int]], index: int) -> None:
        one, many = self._twins()
        packets = build_lan_batch(items)
        for packet in packets:
            one.routers[index].receive_lan(packet, one.now)
        many.routers[index].receive_lan_batch(packets, many.now)
        outputs = [one.routers[index].outputs(), many.routers[index].outputs()]
        assert outputs[0] == outputs[1]
        for cluster, produced in zip((one, many), outputs, strict=True):
            cluster.deliver(index, produced)
            cluster.pump()

    @rule(hold=st.booleans())
    def acknowledgements(self, hold: bool) -> None:
        """Hold the active's SSP octets back (no ACK: the hold-back lines stay), or
        deliver them and everything they cause."""
        for cluster in self._twins():
            cluster.hold = hold
            if not hold:
                cluster.release()
            cluster.pump()

    @rule(ms=st.sampled_from([1, 50, 1_000]))
    def advance(self, ms: int) -> None:
        for cluster in self._twins():
            cluster.run(ms)

    @invariant()
    def twins_agree(self) -> None:
        if self.twins is None:
            return
        one, many = self.twins
        assert observe(one) == observe(many)
        assert one.events == many.events
        assert one.held == many.held


TestBatchAgreement = BatchAgreement.TestCase
TestBatchAgreement.settings = settings(max_examples=150, stateful_step_count=15, deadline=None)


@given(
    items=st.lists(ITEMS, min_size=1, max_size=40),
    inbound=st.sampled_from([1, 20, 1000]),
    lifetime_kb=st.sampled_from([1, 4_608_000]),
    replicated=st.booleans(),
)
@settings(max_examples=40, deadline=None)
def test_the_fused_gate_answers_what_check_decapsulate_accept_answer(
    items: list[tuple[str, int]], inbound: int, lifetime_kb: int, replicated: bool
) -> None:
    """The SA database's gate, one call per packet (``decapsulate``) on twin A and the
    reference sequence (``gated_decapsulate``: ``check``, the SA, ``accept``) on twin B:
    the same answers, counters, records and deadline."""
    one, many = (
        Cluster(
            inbound=inbound, lifetime_kb=lifetime_kb, transform="3des-sha", replicated=replicated
        )
        for _ in range(2)
    )
    peer = Peer("3des-sha", one.encryption_key, one.integrity_key)
    bindings = [c.routers[0].sa_table.inbound_sa(INBOUND_SPI) for c in (one, many)]
    assert isinstance(bindings[0], InboundSa)
    assert isinstance(bindings[1], InboundSa)
    fused, reference = bindings
    assert fused.gate is not None
    assert reference.gate is not None
    for payload, _ in build_batch(peer, items):
        if len(payload) < 8 or int.from_bytes(payload[:4], "big") != INBOUND_SPI:
            continue  # not for this SA
        seq = int.from_bytes(payload[4:8], "big")
        answer = fused.gate.decapsulate(fused.sa, payload, seq, one.now)
        expected = gated_decapsulate(reference.gate, reference.sa, payload, seq, many.now)
        assert answer == expected
        assert observe(one) == observe(many)


def test_counter_updates_go_out_after_their_own_packet_and_the_line_holds() -> None:
    """120 valid packets with inbound interval 100, nothing acknowledged: a counter
    update falls due at packets 50 and 100, so the batch stops there and each update's
    SSP octets sit right after that packet's LAN output, as with the calls one by one;
    the last 20 are held back (floor 0 + 100)."""
    one, many = (Cluster(inbound=100, lifetime_kb=4_608_000, transform="gcm") for _ in range(2))
    peer = Peer("gcm", one.encryption_key, one.integrity_key)
    batch = build_batch(peer, [("new", 1)] * 120)
    for payload, src in batch:
        one.routers[0].receive_udp4500(payload, src, one.now)
    accepted = many.routers[0].receive_udp4500_batch(
        [p for p, _ in batch], [s for _, s in batch], many.now
    )
    outputs = one.routers[0].outputs()
    assert outputs == many.routers[0].outputs()
    assert accepted == [p for p, _ in batch[:100]]
    kinds = [type(o).__name__ for o in outputs]
    assert kinds == ["SendLan"] * 50 + ["SspWrite"] + ["SendLan"] * 50 + ["SspWrite"]
    assert observe(one) == observe(many)
    assert many.routers[0].forwarder.counters().dropped(ForwardDropReason.HELD_BACK) == 20


def test_the_kilobyte_lifetime_runs_out_inside_a_batch() -> None:
    """No standby copy (no hold-back): the 2-kilobyte lifetime is reached at the 23rd
    packet, the rest are lifetime drops, and the spent SA brings the deadline to now."""
    one, many = (
        Cluster(inbound=1000, lifetime_kb=2, transform="3des-sha", replicated=False)
        for _ in range(2)
    )
    peer = Peer("3des-sha", one.encryption_key, one.integrity_key)
    batch = build_batch(peer, [("new", 1)] * 30 + [("keepalive", 0)] + [("new", 1)] * 3)
    for payload, src in batch:
        one.routers[0].receive_udp4500(payload, src, one.now)
    accepted = many.routers[0].receive_udp4500_batch(
        [p for p, _ in batch], [s for _, s in batch], many.now
    )
    assert one.routers[0].outputs() == many.routers[0].outputs()
    assert len(accepted) == 23
    assert observe(one) == observe(many)
    assert many.routers[0].get_timer() == many.now
    assert many.routers[0].forwarder.counters().dropped(ForwardDropReason.LIFETIME) == 10


def test_sources_must_match_the_payloads() -> None:
    cluster = Cluster(inbound=1000, lifetime_kb=4_608_000, transform="gcm")
    with pytest.raises(LocalProtocolError, match="2 payloads but 1 source"):
        cluster.routers[0].receive_udp4500_batch([b"", b""], [PEER], cluster.now)
    assert cluster.routers[0].receive_udp4500_batch([], [], cluster.now) == []
