"""impl/ssp core: two SspConnections wired through an in-test pipe.

The pipe delivers the TCP byte stream in chunks the test (or Hypothesis) chooses, with
an optional latency, and steps a simulated clock from deadline to deadline.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Network, IPv6Address
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vpnha.impl.config import SspGroup
from vpnha.impl.entropy import SeededEntropy
from vpnha.impl.errors import LocalProtocolError
from vpnha.impl.ssp import (
    MAX_BODY_LEN,
    Ack,
    BulkBegin,
    BulkEnd,
    Closed,
    ConnectionState,
    CounterKind,
    CounterUpdate,
    DeviceRole,
    Doi,
    Dropped,
    DropReason,
    Established,
    Event,
    Hello,
    IpsecSaAdd,
    Keepalive,
    Message,
    MessageReceived,
    PeerDead,
    Refuse,
    ResyncRequest,
    RoleChange,
    SaDelete,
    SspConfig,
    SspConnection,
    SspListener,
    accept_remote,
    decode_frame,
    encode_frame_for,
)
from vpnha.impl.ssp.core import _FRAME_RULES, RECEIVING_STATES, FrameKind
from vpnha.impl.ssp.wire import HEADER_LEN, FrameHeader, hello_key, session_key

T = TypeVar("T")
START_MS = 1_000_000
PSK = b"ssp group 1 test key"
HELLO_MS = 1000
DEAD_MS = 3000


def config(
    hostname: str,
    *,
    is_client: bool,
    psk: bytes = PSK,
    group_id: int = 1,
    max_body_len: int = MAX_BODY_LEN,
) -> SspConfig:
    return SspConfig(
        hostname=hostname,
        group_id=group_id,
        pre_shared_key=psk,
        is_client=is_client,
        hello_interval_ms=HELLO_MS,
        dead_interval_ms=DEAD_MS,
        max_body_len=max_body_len,
    )


def client(
    seed: int = 1, *, psk: bytes = PSK, group_id: int = 1, max_body_len: int = MAX_BODY_LEN
) -> SspConnection:
    settings = config("R1", is_client=True, psk=psk, group_id=group_id, max_body_len=max_body_len)
    return SspConnection(settings, SeededEntropy(seed))


def server(
    seed: int = 2, *, psk: bytes = PSK, group_id: int = 1, max_body_len: int = MAX_BODY_LEN
) -> SspConnection:
    settings = config("R2", is_client=False, psk=psk, group_id=group_id, max_body_len=max_body_len)
    return SspConnection(settings, SeededEntropy(seed))


def drain(connection: SspConnection) -> list[Event]:
    events = []
    while (event := connection.next_event()) is not None:
        events.append(event)
    return events


def of_type(events: list[Event], kind: type[T]) -> list[T]:
    return [event for event in events if isinstance(event, kind)]


def chunked(data: bytes, sizes: list[int]) -> Iterator[bytes]:
    """``data`` cut into pieces of the given sizes, cycled."""
    position, index = 0, 0
    while position < len(data):
        size = sizes[index % len(sizes)]
        yield data[position : position + size]
        position += size
        index += 1


def split_frames(stream: bytes) -> list[bytes]:
    frames = []
    while stream:
        size = FrameHeader.parse(stream).frame_length
        frames.append(stream[:size])
        stream = stream[size:]
    return frames


@dataclass
class Pipe:
    """Two connections, a TCP stream each way, and a clock."""

    a: SspConnection
    b: SspConnection
    now: int = START_MS
    latency_ms: int = 0
    chunks_ab: list[int] = field(default_factory=lambda: [1 << 30])
    chunks_ba: list[int] = field(default_factory=lambda: [1 << 30])
    cut: bool = False
    """While set, everything sent either way is lost (the stream stalls)."""
    events: dict[str, list[Event]] = field(default_factory=lambda: {"a": [], "b": []})
    in_flight: list[tuple[int, str, bytes]] = field(default_factory=list)
    stream_ab: bytearray = field(default_factory=bytearray)
    stream_ba: bytearray = field(default_factory=bytearray)

    def start(self) -> None:
        self.a.start(self.now, role=DeviceRole.ACTIVE)
        self.b.start(self.now, role=DeviceRole.STANDBY)
        self.pump()

    def pump(self) -> None:
        """Move bytes until nothing more is due at ``now``."""
        while True:
            for name, connection in (("a", self.a), ("b", self.b)):
                data = connection.data_to_send()
                (self.stream_ab if name == "a" else self.stream_ba).extend(data)
                if data and not self.cut:
                    self.in_flight.append((self.now + self.latency_ms, name, data))
            due = [item for item in self.in_flight if item[0] <= self.now]
            if not due:
                break
            self.in_flight = [item for item in self.in_flight if item[0] > self.now]
            for _, sender, data in due:
                receiver = self.b if sender == "a" else self.a
                sizes = self.chunks_ab if sender == "a" else self.chunks_ba
                for piece in chunked(data, sizes):
                    receiver.receive_data(piece, self.now)
        self.events["a"] += drain(self.a)
        self.events["b"] += drain(self.b)

    def run_until(self, end_ms: int) -> None:
        """Advance the clock to ``end_ms``, firing timers and deliveries in order."""
        while True:
            deadlines = [t for t in (self.a.get_timer(), self.b.get_timer()) if t is not None]
            deadlines += [arrival for arrival, _, _ in self.in_flight]
            upcoming = [t for t in deadlines if t <= end_ms]
            if not upcoming:
                break
            self.now = max(self.now, min(upcoming))
            for connection in (self.a, self.b):
                timer = connection.get_timer()
                if timer is not None and timer <= self.now:
                    connection.handle_timer(self.now)
            self.pump()
        self.now = end_ms


def established_pipe() -> Pipe:
    pipe = Pipe(client(), server())
    pipe.start()
    assert pipe.a.established
    assert pipe.b.established
    return pipe


SA = IpsecSaAdd(
    sa_id=7,
    peer=IPv4Address("172.168.3.1"),
    crypto_map="mymap",
    crypto_map_seq=10,
    local_proxy=IPv4Network("192.168.1.0/24"),
    remote_proxy=IPv4Network("5.6.0.0/16"),
    inbound_spi=0xD8C8635F,
    outbound_spi=0x132ED6AB,
    transforms=("esp-aes 256", "esp-sha-hmac"),
    inbound_encryption_key=b"k" * 32,
    outbound_encryption_key=b"K" * 32,
    inbound_integrity_key=b"i" * 20,
    outbound_integrity_key=b"I" * 20,
    lifetime_expiry_ms=START_MS + 3_600_000,
    lifetime_kilobytes=4_608_000,
    outbound_seq=1,
    inbound_right_edge=0,
    inbound_bitmap=bytes(8),
    bytes_used=0,
)

replication = st.one_of(
    st.just(SA),
    st.builds(
        CounterUpdate,
        doi=st.just(Doi.IPSEC),
        sa_id=st.integers(0, 9),
        kind=st.sampled_from([CounterKind.OUTBOUND_SEQ, CounterKind.INBOUND_EDGE]),
        value=st.integers(0, 2**64 - 1),
    ),
    st.builds(SaDelete, doi=st.sampled_from([Doi.IPSEC, Doi.IKE]), sa_id=st.integers(0, 9)),
    st.builds(Ack, doi=st.just(Doi.IPSEC), acked_seq=st.integers(0, 99), applied_value=st.just(0)),
    st.builds(RoleChange, role=st.sampled_from(DeviceRole), answer_requested=st.booleans()),
    st.builds(ResyncRequest, doi=st.sampled_from([Doi.IPSEC, Doi.IKE])),
    st.builds(BulkBegin, doi=st.just(Doi.IKE), entry_count=st.integers(0, 5)),
    st.builds(BulkEnd, doi=st.just(Doi.IKE), entry_count=st.integers(0, 5)),
    st.builds(
        Refuse,
        doi=st.just(Doi.IPSEC),
        refused_seq=st.just(3),
        sa_id=st.just(7),
        reason=st.just("VAM full"),
    ),
)
CHUNK_SIZES = st.lists(st.integers(1, 97), min_size=1, max_size=12)

# ------------------------------------------------------------------------ handshake


def test_handshake_establishes_both_ends() -> None:
    pipe = established_pipe()
    assert pipe.events["a"] == [Established(peer_hostname="R2", peer_role=DeviceRole.STANDBY)]
    assert pipe.events["b"] == [Established(peer_hostname="R1", peer_role=DeviceRole.ACTIVE)]
    assert (pipe.a.peer_role, pipe.b.peer_role) == (DeviceRole.STANDBY, DeviceRole.ACTIVE)
    assert pipe.a.local_role is DeviceRole.ACTIVE
    assert pipe.a.get_timer() == START_MS + HELLO_MS  # the keepalive is due before the dead timer
    counters = pipe.a.counters
    assert (counters.created_ms, counters.packets_sent, counters.packets_received) == (
        START_MS,
        2,
        2,
    )
    assert counters.bytes_sent == pipe.b.counters.bytes_received
    assert not counters.drops


def test_one_byte_at_a_time_establishes_and_carries_messages() -> None:
    pipe = Pipe(client(), server(), chunks_ab=[1], chunks_ba=[1])
    pipe.start()
    seq = pipe.a.send(SA, ack_requested=True)
    pipe.pump()
    received = of_type(pipe.events["b"], MessageReceived)
    assert received == [MessageReceived(message=SA, doi=Doi.IPSEC, seq=seq, ack_requested=True)]
    assert seq == 2  # HELLO is 0, the key-confirming KEEPALIVE 1


@given(
    chunks_ab=CHUNK_SIZES,
    chunks_ba=CHUNK_SIZES,
    from_a=st.lists(replication, max_size=6),
    from_b=st.lists(replication, max_size=6),
    ack_requested=st.booleans(),
)
def test_messages_both_ways_survive_any_chunking(
    chunks_ab: list[int],
    chunks_ba: list[int],
    from_a: list[Message],
    from_b: list[Message],
    ack_requested: bool,
) -> None:
    pipe = Pipe(client(), server(), chunks_ab=chunks_ab, chunks_ba=chunks_ba)
    pipe.start()
    assert pipe.a.established
    assert pipe.b.established
    seqs_a = [pipe.a.send(m, ack_requested=ack_requested) for m in from_a]
    seqs_b = [pipe.b.send(m) for m in from_b]
    pipe.run_until(pipe.now + 2 * HELLO_MS)
    got_b = of_type(pipe.events["b"], MessageReceived)
    got_a = of_type(pipe.events["a"], MessageReceived)
    assert [(r.message, r.seq, r.ack_requested) for r in got_b] == [
        (m, s, ack_requested) for m, s in zip(from_a, seqs_a, strict=True)
    ]
    assert [(r.message, r.seq) for r in got_a] == list(zip(from_b, seqs_b, strict=True))
    assert not of_type(pipe.events["a"] + pipe.events["b"], Dropped)
    roles_from_a = [m.role for m in from_a if isinstance(m, RoleChange)]
    if roles_from_a:
        assert pipe.b.peer_role is roles_from_a[-1]
        assert pipe.a.local_role is roles_from_a[-1]


# ------------------------------------------------------------------------ timers


def test_keepalives_keep_the_connection_alive() -> None:
    pipe = established_pipe()
    pipe.run_until(START_MS + 20 * DEAD_MS)
    assert pipe.a.established
    assert pipe.b.established
    assert not of_type(pipe.events["a"] + pipe.events["b"], PeerDead)
    # 2 handshake frames, then one keepalive per hello interval.
    assert pipe.a.counters.packets_sent == 2 + 20 * DEAD_MS // HELLO_MS
    assert pipe.a.rtt_ms == 0


def test_round_trip_time_is_measured_from_keepalive_echoes() -> None:
    pipe = Pipe(client(), server(), latency_ms=7)
    pipe.start()
    pipe.run_until(START_MS + 5 * HELLO_MS)
    assert pipe.a.established
    assert pipe.a.rtt_ms == 14
    assert pipe.b.rtt_ms == 14


def test_silence_is_peer_dead_after_the_dead_interval() -> None:
    pipe = established_pipe()
    pipe.cut = True
    pipe.run_until(START_MS + DEAD_MS - 1)
    assert pipe.b.established
    pipe.run_until(START_MS + DEAD_MS)
    for name in "ab":
        tail = pipe.events[name][-2:]
        assert tail == [
            PeerDead(silent_ms=DEAD_MS),
            Closed(reason=f"peer dead: no frame for {DEAD_MS} ms", by_peer=False),
        ]
    assert pipe.a.get_timer() is None


def test_no_hello_is_peer_dead_too() -> None:
    alone = client()
    alone.start(START_MS)
    assert alone.get_timer() == START_MS + DEAD_MS
    alone.handle_timer(START_MS + DEAD_MS - 1)
    assert drain(alone) == []
    alone.handle_timer(START_MS + DEAD_MS)
    assert [type(e) for e in drain(alone)] == [PeerDead, Closed]


def test_a_late_timer_call_is_harmless() -> None:
    pipe = established_pipe()
    pipe.a.handle_timer(START_MS + 10)  # nothing due yet
    assert pipe.a.data_to_send() == b""
    assert pipe.a.established


# ------------------------------------------------------------------------ corruption and attack


def recorded_client_stream(messages: list[Message]) -> bytes:
    """Everything R1 sends on an established connection carrying ``messages``."""
    pipe = established_pipe()
    for message in messages:
        pipe.a.send(message)
    pipe.pump()
    return bytes(pipe.stream_ab)


def fresh_server(seed: int = 2) -> SspConnection:
    receiver = server(seed)
    receiver.start(START_MS, role=DeviceRole.STANDBY)
    receiver.data_to_send()
    return receiver


def feed(receiver: SspConnection, stream: bytes, sizes: list[int]) -> list[Event]:
    for piece in chunked(stream, sizes):
        receiver.receive_data(piece, START_MS)
    return drain(receiver)


STREAM_MESSAGES: list[Message] = [
    SA,
    SaDelete(doi=Doi.IPSEC, sa_id=7),
    RoleChange(role=DeviceRole.NONE),
]
RECORDED = recorded_client_stream(STREAM_MESSAGES)


def test_a_recorded_stream_replays_into_an_identical_receiver() -> None:
    """The baseline for the corruption tests: same seed, same nonce, so it verifies."""
    events = feed(fresh_server(), RECORDED, [5])
    assert [type(e) for e in events] == [Established] + [MessageReceived] * 3


@given(data=st.data(), sizes=CHUNK_SIZES)
def test_a_flipped_bit_anywhere_is_a_counted_drop_and_close(
    data: st.DataObject, sizes: list[int]
) -> None:
    stream = bytearray(RECORDED)
    position = data.draw(st.integers(0, len(stream) * 8 - 1), label="bit")
    stream[position // 8] ^= 1 << (position % 8)
    receiver = fresh_server()
    events = feed(receiver, bytes(stream), sizes)
    receiver.receive_data(b"", START_MS)  # EOF: a grown length field is a truncated frame
    events += drain(receiver)
    dropped = of_type(events, Dropped)
    assert len(dropped) == 1
    assert isinstance(events[-1], Closed)
    assert not events[-1].by_peer
    assert sum(receiver.counters.drops.values()) == 1
    frames_before = 0
    offset = 0
    for frame in split_frames(RECORDED):
        if offset + len(frame) <= position // 8:
            frames_before += 1
        offset += len(frame)
    assert receiver.counters.packets_received == frames_before
    assert receiver.state is ConnectionState.CLOSED


def test_a_frame_replayed_from_another_connection_is_rejected() -> None:
    old = split_frames(recorded_client_stream([SaDelete(doi=Doi.IPSEC, sa_id=1)]))
    assert len(old) == 3  # HELLO, confirming KEEPALIVE, SA_DELETE (seq 2)
    pipe = Pipe(client(seed=11), server(seed=12))
    pipe.start()
    assert pipe.b.established
    pipe.b.receive_data(old[2], pipe.now)  # right sequence number, other nonces
    events = drain(pipe.b)
    assert [type(e) for e in events] == [Dropped, Closed]
    assert [e.reason for e in of_type(events, Dropped)] == [DropReason.BAD_TAG]
    assert pipe.b.counters.drops == {DropReason.BAD_TAG: 1}


def test_a_replayed_hello_never_establishes() -> None:
    old = split_frames(recorded_client_stream([]))
    receiver = fresh_server(seed=99)  # another connection: another server nonce
    events = feed(receiver, b"".join(old), [1 << 20])
    assert not of_type(events, Established)
    assert [e.reason for e in of_type(events, Dropped)] == [DropReason.BAD_TAG]
    assert receiver.closed


def test_frames_reflected_back_to_their_sender_are_rejected() -> None:
    """Same nonces, same PSK, but the server's key-confirming frame is keyed s2c."""
    pipe = established_pipe()
    server_frames = split_frames(bytes(pipe.stream_ba))
    client_frames = split_frames(bytes(pipe.stream_ab))
    mirror = fresh_server(seed=2)  # the same server again: same nonce, same keys
    events = feed(mirror, client_frames[0] + server_frames[1], [1 << 20])
    assert [e.reason for e in of_type(events, Dropped)] == [DropReason.BAD_TAG]
    assert mirror.counters.packets_received == 1  # the genuine client HELLO
    events = feed(fresh_server(seed=2), server_frames[0], [1 << 20])
    assert [e.reason for e in of_type(events, Dropped)] == [DropReason.BAD_TAG]


def test_a_wrong_pre_shared_key_never_establishes() -> None:
    pipe = Pipe(client(psk=b"one key"), server(psk=b"another key"))
    pipe.start()
    pipe.run_until(START_MS + 2 * DEAD_MS)
    for name in "ab":
        assert not of_type(pipe.events[name], Established)
        assert [e.reason for e in of_type(pipe.events[name], Dropped)] == [DropReason.BAD_TAG]
    assert pipe.a.closed
    assert pipe.b.closed


def test_a_different_ssp_group_never_establishes() -> None:
    pipe = Pipe(client(group_id=1), server(group_id=2))
    pipe.start()
    assert [e.reason for e in of_type(pipe.events["b"], Dropped)] == [DropReason.GROUP_MISMATCH]
    assert not pipe.a.established


def test_oversize_length_closes_without_waiting_for_the_body() -> None:
    pipe = established_pipe()
    header = struct.pack("!BBBBII", 1, 8, 0, 1, MAX_BODY_LEN + 1, 2)
    pipe.b.receive_data(header, pipe.now)
    events = drain(pipe.b)
    assert [type(e) for e in events] == [Dropped, Closed]
    assert [e.reason for e in of_type(events, Dropped)] == [DropReason.OVERSIZE]


def test_a_smaller_configured_limit_is_enforced() -> None:
    pipe = Pipe(client(), server(max_body_len=64))
    pipe.start()
    pipe.a.send(SA)  # larger than 64 octets; R1 accepts up to 1 MiB
    pipe.pump()
    assert [e.reason for e in of_type(pipe.events["b"], Dropped)] == [DropReason.OVERSIZE]
    small = Pipe(client(max_body_len=64), server())
    small.start()
    with pytest.raises(LocalProtocolError, match="too big"):
        small.a.send(SA)


@pytest.mark.parametrize("version", [0, 2])
def test_bad_version_closes(version: int) -> None:
    pipe = established_pipe()
    pipe.b.receive_data(bytes([version]) + bytes(HEADER_LEN - 1), pipe.now)
    assert [e.reason for e in of_type(drain(pipe.b), Dropped)] == [DropReason.BAD_VERSION]


def _session_keys(pipe: Pipe) -> tuple[bytes, bytes]:
    """R1's sending keys for the connection of ``pipe`` (as an attacker holding the PSK)."""
    nonce_a = SeededEntropy(1).token_bytes(16)
    nonce_b = SeededEntropy(2).token_bytes(16)
    return (
        hello_key(PSK, from_client=True),
        session_key(PSK, from_client=True, client_nonce=nonce_a, server_nonce=nonce_b),
    )


def test_the_first_frame_after_hello_must_be_a_keepalive() -> None:
    pipe = Pipe(client(), server())
    _, key = _session_keys(pipe)
    receiver = fresh_server()
    hello = Hello(
        hostname="R1", group_id=1, nonce=SeededEntropy(1).token_bytes(16), role=DeviceRole.ACTIVE
    )
    receiver.receive_data(encode_frame_for(hello, seq=0, key=hello_key(PSK, from_client=True)), 1)
    receiver.receive_data(encode_frame_for(RoleChange(role=DeviceRole.ACTIVE), seq=1, key=key), 2)
    events = drain(receiver)
    assert [e.reason for e in of_type(events, Dropped)] == [DropReason.UNEXPECTED]
    assert not of_type(events, Established)


def test_a_second_hello_or_a_bad_sequence_number_closes() -> None:
    _, key = _session_keys(Pipe(client(), server()))
    hello = Hello(hostname="R1", group_id=1, nonce=bytes(16), role=DeviceRole.ACTIVE)
    for frame, reason in (
        (encode_frame_for(hello, seq=2, key=key), DropReason.UNEXPECTED),
        (encode_frame_for(SaDelete(doi=Doi.IKE, sa_id=1), seq=3, key=key), DropReason.BAD_SEQUENCE),
        (encode_frame_for(SaDelete(doi=Doi.IKE, sa_id=1), seq=1, key=key), DropReason.BAD_SEQUENCE),
    ):
        pipe = established_pipe()
        pipe.b.receive_data(frame, pipe.now)
        assert [e.reason for e in of_type(drain(pipe.b), Dropped)] == [reason]


def test_the_non_hello_first_frame_and_malformed_bodies_close() -> None:
    hello_k, key = _session_keys(Pipe(client(), server()))
    receiver = fresh_server()
    receiver.receive_data(encode_frame_for(RoleChange(role=DeviceRole.NONE), seq=0, key=hello_k), 1)
    assert [e.reason for e in of_type(drain(receiver), Dropped)] == [DropReason.UNEXPECTED]
    pipe = established_pipe()
    bad = Hello(hostname="R1", group_id=0, nonce=bytes(16), role=DeviceRole.NONE)
    pipe.b.receive_data(encode_frame_for(bad, seq=2, key=key), pipe.now)
    dropped = of_type(drain(pipe.b), Dropped)
    assert [e.reason for e in dropped] == [DropReason.MALFORMED]
    assert "group_id=0" in dropped[0].detail


# ------------------------------------------------------------------------ local misuse and closing


def test_send_needs_an_established_connection() -> None:
    connection = client()
    with pytest.raises(LocalProtocolError, match="not established"):
        connection.send(SA)
    connection.start(START_MS)
    with pytest.raises(LocalProtocolError, match="not established"):
        connection.send(SA)
    with pytest.raises(LocalProtocolError):
        connection.start(START_MS)


def test_receive_before_start_is_local_misuse() -> None:
    with pytest.raises(LocalProtocolError):
        client().receive_data(b"x", START_MS)


def test_hello_keepalive_and_unencodable_messages_are_refused_locally() -> None:
    pipe = established_pipe()
    for message in (
        Keepalive(number=1, echo=0, echo_delay_ms=0),
        Hello(hostname="R1", group_id=1, nonce=bytes(16), role=DeviceRole.NONE),
        SaDelete(doi=Doi.SSP, sa_id=1),
        CounterUpdate(doi=Doi.IPSEC, sa_id=1, kind=CounterKind.BYTES, value=-1),
        Refuse(doi=Doi.IPSEC, refused_seq=1, sa_id=1, reason=""),
    ):
        with pytest.raises(LocalProtocolError):
            pipe.a.send(message)
    assert pipe.a.established
    assert pipe.a.data_to_send() == b""


def test_sequence_number_exhaustion_closes_instead_of_wrapping() -> None:
    pipe = established_pipe()
    pipe.a._send_seq = 2**32 - 1
    assert pipe.a.send(SaDelete(doi=Doi.IPSEC, sa_id=1)) == 2**32 - 1
    with pytest.raises(LocalProtocolError, match="exhausted"):
        pipe.a.send(SaDelete(doi=Doi.IPSEC, sa_id=2))
    assert pipe.a.closed


def test_nothing_is_accepted_after_close() -> None:
    pipe = established_pipe()
    pipe.b.close("no ssp group 1")
    assert drain(pipe.b) == [Closed(reason="no ssp group 1", by_peer=False)]
    pipe.b.close("again")
    pipe.a.send(SA)
    pipe.pump()
    assert not of_type(pipe.events["b"], MessageReceived)
    assert pipe.b.counters.packets_received == 2
    assert not pipe.b.counters.drops
    assert pipe.b.get_timer() is None
    pipe.b.handle_timer(START_MS + 10 * DEAD_MS)
    assert pipe.b.data_to_send() == b""
    assert drain(pipe.b) == []
    with pytest.raises(LocalProtocolError):
        pipe.b.send(SA)


def test_peer_eof_closes_and_eof_mid_frame_is_a_truncated_frame() -> None:
    pipe = established_pipe()
    pipe.b.receive_data(b"", pipe.now)
    assert drain(pipe.b) == [Closed(reason="peer closed the connection", by_peer=True)]
    pipe = established_pipe()
    pipe.a.send(SA)
    frame = pipe.a.data_to_send()
    pipe.b.receive_data(frame[:-1], pipe.now)
    pipe.b.receive_data(b"", pipe.now)
    assert [e.reason for e in of_type(drain(pipe.b), Dropped)] == [DropReason.TRUNCATED]


@pytest.mark.parametrize(
    "bad",
    [
        {"hostname": ""},
        {"hostname": "my router"},
        {"group_id": 0},
        {"group_id": 101},
        {"pre_shared_key": b""},
        {"hello_interval_ms": 0},
        {"dead_interval_ms": 1000},
        {"max_body_len": MAX_BODY_LEN + 1},
    ],
)
def test_bad_local_configuration_is_refused(bad: dict[str, Any]) -> None:
    settings = replace(config("R1", is_client=True), **bad)
    with pytest.raises(LocalProtocolError):
        SspConnection(settings, SeededEntropy(1))


def test_the_key_is_never_shown() -> None:
    assert "ssp group 1 test key" not in repr(config("R1", is_client=True))


def test_the_frame_rule_table_is_total() -> None:
    for state in RECEIVING_STATES:
        for kind in FrameKind:
            assert (state, kind) in _FRAME_RULES, (state, kind)
    assert {state for state, _ in _FRAME_RULES} == RECEIVING_STATES


def test_what_is_on_the_wire_decodes_with_the_documented_keys() -> None:
    pipe = Pipe(client(), server())
    pipe.start()
    hello_k, key = _session_keys(pipe)
    frames = split_frames(bytes(pipe.stream_ab))
    assert decode_frame(frames[0], key=hello_k, expected_seq=0).message == Hello(
        hostname="R1", group_id=1, nonce=SeededEntropy(1).token_bytes(16), role=DeviceRole.ACTIVE
    )
    assert isinstance(decode_frame(frames[1], key=key, expected_seq=1).message, Keepalive)


# ------------------------------------------------------------------------ admission


def test_accept_remote_admits_only_the_configured_remote() -> None:
    group = SspGroup(group_id=1, remote=IPv4Address("10.0.0.2"))
    assert accept_remote(group.remote, "10.0.0.2")
    assert accept_remote("10.0.0.2", IPv4Address("10.0.0.2"))
    assert accept_remote(group.remote, IPv6Address("::ffff:10.0.0.2"))  # dual-stack socket
    assert not accept_remote(group.remote, "10.0.0.3")
    assert not accept_remote(group.remote, "::1")
    assert not accept_remote(group.remote, "not an address")
    with pytest.raises(LocalProtocolError):
        accept_remote("2001:db8::1", "10.0.0.2")


def test_the_listener_counts_refused_connections() -> None:
    listener = SspListener(IPv4Address("10.0.0.2"))
    assert listener.offer("10.0.0.2", START_MS)
    assert not listener.offer("10.0.0.9", START_MS + 5)
    assert not listener.offer("192.0.2.1", START_MS + 6)
    assert (listener.accepted, listener.refused) == (1, 2)
    assert listener.last_refused == ("192.0.2.1", START_MS + 6)
    with pytest.raises(LocalProtocolError):
        SspListener("nowhere")


def test_a_bulk_sync_in_one_chunk_is_delivered_whole() -> None:
    pipe = established_pipe()
    count = 2000
    pipe.a.send(BulkBegin(doi=Doi.IPSEC, entry_count=count))
    for sa_id in range(count):
        pipe.a.send(replace(SA, sa_id=sa_id, resync=True))
    pipe.a.send(BulkEnd(doi=Doi.IPSEC, entry_count=count))
    pipe.pump()
    received = [r.message for r in of_type(pipe.events["b"], MessageReceived)]
    assert len(received) == count + 2
    assert [m.sa_id for m in received if isinstance(m, IpsecSaAdd)] == list(range(count))
