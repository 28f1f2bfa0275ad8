"""The IPsec data plane: ESP (RFC 4303) and AH (RFC 4302) in tunnel mode, sans-IO.

- ``esp_transform`` / ``ah_transform``: Table 2 names to transform records.
- ``EspOutboundSA.encapsulate`` / ``EspInboundSA.decapsulate``: inner IPv4
  packet to ESP packet and back; bad input is a counted ``Drop``, never an
  exception. ``AhOutboundSA`` / ``AhInboundSA`` do the same for AH.
- ``ReplayWindow``: the RFC 4303 §3.4.3 bitmap window, with ``jump_to`` for a
  takeover.
- ``classify_udp_4500`` and friends: ESP in UDP (RFC 3948); ``build_ipv4`` /
  ``parse_ipv4``: whole outer packets for tests, pcaps and the live driver.

No clock, no socket, no ``os.urandom``: CBC IVs come from the injected
``Entropy``.
"""

from __future__ import annotations

from .ah import AhInboundSA, AhOutboundSA
from .algorithms import (
    AH_TRANSFORM_NAMES,
    ESP_AUTHENTICATION_NAMES,
    ESP_ENCRYPTION_NAMES,
    AhTransform,
    EspTransform,
    KeyLengthError,
    UnsupportedTransform,
    ah_transform,
    esp_transform,
)
from .esp import MIN_SPI, Drop, DropReason, EspInboundSA, EspOutboundSA, SaCounters
from .ip import (
    IPPROTO_AH,
    IPPROTO_ESP,
    IPPROTO_IPV4,
    IPPROTO_UDP,
    Ipv4Packet,
    MalformedPacketError,
    UdpDatagram,
    build_ipv4,
    build_udp,
    internet_checksum,
    parse_ipv4,
    parse_udp,
)
from .natt import (
    NAT_KEEPALIVE,
    NAT_T_PORT,
    NON_ESP_MARKER,
    Udp4500Kind,
    classify_udp_4500,
    esp_in_udp_packet,
    frame_ike,
    parse_esp_in_udp,
    unframe_ike,
)
from .replay import (
    DEFAULT_WINDOW_SIZE,
    MAX_WINDOW_SIZE,
    MIN_WINDOW_SIZE,
    SEQ_MAX,
    ReplayState,
    ReplayWindow,
)

__all__ = [
    "AH_TRANSFORM_NAMES",
    "DEFAULT_WINDOW_SIZE",
    "ESP_AUTHENTICATION_NAMES",
    "ESP_ENCRYPTION_NAMES",
    "IPPROTO_AH",
    "IPPROTO_ESP",
    "IPPROTO_IPV4",
    "IPPROTO_UDP",
    "MAX_WINDOW_SIZE",
    "MIN_SPI",
    "MIN_WINDOW_SIZE",
    "NAT_KEEPALIVE",
    "NAT_T_PORT",
    "NON_ESP_MARKER",
    "SEQ_MAX",
    "AhInboundSA",
    "AhOutboundSA",
    "AhTransform",
    "Drop",
    "DropReason",
    "EspInboundSA",
    "EspOutboundSA",
    "EspTransform",
    "Ipv4Packet",
    "KeyLengthError",
    "MalformedPacketError",
    "ReplayState",
    "ReplayWindow",
    "SaCounters",
    "Udp4500Kind",
    "UdpDatagram",
    "UnsupportedTransform",
    "ah_transform",
    "build_ipv4",
    "build_udp",
    "classify_udp_4500",
    "esp_in_udp_packet",
    "esp_transform",
    "frame_ike",
    "internet_checksum",
    "parse_esp_in_udp",
    "parse_ipv4",
    "parse_udp",
    "unframe_ike",
]
