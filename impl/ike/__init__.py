"""IKEv1 (RFC 2409) over ISAKMP (RFC 2408), sans-IO: the remote peer's protocol.

- ``wire``: the ISAKMP message codec; malformed input is an ``IkeDecodeError``
  with a counted reason.
- ``crypto``: the Oakley groups, prf, SKEYIDs, phase-1 keys and IVs, Quick Mode
  key material.
- ``policy``: what the configuration allows (``crypto isakmp policy``, transform
  sets, ``set pfs``, lifetimes, the crypto ACL's proxy identities).
- ``core``: :class:`~vpnha.impl.ike.core.IkeEngine`, Main Mode, Quick Mode and
  Informational (DPD, delete) as initiator and responder, with NAT traversal;
  established IKE SAs live in an :class:`~vpnha.impl.ike.core.IkeSaStore` (a
  router's replicated SA database), so a standby that takes over carries on.
"""

from __future__ import annotations
