"""impl/ssp wire and messages: byte layout, round trips, and every rejection naming its field."""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vpnha.impl.ssp import (
    MAX_BODY_LEN,
    Ack,
    BulkBegin,
    BulkEnd,
    CounterKind,
    CounterUpdate,
    DeviceRole,
    Doi,
    Hello,
    IkeSaAdd,
    IpsecSaAdd,
    Keepalive,
    Message,
    MessageType,
    Refuse,
    ResyncRequest,
    RoleChange,
    SaDelete,
    SspDecodeError,
    decode_body,
    decode_frame,
    encode_body,
    encode_frame_for,
)
from vpnha.impl.ssp.wire import (
    HEADER_LEN,
    TAG_LEN,
    FrameHeader,
    encode_frame,
    hello_key,
    session_key,
)

KEY = hashlib.sha256(b"test frame key").digest()

# ------------------------------------------------------------------------ strategies

U16 = st.integers(0, 2**16 - 1)
U32 = st.integers(0, 2**32 - 1)
U64 = st.integers(0, 2**64 - 1)
ASCII_WORD = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
ASCII_TEXT = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
ROLES = st.sampled_from(DeviceRole)
HA_DOIS = st.sampled_from([Doi.IPSEC, Doi.IKE])
ADDRESSES = st.ip_addresses(v=4).map(lambda a: IPv4Address(int(a)))
PREFIXES = st.builds(
    lambda address, length: IPv4Network((int(address), length), strict=False),
    ADDRESSES,
    st.integers(0, 32),
)
KEYS = st.binary(max_size=64)
COOKIES = st.binary(min_size=8, max_size=8).filter(lambda c: c != bytes(8))


def words(max_size: int) -> st.SearchStrategy[str]:
    return st.text(ASCII_WORD, min_size=1, max_size=max_size)


def phrases(max_size: int) -> st.SearchStrategy[str]:
    return st.text(ASCII_TEXT, min_size=1, max_size=max_size)


hellos = st.builds(
    Hello,
    protocol_version=st.integers(1, 255),
    hostname=words(63),
    group_id=st.integers(1, 100),
    nonce=st.binary(min_size=16, max_size=16),
    role=ROLES,
)
keepalives = st.builds(Keepalive, number=st.integers(1, 2**32 - 1), echo=U32, echo_delay_ms=U32)
role_changes = st.builds(RoleChange, role=ROLES, answer_requested=st.booleans())
ipsec_adds = st.builds(
    IpsecSaAdd,
    sa_id=U32,
    peer=ADDRESSES,
    crypto_map=words(64),
    crypto_map_seq=st.integers(1, 2**16 - 1),
    local_proxy=PREFIXES,
    remote_proxy=PREFIXES,
    inbound_spi=st.integers(256, 2**32 - 1),
    outbound_spi=st.integers(256, 2**32 - 1),
    transforms=st.lists(phrases(32), min_size=1, max_size=4).map(tuple),
    inbound_encryption_key=KEYS,
    outbound_encryption_key=KEYS,
    inbound_integrity_key=KEYS,
    outbound_integrity_key=KEYS,
    lifetime_expiry_ms=U64,
    lifetime_kilobytes=U64,
    outbound_seq=U64,
    inbound_right_edge=U64,
    inbound_bitmap=st.binary(max_size=128),
    bytes_used=U64,
    resync=st.booleans(),
)
ike_adds = st.builds(
    IkeSaAdd,
    sa_id=U32,
    initiator_cookie=COOKIES,
    responder_cookie=COOKIES,
    is_initiator=st.booleans(),
    encryption=phrases(16),
    hash_algorithm=phrases(16),
    authentication=phrases(16),
    dh_group=st.integers(1, 255),
    skeyid_d=st.binary(min_size=1, max_size=64),
    skeyid_a=st.binary(min_size=1, max_size=64),
    skeyid_e=st.binary(min_size=1, max_size=64),
    last_phase1_cbc_block=st.binary(max_size=32),
    message_ids=st.lists(st.integers(1, 2**32 - 1), max_size=8).map(tuple),
    dpd_seq_out=U32,
    dpd_seq_in=U32,
    lifetime_expiry_ms=U64,
    peer=ADDRESSES,
    local_port=st.integers(1, 2**16 - 1),
    peer_port=st.integers(1, 2**16 - 1),
)
sa_deletes = st.builds(SaDelete, doi=HA_DOIS, sa_id=U32)
ipsec_counters = st.builds(
    CounterUpdate,
    doi=st.just(Doi.IPSEC),
    sa_id=U32,
    kind=st.sampled_from([CounterKind.OUTBOUND_SEQ, CounterKind.INBOUND_EDGE, CounterKind.BYTES]),
    value=U64,
)
ike_counters = st.builds(
    CounterUpdate,
    doi=st.just(Doi.IKE),
    sa_id=U32,
    kind=st.sampled_from([CounterKind.DPD_OUT, CounterKind.DPD_IN]),
    value=U32,
) | st.builds(
    CounterUpdate,
    doi=st.just(Doi.IKE),
    sa_id=U32,
    kind=st.just(CounterKind.MESSAGE_ID),
    value=st.integers(1, 2**32 - 1),
)
acks = st.builds(Ack, doi=HA_DOIS, acked_seq=U32, applied_value=U64)
refusals = st.builds(
    Refuse,
    doi=HA_DOIS,
    refused_seq=U32,
    sa_id=U32,
    reason=st.text(min_size=1, max_size=40).filter(lambda s: len(s.encode("utf-8")) <= 1024),
)
resyncs = st.builds(ResyncRequest, doi=HA_DOIS)
bulk_begins = st.builds(BulkBegin, doi=HA_DOIS, entry_count=U32, resync=st.booleans())
bulk_ends = st.builds(BulkEnd, doi=HA_DOIS, entry_count=U32)

PER_TYPE: dict[MessageType, st.SearchStrategy[Message]] = {
    MessageType.HELLO: hellos,
    MessageType.KEEPALIVE: keepalives,
    MessageType.ROLE: role_changes,
    MessageType.IPSEC_SA_ADD: ipsec_adds,
    MessageType.IKE_SA_ADD: ike_adds,
    MessageType.SA_DELETE: sa_deletes,
    MessageType.COUNTER_UPDATE: st.one_of(ipsec_counters, ike_counters),
    MessageType.ACK: acks,
    MessageType.REFUSE: refusals,
    MessageType.RESYNC_REQUEST: resyncs,
    MessageType.BULK_BEGIN: bulk_begins,
    MessageType.BULK_END: bulk_ends,
}
messages = st.one_of(*PER_TYPE.values())


def field_of(call: object, *args: object, **kwargs: object) -> str:
    """The ``field`` of the SspDecodeError that ``call`` raises."""
    assert callable(call)
    with pytest.raises(SspDecodeError) as caught:
        call(*args, **kwargs)
    return caught.value.field


def redecode(message: Message) -> Message:
    return decode_body(*encode_body(message))


# ------------------------------------------------------------------------ round trips


def test_every_message_type_has_a_strategy() -> None:
    assert set(PER_TYPE) == set(MessageType)


@pytest.mark.parametrize("kind", list(MessageType), ids=lambda k: k.name)
@given(data=st.data())
def test_every_message_type_round_trips(kind: MessageType, data: st.DataObject) -> None:
    message = data.draw(PER_TYPE[kind])
    assert message.TYPE is kind
    assert redecode(message) == message


@given(message=messages, seq=U32, ack_requested=st.booleans())
def test_frames_round_trip(message: Message, seq: int, ack_requested: bool) -> None:
    frame = encode_frame_for(message, seq=seq, key=KEY, ack_requested=ack_requested)
    decoded = decode_frame(frame, key=KEY, expected_seq=seq)
    assert decoded.message == message
    assert decoded.seq == seq
    assert decoded.ack_requested is ack_requested


@given(message=messages, data=st.data())
def test_every_truncated_body_is_rejected(message: Message, data: st.DataObject) -> None:
    kind, doi, body = encode_body(message)
    if not body:
        return
    cut = data.draw(st.integers(0, len(body) - 1), label="cut")
    with pytest.raises(SspDecodeError) as caught:
        decode_body(kind, doi, body[:cut])
    assert "truncated" in caught.value.reason


@given(message=messages, extra=st.binary(min_size=1, max_size=8))
def test_trailing_octets_are_rejected(message: Message, extra: bytes) -> None:
    kind, doi, body = encode_body(message)
    assert field_of(decode_body, kind, doi, body + extra) == "body"


# ------------------------------------------------------------------------ frame layout


def test_frame_layout_is_the_documented_table() -> None:
    """Checked with struct and hmac directly, not with the codec under test."""
    message = SaDelete(doi=Doi.IKE, sa_id=0x01020304)
    frame = encode_frame_for(message, seq=0xA0B0C0D0, key=KEY, ack_requested=True)
    assert frame[:HEADER_LEN] == struct.pack("!BBBBII", 1, 6, 0x01, 2, 4, 0xA0B0C0D0)
    assert frame[HEADER_LEN:-TAG_LEN] == bytes([1, 2, 3, 4])
    assert frame[-TAG_LEN:] == hmac.new(KEY, frame[:-TAG_LEN], hashlib.sha256).digest()
    assert len(frame) == 12 + 4 + 32


def test_hello_body_layout() -> None:
    hello = Hello(
        hostname="R1",
        group_id=7,
        nonce=bytes(range(16)),
        role=DeviceRole.STANDBY,
        incarnation=0x01020304,
    )
    kind, doi, body = encode_body(hello)
    assert (kind, doi) == (MessageType.HELLO, Doi.SSP)
    assert body == b"\x01" + b"\x02R1" + b"\x07" + bytes(range(16)) + b"\x02" + b"\x01\x02\x03\x04"


def test_keys_are_bound_to_direction_and_nonces() -> None:
    psk = b"secret"
    nonce_c, nonce_s, other = b"c" * 16, b"s" * 16, b"x" * 16
    c2s = session_key(psk, from_client=True, client_nonce=nonce_c, server_nonce=nonce_s)
    s2c = session_key(psk, from_client=False, client_nonce=nonce_c, server_nonce=nonce_s)
    replayed = session_key(psk, from_client=True, client_nonce=nonce_c, server_nonce=other)
    keys = {c2s, s2c, replayed, hello_key(psk, from_client=True), hello_key(psk, from_client=False)}
    assert len(keys) == 5
    expected = hmac.new(psk, b"vpnha-ssp-1 session c2s" + nonce_c + nonce_s, "sha256").digest()
    assert c2s == expected


# ------------------------------------------------------------------------ frame rejections


def _frame(**overrides: int) -> bytes:
    fields = {"message_type": 8, "flags": 0, "doi": 1, "seq": 5}
    fields.update(overrides)
    body = Ack(doi=Doi.IPSEC, acked_seq=1, applied_value=2).encode_body()
    return encode_frame(body=body, key=KEY, **fields)


def test_good_reference_frame_decodes() -> None:
    assert decode_frame(_frame(), key=KEY, expected_seq=5).message == Ack(
        doi=Doi.IPSEC, acked_seq=1, applied_value=2
    )


@pytest.mark.parametrize("version", [0, 2, 255])
def test_bad_version_is_named(version: int) -> None:
    frame = bytes([version]) + _frame()[1:]
    with pytest.raises(SspDecodeError) as caught:
        decode_frame(frame, key=KEY)
    assert (caught.value.field, caught.value.value) == ("version", version)


@pytest.mark.parametrize("message_type", [0, 13, 200, 255])
def test_unknown_type_is_named(message_type: int) -> None:
    with pytest.raises(SspDecodeError) as caught:
        decode_frame(_frame(message_type=message_type), key=KEY)
    assert (caught.value.field, caught.value.value) == ("type", message_type)


@pytest.mark.parametrize(
    ("message_type", "doi"),
    [(8, 0), (8, 3), (8, 255), (1, 1), (2, 2), (3, 1), (4, 2), (5, 1), (12, 0)],
)
def test_wrong_doi_for_the_type_is_named(message_type: int, doi: int) -> None:
    with pytest.raises(SspDecodeError) as caught:
        decode_body(message_type, doi, b"")
    assert (caught.value.field, caught.value.value) == ("doi", doi)


@pytest.mark.parametrize("flags", [0x02, 0x80, 0xFF])
def test_reserved_flags_are_named(flags: int) -> None:
    assert field_of(decode_frame, _frame(flags=flags), key=KEY) == "flags"


def test_oversize_length_is_rejected_from_the_header_alone() -> None:
    header = struct.pack("!BBBBII", 1, 8, 0, 1, MAX_BODY_LEN + 1, 0)
    parsed = FrameHeader.parse(header)
    assert field_of(parsed.check_framing) == "length"
    FrameHeader.parse(struct.pack("!BBBBII", 1, 8, 0, 1, MAX_BODY_LEN, 0)).check_framing()
    assert field_of(decode_frame, header + bytes(64), key=KEY) == "length"


@pytest.mark.parametrize("delta", [-13, -1, 1, 7])
def test_length_that_disagrees_with_the_frame_is_named(delta: int) -> None:
    frame = bytearray(_frame())
    length = int.from_bytes(frame[4:8], "big") + delta
    frame[4:8] = max(length, 0).to_bytes(4, "big")
    assert field_of(decode_frame, bytes(frame), key=KEY) == "frame"


def test_short_header_is_named() -> None:
    assert field_of(decode_frame, _frame()[:11], key=KEY) == "header"


def test_wrong_key_and_wrong_sequence_are_named() -> None:
    assert field_of(decode_frame, _frame(), key=b"another key") == "tag"
    assert field_of(decode_frame, _frame(seq=5), key=KEY, expected_seq=6) == "seq"


@given(data=st.data())
def test_any_flipped_bit_fails_the_frame(data: st.DataObject) -> None:
    message = data.draw(messages)
    frame = bytearray(encode_frame_for(message, seq=3, key=KEY))
    position = data.draw(st.integers(0, len(frame) * 8 - 1), label="bit")
    frame[position // 8] ^= 1 << (position % 8)
    with pytest.raises(SspDecodeError):
        decode_frame(bytes(frame), key=KEY, expected_seq=3)


# ------------------------------------------------------------------------ body rejections

HELLO = Hello(hostname="R1", group_id=1, nonce=bytes(16), role=DeviceRole.ACTIVE)
IPSEC = IpsecSaAdd(
    sa_id=1,
    peer=IPv4Address("172.168.3.1"),
    crypto_map="mymap",
    crypto_map_seq=10,
    local_proxy=IPv4Network("192.168.1.0/24"),
    remote_proxy=IPv4Network("5.6.0.0/16"),
    inbound_spi=0xD8C8635F,
    outbound_spi=0x132ED6AB,
    transforms=("esp-des", "esp-md5-hmac"),
    inbound_encryption_key=bytes(8),
    outbound_encryption_key=bytes(8),
    inbound_integrity_key=bytes(16),
    outbound_integrity_key=bytes(16),
    lifetime_expiry_ms=3_600_000,
    lifetime_kilobytes=4_608_000,
    outbound_seq=10,
    inbound_right_edge=12,
    inbound_bitmap=b"\xff" * 8,
    bytes_used=1500,
)
IKE = IkeSaAdd(
    sa_id=2,
    initiator_cookie=b"\x01" * 8,
    responder_cookie=b"\x02" * 8,
    is_initiator=False,
    encryption="3des",
    hash_algorithm="sha",
    authentication="pre-share",
    dh_group=2,
    skeyid_d=b"d" * 20,
    skeyid_a=b"a" * 20,
    skeyid_e=b"e" * 20,
    last_phase1_cbc_block=b"\x00" * 8,
    message_ids=(0x1234,),
    dpd_seq_out=100,
    dpd_seq_in=200,
    lifetime_expiry_ms=86_400_000,
    peer=IPv4Address("172.168.3.1"),
    local_port=500,
    peer_port=500,
)


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (replace(HELLO, protocol_version=0), "protocol_version"),
        (replace(HELLO, hostname=""), "hostname"),
        (replace(HELLO, hostname="two words"), "hostname"),
        (replace(HELLO, hostname="r" * 64), "hostname"),
        (replace(HELLO, group_id=0), "group_id"),
        (replace(HELLO, group_id=101), "group_id"),
        (replace(HELLO, nonce=bytes(15)), "incarnation"),
        (Keepalive(number=0, echo=0, echo_delay_ms=0), "number"),
        (replace(IPSEC, inbound_spi=0), "inbound_spi"),
        (replace(IPSEC, outbound_spi=255), "outbound_spi"),
        (replace(IPSEC, transforms=()), "transforms"),
        (replace(IPSEC, transforms=("a", "b", "c", "d", "e")), "transforms"),
        (replace(IPSEC, transforms=("x" * 33,)), "transforms"),
        (replace(IPSEC, crypto_map_seq=0), "crypto_map_seq"),
        (replace(IPSEC, crypto_map="my map"), "crypto_map"),
        (replace(IPSEC, inbound_bitmap=bytes(8193)), "inbound_bitmap"),
        (replace(IKE, initiator_cookie=bytes(8)), "initiator_cookie"),
        (replace(IKE, responder_cookie=bytes(8)), "responder_cookie"),
        (replace(IKE, skeyid_a=b""), "skeyid_a"),
        (replace(IKE, last_phase1_cbc_block=bytes(33)), "last_phase1_cbc_block"),
        (replace(IKE, message_ids=(5, 0)), "message_ids"),
        (replace(IKE, dh_group=0), "dh_group"),
        (replace(IKE, local_port=0), "local_port"),
        (replace(IKE, encryption="x" * 17), "encryption"),
        (CounterUpdate(doi=Doi.IPSEC, sa_id=1, kind=CounterKind.DPD_OUT, value=1), "kind"),
        (CounterUpdate(doi=Doi.IKE, sa_id=1, kind=CounterKind.OUTBOUND_SEQ, value=1), "kind"),
        (CounterUpdate(doi=Doi.IKE, sa_id=1, kind=CounterKind.DPD_IN, value=2**32), "value"),
        (CounterUpdate(doi=Doi.IKE, sa_id=1, kind=CounterKind.MESSAGE_ID, value=0), "value"),
        (CounterUpdate(doi=Doi.IPSEC, sa_id=1, kind=CounterKind.MESSAGE_ID, value=1), "kind"),
        (Refuse(doi=Doi.IPSEC, refused_seq=1, sa_id=1, reason=""), "reason"),
        (Refuse(doi=Doi.IPSEC, refused_seq=1, sa_id=1, reason="é" * 513), "reason"),
    ],
    ids=lambda v: v if isinstance(v, str) else type(v).__name__,
)
def test_bad_field_values_are_named(message: Message, field: str) -> None:
    assert field_of(redecode, message) == field


def _patched(message: Message, offset: int, value: int) -> tuple[int, int, bytes]:
    kind, doi, body = encode_body(message)
    raw = bytearray(body)
    raw[offset] = value
    return kind, doi, bytes(raw)


@pytest.mark.parametrize(
    ("message", "offset", "value", "field"),
    [
        (HELLO, -5, 3, "role"),
        (RoleChange(role=DeviceRole.ACTIVE), 0, 9, "role"),
        (RoleChange(role=DeviceRole.ACTIVE), 1, 2, "answer_requested"),
        (BulkBegin(doi=Doi.IPSEC, entry_count=1), 4, 0xFF, "resync"),
        (CounterUpdate(doi=Doi.IPSEC, sa_id=1, kind=CounterKind.BYTES, value=1), 4, 0, "kind"),
        (CounterUpdate(doi=Doi.IPSEC, sa_id=1, kind=CounterKind.BYTES, value=1), 4, 6, "kind"),
        (replace(IPSEC, local_proxy=IPv4Network("10.0.0.0/8")), 20, 33, "local_proxy"),
        (replace(IPSEC, local_proxy=IPv4Network("10.0.0.0/8")), 19, 1, "local_proxy"),
        (HELLO, 2, 0x7F, "hostname"),
        (Refuse(doi=Doi.IKE, refused_seq=1, sa_id=1, reason="full"), 10, 0xFF, "reason"),
    ],
)
def test_bad_raw_octets_are_named(message: Message, offset: int, value: int, field: str) -> None:
    assert field_of(decode_body, *_patched(message, offset, value)) == field


def test_decode_error_message_names_field_value_and_rule() -> None:
    with pytest.raises(SspDecodeError) as caught:
        redecode(replace(HELLO, group_id=101))
    assert str(caught.value) == "group_id=101: ssp group must be 1-100"


def test_empty_resync_request_and_reference_records_round_trip() -> None:
    for message in (ResyncRequest(doi=Doi.IKE), IPSEC, IKE, HELLO):
        assert redecode(message) == message


def test_key_material_stays_out_of_repr() -> None:
    secret = b"\x5a" * 20
    ipsec = replace(IPSEC, inbound_encryption_key=secret, outbound_integrity_key=secret)
    ike = replace(IKE, skeyid_d=secret, skeyid_a=secret, skeyid_e=secret)
    for message in (ipsec, ike):
        assert repr(secret) not in repr(message)
        assert "5a5a" not in repr(message)
