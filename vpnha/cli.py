"""The ``vpnha`` command line: wiring only, no protocol logic.

Commands (DESIGN §7; later issues add ``check``, ``gate``, ``prove``, ``replay``,
``lab``, ``router`` and ``show``):

- ``vpnha simulate [R1.cfg R2.cfg] [--side model|impl|both] [--rate PPS] [--json]
  [--pcap FILE --esp-keys FILE]``: the document's failover story on the model, on the
  implementation (its routers exchanging bytes in the simulated world), or on both
  with their timelines compared; a timeline with figures and the invariants checked;
  the implementation's packets as pcapng with the Wireshark ESP keys.
- ``vpnha lint R1.cfg R2.cfg``: the document's warnings and restrictions as findings.
- ``vpnha check``: a lockstep campaign (model and implementation under the same
  Hypothesis-chosen operations) with progress, coverage and a summary; a failure
  is shrunk, saved as an ITF trace and shown as a timeline.
- ``vpnha replay FILE``: re-run a saved trace on both sides, step by step.
- ``vpnha gate``: the CI gate: the counterexample corpus, a derandomised campaign,
  every seeded bug killed; ``--json`` and ``--junit FILE`` for machines.

Exit status: 0 success, 1 an invariant violated or an error finding, 2 bad input
(unreadable or invalid configuration, bad arguments).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from vpnha import __version__
from vpnha.impl.config import ConfigError
from vpnha.impl.config.lint import format_findings, lint_files
from vpnha.impl.mutants import MUTANTS
from vpnha.properties.campaign import hsrp_cell_labels, hunt
from vpnha.properties.capture import esp_keys, write_capture
from vpnha.properties.gate import run_gate
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
from vpnha.properties.trace import (
    load_trace,
    render_replay,
    replay,
    save_trace,
    verdict_matches,
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

    check = sub.add_parser(
        "check",
        help="run a lockstep campaign: model and implementation under the same operations",
        description=(
            "Hypothesis drives the document's two routers through crashes, restarts, "
            "interface flaps, SA negotiation, traffic both ways and replayed packets, on the "
            "model and on the implementation at once; after every step it checks I1-I10 on "
            "both and that they agree. A failure is shrunk and saved as an ITF trace."
        ),
    )
    check.add_argument("--examples", type=int, default=100, help="runs to try (default 100)")
    check.add_argument("--steps", type=int, default=40, help="steps per run (default 40)")
    check.add_argument(
        "--random", action="store_true", help="not derandomised: a new search every time"
    )
    check.add_argument("--mutant", choices=sorted(MUTANTS), help="switch a seeded bug on")
    check.add_argument(
        "--save", metavar="DIR", default="counterexamples", help="where a failure is saved"
    )
    check.add_argument("--json", action="store_true", help="print the summary as JSON")

    replay_cmd = sub.add_parser(
        "replay",
        help="re-run a saved counterexample on the model and the implementation",
        description="Replay an ITF trace from counterexamples/ and print both sides' timeline.",
    )
    replay_cmd.add_argument("file", metavar="FILE", help="an *.itf.json trace")
    replay_cmd.add_argument(
        "--clean", action="store_true", help="replay without the trace's seeded bug"
    )

    gate = sub.add_parser(
        "gate",
        help="the CI gate: corpus, campaign, every seeded bug killed",
        description=(
            "Replay every trace in counterexamples/, run a derandomised lockstep campaign on "
            "the clean implementation, and run a campaign per seeded bug (each must be "
            "killed). Exit status 1 on any failure."
        ),
    )
    gate.add_argument("--examples", type=int, default=60, help="campaign runs (default 60)")
    gate.add_argument("--steps", type=int, default=30, help="steps per run (default 30)")
    gate.add_argument(
        "--mutant-examples", type=int, default=60, help="runs allowed to kill each seeded bug"
    )
    gate.add_argument("--corpus", default="counterexamples", metavar="DIR")
    gate.add_argument("--json", action="store_true", help="print the summary as JSON")
    gate.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
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


def _progress(total: int) -> Callable[[int, int], None]:
    started = time.monotonic()

    def show(examples: int, steps: int) -> None:
        if not sys.stderr.isatty():
            return
        rate = steps / max(1e-9, time.monotonic() - started)
        print(
            f"\r  {examples}/{total} runs, {steps} steps, {rate:.0f} steps/s",
            end="",
            file=sys.stderr,
            flush=True,
        )

    return show


def _check(args: argparse.Namespace) -> int:
    if args.examples < 1 or args.steps < 1:
        print("vpnha check: --examples and --steps must be at least 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    result = hunt(
        mutant=args.mutant,
        max_examples=args.examples,
        steps=args.steps,
        derandomize=not args.random,
        progress=_progress(args.examples),
    )
    if sys.stderr.isatty():
        print(file=sys.stderr)
    cells = result.cells_hit()
    total_cells = hsrp_cell_labels()
    saved = None
    if result.trace is not None:
        folder = Path(args.save)
        folder.mkdir(parents=True, exist_ok=True)
        name = (args.mutant or "lockstep") + f"-{int(time.time())}.itf.json"
        saved = folder / name
        save_trace(saved, result.trace)
    summary = {
        "ok": result.trace is None,
        "mutant": args.mutant,
        "runs": result.examples,
        "steps": result.steps,
        "seconds": round(result.seconds, 2),
        "steps_per_second": round(result.steps_per_second, 1),
        "coverage": {
            "hsrp_cells_hit": len(cells & total_cells),
            "hsrp_cells_total": len(total_cells),
            "operations": {
                k.removeprefix("op: "): v
                for k, v in sorted((result.coverage or {}).items())
                if k.startswith("op: ")
            },
        },
        "failure": result.trace.failure if result.trace else None,
        "trace": str(saved) if saved else None,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"{result.examples} runs, {result.steps} lockstep steps in {result.seconds:.1f} s "
            f"({result.steps_per_second:.0f} steps/s)"
        )
        print(f"RFC 2281 cells taken: {len(cells & total_cells)}/{len(total_cells)}")
        for label in sorted(total_cells - cells):
            print(f"  not taken: {label}")
        if result.trace is None:
            print("no invariant broken; model and implementation agreed at every step")
        else:
            steps = replay(result.trace.spec, result.trace.operations, stop_at_failure=True)
            print(render_replay(result.trace, steps))
            print(
                f"shrunk from {result.found_length} to {len(result.trace.operations)} steps "
                f"in {result.shrink_seconds:.1f} s; saved as {saved}"
            )
    return EXIT_OK if result.trace is None else EXIT_FAILED


def _replay(args: argparse.Namespace) -> int:
    try:
        trace = load_trace(args.file)
    except (OSError, ValueError, KeyError) as error:
        print(f"vpnha replay: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.clean:
        trace.spec = dataclasses.replace(trace.spec, mutant=None)
        trace.expect, trace.failure = "pass", ""
    steps = replay(trace.spec, trace.operations)
    print(render_replay(trace, steps))
    matches = verdict_matches(trace, steps)
    print(f"as recorded: {'yes' if matches else 'NO'}")
    return EXIT_OK if matches else EXIT_FAILED


def _gate(args: argparse.Namespace) -> int:
    report = run_gate(
        corpus=Path(args.corpus),
        examples=args.examples,
        steps=args.steps,
        mutant_examples=args.mutant_examples,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    if args.junit:
        Path(args.junit).write_text(report.junit_xml())
    if args.json:
        print(json.dumps(report.summary(), indent=2))
    else:
        print(report.text())
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
        "simulate": lambda: _simulate(args),
        "check": lambda: _check(args),
        "replay": lambda: _replay(args),
        "gate": lambda: _gate(args),
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
