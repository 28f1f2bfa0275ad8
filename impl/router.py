"""One router, sans-IO: :class:`RouterCore` (HSRP pair, device role) and :class:`Router`.

Theory of operation
-------------------
Two layers. :class:`RouterCore` wires the two HSRP speakers of the document's
topology — the inside (LAN) group and the outside (ISP) group, each on its own
interface — to the interfaces' state and to each other, and derives the SSP
device role from them. :class:`Router` (below) composes that core with the SSP
connection, the SA database and its crypto engine, and the data path; its own
docstring describes the glue.

- Boot: each group is enabled after ``standby delay reload`` (the interface's
  configured value, 0 when absent); an interface that comes back up re-enables
  its group after ``standby delay minimum``. (Not to be confused with ``standby N
  preempt delay reload``, the speaker's own preempt delay for its first enable
  after boot: a core is made once per boot, so its speakers' first enable is it.)
- ``preempt delay sync``: the groups named by the SSP group's ``redundancy`` lines
  have an IP redundancy client, SSP's SA replication; they ask
  ``clients_synchronised`` (the router's SA database: the other end's full copy
  arrived, see ``SaDatabase.synchronised``) before preempting. Other groups, and
  every group of a core without it, have no client and never wait.
- Interface down disables the group on it (RFC 2281 event b) and tells every
  group that tracks the interface, which lowers its priority by the decrement
  (``standby N track IFACE [DEC]``); interface up restores the priority at once.
- Device role (``show ssp redundancy``): ACTIVE when every group named by the SSP
  group's ``redundancy`` lines is Active, STANDBY when every one is Standby,
  otherwise INIT. Each change is reported as a ``RoleChanged`` event, which is
  what the SA database's takeover and hand-back hang on.

Surface (aioquic style): ``receive_hsrp(side, data, src, now)``,
``handle_timer(now)``, ``get_timer()``, ``datagrams_to_send(now)`` (side and
payload for UDP 1985 to 224.0.0.2, TTL 1), ``next_event()``; administration:
``interface_down``/``interface_up``. Time is integer ms passed in.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Final

from .config import ConfigError, Diagnostic, RouterConfig
from .config.schema import DEFAULT_SSP_KEY, InterfaceConfig
from .dataplane import SadbSaTable
from .debug import BASIC, DebugLog, Facility
from .entropy import Entropy
from .errors import LocalProtocolError
from .forward import (
    Action,
    DeliverIke,
    DeliverLan,
    Forwarder,
    NeedSa,
    SendClear,
    SendEsp,
    slot_setters,
)
from .hsrp import HsrpEvent, HsrpGroup, HsrpGroupConfig, HsrpState
from .hsrp.core import GratuitousArpNeeded
from .ike.core import (
    DEFAULT_REPLACED_GRACE_MS,
    NAT_T_PORT,
    NON_ESP_MARKER,
    IkeEngine,
    IkeEvent,
    IkeSaRetired,
    IpsecSaNegotiated,
    PeerDeleted,
)
from .ike.policy import PROTO_ESP
from .ike.store import SadbIkeStore
from .router_debug import describe_ike_event, describe_ssp_message
from .sadb import HaStatus, IkeSa, IpsecSaPair, NewIpsecSa, SaDatabase, TakeoverReport
from .ssp.core import (
    Closed,
    Established,
    MessageReceived,
    SspConfig,
    SspConnection,
    SspCounters,
    SspListener,
)
from .ssp.core import Event as SspConnEvent
from .ssp.messages import CounterUpdate, IkeSaAdd, IpsecSaAdd, Message, RoleChange, SaDelete
from .ssp.wire import DeviceRole as WireRole
from .ssp.wire import Doi
from .vam import CryptoEngine, Refusal

__all__ = [
    "DeviceRole",
    "Event",
    "GroupEvent",
    "Output",
    "RequestSa",
    "RoleChanged",
    "Router",
    "RouterCore",
    "RouterEvent",
    "SendGratuitousArp",
    "SendHsrp",
    "SendIke",
    "SendLan",
    "SendOutsideClear",
    "SendUdp4500",
    "Side",
    "SspEvent",
    "SspLink",
    "SspOpen",
    "SspShut",
    "SspWrite",
    "Takeover",
]


class Side(enum.Enum):
    """Which interface of the document's topology."""

    # Members are singletons: hash by identity, in C (Enum's __hash__ is Python code).
    __hash__ = object.__hash__

    INSIDE = "inside"
    OUTSIDE = "outside"


class DeviceRole(enum.Enum):
    """SSP device role as ``show ssp redundancy`` prints it."""

    # Members are singletons: hash by identity, in C (Enum's __hash__ is Python code).
    __hash__ = object.__hash__

    ACTIVE = "ACTIVE"
    STANDBY = "STANDBY"
    INIT = "INIT"


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleChanged:
    """The device role changed."""

    at_ms: int
    """When, ms."""
    old: DeviceRole
    """The role left."""
    new: DeviceRole
    """The role entered."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupEvent:
    """An event of one of the router's HSRP speakers."""

    side: Side
    """Inside or outside group."""
    event: HsrpEvent
    """What the speaker reported."""


RouterEvent = RoleChanged | GroupEvent


class RouterCore:
    """The HSRP pair and the device role of one router (sans-IO)."""

    def __init__(
        self,
        config: RouterConfig,
        *,
        entropy: Entropy,
        now: int,
        hsrp_entropy: Entropy | None = None,
        clients_synchronised: Callable[[], bool] | None = None,
    ) -> None:
        """``hsrp_entropy`` draws the hello jitter (default: ``entropy``);
        ``clients_synchronised`` says whether SSP's client is synchronised, for the
        groups the SSP group names (``preempt delay sync``; None: no client)."""
        outside = config.outside_interface()
        inside = config.inside_interface()
        if outside is None or inside is None:
            msg = f"{config.hostname}: needs an inside and an outside HSRP interface"
            raise ConfigError([Diagnostic(source=config.source, line=0, command="", message=msg)])
        self._config = config
        self._interfaces = {Side.INSIDE: inside, Side.OUTSIDE: outside}
        self._names = {
            iface.standby_groups[0].name: side
            for side, iface in self._interfaces.items()
            if iface.standby_groups[0].name is not None
        }
        ssp = config.ssp_groups[0] if config.ssp_groups else None
        redundancy = ssp.redundancy_names if ssp is not None else ()
        with_client = {self._names[n] for n in redundancy if n in self._names}
        self._groups = {
            side: HsrpGroup(
                HsrpGroupConfig.from_standby(iface, iface.standby_groups[0]),
                entropy if hsrp_entropy is None else hsrp_entropy,
                clients_synchronised=clients_synchronised if side in with_client else None,
            )
            for side, iface in self._interfaces.items()
        }
        self._redundant: tuple[HsrpGroup, ...] = tuple(
            self._groups[self._names[n]] for n in redundancy if n in self._names
        )
        """The groups the device role follows (fixed by the configuration)."""
        self._up = {side: not iface.shutdown for side, iface in self._interfaces.items()}
        self._events: deque[RouterEvent] = deque()
        self._role = DeviceRole.INIT
        self._role_since = now
        for side, iface in self._interfaces.items():
            if self._up[side]:
                self._groups[side].enable_after(_ms(iface.standby_delay_reload_s), now)
        self._drain(now)

    # ------------------------------------------------------------- views

    @property
    def hostname(self) -> str:
        """The configured hostname."""
        return self._config.hostname

    @property
    def role(self) -> DeviceRole:
        """The SSP device role now."""
        return self._role

    @property
    def role_since_ms(self) -> int:
        """When the role last changed, ms."""
        return self._role_since

    def group(self, side: Side) -> HsrpGroup:
        """The HSRP speaker of ``side`` (read it; drive it through this core)."""
        return self._groups[side]

    def interface(self, side: Side) -> InterfaceConfig:
        """The configured interface of ``side``."""
        return self._interfaces[side]

    def interface_is_up(self, side: Side) -> bool:
        """Whether the interface of ``side`` is up."""
        return self._up[side]

    # --------------------------------------------------------- the core

    def receive_hsrp(self, side: Side, data: bytes, src: IPv4Address, now: int) -> None:
        """A UDP 1985 payload arrived on ``side``'s interface (dropped while it is down)."""
        if self._up[side]:
            self._groups[side].receive_datagram(data, src, now)
        self._drain(now)

    def handle_timer(self, now: int) -> None:
        """Fire every speaker whose deadline has come."""
        for group in self._groups.values():
            deadline = group.get_timer()
            if deadline is not None and deadline <= now:
                group.handle_timer(now)
        self._drain(now)

    def get_timer(self) -> int | None:
        """The earliest deadline of both speakers, ms."""
        earliest: int | None = None
        for group in self._groups.values():
            deadline = group.get_timer()
            if deadline is not None and (earliest is None or deadline < earliest):
                earliest = deadline
        return earliest

    def datagrams_to_send(self, now: int) -> list[tuple[Side, bytes]]:
        """HSRP payloads to send, with the interface each goes out of (none while down)."""
        out: list[tuple[Side, bytes]] = []
        for side, group in self._groups.items():
            payloads = group.datagrams_to_send(now)  # taken (and so dropped) even while down
            if payloads and self._up[side]:
                out += [(side, payload) for payload in payloads]
        return out

    def next_event(self) -> RouterEvent | None:
        """The next event, or None."""
        return self._events.popleft() if self._events else None

    # ---------------------------------------------------- administration

    def interface_down(self, side: Side, now: int) -> None:
        """The interface of ``side`` went down: disable its group, tell the trackers."""
        if not self._up[side]:
            return
        self._up[side] = False
        self._groups[side].disable(now)
        self._track(side, up=False, now=now)
        self._drain(now)

    def interface_up(self, side: Side, now: int) -> None:
        """The interface came back: restore trackers, enable after ``standby delay minimum``."""
        if self._up[side]:
            return
        self._up[side] = True
        self._track(side, up=True, now=now)
        delay = _ms(self._interfaces[side].standby_delay_minimum_s)
        self._groups[side].enable_after(delay, now)
        self._drain(now)

    # ---------------------------------------------------------- helpers

    def _track(self, side: Side, *, up: bool, now: int) -> None:
        name = self._interfaces[side].name
        for other in self._groups.values():
            other.set_tracked_interface(name, up, now)

    def _drain(self, now: int) -> None:
        for side, group in self._groups.items():
            while (event := group.next_event()) is not None:
                self._events.append(GroupEvent(side=side, event=event))
        role = self._compute_role()
        if role is not self._role:
            self._events.append(RoleChanged(at_ms=now, old=self._role, new=role))
            self._role = role
            self._role_since = now

    def _compute_role(self) -> DeviceRole:
        states = {group.state for group in self._redundant}
        if states == _ALL_ACTIVE:
            return DeviceRole.ACTIVE
        if states == _ALL_STANDBY:
            return DeviceRole.STANDBY
        return DeviceRole.INIT


_ALL_ACTIVE: Final = frozenset({HsrpState.ACTIVE})
"""The states of the redundancy groups when the device is ACTIVE (at least one, all Active)."""
_ALL_STANDBY: Final = frozenset({HsrpState.STANDBY})
"""The same for STANDBY."""


def _ms(seconds: int | None) -> int:
    return 0 if seconds is None else seconds * 1000


# =====================================================================================
# The whole router: HSRP pair + SSP connection + SA database + crypto engine + data path
# =====================================================================================

DEFAULT_SSP_HELLO_MS: Final = 1000
"""SSP keepalive interval when nothing else is said, ms."""
DEFAULT_SSP_DEAD_MS: Final = 3000
"""SSP dead interval, ms."""
DEFAULT_SSP_RETRY_MS: Final = 1000
"""Time between TCP connection attempts of the SSP client, ms."""
DEFAULT_LATENCY_ALLOWANCE_MS: Final = 100
"""One-way delivery allowance added to the copies' freshness window, ms."""

_WIRE_ROLES: Final = {
    DeviceRole.ACTIVE: WireRole.ACTIVE,
    DeviceRole.STANDBY: WireRole.STANDBY,
    DeviceRole.INIT: WireRole.NONE,
}
_ACKED: Final = (IpsecSaAdd, IkeSaAdd, CounterUpdate, SaDelete)

_HSRP_ACTIVE: Final = HsrpState.ACTIVE
"""Bound once: the data path asks per packet (a member lookup costs ~0.2 µs)."""

REKEY_LEAD_MS: Final = 30_000
"""With ``negotiate``, the ACTIVE router negotiates a new SA pair this long before a
pair's seconds lifetime ends (IOS's rule), so the new one is in use before the old one
expires."""

REKEY_VOLUME_TENTHS: Final = 9
"""... or once this many tenths of its kilobyte lifetime are used (or its outbound
sequence numbers are spent)."""


class SspLink(enum.Enum):
    """Where this router's SSP transport is (``show ssp peers`` Connection State)."""

    # Members are singletons: hash by identity, in C (Enum's __hash__ is Python code).
    __hash__ = object.__hash__

    DOWN = "Disconnected"
    CONNECTING = "Connecting"
    OPEN = "Connected"


@dataclass(frozen=True, slots=True, kw_only=True)
class SendHsrp:
    """Send an HSRP payload: UDP 1985 from the interface address to 224.0.0.2, TTL 1."""

    side: Side
    """The interface it leaves by."""
    src: IPv4Address
    """The interface's address."""
    payload: bytes
    """The 20-octet HSRP message."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendGratuitousArp:
    """Broadcast a gratuitous ARP for the virtual IP with the virtual MAC (RFC 2281 §6.1)."""

    side: Side
    """The interface it leaves by."""
    virtual_ip: IPv4Address
    """The address claimed."""
    virtual_mac: bytes
    """The 6-octet virtual MAC."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendUdp4500:
    """Send ESP in UDP (RFC 3948) from the outside virtual IP, port 4500, to the peer's 4500."""

    src: IPv4Address
    """The outside virtual IP."""
    dst: IPv4Address
    """The remote IPsec peer."""
    spi: int
    """SPI of the outbound SA."""
    seq: int
    """ESP sequence number."""
    payload: bytes
    """The ESP packet."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendIke:
    """Send an IKE datagram from the outside virtual IP (UDP 500, or 4500 after NAT-T)."""

    src_port: int
    """500 or 4500."""
    dst: IPv4Address
    """The remote IKE peer."""
    dst_port: int
    """The peer's port."""
    payload: bytes
    """The UDP payload (the ISAKMP message, after the non-ESP marker on 4500)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendOutsideClear:
    """Forward an unprotected IPv4 packet out of the outside interface."""

    ip_packet: bytes
    """The packet."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendLan:
    """Forward a decrypted IPv4 packet out of the inside interface."""

    ip_packet: bytes
    """The packet."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestSa:
    """IKE must negotiate an SA for this crypto map entry with this peer."""

    crypto_map: str
    """Crypto map tag."""
    crypto_map_seq: int
    """Entry sequence number."""
    peer: IPv4Address
    """The peer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SspOpen:
    """Open the SSP TCP connection (this router is the client)."""

    src: IPv4Address
    """Our SSP address."""
    dst: IPv4Address
    """The configured ``remote``."""
    port: int
    """The configured ``port``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SspWrite:
    """Write these octets to the SSP TCP connection."""

    data: bytes
    """The octets (whole frames or parts of them; TCP may cut them anywhere)."""
    connection: int
    """Which connection (:attr:`Router.ssp_connection_id` when it was made)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SspShut:
    """Close the SSP TCP connection (after writing what was queued)."""

    reason: str
    """Why."""
    connection: int
    """Which connection: a replaced one is shut after the new one exists."""


Output = (
    SendHsrp
    | SendGratuitousArp
    | SendUdp4500
    | SendIke
    | SendOutsideClear
    | SendLan
    | RequestSa
    | SspOpen
    | SspWrite
    | SspShut
)
"""Everything :meth:`Router.outputs` returns."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SspEvent:
    """Something the SSP connection reported (for logs and timelines)."""

    at_ms: int
    """When, ms."""
    event: SspConnEvent
    """The connection's event."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IkeReport:
    """Something the IKE engine reported (for logs, timelines and the lab's figures)."""

    event: IkeEvent
    """The engine's event (its ``at_ms`` says when)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Takeover:
    """The SA database took over (device role became ACTIVE)."""

    at_ms: int
    """When, ms."""
    report: TakeoverReport
    """Which copies were promoted and which discarded."""


Event = RouterEvent | SspEvent | Takeover | IkeReport
"""Everything :meth:`Router.next_event` returns."""


class Router:
    """One VPN head-end router, sans-IO (see the module docstring's second part below).

    Composition of :class:`RouterCore` (HSRP pair, device role), one SSP connection
    at a time, the :class:`~vpnha.impl.sadb.SaDatabase` with its crypto engine, and
    the :class:`~vpnha.impl.forward.Forwarder` over :class:`SadbSaTable`.

    **SSP transport.** The router whose SSP address (the address of its interface on
    the ``remote``'s subnet) is numerically lower is the TCP client: it asks for a
    connection (:class:`SspOpen`) whenever it has none, at most every ``retry``
    ms; the other accepts only connections from the configured ``remote``
    (:meth:`ssp_accept`). A new accepted connection replaces the old one (the peer
    restarted). The glue duties of the SA database are done here: its messages go
    out in order and each frame's sequence number is reported; after a connection
    is established and after leaving ACTIVE, its announcements go before our ROLE;
    after a takeover, ROLE(ACTIVE) asks for an answer; a ROLE that asks is
    answered; every verified frame counts as heard.

    **Device role → SA database.** Entering ACTIVE promotes the copies (the jump);
    leaving ACTIVE turns every SA into a stale copy. Each change is told to the
    other router by a ROLE message.

    Inputs: ``receive_hsrp``, ``receive_lan``, ``receive_udp4500`` (and their batch
    forms ``receive_lan_batch``, ``receive_udp4500_batch``: the same, cheaper per packet),
    ``ssp_connected`` / ``ssp_connect_failed`` (client), ``ssp_accept`` (server),
    ``ssp_receive``, ``ssp_lost``, ``handle_timer``; administration:
    ``interface_down`` / ``interface_up``, ``install_sa`` (IKE's result),
    ``delete_sa``. Outputs: ``outputs()`` after every input, ``get_timer()``,
    ``next_event()``.
    """

    def __init__(
        self,
        config: RouterConfig,
        *,
        entropy: Entropy,
        now: int,
        ssp_hello_ms: int = DEFAULT_SSP_HELLO_MS,
        ssp_dead_ms: int = DEFAULT_SSP_DEAD_MS,
        ssp_retry_ms: int = DEFAULT_SSP_RETRY_MS,
        latency_allowance_ms: int = DEFAULT_LATENCY_ALLOWANCE_MS,
        hsrp_entropy: Entropy | None = None,
        negotiate: bool = False,
        ike_replaced_grace_ms: int | None = DEFAULT_REPLACED_GRACE_MS,
    ) -> None:
        self._core = RouterCore(
            config,
            entropy=entropy,
            now=now,
            hsrp_entropy=hsrp_entropy,
            clients_synchronised=self._clients_synchronised,
        )
        self._config = config
        self._addresses: dict[Side, IPv4Address] = {}
        for side in Side:
            address = self._core.interface(side).address
            if address is None:
                raise _config_error(config, f"the {side.value} interface has no ip address")
            self._addresses[side] = address.ip
        self._entropy = entropy
        if not config.ssp_groups:
            raise _config_error(config, "needs an ssp group")
        self._ssp_group = config.ssp_groups[0]
        self._ssp_local = _ssp_address(config, self._ssp_group.remote)
        self._is_client = self._ssp_local < self._ssp_group.remote
        self._ssp_hello_ms = ssp_hello_ms
        self._ssp_dead_ms = ssp_dead_ms
        self._ssp_retry_ms = ssp_retry_ms
        self._ssp_key = (config.ssp_key or DEFAULT_SSP_KEY).encode()
        self._listener = SspListener(self._ssp_group.remote)
        self._conn: SspConnection | None = None
        self._conn_id = 0
        self._incarnation = entropy.randbelow(1 << 32)
        """Drawn at boot; the other router learns from a change that we forgot our SAs."""
        self._link = SspLink.DOWN
        self._retry_at: int | None = now if self._is_client else None
        self._attempt_at = now
        self._frames_seen = 0
        self._frame_seq = 0
        self._retired_counters: list[SspCounters] = []
        self._created_ms: int | None = None
        self._established_ms: int | None = None
        hold = max(self._core.group(side).config.hold_ms for side in Side)
        self._engine = CryptoEngine(config.crypto_card)
        self._db = SaDatabase(
            engine=self._engine,
            entropy=entropy,
            grace_ms=hold + ssp_hello_ms + latency_allowance_ms,
            replay_intervals=dict(config.crypto_map_ha),
        )
        self._table = SadbSaTable(self._db, entropy)
        # The core keeps its two speakers for life: the data path reads them directly.
        self._outside = outside = self._core.group(Side.OUTSIDE)
        inside = self._core.group(Side.INSIDE)
        self._forwarder = Forwarder(
            config,
            sa_table=self._table,
            outside_active=lambda: outside.state is _HSRP_ACTIVE,
            inside_active=lambda: inside.state is _HSRP_ACTIVE,
        )
        self._negotiate = negotiate
        self._rekeyed: set[int] = set()
        """Pairs (ids) whose replacement this router started negotiating."""
        self._reauthenticated: set[tuple[bytes, bytes]] = set()
        """IKE SAs (cookies) whose replacement this router started negotiating."""
        self._entropy = entropy
        self._ike_replaced_grace_ms = ike_replaced_grace_ms
        self._ike: IkeEngine | None = None
        """IKE runs on the outside virtual IP: from boot when it is configured, from the
        first Hello it is learned from otherwise (``standby N ip`` with no address)."""
        self._start_ike()
        self._outputs: list[Output] = []
        self._events: deque[Event] = deque()
        self._deadline: int | None = None
        self.debug = DebugLog()
        """``debug crypto isakmp ha``, ``debug crypto ipsec ha``, ``debug ssp``: the
        switches and the buffer of lines (``show logging``)."""
        self._now = now
        """The instant of the input being handled (debug lines carry it)."""
        self._after(now)

    def _clients_synchronised(self) -> bool:
        # ``preempt delay sync``: SSP's client (the SA database) holds the full copy.
        return self._db.synchronised

    # --- views -----------------------------------------------------------------------

    @property
    def config(self) -> RouterConfig:
        """The running configuration."""
        return self._config

    @property
    def hostname(self) -> str:
        """The configured hostname."""
        return self._config.hostname

    @property
    def core(self) -> RouterCore:
        """The HSRP pair and device role (read it; drive it through this router)."""
        return self._core

    @property
    def role(self) -> DeviceRole:
        """The SSP device role."""
        return self._core.role

    @property
    def sadb(self) -> SaDatabase:
        """The SA database (read it; drive it through this router)."""
        return self._db

    @property
    def engine(self) -> CryptoEngine:
        """The crypto engine (card) and its admission counters."""
        return self._engine

    @property
    def forwarder(self) -> Forwarder:
        """The data path and its counters."""
        return self._forwarder

    @property
    def sa_table(self) -> SadbSaTable:
        """The data path's view of the SA database."""
        return self._table

    @property
    def ssp_link(self) -> SspLink:
        """The SSP transport's state."""
        return self._link

    @property
    def ssp_connection(self) -> SspConnection | None:
        """The current SSP connection, if any."""
        return self._conn

    @property
    def ssp_connection_id(self) -> int:
        """Number of the current (or last) SSP connection, counted from 1 per boot."""
        return self._conn_id

    @property
    def ssp_listener(self) -> SspListener:
        """The server side's admission counters."""
        return self._listener

    @property
    def ssp_address(self) -> IPv4Address:
        """Our SSP address (the interface address on the remote's subnet)."""
        return self._ssp_local

    @property
    def ssp_is_client(self) -> bool:
        """Whether this router opens the SSP TCP connection."""
        return self._is_client

    @property
    def ssp_established_ms(self) -> int | None:
        """When the current SSP connection was established, ms; None when it is not."""
        return self._established_ms

    def ssp_counters(self) -> SspCounters | None:
        """The current (or last) connection's counters; None before the first."""
        if self._conn is not None:
            return self._conn.counters
        return self._retired_counters[-1] if self._retired_counters else None

    def outside_virtual_ip(self) -> IPv4Address | None:
        """The outside group's virtual IP."""
        return self._outside.virtual_ip

    # --- the sans-IO surface -----------------------------------------------------------

    def outputs(self) -> list[Output]:
        """Everything to send or do since the last call, in order."""
        out, self._outputs = self._outputs, []
        return out

    def next_event(self) -> Event | None:
        """The next event, or None."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> int | None:
        """The earliest deadline of every part, ms (computed after each input)."""
        return self._deadline

    def _compute_deadline(self) -> int | None:
        deadline = self._core.get_timer()
        for candidate in (
            self._db.get_timer(),
            self._retry_at,
            self._conn.get_timer() if self._conn is not None else None,
            self._ike.get_timer() if self._ike is not None else None,
            self._rekey_deadline(),
        ):
            if candidate is not None and (deadline is None or candidate < deadline):
                deadline = candidate
        return deadline

    def handle_timer(self, now: int) -> None:
        """Fire whatever is due at ``now``."""
        self._core.handle_timer(now)
        if self._conn is not None:
            deadline = self._conn.get_timer()
            if deadline is not None and deadline <= now:
                self._conn.handle_timer(now)
        deadline = self._db.get_timer()
        if deadline is not None and deadline <= now:
            self._announce_expiry(now)
            self._db.expire(now)
            self._table.forget_missing()
        self._rekey(now)
        if self._ike is not None:
            deadline = self._ike.get_timer()
            if deadline is not None and deadline <= now:
                self._ike.handle_timer(now)
                self._drain_ike(now)
        self._after(now)

    def receive_hsrp(self, side: Side, data: bytes, src: IPv4Address, now: int) -> None:
        """A UDP 1985 payload arrived on ``side``'s interface."""
        self._core.receive_hsrp(side, data, src, now)
        self._after(now)

    def receive_lan(self, ip_packet: bytes, now: int) -> None:
        """An IPv4 packet from the LAN to forward (clear or ESP)."""
        self._forward(self._forwarder.from_lan(ip_packet, now), now)
        self._after_traffic(now)

    def receive_lan_batch(self, ip_packets: Sequence[bytes], now: int) -> None:
        """``receive_lan(packet, now)`` for each packet, in order, at a lower cost per
        packet: the outputs, events, counters, SSP messages and deadline are those of the
        calls one by one (``Forwarder.from_lan_batch`` stops after any packet that needs
        more than encryption, or that left the SA database something to send; see
        ``receive_udp4500_batch`` for the deadline)."""
        outputs = self._outputs
        batch = self._forwarder.from_lan_batch
        pending = self._db.messages_pending
        sent: list[tuple[IPv4Address, int, int, bytes]] = []
        index = 0
        count = len(ip_packets)
        while index < count:
            index, actions = batch(ip_packets, index, now, sent=sent, stop=pending)
            vip = self._outside.virtual_ip
            if vip is not None:  # as _forward: no virtual IP, no ESP
                for peer, spi, seq, payload in sent:  # _send_udp4500, inlined
                    output = _new_record(SendUdp4500)
                    _set_udp_src(output, vip)
                    _set_udp_dst(output, peer)
                    _set_udp_spi(output, spi)
                    _set_udp_seq(output, seq)
                    _set_udp_payload(output, payload)
                    outputs.append(output)
            sent.clear()
            if actions:
                self._forward(actions, now)
            self._after_traffic(now)

    def receive_udp4500(self, payload: bytes, src: IPv4Address, now: int) -> None:
        """A UDP 4500 payload from ``src`` on the outside (ESP, IKE or a NAT keepalive)."""
        actions = self._forwarder.from_outside(payload, src, now)
        self._forward(actions, now)
        if actions and type(actions[0]) is DeliverIke:
            self._after(now)  # IKE may have armed a timer or changed the database
        else:
            self._after_traffic(now)

    def receive_udp4500_batch(
        self, payloads: Sequence[bytes], sources: Sequence[IPv4Address], now: int
    ) -> list[bytes]:
        """``receive_udp4500(payloads[i], sources[i], now)`` for each i, in order, at a
        lower cost per packet; returns the ESP payloads whose inner packet went to the
        LAN (the wire log's accepted packets), in order.

        The outputs, events, counters, SSP messages and deadline are those of the calls
        one by one: runs of ESP go through ``Forwarder.from_outside_batch``, which stops
        after any packet that left the SA database something to send (sent here before
        the next packet, as ``_after_traffic`` would), and anything else through
        ``receive_udp4500`` itself. The deadline is brought forward once per run: within
        a run the database's deadline can only come earlier (an SA spent), so its last
        value is the earliest.
        """
        if len(sources) != len(payloads):
            raise LocalProtocolError(
                f"{len(payloads)} payloads but {len(sources)} source addresses"
            )
        accepted: list[bytes] = []
        delivered: list[bytes] = []
        outputs = self._outputs
        batch = self._forwarder.from_outside_batch
        pending = self._db.messages_pending
        index = 0
        count = len(payloads)
        while index < count:
            stopped = batch(
                payloads, sources, index, now, delivered=delivered, accepted=accepted, stop=pending
            )
            if stopped == index:  # not ESP: the whole path (IKE, keepalive, invalid)
                self.receive_udp4500(payloads[index], sources[index], now)
                index += 1
                continue
            for ip_packet in delivered:  # _send_lan, inlined
                output = _new_record(SendLan)
                _set_lan_packet(output, ip_packet)
                outputs.append(output)
            delivered.clear()
            self._after_traffic(now)
            index = stopped
        return accepted

    def receive_ike(
        self, payload: bytes, src: IPv4Address, src_port: int, dst_port: int, now: int
    ) -> None:
        """A UDP datagram for the outside virtual IP's port 500 (or an IKE one for 4500)."""
        if self._ike is None:
            return
        vip = self._outside.virtual_ip
        assert vip is not None  # the engine exists only with one
        self._ike.receive(payload, src=(src, src_port), dst=(vip, dst_port), now=now)
        self._drain_ike(now)
        self._after(now)

    def send_dpd(self, now: int, cookies: tuple[bytes, bytes] | None = None) -> bool:
        """Send R-U-THERE on the IKE SA with these cookies, or on each ACTIVE one (False:
        none sent: no such SA, a probe still pending, or the number held back)."""
        if self._ike is None:
            return False
        sent = False
        for sa in self._db.ike_sas(HaStatus.ACTIVE):
            if cookies is None or sa.cookies == cookies:
                sent |= self._ike.send_dpd(sa.cookies, now)
        self._drain_ike(now)
        self._after(now)
        return sent

    @property
    def ike(self) -> IkeEngine | None:
        """The IKE engine (None when the outside interface has no virtual IP)."""
        return self._ike

    def interface_down(self, side: Side, now: int) -> None:
        """An interface went down (tracking, HSRP disable)."""
        self._core.interface_down(side, now)
        self._after(now)

    def interface_up(self, side: Side, now: int) -> None:
        """An interface came back up."""
        self._core.interface_up(side, now)
        self._after(now)

    def install_sa(self, params: NewIpsecSa, now: int) -> IpsecSaPair | Refusal:
        """IKE negotiated an SA pair (this router must be ACTIVE); the card may refuse it."""
        result = self._db.add_ipsec_pair(params, now)
        self._after(now)
        return result

    def delete_sa(self, sa_id: int, now: int) -> bool:
        """Delete SA pair ``sa_id`` (``clear crypto sa``); IKE tells the peer."""
        sa = self._db.ipsec_sa(sa_id)
        if sa is not None and self._ike is not None and self._db.is_active:
            self._ike.send_delete(PROTO_ESP, (sa.inbound_spi.to_bytes(4, "big"),), sa.peer, now)
            self._drain_ike(now)
        return self._delete_sa(sa_id, now)

    def _delete_sa(self, sa_id: int, now: int) -> bool:
        """Delete an SA pair (IKE delete or ``clear crypto sa``); False if unknown."""
        done = self._db.delete(sa_id, now)
        self._table.forget_missing()
        self._after(now)
        return done

    def set_priority(self, side: Side, priority: int, now: int) -> None:
        """``standby N priority P`` on ``side``'s interface (1-255)."""
        if not 1 <= priority <= 255:
            raise LocalProtocolError(f"standby priority {priority} out of range 1-255")
        self._core.group(side).set_priority(priority, now)
        self._after(now)

    def set_preempt(self, side: Side, preempt: bool, now: int) -> None:
        """``[no] standby N preempt`` on ``side``'s interface (the delay is kept)."""
        self._core.group(side).set_preempt(preempt, now)
        self._after(now)

    def request_resync(self, now: int, *, ike: bool = True) -> bool:
        """``clear crypto sa ha standby resync`` and (``ike``) ``clear crypto isakmp ha
        standby resync``: the standby's IPsec and IKE copies are cleared and the active
        is asked for both again; False (nothing done) on the ACTIVE router."""
        if self._db.is_active:
            return False
        self._db.request_resync(now)
        if ike:
            self._db.request_resync(now, Doi.IKE)
        self._after(now)
        return True

    # --- SSP transport -----------------------------------------------------------------

    def ssp_connected(self, now: int) -> None:
        """The TCP connection we opened (:class:`SspOpen`) is up."""
        if self._link is not SspLink.CONNECTING:
            return
        self._start_connection(now, is_client=True)
        self._after(now)

    def ssp_connect_failed(self, now: int) -> None:
        """The TCP connection we opened could not be made; retry later."""
        if self._link is SspLink.CONNECTING:
            self._link = SspLink.DOWN
            # Attempts keep a fixed period from the first, however long each took to fail.
            self._retry_at = max(now + 1, self._attempt_at + self._ssp_retry_ms)
        self._after(now)

    def ssp_accept(self, src: IPv4Address, now: int) -> bool:
        """A TCP connection arrived from ``src``: admit it (only from ``remote``) or refuse."""
        if self._is_client or not self._listener.offer(src, now):
            return False
        if self._conn is not None:
            self._end_connection(now, "replaced by a new connection from the peer")
        self._start_connection(now, is_client=False)
        self._after(now)
        return True

    def ssp_receive(self, data: bytes, now: int) -> None:
        """Octets from the SSP TCP connection; ``b""`` means the peer closed it."""
        if self._conn is None:
            return
        self._conn.receive_data(data, now)
        self._after(now)

    def ssp_lost(self, now: int) -> None:
        """The TCP connection broke (reset, error) without an orderly close."""
        if self._conn is None and self._link is not SspLink.CONNECTING:
            return
        if self._conn is None:
            self.ssp_connect_failed(now)
            return
        self._end_connection(now, "transport lost")
        self._after(now)

    # --- internals ---------------------------------------------------------------------

    def _start_connection(self, now: int, *, is_client: bool) -> None:
        conn = SspConnection(
            SspConfig(
                hostname=self._config.hostname,
                group_id=self._ssp_group.group_id,
                pre_shared_key=self._ssp_key,
                is_client=is_client,
                hello_interval_ms=self._ssp_hello_ms,
                dead_interval_ms=self._ssp_dead_ms,
                incarnation=self._incarnation,
            ),
            self._entropy,
        )
        self._conn = conn
        self._conn_id += 1
        self._link = SspLink.OPEN
        self._retry_at = None
        self._frames_seen = 0
        self._frame_seq = 0
        self._created_ms = now
        conn.start(now, role=_WIRE_ROLES[self._core.role])

    def _end_connection(self, now: int, reason: str) -> None:
        conn = self._conn
        if conn is None:
            return
        if not conn.closed:
            conn.close(reason)
        tail = conn.data_to_send()
        if tail:
            self._outputs.append(SspWrite(data=tail, connection=self._conn_id))
        self._outputs.append(SspShut(reason=reason, connection=self._conn_id))
        self._retired_counters[-1:] = [conn.counters]
        self._conn = None
        self._link = SspLink.DOWN
        self._established_ms = None
        if self._db.connected:
            self._db.ssp_disconnected(now)
        if self._is_client:
            self._retry_at = now + self._ssp_retry_ms

    def _send(self, message: Message) -> None:
        conn = self._conn
        if conn is None or not conn.established:
            return
        seq = conn.send(message, ack_requested=isinstance(message, _ACKED))
        self._db.note_sent(message, seq)
        if self.debug.any:
            self._debug_message(message, seq, sent=True)

    def _send_role(self, *, answer: bool) -> None:
        self._send(RoleChange(role=_WIRE_ROLES[self._core.role], answer_requested=answer))

    def _flush_db(self) -> None:
        if self._conn is None or not self._conn.established:
            # Nothing can go out; the database re-sends in full on the next connection.
            self._db.messages_to_send()
            return
        for message in self._db.messages_to_send():
            self._send(message)

    def _flush_ssp(self) -> None:
        """The database's queued messages, then every octet the connection has to write."""
        self._flush_db()
        if self._conn is not None:
            data = self._conn.data_to_send()
            if data:
                self._outputs.append(SspWrite(data=data, connection=self._conn_id))

    def _forward(self, actions: list[Action], now: int) -> None:
        for action in actions:
            if isinstance(action, SendEsp):
                vip = self._outside.virtual_ip
                if vip is None:
                    continue
                self._outputs.append(
                    _send_udp4500(vip, action.peer, action.spi, action.seq, action.udp_payload)
                )
            elif isinstance(action, SendClear):
                self._outputs.append(SendOutsideClear(ip_packet=action.ip_packet))
            elif isinstance(action, DeliverLan):
                self._outputs.append(_send_lan(action.ip_packet))
            elif isinstance(action, NeedSa):
                if self._negotiate and self._ike is not None:
                    # Only the ACTIVE router negotiates: one that is taking over (role
                    # INIT, copies not yet promoted) would give the peer an IKE SA that
                    # it cannot keep, and the peer would replace the replicated one.
                    if self._db.is_active and self._ike.initiate(action.peer, now):
                        self._drain_ike(now)
                    continue
                self._outputs.append(
                    RequestSa(
                        crypto_map=action.entry.name,
                        crypto_map_seq=action.entry.seq,
                        peer=action.peer,
                    )
                )
            elif isinstance(action, DeliverIke) and self._ike is not None:
                vip = self._outside.virtual_ip
                assert vip is not None
                self._ike.receive(
                    NON_ESP_MARKER + action.ike_message,
                    src=(action.src, NAT_T_PORT),
                    dst=(vip, NAT_T_PORT),
                    now=now,
                )
                self._drain_ike(now)

    def _drain_ike(self, now: int) -> None:
        """Send what the IKE engine queued; install and delete what it negotiated."""
        engine = self._ike
        if engine is None:
            return
        for datagram in engine.datagrams_to_send():
            self._outputs.append(
                SendIke(
                    src_port=datagram.src[1],
                    dst=datagram.dst[0],
                    dst_port=datagram.dst[1],
                    payload=datagram.payload,
                )
            )
        while (event := engine.next_event()) is not None:
            self._events.append(IkeReport(event=event))
            if self.debug.any:
                self.debug.emit(now, *describe_ike_event(event))
            if isinstance(event, IpsecSaNegotiated) and self._db.is_active:
                self._db.add_ipsec_pair(event.params, now)
            elif isinstance(event, IkeSaRetired) and event.reason == "initial-contact":
                # The peer started afresh (its Main Mode said INITIAL-CONTACT, and Quick
                # Mode follows Main Mode): every pair it had with us is gone on its side.
                for sa in self._db.ipsec_sas(HaStatus.ACTIVE):
                    if sa.peer == event.peer:
                        self._delete_sa(sa.sa_id, now)
            elif isinstance(event, PeerDeleted) and event.protocol == PROTO_ESP:
                spis = {int.from_bytes(spi, "big") for spi in event.spis}
                for sa in self._db.ipsec_sas(HaStatus.ACTIVE):
                    if sa.inbound_spi in spis or sa.outbound_spi in spis:
                        self._delete_sa(sa.sa_id, now)

    # --- lifetimes (with ``negotiate``: this router runs IKE as an initiator too) ----------

    def _rekey_deadline(self) -> int | None:
        """When the next pair comes due for a rekey (None: none, or not negotiating)."""
        if not (self._negotiate and self._ike is not None and self._db.is_active):
            return None
        due = [
            sa.expiry_ms - REKEY_LEAD_MS
            for sa in self._db.ipsec_sas(HaStatus.ACTIVE)
            if sa.sa_id not in self._rekeyed
        ]
        due += [ike.expiry_ms - REKEY_LEAD_MS for ike in self._ike_to_replace()]
        return min(due, default=None)

    def _ike_to_replace(self) -> list[IkeSa]:
        """ACTIVE IKE SAs still carrying pairs, the newest with their peer, not yet replaced.

        IKEv1 does not tie the pairs to the IKE SA, but a peer may: strongSwan 5.9 deletes
        every CHILD SA of an IKE SA whose ISAKMP Delete it receives (isakmp_delete.c), and
        adopts them into a new IKE SA with the same peer ("detected reauth of existing
        IKE_SA"). So an IKE SA is replaced (a new Main Mode) before its lifetime ends, and
        the peer deletes the old one; its ISAKMP Delete at the end is left for IKE SAs
        without pairs.
        """
        pairs = self._db.ipsec_sas(HaStatus.ACTIVE)
        sas = self._db.ike_sas(HaStatus.ACTIVE)
        return [
            ike
            for ike in sas
            if ike.cookies not in self._reauthenticated
            and any(sa.peer == ike.peer for sa in pairs)
            and not any(o.peer == ike.peer and o.expiry_ms > ike.expiry_ms for o in sas)
        ]

    def _rekey_due(self, sa: IpsecSaPair, now: int) -> bool:
        if sa.rekey_needed or now >= sa.expiry_ms - REKEY_LEAD_MS:
            return True
        volume = sa.lifetime_kilobytes * 1024
        return volume > 0 and 10 * sa.bytes_used >= REKEY_VOLUME_TENTHS * volume

    def _rekey(self, now: int) -> None:
        """Negotiate the replacement of each ACTIVE pair that is due (once per pair).

        A pair that already has a younger one for the same entry and peer (the peer
        rekeyed first) needs none. The data path moves to the new pair as soon as it is
        installed (it prefers the pair that lives longest); the old one expires.
        """
        if not (self._negotiate and self._ike is not None and self._db.is_active):
            return
        pairs = self._db.ipsec_sas(HaStatus.ACTIVE)
        self._rekeyed.intersection_update(sa.sa_id for sa in pairs)
        for sa in pairs:
            if sa.sa_id in self._rekeyed or not self._rekey_due(sa, now):
                continue
            self._rekeyed.add(sa.sa_id)
            replaced = any(
                other.expiry_ms > sa.expiry_ms
                and (other.crypto_map, other.crypto_map_seq, other.peer)
                == (sa.crypto_map, sa.crypto_map_seq, sa.peer)
                for other in pairs
            )
            if not replaced and self._ike.initiate(sa.peer, now):
                self._drain_ike(now)
        current = self._db.ike_sas(HaStatus.ACTIVE)
        self._reauthenticated.intersection_update(ike.cookies for ike in current)
        for ike in self._ike_to_replace():
            if now < ike.expiry_ms - REKEY_LEAD_MS:
                continue
            self._reauthenticated.add(ike.cookies)
            if self._ike.start_main_mode(ike.peer, now, then_quick=False):
                self._drain_ike(now)

    def _announce_expiry(self, now: int) -> None:
        """Tell the peer about the ACTIVE SAs whose lifetime ends now (before the database
        drops them): an ESP Delete for each pair, then an ISAKMP Delete for each IKE SA."""
        if not (self._negotiate and self._ike is not None and self._db.is_active):
            return
        for sa in self._db.ipsec_sas(HaStatus.ACTIVE):
            if sa.expiry_ms <= now or sa.spent:
                spi = sa.inbound_spi.to_bytes(4, "big")
                self._ike.send_delete(PROTO_ESP, (spi,), sa.peer, now)
        for ike in self._db.ike_sas(HaStatus.ACTIVE):
            if ike.expiry_ms <= now:
                self._ike.retire(ike.cookies, now, reason="expired")
        self._drain_ike(now)

    def _debug_message(self, message: Message, seq: int, *, sent: bool) -> None:
        verb = "sent" if sent else "received"
        self.debug.emit(self._now, Facility.SSP, "packet", f"{verb} {message.TYPE.name} {seq}")
        described = describe_ssp_message(message)
        if described is not None:
            facility, option, text = described
            self.debug.emit(self._now, facility, option, f"{verb}: {text}")

    def _debug_takeover(self, report: TakeoverReport, now: int) -> None:
        self.debug.emit(
            now,
            Facility.ISAKMP_HA,
            BASIC,
            f"takeover: {len(report.promoted_ike)} IKE SA copies promoted, "
            f"{len(report.discarded_ike)} discarded",
        )
        self.debug.emit(
            now,
            Facility.IPSEC_HA,
            BASIC,
            f"takeover: {len(report.promoted_ipsec)} SA pair copies promoted with the jump, "
            f"{len(report.discarded_ipsec)} discarded, {len(report.expired_ipsec)} spent",
        )

    def _start_ike(self) -> None:
        """Create the IKE engine once the outside virtual IP is known. A learned address
        that HSRP forgets (its interface went down) is learned again from the same
        group, so the engine, bound to it, stays."""
        vip = self._outside.virtual_ip
        if self._ike is None and vip is not None:
            self._ike = IkeEngine(
                self._config,
                self._entropy,
                SadbIkeStore(self._db),
                local_address=vip,
                replaced_grace_ms=self._ike_replaced_grace_ms,
            )

    def _after(self, now: int) -> None:
        """Drain every part's events, run the glue, collect the outputs."""
        self._now = now
        for _ in range(64):  # each pass may cause another part to report something
            progressed = self._drain_core(now)
            progressed |= self._drain_ssp(now)
            if not progressed:
                break
        if self._ike is None:
            self._start_ike()
        self._flush_ssp()
        if self._is_client and self._link is SspLink.DOWN:
            if self._retry_at is None:
                self._retry_at = now + self._ssp_retry_ms
            if self._retry_at <= now:
                self._link = SspLink.CONNECTING
                self._attempt_at = now
                self._retry_at = None
                self._outputs.append(
                    SspOpen(
                        src=self._ssp_local, dst=self._ssp_group.remote, port=self._ssp_group.port
                    )
                )
        for side, payload in self._core.datagrams_to_send(now):
            self._outputs.append(SendHsrp(side=side, src=self._addresses[side], payload=payload))
        self._deadline = self._compute_deadline()

    def _after_traffic(self, now: int) -> None:
        """The data path touched only the SA database: send its updates, re-read its timer.

        Traffic changes no HSRP or SSP connection state, so the full ``_after`` pass is
        not needed; the database may have queued counter updates and a spent SA may
        have brought its deadline forward. Every other input flushes the connection
        before it returns, so only what the database queues now can be waiting in it.
        """
        messages = self._db.messages_to_send()
        if messages:
            self._now = now
            conn = self._conn
            if conn is not None and conn.established:
                for message in messages:
                    self._send(message)
                data = conn.data_to_send()
                if data:
                    self._outputs.append(SspWrite(data=data, connection=self._conn_id))
        db_deadline = self._db.get_timer()
        if db_deadline is not None and (self._deadline is None or db_deadline < self._deadline):
            self._deadline = db_deadline

    def _drain_core(self, now: int) -> bool:
        progressed = False
        while (event := self._core.next_event()) is not None:
            progressed = True
            self._events.append(event)
            if isinstance(event, GroupEvent) and isinstance(event.event, GratuitousArpNeeded):
                self._outputs.append(
                    SendGratuitousArp(
                        side=event.side,
                        virtual_ip=event.event.virtual_ip,
                        virtual_mac=event.event.virtual_mac,
                    )
                )
            elif isinstance(event, RoleChanged):
                self._on_role(event, now)
        return progressed

    def _on_role(self, event: RoleChanged, now: int) -> None:
        if self.debug.any:
            change = f"device role {event.old.name} -> {event.new.name}"
            for facility in (Facility.ISAKMP_HA, Facility.IPSEC_HA):
                self.debug.emit(now, facility, "fsm", change)
            self.debug.emit(now, Facility.SSP, "redundancy", change)
        if event.new is DeviceRole.ACTIVE:
            report = self._db.become_active(now)
            if self.debug.any:
                self._debug_takeover(report, now)
            if self._ike is not None:
                # A re-authentication's grace timer ran in the old active's engine.
                peers = {sa.peer for sa in self._db.ike_sas(HaStatus.ACTIVE)}
                self._ike.retire_replaced(peers, now)
            self._table.forget_missing()
            self._events.append(Takeover(at_ms=now, report=report))
            self._flush_db()
            self._send_role(answer=True)
        elif event.old is DeviceRole.ACTIVE:
            self._db.leave_active(now)
            self._flush_db()
            self._send_role(answer=False)
        else:
            self._send_role(answer=False)

    def _drain_ssp(self, now: int) -> bool:
        conn = self._conn
        if conn is None:
            return False
        progressed = False
        frames = conn.frames_received
        if frames != self._frames_seen:
            self._frames_seen = frames
            if self._db.connected:
                self._db.ssp_heard(now)
        while (event := conn.next_event()) is not None:
            progressed = True
            self._events.append(SspEvent(at_ms=now, event=event))
            if isinstance(event, Established):
                self.debug.emit(
                    now,
                    Facility.SSP,
                    "peers",
                    f"connection {self._conn_id} to {event.peer_hostname} established "
                    f"(its role {event.peer_role.name})",
                )
                self._established_ms = now
                self._db.ssp_connected(now, peer_incarnation=conn.peer_incarnation)
                self._flush_db()
                self._send_role(answer=False)
            elif isinstance(event, MessageReceived):
                if self.debug.any:
                    self._debug_message(event.message, event.seq, sent=False)
                self._db.handle_ssp_message(event.message, event.seq, now)
                if isinstance(event.message, RoleChange) and event.message.answer_requested:
                    self._flush_db()
                    self._send_role(answer=False)
                self._flush_db()
            elif isinstance(event, Closed):
                self.debug.emit(
                    now, Facility.SSP, "peers", f"connection {self._conn_id} closed: {event.reason}"
                )
                self._end_connection(now, event.reason)
                return True
        return progressed


_new_record = object.__new__
_set_udp_src, _set_udp_dst, _set_udp_spi, _set_udp_seq, _set_udp_payload = slot_setters(
    SendUdp4500, "src", "dst", "spi", "seq", "payload"
)
(_set_lan_packet,) = slot_setters(SendLan, "ip_packet")


def _send_udp4500(
    src: IPv4Address, dst: IPv4Address, spi: int, seq: int, payload: bytes
) -> SendUdp4500:
    """``SendUdp4500(src=..., dst=..., spi=..., seq=..., payload=...)``, built per packet."""
    output: SendUdp4500 = _new_record(SendUdp4500)
    _set_udp_src(output, src)
    _set_udp_dst(output, dst)
    _set_udp_spi(output, spi)
    _set_udp_seq(output, seq)
    _set_udp_payload(output, payload)
    return output


def _send_lan(ip_packet: bytes) -> SendLan:
    """``SendLan(ip_packet=...)``, built per packet."""
    output: SendLan = _new_record(SendLan)
    _set_lan_packet(output, ip_packet)
    return output


def _config_error(config: RouterConfig, message: str) -> ConfigError:
    return ConfigError(
        [
            Diagnostic(
                source=config.source, line=0, command="", message=f"{config.hostname}: {message}"
            )
        ]
    )


def _ssp_address(config: RouterConfig, remote: IPv4Address) -> IPv4Address:
    for iface in config.interfaces:
        address = iface.address
        if address is not None and remote in address.network and address.ip != remote:
            return address.ip
    raise _config_error(config, f"no interface address on the subnet of ssp remote {remote}")
