"""Forwarding rate through one live router process (figures, not a pass/fail test).

    python bench/live_forward.py              # 64-byte packets, AES-GCM-128, ~45 s
    python bench/live_forward.py --size 1400 --seconds 5
    python bench/live_forward.py --rate 100000  # offer the goal rate, no more
    python bench/live_forward.py --load plain   # only the one-call-per-datagram load
    VPNHA_BATCH_SYSCALLS=0 python bench/live_forward.py   # the router without batching

One ``vpnha router`` process (the shipped ``router1.cfg`` with its transform set
changed to ``esp-gcm``, software crypto, ``standby delay`` 0 and fast HSRP timers
so that, alone, it becomes ACTIVE within a second) runs in loopback mode: its LAN
side is UDP, one IPv4 packet per datagram, its outside is ESP in UDP 4500. An SA
pair is installed through the control socket (the lab's stand-in IKE). The router
inherits the environment, so ``VPNHA_BATCH_SYSCALLS=0`` measures its driver with one
system call per datagram (``impl/live/batch.py``'s fallback).

- **encrypt** (LAN → tunnel): a sender process pushes pre-built 64-byte UDP/IPv4
  packets (``--size`` is the UDP payload) at the inside virtual IP as fast as it
  can (or at ``--rate`` packets/s); this process counts the ESP packets that arrive
  at the peer's port 4500.
- **decrypt** (tunnel → LAN): the sender pushes pre-built ESP packets (distinct
  sequence numbers, the peer's SA) at the outside virtual IP; this process counts
  the IPv4 packets delivered to the LAN host's port.

Each direction runs with two load generators (``--load both``, the default), which
differ only in how the sender and the counter use the kernel:

- ``plain``: one ``sendto`` per packet, one ``recv_into`` per packet (this bench's
  original method);
- ``batched``: the sender hands the kernel 64 packets per ``sendmmsg`` as UDP_SEGMENT
  trains and the counter reads with ``recvmmsg`` and ``UDP_GRO`` (``impl/live/batch.py``,
  the router's own method). On a 2-core machine the plain sender alone takes most
  of a core; batched, it takes a fraction, so the figure says more about the router.
  The router's sockets accept trains too, so here the kernel hands it the sender's
  packets 64 at a time, as a NIC's GRO would gather a peer's (each packet still
  goes through the router on its own: decrypted, checked, counted, logged).

The rate is what arrived divided by the time between the first and the last
arrival: the router's forwarding rate when it is the bottleneck (the goal is
≥ 100k packets/s). ``router CPU`` is the router process's CPU time (user + system,
from /proc) over the same interval per forwarded packet, and the rate one core
would give at that cost: a figure that load from other processes disturbs less
than the wall-clock rate does (a loaded machine still slows every instruction).
The offered rate and the router's own counters are printed next to it (``--rate``
keeps the sender from taking a whole core for offering more than the goal). Two
last lines measure the sans-IO ``Router`` alone in this process, no socket:
``receive_lan`` and ``receive_udp4500`` in a loop with ``outputs()`` after each packet,
then ``receive_lan_batch`` and ``receive_udp4500_batch`` with 64 packets per call and
``outputs()`` after each (what the driver does): the ceiling any driver can reach, in
CPU time as ``router CPU`` is (so they compare: the difference is the driver and the
kernel). Each is the best of ``CORE_ROUNDS`` alternating rounds (load from other
processes hits all alike), each over packets of its own (a repeated ESP packet is a
replay).
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import select
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
from vpnha.impl.live.batch import BatchReceiver, BatchSender
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
"""Packets the sender sends between two looks at the clock (batched: in one call)."""
LOADS = ("plain", "batched")
BATCHED_RATE = 200_000.0
"""Packets/s the batched sender offers by default: twice the goal."""
CORE_ROUNDS = 15
CORE_ROUND_PACKETS = 4096
BATCH_SLOTS = 64
"""Datagrams the driver reads per system call, and feeds the router per batch call."""


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
    load: str,
    cycle: bool,
    sent: object,
) -> None:
    """Send ``packets`` for ``seconds`` (round and round with ``cycle``, else once): at
    ``rate`` packets/s, or as fast as this process can (0); ``load`` plain: one ``sendto``
    each, batched: ``SEND_CHUNK`` per ``sendmmsg`` (as UDP_SEGMENT trains)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    batch = BatchSender(sock) if load == "batched" else None
    chunks = [packets[i : i + SEND_CHUNK] for i in range(0, len(packets), SEND_CHUNK)]
    start = time.monotonic()
    end = start + seconds
    count = 0
    for chunk in itertools.cycle(chunks) if cycle else chunks:
        now = time.monotonic()
        if now >= end:
            break
        if rate and count > (now - start) * rate:
            time.sleep(min(end - now, count / rate - (now - start)))
        if batch is not None:
            refused = batch.send(chunk, target)
            count += len(chunk) - refused
            if refused:
                time.sleep(0.0001)
            continue
        for packet in chunk:
            try:
                sock.sendto(packet, target)
                count += 1
            except BlockingIOError:
                time.sleep(0.0001)
    sent.value = count  # type: ignore[attr-defined]


def _receiver(bind: tuple[str, int]) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE (root)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
    sock.bind(bind)
    sock.settimeout(0.5)
    return sock


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU time of process ``pid`` so far (from /proc; 0 where there is
    none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def _count(
    sink: socket.socket, load: str, deadline: float, sender: multiprocessing.Process
) -> tuple[int, float, float]:
    """(packets received, first arrival, last arrival) until the sender is done and quiet."""
    received = 0
    first = last = 0.0
    if load == "batched":
        batch = BatchReceiver(sink)
        sink.setblocking(False)
        while time.monotonic() < deadline:
            payloads, _ = batch.receive()
            if not payloads:
                if not select.select([sink], [], [], 0.5)[0] and received and not sender.is_alive():
                    break
                continue
            last = time.monotonic()
            if not received:
                first = last
            received += len(payloads)
        batch.close()
        sink.setsockopt(socket.IPPROTO_UDP, 104, 0)  # UDP_GRO off: recv_into takes one each
        sink.settimeout(0.5)
        return received, first, last
    buffer = bytearray(65535)  # one buffer for every datagram: the counter stays cheap
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
    return received, first, last


def _measure(
    name: str,
    packets: list[bytes],
    route: tuple[str, tuple[str, int]],
    sink: socket.socket,
    *,
    seconds: float,
    rate: float,
    load: str,
    router_pid: int,
    cycle: bool = True,
) -> float:
    sent = multiprocessing.Value("q", 0)
    source, target = route
    sender = multiprocessing.Process(
        target=_sender,
        args=(packets, source, target),
        kwargs={"seconds": seconds, "rate": rate, "load": load, "cycle": cycle, "sent": sent},
    )
    cpu_before = _cpu_seconds(router_pid)
    wall_before = time.monotonic()
    sender.start()
    received, first, last = _count(sink, load, time.monotonic() + seconds + 5, sender)
    sender.join()
    # The router's CPU time over the whole measurement, charged to the packets it
    # forwarded (it idles before the first and after the last: a slight overcharge).
    user, system = (a - b for a, b in zip(_cpu_seconds(router_pid), cpu_before, strict=True))
    cpu = user + system
    wall = time.monotonic() - wall_before
    span = max(1e-9, last - first)
    rate = received / span
    per_packet = cpu / max(1, received)
    print(
        f"  {name + ', ' + load + ' load':<38} offered {sent.value / seconds / 1000:6.1f}k/s  "
        f"forwarded {received:>7} in {span:5.2f} s = {rate / 1000:6.1f}k pkt/s   "
        f"router CPU {cpu / wall:4.0%} of a core, {per_packet * 1e6:5.2f} µs/pkt "
        f"({system / max(cpu, 1e-9):3.0%} in the kernel; "
        f"= {1 / per_packet / 1000 if received else 0:5.1f}k pkt/s per core)"
    )
    return rate


def _core_only(config_text: str, size: int) -> tuple[float, float, float, float]:
    """Packets/s of the sans-IO Router alone (no sockets), LAN->tunnel and tunnel->LAN:
    one call per packet, then the batch entry points fed ``BATCH_SLOTS`` at a time (as
    the driver feeds them)."""
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
    esp = _peer_packets(mirror, size, 2 * CORE_ROUNDS * CORE_ROUND_PACKETS)
    receive_lan, receive_esp, outputs = router.receive_lan, router.receive_udp4500, router.outputs
    lan_batch, esp_batch = router.receive_lan_batch, router.receive_udp4500_batch
    lan_packets = [lan_packet] * BATCH_SLOTS
    sources = [PEER] * BATCH_SLOTS
    best = [0.0, 0.0, 0.0, 0.0]  # encrypt, decrypt, batched encrypt, batched decrypt
    for round_index in range(CORE_ROUNDS):
        started = time.process_time()
        for _ in range(CORE_ROUND_PACKETS):
            receive_lan(lan_packet, now)
            outputs()
        best[0] = max(best[0], CORE_ROUND_PACKETS / (time.process_time() - started))
        first = 2 * round_index * CORE_ROUND_PACKETS
        batch = esp[first : first + CORE_ROUND_PACKETS]
        started = time.process_time()
        for packet in batch:
            receive_esp(packet, PEER, now)
            outputs()
        best[1] = max(best[1], CORE_ROUND_PACKETS / (time.process_time() - started))
        started = time.process_time()
        for _ in range(CORE_ROUND_PACKETS // BATCH_SLOTS):
            lan_batch(lan_packets, now)
            outputs()
        best[2] = max(best[2], CORE_ROUND_PACKETS / (time.process_time() - started))
        batch = esp[first + CORE_ROUND_PACKETS : first + 2 * CORE_ROUND_PACKETS]
        started = time.process_time()
        for chunk in range(0, CORE_ROUND_PACKETS, BATCH_SLOTS):
            esp_batch(batch[chunk : chunk + BATCH_SLOTS], sources, now)
            outputs()
        best[3] = max(best[3], CORE_ROUND_PACKETS / (time.process_time() - started))
    forward = router.forwarder.counters()
    expected = 2 * CORE_ROUNDS * CORE_ROUND_PACKETS
    if (forward.encrypted_packets, forward.delivered_packets) != (expected, expected):
        sys.exit(f"the router alone did not forward every packet: {forward}")
    return best[0], best[1], best[2], best[3]


def _peer_packets(
    mirror: PeerSaParams, size: int, count: int, *, first_seq: int = 1
) -> list[bytes]:
    """``count`` ESP packets from the peer to the LAN host, sequence numbers ``first_seq``
    on (distinct: a repeat is a replay)."""
    transform = transform_of(mirror.transforms)
    assert transform is not None
    outbound = EspOutboundSA(
        spi=mirror.spi_to_cluster,
        transform=transform,
        encryption_key=mirror.key_to_cluster,
        integrity_key=mirror.auth_to_cluster,
        entropy=OsEntropy(),
        next_seq=first_seq,
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
        default=None,
        help="offered packets/s; 0: as fast as the sender can (which on a 2-core machine "
        f"takes a core from the router). Default: 0 for the plain load, {BATCHED_RATE:.0f} "
        "for the batched one (it could offer millions)",
    )
    parser.add_argument(
        "--load",
        choices=(*LOADS, "both"),
        default="both",
        help="how the sender and the counter use the kernel (see the module docstring)",
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
        batching = os.environ.get("VPNHA_BATCH_SYSCALLS", "1") != "0"
        print(
            f"live forwarding through one router process: {transform.name}, "
            f"{args.size}-byte UDP payload ({len(lan_packet)}-byte inner packet), loopback mode, "
            f"router {'with' if batching else 'without'} batched system calls"
        )
        loads = LOADS if args.load == "both" else (args.load,)
        next_seq = 1
        best: dict[str, float] = {}
        for load in loads:
            rate = args.rate if args.rate is not None else BATCHED_RATE if load == "batched" else 0
            best["encrypt"] = max(
                best.get("encrypt", 0.0),
                _measure(
                    "encrypt (LAN -> tunnel)",
                    [lan_packet] * BATCH,
                    (str(wire(LAN_HOST)), (str(wire(INSIDE_VIP)), lan_port)),
                    peer_sink,
                    seconds=args.seconds,
                    rate=rate,
                    load=load,
                    router_pid=router.pid,
                ),
            )
            # Enough packets for the run (300k/s as fast as it goes), each sent once
            # (a repeat is a replay), numbered on from the last run's.
            share = _peer_packets(
                mirror, args.size, int(args.seconds * (rate or 300_000)), first_seq=next_seq
            )
            next_seq += len(share)
            best["decrypt"] = max(
                best.get("decrypt", 0.0),
                _measure(
                    "decrypt (tunnel -> LAN)",
                    share,
                    (str(wire(PEER)), (str(wire(OUTSIDE_VIP)), NATT_PORT)),
                    lan_sink,
                    seconds=args.seconds,
                    rate=rate,
                    load=load,
                    router_pid=router.pid,
                    cycle=False,
                ),
            )
        encrypt, decrypt = best["encrypt"], best["decrypt"]
        status = request(control, {"op": "status"})["status"]
        forward = status["forward"]
        print(
            f"  router counters: encrypted {forward['encrypted']}, decrypted "
            f"{forward['decrypted']}, drops {forward['drops'] or 'none'}"
        )
        core = _core_only(_config_text(), args.size)
        for label, (core_encrypt, core_decrypt) in (
            ("one call per packet", core[:2]),
            (f"batches of {BATCH_SLOTS}", core[2:]),
        ):
            print(
                f"  sans-IO Router alone (no sockets, CPU time), {label}: encrypt "
                f"{core_encrypt / 1000:.1f}k ({1e6 / core_encrypt:.2f} µs), decrypt "
                f"{core_decrypt / 1000:.1f}k pkt/s ({1e6 / core_decrypt:.2f} µs)"
            )
        goal = 100_000
        for name, rate in (("encrypt", encrypt), ("decrypt", decrypt)):
            verdict = "meets" if rate >= goal else "below"
            print(
                f"  {name}: {rate / 1000:.1f}k pkt/s, best load ({verdict} the "
                f"{goal // 1000}k goal)"
            )
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
