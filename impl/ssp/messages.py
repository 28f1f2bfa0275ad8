"""SSP messages: one frozen dataclass per message type, each with its body codec.

Frame layout, keys and field encodings: :mod:`vpnha.impl.ssp.wire`. Constructors stay
dumb; ``decode_body`` validates every field and raises :class:`SspDecodeError` naming
it. Bodies (``DOI`` = the frame's DOI octet, which a body never repeats)::

    type  name            DOI   body fields, in order
    ----  --------------  ----  -----------------------------------------------------
    1     HELLO           0     protocol_version u8 (>= 1); hostname text8 (1-63,
                                no spaces); group_id u8 (1-100); nonce 16 octets;
                                role u8 (0 NONE, 1 ACTIVE, 2 STANDBY)
    2     KEEPALIVE       0     number u32 (>= 1); echo u32 (last number received,
                                0 = none yet); echo_delay_ms u32
    3     ROLE            0     role u8; answer_requested bool
    4     IPSEC_SA_ADD    1     sa_id u32; peer ipv4; crypto_map text8 (1-64, no
                                spaces); crypto_map_seq u16 (1-65535); local_proxy
                                prefix; remote_proxy prefix; inbound_spi u32;
                                outbound_spi u32 (both >= 256, RFC 4303 §2.1);
                                transforms list (1-4) of text8 (1-32);
                                inbound_encryption_key, outbound_encryption_key,
                                inbound_integrity_key, outbound_integrity_key bytes8;
                                lifetime_expiry_ms u64; lifetime_kilobytes u64;
                                outbound_seq u64; inbound_right_edge u64;
                                inbound_bitmap bytes16 (0-8192); bytes_used u64;
                                resync bool
    5     IKE_SA_ADD      2     sa_id u32; initiator_cookie 8 octets; responder_cookie
                                8 octets (both non-zero); is_initiator bool;
                                encryption, hash_algorithm, authentication text8
                                (1-16); dh_group u8 (>= 1); skeyid_d, skeyid_a,
                                skeyid_e bytes8 (1-255); last_phase1_cbc_block bytes8
                                (0-32); message_ids list of u32 (non-zero);
                                dpd_seq_out u32; dpd_seq_in u32; lifetime_expiry_ms
                                u64; peer ipv4; local_port u16; peer_port u16 (both
                                non-zero)
    6     SA_DELETE       1, 2  sa_id u32
    7     COUNTER_UPDATE  1, 2  sa_id u32; kind u8 (1 outbound-seq, 2 inbound-edge,
                                3 bytes: DOI 1; 4 dpd-out, 5 dpd-in, 6 message-id:
                                DOI 2, value < 2**32, a message id >= 1); value u64
    8     ACK             1, 2  acked_seq u32; applied_value u64
    9     REFUSE          1, 2  refused_seq u32; sa_id u32; reason text16 (UTF-8,
                                1-1024 octets)
    10    RESYNC_REQUEST  1, 2  (empty)
    11    BULK_BEGIN      1, 2  entry_count u32; resync bool
    12    BULK_END        1, 2  entry_count u32

Key material (the four IPsec keys, SKEYID_d/a/e) is left out of ``repr`` so it does not
end up in logs. Lifetime expiries are absolute instants in milliseconds of the time base
both routers pass as ``now`` (simulation: the world's clock; live: wall-clock
milliseconds), so a takeover never extends a lifetime by the transfer delay (DESIGN I8).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import ClassVar

from .wire import (
    FLAG_ACK_REQUESTED,
    HEADER_LEN,
    MAX_BODY_LEN,
    NONCE_LEN,
    PROTOCOL_VERSION,
    RESERVED_FLAGS,
    TAG_LEN,
    CounterKind,
    DeviceRole,
    Doi,
    FrameHeader,
    MessageType,
    Reader,
    SspDecodeError,
    Writer,
    encode_frame,
    tag_matches,
)

__all__ = [
    "MESSAGE_CLASSES",
    "Ack",
    "BulkBegin",
    "BulkEnd",
    "CounterUpdate",
    "DecodedFrame",
    "Hello",
    "IkeSaAdd",
    "IpsecSaAdd",
    "Keepalive",
    "Message",
    "Refuse",
    "ResyncRequest",
    "RoleChange",
    "SaDelete",
    "decode_body",
    "decode_frame",
    "encode_body",
    "encode_frame_for",
]

_SSP = frozenset({Doi.SSP})
_IPSEC = frozenset({Doi.IPSEC})
_IKE = frozenset({Doi.IKE})
_HA = frozenset({Doi.IPSEC, Doi.IKE})
_MIN_SPI = 256
"""SPIs 0-255 are reserved (RFC 4303 §2.1): 0 never goes on the wire, 1-255 IANA."""
_MAX_BITMAP = 8192
"""Largest inbound replay bitmap, octets (a 65536-packet window)."""
_MAX_REASON = 1024
"""Largest REFUSE reason, octets of UTF-8."""
_U32 = 1 << 32
_COUNTER_KINDS: dict[int, CounterKind] = {int(kind): kind for kind in CounterKind}
"""Kind octet -> counter kind (a dict lookup: calling the enum costs more, per update)."""


def _role(reader: Reader, field: str) -> DeviceRole:
    value = reader.u8(field)
    try:
        return DeviceRole(value)
    except ValueError:
        raise SspDecodeError(field, value, "role must be 0 NONE, 1 ACTIVE or 2 STANDBY") from None


def _at_least(field: str, value: int, low: int) -> int:
    if value < low:
        raise SspDecodeError(field, value, f"must be at least {low}")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Hello:
    """First frame each way: who the sender is and its half of the connection's key."""

    TYPE: ClassVar[MessageType] = MessageType.HELLO
    DOIS: ClassVar[frozenset[Doi]] = _SSP

    protocol_version: int = PROTOCOL_VERSION
    """Highest SSP version the sender speaks, 1-255."""
    hostname: str
    """The sender's hostname, 1-63 printable ASCII characters, no spaces."""
    group_id: int
    """The ``ssp group`` id, 1-100; must equal the receiver's."""
    nonce: bytes
    """16 fresh octets from the sender's entropy; both nonces key the connection."""
    role: DeviceRole
    """The sender's device role when it connected."""
    incarnation: int = 0
    """A number the sender drew when it booted, 0 .. 2**32-1: another value on a later
    connection means the sender restarted and forgot every SA copy it held."""

    @property
    def doi(self) -> Doi:
        """Always 0 (SSP itself)."""
        return Doi.SSP

    def encode_body(self) -> bytes:
        """The body octets."""
        out = Writer()
        out.u8(self.protocol_version)
        out.text8(self.hostname)
        out.u8(self.group_id)
        out.fixed(self.nonce)
        out.u8(self.role)
        out.u32(self.incarnation)
        return out.getvalue()

    @classmethod
    def decode_body(cls, body: bytes, doi: Doi) -> Hello:
        """Parse and validate a body."""
        reader = Reader(body)
        version = _at_least("protocol_version", reader.u8("protocol_version"), 1)
        hostname = reader.text8("hostname", max_len=63)
        group_id = reader.u8("group_id")
        if not 1 <= group_id <= 100:
            raise SspDecodeError("group_id", group_id, "ssp group must be 1-100")
        nonce = reader.fixed("nonce", NONCE_LEN)
        role = _role(reader, "role")
        incarnation = reader.u32("incarnation")
        reader.end()
        return cls(
            protocol_version=version,
            hostname=hostname,
            group_id=group_id,
            nonce=nonce,
            role=role,
            incarnation=incarnation,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Keepalive:
    """Sent every hello interval; echoes the peer's last keepalive to measure round trips."""

    TYPE: ClassVar[MessageType] = MessageType.KEEPALIVE
    DOIS: ClassVar[frozenset[Doi]] = _SSP

    number: int
    """This keepalive's number, 1 .. 2**32-1, +1 per keepalive."""
    echo: int
    """Number of the last keepalive received from the peer, 0 .. 2**32-1 (0 = none)."""
    echo_delay_ms: int
    """Milliseconds between receiving ``echo`` and sending this, 0 .. 2**32-1."""

    @property
    def doi(self) -> Doi:
        """Always 0 (SSP itself)."""
        return Doi.SSP

    def encode_body(self) -> bytes:
        """The body octets."""
        out = Writer()
        out.u32(self.number)
        out.u32(self.echo)
        out.u32(self.echo_delay_ms)
        return out.getvalue()

    @classmethod
    def decode_body(cls, body: bytes, doi: Doi) -> Keepalive:
        """Parse and validate a body."""
        reader = Reader(body)
        number = _at_least("number", reader.u32("number"), 1)
        echo = reader.u32("echo")
        echo_delay_ms = reader.u32("echo_delay_ms")
        reader.end()
        return cls(number=number, echo=echo, echo_delay_ms=echo_delay_ms)


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleChange:
    """The sender's device role changed (``show ssp redundancy``)."""

    TYPE: ClassVar[MessageType] = MessageType.ROLE
    DOIS: ClassVar[frozenset[Doi]] = _SSP

    role: DeviceRole
    """The sender's new device role."""
    answer_requested: bool = False
    """Whether the receiver should answer with a ROLE of its own."""

    @property
    def doi(self) -> Doi:
        """Always 0 (SSP itself)."""
        return Doi.SSP

    def encode_body(self) -> bytes:
        """The body octets."""
        out = Writer()
        out.u8(self.role)
        out.boolean(self.answer_requested)
        return out.getvalue()

    @classmethod
    def decode_body(cls, body: bytes, doi: Doi) -> RoleChange:
        """Parse and validate a body."""
        reader = Reader(body)
        role = _role(reader, "role")
        answer_requested = reader.boolean("answer_requested")
        reader.end()
        return cls(role=role, answer_requested=answer_requested)


def _spi(reader: Reader, field: str) -> int:
    value = reader.u32(field)
    if value < _MIN_SPI:
        raise SspDecodeError(field, value, "SPIs 0-255 are reserved (RFC 4303 §2.1)")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class IpsecSaAdd:
    """IPsec HA Manager: a whole IPsec SA pair, enough for the standby to take it over."""

    TYPE: ClassVar[MessageType] = MessageType.IPSEC_SA_ADD
    DOIS: ClassVar[frozenset[Doi]] = _IPSEC

    sa_id: int
    """The active's identifier of this SA pair, 0 .. 2**32-1, unique per connection."""
    peer: IPv4Address
    """The remote IPsec peer."""
    crypto_map: str
    """Crypto map tag the SA belongs to, 1-64 characters, no spaces."""
    crypto_map_seq: int
    """Sequence number of the crypto map entry, 1-65535."""
    local_proxy: IPv4Network
    """Local traffic selector (proxy identity)."""
    remote_proxy: IPv4Network
    """Remote traffic selector (proxy identity)."""
    inbound_spi: int
    """SPI of the inbound SA, 256 .. 2**32-1."""
    outbound_spi: int
    """SPI of the outbound SA, 256 .. 2**32-1."""
    transforms: tuple[str, ...]
    """Transform names as in the transform set, e.g. ``esp-aes 256``, 1-4 of 1-32 chars."""
    inbound_encryption_key: bytes = field(repr=False)
    """Inbound cipher key (with any salt), 0-255 octets."""
    outbound_encryption_key: bytes = field(repr=False)
    """Outbound cipher key (with any salt), 0-255 octets."""
    inbound_integrity_key: bytes = field(repr=False)
    """Inbound integrity key, 0-255 octets (empty for combined-mode ciphers)."""
    outbound_integrity_key: bytes = field(repr=False)
    """Outbound integrity key, 0-255 octets."""
    lifetime_expiry_ms: int
    """Instant the seconds lifetime ends, milliseconds in the shared time base, 0 .. 2**64-1."""
    lifetime_kilobytes: int
    """Kilobyte lifetime, 0 .. 2**64-1."""
    outbound_seq: int
    """Last outbound sequence number used, 0 .. 2**64-1."""
    inbound_right_edge: int
    """Highest inbound sequence number accepted, 0 .. 2**64-1."""
    inbound_bitmap: bytes
    """Inbound replay bitmap, bit 0 of the last octet = the right edge, 0-8192 octets."""
    bytes_used: int
    """Octets processed so far against the kilobyte lifetime, 0 .. 2**64-1."""
    resync: bool = False
    """Whether this add is part of a resynchronisation (``clear crypto sa ha standby``)."""

    @property
    def doi(self) -> Doi:
        """Always 1 (IPsec HA Manager)."""
        return Doi.IPSEC

    def encode_body(self) -> bytes:
        """The body octets."""
        out = Writer()
        out.u32(self.sa_id)
        out.ipv4(self.peer)
        out.text8(self.crypto_map)
        out.u16(self.crypto_map_seq)
        out.prefix(self.local_proxy)
        out.prefix(self.remote_proxy)
        out.u32(self.inbound_spi)
        out.u32(self.outbound_spi)
        out.u8(len(self.transforms))
        for name in self.transforms:
            out.text8(name)
        out.bytes8(self.inbound_encryption_key)
        out.bytes8(self.outbound_encryption_key)
        out.bytes8(self.inbound_integrity_key)
        out.bytes8(self.outbound_integrity_key)
        out.u64(self.lifetime_expiry_ms)
        out.u64(self.lifetime_kilobytes)
        out.u64(self.outbound_seq)
        out.u64(self.inbound_right_edge)
        out.bytes16(self.inbound_bitmap)
        out.u64(self.bytes_used)
        out.boolean(self.resync)
        return out.getvalue()

    @classmethod
    def decode_body(cls, body: bytes, doi: Doi) -> IpsecSaAdd:
        """Parse and validate a body."""
        reader = Reader(body)
        sa_id = reader.u32("sa_id")
        peer = reader.ipv4("peer")
        crypto_map = reader.text8("crypto_map", max_len=64)
        crypto_map_seq = _at_least("crypto_map_seq", reader.u16("crypto_map_seq"), 1)
        local_proxy = reader.prefix("local_proxy")
        remote_proxy = reader.prefix("remote_proxy")
        inbound_spi = _spi(reader, "inbound_spi")
        outbound_spi = _spi(reader, "outbound_spi")
        count = reader.count("transforms", max_count=4)
        if count == 0:
            raise SspDecodeError("transforms", count, "at least one transform")
        transforms = tuple(
            reader.text8("transforms", max_len=32, spaces=True) for _ in range(count)
        )
        inbound_encryption_key = reader.bytes8("inbound_encryption_key")
        outbound_encryption_key = reader.bytes8("outbound_encryption_key")
        inbound_integrity_key = reader.bytes8("inbound_integrity_key")
        outbound_integrity_key = reader.bytes8("outbound_integrity_key")
        lifetime_expiry_ms = reader.u64("lifetime_expiry_ms")
        lifetime_kilobytes = reader.u64("lifetime_kilobytes")
        outbound_seq = reader.u64("outbound_seq")
        inbound_right_edge = reader.u64("inbound_right_edge")
        inbound_bitmap = reader.bytes16("inbound_bitmap", max_len=_MAX_BITMAP)
        bytes_used = reader.u64("bytes_used")
        resync = reader.boolean("resync")
        reader.end()
        return cls(
            sa_id=sa_id,
            peer=peer,
            crypto_map=crypto_map,
            crypto_map_seq=crypto_map_seq,
            local_proxy=local_proxy,
            remote_proxy=remote_proxy,
            inbound_spi=inbound_spi,
            outbound_spi=outbound_spi,
            transforms=transforms,
            inbound_encryption_key=inbound_encryption_key,
            outbound_encryption_key=outbound_encryption_key,
            inbound_integrity_key=inbound_integrity_key,
            outbound_integrity_key=outbound_integrity_key,
            lifetime_expiry_ms=lifetime_expiry_ms,
            lifetime_kilobytes=lifetime_kilobytes,
            outbound_seq=outbound_seq,
            inbound_right_edge=inbound_right_edge,
            inbound_bitmap=inbound_bitmap,
            bytes_used=bytes_used,
            resync=resync,
        )


def _cookie(reader: Reader, field: str) -> bytes:
    value = reader.fixed(field, 8)
    if value == bytes(8):
        raise SspDecodeError(field, value, "an ISAKMP cookie is never zero (RFC 2408 §3.1)")
    return value


def _nonzero_port(reader: Reader, field: str) -> int:
    return _at_least(field, reader.u16(field), 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class IkeSaAdd:
    """IKE HA Manager: an established IKEv1 SA (reference/protocols.md §6.6)."""

    TYPE: ClassVar[MessageType] = MessageType.IKE_SA_ADD
    DOIS: ClassVar[frozenset[Doi]] = _IKE

    sa_id: int
    """The active's identifier of this IKE SA, 0 .. 2**32-1, unique per connection."""
    initiator_cookie: bytes
    """CKY-I, 8 octets, not all zero."""
    responder_cookie: bytes
    """CKY-R, 8 octets, not all zero."""
    is_initiator: bool
    """Whether this router initiated the phase-1 exchange."""
    encryption: str
    """Negotiated cipher as in ``crypto isakmp policy`` (``3des``, ``aes 256``), 1-16 chars."""
    hash_algorithm: str
    """Negotiated hash (``sha``, ``md5``), 1-16 characters."""
    authentication: str
    """Authentication method (``pre-share``, ``rsa-sig``), 1-16 characters."""
    dh_group: int
    """Diffie-Hellman group, 1-255."""
    skeyid_d: bytes = field(repr=False)
    """SKEYID_d (RFC 2409 §5), 1-255 octets."""
    skeyid_a: bytes = field(repr=False)
    """SKEYID_a, 1-255 octets."""
    skeyid_e: bytes = field(repr=False)
    """SKEYID_e, 1-255 octets."""
    last_phase1_cbc_block: bytes
    """Last CBC output block of phase 1 (seeds phase-2 IVs), 0-32 octets."""
    message_ids: tuple[int, ...]
    """Phase-2 / informational message ids in use, 0-255 ids of 1 .. 2**32-1."""
    dpd_seq_out: int
    """Next own R-U-THERE sequence number (RFC 3706), 0 .. 2**32-1."""
    dpd_seq_in: int
    """Last R-U-THERE sequence number accepted from the peer, 0 .. 2**32-1."""
    lifetime_expiry_ms: int
    """Instant the lifetime ends, milliseconds in the shared time base, 0 .. 2**64-1."""
    peer: IPv4Address
    """The remote IKE peer."""
    local_port: int
    """Our UDP port, 1-65535 (500, or 4500 with NAT traversal)."""
    peer_port: int
    """The peer's UDP port, 1-65535."""

    @property
    def doi(self) -> Doi:
        """Always 2 (IKE HA Manager)."""
        return Doi.IKE

    def encode_body(self) -> bytes:
        """The body octets."""
        out = Writer()
        out.u32(self.sa_id)
        out.fixed(self.initiator_cookie)
        out.fixed(self.responder_cookie)
        out.boolean(self.is_initiator)
        out.text8(self.encryption)
        out.text8(self.hash_algorithm)
        out.text8(self.authentication)
        out.u8(self.dh_group)
        out.bytes8(self.skeyid_d)
        out.bytes8(self.skeyid_a)
        out.bytes8(self.skeyid_e)
        out.bytes8(self.last_phase1_cbc_block)
        out.u8(len(self.message_ids))
        for message_id in self.message_ids:
            out.u32(message_id)
        out.u32(self.dpd_seq_out)
        out.u32(self.dpd_seq_in)
        out.u64(self.lifetime_expiry_ms)
        out.ipv4(self.peer)
        out.u16(self.local_port)
        out.u16(self.peer_port)
        return out.getvalue()

    @classmethod
    def decode_body(cls, body: bytes, doi: Doi) -> IkeSaAdd:
        """Parse and validate a body."""
        reader = Reader(body)
        sa_id = reader.u32("sa_id")
        initiator_cookie = _cookie(reader, "initiator_cookie")
        responder_cookie = _cookie(reader, "responder_cookie")
        is_initiator = reader.boolean("is_initiator")
        encryption = reader.text8("encryption", max_len=16, spaces=True)
        hash_algorithm = reader.text8("hash_algorithm", max_len=16, spaces=True)
        authentication = reader.text8("authentication", max_len=16, spaces=True)
        dh_group = _at_least("dh_group", reader.u8("dh_group"), 1)
        skeyid_d = reader.bytes8("skeyid_d", min_len=1)
        skeyid_a = reader.bytes8("skeyid_a", min_len=1)
        skeyid_e = reader.bytes8("skeyid_e", min_len=1)
        last_phase1_cbc_block = reader.bytes8("last_phase1_cbc_block", max_len=32)
        message_ids = tuple(
            _at_least("message_ids", reader.u32("message_ids"), 1)
            for _ in range(reader.count("message_ids"))
        )
        dpd_seq_out = reader.u32("dpd_seq_out")
        dpd_seq_in = reader.u32("dpd_seq_in")
        lifetime_expiry_ms = reader.u64("lifetime_expiry_ms")
        peer = reader.ipv4("peer")
        local_port = _nonzero_port(reader, "local_port")
        peer_port = _nonzero_port(reader, "peer_port")
        reader.end()
        return cls(
            sa_id=sa_id,
            initiator_cookie=initiator_cookie,
            responder_cookie=responder_cookie,
            is_initiator=is_initiator,
            encryption=encryption,
            hash_algorithm=hash_algorithm,
            authentication=authentication,
            dh_group=dh_group,
            skeyid_d=skeyid_d,
            skeyid_a=skeyid_a,
            skeyid_e=skeyid_e,
            last_phase1_cbc_block=last_phase1_cbc_block,
            message_ids=message_ids,
            dpd_seq_out=dpd_seq_out,
            dpd_seq_in=dpd_seq_in,
            lifetime_expiry_ms=lifetime_expiry_ms,
            peer=peer,
            local_port=local_port,
            peer_port=peer_port,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SaDelete:
    """An SA was deleted on the active: remove the standby copy (``DELETES``)."""

    TYPE: ClassVar[MessageType] = MessageType.SA_DELETE
    DOIS: ClassVar[frozenset[Doi]] = _HA

    doi: Doi
    """1 for an IPsec SA pair, 2 for an IKE SA."""
    sa_id: int
    """The ``sa_id`` of the add, 0 .. 2**32-1."""

    def encode_body(self) -> bytes:
        """The body octets."""
        return self.sa_id.to_bytes(4, "big")

    @classmethod
    def decode_body(cls, body: bytes, doi: Doi) -> SaDelete:
        """Parse and validate a body."""
        reader = Reader(body)
        sa_id = reader.u32("sa_id")
        reader.end()
        return cls(doi=doi, sa_id=sa_id)


_COUNTER_DOI = {
    CounterKind.OUTBOUND_SEQ: Doi.IPSEC,
    CounterKind.INBOUND_EDGE: Doi.IPSEC,
    CounterKind.BYTES: Doi.IPSEC,
    CounterKind.DPD_OUT: Doi.IKE,
    CounterKind.DPD_IN: Doi.IKE,
    CounterKind.MESSAGE_ID: Doi.IKE,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterUpdate:
    """A per-SA counter moved on the active (``crypto map ... ha replay-interval``)."""

    TYPE: ClassVar[MessageType] = MessageType.COUNTER_UPDATE
    DOIS: ClassVar[frozenset[Doi]] = _HA

    doi: Doi
    """1 for IPsec counters, 2 for DPD counters."""
    sa_id: int
    """The ``sa_id`` of the add, 0 .. 2**32-1."""
    kind: CounterKind
    """Which counter; must belong to ``doi``."""
    value: int
    """The counter's value, 0 .. 2**64-1 (DPD counters below 2**32)."""

    def encode_body(self) -> bytes:
        """The body octets."""
        out = Writer()
        out.u32(self.sa_id)
        out.u8(self.kind)
        out.u64(self.value)
        return out.getvalue()

    @classmethod
    def decode_body(cls, body: bytes, doi: Doi) -> CounterUpdate:
        """Parse and validate a body."""
        reader = Reader(body)
        sa_id = reader.u32("sa_id")
        raw_kind = reader.u8("kind")
        kind = _COUNTER_KINDS.get(raw_kind)
        if kind is None:
            raise SspDecodeError("kind", raw_kind, "counter kind must be 1-6")
        if _COUNTER_DOI[kind] != doi:
            raise SspDecodeError("kind", kind.name, f"not a counter of DOI {int(doi)}")
        value = reader.u64("value")
        if doi == Doi.IKE and value >= _U32:
            raise SspDecodeError("value", value, "DPD numbers and message ids are 32-bit")
        if kind is CounterKind.MESSAGE_ID and value == 0:
            raise SspDecodeError("value", value, "message id 0 is phase 1's, never replicated")
        reader.end()
        return cls(doi=doi, sa_id=sa_id, kind=kind, value=value)


@dataclass(frozen=True, slots=True, kw_only=True)
class Ack:
    """The receiver applied an add, delete or counter update (``REPLIES``)."""

    TYPE: ClassVar[MessageType] = MessageType.ACK
    DOIS: ClassVar[frozenset[Doi]] = _HA

    doi: Doi
    """DOI of the acknowledged frame, 1 or 2."""
    acked_seq: int
    """Sequence number of the acknowledged frame, 0 .. 2**32-1."""
    applied_value: int
    """The value now in force on the receiver (e.g. the counter), 0 .. 2**64-1."""

    def encode_body(self) -> bytes:
        """The body octets."""
        out = Writer()
        out.u32(self.acked_seq)
        out.u64(self.applied_value)
        return out.getvalue()

    @classmethod
    def decode_body(cls, body: bytes, doi: Doi) -> Ack:
        """Parse and validate a body."""
        reader = Reader(body)
        acked_seq = reader.u32("acked_seq")
        applied_value = reader.u64("applied_value")
        reader.end()
        return cls(doi=doi, acked_seq=acked_seq, applied_value=applied_value)


@dataclass(frozen=True, slots=True, kw_only=True)
class Refuse:
    """The receiver cannot hold an SA (e.g. its crypto card is full): HA is degraded."""

    TYPE: ClassVar[MessageType] = MessageType.REFUSE
    DOIS: ClassVar[frozenset[Doi]] = _HA

    doi: Doi
    """DOI of the refused frame, 1 or 2."""
    refused_seq: int
    """Sequence number of the refused frame, 0 .. 2**32-1."""
    sa_id: int
    """The SA concerned, 0 .. 2**32-1."""
    reason: str
    """Why, for the operator, 1-1024 octets of UTF-8."""

    def encode_body(self) -> bytes:
        """The body octets."""
        out = Writer()
        out.u32(self.refused_seq)
        out.u32(self.sa_id)
        out.text16(self.reason)
        return out.getvalue()

    @classmethod
    def decode_body(cls, body: bytes, doi: Doi) -> Refuse:
        """Parse and validate a body."""
        reader = Reader(body)
        refused_seq = reader.u32("refused_seq")
        sa_id = reader.u32("sa_id")
        reason = reader.text16("reason", max_len=_MAX_REASON)
        if not reason:
            raise SspDecodeError("reason", reason, "a refusal states its reason")
        reader.end()
        return cls(doi=doi, refused_seq=refused_seq, sa_id=sa_id, reason=reason)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResyncRequest:
    """The standby asks for every SA of one client again (``REQUESTS``)."""

    TYPE: ClassVar[MessageType] = MessageType.RESYNC_REQUEST
    DOIS: ClassVar[frozenset[Doi]] = _HA

    doi: Doi
    """1 (``clear crypto sa ha standby resync``) or 2 (``clear crypto isakmp ha ... resync``)."""

    def encode_body(self) -> bytes:
        """The body octets (none)."""
        return b""

    @classmethod
    def decode_body(cls, body: bytes, doi: Doi) -> ResyncRequest:
        """Parse and validate a body."""
        Reader(body).end()
        return cls(doi=doi)


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkBegin:
    """A bulk transfer of one client's SAs follows (after connect, or answering a resync)."""

    TYPE: ClassVar[MessageType] = MessageType.BULK_BEGIN
    DOIS: ClassVar[frozenset[Doi]] = _HA

    doi: Doi
    """The client whose SAs follow, 1 or 2."""
    entry_count: int
    """Number of add frames that follow, 0 .. 2**32-1."""
    resync: bool = False
    """Whether this answers a RESYNC_REQUEST (the standby dropped its copies first)."""

    def encode_body(self) -> bytes:
        """The body octets."""
        out = Writer()
        out.u32(self.entry_count)
        out.boolean(self.resync)
        return out.getvalue()

    @classmethod
    def decode_body(cls, body: bytes, doi: Doi) -> BulkBegin:
        """Parse and validate a body."""
        reader = Reader(body)
        entry_count = reader.u32("entry_count")
        resync = reader.boolean("resync")
        reader.end()
        return cls(doi=doi, entry_count=entry_count, resync=resync)


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkEnd:
    """End of a bulk transfer; repeats the count so the receiver can check it."""

    TYPE: ClassVar[MessageType] = MessageType.BULK_END
    DOIS: ClassVar[frozenset[Doi]] = _HA

    doi: Doi
    """The client whose SAs were sent, 1 or 2."""
    entry_count: int
    """Number of add frames sent since BULK_BEGIN, 0 .. 2**32-1."""

    def encode_body(self) -> bytes:
        """The body octets."""
        return self.entry_count.to_bytes(4, "big")

    @classmethod
    def decode_body(cls, body: bytes, doi: Doi) -> BulkEnd:
        """Parse and validate a body."""
        reader = Reader(body)
        entry_count = reader.u32("entry_count")
        reader.end()
        return cls(doi=doi, entry_count=entry_count)


Message = (
    Hello
    | Keepalive
    | RoleChange
    | IpsecSaAdd
    | IkeSaAdd
    | SaDelete
    | CounterUpdate
    | Ack
    | Refuse
    | ResyncRequest
    | BulkBegin
    | BulkEnd
)
"""Any SSP message."""

MESSAGE_CLASSES: tuple[type[Message], ...] = (
    Hello,
    Keepalive,
    RoleChange,
    IpsecSaAdd,
    IkeSaAdd,
    SaDelete,
    CounterUpdate,
    Ack,
    Refuse,
    ResyncRequest,
    BulkBegin,
    BulkEnd,
)
"""Every message class, one per message type."""

_CLASSES: dict[MessageType, type[Message]] = {cls.TYPE: cls for cls in MESSAGE_CLASSES}
_MESSAGE_TYPES: dict[int, MessageType] = {int(kind): kind for kind in MessageType}
"""Type octet -> type (a dict lookup: calling the enum costs more, at every frame)."""
_DOIS: dict[int, Doi] = {int(domain): domain for domain in Doi}
"""DOI octet -> DOI."""


def encode_body(message: Message) -> tuple[MessageType, Doi, bytes]:
    """Type octet, DOI octet and body of ``message`` (not validated: see ``decode_body``)."""
    return message.TYPE, message.doi, message.encode_body()


def decode_body(message_type: int, doi: int, body: bytes) -> Message:
    """The message a frame's type, DOI and body carry; raises :class:`SspDecodeError`."""
    kind = _MESSAGE_TYPES.get(message_type)
    if kind is None:
        raise SspDecodeError("type", message_type, "unknown message type")
    domain = _DOIS.get(doi)
    if domain is None:
        raise SspDecodeError("doi", doi, "unknown DOI (0 SSP, 1 IPsec, 2 IKE)")
    cls = _CLASSES[kind]
    if domain not in cls.DOIS:
        allowed = ", ".join(str(int(d)) for d in sorted(cls.DOIS))
        raise SspDecodeError("doi", doi, f"{kind.name} needs DOI {allowed}")
    return cls.decode_body(body, domain)


@dataclass(frozen=True, slots=True, kw_only=True)
class DecodedFrame:
    """One verified frame."""

    seq: int
    """The sender's sequence number, 0 .. 2**32-1."""
    ack_requested: bool
    """Flags bit 0."""
    message: Message
    """The decoded body."""


def encode_frame_for(
    message: Message, *, seq: int, key: bytes, ack_requested: bool = False
) -> bytes:
    """The whole frame carrying ``message`` with sequence number ``seq``, tagged with ``key``."""
    kind, doi, body = encode_body(message)
    flags = FLAG_ACK_REQUESTED if ack_requested else 0
    return encode_frame(message_type=kind, flags=flags, doi=doi, seq=seq, body=body, key=key)


def decode_frame(
    frame: bytes,
    *,
    key: bytes,
    expected_seq: int | None = None,
    max_body_len: int = MAX_BODY_LEN,
    header: FrameHeader | None = None,
) -> DecodedFrame:
    """Check and decode exactly one frame; raises :class:`SspDecodeError` naming the field.

    Order: header (``version``, ``length``), whole ``frame`` length, ``tag``, ``seq``,
    ``flags``, ``type``, ``doi``, then the body's own fields. ``header``: the frame's
    header if the caller parsed it already (a stream reader does, to find the frame).
    """
    if header is None:
        header = FrameHeader.parse(frame)
    header.check_framing(max_body_len)
    if len(frame) != header.frame_length:
        raise SspDecodeError("frame", len(frame), f"length field says {header.frame_length}")
    if not tag_matches(key, frame):
        raise SspDecodeError("tag", frame[-TAG_LEN:].hex(), "HMAC-SHA-256 does not verify")
    if expected_seq is not None and header.seq != expected_seq:
        raise SspDecodeError("seq", header.seq, f"expected {expected_seq}")
    if header.flags & RESERVED_FLAGS:
        raise SspDecodeError("flags", header.flags, "reserved bits must be 0")
    body = bytes(frame[HEADER_LEN : HEADER_LEN + header.body_length])
    message = decode_body(header.message_type, header.doi, body)
    return DecodedFrame(
        seq=header.seq, ack_requested=bool(header.flags & FLAG_ACK_REQUESTED), message=message
    )
