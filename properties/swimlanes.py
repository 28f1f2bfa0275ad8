"""A replayed trace drawn as swimlanes (``vpnha replay FILE --svg OUT``).

One lane per router and HSRP group (inside, outside) and one for its SSP device role;
each lane is split in two: the model on top, the implementation below, so a
divergence shows as two colours one above the other. Time runs left to right in
seconds; a dashed line marks every operation (its name at the top), a red line the
steps where an invariant broke or the two sides differed, with the first problem
written under the lanes. Matplotlib draws it (any format it knows, chosen by the
file name: ``.svg``, ``.png``, ``.pdf``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from .observation import Observation, RouterObs
from .trace import StepResult, TraceFile

__all__ = ["draw_swimlanes"]

STATE_COLOURS: Final[dict[str, str]] = {
    "Initial": "#d9d9d9",
    "Learn": "#c6dbef",
    "Listen": "#9ecae1",
    "Speak": "#fdd0a2",
    "Standby": "#6baed6",
    "Active": "#31a354",
    "ACTIVE": "#31a354",
    "STANDBY": "#6baed6",
    "NONE": "#d9d9d9",
    "DOWN": "#636363",
}
"""Fill colour per HSRP state and per SSP device role (DOWN: the router is off)."""

_LANES: Final = ("inside", "outside", "role")


def _lane_value(router: RouterObs, lane: str) -> str:
    if not router.up:
        return "DOWN"
    if lane == "inside":
        return router.inside.state
    if lane == "outside":
        return router.outside.state
    return router.role


def _segments(
    times: Sequence[float], observations: Sequence[Observation], router: int, lane: str
) -> list[tuple[float, float, str]]:
    """(start, end, value) runs of one lane over the replay."""
    runs: list[tuple[float, float, str]] = []
    for index, obs in enumerate(observations):
        start = times[index]
        end = times[index + 1] if index + 1 < len(times) else start + max(0.5, start * 0.02)
        value = _lane_value(obs.routers[router], lane)
        if runs and runs[-1][2] == value and runs[-1][1] == start:
            runs[-1] = (runs[-1][0], end, value)
        else:
            runs.append((start, end, value))
    return runs


def draw_swimlanes(trace: TraceFile, steps: Sequence[StepResult], target: str | Path) -> None:
    """Draw ``steps`` (a replay of ``trace``) to ``target``; the format follows its suffix."""
    # Matplotlib costs ~0.5 s to import: only a replay that draws pays for it.
    import matplotlib as mpl  # noqa: PLC0415

    mpl.use("Agg")
    mpl.rcParams["svg.fonttype"] = "none"  # text stays text: searchable, smaller
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.patches import Patch  # noqa: PLC0415

    if not steps:
        msg = "nothing to draw: the trace has no steps"
        raise ValueError(msg)
    times = [step.model.now_ms / 1000 for step in steps]
    names = [router.name for router in steps[0].model.routers]
    rows = [(router, lane) for router in (0, 1) for lane in _LANES]
    figure, axes = plt.subplots(figsize=(max(8.0, 1.1 * len(steps)), 1.0 + 0.55 * len(rows)))
    for row, (router, lane) in enumerate(rows):
        y = len(rows) - 1 - row
        for half, observations in (
            (0.5, [step.model for step in steps]),
            (0.1, [step.impl for step in steps]),
        ):
            for start, end, value in _segments(times, observations, router, lane):
                axes.broken_barh(
                    [(start, end - start)],
                    (y + half - 0.05, 0.4),
                    facecolors=STATE_COLOURS.get(value, "#ffffff"),
                    edgecolors="white",
                    linewidth=0.5,
                )
    axes.set_yticks([len(rows) - 1 - row + 0.5 for row in range(len(rows))])
    axes.set_yticklabels([f"{names[router]} {lane}\n(model / impl)" for router, lane in rows])
    axes.set_ylim(-0.6, len(rows) + 0.4)
    axes.set_xlabel("time (s)")
    first_problem: StepResult | None = None
    labels: dict[float, list[str]] = {}
    for step, at in zip(steps, times, strict=True):
        broken = bool(step.problems)
        axes.axvline(at, color="#d62728" if broken else "#bbbbbb", linestyle="-" if broken else ":")
        labels.setdefault(at, []).append(f"{step.index}:{type(step.operation).__name__}")
        if broken and first_problem is None:
            first_problem = step
    for at, texts in labels.items():  # operations at the same instant share one label
        axes.text(at, len(rows) + 0.05, ", ".join(texts), rotation=60, fontsize=7, va="bottom")
    if first_problem is not None:
        axes.text(
            times[0],
            -0.5,
            f"step {first_problem.index}: {first_problem.problems[0]}",
            color="#d62728",
            fontsize=8,
            va="center",
        )
    legend = ["Initial", "Learn", "Listen", "Speak", "Standby", "Active", "NONE", "DOWN"]
    axes.legend(
        handles=[Patch(facecolor=STATE_COLOURS[v], label=v) for v in legend],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=7,
    )
    title = trace.description.split(":")[0] if trace.description else "vpnha trace"
    axes.set_title(f"{title} (mutant: {trace.spec.mutant or 'none'})", fontsize=9, pad=40)
    figure.tight_layout()
    figure.savefig(target)
    plt.close(figure)
