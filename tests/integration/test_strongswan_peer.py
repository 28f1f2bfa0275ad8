"""The strongSwan peer harness against a real strongSwan (slow; root).

Two charons in two network namespaces: one is the remote peer, configured by
``remote_peer_spec`` from ``examples/router1.cfg``; the other stands in for our
router pair with the mirror configuration (``router_role_spec``, responder only),
on the outside virtual IP. They run IKEv1 Main Mode and Quick Mode, carry pings
both ways, exchange DPD, rekey the CHILD SA, refuse one replayed ESP packet and
delete everything; then the peer comes up again, re-authenticates, and finds the
router's role dead by DPD after it is killed. The log parser must count each of
those, and the keys both sides log must agree. Every namespace and process is gone
at the end, on failure too. About 8 s.

Topology (the example's addresses)::

    ns rtr: veth 40.0.0.1/24 (outside VIP)     lo 172.16.31.1/32 (inside LAN host)
    ns peer: veth 40.0.0.2/24                  lo 192.168.3.1/32 (peer's IKE address),
                                                  192.168.4.1/32 (remote LAN host)
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from vpnha.impl.config import load_config
from vpnha.impl.live.strongswan import (
    CharonLog,
    IkeSaStatus,
    IpsecPeerSpec,
    StrongSwanError,
    StrongSwanPeer,
    charon_missing,
    remote_peer_spec,
    router_role_spec,
    swanctl_conf,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DPD_DELAY_S = 1
"""The peer's DPD interval in this test (strongSwan's smallest)."""
DPD_TIMEOUT_S = 3
"""Seconds without an answer before the peer declares the routers dead."""

# An ICMP echo client (the machine may have no ping): SRC DST COUNT -> replies received.
_PING = r"""
import os, socket, struct, sys, time
def checksum(data):
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF
src, dst, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
sock.bind((src, 0))
ident, answered = os.getpid() & 0xFFFF, 0
for seq in range(1, count + 1):
    body = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"vpnha-sw"
    sock.sendto(body[:2] + struct.pack("!H", checksum(body)) + body[4:], (dst, 0))
    deadline = time.monotonic() + 1.0
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data, (addr, _) = sock.recvfrom(2048)
        except socket.timeout:
            break
        start = (data[0] & 15) * 4
        kind, _, _, got_id, got_seq = struct.unpack("!BBHHH", data[start:start + 8])
        if kind == 0 and got_id == ident and got_seq == seq and addr == dst:
            answered += 1
            break
print(answered)
"""

# Capture the first ESP-in-UDP packet SRC sends on IFNAME, then send it again
# (UDP checksum zeroed: veth hands the sender's copy over before it is filled in).
_REPLAY = r"""
import socket, struct, sys, time
ifname, src = sys.argv[1], sys.argv[2]
sniffer = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
sniffer.bind((ifname, 0))
deadline = time.monotonic() + 5
while time.monotonic() < deadline:
    sniffer.settimeout(max(0.01, deadline - time.monotonic()))
    frame = sniffer.recv(4096)
    packet = frame[14:]
    if frame[12:14] != b"\x08\x00" or packet[9] != 17 or socket.inet_ntoa(packet[12:16]) != src:
        continue
    start = (packet[0] & 15) * 4
    if struct.unpack("!H", packet[start + 2:start + 4])[0] != 4500:
        continue
    spi, seq = struct.unpack("!II", packet[start + 8:start + 16])
    if spi == 0:
        continue  # a non-ESP marker: IKE, not ESP
    time.sleep(0.3)
    packet = packet[:start + 6] + b"\0\0" + packet[start + 8:]
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    raw.sendto(packet, (socket.inet_ntoa(packet[16:20]), 0))
    print(f"{spi} {seq}")
    break
"""


@dataclass(frozen=True, slots=True)
class Namespaces:
    """The two namespaces of one run."""

    router: str
    peer: str


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def _namespaces_now() -> set[str]:
    out = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, check=False, timeout=10
    )
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


@contextlib.contextmanager
def _topology(spec: IpsecPeerSpec) -> Iterator[Namespaces]:
    """Build the two namespaces and the veth between them; delete them on the way out."""
    prefix = f"vpnha-{os.getpid()}-{secrets.token_hex(3)}"
    names = Namespaces(router=f"{prefix}-rtr", peer=f"{prefix}-peer")
    child = spec.children[0]
    created: list[str] = []
    try:
        for name in (names.router, names.peer):
            _ip("netns", "add", name)
            created.append(name)
            _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", names.router, "link", "add", "out0", "type", "veth", "peer", "name", "out1")
        _ip("-n", names.router, "link", "set", "out1", "netns", names.peer)
        vip, peer_ip = spec.remote_address, spec.local_address
        _ip("-n", names.router, "addr", "add", f"{vip}/24", "dev", "out0")
        _ip("-n", names.peer, "addr", "add", f"{vip + 1}/24", "dev", "out1")
        for name, ifname in ((names.router, "out0"), (names.peer, "out1")):
            _ip("-n", name, "link", "set", ifname, "up")
        _ip("-n", names.router, "addr", "add", f"{child.remote_ts[1]}/32", "dev", "lo")
        _ip("-n", names.peer, "addr", "add", f"{peer_ip}/32", "dev", "lo")
        _ip("-n", names.peer, "addr", "add", f"{child.local_ts[1]}/32", "dev", "lo")
        _ip("-n", names.router, "route", "add", f"{peer_ip}/32", "via", str(vip + 1))
        yield names
    finally:
        for name in created:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def _in_netns(netns: str, script: str, *args: str, timeout_s: float = 15) -> str:
    result = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _ping(netns: str, src: object, dst: object, count: int) -> int:
    return int(_in_netns(netns, _PING, str(src), str(dst), str(count)))


def _wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@dataclass(frozen=True, slots=True)
class Run:
    """What one run of the story observed."""

    peer_log: CharonLog
    router_log: CharonLog
    pings: tuple[int, ...]
    replayed: tuple[int, int]
    spis_up: tuple[tuple[int, int], tuple[int, int]]
    spis_rekeyed: tuple[int, int]
    peer_status_child_count: int
    namespaces: Namespaces
    pids: tuple[int, int]
    replays_before: int
    after_crash: tuple[CharonLog, tuple[IkeSaStatus, ...], int]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The whole story once: up, ping, DPD, rekey, ping, replay, delete; up, re-auth, crash."""
    reason = charon_missing() or (None if shutil.which("ip") else "no ip command (iproute2)")
    if reason:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("strongswan")
    config = load_config(EXAMPLES / "router1.cfg")
    peer_spec = remote_peer_spec(config, dpd_delay_s=DPD_DELAY_S, dpd_timeout_s=DPD_TIMEOUT_S)
    router_spec = router_role_spec(peer_spec)
    child = peer_spec.children[0].name
    remote_host = peer_spec.children[0].local_ts[1]
    inside_host = peer_spec.children[0].remote_ts[1]
    with _topology(peer_spec) as names:
        router = StrongSwanPeer(
            swanctl_conf(router_spec), workdir=workdir / "router", netns=names.router, log_keys=True
        )
        peer = StrongSwanPeer(
            swanctl_conf(peer_spec), workdir=workdir / "peer", netns=names.peer, log_keys=True
        )
        with router, peer:
            pids = (router.pid or 0, peer.pid or 0)
            peer.initiate(child)
            up = peer.list_sas(), router.list_sas()
            pings = [
                _ping(names.peer, remote_host, inside_host, 3),
                _ping(names.router, inside_host, remote_host, 2),
            ]
            # Idle longer than two DPD intervals: R-U-THERE and its ACK cross.
            _wait_for(lambda: peer.log().dpd_acks_received >= 2, 6 * DPD_DELAY_S, "DPD")
            replays_before = router.log().replay_failures
            peer.rekey_child(child)
            _wait_for(lambda: router.log().child_sa_rekeyed >= 1, 5, "the rekey")
            rekeyed = peer.list_sas()
            pings.append(_ping(names.peer, remote_host, inside_host, 2))
            replayed = _replay_one(
                names.peer, str(peer_spec.local_address), remote_host, inside_host
            )
            _wait_for(lambda: bool(router.log().replay_failures), 5, "the replay refusal")
            # Deleting through vici, not SIGTERM: a charon shutting down may lose the
            # DELETEs it queued last (its sender stops with it).
            peer.terminate_ike(peer_spec.connection)
            _wait_for(lambda: router.log().ike_delete_received >= 1, 5, "the DELETE")
            router_log, peer_log = router.log(), peer.log()
            # Up again and re-authenticated (a second Main Mode), then the router's
            # role crashes: no DELETE, DPD finds it dead.
            peer.initiate(child)
            peer.reauthenticate(peer_spec.connection)
            _wait_for(lambda: router.log().reauth_detected >= 1, 5, "the re-authentication")
            router_reauth = router.log().reauth_detected
            router.kill()
            _wait_for(lambda: peer.log().dpd_timeouts >= 1, DPD_TIMEOUT_S + 5, "DPD to fail")
            after_crash = peer.log(), peer.list_sas(), router_reauth
        peer_child = up[0][0].children[0]
        router_child = up[1][0].children[0]
        new_child = [c for c in rekeyed[0].children if c.state == "INSTALLED"][-1]
        return Run(
            peer_log=peer_log,
            router_log=router_log,
            pings=tuple(pings),
            replayed=replayed,
            spis_up=(
                (peer_child.spi_in, peer_child.spi_out),
                (router_child.spi_in, router_child.spi_out),
            ),
            spis_rekeyed=(new_child.spi_in, new_child.spi_out),
            peer_status_child_count=len(rekeyed[0].children),
            namespaces=names,
            pids=pids,
            replays_before=len(replays_before),
            after_crash=after_crash,
        )


def _replay_one(netns: str, src: str, remote_host: object, inside_host: object) -> tuple[int, int]:
    """Capture one of the peer's ESP packets while it pings, then send it again."""
    catcher = subprocess.Popen(
        ["ip", "netns", "exec", netns, sys.executable, "-c", _REPLAY, "out1", src],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(0.5)  # let it bind before the packet it waits for
        _ping(netns, remote_host, inside_host, 1)
        out, err = catcher.communicate(timeout=10)
    finally:
        if catcher.poll() is None:
            catcher.kill()
            catcher.wait()
    assert out.strip(), err
    spi, seq = out.split()
    return int(spi), int(seq)


@pytest.mark.slow
def test_main_mode_and_quick_mode_establish(run: Run) -> None:
    assert run.peer_log.ike_sa_established == 1
    assert run.router_log.ike_sa_established == 1
    (peer_in, peer_out), (router_in, router_out) = run.spis_up
    assert (peer_in, peer_out) == (router_out, router_in)
    assert run.peer_log.child_spis[0] == (peer_in, peer_out)
    assert run.peer_log.retransmit_give_ups == run.router_log.retransmit_give_ups == 0


@pytest.mark.slow
def test_ping_passes_through_the_tunnel_both_ways(run: Run) -> None:
    assert run.pings == (3, 2, 2)


@pytest.mark.slow
def test_dpd_requests_flow_and_are_answered(run: Run) -> None:
    assert run.peer_log.dpd_requests_sent >= 2
    assert run.peer_log.dpd_acks_received >= 2
    assert run.router_log.dpd_requests_received >= 2
    assert run.router_log.dpd_acks_sent >= 2
    assert run.router_log.dpd_requests_sent == 0  # the router role has no DPD of its own
    assert run.peer_log.dpd_timeouts == run.router_log.dpd_timeouts == 0


@pytest.mark.slow
def test_child_rekey_is_counted_on_both_sides(run: Run) -> None:
    for log in (run.peer_log, run.router_log):
        assert log.child_sa_rekeyed == 1
        assert log.child_sa_established == 2
    assert run.peer_log.child_spis[1] == run.spis_rekeyed
    assert set(run.spis_rekeyed).isdisjoint(run.spis_up[0])
    # strongSwan's IKEv1 default keeps the rekeyed SA until it expires.
    assert run.peer_status_child_count == 2


@pytest.mark.slow
def test_replayed_esp_packet_is_refused_and_counted(run: Run) -> None:
    assert run.replays_before == 0
    assert run.peer_log.replay_failures == ()
    (failure,) = run.router_log.replay_failures
    assert (failure.spi, failure.seq) == run.replayed
    assert failure.spi == run.spis_rekeyed[1]  # the peer's outbound SA after the rekey


@pytest.mark.slow
def test_both_sides_log_the_same_child_sa_keys(run: Run) -> None:
    assert len(run.peer_log.keys) == 4  # two CHILD SAs, two directions each
    for keys in run.peer_log.keys:
        mirror = run.router_log.keys_for(keys.spi)
        assert mirror is not None
        assert mirror.inbound != keys.inbound
        assert (mirror.src, mirror.dst) == (keys.src, keys.dst)
        assert mirror.encryption_key == keys.encryption_key
        assert mirror.integrity_key == keys.integrity_key
        assert (len(keys.encryption_key), len(keys.integrity_key)) == (24, 20)  # 3DES, SHA-1
    directions = {(k.spi, k.inbound) for k in run.peer_log.keys}
    assert (run.spis_rekeyed[0], True) in directions
    assert (run.spis_rekeyed[1], False) in directions


@pytest.mark.slow
def test_terminating_the_peer_deletes_its_sas(run: Run) -> None:
    assert run.peer_log.ike_delete_sent == 1
    assert run.router_log.ike_delete_received == 1
    assert run.peer_log.child_delete_sent == 2  # the rekeyed SA and the current one
    # IKEv1 DELETEs are unacknowledged informational exchanges, one per SA, handled by
    # any worker thread: a CHILD DELETE handled after the IKE SA's is dropped unlogged.
    assert 1 <= run.router_log.child_delete_received <= 2
    assert run.router_log.ike_delete_sent == 0
    assert run.peer_log.reauth_started == run.router_log.reauth_detected == 0


@pytest.mark.slow
def test_reauthentication_is_counted_on_both_sides(run: Run) -> None:
    log, _, router_reauth_detected = run.after_crash
    assert log.reauth_started == 1
    assert router_reauth_detected == 1


@pytest.mark.slow
def test_dpd_clears_the_sas_when_the_routers_die_silently(run: Run) -> None:
    log, sas, _ = run.after_crash
    assert log.ike_sa_established == 3  # the first, again, and its re-authentication
    assert log.dpd_timeouts == 1
    assert log.ike_delete_received == 0
    # dpd_action = clear: no CHILD SA and no established IKE SA remain. The IKE SA the
    # re-authentication replaced stays REKEYING: strongSwan waits for the responder
    # to delete it (a charon responder does, 10 s after the new Main Mode).
    assert all(sa.state != "ESTABLISHED" and not sa.children for sa in sas), sas


@pytest.mark.slow
def test_nothing_is_left_behind(run: Run) -> None:
    assert not {run.namespaces.router, run.namespaces.peer} & _namespaces_now()
    for pid in run.pids:
        assert pid > 0
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.slow
def test_a_configuration_charon_refuses_fails_cleanly(tmp_path: Path) -> None:
    reason = charon_missing() or (None if shutil.which("ip") else "no ip command (iproute2)")
    if reason:
        pytest.skip(reason)
    spec = remote_peer_spec(load_config(EXAMPLES / "router1.cfg"))
    bad = swanctl_conf(spec).replace("3des-sha1-modp1024", "3des-sha1-modp9999")
    netns = f"vpnha-{os.getpid()}-{secrets.token_hex(3)}-bad"
    _ip("netns", "add", netns)
    try:
        peer = StrongSwanPeer(bad, workdir=tmp_path / "bad", netns=netns)
        with pytest.raises(StrongSwanError, match="load-all") as caught, peer:
            pass
        assert "modp9999" in str(caught.value)
        assert peer.pid is None
    finally:
        subprocess.run(["ip", "netns", "del", netns], capture_output=True, check=False)
    assert netns not in _namespaces_now()
