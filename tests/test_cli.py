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
