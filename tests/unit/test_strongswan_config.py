"""impl/live/strongswan: the peer's configuration, ``swanctl --list-sas`` and charon's log.

The log and status texts below are facts about strongSwan 5.9.8 (Debian 12): lines
charon and swanctl wrote on this project's machine with the levels
``strongswan_conf`` sets, shortened to what each test needs.
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import pytest
from vpnha.impl.config import RouterConfig, load_config, parse_config
from vpnha.impl.config.crypto import parse_transforms
from vpnha.impl.live.lab import LabOptions, _config_text
from vpnha.impl.live.strongswan import (
    PLUGINS,
    ChildSpec,
    PeerConfigError,
    StrongSwanPeer,
    esp_proposal,
    ike_proposal,
    parse_charon_log,
    parse_list_sas,
    remote_peer_spec,
    router_role_spec,
    strongswan_conf,
    swanctl_conf,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ROUTER1_TEXT = (EXAMPLES / "router1.cfg").read_text()


@pytest.fixture(scope="module")
def router1() -> RouterConfig:
    return load_config(EXAMPLES / "router1.cfg")


def _edited(old: str, new: str) -> RouterConfig:
    assert old in ROUTER1_TEXT
    return parse_config(ROUTER1_TEXT.replace(old, new))


# ---------------------------------------------------------------------------
# Configuration


def test_example_peer_is_the_crypto_maps_set_peer_towards_the_outside_vip(
    router1: RouterConfig,
) -> None:
    spec = remote_peer_spec(router1)
    assert spec.local_address == IPv4Address("192.168.3.1")
    assert spec.remote_address == IPv4Address("40.0.0.1")
    assert spec.psk == "cisco"
    assert spec.ike_proposals == ("3des-sha1-modp1024",)
    assert spec.esp_proposals == ("3des-sha1",)
    assert spec.children == (
        ChildSpec(
            name="CMAP_1-1",
            local_ts=IPv4Network("192.168.4.0/24"),
            remote_ts=IPv4Network("172.16.31.0/24"),
        ),
    )
    assert (spec.ike_lifetime_s, spec.child_lifetime_s) == (86400, 3600)
    assert spec.child_lifetime_kb == 4_608_000
    assert (spec.dpd_delay_s, spec.dpd_timeout_s) == (10, 30)
    assert spec.initiator
    assert "cisco" not in repr(spec)


def test_both_routers_give_the_same_peer(router1: RouterConfig) -> None:
    router2 = load_config(EXAMPLES / "router2.cfg")
    assert remote_peer_spec(router2) == remote_peer_spec(router1)


def test_peer_swanctl_conf_says_ikev1_main_mode_psk_with_encap_and_dpd(
    router1: RouterConfig,
) -> None:
    text = swanctl_conf(remote_peer_spec(router1, dpd_delay_s=2, dpd_timeout_s=7))
    lines = {line.strip() for line in text.splitlines()}
    for expected in (
        "version = 1",
        "aggressive = no",
        "local_addrs = 192.168.3.1",
        "remote_addrs = 40.0.0.1",
        "proposals = 3des-sha1-modp1024",
        "encap = yes",
        "dpd_delay = 2s",
        "dpd_timeout = 7s",
        # 77760 + 8640 = 86400 s: what Main Mode proposes on the wire.
        "reauth_time = 77760s",
        "over_time = 8640s",
        "rekey_time = 0s",
        "rand_time = 0s",
        "id = 192.168.3.1",
        "id = 40.0.0.1",
        "auth = psk",
        "local_ts = 192.168.4.0/24",
        "remote_ts = 172.16.31.0/24",
        "esp_proposals = 3des-sha1",
        "rekey_time = 3240s",
        "life_time = 3600s",
        # Quick Mode proposes life_bytes / 1000 kilobytes: 4608000.
        "life_bytes = 4608000000",
        "rekey_bytes = 4147200000",
        "dpd_action = clear",
        "mode = tunnel",
        "secret = 0x636973636f",  # "cisco"
    ):
        assert expected in lines, expected
    assert text.count("{") == text.count("}")
    assert "cisco" not in text


def test_router_role_is_the_mirror_and_only_responds(router1: RouterConfig) -> None:
    peer = remote_peer_spec(router1)
    mirror = router_role_spec(peer)
    assert (mirror.local_address, mirror.remote_address) == (
        peer.remote_address,
        peer.local_address,
    )
    assert mirror.children[0].local_ts == peer.children[0].remote_ts
    assert mirror.children[0].remote_ts == peer.children[0].local_ts
    assert not mirror.initiator
    assert mirror.dpd_delay_s == 0
    text = swanctl_conf(mirror)
    assert "dpd_delay" not in text
    assert "local_addrs = 40.0.0.1" in text
    assert "id-local = 40.0.0.1" in text
    assert router_role_spec(peer, dpd_delay_s=10).dpd_timeout_s == 30


@pytest.mark.parametrize(
    ("encryption", "hash_name", "group", "expected"),
    [
        ("3des", "sha", 2, "3des-sha1-modp1024"),
        ("des", "md5", 1, "des-md5-modp768"),
        ("aes", "sha", 5, "aes128-sha1-modp1536"),
        ("aes 192", "md5", 2, "aes192-md5-modp1024"),
        ("aes 256", "sha", 5, "aes256-sha1-modp1536"),
    ],
)
def test_ike_proposal_names(encryption: str, hash_name: str, group: int, expected: str) -> None:
    assert ike_proposal(encryption, hash_name, group) == expected


def test_ike_proposal_refuses_an_unknown_group() -> None:
    with pytest.raises(PeerConfigError, match="group 14"):
        ike_proposal("3des", "sha", 14)


@pytest.mark.parametrize(
    ("transforms", "pfs", "expected"),
    [
        (["esp-3des", "esp-sha-hmac"], None, "3des-sha1"),
        (["esp-des", "esp-md5-hmac"], None, "des-md5"),
        (["esp-aes", "esp-sha-hmac"], "group2", "aes128-sha1-modp1024"),
        (["esp-aes", "192", "esp-md5-hmac"], "group1", "aes192-md5-modp768"),
        (["esp-aes", "256", "esp-sha-hmac"], "group5", "aes256-sha1-modp1536"),
        (["esp-null", "esp-sha-hmac"], None, "null-sha1"),
        (["esp-gcm", "256"], None, "aes256gcm16"),
    ],
)
def test_esp_proposal_names(transforms: list[str], pfs: str | None, expected: str) -> None:
    assert esp_proposal(parse_transforms("TS", transforms), pfs) == expected


@pytest.mark.parametrize(
    ("transforms", "why"),
    [
        (["ah-sha-hmac", "esp-3des", "esp-sha-hmac"], "ESP only"),
        (["esp-3des", "esp-sha-hmac", "comp-lzs"], "ESP only"),
        (["esp-3des"], "authentication transform"),
    ],
)
def test_esp_proposal_refuses_what_libipsec_cannot_do(transforms: list[str], why: str) -> None:
    with pytest.raises(PeerConfigError, match=why):
        esp_proposal(parse_transforms("TS", transforms))


def test_transport_mode_is_refused() -> None:
    transport = replace(parse_transforms("TS", ["esp-3des", "esp-sha-hmac"]), mode="transport")
    with pytest.raises(PeerConfigError, match="tunnel mode"):
        esp_proposal(transport)


def test_policies_transform_sets_pfs_and_lifetimes_follow_the_config() -> None:
    config = parse_config(
        ROUTER1_TEXT.replace(
            "crypto isakmp policy 1\n encr 3des\n authentication pre-share\n group 2\n",
            "crypto isakmp policy 1\n encr aes 256\n authentication pre-share\n group 5\n"
            " lifetime 28800\n"
            "crypto isakmp policy 5\n encr 3des\n hash md5\n authentication rsa-sig\n"
            "crypto isakmp policy 10\n encr 3des\n authentication pre-share\n group 2\n",
        )
        .replace(
            "crypto ipsec transform-set TRANSFORMSET_1 esp-3des esp-sha-hmac\n",
            "crypto ipsec transform-set TRANSFORMSET_1 esp-3des esp-sha-hmac\n"
            "crypto ipsec transform-set FAST esp-aes 256 esp-sha-hmac\n",
        )
        .replace(
            " set transform-set TRANSFORMSET_1\n",
            " set transform-set FAST TRANSFORMSET_1\n set pfs group5\n"
            " set security-association lifetime seconds 1200\n"
            " set security-association lifetime kilobytes 10000\n",
        )
        .replace("hostname 7200-1\n", "hostname 7200-1\ncrypto isakmp keepalive 15\n")
    )
    spec = remote_peer_spec(config)
    assert spec.ike_proposals == ("aes256-sha1-modp1536", "3des-sha1-modp1024")  # rsa-sig left out
    assert spec.ike_lifetime_s == 28800  # the shorter of the two, acceptable to both policies
    assert spec.esp_proposals == ("aes256-sha1-modp1536", "3des-sha1-modp1536")
    assert (spec.child_lifetime_s, spec.child_lifetime_kb) == (1200, 10000)
    assert (spec.dpd_delay_s, spec.dpd_timeout_s) == (15, 45)  # crypto isakmp keepalive
    text = swanctl_conf(spec)
    assert "proposals = aes256-sha1-modp1536, 3des-sha1-modp1024" in text
    assert "esp_proposals = aes256-sha1-modp1536, 3des-sha1-modp1536" in text
    assert "life_bytes = 10000000" in text


def test_each_permit_entry_is_a_child_and_a_specific_source_is_kept() -> None:
    config = _edited(
        "access-list 100 permit ip any 192.168.4.0 0.0.0.255\n",
        "access-list 100 permit ip any 192.168.4.0 0.0.0.255\n"
        "access-list 100 permit ip 10.1.0.0 0.0.255.255 host 192.168.5.9\n",
    )
    children = remote_peer_spec(config).children
    assert [c.name for c in children] == ["CMAP_1-1", "CMAP_1-1-2"]
    assert children[1].local_ts == IPv4Network("192.168.5.9/32")
    assert children[1].remote_ts == IPv4Network("10.1.0.0/16")


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        (
            "access-list 100 permit ip any 192.168.4.0 0.0.0.255\n",
            "access-list 100 deny ip any host 192.168.4.7\n"
            "access-list 100 permit ip any 192.168.4.0 0.0.0.255\n",
            "deny",
        ),
        (
            "access-list 100 permit ip any 192.168.4.0 0.0.0.255\n",
            "access-list 100 permit tcp any 192.168.4.0 0.0.0.255 eq 80\n",
            "permit ip",
        ),
        (
            "access-list 100 permit ip any 192.168.4.0 0.0.0.255\n",
            "access-list 100 permit ip any 192.168.4.0 0.0.255.0\n",
            "contiguous",
        ),
        (
            "crypto isakmp key cisco address 192.168.3.1\n",
            "crypto isakmp key cisco address 192.168.9.1\n",
            "no crypto isakmp key",
        ),
        (" authentication pre-share\n", "", "pre-share"),
    ],
)
def test_what_strongswan_cannot_say_is_refused_with_the_reason(
    old: str, new: str, why: str
) -> None:
    with pytest.raises(PeerConfigError, match=why):
        remote_peer_spec(_edited(old, new))


def test_a_peer_not_in_the_map_is_refused(router1: RouterConfig) -> None:
    with pytest.raises(PeerConfigError, match=r"set peer 10\.0\.0\.9"):
        remote_peer_spec(router1, peer=IPv4Address("10.0.0.9"))


def test_a_key_for_the_peers_subnet_is_used() -> None:
    config = _edited(
        "crypto isakmp key cisco address 192.168.3.1\n",
        'crypto isakmp key s3cr"t\\x address 192.168.3.0 255.255.255.0\n',
    )
    spec = remote_peer_spec(config)
    assert spec.psk == 's3cr"t\\x'
    assert f"secret = 0x{spec.psk.encode().hex()}" in swanctl_conf(spec)


def test_strongswan_conf_sets_plugins_socket_log_and_levels() -> None:
    text = strongswan_conf(vici_socket="unix:///w/charon.vici", log_path="/w/charon.log")
    lines = {line.strip() for line in text.splitlines()}
    assert f"load = {PLUGINS}" in lines
    plugins = PLUGINS.split()
    assert {"kdf", "openssl", "kernel-libipsec", "vici"} <= set(plugins)
    assert "des" not in plugins  # no such plugin: 3DES and DES come from openssl
    assert plugins.index("kernel-libipsec") < plugins.index("kernel-netlink")
    assert "socket = unix:///w/charon.vici" in lines
    assert "path = /w/charon.log" in lines
    assert {"default = 1", "chd = 2", "delete_rekeyed = no", "flush_line = yes"} <= lines
    keyed = strongswan_conf(
        vici_socket="unix:///w/v",
        log_path="/w/l",
        log_keys=True,
        delete_rekeyed=True,
        extra_log_levels={"ike": 4},
    )
    assert {"chd = 4", "ike = 4", "delete_rekeyed = yes"} <= {
        line.strip() for line in keyed.splitlines()
    }
    assert text.count("{") == text.count("}")


def test_peer_process_writes_nothing_before_start(tmp_path: Path, router1: RouterConfig) -> None:
    peer = StrongSwanPeer(swanctl_conf(remote_peer_spec(router1)), workdir=tmp_path / "p")
    assert peer.pid is None
    assert peer.vici_uri == f"unix://{tmp_path / 'p' / 'charon.vici'}"
    assert peer.log_text() == ""
    peer.close()  # nothing started: nothing to stop
    assert not (tmp_path / "p").exists()


def test_reauthenticate_names_the_ike_sa_by_number_when_given(
    tmp_path: Path, router1: RouterConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    peer = StrongSwanPeer(swanctl_conf(remote_peer_spec(router1)), workdir=tmp_path / "p")
    commands: list[tuple[str, ...]] = []

    def swanctl(*args: str, timeout_s: float | None = None) -> str:
        commands.append(args)
        return ""

    monkeypatch.setattr(peer, "swanctl", swanctl)
    peer.reauthenticate("CMAP_1-1", ike_id=3)
    peer.reauthenticate("CMAP_1-1")
    assert commands == [
        ("--rekey", "--ike-id", "3", "--reauth"),
        ("--rekey", "--ike", "CMAP_1-1", "--reauth"),
    ]


@pytest.mark.parametrize(
    "options",
    [{"reauth": True}, {"reauth": True, "peer": "strongswan", "ssp_cut": True}],
    ids=["own-peer", "ssp-cut"],
)
def test_lab_reauth_needs_the_strongswan_peer_and_no_ssp_cut(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="reauth needs the strongSwan peer"):
        LabOptions(**options)
    assert LabOptions(peer="strongswan", reauth=True).reauth_timeout_s > 10  # > grace time


# ---------------------------------------------------------------------------
# swanctl --list-sas --pretty

LIST_SAS = """\
list-sa event {
  cmap {
    uniqueid = 2
    version = 1
    state = ESTABLISHED
    local-host = 192.168.3.1
    local-port = 4500
    local-id = 192.168.3.1
    remote-host = 40.0.0.1
    remote-port = 4500
    remote-id = 40.0.0.1
    initiator = yes
    initiator-spi = 69e9d8158ac705dd
    responder-spi = be91239a3f3ec2c3
    nat-remote = yes
    nat-any = yes
    encr-alg = 3DES_CBC
    integ-alg = HMAC_SHA1_96
    prf-alg = PRF_HMAC_SHA1
    dh-group = MODP_1024
    established = 727
    reauth-time = 77033
    child-sas {
      cmap-1 {
        name = cmap
        uniqueid = 1
        reqid = 1
        state = INSTALLED
        mode = TUNNEL
        protocol = ESP
        encap = yes
        spi-in = 7bb46c0a
        spi-out = e7c74b00
        encr-alg = 3DES_CBC
        integ-alg = HMAC_SHA1_96
        bytes-in = 198
        packets-in = 6
        use-in = 84
        bytes-out = 198
        packets-out = 6
        use-out = 84
        rekey-time = 2513
        life-time = 2873
        install-time = 727
        local-ts = [
          192.168.4.0/24
        ]
        remote-ts = [
          172.16.31.0/24
        ]
      }
    }
  }
}
list-sas reply {
}
"""


def test_list_sas_is_parsed() -> None:
    (ike,) = parse_list_sas(LIST_SAS)
    assert (ike.name, ike.unique_id, ike.version, ike.state) == ("cmap", 2, 1, "ESTABLISHED")
    assert (ike.local_host, ike.local_port, ike.remote_host, ike.remote_port) == (
        "192.168.3.1",
        4500,
        "40.0.0.1",
        4500,
    )
    assert ike.initiator
    assert (ike.initiator_spi, ike.responder_spi) == ("69e9d8158ac705dd", "be91239a3f3ec2c3")
    (child,) = ike.children
    assert (child.name, child.unique_id, child.state) == ("cmap", 1, "INSTALLED")
    assert (child.protocol, child.encap) == ("ESP", True)
    assert (child.spi_in, child.spi_out) == (0x7BB46C0A, 0xE7C74B00)
    assert (child.encryption, child.integrity) == ("3DES_CBC", "HMAC_SHA1_96")
    assert (child.packets_in, child.packets_out) == (6, 6)
    assert (child.local_ts, child.remote_ts) == (("192.168.4.0/24",), ("172.16.31.0/24",))


def test_list_sas_with_nothing_up_is_empty() -> None:
    assert parse_list_sas("list-sas reply {\n}\n") == ()


# ---------------------------------------------------------------------------
# charon's log

ESTABLISH_AND_DPD = """\
13:27:30 00[DMN] Starting IKE charon daemon (strongSwan 5.9.8, Linux 6.18.44-fc-v782, x86_64)
13:27:31 14[IKE] IKE_SA CMAP_1-1[1] established between 192.168.3.1[192.168.3.1]...40.0.0.1[40.0.0.1]
13:27:31 14[IKE] CHILD_SA CMAP_1-1{1} established with SPIs 3f8fcd35_i 62dce409_o and TS 192.168.4.0/24 === 172.16.31.0/24
13:27:32 13[IKE] sending DPD request
13:27:32 13[ENC] generating INFORMATIONAL_V1 request 2087330635 [ HASH N(DPD) ]
13:27:32 02[ENC] parsed INFORMATIONAL_V1 request 2697055750 [ HASH N(DPD_ACK) ]
13:27:32 16[ENC] parsed INFORMATIONAL_V1 request 2087330635 [ HASH N(DPD) ]
13:27:32 16[ENC] generating INFORMATIONAL_V1 request 2697055750 [ HASH N(DPD_ACK) ]
"""  # noqa: E501


def test_establishment_and_dpd_are_counted() -> None:
    log = parse_charon_log(ESTABLISH_AND_DPD)
    assert (log.ike_sa_established, log.child_sa_established) == (1, 1)
    assert log.child_spis == ((0x3F8FCD35, 0x62DCE409),)
    assert (log.dpd_requests_sent, log.dpd_acks_received) == (1, 1)
    assert (log.dpd_requests_received, log.dpd_acks_sent) == (1, 1)
    assert log.replay_failures == ()
    assert log.keys == ()


REKEY_DELETE_REAUTH = """\
13:27:33 02[CHD] CHILD_SA CMAP_1-1{1} state change: INSTALLED => REKEYING
13:27:33 02[IKE] detected rekeying of CHILD_SA CMAP_1-1{1}
13:27:33 15[CHD] CHILD_SA CMAP_1-1{1} state change: REKEYING => REKEYED
13:27:34 00[CHD] CHILD_SA CMAP_1-1{1} state change: REKEYED => DELETING
13:27:34 00[IKE] sending DELETE for ESP CHILD_SA with SPI 3f8fcd35
13:27:34 00[IKE] sending DELETE for ESP CHILD_SA with SPI b852b074
13:27:34 00[IKE] sending DELETE for IKE_SA CMAP_1-1[1]
13:27:34 13[IKE] received DELETE for ESP CHILD_SA with SPI 3f8fcd35
13:27:34 14[IKE] received DELETE for IKE_SA CMAP_1-1[1]
13:11:13 13[IKE] reauthenticating IKE_SA cmap[1]
13:11:13 01[IKE] detected reauth of existing IKE_SA, adopting 1 children, 0 child tasks, and 0 virtual IPs
"""  # noqa: E501


def test_rekeys_deletes_and_reauthentications_are_counted() -> None:
    log = parse_charon_log(REKEY_DELETE_REAUTH)
    assert log.child_sa_rekeyed == 1
    assert (log.child_delete_sent, log.ike_delete_sent) == (2, 1)
    assert (log.child_delete_received, log.ike_delete_received) == (1, 1)
    assert (log.reauth_started, log.reauth_detected) == (1, 1)


# charon 5.9.8 as the IKEv1 initiator re-authenticating (``swanctl --rekey --ike-id 1
# --reauth``): a new Main Mode, the CHILD SA moves to IKE SA 2 without a Quick Mode, and
# the routers delete IKE SA 1 after their grace time (seen in ``vpnha lab --reauth``).
INITIATOR_REAUTH = """\
15:39:54 13[IKE] IKE_SA CMAP_1-1[1] established between 192.168.3.1[192.168.3.1]...40.0.0.1[40.0.0.1]
15:39:55 07[CFG] vici rekey IKE_SA 'CMAP_1-1'
15:39:55 09[IKE] reauthenticating IKE_SA CMAP_1-1[1]
15:39:55 09[IKE] initiating Main Mode IKE_SA CMAP_1-1[2] to 40.0.0.1
15:39:55 07[IKE] IKE_SA CMAP_1-1[2] established between 192.168.3.1[192.168.3.1]...40.0.0.1[40.0.0.1]
15:40:05 07[ENC] parsed INFORMATIONAL_V1 request 2127722916 [ HASH D ]
15:40:05 07[IKE] received DELETE for IKE_SA CMAP_1-1[1]
15:40:05 07[IKE] deleting IKE_SA CMAP_1-1[1] between 192.168.3.1[192.168.3.1]...40.0.0.1[40.0.0.1]
15:40:20 11[IKE] sending DELETE for IKE_SA CMAP_1-1[2]
"""  # noqa: E501


def test_ike_sa_numbers_of_establishment_reauth_and_delete_are_kept() -> None:
    log = parse_charon_log(INITIATOR_REAUTH)
    assert (log.ike_sa_established, log.reauth_started) == (2, 1)
    assert log.ike_sa_ids == (1, 2)
    assert log.reauthenticated_ids == (1,)
    assert log.ike_deletes == ((1, "received"), (2, "sent"))
    assert (log.ike_delete_received, log.ike_delete_sent) == (1, 1)
    assert log.child_sa_established == 0


def test_numbers_are_empty_without_those_lines() -> None:
    log = parse_charon_log(REKEY_DELETE_REAUTH)
    assert log.ike_sa_ids == ()
    assert log.reauthenticated_ids == (1,)
    assert log.ike_deletes == ((1, "sent"), (1, "received"))


DEAD_PEER = """\
13:11:28 01[IKE] sending DPD request
13:11:28 01[ENC] generating INFORMATIONAL_V1 request 3605077364 [ HASH N(DPD) ]
13:11:30 13[IKE] sending DPD request
13:11:30 13[ENC] generating INFORMATIONAL_V1 request 1616969810 [ HASH N(DPD) ]
13:11:32 09[JOB] DPD check timed out, enforcing DPD action
13:11:32 09[CHD] CHILD_SA cmap{1} state change: INSTALLED => DESTROYING
[IKE] initiating Main Mode IKE_SA cmap[1] to 40.0.0.1
13:20:01 12[IKE] initiating Main Mode IKE_SA cmap[1] to 40.0.0.1
13:20:02 05[IKE] sending retransmit 1 of request message ID 0, seq 1
13:20:03 07[IKE] sending retransmit 2 of request message ID 0, seq 1
13:20:04 09[IKE] giving up after 2 retransmits
13:20:04 09[IKE] establishing IKE_SA failed, peer not responding
"""


def test_dpd_timeouts_retransmits_and_give_ups_are_counted() -> None:
    log = parse_charon_log(DEAD_PEER)
    assert (log.dpd_requests_sent, log.dpd_acks_received) == (2, 0)
    assert log.dpd_timeouts == 1
    assert (log.retransmits, log.retransmit_give_ups) == (2, 1)
    assert log.ike_sa_established == 0


REPLAY = """\
13:27:34 08[ESP] ESP sequence number verification failed:
13:27:34 11[ENC] parsed INFORMATIONAL_V1 request 1445009542 [ HASH N(DPD) ]
13:27:34 08[ESP]   src 192.168.3.1, dst 40.0.0.1, SPI 5a18b460 [seq 3]
13:22:43 06[ESP] ESP sequence number verification failed:
13:22:43 06[ESP]   src 192.168.3.1, dst 40.0.0.1, SPI e7c74b00 [seq 6]
"""


def test_replay_failures_are_read_across_interleaved_threads() -> None:
    log = parse_charon_log(REPLAY)
    first, second = log.replay_failures
    assert (first.src, first.dst) == (IPv4Address("192.168.3.1"), IPv4Address("40.0.0.1"))
    assert (first.spi, first.seq) == (0x5A18B460, 3)
    assert (second.spi, second.seq) == (0xE7C74B00, 6)
    assert log.dpd_requests_received == 1


# The same Quick Mode in both logs: the peer initiated it, the router's role responded.
_KEY_DUMPS = """\
{t}[CHD] initiator SA seed => 69 bytes @ 0x7fbbe27cc9a0
{t}[CHD]    0: 03 62 DC E4 09 38 EB D2 71 DD 05 67 2B A0 ED 97  .b...8..q..g+...
{t}[CHD]   64: A3 28 BE 37 3E                                   .(.7>
{t}[CHD] encryption initiator key => 24 bytes @ 0x7fbbb0001050
{t}[CHD]    0: 79 77 9D 31 F7 93 54 AE BA 33 D1 48 81 93 17 0F  yw.1..T..3.H....
{t}[CHD]   16: 08 F3 BC 37 3C 3A 30 8A                          ...7<:0.
{t}[CHD] encryption responder key => 24 bytes @ 0x7fbbb0000bb0
{t}[CHD]    0: E6 30 69 4F A4 F8 15 9B 16 38 DF D2 06 1A BF B7  .0iO.....8......
{t}[CHD]   16: F4 66 DF B2 2F 6E A3 C7                          .f../n..
{t}[CHD] integrity initiator key => 20 bytes @ 0x7fbbb0002940
{t}[CHD]    0: F8 22 04 C2 DA 1D A2 01 80 C0 9E FF 03 D7 75 21  ."............u!
{t}[CHD]   16: AC 67 8A 1E                                      .g..
{t}[CHD] integrity responder key => 20 bytes @ 0x7fbbb0000cc0
{t}[CHD]    0: 80 71 83 23 D0 3A 5B 7D 12 1C 15 85 A2 13 43 1E  .q.#.:[}......C.
{t}[CHD]   16: 6B EF 8F 55                                      k..U
"""
PEER_KEYS = (
    "13:27:31 14[ENC] parsed QUICK_MODE response 886469792 [ HASH SA No ID ID ]\n"
    + _KEY_DUMPS.replace("{t}", "13:27:31 14")
    + """\
13:27:31 12[KNL] flags changed for fe80::88e9:2cff:fe4c:2c9e on out1
13:27:31 14[CHD] adding inbound ESP SA
13:27:31 14[CHD]   SPI 0x3f8fcd35, src 40.0.0.1 dst 192.168.3.1
13:27:31 14[CHD] adding outbound ESP SA
13:27:31 14[CHD]   SPI 0x62dce409, src 192.168.3.1 dst 40.0.0.1
"""
)
ROUTER_KEYS = (
    "13:27:31 16[ENC] parsed QUICK_MODE request 886469792 [ HASH ]\n"
    + _KEY_DUMPS.replace("{t}", "13:27:31 16")
    + """\
13:27:31 16[CHD] adding inbound ESP SA
13:27:31 16[CHD]   SPI 0x62dce409, src 192.168.3.1 dst 40.0.0.1
13:27:31 16[CHD] adding outbound ESP SA
13:27:31 16[CHD]   SPI 0x3f8fcd35, src 40.0.0.1 dst 192.168.3.1
"""
)
INITIATOR_ENCRYPTION = bytes.fromhex("79779D31F79354AEBA33D1488193170F08F3BC373C3A308A")
RESPONDER_ENCRYPTION = bytes.fromhex("E630694FA4F8159B1638DFD2061ABFB7F466DFB22F6EA3C7")
INITIATOR_INTEGRITY = bytes.fromhex("F82204C2DA1DA20180C09EFF03D77521AC678A1E")
RESPONDER_INTEGRITY = bytes.fromhex("80718323D03A5B7D121C1585A213431E6BEF8F55")


def test_keys_of_the_quick_mode_initiator() -> None:
    inbound, outbound = parse_charon_log(PEER_KEYS).keys
    assert (inbound.spi, inbound.inbound) == (0x3F8FCD35, True)
    assert (inbound.src, inbound.dst) == (IPv4Address("40.0.0.1"), IPv4Address("192.168.3.1"))
    # Initiator keys protect the initiator's outbound direction.
    assert (outbound.spi, outbound.inbound) == (0x62DCE409, False)
    assert outbound.encryption_key == INITIATOR_ENCRYPTION
    assert outbound.integrity_key == INITIATOR_INTEGRITY
    assert inbound.encryption_key == RESPONDER_ENCRYPTION
    assert inbound.integrity_key == RESPONDER_INTEGRITY


def test_keys_of_the_quick_mode_responder_match_the_initiators() -> None:
    peer = parse_charon_log(PEER_KEYS)
    router = parse_charon_log(ROUTER_KEYS)
    for keys in peer.keys:
        mirror = router.keys_for(keys.spi)
        assert mirror is not None
        assert mirror.inbound != keys.inbound
        assert (mirror.encryption_key, mirror.integrity_key) == (
            keys.encryption_key,
            keys.integrity_key,
        )
    assert router.keys_for(0x12345678) is None


def test_null_encryption_has_integrity_keys_only() -> None:
    text = """\
13:28:35 11[ENC] parsed QUICK_MODE response 1939827518 [ HASH SA No ID ID ]
13:28:35 11[CHD] integrity initiator key => 4 bytes @ 0x7f571c0029e0
13:28:35 11[CHD]    0: 01 02 03 04                                      ....
13:28:35 11[CHD] integrity responder key => 4 bytes @ 0x7f571c002830
13:28:35 11[CHD]    0: 05 06 07 08                                      ....
13:28:35 11[CHD] adding inbound ESP SA
13:28:35 11[CHD]   SPI 0xc7ee01f9, src 40.0.0.1 dst 192.168.3.1
"""
    (keys,) = parse_charon_log(text).keys
    assert (keys.encryption_key, keys.integrity_key) == (b"", bytes.fromhex("05060708"))


def test_lines_that_are_not_charon_lines_are_ignored() -> None:
    assert parse_charon_log("opening directory '/w/x509' failed\n\n") == parse_charon_log("")


# ---------------------------------------------------------------------------
# The routers' own lifetimes (vpnha lab --lifetime 120 --ike-lifetime 60)


def test_without_ike_reauth_charon_proposes_the_lifetime_and_never_renews(
    router1: RouterConfig,
) -> None:
    """Main Mode proposes reauth_time (else rekey_time) + over_time; with both 0 charon
    schedules neither a renewal nor the IKE SA's end, so over_time is the proposal."""
    spec = replace(remote_peer_spec(router1), ike_lifetime_s=60, ike_reauth=False)
    lines = {line.strip() for line in swanctl_conf(spec).splitlines()}
    assert {"reauth_time = 0s", "rekey_time = 0s", "over_time = 60s"} <= lines
    assert remote_peer_spec(router1).ike_reauth  # the default renews at 90 %


def test_lab_lifetimes_are_written_into_both_routers_configurations(tmp_path: Path) -> None:
    source = tmp_path / "router1.cfg"
    source.write_text(
        ROUTER1_TEXT.replace(" group 2\n", " group 2\n lifetime 3600\n").replace(
            " match address 100\n",
            " match address 100\n set security-association lifetime seconds 900\n",
        )
    )
    text = _config_text(source, (1, 2), lifetime_s=120, ike_lifetime_s=60)
    config = parse_config(text)
    (entry,) = config.crypto_map("CMAP_1")
    assert entry.lifetime_seconds == 120
    assert [policy.lifetime_s for policy in config.isakmp_policies] == [60]
    assert "standby delay minimum 1 reload 2" in text
    untouched = parse_config(_config_text(source, (1, 2)))
    assert untouched.crypto_map("CMAP_1")[0].lifetime_seconds == 900
    assert untouched.isakmp_policies[0].lifetime_s == 3600


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lifetime_s": 120}, "lifetime needs the strongSwan peer"),
        ({"peer": "strongswan", "lifetime_s": 120, "reauth": True}, "no reauth"),
        ({"peer": "strongswan", "lifetime_s": 60}, "must be 120-3600"),
        ({"peer": "strongswan", "ike_lifetime_s": 60}, "needs lifetime_s"),
        ({"peer": "strongswan", "lifetime_s": 120, "ike_lifetime_s": 90}, "must be 60-89"),
        ({"peer": "strongswan", "lifetime_s": 120, "ike_lifetime_s": 59}, "must be 60-89"),
    ],
)
def test_lab_lifetimes_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LabOptions(**options)
    assert LabOptions(peer="strongswan", lifetime_s=120, ike_lifetime_s=89).ike_lifetime_s == 89


# charon 5.9.8 answering the routers' own rekey: Quick Mode as responder, the routers'
# shorter lifetime logged and not applied, the old CHILD SA REKEYED, then the ESP Delete
# at its end (seen in ``vpnha lab --peer strongswan --lifetime 120``).
ROUTER_REKEY = """\
16:15:21 12[ENC] parsed QUICK_MODE request 487344297 [ HASH SA No ID ID ]
16:15:21 12[IKE] received 120s lifetime, configured 86400s
16:15:21 12[CHD] CHILD_SA CMAP_1-1{1} state change: INSTALLED => REKEYING
16:15:21 12[IKE] detected rekeying of CHILD_SA CMAP_1-1{1}
16:15:21 12[ENC] generating QUICK_MODE response 487344297 [ HASH SA No ID ID ]
16:15:21 15[ENC] parsed QUICK_MODE request 487344297 [ HASH ]
16:15:21 15[IKE] CHILD_SA CMAP_1-1{2} established with SPIs f7e8f36a_i c43dfd1d_o and TS 192.168.4.0/24 === 172.16.31.0/24
16:15:21 15[CHD] CHILD_SA CMAP_1-1{1} state change: REKEYING => REKEYED
16:15:51 12[ENC] parsed INFORMATIONAL_V1 request 2993064063 [ HASH D ]
16:15:51 12[IKE] received DELETE for ESP CHILD_SA with SPI 9f2996d4
16:15:51 12[IKE] closing CHILD_SA CMAP_1-1{1} with SPIs d80953f5_i (1655724 bytes) 9f2996d4_o (0 bytes) and TS 192.168.4.0/24 === 172.16.31.0/24
16:15:52 09[CFG] vici rekey CHILD_SA 'CMAP_1-1'
16:15:52 13[ENC] parsed QUICK_MODE response 1460372161 [ HASH SA No ID ID ]
16:15:52 13[IKE] CHILD_SA CMAP_1-1{3} established with SPIs 9153a272_i 81e143f9_o and TS 192.168.4.0/24 === 172.16.31.0/24
"""  # noqa: E501


def test_the_routers_rekey_and_delete_are_read_with_their_spis() -> None:
    log = parse_charon_log(ROUTER_REKEY)
    assert log.child_spis == ((0xF7E8F36A, 0xC43DFD1D), (0x9153A272, 0x81E143F9))
    assert log.child_responder_spis == ((0xF7E8F36A, 0xC43DFD1D),)
    assert log.lifetimes_received == ((120, 86400),)
    assert log.child_rekeys_detected == 1
    # The Delete names the router's inbound SPI (charon's outbound one); charon closes
    # the CHILD SA by its own inbound SPI.
    assert log.child_deletes == ((0x9F2996D4, "received"),)
    assert log.closed_child_spis == (0xD80953F5,)
    assert log.child_deletes_ignored == 0


# charon 5.9.8 receiving the routers' ISAKMP Delete at the IKE SA's end (lifetime 60):
# it deletes the IKE SA with its CHILD SA; the routers' rekey 30 s later runs Main Mode
# (charon responder) and Quick Mode; their ESP Delete of the old pair finds nothing.
IKE_END = """\
16:12:03 12[ENC] parsed INFORMATIONAL_V1 request 3647916826 [ HASH D ]
16:12:03 12[IKE] received DELETE for IKE_SA CMAP_1-1[1]
16:12:03 12[IKE] deleting IKE_SA CMAP_1-1[1] between 192.168.3.1[192.168.3.1]...40.0.0.1[40.0.0.1]
16:12:03 12[CHD] CHILD_SA CMAP_1-1{1} state change: INSTALLED => DESTROYING
16:12:33 01[ENC] parsed ID_PROT request 0 [ SA V V ]
16:12:33 01[IKE] 40.0.0.1 is initiating a Main Mode IKE_SA
16:12:33 16[IKE] IKE_SA CMAP_1-1[2] established between 192.168.3.1[192.168.3.1]...40.0.0.1[40.0.0.1]
16:12:33 12[ENC] parsed QUICK_MODE request 3055320289 [ HASH SA No ID ID ]
16:12:33 12[IKE] received 120s lifetime, configured 86400s
16:12:33 14[ENC] parsed QUICK_MODE request 3055320289 [ HASH ]
16:12:33 14[IKE] CHILD_SA CMAP_1-1{2} established with SPIs bfaf9617_i d45d6840_o and TS 192.168.4.0/24 === 172.16.31.0/24
16:13:03 14[ENC] parsed INFORMATIONAL_V1 request 4291288255 [ HASH D ]
16:13:03 14[IKE] received DELETE for ESP CHILD_SA with SPI e058e4e1
16:13:03 14[IKE] CHILD_SA not found, ignored
"""  # noqa: E501


def test_the_ike_sas_end_main_mode_answered_and_an_ignored_delete_are_counted() -> None:
    log = parse_charon_log(IKE_END)
    assert log.ike_deletes == ((1, "received"),)
    assert log.main_modes_answered == 1
    assert log.ike_sa_ids == (2,)
    assert log.child_responder_spis == ((0xBFAF9617, 0xD45D6840),)
    assert log.child_rekeys_detected == 0
    assert log.child_deletes == ((0xE058E4E1, "received"),)
    assert log.child_deletes_ignored == 1
    assert log.closed_child_spis == ()
