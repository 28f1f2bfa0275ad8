"""Validated conversion of single configuration words: numbers, addresses, names.

Every function raises :class:`CommandError` with a message that names the field,
the value as written and what is allowed, e.g. ``priority 300 out of range 1-255``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from ipaddress import IPv4Address
from typing import TypeVar

from .errors import CommandError

T = TypeVar("T")

# ASCII digits only: str.isdigit() also accepts other scripts' digits, which IOS does not.
_DIGITS = re.compile(r"[0-9]+")
_DOTTED_QUAD = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}")
# More digits than this cannot be in any range we use (and int() refuses >4300 digits).
_MAX_DIGITS = 12


def shown(text: str) -> str:
    """A word as it appears inside an error message (quoted, shortened if huge)."""
    if len(text) > 40:
        text = text[:37] + "..."
    return repr(text)


def parse_int(text: str, field: str, low: int, high: int) -> int:
    """A decimal integer in ``low..high`` inclusive."""
    if not _DIGITS.fullmatch(text):
        raise CommandError(f"{field} {shown(text)} is not a number (range {low}-{high})")
    if len(text.lstrip("0")) > _MAX_DIGITS:
        raise CommandError(f"{field} {shown(text)} out of range {low}-{high}")
    value = int(text)
    if not low <= value <= high:
        raise CommandError(f"{field} {value} out of range {low}-{high}")
    return value


def parse_ipv4(text: str, field: str) -> IPv4Address:
    """A dotted-quad IPv4 address (no leading zeros, no host names)."""
    if _DOTTED_QUAD.fullmatch(text):
        try:
            return IPv4Address(text)
        except ValueError:
            pass
    raise CommandError(f"{field} {shown(text)} is not an IPv4 address")


def parse_netmask(text: str, field: str) -> int:
    """A contiguous dotted-quad netmask such as ``255.255.255.0``; returns the prefix length."""
    mask = int(parse_ipv4(text, field))
    inverted = ~mask & 0xFFFFFFFF
    if inverted & (inverted + 1):
        raise CommandError(f"{field} {text} is not a contiguous netmask")
    return 32 - inverted.bit_length()


def parse_choice(text: str, field: str, choices: Mapping[str, T]) -> T:
    """One of a fixed set of keywords (case-insensitive, as IOS keywords are)."""
    try:
        return choices[text.lower()]
    except KeyError:
        allowed = ", ".join(choices)
        raise CommandError(f"{field} {shown(text)} is not one of {allowed}") from None


# Interface types vpnha knows, in their canonical IOS spelling. IOS accepts any
# unambiguous prefix of the type name ("fa", "Fast", "gi", "lo"); no two of these
# share a first letter, so every non-empty prefix is unambiguous.
INTERFACE_TYPES = ("Ethernet", "FastEthernet", "GigabitEthernet", "Serial", "Loopback", "Tunnel")
_INTERFACE_NAME = re.compile(r"([A-Za-z][A-Za-z-]*)\s*([0-9]+(?:/[0-9]+){0,2}(?:\.[0-9]+)?)")


def interface_type(text: str) -> str | None:
    """The canonical interface type for a (possibly abbreviated) type word, or None."""
    lowered = text.lower()
    matches = [t for t in INTERFACE_TYPES if t.lower().startswith(lowered)]
    return matches[0] if len(matches) == 1 else None


def canonical_interface_name(text: str) -> str:
    """``fastEthernet 0/1``, ``Fa0/1``, ``FA 0/1`` -> ``FastEthernet0/1``.

    Raises ValueError (the parser's CommandError) when ``text`` is not an interface name.
    """
    match = _INTERFACE_NAME.fullmatch(text.strip())
    if match is None:
        raise CommandError(
            f"interface {shown(text)} is not an interface name (e.g. FastEthernet0/1)"
        )
    kind = interface_type(match.group(1))
    if kind is None:
        known = ", ".join(INTERFACE_TYPES)
        raise CommandError(f"interface type {shown(match.group(1))} is not one of {known}")
    return kind + match.group(2)


def take_interface_name(words: list[str]) -> tuple[str, list[str]]:
    """Read an interface name from the front of ``words``: one word or type + number.

    ``["FastEthernet0/0", "20"]`` and ``["fastEthernet", "0/0", "20"]`` both give
    ``("FastEthernet0/0", ["20"])``.
    """
    if not words:
        raise CommandError("interface name missing")
    first = words[0]
    if first.isascii() and first.isalpha() and len(words) > 1:
        return canonical_interface_name(first + words[1]), words[2:]
    return canonical_interface_name(first), words[1:]
