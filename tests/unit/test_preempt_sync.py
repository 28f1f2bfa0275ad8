"""``standby N preempt delay minimum M reload R sync S`` in the implementation.

The speaker (impl/hsrp/core.py, project rule 5): the delay in force is reload for the
first enable since the speaker was made (the router booted), minimum afterwards; with
sync and a redundancy client it then waits for the client, at most S. The SA database
(impl/sadb.py, "Synchronised") says when SSP's client is synchronised, and the router
(impl/router.py) wires the two for the groups the SSP group names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address

import pytest
from vpnha.impl.config import CryptoCard, RouterConfig, parse_config
from vpnha.impl.entropy import SeededEntropy
from vpnha.impl.errors import LocalProtocolError
from vpnha.impl.hsrp import HsrpGroup, HsrpGroupConfig, HsrpPacket, HsrpState, OpCode, encode
from vpnha.impl.hsrp.wire import DEFAULT_AUTHENTICATION
from vpnha.impl.router import Router, RouterCore, Side
from vpnha.impl.router_show import RouterShow
from vpnha.impl.sadb import SaDatabase
from vpnha.impl.show import StandbyBriefRow, preemption_line, show_standby
from vpnha.impl.ssp.messages import BulkBegin, BulkEnd, RoleChange
from vpnha.impl.ssp.wire import DeviceRole, Doi
from vpnha.impl.vam import CryptoEngine
from vpnha.properties.machines import lockstep_config_texts
from vpnha.properties.world import World

T0 = 1_000
HELLO_MS = 3_000
HOLD_MS = 10_000
ME = IPv4Address("10.0.0.2")
LOWER_ACTIVE = IPv4Address("10.0.0.1")  # same priority, lower address: event h
VIP = IPv4Address("10.0.0.254")


def lower_active_hello() -> bytes:
    """A Hello from the Active router with a lower (priority, address): event h."""
    return encode(
        HsrpPacket(
            op_code=OpCode.HELLO,
            state=HsrpState.ACTIVE,
            hello_time_s=3,
            hold_time_s=10,
            priority=100,
            group=1,
            authentication=DEFAULT_AUTHENTICATION,
            virtual_ip=VIP,
        )
    )


@dataclass
class Speaker:
    """One speaker at ME with preempt and the given delays; ``synchronised`` is what its
    redundancy client answers (None: it has no client)."""

    minimum_ms: int = 0
    reload_ms: int = 0
    sync_ms: int = 0
    synchronised: bool | None = False
    group: HsrpGroup = field(init=False)
    heard_ms: int | None = None

    def __post_init__(self) -> None:
        config = HsrpGroupConfig(
            group=1,
            address=ME,
            virtual_ip=VIP,
            preempt=True,
            preempt_delay_minimum_ms=self.minimum_ms,
            preempt_delay_reload_ms=self.reload_ms,
            preempt_delay_sync_ms=self.sync_ms,
            hello_ms=HELLO_MS,
            hold_ms=HOLD_MS,
        )
        probe = None if self.synchronised is None else self._probe
        self.group = HsrpGroup(config, SeededEntropy(3), clients_synchronised=probe)

    def _probe(self) -> bool:
        return bool(self.synchronised)

    def h(self, now: int) -> HsrpState:
        """Deliver event h at ``now``, after one every hello time since the last (so the
        Active timer never expires) and the timers due before each; the state after."""
        last = self.heard_ms
        if last is not None:
            while last + HELLO_MS < now:
                last += HELLO_MS
                self._hear(last)
        self._hear(now)
        return self.group.state

    def _hear(self, now: int) -> None:
        while (deadline := self.group.get_timer()) is not None and deadline < now:
            self.group.handle_timer(deadline)
        self.group.receive_datagram(lower_active_hello(), LOWER_ACTIVE, now)
        self.heard_ms = now


# -- the delay in force: reload once after boot, then minimum ------------------------------


def test_reload_replaces_minimum_for_the_first_enable_only() -> None:
    speaker = Speaker(minimum_ms=10_000, reload_ms=60_000, synchronised=None)
    assert speaker.group.preempt_delay_ms == 60_000  # what the first enable will use
    speaker.group.enable(T0)
    assert speaker.h(T0 + 10_000) is HsrpState.LISTEN  # minimum passed, reload not
    assert speaker.h(T0 + 59_999) is not HsrpState.ACTIVE
    assert speaker.h(T0 + 60_000) is HsrpState.ACTIVE
    # An interface flap: the next enable uses minimum.
    later = T0 + 100_000
    speaker.group.disable(later)
    speaker.group.enable(later)
    assert speaker.group.preempt_delay_ms == 10_000
    assert speaker.h(later + 9_999) is not HsrpState.ACTIVE
    assert speaker.h(later + 10_000) is HsrpState.ACTIVE


def test_reload_zero_means_minimum_from_the_first_enable() -> None:
    speaker = Speaker(minimum_ms=10_000, reload_ms=0, synchronised=None)
    speaker.group.enable(T0)
    assert speaker.group.preempt_delay_ms == 10_000
    assert speaker.h(T0 + 9_999) is not HsrpState.ACTIVE
    assert speaker.h(T0 + 10_000) is HsrpState.ACTIVE


def test_a_shorter_reload_applies_too() -> None:
    """Reload is not a floor on minimum: it replaces it for the first enable."""
    speaker = Speaker(minimum_ms=30_000, reload_ms=5_000, synchronised=None)
    speaker.group.enable(T0)
    assert speaker.h(T0 + 5_000) is HsrpState.ACTIVE


def test_negative_delays_are_refused_naming_the_field() -> None:
    for field_name in ("preempt_delay_reload_ms", "preempt_delay_sync_ms"):
        with pytest.raises(LocalProtocolError, match=field_name.split("_")[2]):
            HsrpGroupConfig(group=1, address=ME, **{field_name: -1})  # type: ignore[arg-type]


# -- sync: wait for the redundancy client, at most S --------------------------------------


def test_sync_holds_preemption_until_the_client_is_synchronised() -> None:
    speaker = Speaker(minimum_ms=1_000, sync_ms=30_000, synchronised=False)
    speaker.group.enable(T0)
    assert speaker.h(T0 + 500) is HsrpState.LISTEN  # minimum not over: no wait yet
    assert speaker.group.sync_wait_from_ms is None
    assert speaker.h(T0 + 1_000) is HsrpState.LISTEN  # would preempt: the wait starts
    assert speaker.group.sync_wait_from_ms == T0 + 1_000
    assert speaker.h(T0 + 20_000) is not HsrpState.ACTIVE
    speaker.synchronised = True
    assert speaker.h(T0 + 20_500) is HsrpState.ACTIVE
    assert speaker.group.sync_wait_from_ms is None


def test_sync_gives_up_after_s() -> None:
    speaker = Speaker(sync_ms=3_000, synchronised=False)
    speaker.group.enable(T0)
    assert speaker.h(T0 + 100) is HsrpState.LISTEN
    assert speaker.h(T0 + 3_099) is not HsrpState.ACTIVE
    assert speaker.h(T0 + 3_100) is HsrpState.ACTIVE


@pytest.mark.parametrize(
    ("sync_ms", "synchronised"),
    [(3_000, None), (0, False), (3_000, True)],
    ids=["no-client", "no-sync-configured", "already-synchronised"],
)
def test_no_wait(sync_ms: int, synchronised: bool | None) -> None:
    speaker = Speaker(sync_ms=sync_ms, synchronised=synchronised)
    speaker.group.enable(T0)
    assert speaker.h(T0 + 100) is HsrpState.ACTIVE


def test_the_wait_starts_again_after_a_disable_or_preempt_off() -> None:
    speaker = Speaker(sync_ms=3_000, synchronised=False)
    speaker.group.enable(T0)
    speaker.h(T0 + 100)
    assert speaker.group.sync_wait_from_ms == T0 + 100
    speaker.group.disable(T0 + 200)
    assert speaker.group.sync_wait_from_ms is None
    speaker.group.enable(T0 + 300)
    assert speaker.h(T0 + 400) is HsrpState.LISTEN
    assert speaker.group.sync_wait_from_ms == T0 + 400
    speaker.group.set_preempt(False, T0 + 500)
    speaker.h(T0 + 600)  # preempt off: no wait
    assert speaker.group.sync_wait_from_ms is None
    speaker.group.set_preempt(True, T0 + 700)
    assert speaker.h(T0 + 3_500) is not HsrpState.ACTIVE  # a new wait from here
    assert speaker.h(T0 + 6_500) is HsrpState.ACTIVE


# -- the SA database: synchronised ---------------------------------------------------------


def make_db() -> SaDatabase:
    return SaDatabase(engine=CryptoEngine(CryptoCard()), entropy=SeededEntropy(1), grace_ms=4_000)


def whole_copy(db: SaDatabase, seq: int, now: int, *, ipsec_count: int = 0) -> int:
    """BULK_BEGIN/BULK_END of both DOIs (no adds): complete when ``ipsec_count`` is 0."""
    for doi, count in ((Doi.IPSEC, ipsec_count), (Doi.IKE, 0)):
        db.handle_ssp_message(BulkBegin(doi=doi, entry_count=count), seq, now)
        db.handle_ssp_message(BulkEnd(doi=doi, entry_count=count), seq + 1, now)
        seq += 2
    return seq


def test_synchronised_follows_connection_role_and_bulk_end() -> None:
    db = make_db()
    now = T0
    assert not db.synchronised  # no connection
    db.ssp_connected(now)
    assert not db.synchronised  # the other end's role is not known yet
    db.handle_ssp_message(RoleChange(role=DeviceRole.STANDBY), 1, now)
    assert db.synchronised  # it is not ACTIVE: nothing to copy
    db.handle_ssp_message(RoleChange(role=DeviceRole.ACTIVE, answer_requested=True), 2, now)
    assert not db.synchronised  # it became ACTIVE: a new full copy comes
    db.handle_ssp_message(BulkBegin(doi=Doi.IPSEC, entry_count=0), 3, now)
    db.handle_ssp_message(BulkEnd(doi=Doi.IPSEC, entry_count=0), 4, now)
    assert not db.synchronised  # the IKE copy has not arrived
    db.handle_ssp_message(BulkBegin(doi=Doi.IKE, entry_count=0), 5, now)
    assert not db.synchronised
    db.handle_ssp_message(BulkEnd(doi=Doi.IKE, entry_count=0), 6, now)
    assert db.synchronised
    db.handle_ssp_message(RoleChange(role=DeviceRole.ACTIVE), 7, now)
    assert db.synchronised  # still ACTIVE (an answer): no new copy, nothing lost
    db.handle_ssp_message(BulkBegin(doi=Doi.IPSEC, entry_count=0), 8, now)
    assert not db.synchronised  # another copy started
    db.handle_ssp_message(BulkEnd(doi=Doi.IPSEC, entry_count=0), 9, now)
    assert db.synchronised
    db.request_resync(now, Doi.IKE)
    assert not db.synchronised  # the IKE copies were cleared
    whole_copy(db, 10, now)
    assert db.synchronised
    db.ssp_disconnected(now)
    assert not db.synchronised
    db.ssp_connected(now)
    assert not db.synchronised


def test_a_bulk_end_whose_count_differs_is_not_synchronised() -> None:
    db = make_db()
    db.ssp_connected(T0)
    db.handle_ssp_message(RoleChange(role=DeviceRole.ACTIVE), 1, T0)
    whole_copy(db, 2, T0, ipsec_count=1)  # announces one add, none arrived
    assert db.counters.bulk_mismatches == 1
    assert not db.synchronised


# -- the router: which groups wait, and for what -------------------------------------------

MINIMUM_S, RELOAD_S, SYNC_S = 1, 4, 3
STANDBY_DELAY_RELOAD_MS = 2_000  # "standby delay minimum 2 reload 2" (lockstep configs)


def pair_configs(*, isp_redundant: bool = True) -> tuple[RouterConfig, RouterConfig]:
    """The lockstep pair with every preempt delay set; without ``isp_redundant`` the SSP
    group names only LAN, so the outside (ISP) group has no redundancy client."""
    preempt = f"preempt delay minimum {MINIMUM_S} reload {RELOAD_S} sync {SYNC_S}"
    parsed = []
    for index, original in enumerate(lockstep_config_texts()):
        text = original.replace("standby 1 preempt\n", f"standby 1 {preempt}\n")
        text = text.replace("standby 2 preempt\n", f"standby 2 {preempt}\n")
        if not isp_redundant:
            assert " redundancy ISP\n" in text
            text = text.replace(" redundancy ISP\n", "")
        parsed.append(parse_config(text, source=f"router{index + 1}.cfg"))
    return parsed[0], parsed[1]


def restarted(world: World, *, heal_after_ms: int | None) -> tuple[int, dict[str, int | None]]:
    """Router 0 (the preferred one) crashes, router 1 takes over, then router 0 restarts
    with SSP cut (healed ``heal_after_ms`` after the restart; None: never). Returns the
    restart instant and, per group and for the database, when router 0 first became
    Active / synchronised (None: not within 20 s)."""
    world.advance(30_000)
    world.crash(0)
    world.advance(30_000)
    world.ssp_cut()
    restart = world.now
    world.restart(0)
    first: dict[str, int | None] = {"inside": None, "outside": None, "synchronised": None}
    for step in range(1, 20_001):
        if heal_after_ms is not None and step == heal_after_ms:
            world.ssp_heal()
        world.advance(1)
        router = world.router(0)
        assert router is not None
        for side in Side:
            if first[side.value] is None and router.core.group(side).state is HsrpState.ACTIVE:
                first[side.value] = world.now
        if first["synchronised"] is None and router.sadb.synchronised:
            first["synchronised"] = world.now
    return restart, first


def test_the_restarted_router_preempts_only_once_its_copy_arrived() -> None:
    world = World(pair_configs(), now=T0, hsrp_jitter=False)
    restart, first = restarted(world, heal_after_ms=7_000)
    eligible = restart + STANDBY_DELAY_RELOAD_MS + RELOAD_S * 1000
    synced = first["synchronised"]
    assert synced is not None
    assert eligible < synced < eligible + SYNC_S * 1000
    for side in ("inside", "outside"):
        back = first[side]
        assert back is not None
        assert synced <= back <= synced + 500 + 2
    router = world.router(0)
    assert router is not None
    assert router.sadb.counters.bulk_mismatches == 0


def test_without_the_copy_it_preempts_s_after_the_wait_began() -> None:
    world = World(pair_configs(), now=T0, hsrp_jitter=False)
    restart, first = restarted(world, heal_after_ms=None)
    eligible = restart + STANDBY_DELAY_RELOAD_MS + RELOAD_S * 1000
    assert first["synchronised"] is None
    for side in ("inside", "outside"):
        back = first[side]
        assert back is not None
        assert eligible + SYNC_S * 1000 <= back <= eligible + SYNC_S * 1000 + 500 + 2


def test_a_group_the_ssp_group_does_not_name_does_not_wait() -> None:
    world = World(pair_configs(isp_redundant=False), now=T0, hsrp_jitter=False)
    restart, first = restarted(world, heal_after_ms=None)
    eligible = restart + STANDBY_DELAY_RELOAD_MS + RELOAD_S * 1000
    outside, inside = first["outside"], first["inside"]
    assert outside is not None
    assert eligible <= outside <= eligible + 500 + 2
    assert inside is not None
    assert inside >= eligible + SYNC_S * 1000


def test_a_core_without_a_client_does_not_wait() -> None:
    """``RouterCore`` alone (no SSP client given): the sync delay has nothing to wait for."""
    config, _ = pair_configs()
    core = RouterCore(config, entropy=SeededEntropy(1), now=T0)
    group = core.group(Side.INSIDE)  # no client: None given to the core
    assert group.config.preempt_delay_sync_ms == SYNC_S * 1000
    core.handle_timer(T0 + STANDBY_DELAY_RELOAD_MS)  # enabled: Listen
    eligible = T0 + STANDBY_DELAY_RELOAD_MS + RELOAD_S * 1000
    src = IPv4Address("172.16.31.6")  # router 2's inside address: lower, so event h
    hello = encode(
        HsrpPacket(
            op_code=OpCode.HELLO,
            state=HsrpState.ACTIVE,
            hello_time_s=1,
            hold_time_s=3,
            priority=100,
            group=1,
            authentication=DEFAULT_AUTHENTICATION,
            virtual_ip=IPv4Address("172.16.31.1"),
        )
    )
    core.receive_hsrp(Side.INSIDE, hello, src, eligible - 1)
    assert group.state is not HsrpState.ACTIVE
    core.receive_hsrp(Side.INSIDE, hello, src, eligible)
    assert group.state is HsrpState.ACTIVE


def test_a_router_asks_its_database() -> None:
    """``Router`` gives its named groups the database's answer (False before any SSP)."""
    config, _ = pair_configs()
    router = Router(config, entropy=SeededEntropy(1), now=T0)
    assert not router.sadb.synchronised
    group = router.core.group(Side.INSIDE)
    router.handle_timer(T0 + STANDBY_DELAY_RELOAD_MS)
    eligible = T0 + STANDBY_DELAY_RELOAD_MS + RELOAD_S * 1000
    hello = encode(
        HsrpPacket(
            op_code=OpCode.HELLO,
            state=HsrpState.ACTIVE,
            hello_time_s=1,
            hold_time_s=3,
            priority=100,
            group=1,
            authentication=DEFAULT_AUTHENTICATION,
            virtual_ip=IPv4Address("172.16.31.1"),
        )
    )
    router.receive_hsrp(Side.INSIDE, hello, IPv4Address("172.16.31.6"), eligible)
    assert group.state is not HsrpState.ACTIVE
    assert group.sync_wait_from_ms == eligible


# -- show standby ---------------------------------------------------------------------------


def test_show_standby_prints_the_preempt_delays_as_ios_does() -> None:
    config, _ = pair_configs()
    router = Router(config, entropy=SeededEntropy(1), now=T0)
    text = show_standby(RouterShow(router, now=lambda: T0).standby_brief())
    assert text.splitlines()[:9] == [
        "FastEthernet0/0 - Group 1",
        "  State is Init",
        "  Virtual IP address is 172.16.31.1",
        "  Active virtual MAC address is 0000.0c07.ac01",
        "    Local virtual MAC address is 0000.0c07.ac01 (v1 default)",
        "  Hello time 500 msec, hold time 3 sec",
        "  Preemption enabled, delay min 1 secs, reload 4 secs, sync 3 secs",
        "  Active router is unknown",
        "  Standby router is unknown",
    ]
    assert '  IP redundancy name is "LAN"' in text
    assert "FastEthernet0/1 - Group 2" in text


@pytest.mark.parametrize(
    ("preempt", "minimum", "reload_s", "sync", "line"),
    [
        (False, 30, 0, 0, "Preemption disabled"),
        (True, 0, 0, 0, "Preemption enabled"),
        (True, 30, 0, 0, "Preemption enabled, delay min 30 secs"),
        (True, 0, 60, 0, "Preemption enabled, delay reload 60 secs"),
        (True, 30, 60, 10, "Preemption enabled, delay min 30 secs, reload 60 secs, sync 10 secs"),
    ],
)
def test_preemption_line(preempt: bool, minimum: int, reload_s: int, sync: int, line: str) -> None:
    row = StandbyBriefRow(
        interface="FastEthernet0/0",
        group=1,
        priority=100,
        state="Active",
        preempt=preempt,
        preempt_delay_minimum_s=minimum,
        preempt_delay_reload_s=reload_s,
        preempt_delay_sync_s=sync,
    )
    assert preemption_line(row) == line
