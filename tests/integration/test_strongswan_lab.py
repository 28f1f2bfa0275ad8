"""``vpnha lab --peer strongswan``: failover invisible to an unmodified strongSwan (slow).

charon (strongSwan 5.9.8, kernel-libipsec) in the peer namespace initiates IKEv1 to
the outside virtual IP; the routers' own IKE answers and SSP replicates the IKE and
IPsec SAs. The active router is SIGKILLed, the standby takes over, charon rekeys
the CHILD SA and probes with DPD; the old router restarts and preempts; the same
again. charon must see nothing: no new SA, no DELETE, no DPD failure, no ESP
sequence number failure. With ``--reauth`` charon also re-authenticates its IKE SA
(a new Main Mode; IKEv1 charon moves its CHILD SAs to the new IKE SA) before the crash,
after the takeover and after the preempt; the crash and the preempt come within the
routers' grace time for the replaced IKE SA. Each time charon must end with one IKE SA
carrying its CHILD SAs, both routers with the new IKE SA only, the old one deleted once.
With ``--lifetime 120`` (a second run, about two and a half minutes) the routers keep the
tunnel up by themselves: the ACTIVE router starts Quick Mode 30 s before the 120 s
lifetime ends, charon (whose own CHILD lifetime is a day) installs the new CHILD SA, the
STANDBY holds it, traffic moves to it; the crash comes right after, and at the old pair's
end the router that took over sends the ESP Delete charon acts on.
Needs root, iproute2, TUN and the strongSwan packages (``.ci/run`` installs them); skips
with the reason otherwise.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from vpnha.impl.live.strongswan import charon_missing

from .test_live_lab import FAST, _netns_missing, _our_namespaces, untimed_failures


def run_lab(folder: Path, args: list[str], *, timeout_s: int) -> dict[str, Any]:
    """``vpnha lab --json --peer strongswan ARGS`` as its own process: its JSON report
    (with ``exit_status`` and ``stderr``), both kept in ``folder`` for a post-mortem
    (pytest keeps the last runs' folders)."""
    result = subprocess.run(
        [sys.executable, "-m", "vpnha", "lab", "--json", "--peer", "strongswan", *args, *FAST],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert result.stdout, result.stderr[-3000:]
    (folder / "report.json").write_text(result.stdout)
    (folder / "progress.txt").write_text(result.stderr)
    report: dict[str, Any] = json.loads(result.stdout)
    report["exit_status"] = result.returncode
    report["stderr"] = result.stderr
    return report


@pytest.fixture(scope="module")
def strongswan_lab(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``vpnha lab --peer strongswan --reauth --json --pcap DIR`` once, as its own process
    (about a minute: each re-authentication waits out the routers' 10 s grace time)."""
    reason = _netns_missing() or charon_missing()
    if reason:
        pytest.skip(reason)
    pcap = tmp_path_factory.mktemp("strongswan-lab")
    report = run_lab(pcap, ["--reauth", "--pcap", str(pcap)], timeout_s=300)
    report["pcap_dir"] = str(pcap)
    return report


pytestmark = pytest.mark.slow


def test_every_check_holds(strongswan_lab: dict[str, Any]) -> None:
    """Every check but the wall-clock ones (printed by the lab, see TIMED_CHECKS)."""
    assert untimed_failures(strongswan_lab["checks"]) == [], strongswan_lab["stderr"][-2000:]


def test_strongswan_noticed_nothing(strongswan_lab: dict[str, Any]) -> None:
    assert strongswan_lab["peer"] == "strongswan"
    assert strongswan_lab["peer_replay_failures"] == 0
    assert strongswan_lab["peer_new_sas"] == 0
    assert strongswan_lab["peer_deletes"] == 0
    assert strongswan_lab["peer_dpd_failures"] == 0
    log = strongswan_lab["strongswan"]
    # One Main Mode, one Quick Mode, and the two rekeys the lab asked for.
    assert log["ike_sa_established"] == 1
    assert log["child_sa_established"] == 1 + len(strongswan_lab["rekeys"])


def test_the_routers_that_took_over_carried_on(strongswan_lab: dict[str, Any]) -> None:
    # Both takeovers (the crash, then the preempt) answered a CHILD rekey and DPD.
    rekeys = strongswan_lab["rekeys"]
    assert len(rekeys) == 2
    assert all(r["ok"] for r in rekeys)
    assert len({r["router"] for r in rekeys}) == 2
    assert strongswan_lab["rekey_after_takeover"] is True
    assert strongswan_lab["dpd_answered_after_takeover"] > 0
    assert strongswan_lab["dpd_acked_by_peer"] > 0


PHASES = ("before the crash", "after the takeover", "after the preempt")


def _reauths(strongswan_lab: dict[str, Any]) -> list[dict[str, Any]]:
    reauths: list[dict[str, Any]] = strongswan_lab["strongswan"]["reauths"]
    assert tuple(r["phase"] for r in reauths) == PHASES
    return reauths


def test_charon_reauthenticated_three_times_without_quick_mode(
    strongswan_lab: dict[str, Any],
) -> None:
    """Each re-authentication is one Main Mode; the CHILD SAs move to the new IKE SA."""
    log = strongswan_lab["strongswan"]
    assert log["peer_reauths"] == 3
    for reauth in _reauths(strongswan_lab):
        assert reauth["error"] == ""
        assert reauth["charon"]["reauthenticated"] == 1, reauth
        assert reauth["charon"]["new_ike_sa_established"] == 1, reauth
    # No Quick Mode beyond the first and the two rekeys; no CHILD SA deleted.
    assert log["child_sa_established"] == 1 + len(strongswan_lab["rekeys"])
    assert log["child_delete_sent"] == log["child_delete_received"] == 0


def test_the_new_ike_sa_is_adopted_and_copied_to_the_standby(
    strongswan_lab: dict[str, Any],
) -> None:
    """The ACTIVE router holds the new IKE SA at once, the STANDBY (when one is up) its
    copy, and traffic flows both ways on the moved CHILD SAs."""
    for reauth in _reauths(strongswan_lab):
        assert reauth["adopted_ms"] is not None, reauth
        assert reauth["adopted_charon_children"] == 1, reauth
        assert reauth["traffic_after_adopted"], reauth
    standbys = [r["adopted_standby"] for r in _reauths(strongswan_lab)]
    # Before the crash and after the preempt a standby is up; after the takeover the
    # old active is dead.
    assert standbys[0] is not None
    assert standbys[1] is None
    assert standbys[2] is not None


def test_the_old_ike_sa_is_retired_everywhere_even_across_a_failover(
    strongswan_lab: dict[str, Any],
) -> None:
    """charon ends with one IKE SA (the new one) carrying its CHILD SAs; the ACTIVE router
    holds that IKE SA only and the STANDBY only its copy, with the SA pairs; charon got
    exactly one DELETE for the old IKE SA; traffic flows both ways afterwards. Before the
    crash and after the takeover the grace time runs out on the router that took over."""
    for reauth in _reauths(strongswan_lab):
        assert reauth["settled"], reauth
        assert reauth["old_retired"], reauth
        assert reauth["charon_ike_sas"] == 1, reauth
        assert reauth["active_ike_sas"] == [reauth["new_cookies"]], reauth
        if reauth["standby"] is not None:
            assert reauth["standby_ike_sas"] == [reauth["new_cookies"]], reauth
        assert reauth["pairs_on_active"], reauth
        assert reauth["pairs_on_standby"], reauth
        assert reauth["charon"]["old_ike_sa_deletes"] == ["received"], reauth
        assert reauth["traffic_after_settled"], reauth
        assert reauth["ok"], reauth
    assert strongswan_lab["strongswan"]["reauth_ok"] is True


def test_figures(strongswan_lab: dict[str, Any]) -> None:
    assert strongswan_lab["mode"] == "netns"
    assert strongswan_lab["gap_ms"] > 0  # the failover happened while traffic ran
    assert strongswan_lab["takeover_ms"] >= 0
    assert strongswan_lab["seq_reused"] == 0
    assert strongswan_lab["renegotiations"] == 0
    assert not _our_namespaces()


def test_the_capture_decrypts_with_the_keys_file(strongswan_lab: dict[str, Any]) -> None:
    """``--pcap``: charon's keys (logged only then) become Wireshark's ``esp_sa`` file, and
    tshark decrypts every ESP packet of the capture with it: the test streams inside."""
    if shutil.which("tshark") is None or shutil.which("dumpcap") is None:
        pytest.skip("tshark/dumpcap not installed")
    folder = Path(strongswan_lab["pcap_dir"])
    records = [
        line
        for line in (folder / "esp_sa").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert len(records) >= 2
    options = [arg for record in records for arg in ("-o", f"uat:esp_sa:{record}")]
    capture = str(folder / "lab.pcapng")

    def count(*extra: str) -> int:
        out = subprocess.run(
            ["tshark", "-r", capture, *extra],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return len(out.stdout.splitlines())

    esp = count("-Y", "esp")
    inner = count(
        "-o", "esp.enable_encryption_decode:TRUE", *options, "-Y", "esp && udp.port == 5001"
    )
    assert esp > 100
    assert inner == esp


# ---------------------------------------------------------------------------
# The routers' own lifetimes: vpnha lab --peer strongswan --lifetime 120

LIFETIME_ARGS = ["--lifetime", "120", "--ike-lifetime", "60"]
"""The IOS minima (our parser's too). The IKE SA's end at 60 s costs no time: it falls
inside the wait for the rekey. The routers replace an IKE SA that still carries pairs
with a new Main Mode 30 s before it ends (an ISAKMP Delete at the end would make
charon delete its CHILD SAs with the IKE SA)."""
LIFETIME_TIMED = ("no traffic gap at the rekey or the IKE SA's end",)
"""A wall-clock check (at most 1 s of silence before the crash), judged below with the
failover's own bound instead."""


@pytest.fixture(scope="module")
def lifetime_lab(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``vpnha lab --peer strongswan --lifetime 120 --json`` once, as its own process
    (about 150 s: the rekey comes 90 s after charon's Quick Mode, the old pair's end 30 s
    later). Its tests are ``nightly``: CI's 15 minutes cannot hold it next to the rest."""
    reason = _netns_missing() or charon_missing()
    if reason:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("strongswan-lifetime")
    return run_lab(folder, LIFETIME_ARGS, timeout_s=420)


@pytest.mark.nightly
def test_lifetime_every_check_holds(lifetime_lab: dict[str, Any]) -> None:
    failed = [
        c for c in untimed_failures(lifetime_lab["checks"]) if c["name"] not in LIFETIME_TIMED
    ]
    assert failed == [], lifetime_lab["stderr"][-2000:]
    assert not _our_namespaces()


@pytest.mark.nightly
def test_the_active_router_rekeys_before_the_end_and_charon_answers(
    lifetime_lab: dict[str, Any],
) -> None:
    """One Quick Mode by the ACTIVE router at the lead time (30 s before the 120 s end),
    charon the responder (it logs the routers' shorter lifetime and keeps its own), the
    CHILD SA installed on charon and the pair on the STANDBY, traffic on it both ways."""
    assert lifetime_lab["router_rekey_ok"] is True
    (rekey,) = lifetime_lab["router_rekey_details"]
    assert rekey["router"] == lifetime_lab["first_active"]
    assert rekey["due_ms"] - 100 <= rekey["at_ms"] < rekey["expires_ms"] - 25_000
    assert rekey["charon_answered"]
    assert rekey["charon_installed"]
    assert rekey["on_standby"]
    assert rekey["ike_on_standby"]
    assert min(rekey["new_packets"]) > 0
    assert rekey["old_packets"] == [0, 0]
    log = lifetime_lab["strongswan"]
    assert log["router_rekeys"] == 1
    assert log["child_rekeys_detected"] == 1
    assert [120, 86_400] in log["lifetimes_received"]


@pytest.mark.nightly
def test_a_failover_right_after_the_routers_rekey_carries_on_with_it(
    lifetime_lab: dict[str, Any],
) -> None:
    """The crash comes a few seconds after the rekey: the router that took over sends on
    the new pair, charon makes no SA of its own beyond the rekeys the lab asks for, and
    the traffic gap is the failover's."""
    (rekey,) = lifetime_lab["router_rekey_details"]
    assert min(rekey["after_takeover"]["new_packets"]) > 0
    assert rekey["after_takeover"]["old_packets"] == [0, 0]
    assert lifetime_lab["peer_new_sas"] == 0
    assert lifetime_lab["peer_dpd_failures"] == lifetime_lab["peer_replay_failures"] == 0
    bound = lifetime_lab["hold_ms"] + lifetime_lab["hello_ms"]
    assert lifetime_lab["gap_ms"] <= bound + 500
    assert lifetime_lab["lifetime_gap_ms"] <= bound


@pytest.mark.nightly
def test_the_old_pair_ends_with_a_delete_charon_acts_on(lifetime_lab: dict[str, Any]) -> None:
    """At the replaced pair's end the router that took it over sends its ESP Delete;
    charon receives it and closes the CHILD SA (no "CHILD_SA not found")."""
    assert lifetime_lab["lifetime_delete_ok"] is True
    (rekey,) = lifetime_lab["router_rekey_details"]
    expiry = rekey["expiry"]
    assert expiry["router"] != rekey["router"]
    assert expiry["ended_ms"] - rekey["expires_ms"] < 2000
    assert expiry["charon_received_delete"]
    assert expiry["charon_closed"]
    assert not expiry["charon_still_holds"]
    assert lifetime_lab["strongswan"]["child_deletes_ignored"] == 0
    assert lifetime_lab["peer_deletes"] == 0  # nothing but that Delete


@pytest.mark.nightly
def test_the_ike_sas_end_keeps_charons_child_sas(lifetime_lab: dict[str, Any]) -> None:
    """With ``--ike-lifetime``: charon sees a DELETE for its first IKE SA and keeps every
    CHILD SA installed; the routers' next rekey still works."""
    if lifetime_lab["ike_lifetime_s"] is None:
        pytest.skip("LIFETIME_ARGS has no --ike-lifetime (see its docstring)")
    assert lifetime_lab["ike_expiry_ok"] is True
    (expiry,) = lifetime_lab["ike_expiries"]
    assert expiry["charon_deletes"]
    assert expiry["charon_children_after"] == 1
    assert lifetime_lab["router_rekey_ok"] is True
