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
from typing import Any

from vpnha import __version__
from vpnha.impl.config import ConfigError
from vpnha.impl.config.lint import format_findings, lint_files
from vpnha.impl.dataplane import transform_of
from vpnha.impl.live.control import ControlError
from vpnha.impl.live.lab import LabError, LabOptions, run_lab
from vpnha.impl.live.process import run_router, show_text
from vpnha.impl.mutants import MUTANTS
from vpnha.properties.campaign import hsrp_cell_labels, hunt, hunt_parallel, open_database
from vpnha.properties.capture import esp_keys, write_capture
from vpnha.properties.coverage import ssp_kinds
from vpnha.properties.gate import run_gate
from vpnha.properties.lab import lab_checks, lab_figures, lab_json, render_lab
from vpnha.properties.pcap import EspKey, write_esp_keys
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
from vpnha.properties.swimlanes import draw_swimlanes
from vpnha.properties.trace import (
    load_trace,
    render_replay,
    replay,
    replay_pair,
    save_trace,
    verdict_matches,
)
from vpnha.properties.z3.registry import as_expected, render_table, run_proofs, to_json
from vpnha.properties.z3.split import split_line

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
        "--seed",
        type=int,
        default=None,
        help="Hypothesis seed: a reproducible search other than the default one",
    )
    check.add_argument(
        "--db",
        metavar="DIR|redis://HOST:PORT/N",
        default=".hypothesis/vpnha",
        help="example database of --random searches: failures found before are tried "
        "first (redis:// shares them between machines; 'none': no database)",
    )
    check.add_argument(
        "--workers",
        type=int,
        default=1,
        help="run that many campaigns in parallel processes (seeds 0, 1, … or from --seed; "
        "with --random, random searches sharing --db)",
    )
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
    replay_cmd.add_argument(
        "--svg", metavar="FILE", help="draw the replay as swimlanes (format from the suffix)"
    )
    replay_cmd.add_argument(
        "--pcap", metavar="FILE", help="write the implementation's packets as pcapng"
    )
    replay_cmd.add_argument(
        "--esp-keys", metavar="FILE", help="write the ESP keys as a Wireshark esp_sa file"
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
        "--mutant-examples",
        type=int,
        default=150,
        help="runs allowed to kill each seeded bug (150)",
    )
    gate.add_argument("--corpus", default="counterexamples", metavar="DIR")
    gate.add_argument("--json", action="store_true", help="print the summary as JSON")
    gate.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    gate.add_argument(
        "--workers",
        type=int,
        default=1,
        help="run the campaigns in that many processes (same verdicts, less wall time)",
    )
    _add_live_commands(sub)
    _add_prove_command(sub)
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
    if args.examples < 1 or args.steps < 1 or args.workers < 1:
        print("vpnha check: --examples, --steps and --workers must be at least 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        database = open_database(args.db) if args.random else None
    except ValueError as error:
        print(f"vpnha check: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.workers > 1:
        first_seed = None if args.random else (args.seed or 0)
        how = "random searches" if first_seed is None else f"seeds {first_seed}.."
        print(f"{args.workers} workers, {how}", file=sys.stderr)
        result = hunt_parallel(
            workers=args.workers,
            mutant=args.mutant,
            max_examples=args.examples,
            steps=args.steps,
            first_seed=first_seed,
            database_spec=args.db if args.random else None,
        )
    else:
        result = hunt(
            mutant=args.mutant,
            max_examples=args.examples,
            steps=args.steps,
            derandomize=not args.random,
            database=database,
            progress=_progress(args.examples),
            search_seed=args.seed,
        )
    if sys.stderr.isatty():
        print(file=sys.stderr)
    cells = result.cells_hit()
    total_cells = hsrp_cell_labels()
    kinds, total_kinds = result.ssp_kinds_hit(), ssp_kinds()
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
            "ssp_kinds_hit": len(kinds & total_kinds),
            "ssp_kinds_total": len(total_kinds),
            "ssp_kinds_not_sent": sorted(total_kinds - kinds),
            "sa_transitions": result.sa_transitions(),
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
        print(f"SSP message kinds sent: {len(kinds & total_kinds)}/{len(total_kinds)}")
        for label in sorted(total_kinds - kinds):
            print(f"  not sent: {label.removeprefix('ssp: ')}")
        transitions = result.sa_transitions()
        print(f"SA status transitions seen: {len(transitions)}")
        for label, count in transitions.items():
            print(f"  {count:>6}  {label}")
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
    if args.esp_keys and not args.pcap:
        print("vpnha replay: --esp-keys needs --pcap", file=sys.stderr)
        return EXIT_BAD_INPUT
    steps, pair = replay_pair(trace.spec, trace.operations)
    print(render_replay(trace, steps))
    matches = verdict_matches(trace, steps)
    print(f"as recorded: {'yes' if matches else 'NO'}")
    try:
        if args.svg:
            draw_swimlanes(trace, steps, args.svg)
            print(f"swimlanes: {args.svg}")
        if args.pcap:
            frames = write_capture(pair.world, args.pcap, epoch_ms=CAPTURE_EPOCH_MS)
            print(f"pcap: {args.pcap} ({frames} frames)")
            if args.esp_keys:
                write_esp_keys(args.esp_keys, esp_keys(pair.world))
                print(f"ESP keys: {args.esp_keys}")
    except (OSError, ValueError) as error:
        print(f"vpnha replay: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK if matches else EXIT_FAILED


def _gate(args: argparse.Namespace) -> int:
    report = run_gate(
        corpus=Path(args.corpus),
        examples=args.examples,
        steps=args.steps,
        mutant_examples=args.mutant_examples,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
        workers=args.workers,
    )
    if args.junit:
        Path(args.junit).write_text(report.junit_xml())
    if args.json:
        print(json.dumps(report.summary(), indent=2))
    else:
        print(report.text())
    return EXIT_OK if report.ok else EXIT_FAILED


def _add_prove_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    prove = sub.add_parser(
        "prove",
        help="prove the invariants with Z3 for every allowed parameter value",
        description=(
            "Run the Z3 encodings of properties/z3: inductive proofs of I1-I4 and I6-I8 "
            "for all priorities, addresses, timers and replay intervals, and the variants "
            "that must fail (e.g. I3-naive) with their counterexamples. Exit status 1 if "
            "any result is not the expected one (unknown never is)."
        ),
    )
    prove.add_argument("--json", action="store_true", help="print the results as JSON")
    prove.add_argument(
        "--all", action="store_true", help="also run the slow tier (bounded searches > 30 s)"
    )
    prove.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    prove.add_argument(
        "--traces",
        metavar="DIR",
        help="write counterexamples that have a concrete schedule as ITF traces in DIR "
        "(replayed on model and implementation: seconds; minutes with --all)",
    )


def _prove(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        print("vpnha prove: --jobs must be at least 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    started = time.monotonic()
    trace_dir = Path(args.traces) if args.traces else None
    results = run_proofs(not args.all, jobs=args.jobs, trace_dir=trace_dir)
    wall = time.monotonic() - started
    if args.json:
        print(json.dumps(to_json(results), indent=2))
    else:
        print(render_table(results, wall_seconds=wall))
    return EXIT_OK if all(as_expected(r) for r in results) else EXIT_FAILED


def _lint(configs: Sequence[str]) -> int:
    findings, status = lint_files(configs[0], configs[1])
    if findings:
        print(format_findings(findings))
    else:
        print(f"{configs[0]} and {configs[1]}: no findings")
    split = split_line(configs[0], configs[1]) if status != EXIT_BAD_INPUT else None
    if split is not None:
        print(split)
        status = max(status, EXIT_FAILED)
    return status


def _add_live_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``vpnha router``, ``vpnha show`` and ``vpnha lab`` (live routers, real sockets)."""
    router = sub.add_parser(
        "router",
        help="run one live router (HSRP, SSP, IKEv1, ESP in UDP 4500) with a control socket",
        description=(
            "Run the router of CONFIG on real sockets until SIGTERM or Ctrl-C: HSRP on UDP "
            "1985 to 224.0.0.2 on each interface (found by its configured address), SSP over "
            "TCP to the configured remote, IKEv1 on UDP 500/4500 and ESP in UDP 4500 from the "
            "outside virtual IP, the "
            "LAN side on a TUN device. `vpnha show` reads it through the control socket."
        ),
    )
    router.add_argument("config", metavar="CONFIG", help="the router's configuration")
    router.add_argument(
        "--control", metavar="PATH", help="control socket (default /tmp/vpnha-HOSTNAME.sock)"
    )
    router.add_argument(
        "--plan", metavar="FILE", help="live plan (JSON; default: netns mode, real interfaces)"
    )
    router.add_argument(
        "--wire-log", metavar="FILE", help="append the (SPI, seq) sent and accepted, as JSON lines"
    )
    router.add_argument(
        "--negotiate",
        action="store_true",
        help="start IKE (Main Mode, Quick Mode) for traffic that needs an SA; without it the "
        "router only answers the peer's IKE and asks for SAs (the lab's stand-in serves them)",
    )
    show_cmd = sub.add_parser(
        "show",
        help="run a show command on a live router",
        description="Render a show command (e.g. `standby brief`, `crypto ipsec sa`) from a "
        "running `vpnha router` through its control socket.",
    )
    show_cmd.add_argument(
        "router", metavar="ROUTER", help="hostname (socket /tmp/vpnha-NAME.sock) or socket path"
    )
    show_cmd.add_argument("words", nargs="+", metavar="WORD", help="the show command")
    lab = sub.add_parser(
        "lab",
        help="the document's topology live: traffic, SIGKILL of the active, figures",
        description=(
            "Build the document's two-router topology in network namespaces (loopback "
            "addresses when not root), start both routers, the remote peer and a LAN host "
            "as processes, establish an SA (stand-in IKE), send a sequenced UDP stream both "
            "ways, SIGKILL the active router, let the standby take over, replay captured "
            "packets, restart the old router (preempt), and print the figures and checks."
        ),
    )
    lab.add_argument("--json", action="store_true", help="print one JSON object")
    lab.add_argument(
        "--mode", choices=("auto", "netns", "loopback"), default="auto", help="default auto"
    )
    lab.add_argument("--rate", type=int, default=200, metavar="PPS", help="each way (200)")
    lab.add_argument("--phase", type=float, default=2.0, metavar="S", help="traffic per phase")
    lab.add_argument(
        "--standby-delay",
        nargs=2,
        type=int,
        default=(2, 4),
        metavar=("MIN", "RELOAD"),
        help="standby delay minimum/reload written into both configurations (2 4)",
    )
    lab.add_argument(
        "--preempt-sync",
        type=int,
        default=10,
        metavar="S",
        help="plain 'standby N preempt' becomes 'preempt delay minimum MIN sync S' (10; 0: as is)",
    )
    lab.add_argument("--ssp-cut", action="store_true", help="cut the SSP path before the crash")
    lab.add_argument("--pcap", metavar="DIR", help="capture both segments (netns mode)")
    lab.add_argument("--keep", action="store_true", help="keep the run folder (logs, configs)")
    lab.add_argument(
        "--peer",
        choices=("own", "strongswan"),
        default="own",
        help="the remote peer: the project's own ESP code with a stand-in key exchange "
        "(default), or an unmodified strongSwan charon speaking IKEv1 to the routers' own "
        "IKE (netns mode, needs the strongswan packages)",
    )
    lab.add_argument(
        "--dpd-delay", type=int, default=1, metavar="S", help="strongSwan's DPD interval (1)"
    )
    lab.add_argument(
        "--reauth",
        action="store_true",
        help="strongSwan: charon re-authenticates its IKE SA (a new Main Mode; the routers "
        "delete the old IKE SA) before the crash, after the takeover and after the preempt",
    )
    lab.add_argument(
        "--lifetime",
        type=int,
        metavar="S",
        help="strongSwan: the routers' IPsec SA lifetime (120-3600; charon's far longer): the "
        "active router rekeys by itself 30 s before the end and the crash follows at once; "
        "the router that took over sends the old pair's Delete at its end",
    )
    lab.add_argument(
        "--ike-lifetime",
        type=int,
        metavar="S",
        help="strongSwan with --lifetime: the routers' IKE SA lifetime (60 or more, ending "
        "before their rekey); 30 s before its end the active router replaces it with a new "
        "Main Mode and charon keeps its CHILD SAs",
    )
    lab.add_argument("configs", nargs="*", metavar="CONFIG", help="router 1 and router 2")


def _router(args: argparse.Namespace) -> int:
    return run_router(
        args.config,
        plan_path=args.plan,
        control=args.control,
        wire_log=args.wire_log,
        negotiate=args.negotiate,
    )


def _show(args: argparse.Namespace) -> int:
    try:
        print(show_text(args.router, " ".join(args.words)), end="")
    except ControlError as error:
        print(f"vpnha show: {error}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _write_lab_keys(path: Path, records: list[dict[str, Any]]) -> None:
    """The lab's SAs as Wireshark's ``esp_sa`` UAT file, next to the capture."""
    keys = []
    for record in records:
        transform = transform_of(tuple(record["transforms"]))
        if transform is None:
            continue
        keys.append(
            EspKey.for_transform(
                src=record["src"],
                dst=record["dst"],
                spi=int(record["spi"]),
                transform=transform,
                encryption_key=bytes.fromhex(record["encryption_key"]),
                integrity_key=bytes.fromhex(record["integrity_key"]),
            )
        )
    write_esp_keys(path, keys)


def _lab(args: argparse.Namespace) -> int:
    if len(args.configs) not in (0, 2):
        print("vpnha lab: give two configuration files or none", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        options = LabOptions(
            mode=args.mode,
            rate_pps=args.rate,
            phase_s=args.phase,
            standby_delay_s=tuple(args.standby_delay),
            preempt_sync_s=args.preempt_sync,
            ssp_cut=args.ssp_cut,
            configs=tuple(args.configs) if args.configs else None,
            pcap_dir=args.pcap,
            keep_dir=args.keep,
            peer=args.peer,
            dpd_delay_s=args.dpd_delay,
            reauth=args.reauth,
            lifetime_s=args.lifetime,
            ike_lifetime_s=args.ike_lifetime,
        )
        observation = run_lab(options, lambda line: print(f"  {line}", file=sys.stderr, flush=True))
    except (ConfigError, ValueError, OSError) as error:
        print(f"vpnha lab: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except LabError as error:
        print(f"vpnha lab: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("vpnha lab: interrupted; every process and namespace removed", file=sys.stderr)
        return 130
    if args.pcap and observation.esp_keys:
        _write_lab_keys(Path(args.pcap) / "esp_sa", observation.esp_keys)
        print(f"  ESP keys for Wireshark: {Path(args.pcap) / 'esp_sa'}", file=sys.stderr)
    figures = lab_figures(observation)
    checks = lab_checks(observation, figures)
    if args.json:
        print(json.dumps(lab_json(observation, figures, checks), indent=2))
    else:
        print(render_lab(observation, figures, checks))
    return EXIT_OK if all(check.ok for check in checks) else EXIT_FAILED


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
        "prove": lambda: _prove(args),
        "router": lambda: _router(args),
        "show": lambda: _show(args),
        "lab": lambda: _lab(args),
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
