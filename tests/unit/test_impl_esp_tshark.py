"""impl/esp against Wireshark's ESP dissector: tshark verifies our ICVs and decrypts.

Writes our packets (plain ESP and ESP in UDP 4500) to a pcap with Scapy and
reads them back with tshark's ESP decryption (lab-notes §3), one ``uat:esp_sa``
record per SA. Install tshark with::

    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y tshark
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.packet import Raw
from scapy.utils import wrpcap
from vpnha.impl.entropy import SeededEntropy
from vpnha.impl.esp import (
    EspOutboundSA,
    EspTransform,
    build_ipv4,
    esp_in_udp_packet,
    esp_transform,
)

TUNNEL_SRC, TUNNEL_DST = "192.0.2.1", "198.51.100.2"
INNER_SRC, INNER_DST = "10.1.0.5", "10.2.0.9"
PACKETS_PER_SA = 4  # seq 1, 2 plain ESP; 3, 4 in UDP 4500


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """One SA and how Wireshark's ESP preferences name its algorithms."""

    spi: int
    """SPI of the SA."""
    transform: EspTransform
    """Our transform."""
    wireshark_cipher: str
    """Encryption algorithm string of the esp_sa UAT."""
    wireshark_mac: str
    """Authentication algorithm string of the esp_sa UAT."""


CASES = (
    Case(
        spi=0x0000_1001,
        transform=esp_transform("esp-aes", "esp-sha-hmac"),
        wireshark_cipher="AES-CBC [RFC3602]",
        wireshark_mac="HMAC-SHA-1-96 [RFC2404]",
    ),
    Case(
        spi=0x0000_1002,
        transform=esp_transform("esp-3des", "esp-sha-hmac"),
        wireshark_cipher="TripleDES-CBC [RFC2451]",
        wireshark_mac="HMAC-SHA-1-96 [RFC2404]",
    ),
    Case(
        spi=0x0000_1003,
        transform=esp_transform("esp-gcm"),
        wireshark_cipher="AES-GCM with 16 octet ICV [RFC4106]",
        wireshark_mac="NULL",
    ),
)


def keys(case: Case) -> tuple[bytes, bytes]:
    entropy = SeededEntropy(case.spi)
    return (
        entropy.token_bytes(case.transform.encryption_key_length),
        entropy.token_bytes(case.transform.integrity_key_length),
    )


def uat_record(case: Case) -> str:
    encryption_key, integrity_key = keys(case)
    mac_key = f"0x{integrity_key.hex()}" if integrity_key else ""
    return (
        f'uat:esp_sa:"IPv4","{TUNNEL_SRC}","{TUNNEL_DST}","0x{case.spi:08x}",'
        f'"{case.wireshark_cipher}","0x{encryption_key.hex()}","{case.wireshark_mac}","{mac_key}"'
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


def test_tshark_verifies_and_decrypts_our_packets(tmp_path: Path) -> None:
    tshark = tshark_or_skip()
    frames = []
    outbounds = []
    for case in CASES:
        encryption_key, integrity_key = keys(case)
        outbound = EspOutboundSA(
            spi=case.spi,
            transform=case.transform,
            encryption_key=encryption_key,
            integrity_key=integrity_key,
            entropy=SeededEntropy(case.spi + 1),
        )
        outbounds.append(outbound)
        for seq in range(1, PACKETS_PER_SA + 1):
            inner = IP(src=INNER_SRC, dst=INNER_DST) / ICMP(id=case.spi & 0xFFFF, seq=seq)
            esp = outbound.encapsulate(bytes(inner / Raw(b"vpnha" * seq)))
            assert isinstance(esp, bytes)
            if seq <= PACKETS_PER_SA // 2:
                packet = build_ipv4(src=TUNNEL_SRC, dst=TUNNEL_DST, protocol=50, payload=esp)
            else:
                packet = esp_in_udp_packet(src=TUNNEL_SRC, dst=TUNNEL_DST, esp_packet=esp)
            frames.append(IP(packet))
    # One packet with a flipped ICV bit: proves tshark's check can fail.
    inner = IP(src=INNER_SRC, dst=INNER_DST) / ICMP(seq=PACKETS_PER_SA + 1)
    genuine = outbounds[0].encapsulate(bytes(inner))
    assert isinstance(genuine, bytes)
    tampered = bytearray(genuine)
    tampered[-1] ^= 0x01
    frames.append(
        IP(build_ipv4(src=TUNNEL_SRC, dst=TUNNEL_DST, protocol=50, payload=bytes(tampered)))
    )
    pcap = tmp_path / "esp.pcap"
    wrpcap(str(pcap), frames)

    command = [
        tshark,
        "-r",
        str(pcap),
        "-o",
        "esp.enable_encryption_decode:TRUE",
        "-o",
        "esp.enable_authentication_check:TRUE",
    ]
    for case in CASES:
        command += ["-o", uat_record(case)]
    fields = [
        "esp.spi",
        "esp.sequence",
        "esp.icv_good",
        "esp.icv_bad",
        "ip.src",
        "ip.dst",
        "icmp.type",
        "icmp.ident",
        "icmp.seq",
        "udp.dstport",
        "_ws.expert.message",
    ]
    command += ["-T", "fields", "-E", "occurrence=a"]
    for name in fields:
        command += ["-e", name]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert len(rows) == len(CASES) * PACKETS_PER_SA + 1, result.stdout
    *rows, bad = rows

    for index, row in enumerate(rows):
        case = CASES[index // PACKETS_PER_SA]
        seq = index % PACKETS_PER_SA + 1
        record = dict(zip(fields, row, strict=True))
        where = f"{case.transform.name} seq {seq}: {record}"
        assert int(record["esp.spi"], 16) == case.spi, where
        assert int(record["esp.sequence"]) == seq, where
        assert (record["esp.icv_good"], record["esp.icv_bad"]) == ("1", "0"), where
        assert record["ip.src"] == f"{TUNNEL_SRC},{INNER_SRC}", where
        assert record["ip.dst"] == f"{TUNNEL_DST},{INNER_DST}", where
        assert record["icmp.type"] == "8", where  # the decrypted inner echo request
        assert int(record["icmp.ident"], 0) == case.spi & 0xFFFF, where
        assert int(record["icmp.seq"]) == seq, where
        assert record["udp.dstport"] == ("4500" if seq > PACKETS_PER_SA // 2 else ""), where
        assert "Wrong Sequence Number" not in record["_ws.expert.message"], where

    record = dict(zip(fields, bad, strict=True))
    assert (int(record["esp.spi"], 16), int(record["esp.sequence"])) == (CASES[0].spi, 5)
    assert (record["esp.icv_good"], record["esp.icv_bad"]) == ("0", "1"), record
