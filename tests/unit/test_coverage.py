"""The campaign's coverage tallies: SSP frame kinds cut from a byte stream, SA transitions."""

from __future__ import annotations

import itertools
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st
from vpnha.impl.ssp.messages import CounterUpdate, ResyncRequest, SaDelete, encode_frame_for
from vpnha.impl.ssp.wire import CounterKind, Doi
from vpnha.model.system import boot
from vpnha.properties.coverage import SspTally, sa_transitions, ssp_kinds
from vpnha.properties.observation import Observation, SaObs, observe_model
from vpnha.properties.scenarios import builtin_configs, cluster_params

KEY = bytes(32)
FRAMES = [
    encode_frame_for(ResyncRequest(doi=Doi.IPSEC), seq=1, key=KEY),
    encode_frame_for(
        CounterUpdate(doi=Doi.IPSEC, sa_id=7, kind=CounterKind.OUTBOUND_SEQ, value=10**6),
        seq=2,
        key=KEY,
    ),
    encode_frame_for(SaDelete(doi=Doi.IKE, sa_id=3), seq=3, key=KEY),
    encode_frame_for(
        CounterUpdate(doi=Doi.IKE, sa_id=3, kind=CounterKind.MESSAGE_ID, value=99), seq=4, key=KEY
    ),
]
LABELS = [
    "ssp: RESYNC_REQUEST ipsec",
    "ssp: COUNTER_UPDATE ipsec OUTBOUND_SEQ",
    "ssp: SA_DELETE ike",
    "ssp: COUNTER_UPDATE ike MESSAGE_ID",
]


@given(cuts=st.lists(st.integers(min_value=0, max_value=sum(map(len, FRAMES))), max_size=12))
def test_frames_are_labelled_however_the_stream_is_chunked(cuts: list[int]) -> None:
    stream = b"".join(FRAMES)
    edges = [0, *sorted(cuts), len(stream)]
    tally = SspTally()
    seen = [label for a, b in itertools.pairwise(edges) for label in tally.feed(stream[a:b])]
    assert seen == LABELS


def test_every_label_the_tally_gives_is_in_the_universe() -> None:
    kinds = ssp_kinds()
    assert set(LABELS) <= kinds
    # Counter kinds belong to one manager each: no IPsec DPD number, no IKE sequence number.
    assert "ssp: COUNTER_UPDATE ike OUTBOUND_SEQ" not in kinds
    assert "ssp: COUNTER_UPDATE ipsec DPD_OUT" not in kinds
    assert "ssp: HELLO" in kinds
    # HELLO, KEEPALIVE, ROLE; one ADD per manager; DELETE, ACK, REFUSE, RESYNC_REQUEST,
    # BULK_BEGIN and BULK_END for each of the two; three counters each.
    assert len(kinds) == 3 + 2 + 6 * 2 + 3 * 2


def test_a_length_past_the_limit_ends_the_tally() -> None:
    tally = SspTally()
    bad = bytes([1, 4, 0, 1]) + (2**21).to_bytes(4, "big") + bytes(4)
    assert list(tally.feed(bad)) == []
    assert list(tally.feed(FRAMES[0])) == []


def _observation_with(sas: tuple[SaObs, ...]) -> Observation:
    base = observe_model(boot(cluster_params(*builtin_configs())))
    first = replace(base.routers[0], sas=sas)
    return replace(base, routers=(first, base.routers[1]))


def test_sa_transitions_name_each_status_change() -> None:
    sa = SaObs(
        sa_id=1,
        spi_in=0x100,
        spi_out=0x101,
        status="STANDBY",
        stale=False,
        next_out=1,
        inbound_top=0,
        expires_ms=10,
        bytes_used=0,
        lifetime_bytes=0,
    )
    other = replace(sa, sa_id=2)
    before = _observation_with((sa, other))
    after = _observation_with(
        (replace(sa, status="ACTIVE", next_out=10**6), replace(other, stale=True))
    )
    assert sa_transitions(before, after) == [
        "ipsec: STANDBY -> ACTIVE",
        "ipsec: STANDBY -> STANDBY stale",
    ]
    assert sa_transitions(after, _observation_with(())) == [
        "ipsec: ACTIVE -> none",
        "ipsec: STANDBY stale -> none",
    ]
    # A counter that moves is not a transition.
    assert sa_transitions(before, _observation_with((replace(sa, next_out=5), other))) == []
