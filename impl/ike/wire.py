"""ISAKMP (RFC 2408) messages as IKEv1 (RFC 2409) uses them: the byte layout and its codec.

Every integer is in network order. A message is a 28-octet header and a chain of
payloads; each payload starts with a 4-octet generic header::

    header  offset size field
            0      8    initiator cookie (CKY-I)
            8      8    responder cookie (CKY-R), zero in the first message
            16     1    type of the first payload
            17     1    version: major in the high nibble (1), minor in the low (0)
            18     1    exchange: 2 Main Mode, 5 Informational, 32 Quick Mode, ...
            19     1    flags: 0x01 encrypted, 0x02 commit, 0x04 authentication only
            20     4    message id: 0 in phase 1, chosen at random for each other exchange
            24     4    length of the whole message, header included

    payload offset size field
            0      1    type of the next payload (0 = last)
            1      1    reserved, 0
            2      2    length of this payload, its generic header included (>= 4)
            4      ...  body

When the encrypted flag is set, everything after the header is CBC ciphertext
(``vpnha.impl.ike.crypto``); the plaintext is the payload chain followed by padding,
which the chain's own lengths let a reader skip.

Bodies (``u8``/``u16``/``u32`` unsigned)::

    SA (1)        DOI u32 (1 = IPsec), situation u32 (1 = identity only), proposals
    Proposal (2)  number u8, protocol u8 (1 ISAKMP, 3 ESP), SPI size u8,
                  transform count u8, SPI, transforms
    Transform (3) number u8, transform id u8, reserved u16, attributes
    KE (4)        Diffie-Hellman public value
    ID (5)        type u8 (1 IPv4 address, 4 IPv4 subnet, ...), protocol u8, port u16, data
    Hash (8), Nonce (10), Vendor ID (13), NAT-D (20, and 130 for the drafts): octets
    Notify (11)   DOI u32, protocol u8, SPI size u8, type u16, SPI, data
    Delete (12)   DOI u32, protocol u8, SPI size u8, SPI count u16, the SPIs

Proposals and transforms are chained exactly like payloads (their next-payload octet
is 2 or 3 while more follow, 0 for the last). A transform attribute is either short
(type with the high bit set, then a 2-octet value) or long (type, 2-octet length,
value).

Decoding never raises anything but :class:`IkeDecodeError`, which carries the reason
(the key of the core's drop counters), the field and the offending value.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final

__all__ = [
    "FLAG_AUTH_ONLY",
    "FLAG_COMMIT",
    "FLAG_ENCRYPTED",
    "HEADER_LEN",
    "MAX_MESSAGE_LEN",
    "Attribute",
    "DeletePayload",
    "DropReason",
    "Exchange",
    "HashPayload",
    "Header",
    "IdPayload",
    "IkeDecodeError",
    "KePayload",
    "NatDPayload",
    "NoncePayload",
    "NotifyPayload",
    "NotifyType",
    "OpaquePayload",
    "Payload",
    "PayloadType",
    "Proposal",
    "SaPayload",
    "Transform",
    "VendorIdPayload",
    "decode_header",
    "decode_payloads",
    "encode_header",
    "encode_payloads",
    "payload_octets",
]

HEADER_LEN: Final = 28
"""Octets of the ISAKMP header."""
MAX_MESSAGE_LEN: Final = 65_535
"""Largest message accepted (one UDP datagram)."""
FLAG_ENCRYPTED: Final = 0x01
"""Header flags: the payloads are encrypted."""
FLAG_COMMIT: Final = 0x02
"""Header flags: the commit bit (RFC 2408 §3.1)."""
FLAG_AUTH_ONLY: Final = 0x04
"""Header flags: authentication only."""
_KNOWN_FLAGS: Final = FLAG_ENCRYPTED | FLAG_COMMIT | FLAG_AUTH_ONLY

_HEADER: Final = struct.Struct("!8s8sBBBBII")
_GENERIC: Final = struct.Struct("!BBH")
_MAX_PAYLOADS: Final = 64
_MAX_ATTRIBUTES: Final = 64


class DropReason(enum.Enum):
    """Why a datagram was dropped: the keys of the IKE core's drop counters."""

    TRUNCATED = "truncated"
    BAD_VERSION = "bad-version"
    BAD_LENGTH = "bad-length"
    BAD_FLAGS = "bad-flags"
    UNKNOWN_EXCHANGE = "unknown-exchange"
    BAD_PAYLOAD = "bad-payload"
    UNKNOWN_PAYLOAD = "unknown-payload"
    TOO_MANY_PAYLOADS = "too-many-payloads"
    BAD_ATTRIBUTE = "bad-attribute"
    BAD_COOKIE = "bad-cookie"
    NO_SA = "no-sa"
    NOT_ENCRYPTED = "not-encrypted"
    DECRYPT_FAILED = "decrypt-failed"
    BAD_HASH = "bad-hash"
    MISSING_PAYLOAD = "missing-payload"
    NO_PROPOSAL_CHOSEN = "no-proposal-chosen"
    NO_KEY = "no-pre-shared-key"
    BAD_KE = "bad-ke"
    BAD_ID = "bad-id"
    UNEXPECTED = "unexpected-message"
    RETRANSMISSION = "retransmission"
    DPD_REJECTED = "dpd-rejected"
    NOT_ACTIVE = "not-active"
    MESSAGE_ID_REUSED = "message-id-reused"


class Exchange(IntEnum):
    """Header octet 18."""

    MAIN = 2
    AGGRESSIVE = 4
    INFORMATIONAL = 5
    TRANSACTION = 6
    QUICK = 32


class PayloadType(IntEnum):
    """Next-payload values (RFC 2408 §3.1; NAT-D from RFC 3947 and its drafts)."""

    NONE = 0
    SA = 1
    PROPOSAL = 2
    TRANSFORM = 3
    KE = 4
    ID = 5
    CERT = 6
    CR = 7
    HASH = 8
    SIG = 9
    NONCE = 10
    NOTIFY = 11
    DELETE = 12
    VENDOR_ID = 13
    NAT_D = 20
    NAT_OA = 21
    NAT_D_DRAFT = 130
    NAT_OA_DRAFT = 131


class NotifyType(IntEnum):
    """Notify message types this implementation sends or reads."""

    INVALID_PAYLOAD_TYPE = 1
    INVALID_COOKIE = 4
    INVALID_EXCHANGE_TYPE = 7
    INVALID_MESSAGE_ID = 9
    NO_PROPOSAL_CHOSEN = 14
    PAYLOAD_MALFORMED = 16
    INVALID_KEY_INFORMATION = 17
    INVALID_ID_INFORMATION = 18
    AUTHENTICATION_FAILED = 24
    INVALID_HASH_INFORMATION = 23
    RESPONDER_LIFETIME = 24576
    INITIAL_CONTACT = 24578
    R_U_THERE = 36136
    R_U_THERE_ACK = 36137


class IkeDecodeError(Exception):
    """A datagram that is not a well-formed ISAKMP message (never escapes the core)."""

    def __init__(self, reason: DropReason, what: str, value: object) -> None:
        super().__init__(f"{what}: {value!r} ({reason.value})")
        self.reason = reason
        self.what = what
        self.value = value


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    """The 28-octet ISAKMP header."""

    initiator_cookie: bytes
    """CKY-I, 8 octets."""
    responder_cookie: bytes
    """CKY-R, 8 octets (zero in the first message of phase 1)."""
    next_payload: int
    """Type of the first payload."""
    exchange: int
    """Exchange type (:class:`Exchange`)."""
    flags: int
    """``FLAG_*`` bits."""
    message_id: int
    """0 in phase 1; the exchange's id otherwise."""
    length: int
    """Octets of the whole message."""
    major: int = 1
    """Major version (1)."""
    minor: int = 0
    """Minor version (0)."""

    @property
    def encrypted(self) -> bool:
        """Whether the payloads after the header are ciphertext."""
        return bool(self.flags & FLAG_ENCRYPTED)

    @property
    def cookies(self) -> tuple[bytes, bytes]:
        """(CKY-I, CKY-R)."""
        return (self.initiator_cookie, self.responder_cookie)


@dataclass(frozen=True, slots=True)
class Attribute:
    """A transform attribute: short form when ``value`` is an int below 2^16, else long."""

    type: int
    """Attribute class (without the form bit)."""
    value: int | bytes
    """An int for the short form; bytes as read for the long form."""

    @property
    def number(self) -> int:
        """The value as an unsigned integer, whatever its form."""
        if isinstance(self.value, int):
            return self.value
        return int.from_bytes(self.value, "big")


@dataclass(frozen=True, slots=True, kw_only=True)
class Transform:
    """One transform of a proposal."""

    number: int
    """Transform number, 1-255."""
    transform_id: int
    """KEY_IKE (1) in phase 1; ESP_3DES (3), ESP_AES (12), ... in phase 2."""
    attributes: tuple[Attribute, ...] = ()
    """The attributes, in wire order."""

    def attribute(self, kind: int) -> int | None:
        """The value of the first attribute of that class, or None."""
        for attribute in self.attributes:
            if attribute.type == kind:
                return attribute.number
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Proposal:
    """One proposal of an SA payload."""

    number: int
    """Proposal number (proposals with the same number are ANDed)."""
    protocol: int
    """1 ISAKMP, 2 AH, 3 ESP, 4 IPCOMP."""
    spi: bytes
    """The sender's SPI for this protocol (empty in phase 1)."""
    transforms: tuple[Transform, ...]
    """Alternatives, in the sender's order of preference."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SaPayload:
    """Security Association payload."""

    proposals: tuple[Proposal, ...]
    """The proposals (one, with one transform, in an answer)."""
    doi: int = 1
    """Domain of interpretation: 1 = IPsec."""
    situation: int = 1
    """SIT_IDENTITY_ONLY."""
    raw: bytes = field(default=b"", compare=False, repr=False)
    """The payload as read (generic header included); empty when built locally."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KePayload:
    """Key Exchange payload: a Diffie-Hellman public value."""

    data: bytes
    raw: bytes = field(default=b"", compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class IdPayload:
    """Identification payload (RFC 2407 §4.6.2)."""

    id_type: int
    """1 ID_IPV4_ADDR, 2 FQDN, 3 USER_FQDN, 4 ID_IPV4_ADDR_SUBNET, 7 ID_IPV4_ADDR_RANGE."""
    data: bytes
    """The identity (4 octets address, 8 octets address and mask, ...)."""
    protocol: int = 0
    """IP protocol, 0 = any."""
    port: int = 0
    """Port, 0 = any."""
    raw: bytes = field(default=b"", compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class HashPayload:
    """Hash payload."""

    data: bytes
    raw: bytes = field(default=b"", compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class NoncePayload:
    """Nonce payload."""

    data: bytes
    raw: bytes = field(default=b"", compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifyPayload:
    """Notification payload."""

    notify_type: int
    """:class:`NotifyType` value (or one this implementation does not know)."""
    protocol: int = 1
    """1 ISAKMP, 3 ESP."""
    spi: bytes = b""
    """CKY-I ‖ CKY-R for ISAKMP notifications such as DPD; an SPI for ESP ones."""
    data: bytes = b""
    """Notification data (the 4-octet sequence number for DPD)."""
    doi: int = 1
    raw: bytes = field(default=b"", compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeletePayload:
    """Delete payload: SAs the sender has removed."""

    protocol: int
    """1 ISAKMP (SPI = the cookies, 16 octets), 3 ESP (4-octet SPIs)."""
    spis: tuple[bytes, ...]
    """SPIs, all of the same size."""
    doi: int = 1
    raw: bytes = field(default=b"", compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class VendorIdPayload:
    """Vendor ID payload (DPD and NAT-T capability announcements)."""

    data: bytes
    raw: bytes = field(default=b"", compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class NatDPayload:
    """NAT discovery payload: hash of cookies, address and port (RFC 3947 §3.2)."""

    data: bytes
    draft: bool = False
    """Payload type 130 (the pre-RFC drafts) instead of 20."""
    raw: bytes = field(default=b"", compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class OpaquePayload:
    """A payload kept as octets: CERT, CR, SIG, NAT-OA (read, never interpreted)."""

    payload_type: int
    body: bytes
    raw: bytes = field(default=b"", compare=False, repr=False)


Payload = (
    SaPayload
    | KePayload
    | IdPayload
    | HashPayload
    | NoncePayload
    | NotifyPayload
    | DeletePayload
    | VendorIdPayload
    | NatDPayload
    | OpaquePayload
)


# --- header ------------------------------------------------------------------------------


def encode_header(header: Header) -> bytes:
    """The 28 header octets."""
    return _HEADER.pack(
        header.initiator_cookie,
        header.responder_cookie,
        header.next_payload,
        (header.major << 4) | header.minor,
        header.exchange,
        header.flags,
        header.message_id,
        header.length,
    )


def decode_header(data: bytes) -> Header:
    """Read and check the header of a datagram (its length must match the datagram's)."""
    if len(data) < HEADER_LEN:
        raise IkeDecodeError(DropReason.TRUNCATED, "message length", len(data))
    icky, rcky, next_payload, version, exchange, flags, message_id, length = _HEADER.unpack_from(
        data
    )
    if version >> 4 != 1:
        raise IkeDecodeError(DropReason.BAD_VERSION, "major version", version >> 4)
    if length != len(data) or length > MAX_MESSAGE_LEN:
        raise IkeDecodeError(DropReason.BAD_LENGTH, "header length", length)
    if flags & ~_KNOWN_FLAGS:
        raise IkeDecodeError(DropReason.BAD_FLAGS, "flags", flags)
    if exchange not in Exchange._value2member_map_:
        raise IkeDecodeError(DropReason.UNKNOWN_EXCHANGE, "exchange type", exchange)
    if icky == bytes(8):
        raise IkeDecodeError(DropReason.BAD_COOKIE, "initiator cookie", icky.hex())
    return Header(
        initiator_cookie=icky,
        responder_cookie=rcky,
        next_payload=next_payload,
        exchange=exchange,
        flags=flags,
        message_id=message_id,
        length=length,
        major=version >> 4,
        minor=version & 0x0F,
    )


# --- encoding ------------------------------------------------------------------------------


def _payload_type(payload: Payload) -> int:
    match payload:
        case SaPayload():
            return PayloadType.SA
        case KePayload():
            return PayloadType.KE
        case IdPayload():
            return PayloadType.ID
        case HashPayload():
            return PayloadType.HASH
        case NoncePayload():
            return PayloadType.NONCE
        case NotifyPayload():
            return PayloadType.NOTIFY
        case DeletePayload():
            return PayloadType.DELETE
        case VendorIdPayload():
            return PayloadType.VENDOR_ID
        case NatDPayload(draft=draft):
            return PayloadType.NAT_D_DRAFT if draft else PayloadType.NAT_D
        case OpaquePayload(payload_type=kind):
            return kind


def _encode_attribute(attribute: Attribute) -> bytes:
    value = attribute.value
    if isinstance(value, int) and 0 <= value <= 0xFFFF:
        return struct.pack("!HH", 0x8000 | attribute.type, value)
    octets = value if isinstance(value, bytes) else value.to_bytes(4, "big")
    return struct.pack("!HH", attribute.type, len(octets)) + octets


def _encode_transform(transform: Transform, last: bool) -> bytes:
    body = struct.pack("!BBH", transform.number, transform.transform_id, 0) + b"".join(
        _encode_attribute(a) for a in transform.attributes
    )
    return _GENERIC.pack(0 if last else PayloadType.TRANSFORM, 0, 4 + len(body)) + body


def _encode_proposal(proposal: Proposal, last: bool) -> bytes:
    transforms = b"".join(
        _encode_transform(t, i == len(proposal.transforms) - 1)
        for i, t in enumerate(proposal.transforms)
    )
    body = (
        struct.pack(
            "!BBBB",
            proposal.number,
            proposal.protocol,
            len(proposal.spi),
            len(proposal.transforms),
        )
        + proposal.spi
        + transforms
    )
    return _GENERIC.pack(0 if last else PayloadType.PROPOSAL, 0, 4 + len(body)) + body


def _body(payload: Payload) -> bytes:
    match payload:
        case SaPayload(proposals=proposals, doi=doi, situation=situation):
            return struct.pack("!II", doi, situation) + b"".join(
                _encode_proposal(p, i == len(proposals) - 1) for i, p in enumerate(proposals)
            )
        case IdPayload(id_type=id_type, protocol=protocol, port=port, data=data):
            return struct.pack("!BBH", id_type, protocol, port) + data
        case NotifyPayload(doi=doi, protocol=protocol, spi=spi, notify_type=kind, data=data):
            return struct.pack("!IBBH", doi, protocol, len(spi), kind) + spi + data
        case DeletePayload(doi=doi, protocol=protocol, spis=spis):
            size = len(spis[0]) if spis else 0
            return struct.pack("!IBBH", doi, protocol, size, len(spis)) + b"".join(spis)
        case OpaquePayload(body=body):
            return body
        case (
            KePayload(data=data)
            | HashPayload(data=data)
            | NoncePayload(data=data)
            | VendorIdPayload(data=data)
            | NatDPayload(data=data)
        ):
            return data


def encode_payloads(payloads: tuple[Payload, ...] | list[Payload]) -> tuple[int, bytes]:
    """The chain's first payload type and its octets (each payload with its generic header)."""
    parts: list[bytes] = []
    for index, payload in enumerate(payloads):
        following = _payload_type(payloads[index + 1]) if index + 1 < len(payloads) else 0
        body = _body(payload)
        parts.append(_GENERIC.pack(following, 0, 4 + len(body)) + body)
    first = _payload_type(payloads[0]) if payloads else 0
    return first, b"".join(parts)


def payload_octets(payload: Payload, following: int) -> bytes:
    """One payload with its generic header, pointing at ``following``."""
    body = _body(payload)
    return _GENERIC.pack(following, 0, 4 + len(body)) + body


# --- decoding ------------------------------------------------------------------------------


def _chain(data: bytes, first: int, expected: int | None) -> list[tuple[int, bytes, bytes]]:
    """Split a chain into (type, body, raw); trailing octets after the last are ignored."""
    items: list[tuple[int, bytes, bytes]] = []
    offset = 0
    kind = first
    while kind != PayloadType.NONE:
        if len(items) >= _MAX_PAYLOADS:
            raise IkeDecodeError(DropReason.TOO_MANY_PAYLOADS, "payload count", len(items))
        if expected is not None and kind != expected:
            raise IkeDecodeError(DropReason.BAD_PAYLOAD, "chained payload type", kind)
        if offset + 4 > len(data):
            raise IkeDecodeError(DropReason.TRUNCATED, f"payload {kind} header", offset)
        following, reserved, length = _GENERIC.unpack_from(data, offset)
        if length < 4 or offset + length > len(data):
            raise IkeDecodeError(DropReason.BAD_PAYLOAD, f"payload {kind} length", length)
        if reserved != 0:
            raise IkeDecodeError(DropReason.BAD_PAYLOAD, f"payload {kind} reserved", reserved)
        items.append((kind, data[offset + 4 : offset + length], data[offset : offset + length]))
        offset += length
        kind = following
    return items


def _attributes(data: bytes) -> tuple[Attribute, ...]:
    out: list[Attribute] = []
    offset = 0
    while offset < len(data):
        if len(out) >= _MAX_ATTRIBUTES or offset + 4 > len(data):
            raise IkeDecodeError(DropReason.BAD_ATTRIBUTE, "attribute at offset", offset)
        kind, value = struct.unpack_from("!HH", data, offset)
        offset += 4
        if kind & 0x8000:
            out.append(Attribute(kind & 0x7FFF, value))
            continue
        if offset + value > len(data):
            raise IkeDecodeError(DropReason.BAD_ATTRIBUTE, f"attribute {kind} length", value)
        out.append(Attribute(kind, data[offset : offset + value]))
        offset += value
    return tuple(out)


def _proposal(body: bytes) -> Proposal:
    if len(body) < 4:
        raise IkeDecodeError(DropReason.TRUNCATED, "proposal", len(body))
    number, protocol, spi_size, count = struct.unpack_from("!BBBB", body)
    if 4 + spi_size > len(body):
        raise IkeDecodeError(DropReason.BAD_PAYLOAD, "proposal SPI size", spi_size)
    spi = body[4 : 4 + spi_size]
    transforms: list[Transform] = []
    for _, tbody, _raw in _chain(
        body[4 + spi_size :], PayloadType.TRANSFORM, PayloadType.TRANSFORM
    ):
        if len(tbody) < 4:
            raise IkeDecodeError(DropReason.TRUNCATED, "transform", len(tbody))
        tnumber, tid, _reserved = struct.unpack_from("!BBH", tbody)
        transforms.append(
            Transform(number=tnumber, transform_id=tid, attributes=_attributes(tbody[4:]))
        )
    if count != len(transforms) or not transforms:
        raise IkeDecodeError(DropReason.BAD_PAYLOAD, "proposal transform count", count)
    return Proposal(number=number, protocol=protocol, spi=spi, transforms=tuple(transforms))


def _decode(kind: int, body: bytes, raw: bytes) -> Payload:
    match kind:
        case PayloadType.SA:
            if len(body) < 8:
                raise IkeDecodeError(DropReason.TRUNCATED, "SA payload", len(body))
            doi, situation = struct.unpack_from("!II", body)
            proposals = tuple(
                _proposal(pbody)
                for _, pbody, _raw in _chain(body[8:], PayloadType.PROPOSAL, PayloadType.PROPOSAL)
            )
            if not proposals:
                raise IkeDecodeError(DropReason.BAD_PAYLOAD, "SA proposals", 0)
            return SaPayload(proposals=proposals, doi=doi, situation=situation, raw=raw)
        case PayloadType.KE:
            return KePayload(data=body, raw=raw)
        case PayloadType.ID:
            if len(body) < 4:
                raise IkeDecodeError(DropReason.TRUNCATED, "ID payload", len(body))
            id_type, protocol, port = struct.unpack_from("!BBH", body)
            return IdPayload(id_type=id_type, protocol=protocol, port=port, data=body[4:], raw=raw)
        case PayloadType.HASH:
            return HashPayload(data=body, raw=raw)
        case PayloadType.NONCE:
            if not 8 <= len(body) <= 256:
                raise IkeDecodeError(DropReason.BAD_PAYLOAD, "nonce length", len(body))
            return NoncePayload(data=body, raw=raw)
        case PayloadType.NOTIFY:
            if len(body) < 8:
                raise IkeDecodeError(DropReason.TRUNCATED, "notify payload", len(body))
            doi, protocol, spi_size, notify_type = struct.unpack_from("!IBBH", body)
            if 8 + spi_size > len(body):
                raise IkeDecodeError(DropReason.BAD_PAYLOAD, "notify SPI size", spi_size)
            return NotifyPayload(
                notify_type=notify_type,
                protocol=protocol,
                spi=body[8 : 8 + spi_size],
                data=body[8 + spi_size :],
                doi=doi,
                raw=raw,
            )
        case PayloadType.DELETE:
            if len(body) < 8:
                raise IkeDecodeError(DropReason.TRUNCATED, "delete payload", len(body))
            doi, protocol, spi_size, count = struct.unpack_from("!IBBH", body)
            if spi_size == 0 or 8 + spi_size * count != len(body):
                raise IkeDecodeError(DropReason.BAD_PAYLOAD, "delete SPI count", count)
            spis = tuple(body[8 + i * spi_size : 8 + (i + 1) * spi_size] for i in range(count))
            return DeletePayload(protocol=protocol, spis=spis, doi=doi, raw=raw)
        case PayloadType.VENDOR_ID:
            return VendorIdPayload(data=body, raw=raw)
        case PayloadType.NAT_D | PayloadType.NAT_D_DRAFT:
            return NatDPayload(data=body, draft=kind == PayloadType.NAT_D_DRAFT, raw=raw)
        case (
            PayloadType.CERT
            | PayloadType.CR
            | PayloadType.SIG
            | PayloadType.NAT_OA
            | PayloadType.NAT_OA_DRAFT
        ):
            return OpaquePayload(payload_type=kind, body=body, raw=raw)
        case _:
            raise IkeDecodeError(DropReason.UNKNOWN_PAYLOAD, "payload type", kind)


def decode_payloads(data: bytes, first: int) -> tuple[Payload, ...]:
    """Decode a (plaintext) payload chain; octets after the last payload are padding."""
    return tuple(_decode(kind, body, raw) for kind, body, raw in _chain(data, first, None))
