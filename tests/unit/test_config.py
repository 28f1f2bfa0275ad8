"""impl/config: the IOS parser against the document's examples, ranges, defaults and errors."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vpnha.impl.config import (
    ConfigError,
    CryptoCard,
    Diagnostic,
    IsakmpPolicy,
    ReplayInterval,
    RouterConfig,
    StandbyGroup,
    Track,
    canonical_interface_name,
    load_config,
    parse_config,
)
from vpnha.impl.config.crypto import parse_transforms
from vpnha.impl.config.errors import CommandError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ROUTER1 = (EXAMPLES / "router1.cfg").read_text()
ROUTER2 = (EXAMPLES / "router2.cfg").read_text()
LAN = IPv4Address("192.168.4.77")
TCP, UDP, ESP = 6, 17, 50


def diagnostics(text: str) -> tuple[Diagnostic, ...]:
    """The diagnostics of a text that must not parse."""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="t.cfg")
    return caught.value.diagnostics


def one_error(text: str) -> Diagnostic:
    found = diagnostics(text)
    assert len(found) == 1, "\n".join(str(d) for d in found)
    return found[0]


def line_of(text: str, fragment: str) -> int:
    """1-based number of the first line containing ``fragment``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(f"{fragment!r} not in text")


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


# Where single commands go inside router1.cfg's blocks.
def in_inside(command: str, text: str = ROUTER1) -> str:
    return edit(
        text,
        " standby 1 track FastEthernet0/1\n",
        f" standby 1 track FastEthernet0/1\n {command}\n",
    )


def in_ssp(command: str, text: str = ROUTER1) -> str:
    return edit(text, " redundancy LAN\n", f" redundancy LAN\n {command}\n")


def in_policy(command: str, text: str = ROUTER1) -> str:
    return edit(text, " group 2\n", f" group 2\n {command}\n")


def in_map(command: str, text: str = ROUTER1) -> str:
    return edit(text, " match address 100\n", f" match address 100\n {command}\n")


def at_end(command: str, text: str = ROUTER1) -> str:
    return text + command + "\n"


# ---------------------------------------------------------------------------
# The document's two examples, field by field


def test_router1_parses_to_the_documents_example_1() -> None:
    cfg = load_config(EXAMPLES / "router1.cfg")
    assert cfg.hostname == "7200-1"
    assert [i.name for i in cfg.interfaces] == ["FastEthernet0/0", "FastEthernet0/1"]

    inside = cfg.interface("FastEthernet0/0")
    assert inside is not None
    assert inside.description == "INSIDE_INTERFACE"
    assert inside.address == IPv4Interface("172.16.31.100/24")
    assert inside.shutdown is False
    assert (inside.standby_delay_minimum_s, inside.standby_delay_reload_s) == (30, 60)
    assert inside.crypto_map is None
    assert inside.crypto_map_ssp is None
    assert inside.standby_groups == (
        StandbyGroup(
            group=1,
            virtual_ip=IPv4Address("172.16.31.1"),
            name="LAN",
            priority=100,
            preempt=True,
            hello_ms=500,
            hold_ms=3000,
            tracks=(Track("FastEthernet0/1", 10),),
            authentication="cisco",
        ),
    )

    outside = cfg.interface("Fa0/1")
    assert outside is not None
    assert outside.description == "OUTSIDE_INTERFACE"
    assert outside.address == IPv4Interface("40.0.0.100/24")
    assert (outside.standby_delay_minimum_s, outside.standby_delay_reload_s) == (30, 60)
    assert outside.crypto_map == "CMAP_1"
    assert outside.crypto_map_ssp == 1
    (group,) = outside.standby_groups
    assert group.group == 2
    assert group.virtual_ip == IPv4Address("40.0.0.1")
    assert group.name == "ISP"
    assert (group.hello_ms, group.hold_ms) == (500, 3000)
    assert group.preempt is True
    assert (group.preempt_delay_minimum_s, group.preempt_delay_reload_s) == (0, 0)
    assert group.preempt_delay_sync_s == 0
    assert group.tracks == (Track("FastEthernet0/0"),)
    assert cfg.inside_interface() == inside
    assert cfg.outside_interface() == outside

    (ssp,) = cfg.ssp_groups
    assert ssp.group_id == 1
    assert ssp.remote == IPv4Address("172.16.31.6")
    assert ssp.redundancy_names == ("ISP", "LAN")
    assert ssp.port == 3249
    assert cfg.ssp_group(1) == ssp
    assert cfg.ssp_group(2) is None

    assert cfg.isakmp_policies == (
        IsakmpPolicy(priority=1, encryption="3des", authentication="pre-share", group=2),
    )
    policy = cfg.isakmp_policies[0]
    assert (policy.hash, policy.lifetime_s) == ("sha", 86400)
    (key,) = cfg.isakmp_keys
    assert (key.key, key.address, key.mask, key.hostname) == (
        "cisco",
        IPv4Address("192.168.3.1"),
        None,
        None,
    )
    assert cfg.isakmp_ssp_id == 1
    assert cfg.isakmp_keepalive is None

    transform_set = cfg.transform_sets["TRANSFORMSET_1"]
    assert transform_set.transforms == ("esp-3des", "esp-sha-hmac")
    assert transform_set.esp_encryption == "esp-3des"
    assert transform_set.esp_authentication == "esp-sha-hmac"
    assert (transform_set.ah, transform_set.compression, transform_set.esp_key_bits) == (
        None,
        None,
        None,
    )
    assert transform_set.mode == "tunnel"
    assert (cfg.ipsec_lifetime_seconds, cfg.ipsec_lifetime_kilobytes) == (3600, 4_608_000)

    (entry,) = cfg.crypto_maps
    assert (entry.name, entry.seq, entry.dynamic_map) == ("CMAP_1", 1, None)
    assert entry.description == "Tunnel to 192.168.3.1"
    assert entry.peers == (IPv4Address("192.168.3.1"),)
    assert entry.transform_sets == ("TRANSFORMSET_1",)
    assert entry.match_address == "100"
    assert (entry.pfs, entry.lifetime_seconds, entry.lifetime_kilobytes) == (None, None, None)
    assert entry.reverse_route is False
    assert cfg.crypto_map("CMAP_1") == (entry,)
    assert cfg.dynamic_maps == ()
    assert cfg.replay_interval("CMAP_1") == ReplayInterval(
        inbound_packets=1000, outbound_millions=1
    )

    acl = cfg.access_lists["100"]
    assert acl.remarks == ("IPSec Rule",)
    assert len(acl.entries) == 1
    assert acl.matches(IPv4Address("172.16.31.20"), LAN, TCP) is True
    assert acl.matches(IPv4Address("10.9.9.9"), IPv4Address("192.168.4.255"), ESP) is True
    assert acl.matches(IPv4Address("172.16.31.20"), IPv4Address("192.168.5.1"), TCP) is None

    assert cfg.crypto_card == CryptoCard(kind="vam")
    assert cfg.crypto_card.sa_capacity() == 10000
    assert cfg.source.endswith("router1.cfg")


def test_router2_parses_to_the_documents_example_2() -> None:
    cfg = parse_config(ROUTER2)
    assert cfg.hostname == "7200-2"
    inside, outside = cfg.inside_interface(), cfg.outside_interface()
    assert inside is not None
    assert outside is not None
    assert inside.address == IPv4Interface("172.16.31.6/24")
    assert outside.address == IPv4Interface("40.0.0.6/24")
    assert cfg.ssp_groups[0].remote == IPv4Address("172.16.31.100")
    one = parse_config(ROUTER1)
    # Everything else is identical to router 1 (the document: identical policy).
    assert replace(
        cfg, hostname="7200-1", interfaces=one.interfaces, ssp_groups=one.ssp_groups
    ) == (one)
    assert inside.standby_groups == one.interfaces[0].standby_groups


def test_unindented_text_parses_the_same_as_indented() -> None:
    for text in (ROUTER1, ROUTER2):
        flat = "\n".join(line.strip() for line in text.splitlines())
        assert parse_config(flat) == parse_config(text)
        double = "\n".join(("  " + line.strip()) for line in text.splitlines())
        assert parse_config(double) == parse_config(text)


def test_comments_blank_lines_end_exit_and_boilerplate_are_ignored() -> None:
    text = (
        "version 12.2\nservice timestamps debug datetime msec\nno service pad\n"
        "boot-start-marker\nboot-end-marker\nlogging buffered\nno logging console\n"
        "no ip domain-lookup\nip cef\nenable secret 5 xyz\n\n   \n! comment\n"
        + ROUTER1
        + "line con 0\n exec-timeout 0 0\n password x\n login\nline vty 0 4\n login\n"
        "control-plane\n!\nexit\nend\n"
    )
    assert parse_config(text) == parse_config(ROUTER1)


def test_exit_leaves_a_block() -> None:
    text = "ssp group 1\n remote 1.2.3.4\nexit\nredundancy LAN\n"
    assert one_error(text).message == "redundancy is only valid under ssp group"


def test_text_with_crlf_line_ends() -> None:
    assert parse_config(ROUTER1.replace("\n", "\r\n")) == parse_config(ROUTER1)


# ---------------------------------------------------------------------------
# Defaults


def test_empty_text_is_the_default_configuration() -> None:
    cfg = parse_config("")
    assert cfg == RouterConfig()
    assert cfg.hostname == "Router"
    assert cfg.crypto_card.kind == "none"
    assert cfg.crypto_card.sa_capacity() is None
    assert cfg.outside_interface() is None
    assert cfg.inside_interface() is None
    assert cfg.replay_interval("ANY") == ReplayInterval()


def test_hsrp_defaults_and_group_zero() -> None:
    cfg = parse_config("interface Ethernet0\n ip address 10.0.0.2 255.255.255.0\n standby ip\n")
    (interface,) = cfg.interfaces
    assert interface.standby_groups == (StandbyGroup(group=0),)
    group = interface.standby_groups[0]
    assert group.virtual_ip is None
    assert group.priority == 100
    assert (group.hello_ms, group.hold_ms) == (3000, 10000)
    assert group.preempt is False
    assert group.tracks == ()
    assert group.authentication == "cisco"
    assert group.name is None
    assert (interface.standby_delay_minimum_s, interface.standby_delay_reload_s) == (None, None)
    cfg = parse_config("interface e0\n ip address 10.0.0.2 255.255.255.0\n standby ip 10.0.0.1\n")
    assert cfg.interfaces[0].standby_groups[0].virtual_ip == IPv4Address("10.0.0.1")


def test_isakmp_transform_ssp_and_map_defaults() -> None:
    text = (
        "crypto isakmp policy 10\n"
        "crypto ipsec transform-set T esp-aes\n"
        "interface Fa0/0\n ip address 10.0.0.2 255.255.255.0\n standby 1 ip 10.0.0.1\n"
        " standby 1 name LAN\n"
        "ssp group 5\n remote 10.0.0.3\n redundancy LAN\n"
        "crypto map M 10 ipsec-isakmp\n set peer 1.1.1.1\n set transform-set T\n"
        " match address 101\n set pfs\n"
        "access-list 101 permit ip host 10.0.0.9 any\n"
    )
    cfg = parse_config(text)
    assert cfg.isakmp_policies == (IsakmpPolicy(priority=10),)
    policy = cfg.isakmp_policies[0]
    assert (policy.encryption, policy.hash, policy.authentication) == ("des", "sha", "rsa-sig")
    assert (policy.group, policy.lifetime_s) == (1, 86400)
    transform_set = cfg.transform_sets["T"]
    assert transform_set.transforms == ("esp-aes",)
    assert transform_set.esp_key_bits == 128
    assert transform_set.mode == "tunnel"
    assert cfg.ssp_groups[0].port == 3249
    assert cfg.crypto_maps[0].pfs == "group1"
    assert cfg.isakmp_ssp_id is None


def test_explicit_default_equals_absent_command() -> None:
    explicit = in_inside("standby 1 priority 100")
    explicit = in_inside("standby 1 authentication cisco", explicit)
    explicit = in_policy("hash sha", explicit)
    explicit = in_policy("lifetime 86400", explicit)
    explicit = in_ssp("port 3249", explicit)
    explicit = edit(explicit, "esp-3des esp-sha-hmac\n", "esp-3des esp-sha-hmac\n mode tunnel\n")
    explicit = at_end("crypto ipsec security-association lifetime seconds 3600", explicit)
    assert parse_config(explicit) == parse_config(ROUTER1)
    with_ha = at_end("crypto map CMAP_1 ha replay-interval inbound 1000 outbound 1")
    assert parse_config(with_ha).replay_interval("CMAP_1") == ReplayInterval()


# ---------------------------------------------------------------------------
# Values of the sub-commands


@pytest.mark.parametrize(
    ("command", "hello_ms", "hold_ms"),
    [
        ("standby 1 timers 1 3", 1000, 3000),
        ("standby 1 timers msec 500 3", 500, 3000),
        ("standby 1 timers msec 500 msec 1500", 500, 1500),
        ("standby 1 timers 2 msec 2500", 2000, 2500),
        ("standby 1 timers MSEC 15 msec 50", 15, 50),
    ],
)
def test_standby_timers(command: str, hello_ms: int, hold_ms: int) -> None:
    cfg = parse_config(in_inside(command))
    group = cfg.interfaces[0].standby_groups[0]
    assert (group.hello_ms, group.hold_ms) == (hello_ms, hold_ms)


@pytest.mark.parametrize(
    "command",
    ["standby 1 timers 3 3", "standby 1 timers 3 2", "standby 1 timers msec 999 msec 999"],
)
def test_hold_must_exceed_hello(command: str) -> None:
    assert "must be greater than hello time" in one_error(in_inside(command)).message


@pytest.mark.parametrize(
    ("command", "minimum", "reload", "sync"),
    [
        ("standby 1 preempt delay minimum 10", 10, 0, 0),
        ("standby 1 preempt delay minimum 10 reload 20 sync 30", 10, 20, 30),
        ("standby 1 preempt delay sync 5 reload 6", 0, 6, 5),
        ("standby 1 preempt delay 15", 15, 0, 0),
        ("standby 1 priority 110 preempt delay minimum 7", 7, 0, 0),
    ],
)
def test_standby_preempt_delay(command: str, minimum: int, reload: int, sync: int) -> None:
    group = parse_config(in_inside(command)).interfaces[0].standby_groups[0]
    assert group.preempt is True
    assert (
        group.preempt_delay_minimum_s,
        group.preempt_delay_reload_s,
        group.preempt_delay_sync_s,
    ) == (minimum, reload, sync)


def test_standby_priority_track_and_authentication() -> None:
    text = in_inside("standby 1 priority 120")
    text = in_inside("standby 1 authentication text s3cret", text)
    text = in_inside("standby 1 track fastEthernet 0/1 30", text)
    group = parse_config(text).interfaces[0].standby_groups[0]
    assert group.priority == 120
    assert group.authentication == "s3cret"
    # A second track of the same interface replaces the decrement, as in IOS.
    assert group.tracks == (Track("FastEthernet0/1", 30),)
    text = in_inside("standby 1 track Fa0/1 decrement 40")
    assert parse_config(text).interfaces[0].standby_groups[0].tracks == (
        Track("FastEthernet0/1", 40),
    )


def test_standby_authentication_length() -> None:
    assert parse_config(in_inside("standby 1 authentication 12345678"))
    error = one_error(in_inside("standby 1 authentication 123456789"))
    assert "longer than 8" in error.message
    assert "md5" in one_error(in_inside("standby 1 authentication md5 key-string x")).message


def test_standby_delay_alone_and_reordered() -> None:
    text = edit(
        ROUTER1,
        "FastEthernet0/0\n description INSIDE_INTERFACE\n ip address 172.16.31.100 255.255.255.0\n"
        " standby delay minimum 30 reload 60\n",
        "FastEthernet0/0\n description INSIDE_INTERFACE\n ip address 172.16.31.100 255.255.255.0\n"
        " standby delay reload 45\n",
    )
    inside = parse_config(text).interfaces[0]
    assert (inside.standby_delay_minimum_s, inside.standby_delay_reload_s) == (None, 45)


@pytest.mark.parametrize(
    ("words", "encryption"),
    [
        ("des", "des"),
        ("3des", "3des"),
        ("aes", "aes"),
        ("aes 192", "aes 192"),
        ("aes 256", "aes 256"),
    ],
)
def test_isakmp_encryption_values(words: str, encryption: str) -> None:
    for keyword in ("encr", "encryption"):
        text = edit(ROUTER1, " encr 3des\n", f" {keyword} {words}\n")
        assert parse_config(text).isakmp_policies[0].encryption == encryption


def test_isakmp_policy_sub_commands() -> None:
    text = in_policy("hash md5")
    text = in_policy("lifetime 3600", text)
    text = edit(text, " authentication pre-share\n", " authentication rsa-encr\n")
    text = edit(text, " group 2\n", " group 5\n")
    policy = parse_config(text).isakmp_policies[0]
    assert (policy.hash, policy.lifetime_s, policy.authentication, policy.group) == (
        "md5",
        3600,
        "rsa-encr",
        5,
    )
    assert (
        "group '3' is not one of 1, 2, 5"
        in one_error(edit(ROUTER1, " group 2\n", " group 3\n")).message
    )


def test_isakmp_policies_sorted_by_priority() -> None:
    text = at_end("crypto isakmp policy 20\n hash md5\ncrypto isakmp policy 5")
    assert [p.priority for p in parse_config(text).isakmp_policies] == [1, 5, 20]


def test_isakmp_keys() -> None:
    text = at_end(
        "crypto isakmp key k2 address 10.1.0.0 255.255.0.0 no-xauth\n"
        "crypto isakmp key 6 k3 hostname peer.example\n"
    )
    keys = parse_config(text).isakmp_keys
    assert keys[1].address == IPv4Address("10.1.0.0")
    assert keys[1].mask == IPv4Address("255.255.0.0")
    assert keys[1].peer == "10.1.0.0 255.255.0.0"
    assert (keys[2].key, keys[2].encrypted, keys[2].hostname) == ("k3", True, "peer.example")
    assert "netmask" in one_error(at_end("crypto isakmp key k address 1.1.1.1 0.0.0.255")).message


def test_isakmp_keepalive_is_parsed() -> None:
    cfg = parse_config(at_end("crypto isakmp keepalive 10 3 periodic"))
    assert cfg.isakmp_keepalive == 10


def test_crypto_map_sub_commands() -> None:
    text = in_map("set peer 192.168.3.2")
    text = in_map("set pfs group5", text)
    text = in_map("set security-association lifetime seconds 1800", text)
    text = in_map("set security-association lifetime kilobytes 100000", text)
    text = in_map("reverse-route", text)
    text = at_end("crypto ipsec transform-set T2 ah-sha-hmac esp-aes 256 esp-sha-hmac", text)
    text = edit(
        text, " set transform-set TRANSFORMSET_1\n", " set transform-set T2 TRANSFORMSET_1\n"
    )
    entry = parse_config(text).crypto_maps[0]
    assert entry.peers == (IPv4Address("192.168.3.1"), IPv4Address("192.168.3.2"))
    assert entry.pfs == "group5"
    assert (entry.lifetime_seconds, entry.lifetime_kilobytes) == (1800, 100000)
    assert entry.reverse_route is True
    assert entry.transform_sets == ("T2", "TRANSFORMSET_1")
    six_sets = "".join(f"crypto ipsec transform-set S{n} esp-des\n" for n in range(6))
    six = parse_config(
        in_map(f"set transform-set {' '.join(f'S{n}' for n in range(6))}", six_sets + ROUTER1)
    )
    assert six.crypto_maps[0].transform_sets == tuple(f"S{n}" for n in range(6))
    seven = " ".join(["TRANSFORMSET_1"] * 7)
    error = one_error(in_map(f"set transform-set {seven}"))
    assert "1-6 names, got 7" in error.message
    assert "host name" in one_error(in_map("set peer vpn.example.com")).message


def test_dynamic_crypto_map() -> None:
    text = at_end(
        "crypto dynamic-map DYN 10\n set transform-set TRANSFORMSET_1\n match address 100\n"
        "crypto map CMAP_1 20 ipsec-isakmp dynamic DYN"
    )
    cfg = parse_config(text)
    (dynamic,) = cfg.dynamic_maps
    assert (dynamic.name, dynamic.seq, dynamic.transform_sets) == ("DYN", 10, ("TRANSFORMSET_1",))
    assert [(e.seq, e.dynamic_map) for e in cfg.crypto_map("CMAP_1")] == [(1, None), (20, "DYN")]
    assert cfg.dynamic_map("DYN") == (dynamic,)
    error = one_error(at_end("crypto dynamic-map DYN 10\n match address 100"))
    assert "no set transform-set" in error.message
    error = one_error(at_end("crypto map CMAP_1 30 ipsec-isakmp dynamic NOPE"))
    assert error.message == "dynamic map NOPE is not defined (crypto dynamic-map)"
    error = one_error(
        at_end(
            "crypto dynamic-map DYN 10\n set transform-set TRANSFORMSET_1\n"
            "crypto map CMAP_1 20 ipsec-isakmp dynamic DYN\n set peer 1.1.1.1"
        )
    )
    assert "stands for dynamic map DYN" in error.message


def test_crypto_map_ha_replay_interval() -> None:
    cfg = parse_config(at_end("crypto map CMAP_1 ha replay-interval inbound 0 outbound 10"))
    assert cfg.replay_interval("CMAP_1") == ReplayInterval(inbound_packets=0, outbound_millions=10)
    assert cfg.replay_interval("OTHER") == ReplayInterval(inbound_packets=1000, outbound_millions=1)


def test_global_ipsec_lifetimes() -> None:
    text = at_end(
        "crypto ipsec security-association lifetime seconds 120\n"
        "crypto ipsec security-association lifetime kilobytes 536870912"
    )
    cfg = parse_config(text)
    assert (cfg.ipsec_lifetime_seconds, cfg.ipsec_lifetime_kilobytes) == (120, 536870912)


def test_transform_set_mode_transport() -> None:
    text = edit(ROUTER1, "esp-3des esp-sha-hmac\n", "esp-3des esp-sha-hmac\n mode transport\n")
    assert parse_config(text).transform_sets["TRANSFORMSET_1"].mode == "transport"


def test_crypto_card_command() -> None:
    cfg = parse_config(
        edit(ROUTER1, "vpnha crypto-card vam\n", "vpnha crypto-card VAM2 capacity 500\n")
    )
    assert cfg.crypto_card == CryptoCard(kind="vam2", capacity_sas=500)
    assert cfg.crypto_card.sa_capacity() == 500
    cfg = parse_config(edit(ROUTER1, "vpnha crypto-card vam\n", ""))
    assert cfg.crypto_card == CryptoCard(kind="none")
    error = one_error(at_end("vpnha crypto-card vam2"))
    assert "one card per router" in error.message
    assert (
        "not one of none, vam, vam2"
        in one_error(edit(ROUTER1, "crypto-card vam\n", "crypto-card vam3\n")).message
    )


def test_ssp_key_command() -> None:
    cfg = parse_config(ROUTER1)
    assert cfg.ssp_key == "ha-pair-secret"
    assert "ha-pair-secret" not in repr(cfg)
    assert parse_config(edit(ROUTER1, "vpnha ssp-key ha-pair-secret\n", "")).ssp_key is None
    assert "second ssp-key" in one_error(at_end("vpnha ssp-key again")).message
    assert "1-64" in one_error(at_end("vpnha ssp-key")).message
    assert (
        "65 characters"
        in one_error(
            at_end("vpnha ssp-key " + "k" * 65, edit(ROUTER1, "vpnha ssp-key ha-pair-secret\n", ""))
        ).message
    )


def test_card_capabilities() -> None:
    vam, vam2, software = CryptoCard(kind="vam"), CryptoCard(kind="vam2"), CryptoCard()
    aes = parse_transforms("t", ["esp-aes", "256", "esp-md5-hmac"])
    gcm = parse_transforms("g", ["esp-gcm"])
    assert vam.unsupported_transforms(aes) == ("esp-aes 256",)
    assert vam2.unsupported_transforms(aes) == ()
    assert vam2.unsupported_transforms(gcm) == ("esp-gcm",)
    assert software.unsupported_transforms(gcm) == ()
    assert not vam.supports_ike_encryption("aes")
    assert vam2.supports_ike_encryption("aes 256")
    assert not vam2.supports_ike_authentication("rsa-encr")
    assert software.supports_ike_authentication("rsa-encr")
    assert (vam.sa_capacity(), vam2.sa_capacity(), software.sa_capacity()) == (10000, 10000, None)


# ---------------------------------------------------------------------------
# Range boundaries: just inside accepted, just outside rejected with the field named

BOUNDARIES = [
    # (make the text from a value, field as named in the message, low, high)
    (lambda v: in_inside(f"standby {v} ip 172.16.31.50"), "standby group", 0, 255),
    (lambda v: in_inside(f"standby 1 priority {v}"), "priority", 1, 255),
    (lambda v: in_inside(f"standby 1 preempt delay minimum {v}"), "preempt delay minimum", 0, 3600),
    (lambda v: in_inside(f"standby 1 preempt delay reload {v}"), "preempt delay reload", 0, 3600),
    (lambda v: in_inside(f"standby 1 preempt delay sync {v}"), "preempt delay sync", 0, 3600),
    (lambda v: in_inside(f"standby delay minimum {v}"), "standby delay minimum", 0, 10000),
    (lambda v: in_inside(f"standby delay minimum 1 reload {v}"), "standby delay reload", 0, 10000),
    (lambda v: in_inside(f"standby 1 timers {v} 255"), "hello time", 1, 254),
    (lambda v: in_inside(f"standby 1 timers msec 15 {v}"), "hold time", 1, 255),
    (lambda v: in_inside(f"standby 1 timers msec {v} 3"), "hello time msec", 15, 999),
    (lambda v: in_inside(f"standby 1 timers msec 15 msec {v}"), "hold time msec", 50, 3000),
    (lambda v: in_inside(f"standby 1 track FastEthernet0/1 {v}"), "track decrement", 1, 255),
    (
        lambda v: edit(ROUTER1, "ssp group 1\n", f"ssp group {v}\n").replace("ssp 1", f"ssp {v}"),
        "ssp group",
        1,
        100,
    ),
    (lambda v: in_ssp(f"port {v}"), "port", 1024, 49150),
    (lambda v: edit(ROUTER1, "policy 1\n", f"policy {v}\n"), "policy priority", 1, 10000),
    (lambda v: in_policy(f"lifetime {v}"), "lifetime", 60, 86400),
    (lambda v: at_end(f"crypto isakmp keepalive {v}"), "keepalive", 10, 3600),
    (lambda v: at_end(f"crypto isakmp keepalive 10 {v}"), "keepalive retry", 2, 60),
    (
        lambda v: at_end(f"crypto map CMAP_1 ha replay-interval inbound {v} outbound 1"),
        "replay-interval inbound",
        0,
        10000,
    ),
    (
        lambda v: at_end(f"crypto map CMAP_1 ha replay-interval inbound 1 outbound {v}"),
        "replay-interval outbound",
        1,
        10,
    ),
    (
        lambda v: edit(ROUTER1, "CMAP_1 1 ipsec", f"CMAP_1 {v} ipsec"),
        "crypto map sequence number",
        1,
        65535,
    ),
    (
        lambda v: at_end(f"crypto ipsec security-association lifetime seconds {v}"),
        "lifetime seconds",
        120,
        86400,
    ),
    (
        lambda v: at_end(f"crypto ipsec security-association lifetime kilobytes {v}"),
        "lifetime kilobytes",
        2560,
        536870912,
    ),
    (
        lambda v: in_map(f"set security-association lifetime seconds {v}"),
        "lifetime seconds",
        120,
        86400,
    ),
    (
        lambda v: edit(ROUTER1, "crypto-card vam\n", f"crypto-card vam capacity {v}\n"),
        "capacity",
        1,
        1_000_000,
    ),
]


@pytest.mark.parametrize(
    ("make", "field", "low", "high"),
    BOUNDARIES,
    ids=[f"{b[1]}-{i}" for i, b in enumerate(BOUNDARIES)],
)
def test_range_boundaries(make: Callable[[int], str], field: str, low: int, high: int) -> None:
    parse_config(make(low))
    parse_config(make(high))
    outside = [high + 1] + ([low - 1] if low > 0 else [])
    for value in outside:
        text = make(value)
        found = diagnostics(text)
        messages = [d.message for d in found]
        assert f"{field} {value} out of range {low}-{high}" in messages, messages
        wanted = next(d for d in found if d.message.startswith(f"{field} {value}"))
        assert wanted.line == line_of(text, wanted.command)


def test_negative_and_huge_numbers_are_named_errors() -> None:
    error = one_error(in_inside("standby 1 priority -1"))
    assert error.message == "priority '-1' is not a number (range 1-255)"
    huge = "9" * 5000
    error = one_error(in_inside(f"standby 1 priority {huge}"))
    assert error.message.startswith("priority '999")
    assert "out of range 1-255" in error.message


def test_acl_number_ranges() -> None:
    for number in (100, 199, 2000, 2699):
        cfg = parse_config(at_end(f"access-list {number} permit ip any any"))
        assert str(number) in cfg.access_lists
    assert "standard list" in one_error(at_end("access-list 99 permit ip any any")).message
    for number in (200, 2700, 0):
        error = one_error(at_end(f"access-list {number} permit ip any any"))
        assert error.message == f"access-list number {number} out of range 100-199, 2000-2699"


# ---------------------------------------------------------------------------
# Errors: all at once, with line numbers; unknown commands; cross-references


def test_every_error_of_a_file_is_reported_at_once() -> None:
    text = edit(ROUTER1, " standby 1 preempt\n", " standby 1 priority 300\n standby 1 preempt\n")
    text = edit(text, " encr 3des\n", " encr blowfish\n")
    text = at_end("frobnicate now", text)
    text = edit(text, " match address 100\n", " match address 101\n")
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="router1.cfg")
    found = caught.value.diagnostics
    assert [d.line for d in found] == sorted(d.line for d in found)
    expected = {
        line_of(text, "standby 1 priority 300"): "priority 300 out of range 1-255",
        line_of(text, "encr blowfish"): "encryption 'blowfish' is not one of",
        line_of(text, "frobnicate"): "unknown command in global configuration mode",
        line_of(text, "match address 101"): "access list 101 is not defined",
    }
    assert len(found) == len(expected)
    for diagnostic in found:
        assert expected[diagnostic.line] in diagnostic.message
        assert diagnostic.source == "router1.cfg"
    report = str(caught.value)
    assert len(report.splitlines()) == 4
    priority_line = line_of(text, "standby 1 priority 300")
    assert (
        f"router1.cfg:{priority_line}: standby 1 priority 300: priority 300 out of range 1-255"
        in report.splitlines()
    )
    assert isinstance(caught.value, ValueError)


def test_unknown_commands() -> None:
    error = one_error(at_end("router ospf 1"))
    assert error.message == "unknown command in global configuration mode"
    assert error.command == "router ospf 1"
    assert error.line == line_of(at_end("router ospf 1"), "router ospf")
    # An unknown interface command leaves the interface and is unknown globally.
    error = one_error(in_inside("ip helper-address 1.2.3.4"))
    assert error.command == "ip helper-address 1.2.3.4"
    assert "prompt" in one_error(at_end("Router(config)# hostname x")).message
    assert "only valid under ssp group" in one_error(at_end("remote 1.1.1.1")).message
    assert "standby option 'foo'" in one_error(in_inside("standby 1 foo")).message


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            " standby 1 track FastEthernet0/1\n",
            " standby 1 track FastEthernet0/7\n",
            "tracked interface FastEthernet0/7 is not configured",
        ),
        (
            " match address 100\n",
            " match address SOMETHING\n",
            "access list SOMETHING is not defined",
        ),
        (
            " set transform-set TRANSFORMSET_1\n",
            " set transform-set TS9\n",
            "transform-set TS9 is not defined",
        ),
        (" crypto map CMAP_1 ssp 1\n", " crypto map CMAP_1 ssp 2\n", "ssp group 2 is not defined"),
        ("crypto isakmp ssp 1\n", "crypto isakmp ssp 3\n", "ssp group 3 is not defined"),
        (
            " crypto map CMAP_1 ssp 1\n",
            " crypto map CMAP_9 ssp 1\n",
            "crypto map CMAP_9 is not defined",
        ),
        (
            " redundancy LAN\n",
            " redundancy WAN\n",
            "no HSRP group is named WAN (standby N name WAN); group names: ISP, LAN",
        ),
        (
            " redundancy LAN\n",
            " redundancy lan\n",
            "no HSRP group is named lan; did you mean LAN? (redundancy names are case-sensitive)",
        ),
        (" remote 172.16.31.6\n", "", "ssp group 1 has no remote command"),
        (" set peer 192.168.3.1\n", "", "crypto map CMAP_1 1 is incomplete: no set peer"),
        (" match address 100\n", "", "crypto map CMAP_1 1 is incomplete: no match address"),
        (
            " standby 1 ip 172.16.31.1\n",
            "",
            "standby 1 has no 'standby 1 ip' command on FastEthernet0/0",
        ),
        (
            " standby 1 ip 172.16.31.1\n",
            " standby 1 ip 172.16.32.1\n",
            "standby 1 ip 172.16.32.1 is outside FastEthernet0/0's subnet 172.16.31.0/24",
        ),
        (
            " standby 1 ip 172.16.31.1\n",
            " standby 1 ip 172.16.31.100\n",
            "standby 1 ip 172.16.31.100 equals the interface address",
        ),
        (" standby 2 name ISP\n", " standby 2 name LAN\n", "name LAN is already used"),
        (
            " ip address 40.0.0.100 255.255.255.0\n",
            " ip address 172.16.31.101 255.255.255.0\n",
            "overlaps FastEthernet0/0",
        ),
        (
            " ip address 40.0.0.100 255.255.255.0\n",
            " ip address 40.0.0.0 255.255.255.0\n",
            "ip address 40.0.0.0 is not a host address of 40.0.0.0/24",
        ),
        (
            " ip address 40.0.0.100 255.255.255.0\n",
            " ip address 40.0.0.100 255.0.255.0\n",
            "mask 255.0.255.0 is not a contiguous netmask",
        ),
        (
            "permit ip any 192.168.4.0 0.0.0.255",
            "permit ip any 192.168.4.0.0.0.0.255",
            "destination '192.168.4.0.0.0.0.255' is not an IPv4 address",
        ),
    ],
)
def test_semantic_errors(old: str, new: str, message: str) -> None:
    text = edit(ROUTER1, old, new)
    found = diagnostics(text)
    assert any(message in d.message for d in found), [str(d) for d in found]


@pytest.mark.parametrize(
    ("addition", "message"),
    [
        ("interface FastEthernet 0/0", "interface FastEthernet0/0 already defined at line"),
        ("crypto isakmp policy 1", "isakmp policy 1 already defined at line"),
        (
            "crypto ipsec transform-set TRANSFORMSET_1 esp-des",
            "transform-set TRANSFORMSET_1 already",
        ),
        ("ssp group 1\n remote 1.1.1.1", "ssp group 1 already defined"),
        ("crypto map CMAP_1 1 ipsec-isakmp", "crypto map CMAP_1 1 already defined"),
        ("ip access-list extended 100", "access list 100 already defined"),
        ("interface Fa0/1\n crypto map CMAP_1", None),
    ],
)
def test_duplicate_definitions(addition: str, message: str | None) -> None:
    text = at_end(addition)
    found = diagnostics(text)
    if message is None:
        # Re-entering Fa0/1 is a duplicate block; the map line is checked all the same.
        assert any("already defined" in d.message for d in found)
        return
    assert any(message in d.message for d in found), [str(d) for d in found]


def test_one_crypto_map_per_interface() -> None:
    text = edit(
        ROUTER1, " crypto map CMAP_1 ssp 1\n", " crypto map CMAP_1 ssp 1\n crypto map CMAP_1\n"
    )
    assert "only one crypto map set per interface" in one_error(text).message


def test_duplicate_vip_across_groups() -> None:
    text = in_inside("standby 3 ip 172.16.31.1")
    assert "already used by FastEthernet0/0 standby 1" in one_error(text).message


def test_load_config_skips_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.cfg"
    path.write_bytes(b"\xef\xbb\xbf" + ROUTER1.encode())
    assert load_config(path) == parse_config(ROUTER1)


def test_load_config_reports_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "missing.cfg")
    assert "cannot read file" in str(caught.value)
    binary = tmp_path / "binary.cfg"
    binary.write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(ConfigError):
        load_config(binary)


def test_ambiguous_outside_interface_is_a_config_error() -> None:
    text = at_end(
        "interface Fa0/2\n ip address 10.0.0.2 255.255.255.0\n standby 3 ip 10.0.0.1\n"
        " crypto map CMAP_1"
    )
    cfg = parse_config(text)
    with pytest.raises(ConfigError, match="cannot tell the inside from the outside"):
        cfg.outside_interface()
    text = at_end("interface Fa0/2\n ip address 10.0.0.2 255.255.255.0\n standby 3 ip 10.0.0.1")
    with pytest.raises(ConfigError, match="several HSRP interfaces without a crypto map"):
        parse_config(text).inside_interface()


# ---------------------------------------------------------------------------
# Transform sets (Table 2)


@pytest.mark.parametrize(
    ("words", "transforms"),
    [
        ("ah-md5-hmac", ("ah-md5-hmac",)),
        ("esp-des", ("esp-des",)),
        ("esp-3des esp-md5-hmac", ("esp-3des", "esp-md5-hmac")),
        ("ah-sha-hmac esp-des esp-sha-hmac", ("ah-sha-hmac", "esp-des", "esp-sha-hmac")),
        ("comp-lzs", ("comp-lzs",)),
        ("esp-aes esp-sha-hmac", ("esp-aes", "esp-sha-hmac")),
        ("esp-aes 128 esp-sha-hmac", ("esp-aes", "esp-sha-hmac")),
        ("esp-aes 256 esp-md5-hmac", ("esp-aes 256", "esp-md5-hmac")),
        ("ah-sha-hmac esp-aes 192 esp-sha-hmac", ("ah-sha-hmac", "esp-aes 192", "esp-sha-hmac")),
        ("esp-null esp-sha-hmac", ("esp-null", "esp-sha-hmac")),
        ("esp-gcm 256", ("esp-gcm 256",)),
        ("esp-gcm", ("esp-gcm",)),
        ("ESP-3DES ESP-SHA-HMAC", ("esp-3des", "esp-sha-hmac")),
        ("esp-des comp-lzs", ("esp-des", "comp-lzs")),
    ],
)
def test_allowed_transform_combinations(words: str, transforms: tuple[str, ...]) -> None:
    text = edit(ROUTER1, "esp-3des esp-sha-hmac", words)
    if "aes" in words or "gcm" in words:
        text = edit(text, "crypto-card vam\n", "crypto-card none\n")
    assert parse_config(text).transform_sets["TRANSFORMSET_1"].transforms == transforms


def test_transform_fields() -> None:
    transform_set = parse_transforms("t", ["ah-md5-hmac", "esp-aes", "192", "esp-sha-hmac"])
    assert transform_set.ah == "ah-md5-hmac"
    assert (transform_set.esp_encryption, transform_set.esp_key_bits) == ("esp-aes", 192)
    assert transform_set.esp_authentication == "esp-sha-hmac"
    assert transform_set.compression is None


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ("ah-md5-hmac ah-sha-hmac", "second AH transform"),
        ("esp-des esp-3des", "second ESP encryption transform"),
        ("esp-des esp-md5-hmac esp-sha-hmac", "second ESP authentication transform"),
        ("comp-lzs comp-lzs", "second compression transform"),
        ("esp-md5-hmac", "needs an ESP encryption transform"),
        ("esp-gcm esp-sha-hmac", "cannot be combined with esp-sha-hmac"),
        ("ah-sha-hmac esp-des esp-sha-hmac comp-lzs", "at most 3"),
        ("esp-256-aes esp-md5-hmac", "transform 'esp-256-aes' is not one of"),
        ("esp-aes 512", "esp-aes key size 512 out of range 128-256"),
        ("esp-aes 160", "esp-aes key size 160 is not 128, 192 or 256"),
        ("", "at least one transform is required"),
    ],
)
def test_rejected_transform_combinations(words: str, message: str) -> None:
    text = edit(ROUTER1, "TRANSFORMSET_1 esp-3des esp-sha-hmac", f"TRANSFORMSET_1 {words}".strip())
    # One error: the set's name stays defined, so its users are not reported too.
    assert message in one_error(text).message


# ---------------------------------------------------------------------------
# Interface names


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("FastEthernet0/1", "FastEthernet0/1"),
        ("fastEthernet 0/1", "FastEthernet0/1"),
        ("Fa0/1", "FastEthernet0/1"),
        ("FA 0/1", "FastEthernet0/1"),
        ("f0/1", "FastEthernet0/1"),
        ("GigabitEthernet1/0/2", "GigabitEthernet1/0/2"),
        ("Gi0/0", "GigabitEthernet0/0"),
        ("gig 0/0.100", "GigabitEthernet0/0.100"),
        ("Ethernet0", "Ethernet0"),
        ("e 1", "Ethernet1"),
        ("Serial0/0", "Serial0/0"),
        ("se1/0", "Serial1/0"),
        ("Loopback0", "Loopback0"),
        ("lo 5", "Loopback5"),
        ("Tu1", "Tunnel1"),
    ],
)
def test_interface_name_normalisation(written: str, canonical: str) -> None:
    assert canonical_interface_name(written) == canonical


@pytest.mark.parametrize("written", ["Fa", "0/1", "Bogus0/1", "Fa0/1/2/3", "Fa-0/1", ""])
def test_bad_interface_names(written: str) -> None:
    with pytest.raises(ValueError, match="interface"):
        canonical_interface_name(written)
    with pytest.raises(CommandError):
        canonical_interface_name(written)


def test_interface_spellings_in_a_config() -> None:
    text = edit(ROUTER1, "interface FastEthernet0/0\n", "interface fastEthernet 0/0\n")
    text = edit(text, "interface FastEthernet0/1\n", "interface FA0/1\n")
    text = edit(text, "track FastEthernet0/0\n", "track fa 0/0\n")
    assert parse_config(text) == parse_config(ROUTER1)
    cfg = parse_config(ROUTER1)
    assert cfg.interface("fa0/0") == cfg.interfaces[0]
    assert cfg.interface("not an interface") is None
    assert cfg.interface("Fa0/9") is None


# ---------------------------------------------------------------------------
# Access lists


def test_named_acl_with_ports_and_first_match() -> None:
    text = at_end(
        "ip access-list extended CRYPTO\n"
        " remark protect web and IKE, never telnet\n"
        " deny tcp any any eq telnet\n"
        " permit tcp 172.16.31.0 0.0.0.255 host 192.168.4.10 range 80 443 log\n"
        " permit udp any eq isakmp any eq 500\n"
        " deny icmp any any\n"
        " permit 47 any any\n"
    )
    acl = parse_config(text).access_lists["CRYPTO"]
    src, web = IPv4Address("172.16.31.9"), IPv4Address("192.168.4.10")
    assert acl.remarks == ("protect web and IKE, never telnet",)
    assert acl.matches(src, web, TCP, 40000, 23) is False
    assert acl.matches(src, web, TCP, 40000, 443) is True
    assert acl.matches(src, web, TCP, 40000, 444) is None
    assert acl.matches(src, web, TCP) is None  # ports unknown: a port entry cannot match
    assert acl.matches(src, web, UDP, 500, 500) is True
    assert acl.matches(src, web, UDP, 501, 500) is None
    assert acl.matches(src, web, 1) is False
    assert acl.matches(src, web, 47) is True
    assert acl.entries[1].log is True
    assert str(acl.entries[1].source) == "172.16.31.0 0.0.0.255"
    assert str(acl.entries[1].destination) == "host 192.168.4.10"
    assert str(acl.entries[1].destination_port) == "range 80 443"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("permit ip any", "destination address missing"),
        ("permit ip any any extra", "unexpected 'extra' after the destination"),
        ("permit ip any any eq 80", "port match 'eq' is only valid for tcp and udp"),
        ("permit tcp any any eq 70000", "destination port 70000 out of range 0-65535"),
        ("permit tcp any any range 90 80", "first port above second"),
        ("permit bogus any any", "protocol 'bogus' is not one of"),
        ("permit 256 any any", "protocol 256 out of range 0-255"),
        ("permit ip host", "source host address missing"),
        ("permit ip 10.0.0.0 any", "source wildcard 'any' is not an IPv4 address"),
        ("allow ip any any", "unknown command"),
    ],
)
def test_bad_acl_entries(entry: str, message: str) -> None:
    text = at_end(f"ip access-list extended X\n {entry}")
    found = diagnostics(text)
    assert any(message in d.message for d in found), [str(d) for d in found]


def test_acl_numbered_and_named_do_not_mix() -> None:
    text = at_end(
        "ip access-list extended 150\n permit ip any any\naccess-list 150 permit ip any any"
    )
    assert "access list 150 is already defined" in one_error(text).message


# ---------------------------------------------------------------------------
# Never anything but ConfigError


def _parses_or_config_error(text: str) -> None:
    errors: tuple[Diagnostic, ...] = ()
    try:
        cfg = parse_config(text)
    except ConfigError as exc:
        errors = exc.diagnostics
    if errors:
        assert all(d.message for d in errors)
        return
    assert isinstance(cfg, RouterConfig)
    # The helpers either answer or raise ConfigError.
    with contextlib.suppress(ConfigError):
        cfg.inside_interface()


@given(st.text(max_size=400))
def test_arbitrary_text_parses_or_raises_config_error(text: str) -> None:
    _parses_or_config_error(text)


EXTRA_TOKENS = """
    0 -1 1 2 5 100 256 3249 65536 99999999999999999999 msec any host 255.255.255.255 0.0.0.0
    1.2.3.4 Fa0/9 Gi0/0 dynamic ha replay-interval inbound outbound ssp exit end esp-aes 256
    esp-gcm ah-md5-hmac comp-lzs eq range tcp udp delay minimum reload sync track decrement
    priority authentication text name keepalive hostname address secondary shutdown no mode
    transport crypto-card vam2 capacity ip access-list extended permit deny remark interface
    standby timers preempt set pfs group5 peer match lifetime seconds kilobytes
    security-association ١٢
"""
TOKENS = sorted(set(ROUTER1.split()) | set(EXTRA_TOKENS.split()))


@st.composite
def mutated_example(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from([ROUTER1, ROUTER2])).splitlines()
    word = st.one_of(st.sampled_from(TOKENS), st.text(max_size=8))
    for _ in range(draw(st.integers(1, 6))):
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(
            st.sampled_from(["replace-word", "insert-word", "delete", "duplicate", "new"])
        )
        words = lines[index].split()
        if action == "replace-word" and words:
            words[draw(st.integers(0, len(words) - 1))] = draw(word)
            lines[index] = " " + " ".join(words)
        elif action == "insert-word":
            words.insert(draw(st.integers(0, len(words))), draw(word))
            lines[index] = " " + " ".join(words)
        elif action == "delete":
            del lines[index]
            if not lines:
                lines.append("")
        elif action == "duplicate":
            lines.insert(index, lines[index])
        else:
            lines.insert(index, " ".join(draw(st.lists(word, min_size=1, max_size=5))))
    return "\n".join(lines)


@given(mutated_example())
def test_mutated_examples_parse_or_raise_config_error(text: str) -> None:
    _parses_or_config_error(text)
