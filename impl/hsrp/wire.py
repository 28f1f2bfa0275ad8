"""RFC 2281 HSRP version 0 packet codec (protocols.md §1.2).

Every HSRP message is one UDP payload of exactly 20 octets, network byte order::

    0        1        2        3        4        5        6        7
    version  op code  state    hello s  hold s   priority group    reserved
    8 .. 15  authentication data (8 octets, clear text, NUL padded)
    16 .. 19 virtual IP address

``decode`` validates and raises :class:`HsrpDecodeError` naming the field, the value
and the rule; ``encode`` refuses a packet it cannot represent with
:class:`~vpnha.impl.errors.LocalProtocolError`. The codec knows nothing of timers in
milliseconds: :func:`timer_seconds_on_wire` is how a speaker with sub-second timers
fills the one-octet second fields (receivers use their own configured timers, so
the rounding never shortens anyone's hold time).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Final

from vpnha.impl.errors import LocalProtocolError

__all__ = [
    "AUTHENTICATION_LENGTH",
    "DEFAULT_AUTHENTICATION",
    "PACKET_LENGTH",
    "VERSION",
    "HsrpDecodeError",
    "HsrpPacket",
    "HsrpState",
    "OpCode",
    "authentication_octets",
    "decode",
    "encode",
    "timer_seconds_on_wire",
]

VERSION = 0
"""The only version RFC 2281 defines ("this document describes version 0", §5.1)."""
PACKET_LENGTH = 20
"""Octets in an RFC 2281 message (§5.1)."""
AUTHENTICATION_LENGTH = 8
"""Octets of clear-text authentication data (§5.1)."""
DEFAULT_AUTHENTICATION = b"cisco\x00\x00\x00"
"""The authentication data when none is configured (§5.1: "cisco" padded with NULs)."""

# Cisco extensions that share the version 0 header but are not RFC 2281 (protocols.md §1.10).
_ADVERTISE_OP_CODE = 3
_MD5_TLV_TYPE = 4
_MD5_PACKET_LENGTH = 50
_OCTET_MAX = 255
_UNSPECIFIED_ADDRESS = IPv4Address(0)
_UNSPECIFIED_OCTETS = _UNSPECIFIED_ADDRESS.packed


class OpCode(enum.Enum):
    """The Op Code octet (RFC 2281 §5.1)."""

    # Members are singletons: hash by identity, in C (Enum's __hash__ is Python code).
    __hash__ = object.__hash__

    HELLO = 0
    """The sender is able to act as, or is, the active or standby router."""
    COUP = 1
    """The sender wishes to become the active router."""
    RESIGN = 2
    """The sender no longer wishes to be the active router."""


class HsrpState(enum.Enum):
    """A speaker's state (RFC 2281 §5.3), valued by its version 0 wire octet.

    Three encodings exist (protocols.md §1.4): the RFC's table index 1-6, these
    version 0 bit values, and HSRPv2's 0-6. Only the bit values ever reach the wire
    here; :attr:`rfc_index` gives the table's numbering for display.
    """

    # Members are singletons: hash by identity, in C (Enum's __hash__ is Python code).
    __hash__ = object.__hash__

    INITIAL = 0
    """HSRP is not running (§5.3 state 1)."""
    LEARN = 1
    """The virtual IP is not known yet; waiting for the active router (§5.3 state 2)."""
    LISTEN = 2
    """The virtual IP is known; neither active nor standby (§5.3 state 3)."""
    SPEAK = 4
    """Sending Hellos and taking part in the election (§5.3 state 4)."""
    STANDBY = 8
    """The candidate to become the next active router (§5.3 state 5)."""
    ACTIVE = 16
    """Forwarding packets sent to the group's virtual MAC (§5.3 state 6)."""

    @property
    def rfc_index(self) -> int:
        """The state's number 1-6 in RFC 2281 §5.3 and the §5.7 table."""
        return _RFC_INDEX[self]


_RFC_INDEX = {state: index for index, state in enumerate(HsrpState, start=1)}
_OP_CODES: Final = {op_code.value: op_code for op_code in OpCode}
"""Op Code octet -> op code (dict lookups: calling the enum or reading ``value`` costs
more, and every hello is encoded and decoded)."""
_OP_CODE_OCTETS: Final = {op_code: op_code.value for op_code in OpCode}
_STATES: Final = {state.value: state for state in HsrpState}
"""State octet -> state."""
_STATE_OCTETS: Final = {state: state.value for state in HsrpState}


@dataclass(frozen=True, slots=True, kw_only=True)
class HsrpPacket:
    """One RFC 2281 message; the version (0) and reserved octet are implied."""

    op_code: OpCode
    """Hello, Coup or Resign."""
    state: HsrpState
    """The sender's state (§5.1: the state before a Coup or Resign, see core)."""
    hello_time_s: int
    """Hellotime in seconds, 0-255; meaningful in Hellos only."""
    hold_time_s: int
    """Holdtime in seconds, 0-255; meaningful in Hellos only."""
    priority: int
    """The sender's priority 0-255; higher wins, ties go to the higher IP address."""
    group: int
    """Standby group number 0-255."""
    authentication: bytes = DEFAULT_AUTHENTICATION
    """Clear-text authentication data, exactly 8 octets."""
    virtual_ip: IPv4Address | None = None
    """The group's virtual IP; None is 0.0.0.0 on the wire (the sender does not know it)."""


class HsrpDecodeError(ValueError):
    """A received payload is not an RFC 2281 message; names the field, value and rule."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"HSRP {field} {value!r}: {reason}")
        self.field = field
        """The offending field (``length``, ``version``, ``op_code``, ``state``, ...)."""
        self.value = value
        """The value found there."""
        self.reason = reason
        """Why it is refused, in words."""


def authentication_octets(text: str) -> bytes:
    """The 8 authentication octets for a configured string (NUL padded, §5.1)."""
    raw = text.encode("ascii")
    if len(raw) > AUTHENTICATION_LENGTH:
        msg = f"authentication string {text!r} is longer than {AUTHENTICATION_LENGTH} octets"
        raise LocalProtocolError(msg)
    return raw.ljust(AUTHENTICATION_LENGTH, b"\x00")


def timer_seconds_on_wire(milliseconds: int) -> int:
    """The Hellotime/Holdtime octet for a timer in ms: ``ceil(ms / 1000)`` within 1-255.

    RFC 2281 §5.1 carries whole seconds only. Rounding up keeps a sub-second hold
    time (``standby timers msec``) from reading as 0 ("no hold") and never advertises
    a shorter time than the one in use; receivers do not take timers from the wire.
    """
    seconds = -(-milliseconds // 1000)
    return min(max(seconds, 1), _OCTET_MAX)


def encode(packet: HsrpPacket) -> bytes:
    """The 20-octet payload of ``packet`` (RFC 2281 §5.1)."""
    for name, value in (
        ("hello_time_s", packet.hello_time_s),
        ("hold_time_s", packet.hold_time_s),
        ("priority", packet.priority),
        ("group", packet.group),
    ):
        if not 0 <= value <= _OCTET_MAX:
            msg = f"HSRP {name} {value} does not fit in one octet (0-{_OCTET_MAX})"
            raise LocalProtocolError(msg)
    if len(packet.authentication) != AUTHENTICATION_LENGTH:
        msg = (
            f"HSRP authentication {packet.authentication!r} must be exactly "
            f"{AUTHENTICATION_LENGTH} octets"
        )
        raise LocalProtocolError(msg)
    virtual_ip = _UNSPECIFIED_ADDRESS if packet.virtual_ip is None else packet.virtual_ip
    header = bytes(
        (
            VERSION,
            _OP_CODE_OCTETS[packet.op_code],
            _STATE_OCTETS[packet.state],
            packet.hello_time_s,
            packet.hold_time_s,
            packet.priority,
            packet.group,
            0,  # reserved (§5.1)
        )
    )
    return header + packet.authentication + virtual_ip.packed


def decode(data: bytes) -> HsrpPacket:
    """Parse one RFC 2281 payload; raise :class:`HsrpDecodeError` on anything else.

    Checked in wire order: version, op code (the Cisco Advertise op code 3 has its
    own layout, protocols.md §1.10), length (exactly 20; 50 octets ending in an MD5
    TLV is Cisco's MD5 authentication, which is refused by name), state. A non-zero
    reserved octet is tolerated and dropped (§5.1 asks only senders to zero it).
    """
    if len(data) < 2:
        raise HsrpDecodeError("length", len(data), f"shorter than {PACKET_LENGTH} octets")
    if data[0] != VERSION:
        raise HsrpDecodeError("version", data[0], "only version 0 (RFC 2281) is supported")
    if data[1] == _ADVERTISE_OP_CODE:
        raise HsrpDecodeError("op_code", data[1], "advertise not supported")
    op_code = _OP_CODES.get(data[1])
    if op_code is None:
        raise HsrpDecodeError("op_code", data[1], "unknown op code (0-2)")
    if len(data) != PACKET_LENGTH:
        if len(data) == _MD5_PACKET_LENGTH and data[PACKET_LENGTH] == _MD5_TLV_TYPE:
            raise HsrpDecodeError("authentication", "md5", "md5 authentication not supported")
        raise HsrpDecodeError(
            "length", len(data), f"an RFC 2281 message is exactly {PACKET_LENGTH} octets"
        )
    state = _STATES.get(data[2])
    if state is None:
        raise HsrpDecodeError("state", data[2], "unknown state (0, 1, 2, 4, 8 or 16)")
    address = bytes(data[16:20])
    return HsrpPacket(
        op_code=op_code,
        state=state,
        hello_time_s=data[3],
        hold_time_s=data[4],
        priority=data[5],
        group=data[6],
        authentication=bytes(data[8:16]),
        virtual_ip=None if address == _UNSPECIFIED_OCTETS else IPv4Address(address),
    )
