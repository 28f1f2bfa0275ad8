"""IOS configuration for the vpnha router: parser, typed configuration and lint.

``parse_config(text)`` / ``load_config(path)`` turn the configuration language of
the product document (HSRP ``standby`` commands, ``ssp group``, ``crypto isakmp``,
``crypto ipsec transform-set``, ``crypto map``, access lists) into frozen
dataclasses; bad text raises one :class:`ConfigError` listing every problem.
:mod:`vpnha.impl.config.lint` checks one router or a failover pair against the
document's requirements (equal priorities, mutual tracking, consistent address
ordering, identical security policy, card support).

vpnha extension (not IOS): ``vpnha crypto-card {none|vam|vam2} [capacity N]`` says
which crypto engine the router has; without it the router does software crypto.
"""

from __future__ import annotations

from .acl import AccessList, AclEntry, AddressMatch, PortMatch
from .crypto import CARD_CAPABILITIES, CardCapability, CryptoCard, TransformSet
from .errors import ConfigError, Diagnostic
from .parser import load_config, parse_config
from .schema import (
    CryptoMapEntry,
    CryptoMapPolicy,
    DynamicMapEntry,
    InterfaceConfig,
    IsakmpKey,
    IsakmpPolicy,
    ReplayInterval,
    RouterConfig,
    SspGroup,
    StandbyGroup,
    Track,
)
from .values import canonical_interface_name

__all__ = [
    "CARD_CAPABILITIES",
    "AccessList",
    "AclEntry",
    "AddressMatch",
    "CardCapability",
    "ConfigError",
    "CryptoCard",
    "CryptoMapEntry",
    "CryptoMapPolicy",
    "Diagnostic",
    "DynamicMapEntry",
    "InterfaceConfig",
    "IsakmpKey",
    "IsakmpPolicy",
    "PortMatch",
    "ReplayInterval",
    "RouterConfig",
    "SspGroup",
    "StandbyGroup",
    "Track",
    "TransformSet",
    "canonical_interface_name",
    "load_config",
    "parse_config",
]
