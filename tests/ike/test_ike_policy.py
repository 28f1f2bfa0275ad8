"""What the configuration lets IKE agree to (impl/ike/policy.py), rule by rule."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from vpnha.impl.config import parse_config
from vpnha.impl.ike.policy import (
    ATTR_LIFE_DURATION,
    ATTR_LIFE_TYPE,
    ENCAP_UDP_TUNNEL,
    id_for_network,
    match_phase1,
    match_phase2,
    network_of_id,
    phase1_transform,
    phase2_transform,
    pre_shared_key,
    proxies_allowed,
)
from vpnha.impl.ike.wire import Attribute, IdPayload, Transform

from .conftest import router_config


def test_phase1_lifetime_longer_than_the_policy_is_refused_shorter_is_used() -> None:
    config = router_config()
    (policy,) = config.isakmp_policies
    proposed = phase1_transform(policy, 1)
    choice = match_phase1(proposed, config.isakmp_policies)
    assert choice is not None
    assert (choice.encryption, choice.hash, choice.group) == ("3des", "sha", 2)
    assert choice.lifetime_s == policy.lifetime_s

    def with_lifetime(seconds: int) -> Transform:
        attributes = tuple(
            Attribute(a.type, seconds) if a.type == ATTR_LIFE_DURATION else a
            for a in proposed.attributes
        )
        return Transform(number=1, transform_id=proposed.transform_id, attributes=attributes)

    assert match_phase1(with_lifetime(policy.lifetime_s + 1), config.isakmp_policies) is None
    shorter = match_phase1(with_lifetime(3600), config.isakmp_policies)
    assert shorter is not None
    assert shorter.lifetime_s == 3600
    # No lifetime proposed at all: the policy's.
    bare = Transform(
        number=1,
        transform_id=proposed.transform_id,
        attributes=tuple(
            a for a in proposed.attributes if a.type not in (ATTR_LIFE_TYPE, ATTR_LIFE_DURATION)
        ),
    )
    assert match_phase1(bare, config.isakmp_policies) is not None


def test_phase1_needs_every_attribute_to_agree() -> None:
    config = router_config()
    (policy,) = config.isakmp_policies
    proposed = phase1_transform(policy, 1)
    for kind, wrong in ((1, 7), (2, 1), (3, 3), (4, 5)):
        attributes = tuple(
            Attribute(a.type, wrong) if a.type == kind else a for a in proposed.attributes
        )
        transform = Transform(number=1, transform_id=1, attributes=attributes)
        assert match_phase1(transform, config.isakmp_policies) is None, kind


def test_phase2_takes_the_transform_set_and_the_shorter_lifetimes() -> None:
    config = router_config()
    (entry,) = config.crypto_map("CMAP_1")
    proposed = phase2_transform(config, entry, entry.transform_sets[0], 1, ENCAP_UDP_TUNNEL)
    assert proposed is not None
    choice = match_phase2(config, entry, proposed)
    assert choice is not None
    assert choice.transforms == ("esp-3des", "esp-sha-hmac")
    assert choice.encapsulation == ENCAP_UDP_TUNNEL
    assert choice.lifetime_s == config.ipsec_lifetime_seconds
    shorter = Transform(
        number=1,
        transform_id=proposed.transform_id,
        attributes=tuple(
            Attribute(a.type, 600)
            if a.type == 2 and a.number == config.ipsec_lifetime_seconds
            else a
            for a in proposed.attributes
        ),
    )
    choice = match_phase2(config, entry, shorter)
    assert choice is not None
    assert choice.lifetime_s == 600
    # PFS proposed while the entry has no set pfs: refused.
    with_pfs = Transform(
        number=1,
        transform_id=proposed.transform_id,
        attributes=(*proposed.attributes, Attribute(3, 2)),
    )
    assert match_phase2(config, entry, with_pfs) is None


def test_the_most_specific_key_wins() -> None:
    config = parse_config(
        "hostname k\n"
        "crypto isakmp key wide address 192.168.0.0 255.255.0.0\n"
        "crypto isakmp key narrow address 192.168.3.0 255.255.255.0\n"
        "crypto isakmp key host address 192.168.3.1\n"
        "end\n"
    )
    assert pre_shared_key(config, IPv4Address("192.168.3.1")) == b"host"
    assert pre_shared_key(config, IPv4Address("192.168.3.2")) == b"narrow"
    assert pre_shared_key(config, IPv4Address("192.168.9.9")) == b"wide"
    assert pre_shared_key(config, IPv4Address("10.0.0.1")) is None


def test_identities_round_trip_and_ranges_must_be_subnets() -> None:
    for text in ("192.168.4.0/24", "10.0.0.7/32", "0.0.0.0/0"):
        network = IPv4Network(text)
        assert network_of_id(id_for_network(network)) == network
    exact = IdPayload(id_type=7, data=bytes([10, 0, 0, 0, 10, 0, 0, 255]))
    assert network_of_id(exact) == IPv4Network("10.0.0.0/24")
    ragged = IdPayload(id_type=7, data=bytes([10, 0, 0, 1, 10, 0, 0, 9]))
    assert network_of_id(ragged) is None
    assert network_of_id(IdPayload(id_type=2, data=b"peer.example")) is None
    assert network_of_id(IdPayload(id_type=4, data=bytes(7))) is None


def test_proxies_must_fall_inside_a_permit_line() -> None:
    config = router_config()
    (entry,) = config.crypto_map("CMAP_1")
    inside, remote = IPv4Network("172.16.31.0/24"), IPv4Network("192.168.4.0/24")
    assert proxies_allowed(config, entry, inside, remote)
    assert proxies_allowed(config, entry, IPv4Network("0.0.0.0/0"), remote)
    assert not proxies_allowed(config, entry, inside, IPv4Network("192.168.0.0/16"))
    assert not proxies_allowed(config, entry, inside, IPv4Network("192.168.5.0/24"))
