"""The simulated world's capture: pcapng files Wireshark opens, and the keys that decrypt them.

Theory of operation
-------------------
The world (``properties/world.py``) moves bytes between two routers, a LAN host
and a remote IPsec peer. This module turns what it moves into something a person
can open in Wireshark:

- ``CaptureWriter`` writes a pcapng file (one Section Header Block, one Interface
  Description Block per segment — ``inside``, ``outside``, ``ssp`` —, then one
  Enhanced Packet Block per frame). Timestamps are integer milliseconds of
  simulated time plus the caller's ``epoch_ms``; the link type is Ethernet.
- Frame builders give the world Ethernet frames from IP-level content:
  ``ethernet``, ``ipv4``, ``ipv4_udp``, ``ipv4_tcp``, ``ethernet_for_ipv4``,
  ``multicast_mac`` (RFC 1112 §6.4) and ``hsrp_virtual_mac`` (RFC 2281 §6.1).
  Checksums are computed here, independently of ``impl/esp/ip.py``, so a capture
  checks the implementation's headers instead of echoing them.
- ``TcpStreamRecorder`` shows a byte stream (SSP, DESIGN §3) as one TCP
  connection: handshake, one segment per chunk (split at the MSS) with
  consistent sequence and acknowledgement numbers, FIN or RST at the end, so
  Wireshark's "Follow TCP Stream" gives back exactly the bytes written.
- ``esp_sa_uat_records`` / ``write_esp_keys`` / ``tshark_esp_options`` express
  our SAs in Wireshark's ``esp_sa`` UAT (the records of its profile's
  ``esp_sa`` file, also accepted by ``tshark -o uat:esp_sa:RECORD``), mapping our
  transform names to the algorithm strings of Wireshark's ``packet-ipsec.c``.

Everything here is local misuse or nothing: a bad argument (an address that is
not IPv4, a port out of range, a payload too long, an unsupported transform)
raises ``ValueError`` naming the argument and the value.
"""

from __future__ import annotations

import enum
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import AddressValueError, IPv4Address
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Final

from vpnha.impl.esp import EspTransform

__all__ = [
    "ETHERTYPE_IPV4",
    "HSRP_MULTICAST",
    "HSRP_PORT",
    "LINKTYPE_ETHERNET",
    "SSP_PORT",
    "CaptureWriter",
    "EspKey",
    "MacAddress",
    "TcpEndpoint",
    "TcpFlags",
    "TcpStreamRecorder",
    "TimestampResolution",
    "esp_sa_uat_records",
    "ethernet",
    "ethernet_for_ipv4",
    "hsrp_virtual_mac",
    "internet_checksum",
    "ipv4",
    "ipv4_tcp",
    "ipv4_udp",
    "mac_text",
    "multicast_mac",
    "parse_mac",
    "tshark_esp_options",
    "write_esp_keys",
]

MacAddress = str | bytes
"""A MAC address: six octets, or text such as ``00:00:0c:07:ac:01`` (``-`` also accepted)."""
Address = str | IPv4Address
"""An IPv4 address, as text or ``IPv4Address``."""

LINKTYPE_ETHERNET: Final = 1
"""pcapng LinkType of every interface we write (Ethernet II / IEEE 802.3)."""
ETHERTYPE_IPV4: Final = 0x0800
HSRP_MULTICAST: Final = "224.0.0.2"
"""All-routers group, where HSRP hellos go (RFC 2281 §5.1)."""
HSRP_PORT: Final = 1985
"""UDP port of HSRP, source and destination (RFC 2281 §5.1)."""
SSP_PORT: Final = 3249
"""Default TCP port of SSP (DESIGN §3)."""

IPPROTO_TCP: Final = 6
IPPROTO_UDP: Final = 17

_OCTET_MAX = 0xFF
_U16_MAX = 0xFFFF
_U32_MAX = 0xFFFF_FFFF
_IPV4_HEADER = struct.Struct("!BBHHHBBH4s4s")
_UDP_HEADER = struct.Struct("!HHHH")
_TCP_HEADER = struct.Struct("!HHIIBBHHH")
_IPV4_HEADER_LENGTH = _IPV4_HEADER.size  # 20: we never write IP options
_UDP_HEADER_LENGTH = _UDP_HEADER.size  # 8
_TCP_HEADER_LENGTH = _TCP_HEADER.size  # 20: we never write TCP options
_IPV4_MAX_TOTAL = _U16_MAX  # RFC 791: Total Length is 16 bits
_MAC_LENGTH = 6
_DEFAULT_TTL = 64


# ---------------------------------------------------------------------------
# pcapng (draft-ietf-opsawg-pcapng): block and option codes, little-endian.
# ---------------------------------------------------------------------------

_BLOCK_SECTION_HEADER = 0x0A0D0D0A
_BLOCK_INTERFACE_DESCRIPTION = 0x00000001
_BLOCK_ENHANCED_PACKET = 0x00000006
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_VERSION_MAJOR, _VERSION_MINOR = 1, 0
_SECTION_LENGTH_UNKNOWN = -1
_OPT_END_OF_OPTIONS = 0
_OPT_COMMENT = 1
_OPT_SHB_USER_APPLICATION = 4
_OPT_IF_NAME = 2
_OPT_IF_TSRESOL = 9
_SNAPLEN_UNLIMITED = 0  # pcapng §4.2: "a value of zero signifies no limit"
_USER_APPLICATION = "vpnha simulated world"


class TimestampResolution(enum.IntEnum):
    """An interface's ``if_tsresol``: timestamps count units of 10^-value seconds."""

    MILLISECONDS = 3
    """One unit per simulated millisecond."""
    MICROSECONDS = 6
    """Wireshark's default resolution; the simulated milliseconds times 1000."""


def _padded(data: bytes) -> bytes:
    """``data`` zero-padded to a multiple of 4 octets (pcapng aligns everything to 32 bits)."""
    return data + bytes(-len(data) % 4)


def _option(code: int, value: bytes) -> bytes:
    if len(value) > _U16_MAX:
        msg = f"pcapng option {code} value of {len(value)} octets exceeds {_U16_MAX}"
        raise ValueError(msg)
    return struct.pack("<HH", code, len(value)) + _padded(value)


def _options(options: list[bytes]) -> bytes:
    """The option list with its opt_endofopt, or nothing when there are no options."""
    if not options:
        return b""
    return b"".join(options) + struct.pack("<HH", _OPT_END_OF_OPTIONS, 0)


def _block(block_type: int, body: bytes) -> bytes:
    """A whole block: type, total length, body, total length again."""
    total = 12 + len(body)
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


class CaptureWriter:
    """A pcapng file of the simulated world: one interface per segment, Ethernet frames.

    ``target`` is a path (opened, and closed by ``close``) or a binary file object
    (written to and flushed, but left open for its owner). Every block goes to the
    file when its call is made, so after ``flush`` a reader sees every frame so
    far, even if the run that writes the capture fails later. Times are integer
    milliseconds of simulated time; a frame's timestamp is ``epoch_ms + time_ms``
    milliseconds after 1970-01-01 UTC.
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | BinaryIO,
        *,
        epoch_ms: int = 0,
        resolution: TimestampResolution = TimestampResolution.MICROSECONDS,
    ) -> None:
        """Open ``target`` and write the Section Header Block.

        ``epoch_ms`` is the wall-clock instant (ms since 1970) that simulated time 0
        stands for; ``resolution`` is the default ``if_tsresol`` of the segments.
        """
        if epoch_ms < 0:
            msg = f"epoch_ms {epoch_ms} is before 1970 (must be >= 0)"
            raise ValueError(msg)
        self._epoch_ms = epoch_ms
        self._resolution = TimestampResolution(resolution)
        self._owns_file = isinstance(target, str | os.PathLike)
        if isinstance(target, str | os.PathLike):
            self._file: BinaryIO = Path(target).open("wb")  # noqa: SIM115 (closed by close())
        else:
            self._file = target
        self._segments: list[tuple[str, TimestampResolution]] = []
        self._frames = 0
        self._closed = False
        self._file.write(self._section_header())

    @property
    def epoch_ms(self) -> int:
        """Wall-clock milliseconds since 1970 that simulated time 0 stands for."""
        return self._epoch_ms

    @property
    def segments(self) -> tuple[str, ...]:
        """Segment names by interface id (the order of ``add_segment`` calls)."""
        return tuple(name for name, _ in self._segments)

    @property
    def frame_count(self) -> int:
        """Frames written so far."""
        return self._frames

    @property
    def closed(self) -> bool:
        """True once ``close`` has run."""
        return self._closed

    def add_segment(self, name: str, *, resolution: TimestampResolution | None = None) -> int:
        """Describe one network segment (``inside``, ``outside``, ``ssp``); return its id.

        The id is the pcapng interface id that ``write`` takes. ``name`` becomes the
        interface's ``if_name`` (Wireshark's ``frame.interface_name``) and must be
        unique and non-empty; ``resolution`` overrides the writer's default.
        """
        self._check_open()
        if not name or name in self.segments:
            msg = f"segment name {name!r} is empty or already used (segments: {self.segments})"
            raise ValueError(msg)
        resolution = self._resolution if resolution is None else TimestampResolution(resolution)
        options = [
            _option(_OPT_IF_NAME, name.encode()),
            _option(_OPT_IF_TSRESOL, bytes((resolution.value,))),
        ]
        body = struct.pack("<HHI", LINKTYPE_ETHERNET, 0, _SNAPLEN_UNLIMITED) + _options(options)
        self._file.write(_block(_BLOCK_INTERFACE_DESCRIPTION, body))
        self._segments.append((name, resolution))
        return len(self._segments) - 1

    def write(self, segment: int, time_ms: int, frame: bytes, *, comment: str = "") -> None:
        """Write one Ethernet ``frame`` seen on ``segment`` at simulated ``time_ms``.

        ``comment`` (optional) is shown by Wireshark as the packet comment
        (``frame.comment``), e.g. to mark a takeover or an injected replay.
        """
        self._check_open()
        if not 0 <= segment < len(self._segments):
            known = f"0..{len(self._segments) - 1}" if self._segments else "none yet"
            msg = f"segment {segment} is not an id returned by add_segment ({known})"
            raise ValueError(msg)
        if time_ms + self._epoch_ms < 0:
            msg = f"time_ms {time_ms} with epoch_ms {self._epoch_ms} is before 1970"
            raise ValueError(msg)
        if len(frame) > _U32_MAX:
            msg = f"frame length {len(frame)} exceeds {_U32_MAX} octets"
            raise ValueError(msg)
        _, resolution = self._segments[segment]
        units = (self._epoch_ms + time_ms) * 10 ** (resolution.value - 3)
        if units >> 64:
            msg = f"time_ms {time_ms} does not fit a 64-bit pcapng timestamp"
            raise ValueError(msg)
        options = [_option(_OPT_COMMENT, comment.encode())] if comment else []
        body = (
            struct.pack("<IIIII", segment, units >> 32, units & _U32_MAX, len(frame), len(frame))
            + _padded(bytes(frame))
            + _options(options)
        )
        self._file.write(_block(_BLOCK_ENHANCED_PACKET, body))
        self._frames += 1

    def flush(self) -> None:
        """Push buffered blocks to the file (a reader then sees every frame so far)."""
        self._check_open()
        self._file.flush()

    def close(self) -> None:
        """Flush, and close the file if this writer opened it; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._file.flush()
        if self._owns_file:
            self._file.close()

    def __enter__(self) -> CaptureWriter:
        """The writer itself; leaving the ``with`` block closes it."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            msg = "capture writer is closed"
            raise ValueError(msg)

    @staticmethod
    def _section_header() -> bytes:
        body = struct.pack(
            "<IHHq", _BYTE_ORDER_MAGIC, _VERSION_MAJOR, _VERSION_MINOR, _SECTION_LENGTH_UNKNOWN
        ) + _options([_option(_OPT_SHB_USER_APPLICATION, _USER_APPLICATION.encode())])
        return _block(_BLOCK_SECTION_HEADER, body)


# ---------------------------------------------------------------------------
# Frame builders
# ---------------------------------------------------------------------------


def internet_checksum(data: bytes) -> int:
    """RFC 1071 ones'-complement sum of 16-bit words, complemented (odd length padded with 0)."""
    if len(data) % 2:
        data += b"\x00"
    words: tuple[int, ...] = struct.unpack(f"!{len(data) // 2}H", data)
    total = sum(words)
    while total > _U16_MAX:
        total = (total & _U16_MAX) + (total >> 16)
    return ~total & _U16_MAX


def parse_mac(argument: str, value: MacAddress) -> bytes:
    """The six octets of ``value``; ``argument`` names it in the ``ValueError`` if it is none."""
    if isinstance(value, bytes | bytearray):
        if len(value) == _MAC_LENGTH:
            return bytes(value)
    else:
        parts = value.replace("-", ":").split(":")
        if len(parts) == _MAC_LENGTH and all(
            1 <= len(part) <= 2 and all(c in "0123456789abcdefABCDEF" for c in part)
            for part in parts
        ):
            return bytes(int(part, 16) for part in parts)
    msg = f"{argument} {value!r} is not a MAC address (six octets, e.g. 00:00:0c:07:ac:01)"
    raise ValueError(msg)


def mac_text(mac: bytes) -> str:
    """``00:00:0c:07:ac:01`` for six octets (Wireshark's ``eth.addr`` notation)."""
    return ":".join(f"{octet:02x}" for octet in parse_mac("mac", mac))


def multicast_mac(group: Address = HSRP_MULTICAST) -> bytes:
    """The Ethernet address of an IPv4 multicast group: 01:00:5e + its low 23 bits (RFC 1112 §6.4).

    The default, 224.0.0.2 (where HSRP hellos go), gives 01:00:5e:00:00:02.
    """
    address = _ipv4("group", group)
    if not address.is_multicast:
        msg = f"group {address} is not an IPv4 multicast address (224.0.0.0/4)"
        raise ValueError(msg)
    low_bits = int(address) & 0x7F_FFFF
    return bytes((0x01, 0x00, 0x5E)) + low_bits.to_bytes(3, "big")


def hsrp_virtual_mac(group: int) -> bytes:
    """The HSRP version 0 virtual MAC of ``group`` (0-255): 00:00:0c:07:ac:NN (RFC 2281 §6.1)."""
    _check_range("group", group, _OCTET_MAX)
    return bytes((0x00, 0x00, 0x0C, 0x07, 0xAC, group))


def ethernet(dst_mac: MacAddress, src_mac: MacAddress, ethertype: int, payload: bytes) -> bytes:
    """An Ethernet II frame without FCS (what a capture shows): dst, src, type, payload."""
    _check_range("ethertype", ethertype, _U16_MAX)
    return (
        parse_mac("dst_mac", dst_mac)
        + parse_mac("src_mac", src_mac)
        + ethertype.to_bytes(2, "big")
        + bytes(payload)
    )


def ethernet_for_ipv4(
    ip_packet: bytes, src_mac: MacAddress, dst_mac: MacAddress | None = None
) -> bytes:
    """``ip_packet`` in an Ethernet frame of type IPv4.

    ``dst_mac`` None means "derive it from the packet's destination": the group's
    multicast MAC for a multicast destination, ff:ff:ff:ff:ff:ff for
    255.255.255.255; any other destination needs an explicit ``dst_mac``.
    """
    if len(ip_packet) < _IPV4_HEADER_LENGTH or ip_packet[0] >> 4 != 4:
        start = bytes(ip_packet[:4]).hex()
        msg = f"ip_packet {start}… is not an IPv4 packet (version 4, at least 20 octets)"
        raise ValueError(msg)
    if dst_mac is None:
        destination = IPv4Address(bytes(ip_packet[16:20]))
        if destination.is_multicast:
            dst_mac = multicast_mac(destination)
        elif destination == IPv4Address("255.255.255.255"):
            dst_mac = b"\xff" * _MAC_LENGTH
        else:
            msg = f"dst_mac None needs a multicast or broadcast destination, not {destination}"
            raise ValueError(msg)
    return ethernet(dst_mac, src_mac, ETHERTYPE_IPV4, ip_packet)


def ipv4(
    src_ip: Address,
    dst_ip: Address,
    protocol: int,
    payload: bytes,
    *,
    ttl: int = _DEFAULT_TTL,
    ident: int = 0,
    dont_fragment: bool = False,
) -> bytes:
    """An IPv4 packet (RFC 791): a 20-octet header with its checksum, then ``payload``."""
    src, dst = _ipv4("src_ip", src_ip), _ipv4("dst_ip", dst_ip)
    _check_range("protocol", protocol, _OCTET_MAX)
    _check_range("ttl", ttl, _OCTET_MAX)
    _check_range("ident", ident, _U16_MAX)
    _check_length("payload", payload, _IPV4_MAX_TOTAL - _IPV4_HEADER_LENGTH)
    header = _IPV4_HEADER.pack(
        0x45,  # version 4, IHL 5 words
        0,  # type of service
        _IPV4_HEADER_LENGTH + len(payload),
        ident,
        0x4000 if dont_fragment else 0,  # flags (DF) and fragment offset 0
        ttl,
        protocol,
        0,  # checksum, filled in below
        src.packed,
        dst.packed,
    )
    checksum = internet_checksum(header).to_bytes(2, "big")
    return header[:10] + checksum + header[12:] + bytes(payload)


def ipv4_udp(
    src_ip: Address,
    dst_ip: Address,
    sport: int,
    dport: int,
    payload: bytes,
    *,
    ttl: int = _DEFAULT_TTL,
    ident: int = 0,
    checksum: bool = True,
) -> bytes:
    """An IPv4/UDP packet with both checksums (RFC 768 pseudo-header; 0 is sent as 0xffff).

    ``checksum=False`` sends UDP checksum 0 ("none"), as RFC 3948 §2.1 says ESP in
    UDP should over IPv4. HSRP hellos go with ``ttl=1`` to 224.0.0.2.
    """
    src, dst = _ipv4("src_ip", src_ip), _ipv4("dst_ip", dst_ip)
    _check_range("sport", sport, _U16_MAX)
    _check_range("dport", dport, _U16_MAX)
    _check_length("payload", payload, _IPV4_MAX_TOTAL - _IPV4_HEADER_LENGTH - _UDP_HEADER_LENGTH)
    length = _UDP_HEADER_LENGTH + len(payload)
    value = 0
    if checksum:
        datagram = _UDP_HEADER.pack(sport, dport, length, 0) + bytes(payload)
        value = internet_checksum(_pseudo_header(src, dst, IPPROTO_UDP, length) + datagram)
        value = value or _U16_MAX  # RFC 768: a computed 0 is transmitted as all ones
    udp = _UDP_HEADER.pack(sport, dport, length, value) + bytes(payload)
    return ipv4(src, dst, IPPROTO_UDP, udp, ttl=ttl, ident=ident)


class TcpFlags(enum.IntFlag):
    """The TCP control bits of the flags octet (RFC 9293 §3.1, RFC 3168 §23.2)."""

    FIN = 0x01
    SYN = 0x02
    RST = 0x04
    PSH = 0x08
    ACK = 0x10
    URG = 0x20
    ECE = 0x40
    CWR = 0x80


def ipv4_tcp(  # noqa: PLR0917 (header fields in wire order, as the world calls it)
    src_ip: Address,
    dst_ip: Address,
    sport: int,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    payload: bytes,
    window: int = _U16_MAX,
    *,
    ttl: int = _DEFAULT_TTL,
    ident: int = 0,
) -> bytes:
    """An IPv4/TCP segment without options, both checksums computed (RFC 9293 §3.1).

    ``flags`` is a ``TcpFlags`` combination (or its octet, 0-255); ``seq`` and
    ``ack`` are absolute 32-bit numbers; the urgent pointer is 0.
    """
    src, dst = _ipv4("src_ip", src_ip), _ipv4("dst_ip", dst_ip)
    _check_range("sport", sport, _U16_MAX)
    _check_range("dport", dport, _U16_MAX)
    _check_range("seq", seq, _U32_MAX)
    _check_range("ack", ack, _U32_MAX)
    _check_range("flags", int(flags), _OCTET_MAX)
    _check_range("window", window, _U16_MAX)
    _check_length("payload", payload, _IPV4_MAX_TOTAL - _IPV4_HEADER_LENGTH - _TCP_HEADER_LENGTH)
    data_offset = (_TCP_HEADER_LENGTH // 4) << 4
    header = _TCP_HEADER.pack(sport, dport, seq, ack, data_offset, int(flags), window, 0, 0)
    length = _TCP_HEADER_LENGTH + len(payload)
    value = internet_checksum(_pseudo_header(src, dst, IPPROTO_TCP, length) + header + payload)
    segment = header[:16] + value.to_bytes(2, "big") + header[18:] + bytes(payload)
    return ipv4(src, dst, IPPROTO_TCP, segment, ttl=ttl, ident=ident)


def _pseudo_header(src: IPv4Address, dst: IPv4Address, protocol: int, length: int) -> bytes:
    """RFC 768 / RFC 9293 §3.1 pseudo-header: addresses, zero, protocol, length."""
    return src.packed + dst.packed + struct.pack("!BBH", 0, protocol, length)


def _ipv4(argument: str, value: Address) -> IPv4Address:
    if isinstance(value, IPv4Address):
        return value
    if isinstance(value, str):
        try:
            return IPv4Address(value)
        except AddressValueError:
            pass
    msg = f"{argument} {value!r} is not an IPv4 address"
    raise ValueError(msg)


def _check_range(argument: str, value: int, maximum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        msg = f"{argument} {value!r} is outside 0..{maximum}"
        raise ValueError(msg)


def _check_length(argument: str, value: bytes, maximum: int) -> None:
    if len(value) > maximum:
        msg = f"{argument} length {len(value)} exceeds {maximum} octets"
        raise ValueError(msg)


# ---------------------------------------------------------------------------
# A byte stream shown as one TCP connection
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpEndpoint:
    """One end of a recorded TCP connection."""

    ip: str
    """IPv4 address, dotted quad."""
    port: int
    """TCP port, 0-65535."""
    mac: MacAddress
    """Ethernet address the end's frames carry as source (and the peer's as destination)."""


class _Direction:
    """Send state of one end: next sequence number and IP identification."""

    __slots__ = ("endpoint", "ident", "next_seq")

    def __init__(self, endpoint: TcpEndpoint, isn: int) -> None:
        self.endpoint = endpoint
        self.next_seq = isn
        self.ident = 0


class TcpStreamRecorder:
    """A byte stream between two ends, as the Ethernet frames of one TCP connection.

    ``open`` gives the three-way handshake (SYN, SYN-ACK, ACK), ``send`` one
    segment per MSS-sized piece of a chunk (ACK on all, PSH on the last),
    ``close`` the FIN exchange (FIN-ACK, FIN-ACK, ACK) and ``reset`` a single
    RST-ACK. Every segment acknowledges everything the peer has sent so far:
    frames are meant to be written in the order they are returned and the stream
    is delivered in order, which is how the simulated TCP behaves (loss and delay
    show as the time between chunks, not as retransmissions). A recorder records
    one connection; a reconnection is a new recorder (with a new client port, as
    a real client would pick).
    """

    def __init__(
        self,
        *,
        client: TcpEndpoint,
        server: TcpEndpoint,
        client_isn: int = 0x1000_0000,
        server_isn: int = 0x2000_0000,
        mss: int = 1460,
        window: int = _U16_MAX,
        ttl: int = _DEFAULT_TTL,
    ) -> None:
        """Set up the connection ``client`` → ``server``; nothing is sent until ``open``.

        ``client_isn`` / ``server_isn`` are the initial sequence numbers (0 to 2^32-1),
        ``mss`` the largest payload per segment (1-65495 octets), ``window`` the
        advertised window (0-65535), ``ttl`` the IP time to live.
        """
        for argument, endpoint in (("client", client), ("server", server)):
            _ipv4(f"{argument}.ip", endpoint.ip)
            _check_range(f"{argument}.port", endpoint.port, _U16_MAX)
            parse_mac(f"{argument}.mac", endpoint.mac)
        if client == server:
            msg = f"client and server are the same endpoint {client}"
            raise ValueError(msg)
        _check_range("client_isn", client_isn, _U32_MAX)
        _check_range("server_isn", server_isn, _U32_MAX)
        max_payload = _IPV4_MAX_TOTAL - _IPV4_HEADER_LENGTH - _TCP_HEADER_LENGTH
        if not isinstance(mss, int) or not 1 <= mss <= max_payload:
            msg = f"mss {mss!r} is outside 1..{max_payload}"
            raise ValueError(msg)
        _check_range("window", window, _U16_MAX)
        _check_range("ttl", ttl, _OCTET_MAX)
        self._client = _Direction(client, client_isn)
        self._server = _Direction(server, server_isn)
        self._mss = mss
        self._window = window
        self._ttl = ttl
        self._state = "new"

    @property
    def client(self) -> TcpEndpoint:
        """The end that opened the connection."""
        return self._client.endpoint

    @property
    def server(self) -> TcpEndpoint:
        """The end that accepted it."""
        return self._server.endpoint

    @property
    def is_open(self) -> bool:
        """True between ``open`` and ``close`` / ``reset``."""
        return self._state == "open"

    def open(self) -> list[bytes]:
        """The handshake: SYN from the client, SYN-ACK from the server, ACK from the client."""
        if self._state != "new":
            msg = f"connection {self._name()} was already opened (state {self._state})"
            raise ValueError(msg)
        client, server = self._client, self._server
        frames = [self._segment(client, server, TcpFlags.SYN, b"", ack=0)]
        client.next_seq = (client.next_seq + 1) & _U32_MAX  # SYN occupies one number
        frames.append(self._segment(server, client, TcpFlags.SYN | TcpFlags.ACK, b""))
        server.next_seq = (server.next_seq + 1) & _U32_MAX
        frames.append(self._segment(client, server, TcpFlags.ACK, b""))
        self._state = "open"
        return frames

    def send(self, sender: TcpEndpoint, data: bytes) -> list[bytes]:
        """The segments carrying ``data`` from ``sender`` (client or server); [] for no data."""
        this, peer = self._ends(sender)
        frames = []
        for start in range(0, len(data), self._mss):
            piece = bytes(data[start : start + self._mss])
            last = start + self._mss >= len(data)
            flags = TcpFlags.ACK | TcpFlags.PSH if last else TcpFlags.ACK
            frames.append(self._segment(this, peer, flags, piece))
            this.next_seq = (this.next_seq + len(piece)) & _U32_MAX
        return frames

    def close(self, initiator: TcpEndpoint) -> list[bytes]:
        """An orderly close: FIN-ACK from ``initiator``, FIN-ACK from the peer, final ACK."""
        this, peer = self._ends(initiator)
        frames = [self._segment(this, peer, TcpFlags.FIN | TcpFlags.ACK, b"")]
        this.next_seq = (this.next_seq + 1) & _U32_MAX  # FIN occupies one number
        frames.append(self._segment(peer, this, TcpFlags.FIN | TcpFlags.ACK, b""))
        peer.next_seq = (peer.next_seq + 1) & _U32_MAX
        frames.append(self._segment(this, peer, TcpFlags.ACK, b""))
        self._state = "closed"
        return frames

    def reset(self, sender: TcpEndpoint) -> list[bytes]:
        """An abort: one RST-ACK from ``sender`` (e.g. a restarted router refusing the stream)."""
        this, peer = self._ends(sender)
        frames = [self._segment(this, peer, TcpFlags.RST | TcpFlags.ACK, b"")]
        self._state = "closed"
        return frames

    def _ends(self, sender: TcpEndpoint) -> tuple[_Direction, _Direction]:
        if self._state != "open":
            msg = f"connection {self._name()} is not open (state {self._state})"
            raise ValueError(msg)
        if sender == self._client.endpoint:
            return self._client, self._server
        if sender == self._server.endpoint:
            return self._server, self._client
        msg = f"sender {sender} is neither end of connection {self._name()}"
        raise ValueError(msg)

    def _segment(
        self,
        this: _Direction,
        peer: _Direction,
        flags: TcpFlags,
        payload: bytes,
        *,
        ack: int | None = None,
    ) -> bytes:
        packet = ipv4_tcp(
            this.endpoint.ip,
            peer.endpoint.ip,
            this.endpoint.port,
            peer.endpoint.port,
            this.next_seq,
            peer.next_seq if ack is None else ack,
            flags,
            payload,
            self._window,
            ttl=self._ttl,
            ident=this.ident,
        )
        this.ident = (this.ident + 1) & _U16_MAX
        return ethernet_for_ipv4(packet, this.endpoint.mac, peer.endpoint.mac)

    def _name(self) -> str:
        client, server = self._client.endpoint, self._server.endpoint
        return f"{client.ip}:{client.port} -> {server.ip}:{server.port}"


# ---------------------------------------------------------------------------
# Wireshark's esp_sa UAT
# ---------------------------------------------------------------------------

# Algorithm strings exactly as Wireshark's packet-ipsec.c (esp_encryption_type_vals,
# esp_authentication_type_vals) spells them; the UAT matches them by text.
_WIRESHARK_ENCRYPTION: Final = {
    "esp-des": "DES-CBC [RFC2405]",
    "esp-3des": "TripleDES-CBC [RFC2451]",
    "esp-aes": "AES-CBC [RFC3602]",
    "esp-gcm": "AES-GCM with 16 octet ICV [RFC4106]",
    "esp-null": "NULL",
}
_WIRESHARK_AUTHENTICATION: Final = {
    "esp-sha-hmac": "HMAC-SHA-1-96 [RFC2404]",
    "esp-md5-hmac": "HMAC-MD5-96 [RFC2403]",
}
_WIRESHARK_NO_AUTHENTICATION: Final = "NULL"
_AES_KEY_BITS = (128, 192, 256)
_GCM_SALT_LENGTH = 4  # RFC 4106 §8.1: the key material ends with a 4-octet salt
_FIXED_KEY_LENGTHS: Final = {"esp-des": 8, "esp-3des": 24, "esp-null": 0}
_AUTHENTICATION_KEY_LENGTHS: Final = {"esp-sha-hmac": 20, "esp-md5-hmac": 16}
_ESP_SA_FILE_HEADER = "# Wireshark esp_sa UAT: ESP SAs to decrypt (vpnha.properties.pcap)\n"


@dataclass(frozen=True, slots=True)
class EspKey:
    """One ESP SA as Wireshark needs it to verify and decrypt; fields in the UAT record's order."""

    src: str
    """Outer source IPv4 address of the SA's packets, or ``*`` for any."""
    dst: str
    """Outer destination IPv4 address, or ``*`` for any."""
    spi: int | None
    """SPI (0 to 2^32-1); None matches any SPI (``*``)."""
    encryption: str
    """Our transform name: esp-des, esp-3des, esp-aes [192|256], esp-gcm [192|256], esp-null."""
    enc_key: bytes
    """Encryption key; for esp-gcm the key followed by its 4-octet salt; empty for esp-null."""
    authentication: str | None = None
    """esp-sha-hmac or esp-md5-hmac; None for none (always None with esp-gcm)."""
    auth_key: bytes = b""
    """Integrity key (20 octets for SHA-1, 16 for MD5); empty without authentication."""

    @classmethod
    def for_transform(
        cls,
        *,
        src: str,
        dst: str,
        spi: int | None,
        transform: EspTransform,
        encryption_key: bytes,
        integrity_key: bytes = b"",
    ) -> EspKey:
        """The key record of an SA keyed with ``transform`` (``vpnha.impl.esp``)."""
        encryption = transform.encryption
        if transform.key_bits is not None and transform.key_bits != _AES_KEY_BITS[0]:
            encryption = f"{encryption} {transform.key_bits}"
        return cls(
            src, dst, spi, encryption, encryption_key, transform.authentication, integrity_key
        )


def esp_sa_uat_records(sas: Iterable[EspKey]) -> list[str]:
    """One Wireshark ``esp_sa`` UAT record per SA, in order.

    A record is eight quoted fields: protocol, source, destination, SPI,
    encryption algorithm, key, authentication algorithm, key — e.g.
    ``"IPv4","192.0.2.1","198.51.100.2","0x00001001","AES-CBC [RFC3602]","0x…",``
    ``"HMAC-SHA-1-96 [RFC2404]","0x…"``.

    Wireshark uses the first record that matches a packet, so records with ``*``
    belong after the exact ones. Raises ``ValueError`` for an address that is
    neither IPv4 nor ``*``, an SPI out
    of range, a transform Wireshark cannot decrypt or that we do not run, or a key
    whose length does not fit its transform.
    """
    return [_uat_record(index, sa) for index, sa in enumerate(sas)]


def write_esp_keys(path: str | os.PathLike[str], sas: Iterable[EspKey]) -> None:
    """Write the SAs as Wireshark's ``esp_sa`` file (a profile's UAT file: one record a line).

    Copy it to the ``esp_sa`` file of a Wireshark profile (or point
    ``WIRESHARK_CONFIG_DIR`` at its folder) and enable ESP decryption.
    """
    records = esp_sa_uat_records(sas)
    Path(path).write_text(_ESP_SA_FILE_HEADER + "".join(f"{line}\n" for line in records))


def tshark_esp_options(sas: Iterable[EspKey], *, enable: bool = False) -> list[str]:
    """The tshark arguments ``-o uat:esp_sa:RECORD``, one pair per SA.

    ``enable=True`` puts ``-o esp.enable_encryption_decode:TRUE -o
    esp.enable_authentication_check:TRUE`` in front, which tshark needs to use them.
    """
    options = []
    if enable:
        options += ["-o", "esp.enable_encryption_decode:TRUE"]
        options += ["-o", "esp.enable_authentication_check:TRUE"]
    for record in esp_sa_uat_records(sas):
        options += ["-o", f"uat:esp_sa:{record}"]
    return options


def _uat_record(index: int, sa: EspKey) -> str:
    where = f"sas[{index}]"
    src = _uat_address(f"{where}.src", sa.src)
    dst = _uat_address(f"{where}.dst", sa.dst)
    if sa.spi is None:
        spi = "*"
    else:
        _check_range(f"{where}.spi", sa.spi, _U32_MAX)
        spi = f"0x{sa.spi:08x}"
    encryption, key_length = _encryption(where, sa.encryption)
    if len(sa.enc_key) != key_length:
        what = "key + 4-octet salt" if encryption == _WIRESHARK_ENCRYPTION["esp-gcm"] else "key"
        msg = (
            f"{where}.enc_key is {len(sa.enc_key)} octets; "
            f"{sa.encryption} needs a {key_length}-octet {what}"
        )
        raise ValueError(msg)
    if sa.authentication is None:
        authentication, auth_key_length = _WIRESHARK_NO_AUTHENTICATION, 0
    elif sa.authentication in _WIRESHARK_AUTHENTICATION:
        if sa.encryption.startswith("esp-gcm"):
            msg = (
                f"{where}: esp-gcm authenticates by itself and cannot be combined with "
                f"authentication {sa.authentication!r}"
            )
            raise ValueError(msg)
        authentication = _WIRESHARK_AUTHENTICATION[sa.authentication]
        auth_key_length = _AUTHENTICATION_KEY_LENGTHS[sa.authentication]
    else:
        msg = (
            f"{where}.authentication {sa.authentication!r} is not one of "
            f"{', '.join(_WIRESHARK_AUTHENTICATION)} or None"
        )
        raise ValueError(msg)
    if len(sa.auth_key) != auth_key_length:
        msg = (
            f"{where}.auth_key is {len(sa.auth_key)} octets; "
            f"{sa.authentication or 'no authentication'} needs {auth_key_length}"
        )
        raise ValueError(msg)
    fields = (
        "IPv4",
        src,
        dst,
        spi,
        encryption,
        _uat_key(sa.enc_key),
        authentication,
        _uat_key(sa.auth_key),
    )
    # No field can hold a quote, backslash or control character (addresses, hex,
    # fixed algorithm names), so none needs the UAT's \xNN escapes.
    return ",".join(f'"{field}"' for field in fields)


def _encryption(where: str, name: str) -> tuple[str, int]:
    """Wireshark's algorithm string and the key length (octets) for our encryption name."""
    words = name.split()
    base = words[0] if words else ""
    if base not in _WIRESHARK_ENCRYPTION or len(words) > 2:
        msg = (
            f"{where}.encryption {name!r} is not one of "
            f"{', '.join(_WIRESHARK_ENCRYPTION)} (AES and GCM may add 128, 192 or 256)"
        )
        raise ValueError(msg)
    if base in _FIXED_KEY_LENGTHS:
        if len(words) != 1:
            msg = f"{where}.encryption {name!r}: {base} takes no key size"
            raise ValueError(msg)
        return _WIRESHARK_ENCRYPTION[base], _FIXED_KEY_LENGTHS[base]
    bits = int(words[1]) if len(words) == 2 and words[1].isdigit() else None
    if len(words) == 2 and bits not in _AES_KEY_BITS:
        msg = f"{where}.encryption {name!r}: key size {words[1]} is not one of 128, 192, 256"
        raise ValueError(msg)
    key_length = (bits or _AES_KEY_BITS[0]) // 8
    if base == "esp-gcm":
        key_length += _GCM_SALT_LENGTH
    return _WIRESHARK_ENCRYPTION[base], key_length


def _uat_address(argument: str, value: str) -> str:
    if value == "*":
        return value
    return str(_ipv4(argument, value))


def _uat_key(key: bytes) -> str:
    """A UAT key field: ``0x`` and hex digits, or empty for no key."""
    return f"0x{key.hex()}" if key else ""
