"""The lab's two end systems as processes: the remote IPsec peer and the LAN host.

Theory of operation
-------------------
Both send a sequenced UDP stream (port 5001; payload: 8-octet sequence number,
8-octet send time in ms, padding) at a steady rate when told to, record what
arrives, and answer a small control protocol on a Unix socket (``start`` with a
rate, ``stop``, ``report``, ``exit``).

- :class:`RemotePeer` is the remote IPsec gateway *and* the remote host behind it:
  the implementation's own ESP code (:mod:`vpnha.impl.esp`), not the routers'. It
  builds each inner IPv4 packet (remote host → LAN host), encrypts it with the
  newest SA it was given (``sa``: the stand-in IKE's mirror half) and sends ESP in
  UDP 4500 to the outside virtual IP. Every UDP 4500 datagram that reaches it is
  logged before decryption (SPI, sequence number: what the cluster put on the
  wire), then decrypted, replay-checked (RFC 4303 §3.4.3, window 64) and logged as
  accepted or refused with its reason. It keeps its last ESP packets so that
  ``replay`` can play the attacker who re-sends captured packets to the cluster.
- :class:`LanHost` sends to the remote host through the inside virtual IP: in netns
  mode with an ordinary UDP socket (the kernel routes via its default gateway, the
  virtual IP); in loopback mode it builds the IPv4 packet itself and sends it to
  the inside virtual IP's ``lan_port``, one packet per datagram.

Run as ``python -m vpnha.impl.live.hosts {peer|lan} --control PATH [--plan FILE]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from ipaddress import IPv4Address
from typing import Any, Final

from vpnha.impl.dataplane import transform_of
from vpnha.impl.entropy import OsEntropy
from vpnha.impl.esp import Drop, EspInboundSA, EspOutboundSA, build_ipv4, build_udp

from .clock import LiveClock
from .control import ControlServer
from .plan import NATT_PORT, LivePlan
from .standin_ike import PeerSaParams

__all__ = ["TRAFFIC_PORT", "LanHost", "RemotePeer", "main"]

TRAFFIC_PORT: Final = 5001
"""UDP port of the sequenced test stream, both ways."""
_UDP: Final = 17
_TICK_S: Final = 0.005
_CAPTURE: Final = 64
_PAYLOAD: Final = 16


def _payload(seq: int, now: int, size: int) -> bytes:
    return seq.to_bytes(8, "big") + now.to_bytes(8, "big") + bytes(max(0, size - _PAYLOAD))


def _udp_payload_seq(ip_packet: bytes) -> int | None:
    """The test stream's sequence number inside an IPv4/UDP packet, None if it is not one."""
    if len(ip_packet) < 20 or ip_packet[0] >> 4 != 4 or ip_packet[9] != _UDP:
        return None
    start = (ip_packet[0] & 0x0F) * 4 + 8
    if len(ip_packet) < start + 8:
        return None
    return int.from_bytes(ip_packet[start : start + 8], "big")


def _waiting(sock: socket.socket) -> Iterator[bytes]:
    """Every datagram already queued on a non-blocking ``sock`` (stops on would-block or
    on an error: the next readiness callback tries again)."""
    while True:
        try:
            yield sock.recv(65535)
        except OSError:  # BlockingIOError included
            return


class _Traffic:
    """A steady sender plus the receive log and the control protocol they share."""

    def __init__(self, clock: LiveClock) -> None:
        self.clock = clock
        self.rate = 0
        self.size = 64
        self.sent = 0
        self.send_errors = 0
        self.received: list[list[int]] = []
        self._started_at = 0
        self._sent_at_start = 0
        self._handle: asyncio.TimerHandle | None = None
        self.stopped = asyncio.Event()

    def send_one(self, seq: int, now: int) -> None:
        """Send sequence number ``seq`` (subclasses)."""
        raise NotImplementedError

    def _tick(self) -> None:
        self._handle = None
        if self.rate <= 0:
            return
        now = self.clock.now()
        due = self._sent_at_start + (now - self._started_at) * self.rate // 1000
        while self.sent < due:
            self.sent += 1
            self.send_one(self.sent, now)
        self._handle = asyncio.get_running_loop().call_later(_TICK_S, self._tick)

    def control(self, message: dict[str, Any]) -> dict[str, Any]:
        """Answer one control request."""
        op = message["op"]
        if op == "start":
            self.rate = int(message.get("rate", 100))
            self.size = max(_PAYLOAD, int(message.get("size", 64)))
            self._started_at = self.clock.now()
            self._sent_at_start = self.sent
            if self._handle is None:
                self._tick()
            return {"ok": True}
        if op == "stop":
            self.rate = 0
            if self._handle is not None:
                self._handle.cancel()
                self._handle = None
            return {"ok": True, "sent": self.sent}
        if op == "report":
            return {"ok": True, "report": self.report()}
        if op == "exit":
            asyncio.get_running_loop().call_soon(self.stopped.set)
            return {"ok": True}
        return {"ok": False, "error": f"unknown op {op!r}"}

    def report(self) -> dict[str, Any]:
        """What was sent and received."""
        return {"sent": self.sent, "send_errors": self.send_errors, "received": self.received}


class RemotePeer(_Traffic):
    """The remote IPsec peer and the remote host behind it (see the module docstring)."""

    def __init__(
        self,
        *,
        plan: LivePlan,
        clock: LiveClock,
        address: IPv4Address,
        cluster: IPv4Address,
        remote_host: IPv4Address,
        lan_host: IPv4Address,
    ) -> None:
        super().__init__(clock)
        self._plan = plan
        self._cluster = (str(plan.to_wire(cluster)), NATT_PORT)
        self._remote_host = remote_host
        self._lan_host = lan_host
        self._entropy = OsEntropy()
        self._outbound: EspOutboundSA | None = None
        self._inbound: dict[int, EspInboundSA] = {}
        self.sas = 0
        self.seen: list[list[int]] = []
        """[ms, SPI, seq] of every UDP 4500 datagram that arrived (before any check)."""
        self.refused: dict[str, int] = {}
        self.refused_log: list[list[Any]] = []
        self.captured: deque[bytes] = deque(maxlen=_CAPTURE)
        self.frozen: list[bytes] = []
        """The packets ``capture`` kept for ``replay`` (the attacker's recording)."""
        self.replays_sent = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sock.bind((str(plan.to_wire(address)), NATT_PORT))

    def install(self, sa: PeerSaParams) -> None:
        """The stand-in IKE's mirror half: send with it from now on, accept with it."""
        transform = transform_of(sa.transforms)
        if transform is None:
            msg = f"transforms {sa.transforms} have no ESP transform"
            raise ValueError(msg)
        self._outbound = EspOutboundSA(
            spi=sa.spi_to_cluster,
            transform=transform,
            encryption_key=sa.key_to_cluster,
            integrity_key=sa.auth_to_cluster,
            entropy=self._entropy,
        )
        self._inbound[sa.spi_from_cluster] = EspInboundSA(
            spi=sa.spi_from_cluster,
            transform=transform,
            encryption_key=sa.key_from_cluster,
            integrity_key=sa.auth_from_cluster,
        )
        self.sas += 1

    def send_one(self, seq: int, now: int) -> None:
        """Encrypt one test packet to the LAN host and send it to the cluster."""
        if self._outbound is None:
            self.send_errors += 1
            return
        udp = build_udp(
            src=self._remote_host,
            dst=self._lan_host,
            src_port=TRAFFIC_PORT,
            dst_port=TRAFFIC_PORT,
            payload=_payload(seq, now, self.size),
            checksum=False,
        )
        inner = build_ipv4(src=self._remote_host, dst=self._lan_host, protocol=_UDP, payload=udp)
        esp = self._outbound.encapsulate(inner)
        if isinstance(esp, Drop):
            self.send_errors += 1
            return
        self.captured.append(esp)
        self._sendto(esp)

    def _sendto(self, esp: bytes) -> None:
        try:
            self.sock.sendto(esp, self._cluster)
        except OSError:
            self.send_errors += 1

    def on_readable(self) -> None:
        """Log, decrypt and replay-check every datagram waiting."""
        now = self.clock.now()
        for data in _waiting(self.sock):
            if len(data) < 8:
                self._refuse(now, 0, 0, "too-short")
                continue
            spi = int.from_bytes(data[:4], "big")
            seq = int.from_bytes(data[4:8], "big")
            self.seen.append([now, spi, seq])
            inbound = self._inbound.get(spi)
            if inbound is None:
                self._refuse(now, spi, seq, "unknown-spi")
                continue
            inner = inbound.decapsulate(data)
            if isinstance(inner, Drop):
                self._refuse(now, spi, seq, str(inner.reason))
                continue
            stream_seq = _udp_payload_seq(inner)
            self.received.append([now, spi, seq, -1 if stream_seq is None else stream_seq])

    def _refuse(self, now: int, spi: int, seq: int, reason: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1
        if len(self.refused_log) < 10_000:
            self.refused_log.append([now, spi, seq, reason])

    def control(self, message: dict[str, Any]) -> dict[str, Any]:
        """``sa`` and ``replay`` on top of the traffic requests."""
        if message["op"] == "sa":
            self.install(PeerSaParams.from_json(message["sa"]))
            return {"ok": True, "sas": self.sas}
        if message["op"] == "capture":
            self.frozen = list(self.captured)
            return {"ok": True, "captured": len(self.frozen)}
        if message["op"] == "replay":
            count = min(int(message.get("count", 16)), len(self.frozen))
            for esp in self.frozen[-count:]:
                self._sendto(esp)
            self.replays_sent += count
            return {"ok": True, "replayed": count}
        return super().control(message)

    def report(self) -> dict[str, Any]:
        """Traffic both ways, the wire as seen here, refusals by reason."""
        return {
            **super().report(),
            "seen": self.seen,
            "refused": self.refused,
            "refused_log": self.refused_log,
            "replays_sent": self.replays_sent,
            "sas": self.sas,
        }


class LanHost(_Traffic):
    """The LAN host: a plain UDP endpoint behind the inside virtual IP."""

    def __init__(
        self,
        *,
        plan: LivePlan,
        clock: LiveClock,
        address: IPv4Address,
        gateway: IPv4Address,
        remote_host: IPv4Address,
    ) -> None:
        super().__init__(clock)
        self._plan = plan
        self._address = address
        self._remote_host = remote_host
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        if plan.loopback:
            self.sock.bind((str(plan.to_wire(address)), plan.lan_port))
            self._target = (str(plan.to_wire(gateway)), plan.lan_port)
        else:
            self.sock.bind((str(address), TRAFFIC_PORT))
            self._target = (str(remote_host), TRAFFIC_PORT)

    def send_one(self, seq: int, now: int) -> None:
        """Send one test packet towards the remote host."""
        payload = _payload(seq, now, self.size)
        if self._plan.loopback:
            udp = build_udp(
                src=self._address,
                dst=self._remote_host,
                src_port=TRAFFIC_PORT,
                dst_port=TRAFFIC_PORT,
                payload=payload,
            )
            payload = build_ipv4(
                src=self._address, dst=self._remote_host, protocol=_UDP, payload=udp
            )
        try:
            self.sock.sendto(payload, self._target)
        except OSError:
            self.send_errors += 1

    def on_readable(self) -> None:
        """Log every test packet that arrived from the remote host."""
        now = self.clock.now()
        for data in _waiting(self.sock):
            if self._plan.loopback:
                seq = _udp_payload_seq(data)
            else:
                seq = int.from_bytes(data[:8], "big") if len(data) >= 8 else None
            if seq is not None:
                self.received.append([now, seq])


async def _serve(host: RemotePeer | LanHost, control_path: str) -> None:
    loop = asyncio.get_running_loop()
    loop.add_reader(host.sock.fileno(), host.on_readable)
    server = ControlServer(control_path, host.control)
    await server.start()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, host.stopped.set)
    try:
        await host.stopped.wait()
    finally:
        loop.remove_reader(host.sock.fileno())
        host.sock.close()
        await server.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m vpnha.impl.live.hosts {peer|lan} ...``: run one end system."""
    parser = argparse.ArgumentParser(prog="vpnha.impl.live.hosts")
    parser.add_argument("role", choices=("peer", "lan"))
    parser.add_argument("--control", required=True, help="control socket path")
    parser.add_argument("--plan", help="plan file (default: netns mode)")
    parser.add_argument("--address", required=True, type=IPv4Address)
    parser.add_argument("--cluster", type=IPv4Address, help="peer: the outside virtual IP")
    parser.add_argument("--gateway", type=IPv4Address, help="lan: the inside virtual IP")
    parser.add_argument("--remote-host", required=True, type=IPv4Address)
    parser.add_argument("--lan-host", type=IPv4Address, help="peer: the LAN host")
    args = parser.parse_args(argv)
    plan = LivePlan.load(args.plan) if args.plan else LivePlan()
    clock = LiveClock()

    async def run() -> None:
        host: RemotePeer | LanHost
        if args.role == "peer":
            if args.cluster is None or args.lan_host is None:
                parser.error("peer needs --cluster and --lan-host")
            host = RemotePeer(
                plan=plan,
                clock=clock,
                address=args.address,
                cluster=args.cluster,
                remote_host=args.remote_host,
                lan_host=args.lan_host,
            )
        else:
            if args.gateway is None:
                parser.error("lan needs --gateway")
            host = LanHost(
                plan=plan,
                clock=clock,
                address=args.address,
                gateway=args.gateway,
                remote_host=args.remote_host,
            )
        await _serve(host, args.control)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
