"""HSRP (RFC 2281, version 0): the wire codec and the sans-IO speaker.

:mod:`.wire` turns the 20-octet UDP 1985 payload into :class:`HsrpPacket` and back;
:mod:`.core` holds :class:`HsrpGroup`, one group's §5.7 state machine, built from
:class:`HsrpGroupConfig` (``HsrpGroupConfig.from_standby`` reads the parsed IOS
``standby`` commands). The live driver supplies sockets and the clock.
"""

from __future__ import annotations

from .core import (
    DropReason,
    GratuitousArpNeeded,
    HsrpEvent,
    HsrpGroup,
    HsrpGroupConfig,
    MessageDropped,
    PriorityChanged,
    RfcEvent,
    StateChanged,
    TimerDeadlines,
    TrackedInterface,
    virtual_mac,
)
from .wire import (
    DEFAULT_AUTHENTICATION,
    HsrpDecodeError,
    HsrpPacket,
    HsrpState,
    OpCode,
    authentication_octets,
    decode,
    encode,
    timer_seconds_on_wire,
)

__all__ = [
    "DEFAULT_AUTHENTICATION",
    "DropReason",
    "GratuitousArpNeeded",
    "HsrpDecodeError",
    "HsrpEvent",
    "HsrpGroup",
    "HsrpGroupConfig",
    "HsrpPacket",
    "HsrpState",
    "MessageDropped",
    "OpCode",
    "PriorityChanged",
    "RfcEvent",
    "StateChanged",
    "TimerDeadlines",
    "TrackedInterface",
    "authentication_octets",
    "decode",
    "encode",
    "timer_seconds_on_wire",
    "virtual_mac",
]
