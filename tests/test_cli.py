"""The command line: exit statuses and output of ``vpnha simulate`` and ``vpnha lint``."""

from __future__ import annotations

import json

import pytest
from vpnha.properties.scenarios import example_path

from vpnha.cli import main


def test_lint_shipped_pair_has_only_the_preempt_race_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["lint", str(example_path("router1.cfg")), str(example_path("router2.cfg"))])
    assert status == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert all("warning preempt-before-delay" in line for line in lines)


def test_lint_clean_pair_says_so(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    paths = []
    for name in ("router1.cfg", "router2.cfg"):
        text = example_path(name).read_text()
        for group in (1, 2):
            line = f" standby {group} preempt\n"
            text = text.replace(line, f" standby {group} preempt delay minimum 30\n")
        path = Path(str(tmp_path)) / name
        path.write_text(text)
        paths.append(str(path))
    assert main(["lint", *paths]) == 0
    assert "no findings" in capsys.readouterr().out


def test_lint_split_pair_reports_the_split(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        ["lint", str(example_path("split-router1.cfg")), str(example_path("split-router2.cfg"))]
    )
    assert status == 1
    assert "address-order-split" in capsys.readouterr().out


def test_lint_unreadable_file_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["lint", str(example_path("router1.cfg")), "/nonexistent/router.cfg"])
    assert status == 2
    assert "/nonexistent/router.cfg" in capsys.readouterr().out


def test_simulate_rejects_one_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(example_path("router1.cfg"))]) == 2
    assert "two configuration files" in capsys.readouterr().err


def test_simulate_bad_config_names_the_problem(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    bad = Path(str(tmp_path)) / "bad.cfg"
    bad.write_text("hostname x\nssp group 500\n")
    assert main(["simulate", str(bad), str(example_path("router2.cfg"))]) == 2
    err = capsys.readouterr().err
    assert "500" in err
    assert "1-100" in err


@pytest.mark.slow
def test_simulate_builtin_example_timeline_and_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate"]) == 0
    out = capsys.readouterr().out
    assert "RFC 2281 §5.7: Standby × c" in out  # the standby takes over on Active-timer expiry
    assert "Listen × h (preempt)" in out  # the old active returns and preempts
    assert "VIOLATED" not in out
    assert "I10  held" in out


@pytest.mark.slow
def test_simulate_json_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    figures = report["figures"]
    assert report["ok"] is True
    assert report["violations"] == []
    assert figures["seq_reused"] == 0
    assert figures["accepted_twice"] == 0
    assert figures["replay_accepted"] == 0
    assert figures["renegotiations"] == 0
    assert 0 < figures["takeover_ms"] <= figures["hold_ms"] + 500


@pytest.mark.slow
def test_simulate_both_sides_agree(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--side", "both", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert report["agreement"] == {"ok": True, "differences": []}
    for side in ("model", "impl"):
        figures = report[side]["figures"]
        assert report[side]["violations"] == []
        assert figures["seq_reused"] == figures["accepted_twice"] == 0
        assert figures["replay_refused"] == 1
        assert figures["renegotiations"] == 0
        assert 0 < figures["takeover_ms"] <= figures["hold_ms"] + 500


def test_simulate_option_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--esp-keys", "k"]) == 2
    assert "--esp-keys needs --pcap" in capsys.readouterr().err
    assert main(["simulate", "--side", "model", "--pcap", "x.pcapng"]) == 2
    assert "--pcap records the implementation" in capsys.readouterr().err
    assert main(["simulate", "--rate", "5"]) == 2
    assert "rate 5 packets/s must be 10-100000" in capsys.readouterr().err


def test_replay_shows_the_recorded_failure_and_the_clean_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pathlib import Path

    corpus = Path(__file__).resolve().parents[1] / "counterexamples"
    trace = corpus / "sadb-no-jump.itf.json"
    assert main(["replay", str(trace)]) == 0
    out = capsys.readouterr().out
    assert "mutant: sadb-no-jump" in out
    assert "verdict: fails at step" in out
    assert "impl I8" in out
    assert "as recorded: yes" in out
    assert main(["replay", "--clean", str(trace)]) == 0
    out = capsys.readouterr().out
    assert "verdict: no invariant broken, model and implementation agree" in out


def test_replay_draws_swimlanes_and_writes_the_packets(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--svg`` draws the timeline; ``--pcap``/``--esp-keys`` write the implementation's
    packets of the replay with the keys Wireshark needs to decrypt them."""
    from pathlib import Path

    from scapy.utils import rdpcap

    corpus = Path(__file__).resolve().parents[1] / "counterexamples"
    out_dir = Path(str(tmp_path))
    svg, pcap, keys = out_dir / "t.svg", out_dir / "t.pcapng", out_dir / "esp_sa"
    trace = corpus / "sadb-no-jump.itf.json"
    status = main(
        ["replay", str(trace), "--svg", str(svg), "--pcap", str(pcap), "--esp-keys", str(keys)]
    )
    assert status == 0
    drawing = svg.read_text()
    assert drawing.startswith("<?xml")
    assert "<svg" in drawing
    assert "7200-1 inside" in drawing
    assert "impl I8" in drawing
    assert len(rdpcap(str(pcap))) > 20
    assert keys.read_text().count('"IPv4"') >= 2  # both directions of the SA
    assert main(["replay", str(trace), "--esp-keys", str(keys)]) == 2
    assert "--esp-keys needs --pcap" in capsys.readouterr().err


def test_replay_refuses_a_file_that_is_not_a_trace(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    bad = Path(str(tmp_path)) / "bad.itf.json"
    bad.write_text('{"states": []}')
    assert main(["replay", str(bad)]) == 2
    assert "#meta missing: not an ITF trace" in capsys.readouterr().err
    bad.write_text('{"#meta": {"format": "ITF"}, "vars": [], "states": []}')
    assert main(["replay", str(bad)]) == 2
    assert "meta.vpnha missing" in capsys.readouterr().err
    bad.write_text("not json")
    assert main(["replay", str(bad)]) == 2
    assert "not JSON" in capsys.readouterr().err


def test_check_finds_and_saves_a_seeded_bug(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    status = main(
        [
            "check",
            "--mutant",
            "hsrp-tie-break-lower-ip",
            "--examples",
            "5",
            "--save",
            str(folder),
            "--json",
        ]
    )
    assert status == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["ok"] is False
    assert summary["failure"] == "differ: 7200-1 inside state"
    saved = list(folder.glob("*.itf.json"))
    assert len(saved) == 1
    assert main(["replay", str(saved[0])]) == 0


@pytest.mark.slow
def test_check_clean_campaign_reports_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--examples", "5", "--steps", "15"]) == 0
    out = capsys.readouterr().out
    assert "no invariant broken" in out
    assert "RFC 2281 cells taken:" in out


@pytest.mark.slow
def test_gate_passes_and_writes_junit(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path
    from xml.etree import ElementTree

    from vpnha.impl.mutants import MUTANTS

    corpus = Path(__file__).resolve().parents[1] / "counterexamples"
    junit = Path(str(tmp_path)) / "gate.xml"
    status = main(
        [
            "gate",
            "--examples",
            "10",
            "--steps",
            "25",
            "--mutant-examples",
            "150",
            "--corpus",
            str(corpus),
            "--junit",
            str(junit),
            "--json",
            "--workers",
            "2",
        ]
    )
    summary = json.loads(capsys.readouterr().out)
    assert status == 0, summary
    assert summary["ok"] is True
    assert summary["corpus"] == {"replayed": len(list(corpus.glob("*.itf.json"))), "failed": 0}
    assert {m["name"] for m in summary["mutants"]} == set(MUTANTS)
    assert all(m["killed"] for m in summary["mutants"])
    assert {i["name"] for i in summary["invariants"]} >= {"I1", "I3", "I9", "I10"}
    assert summary["coverage"]["hsrp_cells_total"] > 30
    assert {p["property"] for p in summary["proofs"]} >= {"I1", "I3", "I3-naive", "I4"}
    assert {p["result"] for p in summary["proofs"]} == {"proved", "counterexample"}
    root = ElementTree.parse(junit).getroot()
    assert root.tag == "testsuites"
    assert sum(int(s.get("failures", "0")) for s in root) == 0
