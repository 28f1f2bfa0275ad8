"""Unit tests of ``vpnha.model.vam`` (card admission) and ``vpnha.model.topology``."""

from __future__ import annotations

import pytest
from vpnha.model import topology
from vpnha.model.topology import RouterView, build_graph, lan_reaches_remote
from vpnha.model.vam import Refusal, admit, sas_per_pair

VAM_TRANSFORMS = frozenset({"esp-3des", "esp-des", "esp-sha-hmac", "esp-md5-hmac"})

# ---------------------------------------------------------------- vam.admit


def test_a_pair_occupies_two_sas() -> None:
    assert sas_per_pair() == 2


PAIR_TRANSFORM = ("esp-3des", "esp-sha-hmac")


@pytest.mark.parametrize(
    "transform",
    [
        ("esp-aes", "esp-sha-hmac"),
        ("esp-3des", "esp-sha256-hmac"),
        ("esp-aes",),
        ("esp-3des", "esp-sha-hmac", "comp-lzs"),
    ],
)
def test_unsupported_transform_part_is_refused(transform: tuple[str, ...]) -> None:
    refusal = admit(capacity=None, in_use=0, transform=transform, supported=VAM_TRANSFORMS)
    assert refusal is Refusal.UNSUPPORTED


@pytest.mark.parametrize("transform", [PAIR_TRANSFORM, ("esp-des", "esp-md5-hmac"), ("esp-3des",)])
def test_supported_transform_is_admitted(transform: tuple[str, ...]) -> None:
    assert admit(capacity=10, in_use=0, transform=transform, supported=VAM_TRANSFORMS) is None


@pytest.mark.parametrize("in_use", [0, 2, 10**9])
def test_no_capacity_is_never_full(in_use: int) -> None:
    refusal = admit(
        capacity=None, in_use=in_use, transform=PAIR_TRANSFORM, supported=VAM_TRANSFORMS
    )
    assert refusal is None


@pytest.mark.parametrize("capacity", [2, 3, 1000, 5000])
def test_capacity_boundary(capacity: int) -> None:
    def ask(in_use: int) -> Refusal | None:
        return admit(
            capacity=capacity,
            in_use=in_use,
            transform=PAIR_TRANSFORM,
            supported=VAM_TRANSFORMS,
        )

    assert ask(capacity - 2) is None  # in_use + 2 == capacity: the last pair fits
    assert ask(capacity - 1) is Refusal.FULL  # one more SA and the pair no longer fits
    assert ask(capacity) is Refusal.FULL


def test_capacity_below_one_pair_is_full_from_the_start() -> None:
    refusal = admit(capacity=1, in_use=0, transform=PAIR_TRANSFORM, supported=VAM_TRANSFORMS)
    assert refusal is Refusal.FULL


# ---------------------------------------------------------------- topology


def router(
    name: str,
    *,
    up: bool = True,
    inside: bool = False,
    outside: bool = False,
    sa: bool = False,
) -> RouterView:
    return RouterView(
        name=name, up=up, owns_inside_vip=inside, owns_outside_vip=outside, has_active_sa=sa
    )


def test_one_router_owning_both_vips_with_sa_reaches_remote() -> None:
    active = router("r1", inside=True, outside=True, sa=True)
    standby = router("r2")
    assert lan_reaches_remote([active, standby])
    assert lan_reaches_remote([standby, active])


def test_no_active_sa_is_not_reachable() -> None:
    assert not lan_reaches_remote([router("r1", inside=True, outside=True, sa=False), router("r2")])


def test_missing_vip_is_not_reachable() -> None:
    assert not lan_reaches_remote([router("r1", inside=False, outside=True, sa=True)])
    assert not lan_reaches_remote([router("r1", inside=True, outside=False, sa=True)])


def test_split_ownership_is_a_black_hole() -> None:
    # Inside owner ≠ outside owner: even with SAs on both, the inside owner cannot
    # hand the packet to the other router (document: the "black hole").
    inside_owner = router("r1", inside=True, outside=False, sa=True)
    outside_owner = router("r2", inside=False, outside=True, sa=True)
    assert not lan_reaches_remote([inside_owner, outside_owner])


def test_down_router_never_carries_traffic() -> None:
    dead = router("r1", up=False, inside=True, outside=True, sa=True)
    assert not lan_reaches_remote([dead])
    assert not lan_reaches_remote([dead, router("r2", inside=False, outside=True, sa=True)])
    graph = build_graph([dead])
    assert graph.degree("r1") == 0


def test_no_routers_no_path() -> None:
    assert not lan_reaches_remote([])


def test_build_graph_nodes_and_edges() -> None:
    active = router("r1", inside=True, outside=True, sa=True)
    standby = router("r2")
    graph = build_graph([active, standby])
    fixed = {
        topology.LAN,
        topology.INSIDE_VIP,
        topology.OUTSIDE_VIP,
        topology.PEER,
        topology.REMOTE_LAN,
    }
    assert set(graph.nodes) == fixed | {"r1", "r2"}
    assert set(graph.edges) == {
        (topology.LAN, topology.INSIDE_VIP),
        (topology.INSIDE_VIP, "r1"),
        ("r1", topology.OUTSIDE_VIP),
        (topology.OUTSIDE_VIP, topology.PEER),
        (topology.PEER, topology.REMOTE_LAN),
    }
    assert graph.is_directed()
    # Traffic flows one way only: the remote LAN does not reach the LAN host here.
    assert not graph.has_edge(topology.INSIDE_VIP, "r2")
    assert graph.degree("r2") == 0
