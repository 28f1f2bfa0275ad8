"""SSP framing: the byte layout of one frame, its authentication tag and the field codec.

Cisco's SSP wire format is not public (reference/protocols.md §5.1), so this is our own
design. One TCP connection carries a stream of frames; every integer is in network order.

Frame (header 12 octets, body ``L`` octets, tag 32 octets)::

    offset  size  field
    ------  ----  ------------------------------------------------------------------
    0       1     version: 1 (any other value ends the connection)
    1       1     message type: 1 HELLO, 2 KEEPALIVE, 3 ROLE, 4 IPSEC_SA_ADD,
                  5 IKE_SA_ADD, 6 SA_DELETE, 7 COUNTER_UPDATE, 8 ACK, 9 REFUSE,
                  10 RESYNC_REQUEST, 11 BULK_BEGIN, 12 BULK_END
    2       1     flags: bit 0 (0x01) ACK_REQUESTED; bits 1-7 reserved, must be 0
    3       1     DOI: 0 SSP itself, 1 IPsec HA Manager, 2 IKE HA Manager
    4       4     body length L, 0 .. 1 048 576 (1 MiB); larger ends the connection
                  before the body is read
    8       4     sequence number: 0 for the HELLO, +1 per frame, per direction and
                  connection; anything but the next expected number ends the connection
    12      L     body (layout per message type: :mod:`vpnha.impl.ssp.messages`)
    12+L    32    HMAC-SHA-256 tag over octets 0 .. 12+L-1

Keys (``psk`` = the configured pre-shared key, ``dir`` = ``b"c2s"`` for frames the TCP
client sends and ``b"s2c"`` for the server's, so a frame can never be reflected back)::

    hello key   = HMAC-SHA-256(psk, b"vpnha-ssp-1 hello " + dir)
    session key = HMAC-SHA-256(psk, b"vpnha-ssp-1 session " + dir
                                    + client_nonce + server_nonce)

The HELLO (sequence number 0) is tagged with the hello key, since nonces are not yet
known; every later frame with the session key, which binds it to both 16-octet nonces
of this connection: a frame recorded on another connection fails its tag.

Field encodings used by message bodies: ``u8``/``u16``/``u32``/``u64`` unsigned
integers; ``bool`` one octet, 0 or 1; ``ipv4`` 4 octets; ``prefix`` 4 octets address +
1 octet prefix length 0-32 (host bits zero); ``bytes8``/``text8`` a u8 length then the
octets (text is ASCII); ``bytes16``/``text16`` a u16 length then the octets (text is
UTF-8); ``list`` a u8 count then the items. A body must be consumed exactly.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from enum import IntEnum
from ipaddress import IPv4Address, IPv4Network

__all__ = [
    "FLAG_ACK_REQUESTED",
    "HEADER_LEN",
    "MAX_BODY_LEN",
    "NONCE_LEN",
    "PROTOCOL_VERSION",
    "RESERVED_FLAGS",
    "TAG_LEN",
    "CounterKind",
    "DeviceRole",
    "Doi",
    "FrameHeader",
    "MessageType",
    "Reader",
    "SspDecodeError",
    "Writer",
    "compute_tag",
    "encode_frame",
    "hello_key",
    "session_key",
    "tag_matches",
]

PROTOCOL_VERSION = 1
"""The only frame version this implementation speaks."""
HEADER_LEN = 12
"""Octets before the body: version, type, flags, DOI, length (4), sequence number (4)."""
TAG_LEN = 32
"""Octets of the HMAC-SHA-256 tag that ends every frame."""
MAX_BODY_LEN = 1 << 20
"""Largest body accepted, octets (1 MiB); a bulk sync sends one SA per frame."""
NONCE_LEN = 16
"""Octets of each end's HELLO nonce."""
FLAG_ACK_REQUESTED = 0x01
"""Flags bit 0: the sender wants an ACK (or REFUSE) for this frame."""
RESERVED_FLAGS = 0xFE
"""Flags bits that must be zero in version 1."""

_HEADER = struct.Struct("!BBBBII")
_LABEL = b"vpnha-ssp-1 "


class MessageType(IntEnum):
    """Frame octet 1."""

    HELLO = 1
    KEEPALIVE = 2
    ROLE = 3
    IPSEC_SA_ADD = 4
    IKE_SA_ADD = 5
    SA_DELETE = 6
    COUNTER_UPDATE = 7
    ACK = 8
    REFUSE = 9
    RESYNC_REQUEST = 10
    BULK_BEGIN = 11
    BULK_END = 12


class Doi(IntEnum):
    """Frame octet 3: which SSP client a frame belongs to (``show ssp client``)."""

    SSP = 0
    """SSP itself: hello, keepalive, role."""
    IPSEC = 1
    """IPsec HA Manager."""
    IKE = 2
    """IKE HA Manager."""


class DeviceRole(IntEnum):
    """The SSP device role (``show ssp redundancy``)."""

    NONE = 0
    """Neither: the redundancy groups disagree or are still negotiating."""
    ACTIVE = 1
    """Every named redundancy group is Active."""
    STANDBY = 2
    """Every named redundancy group is Standby."""


class CounterKind(IntEnum):
    """Which per-SA counter a COUNTER_UPDATE carries."""

    OUTBOUND_SEQ = 1
    """IPsec SA: last outbound ESP/AH sequence number used (DOI 1)."""
    INBOUND_EDGE = 2
    """IPsec SA: right edge of the inbound replay window (DOI 1)."""
    BYTES = 3
    """IPsec SA: octets processed, for the kilobyte lifetime (DOI 1)."""
    DPD_OUT = 4
    """IKE SA: next own R-U-THERE sequence number (DOI 2, RFC 3706)."""
    DPD_IN = 5
    """IKE SA: last R-U-THERE sequence number accepted from the peer (DOI 2)."""
    MESSAGE_ID = 6
    """IKE SA: a message id the peer used for a phase-2 or informational exchange (DOI 2).
    Not a counter (ids are random): the standby adds it to its copy's memory, so the
    router that takes over refuses a replay of that message."""


class SspDecodeError(ValueError):
    """A frame or body is not acceptable; names the field, the value and the rule broken."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}={value!r}: {reason}")


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameHeader:
    """The 12 header octets of a frame, as raw numbers (checked by :meth:`check`)."""

    version: int
    """Octet 0, 0-255 (must be 1)."""
    message_type: int
    """Octet 1, 0-255 (must be a :class:`MessageType`)."""
    flags: int
    """Octet 2, 0-255 (reserved bits must be 0)."""
    doi: int
    """Octet 3, 0-255 (must be a :class:`Doi`)."""
    body_length: int
    """Octets 4-7: body length in octets, 0 .. 2**32-1 (must be at most ``MAX_BODY_LEN``)."""
    seq: int
    """Octets 8-11: sender sequence number, 0 .. 2**32-1."""

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> FrameHeader:
        """Unpack the first ``HEADER_LEN`` octets of ``data`` (no validation)."""
        if len(data) < HEADER_LEN:
            raise SspDecodeError("header", len(data), f"needs {HEADER_LEN} octets")
        version, message_type, flags, doi, body_length, seq = _HEADER.unpack_from(data)
        return cls(
            version=version,
            message_type=message_type,
            flags=flags,
            doi=doi,
            body_length=body_length,
            seq=seq,
        )

    def check_framing(self, max_body_len: int = MAX_BODY_LEN) -> None:
        """The checks needed before the body can be read: version and length."""
        if self.version != PROTOCOL_VERSION:
            raise SspDecodeError("version", self.version, f"only version {PROTOCOL_VERSION}")
        if self.body_length > max_body_len:
            raise SspDecodeError("length", self.body_length, f"exceeds {max_body_len} octets")

    @property
    def frame_length(self) -> int:
        """Octets of the whole frame: header, body and tag."""
        return HEADER_LEN + self.body_length + TAG_LEN


def encode_frame(
    *, message_type: int, flags: int, doi: int, seq: int, body: bytes, key: bytes
) -> bytes:
    """Header, ``body`` and the tag under ``key``; the caller supplies checked values."""
    head = _HEADER.pack(PROTOCOL_VERSION, message_type, flags, doi, len(body), seq)
    covered = head + body
    return covered + compute_tag(key, covered)


def compute_tag(key: bytes, covered: bytes | bytearray | memoryview) -> bytes:
    """HMAC-SHA-256 of ``covered`` under ``key`` (32 octets)."""
    # The one-shot form: the same tag without building an HMAC object per frame.
    return hmac.digest(key, covered, "sha256")


def tag_matches(key: bytes, frame: bytes | bytearray | memoryview) -> bool:
    """Whether the last ``TAG_LEN`` octets of ``frame`` are the tag of the rest (constant time)."""
    view = memoryview(frame)
    return hmac.compare_digest(compute_tag(key, view[:-TAG_LEN]), bytes(view[-TAG_LEN:]))


def _direction(from_client: bool) -> bytes:
    return b"c2s" if from_client else b"s2c"


def hello_key(psk: bytes, *, from_client: bool) -> bytes:
    """Key of the HELLO frame sent by the TCP client (``from_client``) or the server."""
    return hmac.new(psk, _LABEL + b"hello " + _direction(from_client), hashlib.sha256).digest()


def session_key(
    psk: bytes, *, from_client: bool, client_nonce: bytes, server_nonce: bytes
) -> bytes:
    """Key of every frame after the HELLO in one direction of one connection."""
    info = _LABEL + b"session " + _direction(from_client) + client_nonce + server_nonce
    return hmac.new(psk, info, hashlib.sha256).digest()


class Writer:
    """Builds a body field by field (values are assumed in range; see ``Reader``)."""

    __slots__ = ("_out",)

    def __init__(self) -> None:
        self._out = bytearray()

    def u8(self, value: int) -> None:
        """One octet."""
        self._out += value.to_bytes(1, "big")

    def u16(self, value: int) -> None:
        """Two octets."""
        self._out += value.to_bytes(2, "big")

    def u32(self, value: int) -> None:
        """Four octets."""
        self._out += value.to_bytes(4, "big")

    def u64(self, value: int) -> None:
        """Eight octets."""
        self._out += value.to_bytes(8, "big")

    def boolean(self, value: bool) -> None:
        """One octet, 0 or 1."""
        self.u8(1 if value else 0)

    def fixed(self, value: bytes) -> None:
        """Octets with a length known to both ends."""
        self._out += value

    def bytes8(self, value: bytes) -> None:
        """u8 length, then the octets."""
        self.u8(len(value))
        self._out += value

    def bytes16(self, value: bytes) -> None:
        """u16 length, then the octets."""
        self.u16(len(value))
        self._out += value

    def text8(self, value: str) -> None:
        """ASCII text with a u8 length."""
        self.bytes8(value.encode("ascii"))

    def text16(self, value: str) -> None:
        """UTF-8 text with a u16 length."""
        self.bytes16(value.encode("utf-8"))

    def ipv4(self, value: IPv4Address) -> None:
        """Four octets."""
        self._out += value.packed

    def prefix(self, value: IPv4Network) -> None:
        """Network address (4 octets) and prefix length (1 octet)."""
        self._out += value.network_address.packed
        self.u8(value.prefixlen)

    def getvalue(self) -> bytes:
        """The body built so far."""
        return bytes(self._out)


class Reader:
    """Reads a body field by field; every short read or bad value names its field."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def _take(self, field: str, size: int) -> bytes:
        end = self._pos + size
        if end > len(self._data):
            have = len(self._data) - self._pos
            raise SspDecodeError(field, have, f"truncated: needs {size} octets, {have} left")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def u8(self, field: str) -> int:
        """One octet."""
        return self._take(field, 1)[0]

    def u16(self, field: str) -> int:
        """Two octets."""
        return int.from_bytes(self._take(field, 2), "big")

    def u32(self, field: str) -> int:
        """Four octets."""
        return int.from_bytes(self._take(field, 4), "big")

    def u64(self, field: str) -> int:
        """Eight octets."""
        return int.from_bytes(self._take(field, 8), "big")

    def boolean(self, field: str) -> bool:
        """One octet that must be 0 or 1."""
        value = self.u8(field)
        if value > 1:
            raise SspDecodeError(field, value, "a flag octet must be 0 or 1")
        return value == 1

    def fixed(self, field: str, size: int) -> bytes:
        """Exactly ``size`` octets."""
        return self._take(field, size)

    def bytes8(self, field: str, *, min_len: int = 0, max_len: int = 255) -> bytes:
        """u8 length in ``[min_len, max_len]``, then the octets."""
        return self._sized(field, self.u8(field), min_len, max_len)

    def bytes16(self, field: str, *, min_len: int = 0, max_len: int = 0xFFFF) -> bytes:
        """u16 length in ``[min_len, max_len]``, then the octets."""
        return self._sized(field, self.u16(field), min_len, max_len)

    def _sized(self, field: str, size: int, min_len: int, max_len: int) -> bytes:
        if not min_len <= size <= max_len:
            raise SspDecodeError(field, size, f"length must be {min_len}-{max_len} octets")
        return self._take(field, size)

    def text8(
        self, field: str, *, min_len: int = 1, max_len: int = 255, spaces: bool = False
    ) -> str:
        """Printable ASCII with a u8 length (spaces allowed only if ``spaces``)."""
        raw = self.bytes8(field, min_len=min_len, max_len=max_len)
        low = 0x20 if spaces else 0x21
        if any(not low <= octet <= 0x7E for octet in raw):
            allowed = "printable ASCII" if spaces else "printable ASCII without spaces"
            raise SspDecodeError(field, raw, f"must be {allowed}")
        return raw.decode("ascii")

    def text16(self, field: str, *, max_len: int) -> str:
        """UTF-8 with a u16 length of at most ``max_len`` octets."""
        raw = self.bytes16(field, max_len=max_len)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SspDecodeError(field, raw, "not valid UTF-8") from None

    def ipv4(self, field: str) -> IPv4Address:
        """Four octets."""
        return IPv4Address(self._take(field, 4))

    def prefix(self, field: str) -> IPv4Network:
        """Network address and prefix length 0-32 with no host bits set."""
        address = self._take(field, 4)
        length = self.u8(field)
        if length > 32:
            raise SspDecodeError(field, length, "prefix length must be 0-32")
        try:
            return IPv4Network((address, length))
        except ValueError:
            shown = f"{IPv4Address(address)}/{length}"
            raise SspDecodeError(field, shown, "host bits set") from None

    def count(self, field: str, *, max_count: int = 255) -> int:
        """u8 item count of a list, at most ``max_count``."""
        value = self.u8(field)
        if value > max_count:
            raise SspDecodeError(field, value, f"at most {max_count} items")
        return value

    def end(self) -> None:
        """The body must be consumed exactly."""
        extra = len(self._data) - self._pos
        if extra:
            raise SspDecodeError("body", extra, f"{extra} trailing octets")
