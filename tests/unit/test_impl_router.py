"""impl/router: the HSRP pair of each router, tracking, standby delays and the device role.

Two ``RouterCore``s built from the shipped configurations are wired through an
in-test segment per side (every datagram delivered after 1 ms), driven by their
own deadlines.
"""

from __future__ import annotations

import dataclasses
from ipaddress import IPv4Address

import pytest
from vpnha.impl.config import load_config
from vpnha.impl.entropy import SeededEntropy
from vpnha.impl.hsrp import HsrpState
from vpnha.impl.router import (
    DeviceRole,
    RoleChanged,
    RouterCore,
    SendLan,
    SendUdp4500,
    Side,
    _send_lan,
    _send_udp4500,
)
from vpnha.properties.scenarios import example_path

LATENCY_MS = 1
START_MS = 1_000


class Pair:
    """Two router cores on shared inside and outside segments."""

    def __init__(self) -> None:
        self.now = START_MS
        self.routers = [
            RouterCore(load_config(example_path(name)), entropy=SeededEntropy(i), now=self.now)
            for i, name in enumerate(("router1.cfg", "router2.cfg"))
        ]
        self.alive = [True, True]
        self.in_flight: list[tuple[int, int, Side, bytes]] = []
        self.roles: list[list[RoleChanged]] = [[], []]
        self.sent: list[tuple[int, int, Side]] = []

    def address(self, index: int, side: Side) -> IPv4Address:
        iface = self.routers[index].interface(side)
        assert iface.address is not None
        return iface.address.ip

    def _collect(self) -> None:
        for index, router in enumerate(self.routers):
            for side, payload in router.datagrams_to_send(self.now):
                if self.alive[index]:
                    self.sent.append((self.now, index, side))
                    self.in_flight.append((self.now + LATENCY_MS, index, side, payload))
            while (event := router.next_event()) is not None:
                if isinstance(event, RoleChanged):
                    self.roles[index].append(event)

    def run(self, ms: int) -> None:
        end = self.now + ms
        self._collect()
        while True:
            deadlines = [t for t, *_ in self.in_flight]
            deadlines += [
                d
                for i, r in enumerate(self.routers)
                if self.alive[i] and (d := r.get_timer()) is not None
            ]
            if not deadlines or min(deadlines) > end:
                break
            self.now = max(self.now, min(deadlines))
            due = [m for m in self.in_flight if m[0] <= self.now]
            self.in_flight = [m for m in self.in_flight if m[0] > self.now]
            for _, sender, side, payload in due:
                receiver = 1 - sender
                if self.alive[receiver]:
                    src = self.address(sender, side)
                    self.routers[receiver].receive_hsrp(side, payload, src, self.now)
            for index, router in enumerate(self.routers):
                if self.alive[index]:
                    router.handle_timer(self.now)
            self._collect()
        self.now = end

    def crash(self, index: int) -> None:
        self.alive[index] = False
        self.in_flight = [m for m in self.in_flight if m[1] != index]

    def states(self, index: int) -> tuple[HsrpState, HsrpState]:
        router = self.routers[index]
        return router.group(Side.INSIDE).state, router.group(Side.OUTSIDE).state


def test_nothing_starts_before_standby_delay_reload() -> None:
    pair = Pair()
    pair.run(59_000)
    assert pair.states(0) == (HsrpState.INITIAL, HsrpState.INITIAL)
    assert pair.routers[0].role is DeviceRole.INIT


def test_election_gives_router1_both_groups_and_the_active_role() -> None:
    pair = Pair()
    pair.run(75_000)
    assert pair.states(0) == (HsrpState.ACTIVE, HsrpState.ACTIVE)
    assert pair.states(1) == (HsrpState.STANDBY, HsrpState.STANDBY)
    assert pair.routers[0].role is DeviceRole.ACTIVE
    assert pair.routers[1].role is DeviceRole.STANDBY
    assert [e.new for e in pair.roles[0]] == [DeviceRole.ACTIVE]


def test_crash_of_the_active_hands_both_groups_over_within_the_hold_time() -> None:
    pair = Pair()
    pair.run(75_000)
    crashed_at = pair.now
    pair.crash(0)
    pair.run(3_500)
    assert pair.states(1) == (HsrpState.ACTIVE, HsrpState.ACTIVE)
    assert pair.routers[1].role is DeviceRole.ACTIVE
    took_over = pair.routers[1].role_since_ms
    assert crashed_at < took_over <= crashed_at + 3_000


def test_inside_interface_down_moves_both_groups_through_tracking() -> None:
    pair = Pair()
    pair.run(75_000)
    pair.routers[0].interface_down(Side.INSIDE, pair.now)
    assert pair.routers[0].group(Side.OUTSIDE).effective_priority == 90
    pair.run(5_000)
    assert pair.states(1) == (HsrpState.ACTIVE, HsrpState.ACTIVE)
    assert pair.routers[1].role is DeviceRole.ACTIVE
    assert pair.routers[0].role is DeviceRole.INIT


def test_interface_up_restores_priority_at_once_but_waits_standby_delay_minimum() -> None:
    """The black hole lint warns about (preempt-before-delay), shown on the implementation."""
    pair = Pair()
    pair.run(75_000)
    pair.routers[0].interface_down(Side.INSIDE, pair.now)
    pair.run(5_000)
    pair.routers[0].interface_up(Side.INSIDE, pair.now)
    assert pair.routers[0].group(Side.OUTSIDE).effective_priority == 100
    pair.run(5_000)
    # The outside preempted at once; the inside is still waiting its 30 s.
    assert pair.states(0) == (HsrpState.INITIAL, HsrpState.ACTIVE)
    assert pair.routers[0].role is DeviceRole.INIT
    assert pair.routers[1].role is DeviceRole.INIT
    pair.run(35_000)
    assert pair.states(0) == (HsrpState.ACTIVE, HsrpState.ACTIVE)
    assert pair.routers[0].role is DeviceRole.ACTIVE


def test_no_datagrams_leave_a_down_interface() -> None:
    pair = Pair()
    pair.run(75_000)
    since = pair.now
    pair.routers[1].interface_down(Side.OUTSIDE, pair.now)
    pair.run(2_000)
    sides = [side for t, index, side in pair.sent if index == 1 and t > since]
    assert Side.INSIDE in sides  # router 2 still says Hello on the inside…
    assert Side.OUTSIDE not in sides  # …and nothing leaves its down interface


def test_per_packet_outputs_are_the_constructors_records() -> None:
    """The router builds its two per-packet outputs without their ``__init__``: every
    field is set (comparing reads each one) and the records stay frozen."""
    vip, peer = IPv4Address("40.0.0.1"), IPv4Address("192.168.3.1")
    built = _send_udp4500(vip, peer, 0x1234, 9, b"esp")
    assert built == SendUdp4500(src=vip, dst=peer, spi=0x1234, seq=9, payload=b"esp")
    assert _send_lan(b"inner") == SendLan(ip_packet=b"inner")
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.seq = 10  # type: ignore[misc]
