"""Standing agreement tests for the SA life-cycle encoding (``properties/z3/lifecycle.py``):
its transitions, evaluated on concrete states drawn by Hypothesis, do what the model's
functions do on the same state (an Add and a Delete reaching a router, a delete on the
holder, a resync, a promotion after the kilobyte lifetime ran out), and the situations
the I6 proof is about are reachable in the encoding (it is not vacuous)."""

from __future__ import annotations

import copy as copy_module
import functools
from dataclasses import replace

import z3
from hypothesis import assume, given
from hypothesis import strategies as st
from vpnha.model import operations as op
from vpnha.model import sadb, ssp
from vpnha.model import system as msys
from vpnha.model.ssp import Role
from vpnha.properties.z3 import lifecycle
from vpnha.properties.z3.engine import (
    Counterexample,
    Frame,
    Result,
    StatePredicate,
    Vars,
    find_violation,
)
from vpnha.properties.z3.replay import example_params


@functools.cache
def _pair() -> msys.System:
    """Router 0 holds SA 1 ACTIVE and replicates it; router 1 holds a usable copy."""
    system = msys.boot(example_params())
    for operation in (
        op.Advance(ms=70_000),
        op.Establish(sa_id=1, spi_in=0x100, spi_out=0x200, cookie_i=7, cookie_r=8),
        op.Advance(ms=100),
    ):
        msys.apply_in_place(system, operation)
    assert system.routers[0].sas[1].status is sadb.HaStatus.ACTIVE
    assert system.routers[1].sas[1].status is sadb.HaStatus.STANDBY
    return system


def _fresh(expires_in: int) -> msys.System:
    """A copy of the pair whose SA expires ``expires_in`` ms from now (on both routers)."""
    system = copy_module.deepcopy(_pair())
    for router in system.routers:
        router.sas[1] = replace(router.sas[1], expires_ms=system.now + expires_in)
    system.ssp_in_flight.clear()
    return system


def _deliver(system: msys.System, sender: int, message: ssp.SspMessage) -> None:
    epoch = system.routers[1 - sender].epoch
    assert epoch is not None
    msys._deliver_ssp(
        system, msys.SspInFlight(deliver_at=system.now, sender=sender, epoch=epoch, message=message)
    )


def _sent(system: msys.System, sender: int, kind: type) -> list[object]:
    return [
        m.message
        for m in system.ssp_in_flight
        if m.sender == sender and isinstance(m.message, kind)
    ]


def _bool(value: z3.ExprRef) -> bool:
    assert z3.is_true(value) or z3.is_false(value), value
    return bool(z3.is_true(value))


def _solve(
    name: str,
    pinned: dict[str, int | bool],
    expiry: int,
    inputs: dict[str, bool] | None = None,
) -> dict[str, bool] | None:
    """The Boolean post-state fields after transition ``name`` from the pinned pre-state
    (every other field false / zero), or None when it is not enabled there."""
    system = lifecycle.lifecycle_system()
    pre, post = system.state("p."), system.state("q.")
    frame = Frame(pre=pre, post=post, par={"EXP": z3.IntVal(expiry)}, prefix="i.")
    solver = z3.Solver()
    solver.add(dict(system.transitions)[name](frame))
    for field, kind in lifecycle.FIELDS:
        value = pinned.get(field, False if kind == "bool" else 0)
        solver.add(pre[field] == (z3.BoolVal(value) if isinstance(value, bool) else value))
    for key, flag in (inputs or {}).items():
        solver.add(frame.inputs[key] == z3.BoolVal(flag))
    if solver.check() != z3.sat:
        return None
    model = solver.model()
    return {
        field: _bool(model.eval(post[field], model_completion=True))
        for field, kind in lifecycle.FIELDS
        if kind == "bool"
    }


HOLDS = st.sampled_from(["none", "usable", "stale"])
TOMB = st.sampled_from(["none", "buried"])
EXPIRES_IN = st.integers(-5_000, 5_000).filter(lambda ms: ms != 0)


def _receiver(
    system: msys.System, *, active: bool, holds: str, tomb: str, card_full: bool
) -> msys.Router:
    """Router 1 in the drawn state (its role, its copy of SA 1, its tombstone, its card)."""
    router = system.routers[1]
    router.role = Role.ACTIVE if active else Role.STANDBY
    held = router.sas.pop(1)
    if holds != "none":
        router.sas[1] = replace(held, stale=holds == "stale")
    router.tombstones.clear()
    if tomb == "buried":
        router.tombstones[1] = held.expires_ms  # a tombstone keeps the SA's expiry
    router.params = replace(router.params, card_capacity=0 if card_full else None)
    return router


def _receiver_pins(
    system: msys.System, *, active: bool, holds: str, tomb: str
) -> dict[str, int | bool]:
    expiry = system.routers[0].sas[1].expires_ms
    return {
        "role1": active,
        "cpy1": holds != "none",
        "usable1": holds == "usable",
        "exp1": expiry,
        "tomb1": tomb == "buried",
        "now": system.now,
        "role0": True,
        "act0": True,
        "exp0": expiry,
        "conn": True,
    }


@given(active=st.booleans(), holds=HOLDS, tomb=TOMB, card_full=st.booleans(), expires_in=EXPIRES_IN)
def test_an_add_reaching_a_router_agrees_with_the_model(
    active: bool, holds: str, tomb: str, card_full: bool, expires_in: int
) -> None:
    """``deliver_add1``: ignored by an ACTIVE router, refused by a live tombstone or a full
    card (when no copy is held), otherwise a usable copy — as ``_apply_add`` does."""
    assume(not (active and holds != "none"))  # an ACTIVE router holds no standby copy
    system = _fresh(expires_in)
    router = _receiver(system, active=active, holds=holds, tomb=tomb, card_full=card_full)
    record = system.routers[0].sas[1]
    _deliver(system, 0, ssp.Add(ike=None, ipsec=record, resync=False, serial=1))

    pins = _receiver_pins(system, active=active, holds=holds, tomb=tomb)
    pins |= {"addp1": True, "addv1": record.expires_ms}
    after = _solve("deliver_add1", pins, record.expires_ms, {"card_full": card_full, "more": False})
    assert after is not None
    held = router.sas.get(1)
    assert after["cpy1"] == (held is not None)
    assert after["usable1"] == (held is not None and not held.stale)
    assert after["tomb1"] == (tomb == "buried")


@given(active=st.booleans(), holds=HOLDS, tomb=TOMB, expires_in=EXPIRES_IN)
def test_a_delete_reaching_a_router_agrees_with_the_model(
    active: bool, holds: str, tomb: str, expires_in: int
) -> None:
    """``deliver_delete1``: ignored (not acknowledged) by an ACTIVE router; otherwise the
    copy goes, is buried if it was held and has lifetime left, and the Delete is
    acknowledged — as ``_deliver_ssp`` does."""
    assume(not (active and holds != "none"))
    system = _fresh(expires_in)
    router = _receiver(system, active=active, holds=holds, tomb=tomb, card_full=False)
    _deliver(system, 0, ssp.Delete(sa_id=1, ike=False))
    acks = [a for a in _sent(system, 1, ssp.Ack) if isinstance(a, ssp.Ack) and a.kind is None]

    pins = _receiver_pins(system, active=active, holds=holds, tomb=tomb)
    pins |= {"delp1": True, "act0": False, "tomb0": True}
    after = _solve("deliver_delete1", pins, system.routers[0].sas[1].expires_ms)
    assert after is not None
    router.tombstones = {k: t for k, t in router.tombstones.items() if t > system.now}
    assert after["cpy1"] == (1 in router.sas)
    # A tombstone past the SA's expiry is inert in both (the model purges it on the next Add).
    if system.now < system.routers[0].sas[1].expires_ms:
        assert after["tomb1"] == (1 in router.tombstones)
    assert after["ackp0"] == bool(acks)


@given(expires_in=st.integers(1, 5_000), replicating=st.booleans(), exhausted=st.booleans())
def test_a_delete_on_the_holder_agrees_with_the_model(
    expires_in: int, replicating: bool, exhausted: bool
) -> None:
    """``delete0`` / ``exhaust0`` (an operator delete or the old SA of a rekey; the kilobyte
    lifetime running out): the instance goes and is buried, a Delete goes out while
    replicating, the SA is unacked (gone at once when exhausted); the acknowledgement then
    marks it gone (``deliver_ack0``) — as ``_delete_sa`` and ``_apply_ack`` do."""
    system = _fresh(expires_in)
    holder = system.routers[0]
    holder.bulk_sent = replicating
    expiry = holder.sas[1].expires_ms
    msys._delete_sa(system, 0, 1, reason="expired" if exhausted else "deleted")
    deletes = _sent(system, 0, ssp.Delete)

    pins: dict[str, int | bool] = {
        "role0": True,
        "act0": True,
        "exp0": expiry,
        "now": system.now,
        "conn": True,
    }
    after = _solve("exhaust0" if exhausted else "delete0", pins, expiry, {"sent": replicating})
    assert after is not None
    assert not after["act0"]
    assert after["tomb0"] == (1 in holder.tombstones)
    assert after["delp1"] == bool(deletes)
    assert after["gone"] == (system.deleted[1] == "expired")
    assert after["unacked"] == (system.deleted[1] == "unacked")
    if not exhausted:
        _deliver(system, 1, ssp.Ack(sa_id=1, kind=None, value=0))
        acked = _solve(
            "deliver_ack0", {**pins, "act0": False, "ackp0": True, "unacked": True}, expiry
        )
        assert acked is not None
        assert acked["gone"] == (system.deleted[1] == "acked")


@given(holds=HOLDS, tomb=TOMB, connected=st.booleans())
def test_resync_keeps_tombstones_like_the_model(holds: str, tomb: str, connected: bool) -> None:
    """``resync1``: the copy goes, the tombstone stays — as ``_resync`` does."""
    system = _fresh(5_000)
    router = _receiver(system, active=False, holds=holds, tomb=tomb, card_full=False)
    if not connected:
        msys._ssp_disconnect(system, 1, "test", notify_peer=False)
    msys._resync(system, 1)
    pins = _receiver_pins(system, active=False, holds=holds, tomb=tomb) | {"conn": connected}
    after = _solve("resync1", pins, system.routers[0].sas[1].expires_ms)
    assert after is not None
    assert after["cpy1"] == (1 in router.sas)
    assert after["tomb1"] == (1 in router.tombstones)


@given(short=st.integers(0, 100_000))
def test_a_spent_copy_is_deleted_at_promotion_like_the_model(short: int) -> None:
    """The composition behind ``promote`` when ``spent``: a copy whose count is at most one
    byte interval below the kilobyte lifetime (every takeover starts at or above every
    byte count used: I8-counters) is deleted as soon as it is promoted and buried, and
    the encoding's ``promote1`` after ``exhaust`` yields no ACTIVE instance either."""
    system = _fresh(5_000)
    jump = system.params.byte_interval
    lifetime = system.params.lifetime_bytes
    copy_count = max(0, lifetime - jump + min(short, jump))
    router = system.routers[1]
    router.sas[1] = replace(router.sas[1], byte_count=sadb.new_counter(copy_count))
    router.epoch = None  # SSP down, heard just now: the copy is usable (within the grace)
    router.last_heard_ms = system.now
    msys._promote(system, 1)
    assert 1 not in router.sas
    assert system.deleted[1] == "expired"
    assert 1 in router.tombstones

    expiry = system.routers[0].sas[1].expires_ms
    pins: dict[str, int | bool] = {
        "cpy1": True,
        "usable1": True,
        "exp1": expiry,
        "now": system.now,
        "spent": True,
        "gone": True,
    }
    after = _solve("promote1", pins, expiry)
    assert after is not None
    assert after["role1"]
    assert not after["act1"]
    assert after["tomb1"]


def _reach(name: str, situation: StatePredicate, depth: int) -> Result:
    """A bounded search for a state where ``situation`` holds (found: reachable)."""
    system = lifecycle.lifecycle_system()
    return find_violation(
        name,
        system,
        lambda s, par: z3.Not(situation(s, par)),
        depth=depth,
        describe=lambda found: " → ".join(found.steps),
    )


def test_the_late_add_is_reachable_and_refused_by_the_tombstone() -> None:
    """Not vacuous: the state the tombstone exists for is reachable in the encoding — router
    1 deleted the SA and is no longer ACTIVE, an Add towards it is in flight, and the
    acknowledgement of its Delete is on its way behind it."""

    def late(s: Vars, par: Vars) -> z3.BoolRef:
        del par
        return z3.And(s["addp1"], s["ackp1"], s["tomb1"], z3.Not(s["role1"]), z3.Not(s["gone"]))

    found = _reach("late-add", late, 9)
    assert isinstance(found, Counterexample), found
    assert "delete1" in found.steps
    assert "deliver_delete0" in found.steps
