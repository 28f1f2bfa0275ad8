"""Z3 counterexamples of the counter encoding made concrete: model operations, replayed.

Theory of operation
-------------------
A bounded counterexample of :mod:`counters` is a list of abstract steps
(``use0``, ``promote1``, ``resync1`` …) with inputs. :func:`counter_schedule` maps
them onto the model's operation vocabulary (``model/operations.py``) for the
shipped example pair (router 0 = 7200-1, the initial Active):

=======================  ===========================================================
abstract step            operations
=======================  ===========================================================
first replication        boot and elect (70 s, ``standby delay reload 60``), the peer
(connect, sync0,         negotiates SA 1, 100 ms for the full copy to arrive
deliver_add1)
``use0`` / ``use1``      ``SendTraffic(n)`` (1-byte packets: no lifetime limit)
``promote1``             partition both segments for 10 s: router 1 takes over and
(+ ``disconnect``)       the SSP dead timer ends the connection (split brain)
``demote1``              heal both segments, 50 ms at a time until router 1 has left
                         ACTIVE (router 0 wins the election back)
``resync1``              ``Resync(router=1)`` (``clear crypto sa ha standby resync``)
``sync0``                3 s: SSP reconnects and router 0 restarts replication
=======================  ===========================================================

Other steps need no operation of their own. :func:`run_on_model` applies the
operations to ``vpnha.model.system`` and returns the final state, whose wire log
shows whether a sequence number went out twice (I3).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from vpnha.model import operations as op
from vpnha.model import system as msys
from vpnha.model.params import ClusterParams, GroupSide
from vpnha.model.ssp import Role
from vpnha.properties.scenarios import builtin_configs, cluster_params, example_path
from vpnha.properties.trace import RunSpec, TraceFile, replay, save_trace, signature

from .engine import Counterexample

__all__ = [
    "counter_schedule",
    "duplicates",
    "example_params",
    "resync_offline_operations",
    "run_on_model",
    "write_trace",
]

_BOOT: Final[tuple[op.Operation, ...]] = (
    op.Advance(ms=70_000),
    op.Establish(sa_id=1, spi_in=0x100, spi_out=0x200, cookie_i=7, cookie_r=8),
    op.Advance(ms=100),
)
_FIRST_REPLICATION: Final = frozenset({"connect", "sync0", "deliver_add1", "update0"})


def counter_schedule(found: Counterexample) -> list[op.Operation]:
    """The model operations that play the abstract counterexample ``found``.

    The model runs alongside, so time advances by exactly as much as the model needs
    (``demote1`` advances in 50 ms steps until router 1 has left ACTIVE).
    """
    return _schedule(found.steps, dict(found.values))


def _schedule(steps: Sequence[str], values: dict[str, object]) -> list[op.Operation]:
    system = msys.boot(example_params())
    operations: list[op.Operation] = []

    def play(*more: op.Operation) -> None:
        for operation in more:
            msys.apply_in_place(system, operation)
            operations.append(operation)

    play(*_BOOT)
    started = False
    for index, step in enumerate(steps):
        if not started and step in _FIRST_REPLICATION:
            continue
        started = True
        match step:
            case "use0" | "use1":
                packets = values.get(f"in{index}.n")
                assert isinstance(packets, int)
                play(op.SendTraffic(packets=packets, size=1))
            case "promote1":
                play(
                    op.Partition(side=GroupSide.INSIDE),
                    op.Partition(side=GroupSide.OUTSIDE),
                    op.Advance(ms=10_000),
                )
            case "demote1":
                play(op.Heal(side=GroupSide.INSIDE), op.Heal(side=GroupSide.OUTSIDE))
                for _ in range(200):
                    if system.routers[1].role is not Role.ACTIVE:
                        break
                    play(op.Advance(ms=50))
            case "resync1":
                play(op.Resync(router=1))
            case "sync0":
                play(op.Advance(ms=3_000))
            case _:
                pass
    return operations


def resync_offline_operations() -> list[op.Operation]:
    """A concrete schedule for ``I3-resync-offline``.

    The steps of Z3's counterexample, with router 0's first packets moved before the
    split (where the model's LAN traffic reaches it; after the heal it reaches router 0
    only once the election has settled, which the abstract encoding does not know):
    router 0 sends one packet past the copy, router 1 takes over during a split and
    sends two, leaves ACTIVE when the segments heal, clears its copies while SSP is still
    down, SSP reconnects, router 0 re-seeds its floor at its own value and reaches
    router 1's numbers.
    """
    steps = [
        "connect",
        "sync0",
        "deliver_add1",
        "use0",
        "promote1",
        "disconnect",
        "use1",
        "demote1",
        "resync1",
        "connect",
        "sync0",
        "use0",
    ]
    return _schedule(steps, {"in3.n": 1, "in6.n": 2, "in11.n": 1_000_000})


def run_on_model(operations: Sequence[op.Operation]) -> msys.System:
    """Apply ``operations`` to the shipped example pair booted at 1 s."""
    system = msys.boot(example_params())
    for operation in operations:
        msys.apply_in_place(system, operation)
    return system


def example_params() -> ClusterParams:
    """The model's parameters for ``examples/router1.cfg`` and ``router2.cfg``."""
    return cluster_params(*builtin_configs())


def duplicates(runs: Sequence[msys.WireRun]) -> list[tuple[msys.WireRun, msys.WireRun]]:
    """Pairs of runs on the same SPI that share a sequence number (I3 / I4 broken)."""
    found = []
    for i, a in enumerate(runs):
        for b in runs[i + 1 :]:
            if a.spi == b.spi and a.first <= b.last and b.first <= a.last:
                found.append((a, b))
    return found


def write_trace(found: Counterexample, folder: Path) -> Path | None:
    """Write the concrete schedule of ``found`` as an ITF counterexample in ``folder``.

    Only ``I3-resync-offline`` has a concrete schedule (the naive rule is not the
    model's, so there is nothing to replay it on). The schedule runs on the model and
    the implementation in lockstep (``properties/trace.py``); the file expects the
    failure the replay shows. Slow: the last step sends a million packets on both sides.
    """
    if found.property != "I3-resync-offline":
        return None
    configs = (
        example_path("router1.cfg").read_text(),
        example_path("router2.cfg").read_text(),
    )
    spec = RunSpec(configs=configs)
    operations = resync_offline_operations()
    steps = replay(spec, operations)
    failure = signature(steps)
    trace = TraceFile(
        spec=spec,
        operations=operations,
        expect="fail" if failure else "pass",
        failure=failure,
        description=(
            "found by Z3 (vpnha prove --all, I3-resync-offline): split brain, the standby "
            "clears its copies (resync) while SSP is down, SSP reconnects and the active "
            "re-seeds its hold-back floor at its own value, below the numbers the standby "
            "used: a sequence number was sent twice. Fixed in the model and the "
            "implementation: a cleared copy's counters are remembered and announced like "
            f"any dropped SA's. Z3 steps: {' → '.join(found.steps)}"
        ),
        steps=steps,
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "z3-resync-offline.itf.json"
    save_trace(path, trace)
    return path
