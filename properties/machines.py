"""Hypothesis state machines: the model alone (every operation), and model + implementation.

``ModelMachine`` boots the document's two routers, lets them elect, and then lets
Hypothesis choose any sequence of operations (DESIGN §6: time, crash/restart,
interface down/up, partitions, HSRP message loss/duplication/delay, SSP cut,
silence, heal and delay, SA establish/rekey/delete/expire, traffic both ways,
replay of captured packets, resync, priority and preempt changes, DPD). After
every step it observes the model and asserts I1–I9; the composite rule
``fail_active`` asserts I10 around a failover. Every choice is drawn by
Hypothesis, so a failure shrinks to a short operation list.

Subclass it with another ``CONFIG_PAIR`` to explore other configurations; set
``ASSUME_CONFORMING = False`` to assert I2 even when the configuration breaks the
document's HA requirements (that is how the split configuration is shown to fail).
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from vpnha.impl.config import RouterConfig, parse_config
from vpnha.model import operations as op
from vpnha.model.hsrp import OpCode, Phase
from vpnha.model.params import ClusterParams, GroupSide
from vpnha.model.system import HsrpInFlight, System, apply_in_place, boot

from .coverage import SspTally, sa_transitions
from .invariants import (
    ContinuityWatch,
    InvariantChecker,
    Violation,
    check_continuity,
    conforming,
)
from .lockstep import LockstepPair
from .observation import Observation, observe_model
from .scenarios import builtin_configs, cluster_params, example_path, load_pair

__all__ = [
    "COVERAGE",
    "LAST_FAILURE",
    "LockstepFailure",
    "LockstepMachine",
    "ModelMachine",
    "SplitModelMachine",
    "lockstep_config_texts",
    "lockstep_configs",
]

ROUTERS = st.integers(min_value=0, max_value=1)
SIDES = st.sampled_from([GroupSide.INSIDE, GroupSide.OUTSIDE])
SPIS = st.integers(min_value=0x100, max_value=2**32 - 1)
PACKETS = st.one_of(
    st.integers(min_value=1, max_value=50),
    st.integers(min_value=1, max_value=5_000),
    st.integers(min_value=1, max_value=3_000_000),
)
SIZES = st.sampled_from([64, 100, 1400])
SHORT_MS = st.integers(min_value=1, max_value=4_000)
DOWN_MS = st.one_of(
    st.integers(min_value=0, max_value=999), st.integers(min_value=0, max_value=4_000)
)
"""How long a router stays down in the rejoin rules: mostly less than the hold time (the
other still holds its old role), sometimes longer."""
LONG_MS = st.integers(min_value=4_000, max_value=120_000)
MESSAGE_INDEX = st.integers(min_value=0, max_value=7)
NEAR_MS = st.builds(op.Advance, ms=st.one_of(st.integers(0, 50), st.integers(0, 1_000)))
"""A short wait inside a burst: within a latency, or up to two hello times."""
FAULT_OPERATIONS: st.SearchStrategy[op.Operation] = st.one_of(
    NEAR_MS,
    st.builds(op.Crash, router=ROUTERS),
    st.builds(op.Restart, router=ROUTERS),
    st.builds(op.InterfaceDown, router=ROUTERS, side=SIDES),
    st.builds(op.InterfaceUp, router=ROUTERS, side=SIDES),
    st.builds(op.Partition, side=SIDES),
    st.builds(op.Heal, side=SIDES),
    st.just(op.SspCut()),
    st.just(op.SspSilent()),
    st.just(op.SspHeal()),
    st.builds(op.SspDelay, ms=st.sampled_from([1, 2, 5, 500, 2_500])),
    st.builds(
        op.SetPriority, router=ROUTERS, side=SIDES, priority=st.sampled_from([1, 100, 105, 255])
    ),
    st.builds(op.SetPreempt, router=ROUTERS, side=SIDES, preempt=st.booleans()),
    st.builds(op.Resync, router=ROUTERS),
    st.just(op.ExpireSoonest()),
)
"""Faults and administration close together (``LockstepMachine.fault_burst``; an
``ExpireSoonest`` only when an expiry is near, as the ``expire_soonest`` rule)."""
TRAFFIC_OPERATIONS: st.SearchStrategy[op.Operation] = st.one_of(
    NEAR_MS,
    st.builds(op.SendTraffic, packets=st.integers(1, 30), size=SIZES),
    st.builds(op.ReceiveTraffic, packets=st.integers(1, 30), size=SIZES),
    st.builds(op.DpdProbe, from_peer=st.booleans()),
    st.builds(op.ReplayCaptured, pick=st.integers(0, 2**20)),
    st.builds(op.ReplayOld, age=st.sampled_from([0, 1, 63, 64])),
    st.builds(op.ForgeCaptured, pick=st.integers(0, 2**20), ahead=st.sampled_from([1, 64])),
    st.builds(op.Crash, router=ROUTERS),
    st.builds(op.InterfaceDown, router=ROUTERS, side=SIDES),
    st.just(op.SspSilent()),
)
"""Traffic both ways, DPD and an attacker's packets, with the odd fault between them
(``LockstepMachine.traffic_burst``)."""
MESSAGE_OPERATIONS: st.SearchStrategy[op.Operation] = st.one_of(
    st.just(op.AdvanceToNextEvent()),
    st.builds(op.DropHello, index=MESSAGE_INDEX),
    st.builds(op.DuplicateHello, index=MESSAGE_INDEX),
    st.builds(op.DelayHello, index=MESSAGE_INDEX, ms=st.integers(1, 5_000)),
    st.builds(op.SetPriority, router=ROUTERS, side=SIDES, priority=st.sampled_from([1, 255])),
    st.builds(op.Crash, router=ROUTERS),
    st.builds(op.Restart, router=ROUTERS),
)
"""HSRP messages lost, duplicated or late, event by event (``AdvanceToNextEvent`` puts the
next message on the wire), between priority changes and crashes
(``LockstepMachine.message_burst``)."""


def _burst(operations: st.SearchStrategy[op.Operation]) -> st.SearchStrategy[list[op.Operation]]:
    """1-12 operations (a burst's lockstep steps)."""
    return st.lists(operations, min_size=1, max_size=12)


class _SharedRules(RuleBasedStateMachine):
    """The operations both machines draw the same way; each machine's ``_do`` applies one
    (to the model alone, or to the model and the implementation in lockstep)."""

    def _do(self, operation: op.Operation) -> None:
        raise NotImplementedError

    @rule(router=ROUTERS)
    def crash(self, router: int) -> None:
        self._do(op.Crash(router=router))

    @rule(router=ROUTERS)
    def restart(self, router: int) -> None:
        self._do(op.Restart(router=router))

    @rule(router=ROUTERS, side=SIDES)
    def interface_down(self, router: int, side: GroupSide) -> None:
        self._do(op.InterfaceDown(router=router, side=side))

    @rule(router=ROUTERS, side=SIDES)
    def interface_up(self, router: int, side: GroupSide) -> None:
        self._do(op.InterfaceUp(router=router, side=side))

    @rule(side=SIDES)
    def partition(self, side: GroupSide) -> None:
        self._do(op.Partition(side=side))

    @rule(side=SIDES)
    def heal(self, side: GroupSide) -> None:
        self._do(op.Heal(side=side))

    @rule()
    def ssp_cut(self) -> None:
        self._do(op.SspCut())

    @rule()
    def ssp_silent(self) -> None:
        self._do(op.SspSilent())

    @rule()
    def ssp_heal(self) -> None:
        self._do(op.SspHeal())

    @rule(pick=st.integers(min_value=0, max_value=2**20))
    def replay_captured(self, pick: int) -> None:
        self._do(op.ReplayCaptured(pick=pick))

    @rule(router=ROUTERS, side=SIDES, preempt=st.booleans())
    def set_preempt(self, router: int, side: GroupSide, preempt: bool) -> None:
        self._do(op.SetPreempt(router=router, side=side, preempt=preempt))

    @rule(router=ROUTERS)
    def resync(self, router: int) -> None:
        self._do(op.Resync(router=router))


class ModelMachine(_SharedRules):
    """The model under every operation, with I1–I10 asserted."""

    CONFIG_PAIR: ClassVar[tuple[str, str] | None] = None
    """Example file names; None means the built-in document pair."""
    ASSUME_CONFORMING: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self.system: System | None = None
        self.checker = InvariantChecker()
        self.next_sa_id = 1
        self.last: Observation | None = None
        self.log_seen = 0
        self.cells_seen: dict[str, int] = {}

    # ------------------------------------------------------------ plumbing

    def _params(
        self, jitter: tuple[int, ...], latency: int, lifetime_s: int, delays_ms: tuple[int, int]
    ) -> ClusterParams:
        if self.CONFIG_PAIR is None:
            first, second = builtin_configs()
        else:
            first, second = load_pair(*(example_path(name) for name in self.CONFIG_PAIR))
        params = cluster_params(first, second, jitter_ms=jitter, link_latency_ms=latency)
        # A shorter IPsec lifetime (still inside IOS's 120-86400 s) lets runs reach expiry,
        # and shorter ``standby delay reload/minimum`` (IOS allows 0-10000 s) let restarts
        # and interface flaps reach preempt, Coup and Resign within a short run.
        reload_ms, minimum_ms = delays_ms
        routers = tuple(
            dataclasses.replace(
                router,
                inside=dataclasses.replace(
                    router.inside, delay_reload_ms=reload_ms, delay_minimum_ms=minimum_ms
                ),
                outside=dataclasses.replace(
                    router.outside, delay_reload_ms=reload_ms, delay_minimum_ms=minimum_ms
                ),
            )
            for router in params.routers
        )
        assert len(routers) == 2
        return dataclasses.replace(
            params, lifetime_ms=lifetime_s * 1000, routers=(routers[0], routers[1])
        )

    def _do(self, operation: op.Operation) -> None:
        assert self.system is not None
        note(f"{self.system.now} ms: {operation}")
        apply_in_place(self.system, operation)
        event(type(operation).__name__)
        self._check()

    def _check(self) -> None:
        assert self.system is not None
        obs = observe_model(self.system)
        self.last = obs
        violations = self.checker.observe(obs)
        if not self.ASSUME_CONFORMING and not conforming(obs):
            violations += self._strict_coherence(obs)
        # Coverage (Hypothesis statistics): every RFC 2281 cell taken and every kind of
        # model event, so a run shows which parts of the table it exercised.
        for label in _new_cells(self.system, self.cells_seen):
            event(f"cell: {label}")
        for entry in self.system.log[self.log_seen :]:
            if entry.kind != "hsrp":
                event(f"log: {entry.kind}")
        self.log_seen = len(self.system.log)
        assert not violations, "\n".join(str(v) for v in violations)

    def _strict_coherence(self, obs: Observation) -> list[Violation]:
        """I2's black-hole clause without the conforming-configuration premise."""
        stable = obs.now_ms - obs.disturbed_ms > obs.config.settle_ms
        fully_up = all(
            r.up and r.inside.interface_up and r.outside.interface_up for r in obs.routers
        )
        if not (stable and fully_up and not any(obs.partitioned)):
            return []
        return [
            Violation(
                invariant="I2",
                time_ms=obs.now_ms,
                message=(
                    f"{r.name} is {r.inside.state} inside but {r.outside.state} outside: "
                    "black hole (the active/standby-standby/active split)"
                ),
            )
            for r in obs.routers
            if (r.inside.state == "Active") != (r.outside.state == "Active")
        ]

    def _sa_ids(self) -> list[int]:
        assert self.system is not None
        return sorted({sa_id for r in self.system.routers for sa_id in r.sas})

    # ---------------------------------------------------------------- setup

    @initialize(
        jitter=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=4),
        latency=st.integers(min_value=1, max_value=20),
        settle=st.integers(min_value=65_000, max_value=130_000),
        lifetime_s=st.sampled_from([120, 300, 3600]),
        delays_ms=st.sampled_from([(60_000, 30_000), (2_000, 1_000), (0, 0)]),
    )
    def start(
        self,
        jitter: list[int],
        latency: int,
        settle: int,
        lifetime_s: int,
        delays_ms: tuple[int, int],
    ) -> None:
        """Boot both routers and let them run (HSRP starts after ``standby delay reload``).

        ``delays_ms`` is (reload, minimum): the document's 60/30 s, or shorter values.
        """
        self.system = boot(self._params(tuple(jitter), latency, lifetime_s, delays_ms))
        self.checker = InvariantChecker(
            skip=frozenset() if self.ASSUME_CONFORMING else frozenset({"I2"})
        )
        self._do(op.Advance(ms=settle))

    # ----------------------------------------------------------------- time

    @rule(ms=SHORT_MS)
    def advance_short(self, ms: int) -> None:
        self._do(op.Advance(ms=ms))

    @rule(ms=LONG_MS)
    def advance_long(self, ms: int) -> None:
        self._do(op.Advance(ms=ms))

    @rule()
    def advance_to_next_event(self) -> None:
        self._do(op.AdvanceToNextEvent())

    # --------------------------------------------------------------- faults

    def _in_flight(self) -> bool:
        return self.system is not None and bool(self.system.hsrp_in_flight)

    @precondition(_in_flight)
    @rule(index=st.integers(min_value=0, max_value=7))
    def drop_hello(self, index: int) -> None:
        self._do(op.DropHello(index=index))

    @precondition(_in_flight)
    @rule(index=st.integers(min_value=0, max_value=7))
    def duplicate_hello(self, index: int) -> None:
        self._do(op.DuplicateHello(index=index))

    @precondition(_in_flight)
    @rule(index=st.integers(min_value=0, max_value=7), ms=st.integers(min_value=1, max_value=5000))
    def delay_hello(self, index: int, ms: int) -> None:
        self._do(op.DelayHello(index=index, ms=ms))

    @rule(ms=st.integers(min_value=0, max_value=2_500))
    def ssp_delay(self, ms: int) -> None:
        self._do(op.SspDelay(ms=ms))

    # ------------------------------------------------------------- SA life

    @rule(spi_in=SPIS, spi_out=SPIS, cookie=st.integers(min_value=1, max_value=3))
    def establish(self, spi_in: int, spi_out: int, cookie: int) -> None:
        sa_id = self.next_sa_id
        self.next_sa_id += 1
        self._do(
            op.Establish(
                sa_id=sa_id, spi_in=spi_in, spi_out=spi_out, cookie_i=cookie, cookie_r=cookie + 100
            )
        )

    def _has_sa(self) -> bool:
        return bool(self._sa_ids())

    @precondition(_has_sa)
    @rule(pick=st.integers(min_value=0, max_value=15), spi_in=SPIS, spi_out=SPIS)
    def rekey(self, pick: int, spi_in: int, spi_out: int) -> None:
        ids = self._sa_ids()
        new_id = self.next_sa_id
        self.next_sa_id += 1
        self._do(
            op.Rekey(sa_id=ids[pick % len(ids)], new_sa_id=new_id, spi_in=spi_in, spi_out=spi_out)
        )

    @precondition(_has_sa)
    @rule(pick=st.integers(min_value=0, max_value=15))
    def delete(self, pick: int) -> None:
        ids = self._sa_ids()
        self._do(op.Delete(sa_id=ids[pick % len(ids)]))

    @rule()
    def expire_soonest(self) -> None:
        self._do(op.ExpireSoonest())

    # -------------------------------------------------------------- traffic

    @rule(packets=PACKETS, size=SIZES)
    def send_traffic(self, packets: int, size: int) -> None:
        self._do(op.SendTraffic(packets=packets, size=size))

    @rule(packets=PACKETS, size=SIZES)
    def receive_traffic(self, packets: int, size: int) -> None:
        self._do(op.ReceiveTraffic(packets=packets, size=size))

    @rule(from_peer=st.booleans())
    def dpd(self, from_peer: bool) -> None:
        self._do(op.DpdProbe(from_peer=from_peer))

    # -------------------------------------------------------- administration

    @rule(router=ROUTERS, side=SIDES, priority=st.integers(min_value=1, max_value=255))
    def set_priority(self, router: int, side: GroupSide, priority: int) -> None:
        self._do(op.SetPriority(router=router, side=side, priority=priority))

    # ----------------------------------------------------------- composites

    def _has_active(self) -> bool:
        return self.last is not None and any(r.role == "ACTIVE" for r in self.last.routers)

    @precondition(_has_active)
    @rule(extra=st.integers(min_value=0, max_value=200))
    def fail_active(self, extra: int) -> None:
        """Crash the ACTIVE router, wait hold + hello, and check I10 (continuity)."""
        assert self.last is not None
        before = self.last
        failed = next(i for i, r in enumerate(before.routers) if r.role == "ACTIVE")
        self._do(op.Crash(router=failed))
        wait = before.config.hold_ms + before.config.hello_ms + extra
        self._do(op.Advance(ms=wait))
        assert self.last is not None
        problems = check_continuity(before, self.last, failed=failed)
        if before.routers[1 - failed].role == "STANDBY":
            event("I10 checked")
        assert not problems, "I10: " + "; ".join(problems)

    # --------------------------------------------------------------- checks

    @invariant()
    def time_moves_forward(self) -> None:
        if self.system is not None and self.last is not None:
            assert self.system.now >= self.last.now_ms


def _new_cells(system: System, seen: dict[str, int]) -> dict[str, int]:
    """RFC 2281 cells the model applied since ``seen`` was updated (label -> times); updates
    ``seen``."""
    new = {
        label: times - seen.get(label, 0)
        for label, times in system.hsrp_cells.items()
        if times != seen.get(label, 0)
    }
    seen.update(system.hsrp_cells)
    return new


class SplitModelMachine(ModelMachine):
    """The inconsistent-address-ordering pair, with I2 asserted without its premise."""

    CONFIG_PAIR = ("split-router1.cfg", "split-router2.cfg")
    ASSUME_CONFORMING = False


# ------------------------------------------------------------------------------------
# Lockstep: the model and the implementation under the same operations
# ------------------------------------------------------------------------------------

LOCKSTEP_DELAYS = ("standby delay minimum 30 reload 60", "standby delay minimum 2 reload 2")
"""The document's 60/30 s standby delays shortened (IOS allows 0-10000 s) so that short
runs reach restarts, preemption and tracking."""


SHORT_LIFETIME_S = 120
"""IOS's shortest IPsec SA lifetime (``crypto ipsec security-association lifetime seconds``,
120-86400): runs with it reach SA expiry within a few minutes of simulated time."""
EXPIRY_REACH_MS = SHORT_LIFETIME_S * 1000
"""``expire_soonest`` runs only when the soonest expiry is at most this far ahead (any SA
of a run with short lifetimes; only the end of a one-hour one): every simulated second
costs both sides' timers (about 1.5 ms of CPU)."""


PREEMPT_VARIANTS = (
    "preempt",
    "preempt delay minimum 1 reload 4 sync 3",
    "preempt delay reload 6 sync 10",
    "preempt delay minimum 2 sync 1",
)
"""What ``standby N preempt`` becomes in a lockstep run: the document's plain form, and
the ``delay minimum/reload/sync`` forms (reload on the first enable after a boot; sync
waiting for SSP's full copy), short enough that runs reach them."""


def lockstep_config_texts(
    lifetime_s: int | None = None, preempt: str = "preempt", *, learn_vip: bool = False
) -> tuple[str, str]:
    """The document's pair with short standby delays, as configuration text; with
    ``lifetime_s``, also a global IPsec SA lifetime of that many seconds (120-86400);
    ``preempt``: what each ``standby N preempt`` line says instead (``PREEMPT_VARIANTS``);
    ``learn_vip``: the second router's ``standby N ip`` lines name no address, so it
    learns the virtual IPs from the first one's Hellos (RFC 2281's Learn state; the
    document always writes the address, IOS and RFC 2281 allow leaving it out)."""
    first, second = (
        example_path(name)
        .read_text()
        .replace(*LOCKSTEP_DELAYS)
        .replace(" standby 1 preempt\n", f" standby 1 {preempt}\n")
        .replace(" standby 2 preempt\n", f" standby 2 {preempt}\n")
        for name in ("router1.cfg", "router2.cfg")
    )
    if learn_vip:
        second = re.sub(r"^( standby \d+ ip) \S+$", r"\1", second, flags=re.MULTILINE)
    if lifetime_s is None:
        return first, second
    line = f"crypto ipsec security-association lifetime seconds {lifetime_s}\n"
    anchor = "crypto ipsec transform-set"
    first, second = (text.replace(anchor, line + anchor, 1) for text in (first, second))
    return first, second


def lockstep_configs(
    lifetime_s: int | None = None, preempt: str = "preempt", *, learn_vip: bool = False
) -> tuple[RouterConfig, RouterConfig]:
    """The document's pair with short standby delays (parsed once: configurations are
    immutable, and every lockstep run starts from them); ``lifetime_s``, ``preempt`` and
    ``learn_vip`` as in :func:`lockstep_config_texts`."""
    return _parsed(lockstep_config_texts(lifetime_s, preempt, learn_vip=learn_vip))


@functools.lru_cache(maxsize=16)
def _parsed(texts: tuple[str, str]) -> tuple[RouterConfig, RouterConfig]:
    first = parse_config(texts[0], source="router1.cfg")
    return first, parse_config(texts[1], source="router2.cfg")


@dataclass(slots=True)
class LockstepFailure:
    """The run a failing :class:`LockstepMachine` example executed (for the post-pass)."""

    latency_ms: int
    seed: int
    operations: list[op.Operation]
    problems: list[str]
    configs: tuple[str, str]
    """Both routers' configuration text."""


COVERAGE: collections.Counter[str] = collections.Counter()
"""What lockstep runs exercised: ``cell: …`` (RFC 2281 §5.7 cells the model applied, with
or without a change of phase),
``op: …`` (operations), ``examples``, ``steps``. A campaign clears and reads it."""

LAST_FAILURE: list[LockstepFailure] = []
"""The most recent failing example's run (a campaign reads it after Hypothesis reports)."""


class LockstepMachine(_SharedRules):
    """Model and implementation in lockstep: same operations, same invariants, agreeing views.

    After every step: I1–I9 on the model's observation and on the implementation's,
    and :meth:`LockstepPair.differences` empty (see :mod:`.lockstep` for what is compared
    and when). Traffic is real on the implementation's side (every packet encrypted,
    forwarded, decrypted), so bursts are small.

    A step is one operation (``_do``); a rule may take several. Where the CPU goes: both
    sides' timers cost about 1.5 ms per simulated second (hellos every 500 ms per group
    and router, SSP keepalives), so the long waits of the composite rules (a settle
    time is 17 s) cost far more than Hypothesis (about 0.5 ms per rule), the two
    observations (about 0.5 ms) and the invariants; the ``*_burst`` rules draw a list of
    operations close together in time and apply each as a step, which is where short,
    cheap steps come from. Half the runs use 120 s SA lifetimes, so that they reach
    expiry (``expire_soonest``, and on its own).
    """

    def __init__(self) -> None:
        super().__init__()
        self.pair: LockstepPair | None = None
        self.checkers = (InvariantChecker(), InvariantChecker())
        self.watches = (ContinuityWatch(), ContinuityWatch())
        self.observed: tuple[Observation, Observation] | None = None
        self.established = 0
        self.cookies = 0
        """The last CKY-I handed out (each new IKE SA gets the next)."""
        self.operations: list[op.Operation] = []
        self.latency_ms = 1
        self.seed = 1
        self.lifetime_s: int | None = None
        self.preempt = "preempt"
        self.learn_vip = False
        self.ssp_tallies: dict[tuple[int, int], SspTally] = {}
        self.cells_seen: dict[str, int] = {}

    def _do(self, operation: op.Operation) -> None:
        pair = self.pair
        assert pair is not None
        note(f"{pair.now} ms: {operation}")
        self.operations.append(operation)
        before = self.observed or pair.observe()
        pair.apply(operation)
        event(f"lockstep: {type(operation).__name__}")
        model, impl = self.observed = pair.observe()
        problems = [f"model {v}" for v in self.checkers[0].observe(model)]
        problems += [f"impl {v}" for v in self.checkers[1].observe(impl)]
        checked = self.watches[0].checked
        at = f"I10 at {model.now_ms} ms"
        problems += [f"model {at}: {p}" for p in self.watches[0].step(operation, before[0], model)]
        problems += [f"impl {at}: {p}" for p in self.watches[1].step(operation, before[1], impl)]
        if self.watches[0].checked > checked:
            COVERAGE["I10 checked"] += 1
        problems += [f"differ: {d}" for d in pair.differences((model, impl))]
        if pair.settled():
            event("lockstep: compared settled")
        COVERAGE[f"op: {type(operation).__name__}"] += 1
        COVERAGE["steps"] += 1
        for label in sa_transitions(before[0], model):
            COVERAGE[f"sa: {label}"] += 1
        for label, times in _new_cells(pair.model, self.cells_seen).items():
            event(f"cell: {label}")
            COVERAGE[f"cell: {label}"] += times
        self._assert_none(problems)

    def _assert_none(self, problems: list[str]) -> None:
        """Fail the example on any problem, recording its run for the campaign's post-pass."""
        if problems:
            LAST_FAILURE[:] = [
                LockstepFailure(
                    latency_ms=self.latency_ms,
                    seed=self.seed,
                    operations=list(self.operations),
                    problems=problems,
                    configs=lockstep_config_texts(
                        self.lifetime_s, self.preempt, learn_vip=self.learn_vip
                    ),
                )
            ]
        assert not problems, "\n".join(problems)

    @initialize(
        latency=st.integers(min_value=1, max_value=5),
        seed=st.integers(0, 2**16),
        lifetime_s=st.sampled_from([None, SHORT_LIFETIME_S]),
        preempt=st.sampled_from(PREEMPT_VARIANTS),
        learn_vip=st.booleans(),
    )
    def start(
        self,
        latency: int,
        seed: int,
        lifetime_s: int | None = None,
        preempt: str = "preempt",
        learn_vip: bool = False,
    ) -> None:
        """Boot both sides and let them elect. ``lifetime_s``: the configurations' IPsec
        SA lifetime (None: the document's, one hour), short so that runs reach expiry;
        ``preempt``: the groups' preempt command (``PREEMPT_VARIANTS``); ``learn_vip``:
        the second router learns the virtual IPs (RFC 2281's Learn state, every time it
        boots or its interface comes back)."""
        COVERAGE["examples"] += 1
        self.latency_ms, self.seed, self.lifetime_s = latency, seed, lifetime_s
        self.preempt, self.learn_vip = preempt, learn_vip
        # The search keeps no wire log (a counterexample's replay records one).
        self.pair = LockstepPair(
            lockstep_configs(lifetime_s, preempt, learn_vip=learn_vip),
            latency_ms=latency,
            seed=seed,
            keep_log=False,
        )
        self.ssp_tallies = {}
        self.pair.world.ssp_tap = self._tap_ssp
        self._do(op.Advance(ms=20_000))

    def _tap_ssp(self, connection: int, writer: int, data: bytes) -> None:
        """Coverage: the kinds of SSP frame written, per connection and direction."""
        tally = self.ssp_tallies.get((connection, writer))
        if tally is None:
            tally = self.ssp_tallies[connection, writer] = SspTally()
        for label in tally.feed(data):
            COVERAGE[label] += 1

    @rule(ms=SHORT_MS)
    def advance_short(self, ms: int) -> None:
        self._do(op.Advance(ms=ms))

    @rule(ms=st.integers(min_value=4_000, max_value=40_000))
    def advance_long(self, ms: int) -> None:
        self._do(op.Advance(ms=ms))

    @rule(reuse=st.booleans())
    def establish(self, reuse: bool = True) -> None:
        """A new SA pair, one millisecond after anything before it.

        Under the newest IKE SA the router answering for the outside virtual IP holds
        ACTIVE (``reuse``: Quick Mode only), else under a new one (Main Mode first). A new
        IKE SA always gets cookies never used before, as real ones are: two IKE SAs
        with one cookie pair (one on each router after a split) would be one SA to the
        model and two to the peer.

        Outbound traffic uses the newest pair (the model: the last negotiated; the
        implementation: the one that expires last, a replicated absolute instant). Two
        negotiations in the same millisecond have no defined order, so the harness
        spaces them.
        """
        assert self.pair is not None
        self.established += 1
        base = 0x1000 + 2 * self.established
        self._do(op.Advance(ms=1))
        model = self.pair.model
        owner = model.owner(GroupSide.OUTSIDE)
        held = (
            [k for k, ike in model.routers[owner].ike.items() if ike.status.value == "ACTIVE"]
            if owner is not None
            else []
        )
        if reuse and held:
            cookie = max(held)
        else:
            self.cookies += 1
            cookie = self.cookies
        self._do(
            op.Establish(
                sa_id=self.established,
                spi_in=base,
                spi_out=base + 1,
                cookie_i=cookie,
                cookie_r=cookie + 0x10000,
            )
        )

    @rule(from_peer=st.booleans())
    def dpd(self, from_peer: bool) -> None:
        """A DPD exchange on the newest IKE SA of the router answering for the outside VIP."""
        self._do(op.DpdProbe(from_peer=from_peer))

    # Bursts: one Hypothesis rule, several lockstep steps close together in time (each
    # applied to both sides, observed, compared and checked). Interleavings within a hello
    # time are cheap to reach this way, and a failure still shrinks operation by operation
    # (the post-pass works on the flat list).

    @rule(operations=_burst(FAULT_OPERATIONS))
    def fault_burst(self, operations: list[op.Operation]) -> None:
        """Faults and administration close together (an expiry on demand only when one is
        near: up to an hour of simulated hellos is not a burst)."""
        for operation in operations:
            if isinstance(operation, op.ExpireSoonest) and not self._expiry_near():
                continue
            self._do(operation)

    @rule(operations=_burst(TRAFFIC_OPERATIONS))
    def traffic_burst(self, operations: list[op.Operation]) -> None:
        """Traffic, DPD and an attacker's packets, with the odd fault between them."""
        for operation in operations:
            self._do(operation)

    @rule(operations=_burst(MESSAGE_OPERATIONS))
    def message_burst(self, operations: list[op.Operation]) -> None:
        """HSRP messages lost, duplicated or late, event by event."""
        for operation in operations:
            self._do(operation)

    @rule(
        ms=st.one_of(
            st.sampled_from([500, 1_000, 2_500]), st.integers(min_value=1, max_value=2_500)
        ),
        hold_ms=st.one_of(st.sampled_from([0, 3_000]), st.integers(min_value=0, max_value=6_000)),
    )
    def ssp_delay(self, ms: int, hold_ms: int) -> None:
        """The SSP byte stream is held up: what either router writes (and connection
        requests and their answers) takes ``ms`` to arrive, for ``hold_ms``; then the delay
        is the segment latency again. Nothing overtakes what is already on its way."""
        pair = self.pair
        assert pair is not None
        self._do(op.SspDelay(ms=ms))
        self._do(op.Advance(ms=hold_ms))
        self._do(op.SspDelay(ms=pair.latency_ms))

    def _expiry_near(self) -> bool:
        """Some router (up) holds an SA that expires within ``EXPIRY_REACH_MS``."""
        if self.pair is None:
            return False
        model = self.pair.model
        return any(
            sa.expires_ms - model.now <= EXPIRY_REACH_MS
            for router in model.routers
            if router.up
            for sa in router.sas.values()
        )

    @precondition(_expiry_near)
    @rule()
    def expire_soonest(self) -> None:
        """Time runs to the soonest SA lifetime expiry (each side finds its own: the clocks
        are compared)."""
        self._do(op.ExpireSoonest())

    @rule(pick=st.integers(min_value=0, max_value=15))
    def rekey(self, pick: int) -> None:
        """The peer rekeys an ACTIVE pair: Quick Mode under its IKE SA, then the old pair
        is deleted (one millisecond after anything before it, as ``establish``)."""
        assert self.pair is not None
        active = sorted(
            sa_id
            for router in self.pair.model.routers
            if router.up
            for sa_id, sa in router.sas.items()
            if sa.status.value == "ACTIVE"
        )
        if not active:
            return
        self.established += 1
        base = 0x1000 + 2 * self.established
        self._do(op.Advance(ms=1))
        self._do(
            op.Rekey(
                sa_id=active[pick % len(active)],
                new_sa_id=self.established,
                spi_in=base,
                spi_out=base + 1,
            )
        )

    @rule(packets=st.integers(min_value=1, max_value=30), size=SIZES)
    def send_traffic(self, packets: int, size: int) -> None:
        self._do(op.SendTraffic(packets=packets, size=size))

    @rule(packets=st.integers(min_value=1, max_value=30), size=SIZES)
    def receive_traffic(self, packets: int, size: int) -> None:
        self._do(op.ReceiveTraffic(packets=packets, size=size))

    @rule(
        pick=st.integers(min_value=0, max_value=2**20),
        ahead=st.sampled_from([1, 2, 63, 64, 100, 500]),
    )
    def forge_captured(self, pick: int, ahead: int) -> None:
        self._do(op.ForgeCaptured(pick=pick, ahead=ahead))

    @precondition(lambda self: self.established > 0)
    @rule(
        packets=st.sampled_from([0, 70]),
        age=st.sampled_from([0, 1, 62, 63, 64, 65]),
    )
    def replay_at_window_edge(self, packets: int, age: int) -> None:
        """The peer sends, then an attacker replays the packet ``age`` packets before the
        newest: the boundary values of a 64-packet window (63 is its left edge, 64 just
        outside) — each was accepted once and must be refused now."""
        if packets:
            self._do(op.ReceiveTraffic(packets=packets, size=64))
        self._do(op.ReplayOld(age=age))
        self._do(op.Advance(ms=50))

    @precondition(lambda self: self.established > 0)
    @rule(
        packets=st.integers(min_value=1, max_value=5),
        ahead=st.sampled_from([1, 2, 63, 64, 100]),
    )
    def forge_between_traffic(self, packets: int, ahead: int) -> None:
        """The peer sends, an attacker forges a packet just ahead of what it saw, the peer
        sends again: nothing the forgery did may show (RFC 4303 §3.4.3: the window moves
        only after the integrity check)."""
        self._do(op.ReceiveTraffic(packets=packets, size=64))
        self._do(op.ForgeCaptured(pick=0, ahead=ahead))
        self._do(op.ReceiveTraffic(packets=packets, size=64))
        self._do(op.Advance(ms=100))

    @rule(router=ROUTERS, side=SIDES, priority=st.sampled_from([1, 90, 100, 105, 110, 255]))
    def set_priority(self, router: int, side: GroupSide, priority: int) -> None:
        self._do(op.SetPriority(router=router, side=side, priority=priority))

    def _active_sa_ids(self) -> list[int]:
        if self.pair is None:
            return []
        return sorted(
            sa_id
            for router in self.pair.model.routers
            for sa_id, sa in router.sas.items()
            if router.up and sa.status.value == "ACTIVE"
        )

    @precondition(lambda self: bool(self._active_sa_ids()))
    @rule(pick=st.integers(min_value=0, max_value=15))
    def delete(self, pick: int) -> None:
        ids = self._active_sa_ids()
        self._do(op.Delete(sa_id=ids[pick % len(ids)]))

    def _has_active(self) -> bool:
        if self.pair is None:
            return False
        return any(r.up and r.role.value == "ACTIVE" for r in self.pair.model.routers)

    @precondition(_has_active)
    @rule(extra=st.integers(min_value=0, max_value=500))
    def fail_active(self, extra: int) -> None:
        """Crash the ACTIVE router and wait hold + hello: ``_do``'s continuity watch checks
        I10 on both sides (as a replay of the same steps does)."""
        pair = self.pair
        assert pair is not None
        before_model, _ = pair.observe()
        failed = next((i for i, r in enumerate(before_model.routers) if r.role == "ACTIVE"), None)
        if failed is None:  # a composite's earlier steps may have left no router ACTIVE
            return
        self._do(op.Crash(router=failed))
        wait = before_model.config.hold_ms + before_model.config.hello_ms + extra
        self._do(op.Advance(ms=wait))

    @rule(
        kind=st.sampled_from(["drop", "duplicate", "delay"]),
        index=st.integers(min_value=0, max_value=7),
        ms=st.integers(min_value=1, max_value=5_000),
    )
    def hello_fault(self, kind: str, index: int, ms: int) -> None:
        """Lose, duplicate or delay (reorder) an HSRP message on the wire: time runs to the
        next event until one is in flight (the model's list and the world's agree on
        their order, so ``index`` picks the same message on both sides)."""
        if self._until_in_flight(lambda _: True, events=8) is not None:
            self._message_fault(kind, index, ms)

    def _until_in_flight(
        self, wanted: Callable[[HsrpInFlight], bool], *, events: int
    ) -> int | None:
        """Run to the next event (at most ``events`` times) until an HSRP message ``wanted``
        is in flight; its position in the in-flight list (the same on both sides), or None."""
        pair = self.pair
        assert pair is not None
        for advanced in range(events + 1):
            found = [i for i, m in enumerate(pair.model.hsrp_in_flight) if wanted(m)]
            if found:
                return found[0]
            if advanced < events:
                self._do(op.AdvanceToNextEvent())
        return None

    def _message_fault(self, kind: str, index: int, ms: int) -> None:
        """Lose (``drop``), duplicate (``twice``: the copy ``ms`` late) or delay (``late``,
        by ``ms``) the HSRP message in flight at ``index``."""
        pair = self.pair
        assert pair is not None
        if kind == "drop":
            self._do(op.DropHello(index=index))
        elif kind == "duplicate":
            self._do(op.DuplicateHello(index=index))
        elif kind == "twice":
            self._do(op.DuplicateHello(index=index))
            self._do(op.DelayHello(index=len(pair.model.hsrp_in_flight) - 1, ms=ms))
        elif kind in ("delay", "late"):
            self._do(op.DelayHello(index=index, ms=ms))

    @precondition(_has_active)
    @rule(
        first=st.booleans(),
        then=st.booleans(),
        settle=st.integers(min_value=20, max_value=500),
        extra=st.integers(min_value=0, max_value=500),
    )
    def dpd_across_failover(self, first: bool, then: bool, settle: int, extra: int) -> None:
        """The IKE SA life cycle across a takeover: an SA (a new one if the ACTIVE router
        holds no IKE SA), a DPD exchange (``first``: from the peer), the ACTIVE router
        crashes, and after hold + hello another DPD exchange on the same IKE SA — now
        with the router that took over from its replicated copy (DPD numbers, message
        ids, the phase-2 IV must all carry on)."""
        self.establish()
        self._do(op.Advance(ms=settle))
        self._do(op.DpdProbe(from_peer=first))
        self.fail_active(extra)
        self._do(op.DpdProbe(from_peer=then))

    @rule(
        packets=st.integers(min_value=1, max_value=20),
        size=SIZES,
        settle=st.integers(min_value=20, max_value=500),
        attack=st.sampled_from(
            ["none", "forge 1", "forge 2", "forge 64", "edge 63", "edge 64", "edge 65"]
        ),
    )
    def establish_and_use(self, packets: int, size: int, settle: int, attack: str = "none") -> None:
        """A new SA that is replicated and carries traffic both ways (a common prefix of
        interesting runs, made one step so that a search reaches failovers of used SAs).

        ``attack``: an attacker on the outside segment also sends a forgery that many
        numbers ahead of the peer's newest packet, after which the peer sends again
        (``forge N``); or, after 70 more packets from the peer, replays the one sent N
        before the newest — 63 is the left edge of a 64-packet window, 64 just outside
        (``edge N``)."""
        self.establish()
        self._do(op.Advance(ms=settle))
        self._do(op.SendTraffic(packets=packets, size=size))
        self._do(op.ReceiveTraffic(packets=packets, size=size))
        kind, _, number = attack.partition(" ")
        if kind == "forge":
            self._do(op.ForgeCaptured(pick=0, ahead=int(number)))
            self._do(op.ReceiveTraffic(packets=packets, size=size))
        elif kind == "edge":
            self._do(op.ReceiveTraffic(packets=70, size=64))
            self._do(op.ReplayOld(age=int(number)))
        self._do(op.Advance(ms=settle))

    @precondition(_has_active)
    @rule(
        action=st.sampled_from(["delete", "resync"]),
        settle=st.integers(min_value=20, max_value=500),
    )
    def administer_replicated(self, action: str, settle: int) -> None:
        """An SA replicated to the standby, then an operator's command — delete it on the
        active, or resync the standby — and time for the cluster to settle, so that the
        SA's placement on both routers is compared."""
        pair = self.pair
        assert pair is not None
        self.establish()
        self._do(op.Advance(ms=settle))
        if action == "delete":
            self._do(op.Delete(sa_id=self.established))
        else:
            standby = [i for i, r in enumerate(pair.model.routers) if r.role.value != "ACTIVE"]
            self._do(op.Resync(router=standby[0] if standby else 0))
        self._do(op.Advance(ms=pair.settle_ms + settle))

    @precondition(_has_active)
    @rule(down_ms=st.integers(min_value=0, max_value=10_000))
    def fail_and_recover(self, down_ms: int) -> None:
        """The document's story: the ACTIVE router fails, the standby takes over, the
        failed one restarts ``down_ms`` later and the cluster settles (preempt back)."""
        pair = self.pair
        assert pair is not None
        model, _ = pair.observe()
        failed = next(i for i, r in enumerate(model.routers) if r.role == "ACTIVE")
        self._do(op.Crash(router=failed))
        self._do(op.Advance(ms=model.config.hold_ms + model.config.hello_ms + down_ms))
        self._do(op.Restart(router=failed))
        self._do(op.Advance(ms=pair.settle_ms + 1))

    def _no_sa(self) -> bool:
        return self.pair is not None and not any(r.sas for r in self.pair.model.routers)

    @precondition(_no_sa)
    @rule(packets=st.integers(min_value=1, max_value=10), size=SIZES)
    def traffic_without_sa(self, packets: int, size: int) -> None:
        """Protected traffic while no SA exists (start-up, or every SA lost): it must be
        dropped, never forwarded in the clear (I9)."""
        self._do(op.SendTraffic(packets=packets, size=size))

    @rule(router=ROUTERS, side=SIDES)
    def flap_interface(self, router: int, side: GroupSide) -> None:
        """An interface goes down, the cluster settles (tracking moves the groups), it comes
        back and the cluster settles again (preempt returns them)."""
        pair = self.pair
        assert pair is not None
        self._do(op.InterfaceDown(router=router, side=side))
        self._do(op.Advance(ms=pair.settle_ms + 1))
        self._do(op.InterfaceUp(router=router, side=side))
        self._do(op.Advance(ms=pair.settle_ms + 1))

    @precondition(_has_active)
    @rule(packets=st.integers(min_value=1, max_value=20), size=SIZES)
    def use_then_fail(self, packets: int, size: int) -> None:
        """The document's failover story in one step: an SA carries traffic, the ACTIVE
        router fails, the standby takes over (I10) and carries traffic on the same SA."""
        self.establish_and_use(packets=packets, size=size, settle=100)
        if self._has_active():
            self.fail_active(extra=0)
        self._do(op.SendTraffic(packets=packets, size=size))
        self._do(op.ReceiveTraffic(packets=packets, size=size))
        self._do(op.Advance(ms=100))

    @precondition(_has_active)
    @rule(
        packets=st.integers(min_value=1, max_value=20),
        size=SIZES,
        side=SIDES,
    )
    def use_then_lose_interface(self, packets: int, size: int, side: GroupSide) -> None:
        """The document's other failover: an SA carries traffic, then an interface of the
        ACTIVE router goes down (tracking hands both groups to the other router, which
        takes the SA over while the old active is alive and announces its counters),
        traffic flows on the new active, the interface returns and the cluster settles."""
        pair = self.pair
        assert pair is not None
        self.establish_and_use(packets=packets, size=size, settle=100)
        active = [i for i, r in enumerate(pair.model.routers) if r.role.value == "ACTIVE"]
        if not active:
            return
        self._do(op.InterfaceDown(router=active[0], side=side))
        self._do(op.Advance(ms=pair.settle_ms + 1))
        self._do(op.SendTraffic(packets=packets, size=size))
        self._do(op.ReceiveTraffic(packets=packets, size=size))
        self._do(op.InterfaceUp(router=active[0], side=side))
        self._do(op.Advance(ms=pair.settle_ms + 1))

    # --- HSRP transitions (RFC 2281 §5.7 cells a steady pair never takes) ------------------
    #
    # A message is on the wire for one latency (1-5 ms) of every hello period, and a
    # router passes through Listen and Speak only while it (re)joins, so uniformly drawn
    # faults and times almost never meet them. These rules place the fault: they look
    # ahead on a copy of the model (it is pure) for the instant a router enters a phase
    # or a kind of message is on the wire, and act there.

    def _ms_until(self, reached: Callable[[System], bool], *, within_ms: int) -> int | None:
        """Milliseconds until ``reached`` holds of the model if nothing else happens, found
        on a copy of it (at most ``within_ms``; None if not by then)."""
        assert self.pair is not None
        probe = copy.deepcopy(self.pair.model)
        start = probe.now
        for _ in range(10_000):  # events; a model with none left never reaches anything
            if reached(probe):
                return probe.now - start
            apply_in_place(probe, op.AdvanceToNextEvent())
            if probe.now - start > within_ms:
                break
        return None

    def _fault_next(
        self, wanted: Callable[[HsrpInFlight], bool], kind: str, ms: int, *, within_ms: int
    ) -> None:
        """Run to the instant an HSRP message ``wanted`` is on the wire (if one is sent within
        ``within_ms``) and lose, duplicate or delay it (``_message_fault``)."""
        wait = self._ms_until(
            lambda system: any(wanted(m) for m in system.hsrp_in_flight), within_ms=within_ms
        )
        if wait is None:
            return
        self._do(op.Advance(ms=wait))
        assert self.pair is not None
        found = [i for i, m in enumerate(self.pair.model.hsrp_in_flight) if wanted(m)]
        if found:
            self._message_fault(kind, found[0], ms)

    def _group_holder(self, side: GroupSide, phase: Phase) -> int | None:
        """The router (up) whose group on ``side`` is in ``phase`` in the model, if one is."""
        assert self.pair is not None
        return next(
            (
                i
                for i, r in enumerate(self.pair.model.routers)
                if r.up and r.groups[side].phase is phase
            ),
            None,
        )

    def _crash_and_restart(self, which: str, down_ms: int) -> int | None:
        """Crash the ACTIVE router (``which``: or the other) and restart it ``down_ms`` later;
        which router that was (None: no router was ACTIVE)."""
        assert self.pair is not None
        roles = [r.up and r.role.value == "ACTIVE" for r in self.pair.model.routers]
        if True not in roles:
            return None
        router = roles.index(True) if which == "active" else 1 - roles.index(True)
        self._do(op.Crash(router=router))
        self._do(op.Advance(ms=down_ms))
        self._do(op.Restart(router=router))
        return router

    @precondition(_has_active)
    @rule(which=st.sampled_from(["active", "standby"]), down_ms=DOWN_MS)
    def rejoin(self, which: str, down_ms: int) -> None:
        """The ACTIVE (or the other) router crashes and is back ``down_ms`` later: within the
        hold time the other still holds its old role (Standby with its Active timer
        running, or Active) when the first comes back through Listen and Speak, and the
        two meet in states a slow restart never shows (Listen × l, Speak × k, Standby × f)."""
        pair = self.pair
        assert pair is not None
        if self._crash_and_restart(which, down_ms) is not None:
            self._do(op.Advance(ms=pair.settle_ms + 1))

    @precondition(_has_active)
    @rule(
        which=st.sampled_from(["active", "standby"]),
        down_ms=DOWN_MS,
        side=SIDES,
        at=st.sampled_from([Phase.LISTEN, Phase.SPEAK, Phase.STANDBY]),
        offset_ms=st.integers(min_value=0, max_value=999),
        then=st.sampled_from(
            [
                "interface down",
                "priority 255",
                "priority 1",
                "no preempt",
                "other priority 255",
                "other priority 1",
            ]
        ),
    )
    def rejoin_interrupted(
        self, *, which: str, down_ms: int, side: GroupSide, at: Phase, offset_ms: int, then: str
    ) -> None:
        """As ``rejoin``, and ``offset_ms`` after the rejoining router's group on ``side``
        enters ``at``, that interface goes down (back once the cluster settled), the
        priority there changes, or preempt is switched off there (back on once the
        cluster settled): events b and the no-preempt h cells outside Active/Standby.
        ``other priority``: the other router's priority changes instead, while it may still
        be Standby waiting out its Active timer — a Standby Hello of higher priority then
        meets the rejoining router in Listen or Speak (Listen × k, Speak × k)."""
        pair = self.pair
        assert pair is not None
        router = self._crash_and_restart(which, down_ms)
        if router is None:
            return
        wait = self._ms_until(
            lambda system: system.routers[router].groups[side].phase is at, within_ms=12_000
        )
        self._do(op.Advance(ms=(wait if wait is not None else 0) + offset_ms))
        preempt = pair.model.routers[router].preempt[side]
        if then == "interface down":
            self._do(op.InterfaceDown(router=router, side=side))
        elif then == "no preempt":
            self._do(op.SetPreempt(router=router, side=side, preempt=False))
        else:
            actor = 1 - router if then.startswith("other ") else router
            priority = int(then.removeprefix("other ").removeprefix("priority "))
            self._do(op.SetPriority(router=actor, side=side, priority=priority))
        self._do(op.Advance(ms=pair.settle_ms + 1))
        if then == "interface down":
            self._do(op.InterfaceUp(router=router, side=side))
            self._do(op.Advance(ms=pair.settle_ms + 1))
        elif then == "no preempt" and preempt:
            self._do(op.SetPreempt(router=router, side=side, preempt=True))
            self._do(op.Advance(ms=pair.settle_ms + 1))

    @precondition(_has_active)
    @rule(
        which=st.sampled_from(["active", "standby"]),
        down_ms=DOWN_MS,
        side=SIDES,
        from_rejoining=st.booleans(),
        state=st.sampled_from([Phase.SPEAK, Phase.STANDBY, Phase.ACTIVE]),
        fault=st.sampled_from(["drop", "twice", "late"]),
        fault_ms=st.one_of(
            st.sampled_from([500, 3_000, 5_000]), st.integers(min_value=1, max_value=5_000)
        ),
    )
    def rejoin_hello_fault(
        self,
        *,
        which: str,
        down_ms: int,
        side: GroupSide,
        from_rejoining: bool,
        state: Phase,
        fault: str,
        fault_ms: int,
    ) -> None:
        """As ``rejoin``, and the first Hello on ``side`` that says ``state`` from the
        rejoining router (or from the other) is lost, or arrives twice or late (by
        ``fault_ms``): a Speak Hello lost leaves two routers Standby (Standby × k), a
        late one reaches a router that moved on."""
        pair = self.pair
        assert pair is not None
        router = self._crash_and_restart(which, down_ms)
        if router is None:
            return
        sender = router if from_rejoining else 1 - router
        self._fault_next(
            lambda m: (
                m.sender == sender
                and m.side is side
                and m.message.op is OpCode.HELLO
                and m.message.state is state
            ),
            fault,
            fault_ms,
            within_ms=12_000,
        )
        self._do(op.Advance(ms=pair.settle_ms + 1))

    @rule(
        side=SIDES,
        back_ms=st.one_of(
            st.sampled_from([0, 500, 3_000]), st.integers(min_value=0, max_value=6_000)
        ),
        resign=st.sampled_from(["arrives", "lost", "late", "twice"]),
        late_ms=st.one_of(
            st.sampled_from([500, 2_000, 4_000, 5_000]), st.integers(min_value=1, max_value=5_000)
        ),
        flap=st.booleans(),
    )
    def priority_flip(
        self, side: GroupSide, back_ms: int, resign: str, late_ms: int, flap: bool = False
    ) -> None:
        """The Standby router's priority on ``side`` rises above the Active router's: it
        preempts (Standby × h: a Coup), the old Active answers with a Resign (Active × j)
        and waits in Speak; ``back_ms`` later the priority is restored and the old Active
        preempts back, from Speak or, later, from Standby. The Resign may be lost, late
        (by ``late_ms``) or arrive twice (the copy late), so it reaches a router that is
        no longer Active. ``flap``: right after its Coup the new Active's interface on
        ``side`` goes down and comes back, so that a late Resign finds it rejoining, in
        Listen (Listen × i)."""
        pair = self.pair
        assert pair is not None
        active = self._group_holder(side, Phase.ACTIVE)
        standby = self._group_holder(side, Phase.STANDBY)
        if active is None or standby is None:
            return
        before = pair.model.routers[standby].priority[side]
        self._do(op.SetPriority(router=standby, side=side, priority=255))
        if resign != "arrives":
            kind = "drop" if resign == "lost" else resign
            self._fault_next(
                lambda m: m.side is side and m.message.op is OpCode.RESIGN,
                kind,
                late_ms,
                within_ms=2_000,
            )
        if flap:
            self._do(op.InterfaceDown(router=standby, side=side))
            self._do(op.InterfaceUp(router=standby, side=side))
        self._do(op.Advance(ms=back_ms))
        self._do(op.SetPriority(router=standby, side=side, priority=before))
        self._do(op.Advance(ms=pair.settle_ms + 1))

    @rule(side=SIDES, apart_ms=st.integers(min_value=0, max_value=8_000))
    def partition_and_heal(self, side: GroupSide, apart_ms: int) -> None:
        """The segment on ``side`` splits for ``apart_ms`` (longer than the hold time: both
        routers Active there) and heals: the two Active routers hear each other (Active ×
        g, h and j, the lower one's Resign) and the cluster settles."""
        pair = self.pair
        assert pair is not None
        self._do(op.Partition(side=side))
        self._do(op.Advance(ms=apart_ms))
        self._do(op.Heal(side=side))
        self._do(op.Advance(ms=pair.settle_ms + 1))

    # Hypothesis draws among the enabled rules uniformly; the rules above each place one
    # rare RFC 2281 cell, and among some fifty others a 100-run campaign drew them too
    # seldom to reach their cells (29 of 40). Each is registered a second time (the same
    # rule under another name), which doubles its share: 31-32 of 40 in that campaign.
    # The same for the operator's SA commands (delete, resync), which the default
    # campaign had drawn 4 times in 7,645 steps (no SSP delete or resync request sent):
    # 46 times, and 22 of 23 SSP message kinds in three campaigns out of three.
    administer_replicated_twice_as_often = administer_replicated
    delete_twice_as_often = delete
    rejoin_twice_as_often = rejoin
    rejoin_interrupted_twice_as_often = rejoin_interrupted
    rejoin_hello_fault_twice_as_often = rejoin_hello_fault
    priority_flip_twice_as_often = priority_flip
    partition_and_heal_twice_as_often = partition_and_heal
