"""Fixtures for the IKEv1 core: the document's router 1 and a remote peer that mirrors it."""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from vpnha.impl.config import RouterConfig, load_config, parse_config
from vpnha.impl.entropy import SeededEntropy
from vpnha.impl.ike.core import IkeEngine, MemoryIkeStore

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
VIP = IPv4Address("40.0.0.1")
PEER = IPv4Address("192.168.3.1")

PEER_CONFIG = """\
hostname peer
crypto isakmp policy 1
 encr {encr}
 hash {hash}
 authentication pre-share
 group {group}
crypto isakmp key {key} address 40.0.0.1
crypto ipsec transform-set TS {transforms}
crypto map CM 1 ipsec-isakmp
 set peer 40.0.0.1
 set transform-set TS
 match address 101
{pfs}
interface FastEthernet0/0
 ip address 192.168.4.1 255.255.255.0
interface FastEthernet0/1
 ip address 192.168.3.1 255.255.255.0
 crypto map CM
access-list 101 permit ip 192.168.4.0 0.0.0.255 any
end
"""


def peer_config(
    *,
    encr: str = "3des",
    hash_name: str = "sha",
    group: int = 2,
    key: str = "cisco",
    transforms: str = "esp-3des esp-sha-hmac",
    pfs: str | None = None,
) -> RouterConfig:
    """The remote peer's configuration (the mirror of the document's crypto map)."""
    return parse_config(
        PEER_CONFIG.format(
            encr=encr,
            hash=hash_name,
            group=group,
            key=key,
            transforms=transforms,
            pfs=f" set pfs {pfs}" if pfs else "",
        )
    )


def router_config(text_edits: Callable[[str], str] | None = None) -> RouterConfig:
    """The document's router 1, optionally edited."""
    text = (EXAMPLES / "router1.cfg").read_text()
    if text_edits is None:
        return load_config(EXAMPLES / "router1.cfg")
    return parse_config(text_edits(text))


class Pair:
    """Two engines wired back to back, with a switch to lose datagrams."""

    def __init__(self, router: RouterConfig, peer: RouterConfig, *, seed: int = 1) -> None:
        self.router_store = MemoryIkeStore()
        self.peer_store = MemoryIkeStore()
        self.router = IkeEngine(router, SeededEntropy(seed), self.router_store, local_address=VIP)
        self.peer = IkeEngine(peer, SeededEntropy(seed + 100), self.peer_store, local_address=PEER)
        self.now = 0
        self.wire: list[tuple[str, bytes]] = []
        """Every datagram delivered, with its direction (``r->p`` / ``p->r``)."""

    def pump(self, *, lose: Callable[[str, bytes], bool] | None = None, rounds: int = 20) -> None:
        """Deliver datagrams until both are quiet (``lose`` drops the ones it picks)."""
        for _ in range(rounds):
            moved = False
            for name, source, sink in (
                ("p->r", self.peer, self.router),
                ("r->p", self.router, self.peer),
            ):
                for datagram in source.datagrams_to_send():
                    moved = True
                    if lose is not None and lose(name, datagram.payload):
                        continue
                    self.wire.append((name, datagram.payload))
                    sink.receive(datagram.payload, src=datagram.src, dst=datagram.dst, now=self.now)
            if not moved:
                return

    def advance(self, ms: int) -> None:
        """Move time on and fire both engines' timers."""
        self.now += ms
        for engine in (self.router, self.peer):
            timer = engine.get_timer()
            if timer is not None and timer <= self.now:
                engine.handle_timer(self.now)


@pytest.fixture
def pair() -> Pair:
    """Router 1 and its mirror peer, default (3des, sha, group 2, esp-3des esp-sha-hmac)."""
    return Pair(router_config(), peer_config())
