"""The router's typed configuration, as parsed from IOS text.

Every object is a frozen dataclass. Defaults are the document's (or IOS's, where the
document points to IOS) so that an absent command and the command with its default
value give equal objects. ``line`` fields record where a thing was configured, for
messages; they are excluded from equality, so two routers' identical policies
compare equal wherever they sit in their files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface
from types import MappingProxyType
from typing import Literal, NamedTuple

from .acl import AccessList
from .crypto import CryptoCard, TransformMode, TransformSet
from .errors import CommandError, ConfigError, Diagnostic
from .values import canonical_interface_name

IkeEncryption = Literal["des", "3des", "aes", "aes 192", "aes 256"]
IkeHash = Literal["sha", "md5"]
IkeAuthentication = Literal["rsa-sig", "rsa-encr", "pre-share"]
PfsGroup = Literal["group1", "group2", "group5"]

# HSRP defaults (protocols.md §1.3 and §1.12; the document: "the default is 100").
DEFAULT_PRIORITY = 100
DEFAULT_HELLO_MS = 3000
DEFAULT_HOLD_MS = 10000
DEFAULT_TRACK_DECREMENT = 10
DEFAULT_AUTHENTICATION = "cisco"
# The document, "port": "Default tcp-port is 3249".
DEFAULT_SSP_PORT = 3249
DEFAULT_SSP_KEY = "vpnha-ssp"
"""SSP frame key when no ``vpnha ssp-key`` is configured (``vpnha lint`` warns)."""
MAX_SSP_KEY_LENGTH = 64
# The document, "crypto map ha": "The default for inbound is 1000. The default for
# outbound is one (indicating 1,000,000)."
DEFAULT_REPLAY_INBOUND_PACKETS = 1000
DEFAULT_REPLAY_OUTBOUND_MILLIONS = 1
# IOS global IPsec SA lifetimes (the document's show crypto map output: 4608000 kilobytes).
DEFAULT_IPSEC_LIFETIME_SECONDS = 3600
DEFAULT_IPSEC_LIFETIME_KILOBYTES = 4_608_000
# The document, IKE policy table: lifetime default 86,400 s.
DEFAULT_IKE_LIFETIME_SECONDS = 86400


class Track(NamedTuple):
    """``standby N track IFACE [DECREMENT]``: lower the priority while IFACE is down."""

    interface: str
    """Canonical name of the tracked interface, e.g. FastEthernet0/1."""
    decrement: int = DEFAULT_TRACK_DECREMENT
    """Priority decrement 1-255 (default 10)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StandbyGroup:
    """One HSRP group on an interface (``standby N ...`` commands)."""

    group: int
    """HSRP group number 0-255 (``standby ip X`` without a number is group 0)."""
    virtual_ip: IPv4Address | None = None
    """Virtual IP from ``standby N ip X``; None when ``standby N ip`` learns it."""
    name: str | None = None
    """Redundancy name from ``standby N name NAME`` (what ``ssp group`` binds to)."""
    priority: int = DEFAULT_PRIORITY
    """Priority 1-255, default 100; higher wins, equal priorities: higher interface IP."""
    preempt: bool = False
    """``standby N preempt`` configured."""
    preempt_delay_minimum_s: int = 0
    """Preempt delay minimum, seconds 0-3600 (default 0)."""
    preempt_delay_reload_s: int = 0
    """Preempt delay after reload, seconds 0-3600 (default 0)."""
    preempt_delay_sync_s: int = 0
    """Preempt delay sync, seconds 0-3600 (default 0)."""
    hello_ms: int = DEFAULT_HELLO_MS
    """Hello time, ms: 1-254 s or msec 15-999 (default 3000)."""
    hold_ms: int = DEFAULT_HOLD_MS
    """Hold time, ms: 1-255 s or msec 50-3000, always > hello (default 10000)."""
    tracks: tuple[Track, ...] = ()
    """Tracked interfaces with their decrements, in file order."""
    authentication: str = DEFAULT_AUTHENTICATION
    """Clear-text authentication string, at most 8 characters (default "cisco")."""
    line: int = field(default=0, compare=False)
    """Line of the group's first ``standby N`` command (0 = unknown); not compared."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InterfaceConfig:
    """One ``interface`` block."""

    name: str
    """Canonical interface name, e.g. FastEthernet0/0."""
    description: str | None = None
    """``description`` text, or None."""
    address: IPv4Interface | None = None
    """``ip address A MASK`` as address/prefix; None when unnumbered."""
    shutdown: bool = False
    """``shutdown`` configured (administratively down)."""
    standby_groups: tuple[StandbyGroup, ...] = ()
    """HSRP groups in order of first mention."""
    standby_delay_minimum_s: int | None = None
    """``standby delay minimum S``, seconds 0-10000; None when absent."""
    standby_delay_reload_s: int | None = None
    """``standby delay reload S``, seconds 0-10000; None when absent."""
    crypto_map: str | None = None
    """Name of the crypto map set applied with ``crypto map NAME``; None when none."""
    crypto_map_ssp: int | None = None
    """SSP group id 1-100 from ``crypto map NAME ssp ID``; None when IPsec HA is off."""
    line: int = field(default=0, compare=False)
    """Line of the ``interface`` command (0 = unknown); not compared."""
    address_line: int = field(default=0, compare=False)
    """Line of the ``ip address`` command (0 = none / unknown); not compared."""

    def standby_group(self, group: int) -> StandbyGroup | None:
        """The HSRP group with this number on this interface, or None."""
        for candidate in self.standby_groups:
            if candidate.group == group:
                return candidate
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class SspGroup:
    """``ssp group N`` with its ``remote``, ``redundancy`` and ``port`` sub-commands."""

    group_id: int
    """SSP group id 1-100."""
    remote: IPv4Address
    """Address of the peer router (the other router's inside interface address)."""
    redundancy_names: tuple[str, ...] = ()
    """HSRP group names this device role follows, in file order."""
    port: int = DEFAULT_SSP_PORT
    """TCP port 1024-49150 (default 3249)."""
    line: int = field(default=0, compare=False)
    """Line of the ``ssp group`` command (0 = unknown); not compared."""
    remote_line: int = field(default=0, compare=False)
    """Line of the ``remote`` command (0 = unknown); not compared."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IsakmpPolicy:
    """``crypto isakmp policy PRIORITY`` and its sub-commands."""

    priority: int
    """Policy priority 1-10000 (lower numbers are tried first)."""
    encryption: IkeEncryption = "des"
    """des, 3des, aes, aes 192 or aes 256 (default des); ``encr`` is accepted too."""
    hash: IkeHash = "sha"
    """sha or md5 (default sha)."""
    authentication: IkeAuthentication = "rsa-sig"
    """rsa-sig, rsa-encr or pre-share (default rsa-sig)."""
    group: int = 1
    """Diffie-Hellman group 1, 2 or 5 (default 1, 768-bit)."""
    lifetime_s: int = DEFAULT_IKE_LIFETIME_SECONDS
    """IKE SA lifetime, seconds 60-86400 (default 86400)."""
    line: int = field(default=0, compare=False)
    """Line of the ``crypto isakmp policy`` command (0 = unknown); not compared."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IsakmpKey:
    """``crypto isakmp key KEY address A [MASK]`` or ``... hostname H``."""

    key: str
    """Pre-shared key string."""
    encrypted: bool = False
    """The key was given with encryption type 6 (stored encrypted)."""
    address: IPv4Address | None = None
    """Peer address (None for a hostname key)."""
    mask: IPv4Address | None = None
    """Optional peer netmask after the address."""
    hostname: str | None = None
    """Peer host name (None for an address key)."""
    line: int = field(default=0, compare=False)
    """Line of the command (0 = unknown); not compared."""

    @property
    def peer(self) -> str:
        """The peer this key is for, as written (address [mask] or host name)."""
        if self.hostname is not None:
            return self.hostname
        if self.mask is not None:
            return f"{self.address} {self.mask}"
        return str(self.address)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayInterval:
    """``crypto map NAME ha replay-interval inbound N outbound M``."""

    inbound_packets: int = DEFAULT_REPLAY_INBOUND_PACKETS
    """Inbound sequence sync interval, packets 0-10000 (default 1000)."""
    outbound_millions: int = DEFAULT_REPLAY_OUTBOUND_MILLIONS
    """Outbound sequence sync interval, millions of packets 1-10 (default 1)."""
    line: int = field(default=0, compare=False)
    """Line of the command (0 = default / unknown); not compared."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CryptoMapPolicy:
    """What static and dynamic crypto map entries have in common."""

    name: str
    """Map (set) name."""
    seq: int
    """Sequence number 1-65535 within the set."""
    description: str | None = None
    """``description`` text."""
    peers: tuple[IPv4Address, ...] = ()
    """``set peer`` addresses in order (the command repeats)."""
    transform_sets: tuple[str, ...] = ()
    """``set transform-set`` names, 1-6, highest priority first."""
    match_address: str | None = None
    """``match address`` access-list number or name."""
    pfs: PfsGroup | None = None
    """``set pfs`` group (``set pfs`` alone = group1); None = no PFS."""
    lifetime_seconds: int | None = None
    """``set security-association lifetime seconds``, 120-86400; None = global."""
    lifetime_kilobytes: int | None = None
    """``set security-association lifetime kilobytes``, 2560-536870912; None = global."""
    reverse_route: bool = False
    """``reverse-route`` (RRI) configured."""
    line: int = field(default=0, compare=False)
    """Line of the entry's ``crypto map`` / ``crypto dynamic-map`` command; not compared."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CryptoMapEntry(CryptoMapPolicy):
    """``crypto map NAME SEQ ipsec-isakmp [dynamic DYNAMIC-MAP]``."""

    dynamic_map: str | None = None
    """Name of the dynamic map set this entry stands for; None for a static entry."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DynamicMapEntry(CryptoMapPolicy):
    """``crypto dynamic-map NAME SEQ``."""


def _no_transform_sets() -> Mapping[str, TransformSet]:
    return MappingProxyType({})


def _no_replay_intervals() -> Mapping[str, ReplayInterval]:
    return MappingProxyType({})


def _no_access_lists() -> Mapping[str, AccessList]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class RouterConfig:
    """A router's whole configuration.

    Mappings are read-only views; a RouterConfig is compared by value but not
    hashable (its mappings are not).
    """

    hostname: str = "Router"
    """``hostname``; IOS's default is "Router"."""
    interfaces: tuple[InterfaceConfig, ...] = ()
    """Interfaces in file order."""
    ssp_groups: tuple[SspGroup, ...] = ()
    """SSP groups in file order."""
    isakmp_policies: tuple[IsakmpPolicy, ...] = ()
    """IKE policies in priority order (lowest number first)."""
    isakmp_keys: tuple[IsakmpKey, ...] = ()
    """Pre-shared keys in file order."""
    isakmp_ssp_id: int | None = None
    """``crypto isakmp ssp ID`` (1-100); None = IKE state is not replicated."""
    isakmp_keepalive: int | None = None
    """``crypto isakmp keepalive S``, seconds 10-3600; None = not configured."""
    isakmp_keepalive_line: int = field(default=0, compare=False)
    """Line of the ``crypto isakmp keepalive`` command (0 = none); not compared."""
    transform_sets: Mapping[str, TransformSet] = field(default_factory=_no_transform_sets)
    """Transform sets by name."""
    ipsec_lifetime_seconds: int = DEFAULT_IPSEC_LIFETIME_SECONDS
    """Global IPsec SA lifetime, seconds 120-86400 (default 3600)."""
    ipsec_lifetime_kilobytes: int = DEFAULT_IPSEC_LIFETIME_KILOBYTES
    """Global IPsec SA lifetime, kilobytes 2560-536870912 (default 4608000)."""
    crypto_maps: tuple[CryptoMapEntry, ...] = ()
    """Crypto map entries, ordered by map name then sequence number."""
    dynamic_maps: tuple[DynamicMapEntry, ...] = ()
    """Dynamic crypto map entries, ordered by map name then sequence number."""
    crypto_map_ha: Mapping[str, ReplayInterval] = field(default_factory=_no_replay_intervals)
    """``crypto map NAME ha replay-interval ...`` by map name (see replay_interval)."""
    access_lists: Mapping[str, AccessList] = field(default_factory=_no_access_lists)
    """Access lists by number (as text, "100") or name."""
    crypto_card: CryptoCard = field(default_factory=CryptoCard)
    """The crypto engine (vpnha extension command); software when not configured."""
    ssp_key: str | None = field(default=None, repr=False)
    """``vpnha ssp-key TEXT``: the SSP frames' pre-shared key; None = the built-in default."""
    ssp_key_line: int = field(default=0, compare=False)
    """Line of the ``vpnha ssp-key`` command (0 = none); not compared."""
    source: str = field(default="<text>", compare=False)
    """Where the configuration was read from; not compared."""

    def interface(self, name: str) -> InterfaceConfig | None:
        """The interface with this name (any accepted spelling), or None."""
        try:
            wanted = canonical_interface_name(name)
        except CommandError:
            return None
        for interface in self.interfaces:
            if interface.name == wanted:
                return interface
        return None

    def hsrp_interfaces(self) -> tuple[InterfaceConfig, ...]:
        """Interfaces with at least one HSRP group, in file order."""
        return tuple(i for i in self.interfaces if i.standby_groups)

    def outside_interface(self) -> InterfaceConfig | None:
        """The HSRP interface with a crypto map applied (the public side).

        None when no HSRP interface has a crypto map. Raises ConfigError when more
        than one does, because then the public side is ambiguous.
        """
        candidates = [i for i in self.hsrp_interfaces() if i.crypto_map is not None]
        if not candidates:
            return None
        if len(candidates) > 1:
            names = ", ".join(i.name for i in candidates)
            raise self._ambiguous(
                candidates[1], f"several HSRP interfaces have a crypto map ({names})"
            )
        return candidates[0]

    def inside_interface(self) -> InterfaceConfig | None:
        """The HSRP interface other than the outside one (the private side).

        None when there is no outside interface or no other HSRP interface. Raises
        ConfigError when more than one other HSRP interface exists.
        """
        outside = self.outside_interface()
        if outside is None:
            return None
        candidates = [i for i in self.hsrp_interfaces() if i.name != outside.name]
        if not candidates:
            return None
        if len(candidates) > 1:
            names = ", ".join(i.name for i in candidates)
            raise self._ambiguous(
                candidates[1], f"several HSRP interfaces without a crypto map ({names})"
            )
        return candidates[0]

    def _ambiguous(self, interface: InterfaceConfig, why: str) -> ConfigError:
        return ConfigError(
            [
                Diagnostic(
                    source=self.source,
                    line=interface.line,
                    command=f"interface {interface.name}",
                    message=f"cannot tell the inside from the outside interface: {why}",
                )
            ]
        )

    def standby_group_named(self, name: str) -> tuple[InterfaceConfig, StandbyGroup] | None:
        """The interface and HSRP group with ``standby N name NAME`` (exact match)."""
        for interface in self.interfaces:
            for group in interface.standby_groups:
                if group.name == name:
                    return interface, group
        return None

    def ssp_group(self, group_id: int) -> SspGroup | None:
        """The SSP group with this id, or None."""
        for group in self.ssp_groups:
            if group.group_id == group_id:
                return group
        return None

    def crypto_map(self, name: str) -> tuple[CryptoMapEntry, ...]:
        """The entries of one crypto map set, by sequence number (empty if undefined)."""
        return tuple(e for e in self.crypto_maps if e.name == name)

    def dynamic_map(self, name: str) -> tuple[DynamicMapEntry, ...]:
        """The entries of one dynamic map set, by sequence number (empty if undefined)."""
        return tuple(e for e in self.dynamic_maps if e.name == name)

    def replay_interval(self, map_name: str) -> ReplayInterval:
        """The map's HA replay intervals, or the defaults (1000 / 1) when not configured."""
        return self.crypto_map_ha.get(map_name, ReplayInterval())


__all__ = [
    "CryptoMapEntry",
    "CryptoMapPolicy",
    "DynamicMapEntry",
    "IkeAuthentication",
    "IkeEncryption",
    "IkeHash",
    "InterfaceConfig",
    "IsakmpKey",
    "IsakmpPolicy",
    "PfsGroup",
    "ReplayInterval",
    "RouterConfig",
    "SspGroup",
    "StandbyGroup",
    "Track",
    "TransformMode",
]
