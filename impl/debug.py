"""The document's debug commands: which are on, and the lines they produce.

``debug crypto isakmp ha [detail | fsm | update]``, ``debug crypto ipsec ha [detail |
fsm | update]`` and ``debug ssp [fsm | socket | packet | peers | redundancy | config]``
(privileged EXEC, all off by default), their ``no`` forms, ``undebug all``, and ``show
debugging``. A facility's plain form turns on its basic lines; an option turns on that
option's lines as well (``detail`` turns on every line of the facility).

A router asks :meth:`DebugLog.on` before it builds a line, so a debug that is off costs
one set lookup. Lines go to a bounded buffer (IOS's logging buffer), read with ``show
logging``; each keeps the router's clock in milliseconds, rendered when shown.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

__all__ = [
    "DEBUG_BUFFER_LINES",
    "DebugLine",
    "DebugLog",
    "DebugSyntaxError",
    "Facility",
    "is_debug_command",
]

DEBUG_BUFFER_LINES: Final = 4096
"""Lines kept, the newest (``logging buffered`` with a fixed size)."""


class Facility(enum.Enum):
    """What a debug command names; the value is how ``show debugging`` titles it."""

    ISAKMP_HA = "IKE HA Manager"
    IPSEC_HA = "IPSec HA"
    SSP = "SSP"


_OPTIONS: Final[dict[Facility, tuple[str, ...]]] = {
    Facility.ISAKMP_HA: ("detail", "fsm", "update"),
    Facility.IPSEC_HA: ("detail", "fsm", "update"),
    Facility.SSP: ("fsm", "socket", "packet", "peers", "redundancy", "config"),
}

_TAGS: Final = {Facility.ISAKMP_HA: "IKE HA", Facility.IPSEC_HA: "IPSEC HA", Facility.SSP: "SSP"}

BASIC: Final = "basic"
"""The option name of a facility's plain form."""


class DebugSyntaxError(ValueError):
    """A debug command that does not parse; the message is IOS-style error text."""


@dataclass(frozen=True, slots=True)
class DebugLine:
    """One buffered line."""

    at_ms: int
    """The router's clock when it was produced."""
    facility: Facility
    option: str
    text: str


def is_debug_command(command: str) -> bool:
    """Whether ``command`` is one of this module's (rather than a ``show`` command)."""
    words = command.split()
    if words and words[0] == "show":
        words = words[1:]
    if not words:
        return False
    return (
        _prefix(words[0], "debug", 2)
        or _prefix(words[0], "undebug", 2)
        or (words[0] == "no" and len(words) > 1 and _prefix(words[1], "debug", 2))
        or (len(words) == 1 and _prefix(words[0], "debugging", 6))
        or _prefix(words[0], "logging", 3)
    )


def _prefix(word: str, keyword: str, shortest: int) -> bool:
    """IOS abbreviation: ``word`` is ``keyword`` cut to at least ``shortest`` letters."""
    return len(word) >= shortest and keyword.startswith(word)


class DebugLog:
    """The debug switches of one router and its buffer of debug lines."""

    def __init__(self, lines: int = DEBUG_BUFFER_LINES) -> None:
        self._enabled: set[tuple[Facility, str]] = set()
        self.lines: deque[DebugLine] = deque(maxlen=lines)
        self.any = False
        """Whether any debug is on (what a hot path checks before building a line)."""

    # -- the router's side ---------------------------------------------------------------

    def on(self, facility: Facility, option: str = BASIC) -> bool:
        """Whether lines of ``facility``'s ``option`` are wanted now."""
        if not self.any:
            return False
        return (
            (facility, option) in self._enabled
            or (facility, "detail") in self._enabled
            or (option == BASIC and any(f is facility for f, _ in self._enabled))
        )

    def emit(self, at_ms: int, facility: Facility, option: str, text: str) -> None:
        """Buffer a line if that debug is on."""
        if self.on(facility, option):
            self.lines.append(DebugLine(at_ms, facility, option, text))

    def enabled(self) -> list[tuple[Facility, str]]:
        """What is on, in a stable order."""
        order = list(Facility)
        return sorted(self._enabled, key=lambda k: (order.index(k[0]), k[1]))

    # -- the operator's side ---------------------------------------------------------------

    def execute(self, command: str, *, wall: Callable[[int], int] = lambda ms: ms) -> str:
        """Run a debug command line (``show`` may precede it); its text, never raising.

        ``wall`` turns the router's milliseconds into Unix milliseconds for ``show
        logging`` (a simulated router's clock starts at 0).
        """
        words = command.split()
        if words and words[0] == "show":
            words = words[1:]
        try:
            if not words:
                raise DebugSyntaxError("% Incomplete command.")
            if len(words) == 1 and _prefix(words[0], "debugging", 6):
                return self._show_debugging()
            if _prefix(words[0], "logging", 3):
                return self._show_logging(words[1:], wall)
            if _prefix(words[0], "undebug", 2):
                return self._undebug(words[1:])
            if words[0] == "no":
                return self._set(words[2:], on=False)
            if _prefix(words[0], "debug", 2):
                if len(words) > 1 and _prefix(words[1], "all", 2):
                    raise DebugSyntaxError("% debug all is refused here: name a facility.")
                return self._set(words[1:], on=True)
            raise DebugSyntaxError(f"% Invalid input detected at '^' marker: {words[0]!r}")
        except DebugSyntaxError as error:
            return f"{error}\n"
        finally:
            self.any = bool(self._enabled)

    def _set(self, words: list[str], *, on: bool) -> str:
        facility, rest = _facility(words)
        options = _options(facility, rest)
        for option in options:
            if on:
                self._enabled.add((facility, option))
            elif option == BASIC:  # the plain ``no`` form turns the whole facility off
                self._enabled = {k for k in self._enabled if k[0] is not facility}
            else:
                self._enabled.discard((facility, option))
        what = facility.value + ("" if options == [BASIC] else f" {options[0]}")
        return f"{what} debugging is {'on' if on else 'off'}\n"

    def _undebug(self, words: list[str]) -> str:
        if len(words) == 1 and _prefix(words[0], "all", 1):
            self._enabled.clear()
            return "All possible debugging has been turned off\n"
        return self._set(words, on=False)

    def _show_debugging(self) -> str:
        if not self._enabled:
            return ""
        out: list[str] = []
        for facility in Facility:
            options = [o for f, o in self.enabled() if f is facility]
            if not options:
                continue
            out.append(f"{facility.value}:")
            for option in options:
                name = "" if option == BASIC else f" {option}"
                out.append(f"  {facility.value}{name} debugging is on")
        return "\n".join(out) + "\n"

    def _show_logging(self, words: list[str], wall: Callable[[int], int]) -> str:
        if words:
            raise DebugSyntaxError(f"% Invalid input detected at '^' marker: {words[0]!r}")
        head = [
            f"Log Buffer ({self.lines.maxlen} lines): {len(self.lines)} lines",
            "",
        ]
        return "\n".join(head + [_render(line, wall) for line in self.lines]) + "\n"


def _facility(words: list[str]) -> tuple[Facility, list[str]]:
    if words and _prefix(words[0], "ssp", 2):
        return Facility.SSP, words[1:]
    if len(words) >= 3 and _prefix(words[0], "crypto", 2) and _prefix(words[2], "ha", 2):
        if _prefix(words[1], "isakmp", 2):
            return Facility.ISAKMP_HA, words[3:]
        if _prefix(words[1], "ipsec", 2):
            return Facility.IPSEC_HA, words[3:]
    if not words:
        raise DebugSyntaxError("% Incomplete command.")
    raise DebugSyntaxError(
        f"% Invalid input detected at '^' marker: {' '.join(words)!r} (one of: "
        "crypto isakmp ha, crypto ipsec ha, ssp)"
    )


def _options(facility: Facility, words: Iterable[str]) -> list[str]:
    words = list(words)
    if not words:
        return [BASIC]
    if len(words) > 1:
        raise DebugSyntaxError(f"% Invalid input detected at '^' marker: {words[1]!r}")
    allowed = _OPTIONS[facility]
    matches = [o for o in allowed if _prefix(words[0], o, 1)]
    if len(matches) != 1:
        raise DebugSyntaxError(
            f"% {'Ambiguous' if matches else 'Invalid'} option {words[0]!r} for debug "
            f"{facility.value} (one of: {' | '.join(allowed)})"
        )
    return matches


def _render(line: DebugLine, wall: Callable[[int], int]) -> str:
    stamp = datetime.fromtimestamp(wall(line.at_ms) / 1000, tz=UTC)
    clock = stamp.strftime("%b %d %H:%M:%S.") + f"{stamp.microsecond // 1000:03d}"
    return f"*{clock}: {_TAGS[line.facility]}: {line.text}"
