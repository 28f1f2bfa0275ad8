"""Many UDP datagrams per system call: ``recvmmsg(2)``, ``sendmmsg(2)`` and UDP GSO on Linux.

Theory of operation
-------------------
One loopback ``sendto`` costs 4-8 µs of CPU on the project machine and one ``recvfrom``
3: at 100k packets/s per direction a router's two system calls per packet alone
would use most of a core. Linux has three ways to do better, none of which the
standard library's ``socket`` exposes for many datagrams at once:

- ``recvmmsg`` (Linux 2.6.33) fills a vector of datagrams in one call;
- ``sendmmsg`` (Linux 3.0) sends a vector in one call;
- UDP generic segmentation offload (``UDP_SEGMENT``, Linux 4.18): one message
  carries a train of equal-sized datagrams, which the stack (or the NIC) cuts
  apart at the last moment, so the route, the socket accounting and the netfilter
  hooks run once per train instead of once per datagram. Each datagram still
  leaves as its own UDP datagram: the receiver cannot tell.

This module calls libc's ``recvmmsg`` and ``sendmmsg`` through :mod:`ctypes`.
:class:`BatchReceiver` reads up to ``slots`` datagrams per
:meth:`~BatchReceiver.receive` and returns their payloads and IPv4 source
addresses (32-bit integers). :class:`BatchSender` sends the payloads of one
:meth:`~BatchSender.send` to one destination, in order: consecutive payloads of one
size go as one UDP_SEGMENT train (at most 64 datagrams, 65507 octets), the others one
message each, all the messages of up to ``slots`` at a time in one ``sendmmsg``.

Everything a call needs is allocated once and reused: the ``mmsghdr`` vector and,
per slot, one ``iovec``, one ``sockaddr_in``, one control message and 64 KiB of
payload area (an anonymous ``mmap``: the kernel provides a page only when it is
first written, so a slot costs the memory of the largest datagram it ever held).
Per call the Python side does one ctypes call and a few ``struct``/``memoryview``
operations over the whole vector (every length, every source); per datagram, one
slice of the payload area (receive) or one copy into it (send). An IPv4 UDP payload
is at most 65507 octets, so it always fits a slot; a longer one is asked for with
``MSG_TRUNC`` anyway, and dropped and counted (``truncated``) rather than cut.

Where libc, ctypes or a system call is missing (not Linux, a seccomp filter,
``ENOSYS``), each class falls back to a loop of ``recvfrom`` / ``sendto`` with the
same answers (``batched`` says which); a kernel or a device that refuses UDP_SEGMENT
(``EIO``: no checksum offload; ``EINVAL``: a train longer than the path's MTU allows)
gets those datagrams one message each. The layouts come from :mod:`ctypes`
structures (natural alignment), so they hold on 32- and 64-bit Linux alike.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import mmap
import socket
import struct
import sys
from array import array
from collections.abc import Callable, Sequence
from typing import Final

__all__ = ["SLOT_SIZE", "BatchReceiver", "BatchSender", "batch_syscalls_available"]

SLOT_SIZE: Final = 1 << 16
"""Octets per datagram slot: more than the largest IPv4 UDP payload (65507)."""
MAX_UDP_PAYLOAD: Final = 65507
"""65535 − 20 (IPv4 header) − 8 (UDP header)."""
GSO_SEGMENTS: Final = 64
"""Datagrams per UDP_SEGMENT train (the kernel's UDP_MAX_SEGMENTS, at least 64)."""
_MSG_DONTWAIT: Final = 0x40
_MSG_TRUNC: Final = 0x20
_SOL_UDP: Final = 17
_UDP_SEGMENT: Final = 103
_UDP_GRO: Final = 104
_NOTHING_WAITING: Final = frozenset({errno.EAGAIN, errno.EWOULDBLOCK})
_GSO_REFUSALS: Final = frozenset({errno.EIO, errno.EINVAL, errno.EMSGSIZE, errno.EOPNOTSUPP})
"""What a kernel or device that cannot segment a train answers."""


class _Iovec(ctypes.Structure):
    _fields_ = (("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t))


class _Msghdr(ctypes.Structure):
    _fields_ = (
        ("msg_name", ctypes.c_void_p),
        ("msg_namelen", ctypes.c_uint32),
        ("msg_iov", ctypes.c_void_p),
        ("msg_iovlen", ctypes.c_size_t),
        ("msg_control", ctypes.c_void_p),
        ("msg_controllen", ctypes.c_size_t),
        ("msg_flags", ctypes.c_int),
    )


class _Mmsghdr(ctypes.Structure):
    _fields_ = (("msg_hdr", _Msghdr), ("msg_len", ctypes.c_uint))


class _SockaddrIn(ctypes.Structure):
    _fields_ = (
        ("sin_family", ctypes.c_ushort),
        ("sin_port", ctypes.c_uint16),
        ("sin_addr", ctypes.c_uint32),
        ("sin_zero", ctypes.c_char * 8),
    )


class _SegmentCmsg(ctypes.Structure):
    """``cmsghdr`` followed by UDP_SEGMENT's 16-bit segment size (``CMSG_SPACE(2)``)."""

    _fields_ = (
        ("cmsg_len", ctypes.c_size_t),
        ("cmsg_level", ctypes.c_int),
        ("cmsg_type", ctypes.c_int),
        ("segment_size", ctypes.c_uint16),
        ("_pad", ctypes.c_char * (ctypes.sizeof(ctypes.c_size_t) - 2)),
    )


_WORD: Final = ctypes.sizeof(ctypes.c_ulong)
_MMSGHDR_SIZE: Final = ctypes.sizeof(_Mmsghdr)
_MSG_LEN_OFFSET: Final = _Mmsghdr.msg_len.offset
_CONTROLLEN_WORD: Final = _Msghdr.msg_controllen.offset // _WORD
_SOCKADDR_SIZE: Final = ctypes.sizeof(_SockaddrIn)
_SIN_ADDR_OFFSET: Final = _SockaddrIn.sin_addr.offset
_CMSG_SIZE: Final = ctypes.sizeof(_SegmentCmsg)
_SEGMENT_OFFSET: Final = _SegmentCmsg.segment_size.offset


def _load_libc() -> tuple[Callable[..., int], Callable[..., int]] | None:
    """libc's ``recvmmsg`` and ``sendmmsg``, or None where ctypes cannot reach them."""
    # The vector's lengths are written as C unsigned longs: size_t on every Linux ABI.
    if ctypes.sizeof(ctypes.c_size_t) != _WORD or _MMSGHDR_SIZE % _WORD:
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        recvmmsg = libc.recvmmsg
        sendmmsg = libc.sendmmsg
    except (OSError, AttributeError):
        return None
    recvmmsg.argtypes = (
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_void_p,
    )
    recvmmsg.restype = ctypes.c_int
    sendmmsg.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int)
    sendmmsg.restype = ctypes.c_int
    return recvmmsg, sendmmsg


_LIBC: Final = _load_libc()


def batch_syscalls_available() -> bool:
    """True when libc's ``recvmmsg`` and ``sendmmsg`` can be called here (the kernel may
    still refuse them: each class then falls back on its first call)."""
    return _LIBC is not None


class _Vector:
    """``slots`` mmsghdr entries, each with one iovec on its own payload slot."""

    def __init__(self, slots: int, *, shared_name: bool) -> None:
        if not 1 <= slots <= 1024:  # UIO_MAXIOV: the kernel's limit per call
            msg = f"slots {slots} is outside 1..1024"
            raise ValueError(msg)
        self.slots = slots
        self.payload = mmap.mmap(-1, slots * SLOT_SIZE)
        self._payload_export = ctypes.c_char.from_buffer(self.payload)
        payload_address = ctypes.addressof(self._payload_export)
        self.headers = (_Mmsghdr * slots)()
        self.iovecs = (_Iovec * slots)()
        # Sending, every message goes to the one destination of the call: one name.
        self.names = (_SockaddrIn * (1 if shared_name else slots))()
        self.cmsgs = (_SegmentCmsg * slots)()
        for i in range(slots):
            self.iovecs[i].iov_base = payload_address + i * SLOT_SIZE
            self.iovecs[i].iov_len = SLOT_SIZE
            cmsg = self.cmsgs[i]
            cmsg.cmsg_len = _SEGMENT_OFFSET + 2  # CMSG_LEN(2)
            cmsg.cmsg_level = _SOL_UDP
            cmsg.cmsg_type = _UDP_SEGMENT
            header = self.headers[i].msg_hdr
            header.msg_name = ctypes.addressof(self.names[0 if shared_name else i])
            header.msg_namelen = _SOCKADDR_SIZE
            header.msg_iov = ctypes.addressof(self.iovecs[i])
            header.msg_iovlen = 1
            header.msg_control = ctypes.addressof(cmsg)
            header.msg_controllen = 0
        self.address = ctypes.addressof(self.headers)
        self.header_bytes = memoryview(self.headers).cast("B")
        self.header_words = self.header_bytes.cast("L")
        self.name_bytes = memoryview(self.names).cast("B")
        self.iov_words = memoryview(self.iovecs).cast("B").cast("L")
        self.cmsg_bytes = memoryview(self.cmsgs).cast("B")
        self.segment_sizes = self.cmsg_bytes.cast("H")
        self.starts = [i * SLOT_SIZE for i in range(slots)]

    def close(self) -> None:
        for view in (
            self.header_words,
            self.header_bytes,
            self.name_bytes,
            self.iov_words,
            self.segment_sizes,
            self.cmsg_bytes,
        ):
            view.release()
        del self._payload_export
        self.payload.close()


class BatchReceiver:
    """The datagrams waiting on one non-blocking UDP socket, many per call (see module doc).

    With ``coalesce`` (the default), the socket also accepts trains (``UDP_GRO``): the
    kernel may then hand over a run of equal-sized datagrams from one source as one
    buffer (a UDP_SEGMENT train sent on this host, or what the NIC's GRO gathered),
    which :meth:`receive` cuts back into its datagrams.
    """

    def __init__(
        self,
        sock: socket.socket,
        *,
        slots: int = 64,
        batched: bool = True,
        coalesce: bool = True,
    ) -> None:
        """Read from ``sock`` (AF_INET, SOCK_DGRAM); ``batched=False``: plain ``recvfrom``
        (and no trains)."""
        self._sock = sock
        self._fd = sock.fileno()
        self._slots = slots
        self.truncated = 0
        """Datagrams dropped because they were longer than a slot (cannot happen on IPv4)."""
        self.emptied = False
        """The last :meth:`receive` found the socket drained (another call would wait)."""
        self._held: tuple[list[bytes], list[int]] = ([], [])
        self._vector: _Vector | None = None
        self._recvmmsg: Callable[..., int] | None = None
        self._structs: dict[int, struct.Struct] = {}
        self._trains = False
        if batched and _LIBC is not None:
            self._vector = _Vector(slots, shared_name=False)
            self._recvmmsg = _LIBC[0]
            self._full_control = array("L", [_CMSG_SIZE]) * slots
            if coalesce:
                try:
                    sock.setsockopt(_SOL_UDP, _UDP_GRO, 1)
                    self._trains = True
                except OSError:
                    pass

    @property
    def batched(self) -> bool:
        """True while ``recvmmsg`` is used (False: the ``recvfrom`` fallback)."""
        return self._recvmmsg is not None

    @property
    def pending(self) -> int:
        """Datagrams already read and held for the next call (the rest of a train that
        went past a call's ``limit``): no readiness event announces them."""
        return len(self._held[0])

    def receive(self, limit: int = 0) -> tuple[list[bytes], list[int]]:
        """Up to ``limit`` (0: ``slots``) datagrams and their IPv4 source addresses as
        integers; two empty lists when none is waiting. Raises ``OSError`` for a socket
        error (what was already read is returned first)."""
        limit = limit or self._slots
        held_payloads, held_sources = self._held
        if held_payloads:
            self._held = (held_payloads[limit:], held_sources[limit:])
            self.emptied = False
            return held_payloads[:limit], held_sources[:limit]
        recvmmsg = self._recvmmsg
        vector = self._vector
        if recvmmsg is None or vector is None:
            return self._receive_each(limit)
        wanted = min(limit, self._slots)
        trains = self._trains
        if trains:  # the kernel shortens each message's control length: restore it
            words = _MMSGHDR_SIZE // _WORD
            vector.header_words[_CONTROLLEN_WORD : wanted * words : words] = self._full_control[
                :wanted
            ]
        count = recvmmsg(self._fd, vector.address, wanted, _MSG_DONTWAIT | _MSG_TRUNC, None)
        if count <= 0:
            self.emptied = True
            if count == 0:
                return [], []
            code = ctypes.get_errno()
            if code in _NOTHING_WAITING:
                return [], []
            if code == errno.ENOSYS:
                self.close()
                return self._receive_each(limit)
            raise OSError(code, f"recvmmsg: {errno.errorcode.get(code, code)}")
        self.emptied = count < wanted
        headers, names = self._unpackers(count)
        fields: tuple[int, ...] = headers(vector.header_bytes)
        sources: list[int] = list(names(vector.name_bytes))
        payload = vector.payload
        lengths = fields[1::2]
        if (trains and any(fields[0::2])) or max(lengths) > SLOT_SIZE:
            return self._cut(vector, fields, sources, limit)
        return [payload[s : s + n] for s, n in zip(vector.starts, lengths, strict=False)], sources

    def _unpackers(
        self, count: int
    ) -> tuple[Callable[[memoryview], tuple[int, ...]], Callable[[memoryview], tuple[int, ...]]]:
        """Readers of (control length, length) of ``count`` messages, and of their sources."""
        headers = self._structs.get(count)
        names = self._structs.get(-count)
        if headers is None or names is None:
            control = _Msghdr.msg_controllen.offset
            word = "Q" if _WORD == 8 else "I"
            gap = _MSG_LEN_OFFSET - control - _WORD
            tail = _MMSGHDR_SIZE - _MSG_LEN_OFFSET - 4
            headers = self._structs[count] = struct.Struct(
                "=" + f"{control}x{word}{gap}xI{tail}x" * count
            )
            # sin_addr is in network order: read big-endian.
            names = self._structs[-count] = struct.Struct(
                "!" + f"{_SIN_ADDR_OFFSET}xI{_SOCKADDR_SIZE - _SIN_ADDR_OFFSET - 4}x" * count
            )
        return headers.unpack_from, names.unpack_from

    def _cut(
        self, vector: _Vector, fields: tuple[int, ...], sources: list[int], limit: int
    ) -> tuple[list[bytes], list[int]]:
        """The slow path: trains cut into datagrams, truncated datagrams dropped."""
        payloads: list[bytes] = []
        kept: list[int] = []
        for i, source in enumerate(sources):
            control = fields[2 * i]
            length = fields[2 * i + 1]
            if length > SLOT_SIZE:
                self.truncated += 1
                continue
            start = vector.starts[i]
            segment = self._segment_size(vector, i) if control else 0
            if segment <= 0 or segment >= length:
                payloads.append(vector.payload[start : start + length])
                kept.append(source)
                continue
            train = vector.payload[start : start + length]
            cut = [train[offset : offset + segment] for offset in range(0, length, segment)]
            payloads += cut
            kept += [source] * len(cut)
        if len(payloads) > limit:
            self._held = (payloads[limit:], kept[limit:])
            self.emptied = False
            return payloads[:limit], kept[:limit]
        return payloads, kept

    @staticmethod
    def _segment_size(vector: _Vector, index: int) -> int:
        """The UDP_GRO segment size in slot ``index``'s control message (0: none)."""
        offset = index * _CMSG_SIZE
        level, kind = struct.unpack_from("=ii", vector.cmsg_bytes, offset + _WORD)
        if level != _SOL_UDP or kind != _UDP_GRO:
            return 0
        (size,) = struct.unpack_from("=i", vector.cmsg_bytes, offset + _SEGMENT_OFFSET)
        return int(size)

    def _receive_each(self, limit: int) -> tuple[list[bytes], list[int]]:
        payloads: list[bytes] = []
        sources: list[int] = []
        self.emptied = False
        trains = self._trains
        recvfrom = self._sock.recvfrom
        while len(payloads) < limit:
            try:
                if trains:
                    data, ancillary, _flags, address = self._sock.recvmsg(SLOT_SIZE, _CMSG_SIZE)
                else:
                    data, address = recvfrom(SLOT_SIZE)
                    ancillary = []
            except BlockingIOError:
                self.emptied = True
                break
            except OSError:
                if payloads:
                    break  # report what came; the error shows again on the next call
                raise
            source = int.from_bytes(socket.inet_aton(address[0]), "big")
            segment = 0
            for level, kind, value in ancillary:
                if level == _SOL_UDP and kind == _UDP_GRO and len(value) >= 4:
                    segment = int.from_bytes(value[:4], sys.byteorder, signed=True)
            if 0 < segment < len(data):
                cut = [data[i : i + segment] for i in range(0, len(data), segment)]
                payloads.extend(cut)
                sources.extend([source] * len(cut))
            else:
                payloads.append(data)
                sources.append(source)
        if len(payloads) > limit:
            self._held = (payloads[limit:], sources[limit:])
            return payloads[:limit], sources[:limit]
        return payloads, sources

    def close(self) -> None:
        """Free the buffers and use ``recvfrom`` from now on (the socket is the caller's)."""
        self._recvmmsg = None
        if self._vector is not None:
            self._vector.close()
            self._vector = None


class BatchSender:
    """Datagrams to one destination per call, many per system call (see module doc)."""

    def __init__(
        self,
        sock: socket.socket,
        *,
        slots: int = 64,
        batched: bool = True,
        segment: bool = True,
    ) -> None:
        """Send on ``sock`` (AF_INET, SOCK_DGRAM). ``batched=False``: plain ``sendto``;
        ``segment=False``: no UDP_SEGMENT trains (also off where the kernel lacks it)."""
        self._sock = sock
        self._fd = sock.fileno()
        self._slots = slots
        self._vector: _Vector | None = None
        self._sendmmsg: Callable[..., int] | None = None
        self._destination: tuple[str, int] | None = None
        self._segment = False
        if batched and _LIBC is not None:
            self._vector = _Vector(slots, shared_name=True)
            self._sendmmsg = _LIBC[1]
            if segment:
                try:  # 0: no segmentation unless a message asks (probes for the option)
                    sock.setsockopt(_SOL_UDP, _UDP_SEGMENT, 0)
                    self._segment = True
                except OSError:
                    pass

    @property
    def batched(self) -> bool:
        """True while ``sendmmsg`` is used (False: the ``sendto`` fallback)."""
        return self._sendmmsg is not None

    @property
    def segmenting(self) -> bool:
        """True while runs of equal-sized datagrams go as UDP_SEGMENT trains."""
        return self._segment and self._sendmmsg is not None

    def send(self, payloads: Sequence[bytes], destination: tuple[str, int]) -> int:
        """Send every payload, in order, to ``destination`` (dotted IPv4 text, port); the
        number the kernel refused (each datagram tried once, as by one ``sendto``)."""
        sendmmsg = self._sendmmsg
        vector = self._vector
        if sendmmsg is None or vector is None or not payloads:
            return self._send_each(payloads, destination)
        lengths = list(map(len, payloads))
        if max(lengths) > MAX_UDP_PAYLOAD:  # no UDP datagram: let sendto say why
            return self._send_each(payloads, destination)
        if destination != self._destination:
            try:
                self._set_destination(vector, destination)
            except (OSError, struct.error):  # not an IPv4 address and port: sendto says why
                return self._send_each(payloads, destination)
        messages, segment_sizes = (
            self._trains(payloads, lengths) if self._segment else (payloads, None)
        )
        refused = 0
        slots = self._slots
        for first in range(0, len(messages), slots):
            chunk = messages[first : first + slots]
            sizes = None if segment_sizes is None else segment_sizes[first : first + slots]
            refused += self._send_chunk(sendmmsg, vector, chunk, sizes)
            if self._sendmmsg is None:  # the kernel has no sendmmsg after all
                rest_sizes = None if segment_sizes is None else segment_sizes[first + slots :]
                return refused + self._send_messages_each(
                    messages[first + slots :], rest_sizes, destination
                )
        return refused

    @staticmethod
    def _trains(payloads: Sequence[bytes], lengths: list[int]) -> tuple[Sequence[bytes], list[int]]:
        """Messages (a train joins equal-sized payloads) and their segment sizes (0: one
        datagram)."""
        count = len(lengths)
        size = lengths[0]
        join = b"".join
        if size and lengths.count(size) == count:  # one size throughout: the usual batch
            per = min(GSO_SEGMENTS, MAX_UDP_PAYLOAD // size)
            if per < 2 or count == 1:
                return payloads, [0] * count
            messages = [join(payloads[i : i + per]) for i in range(0, count, per)]
            sizes = [size] * len(messages)
            if count % per == 1:
                sizes[-1] = 0  # a lone datagram at the end is no train
            return messages, sizes
        messages = []
        sizes = []
        start = 0
        while start < count:
            size = lengths[start]
            end = min(count, start + (min(GSO_SEGMENTS, MAX_UDP_PAYLOAD // size) if size else 1))
            stop = start + 1
            while stop < end and lengths[stop] == size:
                stop += 1
            if stop - start > 1:
                messages.append(join(payloads[start:stop]))
                sizes.append(size)
            else:
                messages.append(payloads[start])
                sizes.append(0)
            start = stop
        return messages, sizes

    def _send_chunk(
        self,
        sendmmsg: Callable[..., int],
        vector: _Vector,
        messages: Sequence[bytes],
        segment_sizes: list[int] | None,
    ) -> int:
        """Send ``messages`` (at most ``slots``) from slots 0..; the datagrams refused."""
        count = len(messages)
        buffer = vector.payload
        for start, data in zip(vector.starts, messages, strict=False):
            buffer[start : start + len(data)] = data
        vector.iov_words[1 : 2 * count : 2] = array("L", map(len, messages))
        words = _MMSGHDR_SIZE // _WORD
        controllen = vector.header_words[_CONTROLLEN_WORD : count * words : words]
        if segment_sizes is None:
            if any(controllen):  # trains were sent before they stopped: none now
                controllen[:] = array("L", bytes(count * _WORD))
        else:
            controllen[:] = array("L", [_CMSG_SIZE if size else 0 for size in segment_sizes])
            step = _CMSG_SIZE // 2
            first = _SEGMENT_OFFSET // 2
            vector.segment_sizes[first : first + count * step : step] = array("H", segment_sizes)
        refused = 0
        done = 0
        while done < count:
            sent = sendmmsg(self._fd, vector.address + done * _MMSGHDR_SIZE, count - done, 0)
            if sent > 0:
                done += sent
                continue
            code = ctypes.get_errno()
            if code == errno.EINTR:
                continue
            if code == errno.ENOSYS:
                self._close_vector()
                assert self._destination is not None
                rest = None if segment_sizes is None else segment_sizes[done:]
                return refused + self._send_messages_each(messages[done:], rest, self._destination)
            size = 0 if segment_sizes is None else segment_sizes[done]
            if size and code in _GSO_REFUSALS:
                # This kernel or device cannot segment (or not this train): datagram by
                # datagram, and no more trains if it never can (EIO: no checksum offload).
                if code == errno.EIO:
                    self._segment = False
                assert self._destination is not None
                refused += self._send_messages_each([messages[done]], [size], self._destination)
            else:  # lost, as a failed sendto's datagram would be (a train: each of them)
                refused += -(-len(messages[done]) // size) if size else 1
            done += 1
        return refused

    def _set_destination(self, vector: _Vector, destination: tuple[str, int]) -> None:
        host, port = destination
        name = struct.pack("=H", socket.AF_INET) + struct.pack("!H4s", port, socket.inet_aton(host))
        vector.name_bytes[: len(name)] = name
        self._destination = destination

    def _send_messages_each(
        self,
        messages: Sequence[bytes],
        segment_sizes: list[int] | None,
        destination: tuple[str, int],
    ) -> int:
        """Messages (trains cut back into their datagrams) one ``sendto`` each."""
        if segment_sizes is None:
            return self._send_each(messages, destination)
        datagrams: list[bytes] = []
        for message, size in zip(messages, segment_sizes, strict=True):
            if size:
                datagrams.extend(message[i : i + size] for i in range(0, len(message), size))
            else:
                datagrams.append(message)
        return self._send_each(datagrams, destination)

    def _send_each(self, payloads: Sequence[bytes], destination: tuple[str, int]) -> int:
        refused = 0
        sendto = self._sock.sendto
        for data in payloads:
            try:
                sendto(data, destination)
            except (OSError, OverflowError, TypeError):  # refused, or no address at all
                refused += 1
        return refused

    def _close_vector(self) -> None:
        self._sendmmsg = None
        if self._vector is not None:
            self._vector.close()
            self._vector = None

    def close(self) -> None:
        """Free the buffers and use ``sendto`` from now on (the socket is the caller's)."""
        self._close_vector()
