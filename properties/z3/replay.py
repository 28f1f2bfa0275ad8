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

The re-seed race (``I3-reseed``, fixed) and the implementation's resync variant
(``I3-resync-reseed``) have :func:`reseed_race_operations` and
:func:`resync_crossing_operations`, with :func:`reseed_race_configs` (HSRP timers of
100/300 ms, so that a split brain fits in SSP's 3 s dead interval and the connection
survives it). ``I1-priority-flap``'s step is played from boot by
:func:`priority_flap_operations` (built with the model alongside).

Cheap replays (``counterexamples/z3-*.itf.json``, written by :func:`write_trace`). The
late Add needs one packet per takeover (the jump does the rest). The early refusal on
the outbound counter needs a million and one packets (M ≥ 10^6), so its trace plays
the same race on the inbound window: :func:`smallest_early_refusal` re-solves Z3's
abstract schedule on the inbound counter (``engine.follow``) for the smallest interval
N that still ends in a duplicate (N = 1: two packets), and
:func:`early_refusal_inbound_operations` plays it (a captured packet replayed after the
takeover). Each replays in lockstep in well under a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import z3
from vpnha.model import operations as op
from vpnha.model import system as msys
from vpnha.model.hsrp import OpCode, Phase
from vpnha.model.params import ClusterParams, GroupSide
from vpnha.model.ssp import Role
from vpnha.properties.scenarios import builtin_configs, cluster_params, example_path
from vpnha.properties.trace import RunSpec, TraceFile, replay, save_trace, signature

from . import counters
from .engine import Counterexample, Vars, follow

__all__ = [
    "EARLY_REFUSAL_STEPS",
    "RESEED_INBOUND",
    "RESEED_TIMERS",
    "SETTLE_MS",
    "counter_schedule",
    "duplicates",
    "early_refusal_configs",
    "early_refusal_inbound_configs",
    "early_refusal_inbound_operations",
    "early_refusal_operations",
    "example_configs",
    "example_params",
    "finding_trace",
    "late_add_operations",
    "priority_flap_operations",
    "reseed_race_configs",
    "reseed_race_operations",
    "resync_crossing_operations",
    "resync_offline_operations",
    "run_on_model",
    "smallest_early_refusal",
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


SETTLE_MS: Final = 1_100
"""How long the late-Add schedule waits after lowering router 0's priority before it
offers traffic: router 1 takes over about 500 ms later (a Hello, then its Coup) and
sends its first Active Hello one hello time (500 ms) after that, which is where the
simulated world's switch has learnt the virtual MAC on router 1's port for good (see
:func:`late_add_operations`)."""


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
    takes over again, promotes 0 to M and sends M + 1 a second time (before the fix).
    All within the 3 s dead interval, so the connection never ends.

    Traffic is offered ``SETTLE_MS`` after each takeover by router 1, once its first
    Active Hello has gone out: in the simulated world the Resign router 0 sends when it
    leaves Active (carrying state Active) makes the switch learn the virtual MAC back on
    router 0's port until then, while the model learns it only from Active Hellos and
    gratuitous ARPs (a difference in ``properties/world.py``, reported, not resolved here).
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
        op.Advance(ms=SETTLE_MS),
        op.SendTraffic(packets=1, size=1),
        op.Advance(ms=20),
        *_priority(0, 100),
        op.Advance(ms=800),
        op.SspHeal(),
        op.Advance(ms=1),
        op.SspSilent(),
        *_priority(0, 50),
        op.Advance(ms=SETTLE_MS),
        op.SendTraffic(packets=1, size=1),
        op.Advance(ms=20),
    ]


RESEED_TIMERS: Final = "timers msec 100 msec 300"
"""Both groups' HSRP timers in :func:`reseed_race_configs` (hello 100 ms, hold 300 ms): a
split brain long enough for the standby to take over (one hold time) fits well inside
SSP's dead interval (3 s), so the SSP connection survives it with its messages held."""


def reseed_race_configs(inbound: int | None = None) -> tuple[str, str]:
    """The shipped pair with :data:`RESEED_TIMERS` on both groups of both routers and, with
    ``inbound``, ``crypto map CMAP_1 ha replay-interval inbound N outbound 1``."""
    first, second = example_configs()
    pair = [text.replace("timers msec 500 3", RESEED_TIMERS) for text in (first, second)]
    if inbound is not None:
        line = f"crypto map CMAP_1 ha replay-interval inbound {inbound} outbound 1\n!\n"
        anchor = "interface FastEthernet0/0\n"
        pair = [text.replace(anchor, line + anchor, 1) for text in pair]
    return pair[0], pair[1]


def _split_and_back() -> list[op.Operation]:
    """Router 1 takes over during a short split brain (both segments partitioned for one
    hold time and a half; SSP, which runs on the inside segment, holds its messages but
    the connection lives on), then loses the election again when the segments heal
    (equal priorities: router 0's higher address wins) and waits for router 0's next
    Active Hello, which moves the virtual MACs back to router 0's ports."""
    return [
        op.Partition(side=GroupSide.INSIDE),
        op.Partition(side=GroupSide.OUTSIDE),
        op.Advance(ms=450),
        op.Heal(side=GroupSide.INSIDE),
        op.Heal(side=GroupSide.OUTSIDE),
        op.Advance(ms=250),
    ]


def reseed_race_operations(
    *, inbound: bool, packets: int, resync: bool = False
) -> list[op.Operation]:
    """A concrete schedule for the re-seed race (counters.py, "The re-seed race"), with
    :func:`reseed_race_configs`: a sequence number sent twice (``inbound=False``, I3,
    ``packets`` = M) or accepted twice (``inbound=True``, I4, ``packets`` = N).

    Z3's steps (``I3-reseed``: connect → sync0 → bare1 → unbare1 → use0 → sync0 → use0 →
    deliver_add1 → promote1 → use1). With SSP silent, SA 1 is negotiated: its full copy
    (value 0, router 0's floor 0) is held. With ``resync``, the full copy is delivered
    first and the late one is the answer to a resync instead (router 1 clears its copy,
    remembering 0; SSP works for 1 ms: the request reaches router 0, whose answer, value 0,
    is held as SSP goes silent again): the race counters.py's first search suspected. Router 0
    sends (or accepts) number 1, within floor + J. A short split brain
    (:func:`_split_and_back`) makes router 1 ACTIVE without the SA (it holds no copy) and
    then not ACTIVE; its announcement, which carries nothing above 0 for SA 1, is held
    behind the full copy. SSP works for 1 ms: the full copy lands on router 1, now not
    ACTIVE, as a usable copy of 0; the announcement reaches router 0, which (the other end
    left ACTIVE) adopts it and re-seeds its floor at its own value 1 — above the copy
    router 1 now holds — and writes a new full copy of 1, held as SSP goes silent. Router
    0 sends (accepts) J more numbers, up to 1 + J, within its new floor + J. Router 0
    crashes; router 1 takes over from its copy 0 at J and sends J + 1 (outbound), or
    accepts J + 1 replayed by an attacker (inbound): the same number twice. That was before
    the fix; since, router 0 keeps its floor 0 when it adopts the announcement, holds back
    at J, and router 1 takes over above every number used.
    """
    traffic: type[op.SendTraffic] | type[op.ReceiveTraffic] = (
        op.ReceiveTraffic if inbound else op.SendTraffic
    )
    establish = op.Establish(sa_id=1, spi_in=0x100, spi_out=0x200, cookie_i=7, cookie_r=8)
    late: list[op.Operation] = (
        [
            establish,
            op.Advance(ms=100),
            op.SspSilent(),
            op.Resync(router=1),
            op.SspHeal(),
            op.Advance(ms=1),
            op.SspSilent(),
        ]
        if resync
        else [op.SspSilent(), establish]
    )
    after: op.Operation = op.ReplayOld(age=0) if inbound else op.SendTraffic(packets=1, size=1)
    return [
        op.Advance(ms=70_000),
        *late,
        traffic(packets=1, size=1),
        op.Advance(ms=20),
        *_split_and_back(),
        op.SspHeal(),
        op.Advance(ms=1),
        op.SspSilent(),
        traffic(packets=packets, size=1),
        op.Advance(ms=20),
        op.Crash(router=0),
        op.Advance(ms=1_000),
        after,
        op.Advance(ms=20),
    ]


def resync_crossing_operations(packets: int) -> list[op.Operation]:
    """The implementation's variant of the re-seed race (with
    ``reseed_race_configs(inbound=N)``, ``packets`` = N): its answer to a resync request
    re-seeds every floor (``SaDatabase._send_full_copy`` resets them whatever ``resync``),
    while the model's keeps a floor it has (``_seed_floor``).

    With SSP silent, SA 1 is negotiated (its Add held) and router 1 resyncs (it holds no
    copy yet; the request is held behind the Add); router 0 accepts packet 1. SSP works
    for 1 ms: the Add lands on router 1 as a usable copy of 0, and the request reaches
    router 0, which answers with a full copy of 1, held as SSP goes silent again. The peer
    sends N packets; router 0 crashes; router 1 takes over from 0 at N and an attacker
    replays packet N + 1. The implementation re-seeded its floor at 1 and accepted up to
    N + 1, so router 1 accepts N + 1 again (I4); the model kept its floor at 0, dropped
    packet N + 1 (held back) and accepts it once, from the replay."""
    return [
        op.Advance(ms=70_000),
        op.SspSilent(),
        op.Establish(sa_id=1, spi_in=0x100, spi_out=0x200, cookie_i=7, cookie_r=8),
        op.Resync(router=1),
        op.ReceiveTraffic(packets=1, size=1),
        op.SspHeal(),
        op.Advance(ms=1),
        op.SspSilent(),
        op.ReceiveTraffic(packets=packets, size=1),
        op.Advance(ms=20),
        op.Crash(router=0),
        op.Advance(ms=1_000),
        op.ReplayOld(age=0),
        op.Advance(ms=20),
    ]


def priority_flap_operations(changes: int = 8, window_ms: int = 1_500) -> list[op.Operation]:
    """A concrete schedule for ``I1-priority-flap`` (the shipped pair): both routers stay
    Active on the inside group for ``window_ms`` after a partition heals, on a clean
    segment, because the operator raises the target of every Coup and of every Active
    Hello above the priority it carries while it is in flight (``standby 1 priority``,
    at most ``changes`` times): the Coup is then ignored (RFC 2281 §5.7: event j needs a
    higher priority) and the Hello provokes a Coup instead of a Resign.

    Built by running the model alongside (one event at a time), so the changes land
    between a message's sending and its delivery; with the shipped timers eight
    changes keep the split past hello + 2 × latency.
    """
    system = msys.boot(example_params())
    operations: list[op.Operation] = []

    def play(operation: op.Operation) -> None:
        msys.apply_in_place(system, operation)
        operations.append(operation)

    play(op.Advance(ms=70_000))
    play(op.Partition(side=GroupSide.INSIDE))
    play(op.Advance(ms=4_000))
    play(op.Heal(side=GroupSide.INSIDE))
    healed, handled, made = system.now, set(), 0
    while system.now < healed + window_ms:
        for message in list(system.hsrp_in_flight):
            sent = message.message
            hostile = sent.op is OpCode.COUP or (
                sent.op is OpCode.HELLO and sent.state is Phase.ACTIVE
            )
            key = (message.deliver_at, message.sender, sent.op, sent.priority)
            if message.side is not GroupSide.INSIDE or not hostile or key in handled:
                continue
            handled.add(key)
            target = 1 - message.sender
            if made < changes and system.routers[target].priority[GroupSide.INSIDE] <= (
                sent.priority
            ):
                play(
                    op.SetPriority(router=target, side=GroupSide.INSIDE, priority=sent.priority + 1)
                )
                made += 1
        play(op.AdvanceToNextEvent())
    return operations


EARLY_REFUSAL_CARD: Final = "vpnha crypto-card vam capacity 4\n"
"""Router 2's card in :func:`early_refusal_configs`: room for two SA pairs."""


def early_refusal_configs() -> tuple[str, str]:
    """The shipped pair with router 2's card holding two SA pairs (``capacity 4``)."""
    first, second = example_configs()
    return first, second.replace("vpnha crypto-card vam\n", EARLY_REFUSAL_CARD)


def _early_refusal_race() -> list[op.Operation]:
    """Two full copies of SA 3 in flight, the first refused by router 1's card and the
    second admitted; the ``Refuse`` reaches router 0 after it wrote the second."""

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
    ]


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

    return [
        *_early_refusal_race(),
        op.SendTraffic(packets=1_000_001, size=1),
        op.Advance(ms=20),
        op.Crash(router=0),
        op.Advance(ms=4_000),
        op.SendTraffic(packets=1, size=1),
        op.Advance(ms=20),
    ]


def early_refusal_inbound_configs(interval: int) -> tuple[str, str]:
    """:func:`early_refusal_configs` with ``crypto map CMAP_1 ha replay-interval inbound
    N outbound 1`` on both routers."""
    line = f"crypto map CMAP_1 ha replay-interval inbound {interval} outbound 1\n!\n"
    first, second = early_refusal_configs()
    anchor = "interface FastEthernet0/0\n"
    return first.replace(anchor, line + anchor, 1), second.replace(anchor, line + anchor, 1)


def early_refusal_inbound_operations(packets: int) -> list[op.Operation]:
    """The ``I3-early-refusal`` race on the inbound window (with
    :func:`early_refusal_inbound_configs`): the same two full copies and the same refusal,
    then the peer sends ``packets`` packets on SA 3 to router 0, router 0 crashes, router
    1 takes over and an attacker replays the newest captured packet. Before the fix the
    refusal dropped every hold-back floor of SA 3: router 0 accepted all the packets and
    router 1, promoted from its copy (0) to N, accepted the last one again (I4)."""
    return [
        *_early_refusal_race(),
        op.ReceiveTraffic(packets=packets, size=1),
        op.Advance(ms=20),
        op.Crash(router=0),
        op.Advance(ms=4_000),
        op.ReplayOld(age=0),
        op.Advance(ms=20),
    ]


EARLY_REFUSAL_STEPS: Final = (
    "connect",
    "resync1",
    "sync0",
    "answer0",
    "deliver_add1",
    "deliver_add1",
    "use0",
    "promote1",
    "use1",
)
"""The abstract schedule of ``I3-early-refusal`` (what ``vpnha prove`` finds)."""


def smallest_early_refusal(
    steps: Sequence[str] = EARLY_REFUSAL_STEPS, largest: int = 8
) -> tuple[int, int]:
    """(N, w): Z3's abstract early-refusal schedule ``steps`` concretized on the inbound
    window with the smallest interval N for which it still ends in a duplicate, and the
    number w accepted twice (at most N + 1, so the peer sends w packets). The outbound
    interval is at least a million packets; the inbound one can be 1."""
    spec = counters.CounterSpec(
        kind="in", jump_min=1, jump_max=10_000, witness=True, early_refusals=True
    )
    system = counters.counter_system(spec)
    for interval in range(1, largest + 1):

        def pinned(s: Vars, par: Vars, interval: int = interval) -> z3.BoolRef:
            del s
            return z3.And(par["J"] == interval, par["w"] <= interval + 1)

        found = follow(
            "I4-early-refusal", system, steps, counters.counter_witness_safe, extra=pinned
        )
        if isinstance(found, Counterexample):
            w = found.value("w")
            assert isinstance(w, int)
            return interval, w
    msg = f"no early-refusal duplicate along {' → '.join(steps)} with N up to {largest}"
    raise AssertionError(msg)


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
        "Z3's I3-late-add schedule (vpnha prove), must pass since the fix. The standby "
        "(7200-2) resyncs while a full copy is on its way and the active answers with a "
        "second one; 7200-2 takes over (7200-1's priority lowered), sends one packet "
        "(sequence number M + 1), leaves ACTIVE; the second full copy lands on its stale "
        "copy (its own use) and it takes over again. Before the fix the copy was replaced "
        "by the older value and 7200-2 sent M + 1 a second time (I3); now a BulkBegin "
        "remembers the copies it clears and an Add never installs less than the router "
        "held or remembers, so the second takeover starts at 2M + 1. One packet per "
        "takeover: the jump of M does the rest. Traffic waits for the new active's first "
        "Active Hello (replay.SETTLE_MS).",
    ),
    "I3-early-refusal": (
        "z3-early-refusal.itf.json",
        "Z3's I3-early-refusal race (vpnha prove), must pass since the fix, concretized on "
        "the inbound window at the smallest interval Z3 finds the duplicate with "
        "(replay.smallest_early_refusal: replay-interval inbound {interval}, {packets} "
        "packets) instead of a million outbound packets: the Refuse drops all of an SA's "
        "hold-back floors alike. 7200-2 resyncs while the first full copies are on their "
        "way; its card (two SA pairs) refuses SA 3's first copy and admits the resync's; "
        "the Refuse reaches 7200-1 after it wrote the second copy; the peer sends "
        "{packets} packets on SA 3, 7200-1 crashes, 7200-2 takes over and an attacker "
        "replays the newest one. Before the fix 7200-1 dropped SA 3's floors, accepted "
        "all {packets}, and 7200-2 (promoted from 0 to N) accepted the last again (I4); "
        "now a Refuse counts only if it answers the latest Add of the SA, 7200-1 holds "
        "back at N, and the replay is refused.",
    ),
    "I3-reseed": (
        "z3-reseed.itf.json",
        "Z3's I3-reseed race (vpnha prove, found with assumption 1 of counters.py dropped), "
        "must pass since the fix, concretized on the inbound window (replay-interval "
        "inbound {interval}; HSRP timers msec 100 msec 300, so that a split brain fits in "
        "SSP's dead interval). With SSP silent, SA 1 is negotiated (its full copy, 0, held); "
        "7200-1 accepts packet 1; a short split makes 7200-2 ACTIVE without the SA and then "
        "not ACTIVE; SSP works for 1 ms: the full copy lands on 7200-2 as a usable copy of "
        "0 and 7200-1 adopts 7200-2's announcement; the peer sends {interval} more packets "
        "(up to {packets}), 7200-1 crashes, 7200-2 takes over and an attacker replays packet "
        "{packets}. Before the fix 7200-1 re-seeded its floor at 1 on the announcement, "
        "accepted all {packets}, and 7200-2 (promoted from 0 to {interval}) accepted the "
        "replay again (I4, on the model and the implementation alike); now the adoption "
        "keeps the floor (0), 7200-1 holds back at {interval}, and the replay is refused.",
    ),
    "I3-resync-reseed": (
        "z3-resync-reseed.itf.json",
        "Z3's I3-resync-reseed race (vpnha prove), must pass since the fix: the answer to a "
        "resync request while the establishment's full copy, older, is still on its way "
        "(replay-interval inbound {interval}). The peer sends packet 1 before the answer and "
        "{interval} packets after it; 7200-1 crashes, and 7200-2 (copy 0, promoted to {interval}) "
        "meets an attacker's replay of packet {packets}. Before the fix the implementation "
        "re-seeded the holder's floors on the answer and accepted packet {packets} (the "
        "model held it back: the two disagreed) and, after the takeover, accepted its "
        "replay again (I4 on the implementation); now neither re-seeds, both hold back at "
        "{interval}, and the replay is refused.",
    ),
}

RESEED_INBOUND: Final = 3
"""The inbound interval of the re-seed traces: the smallest with which router 0's first
packet sends no counter update (updates go out every ceil(N/2) packets)."""


def _finding_schedule(found: Counterexample) -> tuple[tuple[str, str], list[op.Operation], str]:
    """Configurations, operations, and the story with its parameters filled in."""
    story = _FINDINGS[found.property][1]
    match found.property:
        case "I3-resync-offline":
            return example_configs(), resync_offline_operations(), story
        case "I3-late-add":
            return example_configs(), late_add_operations(), story
        case "I3-reseed" | "I3-resync-reseed":
            interval = RESEED_INBOUND
            operations = (
                reseed_race_operations(inbound=True, packets=interval)
                if found.property == "I3-reseed"
                else resync_crossing_operations(interval)
            )
            return (
                reseed_race_configs(inbound=interval),
                operations,
                story.format(interval=interval, packets=interval + 1),
            )
        case _:
            interval, packets = smallest_early_refusal(found.steps or EARLY_REFUSAL_STEPS)
            return (
                early_refusal_inbound_configs(interval),
                early_refusal_inbound_operations(packets),
                story.format(interval=interval, packets=packets),
            )


def finding_trace(found: Counterexample) -> TraceFile | None:
    """The concrete schedule of ``found``, replayed on the model and the implementation in
    lockstep (``properties/trace.py``), as a trace that expects what the replay shows;
    None when ``found`` has no concrete schedule (the naive rule is not the model's)."""
    if found.property not in _FINDINGS:
        return None
    configs, operations, story = _finding_schedule(found)
    spec = RunSpec(configs=configs)
    steps = replay(spec, operations)
    failure = signature(steps)
    return TraceFile(
        spec=spec,
        operations=operations,
        expect="fail" if failure else "pass",
        failure=failure,
        description=f"{story} Z3 steps: {' → '.join(found.steps)}",
        steps=steps,
    )


def write_trace(found: Counterexample, folder: Path) -> Path | None:
    """Write the concrete schedule of ``found`` as an ITF counterexample in ``folder``.

    The findings (``I3-resync-offline``, ``I3-late-add``, ``I3-early-refusal``,
    ``I3-reseed``, ``I3-resync-reseed``) have a concrete schedule (:func:`finding_trace`).
    The late Add, the early refusal and the two re-seed races replay in a second or less
    (one packet per takeover; the inbound window at a small interval); the offline resync
    sends a million packets on both sides (minutes). Each trace expects what its replay
    shows: since the fixes, no failure.
    """
    trace = finding_trace(found)
    if trace is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _FINDINGS[found.property][0]
    save_trace(path, trace)
    return path
