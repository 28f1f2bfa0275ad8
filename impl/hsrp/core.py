"""The sans-IO HSRP speaker: one standby group on one interface (RFC 2281 §5).

Theory of operation
-------------------
A speaker is in one of six states (§5.3, :class:`~.wire.HsrpState`). Twelve events
move it (§5.5, :class:`RfcEvent`): a/b are the caller's ``enable``/``disable``; c, d
and e are the expiry of the Active, Standby and Hello timers (§5.4); f-l are
authenticated messages of our group, classified by :meth:`HsrpGroup.receive_datagram`.
:data:`TRANSITIONS` is the §5.7 table written out: ``(state, event)`` maps to the
cell's actions A-I (§5.6, :class:`Action`) and next state; two cells depend on a
condition and are a :class:`TransitionChoice`. Every other pair is in
:data:`BLANK_CELLS` and does nothing. One executor (:meth:`HsrpGroup._apply`) runs
any cell, so the table is the only place the protocol's rules live.

What the RFC leaves open, this speaker decides so (the project's rules):

1. "Higher priority" compares ``(priority, source IP)`` with ``(our effective
   priority, our address)``; equal priority goes to the higher address (§5.1). A
   message whose authentication data differs, or that carries no virtual IP while
   ours is unknown, generates no event (§5.4 restarts timers on *authenticated*
   Hellos only).
2. Actions A and B start the timers with our own configured hold time, because
   sub-second timers cannot be carried in the version 0 seconds fields. The Hello
   timer runs whenever the group is not in Initial and is re-armed
   ``hello_ms - jitter`` after each arming, jitter drawn from the injected
   :class:`~vpnha.impl.entropy.Entropy` (§5.4 "MUST be jittered"). Deadlines due at
   the same instant fire in the order: enable delay, Active, Standby, Hello.
3. Entering Standby while the Active timer is not running (nobody is active)
   immediately runs the Standby × c cell (protocols.md §1.8, gap 1).
4. A Coup or Resign carries our state before the cell's transition; a Hello the
   state after it.
5. The preempting form of the h cell in Listen, Speak and Standby applies only when
   preempt is configured and the delay in force has passed since the group was
   enabled: ``preempt delay reload`` for the first enable since this speaker was
   created (the router booted) when it is configured (not 0), ``preempt delay
   minimum`` for every later enable (an interface that came back) or when reload
   is 0. Then, with ``preempt delay sync S`` and a group that has IP redundancy
   clients (the caller's ``clients_synchronised``: SSP's, for a group the ``ssp
   group`` names), the group also waits for those clients to be synchronised, at
   most S: the wait starts at the first h that would otherwise preempt and ends at
   the first of "synchronised" or S passed; the preemption itself happens at the h
   cell that finds it ended (the next Hello of the lower-priority active), as for
   the delays. The wait is forgotten when the group enters Active or Initial, or
   when an h cell finds preempt off.
6. Disabling forgets a learned virtual IP.
7. ``standby delay`` is the caller's: :meth:`HsrpGroup.enable_after` schedules
   event a.

Nothing here reads a clock, a socket or a global random source: time is the
integer ``now`` in milliseconds that every call receives (DESIGN §3).
"""

from __future__ import annotations

import contextlib
import enum
import functools
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from ipaddress import IPv4Address
from types import MappingProxyType

from vpnha.impl import mutants
from vpnha.impl.config import InterfaceConfig, StandbyGroup, canonical_interface_name
from vpnha.impl.entropy import Entropy
from vpnha.impl.errors import LocalProtocolError

from .wire import (
    AUTHENTICATION_LENGTH,
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
    "BLANK_CELLS",
    "TRANSITIONS",
    "Action",
    "Condition",
    "DropReason",
    "GratuitousArpNeeded",
    "HsrpEvent",
    "HsrpGroup",
    "HsrpGroupConfig",
    "MessageDropped",
    "PriorityChanged",
    "RfcEvent",
    "StateChanged",
    "TimerDeadlines",
    "TrackedInterface",
    "TransitionCell",
    "TransitionChoice",
    "virtual_mac",
]

_MAX_PRIORITY = 255
_MAX_GROUP = 255


class RfcEvent(enum.Enum):
    """The events of RFC 2281 §5.5, valued by their letter in the §5.7 table."""

    # Members are singletons: hash by identity, in C (Enum's __hash__ is Python code).
    __hash__ = object.__hash__

    ENABLE = "a"
    """HSRP is configured on an enabled interface."""
    DISABLE = "b"
    """HSRP is disabled on the interface, or the interface is disabled."""
    ACTIVE_TIMER_EXPIRY = "c"
    """The Active timer expired."""
    STANDBY_TIMER_EXPIRY = "d"
    """The Standby timer expired."""
    HELLO_TIMER_EXPIRY = "e"
    """The Hello timer expired."""
    HIGHER_SPEAK_HELLO = "f"
    """A Hello of higher priority from a router in Speak."""
    HIGHER_ACTIVE_HELLO = "g"
    """A Hello of higher priority from the active router."""
    LOWER_ACTIVE_HELLO = "h"
    """A Hello of lower priority from the active router."""
    ACTIVE_RESIGN = "i"
    """A Resign from the active router."""
    HIGHER_COUP = "j"
    """A Coup from a higher-priority router."""
    HIGHER_STANDBY_HELLO = "k"
    """A Hello of higher priority from the standby router."""
    LOWER_STANDBY_HELLO = "l"
    """A Hello of lower priority from the standby router."""


class Action(enum.Enum):
    """The actions of RFC 2281 §5.6, valued by their letter in the §5.7 table."""

    # Members are singletons: hash by identity, in C (Enum's __hash__ is Python code).
    __hash__ = object.__hash__

    START_ACTIVE_TIMER = "A"
    """Start the Active timer (our configured hold time, project rule 2)."""
    START_STANDBY_TIMER = "B"
    """Start the Standby timer (our configured hold time, project rule 2)."""
    STOP_ACTIVE_TIMER = "C"
    """Stop the Active timer."""
    STOP_STANDBY_TIMER = "D"
    """Stop the Standby timer."""
    LEARN_PARAMETERS = "E"
    """Learn the virtual IP from the active router's message, unless configured."""
    SEND_HELLO = "F"
    """Send a Hello carrying the state after the transition."""
    SEND_COUP = "G"
    """Send a Coup carrying the state before the transition."""
    SEND_RESIGN = "H"
    """Send a Resign carrying the state before the transition."""
    GRATUITOUS_ARP = "I"
    """Broadcast a gratuitous ARP for the virtual IP with the virtual MAC (§6.1)."""


class Condition(enum.Enum):
    """What a conditional §5.7 cell depends on."""

    # Members are singletons: hash by identity, in C (Enum's __hash__ is Python code).
    __hash__ = object.__hash__

    VIRTUAL_IP_CONFIGURED = enum.auto()
    """The virtual IP is configured locally (note + of event a)."""
    MAY_PREEMPT = enum.auto()
    """Preempt is configured, its delay has passed and the sync wait is over (note *
    of event h; project rule 5)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TransitionCell:
    """One non-blank cell of the §5.7 table."""

    actions: tuple[Action, ...]
    """Actions in the order the table lists them."""
    next_state: HsrpState | None
    """The state to enter; None when the cell does not change state."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TransitionChoice:
    """A cell whose content depends on a condition (§5.7 notes + and *)."""

    condition: Condition
    """What is tested when the event happens."""
    when_true: TransitionCell
    """The cell when the condition holds."""
    when_false: TransitionCell
    """The cell otherwise."""


def _cell(letters: str, next_state: HsrpState | None = None) -> TransitionCell:
    actions = tuple(Action(letter) for letter in letters.split())
    return TransitionCell(actions=actions, next_state=next_state)


def _choice(
    condition: Condition, when_true: TransitionCell, when_false: TransitionCell
) -> TransitionChoice:
    return TransitionChoice(condition=condition, when_true=when_true, when_false=when_false)


_S = HsrpState
_E = RfcEvent
# Standby × c, also applied by project rule 3 when Standby is entered with no active.
_STANDBY_TAKES_OVER = _cell("C D F I", _S.ACTIVE)
_COMMON_H_CELL = _choice(Condition.MAY_PREEMPT, _cell("B G F I", _S.ACTIVE), _cell("A"))

TRANSITIONS: Mapping[tuple[HsrpState, RfcEvent], TransitionCell | TransitionChoice] = (
    MappingProxyType(
        {
            # RFC 2281 §5.7 row a (note +).
            (_S.INITIAL, _E.ENABLE): _choice(
                Condition.VIRTUAL_IP_CONFIGURED,
                _cell("A B", _S.LISTEN),
                _cell("A B", _S.LEARN),
            ),
            # Row b.
            (_S.LEARN, _E.DISABLE): _cell("C D", _S.INITIAL),
            (_S.LISTEN, _E.DISABLE): _cell("C D", _S.INITIAL),
            (_S.SPEAK, _E.DISABLE): _cell("C D", _S.INITIAL),
            (_S.STANDBY, _E.DISABLE): _cell("C D", _S.INITIAL),
            (_S.ACTIVE, _E.DISABLE): _cell("C D H", _S.INITIAL),
            # Row c.
            (_S.LISTEN, _E.ACTIVE_TIMER_EXPIRY): _cell("A B", _S.SPEAK),
            (_S.STANDBY, _E.ACTIVE_TIMER_EXPIRY): _STANDBY_TAKES_OVER,
            # Row d.
            (_S.LISTEN, _E.STANDBY_TIMER_EXPIRY): _cell("B", _S.SPEAK),
            (_S.SPEAK, _E.STANDBY_TIMER_EXPIRY): _cell("D", _S.STANDBY),
            # Row e.
            (_S.SPEAK, _E.HELLO_TIMER_EXPIRY): _cell("F"),
            (_S.STANDBY, _E.HELLO_TIMER_EXPIRY): _cell("F"),
            (_S.ACTIVE, _E.HELLO_TIMER_EXPIRY): _cell("F"),
            # Row f.
            (_S.SPEAK, _E.HIGHER_SPEAK_HELLO): _cell("B", _S.LISTEN),
            (_S.STANDBY, _E.HIGHER_SPEAK_HELLO): _cell("B", _S.LISTEN),
            # Row g.
            (_S.LEARN, _E.HIGHER_ACTIVE_HELLO): _cell("E A B", _S.LISTEN),
            (_S.LISTEN, _E.HIGHER_ACTIVE_HELLO): _cell("E A"),
            (_S.SPEAK, _E.HIGHER_ACTIVE_HELLO): _cell("E A"),
            (_S.STANDBY, _E.HIGHER_ACTIVE_HELLO): _cell("E A"),
            (_S.ACTIVE, _E.HIGHER_ACTIVE_HELLO): _cell("A B", _S.SPEAK),
            # Row h (note *: "same as Listen" in Speak and Standby).
            (_S.LEARN, _E.LOWER_ACTIVE_HELLO): _cell("E A B", _S.LISTEN),
            (_S.LISTEN, _E.LOWER_ACTIVE_HELLO): _COMMON_H_CELL,
            (_S.SPEAK, _E.LOWER_ACTIVE_HELLO): _COMMON_H_CELL,
            (_S.STANDBY, _E.LOWER_ACTIVE_HELLO): _COMMON_H_CELL,
            (_S.ACTIVE, _E.LOWER_ACTIVE_HELLO): _cell("G"),
            # Row i.
            (_S.LISTEN, _E.ACTIVE_RESIGN): _cell("A B", _S.SPEAK),
            (_S.SPEAK, _E.ACTIVE_RESIGN): _cell("A"),
            (_S.STANDBY, _E.ACTIVE_RESIGN): _cell("C F I", _S.ACTIVE),
            # Row j.
            (_S.ACTIVE, _E.HIGHER_COUP): _cell("A B H", _S.SPEAK),
            # Row k.
            (_S.LISTEN, _E.HIGHER_STANDBY_HELLO): _cell("B"),
            (_S.SPEAK, _E.HIGHER_STANDBY_HELLO): _cell("B", _S.LISTEN),
            (_S.STANDBY, _E.HIGHER_STANDBY_HELLO): _cell("B", _S.LISTEN),
            (_S.ACTIVE, _E.HIGHER_STANDBY_HELLO): _cell("B"),
            # Row l.
            (_S.LISTEN, _E.LOWER_STANDBY_HELLO): _cell("B", _S.SPEAK),
            (_S.SPEAK, _E.LOWER_STANDBY_HELLO): _cell("D", _S.STANDBY),
            (_S.ACTIVE, _E.LOWER_STANDBY_HELLO): _cell("B"),
        }
    )
)
"""RFC 2281 §5.7: every non-blank ``(state, event)`` cell."""

BLANK_CELLS: frozenset[tuple[HsrpState, RfcEvent]] = frozenset(
    (state, event) for state in HsrpState for event in RfcEvent if (state, event) not in TRANSITIONS
)
"""The §5.7 cells that are empty: the event is ignored in that state."""


def virtual_mac(group: int) -> bytes:
    """The group's well-known virtual MAC ``00:00:0c:07:ac:XX`` (RFC 2281 §6.1)."""
    return bytes((0x00, 0x00, 0x0C, 0x07, 0xAC, group))


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackedInterface:
    """``standby N track IFACE [DECREMENT]``: lower the priority while IFACE is down."""

    interface: str
    """Canonical interface name, e.g. FastEthernet0/1."""
    decrement: int = 10
    """Priority decrement 1-255 while the interface is down (Cisco default 10)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HsrpGroupConfig:
    """What one speaker needs to know about its group (RFC 2281 §5.2)."""

    group: int
    """Standby group number 0-255."""
    address: IPv4Address
    """Our interface address: the source of our messages and the tie-breaker."""
    virtual_ip: IPv4Address | None = None
    """Configured virtual IP; None to learn it from the active router."""
    priority: int = 100
    """Configured priority 1-255 (Cisco default 100)."""
    preempt: bool = False
    """Take over from a lower-priority active router with a Coup."""
    preempt_delay_minimum_ms: int = 0
    """Milliseconds ≥ 0 after enabling before preemption is allowed."""
    preempt_delay_reload_ms: int = 0
    """Milliseconds ≥ 0 that replace the minimum for the first enable after boot (0: none)."""
    preempt_delay_sync_ms: int = 0
    """Longest wait, ms ≥ 0, for the redundancy clients to be synchronised (0: none)."""
    hello_ms: int = 3000
    """Hello time, ms ≥ 1 (RFC 2281 recommends 3 s)."""
    hold_ms: int = 10000
    """Hold time, ms > hello time (RFC 2281 recommends 10 s)."""
    authentication: bytes = DEFAULT_AUTHENTICATION
    """Authentication data, exactly 8 octets (default "cisco" + 3 NUL)."""
    tracks: tuple[TrackedInterface, ...] = ()
    """Tracked interfaces and the decrement each costs while down."""

    def __post_init__(self) -> None:
        problems = []
        if not 0 <= self.group <= _MAX_GROUP:
            problems.append(f"group {self.group} outside 0-{_MAX_GROUP}")
        if not 1 <= self.priority <= _MAX_PRIORITY:
            problems.append(f"priority {self.priority} outside 1-{_MAX_PRIORITY}")
        for word, delay in (
            ("minimum", self.preempt_delay_minimum_ms),
            ("reload", self.preempt_delay_reload_ms),
            ("sync", self.preempt_delay_sync_ms),
        ):
            if delay < 0:
                problems.append(f"preempt delay {word} {delay} ms is negative")
        if self.hello_ms < 1:
            problems.append(f"hello time {self.hello_ms} ms is below 1 ms")
        if self.hold_ms <= self.hello_ms:
            problems.append(
                f"hold time {self.hold_ms} ms is not above hello time {self.hello_ms} ms"
            )
        if len(self.authentication) != AUTHENTICATION_LENGTH:
            problems.append(f"authentication {self.authentication!r} is not 8 octets")
        for track in self.tracks:
            if not 1 <= track.decrement <= _MAX_PRIORITY:
                problems.append(
                    f"track {track.interface} decrement {track.decrement} outside 1-{_MAX_PRIORITY}"
                )
        if problems:
            raise LocalProtocolError("invalid HSRP group configuration: " + "; ".join(problems))

    @classmethod
    def from_standby(cls, interface: InterfaceConfig, standby: StandbyGroup) -> HsrpGroupConfig:
        """The speaker configuration of ``standby`` on ``interface`` (parsed IOS)."""
        if interface.address is None:
            msg = f"interface {interface.name} has no IP address for HSRP group {standby.group}"
            raise LocalProtocolError(msg)
        return cls(
            group=standby.group,
            address=interface.address.ip,
            virtual_ip=standby.virtual_ip,
            priority=standby.priority,
            preempt=standby.preempt,
            preempt_delay_minimum_ms=standby.preempt_delay_minimum_s * 1000,
            preempt_delay_reload_ms=standby.preempt_delay_reload_s * 1000,
            preempt_delay_sync_ms=standby.preempt_delay_sync_s * 1000,
            hello_ms=standby.hello_ms,
            hold_ms=standby.hold_ms,
            authentication=authentication_octets(standby.authentication),
            tracks=tuple(
                TrackedInterface(interface=track.interface, decrement=track.decrement)
                for track in standby.tracks
            ),
        )


class DropReason(enum.Enum):
    """Why a received datagram produced no event (counted, RFC 2281 §5.4, §7)."""

    # Members are singletons: hash by identity, in C (Enum's __hash__ is Python code).
    __hash__ = object.__hash__

    MALFORMED = "malformed"
    """Not an RFC 2281 message (see :func:`~.wire.decode`)."""
    OWN_ADDRESS = "own address"
    """Sent from our own interface address (our multicast looped back)."""
    WRONG_GROUP = "wrong group"
    """For another standby group."""
    BAD_AUTHENTICATION = "bad authentication"
    """Authentication data differs from ours: not an authenticated message."""
    NO_VIRTUAL_IP = "no virtual ip"
    """Carries no virtual IP while ours is unknown: it can teach nothing."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChanged:
    """The speaker moved to another state."""

    at_ms: int
    """When, in ms."""
    old_state: HsrpState
    """The state left."""
    new_state: HsrpState
    """The state entered."""
    event: RfcEvent
    """The §5.5 event that caused it."""
    cell: str
    """The §5.7 cell applied, e.g. "RFC 2281 §5.7, event c in Standby"."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GratuitousArpNeeded:
    """Action I: the driver must broadcast a gratuitous ARP reply (RFC 2281 §6.1)."""

    at_ms: int
    """When, in ms."""
    virtual_ip: IPv4Address
    """The address being claimed."""
    virtual_mac: bytes
    """The 6-octet virtual MAC, as source MAC in the Ethernet header and ARP body."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageDropped:
    """A received datagram was dropped and counted."""

    at_ms: int
    """When, in ms."""
    source: IPv4Address
    """The datagram's source address."""
    reason: DropReason
    """Which counter it went to."""
    detail: str
    """Human-readable explanation (for malformed ones, the decoder's message)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PriorityChanged:
    """The effective priority changed (configuration or interface tracking)."""

    at_ms: int
    """When, in ms."""
    old_priority: int
    """Effective priority before, 0-255."""
    new_priority: int
    """Effective priority after, 0-255."""


HsrpEvent = StateChanged | GratuitousArpNeeded | MessageDropped | PriorityChanged
"""Everything :meth:`HsrpGroup.next_event` can return."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerDeadlines:
    """The running timers' deadlines, absolute ms (None = not running)."""

    enable_ms: int | None
    """Scheduled event a (``standby delay``)."""
    active_ms: int | None
    """Active timer (§5.4)."""
    standby_ms: int | None
    """Standby timer (§5.4)."""
    hello_ms: int | None
    """Hello timer (§5.4)."""


class _Timer(enum.IntEnum):
    # Values are the firing order of deadlines due at the same instant (project rule 2).
    ENABLE = 0
    ACTIVE = 1
    STANDBY = 2
    HELLO = 3


_TIMER_EVENTS = {
    _Timer.ENABLE: RfcEvent.ENABLE,
    _Timer.ACTIVE: RfcEvent.ACTIVE_TIMER_EXPIRY,
    _Timer.STANDBY: RfcEvent.STANDBY_TIMER_EXPIRY,
    _Timer.HELLO: RfcEvent.HELLO_TIMER_EXPIRY,
}


class HsrpGroup:
    """An RFC 2281 speaker for one group on one interface, sans-IO (DESIGN §3).

    Feed it ``enable``/``disable``, received payloads and timer expiries; collect
    payloads for 224.0.0.2 UDP 1985, TTL 1 from :meth:`datagrams_to_send` and
    events from :meth:`next_event`; call :meth:`handle_timer` at :meth:`get_timer`.
    """

    def __init__(
        self,
        config: HsrpGroupConfig,
        entropy: Entropy,
        *,
        clients_synchronised: Callable[[], bool] | None = None,
    ) -> None:
        """``clients_synchronised`` says whether the group's IP redundancy clients are
        synchronised (``preempt delay sync``); None: the group has none, nothing to wait
        for. A speaker lives from one boot of its router to the next (``preempt delay
        reload`` applies to its first enable)."""
        self._config = config
        self._entropy = entropy
        self._clients_synchronised = clients_synchronised
        self._enables = 0
        self._sync_wait_from_ms: int | None = None
        self._state = HsrpState.INITIAL
        self._learned_virtual_ip: IPv4Address | None = None
        self._down_interfaces: set[str] = set()
        self._deadlines: dict[_Timer, int] = {}
        self._enabled_at_ms: int | None = None
        self._active_router: IPv4Address | None = None
        self._standby_router: IPv4Address | None = None
        self._outgoing: list[bytes] = []
        self._events: deque[HsrpEvent] = deque()
        self._drops = dict.fromkeys(DropReason, 0)

    # -- read-only view (``show standby brief``) ---------------------------------------

    @property
    def config(self) -> HsrpGroupConfig:
        """The current configuration (``set_priority``/``set_preempt`` replace it)."""
        return self._config

    @property
    def group(self) -> int:
        """Standby group number."""
        return self._config.group

    @property
    def address(self) -> IPv4Address:
        """Our interface address."""
        return self._config.address

    @property
    def state(self) -> HsrpState:
        """The current state (§5.3)."""
        return self._state

    @property
    def priority(self) -> int:
        """The configured priority 1-255."""
        return self._config.priority

    @property
    def effective_priority(self) -> int:
        """The priority we advertise: configured minus down tracked interfaces, ≥ 0."""
        if not self._down_interfaces:
            return max(0, self._config.priority)  # the usual case, asked at every hello
        lost = sum(
            track.decrement
            for track in self._config.tracks
            if track.interface in self._down_interfaces
        )
        return max(0, self._config.priority - lost)

    @property
    def preempt(self) -> bool:
        """Preempt is configured."""
        return self._config.preempt

    @property
    def preempt_delay_ms(self) -> int:
        """The preempt delay in force for the current enable (project rule 5): reload for
        the first enable since boot when configured, otherwise minimum."""
        reload_ms = self._config.preempt_delay_reload_ms
        if self._enables <= 1 and reload_ms > 0:
            return reload_ms
        return self._config.preempt_delay_minimum_ms

    @property
    def sync_wait_from_ms(self) -> int | None:
        """When the wait for the redundancy clients began (``preempt delay sync``), ms;
        None when the group is not waiting."""
        return self._sync_wait_from_ms

    @property
    def virtual_ip(self) -> IPv4Address | None:
        """The virtual IP, configured or learned; None while unknown."""
        if self._config.virtual_ip is not None:
            return self._config.virtual_ip
        return self._learned_virtual_ip

    @property
    def active_router(self) -> IPv4Address | None:
        """The active router's interface address (ours when Active); None if unknown."""
        if self._state is HsrpState.ACTIVE:
            return self._config.address
        return self._active_router

    @property
    def standby_router(self) -> IPv4Address | None:
        """The standby router's interface address (ours when Standby); None if unknown."""
        if self._state is HsrpState.STANDBY:
            return self._config.address
        return self._standby_router

    @property
    def timers(self) -> TimerDeadlines:
        """Deadlines of the running timers."""
        return TimerDeadlines(
            enable_ms=self._deadlines.get(_Timer.ENABLE),
            active_ms=self._deadlines.get(_Timer.ACTIVE),
            standby_ms=self._deadlines.get(_Timer.STANDBY),
            hello_ms=self._deadlines.get(_Timer.HELLO),
        )

    @property
    def drops(self) -> Mapping[DropReason, int]:
        """Received datagrams dropped so far, by reason."""
        return MappingProxyType(dict(self._drops))

    # -- administrative inputs ---------------------------------------------------------

    def enable(self, now: int) -> None:
        """Event a: HSRP configured on an enabled interface (cancels ``enable_after``)."""
        self._deadlines.pop(_Timer.ENABLE, None)
        self._dispatch(RfcEvent.ENABLE, now)

    def enable_after(self, delay_ms: int, now: int) -> None:
        """Schedule event a ``delay_ms`` from now (``standby delay minimum/reload``)."""
        if delay_ms < 0:
            msg = f"enable delay {delay_ms} ms is negative"
            raise LocalProtocolError(msg)
        self._deadlines[_Timer.ENABLE] = now + delay_ms

    def disable(self, now: int) -> None:
        """Event b: HSRP or the interface disabled (cancels ``enable_after``)."""
        self._deadlines.pop(_Timer.ENABLE, None)
        self._dispatch(RfcEvent.DISABLE, now)

    def set_tracked_interface(self, name: str, up: bool, now: int) -> None:
        """A tracked interface went up or down; other interfaces are ignored."""
        with contextlib.suppress(ValueError):  # not an interface name: matched as given
            name = canonical_interface_name(name)
        if not any(track.interface == name for track in self._config.tracks):
            return
        if mutants.active("hsrp-tracking-ignored"):
            return
        before = self.effective_priority
        if up:
            self._down_interfaces.discard(name)
        else:
            self._down_interfaces.add(name)
        self._note_priority(before, now)

    def set_priority(self, priority: int, now: int) -> None:
        """``standby N priority P``: change the configured priority (1-255)."""
        before = self.effective_priority
        self._config = replace(self._config, priority=priority)
        self._note_priority(before, now)

    def set_preempt(self, preempt: bool, now: int, *, delay_minimum_ms: int | None = None) -> None:
        """``[no] standby N preempt [delay minimum S]``; the delay is kept when None."""
        delay = delay_minimum_ms
        if delay is None:
            delay = self._config.preempt_delay_minimum_ms
        self._config = replace(self._config, preempt=preempt, preempt_delay_minimum_ms=delay)

    # -- network and time inputs --------------------------------------------------------

    def receive_datagram(self, data: bytes, src: IPv4Address, now: int) -> None:
        """A UDP 1985 payload from ``src``; bad input is counted, never raised."""
        try:
            packet = decode(data)
        except HsrpDecodeError as error:
            self._drop(DropReason.MALFORMED, src, str(error), now)
            return
        if src == self._config.address:
            self._drop(DropReason.OWN_ADDRESS, src, "sent from our own address", now)
            return
        if packet.group != self._config.group:
            self._drop(DropReason.WRONG_GROUP, src, f"group {packet.group}", now)
            return
        if packet.authentication != self._config.authentication:
            self._drop(
                DropReason.BAD_AUTHENTICATION, src, f"authentication {packet.authentication!r}", now
            )
            return
        if self._state is HsrpState.INITIAL:
            return  # HSRP is not running here: every Initial cell of rows f-l is blank.
        if self.virtual_ip is None and packet.virtual_ip is None:
            self._drop(DropReason.NO_VIRTUAL_IP, src, "virtual IP unknown to both", now)
            return
        self._note_peer(packet, src)
        event = self._classify(packet, src)
        if event is not None:
            self._dispatch(event, now, packet)

    def handle_timer(self, now: int) -> None:
        """Fire every deadline due at ``now``, earliest first (ties: project rule 2)."""
        while True:
            due = [
                (deadline, timer) for timer, deadline in self._deadlines.items() if deadline <= now
            ]
            if not due:
                return
            _, timer = min(due)
            del self._deadlines[timer]
            if timer is _Timer.ACTIVE:
                self._active_router = None
            elif timer is _Timer.STANDBY:
                self._standby_router = None
            elif timer is _Timer.HELLO:
                self._arm_hello(now)
            self._dispatch(_TIMER_EVENTS[timer], now)

    # -- outputs ------------------------------------------------------------------------

    def get_timer(self) -> int | None:
        """The earliest deadline in ms, or None when no timer runs."""
        return min(self._deadlines.values(), default=None)

    def datagrams_to_send(self, now: int) -> list[bytes]:
        """Payloads to send to 224.0.0.2 UDP 1985 with TTL 1, in order; clears the queue."""
        outgoing, self._outgoing = self._outgoing, []
        return outgoing

    def next_event(self) -> HsrpEvent | None:
        """The oldest event not yet taken, or None."""
        return self._events.popleft() if self._events else None

    # -- the §5.7 machine ---------------------------------------------------------------

    def _classify(self, packet: HsrpPacket, src: IPv4Address) -> RfcEvent | None:
        # §5.5 events f-l; "higher" is (priority, IP address) against ours (§5.1).
        ours = (self.effective_priority, int(self._config.address))
        theirs = (packet.priority, int(src))
        if mutants.active("hsrp-tie-break-lower-ip"):
            ours, theirs = (ours[0], -ours[1]), (theirs[0], -theirs[1])
        higher = theirs > ours
        if packet.op_code is OpCode.HELLO:
            if packet.state is HsrpState.SPEAK:
                return RfcEvent.HIGHER_SPEAK_HELLO if higher else None
            if packet.state is HsrpState.ACTIVE:
                return RfcEvent.HIGHER_ACTIVE_HELLO if higher else RfcEvent.LOWER_ACTIVE_HELLO
            if packet.state is HsrpState.STANDBY:
                return RfcEvent.HIGHER_STANDBY_HELLO if higher else RfcEvent.LOWER_STANDBY_HELLO
            return None
        if packet.op_code is OpCode.RESIGN:
            return RfcEvent.ACTIVE_RESIGN if packet.state is HsrpState.ACTIVE else None
        return RfcEvent.HIGHER_COUP if higher else None

    def _dispatch(self, event: RfcEvent, now: int, packet: HsrpPacket | None = None) -> None:
        entry = TRANSITIONS.get((self._state, event))
        if entry is None:
            return  # a blank §5.7 cell
        cell = entry if isinstance(entry, TransitionCell) else self._choose(entry, now)
        self._apply(cell, event, now, packet, _cell_label(event, self._state))

    def _choose(self, choice: TransitionChoice, now: int) -> TransitionCell:
        if choice.condition is Condition.VIRTUAL_IP_CONFIGURED:
            holds = self._config.virtual_ip is not None
        else:
            holds = self._may_preempt(now)
        return choice.when_true if holds else choice.when_false

    def _may_preempt(self, now: int) -> bool:
        # Project rule 5: the delay in force, then the wait for the redundancy clients.
        if (
            not self._config.preempt
            or mutants.active("hsrp-preempt-ignored")
            or self._enabled_at_ms is None
            or now - self._enabled_at_ms < self.preempt_delay_ms
        ):
            self._sync_wait_from_ms = None
            return False
        sync_ms = self._config.preempt_delay_sync_ms
        probe = self._clients_synchronised
        if sync_ms == 0 or probe is None or probe():
            self._sync_wait_from_ms = None
            return True
        if self._sync_wait_from_ms is None:
            self._sync_wait_from_ms = now
        return now - self._sync_wait_from_ms >= sync_ms

    def _apply(
        self,
        cell: TransitionCell,
        event: RfcEvent,
        now: int,
        packet: HsrpPacket | None,
        label: str,
    ) -> None:
        old_state = self._state
        send_hello = False
        announce = False
        for action in cell.actions:
            match action:
                case Action.START_ACTIVE_TIMER:
                    self._deadlines[_Timer.ACTIVE] = now + self._config.hold_ms
                    if mutants.active("hsrp-hold-off-by-one-hello"):
                        self._deadlines[_Timer.ACTIVE] += self._config.hello_ms
                case Action.START_STANDBY_TIMER:
                    self._deadlines[_Timer.STANDBY] = now + self._config.hold_ms
                case Action.STOP_ACTIVE_TIMER:
                    self._deadlines.pop(_Timer.ACTIVE, None)
                    self._active_router = None
                case Action.STOP_STANDBY_TIMER:
                    self._deadlines.pop(_Timer.STANDBY, None)
                    self._standby_router = None
                case Action.LEARN_PARAMETERS:
                    if packet is not None and packet.virtual_ip is not None:
                        self._learned_virtual_ip = packet.virtual_ip
                case Action.SEND_HELLO:
                    send_hello = True  # carries the state after the transition (rule 4)
                case Action.SEND_COUP:
                    self._send(OpCode.COUP, old_state)
                case Action.SEND_RESIGN:
                    self._send(OpCode.RESIGN, old_state)
                case Action.GRATUITOUS_ARP:
                    announce = True
        if cell.next_state is not None and cell.next_state is not old_state:
            self._enter(cell.next_state, event, now, label)
        if self._state is HsrpState.STANDBY and mutants.active("hsrp-standby-answers-vip"):
            announce = send_hello or announce  # claims the virtual MAC with every hello
        if send_hello:
            self._send(OpCode.HELLO, self._state)
        if announce and self.virtual_ip is not None:
            self._events.append(
                GratuitousArpNeeded(
                    at_ms=now,
                    virtual_ip=self.virtual_ip,
                    virtual_mac=virtual_mac(self._config.group),
                )
            )
        if (
            self._state is HsrpState.STANDBY
            and old_state is not HsrpState.STANDBY
            and _Timer.ACTIVE not in self._deadlines
        ):
            # Project rule 3 (protocols.md §1.8 gap 1): no active router is being
            # monitored, so nobody would ever fire c; do Standby × c now.
            gap_event = RfcEvent.ACTIVE_TIMER_EXPIRY
            label = _cell_label(gap_event, HsrpState.STANDBY) + " (gap rule: no Active timer)"
            self._apply(_STANDBY_TAKES_OVER, gap_event, now, None, label)

    def _enter(self, new_state: HsrpState, event: RfcEvent, now: int, label: str) -> None:
        old_state = self._state
        self._state = new_state
        if new_state in (HsrpState.INITIAL, HsrpState.ACTIVE):
            self._sync_wait_from_ms = None  # rule 5: a wait ends with the election
        if new_state is HsrpState.INITIAL:
            # HSRP stops: no Hello timer, and a learned virtual IP is forgotten (rule 6).
            self._deadlines.pop(_Timer.HELLO, None)
            self._learned_virtual_ip = None
            self._active_router = None
            self._standby_router = None
            self._enabled_at_ms = None
        elif old_state is HsrpState.INITIAL:
            self._enabled_at_ms = now
            self._enables += 1
            self._arm_hello(now)
        self._events.append(
            StateChanged(
                at_ms=now, old_state=old_state, new_state=new_state, event=event, cell=label
            )
        )

    # -- helpers --------------------------------------------------------------------------

    def _arm_hello(self, now: int) -> None:
        # §5.4: the Hello timer MUST be jittered; up to a quarter of the hello time early.
        hello_ms = self._config.hello_ms
        jitter = self._entropy.randbelow(max(1, hello_ms // 4))
        self._deadlines[_Timer.HELLO] = now + hello_ms - jitter

    def _send(self, op_code: OpCode, state: HsrpState) -> None:
        packet = HsrpPacket(
            op_code=op_code,
            state=state,
            hello_time_s=timer_seconds_on_wire(self._config.hello_ms),
            hold_time_s=timer_seconds_on_wire(self._config.hold_ms),
            priority=self.effective_priority,
            group=self._config.group,
            authentication=self._config.authentication,
            virtual_ip=self.virtual_ip,
        )
        self._outgoing.append(encode(packet))

    def _note_peer(self, packet: HsrpPacket, src: IPv4Address) -> None:
        # Who is active / standby, for show standby; the machine does not use it.
        if packet.op_code is OpCode.HELLO and packet.state is HsrpState.ACTIVE:
            self._active_router = src
            if self._standby_router == src:
                self._standby_router = None
        elif packet.op_code is OpCode.HELLO and packet.state is HsrpState.STANDBY:
            self._standby_router = src
            if self._active_router == src:
                self._active_router = None
        elif packet.op_code is OpCode.RESIGN and self._active_router == src:
            self._active_router = None

    def _note_priority(self, before: int, now: int) -> None:
        after = self.effective_priority
        if after != before:
            self._events.append(PriorityChanged(at_ms=now, old_priority=before, new_priority=after))

    def _drop(self, reason: DropReason, src: IPv4Address, detail: str, now: int) -> None:
        self._drops[reason] += 1
        self._events.append(MessageDropped(at_ms=now, source=src, reason=reason, detail=detail))


@functools.cache  # a handful of labels, wanted at every event
def _cell_label(event: RfcEvent, state: HsrpState) -> str:
    return f"RFC 2281 §5.7, event {event.value} in {state.name.title()}"
