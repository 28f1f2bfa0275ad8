"""Extended IP access lists: the crypto ACLs that decide which traffic IPsec protects.

Syntax (the document, "Configuring Crypto Access Lists for IPSec Traffic")::

    access-list NUMBER {permit|deny} PROTOCOL SOURCE DESTINATION [log]
    access-list NUMBER remark TEXT
    ip access-list extended NAME
      {permit|deny} PROTOCOL SOURCE DESTINATION [log]
      remark TEXT

NUMBER is 100-199 or 2000-2699 (extended lists; standard lists cannot say where
traffic goes, so they cannot be crypto ACLs). An address is ``any``, ``host A`` or
``A WILDCARD``; after a tcp or udp address a port match ``eq|neq|lt|gt P`` or
``range P1 P2`` may follow. Entries are evaluated in order and the first match
decides; no match is the implicit deny at the end of every IOS access list.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Literal

from .errors import CommandError
from .values import parse_choice, parse_int, parse_ipv4, shown

AclAction = Literal["permit", "deny"]
PortOperator = Literal["eq", "neq", "lt", "gt", "range"]

# IOS protocol keywords we accept; None means "ip" = every protocol.
PROTOCOL_NUMBERS: dict[str, int | None] = {
    "ip": None,
    "icmp": 1,
    "tcp": 6,
    "udp": 17,
    "gre": 47,
    "esp": 50,
    "ahp": 51,
}
_TCP = 6
_UDP = 17

# A few IOS port names; anything else must be given as a number.
PORT_NAMES: dict[str, int] = {
    "ftp": 21,
    "telnet": 23,
    "smtp": 25,
    "domain": 53,
    "tftp": 69,
    "www": 80,
    "ntp": 123,
    "snmp": 161,
    "isakmp": 500,
    "non500-isakmp": 4500,
}

_ACTIONS: dict[str, AclAction] = {"permit": "permit", "deny": "deny"}
_PORT_OPERATORS: dict[str, PortOperator] = {
    "eq": "eq",
    "neq": "neq",
    "lt": "lt",
    "gt": "gt",
    "range": "range",
}
_ALL_ONES = 0xFFFFFFFF


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressMatch:
    """An ACL address: base address and wildcard (bits set in the wildcard are ignored)."""

    address: IPv4Address
    """Base address as written (``any`` is 0.0.0.0)."""
    wildcard: IPv4Address
    """Wildcard mask: 0.0.0.0 = exact host, 255.255.255.255 = any address."""

    def matches(self, candidate: IPv4Address) -> bool:
        """True when ``candidate`` agrees with the base address on every non-wildcard bit."""
        wild = int(self.wildcard)
        return (int(candidate) | wild) == (int(self.address) | wild)

    def __str__(self) -> str:
        if int(self.wildcard) == _ALL_ONES:
            return "any"
        if int(self.wildcard) == 0:
            return f"host {self.address}"
        return f"{self.address} {self.wildcard}"


ANY_ADDRESS = AddressMatch(address=IPv4Address(0), wildcard=IPv4Address(_ALL_ONES))


@dataclass(frozen=True, slots=True, kw_only=True)
class PortMatch:
    """A tcp/udp port condition."""

    operator: PortOperator
    """eq, neq, lt, gt or range."""
    low: int
    """Port 0-65535 (the only port for eq/neq/lt/gt)."""
    high: int
    """Upper port of a range, 0-65535; equal to ``low`` for the other operators."""

    def matches(self, port: int) -> bool:
        """True when ``port`` satisfies the condition."""
        if self.operator == "eq":
            return port == self.low
        if self.operator == "neq":
            return port != self.low
        if self.operator == "lt":
            return port < self.low
        if self.operator == "gt":
            return port > self.low
        return self.low <= port <= self.high

    def __str__(self) -> str:
        if self.operator == "range":
            return f"range {self.low} {self.high}"
        return f"{self.operator} {self.low}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AclEntry:
    """One ``permit`` or ``deny`` line."""

    action: AclAction
    """permit or deny."""
    protocol: int | None
    """IP protocol number 0-255; None for ``ip`` (every protocol)."""
    source: AddressMatch
    """Source address condition."""
    source_port: PortMatch | None = None
    """Source port condition (tcp/udp only); None = any port."""
    destination: AddressMatch
    """Destination address condition."""
    destination_port: PortMatch | None = None
    """Destination port condition (tcp/udp only); None = any port."""
    log: bool = False
    """``log`` or ``log-input`` given (recorded, no effect on matching)."""

    def matches(
        self,
        src: IPv4Address,
        dst: IPv4Address,
        protocol: int,
        src_port: int | None = None,
        dst_port: int | None = None,
    ) -> bool:
        """True when a packet with these header fields is selected by this entry.

        An entry with a port condition selects only packets whose port is known and
        satisfies it.
        """
        if self.protocol is not None and self.protocol != protocol:
            return False
        if not (self.source.matches(src) and self.destination.matches(dst)):
            return False
        if self.source_port is not None and (
            src_port is None or not self.source_port.matches(src_port)
        ):
            return False
        return self.destination_port is None or (
            dst_port is not None and self.destination_port.matches(dst_port)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessList:
    """A numbered or named extended access list."""

    name: str
    """The list's number as text ("100") or its name."""
    entries: tuple[AclEntry, ...] = ()
    """permit/deny entries in evaluation order."""
    remarks: tuple[str, ...] = ()
    """``remark`` texts in file order (documentation only)."""

    def matches(
        self,
        src: IPv4Address,
        dst: IPv4Address,
        protocol: int,
        src_port: int | None = None,
        dst_port: int | None = None,
    ) -> bool | None:
        """First matching entry decides: True = permit, False = deny.

        None when no entry matches, which IOS treats as the implicit deny at the end
        of the list (for a crypto ACL: not protected, forwarded in the clear).
        """
        for entry in self.entries:
            if entry.matches(src, dst, protocol, src_port, dst_port):
                return entry.action == "permit"
        return None


def _take_address(words: list[str], field: str) -> tuple[AddressMatch, list[str]]:
    if not words:
        raise CommandError(f"{field} address missing (any, host A, or A WILDCARD)")
    head = words[0].lower()
    if head == "any":
        return ANY_ADDRESS, words[1:]
    if head == "host":
        if len(words) < 2:
            raise CommandError(f"{field} host address missing")
        return AddressMatch(
            address=parse_ipv4(words[1], f"{field} host"), wildcard=IPv4Address(0)
        ), words[2:]
    address = parse_ipv4(words[0], field)
    if len(words) < 2:
        raise CommandError(f"{field} wildcard missing after {words[0]}")
    wildcard = parse_ipv4(words[1], f"{field} wildcard")
    return AddressMatch(address=address, wildcard=wildcard), words[2:]


def _port(text: str, field: str) -> int:
    named = PORT_NAMES.get(text.lower())
    if named is not None:
        return named
    return parse_int(text, field, 0, 65535)


def _take_ports(
    words: list[str], field: str, protocol: int | None
) -> tuple[PortMatch | None, list[str]]:
    if not words or words[0].lower() not in _PORT_OPERATORS:
        return None, words
    operator = _PORT_OPERATORS[words[0].lower()]
    if protocol not in (_TCP, _UDP):
        raise CommandError(f"{field} port match {shown(words[0])} is only valid for tcp and udp")
    if operator == "range":
        if len(words) < 3:
            raise CommandError(f"{field} port range needs two ports")
        low = _port(words[1], f"{field} port")
        high = _port(words[2], f"{field} port")
        if low > high:
            raise CommandError(f"{field} port range {low} {high}: first port above second")
        return PortMatch(operator=operator, low=low, high=high), words[3:]
    if len(words) < 2:
        raise CommandError(f"{field} port missing after {words[0]}")
    port = _port(words[1], f"{field} port")
    return PortMatch(operator=operator, low=port, high=port), words[2:]


def parse_acl_entry(words: list[str]) -> AclEntry:
    """Parse ``{permit|deny} PROTOCOL SOURCE [PORTS] DESTINATION [PORTS] [log]``."""
    if not words:
        raise CommandError("permit or deny missing")
    action = parse_choice(words[0], "action", _ACTIONS)
    if len(words) < 2:
        raise CommandError("protocol missing")
    proto_word = words[1].lower()
    if proto_word in PROTOCOL_NUMBERS:
        protocol = PROTOCOL_NUMBERS[proto_word]
    elif proto_word[:1].isdigit():
        protocol = parse_int(proto_word, "protocol", 0, 255)
    else:
        names = ", ".join(PROTOCOL_NUMBERS)
        raise CommandError(f"protocol {shown(words[1])} is not one of {names} or a number 0-255")
    rest = words[2:]
    source, rest = _take_address(rest, "source")
    source_port, rest = _take_ports(rest, "source", protocol)
    destination, rest = _take_address(rest, "destination")
    destination_port, rest = _take_ports(rest, "destination", protocol)
    log = False
    if rest and rest[0].lower() in ("log", "log-input"):
        log = True
        rest = rest[1:]
    if rest:
        raise CommandError(f"unexpected {shown(' '.join(rest))} after the destination")
    return AclEntry(
        action=action,
        protocol=protocol,
        source=source,
        source_port=source_port,
        destination=destination,
        destination_port=destination_port,
        log=log,
    )


def acl_number_error(number: int) -> str | None:
    """Why a numbered list cannot be a crypto ACL, or None when it can."""
    if 100 <= number <= 199 or 2000 <= number <= 2699:
        return None
    if 1 <= number <= 99 or 1300 <= number <= 1999:
        return (
            f"access-list {number} is a standard list; crypto ACLs must be extended "
            "(100-199, 2000-2699)"
        )
    return f"access-list number {number} out of range 100-199, 2000-2699"
