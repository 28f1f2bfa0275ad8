"""SSP, the State Synchronization Protocol between the two routers (DESIGN §5 ``ssp``).

Cisco never published SSP's wire format, so this is our own: a versioned,
length-prefixed, HMAC-SHA-256-authenticated frame protocol over one TCP connection
(default port 3249), carrying hello/keepalive/role for SSP itself (DOI 0) and the
replication messages of the IPsec HA Manager (DOI 1) and the IKE HA Manager (DOI 2).

- :mod:`~vpnha.impl.ssp.wire`: frame layout, keys, field codec (byte-level table);
- :mod:`~vpnha.impl.ssp.messages`: one dataclass per message type (body table);
- :mod:`~vpnha.impl.ssp.core`: :class:`SspConnection`, the sans-IO stream core, and
  the ``remote`` admission policy.
"""

from __future__ import annotations

from .core import (
    Closed,
    ConnectionState,
    Dropped,
    DropReason,
    Established,
    Event,
    MessageReceived,
    PeerDead,
    SspConfig,
    SspConnection,
    SspCounters,
    SspListener,
    accept_remote,
)
from .messages import (
    Ack,
    BulkBegin,
    BulkEnd,
    CounterUpdate,
    DecodedFrame,
    Hello,
    IkeSaAdd,
    IpsecSaAdd,
    Keepalive,
    Message,
    Refuse,
    ResyncRequest,
    RoleChange,
    SaDelete,
    decode_body,
    decode_frame,
    encode_body,
    encode_frame_for,
)
from .wire import (
    MAX_BODY_LEN,
    PROTOCOL_VERSION,
    CounterKind,
    DeviceRole,
    Doi,
    MessageType,
    SspDecodeError,
)

__all__ = [
    "MAX_BODY_LEN",
    "PROTOCOL_VERSION",
    "Ack",
    "BulkBegin",
    "BulkEnd",
    "Closed",
    "ConnectionState",
    "CounterKind",
    "CounterUpdate",
    "DecodedFrame",
    "DeviceRole",
    "Doi",
    "DropReason",
    "Dropped",
    "Established",
    "Event",
    "Hello",
    "IkeSaAdd",
    "IpsecSaAdd",
    "Keepalive",
    "Message",
    "MessageReceived",
    "MessageType",
    "PeerDead",
    "Refuse",
    "ResyncRequest",
    "RoleChange",
    "SaDelete",
    "SspConfig",
    "SspConnection",
    "SspCounters",
    "SspDecodeError",
    "SspListener",
    "accept_remote",
    "decode_body",
    "decode_frame",
    "encode_body",
    "encode_frame_for",
]
