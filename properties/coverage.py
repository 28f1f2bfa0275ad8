"""What a campaign exercised beyond the RFC 2281 cells: SSP message kinds and SA transitions.

Theory of operation
-------------------
Two tallies, both read from what the suite already sees, so neither side needs a hook:

- **SSP message kinds** (:class:`SspTally`): the octets of each SSP TCP stream as the
  simulated world carries them, one tally per direction and connection. It cuts the
  stream into frames by their 12-octet header (type, DOI and body length) and labels
  each frame ``ssp: TYPE`` — with the DOI where a type serves both HA managers
  (``ssp: SA_DELETE ipsec``) and the counter for a COUNTER_UPDATE
  (``ssp: COUNTER_UPDATE ipsec OUTBOUND_SEQ``). It does not check tags: coverage counts
  what was sent, whether or not the receiver accepted it. :func:`ssp_kinds` lists every
  label the protocol allows, so a report can say which were never sent.
- **SA transitions** (:func:`sa_transitions`): between two observations of one side, each
  IPsec and IKE SA whose status on a router changed gives one label such as
  ``ipsec: STANDBY -> ACTIVE`` (a promotion), ``ipsec: STANDBY -> STANDBY stale``,
  ``ike: ACTIVE -> none`` (deleted, expired, or its router crashed).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from vpnha.impl.ssp.messages import MESSAGE_CLASSES, CounterUpdate
from vpnha.impl.ssp.wire import CounterKind, Doi, MessageType, SspDecodeError

from .observation import Observation

__all__ = ["SspTally", "sa_transitions", "ssp_kinds"]

_HEADER = struct.Struct("!BBBBII")
_TAG = 32


def _label(kind: int, doi: int, counter: int | None = None) -> str:
    try:
        name = MessageType(kind).name
    except ValueError:
        return f"ssp: unknown type {kind}"
    label = f"ssp: {name}"
    if doi in (Doi.IPSEC, Doi.IKE):
        label += f" {Doi(doi).name.lower()}"
    if counter is not None:
        try:
            label += f" {CounterKind(counter).name}"
        except ValueError:
            label += f" kind {counter}"
    return label


def _counter_doi(kind: CounterKind) -> Doi | None:
    """The DOI whose COUNTER_UPDATE carries ``kind`` (asked of the codec itself)."""
    for doi in (Doi.IPSEC, Doi.IKE):
        body = struct.pack("!IBQ", 1, kind, 1)
        try:
            CounterUpdate.decode_body(body, doi)
        except SspDecodeError:
            continue
        return doi
    return None


def ssp_kinds() -> frozenset[str]:
    """Every label :class:`SspTally` can give a well-formed frame."""
    labels: set[str] = set()
    for message in MESSAGE_CLASSES:
        for doi in message.DOIS:
            if message is CounterUpdate:
                continue
            labels.add(_label(message.TYPE, doi))
    for kind in CounterKind:
        owner = _counter_doi(kind)
        if owner is not None:
            labels.add(_label(MessageType.COUNTER_UPDATE, owner, kind))
    return frozenset(labels)


class SspTally:
    """Frame labels of one direction of one SSP connection, fed octets as they travel."""

    __slots__ = ("_broken", "_buffer")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._broken = False

    def feed(self, data: bytes) -> Iterator[str]:
        """The labels of the frames ``data`` completes (garbage ends the tally)."""
        if self._broken:
            return
        self._buffer += data
        buffer = self._buffer
        while len(buffer) >= _HEADER.size:
            _version, kind, _flags, doi, length, _seq = _HEADER.unpack_from(buffer)
            if length > 1 << 20:
                self._broken = True
                buffer.clear()
                return
            end = _HEADER.size + length + _TAG
            if len(buffer) < end:
                return
            counter = None
            if kind == MessageType.COUNTER_UPDATE and length >= 5:
                counter = buffer[_HEADER.size + 4]
            yield _label(kind, doi, counter)
            del buffer[:end]


def _statuses(observation: Observation, router: int) -> dict[tuple[str, int], str]:
    found: dict[tuple[str, int], str] = {}
    for sa in observation.routers[router].sas:
        found["ipsec", sa.sa_id] = sa.status + (" stale" if sa.stale else "")
    for ike in observation.routers[router].ike:
        found["ike", ike.ike_id] = ike.status + (" stale" if ike.stale else "")
    return found


def sa_transitions(before: Observation, after: Observation) -> list[str]:
    """One label per SA whose status on a router changed from ``before`` to ``after``."""
    labels = []
    for router in range(len(after.routers)):
        old, new = _statuses(before, router), _statuses(after, router)
        if old == new:
            continue
        for key in sorted(old.keys() | new.keys()):
            was, now = old.get(key, "none"), new.get(key, "none")
            if was != now:
                labels.append(f"{key[0]}: {was} -> {now}")
    return labels
