"""Every file in counterexamples/ replays as it says (DESIGN §6, issue 4)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from vpnha.impl.mutants import MUTANTS
from vpnha.properties.trace import load_trace, replay, signature

CORPUS = Path(__file__).resolve().parents[2] / "counterexamples"
FILES = sorted(CORPUS.glob("*.itf.json"))


def test_the_corpus_is_not_empty() -> None:
    assert FILES, f"no *.itf.json in {CORPUS}"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_counterexample_replays_as_recorded(path: Path) -> None:
    trace = load_trace(path)
    steps = replay(trace.spec, trace.operations)
    if trace.expect == "pass":
        assert [s.problems for s in steps if s.problems] == []
        return
    assert trace.spec.mutant is None or trace.spec.mutant in MUTANTS
    assert signature(steps) == trace.failure
    # The same steps on the clean implementation agree with the model and break nothing:
    # the failure is the seeded bug's, not the trace's.
    if trace.spec.mutant is not None:
        clean = replay(dataclasses.replace(trace.spec, mutant=None), trace.operations)
        assert [(s.index, s.problems) for s in clean if s.problems] == []


def test_the_corpus_readme_lists_every_file_as_it_is() -> None:
    """counterexamples/README.md's table is ``properties.trace.corpus_table``'s output:
    paste it again after adding or changing a trace."""
    from vpnha.properties.trace import corpus_table

    readme = (CORPUS / "README.md").read_text()
    assert corpus_table(CORPUS) in readme
