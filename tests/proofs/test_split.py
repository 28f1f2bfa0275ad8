"""The Z3 split search on the shipped pairs and on a pair whose tracking is not mutual."""

from __future__ import annotations

from pathlib import Path

import pytest
from vpnha.properties.scenarios import cluster_params, example_path, load_pair
from vpnha.properties.z3.engine import Counterexample, Proved
from vpnha.properties.z3.split import search_split, split_line

from vpnha.cli import main


def test_shipped_pair_never_splits() -> None:
    result, finding = search_split(
        cluster_params(*load_pair(example_path("router1.cfg"), example_path("router2.cfg")))
    )
    assert isinstance(result, Proved), result
    assert finding is None


def test_inconsistent_address_order_splits_with_nothing_down() -> None:
    result, finding = search_split(
        cluster_params(
            *load_pair(example_path("split-router1.cfg"), example_path("split-router2.cfg"))
        )
    )
    assert isinstance(result, Counterexample)
    assert finding is not None
    assert finding.failures == ()
    assert {finding.inside_active, finding.outside_active} == {"7200-1", "7200-2"}


def test_missing_tracking_splits_on_one_failure(tmp_path: Path) -> None:
    text = example_path("router1.cfg").read_text()
    assert " standby 1 track FastEthernet0/1\n" in text
    first = tmp_path / "router1.cfg"
    first.write_text(text.replace(" standby 1 track FastEthernet0/1\n", ""))
    result, finding = search_split(cluster_params(*load_pair(first, example_path("router2.cfg"))))
    assert isinstance(result, Counterexample)
    assert finding is not None
    # The outside interface of 7200-1 fails: 7200-2 takes the outside, but without tracking
    # 7200-1 keeps its inside priority and its higher address keeps the inside.
    assert finding.failures == ("7200-1 FastEthernet0/1 down",)
    assert finding.inside_active == "7200-1"
    assert finding.outside_active == "7200-2"


def test_lint_prints_the_split(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        ["lint", str(example_path("split-router1.cfg")), str(example_path("split-router2.cfg"))]
    )
    assert status == 1
    assert "z3 split search: with every interface up" in capsys.readouterr().out


def test_split_line_ignores_unreadable_pairs() -> None:
    assert split_line(str(example_path("router1.cfg")), "/nonexistent/router.cfg") is None
