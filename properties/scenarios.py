"""From the routers' IOS configuration to the model's parameters (the harness's one mapping).

The model never reads IOS text and the implementation never sees model types
(DESIGN §2); this module is where one becomes the other. It also locates the
shipped example pair (the product document's two-router topology), which is the
built-in default of every command.
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

from vpnha.impl.config import RouterConfig, StandbyGroup, load_config
from vpnha.impl.config.schema import InterfaceConfig
from vpnha.model.params import CardKind, ClusterParams, GroupSide, RouterParams, SideParams

__all__ = [
    "ALL_TRANSFORMS",
    "builtin_configs",
    "cluster_params",
    "example_path",
    "load_pair",
]

ALL_TRANSFORMS = frozenset(
    {
        "ah-md5-hmac",
        "ah-sha-hmac",
        "esp-des",
        "esp-3des",
        "esp-aes",
        "esp-aes 192",
        "esp-aes 256",
        "esp-gcm",
        "esp-gcm 192",
        "esp-gcm 256",
        "esp-null",
        "esp-md5-hmac",
        "esp-sha-hmac",
        "comp-lzs",
    }
)
"""Every transform the configuration language accepts (what software crypto runs)."""

_CARD_KIND = {"none": CardKind.NONE, "vam": CardKind.VAM, "vam2": CardKind.VAM2}


def example_path(name: str) -> Path:
    """Path of a shipped example configuration (``router1.cfg``, ``split-router2.cfg``, …)."""
    path = Path(str(resources.files("vpnha") / "examples" / name))
    if not path.is_file():
        msg = f"example configuration {name!r} is not installed (looked at {path})"
        raise FileNotFoundError(msg)
    return path


def load_pair(first: str | Path, second: str | Path) -> tuple[RouterConfig, RouterConfig]:
    """Parse two configuration files (raises ConfigError listing every problem)."""
    return load_config(first), load_config(second)


def builtin_configs() -> tuple[RouterConfig, RouterConfig]:
    """The document's two routers (``examples/router1.cfg`` and ``router2.cfg``)."""
    return load_pair(example_path("router1.cfg"), example_path("router2.cfg"))


def _only_group(interface: InterfaceConfig, role: str, hostname: str) -> StandbyGroup:
    if len(interface.standby_groups) != 1:
        msg = (
            f"{hostname}: the {role} interface {interface.name} must have exactly one "
            f"standby group (it has {len(interface.standby_groups)})"
        )
        raise ValueError(msg)
    return interface.standby_groups[0]


def _side(
    cfg: RouterConfig,
    interface: InterfaceConfig,
    role: str,
    names: dict[str, GroupSide],
) -> SideParams:
    group = _only_group(interface, role, cfg.hostname)
    if interface.address is None:
        msg = f"{cfg.hostname}: the {role} interface {interface.name} has no ip address"
        raise ValueError(msg)
    tracks = tuple((names[t.interface], t.decrement) for t in group.tracks if t.interface in names)
    return SideParams(
        interface=interface.name,
        address=int(interface.address.ip),
        group=group.group,
        name=group.name or f"hsrp-{interface.name}-{group.group}",
        virtual_ip=int(group.virtual_ip) if group.virtual_ip is not None else None,
        priority=group.priority,
        preempt=group.preempt,
        preempt_delay_ms=group.preempt_delay_minimum_s * 1000,
        hello_ms=group.hello_ms,
        hold_ms=group.hold_ms,
        auth=group.authentication.encode().ljust(8, b"\0")[:8],
        tracks=tracks,
        delay_minimum_ms=(interface.standby_delay_minimum_s or 0) * 1000,
        delay_reload_ms=(interface.standby_delay_reload_s or 0) * 1000,
        preempt_reload_ms=group.preempt_delay_reload_s * 1000,
        preempt_sync_ms=group.preempt_delay_sync_s * 1000,
    )


def _router(cfg: RouterConfig) -> RouterParams:
    outside = cfg.outside_interface()
    inside = cfg.inside_interface()
    if outside is None or inside is None:
        msg = (
            f"{cfg.hostname}: needs two HSRP interfaces, the outside one with a crypto map "
            f"(found outside={outside and outside.name}, inside={inside and inside.name})"
        )
        raise ValueError(msg)
    names = {inside.name: GroupSide.INSIDE, outside.name: GroupSide.OUTSIDE}
    ssp_id = outside.crypto_map_ssp
    ssp = next((g for g in cfg.ssp_groups if g.group_id == ssp_id), None)
    if ssp is None and cfg.ssp_groups:
        ssp = cfg.ssp_groups[0]
    if ssp is None:
        msg = f"{cfg.hostname}: no ssp group is configured"
        raise ValueError(msg)
    card = cfg.crypto_card
    supported = card.capability.transforms
    return RouterParams(
        name=cfg.hostname,
        inside=_side(cfg, inside, "inside", names),
        outside=_side(cfg, outside, "outside", names),
        redundancy=ssp.redundancy_names,
        ssp_remote=int(ssp.remote),
        card=_CARD_KIND[card.kind],
        card_capacity=card.sa_capacity(),
        card_algorithms=ALL_TRANSFORMS if supported is None else frozenset(supported),
    )


def cluster_params(
    first: RouterConfig,
    second: RouterConfig,
    *,
    jitter_ms: tuple[int, ...] = (0,),
    link_latency_ms: int = 1,
    replay_window: int = 64,
    peer_replay_window: int = 128,
    ssp_hello_ms: int = 1000,
    ssp_dead_ms: int = 3000,
    ssp_retry_ms: int = 1000,
) -> ClusterParams:
    """The model's parameters for the pair; replication settings come from ``first``'s map."""
    outside = first.outside_interface()
    routers = (_router(first), _router(second))
    assert outside is not None  # _router raised otherwise
    assert outside.crypto_map is not None
    entry = next(e for e in first.crypto_maps if e.name == outside.crypto_map)
    transform_set = first.transform_sets[entry.transform_sets[0]]
    lifetime_s = entry.lifetime_seconds or first.ipsec_lifetime_seconds
    lifetime_kb = entry.lifetime_kilobytes or first.ipsec_lifetime_kilobytes
    interval = first.replay_interval(outside.crypto_map)
    lifetime_bytes = lifetime_kb * 1024
    return ClusterParams(
        routers=routers,
        inbound_interval=interval.inbound_packets,
        outbound_interval=interval.outbound_millions * 1_000_000,
        dpd_interval=1,
        byte_interval=max(1, lifetime_bytes // 64),
        replay_window=replay_window,
        peer_replay_window=peer_replay_window,
        transform=tuple(transform_set.transforms),
        lifetime_ms=lifetime_s * 1000,
        lifetime_bytes=lifetime_bytes,
        link_latency_ms=link_latency_ms,
        ssp_hello_ms=ssp_hello_ms,
        ssp_dead_ms=ssp_dead_ms,
        ssp_retry_ms=ssp_retry_ms,
        jitter_ms=jitter_ms,
    )


def with_params(params: ClusterParams, **changes: object) -> ClusterParams:
    """A copy of ``params`` with fields replaced (for scenario variations in tests)."""
    return dataclasses.replace(params, **changes)  # type: ignore[arg-type]
