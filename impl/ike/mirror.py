"""The remote peer's configuration: the mirror of a cluster router's crypto configuration.

A remote IPsec peer of the document's topology has the same ISAKMP policies and
transform sets, the pre-shared key for the cluster's outside virtual IP, a crypto
map whose peer is that virtual IP, and the mirror of the crypto ACL (source and
destination swapped). :func:`mirror_config` writes that configuration in the
router's own language and parses it, so the simulated world's peer runs the same
IKE engine under a configuration a reader can print and check.
"""

from __future__ import annotations

from ipaddress import IPv4Address

from vpnha.impl.config import RouterConfig, parse_config

from .policy import pre_shared_key

__all__ = ["MirrorError", "mirror_config"]


class MirrorError(ValueError):
    """The cluster configuration names no peer to mirror (says what is missing)."""


def mirror_config(config: RouterConfig, *, hostname: str = "remote-peer") -> RouterConfig:
    """The remote peer's configuration for the cluster router ``config``."""
    return parse_config(
        mirror_text(config, hostname=hostname), source=f"mirror of {config.hostname}"
    )


def mirror_text(config: RouterConfig, *, hostname: str = "remote-peer") -> str:
    """:func:`mirror_config` as configuration text."""
    outside = config.outside_interface()
    if outside is None or outside.crypto_map is None:
        msg = f"{config.hostname}: no HSRP interface carries a crypto map"
        raise MirrorError(msg)
    vip = outside.standby_groups[0].virtual_ip if outside.standby_groups else None
    entries = config.crypto_map(outside.crypto_map)
    if vip is None or not entries or not entries[0].peers:
        msg = f"{config.hostname}: the outside crypto map needs a peer and the group a virtual IP"
        raise MirrorError(msg)
    entry = entries[0]
    peer: IPv4Address = entry.peers[0]
    key = pre_shared_key(config, peer)
    if key is None:
        msg = f"{config.hostname}: no crypto isakmp key for {peer}"
        raise MirrorError(msg)
    lines = [f"hostname {hostname}", "!"]
    for policy in sorted(config.isakmp_policies, key=lambda p: p.priority):
        lines += [
            f"crypto isakmp policy {policy.priority}",
            f" encr {policy.encryption}",
            f" hash {policy.hash}",
            f" authentication {policy.authentication}",
            f" group {policy.group}",
            f" lifetime {policy.lifetime_s}",
        ]
    lines.append(f"crypto isakmp key {key.decode()} address {vip}")
    for name in entry.transform_sets:
        transform_set = config.transform_sets[name]
        lines.append(f"crypto ipsec transform-set {name} {' '.join(transform_set.transforms)}")
    lines += [
        "crypto map PEER 1 ipsec-isakmp",
        f" set peer {vip}",
        f" set transform-set {' '.join(entry.transform_sets)}",
        " match address 199",
    ]
    if entry.pfs is not None:
        lines.append(f" set pfs {entry.pfs}")
    if entry.lifetime_seconds is not None:
        lines.append(f" set security-association lifetime seconds {entry.lifetime_seconds}")
    if entry.lifetime_kilobytes is not None:
        lines.append(f" set security-association lifetime kilobytes {entry.lifetime_kilobytes}")
    lines += ["!", "interface Ethernet0", f" ip address {peer} 255.255.255.255", " crypto map PEER"]
    acl = config.access_lists.get(entry.match_address or "")
    for line in acl.entries if acl is not None else ():
        if line.action == "permit" and line.protocol is None:
            lines.append(f"access-list 199 permit ip {line.destination} {line.source}")
    lines.append("end")
    return "\n".join(lines) + "\n"
