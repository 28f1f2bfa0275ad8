"""The document's topology as a graph, and reachability from the LAN to the remote LAN.

Theory of operation
-------------------
Figure 2 of the product document: a LAN host behind two routers whose inside
interfaces share the inside virtual IP (the LAN's default gateway) and whose
outside interfaces share the outside virtual IP (the tunnel endpoint the remote
peer knows). A packet from the LAN reaches the remote LAN only if the router
that owns the inside virtual IP (answers ARP for it and is Active) also owns the
outside one and holds an active SA: otherwise it is the "black hole" the
document warns about. The graph is built from the state of the moment, so a
path exists exactly when traffic can flow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import networkx as nx

__all__ = ["RouterView", "build_graph", "lan_reaches_remote"]

LAN = "lan-host"
INSIDE_VIP = "inside-vip"
OUTSIDE_VIP = "outside-vip"
PEER = "remote-peer"
REMOTE_LAN = "remote-lan"


@dataclass(frozen=True, slots=True, kw_only=True)
class RouterView:
    """What reachability needs to know about one router."""

    name: str
    up: bool
    owns_inside_vip: bool
    """Active for the inside group and the segment's ARP entry points at it."""
    owns_outside_vip: bool
    """Active for the outside group and the segment's ARP entry points at it."""
    has_active_sa: bool


def build_graph(routers: Sequence[RouterView]) -> nx.DiGraph:
    """Directed graph of where a LAN → remote-LAN packet can go right now."""
    graph = nx.DiGraph()
    graph.add_nodes_from([LAN, INSIDE_VIP, OUTSIDE_VIP, PEER, REMOTE_LAN])
    graph.add_edge(LAN, INSIDE_VIP)
    graph.add_edge(OUTSIDE_VIP, PEER)
    graph.add_edge(PEER, REMOTE_LAN)
    for router in routers:
        graph.add_node(router.name)
        if not router.up:
            continue
        if router.owns_inside_vip:
            graph.add_edge(INSIDE_VIP, router.name)
        # Encrypted traffic leaves from the outside virtual IP only (the peer knows no other).
        if router.owns_outside_vip and router.has_active_sa:
            graph.add_edge(router.name, OUTSIDE_VIP)
    return graph


def lan_reaches_remote(routers: Sequence[RouterView]) -> bool:
    """Whether a packet from the LAN host can reach the remote LAN."""
    return _reaches(tuple(routers))


@lru_cache(maxsize=256)
def _reaches(routers: tuple[RouterView, ...]) -> bool:
    # The answer depends on the views alone, and a cluster has few distinct ones: each is
    # worked out on the graph once (the suite asks after every step, on both sides).
    return bool(nx.has_path(build_graph(routers), LAN, REMOTE_LAN))
