"""impl/live/batch: many datagrams per system call, and its fallback, give the same answers.

Real loopback UDP sockets (no root needed). Every mode — ``recvmmsg``/``sendmmsg`` with
UDP_SEGMENT trains and UDP_GRO, the same without trains, the ``recvfrom``/``sendto``
fallback chosen up front or forced by a kernel that answers ENOSYS, and no libc at all —
must deliver exactly the datagrams sent, in order, with their source, and count what
the kernel refuses one per datagram. The driver's batched wire log (``SeqRuns.add_many``
and ``add_esp``) must record what as many single ``add`` calls would.
"""

from __future__ import annotations

import ctypes
import errno
import socket
import struct
from collections.abc import Iterator
from ipaddress import IPv4Address

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vpnha.impl.live import batch
from vpnha.impl.live.batch import (
    GSO_SEGMENTS,
    MAX_UDP_PAYLOAD,
    BatchReceiver,
    BatchSender,
    batch_syscalls_available,
)
from vpnha.impl.live.driver import SeqRuns

SOURCE = "127.3.4.5"
MODES = {
    "trains": {"batched": True, "segment": True, "coalesce": True},
    "vectors": {"batched": True, "segment": False, "coalesce": False},
    "trains-to-plain-receiver": {"batched": True, "segment": True, "coalesce": False},
    "fallback": {"batched": False, "segment": False, "coalesce": False},
}


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        receiver.bind(("127.0.0.1", 0))
        receiver.setblocking(False)
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        sender.bind((SOURCE, 0))
        sender.setblocking(False)
        yield receiver, sender
    finally:
        receiver.close()
        sender.close()


def mixed_payloads() -> list[bytes]:
    """Runs of one size (trains), lone sizes, an empty and a largest datagram."""
    payloads = [bytes([i]) * 100 for i in range(150)]  # more than one train
    payloads += [b"", b"x", bytes(1400), bytes(1400), bytes(30000), bytes(30000), bytes(30000)]
    payloads += [bytes([i]) * (i + 1) for i in range(40)]  # every size once
    payloads += [bytes(MAX_UDP_PAYLOAD)]
    payloads += [bytes([7]) * 1000] * 70
    return payloads


def drain(receiver: BatchReceiver, limit: int = 0) -> tuple[list[bytes], list[int]]:
    payloads: list[bytes] = []
    sources: list[int] = []
    for _ in range(10_000):
        got, hosts = receiver.receive(limit)
        if not got:
            assert receiver.pending == 0
            return payloads, sources
        assert len(got) == len(hosts)
        assert len(got) <= (limit or 64)
        payloads += got
        sources += hosts
    raise AssertionError("the receiver never ran dry")


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("limit", [0, 1, 7, 300])
def test_every_mode_delivers_every_datagram_in_order(
    pair: tuple[socket.socket, socket.socket], mode: str, limit: int
) -> None:
    options = MODES[mode]
    receiving, sending = pair
    receiver = BatchReceiver(receiving, batched=options["batched"], coalesce=options["coalesce"])
    sender = BatchSender(sending, batched=options["batched"], segment=options["segment"])
    expect_batched = options["batched"] and batch_syscalls_available()
    assert (receiver.batched, sender.batched) == (expect_batched, expect_batched)
    payloads = mixed_payloads()
    assert sender.send(payloads, receiving.getsockname()) == 0
    got, sources = drain(receiver, limit)
    assert got == payloads
    assert set(sources) == {int(IPv4Address(SOURCE))}
    assert receiver.truncated == 0
    assert receiver.emptied
    receiver.close()
    sender.close()


def test_a_train_cut_past_the_limit_is_held_for_the_next_call(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    receiving, sending = pair
    receiver = BatchReceiver(receiving)
    sender = BatchSender(sending)
    if not sender.segmenting:
        pytest.skip("no UDP_SEGMENT here")
    payloads = [bytes([i]) * 64 for i in range(GSO_SEGMENTS)]
    assert sender.send(payloads, receiving.getsockname()) == 0
    first, _ = receiver.receive(10)
    assert first == payloads[:10]
    assert receiver.pending == GSO_SEGMENTS - 10  # one train arrived whole, if GRO kept it
    assert not receiver.emptied
    rest, _ = drain(receiver, 10)
    assert first + rest == payloads


def test_an_empty_socket_gives_nothing(pair: tuple[socket.socket, socket.socket]) -> None:
    receiving, _ = pair
    for batched in (True, False):
        receiver = BatchReceiver(receiving, batched=batched)
        assert receiver.receive() == ([], [])
        assert receiver.emptied
        assert receiver.pending == 0


def _enosys(*_args: object) -> int:
    ctypes.set_errno(errno.ENOSYS)
    return -1


def test_a_kernel_without_the_calls_falls_back_on_first_use(
    pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch, "_LIBC", (_enosys, _enosys))
    receiving, sending = pair
    receiver = BatchReceiver(receiving, coalesce=False)
    sender = BatchSender(sending)
    assert receiver.batched
    assert sender.batched
    payloads = mixed_payloads()
    assert sender.send(payloads, receiving.getsockname()) == 0
    assert not sender.batched
    got, _ = drain(receiver)
    assert not receiver.batched
    assert got == payloads


def test_no_libc_means_the_plain_calls(
    pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch, "_LIBC", None)
    assert not batch_syscalls_available()
    receiving, sending = pair
    receiver = BatchReceiver(receiving)
    sender = BatchSender(sending)
    assert not receiver.batched
    assert not sender.batched
    assert not sender.segmenting
    assert sender.send([b"a", b"bb"], receiving.getsockname()) == 0
    assert drain(receiver)[0] == [b"a", b"bb"]


def test_trains_still_arrive_whole_after_the_receiver_falls_back(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """UDP_GRO stays set on the socket: the ``recvmsg`` fallback cuts trains too."""
    receiving, sending = pair
    receiver = BatchReceiver(receiving)
    receiver.close()
    assert not receiver.batched
    payloads = [bytes([i]) * 200 for i in range(50)]
    assert BatchSender(sending).send(payloads, receiving.getsockname()) == 0
    assert drain(receiver)[0] == payloads


@pytest.mark.parametrize("mode", sorted(MODES))
def test_refused_datagrams_are_counted_one_each(
    pair: tuple[socket.socket, socket.socket], mode: str
) -> None:
    """Broadcast without SO_BROADCAST: the kernel refuses every datagram (EACCES)."""
    options = MODES[mode]
    _, sending = pair
    sender = BatchSender(sending, batched=options["batched"], segment=options["segment"])
    payloads = [bytes(100)] * 100 + [bytes(50)] * 3 + [b""]
    assert sender.send(payloads, ("255.255.255.255", 9)) == len(payloads)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_a_bad_destination_is_refused_not_raised(
    pair: tuple[socket.socket, socket.socket], mode: str
) -> None:
    options = MODES[mode]
    _, sending = pair
    sender = BatchSender(sending, batched=options["batched"], segment=options["segment"])
    assert sender.send([b"a", b"b"], ("127.0.0.1", 70000)) == 2  # no such port


@pytest.mark.parametrize("mode", sorted(MODES))
def test_a_datagram_too_long_for_udp_is_refused_alone(
    pair: tuple[socket.socket, socket.socket], mode: str
) -> None:
    options = MODES[mode]
    receiving, sending = pair
    receiver = BatchReceiver(receiving, batched=options["batched"], coalesce=options["coalesce"])
    sender = BatchSender(sending, batched=options["batched"], segment=options["segment"])
    payloads = [b"before", bytes(MAX_UDP_PAYLOAD + 1), b"after"]
    assert sender.send(payloads, receiving.getsockname()) == 1
    assert drain(receiver)[0] == [b"before", b"after"]


def test_bad_slot_counts_are_local_misuse(pair: tuple[socket.socket, socket.socket]) -> None:
    receiving, _ = pair
    if not batch_syscalls_available():
        pytest.skip("no recvmmsg here")
    for slots in (0, 1025):
        with pytest.raises(ValueError, match="slots"):
            BatchReceiver(receiving, slots=slots)


# -- the driver's wire log, recorded a batch at a time -----------------------------------

events = st.lists(
    st.tuples(st.sampled_from([0x100, 0x200, 0xFFFF_FFFF]), st.integers(0, 40)),
    max_size=60,
)


def _one_by_one(batches: list[list[tuple[int, int]]]) -> SeqRuns:
    runs = SeqRuns()
    for now, items in enumerate(batches):
        for spi, seq in items:
            runs.add(spi, seq, now)
    return runs


@given(st.lists(events, max_size=6), st.booleans())
def test_batched_wire_log_is_the_same_as_one_add_per_packet(
    batches: list[list[tuple[int, int]]], as_esp: bool
) -> None:
    expected = _one_by_one(batches)
    runs = SeqRuns()
    for now, items in enumerate(batches):
        if as_esp:  # SPI, sequence number, then some ciphertext
            runs.add_esp([struct.pack("!II", spi, seq) + b"ct" for spi, seq in items], now)
        else:
            runs.add_many([spi for spi, _ in items], [seq for _, seq in items], now)
    assert runs.runs == expected.runs
    assert runs.count == expected.count
    assert runs.take_dirty() == expected.take_dirty()


def test_a_packet_too_short_for_an_esp_header_is_not_logged() -> None:
    runs = SeqRuns()
    runs.add_esp([struct.pack("!II", 0x100, 1), b"short", struct.pack("!II", 0x100, 2)], now=1)
    assert runs.runs == [[0x100, 1, 2, 1]]
    assert runs.count == 2


def test_a_consecutive_batch_extends_the_open_run_in_one_step() -> None:
    runs = SeqRuns()
    runs.add(0x100, 1, now=5)
    runs.add_many([0x100] * 4, [2, 3, 4, 5], now=6)
    runs.add_many([0x100] * 2, [7, 8], now=7)  # a gap: a new run
    assert runs.runs == [[0x100, 1, 5, 5], [0x100, 7, 8, 7]]
    assert runs.count == 7
