"""The implementation's failover story as Wireshark sees it (tshark on our pcapng).

``vpnha simulate --pcap FILE --esp-keys FILE`` writes every packet of the built-in
story run by the implementation in the simulated world; tshark, which we did not
write, must dissect the HSRP fields, decrypt every ESP packet with a good ICV using
our ``esp_sa`` records, and see no ESP sequence number used twice on an SPI across
the failover and the preempt back.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from vpnha.cli import main

pytestmark = pytest.mark.slow


def tshark_or_skip() -> str:
    tshark = shutil.which("tshark")
    if tshark is None:
        how = "tshark is not installed (Debian package tshark; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(how)
        pytest.skip(how)
    return tshark


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("story")
    pcap, keys = folder / "story.pcapng", folder / "esp_sa"
    assert main(["simulate", "--pcap", str(pcap), "--esp-keys", str(keys), "--json"]) == 0
    return pcap, keys


def fields(story: tuple[Path, Path], display_filter: str, names: list[str]) -> list[list[str]]:
    pcap, keys = story
    config = pcap.parent / "wireshark"
    (config / "profiles").mkdir(parents=True, exist_ok=True)
    # Our esp_sa file is exactly a Wireshark profile's UAT file: install it as one.
    shutil.copy(keys, config / "esp_sa")
    command = [
        tshark_or_skip(),
        "-r",
        str(pcap),
        "-o",
        "esp.enable_encryption_decode:TRUE",
        "-o",
        "esp.enable_authentication_check:TRUE",
        "-Y",
        display_filter,
        "-T",
        "fields",
        "-E",
        "occurrence=f",
    ]
    for name in names:
        command += ["-e", name]
    environment = {**os.environ, "WIRESHARK_CONFIG_DIR": str(config)}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, env=environment
    )
    assert result.returncode == 0, result.stderr
    return [line.split("\t") for line in result.stdout.splitlines()]


def test_hsrp_fields_dissect(story: tuple[Path, Path]) -> None:
    rows = fields(
        story,
        "hsrp",
        ["frame.interface_name", "hsrp.state", "hsrp.group", "hsrp.virt_ip", "hsrp.auth_data"],
    )
    assert len(rows) > 100
    seen = {(r[0], r[1], r[2], r[3]) for r in rows}
    # Active (16) and Standby (8) speakers on both segments, groups 1 (inside) and 2 (outside).
    assert ("inside", "16", "1", "172.16.31.1") in seen
    assert ("inside", "8", "1", "172.16.31.1") in seen
    assert ("outside", "16", "2", "40.0.0.1") in seen
    assert ("outside", "8", "2", "40.0.0.1") in seen
    assert {r[4] for r in rows} == {"cisco"}


def test_every_esp_packet_decrypts_with_a_good_icv(story: tuple[Path, Path]) -> None:
    rows = fields(
        story, "esp", ["esp.spi", "esp.sequence", "esp.icv_good", "ip.dst", "udp.dstport"]
    )
    assert len(rows) > 1000
    assert {r[2] for r in rows} == {"1"}
    inner = fields(story, "esp && udp.dstport == 5001", ["ip.src"])
    assert len(inner) == len(rows)  # every one decrypted down to the test stream


def test_no_esp_sequence_number_repeats_across_the_failover(story: tuple[Path, Path]) -> None:
    rows = fields(story, "esp && ip.src == 40.0.0.1", ["esp.spi", "esp.sequence"])
    counts = Counter((r[0], int(r[1])) for r in rows)
    assert counts.most_common(1)[0][1] == 1
    # The takeovers are visible: each new active starts one outbound replay interval
    # (a million) past the last value the standby held, so about a million numbers on.
    sequence = [int(r[1]) for r in rows]
    jumps = [b - a for a, b in itertools.pairwise(sequence) if b - a > 1]
    assert len(jumps) == 2  # the crash, then the preempt back
    assert all(900_000 < j <= 1_000_001 for j in jumps)
