"""IOS configuration text -> :class:`RouterConfig`: a mode-based command dispatcher.

Theory of operation
-------------------
IOS configuration is a sequence of commands, each in a *mode*. Global commands such
as ``interface X`` or ``crypto isakmp policy N`` open a sub-mode; the following
commands belong to that block until a command that the sub-mode does not know
appears, which IOS (and this parser) then runs in global mode. Indentation means
nothing: the document's second example has none, so a command is recognised by its
words and the current mode only.

Modes and the commands each one claims:

====================  ===========================================================
global                hostname, interface, ssp group, crypto ..., access-list,
                      ip access-list extended, vpnha crypto-card, boilerplate
interface             description, ip address, no ip address, [no] shutdown,
                      standby ..., crypto map NAME [ssp ID], duplex, speed
ssp-group             remote, redundancy, port
isakmp-policy         encryption | encr, hash, authentication, group, lifetime
transform-set         mode
crypto-map            description, set ..., match address, reverse-route
dynamic-map           (same as crypto-map)
named-acl             permit, deny, remark
ignored-block         sub-commands of ``line`` and ``control-plane`` blocks
====================  ===========================================================

``!`` lines, blank lines and ``end`` are ignored; ``exit`` returns to global mode.
A small allow-list of harmless IOS boilerplate (``version``, ``service ...``,
``boot ...``, ``logging ...``, ``no ip domain-lookup``, ``line`` blocks, ...) is
accepted and ignored; any other unknown command is an error.

A command that is wrong becomes a :class:`Diagnostic`; parsing goes on so that one
run reports every mistake of the file, then cross-references are checked (tracked
interfaces, ACLs, transform sets, maps, SSP groups, redundancy names) and one
:class:`ConfigError` carries them all.

A running configuration lists each block once, so a block header that repeats
(the same interface, ssp group, isakmp policy, transform set, crypto map entry,
dynamic map entry or named ACL twice) is reported: in a file it almost always means
two snippets were pasted together, and silently merging them would hide that.

vpnha extensions (not IOS): ``vpnha crypto-card {none|vam|vam2} [capacity N]`` (the
accelerator fitted) and ``vpnha ssp-key TEXT`` (the pre-shared key that authenticates
SSP frames; IOS's SSP has no authentication, ours refuses unauthenticated frames).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Interface
from os import PathLike
from pathlib import Path
from types import MappingProxyType

from .acl import AccessList, AclEntry, acl_number_error, parse_acl_entry
from .crypto import (
    CARD_KINDS,
    MAX_CARD_CAPACITY,
    CryptoCard,
    TransformMode,
    TransformSet,
    parse_transforms,
)
from .errors import CommandError, ConfigError, Diagnostic
from .schema import (
    MAX_SSP_KEY_LENGTH,
    CryptoMapEntry,
    DynamicMapEntry,
    IkeAuthentication,
    IkeEncryption,
    IkeHash,
    InterfaceConfig,
    IsakmpKey,
    IsakmpPolicy,
    PfsGroup,
    ReplayInterval,
    RouterConfig,
    SspGroup,
    StandbyGroup,
    Track,
)
from .values import (
    parse_choice,
    parse_int,
    parse_ipv4,
    parse_netmask,
    shown,
    take_interface_name,
)


class _Mode(enum.Enum):
    GLOBAL = "global"
    INTERFACE = "interface"
    SSP_GROUP = "ssp group"
    ISAKMP_POLICY = "crypto isakmp policy"
    TRANSFORM_SET = "crypto ipsec transform-set"
    CRYPTO_MAP = "crypto map"
    DYNAMIC_MAP = "crypto dynamic-map"
    NAMED_ACL = "ip access-list extended"
    IGNORED_BLOCK = "line"


# ---------------------------------------------------------------------------
# Ranges and keyword tables. Sources: the document's command tables and command
# reference; where the document defers to IOS, the IOS value (noted).

SSP_GROUP_RANGE = (1, 100)  # "ssp group": "Integer identifier between 1 and 100"
SSP_PORT_RANGE = (1024, 49150)  # "port": "Integer between 1024 and 49150"
ISAKMP_PRIORITY_RANGE = (1, 10000)  # IOS crypto isakmp policy priority
IKE_LIFETIME_RANGE = (60, 86400)  # IKE policy table: "integer from 60 to 86,400 seconds"
KEEPALIVE_RANGE = (10, 3600)  # IOS crypto isakmp keepalive seconds
KEEPALIVE_RETRY_RANGE = (2, 60)  # IOS crypto isakmp keepalive retry seconds
IPSEC_LIFETIME_SECONDS_RANGE = (120, 86400)  # IOS security-association lifetime seconds
IPSEC_LIFETIME_KILOBYTES_RANGE = (2560, 536_870_912)  # IOS ... lifetime kilobytes
CRYPTO_MAP_SEQ_RANGE = (1, 65535)  # IOS crypto map sequence number
MAX_TRANSFORM_SETS_PER_ENTRY = 6  # "transform-set-name1 [... transform-set-name6]"
REPLAY_INBOUND_RANGE = (0, 10000)  # "crypto map ha": "Integer between 0 and 10000"
REPLAY_OUTBOUND_RANGE = (1, 10)  # "Integer between 1 and 10 (in millions of packets)"
HSRP_GROUP_RANGE = (0, 255)  # RFC 2281 §5.1: group is one octet
HSRP_PRIORITY_RANGE = (1, 255)  # the document: "range is from 1 to 255"
HSRP_DELAY_RANGE = (0, 10000)  # standby delay minimum/reload (protocols.md §1.12)
PREEMPT_DELAY_RANGE = (0, 3600)  # standby preempt delay (protocols.md §1.12)
HELLO_SECONDS_RANGE = (1, 254)
HOLD_SECONDS_RANGE = (1, 255)
HELLO_MSEC_RANGE = (15, 999)  # "msec option down to 15 ms hello / 50 ms hold" (§1.12)
HOLD_MSEC_RANGE = (50, 3000)
TRACK_DECREMENT_RANGE = (1, 255)
HSRP_AUTH_MAX = 8  # RFC 2281 §5.1: 8 octets of clear-text authentication data

_IKE_ENCRYPTION: dict[str, IkeEncryption] = {
    "des": "des",
    "3des": "3des",
    "aes": "aes",
    "aes 128": "aes",
    "aes 192": "aes 192",
    "aes 256": "aes 256",
}
_IKE_HASH: dict[str, IkeHash] = {"sha": "sha", "md5": "md5"}
_IKE_AUTHENTICATION: dict[str, IkeAuthentication] = {
    "rsa-sig": "rsa-sig",
    "rsa-encr": "rsa-encr",
    "pre-share": "pre-share",
}
_IKE_GROUPS: dict[str, int] = {"1": 1, "2": 2, "5": 5}
_PFS_GROUPS: dict[str, PfsGroup] = {"group1": "group1", "group2": "group2", "group5": "group5"}
_TRANSFORM_MODES: dict[str, TransformMode] = {"tunnel": "tunnel", "transport": "transport"}

# Harmless boilerplate of a real running configuration, accepted and ignored in
# global mode. Matched on whole leading words (lower case).
IGNORED_GLOBAL_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("version",),
    ("service",),
    ("no", "service"),
    ("boot-start-marker",),
    ("boot-end-marker",),
    ("boot",),
    ("logging",),
    ("no", "logging"),
    ("no", "ip", "domain-lookup"),
    ("no", "ip", "domain", "lookup"),
    ("ip", "cef"),
    ("ip", "subnet-zero"),
    ("ip", "classless"),
    ("no", "ip", "http", "server"),
    ("no", "ip", "http", "secure-server"),
    ("no", "aaa", "new-model"),
    ("enable", "secret"),
    ("memory-size",),
)
# Interface-mode boilerplate, accepted and ignored.
IGNORED_INTERFACE_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("duplex",),
    ("speed",),
    ("no", "ip", "redirects"),
    ("no", "ip", "unreachables"),
    ("no", "ip", "proxy-arp"),
    ("no", "ip", "mroute-cache"),
    ("no", "cdp", "enable"),
)
# Blocks whose contents do not matter to vpnha (console/vty lines, control plane).
IGNORED_BLOCKS = ("line", "control-plane")
_IGNORED_BLOCK_COMMANDS = frozenset(
    {
        "login",
        "password",
        "exec-timeout",
        "transport",
        "stopbits",
        "logging",
        "privilege",
        "exec",
        "session-timeout",
        "history",
        "width",
        "length",
        "no",
    }
)

# Where a sub-mode command belongs, for a helpful message when it appears in
# global mode.
_SUBMODE_OF = {
    "description": "an interface or crypto map",
    "standby": "an interface",
    "shutdown": "an interface",
    "remote": "ssp group",
    "redundancy": "ssp group",
    "port": "ssp group",
    "encryption": "crypto isakmp policy",
    "encr": "crypto isakmp policy",
    "hash": "crypto isakmp policy",
    "authentication": "crypto isakmp policy",
    "group": "crypto isakmp policy",
    "lifetime": "crypto isakmp policy",
    "mode": "crypto ipsec transform-set",
    "set": "crypto map or crypto dynamic-map",
    "match": "crypto map or crypto dynamic-map",
    "reverse-route": "crypto map or crypto dynamic-map",
    "permit": "ip access-list extended",
    "deny": "ip access-list extended",
    "remark": "ip access-list extended",
}


def _starts_with(keys: list[str], prefixes: tuple[tuple[str, ...], ...]) -> bool:
    return any(tuple(keys[: len(p)]) == p for p in prefixes)


@dataclass(slots=True)
class _Command:
    """One non-blank, non-comment line."""

    line: int
    text: str
    words: list[str]
    keys: list[str]

    def rest(self, count: int) -> str:
        """The text after the first ``count`` words, spacing kept."""
        parts = self.text.split(None, count)
        return parts[count] if len(parts) > count else ""


# ---------------------------------------------------------------------------
# Mutable drafts, frozen into the schema objects when the file is done.


@dataclass(slots=True)
class _InterfaceDraft:
    name: str
    line: int
    description: str | None = None
    address: IPv4Interface | None = None
    address_line: int = 0
    shutdown: bool = False
    groups: dict[int, StandbyGroup] = field(default_factory=dict)
    enabled_groups: set[int] = field(default_factory=set)
    delay_minimum_s: int | None = None
    delay_reload_s: int | None = None
    crypto_map: str | None = None
    crypto_map_ssp: int | None = None

    def freeze(self) -> InterfaceConfig:
        return InterfaceConfig(
            name=self.name,
            description=self.description,
            address=self.address,
            shutdown=self.shutdown,
            standby_groups=tuple(self.groups.values()),
            standby_delay_minimum_s=self.delay_minimum_s,
            standby_delay_reload_s=self.delay_reload_s,
            crypto_map=self.crypto_map,
            crypto_map_ssp=self.crypto_map_ssp,
            line=self.line,
            address_line=self.address_line,
        )


@dataclass(slots=True)
class _SspDraft:
    group_id: int
    line: int
    remote: IPv4Address | None = None
    remote_line: int = 0
    redundancy_names: list[str] = field(default_factory=list)
    port: int = 3249


@dataclass(slots=True)
class _MapDraft:
    name: str
    seq: int
    line: int
    dynamic_map: str | None = None
    description: str | None = None
    peers: list[IPv4Address] = field(default_factory=list)
    transform_sets: tuple[str, ...] = ()
    match_address: str | None = None
    pfs: PfsGroup | None = None
    lifetime_seconds: int | None = None
    lifetime_kilobytes: int | None = None
    reverse_route: bool = False

    def freeze_static(self) -> CryptoMapEntry:
        return CryptoMapEntry(
            name=self.name,
            seq=self.seq,
            dynamic_map=self.dynamic_map,
            description=self.description,
            peers=tuple(self.peers),
            transform_sets=self.transform_sets,
            match_address=self.match_address,
            pfs=self.pfs,
            lifetime_seconds=self.lifetime_seconds,
            lifetime_kilobytes=self.lifetime_kilobytes,
            reverse_route=self.reverse_route,
            line=self.line,
        )

    def freeze_dynamic(self) -> DynamicMapEntry:
        return DynamicMapEntry(
            name=self.name,
            seq=self.seq,
            description=self.description,
            peers=tuple(self.peers),
            transform_sets=self.transform_sets,
            match_address=self.match_address,
            pfs=self.pfs,
            lifetime_seconds=self.lifetime_seconds,
            lifetime_kilobytes=self.lifetime_kilobytes,
            reverse_route=self.reverse_route,
            line=self.line,
        )


@dataclass(slots=True)
class _AclDraft:
    name: str
    line: int
    named: bool
    entries: list[AclEntry] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)


_Handler = Callable[["_Parser", _Command], None]


class _Parser:
    """Feeds lines through the mode dispatcher and collects diagnostics."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self.texts: dict[int, str] = {}
        self.mode = _Mode.GLOBAL
        self.first_line: dict[tuple[str, ...], int] = {}
        # (kind, name) of definitions that were wrong but name something.
        self.broken_names: set[tuple[str, str]] = set()

        self.hostname = "Router"
        self.interfaces: list[_InterfaceDraft] = []
        self.ssp_groups: list[_SspDraft] = []
        self.policies: dict[int, IsakmpPolicy] = {}
        self.keys: list[IsakmpKey] = []
        self.isakmp_ssp_id: int | None = None
        self.keepalive: int | None = None
        self.keepalive_line = 0
        self.transform_sets: dict[str, TransformSet] = {}
        self.lifetime_seconds = 3600
        self.lifetime_kilobytes = 4_608_000
        self.crypto_maps: dict[tuple[str, int], _MapDraft] = {}
        self.dynamic_maps: dict[tuple[str, int], _MapDraft] = {}
        self.replay: dict[str, ReplayInterval] = {}
        self.acls: dict[str, _AclDraft] = {}
        self.card = CryptoCard()
        self.ssp_key: str | None = None
        self.ssp_key_line = 0

        # The block being filled. When its header was wrong, a throw-away draft
        # keeps the sub-commands checked without storing them.
        self.iface = _InterfaceDraft(name="", line=0)
        self.ssp = _SspDraft(group_id=0, line=0)
        self.policy_key: int | None = None
        self.transform_key: str | None = None
        self.map = _MapDraft(name="", seq=0, line=0)
        self.acl = _AclDraft(name="", line=0, named=True)

        # Cross-references, checked when every line is in: (line, target).
        self.track_refs: list[tuple[int, str]] = []
        self.transform_refs: list[tuple[int, str]] = []
        self.acl_refs: list[tuple[int, str]] = []
        self.dynamic_refs: list[tuple[int, str]] = []
        self.map_refs: list[tuple[int, str]] = []
        self.ssp_refs: list[tuple[int, int]] = []
        self.redundancy_refs: list[tuple[int, str]] = []

    # -- driver ---------------------------------------------------------------

    def error(self, line: int, message: str) -> None:
        self.diagnostics.append(
            Diagnostic(
                source=self.source, line=line, command=self.texts.get(line, ""), message=message
            )
        )

    def feed(self, line: int, raw: str) -> None:
        text = raw.strip()
        if not text or text.startswith("!"):
            return
        words = text.split()
        command = _Command(line=line, text=text, words=words, keys=[w.lower() for w in words])
        self.texts[line] = text
        if command.keys in (["end"], ["exit"]):
            self.mode = _Mode.GLOBAL
            return
        if self.mode is not _Mode.GLOBAL and not _CLAIMS[self.mode](command):
            self.mode = _Mode.GLOBAL
        try:
            if self.mode is _Mode.GLOBAL:
                self.global_command(command)
            else:
                _SUBMODE_HANDLERS[self.mode](self, command)
        except CommandError as exc:
            self.error(line, exc.message)

    def claim_block(self, key: tuple[str, ...], line: int, what: str) -> bool:
        """Record a block header; False (and a diagnostic) when it repeats."""
        first = self.first_line.get(key)
        if first is not None:
            self.error(line, f"{what} already defined at line {first}")
            return False
        self.first_line[key] = line
        return True

    # -- global mode ------------------------------------------------------------

    def global_command(self, cmd: _Command) -> None:
        keys = cmd.keys
        head = keys[0]
        handler = _GLOBAL_HANDLERS.get(head)
        if handler is not None:
            handler(self, cmd)
            return
        if _starts_with(keys, IGNORED_GLOBAL_COMMANDS):
            return
        if head in IGNORED_BLOCKS:
            self.mode = _Mode.IGNORED_BLOCK
            return
        if "#" in cmd.words[0]:
            raise CommandError(f"remove the prompt {shown(cmd.words[0])}: give commands only")
        if head in _SUBMODE_OF:
            raise CommandError(f"{head} is only valid under {_SUBMODE_OF[head]}")
        raise CommandError("unknown command in global configuration mode")

    def hostname_command(self, cmd: _Command) -> None:
        if len(cmd.words) != 2:
            raise CommandError("hostname takes exactly one name")
        self.hostname = cmd.words[1]

    def interface_command(self, cmd: _Command) -> None:
        self.mode = _Mode.INTERFACE
        self.iface = _InterfaceDraft(name="", line=cmd.line)
        name, rest = take_interface_name(cmd.words[1:])
        if rest:
            raise CommandError(f"unexpected {shown(' '.join(rest))} after interface {name}")
        draft = _InterfaceDraft(name=name, line=cmd.line)
        self.iface = draft
        if self.claim_block(("interface", name), cmd.line, f"interface {name}"):
            self.interfaces.append(draft)

    def ssp_command(self, cmd: _Command) -> None:
        if len(cmd.keys) < 2 or cmd.keys[1] != "group":
            raise CommandError("expected ssp group GROUP")
        self.mode = _Mode.SSP_GROUP
        self.ssp = _SspDraft(group_id=0, line=cmd.line)
        if len(cmd.words) != 3:
            raise CommandError("ssp group takes one group number (1-100)")
        group_id = parse_int(cmd.words[2], "ssp group", *SSP_GROUP_RANGE)
        draft = _SspDraft(group_id=group_id, line=cmd.line)
        self.ssp = draft
        if self.claim_block(("ssp", str(group_id)), cmd.line, f"ssp group {group_id}"):
            self.ssp_groups.append(draft)

    def crypto_command(self, cmd: _Command) -> None:
        sub = cmd.keys[1] if len(cmd.keys) > 1 else ""
        if sub == "isakmp":
            self.crypto_isakmp(cmd)
        elif sub == "ipsec":
            self.crypto_ipsec(cmd)
        elif sub == "map":
            self.crypto_map(cmd)
        elif sub == "dynamic-map":
            self.crypto_dynamic_map(cmd)
        else:
            raise CommandError(
                f"crypto {shown(sub) if sub else ''} is not one of isakmp, ipsec, map, dynamic-map"
            )

    def crypto_isakmp(self, cmd: _Command) -> None:
        sub = cmd.keys[2] if len(cmd.keys) > 2 else ""
        args = cmd.words[3:]
        if sub == "policy":
            self.mode = _Mode.ISAKMP_POLICY
            self.policy_key = None
            if len(args) != 1:
                raise CommandError("crypto isakmp policy takes one priority (1-10000)")
            priority = parse_int(args[0], "policy priority", *ISAKMP_PRIORITY_RANGE)
            if self.claim_block(("policy", str(priority)), cmd.line, f"isakmp policy {priority}"):
                self.policies[priority] = IsakmpPolicy(priority=priority, line=cmd.line)
                self.policy_key = priority
        elif sub == "key":
            self.keys.append(_isakmp_key(args, cmd.line))
        elif sub == "ssp":
            if len(args) != 1:
                raise CommandError("crypto isakmp ssp takes one SSP group id (1-100)")
            self.isakmp_ssp_id = parse_int(args[0], "ssp id", *SSP_GROUP_RANGE)
            self.ssp_refs.append((cmd.line, self.isakmp_ssp_id))
        elif sub == "keepalive":
            if not 1 <= len(args) <= 3:
                raise CommandError("expected crypto isakmp keepalive SECONDS [RETRY]")
            seconds = parse_int(args[0], "keepalive", *KEEPALIVE_RANGE)
            rest = args[1:]
            if rest and rest[0][:1].isdigit():
                parse_int(rest[0], "keepalive retry", *KEEPALIVE_RETRY_RANGE)
                rest = rest[1:]
            if rest and rest[0].lower() in ("periodic", "on-demand"):
                rest = rest[1:]
            if rest:
                raise CommandError(f"unexpected {shown(' '.join(rest))} after keepalive")
            self.keepalive = seconds
            self.keepalive_line = cmd.line
        else:
            raise CommandError(
                f"crypto isakmp {shown(sub) if sub else ''} is not one of "
                "policy, key, ssp, keepalive"
            )

    def crypto_ipsec(self, cmd: _Command) -> None:
        sub = cmd.keys[2] if len(cmd.keys) > 2 else ""
        if sub == "transform-set":
            self.mode = _Mode.TRANSFORM_SET
            self.transform_key = None
            if len(cmd.words) < 4:
                raise CommandError("expected crypto ipsec transform-set NAME TRANSFORM...")
            name = cmd.words[3]
            # A wrong definition still defines the name: no cascade of "not defined".
            self.broken_names.add(("transform-set", name))
            transform_set = parse_transforms(name, cmd.words[4:], cmd.line)
            if self.claim_block(("transform-set", name), cmd.line, f"transform-set {name}"):
                self.transform_sets[name] = transform_set
                self.transform_key = name
        elif cmd.keys[2:4] == ["security-association", "lifetime"]:
            kind, value = _lifetime(cmd.words[4:])
            if kind == "seconds":
                self.lifetime_seconds = value
            else:
                self.lifetime_kilobytes = value
        else:
            raise CommandError(
                "expected crypto ipsec transform-set ... or "
                "crypto ipsec security-association lifetime ..."
            )

    def crypto_map(self, cmd: _Command) -> None:
        words = cmd.words
        if len(words) < 4:
            raise CommandError(
                "expected crypto map NAME SEQ ipsec-isakmp (apply a map under an interface)"
            )
        name, third = words[2], cmd.keys[3]
        if third == "ha":
            self.crypto_map_ha(cmd, name)
            return
        if third == "ssp":
            raise CommandError("crypto map NAME ssp ID belongs under the outside interface")
        self.mode = _Mode.CRYPTO_MAP
        self.map = _MapDraft(name=name, seq=0, line=cmd.line)
        self.broken_names.add(("crypto map", name))
        seq = parse_int(words[3], "crypto map sequence number", *CRYPTO_MAP_SEQ_RANGE)
        rest = cmd.keys[4:]
        dynamic: str | None = None
        if rest and rest[0] == "ipsec-manual":
            raise CommandError("ipsec-manual crypto maps are not supported (IKE only)")
        if rest and rest[0] == "ipsec-isakmp":
            rest = rest[1:]
        if rest and rest[0] == "dynamic":
            if len(rest) < 2:
                raise CommandError("dynamic map name missing after dynamic")
            dynamic = words[len(words) - len(rest) + 1]
            rest = rest[2:]
            if rest and rest[0] == "discover":
                rest = rest[1:]
        if rest:
            raise CommandError(f"unexpected {shown(' '.join(rest))}; expected ipsec-isakmp")
        draft = _MapDraft(name=name, seq=seq, line=cmd.line, dynamic_map=dynamic)
        self.map = draft
        if self.claim_block(("crypto map", name, str(seq)), cmd.line, f"crypto map {name} {seq}"):
            self.crypto_maps[(name, seq)] = draft
            if dynamic is not None:
                self.dynamic_refs.append((cmd.line, dynamic))

    def crypto_map_ha(self, cmd: _Command, name: str) -> None:
        keys = cmd.keys[4:]
        if not keys or keys[0] != "replay-interval":
            raise CommandError("expected crypto map NAME ha replay-interval inbound N outbound M")
        inbound = ReplayInterval().inbound_packets
        outbound = ReplayInterval().outbound_millions
        rest = keys[1:]
        seen = False
        if len(rest) >= 2 and rest[0] == "inbound":
            inbound = parse_int(rest[1], "replay-interval inbound", *REPLAY_INBOUND_RANGE)
            rest = rest[2:]
            seen = True
        if len(rest) >= 2 and rest[0] == "outbound":
            outbound = parse_int(rest[1], "replay-interval outbound", *REPLAY_OUTBOUND_RANGE)
            rest = rest[2:]
            seen = True
        if rest or not seen:
            raise CommandError("expected replay-interval inbound N (0-10000) outbound M (1-10)")
        if self.claim_block(("crypto map ha", name), cmd.line, f"crypto map {name} ha"):
            self.replay[name] = ReplayInterval(
                inbound_packets=inbound, outbound_millions=outbound, line=cmd.line
            )
            self.map_refs.append((cmd.line, name))

    def crypto_dynamic_map(self, cmd: _Command) -> None:
        self.mode = _Mode.DYNAMIC_MAP
        self.map = _MapDraft(name="", seq=0, line=cmd.line)
        if len(cmd.words) != 4:
            raise CommandError("expected crypto dynamic-map NAME SEQ")
        name = cmd.words[2]
        seq = parse_int(cmd.words[3], "dynamic-map sequence number", *CRYPTO_MAP_SEQ_RANGE)
        draft = _MapDraft(name=name, seq=seq, line=cmd.line)
        self.map = draft
        if self.claim_block(
            ("dynamic-map", name, str(seq)), cmd.line, f"crypto dynamic-map {name} {seq}"
        ):
            self.dynamic_maps[(name, seq)] = draft

    def access_list_command(self, cmd: _Command) -> None:
        if len(cmd.words) < 3:
            raise CommandError("expected access-list NUMBER {permit|deny|remark} ...")
        number = parse_int(cmd.words[1], "access-list number", 0, 99999)
        problem = acl_number_error(number)
        if problem is not None:
            raise CommandError(problem)
        name = str(number)
        draft = self.acls.get(name)
        if draft is None:
            draft = _AclDraft(name=name, line=cmd.line, named=False)
            self.acls[name] = draft
            self.first_line[("acl", name)] = cmd.line
        elif draft.named:
            raise CommandError(f"access list {name} is already defined at line {draft.line}")
        if cmd.keys[2] == "remark":
            draft.remarks.append(cmd.rest(3))
            return
        draft.entries.append(parse_acl_entry(cmd.words[2:]))

    def ip_command(self, cmd: _Command) -> None:
        if cmd.keys[1:3] == ["access-list", "extended"]:
            self.mode = _Mode.NAMED_ACL
            self.acl = _AclDraft(name="", line=cmd.line, named=True)
            if len(cmd.words) != 4:
                raise CommandError("expected ip access-list extended NAME")
            name = cmd.words[3]
            draft = _AclDraft(name=name, line=cmd.line, named=True)
            self.acl = draft
            if self.claim_block(("acl", name), cmd.line, f"access list {name}"):
                self.acls[name] = draft
            return
        if cmd.keys[1:3] == ["access-list", "standard"]:
            raise CommandError("standard access lists cannot be crypto ACLs; use extended")
        if _starts_with(cmd.keys, IGNORED_GLOBAL_COMMANDS):
            return
        if cmd.keys[1:2] == ["address"]:
            raise CommandError("ip address is only valid under an interface")
        raise CommandError("unknown command in global configuration mode")

    def vpnha_command(self, cmd: _Command) -> None:
        if len(cmd.keys) >= 2 and cmd.keys[1] == "ssp-key":
            self.vpnha_ssp_key(cmd)
            return
        if len(cmd.keys) < 3 or cmd.keys[1] != "crypto-card":
            raise CommandError(
                "expected vpnha crypto-card {none|vam|vam2} [capacity N] or vpnha ssp-key TEXT"
            )
        kind = parse_choice(cmd.words[2], "crypto-card", CARD_KINDS)
        capacity: int | None = None
        rest = cmd.words[3:]
        if rest:
            if len(rest) != 2 or rest[0].lower() != "capacity":
                raise CommandError(f"unexpected {shown(' '.join(rest))}; expected capacity N")
            capacity = parse_int(rest[1], "capacity", 1, MAX_CARD_CAPACITY)
        if self.card.line:
            # The document, Restrictions: "Supports just a single VAM/VAM2 card".
            raise CommandError(
                f"a second crypto card (first at line {self.card.line}); "
                "one card per router is supported"
            )
        self.card = CryptoCard(kind=kind, capacity_sas=capacity, line=cmd.line)

    def vpnha_ssp_key(self, cmd: _Command) -> None:
        words = cmd.words[2:]
        if len(words) != 1:
            raise CommandError("expected vpnha ssp-key TEXT (one word, 1-64 printable characters)")
        key = words[0]
        if not 1 <= len(key) <= MAX_SSP_KEY_LENGTH:
            raise CommandError(f"ssp-key is {len(key)} characters; 1-{MAX_SSP_KEY_LENGTH} allowed")
        if self.ssp_key_line:
            raise CommandError(f"a second ssp-key (first at line {self.ssp_key_line})")
        self.ssp_key = key
        self.ssp_key_line = cmd.line

    # -- interface mode ---------------------------------------------------------

    def interface_mode(self, cmd: _Command) -> None:
        keys = cmd.keys
        iface = self.iface
        if _starts_with(keys, IGNORED_INTERFACE_COMMANDS):
            return
        head = keys[0]
        if head == "description":
            text = cmd.rest(1)
            if not text:
                raise CommandError("description text missing")
            iface.description = text
        elif head == "shutdown":
            iface.shutdown = True
        elif keys == ["no", "shutdown"]:
            iface.shutdown = False
        elif keys == ["no", "ip", "address"]:
            iface.address = None
            iface.address_line = 0
        elif keys[:2] == ["ip", "address"]:
            iface.address = _interface_address(cmd.words[2:])
            iface.address_line = cmd.line
        elif head == "standby":
            self.standby(cmd)
        elif keys[:2] == ["crypto", "map"]:
            self.interface_crypto_map(cmd)
        else:  # pragma: no cover - _CLAIMS only lets the commands above through
            raise CommandError(f"unknown interface command {shown(cmd.words[0])}")

    def interface_crypto_map(self, cmd: _Command) -> None:
        iface = self.iface
        words = cmd.words
        if iface.crypto_map is not None:
            # The document: "You can apply only one crypto map set to a single interface."
            raise CommandError(
                f"interface {iface.name} already has crypto map {iface.crypto_map}; "
                "only one crypto map set per interface"
            )
        name = words[2]
        ssp_id: int | None = None
        if len(words) > 3:
            if len(words) != 5:
                raise CommandError("expected crypto map NAME ssp ID")
            ssp_id = parse_int(words[4], "ssp id", *SSP_GROUP_RANGE)
            self.ssp_refs.append((cmd.line, ssp_id))
        iface.crypto_map = name
        iface.crypto_map_ssp = ssp_id
        self.map_refs.append((cmd.line, name))

    def standby(self, cmd: _Command) -> None:
        words = cmd.words[1:]
        keys = cmd.keys[1:]
        if not keys:
            raise CommandError("standby option missing")
        if keys[0] == "delay":
            self.standby_delay(words[1:])
            return
        group = 0
        if keys[0][:1].isdigit():
            group = parse_int(words[0], "standby group", *HSRP_GROUP_RANGE)
            words, keys = words[1:], keys[1:]
        if not keys:
            raise CommandError(f"standby {group}: option missing")
        iface = self.iface
        current = iface.groups.get(group) or StandbyGroup(group=group, line=cmd.line)
        option, args = keys[0], words[1:]
        if option == "ip":
            updated = self.standby_ip(current, args)
            iface.enabled_groups.add(group)
        elif option == "priority":
            if not args:
                raise CommandError("priority value missing (1-255)")
            priority = parse_int(args[0], "priority", *HSRP_PRIORITY_RANGE)
            updated = replace(current, priority=priority)
            if args[1:]:
                if args[1].lower() != "preempt":
                    raise CommandError(f"unexpected {shown(args[1])} after priority")
                updated = _standby_preempt(updated, args[2:])
        elif option == "preempt":
            updated = _standby_preempt(current, args)
        elif option == "timers":
            hello_ms, hold_ms = _standby_timers(args)
            updated = replace(current, hello_ms=hello_ms, hold_ms=hold_ms)
        elif option == "track":
            track = _standby_track(args)
            tracks = [t for t in current.tracks if t.interface != track.interface]
            updated = replace(current, tracks=(*tracks, track))
            self.track_refs.append((cmd.line, track.interface))
        elif option == "name":
            if len(args) != 1:
                raise CommandError("standby name takes one word")
            updated = replace(current, name=args[0])
        elif option == "authentication":
            updated = replace(current, authentication=_standby_authentication(args))
        elif option == "delay":
            raise CommandError("standby delay applies to the interface: no group number")
        else:
            raise CommandError(
                f"standby option {shown(words[0])} is not one of ip, priority, preempt, "
                "timers, track, name, authentication, delay"
            )
        iface.groups[group] = updated

    def standby_ip(self, current: StandbyGroup, args: list[str]) -> StandbyGroup:
        if not args:
            return replace(current, virtual_ip=None)
        if len(args) > 1:
            if args[1].lower() == "secondary":
                raise CommandError("secondary virtual addresses are not supported")
            raise CommandError(f"unexpected {shown(' '.join(args[1:]))} after the virtual IP")
        return replace(current, virtual_ip=parse_ipv4(args[0], "virtual ip"))

    def standby_delay(self, args: list[str]) -> None:
        if not args:
            raise CommandError("expected standby delay minimum S [reload S]")
        minimum: int | None = None
        reload: int | None = None
        index = 0
        while index < len(args):
            keyword = args[index].lower()
            if keyword not in ("minimum", "reload") or index + 1 >= len(args):
                raise CommandError(
                    f"unexpected {shown(args[index])}; expected minimum S and/or reload S"
                )
            value = parse_int(args[index + 1], f"standby delay {keyword}", *HSRP_DELAY_RANGE)
            if keyword == "minimum":
                minimum = value
            else:
                reload = value
            index += 2
        self.iface.delay_minimum_s = minimum
        self.iface.delay_reload_s = reload

    # -- ssp group mode -----------------------------------------------------------

    def ssp_mode(self, cmd: _Command) -> None:
        head, args = cmd.keys[0], cmd.words[1:]
        if len(args) != 1:
            raise CommandError(f"{head} takes exactly one value")
        if head == "remote":
            self.ssp.remote = parse_ipv4(args[0], "remote")
            self.ssp.remote_line = cmd.line
        elif head == "redundancy":
            if args[0] in self.ssp.redundancy_names:
                raise CommandError(f"redundancy {args[0]} listed twice")
            self.ssp.redundancy_names.append(args[0])
            self.redundancy_refs.append((cmd.line, args[0]))
        else:
            self.ssp.port = parse_int(args[0], "port", *SSP_PORT_RANGE)

    # -- isakmp policy mode ------------------------------------------------------------

    def isakmp_mode(self, cmd: _Command) -> None:
        head, args = cmd.keys[0], cmd.keys[1:]
        if not args:
            raise CommandError(f"{head} value missing")
        key = self.policy_key
        # A policy whose header was wrong still has its sub-commands checked.
        policy = self.policies[key] if key is not None else IsakmpPolicy(priority=1)
        if head in ("encryption", "encr"):
            encryption = parse_choice(" ".join(args), "encryption", _IKE_ENCRYPTION)
            policy = replace(policy, encryption=encryption)
        elif len(args) != 1:
            raise CommandError(f"{head} takes exactly one value")
        elif head == "hash":
            policy = replace(policy, hash=parse_choice(args[0], "hash", _IKE_HASH))
        elif head == "authentication":
            method = parse_choice(args[0], "authentication", _IKE_AUTHENTICATION)
            policy = replace(policy, authentication=method)
        elif head == "group":
            policy = replace(policy, group=parse_choice(args[0], "group", _IKE_GROUPS))
        else:
            lifetime = parse_int(args[0], "lifetime", *IKE_LIFETIME_RANGE)
            policy = replace(policy, lifetime_s=lifetime)
        if key is not None:
            self.policies[key] = policy

    # -- transform-set mode ---------------------------------------------------------------

    def transform_mode(self, cmd: _Command) -> None:
        if len(cmd.words) != 2:
            raise CommandError("expected mode tunnel|transport")
        mode = parse_choice(cmd.words[1], "mode", _TRANSFORM_MODES)
        if self.transform_key is not None:
            key = self.transform_key
            self.transform_sets[key] = replace(self.transform_sets[key], mode=mode)

    # -- crypto map / dynamic map mode -------------------------------------------------------

    def map_mode(self, cmd: _Command) -> None:
        draft = self.map
        if draft.dynamic_map is not None:
            raise CommandError(
                f"crypto map {draft.name} {draft.seq} stands for dynamic map "
                f"{draft.dynamic_map}; configure this under crypto dynamic-map "
                f"{draft.dynamic_map}"
            )
        keys, words = cmd.keys, cmd.words
        head = keys[0]
        if head == "description":
            text = cmd.rest(1)
            if not text:
                raise CommandError("description text missing")
            draft.description = text
        elif head == "reverse-route":
            if keys[1:] not in ([], ["static"]):
                raise CommandError(f"unexpected {shown(' '.join(words[1:]))} after reverse-route")
            draft.reverse_route = True
        elif head == "match":
            if len(keys) != 3 or keys[1] != "address":
                raise CommandError("expected match address ACCESS-LIST")
            draft.match_address = words[2]
            self.acl_refs.append((cmd.line, words[2]))
        else:
            self.map_set(cmd, draft)

    def map_set(self, cmd: _Command, draft: _MapDraft) -> None:
        keys, words = cmd.keys, cmd.words
        what = keys[1] if len(keys) > 1 else ""
        args = words[2:]
        if what == "peer":
            if len(args) != 1:
                raise CommandError("set peer takes one address")
            peer = _peer_address(args[0])
            if peer in draft.peers:
                raise CommandError(f"peer {peer} listed twice")
            draft.peers.append(peer)
        elif what == "transform-set":
            if not 1 <= len(args) <= MAX_TRANSFORM_SETS_PER_ENTRY:
                raise CommandError(
                    f"set transform-set takes 1-{MAX_TRANSFORM_SETS_PER_ENTRY} names, "
                    f"got {len(args)}"
                )
            if len(set(args)) != len(args):
                raise CommandError("a transform set is listed twice")
            draft.transform_sets = tuple(args)
            self.transform_refs.extend((cmd.line, name) for name in args)
        elif what == "pfs":
            if len(args) > 1:
                raise CommandError("set pfs takes at most one group")
            # "set pfs" alone asks for group1, as in IOS.
            draft.pfs = parse_choice(args[0], "pfs", _PFS_GROUPS) if args else "group1"
        elif what == "security-association":
            if not args or args[0].lower() != "lifetime":
                raise CommandError("expected set security-association lifetime ...")
            kind, value = _lifetime(args[1:])
            if kind == "seconds":
                draft.lifetime_seconds = value
            else:
                draft.lifetime_kilobytes = value
        else:
            raise CommandError(
                f"set {shown(what) if what else ''} is not one of peer, transform-set, pfs, "
                "security-association"
            )

    # -- named ACL mode ---------------------------------------------------------------------

    def acl_mode(self, cmd: _Command) -> None:
        if cmd.keys[0] == "remark":
            self.acl.remarks.append(cmd.rest(1))
        else:
            self.acl.entries.append(parse_acl_entry(cmd.words))

    def ignored_mode(self, cmd: _Command) -> None:
        del cmd

    # -- the end: freeze, cross-check -----------------------------------------------------

    def finish(self) -> RouterConfig:
        interfaces = [draft.freeze() for draft in self.interfaces]
        self.check_interfaces(interfaces)
        ssp_groups = self.freeze_ssp_groups()
        self.check_references(interfaces)
        crypto_maps = self.freeze_crypto_maps()
        dynamic_maps = self.freeze_dynamic_maps()
        if self.diagnostics:
            raise ConfigError(sorted(self.diagnostics, key=lambda d: d.line))
        return RouterConfig(
            hostname=self.hostname,
            interfaces=tuple(interfaces),
            ssp_groups=tuple(ssp_groups),
            isakmp_policies=tuple(self.policies[p] for p in sorted(self.policies)),
            isakmp_keys=tuple(self.keys),
            isakmp_ssp_id=self.isakmp_ssp_id,
            isakmp_keepalive=self.keepalive,
            isakmp_keepalive_line=self.keepalive_line,
            transform_sets=MappingProxyType(dict(self.transform_sets)),
            ipsec_lifetime_seconds=self.lifetime_seconds,
            ipsec_lifetime_kilobytes=self.lifetime_kilobytes,
            crypto_maps=tuple(crypto_maps),
            dynamic_maps=tuple(dynamic_maps),
            crypto_map_ha=MappingProxyType(dict(self.replay)),
            access_lists=MappingProxyType(
                {
                    name: AccessList(
                        name=name, entries=tuple(acl.entries), remarks=tuple(acl.remarks)
                    )
                    for name, acl in self.acls.items()
                }
            ),
            crypto_card=self.card,
            ssp_key=self.ssp_key,
            ssp_key_line=self.ssp_key_line,
            source=self.source,
        )

    def freeze_ssp_groups(self) -> list[SspGroup]:
        groups = []
        for draft in self.ssp_groups:
            if draft.remote is None:
                self.error(
                    draft.line,
                    f"ssp group {draft.group_id} has no remote command; "
                    "the peer router's address is required",
                )
                continue
            groups.append(
                SspGroup(
                    group_id=draft.group_id,
                    remote=draft.remote,
                    redundancy_names=tuple(draft.redundancy_names),
                    port=draft.port,
                    line=draft.line,
                    remote_line=draft.remote_line,
                )
            )
        return groups

    def freeze_crypto_maps(self) -> list[CryptoMapEntry]:
        entries = []
        for key in sorted(self.crypto_maps):
            draft = self.crypto_maps[key]
            if draft.dynamic_map is None:
                # IOS keeps an entry without peer, transform set or ACL disabled
                # ("will remain disabled until a peer and a valid access list have
                # been configured"); a router that forwards with it could not work.
                missing = [
                    what
                    for what, value in (
                        ("set peer", draft.peers),
                        ("set transform-set", draft.transform_sets),
                        ("match address", draft.match_address),
                    )
                    if not value
                ]
                if missing:
                    self.error(
                        draft.line,
                        f"crypto map {draft.name} {draft.seq} is incomplete: no "
                        + ", no ".join(missing),
                    )
            entries.append(draft.freeze_static())
        return entries

    def freeze_dynamic_maps(self) -> list[DynamicMapEntry]:
        entries = []
        for key in sorted(self.dynamic_maps):
            draft = self.dynamic_maps[key]
            # The document: set transform-set "is the only configuration statement
            # required in dynamic crypto map entries".
            if not draft.transform_sets:
                self.error(
                    draft.line,
                    f"crypto dynamic-map {draft.name} {draft.seq} is incomplete: "
                    "no set transform-set",
                )
            entries.append(draft.freeze_dynamic())
        return entries

    def check_interfaces(self, interfaces: list[InterfaceConfig]) -> None:
        vips: dict[IPv4Address, tuple[str, int]] = {}
        names: dict[str, tuple[str, int]] = {}
        for index, interface in enumerate(interfaces):
            draft = self.interfaces[index]
            address = interface.address
            if address is not None:
                for earlier in interfaces[:index]:
                    if earlier.address is not None and earlier.address.network.overlaps(
                        address.network
                    ):
                        self.error(
                            interface.address_line,
                            f"ip address {address} overlaps {earlier.name} ({earlier.address})",
                        )
            for group in interface.standby_groups:
                label = f"standby {group.group}"
                if group.group not in draft.enabled_groups:
                    self.error(
                        group.line,
                        f"{label} has no '{label} ip' command on {interface.name}, "
                        "so the HSRP group is not enabled",
                    )
                    continue
                if address is None:
                    self.error(group.line, f"{label}: {interface.name} has no ip address")
                vip = group.virtual_ip
                if vip is not None:
                    self.check_vip(interface, group, vip, vips)
                if group.name is not None:
                    other = names.get(group.name)
                    if other is not None:
                        self.error(
                            group.line,
                            f"{label} name {group.name} is already used by {other[0]} "
                            f"(line {other[1]}); redundancy names must be unique",
                        )
                    else:
                        names[group.name] = (f"{interface.name} standby {group.group}", group.line)

    def check_vip(
        self,
        interface: InterfaceConfig,
        group: StandbyGroup,
        vip: IPv4Address,
        vips: dict[IPv4Address, tuple[str, int]],
    ) -> None:
        label = f"standby {group.group}"
        address = interface.address
        if address is not None:
            if vip == address.ip:
                self.error(group.line, f"{label} ip {vip} equals the interface address")
            elif vip not in address.network:
                self.error(
                    group.line,
                    f"{label} ip {vip} is outside {interface.name}'s subnet {address.network}",
                )
        other = vips.get(vip)
        if other is not None:
            self.error(group.line, f"{label} ip {vip} already used by {other[0]} (line {other[1]})")
        else:
            vips[vip] = (f"{interface.name} {label}", group.line)

    def check_references(self, interfaces: list[InterfaceConfig]) -> None:
        interface_names = {i.name for i in interfaces}
        for line, name in self.track_refs:
            if name not in interface_names:
                self.error(line, f"tracked interface {name} is not configured")
        for line, name in self.transform_refs:
            if name not in self.transform_sets and ("transform-set", name) not in self.broken_names:
                self.error(line, f"transform-set {name} is not defined")
        for line, name in self.acl_refs:
            if name not in self.acls:
                self.error(line, f"access list {name} is not defined")
        dynamic_names = {name for name, _ in self.dynamic_maps}
        for line, name in self.dynamic_refs:
            if name not in dynamic_names:
                self.error(line, f"dynamic map {name} is not defined (crypto dynamic-map)")
        map_names = {name for name, _ in self.crypto_maps}
        for line, name in self.map_refs:
            if name not in map_names and ("crypto map", name) not in self.broken_names:
                self.error(line, f"crypto map {name} is not defined")
        ssp_ids = {g.group_id for g in self.ssp_groups}
        for line, group_id in self.ssp_refs:
            if group_id not in ssp_ids:
                self.error(line, f"ssp group {group_id} is not defined")
        group_names = {g.name for i in interfaces for g in i.standby_groups if g.name is not None}
        for line, name in self.redundancy_refs:
            if name in group_names:
                continue
            near = sorted(n for n in group_names if n.lower() == name.lower())
            if near:
                self.error(
                    line,
                    f"no HSRP group is named {name}; did you mean {near[0]}? "
                    "(redundancy names are case-sensitive)",
                )
            else:
                known = ", ".join(sorted(group_names)) or "none"
                self.error(
                    line,
                    f"no HSRP group is named {name} (standby N name {name}); group names: {known}",
                )


# ---------------------------------------------------------------------------
# Argument parsers shared by several commands.


def _isakmp_key(args: list[str], line: int) -> IsakmpKey:
    encrypted = False
    if len(args) >= 3 and args[0] in ("0", "6") and args[2].lower() in ("address", "hostname"):
        encrypted = args[0] == "6"
        args = args[1:]
    if len(args) < 3 or args[1].lower() not in ("address", "hostname"):
        raise CommandError("expected crypto isakmp key KEY address A [MASK] | hostname NAME")
    key, kind, rest = args[0], args[1].lower(), args[2:]
    if rest[-1].lower() == "no-xauth":
        rest = rest[:-1]
    if kind == "hostname":
        if len(rest) != 1:
            raise CommandError("hostname takes one name")
        return IsakmpKey(key=key, encrypted=encrypted, hostname=rest[0], line=line)
    if not 1 <= len(rest) <= 2:
        raise CommandError("expected address A [MASK]")
    address = parse_ipv4(rest[0], "peer address")
    mask: IPv4Address | None = None
    if len(rest) == 2:
        parse_netmask(rest[1], "peer mask")
        mask = IPv4Address(rest[1])
    return IsakmpKey(key=key, encrypted=encrypted, address=address, mask=mask, line=line)


def _lifetime(args: list[str]) -> tuple[str, int]:
    if len(args) != 2 or args[0].lower() not in ("seconds", "kilobytes"):
        raise CommandError("expected lifetime seconds N | kilobytes N")
    if args[0].lower() == "seconds":
        return "seconds", parse_int(args[1], "lifetime seconds", *IPSEC_LIFETIME_SECONDS_RANGE)
    return "kilobytes", parse_int(args[1], "lifetime kilobytes", *IPSEC_LIFETIME_KILOBYTES_RANGE)


def _peer_address(text: str) -> IPv4Address:
    if not text[:1].isdigit():
        raise CommandError(
            f"set peer {shown(text)}: peers by host name are not supported; give an IPv4 address"
        )
    return parse_ipv4(text, "peer")


def _interface_address(args: list[str]) -> IPv4Interface:
    if len(args) == 3 and args[2].lower() == "secondary":
        raise CommandError("secondary addresses are not supported")
    if len(args) != 2:
        raise CommandError("expected ip address ADDRESS MASK")
    address = parse_ipv4(args[0], "ip address")
    prefix = parse_netmask(args[1], "mask")
    interface = IPv4Interface(f"{address}/{prefix}")
    network = interface.network
    if prefix <= 30 and address in (network.network_address, network.broadcast_address):
        raise CommandError(f"ip address {address} is not a host address of {network}")
    if prefix == 0:
        raise CommandError("mask 0.0.0.0 is not a valid interface mask")
    return interface


def _standby_preempt(current: StandbyGroup, args: list[str]) -> StandbyGroup:
    updated = replace(current, preempt=True)
    if not args:
        return updated
    if args[0].lower() != "delay":
        raise CommandError(f"unexpected {shown(args[0])} after preempt; expected delay")
    rest = args[1:]
    if not rest:
        raise CommandError("preempt delay: expected minimum S, reload S and/or sync S")
    delays: dict[str, int] = {}
    index = 0
    while index < len(rest):
        word = rest[index].lower()
        if word[:1].isdigit():
            # Older syntax "preempt delay S" means the minimum delay.
            word, value_text = "minimum", rest[index]
            index += 1
        elif word in ("minimum", "reload", "sync") and index + 1 < len(rest):
            value_text = rest[index + 1]
            index += 2
        else:
            raise CommandError(
                f"unexpected {shown(rest[index])}; expected minimum S, reload S or sync S"
            )
        delays[word] = parse_int(value_text, f"preempt delay {word}", *PREEMPT_DELAY_RANGE)
    return replace(
        updated,
        preempt_delay_minimum_s=delays.get("minimum", 0),
        preempt_delay_reload_s=delays.get("reload", 0),
        preempt_delay_sync_s=delays.get("sync", 0),
    )


def _standby_timers(args: list[str]) -> tuple[int, int]:
    """``timers [msec] HELLO [msec] HOLD`` -> (hello_ms, hold_ms).

    Without ``msec`` a value is in seconds: ``timers msec 500 3`` (the document's
    example) is a 500 ms hello and a 3 s hold.
    """
    rest = list(args)
    hello_msec = bool(rest) and rest[0].lower() == "msec"
    if hello_msec:
        rest = rest[1:]
    if not rest:
        raise CommandError("expected timers [msec] HELLO [msec] HOLD")
    hello_text = rest.pop(0)
    hold_msec = bool(rest) and rest[0].lower() == "msec"
    if hold_msec:
        rest = rest[1:]
    if len(rest) != 1:
        raise CommandError("expected timers [msec] HELLO [msec] HOLD")
    hold_text = rest[0]
    if hello_msec:
        hello_ms = parse_int(hello_text, "hello time msec", *HELLO_MSEC_RANGE)
    else:
        hello_ms = parse_int(hello_text, "hello time", *HELLO_SECONDS_RANGE) * 1000
    if hold_msec:
        hold_ms = parse_int(hold_text, "hold time msec", *HOLD_MSEC_RANGE)
    else:
        hold_ms = parse_int(hold_text, "hold time", *HOLD_SECONDS_RANGE) * 1000
    if hold_ms <= hello_ms:
        # RFC 2281 §5.2: the holdtime "MUST be greater than the Hellotime".
        raise CommandError(f"hold time {hold_ms} ms must be greater than hello time {hello_ms} ms")
    return hello_ms, hold_ms


def _standby_track(args: list[str]) -> Track:
    name, rest = take_interface_name(args)
    if rest and rest[0].lower() == "decrement":
        rest = rest[1:]
        if not rest:
            raise CommandError("decrement value missing (1-255)")
    if len(rest) > 1:
        raise CommandError(f"unexpected {shown(' '.join(rest[1:]))} after the decrement")
    if rest:
        return Track(name, parse_int(rest[0], "track decrement", *TRACK_DECREMENT_RANGE))
    return Track(name)


def _standby_authentication(args: list[str]) -> str:
    if args and args[0].lower() == "md5":
        raise CommandError("md5 authentication is not supported; use clear text (8 characters)")
    if args and args[0].lower() == "text":
        args = args[1:]
    if len(args) != 1:
        raise CommandError("expected standby N authentication [text] STRING")
    text = args[0]
    if not text.isascii() or len(text) > HSRP_AUTH_MAX:
        raise CommandError(
            f"authentication {shown(text)} longer than {HSRP_AUTH_MAX} ASCII characters"
        )
    return text


# ---------------------------------------------------------------------------
# Which commands each sub-mode claims; anything else returns to global mode.


def _interface_claims(cmd: _Command) -> bool:
    keys = cmd.keys
    head = keys[0]
    if head in ("description", "shutdown", "standby"):
        return True
    if keys in (["no", "shutdown"], ["no", "ip", "address"]):
        return True
    if keys[:2] == ["ip", "address"]:
        return True
    if keys[:2] == ["crypto", "map"] and len(keys) >= 3:
        # "crypto map NAME" / "crypto map NAME ssp ID" apply a map to the interface;
        # "crypto map NAME SEQ ..." and "crypto map NAME ha ..." are global.
        return len(keys) == 3 or keys[3] == "ssp"
    return _starts_with(keys, IGNORED_INTERFACE_COMMANDS)


def _keywords(*heads: str) -> Callable[[_Command], bool]:
    def claims(cmd: _Command) -> bool:
        return cmd.keys[0] in heads

    return claims


def _ignored_block_claims(cmd: _Command) -> bool:
    if cmd.keys[0] == "no":
        return len(cmd.keys) > 1 and cmd.keys[1] in _IGNORED_BLOCK_COMMANDS
    return cmd.keys[0] in _IGNORED_BLOCK_COMMANDS


_MAP_CLAIMS = _keywords("description", "set", "match", "reverse-route")

_CLAIMS: dict[_Mode, Callable[[_Command], bool]] = {
    _Mode.INTERFACE: _interface_claims,
    _Mode.SSP_GROUP: _keywords("remote", "redundancy", "port"),
    _Mode.ISAKMP_POLICY: _keywords(
        "encryption", "encr", "hash", "authentication", "group", "lifetime"
    ),
    _Mode.TRANSFORM_SET: _keywords("mode"),
    _Mode.CRYPTO_MAP: _MAP_CLAIMS,
    _Mode.DYNAMIC_MAP: _MAP_CLAIMS,
    _Mode.NAMED_ACL: _keywords("permit", "deny", "remark"),
    _Mode.IGNORED_BLOCK: _ignored_block_claims,
}

_SUBMODE_HANDLERS: dict[_Mode, _Handler] = {
    _Mode.INTERFACE: _Parser.interface_mode,
    _Mode.SSP_GROUP: _Parser.ssp_mode,
    _Mode.ISAKMP_POLICY: _Parser.isakmp_mode,
    _Mode.TRANSFORM_SET: _Parser.transform_mode,
    _Mode.CRYPTO_MAP: _Parser.map_mode,
    _Mode.DYNAMIC_MAP: _Parser.map_mode,
    _Mode.NAMED_ACL: _Parser.acl_mode,
    _Mode.IGNORED_BLOCK: _Parser.ignored_mode,
}

_GLOBAL_HANDLERS: dict[str, _Handler] = {
    "hostname": _Parser.hostname_command,
    "interface": _Parser.interface_command,
    "ssp": _Parser.ssp_command,
    "crypto": _Parser.crypto_command,
    "access-list": _Parser.access_list_command,
    "ip": _Parser.ip_command,
    "vpnha": _Parser.vpnha_command,
}


def parse_config(text: str, *, source: str = "<text>") -> RouterConfig:
    """Parse IOS configuration text into a :class:`RouterConfig`.

    Raises :class:`ConfigError` listing every problem of the text (never any other
    exception for bad text).
    """
    parser = _Parser(source)
    for number, line in enumerate(text.splitlines(), start=1):
        parser.feed(number, line)
    return parser.finish()


def load_config(path: str | PathLike[str]) -> RouterConfig:
    """Read and parse a configuration file; unreadable files raise :class:`ConfigError`."""
    source = str(path)
    try:
        # utf-8-sig: a byte-order mark (as some editors write) is not part of a command.
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            [Diagnostic(source=source, line=0, command="", message=f"cannot read file: {exc}")]
        ) from exc
    return parse_config(text, source=source)
