"""The ``vpnha`` command line: wiring only, no protocol logic.

Commands (DESIGN §7; later issues add ``check``, ``gate``, ``prove``, ``replay``,
``lab``, ``router`` and ``show``):

- ``vpnha simulate [R1.cfg R2.cfg] [--json]``: the model through the document's
  failover story, as a timeline with figures and the invariants checked.
- ``vpnha lint R1.cfg R2.cfg``: the document's warnings and restrictions as findings.

Exit status: 0 success, 1 an invariant violated or an error finding, 2 bad input
(unreadable or invalid configuration, bad arguments).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from vpnha import __version__
from vpnha.impl.config import ConfigError
from vpnha.impl.config.lint import format_findings, lint_files
from vpnha.properties.scenarios import builtin_configs, cluster_params, load_pair
from vpnha.properties.simulate import render_timeline, run_failover_story

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vpnha",
        description="IPsec stateful failover (HSRP + SSP): model, implementation, conformance.",
    )
    parser.add_argument("--version", action="version", version=f"vpnha {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    simulate = sub.add_parser(
        "simulate",
        help="run the model through the document's failover story and print a timeline",
        description=(
            "Boot two routers (default: the product document's Example 1 and 2), let them "
            "elect, negotiate an SA, send traffic both ways, crash the active router, let "
            "the standby take over, replay a captured packet, restart the old active and "
            "let it preempt. Every step is checked against invariants I1-I10."
        ),
    )
    simulate.add_argument("configs", nargs="*", metavar="CONFIG", help="router 1 and router 2")
    simulate.add_argument("--json", action="store_true", help="print figures and verdicts as JSON")

    lint = sub.add_parser(
        "lint",
        help="check a router pair against the document's HA requirements",
        description=(
            "Report unequal standby priorities, groups that do not track each other, "
            "inconsistent inside/outside address ordering (the black-hole split), "
            "security policy that differs, IKE keepalives, and transforms the card "
            "cannot run."
        ),
    )
    lint.add_argument("configs", nargs=2, metavar="CONFIG", help="router 1 and router 2")
    return parser


def _simulate(configs: Sequence[str], as_json: bool) -> int:
    if len(configs) not in (0, 2):
        print("vpnha simulate: give two configuration files or none", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        pair = load_pair(configs[0], configs[1]) if configs else builtin_configs()
        params = cluster_params(*pair, jitter_ms=(37, 211, 5, 123))
    except (ConfigError, ValueError, OSError) as error:
        print(f"vpnha simulate: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    report = run_failover_story(params)
    if as_json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "observations_checked": report.checks,
                    "figures": report.figures,
                    "violations": [str(v) for v in report.violations],
                },
                indent=2,
            )
        )
    else:
        print(render_timeline(report))
    return EXIT_OK if report.ok else EXIT_FAILED


def _lint(configs: Sequence[str]) -> int:
    findings, status = lint_files(configs[0], configs[1])
    if findings:
        print(format_findings(findings))
    else:
        print(f"{configs[0]} and {configs[1]}: no findings")
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    commands = {
        "simulate": lambda: _simulate(args.configs, args.json),
        "lint": lambda: _lint(args.configs),
    }
    try:
        return commands[args.command]()
    except BrokenPipeError:
        # The reader went away (``vpnha lint … | head``): not an error of ours; keep the
        # interpreter from complaining when it flushes stdout on exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
