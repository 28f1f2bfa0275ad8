"""Exceptions of the implementation: only for local misuse (STYLE "Errors").

What a peer or the network does wrong is never an exception that escapes a core:
it is a counted drop with a reason (RFC 4303 calls it an auditable event).
"""

from __future__ import annotations

__all__ = ["LocalProtocolError"]


class LocalProtocolError(Exception):
    """The caller used a core wrongly (e.g. sent on an SA that does not exist)."""
