"""impl/esp: every transform's round trip, the inbound checks and their order, counters.

The cross-checks against implementations we did not write are in
``test_impl_esp_scapy.py`` (Scapy) and ``test_impl_esp_tshark.py`` (Wireshark).
"""

from __future__ import annotations

import itertools
import struct

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st
from vpnha.impl.entropy import SeededEntropy
from vpnha.impl.errors import LocalProtocolError
from vpnha.impl.esp import (
    SEQ_MAX,
    AhInboundSA,
    AhOutboundSA,
    Drop,
    DropReason,
    EspInboundSA,
    EspOutboundSA,
    EspTransform,
    KeyLengthError,
    SaCounters,
    UnsupportedTransform,
    ah_transform,
    build_ipv4,
    esp_transform,
)

SPI = 0x0000_C0DE
IPV4 = 4

ENCRYPTIONS = ("esp-des", "esp-3des", "esp-aes", "esp-aes 192", "esp-aes 256", "esp-null")
AUTHENTICATIONS = (None, "esp-sha-hmac", "esp-md5-hmac")
TRANSFORMS = [esp_transform(e, a) for e in ENCRYPTIONS for a in AUTHENTICATIONS] + [
    esp_transform(g) for g in ("esp-gcm", "esp-gcm 192", "esp-gcm 256")
]
WITH_INTEGRITY = [t for t in TRANSFORMS if t.has_integrity]
WITHOUT_INTEGRITY = [t for t in TRANSFORMS if not t.has_integrity]
AH_TRANSFORMS = [ah_transform("ah-sha-hmac"), ah_transform("ah-md5-hmac")]


def _ids(transform: EspTransform) -> str:
    return transform.name


def keys(transform: EspTransform, seed: int = 7) -> tuple[bytes, bytes]:
    entropy = SeededEntropy(seed)
    return (
        entropy.token_bytes(transform.encryption_key_length),
        entropy.token_bytes(transform.integrity_key_length),
    )


def sa_pair(
    transform: EspTransform, *, spi: int = SPI, window_size: int = 64, seed: int = 7
) -> tuple[EspOutboundSA, EspInboundSA]:
    encryption_key, integrity_key = keys(transform, seed)
    outbound = EspOutboundSA(
        spi=spi,
        transform=transform,
        encryption_key=encryption_key,
        integrity_key=integrity_key,
        entropy=SeededEntropy(seed + 1),
    )
    inbound = EspInboundSA(
        spi=spi,
        transform=transform,
        encryption_key=encryption_key,
        integrity_key=integrity_key,
        window_size=window_size,
    )
    return outbound, inbound


def inner_packet(payload: bytes = b"payload") -> bytes:
    return build_ipv4(src="10.1.1.1", dst="10.2.2.2", protocol=17, payload=payload)


def sent(outbound: EspOutboundSA | AhOutboundSA, packet: bytes) -> bytes:
    result = outbound.encapsulate(packet)
    assert isinstance(result, bytes), result
    return result


def reason(result: bytes | Drop) -> DropReason | None:
    return result.reason if isinstance(result, Drop) else None


# --- transforms -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encryption", "authentication", "sizes"),
    [
        # (encryption key, integrity key, IV, block, ICV) in bytes
        ("esp-des", None, (8, 0, 8, 8, 0)),
        ("esp-3des", "esp-sha-hmac", (24, 20, 8, 8, 12)),
        ("esp-aes", "esp-md5-hmac", (16, 16, 16, 16, 12)),
        ("esp-aes 192", None, (24, 0, 16, 16, 0)),
        ("esp-aes 256", "esp-sha-hmac", (32, 20, 16, 16, 12)),
        ("esp-null", "esp-sha-hmac", (0, 20, 0, 1, 12)),
        ("esp-gcm", None, (20, 0, 8, 1, 16)),
        ("esp-gcm 256", None, (36, 0, 8, 1, 16)),
    ],
)
def test_transform_sizes(
    encryption: str, authentication: str | None, sizes: tuple[int, int, int, int, int]
) -> None:
    transform = esp_transform(encryption, authentication)
    assert (
        transform.encryption_key_length,
        transform.integrity_key_length,
        transform.iv_length,
        transform.block_length,
        transform.icv_length,
    ) == sizes
    assert transform.name == " ".join(w for w in (encryption, authentication) if w)


def test_key_bits_keyword_and_names() -> None:
    assert esp_transform("esp-aes", key_bits=256) == esp_transform("esp-aes 256")
    assert esp_transform("esp-aes 128").name == "esp-aes"
    assert esp_transform("esp-gcm", key_bits=192).name == "esp-gcm 192"
    assert ah_transform("ah-md5-hmac").integrity_key_length == 16
    assert ah_transform("ah-sha-hmac").integrity_key_length == 20


@pytest.mark.parametrize(
    ("encryption", "authentication", "message"),
    [
        ("esp-blowfish", None, "not one of"),
        ("esp-aes 512", None, "key size 512"),
        ("esp-des 128", None, "takes no key size"),
        ("esp-aes", "esp-sha256-hmac", "not one of"),
        ("esp-gcm", "esp-sha-hmac", "authenticates by itself"),
        ("esp-aes 128 extra", None, "not one of"),
    ],
)
def test_unsupported_transforms(encryption: str, authentication: str | None, message: str) -> None:
    with pytest.raises(UnsupportedTransform, match=message):
        esp_transform(encryption, authentication)


def test_unsupported_ah_transform_and_conflicting_key_bits() -> None:
    with pytest.raises(UnsupportedTransform, match="ah-sha256-hmac"):
        ah_transform("ah-sha256-hmac")
    with pytest.raises(UnsupportedTransform, match="given twice"):
        esp_transform("esp-aes 192", key_bits=256)


@pytest.mark.parametrize("transform", TRANSFORMS, ids=_ids)
def test_key_lengths_are_validated_with_a_clear_error(transform: EspTransform) -> None:
    encryption_key, integrity_key = keys(transform)
    with pytest.raises(KeyLengthError) as caught:
        EspInboundSA(
            spi=SPI,
            transform=transform,
            encryption_key=encryption_key + b"x",
            integrity_key=integrity_key,
        )
    text = str(caught.value)
    assert transform.name in text
    assert f"is {len(encryption_key) + 1} bytes, needs {len(encryption_key)}" in text
    with pytest.raises(KeyLengthError, match=f"integrity key is {len(integrity_key) + 3} bytes"):
        EspOutboundSA(
            spi=SPI,
            transform=transform,
            encryption_key=encryption_key,
            integrity_key=integrity_key + b"abc",
            entropy=SeededEntropy(1),
        )


def test_ah_key_length_error_names_the_transform() -> None:
    with pytest.raises(KeyLengthError, match="ah-sha-hmac: integrity key is 16 bytes, needs 20"):
        AhInboundSA(spi=SPI, transform=ah_transform("ah-sha-hmac"), integrity_key=bytes(16))


@pytest.mark.parametrize("spi", [0, 1, 255, 2**32])
def test_reserved_spis_are_refused(spi: int) -> None:
    transform = esp_transform("esp-gcm")
    with pytest.raises(LocalProtocolError, match=r"RFC 4303 §2\.1"):
        EspInboundSA(spi=spi, transform=transform, encryption_key=bytes(20))


def test_inner_protocol_is_validated() -> None:
    transform = esp_transform("esp-gcm")
    with pytest.raises(LocalProtocolError, match=r"inner protocol 256 is outside 0\.\.255"):
        EspInboundSA(spi=SPI, transform=transform, encryption_key=bytes(20), inner_protocol=256)


def test_des_is_tripledes_with_one_key() -> None:
    """esp-des runs TripleDES(K ‖ K ‖ K), which is single DES (FIPS 46-3 keying option 3)."""
    transform = esp_transform("esp-des")
    key = bytes.fromhex("133457799bbcdff1")
    outbound = EspOutboundSA(spi=SPI, transform=transform, encryption_key=key, entropy=seeded())
    packet = sent(outbound, inner_packet())
    iv, ciphertext = packet[8:16], packet[16:]
    decryptor = Cipher(TripleDES(key * 3), modes.CBC(iv)).decryptor()
    plaintext = decryptor.update(ciphertext) + decryptor.finalize()
    assert plaintext.startswith(inner_packet())


def seeded() -> SeededEntropy:
    return SeededEntropy(99)


# --- round trips ------------------------------------------------------------------


def check_round_trip(transform: EspTransform, payloads: list[bytes]) -> None:
    outbound, inbound = sa_pair(transform)
    for number, payload in enumerate(payloads, start=1):
        packet = sent(outbound, payload)
        spi, seq = struct.unpack_from("!II", packet)
        assert (spi, seq) == (SPI, number)
        encrypted = len(packet) - 8 - transform.iv_length - transform.icv_length
        assert encrypted % transform.alignment == 0  # RFC 4303 §2.4
        assert len(payload) + 2 <= encrypted < len(payload) + 2 + transform.alignment
        assert inbound.decapsulate(packet) == payload
    counters = inbound.counters()
    assert counters.pkts_decaps == len(payloads)
    assert counters.bytes_decaps == sum(map(len, payloads))
    assert counters.recv_errors == 0


@pytest.mark.parametrize("transform", TRANSFORMS, ids=_ids)
def test_round_trip_every_padding_length(transform: EspTransform) -> None:
    check_round_trip(transform, [bytes(range(size)) for size in range(40)] + [bytes(1400)])


@given(
    transform=st.sampled_from(TRANSFORMS),
    payloads=st.lists(st.binary(max_size=1500), min_size=1, max_size=4),
)
def test_round_trip(transform: EspTransform, payloads: list[bytes]) -> None:
    check_round_trip(transform, payloads)


@pytest.mark.parametrize("transform", TRANSFORMS, ids=_ids)
def test_out_of_order_inside_the_window_is_accepted(transform: EspTransform) -> None:
    outbound, inbound = sa_pair(transform)
    packets = [sent(outbound, inner_packet(bytes([n]))) for n in range(10)]
    for index in (9, 0, 5, 1, 8):
        assert inbound.decapsulate(packets[index]) == inner_packet(bytes([index]))


def test_padding_is_one_two_three_and_next_header_is_4() -> None:
    """esp-null leaves the trailer readable: RFC 4303 §2.4 padding, §2.6 next header."""
    outbound, _ = sa_pair(esp_transform("esp-null", "esp-sha-hmac"))
    for size in range(8):
        packet = sent(outbound, bytes(size))
        trailer = packet[8 + size : -12]
        pad_length = (-(size + 2)) % 4
        assert trailer == bytes(range(1, pad_length + 1)) + bytes((pad_length, IPV4))


def test_gcm_iv_is_the_sequence_number_as_a_64_bit_counter() -> None:
    outbound, _ = sa_pair(esp_transform("esp-gcm"))
    outbound.advance_to(0x0102_0304)
    packet = sent(outbound, b"x")
    assert packet[4:8] == bytes.fromhex("01020304")
    assert packet[8:16] == bytes.fromhex("0000000001020304")


def test_cbc_ivs_are_fresh_per_packet_and_deterministic_per_seed() -> None:
    transform = esp_transform("esp-aes", "esp-sha-hmac")
    first, _ = sa_pair(transform)
    second, _ = sa_pair(transform)
    packets = [sent(first, b"same payload") for _ in range(600)]
    assert packets == [sent(second, b"same payload") for _ in range(600)]
    ivs = [packet[8:24] for packet in packets]
    assert len(set(ivs)) == len(ivs)
    # Not the predictable chaining (previous packet's last ciphertext block as IV).
    for previous, packet in itertools.pairwise(packets):
        assert packet[8:24] != previous[-12 - 16 : -12]
    other, _ = sa_pair(transform, seed=8)
    assert sent(other, b"same payload")[8:24] != ivs[0]


# --- inbound checks ---------------------------------------------------------------


def expected_tamper_reason(position: int, tampered: bytes | bytearray) -> DropReason:
    if position < 4:
        return DropReason.UNKNOWN_SPI
    if position < 8 and tampered[4:8] == bytes(4):
        return DropReason.REPLAY  # sequence number 0
    return DropReason.ICV


@pytest.mark.parametrize("transform", WITH_INTEGRITY, ids=_ids)
def test_tampering_each_byte_is_dropped(transform: EspTransform) -> None:
    outbound, inbound = sa_pair(transform)
    packet = sent(outbound, inner_packet())
    for position in range(len(packet)):
        tampered = bytearray(packet)
        tampered[position] ^= 0x01
        result = inbound.decapsulate(bytes(tampered))
        assert reason(result) is expected_tamper_reason(position, tampered), position
    assert inbound.decapsulate(packet) == inner_packet()


@given(
    transform=st.sampled_from(WITH_INTEGRITY),
    payload=st.binary(max_size=300),
    data=st.data(),
)
def test_tampering_any_byte_is_dropped(
    transform: EspTransform, payload: bytes, data: st.DataObject
) -> None:
    outbound, inbound = sa_pair(transform)
    packet = sent(outbound, payload)
    position = data.draw(st.integers(0, len(packet) - 1), label="position")
    tampered = bytearray(packet)
    tampered[position] ^= data.draw(st.integers(1, 255), label="xor")
    result = inbound.decapsulate(bytes(tampered))
    assert reason(result) is expected_tamper_reason(position, tampered)
    # The failed packet did not move the window: the genuine one is still new.
    assert inbound.decapsulate(packet) == payload
    assert inbound.counters().recv_errors == 1


@given(
    transform=st.sampled_from(WITHOUT_INTEGRITY),
    payload=st.binary(max_size=300),
    data=st.data(),
)
def test_tampering_without_integrity_never_raises(
    transform: EspTransform, payload: bytes, data: st.DataObject
) -> None:
    outbound, inbound = sa_pair(transform)
    packet = sent(outbound, payload)
    position = data.draw(st.integers(8, len(packet) - 1), label="position")
    tampered = bytearray(packet)
    tampered[position] ^= data.draw(st.integers(1, 255), label="xor")
    result = inbound.decapsulate(bytes(tampered))
    assert isinstance(result, bytes) or result.reason in {
        DropReason.PADDING,
        DropReason.NEXT_HEADER,
    }


def test_esp_null_without_integrity_checks_padding_and_next_header() -> None:
    outbound, inbound = sa_pair(esp_transform("esp-null"))
    packet = bytearray(sent(outbound, b"abcde"))  # 5 + 1 pad + 2 = 8
    assert packet[-3:] == bytes((1, 1, IPV4))
    bad_next_header = bytes(packet[:-1]) + bytes((59,))  # RFC 4303 §2.6: 59 = dummy
    assert reason(inbound.decapsulate(bad_next_header)) is DropReason.NEXT_HEADER
    bad_pad_byte = bytes(packet[:-3]) + bytes((7, 1, IPV4))
    assert reason(inbound.decapsulate(bad_pad_byte)) is DropReason.PADDING
    pad_too_long = bytes(packet[:-2]) + bytes((200, IPV4))
    assert reason(inbound.decapsulate(pad_too_long)) is DropReason.PADDING
    # A payload byte changed in transit is not detectable without integrity.
    packet[8] ^= 1
    assert inbound.decapsulate(bytes(packet)) == b"`bcde"
    counters = inbound.counters()
    assert (counters.drops_next_header, counters.drops_padding) == (1, 2)


def _hmac_sha1_96(key: bytes, data: bytes) -> bytes:
    mac = hmac.HMAC(key, hashes.SHA1())
    mac.update(data)
    return mac.finalize()[:12]


def test_valid_icv_with_bad_padding_or_next_header_is_dropped() -> None:
    """Packets a faulty peer authenticated correctly still fail the §2.4 / §2.6 checks."""
    transform = esp_transform("esp-aes", "esp-sha-hmac")
    encryption_key, integrity_key = keys(transform)
    inbound = EspInboundSA(
        spi=SPI, transform=transform, encryption_key=encryption_key, integrity_key=integrity_key
    )

    def forge(seq: int, plaintext: bytes) -> bytes:
        iv = bytes(range(16))
        encryptor = Cipher(algorithms.AES(encryption_key), modes.CBC(iv)).encryptor()
        body = struct.pack("!II", SPI, seq) + iv + encryptor.update(plaintext)
        return body + _hmac_sha1_96(integrity_key, body)

    good = bytes(12) + bytes((1, 2, 2, IPV4))
    assert inbound.decapsulate(forge(1, good)) == bytes(12)
    cases = {
        2: (bytes(12) + bytes((1, 3, 2, IPV4)), DropReason.PADDING),  # not 1, 2
        3: (bytes(14) + bytes((15, IPV4)), DropReason.PADDING),  # longer than the data
        4: (bytes(12) + bytes((1, 2, 2, 41)), DropReason.NEXT_HEADER),
        5: (bytes(16) + bytes(range(1, 15)) + bytes((14, IPV4)), None),  # 14 bytes of padding
    }
    for seq, (plaintext, expected) in cases.items():
        assert reason(inbound.decapsulate(forge(seq, plaintext))) is expected, seq
    # A whole-block-misaligned ciphertext with a valid ICV.
    body = struct.pack("!II", SPI, 6) + bytes(16) + bytes(20)
    assert reason(inbound.decapsulate(body + _hmac_sha1_96(integrity_key, body))) is (
        DropReason.PADDING
    )
    # The window was updated only for accepted packets: 2, 3, 4 and 6 are still new.
    window = inbound.replay_window
    assert window is not None
    assert [window.check(seq) for seq in range(1, 7)] == [False, True, True, True, False, True]


@pytest.mark.parametrize("transform", TRANSFORMS, ids=_ids)
def test_wrong_spi_is_dropped(transform: EspTransform) -> None:
    outbound, _ = sa_pair(transform, spi=0x1000)
    _, inbound = sa_pair(transform, spi=0x2000)
    result = inbound.decapsulate(sent(outbound, inner_packet()))
    assert result == Drop(reason=DropReason.UNKNOWN_SPI, spi=0x1000, seq=1)
    assert inbound.counters().drops_unknown_spi == 1


@pytest.mark.parametrize("transform", TRANSFORMS, ids=_ids)
def test_every_truncation_is_a_counted_drop(transform: EspTransform) -> None:
    outbound, inbound = sa_pair(transform)
    packet = sent(outbound, inner_packet(b"\xaa" * 40))
    drops = 0
    for length in range(len(packet)):
        result = inbound.decapsulate(packet[:length])
        if transform.has_integrity or length < 8 + transform.iv_length + 2:
            assert isinstance(result, Drop), length
        if isinstance(result, Drop):
            drops += 1
            minimum = 8 + transform.iv_length + max(2, transform.block_length)
            if length < minimum + transform.icv_length:
                assert result.reason is DropReason.TOO_SHORT
    counters = inbound.counters()
    assert counters.recv_errors == drops
    assert counters.recv_errors == sum(counters.dropped(r) for r in DropReason)
    assert inbound.decapsulate(packet) == inner_packet(b"\xaa" * 40)


@given(
    transform=st.sampled_from(TRANSFORMS),
    garbage=st.one_of(
        st.binary(max_size=200),
        st.binary(max_size=200).map(lambda tail: struct.pack("!I", SPI) + tail),
    ),
)
def test_arbitrary_bytes_never_raise(transform: EspTransform, garbage: bytes) -> None:
    _, inbound = sa_pair(transform)
    result = inbound.decapsulate(garbage)
    if transform.has_integrity:
        assert isinstance(result, Drop)
    assert inbound.counters().recv_errors == (1 if isinstance(result, Drop) else 0)


@pytest.mark.parametrize("transform", TRANSFORMS, ids=_ids)
def test_replayed_packets_are_dropped(transform: EspTransform) -> None:
    outbound, inbound = sa_pair(transform)
    packets = [sent(outbound, inner_packet(bytes([n]))) for n in range(70)]
    assert inbound.decapsulate(packets[0]) is not None
    assert inbound.decapsulate(packets[1]) == inner_packet(b"\x01")
    assert inbound.decapsulate(packets[1]) == Drop(reason=DropReason.REPLAY, spi=SPI, seq=2)
    assert inbound.decapsulate(packets[69]) == inner_packet(bytes([69]))  # seq 70
    assert reason(inbound.decapsulate(packets[5])) is DropReason.REPLAY  # 70 - 6 >= 64: too old
    assert inbound.decapsulate(packets[6]) == inner_packet(b"\x06")  # seq 7: left edge
    assert inbound.counters().drops_replay == 2


@pytest.mark.parametrize("transform", WITH_INTEGRITY, ids=_ids)
def test_forged_high_sequence_number_does_not_move_the_window(transform: EspTransform) -> None:
    outbound, inbound = sa_pair(transform)
    first = sent(outbound, b"one")
    forged = bytearray(sent(outbound, b"two"))
    forged[4:8] = (SEQ_MAX).to_bytes(4, "big")
    assert reason(inbound.decapsulate(bytes(forged))) is DropReason.ICV
    assert inbound.decapsulate(first) == b"one"
    window = inbound.replay_window
    assert window is not None
    assert window.top == 1


def test_anti_replay_can_be_switched_off() -> None:
    transform = esp_transform("esp-aes", "esp-sha-hmac")
    outbound, _ = sa_pair(transform)
    encryption_key, integrity_key = keys(transform)
    inbound = EspInboundSA(
        spi=SPI,
        transform=transform,
        encryption_key=encryption_key,
        integrity_key=integrity_key,
        anti_replay=False,
    )
    packet = sent(outbound, b"again")
    assert inbound.replay_window is None
    assert inbound.decapsulate(packet) == inbound.decapsulate(packet) == b"again"


def test_window_jump_refuses_what_the_old_active_may_have_accepted() -> None:
    transform = esp_transform("esp-gcm")
    outbound, inbound = sa_pair(transform)
    packets = [sent(outbound, bytes([n])) for n in range(200)]
    window = inbound.replay_window
    assert window is not None
    window.jump_to(150)
    assert all(reason(inbound.decapsulate(p)) is DropReason.REPLAY for p in packets[:150])
    assert [inbound.decapsulate(p) for p in packets[150:]] == [bytes([n]) for n in range(150, 200)]


@pytest.mark.parametrize("window_size", [32, 1024])
def test_window_size_is_configurable(window_size: int) -> None:
    outbound, inbound = sa_pair(esp_transform("esp-gcm"), window_size=window_size)
    packets = [sent(outbound, b"p") for _ in range(window_size + 1)]
    assert inbound.decapsulate(packets[-1]) == b"p"
    assert reason(inbound.decapsulate(packets[0])) is DropReason.REPLAY
    assert inbound.decapsulate(packets[1]) == b"p"


# --- sequence numbers -------------------------------------------------------------


@pytest.mark.parametrize("transform", [TRANSFORMS[4], TRANSFORMS[-1]], ids=_ids)
def test_sequence_number_never_wraps(transform: EspTransform) -> None:
    outbound, inbound = sa_pair(transform)
    outbound.advance_to(SEQ_MAX)
    last = sent(outbound, b"last")
    assert last[4:8] == b"\xff\xff\xff\xff"
    assert inbound.decapsulate(last) == b"last"
    assert outbound.exhausted
    for _ in range(3):
        assert outbound.encapsulate(b"more") == Drop(
            reason=DropReason.SEQ_EXHAUSTED, spi=SPI, seq=None
        )
    counters = outbound.counters()
    assert (counters.pkts_encaps, counters.send_errors, counters.drops_seq_exhausted) == (1, 3, 3)
    assert outbound.next_seq == SEQ_MAX + 1


def test_advance_to_moves_forward_only() -> None:
    outbound, inbound = sa_pair(esp_transform("esp-3des", "esp-md5-hmac"))
    sent(outbound, b"1")
    outbound.advance_to(2)  # staying put is allowed
    outbound.advance_to(1_000_000)
    packet = sent(outbound, b"x")
    assert struct.unpack_from("!I", packet, 4)[0] == 1_000_000
    assert inbound.decapsulate(packet) == b"x"
    with pytest.raises(LocalProtocolError, match="cannot move back from 1000001 to 999"):
        outbound.advance_to(999)
    outbound.advance_to(2**40)
    assert outbound.exhausted
    assert outbound.next_seq == SEQ_MAX + 1


def test_constructor_next_seq_is_validated() -> None:
    transform = esp_transform("esp-gcm")
    with pytest.raises(LocalProtocolError, match="next sequence number 0"):
        EspOutboundSA(
            spi=SPI, transform=transform, encryption_key=bytes(20), entropy=seeded(), next_seq=0
        )


# --- counters ---------------------------------------------------------------------


def test_counters_for_show_crypto_ipsec_sa() -> None:
    outbound, inbound = sa_pair(esp_transform("esp-aes 256", "esp-sha-hmac"))
    for size in (10, 20, 30):
        inbound.decapsulate(sent(outbound, bytes(size)))
    inbound.decapsulate(b"short")
    assert outbound.counters() == SaCounters(
        pkts_encaps=3, pkts_encrypt=3, pkts_digest=3, bytes_encaps=60
    )
    counters = inbound.counters()
    assert (counters.pkts_decaps, counters.pkts_decrypt, counters.pkts_verify) == (3, 3, 3)
    assert (counters.bytes_decaps, counters.octets) == (60, 60)
    assert (counters.recv_errors, counters.dropped(DropReason.TOO_SHORT)) == (1, 1)
    null_out, _ = sa_pair(esp_transform("esp-null", "esp-md5-hmac"))
    sent(null_out, b"x")
    assert (null_out.counters().pkts_encrypt, null_out.counters().pkts_digest) == (0, 1)
    plain_out, _ = sa_pair(esp_transform("esp-des"))
    sent(plain_out, b"x")
    assert (plain_out.counters().pkts_encrypt, plain_out.counters().pkts_digest) == (1, 0)


def test_reprs_name_spi_and_state() -> None:
    outbound, inbound = sa_pair(esp_transform("esp-gcm"))
    assert "0x0000c0de" in repr(outbound)
    assert "next_seq=1" in repr(outbound)
    assert "window_top=0" in repr(inbound)


# --- the fast path against a plain reference --------------------------------------
#
# EspInboundSA.decapsulate is written for speed: long-lived cipher contexts, the
# length check folded into the header parse, one comparison (or one rpartition)
# for the whole trailer, the replay window inlined. The reference below is
# written to be read: a fresh cipher per packet, each RFC 4303 check spelled out
# in order, the window a set of numbers. Both must agree on every packet, good or
# bad, and on every counter.


def _block_cipher(transform: EspTransform, key: bytes) -> algorithms.AES | TripleDES:
    if transform.encryption == "esp-aes":
        return algorithms.AES(key)
    return TripleDES(key * 3 if transform.encryption == "esp-des" else key)


def _reference_icv(transform: EspTransform, key: bytes, data: bytes) -> bytes:
    algorithm = hashes.SHA1() if transform.authentication == "esp-sha-hmac" else hashes.MD5()
    mac = hmac.HMAC(key, algorithm)
    mac.update(data)
    return mac.finalize()[:12]


class ReferenceReceiver:
    """RFC 4303 §3.4 spelled out: length, SPI, replay, ICV, decrypt, padding, next header."""

    def __init__(
        self,
        transform: EspTransform,
        encryption_key: bytes,
        integrity_key: bytes,
        *,
        window_size: int,
        anti_replay: bool,
    ) -> None:
        self.transform = transform
        self.encryption_key = encryption_key
        self.integrity_key = integrity_key
        self.window_size = window_size
        self.anti_replay = anti_replay
        self.top = 0
        self.seen: set[int] = set()
        self.drops = dict.fromkeys(DropReason, 0)
        self.accepted: list[int] = []  # inner lengths

    def fresh(self, seq: int) -> bool:
        return seq != 0 and seq not in self.seen and seq > self.top - self.window_size

    def receive(self, packet: bytes) -> bytes | DropReason:
        transform = self.transform
        smallest = 8 + transform.iv_length + max(transform.block_length, 2) + transform.icv_length
        if len(packet) < smallest:
            return self.drop(DropReason.TOO_SHORT)
        spi, seq = struct.unpack_from("!II", packet)
        if spi != SPI:
            return self.drop(DropReason.UNKNOWN_SPI)
        if self.anti_replay and not self.fresh(seq):
            return self.drop(DropReason.REPLAY)
        if transform.is_aead:
            key, salt = self.encryption_key[:-4], self.encryption_key[-4:]
            try:
                plaintext = AESGCM(key).decrypt(salt + packet[8:16], packet[16:], packet[:8])
            except InvalidTag:
                return self.drop(DropReason.ICV)
        else:
            body_end = len(packet) - transform.icv_length
            if transform.authentication is not None:
                icv = _reference_icv(transform, self.integrity_key, packet[:body_end])
                if icv != packet[body_end:]:
                    return self.drop(DropReason.ICV)
            iv = packet[8 : 8 + transform.iv_length]
            ciphertext = packet[8 + transform.iv_length : body_end]
            if transform.has_confidentiality:
                if len(ciphertext) % transform.block_length:
                    return self.drop(DropReason.PADDING)
                cipher = Cipher(_block_cipher(transform, self.encryption_key), modes.CBC(iv))
                decryptor = cipher.decryptor()
                plaintext = decryptor.update(ciphertext) + decryptor.finalize()
            else:
                plaintext = ciphertext
        pad_length, next_header = plaintext[-2], plaintext[-1]
        inner_end = len(plaintext) - 2 - pad_length
        if inner_end < 0 or plaintext[inner_end:-2] != bytes(range(1, pad_length + 1)):
            return self.drop(DropReason.PADDING)
        if next_header != IPV4:
            return self.drop(DropReason.NEXT_HEADER)
        if self.anti_replay:
            self.seen.add(seq)
            self.top = max(self.top, seq)
        self.accepted.append(inner_end)
        return plaintext[:inner_end]

    def drop(self, reason: DropReason) -> DropReason:
        self.drops[reason] += 1
        return reason


def reference_packet(
    transform: EspTransform,
    encryption_key: bytes,
    integrity_key: bytes,
    *,
    spi: int,
    seq: int,
    iv: bytes,
    plaintext: bytes,
) -> bytes:
    """An ESP packet a peer might send: any sequence number, IV and (padded) plaintext."""
    header = struct.pack("!II", spi, seq)
    if transform.is_aead:
        key, salt = encryption_key[:-4], encryption_key[-4:]
        return header + iv + AESGCM(key).encrypt(salt + iv, plaintext, header)
    if transform.has_confidentiality:
        cipher = Cipher(_block_cipher(transform, encryption_key), modes.CBC(iv))
        encryptor = cipher.encryptor()
        body = header + iv + encryptor.update(plaintext) + encryptor.finalize()
    else:
        body = header + plaintext
    if transform.authentication is None:
        return body
    return body + _reference_icv(transform, integrity_key, body)


@st.composite
def peer_packets(draw: st.DrawFn, transform: EspTransform, top: int) -> tuple[bytes, str]:
    """A packet from a peer (often well-formed, sometimes wrong in one way) and what it is."""
    encryption_key, integrity_key = keys(transform)
    seq = draw(
        st.one_of(
            st.integers(max(0, top - 70), min(top + 3, SEQ_MAX)),  # around the right edge
            st.integers(0, SEQ_MAX),
        ),
        label="seq",
    )
    inner = draw(st.binary(max_size=60), label="inner")
    alignment = transform.alignment
    # RFC 4303 §2.4: a peer may pad more than it must, up to 255 bytes.
    pad_length = (-(len(inner) + 2)) % alignment
    pad_length += alignment * draw(st.integers(0, (255 - pad_length) // alignment), label="more")
    padding = bytearray(range(1, pad_length + 1))
    next_header = IPV4
    fault = draw(
        st.sampled_from(
            ["none", "none", "none", "padding", "next-header", "spi", "flip", "truncate", "extend"]
        ),
        label="fault",
    )
    if fault == "padding" and pad_length:
        padding[draw(st.integers(0, pad_length - 1))] ^= draw(st.integers(1, 255))
    if fault == "next-header":
        next_header = draw(st.integers(0, 255).filter(lambda value: value != IPV4))
    plaintext = inner + bytes(padding) + bytes((pad_length, next_header))
    packet = reference_packet(
        transform,
        encryption_key,
        integrity_key,
        spi=0x0BAD_0000 if fault == "spi" else SPI,
        seq=seq,
        iv=draw(st.binary(min_size=transform.iv_length, max_size=transform.iv_length)),
        plaintext=plaintext,
    )
    if fault == "flip":
        tampered = bytearray(packet)
        tampered[draw(st.integers(0, len(packet) - 1))] ^= draw(st.integers(1, 255))
        packet = bytes(tampered)
    elif fault == "truncate":
        packet = packet[: draw(st.integers(0, len(packet) - 1))]
    elif fault == "extend":
        packet += draw(st.binary(min_size=1, max_size=17))
    return packet, fault


def test_padding_cannot_reach_into_the_iv_block() -> None:
    """CBC: the decryptor's first output block (the IV's) is never padding (§2.4 fast path).

    The inbound SA feeds IV ‖ ciphertext through one long-lived decryptor and
    skips the first output block. A pad length longer than the real plaintext
    must be refused even when that skipped block happens to end in 1, 2, 3, …;
    here the IV is chosen (with the key) so that it does.
    """
    transform = esp_transform("esp-aes", "esp-sha-hmac")
    encryption_key, integrity_key = keys(transform)
    outbound, inbound = sa_pair(transform)
    first = sent(outbound, b"first")
    assert inbound.decapsulate(first) == b"first"
    chain = first[-12 - 16 : -12]  # the decryptor's state: the last ciphertext block seen
    skipped_block = bytes(10) + bytes(range(1, 7))  # what the IV block will decrypt to
    ecb = Cipher(algorithms.AES(encryption_key), modes.ECB()).encryptor()
    iv = ecb.update(bytes(a ^ b for a, b in zip(skipped_block, chain, strict=True)))
    pad_length = 20  # 6 bytes in the skipped block, 14 in the only real block
    plaintext = bytes(range(7, 21)) + bytes((pad_length, IPV4))
    packet = reference_packet(
        transform, encryption_key, integrity_key, spi=SPI, seq=2, iv=iv, plaintext=plaintext
    )
    assert inbound.decapsulate(packet) == Drop(reason=DropReason.PADDING, spi=SPI, seq=2)


@pytest.mark.parametrize("transform", TRANSFORMS, ids=_ids)
@given(data=st.data(), window_size=st.sampled_from([32, 64]), anti_replay=st.booleans())
def test_decapsulate_agrees_with_the_reference(
    transform: EspTransform, data: st.DataObject, window_size: int, anti_replay: bool
) -> None:
    encryption_key, integrity_key = keys(transform)
    inbound = EspInboundSA(
        spi=SPI,
        transform=transform,
        encryption_key=encryption_key,
        integrity_key=integrity_key,
        window_size=window_size,
        anti_replay=anti_replay,
    )
    reference = ReferenceReceiver(
        transform,
        encryption_key,
        integrity_key,
        window_size=window_size,
        anti_replay=anti_replay,
    )
    sent_so_far: list[bytes] = []
    for step in range(data.draw(st.integers(1, 12), label="packets")):
        replay = bool(sent_so_far) and data.draw(st.booleans(), label="replay an earlier one")
        if replay:
            packet = data.draw(st.sampled_from(sent_so_far), label="earlier")
            fault = "replay"
        else:
            packet, fault = data.draw(peer_packets(transform, reference.top), label="packet")
        sent_so_far.append(packet)
        expected = reference.receive(packet)
        result = inbound.decapsulate(packet)
        where = f"step {step}, {fault}: {packet.hex()}"
        if isinstance(expected, bytes):
            assert result == expected, where
            continue
        header = struct.unpack_from("!II", packet) if len(packet) >= 8 else (None, None)
        assert result == Drop(reason=expected, spi=header[0], seq=header[1]), where
    counters = inbound.counters()
    assert counters.pkts_decaps == len(reference.accepted)
    assert counters.bytes_decaps == sum(reference.accepted)
    assert {reason: counters.dropped(reason) for reason in DropReason} == reference.drops
    assert counters.recv_errors == sum(reference.drops.values())
    window = inbound.replay_window
    if anti_replay:
        assert window is not None
        assert window.top == reference.top
        edge = reference.top
        for seq in range(max(0, edge - window_size - 2), min(edge + 3, SEQ_MAX + 1)):
            assert window.check(seq) == reference.fresh(seq), seq
    else:
        assert window is None


@pytest.mark.parametrize("transform", TRANSFORMS, ids=_ids)
@given(
    steps=st.lists(
        st.one_of(st.binary(max_size=1500), st.integers(0, 5), st.integers(0, 2**33)),
        max_size=8,
    )
)
def test_encapsulate_agrees_with_the_reference(
    transform: EspTransform, steps: list[bytes | int]
) -> None:
    """What we send, the reference receives; sequence numbers, GCM IVs and counters hold."""
    outbound, _ = sa_pair(transform)
    encryption_key, integrity_key = keys(transform)
    reference = ReferenceReceiver(
        transform, encryption_key, integrity_key, window_size=64, anti_replay=True
    )
    sent_bytes = packets = 0
    for step in steps:
        if isinstance(step, int):
            outbound.advance_to(outbound.next_seq + step)  # a takeover: forward only
            continue
        seq = outbound.next_seq
        result = outbound.encapsulate(step)
        if seq > SEQ_MAX:
            assert result == Drop(reason=DropReason.SEQ_EXHAUSTED, spi=SPI, seq=None)
            continue
        assert isinstance(result, bytes)
        assert struct.unpack_from("!II", result) == (SPI, seq)
        if transform.is_aead:
            assert result[8:16] == seq.to_bytes(8, "big")  # RFC 4106 §3.1
        encrypted = len(result) - 8 - transform.iv_length - transform.icv_length
        assert len(step) + 2 <= encrypted < len(step) + 2 + transform.alignment  # least padding
        assert reference.receive(result) == step
        packets += 1
        sent_bytes += len(step)
    counters = outbound.counters()
    assert (counters.pkts_encaps, counters.bytes_encaps) == (packets, sent_bytes)
    assert counters.pkts_encrypt == (packets if transform.has_confidentiality else 0)
    assert counters.pkts_digest == (packets if transform.has_integrity else 0)


# --- AH ---------------------------------------------------------------------------


def ah_pair(
    transform: str = "ah-sha-hmac", inner_protocol: int = IPV4
) -> tuple[AhOutboundSA, AhInboundSA]:
    ah = ah_transform(transform)
    key = SeededEntropy(3).token_bytes(ah.integrity_key_length)
    outbound = AhOutboundSA(
        spi=SPI,
        transform=ah,
        integrity_key=key,
        tunnel_src="192.0.2.1",
        tunnel_dst="198.51.100.2",
        inner_protocol=inner_protocol,
    )
    inbound = AhInboundSA(spi=SPI, transform=ah, integrity_key=key, inner_protocol=inner_protocol)
    return outbound, inbound


def _fix_checksum(packet: bytearray) -> bytes:
    from vpnha.impl.esp import internet_checksum

    packet[10:12] = b"\x00\x00"
    packet[10:12] = internet_checksum(bytes(packet[:20])).to_bytes(2, "big")
    return bytes(packet)


@pytest.mark.parametrize("name", ["ah-sha-hmac", "ah-md5-hmac"])
@given(payload=st.binary(max_size=1500))
def test_ah_round_trip(name: str, payload: bytes) -> None:
    outbound, inbound = ah_pair(name)
    inner = inner_packet(payload)
    packet = sent(outbound, inner)
    assert packet[9] == 51  # outer protocol AH
    assert packet[20:24] == bytes((IPV4, 4, 0, 0))  # next header, length 24/4 - 2
    assert inbound.decapsulate(packet) == inner


def test_ah_mutable_fields_may_change_in_transit() -> None:
    outbound, inbound = ah_pair()
    inner = inner_packet()
    for seq, (offset, value) in enumerate([(1, 0xB8), (6, 0x40), (8, 3)], start=1):
        packet = bytearray(sent(outbound, inner))
        packet[offset] = value  # TOS re-marked, DF set, TTL decremented
        assert inbound.decapsulate(_fix_checksum(packet)) == inner, seq


@given(data=st.data())
def test_ah_tampering_is_dropped(data: st.DataObject) -> None:
    outbound, inbound = ah_pair()
    inner = inner_packet(b"tamper me")
    packet = sent(outbound, inner)
    position = data.draw(st.integers(0, len(packet) - 1), label="position")
    tampered = bytearray(packet)
    tampered[position] ^= data.draw(st.integers(1, 255), label="xor")
    result = inbound.decapsulate(bytes(tampered))
    if position in (1, 8, 10, 11) or (position == 6 and tampered[6] & 0xBF == 0):
        assert result == inner  # TOS, TTL, checksum, DF are not covered
        return
    if position in (0, 2, 3):  # version/IHL, total length: the AH header moves
        assert isinstance(result, Drop)
    elif position in (6, 7, 9, 21):  # fragment bits, protocol, AH length field
        assert reason(result) is DropReason.MALFORMED
    elif 24 <= position < 28:
        assert reason(result) is DropReason.UNKNOWN_SPI
    elif 28 <= position < 32 and tampered[28:32] == bytes(4):
        assert reason(result) is DropReason.REPLAY
    else:
        assert reason(result) is DropReason.ICV
    assert inbound.decapsulate(packet) == inner


def test_ah_every_truncation_and_garbage_is_a_counted_drop() -> None:
    outbound, inbound = ah_pair("ah-md5-hmac")
    packet = sent(outbound, inner_packet())
    for length in range(len(packet)):
        assert isinstance(inbound.decapsulate(packet[:length]), Drop), length
    assert inbound.counters().recv_errors == len(packet)


@given(garbage=st.binary(max_size=120))
def test_ah_arbitrary_bytes_never_raise(garbage: bytes) -> None:
    _, inbound = ah_pair()
    assert isinstance(inbound.decapsulate(garbage), Drop)


def test_ah_replay_exhaustion_and_wrong_next_header() -> None:
    outbound, inbound = ah_pair()
    packet = sent(outbound, inner_packet())
    assert inbound.decapsulate(packet) == inner_packet()
    assert reason(inbound.decapsulate(packet)) is DropReason.REPLAY
    outbound.advance_to(SEQ_MAX)
    assert isinstance(outbound.encapsulate(b"x"), bytes)
    assert reason(outbound.encapsulate(b"x")) is DropReason.SEQ_EXHAUSTED
    with pytest.raises(LocalProtocolError, match="cannot move back"):
        outbound.advance_to(5)
    assert outbound.counters().send_errors == 1
    bundle_out, _ = ah_pair(inner_protocol=50)
    _, plain_in = ah_pair()
    assert reason(plain_in.decapsulate(sent(bundle_out, b"esp"))) is DropReason.NEXT_HEADER
    counters = inbound.counters()
    assert (counters.pkts_decaps, counters.pkts_verify, counters.drops_replay) == (1, 1, 1)


def test_ah_carrying_esp_in_a_bundle() -> None:
    esp_out, esp_in = sa_pair(esp_transform("esp-aes", "esp-sha-hmac"))
    ah_out, ah_in = ah_pair(inner_protocol=50)
    packet = sent(ah_out, sent(esp_out, inner_packet()))
    esp_packet = ah_in.decapsulate(packet)
    assert isinstance(esp_packet, bytes)
    assert esp_in.decapsulate(esp_packet) == inner_packet()


def test_ah_outer_header_copies_tos_and_df_from_the_inner_packet() -> None:
    outbound, _ = ah_pair()
    inner = bytearray(inner_packet())
    inner[1] = 0x28
    inner[6] = 0x40
    packet = sent(outbound, bytes(inner))
    assert (packet[1], packet[6] & 0x40, packet[8]) == (0x28, 0x40, 64)
    assert struct.unpack_from("!H", packet, 4)[0] == 1  # identification = seq
