"""impl/vam: the crypto engine's capacity and algorithm support, refusals counted by reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vpnha.impl.config import CryptoCard
from vpnha.impl.errors import LocalProtocolError
from vpnha.impl.vam import CARD_FULL, CryptoEngine, canonical_transform, unsupported_reason

BASIC = ("esp-3des", "esp-sha-hmac")


def test_capacity_boundary_pairs_count_two_sas() -> None:
    engine = CryptoEngine(CryptoCard(kind="vam", capacity_sas=4))
    assert engine.capacity == 4
    assert engine.try_install(1, BASIC) is None
    assert engine.try_install(2, BASIC) is None
    assert engine.in_use == 4
    assert engine.free == 0
    refusal = engine.try_install(3, BASIC)
    assert refusal is not None
    assert refusal.reason == CARD_FULL
    assert (refusal.in_use, refusal.capacity, refusal.n_sas) == (4, 4, 2)
    assert engine.installed(3) == 0
    assert engine.refusals == {CARD_FULL: 1}


def test_one_sa_fits_where_a_pair_does_not() -> None:
    engine = CryptoEngine(CryptoCard(kind="vam2", capacity_sas=3))
    assert engine.try_install(1, BASIC) is None
    assert engine.admit(BASIC, n_sas=2) is not None
    assert engine.admit(BASIC, n_sas=1) is None


def test_standby_copies_count_like_active_sas_and_remove_frees() -> None:
    # The engine does not know what is a copy: a copy is installed like any SA, so it
    # uses the same room (DESIGN §4: standby SAs use capacity too).
    engine = CryptoEngine(CryptoCard(kind="vam", capacity_sas=2))
    assert engine.try_install(7, BASIC) is None  # e.g. a standby copy
    assert engine.admit(BASIC) is not None
    assert engine.remove(7) == 2
    assert engine.remove(7) == 0
    assert engine.in_use == 0
    assert engine.admit(BASIC) is None


def test_default_capacity_and_software_has_no_limit() -> None:
    assert CryptoEngine(CryptoCard(kind="vam")).capacity == 10000
    software = CryptoEngine(CryptoCard(kind="none"))
    assert software.capacity is None
    assert software.free is None
    for sa_id in range(1, 200):
        assert software.try_install(sa_id, ("esp-gcm 256",)) is None
    assert software.in_use == 398
    assert software.refused_total == 0


@pytest.mark.parametrize(
    ("kind", "transform", "supported"),
    [
        ("vam", "esp-aes", False),
        ("vam", "esp-aes 256", False),
        ("vam", "esp-3des", True),
        ("vam", "comp-lzs", True),
        ("vam", "esp-gcm", False),
        ("vam2", "esp-aes", True),
        ("vam2", "esp-aes 128", True),
        ("vam2", "ESP-AES  256", True),
        ("vam2", "esp-gcm 256", False),
        ("vam2", "esp-md5-hmac", True),
        ("none", "esp-gcm 256", True),
        ("none", "esp-aes 192", True),
    ],
)
def test_transform_support_per_card_kind(kind: str, transform: str, supported: bool) -> None:
    card = CryptoCard(kind="none" if kind == "none" else "vam" if kind == "vam" else "vam2")
    engine = CryptoEngine(card)
    assert engine.supports(transform) is supported
    refusal = engine.admit((transform, "esp-sha-hmac"))
    if supported:
        assert refusal is None
    else:
        assert refusal is not None
        assert refusal.reason == unsupported_reason(canonical_transform(transform))
        expected = f"transform {canonical_transform(transform)} not supported by the card"
        assert refusal.reason == expected
        assert engine.refusals == {refusal.reason: 1}


def test_unsupported_transform_reported_before_capacity() -> None:
    engine = CryptoEngine(CryptoCard(kind="vam", capacity_sas=2))
    assert engine.try_install(1, BASIC) is None
    refusal = engine.admit(("esp-aes 256", "esp-sha-hmac"))
    assert refusal is not None
    assert refusal.reason == "transform esp-aes 256 not supported by the card"


def test_refusals_counted_by_reason() -> None:
    engine = CryptoEngine(CryptoCard(kind="vam", capacity_sas=2))
    assert engine.try_install(1, BASIC) is None
    for _ in range(3):
        assert engine.admit(BASIC) is not None
    assert engine.admit(("esp-aes",)) is not None
    assert engine.refusals == {CARD_FULL: 3, unsupported_reason("esp-aes"): 1}
    assert engine.refused_total == 4


def test_install_misuse_raises() -> None:
    engine = CryptoEngine(CryptoCard(kind="vam", capacity_sas=2))
    engine.install(1, 2)
    with pytest.raises(LocalProtocolError, match="already installed"):
        engine.install(1, 1)
    with pytest.raises(LocalProtocolError, match="admit first"):
        engine.install(2, 1)
    with pytest.raises(LocalProtocolError):
        engine.admit(BASIC, n_sas=0)
    assert engine.refused_total == 0  # misuse is not a refusal


@given(
    capacity=st.integers(min_value=1, max_value=12),
    ops=st.lists(st.tuples(st.booleans(), st.integers(0, 7), st.integers(1, 3)), max_size=40),
)
def test_never_over_capacity_and_every_refusal_counted(
    capacity: int, ops: list[tuple[bool, int, int]]
) -> None:
    engine = CryptoEngine(CryptoCard(kind="vam2", capacity_sas=capacity))
    refusals = 0
    for install, sa_id, n_sas in ops:
        if install:
            if engine.installed(sa_id):
                continue
            if engine.try_install(sa_id, BASIC, n_sas) is not None:
                refusals += 1
                assert engine.in_use + n_sas > capacity
        else:
            engine.remove(sa_id)
        assert 0 <= engine.in_use <= capacity
    assert engine.refused_total == refusals
