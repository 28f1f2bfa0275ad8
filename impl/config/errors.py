"""Errors of the configuration parser: one diagnostic per bad command, all reported at once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnostic:
    """One problem found in a configuration file."""

    source: str
    """Where the text came from: a file path, or ``<text>``."""
    line: int
    """1-based line number of the offending command; 0 when the problem has no line."""
    command: str
    """The command as written (leading whitespace removed); empty when there is none."""
    message: str
    """What is wrong, naming the field, the value and what is allowed."""

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        if self.command:
            return f"{where}: {self.command}: {self.message}"
        return f"{where}: {self.message}"


class ConfigError(ValueError):
    """A configuration file (or a local call on a configuration) is not acceptable.

    Carries every diagnostic of the file, so one run shows all the mistakes.
    """

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))

    def __str__(self) -> str:
        return "\n".join(str(d) for d in self.diagnostics)


class CommandError(ValueError):
    """Internal: one command is wrong; the parser turns this into a :class:`Diagnostic`.

    Never escapes :func:`vpnha.impl.config.parse_config`.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
