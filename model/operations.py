"""The operation vocabulary: everything the harness can do to the cluster (DESIGN §6).

Every nondeterministic choice (which message is lost, SPIs, cookies, how long
time advances) is a field of an operation, so a run is a list of operations and
replays exactly. Routers are named by index (0 or 1).
"""

from __future__ import annotations

from dataclasses import dataclass

from .params import GroupSide

__all__ = [
    "Advance",
    "AdvanceToNextEvent",
    "Crash",
    "DelayHello",
    "Delete",
    "DpdProbe",
    "DropHello",
    "DuplicateHello",
    "Establish",
    "ExpireSoonest",
    "ForgeCaptured",
    "Heal",
    "InterfaceDown",
    "InterfaceUp",
    "Operation",
    "Partition",
    "ReceiveTraffic",
    "Rekey",
    "ReplayCaptured",
    "ReplayOld",
    "Restart",
    "Resync",
    "SendTraffic",
    "SetPreempt",
    "SetPriority",
    "SspCut",
    "SspDelay",
    "SspHeal",
    "SspSilent",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Advance:
    """Let ``ms`` milliseconds pass, processing every timer and delivery on the way."""

    ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AdvanceToNextEvent:
    """Jump to the next pending deadline or delivery and process it (no-op if none)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Crash:
    """Power off a router: volatile state (HSRP, SSP, SAs) is lost, nothing more is sent
    (HSRP messages already on the wire still arrive)."""

    router: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Restart:
    """Boot a crashed router with its configuration; HSRP starts after ``standby delay reload``."""

    router: int


@dataclass(frozen=True, slots=True, kw_only=True)
class InterfaceDown:
    """Shut an interface (HSRP event b; tracking lowers the other group's priority)."""

    router: int
    side: GroupSide


@dataclass(frozen=True, slots=True, kw_only=True)
class InterfaceUp:
    """Bring an interface up (HSRP starts after ``standby delay minimum``)."""

    router: int
    side: GroupSide


@dataclass(frozen=True, slots=True, kw_only=True)
class Partition:
    """Split a segment between the two routers: HSRP messages on it are lost.

    SSP runs over the inside segment (its ``remote`` is the peer's inside
    address), so partitioning the inside also silences SSP.
    """

    side: GroupSide


@dataclass(frozen=True, slots=True, kw_only=True)
class Heal:
    """Rejoin a partitioned segment."""

    side: GroupSide


@dataclass(frozen=True, slots=True, kw_only=True)
class DropHello:
    """Lose the in-flight HSRP message at ``index`` (modulo the number in flight)."""

    index: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DuplicateHello:
    """Deliver the in-flight HSRP message at ``index`` twice."""

    index: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DelayHello:
    """Delay the in-flight HSRP message at ``index`` by ``ms`` (reorders it)."""

    index: int
    ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SspCut:
    """Tear the SSP connection down; both ends learn at once (TCP reset)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SspSilent:
    """The SSP link silently stops delivering; each end learns only by its dead timer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SspHeal:
    """The SSP link works again (a new connection follows on the next attempt)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SspDelay:
    """Set the SSP one-way delivery time to ``ms`` for messages sent from now on."""

    ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Establish:
    """The remote peer negotiates a new SA pair with the outside virtual IP (IKE + Quick Mode)."""

    sa_id: int
    spi_in: int
    spi_out: int
    cookie_i: int
    cookie_r: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Rekey:
    """Replace SA ``sa_id`` by a new pair ``new_sa_id`` (old one deleted)."""

    sa_id: int
    new_sa_id: int
    spi_in: int
    spi_out: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Delete:
    """Delete SA ``sa_id`` (``clear crypto sa`` or an informational delete from the peer)."""

    sa_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpireSoonest:
    """Advance time to the earliest SA lifetime expiry (no-op if there is no SA)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendTraffic:
    """The LAN host sends ``packets`` packets of ``size`` bytes to the remote LAN (permit ACL)."""

    packets: int
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiveTraffic:
    """The remote peer sends ``packets`` ESP packets of ``size`` bytes to the outside VIP."""

    packets: int
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayCaptured:
    """An attacker on the outside segment re-sends a captured peer packet (chosen by ``pick``)."""

    pick: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayOld:
    """An attacker re-sends the captured peer packet sent ``age`` packets before the newest
    one (0: the newest): boundary values of the replay window (RFC 4303 §3.4.3)."""

    age: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ForgeCaptured:
    """An attacker re-sends one of the newest captured peer packets (chosen by ``pick``) with
    its sequence number raised by ``ahead``: the integrity check fails, so it must change
    nothing."""

    pick: int
    ahead: int
    """How far the forged sequence number is above the captured one (1 or more)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Resync:
    """``clear crypto isakmp ha standby resync`` and ``clear crypto sa ha standby resync``."""

    router: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SetPriority:
    """``standby N priority P`` on one router and side."""

    router: int
    side: GroupSide
    priority: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SetPreempt:
    """``[no] standby N preempt`` on one router and side."""

    router: int
    side: GroupSide
    preempt: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class DpdProbe:
    """A DPD R-U-THERE (RFC 3706): from the peer to the cluster, or from the cluster to the peer."""

    from_peer: bool


Operation = (
    Advance
    | AdvanceToNextEvent
    | Crash
    | Restart
    | InterfaceDown
    | InterfaceUp
    | Partition
    | Heal
    | DropHello
    | DuplicateHello
    | DelayHello
    | SspCut
    | SspSilent
    | SspHeal
    | SspDelay
    | Establish
    | Rekey
    | Delete
    | ExpireSoonest
    | SendTraffic
    | ReceiveTraffic
    | ReplayCaptured
    | ReplayOld
    | ForgeCaptured
    | Resync
    | SetPriority
    | SetPreempt
    | DpdProbe
)
