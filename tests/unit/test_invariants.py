"""Unit tests of ``vpnha.properties.invariants``: every invariant can fail.

Each test starts from a real observation of the model (the document's pair,
elected, one SA carrying traffic both ways, two DPD probes), which the checker
accepts, then doctors it with ``dataclasses.replace`` so that exactly one
invariant is broken, and asserts that the checker names exactly that one. Then
the helpers: ``overlaps``, ``conforming`` and I10's ``check_continuity``.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from vpnha.model import operations as op
from vpnha.model.params import GroupSide
from vpnha.model.system import System, apply_in_place, boot
from vpnha.properties.invariants import (
    INVARIANTS,
    ContinuityWatch,
    InvariantChecker,
    check_continuity,
    conforming,
    overlaps,
)
from vpnha.properties.observation import (
    GroupObs,
    Observation,
    RouterObs,
    Run,
    SaObs,
    Takeover,
    observe_model,
)
from vpnha.properties.scenarios import (
    builtin_configs,
    cluster_params,
    example_path,
    load_pair,
)

SPI_IN, SPI_OUT = 0x1001, 0x2001
COOKIE = 7
HOLD_MS, HELLO_MS = 3000, 500


def _booted(*, pair: tuple[str, str] | None = None) -> System:
    configs = builtin_configs() if pair is None else load_pair(*map(example_path, pair))
    system = boot(cluster_params(*configs, jitter_ms=(0,)))
    apply_in_place(system, op.Advance(ms=75_000))
    return system


def _with_traffic() -> System:
    system = _booted()
    for operation in (
        op.Establish(
            sa_id=1, spi_in=SPI_IN, spi_out=SPI_OUT, cookie_i=COOKIE, cookie_r=COOKIE + 100
        ),
        op.Advance(ms=50),
        op.SendTraffic(packets=1000, size=100),
        op.ReceiveTraffic(packets=100, size=100),
        op.DpdProbe(from_peer=False),
        op.Advance(ms=50),  # DPD's J is one probe: the next waits for the acknowledgement
        op.DpdProbe(from_peer=False),
        op.Advance(ms=50),
    ):
        apply_in_place(system, operation)
    return system


@pytest.fixture(scope="module")
def base() -> Observation:
    """Elected pair, SA 1 ACTIVE on router 0 and in sync on router 1, traffic, DPD."""
    obs = observe_model(_with_traffic())
    r0, r1 = obs.routers
    assert (r0.role, r1.role) == ("ACTIVE", "STANDBY")
    assert [(s.sa_id, s.status, s.stale) for s in r0.sas] == [(1, "ACTIVE", False)]
    assert [(s.sa_id, s.status, s.stale) for s in r1.sas] == [(1, "STANDBY", False)]
    assert [(r.spi, r.first, r.last) for r in obs.transmitted] == [(SPI_OUT, 1, 1000)]
    assert [(r.spi, r.first, r.last) for r in obs.accepted] == [(SPI_IN, 1, 100)]
    assert [(ike, seq) for _, ike, seq in obs.dpd_sent] == [(COOKIE, 1), (COOKIE, 2)]
    return obs


def violated(*observations: Observation, checker: InvariantChecker | None = None) -> set[str]:
    """Feed ``observations`` in order; every one but the last must be clean; name the last's."""
    checker = checker or InvariantChecker()
    *history, last = observations
    for obs in history:
        assert checker.observe(obs) == []
    return {v.invariant for v in checker.observe(last)}


def with_router(obs: Observation, index: int, **changes: object) -> Observation:
    routers = list(obs.routers)
    routers[index] = replace(routers[index], **changes)  # type: ignore[arg-type]
    return replace(obs, routers=(routers[0], routers[1]))


def with_group(obs: Observation, index: int, side: str, **changes: object) -> Observation:
    group: GroupObs = getattr(obs.router(index), side)
    return with_router(obs, index, **{side: replace(group, **changes)})  # type: ignore[arg-type]


def with_sa(obs: Observation, index: int, sa_id: int, **changes: object) -> Observation:
    sas = tuple(
        replace(sa, **changes) if sa.sa_id == sa_id else sa  # type: ignore[arg-type]
        for sa in obs.router(index).sas
    )
    return with_router(obs, index, sas=sas)


def the_sa(router: RouterObs, sa_id: int = 1) -> SaObs:
    return next(sa for sa in router.sas if sa.sa_id == sa_id)


# ------------------------------------------------------------ the baseline


def test_the_undoctored_observation_breaks_nothing(base: Observation) -> None:
    assert InvariantChecker().observe(base) == []
    assert violated(base, base, base) == set()


def test_every_invariant_has_a_statement() -> None:
    assert list(INVARIANTS) == [f"I{n}" for n in range(1, 11)]
    assert all(len(text) > 40 for text in INVARIANTS.values())


# --------------------------------------------------------------------- I1


def test_i1_two_actives_on_a_clean_segment_for_longer_than_a_hello(base: Observation) -> None:
    grace = base.config.hello_ms + 2 * base.config.latency_ms
    doctored = with_group(base, 1, "inside", state="Active", state_since_ms=base.now_ms - grace - 1)
    assert violated(doctored) == {"I1"}


def test_i1_allows_two_actives_for_one_hello(base: Observation) -> None:
    grace = base.config.hello_ms + 2 * base.config.latency_ms
    doctored = with_group(base, 1, "inside", state="Active", state_since_ms=base.now_ms - grace)
    assert violated(doctored) == set()


def test_i1_allows_two_actives_on_a_recently_faulty_or_partitioned_segment(
    base: Observation,
) -> None:
    doctored = with_group(base, 1, "outside", state="Active", state_since_ms=0)
    assert violated(doctored) == {"I1"}
    recent_fault = replace(doctored, clean_since=(0, base.now_ms - 10))
    assert violated(recent_fault) == set()
    partitioned = replace(doctored, partitioned=(False, True))
    assert violated(partitioned) == set()


def test_i1_a_priority_move_restarts_the_grace(base: Observation) -> None:
    """As the Z3 proof states I1 (hsrp.py): a group's priority moving on either router
    restarts its grace period, like a segment fault; the other group's does not."""
    grace = base.config.hello_ms + 2 * base.config.latency_ms
    split = with_group(base, 1, "inside", state="Active", state_since_ms=0)
    assert violated(split) == {"I1"}
    checker = InvariantChecker()
    assert checker.observe(base) == []
    moved = with_group(split, 0, "inside", priority=base.router(0).inside.priority + 1)
    assert checker.observe(moved) == []
    within = replace(moved, now_ms=base.now_ms + grace)
    assert checker.observe(within) == []
    after = replace(moved, now_ms=base.now_ms + grace + 1)
    assert {v.invariant for v in checker.observe(after)} == {"I1"}
    # The outside group's priority moving does not excuse the inside split.
    checker = InvariantChecker()
    assert checker.observe(base) == []
    other = with_group(split, 0, "outside", priority=base.router(0).outside.priority + 1)
    assert {v.invariant for v in checker.observe(other)} == {"I1"}


# --------------------------------------------------------------------- I2


def _split(base: Observation) -> Observation:
    """Router 0 Active inside only, router 1 Active outside only, neither SSP ACTIVE."""
    obs = with_group(base, 0, "outside", state="Standby")
    obs = with_group(obs, 1, "outside", state="Active")
    obs = with_router(obs, 0, role="NONE")
    return with_router(obs, 1, role="NONE")


def _stable(obs: Observation) -> Observation:
    """Nothing disturbed HSRP for longer than ``settle_ms``."""
    return replace(obs, disturbed_ms=obs.now_ms - obs.config.settle_ms - 1)


def test_i2_stable_conforming_split_is_a_black_hole(base: Observation) -> None:
    assert violated(_stable(_split(base))) == {"I2"}
    assert violated(_stable(base)) == set()


def test_i2_split_is_allowed_while_settling_or_when_not_conforming(base: Observation) -> None:
    settling = replace(_split(base), disturbed_ms=base.now_ms - base.config.settle_ms)
    assert violated(settling) == set()
    stable = _stable(_split(base))
    unequal = replace(stable, config=replace(stable.config, priorities=((100, 100), (100, 90))))
    assert violated(unequal) == set()
    interface_down = with_group(stable, 1, "inside", interface_up=False)
    assert violated(interface_down) == set()


def test_i2_ssp_active_needs_every_group_active_at_any_time(base: Observation) -> None:
    doctored = with_group(base, 0, "outside", state="Standby")
    assert doctored.router(0).role == "ACTIVE"
    assert violated(doctored) == {"I2"}


# ----------------------------------------------------------------- I3, I4


def test_i3_overlapping_transmitted_runs_on_one_spi(base: Observation) -> None:
    again = Run(time_ms=base.now_ms, router=1, spi=SPI_OUT, first=1000, last=1005)
    assert violated(replace(base, transmitted=(*base.transmitted, again))) == {"I3"}


def test_i4_overlapping_accepted_runs_on_one_spi(base: Observation) -> None:
    again = Run(time_ms=base.now_ms, router=1, spi=SPI_IN, first=50, last=50)
    assert violated(replace(base, accepted=(*base.accepted, again))) == {"I4"}


def test_i3_i4_runs_that_only_continue_are_fine(base: Observation) -> None:
    sent = Run(time_ms=base.now_ms, router=1, spi=SPI_OUT, first=1001, last=2000)
    got = Run(time_ms=base.now_ms, router=1, spi=SPI_IN, first=101, last=110)
    doctored = replace(base, transmitted=(*base.transmitted, sent), accepted=(*base.accepted, got))
    assert violated(doctored) == set()


# --------------------------------------------------------------------- I5


def test_i5_takeover_that_misses_a_usable_copy(base: Observation) -> None:
    lost = Takeover(time_ms=base.now_ms, router=1, usable=(1,), promoted=())
    assert violated(replace(base, takeovers=(*base.takeovers, lost))) == {"I5"}


def test_i5_promoted_sa_no_longer_held_by_the_new_active(base: Observation) -> None:
    since = base.router(0).role_since_ms
    assert [t.time_ms for t in base.takeovers if t.router == 0] == [since]
    promoted = Takeover(time_ms=since, router=0, usable=(1, 42), promoted=(1, 42))
    doctored = replace(base, takeovers=(promoted,))
    assert violated(doctored) == {"I5"}
    # An SA deleted since the takeover is not lost.
    assert violated(replace(doctored, deleted=((42, "acked"),))) == set()


def test_i5_reports_each_takeover_once(base: Observation) -> None:
    lost = Takeover(time_ms=base.now_ms, router=1, usable=(1,), promoted=())
    doctored = replace(base, takeovers=(*base.takeovers, lost))
    checker = InvariantChecker()
    assert {v.invariant for v in checker.observe(doctored)} == {"I5"}
    assert checker.observe(doctored) == []


# --------------------------------------------------------------------- I6


def without_sa(obs: Observation, sa_id: int) -> Observation:
    for index in (0, 1):
        sas = tuple(sa for sa in obs.router(index).sas if sa.sa_id != sa_id)
        obs = with_router(obs, index, sas=sas)
    return obs


@pytest.mark.parametrize("how", ["acked", "expired"])
def test_i6_deleted_sa_active_again(base: Observation, how: str) -> None:
    gone = replace(without_sa(base, 1), deleted=((1, how),))
    assert violated(gone, replace(base, deleted=((1, how),))) == {"I6"}


def test_i6_a_split_brain_survivor_is_not_a_resurrection(base: Observation) -> None:
    """The other active spent its copy (kilobytes) while this one kept using the SA:
    keeping it is not bringing it back; letting go and holding it again is."""
    holders = [i for i in (0, 1) if any(sa.sa_id == 1 for sa in base.router(i).sas)]
    assert holders
    survivor = replace(base, deleted=((1, "expired"),))
    gone = replace(without_sa(base, 1), deleted=((1, "expired"),))
    checker = InvariantChecker()
    assert violated(survivor, survivor, gone, checker=checker) == set()
    assert violated(survivor, checker=checker) == {"I6"}


def test_i6_unacknowledged_delete_may_be_undone(base: Observation) -> None:
    assert violated(replace(base, deleted=((1, "unacked"),))) == set()


def test_i6_standby_copy_of_a_deleted_sa_is_not_a_resurrection(base: Observation) -> None:
    doctored = replace(with_sa(base, 0, 1, status="STANDBY"), deleted=((1, "acked"),))
    doctored = with_router(doctored, 0, role="STANDBY")
    doctored = with_group(doctored, 0, "inside", state="Standby")
    doctored = with_group(doctored, 0, "outside", state="Standby")
    assert "I6" not in violated(doctored)


# --------------------------------------------------------------------- I7


def test_i7_card_over_capacity(base: Observation) -> None:
    capacity = base.router(1).card_capacity
    assert capacity is not None
    assert violated(with_router(base, 1, card_in_use=capacity + 2)) == {"I7"}
    assert violated(with_router(base, 1, card_in_use=capacity)) == set()


def test_i7_refusal_without_a_reason(base: Observation) -> None:
    assert violated(replace(base, refusals=("establish-refused",))) == {"I7"}
    assert violated(replace(base, refusals=("establish-refused: SA 2: card full",))) == set()


# --------------------------------------------------------------------- I8


def test_i8_expiry_that_moves(base: Observation) -> None:
    expires = the_sa(base.router(1)).expires_ms
    moved = with_sa(base, 1, 1, expires_ms=expires + 1000)
    assert violated(base, moved) == {"I8"}


def test_i8_expiry_differs_between_routers(base: Observation) -> None:
    expires = the_sa(base.router(1)).expires_ms
    assert violated(with_sa(base, 1, 1, expires_ms=expires - 1)) == {"I8"}


def test_i8_active_byte_count_that_goes_down(base: Observation) -> None:
    used = the_sa(base.router(0)).bytes_used
    assert used > 0
    assert violated(base, with_sa(base, 0, 1, bytes_used=used - 1)) == {"I8"}
    # A standby copy may lag: only the ACTIVE instance counts.
    assert violated(base, with_sa(base, 1, 1, bytes_used=0)) == set()


def test_i8_dpd_number_that_repeats(base: Observation) -> None:
    time_ms, ike, seq = base.dpd_sent[-1]
    repeated = replace(base, dpd_sent=(*base.dpd_sent, (time_ms + 1, ike, seq)))
    assert violated(repeated) == {"I8"}
    other_ike = replace(base, dpd_sent=(*base.dpd_sent, (time_ms + 1, ike + 1, 1)))
    assert violated(other_ike) == set()


# --------------------------------------------------------------------- I9


def test_i9_cleartext_leak(base: Observation) -> None:
    assert base.cleartext_leaked == 0
    assert violated(replace(base, cleartext_leaked=3)) == {"I9"}


def test_checker_skip_suppresses_exactly_the_named_invariant(base: Observation) -> None:
    doctored = replace(base, cleartext_leaked=3, refusals=("no reason",))
    assert violated(doctored, checker=InvariantChecker(skip=frozenset({"I9"}))) == {"I7"}


# ---------------------------------------------------------------- overlaps


def _run(first: int, last: int, *, spi: int = 1, router: int | None = 0) -> Run:
    return Run(time_ms=0, router=router, spi=spi, first=first, last=last)


def test_overlaps_adjacent_runs_do_not_overlap() -> None:
    assert overlaps([_run(1, 5), _run(6, 10), _run(11, 11)]) == []
    assert overlaps([_run(6, 10), _run(1, 5)]) == []
    assert overlaps([]) == []


def test_overlaps_nested_and_shared_edges_overlap() -> None:
    outer, inner = _run(1, 10), _run(3, 4, router=1)
    assert overlaps([outer, inner]) == [(outer, inner)]
    assert overlaps([inner, outer]) == [(outer, inner)]
    left, right = _run(1, 5), _run(5, 9)
    assert overlaps([right, left]) == [(left, right)]
    twin = _run(1, 5, router=None)
    assert overlaps([left, twin]) != []


def test_overlaps_finds_runs_inside_an_earlier_long_run() -> None:
    long, a, b = _run(1, 100), _run(10, 20), _run(50, 60)
    assert overlaps([b, a, long]) == [(long, a), (long, b)]


def test_overlaps_different_spis_never_overlap() -> None:
    assert overlaps([_run(1, 10, spi=1), _run(1, 10, spi=2), _run(5, 5, spi=3)]) == []


# --------------------------------------------------------------- conforming


def test_conforming_document_pair(base: Observation) -> None:
    assert conforming(base)


def test_not_conforming_split_pair() -> None:
    obs = observe_model(_booted(pair=("split-router1.cfg", "split-router2.cfg")))
    (a0i, a0o), (a1i, a1o) = obs.config.addresses
    assert (a0i > a1i) != (a0o > a1o)
    assert not conforming(obs)


def test_not_conforming_unequal_priorities_or_preempt_off() -> None:
    system = _booted()
    apply_in_place(system, op.SetPriority(router=1, side=GroupSide.OUTSIDE, priority=110))
    assert not conforming(observe_model(system))
    system = _booted()
    apply_in_place(system, op.SetPreempt(router=0, side=GroupSide.INSIDE, preempt=False))
    assert not conforming(observe_model(system))


def test_not_conforming_tracking_not_mutual(base: Observation) -> None:
    one_way = replace(base.config, mutual_tracking=(True, False))
    assert not conforming(replace(base, config=one_way))


# ------------------------------------------------------ check_continuity (I10)


@pytest.fixture(scope="module")
def failover() -> tuple[Observation, Observation]:
    """A real failover: observation just before router 0 crashes, and hold + hello later.

    The crash comes at the instant router 1 has just heard from router 0 over SSP, so
    its SSP dead timer cannot beat its HSRP hold timer (see the conformance scenarios).
    """
    system = _with_traffic()
    while system.routers[1].last_heard_ms != system.now:
        apply_in_place(system, op.AdvanceToNextEvent())
    before = observe_model(system)
    apply_in_place(system, op.Crash(router=0))
    apply_in_place(system, op.Advance(ms=HOLD_MS + HELLO_MS))
    return before, observe_model(system)


def test_continuity_holds_for_a_real_failover(failover: tuple[Observation, Observation]) -> None:
    before, after = failover
    assert (before.router(0).role, before.router(1).role) == ("ACTIVE", "STANDBY")
    assert after.router(1).role == "ACTIVE"
    assert check_continuity(before, after, failed=0) == []


def test_continuity_survivor_not_active_by_the_deadline(
    failover: tuple[Observation, Observation],
) -> None:
    before, after = failover
    deadline = before.now_ms + HOLD_MS + HELLO_MS
    not_active = with_router(after, 1, role="NONE")
    assert any("ACTIVE was due" in p for p in check_continuity(before, not_active, failed=0))
    late = with_router(after, 1, role_since_ms=deadline + 1)
    assert any("ACTIVE was due" in p for p in check_continuity(before, late, failed=0))
    on_time = with_router(after, 1, role_since_ms=deadline)
    assert check_continuity(before, on_time, failed=0) == []


def test_continuity_survivor_lost_an_in_sync_sa(failover: tuple[Observation, Observation]) -> None:
    before, after = failover
    lost = with_router(after, 1, sas=())
    problems = check_continuity(before, lost, failed=0)
    assert len(problems) == 1
    assert "SAs [1]" in problems[0]
    standby_only = with_sa(after, 1, 1, status="STANDBY")
    assert len(check_continuity(before, standby_only, failed=0)) == 1
    # An SA that expired in the meantime is not lost.
    expired = replace(lost, deleted=((1, "expired"),))
    assert check_continuity(before, expired, failed=0) == []


def test_continuity_stale_copy_is_not_required(failover: tuple[Observation, Observation]) -> None:
    before, after = failover
    stale = with_sa(before, 1, 1, stale=True)
    assert check_continuity(stale, with_router(after, 1, sas=()), failed=0) == []


def test_continuity_premise_not_met_checks_nothing(
    failover: tuple[Observation, Observation],
) -> None:
    before, after = failover
    broken = with_router(after, 1, role="NONE", sas=())
    assert check_continuity(with_router(before, 1, role="NONE"), broken, failed=0) == []
    assert check_continuity(with_router(before, 1, ssp_connected=False), broken, failed=0) == []
    assert check_continuity(with_router(before, 0, role="STANDBY"), broken, failed=0) == []
    assert check_continuity(before, broken, failed=1) == []  # router 1 was not the active


def test_continuity_checked_too_early(failover: tuple[Observation, Observation]) -> None:
    before, after = failover
    early = replace(after, now_ms=before.now_ms + HOLD_MS + HELLO_MS - 1)
    problems = check_continuity(before, early, failed=0)
    assert len(problems) == 1
    assert "too early" in problems[0]


def test_i10_no_watch_while_a_message_fault_is_in_flight(base: Observation) -> None:
    """A Hello delayed before the crash may land after it and rightly delay the
    takeover: a crash on a segment not yet clean starts no I10 watch."""
    faulty = replace(base, clean_since=(0, base.now_ms + 500))
    watch = ContinuityWatch()
    assert watch.step(op.Crash(router=0), faulty, faulty) == []
    assert watch.before is None
    assert watch.step(op.Crash(router=0), base, base) == []
    assert watch.before is base
