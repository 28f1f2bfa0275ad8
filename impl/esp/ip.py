"""IPv4 and UDP headers around ESP and AH: build and parse real packets (RFC 791, RFC 768).

These helpers are what lets tests, pcaps and the live driver carry whole packets:
the outer IPv4 header of a tunnel (protocol 50 for ESP, 51 for AH, 17 for ESP in
UDP), with its header checksum computed. Parsers validate every field they rely
on and raise ``MalformedPacketError`` naming the field, the value and the limit; a
core that calls them turns that into a counted drop.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address

__all__ = [
    "IPPROTO_AH",
    "IPPROTO_ESP",
    "IPPROTO_IPV4",
    "IPPROTO_UDP",
    "Ipv4Packet",
    "MalformedPacketError",
    "UdpDatagram",
    "build_ipv4",
    "build_udp",
    "internet_checksum",
    "ipv4_header",
    "parse_ipv4",
    "parse_udp",
]

IPPROTO_IPV4 = 4  # IP-in-IP: ESP/AH next header in tunnel mode (RFC 4303 §2.6)
IPPROTO_UDP = 17
IPPROTO_ESP = 50
IPPROTO_AH = 51

IPV4_HEADER_LENGTH = 20
UDP_HEADER_LENGTH = 8
DEFAULT_TTL = 64
_DF = 0x4000  # RFC 791 flags: Don't Fragment
_MF = 0x2000  # More Fragments
_HEADER = struct.Struct("!BBHHHBBH4s4s")
_UDP = struct.Struct("!HHHH")

Address = IPv4Address | str


class MalformedPacketError(ValueError):
    """A packet that does not parse; the message names the field, value and limit."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ipv4Packet:
    """A parsed IPv4 packet."""

    src: IPv4Address
    """Source address."""
    dst: IPv4Address
    """Destination address."""
    protocol: int
    """Payload protocol number (0-255): 50 ESP, 51 AH, 17 UDP, 4 IPv4."""
    ttl: int
    """Time to live (0-255)."""
    tos: int
    """Type of service / DSCP+ECN byte (0-255)."""
    identification: int
    """Identification (0-65535)."""
    dont_fragment: bool
    """DF flag."""
    header_length: int
    """Header length in bytes, options included (20-60)."""
    payload: bytes
    """Bytes after the header, up to the total length."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UdpDatagram:
    """A parsed UDP datagram (RFC 768)."""

    src_port: int
    """Source port (0-65535)."""
    dst_port: int
    """Destination port (0-65535)."""
    checksum: int
    """Checksum as sent (0 = none, RFC 768; RFC 3948 §2.1 sends 0 for ESP in UDP)."""
    payload: bytes
    """Bytes after the 8-byte header."""


def internet_checksum(data: bytes) -> int:
    """The RFC 1071 ones'-complement checksum of ``data`` (odd length padded with 0)."""
    if len(data) % 2:
        data += b"\x00"
    # 2^16 ≡ 1 (mod 0xFFFF), so the big-endian integer is congruent to the sum of
    # its 16-bit words; a non-zero sum that is a multiple of 0xFFFF is 0xFFFF
    # (end-around carry never yields +0 from non-zero words).
    value = int.from_bytes(data, "big")
    total = value % 0xFFFF
    if total == 0 and value:
        total = 0xFFFF
    return ~total & 0xFFFF


def ipv4_header(
    *,
    src: Address,
    dst: Address,
    protocol: int,
    payload_length: int,
    ttl: int = DEFAULT_TTL,
    tos: int = 0,
    identification: int = 0,
    dont_fragment: bool = False,
) -> bytes:
    """A 20-byte IPv4 header (no options) with its checksum."""
    total = IPV4_HEADER_LENGTH + payload_length
    if total > 0xFFFF:
        msg = f"IPv4 total length {total} exceeds 65535"
        raise MalformedPacketError(msg)
    fields = (
        0x45,
        tos,
        total,
        identification & 0xFFFF,
        _DF if dont_fragment else 0,
        ttl,
        protocol,
        0,
        IPv4Address(src).packed,
        IPv4Address(dst).packed,
    )
    header = _HEADER.pack(*fields)
    checksum = internet_checksum(header)
    return header[:10] + checksum.to_bytes(2, "big") + header[12:]


def build_ipv4(
    *,
    src: Address,
    dst: Address,
    protocol: int,
    payload: bytes,
    ttl: int = DEFAULT_TTL,
    tos: int = 0,
    identification: int = 0,
    dont_fragment: bool = False,
) -> bytes:
    """An IPv4 packet: a 20-byte header with checksum, then ``payload``."""
    return (
        ipv4_header(
            src=src,
            dst=dst,
            protocol=protocol,
            payload_length=len(payload),
            ttl=ttl,
            tos=tos,
            identification=identification,
            dont_fragment=dont_fragment,
        )
        + payload
    )


def build_udp(
    *,
    src: Address,
    dst: Address,
    src_port: int,
    dst_port: int,
    payload: bytes,
    checksum: bool = True,
) -> bytes:
    """A UDP datagram (header + payload); the checksum covers the RFC 768 pseudo-header.

    ``checksum=False`` sends 0 ("no checksum"), as RFC 3948 §2.1 says ESP in UDP
    SHOULD over IPv4.
    """
    length = UDP_HEADER_LENGTH + len(payload)
    if length > 0xFFFF:
        msg = f"UDP length {length} exceeds 65535"
        raise MalformedPacketError(msg)
    header = _UDP.pack(src_port, dst_port, length, 0)
    if not checksum:
        return header + payload
    pseudo = (
        IPv4Address(src).packed
        + IPv4Address(dst).packed
        + bytes((0, IPPROTO_UDP))
        + length.to_bytes(2, "big")
    )
    value = internet_checksum(pseudo + header + payload) or 0xFFFF  # RFC 768: 0 is sent as all ones
    return _UDP.pack(src_port, dst_port, length, value) + payload


def parse_ipv4(packet: bytes) -> Ipv4Packet:
    """Parse and validate an IPv4 packet (version, lengths, header checksum, no fragments)."""
    if len(packet) < IPV4_HEADER_LENGTH:
        msg = f"IPv4 packet length {len(packet)} is below the 20-byte header"
        raise MalformedPacketError(msg)
    (
        version_ihl,
        tos,
        total,
        identification,
        flags_fragment,
        ttl,
        protocol,
        _checksum,
        src,
        dst,
    ) = _HEADER.unpack_from(packet)
    version, ihl = version_ihl >> 4, (version_ihl & 0xF) * 4
    if version != 4:
        msg = f"IP version {version} is not 4"
        raise MalformedPacketError(msg)
    if ihl < IPV4_HEADER_LENGTH:
        msg = f"IPv4 header length {ihl} is below 20"
        raise MalformedPacketError(msg)
    if not ihl <= total <= len(packet):
        msg = f"IPv4 total length {total} is outside {ihl}..{len(packet)} (bytes received)"
        raise MalformedPacketError(msg)
    if internet_checksum(packet[:ihl]) != 0:
        msg = "IPv4 header checksum does not verify"
        raise MalformedPacketError(msg)
    if flags_fragment & (_MF | 0x1FFF):
        msg = f"IPv4 fragment (flags/offset {flags_fragment:#06x}); reassemble first"
        raise MalformedPacketError(msg)
    return Ipv4Packet(
        src=IPv4Address(src),
        dst=IPv4Address(dst),
        protocol=protocol,
        ttl=ttl,
        tos=tos,
        identification=identification,
        dont_fragment=bool(flags_fragment & _DF),
        header_length=ihl,
        payload=packet[ihl:total],
    )


def parse_udp(datagram: bytes) -> UdpDatagram:
    """Parse a UDP datagram (the checksum is reported, not verified)."""
    if len(datagram) < UDP_HEADER_LENGTH:
        msg = f"UDP datagram length {len(datagram)} is below the 8-byte header"
        raise MalformedPacketError(msg)
    src_port, dst_port, length, checksum = _UDP.unpack_from(datagram)
    if not UDP_HEADER_LENGTH <= length <= len(datagram):
        msg = f"UDP length {length} is outside 8..{len(datagram)} (bytes received)"
        raise MalformedPacketError(msg)
    return UdpDatagram(
        src_port=src_port,
        dst_port=dst_port,
        checksum=checksum,
        payload=datagram[UDP_HEADER_LENGTH:length],
    )
