"""UDP encapsulation of ESP on port 4500 (RFC 3948), and the non-ESP marker for IKE.

Theory of operation
-------------------
One UDP port (4500) carries three things (RFC 3948 §2.2, §2.3):

- an ESP packet as-is: its first four bytes are the SPI, never zero;
- an IKE message behind the *non-ESP marker*, four zero bytes where an SPI
  would be;
- a NAT-keepalive: a single byte 0xFF, which the receiver ignores.

``classify_udp_4500`` tells them apart; anything else (a packet too short to be
ESP, for instance) is ``INVALID`` and the caller counts it as a receive error.
"""

from __future__ import annotations

import enum

from .ip import (
    IPPROTO_UDP,
    Address,
    Ipv4Packet,
    MalformedPacketError,
    UdpDatagram,
    build_ipv4,
    build_udp,
    parse_ipv4,
    parse_udp,
)

__all__ = [
    "NAT_KEEPALIVE",
    "NAT_T_PORT",
    "NON_ESP_MARKER",
    "Udp4500Kind",
    "classify_udp_4500",
    "esp_in_udp_packet",
    "frame_ike",
    "parse_esp_in_udp",
    "unframe_ike",
]

NAT_T_PORT = 4500
"""The IKE/ESP-in-UDP port once NAT traversal is in use (RFC 3947, RFC 3948)."""
NON_ESP_MARKER = b"\x00\x00\x00\x00"
"""Four zero bytes in front of an IKE message on port 4500 (RFC 3948 §2.2)."""
NAT_KEEPALIVE = b"\xff"
"""The one-byte NAT-keepalive payload (RFC 3948 §2.3)."""
_ESP_HEADER_LENGTH = 8  # SPI + sequence number (RFC 4303 §2)


class Udp4500Kind(enum.Enum):
    """What a UDP 4500 payload carries."""

    ESP = "esp"
    """An ESP packet (non-zero SPI first)."""
    IKE = "ike"
    """An IKE message behind the non-ESP marker."""
    KEEPALIVE = "keepalive"
    """A NAT-keepalive (0xFF): recognized and ignored."""
    INVALID = "invalid"
    """None of the above: count it as a receive error."""


def classify_udp_4500(payload: bytes) -> Udp4500Kind:
    """Classify a UDP 4500 payload (RFC 3948 §2.2-2.3)."""
    if payload == NAT_KEEPALIVE:
        return Udp4500Kind.KEEPALIVE
    if len(payload) < _ESP_HEADER_LENGTH:
        return Udp4500Kind.INVALID  # neither an ESP header nor marker + IKE header
    if payload[:4] == NON_ESP_MARKER:
        return Udp4500Kind.IKE
    return Udp4500Kind.ESP


def frame_ike(ike_message: bytes) -> bytes:
    """An IKE message as a UDP 4500 payload: the non-ESP marker in front."""
    return NON_ESP_MARKER + ike_message


def unframe_ike(payload: bytes) -> bytes:
    """The IKE message behind the non-ESP marker (raises ``MalformedPacketError`` if absent)."""
    if classify_udp_4500(payload) is not Udp4500Kind.IKE:
        msg = "UDP 4500 payload does not start with the 4-byte non-ESP marker"
        raise MalformedPacketError(msg)
    return payload[len(NON_ESP_MARKER) :]


def esp_in_udp_packet(
    *,
    src: Address,
    dst: Address,
    esp_packet: bytes,
    src_port: int = NAT_T_PORT,
    dst_port: int = NAT_T_PORT,
    ttl: int = 64,
) -> bytes:
    """A whole IPv4 / UDP / ESP packet; UDP checksum 0 as RFC 3948 §2.1 says for IPv4."""
    udp = build_udp(
        src=src,
        dst=dst,
        src_port=src_port,
        dst_port=dst_port,
        payload=esp_packet,
        checksum=False,
    )
    return build_ipv4(src=src, dst=dst, protocol=IPPROTO_UDP, payload=udp, ttl=ttl)


def parse_esp_in_udp(packet: bytes) -> tuple[Ipv4Packet, UdpDatagram]:
    """The IPv4 and UDP layers of an IPv4/UDP packet (the UDP payload is in the second).

    Raises ``MalformedPacketError`` if it is not IPv4/UDP; classify the payload with
    ``classify_udp_4500``.
    """
    ip = parse_ipv4(packet)
    if ip.protocol != IPPROTO_UDP:
        msg = f"IPv4 protocol {ip.protocol} is not UDP (17)"
        raise MalformedPacketError(msg)
    return ip, parse_udp(ip.payload)
