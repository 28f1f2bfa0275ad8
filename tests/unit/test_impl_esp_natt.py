"""impl/esp natt + ip: ESP in UDP 4500 (RFC 3948) and the outer IPv4/UDP helpers."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from ipaddress import IPv4Address

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vpnha.impl.entropy import SeededEntropy
from vpnha.impl.esp import (
    NAT_KEEPALIVE,
    NON_ESP_MARKER,
    EspInboundSA,
    EspOutboundSA,
    Ipv4Packet,
    MalformedPacketError,
    Udp4500Kind,
    build_ipv4,
    build_udp,
    classify_udp_4500,
    esp_in_udp_packet,
    esp_transform,
    frame_ike,
    internet_checksum,
    parse_esp_in_udp,
    parse_ipv4,
    parse_udp,
    unframe_ike,
)


def naive_checksum(data: bytes) -> int:
    """RFC 1071 by the book: 16-bit words, end-around carry, complement."""
    if len(data) % 2:
        data += b"\x00"
    total = 0
    for index in range(0, len(data), 2):
        total += data[index] << 8 | data[index + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (NAT_KEEPALIVE, Udp4500Kind.KEEPALIVE),
        (NON_ESP_MARKER + bytes(28), Udp4500Kind.IKE),
        (b"\x00\x00\x10\x00" + bytes(20), Udp4500Kind.ESP),
        (b"", Udp4500Kind.INVALID),
        (b"\xff\xff", Udp4500Kind.INVALID),
        (NON_ESP_MARKER, Udp4500Kind.INVALID),
        (b"\x00\x00\x10\x00\x00\x00\x00", Udp4500Kind.INVALID),
    ],
)
def test_classify_udp_4500(payload: bytes, kind: Udp4500Kind) -> None:
    assert classify_udp_4500(payload) is kind


def test_ike_framing_round_trip() -> None:
    ike = bytes(range(1, 29))
    assert frame_ike(ike) == bytes(4) + ike
    assert unframe_ike(frame_ike(ike)) == ike
    with pytest.raises(MalformedPacketError, match="non-ESP marker"):
        unframe_ike(b"\x00\x00\x10\x00" + ike)


@given(data=st.binary(max_size=300))
def test_checksum_agrees_with_rfc_1071(data: bytes) -> None:
    assert internet_checksum(data) == naive_checksum(data)


def test_checksum_rfc_1071_example() -> None:
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D  # RFC 1071 §3


def test_esp_in_udp_end_to_end() -> None:
    transform = esp_transform("esp-gcm")
    key = SeededEntropy(5).token_bytes(transform.encryption_key_length)
    outbound = EspOutboundSA(
        spi=0x4242, transform=transform, encryption_key=key, entropy=SeededEntropy(6)
    )
    inbound = EspInboundSA(spi=0x4242, transform=transform, encryption_key=key)
    inner = build_ipv4(src="10.0.0.1", dst="10.0.1.1", protocol=1, payload=b"\x08\x00ping")
    esp = outbound.encapsulate(inner)
    assert isinstance(esp, bytes)
    packet = esp_in_udp_packet(src="203.0.113.1", dst="198.51.100.7", esp_packet=esp)
    ip, udp = parse_esp_in_udp(packet)
    assert (ip.src, ip.dst, ip.protocol, ip.ttl) == (
        IPv4Address("203.0.113.1"),
        IPv4Address("198.51.100.7"),
        17,
        64,
    )
    assert (udp.src_port, udp.dst_port, udp.checksum) == (4500, 4500, 0)  # RFC 3948 §2.1
    assert classify_udp_4500(udp.payload) is Udp4500Kind.ESP
    assert inbound.decapsulate(udp.payload) == inner


def test_parse_esp_in_udp_refuses_other_protocols() -> None:
    with pytest.raises(MalformedPacketError, match="not UDP"):
        parse_esp_in_udp(build_ipv4(src="1.1.1.1", dst="2.2.2.2", protocol=50, payload=bytes(8)))


def test_udp_checksum_verifies_over_the_pseudo_header() -> None:
    datagram = build_udp(src="10.0.0.1", dst="10.0.0.2", src_port=500, dst_port=500, payload=b"odd")
    pseudo = IPv4Address("10.0.0.1").packed + IPv4Address("10.0.0.2").packed
    pseudo += bytes((0, 17)) + len(datagram).to_bytes(2, "big")
    assert internet_checksum(pseudo + datagram) == 0
    parsed = parse_udp(datagram)
    assert (parsed.src_port, parsed.payload) == (500, b"odd")
    assert parsed.checksum != 0


def test_ipv4_round_trip_and_header_checksum() -> None:
    packet = build_ipv4(
        src="192.0.2.1",
        dst="192.0.2.2",
        protocol=50,
        payload=b"esp!",
        ttl=3,
        tos=0x28,
        identification=77,
        dont_fragment=True,
    )
    assert internet_checksum(packet[:20]) == 0
    assert parse_ipv4(packet + b"ethernet padding") == Ipv4Packet(
        src=IPv4Address("192.0.2.1"),
        dst=IPv4Address("192.0.2.2"),
        protocol=50,
        ttl=3,
        tos=0x28,
        identification=77,
        dont_fragment=True,
        header_length=20,
        payload=b"esp!",
    )


def _with(packet: bytes, offset: int, value: bytes) -> bytes:
    return packet[:offset] + value + packet[offset + len(value) :]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p[:19], "below the 20-byte header"),
        (lambda p: _with(p, 0, b"\x65"), "version 6"),
        (lambda p: _with(p, 0, b"\x44"), "header length 16"),
        (lambda p: _with(p, 2, b"\x01\x00"), "total length 256"),
        (lambda p: _with(p, 12, b"\x0b"), "checksum"),
    ],
)
def test_ipv4_parse_errors_name_the_field(mutate: Callable[[bytes], bytes], message: str) -> None:
    packet = build_ipv4(src="10.0.0.1", dst="10.0.0.2", protocol=17, payload=bytes(8))
    with pytest.raises(MalformedPacketError, match=message):
        parse_ipv4(mutate(packet))


def test_fragments_are_refused() -> None:
    header = bytearray(build_ipv4(src="10.0.0.1", dst="10.0.0.2", protocol=17, payload=bytes(8)))
    header[6] = 0x20  # More Fragments
    header[10:12] = b"\x00\x00"
    header[10:12] = internet_checksum(bytes(header[:20])).to_bytes(2, "big")
    with pytest.raises(MalformedPacketError, match="fragment"):
        parse_ipv4(bytes(header))


def test_udp_parse_errors() -> None:
    with pytest.raises(MalformedPacketError, match="below the 8-byte header"):
        parse_udp(b"1234567")
    with pytest.raises(MalformedPacketError, match="UDP length 9"):
        parse_udp(b"\x11\x94\x11\x94\x00\x09\x00\x00")


@given(garbage=st.binary(max_size=80))
def test_parsers_only_raise_malformed_packet(garbage: bytes) -> None:
    for parser in (parse_ipv4, parse_udp, parse_esp_in_udp):
        with contextlib.suppress(MalformedPacketError):
            parser(garbage)
