"""The router's SA database seen as the IKE engine's store of established IKE SAs.

The database (``vpnha.impl.sadb``) already keeps IKE SA records with what a standby
needs — cookies, SKEYID_d/a/e, the last phase-1 CBC block, DPD numbers, lifetime,
the peer's endpoint — and replicates them over SSP; on takeover it promotes the
copies and jumps DPD_OUT ahead like an ESP counter. This adapter only translates:
the engine names an SA by its cookies, the database by an id.

Only ACTIVE records are visible: a STANDBY router's copies are not for use until
it takes over, and a router that is not ACTIVE keeps no new SA.
"""

from __future__ import annotations

from ipaddress import IPv4Address

from vpnha.impl.errors import LocalProtocolError
from vpnha.impl.sadb import HaStatus, IkeSa, NewIkeSa, SaDatabase

__all__ = ["SadbIkeStore"]


class SadbIkeStore:
    """:class:`~vpnha.impl.ike.core.IkeSaStore` over a :class:`SaDatabase`."""

    def __init__(self, sadb: SaDatabase) -> None:
        self._sadb = sadb

    def _find(self, cookies: tuple[bytes, bytes]) -> IkeSa | None:
        for sa in self._sadb.ike_sas(HaStatus.ACTIVE):
            if sa.cookies == cookies:
                return sa
        return None

    def ike_by_cookies(self, cookies: tuple[bytes, bytes]) -> IkeSa | None:
        """The ACTIVE record with these cookies."""
        return self._find(cookies)

    def ike_for_peer(self, peer: IPv4Address) -> IkeSa | None:
        """The ACTIVE record for this peer that lives longest."""
        candidates = [sa for sa in self._sadb.ike_sas(HaStatus.ACTIVE) if sa.peer == peer]
        return max(candidates, key=lambda sa: sa.expiry_ms, default=None)

    def ike_sas_with(self, peer: IPv4Address) -> list[IkeSa]:
        """Every ACTIVE record for this peer."""
        return [sa for sa in self._sadb.ike_sas(HaStatus.ACTIVE) if sa.peer == peer]

    def add_ike(self, params: NewIkeSa, now: int) -> bool:
        """Install and replicate; False when this router is not ACTIVE."""
        if not self._sadb.is_active:
            return False
        try:
            self._sadb.add_ike_sa(params, now)
        except LocalProtocolError:
            return False
        return True

    def remove_ike(self, cookies: tuple[bytes, bytes], now: int) -> None:
        """Delete the record (the database replicates the delete and keeps a tombstone)."""
        sa = self._find(cookies)
        if sa is not None:
            self._sadb.delete_ike(sa.sa_id, now)

    def next_dpd_out(self, cookies: tuple[bytes, bytes], now: int) -> int | None:
        """The database's next own R-U-THERE number (None while held back)."""
        sa = self._find(cookies)
        return None if sa is None else self._sadb.next_dpd_out(sa.sa_id, now)

    def accept_dpd_in(self, cookies: tuple[bytes, bytes], seq: int, now: int) -> bool:
        """The database records the peer's number (False when it went back)."""
        sa = self._find(cookies)
        return sa is not None and self._sadb.accept_dpd_in(sa.sa_id, seq, now)

    def note_message_id(self, cookies: tuple[bytes, bytes], message_id: int, now: int) -> bool:
        """The database remembers and replicates the id (False: used before on this SA)."""
        sa = self._find(cookies)
        return sa is not None and self._sadb.note_message_id(sa.sa_id, message_id, now)

    def message_id_in_use(self, cookies: tuple[bytes, bytes], message_id: int) -> bool:
        """Whether the id is remembered on this SA (replicated copies included)."""
        sa = self._find(cookies)
        return sa is not None and message_id in sa.message_ids
