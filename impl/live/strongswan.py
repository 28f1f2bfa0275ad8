"""strongSwan as the real remote IPsec peer: configuration, process, status and log.

Theory of operation
-------------------
Until our own IKEv1 exists, and afterwards as the independent party it must agree
with, an unmodified strongSwan 5.9 (``charon`` with ``kernel-libipsec``) plays the
remote IPsec peer of the router pair. This module has four parts.

**Configuration (pure).** :func:`remote_peer_spec` reads the routers'
:class:`~vpnha.impl.config.RouterConfig` and describes the peer as an
:class:`IpsecPeerSpec`: the crypto map entry's ``set peer`` address, talking IKEv1
Main Mode with the pre-shared key of ``crypto isakmp key ... address PEER`` to the
outside virtual IP (the HSRP group IP of the interface carrying the crypto map),
proposing every ``pre-share`` ISAKMP policy in priority order and every transform
set of the entry (with the ``set pfs`` group), with the configured lifetimes.
:func:`router_role_spec` mirrors it (responder, addresses and selectors swapped):
the configuration a second strongSwan needs to stand in for our routers.
:func:`swanctl_conf` and :func:`strongswan_conf` turn a spec and a few daemon
settings into file text. Nothing here touches the system.

**Process.** :class:`StrongSwanPeer` runs one charon inside a network namespace
with a private ``/run`` (charon's pid file is fixed at ``/var/run/charon.pid``, so
two instances on one host need two mount namespaces: ``unshare --mount`` and a bind
mount of the instance's own folder on ``/run``), waits for its vici socket, loads
the swanctl file and drives it with ``swanctl`` (initiate, terminate, rekey,
list). It is a context manager: leaving it stops charon (SIGTERM; SIGKILL if it
does not exit in time), on error too. A charon shutting down sends its DELETEs but
may lose the last ones with its sender thread; ``terminate_ike`` first when the
other side must hear them.

**Status.** :func:`parse_list_sas` reads ``swanctl --list-sas --pretty``.

**Log.** :func:`parse_charon_log` counts, in charon's file log, what issue 7
watches: IKE and CHILD SAs established, CHILD SAs rekeyed, DELETEs sent and
received (IKE SA and ESP CHILD SA separately), re-authentications, DPD requests
and acknowledgements both ways, DPD timeouts, retransmission give-ups, and ESP
replay failures; with the keys logged it also extracts every CHILD SA's keys. It
keeps charon's IKE SA numbers (the ``[N]``) of establishments, re-authentications and
IKE SA DELETEs, so that a caller can tell which IKE SA each concerned, and the SPIs of
CHILD SA DELETEs and closings and of the CHILD SAs charon established as Quick Mode
responder (the routers' own rekeys).

Log levels (``filelog`` in :func:`strongswan_conf`)
---------------------------------------------------
``default = 1`` for every group, plus ``chd = 2`` (``chd = 4`` with ``log_keys``).
What each counted line needs, as observed with charon 5.9.8 (Debian 12):

- level 1, ``IKE``: ``IKE_SA N[1] established between …``, ``CHILD_SA N{1}
  established with SPIs …``, ``sending|received DELETE for IKE_SA …``,
  ``sending|received DELETE for ESP CHILD_SA with SPI …``, ``reauthenticating
  IKE_SA …`` (initiator), ``detected reauth of existing IKE_SA …`` (responder),
  ``sending DPD request``, ``sending retransmit N of request …``, ``giving up
  after N retransmits``, ``ADDR is initiating a Main Mode IKE_SA`` (responder),
  ``detected rekeying of CHILD_SA …`` (a Quick Mode of the other side replaces one),
  ``received Ns lifetime, configured Ms`` (a Quick Mode's lifetime not ours),
  ``closing [expired ]CHILD_SA N{1} with SPIs X_i …``, ``CHILD_SA not found, ignored``
  (a DELETE for an SPI this IKE SA does not hold);
- level 1, ``ENC``: the message summaries ``generating|parsed INFORMATIONAL_V1
  request ID [ HASH N(DPD) ]`` and ``… N(DPD_ACK) ]`` (IKEv1 sends both R-U-THERE
  and R-U-THERE-ACK as informational "requests");
- level 1, ``JOB``: ``DPD check timed out, enforcing DPD action`` (IKEv1 DPD
  messages are not retransmitted; the peer is declared dead when nothing arrived
  for ``dpd_timeout``);
- level 1, ``ESP`` (libipsec): ``ESP sequence number verification failed:`` with
  ``  src A, dst B, SPI XXXXXXXX [seq N]`` on the next line of the same thread;
- level 2, ``CHD``: ``CHILD_SA N{1} state change: REKEYING => REKEYED`` (both
  sides of a Quick Mode rekey);
- level 4, ``CHD``: hex dumps ``encryption|integrity initiator|responder key =>
  N bytes @ 0x…`` followed by ``  0: 08 3F …`` lines, then ``adding
  inbound|outbound ESP SA`` and ``  SPI 0x…, src A dst B``. "Initiator" keys
  protect the Quick Mode initiator's outbound direction; whether this charon was
  the initiator is told by the last ``parsed QUICK_MODE response|request`` of the
  same worker thread (the initiator derives keys on the response, the responder
  on the third message, a "request").

``ESP = 2``/``NET = 2`` would log every packet and are not used.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from vpnha.impl.config import AddressMatch, RouterConfig, TransformSet
from vpnha.impl.config.schema import CryptoMapEntry, IsakmpKey
from vpnha.impl.ike.policy import isakmp_key_for

__all__ = [
    "CHARON",
    "DEFAULT_DPD_DELAY_S",
    "PLUGINS",
    "REKEY_PERCENT",
    "CharonLog",
    "ChildSaKeys",
    "ChildSaStatus",
    "ChildSpec",
    "IkeSaStatus",
    "IpsecPeerSpec",
    "PeerConfigError",
    "ReplayFailure",
    "StrongSwanError",
    "StrongSwanPeer",
    "charon_missing",
    "esp_proposal",
    "ike_proposal",
    "parse_charon_log",
    "parse_list_sas",
    "remote_peer_spec",
    "router_role_spec",
    "strongswan_conf",
    "swanctl_conf",
]

CHARON: Final = "/usr/lib/ipsec/charon"
"""Debian's charon binary (package strongswan-charon)."""
DEFAULT_DPD_DELAY_S: Final = 10
"""DPD interval when neither the caller nor ``crypto isakmp keepalive`` gives one."""
REKEY_PERCENT: Final = 90
"""strongSwan renews an SA at this share of its configured lifetime (no randomness)."""
PLUGINS: Final = (
    "random nonce openssl aes sha1 sha2 md5 hmac kdf gmp "
    "kernel-libipsec kernel-netlink socket-default vici"
)
"""charon's plugins: ``kdf`` is required by 5.9 for any PRF; 3DES and DES come from
``openssl`` (its legacy provider); ``kernel-libipsec`` does ESP in user space (the
kernel here has no ESP), always in UDP 4500."""

_IKE_ENCRYPTION: Final = {
    "des": "des",
    "3des": "3des",
    "aes": "aes128",
    "aes 192": "aes192",
    "aes 256": "aes256",
}
_IKE_HASH: Final = {"sha": "sha1", "md5": "md5"}
_DH_GROUP: Final = {1: "modp768", 2: "modp1024", 5: "modp1536"}
_PFS_GROUP: Final = {"group1": 1, "group2": 2, "group5": 5}
_ESP_INTEGRITY: Final = {"esp-sha-hmac": "sha1", "esp-md5-hmac": "md5"}
_NAME_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_.-]")


class PeerConfigError(ValueError):
    """The routers' configuration cannot be expressed as a strongSwan peer (says why)."""


class StrongSwanError(RuntimeError):
    """charon or swanctl failed (the command, its output and the log's tail)."""


# ---------------------------------------------------------------------------
# Configuration (pure)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildSpec:
    """One CHILD SA (IKEv1 Quick Mode) of a connection: one pair of selectors."""

    name: str
    """swanctl child name (also what ``--child`` takes)."""
    local_ts: IPv4Network
    """Traffic this side protects (its own LAN)."""
    remote_ts: IPv4Network
    """Traffic behind the other side."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IpsecPeerSpec:
    """One side of an IKEv1 PSK tunnel, in strongSwan's terms."""

    connection: str
    """swanctl connection name."""
    local_address: IPv4Address
    """This side's IKE (and ESP-in-UDP) address."""
    remote_address: IPv4Address
    """The other side's IKE address."""
    psk: str = field(repr=False)
    """Pre-shared key."""
    ike_proposals: tuple[str, ...]
    """IKE proposals, most preferred first (``3des-sha1-modp1024``)."""
    esp_proposals: tuple[str, ...]
    """ESP proposals, most preferred first (``3des-sha1``, PFS group appended)."""
    children: tuple[ChildSpec, ...]
    """CHILD SAs, one per selector pair."""
    ike_lifetime_s: int
    """IKE SA lifetime, seconds (what Main Mode proposes on the wire)."""
    child_lifetime_s: int
    """CHILD SA lifetime, seconds (what Quick Mode proposes on the wire)."""
    child_lifetime_kb: int
    """CHILD SA lifetime, kilobytes (0 = none)."""
    dpd_delay_s: int
    """Seconds of silence before a DPD R-U-THERE; 0 = this side starts no DPD."""
    dpd_timeout_s: int
    """Seconds without an answer after which the peer is dead (IKEv1 only)."""
    initiator: bool
    """True: this side initiates (swanctl ``--initiate``); False: responder only."""
    ike_reauth: bool = True
    """True: this side re-authenticates its IKE SA at 90 % of ``ike_lifetime_s``. False:
    it never renews or ends an IKE SA itself (only the other side's DELETE does), yet
    still proposes ``ike_lifetime_s`` (see :func:`swanctl_conf`)."""


def ike_proposal(encryption: str, hash_name: str, group: int) -> str:
    """strongSwan's name of an IOS ISAKMP policy: ``3des``/``sha``/2 -> ``3des-sha1-modp1024``."""
    try:
        return f"{_IKE_ENCRYPTION[encryption]}-{_IKE_HASH[hash_name]}-{_DH_GROUP[group]}"
    except KeyError as error:
        msg = (
            f"ISAKMP policy {encryption}/{hash_name}/group {group}: no strongSwan name for {error}"
        )
        raise PeerConfigError(msg) from None


def esp_proposal(transform_set: TransformSet, pfs: str | None = None) -> str:
    """strongSwan's name of an IOS transform set, PFS group appended.

    ``esp-3des esp-sha-hmac`` -> ``3des-sha1``; ``esp-aes 256 esp-md5-hmac`` with
    ``set pfs group5`` -> ``aes256-md5-modp1536``; ``esp-gcm 128`` (vpnha
    extension) -> ``aes128gcm16``. AH, compression, transport mode and ESP without
    integrity (other than GCM) are refused: kernel-libipsec does tunnel-mode ESP only
    and installs no SA without an integrity algorithm.
    """
    name = transform_set.name
    if transform_set.ah is not None or transform_set.compression is not None:
        msg = f"transform-set {name}: kernel-libipsec does ESP only (no AH, no comp-lzs)"
        raise PeerConfigError(msg)
    if transform_set.mode != "tunnel":
        msg = f"transform-set {name}: kernel-libipsec does tunnel mode only"
        raise PeerConfigError(msg)
    cipher = transform_set.esp_encryption
    bits = transform_set.esp_key_bits or 128
    parts: list[str]
    if cipher == "esp-3des":
        parts = ["3des"]
    elif cipher == "esp-des":
        parts = ["des"]
    elif cipher == "esp-aes":
        parts = [f"aes{bits}"]
    elif cipher == "esp-gcm":
        parts = [f"aes{bits}gcm16"]
    elif cipher == "esp-null":
        parts = ["null"]
    else:
        msg = f"transform-set {name}: no ESP encryption transform"
        raise PeerConfigError(msg)
    if transform_set.esp_authentication is not None:
        parts.append(_ESP_INTEGRITY[transform_set.esp_authentication])
    elif cipher != "esp-gcm":
        # libipsec: "failed to create ESP context: unsupported integrity algorithm".
        msg = f"transform-set {name}: kernel-libipsec needs an ESP authentication transform"
        raise PeerConfigError(msg)
    if pfs is not None:
        parts.append(_DH_GROUP[_PFS_GROUP[pfs]])
    return "-".join(parts)


def _network(match: AddressMatch, what: str) -> IPv4Network:
    mask = int(match.wildcard) ^ 0xFFFFFFFF
    prefix = bin(mask).count("1")
    if int(IPv4Network((0, prefix)).netmask) != mask:
        msg = f"{what} {match} is not a contiguous network"
        raise PeerConfigError(msg)
    return IPv4Network((int(match.address) & mask, prefix))


def _entry_for(config: RouterConfig, peer: IPv4Address | None) -> CryptoMapEntry:
    outside = config.outside_interface()
    if outside is None or outside.crypto_map is None:
        msg = f"{config.source}: no HSRP interface carries a crypto map"
        raise PeerConfigError(msg)
    for entry in config.crypto_map(outside.crypto_map):
        if entry.dynamic_map is None and entry.peers and (peer is None or peer in entry.peers):
            return entry
    wanted = f"with set peer {peer}" if peer else "with a set peer"
    msg = f"{config.source}: crypto map {outside.crypto_map} has no static entry {wanted}"
    raise PeerConfigError(msg)


def _psk_for(config: RouterConfig, peer: IPv4Address) -> IsakmpKey:
    """The key the routers use for ``peer`` (the routers' own choice: most specific)."""
    key = isakmp_key_for(config, peer)
    if key is None:
        msg = f"{config.source}: no crypto isakmp key ... address {peer}"
        raise PeerConfigError(msg)
    if key.encrypted:
        msg = f"crypto isakmp key for {key.peer} is stored encrypted (type 6)"
        raise PeerConfigError(msg)
    return key


def _safe_name(text: str) -> str:
    return _NAME_UNSAFE.sub("_", text)


def remote_peer_spec(
    config: RouterConfig,
    *,
    peer: IPv4Address | None = None,
    dpd_delay_s: int | None = None,
    dpd_timeout_s: int | None = None,
) -> IpsecPeerSpec:
    """The remote peer of ``config``'s crypto map entry for ``peer`` (default: the first).

    - Addresses: local = the entry's ``set peer`` address; remote = the outside
      virtual IP (the first HSRP group IP on the interface carrying the crypto map).
    - IKE: every ``authentication pre-share`` ISAKMP policy, in priority order; the
      IKE lifetime is the smallest of theirs, so that every proposal is acceptable
      to a responder that requires the initiator's lifetime to be no longer than its
      own policy's.
    - ESP: one proposal per ``set transform-set``, in order, with the ``set pfs``
      group; lifetimes from ``set security-association lifetime`` or the global
      ones.
    - Selectors, one CHILD SA per ``permit`` entry of the ``match address`` list:
      the peer's local selector is the entry's destination (the remote LAN); its
      remote selector is the entry's source, except that a source of ``any`` becomes
      the routers' inside LAN (the inside interface's network). IKEv1 cannot narrow
      selectors, so the initiator must propose a pair the routers accept as is; a
      subset of the crypto ACL's mirror is acceptable to an IOS-style responder,
      while 0.0.0.0/0 on the peer would also route the peer's own IKE and ESP-in-UDP
      packets to the routers' outside address into the tunnel (kernel-libipsec
      installs the selector as a route). The inside LAN is the traffic the
      document's design carries.
    - DPD: every ``dpd_delay_s`` idle seconds (default: ``crypto isakmp keepalive``,
      else 10), dead after ``dpd_timeout_s`` (default three intervals), action clear.
    """
    entry = _entry_for(config, peer)
    peer_address = peer or entry.peers[0]
    outside = config.outside_interface()
    assert outside is not None  # _entry_for found the crypto map on it
    vips = [g.virtual_ip for g in outside.standby_groups if g.virtual_ip is not None]
    if not vips:
        msg = f"{config.source}: interface {outside.name} has no standby IP (outside VIP)"
        raise PeerConfigError(msg)
    key = _psk_for(config, peer_address)
    policies = [p for p in config.isakmp_policies if p.authentication == "pre-share"]
    if not policies:
        msg = f"{config.source}: no crypto isakmp policy with authentication pre-share"
        raise PeerConfigError(msg)
    ike = tuple(dict.fromkeys(ike_proposal(p.encryption, p.hash, p.group) for p in policies))
    esp: list[str] = []
    for set_name in entry.transform_sets:
        transform_set = config.transform_sets.get(set_name)
        if transform_set is None:
            msg = (
                f"{config.source}: crypto map {entry.name} {entry.seq}: no transform-set {set_name}"
            )
            raise PeerConfigError(msg)
        esp.append(esp_proposal(transform_set, entry.pfs))
    if not esp:
        msg = f"{config.source}: crypto map {entry.name} {entry.seq} has no set transform-set"
        raise PeerConfigError(msg)
    connection = _safe_name(f"{entry.name}-{entry.seq}")
    children = _children(config, entry, connection)
    delay = dpd_delay_s if dpd_delay_s is not None else config.isakmp_keepalive
    delay = DEFAULT_DPD_DELAY_S if delay is None else delay
    return IpsecPeerSpec(
        connection=connection,
        local_address=peer_address,
        remote_address=vips[0],
        psk=key.key,
        ike_proposals=ike,
        esp_proposals=tuple(dict.fromkeys(esp)),
        children=children,
        ike_lifetime_s=min(p.lifetime_s for p in policies),
        child_lifetime_s=entry.lifetime_seconds or config.ipsec_lifetime_seconds,
        child_lifetime_kb=entry.lifetime_kilobytes or config.ipsec_lifetime_kilobytes,
        dpd_delay_s=delay,
        dpd_timeout_s=dpd_timeout_s if dpd_timeout_s is not None else 3 * delay,
        initiator=True,
    )


def _children(
    config: RouterConfig, entry: CryptoMapEntry, connection: str
) -> tuple[ChildSpec, ...]:
    where = f"{config.source}: crypto map {entry.name} {entry.seq}"
    if entry.match_address is None:
        msg = f"{where} has no match address"
        raise PeerConfigError(msg)
    acl = config.access_lists.get(entry.match_address)
    if acl is None:
        msg = f"{where}: access-list {entry.match_address} is not defined"
        raise PeerConfigError(msg)
    inside = config.inside_interface()
    inside_lan = inside.address.network if inside and inside.address else None
    children: list[ChildSpec] = []
    for entry_line in acl.entries:
        if entry_line.action != "permit":
            msg = f"{where}: access-list {acl.name} has a deny entry; selectors cannot say it"
            raise PeerConfigError(msg)
        if entry_line.protocol is not None or entry_line.source_port or entry_line.destination_port:
            msg = f"{where}: access-list {acl.name} entries must be 'permit ip' (no protocol/ports)"
            raise PeerConfigError(msg)
        remote_lan = _network(entry_line.destination, "destination")
        if int(entry_line.source.wildcard) == 0xFFFFFFFF:
            if inside_lan is None:
                msg = f"{where}: source any needs the inside interface's network"
                raise PeerConfigError(msg)
            routers_lan = inside_lan
        else:
            routers_lan = _network(entry_line.source, "source")
        name = connection if not children else f"{connection}-{len(children) + 1}"
        children.append(ChildSpec(name=name, local_ts=remote_lan, remote_ts=routers_lan))
    if not children:
        msg = f"{where}: access-list {acl.name} has no permit entry"
        raise PeerConfigError(msg)
    return tuple(children)


def router_role_spec(spec: IpsecPeerSpec, *, dpd_delay_s: int = 0) -> IpsecPeerSpec:
    """The mirror of a peer spec: the routers' side, responder only.

    Addresses and selectors are swapped; proposals, key and lifetimes are the same.
    ``dpd_delay_s`` is the routers' own DPD (``crypto isakmp keepalive``); 0 = the
    routers only answer the peer's R-U-THERE.
    """
    return IpsecPeerSpec(
        connection=spec.connection,
        local_address=spec.remote_address,
        remote_address=spec.local_address,
        psk=spec.psk,
        ike_proposals=spec.ike_proposals,
        esp_proposals=spec.esp_proposals,
        children=tuple(
            ChildSpec(name=c.name, local_ts=c.remote_ts, remote_ts=c.local_ts)
            for c in spec.children
        ),
        ike_lifetime_s=spec.ike_lifetime_s,
        child_lifetime_s=spec.child_lifetime_s,
        child_lifetime_kb=spec.child_lifetime_kb,
        dpd_delay_s=dpd_delay_s,
        dpd_timeout_s=3 * dpd_delay_s,
        initiator=False,
    )


def _renew(lifetime: int) -> tuple[int, int]:
    """(renew at, margin) with renew + margin == lifetime."""
    renew = lifetime * REKEY_PERCENT // 100
    return renew, lifetime - renew


def swanctl_conf(spec: IpsecPeerSpec) -> str:
    """swanctl.conf text for one side: IKEv1 Main Mode, PSK, UDP encapsulation, DPD.

    Lifetimes: strongSwan proposes ``reauth_time + over_time`` as the IKE SA's
    lifetime and ``life_time`` and ``life_bytes / 1000`` as the CHILD SA's seconds and
    kilobytes, so those come to the configured values; renewal starts at 90 % of
    them, with no randomness (``rand_time = 0``) so that runs repeat. IKEv1 cannot
    rekey an IKE SA, only re-authenticate it, hence ``reauth_time`` and
    ``rekey_time = 0``. Without ``ike_reauth`` both are 0 and ``over_time`` is the
    lifetime. charon 5.9.8 times its SAs by these settings only: a lifetime the other
    side answers or proposes differently is logged ("received 120s lifetime, configured
    86400s"; "received lifetime 60s does not match configured lifetime ...") and
    otherwise ignored (child_sa.c install takes the CHILD SA's rekey and expiry times
    from the configuration).
    """
    ike_renew, ike_margin = _renew(spec.ike_lifetime_s)
    if not spec.ike_reauth:
        # IKEv1 Main Mode proposes reauth_time (else rekey_time) plus over_time; with
        # both 0 charon schedules neither a renewal nor the IKE SA's end (5.9.8
        # main_mode.c build_i, ike_sa.c set_state), so over_time alone is the proposal.
        ike_renew, ike_margin = 0, spec.ike_lifetime_s
    child_renew, _ = _renew(spec.child_lifetime_s)
    # charon divides life_bytes by 1000 for Quick Mode's kilobytes attribute (observed:
    # 4718592000 went out as 4718592), so this puts the configured figure on the wire.
    life_bytes = spec.child_lifetime_kb * 1000
    rekey_bytes = life_bytes * REKEY_PERCENT // 100
    role = "initiator" if spec.initiator else "responder"
    lines = [
        f"# swanctl.conf for {spec.local_address} ({role}), written by vpnha.impl.live.strongswan",
        "connections {",
        f"    {spec.connection} {{",
        "        version = 1",
        "        aggressive = no",
        f"        local_addrs = {spec.local_address}",
        f"        remote_addrs = {spec.remote_address}",
        f"        proposals = {', '.join(spec.ike_proposals)}",
        "        encap = yes",
    ]
    if spec.dpd_delay_s > 0:
        lines += [
            f"        dpd_delay = {spec.dpd_delay_s}s",
            f"        dpd_timeout = {spec.dpd_timeout_s}s",
        ]
    lines += [
        f"        reauth_time = {ike_renew}s",
        "        rekey_time = 0s",
        f"        over_time = {ike_margin}s",
        "        rand_time = 0s",
        "        local {",
        "            auth = psk",
        f"            id = {spec.local_address}",
        "        }",
        "        remote {",
        "            auth = psk",
        f"            id = {spec.remote_address}",
        "        }",
        "        children {",
    ]
    for child in spec.children:
        lines += [
            f"            {child.name} {{",
            "                mode = tunnel",
            f"                local_ts = {child.local_ts}",
            f"                remote_ts = {child.remote_ts}",
            f"                esp_proposals = {', '.join(spec.esp_proposals)}",
            f"                rekey_time = {child_renew}s",
            f"                life_time = {spec.child_lifetime_s}s",
            "                rand_time = 0s",
        ]
        if life_bytes:
            lines += [
                f"                rekey_bytes = {rekey_bytes}",
                f"                life_bytes = {life_bytes}",
                "                rand_bytes = 0",
            ]
        lines += [
            "                dpd_action = clear",
            "                start_action = none",
            "            }",
        ]
    lines += [
        "        }",
        "    }",
        "}",
        "secrets {",
        f"    ike-{spec.connection} {{",
        f"        id-local = {spec.local_address}",
        f"        id-remote = {spec.remote_address}",
        # Hex: any character of an IOS key survives without quoting rules.
        f"        secret = 0x{spec.psk.encode().hex()}",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def strongswan_conf(
    *,
    vici_socket: str,
    log_path: str,
    log_keys: bool = False,
    retransmit_timeout_s: float = 2.0,
    retransmit_tries: int = 3,
    delete_rekeyed: bool = False,
    extra_log_levels: Mapping[str, int] | None = None,
) -> str:
    """strongswan.conf text for one charon: plugins, vici socket, file log, retransmits.

    ``log_keys`` raises ``chd`` to 4 so that charon logs every CHILD SA's keys (test
    use only). ``delete_rekeyed`` (strongSwan default: no) makes an IKEv1 rekey
    delete the old CHILD SA at once instead of letting it expire.
    ``extra_log_levels`` overrides single groups (``{"ike": 4}``).
    """
    levels = {"default": 1, "chd": 4 if log_keys else 2}
    levels.update(extra_log_levels or {})
    level_lines = [f"            {group} = {level}" for group, level in levels.items()]
    lines = [
        "# strongswan.conf, written by vpnha.impl.live.strongswan",
        "charon {",
        "    load_modular = no",
        f"    load = {PLUGINS}",
        "    install_routes = yes",
        f"    retransmit_timeout = {retransmit_timeout_s}",
        f"    retransmit_tries = {retransmit_tries}",
        f"    delete_rekeyed = {'yes' if delete_rekeyed else 'no'}",
        "    plugins {",
        "        vici {",
        f"            socket = {vici_socket}",
        "        }",
        "    }",
        "    filelog {",
        "        vpnha {",
        f"            path = {log_path}",
        "            time_format = %H:%M:%S",
        "            append = no",
        "            flush_line = yes",
        *level_lines,
        "        }",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# Status: swanctl --list-sas --pretty


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildSaStatus:
    """One CHILD SA as ``swanctl --list-sas`` shows it."""

    name: str
    """Child name."""
    unique_id: int
    """charon's CHILD SA number (the ``{N}`` of the log)."""
    state: str
    """INSTALLED, REKEYING, REKEYED, DELETING, …"""
    protocol: str
    """ESP."""
    encap: bool
    """ESP in UDP (always with kernel-libipsec)."""
    spi_in: int
    """SPI this side receives on (0 if not yet known)."""
    spi_out: int
    """SPI this side sends with (0 if not yet known)."""
    encryption: str
    """Cipher, e.g. 3DES_CBC."""
    integrity: str
    """Integrity algorithm, e.g. HMAC_SHA1_96 ("" for AEAD)."""
    packets_in: int
    """Packets received."""
    packets_out: int
    """Packets sent."""
    local_ts: tuple[str, ...]
    """Local traffic selectors."""
    remote_ts: tuple[str, ...]
    """Remote traffic selectors."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IkeSaStatus:
    """One IKE SA as ``swanctl --list-sas`` shows it."""

    name: str
    """Connection name."""
    unique_id: int
    """charon's IKE SA number (the ``[N]`` of the log)."""
    version: int
    """IKE major version."""
    state: str
    """CONNECTING, ESTABLISHED, REKEYING, DELETING, …"""
    local_host: str
    """This side's address."""
    remote_host: str
    """The other side's address."""
    local_port: int
    """This side's port (4500 once NAT-T floated)."""
    remote_port: int
    """The other side's port."""
    initiator: bool
    """This side initiated the IKE SA."""
    initiator_spi: str
    """Initiator cookie, 16 hex digits."""
    responder_spi: str
    """Responder cookie, 16 hex digits (zeros while unanswered)."""
    children: tuple[ChildSaStatus, ...]
    """CHILD SAs under this IKE SA."""


_Tree = dict[str, "str | list[str] | _Tree"]


def _pretty_tree(text: str) -> list[_Tree]:
    """The ``--pretty`` output as nested dicts: one per top-level message."""
    messages: list[_Tree] = []
    stack: list[_Tree] = []
    items: list[str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if items is not None:
            if line == "]":
                items = None
            else:
                items.append(line)
            continue
        if line == "}":
            if stack:
                stack.pop()
            continue
        if line.endswith("{"):
            node: _Tree = {}
            key = line[:-1].strip()
            if stack:
                stack[-1][key] = node
            else:
                messages.append({key: node})
            stack.append(node)
            continue
        key, sep, value = line.partition(" = ")
        if not sep or not stack:
            continue
        if value == "[":
            items = []
            stack[-1][key] = items
        else:
            stack[-1][key] = value
    return messages


def _text(tree: _Tree, key: str, default: str = "") -> str:
    value = tree.get(key, default)
    return value if isinstance(value, str) else default


def _number(tree: _Tree, key: str, base: int = 10) -> int:
    text = _text(tree, key)
    return int(text, base) if text else 0


def _strings(tree: _Tree, key: str) -> tuple[str, ...]:
    value = tree.get(key)
    return tuple(value) if isinstance(value, list) else ()


def parse_list_sas(text: str) -> tuple[IkeSaStatus, ...]:
    """Every IKE SA (with its CHILD SAs) in ``swanctl --list-sas --pretty`` output."""
    result: list[IkeSaStatus] = []
    for message in _pretty_tree(text):
        event = message.get("list-sa event")
        if not isinstance(event, dict):
            continue
        for name, ike in event.items():
            if not isinstance(ike, dict):
                continue
            children_tree = ike.get("child-sas")
            children = []
            if isinstance(children_tree, dict):
                for child in children_tree.values():
                    if isinstance(child, dict):
                        children.append(
                            ChildSaStatus(
                                name=_text(child, "name"),
                                unique_id=_number(child, "uniqueid"),
                                state=_text(child, "state"),
                                protocol=_text(child, "protocol"),
                                encap=_text(child, "encap") == "yes",
                                spi_in=_number(child, "spi-in", 16),
                                spi_out=_number(child, "spi-out", 16),
                                encryption=_text(child, "encr-alg"),
                                integrity=_text(child, "integ-alg"),
                                packets_in=_number(child, "packets-in"),
                                packets_out=_number(child, "packets-out"),
                                local_ts=_strings(child, "local-ts"),
                                remote_ts=_strings(child, "remote-ts"),
                            )
                        )
            result.append(
                IkeSaStatus(
                    name=name,
                    unique_id=_number(ike, "uniqueid"),
                    version=_number(ike, "version"),
                    state=_text(ike, "state"),
                    local_host=_text(ike, "local-host"),
                    remote_host=_text(ike, "remote-host"),
                    local_port=_number(ike, "local-port"),
                    remote_port=_number(ike, "remote-port"),
                    initiator=_text(ike, "initiator") == "yes",
                    initiator_spi=_text(ike, "initiator-spi"),
                    responder_spi=_text(ike, "responder-spi"),
                    children=tuple(children),
                )
            )
    return tuple(result)


# ---------------------------------------------------------------------------
# Log: charon's filelog


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayFailure:
    """libipsec refused an inbound ESP packet as a replay (or behind its 128 window)."""

    src: IPv4Address
    """Outer source address."""
    dst: IPv4Address
    """Outer destination address."""
    spi: int
    """SPI of the packet."""
    seq: int
    """Its sequence number."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildSaKeys:
    """One direction of a CHILD SA with its keys, from a ``chd = 4`` log."""

    spi: int
    """SPI of this direction."""
    src: IPv4Address
    """Outer source address of its packets."""
    dst: IPv4Address
    """Outer destination address of its packets."""
    inbound: bool
    """True when the logging charon receives on it."""
    encryption_key: bytes = field(repr=False)
    """Cipher key (for AES-GCM with its 4-octet salt); empty for esp-null."""
    integrity_key: bytes = field(repr=False)
    """Integrity key; empty for AEAD."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CharonLog:
    """What one charon log says happened (see the module docstring for the lines)."""

    ike_sa_established: int = 0
    """IKE SAs established (Main Mode completed, either role, re-authentication too)."""
    child_sa_established: int = 0
    """CHILD SAs established (Quick Mode completed, rekeys included)."""
    child_sa_rekeyed: int = 0
    """CHILD SAs replaced by a rekey (state REKEYED)."""
    ike_delete_sent: int = 0
    """DELETE notifications sent for an IKE SA."""
    ike_delete_received: int = 0
    """DELETE notifications received for an IKE SA."""
    child_delete_sent: int = 0
    """DELETE notifications sent for an ESP CHILD SA (one per SPI)."""
    child_delete_received: int = 0
    """DELETE notifications received for an ESP CHILD SA (one per SPI)."""
    reauth_started: int = 0
    """Re-authentications this charon started (a new Main Mode replacing an IKE SA)."""
    reauth_detected: int = 0
    """Re-authentications by the other side, detected as responder."""
    dpd_requests_sent: int = 0
    """R-U-THERE sent."""
    dpd_acks_received: int = 0
    """R-U-THERE-ACK received (our requests answered)."""
    dpd_requests_received: int = 0
    """R-U-THERE received."""
    dpd_acks_sent: int = 0
    """R-U-THERE-ACK sent (the other side's requests answered)."""
    dpd_timeouts: int = 0
    """Peers declared dead by DPD (IKEv1: no answer for dpd_timeout)."""
    retransmits: int = 0
    """IKE request retransmissions."""
    retransmit_give_ups: int = 0
    """Exchanges abandoned after the last retransmission ("giving up after N")."""
    replay_failures: tuple[ReplayFailure, ...] = ()
    """Inbound ESP packets refused by sequence number verification."""
    child_spis: tuple[tuple[int, int], ...] = ()
    """(inbound SPI, outbound SPI) of every CHILD SA established, in order."""
    ike_sa_ids: tuple[int, ...] = ()
    """charon's number (the ``[N]``) of every IKE SA established, in order."""
    reauthenticated_ids: tuple[int, ...] = ()
    """The number of every IKE SA this charon re-authenticated, in order."""
    ike_deletes: tuple[tuple[int, str], ...] = ()
    """Every DELETE for an IKE SA: (its number, ``sent`` or ``received``), in order."""
    keys: tuple[ChildSaKeys, ...] = ()
    """Keys of every CHILD SA direction installed (only with ``chd = 4``)."""
    child_responder_spis: tuple[tuple[int, int], ...] = ()
    """Of ``child_spis``, the CHILD SAs this charon established as Quick Mode responder
    (the other side started the Quick Mode)."""
    main_modes_answered: int = 0
    """Main Modes the other side started ("40.0.0.1 is initiating a Main Mode IKE_SA")."""
    child_rekeys_detected: int = 0
    """Quick Modes the other side started that replace a CHILD SA of the same selectors
    ("detected rekeying of CHILD_SA")."""
    lifetimes_received: tuple[tuple[int, int], ...] = ()
    """(seconds received, seconds configured) of every Quick Mode whose lifetime was not
    this charon's ("received 120s lifetime, configured 86400s"): logged, not applied."""
    child_deletes: tuple[tuple[int, str], ...] = ()
    """Every DELETE for an ESP CHILD SA: (its SPI, ``sent`` or ``received``), in order."""
    child_deletes_ignored: int = 0
    """DELETEs received for a CHILD SA this IKE SA does not hold ("CHILD_SA not found")."""
    closed_child_spis: tuple[int, ...] = ()
    """Inbound SPI of every CHILD SA this charon closed (a DELETE sent or received, or its
    expiry), in order."""

    def keys_for(self, spi: int) -> ChildSaKeys | None:
        """The newest keys logged for ``spi``, or None."""
        for keys in reversed(self.keys):
            if keys.spi == spi:
                return keys
        return None


_LINE: Final = re.compile(
    r"^(?:\d\d:\d\d:\d\d(?:\.\d+)? )?(?P<thread>\d+)\[(?P<group>[A-Z]+)\] (?P<message>.*)$"
)
_COUNTED: Final = (
    ("ike_sa_established", re.compile(r"^IKE_SA \S+\[\d+\] established between ")),
    ("child_sa_rekeyed", re.compile(r"^CHILD_SA \S+\{\d+\} state change: \S+ => REKEYED$")),
    ("ike_delete_sent", re.compile(r"^sending DELETE for IKE_SA ")),
    ("ike_delete_received", re.compile(r"^received DELETE for IKE_SA ")),
    ("child_delete_sent", re.compile(r"^sending DELETE for ESP CHILD_SA with SPI ")),
    ("child_delete_received", re.compile(r"^received DELETE for ESP CHILD_SA with SPI ")),
    ("reauth_started", re.compile(r"^reauthenticating IKE_SA ")),
    ("reauth_detected", re.compile(r"^detected reauth of existing IKE_SA")),
    ("dpd_requests_sent", re.compile(r"^generating INFORMATIONAL_V1 request \d+ \[.* N\(DPD\) ")),
    ("dpd_acks_received", re.compile(r"^parsed INFORMATIONAL_V1 request \d+ \[.* N\(DPD_ACK\) ")),
    ("dpd_requests_received", re.compile(r"^parsed INFORMATIONAL_V1 request \d+ \[.* N\(DPD\) ")),
    ("dpd_acks_sent", re.compile(r"^generating INFORMATIONAL_V1 request \d+ \[.* N\(DPD_ACK\) ")),
    ("dpd_timeouts", re.compile(r"^DPD check timed out")),
    ("retransmits", re.compile(r"^sending retransmit \d+ of request")),
    ("retransmit_give_ups", re.compile(r"^giving up after \d+ retransmits")),
    ("child_rekeys_detected", re.compile(r"^detected rekeying of CHILD_SA ")),
    ("main_modes_answered", re.compile(r"^\S+ is initiating a Main Mode IKE_SA$")),
    ("child_deletes_ignored", re.compile(r"^CHILD_SA not found, ignored$")),
)
_NUMBERED: Final = ("ike_sa_established", "reauth_started")
"""Counted lines whose IKE SA number is kept as well."""
_IKE_SA_NUMBER: Final = re.compile(r"IKE_SA \S+\[(?P<number>\d+)\]")
_CHILD_DELETE_SPI: Final = re.compile(r" CHILD_SA with SPI (?P<spi>[0-9a-f]{8})$")
_CHILD_CLOSED: Final = re.compile(
    r"^closing (?:expired )?CHILD_SA \S+\{\d+\} with SPIs (?P<in>[0-9a-f]{8})_i "
)
_LIFETIME_RECEIVED: Final = re.compile(
    r"^received (?P<received>\d+)s lifetime, configured (?P<configured>\d+)s$"
)
_CHILD_UP: Final = re.compile(
    r"^CHILD_SA \S+\{\d+\} established with SPIs (?P<in>[0-9a-f]{8})_i (?P<out>[0-9a-f]{8})_o"
)
_REPLAY_HEAD: Final = "ESP sequence number verification failed:"
_REPLAY_DETAIL: Final = re.compile(
    r"^\s*src (?P<src>[\d.]+), dst (?P<dst>[\d.]+), SPI (?P<spi>[0-9a-f]{8}) \[seq (?P<seq>\d+)\]"
)
_QUICK_MODE: Final = re.compile(r"^parsed QUICK_MODE (?P<kind>request|response) ")
_KEY_HEAD: Final = re.compile(
    r"^(?P<use>encryption|integrity) (?P<side>initiator|responder) key => (?P<size>\d+) bytes"
)
_HEX_LINE: Final = re.compile(r"^\s*\d+: (?P<hex>[0-9A-F]{2}(?: [0-9A-F]{2}){0,15})(?:  |$)")
_SA_HEAD: Final = re.compile(r"^adding (?P<dir>inbound|outbound) ESP SA$")
_SA_DETAIL: Final = re.compile(
    r"^\s*SPI 0x(?P<spi>[0-9a-f]{8}), src (?P<src>[\d.]+) dst (?P<dst>[\d.]+)"
)


@dataclass(slots=True)
class _ThreadState:
    """What a worker thread's earlier lines left open."""

    qm_initiator: bool | None = None
    replay_pending: bool = False
    collecting: tuple[str, str] | None = None
    collected: dict[tuple[str, str], bytearray] = field(default_factory=dict)
    sa_direction: str | None = None


def parse_charon_log(text: str) -> CharonLog:
    """Count the events of a charon file log written with :func:`strongswan_conf`'s levels.

    Lines that are not charon log lines are ignored; the worker thread number ties
    continuation lines (replay details, key hex dumps, SPI lines) to their heads.
    """
    counts = dict.fromkeys((name for name, _ in _COUNTED), 0)
    numbered: dict[str, list[int]] = {name: [] for name in _NUMBERED}
    ike_deletes: list[tuple[int, str]] = []
    child_deletes: list[tuple[int, str]] = []
    closed: list[int] = []
    lifetimes: list[tuple[int, int]] = []
    responder_spis: list[tuple[int, int]] = []
    child_up = 0
    replays: list[ReplayFailure] = []
    spis: list[tuple[int, int]] = []
    keys: list[ChildSaKeys] = []
    threads: dict[str, _ThreadState] = {}
    for raw in text.splitlines():
        match = _LINE.match(raw)
        if match is None:
            continue
        state = threads.setdefault(match["thread"], _ThreadState())
        message = match["message"]
        if state.collecting is not None:
            hex_line = _HEX_LINE.match(message)
            if hex_line is not None:
                state.collected[state.collecting] += bytes.fromhex(hex_line["hex"])
                continue
            state.collecting = None
        if state.replay_pending:
            state.replay_pending = False
            detail = _REPLAY_DETAIL.match(message)
            if detail is not None:
                replays[-1] = ReplayFailure(
                    src=IPv4Address(detail["src"]),
                    dst=IPv4Address(detail["dst"]),
                    spi=int(detail["spi"], 16),
                    seq=int(detail["seq"]),
                )
                continue
        if state.sa_direction is not None:
            direction, state.sa_direction = state.sa_direction, None
            detail = _SA_DETAIL.match(message)
            if detail is not None:
                found = _keys_of(state, direction, detail)
                if found is not None:
                    keys.append(found)
                continue
        if message.startswith(_REPLAY_HEAD):
            replays.append(ReplayFailure(src=IPv4Address(0), dst=IPv4Address(0), spi=0, seq=0))
            state.replay_pending = True
            continue
        if (quick := _QUICK_MODE.match(message)) is not None:
            state.qm_initiator = quick["kind"] == "response"
            state.collected = {}
            continue
        if (head := _KEY_HEAD.match(message)) is not None:
            state.collecting = (head["use"], head["side"])
            state.collected[state.collecting] = bytearray()
            continue
        if (sa := _SA_HEAD.match(message)) is not None:
            state.sa_direction = sa["dir"]
            continue
        if (up := _CHILD_UP.match(message)) is not None:
            child_up += 1
            spis.append((int(up["in"], 16), int(up["out"], 16)))
            if state.qm_initiator is False:
                responder_spis.append(spis[-1])
            continue
        if (gone := _CHILD_CLOSED.match(message)) is not None:
            closed.append(int(gone["in"], 16))
            continue
        if (life := _LIFETIME_RECEIVED.match(message)) is not None:
            lifetimes.append((int(life["received"]), int(life["configured"])))
            continue
        for name, pattern in _COUNTED:
            if pattern.match(message):
                counts[name] += 1
                number = _IKE_SA_NUMBER.search(message)
                if name in _NUMBERED and number is not None:
                    numbered[name].append(int(number["number"]))
                if name in ("ike_delete_sent", "ike_delete_received") and number is not None:
                    ike_deletes.append((int(number["number"]), name.rsplit("_", 1)[1]))
                spi = _CHILD_DELETE_SPI.search(message)
                if name in ("child_delete_sent", "child_delete_received") and spi is not None:
                    child_deletes.append((int(spi["spi"], 16), name.rsplit("_", 1)[1]))
                break
    return CharonLog(
        child_sa_established=child_up,
        replay_failures=tuple(replays),
        child_spis=tuple(spis),
        keys=tuple(keys),
        ike_sa_ids=tuple(numbered["ike_sa_established"]),
        reauthenticated_ids=tuple(numbered["reauth_started"]),
        ike_deletes=tuple(ike_deletes),
        child_responder_spis=tuple(responder_spis),
        lifetimes_received=tuple(lifetimes),
        child_deletes=tuple(child_deletes),
        closed_child_spis=tuple(closed),
        **counts,
    )


def _keys_of(state: _ThreadState, direction: str, detail: re.Match[str]) -> ChildSaKeys | None:
    if state.qm_initiator is None or not state.collected:
        return None
    inbound = direction == "inbound"
    # Initiator keys protect the Quick Mode initiator's outbound direction.
    side = "initiator" if inbound != state.qm_initiator else "responder"
    return ChildSaKeys(
        spi=int(detail["spi"], 16),
        src=IPv4Address(detail["src"]),
        dst=IPv4Address(detail["dst"]),
        inbound=inbound,
        encryption_key=bytes(state.collected.get(("encryption", side), b"")),
        integrity_key=bytes(state.collected.get(("integrity", side), b"")),
    )


# ---------------------------------------------------------------------------
# Process


def charon_missing() -> str | None:
    """Why :class:`StrongSwanPeer` cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "strongSwan in a network namespace needs root"
    if not os.access(CHARON, os.X_OK):
        return f"no {CHARON} (Debian package strongswan-charon)"
    for tool, package in (("swanctl", "strongswan-swanctl"), ("unshare", "util-linux")):
        if shutil.which(tool) is None:
            return f"no {tool} ({package})"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun (kernel-libipsec needs TUN)"
    return None


class StrongSwanPeer:
    """One charon with its own ``/run``, vici socket and log, in a network namespace.

    Use as a context manager; ``start()`` writes the two configuration files into
    ``workdir``, starts charon, waits for vici and loads the connections. Every
    command is bounded by ``command_timeout_s``; ``close()`` always leaves no
    process behind.
    """

    def __init__(
        self,
        swanctl_text: str,
        *,
        workdir: str | os.PathLike[str],
        netns: str | None = None,
        log_keys: bool = False,
        retransmit_timeout_s: float = 2.0,
        retransmit_tries: int = 3,
        delete_rekeyed: bool = False,
        extra_log_levels: Mapping[str, int] | None = None,
        start_timeout_s: float = 10.0,
        command_timeout_s: float = 15.0,
    ) -> None:
        self.workdir = Path(workdir)
        """Folder of this instance's files (created)."""
        self.netns = netns
        """Network namespace charon runs in (None: the caller's)."""
        self.swanctl_path = self.workdir / "swanctl.conf"
        """The connections and secrets file."""
        self.conf_path = self.workdir / "strongswan.conf"
        """The daemon's configuration file."""
        self.log_path = self.workdir / "charon.log"
        """charon's file log (see :func:`parse_charon_log`)."""
        self.vici_uri = f"unix://{self.workdir / 'charon.vici'}"
        """The vici socket, for ``swanctl --uri``."""
        self._swanctl_text = swanctl_text
        self._conf_text = strongswan_conf(
            vici_socket=self.vici_uri,
            log_path=str(self.log_path),
            log_keys=log_keys,
            retransmit_timeout_s=retransmit_timeout_s,
            retransmit_tries=retransmit_tries,
            delete_rekeyed=delete_rekeyed,
            extra_log_levels=extra_log_levels,
        )
        self._start_timeout_s = start_timeout_s
        self._command_timeout_s = command_timeout_s
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """charon's process id while it runs."""
        return self._process.pid if self._process and self._process.poll() is None else None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Write the files, start charon, wait for vici, load the connections.

        On any failure charon is stopped again before the error propagates.
        """
        if self._process is not None:
            msg = "charon already started"
            raise StrongSwanError(msg)
        try:
            self._launch()
        except BaseException:
            self.close()
            raise

    def _launch(self) -> None:
        run = self.workdir / "run"
        run.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(self._conf_text)
        self.swanctl_path.write_text(self._swanctl_text)
        script = (
            f"mount --bind {shlex.quote(str(run))} /run && "
            f"STRONGSWAN_CONF={shlex.quote(str(self.conf_path))} exec {shlex.quote(CHARON)}"
        )
        command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]
        if self.netns is not None:
            command = ["ip", "netns", "exec", self.netns, *command]
        with (self.workdir / "stdout.log").open("wb") as output:
            # Each step execs the next, so the child's pid is charon's own.
            self._process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + self._start_timeout_s
        while True:
            if self._process.poll() is not None:
                raise self._failure("charon exited during start-up")
            if (self.workdir / "charon.vici").exists() and self._try("--stats"):
                break
            if time.monotonic() > deadline:
                raise self._failure(f"no vici socket after {self._start_timeout_s} s")
            time.sleep(0.05)
        self.swanctl("--load-all", "--file", str(self.swanctl_path))

    def _try(self, *args: str) -> bool:
        try:
            self.swanctl(*args, timeout_s=2.0)
        except StrongSwanError:
            return False
        return True

    def swanctl(self, *args: str, timeout_s: float | None = None) -> str:
        """Run ``swanctl ARGS --uri VICI``; its output (raises StrongSwanError on failure)."""
        command = ["swanctl", *args, "--uri", self.vici_uri]
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=timeout_s or self._command_timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise self._failure(f"{' '.join(command)}: timed out") from None
        if result.returncode != 0:
            raise self._failure(
                f"{' '.join(command)}: exit {result.returncode}\n{result.stdout}{result.stderr}"
            )
        return result.stdout

    def initiate(self, child: str, *, timeout_s: int = 10) -> str:
        """Bring up ``child`` (Main Mode first if needed); swanctl's output."""
        return self.swanctl("--initiate", "--child", child, "--timeout", str(timeout_s))

    def terminate_child(self, child: str) -> str:
        """Delete the CHILD SAs of ``child`` (Quick Mode DELETE)."""
        return self.swanctl("--terminate", "--child", child, "--timeout", "5")

    def terminate_ike(self, connection: str) -> str:
        """Delete the IKE SA of ``connection`` and its CHILD SAs."""
        return self.swanctl("--terminate", "--ike", connection, "--timeout", "5")

    def rekey_child(self, child: str) -> str:
        """Rekey the CHILD SA ``child`` (a new Quick Mode)."""
        return self.swanctl("--rekey", "--child", child)

    def reauthenticate(self, connection: str, *, ike_id: int | None = None) -> str:
        """Re-authenticate the IKE SA of ``connection``, or the one numbered ``ike_id``.

        IKEv1 (charon 5.9): a new Main Mode; the CHILD SAs move to the new IKE SA
        without a Quick Mode, and the old IKE SA waits, REKEYING, for the responder's
        DELETE (or its own expiry). The same path as ``reauth_time`` coming due.
        """
        if ike_id is not None:
            return self.swanctl("--rekey", "--ike-id", str(ike_id), "--reauth")
        return self.swanctl("--rekey", "--ike", connection, "--reauth")

    def list_sas(self) -> tuple[IkeSaStatus, ...]:
        """The IKE SAs with their CHILD SAs, now."""
        return parse_list_sas(self.swanctl("--list-sas", "--pretty"))

    def log_text(self) -> str:
        """charon's log so far ("" before it exists)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log(self) -> CharonLog:
        """The log so far, parsed."""
        return parse_charon_log(self.log_text())

    def kill(self) -> None:
        """SIGKILL charon: a crash, no DELETE is sent."""
        self._signal(signal.SIGKILL)
        self._reap(5.0)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop charon: SIGTERM (DELETEs, best effort), SIGKILL if alive after ``timeout_s``."""
        if self._process is None:
            return
        self._signal(signal.SIGTERM)
        if not self._reap(timeout_s):
            self._signal(signal.SIGKILL)
            self._reap(5.0)

    def _signal(self, signum: int) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            # Its own session: the group holds charon and nothing else of ours.
            os.killpg(self._process.pid, signum)

    def _reap(self, timeout_s: float) -> bool:
        if self._process is None:
            return True
        try:
            self._process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return False
        return True

    def _failure(self, what: str) -> StrongSwanError:
        tails = []
        for path in (self.workdir / "stdout.log", self.log_path):
            with contextlib.suppress(OSError):
                lines = path.read_text(errors="replace").splitlines()[-15:]
                tails.append(f"--- {path.name}:\n" + "\n".join(lines))
        return StrongSwanError("\n".join([what, *tails]))
