"""Linux interface plumbing for the netns mode: ``ip``, TUN, gratuitous ARP.

Each helper does one small thing with the kernel of the namespace the process runs
in: find the interface that carries an address, add or remove a virtual IP or a
macvlan, open the HSRP multicast sockets, open a TUN device (``/dev/net/tun``,
``IFF_TUN | IFF_NO_PI``: each read is one IPv4 packet), and broadcast a gratuitous
ARP (RFC 2281 §6.1, RFC 5227 §3: an ARP request whose sender and target protocol
addresses are both the claimed address).

The virtual MAC (RFC 2281: ``0000.0c07.acXX``, XX the group) lives on a macvlan
device made on the interface while the group is Active (``add_macvlan``), and the
virtual IP is added to that device, so the kernel answers ARP for the virtual IP with
the virtual MAC and takes frames sent to it; the interface itself is told not to
answer ARP for addresses it does not carry (``arp_ignore`` 1) nor to use them as an
ARP source (``arp_announce`` 2). Hosts then keep one ARP entry across a failover: the
new Active's gratuitous ARP and hellos, sent from the virtual MAC, move the bridge's
forwarding entry to its port. Where macvlan is missing the virtual IP goes on the
interface with the interface's own MAC, and the gratuitous ARP moves the hosts' ARP
caches instead.
"""

from __future__ import annotations

import contextlib
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
    "add_macvlan",
    "arp_frame",
    "delete_address",
    "delete_link",
    "interface_for_address",
    "interface_mac",
    "ip",
    "mac_text",
    "multicast_sender",
    "multicast_socket",
    "open_tun",
    "send_gratuitous_arp",
    "set_ipv4_conf",
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


def add_macvlan(parent: str, name: str, mac: bytes) -> None:
    """Make macvlan device ``name`` on ``parent`` with address ``mac`` and bring it up.

    Bridge mode, not private: in private mode the kernel takes a multicast frame whose
    source MAC is one of its own macvlans for a reflection of that device's own frame
    and gives it to that device alone, so the parent's HSRP socket would never see the
    other router's hellos from the same virtual MAC (both Active for a moment during a
    preempt), and both would stay Active. A device of that name left behind (a killed
    predecessor) is replaced.
    """
    delete_link(name)
    command = ["link", "add", "link", parent, "name", name, "address", mac_text(mac)]
    ip(*command, "type", "macvlan", "mode", "bridge")
    try:
        # An HSRP virtual MAC speaks IPv4 only: no IPv6 link-local address, MLD or
        # router solicitations from it.
        disable = f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6"
        with contextlib.suppress(OSError), open(disable, "w") as handle:
            handle.write("1\n")
        ip("link", "set", "dev", name, "up")
    except IpCommandError:
        delete_link(name)
        raise


def delete_link(name: str) -> bool:
    """Remove network device ``name``; False when there was none."""
    result = subprocess.run(
        ["ip", "link", "del", "dev", name], capture_output=True, text=True, check=False
    )
    return result.returncode == 0


def set_ipv4_conf(ifname: str, key: str, value: int) -> None:
    """Write ``net.ipv4.conf.IFNAME.KEY`` of this namespace (e.g. ``arp_ignore``)."""
    with open(f"/proc/sys/net/ipv4/conf/{ifname}/{key}", "w") as handle:
        handle.write(f"{value}\n")


def mac_text(mac: bytes) -> str:
    """``aa:bb:cc:dd:ee:ff`` for 6 octets."""
    return ":".join(f"{octet:02x}" for octet in mac)


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


def multicast_socket(ifname: str, address: IPv4Address, group: str, port: int) -> socket.socket:
    """A non-blocking UDP socket on ``ifname`` bound to ``group``:``port`` and joined to
    it: it hears the group's datagrams that arrive on ``ifname`` and sends to the group
    from ``address`` with TTL 1, never hearing its own."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
        sock.bind((group, port))
        membership = socket.inet_aton(group) + address.packed
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, address.packed)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    except OSError:
        sock.close()
        raise
    return sock


def multicast_sender(device: str, address: IPv4Address, port: int) -> socket.socket:
    """A non-blocking, send-only UDP socket from ``address``:``port`` whose multicast
    leaves by ``device`` (TTL 1, not looped back): the frame's source MAC is
    ``device``'s, e.g. a macvlan's virtual MAC, while the source IP stays ``address``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device.encode())
        sock.bind((str(address), port))
        request = struct.pack("4s4si", bytes(4), address.packed, socket.if_nametoindex(device))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, request)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    except OSError:
        sock.close()
        raise
    return sock


def open_tun(name: str) -> int:
    """Create (or attach to) TUN device ``name``; a non-blocking fd, one IPv4 packet per read."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    try:
        fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH", name.encode(), _IFF_TUN | _IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd
