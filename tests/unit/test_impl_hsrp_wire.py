"""impl/hsrp/wire: the RFC 2281 version 0 codec (protocols.md §1.2, lab-notes §2-3)."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vpnha.impl.errors import LocalProtocolError
from vpnha.impl.hsrp import (
    DEFAULT_AUTHENTICATION,
    HsrpDecodeError,
    HsrpPacket,
    HsrpState,
    OpCode,
    authentication_octets,
    decode,
    encode,
    timer_seconds_on_wire,
)

# lab-notes.md §2: Scapy's HSRP(opcode=0, state=16, hellotime=3, holdtime=10,
# priority=110, group=1, auth=b"cisco\0\0\0", virtualIP="10.99.0.254").
LAB_PAYLOAD = bytes.fromhex("000010030a6e0100636973636f0000000a6300fe")


def octet() -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=255)


packets = st.builds(
    HsrpPacket,
    op_code=st.sampled_from(OpCode),
    state=st.sampled_from(HsrpState),
    hello_time_s=octet(),
    hold_time_s=octet(),
    priority=octet(),
    group=octet(),
    authentication=st.binary(min_size=8, max_size=8),
    virtual_ip=st.none() | st.integers(min_value=1, max_value=2**32 - 1).map(IPv4Address),
)


def patched(offset: int, value: int) -> bytes:
    """The lab payload with the octet at ``offset`` replaced by ``value``."""
    data = bytearray(LAB_PAYLOAD)
    data[offset] = value
    return bytes(data)


def rejection(data: bytes) -> HsrpDecodeError:
    with pytest.raises(HsrpDecodeError) as caught:
        decode(data)
    return caught.value


def test_lab_notes_payload_decodes_field_by_field() -> None:
    packet = decode(LAB_PAYLOAD)
    assert LAB_PAYLOAD[0] == 0  # version 0 (implied by the dataclass)
    assert packet == HsrpPacket(
        op_code=OpCode.HELLO,
        state=HsrpState.ACTIVE,
        hello_time_s=3,
        hold_time_s=10,
        priority=110,
        group=1,
        authentication=b"cisco\x00\x00\x00",
        virtual_ip=IPv4Address("10.99.0.254"),
    )
    assert encode(packet) == LAB_PAYLOAD


@given(packets)
def test_round_trip(packet: HsrpPacket) -> None:
    data = encode(packet)
    assert len(data) == 20
    assert data[0] == 0
    assert data[7] == 0
    assert decode(data) == packet


def test_wire_values_of_states_and_op_codes() -> None:
    # protocols.md §1.4: the version 0 octets are bit values, not the RFC's table index.
    assert [s.value for s in HsrpState] == [0, 1, 2, 4, 8, 16]
    assert [s.rfc_index for s in HsrpState] == [1, 2, 3, 4, 5, 6]
    assert [o.value for o in OpCode] == [0, 1, 2]


def test_unknown_virtual_ip_is_zero_on_the_wire() -> None:
    packet = decode(LAB_PAYLOAD[:16] + bytes(4))
    assert packet.virtual_ip is None
    assert encode(packet)[16:] == bytes(4)


def test_reserved_octet_is_tolerated() -> None:
    packet = decode(patched(7, 0x5A))
    assert packet == decode(LAB_PAYLOAD)
    assert encode(packet)[7] == 0


@pytest.mark.parametrize(
    ("data", "field", "value", "reason"),
    [
        (b"", "length", 0, "shorter"),
        (b"\x00", "length", 1, "shorter"),
        (LAB_PAYLOAD[:19], "length", 19, "exactly 20"),
        (LAB_PAYLOAD + b"\x00", "length", 21, "exactly 20"),
        (patched(0, 1), "version", 1, "version 0"),
        (patched(0, 2), "version", 2, "version 0"),
        (patched(1, 3), "op_code", 3, "advertise not supported"),
        (patched(1, 4), "op_code", 4, "unknown op code"),
        (patched(1, 255), "op_code", 255, "unknown op code"),
        (patched(2, 3), "state", 3, "unknown state"),
        (patched(2, 32), "state", 32, "unknown state"),
    ],
)
def test_rejections_name_field_and_value(data: bytes, field: str, value: int, reason: str) -> None:
    error = rejection(data)
    assert isinstance(error, ValueError)
    assert (error.field, error.value) == (field, value)
    assert reason in error.reason
    assert field in str(error)
    assert repr(value) in str(error)


def test_cisco_advertise_is_rejected_by_name() -> None:
    # protocols.md §1.10: version 0, op code 3, then a 14-octet interface-state TLV.
    advertise = bytes.fromhex("0003" + "0001" + "000a" + "02" + "00" + "0001" + "0000" + "00000000")
    error = rejection(advertise)
    assert (error.field, error.value, error.reason) == ("op_code", 3, "advertise not supported")


def test_md5_authentication_tlv_is_rejected_by_name() -> None:
    # protocols.md §1.10: the 20-octet base followed by a 30-octet TLV of type 4, length 28.
    tlv = bytes((4, 28, 1, 0)) + bytes(2) + bytes((10, 99, 0, 1)) + bytes(4) + bytes(16)
    data = LAB_PAYLOAD + tlv
    assert len(data) == 50
    error = rejection(data)
    assert error.field == "authentication"
    assert error.reason == "md5 authentication not supported"


def test_fifty_octets_without_md5_tlv_is_a_length_error() -> None:
    error = rejection(LAB_PAYLOAD + bytes(30))
    assert (error.field, error.value) == ("length", 50)


@given(st.binary(max_size=64))
def test_decode_raises_only_decode_errors(data: bytes) -> None:
    field: str | None
    try:
        packet = decode(data)
    except HsrpDecodeError as error:
        field = error.field
    else:
        field = None
        assert len(data) == 20
        assert encode(packet)[:7] == data[:7]
        assert encode(packet)[8:] == data[8:]
    assert field in {None, "length", "version", "op_code", "state", "authentication"}


@pytest.mark.parametrize(
    ("milliseconds", "seconds"),
    [
        (1, 1),
        (15, 1),
        (500, 1),
        (999, 1),
        (1000, 1),
        (1001, 2),
        (3000, 3),
        (10000, 10),
        (254_000, 254),
        (255_000, 255),
        (300_000, 255),
        (0, 1),
    ],
)
def test_timer_seconds_round_up_and_clamp(milliseconds: int, seconds: int) -> None:
    assert timer_seconds_on_wire(milliseconds) == seconds


def test_authentication_octets() -> None:
    assert authentication_octets("cisco") == DEFAULT_AUTHENTICATION
    assert authentication_octets("") == bytes(8)
    assert authentication_octets("12345678") == b"12345678"
    with pytest.raises(LocalProtocolError, match="longer than 8"):
        authentication_octets("123456789")


@pytest.mark.parametrize(
    ("field", "value"),
    [("priority", 256), ("group", -1), ("hello_time_s", 300), ("hold_time_s", 1000)],
)
def test_encode_refuses_what_does_not_fit(field: str, value: int) -> None:
    fields = {
        "op_code": OpCode.HELLO,
        "state": HsrpState.SPEAK,
        "hello_time_s": 3,
        "hold_time_s": 10,
        "priority": 100,
        "group": 1,
        field: value,
    }
    with pytest.raises(LocalProtocolError, match=field):
        encode(HsrpPacket(**fields))  # type: ignore[arg-type]


def test_encode_refuses_short_authentication() -> None:
    packet = HsrpPacket(
        op_code=OpCode.HELLO,
        state=HsrpState.SPEAK,
        hello_time_s=3,
        hold_time_s=10,
        priority=100,
        group=1,
        authentication=b"cisco",
    )
    with pytest.raises(LocalProtocolError, match="authentication"):
        encode(packet)
