"""``vpnha router`` and ``vpnha show``: one live router as a process, and its control client.

``run_router`` loads the configuration and the plan, runs a :class:`LiveRouter`
until SIGTERM, SIGINT or a ``stop`` request, and releases its virtual IPs on the
way out. ``show_text`` asks a running router's control socket for a ``show``
command's text.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final, TextIO

from vpnha.impl.config import ConfigError, load_config
from vpnha.impl.entropy import OsEntropy

from .control import ControlError, request
from .driver import LiveRouter, StartupError
from .netif import IpCommandError
from .plan import LivePlan, PlanError

__all__ = ["control_path_for", "run_router", "show_text"]

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_BAD_INPUT: Final = 2
RUN_DIR: Final = Path("/tmp")


def control_path_for(router: str) -> str:
    """The control socket of ``router``: a path as given, else ``/tmp/vpnha-<NAME>.sock``."""
    if "/" in router or router.endswith(".sock"):
        return router
    return str(RUN_DIR / f"vpnha-{router}.sock")


def run_router(
    config_path: str,
    *,
    plan_path: str | None = None,
    control: str | None = None,
    wire_log: str | None = None,
    negotiate: bool = False,
    err: TextIO = sys.stderr,
) -> int:
    """Run one router until it is told to stop; the process exit status."""
    try:
        config = load_config(config_path)
        plan = LivePlan.load(plan_path) if plan_path else LivePlan()
    except (ConfigError, PlanError) as error:
        print(f"vpnha router: {error}", file=err)
        return EXIT_BAD_INPUT
    control = control or control_path_for(config.hostname)
    live = LiveRouter(
        config,
        plan=plan,
        entropy=OsEntropy(),
        control_path=control,
        wire_log=wire_log,
        log=err,
        negotiate=negotiate,
    )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, live.stop)
        await live.run()

    try:
        asyncio.run(main())
    except (StartupError, IpCommandError, OSError) as error:
        print(f"vpnha router: {config.hostname}: {error}", file=err)
        return EXIT_FAILED
    return EXIT_OK


def show_text(router: str, command: str, *, timeout_s: float = 5.0) -> str:
    """The text of ``show COMMAND`` on a running router (raises ControlError).

    ``command`` may start with ``show`` or leave it out (``standby brief``).
    """
    words = command.split()
    if not words or words[0].lower() != "show":
        command = " ".join(["show", *words])
    answer = request(
        control_path_for(router), {"op": "show", "command": command}, timeout_s=timeout_s
    )
    return str(answer.get("text", ""))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m vpnha.impl.live.process CONFIG [...]``: ``vpnha router`` without the CLI.

    The same options as ``vpnha router``; it starts faster because it imports only the
    router (the lab restarts routers with it).
    """
    parser = argparse.ArgumentParser(prog="vpnha.impl.live.process")
    parser.add_argument("config")
    parser.add_argument("--control")
    parser.add_argument("--plan")
    parser.add_argument("--wire-log")
    parser.add_argument("--negotiate", action="store_true")
    args = parser.parse_args(argv)
    return run_router(
        args.config,
        plan_path=args.plan,
        control=args.control,
        wire_log=args.wire_log,
        negotiate=args.negotiate,
    )


__all__ += ["ControlError", "main"]

if __name__ == "__main__":
    sys.exit(main())
