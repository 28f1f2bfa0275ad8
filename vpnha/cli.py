"""The ``vpnha`` command line: wiring only, no protocol logic.

Commands (DESIGN §7; later issues add ``check``, ``gate``, ``prove``, ``replay``,
``lab``, ``router`` and ``show``):

- ``vpnha simulate [R1.cfg R2.cfg] [--side model|impl|both] [--rate PPS] [--json]
  [--pcap FILE --esp-keys FILE]``: the document's failover story on the model, on the
  implementation (its routers exchanging bytes in the simulated world), or on both
  with their timelines compared; a timeline with figures and the invariants checked;
  the implementation's packets as pcapng with the Wireshark ESP keys.
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
from vpnha.properties.capture import esp_keys, write_capture
from vpnha.properties.pcap import write_esp_keys
from vpnha.properties.scenarios import builtin_configs, cluster_params, load_pair
from vpnha.properties.simulate import (
    IMPL_RATE,
    MODEL_RATE,
    ImplCluster,
    ModelCluster,
    agreement,
    render_timeline,
    run_story,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
CAPTURE_EPOCH_MS = 1_700_000_000_000
"""Wall-clock instant (ms since 1970) that simulated time 0 is written as in a pcap."""


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
    simulate.add_argument(
        "--side",
        choices=("model", "impl", "both"),
        default=None,
        help="run the model (default), the implementation in the simulated world, or both "
        "and compare their timelines (default with --pcap: impl)",
    )
    simulate.add_argument(
        "--rate",
        type=int,
        default=None,
        metavar="PPS",
        help=f"packets per second each way (default {MODEL_RATE} on the model alone, "
        f"{IMPL_RATE} when the implementation runs)",
    )
    simulate.add_argument(
        "--pcap", metavar="FILE", help="write the implementation's packets as pcapng"
    )
    simulate.add_argument(
        "--esp-keys",
        metavar="FILE",
        help="write the ESP keys as a Wireshark esp_sa file (with --pcap)",
    )

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


def _simulate(args: argparse.Namespace) -> int:
    configs: Sequence[str] = args.configs
    if len(configs) not in (0, 2):
        print("vpnha simulate: give two configuration files or none", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.esp_keys and not args.pcap:
        print("vpnha simulate: --esp-keys needs --pcap", file=sys.stderr)
        return EXIT_BAD_INPUT
    side = args.side or ("impl" if args.pcap else "model")
    if args.pcap and side == "model":
        print(
            "vpnha simulate: --pcap records the implementation (--side impl or both)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    rate = args.rate or (MODEL_RATE if side == "model" else IMPL_RATE)
    try:
        pair = load_pair(configs[0], configs[1]) if configs else builtin_configs()
        params = cluster_params(*pair, jitter_ms=(37, 211, 5, 123))
        reports = []
        impl_cluster: ImplCluster | None = None
        if side in ("model", "both"):
            reports.append(run_story(ModelCluster(params), rate=rate))
        if side in ("impl", "both"):
            impl_cluster = ImplCluster(pair)
            reports.append(run_story(impl_cluster, rate=rate))
    except (ConfigError, ValueError, OSError) as error:
        print(f"vpnha simulate: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    disagreements = agreement(reports[0], reports[1]) if side == "both" else []
    written: dict[str, object] = {}
    if impl_cluster is not None and args.pcap:
        try:
            written["pcap_frames"] = write_capture(
                impl_cluster.world, args.pcap, epoch_ms=CAPTURE_EPOCH_MS
            )
            if args.esp_keys:
                keys = esp_keys(impl_cluster.world)
                write_esp_keys(args.esp_keys, keys)
                written["esp_sas"] = len(keys)
        except OSError as error:
            print(f"vpnha simulate: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
    ok = all(r.ok for r in reports) and not disagreements
    if args.json:
        out: dict[str, object] = {"ok": ok, "rate_pps": rate}
        summaries = {
            report.side: {
                "ok": report.ok,
                "observations_checked": report.checks,
                "figures": report.figures,
                "violations": [str(v) for v in report.violations],
            }
            for report in reports
        }
        if len(reports) == 1:
            out["side"] = reports[0].side
            out.update(summaries[reports[0].side])
        else:
            out.update(summaries)
        if side == "both":
            out["agreement"] = {"ok": not disagreements, "differences": disagreements}
        out.update(written)
        print(json.dumps(out, indent=2))
    else:
        for report in reports:
            if len(reports) > 1:
                print(f"=== {report.side} ===")
            print(render_timeline(report))
        if side == "both":
            print()
            if disagreements:
                print("Model and implementation DISAGREE:")
                print("\n".join(f"  ! {d}" for d in disagreements))
            else:
                print(
                    f"Model and implementation agree at all {len(reports[0].snapshots)} "
                    "snapshots (HSRP states, roles, SSP, SA statuses) and on the exact figures"
                )
        if written:
            print()
            print(f"wrote {written['pcap_frames']} frames to {args.pcap}", end="")
            if "esp_sas" in written:
                print(f" and {written['esp_sas']} ESP SAs to {args.esp_keys}", end="")
            print()
    return EXIT_OK if ok else EXIT_FAILED


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
        "simulate": lambda: _simulate(args),
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
