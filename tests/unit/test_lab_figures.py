"""The lab's figures from a made-up observation: what the gap counts and what it does not."""

from __future__ import annotations

from typing import Any

from vpnha.impl.live.lab import LabObservation
from vpnha.properties.lab import lab_figures


def _observation(arrivals: list[int], **fields: Any) -> LabObservation:
    """Packets from the LAN host (sequence numbers 1, 2, …) reaching the peer at ``arrivals``
    and the peer's packets reaching the LAN host at the same instants."""
    rows = [[t, 0, 0, seq] for seq, t in enumerate(arrivals, start=1)]
    return LabObservation(
        mode="netns",
        mode_reason="test",
        prefix="t",
        hostnames=("r1", "r2"),
        hold_ms=3000,
        hello_ms=500,
        rate_pps=200,
        ssp_cut=False,
        peer={"received": rows, "sent": len(arrivals), "seen": []},
        lan={
            "received": [[t, seq] for seq, t in enumerate(arrivals, start=1)],
            "sent": len(arrivals),
        },
        **fields,
    )


def _every(start: int, stop: int, step: int = 5) -> list[int]:
    return list(range(start, stop, step))


def test_the_gap_is_the_silence_across_the_takeover() -> None:
    arrivals = _every(0, 1_000) + _every(3_900, 5_000)
    figures = lab_figures(_observation(arrivals, kill_ms=1_000, takeover_at_ms=3_880))
    assert figures.gap_ms == 3_900 - 995
    assert figures.gap_lan_ms == 3_900 - 995
    assert figures.takeover_ms == 2_880


def test_a_quiet_phase_after_the_takeover_is_not_part_of_the_gap() -> None:
    # Takeover silence 1 000 → 3 000; the lab pauses the traffic at 6 000 for 3.5 s and the
    # last packet before the pause arrived before the pause began (the re-authentication
    # story of session 5, where the pause was reported as the failover's gap).
    arrivals = _every(0, 1_000) + _every(3_000, 5_996) + _every(9_500, 11_000)
    observation = _observation(
        arrivals, kill_ms=1_000, takeover_at_ms=2_990, quiet=[(6_000, 9_500)]
    )
    figures = lab_figures(observation)
    assert figures.gap_ms == 3_000 - 995


def test_a_takeover_that_never_ends_before_the_pause_still_counts_up_to_the_pause() -> None:
    arrivals = _every(0, 1_000) + _every(9_500, 11_000)
    observation = _observation(arrivals, kill_ms=1_000, quiet=[(6_000, 9_500)])
    assert lab_figures(observation).gap_ms == 6_000 - 995


def test_a_silence_after_the_preempt_that_lasts_until_the_stop_is_a_preempt_gap() -> None:
    """The new active's inbound jump drops up to N packets: with a short phase the LAN host
    hears nothing more before the traffic stops. That silence is the preempt's gap."""
    arrivals = list(range(0, 10_000, 5))  # traffic until 10 000, the preempt at 9 000
    lan_silent = [t for t in arrivals if t < 9_000]
    observation = _observation(arrivals, restart_ms=6_000, traffic_stop_ms=10_000)
    observation.lan["received"] = [[t, s] for s, t in enumerate(lan_silent, 1)]
    figures = lab_figures(observation)
    assert figures.preempt_gap_lan_ms == 10_000 - 8_995
    assert figures.preempt_gap_ms == 5  # the other stream never stopped


def test_a_silence_running_at_the_restart_counts_from_the_restart() -> None:
    """The failover's silence (crash, then the new active's inbound jump) may still run
    when the old router restarts: only its part after the restart is the preempt's."""
    arrivals = [t for t in range(0, 10_000, 5) if not 2_000 <= t < 6_500]
    figures = lab_figures(_observation(arrivals, restart_ms=6_000, traffic_stop_ms=10_000))
    assert figures.preempt_gap_ms == 500
    assert figures.preempt_gap_lan_ms == 500
