"""Configuration lint: one router, or the failover pair, against the document's rules.

Each finding has a stable code (see :data:`FINDING_CODES`). Errors are configurations
the document says will not fail over correctly; warnings are things it recommends.

Single-router checks (:func:`lint_router`):

- IKE keepalives configured ("Requires that IKE keepalives must not be used").
- transforms and IKE policies the crypto card cannot do (the document's
  "WARNING:encryption hardware does not support transform ..."; VAM/VAM2 and
  ``rsa-encr``).
- inside and outside HSRP groups that do not track each other ("The interfaces
  then must track each other").
- SSP redundancy names that do not cover both groups, SSP not bound to IKE/IPsec.
- preempt missing ("All other commands are required"), ``standby delay`` missing
  ("not essential, but recommended"), and a preempt that fires before the tracked
  interface's ``standby delay minimum`` has let its own group start (a black hole
  the model exposed in the document's own example: warning).

Pair checks (:func:`lint_pair`): unequal priorities ("Requires that priority values
are equal"), HSRP groups that differ between the routers, security policy that is
not identical ("Requires identical security policy configurations"), SSP ``remote``
not pointing at the other router's inside address, and the inside/outside address
ordering split ("an active/standby-standby/active split condition could happen").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address
from os import PathLike
from typing import Literal, TypeVar

from .crypto import CryptoCard
from .errors import ConfigError
from .parser import load_config
from .schema import InterfaceConfig, RouterConfig, StandbyGroup

Severity = Literal["error", "warning"]
_NO_ADDRESS = IPv4Address(0)
K = TypeVar("K")
V = TypeVar("V")

FINDING_CODES: dict[str, str] = {
    "parse-error": "the file does not parse (lint_files only)",
    "interface-roles": "inside/outside HSRP interfaces cannot be determined",
    "ike-keepalive": "crypto isakmp keepalive configured; the document forbids IKE keepalives",
    "card-unsupported-transform": "a transform the crypto card does not support",
    "card-unsupported-ike": "an IKE policy setting the crypto card does not support",
    "tracking-not-mutual": "inside and outside groups do not track each other's interface",
    "redundancy-incomplete": "SSP redundancy names do not cover the inside and outside groups",
    "ssp-missing": "no ssp group configured",
    "ssp-binding-missing": "crypto map or ISAKMP not bound to an SSP group",
    "preempt-missing": "an inside/outside HSRP group without preempt",
    "preempt-before-delay": (
        "a group preempts sooner than the tracked interface's group starts (black hole)"
    ),
    "standby-delay-missing": "standby delay not configured (recommended)",
    "priority-unequal": "the two routers' priorities differ for a group",
    "hsrp-mismatch": "the two routers' HSRP groups differ (number, VIP, timers, auth, ...)",
    "address-order-split": "inside and outside address orders disagree (HSRP split)",
    "election-split": "configured priorities make different routers active inside and outside",
    "policy-mismatch": "security policy not identical on both routers",
    "card-mismatch": "the two routers have different crypto cards",
    "ssp-remote-mismatch": "ssp remote is not the other router's inside address",
    "ssp-mismatch": "the two routers' ssp groups differ (ids, ports, redundancy names)",
    "ssp-key-default": "no vpnha ssp-key: SSP frames use the publicly known default key",
    "ssp-key-mismatch": "the two routers' vpnha ssp-key differ (SSP never connects)",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One lint result."""

    severity: Severity
    """error (will not fail over correctly) or warning (recommended practice)."""
    code: str
    """Stable short slug, one of FINDING_CODES."""
    router: str
    """Router hostname (or the file path for parse errors)."""
    line: int | None
    """Line in that router's configuration, when known."""
    message: str
    """What is wrong, naming the values involved."""

    def __str__(self) -> str:
        where = f"{self.router}:{self.line}" if self.line else self.router
        return f"{where}: {self.severity} {self.code}: {self.message}"


def format_findings(findings: Iterable[Finding]) -> str:
    """Findings as text, one per line: ``ROUTER:LINE: severity code: message``."""
    return "\n".join(str(f) for f in findings)


def _finding(cfg: RouterConfig, severity: Severity, code: str, line: int, message: str) -> Finding:
    return Finding(
        severity=severity, code=code, router=cfg.hostname, line=line or None, message=message
    )


# ---------------------------------------------------------------------------
# Single router


def _roles(
    cfg: RouterConfig, findings: list[Finding] | None = None
) -> tuple[InterfaceConfig | None, InterfaceConfig | None]:
    """(inside, outside); reports why not when ``findings`` is given."""
    try:
        outside = cfg.outside_interface()
        inside = cfg.inside_interface()
    except ConfigError as exc:
        if findings is not None:
            for diagnostic in exc.diagnostics:
                findings.append(
                    _finding(cfg, "error", "interface-roles", diagnostic.line, diagnostic.message)
                )
        return None, None
    if findings is not None:
        if outside is None:
            findings.append(
                _finding(
                    cfg,
                    "error",
                    "interface-roles",
                    0,
                    "no HSRP interface has a crypto map applied, so there is no outside "
                    "interface to fail over",
                )
            )
        elif inside is None:
            findings.append(
                _finding(
                    cfg,
                    "warning",
                    "interface-roles",
                    outside.line,
                    f"only {outside.name} runs HSRP; without an inside group the LAN side "
                    "depends on RRI (the document's Figure 3 design)",
                )
            )
    return inside, outside


def _check_keepalive(cfg: RouterConfig, findings: list[Finding]) -> None:
    if cfg.isakmp_keepalive is not None:
        findings.append(
            _finding(
                cfg,
                "error",
                "ike-keepalive",
                cfg.isakmp_keepalive_line,
                f"crypto isakmp keepalive {cfg.isakmp_keepalive}: IKE keepalives must not be "
                "used with stateful failover (the connection is torn down after the standby "
                "takes over); use dead peer detection only",
            )
        )


def _check_ssp_key(cfg: RouterConfig, findings: list[Finding]) -> None:
    if cfg.ssp_groups and cfg.ssp_key is None:
        findings.append(
            _finding(
                cfg,
                "warning",
                "ssp-key-default",
                cfg.ssp_groups[0].line,
                "no vpnha ssp-key: SSP frames are authenticated with the built-in default "
                "key, which anyone who reads this tool's source knows; configure a secret",
            )
        )


def _check_card(cfg: RouterConfig, findings: list[Finding]) -> None:
    card = cfg.crypto_card
    for transform_set in cfg.transform_sets.values():
        for transform in card.unsupported_transforms(transform_set):
            findings.append(
                _finding(
                    cfg,
                    "error",
                    "card-unsupported-transform",
                    transform_set.line,
                    "WARNING:encryption hardware does not support transform "
                    f"{transform} within IPSec transform {transform_set.name} "
                    f"(crypto card {card.kind})",
                )
            )
    for policy in cfg.isakmp_policies:
        if not card.supports_ike_encryption(policy.encryption):
            findings.append(
                _finding(
                    cfg,
                    "error",
                    "card-unsupported-ike",
                    policy.line,
                    "WARNING:encryption hardware does not support the configured encryption "
                    f"method for ISAKMP policy {policy.priority} "
                    f"(encryption {policy.encryption}, crypto card {card.kind})",
                )
            )
        if not card.supports_ike_authentication(policy.authentication):
            findings.append(
                _finding(
                    cfg,
                    "error",
                    "card-unsupported-ike",
                    policy.line,
                    f"ISAKMP policy {policy.priority} authentication {policy.authentication}: "
                    f"the {card.kind.upper()} does not support this authentication method",
                )
            )


def _check_tracking(
    cfg: RouterConfig, inside: InterfaceConfig, outside: InterfaceConfig, findings: list[Finding]
) -> None:
    for role, interface, other in (("inside", inside, outside), ("outside", outside, inside)):
        for group in interface.standby_groups:
            if not any(t.interface == other.name for t in group.tracks):
                findings.append(
                    _finding(
                        cfg,
                        "error",
                        "tracking-not-mutual",
                        group.line,
                        f"standby {group.group} on {interface.name} ({role}) does not track "
                        f"{other.name}; the inside and outside groups must track each other "
                        "so that losing either interface fails the whole router over",
                    )
                )


def _check_ssp(
    cfg: RouterConfig,
    inside: InterfaceConfig | None,
    outside: InterfaceConfig,
    findings: list[Finding],
) -> None:
    if not cfg.ssp_groups:
        findings.append(
            _finding(
                cfg,
                "error",
                "ssp-missing",
                0,
                "no ssp group: IPsec and IKE state are not replicated to the other router",
            )
        )
        return
    if outside.crypto_map_ssp is None:
        findings.append(
            _finding(
                cfg,
                "error",
                "ssp-binding-missing",
                outside.line,
                f"crypto map {outside.crypto_map} on {outside.name} has no 'ssp ID': "
                "IPsec SAs are not replicated",
            )
        )
    if cfg.isakmp_ssp_id is None:
        findings.append(
            _finding(
                cfg,
                "warning",
                "ssp-binding-missing",
                0,
                "no crypto isakmp ssp: IKE SAs are not replicated, so the peer must "
                "renegotiate IKE after a failover",
            )
        )
    interfaces = [(role, i) for role, i in (("inside", inside), ("outside", outside)) if i]
    for ssp in cfg.ssp_groups:
        for role, interface in interfaces:
            for group in interface.standby_groups:
                if group.name is None:
                    problem = (
                        f"standby {group.group} on {interface.name} ({role}) has no name, "
                        f"so ssp group {ssp.group_id} cannot follow it"
                    )
                elif group.name not in ssp.redundancy_names:
                    problem = (
                        f"ssp group {ssp.group_id} redundancy does not include {group.name} "
                        f"(standby {group.group} on {interface.name}, {role})"
                    )
                else:
                    continue
                findings.append(_finding(cfg, "error", "redundancy-incomplete", ssp.line, problem))


def _check_preempt_and_delay(
    cfg: RouterConfig, interfaces: Iterable[InterfaceConfig], findings: list[Finding]
) -> None:
    for interface in interfaces:
        for group in interface.standby_groups:
            if not group.preempt:
                findings.append(
                    _finding(
                        cfg,
                        "error",
                        "preempt-missing",
                        group.line,
                        f"standby {group.group} on {interface.name} has no preempt; the "
                        "document's HSRP configuration requires it",
                    )
                )
        if interface.standby_delay_minimum_s is None and interface.standby_delay_reload_s is None:
            findings.append(
                _finding(
                    cfg,
                    "warning",
                    "standby-delay-missing",
                    interface.line,
                    f"{interface.name} has no standby delay minimum/reload (recommended by "
                    "the document, e.g. standby delay minimum 30 reload 60)",
                )
            )


def _check_preempt_races_delay(
    cfg: RouterConfig, interfaces: Iterable[InterfaceConfig], findings: list[Finding]
) -> None:
    """A tracked interface coming back restores the tracking group's priority at once, but
    that interface's own group waits ``standby delay minimum`` before it starts: a group
    that preempts sooner is Active on its side only meanwhile — the document's black hole.
    (Found by the model: ``vpnha simulate``-style runs of interface down/up.)"""
    by_name = {i.name: i for i in interfaces}
    for interface in by_name.values():
        for group in interface.standby_groups:
            if not group.preempt:
                continue
            for track in group.tracks:
                tracked = by_name.get(track.interface)
                delay = tracked.standby_delay_minimum_s if tracked else None
                if delay is None or group.preempt_delay_minimum_s >= delay:
                    continue
                findings.append(
                    _finding(
                        cfg,
                        "warning",
                        "preempt-before-delay",
                        group.line,
                        f"standby {group.group} on {interface.name} preempts after "
                        f"{group.preempt_delay_minimum_s} s but {track.interface} waits "
                        f"standby delay minimum {delay} s when it comes back up: for "
                        f"{delay - group.preempt_delay_minimum_s} s this router is Active on "
                        f"{interface.name} only (black hole); configure 'standby "
                        f"{group.group} preempt delay minimum {delay}'",
                    )
                )


def lint_router(cfg: RouterConfig) -> list[Finding]:
    """Checks that need only one router's configuration."""
    findings: list[Finding] = []
    _check_keepalive(cfg, findings)
    _check_ssp_key(cfg, findings)
    _check_card(cfg, findings)
    inside, outside = _roles(cfg, findings)
    if outside is not None:
        if inside is not None:
            _check_tracking(cfg, inside, outside, findings)
        _check_ssp(cfg, inside, outside, findings)
        _check_preempt_and_delay(cfg, [i for i in (inside, outside) if i], findings)
        _check_preempt_races_delay(cfg, [i for i in (inside, outside) if i], findings)
    return findings


# ---------------------------------------------------------------------------
# Pair


def _shown(value: object) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value) or "(none)"
    return str(value)


def _differences(first: object, second: object) -> list[str]:
    """``field A vs B`` for every compared dataclass field that differs."""
    if not (dataclasses.is_dataclass(first) and dataclasses.is_dataclass(second)):
        return [f"{_shown(first)} vs {_shown(second)}"]
    out = []
    for f in dataclasses.fields(first):
        if not f.compare:
            continue
        a, b = getattr(first, f.name), getattr(second, f.name)
        if a != b:
            out.append(f"{f.name.replace('_', ' ')} {_shown(a)} vs {_shown(b)}")
    return out


class _Pair:
    """The two routers being compared, and the findings so far."""

    def __init__(self, first: RouterConfig, second: RouterConfig) -> None:
        self.first = first
        self.second = second
        self.findings: list[Finding] = []

    def add(
        self,
        severity: Severity,
        code: str,
        message: str,
        first_line: int = 0,
        second_line: int = 0,
    ) -> None:
        """Attribute to the first router when its line is known, else to the second."""
        if first_line or not second_line:
            self.findings.append(_finding(self.first, severity, code, first_line, message))
        else:
            self.findings.append(_finding(self.second, severity, code, second_line, message))

    @property
    def names(self) -> tuple[str, str]:
        return self.first.hostname, self.second.hostname

    def compare_items(
        self,
        what: str,
        first: Mapping[K, V],
        second: Mapping[K, V],
        *,
        label: Callable[[K], str],
        line: Callable[[V], int],
        code: str = "policy-mismatch",
        describe: Callable[[V, V], list[str]] = _differences,
    ) -> None:
        """Report items present on one router only, and items that differ."""
        one, two = self.names
        for key in [*first, *(k for k in second if k not in first)]:
            a, b = first.get(key), second.get(key)
            if a is None and b is not None:
                self.add("error", code, f"{what} {label(key)} is on {two} only", 0, line(b))
            elif b is None and a is not None:
                self.add("error", code, f"{what} {label(key)} is on {one} only", line(a))
            elif a is not None and b is not None and a != b:
                detail = "; ".join(describe(a, b))
                self.add(
                    "error",
                    code,
                    f"{what} {label(key)} differs between {one} and {two}: {detail}",
                    line(a),
                    line(b),
                )


def _compare_groups(
    pair: _Pair, role: str, first: InterfaceConfig, second: InterfaceConfig
) -> None:
    one, two = pair.names
    if first.address is not None and second.address is not None:
        if first.address.network != second.address.network:
            pair.add(
                "error",
                "hsrp-mismatch",
                f"{role} subnets differ: {one} {first.name} {first.address.network}, "
                f"{two} {second.name} {second.address.network}",
                first.address_line,
                second.address_line,
            )
        elif first.address.ip == second.address.ip:
            pair.add(
                "error",
                "hsrp-mismatch",
                f"{role} address {first.address.ip} is used by both {one} and {two}",
                first.address_line,
                second.address_line,
            )
    groups_one = {g.group: g for g in first.standby_groups}
    groups_two = {g.group: g for g in second.standby_groups}
    for number in [*groups_one, *(n for n in groups_two if n not in groups_one)]:
        a, b = groups_one.get(number), groups_two.get(number)
        if a is None or b is None:
            present = one if a is not None else two
            pair.add(
                "error",
                "hsrp-mismatch",
                f"{role} standby group {number} is configured on {present} only",
                a.line if a else 0,
                b.line if b else 0,
            )
            continue
        if a.priority != b.priority:
            pair.add(
                "error",
                "priority-unequal",
                f"{role} standby {number} priority {a.priority} on {one} but {b.priority} on "
                f"{two}; the document requires equal priorities on both routers",
                a.line,
                b.line,
            )
        details = _hsrp_differences(a, b)
        if details:
            pair.add(
                "error",
                "hsrp-mismatch",
                f"{role} standby {number} differs between {one} and {two}: " + "; ".join(details),
                a.line,
                b.line,
            )


def _hsrp_differences(a: StandbyGroup, b: StandbyGroup) -> list[str]:
    compared = ("virtual_ip", "name", "hello_ms", "hold_ms", "authentication", "preempt")
    out = []
    for name in compared:
        va, vb = getattr(a, name), getattr(b, name)
        if va != vb:
            shown_a, shown_b = _shown(va), _shown(vb)
            if name == "authentication":
                shown_a, shown_b = "(hidden)", "(different)"
            out.append(f"{name.replace('_', ' ')} {shown_a} vs {shown_b}")
    return out


def _winner(
    first: tuple[int, IPv4Address], second: tuple[int, IPv4Address], names: tuple[str, str]
) -> str:
    # RFC 2281 §5.1: higher priority wins; equal priorities: higher IP address.
    return names[0] if first > second else names[1]


def _check_split(
    pair: _Pair,
    inside: tuple[InterfaceConfig, InterfaceConfig],
    outside: tuple[InterfaceConfig, InterfaceConfig],
) -> None:
    in1, in2 = inside
    out1, out2 = outside
    addresses = (in1.address, in2.address, out1.address, out2.address)
    if addresses[0] is None or addresses[1] is None:
        return
    if addresses[2] is None or addresses[3] is None:
        return
    ip_in1, ip_in2 = addresses[0].ip, addresses[1].ip
    ip_out1, ip_out2 = addresses[2].ip, addresses[3].ip
    if ip_in1 == ip_in2 or ip_out1 == ip_out2:
        return  # reported as hsrp-mismatch
    one, two = pair.names
    inside_by_address = one if ip_in1 > ip_in2 else two
    outside_by_address = one if ip_out1 > ip_out2 else two
    if inside_by_address != outside_by_address:
        higher_in = f"{max(ip_in1, ip_in2)} > {min(ip_in1, ip_in2)}"
        higher_out = f"{max(ip_out1, ip_out2)} > {min(ip_out1, ip_out2)}"
        pair.add(
            "error",
            "address-order-split",
            "with equal priorities HSRP elects the higher interface address: "
            f"{inside_by_address} would be Active on the inside ({higher_in}) but "
            f"{outside_by_address} on the outside ({higher_out}), an active/standby-"
            "standby/active split that black-holes IPsec traffic; make one router's "
            "addresses higher on both sides",
            in1.address_line,
            in2.address_line,
        )
        return
    if not (in1.standby_groups and in2.standby_groups):
        return
    if not (out1.standby_groups and out2.standby_groups):
        return
    priority = (
        (in1.standby_groups[0].priority, in2.standby_groups[0].priority),
        (out1.standby_groups[0].priority, out2.standby_groups[0].priority),
    )
    inside_winner = _winner((priority[0][0], ip_in1), (priority[0][1], ip_in2), pair.names)
    outside_winner = _winner((priority[1][0], ip_out1), (priority[1][1], ip_out2), pair.names)
    if inside_winner != outside_winner:
        pair.add(
            "error",
            "election-split",
            f"with the configured priorities {inside_winner} would be Active on the inside "
            f"(priority {priority[0][0]} on {one}, {priority[0][1]} on {two}) but "
            f"{outside_winner} on the outside (priority {priority[1][0]} on {one}, "
            f"{priority[1][1]} on {two}): an active/standby-standby/active split",
            in1.standby_groups[0].line,
            in2.standby_groups[0].line,
        )


def _check_ssp_remote(pair: _Pair, local: RouterConfig, other: RouterConfig) -> None:
    other_inside, other_outside = _roles(other)
    if other_inside is None or other_inside.address is None:
        return
    expected = other_inside.address.ip
    for ssp in local.ssp_groups:
        if ssp.remote == expected:
            continue
        hint = ""
        outside_address = other_outside.address if other_outside is not None else None
        if outside_address is not None and ssp.remote == outside_address.ip:
            hint = " (that is its outside address; SSP runs over the inside LAN)"
        finding = _finding(
            local,
            "error",
            "ssp-remote-mismatch",
            ssp.remote_line,
            f"ssp group {ssp.group_id} remote {ssp.remote} is not {other.hostname}'s "
            f"inside address {expected}{hint}",
        )
        pair.findings.append(finding)


def _compare_policy(pair: _Pair) -> None:
    first, second = pair.first, pair.second
    pair.compare_items(
        "isakmp policy",
        {p.priority: p for p in first.isakmp_policies},
        {p.priority: p for p in second.isakmp_policies},
        label=str,
        line=lambda p: p.line,
    )
    pair.compare_items(
        "crypto isakmp key for",
        {k.peer: k for k in first.isakmp_keys},
        {k.peer: k for k in second.isakmp_keys},
        label=str,
        line=lambda k: k.line,
        # Never print a pre-shared key.
        describe=lambda a, b: [
            d if not d.startswith("key ") else "the keys differ" for d in _differences(a, b)
        ],
    )
    pair.compare_items(
        "transform-set",
        first.transform_sets,
        second.transform_sets,
        label=str,
        line=lambda t: t.line,
        # The other fields are derived from the transforms.
        describe=lambda a, b: [
            d for d in _differences(a, b) if d.startswith(("transforms ", "mode "))
        ],
    )
    pair.compare_items(
        "crypto map",
        {(e.name, e.seq): e for e in first.crypto_maps},
        {(e.name, e.seq): e for e in second.crypto_maps},
        label=lambda key: f"{key[0]} {key[1]}",
        line=lambda e: e.line,
    )
    pair.compare_items(
        "crypto dynamic-map",
        {(e.name, e.seq): e for e in first.dynamic_maps},
        {(e.name, e.seq): e for e in second.dynamic_maps},
        label=lambda key: f"{key[0]} {key[1]}",
        line=lambda e: e.line,
    )
    pair.compare_items(
        "access-list",
        first.access_lists,
        second.access_lists,
        label=str,
        line=lambda _acl: 0,
        describe=lambda a, b: [_acl_difference(a.entries, b.entries)],
    )
    map_names = sorted({e.name for e in first.crypto_maps} | {e.name for e in second.crypto_maps})
    pair.compare_items(
        "crypto map",
        {name: first.replay_interval(name) for name in map_names},
        {name: second.replay_interval(name) for name in map_names},
        label=lambda name: f"{name} ha replay-interval",
        line=lambda r: r.line,
    )
    one, two = pair.names
    for label, a, b in (
        (
            "crypto ipsec security-association lifetime seconds",
            first.ipsec_lifetime_seconds,
            second.ipsec_lifetime_seconds,
        ),
        (
            "crypto ipsec security-association lifetime kilobytes",
            first.ipsec_lifetime_kilobytes,
            second.ipsec_lifetime_kilobytes,
        ),
        ("crypto isakmp ssp", first.isakmp_ssp_id, second.isakmp_ssp_id),
    ):
        if a != b:
            pair.add(
                "error",
                "policy-mismatch",
                f"{label} differs: {_shown(a)} on {one}, {_shown(b)} on {two}",
            )
    _compare_cards(pair, first.crypto_card, second.crypto_card)


def _acl_difference(first: tuple[object, ...], second: tuple[object, ...]) -> str:
    for index, (a, b) in enumerate(zip(first, second, strict=False), start=1):
        if a != b:
            return f"entry {index} differs"
    return f"{len(first)} entries vs {len(second)}"


def _compare_cards(pair: _Pair, first: CryptoCard, second: CryptoCard) -> None:
    if first != second:
        one, two = pair.names
        pair.add(
            "error",
            "card-mismatch",
            f"crypto card {first.kind} (capacity {_shown(first.sa_capacity())}) on {one} but "
            f"{second.kind} (capacity {_shown(second.sa_capacity())}) on {two}; both routers "
            "need identical accelerators (or none)",
            first.line,
            second.line,
        )


def lint_pair(first: RouterConfig, second: RouterConfig) -> list[Finding]:
    """Both routers' single checks plus the checks that need the pair."""
    pair = _Pair(first, second)
    pair.findings.extend(lint_router(first))
    pair.findings.extend(lint_router(second))
    inside1, outside1 = _roles(first)
    inside2, outside2 = _roles(second)
    if inside1 is not None and inside2 is not None:
        _compare_groups(pair, "inside", inside1, inside2)
    if outside1 is not None and outside2 is not None:
        _compare_groups(pair, "outside", outside1, outside2)
        one, two = pair.names
        if (outside1.crypto_map, outside1.crypto_map_ssp) != (
            outside2.crypto_map,
            outside2.crypto_map_ssp,
        ):
            pair.add(
                "error",
                "policy-mismatch",
                f"outside interface crypto map differs: {outside1.crypto_map} ssp "
                f"{_shown(outside1.crypto_map_ssp)} on {one}, {outside2.crypto_map} ssp "
                f"{_shown(outside2.crypto_map_ssp)} on {two}",
                outside1.line,
                outside2.line,
            )
    if inside1 and inside2 and outside1 and outside2:
        _check_split(pair, (inside1, inside2), (outside1, outside2))
    _check_ssp_remote(pair, first, second)
    _check_ssp_remote(pair, second, first)
    # Each router's remote names the other, so remote is checked above, not here.
    pair.compare_items(
        "ssp group",
        {g.group_id: dataclasses.replace(g, remote=_NO_ADDRESS) for g in first.ssp_groups},
        {g.group_id: dataclasses.replace(g, remote=_NO_ADDRESS) for g in second.ssp_groups},
        label=str,
        line=lambda g: g.line,
        code="ssp-mismatch",
    )
    if first.ssp_key != second.ssp_key:
        pair.add(
            "error",
            "ssp-key-mismatch",
            f"vpnha ssp-key differs between {pair.names[0]} and {pair.names[1]}: "
            "the SSP connection will never be established (the keys are not shown)",
            first.ssp_key_line,
            second.ssp_key_line,
        )
    _compare_policy(pair)
    return pair.findings


def lint_files(
    first: str | PathLike[str], second: str | PathLike[str]
) -> tuple[list[Finding], int]:
    """Lint two configuration files as a failover pair.

    Returns the findings and the exit status a command line should use: 0 when
    clean or warnings only, 1 when any finding is an error, 2 when a file cannot be
    read or parsed (its diagnostics are then returned as ``parse-error`` findings).
    """
    findings: list[Finding] = []
    configs: list[RouterConfig] = []
    failed = False
    for path in (first, second):
        try:
            configs.append(load_config(path))
        except ConfigError as exc:
            failed = True
            for d in exc.diagnostics:
                message = f"{d.command}: {d.message}" if d.command else d.message
                findings.append(
                    Finding(
                        severity="error",
                        code="parse-error",
                        router=str(path),
                        line=d.line or None,
                        message=message,
                    )
                )
    if failed:
        for cfg in configs:
            findings.extend(lint_router(cfg))
        return findings, 2
    findings = lint_pair(configs[0], configs[1])
    return findings, 1 if any(f.severity == "error" for f in findings) else 0
