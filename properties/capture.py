"""The simulated world's wire log as a pcapng file and Wireshark ESP keys.

Theory of operation
-------------------
:func:`write_capture` turns :attr:`World.log <vpnha.properties.world.World.log>` into
Ethernet frames, one pcapng interface per segment (``inside``, ``outside``), with the
addressing a capture on each segment would show:

- HSRP: UDP 1985 from the interface address to 224.0.0.2, TTL 1, from the router's
  own MAC or, from an Active router, the group's virtual MAC (RFC 2281 §6.1);
- gratuitous ARP: an ARP reply broadcast by the virtual MAC for the virtual IP;
- ESP in UDP 4500 (RFC 3948, UDP checksum 0) between the outside virtual IP (virtual
  MAC) and the remote peer;
- IKE: UDP 500, or UDP 4500 with the non-ESP marker once NAT traversal moved it;
- LAN and cleartext traffic: the IPv4 packets as they were forwarded;
- SSP: the routers' TCP connection on the inside segment (client port 40000 + the
  connection number, server port the configured one), with handshake, data in the
  chunks the routers wrote, and FIN on an orderly close. A connection that dies
  silently simply stops, as it would on the wire.

:func:`esp_keys` lists every SA the world negotiated in both directions as
:class:`~vpnha.properties.pcap.EspKey` records, so ``tshark -o uat:esp_sa:…`` (or a
Wireshark profile's ``esp_sa`` file, :func:`~vpnha.properties.pcap.write_esp_keys`)
decrypts every ESP packet.
"""

from __future__ import annotations

import os
from ipaddress import IPv4Address
from typing import BinaryIO, Final

from vpnha.impl.dataplane import transform_of
from vpnha.impl.router import Side

from .pcap import (
    ETHERTYPE_IPV4,
    CaptureWriter,
    EspKey,
    TcpEndpoint,
    TcpFlags,
    TcpStreamRecorder,
    ethernet,
    ethernet_for_ipv4,
    hsrp_virtual_mac,
    ipv4_tcp,
    ipv4_udp,
    multicast_mac,
)
from .world import Segment, WirePacket, World

__all__ = ["esp_keys", "write_capture"]

ETHERTYPE_ARP: Final = 0x0806
BROADCAST: Final = b"\xff" * 6
PEER_MAC: Final = bytes.fromhex("0200000000fe")
LAN_HOST_MAC: Final = bytes.fromhex("0200000000fd")
SSP_CLIENT_PORT_BASE: Final = 40000
NATT_PORT: Final = 4500
IKE_PORT: Final = 500
HSRP_PORT: Final = 1985


def _arp_reply(mac: bytes, ip: IPv4Address) -> bytes:
    """A gratuitous ARP reply: sender = target = the virtual IP, sender MAC = virtual MAC."""
    body = (
        (1).to_bytes(2, "big")  # hardware type: Ethernet
        + ETHERTYPE_IPV4.to_bytes(2, "big")
        + bytes((6, 4))
        + (2).to_bytes(2, "big")  # reply
        + mac
        + ip.packed
        + BROADCAST
        + ip.packed
    )
    return ethernet(BROADCAST, mac, ETHERTYPE_ARP, body)


class _Frames:
    """Builds the frames of one world's log."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.outside_vmac = hsrp_virtual_mac(_group(world, Side.OUTSIDE))
        self.inside_vmac = hsrp_virtual_mac(_group(world, Side.INSIDE))
        self.streams: dict[int, TcpStreamRecorder] = {}
        self.carried = {p.connection for p in world.log if p.kind == "ssp-data"}
        self.port = world.config(0).ssp_groups[0].port if world.config(0).ssp_groups else 3249

    def index_of(self, name: str) -> int:
        return 0 if self.world.name(0) == name else 1

    def frames(self, packet: WirePacket) -> list[bytes]:
        kind = packet.kind
        if kind == "hsrp":
            udp = ipv4_udp(packet.src, packet.dst, HSRP_PORT, HSRP_PORT, packet.payload, ttl=1)
            return [ethernet_for_ipv4(udp, packet.src_mac, multicast_mac())]
        if kind == "garp":
            return [_arp_reply(packet.src_mac, packet.src)]
        if kind in ("esp", "ike"):
            # IKE goes on 500 until NAT traversal moves it to 4500 behind the non-ESP marker.
            port = NATT_PORT if kind == "esp" or packet.payload[:4] == bytes(4) else IKE_PORT
            udp = ipv4_udp(packet.src, packet.dst, port, port, packet.payload, checksum=False)
            from_peer = packet.sender == "peer"
            src_mac = PEER_MAC if from_peer else self.outside_vmac
            dst_mac = self.outside_vmac if from_peer else PEER_MAC
            return [ethernet_for_ipv4(udp, src_mac, dst_mac)]
        if kind == "lan":
            from_host = packet.sender == "lan-host"
            src_mac = LAN_HOST_MAC if from_host else self.inside_vmac
            dst_mac = self.inside_vmac if from_host else LAN_HOST_MAC
            return [ethernet_for_ipv4(packet.payload, src_mac, dst_mac)]
        if kind == "clear":
            index = self.index_of(packet.sender)
            return [
                ethernet_for_ipv4(
                    packet.payload, self.outside_vmac, self.world.router_mac(index, Side.OUTSIDE)
                )
            ]
        if kind.startswith("ssp-"):
            return self.ssp(packet)
        return []

    def endpoints(self, packet: WirePacket) -> tuple[TcpEndpoint, TcpEndpoint]:
        client_index = self.index_of(packet.sender)
        client = TcpEndpoint(
            ip=str(packet.src),
            port=SSP_CLIENT_PORT_BASE + packet.connection % 20000,
            mac=self.world.router_mac(client_index, Side.INSIDE),
        )
        server = TcpEndpoint(
            ip=str(packet.dst),
            port=self.port,
            mac=self.world.router_mac(1 - client_index, Side.INSIDE),
        )
        return client, server

    def ssp(self, packet: WirePacket) -> list[bytes]:
        number = packet.connection
        if packet.kind == "ssp-open":
            client, server = self.endpoints(packet)
            if number not in self.carried:
                syn = ipv4_tcp(
                    client.ip,
                    server.ip,
                    client.port,
                    server.port,
                    0x1000_0000,
                    0,
                    TcpFlags.SYN,
                    b"",
                )
                return [ethernet_for_ipv4(syn, client.mac, server.mac)]
            recorder = TcpStreamRecorder(
                client=client,
                server=server,
                client_isn=(number * 7919) & 0xFFFF_FFFF,
                server_isn=(number * 104729) & 0xFFFF_FFFF,
            )
            self.streams[number] = recorder
            return recorder.open()
        stream = self.streams.get(number)
        if stream is None or not stream.is_open:
            return []
        sender = stream.client if str(packet.src) == stream.client.ip else stream.server
        if packet.kind == "ssp-data":
            return stream.send(sender, packet.payload)
        return stream.close(sender)


def _group(world: World, side: Side) -> int:
    config = world.config(0)
    iface = config.inside_interface() if side is Side.INSIDE else config.outside_interface()
    if iface is None or not iface.standby_groups:
        return 0
    return iface.standby_groups[0].group


def write_capture(
    world: World, target: str | os.PathLike[str] | BinaryIO, *, epoch_ms: int = 0
) -> int:
    """Write the world's wire log as pcapng to ``target``; return the number of frames.

    Messages that nobody could receive (an interface down, no owner of the virtual
    MAC) are still written: a capture on the sender's side would see them.
    """
    frames = _Frames(world)
    with CaptureWriter(target, epoch_ms=epoch_ms) as writer:
        interfaces = {
            Segment.INSIDE: writer.add_segment("inside"),
            Segment.OUTSIDE: writer.add_segment("outside"),
        }
        interfaces[Segment.SSP] = interfaces[Segment.INSIDE]
        for packet in world.log:
            for frame in frames.frames(packet):
                writer.write(interfaces[packet.segment], packet.time_ms, frame)
        return writer.frame_count


def esp_keys(world: World) -> list[EspKey]:
    """Every negotiated SA, both directions, as Wireshark ``esp_sa`` records."""
    keys: list[EspKey] = []
    vip, peer = str(world.outside_vip), str(world.peer_address)
    for sa in world.negotiated:
        transform = transform_of(sa.transforms)
        if transform is None:
            continue
        keys.append(
            EspKey.for_transform(
                src=vip,
                dst=peer,
                spi=sa.outbound_spi,
                transform=transform,
                encryption_key=sa.outbound_encryption_key,
                integrity_key=sa.outbound_integrity_key,
            )
        )
        keys.append(
            EspKey.for_transform(
                src=peer,
                dst=vip,
                spi=sa.inbound_spi,
                transform=transform,
                encryption_key=sa.inbound_encryption_key,
                integrity_key=sa.inbound_integrity_key,
            )
        )
    return keys
