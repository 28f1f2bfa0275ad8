"""impl/esp against Scapy's independent IPsec code (STYLE: "something real we did not write").

For every transform Scapy supports (AES-CBC 128/192/256, 3DES, DES, NULL with
HMAC-SHA1-96, HMAC-MD5-96 or no integrity; AES-GCM 128/192/256; AH with
HMAC-SHA1-96 / HMAC-MD5-96): Scapy decrypts and verifies what we encapsulate,
and we decapsulate what Scapy encrypts, in tunnel mode, plain and in UDP 4500.
Scapy has no anti-replay (lab-notes §2), so replays are checked on our side.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, UDP, IPOption_Router_Alert, IPOption_RR
from scapy.layers.ipsec import AH, ESP, SecurityAssociation
from scapy.packet import Raw
from vpnha.impl.entropy import SeededEntropy
from vpnha.impl.esp import (
    AhInboundSA,
    AhOutboundSA,
    Drop,
    DropReason,
    EspInboundSA,
    EspOutboundSA,
    EspTransform,
    ah_transform,
    build_ipv4,
    build_udp,
    esp_in_udp_packet,
    esp_transform,
)

SPI = 0x7000_0001
TUNNEL_SRC, TUNNEL_DST = "192.0.2.1", "198.51.100.2"
SCAPY_CIPHERS = {
    "esp-aes": "AES-CBC",
    "esp-3des": "3DES",
    "esp-des": "DES",
    "esp-null": "NULL",
    "esp-gcm": "AES-GCM",
}
SCAPY_MACS = {"esp-sha-hmac": "HMAC-SHA1-96", "esp-md5-hmac": "HMAC-MD5-96"}
SCAPY_AH = {"ah-sha-hmac": "HMAC-SHA1-96", "ah-md5-hmac": "HMAC-MD5-96"}

TRANSFORMS = [
    esp_transform(cipher, mac)
    for cipher in ("esp-des", "esp-3des", "esp-aes", "esp-aes 192", "esp-aes 256", "esp-null")
    for mac in (None, "esp-sha-hmac", "esp-md5-hmac")
] + [esp_transform(g) for g in ("esp-gcm", "esp-gcm 192", "esp-gcm 256")]
PAYLOAD_SIZES = (0, 1, 2, 13, 14, 15, 16, 100, 1400)


def _ids(value: object) -> str:
    if isinstance(value, EspTransform):
        return value.name
    return "udp4500" if value else "ip50"


def keys(transform: EspTransform) -> tuple[bytes, bytes]:
    entropy = SeededEntropy(transform.name.encode())
    return (
        entropy.token_bytes(transform.encryption_key_length),
        entropy.token_bytes(transform.integrity_key_length),
    )


def scapy_sa(transform: EspTransform, *, nat_t: bool, seq_num: int = 1) -> SecurityAssociation:
    encryption_key, integrity_key = keys(transform)
    options: dict[str, Any] = {
        "crypt_algo": SCAPY_CIPHERS[transform.encryption],
        "crypt_key": encryption_key or None,
        "auth_algo": SCAPY_MACS.get(transform.authentication or ""),
        "auth_key": integrity_key or None,
        "tunnel_header": IP(src=TUNNEL_SRC, dst=TUNNEL_DST),
    }
    if nat_t:
        options["nat_t_header"] = UDP(sport=4500, dport=4500)
    return SecurityAssociation(ESP, spi=SPI, seq_num=seq_num, **options)


def our_pair(transform: EspTransform) -> tuple[EspOutboundSA, EspInboundSA]:
    encryption_key, integrity_key = keys(transform)
    outbound = EspOutboundSA(
        spi=SPI,
        transform=transform,
        encryption_key=encryption_key,
        integrity_key=integrity_key,
        entropy=SeededEntropy(11),
    )
    inbound = EspInboundSA(
        spi=SPI, transform=transform, encryption_key=encryption_key, integrity_key=integrity_key
    )
    return outbound, inbound


def inner(payload: bytes) -> IP:
    return IP(src="10.1.0.5", dst="10.2.0.9") / ICMP(id=3, seq=4) / Raw(payload)


def outer(esp_packet: bytes, *, nat_t: bool) -> bytes:
    if nat_t:
        return esp_in_udp_packet(src=TUNNEL_SRC, dst=TUNNEL_DST, esp_packet=esp_packet)
    return build_ipv4(src=TUNNEL_SRC, dst=TUNNEL_DST, protocol=50, payload=esp_packet)


def esp_bytes(scapy_packet: IP, *, nat_t: bool) -> bytes:
    return bytes(scapy_packet[UDP].payload if nat_t else scapy_packet[IP].payload)


@pytest.mark.parametrize("nat_t", [False, True], ids=_ids)
@pytest.mark.parametrize("transform", TRANSFORMS, ids=_ids)
def test_scapy_decrypts_our_packets(transform: EspTransform, nat_t: bool) -> None:
    outbound, _ = our_pair(transform)
    scapy = scapy_sa(transform, nat_t=nat_t)
    for size in PAYLOAD_SIZES:
        original = bytes(inner(bytes(n % 256 for n in range(size))))
        packet = outbound.encapsulate(original)
        assert isinstance(packet, bytes)
        decrypted = scapy.decrypt(IP(outer(packet, nat_t=nat_t)))  # verifies the ICV too
        assert bytes(decrypted) == original, size


@pytest.mark.parametrize("nat_t", [False, True], ids=_ids)
@pytest.mark.parametrize("transform", TRANSFORMS, ids=_ids)
def test_we_decrypt_scapy_packets(transform: EspTransform, nat_t: bool) -> None:
    _, inbound = our_pair(transform)
    scapy = scapy_sa(transform, nat_t=nat_t)
    packets = []
    for size in PAYLOAD_SIZES:
        original = inner(bytes(size))
        packet = esp_bytes(scapy.encrypt(original), nat_t=nat_t)
        packets.append(packet)
        assert inbound.decapsulate(packet) == bytes(original), size
    # Scapy would accept these again; the window does not.
    for number, packet in enumerate(packets, start=1):
        assert inbound.decapsulate(packet) == Drop(reason=DropReason.REPLAY, spi=SPI, seq=number)


@given(
    transform=st.sampled_from(TRANSFORMS),
    payload=st.binary(max_size=600),
    nat_t=st.booleans(),
)
def test_both_directions_with_drawn_payloads(
    transform: EspTransform, payload: bytes, nat_t: bool
) -> None:
    outbound, inbound = our_pair(transform)
    scapy = scapy_sa(transform, nat_t=nat_t)
    original = inner(payload)
    ours = outbound.encapsulate(bytes(original))
    assert isinstance(ours, bytes)
    assert bytes(scapy.decrypt(IP(outer(ours, nat_t=nat_t)))) == bytes(original)
    theirs = esp_bytes(scapy.encrypt(original), nat_t=nat_t)
    assert inbound.decapsulate(theirs) == bytes(original)


def test_takeover_jump_accepts_a_sender_that_moved_ahead() -> None:
    """A new active's sender resumes far ahead; a jumped window refuses the old numbers."""
    transform = esp_transform("esp-aes 256", "esp-sha-hmac")
    _, inbound = our_pair(transform)
    old_active = scapy_sa(transform, nat_t=True)
    old_packets = [esp_bytes(old_active.encrypt(inner(b"old")), nat_t=True) for _ in range(5)]
    window = inbound.replay_window
    assert window is not None
    window.jump_to(1000)
    assert all(
        isinstance(r, Drop) and r.reason is DropReason.REPLAY
        for r in map(inbound.decapsulate, old_packets)
    )
    new_active = scapy_sa(transform, nat_t=True, seq_num=2_000_000)
    packet = esp_bytes(new_active.encrypt(inner(b"new")), nat_t=True)
    assert inbound.decapsulate(packet) == bytes(inner(b"new"))


# --- AH ---------------------------------------------------------------------------


def ah_keys(name: str) -> bytes:
    return SeededEntropy(name.encode()).token_bytes(ah_transform(name).integrity_key_length)


def scapy_ah(name: str, header: IP | None = None) -> SecurityAssociation:
    return SecurityAssociation(
        AH,
        spi=SPI,
        auth_algo=SCAPY_AH[name],
        auth_key=ah_keys(name),
        tunnel_header=header or IP(src=TUNNEL_SRC, dst=TUNNEL_DST),
    )


@pytest.mark.parametrize("name", sorted(SCAPY_AH))
def test_ah_both_directions(name: str) -> None:
    transform = ah_transform(name)
    outbound = AhOutboundSA(
        spi=SPI,
        transform=transform,
        integrity_key=ah_keys(name),
        tunnel_src=TUNNEL_SRC,
        tunnel_dst=TUNNEL_DST,
    )
    inbound = AhInboundSA(spi=SPI, transform=transform, integrity_key=ah_keys(name))
    scapy = scapy_ah(name, IP(src=TUNNEL_SRC, dst=TUNNEL_DST, tos=0x10, ttl=9, id=4242))
    for size in PAYLOAD_SIZES:
        original = inner(bytes(size))
        ours = outbound.encapsulate(bytes(original))
        assert isinstance(ours, bytes)
        assert bytes(scapy.decrypt(IP(ours))) == bytes(original), size  # verifies the ICV
        theirs = bytes(scapy.encrypt(original))
        assert inbound.decapsulate(theirs) == bytes(original), size
    counters = inbound.counters()
    assert counters.pkts_verify == len(PAYLOAD_SIZES)


def test_ah_outer_options_mutable_zeroed_immutable_covered() -> None:
    """RFC 4302 Appendix A: Record Route is mutable (zeroed), Router Alert is not."""
    name = "ah-sha-hmac"
    inbound = AhInboundSA(spi=SPI, transform=ah_transform(name), integrity_key=ah_keys(name))
    header = IP(
        src=TUNNEL_SRC,
        dst=TUNNEL_DST,
        options=[IPOption_Router_Alert(), IPOption_RR(routers=["0.0.0.0"])],
    )
    scapy = scapy_ah(name, header)
    packets = [bytearray(bytes(scapy.encrypt(inner(b"opt")))) for _ in range(3)]
    assert packets[0][0] == 0x48  # IHL 8: 12 bytes of options
    assert inbound.decapsulate(bytes(packets[0])) == bytes(inner(b"opt"))
    packets[1][20 + 4 + 3 + 3] ^= 0xFF  # a router recorded its address in transit
    assert inbound.decapsulate(bytes(packets[1])) == bytes(inner(b"opt"))
    packets[2][20 + 3] ^= 0x01  # the Router Alert value is covered by the ICV
    result = inbound.decapsulate(bytes(packets[2]))
    assert isinstance(result, Drop)
    assert result.reason is DropReason.ICV


# --- the outer-packet helpers -----------------------------------------------------


def test_scapy_agrees_with_our_ipv4_and_udp_checksums() -> None:
    packet = esp_in_udp_packet(src=TUNNEL_SRC, dst=TUNNEL_DST, esp_packet=bytes(range(40)))
    parsed = IP(packet)
    rebuilt = parsed.copy()
    del rebuilt.chksum
    assert IP(bytes(rebuilt)).chksum == parsed.chksum
    assert (parsed[UDP].sport, parsed[UDP].dport, parsed[UDP].chksum) == (4500, 4500, 0)
    for payload in (b"", b"a", b"odd length!", bytes(300)):
        ours = build_udp(src="10.0.0.1", dst="10.0.0.2", src_port=500, dst_port=4500, **_p(payload))
        theirs = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=500, dport=4500) / payload)
        assert ours == theirs[20:]


def _p(payload: bytes) -> dict[str, bytes]:
    return {"payload": payload}
