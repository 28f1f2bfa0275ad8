"""impl/router_show: every ``show`` command rendered from two live routers.

The two routers of ``examples/router1.cfg`` / ``router2.cfg`` are wired by hand:
time jumps to the earliest ``get_timer()``, and each output is delivered at once to
the other router (HSRP payloads, the SSP TCP connection's opening, octets and
close). After ~70 s (``standby delay reload 60``) router 1 is Active for both groups
and SSP is up; an SA pair negotiated "by IKE" is installed on it and replicated,
and a little traffic crosses it. Each command is then checked line by line on both
routers; values the run decides (instants, SA ids, SSP counts) are read from the
routers' own state, everything else is spelled out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest
from vpnha.impl.config import load_config
from vpnha.impl.entropy import SeededEntropy
from vpnha.impl.esp import EspOutboundSA, build_ipv4, esp_transform
from vpnha.impl.hsrp import HsrpState
from vpnha.impl.router import (
    DeviceRole,
    Output,
    Router,
    SendHsrp,
    SendLan,
    SendUdp4500,
    Side,
    SspOpen,
    SspShut,
    SspWrite,
)
from vpnha.impl.router_show import RouterShow, show
from vpnha.impl.sadb import HaStatus, IpsecSaPair, NewIpsecSa
from vpnha.impl.show import (
    format_duration,
    format_since,
    format_time_of_day,
    render,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
START_MS = 1_000
UP_MS = 72_000
"""Router time by which the pair has settled (standby delay reload is 60 s)."""
EPOCH_MS = int(datetime(2002, 10, 1, 13, 0, 0, tzinfo=UTC).timestamp() * 1000)
"""Wall-clock ms at router time 0: the document's 13:00 UTC Tue Oct 1 2002."""
PEER = IPv4Address("192.168.3.1")
LAN_HOST = IPv4Address("172.16.31.50")
REMOTE_HOST = IPv4Address("192.168.4.10")
INBOUND_SPI = 0x257A1039
OUTBOUND_SPI = 0x20890A6F
IN_KEYS = (bytes(range(1, 25)), bytes(range(101, 121)))
OUT_KEYS = (bytes(range(31, 55)), bytes(range(131, 151)))
LIFETIME_S = 3600
LIFETIME_KB = 4_608_000
OUT_PACKETS = 3
IN_PACKETS = 2


class Pair:
    """Two routers wired back to back; outputs other than HSRP and SSP are kept."""

    def __init__(self) -> None:
        self.now = START_MS
        self.routers = [
            Router(load_config(EXAMPLES / name), entropy=SeededEntropy(seed), now=self.now)
            for seed, name in enumerate(("router1.cfg", "router2.cfg"))
        ]
        self.alive = [True, True]
        self.kept: list[list[Output]] = [[], []]

    def _deliver(self, sender: int, output: Output) -> None:
        router = self.routers[sender]
        other = self.routers[1 - sender]
        other_alive = self.alive[1 - sender]
        if isinstance(output, SendHsrp):
            if other_alive:
                other.receive_hsrp(output.side, output.payload, output.src, self.now)
        elif isinstance(output, SspOpen):
            if other_alive and other.ssp_accept(output.src, self.now):
                router.ssp_connected(self.now)
            else:
                router.ssp_connect_failed(self.now)
        elif isinstance(output, SspWrite):
            if other_alive:
                other.ssp_receive(output.data, self.now)
        elif isinstance(output, SspShut):
            if other_alive:
                other.ssp_receive(b"", self.now)
        else:
            self.kept[sender].append(output)

    def pump(self) -> None:
        """Deliver every output until no router has anything left to say."""
        busy = True
        while busy:
            busy = False
            for index, router in enumerate(self.routers):
                outputs = router.outputs()
                if not self.alive[index]:
                    continue
                for output in outputs:
                    busy = True
                    self._deliver(index, output)

    def run_until(self, end_ms: int) -> None:
        """Fire every deadline up to ``end_ms``, then stand at ``end_ms``."""
        self.pump()
        while True:
            deadlines = [
                deadline
                for index, router in enumerate(self.routers)
                if self.alive[index] and (deadline := router.get_timer()) is not None
            ]
            if not deadlines or min(deadlines) > end_ms:
                break
            self.now = max(self.now, min(deadlines))
            for index, router in enumerate(self.routers):
                if self.alive[index]:
                    router.handle_timer(self.now)
            self.pump()
        self.now = end_ms

    def run(self, ms: int) -> None:
        """Run for ``ms`` more milliseconds."""
        self.run_until(self.now + ms)

    def crash(self, index: int) -> None:
        """Router ``index`` stops: it hears nothing and says nothing from now on."""
        self.alive[index] = False

    def show(self, index: int, command: str) -> str:
        """Run a show command on router ``index`` at the current instant."""
        return show(self.routers[index], command, now=lambda: self.now, epoch_ms=EPOCH_MS)


def _new_sa(now: int) -> NewIpsecSa:
    return NewIpsecSa(
        peer=PEER,
        crypto_map="CMAP_1",
        crypto_map_seq=1,
        local_proxy=IPv4Network("172.16.31.0/24"),
        remote_proxy=IPv4Network("192.168.4.0/24"),
        inbound_spi=INBOUND_SPI,
        outbound_spi=OUTBOUND_SPI,
        transforms=("esp-3des", "esp-sha-hmac"),
        inbound_encryption_key=IN_KEYS[0],
        outbound_encryption_key=OUT_KEYS[0],
        inbound_integrity_key=IN_KEYS[1],
        outbound_integrity_key=OUT_KEYS[1],
        expiry_ms=now + LIFETIME_S * 1000,
        lifetime_kilobytes=LIFETIME_KB,
    )


def _lan_packet(index: int) -> bytes:
    """An ICMP-sized packet from the LAN to the remote LAN (ACL 100 permits it)."""
    return build_ipv4(src=LAN_HOST, dst=REMOTE_HOST, protocol=1, payload=bytes(40 + index))


def _peer_esp(count: int) -> list[bytes]:
    """ESP from the remote peer on the pair's inbound SA, sequence numbers 1..count."""
    peer_side = EspOutboundSA(
        spi=INBOUND_SPI,
        transform=esp_transform("esp-3des", "esp-sha-hmac"),
        encryption_key=IN_KEYS[0],
        integrity_key=IN_KEYS[1],
        entropy=SeededEntropy(99),
    )
    packets: list[bytes] = []
    for index in range(count):
        inner = build_ipv4(src=REMOTE_HOST, dst=LAN_HOST, protocol=1, payload=bytes(60 + index))
        esp = peer_side.encapsulate(inner)
        assert isinstance(esp, bytes)
        packets.append(esp)
    return packets


def _send_traffic(pair: Pair, index: int, out: int, inbound: int) -> None:
    router = pair.routers[index]
    for n in range(out):
        router.receive_lan(_lan_packet(n), pair.now)
    for esp in _peer_esp(inbound):
        router.receive_udp4500(esp, PEER, pair.now)
    pair.pump()


def _settled_pair() -> Pair:
    pair = Pair()
    pair.run_until(UP_MS)
    return pair


@pytest.fixture(scope="module")
def pair() -> Pair:
    """The pair up, one SA installed on router 1 and replicated, 3 packets out, 2 in."""
    pair = _settled_pair()
    installed = pair.routers[0].install_sa(_new_sa(pair.now), pair.now)
    assert isinstance(installed, IpsecSaPair)
    pair.run(2_000)
    _send_traffic(pair, 0, OUT_PACKETS, IN_PACKETS)
    pair.run(2_000)
    return pair


def _sa(router: Router) -> IpsecSaPair:
    (sa,) = router.sadb.ipsec_sas()
    return sa


def _since(router: Router) -> str:
    return format_since(EPOCH_MS + router.core.role_since_ms)


# -- the scenario itself ------------------------------------------------------------------


def test_the_pair_settles_with_router1_active_and_ssp_up(pair: Pair) -> None:
    active, standby = pair.routers
    assert active.role is DeviceRole.ACTIVE
    assert standby.role is DeviceRole.STANDBY
    for router in pair.routers:
        assert router.ssp_connection is not None
        assert router.ssp_connection.established
    assert _sa(active).status is HaStatus.ACTIVE
    assert _sa(standby).status is HaStatus.STANDBY
    sent = [o for o in pair.kept[0] if isinstance(o, SendUdp4500)]
    delivered = [o for o in pair.kept[0] if isinstance(o, SendLan)]
    assert [o.seq for o in sent] == [1, 2, 3]
    assert len(delivered) == IN_PACKETS


# -- show standby brief -------------------------------------------------------------------


def test_standby_brief_on_the_active_router(pair: Pair) -> None:
    assert pair.show(0, "show standby brief").splitlines() == [
        "Interface group priority p state active address standby address group address",
        "FA 0/0      1      100 P Active local      172.16.31.6 172.16.31.1",
        "FA 0/1      2      100 P Active local      40.0.0.6   40.0.0.1",
    ]


def test_standby_brief_on_the_standby_router(pair: Pair) -> None:
    assert pair.show(1, "sh standby br").splitlines() == [
        "Interface group priority p state active address standby address group address",
        "FA 0/0      1      100 P Standby 172.16.31.100 local      172.16.31.1",
        "FA 0/1      2      100 P Standby 40.0.0.100 local      40.0.0.1",
    ]


def test_show_standby_on_the_active_router(pair: Pair) -> None:
    lines = pair.show(0, "show standby").splitlines()
    assert lines[:5] == [
        "FastEthernet0/0 - Group 1",
        "  State is Active",
        "  Virtual IP address is 172.16.31.1",
        "  Active virtual MAC address is 0000.0c07.ac01",
        "    Local virtual MAC address is 0000.0c07.ac01 (v1 default)",
    ]
    assert "  Preemption enabled" in lines
    assert "FastEthernet0/1 - Group 2" in lines


# -- show ssp -----------------------------------------------------------------------------


@pytest.mark.parametrize(("index", "local_port"), [(0, 3249), (1, 0)])
def test_ssp_packet_shows_the_live_connection_counters(
    pair: Pair, index: int, local_port: int
) -> None:
    """Router 1 (172.16.31.100) is the TCP server; router 2's client port is the OS's."""
    counters = pair.routers[index].ssp_counters()
    assert counters is not None
    assert counters.created_ms is not None
    assert counters.packets_sent > 0
    assert counters.packets_received > 0
    assert pair.show(index, "show ssp packet").splitlines() == [
        "SSP packet Information",
        f"Socket creation time: {format_time_of_day(EPOCH_MS + counters.created_ms)}",
        f"Local port: {local_port:<9} Server port: 3249",
        f"Packets Sent = {counters.packets_sent}, Bytes Sent = {counters.bytes_sent}",
        f"Packets Received = {counters.packets_received}, "
        f"Bytes Received = {counters.bytes_received}",
    ]


def test_ssp_octets_sent_by_one_router_are_the_octets_the_other_received(pair: Pair) -> None:
    first, second = (r.ssp_counters() for r in pair.routers)
    assert first is not None
    assert second is not None
    assert first.bytes_sent == second.bytes_received
    assert second.bytes_sent == first.bytes_received


@pytest.mark.parametrize(("index", "remote"), [(0, "172.16.31.6"), (1, "172.16.31.100")])
def test_ssp_peers_shows_the_remote_connected_on_the_inside_interface(
    pair: Pair, index: int, remote: str
) -> None:
    assert pair.show(index, "show ssp peers").splitlines() == [
        "SSP Peer Information",
        "IP Address      Connection State  Local Interface",
        f"{remote:<15} Connected        FastEthernet0/0",
    ]


@pytest.mark.parametrize(("index", "role"), [(0, "ACTIVE"), (1, "STANDBY")])
def test_ssp_redundancy_shows_the_role_its_age_and_both_groups(
    pair: Pair, index: int, role: str
) -> None:
    router = pair.routers[index]
    held = format_duration(pair.now - router.core.role_since_ms)
    assert pair.show(index, "show ssp redundancy").splitlines() == [
        "SSP Redundancy Information",
        f"Device has been {role} for {held}",
        "Virtual IP      Redundancy Name      Interface",
        "40.0.0.1        ISP                   FastEthernet0/1",
        "172.16.31.1     LAN                   FastEthernet0/0",
    ]


def test_ssp_without_a_keyword_shows_all_four_parts(pair: Pair) -> None:
    text = pair.show(0, "show ssp")
    assert text.startswith("SSP Client Information\n")
    for heading in ("SSP packet Information", "SSP Peer Information", "SSP Redundancy"):
        assert heading in text


# -- show crypto ipsec ha / isakmp ha / isakmp sa / isakmp ssp -----------------------------


@pytest.mark.parametrize(("index", "state"), [(0, "Active"), (1, "Standby")])
def test_ipsec_ha_counts_both_sas_of_the_pair_on_the_outside_interface(
    pair: Pair, index: int, state: str
) -> None:
    router = pair.routers[index]
    assert pair.show(index, "show crypto ipsec ha").splitlines() == [
        "Interface      VIP          SAs    IPsec HA State",
        f"FastEthernet0/1 40.0.0.1      2      {state} since {_since(router)}",
    ]


@pytest.mark.parametrize(("index", "state"), [(0, "Active"), (1, "Standby")])
def test_isakmp_ha_shows_the_vip_with_no_ike_sas_yet(pair: Pair, index: int, state: str) -> None:
    """No IKE core exists yet: the database holds no IKE SA, and no stamp is invented."""
    router = pair.routers[index]
    assert pair.show(index, "show crypto isakmp ha").splitlines() == [
        "VIP          SAs      Stamp      HA State",
        f"40.0.0.1      0        00000000   {state} since {_since(router)}",
    ]


@pytest.mark.parametrize("index", [0, 1])
@pytest.mark.parametrize(
    ("command", "heading"),
    [
        (
            "show crypto isakmp sa",
            "dst             src             state          conn-id slot status",
        ),
        (
            "show crypto isakmp ha standby",
            "dst          src          state      I-Cookie      R-Cookie",
        ),
        (
            "show crypto isakmp ha active",
            "dst          src          state      I-Cookie      R-Cookie",
        ),
    ],
)
def test_ike_sa_tables_are_empty_without_an_ike_core(
    pair: Pair, index: int, command: str, heading: str
) -> None:
    assert pair.show(index, command).splitlines() == [heading]


def test_isakmp_ssp_counts_the_add_sent_and_its_ack_on_the_active(pair: Pair) -> None:
    counters = pair.routers[0].sadb.counters
    assert counters.adds_sent == 1
    assert counters.replies_received == 1
    assert pair.show(0, "show crypto isakmp ssp").splitlines() == [
        "VIP          ADDS      DELETES    REQUESTS   REPLIES",
        "40.0.0.1      1          0          0          1",
    ]


def test_isakmp_ssp_on_the_standby_sent_nothing(pair: Pair) -> None:
    assert pair.routers[1].sadb.counters.copies_applied == 1
    assert pair.show(1, "show crypto isakmp ssp").splitlines() == [
        "VIP          ADDS      DELETES    REQUESTS   REPLIES",
        "40.0.0.1      0          0          0          0",
    ]


# -- show crypto ipsec sa -----------------------------------------------------------------


def _sa_block(sa: IpsecSaPair, spi: int, now: int, status: str) -> list[str]:
    remaining_kb = (sa.lifetime_bytes - sa.bytes_used) // 1024
    remaining_s = (sa.expiry_ms - now) // 1000
    return [
        f"  spi: 0x{spi:X}({spi})",
        "    transform: esp-3des esp-sha-hmac ,",
        "    in use settings ={Tunnel, }",
        f"    slot: 0, conn id: {sa.sa_id}, flow_id: 0, crypto map: CMAP_1",
        f"    sa timing: remaining key lifetime (k/sec): ({remaining_kb}/{remaining_s})",
        "    IV size: 8 bytes",
        "    replay detection support: Y",
        f"    HA Status: {status}",
        "",
    ]


def _ipsec_sa_lines(sa: IpsecSaPair, now: int, status: str, encaps: int, decaps: int) -> list[str]:
    return [
        "interface: FastEthernet0/1",
        "  Crypto map tag: CMAP_1, local addr. 40.0.0.1",
        "",
        "  local ident (addr/mask/prot/port): (172.16.31.0/255.255.255.0/0/0)",
        "  remote ident (addr/mask/prot/port): (192.168.4.0/255.255.255.0/0/0)",
        "  current_peer: 192.168.3.1",
        "    PERMIT, flags={}",
        f"    #pkts encaps: {encaps}, #pkts encrypt: {encaps}, #pkts digest {encaps}",
        f"    #pkts decaps: {decaps}, #pkts decrypt: {decaps}, #pkts verify {decaps}",
        "    #pkts compressed: 0, #pkts decompressed: 0",
        "    #pkts not compressed: 0, #pkts compr. failed: 0, #pkts decompress failed: 0",
        "    #send errors 0, #recv errors 0",
        "",
        "  local crypto endpt.: 40.0.0.1, remote crypto endpt.: 192.168.3.1",
        "  path mtu 1500, media mtu 1500",
        f"  current outbound spi: {OUTBOUND_SPI:X}",
        "",
        "inbound esp sas:",
        *_sa_block(sa, INBOUND_SPI, now, status),
        "inbound ah sas:",
        "",
        "inbound pcp sas:",
        "",
        "outbound esp sas:",
        *_sa_block(sa, OUTBOUND_SPI, now, status),
        "outbound ah sas:",
        "",
        "outbound pcp sas:",
    ]


def test_ipsec_sa_on_the_active_shows_its_traffic_and_active_status(pair: Pair) -> None:
    sa = _sa(pair.routers[0])
    assert 0 < sa.bytes_used < 1024  # the lifetime has started to run down
    expected = _ipsec_sa_lines(sa, pair.now, "ACTIVE", OUT_PACKETS, IN_PACKETS)
    assert pair.show(0, "show crypto ipsec sa").splitlines() == expected
    assert f"({LIFETIME_KB - 1}/" in "\n".join(expected)


def test_ipsec_sa_on_the_standby_shows_the_copy_with_no_traffic(pair: Pair) -> None:
    active, standby = (_sa(r) for r in pair.routers)
    assert standby.sa_id == active.sa_id
    assert standby.bytes_used == 0  # below half a jump: no update was due
    expected = _ipsec_sa_lines(standby, pair.now, "STANDBY", 0, 0)
    assert pair.show(1, "show crypto ipsec sa").splitlines() == expected
    assert pair.show(1, "show crypto ipsec sa standby").splitlines() == expected


def test_ipsec_sa_standby_is_empty_on_the_active(pair: Pair) -> None:
    assert pair.show(0, "show crypto ipsec sa standby") == ""


def test_ipsec_sa_detail_shows_no_failures(pair: Pair) -> None:
    lines = pair.show(0, "show crypto ipsec sa detail").splitlines()
    assert "    #pkts verify failed: 0, #pkts invalid len (rcv) 0" in lines
    assert "    #pkts replay rollover (send): 0, #pkts replay failed (rcv): 0" in lines


@pytest.mark.parametrize(("index", "status"), [(0, "ACTIVE"), (1, "STANDBY")])
def test_ipsec_sa_addr_groups_the_sas_by_destination(pair: Pair, index: int, status: str) -> None:
    """The addr layout is the same SA block without indentation, under its destination."""
    sa = _sa(pair.routers[index])
    blocks = {
        spi: [line.lstrip() for line in _sa_block(sa, spi, pair.now, status)]
        for spi in (INBOUND_SPI, OUTBOUND_SPI)
    }
    assert pair.show(index, "show crypto ipsec sa addr").splitlines() == [
        "dest address: 40.0.0.1",
        "protocol: ESP",
        *blocks[INBOUND_SPI],
        "dest address: 192.168.3.1",
        "protocol: ESP",
        *blocks[OUTBOUND_SPI][:-1],
    ]


# -- the provider and the convenience function ----------------------------------------------


def test_show_returns_ios_error_text_for_a_bad_command(pair: Pair) -> None:
    text = pair.show(0, "show crypto bogus")
    assert "% Invalid input detected at '^' marker." in text


def test_provider_answers_config_commands_from_the_running_config(pair: Pair) -> None:
    provider = RouterShow(pair.routers[0], now=lambda: pair.now, epoch_ms=EPOCH_MS)
    assert provider.config() is pair.routers[0].config
    text = render("show crypto map", provider)
    assert 'Crypto Map: "CMAP_1" idb: FastEthernet0/1 local address: 40.0.0.1' in text


def test_before_the_standby_delay_nothing_runs() -> None:
    pair = Pair()
    pair.run_until(30_000)
    assert pair.show(0, "show standby brief").splitlines()[1:] == [
        "FA 0/0      1      100 P Init unknown    unknown    172.16.31.1",
        "FA 0/1      2      100 P Init unknown    unknown    40.0.0.1",
    ]
    assert pair.show(0, "show ssp redundancy").splitlines()[1] == (
        f"Device has been INIT for {format_duration(30_000 - START_MS)}"
    )
    assert pair.show(0, "show crypto ipsec sa").splitlines() == [
        "interface: FastEthernet0/1",
        "  Crypto map tag: CMAP_1, local addr. 40.0.0.1",
    ]


def test_tracking_shows_the_lowered_priority_and_the_role_lost() -> None:
    pair = _settled_pair()
    pair.routers[0].interface_down(Side.INSIDE, pair.now)
    pair.run(5_000)
    assert pair.show(0, "show standby brief").splitlines()[1:] == [
        "FA 0/0      1      100 P Init unknown    unknown    172.16.31.1",
        "FA 0/1      2      90  P Standby 40.0.0.6   local      40.0.0.1",
    ]
    assert (
        pair.show(0, "show ssp redundancy").splitlines()[1].startswith("Device has been INIT for ")
    )
    assert pair.show(1, "show standby brief").splitlines()[1:] == [
        "FA 0/0      1      100 P Active local      unknown    172.16.31.1",
        "FA 0/1      2      100 P Active local      40.0.0.100 40.0.0.1",
    ]


# -- failover -----------------------------------------------------------------------------


def test_after_router1_dies_router2_shows_itself_active_with_the_promoted_sa() -> None:
    pair = _settled_pair()
    installed = pair.routers[0].install_sa(_new_sa(pair.now), pair.now)
    assert isinstance(installed, IpsecSaPair)
    pair.run(2_000)
    _send_traffic(pair, 0, OUT_PACKETS, 0)
    pair.run(2_000)
    pair.crash(0)
    crashed_at = pair.now
    pair.run(6_000)
    survivor = pair.routers[1]
    assert survivor.role is DeviceRole.ACTIVE
    assert all(survivor.core.group(side).state is HsrpState.ACTIVE for side in Side)
    took_over = survivor.core.role_since_ms
    assert crashed_at < took_over <= crashed_at + 3_500

    brief = pair.show(1, "show standby brief").splitlines()
    assert brief[1].startswith("FA 0/0      1      100 P Active local      ")
    assert brief[2].startswith("FA 0/1      2      100 P Active local      ")
    assert pair.show(1, "show ssp redundancy").splitlines()[1] == (
        f"Device has been ACTIVE for {format_duration(pair.now - took_over)}"
    )
    peers = pair.show(1, "show ssp peers").splitlines()
    # The client retries every second; each attempt fails at once here.
    assert peers[2] == "172.16.31.100   Not Connected    FastEthernet0/0"
    assert pair.show(1, "show crypto ipsec ha").splitlines()[1] == (
        f"FastEthernet0/1 40.0.0.1      2      Active since {format_since(EPOCH_MS + took_over)}"
    )

    # The promoted copy carries traffic; its counters count packets, not the jump.
    _send_traffic(pair, 1, 1, 0)
    (sent,) = [o for o in pair.kept[1] if isinstance(o, SendUdp4500)]
    assert sent.seq > 1_000_000  # the takeover's jump reached the wire
    text = pair.show(1, "show crypto ipsec sa").splitlines()
    assert "    #pkts encaps: 1, #pkts encrypt: 1, #pkts digest 1" in text
    assert text.count("    HA Status: ACTIVE") == 2
