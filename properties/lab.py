"""Figures and invariants over what ``vpnha lab`` observed on real sockets.

Theory of operation
-------------------
:func:`vpnha.impl.live.lab.run_lab` records; this module judges, independently of
the routers' own counters wherever the wire can speak for itself:

- **Figures** (:func:`lab_figures`): the traffic gap at the remote peer across the
  failover (longest silence between two LAN→remote packets arriving at the peer
  that spans the crash) and the same at the LAN host and across the preempt;
  takeover time (crash → the standby's role ACTIVE) against hold time; packets
  lost each way; ESP packets the peer refused as replays; (SPI, sequence number)
  pairs sent twice; pairs accepted twice; renegotiations.
- **Invariants** (:func:`lab_checks`), named as in DESIGN §6: I3 no (SPI, seq)
  transmitted twice — from the peer's capture of every UDP 4500 datagram that
  reached it *and* from the routers' own transmit logs (every incarnation, the
  killed one included); I4 none accepted twice — from the routers' accept logs
  *and* end to end (the LAN host never receives a stream packet twice, though the
  attacker re-sent captured ones); the peer never refuses a packet as a replay (the
  new active's counters are ahead); I9 no protected cleartext; I10 the gap is at
  most hold + hello; zero renegotiations (unless the SSP path was cut, when the
  standby must renegotiate rather than use counters it cannot bound); preempt
  brings the restarted router back when it wins the election; nothing left
  behind.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from vpnha.impl.live.lab import LabObservation

__all__ = ["LabCheck", "LabFigures", "lab_checks", "lab_figures", "lab_json", "render_lab"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LabFigures:
    """The lab's measured figures (ms unless named otherwise)."""

    mode: str
    """``netns`` or ``loopback``."""
    gap_ms: int
    """Longest silence at the remote peer spanning the crash (LAN → remote stream)."""
    gap_lan_ms: int
    """The same at the LAN host (remote → LAN stream)."""
    preempt_gap_ms: int
    """Longest silence at the remote peer after the restart (preempt)."""
    preempt_gap_lan_ms: int
    """Longest silence at the LAN host after the restart (preempt)."""
    takeover_ms: int
    """Crash → the standby's SSP role ACTIVE; -1 if it never took over."""
    hold_ms: int
    """HSRP hold time."""
    hello_ms: int
    """HSRP hello time."""
    preempt_ms: int
    """Restart → the restarted router ACTIVE again; -1 if it did not come back."""
    sent: int
    """Test packets sent, both streams."""
    lost: int
    """Test packets never delivered, both streams."""
    lost_to_remote: int
    """LAN → remote packets never delivered."""
    lost_to_lan: int
    """Remote → LAN packets never delivered."""
    replay_refused: int
    """ESP packets from the cluster that the peer refused as replays."""
    seq_reused: int
    """(SPI, seq) pairs transmitted more than once (max of the wire's and the logs' count)."""
    seq_reused_wire: int
    """Of those, seen twice at the peer."""
    seq_reused_logs: int
    """Of those, in the routers' transmit logs twice."""
    accepted_twice: int
    """(SPI, seq) pairs accepted more than once (max of logs and end-to-end)."""
    replays_sent: int
    """Captured ESP packets the attacker re-sent after the takeover."""
    jump_dropped: int
    """Legitimate inbound packets the routers refused below a takeover's jumped window edge
    (``replay-interval inbound N``: up to N per takeover, DESIGN §4's secure choice)."""
    replays_delivered: int
    """Stream packets the LAN host received twice (a replay got through)."""
    renegotiations: int
    """Stand-in IKE negotiations after the first."""
    cleartext_permit_sent: int
    """Protected packets a router sent in the clear (I9)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LabCheck:
    """One invariant or goal, judged on the observation."""

    name: str
    """Short name (``I3 outbound ahead``)."""
    ok: bool
    """Whether it held."""
    detail: str
    """The figures it was judged on."""


def _longest_gap(times: list[int], start: int, end: int | None) -> int:
    """Longest interval between consecutive arrivals that overlaps [start, end]."""
    longest = 0
    for earlier, later in itertools.pairwise(times):
        if later >= start and (end is None or earlier <= end):
            longest = max(longest, later - earlier)
    return longest


def _repeated_in_runs(runs: Iterable[list[int]]) -> int:
    """(SPI, seq) pairs covered by more than one run ``[spi, first, last, ...]``."""
    spans: dict[int, list[tuple[int, int]]] = {}
    for run in runs:
        spans.setdefault(run[0], []).append((run[1], run[2]))
    repeated = 0
    for pieces in spans.values():
        pieces.sort()
        reach = -1
        for first, last in pieces:
            if first <= reach:
                repeated += min(last, reach) - first + 1
            reach = max(reach, last)
    return repeated


def _lost(sent: int, received: Iterable[int]) -> int:
    got = {seq for seq in received if 1 <= seq <= sent}
    return sent - len(got)


def lab_figures(obs: LabObservation) -> LabFigures:
    """The figures of one run."""
    peer, lan = obs.peer, obs.lan
    to_remote = [row for row in peer.get("received", []) if row[3] >= 0]
    remote_times = sorted(row[0] for row in to_remote)
    lan_times = sorted(row[0] for row in lan.get("received", []))
    gap = _longest_gap(remote_times, obs.kill_ms, obs.restart_ms or None)
    gap_lan = _longest_gap(lan_times, obs.kill_ms, obs.restart_ms or None)
    if obs.kill_ms and not any(t > obs.kill_ms for t in remote_times):
        gap = max(gap, obs.traffic_stop_ms - obs.kill_ms)
    preempt_gap = _longest_gap(remote_times, obs.restart_ms, None) if obs.restart_ms else 0
    preempt_gap_lan = _longest_gap(lan_times, obs.restart_ms, None) if obs.restart_ms else 0
    wire = Counter((row[1], row[2]) for row in peer.get("seen", []))
    reused_wire = sum(1 for count in wire.values() if count > 1)
    tx_runs = [run for logs in obs.wire_logs.values() for run in logs.get("tx", [])]
    rx_runs = [run for logs in obs.wire_logs.values() for run in logs.get("rx", [])]
    reused_logs = _repeated_in_runs(tx_runs)
    lan_seen = Counter(row[1] for row in lan.get("received", []))
    replays_delivered = sum(count - 1 for count in lan_seen.values() if count > 1)
    accepted_twice = max(_repeated_in_runs(rx_runs), replays_delivered)
    lan_sent, peer_sent = int(lan.get("sent", 0)), int(peer.get("sent", 0))
    lost_remote = _lost(lan_sent, (row[3] for row in to_remote))
    lost_lan = _lost(peer_sent, lan_seen)
    router_replay_drops = sum(
        int(status.get("forward", {}).get("drops", {}).get("replay", 0))
        for status in obs.statuses.values()
    )
    cleartext = sum(
        int(status.get("forward", {}).get("cleartext_permit_sent", 0))
        for status in obs.statuses.values()
    )
    return LabFigures(
        mode=obs.mode,
        gap_ms=gap,
        gap_lan_ms=gap_lan,
        preempt_gap_ms=preempt_gap,
        preempt_gap_lan_ms=preempt_gap_lan,
        takeover_ms=obs.takeover_at_ms - obs.kill_ms if obs.takeover_at_ms is not None else -1,
        hold_ms=obs.hold_ms,
        hello_ms=obs.hello_ms,
        preempt_ms=obs.back_at_ms - obs.restart_ms if obs.back_at_ms is not None else -1,
        sent=lan_sent + peer_sent,
        lost=lost_remote + lost_lan,
        lost_to_remote=lost_remote,
        lost_to_lan=lost_lan,
        replay_refused=int(peer.get("refused", {}).get("replay", 0)),
        seq_reused=max(reused_wire, reused_logs),
        seq_reused_wire=reused_wire,
        seq_reused_logs=reused_logs,
        accepted_twice=accepted_twice,
        replays_sent=obs.replays_sent,
        jump_dropped=max(0, router_replay_drops - obs.replays_sent + replays_delivered),
        replays_delivered=replays_delivered,
        renegotiations=max(0, obs.negotiations - 1),
        cleartext_permit_sent=cleartext,
    )


def lab_checks(obs: LabObservation, figures: LabFigures) -> list[LabCheck]:
    """Every invariant and goal of the run, held or not."""
    bound = figures.hold_ms + figures.hello_ms
    checks = [
        LabCheck(
            name="I3 no (SPI, seq) transmitted twice",
            ok=figures.seq_reused == 0,
            detail=(
                f"{figures.seq_reused_wire} repeated at the peer, "
                f"{figures.seq_reused_logs} in the routers' transmit logs"
            ),
        ),
        LabCheck(
            name="I4 no (SPI, seq) accepted twice",
            ok=figures.accepted_twice == 0,
            detail=(
                f"{figures.replays_sent} captured packets re-sent, "
                f"{figures.replays_delivered} delivered twice"
            ),
        ),
        LabCheck(
            name="peer refused no replay",
            ok=figures.replay_refused == 0,
            detail=f"{figures.replay_refused} refused as replays",
        ),
        LabCheck(
            name="I9 no protected cleartext",
            ok=figures.cleartext_permit_sent == 0,
            detail=f"{figures.cleartext_permit_sent} sent in the clear",
        ),
        LabCheck(
            name="takeover within hold + hello",
            ok=0 <= figures.takeover_ms <= bound,
            detail=f"takeover {figures.takeover_ms} ms, hold {figures.hold_ms} ms",
        ),
    ]
    if obs.ssp_cut:
        checks.append(
            LabCheck(
                name="SSP cut: SAs renegotiated, none used blind",
                ok=figures.seq_reused == 0 and figures.accepted_twice == 0,
                detail=f"{figures.renegotiations} renegotiations after the cut",
            )
        )
    else:
        checks.append(
            LabCheck(
                name="I10 gap within hold + hello",
                ok=figures.gap_ms <= bound,
                detail=f"gap {figures.gap_ms} ms, goal <= {bound} ms",
            )
        )
        checks.append(
            LabCheck(
                name="I5 no renegotiation",
                ok=figures.renegotiations == 0,
                detail=f"{figures.renegotiations} renegotiations",
            )
        )
    if obs.preempt_expected:
        checks.append(
            LabCheck(
                name="preempt brings the restarted router back",
                ok=figures.preempt_ms >= 0,
                detail=f"back {figures.preempt_ms} ms after the restart",
            )
        )
    checks.append(
        LabCheck(
            name="nothing left behind",
            ok=obs.cleaned,
            detail="processes stopped, namespaces removed" if obs.cleaned else "leftovers",
        )
    )
    return checks


def lab_json(obs: LabObservation, figures: LabFigures, checks: list[LabCheck]) -> dict[str, Any]:
    """One JSON object: the figures, the verdicts, and where the run happened."""
    return {
        **asdict(figures),
        "ok": all(check.ok for check in checks),
        "mode_reason": obs.mode_reason,
        "ssp_cut": obs.ssp_cut,
        "rate_pps": obs.rate_pps,
        "first_active": obs.hostnames[obs.first_active] if obs.first_active >= 0 else None,
        "preempt_expected": obs.preempt_expected,
        "peer_refused": obs.peer.get("refused", {}),
        "checks": [asdict(check) for check in checks],
    }


def render_lab(obs: LabObservation, figures: LabFigures, checks: list[LabCheck]) -> str:
    """The run as text: timeline, figures, verdicts."""
    origin = obs.traffic_start_ms or (obs.timeline[0][0] if obs.timeline else 0)
    lines = [
        f"vpnha lab: the document's topology in {obs.mode} mode ({obs.mode_reason})",
        f"  routers {obs.hostnames[0]} and {obs.hostnames[1]}, hello {obs.hello_ms} ms, "
        f"hold {obs.hold_ms} ms; {obs.rate_pps} packets/s each way"
        + ("; SSP path cut before the crash" if obs.ssp_cut else ""),
        "",
        "Timeline (s from the start of traffic):",
    ]
    shown = ("hsrp", "role", "takeover", "SA", "ssp", "SIGKILL", "process", "attacker", "traffic")
    for at_ms, node, text in obs.timeline:
        if any(word in text for word in shown):
            lines.append(f"  {(at_ms - origin) / 1000:+8.3f}  {node:<8} {text}")
    lines += [
        "",
        "Figures:",
        f"  traffic gap at the remote peer   gap_ms        {figures.gap_ms:>7}",
        f"  traffic gap at the LAN host      gap_lan_ms    {figures.gap_lan_ms:>7}",
        f"  takeover time (hold {figures.hold_ms} ms)    takeover_ms   {figures.takeover_ms:>7}",
        f"  preempt after restart            preempt_ms    {figures.preempt_ms:>7}",
        f"  gaps at the preempt (peer, LAN)  {figures.preempt_gap_ms:>7} / "
        f"{figures.preempt_gap_lan_ms} ms",
        f"  packets sent / lost              {figures.sent:>7} / {figures.lost} "
        f"(to remote {figures.lost_to_remote}, to LAN {figures.lost_to_lan})",
        f"  refused as replays by the peer   replay_refused {figures.replay_refused:>6}",
        f"  inbound dropped by the jump      jump_dropped  {figures.jump_dropped:>7} "
        "(replay-interval inbound N: up to N per takeover)",
        f"  sequence numbers reused          seq_reused    {figures.seq_reused:>7}",
        f"  accepted twice                   accepted_twice {figures.accepted_twice:>6}",
        f"  attacker's replays delivered     {figures.replays_delivered:>7} of "
        f"{figures.replays_sent}",
        f"  renegotiations                   renegotiations {figures.renegotiations:>6}",
        "",
        "Checks:",
    ]
    lines += [f"  {'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.detail}" for c in checks]
    verdict = "all checks hold" if all(c.ok for c in checks) else "SOME CHECKS FAILED"
    lines += ["", verdict]
    return "\n".join(lines)
