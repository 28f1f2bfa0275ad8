"""vpnha: IPsec stateful failover (HSRP + SSP) — model, implementation, conformance suite.

This package holds only the command line; the work lives in ``vpnha.model``
(the executable specification), ``vpnha.impl`` (the concrete router) and
``vpnha.properties`` (observations, invariants and the conformance harness).
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
