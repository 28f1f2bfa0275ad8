"""Shared test configuration: the Hypothesis profile for this run."""

from __future__ import annotations

import pytest
from vpnha.properties.profiles import load_selected_profile

PROFILE = load_selected_profile()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``nightly`` run only under the nightly profile (CI's run has a
    15-minute budget; the nightly run has none)."""
    if PROFILE == "nightly":
        return
    skip = pytest.mark.skip(reason="nightly only: VPNHA_PROFILE=nightly runs it")
    for item in items:
        if item.get_closest_marker("nightly") is not None:
            item.add_marker(skip)


def pytest_report_header() -> str:
    return f"vpnha hypothesis profile: {PROFILE}"
