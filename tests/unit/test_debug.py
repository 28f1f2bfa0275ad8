"""The document's debug commands: switches, ``show debugging``, ``show logging``, and
what a router writes while they are on."""

from __future__ import annotations

import pytest
from vpnha.impl.debug import DebugLog, Facility, is_debug_command
from vpnha.impl.router_show import show
from vpnha.impl.sadb import HaStatus

from .test_world import active_index, settled_world, up


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("debug crypto isakmp ha", "IKE HA Manager debugging is on\n"),
        ("debug cry isa ha upd", "IKE HA Manager update debugging is on\n"),
        ("deb crypto ipsec ha fsm", "IPSec HA fsm debugging is on\n"),
        ("debug ssp packet", "SSP packet debugging is on\n"),
        ("show debug ssp", "SSP debugging is on\n"),
    ],
)
def test_debug_commands_and_their_answers(command: str, expected: str) -> None:
    assert is_debug_command(command)
    assert DebugLog().execute(command) == expected


@pytest.mark.parametrize(
    ("command", "error"),
    [
        ("debug crypto isakmp ha verbose", "Invalid option 'verbose'"),
        ("debug crypto isakmp ha detail fsm", "'fsm'"),
        ("debug ssp p", "Ambiguous option 'p'"),
        ("debug crypto isakmp", "one of: crypto isakmp ha, crypto ipsec ha, ssp"),
        ("debug", "Incomplete command"),
        ("debug all", "debug all is refused"),
        ("logging everything", "'everything'"),
    ],
)
def test_bad_debug_commands_answer_with_the_reason(command: str, error: str) -> None:
    log = DebugLog()
    assert error in log.execute(command)
    assert not log.any


def test_show_commands_are_not_debug_commands() -> None:
    for command in ("show standby brief", "crypto isakmp sa", "show ssp"):
        assert not is_debug_command(command)


def test_options_basic_and_detail_and_the_no_forms() -> None:
    log = DebugLog()
    assert log.execute("show debugging") == ""
    log.execute("debug crypto isakmp ha update")
    assert log.on(Facility.ISAKMP_HA, "update")
    assert log.on(Facility.ISAKMP_HA)  # an option brings the basic lines with it
    assert not log.on(Facility.ISAKMP_HA, "fsm")
    assert not log.on(Facility.IPSEC_HA)
    log.execute("debug crypto ipsec ha detail")
    assert log.on(Facility.IPSEC_HA, "fsm")  # detail: every line of the facility
    assert log.execute("show debugging") == (
        "IKE HA Manager:\n"
        "  IKE HA Manager update debugging is on\n"
        "IPSec HA:\n"
        "  IPSec HA detail debugging is on\n"
    )
    assert log.execute("no debug crypto isakmp ha update") == (
        "IKE HA Manager update debugging is off\n"
    )
    assert not log.on(Facility.ISAKMP_HA)
    log.execute("debug ssp fsm")
    log.execute("no debug ssp")  # the plain no form: the whole facility
    assert not log.on(Facility.SSP, "fsm")
    assert log.execute("undebug all") == "All possible debugging has been turned off\n"
    assert not log.any
    log.emit(5, Facility.SSP, "fsm", "dropped: debug is off")
    assert not log.lines


def test_the_buffer_keeps_the_newest_lines_with_their_time() -> None:
    log = DebugLog(lines=3)
    log.execute("debug ssp")
    for n in range(5):
        log.emit(1_000 * n, Facility.SSP, "basic", f"line {n}")
    text = log.execute("show logging", wall=lambda ms: 1_700_000_000_000 + ms)
    assert text.splitlines() == [
        "Log Buffer (3 lines): 3 lines",
        "",
        "*Nov 14 22:13:22.000: SSP: line 2",
        "*Nov 14 22:13:23.000: SSP: line 3",
        "*Nov 14 22:13:24.000: SSP: line 4",
    ]


def test_a_router_logs_replication_takeover_and_ike_while_debug_is_on() -> None:
    world = settled_world()
    active = active_index(world)
    standby = 1 - active
    for index in (0, 1):
        router = up(world, index)
        assert not router.debug.lines  # off by default: nothing written
        for command in ("debug crypto isakmp ha update", "debug crypto ipsec ha fsm"):
            show(router, command, now=lambda: world.now)
    world.establish_sa(spi_in=0x5000, spi_out=0x6000, cookies=(7, 8))
    world.advance(100)
    assert world.dpd(from_peer=True)
    world.advance(1_000)
    sent = [line.text for line in up(world, active).debug.lines]
    assert any(t.startswith("IKE SA (") and "added to the ISADB" in t for t in sent)
    assert any(t.startswith("sent: IKE SA ") and "full copy" in t for t in sent)
    assert any(t.startswith("sent: SA pair ") and "spi in 0x5000" in t for t in sent)
    assert any("dpd in" in t for t in sent)  # the peer's R-U-THERE number, an update
    assert any("message id" in t for t in sent)
    received = [line.text for line in up(world, standby).debug.lines]
    assert any(t.startswith("received: SA ") and "message id" in t for t in received)
    world.crash(active)
    world.advance(10_000)
    lines = up(world, standby).debug.lines
    fsm = [line for line in lines if line.option == "fsm"]
    assert [line.text for line in fsm][-2:] == [
        "device role STANDBY -> INIT",
        "device role INIT -> ACTIVE",
    ]
    takeover = [line.text for line in lines if line.text.startswith("takeover:")]
    assert takeover == [
        "takeover: 1 IKE SA copies promoted, 0 discarded",
        "takeover: 1 SA pair copies promoted with the jump, 0 discarded, 0 spent",
    ]
    assert up(world, standby).sadb.ike_sas(HaStatus.ACTIVE)
    text = show(up(world, standby), "show logging", now=lambda: world.now)
    assert "IKE HA: takeover: 1 IKE SA copies promoted" in text
    assert "IPSEC HA: device role INIT -> ACTIVE" in text
    assert show(up(world, standby), "show debugging", now=lambda: world.now).startswith(
        "IKE HA Manager:\n  IKE HA Manager update debugging is on\n"
    )
