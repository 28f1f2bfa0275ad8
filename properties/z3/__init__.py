"""Z3 encodings that prove the invariants for every allowed parameter (DESIGN §6).

Modules: ``engine`` (results, solvers, inductive and bounded checks), ``hsrp`` (I1,
I2), ``counters`` (I3, I4, I8 counters, the naive rule, the resync findings),
``lifecycle`` (I6, I8 expiry), ``vam`` (I7), ``replay`` (counterexamples as model
schedules), ``registry`` (what ``vpnha prove`` runs).
"""

from __future__ import annotations

from .engine import Counterexample, Proved, Result, Unknown
from .registry import PROPERTIES, Property, run_proofs

__all__ = ["PROPERTIES", "Counterexample", "Property", "Proved", "Result", "Unknown", "run_proofs"]
