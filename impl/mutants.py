"""Seeded bugs: named faults the conformance suite switches on to prove it can catch them.

Theory of operation
-------------------
Each mutant is a name in :data:`MUTANTS` with a one-line description of the fault.
All are off unless a test (or ``vpnha gate``) turns one on with :func:`enabled`; the
code that carries a fault asks :func:`active` at the one place the fault lives. The
registry is module state on purpose: a mutant must reach code deep inside a core
without a parameter threaded through every constructor, and it is a test hook, not
configuration (nothing in a router's configuration can turn one on).

A mutant that the suite does not kill means the suite has a blind spot; the
counterexample that kills each one is kept under ``counterexamples/`` and replayed
by the regression tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

__all__ = ["MUTANTS", "active", "enabled"]

MUTANTS: Final[dict[str, str]] = {
    "hsrp-tie-break-lower-ip": (
        "HSRP: with equal priorities the router with the lower address wins (RFC 2281: higher)"
    ),
    "hsrp-tracking-ignored": "HSRP: a tracked interface going down does not lower the priority",
    "hsrp-preempt-ignored": "HSRP: a router with a higher priority never preempts",
    "sadb-no-jump": "SA database: a takeover promotes copies without jumping the counters ahead",
    "sadb-jump-n-for-m": (
        "SA database: a takeover jumps the outbound counter by the inbound interval N, not M"
    ),
    "sadb-no-announce": (
        "SA database: a router leaving ACTIVE (or connecting) does not announce its counters"
    ),
    "sadb-inbound-not-jumped": (
        "SA database: a takeover jumps the outbound counter but not the inbound window"
    ),
    "sadb-inbound-bytes-not-counted": (
        "SA database: inbound octets are not counted against the kilobyte lifetime"
    ),
    "sadb-lifetime-extended": (
        "SA database: a takeover extends each SA's seconds lifetime (by the SSP grace time)"
    ),
    "sadb-bytes-reset-on-takeover": (
        "SA database: a takeover restarts each SA's kilobyte lifetime count from zero"
    ),
    "sadb-stale-copies-promoted": (
        "SA database: a takeover promotes copies that are stale or outlived SSP's grace time"
    ),
    "sadb-resync-drops-last": (
        "SA database: the full copy answering a standby's resync leaves out the last SA"
    ),
    "ssp-delete-not-replicated": "SSP: deleting an SA on the active is not sent to the standby",
    "ssp-dead-timer-ignored": "SSP: a silent connection is never declared dead",
    "vam-standby-not-counted": "crypto card: standby copies take no capacity on the card",
    "esp-window-left-edge-off-by-one": (
        "ESP: a packet exactly one window width behind the right edge passes the replay check"
    ),
    "esp-window-before-icv": (
        "ESP: the replay window moves before the integrity check (a forged packet moves it)"
    ),
    "hsrp-hold-off-by-one-hello": (
        "HSRP: the active router is declared dead one hello time after the hold time"
    ),
    "hsrp-standby-answers-vip": (
        "HSRP: a Standby router answers for the virtual IP (a gratuitous ARP with each hello)"
    ),
    "forward-cleartext-without-sa": (
        "forwarding: protected traffic with no SA is sent in the clear instead of dropped"
    ),
    "ike-dpd-no-jump": (
        "IKE: a takeover promotes IKE SA copies without jumping DPD_OUT ahead (a number reused)"
    ),
    "ike-phase1-iv-not-replicated": (
        "IKE: the standby's copy lacks the last phase-1 CBC block (its phase-2 IVs are wrong)"
    ),
    "ike-message-id-counter": (
        "IKE: message ids count up from 1 per router instead of being drawn (a new active "
        "reuses the old one's)"
    ),
}
"""Every seeded bug: name -> what is wrong."""

_ACTIVE: set[str] = set()


def active(name: str) -> bool:
    """Whether the seeded bug ``name`` is switched on (it must be registered)."""
    if name not in MUTANTS:
        msg = f"mutant {name!r} is not registered"
        raise KeyError(msg)
    return name in _ACTIVE


@contextmanager
def enabled(name: str | None) -> Iterator[None]:
    """Switch ``name`` on for the ``with`` block (None: nothing); never nests two mutants."""
    if name is None:
        yield
        return
    if name not in MUTANTS:
        msg = f"mutant {name!r} is not one of {', '.join(sorted(MUTANTS))}"
        raise KeyError(msg)
    if _ACTIVE:
        msg = f"mutant {sorted(_ACTIVE)[0]!r} is already on"
        raise RuntimeError(msg)
    _ACTIVE.add(name)
    try:
        yield
    finally:
        _ACTIVE.discard(name)
