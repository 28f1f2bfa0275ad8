"""AH security associations (RFC 4302) in tunnel mode: inner packet in, outer packet out.

Theory of operation
-------------------
AH adds no secrecy; it authenticates the whole outer packet, so unlike ESP an
AH SA builds (and checks) the outer IPv4 header itself::

    outer IPv4 (protocol 51) | next header 4 | payload length 4 | 0 0 | SPI | seq | ICV (12) | inner

The ICV (RFC 4302 §3.3.3) covers the outer IPv4 header with its mutable fields
zeroed (RFC 4302 §3.3.3.1.1.1: TOS, flags and fragment offset, TTL, header
checksum; §3.3.3.1.1.2 and Appendix A: every option except the immutable ones
is zeroed whole), the AH header with the ICV field zeroed, and the payload.
Inbound checks run in the ESP order (length, header, SPI, replay pre-check,
ICV, next header, then the window update) and bad input is a counted ``Drop``.
The outer header is built per RFC 4301 §5.1.2.1: TOS and DF copied from the
inner IPv4 header, TTL constructed, identification from the sequence number.

An AH+ESP bundle (``ah-sha-hmac esp-aes esp-sha-hmac``) carries ESP inside AH:
give both AH SAs ``inner_protocol=50`` and pass ESP packets through them.
"""

from __future__ import annotations

import struct
from hmac import compare_digest
from ipaddress import IPv4Address

from cryptography.hazmat.primitives import hmac
from vpnha.impl.errors import LocalProtocolError

from .algorithms import AhTransform, new_hmac
from .esp import Drop, DropReason, SaCounters, check_inner_protocol, check_spi
from .ip import DEFAULT_TTL, IPPROTO_AH, IPPROTO_IPV4, IPV4_HEADER_LENGTH, Address, ipv4_header
from .replay import DEFAULT_WINDOW_SIZE, SEQ_MAX, ReplayWindow

__all__ = ["AhInboundSA", "AhOutboundSA"]

AH_FIXED_LENGTH = 12  # next header, payload length, reserved, SPI, seq (RFC 4302 §2)
_AH_SPI_SEQ = struct.Struct("!II")
_IPV4_ZEROED = struct.Struct("!BBHHHBBH4s4s")
_DF = 0x4000
_MF_AND_OFFSET = 0x3FFF
# RFC 4302 Appendix A.1: IPv4 options included in the ICV (all others are zeroed).
_IMMUTABLE_OPTIONS = frozenset({0, 1, 130, 133, 134, 148, 149})


def _zero_mutable_options(options: bytes) -> bytes | None:
    """Options with the mutable ones zeroed whole; None if they do not parse."""
    out = bytearray(options)
    index = 0
    while index < len(out):
        kind = out[index]
        if kind == 0:  # End of Option List: the rest is padding
            break
        if kind == 1:  # No Operation
            index += 1
            continue
        if index + 1 >= len(out):
            return None
        length = out[index + 1]
        if length < 2 or index + length > len(out):
            return None
        if kind not in _IMMUTABLE_OPTIONS:
            out[index : index + length] = bytes(length)
        index += length
    return bytes(out)


class AhOutboundSA:
    """The sending half of an AH SA (RFC 4302 §3.3), tunnel mode."""

    __slots__ = (
        "_dst",
        "_icv_length",
        "_inner_protocol",
        "_length_word",
        "_mac",
        "_next_seq",
        "_octets",
        "_packets",
        "_refusals",
        "_spi",
        "_spi_bytes",
        "_src",
        "_transform",
        "_ttl",
    )

    def __init__(
        self,
        *,
        spi: int,
        transform: AhTransform,
        integrity_key: bytes,
        tunnel_src: Address,
        tunnel_dst: Address,
        next_seq: int = 1,
        inner_protocol: int = IPPROTO_IPV4,
        ttl: int = DEFAULT_TTL,
    ) -> None:
        """Key an outbound AH SA between two tunnel endpoints."""
        check_spi(spi)
        check_inner_protocol(inner_protocol)
        transform.check_key(integrity_key)
        if not 1 <= next_seq <= SEQ_MAX + 1:
            msg = f"next sequence number {next_seq} is outside 1..{SEQ_MAX + 1}"
            raise LocalProtocolError(msg)
        self._spi = spi
        self._spi_bytes = spi.to_bytes(4, "big")
        self._transform = transform
        self._mac: hmac.HMAC = new_hmac(transform.authentication, integrity_key)
        self._icv_length = transform.icv_length
        # RFC 4302 §2.2: AH length in 32-bit words minus 2.
        self._length_word = (AH_FIXED_LENGTH + transform.icv_length) // 4 - 2
        self._src = IPv4Address(tunnel_src)
        self._dst = IPv4Address(tunnel_dst)
        self._next_seq = next_seq
        self._inner_protocol = inner_protocol
        self._ttl = ttl
        self._packets = 0
        self._octets = 0
        self._refusals = 0

    @property
    def spi(self) -> int:
        """The SA's SPI."""
        return self._spi

    @property
    def transform(self) -> AhTransform:
        """The SA's transform."""
        return self._transform

    @property
    def next_seq(self) -> int:
        """Sequence number the next packet will carry (2^32 once exhausted)."""
        return self._next_seq

    @property
    def exhausted(self) -> bool:
        """True once 2^32 − 1 has been used (RFC 4302 §3.3.2: rekey)."""
        return self._next_seq > SEQ_MAX

    def advance_to(self, next_seq: int) -> None:
        """Takeover: the next packet carries ``next_seq``; never backwards."""
        if next_seq < self._next_seq:
            msg = f"sequence number cannot move back from {self._next_seq} to {next_seq}"
            raise LocalProtocolError(msg)
        self._next_seq = min(next_seq, SEQ_MAX + 1)

    def encapsulate(self, inner_packet: bytes) -> bytes | Drop:
        """The outer IPv4/AH packet for ``inner_packet``, or a ``seq-exhausted`` Drop."""
        seq = self._next_seq
        if seq > SEQ_MAX:
            self._refusals += 1  # RFC 4302 §3.3.2: the counter MUST NOT cycle
            return Drop(reason=DropReason.SEQ_EXHAUSTED, spi=self._spi, seq=None)
        self._next_seq = seq + 1
        self._packets += 1
        self._octets += len(inner_packet)
        icv_length = self._icv_length
        ah_header = (
            bytes((self._inner_protocol, self._length_word, 0, 0))
            + self._spi_bytes
            + seq.to_bytes(4, "big")
        )
        payload_length = len(ah_header) + icv_length + len(inner_packet)
        total = IPV4_HEADER_LENGTH + payload_length
        identification = seq & 0xFFFF
        # RFC 4302 §3.3.3.1.1.1: TOS, flags/offset, TTL and checksum count as zero.
        zeroed = _IPV4_ZEROED.pack(
            0x45, 0, total, identification, 0, 0, IPPROTO_AH, 0, self._src.packed, self._dst.packed
        )
        digest = self._mac.copy()
        digest.update(zeroed)
        digest.update(ah_header)
        digest.update(bytes(icv_length))
        digest.update(inner_packet)
        icv = digest.finalize()[:icv_length]
        tos, dont_fragment = 0, False
        if self._inner_protocol == IPPROTO_IPV4 and len(inner_packet) >= IPV4_HEADER_LENGTH:
            # RFC 4301 §5.1.2.1: DSCP/ECN and DF copied from the inner header.
            tos = inner_packet[1]
            dont_fragment = bool(inner_packet[6] & 0x40)
        header = ipv4_header(
            src=self._src,
            dst=self._dst,
            protocol=IPPROTO_AH,
            payload_length=payload_length,
            ttl=self._ttl,
            tos=tos,
            identification=identification,
            dont_fragment=dont_fragment,
        )
        return header + ah_header + icv + inner_packet

    def counters(self) -> SaCounters:
        """The SA's counters now."""
        return SaCounters(
            pkts_encaps=self._packets,
            pkts_digest=self._packets,
            bytes_encaps=self._octets,
            send_errors=self._refusals,
            drops_seq_exhausted=self._refusals,
        )

    def __repr__(self) -> str:
        return (
            f"AhOutboundSA(spi={self._spi:#010x}, transform={self._transform.name!r}, "
            f"next_seq={self._next_seq})"
        )


class AhInboundSA:
    """The receiving half of an AH SA (RFC 4302 §3.4), tunnel mode."""

    __slots__ = (
        "_ah_length",
        "_drops",
        "_icv_length",
        "_inner_protocol",
        "_mac",
        "_octets",
        "_packets",
        "_spi",
        "_transform",
        "_window",
    )

    def __init__(
        self,
        *,
        spi: int,
        transform: AhTransform,
        integrity_key: bytes,
        window_size: int = DEFAULT_WINDOW_SIZE,
        anti_replay: bool = True,
        inner_protocol: int = IPPROTO_IPV4,
    ) -> None:
        """Key an inbound AH SA."""
        check_spi(spi)
        check_inner_protocol(inner_protocol)
        transform.check_key(integrity_key)
        self._spi = spi
        self._transform = transform
        self._mac: hmac.HMAC = new_hmac(transform.authentication, integrity_key)
        self._icv_length = transform.icv_length
        self._ah_length = AH_FIXED_LENGTH + transform.icv_length
        self._window = ReplayWindow(window_size) if anti_replay else None
        self._inner_protocol = inner_protocol
        self._packets = 0
        self._octets = 0
        self._drops = dict.fromkeys(DropReason, 0)

    @property
    def spi(self) -> int:
        """The SA's SPI."""
        return self._spi

    @property
    def transform(self) -> AhTransform:
        """The SA's transform."""
        return self._transform

    @property
    def replay_window(self) -> ReplayWindow | None:
        """The anti-replay window (None when anti-replay is off)."""
        return self._window

    def decapsulate(self, outer_packet: bytes) -> bytes | Drop:
        """The inner packet of an outer IPv4/AH packet, or a counted ``Drop`` (never raises)."""
        length = len(outer_packet)
        if length < IPV4_HEADER_LENGTH:
            return self._drop(DropReason.TOO_SHORT, None, None)
        version_ihl = outer_packet[0]
        header_length = (version_ihl & 0x0F) * 4
        total = int.from_bytes(outer_packet[2:4], "big")
        flags_offset = int.from_bytes(outer_packet[6:8], "big")
        if (
            version_ihl >> 4 != 4
            or header_length < IPV4_HEADER_LENGTH
            or total < header_length
            or outer_packet[9] != IPPROTO_AH
            or flags_offset & _MF_AND_OFFSET  # a fragment: reassemble first (RFC 4302 §3.4.1)
        ):
            return self._drop(DropReason.MALFORMED, None, None)
        if total > length or total - header_length < AH_FIXED_LENGTH:
            return self._drop(DropReason.TOO_SHORT, None, None)
        ah = outer_packet[header_length:total]
        spi, seq = _AH_SPI_SEQ.unpack_from(ah, 4)
        if len(ah) < self._ah_length:
            return self._drop(DropReason.TOO_SHORT, spi, seq)
        if spi != self._spi:
            return self._drop(DropReason.UNKNOWN_SPI, spi, seq)
        if (ah[1] + 2) * 4 != self._ah_length:
            return self._drop(DropReason.MALFORMED, spi, seq)  # RFC 4302 §2.2 length field
        window = self._window
        if window is not None and not window.check(seq):
            return self._drop(DropReason.REPLAY, spi, seq)
        options = b""
        if header_length > IPV4_HEADER_LENGTH:
            zeroed_options = _zero_mutable_options(outer_packet[IPV4_HEADER_LENGTH:header_length])
            if zeroed_options is None:
                return self._drop(DropReason.MALFORMED, spi, seq)
            options = zeroed_options
        zeroed = (
            outer_packet[0:1]
            + b"\x00"  # TOS
            + outer_packet[2:6]  # total length, identification
            + b"\x00\x00\x00"  # flags + fragment offset, TTL
            + outer_packet[9:10]  # protocol
            + b"\x00\x00"  # header checksum
            + outer_packet[12:20]  # addresses
            + options
        )
        icv_end = self._ah_length
        digest = self._mac.copy()
        digest.update(zeroed)
        digest.update(ah[:AH_FIXED_LENGTH])
        digest.update(bytes(self._icv_length))
        digest.update(ah[icv_end:])
        if not compare_digest(digest.finalize()[: self._icv_length], ah[AH_FIXED_LENGTH:icv_end]):
            return self._drop(DropReason.ICV, spi, seq)
        if ah[0] != self._inner_protocol:
            return self._drop(DropReason.NEXT_HEADER, spi, seq)
        if window is not None:
            window.update(seq)  # RFC 4302 §3.4.3: only after the ICV verified
        inner = ah[icv_end:]
        self._packets += 1
        self._octets += len(inner)
        return inner

    def _drop(self, reason: DropReason, spi: int | None, seq: int | None) -> Drop:
        self._drops[reason] += 1
        return Drop(reason=reason, spi=spi, seq=seq)

    def counters(self) -> SaCounters:
        """The SA's counters now."""
        drops = {
            "drops_" + reason.value.replace("-", "_"): count
            for reason, count in self._drops.items()
        }
        return SaCounters(
            pkts_decaps=self._packets,
            pkts_verify=self._packets,
            bytes_decaps=self._octets,
            recv_errors=sum(self._drops.values()),
            **drops,
        )

    def __repr__(self) -> str:
        top = None if self._window is None else self._window.top
        return (
            f"AhInboundSA(spi={self._spi:#010x}, transform={self._transform.name!r}, "
            f"window_top={top})"
        )
