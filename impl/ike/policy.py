"""What the configuration allows IKE to agree to, in the numbers of the wire.

Phase 1 (``crypto isakmp policy``): attribute classes of RFC 2409 Appendix A —
1 encryption (1 DES, 5 3DES, 7 AES), 2 hash (1 MD5, 2 SHA), 3 authentication
(1 pre-shared key), 4 group, 11 life type (1 seconds, 2 kilobytes), 12 life
duration, 14 key length (bits).

Phase 2 (crypto map entry, transform sets): ESP transform ids of RFC 2407 §4.4.4 —
2 DES, 3 3DES, 11 NULL, 12 AES-CBC, 20 AES-GCM with a 16-octet ICV (RFC 4106) — and
the IPsec attribute classes of RFC 2407 §4.5: 1 life type, 2 life duration, 3 group
(PFS), 4 encapsulation mode (1 tunnel, 3 UDP-encapsulated tunnel of RFC 3947,
61443 the same in the drafts), 5 authentication (1 HMAC-MD5, 2 HMAC-SHA), 6 key length.

The matching rules are Cisco's, as the document implies: a phase-1 proposal
matches a policy when encryption, hash, authentication and group agree and its
lifetime is no longer than the policy's (the shorter one is then used); a phase-2
proposal matches a transform set when every transform agrees and the PFS group is
the entry's; lifetimes are the shorter of the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Final

from vpnha.impl.config import RouterConfig
from vpnha.impl.config.acl import AddressMatch
from vpnha.impl.config.schema import CryptoMapEntry, IsakmpKey, IsakmpPolicy

from .wire import Attribute, IdPayload, Transform

__all__ = [
    "ATTR_AUTH",
    "ATTR_ENCRYPTION",
    "ATTR_GROUP",
    "ATTR_HASH",
    "ATTR_KEY_LENGTH",
    "ATTR_LIFE_DURATION",
    "ATTR_LIFE_TYPE",
    "ENCAP_TUNNEL",
    "ENCAP_UDP_TUNNEL",
    "ENCAP_UDP_TUNNEL_DRAFT",
    "KEY_IKE",
    "PROTO_ESP",
    "PROTO_ISAKMP",
    "EspChoice",
    "Phase1Choice",
    "acl_proxies",
    "id_for_network",
    "isakmp_key_for",
    "match_phase1",
    "match_phase2",
    "network_of_id",
    "phase1_transform",
    "phase2_transform",
    "pre_shared_key",
    "proxies_allowed",
]

PROTO_ISAKMP: Final = 1
PROTO_ESP: Final = 3
KEY_IKE: Final = 1

ATTR_ENCRYPTION: Final = 1
ATTR_HASH: Final = 2
ATTR_AUTH: Final = 3
ATTR_GROUP: Final = 4
ATTR_LIFE_TYPE: Final = 11
ATTR_LIFE_DURATION: Final = 12
ATTR_KEY_LENGTH: Final = 14

_P2_LIFE_TYPE: Final = 1
_P2_LIFE_DURATION: Final = 2
_P2_GROUP: Final = 3
_P2_ENCAPSULATION: Final = 4
_P2_AUTH: Final = 5
_P2_KEY_LENGTH: Final = 6

ENCAP_TUNNEL: Final = 1
ENCAP_UDP_TUNNEL: Final = 3
ENCAP_UDP_TUNNEL_DRAFT: Final = 61443

_LIFE_SECONDS: Final = 1
_LIFE_KILOBYTES: Final = 2
_AUTH_PSK: Final = 1

_IKE_CIPHER_IDS: Final = {"des": (1, None), "3des": (5, None), "aes": (7, 128)}
_IKE_HASH_IDS: Final = {"md5": 1, "sha": 2}
_ESP_CIPHER_IDS: Final = {"esp-des": 2, "esp-3des": 3, "esp-null": 11, "esp-aes": 12, "esp-gcm": 20}
_ESP_AUTH_IDS: Final = {"esp-md5-hmac": 1, "esp-sha-hmac": 2}
_PFS_GROUPS: Final = {"group1": 1, "group2": 2, "group5": 5}

ID_IPV4_ADDR: Final = 1
ID_IPV4_ADDR_SUBNET: Final = 4
ID_IPV4_ADDR_RANGE: Final = 7


@dataclass(frozen=True, slots=True)
class Phase1Choice:
    """The phase-1 parameters agreed (names as the IOS policy writes them)."""

    encryption: str
    """``des``, ``3des``, ``aes``, ``aes 192``, ``aes 256``."""
    hash: str
    """``sha`` or ``md5``."""
    group: int
    lifetime_s: int
    priority: int
    """The policy that matched."""


@dataclass(frozen=True, slots=True)
class EspChoice:
    """The phase-2 parameters agreed for one SA pair."""

    transforms: tuple[str, ...]
    """The matching transform set's transforms (canonical text)."""
    transform_set: str
    lifetime_s: int
    lifetime_kilobytes: int
    pfs_group: int | None
    encapsulation: int


def _policy_cipher(policy: IsakmpPolicy) -> tuple[int, int | None]:
    name = str(policy.encryption)
    if name.startswith("aes"):
        bits = int(name.split()[1]) if " " in name else 128
        return 7, bits
    return _IKE_CIPHER_IDS[name]


def phase1_transform(policy: IsakmpPolicy, number: int) -> Transform:
    """The transform an initiator proposes for one policy."""
    cipher, bits = _policy_cipher(policy)
    attributes = [
        Attribute(ATTR_ENCRYPTION, cipher),
        Attribute(ATTR_HASH, _IKE_HASH_IDS[str(policy.hash)]),
        Attribute(ATTR_AUTH, _AUTH_PSK),
        Attribute(ATTR_GROUP, policy.group),
        Attribute(ATTR_LIFE_TYPE, _LIFE_SECONDS),
        Attribute(ATTR_LIFE_DURATION, policy.lifetime_s),
    ]
    if bits is not None:
        attributes.append(Attribute(ATTR_KEY_LENGTH, bits))
    return Transform(number=number, transform_id=KEY_IKE, attributes=tuple(attributes))


def _lifetimes(transform: Transform, type_class: int, duration_class: int) -> dict[int, int]:
    """Life type → duration pairs in the order the attributes give them."""
    out: dict[int, int] = {}
    pending: int | None = None
    for attribute in transform.attributes:
        if attribute.type == type_class:
            pending = attribute.number
        elif attribute.type == duration_class and pending is not None:
            out[pending] = attribute.number
            pending = None
    return out


def match_phase1(transform: Transform, policies: tuple[IsakmpPolicy, ...]) -> Phase1Choice | None:
    """The first policy (by priority) this proposed transform satisfies, or None."""
    if transform.transform_id != KEY_IKE:
        return None
    life = _lifetimes(transform, ATTR_LIFE_TYPE, ATTR_LIFE_DURATION)
    for policy in sorted(policies, key=lambda p: p.priority):
        if policy.authentication != "pre-share":
            continue
        cipher, bits = _policy_cipher(policy)
        if transform.attribute(ATTR_ENCRYPTION) != cipher:
            continue
        if bits is not None and transform.attribute(ATTR_KEY_LENGTH) != bits:
            continue
        if transform.attribute(ATTR_HASH) != _IKE_HASH_IDS[str(policy.hash)]:
            continue
        if transform.attribute(ATTR_AUTH) != _AUTH_PSK:
            continue
        if transform.attribute(ATTR_GROUP) != policy.group:
            continue
        seconds = life.get(_LIFE_SECONDS, policy.lifetime_s)
        if seconds > policy.lifetime_s or seconds == 0:
            continue
        return Phase1Choice(
            str(policy.encryption), str(policy.hash), policy.group, seconds, policy.priority
        )
    return None


def _esp_attributes(
    config: RouterConfig, entry: CryptoMapEntry, name: str
) -> tuple[int, list[Attribute]] | None:
    transform_set = config.transform_sets.get(name)
    if (
        transform_set is None
        or transform_set.ah is not None
        or transform_set.esp_encryption is None
    ):
        return None
    cipher = _ESP_CIPHER_IDS.get(transform_set.esp_encryption)
    if cipher is None:
        return None
    attributes = [
        Attribute(_P2_LIFE_TYPE, _LIFE_SECONDS),
        Attribute(_P2_LIFE_DURATION, entry.lifetime_seconds or config.ipsec_lifetime_seconds),
        Attribute(_P2_LIFE_TYPE, _LIFE_KILOBYTES),
        Attribute(_P2_LIFE_DURATION, entry.lifetime_kilobytes or config.ipsec_lifetime_kilobytes),
    ]
    if entry.pfs is not None:
        attributes.append(Attribute(_P2_GROUP, _PFS_GROUPS[entry.pfs]))
    authentication = next((t for t in transform_set.transforms if t in _ESP_AUTH_IDS), None)
    if authentication is not None:
        attributes.append(Attribute(_P2_AUTH, _ESP_AUTH_IDS[authentication]))
    if transform_set.esp_key_bits is not None:
        attributes.append(Attribute(_P2_KEY_LENGTH, transform_set.esp_key_bits))
    elif transform_set.esp_encryption in ("esp-aes", "esp-gcm"):
        attributes.append(Attribute(_P2_KEY_LENGTH, 128))
    return cipher, attributes


def phase2_transform(
    config: RouterConfig, entry: CryptoMapEntry, name: str, number: int, encapsulation: int
) -> Transform | None:
    """The ESP transform an initiator proposes for one transform set (None: not ESP-only)."""
    made = _esp_attributes(config, entry, name)
    if made is None:
        return None
    cipher, attributes = made
    attributes.insert(4, Attribute(_P2_ENCAPSULATION, encapsulation))
    return Transform(number=number, transform_id=cipher, attributes=tuple(attributes))


def match_phase2(
    config: RouterConfig, entry: CryptoMapEntry, transform: Transform
) -> EspChoice | None:
    """The first transform set of the entry this proposed ESP transform matches, or None."""
    encapsulation = transform.attribute(_P2_ENCAPSULATION) or ENCAP_TUNNEL
    if encapsulation not in (ENCAP_TUNNEL, ENCAP_UDP_TUNNEL, ENCAP_UDP_TUNNEL_DRAFT):
        return None
    wanted_pfs = _PFS_GROUPS[entry.pfs] if entry.pfs is not None else None
    if transform.attribute(_P2_GROUP) != wanted_pfs:
        return None
    life = _lifetimes(transform, _P2_LIFE_TYPE, _P2_LIFE_DURATION)
    our_seconds = entry.lifetime_seconds or config.ipsec_lifetime_seconds
    our_kilobytes = entry.lifetime_kilobytes or config.ipsec_lifetime_kilobytes
    for name in entry.transform_sets:
        made = _esp_attributes(config, entry, name)
        if made is None:
            continue
        cipher, attributes = made
        if transform.transform_id != cipher:
            continue
        wanted = {a.type: a.number for a in attributes}
        if transform.attribute(_P2_AUTH) != wanted.get(_P2_AUTH):
            continue
        if transform.attribute(_P2_KEY_LENGTH) != wanted.get(_P2_KEY_LENGTH):
            continue
        return EspChoice(
            transforms=config.transform_sets[name].transforms,
            transform_set=name,
            lifetime_s=min(our_seconds, life.get(_LIFE_SECONDS, our_seconds) or our_seconds),
            lifetime_kilobytes=min(
                our_kilobytes, life.get(_LIFE_KILOBYTES, our_kilobytes) or our_kilobytes
            ),
            pfs_group=wanted_pfs,
            encapsulation=encapsulation,
        )
    return None


def isakmp_key_for(config: RouterConfig, peer: IPv4Address) -> IsakmpKey | None:
    """The ``crypto isakmp key`` line for this peer address (the most specific mask wins)."""
    best: tuple[int, IsakmpKey] | None = None
    for key in config.isakmp_keys:
        if key.address is None:
            continue
        mask = int(key.mask) if key.mask is not None else 0xFFFF_FFFF
        if int(peer) & mask != int(key.address) & mask:
            continue
        specificity = bin(mask).count("1")
        if best is None or specificity > best[0]:
            best = (specificity, key)
    return best[1] if best is not None else None


def pre_shared_key(config: RouterConfig, peer: IPv4Address) -> bytes | None:
    """The pre-shared key for this peer; None without one, or when it is stored encrypted
    (type 6: the router's master key, which this implementation does not have)."""
    key = isakmp_key_for(config, peer)
    return key.key.encode() if key is not None and not key.encrypted else None


def network_of_id(payload: IdPayload) -> IPv4Network | None:
    """The network a phase-2 identity names (address, subnet or a range that is a subnet)."""
    data = payload.data
    try:
        if payload.id_type == ID_IPV4_ADDR and len(data) == 4:
            return IPv4Network(IPv4Address(data))
        if payload.id_type == ID_IPV4_ADDR_SUBNET and len(data) == 8:
            return IPv4Network(f"{IPv4Address(data[:4])}/{IPv4Address(data[4:])}")
        if payload.id_type == ID_IPV4_ADDR_RANGE and len(data) == 8:
            first, last = int.from_bytes(data[:4], "big"), int.from_bytes(data[4:], "big")
            size = last - first + 1
            if size > 0 and size & (size - 1) == 0 and first % size == 0:
                return IPv4Network(f"{IPv4Address(first)}/{32 - size.bit_length() + 1}")
    except ValueError:
        return None
    return None


def id_for_network(network: IPv4Network) -> IdPayload:
    """The phase-2 identity for a network (a host as an address, else a subnet)."""
    if network.prefixlen == 32:
        return IdPayload(id_type=ID_IPV4_ADDR, data=network.network_address.packed)
    return IdPayload(
        id_type=ID_IPV4_ADDR_SUBNET,
        data=network.network_address.packed + network.netmask.packed,
    )


def proxies_allowed(
    config: RouterConfig, entry: CryptoMapEntry, local: IPv4Network, remote: IPv4Network
) -> bool:
    """Whether a ``permit`` line of the entry's ACL covers local → remote entirely."""
    acl = config.access_lists.get(entry.match_address or "")
    if acl is None:
        return False
    for line in acl.entries:
        if line.action != "permit" or line.protocol is not None:
            continue
        source, destination = _acl_network(line.source), _acl_network(line.destination)
        if source is None or destination is None:
            continue
        if local.subnet_of(source) and remote.subnet_of(destination):
            return True
    return False


def acl_proxies(
    config: RouterConfig, entry: CryptoMapEntry
) -> tuple[IPv4Network, IPv4Network] | None:
    """The first ``permit ip`` line of the entry's ACL as (local, remote) networks."""
    acl = config.access_lists.get(entry.match_address or "")
    for line in acl.entries if acl is not None else ():
        if line.action == "permit" and line.protocol is None:
            source, destination = _acl_network(line.source), _acl_network(line.destination)
            if source is not None and destination is not None:
                return source, destination
    return None


def _acl_network(match: AddressMatch) -> IPv4Network | None:
    """An ACL address as a network; None when its wildcard is not contiguous low bits."""
    wildcard = int(match.wildcard)
    if wildcard & (wildcard + 1):
        return None
    prefix = 32 - wildcard.bit_length()
    return IPv4Network((int(match.address) & ~wildcard & 0xFFFF_FFFF, prefix))
