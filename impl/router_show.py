"""The ``show`` views of a live :class:`~vpnha.impl.router.Router`.

Theory of operation
-------------------
:class:`RouterShow` is the :class:`~vpnha.impl.show.ShowProvider` of one router: each
method reads the router's live state once and returns the frozen view records that
:mod:`vpnha.impl.show` renders. It changes nothing, keeps nothing between calls and
reads no clock: ``now()`` gives the router's current milliseconds, and an instant
the document prints as wall-clock time ("Active since 13:00:16 UTC ...") is
``epoch_ms + router time``.

Where the views come from:

- ``show standby brief``: the two HSRP speakers (interface, group, current
  priority after tracking, preempt, state, active / standby router, virtual IP).
- ``show ssp packet`` / ``peers`` / ``redundancy``: the current (or last) SSP
  connection's counters; the configured ``remote`` with the connection's state and
  the interface on its subnet; the device role, how long it has held, and the
  groups named by ``redundancy``.
- ``show crypto ipsec ha`` / ``isakmp ha`` / ``isakmp ssp``: the HA managers
  follow the device role (the SA database takes over and hands back on it), so
  their state and "since" are the role's. IPsec HA is shown per interface with
  ``crypto map NAME ssp ID`` (SAs counted per direction, two per pair, as the crypto
  card counts them); IKE HA per virtual IP when ``crypto isakmp ssp ID`` is set.
- ``show crypto isakmp sa``: the SA database's IKE SAs, QM_IDLE, ACTIVE or STDBY
  (there is no IKE core yet and the router has no input that installs one, so
  these tables are empty today).
- ``show crypto ipsec sa``: the SA database's pairs grouped per crypto map
  interface and flow (peer, proxies), with SPIs, transforms, remaining lifetimes and
  HA status. The ``#pkts`` lines are the data path's per-SA ESP counters on this
  router: the database holds sequence numbers, not packet counts, and after a
  takeover its outbound number includes the jump, which was never sent.

What the router does not hold is left empty or zero, never made up: the HA stamp
(0), the flow id (0), the client's ephemeral TCP port (0), flow flags (none).
Connection ids are the SA ids the database and the crypto card know the SA by.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv4Network
from typing import Final

from vpnha.impl.config.schema import InterfaceConfig, RouterConfig
from vpnha.impl.dataplane import transform_of
from vpnha.impl.debug import is_debug_command
from vpnha.impl.esp import SaCounters
from vpnha.impl.hsrp import HsrpState
from vpnha.impl.router import DeviceRole, Router, Side, SspLink
from vpnha.impl.sadb import HaStatus, IkeSa, IpsecSaPair, SadbCounters
from vpnha.impl.show import (
    DeviceRoleName,
    HaManagerState,
    HsrpStateName,
    IkeSaView,
    IpsecCounters,
    IpsecFlowView,
    IpsecHaRow,
    IpsecInterfaceView,
    IpsecSaView,
    IsakmpHaRow,
    IsakmpSspRow,
    ProxyIdent,
    SaDirection,
    SaHaStatus,
    SaProtocol,
    SspPacketView,
    SspPeerRow,
    SspPeerState,
    SspRedundancyRow,
    SspRedundancyView,
    StandbyBriefRow,
    render,
)

__all__ = ["RouterShow", "show"]

_HSRP_STATES: Final[dict[HsrpState, HsrpStateName]] = {
    HsrpState.INITIAL: "Init",
    HsrpState.LEARN: "Learn",
    HsrpState.LISTEN: "Listen",
    HsrpState.SPEAK: "Speak",
    HsrpState.STANDBY: "Standby",
    HsrpState.ACTIVE: "Active",
}
_ROLES: Final[dict[DeviceRole, DeviceRoleName]] = {
    DeviceRole.ACTIVE: "ACTIVE",
    DeviceRole.STANDBY: "STANDBY",
    DeviceRole.INIT: "INIT",
}
_HA_STATES: Final[dict[DeviceRole, HaManagerState]] = {
    DeviceRole.ACTIVE: "Active",
    DeviceRole.STANDBY: "Standby",
    DeviceRole.INIT: "Init",
}
_KILOBYTE: Final = 1024
_SAS_PER_PAIR: Final = 2
"""An SA pair is two SAs, one per direction (as the crypto card counts them)."""
_UNKNOWN_PORT: Final = 0
"""The client's TCP port is the operating system's choice, unknown to the core."""


def _esp_names(transforms: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name for name in transforms if name.startswith("esp-"))


def _protocol(transforms: tuple[str, ...]) -> SaProtocol:
    """The SA's security protocol: ESP when any ESP transform is in it, else AH."""
    return "esp" if _esp_names(transforms) else "ah"


def _sum_counters(counters: Sequence[SaCounters]) -> IpsecCounters:
    """A flow's ``#pkts`` lines: the sum of its SAs' ESP counters on this router."""
    return IpsecCounters(
        encaps=sum(c.pkts_encaps for c in counters),
        encrypt=sum(c.pkts_encrypt for c in counters),
        digest=sum(c.pkts_digest for c in counters),
        decaps=sum(c.pkts_decaps for c in counters),
        decrypt=sum(c.pkts_decrypt for c in counters),
        verify=sum(c.pkts_verify for c in counters),
        send_errors=sum(c.send_errors for c in counters),
        recv_errors=sum(c.recv_errors for c in counters),
        invalid_sa_recv=sum(c.drops_unknown_spi for c in counters),
        decaps_failed=sum(
            c.drops_padding + c.drops_next_header + c.drops_malformed for c in counters
        ),
        verify_failed=sum(c.drops_icv for c in counters),
        invalid_len=sum(c.drops_too_short for c in counters),
        replay_rollover_send=sum(c.drops_seq_exhausted for c in counters),
        replay_failed=sum(c.drops_replay for c in counters),
    )


class RouterShow:
    """The :class:`~vpnha.impl.show.ShowProvider` over one live router (read-only)."""

    def __init__(self, router: Router, *, now: Callable[[], int], epoch_ms: int = 0) -> None:
        """``now()`` is the router's time, ms; ``epoch_ms`` is wall-clock ms at router time 0."""
        self._router = router
        self._now = now
        self._epoch_ms = epoch_ms

    # --- helpers -----------------------------------------------------------------------

    def _wall(self, router_ms: int) -> int:
        """A router instant as wall-clock ms since the Unix epoch."""
        return self._epoch_ms + router_ms

    def _side_of(self, interface: InterfaceConfig) -> Side | None:
        for side in Side:
            if self._router.core.interface(side).name == interface.name:
                return side
        return None

    def _virtual_ip(self, interface: InterfaceConfig) -> IPv4Address | None:
        """The interface's virtual IP: the running speaker's, else the configured one."""
        side = self._side_of(interface)
        if side is not None:
            return self._router.core.group(side).virtual_ip
        for group in interface.standby_groups:
            if group.virtual_ip is not None:
                return group.virtual_ip
        return None

    def _local_address(self, interface: InterfaceConfig) -> IPv4Address | None:
        """The crypto map's local address: the virtual IP with IPsec HA, else the interface's."""
        if interface.crypto_map_ssp is not None:
            vip = self._virtual_ip(interface)
            if vip is not None:
                return vip
        return None if interface.address is None else interface.address.ip

    def _ike_interface(self) -> InterfaceConfig | None:
        """The interface whose virtual IP IKE HA serves (``crypto isakmp ssp ID``), or None."""
        ssp_id = self._router.config.isakmp_ssp_id
        if ssp_id is None:
            return None
        for interface in self._router.config.interfaces:
            if interface.crypto_map_ssp == ssp_id:
                return interface
        return self._router.core.interface(Side.OUTSIDE)

    def _ike_local(self) -> IPv4Address:
        """Our end of every IKE SA: the outside virtual IP (the interface's own if unknown)."""
        vip = self._router.outside_virtual_ip()
        if vip is not None:
            return vip
        address = self._router.core.interface(Side.OUTSIDE).address
        assert address is not None  # Router refuses an outside interface without one
        return address.ip

    def _ha_state(self) -> tuple[HaManagerState, int]:
        """The HA managers' state (the device role's) and since when, wall-clock ms."""
        core = self._router.core
        return _HA_STATES[core.role], self._wall(core.role_since_ms)

    def _esp_counters(self, sa: IpsecSaPair) -> list[SaCounters]:
        """The data path's ESP counters of ``sa`` on this router (none before its first use)."""
        return list(self._router.sa_table.esp_counters(sa))

    def _sa_views(self, sa: IpsecSaPair, *, ha: bool) -> tuple[IpsecSaView, IpsecSaView]:
        """The inbound and outbound SA of a pair."""
        esp = transform_of(_esp_names(sa.transforms))
        protocol = _protocol(sa.transforms)
        iv_size = esp.iv_length if protocol == "esp" and esp is not None else None
        replay = any(name.startswith("ah-") for name in sa.transforms) or (
            esp is not None and (esp.authentication is not None or esp.is_aead)
        )
        remaining_bytes = max(0, sa.lifetime_bytes - sa.bytes_used)
        status: SaHaStatus | None = None
        if ha:
            status = "ACTIVE" if sa.status is HaStatus.ACTIVE else "STANDBY"
        directions: tuple[tuple[SaDirection, int], ...] = (
            ("inbound", sa.inbound_spi),
            ("outbound", sa.outbound_spi),
        )
        views = tuple(
            IpsecSaView(
                direction=direction,
                protocol=protocol,
                spi=spi,
                transforms=sa.transforms,
                conn_id=sa.sa_id,
                flow_id=0,
                crypto_map=sa.crypto_map,
                remaining_kilobytes=remaining_bytes // _KILOBYTE,
                remaining_lifetime_ms=sa.expiry_ms - self._now(),
                iv_size_bytes=iv_size,
                replay_detection=replay,
                ha_status=status,
            )
            for direction, spi in directions
        )
        return views[0], views[1]

    def _flows(self, interface: InterfaceConfig, local: IPv4Address) -> tuple[IpsecFlowView, ...]:
        """The interface's crypto map SAs grouped by (peer, local proxy, remote proxy)."""
        ha = interface.crypto_map_ssp is not None
        groups: dict[tuple[IPv4Address, IPv4Network, IPv4Network], list[IpsecSaPair]] = {}
        for sa in self._router.sadb.ipsec_sas():
            if sa.crypto_map == interface.crypto_map:
                key = (sa.peer, sa.local_proxy, sa.remote_proxy)
                groups.setdefault(key, []).append(sa)
        flows: list[IpsecFlowView] = []
        for pairs in groups.values():
            first = pairs[0]
            in_use = max(
                pairs,
                key=lambda sa: (sa.status is HaStatus.ACTIVE, not sa.rekey_needed, sa.expiry_ms),
            )
            flows.append(
                IpsecFlowView(
                    local_ident=ProxyIdent(network=first.local_proxy),
                    remote_ident=ProxyIdent(network=first.remote_proxy),
                    current_peer=first.peer,
                    counters=_sum_counters([c for sa in pairs for c in self._esp_counters(sa)]),
                    local_endpoint=local,
                    remote_endpoint=first.peer,
                    current_outbound_spi=in_use.outbound_spi,
                    sas=tuple(view for sa in pairs for view in self._sa_views(sa, ha=ha)),
                )
            )
        return tuple(flows)

    # --- ShowProvider --------------------------------------------------------------------

    def standby_brief(self) -> list[StandbyBriefRow]:
        """Both HSRP speakers in configuration order (``show standby brief``)."""
        rows: list[StandbyBriefRow] = []
        for interface in self._router.config.interfaces:
            side = self._side_of(interface)
            if side is None:
                continue
            group = self._router.core.group(side)
            rows.append(
                StandbyBriefRow(
                    interface=interface.name,
                    group=group.group,
                    priority=group.effective_priority,
                    preempt=group.preempt,
                    state=_HSRP_STATES[group.state],
                    active_router=group.active_router,
                    standby_router=group.standby_router,
                    virtual_ip=group.virtual_ip,
                    preempt_delay_minimum_s=group.config.preempt_delay_minimum_ms // 1000,
                    preempt_delay_reload_s=group.config.preempt_delay_reload_ms // 1000,
                    preempt_delay_sync_s=group.config.preempt_delay_sync_ms // 1000,
                    configured_priority=group.priority,
                    hello_ms=group.config.hello_ms,
                    hold_ms=group.config.hold_ms,
                    name=interface.standby_groups[0].name if interface.standby_groups else None,
                )
            )
        return rows

    def ssp_packet(self) -> SspPacketView:
        """The current (or last) SSP connection's counters (``show ssp packet``)."""
        router = self._router
        port = router.config.ssp_groups[0].port
        local_port = _UNKNOWN_PORT if router.ssp_is_client else port
        counters = router.ssp_counters()
        if counters is None:
            return SspPacketView(
                socket_created_epoch_ms=None, local_port=local_port, server_port=port
            )
        created = counters.created_ms
        return SspPacketView(
            socket_created_epoch_ms=None if created is None else self._wall(created),
            local_port=local_port,
            server_port=port,
            packets_sent=counters.packets_sent,
            bytes_sent=counters.bytes_sent,
            packets_received=counters.packets_received,
            bytes_received=counters.bytes_received,
            drops=tuple((str(reason), count) for reason, count in counters.drops.items() if count),
        )

    def ssp_peers(self) -> list[SspPeerRow]:
        """The configured ``remote``, its connection state and our interface towards it."""
        router = self._router
        connection = router.ssp_connection
        state: SspPeerState
        if connection is not None and connection.established:
            state = "Connected"
        elif router.ssp_link is SspLink.CONNECTING or connection is not None:
            state = "Connecting"
        else:
            state = "Not Connected"
        local = next(
            (
                i.name
                for i in router.config.interfaces
                if i.address is not None and i.address.ip == router.ssp_address
            ),
            "",
        )
        remote = router.config.ssp_groups[0].remote
        return [SspPeerRow(address=remote, state=state, local_interface=local)]

    def ssp_redundancy(self) -> SspRedundancyView:
        """The device role, how long it has held, and the groups named by ``redundancy``."""
        core = self._router.core
        config = self._router.config
        groups: list[SspRedundancyRow] = []
        for name in config.ssp_groups[0].redundancy_names:
            found = config.standby_group_named(name)
            if found is None:
                continue
            interface, _ = found
            groups.append(
                SspRedundancyRow(
                    virtual_ip=self._virtual_ip(interface), name=name, interface=interface.name
                )
            )
        return SspRedundancyView(
            role=_ROLES[core.role],
            role_duration_ms=self._now() - core.role_since_ms,
            groups=tuple(groups),
        )

    def ipsec_ha(self) -> list[IpsecHaRow]:
        """IPsec HA manager state per interface with ``crypto map NAME ssp ID``."""
        state, since = self._ha_state()
        pairs = self._router.sadb.ipsec_sas()
        return [
            IpsecHaRow(
                interface=interface.name,
                virtual_ip=self._virtual_ip(interface),
                sa_count=_SAS_PER_PAIR * sum(sa.crypto_map == interface.crypto_map for sa in pairs),
                state=state,
                since_epoch_ms=since,
            )
            for interface in self._router.config.interfaces
            if interface.crypto_map is not None and interface.crypto_map_ssp is not None
        ]

    def isakmp_ha(self) -> list[IsakmpHaRow]:
        """IKE HA manager state for the virtual IP of ``crypto isakmp ssp ID`` (none if unset)."""
        interface = self._ike_interface()
        if interface is None:
            return []
        state, since = self._ha_state()
        return [
            IsakmpHaRow(
                virtual_ip=self._virtual_ip(interface),
                sa_count=len(self._router.sadb.ike_sas()),
                stamp=0,
                state=state,
                since_epoch_ms=since,
            )
        ]

    def ike_sas(self) -> list[IkeSaView]:
        """Every IKE SA the database holds, ACTIVE or STDBY (all QM_IDLE)."""
        local = self._ike_local()
        return [self._ike_view(sa, local) for sa in self._router.sadb.ike_sas()]

    @staticmethod
    def _ike_view(sa: IkeSa, local: IPv4Address) -> IkeSaView:
        # dst/src are the first exchange's: the responder and the initiator.
        dst, src = (sa.peer, local) if sa.is_initiator else (local, sa.peer)
        return IkeSaView(
            dst=dst,
            src=src,
            state="QM_IDLE",
            i_cookie=sa.initiator_cookie,
            r_cookie=sa.responder_cookie,
            conn_id=sa.sa_id,
            status="ACTIVE" if sa.status is HaStatus.ACTIVE else "STDBY",
        )

    def isakmp_ssp(self) -> list[IsakmpSspRow]:
        """The database's replication counters for the IKE HA virtual IP (none if unset).

        The database counts both DOIs together: ADDS are the adds it sent, DELETES the
        deletes it sent, REQUESTS the resync requests it received, REPLIES the ACKs and
        REFUSEs it received that answered something it sent.
        """
        interface = self._ike_interface()
        if interface is None:
            return []
        counters: SadbCounters = self._router.sadb.counters
        return [
            IsakmpSspRow(
                virtual_ip=self._virtual_ip(interface),
                adds=counters.adds_sent,
                deletes=counters.deletes_sent,
                requests=counters.resync_requests,
                replies=counters.replies_received,
            )
        ]

    def ipsec_sas(self) -> list[IpsecInterfaceView]:
        """Every interface with a crypto map, its flows and their SAs."""
        views: list[IpsecInterfaceView] = []
        for interface in self._router.config.interfaces:
            if interface.crypto_map is None:
                continue
            local = self._local_address(interface)
            if local is None:
                continue
            views.append(
                IpsecInterfaceView(
                    interface=interface.name,
                    crypto_map=interface.crypto_map,
                    local_address=local,
                    flows=self._flows(interface, local),
                )
            )
        return views

    def config(self) -> RouterConfig:
        """The running configuration."""
        return self._router.config


def show(router: Router, command: str, *, now: Callable[[], int], epoch_ms: int = 0) -> str:
    """Run one ``show`` command line on ``router``: its text, or IOS-style error text.

    The privileged EXEC debug commands go through here too (``debug crypto isakmp ha
    update``, ``no debug …``, ``undebug all``), with ``show debugging`` and ``show
    logging`` (the lines the debugs produced).
    """
    if is_debug_command(command):
        return router.debug.execute(command, wall=lambda ms: epoch_ms + ms)
    return render(command, RouterShow(router, now=now, epoch_ms=epoch_ms))
