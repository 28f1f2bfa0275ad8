"""A stand-in for IKE (issue 7 brings the real one): SA parameters drawn and handed out.

Theory of operation
-------------------
Until the IKE core exists, the lab controller plays IKE the way the simulated
world does (``properties/world.py``): for the crypto map entry on the outside
interface it draws two SPIs and the four keys from an :class:`Entropy`, hands the
router's half (:class:`~vpnha.impl.sadb.NewIpsecSa`) to the ACTIVE router through
its control socket (``install_sa``; SSP then replicates it to the standby), and the
mirror half (:class:`PeerSaParams`) to the remote peer process. Both travel as JSON
(keys in hex). Nothing is negotiated on the wire, so no IKE packet exists to be
lost; every call after the first for the same peer is a renegotiation, which the
lab counts (the document's promise is zero).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Any, Final

from vpnha.impl.config import RouterConfig
from vpnha.impl.config.schema import CryptoMapEntry
from vpnha.impl.dataplane import transform_of
from vpnha.impl.entropy import Entropy
from vpnha.impl.sadb import NewIpsecSa

__all__ = [
    "PeerSaParams",
    "StandInError",
    "negotiate",
    "new_sa_from_json",
    "new_sa_to_json",
    "protected_network",
]

_SPI_FLOOR: Final = 0x1000


class StandInError(ValueError):
    """The configuration gives the stand-in nothing to negotiate (names what is missing)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerSaParams:
    """The remote peer's half of a negotiated SA pair."""

    spi_to_cluster: int
    """SPI the peer encrypts with (the router's inbound SPI)."""
    spi_from_cluster: int
    """SPI the peer decrypts with (the router's outbound SPI)."""
    transforms: tuple[str, ...]
    """Transform names in canonical text."""
    key_to_cluster: bytes = field(repr=False)
    """Encryption key (with salt for GCM) of the peer's outbound SA."""
    auth_to_cluster: bytes = field(repr=False)
    """Integrity key of the peer's outbound SA (empty for GCM / none)."""
    key_from_cluster: bytes = field(repr=False)
    """Encryption key of the peer's inbound SA."""
    auth_from_cluster: bytes = field(repr=False)
    """Integrity key of the peer's inbound SA."""

    def to_json(self) -> dict[str, Any]:
        """As a JSON object (keys in hex)."""
        return {
            "spi_to_cluster": self.spi_to_cluster,
            "spi_from_cluster": self.spi_from_cluster,
            "transforms": list(self.transforms),
            "key_to_cluster": self.key_to_cluster.hex(),
            "auth_to_cluster": self.auth_to_cluster.hex(),
            "key_from_cluster": self.key_from_cluster.hex(),
            "auth_from_cluster": self.auth_from_cluster.hex(),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> PeerSaParams:
        """Parse :meth:`to_json`'s output (raises KeyError / ValueError naming the field)."""
        return cls(
            spi_to_cluster=int(raw["spi_to_cluster"]),
            spi_from_cluster=int(raw["spi_from_cluster"]),
            transforms=tuple(str(t) for t in raw["transforms"]),
            key_to_cluster=bytes.fromhex(raw["key_to_cluster"]),
            auth_to_cluster=bytes.fromhex(raw["auth_to_cluster"]),
            key_from_cluster=bytes.fromhex(raw["key_from_cluster"]),
            auth_from_cluster=bytes.fromhex(raw["auth_from_cluster"]),
        )


def protected_network(config: RouterConfig) -> IPv4Network:
    """The remote LAN the outside crypto map's ACL protects (the document's ``permit``)."""
    entry = _entry(config)
    acl = config.access_lists.get(entry.match_address or "")
    for line in acl.entries if acl is not None else ():
        if line.action == "permit":
            return IPv4Network(f"{line.destination.address}/{line.destination.wildcard}")
    msg = f"{config.hostname}: crypto map {entry.name} {entry.seq} protects no network"
    raise StandInError(msg)


def _entry(config: RouterConfig) -> CryptoMapEntry:
    outside = config.outside_interface()
    name = outside.crypto_map if outside is not None else None
    entries = config.crypto_map(name or "")
    if not entries or not entries[0].peers:
        msg = f"{config.hostname}: no crypto map with a peer on the outside interface"
        raise StandInError(msg)
    return entries[0]


def negotiate(
    config: RouterConfig, entropy: Entropy, *, now_ms: int
) -> tuple[NewIpsecSa, PeerSaParams]:
    """Draw an SA pair for the outside crypto map's first entry and peer."""
    entry = _entry(config)
    transform_set = config.transform_sets[entry.transform_sets[0]]
    transform = transform_of(transform_set.transforms)
    if transform is None:
        msg = f"{config.hostname}: transform set {transform_set.name} has no ESP transform"
        raise StandInError(msg)
    inside = config.inside_interface()
    local = inside.address.network if inside is not None and inside.address else None
    if local is None:
        msg = f"{config.hostname}: the inside interface has no address"
        raise StandInError(msg)
    spi_in = _SPI_FLOOR + entropy.randbelow(0xFFFF_FFFF - _SPI_FLOOR)
    spi_out = _SPI_FLOOR + entropy.randbelow(0xFFFF_FFFF - _SPI_FLOOR)
    keys = [entropy.token_bytes(transform.encryption_key_length) for _ in range(2)]
    auths = [entropy.token_bytes(transform.integrity_key_length) for _ in range(2)]
    params = NewIpsecSa(
        peer=entry.peers[0],
        crypto_map=entry.name,
        crypto_map_seq=entry.seq,
        local_proxy=local,
        remote_proxy=protected_network(config),
        inbound_spi=spi_in,
        outbound_spi=spi_out,
        transforms=transform_set.transforms,
        inbound_encryption_key=keys[0],
        outbound_encryption_key=keys[1],
        inbound_integrity_key=auths[0],
        outbound_integrity_key=auths[1],
        expiry_ms=now_ms + config.ipsec_lifetime_seconds * 1000,
        lifetime_kilobytes=config.ipsec_lifetime_kilobytes,
    )
    mirror = PeerSaParams(
        spi_to_cluster=spi_in,
        spi_from_cluster=spi_out,
        transforms=transform_set.transforms,
        key_to_cluster=keys[0],
        auth_to_cluster=auths[0],
        key_from_cluster=keys[1],
        auth_from_cluster=auths[1],
    )
    return params, mirror


def new_sa_to_json(params: NewIpsecSa) -> dict[str, Any]:
    """A :class:`NewIpsecSa` as a JSON object (keys in hex)."""
    return {
        "peer": str(params.peer),
        "crypto_map": params.crypto_map,
        "crypto_map_seq": params.crypto_map_seq,
        "local_proxy": str(params.local_proxy),
        "remote_proxy": str(params.remote_proxy),
        "inbound_spi": params.inbound_spi,
        "outbound_spi": params.outbound_spi,
        "transforms": list(params.transforms),
        "inbound_encryption_key": params.inbound_encryption_key.hex(),
        "outbound_encryption_key": params.outbound_encryption_key.hex(),
        "inbound_integrity_key": params.inbound_integrity_key.hex(),
        "outbound_integrity_key": params.outbound_integrity_key.hex(),
        "expiry_ms": params.expiry_ms,
        "lifetime_kilobytes": params.lifetime_kilobytes,
    }


def new_sa_from_json(raw: dict[str, Any]) -> NewIpsecSa:
    """Parse :func:`new_sa_to_json`'s output (raises KeyError / ValueError naming the field)."""
    return NewIpsecSa(
        peer=IPv4Address(raw["peer"]),
        crypto_map=str(raw["crypto_map"]),
        crypto_map_seq=int(raw["crypto_map_seq"]),
        local_proxy=IPv4Network(raw["local_proxy"]),
        remote_proxy=IPv4Network(raw["remote_proxy"]),
        inbound_spi=int(raw["inbound_spi"]),
        outbound_spi=int(raw["outbound_spi"]),
        transforms=tuple(str(t) for t in raw["transforms"]),
        inbound_encryption_key=bytes.fromhex(raw["inbound_encryption_key"]),
        outbound_encryption_key=bytes.fromhex(raw["outbound_encryption_key"]),
        inbound_integrity_key=bytes.fromhex(raw["inbound_integrity_key"]),
        outbound_integrity_key=bytes.fromhex(raw["outbound_integrity_key"]),
        expiry_ms=int(raw["expiry_ms"]),
        lifetime_kilobytes=int(raw["lifetime_kilobytes"]),
    )
