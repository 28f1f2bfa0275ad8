"""Where a live router's interfaces are: network namespaces or loopback (DESIGN §3 "live").

Theory of operation
-------------------
A :class:`LivePlan` tells the drivers of one process how the document's addresses
meet real sockets. Every driver speaks the document's addresses to the
:class:`~vpnha.impl.router.Router`; the plan translates at the socket only.

- ``netns``: the process runs inside a network namespace whose interfaces carry the
  configured addresses (the lab builds them). HSRP is UDP 1985 to 224.0.0.2, TTL 1,
  on each interface; the virtual IPs are added to and removed from the interfaces;
  the LAN side is a TUN device with a route to the protected remote network.
  Addresses map to themselves.
- ``loopback`` (no root needed): each document /24 network is mapped onto a
  127.x.y.0/24 network of its own, so every node of the topology has a loopback
  address of its own and each segment is a set of loopback addresses. HSRP goes
  unicast to every other member of the segment (``hsrp_members``); a virtual IP is
  owned by binding its loopback address (the active router binds it, the others
  cannot); the LAN side is UDP: each datagram on ``lan_port`` carries one IPv4
  packet.

The plan is a small JSON file (``vpnha router CONFIG --plan FILE``); without one a
router runs in ``netns`` mode.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Final, Literal

__all__ = ["DEFAULT_LAN_PORT", "HSRP_PORT", "NATT_PORT", "LivePlan", "PlanError"]

HSRP_PORT: Final = 1985
"""RFC 2281 §3: HSRP speaks UDP 1985."""
NATT_PORT: Final = 4500
"""RFC 3948: ESP in UDP 4500."""
DEFAULT_LAN_PORT: Final = 5555
"""Loopback mode: the UDP port that carries the inside LAN's IPv4 packets."""
LOOPBACK: Final = IPv4Network("127.0.0.0/8")

Mode = Literal["netns", "loopback"]


class PlanError(ValueError):
    """A plan file that cannot be used (names the field and the value)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LivePlan:
    """How one live process's document addresses meet real sockets."""

    mode: Mode = "netns"
    """``netns`` (real interfaces, root) or ``loopback`` (127/8 addresses, any user)."""
    networks: tuple[tuple[IPv4Network, IPv4Network], ...] = ()
    """Loopback mode: (document /24, loopback /24) pairs; empty in netns mode."""
    hsrp_members: tuple[IPv4Address, ...] = ()
    """Loopback mode: every router interface address (HSRP goes to those on our segment)."""
    lan_port: int = DEFAULT_LAN_PORT
    """Loopback mode: UDP port of the LAN side, 1024-65535."""
    tun_name: str = "vpnha0"
    """Netns mode: name of the TUN device that is the LAN side, 1-15 characters."""

    def __post_init__(self) -> None:
        if self.mode not in ("netns", "loopback"):
            msg = f"plan mode {self.mode!r} must be 'netns' or 'loopback'"
            raise PlanError(msg)
        for document, loopback in self.networks:
            if document.prefixlen != loopback.prefixlen or not loopback.subnet_of(LOOPBACK):
                msg = (
                    f"plan network {document} -> {loopback}: the loopback side must be a "
                    "127/8 network of the same size"
                )
                raise PlanError(msg)
        if not 1024 <= self.lan_port <= 65535:
            msg = f"plan lan_port {self.lan_port} must be 1024-65535"
            raise PlanError(msg)
        if not 1 <= len(self.tun_name) <= 15:
            msg = f"plan tun_name {self.tun_name!r} must be 1-15 characters"
            raise PlanError(msg)

    @property
    def loopback(self) -> bool:
        """Whether this is loopback mode."""
        return self.mode == "loopback"

    def to_wire(self, address: IPv4Address) -> IPv4Address:
        """The socket address of a document address (itself in netns mode)."""
        for document, loopback in self.networks:
            if address in document:
                return loopback.network_address + (int(address) - int(document.network_address))
        if self.loopback:
            msg = f"address {address} is on no network of the loopback plan"
            raise PlanError(msg)
        return address

    def from_wire(self, address: IPv4Address) -> IPv4Address:
        """The document address of a socket address (itself when the plan has no mapping)."""
        for document, loopback in self.networks:
            if address in loopback:
                return document.network_address + (int(address) - int(loopback.network_address))
        return address

    def to_json(self) -> str:
        """The plan as JSON text."""
        return json.dumps(
            {
                "mode": self.mode,
                "networks": [[str(d), str(lo)] for d, lo in self.networks],
                "hsrp_members": [str(a) for a in self.hsrp_members],
                "lan_port": self.lan_port,
                "tun_name": self.tun_name,
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> LivePlan:
        """Parse a plan; raises :class:`PlanError` naming the bad field."""
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as error:
            msg = f"plan is not JSON: {error}"
            raise PlanError(msg) from error
        if not isinstance(raw, dict):
            msg = f"plan must be a JSON object, not {type(raw).__name__}"
            raise PlanError(msg)
        try:
            return cls(
                mode=raw.get("mode", "netns"),
                networks=tuple(
                    (IPv4Network(d), IPv4Network(lo)) for d, lo in raw.get("networks", [])
                ),
                hsrp_members=tuple(IPv4Address(a) for a in raw.get("hsrp_members", [])),
                lan_port=int(raw.get("lan_port", DEFAULT_LAN_PORT)),
                tun_name=str(raw.get("tun_name", "vpnha0")),
            )
        except (TypeError, ValueError) as error:
            if isinstance(error, PlanError):
                raise
            msg = f"plan field has a bad value: {error}"
            raise PlanError(msg) from error

    @classmethod
    def load(cls, path: str | Path) -> LivePlan:
        """Read a plan file."""
        try:
            text = Path(path).read_text()
        except OSError as error:
            msg = f"plan file {path}: {error.strerror}"
            raise PlanError(msg) from error
        return cls.from_json(text)
