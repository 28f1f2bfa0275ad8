"""Every registered Z3 property gives its expected result (fast tier here, slow marked)."""

from __future__ import annotations

import json

import pytest
from vpnha.properties.z3 import registry
from vpnha.properties.z3.engine import Counterexample, Proved, Unknown
from vpnha.properties.z3.registry import PROPERTIES, as_expected, outcome, run_one, to_json

from vpnha.cli import main


def _params() -> list[object]:
    return [
        pytest.param(p.name, id=p.name, marks=() if p.fast else (pytest.mark.slow,))
        for p in PROPERTIES
    ]


@pytest.mark.parametrize("name", _params())
def test_property_gives_its_expected_result(name: str) -> None:
    result = run_one(name)
    assert result.property == name
    assert outcome(result) == registry.property_named(name).expected, result
    assert as_expected(result)


def test_registry_covers_the_invariants() -> None:
    names = [p.name for p in PROPERTIES]
    assert len(names) == len(set(names))
    for invariant in ("I1", "I2", "I3", "I4", "I6", "I7", "I8"):
        assert invariant in names
        assert registry.property_named(invariant).expected == "proved"
    assert registry.property_named("I3-naive").expected == "counterexample"


def test_unknown_is_never_as_expected() -> None:
    unknown = Unknown(property="I3", seconds=0.0, method="x", reason="timeout")
    assert outcome(unknown) == "unknown"
    assert not as_expected(unknown)
    wrong = Counterexample(property="I3", seconds=0.0, method="x", description="", values=())
    assert not as_expected(wrong)
    assert as_expected(Proved(property="I3", seconds=0.0, method="x"))


def test_json_records() -> None:
    records = to_json(
        [
            Proved(property="I6", seconds=0.5, method="inductive"),
            Counterexample(
                property="I3-naive",
                seconds=1.0,
                method="bounded",
                description="d",
                values=(("J", 1_000_000),),
            ),
        ]
    )
    assert [r["result"] for r in records] == ["proved", "counterexample"]
    assert all({"property", "result", "seconds", "trace"} <= set(r) for r in records)
    assert records[1]["values"] == {"J": 1_000_000}
    json.dumps(records)


@pytest.mark.slow
def test_cli_prove_json_and_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert {r["property"] for r in records} == {p.name for p in PROPERTIES if p.fast}
    assert all(r["as_expected"] for r in records)
    assert all(r["result"] in ("proved", "counterexample", "unknown") for r in records)


def test_cli_prove_rejects_zero_jobs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", "--jobs", "0"]) == 2
    assert "--jobs" in capsys.readouterr().err
