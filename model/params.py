"""The model's own parameter records (DESIGN §2: never the implementation's config types).

``properties/`` builds these from the parsed IOS configuration; the model only
reads them. Addresses are IPv4 integers, times integer milliseconds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "CardKind",
    "ClusterParams",
    "GroupSide",
    "RouterParams",
    "SideParams",
]


class GroupSide(enum.Enum):
    """Which segment an HSRP group and its interface face."""

    # Members are singletons: hash by identity, in C (Enum's __hash__ is Python code).
    __hash__ = object.__hash__

    INSIDE = "inside"
    OUTSIDE = "outside"


class CardKind(enum.Enum):
    """The crypto engine of a router (one card per router, document Restrictions)."""

    NONE = "none"
    VAM = "vam"
    VAM2 = "vam2"


@dataclass(frozen=True, slots=True, kw_only=True)
class SideParams:
    """One HSRP interface of a router (inside or outside)."""

    interface: str
    """Interface name, e.g. FastEthernet0/0."""
    address: int
    """The interface's own address (IPv4 integer)."""
    group: int
    """HSRP group number, 0-255."""
    name: str
    """HSRP group name (what ``redundancy NAME`` refers to)."""
    virtual_ip: int | None
    """Configured virtual IP (IPv4 integer) or None to learn it."""
    priority: int
    """Configured priority, 1-255."""
    preempt: bool
    """``standby N preempt``."""
    preempt_delay_ms: int
    """``preempt delay minimum``, ms."""
    hello_ms: int
    """Hello time, ms."""
    hold_ms: int
    """Hold time, ms."""
    auth: bytes
    """Eight-octet authentication data."""
    tracks: tuple[tuple[GroupSide, int], ...]
    """Tracked interfaces of this router (by side) and the priority decrement of each."""
    delay_minimum_ms: int
    """``standby delay minimum``: wait after the interface comes up before enabling, ms."""
    delay_reload_ms: int
    """``standby delay reload``: wait after the router boots before enabling, ms."""
    preempt_reload_ms: int = 0
    """``preempt delay reload``: instead of minimum for the group's first enable after the
    router boots, ms; 0 = not set."""
    preempt_sync_ms: int = 0
    """``preempt delay sync``: longest wait for SSP's copy before preempting, ms; 0 = none."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RouterParams:
    """Everything the model needs to know about one router."""

    name: str
    """Hostname."""
    inside: SideParams
    """The LAN-facing interface and its group."""
    outside: SideParams
    """The ISP-facing interface and its group (the crypto map is applied here)."""
    redundancy: tuple[str, ...]
    """Group names listed by ``ssp group`` ``redundancy``; the device role follows them."""
    ssp_remote: int
    """``remote``: the address SSP accepts and connects to (IPv4 integer)."""
    card: CardKind
    """Crypto engine."""
    card_capacity: int | None
    """IPsec SAs the card can hold (a pair counts two); None for no limit."""
    card_algorithms: frozenset[str]
    """Transform names the card supports (e.g. ``esp-3des``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterParams:
    """The two routers plus everything shared by the cluster and its environment."""

    routers: tuple[RouterParams, RouterParams]
    """Router 0 and router 1, in configuration order."""
    inbound_interval: int
    """``replay-interval inbound N``, packets, 0-10000; 0 disables inbound sync."""
    outbound_interval: int
    """``replay-interval outbound M`` in packets (M million), 1e6-1e7."""
    dpd_interval: int
    """DPD sequence numbers are synced every this many probes (1)."""
    byte_interval: int
    """Bytes of traffic between kilobyte-lifetime syncs."""
    replay_window: int
    """Anti-replay window of the routers, packets (RFC 4303 §3.4.3 default 64)."""
    peer_replay_window: int
    """Anti-replay window of the remote peer, packets."""
    transform: tuple[str, ...]
    """Transform set of the crypto map, e.g. (``esp-3des``, ``esp-sha-hmac``)."""
    lifetime_ms: int
    """IPsec SA lifetime, ms."""
    lifetime_bytes: int
    """IPsec SA lifetime, bytes (kilobytes × 1024)."""
    link_latency_ms: int
    """One-way delivery time on every segment and on the SSP connection, ms."""
    ssp_hello_ms: int
    """SSP keepalive interval, ms."""
    ssp_dead_ms: int
    """SSP dead interval: no message for this long ends the connection, ms."""
    ssp_retry_ms: int
    """SSP reconnect attempt interval, ms."""
    jitter_ms: tuple[int, ...]
    """HSRP hello jitter values, consumed in turn per router (drawn by the harness)."""
