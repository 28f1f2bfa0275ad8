"""The asyncio driver of one live router: real sockets around the sans-IO :class:`Router`.

Theory of operation
-------------------
:class:`LiveRouter` owns one :class:`~vpnha.impl.router.Router` and does three
things, the aioquic way: **feed** every input (a datagram, TCP octets, a TUN read,
a timer, a control request) with ``now`` read from :class:`LiveClock`, **flush**
every output the router hands back, and **re-arm one** ``loop.call_at`` from
``get_timer()``. It holds no protocol state of its own: which group is Active,
which SA to use, when to send a hello — all of that is the router's.

Sockets (addresses translated by the :class:`LivePlan`, the router only ever sees
the document's):

- **HSRP** (:class:`SendHsrp`): netns mode, one UDP socket per interface bound to
  224.0.0.2:1985 and to the device, joined to the group, TTL 1, no loopback of our
  own hellos; loopback mode, one socket per interface address, unicast to every
  other member of the segment.
- **SSP** (:class:`SspOpen` / :class:`SspWrite` / :class:`SspShut`): TCP to the
  configured ``remote`` and ``port``. The client side connects when the router asks
  (the router retries); the server side listens on our SSP address and lets the
  router admit or refuse each connection (``ssp_accept``). Octets from a connection
  the router no longer uses are ignored.
- **ESP in UDP 4500** (:class:`SendUdp4500`): from the outside virtual IP's port
  4500 to the peer's. Netns mode binds the virtual IP with ``IP_FREEBIND`` at start
  (packets reach it only while the address is ours); loopback mode binds it while
  the outside group is Active.
- **LAN side** (:class:`SendLan`, ``receive_lan``): netns mode, a TUN device with a
  route to the protected remote network through it (the kernel forwards the LAN's
  packets into it; what the router writes the kernel forwards to the LAN);
  loopback mode, one IPv4 packet per UDP datagram on the plan's ``lan_port``.
- **Virtual IPs**: a group entering Active claims its virtual IP, a group leaving
  Active releases it. Netns: a macvlan device with the group's virtual MAC
  (``vmacN``, N the group) is made on the interface and the virtual IP added to it,
  then a gratuitous ARP from the virtual MAC, repeated twice; while Active the
  group's hellos leave by that device too, so their source MAC is the virtual MAC
  (RFC 2281 §6.1) and a bridge learns where the virtual MAC now is. Where macvlan
  cannot be made, the virtual IP goes on the interface itself. Loopback: bind the
  address. At start (a killed predecessor may have left them) and at exit both are
  released.

The data path is batched (:mod:`.batch`): the ESP socket and the loopback LAN
sockets are read up to 64 datagrams per ``recvmmsg`` and written with ``sendmmsg``
(equal-sized runs as UDP_SEGMENT trains); one wake-up feeds the router at most
``_BATCH`` datagrams, each system call's worth in one batch call
(``receive_udp4500_batch``, ``receive_lan_batch``: the same answers as one call per
datagram), then flushes its outputs once, in order, each run of ESP to one peer or of
packets to one LAN host in one call. So a flood
cannot hold the loop for more than a few milliseconds, and timers, HSRP and SSP
keep their turn. ``VPNHA_BATCH_SYSCALLS=0`` in the environment falls back to one
``recvfrom``/``sendto`` per datagram (for comparison; the answers are the same);
``VPNHA_UDP_GSO=0`` keeps ``sendmmsg`` but sends no UDP_SEGMENT trains (a capture
on the sending host, e.g. ``vpnha lab --pcap``, then shows one frame per datagram:
a tap on a device that offloads UDP segmentation sees the whole train as one frame).

What the wire did is counted: ``drops`` (a send that failed, a datagram with no
owner), and the (SPI, sequence number) of every ESP packet sent and accepted, as
runs, kept in memory (``status``) and appended to ``wire_log`` every 100 ms so a
killed process leaves its record behind. Control requests (``ControlServer``):
``show``, ``status``, ``install_sa``, ``fault`` (cut or heal SSP: the path stops
carrying octets, TCP keeps them, as a cut cable does), ``interface``, ``stop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import socket
import struct
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface
from typing import Any, Final, TextIO

from vpnha.impl.config import RouterConfig
from vpnha.impl.entropy import Entropy
from vpnha.impl.hsrp import HsrpState, virtual_mac
from vpnha.impl.hsrp.core import StateChanged
from vpnha.impl.ike.core import (
    DpdAnswered,
    IpsecSaNegotiated,
    NegotiationFailed,
    PeerDeleted,
    Phase1Established,
)
from vpnha.impl.router import (
    GroupEvent,
    IkeReport,
    Output,
    RequestSa,
    RoleChanged,
    Router,
    SendGratuitousArp,
    SendHsrp,
    SendIke,
    SendLan,
    SendOutsideClear,
    SendUdp4500,
    Side,
    SspEvent,
    SspOpen,
    SspShut,
    SspWrite,
    Takeover,
)
from vpnha.impl.router_show import show
from vpnha.impl.sadb import IpsecSaPair
from vpnha.impl.ssp.core import Closed, Established

from . import netif
from .batch import BatchReceiver, BatchSender
from .clock import LiveClock
from .control import ControlServer
from .plan import HSRP_PORT, NATT_PORT, LivePlan
from .standin_ike import new_sa_from_json, protected_network

__all__ = ["LiveRouter", "SeqRuns", "StartupError"]

HSRP_GROUP: Final = "224.0.0.2"
_IP_FREEBIND: Final = 15
_SO_RCVBUFFORCE: Final = 33
_SO_SNDBUFFORCE: Final = 32
_SOCKET_BUFFER: Final = 4 << 20
_BATCH: Final = 256
"""Datagrams read per wake-up before the outputs are flushed (bounds a wake-up's time:
a few milliseconds, so timers, HSRP and SSP stay on time under a flood)."""
_SLOTS: Final = 64
"""Datagrams per batch system call."""
_SOURCES_REMEMBERED: Final = 1024
_WIRE_LOG_PERIOD_S: Final = 0.1
_GARP_REPEATS_S: Final = (0.0, 0.2, 1.0)
_VIP_BIND_RETRY_S: Final = 0.01
_CONNECT_TIMEOUT_S: Final = 2.0
_EVENT_LOG: Final = 400
_UNPACK_CACHE: Final = 1024
_ESP_HEAD: Final = struct.Struct("!II")
_IKE_PORT: Final = 500


class StartupError(RuntimeError):
    """The router cannot start here (names the missing interface, address or device)."""


class SeqRuns:
    """(SPI, sequence number) events as runs of consecutive numbers per SPI.

    ``runs[i] = [spi, first, last, at_ms]``; a number that continues its SPI's latest run
    extends it. ``dirty`` holds the runs changed since :meth:`take_dirty`.
    """

    __slots__ = ("_open", "_unpack", "count", "dirty", "runs")

    def __init__(self) -> None:
        self.runs: list[list[int]] = []
        self._unpack: dict[int, Callable[[bytes], tuple[int, ...]]] = {}
        self._open: dict[int, int] = {}
        self.dirty: set[int] = set()
        self.count = 0
        """Events recorded."""

    def add(self, spi: int, seq: int, now: int) -> None:
        """Record one (SPI, seq)."""
        self.count += 1
        index = self._open.get(spi)
        if index is not None:
            run = self.runs[index]
            if run[2] + 1 == seq:
                run[2] = seq
                self.dirty.add(index)
                return
        index = len(self.runs)
        self._open[spi] = index
        self.runs.append([spi, seq, seq, now])
        self.dirty.add(index)

    def add_many(self, spis: Sequence[int], seqs: Sequence[int], now: int) -> None:
        """Record (``spis[i]``, ``seqs[i]``) for every i, in order: as many :meth:`add`
        calls, in one step when they continue one run (the data path's usual batch)."""
        count = len(seqs)
        if not count:
            return
        spi = spis[0]
        first = seqs[0]
        last = seqs[-1]
        if (
            last - first != count - 1
            or spis.count(spi) != count
            or list(seqs) != list(range(first, last + 1))
        ):
            for one_spi, seq in zip(spis, seqs, strict=True):
                self.add(one_spi, seq, now)
            return
        self.count += count
        index = self._open.get(spi)
        if index is not None:
            run = self.runs[index]
            if run[2] + 1 == first:
                run[2] = last
                self.dirty.add(index)
                return
        index = len(self.runs)
        self._open[spi] = index
        self.runs.append([spi, first, last, now])
        self.dirty.add(index)

    def add_esp(self, packets: Sequence[bytes], now: int) -> None:
        """Record the (SPI, sequence number) that leads each ESP packet (RFC 4303 §2);
        every packet is at least the 8 octets of that header."""
        count = len(packets)
        if not count:
            return
        unpack = self._unpack.get(count)
        if unpack is None:
            unpack = struct.Struct("!" + "II" * count).unpack
            if len(self._unpack) < _UNPACK_CACHE:
                self._unpack[count] = unpack
        heads = b"".join([packet[:8] for packet in packets])
        if len(heads) != 8 * count:  # a packet too short to be ESP: never logged, one by one
            for packet in packets:
                if len(packet) >= 8:
                    spi, seq = _ESP_HEAD.unpack_from(packet)
                    self.add(spi, seq, now)
            return
        words = unpack(heads)
        self.add_many(words[0::2], words[1::2], now)

    def take_dirty(self) -> list[tuple[int, list[int]]]:
        """The runs changed since the last call, with their indices."""
        out = [(i, self.runs[i]) for i in sorted(self.dirty)]
        self.dirty.clear()
        return out


def _vmac_name(group: int) -> str:
    """The macvlan device that carries group ``group``'s virtual MAC and virtual IP."""
    return f"vmac{group}"


@dataclass(slots=True)
class _Side:
    """One interface of the router as the driver sees it."""

    side: Side
    address: IPv4Address
    ifname: str = ""
    prefix: IPv4Interface | None = None
    mac: bytes = b""
    hsrp: socket.socket | None = None
    hsrp_targets: tuple[tuple[str, int], ...] = ()
    vmac: str = ""
    """Netns, while the group is Active: the macvlan device holding the virtual IP
    with the virtual MAC ("" when the virtual IP is on the interface itself)."""
    vmac_hsrp: socket.socket | None = None
    """The socket the Active group's hellos leave by (through ``vmac``)."""


class _BatchIo:
    """The batch receiver and sender of one UDP socket (their buffers are reused)."""

    __slots__ = ("receiver", "sender")

    def __init__(self, sock: socket.socket, *, batched: bool, segment: bool) -> None:
        self.receiver = BatchReceiver(sock, slots=_SLOTS, batched=batched)
        self.sender = BatchSender(sock, slots=_SLOTS, batched=batched, segment=segment)

    def close(self) -> None:
        self.receiver.close()
        self.sender.close()


class _SspStream(asyncio.Protocol):
    """One SSP TCP connection; octets go to the router only while it is the current one."""

    def __init__(self, owner: LiveRouter, *, accepted: bool) -> None:
        self._owner = owner
        self._accepted = accepted
        self.transport: asyncio.Transport | None = None
        self.connection = 0
        """The router's connection id (0 until attached)."""
        self.pending: list[bytes] = []
        self.held: list[bytes] = []
        """Octets written while the SSP path is cut (TCP keeps them)."""
        self.ended = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self._accepted:
            self._owner.ssp_incoming(self)

    def data_received(self, data: bytes) -> None:
        if self.connection == 0:
            self.pending.append(data)
        else:
            self._owner.ssp_octets(self, data)

    def eof_received(self) -> bool | None:
        if not self.ended:
            self.ended = True
            self._owner.ssp_octets(self, b"")
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ended:
            self.ended = True
            self._owner.ssp_broken(self, exc)

    def write(self, data: bytes, *, cut: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if cut:
            self.held.append(data)
        else:
            self.transport.write(data)


class LiveRouter:
    """One router on real sockets (see the module docstring)."""

    def __init__(
        self,
        config: RouterConfig,
        *,
        plan: LivePlan,
        entropy: Entropy,
        clock: LiveClock | None = None,
        control_path: str | None = None,
        wire_log: str | None = None,
        log: TextIO | None = None,
        negotiate: bool = False,
        batch_syscalls: bool | None = None,
    ) -> None:
        """``batch_syscalls``: read and send UDP datagrams many per system call
        (:mod:`.batch`); None: unless the environment sets ``VPNHA_BATCH_SYSCALLS=0``."""
        self._config = config
        self._plan = plan
        self._clock = clock or LiveClock()
        self._log_stream = log if log is not None else sys.stderr
        self._control = ControlServer(control_path, self._on_control) if control_path else None
        self._wire_log_path = wire_log
        self._wire_log: TextIO | None = None
        self.router = Router(config, entropy=entropy, now=self._clock.now(), negotiate=negotiate)
        self._sides = {
            side: _Side(side=side, address=self.router.core.group(side).config.address)
            for side in Side
        }
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._armed: int | None = None
        self._stop = asyncio.Event()
        self._esp: socket.socket | None = None
        self._ike_sock: socket.socket | None = None
        self.ike_events: list[dict[str, Any]] = []
        """What the IKE engine reported (last few hundred), for the lab's figures."""
        self._lan_rx: socket.socket | None = None
        self._lan_tx: socket.socket | None = None
        self._tun: int | None = None
        self._vip_retry: dict[Side, asyncio.TimerHandle] = {}
        self._claimed: set[Side] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._ssp_server: asyncio.AbstractServer | None = None
        self._streams: dict[int, _SspStream] = {}
        self._ssp_cut = False
        self._wire: dict[IPv4Address, str] = {}
        self._sources: dict[int, IPv4Address] = {}
        """Socket address (as an integer) -> document address (ESP sources seen)."""
        self._lan_hosts: dict[bytes, str] = {}
        """Packed document address -> socket address text (loopback LAN destinations)."""
        if batch_syscalls is None:
            batch_syscalls = os.environ.get("VPNHA_BATCH_SYSCALLS", "1") != "0"
        self._batch_syscalls = batch_syscalls
        self._udp_gso = os.environ.get("VPNHA_UDP_GSO", "1") != "0"
        self._batch_io: dict[socket.socket, _BatchIo] = {}
        self.tx = SeqRuns()
        """ESP packets sent."""
        self.rx = SeqRuns()
        """ESP packets accepted and delivered to the LAN."""
        self.drops: dict[str, int] = {}
        """Driver-level drops by reason."""
        self.sa_requests: list[int] = []
        """When the router asked IKE for an SA (RequestSa), ms (first 1000)."""
        self.sa_request_count = 0
        self.events: list[tuple[int, str]] = []
        """(ms, text): what happened, for the lab's timeline (last few hundred)."""
        self.takeovers: list[dict[str, Any]] = []
        self.roles: list[dict[str, Any]] = []
        self.started_ms = self._clock.now()

    # --- life cycle --------------------------------------------------------------------

    async def run(self) -> None:
        """Open everything, run until ``stop``, then release the virtual IPs and close."""
        self._loop = asyncio.get_running_loop()
        try:
            self._open()
            if self._control is not None:
                await self._control.start()
            if not self.router.ssp_is_client:
                await self._listen_ssp()
            if self._wire_log_path:
                self._wire_log = open(self._wire_log_path, "a", buffering=1)  # noqa: SIM115
                self._loop.call_later(_WIRE_LOG_PERIOD_S, self._flush_wire_log)
            self._note(f"up ({self._plan.mode}), pid {os.getpid()}")
            self._pump()
            await self._stop.wait()
        finally:
            await self._close()

    def stop(self) -> None:
        """Ask :meth:`run` to finish."""
        self._stop.set()

    def _open(self) -> None:
        loop = self._require_loop()
        for state in self._sides.values():
            if self._plan.loopback:
                state.hsrp = self._hsrp_loopback(state)
            else:
                self._hsrp_netns(state)
            loop.add_reader(state.hsrp.fileno(), self._on_hsrp, state)  # type: ignore[union-attr]
        if self._plan.loopback:
            self._lan_tx = self._udp((self._wire_of(self._sides[Side.INSIDE].address), 0))
        else:
            for side in Side:
                self._release(side)
            vip = self.router.outside_virtual_ip()
            if vip is not None:
                self._esp = self._udp((str(vip), NATT_PORT), freebind=True)
                loop.add_reader(self._esp.fileno(), self._on_esp)
                self._ike_sock = self._udp((str(vip), _IKE_PORT), freebind=True)
                loop.add_reader(self._ike_sock.fileno(), self._on_ike)
            self._open_tun()

    async def _close(self) -> None:
        loop = self._require_loop()
        if self._timer is not None:
            self._timer.cancel()
        for side in Side:
            self._release(side)
        for handle in self._vip_retry.values():
            handle.cancel()
        for state in self._sides.values():
            if state.hsrp is not None:
                loop.remove_reader(state.hsrp.fileno())
                state.hsrp.close()
        if self._esp is not None:
            loop.remove_reader(self._esp.fileno())
            self._esp.close()
        if self._ike_sock is not None:
            loop.remove_reader(self._ike_sock.fileno())
            self._ike_sock.close()
        if self._lan_tx is not None:
            self._lan_tx.close()
        for sock in list(self._batch_io):
            self._forget_batch(sock)
        if self._tun is not None:
            loop.remove_reader(self._tun)
            os.close(self._tun)
        for stream in self._streams.values():
            if stream.transport is not None:
                stream.transport.abort()
        if self._ssp_server is not None:
            self._ssp_server.close()
        self._flush_wire_log(again=False)
        if self._wire_log is not None:
            self._wire_log.close()
        if self._control is not None:
            await self._control.close()
        self._note("down")

    def _require_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            msg = "LiveRouter.run() has not started"
            raise RuntimeError(msg)
        return self._loop

    # --- sockets -----------------------------------------------------------------------

    def _wire_of(self, address: IPv4Address) -> str:
        text = self._wire.get(address)
        if text is None:
            text = str(self._plan.to_wire(address))
            self._wire[address] = text
        return text

    @staticmethod
    def _udp(bind: tuple[str, int], *, freebind: bool = False) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            if freebind:
                sock.setsockopt(socket.IPPROTO_IP, _IP_FREEBIND, 1)
            for option, fallback in (
                (_SO_RCVBUFFORCE, socket.SO_RCVBUF),
                (_SO_SNDBUFFORCE, socket.SO_SNDBUF),
            ):
                try:
                    sock.setsockopt(socket.SOL_SOCKET, option, _SOCKET_BUFFER)
                except OSError:
                    sock.setsockopt(socket.SOL_SOCKET, fallback, _SOCKET_BUFFER)
            sock.bind(bind)
        except OSError:
            sock.close()
            raise
        return sock

    def _hsrp_netns(self, state: _Side) -> None:
        found = netif.interface_for_address(state.address)
        if found is None:
            msg = (
                f"{self._config.hostname}: no interface in this network namespace has the "
                f"{state.side.value} address {state.address}"
            )
            raise StartupError(msg)
        state.ifname, state.prefix = found
        state.mac = netif.interface_mac(state.ifname)
        # The virtual IP lives on a macvlan with the virtual MAC: the interface must not
        # answer ARP for it with its own MAC, nor use it as the source of its own ARP.
        try:
            netif.set_ipv4_conf(state.ifname, "arp_ignore", 1)
            netif.set_ipv4_conf(state.ifname, "arp_announce", 2)
        except OSError as error:
            self._note(f"cannot set ARP behaviour of {state.ifname}: {error}")
        state.hsrp = netif.multicast_socket(state.ifname, state.address, HSRP_GROUP, HSRP_PORT)
        state.hsrp_targets = ((HSRP_GROUP, HSRP_PORT),)

    def _hsrp_loopback(self, state: _Side) -> socket.socket:
        interface = self.router.core.interface(state.side).address
        assert interface is not None  # Router refuses an interface without an address
        state.prefix = interface
        state.hsrp_targets = tuple(
            (self._wire_of(member), HSRP_PORT)
            for member in self._plan.hsrp_members
            if member != state.address and member in interface.network
        )
        return self._udp((self._wire_of(state.address), HSRP_PORT))

    def _open_tun(self) -> None:
        try:
            self._tun = netif.open_tun(self._plan.tun_name)
        except OSError as error:
            msg = f"cannot open TUN device {self._plan.tun_name}: {error.strerror}"
            raise StartupError(msg) from error
        netif.ip("link", "set", self._plan.tun_name, "up")
        netif.ip(
            "route", "replace", str(protected_network(self._config)), "dev", self._plan.tun_name
        )
        self._require_loop().add_reader(self._tun, self._on_tun)

    # --- the core loop: feed, flush, re-arm ---------------------------------------------

    def _pump(self, outputs: list[Output] | None = None) -> None:
        router = self.router
        # The data path's outputs go out as runs (one batch call each), in order: a run
        # ends where an output of another kind, or ESP to another peer, comes.
        esp: list[SendUdp4500] = []
        lan: list[bytes] = []
        for out in router.outputs() if outputs is None else outputs:
            # The two per-packet records first, by exact type (neither is subclassed).
            if type(out) is SendLan:
                if esp:
                    self._send_esp_run(esp)
                    esp = []
                lan.append(out.ip_packet)
                continue
            if type(out) is SendUdp4500:
                if lan:
                    self._send_lan_run(lan)
                    lan = []
                dst = out.dst
                if esp and dst is not esp[0].dst and dst != esp[0].dst:
                    self._send_esp_run(esp)
                    esp = []
                esp.append(out)
                continue
            if esp:
                self._send_esp_run(esp)
                esp = []
            if lan:
                self._send_lan_run(lan)
                lan = []
            if isinstance(out, SendHsrp):
                self._send_hsrp(out)
            elif isinstance(out, SspWrite):
                stream = self._streams.get(out.connection)
                if stream is not None:
                    stream.write(out.data, cut=self._ssp_cut)
            elif isinstance(out, SspShut):
                stream = self._streams.pop(out.connection, None)
                if stream is not None and stream.transport is not None:
                    stream.ended = True
                    stream.transport.close()
            elif isinstance(out, SspOpen):
                task = self._require_loop().create_task(self._connect(out))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            elif isinstance(out, SendGratuitousArp):
                self._claim(out.side, announce=True)
            elif isinstance(out, RequestSa):
                self.sa_request_count += 1
                if len(self.sa_requests) < 1000:
                    self.sa_requests.append(self._clock.now())
            elif isinstance(out, SendOutsideClear):
                self._send_clear(out.ip_packet)
            elif isinstance(out, SendIke):
                self._send_ike(out)
        if esp:
            self._send_esp_run(esp)
        if lan:
            self._send_lan_run(lan)
        self._drain_events()
        self._arm()

    def _arm(self) -> None:
        deadline = self.router.get_timer()
        if deadline == self._armed:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._armed = deadline
        if deadline is None:
            return
        loop = self._require_loop()
        delay = max(0.001, (deadline - self._clock.now()) / 1000.0 + 0.0002)
        self._timer = loop.call_at(loop.time() + delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._armed = None
        self.router.handle_timer(self._clock.now())
        self._pump()

    def _drain_events(self) -> None:
        router = self.router
        while (event := router.next_event()) is not None:
            if isinstance(event, GroupEvent):
                inner = event.event
                if isinstance(inner, StateChanged):
                    self._note(
                        f"hsrp {event.side.value}: {inner.old_state.name.title()} -> "
                        f"{inner.new_state.name.title()} ({inner.cell})"
                    )
                    if inner.new_state is HsrpState.ACTIVE:
                        self._claim(event.side)
                    elif inner.old_state is HsrpState.ACTIVE:
                        self._release(event.side)
            elif isinstance(event, RoleChanged):
                self.roles.append(
                    {"at_ms": event.at_ms, "old": event.old.value, "new": event.new.value}
                )
                self._note(f"role {event.old.value} -> {event.new.value}")
            elif isinstance(event, Takeover):
                report = event.report
                self.takeovers.append(
                    {
                        "at_ms": event.at_ms,
                        "promoted": list(report.promoted_ipsec),
                        "discarded": list(report.discarded_ipsec),
                    }
                )
                self._note(
                    f"takeover: promoted {list(report.promoted_ipsec)}, "
                    f"discarded {list(report.discarded_ipsec)}"
                )
            elif isinstance(event, IkeReport):
                self._ike_event(event)
            elif isinstance(event, SspEvent):
                if isinstance(event.event, Established):
                    self._note("ssp connected")
                elif isinstance(event.event, Closed):
                    self._note(f"ssp disconnected: {event.event.reason}")

    def _ike_event(self, report: IkeReport) -> None:
        event = report.event
        record: dict[str, Any] = {"at_ms": event.at_ms}
        match event:
            case Phase1Established(params=params):
                record |= {"kind": "phase1", "cookies": params.initiator_cookie.hex()}
            case IpsecSaNegotiated(params=params):
                record |= {
                    "kind": "phase2",
                    "inbound_spi": params.inbound_spi,
                    "outbound_spi": params.outbound_spi,
                }
            case DpdAnswered(seq=seq, acked=acked):
                record |= {"kind": "dpd-acked" if acked else "dpd-answered", "seq": seq}
            case PeerDeleted(protocol=protocol, spis=spis):
                record |= {"kind": "peer-delete", "protocol": protocol, "count": len(spis)}
            case NegotiationFailed(exchange=exchange, reason=reason):
                record |= {"kind": "failed", "exchange": exchange, "reason": reason}
        self.ike_events.append(record)
        del self.ike_events[:-_EVENT_LOG]
        if record.get("kind") not in ("dpd-answered", "dpd-acked"):
            self._note(f"ike: {record}")

    def _note(self, text: str) -> None:
        now = self._clock.now()
        self.events.append((now, text))
        del self.events[:-_EVENT_LOG]
        print(f"{now} {self._config.hostname}: {text}", file=self._log_stream, flush=True)

    def _drop(self, reason: str, count: int = 1) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + count

    # --- HSRP --------------------------------------------------------------------------

    def _on_hsrp(self, state: _Side) -> None:
        sock = state.hsrp
        if sock is None:
            return
        for _ in range(_BATCH):
            try:
                data, (host, _port) = sock.recvfrom(2048)
            except BlockingIOError:
                break
            except OSError:
                self._drop("hsrp-recv-error")
                break
            src = self._plan.from_wire(IPv4Address(host))
            if src == state.address:
                continue
            self.router.receive_hsrp(state.side, data, src, self._clock.now())
        self._pump()

    def _send_hsrp(self, out: SendHsrp) -> None:
        state = self._sides[out.side]
        sock = state.vmac_hsrp or state.hsrp
        if sock is None:
            return
        for target in state.hsrp_targets:
            try:
                sock.sendto(out.payload, target)
            except OSError:
                self._drop("hsrp-send-error")

    # --- virtual IPs -------------------------------------------------------------------

    def _claim(self, side: Side, *, announce: bool = False) -> None:
        """Own the virtual IP of ``side``; ``announce``: a gratuitous ARP even if owned."""
        vip = self.router.core.group(side).virtual_ip
        if vip is None:
            return
        if self._plan.loopback:
            self._bind_vip(side)
            return
        state = self._sides[side]
        if state.prefix is None:
            return
        loop = self._require_loop()
        if side in self._claimed:
            if announce:
                self._garp(side, vip)
            return
        address = IPv4Interface(f"{vip}/{state.prefix.network.prefixlen}")
        try:
            self._take_vip(state, address)
        except netif.IpCommandError as error:
            self._note(f"cannot claim {vip}: {error}")
            self._drop("vip-claim-failed")
            return
        self._claimed.add(side)
        for delay in _GARP_REPEATS_S:
            loop.call_later(delay, self._garp, side, vip)

    def _take_vip(self, state: _Side, address: IPv4Interface) -> None:
        """Put the virtual IP on a macvlan with the virtual MAC (on the interface itself
        when macvlan cannot be made) and open the socket the Active hellos leave by."""
        group = self.router.core.group(state.side).group
        name = _vmac_name(group)
        try:
            netif.add_macvlan(state.ifname, name, virtual_mac(group))
            netif.add_address(name, address)
        except netif.IpCommandError as error:
            netif.delete_link(name)
            self._note(f"no virtual MAC on {state.ifname} ({error}); virtual IP on it instead")
            self._drop("vmac-unavailable")
            netif.add_address(state.ifname, address)
            return
        state.vmac = name
        state.vmac_hsrp = self._hsrp_sender(state, name)

    def _hsrp_sender(self, state: _Side, device: str) -> socket.socket | None:
        """The socket the Active group's hellos leave by: through ``device``, so the
        frame's source is ``device``'s MAC (None, hellos from the interface, if it fails)."""
        try:
            return netif.multicast_sender(device, state.address, HSRP_PORT)
        except OSError as error:
            self._note(f"hellos from {device} impossible ({error}); from {state.ifname}")
            self._drop("vmac-hello-socket")
            return None

    def _garp(self, side: Side, vip: IPv4Address) -> None:
        if self.router.core.group(side).state is not HsrpState.ACTIVE:
            return
        state = self._sides[side]
        try:
            if state.vmac:
                group = self.router.core.group(side).group
                netif.send_gratuitous_arp(state.vmac, virtual_mac(group), vip)
            else:
                netif.send_gratuitous_arp(state.ifname, state.mac, vip)
        except OSError:
            self._drop("garp-send-error")

    def _release(self, side: Side) -> None:
        vip = self.router.core.group(side).virtual_ip
        if vip is None:
            return
        if self._plan.loopback:
            self._unbind_vip(side)
            return
        self._claimed.discard(side)
        state = self._sides[side]
        if state.vmac_hsrp is not None:
            state.vmac_hsrp.close()
            state.vmac_hsrp = None
        state.vmac = ""
        # The macvlan goes with the virtual IP on it (also one a killed predecessor left).
        netif.delete_link(_vmac_name(self.router.core.group(side).group))
        if state.prefix is not None:
            netif.delete_address(
                state.ifname, IPv4Interface(f"{vip}/{state.prefix.network.prefixlen}")
            )

    def _bind_vip(self, side: Side) -> None:
        """Loopback mode: own the virtual IP by binding its address (retry while held)."""
        self._vip_retry.pop(side, None)
        if self.router.core.group(side).state is not HsrpState.ACTIVE:
            return
        if (self._esp if side is Side.OUTSIDE else self._lan_rx) is not None:
            return
        vip = self.router.core.group(side).virtual_ip
        assert vip is not None
        port = NATT_PORT if side is Side.OUTSIDE else self._plan.lan_port
        loop = self._require_loop()
        try:
            sock = self._udp((self._wire_of(vip), port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                self._drop("vip-bind-failed")
            self._vip_retry[side] = loop.call_later(_VIP_BIND_RETRY_S, self._bind_vip, side)
            return
        if side is Side.OUTSIDE:
            self._esp = sock
            loop.add_reader(sock.fileno(), self._on_esp)
        else:
            self._lan_rx = sock
            loop.add_reader(sock.fileno(), self._on_lan_datagram)

    def _unbind_vip(self, side: Side) -> None:
        handle = self._vip_retry.pop(side, None)
        if handle is not None:
            handle.cancel()
        sock = self._esp if side is Side.OUTSIDE else self._lan_rx
        if sock is None:
            return
        self._require_loop().remove_reader(sock.fileno())
        self._forget_batch(sock)
        sock.close()
        if side is Side.OUTSIDE:
            self._esp = None
        else:
            self._lan_rx = None

    # --- ESP in UDP 4500 ---------------------------------------------------------------

    def _batch_of(self, sock: socket.socket) -> _BatchIo:
        """The batch receiver and sender of ``sock`` (made on its first use)."""
        found = self._batch_io.get(sock)
        if found is None:
            found = self._batch_io[sock] = _BatchIo(
                sock, batched=self._batch_syscalls, segment=self._udp_gso
            )
        return found

    def _forget_batch(self, sock: socket.socket) -> None:
        found = self._batch_io.pop(sock, None)
        if found is not None:
            if found.receiver.pending:  # read, but the socket goes before their turn
                self._drop("udp-unread-at-close", found.receiver.pending)
            found.close()

    def _on_esp(self) -> None:
        sock = self._esp
        if sock is None:
            return
        receiver = self._batch_of(sock).receiver
        receive = self.router.receive_udp4500_batch
        now = self._clock.now()
        accepted: list[bytes] = []
        budget = _BATCH
        while budget > 0:
            try:
                payloads, hosts = receiver.receive(budget)
            except OSError:
                self._drop("esp-recv-error")
                break
            if payloads:
                if hosts.count(hosts[0]) == len(hosts):  # the usual batch: one peer
                    srcs = [self._source(hosts[0])] * len(hosts)
                else:
                    srcs = [self._source(host) for host in hosts]
                # The wire log's rx: the packets accepted and delivered to the LAN.
                accepted += receive(payloads, srcs, now)
            budget -= len(payloads)
            if receiver.emptied:
                break  # no call just to hear EAGAIN
        if accepted:
            self.rx.add_esp(accepted, now)
        if receiver.truncated:
            self._drop("esp-truncated", receiver.truncated)
            receiver.truncated = 0
        self._pump()
        if receiver.pending and self._esp is sock:  # read, so no readiness event will come
            self._require_loop().call_soon(self._on_esp)

    def _source(self, host: int) -> IPv4Address:
        """The document address of an ESP source (remembered; a flood cannot grow it)."""
        sources = self._sources
        src = sources.get(host)
        if src is not None:
            return src
        if len(sources) >= _SOURCES_REMEMBERED:
            sources.clear()
        src = sources[host] = self._plan.from_wire(IPv4Address(host))
        return src

    def _on_ike(self) -> None:
        sock = self._ike_sock
        if sock is None:
            return
        for _ in range(_BATCH):
            try:
                data, (host, port) = sock.recvfrom(65535)
            except BlockingIOError:
                break
            except OSError:
                self._drop("ike-recv-error")
                break
            src = self._plan.from_wire(IPv4Address(host))
            self.router.receive_ike(data, src, port, _IKE_PORT, self._clock.now())
            self._pump()

    def _send_ike(self, out: SendIke) -> None:
        sock = self._ike_sock if out.src_port == _IKE_PORT else self._esp
        if sock is None:
            self._drop("ike-no-vip-socket")
            return
        try:
            sock.sendto(out.payload, (self._wire_of(out.dst), out.dst_port))
        except OSError:
            self._drop("ike-send-error")

    def _send_esp_run(self, run: list[SendUdp4500]) -> None:
        """ESP packets to one peer, in order: logged (sent or not, as I3 needs), then sent."""
        self.tx.add_many([out.spi for out in run], [out.seq for out in run], self._clock.now())
        sock = self._esp
        if sock is None:
            self._drop("esp-no-vip-socket", len(run))
            return
        refused = self._batch_of(sock).sender.send(
            [out.payload for out in run], (self._wire_of(run[0].dst), NATT_PORT)
        )
        if refused:
            self._drop("esp-send-error", refused)

    # --- LAN side ----------------------------------------------------------------------

    def _on_tun(self) -> None:
        fd = self._tun
        if fd is None:
            return
        now = self._clock.now()
        packets: list[bytes] = []
        for _ in range(_BATCH):
            try:
                packets.append(os.read(fd, 65535))
            except BlockingIOError:
                break
            except OSError:
                self._drop("tun-read-error")
                break
        self.router.receive_lan_batch(packets, now)
        self._pump()

    def _on_lan_datagram(self) -> None:
        sock = self._lan_rx
        if sock is None:
            return
        receiver = self._batch_of(sock).receiver
        receive_lan = self.router.receive_lan_batch
        now = self._clock.now()
        budget = _BATCH
        while budget > 0:
            try:
                packets, _hosts = receiver.receive(budget)
            except OSError:
                self._drop("lan-recv-error")
                break
            receive_lan(packets, now)
            budget -= len(packets)
            if receiver.emptied:
                break
        if receiver.truncated:
            self._drop("lan-truncated", receiver.truncated)
            receiver.truncated = 0
        self._pump()
        if receiver.pending and self._lan_rx is sock:
            self._require_loop().call_soon(self._on_lan_datagram)

    def _send_lan_run(self, packets: list[bytes]) -> None:
        """Decrypted packets to the LAN, in order: the TUN, or (loopback) runs of packets
        to one LAN host per batch call."""
        tun = self._tun
        if tun is not None:
            write = os.write
            for packet in packets:
                try:
                    write(tun, packet)
                except OSError:
                    self._drop("tun-write-error")
            return
        sock = self._lan_tx
        if sock is None:
            self._drop("lan-no-path", len(packets))
            return
        send = self._batch_of(sock).sender.send
        run: list[bytes] = []
        run_dst = b""
        for packet in packets:
            dst = packet[16:20]  # the IPv4 destination address
            if dst != run_dst:
                if run:
                    self._send_lan_to(send, run, run_dst)
                run = []
                run_dst = dst
            run.append(packet)
        if run:
            self._send_lan_to(send, run, run_dst)

    def _send_lan_to(
        self, send: Callable[[list[bytes], tuple[str, int]], int], run: list[bytes], dst: bytes
    ) -> None:
        if len(dst) != 4:  # shorter than an IPv4 header
            self._drop("lan-no-path", len(run))
            return
        host = self._lan_hosts.get(dst)
        if host is None:
            try:
                host = str(self._plan.to_wire(IPv4Address(dst)))
            except ValueError:  # PlanError: on no network of the plan
                self._drop("lan-send-error", len(run))
                return
            if len(self._lan_hosts) >= _SOURCES_REMEMBERED:
                self._lan_hosts.clear()
            self._lan_hosts[dst] = host
        refused = send(run, (host, self._plan.lan_port))
        if refused:
            self._drop("lan-send-error", refused)

    def _send_clear(self, packet: bytes) -> None:
        if self._tun is None:
            self._drop("clear-no-path")
            return
        try:
            os.write(self._tun, packet)
        except OSError:
            self._drop("tun-write-error")

    # --- SSP ---------------------------------------------------------------------------

    async def _listen_ssp(self) -> None:
        loop = self._require_loop()
        group = self._config.ssp_groups[0]
        try:
            self._ssp_server = await loop.create_server(
                lambda: _SspStream(self, accepted=True),
                host=self._wire_of(self.router.ssp_address),
                port=group.port,
                reuse_address=True,
            )
        except OSError as error:
            msg = f"cannot listen for SSP on {self.router.ssp_address}:{group.port}: {error}"
            raise StartupError(msg) from error

    async def _connect(self, out: SspOpen) -> None:
        loop = self._require_loop()
        try:
            if self._ssp_cut:
                await asyncio.sleep(_CONNECT_TIMEOUT_S)
                raise TimeoutError
            _, stream = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _SspStream(self, accepted=False),
                    host=self._wire_of(out.dst),
                    port=out.port,
                    local_addr=(self._wire_of(out.src), 0),
                ),
                _CONNECT_TIMEOUT_S,
            )
        except (OSError, TimeoutError):
            self.router.ssp_connect_failed(self._clock.now())
            self._pump()
            return
        self.router.ssp_connected(self._clock.now())
        self._attach(stream)
        self._pump()

    def ssp_incoming(self, stream: _SspStream) -> None:
        """The server side accepted a TCP connection: let the router admit or refuse it."""
        assert stream.transport is not None
        host = stream.transport.get_extra_info("peername")[0]
        src = self._plan.from_wire(IPv4Address(host))
        if self._ssp_cut or not self.router.ssp_accept(src, self._clock.now()):
            self._drop("ssp-refused")
            stream.ended = True
            stream.transport.abort()
            self._pump()
            return
        self._attach(stream)
        self._pump()

    def _attach(self, stream: _SspStream) -> None:
        if self.router.ssp_connection is None or stream.transport is None:
            if stream.transport is not None:
                stream.ended = True
                stream.transport.close()
            return
        stream.connection = self.router.ssp_connection_id
        self._streams[stream.connection] = stream
        pending, stream.pending = stream.pending, []
        for data in pending:
            self.ssp_octets(stream, data)

    def _current(self, stream: _SspStream) -> bool:
        return (
            self.router.ssp_connection is not None
            and stream.connection == self.router.ssp_connection_id
        )

    def ssp_octets(self, stream: _SspStream, data: bytes) -> None:
        """Octets (``b""``: end of stream) from an SSP connection."""
        if not self._current(stream):
            return
        self.router.ssp_receive(data, self._clock.now())
        self._pump()

    def ssp_broken(self, stream: _SspStream, exc: Exception | None) -> None:
        """The TCP connection failed (reset) or closed."""
        self._streams.pop(stream.connection, None)
        if not self._current(stream):
            return
        now = self._clock.now()
        if exc is None:
            self.router.ssp_receive(b"", now)
        else:
            self.router.ssp_lost(now)
        self._pump()

    def _set_ssp_cut(self, cut: bool) -> None:
        self._ssp_cut = cut
        for stream in list(self._streams.values()):
            if stream.transport is None or stream.transport.is_closing():
                continue
            if cut:
                stream.transport.pause_reading()
            else:
                held, stream.held = stream.held, []
                for data in held:
                    stream.transport.write(data)
                stream.transport.resume_reading()
        self._note("ssp path cut" if cut else "ssp path healed")

    # --- the wire log --------------------------------------------------------------------

    def _flush_wire_log(self, *, again: bool = True) -> None:
        if self._wire_log is not None:
            lines = [
                json.dumps({"k": kind, "i": i, "run": run})
                for kind, runs in (("tx", self.tx), ("rx", self.rx))
                for i, run in runs.take_dirty()
            ]
            if lines:
                with contextlib.suppress(OSError):
                    self._wire_log.write("\n".join(lines) + "\n")
        if again and self._loop is not None and not self._stop.is_set():
            self._loop.call_later(_WIRE_LOG_PERIOD_S, self._flush_wire_log)

    # --- control -------------------------------------------------------------------------

    def _on_control(self, message: dict[str, Any]) -> dict[str, Any]:
        handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "show": self._op_show,
            "status": lambda _m: {"ok": True, "status": self.status()},
            "install_sa": self._op_install_sa,
            "fault": self._op_fault,
            "interface": self._op_interface,
            "stop": self._op_stop,
            "dpd": self._op_dpd,
        }
        handler = handlers.get(message["op"])
        if handler is None:
            return {
                "ok": False,
                "error": f"unknown op {message['op']!r} (one of {sorted(handlers)})",
            }
        return handler(message)

    def _op_show(self, message: dict[str, Any]) -> dict[str, Any]:
        command = str(message.get("command", ""))
        text = show(self.router, command, now=self._clock.now, epoch_ms=self._clock.epoch_ms)
        return {"ok": True, "text": text}

    def _op_install_sa(self, message: dict[str, Any]) -> dict[str, Any]:
        params = new_sa_from_json(message["sa"])
        result = self.router.install_sa(params, self._clock.now())
        self._pump()
        if isinstance(result, IpsecSaPair):
            self._note(f"SA {result.sa_id} installed (stand-in IKE)")
            return {"ok": True, "sa_id": result.sa_id}
        return {"ok": False, "error": f"SA refused: {result.reason}"}

    def _op_fault(self, message: dict[str, Any]) -> dict[str, Any]:
        what = message.get("ssp")
        if what not in ("cut", "heal"):
            return {"ok": False, "error": f"fault ssp must be 'cut' or 'heal', not {what!r}"}
        self._set_ssp_cut(what == "cut")
        return {"ok": True}

    def _op_interface(self, message: dict[str, Any]) -> dict[str, Any]:
        side = Side(message["side"])
        now = self._clock.now()
        if message.get("up", True):
            self.router.interface_up(side, now)
        else:
            self.router.interface_down(side, now)
        self._pump()
        return {"ok": True}

    def _op_dpd(self, _message: dict[str, Any]) -> dict[str, Any]:
        sent = self.router.send_dpd(self._clock.now())
        self._pump()
        return {"ok": True, "sent": sent}

    def _op_stop(self, _message: dict[str, Any]) -> dict[str, Any]:
        self._require_loop().call_soon(self.stop)
        return {"ok": True}

    def _ike_status(self) -> dict[str, Any]:
        engine = self.router.ike
        return {
            "sas": [
                {
                    "cookies": sa.initiator_cookie.hex() + sa.responder_cookie.hex(),
                    "status": sa.status.value,
                    "dpd_out": sa.dpd_out,
                    "dpd_in": sa.dpd_in,
                    "peer_port": sa.peer_port,
                }
                for sa in self.router.sadb.ike_sas()
            ],
            "drops": {r.value: n for r, n in engine.drops.items()} if engine else {},
            "sent": dict(engine.sent) if engine else {},
            "events": self.ike_events[-200:],
        }

    def status(self) -> dict[str, Any]:
        """The router's state as plain JSON-able data (the lab reads it)."""
        router = self.router
        counters = router.forwarder.counters()
        return {
            "hostname": router.hostname,
            "pid": os.getpid(),
            "mode": self._plan.mode,
            "now_ms": self._clock.now(),
            "started_ms": self.started_ms,
            "role": router.role.value,
            "groups": {
                side.value: {
                    "state": router.core.group(side).state.name.title(),
                    "priority": router.core.group(side).effective_priority,
                    "hold_ms": router.core.group(side).config.hold_ms,
                    "hello_ms": router.core.group(side).config.hello_ms,
                }
                for side in Side
            },
            "ssp": {
                "link": router.ssp_link.value,
                "connection": router.ssp_connection_id,
                "established_ms": router.ssp_established_ms,
                "cut": self._ssp_cut,
            },
            "sas": [
                {
                    "sa_id": sa.sa_id,
                    "status": sa.status.value,
                    "stale": sa.stale,
                    "inbound_spi": sa.inbound_spi,
                    "outbound_spi": sa.outbound_spi,
                    "outbound_seq": sa.outbound_seq,
                    "inbound_right_edge": sa.inbound_right_edge,
                }
                for sa in router.sadb.ipsec_sas()
            ],
            "takeovers": self.takeovers,
            "roles": self.roles,
            "sa_requests": {"count": self.sa_request_count, "at_ms": self.sa_requests},
            "forward": {
                "encrypted": counters.encrypted_packets,
                "decrypted": counters.decrypted_packets,
                "delivered": counters.delivered_packets,
                "cleartext_permit_sent": counters.cleartext_permit_sent,
                "drops": {str(k): v for k, v in counters.drops.items() if v},
            },
            "drops": dict(self.drops),
            "ike": self._ike_status(),
            "tx": {"count": self.tx.count, "runs": self.tx.runs},
            "rx": {"count": self.rx.count, "runs": self.rx.runs},
            "events": self.events[-100:],
        }
