"""Hypothesis settings profiles, registered in one place.

``dev`` is quick and randomised, ``ci`` is derandomised and bounded so a CI run is
repeatable, ``nightly`` searches long. We register our own ``ci`` because
Hypothesis loads its built-in ``ci`` profile whenever ``CI`` is set, and that one
switches the example database off (mbt-anchors §2.1); ours keeps it.

Select one with ``VPNHA_PROFILE`` (default: ``ci`` when ``CI`` is set, else ``dev``).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILES = ("dev", "ci", "nightly")


def register_profiles() -> None:
    """Register the three profiles with Hypothesis (idempotent)."""
    settings.register_profile(
        "dev",
        max_examples=30,
        stateful_step_count=30,
        deadline=None,
    )
    settings.register_profile(
        "ci",
        max_examples=60,
        stateful_step_count=40,
        derandomize=True,
        deadline=None,
        print_blob=True,
        # Stateful cluster runs are slow per example by design (many events per step).
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile(
        "nightly",
        max_examples=2000,
        stateful_step_count=120,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )


def selected_profile() -> str:
    """The profile named by the environment, validated."""
    name = os.environ.get("VPNHA_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
    if name not in PROFILES:
        msg = f"VPNHA_PROFILE={name!r} is not one of {', '.join(PROFILES)}"
        raise ValueError(msg)
    return name


def load_selected_profile() -> str:
    """Register the profiles and load the one the environment selects."""
    register_profiles()
    name = selected_profile()
    settings.load_profile(name)
    return name
