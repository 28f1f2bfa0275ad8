"""The virtual MAC on real interfaces: ARP for the virtual IP answered with it, and hellos
sent from it heard by the other router even while it holds the same virtual MAC.

Network namespaces of our own (root only): a bridge, two routers and a host.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

VMAC = "00:00:0c:07:ac:01"
VIP = "10.77.0.1"
ADDRESSES = {"r1": "10.77.0.2", "r2": "10.77.0.3", "h": "10.77.0.50"}
PREFIX = f"vpnhavm-{os.getpid()}"

pytestmark = pytest.mark.slow


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def _ns(name: str) -> str:
    return f"{PREFIX}-{name}"


def _in(name: str, code: str, *, timeout: float = 20.0) -> str:
    """Run Python ``code`` in namespace ``name``; its standard output."""
    result = subprocess.run(
        ["ip", "netns", "exec", _ns(name), sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _start(name: str, code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["ip", "netns", "exec", _ns(name), sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _claim(name: str, *, with_vip: bool = True) -> None:
    """What the live driver does when a group becomes Active, in namespace ``name``."""
    vip = f'netif.add_address("vmac1", IPv4Interface("{VIP}/24"))' if with_vip else ""
    _in(
        name,
        f"""
        from ipaddress import IPv4Interface
        from vpnha.impl.hsrp import virtual_mac
        from vpnha.impl.live import netif
        netif.set_ipv4_conf("e0", "arp_ignore", 1)
        netif.set_ipv4_conf("e0", "arp_announce", 2)
        netif.add_macvlan("e0", "vmac1", virtual_mac(1))
        {vip}
        """,
    )


@pytest.fixture
def segment() -> Iterator[None]:
    """A bridge with routers r1, r2 and host h on it (each in its own namespace)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2")
    made: list[str] = []
    try:
        for name in ("b", "r1", "r2", "h"):
            _ip("netns", "add", _ns(name))
            made.append(_ns(name))
        _ip("-n", _ns("b"), "link", "add", "br0", "type", "bridge")
        probe = subprocess.run(
            ["ip", "-n", _ns("b"), "link", "add", "link", "br0", "name", "m0", "type", "macvlan"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode != 0:
            pytest.skip(f"this kernel makes no macvlan: {probe.stderr.strip()}")
        _ip("-n", _ns("b"), "link", "set", "br0", "up")
        for name, address in ADDRESSES.items():
            port = f"p{name}"
            _ip(
                "link",
                "add",
                "e0",
                "netns",
                _ns(name),
                "type",
                "veth",
                "peer",
                port,
                "netns",
                _ns("b"),
            )
            _ip("-n", _ns("b"), "link", "set", port, "master", "br0", "up")
            _ip("-n", _ns(name), "addr", "add", f"{address}/24", "dev", "e0")
            _ip("-n", _ns(name), "link", "set", "e0", "up")
            _ip("-n", _ns(name), "link", "set", "lo", "up")
        yield
    finally:
        for name in made:
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def test_arp_for_the_virtual_ip_is_answered_with_the_virtual_mac(segment: None) -> None:
    _claim("r1")
    _in("h", f"import subprocess; subprocess.run(['ping', '-c', '1', '-W', '2', '{VIP}'])")
    out = subprocess.run(
        ["ip", "-n", _ns("h"), "-j", "neigh", "show", VIP],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    entries = json.loads(out or "[]")
    assert [entry.get("lladdr") for entry in entries] == [VMAC]


def test_a_hello_from_the_virtual_mac_reaches_a_router_holding_the_same_mac(
    segment: None,
) -> None:
    # During a preempt both routers are Active for a moment, both with the virtual MAC.
    _claim("r1")
    _claim("r2", with_vip=False)
    listener = _start(
        "r2",
        f"""
        import select, time
        from ipaddress import IPv4Address
        from vpnha.impl.live import netif
        sock = netif.multicast_socket("e0", IPv4Address("{ADDRESSES["r2"]}"), "224.0.0.2", 1985)
        print("ready", flush=True)
        end = time.monotonic() + 6
        while time.monotonic() < end:
            if select.select([sock], [], [], 0.1)[0]:
                data, (host, port) = sock.recvfrom(2048)
                print(host, port, data.decode(), flush=True)
                break
        """,
    )
    sniffer = _start(
        "h",
        """
        import select, socket, time
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))  # all
        sock.bind(("e0", 0))
        print("ready", flush=True)
        end = time.monotonic() + 6
        while time.monotonic() < end:
            if select.select([sock], [], [], 0.1)[0]:
                frame = sock.recv(2048)
                ipv4_udp = frame[12:14] == b"\\x08\\x00" and frame[23] == 17
                if ipv4_udp and int.from_bytes(frame[36:38], "big") == 1985:
                    print(frame[6:12].hex(":"), flush=True)
                    break
        """,
    )
    try:
        for process in (listener, sniffer):
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        _in(
            "r1",
            f"""
            import time
            from ipaddress import IPv4Address
            from vpnha.impl.live import netif
            sock = netif.multicast_sender("vmac1", IPv4Address("{ADDRESSES["r1"]}"), 1985)
            for _ in range(10):
                sock.sendto(b"hello from the virtual MAC", ("224.0.0.2", 1985))
                time.sleep(0.2)
            """,
        )
        heard, _ = listener.communicate(timeout=10)
        seen, _ = sniffer.communicate(timeout=10)
    finally:
        for process in (listener, sniffer):
            process.kill()
    assert heard.split(maxsplit=2) == [ADDRESSES["r1"], "1985", "hello from the virtual MAC\n"]
    assert seen.strip() == VMAC
