"""ESP security associations (RFC 4303) in tunnel mode: bytes in, bytes out.

Theory of operation
-------------------
An IPsec SA is one-way, so there are two classes. ``EspOutboundSA.encapsulate``
turns an inner IPv4 packet into an ESP packet::

    SPI (4) | sequence number (4) | IV | E(inner ‖ padding 1,2,3… ‖ pad length ‖ 4) | ICV

and ``EspInboundSA.decapsulate`` turns one back, checking in this order
(RFC 4303 §3.4): length, SPI, replay pre-check (§3.4.3: first, and before the
ICV), ICV (§3.4.4), decryption, padding (§2.4, the monotonic 1, 2, 3… default),
next header (§2.6: 4, IPv4 in tunnel mode), and only then the replay window
update. Anything a peer gets wrong is returned as a ``Drop`` with a reason and
counted on the SA; nothing raises for bad input (RFC 4303 calls these
auditable events).

Sequence numbers (RFC 4303 §2.2, §3.3.3): the first packet carries 1, every
packet the next number, and the counter never wraps: once 2^32 − 1 has been
sent, ``encapsulate`` refuses with ``seq-exhausted`` (counted as a send error)
until the SA is replaced by a rekey. ``advance_to`` moves the next number
forward only, which is what a takeover does (DESIGN §4).

IVs (lab-notes §4). AES-GCM (RFC 4106 §3.1): the 8-byte explicit IV is the
sequence number as a 64-bit counter, unique for the SA's key because a sequence
number is never used twice: that is exactly invariant I3, and a failover that
broke it would reuse a GCM nonce, not just replay a packet. CBC (RFC 3602 §3,
RFC 2451): each packet needs an unpredictable IV of its own on the wire; a
long-lived encryptor whose previous output block served as the next IV would be
predictable (the attacker saw it), so it is not used. Instead the SA feeds the
long-lived encryptor one fresh random block from the injected ``Entropy`` and
then the packet: the random block's ciphertext E(R ⊕ C_prev) is uniformly
random and unknown in advance, and it is, by construction of CBC, exactly the
IV under which the rest of the output is the packet's ciphertext. One extra
block per packet buys the reuse of one cipher context (no per-packet object).
Decryption does the mirror trick, sound for any input: a long-lived decryptor
is fed IV ‖ ciphertext and the first output block is dropped (CBC decryption
only needs the previous ciphertext block, which after the IV block is the IV).

Speed (``bench/esp.py``). Around a ~1 µs cipher call, every C-level bytes
operation (a slice, a concatenation, a ``struct`` call) costs some 50-100 ns, so
the per-packet methods are written to make as few as the checks need: the
length check rides on the header parse, trailers come from tables indexed by
length (outbound) or pad length (inbound), one comparison or one
``rpartition`` checks padding, pad length and next header together, the replay
window's update is inlined (a list store in its ring, ``replay.py``), outbound
counts packets as ``next_seq`` minus a base, and every slower question (which
drop reason exactly, a pre-check inside the window) goes to a helper only when
the fast test fails. The order of the checks above is unchanged;
``tests/unit/test_impl_esp.py`` compares the result of every packet with a
plain reference receiver.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from functools import cache
from hmac import compare_digest

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hmac
from cryptography.hazmat.primitives.ciphers import CipherContext
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from vpnha.impl.entropy import Entropy
from vpnha.impl.errors import LocalProtocolError

from .algorithms import EspTransform, new_aead, new_cbc_decryptor, new_cbc_encryptor, new_hmac
from .ip import IPPROTO_IPV4
from .replay import DEFAULT_WINDOW_SIZE, SEQ_MAX, ReplayWindow

__all__ = [
    "MIN_SPI",
    "Drop",
    "DropReason",
    "EspInboundSA",
    "EspOutboundSA",
    "SaCounters",
]

MIN_SPI = 256
"""Smallest SPI an SA may have: 0 is reserved, 1-255 are reserved by IANA (RFC 4303 §2.1)."""
ESP_HEADER_LENGTH = 8  # SPI + sequence number (RFC 4303 §2)
_TRAILER_LENGTH = 2  # pad length + next header (RFC 4303 §2.5, §2.6)
_ESP_HEADER = struct.Struct("!II")
_PADDING = bytes(range(1, 256))  # RFC 4303 §2.4: default padding 1, 2, 3, …
# Bound methods of precompiled structs, looked up once per packet as globals.
_pack_header = _ESP_HEADER.pack
# SPI, seq, then the GCM explicit IV = 64-bit counter (high half 0 while seq is 32-bit).
_pack_gcm_prefix = struct.Struct("!II4xI").pack
# GCM nonce = 4-byte salt (as an integer) ‖ the same explicit IV (RFC 4106 §4).
_pack_gcm_nonce = struct.Struct("!I4xI").pack
_RANDOM_POOL_BLOCKS = 256  # CBC IV randomness drawn from the Entropy in batches


class DropReason(enum.StrEnum):
    """Why a packet was not sent or not accepted (each is counted per SA)."""

    TOO_SHORT = "too-short"
    """Shorter than header + IV + minimal payload + ICV."""
    UNKNOWN_SPI = "unknown-spi"
    """SPI is not this SA's."""
    REPLAY = "replay"
    """Sequence number 0, left of the window, or already seen (RFC 4303 §3.4.3)."""
    ICV = "icv"
    """Integrity check failed (RFC 4303 §3.4.4)."""
    PADDING = "padding"
    """Ciphertext not block-aligned, pad length too long or padding not 1, 2, 3, …"""
    NEXT_HEADER = "next-header"
    """Next header is not the tunnelled protocol (4, IPv4)."""
    SEQ_EXHAUSTED = "seq-exhausted"
    """Outbound: 2^32 − 1 already sent, sequence exhausted — rekey needed (RFC 4303 §3.3.3)."""
    MALFORMED = "malformed"
    """AH only: the outer IPv4 header or the AH length field does not parse."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Drop:
    """A packet not sent or not accepted: the auditable event of RFC 4303 §3.4."""

    reason: DropReason
    """Why."""
    spi: int | None
    """SPI the packet carried (None when too short to carry one; the SA's for seq-exhausted)."""
    seq: int | None
    """Sequence number the packet carried (None when unknown, 1..2^32-1 otherwise)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SaCounters:
    """Per-SA counters, as ``show crypto ipsec sa`` prints them."""

    pkts_encaps: int = 0
    """Packets encapsulated (outbound)."""
    pkts_encrypt: int = 0
    """Packets encrypted (outbound; 0 for esp-null and AH)."""
    pkts_digest: int = 0
    """Packets given an ICV (outbound; 0 without integrity)."""
    pkts_decaps: int = 0
    """Packets decapsulated and accepted (inbound)."""
    pkts_decrypt: int = 0
    """Accepted packets that were decrypted (inbound; 0 for esp-null and AH)."""
    pkts_verify: int = 0
    """Accepted packets whose ICV verified (inbound; 0 without integrity)."""
    bytes_encaps: int = 0
    """Inner-packet octets encapsulated (for the kilobyte lifetime)."""
    bytes_decaps: int = 0
    """Inner-packet octets accepted (for the kilobyte lifetime)."""
    send_errors: int = 0
    """Packets refused outbound (seq-exhausted)."""
    recv_errors: int = 0
    """Packets dropped inbound, every reason."""
    drops_too_short: int = 0
    """Drops with reason too-short."""
    drops_unknown_spi: int = 0
    """Drops with reason unknown-spi."""
    drops_replay: int = 0
    """Drops with reason replay ("replay failures")."""
    drops_icv: int = 0
    """Drops with reason icv ("authentication failures")."""
    drops_padding: int = 0
    """Drops with reason padding."""
    drops_next_header: int = 0
    """Drops with reason next-header."""
    drops_seq_exhausted: int = 0
    """Refusals with reason seq-exhausted."""
    drops_malformed: int = 0
    """Drops with reason malformed (AH)."""

    @property
    def octets(self) -> int:
        """Octets counted against the kilobyte lifetime (either direction)."""
        return self.bytes_encaps + self.bytes_decaps

    def dropped(self, reason: DropReason) -> int:
        """The count for one drop reason."""
        count: int = getattr(self, "drops_" + reason.value.replace("-", "_"))
        return count


@cache
def _trailers(inner_protocol: int) -> tuple[bytes, ...]:
    """Padding ‖ pad length ‖ next header for every pad length 0-255, shared by all SAs."""
    return tuple(_PADDING[:pad] + bytes((pad, inner_protocol)) for pad in range(256))


@cache
def _trailers_by_length(inner_protocol: int, alignment: int) -> tuple[bytes, ...]:
    """The trailer for an inner packet of length ≡ i (mod ``alignment``), for each i."""
    every = _trailers(inner_protocol)
    return tuple(every[-(i + _TRAILER_LENGTH) % alignment] for i in range(alignment))


@cache
def _header_struct(min_length: int) -> struct.Struct:
    """SPI and sequence number, failing (struct.error) on fewer than ``min_length`` bytes."""
    return struct.Struct(f"!II{min_length - ESP_HEADER_LENGTH}x")


def check_spi(spi: int) -> None:
    """Raise ``LocalProtocolError`` unless ``spi`` is a usable SPI (RFC 4303 §2.1)."""
    if not MIN_SPI <= spi <= SEQ_MAX:
        msg = f"SPI {spi:#x} is outside {MIN_SPI:#x}..{SEQ_MAX:#x} (RFC 4303 §2.1)"
        raise LocalProtocolError(msg)


def check_inner_protocol(inner_protocol: int) -> None:
    """Raise ``LocalProtocolError`` unless ``inner_protocol`` is an IP protocol number."""
    if not 0 <= inner_protocol <= 0xFF:
        msg = f"inner protocol {inner_protocol} is outside 0..255"
        raise LocalProtocolError(msg)


def _counters_from_drops(drops: dict[DropReason, int]) -> dict[str, int]:
    return {"drops_" + reason.value.replace("-", "_"): count for reason, count in drops.items()}


class EspOutboundSA:
    """The sending half of an ESP SA (RFC 4303 §3.3), tunnel mode."""

    __slots__ = (
        "_aead",
        "_align_mask",
        "_block_length",
        "_encryptor",
        "_entropy",
        "_icv_length",
        "_mac",
        "_next_seq",
        "_octets",
        "_random_pool",
        "_random_pool_length",
        "_random_pos",
        "_refusals",
        "_salt",
        "_seq_base",
        "_spi",
        "_trailers",
        "_transform",
    )

    def __init__(
        self,
        *,
        spi: int,
        transform: EspTransform,
        encryption_key: bytes,
        integrity_key: bytes = b"",
        entropy: Entropy,
        next_seq: int = 1,
        inner_protocol: int = IPPROTO_IPV4,
    ) -> None:
        """Key an outbound SA; raises ``KeyLengthError`` / ``UnsupportedTransform``.

        ``entropy`` supplies the CBC IV randomness (256 blocks per draw; GCM and
        NULL take none). ``next_seq`` is the first sequence number to send (1 for
        a new SA). ``inner_protocol`` is the next-header value written in every
        trailer (4: an IPv4 packet, tunnel mode).
        """
        check_spi(spi)
        check_inner_protocol(inner_protocol)
        transform.check_keys(encryption_key, integrity_key)
        if not 1 <= next_seq <= SEQ_MAX + 1:
            msg = f"next sequence number {next_seq} is outside 1..{SEQ_MAX + 1}"
            raise LocalProtocolError(msg)
        self._spi = spi
        self._transform = transform
        self._entropy = entropy
        self._next_seq = next_seq
        # Packets sent = next_seq − seq_base: advance_to moves both, so the data
        # path keeps one counter fewer.
        self._seq_base = next_seq
        self._octets = 0
        self._refusals = 0
        alignment = transform.alignment
        self._align_mask = alignment - 1  # alignment is 4, 8 or 16: a power of two
        self._trailers = _trailers_by_length(inner_protocol, alignment)
        self._icv_length = transform.icv_length
        self._block_length = transform.block_length
        self._aead: AESGCM | None = None
        self._salt = 0
        self._encryptor: CipherContext | None = None
        self._mac: hmac.HMAC | None = None
        self._random_pool = b""
        self._random_pool_length = transform.block_length * _RANDOM_POOL_BLOCKS
        self._random_pos = self._random_pool_length  # empty: the first CBC packet draws
        if transform.is_aead:
            self._aead, salt = new_aead(transform, encryption_key)
            self._salt = int.from_bytes(salt, "big")
        elif transform.has_confidentiality:
            self._encryptor = new_cbc_encryptor(transform, encryption_key)
        if transform.authentication is not None:
            self._mac = new_hmac(transform.authentication, integrity_key)

    @property
    def spi(self) -> int:
        """The SA's SPI (256..2^32-1)."""
        return self._spi

    @property
    def transform(self) -> EspTransform:
        """The SA's transform."""
        return self._transform

    @property
    def next_seq(self) -> int:
        """Sequence number the next packet will carry (2^32 once exhausted)."""
        return self._next_seq

    @property
    def exhausted(self) -> bool:
        """True once 2^32 − 1 has been used: the SA must be rekeyed (RFC 4303 §3.3.3)."""
        return self._next_seq > SEQ_MAX

    def advance_to(self, next_seq: int) -> None:
        """Takeover (DESIGN §4): the next packet carries ``next_seq``; never backwards.

        Anything past 2^32 − 1 leaves the SA exhausted (it must be rekeyed).
        """
        if next_seq < self._next_seq:
            msg = f"sequence number cannot move back from {self._next_seq} to {next_seq}"
            raise LocalProtocolError(msg)
        target = min(next_seq, SEQ_MAX + 1)
        self._seq_base += target - self._next_seq  # skipped numbers were not sent
        self._next_seq = target

    def encapsulate(self, inner_packet: bytes) -> bytes | Drop:
        """The ESP packet for ``inner_packet``, or a ``seq-exhausted`` Drop."""
        # The per-packet path: a handful of C-level bytes operations around the
        # cipher call (see "Speed" in the module docstring).
        seq = self._next_seq
        if seq > 0xFFFF_FFFF:  # SEQ_MAX, as a constant: one global lookup fewer
            # RFC 4303 §3.3.3: the counter MUST NOT cycle; an auditable event.
            self._refusals += 1
            return Drop(reason=DropReason.SEQ_EXHAUSTED, spi=self._spi, seq=None)
        self._next_seq = seq + 1
        size = len(inner_packet)
        self._octets += size
        # RFC 4303 §2.4: padding ‖ pad length ‖ next header, looked up by the
        # inner length modulo the alignment.
        trailer = self._trailers[size & self._align_mask]
        aead = self._aead
        if aead is not None:
            # Wire: SPI ‖ seq ‖ explicit IV (RFC 4106 §3.1: here the 64-bit sequence
            # number); nonce = salt ‖ IV (§4); AAD = SPI ‖ seq (§5).
            spi = self._spi
            return _pack_gcm_prefix(spi, seq, seq) + aead.encrypt(
                _pack_gcm_nonce(self._salt, seq), inner_packet + trailer, _pack_header(spi, seq)
            )
        encryptor = self._encryptor
        if encryptor is not None:
            # One fresh random block first: its ciphertext is this packet's IV.
            position = self._random_pos
            if position >= self._random_pool_length:
                self._random_pool = self._entropy.token_bytes(position)
                position = 0
            end = position + self._block_length
            self._random_pos = end
            packet = _pack_header(self._spi, seq) + encryptor.update(
                self._random_pool[position:end] + inner_packet + trailer
            )
        else:
            packet = _pack_header(self._spi, seq) + inner_packet + trailer
        mac = self._mac
        if mac is None:
            return packet
        # RFC 4303 §3.3.4: ICV over SPI, sequence number, IV and ciphertext. (Two
        # concatenations beat two update calls, or a join, up to 1400-byte packets.)
        digest = mac.copy()
        digest.update(packet)
        return packet + digest.finalize()[: self._icv_length]

    def counters(self) -> SaCounters:
        """The SA's counters now."""
        transform = self._transform
        packets = self._next_seq - self._seq_base
        return SaCounters(
            pkts_encaps=packets,
            pkts_encrypt=packets if transform.has_confidentiality else 0,
            pkts_digest=packets if transform.has_integrity else 0,
            bytes_encaps=self._octets,
            send_errors=self._refusals,
            drops_seq_exhausted=self._refusals,
        )

    def __repr__(self) -> str:
        return (
            f"EspOutboundSA(spi={self._spi:#010x}, transform={self._transform.name!r}, "
            f"next_seq={self._next_seq})"
        )


class EspInboundSA:
    """The receiving half of an ESP SA (RFC 4303 §3.4), tunnel mode."""

    __slots__ = (
        "_aead",
        "_block_length",
        "_decryptor",
        "_drops",
        "_icv_length",
        "_mac",
        "_octets",
        "_packets",
        "_salt",
        "_spi",
        "_trailers",
        "_transform",
        "_unpack_header",
        "_window",
    )

    def __init__(
        self,
        *,
        spi: int,
        transform: EspTransform,
        encryption_key: bytes,
        integrity_key: bytes = b"",
        window_size: int = DEFAULT_WINDOW_SIZE,
        anti_replay: bool = True,
        inner_protocol: int = IPPROTO_IPV4,
    ) -> None:
        """Key an inbound SA; raises ``KeyLengthError`` / ``UnsupportedTransform``.

        Anti-replay is on for every SA by default (DESIGN I4). RFC 4303 §3.4.3
        ties the service to integrity: on an SA without an ICV (esp-des,
        esp-aes alone, esp-null alone) the window is still kept, updated after
        the padding and next-header checks, but a forged high sequence number
        can move it (a denial of service the transform set chose to accept).
        """
        check_spi(spi)
        check_inner_protocol(inner_protocol)
        transform.check_keys(encryption_key, integrity_key)
        self._spi = spi
        self._transform = transform
        self._window = ReplayWindow(window_size) if anti_replay else None
        self._trailers = _trailers(inner_protocol)
        self._packets = 0
        self._octets = 0
        self._drops = dict.fromkeys(DropReason, 0)
        self._icv_length = transform.icv_length
        self._block_length = transform.block_length
        self._aead: AESGCM | None = None
        self._salt = b""
        self._decryptor: CipherContext | None = None
        self._mac: hmac.HMAC | None = None
        # Smallest well-formed packet: header, IV, one cipher block (or the 2-byte
        # trailer when there is no block structure), ICV. The length check and
        # the header parse are one C call: struct.error on a shorter packet.
        min_length = (
            ESP_HEADER_LENGTH
            + transform.iv_length
            + max(transform.block_length, _TRAILER_LENGTH)
            + transform.icv_length
        )
        self._unpack_header = _header_struct(min_length).unpack_from
        if transform.is_aead:
            self._aead, self._salt = new_aead(transform, encryption_key)
        elif transform.has_confidentiality:
            self._decryptor = new_cbc_decryptor(transform, encryption_key)
        if transform.authentication is not None:
            self._mac = new_hmac(transform.authentication, integrity_key)

    @property
    def spi(self) -> int:
        """The SA's SPI (256..2^32-1)."""
        return self._spi

    @property
    def transform(self) -> EspTransform:
        """The SA's transform."""
        return self._transform

    @property
    def replay_window(self) -> ReplayWindow | None:
        """The anti-replay window (None when anti-replay is off); ``jump_to`` on takeover."""
        return self._window

    def decapsulate(self, esp_packet: bytes) -> bytes | Drop:
        """The inner packet of an ESP packet, or a counted ``Drop`` (never raises)."""
        # The per-packet path: every check in RFC 4303 order, with plain integer
        # arithmetic and as few C calls as the checks need; a failure leaves it for
        # a slower method that works out (and counts) the exact reason.
        try:
            spi, seq = self._unpack_header(esp_packet)
        except struct.error:
            return self._too_short(esp_packet)
        if spi != self._spi:
            return self._drop(DropReason.UNKNOWN_SPI, spi, seq)
        window = self._window
        # RFC 4303 §3.4.3: the replay pre-check comes before the (costly) ICV check.
        # In-order traffic lands right of the window, which needs no lookup at all.
        if window is not None and seq <= window._top and not window.check(seq):
            return self._drop(DropReason.REPLAY, spi, seq)
        aead = self._aead
        if aead is not None:
            try:
                # RFC 4106: nonce = salt ‖ explicit IV; AAD = SPI ‖ seq; 16-byte ICV.
                plaintext = aead.decrypt(
                    self._salt + esp_packet[8:16], esp_packet[16:], esp_packet[:8]
                )
            except InvalidTag:
                return self._drop(DropReason.ICV, spi, seq)
            # RFC 4303 §2.4, §2.6: padding 1, 2, 3…, pad length and next header are
            # exactly the trailer for this pad length, which must end the plaintext:
            # one C call checks that and cuts the inner packet off (a trailer found
            # only earlier, or not at all, leaves a non-empty rest).
            inner_packet, _, rest = plaintext.rpartition(self._trailers[plaintext[-2]])
            if rest:
                return self._bad_trailer(plaintext, spi, seq)
        else:
            end = len(esp_packet) - self._icv_length
            mac = self._mac
            if mac is not None:
                digest = mac.copy()
                digest.update(esp_packet[:end])
                if not compare_digest(digest.finalize()[: self._icv_length], esp_packet[end:]):
                    return self._drop(DropReason.ICV, spi, seq)
            decryptor = self._decryptor
            if decryptor is None:
                plaintext = esp_packet[ESP_HEADER_LENGTH:end]
                start = 0
            else:
                start = self._block_length
                if (end - ESP_HEADER_LENGTH) % start:
                    # RFC 4303 §2.4: the ciphertext must be a whole number of blocks.
                    return self._drop(DropReason.PADDING, spi, seq)
                # IV ‖ ciphertext through the long-lived decryptor; the first output
                # block is discarded (it decrypted the IV), saving a copy by offset.
                plaintext = decryptor.update(esp_packet[ESP_HEADER_LENGTH:end])
            pad_length = plaintext[-2]
            # len(plaintext) is end − 8: the inner packet ends before the trailer,
            # which is checked in one comparison (padding 1, 2, 3…, RFC 4303 §2.4;
            # pad length; next header, §2.6).
            payload_end = end - ESP_HEADER_LENGTH - _TRAILER_LENGTH - pad_length
            if payload_end < start or plaintext[payload_end:] != self._trailers[pad_length]:
                return self._bad_trailer(plaintext[start:], spi, seq)
            inner_packet = plaintext[start:payload_end]
        if window is not None:
            # RFC 4303 §3.4.3: only now (ICV, padding and next header good) is ``seq``
            # marked seen. ReplayWindow.update inlined (the pre-check above passed,
            # and nothing ran in between that could touch the window).
            window._ring[seq & window._ring_mask] = seq
            if seq > window._top:  # noqa: PLR1730 (max() is a call: slower per packet)
                window._top = seq
        self._packets += 1
        self._octets += len(inner_packet)
        return inner_packet

    def _too_short(self, esp_packet: bytes) -> Drop:
        """Shorter than the smallest well-formed packet: SPI and seq kept if 8 bytes came."""
        if len(esp_packet) < ESP_HEADER_LENGTH:
            return self._drop(DropReason.TOO_SHORT, None, None)
        spi, seq = _ESP_HEADER.unpack_from(esp_packet)
        return self._drop(DropReason.TOO_SHORT, spi, seq)

    def _bad_trailer(self, plaintext: bytes, spi: int, seq: int) -> Drop:
        """Padding (checked first, RFC 4303 §2.4) or next header (§2.6)."""
        pad_length = plaintext[-2]
        padding_end = len(plaintext) - _TRAILER_LENGTH
        if (
            pad_length > padding_end
            or plaintext[padding_end - pad_length : padding_end] != _PADDING[:pad_length]
        ):
            return self._drop(DropReason.PADDING, spi, seq)
        return self._drop(DropReason.NEXT_HEADER, spi, seq)

    def _drop(self, reason: DropReason, spi: int | None, seq: int | None) -> Drop:
        self._drops[reason] += 1
        return Drop(reason=reason, spi=spi, seq=seq)

    def counters(self) -> SaCounters:
        """The SA's counters now."""
        transform = self._transform
        return SaCounters(
            pkts_decaps=self._packets,
            pkts_decrypt=self._packets if transform.has_confidentiality else 0,
            pkts_verify=self._packets if transform.has_integrity else 0,
            bytes_decaps=self._octets,
            recv_errors=sum(self._drops.values()),
            **_counters_from_drops(self._drops),
        )

    def __repr__(self) -> str:
        top = None if self._window is None else self._window.top
        return (
            f"EspInboundSA(spi={self._spi:#010x}, transform={self._transform.name!r}, "
            f"window_top={top})"
        )
