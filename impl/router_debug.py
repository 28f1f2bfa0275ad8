"""What a router's debug lines say: SSP messages and IKE events in words.

Which debug a line belongs to (:class:`~vpnha.impl.debug.Facility` and option) follows
the document: ``debug crypto isakmp ha`` for the IKE HA Manager and its dealings with
the ISAKMP SA database (IKE SA adds and deletes; ``update``: DPD numbers and message
ids replicated; ``fsm``: role changes), ``debug crypto ipsec ha`` for the same about
IPsec SA pairs, ``debug ssp packet`` for every SSP message.
"""

from __future__ import annotations

from .debug import BASIC, Facility
from .ike.core import (
    DpdAnswered,
    IkeEvent,
    IkeSaRetired,
    IpsecSaNegotiated,
    NegotiationFailed,
    PeerDeleted,
    Phase1Established,
)
from .ike.policy import PROTO_ISAKMP
from .ssp.messages import (
    Ack,
    BulkBegin,
    BulkEnd,
    CounterUpdate,
    IkeSaAdd,
    IpsecSaAdd,
    Message,
    Refuse,
    ResyncRequest,
    SaDelete,
)
from .ssp.wire import Doi

__all__ = ["describe_ike_event", "describe_ssp_message"]

_UPDATE_KINDS = (CounterUpdate, Ack, Refuse)


def describe_ssp_message(message: Message) -> tuple[Facility, str, str] | None:
    """(facility, option, text) for an SA message; None for the connection's own."""
    if isinstance(message, IkeSaAdd):
        cookies = f"{message.initiator_cookie.hex()}/{message.responder_cookie.hex()}"
        return (
            Facility.ISAKMP_HA,
            BASIC,
            f"IKE SA {message.sa_id} ({cookies}) peer {message.peer}: full copy, DPD out "
            f"{message.dpd_seq_out} in {message.dpd_seq_in}, "
            f"{len(message.message_ids)} message ids",
        )
    if isinstance(message, IpsecSaAdd):
        return (
            Facility.IPSEC_HA,
            BASIC,
            f"SA pair {message.sa_id} peer {message.peer} spi in {message.inbound_spi:#x} "
            f"out {message.outbound_spi:#x}: full copy, out seq {message.outbound_seq}, "
            f"in edge {message.inbound_right_edge}" + (" (resync)" if message.resync else ""),
        )
    if not isinstance(
        message, SaDelete | CounterUpdate | Ack | Refuse | ResyncRequest | BulkBegin | BulkEnd
    ):
        return None
    facility = Facility.ISAKMP_HA if message.doi is Doi.IKE else Facility.IPSEC_HA
    option = "update" if isinstance(message, _UPDATE_KINDS) else BASIC
    match message:
        case SaDelete(sa_id=sa_id):
            text = f"delete of SA {sa_id}"
        case CounterUpdate(sa_id=sa_id, kind=kind, value=value):
            text = f"SA {sa_id} {kind.name.lower().replace('_', ' ')} {value}"
        case Ack(acked_seq=seq, applied_value=value):
            text = f"ack of message {seq} (value in force {value})"
        case Refuse(refused_seq=seq, sa_id=sa_id, reason=reason):
            text = f"refusal of message {seq} (SA {sa_id}): {reason}"
        case ResyncRequest():
            text = "resync request"
        case BulkBegin(entry_count=count, resync=resync):
            text = f"bulk copy begins, {count} entries" + (" (resync)" if resync else "")
        case BulkEnd(entry_count=count):
            text = f"bulk copy ends, {count} entries"
    return facility, option, text


def describe_ike_event(event: IkeEvent) -> tuple[Facility, str, str]:
    """(facility, option, text) for what the IKE engine reports to the router."""
    match event:
        case Phase1Established(params=params):
            cookies = f"{params.initiator_cookie.hex()}/{params.responder_cookie.hex()}"
            return (
                Facility.ISAKMP_HA,
                BASIC,
                f"IKE SA ({cookies}) with {params.peer} added to the ISADB",
            )
        case IkeSaRetired(peer=peer, cookies=cookies, reason=reason):
            return (
                Facility.ISAKMP_HA,
                BASIC,
                f"IKE SA ({cookies[0].hex()}/{cookies[1].hex()}) with {peer} removed from "
                f"the ISADB ({reason})",
            )
        case DpdAnswered(cookies=cookies, seq=seq, acked=acked):
            outcome = "acknowledged" if acked else "unanswered"
            return (
                Facility.ISAKMP_HA,
                "detail",
                f"R-U-THERE {seq} on IKE SA {cookies[0].hex()} {outcome}",
            )
        case NegotiationFailed(peer=peer, exchange=exchange, reason=reason):
            return Facility.ISAKMP_HA, "detail", f"{exchange} with {peer} failed: {reason}"
        case IpsecSaNegotiated(params=params):
            return (
                Facility.IPSEC_HA,
                BASIC,
                f"SA pair with {params.peer} negotiated, spi in {params.inbound_spi:#x} "
                f"out {params.outbound_spi:#x}",
            )
        case PeerDeleted(peer=peer, protocol=protocol, spis=spis):
            facility = Facility.ISAKMP_HA if protocol == PROTO_ISAKMP else Facility.IPSEC_HA
            listed = ", ".join(spi.hex() for spi in spis)
            return facility, BASIC, f"{peer} deleted {listed}"
    raise AssertionError(f"unknown IKE event {event!r}")  # pragma: no cover
