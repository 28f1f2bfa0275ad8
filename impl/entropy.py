"""Randomness for the router, injected (DESIGN §3).

Every core takes an ``Entropy`` in its constructor: HSRP hello jitter, SPIs, IVs,
IKE cookies, DPD starting numbers and SSP nonces all come from it. ``OsEntropy``
is the production source and the only caller of ``os.urandom`` in the project
(a test enforces it); ``SeededEntropy`` is deterministic, for simulation and tests.
"""

from __future__ import annotations

import hashlib
import os
from typing import Protocol

__all__ = ["Entropy", "OsEntropy", "SeededEntropy"]


class Entropy(Protocol):
    """A source of random bytes and integers."""

    def token_bytes(self, n: int) -> bytes:
        """``n`` random bytes."""
        ...

    def randbelow(self, n: int) -> int:
        """A random integer in ``[0, n)`` (``n`` ≥ 1)."""
        ...


class OsEntropy:
    """The operating system's randomness."""

    def token_bytes(self, n: int) -> bytes:
        """``n`` bytes from ``os.urandom``."""
        return os.urandom(n)

    def randbelow(self, n: int) -> int:
        """Uniform in ``[0, n)`` by rejection sampling."""
        return _randbelow(self, n)


class SeededEntropy:
    """Deterministic bytes from a seed (SHA-256 in counter mode); never for production keys."""

    def __init__(self, seed: bytes | int) -> None:
        self._seed = seed if isinstance(seed, bytes) else seed.to_bytes(16, "big", signed=True)
        self._counter = 0

    def token_bytes(self, n: int) -> bytes:
        """The next ``n`` bytes of the stream."""
        out = bytearray()
        while len(out) < n:
            block = hashlib.sha256(self._seed + self._counter.to_bytes(8, "big")).digest()
            self._counter += 1
            out += block
        return bytes(out[:n])

    def randbelow(self, n: int) -> int:
        """Uniform in ``[0, n)`` by rejection sampling."""
        return _randbelow(self, n)


def _randbelow(source: Entropy, n: int) -> int:
    if n < 1:
        msg = f"randbelow bound {n} must be at least 1"
        raise ValueError(msg)
    width = max(1, (n - 1).bit_length())
    nbytes = (width + 7) // 8
    mask = (1 << width) - 1
    while True:
        value = int.from_bytes(source.token_bytes(nbytes), "big") & mask
        if value < n:
            return value
