"""Unit tests of ``vpnha.model.sadb``: the RFC 4303 §3.4.3 window and the counters; and the
rules of ``model/system.py`` that keep a full copy from lowering them."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vpnha.model import operations as op
from vpnha.model import ssp
from vpnha.model import system as msys
from vpnha.model.sadb import (
    SEQ_MAX,
    Counter,
    HaStatus,
    IpsecSa,
    Kind,
    accept_window,
    accept_window_range,
    new_counter,
    promote_counter,
)
from vpnha.properties.z3.replay import example_params

# ---------------------------------------------------------------- accept_window


def test_seq_max_is_the_32_bit_limit() -> None:
    assert SEQ_MAX == 2**32 - 1 == 4_294_967_295


def test_sequence_number_zero_is_never_accepted() -> None:
    # RFC 4303 §2.2 / §3.3.3: the first packet carries 1; 0 is never sent.
    assert not accept_window(0, frozenset(), 0, 64)
    assert accept_window(0, frozenset(), 1, 64)
    assert not accept_window(10, frozenset(), 0, 64)


@pytest.mark.parametrize(
    ("seq", "accepted", "why"),
    [
        (35, False, "left of the window"),
        (36, False, "left of the window: top - W is outside (top - W, top]"),
        (37, True, "left edge, not seen"),
        (50, False, "duplicate inside the window"),
        (51, True, "inside the window, not seen"),
        (100, False, "duplicate right edge"),
        (99, True, "just below the right edge, not seen"),
        (101, True, "new right edge"),
        (100 + 2**31, True, "far right of the window (still proceeds to ICV)"),
    ],
)
def test_window_against_rfc_4303_3_4_3(seq: int, accepted: bool, why: str) -> None:
    top, window = 100, 64
    seen = frozenset({50, 64, 100})
    assert accept_window(top, seen, seq, window) is accepted, why


def test_window_of_one_accepts_only_new_right_edges() -> None:
    assert not accept_window(5, frozenset({5}), 5, 1)
    assert not accept_window(5, frozenset({5}), 4, 1)
    assert accept_window(5, frozenset({5}), 6, 1)


# ---------------------------------------------------------------- accept_window_range


def plain_offer(
    top: int, seen: frozenset[int], first: int, last: int, window: int
) -> tuple[int, frozenset[int], list[tuple[int, int]]]:
    """Offer first..last one at a time, the plain way; runs of accepted numbers merged."""
    runs: list[tuple[int, int]] = []
    for seq in range(first, last + 1):
        if not accept_window(top, seen, seq, window):
            continue
        seen = seen | {seq}
        if seq > top:
            top = seq
            seen = frozenset(s for s in seen if s > top - window)
        if runs and runs[-1][1] == seq - 1:
            runs[-1] = (runs[-1][0], seq)
        else:
            runs.append((seq, seq))
    return top, seen, runs


@st.composite
def window_states(draw: st.DrawFn) -> tuple[int, frozenset[int], int]:
    """(top, seen, window) with ``seen`` inside (top - W, top] and ``top`` in it when > 0."""
    window = draw(st.sampled_from([1, 2, 3, 8, 32, 64]) | st.integers(1, 80))
    top = draw(st.sampled_from([0, 1, 2, 5]) | st.integers(0, 400))
    inside = range(max(1, top - window + 1), top + 1)
    seen = frozenset(draw(st.sets(st.sampled_from(inside)))) if inside else frozenset()
    if top > 0:
        seen |= {top}  # the right edge is a validated packet
    return top, seen, window


@st.composite
def offered_ranges(draw: st.DrawFn, top: int, window: int) -> tuple[int, int]:
    """A non-empty range first..last in one of the shapes that matter."""
    left = top - window + 1
    shape = draw(st.sampled_from(["straddle", "below", "inside", "above", "any"]))
    match shape:
        case "straddle":  # first ≤ top < last
            first = draw(st.integers(max(0, left - 10), top))
            last = draw(st.integers(top + 1, top + 150))
        case "below":  # entirely left of the window
            last = draw(st.integers(0, max(0, left - 1)))
            first = draw(st.integers(0, last))
        case "inside":  # within (top - W, top]
            first = draw(st.integers(max(0, left), top))
            last = draw(st.integers(first, top))
        case "above":  # entirely right of the window
            first = draw(st.integers(top + 1, top + 150))
            last = draw(st.integers(first, first + 150))
        case _:
            first = draw(st.integers(0, top + 150))
            last = draw(st.integers(first, first + 200))
    return first, last


@given(data=st.data())
def test_range_equals_offering_one_by_one(data: st.DataObject) -> None:
    top, seen, window = data.draw(window_states())
    first, last = data.draw(offered_ranges(top, window))
    expected = plain_offer(top, seen, first, last, window)
    assert accept_window_range(top, seen, first, last, window) == expected


@pytest.mark.parametrize(
    ("top", "seen", "first", "last", "window"),
    [
        (0, frozenset(), 1, 10, 64),  # fresh SA, first burst
        (0, frozenset(), 0, 3, 64),  # 0 rejected, 1..3 accepted
        (100, frozenset({100, 98}), 90, 110, 8),  # straddles: hole at 98, 100 seen
        (100, frozenset({100}), 1, 50, 8),  # entirely left of the window
        (100, frozenset({100}), 500, 600, 8),  # jump far to the right
        (100, frozenset({100, 99}), 99, 99, 2),  # a single duplicate
        (10, frozenset({10, 9}), 9, 12, 2),  # duplicate, then new right edges
    ],
)
def test_range_examples(top: int, seen: frozenset[int], first: int, last: int, window: int) -> None:
    assert accept_window_range(top, seen, first, last, window) == plain_offer(
        top, seen, first, last, window
    )


def test_range_runs_are_split_by_duplicates() -> None:
    top, seen, runs = accept_window_range(100, frozenset({100, 95, 96}), 90, 103, 16)
    assert runs == [(90, 94), (97, 99), (101, 103)]
    assert top == 103
    assert seen == frozenset(range(90, 104))


def test_range_large_burst_is_closed_form() -> None:
    # A million-packet burst: the result keeps only the window, not every number.
    top, seen, runs = accept_window_range(0, frozenset(), 1, 1_000_000, 64)
    assert top == 1_000_000
    assert seen == frozenset(range(1_000_000 - 63, 1_000_001))
    assert runs == [(1, 1_000_000)]


# ---------------------------------------------------------------- counters


def test_new_counter() -> None:
    assert new_counter() == Counter(value=0, floor=None, sent=0)
    assert new_counter(41) == Counter(value=41, floor=None, sent=41)


def test_promote_counter_jumps_exactly_and_clears_floor() -> None:
    standby_copy = Counter(value=1_500_000, floor=1_000_000, sent=1_400_000)
    promoted = promote_counter(standby_copy, 2_000_000)
    assert promoted == Counter(value=3_500_000, floor=None, sent=3_500_000)
    assert promote_counter(new_counter(7), 0) == Counter(value=7, floor=None, sent=7)


def _sa() -> IpsecSa:
    return IpsecSa(
        sa_id=1,
        ike_id=0x1122_3344_5566_7788,
        spi_in=0x1000,
        spi_out=0x2000,
        transform=("esp-3des", "esp-sha-hmac"),
        expires_ms=3_600_000,
        lifetime_bytes=4_608_000 * 1024,
        out=Counter(value=10, floor=5, sent=8),
        inbound=Counter(value=20, floor=15, sent=18),
        seen=frozenset({20}),
        byte_count=Counter(value=30, floor=25, sent=28),
        status=HaStatus.ACTIVE,
        stale=False,
        inbound_known=True,
    )


@pytest.mark.parametrize(
    ("kind", "attribute"), [(Kind.OUT, "out"), (Kind.IN, "inbound"), (Kind.BYTES, "byte_count")]
)
def test_counter_and_with_counter_round_trip(kind: Kind, attribute: str) -> None:
    sa = _sa()
    assert sa.counter(kind) is getattr(sa, attribute)
    replacement = Counter(value=999, floor=None, sent=999)
    changed = sa.with_counter(kind, replacement)
    assert changed.counter(kind) == replacement
    assert getattr(changed, attribute) == replacement
    # Nothing else moved.
    for other in (Kind.OUT, Kind.IN, Kind.BYTES):
        if other is not kind:
            assert changed.counter(other) == sa.counter(other)
    assert changed.with_counter(kind, sa.counter(kind)) == sa


def test_dpd_counter_is_not_on_the_ipsec_sa() -> None:
    sa = _sa()
    with pytest.raises(ValueError, match="DPD"):
        sa.counter(Kind.DPD_OUT)
    with pytest.raises(ValueError, match="DPD"):
        sa.with_counter(Kind.DPD_OUT, new_counter())


def test_empty_range_changes_nothing() -> None:
    """Regression: first > last used to move the window and report a bogus run."""
    seen = frozenset({1, 2})
    assert accept_window_range(2, seen, 5, 3, 64) == (2, seen, [])


# ---------------------------------------------------------------- full copies (system.py)


def _replicated() -> msys.System:
    """Router 0 ACTIVE with SA 1, router 1 holding its copy (the shipped example pair)."""
    system = msys.boot(example_params())
    for operation in (
        op.Advance(ms=70_000),
        op.Establish(sa_id=1, spi_in=0x100, spi_out=0x200, cookie_i=7, cookie_r=8),
        op.Advance(ms=100),
    ):
        msys.apply_in_place(system, operation)
    assert system.routers[1].sas[1].status is HaStatus.STANDBY
    return system


def _deliver(system: msys.System, sender: int, message: ssp.SspMessage) -> None:
    epoch = system.routers[sender].epoch
    assert epoch is not None
    msys._deliver_ssp(
        system,
        msys.SspInFlight(deliver_at=system.now, sender=sender, epoch=epoch, message=message),
    )


def test_a_late_full_copy_never_lowers_a_copy() -> None:
    """A BulkBegin remembers the copy it clears; the Add behind it installs at least that
    (the copy may hold this router's own use as a former active: Z3's I3-late-add), and is
    acknowledged with its own value."""
    system = _replicated()
    active, standby = system.routers
    standby.sas[1] = replace(standby.sas[1], out=new_counter(1_000_001), stale=True)
    system.ssp_in_flight.clear()
    _deliver(system, 0, ssp.BulkBegin(entries=1, resync=True))
    assert 1 not in standby.sas
    assert standby.remembered[1][1].out == 1_000_001
    _deliver(system, 0, ssp.Add(ike=None, ipsec=active.sas[1], resync=True, serial=99))
    copy = standby.sas[1]
    assert copy.out.value == 1_000_001
    assert not copy.stale
    acks = [m.message for m in system.ssp_in_flight if isinstance(m.message, ssp.Ack)]
    assert ssp.Ack(sa_id=1, kind=Kind.OUT, value=active.sas[1].out.value) in acks


def test_a_refuse_of_an_older_add_is_ignored() -> None:
    """Only a refusal of the latest Add of the SA drops the floors: a later full copy may
    have been admitted (Z3's I3-early-refusal; the implementation's
    ``test_refuse_older_than_latest_add_is_ignored``)."""
    system = _replicated()
    active = system.routers[0]
    latest = active.last_add[1]
    floor = active.sas[1].out.floor
    assert floor is not None
    _deliver(system, 1, ssp.Refuse(sa_id=1, reason="card full", serial=latest - 1))
    assert active.sas[1].out.floor == floor
    assert "ha_degraded" not in active.counters
    _deliver(system, 1, ssp.Refuse(sa_id=1, reason="card full", serial=latest))
    assert active.sas[1].out.floor is None
    assert active.counters["ha_degraded"] == 1


def test_a_late_full_copy_never_lowers_an_ike_copy() -> None:
    """The IKE analogue: BulkBegin remembers each IKE copy's DPD_OUT, the Add behind it
    installs at least that, the Ack carries the Add's own value, and the announcement
    reports the remembered number until the copy is back."""
    system = _replicated()
    active, standby = system.routers
    standby.ike[7] = replace(standby.ike[7], dpd_out=new_counter(5), stale=True)
    system.ssp_in_flight.clear()
    _deliver(system, 0, ssp.BulkBegin(entries=1, resync=True))
    assert 7 not in standby.ike
    assert standby.remembered_dpd[7][1] == 5
    _deliver(system, 0, ssp.Add(ike=active.ike[7], ipsec=None, resync=True, serial=99))
    assert standby.ike[7].dpd_out.value == 5
    acks = [m.message for m in system.ssp_in_flight if isinstance(m.message, ssp.Ack)]
    assert ssp.Ack(sa_id=7, kind=Kind.DPD_OUT, value=active.ike[7].dpd_out.value) in acks
