"""``vpnha lab``: the document's topology live, traffic both ways, a crash, figures.

Theory of operation
-------------------
:func:`run_lab` builds the product document's two-router topology (Figure 6,
``examples/router1.cfg`` and ``router2.cfg``), runs every node as its own process,
and records what happened; it judges nothing (``properties/lab.py`` does).

**Topology.** As root, five network namespaces named ``vpnha-<pid>-<random>-*``
(so parallel runs and leftovers never collide): ``r1`` and ``r2`` (each with an
inside and an outside veth), ``lan`` (the LAN host, default gateway the inside
virtual IP), ``peer`` (the remote IPsec peer, its address on ``lo``, reached over
the outside segment) and ``sw``, which holds the two bridges, the inside and the
outside segment. Without root (or without ``ip`` or ``/dev/net/tun``) the same
topology runs on loopback: every document /24 network gets a 127.x.y.0/24 of its
own (see :mod:`.plan`), and the run says so.

**Story.** Start both routers (``vpnha router``, the document's timers: hello
500 ms, hold 3 s; ``standby delay`` scaled down, see :class:`LabOptions`), the peer
and the LAN host; wait until one router is ACTIVE, the other STANDBY and SSP is up;
the stand-in IKE (:mod:`.standin_ike`) installs an SA pair on the ACTIVE router
through its control socket and hands the mirror to the peer; wait until SSP has
replicated it; send a sequenced UDP stream both ways; (optionally cut SSP); let
the peer record its last packets (the attacker's capture); SIGKILL the active
router (in netns mode its virtual IPs are then removed from its namespace: a dead
box answers no ARP); wait for the standby to take over; replay the capture at the
cluster; restart the old router (preempt brings it back when it wins the
election); stop the traffic; collect every report and wire log. Whenever a router
asks for an SA (``RequestSa``) while ACTIVE, the stand-in IKE serves it and counts
a renegotiation.

**The real peer** (``peer="strongswan"``, netns mode only). The remote peer is an
unmodified strongSwan charon (:mod:`.strongswan`) configured from router 1's crypto
map; it initiates IKEv1 (Main Mode, Quick Mode, NAT traversal, DPD every
``dpd_delay_s`` idle seconds) to the outside virtual IP, and the routers' own IKE
answers. A plain UDP host on the remote LAN (an address on the peer namespace's
loopback) exchanges the test streams with the LAN host through charon's tunnel.
No stand-in and no attacker here; instead, after the takeover charon rekeys the
CHILD SA (the new active must answer Quick Mode from its copy), and a quiet phase
without traffic lets charon's DPD reach the new active while the new active sends
its own R-U-THERE; the same again after the preempt. charon's log is read before
it stops (its shutdown sends DELETEs that are not part of the story).

**Re-authentication** (``reauth``, strongSwan only). charon re-authenticates its IKE
SA (``swanctl --rekey --ike-id N --reauth``, the path its ``reauth_time`` takes) three
times: (a) before the crash, (b) after the takeover (replacing the copy the new active
took over), (c) after the preempt. charon 5.9 (IKEv1) runs a new Main Mode and moves its
CHILD SAs to the new IKE SA without a Quick Mode; the old IKE SA waits, REKEYING, for
the routers' DELETE, which they send after their grace time for a replaced IKE SA
(10 s). The crash (after a) and the restart with its preempt (after b) come within that
grace time, so the router that takes over must retire the old IKE SA itself; (c) runs
to the end on one router. Each is judged (``reauths``): the new IKE SA on the ACTIVE
router and copied to the STANDBY, charon's CHILD SAs unchanged on both, then charon
holding only the new IKE SA, both routers only it, one DELETE of the old one, traffic
both ways after each step. What a re-authentication rightly causes in charon's log (the
new Main Mode, the old IKE SA's DELETE) is left out of the "no new SA, no DELETE" counts.

**The routers' own lifetimes** (``lifetime_s``, ``ike_lifetime_s``; strongSwan only).
Both routers get ``set security-association lifetime seconds S`` in their crypto map
entries (and ``lifetime L`` in their ISAKMP policies); charon gets a CHILD lifetime far
longer and, with ``L``, proposes ``L`` but never re-authenticates by itself. charon times
its SAs by its own settings only (5.9.8: a shorter lifetime in a Quick Mode is logged,
"received 120s lifetime, configured 86400s", not applied), so only the routers act. Before
the crash the lab waits for the IKE SA's end on the ACTIVE router (with ``L``: it
replaces the IKE SA with a new Main Mode 30 s before the end and charon deletes the old
one; charon must keep its CHILD SAs) and for the ACTIVE router's own
Quick Mode ``REKEY_LEAD_MS`` before the pair's end (after a new Main Mode when it holds no
IKE SA): charon answers it as responder, the STANDBY holds the new pair, traffic moves
to it. The crash follows at once; after the takeover the lab waits for the replaced
pair's end, whose ESP Delete the router that took over sends and charon must act on.
Each is judged (``router_rekeys``, ``ike_expiries``); what they rightly cause in charon's
log (their Main and Quick Modes, the DELETEs of replaced SAs) is left out of the "no new
SA, no DELETE" counts. With S = 120 and L = 60 this adds about two minutes.

Every process is stopped and every namespace deleted at the end, on error and on
Ctrl-C or SIGTERM too.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from importlib import resources
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from types import FrameType
from typing import Any, Final, Literal

from vpnha.impl.config import RouterConfig, load_config
from vpnha.impl.entropy import OsEntropy
from vpnha.impl.router import REKEY_LEAD_MS

from .clock import LiveClock
from .control import ControlError, request
from .plan import DEFAULT_LAN_PORT, LivePlan
from .standin_ike import negotiate, new_sa_to_json, protected_network
from .strongswan import (
    CharonLog,
    ChildSaStatus,
    IkeSaStatus,
    PeerConfigError,
    StrongSwanError,
    StrongSwanPeer,
    charon_missing,
    parse_charon_log,
    remote_peer_spec,
    swanctl_conf,
)

__all__ = ["LabError", "LabObservation", "LabOptions", "run_lab"]

_POLL_S: Final = 0.05
_START_TIMEOUT_S: Final = 15.0
_NS_PARTS: Final = ("sw", "r1", "r2", "lan", "peer")
_DELAY_LINE: Final = " standby delay minimum 30 reload 60\n"
_SA_LIFETIME: Final = ("set", "security-association", "lifetime", "seconds")
_CHARON_CHILD_LIFETIME_S: Final = 86_400
"""With ``lifetime_s``: charon's CHILD SA lifetime (IOS's longest; rekey at 90 %),
longer than any lab run, so that only the routers' shorter lifetime comes due."""


class LabError(RuntimeError):
    """The lab could not run its story (says which step, with the processes' log tails)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LabOptions:
    """What ``vpnha lab`` runs."""

    mode: Literal["auto", "netns", "loopback"] = "auto"
    """``auto``: network namespaces when root and the tools are there, else loopback."""
    rate_pps: int = 200
    """Packets per second of each test stream, 1-100000."""
    size: int = 64
    """UDP payload octets of each test packet, 16-1400."""
    phase_s: float = 2.0
    """Seconds of traffic before the crash, after the takeover and after the restart."""
    standby_delay_s: tuple[int, int] = (2, 4)
    """``standby delay minimum`` and ``reload`` written into both configurations, seconds
    (the document's 30 and 60 would make every boot wait a minute)."""
    preempt_sync_s: int = 10
    """Each plain ``standby N preempt`` becomes ``standby N preempt delay minimum MIN sync
    S`` (MIN the standby delay minimum above; 0: the lines stay as written): the restarted
    router preempts only once SSP's full copy has arrived, or S seconds after it could
    have, so it never takes over without the SAs (without it, it may preempt before the
    copy and the SA must be negotiated again)."""
    ssp_cut: bool = False
    """Cut the SSP path ``phase_s`` before the crash (the standby cannot bound counters)."""
    replay_count: int = 32
    """Captured ESP packets the attacker re-sends after the takeover."""
    configs: tuple[str, str] | None = None
    """Router 1 and router 2 configuration files (default: the shipped examples)."""
    pcap_dir: str | None = None
    """Netns mode: capture both segments (``dumpcap``) into this folder."""
    keep_dir: bool = False
    """Keep the run folder (configurations, logs) instead of deleting it."""
    peer: Literal["own", "strongswan"] = "own"
    """``own``: the project's ESP code with the stand-in IKE; ``strongswan``: charon."""
    dpd_delay_s: int = 1
    """strongSwan only: its DPD interval (R-U-THERE after this many idle seconds)."""
    reauth: bool = False
    """strongSwan only: charon re-authenticates its IKE SA (a new Main Mode; its CHILD SAs
    move to the new IKE SA; the routers delete the old one) before the crash, after the
    takeover and after the preempt; see :meth:`_Lab._swan_reauth`."""
    reauth_timeout_s: float = 25.0
    """strongSwan only: how long one re-authentication may take to settle, from charon's
    start: the routers keep a replaced IKE SA for their grace time (10 s) before they
    delete it, and a failover within that time may start the grace time again."""
    lifetime_s: int | None = None
    """strongSwan only: ``set security-association lifetime seconds`` written into both
    routers' crypto map entries (120-3600; IOS and our parser refuse less than 120).
    charon's CHILD lifetimes are set far longer (it proposes them, the routers keep the
    shorter), so the ACTIVE router's own rekey and its ESP Delete at the end run; see
    :meth:`_Lab._lifetime_rekey`."""
    ike_lifetime_s: int | None = None
    """strongSwan with ``lifetime_s`` only: ``lifetime`` written into both routers'
    ISAKMP policies (60 or more, ending before the rekey: at most ``lifetime_s`` - 31).
    charon proposes it and never re-authenticates by itself, so the routers' ISAKMP
    Delete at its end runs, and their rekey needs a new Main Mode."""

    def __post_init__(self) -> None:
        if not 1 <= self.rate_pps <= 100_000:
            msg = f"rate_pps {self.rate_pps} must be 1-100000"
            raise ValueError(msg)
        if not 16 <= self.size <= 1400:
            msg = f"size {self.size} must be 16-1400"
            raise ValueError(msg)
        if not 0.2 <= self.phase_s <= 600:
            msg = f"phase_s {self.phase_s} must be 0.2-600"
            raise ValueError(msg)
        minimum, reload = self.standby_delay_s
        if not (0 <= minimum <= 3600 and 0 <= reload <= 3600):
            msg = f"standby_delay_s {self.standby_delay_s} must be two values 0-3600"
            raise ValueError(msg)
        if not 0 <= self.preempt_sync_s <= 3600:
            msg = f"preempt_sync_s {self.preempt_sync_s} must be 0-3600"
            raise ValueError(msg)
        if self.reauth and (self.peer != "strongswan" or self.ssp_cut):
            msg = "reauth needs the strongSwan peer and no SSP cut"
            raise ValueError(msg)
        if not 1 <= self.reauth_timeout_s <= 600:
            msg = f"reauth_timeout_s {self.reauth_timeout_s} must be 1-600"
            raise ValueError(msg)
        if self.lifetime_s is not None:
            if self.peer != "strongswan" or self.ssp_cut or self.reauth:
                msg = "lifetime needs the strongSwan peer, no SSP cut and no reauth"
                raise ValueError(msg)
            if not 120 <= self.lifetime_s <= 3600:
                msg = f"lifetime_s {self.lifetime_s} must be 120-3600"
                raise ValueError(msg)
        if self.ike_lifetime_s is not None:
            if self.lifetime_s is None:
                msg = "ike_lifetime_s needs lifetime_s (the rekey after it runs Main Mode)"
                raise ValueError(msg)
            latest = self.lifetime_s - REKEY_LEAD_MS // 1000 - 1
            if not 60 <= self.ike_lifetime_s <= latest:
                msg = (
                    f"ike_lifetime_s {self.ike_lifetime_s} must be 60-{latest} (end before "
                    f"the rekey, {REKEY_LEAD_MS // 1000} s before lifetime_s)"
                )
                raise ValueError(msg)


@dataclass(slots=True, kw_only=True)
class LabObservation:
    """Everything the lab saw (times are ms of the shared monotonic clock)."""

    mode: str
    """``netns`` or ``loopback``."""
    mode_reason: str
    """Why this mode (e.g. "not root")."""
    prefix: str
    """Namespace (or run) name prefix."""
    hostnames: tuple[str, str]
    hold_ms: int
    hello_ms: int
    rate_pps: int
    ssp_cut: bool
    first_active: int = -1
    """Index (0, 1) of the router that was ACTIVE first."""
    preempt_expected: bool = False
    """Whether the restarted router wins the election (so preempt must bring it back)."""
    traffic_start_ms: int = 0
    traffic_stop_ms: int = 0
    cut_ms: int | None = None
    kill_ms: int = 0
    takeover_at_ms: int | None = None
    """When the survivor's role became ACTIVE."""
    restart_ms: int = 0
    back_at_ms: int | None = None
    """When the restarted router became ACTIVE again (preempt), if it did."""
    negotiations: int = 0
    """Stand-in IKE negotiations (the first one included)."""
    replays_sent: int = 0
    peer: dict[str, Any] = field(default_factory=dict)
    lan: dict[str, Any] = field(default_factory=dict)
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Last status of every router incarnation (``r1#1``, ``r1#2``, ...)."""
    wire_logs: dict[str, dict[str, list[list[int]]]] = field(default_factory=dict)
    """Per incarnation: ``tx`` and ``rx`` runs ``[spi, first, last, at_ms]`` from its file."""
    timeline: list[tuple[int, str, str]] = field(default_factory=list)
    """(ms, node, text), sorted."""
    cleaned: bool = False
    """Every process stopped and every namespace removed."""
    peer_kind: str = "own"
    """``own`` or ``strongswan``."""
    quiet: list[tuple[int, int]] = field(default_factory=list)
    """(start, end) of each pause in the traffic (strongSwan: the DPD phases)."""
    rekeys: list[dict[str, Any]] = field(default_factory=list)
    """strongSwan: each CHILD rekey asked for after a takeover, and who answered."""
    strongswan: dict[str, Any] = field(default_factory=dict)
    """strongSwan: what its log says (counts, replay failures), read before it stopped."""
    reauths: list[dict[str, Any]] = field(default_factory=list)
    """strongSwan with ``reauth``: each re-authentication the lab asked for, what charon
    and both routers showed when it was adopted and when it settled, what charon's log
    says about it, and the verdict ``ok`` (also in ``strongswan["reauths"]``)."""
    esp_keys: list[dict[str, Any]] = field(default_factory=list)
    """With ``pcap_dir`` only: every SA direction with its keys (hex), for Wireshark:
    ``src``, ``dst``, ``spi``, ``transforms``, ``encryption_key``, ``integrity_key``."""
    lifetime_s: int | None = None
    """strongSwan with ``lifetime_s``: the routers' IPsec SA lifetime, seconds."""
    ike_lifetime_s: int | None = None
    """strongSwan with ``ike_lifetime_s``: the routers' IKE SA lifetime, seconds."""
    router_rekeys: list[dict[str, Any]] = field(default_factory=list)
    """strongSwan with ``lifetime_s``: each rekey the ACTIVE router started by itself
    before a pair's lifetime ended, what charon and the STANDBY showed, whether traffic
    moved to the new pair, and (``expiry``) the replaced pair's end after the takeover."""
    ike_expiries: list[dict[str, Any]] = field(default_factory=list)
    """strongSwan with ``ike_lifetime_s``: the end of charon's first IKE SA on the
    routers, its DELETE, and what charon held afterwards."""


@dataclass(slots=True)
class _Node:
    name: str
    netns: str | None
    control: str
    log: Path
    process: subprocess.Popen[bytes] | None = None
    incarnation: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class _Topology:
    configs: tuple[RouterConfig, RouterConfig]
    inside_vip: IPv4Address
    outside_vip: IPv4Address
    peer: IPv4Address
    lan_host: IPv4Address
    remote_host: IPv4Address
    peer_outside: IPv4Address
    """Netns mode: the peer's address on the outside segment (the routers' next hop)."""


def _topology(configs: tuple[RouterConfig, RouterConfig]) -> _Topology:
    first = configs[0]
    inside, outside = first.inside_interface(), first.outside_interface()
    if inside is None or outside is None or inside.address is None or outside.address is None:
        msg = f"{first.hostname}: needs an inside and an outside interface with addresses"
        raise LabError(msg)
    vips = [i.standby_groups[0].virtual_ip for i in (inside, outside)]
    if vips[0] is None or vips[1] is None:
        msg = f"{first.hostname}: both standby groups need a virtual IP"
        raise LabError(msg)
    entries = first.crypto_map(outside.crypto_map or "")
    if not entries or not entries[0].peers:
        msg = f"{first.hostname}: the outside crypto map names no peer"
        raise LabError(msg)
    remote = protected_network(first)
    return _Topology(
        configs=configs,
        inside_vip=vips[0],
        outside_vip=vips[1],
        peer=entries[0].peers[0],
        lan_host=inside.address.network.network_address + 50,
        remote_host=remote.network_address + 10,
        peer_outside=outside.address.network.broadcast_address - 1,
    )


def _choose_mode(wanted: str) -> tuple[str, str]:
    reasons = []
    if os.geteuid() != 0:
        reasons.append("not root")
    if shutil.which("ip") is None:
        reasons.append("no ip command (iproute2)")
    if not os.path.exists("/dev/net/tun"):
        reasons.append("no /dev/net/tun")
    if wanted == "loopback":
        return "loopback", "asked for"
    if wanted == "netns":
        if reasons:
            msg = f"netns mode needs root, iproute2 and TUN: {', '.join(reasons)}"
            raise LabError(msg)
        return "netns", "root"
    if reasons:
        return "loopback", ", ".join(reasons)
    return "netns", "root"


def _example(name: str) -> Path:
    return Path(str(resources.files("vpnha") / "examples" / name))


def _config_text(
    path: Path,
    delay: tuple[int, int],
    *,
    preempt_sync_s: int = 0,
    lifetime_s: int | None = None,
    ike_lifetime_s: int | None = None,
) -> str:
    text = path.read_text()
    line = f" standby delay minimum {delay[0]} reload {delay[1]}\n"
    text = text.replace(_DELAY_LINE, line)
    if preempt_sync_s:
        lines = []
        for entry in text.splitlines():
            words = entry.split()
            plain = entry[:1].isspace() and len(words) == 3 and words[::2] == ["standby", "preempt"]
            sync = f" delay minimum {delay[0]} sync {preempt_sync_s}"
            lines.append(f" {entry.strip()}{sync}" if plain else entry)
        text = "\n".join(lines) + "\n"
    return _with_lifetimes(text, lifetime_s, ike_lifetime_s)


def _with_lifetimes(text: str, lifetime_s: int | None, ike_lifetime_s: int | None) -> str:
    """``set security-association lifetime seconds`` in every ``ipsec-isakmp`` crypto map
    entry and ``lifetime`` in every ISAKMP policy (replacing any there), when given."""
    lines: list[str] = []
    for line in text.splitlines():
        words = line.split()
        indented = line[:1].isspace()
        if lifetime_s is not None and indented and words[:4] == list(_SA_LIFETIME):
            continue
        if ike_lifetime_s is not None and indented and words[:1] == ["lifetime"]:
            continue  # only ISAKMP policies have a bare "lifetime" sub-command
        lines.append(line)
        if lifetime_s is not None and words[:2] == ["crypto", "map"] and "ipsec-isakmp" in words:
            lines.append(f" {' '.join(_SA_LIFETIME)} {lifetime_s}")
        if ike_lifetime_s is not None and words[:3] == ["crypto", "isakmp", "policy"]:
            lines.append(f" lifetime {ike_lifetime_s}")
    return "\n".join(lines) + "\n"


class _Lab:
    """One run: its folder, namespaces, processes and what they reported."""

    def __init__(self, options: LabOptions, progress: Callable[[str], None]) -> None:
        self.options = options
        self.progress = progress
        self.clock = LiveClock()
        self.mode, reason = _choose_mode(options.mode)
        self.dir = Path(tempfile.mkdtemp(prefix="vpnha-lab-"))
        self.prefix = f"vpnha-{os.getpid()}-{secrets.token_hex(2)}"
        sources = (
            (Path(options.configs[0]), Path(options.configs[1]))
            if options.configs
            else (_example("router1.cfg"), _example("router2.cfg"))
        )
        paths = []
        for index, source in enumerate(sources):
            target = self.dir / f"router{index + 1}.cfg"
            target.write_text(
                _config_text(
                    source,
                    options.standby_delay_s,
                    preempt_sync_s=options.preempt_sync_s,
                    lifetime_s=options.lifetime_s,
                    ike_lifetime_s=options.ike_lifetime_s,
                )
            )
            paths.append(target)
        self.config_paths = (paths[0], paths[1])
        configs = (load_config(paths[0]), load_config(paths[1]))
        self.topo = _topology(configs)
        self.plan_path = self.dir / "plan.json"
        self.plan = self._plan()
        self.plan_path.write_text(self.plan.to_json())
        self.namespaces: list[str] = []
        self.dumpcap: subprocess.Popen[bytes] | None = None
        hold = configs[0].outside_interface().standby_groups[0]  # type: ignore[union-attr]
        self.obs = LabObservation(
            mode=self.mode,
            mode_reason=reason,
            prefix=self.prefix,
            hostnames=(configs[0].hostname, configs[1].hostname),
            hold_ms=hold.hold_ms,
            hello_ms=hold.hello_ms,
            rate_pps=options.rate_pps,
            ssp_cut=options.ssp_cut,
        )
        self.routers = [
            _Node(f"r{i + 1}", self._ns(f"r{i + 1}"), str(self.dir / f"r{i + 1}.sock"), Path())
            for i in range(2)
        ]
        self.peer = _Node("peer", self._ns("peer"), str(self.dir / "peer.sock"), Path())
        self.lan = _Node("lan", self._ns("lan"), str(self.dir / "lan.sock"), Path())
        self.sa_requests_seen = [0, 0]
        self.last_status: list[dict[str, Any] | None] = [None, None]
        self.sa_installed = False
        self.swan: StrongSwanPeer | None = None
        self.child = ""
        self.connection = ""
        self.children: tuple[str, ...] = ()
        if options.peer == "strongswan":
            if self.mode != "netns":
                msg = f"--peer strongswan needs netns mode (this run: {self.mode}, {reason})"
                raise LabError(msg)
            missing = charon_missing()
            if missing is not None:
                raise LabError(f"--peer strongswan: {missing}")
            self.obs.peer_kind = "strongswan"
            self.obs.lifetime_s = options.lifetime_s
            self.obs.ike_lifetime_s = options.ike_lifetime_s

    # --- plan and namespaces ------------------------------------------------------------

    def _ns(self, part: str) -> str | None:
        return f"{self.prefix}-{part}" if self.mode == "netns" else None

    def _plan(self) -> LivePlan:
        if self.mode == "netns":
            return LivePlan(mode="netns")
        topo = self.topo
        second = 16 + (os.getpid() + secrets.randbelow(1 << 16)) % 230
        networks = []
        document = [
            topo.configs[0].inside_interface().address.network,  # type: ignore[union-attr]
            topo.configs[0].outside_interface().address.network,  # type: ignore[union-attr]
            IPv4Network(f"{topo.peer}/24", strict=False),
            IPv4Network(f"{topo.remote_host}/24", strict=False),
        ]
        for third, net in enumerate(document, start=1):
            networks.append((net, IPv4Network(f"127.{second}.{third}.0/{net.prefixlen}")))
        members = tuple(
            iface.address.ip
            for config in topo.configs
            for iface in (config.inside_interface(), config.outside_interface())
            if iface is not None and iface.address is not None
        )
        return LivePlan(
            mode="loopback",
            networks=tuple(networks),
            hsrp_members=members,
            lan_port=DEFAULT_LAN_PORT,
        )

    def _ip(self, *args: str, netns: str | None = None) -> None:
        command = ["ip", *(["-n", netns] if netns else []), *args]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            msg = f"{' '.join(command)}: {result.stderr.strip()}"
            raise LabError(msg)

    def _sysctl(self, netns: str, *settings: str, required: bool = True) -> None:
        """Write ``key=value`` settings under /proc/sys inside ``netns`` (no procps needed)."""
        script = "; ".join(
            f"echo {value} > /proc/sys/{key.replace('.', '/')}"
            for key, _, value in (setting.partition("=") for setting in settings)
        )
        result = subprocess.run(
            ["ip", "netns", "exec", netns, "sh", "-c", script],
            capture_output=True,
            text=True,
            check=False,
        )
        if required and result.returncode != 0:
            msg = f"sysctl in {netns}: {result.stderr.strip()}"
            raise LabError(msg)

    def build(self) -> None:
        """Create the namespaces, bridges, veths, addresses and routes (netns mode)."""
        if self.mode != "netns":
            return
        topo = self.topo
        for part in _NS_PARTS:
            name = f"{self.prefix}-{part}"
            self._ip("netns", "add", name)
            self.namespaces.append(name)
            # No IPv6 chatter on the segments (best effort: IPv6 may be compiled out).
            self._sysctl(
                name,
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
                required=False,
            )
            self._sysctl(
                name,
                "net.ipv4.conf.all.rp_filter=0",
                "net.ipv4.conf.default.rp_filter=0",
                "net.ipv4.conf.all.arp_accept=1",
                "net.ipv4.conf.default.arp_accept=1",
            )
            self._ip("link", "set", "lo", "up", netns=name)
        sw = f"{self.prefix}-sw"
        for bridge in ("br-in", "br-out"):
            self._ip("link", "add", bridge, "type", "bridge", "mcast_snooping", "0", netns=sw)
            self._ip("link", "set", bridge, "up", netns=sw)

        def attach(part: str, ifname: str, bridge: str, address: str) -> None:
            ns = f"{self.prefix}-{part}"
            port = f"{part}-{ifname}"
            self._ip(
                "link",
                "add",
                ifname,
                "netns",
                ns,
                "type",
                "veth",
                "peer",
                "name",
                port,
                "netns",
                sw,
            )
            self._ip("link", "set", port, "master", bridge, "up", netns=sw)
            self._ip("addr", "add", address, "dev", ifname, netns=ns)
            self._ip("link", "set", ifname, "up", netns=ns)

        for index, config in enumerate(topo.configs):
            part = f"r{index + 1}"
            inside, outside = config.inside_interface(), config.outside_interface()
            assert inside is not None
            assert outside is not None
            attach(part, "in0", "br-in", str(inside.address))
            attach(part, "out0", "br-out", str(outside.address))
            ns = f"{self.prefix}-{part}"
            self._sysctl(ns, "net.ipv4.ip_forward=1")
            self._ip("route", "add", f"{topo.peer}/32", "via", str(topo.peer_outside), netns=ns)
        inside_net = topo.configs[0].inside_interface().address.network  # type: ignore[union-attr]
        outside_net = topo.configs[0].outside_interface().address.network  # type: ignore[union-attr]
        attach("lan", "eth0", "br-in", f"{topo.lan_host}/{inside_net.prefixlen}")
        self._ip("route", "add", "default", "via", str(topo.inside_vip), netns=f"{self.prefix}-lan")
        attach("peer", "eth0", "br-out", f"{topo.peer_outside}/{outside_net.prefixlen}")
        self._ip("addr", "add", f"{topo.peer}/32", "dev", "lo", netns=f"{self.prefix}-peer")
        if self.options.peer == "strongswan":
            # The remote LAN's host, behind charon's tunnel.
            self._ip(
                "addr", "add", f"{topo.remote_host}/32", "dev", "lo", netns=f"{self.prefix}-peer"
            )
        if self.options.pcap_dir:
            self._start_capture(sw)

    def _start_capture(self, sw: str) -> None:
        dumpcap = shutil.which("dumpcap")
        if dumpcap is None:
            self.progress("--pcap: dumpcap (tshark) not found; no capture")
            return
        folder = Path(self.options.pcap_dir or ".")
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / "lab.pcapng"
        self.dumpcap = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                sw,
                dumpcap,
                "-q",
                "-i",
                "br-in",
                "-i",
                "br-out",
                "-w",
                str(target),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)

    # --- processes ----------------------------------------------------------------------

    def _spawn(self, node: _Node, args: list[str]) -> None:
        node.incarnation += 1
        node.log = self.dir / f"{node.name}-{node.incarnation}.log"
        prefix = ["ip", "netns", "exec", node.netns] if node.netns else []
        # A capture taps the veths before a UDP GSO train is cut into datagrams: with
        # --pcap the routers send one datagram per frame, as the wire carries them.
        env = {**os.environ, "VPNHA_UDP_GSO": "0"} if self.options.pcap_dir else None
        with node.log.open("wb") as log:
            node.process = subprocess.Popen(
                [*prefix, sys.executable, "-m", *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )

    def start_router(self, index: int) -> None:
        """Start (or restart) router ``index`` as ``vpnha router``."""
        node = self.routers[index]
        with contextlib.suppress(FileNotFoundError):
            os.unlink(node.control)
        self._spawn(
            node,
            [
                "vpnha.impl.live.process",
                str(self.config_paths[index]),
                "--plan",
                str(self.plan_path),
                "--control",
                node.control,
                "--wire-log",
                str(self._wire_path(index, node.incarnation + 1)),
                *(["--negotiate"] if self.options.peer == "strongswan" else []),
            ],
        )
        self._event(node.name, f"process started (pid {node.process.pid})")  # type: ignore[union-attr]

    def _wire_path(self, index: int, incarnation: int) -> Path:
        return self.dir / f"r{index + 1}-{incarnation}.wire"

    def start_hosts(self) -> None:
        """Start the remote peer and the LAN host."""
        topo = self.topo
        common = ["--plan", str(self.plan_path), "--remote-host", str(topo.remote_host)]
        if self.options.peer == "strongswan":
            self._start_strongswan()
        else:
            self._spawn(
                self.peer,
                [
                    "vpnha.impl.live.hosts",
                    "peer",
                    "--control",
                    self.peer.control,
                    "--address",
                    str(topo.peer),
                    "--cluster",
                    str(topo.outside_vip),
                    "--lan-host",
                    str(topo.lan_host),
                    *common,
                ],
            )
        self._spawn(
            self.lan,
            [
                "vpnha.impl.live.hosts",
                "lan",
                "--control",
                self.lan.control,
                "--address",
                str(topo.lan_host),
                "--gateway",
                str(topo.inside_vip),
                *common,
            ],
        )

    def _start_strongswan(self) -> None:
        """charon in the peer namespace, and a plain UDP host on the remote LAN."""
        topo = self.topo
        try:
            spec = remote_peer_spec(
                topo.configs[0], dpd_delay_s=self.options.dpd_delay_s, dpd_timeout_s=60
            )
            if self.options.lifetime_s is not None:
                # charon times its SAs by its own settings only (see swanctl_conf): longer
                # than the routers', so that the routers' rekey and Deletes come first.
                spec = replace(spec, child_lifetime_s=_CHARON_CHILD_LIFETIME_S)
            if self.options.ike_lifetime_s is not None:
                spec = replace(spec, ike_reauth=False)
            self.swan = StrongSwanPeer(
                swanctl_conf(spec),
                workdir=self.dir / "charon",
                netns=self._ns("peer"),
                log_keys=bool(self.options.pcap_dir),  # keys in charon's log only then
            )
            self.swan.start()
        except (PeerConfigError, StrongSwanError) as error:
            raise LabError(f"strongSwan: {error}") from error
        self.child = spec.children[0].name
        self.connection = spec.connection
        self.children = tuple(child.name for child in spec.children)
        self._event("peer", f"charon started (pid {self.swan.pid})")
        self._spawn(
            self.peer,
            [
                "vpnha.impl.live.hosts",
                "lan",
                "--control",
                self.peer.control,
                "--address",
                str(topo.remote_host),
                "--gateway",
                str(topo.outside_vip),
                "--remote-host",
                str(topo.lan_host),
                "--plan",
                str(self.plan_path),
            ],
        )

    def wait_controls(self) -> None:
        """Wait until every process answers on its control socket."""
        for node in (*self.routers, self.peer, self.lan):
            self.wait(functools.partial(self._answers, node), _START_TIMEOUT_S, f"{node.name} up")

    def _answers(self, node: _Node) -> bool:
        if node.process is not None and node.process.poll() is not None:
            msg = f"{node.name} exited with status {node.process.returncode}"
            raise LabError(msg + self._tail(node))
        try:
            request(
                node.control, {"op": "status" if node in self.routers else "report"}, timeout_s=1
            )
        except ControlError:
            return False
        return True

    def _tail(self, node: _Node, lines: int = 12) -> str:
        try:
            text = node.log.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "\n  " + f"--- {node.log.name} ---\n  " + "\n  ".join(text)

    def kill(self, index: int) -> None:
        """SIGKILL router ``index``; in netns mode the dead box's addresses go with it."""
        node = self.routers[index]
        assert node.process is not None
        node.process.kill()
        self.obs.kill_ms = self.clock.now()
        node.process.wait()
        self._event(node.name, "SIGKILL")
        config = self.topo.configs[index]
        if node.netns:
            for ifname, iface in (
                ("in0", config.inside_interface()),
                ("out0", config.outside_interface()),
            ):
                assert iface is not None
                assert iface.address is not None
                vip = iface.standby_groups[0].virtual_ip
                prefix = iface.address.network.prefixlen
                subprocess.run(
                    ["ip", "-n", node.netns, "addr", "del", f"{vip}/{prefix}", "dev", ifname],
                    capture_output=True,
                    check=False,
                )

    def stop_all(self) -> None:
        """Stop every process: ask, then SIGTERM, then SIGKILL."""
        nodes = [n for n in (*self.routers, self.peer, self.lan) if n.process is not None]
        for node in nodes:
            if node.process is not None and node.process.poll() is None:
                with contextlib.suppress(ControlError):
                    op = "stop" if node in self.routers else "exit"
                    request(node.control, {"op": op}, timeout_s=1)
        deadline = time.monotonic() + 3
        for node in nodes:
            process = node.process
            assert process is not None
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(timeout=1)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if self.dumpcap is not None:
            self.dumpcap.terminate()
            try:
                self.dumpcap.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.dumpcap.kill()
                self.dumpcap.wait()

    def cleanup(self) -> None:
        """Stop everything, delete the namespaces and (unless kept) the run folder."""
        try:
            if self.swan is not None:
                self.swan.close()
            self.stop_all()
        finally:
            for name in self.namespaces:
                subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
            left = set(_list_namespaces()) & set(self.namespaces)
            self.obs.cleaned = not left
            if not self.options.keep_dir:
                shutil.rmtree(self.dir, ignore_errors=True)

    # --- observation --------------------------------------------------------------------

    def _event(self, node: str, text: str) -> None:
        self.obs.timeline.append((self.clock.now(), node, text))

    def status(self, index: int) -> dict[str, Any] | None:
        """Router ``index``'s status (None while it is down or silent)."""
        node = self.routers[index]
        if node.process is None or node.process.poll() is not None:
            return None
        try:
            answer = request(node.control, {"op": "status"}, timeout_s=2)
        except ControlError:
            return None
        status: dict[str, Any] = answer["status"]
        self.last_status[index] = status
        self.obs.statuses[f"{node.name}#{node.incarnation}"] = status
        self._serve_ike(index, status)
        return status

    def _serve_ike(self, index: int, status: dict[str, Any]) -> None:
        """The stand-in IKE answers a router that asked for an SA while ACTIVE."""
        if self.swan is not None:
            return  # the routers negotiate with charon themselves
        count = int(status["sa_requests"]["count"])
        asked = count > self.sa_requests_seen[index]
        self.sa_requests_seen[index] = count
        usable = any(sa["status"] == "ACTIVE" for sa in status["sas"])
        if asked and self.sa_installed and status["role"] == "ACTIVE" and not usable:
            self._event(self.routers[index].name, "asked for an SA (RequestSa)")
            self.negotiate(index)

    def negotiate(self, index: int) -> None:
        """Stand-in IKE: an SA pair on router ``index``, the mirror on the peer."""
        params, mirror = negotiate(self.topo.configs[index], OsEntropy(), now_ms=self.clock.now())
        try:
            request(self.routers[index].control, {"op": "install_sa", "sa": new_sa_to_json(params)})
        except ControlError as error:
            raise LabError(f"stand-in IKE: {error}") from error
        request(self.peer.control, {"op": "sa", "sa": mirror.to_json()})
        self.obs.negotiations += 1
        if self.options.pcap_dir:
            vip, peer = str(self.topo.outside_vip), str(self.topo.peer)
            for src, dst, spi, key, auth in (
                (
                    vip,
                    peer,
                    params.outbound_spi,
                    params.outbound_encryption_key,
                    params.outbound_integrity_key,
                ),
                (
                    peer,
                    vip,
                    params.inbound_spi,
                    params.inbound_encryption_key,
                    params.inbound_integrity_key,
                ),
            ):
                self.obs.esp_keys.append(
                    {
                        "src": src,
                        "dst": dst,
                        "spi": spi,
                        "transforms": list(params.transforms),
                        "encryption_key": key.hex(),
                        "integrity_key": auth.hex(),
                    }
                )
        self.sa_installed = True
        self._event(
            "ike",
            f"SA negotiated with {self.routers[index].name} "
            f"(spi in {params.inbound_spi:#010x}, out {params.outbound_spi:#010x})",
        )

    def wait(self, predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Poll ``predicate`` until true; LabError naming ``what`` on timeout."""
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                tails = "".join(self._tail(n) for n in self.routers)
                msg = f"timed out after {timeout_s:.0f} s waiting for {what}{tails}"
                raise LabError(msg)
            time.sleep(_POLL_S)

    def settle(self, seconds: float) -> None:
        """Let ``seconds`` pass, polling the routers (and serving IKE) meanwhile."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for index in (0, 1):
                self.status(index)
            time.sleep(min(_POLL_S * 2, max(0.0, end - time.monotonic())))

    def roles(self) -> tuple[str | None, str | None]:
        """Both routers' SSP device roles (None: down)."""
        first, second = self.status(0), self.status(1)
        return (
            None if first is None else str(first["role"]),
            None if second is None else str(second["role"]),
        )

    def stable(self) -> int | None:
        """The ACTIVE router's index when one is ACTIVE, the other STANDBY and SSP is up."""
        statuses = [self.status(0), self.status(1)]
        if any(s is None for s in statuses):
            return None
        roles = [str(s["role"]) for s in statuses]  # type: ignore[index]
        links = [s["ssp"]["link"] for s in statuses]  # type: ignore[index]
        if sorted(roles) == ["ACTIVE", "STANDBY"] and links == ["Connected", "Connected"]:
            return roles.index("ACTIVE")
        return None

    def read_wire_logs(self) -> None:
        """Fold every incarnation's wire log file into ``obs.wire_logs``."""
        for index in (0, 1):
            for incarnation in range(1, self.routers[index].incarnation + 1):
                path = self._wire_path(index, incarnation)
                runs: dict[str, dict[int, list[int]]] = {"tx": {}, "rx": {}}
                with contextlib.suppress(OSError):
                    for line in path.read_text().splitlines():
                        with contextlib.suppress(ValueError, KeyError, TypeError):
                            record = json.loads(line)
                            runs[record["k"]][int(record["i"])] = [int(v) for v in record["run"]]
                self.obs.wire_logs[f"r{index + 1}#{incarnation}"] = {
                    kind: [found[i] for i in sorted(found)] for kind, found in runs.items()
                }

    # --- the story ----------------------------------------------------------------------

    def story(self) -> None:
        """Elect, negotiate, traffic, (cut), crash, takeover, replay, restart, collect."""
        options, obs, topo = self.options, self.obs, self.topo
        minimum, reload = options.standby_delay_s
        self.progress(f"mode {self.mode} ({obs.mode_reason}); run {self.prefix}")
        self.build()
        for index in (0, 1):
            self.start_router(index)
        self.start_hosts()
        self.wait_controls()
        self.progress(f"routers up; waiting for the election (standby delay reload {reload} s)")
        active: list[int] = []

        def elected() -> bool:
            found = self.stable()
            if found is not None:
                active.append(found)
            return found is not None

        self.wait(elected, reload + 6 * obs.hold_ms / 1000 + 10, "one ACTIVE, one STANDBY, SSP up")
        first = active[-1]
        obs.first_active = first
        other = 1 - first
        self.progress(f"{obs.hostnames[first]} ACTIVE, {obs.hostnames[other]} STANDBY")
        if self.swan is not None:
            self._swan_initiate(first)
        else:
            self.negotiate(first)

        def replicated() -> bool:
            status = self.status(other)
            return status is not None and any(sa["status"] == "STDBY" for sa in status["sas"])

        self.wait(replicated, 5, "SSP to replicate the SA to the standby")
        for node in (self.peer, self.lan):
            request(node.control, {"op": "start", "rate": options.rate_pps, "size": options.size})
        obs.traffic_start_ms = self.clock.now()
        self._event("lab", f"traffic both ways, {options.rate_pps} packets/s each")
        self.settle(options.phase_s)
        if self.swan is not None and options.reauth:
            # The crash comes within the routers' grace time for the replaced IKE SA.
            self._swan_reauth(first, "before the crash", settle=False)
        if self.swan is not None and options.lifetime_s is not None:
            # The crash comes right after the ACTIVE router's own rekey.
            self._lifetime_rekey(first)
        if options.ssp_cut:
            for index in (0, 1):
                request(self.routers[index].control, {"op": "fault", "ssp": "cut"})
            obs.cut_ms = self.clock.now()
            self._event("lab", "SSP path cut")
            # Long enough that the standby's copies are past the SSP grace period at the
            # takeover: it must discard them and renegotiate, not guess the counters.
            self.settle(max(options.phase_s, 2.0))
        if self.swan is None:
            request(self.peer.control, {"op": "capture"})
        self.progress(f"SIGKILL {obs.hostnames[first]}")
        self.kill(first)

        def taken_over() -> bool:
            status = self.status(other)
            return status is not None and status["role"] == "ACTIVE"

        self.wait(taken_over, 3 * obs.hold_ms / 1000 + 5, f"{obs.hostnames[other]} to take over")
        status = self.last_status[other] or {}
        roles = [r for r in status.get("roles", []) if r["new"] == "ACTIVE"]
        obs.takeover_at_ms = int(roles[-1]["at_ms"]) if roles else self.clock.now()
        self.progress(f"{obs.hostnames[other]} took over")
        self.settle(0.3)
        if self.swan is None:
            answer = request(self.peer.control, {"op": "replay", "count": options.replay_count})
            obs.replays_sent = int(answer.get("replayed", 0))
            self._event("attacker", f"re-sent {obs.replays_sent} captured ESP packets")
            self.settle(max(0.0, options.phase_s - 0.3))
        else:
            self.settle(max(0.0, options.phase_s - 0.3))
            if options.lifetime_s is not None:
                self._lifetime_expiry(other)
            self._swan_rekey(other)
            self._quiet(other)
            if options.reauth:
                self._reauth_settle(self.obs.reauths[-1])
                # The restart and the preempt come within the grace time.
                self._swan_reauth(other, "after the takeover", settle=False)
        if options.ssp_cut:
            request(self.routers[other].control, {"op": "fault", "ssp": "heal"})
        self.progress(f"restarting {obs.hostnames[first]}")
        self.start_router(first)
        obs.restart_ms = self.clock.now()
        self.wait(lambda: self._answers(self.routers[first]), _START_TIMEOUT_S, "the restart")
        obs.preempt_expected = self._wins(first)

        def back() -> bool:
            if obs.preempt_expected:
                status = self.status(first)
                return status is not None and status["role"] == "ACTIVE"
            return self.stable() is not None

        self.wait(back, reload + minimum + 6 * obs.hold_ms / 1000 + 10, "the cluster to settle")
        status = self.last_status[first] or {}
        roles = [r for r in status.get("roles", []) if r["new"] == "ACTIVE"]
        obs.back_at_ms = int(roles[-1]["at_ms"]) if roles else None
        self.settle(options.phase_s)
        if self.swan is not None:
            back_active = first if obs.preempt_expected else other
            self._swan_rekey(back_active)
            self._quiet(back_active)
            if options.reauth:
                self._reauth_settle(self.obs.reauths[-1])
                self._swan_reauth(back_active, "after the preempt", settle=True)
        for node in (self.peer, self.lan):
            request(node.control, {"op": "stop"})
        obs.traffic_stop_ms = self.clock.now()
        self.settle(0.3)
        obs.peer = request(self.peer.control, {"op": "report"})["report"]
        obs.lan = request(self.lan.control, {"op": "report"})["report"]
        if self.swan is not None:
            # The remote host's log in the peer's shape: [time, spi, seq, stream seq].
            obs.peer["received"] = [[t, 0, 0, seq] for t, seq in obs.peer.get("received", [])]
            self._read_charon_log()
        for index in (0, 1):
            self.status(index)
        self._event("lab", "traffic stopped")
        _ = topo

    # --- the real peer (strongSwan) -----------------------------------------------------------

    def _swan_initiate(self, index: int) -> None:
        """charon initiates IKEv1 to the outside virtual IP; router ``index`` answers."""
        assert self.swan is not None
        try:
            self.swan.initiate(self.child)
        except StrongSwanError as error:
            raise LabError(f"strongSwan could not establish the SA: {error}") from error
        self.obs.negotiations = 1
        self._event("peer", f"charon: IKE SA and CHILD SA {self.child} established")

        def installed() -> bool:
            status = self.status(index)
            return status is not None and any(sa["status"] == "ACTIVE" for sa in status["sas"])

        self.wait(installed, 5, f"{self.obs.hostnames[index]} to install the SA pair")

    def _phase2_events(self, index: int) -> list[dict[str, Any]]:
        status = self.status(index) or {}
        events: list[dict[str, Any]] = status.get("ike", {}).get("events", [])
        return [e for e in events if e.get("kind") == "phase2"]

    def _swan_rekey(self, index: int) -> None:
        """charon rekeys the CHILD SA; router ``index`` (which took over) must answer."""
        assert self.swan is not None
        before = len(self._phase2_events(index))
        at = self.clock.now()
        error = ""
        try:
            self.swan.rekey_child(self.child)
        except StrongSwanError as failure:
            error = str(failure)
        answered: list[bool] = []

        def rekeyed() -> bool:
            done = len(self._phase2_events(index)) > before
            if done:
                answered.append(True)
            return done

        with contextlib.suppress(LabError):
            self.wait(rekeyed, 5, "the CHILD rekey")
        name = self.obs.hostnames[index]
        ok = bool(answered) and not error
        self.obs.rekeys.append({"at_ms": at, "router": name, "ok": ok, "error": error})
        verdict = "answered" if ok else "did NOT answer"
        self._event("peer", f"charon rekeyed CHILD SA {self.child}: {name} {verdict}")

    def _quiet(self, index: int) -> None:
        """A pause in the traffic: charon's DPD fires at the router that took over, and
        that router sends its own R-U-THERE to charon."""
        start = self.clock.now()
        for node in (self.peer, self.lan):
            request(node.control, {"op": "stop"})
        self.settle(self.options.dpd_delay_s * 2.5 + 0.5)
        with contextlib.suppress(ControlError):
            request(self.routers[index].control, {"op": "dpd"})
        self.settle(0.5)
        for node in (self.peer, self.lan):
            request(
                node.control,
                {"op": "start", "rate": self.options.rate_pps, "size": self.options.size},
            )
        self.obs.quiet.append((start, self.clock.now()))
        self._event("lab", "quiet phase (DPD both ways) over; traffic again")

    # --- lifetimes: the routers' own rekey and Deletes (lifetime_s) ---------------------

    def _ike_events_of(self, index: int, kind: str) -> list[dict[str, Any]]:
        status = self.status(index) or {}
        events: list[dict[str, Any]] = status.get("ike", {}).get("events", [])
        return [e for e in events if e.get("kind") == kind]

    def _charon_child(self, router_pair: tuple[int, int]) -> ChildSaStatus | None:
        """charon's CHILD SA of a router's pair (charon receives on the router's outbound
        SPI and sends on its inbound one), in any state, or None."""
        for sa in self._swan_ike_sas():
            for child in sa.children:
                if (child.spi_out, child.spi_in) == router_pair:
                    return child
        return None

    def _lifetime_rekey(self, index: int) -> None:
        """Before the crash: router ``index`` (ACTIVE) replaces charon's pair by itself.

        With ``ike_lifetime_s`` the IKE SA ends first (:meth:`_ike_expiry`). Then, when
        ``REKEY_LEAD_MS`` are left of the pair's lifetime, the router starts Quick Mode
        (after a new Main Mode when it holds no IKE SA); charon answers as responder and
        installs the new CHILD SA; the STANDBY holds the new pair (and the new IKE SA);
        traffic moves to the new pair both ways. The crash follows at once, so the
        takeover must carry on with the pair the killed router negotiated.
        """
        assert self.swan is not None
        assert self.options.lifetime_s is not None
        name = self.obs.hostnames[index]
        first = self._phase2_events(index)[-1]  # charon's pair
        old = (int(first["inbound_spi"]), int(first["outbound_spi"]))
        born = int(first["at_ms"])
        record: dict[str, Any] = {
            "router": name,
            "replaces": list(old),
            "replaced_born_ms": born,
            "due_ms": born + self.options.lifetime_s * 1000 - REKEY_LEAD_MS,
            "expires_ms": born + self.options.lifetime_s * 1000,
            "at_ms": None,
        }
        if self.options.ike_lifetime_s is not None:
            self._ike_expiry(index)
        left_s = (record["due_ms"] - self.clock.now()) / 1000
        self.progress(
            f"waiting {left_s:.0f} s for {name}'s own rekey (lifetime ends in "
            f"{(record['expires_ms'] - self.clock.now()) / 1000:.0f} s)"
        )
        found: list[dict[str, Any]] = []

        def rekeyed() -> bool:
            found[:] = [
                e
                for e in self._phase2_events(index)
                if int(e["at_ms"]) > born and (int(e["inbound_spi"]), int(e["outbound_spi"])) != old
            ]
            return bool(found)

        with contextlib.suppress(LabError):
            self.wait(rekeyed, max(1.0, left_s) + 10, f"{name}'s own rekey")
        if found:
            at = int(found[0]["at_ms"])
            new = (int(found[0]["inbound_spi"]), int(found[0]["outbound_spi"]))
            record |= {
                "at_ms": at,
                "pair": list(new),
                # Main Modes since the replaced pair's birth (the routers' own, for the
                # rekey or to replace their IKE SA).
                "main_modes": sum(
                    1 for e in self._ike_events_of(index, "phase1") if born < int(e["at_ms"]) <= at
                ),
            }
            view: dict[str, Any] = {}

            def adopted() -> bool:
                view.clear()
                view.update(self._rekey_view(index, new))
                return bool(view["charon_installed"] and view["on_standby"])

            with contextlib.suppress(LabError):
                self.wait(adopted, 5, "the new pair on charon and on the standby")
            record |= view
            self.settle(1.0)  # traffic on the new pair
            record |= self._traffic_moved(new, old)
        self.obs.router_rekeys.append(record)
        if record["at_ms"] is None:
            self._event(name, "did NOT rekey before the lifetime's end")
            return
        early = (record["expires_ms"] - record["at_ms"]) / 1000
        self._event(
            name,
            f"rekeyed its SA pair by itself {early:.1f} s before the lifetime's end"
            + f" ({record['main_modes']} Main Mode(s) since the pair's birth)"
            + f"; charon installed it: {record['charon_installed']}, standby holds it: "
            f"{record['on_standby']}, traffic moved: {record['moved']}",
        )

    def _rekey_view(self, index: int, pair: tuple[int, int]) -> dict[str, Any]:
        """charon and the STANDBY (if up) on the pair router ``index`` negotiated."""
        child = self._charon_child(pair)
        active = self.status(index)
        standby = self.status(1 - index)
        active_ike = _ike_cookies(active, "ACTIVE")
        standby_ike = _ike_cookies(standby, "STDBY")
        return {
            "charon_installed": child is not None and child.state == "INSTALLED",
            "on_standby": standby is not None and pair in _sa_pairs(standby, "STDBY"),
            "ike_on_standby": standby is not None
            and bool(active_ike)
            and active_ike <= standby_ike,
        }

    def _traffic_moved(self, new: tuple[int, int], old: tuple[int, int]) -> dict[str, Any]:
        """Packets on charon's new and old CHILD SA over half a second of traffic."""

        def counts(pair: tuple[int, int]) -> tuple[int, int] | None:
            child = self._charon_child(pair)
            return None if child is None else (child.packets_in, child.packets_out)

        before = (counts(new), counts(old))
        self.settle(0.5)
        after = (counts(new), counts(old))
        deltas: list[list[int] | None] = []
        for then, now in zip(before, after, strict=True):
            deltas.append(
                None if then is None or now is None else [now[0] - then[0], now[1] - then[1]]
            )
        new_delta, old_delta = deltas
        moved = bool(
            new_delta and min(new_delta) > 0 and (old_delta is None or max(old_delta) == 0)
        )
        return {"new_packets": new_delta, "old_packets": old_delta, "moved": moved}

    def _ike_expiry(self, index: int) -> None:
        """Router ``index`` (ACTIVE) ends charon's first IKE SA, by its lifetime's end.

        Either at the end, with an ISAKMP Delete (charon's log: ``received DELETE for
        IKE_SA``), or before it, with a new Main Mode after which one side deletes the old
        IKE SA. Either way the CHILD SAs, which IKEv1 does not tie to the IKE SA, must
        stay installed on charon, and traffic must go on (strongSwan 5.9 deletes an IKE
        SA's CHILD SAs with it unless a new IKE SA with the peer adopted them first).
        """
        assert self.swan is not None
        assert self.options.ike_lifetime_s is not None
        name = self.obs.hostnames[index]
        cookies = _ike_cookies(self.status(index), "ACTIVE")
        numbers = [sa.unique_id for sa in self._swan_ike_sas() if _cookies(sa) in cookies]
        born = max(int(e["at_ms"]) for e in self._ike_events_of(index, "phase1"))
        record: dict[str, Any] = {
            "router": name,
            "cookies": sorted(cookies),
            "charon_ike_ids": numbers,
            "expires_ms": born + self.options.ike_lifetime_s * 1000,
            "gone_ms": None,
        }
        left_s = (record["expires_ms"] - self.clock.now()) / 1000
        self.progress(f"waiting {left_s:.0f} s for the end of the IKE SA's lifetime on {name}")

        def gone() -> bool:
            return not cookies & _ike_cookies(self.status(index), "ACTIVE")

        with contextlib.suppress(LabError):
            self.wait(gone, max(1.0, left_s) + 5, "the IKE SA's end")
        if gone():
            record["gone_ms"] = self.clock.now()
        self.settle(1.0)
        log = self.swan.log()
        sas = self._swan_ike_sas()
        installed = [c for sa in sas for c in sa.children if c.state == "INSTALLED"]
        record |= {
            "charon_deletes": [way for n, way in log.ike_deletes if n in numbers],
            "charon_ike_sas_after": len(sas),
            "charon_children_after": len(installed),
            "standby_dropped": not cookies & _ike_cookies(self.status(1 - index), "STDBY"),
        }
        self.obs.ike_expiries.append(record)
        self._event(
            name,
            f"IKE SA's lifetime ended: charon's DELETEs {record['charon_deletes']}, charon holds "
            f"{len(sas)} IKE SA(s), {len(installed)} CHILD SA(s) installed",
        )

    def _lifetime_expiry(self, index: int) -> None:
        """After the takeover: the replaced pair's lifetime ends on router ``index``.

        The router that took it over sends the ESP Delete (its copy's lifetime is the
        killed router's); charon must close its old CHILD SA (log: ``received DELETE for
        ESP CHILD_SA with SPI``, then ``closing CHILD_SA``), while traffic goes on the new
        pair.
        """
        assert self.swan is not None
        if not self.obs.router_rekeys:
            return
        record = self.obs.router_rekeys[-1]
        old = (int(record["replaces"][0]), int(record["replaces"][1]))
        name = self.obs.hostnames[index]
        if record.get("pair") is not None:
            new = (int(record["pair"][0]), int(record["pair"][1]))
            record["after_takeover"] = self._traffic_moved(new, old)
        left_s = (record["expires_ms"] - self.clock.now()) / 1000
        self.progress(f"waiting {max(0.0, left_s):.0f} s for the replaced pair's end on {name}")

        def ended() -> bool:
            status = self.status(index)
            return status is not None and old not in _sa_pairs(status, "ACTIVE")

        with contextlib.suppress(LabError):
            self.wait(ended, max(1.0, left_s) + 5, "the replaced pair's end")
        ended_at = self.clock.now() if ended() else None
        self.settle(1.0)
        log = self.swan.log()
        child = self._charon_child(old)
        expiry = {
            "router": name,
            "ended_ms": ended_at,
            # The Delete names the sender's inbound SPI; charon closes by its own inbound.
            "charon_received_delete": (old[0], "received") in log.child_deletes,
            "charon_closed": old[1] in log.closed_child_spis,
            "charon_not_found": log.child_deletes_ignored,
            "charon_still_holds": child is not None,
        }
        record["expiry"] = expiry
        self._event(
            name,
            f"replaced SA pair's lifetime ended: charon got the DELETE "
            f"{expiry['charon_received_delete']}, closed its CHILD SA {expiry['charon_closed']}",
        )

    # --- re-authentication (issue 7) ----------------------------------------------------

    def _swan_ike_sas(self) -> tuple[IkeSaStatus, ...]:
        assert self.swan is not None
        try:
            return self.swan.list_sas()
        except StrongSwanError:
            return ()

    def _reauth_view(self, old: set[str]) -> dict[str, Any]:
        """charon's IKE SAs and both routers' copies, against the IKE SAs before a reauth.

        ``adopted``: charon has established one new IKE SA carrying every CHILD SA, the
        ACTIVE router holds it, and the STANDBY (if one is up) holds its copy.
        ``settled``: moreover charon holds no other IKE SA, and neither router holds
        anything but the new IKE SA (the old one retired, its DELETE understood), and
        both routers hold the SA pairs of charon's CHILD SAs.
        """
        sas = self._swan_ike_sas()
        new = [sa for sa in sas if sa.state == "ESTABLISHED" and _cookies(sa) not in old]
        installed = [c for sa in new for c in sa.children if c.state == "INSTALLED"]
        # charon receives on spi_in, which is the router's outbound SPI.
        charon_pairs = {(c.spi_out, c.spi_in) for c in installed}
        new_cookies = _cookies(new[0]) if len(new) == 1 else ""
        statuses = [self.status(0), self.status(1)]
        roles = [None if s is None else s["role"] for s in statuses]
        active = roles.index("ACTIVE") if "ACTIVE" in roles else None
        standby = roles.index("STANDBY") if "STANDBY" in roles else None
        active_ike = _ike_cookies(statuses[active], "ACTIVE") if active is not None else set()
        standby_ike = _ike_cookies(statuses[standby], "STDBY") if standby is not None else set()
        active_pairs = _sa_pairs(statuses[active], "ACTIVE") if active is not None else set()
        standby_pairs = _sa_pairs(statuses[standby], "STDBY") if standby is not None else set()
        on_standby = standby is None or (bool(charon_pairs) and charon_pairs <= standby_pairs)
        view: dict[str, Any] = {
            "charon_ike_sas": len(sas),
            "charon_ike_states": sorted(sa.state for sa in sas),
            "charon_children": len(installed),
            "new_ike_id": new[0].unique_id if len(new) == 1 else None,
            "new_cookies": new_cookies,
            "active": self.obs.hostnames[active] if active is not None else None,
            "active_ike_sas": sorted(active_ike),
            "standby": self.obs.hostnames[standby] if standby is not None else None,
            "standby_ike_sas": sorted(standby_ike),
            "pairs_on_active": bool(charon_pairs) and charon_pairs <= active_pairs,
            "pairs_on_standby": on_standby,
        }
        view["adopted"] = (
            bool(new_cookies)
            and len(installed) == len(self.children)
            and new_cookies in active_ike
            and (standby is None or new_cookies in standby_ike)
        )
        view["old_retired"] = bool(new_cookies) and not (active_ike | standby_ike) & old
        view["settled"] = (
            view["adopted"]
            and len(sas) == 1
            and active_ike == {new_cookies}
            and (standby is None or standby_ike == {new_cookies})
            and view["pairs_on_active"]
            and view["pairs_on_standby"]
        )
        return view

    def _swan_reauth(self, index: int, phase: str, *, settle: bool) -> None:
        """charon re-authenticates its IKE SA with router ``index`` (ACTIVE), traffic running.

        Wait until the new IKE SA is adopted (see :meth:`_reauth_view`) and carry
        traffic for a second. With ``settle`` wait on until it has settled (the routers
        retire the old IKE SA after their grace time); otherwise the story goes on (a
        failover within the grace time) and :meth:`_reauth_settle` judges it later.
        """
        assert self.swan is not None
        before = self._swan_ike_sas()
        old = {_cookies(sa) for sa in before}
        for router, ha_status in ((index, "ACTIVE"), (1 - index, "STDBY")):
            old |= _ike_cookies(self.status(router), ha_status)
        established = [sa for sa in before if sa.state == "ESTABLISHED"]
        target = established[-1].unique_id if established else None
        name = self.obs.hostnames[index]
        self.progress(f"charon re-authenticates its IKE SA with {name} ({phase})")
        at = self.clock.now()
        error = ""
        try:
            self.swan.reauthenticate(self.connection, ike_id=target)
        except StrongSwanError as failure:
            error = str(failure).splitlines()[0]
        view: dict[str, Any] = {}

        def adopted() -> bool:
            view.clear()
            view.update(self._reauth_view(old))
            return bool(view["adopted"])

        with contextlib.suppress(LabError):
            self.wait(adopted, 5, "charon's new IKE SA on the routers")
        record: dict[str, Any] = {
            "phase": phase,
            "router": name,
            "at_ms": at,
            "error": error,
            "reauthenticated_ike_id": target,
            "old_cookies": sorted(old),
            "adopted_ms": self.clock.now() if view.get("adopted") else None,
            "adopted_standby": view.get("standby"),
        } | {f"adopted_{key}": view.get(key) for key in ("charon_children", "new_cookies")}
        record["new_ike_id"] = view.get("new_ike_id")
        self.obs.reauths.append(record)
        state = "on both routers" if view.get("standby") else f"on {name}"
        state = state if view.get("adopted") else "NOT adopted by the routers"
        self._event("peer", f"charon re-authenticated its IKE SA ({phase}): new IKE SA {state}")
        self.settle(1.0)  # traffic on the CHILD SAs under the new IKE SA
        if settle:
            self._reauth_settle(record)
            self.settle(1.0)  # traffic after everything settled

    def _reauth_settle(self, record: dict[str, Any]) -> None:
        """Wait (up to ``reauth_timeout_s`` from the reauth) until it has settled; record."""
        if "settled" in record:
            return
        old = set(record["old_cookies"])
        view: dict[str, Any] = {}

        def settled() -> bool:
            view.clear()
            view.update(self._reauth_view(old))
            return bool(view["settled"])

        left = record["at_ms"] / 1000 + self.options.reauth_timeout_s - self.clock.now() / 1000
        with contextlib.suppress(LabError):
            self.wait(settled, max(0.5, left), "the old IKE SA to be retired")
        record |= view
        record["settled_ms"] = self.clock.now() if view["settled"] else None
        verdict = "old IKE SA retired everywhere" if view["settled"] else "did NOT settle"
        held = [f"charon {view['charon_ike_sas']}"] + [
            f"{view[role]} {len(view[f'{role}_ike_sas'])}"
            for role in ("active", "standby")
            if view[role] is not None
        ]
        self._event(
            "peer", f"re-authentication ({record['phase']}): {verdict}; IKE SAs {', '.join(held)}"
        )

    def _judge_reauths(self, log: CharonLog) -> dict[str, Any]:
        """Each re-authentication's verdict, and charon's counts without what they caused.

        Expected of one re-authentication, and only this: charon logs ``reauthenticating
        IKE_SA [old]``, one ``IKE_SA [new] established``, and one DELETE of the old IKE SA
        (the routers' after their grace time, or charon's own); the CHILD SAs move to the
        new IKE SA without a Quick Mode or a DELETE. Traffic flows both ways in the second
        after the new IKE SA is adopted and in the second after everything settled.
        """
        peer_times = sorted(int(row[0]) for row in self.obs.peer.get("received", []))
        lan_times = sorted(int(row[0]) for row in self.obs.lan.get("received", []))

        def flowing(start: int | None) -> bool:
            if start is None:
                return False
            return all(
                any(start < t <= start + 1000 for t in times) for times in (peer_times, lan_times)
            )

        expected = dict.fromkeys(
            ("reauth_started", "ike_sa_established", "ike_deletes_sent", "ike_deletes_received"),
            0,
        )
        for record in self.obs.reauths:
            old_id, new_id = record["reauthenticated_ike_id"], record.get("new_ike_id")
            started = sum(1 for n in log.reauthenticated_ids if n == old_id)
            established = sum(1 for n in log.ike_sa_ids if n == new_id)
            deletes = [(n, way) for n, way in log.ike_deletes if n == old_id]
            record["charon"] = {
                "reauthenticated": started,
                "new_ike_sa_established": established,
                "old_ike_sa_deletes": [way for _, way in deletes],
            }
            record["traffic_after_adopted"] = flowing(record.get("adopted_ms"))
            record["traffic_after_settled"] = flowing(record.get("settled_ms"))
            record["ok"] = bool(
                not record["error"]
                and record.get("settled")
                and started == 1
                and established == 1
                and len(deletes) == 1
                and record["traffic_after_adopted"]
                and record["traffic_after_settled"]
            )
            expected["reauth_started"] += min(started, 1)
            expected["ike_sa_established"] += min(established, 1)
            if deletes:
                expected[f"ike_deletes_{deletes[0][1]}"] += 1
        return expected

    def _judge_lifetimes(self, log: CharonLog) -> dict[str, int]:
        """Each of the routers' own rekeys and IKE SA ends judged; what they rightly caused
        in charon's log.

        A rekey is good when it started at the lead time and before the pair's end, charon
        answered it as Quick Mode responder and installed the CHILD SA, the STANDBY held
        the pair (and its IKE SA, after a Main Mode), traffic moved to it both ways and,
        after the takeover, went on on it. Its Delete is good when charon received it at
        the replaced pair's end and closed that CHILD SA. An IKE SA's end is good when
        charon saw a DELETE for it (either way) and still had every CHILD SA installed.
        Rightly caused: the Main and Quick Modes the routers started, the DELETEs of
        replaced CHILD SAs and (``ike_lifetime_s``) of replaced or ended IKE SAs, and
        charon adopting its CHILD SAs into an IKE SA the routers started ("detected reauth
        of existing IKE_SA").
        """
        if self.options.lifetime_s is None:
            return {}
        for record in self.obs.router_rekeys:
            pair = record.get("pair")
            answered = pair is not None and (pair[1], pair[0]) in log.child_responder_spis
            after = record.get("after_takeover", {})
            record["charon_answered"] = answered
            record["rekey_ok"] = bool(
                record["at_ms"] is not None
                and record["due_ms"] - 1000 <= record["at_ms"] < record["expires_ms"]
                and answered
                and record.get("charon_installed")
                and record.get("on_standby")
                and (record.get("ike_on_standby") or not record.get("main_modes"))
                and record.get("moved")
                and after.get("moved")
            )
            expiry = record.get("expiry", {})
            record["delete_ok"] = bool(
                expiry.get("charon_received_delete")
                and expiry.get("charon_closed")
                and not expiry.get("charon_still_holds")
            )
        for ike in self.obs.ike_expiries:
            ike["ok"] = bool(
                ike["gone_ms"] is not None
                and ike["charon_deletes"]
                and ike["charon_children_after"] == len(self.children)
            )
        replaced_children = {out for _, out in log.child_spis[:-1]}
        expected = {
            "ike_sa_established": log.main_modes_answered,
            "child_sa_established": len(log.child_responder_spis),
            "child_deletes_received": sum(
                1
                for spi, way in log.child_deletes
                if way == "received" and spi in replaced_children
            ),
        }
        if self.options.ike_lifetime_s is not None:
            # The routers' Main Modes that replace an IKE SA carrying CHILD SAs.
            expected["reauth_detected"] = log.reauth_detected
        if self.options.ike_lifetime_s is not None and log.ike_sa_ids:
            newest = max(log.ike_sa_ids)
            for way in ("sent", "received"):
                expected[f"ike_deletes_{way}"] = sum(
                    1 for n, w in log.ike_deletes if w == way and n < newest
                )
        return expected

    def _transform_set(self) -> str:
        """The transform set charon's proposals come from (the entry's first)."""
        outside = self.topo.configs[0].outside_interface()
        entries = self.topo.configs[0].crypto_map(outside.crypto_map or "") if outside else ()
        return entries[0].transform_sets[0] if entries else ""

    def _read_charon_log(self) -> None:
        """What charon logged, counted, before it stops (its shutdown sends DELETEs)."""
        assert self.swan is not None
        log = parse_charon_log(self.swan.log_text())
        expected = dict.fromkeys(("child_sa_established", "child_deletes_received"), 0)
        for judged in (self._judge_reauths(log), self._judge_lifetimes(log)):
            for key, count in judged.items():
                expected[key] = expected.get(key, 0) + count
        transforms = list(self.topo.configs[0].transform_sets[self._transform_set()].transforms)
        self.obs.esp_keys += [
            {
                "src": str(keys.src),
                "dst": str(keys.dst),
                "spi": keys.spi,
                "transforms": transforms,
                "encryption_key": keys.encryption_key.hex(),
                "integrity_key": keys.integrity_key.hex(),
            }
            for keys in log.keys
        ]
        # The counts leave out what the re-authentications the lab asked for caused (each
        # judged on its own in "reauths"), so "no new SA, no DELETE" keeps its meaning.
        # And what the routers' own lifetimes caused (judged in "router_rekeys" and
        # "ike_expiries").
        self.obs.strongswan = {
            "ike_sa_established": log.ike_sa_established - expected["ike_sa_established"],
            "child_sa_established": log.child_sa_established - expected["child_sa_established"],
            "child_sa_rekeyed": log.child_sa_rekeyed,
            "ike_delete_sent": log.ike_delete_sent - expected["ike_deletes_sent"],
            "ike_delete_received": log.ike_delete_received - expected["ike_deletes_received"],
            "child_delete_sent": log.child_delete_sent,
            "child_delete_received": log.child_delete_received - expected["child_deletes_received"],
            "reauth_started": log.reauth_started - expected["reauth_started"],
            "reauth_detected": log.reauth_detected - expected.get("reauth_detected", 0),
            "dpd_requests_sent": log.dpd_requests_sent,
            "dpd_acks_received": log.dpd_acks_received,
            "dpd_requests_received": log.dpd_requests_received,
            "dpd_acks_sent": log.dpd_acks_sent,
            "dpd_timeouts": log.dpd_timeouts,
            "retransmit_give_ups": log.retransmit_give_ups,
            "replay_failures": [{"spi": f.spi, "seq": f.seq} for f in log.replay_failures],
            "peer_reauths": log.reauth_started,
            "reauths_asked": len(self.obs.reauths),
            "reauth_ok": all(r["ok"] for r in self.obs.reauths) if self.obs.reauths else None,
            "reauths": self.obs.reauths,
        }
        if self.options.lifetime_s is not None:
            rekeys, expiries = self.obs.router_rekeys, self.obs.ike_expiries
            self.obs.strongswan |= {
                "router_rekeys": len(log.child_responder_spis),
                "router_main_modes": log.main_modes_answered,
                "lifetimes_received": [list(pair) for pair in log.lifetimes_received],
                "child_rekeys_detected": log.child_rekeys_detected,
                "child_deletes_ignored": log.child_deletes_ignored,
                "router_rekey_ok": bool(rekeys) and all(r["rekey_ok"] for r in rekeys),
                "lifetime_delete_ok": bool(rekeys) and all(r["delete_ok"] for r in rekeys),
                "ike_expiry_ok": (
                    bool(expiries) and all(r["ok"] for r in expiries)
                    if self.options.ike_lifetime_s is not None
                    else None
                ),
            }
            self.progress(
                f"routers' own rekeys: {len(log.child_responder_spis)} Quick Modes answered by "
                f"charon (router_rekey_ok {self.obs.strongswan['router_rekey_ok']}, "
                f"lifetime_delete_ok {self.obs.strongswan['lifetime_delete_ok']}, "
                f"ike_expiry_ok {self.obs.strongswan['ike_expiry_ok']})"
            )
        if self.obs.reauths:
            good = sum(1 for r in self.obs.reauths if r["ok"])
            self.progress(
                f"re-authentications: {len(self.obs.reauths)} asked, {log.reauth_started} "
                f"started by charon, {good} settled cleanly (reauth_ok "
                f"{self.obs.strongswan['reauth_ok']})"
            )

    def _wins(self, index: int) -> bool:
        """Whether router ``index`` wins the outside election (priority, then address)."""
        mine = self.topo.configs[index].outside_interface()
        theirs = self.topo.configs[1 - index].outside_interface()
        assert mine is not None
        assert theirs is not None
        a, b = mine.standby_groups[0], theirs.standby_groups[0]
        if not a.preempt:
            return False
        if a.priority != b.priority:
            return a.priority > b.priority
        assert mine.address is not None
        assert theirs.address is not None
        return mine.address.ip > theirs.address.ip

    def finish(self) -> None:
        """Fold the routers' own event logs into the timeline, sorted."""
        for name, status in self.obs.statuses.items():
            for at_ms, text in status.get("events", []):
                self.obs.timeline.append((int(at_ms), name.split("#")[0], str(text)))
        self.obs.timeline.sort(key=lambda event: event[0])


def _ike_cookies(status: dict[str, Any] | None, ha_status: str) -> set[str]:
    """Cookies (hex, CKY-I then CKY-R) of a router's IKE SAs with that HA status."""
    return {
        str(sa["cookies"])
        for sa in (status or {}).get("ike", {}).get("sas", [])
        if sa.get("status") == ha_status
    }


def _sa_pairs(status: dict[str, Any] | None, ha_status: str) -> set[tuple[int, int]]:
    """(inbound SPI, outbound SPI) of a router's SA pairs with that HA status."""
    return {
        (int(sa["inbound_spi"]), int(sa["outbound_spi"]))
        for sa in (status or {}).get("sas", [])
        if sa.get("status") == ha_status
    }


def _cookies(sa: IkeSaStatus) -> str:
    """An IKE SA's cookies as the routers' status writes them (CKY-I then CKY-R, hex)."""
    return (sa.initiator_spi + sa.responder_spi).lower()


def _list_namespaces() -> list[str]:
    result = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


def stale_namespaces() -> list[str]:
    """Namespaces a lab run left behind (its process is gone)."""
    stale = []
    for name in _list_namespaces():
        parts = name.split("-")
        if len(parts) >= 4 and parts[0] == "vpnha" and parts[1].isdigit():
            pid = int(parts[1])
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                stale.append(name)
            except PermissionError:
                pass
    return stale


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt (as Ctrl-C does), so ``finally`` cleans up."""

    def handler(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_lab(options: LabOptions, progress: Callable[[str], None] | None = None) -> LabObservation:
    """Run the lab story once; everything started is stopped whatever happens."""
    say = progress or (lambda _text: None)
    if os.geteuid() == 0 and shutil.which("ip"):
        for name in stale_namespaces():
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
    with _terminate_as_interrupt():
        lab = _Lab(options, say)
        try:
            lab.story()
            lab.read_wire_logs()
        finally:
            lab.cleanup()
        lab.finish()
        return lab.obs
