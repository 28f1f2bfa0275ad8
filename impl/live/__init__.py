"""Live routers: asyncio drivers around the sans-IO cores, on real sockets (DESIGN §3).

- :mod:`.driver`: :class:`LiveRouter`, one :class:`~vpnha.impl.router.Router` on HSRP
  (UDP 1985), SSP (TCP), IKE (UDP 500, and 4500 after NAT traversal), ESP in UDP
  4500, the LAN side (TUN or UDP) and its virtual IPs; the only place besides the
  other modules here that reads a clock.
- :mod:`.plan`: netns mode (real interfaces) or loopback mode (127/8, no root).
- :mod:`.control`: the Unix-socket control protocol (``vpnha show``, the lab).
- :mod:`.process`: ``vpnha router`` and ``vpnha show``.
- :mod:`.standin_ike`: the stand-in key exchange of ``vpnha lab``'s own peer.
- :mod:`.strongswan`: an unmodified strongSwan charon as the remote peer (its
  configuration from the routers', the process in a namespace, its log read).
- :mod:`.hosts`: the remote IPsec peer (the implementation's own ESP code) and the
  LAN host, as processes.
- :mod:`.lab`: ``vpnha lab``, the document's topology in network namespaces
  (``--peer strongswan``: with charon as the remote peer).

The sans-IO rule (no ``asyncio``, ``socket``, ``time``) does not apply here; the
``now`` every core receives is read in :mod:`.clock` only.
"""

from __future__ import annotations

from .clock import LiveClock
from .driver import LiveRouter, StartupError
from .plan import LivePlan, PlanError

__all__ = ["LiveClock", "LivePlan", "LiveRouter", "PlanError", "StartupError"]
