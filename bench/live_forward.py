"""Forwarding rate through one live router process (figures, not a pass/fail test).

    python bench/live_forward.py              # 64-byte packets, AES-GCM-128, ~15 s
    python bench/live_forward.py --size 1400 --seconds 5
    python bench/live_forward.py --rate 100000  # offer the goal rate, no more

One ``vpnha router`` process (the shipped ``router1.cfg`` with its transform set
changed to ``esp-gcm``, software crypto, ``standby delay`` 0 and fast HSRP timers
so that, alone, it becomes ACTIVE within a second) runs in loopback mode: its LAN
side is UDP, one IPv4 packet per datagram, its outside is ESP in UDP 4500. An SA
pair is installed through the control socket (the lab's stand-in IKE).

- **encrypt** (LAN → tunnel): a sender process pushes pre-built 64-byte UDP/IPv4
  packets (``--size`` is the UDP payload) at the inside virtual IP as fast as it
  can (or at ``--rate`` packets/s); this process counts the ESP packets that arrive
  at the peer's port 4500.
- **decrypt** (tunnel → LAN): the sender pushes pre-built ESP packets (distinct
  sequence numbers, the peer's SA) at the outside virtual IP; this process counts
  the IPv4 packets delivered to the LAN host's port.

The rate is what arrived divided by the time between the first and the last
arrival: the router's forwarding rate when it is the bottleneck (the goal is
≥ 100k packets/s). The three processes share the machine's cores, so on a
2-core machine the sender and the counter take CPU from the router; the offered
rate and the router's own counters are printed next to it (``--rate`` keeps the
sender from taking a whole core for offering more than the goal). A last line measures
the sans-IO ``Router`` alone in this process (``receive_lan`` and
``receive_udp4500`` in a loop, ``outputs()`` after each packet as the driver does for
ESP, no socket): the ceiling any driver can reach. It is the best of
``CORE_ROUNDS`` alternating rounds per direction (load from other processes hits
both alike), each over packets of its own (a repeated ESP packet is a replay).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from vpnha.impl.config import load_config, parse_config
from vpnha.impl.dataplane import transform_of
from vpnha.impl.entropy import OsEntropy
from vpnha.impl.esp import EspOutboundSA, build_ipv4, build_udp
from vpnha.impl.live.control import ControlError, request
from vpnha.impl.live.plan import NATT_PORT, LivePlan
from vpnha.impl.live.standin_ike import PeerSaParams, negotiate, new_sa_to_json
from vpnha.impl.router import Router
from vpnha.properties.scenarios import example_path

LAN_HOST = IPv4Address("172.16.31.50")
REMOTE_HOST = IPv4Address("192.168.4.10")
PEER = IPv4Address("192.168.3.1")
INSIDE_VIP = IPv4Address("172.16.31.1")
OUTSIDE_VIP = IPv4Address("40.0.0.1")
BATCH = 2000
SEND_CHUNK = 64
"""Packets the sender sends between two looks at the clock."""
CORE_ROUNDS = 15
CORE_ROUND_PACKETS = 4000


def _config_text() -> str:
    text = example_path("router1.cfg").read_text()
    replacements = {
        "vpnha crypto-card vam\n": "vpnha crypto-card none\n",
        "esp-3des esp-sha-hmac\n": "esp-gcm\n",
        " standby delay minimum 30 reload 60\n": " standby delay minimum 0 reload 0\n",
        " standby 1 timers msec 500 3\n": " standby 1 timers msec 100 msec 300\n",
        " standby 2 timers msec 500 3\n": " standby 2 timers msec 100 msec 300\n",
    }
    for old, new in replacements.items():
        if old not in text:
            sys.exit(f"router1.cfg no longer contains {old.strip()!r}; update the bench")
        text = text.replace(old, new)
    return text


def _plan(lan_port: int) -> LivePlan:
    second = 16 + os.getpid() % 200
    documents = ("172.16.31.0/24", "40.0.0.0/24", "192.168.3.0/24", "192.168.4.0/24")
    return LivePlan(
        mode="loopback",
        networks=tuple(
            (IPv4Network(doc), IPv4Network(f"127.{second}.{i}.0/24"))
            for i, doc in enumerate(documents, 1)
        ),
        hsrp_members=(IPv4Address("172.16.31.100"), IPv4Address("40.0.0.100")),
        lan_port=lan_port,
    )


def _sender(
    packets: list[bytes],
    source: str,
    target: tuple[str, int],
    *,
    seconds: float,
    rate: float,
    sent: object,
) -> None:
    """Send ``packets`` round and round for ``seconds``: at ``rate`` packets/s, or as fast
    as this process can (0)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    start = time.monotonic()
    end = start + seconds
    count = 0
    while True:
        for first in range(0, len(packets), SEND_CHUNK):
            now = time.monotonic()
            if now >= end:
                sent.value = count  # type: ignore[attr-defined]
                return
            if rate and count > (now - start) * rate:
                time.sleep(min(end - now, count / rate - (now - start)))
            for packet in packets[first : first + SEND_CHUNK]:
                try:
                    sock.sendto(packet, target)
                    count += 1
                except BlockingIOError:
                    time.sleep(0.0001)


def _receiver(bind: tuple[str, int]) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE (root)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
    sock.bind(bind)
    sock.settimeout(0.5)
    return sock


def _measure(
    name: str,
    packets: list[bytes],
    route: tuple[str, tuple[str, int]],
    sink: socket.socket,
    *,
    seconds: float,
    rate: float,
) -> float:
    sent = multiprocessing.Value("q", 0)
    source, target = route
    sender = multiprocessing.Process(
        target=_sender,
        args=(packets, source, target),
        kwargs={"seconds": seconds, "rate": rate, "sent": sent},
    )
    sender.start()
    received = 0
    first = last = 0.0
    buffer = bytearray(65535)  # one buffer for every datagram: the counter stays cheap
    deadline = time.monotonic() + seconds + 5
    while time.monotonic() < deadline:
        try:
            sink.recv_into(buffer)
        except TimeoutError:
            if received and not sender.is_alive():
                break
            continue
        last = time.monotonic()
        if not received:
            first = last
        received += 1
    sender.join()
    span = max(1e-9, last - first)
    rate = received / span
    print(
        f"  {name:<28} offered {sent.value / seconds / 1000:7.1f}k pkt/s   "
        f"forwarded {received:>8} in {span:5.2f} s = {rate / 1000:7.1f}k pkt/s"
    )
    return rate


def _core_only(config_text: str, size: int) -> tuple[float, float]:
    """Packets/s of the sans-IO Router alone (no sockets), LAN->tunnel and tunnel->LAN."""
    config = parse_config(config_text)
    now = 1_000
    router = Router(config, entropy=OsEntropy(), now=now)
    while router.role.value != "ACTIVE":
        deadline = router.get_timer()
        assert deadline is not None
        now = deadline
        router.handle_timer(now)
        router.outputs()
    params, mirror = negotiate(config, OsEntropy(), now_ms=now)
    router.install_sa(params, now)
    router.outputs()
    udp = build_udp(
        src=LAN_HOST, dst=REMOTE_HOST, src_port=5001, dst_port=5001, payload=bytes(size)
    )
    lan_packet = build_ipv4(src=LAN_HOST, dst=REMOTE_HOST, protocol=17, payload=udp)
    esp = _peer_packets(mirror, size, CORE_ROUNDS * CORE_ROUND_PACKETS)
    receive_lan, receive_esp, outputs = router.receive_lan, router.receive_udp4500, router.outputs
    encrypt = decrypt = 0.0
    for round_index in range(CORE_ROUNDS):
        started = time.perf_counter()
        for _ in range(CORE_ROUND_PACKETS):
            receive_lan(lan_packet, now)
            outputs()
        encrypt = max(encrypt, CORE_ROUND_PACKETS / (time.perf_counter() - started))
        first = round_index * CORE_ROUND_PACKETS
        batch = esp[first : first + CORE_ROUND_PACKETS]
        started = time.perf_counter()
        for packet in batch:
            receive_esp(packet, PEER, now)
            outputs()
        decrypt = max(decrypt, CORE_ROUND_PACKETS / (time.perf_counter() - started))
    forward = router.forwarder.counters()
    expected = CORE_ROUNDS * CORE_ROUND_PACKETS
    if (forward.encrypted_packets, forward.delivered_packets) != (expected, expected):
        sys.exit(f"the router alone did not forward every packet: {forward}")
    return encrypt, decrypt


def _peer_packets(mirror: PeerSaParams, size: int, count: int) -> list[bytes]:
    """``count`` ESP packets from the peer to the LAN host (distinct sequence numbers)."""
    transform = transform_of(mirror.transforms)
    assert transform is not None
    outbound = EspOutboundSA(
        spi=mirror.spi_to_cluster,
        transform=transform,
        encryption_key=mirror.key_to_cluster,
        integrity_key=mirror.auth_to_cluster,
        entropy=OsEntropy(),
    )
    udp = build_udp(
        src=REMOTE_HOST, dst=LAN_HOST, src_port=5001, dst_port=5001, payload=bytes(size)
    )
    inner = build_ipv4(src=REMOTE_HOST, dst=LAN_HOST, protocol=17, payload=udp)
    return [p for p in (outbound.encapsulate(inner) for _ in range(count)) if isinstance(p, bytes)]


def main() -> int:
    """Run both directions and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=64, help="UDP payload octets (64)")
    parser.add_argument("--seconds", type=float, default=5.0, help="per direction (5)")
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="offered packets/s (0: as fast as the sender can, which on a 2-core machine "
        "takes a core from the router)",
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="vpnha-bench-"))
    lan_port = 20000 + os.getpid() % 20000
    plan = _plan(lan_port)
    config_path = folder / "router.cfg"
    config_path.write_text(_config_text())
    (folder / "plan.json").write_text(plan.to_json())
    control = str(folder / "router.sock")
    config = load_config(config_path)
    router = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vpnha.impl.live.process",
            str(config_path),
            "--plan",
            str(folder / "plan.json"),
            "--control",
            control,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                status = request(control, {"op": "status"}, timeout_s=1)["status"]
                if status["role"] == "ACTIVE":
                    break
            except ControlError:
                pass
            if time.monotonic() > deadline:
                print("the router did not become ACTIVE", file=sys.stderr)
                return 1
            time.sleep(0.1)
        params, mirror = negotiate(config, OsEntropy(), now_ms=time.monotonic_ns() // 1_000_000)
        request(control, {"op": "install_sa", "sa": new_sa_to_json(params)})
        wire = plan.to_wire
        peer_sink = _receiver((str(wire(PEER)), NATT_PORT))
        lan_sink = _receiver((str(wire(LAN_HOST)), lan_port))
        payload = bytes(args.size)
        udp = build_udp(
            src=LAN_HOST, dst=REMOTE_HOST, src_port=5001, dst_port=5001, payload=payload
        )
        lan_packet = build_ipv4(src=LAN_HOST, dst=REMOTE_HOST, protocol=17, payload=udp)
        transform = transform_of(mirror.transforms)
        assert transform is not None
        print(
            f"live forwarding through one router process: {transform.name}, "
            f"{args.size}-byte UDP payload ({len(lan_packet)}-byte inner packet), loopback mode"
        )
        encrypt = _measure(
            "encrypt (LAN -> tunnel)",
            [lan_packet] * BATCH,
            (str(wire(LAN_HOST)), (str(wire(INSIDE_VIP)), lan_port)),
            peer_sink,
            seconds=args.seconds,
            rate=args.rate,
        )
        # Distinct sequence numbers (a repeat is a replay); enough for the whole run.
        esp = _peer_packets(mirror, args.size, int(args.seconds * 300_000))
        decrypt = _measure(
            "decrypt (tunnel -> LAN)",
            esp,
            (str(wire(PEER)), (str(wire(OUTSIDE_VIP)), NATT_PORT)),
            lan_sink,
            seconds=args.seconds,
            rate=args.rate,
        )
        status = request(control, {"op": "status"})["status"]
        forward = status["forward"]
        print(
            f"  router counters: encrypted {forward['encrypted']}, decrypted "
            f"{forward['decrypted']}, drops {forward['drops'] or 'none'}"
        )
        core_encrypt, core_decrypt = _core_only(_config_text(), args.size)
        print(
            f"  sans-IO Router alone (no sockets): encrypt {core_encrypt / 1000:.1f}k, "
            f"decrypt {core_decrypt / 1000:.1f}k pkt/s"
        )
        goal = 100_000
        for name, rate in (("encrypt", encrypt), ("decrypt", decrypt)):
            verdict = "meets" if rate >= goal else "below"
            print(f"  {name}: {rate / 1000:.1f}k pkt/s ({verdict} the {goal // 1000}k goal)")
        return 0
    finally:
        router.terminate()
        try:
            router.wait(timeout=5)
        except subprocess.TimeoutExpired:
            router.kill()
        for item in folder.iterdir():
            item.unlink()
        folder.rmdir()


if __name__ == "__main__":
    sys.exit(main())
