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

The findings ``I3-late-add`` and ``I3-early-refusal`` have hand-made schedules
(:func:`late_add_operations`, :func:`early_refusal_operations`) that play Z3's steps
with the model's timing: two full copies of one SA in flight at once need the
standby's resync request to cross the first one, which a silent SSP path (held
messages, delivered in order on ``SspHeal``) arranges without a latency change.
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
    "early_refusal_configs",
    "early_refusal_operations",
    "example_configs",
    "example_params",
    "late_add_operations",
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


def _priority(router: int, priority: int) -> list[op.Operation]:
    return [
        op.SetPriority(router=router, side=GroupSide.INSIDE, priority=priority),
        op.SetPriority(router=router, side=GroupSide.OUTSIDE, priority=priority),
    ]


def late_add_operations() -> list[op.Operation]:
    """A concrete schedule for ``I3-late-add`` (Z3: connect → sync0 → resync1 → answer0 →
    deliver_add1 → promote1 → use1 → demote1 → deliver_add1 → promote1 → use1).

    With SSP silent, SA 1 is negotiated (its Add is held) and router 1 resyncs (the
    request is held). SSP heals for 1 ms: the Add arrives, the request arrives and
    router 0 answers with a second full copy, which SSP, silent again, holds. Router 0
    lowers its priority: router 1 takes over, promotes its copy to M and sends M + 1;
    router 0 restores its priority and takes back over; router 1 leaves ACTIVE with a
    stale copy at M + 1. SSP heals for 1 ms: the second full copy arrives, replaces that
    stale copy by 0 (usable), and SSP goes silent before anything else follows; router 1
    takes over again, promotes 0 to M and sends M + 1 a second time. All within the
    3 s dead interval, so the connection never ends.
    """
    return [
        op.Advance(ms=70_000),
        op.SspSilent(),
        op.Establish(sa_id=1, spi_in=0x100, spi_out=0x200, cookie_i=7, cookie_r=8),
        op.Resync(router=1),
        op.SspHeal(),
        op.Advance(ms=1),
        op.SspSilent(),
        *_priority(0, 50),
        op.Advance(ms=800),
        op.SendTraffic(packets=1, size=1),
        op.Advance(ms=20),
        *_priority(0, 100),
        op.Advance(ms=800),
        op.SspHeal(),
        op.Advance(ms=1),
        op.SspSilent(),
        *_priority(0, 50),
        op.Advance(ms=800),
        op.SendTraffic(packets=1, size=1),
        op.Advance(ms=20),
    ]


EARLY_REFUSAL_CARD: Final = "vpnha crypto-card vam capacity 4\n"
"""Router 2's card in :func:`early_refusal_configs`: room for two SA pairs."""


def early_refusal_configs() -> tuple[str, str]:
    """The shipped pair with router 2's card holding two SA pairs (``capacity 4``)."""
    first, second = example_configs()
    return first, second.replace("vpnha crypto-card vam\n", EARLY_REFUSAL_CARD)


def early_refusal_operations() -> list[op.Operation]:
    """A concrete schedule for ``I3-early-refusal`` (with :func:`early_refusal_configs`).

    With SSP silent, router 1 resyncs (the request is held) and router 0 negotiates
    SAs 1, 2 and 3 and deletes 2 (all held). SSP heals: the request reaches router 0,
    which answers with full copies of SAs 1 and 3; the first Adds reach router 1, whose
    card takes 1 and 2 and refuses 3. Router 1 then applies the answer (its copies
    cleared, SAs 1 and 3 admitted), while router 0, on the earlier refusal, drops SA 3's
    hold-back floor and sends a million and one packets on it unchecked. Router 0
    crashes; router 1 promotes its copy of SA 3 (0) to M and sends M + 1 again.
    """

    def establish(sa_id: int) -> op.Establish:
        return op.Establish(
            sa_id=sa_id, spi_in=0x100 + sa_id, spi_out=0x200 + sa_id, cookie_i=7, cookie_r=8
        )

    return [
        op.Advance(ms=70_000),
        op.SspSilent(),
        op.Resync(router=1),
        establish(1),
        establish(2),
        establish(3),
        op.Delete(sa_id=2),
        op.SspHeal(),
        op.Advance(ms=100),
        op.SendTraffic(packets=1_000_001, size=1),
        op.Advance(ms=20),
        op.Crash(router=0),
        op.Advance(ms=4_000),
        op.SendTraffic(packets=1, size=1),
        op.Advance(ms=20),
    ]


def run_on_model(
    operations: Sequence[op.Operation], configs: tuple[str, str] | None = None
) -> msys.System:
    """Apply ``operations`` to a pair booted at 1 s (the shipped example by default)."""
    params = (
        example_params()
        if configs is None
        else cluster_params(*RunSpec(configs=configs).router_configs())
    )
    system = msys.boot(params)
    for operation in operations:
        msys.apply_in_place(system, operation)
    return system


def example_configs() -> tuple[str, str]:
    """The texts of ``examples/router1.cfg`` and ``router2.cfg``."""
    return (
        example_path("router1.cfg").read_text(),
        example_path("router2.cfg").read_text(),
    )


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


_FINDINGS: Final = {
    "I3-resync-offline": (
        "z3-resync-offline.itf.json",
        "found by Z3 (vpnha prove, I3-resync-offline): split brain, the standby "
        "clears its copies (resync) while SSP is down, SSP reconnects and the active "
        "re-seeds its hold-back floor at its own value, below the numbers the standby "
        "used: a sequence number was sent twice. Fixed in the model and the "
        "implementation: a cleared copy's counters are remembered and announced like "
        "any dropped SA's.",
    ),
    "I3-late-add": (
        "z3-late-add.itf.json",
        "found by Z3 (vpnha prove, I3-late-add): the standby resyncs while a full copy "
        "is on its way, the active answers with a second one; the standby takes over "
        "and sends, leaves ACTIVE; the second full copy lands, replacing its stale copy "
        "(its own use) by the older value, and it takes over again from there and sends "
        "the same sequence number. Fixed in the model and the implementation: a "
        "BulkBegin remembers the copies it clears and an Add never installs less than "
        "the router held or remembers.",
    ),
    "I3-early-refusal": (
        "z3-early-refusal.itf.json",
        "found by Z3 (vpnha prove, I3-early-refusal): the standby resyncs while a full "
        "copy is on its way; its card refuses that one and admits the resync's; the "
        "Refuse drops the active's hold-back floor, the active sends past copy + M, "
        "crashes, and the standby promotes its copy below those numbers. Fixed in the "
        "model (the implementation already did it): a Refuse counts only if it answers "
        "the latest Add of the SA.",
    ),
}


def _finding_schedule(name: str) -> tuple[tuple[str, str], list[op.Operation]]:
    match name:
        case "I3-resync-offline":
            return example_configs(), resync_offline_operations()
        case "I3-late-add":
            return example_configs(), late_add_operations()
        case _:
            return early_refusal_configs(), early_refusal_operations()


def write_trace(found: Counterexample, folder: Path) -> Path | None:
    """Write the concrete schedule of ``found`` as an ITF counterexample in ``folder``.

    The findings (``I3-resync-offline``, ``I3-late-add``, ``I3-early-refusal``) have a
    concrete schedule; the naive rule is not the model's, so there is nothing to replay
    it on. The schedule runs on the model and the implementation in lockstep
    (``properties/trace.py``); the file expects the failure the replay shows. Slow: the
    schedules send a million packets on both sides.
    """
    if found.property not in _FINDINGS:
        return None
    file_name, story = _FINDINGS[found.property]
    configs, operations = _finding_schedule(found.property)
    spec = RunSpec(configs=configs)
    steps = replay(spec, operations)
    failure = signature(steps)
    trace = TraceFile(
        spec=spec,
        operations=operations,
        expect="fail" if failure else "pass",
        failure=failure,
        description=f"{story} Z3 steps: {' → '.join(found.steps)}",
        steps=steps,
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name
    save_trace(path, trace)
    return path
