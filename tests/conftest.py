"""Shared test configuration: the Hypothesis profile for this run."""

from __future__ import annotations

from vpnha.properties.profiles import load_selected_profile

PROFILE = load_selected_profile()


def pytest_report_header() -> str:
    return f"vpnha hypothesis profile: {PROFILE}"
