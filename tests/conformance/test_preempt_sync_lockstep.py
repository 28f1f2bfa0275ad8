"""``standby N preempt delay minimum M reload R sync S``: model and implementation agree.

The document's pair (short standby delays, as the lockstep campaign runs it) with every
preempt delay set, so a restart of the preferred router goes through all three: its
groups are enabled after ``standby delay reload``, may preempt only ``preempt delay
reload`` later (the first enable since the boot), and then wait for SSP's copy at most
``sync``. The two sides must take every HSRP transition at the same instant, agree at
every step (``LockstepPair.differences``) and carry the same traffic.
"""

from __future__ import annotations

import pytest
from vpnha.impl.config import RouterConfig, parse_config
from vpnha.model import operations as op
from vpnha.model.params import GroupSide
from vpnha.properties.lockstep import LockstepPair
from vpnha.properties.machines import lockstep_config_texts

MINIMUM_S, RELOAD_S, SYNC_S = 1, 4, 3
STANDBY_DELAY_RELOAD_MS = 2_000
"""``standby delay minimum 2 reload 2`` in the lockstep configurations."""
STANDBY_DELAY_MINIMUM_MS = 2_000
HELLO_MS = 500
PREEMPT = f"preempt delay minimum {MINIMUM_S} reload {RELOAD_S} sync {SYNC_S}"


def configs(preempt: str = PREEMPT) -> tuple[RouterConfig, RouterConfig]:
    """The lockstep pair with ``standby N <preempt>`` on both groups of both routers."""
    texts = []
    for text in lockstep_config_texts():
        assert "standby 1 preempt\n" in text
        assert "standby 2 preempt\n" in text
        texts.append(
            text.replace("standby 1 preempt\n", f"standby 1 {preempt}\n").replace(
                "standby 2 preempt\n", f"standby 2 {preempt}\n"
            )
        )
    return parse_config(texts[0], source="router1.cfg"), parse_config(
        texts[1], source="router2.cfg"
    )


class Story:
    """Drives a pair, recording every step's differences."""

    def __init__(self, pair: LockstepPair) -> None:
        self.pair = pair
        self.problems: list[str] = []

    def do(self, operation: op.Operation) -> None:
        self.pair.apply(operation)
        self.problems += [f"{self.pair.now} {operation}: {d}" for d in self.pair.differences()]

    def traffic(self, packets: int) -> None:
        self.do(op.SendTraffic(packets=packets, size=100))
        self.do(op.ReceiveTraffic(packets=packets, size=100))


def became_active(lines: list[str], router: str, side: str) -> int:
    """When ``router``'s ``side`` group entered Active (the first time in ``lines``)."""
    return next(
        int(line.split()[0])
        for line in lines
        if f" {router} {side} " in line and line.endswith("-> Active")
    )


def restart_story(heal_after_ms: int | None) -> tuple[Story, int]:
    """SA up and carrying traffic; router 1 (7200-1, the preferred one) crashes, router 2
    takes over; router 1 restarts (with SSP cut until ``heal_after_ms`` after the restart
    when given) and preempts back, traffic every 50 ms throughout. Returns the story and
    the restart instant."""
    story = Story(LockstepPair(configs()))
    story.do(op.Advance(ms=30_000))
    story.do(op.Establish(sa_id=1, spi_in=0x5000, spi_out=0x6000, cookie_i=1, cookie_r=2))
    story.do(op.Advance(ms=100))
    story.traffic(20)
    story.do(op.Crash(router=0))
    story.do(op.Advance(ms=30_000))
    story.traffic(20)
    if heal_after_ms is not None:
        story.do(op.SspCut())
    restart = story.pair.now
    story.do(op.Restart(router=0))
    for step in range(400):
        if heal_after_ms is not None and step * 50 == heal_after_ms:
            story.do(op.SspHeal())
        story.do(op.Advance(ms=50))
        story.traffic(2)
    return story, restart


def _ssp_connected_after(pair: LockstepPair, router: int, since_ms: int) -> int:
    return next(
        e.time_ms
        for e in pair.model.log
        if e.kind == "ssp-connected" and e.router == router and e.time_ms > since_ms
    )


@pytest.mark.parametrize(
    "heal_after_ms",
    [None, 6_000, 20_000],
    ids=["ssp-up", "copy-arrives-during-the-wait", "sync-times-out"],
)
def test_restart_and_preempt_agree_step_by_step(heal_after_ms: int | None) -> None:
    story, restart = restart_story(heal_after_ms)
    pair = story.pair
    assert story.problems == []
    model, impl = pair.hsrp_transitions(restart)
    assert model == impl
    model_obs, impl_obs = pair.observe()
    assert model_obs.delivered_to_remote == impl_obs.delivered_to_remote
    assert model_obs.delivered_to_lan == impl_obs.delivered_to_lan
    assert model_obs.peer_refused == impl_obs.peer_refused == 0
    # When the preempt happened, on both sides (the lists are equal).
    eligible = restart + STANDBY_DELAY_RELOAD_MS + RELOAD_S * 1000  # reload, not minimum
    for side in ("inside", "outside"):
        back = became_active(model, "7200-1", side)
        if heal_after_ms is None:
            # SSP was up long before: only the reload delay holds it back.
            assert eligible <= back < eligible + HELLO_MS + 2
        elif heal_after_ms == 6_000:
            # The copy arrived during the wait: it preempts at the next Hello after it.
            connected = _ssp_connected_after(pair, 0, restart)
            assert eligible < connected < eligible + SYNC_S * 1000
            assert connected < back <= connected + HELLO_MS + 2
        else:
            # No copy within S: it gives up waiting S after the wait began (the first
            # Hello heard once eligible) and preempts without the SAs.
            assert eligible + SYNC_S * 1000 <= back < eligible + SYNC_S * 1000 + HELLO_MS + 2
    if heal_after_ms == 20_000:
        takeover = next(t for t in model_obs.takeovers if t.time_ms > restart)
        assert takeover.promoted == ()


def test_a_flap_uses_the_minimum_not_the_reload_delay() -> None:
    """After the boot, an interface flap re-enables the group: ``preempt delay minimum``
    (1 s), not reload (4 s), and the router, in step with the active, does not wait."""
    story = Story(LockstepPair(configs()))
    story.do(op.Advance(ms=30_000))
    story.do(op.Establish(sa_id=1, spi_in=0x5000, spi_out=0x6000, cookie_i=1, cookie_r=2))
    story.do(op.Advance(ms=100))
    story.traffic(10)
    story.do(op.InterfaceDown(router=0, side=GroupSide.INSIDE))
    story.do(op.Advance(ms=10_000))
    story.traffic(10)
    up = story.pair.now
    story.do(op.InterfaceUp(router=0, side=GroupSide.INSIDE))
    for _ in range(200):
        story.do(op.Advance(ms=50))
        story.traffic(2)
    assert story.problems == []
    model, impl = story.pair.hsrp_transitions(up)
    assert model == impl
    back = became_active(model, "7200-1", "inside")
    eligible = up + STANDBY_DELAY_MINIMUM_MS + MINIMUM_S * 1000
    assert eligible <= back < eligible + HELLO_MS + 2
    assert back < up + STANDBY_DELAY_MINIMUM_MS + RELOAD_S * 1000


def test_without_sync_the_restarted_router_preempts_before_its_copy() -> None:
    """The control: the same story with ``preempt delay minimum 1 reload 4`` only. With SSP
    cut, the restarted router preempts as soon as the reload delay is over, holding no
    copy (what ``sync`` is there to prevent); both sides agree on that too."""
    story = Story(LockstepPair(configs(f"preempt delay minimum {MINIMUM_S} reload {RELOAD_S}")))
    story.do(op.Advance(ms=30_000))
    story.do(op.Crash(router=0))
    story.do(op.Advance(ms=30_000))
    story.do(op.SspCut())
    restart = story.pair.now
    story.do(op.Restart(router=0))
    story.do(op.Advance(ms=20_000))
    assert story.problems == []
    model, impl = story.pair.hsrp_transitions(restart)
    assert model == impl
    eligible = restart + STANDBY_DELAY_RELOAD_MS + RELOAD_S * 1000
    assert eligible <= became_active(model, "7200-1", "inside") < eligible + HELLO_MS + 2
