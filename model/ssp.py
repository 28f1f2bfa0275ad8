"""SSP, the State Synchronization Protocol, as the model sees it: a connection, a role, messages.

Theory of operation
-------------------
SSP runs over one TCP connection between the two routers (``ssp group`` with its
``remote`` and ``port``). The model does not see bytes or segments: a connection
is a reliable FIFO channel in each direction that exists in *epochs*. Only the
router with the lower inside address (the client) opens connections, on a fixed
period ``ssp_retry_ms`` from its last attempt while it has none. An attempt made
while both routers are up and the path works reaches the other end one latency
later (if the path still works then), which accepts it and writes its ``Hello``;
the client learns one latency after that and writes its own ``Hello``. An end
answers the other's ``Hello`` with a ``Confirm`` and is connected once that
``Confirm`` has come back (the server three latencies after the attempt, the
client four); a refused or unreachable attempt is known to the client two latencies
after it was made. Between acceptance and being connected an end is *opening*: its
dead timer runs, nothing else is sent. An epoch ends when the link is cut (a reset:
both ends learn at once, whatever was in flight is lost), when either end crashes
(what it had in flight dies with it; the other end learns by its dead timer), or
when one end closes it — its dead timer found ``ssp_dead_ms`` of silence, or it
received something the protocol forbids: it sends ``Close``, which arrives after
everything it wrote before, and the other end closes on receiving it. A message
sent to an end that has closed is dropped there. While the path is down (an inside
interface shut, the inside segment partitioned, or SSP silenced) messages are not
lost but wait, as TCP retransmits them: when the path returns they arrive in
order, one latency later, if the receiving end is still on that epoch. A message
on the wire when the path fails still arrives if an interface went down, and
waits too if SSP was silenced (the packets on the wire were lost and are sent
again). Both ends send a keepalive every ``ssp_hello_ms``.

The *device role* follows the HSRP groups named by ``redundancy``: ACTIVE when
every one is Active, STANDBY when every one is Standby, otherwise NONE
(document: "Device has been ACTIVE for …").

Two clients use the channel (``show ssp client``): DOI 1 IPsec HA Manager and DOI
2 IKE HA Manager. Replication messages go from the ACTIVE device to the other;
the receiver applies them only if it is not ACTIVE itself, and acknowledges
what it applied.

When replication starts. Each end announces its role when a connection starts and
whenever the role changes (``Announce``). An ACTIVE router sends the other a full
copy (``BulkBegin`` then one ``Add`` per SA) when it learns that the other end is
not ACTIVE and either this is a new connection or the other end has just left
ACTIVE, or it has itself just become ACTIVE (it asks for an answer so that it
replicates only to an end that is alive); a ``BulkEnd`` closes the copy. An end that
is not ACTIVE raises its standby copies to the counters an announcement carries (the
announcing end's truth, e.g. as it leaves ACTIVE), so its next takeover jumps from
there. Until that copy is sent the ACTIVE end replicates nothing, and its SAs carry no
hold-back (``sadb`` rule 1): the other end holds only stale copies, which are never
promoted.

In step. SSP is the HSRP groups' redundancy client (``standby N preempt delay sync``):
an end is *in step* with the other when it holds everything the other could copy to
it. It must be connected and have heard the other's ``Announce``; then, if the other
is not ACTIVE, there is nothing to copy (it carries no traffic), and if it is ACTIVE,
a whole copy (``BulkBegin`` … ``BulkEnd``) must have arrived since it announced that
it became ACTIVE. A ``BulkBegin`` that starts another copy, or a resync, puts the end
out of step until that copy's ``BulkEnd``.

Counters per router, as ``show crypto isakmp ssp`` shows them: ADDS and DELETES
count IKE SA adds and deletes applied (standby) or sent (active); a resync
(``clear crypto isakmp ha standby resync``) zeroes them, and REQUESTS / REPLIES
count the IKE SA entries a resync asked for and the entries actually applied
(fewer replies than requests means the resync did not complete).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from .hsrp import Phase
from .sadb import IkeSa, IpsecSa, Kind

__all__ = [
    "DOI_IKE",
    "DOI_IPSEC",
    "Ack",
    "Add",
    "Announce",
    "BulkBegin",
    "BulkEnd",
    "Delete",
    "Heartbeat",
    "Refuse",
    "ResyncRequest",
    "Role",
    "SspCounters",
    "SspMessage",
    "Update",
    "Values",
    "device_role",
]

DOI_IPSEC = 1
"""``show ssp client``: IPsec HA Manager."""
DOI_IKE = 2
"""``show ssp client``: IKE HA Manager."""


class Role(enum.Enum):
    """SSP device role (``show ssp redundancy``)."""

    # Members are singletons: hash by identity, in C (Enum's __hash__ is Python code).
    __hash__ = object.__hash__

    ACTIVE = "ACTIVE"
    STANDBY = "STANDBY"
    NONE = "NONE"


def device_role(phases: Sequence[Phase]) -> Role:
    """ACTIVE iff every named group is Active, STANDBY iff every one is Standby."""
    named = set(phases)  # empty when no group is named: neither
    if named == {Phase.ACTIVE}:
        return Role.ACTIVE
    if named == {Phase.STANDBY}:
        return Role.STANDBY
    return Role.NONE


@dataclass(frozen=True, slots=True, kw_only=True)
class Hello:
    """The first message of each end on a new connection (it carries the end's credentials)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Confirm:
    """The answer to the other end's ``Hello``: the connection is up once each end has
    received the other's ``Hello`` and then its ``Confirm``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Close:
    """The sender ended the connection (TCP's FIN): it arrives after everything the sender
    wrote before it, and the receiver's end closes too."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat:
    """Keepalive; refreshes the receiver's dead timer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Add:
    """A full SA record (IKE or IPsec) for the standby; ``resync`` when part of a resync reply."""

    ike: IkeSa | None
    ipsec: IpsecSa | None
    resync: bool
    serial: int
    """Numbers the Adds its sender wrote (from 1), so that a ``Refuse`` names the one it
    answers."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Delete:
    """Remove the standby copy of an SA (IKE when ``ike``, else IPsec)."""

    sa_id: int
    ike: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Update:
    """A counter value of one SA (``sa_id`` is the IKE id for ``DPD_OUT``)."""

    sa_id: int
    kind: Kind
    value: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Ack:
    """The standby applied ``value`` for this counter (or, with ``kind`` None, a delete)."""

    sa_id: int
    kind: Kind | None
    value: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Refuse:
    """The standby's card cannot hold this SA (I7: degraded, not silent)."""

    sa_id: int
    reason: str
    serial: int
    """The ``serial`` of the refused ``Add``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Values:
    """The sender's counter values for one SA it holds (active or copy)."""

    sa_id: int
    out: int
    inbound: int
    byte_count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Announce:
    """The sender's device role, sent at connection start and on every role change.

    It carries the sender's counter values for every SA it holds, so an ACTIVE
    receiver can adopt anything a former active used (split-brain heal), and asks
    for an answer when the sender has just become ACTIVE (proof that the other end
    is alive before anything is replicated to it).
    """

    role: Role
    reply_wanted: bool
    incarnation: int
    """When the sender last booted (ms): a new value means it forgot everything."""
    values: tuple[Values, ...]
    dpd: tuple[tuple[int, int], ...]
    """(IKE id, last R-U-THERE number sent) for every IKE SA the sender holds."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResyncRequest:
    """The standby cleared its copies and asks for everything again."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkBegin:
    """A full copy follows (``entries`` IKE SAs): the receiver drops every copy it holds,
    remembering what each IPsec copy counted (a later ``Add`` never installs less).

    ``resync`` when it answers a ``ResyncRequest`` (counted as REQUESTS/REPLIES).
    """

    entries: int
    resync: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkEnd:
    """The full copy that the last ``BulkBegin`` started is complete (every ``Add`` of it
    was written before this)."""


SspMessage = (
    Hello
    | Confirm
    | Close
    | Heartbeat
    | Announce
    | Add
    | Delete
    | Update
    | Ack
    | Refuse
    | ResyncRequest
    | BulkBegin
    | BulkEnd
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SspCounters:
    """``show crypto isakmp ssp`` and ``show ssp packet`` counters of one router."""

    adds: int = 0
    deletes: int = 0
    requests: int = 0
    replies: int = 0
    packets_sent: int = 0
    packets_received: int = 0
