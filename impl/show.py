"""The product document's ``show`` commands, rendered from small frozen views.

Theory of operation
-------------------
Every renderer here is a pure function: it takes view dataclasses (or, for the
commands that only describe configuration, a :class:`RouterConfig`) and returns the
text the document shows, ending in a newline. Nothing reads a clock: a "since"
instant arrives as wall-clock milliseconds since the Unix epoch and is printed in
UTC in the document's layout (``13:00:16 UTC Tue Oct 1 2002``); a duration arrives
as milliseconds. The router composition fills the views from its live state; tests
fill them with the document's sample values.

Layouts follow the document's samples. Like IOS, a table's heading is a fixed
string and its rows are formatted separately, so that both match the samples
column for column where the document is self-consistent. Where the document is not
(whitespace lost at page breaks, ``pcg``/``pcsp`` for ``pcp``, ``= {Tunnel, }`` /
``=(Tunnel, )`` for ``={Tunnel, }``) the clean form is used; the unit tests list
every such correction.

:func:`render` is the command line: it parses ``show ...`` words with IOS
abbreviations (``sh ssp pe``), asks a :class:`ShowProvider` for the views it needs
and returns the text. Input that does not parse comes back as IOS-style error text
(``% Invalid input detected at '^' marker.`` with the unknown word named,
``% Ambiguous command``, ``% Incomplete command.``), never as an exception.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, IPv4Network
from types import MappingProxyType
from typing import Final, Literal, Protocol

from vpnha.impl.config.acl import PROTOCOL_NUMBERS, AccessList, AclEntry, AddressMatch
from vpnha.impl.config.crypto import CryptoCard, TransformMode, TransformSet
from vpnha.impl.config.errors import CommandError
from vpnha.impl.config.schema import (
    CryptoMapEntry,
    InterfaceConfig,
    IsakmpPolicy,
    RouterConfig,
)
from vpnha.impl.config.values import canonical_interface_name, take_interface_name

__all__ = [
    "SSP_CLIENTS",
    "DeviceRoleName",
    "HaManagerState",
    "HsrpStateName",
    "IkeSaStatus",
    "IkeSaView",
    "IkeStateName",
    "IpsecCounters",
    "IpsecFlowView",
    "IpsecHaRow",
    "IpsecInterfaceView",
    "IpsecSaView",
    "IsakmpHaRow",
    "IsakmpSspRow",
    "ProxyIdent",
    "SaDirection",
    "SaHaStatus",
    "SaProtocol",
    "ShowCommand",
    "ShowProvider",
    "ShowSyntaxError",
    "SspClientRow",
    "SspPacketView",
    "SspPeerRow",
    "SspPeerState",
    "SspRedundancyRow",
    "SspRedundancyView",
    "StandbyBriefRow",
    "format_duration",
    "format_since",
    "format_time_of_day",
    "parse_show_command",
    "preemption_line",
    "render",
    "show_crypto_ipsec_ha",
    "show_crypto_ipsec_sa",
    "show_crypto_ipsec_sa_addr",
    "show_crypto_ipsec_transform_set",
    "show_crypto_isakmp_ha",
    "show_crypto_isakmp_ha_sas",
    "show_crypto_isakmp_policy",
    "show_crypto_isakmp_sa",
    "show_crypto_isakmp_ssp",
    "show_crypto_map",
    "show_ssp",
    "show_ssp_client",
    "show_ssp_packet",
    "show_ssp_peers",
    "show_ssp_redundancy",
    "show_standby",
    "show_standby_brief",
    "transform_display_name",
    "virtual_mac_text",
]

HsrpStateName = Literal["Init", "Learn", "Listen", "Speak", "Standby", "Active"]
"""HSRP states as ``show standby brief`` spells them (RFC 2281 §5.3)."""
SspPeerState = Literal["Connected", "Connecting", "Not Connected"]
"""``show ssp peers`` connection state (the document shows Connected)."""
DeviceRoleName = Literal["ACTIVE", "STANDBY", "INIT"]
"""SSP device role: INIT while the redundancy groups are neither all Active nor all Standby."""
HaManagerState = Literal["Active", "Standby", "Init"]
"""HA manager state in ``show crypto ipsec ha`` / ``show crypto isakmp ha``."""
IkeStateName = Literal[
    "MM_NO_STATE",
    "MM_SA_SETUP",
    "MM_KEY_EXCH",
    "MM_KEY_AUTH",
    "AG_NO_STATE",
    "AG_INIT_EXCH",
    "AG_AUTH",
    "QM_IDLE",
]
"""Cisco ISAKMP SA states (protocols.md §6.5)."""
IkeSaStatus = Literal["ACTIVE", "STDBY"]
"""``show crypto isakmp sa`` status: in use, or the standby's dormant copy."""
SaHaStatus = Literal["ACTIVE", "STANDBY"]
"""``HA Status:`` of an IPsec SA."""
SaDirection = Literal["inbound", "outbound"]
"""Direction of an IPsec SA."""
SaProtocol = Literal["esp", "ah", "pcp"]
"""Security protocol of an IPsec SA (pcp: IP payload compression)."""


# -- views --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StandbyBriefRow:
    """One HSRP group in ``show standby brief``."""

    interface: str
    """Interface name, canonical (FastEthernet0/0); shown abbreviated (FA 0/0)."""
    group: int
    """HSRP group number 0-255."""
    priority: int
    """Current priority 1-255 (after tracking decrements)."""
    preempt: bool = False
    """Preempt configured: shown as P in the p column."""
    state: HsrpStateName
    """Local HSRP state."""
    active_router: IPv4Address | None = None
    """The active router's address when it is not us; None = unknown."""
    standby_router: IPv4Address | None = None
    """The standby router's address when it is not us; None = unknown."""
    virtual_ip: IPv4Address | None = None
    """The group (virtual) address; None = not known yet."""
    preempt_delay_minimum_s: int = 0
    """``preempt delay minimum``, seconds 0-3600 (``show standby``)."""
    preempt_delay_reload_s: int = 0
    """``preempt delay reload``, seconds 0-3600; 0 = not set."""
    preempt_delay_sync_s: int = 0
    """``preempt delay sync``, seconds 0-3600; 0 = not set."""
    configured_priority: int | None = None
    """The configured priority 1-255 (before tracking); None = same as ``priority``."""
    hello_ms: int | None = None
    """Hello time, ms; None = not known (``show standby`` leaves the line out)."""
    hold_ms: int | None = None
    """Hold time, ms; None = not known."""
    name: str | None = None
    """``standby N name``: the IP redundancy name; None = not configured."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SspClientRow:
    """One registered SSP client in ``show ssp client``."""

    doi: int
    """Domain of interpretation: 1 IPsec HA Manager, 2 IKE HA Manager."""
    name: str
    """Client name."""
    version: str
    """Available version, e.g. 1.0."""
    running_version: str
    """Running version, e.g. 1.0."""


SSP_CLIENTS: Final = (
    SspClientRow(doi=1, name="IPsec HA Manager", version="1.0", running_version="1.0"),
    SspClientRow(doi=2, name="IKE HA Manager", version="1.0", running_version="1.0"),
)
"""The two SSP clients (the document's ``show ssp client``; DESIGN §4)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SspPacketView:
    """``show ssp packet``: the current SSP socket's counters."""

    socket_created_epoch_ms: int | None
    """Wall-clock creation time of the socket, ms since the Unix epoch; None = no socket."""
    local_port: int
    """Our TCP port, 0-65535."""
    server_port: int
    """The SSP server port, 1024-49150 (default 3249)."""
    packets_sent: int = 0
    """Frames sent on this socket."""
    bytes_sent: int = 0
    """Octets sent on this socket."""
    packets_received: int = 0
    """Frames received and accepted on this socket."""
    bytes_received: int = 0
    """Octets received on this socket."""
    drops: tuple[tuple[str, int], ...] = ()
    """Dropped frames by reason, e.g. ("authentication failed", 2); shown when any."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SspPeerRow:
    """One SSP peer in ``show ssp peers``."""

    address: IPv4Address
    """The peer's address (the configured ``remote``)."""
    state: SspPeerState
    """Connection state."""
    local_interface: str
    """Interface the connection uses, canonical name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SspRedundancyRow:
    """One redundancy group the SSP device role follows."""

    virtual_ip: IPv4Address | None
    """The HSRP group's virtual IP; None = not known yet."""
    name: str
    """The redundancy (HSRP group) name."""
    interface: str
    """Interface of the HSRP group, canonical name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SspRedundancyView:
    """``show ssp redundancy``: the device role and the groups it follows."""

    role: DeviceRoleName
    """The SSP device role."""
    role_duration_ms: int
    """Time since the role last changed, ms."""
    groups: tuple[SspRedundancyRow, ...] = ()
    """Redundancy groups in configuration order."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IpsecHaRow:
    """One HA-enabled interface in ``show crypto ipsec ha``."""

    interface: str
    """Interface with ``crypto map NAME ssp ID``, canonical name."""
    virtual_ip: IPv4Address | None
    """The interface's HSRP virtual IP; None = not known yet."""
    sa_count: int
    """IPsec SAs held for this interface (active or standby)."""
    state: HaManagerState
    """IPsec HA manager state."""
    since_epoch_ms: int
    """When the state was entered, wall-clock ms since the Unix epoch."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IsakmpHaRow:
    """One virtual IP in ``show crypto isakmp ha``."""

    virtual_ip: IPv4Address | None
    """The virtual IP the IKE SAs belong to; None = not known yet."""
    sa_count: int
    """IKE SAs held for it."""
    stamp: int
    """The HA stamp, 32-bit, shown as 8 hex digits."""
    state: HaManagerState
    """IKE HA manager state."""
    since_epoch_ms: int
    """When the state was entered, wall-clock ms since the Unix epoch."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IkeSaView:
    """One IKE (ISAKMP) SA, for ``show crypto isakmp sa`` and ``... ha standby``."""

    dst: IPv4Address
    """Destination of the SA's first exchange (the responder)."""
    src: IPv4Address
    """Source of the SA's first exchange (the initiator)."""
    state: IkeStateName
    """ISAKMP SA state."""
    i_cookie: bytes
    """Initiator cookie, 8 octets."""
    r_cookie: bytes
    """Responder cookie, 8 octets."""
    conn_id: int
    """Connection id."""
    slot: int = 0
    """Crypto engine slot (0)."""
    status: IkeSaStatus
    """ACTIVE, or STDBY for the standby's dormant copy."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IsakmpSspRow:
    """One virtual IP in ``show crypto isakmp ssp`` (counters since the last resync)."""

    virtual_ip: IPv4Address | None
    """The virtual IP; None = not known yet."""
    adds: int = 0
    """IKE SA adds replicated."""
    deletes: int = 0
    """IKE SA deletes replicated."""
    requests: int = 0
    """Resync requests."""
    replies: int = 0
    """Resync replies."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyIdent:
    """A proxy identity (``local ident`` / ``remote ident``)."""

    network: IPv4Network
    """Address and mask."""
    protocol: int = 0
    """IP protocol 0-255 (0 = any)."""
    port: int = 0
    """Port 0-65535 (0 = any)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IpsecSaView:
    """One IPsec SA in ``show crypto ipsec sa``."""

    direction: SaDirection
    """inbound or outbound."""
    protocol: SaProtocol
    """esp, ah or pcp."""
    spi: int
    """SPI (or CPI for pcp), 32-bit."""
    transforms: tuple[str, ...]
    """Transforms in configuration spelling (``esp-aes 256``, ``esp-sha-hmac``)."""
    mode: TransformMode = "tunnel"
    """tunnel or transport."""
    slot: int = 0
    """Crypto engine slot (0)."""
    conn_id: int
    """Connection id."""
    flow_id: int
    """Flow id."""
    crypto_map: str
    """Crypto map tag the SA was made for."""
    remaining_kilobytes: int
    """Kilobytes left before the volume lifetime expires."""
    remaining_lifetime_ms: int
    """Time left before the lifetime expires, ms (shown in whole seconds)."""
    iv_size_bytes: int | None = None
    """IV size of the ESP cipher in octets; None = no IV line (AH, pcp)."""
    replay_detection: bool = True
    """Anti-replay checking is on (the SA authenticates)."""
    ha_status: SaHaStatus | None = None
    """HA Status; None when the interface has no IPsec HA (line omitted)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IpsecCounters:
    """A flow's packet counters (``#pkts ...``); the last group only with ``detail``."""

    encaps: int = 0
    """Packets encapsulated."""
    encrypt: int = 0
    """Packets encrypted."""
    digest: int = 0
    """Packets given an integrity check value."""
    decaps: int = 0
    """Packets decapsulated."""
    decrypt: int = 0
    """Packets decrypted."""
    verify: int = 0
    """Packets whose integrity check value verified."""
    compressed: int = 0
    """Packets compressed."""
    decompressed: int = 0
    """Packets decompressed."""
    not_compressed: int = 0
    """Packets sent uncompressed (compression would not help)."""
    compr_failed: int = 0
    """Compression failures."""
    decompress_failed: int = 0
    """Decompression failures."""
    send_errors: int = 0
    """Packets that could not be sent (all send-side failures)."""
    recv_errors: int = 0
    """Packets dropped on receipt (all receive-side failures)."""
    no_sa_send: int = 0
    """detail: outbound packets that matched a permit but had no SA."""
    invalid_sa_recv: int = 0
    """detail: inbound packets for an unknown SPI."""
    encaps_failed: int = 0
    """detail: encapsulation failures."""
    decaps_failed: int = 0
    """detail: decapsulation failures."""
    verify_failed: int = 0
    """detail: integrity check failures (authentication failures)."""
    invalid_len: int = 0
    """detail: inbound packets with an impossible length."""
    replay_rollover_send: int = 0
    """detail: outbound packets refused because the sequence number would wrap."""
    replay_failed: int = 0
    """detail: inbound packets rejected by the anti-replay window."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IpsecFlowView:
    """One protected flow (proxy identity pair) with its counters and SAs."""

    local_ident: ProxyIdent
    """Local proxy identity."""
    remote_ident: ProxyIdent
    """Remote proxy identity."""
    current_peer: IPv4Address
    """The IPsec peer."""
    flags: tuple[str, ...] = ()
    """Flow flags, e.g. ("origin_is_acl",)."""
    counters: IpsecCounters = IpsecCounters()
    """Packet counters."""
    local_endpoint: IPv4Address
    """Local crypto endpoint (the virtual IP on an HA pair)."""
    remote_endpoint: IPv4Address
    """Remote crypto endpoint."""
    path_mtu: int = 1500
    """Path MTU, octets."""
    media_mtu: int = 1500
    """Interface MTU, octets."""
    current_outbound_spi: int = 0
    """SPI of the outbound SA in use, 32-bit (0 = none)."""
    sas: tuple[IpsecSaView, ...] = ()
    """The flow's SAs, any order (shown grouped by direction and protocol)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IpsecInterfaceView:
    """One interface with a crypto map in ``show crypto ipsec sa``."""

    interface: str
    """Interface name, canonical."""
    crypto_map: str
    """Crypto map tag applied to it."""
    local_address: IPv4Address
    """Local address of the map (the virtual IP on an HA pair)."""
    flows: tuple[IpsecFlowView, ...] = ()
    """Protected flows in creation order."""


# -- time ---------------------------------------------------------------------------------

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_DAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
_SECONDS_PER_DAY: Final = 86400
_DAYS_PER_WEEK: Final = 7


def _instant(epoch_ms: int) -> datetime | None:
    try:
        return _EPOCH + timedelta(milliseconds=epoch_ms)
    except OverflowError:
        return None


def format_since(epoch_ms: int) -> str:
    """Wall-clock ms since the epoch as the document's ``13:00:16 UTC Tue Oct 1 2002``."""
    moment = _instant(epoch_ms)
    if moment is None:
        return f"{epoch_ms} ms after 1970"
    return (
        f"{moment:%H:%M:%S} UTC {_DAYS[moment.weekday()]} {_MONTHS[moment.month - 1]} "
        f"{moment.day} {moment.year}"
    )


def format_time_of_day(epoch_ms: int) -> str:
    """Wall-clock ms since the epoch as the UTC time of day, ``01:01:06``."""
    moment = _instant(epoch_ms)
    if moment is None:
        return f"{epoch_ms} ms after 1970"
    return f"{moment:%H:%M:%S}"


def format_duration(duration_ms: int) -> str:
    """A duration as IOS shows elapsed time: ``02:55:34``, ``1d02h``, ``3w2d``."""
    seconds = max(0, duration_ms) // 1000
    if seconds < _SECONDS_PER_DAY:
        hours, rest = divmod(seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        return f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    days, rest = divmod(seconds, _SECONDS_PER_DAY)
    if days < _DAYS_PER_WEEK:
        return f"{days}d{rest // 3600:02d}h"
    weeks, days = divmod(days, _DAYS_PER_WEEK)
    return f"{weeks}w{days}d"


# -- helpers ------------------------------------------------------------------------------


def _text(lines: Sequence[str]) -> str:
    """Lines as output text: trailing blank lines dropped, one final newline."""
    kept = list(lines)
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(line.rstrip() for line in kept) + "\n" if kept else ""


def _known(address: IPv4Address | None) -> str:
    return "unknown" if address is None else str(address)


_INTERFACE_PARTS: Final = re.compile(r"([A-Za-z][A-Za-z-]*)\s*([0-9].*)")


def _brief_interface(name: str) -> str:
    """``FastEthernet0/0`` as ``show standby brief`` shows it in the document: ``FA 0/0``."""
    match = _INTERFACE_PARTS.fullmatch(name)
    if match is None:
        return name
    return f"{match.group(1)[:2].upper()} {match.group(2)}"


def _same_interface(left: str, right: str) -> bool:
    try:
        return canonical_interface_name(left) == canonical_interface_name(right)
    except CommandError:
        return left == right


def transform_display_name(transform: str) -> str:
    """A transform as ``show`` spells it: ``esp-aes 256`` -> ``esp-256-aes``."""
    cipher, _, bits = transform.partition(" ")
    if bits and cipher.startswith("esp-"):
        return f"esp-{bits}-{cipher.removeprefix('esp-')}"
    return transform


# -- show standby brief -------------------------------------------------------------------

_STANDBY_BRIEF_HEADING: Final = (
    "Interface group priority p state active address standby address group address"
)


def show_standby_brief(groups: Sequence[StandbyBriefRow]) -> str:
    """``show standby brief``: one line per HSRP group."""
    lines = [_STANDBY_BRIEF_HEADING]
    for row in groups:
        active = "local" if row.state == "Active" else _known(row.active_router)
        standby = "local" if row.state == "Standby" else _known(row.standby_router)
        preempt = "P" if row.preempt else " "
        lines.append(
            f"{_brief_interface(row.interface):<11} {row.group:<6} {row.priority:<3} "
            f"{preempt} {row.state} {active:<10} {standby:<10} {_known(row.virtual_ip)}"
        )
    return _text(lines)


def preemption_line(row: StandbyBriefRow) -> str:
    """``show standby``'s preemption line, as IOS prints it: ``Preemption enabled, delay min
    30 secs, reload 60 secs, sync 10 secs`` (the delays that are set), or ``Preemption
    disabled``."""
    if not row.preempt:
        return "Preemption disabled"
    delays = [
        f"{label} {seconds} secs"
        for label, seconds in (
            ("min", row.preempt_delay_minimum_s),
            ("reload", row.preempt_delay_reload_s),
            ("sync", row.preempt_delay_sync_s),
        )
        if seconds
    ]
    return "Preemption enabled" + (", delay " + ", ".join(delays) if delays else "")


def _timer_text(ms: int) -> str:
    return f"{ms // 1000} sec" if ms % 1000 == 0 else f"{ms} msec"


def show_standby(groups: Sequence[StandbyBriefRow]) -> str:
    """``show standby``: one block per HSRP group (state, virtual IP and MAC, timers,
    preemption with its delays, active and standby router, priority, redundancy name)."""
    lines: list[str] = []
    for row in groups:
        active = "local" if row.state == "Active" else _known(row.active_router)
        standby = "local" if row.state == "Standby" else _known(row.standby_router)
        mac = virtual_mac_text(row.group)
        lines += [
            f"{row.interface} - Group {row.group}",
            f"  State is {row.state}",
            f"  Virtual IP address is {_known(row.virtual_ip)}",
            f"  Active virtual MAC address is {mac}",
            f"    Local virtual MAC address is {mac} (v1 default)",
        ]
        if row.hello_ms is not None and row.hold_ms is not None:
            lines.append(
                f"  Hello time {_timer_text(row.hello_ms)}, hold time {_timer_text(row.hold_ms)}"
            )
        configured = row.priority if row.configured_priority is None else row.configured_priority
        lines += [
            f"  {preemption_line(row)}",
            f"  Active router is {active}",
            f"  Standby router is {standby}",
            f"  Priority {row.priority} (configured {configured})",
        ]
        if row.name is not None:
            lines.append(f'  IP redundancy name is "{row.name}"')
    return _text(lines)


def virtual_mac_text(group: int) -> str:
    """The HSRP version 1 virtual MAC of ``group`` as IOS prints it: ``0000.0c07.acXX``."""
    return f"0000.0c07.ac{group:02x}"


# -- show ssp -----------------------------------------------------------------------------


def show_ssp_client(clients: Sequence[SspClientRow] = SSP_CLIENTS) -> str:
    """``show ssp client``: the registered SSP clients (DOI 1 and 2 by default)."""
    lines = ["SSP Client Information", "  DOI      Client Name                Version  Running Ver"]
    lines.extend(f"  {c.doi:<8} {c.name:<26} {c.version:<8} {c.running_version}" for c in clients)
    return _text(lines)


def show_ssp_packet(view: SspPacketView) -> str:
    """``show ssp packet``: socket creation time, ports, packet and byte counts."""
    created = (
        "never"
        if view.socket_created_epoch_ms is None
        else format_time_of_day(view.socket_created_epoch_ms)
    )
    lines = [
        "SSP packet Information",
        f"Socket creation time: {created}",
        f"Local port: {view.local_port:<9} Server port: {view.server_port}",
        f"Packets Sent = {view.packets_sent}, Bytes Sent = {view.bytes_sent}",
        f"Packets Received = {view.packets_received}, Bytes Received = {view.bytes_received}",
    ]
    if view.drops:
        lines.append(f"Packets Dropped = {sum(count for _, count in view.drops)}")
        lines.extend(f"  {reason} = {count}" for reason, count in view.drops)
    return _text(lines)


def show_ssp_peers(peers: Sequence[SspPeerRow]) -> str:
    """``show ssp peers``: the peer address, connection state and local interface."""
    lines = ["SSP Peer Information", "IP Address      Connection State  Local Interface"]
    lines.extend(f"{p.address!s:<15} {p.state:<16} {p.local_interface}" for p in peers)
    return _text(lines)


def show_ssp_redundancy(view: SspRedundancyView) -> str:
    """``show ssp redundancy``: the device role, how long, and the groups it follows."""
    lines = [
        "SSP Redundancy Information",
        f"Device has been {view.role} for {format_duration(view.role_duration_ms)}",
        "Virtual IP      Redundancy Name      Interface",
    ]
    lines.extend(f"{_known(g.virtual_ip):<15} {g.name:<21} {g.interface}" for g in view.groups)
    return _text(lines)


def show_ssp(
    packet: SspPacketView, peers: Sequence[SspPeerRow], redundancy: SspRedundancyView
) -> str:
    """``show ssp`` without a keyword: clients, packet, peers and redundancy in turn."""
    return "\n".join(
        (
            show_ssp_client(),
            show_ssp_packet(packet),
            show_ssp_peers(peers),
            show_ssp_redundancy(redundancy),
        )
    )


# -- show crypto ipsec ha / isakmp ha / isakmp ssp / isakmp sa ---------------------------


def show_crypto_ipsec_ha(rows: Sequence[IpsecHaRow]) -> str:
    """``show crypto ipsec ha``: HA manager state per HA-enabled interface."""
    lines = ["Interface      VIP          SAs    IPsec HA State"]
    lines.extend(
        f"{r.interface:<15} {_known(r.virtual_ip):<13} {r.sa_count:<6} "
        f"{r.state} since {format_since(r.since_epoch_ms)}"
        for r in rows
    )
    return _text(lines)


def show_crypto_isakmp_ha(rows: Sequence[IsakmpHaRow]) -> str:
    """``show crypto isakmp ha``: IKE HA manager state per virtual IP."""
    lines = ["VIP          SAs      Stamp      HA State"]
    lines.extend(
        f"{_known(r.virtual_ip):<13} {r.sa_count:<8} {r.stamp & 0xFFFFFFFF:08X}   "
        f"{r.state} since {format_since(r.since_epoch_ms)}"
        for r in rows
    )
    return _text(lines)


def _cookie_words(cookie: bytes) -> tuple[str, str]:
    digits = cookie.hex().upper().rjust(16, "0")
    half = len(digits) // 2
    return digits[:half], digits[half:]


def show_crypto_isakmp_ha_sas(
    ike_sas: Sequence[IkeSaView], which: Literal["standby", "active"] = "standby"
) -> str:
    """``show crypto isakmp ha standby|active``: the standby (STDBY) or active IKE SAs.

    As in the document, the responder cookie's second half is on a line of its own and
    a blank line separates the SAs.
    """
    wanted: IkeSaStatus = "STDBY" if which == "standby" else "ACTIVE"
    lines = ["dst          src          state      I-Cookie      R-Cookie"]
    first = True
    for sa in ike_sas:
        if sa.status != wanted:
            continue
        if not first:
            lines.append("")
        first = False
        i_cookie = " ".join(_cookie_words(sa.i_cookie))
        r_high, r_low = _cookie_words(sa.r_cookie)
        lines.append(f"{sa.dst!s:<13} {sa.src!s:<13} {sa.state:<10} {i_cookie:<20} {r_high}")
        lines.append(r_low)
    return _text(lines)


def show_crypto_isakmp_sa(ike_sas: Sequence[IkeSaView]) -> str:
    """``show crypto isakmp sa``: every IKE SA with its state and ACTIVE/STDBY status."""
    lines = ["dst             src             state          conn-id slot status"]
    lines.extend(
        f"{sa.dst!s:<15} {sa.src!s:<15} {sa.state:<14} {sa.conn_id:>7} {sa.slot:>4} {sa.status}"
        for sa in ike_sas
    )
    return _text(lines)


def show_crypto_isakmp_ssp(rows: Sequence[IsakmpSspRow]) -> str:
    """``show crypto isakmp ssp``: ADDS, DELETES, REQUESTS, REPLIES per virtual IP."""
    lines = ["VIP          ADDS      DELETES    REQUESTS   REPLIES"]
    lines.extend(
        f"{_known(r.virtual_ip):<13} {r.adds:<10} {r.deletes:<10} {r.requests:<10} {r.replies}"
        for r in rows
    )
    return _text(lines)


# -- show crypto ipsec sa -----------------------------------------------------------------

_SA_LISTS: Final[tuple[tuple[SaDirection, SaProtocol], ...]] = (
    ("inbound", "esp"),
    ("inbound", "ah"),
    ("inbound", "pcp"),
    ("outbound", "esp"),
    ("outbound", "ah"),
    ("outbound", "pcp"),
)
_ADDR_PROTOCOLS: Final[tuple[SaProtocol, ...]] = ("ah", "esp", "pcp")


def _ident(ident: ProxyIdent) -> str:
    network = ident.network
    return f"({network.network_address}/{network.netmask}/{ident.protocol}/{ident.port})"


def _sa_lines(sa: IpsecSaView, spi_indent: str, indent: str) -> list[str]:
    transforms = " ".join(transform_display_name(t) for t in sa.transforms)
    seconds = max(0, sa.remaining_lifetime_ms) // 1000
    lines = [
        f"{spi_indent}spi: 0x{sa.spi:X}({sa.spi})",
        f"{indent}transform: {transforms} ,",
        f"{indent}in use settings ={{{sa.mode.capitalize()}, }}",
        f"{indent}slot: {sa.slot}, conn id: {sa.conn_id}, flow_id: {sa.flow_id}, "
        f"crypto map: {sa.crypto_map}",
        f"{indent}sa timing: remaining key lifetime (k/sec): "
        f"({max(0, sa.remaining_kilobytes)}/{seconds})",
    ]
    if sa.iv_size_bytes is not None:
        lines.append(f"{indent}IV size: {sa.iv_size_bytes} bytes")
    lines.append(f"{indent}replay detection support: {'Y' if sa.replay_detection else 'N'}")
    if sa.ha_status is not None:
        lines.append(f"{indent}HA Status: {sa.ha_status}")
    return lines


def _counter_lines(counters: IpsecCounters, detail: bool) -> list[str]:
    c = counters
    lines = [
        f"    #pkts encaps: {c.encaps}, #pkts encrypt: {c.encrypt}, #pkts digest {c.digest}",
        f"    #pkts decaps: {c.decaps}, #pkts decrypt: {c.decrypt}, #pkts verify {c.verify}",
        f"    #pkts compressed: {c.compressed}, #pkts decompressed: {c.decompressed}",
        f"    #pkts not compressed: {c.not_compressed}, #pkts compr. failed: {c.compr_failed}, "
        f"#pkts decompress failed: {c.decompress_failed}",
    ]
    if detail:
        # IOS's "detail" counters (not in the document): where the drops DESIGN §8 asks
        # for (authentication, replay, unknown SPI) are shown one by one.
        lines += [
            f"    #pkts no sa (send) {c.no_sa_send}, #pkts invalid sa (rcv) {c.invalid_sa_recv}",
            f"    #pkts encaps failed (send) {c.encaps_failed}, "
            f"#pkts decaps failed (rcv) {c.decaps_failed}",
            f"    #pkts verify failed: {c.verify_failed}, #pkts invalid len (rcv) {c.invalid_len}",
            f"    #pkts replay rollover (send): {c.replay_rollover_send}, "
            f"#pkts replay failed (rcv): {c.replay_failed}",
        ]
    lines.append(f"    #send errors {c.send_errors}, #recv errors {c.recv_errors}")
    return lines


def _flow_lines(flow: IpsecFlowView, sas: Sequence[IpsecSaView], detail: bool) -> list[str]:
    lines = [
        "",
        f"  local ident (addr/mask/prot/port): {_ident(flow.local_ident)}",
        f"  remote ident (addr/mask/prot/port): {_ident(flow.remote_ident)}",
        f"  current_peer: {flow.current_peer}",
        f"    PERMIT, flags={{{''.join(f'{flag},' for flag in flow.flags)}}}",
        *_counter_lines(flow.counters, detail),
        "",
        f"  local crypto endpt.: {flow.local_endpoint}, "
        f"remote crypto endpt.: {flow.remote_endpoint}",
        f"  path mtu {flow.path_mtu}, media mtu {flow.media_mtu}",
        f"  current outbound spi: {flow.current_outbound_spi:X}",
        "",
    ]
    for direction, protocol in _SA_LISTS:
        lines.append(f"{direction} {protocol} sas:")
        listed = [sa for sa in sas if sa.direction == direction and sa.protocol == protocol]
        for sa in listed:
            lines += _sa_lines(sa, "  ", "    ")
            lines.append("")
        if not listed:
            lines.append("")
    return lines


def show_crypto_ipsec_sa(
    interfaces: Sequence[IpsecInterfaceView], standby_only: bool = False, *, detail: bool = False
) -> str:
    """``show crypto ipsec sa [standby | detail]``: flows, counters and SAs per interface.

    With ``standby_only`` only SAs whose HA Status is STANDBY are listed, and flows and
    interfaces without one are left out. ``detail`` adds IOS's per-reason error counters.
    """
    lines: list[str] = []
    for interface in interfaces:
        blocks: list[str] = []
        for flow in interface.flows:
            sas = flow.sas
            if standby_only:
                sas = tuple(sa for sa in sas if sa.ha_status == "STANDBY")
                if not sas:
                    continue
            blocks += _flow_lines(flow, sas, detail)
        if standby_only and not blocks:
            continue
        lines.append(f"interface: {interface.interface}")
        lines.append(
            f"  Crypto map tag: {interface.crypto_map}, local addr. {interface.local_address}"
        )
        lines += blocks
    return _text(lines)


def show_crypto_ipsec_sa_addr(interfaces: Sequence[IpsecInterfaceView]) -> str:
    """``show crypto ipsec sa addr``: every SA grouped by destination address, then protocol."""
    by_destination: dict[IPv4Address, list[IpsecSaView]] = {}
    for interface in interfaces:
        for flow in interface.flows:
            for direction, protocol in _SA_LISTS:
                for sa in flow.sas:
                    if sa.direction != direction or sa.protocol != protocol:
                        continue
                    destination = (
                        flow.local_endpoint if direction == "inbound" else flow.remote_endpoint
                    )
                    by_destination.setdefault(destination, []).append(sa)
    lines: list[str] = []
    for destination, sas in by_destination.items():
        lines.append(f"dest address: {destination}")
        for protocol in _ADDR_PROTOCOLS:
            listed = [sa for sa in sas if sa.protocol == protocol]
            if not listed:
                continue
            lines.append(f"protocol: {protocol.upper()}")
            for sa in listed:
                lines += _sa_lines(sa, "", "")
                lines.append("")
    return _text(lines)


# -- configuration: transform sets, crypto maps, ISAKMP policies ---------------------------


def _transform_bundles(transform_set: TransformSet) -> list[list[str]]:
    """The set's transforms grouped as IOS shows them: {AH}, {ESP cipher + auth}, {comp}."""
    bundles: list[list[str]] = []
    if transform_set.ah is not None:
        bundles.append([transform_set.ah])
    esp: list[str] = []
    if transform_set.esp_encryption is not None:
        cipher = transform_set.esp_encryption
        bits = transform_set.esp_key_bits
        esp.append(transform_display_name(cipher if bits in (None, 128) else f"{cipher} {bits}"))
    if transform_set.esp_authentication is not None:
        esp.append(transform_set.esp_authentication)
    if esp:
        bundles.append(esp)
    if transform_set.compression is not None:
        bundles.append([transform_set.compression])
    return bundles


def show_crypto_ipsec_transform_set(config: RouterConfig) -> str:
    """``show crypto ipsec transform-set``, with the document's hardware WARNINGs.

    A WARNING follows each set for every transform the router's crypto card does not
    support, worded as in the document.
    """
    card = config.crypto_card
    lines: list[str] = []
    for name in sorted(config.transform_sets):
        transform_set = config.transform_sets[name]
        mode = transform_set.mode.capitalize()
        for index, bundle in enumerate(_transform_bundles(transform_set)):
            head = f"Transform set {name}: " if index == 0 else "  "
            lines.append(f"{head}{{{' '.join(bundle)}}}")
            lines.append(f"  will negotiate = {{{mode},}},")
        unsupported = card.unsupported_transforms(transform_set)
        if unsupported:
            lines.append("")
            for transform in unsupported:
                lines.append("WARNING:encryption hardware does not support transform")
                lines.append(f"{transform} within IPSec transform {name}")
            lines.append("")
    return _text(lines)


_PROTOCOL_NAMES: Final = MappingProxyType(
    {number: name for name, number in PROTOCOL_NUMBERS.items() if number is not None}
)


def _acl_address(match: AddressMatch) -> str:
    return f"{match.address}/{match.wildcard}"


def _acl_entry_lines(acl: AccessList, entry: AclEntry) -> list[str]:
    if entry.protocol is None:
        protocol = "ip"
    else:
        protocol = _PROTOCOL_NAMES.get(entry.protocol, str(entry.protocol))
    lines = [
        f"    access-list {acl.name} {entry.action} {protocol}",
        f"      source: addr = {_acl_address(entry.source)}",
    ]
    if entry.source_port is not None:
        lines.append(f"              port: {entry.source_port}")
    lines.append(f"      dest:   addr = {_acl_address(entry.destination)}")
    if entry.destination_port is not None:
        lines.append(f"              port: {entry.destination_port}")
    return lines


def _map_local_address(interface: InterfaceConfig) -> str:
    """The map's local address: the HSRP virtual IP when IPsec HA is on, else the interface's."""
    if interface.crypto_map_ssp is not None:
        for group in interface.standby_groups:
            if group.virtual_ip is not None:
                return str(group.virtual_ip)
    if interface.address is None:
        return "unassigned"
    return str(interface.address.ip)


def _crypto_map_entry_lines(config: RouterConfig, entry: CryptoMapEntry) -> list[str]:
    lines = [f'Crypto Map "{entry.name}" {entry.seq} ipsec-isakmp']
    if entry.description is not None:
        lines.append(f"  Description: {entry.description}")
    if entry.dynamic_map is not None:
        lines.append(f"  Dynamic map template tag: {entry.dynamic_map}")
        return lines
    lines.extend(f"  Peer = {peer}" for peer in entry.peers)
    if entry.match_address is None:
        lines.append("  No matching address list set.")
    else:
        lines.append(f"  Extended IP access list {entry.match_address}")
        acl = config.access_lists.get(entry.match_address)
        if acl is not None:
            for acl_entry in acl.entries:
                lines += _acl_entry_lines(acl, acl_entry)
    if entry.peers:
        lines.append(f"  Current peer: {entry.peers[0]}")
    kilobytes = entry.lifetime_kilobytes
    if kilobytes is None:
        kilobytes = config.ipsec_lifetime_kilobytes
    seconds = entry.lifetime_seconds
    if seconds is None:
        seconds = config.ipsec_lifetime_seconds
    lines.append(f"  Security-association lifetime: {kilobytes} kilobytes/{seconds} seconds")
    lines.append(f"  PFS (Y/N): {'N' if entry.pfs is None else 'Y'}")
    if entry.pfs is not None:
        lines.append(f"  DH group:  {entry.pfs}")
    lines.append(f"  Transform sets={{{''.join(f'{name},' for name in entry.transform_sets)}}}")
    if entry.reverse_route:
        lines.append("  Reverse Route Injection Enabled")
    return lines


def show_crypto_map(
    config: RouterConfig, *, interface: str | None = None, tag: str | None = None
) -> str:
    """``show crypto map [interface IFACE | tag NAME]``: the crypto map sets.

    Each set starts with one ``Crypto Map: "NAME" idb: ...`` line per interface it is
    applied to; its local address is the HSRP virtual IP when ``crypto map NAME ssp``
    is on, else the interface address.
    """
    names = list(dict.fromkeys(entry.name for entry in config.crypto_maps))
    if tag is not None:
        names = [name for name in names if name == tag]
    if interface is not None:
        applied = {i.crypto_map for i in config.interfaces if _same_interface(i.name, interface)}
        names = [name for name in names if name in applied]
    lines: list[str] = []
    for name in names:
        if lines:
            lines.append("")
        for iface in config.interfaces:
            if iface.crypto_map == name:
                lines.append(
                    f'Crypto Map: "{name}" idb: {iface.name} '
                    f"local address: {_map_local_address(iface)}"
                )
        for entry in config.crypto_map(name):
            lines += _crypto_map_entry_lines(config, entry)
    return _text(lines)


_IKE_ENCRYPTION_NAMES: Final = MappingProxyType(
    {
        "des": "DES - Data Encryption Standard (56 bit keys).",
        "3des": "Three key triple DES",
        "aes": "AES - Advanced Encryption Standard (128 bit keys).",
        "aes 192": "AES - Advanced Encryption Standard (192 bit keys).",
        "aes 256": "AES - Advanced Encryption Standard (256 bit keys).",
    }
)
_IKE_HASH_NAMES: Final = MappingProxyType(
    {"sha": "Secure Hash Standard", "md5": "Message Digest 5"}
)
_IKE_AUTHENTICATION_NAMES: Final = MappingProxyType(
    {
        "pre-share": "Pre-Shared Key",
        "rsa-sig": "Rivest-Shamir-Adleman Signature",
        "rsa-encr": "Rivest-Shamir-Adleman Encryption",
    }
)
_DH_GROUP_NAMES: Final = MappingProxyType(
    {1: "#1 (768 bit)", 2: "#2 (1024 bit)", 5: "#5 (1536 bit)"}
)
_POLICY_INDENT: Final = "      "
# IOS's "Default protection suite": IsakmpPolicy's defaults are IOS's. Its priority
# is never shown; it only has to be past every configurable one (1-10000).
_DEFAULT_SUITE: Final = IsakmpPolicy(priority=65535)


def _policy_lines(heading: str, label: str, policy: IsakmpPolicy, card: CryptoCard) -> list[str]:
    def row(name: str, value: str) -> str:
        return f"{_POLICY_INDENT}{name + ':':<25}{value}"

    lines = [
        heading,
        row(
            "encryption algorithm", _IKE_ENCRYPTION_NAMES.get(policy.encryption, policy.encryption)
        ),
    ]
    if not card.supports_ike_encryption(policy.encryption):
        lines.append("WARNING:encryption hardware does not support the configured")
        lines.append(f"encryption method for ISAKMP policy {label}")
    lines.append(row("hash algorithm", _IKE_HASH_NAMES.get(policy.hash, policy.hash)))
    lines.append(
        row(
            "authentication method",
            _IKE_AUTHENTICATION_NAMES.get(policy.authentication, policy.authentication),
        )
    )
    if not card.supports_ike_authentication(policy.authentication):
        lines.append("WARNING:encryption hardware does not support the configured")
        lines.append(f"authentication method for ISAKMP policy {label}")
    lines.append(row("Diffie-Hellman group", _DH_GROUP_NAMES.get(policy.group, f"#{policy.group}")))
    lines.append(row("lifetime", f"{policy.lifetime_s} seconds, no volume limit"))
    return lines


def show_crypto_isakmp_policy(config: RouterConfig, priority: int | None = None) -> str:
    """``show crypto isakmp policy [PRIORITY]``: the IKE policies, then the default suite.

    A WARNING follows any encryption (or authentication) method the crypto card does
    not support, as in the document. With ``priority`` only that policy is shown.
    """
    card = config.crypto_card
    lines: list[str] = []
    for policy in config.isakmp_policies:
        if priority is None or policy.priority == priority:
            lines += _policy_lines(
                f"Protection suite of priority {policy.priority}",
                str(policy.priority),
                policy,
                card,
            )
    if priority is None:
        lines += _policy_lines("Default protection suite", "default", _DEFAULT_SUITE, card)
    elif not lines:
        lines.append(f"% ISAKMP policy {priority} is not configured.")
    return _text(lines)


# -- the command line ---------------------------------------------------------------------


class ShowProvider(Protocol):
    """Where :func:`render` gets its views: the live router, a simulated one, or a test."""

    def standby_brief(self) -> Sequence[StandbyBriefRow]:
        """Every HSRP group, for ``show standby brief``."""
        ...

    def ssp_packet(self) -> SspPacketView:
        """The SSP socket counters, for ``show ssp packet``."""
        ...

    def ssp_peers(self) -> Sequence[SspPeerRow]:
        """The SSP peers, for ``show ssp peers``."""
        ...

    def ssp_redundancy(self) -> SspRedundancyView:
        """The SSP device role and groups, for ``show ssp redundancy``."""
        ...

    def ipsec_ha(self) -> Sequence[IpsecHaRow]:
        """IPsec HA manager state per interface, for ``show crypto ipsec ha``."""
        ...

    def isakmp_ha(self) -> Sequence[IsakmpHaRow]:
        """IKE HA manager state per virtual IP, for ``show crypto isakmp ha``."""
        ...

    def ike_sas(self) -> Sequence[IkeSaView]:
        """Every IKE SA, active and standby."""
        ...

    def isakmp_ssp(self) -> Sequence[IsakmpSspRow]:
        """IKE replication counters per virtual IP, for ``show crypto isakmp ssp``."""
        ...

    def ipsec_sas(self) -> Sequence[IpsecInterfaceView]:
        """Every interface with a crypto map, its flows and SAs."""
        ...

    def config(self) -> RouterConfig:
        """The running configuration."""
        ...


class ShowSyntaxError(ValueError):
    """A ``show`` command line that does not parse; ``str()`` is the IOS-style message."""


_Argument = Literal["priority", "map-name", "interface"]
_ARGUMENT_HINTS: Final[Mapping[_Argument, str]] = MappingProxyType(
    {"priority": "<1-10000>", "map-name": "WORD", "interface": "<interface>"}
)
_MAX_POLICY_PRIORITY: Final = 10000


@dataclass(frozen=True, slots=True, kw_only=True)
class _Node:
    """A point in the command grammar: keywords that may follow, an argument, or the end."""

    children: Mapping[str, _Node] = field(default_factory=lambda: MappingProxyType({}))
    """Keywords that may follow, each with the node it leads to."""
    complete: bool = False
    """The command may end here."""
    argument: _Argument | None = None
    """A value word may follow (tried when no keyword matches); the command ends after it."""


def _node(
    children: Mapping[str, _Node] | None = None,
    *,
    complete: bool = False,
    argument: _Argument | None = None,
) -> _Node:
    return _Node(
        children=MappingProxyType(dict(children or {})), complete=complete, argument=argument
    )


_END: Final = _node(complete=True)

# The command tree (the document's syntax lines; `sa map/interface` and `detail` are
# IOS's, listed in the document's "show crypto ipsec sa [map | address | identity |
# detail | interface]").
_GRAMMAR: Final = _node(
    {
        "show": _node(
            {
                "standby": _node({"brief": _END}, complete=True),
                "ssp": _node(
                    {"clients": _END, "packet": _END, "peers": _END, "redundancy": _END},
                    complete=True,
                ),
                "crypto": _node(
                    {
                        "ipsec": _node(
                            {
                                "ha": _END,
                                "sa": _node(
                                    {
                                        "address": _END,
                                        "standby": _END,
                                        "detail": _END,
                                        "map": _node(argument="map-name"),
                                        "interface": _node(argument="interface"),
                                    },
                                    complete=True,
                                ),
                                "transform-set": _END,
                            }
                        ),
                        "isakmp": _node(
                            {
                                "ha": _node({"standby": _END, "active": _END}, complete=True),
                                "sa": _END,
                                "ssp": _END,
                                "policy": _node(complete=True, argument="priority"),
                            }
                        ),
                        "map": _node(
                            {
                                "interface": _node(argument="interface"),
                                "tag": _node(argument="map-name"),
                            },
                            complete=True,
                        ),
                    }
                ),
            }
        )
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ShowCommand:
    """A parsed ``show`` command."""

    keywords: tuple[str, ...]
    """Full keywords after ``show``, e.g. ("crypto", "ipsec", "sa", "standby")."""
    argument: str | int | None = None
    """A policy priority, map name or canonical interface name; None when none."""

    @property
    def text(self) -> str:
        """The command written out in full, e.g. ``show crypto map tag mymap``."""
        words = ["show", *self.keywords]
        if self.argument is not None:
            words.append(str(self.argument))
        return " ".join(words)


def _choices(node: _Node) -> list[str]:
    found = sorted(node.children)
    if node.argument is not None:
        found.append(_ARGUMENT_HINTS[node.argument])
    if node.complete:
        found.append("<cr>")
    return found


def _listing(words: Sequence[str]) -> str:
    return ", ".join(words)


class _Parser:
    """Walks the grammar over the words of one command line."""

    def __init__(self, command: str) -> None:
        # Every whitespace character becomes a space so that the caret lines up.
        self.echo = re.sub(r"\s", " ", command).rstrip()
        self.tokens = [(m.start(), m.group()) for m in re.finditer(r"\S+", self.echo)]

    def invalid(self, index: int, reason: str) -> ShowSyntaxError:
        column = self.tokens[index][0] if index < len(self.tokens) else len(self.echo)
        return ShowSyntaxError(
            "\n".join(
                (
                    self.echo,
                    " " * column + "^",
                    "% Invalid input detected at '^' marker.",
                    f"% {reason}",
                )
            )
        )

    def parse(self) -> ShowCommand:
        node = _GRAMMAR
        keywords: list[str] = []
        argument: str | int | None = None
        index = 0
        while True:
            if index == len(self.tokens):
                if node.complete:
                    break
                typed = " ".join(word for _, word in self.tokens)
                needs = f"{typed!r} needs" if typed else "Expected"
                raise ShowSyntaxError(
                    f"% Incomplete command.\n% {needs} one of: {_listing(_choices(node))}"
                )
            word = self.tokens[index][1]
            lowered = word.lower()
            candidates = [lowered] if lowered in node.children else []
            if not candidates:
                candidates = [k for k in node.children if k.startswith(lowered)]
            if len(candidates) == 1:
                keywords.append(candidates[0])
                node = node.children[candidates[0]]
                index += 1
                continue
            if len(candidates) > 1:
                typed = " ".join(w for _, w in self.tokens[: index + 1])
                raise ShowSyntaxError(
                    f'% Ambiguous command:  "{typed}"\n'
                    f"% {word!r} could be: {_listing(sorted(candidates))}"
                )
            if node.argument is not None:
                argument, index = self.argument(node.argument, index)
                node = _END
                continue
            if not node.children:
                done = " ".join(keywords)
                reason = f"Unexpected word {word!r}: {done!r} takes no more words"
            else:
                reason = f"Unknown word {word!r}; expected one of: {_listing(_choices(node))}"
            raise self.invalid(index, reason)
        # The first keyword is "show" itself.
        return ShowCommand(keywords=tuple(keywords[1:]), argument=argument)

    def argument(self, kind: _Argument, index: int) -> tuple[str | int, int]:
        word = self.tokens[index][1]
        if kind == "priority":
            if (
                not word.isascii()
                or not word.isdigit()
                or len(word) > len(str(_MAX_POLICY_PRIORITY))
            ):
                raise self.invalid(index, f"{word!r} is not a policy priority (1-10000)")
            value = int(word)
            if not 1 <= value <= _MAX_POLICY_PRIORITY:
                raise self.invalid(index, f"policy priority {value} out of range 1-10000")
            return value, index + 1
        if kind == "map-name":
            return word, index + 1
        words = [w for _, w in self.tokens[index : index + 2]]
        try:
            name, rest = take_interface_name(words)
        except CommandError as error:
            raise self.invalid(index, str(error)) from None
        return name, index + len(words) - len(rest)


def parse_show_command(command: str) -> ShowCommand:
    """Parse a ``show`` command line with IOS abbreviations; raises ShowSyntaxError."""
    return _Parser(command).parse()


def _filter_interfaces(
    interfaces: Sequence[IpsecInterfaceView], command: ShowCommand
) -> Sequence[IpsecInterfaceView]:
    if command.keywords[-1] == "map":
        return [i for i in interfaces if i.crypto_map == command.argument]
    return [i for i in interfaces if _same_interface(i.interface, str(command.argument))]


def _policy_priority(command: ShowCommand) -> int | None:
    return command.argument if isinstance(command.argument, int) else None


_Renderer = Callable[[ShowProvider, ShowCommand], str]

_RENDERERS: Final[Mapping[tuple[str, ...], _Renderer]] = MappingProxyType(
    {
        ("standby",): lambda p, _: show_standby(p.standby_brief()),
        ("standby", "brief"): lambda p, _: show_standby_brief(p.standby_brief()),
        ("ssp",): lambda p, _: show_ssp(p.ssp_packet(), p.ssp_peers(), p.ssp_redundancy()),
        ("ssp", "clients"): lambda _p, _c: show_ssp_client(),
        ("ssp", "packet"): lambda p, _: show_ssp_packet(p.ssp_packet()),
        ("ssp", "peers"): lambda p, _: show_ssp_peers(p.ssp_peers()),
        ("ssp", "redundancy"): lambda p, _: show_ssp_redundancy(p.ssp_redundancy()),
        ("crypto", "ipsec", "ha"): lambda p, _: show_crypto_ipsec_ha(p.ipsec_ha()),
        ("crypto", "ipsec", "sa"): lambda p, _: show_crypto_ipsec_sa(p.ipsec_sas()),
        ("crypto", "ipsec", "sa", "address"): lambda p, _: show_crypto_ipsec_sa_addr(p.ipsec_sas()),
        ("crypto", "ipsec", "sa", "standby"): lambda p, _: show_crypto_ipsec_sa(
            p.ipsec_sas(), standby_only=True
        ),
        ("crypto", "ipsec", "sa", "detail"): lambda p, _: show_crypto_ipsec_sa(
            p.ipsec_sas(), detail=True
        ),
        ("crypto", "ipsec", "sa", "map"): lambda p, c: show_crypto_ipsec_sa(
            _filter_interfaces(p.ipsec_sas(), c)
        ),
        ("crypto", "ipsec", "sa", "interface"): lambda p, c: show_crypto_ipsec_sa(
            _filter_interfaces(p.ipsec_sas(), c)
        ),
        ("crypto", "ipsec", "transform-set"): lambda p, _: show_crypto_ipsec_transform_set(
            p.config()
        ),
        ("crypto", "isakmp", "ha"): lambda p, _: show_crypto_isakmp_ha(p.isakmp_ha()),
        ("crypto", "isakmp", "ha", "standby"): lambda p, _: show_crypto_isakmp_ha_sas(
            p.ike_sas(), "standby"
        ),
        ("crypto", "isakmp", "ha", "active"): lambda p, _: show_crypto_isakmp_ha_sas(
            p.ike_sas(), "active"
        ),
        ("crypto", "isakmp", "sa"): lambda p, _: show_crypto_isakmp_sa(p.ike_sas()),
        ("crypto", "isakmp", "ssp"): lambda p, _: show_crypto_isakmp_ssp(p.isakmp_ssp()),
        ("crypto", "isakmp", "policy"): lambda p, c: show_crypto_isakmp_policy(
            p.config(), _policy_priority(c)
        ),
        ("crypto", "map"): lambda p, _: show_crypto_map(p.config()),
        ("crypto", "map", "interface"): lambda p, c: show_crypto_map(
            p.config(), interface=str(c.argument)
        ),
        ("crypto", "map", "tag"): lambda p, c: show_crypto_map(p.config(), tag=str(c.argument)),
    }
)


def render(command: str, provider: ShowProvider) -> str:
    """Run one ``show`` command line: its text, or IOS-style error text if it does not parse.

    Parse errors never raise. The provider is asked only for the views the command
    needs; what the provider itself raises is not caught here.
    """
    try:
        parsed = parse_show_command(command)
    except ShowSyntaxError as error:
        return f"{error}\n"
    return _RENDERERS[parsed.keywords](provider, parsed)
