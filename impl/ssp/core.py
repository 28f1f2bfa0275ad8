"""The SSP connection: a sans-IO core for one TCP connection between the two routers.

Theory of operation
-------------------
The driver (simulated world or asyncio) owns the socket and the clock. It calls
``start(now)`` once the TCP connection exists, feeds every received chunk to
``receive_data(data, now)`` (``b""`` = the peer closed), writes ``data_to_send()``,
calls ``handle_timer(now)`` at ``get_timer()`` and reads ``next_event()`` until
``None``. Nothing here reads a clock or a socket; the nonce comes from the injected
:class:`~vpnha.impl.entropy.Entropy`.

States: ``IDLE`` (built) → ``HELLO_SENT`` (our HELLO queued) → ``CONFIRMING`` (peer's
HELLO accepted, session keys derived, our first KEEPALIVE queued as key confirmation)
→ ``ESTABLISHED`` (the peer's first KEEPALIVE verified under the session key: it
holds the pre-shared key *and* saw our nonce) → ``CLOSED``. A HELLO recorded on
another connection can be replayed, but what follows it cannot, so such a connection
never reaches ``ESTABLISHED``.

Verified frames, by (state, kind) — the table ``_FRAME_RULES`` below, checked total by
a test:

=============  =================  =================  =========================
state          HELLO              KEEPALIVE          any other message
=============  =================  =================  =========================
HELLO_SENT     accept, confirm    drop UNEXPECTED    drop UNEXPECTED
CONFIRMING     drop UNEXPECTED    → ESTABLISHED      drop UNEXPECTED
ESTABLISHED    drop UNEXPECTED    round-trip time    MessageReceived
=============  =================  =================  =========================

Before the table, each complete frame must pass, in order: version and length (checked
on the header alone, so an oversize frame is refused without reading it), the tag,
the sequence number (the next expected), reserved flags, type, DOI and body. TCP is
reliable, so anything unexpected is corruption or an attack: every failure is a
counted :class:`Dropped` followed by :class:`Closed`, never an exception. After
``CLOSED`` nothing more is accepted or sent (bytes queued before the close can
still be flushed).

Timers: a KEEPALIVE every ``hello_interval_ms`` from the moment keys exist; the dead
timer fires ``dead_interval_ms`` after the last verified frame (or after ``start``)
and yields :class:`PeerDead` then :class:`Closed`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from ipaddress import IPv4Address, IPv6Address, ip_address
from types import MappingProxyType
from typing import Final

from vpnha.impl import mutants
from vpnha.impl.entropy import Entropy
from vpnha.impl.errors import LocalProtocolError

from .messages import (
    DecodedFrame,
    Hello,
    Keepalive,
    Message,
    RoleChange,
    decode_body,
    decode_frame,
    encode_body,
)
from .wire import (
    FLAG_ACK_REQUESTED,
    HEADER_LEN,
    MAX_BODY_LEN,
    NONCE_LEN,
    PROTOCOL_VERSION,
    DeviceRole,
    Doi,
    FrameHeader,
    MessageType,
    SspDecodeError,
    encode_frame,
    hello_key,
    session_key,
)

__all__ = [
    "Closed",
    "ConnectionState",
    "DropReason",
    "Dropped",
    "Established",
    "Event",
    "FrameKind",
    "MessageReceived",
    "PeerDead",
    "SspConfig",
    "SspConnection",
    "SspCounters",
    "SspListener",
    "accept_remote",
]

_MAX_SEQ: Final = 0xFFFF_FFFF
_MAX_KEEPALIVE: Final = 0xFFFF_FFFF
_RTT_HISTORY: Final = 8
"""Keepalive send times remembered for round-trip measurement."""


class ConnectionState(Enum):
    """Where one SSP connection is (``show ssp peers`` shows ESTABLISHED as Connected)."""

    # Members are singletons: hash by identity, in C (Enum's __hash__ is Python code).
    __hash__ = object.__hash__

    IDLE = "idle"
    HELLO_SENT = "hello-sent"
    CONFIRMING = "confirming"
    ESTABLISHED = "established"
    CLOSED = "closed"


class FrameKind(Enum):
    """The column of ``_FRAME_RULES`` a verified frame falls in."""

    # Members are singletons: hash by identity, in C (Enum's __hash__ is Python code).
    __hash__ = object.__hash__

    HELLO = "hello"
    KEEPALIVE = "keepalive"
    OTHER = "other"


class DropReason(StrEnum):
    """Why a frame (or connection attempt) was dropped; the keys of the drop counters."""

    BAD_VERSION = "bad version"
    OVERSIZE = "oversize frame"
    TRUNCATED = "truncated frame"
    BAD_TAG = "authentication failed"
    BAD_SEQUENCE = "bad sequence number"
    BAD_FLAGS = "reserved flags set"
    UNKNOWN_TYPE = "unknown message type"
    MALFORMED = "malformed body"
    UNEXPECTED = "unexpected message"
    GROUP_MISMATCH = "ssp group mismatch"
    NOT_REMOTE = "not the configured remote"


_REASON_BY_FIELD: Final = {
    "version": DropReason.BAD_VERSION,
    "length": DropReason.OVERSIZE,
    "tag": DropReason.BAD_TAG,
    "seq": DropReason.BAD_SEQUENCE,
    "flags": DropReason.BAD_FLAGS,
    "type": DropReason.UNKNOWN_TYPE,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class SspConfig:
    """This router's side of one SSP connection (``ssp group`` plus what IOS leaves implicit)."""

    hostname: str
    """Our hostname, sent in the HELLO: 1-63 printable ASCII characters, no spaces."""
    group_id: int
    """The ``ssp group`` id, 1-100; the peer's must be equal."""
    pre_shared_key: bytes = field(repr=False)
    """Key of the frame tags, at least 1 octet; never shown."""
    is_client: bool
    """Whether we opened the TCP connection (it selects the direction of the keys)."""
    hello_interval_ms: int = 1000
    """Milliseconds between keepalives, at least 1."""
    dead_interval_ms: int = 3000
    """Milliseconds without a verified frame before the peer is dead; above the hello interval."""
    max_body_len: int = MAX_BODY_LEN
    """Largest body accepted, octets, 0 .. 1 MiB."""
    incarnation: int = 0
    """Drawn once per boot, 0 .. 2**32-1, sent in the HELLO (a restart changes it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SspCounters:
    """What ``show ssp packet`` shows, plus the drops by reason."""

    created_ms: int | None
    """When ``start`` was called (the socket's creation time), ms; None before."""
    packets_sent: int
    """Frames queued for sending."""
    bytes_sent: int
    """Octets queued for sending."""
    packets_received: int
    """Frames that verified and were accepted."""
    bytes_received: int
    """Octets fed to ``receive_data`` while open."""
    drops: Mapping[DropReason, int]
    """Dropped frames (or inputs) by reason; reasons never seen are absent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Established:
    """The handshake finished: both ends hold the key and this connection's nonces."""

    peer_hostname: str
    """The peer's hostname from its HELLO."""
    peer_role: DeviceRole
    """The peer's device role from its HELLO."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageReceived:
    """A verified message for an SSP client (or a ROLE change)."""

    message: Message
    """The message."""
    doi: Doi
    """Its DOI: 0 SSP, 1 IPsec HA Manager, 2 IKE HA Manager."""
    seq: int
    """The frame's sequence number, to be quoted in an ACK or REFUSE, 0 .. 2**32-1."""
    ack_requested: bool
    """Whether the sender asked for an ACK or REFUSE."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerDead:
    """No verified frame for the dead interval; the connection is closed next."""

    silent_ms: int
    """Milliseconds since the last verified frame (or since ``start``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Dropped:
    """Something the peer sent was refused; counted, and the connection is closed next."""

    reason: DropReason
    """The counter it went to."""
    detail: str
    """The field, the value and the rule it broke."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Closed:
    """The connection is over; the driver closes the socket once output is flushed."""

    reason: str
    """Why, for the operator."""
    by_peer: bool
    """True when the peer closed the TCP connection, False when we decided to."""


Event = Established | MessageReceived | PeerDead | Dropped | Closed
"""Anything ``next_event`` returns."""

_Handler = Callable[["SspConnection", DecodedFrame, int], None]


def _check_config(config: SspConfig) -> None:
    problems = []
    host = config.hostname
    if not (1 <= len(host) <= 63 and all("!" <= ch <= "~" for ch in host)):
        problems.append(f"hostname {host!r} must be 1-63 printable ASCII characters, no spaces")
    if not 1 <= config.group_id <= 100:
        problems.append(f"group_id {config.group_id} must be 1-100")
    if not config.pre_shared_key:
        problems.append("pre_shared_key must not be empty")
    if config.hello_interval_ms < 1:
        problems.append(f"hello_interval_ms {config.hello_interval_ms} must be at least 1")
    if config.dead_interval_ms <= config.hello_interval_ms:
        problems.append(
            f"dead_interval_ms {config.dead_interval_ms} must exceed "
            f"hello_interval_ms {config.hello_interval_ms}"
        )
    if not 0 <= config.incarnation <= _MAX_SEQ:
        problems.append(f"incarnation {config.incarnation} must be 0-{_MAX_SEQ}")
    if not 0 <= config.max_body_len <= MAX_BODY_LEN:
        problems.append(f"max_body_len {config.max_body_len} must be 0-{MAX_BODY_LEN}")
    if problems:
        raise LocalProtocolError("; ".join(problems))


class SspConnection:
    """One end of one SSP TCP connection (both ends run the same rules)."""

    def __init__(self, config: SspConfig, entropy: Entropy) -> None:
        _check_config(config)
        self._config = config
        self._entropy = entropy
        self._state = ConnectionState.IDLE
        self._events: deque[Event] = deque()
        self._outbound = bytearray()
        self._inbound = bytearray()
        self._header: FrameHeader | None = None
        self._nonce = b""
        self._send_seq = 0
        self._recv_seq = 0
        self._send_key = hello_key(config.pre_shared_key, from_client=config.is_client)
        self._recv_key = hello_key(config.pre_shared_key, from_client=not config.is_client)
        self._local_role = DeviceRole.NONE
        self._peer_role: DeviceRole | None = None
        self._peer_hostname: str | None = None
        self._peer_incarnation: int | None = None
        self._last_heard_ms = 0
        self._next_keepalive_ms: int | None = None
        self._keepalive_number = 0
        self._keepalive_sent_ms: dict[int, int] = {}
        self._peer_keepalive: tuple[int, int] | None = None
        self._rtt_ms: int | None = None
        self._created_ms: int | None = None
        self._packets_sent = 0
        self._bytes_sent = 0
        self._packets_received = 0
        self._bytes_received = 0
        self._drops: dict[DropReason, int] = {}

    # --- read-only state -------------------------------------------------------------

    @property
    def config(self) -> SspConfig:
        """The configuration this connection was built with."""
        return self._config

    @property
    def state(self) -> ConnectionState:
        """The connection state."""
        return self._state

    @property
    def established(self) -> bool:
        """Whether messages can be sent."""
        return self._state is ConnectionState.ESTABLISHED

    @property
    def closed(self) -> bool:
        """Whether the connection is over (the driver closes the socket after flushing)."""
        return self._state is ConnectionState.CLOSED

    @property
    def local_role(self) -> DeviceRole:
        """Our device role as last announced (HELLO or ROLE)."""
        return self._local_role

    @property
    def peer_role(self) -> DeviceRole | None:
        """The peer's device role as last announced; None before its HELLO."""
        return self._peer_role

    @property
    def peer_hostname(self) -> str | None:
        """The peer's hostname; None before its HELLO."""
        return self._peer_hostname

    @property
    def rtt_ms(self) -> int | None:
        """Last round-trip time measured from keepalive echoes, ms; None before the first."""
        return self._rtt_ms

    @property
    def peer_incarnation(self) -> int | None:
        """The incarnation from the peer's HELLO (None before it arrived)."""
        return self._peer_incarnation

    @property
    def frames_received(self) -> int:
        """Frames verified and accepted so far (keepalives included); cheap to read."""
        return self._packets_received

    @property
    def counters(self) -> SspCounters:
        """A snapshot of the packet counters and drops (``show ssp packet``)."""
        return SspCounters(
            created_ms=self._created_ms,
            packets_sent=self._packets_sent,
            bytes_sent=self._bytes_sent,
            packets_received=self._packets_received,
            bytes_received=self._bytes_received,
            drops=MappingProxyType(dict(self._drops)),
        )

    # --- inputs ----------------------------------------------------------------------

    def start(self, now: int, *, role: DeviceRole = DeviceRole.NONE) -> None:
        """The TCP connection is up: draw our nonce and queue our HELLO."""
        if self._state is not ConnectionState.IDLE:
            raise LocalProtocolError(f"start() called in state {self._state.value}")
        self._nonce = self._entropy.token_bytes(NONCE_LEN)
        self._created_ms = now
        self._last_heard_ms = now
        self._local_role = role
        self._state = ConnectionState.HELLO_SENT
        hello = Hello(
            protocol_version=PROTOCOL_VERSION,
            hostname=self._config.hostname,
            group_id=self._config.group_id,
            nonce=self._nonce,
            role=role,
            incarnation=self._config.incarnation,
        )
        self._emit(hello)

    def receive_data(self, data: bytes | bytearray | memoryview, now: int) -> None:
        """Bytes from the TCP stream, in any chunking; ``b""`` means the peer closed."""
        if self._state is ConnectionState.IDLE:
            raise LocalProtocolError("receive_data() before start()")
        if self._state is ConnectionState.CLOSED:
            return  # the driver closes the socket; whatever still arrives is ignored
        if not data:
            if self._inbound:
                self._drop(DropReason.TRUNCATED, f"{len(self._inbound)} octets of a frame at EOF")
            else:
                self._close("peer closed the connection", by_peer=True)
            return
        self._bytes_received += len(data)
        self._inbound += data
        buffered = len(self._inbound)
        position = 0  # consumed octets; compacted once at the end (a bulk sync is long)
        while not self.closed:
            if self._header is None:
                if buffered - position < HEADER_LEN:
                    break
                header = FrameHeader.parse(self._inbound[position : position + HEADER_LEN])
                try:
                    header.check_framing(self._config.max_body_len)
                except SspDecodeError as error:
                    self._reject(error)
                    return
                self._header = header
            size = self._header.frame_length
            if buffered - position < size:
                break
            frame = bytes(self._inbound[position : position + size])
            position += size
            header, self._header = self._header, None
            self._on_frame(frame, header, now)
        del self._inbound[:position]

    def handle_timer(self, now: int) -> None:
        """Fire whatever is due at ``now``: the dead timer, then the keepalive."""
        if self._state in (ConnectionState.IDLE, ConnectionState.CLOSED):
            return
        silent_ms = now - self._last_heard_ms
        if silent_ms >= self._config.dead_interval_ms and not mutants.active(
            "ssp-dead-timer-ignored"
        ):
            self._events.append(PeerDead(silent_ms=silent_ms))
            self._close(f"peer dead: no frame for {silent_ms} ms", by_peer=False)
            return
        if self._next_keepalive_ms is not None and now >= self._next_keepalive_ms:
            self._send_keepalive(now)

    def send(self, message: Message, *, ack_requested: bool = False) -> int:
        """Queue ``message``; returns its sequence number (quoted by the peer's ACK).

        Raises :class:`LocalProtocolError` when not established, for HELLO and KEEPALIVE
        (the core sends those itself) and for a message the peer would refuse.
        """
        if self._state is not ConnectionState.ESTABLISHED:
            raise LocalProtocolError(f"SSP connection not established (state {self._state.value})")
        if isinstance(message, Hello | Keepalive):
            raise LocalProtocolError(f"{message.TYPE.name} is sent by the connection itself")
        try:
            kind, doi, body = encode_body(message)
        except (OverflowError, ValueError) as error:
            raise LocalProtocolError(f"{message.TYPE.name} cannot be encoded: {error}") from error
        try:
            again = decode_body(kind, doi, body)
        except SspDecodeError as error:
            raise LocalProtocolError(f"{message.TYPE.name} would be refused: {error}") from error
        if again != message:
            raise LocalProtocolError(f"{message.TYPE.name} does not survive encoding")
        if len(body) > self._config.max_body_len:
            raise LocalProtocolError(f"{message.TYPE.name} body of {len(body)} octets is too big")
        seq = self._emit(message, ack_requested=ack_requested, encoded=(kind, doi, body))
        if seq is None:
            raise LocalProtocolError("sequence numbers exhausted: connection closed, reconnect")
        if isinstance(message, RoleChange):
            self._local_role = message.role
        return seq

    def close(self, reason: str = "closed locally") -> None:
        """End the connection (e.g. ``no ssp group``); idempotent."""
        if self._state is not ConnectionState.CLOSED:
            self._close(reason, by_peer=False)

    # --- outputs ---------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """Everything queued for the TCP stream since the last call."""
        if not self._outbound:
            return b""  # the usual answer: asked after every input
        data = bytes(self._outbound)
        self._outbound.clear()
        return data

    def get_timer(self) -> int | None:
        """The next instant ``handle_timer`` must be called, ms; None when none is armed."""
        if self._state in (ConnectionState.IDLE, ConnectionState.CLOSED):
            return None
        dead_at = self._last_heard_ms + self._config.dead_interval_ms
        if mutants.active("ssp-dead-timer-ignored"):
            return self._next_keepalive_ms
        if self._next_keepalive_ms is None:
            return dead_at
        return min(dead_at, self._next_keepalive_ms)

    def next_event(self) -> Event | None:
        """The oldest event not yet taken, or None."""
        return self._events.popleft() if self._events else None

    # --- internals -------------------------------------------------------------------

    def _emit(
        self,
        message: Message,
        *,
        ack_requested: bool = False,
        encoded: tuple[MessageType, Doi, bytes] | None = None,
    ) -> int | None:
        """Frame and queue ``message``; ``encoded``: its ``encode_body`` if already made."""
        seq = self._send_seq
        if seq > _MAX_SEQ:
            self._close("sequence numbers exhausted", by_peer=False)
            return None
        kind, doi, body = encode_body(message) if encoded is None else encoded
        frame = encode_frame(
            message_type=kind,
            flags=FLAG_ACK_REQUESTED if ack_requested else 0,
            doi=doi,
            seq=seq,
            body=body,
            key=self._send_key,
        )
        self._outbound += frame
        self._send_seq = seq + 1
        self._packets_sent += 1
        self._bytes_sent += len(frame)
        return seq

    def _send_keepalive(self, now: int) -> None:
        number = self._keepalive_number % _MAX_KEEPALIVE + 1
        self._keepalive_number = number
        echo, echo_delay_ms = 0, 0
        if self._peer_keepalive is not None:
            echo, received_ms = self._peer_keepalive
            echo_delay_ms = min(max(now - received_ms, 0), _MAX_KEEPALIVE)
        if self._emit(Keepalive(number=number, echo=echo, echo_delay_ms=echo_delay_ms)) is None:
            return
        self._keepalive_sent_ms[number] = now
        while len(self._keepalive_sent_ms) > _RTT_HISTORY:
            del self._keepalive_sent_ms[next(iter(self._keepalive_sent_ms))]
        self._next_keepalive_ms = now + self._config.hello_interval_ms

    def _on_frame(self, frame: bytes, header: FrameHeader, now: int) -> None:
        try:
            decoded = decode_frame(
                frame,
                key=self._recv_key,
                expected_seq=self._recv_seq,
                max_body_len=self._config.max_body_len,
                header=header,
            )
        except SspDecodeError as error:
            self._reject(error)
            return
        self._recv_seq += 1
        self._packets_received += 1
        self._last_heard_ms = now
        message = decoded.message
        if isinstance(message, Hello):
            kind = FrameKind.HELLO
        elif isinstance(message, Keepalive):
            kind = FrameKind.KEEPALIVE
        else:
            kind = FrameKind.OTHER
        _FRAME_RULES[self._state, kind](self, decoded, now)

    def _on_hello(self, decoded: DecodedFrame, now: int) -> None:
        hello = decoded.message
        assert isinstance(hello, Hello)
        if hello.group_id != self._config.group_id:
            self._drop(
                DropReason.GROUP_MISMATCH,
                f"group_id={hello.group_id}: ours is {self._config.group_id}",
            )
            return
        self._peer_hostname = hello.hostname
        self._peer_role = hello.role
        self._peer_incarnation = hello.incarnation
        psk = self._config.pre_shared_key
        client = self._config.is_client
        client_nonce, server_nonce = (
            (self._nonce, hello.nonce) if client else (hello.nonce, self._nonce)
        )
        self._send_key = session_key(
            psk, from_client=client, client_nonce=client_nonce, server_nonce=server_nonce
        )
        self._recv_key = session_key(
            psk, from_client=not client, client_nonce=client_nonce, server_nonce=server_nonce
        )
        self._state = ConnectionState.CONFIRMING
        self._send_keepalive(now)

    def _on_confirm(self, decoded: DecodedFrame, now: int) -> None:
        self._state = ConnectionState.ESTABLISHED
        assert self._peer_hostname is not None
        assert self._peer_role is not None
        self._events.append(
            Established(peer_hostname=self._peer_hostname, peer_role=self._peer_role)
        )
        self._on_keepalive(decoded, now)

    def _on_keepalive(self, decoded: DecodedFrame, now: int) -> None:
        keepalive = decoded.message
        assert isinstance(keepalive, Keepalive)
        self._peer_keepalive = (keepalive.number, now)
        sent_ms = self._keepalive_sent_ms.get(keepalive.echo)
        if sent_ms is not None:
            self._rtt_ms = max(now - sent_ms - keepalive.echo_delay_ms, 0)

    def _on_message(self, decoded: DecodedFrame, now: int) -> None:
        message = decoded.message
        if isinstance(message, RoleChange):
            self._peer_role = message.role
        self._events.append(
            MessageReceived(
                message=message,
                doi=message.doi,
                seq=decoded.seq,
                ack_requested=decoded.ack_requested,
            )
        )

    def _unexpected(self, decoded: DecodedFrame, now: int) -> None:
        name = decoded.message.TYPE.name
        self._drop(DropReason.UNEXPECTED, f"{name} (seq {decoded.seq}) in {self._state.value}")

    def _reject(self, error: SspDecodeError) -> None:
        self._drop(_REASON_BY_FIELD.get(error.field, DropReason.MALFORMED), str(error))

    def _drop(self, reason: DropReason, detail: str) -> None:
        self._drops[reason] = self._drops.get(reason, 0) + 1
        self._events.append(Dropped(reason=reason, detail=detail))
        self._close(f"{reason.value}: {detail}", by_peer=False)

    def _close(self, reason: str, *, by_peer: bool) -> None:
        self._state = ConnectionState.CLOSED
        self._inbound.clear()
        self._header = None
        self._next_keepalive_ms = None
        self._events.append(Closed(reason=reason, by_peer=by_peer))


_FRAME_RULES: Final[dict[tuple[ConnectionState, FrameKind], _Handler]] = {
    (ConnectionState.HELLO_SENT, FrameKind.HELLO): SspConnection._on_hello,
    (ConnectionState.HELLO_SENT, FrameKind.KEEPALIVE): SspConnection._unexpected,
    (ConnectionState.HELLO_SENT, FrameKind.OTHER): SspConnection._unexpected,
    (ConnectionState.CONFIRMING, FrameKind.HELLO): SspConnection._unexpected,
    (ConnectionState.CONFIRMING, FrameKind.KEEPALIVE): SspConnection._on_confirm,
    (ConnectionState.CONFIRMING, FrameKind.OTHER): SspConnection._unexpected,
    (ConnectionState.ESTABLISHED, FrameKind.HELLO): SspConnection._unexpected,
    (ConnectionState.ESTABLISHED, FrameKind.KEEPALIVE): SspConnection._on_keepalive,
    (ConnectionState.ESTABLISHED, FrameKind.OTHER): SspConnection._on_message,
}
"""What a verified frame does, by connection state and kind (see the module docstring).

IDLE and CLOSED receive nothing: ``receive_data`` refuses the first and ignores the
second before any frame is parsed.
"""
RECEIVING_STATES: Final = frozenset(
    {ConnectionState.HELLO_SENT, ConnectionState.CONFIRMING, ConnectionState.ESTABLISHED}
)
"""States in which frames are parsed; ``_FRAME_RULES`` covers each with every kind."""


def _as_ipv4(address: IPv4Address | IPv6Address | str) -> IPv4Address | None:
    try:
        parsed = ip_address(address)
    except ValueError:
        return None
    if isinstance(parsed, IPv6Address):
        return parsed.ipv4_mapped
    return parsed


def accept_remote(
    configured_remote: IPv4Address | str, src_ip: IPv4Address | IPv6Address | str
) -> bool:
    """Whether a TCP connection from ``src_ip`` may become SSP (``ssp group`` ``remote``).

    An IPv4-mapped IPv6 source (a dual-stack listening socket) counts as its IPv4
    address; anything unparseable is refused.
    """
    remote = _as_ipv4(configured_remote)
    if remote is None:
        raise LocalProtocolError(f"remote {configured_remote!r} is not an IPv4 address")
    return _as_ipv4(src_ip) == remote


class SspListener:
    """The server side's admission policy: only the configured ``remote`` may connect."""

    def __init__(self, remote: IPv4Address | str) -> None:
        parsed = _as_ipv4(remote)
        if parsed is None:
            raise LocalProtocolError(f"remote {remote!r} is not an IPv4 address")
        self._remote = parsed
        self._accepted = 0
        self._refused = 0
        self._last_refused: tuple[str, int] | None = None

    @property
    def remote(self) -> IPv4Address:
        """The configured remote."""
        return self._remote

    @property
    def accepted(self) -> int:
        """Connections admitted."""
        return self._accepted

    @property
    def refused(self) -> int:
        """Connections refused (``DropReason.NOT_REMOTE``)."""
        return self._refused

    @property
    def last_refused(self) -> tuple[str, int] | None:
        """Source address and time (ms) of the last refused connection; None if none."""
        return self._last_refused

    def offer(self, src_ip: IPv4Address | IPv6Address | str, now: int) -> bool:
        """A TCP connection arrived from ``src_ip`` at ``now``: admit it or refuse it."""
        if accept_remote(self._remote, src_ip):
            self._accepted += 1
            return True
        self._refused += 1
        self._last_refused = (str(src_ip), now)
        return False
