"""Campaign plumbing: the example database (directory or Redis) and parallel workers."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase
from vpnha.properties.campaign import HuntResult, hunt, hunt_parallel, open_database


def _random_hunt(database: ExampleDatabase | None) -> HuntResult:
    """A random search for a seeded bug that takes a few examples to find."""
    return hunt(
        mutant="sadb-no-jump",
        max_examples=40,
        steps=30,
        derandomize=False,
        database=database,
        shrink_budget_s=5,
    )


def test_open_database_understands_its_three_forms(tmp_path: Path) -> None:
    assert open_database(None) is None
    assert open_database("none") is None
    assert isinstance(open_database(str(tmp_path / "db")), DirectoryBasedExampleDatabase)
    with pytest.raises(ValueError, match="redis://localhost:notaport"):
        open_database("redis://localhost:notaport")


@pytest.mark.slow
def test_a_failure_found_once_is_tried_first_next_time(tmp_path: Path) -> None:
    """A random search stores its failing example; the next search (another random
    seed) replays it before generating anything and fails at once."""
    database = open_database(str(tmp_path / "db"))
    first = _random_hunt(database)
    assert first.killed
    assert any(path.is_file() for path in (tmp_path / "db").rglob("*"))
    second = _random_hunt(database)
    assert second.killed
    assert second.examples <= 2


@pytest.mark.slow
def test_machines_share_failures_through_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--db redis://…``: Hypothesis's Redis database, here on an in-process fake server
    standing in for the one several CI machines would share."""
    fakeredis = pytest.importorskip("fakeredis")
    redis = pytest.importorskip("redis")
    server = fakeredis.FakeServer()
    monkeypatch.setattr(
        redis.Redis, "from_url", classmethod(lambda cls, url: fakeredis.FakeRedis(server=server))
    )
    found = _random_hunt(open_database("redis://ci-shared:6379/0"))
    assert found.killed
    assert fakeredis.FakeRedis(server=server).keys(b"vpnha:*")
    # "Another machine": a fresh client on the same server finds it at once.
    again = _random_hunt(open_database("redis://ci-shared:6379/0"))
    assert again.killed
    assert again.examples <= 2


@pytest.mark.slow
def test_parallel_workers_add_up_and_report_the_failure() -> None:
    result = hunt_parallel(
        workers=2, mutant="hsrp-tie-break-lower-ip", max_examples=4, steps=10, first_seed=7
    )
    assert result.killed
    assert result.trace is not None
    assert result.trace.failure.startswith("differ: 7200-1 inside state")
    assert result.steps > 0
    assert result.examples >= 2
