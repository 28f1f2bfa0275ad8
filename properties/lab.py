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
- **The routers' own lifetimes** (strongSwan with ``--lifetime``/``--ike-lifetime``):
  ``router_rekeys`` from charon's log (Quick Modes it answered), the lab's verdicts on
  each rekey, on the Delete at the replaced pair's end and on the IKE SA's end, and the
  longest silence before the crash (a rekey must not pause the traffic).
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
    """Longest silence at the remote peer after the restart (preempt): counted from the
    restart, and up to the traffic's stop when no packet ends it."""
    preempt_gap_lan_ms: int
    """Longest silence at the LAN host after the restart (preempt), counted the same way."""
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
    peer: str = "own"
    """The remote peer: ``own`` (the project's ESP code) or ``strongswan``."""
    peer_replay_failures: int = 0
    """strongSwan: inbound ESP packets it refused ("sequence number verification failed")."""
    peer_new_sas: int = 0
    """strongSwan: IKE or CHILD SAs beyond the first and the rekeys the lab asked for,
    and re-authentications (the document's promise: none)."""
    peer_deletes: int = 0
    """strongSwan: DELETEs sent or received before the lab stopped it."""
    peer_dpd_failures: int = 0
    """strongSwan: peers it declared dead by DPD."""
    dpd_answered_after_takeover: int = 0
    """R-U-THEREs from the peer that a router answered after the crash."""
    dpd_acked_by_peer: int = 0
    """Our R-U-THEREs after the crash that the peer acknowledged."""
    rekey_after_takeover: bool = False
    """strongSwan: every CHILD rekey after a takeover was answered by the new active."""
    peer_reauths: int = 0
    """strongSwan: re-authentications charon started (``--reauth``: three)."""
    reauth_ok: bool | None = None
    """strongSwan with ``--reauth``: every re-authentication settled (charon with the new
    IKE SA only, both routers with it only, one DELETE of the old one, traffic both ways);
    None without ``--reauth``."""
    router_rekeys: int = 0
    """strongSwan with ``--lifetime``: Quick Modes the routers started by themselves (charon
    answered them as responder)."""
    router_rekey_ok: bool | None = None
    """strongSwan with ``--lifetime``: the ACTIVE router started Quick Mode at the lead time
    before the pair's end, charon installed the CHILD SA, the STANDBY held the pair,
    traffic moved to it both ways and stayed on it after the takeover; None without."""
    lifetime_delete_ok: bool | None = None
    """strongSwan with ``--lifetime``: at the replaced pair's end the router that took it
    over sent its ESP Delete and charon closed that CHILD SA; None without."""
    ike_expiry_ok: bool | None = None
    """strongSwan with ``--ike-lifetime``: at the end of charon's first IKE SA on the
    routers charon saw its DELETE and kept every CHILD SA installed; None without."""
    lifetime_gap_ms: int = 0
    """strongSwan with ``--lifetime``: longest silence either way between two arrivals from
    the start of traffic to the crash (the routers' rekey and, with ``--ike-lifetime``,
    their IKE SA's end come in it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LabCheck:
    """One invariant or goal, judged on the observation."""

    name: str
    """Short name (``I3 outbound ahead``)."""
    ok: bool
    """Whether it held."""
    detail: str
    """The figures it was judged on."""


def _longest_gap(times: list[int], start: int, end: int | None, *, from_start: bool = False) -> int:
    """Longest silence between consecutive arrivals that overlaps [start, end].

    ``end`` is where the lab stops the traffic on purpose (a quiet phase, the restart):
    a silence that runs past it counts only up to it. Counting it whole made the quiet
    phase (3.5 s) the failover's gap whenever the last packet before the pause arrived
    before the pause began, as in the re-authentication story. With ``from_start`` a
    silence that began before ``start`` counts only from it (the preempt's gaps: a
    silence still running at the restart belongs to the failover before it).
    """
    longest = 0
    for earlier, later in itertools.pairwise(times):
        if later >= start and (end is None or earlier <= end):
            stop = later if end is None else min(later, end)
            begin = max(earlier, start) if from_start else earlier
            longest = max(longest, stop - begin)
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


def _until_stop(times: list[int], obs: LabObservation) -> list[int]:
    """Arrival times with the traffic's stop appended as the end of a final silence."""
    stop = obs.traffic_stop_ms
    if stop and (not times or times[-1] < stop):
        return [*times, stop]
    return times


def _quiet_after(obs: LabObservation, instant: int) -> int | None:
    """Start of the first traffic pause after ``instant`` (a gap window ends there)."""
    starts = [start for start, _ in obs.quiet if start >= instant]
    return min(starts) if starts else None


def _ike_events(obs: LabObservation, kind: str, after_ms: int) -> int:
    return sum(
        1
        for status in obs.statuses.values()
        for event in status.get("ike", {}).get("events", [])
        if event.get("kind") == kind and int(event.get("at_ms", 0)) > after_ms
    )


def lab_figures(obs: LabObservation) -> LabFigures:
    """The figures of one run."""
    peer, lan = obs.peer, obs.lan
    to_remote = [row for row in peer.get("received", []) if row[3] >= 0]
    remote_times = sorted(row[0] for row in to_remote)
    lan_times = sorted(row[0] for row in lan.get("received", []))
    ends = [t for t in (obs.restart_ms or None, _quiet_after(obs, obs.kill_ms)) if t]
    end = min(ends) if ends else None
    gap = _longest_gap(remote_times, obs.kill_ms, end)
    gap_lan = _longest_gap(lan_times, obs.kill_ms, end)
    if obs.kill_ms and not any(t > obs.kill_ms for t in remote_times):
        gap = max(gap, obs.traffic_stop_ms - obs.kill_ms)
    preempt_end = _quiet_after(obs, obs.restart_ms) if obs.restart_ms else None
    # Silences after the restart: one still running at the restart (the failover's)
    # counts from the restart; one that lasts until the traffic stops (the new active's
    # inbound jump, up to N packets, may outlast a short phase) counts up to the stop.
    preempt_gap = (
        _longest_gap(_until_stop(remote_times, obs), obs.restart_ms, preempt_end, from_start=True)
        if obs.restart_ms
        else 0
    )
    preempt_gap_lan = (
        _longest_gap(_until_stop(lan_times, obs), obs.restart_ms, preempt_end, from_start=True)
        if obs.restart_ms
        else 0
    )
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
        cleartext_permit_sent=cleartext,
        **({"renegotiations": max(0, obs.negotiations - 1)} | _strongswan_figures(obs)),
    )


def _strongswan_figures(obs: LabObservation) -> dict[str, Any]:
    """The figures the real peer's log gives (the peer's own view of the failover)."""
    if obs.peer_kind != "strongswan":
        return {}
    log = obs.strongswan
    new_sas = (
        max(0, int(log.get("ike_sa_established", 0)) - 1)
        + max(0, int(log.get("child_sa_established", 0)) - 1 - len(obs.rekeys))
        + int(log.get("reauth_started", 0))
        + int(log.get("reauth_detected", 0))
    )
    deletes = sum(
        int(log.get(key, 0))
        for key in (
            "ike_delete_sent",
            "ike_delete_received",
            "child_delete_sent",
            "child_delete_received",
        )
    )
    lifetime: dict[str, Any] = {}
    if obs.lifetime_s is not None:
        remote = sorted(int(row[0]) for row in obs.peer.get("received", []) if row[3] >= 0)
        lan = sorted(int(row[0]) for row in obs.lan.get("received", []))
        lifetime = {
            "router_rekeys": int(log.get("router_rekeys", 0)),
            "router_rekey_ok": bool(log.get("router_rekey_ok")),
            "lifetime_delete_ok": bool(log.get("lifetime_delete_ok")),
            "ike_expiry_ok": log.get("ike_expiry_ok"),
            "lifetime_gap_ms": max(
                _longest_gap([t for t in times if t <= obs.kill_ms], obs.traffic_start_ms, None)
                for times in (remote, lan)
            ),
        }
    return lifetime | {
        "peer": "strongswan",
        "peer_replay_failures": len(log.get("replay_failures", [])),
        "peer_new_sas": new_sas,
        "peer_deletes": deletes,
        "peer_dpd_failures": int(log.get("dpd_timeouts", 0)),
        "dpd_answered_after_takeover": _ike_events(obs, "dpd-answered", obs.kill_ms),
        "dpd_acked_by_peer": _ike_events(obs, "dpd-acked", obs.kill_ms),
        "rekey_after_takeover": bool(obs.rekeys) and all(r["ok"] for r in obs.rekeys),
        "peer_reauths": int(log.get("peer_reauths", 0)),
        "reauth_ok": log.get("reauth_ok"),
        "renegotiations": new_sas,
    }


def lab_checks(obs: LabObservation, figures: LabFigures) -> list[LabCheck]:
    """Every invariant and goal of the run, held or not."""
    bound = figures.hold_ms + figures.hello_ms
    checks = _strongswan_checks(figures) if figures.peer == "strongswan" else []
    checks += [
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
            ok=figures.replay_refused == 0 and figures.peer_replay_failures == 0,
            detail=f"{figures.replay_refused + figures.peer_replay_failures} refused as replays",
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


def _strongswan_checks(figures: LabFigures) -> list[LabCheck]:
    """What an unmodified strongSwan must not notice (issue 7's promise)."""
    checks = [
        LabCheck(
            name="strongSwan: no new IKE or CHILD SA, no re-authentication",
            ok=figures.peer_new_sas == 0,
            detail=f"{figures.peer_new_sas} new SAs beyond the rekeys asked for",
        ),
        LabCheck(
            name="strongSwan: no DELETE",
            ok=figures.peer_deletes == 0,
            detail=f"{figures.peer_deletes} DELETEs sent or received",
        ),
        LabCheck(
            name="strongSwan: no DPD failure",
            ok=figures.peer_dpd_failures == 0,
            detail=f"{figures.peer_dpd_failures} peers declared dead",
        ),
        LabCheck(
            name="strongSwan: CHILD rekey answered by the router that took over",
            ok=figures.rekey_after_takeover,
            detail="answered" if figures.rekey_after_takeover else "not answered",
        ),
        LabCheck(
            name="DPD answered both ways after the takeover",
            ok=figures.dpd_answered_after_takeover > 0 and figures.dpd_acked_by_peer > 0,
            detail=(
                f"{figures.dpd_answered_after_takeover} of the peer's R-U-THEREs answered, "
                f"{figures.dpd_acked_by_peer} of ours acknowledged"
            ),
        ),
    ]
    if figures.router_rekey_ok is not None:
        checks += _lifetime_checks(figures)
    if figures.reauth_ok is not None:
        checks.append(
            LabCheck(
                name="strongSwan: re-authentication settled, old IKE SA retired on both routers",
                ok=figures.reauth_ok,
                detail=f"{figures.peer_reauths} re-authentications by charon",
            )
        )
    return checks


REKEY_GAP_GOAL_MS = 1000
"""A rekey (and an IKE SA's end) must not pause the traffic: at most this silence either
way before the crash (each stream sends every 5 ms at the default rate; a loaded machine
stretches that to tens of ms, a peer that dropped its SAs to tens of seconds)."""


def _lifetime_checks(figures: LabFigures) -> list[LabCheck]:
    """The routers keep the tunnel up by themselves (``--lifetime``, ``--ike-lifetime``)."""
    checks = [
        LabCheck(
            name="routers' own rekey: Quick Mode before the end, charon installs it, the "
            "standby holds it, traffic moves to it",
            ok=bool(figures.router_rekey_ok),
            detail=f"{figures.router_rekeys} Quick Modes started by the routers",
        ),
        LabCheck(
            name="pair's end: the router that took over sends its Delete, charon closes it",
            ok=bool(figures.lifetime_delete_ok),
            detail="closed" if figures.lifetime_delete_ok else "not closed by the Delete",
        ),
        LabCheck(
            name="no traffic gap at the rekey or the IKE SA's end",
            ok=figures.lifetime_gap_ms <= REKEY_GAP_GOAL_MS,
            detail=f"gap {figures.lifetime_gap_ms} ms, goal <= {REKEY_GAP_GOAL_MS} ms",
        ),
    ]
    if figures.ike_expiry_ok is not None:
        checks.append(
            LabCheck(
                name="IKE SA's end: charon gets a DELETE and keeps its CHILD SAs",
                ok=figures.ike_expiry_ok,
                detail="kept" if figures.ike_expiry_ok else "charon lost its CHILD SAs",
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
        "strongswan": obs.strongswan,
        "rekeys": obs.rekeys,
        "lifetime_s": obs.lifetime_s,
        "ike_lifetime_s": obs.ike_lifetime_s,
        "router_rekey_details": obs.router_rekeys,
        "ike_expiries": obs.ike_expiries,
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
    ]
    if figures.peer == "strongswan":
        lines += [
            f"  strongSwan replay failures       {figures.peer_replay_failures:>7}",
            f"  strongSwan new SAs / DELETEs     {figures.peer_new_sas} / {figures.peer_deletes}",
            f"  strongSwan DPD failures          peer_dpd_failures {figures.peer_dpd_failures}",
            f"  DPD after the takeover           answered {figures.dpd_answered_after_takeover}, "
            f"acknowledged {figures.dpd_acked_by_peer}",
            f"  CHILD rekey after the takeover   {figures.rekey_after_takeover!s:>7}",
        ]
        if figures.reauth_ok is not None:
            lines.append(
                f"  re-authentications by charon     peer_reauths {figures.peer_reauths}, "
                f"reauth_ok {figures.reauth_ok}"
            )
        if figures.router_rekey_ok is not None:
            lines += [
                f"  routers' own rekeys (lifetime {obs.lifetime_s} s) router_rekeys "
                f"{figures.router_rekeys}, router_rekey_ok {figures.router_rekey_ok}",
                f"  Delete at the pair's end         lifetime_delete_ok "
                f"{figures.lifetime_delete_ok}",
                f"  gap before the crash             lifetime_gap_ms {figures.lifetime_gap_ms:>5}",
            ]
        if figures.ike_expiry_ok is not None:
            lines.append(
                f"  IKE SA's end (lifetime {obs.ike_lifetime_s} s)  ike_expiry_ok "
                f"{figures.ike_expiry_ok}"
            )
    lines += [
        "",
        "Checks:",
    ]
    lines += [f"  {'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.detail}" for c in checks]
    verdict = "all checks hold" if all(c.ok for c in checks) else "SOME CHECKS FAILED"
    lines += ["", verdict]
    return "\n".join(lines)
