"""Model and implementation in lockstep: the same operations, compared observations.

Theory of operation
-------------------
:class:`LockstepPair` holds the model's :class:`~vpnha.model.system.System` and the
implementation's :class:`~vpnha.properties.world.World`, built from the same two
configurations, the same link latency and the same start instant. :meth:`apply`
gives both the same operation (the model's vocabulary, :mod:`vpnha.model.operations`;
the world maps each onto its own faults and inputs) and :meth:`observe` maps both
onto :class:`~vpnha.properties.observation.Observation`.

**What is compared, and when.** The two sides are independent formulations at
different levels: the model's SSP connection is a FIFO channel with a two-message
handshake, the implementation's a TCP stream of keyed, sequenced frames; the model's
hello jitter comes from the harness, the implementation's from its entropy. So the
two agree *after* each disturbance has played out, not millisecond by millisecond.
:func:`differences` compares a projection:

- always: the clock (each side runs to its own soonest SA expiry for ``ExpireSoonest``),
  which routers are up and their interfaces;
- once the cluster is *settled* (no crash, restart, interface or SSP change for
  the configuration's settle time, ``ConfigFacts.settle_ms``): every group's HSRP
  state and effective priority, the device roles, the SSP connection, and per SA
  (identified by its SPIs) where it is held, with which HA status and whether a
  standby copy is usable;
- and, whenever no packet is still in flight, each SA's counters: next outbound
  sequence number, inbound window top, octets used, expiry. The world's host links
  have no delay here, so a router sees offered traffic at the very instant the
  model does, in the same order as the operations; with the same HSRP timing (no
  jitter on either side) and the same SSP reconnection grid, both carry exactly the
  same packets even during a failover, so the counters must agree exactly.

Every invariant (I1–I9) is checked on each side after every step by the caller;
I3 and I4 (no sequence number sent or accepted twice) are exact on both sides at
all times. A difference is printed as one line per field: ``7200-1 outside state:
model Active, impl Standby``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from vpnha.impl.config import RouterConfig
from vpnha.impl.router import Side
from vpnha.model import operations as op
from vpnha.model.params import GroupSide
from vpnha.model.system import System, apply_in_place, boot

from .observation import Observation, RouterObs, SaObs, observe_model, observe_world
from .scenarios import cluster_params
from .world import World

__all__ = ["LockstepPair", "UnsupportedOperationError", "differences"]

_Action: TypeAlias = Callable[[World], object]
"""A deferred call on the world."""
_SIDES = {GroupSide.INSIDE: Side.INSIDE, GroupSide.OUTSIDE: Side.OUTSIDE}
_IN_FLIGHT_LATENCIES = 4
"""The hosts' links have no delay in lockstep, so the routers count traffic at the instant
it is offered, as the model does; this margin (in segment latencies) only covers what a
router's own messages set in motion."""
START_MS = 1_000
"""Both sides start here (the model's default boot instant)."""


class UnsupportedOperationError(NotImplementedError):
    """An operation the world cannot (yet) apply to the implementation."""


@dataclass(slots=True)
class _History:
    """What the comparison needs to know about the operations so far."""

    disturbed_ms: int = START_MS
    """Last crash, restart, interface or SSP change."""
    traffic_ms: int = START_MS
    """Last traffic offered (packets may still be in flight for a few latencies)."""


class LockstepPair:
    """The model and the implementation, driven together."""

    def __init__(
        self,
        configs: tuple[RouterConfig, RouterConfig],
        *,
        latency_ms: int = 1,
        seed: int = 1,
        lifetime_s: int | None = None,
        keep_log: bool = True,
    ) -> None:
        """``keep_log``: whether the world records every packet (its wire log, for pcaps
        and timelines; a search does not need it)."""
        params = cluster_params(*configs, jitter_ms=(0,), link_latency_ms=latency_ms)
        if lifetime_s is not None:
            params = dataclasses.replace(params, lifetime_ms=lifetime_s * 1000)
        self.model: System = boot(params, start_ms=START_MS)
        self.world = World(
            configs,
            seed=seed,
            latency_ms=latency_ms,
            now=START_MS,
            sa_lifetime_ms=params.lifetime_ms,
            answer_sa_requests=False,  # the model has no IKE initiator: SAs come from Establish
            host_latency_ms=0,  # the model hands traffic to the routers when it is offered
            hsrp_jitter=False,  # the model's jitter is drawn by the harness: 0 here
            keep_log=keep_log,
        )
        self.latency_ms = latency_ms
        self.history = _History()
        self.settle_ms = observe_model(self.model).config.settle_ms

    @property
    def now(self) -> int:
        """The shared clock, ms."""
        return self.model.now

    def settled(self) -> bool:
        """No disturbance for the settle time."""
        return self.now - self.history.disturbed_ms > self.settle_ms

    def observe(self) -> tuple[Observation, Observation]:
        """(model, implementation) observations now."""
        return observe_model(self.model), observe_world(self.world)

    def apply(self, operation: op.Operation) -> None:
        """Apply ``operation`` to both sides.

        Raises ``UnsupportedOperationError`` before touching either side when the world
        has no counterpart for the operation yet.
        """
        world = self.world
        if isinstance(operation, op.Establish | op.Rekey) and not self._agree_on_active():
            # The remote peer negotiates with whichever router answers for the outside
            # virtual IP; while the two sides are mid-transition they may disagree on
            # which one that is (timing within a latency), and the SA would exist on one
            # side only. A negotiation is a harness choice, so it waits for agreement.
            operation = op.Advance(ms=0)
        action = self._world_action(operation)
        apply_in_place(self.model, operation)
        action(world)
        # Deliver what the operation put on the hosts' links at once, and catch up when
        # the model chose the instant (AdvanceToNextEvent).
        world.run_until(self.model.now)

    def hsrp_transitions(self, since_ms: int) -> tuple[list[str], list[str]]:
        """Every HSRP state change after ``since_ms`` as 'time router side old -> new', the
        model's and the implementation's (for tests that compare the two timelines)."""
        names = [r.params.name for r in self.model.routers]
        model = [
            f"{e.time_ms} {names[e.router]} {e.detail.split(' [')[0]}"
            for e in self.model.log
            if e.kind == "hsrp" and e.time_ms > since_ms and e.router is not None
        ]
        impl = [
            f"{time_ms} {node} {text.removeprefix('hsrp ').replace(':', '').split(' (')[0]}"
            for time_ms, node, text in self.world.events
            if text.startswith("hsrp ") and time_ms > since_ms
        ]
        return model, impl

    def differences(self, observed: tuple[Observation, Observation] | None = None) -> list[str]:
        """Where the two observations disagree (see the module docstring); ``observed``:
        this instant's (model, implementation) observations, if the caller has them."""
        model, impl = observed or self.observe()
        in_flight = self.now - self.history.traffic_ms <= _IN_FLIGHT_LATENCIES * self.latency_ms
        return differences(
            model,
            impl,
            settled=self.settled(),
            counters=not in_flight,
        )

    # --- the world's side of each operation ------------------------------------------------

    def _world_action(self, operation: op.Operation) -> _Action:
        history = self.history
        match operation:
            case op.Advance(ms=ms):
                return lambda w: w.advance(ms)
            case op.AdvanceToNextEvent():
                return lambda w: None  # the model chose the instant; apply() catches up
            case op.ExpireSoonest():
                # Each side finds its own soonest expiry; a world that ran further than the
                # model shows as a clock difference, one that stopped earlier catches up.
                return lambda w: w.expire_soonest()
            case op.Crash(router=router):
                history.disturbed_ms = self.now
                return lambda w: w.crash(router)
            case op.Restart(router=router):
                history.disturbed_ms = self.now
                return lambda w: w.restart(router)
            case op.InterfaceDown(router=router, side=side):
                history.disturbed_ms = self.now
                return lambda w: w.interface_down(router, _SIDES[side])
            case op.InterfaceUp(router=router, side=side):
                history.disturbed_ms = self.now
                return lambda w: w.interface_up(router, _SIDES[side])
            case op.Establish(spi_in=spi_in, spi_out=spi_out, cookie_i=ci, cookie_r=cr):
                return lambda w: w.establish_sa(spi_in=spi_in, spi_out=spi_out, cookies=(ci, cr))
            case op.DpdProbe(from_peer=from_peer):
                return lambda w: w.dpd(from_peer=from_peer)
            case op.Rekey(sa_id=old, spi_in=spi_in, spi_out=spi_out):
                history.disturbed_ms = self.now
                spis, cookies = self._model_spis(old), self._model_cookies(old)
                if spis is None or cookies is None:
                    return lambda w: None
                old_spis = spis

                def rekey(w: World) -> None:
                    # The model's rule: a new pair under the old pair's IKE SA, then the old
                    # pair deleted (the router tells the peer).
                    if w.establish_sa(spi_in=spi_in, spi_out=spi_out, cookies=cookies):
                        w.delete_sa(*old_spis)

                return rekey
            case op.DropHello(index=index):
                history.disturbed_ms = self.now
                return lambda w: w.drop_hello(index)
            case op.DuplicateHello(index=index):
                history.disturbed_ms = self.now
                return lambda w: w.duplicate_hello(index)
            case op.DelayHello(index=index, ms=ms):
                history.disturbed_ms = self.now
                return lambda w: w.delay_hello(index, ms)
            case op.SendTraffic(packets=packets, size=size):
                self._note_traffic()
                return lambda w: w.lan_send(packets, size)
            case op.ReceiveTraffic(packets=packets, size=size):
                self._note_traffic()
                return lambda w: w.remote_send(packets, size)
            case op.ReplayCaptured(pick=pick):
                return lambda w: w.replay_captured(pick)
            case op.ReplayOld(age=age):
                return lambda w: w.replay_old(age)
            case op.ForgeCaptured(pick=pick, ahead=ahead):
                return lambda w: w.forge_captured(pick, ahead)
            case op.Partition(side=side):
                history.disturbed_ms = self.now
                return lambda w: w.partition(_SIDES[side])
            case op.Heal(side=side):
                history.disturbed_ms = self.now
                return lambda w: w.heal(_SIDES[side])
            case op.SspCut():
                history.disturbed_ms = self.now
                return lambda w: w.ssp_cut()
            case op.SspSilent():
                history.disturbed_ms = self.now
                return lambda w: w.ssp_silent()
            case op.SspHeal():
                history.disturbed_ms = self.now
                return lambda w: w.ssp_heal()
            case op.SspDelay(ms=ms):
                history.disturbed_ms = self.now
                return lambda w: w.ssp_delay(ms)
            case op.SetPriority(router=router, side=side, priority=priority):
                history.disturbed_ms = self.now
                return lambda w: w.set_priority(router, _SIDES[side], priority)
            case op.SetPreempt(router=router, side=side, preempt=preempt):
                history.disturbed_ms = self.now
                return lambda w: w.set_preempt(router, _SIDES[side], preempt)
            case op.Resync(router=router):
                history.disturbed_ms = self.now
                return lambda w: w.resync(router)
            case op.Delete(sa_id=sa_id):
                history.disturbed_ms = self.now
                spis = self._model_spis(sa_id)
                if spis is None:
                    return lambda w: None
                return lambda w: w.delete_sa(*spis)
            case _:
                # Every operation has a counterpart; anything else (an object that is no
                # operation) is refused before either side moves.
                name = type(operation).__name__  # type: ignore[unreachable]
                raise UnsupportedOperationError(f"the world cannot apply {name} yet")

    def _model_spis(self, sa_id: int) -> tuple[int, int] | None:
        """(inbound, outbound) SPIs of the model's SA ``sa_id`` held ACTIVE, if any."""
        for router in self.model.routers:
            sa = router.sas.get(sa_id)
            if router.up and sa is not None and sa.status.value == "ACTIVE":
                return sa.spi_in, sa.spi_out
        return None

    def _model_cookies(self, sa_id: int) -> tuple[int, int] | None:
        """(CKY-I, CKY-R) of the IKE SA that negotiated the model's SA ``sa_id`` (ACTIVE)."""
        for router in self.model.routers:
            sa = router.sas.get(sa_id)
            if router.up and sa is not None and sa.status.value == "ACTIVE":
                ike = router.ike.get(sa.ike_id)
                return sa.ike_id, ike.cookie_r if ike is not None else sa.ike_id + 0x10000
        return None

    def _agree_on_active(self) -> bool:
        """Both sides have the same ACTIVE routers and the same router answering for the
        outside virtual IP (the switch learns it from the last gratuitous ARP or Active
        hello: two of those in the same millisecond may land in either order)."""
        model = [r.up and r.role.value == "ACTIVE" for r in self.model.routers]
        impl = [
            (router := self.world.router(i)) is not None and router.sadb.is_active for i in (0, 1)
        ]
        owner = self.model.owner(GroupSide.OUTSIDE)
        return model == impl and owner == self.world.vip_owner(Side.OUTSIDE)

    def _note_traffic(self) -> None:
        self.history.traffic_ms = self.now


def _router_fields(router: RouterObs, *, settled: bool) -> dict[str, object]:
    out: dict[str, object] = {
        "up": router.up,
        "inside interface up": router.inside.interface_up,
        "outside interface up": router.outside.interface_up,
    }
    if settled and router.up:
        out |= {
            "inside state": router.inside.state,
            "outside state": router.outside.state,
            "inside priority": router.inside.priority,
            "outside priority": router.outside.priority,
            "role": router.role,
            "SSP connected": router.ssp_connected,
            "card SAs in use": router.card_in_use,
            "HA degraded SAs": len(router.degraded),
        }
    return out


def _sa_fields(sa: SaObs, *, counters: bool) -> dict[str, object]:
    out: dict[str, object] = {"status": sa.status}
    if sa.status == "STANDBY":
        out["usable"] = not sa.stale
    if counters:
        out |= {
            "next outbound seq": sa.next_out,
            "inbound window top": sa.inbound_top,
            "octets used": sa.bytes_used,
            "expiry": sa.expires_ms,
        }
    return out


def differences(
    model: Observation,
    impl: Observation,
    *,
    settled: bool,
    counters: bool = True,
) -> list[str]:
    """Readable differences between the model's and the implementation's observation."""
    found: list[str] = []
    if model.now_ms != impl.now_ms:
        found.append(f"clock (ms): model {model.now_ms!r}, impl {impl.now_ms!r}")
    if counters:
        traffic = {
            "packets delivered to the LAN host": (model.delivered_to_lan, impl.delivered_to_lan),
            "packets delivered to the remote host": (
                model.delivered_to_remote,
                impl.delivered_to_remote,
            ),
            "packets the peer refused as replays": (model.peer_refused, impl.peer_refused),
            "DPD exchanges answered": (model.dpd_completed, impl.dpd_completed),
        }
        found += [f"{key}: model {m!r}, impl {i!r}" for key, (m, i) in traffic.items() if m != i]
    for index in (0, 1):
        left, right = model.routers[index], impl.routers[index]
        name = left.name
        a, b = _router_fields(left, settled=settled), _router_fields(right, settled=settled)
        found += [
            f"{name} {key}: model {a[key]!r}, impl {b.get(key)!r}"
            for key in a
            if a[key] != b.get(key)
        ]
        if not (settled and left.up and right.up):
            continue
        model_sas = {(sa.spi_in, sa.spi_out): sa for sa in left.sas}
        impl_sas = {(sa.spi_in, sa.spi_out): sa for sa in right.sas}
        for spis in sorted(model_sas.keys() | impl_sas.keys()):
            label = f"{name} SA spi-in {spis[0]:#x}"
            m, i = model_sas.get(spis), impl_sas.get(spis)
            if m is None or i is None:
                where = "model only" if i is None else "impl only"
                found.append(f"{label}: held on the {where}")
                continue
            fa, fb = _sa_fields(m, counters=counters), _sa_fields(i, counters=counters)
            found += [
                f"{label} {key}: model {fa[key]!r}, impl {fb.get(key)!r}"
                for key in fa
                if fa[key] != fb.get(key)
            ]
        found += _ike_differences(name, left, right, counters=counters)
    return found


def _ike_differences(name: str, left: RouterObs, right: RouterObs, *, counters: bool) -> list[str]:
    """IKE SAs matched by CKY-I (the harness hands both sides the same cookies)."""
    found: list[str] = []
    model_ike = {ike.ike_id: ike for ike in left.ike}
    impl_ike = {ike.ike_id: ike for ike in right.ike}
    for ike_id in sorted(model_ike.keys() | impl_ike.keys()):
        label = f"{name} IKE SA {ike_id:#x}"
        m, i = model_ike.get(ike_id), impl_ike.get(ike_id)
        if m is None or i is None:
            found.append(f"{label}: held on the {'model' if i is None else 'impl'} only")
            continue
        fields: list[tuple[str, object, object]] = [("status", m.status, i.status)]
        if m.status == "STANDBY":
            fields.append(("usable", not m.stale, not i.stale))
        if counters:
            fields.append(("DPD_OUT", m.dpd_out, i.dpd_out))
        found += [f"{label} {key}: model {a!r}, impl {b!r}" for key, a, b in fields if a != b]
    return found
