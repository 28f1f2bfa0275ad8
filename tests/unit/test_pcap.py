"""properties/pcap against things we did not write: Scapy builds and reads, tshark dissects.

Pure-Python tests compare the frame builders byte for byte with Scapy's and read
our pcapng back with Scapy's reader. The tshark tests write one capture of every
kind of traffic the simulated world carries — HSRP hellos on ``inside`` and
``outside``, ESP in UDP 4500 from ``vpnha.impl.esp`` for every transform
Wireshark can decrypt, and an SSP byte stream from ``TcpStreamRecorder`` on
``ssp`` — and check what Wireshark makes of it: interfaces and timestamps,
HSRP fields, checksums, ESP decryption with our ``esp_sa`` records (given with
``-o`` and as a profile file), and TCP reassembly to the exact bytes written.
Install tshark with::

    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y tshark
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import PcapNgReader
from scapy.utils import checksum as scapy_checksum
from vpnha.impl.entropy import SeededEntropy
from vpnha.impl.esp import (
    ESP_AUTHENTICATION_NAMES,
    ESP_ENCRYPTION_NAMES,
    EspOutboundSA,
    EspTransform,
    esp_in_udp_packet,
    esp_transform,
)
from vpnha.impl.hsrp import HsrpPacket, HsrpState, OpCode
from vpnha.impl.hsrp import encode as encode_hsrp
from vpnha.properties.pcap import (
    HSRP_MULTICAST,
    HSRP_PORT,
    SSP_PORT,
    CaptureWriter,
    EspKey,
    MacAddress,
    TcpEndpoint,
    TcpFlags,
    TcpStreamRecorder,
    TimestampResolution,
    esp_sa_uat_records,
    ethernet,
    ethernet_for_ipv4,
    hsrp_virtual_mac,
    internet_checksum,
    ipv4,
    ipv4_tcp,
    ipv4_udp,
    mac_text,
    multicast_mac,
    tshark_esp_options,
    write_esp_keys,
)

EPOCH_MS = 1_700_000_000_000
ROUTER1_INSIDE, ROUTER2_INSIDE, INSIDE_VIP = "172.16.31.6", "172.16.31.100", "172.16.31.1"
ROUTER1_OUTSIDE, OUTSIDE_VIP = "40.0.0.100", "40.0.0.1"
ROUTER1_MAC, ROUTER2_MAC, PEER_MAC = "02:00:00:00:01:01", "02:00:00:00:02:01", "02:00:00:00:09:01"
PEER = "198.51.100.2"
INNER_SRC, INNER_DST = "10.1.0.5", "10.2.0.9"
SSP_CLIENT = TcpEndpoint(ip="10.0.0.1", port=40001, mac=ROUTER1_MAC)
SSP_SERVER = TcpEndpoint(ip="10.0.0.2", port=SSP_PORT, mac=ROUTER2_MAC)


# ---------------------------------------------------------------------------
# Frame builders against Scapy
# ---------------------------------------------------------------------------

ADDRESSES = st.builds(IPv4Address, st.integers(min_value=0, max_value=2**32 - 1)).map(str)
PORTS = st.integers(min_value=0, max_value=0xFFFF)
PAYLOADS = st.binary(max_size=300)


@given(data=st.binary(max_size=200))
def test_internet_checksum_matches_scapy(data: bytes) -> None:
    assert internet_checksum(data) == scapy_checksum(data)


@given(
    src=ADDRESSES,
    dst=ADDRESSES,
    sport=PORTS,
    dport=PORTS,
    payload=PAYLOADS,
    ttl=st.integers(min_value=0, max_value=255),
    ident=st.integers(min_value=0, max_value=0xFFFF),
)
def test_ipv4_udp_matches_scapy(
    *, src: str, dst: str, sport: int, dport: int, payload: bytes, ttl: int, ident: int
) -> None:
    ours = ipv4_udp(src, dst, sport, dport, payload, ttl=ttl, ident=ident)
    theirs = IP(src=src, dst=dst, ttl=ttl, id=ident) / UDP(sport=sport, dport=dport) / Raw(payload)
    assert ours == bytes(theirs)


@given(
    src=ADDRESSES,
    dst=ADDRESSES,
    sport=PORTS,
    dport=PORTS,
    seq=st.integers(min_value=0, max_value=2**32 - 1),
    ack=st.integers(min_value=0, max_value=2**32 - 1),
    flags=st.integers(min_value=0, max_value=255),
    window=PORTS,
    payload=PAYLOADS,
)
def test_ipv4_tcp_matches_scapy(
    *,
    src: str,
    dst: str,
    sport: int,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    window: int,
    payload: bytes,
) -> None:
    ours = ipv4_tcp(src, dst, sport, dport, seq, ack, flags, payload, window)
    theirs = (
        IP(src=src, dst=dst, id=0)
        / TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, window=window)
        / Raw(payload)
    )
    assert ours == bytes(theirs)


def test_udp_checksum_zero_is_sent_as_all_ones_and_none_as_zero() -> None:
    # Adding the checksum of a zero payload as a payload word makes the sum 0xffff,
    # whose complement 0 RFC 768 transmits as all ones.
    zero_payload = ipv4_udp("10.0.0.1", "10.0.0.2", 1, 2, b"\0\0")
    payload = zero_payload[26:28]
    datagram = ipv4_udp("10.0.0.1", "10.0.0.2", 1, 2, payload)[20:]
    assert datagram[6:8] == b"\xff\xff"
    theirs = IP(src="10.0.0.1", dst="10.0.0.2", id=0) / UDP(sport=1, dport=2) / Raw(payload)
    assert bytes(theirs)[26:28] == b"\xff\xff"  # Scapy agrees
    assert ipv4_udp("10.0.0.1", "10.0.0.2", 1, 2, payload, checksum=False)[26:28] == b"\0\0"


def test_ethernet_matches_scapy() -> None:
    ip_packet = ipv4("192.0.2.1", "192.0.2.2", 50, b"esp", ttl=9, ident=7, dont_fragment=True)
    theirs = IP(src="192.0.2.1", dst="192.0.2.2", proto=50, ttl=9, id=7, flags="DF") / Raw(b"esp")
    assert ip_packet == bytes(theirs)
    frame = ethernet_for_ipv4(ip_packet, ROUTER1_MAC, PEER_MAC)
    assert frame == bytes(Ether(dst=PEER_MAC, src=ROUTER1_MAC, type=0x0800) / IP(ip_packet))
    assert ethernet(bytes.fromhex("ffffffffffff"), "00-00-0C-07-AC-01", 0x0806, b"arp") == (
        bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src="00:00:0c:07:ac:01", type=0x0806) / Raw(b"arp"))
    )


def test_multicast_and_hsrp_macs() -> None:
    assert multicast_mac() == multicast_mac(HSRP_MULTICAST) == bytes.fromhex("01005e000002")
    assert mac_text(multicast_mac("239.129.1.2")) == "01:00:5e:01:01:02"  # 23 low bits only
    assert mac_text(hsrp_virtual_mac(1)) == "00:00:0c:07:ac:01"
    assert mac_text(hsrp_virtual_mac(255)) == "00:00:0c:07:ac:ff"
    hello = ipv4_udp(ROUTER1_INSIDE, HSRP_MULTICAST, HSRP_PORT, HSRP_PORT, bytes(20), ttl=1)
    assert ethernet_for_ipv4(hello, hsrp_virtual_mac(1))[:6] == multicast_mac()
    broadcast = ipv4_udp("0.0.0.0", "255.255.255.255", 68, 67, b"")
    assert ethernet_for_ipv4(broadcast, ROUTER1_MAC)[:6] == b"\xff" * 6


BAD_ARGUMENTS: list[tuple[Callable[[], object], str]] = [
    (lambda: ipv4_udp("10.0.0.300", "10.0.0.1", 1, 2, b""), "src_ip '10.0.0.300'"),
    (lambda: ipv4_udp("10.0.0.1", "2001:db8::1", 1, 2, b""), "dst_ip '2001:db8::1'"),
    (lambda: ipv4_udp("10.0.0.1", "10.0.0.2", 65536, 2, b""), "sport 65536"),
    (lambda: ipv4_udp("10.0.0.1", "10.0.0.2", 1, -1, b""), "dport -1"),
    (lambda: ipv4_udp("10.0.0.1", "10.0.0.2", 1, 2, bytes(65508)), "payload length 65508"),
    (lambda: ipv4_udp("10.0.0.1", "10.0.0.2", 1, 2, b"", ttl=256), "ttl 256"),
    (lambda: ipv4_udp("10.0.0.1", "10.0.0.2", 1, 2, b"", ident=70000), "ident 70000"),
    (lambda: ipv4_tcp("10.0.0.1", "10.0.0.2", 1, 2, 2**32, 0, 0, b""), "seq 4294967296"),
    (lambda: ipv4_tcp("10.0.0.1", "10.0.0.2", 1, 2, 0, -5, 0, b""), "ack -5"),
    (lambda: ipv4_tcp("10.0.0.1", "10.0.0.2", 1, 2, 0, 0, 256, b""), "flags 256"),
    (lambda: ipv4_tcp("10.0.0.1", "10.0.0.2", 1, 2, 0, 0, 0, b"", 65536), "window 65536"),
    (lambda: ipv4_tcp("1.2.3.4", "1.2.3.5", 1, 2, 0, 0, 0, bytes(65496)), "payload length 65496"),
    (lambda: ipv4("1.2.3.4", "1.2.3.5", 300, b""), "protocol 300"),
    (lambda: ethernet("01:02:03:04:05", ROUTER1_MAC, 0x800, b""), "dst_mac '01:02:03:04:05'"),
    (lambda: ethernet(ROUTER1_MAC, b"\x00" * 7, 0x800, b""), "src_mac b'\\x00"),
    (lambda: ethernet(ROUTER1_MAC, ROUTER2_MAC, 0x10000, b""), "ethertype 65536"),
    (lambda: ethernet_for_ipv4(b"\x60" + bytes(39), ROUTER1_MAC, PEER_MAC), "ip_packet"),
    (lambda: ethernet_for_ipv4(ipv4("1.1.1.1", "2.2.2.2", 6, b""), ROUTER1_MAC), "dst_mac None"),
    (lambda: multicast_mac("10.0.0.1"), "group 10.0.0.1"),
    (lambda: hsrp_virtual_mac(256), "group 256"),
]


@pytest.mark.parametrize(("call", "named"), BAD_ARGUMENTS, ids=[n for _, n in BAD_ARGUMENTS])
def test_bad_arguments_raise_value_error_naming_them(
    call: Callable[[], object], named: str
) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(named)):
        call()


# ---------------------------------------------------------------------------
# The pcapng writer, read back by Scapy
# ---------------------------------------------------------------------------


def test_capture_reads_back_with_scapy(tmp_path: Path) -> None:
    path = tmp_path / "world.pcapng"
    frame = ethernet_for_ipv4(
        ipv4_udp("10.0.0.1", "10.0.0.2", 1, 2, b"x" * 5), ROUTER1_MAC, PEER_MAC
    )
    with CaptureWriter(path, epoch_ms=EPOCH_MS) as writer:
        inside = writer.add_segment("inside", resolution=TimestampResolution.MILLISECONDS)
        outside = writer.add_segment("outside")
        writer.write(outside, 1_500, frame, comment="takeover")
        writer.write(inside, 2_001, frame[:-1])
        assert (writer.segments, writer.frame_count) == (("inside", "outside"), 2)
    assert writer.closed
    reader = PcapNgReader(str(path))
    packets = list(reader)
    reader.close()
    assert [options["name"] for _, _, options in reader.interfaces] == [b"inside", b"outside"]
    assert [options["tsresol"] for _, _, options in reader.interfaces] == [1000, 1000000]
    assert [p.sniffed_on for p in packets] == ["outside", "inside"]
    assert [p.time for p in packets] == [(EPOCH_MS + 1_500) / 1000, (EPOCH_MS + 2_001) / 1000]
    assert [bytes(p) for p in packets] == [frame, frame[:-1]]  # odd lengths padded, not kept
    assert packets[0].comments == [b"takeover"]


def test_capture_into_a_file_object_leaves_it_open() -> None:
    buffer = io.BytesIO()
    writer = CaptureWriter(buffer)
    segment = writer.add_segment("ssp")
    writer.write(segment, 0, bytes(14))
    writer.close()
    writer.close()  # idempotent
    assert not buffer.closed
    data = buffer.getvalue()
    assert data[:4] == bytes.fromhex("0a0d0d0a")  # Section Header Block
    assert data[8:12] == bytes.fromhex("4d3c2b1a")  # byte-order magic, little-endian
    assert len(data) % 4 == 0
    with pytest.raises(ValueError, match="closed"):
        writer.write(segment, 1, bytes(14))


def test_capture_writer_refuses_misuse() -> None:
    writer = CaptureWriter(io.BytesIO(), epoch_ms=10)
    segment = writer.add_segment("inside")
    with pytest.raises(ValueError, match="segment name 'inside'"):
        writer.add_segment("inside")
    with pytest.raises(ValueError, match="segment 1 "):
        writer.write(1, 0, b"")
    with pytest.raises(ValueError, match="time_ms -11"):
        writer.write(segment, -11, b"")
    with pytest.raises(ValueError, match="epoch_ms -1"):
        CaptureWriter(io.BytesIO(), epoch_ms=-1)


# ---------------------------------------------------------------------------
# TcpStreamRecorder: sequence and acknowledgement numbers
# ---------------------------------------------------------------------------


def test_tcp_recorder_numbers_every_segment_consistently() -> None:
    recorder = TcpStreamRecorder(
        client=SSP_CLIENT, server=SSP_SERVER, client_isn=2**32 - 2, server_isn=7, mss=4
    )
    frames = recorder.open()
    frames += recorder.send(SSP_CLIENT, b"abcdefghij")  # 3 segments: 4 + 4 + 2
    frames += recorder.send(SSP_SERVER, b"")  # nothing
    frames += recorder.send(SSP_SERVER, b"xyz")
    frames += recorder.close(SSP_CLIENT)
    segments = [Ether(frame)[TCP] for frame in frames]
    summary = [(int(s.flags), s.seq, s.ack, bytes(s.payload)) for s in segments]
    syn, fin, ack, psh, rst = (int(TcpFlags[name]) for name in ("SYN", "FIN", "ACK", "PSH", "RST"))
    assert rst not in {flags for flags, *_ in summary}
    # The client's numbers wrap past 2^32 - 1 (SYN takes 2^32-2, data starts at 2^32-1).
    assert summary == [
        (syn, 2**32 - 2, 0, b""),
        (syn | ack, 7, 2**32 - 1, b""),
        (ack, 2**32 - 1, 8, b""),
        (ack, 2**32 - 1, 8, b"abcd"),
        (ack, 3, 8, b"efgh"),
        (ack | psh, 7, 8, b"ij"),
        (ack | psh, 8, 9, b"xyz"),
        (fin | ack, 9, 11, b""),
        (fin | ack, 11, 10, b""),
        (ack, 10, 12, b""),
    ]
    senders = [(Ether(f).src, Ether(f)[IP].src, Ether(f)[TCP].sport) for f in frames]
    assert senders[:2] == [
        (ROUTER1_MAC, SSP_CLIENT.ip, SSP_CLIENT.port),
        (ROUTER2_MAC, SSP_SERVER.ip, SSP_SERVER.port),
    ]
    assert not recorder.is_open
    with pytest.raises(ValueError, match="not open"):
        recorder.send(SSP_CLIENT, b"late")


def test_tcp_recorder_reset_and_misuse() -> None:
    recorder = TcpStreamRecorder(client=SSP_CLIENT, server=SSP_SERVER)
    with pytest.raises(ValueError, match="not open"):
        recorder.send(SSP_CLIENT, b"early")
    recorder.open()
    with pytest.raises(ValueError, match="already opened"):
        recorder.open()
    stranger = TcpEndpoint(ip="10.0.0.3", port=1, mac=PEER_MAC)
    with pytest.raises(ValueError, match="neither end"):
        recorder.send(stranger, b"x")
    recorder.send(SSP_CLIENT, b"12345")
    (rst,) = recorder.reset(SSP_SERVER)
    segment = Ether(rst)[TCP]
    assert (int(segment.flags), segment.ack) == (int(TcpFlags.RST | TcpFlags.ACK), 0x1000_0006)
    bad_port = TcpEndpoint(ip="1.1.1.1", port=70000, mac=PEER_MAC)
    with pytest.raises(ValueError, match=r"client\.port 70000"):
        TcpStreamRecorder(client=bad_port, server=SSP_SERVER)
    with pytest.raises(ValueError, match="mss 0"):
        TcpStreamRecorder(client=SSP_CLIENT, server=SSP_SERVER, mss=0)


# ---------------------------------------------------------------------------
# esp_sa UAT records
# ---------------------------------------------------------------------------


def test_uat_record_text() -> None:
    key = EspKey(
        "192.0.2.1",
        "198.51.100.2",
        0x1001,
        "esp-aes",
        bytes(range(16)),
        "esp-sha-hmac",
        bytes(range(20)),
    )
    gcm = EspKey("*", "10.0.0.1", None, "esp-gcm 256", bytes(36))
    assert esp_sa_uat_records([key, gcm]) == [
        '"IPv4","192.0.2.1","198.51.100.2","0x00001001","AES-CBC [RFC3602]",'
        '"0x000102030405060708090a0b0c0d0e0f","HMAC-SHA-1-96 [RFC2404]",'
        '"0x000102030405060708090a0b0c0d0e0f10111213"',
        '"IPv4","*","10.0.0.1","*","AES-GCM with 16 octet ICV [RFC4106]",'
        f'"0x{"00" * 36}","NULL",""',
    ]
    assert tshark_esp_options([key]) == ["-o", "uat:esp_sa:" + esp_sa_uat_records([key])[0]]
    assert tshark_esp_options([], enable=True) == [
        "-o",
        "esp.enable_encryption_decode:TRUE",
        "-o",
        "esp.enable_authentication_check:TRUE",
    ]


def test_every_transform_we_run_has_a_wireshark_name() -> None:
    for encryption in ESP_ENCRYPTION_NAMES:
        sizes = (128, 192, 256) if encryption in ("esp-aes", "esp-gcm") else (None,)
        for authentication in (None, *ESP_AUTHENTICATION_NAMES):
            if encryption == "esp-gcm" and authentication is not None:
                continue
            for bits in sizes:
                transform = esp_transform(encryption, authentication, key_bits=bits)
                key = EspKey.for_transform(
                    src="192.0.2.1",
                    dst="192.0.2.2",
                    spi=0x100,
                    transform=transform,
                    encryption_key=bytes(transform.encryption_key_length),
                    integrity_key=bytes(transform.integrity_key_length),
                )
                (record,) = esp_sa_uat_records([key])
                assert record.count('","') == 7, record


def sa(
    encryption: str,
    enc_key: bytes,
    authentication: str | None = None,
    auth_key: bytes = b"",
    *,
    src: str = "192.0.2.1",
    spi: int = 0x100,
) -> EspKey:
    return EspKey(src, "192.0.2.2", spi, encryption, enc_key, authentication, auth_key)


BAD_KEYS = [
    (sa("esp-gcm", bytes(20), "esp-sha-hmac", bytes(20)), "esp-gcm authenticates by itself"),
    (sa("esp-blowfish", bytes(16)), "sas[0].encryption 'esp-blowfish'"),
    (sa("esp-aes 512", bytes(64)), "key size 512"),
    (sa("esp-3des 192", bytes(24)), "takes no key size"),
    (sa("esp-aes", bytes(32)), "sas[0].enc_key is 32 octets; esp-aes needs a 16-octet key"),
    (sa("esp-gcm", bytes(16)), "needs a 20-octet key + 4-octet salt"),
    (sa("esp-aes", bytes(16), "esp-sha-hmac", bytes(16)), "sas[0].auth_key is 16 octets"),
    (sa("esp-aes", bytes(16), "esp-sha256-hmac", bytes(32)), "authentication 'esp-sha256-hmac'"),
    (sa("esp-null", b"", None, bytes(20)), "sas[0].auth_key is 20 octets"),
    (sa("esp-null", b"", src="2001:db8::1"), "sas[0].src '2001:db8::1'"),
    (sa("esp-null", b"", spi=2**32), "sas[0].spi 4294967296"),
]


@pytest.mark.parametrize(("key", "named"), BAD_KEYS, ids=[n for _, n in BAD_KEYS])
def test_unsupported_sas_raise_value_error(key: EspKey, named: str) -> None:
    with pytest.raises(ValueError, match=re.escape(named)):
        esp_sa_uat_records([key])


# ---------------------------------------------------------------------------
# One capture of the world's traffic, dissected by tshark
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class EspCase:
    """One SA whose packets go into the capture."""

    spi: int
    transform: EspTransform
    wildcard: bool = False
    """Give Wireshark ``*`` for addresses and SPI instead of the exact values."""


ESP_CASES = (
    EspCase(spi=0x1001, transform=esp_transform("esp-aes", "esp-sha-hmac")),
    EspCase(spi=0x1002, transform=esp_transform("esp-gcm")),
    EspCase(spi=0x1003, transform=esp_transform("esp-3des", "esp-sha-hmac")),
    EspCase(spi=0x1004, transform=esp_transform("esp-aes 256", "esp-md5-hmac")),
    EspCase(spi=0x1005, transform=esp_transform("esp-des", "esp-md5-hmac")),
    EspCase(spi=0x1006, transform=esp_transform("esp-gcm 256")),
    # Last: Wireshark takes the first record that matches, and this one matches any packet.
    EspCase(spi=0x1007, transform=esp_transform("esp-null", "esp-sha-hmac"), wildcard=True),
)
ESP_PACKETS_PER_SA = 2  # seq 1 in our checksummed UDP, seq 2 from impl's esp_in_udp_packet
SSP_CHUNKS = [
    (SSP_CLIENT, 1),
    (SSP_CLIENT, 37),
    (SSP_SERVER, 100),
    (SSP_CLIENT, 3_000),  # three segments
    (SSP_SERVER, 1_460),  # exactly one MSS
    (SSP_SERVER, 0),  # no segment
    (SSP_CLIENT, 2_921),
    (SSP_SERVER, 5),
]


def esp_keys(case: EspCase) -> EspKey:
    entropy = SeededEntropy(case.spi)
    wildcard = case.wildcard
    return EspKey.for_transform(
        src="*" if wildcard else ROUTER1_OUTSIDE,
        dst="*" if wildcard else PEER,
        spi=None if wildcard else case.spi,
        transform=case.transform,
        encryption_key=entropy.token_bytes(case.transform.encryption_key_length),
        integrity_key=entropy.token_bytes(case.transform.integrity_key_length),
    )


def stream_bytes(index: int, length: int) -> bytes:
    out = b""
    while len(out) < length:
        out += hashlib.sha256(f"{index}/{len(out)}".encode()).digest()
    return out[:length]


def hsrp_hello(state: HsrpState, priority: int, group: int, virtual_ip: str) -> bytes:
    return encode_hsrp(
        HsrpPacket(
            op_code=OpCode.HELLO,
            state=state,
            hello_time_s=1,
            hold_time_s=3,
            priority=priority,
            group=group,
            virtual_ip=IPv4Address(virtual_ip),
        )
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Capture:
    """The capture and what went into it."""

    path: Path
    segments: list[str]
    """Expected ``frame.interface_name`` per frame."""
    times_ms: list[int]
    """Simulated time per frame."""
    esp_frames: list[int]
    """Frame numbers (1-based) of the genuine ESP packets, in ESP_CASES order."""
    tampered_frame: int
    streams: dict[TcpEndpoint, bytes]
    """Bytes each SSP end wrote."""


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Capture:
    path = tmp_path_factory.mktemp("pcap") / "world.pcapng"
    segments: list[str] = []
    times_ms: list[int] = []
    with CaptureWriter(path, epoch_ms=EPOCH_MS) as writer:
        ids = {
            "inside": writer.add_segment("inside", resolution=TimestampResolution.MILLISECONDS),
            "outside": writer.add_segment("outside"),
            "ssp": writer.add_segment("ssp"),
        }

        def put(segment: str, time_ms: int, frame: bytes) -> int:
            writer.write(ids[segment], time_ms, frame)
            segments.append(segment)
            times_ms.append(time_ms)
            return writer.frame_count

        # HSRP hellos: only the Active router sends from the virtual MAC (RFC 2281 §6.1).
        hellos: list[tuple[str, str, MacAddress, tuple[HsrpState, int, int, str]]] = [
            ("inside", ROUTER1_INSIDE, hsrp_virtual_mac(1), (HsrpState.ACTIVE, 110, 1, INSIDE_VIP)),
            ("inside", ROUTER2_INSIDE, ROUTER2_MAC, (HsrpState.STANDBY, 100, 1, INSIDE_VIP)),
            (
                "outside",
                ROUTER1_OUTSIDE,
                hsrp_virtual_mac(2),
                (HsrpState.ACTIVE, 110, 2, OUTSIDE_VIP),
            ),
        ]
        for time_ms, (segment, src, mac, fields) in enumerate(hellos, start=1):
            packet = ipv4_udp(src, HSRP_MULTICAST, HSRP_PORT, HSRP_PORT, hsrp_hello(*fields), ttl=1)
            put(segment, time_ms, ethernet_for_ipv4(packet, mac))

        # ESP in UDP 4500 from the Active router to the remote peer.
        esp_frames = []
        time_ms = 100
        outbound: EspOutboundSA | None = None
        for case in ESP_CASES:
            key = esp_keys(case)
            outbound = EspOutboundSA(
                spi=case.spi,
                transform=case.transform,
                encryption_key=key.enc_key,
                integrity_key=key.auth_key,
                entropy=SeededEntropy(case.spi + 1),
            )
            for seq in range(1, ESP_PACKETS_PER_SA + 1):
                inner = IP(src=INNER_SRC, dst=INNER_DST) / ICMP(id=case.spi, seq=seq)
                esp = outbound.encapsulate(bytes(inner / Raw(b"vpnha" * seq)))
                assert isinstance(esp, bytes)
                if seq == 1:
                    packet = ipv4_udp(ROUTER1_OUTSIDE, PEER, 4500, 4500, esp)
                else:
                    packet = esp_in_udp_packet(src=ROUTER1_OUTSIDE, dst=PEER, esp_packet=esp)
                time_ms += 7
                esp_frames.append(
                    put(
                        "outside", time_ms, ethernet_for_ipv4(packet, hsrp_virtual_mac(2), PEER_MAC)
                    )
                )
        # The last SA's next packet with one ICV bit flipped: tshark's check can fail.
        assert outbound is not None
        genuine = outbound.encapsulate(bytes(IP(src=INNER_SRC, dst=INNER_DST) / ICMP()))
        assert isinstance(genuine, bytes)
        tampered = genuine[:-1] + bytes((genuine[-1] ^ 0x01,))
        packet = ipv4_udp(ROUTER1_OUTSIDE, PEER, 4500, 4500, tampered)
        tampered_frame = put(
            "outside", time_ms + 1, ethernet_for_ipv4(packet, ROUTER1_MAC, PEER_MAC)
        )

        # The SSP byte stream in uneven chunks, both ways.
        recorder = TcpStreamRecorder(client=SSP_CLIENT, server=SSP_SERVER)
        streams = {SSP_CLIENT: b"", SSP_SERVER: b""}
        time_ms = 1_000
        for frame in recorder.open():
            put("ssp", time_ms, frame)
        for index, (sender, length) in enumerate(SSP_CHUNKS):
            chunk = stream_bytes(index, length)
            streams[sender] += chunk
            time_ms += 13
            for frame in recorder.send(sender, chunk):
                put("ssp", time_ms, frame)
        for frame in recorder.close(SSP_SERVER):
            put("ssp", time_ms + 50, frame)
    return Capture(
        path=path,
        segments=segments,
        times_ms=times_ms,
        esp_frames=esp_frames,
        tampered_frame=tampered_frame,
        streams=streams,
    )


def tshark_or_skip() -> str:
    tshark = shutil.which("tshark")
    if tshark is None:
        how = (
            "tshark is not installed: run `echo 'wireshark-common "
            "wireshark-common/install-setuid boolean false' | debconf-set-selections; "
            "DEBIAN_FRONTEND=noninteractive apt-get install -y tshark` (lab-notes §3)"
        )
        if os.environ.get("CI"):
            pytest.fail(how)
        pytest.skip(how)
    return tshark


def run_tshark(
    capture: Capture, config_dir: Path, arguments: Sequence[str], fields: Sequence[str] = ()
) -> list[dict[str, str]] | str:
    """tshark on the capture with its personal configuration in ``config_dir``.

    With ``fields``, one dict per frame; without, the raw standard output.
    """
    command = [tshark_or_skip(), "-r", str(capture.path), *arguments]
    if fields:
        command += ["-T", "fields", "-E", "occurrence=a"]
        for name in fields:
            command += ["-e", name]
    # A private configuration folder: no personal esp_sa file or preference leaks in.
    environment = {**os.environ, "WIRESHARK_CONFIG_DIR": str(config_dir)}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=False, env=environment
    )
    assert result.returncode == 0, result.stderr
    if not fields:
        return result.stdout
    return [dict(zip(fields, line.split("\t"), strict=True)) for line in result.stdout.splitlines()]


def frames(result: list[dict[str, str]] | str) -> list[dict[str, str]]:
    assert isinstance(result, list)
    return result


FRAME_FIELDS = [
    "frame.interface_name",
    "frame.time_epoch",
    "eth.src",
    "eth.dst",
    "ip.checksum.status",
    "udp.checksum.status",
    "tcp.checksum.status",
    "tcp.stream",
    "tcp.analysis.flags",
    "hsrp.version",
    "hsrp.opcode",
    "hsrp.state",
    "hsrp.hellotime",
    "hsrp.holdtime",
    "hsrp.priority",
    "hsrp.group",
    "hsrp.auth_data",
    "hsrp.virt_ip",
]


def test_tshark_sees_every_frame_on_its_segment_with_good_checksums(
    capture: Capture, tmp_path: Path
) -> None:
    checks = ["ip", "udp", "tcp"]
    arguments = [arg for name in checks for arg in ("-o", f"{name}.check_checksum:TRUE")]
    rows = frames(run_tshark(capture, tmp_path, arguments, FRAME_FIELDS))
    assert len(rows) == len(capture.segments)
    assert [row["frame.interface_name"] for row in rows] == capture.segments
    times = [round(float(row["frame.time_epoch"]) * 1000) for row in rows]
    assert times == [EPOCH_MS + t for t in capture.times_ms]

    for number, row in enumerate(rows, start=1):
        where = f"frame {number}: {row}"
        # Every IPv4 header good (outer, and the decrypted-or-not inner ones tshark sees).
        assert set(row["ip.checksum.status"].split(",")) == {"1"}, where
        if number in capture.esp_frames[1::2]:
            # impl's esp_in_udp_packet sends UDP checksum 0 (RFC 3948 §2.1): "not present".
            assert row["udp.checksum.status"] == "3", where
        elif row["udp.checksum.status"]:
            assert row["udp.checksum.status"] == "1", where
        if capture.segments[number - 1] == "ssp":
            assert (row["tcp.checksum.status"], row["tcp.stream"]) == ("1", "0"), where
            assert row["tcp.analysis.flags"] == "", where  # no lost/unseen/retransmitted data

    hsrp = [row for row in rows if row["hsrp.state"]]
    assert [row["frame.interface_name"] for row in hsrp] == ["inside", "inside", "outside"]
    assert [row["eth.dst"] for row in hsrp] == ["01:00:5e:00:00:02"] * 3
    active_macs = [mac_text(hsrp_virtual_mac(1)), mac_text(hsrp_virtual_mac(2))]
    assert [row["eth.src"] for row in hsrp] == [active_macs[0], ROUTER2_MAC, active_macs[1]]
    hsrp_fields = [name for name in FRAME_FIELDS if name.startswith("hsrp.")]
    assert [[row[name] for name in hsrp_fields] for row in hsrp] == [
        ["0", "0", "16", "1", "3", "110", "1", "cisco", INSIDE_VIP],
        ["0", "0", "8", "1", "3", "100", "1", "cisco", INSIDE_VIP],
        ["0", "0", "16", "1", "3", "110", "2", "cisco", OUTSIDE_VIP],
    ]


ESP_FIELDS = [
    "esp.spi",
    "esp.sequence",
    "esp.icv_good",
    "esp.icv_bad",
    "ip.src",
    "ip.dst",
    "icmp.type",
    "icmp.ident",
    "icmp.seq",
    "_ws.expert.message",
]


def check_decrypted(capture: Capture, rows: list[dict[str, str]]) -> None:
    for index, number in enumerate(capture.esp_frames):
        case = ESP_CASES[index // ESP_PACKETS_PER_SA]
        seq = index % ESP_PACKETS_PER_SA + 1
        record = rows[number - 1]
        where = f"{case.transform.name} seq {seq}: {record}"
        assert int(record["esp.spi"], 16) == case.spi, where
        assert int(record["esp.sequence"]) == seq, where
        assert (record["esp.icv_good"], record["esp.icv_bad"]) == ("1", "0"), where
        assert record["ip.src"] == f"{ROUTER1_OUTSIDE},{INNER_SRC}", where
        assert record["ip.dst"] == f"{PEER},{INNER_DST}", where
        assert record["icmp.type"] == "8", where  # the decrypted inner echo request
        assert (int(record["icmp.ident"], 0), int(record["icmp.seq"])) == (case.spi, seq), where
        assert "Wrong Sequence Number" not in record["_ws.expert.message"], where
    bad = rows[capture.tampered_frame - 1]
    assert (int(bad["esp.sequence"]), bad["esp.icv_good"], bad["esp.icv_bad"]) == (3, "0", "1")


def test_tshark_decrypts_esp_with_our_uat_records(capture: Capture, tmp_path: Path) -> None:
    options = tshark_esp_options([esp_keys(case) for case in ESP_CASES], enable=True)
    check_decrypted(capture, frames(run_tshark(capture, tmp_path, options, ESP_FIELDS)))


def test_tshark_decrypts_esp_with_our_esp_sa_file(capture: Capture, tmp_path: Path) -> None:
    write_esp_keys(tmp_path / "esp_sa", [esp_keys(case) for case in ESP_CASES])
    options = tshark_esp_options([], enable=True)
    check_decrypted(capture, frames(run_tshark(capture, tmp_path, options, ESP_FIELDS)))


def test_tshark_without_keys_decrypts_nothing(capture: Capture, tmp_path: Path) -> None:
    """The control: the decryption above comes from our records, not from a heuristic."""
    rows = frames(run_tshark(capture, tmp_path, tshark_esp_options([], enable=True), ESP_FIELDS))
    assert all(rows[n - 1]["icmp.type"] == "" for n in capture.esp_frames[:2])


def test_tshark_reassembles_the_ssp_stream_exactly(capture: Capture, tmp_path: Path) -> None:
    output = run_tshark(capture, tmp_path, ["-q", "-z", "follow,tcp,raw,0"])
    assert isinstance(output, str)
    lines = output.splitlines()
    assert f"Node 0: {SSP_CLIENT.ip}:{SSP_CLIENT.port}" in lines, output
    assert f"Node 1: {SSP_SERVER.ip}:{SSP_SERVER.port}" in lines, output
    body = lines[lines.index(f"Node 1: {SSP_SERVER.ip}:{SSP_SERVER.port}") + 1 :]
    received: dict[TcpEndpoint, bytes] = {SSP_CLIENT: b"", SSP_SERVER: b""}
    for line in body:
        if line.startswith("="):
            break
        # follow,raw: node 0's data flush left, node 1's indented by a tab.
        sender = SSP_SERVER if line.startswith("\t") else SSP_CLIENT
        received[sender] += bytes.fromhex(line.strip())
    assert received == capture.streams
