"""impl/sadb: the SA database and the ahead rule, rule by rule, then two routers under Hypothesis.

Two :class:`SaDatabase` instances are wired through ``Pair``: a list of in-flight SSP
messages per direction (delivered in order, delayed at will, or dropped as a whole
tail when the connection dies), with the glue's duties done the way the module
docstring asks (report each frame's sequence number, send ROLE after the
database's own messages, answer ROLE when asked).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
)
from vpnha.impl.config import CryptoCard, ReplayInterval
from vpnha.impl.entropy import SeededEntropy
from vpnha.impl.errors import LocalProtocolError
from vpnha.impl.sadb import (
    _MESSAGE_RULES,
    IGNORED_MESSAGES,
    MESSAGE_ID_MEMORY,
    SEQ_MAX,
    HaStatus,
    IpsecSaPair,
    NewIkeSa,
    NewIpsecSa,
    SaDatabase,
    TrafficVerdict,
)
from vpnha.impl.ssp import (
    Ack,
    BulkBegin,
    CounterKind,
    CounterUpdate,
    DeviceRole,
    Doi,
    IkeSaAdd,
    IpsecSaAdd,
    Message,
    MessageType,
    Refuse,
    RoleChange,
    SaDelete,
)
from vpnha.impl.vam import CARD_FULL, CryptoEngine, Refusal

START_MS = 1_000_000
GRACE_MS = 4_000
HOUR_MS = 3_600_000
MAP = "VPN"
J_OUT = 1_000_000
LIFETIME_KB = 2560
J_BYTES = LIFETIME_KB * 1024 // 64  # 40960
BIG_LIFETIME_KB = 10**9


def make_db(
    *,
    inbound: int = 10,
    outbound: int = 1,
    card: CryptoCard | None = None,
    seed: int = 1,
    grace_ms: int = GRACE_MS,
) -> SaDatabase:
    return SaDatabase(
        engine=CryptoEngine(card or CryptoCard()),
        entropy=SeededEntropy(seed),
        grace_ms=grace_ms,
        replay_intervals={MAP: ReplayInterval(inbound_packets=inbound, outbound_millions=outbound)},
    )


def new_sa(
    index: int = 0,
    *,
    expiry_ms: int = START_MS + HOUR_MS,
    lifetime_kb: int = BIG_LIFETIME_KB,
    transforms: tuple[str, ...] = ("esp-3des", "esp-sha-hmac"),
) -> NewIpsecSa:
    return NewIpsecSa(
        peer=IPv4Address("192.0.2.1"),
        crypto_map=MAP,
        crypto_map_seq=10,
        local_proxy=IPv4Network("10.1.0.0/16"),
        remote_proxy=IPv4Network("10.2.0.0/16"),
        inbound_spi=0x1000 + 2 * index,
        outbound_spi=0x1001 + 2 * index,
        transforms=transforms,
        inbound_encryption_key=bytes(24),
        outbound_encryption_key=bytes(range(24)),
        inbound_integrity_key=bytes(20),
        outbound_integrity_key=bytes(range(20)),
        expiry_ms=expiry_ms,
        lifetime_kilobytes=lifetime_kb,
    )


def new_ike(index: int = 0, *, dpd_out: int = 100) -> NewIkeSa:
    return NewIkeSa(
        initiator_cookie=b"\x01" + (index + 1).to_bytes(7, "big"),
        responder_cookie=b"\x02" + (index + 1).to_bytes(7, "big"),
        is_initiator=False,
        encryption="aes 256",
        hash_algorithm="sha",
        authentication="pre-share",
        dh_group=2,
        skeyid_d=b"d" * 20,
        skeyid_a=b"a" * 20,
        skeyid_e=b"e" * 20,
        last_phase1_cbc_block=bytes(16),
        dpd_out=dpd_out,
        expiry_ms=START_MS + HOUR_MS,
        peer=IPv4Address("192.0.2.1"),
    )


def add_message(
    sa_id: int = 7,
    *,
    out: int = 0,
    edge: int = 0,
    bytes_used: int = 0,
    expiry_ms: int = START_MS + HOUR_MS,
    lifetime_kb: int = BIG_LIFETIME_KB,
    index: int = 0,
    transforms: tuple[str, ...] = ("esp-3des", "esp-sha-hmac"),
) -> IpsecSaAdd:
    sa = new_sa(index, expiry_ms=expiry_ms, lifetime_kb=lifetime_kb, transforms=transforms)
    return IpsecSaAdd(
        sa_id=sa_id,
        peer=sa.peer,
        crypto_map=sa.crypto_map,
        crypto_map_seq=sa.crypto_map_seq,
        local_proxy=sa.local_proxy,
        remote_proxy=sa.remote_proxy,
        inbound_spi=sa.inbound_spi,
        outbound_spi=sa.outbound_spi,
        transforms=sa.transforms,
        inbound_encryption_key=sa.inbound_encryption_key,
        outbound_encryption_key=sa.outbound_encryption_key,
        inbound_integrity_key=sa.inbound_integrity_key,
        outbound_integrity_key=sa.outbound_integrity_key,
        lifetime_expiry_ms=sa.expiry_ms,
        lifetime_kilobytes=sa.lifetime_kilobytes,
        outbound_seq=out,
        inbound_right_edge=edge,
        inbound_bitmap=b"",
        bytes_used=bytes_used,
    )


def ike_add_message(sa_id: int = 9, *, dpd_next: int = 51, dpd_in: int = 0) -> IkeSaAdd:
    ike = new_ike()
    return IkeSaAdd(
        sa_id=sa_id,
        initiator_cookie=ike.initiator_cookie,
        responder_cookie=ike.responder_cookie,
        is_initiator=ike.is_initiator,
        encryption=ike.encryption,
        hash_algorithm=ike.hash_algorithm,
        authentication=ike.authentication,
        dh_group=ike.dh_group,
        skeyid_d=ike.skeyid_d,
        skeyid_a=ike.skeyid_a,
        skeyid_e=ike.skeyid_e,
        last_phase1_cbc_block=ike.last_phase1_cbc_block,
        message_ids=(),
        dpd_seq_out=dpd_next,
        dpd_seq_in=dpd_in,
        lifetime_expiry_ms=ike.expiry_ms,
        peer=ike.peer,
        local_port=500,
        peer_port=500,
    )


# --- the wiring ------------------------------------------------------------------------


@dataclass
class Node:
    """One router: its database and the SSP frame numbering of the current connection."""

    db: SaDatabase
    next_seq: int = 1
    sent: list[tuple[int, Message]] = field(default_factory=list)


class Pair:
    """Two databases and the in-flight SSP messages between them (one FIFO per direction)."""

    def __init__(self, a: SaDatabase, b: SaDatabase, now: int = START_MS) -> None:
        self.nodes = [Node(a), Node(b)]
        self.inflight: list[deque[tuple[int, Message]]] = [deque(), deque()]
        self.up = False
        self.now = now

    def db(self, i: int) -> SaDatabase:
        return self.nodes[i].db

    def role(self, i: int) -> DeviceRole:
        return DeviceRole.ACTIVE if self.db(i).is_active else DeviceRole.STANDBY

    def send(self, i: int, message: Message) -> None:
        node = self.nodes[i]
        seq = node.next_seq
        node.next_seq += 1
        node.db.note_sent(message, seq)
        node.sent.append((seq, message))
        if self.up:
            self.inflight[i].append((seq, message))

    def flush(self, i: int) -> None:
        for message in self.db(i).messages_to_send():
            self.send(i, message)

    def send_role(self, i: int, *, answer: bool = False) -> None:
        if self.up and self.db(i).connected:
            self.send(i, RoleChange(role=self.role(i), answer_requested=answer))

    def connect(self, incarnations: tuple[int, int] | None = None) -> None:
        """A new connection; ``incarnations`` = what each end's HELLO says (None: unknown)."""
        self.up = True
        for i, node in enumerate(self.nodes):
            self.inflight[i].clear()
            node.next_seq = 1
            peer = None if incarnations is None else incarnations[1 - i]
            node.db.ssp_connected(self.now, peer_incarnation=peer)
        for i in (0, 1):
            self.flush(i)
            self.send_role(i)

    def cut(self) -> None:
        """The connection dies silently: everything in flight is lost."""
        self.up = False
        for queue in self.inflight:
            queue.clear()

    def notice(self, i: int) -> None:
        self.db(i).ssp_disconnected(self.now)

    def deliver(self, i: int, count: int = 1) -> int:
        done = 0
        while done < count and self.inflight[i]:
            seq, message = self.inflight[i].popleft()
            other = 1 - i
            self.db(other).handle_ssp_message(message, seq, self.now)
            if isinstance(message, RoleChange) and message.answer_requested:
                self.flush(other)
                self.send_role(other)
            self.flush(other)
            done += 1
        return done

    def settle(self) -> None:
        self.flush(0)
        self.flush(1)
        while self.inflight[0] or self.inflight[1]:
            self.deliver(0, len(self.inflight[0]))
            self.deliver(1, len(self.inflight[1]))

    def become_active(self, i: int) -> None:
        self.db(i).become_active(self.now)
        self.flush(i)
        self.send_role(i, answer=True)

    def leave_active(self, i: int) -> None:
        self.db(i).leave_active(self.now)
        self.flush(i)
        self.send_role(i)

    def tick(self, ms: int) -> None:
        self.now += ms
        if self.up:
            for i in (0, 1):
                if self.db(i).connected:
                    self.db(i).ssp_heard(self.now)


def replicated_pair(*, inbound: int = 10) -> tuple[Pair, int]:
    """A active with one SA pair, B standby holding its copy, everything delivered."""
    pair = Pair(make_db(seed=1, inbound=inbound), make_db(seed=2, inbound=inbound))
    pair.db(0).become_active(pair.now)
    sa = pair.db(0).add_ipsec_pair(new_sa(lifetime_kb=LIFETIME_KB), pair.now)
    assert isinstance(sa, IpsecSaPair)
    pair.connect()
    pair.settle()
    assert pair.db(0).replicating
    return pair, sa.sa_id


def active_sa(db: SaDatabase, sa_id: int) -> IpsecSaPair:
    sa = db.ipsec_sa(sa_id)
    assert sa is not None
    return sa


# --- hold-back -------------------------------------------------------------------------


def test_outbound_hold_back_stops_exactly_at_floor_plus_j() -> None:
    pair, sa_id = replicated_pair()
    active = pair.db(0)
    assert active_sa(active, sa_id).outbound_sync.floor == 0
    assert active.outbound_allowance(sa_id, J_OUT + 5, 0) == J_OUT
    grant = active.send_outbound(sa_id, J_OUT + 5, 0, pair.now)
    assert (grant.first_seq, grant.count, grant.held_back) == (1, J_OUT, 5)
    assert grant.reason is TrafficVerdict.HELD_BACK
    assert grant.seqs[-1] == J_OUT  # floor + J is sent; floor + J + 1 is not
    assert active.send_outbound(sa_id, 1, 0, pair.now).count == 0
    assert active.counters.outbound_held_back == {TrafficVerdict.HELD_BACK: 6}


def test_inbound_hold_back_stops_exactly_at_floor_plus_j() -> None:
    pair, sa_id = replicated_pair(inbound=10)
    active = pair.db(0)
    assert active.inbound_check(sa_id, 10, 100) is TrafficVerdict.ACCEPTED
    assert active.inbound_check(sa_id, 11, 100) is TrafficVerdict.HELD_BACK
    assert active.accept_inbound(sa_id, 10, 100, pair.now) is TrafficVerdict.ACCEPTED
    assert active.accept_inbound(sa_id, 11, 100, pair.now) is TrafficVerdict.HELD_BACK
    assert active.counters.inbound_dropped == {TrafficVerdict.HELD_BACK: 2}


def test_bytes_hold_back_stops_exactly_at_floor_plus_j() -> None:
    pair, sa_id = replicated_pair()
    active = pair.db(0)
    assert active.jump(active_sa(active, sa_id), CounterKind.BYTES) == J_BYTES
    grant = active.send_outbound(sa_id, 100, 1024, pair.now)
    assert grant.count == J_BYTES // 1024  # 40 packets: exactly floor + J_bytes octets
    assert grant.reason is TrafficVerdict.HELD_BACK_BYTES
    assert active_sa(active, sa_id).bytes_used == J_BYTES
    # Inbound: a packet of 1 octet would pass floor + J_bytes.
    assert active.inbound_check(sa_id, 1, 1) is TrafficVerdict.HELD_BACK_BYTES
    assert active.inbound_check(sa_id, 1, 0) is TrafficVerdict.ACCEPTED


def test_dpd_hold_back_and_ack_raises_floor() -> None:
    pair = Pair(make_db(seed=1), make_db(seed=2))
    pair.db(0).become_active(pair.now)
    ike = pair.db(0).add_ike_sa(new_ike(dpd_out=100), pair.now)
    pair.connect()
    pair.settle()
    active, standby = pair.db(0), pair.db(1)
    assert standby.ike_sas(HaStatus.STANDBY)[0].dpd_out == 100
    assert active.next_dpd_out(ike.sa_id, pair.now) == 101  # floor + 1
    assert active.next_dpd_out(ike.sa_id, pair.now) is None  # floor + 2: held back
    assert active.counters.dpd_held_back == 1
    pair.flush(0)
    update = pair.inflight[0][-1][1]
    assert update == CounterUpdate(
        doi=Doi.IKE, sa_id=ike.sa_id, kind=CounterKind.DPD_OUT, value=102
    )  # on the wire: the *next* number (messages.py)
    pair.settle()
    assert standby.ike_sas()[0].dpd_out == 101
    assert active.next_dpd_out(ike.sa_id, pair.now) == 102
    # The peer's numbers: accepted when they do not go back, replicated on every change.
    assert active.accept_dpd_in(ike.sa_id, 40, pair.now)
    assert not active.accept_dpd_in(ike.sa_id, 39, pair.now)
    pair.settle()
    assert standby.ike_sas()[0].dpd_in == 40


def test_message_ids_replicate_and_a_replay_is_refused_after_takeover() -> None:
    pair = Pair(make_db(seed=1), make_db(seed=2))
    pair.db(0).become_active(pair.now)
    ike = pair.db(0).add_ike_sa(new_ike(), pair.now)
    pair.connect()
    pair.settle()
    active, standby = pair.db(0), pair.db(1)
    assert active.note_message_id(ike.sa_id, 0x1234, pair.now)
    assert not active.note_message_id(ike.sa_id, 0x1234, pair.now)  # a replay
    assert not active.note_message_id(ike.sa_id, 0, pair.now)  # phase 1's id
    pair.flush(0)
    update = pair.inflight[0][-1][1]
    assert update == CounterUpdate(
        doi=Doi.IKE, sa_id=ike.sa_id, kind=CounterKind.MESSAGE_ID, value=0x1234
    )
    pair.settle()
    assert standby.ike_sas()[0].message_ids == (0x1234,)
    assert not standby.note_message_id(ike.sa_id, 0x99, pair.now)  # a copy is not used
    # The standby takes over: the id the other router accepted is still refused.
    pair.cut()
    pair.notice(1)
    pair.become_active(1)
    (promoted,) = standby.ike_sas(HaStatus.ACTIVE)
    assert not standby.note_message_id(promoted.sa_id, 0x1234, pair.now)
    assert standby.note_message_id(promoted.sa_id, 0x1235, pair.now)


def test_message_id_memory_is_bounded_and_travels_in_the_full_copy() -> None:
    pair = Pair(make_db(seed=1), make_db(seed=2))
    active = pair.db(0)
    active.become_active(pair.now)
    ike = active.add_ike_sa(new_ike(), pair.now)
    for message_id in range(1, MESSAGE_ID_MEMORY + 11):  # no standby yet: nothing sent
        assert active.note_message_id(ike.sa_id, message_id, pair.now)
    (held,) = active.ike_sas()
    assert held.message_ids == tuple(range(11, MESSAGE_ID_MEMORY + 11))  # the newest
    assert active.note_message_id(ike.sa_id, 1, pair.now)  # forgotten: taken again
    pair.connect()
    pair.settle()
    assert pair.db(1).ike_sas()[0].message_ids == active.ike_sas()[0].message_ids
    ids = [m.kind for _, m in pair.nodes[0].sent if isinstance(m, CounterUpdate)]
    assert CounterKind.MESSAGE_ID not in ids  # the full copy carried them


def test_ack_raises_floor_and_traffic_continues() -> None:
    pair, sa_id = replicated_pair(inbound=10)
    active, standby = pair.db(0), pair.db(1)
    grant = active.send_outbound(sa_id, J_OUT // 2, 0, pair.now)
    assert grant.count == J_OUT // 2
    pair.settle()  # update of OUT (moved ceil(J/2)) -> ACK
    assert active_sa(standby, sa_id).outbound_seq == J_OUT // 2
    assert active_sa(active, sa_id).outbound_sync.floor == J_OUT // 2
    assert active.send_outbound(sa_id, J_OUT, 0, pair.now).count == J_OUT
    assert active_sa(active, sa_id).outbound_seq == J_OUT // 2 + J_OUT


def test_updates_sent_at_ceil_half_jump() -> None:
    pair, sa_id = replicated_pair(inbound=5)  # ceil(5/2) = 3
    active = pair.db(0)
    for seq in (1, 2):
        assert active.accept_inbound(sa_id, seq, 0, pair.now) is TrafficVerdict.ACCEPTED
    assert active.messages_to_send() == []
    assert active.accept_inbound(sa_id, 3, 0, pair.now) is TrafficVerdict.ACCEPTED
    assert active.messages_to_send() == [
        CounterUpdate(doi=Doi.IPSEC, sa_id=sa_id, kind=CounterKind.INBOUND_EDGE, value=3)
    ]
    assert active.messages_to_send() == []  # sent once


def test_nothing_held_back_while_no_standby_copy() -> None:
    active = make_db()
    active.become_active(START_MS)
    sa = active.add_ipsec_pair(new_sa(), START_MS)
    assert isinstance(sa, IpsecSaPair)
    assert active.limit(sa, CounterKind.OUTBOUND_SEQ) is None
    assert active.send_outbound(sa.sa_id, 3 * J_OUT, 0, START_MS).count == 3 * J_OUT
    assert active.accept_inbound(sa.sa_id, 5000, 0, START_MS) is TrafficVerdict.ACCEPTED


def test_refuse_clears_floors_and_reports_degraded() -> None:
    pair = Pair(make_db(seed=1), make_db(seed=2, card=CryptoCard(kind="vam", capacity_sas=3)))
    pair.db(0).become_active(pair.now)
    first = pair.db(0).add_ipsec_pair(new_sa(0), pair.now)
    second = pair.db(0).add_ipsec_pair(new_sa(1), pair.now)
    assert isinstance(first, IpsecSaPair)
    assert isinstance(second, IpsecSaPair)
    pair.connect()
    pair.settle()
    active, standby = pair.db(0), pair.db(1)
    held = {sa.sa_id for sa in standby.ipsec_sas()}
    assert len(held) == 1  # room for one pair only
    refused = next(sa for sa in active.ipsec_sas() if sa.sa_id not in held)
    kept = next(sa for sa in active.ipsec_sas() if sa.sa_id in held)
    assert refused.outbound_sync.floor is None
    assert refused.standby_refusal == CARD_FULL
    assert kept.outbound_sync.floor == 0
    assert active.ha_degraded
    assert standby.ha_degraded
    assert standby.degraded_copies == ((Doi.IPSEC, refused.sa_id),)
    assert standby.counters.refusals_sent == {CARD_FULL: 1}
    assert active.counters.refusals_received == {CARD_FULL: 1}
    # The refused SA is no longer held back; the replicated one still is.
    assert active.send_outbound(refused.sa_id, J_OUT + 1, 0, pair.now).count == J_OUT + 1
    assert active.send_outbound(kept.sa_id, J_OUT + 1, 0, pair.now).count == J_OUT


def test_refuse_older_than_latest_add_is_ignored() -> None:
    pair, sa_id = replicated_pair()
    active = pair.db(0)
    (add_seq,) = [seq for seq, m in pair.nodes[0].sent if isinstance(m, IpsecSaAdd)]
    stale = Refuse(doi=Doi.IPSEC, refused_seq=add_seq - 1, sa_id=sa_id, reason=CARD_FULL)
    active.handle_ssp_message(stale, 50, pair.now)
    assert active_sa(active, sa_id).outbound_sync.floor == 0
    assert active.counters.refusals_received == {}
    current = replace(stale, refused_seq=add_seq)
    active.handle_ssp_message(current, 51, pair.now)
    assert active_sa(active, sa_id).outbound_sync.floor is None
    assert active.counters.refusals_received == {CARD_FULL: 1}


# --- takeover --------------------------------------------------------------------------


def standby_with_copy(
    *, out: int, edge: int, bytes_used: int, inbound: int = 10, lifetime_kb: int = BIG_LIFETIME_KB
) -> tuple[SaDatabase, int]:
    standby = make_db(inbound=inbound, seed=3)
    standby.ssp_connected(START_MS)
    standby.handle_ssp_message(
        add_message(7, out=out, edge=edge, bytes_used=bytes_used, lifetime_kb=lifetime_kb),
        1,
        START_MS,
    )
    standby.handle_ssp_message(ike_add_message(9, dpd_next=51, dpd_in=33), 2, START_MS)
    return standby, 7


def test_jump_values_exact() -> None:
    standby, sa_id = standby_with_copy(out=1234, edge=500, bytes_used=999, inbound=10)
    report = standby.become_active(START_MS)
    assert report.promoted_ipsec == (sa_id,)
    assert report.promoted_ike == (9,)
    sa = active_sa(standby, sa_id)
    assert sa.status is HaStatus.ACTIVE
    assert sa.outbound_seq == 1234 + J_OUT
    assert sa.inbound_right_edge == 500 + 10
    assert sa.bytes_used == 999 + BIG_LIFETIME_KB * 1024 // 64
    assert sa.outbound_sync.floor is None
    ike = standby.ike_sa(9)
    assert ike is not None
    assert ike.dpd_out == 50 + 1  # last sent was 50 (next 51 on the wire)
    assert ike.dpd_in == 33
    assert standby.next_dpd_out(9, START_MS) == 52
    assert standby.send_outbound(sa_id, 1, 0, START_MS).first_seq == 1234 + J_OUT + 1


def test_whole_window_seen_after_jump() -> None:
    standby, sa_id = standby_with_copy(out=0, edge=500, bytes_used=0, inbound=10)
    standby.become_active(START_MS)
    edge = 510
    window = standby.replay_window_size
    for seq in range(edge - window + 1, edge + 1):
        assert standby.inbound_check(sa_id, seq, 0) is TrafficVerdict.REPLAY
    assert standby.inbound_check(sa_id, edge - window, 0) is TrafficVerdict.TOO_OLD
    assert standby.inbound_check(sa_id, 1, 0) is TrafficVerdict.TOO_OLD
    assert standby.inbound_check(sa_id, edge + 1, 0) is TrafficVerdict.ACCEPTED


def test_promoted_sa_whose_bytes_reach_lifetime_is_deleted() -> None:
    j_bytes = LIFETIME_KB * 1024 // 64
    standby, sa_id = standby_with_copy(
        out=0, edge=0, bytes_used=LIFETIME_KB * 1024 - j_bytes, lifetime_kb=LIFETIME_KB
    )
    report = standby.become_active(START_MS)
    assert report.expired_ipsec == (sa_id,)
    assert standby.ipsec_sa(sa_id) is None
    assert standby.counters.expired == 1


def test_promoted_sa_just_below_lifetime_survives() -> None:
    j_bytes = LIFETIME_KB * 1024 // 64
    standby, sa_id = standby_with_copy(
        out=0, edge=0, bytes_used=LIFETIME_KB * 1024 - j_bytes - 1, lifetime_kb=LIFETIME_KB
    )
    assert standby.become_active(START_MS).promoted_ipsec == (sa_id,)
    assert standby.send_outbound(sa_id, 5, 1, START_MS).count == 1  # one octet left
    assert standby.send_outbound(sa_id, 1, 1, START_MS).reason is TrafficVerdict.LIFETIME
    assert standby.get_timer() == START_MS
    assert standby.expire(START_MS) == [(Doi.IPSEC, sa_id)]


def test_inbound_interval_zero_copies_never_promoted_and_no_inbound_hold_back() -> None:
    standby, sa_id = standby_with_copy(out=0, edge=0, bytes_used=0, inbound=0)
    copy = active_sa(standby, sa_id)
    assert not standby.promotable(copy, START_MS)
    report = standby.become_active(START_MS)
    assert report.discarded_ipsec == (sa_id,)
    assert standby.counters.discarded_at_takeover == 1
    # On an active with N = 0, IN is neither held back nor synchronised.
    pair, active_id = replicated_pair(inbound=0)
    active = pair.db(0)
    assert active.limit(active_sa(active, active_id), CounterKind.INBOUND_EDGE) is None
    for seq in range(1, 200):
        assert active.accept_inbound(active_id, seq, 0, pair.now) is TrafficVerdict.ACCEPTED
    assert not [
        m
        for m in active.messages_to_send()
        if isinstance(m, CounterUpdate) and m.kind is CounterKind.INBOUND_EDGE
    ]


@pytest.mark.parametrize(("silence_ms", "promoted"), [(GRACE_MS, True), (GRACE_MS + 1, False)])
def test_grace_window_boundary(silence_ms: int, promoted: bool) -> None:
    standby, sa_id = standby_with_copy(out=0, edge=0, bytes_used=0)
    standby.ssp_heard(START_MS + 500)
    standby.ssp_disconnected(START_MS + 600)
    now = START_MS + 500 + silence_ms
    assert standby.promotable(active_sa(standby, sa_id), now) is promoted
    report = standby.become_active(now)
    assert (report.promoted_ipsec == (sa_id,)) is promoted
    assert (report.discarded_ipsec == (sa_id,)) is not promoted
    assert (report.promoted_ike == (9,)) is promoted


def test_connected_copies_promotable_regardless_of_silence() -> None:
    standby, sa_id = standby_with_copy(out=0, edge=0, bytes_used=0)
    assert standby.become_active(START_MS + 10 * GRACE_MS).promoted_ipsec == (sa_id,)


def test_expired_copy_not_promoted() -> None:
    standby, sa_id = standby_with_copy(out=0, edge=0, bytes_used=0)
    expiry = active_sa(standby, sa_id).expiry_ms
    assert not standby.promotable(active_sa(standby, sa_id), expiry)
    assert standby.promotable(active_sa(standby, sa_id), expiry - 1)
    assert standby.become_active(expiry).discarded_ipsec == (sa_id,)


def test_outbound_32_bit_limit_by_jump_and_by_exhaustion() -> None:
    past, sa_id = standby_with_copy(out=SEQ_MAX - J_OUT + 1, edge=0, bytes_used=0)
    past.become_active(START_MS)
    sa = active_sa(past, sa_id)
    assert sa.outbound_seq == SEQ_MAX + 1
    assert sa.rekey_needed
    grant = past.send_outbound(sa_id, 1, 0, START_MS)
    assert grant.count == 0
    assert grant.reason is TrafficVerdict.REKEY_NEEDED
    assert past.counters.rekey_needed == 1

    near, sa_id = standby_with_copy(out=SEQ_MAX - J_OUT - 3, edge=0, bytes_used=0)
    near.become_active(START_MS)
    assert not active_sa(near, sa_id).rekey_needed
    grant = near.send_outbound(sa_id, 5, 0, START_MS)
    assert (grant.count, grant.held_back, grant.reason) == (3, 2, TrafficVerdict.REKEY_NEEDED)
    assert grant.seqs[-1] == SEQ_MAX
    assert active_sa(near, sa_id).rekey_needed
    assert near.counters.rekey_needed == 1
    assert near.send_outbound(sa_id, 1, 0, START_MS).count == 0
    assert near.counters.outbound_held_back == {TrafficVerdict.REKEY_NEEDED: 3}


def test_inbound_rejects_sequence_zero_and_beyond_32_bits() -> None:
    active = make_db()
    active.become_active(START_MS)
    sa = active.add_ipsec_pair(new_sa(), START_MS)
    assert isinstance(sa, IpsecSaPair)
    assert active.inbound_check(sa.sa_id, 0, 0) is TrafficVerdict.INVALID_SEQUENCE
    assert active.inbound_check(sa.sa_id, SEQ_MAX + 1, 0) is TrafficVerdict.INVALID_SEQUENCE
    assert active.inbound_check(sa.sa_id, SEQ_MAX, 0) is TrafficVerdict.ACCEPTED


# --- staleness -------------------------------------------------------------------------


def test_leave_active_makes_every_sa_a_stale_copy() -> None:
    pair, sa_id = replicated_pair()
    active = pair.db(0)
    active.add_ike_sa(new_ike(), pair.now)
    pair.leave_active(0)
    for sa in active.ipsec_sas():
        assert sa.status is HaStatus.STANDBY
        assert sa.stale
    for ike in active.ike_sas():
        assert ike.status is HaStatus.STANDBY
        assert ike.stale
    assert active_sa(active, sa_id).outbound_sync.floor is None
    assert not active.replicating
    assert active.become_active(pair.now).discarded_ipsec == (sa_id,)


def test_new_connection_marks_copies_stale_and_add_refreshes() -> None:
    pair, sa_id = replicated_pair()
    standby = pair.db(1)
    assert not active_sa(standby, sa_id).stale
    pair.cut()
    pair.connect()
    assert active_sa(standby, sa_id).stale
    pair.settle()  # ROLE -> full copy -> add refreshes
    assert not active_sa(standby, sa_id).stale


def test_bulk_begin_drops_every_copy() -> None:
    standby, _ = standby_with_copy(out=0, edge=0, bytes_used=0)
    assert standby.ipsec_sas()
    assert standby.ike_sas()
    standby.handle_ssp_message(BulkBegin(doi=Doi.IPSEC, entry_count=0), 3, START_MS)
    assert standby.ipsec_sas() == ()
    assert standby.ike_sas()  # another DOI's copies stay
    standby.handle_ssp_message(BulkBegin(doi=Doi.IKE, entry_count=0), 4, START_MS)
    assert standby.ike_sas() == ()
    assert standby.counters.copies_dropped_by_bulk == 2


def test_counter_update_never_lowers_and_is_acked_with_applied_value() -> None:
    standby, sa_id = standby_with_copy(out=1000, edge=0, bytes_used=0)
    standby.messages_to_send()
    standby.handle_ssp_message(
        CounterUpdate(doi=Doi.IPSEC, sa_id=sa_id, kind=CounterKind.OUTBOUND_SEQ, value=400),
        5,
        START_MS,
    )
    standby.handle_ssp_message(
        CounterUpdate(doi=Doi.IPSEC, sa_id=sa_id, kind=CounterKind.INBOUND_EDGE, value=70),
        6,
        START_MS,
    )
    assert active_sa(standby, sa_id).outbound_seq == 1000
    assert active_sa(standby, sa_id).inbound_right_edge == 70
    assert standby.messages_to_send() == [
        Ack(doi=Doi.IPSEC, acked_seq=5, applied_value=1000),
        Ack(doi=Doi.IPSEC, acked_seq=6, applied_value=70),
    ]


def test_update_for_missing_copy_is_refused() -> None:
    standby = make_db()
    standby.ssp_connected(START_MS)
    standby.handle_ssp_message(
        CounterUpdate(doi=Doi.IPSEC, sa_id=3, kind=CounterKind.BYTES, value=1), 4, START_MS
    )
    (reply,) = standby.messages_to_send()
    assert isinstance(reply, Refuse)
    assert (reply.refused_seq, reply.sa_id) == (4, 3)


def test_active_refuses_adds_updates_deletes_from_the_other_end() -> None:
    pair, sa_id = replicated_pair()
    active = pair.db(0)
    before = active_sa(active, sa_id)
    from_peer: tuple[Message, ...] = (
        add_message(sa_id, out=5_000_000),
        add_message(12345, index=9),
        CounterUpdate(doi=Doi.IPSEC, sa_id=sa_id, kind=CounterKind.OUTBOUND_SEQ, value=9),
        SaDelete(doi=Doi.IPSEC, sa_id=sa_id),
        BulkBegin(doi=Doi.IPSEC, entry_count=0),
    )
    for number, message in enumerate(from_peer, start=100):
        active.handle_ssp_message(message, number, pair.now)
    assert active_sa(active, sa_id) == before
    assert active.ipsec_sa(12345) is None
    assert active.messages_to_send() == []  # no reply: a REFUSE would lift our floors
    refused = active.counters.refused_while_active
    assert refused[MessageType.IPSEC_SA_ADD] == 2
    assert refused[MessageType.COUNTER_UPDATE] == 1
    assert refused[MessageType.SA_DELETE] == 1
    assert refused[MessageType.BULK_BEGIN] == 1


def test_delete_replicated_and_not_resurrected() -> None:
    pair, sa_id = replicated_pair()
    assert pair.db(0).delete(sa_id, pair.now)
    pair.settle()
    assert pair.db(1).ipsec_sa(sa_id) is None
    # A later add of the same SA (same SPIs) is refused: deleted SAs never come back.
    standby = pair.db(1)
    standby.handle_ssp_message(add_message(sa_id), 99, pair.now)
    assert standby.ipsec_sa(sa_id) is None
    assert standby.counters.refusals_sent == {"SA was deleted here": 1}


# --- when the full copy is sent ---------------------------------------------------------


def bulk_count(node: Node) -> int:
    return sum(1 for _, m in node.sent if isinstance(m, BulkBegin) and m.doi is Doi.IPSEC)


def test_full_copy_waits_for_the_other_ends_role_on_a_new_connection() -> None:
    pair = Pair(make_db(seed=1), make_db(seed=2))
    pair.db(0).become_active(pair.now)
    pair.db(0).add_ipsec_pair(new_sa(), pair.now)
    pair.connect()
    assert bulk_count(pair.nodes[0]) == 0
    assert not pair.db(0).replicating
    pair.deliver(1)  # B's ROLE (it holds nothing to announce)
    assert bulk_count(pair.nodes[0]) == 1
    assert pair.db(0).replicating


def test_no_full_copy_while_the_other_end_is_active() -> None:
    pair = Pair(make_db(seed=1), make_db(seed=2))
    pair.db(0).become_active(pair.now)
    pair.db(1).become_active(pair.now)
    pair.connect()
    pair.settle()
    assert bulk_count(pair.nodes[0]) == bulk_count(pair.nodes[1]) == 0
    pair.leave_active(1)
    pair.settle()
    assert bulk_count(pair.nodes[0]) == 1  # the other end has just left ACTIVE
    assert bulk_count(pair.nodes[1]) == 0


def test_full_copy_after_becoming_active_only_after_a_role_from_the_other_end() -> None:
    pair, sa_id = replicated_pair()
    pair.leave_active(0)
    pair.settle()
    pair.become_active(1)  # B promotes, asks for A's role
    assert bulk_count(pair.nodes[1]) == 0
    assert not pair.db(1).replicating
    pair.deliver(1)  # B's ROLE(ACTIVE, answer requested) reaches A, A answers
    assert bulk_count(pair.nodes[1]) == 0
    pair.deliver(0, len(pair.inflight[0]))
    assert bulk_count(pair.nodes[1]) == 1
    pair.settle()
    copy = active_sa(pair.db(0), sa_id)
    assert copy.status is HaStatus.STANDBY
    assert not copy.stale


def test_adoption_of_announced_values_before_full_copy() -> None:
    # Split brain: both ACTIVE with the same SA; B (promoted, ahead) leaves ACTIVE and
    # announces its counters; A adopts them before sending its full copy.
    pair, sa_id = replicated_pair(inbound=10)
    pair.cut()
    pair.notice(1)
    pair.become_active(1)  # within grace: B promotes, jumps
    b_sa = active_sa(pair.db(1), sa_id)
    assert pair.db(1).send_outbound(sa_id, 77, 0, pair.now).count == 77
    edge = b_sa.inbound_right_edge + 3
    assert pair.db(1).accept_inbound(sa_id, edge, 0, pair.now) is TrafficVerdict.ACCEPTED
    b_sa = active_sa(pair.db(1), sa_id)
    pair.notice(0)
    pair.leave_active(1)
    pair.connect()
    pair.settle()
    a_sa = active_sa(pair.db(0), sa_id)
    assert a_sa.outbound_seq == b_sa.outbound_seq == J_OUT + 77
    assert a_sa.inbound_right_edge == b_sa.inbound_right_edge == 13
    assert a_sa.inbound_bitmap == (1 << pair.db(0).replay_window_size) - 1
    assert a_sa.bytes_used == b_sa.bytes_used
    assert a_sa.outbound_sync.floor == a_sa.outbound_seq  # floors reset, then set
    assert pair.db(0).send_outbound(sa_id, 1, 0, pair.now).first_seq == J_OUT + 78


def test_split_brain_then_reconnect_never_reuses_sequence_numbers() -> None:
    # A sends past what B holds; SSP dies; B takes over (split brain) and sends; B goes
    # back to standby before SSP reconnects. If A sent its full copy as soon as it
    # learnt B's role from the new connection (its HELLO), it would restart from its
    # own 499,999 and reuse B's numbers. A waits for B's ROLE, which follows B's
    # announcement, and adopts B's values first.
    pair, sa_id = replicated_pair()
    a, b = pair.db(0), pair.db(1)
    assert a.send_outbound(sa_id, J_OUT // 2 - 1, 0, pair.now).count == J_OUT // 2 - 1
    pair.cut()
    pair.become_active(1)  # B still believes SSP is up: its copy is promotable
    b_grant = b.send_outbound(sa_id, 100, 0, pair.now)
    assert b_grant.seqs == range(J_OUT + 1, J_OUT + 101)
    pair.leave_active(1)
    pair.notice(0)
    pair.notice(1)
    pair.connect()
    pair.settle()
    a_grant = a.send_outbound(sa_id, 2 * J_OUT, 0, pair.now)
    assert a_grant.first_seq == J_OUT + 101
    assert a_grant.count == J_OUT  # held back again at the new floor + J


def test_discarded_copy_leaves_a_remnant_that_is_announced() -> None:
    # B uses the SA in a split brain, leaves ACTIVE while cut off (its announcement is
    # lost), takes over again (the now stale copy is discarded), then gives way. Its
    # remnant is announced on the next connection, so A jumps past what B used.
    pair, sa_id = replicated_pair()
    a, b = pair.db(0), pair.db(1)
    pair.cut()
    pair.become_active(1)
    assert b.send_outbound(sa_id, 1, 0, pair.now).first_seq == J_OUT + 1
    pair.leave_active(1)
    assert pair.db(1).become_active(pair.now).discarded_ipsec == (sa_id,)
    pair.leave_active(1)
    pair.notice(0)
    pair.notice(1)
    pair.connect()
    pair.settle()
    assert active_sa(a, sa_id).outbound_seq == J_OUT + 1
    assert active_sa(b, sa_id).outbound_seq == J_OUT + 1  # the new copy
    pair.cut()
    pair.become_active(1)
    assert b.send_outbound(sa_id, 1, 0, pair.now).first_seq == 2 * J_OUT + 2


def test_restart_after_split_brain_use_never_reuses_sequence_numbers() -> None:
    """Regression: a router that used an SA in a split brain and then restarted forgot how
    far it went, and the other router's next full copy reset the floors. Now the forgotten
    copy caps the counters at floor + J for good (the SA must be rekeyed before it)."""
    pair, sa_id = replicated_pair()
    pair.cut()
    pair.become_active(1)
    used = pair.db(1).send_outbound(sa_id, 1, 0, pair.now).seqs
    pair.nodes[1] = Node(make_db(seed=9))  # B restarts with nothing
    pair.notice(0)
    pair.connect()
    pair.settle()  # A's full copy: floors reset from A's own (lower) values
    pair.cut()
    pair.become_active(1)
    # The forgotten SA is never copied to the new incarnation, so it cannot be promoted
    # from the active's lower values: the takeover discards it (renegotiation) ...
    assert pair.db(1).ipsec_sa(sa_id) is None
    # ... and the old active itself stays capped below everything B used.
    held = pair.db(0).ipsec_sa(sa_id)
    assert held is not None
    bound = pair.db(0).limit(held, CounterKind.OUTBOUND_SEQ)
    assert bound is not None
    assert bound < used[0]


def test_an_add_lost_with_a_dead_connection_is_copied_again_if_the_peer_did_not_restart() -> None:
    """Regression (found by the lockstep suite): an SA added while the connection was
    silently dead never reached the standby; on the next connection the standby (same
    incarnation) announces nothing for it, which must not read as "forgot it": the full
    copy gives it the SA. With another incarnation (a restart) it is capped and not copied."""
    for restarted in (False, True):
        pair = Pair(make_db(seed=1), make_db(seed=2))
        pair.db(0).become_active(pair.now)
        pair.connect((11, 22))
        pair.settle()
        assert pair.db(0).replicating
        pair.cut()  # silent death: the add below is lost
        added = pair.db(0).add_ipsec_pair(new_sa(), pair.now)
        assert isinstance(added, IpsecSaPair)
        pair.flush(0)
        pair.notice(0)
        pair.notice(1)
        pair.connect((11, 33 if restarted else 22))
        pair.settle()
        copy = pair.db(1).ipsec_sa(added.sa_id)
        if restarted:
            assert copy is None
            assert pair.db(0).limit(active_sa(pair.db(0), added.sa_id), CounterKind.OUTBOUND_SEQ)
        else:
            assert copy is not None
            assert not copy.stale


def test_add_refresh_keeps_the_higher_counters() -> None:
    standby, sa_id = standby_with_copy(out=1000, edge=50, bytes_used=70)
    standby.ssp_connected(START_MS + 1)
    assert active_sa(standby, sa_id).stale
    standby.handle_ssp_message(add_message(sa_id, out=400, edge=10, bytes_used=5), 1, START_MS)
    copy = active_sa(standby, sa_id)
    assert not copy.stale
    assert (copy.outbound_seq, copy.inbound_right_edge, copy.bytes_used) == (1000, 50, 70)


def test_resync_request_answered_with_full_copy_and_stale_acks_ignored() -> None:
    pair, sa_id = replicated_pair()
    active, standby = pair.db(0), pair.db(1)
    active.send_outbound(sa_id, J_OUT // 2, 0, pair.now)
    pair.flush(0)  # the update is in flight...
    standby.request_resync(pair.now)
    assert standby.ipsec_sa(sa_id) is None  # "clear": the copy is gone until the full copy
    pair.flush(1)
    pair.deliver(0)  # ...it reaches a standby that no longer holds the SA
    pair.deliver(1)  # the active answers the request with a full copy ...
    assert bulk_count(pair.nodes[0]) == 2
    # ... and keeps its floor: an older add may still be on its way there (Z3's
    # I3-resync-reseed); the new add's ACK raises it to what the add carried.
    assert active_sa(active, sa_id).outbound_sync.floor == 0
    unmatched = active.counters.unmatched_replies
    pair.settle()  # the ACK of the update predates the new add: ignored
    assert active.counters.unmatched_replies == unmatched + 1
    assert active_sa(active, sa_id).outbound_sync.floor == J_OUT // 2
    assert not active_sa(standby, sa_id).stale
    assert active.counters.resync_requests == 1


def test_stale_ack_from_before_latest_add_does_not_move_the_floor() -> None:
    pair, sa_id = replicated_pair()
    active = pair.db(0)
    active.note_sent(
        CounterUpdate(doi=Doi.IPSEC, sa_id=sa_id, kind=CounterKind.OUTBOUND_SEQ, value=900), 2
    )
    active.handle_ssp_message(Ack(doi=Doi.IPSEC, acked_seq=2, applied_value=900), 1, pair.now)
    assert active_sa(active, sa_id).outbound_sync.floor == 0
    assert active.counters.unmatched_replies == 1


# --- expiry ------------------------------------------------------------------------------


def test_expiry_absolute_and_replicated_as_such() -> None:
    pair, sa_id = replicated_pair()
    expiry = active_sa(pair.db(0), sa_id).expiry_ms
    assert active_sa(pair.db(1), sa_id).expiry_ms == expiry
    assert pair.db(0).get_timer() == expiry
    assert pair.db(0).expire(expiry - 1) == []
    assert pair.db(0).expire(expiry) == [(Doi.IPSEC, sa_id)]
    assert pair.db(1).expire(expiry) == [(Doi.IPSEC, sa_id)]
    assert pair.db(0).get_timer() is None


def test_takeover_never_extends_lifetime() -> None:
    pair, sa_id = replicated_pair()
    expiry = active_sa(pair.db(0), sa_id).expiry_ms
    pair.tick(1000)
    pair.leave_active(0)
    pair.settle()
    pair.become_active(1)
    assert active_sa(pair.db(1), sa_id).expiry_ms == expiry


def test_expired_add_is_refused() -> None:
    standby = make_db()
    standby.ssp_connected(START_MS)
    standby.handle_ssp_message(add_message(expiry_ms=START_MS), 1, START_MS)
    assert standby.ipsec_sas() == ()
    assert standby.counters.refusals_sent == {"SA has expired": 1}


# --- misuse and the table -----------------------------------------------------------------


def test_misuse_raises() -> None:
    db = make_db()
    with pytest.raises(LocalProtocolError, match="not ACTIVE"):
        db.add_ipsec_pair(new_sa(), START_MS)
    with pytest.raises(LocalProtocolError, match="no IPsec SA"):
        db.send_outbound(1, 1, 1, START_MS)
    with pytest.raises(LocalProtocolError):
        make_db(grace_ms=-1)
    db.become_active(START_MS)
    with pytest.raises(LocalProtocolError, match="only a standby"):
        db.request_resync(START_MS)


def test_local_card_refusal_returned_and_counted() -> None:
    db = make_db(card=CryptoCard(kind="vam"))
    db.become_active(START_MS)
    refusal = db.add_ipsec_pair(new_sa(transforms=("esp-aes 256", "esp-sha-hmac")), START_MS)
    assert isinstance(refusal, Refusal)
    assert refusal.reason == "transform esp-aes 256 not supported by the card"
    assert db.counters.local_refusals == {refusal.reason: 1}
    assert db.ipsec_sas() == ()


def test_message_rules_table_is_total() -> None:
    for message_type in MessageType:
        for active in (False, True):
            assert ((active, message_type) in _MESSAGE_RULES) != (
                message_type in IGNORED_MESSAGES
            ), (active, message_type)


def test_copies_use_card_capacity() -> None:
    engine = CryptoEngine(CryptoCard(kind="vam", capacity_sas=10))
    standby = SaDatabase(engine=engine, entropy=SeededEntropy(1), grace_ms=GRACE_MS)
    standby.ssp_connected(START_MS)
    standby.handle_ssp_message(add_message(7), 1, START_MS)
    assert engine.in_use == 2
    standby.handle_ssp_message(SaDelete(doi=Doi.IPSEC, sa_id=7), 2, START_MS)
    assert engine.in_use == 0


def test_keys_kept_out_of_repr() -> None:
    pair, sa_id = replicated_pair()
    text = repr(active_sa(pair.db(1), sa_id))
    assert "integrity_key" not in text
    assert "encryption_key" not in text


# --- Hypothesis: two routers, a lossy SSP, traffic and takeovers ---------------------------


@dataclass
class Flow:
    """One SA pair as the outside world sees it (keyed by its SPIs)."""

    spis: tuple[int, int]
    out_intervals: list[tuple[int, int]] = field(default_factory=list)
    accepted: set[int] = field(default_factory=set)
    peer_sent: list[int] = field(default_factory=list)
    peer_next: int = 0
    max_bytes: int = 0


SSP_EVENTS = ("cut", "notice A", "notice B", "connect")


class TwoRouters(RuleBasedStateMachine):
    """A and B, traffic on their SAs, role changes, and an SSP connection that can die.

    Checked after every step: no outbound sequence number is used twice and no inbound
    one accepted twice (across both routers), no R-U-THERE number is sent twice; at
    every takeover, the new active is ahead of everything used so far (outbound,
    inbound, octets); the standby's card is never over capacity.
    """

    flows = Bundle("flows")

    def __init__(self) -> None:
        super().__init__()
        self.flows_by_spis: dict[tuple[int, int], Flow] = {}
        self.dpd_used: set[tuple[bytes, int]] = set()
        self.serial = 0
        self.inbound = 10
        self.capacity: int | None = None
        self.lifetime_kb = BIG_LIFETIME_KB
        self.p = Pair(self._fresh(0), self._fresh(1))

    def _fresh(self, i: int) -> SaDatabase:
        self.serial += 1
        card = CryptoCard(kind="vam", capacity_sas=self.capacity) if i else CryptoCard()
        return make_db(inbound=self.inbound, card=card, seed=10 * self.serial + i)

    @initialize(
        target=flows,
        inbound=st.sampled_from([0, 1, 3, 8, 100]),
        capacity=st.sampled_from([None, 2, 4, 6]),
        lifetime_kb=st.sampled_from([LIFETIME_KB, BIG_LIFETIME_KB]),
    )
    def start(self, inbound: int, capacity: int | None, lifetime_kb: int) -> Flow:
        self.inbound = inbound
        self.capacity = capacity
        self.lifetime_kb = lifetime_kb
        self.p = Pair(self._fresh(0), self._fresh(1))
        self.p.become_active(0)
        self.p.connect()
        flow = self._negotiate()
        self.p.settle()
        return flow

    def _sa_on(self, i: int, flow: Flow) -> IpsecSaPair | None:
        for sa in self.p.db(i).ipsec_sas(HaStatus.ACTIVE):
            if (sa.inbound_spi, sa.outbound_spi) == flow.spis:
                return sa
        return None

    def _carrier(self, flow: Flow, prefer: int) -> tuple[int, IpsecSaPair] | None:
        """The router (``prefer`` first) where ``flow``'s SA is ACTIVE."""
        for i in (prefer, 1 - prefer):
            sa = self._sa_on(i, flow)
            if sa is not None:
                return i, sa
        return None

    @rule(target=flows)
    def negotiate(self) -> Flow:
        """The ACTIVE router (A first) negotiates a new SA pair (and an IKE SA if none)."""
        return self._negotiate()

    def _negotiate(self) -> Flow:
        self.serial += 1
        params = replace(
            new_sa(self.serial, expiry_ms=self.p.now + 10 * HOUR_MS),
            lifetime_kilobytes=self.lifetime_kb,
        )
        flow = Flow(spis=(params.inbound_spi, params.outbound_spi))
        for i in (0, 1):
            db = self.p.db(i)
            if db.is_active:
                if isinstance(db.add_ipsec_pair(params, self.p.now), IpsecSaPair):
                    self.flows_by_spis[flow.spis] = flow
                if not db.ike_sas(HaStatus.ACTIVE):
                    db.add_ike_sa(new_ike(self.serial), self.p.now)
                self.p.flush(i)
                break
        return flow

    @rule(
        flow=flows,
        prefer=st.integers(0, 1),
        packets=st.sampled_from([1, 3, 499_999, 500_001, 1_000_001, 2_500_000]),
        size=st.sampled_from([0, 100, 1400]),
    )
    def send(self, flow: Flow, prefer: int, packets: int, size: int) -> None:
        carrier = self._carrier(flow, prefer)
        if carrier is None:
            return
        i, sa = carrier
        grant = self.p.db(i).send_outbound(sa.sa_id, packets, size, self.p.now)
        if grant.count:
            low, high = grant.seqs[0], grant.seqs[-1]
            assert 1 <= low <= high <= SEQ_MAX
            for other_low, other_high in flow.out_intervals:
                assert high < other_low or low > other_high, (
                    f"outbound sequence numbers {low}..{high} reused "
                    f"({other_low}..{other_high} already sent)"
                )
            flow.out_intervals.append((low, high))
        self._note_bytes(i, flow)
        self.p.flush(i)

    @rule(
        flow=flows,
        prefer=st.integers(0, 1),
        burst=st.lists(st.integers(-16, 4).filter(bool), min_size=1, max_size=12),
    )
    def receive(self, flow: Flow, prefer: int, burst: list[int]) -> None:
        """The remote peer sends: k > 0 = a new packet k numbers on; k < 0 = a replay."""
        carrier = self._carrier(flow, prefer)
        for step in burst:
            if step < 0 and flow.peer_sent:
                seq = flow.peer_sent[max(step, -len(flow.peer_sent))]
            else:
                flow.peer_next += abs(step)
                seq = flow.peer_next
                flow.peer_sent.append(seq)
            if carrier is None:
                continue
            i, sa = carrier
            db = self.p.db(i)
            if db.inbound_check(sa.sa_id, seq, 100) is TrafficVerdict.ACCEPTED and (
                db.accept_inbound(sa.sa_id, seq, 100, self.p.now) is TrafficVerdict.ACCEPTED
            ):
                assert seq not in flow.accepted, f"inbound {seq} accepted twice"
                flow.accepted.add(seq)
        if carrier is not None:
            self._note_bytes(carrier[0], flow)
            self.p.flush(carrier[0])

    def _note_bytes(self, i: int, flow: Flow) -> None:
        sa = self._sa_on(i, flow)
        if sa is not None:
            flow.max_bytes = max(flow.max_bytes, sa.bytes_used)

    @rule(i=st.integers(0, 1))
    def dpd(self, i: int) -> None:
        db = self.p.db(i)
        for ike in db.ike_sas(HaStatus.ACTIVE):
            number = db.next_dpd_out(ike.sa_id, self.p.now)
            if number is not None:
                key = (ike.initiator_cookie, number)
                assert key not in self.dpd_used, f"R-U-THERE {number} sent twice"
                self.dpd_used.add(key)
        self.p.flush(i)

    @rule(i=st.integers(0, 1), active=st.booleans())
    def role(self, i: int, active: bool) -> None:
        if not active:
            self.p.leave_active(i)
            return
        if self.p.db(i).is_active:
            return
        self.p.become_active(i)
        for sa in self.p.db(i).ipsec_sas(HaStatus.ACTIVE):
            flow = self.flows_by_spis.get((sa.inbound_spi, sa.outbound_spi))
            if flow is None:
                continue
            used = max((high for _, high in flow.out_intervals), default=0)
            assert sa.outbound_seq >= used, "takeover behind the outbound sequence"
            assert sa.inbound_right_edge >= max(flow.accepted, default=0), "inbound behind"
            assert sa.bytes_used >= flow.max_bytes, "byte count went back across takeover"
            flow.max_bytes = sa.bytes_used

    @rule(i=st.integers(0, 1), count=st.one_of(st.none(), st.integers(1, 5)))
    def deliver(self, i: int, count: int | None) -> None:
        """Deliver ``count`` messages from router ``i`` (None: everything, both ways)."""
        if count is None:
            self.p.settle()
        else:
            self.p.deliver(i, count)

    @rule(event=st.sampled_from(SSP_EVENTS))
    def ssp(self, event: str) -> None:
        """The connection dies silently, a router notices, or a new one is established."""
        if event == "cut":
            self.p.cut()
        elif event == "connect":
            if not self.p.up:
                self.p.connect()
        elif not self.p.up:
            self.p.notice(0 if event == "notice A" else 1)

    @rule(i=st.integers(0, 1))
    def partition_takeover(self, i: int) -> None:
        """SSP dies silently and router ``i`` takes over at once (the other may stay ACTIVE)."""
        self.p.cut()
        self.role(i, active=True)

    @rule(i=st.integers(0, 1))
    def heal(self, i: int) -> None:
        """Router ``i`` gives up ACTIVE (if both are), SSP reconnects, everything is delivered."""
        if self.p.db(0).is_active and self.p.db(1).is_active:
            self.p.leave_active(i)
        if not self.p.up:
            self.p.connect()
        self.p.settle()

    @rule(i=st.integers(0, 1), doi=st.sampled_from([Doi.IPSEC, Doi.IKE]))
    def resync(self, i: int, doi: Doi) -> None:
        if not self.p.db(i).is_active:
            self.p.db(i).request_resync(self.p.now, doi)
            self.p.flush(i)

    @rule(ms=st.sampled_from([1, 500, GRACE_MS, GRACE_MS + 1, HOUR_MS // 2]))
    def tick(self, ms: int) -> None:
        self.p.tick(ms)
        for i in (0, 1):
            self.p.db(i).expire(self.p.now)
            self.p.flush(i)

    @rule(flow=consumes(flows), prefer=st.integers(0, 1))
    def delete(self, flow: Flow, prefer: int) -> None:
        carrier = self._carrier(flow, prefer)
        if carrier is not None:
            i, sa = carrier
            self.p.db(i).delete(sa.sa_id, self.p.now)
            self.p.flush(i)
            # The remote peer deletes it too (IKE delete notify): the flow is over.
            self.flows_by_spis.pop(flow.spis, None)

    @invariant()
    def card_never_over_capacity(self) -> None:
        if self.capacity is not None:
            assert len(self.p.db(1).ipsec_sas()) * 2 <= self.capacity

    @invariant()
    def active_router_holds_only_active_records(self) -> None:
        for i in (0, 1):
            db = self.p.db(i)
            wanted = HaStatus.ACTIVE if db.is_active else HaStatus.STANDBY
            assert all(sa.status is wanted for sa in db.ipsec_sas())
            assert all(ike.status is wanted for ike in db.ike_sas())


TestTwoRouters = TwoRouters.TestCase


def test_resync_while_disconnected_keeps_a_former_actives_counters() -> None:
    """Z3's I3-resync-offline schedule: B took the SA over during a split and used numbers
    past A's; it leaves ACTIVE and resyncs while SSP is still down. The cleared copy's
    counters must still be announced on reconnection, or A re-seeds its floors at its
    own values and sends B's numbers again (the same sequence number twice)."""
    pair, sa_id = replicated_pair()
    a, b = pair.db(0), pair.db(1)
    a.send_outbound(sa_id, 1, 0, pair.now)
    pair.cut()
    pair.notice(0)
    pair.notice(1)
    pair.tick(10)
    b.become_active(pair.now)
    used_by_b = b.send_outbound(sa_id, 2, 0, pair.now)
    assert used_by_b.count == 2
    last_of_b = used_by_b.first_seq + 1
    assert last_of_b > J_OUT  # the takeover jumped ahead of A
    b.leave_active(pair.now)
    b.request_resync(pair.now)
    assert b.ipsec_sa(sa_id) is None
    pair.connect()
    pair.settle()
    grant = a.send_outbound(sa_id, 1, 0, pair.now)
    assert grant.count == 1
    assert grant.first_seq > last_of_b, "A reuses a number B sent during the split"


# --- the per-packet path agrees with the full path -----------------------------------------


class FullPathDatabase(SaDatabase):
    """Every packet takes the full path (no ``_Traffic``): the reference for the fast one."""

    def _start_traffic(self, sa_id: int) -> None:
        return None


def twin_pairs(*, inbound: int, lifetime_kb: int) -> tuple[Pair, Pair, int]:
    """The same replicated pair twice: per-packet path, and full path only."""
    pairs = []
    sa_id = 0
    for kind in (SaDatabase, FullPathDatabase):
        dbs = [
            kind(
                engine=CryptoEngine(CryptoCard()),
                entropy=SeededEntropy(seed),
                grace_ms=GRACE_MS,
                replay_intervals={MAP: ReplayInterval(inbound_packets=inbound)},
            )
            for seed in (1, 2)
        ]
        pair = Pair(dbs[0], dbs[1])
        pair.db(0).become_active(pair.now)
        params = new_sa(lifetime_kb=lifetime_kb, expiry_ms=pair.now + 10 * HOUR_MS)
        sa = pair.db(0).add_ipsec_pair(params, pair.now)
        assert isinstance(sa, IpsecSaPair)
        sa_id = sa.sa_id
        pair.connect()
        pair.settle()
        pairs.append(pair)
    return pairs[0], pairs[1], sa_id


class PerPacketPath(RuleBasedStateMachine):
    """``next_outbound_seq``, ``inbound_check`` and ``accept_inbound`` on two twin pairs of
    routers, one of them with the per-packet path switched off: every answer, record,
    counter, message and deadline must be the same on both, whatever happens between
    packets (replication, acknowledgements, takeovers, a dying connection, expiry)."""

    def __init__(self) -> None:
        super().__init__()
        self.fast, self.full, self.sa_id = twin_pairs(inbound=10, lifetime_kb=BIG_LIFETIME_KB)
        self.peer_next = 0

    @initialize(
        inbound=st.sampled_from([0, 1, 4, 100]),
        lifetime_kb=st.sampled_from([1, 3, BIG_LIFETIME_KB]),
    )
    def start(self, inbound: int, lifetime_kb: int) -> None:
        self.fast, self.full, self.sa_id = twin_pairs(inbound=inbound, lifetime_kb=lifetime_kb)

    def _both(self) -> tuple[Pair, Pair]:
        return self.fast, self.full

    def _holds(self, i: int) -> bool:
        """Whether router ``i`` still holds the SA (asking about an unknown one is misuse)."""
        held = {p.db(i).ipsec_sa(self.sa_id) is not None for p in self._both()}
        assert len(held) == 1
        return held.pop()

    @rule(
        i=st.integers(0, 1),
        sizes=st.lists(st.sampled_from([0, 8, 64, 100, 1400]), min_size=1, max_size=8),
    )
    def send(self, i: int, sizes: list[int]) -> None:
        if not self._holds(i):
            return
        for size in sizes:
            fast, full = (p.db(i).next_outbound_seq(self.sa_id, size, p.now) for p in self._both())
            assert fast == full
        for pair in self._both():
            pair.flush(i)

    @rule(i=st.integers(0, 1), packets=st.sampled_from([1, 499_999, 999_990]))
    def send_many(self, i: int, packets: int) -> None:
        if not self._holds(i):
            return
        grants = [p.db(i).send_outbound(self.sa_id, packets, 100, p.now) for p in self._both()]
        assert grants[0] == grants[1]
        for pair in self._both():
            pair.flush(i)

    @rule(
        i=st.integers(0, 1),
        steps=st.lists(st.integers(-70, -1) | st.integers(1, 6), min_size=1, max_size=10),
    )
    def receive(self, i: int, steps: list[int]) -> None:
        """k > 0: a new packet k numbers on; k < 0: an older number (a replay or late)."""
        if not self._holds(i):
            return
        for step in steps:
            seq = self.peer_next + step
            if step > 0:
                self.peer_next = seq
            checks = [p.db(i).inbound_check(self.sa_id, seq, 64) for p in self._both()]
            assert checks[0] == checks[1]
            # Accepted whatever the check said: the database must judge it again.
            accepts = [p.db(i).accept_inbound(self.sa_id, seq, 64, p.now) for p in self._both()]
            assert accepts[0] == accepts[1]
        for pair in self._both():
            pair.flush(i)

    @rule(i=st.integers(0, 1), count=st.one_of(st.none(), st.integers(1, 3)))
    def deliver(self, i: int, count: int | None) -> None:
        for pair in self._both():
            if count is None:
                pair.settle()
            else:
                pair.deliver(i, count)

    @rule(i=st.integers(0, 1), active=st.booleans())
    def role(self, i: int, active: bool) -> None:
        for pair in self._both():
            if not active:
                pair.leave_active(i)
            elif not pair.db(i).is_active:
                pair.become_active(i)

    @rule(event=st.sampled_from(SSP_EVENTS))
    def ssp(self, event: str) -> None:
        for pair in self._both():
            if event == "cut":
                pair.cut()
            elif event == "connect":
                if not pair.up:
                    pair.connect()
            elif not pair.up:
                pair.notice(0 if event == "notice A" else 1)

    @rule(ms=st.sampled_from([1, 1, GRACE_MS + 1, GRACE_MS + 1, 11 * HOUR_MS]))
    def tick(self, ms: int) -> None:
        for pair in self._both():
            pair.tick(ms)
            for i in (0, 1):
                pair.db(i).expire(pair.now)
                pair.flush(i)

    @invariant()
    def twins_agree(self) -> None:
        for i in (0, 1):
            fast, full = self.fast.db(i), self.full.db(i)
            assert fast.get_timer() == full.get_timer()
            assert self.fast.nodes[i].sent == self.full.nodes[i].sent
            assert fast.ipsec_sas() == full.ipsec_sas()
            assert fast.counters == full.counters
            assert fast.generation == full.generation


TestPerPacketPath = PerPacketPath.TestCase
# A fault here shows only after a few particular steps in a row (traffic, then a change
# of the record, then traffic): search more than the profile's default.
TestPerPacketPath.settings = settings(max_examples=300, deadline=None)


@pytest.mark.parametrize("directions", ["out", "in", "out in"])
@pytest.mark.parametrize(
    ("inbound", "lifetime_kb", "size"),
    [(1, BIG_LIFETIME_KB, 0), (4, BIG_LIFETIME_KB, 64), (10, 1, 8), (0, 3, 24), (3, 1, 64)],
)
def test_per_packet_path_agrees_packet_by_packet(
    directions: str, inbound: int, lifetime_kb: int, size: int
) -> None:
    """One packet at a time, every message flushed after it (as the router does) and the
    other end's acknowledgements delivered every third packet: updates fall due,
    hold-backs and the lifetime bite at the same packet on both twins."""
    fast, full, sa_id = twin_pairs(inbound=inbound, lifetime_kb=lifetime_kb)
    pairs = (fast, full)
    for seq in range(1, 300):
        if "out" in directions:
            sent = [p.db(0).next_outbound_seq(sa_id, size, p.now) for p in pairs]
            assert sent[0] == sent[1]
        if "in" in directions:
            received = [
                (
                    p.db(0).inbound_check(sa_id, seq, size),
                    p.db(0).accept_inbound(sa_id, seq, size, p.now),
                )
                for p in pairs
            ]
            assert received[0] == received[1]
        for pair in pairs:
            pair.flush(0)
            if seq % 3 == 0:
                pair.settle()
        assert pairs[0].nodes[0].sent == pairs[1].nodes[0].sent
        assert pairs[0].db(0).get_timer() == pairs[1].db(0).get_timer()
        assert pairs[0].db(0).ipsec_sas() == pairs[1].db(0).ipsec_sas()
        assert pairs[0].db(0).counters == pairs[1].db(0).counters


def test_per_packet_path_at_the_window_edges() -> None:
    """Late packets just inside and just outside the 64-packet window, repeats, zero and
    the hold-back line: the same verdicts, counts and window on both twins."""
    fast, full, sa_id = twin_pairs(inbound=100, lifetime_kb=BIG_LIFETIME_KB)
    for seq in (80, 17, 16, 15, 17, 80, 81, 79, 0, 18, 100, 101, 99):
        verdicts = [
            (
                p.db(0).inbound_check(sa_id, seq, 64),
                p.db(0).accept_inbound(sa_id, seq, 64, p.now),
            )
            for p in (fast, full)
        ]
        assert verdicts[0] == verdicts[1], seq
    assert verdicts[0] == (TrafficVerdict.ACCEPTED, TrafficVerdict.ACCEPTED)  # 99
    assert fast.db(0).ipsec_sas() == full.db(0).ipsec_sas()
    assert fast.db(0).counters == full.db(0).counters
    assert full.db(0).counters.inbound_dropped == {
        TrafficVerdict.TOO_OLD: 4,  # 16 and 15, checked and then accepted
        TrafficVerdict.REPLAY: 4,  # 17 and 80 again
        TrafficVerdict.INVALID_SEQUENCE: 2,
        TrafficVerdict.HELD_BACK: 2,  # 101 > floor 0 + N 100
    }


def test_per_packet_path_up_to_sequence_exhaustion() -> None:
    """Near 2^32 − 1 the per-packet path stops where the full one does: the last number
    is sent, the SA is flagged for a rekey (a new generation), then nothing more."""
    answers = []
    records = []
    for kind in (SaDatabase, FullPathDatabase):
        db = kind(
            engine=CryptoEngine(CryptoCard()),
            entropy=SeededEntropy(3),
            grace_ms=GRACE_MS,
            replay_intervals={MAP: ReplayInterval(inbound_packets=10)},
        )
        db.ssp_connected(START_MS)
        db.handle_ssp_message(add_message(7, out=SEQ_MAX - J_OUT - 3), 1, START_MS)
        db.become_active(START_MS)
        generation = db.generation
        answers.append([db.next_outbound_seq(7, 100, START_MS) for _ in range(5)])
        assert db.generation == generation + 1
        records.append(db.ipsec_sa(7))
    assert answers[0] == answers[1]
    assert answers[0][:3] == [SEQ_MAX - 2, SEQ_MAX - 1, SEQ_MAX]
    assert answers[0][3:] == [TrafficVerdict.REKEY_NEEDED] * 2
    assert records[0] == records[1]
    assert records[0] is not None
    assert records[0].rekey_needed


def test_late_full_copy_never_lowers_a_former_actives_copy() -> None:
    """Z3's I3-late-add schedule: B resyncs while the first full copy of a new SA is on
    its way, so A's answer (a second full copy) follows it. The first arrives; B takes
    over, sends, leaves ACTIVE holding a stale copy with its own use; then the second
    arrives. Its BULK_BEGIN must not forget B's use, nor its add install the older value,
    or B takes over again from there and sends the same sequence number twice."""
    pair = Pair(make_db(seed=1), make_db(seed=2))
    a, b = pair.db(0), pair.db(1)
    pair.become_active(0)
    pair.connect()
    pair.settle()
    assert a.replicating
    b.request_resync(pair.now)
    pair.flush(1)  # RESYNC_REQUEST on its way to A
    sa = a.add_ipsec_pair(new_sa(), pair.now)
    assert isinstance(sa, IpsecSaPair)
    pair.flush(0)  # the first full record of the SA on its way to B
    pair.deliver(1, len(pair.inflight[1]))  # A answers: a second full copy follows it
    first = next(i for i, (_, m) in enumerate(pair.inflight[0]) if isinstance(m, IpsecSaAdd))
    pair.deliver(0, first + 1)
    assert active_sa(b, sa.sa_id).outbound_seq == 0
    pair.become_active(1)
    used_by_b = b.send_outbound(sa.sa_id, 1, 0, pair.now)
    assert used_by_b.count == 1
    assert used_by_b.first_seq == J_OUT + 1
    pair.leave_active(1)
    late = [m for _, m in pair.inflight[0]]
    assert any(isinstance(m, BulkBegin) for m in late)
    pair.deliver(0, len(pair.inflight[0]))  # the second full copy lands
    assert active_sa(b, sa.sa_id).outbound_seq >= used_by_b.first_seq
    pair.become_active(1)
    again = b.send_outbound(sa.sa_id, 1, 0, pair.now)
    assert again.count == 1
    assert again.first_seq > used_by_b.first_seq, "B sends its own number again"


def test_late_full_copy_never_lowers_a_former_actives_dpd_number() -> None:
    """I3-late-add for IKE: the late full copy's BULK_BEGIN must not forget the DPD numbers
    B sent as ACTIVE, nor its IKE add install the older DPD_OUT, or B's next R-U-THERE
    after taking over again reuses a number."""
    pair = Pair(make_db(seed=1), make_db(seed=2))
    a, b = pair.db(0), pair.db(1)
    pair.become_active(0)
    pair.connect()
    pair.settle()
    b.request_resync(pair.now, Doi.IKE)
    pair.flush(1)  # the IKE resync request on its way to A
    ike = a.add_ike_sa(new_ike(), pair.now)
    pair.flush(0)  # the first full record of the IKE SA on its way to B
    pair.deliver(1, len(pair.inflight[1]))  # A answers: a second full copy follows it
    first = next(i for i, (_, m) in enumerate(pair.inflight[0]) if isinstance(m, IkeSaAdd))
    pair.deliver(0, first + 1)
    pair.become_active(1)
    used_by_b = b.next_dpd_out(ike.sa_id, pair.now)
    assert used_by_b is not None
    pair.leave_active(1)
    assert any(isinstance(m, BulkBegin) for _, m in pair.inflight[0])
    pair.deliver(0, len(pair.inflight[0]))  # the second full copy lands
    pair.become_active(1)
    again = b.next_dpd_out(ike.sa_id, pair.now)
    assert again is not None
    assert again > used_by_b, "B sends its own R-U-THERE number again"
