"""One router's sans-IO core: its two HSRP groups, interface tracking and the SSP device role.

Theory of operation
-------------------
This is the first slice of the router composition (issue 3): it wires the two
HSRP speakers of the document's topology — the inside (LAN) group and the
outside (ISP) group, each on its own interface — to the interfaces' state and
to each other, and derives the SSP device role from them. Later slices add the
SSP connection, the SA database and the forwarder around the same surface.

- Boot: each group is enabled after ``standby delay reload`` (the interface's
  configured value, 0 when absent); an interface that comes back up re-enables
  its group after ``standby delay minimum``.
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
from dataclasses import dataclass
from ipaddress import IPv4Address

from .config import ConfigError, Diagnostic, RouterConfig
from .config.schema import InterfaceConfig
from .entropy import Entropy
from .hsrp import HsrpEvent, HsrpGroup, HsrpGroupConfig, HsrpState

__all__ = ["DeviceRole", "RoleChanged", "RouterCore", "RouterEvent", "Side"]


class Side(enum.Enum):
    """Which interface of the document's topology."""

    INSIDE = "inside"
    OUTSIDE = "outside"


class DeviceRole(enum.Enum):
    """SSP device role as ``show ssp redundancy`` prints it."""

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

    def __init__(self, config: RouterConfig, *, entropy: Entropy, now: int) -> None:
        outside = config.outside_interface()
        inside = config.inside_interface()
        if outside is None or inside is None:
            msg = f"{config.hostname}: needs an inside and an outside HSRP interface"
            raise ConfigError([Diagnostic(source=config.source, line=0, command="", message=msg)])
        self._config = config
        self._interfaces = {Side.INSIDE: inside, Side.OUTSIDE: outside}
        self._groups = {
            side: HsrpGroup(HsrpGroupConfig.from_standby(iface, iface.standby_groups[0]), entropy)
            for side, iface in self._interfaces.items()
        }
        self._names = {
            iface.standby_groups[0].name: side
            for side, iface in self._interfaces.items()
            if iface.standby_groups[0].name is not None
        }
        ssp = config.ssp_groups[0] if config.ssp_groups else None
        self._redundancy = ssp.redundancy_names if ssp is not None else ()
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
        deadlines = [d for g in self._groups.values() if (d := g.get_timer()) is not None]
        return min(deadlines) if deadlines else None

    def datagrams_to_send(self, now: int) -> list[tuple[Side, bytes]]:
        """HSRP payloads to send, with the interface each goes out of (none while down)."""
        out: list[tuple[Side, bytes]] = []
        for side, group in self._groups.items():
            payloads = group.datagrams_to_send(now)
            if self._up[side]:
                out.extend((side, payload) for payload in payloads)
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
        sides = [self._names[n] for n in self._redundancy if n in self._names]
        states = [self._groups[s].state for s in sides]
        if states and all(s is HsrpState.ACTIVE for s in states):
            return DeviceRole.ACTIVE
        if states and all(s is HsrpState.STANDBY for s in states):
            return DeviceRole.STANDBY
        return DeviceRole.INIT


def _ms(seconds: int | None) -> int:
    return 0 if seconds is None else seconds * 1000
