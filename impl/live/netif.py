"""Linux interface plumbing for the netns mode: ``ip``, TUN, gratuitous ARP.

Each helper does one small thing with the kernel of the namespace the process runs
in: find the interface that carries an address, add or remove a virtual IP, open a
TUN device (``/dev/net/tun``, ``IFF_TUN | IFF_NO_PI``: each read is one IPv4
packet), and broadcast a gratuitous ARP (RFC 2281 §6.1, RFC 5227 §3: an ARP request
whose sender and target protocol addresses are both the claimed address).

The virtual IP is answered with the interface's own MAC (the kernel answers ARP
for it), not HSRP's virtual MAC: the gratuitous ARP is what moves the hosts' ARP
caches from the old active to the new one.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import struct
import subprocess
from ipaddress import IPv4Address, IPv4Interface
from typing import Final

__all__ = [
    "IpCommandError",
    "add_address",
    "arp_frame",
    "delete_address",
    "interface_for_address",
    "interface_mac",
    "ip",
    "open_tun",
    "send_gratuitous_arp",
]

_TUNSETIFF: Final = 0x400454CA
_IFF_TUN: Final = 0x0001
_IFF_NO_PI: Final = 0x1000
_ETH_P_ARP: Final = 0x0806
_BROADCAST: Final = b"\xff" * 6


class IpCommandError(RuntimeError):
    """An ``ip`` command failed (its arguments and its message)."""


def ip(*args: str, netns: str | None = None, check: bool = True) -> str:
    """Run ``ip [-n NETNS] ARGS…``; its standard output (raises on failure when ``check``)."""
    command = ["ip", *(["-n", netns] if netns else []), *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        msg = f"{' '.join(command)}: {result.stderr.strip() or f'exit {result.returncode}'}"
        raise IpCommandError(msg)
    return result.stdout


def interface_for_address(address: IPv4Address) -> tuple[str, IPv4Interface] | None:
    """The interface carrying ``address`` in this namespace, with its prefix; None if none."""
    data = json.loads(ip("-j", "-4", "addr", "show") or "[]")
    for link in data:
        for info in link.get("addr_info", []):
            if info.get("local") == str(address):
                return str(link["ifname"]), IPv4Interface(f"{address}/{info['prefixlen']}")
    return None


def interface_mac(ifname: str) -> bytes:
    """The interface's 6-octet MAC address."""
    data = json.loads(ip("-j", "link", "show", "dev", ifname))
    return bytes.fromhex(str(data[0]["address"]).replace(":", ""))


def add_address(ifname: str, address: IPv4Interface) -> None:
    """Add ``address`` to ``ifname`` (no error if it is already there)."""
    result = subprocess.run(
        ["ip", "addr", "add", str(address), "dev", ifname],
        capture_output=True,
        text=True,
        check=False,
    )
    present = ("File exists", "already assigned")
    if result.returncode != 0 and not any(text in result.stderr for text in present):
        msg = f"ip addr add {address} dev {ifname}: {result.stderr.strip()}"
        raise IpCommandError(msg)


def delete_address(ifname: str, address: IPv4Interface) -> bool:
    """Remove ``address`` from ``ifname``; False when it was not there."""
    result = subprocess.run(
        ["ip", "addr", "del", str(address), "dev", ifname],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0


def arp_frame(mac: bytes, address: IPv4Address) -> bytes:
    """An Ethernet broadcast gratuitous ARP request claiming ``address`` for ``mac``."""
    arp = struct.pack(
        "!HHBBH6s4s6s4s",
        1,  # hardware type: Ethernet
        0x0800,  # protocol type: IPv4
        6,
        4,
        1,  # request (RFC 5227 §3: an ARP announcement is a request)
        mac,
        address.packed,
        bytes(6),
        address.packed,
    )
    return _BROADCAST + mac + _ETH_P_ARP.to_bytes(2, "big") + arp


def send_gratuitous_arp(ifname: str, mac: bytes, address: IPv4Address) -> None:
    """Broadcast one gratuitous ARP for ``address`` on ``ifname`` (needs CAP_NET_RAW)."""
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ARP)) as sock:
        sock.bind((ifname, 0))
        sock.send(arp_frame(mac, address))


def open_tun(name: str) -> int:
    """Create (or attach to) TUN device ``name``; a non-blocking fd, one IPv4 packet per read."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    try:
        fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH", name.encode(), _IFF_TUN | _IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd
