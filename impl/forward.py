"""The crypto-map data path of one router (DESIGN §5 "forward"), sans-IO.

Theory of operation
-------------------
A :class:`Forwarder` holds the crypto map applied to the outside interface (the
HSRP interface with ``crypto map NAME``), its entries in sequence order with their
``match address`` access lists, and two things it does not own: whether this
router is Active for the outside and for the inside virtual IP (two zero-argument
callables; the HSRP speakers live elsewhere) and an :class:`SaTable` that answers
"the outbound ESP SA of entry E towards peer P" and "the inbound ESP SA with SPI S".

**From the LAN** (:meth:`Forwarder.from_lan`). The first entry whose access list
*permits* the packet's (source, destination, protocol, ports) protects it; a
``deny`` or no match in an entry means "not protected by this entry" and the walk
goes on (the document: the ACL "determines which traffic is protected by IPSec and
which is not"). A protected packet is encrypted with that entry's SA and sent as
ESP in UDP 4500 (RFC 3948) — only by the router that is Active for the outside
virtual IP — or, with no SA, dropped while IKE is asked for one (:class:`NeedSa`).
A packet no entry protects is forwarded in the clear. So traffic a ``permit``
selects is never sent unencrypted (invariant I9); :meth:`Forwarder._send_clear`,
the one place that emits cleartext, checks it again against every access list
and counts a violation in ``cleartext_permit_sent`` (always 0 unless the walk is
wrong: it is the tripwire that tests and the conformance suite read).

**From the outside** (:meth:`Forwarder.from_outside`). A UDP 4500 payload is ESP,
IKE behind the non-ESP marker, or a NAT keepalive (RFC 3948 §2.2-2.3). IKE goes to
the IKE core, keepalives are ignored. ESP is accepted only by the router Active
for the outside virtual IP (a standby must not touch the replay windows of its SA
copies); the SA is found by SPI and decapsulates (RFC 4303 §3.4, its drops counted
by its own reasons); the inner packet must then lie inside the policy of the SA's
crypto map entry *in mirror image* (the remote LAN is the ACL's destination, so it
must be the inner source: the document's "mirror image" crypto ACLs; RFC 4301
§5.2 step 4, a decrypted packet the policy would not have protected is dropped);
and it is delivered to the LAN only by the router Active for the inside virtual
IP. A router Active outside but not inside decrypts and then drops: the split
black hole, counted on its own.

Decisions this module makes (the document is silent or this is a subset):

1. Fail closed on a broken entry: an entry whose ``match address`` is unset, names
   no access list or an empty one drops every packet that reaches it
   (``acl-missing``; the document: "if this is configured but the specified
   access list does not exist or is empty, the router will drop all packets").
   The parser rejects such static entries; a ``RouterConfig`` built by hand can
   still hold them.
2. A static entry lists its peers in order (``set peer`` repeats); the first peer
   with an outbound SA is used, and with none IKE is asked for the first peer.
3. Dynamic crypto map entries (``ipsec-isakmp dynamic``) only answer: outbound,
   traffic a dynamic entry's ACL permits is dropped (``no-sa``) without asking
   IKE; a dynamic entry without an ACL selects nothing outbound. Inbound, an SA
   of a dynamic entry is checked against its dynamic entries' ACLs in mirror
   image, and an entry without an ACL accepts any flow (the document: "the
   router will accept any data flow identity proposed by the IPSec peer").
4. IPv4 fragments, and TCP or UDP packets too short to carry both ports, are
   malformed (counted): an ACL with a port condition cannot judge them.
5. Bytes past an IPv4 packet's total length (link-layer padding) are not sent.
6. Cleartext forwarding does not depend on the HSRP state: it is not tunnel
   traffic, and HSRP already decides which router receives the LAN's packets.

7. Inbound ESP must come from the SA's peer (the outer source address IKE
   recorded, which under NAT-T is the NAT's public address): anything else is
   dropped before any cryptography is spent on it (``wrong-peer``). A NAT that
   rebinds the peer's address needs a new IKE exchange to update the SA.

Per packet, headers are read as integers and the answers of the walk and of the
mirror-image check are remembered per flow (bounded tables; the access lists never
change under a forwarder), so no address object is built for a flow seen before.
:meth:`Forwarder.from_lan_batch` and :meth:`Forwarder.from_outside_batch` take many
packets per call and give each exactly what :meth:`Forwarder.from_lan` and
:meth:`Forwarder.from_outside` would (tests hold them to it), looking up once per call
what no packet changes (the HSRP flags, an SPI's SA); they stop wherever the caller
must act before the next packet (an action other than ESP out or a packet in, a packet
that is not ESP, a ``stop()`` that says so). An :class:`InboundGate` is asked per packet
through its ``decapsulate``: the pre-check, the SA and ``accept`` in one call.

Nothing here raises for bad input: every packet a peer or the LAN gets wrong is
a counted drop (:class:`ForwardDropReason`); ``now`` (integer milliseconds) is
accepted for lifetimes and is not read yet.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from types import MappingProxyType
from typing import Protocol, TypeAlias

from vpnha.impl import mutants
from vpnha.impl.config import (
    AccessList,
    ConfigError,
    CryptoMapEntry,
    CryptoMapPolicy,
    Diagnostic,
    RouterConfig,
)
from vpnha.impl.esp import (
    Drop,
    DropReason,
    EspInboundSA,
    EspOutboundSA,
    MalformedPacketError,
    Udp4500Kind,
    classify_udp_4500,
    parse_ipv4,
)

__all__ = [
    "ESP_DROP_REASONS",
    "Action",
    "DeliverIke",
    "DeliverLan",
    "Flow",
    "ForwardCounters",
    "ForwardDropReason",
    "Forwarder",
    "InboundGate",
    "InboundSa",
    "NeedSa",
    "SaTable",
    "SendClear",
    "SendEsp",
    "Withheld",
    "flow_of",
    "gated_decapsulate",
    "slot_setters",
]

_TCP = 6
_UDP = 17
_PORTS_LENGTH = 4  # source and destination port lead both the TCP and UDP headers
_NON_ESP_MARKER_LENGTH = 4  # RFC 3948 §2.2
_IPV4_HEADER_LENGTH = 20


class ForwardDropReason(enum.StrEnum):
    """Why the data path did not forward a packet (each is counted)."""

    LAN_MALFORMED = "lan-malformed"
    """From the LAN: not a whole, unfragmented IPv4 packet (TCP/UDP: without ports)."""
    ACL_MISSING = "acl-missing"
    """From the LAN: reached an entry whose match address is unset, undefined or empty."""
    NOT_ACTIVE_OUTSIDE = "not-active-outside"
    """Protected or ESP traffic while this router is not Active for the outside VIP."""
    NO_PEER = "no-peer"
    """From the LAN: protected by a static entry that names no peer."""
    NO_SA = "no-sa"
    """From the LAN: protected, but no outbound SA yet (IKE is asked for one)."""
    SEQ_EXHAUSTED = "seq-exhausted"
    """From the LAN: the SA has sent 2^32 − 1 packets and must be rekeyed (RFC 4303 §3.3.3)."""
    INVALID_UDP_4500 = "invalid-udp-4500"
    """From outside: a UDP 4500 payload that is neither ESP, IKE nor a keepalive."""
    UNKNOWN_SPI = "unknown-spi"
    """From outside: no inbound SA has this SPI (or the SA disowned it)."""
    TOO_SHORT = "too-short"
    """From outside: the SA found the ESP packet too short."""
    REPLAY = "replay"
    """From outside: the SA's anti-replay window refused it (RFC 4303 §3.4.3)."""
    ICV = "icv"
    """From outside: integrity check failed (RFC 4303 §3.4.4)."""
    PADDING = "padding"
    """From outside: bad padding or ciphertext length (RFC 4303 §2.4)."""
    NEXT_HEADER = "next-header"
    """From outside: the ESP next header is not IPv4 (RFC 4303 §2.6)."""
    ESP_MALFORMED = "esp-malformed"
    """From outside: the SA reported a malformed packet."""
    INNER_MALFORMED = "inner-malformed"
    """From outside: the decrypted packet is not a whole IPv4 packet (as LAN_MALFORMED)."""
    POLICY = "policy"
    """From outside: decrypted packet outside the SA's entry's ACL in mirror image."""
    NOT_ACTIVE_INSIDE = "not-active-inside"
    """From outside: decrypted, but this router is not Active for the inside VIP."""
    HELD_BACK = "held-back"
    """Either way: the SA may not move its counter that far until the standby confirms."""
    LIFETIME = "lifetime"
    """Either way: the SA's kilobyte lifetime is used up (a rekey is asked for outbound)."""
    WRONG_PEER = "wrong-peer"
    """From outside: the outer source is not the peer the SA was negotiated with (decision 7)."""
    STANDBY_COPY = "standby-copy"
    """From outside: the SPI belongs to a standby copy here, which carries no traffic."""


ESP_DROP_REASONS: Mapping[DropReason, ForwardDropReason] = MappingProxyType(
    {
        DropReason.TOO_SHORT: ForwardDropReason.TOO_SHORT,
        DropReason.UNKNOWN_SPI: ForwardDropReason.UNKNOWN_SPI,
        DropReason.REPLAY: ForwardDropReason.REPLAY,
        DropReason.ICV: ForwardDropReason.ICV,
        DropReason.PADDING: ForwardDropReason.PADDING,
        DropReason.NEXT_HEADER: ForwardDropReason.NEXT_HEADER,
        DropReason.SEQ_EXHAUSTED: ForwardDropReason.SEQ_EXHAUSTED,
        DropReason.MALFORMED: ForwardDropReason.ESP_MALFORMED,
    }
)
"""How an SA's own drop reason is counted by the data path."""


# -- actions ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SendEsp:
    """Send an ESP packet to the peer in UDP 4500 from the outside virtual IP (RFC 3948)."""

    peer: IPv4Address
    """The remote IPsec peer (UDP destination, port 4500)."""
    spi: int
    """SPI of the outbound SA used, 256..2^32-1."""
    seq: int
    """ESP sequence number the packet carries, 1..2^32-1."""
    udp_payload: bytes
    """The ESP packet: the whole UDP payload (no non-ESP marker)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendClear:
    """Forward a packet no crypto map entry protects, unchanged, out of the outside interface."""

    ip_packet: bytes
    """The IPv4 packet as received (trimmed to its total length)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NeedSa:
    """Ask IKE for an SA: protected traffic was dropped for want of one (or for a rekey)."""

    entry: CryptoMapEntry
    """The crypto map entry whose ACL permitted the packet."""
    peer: IPv4Address
    """The peer to negotiate with (the entry's first peer, or the exhausted SA's)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverLan:
    """Forward a decrypted packet out of the inside interface."""

    ip_packet: bytes
    """The inner IPv4 packet."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverIke:
    """Hand an IKE message that arrived on UDP 4500 to the IKE core."""

    ike_message: bytes
    """The IKE message, the non-ESP marker removed."""
    src: IPv4Address
    """Outer source address it came from."""


Action: TypeAlias = SendEsp | SendClear | NeedSa | DeliverLan | DeliverIke
"""Everything the data path asks its driver to do."""


def slot_setters(cls: type, *names: str) -> tuple[Callable[[object, object], None], ...]:
    """The slot setters of the fields ``names`` of the frozen slotted dataclass ``cls``.

    The per-packet path builds a record or two per packet, and a frozen record's
    generated ``__init__`` writes each field through ``object.__setattr__``: about a
    microsecond per record. ``object.__new__`` and then every field's slot setter builds
    the very same record (no ``__post_init__``, no defaults left out) in half the time.
    A test holds each such builder to its class's fields.
    """
    slots = vars(cls)
    return tuple(slots[name].__set__ for name in names)


_new_record = object.__new__
_set_esp_peer, _set_esp_spi, _set_esp_seq, _set_esp_payload = slot_setters(
    SendEsp, "peer", "spi", "seq", "udp_payload"
)
(_set_lan_packet,) = slot_setters(DeliverLan, "ip_packet")


def _send_esp(peer: IPv4Address, spi: int, seq: int, udp_payload: bytes) -> SendEsp:
    """``SendEsp(peer=..., spi=..., seq=..., udp_payload=...)``, built per packet."""
    action: SendEsp = _new_record(SendEsp)
    _set_esp_peer(action, peer)
    _set_esp_spi(action, spi)
    _set_esp_seq(action, seq)
    _set_esp_payload(action, udp_payload)
    return action


def _deliver_lan(ip_packet: bytes) -> DeliverLan:
    """``DeliverLan(ip_packet=...)``, built per packet."""
    action: DeliverLan = _new_record(DeliverLan)
    _set_lan_packet(action, ip_packet)
    return action


# -- what the forwarder is handed ---------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Withheld:
    """The SA exists but may not carry this packet now (the SA database said so)."""

    reason: ForwardDropReason
    """What the packet's drop is counted as."""
    rekey: bool = False
    """Outbound: also ask IKE for a new SA (the old one is exhausted or spent)."""


class InboundGate(Protocol):
    """The anti-replay and hold-back authority of an inbound SA, when the SA has none.

    The forwarder calls ``check`` with the ESP sequence number before the SA verifies
    anything (RFC 4303 §3.4.3: the replay pre-check comes first) and ``accept`` once
    the packet decapsulated (ICV, padding and next header good): only then may the
    window move. Each returns the drop reason, or None to go on.
    """

    def check(self, seq: int) -> ForwardDropReason | None:
        """Pre-check ``seq``; nothing changes."""
        ...

    def accept(self, seq: int, size: int, now: int) -> ForwardDropReason | None:
        """Record an authenticated packet of ``size`` inner octets (window, counters)."""
        ...

    def decapsulate(
        self, sa: EspInboundSA, esp_packet: bytes, seq: int, now: int
    ) -> bytes | Drop | ForwardDropReason:
        """``check``, ``sa.decapsulate`` and ``accept`` in one call, as
        :func:`gated_decapsulate` does them: the inner packet, the SA's drop, or the
        gate's refusal. What the forwarder calls per packet."""
        ...


def gated_decapsulate(
    gate: InboundGate, sa: EspInboundSA, esp_packet: bytes, seq: int, now: int
) -> bytes | Drop | ForwardDropReason:
    """What :meth:`InboundGate.decapsulate` must give: the pre-check, then the SA, then
    ``accept`` only for a packet that decapsulated (the reference a gate may fuse)."""
    refused = gate.check(seq)
    if refused is not None:
        return refused
    inner = sa.decapsulate(esp_packet)
    if isinstance(inner, Drop):
        return inner
    refused = gate.accept(seq, len(inner), now)
    return inner if refused is None else refused


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundSa:
    """An inbound ESP SA with the crypto map entry it was negotiated for."""

    sa: EspInboundSA
    """The SA that decapsulates (owns the replay window and its drop counters)."""
    crypto_map: str
    """Crypto map tag of the entry (the outside interface's map)."""
    crypto_map_seq: int
    """Sequence number of the entry, 1-65535."""
    peer: IPv4Address
    """The remote peer the SA was negotiated with."""
    gate: InboundGate | None = None
    """Anti-replay kept outside the SA (the SA database's window); None = the SA's own."""


class SaTable(Protocol):
    """The two lookups the data path needs from the SA database (which it does not own)."""

    def outbound_sa(
        self, entry: CryptoMapEntry, peer: IPv4Address, size: int, now: int
    ) -> EspOutboundSA | Withheld | None:
        """The outbound SA of this entry towards ``peer`` for one ``size``-octet packet.

        An SA returned must encapsulate the packet at once: the table may have
        reserved its ``next_seq`` for it. :class:`Withheld` = an SA exists but may
        not send this packet now; None = no SA.
        """
        ...

    def inbound_sa(self, spi: int) -> InboundSa | Withheld | None:
        """The inbound SA whose SPI is ``spi``; Withheld = known but not usable here."""
        ...


# -- flows and counters --------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Flow:
    """The header fields a crypto ACL looks at."""

    src: IPv4Address
    """IPv4 source address."""
    dst: IPv4Address
    """IPv4 destination address."""
    protocol: int
    """IP protocol number, 0-255."""
    src_port: int | None
    """TCP/UDP source port 0-65535; None for other protocols."""
    dst_port: int | None
    """TCP/UDP destination port 0-65535; None for other protocols."""

    def mirrored(self) -> Flow:
        """The same flow seen from the other end (source and destination swapped)."""
        return Flow(
            src=self.dst,
            dst=self.src,
            protocol=self.protocol,
            src_port=self.dst_port,
            dst_port=self.src_port,
        )

    def permitted_by(self, acl: AccessList) -> bool:
        """True when ``acl``'s first matching entry is a permit."""
        return acl.matches(self.src, self.dst, self.protocol, self.src_port, self.dst_port) is True


def flow_of(ip_packet: bytes) -> tuple[Flow, bytes] | None:
    """The packet's flow and the packet trimmed to its total length; None if malformed.

    Malformed: not IPv4, a bad header or checksum, a fragment, or TCP/UDP shorter
    than its two ports.
    """
    try:
        parsed = parse_ipv4(ip_packet)
    except MalformedPacketError:
        return None
    src_port: int | None = None
    dst_port: int | None = None
    if parsed.protocol in (_TCP, _UDP):
        if len(parsed.payload) < _PORTS_LENGTH:
            return None
        src_port = int.from_bytes(parsed.payload[0:2], "big")
        dst_port = int.from_bytes(parsed.payload[2:4], "big")
    flow = Flow(
        src=parsed.src,
        dst=parsed.dst,
        protocol=parsed.protocol,
        src_port=src_port,
        dst_port=dst_port,
    )
    return flow, ip_packet[: parsed.header_length + len(parsed.payload)]


_IPV4_HEADER = struct.Struct("!BBHHHBBHII")  # addresses as integers
_IPV4_HEADER_PORTS = struct.Struct("!BBHHHBBHIIHH")  # the same, then the two ports
_PORTS = struct.Struct("!HH")
_WITH_PORTS = frozenset((_TCP, _UDP))
_ESP_HEADER = struct.Struct("!II")  # SPI, sequence number (RFC 4303 §2)
_FRAGMENT_BITS = 0x3FFF  # MF flag and fragment offset
_DECISION_CACHE_SIZE = 4096
"""Flows whose crypto-map decision is remembered (the ACLs never change under a forwarder)."""
_ADMISSION_CACHE_SIZE = 4096
"""(SA entry, flow) pairs whose inbound policy check is remembered, likewise."""

_GateDecapsulate: TypeAlias = Callable[
    [EspInboundSA, bytes, int, int], bytes | Drop | ForwardDropReason
]
"""``InboundGate.decapsulate`` as a bound method."""
_FlowKey: TypeAlias = tuple[int, int, int, int | None, int | None]
"""(src, dst, protocol, src port, dst port) with addresses as integers."""


def _flow_key(packet: bytes) -> tuple[_FlowKey, int] | None:
    """The flow key and total length of a well-formed packet, else None.

    The same checks as :func:`flow_of` (version, header length, total length, header
    checksum, no fragment, TCP/UDP long enough for both ports) with integers instead of
    address objects: the per-packet path. A test holds the two to the same answers.
    The usual packet (a 20-octet header, at least 24 octets) is read in one ``struct``
    call, its ports (if it has any) with it; any other goes to :func:`_flow_key_any`.
    """
    try:
        version_ihl, _, total, _, fragment, _, protocol, _, src, dst, src_port, dst_port = (
            _IPV4_HEADER_PORTS.unpack_from(packet)
        )
    except struct.error:  # shorter than a header and two ports
        return _flow_key_any(packet)
    # Literals where a module constant would cost a global lookup per packet: 0x45 is
    # version 4 with a 20-octet header (_IPV4_HEADER_LENGTH), 24 the header and the two
    # ports, 0x3FFF _FRAGMENT_BITS, 6 and 17 _WITH_PORTS.
    if version_ihl != 0x45:
        return _flow_key_any(packet)
    # RFC 1071: the header verifies iff its ones'-complement sum is 0xFFFF, i.e. (2^16 ≡ 1
    # mod 0xFFFF) the header as one integer is a non-zero multiple of 0xFFFF; it is
    # non-zero, its version being 4. (internet_checksum, without a call per packet.)
    if (
        not 20 <= total <= len(packet)
        or fragment & 0x3FFF
        or int.from_bytes(packet[:20], "big") % 0xFFFF
    ):
        return None
    if protocol == 17 or protocol == 6:  # noqa: PLR1714
        if total < 24:
            return None
        return (src, dst, protocol, src_port, dst_port), total
    return (src, dst, protocol, None, None), total


def _flow_key_any(packet: bytes) -> tuple[_FlowKey, int] | None:
    """:func:`_flow_key` for any packet: header options, short or not IPv4 at all."""
    try:
        version_ihl, _, total, _, fragment, _, protocol, _, src, dst = _IPV4_HEADER.unpack_from(
            packet
        )
    except struct.error:  # shorter than the 20-byte header
        return None
    ihl = (version_ihl & 0xF) * 4
    if version_ihl >> 4 != 4 or ihl < _IPV4_HEADER_LENGTH or not ihl <= total <= len(packet):
        return None
    if fragment & _FRAGMENT_BITS or int.from_bytes(packet[:ihl], "big") % 0xFFFF:
        return None
    if protocol in _WITH_PORTS:
        if total - ihl < _PORTS_LENGTH:
            return None
        src_port, dst_port = _PORTS.unpack_from(packet, ihl)
        return (src, dst, protocol, src_port, dst_port), total
    return (src, dst, protocol, None, None), total


def _flow_from_key(key: _FlowKey) -> Flow:
    return Flow(
        src=IPv4Address(key[0]),
        dst=IPv4Address(key[1]),
        protocol=key[2],
        src_port=key[3],
        dst_port=key[4],
    )


def _no_drops() -> Mapping[ForwardDropReason, int]:
    return MappingProxyType(dict.fromkeys(ForwardDropReason, 0))


@dataclass(frozen=True, slots=True, kw_only=True)
class ForwardCounters:
    """The data path's counters (``show crypto ipsec sa`` totals and invariant I9)."""

    encrypted_packets: int = 0
    """Packets from the LAN encrypted and sent to a peer."""
    encrypted_bytes: int = 0
    """Inner-packet octets of those packets."""
    decrypted_packets: int = 0
    """ESP packets an SA accepted (before the policy and inside-VIP checks)."""
    decrypted_bytes: int = 0
    """Inner-packet octets of those packets."""
    delivered_packets: int = 0
    """Decrypted packets delivered to the LAN."""
    clear_packets: int = 0
    """Packets forwarded in the clear (no entry protects them)."""
    clear_bytes: int = 0
    """Octets of those packets."""
    ike_messages: int = 0
    """IKE messages behind the non-ESP marker handed to the IKE core."""
    keepalives: int = 0
    """NAT keepalives received and ignored."""
    sa_requests: int = 0
    """NeedSa actions emitted."""
    cleartext_permit_sent: int = 0
    """Cleartext packets that an ACL permits (invariant I9: must stay 0)."""
    drops: Mapping[ForwardDropReason, int] = field(default_factory=_no_drops)
    """Drops by reason (every reason present, zeros included)."""

    def dropped(self, reason: ForwardDropReason) -> int:
        """The count for one drop reason."""
        return self.drops.get(reason, 0)

    @property
    def total_drops(self) -> int:
        """Drops of every reason."""
        return sum(self.drops.values())


# -- the policy, precomputed from the configuration ----------------------------------------

# A policy step's verdict: the protecting (entry, policy) pair, a fail-closed drop,
# or None (not protected by this step).
_Selection: TypeAlias = tuple[CryptoMapEntry, CryptoMapPolicy] | ForwardDropReason | None
_Decision: TypeAlias = tuple[_Selection, "Flow"]
"""A remembered walk result, with the flow it was computed for (the tripwire reads it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Selector:
    """One step of the walk: a policy (static entry or dynamic entry) and its ACL."""

    entry: CryptoMapEntry
    """The entry of the outside interface's crypto map this step belongs to."""
    policy: CryptoMapPolicy
    """The entry itself, or one of the dynamic entries it stands for."""
    acl: AccessList | None
    """The ACL; None when the policy has none (dynamic: selects nothing outbound)."""
    broken: bool
    """The ACL is required or named but missing or empty: drop what reaches it."""


def _selectors(config: RouterConfig, entry: CryptoMapEntry) -> tuple[_Selector, ...]:
    if entry.dynamic_map is None:
        return (_selector(config, entry, entry, required=True),)
    return tuple(
        _selector(config, entry, policy, required=False)
        for policy in config.dynamic_map(entry.dynamic_map)
    )


def _selector(
    config: RouterConfig, entry: CryptoMapEntry, policy: CryptoMapPolicy, *, required: bool
) -> _Selector:
    if policy.match_address is None:
        return _Selector(entry=entry, policy=policy, acl=None, broken=required)
    acl = config.access_lists.get(policy.match_address)
    if acl is None or not acl.entries:
        return _Selector(entry=entry, policy=policy, acl=None, broken=True)
    return _Selector(entry=entry, policy=policy, acl=acl, broken=False)


# -- the forwarder ------------------------------------------------------------------------


class Forwarder:
    """The crypto-map data path of one router: LAN ↔ clear / ESP in UDP 4500."""

    __slots__ = (
        "_admissions",
        "_by_entry",
        "_clear_bytes",
        "_clear_packets",
        "_cleartext_permit_sent",
        "_crypto_map",
        "_decisions",
        "_decrypted_bytes",
        "_decrypted_packets",
        "_delivered_packets",
        "_drops",
        "_encrypted_bytes",
        "_encrypted_packets",
        "_entries",
        "_ike_messages",
        "_inside_active",
        "_keepalives",
        "_outside_active",
        "_sa_requests",
        "_sa_table",
        "_selectors",
    )

    def __init__(
        self,
        config: RouterConfig,
        *,
        sa_table: SaTable,
        outside_active: Callable[[], bool],
        inside_active: Callable[[], bool],
    ) -> None:
        """Build the data path from the crypto map applied to ``config``'s outside interface.

        ``outside_active`` / ``inside_active`` say whether this router is Active
        for the outside / inside virtual IP right now. Raises ``ConfigError`` when
        no HSRP interface (or more than one) has a crypto map applied.
        """
        outside = config.outside_interface()
        if outside is None or outside.crypto_map is None:
            raise ConfigError(
                [
                    Diagnostic(
                        source=config.source,
                        line=0,
                        command="",
                        message="no HSRP interface has a crypto map applied "
                        "(interface ... / crypto map NAME): nothing to forward",
                    )
                ]
            )
        self._crypto_map = outside.crypto_map
        self._entries = config.crypto_map(outside.crypto_map)
        self._selectors = tuple(
            selector for entry in self._entries for selector in _selectors(config, entry)
        )
        self._by_entry: dict[tuple[str, int], tuple[_Selector, ...]] = {
            (entry.name, entry.seq): _selectors(config, entry) for entry in self._entries
        }
        self._sa_table = sa_table
        self._decisions: dict[_FlowKey, _Decision] = {}
        self._admissions: dict[tuple[str, int, _FlowKey], bool] = {}
        self._outside_active = outside_active
        self._inside_active = inside_active
        self._drops = dict.fromkeys(ForwardDropReason, 0)
        self._encrypted_packets = 0
        self._encrypted_bytes = 0
        self._decrypted_packets = 0
        self._decrypted_bytes = 0
        self._delivered_packets = 0
        self._clear_packets = 0
        self._clear_bytes = 0
        self._ike_messages = 0
        self._keepalives = 0
        self._sa_requests = 0
        self._cleartext_permit_sent = 0

    @property
    def crypto_map(self) -> str:
        """Name of the crypto map set applied to the outside interface."""
        return self._crypto_map

    @property
    def entries(self) -> tuple[CryptoMapEntry, ...]:
        """The map's entries in sequence order (the order of the walk)."""
        return self._entries

    @property
    def delivered_packets(self) -> int:
        """Decrypted packets delivered to the LAN so far (``counters()``, without the copy):
        a driver reads it around one packet to learn whether that one was delivered."""
        return self._delivered_packets

    # -- from the LAN ------------------------------------------------------------------

    def from_lan(self, ip_packet: bytes, now: int) -> list[Action]:
        """Encrypt, forward in the clear, or drop one IPv4 packet from the inside."""
        parsed = _flow_key(ip_packet)
        if parsed is None:
            return self._drop(ForwardDropReason.LAN_MALFORMED)
        key, total = parsed
        packet = ip_packet if len(ip_packet) == total else ip_packet[:total]
        cached = self._decisions.get(key)
        if cached is None:
            flow = _flow_from_key(key)
            cached = (self._protection(flow), flow)
            if len(self._decisions) >= _DECISION_CACHE_SIZE:
                self._decisions.clear()
            self._decisions[key] = cached
        selection, flow = cached
        if selection is None:
            return self._send_clear(packet, flow)
        if isinstance(selection, ForwardDropReason):
            return self._drop(selection)
        entry, policy = selection
        if not self._outside_active():
            # A router that is not Active never sends tunnel traffic (and never asks IKE).
            return self._drop(ForwardDropReason.NOT_ACTIVE_OUTSIDE)
        if policy is not entry:
            # Dynamic entries only answer a peer's negotiation (decision 3).
            return self._drop(ForwardDropReason.NO_SA)
        if not entry.peers:
            return self._drop(ForwardDropReason.NO_PEER)
        size = len(packet)
        for peer in entry.peers:
            sa = self._sa_table.outbound_sa(entry, peer, size, now)
            if isinstance(sa, Withheld):
                self._drop(sa.reason)
                return self._need_sa(entry, peer) if sa.rekey else []
            if sa is not None:
                return self._encrypt(sa, entry, peer, packet)
        if mutants.active("forward-cleartext-without-sa"):
            return self._send_clear(packet, flow)
        self._drop(ForwardDropReason.NO_SA)
        return self._need_sa(entry, entry.peers[0])

    def from_lan_batch(
        self,
        packets: Sequence[bytes],
        start: int,
        now: int,
        *,
        sent: list[tuple[IPv4Address, int, int, bytes]],
        stop: Callable[[], bool],
    ) -> tuple[int, list[Action]]:
        """:meth:`from_lan` for ``packets[start:]``, one after the other, for as long as
        each is encrypted or dropped.

        Each packet gets exactly the decision, counters and drops ``from_lan`` would
        give it; an encrypted one appends what its ``SendEsp`` would carry (peer, SPI,
        sequence number, ESP packet) to ``sent``. Returns the index of the first packet
        not handled and the actions of the last one handled when they are any other
        (``SendClear``, ``NeedSa``: the caller's to carry out before the next packet),
        else ``[]``: at ``len(packets)``, after such a packet, or after a packet once
        ``stop()`` says True (asked before every packet but the first).

        The usual packet — a flow whose decision is remembered, protected by a static
        entry with peers, this router Active outside — takes the path below, with the
        HSRP flag read once (traffic changes no HSRP state); any other goes through
        ``from_lan`` itself (nothing before that call has an effect).
        """
        drops = self._drops
        decisions = self._decisions
        outbound_sa = self._sa_table.outbound_sa
        flow_key = _flow_key
        outside = self._outside_active()
        encrypted = encrypted_bytes = 0
        try:
            for index in range(start, len(packets)):
                if index != start and stop():
                    return index, []
                packet = packets[index]
                parsed = flow_key(packet)
                cached = None if parsed is None else decisions.get(parsed[0])
                selection = None if cached is None else cached[0]
                if (
                    not outside
                    or selection is None
                    or isinstance(selection, ForwardDropReason)
                    or selection[1] is not selection[0]
                    or not selection[0].peers
                ):
                    actions = self.from_lan(packet, now)
                    if len(actions) == 1 and type(actions[0]) is SendEsp:
                        action = actions[0]
                        sent.append((action.peer, action.spi, action.seq, action.udp_payload))
                    elif actions:
                        return index + 1, actions
                    continue
                assert parsed is not None
                entry = selection[0]
                total = parsed[1]
                if len(packet) != total:
                    packet = packet[:total]
                size = len(packet)
                for peer in entry.peers:
                    sa = outbound_sa(entry, peer, size, now)
                    if isinstance(sa, Withheld):
                        drops[sa.reason] += 1
                        if sa.rekey:
                            return index + 1, self._need_sa(entry, peer)
                        break
                    if sa is not None:
                        seq = sa.next_seq
                        esp = sa.encapsulate(packet)
                        if isinstance(esp, Drop):
                            drops[ESP_DROP_REASONS[esp.reason]] += 1
                            return index + 1, self._need_sa(entry, peer)  # RFC 4303 §3.3.3
                        encrypted += 1
                        encrypted_bytes += size
                        sent.append((peer, sa.spi, seq, esp))
                        break
                else:  # no peer has an SA
                    assert cached is not None
                    if mutants.active("forward-cleartext-without-sa"):
                        return index + 1, self._send_clear(packet, cached[1])
                    drops[ForwardDropReason.NO_SA] += 1
                    return index + 1, self._need_sa(entry, entry.peers[0])
            return len(packets), []
        finally:
            self._encrypted_packets += encrypted
            self._encrypted_bytes += encrypted_bytes

    def _protection(self, flow: Flow) -> _Selection:
        """The walk: the first selector whose ACL permits ``flow`` decides."""
        for selector in self._selectors:
            if selector.broken:
                return ForwardDropReason.ACL_MISSING
            if selector.acl is not None and flow.permitted_by(selector.acl):
                return selector.entry, selector.policy
        return None

    def _encrypt(
        self, sa: EspOutboundSA, entry: CryptoMapEntry, peer: IPv4Address, packet: bytes
    ) -> list[Action]:
        seq = sa.next_seq
        esp = sa.encapsulate(packet)
        if isinstance(esp, Drop):
            self._drop(ESP_DROP_REASONS[esp.reason])
            return self._need_sa(entry, peer)  # RFC 4303 §3.3.3: rekey
        self._encrypted_packets += 1
        self._encrypted_bytes += len(packet)
        return [_send_esp(peer, sa.spi, seq, esp)]

    def _need_sa(self, entry: CryptoMapEntry, peer: IPv4Address) -> list[Action]:
        self._sa_requests += 1
        return [NeedSa(entry=entry, peer=peer)]

    def _send_clear(self, packet: bytes, flow: Flow) -> list[Action]:
        """The only place cleartext leaves: count it, and count an I9 violation apart."""
        # Checked independently of the walk: any ACL of the map that permits the flow.
        if any(s.acl is not None and flow.permitted_by(s.acl) for s in self._selectors):
            self._cleartext_permit_sent += 1
        self._clear_packets += 1
        self._clear_bytes += len(packet)
        return [SendClear(ip_packet=packet)]

    # -- from the outside --------------------------------------------------------------

    def from_outside(self, udp_payload: bytes, src_ip: IPv4Address, now: int) -> list[Action]:
        """Handle one UDP 4500 payload from ``src_ip``: ESP, IKE or a NAT keepalive."""
        try:
            spi, seq = _ESP_HEADER.unpack_from(udp_payload)
        except struct.error:  # shorter than an ESP header: a keepalive, or invalid
            spi = seq = 0
        if not spi:
            # RFC 3948 §2.2: ESP has a non-zero SPI first; everything else is sorted here.
            return self._not_esp(udp_payload, src_ip)
        if not self._outside_active():
            return self._drop(ForwardDropReason.NOT_ACTIVE_OUTSIDE)
        binding = self._sa_table.inbound_sa(spi)
        if binding is None:
            return self._drop(ForwardDropReason.UNKNOWN_SPI)
        if isinstance(binding, Withheld):
            return self._drop(binding.reason)
        peer = binding.peer
        if src_ip is not peer and src_ip != peer:  # the same object needs no comparison
            return self._drop(ForwardDropReason.WRONG_PEER)
        gate = binding.gate
        inner: bytes | Drop | ForwardDropReason
        if gate is None:
            inner = binding.sa.decapsulate(udp_payload)
        else:
            inner = gate.decapsulate(binding.sa, udp_payload, seq, now)
            if isinstance(inner, ForwardDropReason):
                return self._drop(inner)
        if isinstance(inner, Drop):
            return self._drop(ESP_DROP_REASONS[inner.reason])
        size = len(inner)
        self._decrypted_packets += 1
        self._decrypted_bytes += size
        parsed = _flow_key(inner)
        if parsed is None:
            return self._drop(ForwardDropReason.INNER_MALFORMED)
        key, total = parsed
        if not self._admitted(binding, key):
            return self._drop(ForwardDropReason.POLICY)
        if not self._inside_active():
            return self._drop(ForwardDropReason.NOT_ACTIVE_INSIDE)
        self._delivered_packets += 1
        return [_deliver_lan(inner if size == total else inner[:total])]

    def from_outside_batch(
        self,
        payloads: Sequence[bytes],
        sources: Sequence[IPv4Address],
        start: int,
        now: int,
        *,
        delivered: list[bytes],
        accepted: list[bytes],
        stop: Callable[[], bool],
    ) -> int:
        """:meth:`from_outside` for ``payloads[start:]`` (``sources[i]`` sent
        ``payloads[i]``), one after the other, for as long as they are ESP.

        Each packet gets exactly the decision, counters and drops ``from_outside``
        would give it; a delivered one appends its inner packet (what ``DeliverLan``
        would carry) to ``delivered`` and its ESP payload to ``accepted``. Returns the
        index of the first payload not handled: ``len(payloads)``; one that is not ESP
        (for ``from_outside``); or the one after a packet once ``stop()`` says True
        (asked before every payload but the first: the caller's turn, e.g. to send what
        that packet queued).

        What ``from_outside`` looks up per packet is looked up once here: the HSRP
        flags (traffic changes no HSRP state) and the SA of a run of packets with one
        SPI (the table's answer changes only with the SA database's generation, which
        no packet moves).
        """
        unpack = _ESP_HEADER.unpack_from
        drops = self._drops
        admissions = self._admissions
        flow_key = _flow_key
        outside = self._outside_active()
        inside = self._inside_active()
        last_spi = 0
        binding: InboundSa | None = None
        gate_decapsulate: _GateDecapsulate | None = None  # the SA's gate's, bound once
        esp_sa: EspInboundSA | None = None
        peer: IPv4Address | None = None
        peer_seen: IPv4Address | None = None  # a source object known to equal ``peer``
        crypto_map, crypto_map_seq = "", 0
        admitted_key: _FlowKey | None = None  # the last flow admission was asked about
        admitted = False
        decrypted = decrypted_bytes = delivered_count = 0
        try:
            for index in range(start, len(payloads)):
                if index != start and stop():
                    return index
                payload = payloads[index]
                try:
                    spi, seq = unpack(payload)
                except struct.error:
                    return index
                if not spi:
                    return index
                if not outside:
                    drops[ForwardDropReason.NOT_ACTIVE_OUTSIDE] += 1
                    continue
                if spi != last_spi:  # never 0 here: the first packet looks up
                    found = self._sa_table.inbound_sa(spi)
                    if found is None:
                        drops[ForwardDropReason.UNKNOWN_SPI] += 1
                        continue
                    if isinstance(found, Withheld):
                        drops[found.reason] += 1
                        continue
                    binding, last_spi = found, spi
                    esp_sa, peer = found.sa, found.peer
                    gate_decapsulate = None if found.gate is None else found.gate.decapsulate
                    peer_seen = None
                    crypto_map, crypto_map_seq = found.crypto_map, found.crypto_map_seq
                    admitted_key = None
                src = sources[index]
                if src is not peer and src is not peer_seen:
                    if src != peer:
                        drops[ForwardDropReason.WRONG_PEER] += 1
                        continue
                    peer_seen = src
                assert esp_sa is not None
                inner: bytes | Drop | ForwardDropReason = (
                    esp_sa.decapsulate(payload)
                    if gate_decapsulate is None
                    else gate_decapsulate(esp_sa, payload, seq, now)
                )
                if type(inner) is not bytes:  # one test for the usual answer
                    if isinstance(inner, ForwardDropReason):  # only a gate refuses
                        drops[inner] += 1
                        continue
                    if isinstance(inner, Drop):
                        drops[ESP_DROP_REASONS[inner.reason]] += 1
                        continue
                size = len(inner)
                decrypted += 1
                decrypted_bytes += size
                parsed = flow_key(inner)
                if parsed is None:
                    drops[ForwardDropReason.INNER_MALFORMED] += 1
                    continue
                key, total = parsed
                if key != admitted_key:  # a flood of one flow asks the table once
                    remembered = admissions.get((crypto_map, crypto_map_seq, key))
                    if remembered is None:
                        assert binding is not None
                        remembered = self._admitted(binding, key)
                    admitted, admitted_key = remembered, key
                if not admitted:
                    drops[ForwardDropReason.POLICY] += 1
                    continue
                if not inside:
                    drops[ForwardDropReason.NOT_ACTIVE_INSIDE] += 1
                    continue
                delivered_count += 1
                delivered.append(inner if size == total else inner[:total])
                accepted.append(payload)
            return len(payloads)
        finally:
            self._decrypted_packets += decrypted
            self._decrypted_bytes += decrypted_bytes
            self._delivered_packets += delivered_count

    def _not_esp(self, udp_payload: bytes, src_ip: IPv4Address) -> list[Action]:
        """A UDP 4500 payload that is not ESP: a NAT keepalive, IKE, or invalid."""
        kind = classify_udp_4500(udp_payload)
        if kind is Udp4500Kind.KEEPALIVE:
            self._keepalives += 1
            return []
        if kind is Udp4500Kind.IKE:
            self._ike_messages += 1
            return [DeliverIke(ike_message=udp_payload[_NON_ESP_MARKER_LENGTH:], src=src_ip)]
        return self._drop(ForwardDropReason.INVALID_UDP_4500)

    def _admitted(self, binding: InboundSa, key: _FlowKey) -> bool:
        """``_admits`` for the flow ``key``, remembered per SA entry and flow."""
        cache_key = (binding.crypto_map, binding.crypto_map_seq, key)
        admitted = self._admissions.get(cache_key)
        if admitted is None:
            admitted = self._admits(binding, _flow_from_key(key))
            if len(self._admissions) >= _ADMISSION_CACHE_SIZE:
                self._admissions.clear()
            self._admissions[cache_key] = admitted
        return admitted

    def _admits(self, binding: InboundSa, flow: Flow) -> bool:
        """RFC 4301 §5.2: the SA's entry would have protected the reply to this flow."""
        if binding.crypto_map != self._crypto_map:
            return False
        selectors = self._by_entry.get((binding.crypto_map, binding.crypto_map_seq))
        if not selectors:
            return False
        reply = flow.mirrored()
        for selector in selectors:
            if selector.broken:
                return False
            if selector.acl is None or reply.permitted_by(selector.acl):
                return True  # a dynamic entry without an ACL accepts any flow
        return False

    # -- counters ----------------------------------------------------------------------

    def _drop(self, reason: ForwardDropReason) -> list[Action]:
        self._drops[reason] += 1
        return []

    def counters(self) -> ForwardCounters:
        """The data path's counters now."""
        return ForwardCounters(
            encrypted_packets=self._encrypted_packets,
            encrypted_bytes=self._encrypted_bytes,
            decrypted_packets=self._decrypted_packets,
            decrypted_bytes=self._decrypted_bytes,
            delivered_packets=self._delivered_packets,
            clear_packets=self._clear_packets,
            clear_bytes=self._clear_bytes,
            ike_messages=self._ike_messages,
            keepalives=self._keepalives,
            sa_requests=self._sa_requests,
            cleartext_permit_sent=self._cleartext_permit_sent,
            drops=MappingProxyType(dict(self._drops)),
        )

    def __repr__(self) -> str:
        return f"Forwarder(crypto_map={self._crypto_map!r}, entries={len(self._entries)})"
