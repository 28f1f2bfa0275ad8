"""impl/config."""

from __future__ import annotations
