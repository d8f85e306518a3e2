"""The report of a sweep: results table, figures and conclusions computed from the stored results.

:func:`write_report` reads the study store and the run folders only, so it can be run at
any time, on a half-finished sweep too, and writes into the sweep folder:

* ``results.csv``: one row per configuration and seed (see :func:`~pointseg.sweep.collect_results`);
* ``report.md`` and ``report.html`` (self-contained, figures embedded): the table in the
  classic form (one row per configuration, mean and spread over seeds, diverged and failed
  runs marked), a heatmap of mIoU over learning rate and batch size, learning curves,
  prediction panels of the best configuration, and conclusions; with a ``points`` axis
  that includes ``full``, the label-budget table and figure (mIoU against labelled pixels,
  one line per method, each value also as a share of full supervision);
* ``figures/``: the figures as PNG files.

Every sentence of the conclusions is computed from the numbers (:func:`conclusions`).

Example:
    >>> rows = [{"lr": 0.001, "seed": 0, "status": "done", "miou": 0.6}, {"lr": 0.01, "seed": 0, "status": "done", "miou": 0.5}]
    >>> [c.miou for c in summarise(rows, ["lr"])]
    [0.6, 0.5]
"""

from __future__ import annotations

import base64
import csv
import html
import json
import math
import statistics
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from pointseg.config import FULL, TrainConfig
from pointseg.errors import ConfigError, PointsegError, PointsegWarning
from pointseg.figures import pyplot
from pointseg.sweep import SweepSpec, collect_results, grid_key, points_key, value_order

_METRICS = ("train_loss", "val_loss", "val_accuracy", "miou", "kappa")


@dataclass
class Configuration:
    """One configuration's results over its seeds.

    Attributes:
        params: The axis values (without the seed).
        statuses: Status of each seed's run.
        values: Metric name -> values of the finished (``done``) runs.
        steps: Steps at which runs diverged.
        last_losses: Last training loss of the runs that did not finish.
    """

    params: dict[str, Any]
    statuses: list[str] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)
    steps: list[int] = field(default_factory=list)
    last_losses: list[float] = field(default_factory=list)

    def mean(self, metric: str) -> float | None:
        """Mean of a metric over the finished runs, None if there is none."""
        values = self.values.get(metric, [])
        return statistics.mean(values) if values else None

    def spread(self, metric: str) -> float | None:
        """Sample standard deviation of a metric over finished runs (None below two runs)."""
        values = self.values.get(metric, [])
        return statistics.stdev(values) if len(values) > 1 else None

    @property
    def miou(self) -> float | None:
        """Mean mIoU over finished runs."""
        return self.mean("miou")

    @property
    def finished(self) -> int:
        """Number of runs with an mIoU."""
        return len(self.values.get("miou", []))

    @property
    def status(self) -> str:
        """``done`` if every seed finished, else the statuses counted, e.g. ``diverged (2/2)``."""
        if all(s == "done" for s in self.statuses):
            return "done"
        counts = {s: self.statuses.count(s) for s in dict.fromkeys(self.statuses) if s != "done"}
        return ", ".join(f"{s} ({n}/{len(self.statuses)})" for s, n in counts.items())

    @property
    def label(self) -> str:
        """The parameters in words, e.g. ``lr=0.001, batch_size=16``."""
        return ", ".join(f"{k}={v}" for k, v in self.params.items())


NOT_RUN = "not run"
"""The status of a configuration's seed that has no outcome yet (a sweep stopped half-way)."""


def summarise(
    rows: Sequence[dict[str, Any]], axes: Sequence[str], seeds: int = 1, grid: Sequence[Mapping[str, Any]] = ()
) -> list[Configuration]:
    """Group result rows by configuration (all axes but the seed), in grid order.

    A configuration with fewer rows than ``seeds`` counts its missing seeds as ``not run``; so
    does every configuration of ``grid`` (:meth:`~pointseg.sweep.SweepSpec.configurations`)
    without a row, so that a half-finished sweep shows what it has not run yet.
    """
    groups: dict[tuple, Configuration] = {}

    def group_of(values: Mapping[str, Any]) -> Configuration:
        params = {name: values.get(name) for name in axes}
        return groups.setdefault(tuple(str(v) for v in params.values()), Configuration(params))

    for params in grid:
        group_of(params)
    for row in rows:
        group = group_of(row)
        group.statuses.append(row["status"])
        if row["status"] == "done":
            for metric in [*_METRICS, *(k for k in row if k.startswith("iou_"))]:
                if row.get(metric) is not None:
                    group.values.setdefault(metric, []).append(float(row[metric]))
            continue
        if row.get("train_loss") is not None:
            group.last_losses.append(float(row["train_loss"]))
        if row["status"] == "diverged" and row.get("step") is not None:
            group.steps.append(int(row["step"]))
    for group in groups.values():
        group.statuses += [NOT_RUN] * (seeds - len(group.statuses))
    return sorted(groups.values(), key=lambda c: grid_key(c.params, axes))


def _fmt(value: float | None, spread: float | None = None) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if spread is None else f"{value:.4f} ± {spread:.4f}"


def _ranked(configs: Sequence[Configuration]) -> list[Configuration]:
    """Configurations with a finished run, best mean mIoU first."""
    return sorted((c for c in configs if c.miou is not None), key=lambda c: -c.miou)  # type: ignore[operator]


def _runs(config: Configuration) -> str:
    total = len(config.statuses)
    return f"{config.finished} run{'s' * (config.finished != 1)}" + (f" of {total} finished" if config.finished < total else "")


def _best_line(finished: Sequence[Configuration], unfinished: int = 0) -> str:
    """The best configuration and whether its margin exceeds twice the standard error of the difference.

    With ``unfinished`` configurations left without result, it is the best of those with one.
    """
    best = finished[0]
    head = f"Best of the {len(finished)} configurations with a result" if unfinished else "Best configuration"
    line = f"{head}: {best.label} with mIoU {best.miou:.4f} ({_runs(best)})."
    if len(finished) == 1:
        return line
    second = finished[1]
    margin = best.miou - second.miou  # type: ignore[operator]
    line += f" Its margin over the next best ({second.label}, {second.miou:.4f}) is {margin:.4f}"
    spreads = [best.spread("miou"), second.spread("miou")]
    if None in spreads:
        return line + "; with a single finished run on one side the spread across seeds is unknown, so the margin may be noise."
    error = math.sqrt(spreads[0] ** 2 / best.finished + spreads[1] ** 2 / second.finished)  # type: ignore[operator]
    if margin > 2 * error:
        return line + f", more than twice the standard error of the difference ({error:.4f}): the ranking holds."
    return (
        line
        + f", within twice the standard error of the difference ({error:.4f}): the two are not distinguishable with these seeds."
    )


def _axis_line(axis: str, configs: Sequence[Configuration]) -> str | None:
    """Mean mIoU at each value of one axis, over the settings of the other axes where every value has a result.

    A value is never compared over other settings than the rest: were a configuration to
    diverge where the others score low, its value would otherwise look the better for it. A
    value without any result (diverged everywhere) is named and left out of the comparison.
    """
    values = sorted({c.params[axis] for c in configs}, key=value_order)
    cells: dict[tuple, dict[Any, float | None]] = {}  # the other axes' setting -> this axis's value -> mIoU
    for config in configs:
        other = tuple(sorted((k, v) for k, v in config.params.items() if k != axis))
        cells.setdefault(other, {})[config.params[axis]] = config.miou
    scored = [v for v in values if any(cell.get(v) is not None for cell in cells.values())]
    if len(scored) < 2:
        return None
    matched = {other: cell for other, cell in cells.items() if all(cell.get(v) is not None for v in scored)}
    name = {"lr": "Learning rate", "batch_size": "Batch size"}.get(axis, axis)
    unscored = "".join(f"; {axis}={v} has no result" for v in values if v not in scored)
    if not matched:
        return f"{name}: no setting of the other axes has a result at every value of {axis}: not compared{unscored}."
    means = {v: statistics.mean(cell[v] for cell in matched.values()) for v in scored}  # type: ignore[misc]
    parts = ", ".join(f"{mean:.4f} at {axis}={value}" for value, mean in means.items())
    note = ""
    if len(matched) < len(cells):
        settings = [", ".join(f"{k}={v}" for k, v in other) for other in matched]
        where = f"at {' and '.join(settings)} only" if len(settings) <= 2 else f"over {len(matched)} of {len(cells)} settings"
        note = f" (compared where every value has a result: {where})"
    top = max(means, key=means.__getitem__)
    gain = means[top] - min(means.values())
    text = f"{name}: mean mIoU {parts}{note}; the best value is {axis}={top} (+{gain:.4f} over the worst){unscored}"
    if all(isinstance(v, int | float) for v in scored) and len(scored) > 2:
        steps = [means[b] - means[a] for a, b in zip(scored, scored[1:])]
        if all(d > 0 for d in steps):
            text += f"; mIoU rises with {axis}"
        elif all(d < 0 for d in steps):
            text += f"; mIoU falls as {axis} grows"
    return text + "."


def _failure_lines(configs: Sequence[Configuration]) -> list[str]:
    lines = []
    for status in ("diverged", "failed"):
        parts = []
        for c in (c for c in configs if status in c.statuses):
            at = f", at step {', '.join(map(str, c.steps))}" if status == "diverged" and c.steps else ""
            parts.append(f"{c.label} ({c.statuses.count(status)} of {len(c.statuses)} seeds{at})")
        if parts:
            lines.append(f"{status.capitalize()}: " + "; ".join(parts) + ".")
    return lines or ["No configuration diverged or failed."]


def conclusions(configs: Sequence[Configuration]) -> list[str]:
    """Findings computed from the results, one sentence each.

    The best configuration and whether its margin over the next best exceeds twice the
    standard error of the difference (from the spread across seeds); the mean mIoU at each
    value of each axis over the settings of the other axes where every value has a result
    (in a label-budget sweep, the methods over the point budgets only: full masks are
    trained with one method), with any monotonic trend and how many settings were compared;
    which configurations diverged or failed, and when.
    """
    finished = _ranked(configs)
    if not finished and any("done" in c.statuses for c in configs):  # trained, but no validation image to score them on
        return ["No configuration has an mIoU (no validation image): there is nothing to compare.", *_failure_lines(configs)]
    if not finished:
        return ["No configuration has finished yet: there is nothing to conclude.", *_failure_lines(configs)]
    budgets = [c for c in configs if str(c.params.get("points")) != FULL]
    axis_lines = (_axis_line(axis, configs if axis == "points" else budgets) for axis in finished[0].params)
    unfinished = len(configs) - len(finished)
    return [_best_line(finished, unfinished), *(line for line in axis_lines if line), *_failure_lines(configs)]


def table_rows(configs: Sequence[Configuration]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the classic table: axes, losses, accuracy, mIoU, kappa, per-class IoU, status."""
    axes = list(configs[0].params) if configs else []
    classes = list(dict.fromkeys(k for c in configs for k in c.values if k.startswith("iou_")))
    header = [
        *axes,
        "training loss",
        "validation loss",
        "validation accuracy",
        "mIoU",
        "kappa",
        *(k[4:] for k in classes),
        "status",
    ]
    rows = []
    for config in configs:
        cells = [str(config.params[a]) for a in axes]
        cells += [_fmt(config.mean(m), config.spread(m)) for m in _METRICS]
        if config.mean("train_loss") is None and config.last_losses:  # how far the unfinished runs got
            cells[len(axes)] = f"{statistics.mean(config.last_losses):.4g} (last)"
        cells += [_fmt(config.mean(k)) for k in classes]
        rows.append([*cells, config.status])
    return header, rows


def results_table(rows: Sequence[dict[str, Any]]) -> Table:
    """A rich table of result rows (one per configuration and seed), for the terminal."""
    table = Table(title="sweep results")
    keys = [k for k in (rows[0] if rows else {}) if k not in {"message", "run", "step"} and not k.startswith("iou_")]
    for key in keys:
        table.add_column(key, justify="right")
    for row in rows:
        table.add_row(*(f"{v:.4f}" if isinstance(v, float) else str(v) for v in (row.get(k) for k in keys)))
    return table


def point_counts(sweep_dir: Path, spec: SweepSpec, configs: Sequence[Configuration]) -> dict[str, int]:
    """Labelled training pixels of each configuration (by :attr:`Configuration.label`), from the point sets the sweep drew."""
    lines_in: dict[Path, int] = {}  # each point set counted once, however many configurations share it
    counts = {}
    for config in configs:
        options = {**spec.base, **config.params}
        points = sweep_dir / "points" / points_key(options) / "points.csv"
        if options.get("points") != FULL and points.is_file():
            if points not in lines_in:
                with points.open() as handle:
                    lines_in[points] = sum(1 for _ in handle) - 1
            counts[config.label] = lines_in[points]
    return counts


def _budget_lines(configs: Sequence[Configuration], counts: dict[str, int]) -> tuple[dict[str, list], dict[str, float]] | None:
    """Per line (the configuration without its ``points``): ``(labelled pixels, config)`` by budget, and its full-mask mIoU.

    A sweep whose only axis is ``points`` has one line, labelled ``""``.

    None unless the sweep has a ``points`` axis with a ``full`` value and a budget with a count.
    """
    if not configs or "points" not in configs[0].params:
        return None
    lines: dict[str, list[tuple[int, Configuration]]] = {}
    references: dict[str, float] = {}
    for config in configs:
        others = {k: v for k, v in config.params.items() if k != "points"}
        if str(config.params["points"]) == FULL:
            if config.miou is not None:  # the reference of every method with the same other options
                references[", ".join(f"{k}={v}" for k, v in others.items() if k != "method")] = config.miou
        elif config.label in counts:
            label = ", ".join(f"{k}={v}" for k, v in others.items())
            lines.setdefault(label, []).append((counts[config.label], config))
    if not references or not lines:
        return None
    return {label: sorted(line, key=lambda item: item[0]) for label, line in lines.items()}, references


def _reference(label: str, references: dict[str, float]) -> float | None:
    """The full-mask mIoU of a budget line: the full run with its options but the method."""
    return references.get(", ".join(part for part in label.split(", ") if not part.startswith("method=")))


def budget_rows(configs: Sequence[Configuration], counts: dict[str, int]) -> tuple[list[str], list[list[str]]] | None:
    """The label-budget table: one row per method (and other options), mIoU and its share of full masks at each budget.

    None unless the sweep has a ``points`` axis with a ``full`` value.
    """
    if (budget := _budget_lines(configs, counts)) is None:
        return None
    lines, references = budget
    budgets = sorted({pixels for line in lines.values() for pixels, _ in line})
    rows = []
    for label, line in lines.items():
        reference = _reference(label, references)
        by_budget = {pixels: config.miou for pixels, config in line}
        cells = []
        for pixels in budgets:
            miou = by_budget.get(pixels)
            share = f" ({100 * miou / reference:.0f} %)" if miou is not None and reference else ""
            cells.append("-" if miou is None else f"{miou:.4f}{share}")
        rows.append([label or "points", *cells, _fmt(reference)])
    return ["", *(f"{pixels:,} labelled pixels" for pixels in budgets), "full masks"], rows


def budget_findings(configs: Sequence[Configuration], counts: dict[str, int]) -> list[str]:
    """At each label budget, the best line and its share of full supervision, one sentence each."""
    if (budget := _budget_lines(configs, counts)) is None:
        return []
    lines, references = budget
    found = []
    for pixels in sorted({pixels for line in lines.values() for pixels, _ in line}):
        scored = [
            (config.miou, label) for label, line in lines.items() for p, config in line if p == pixels and config.miou is not None
        ]
        if scored:
            miou, label = max(scored)
            reference = _reference(label, references)
            share = f", {100 * miou / reference:.1f} % of full masks ({reference:.4f})" if reference else ""
            best = f" the best is {label}" if len(lines) > 1 else ""
            found.append(f"With {pixels:,} labelled pixels{best}: mIoU {miou:.4f}{share}.")
    return found


def budget_figure(configs: Sequence[Configuration], counts: dict[str, int], path: Path) -> Path | None:
    """mIoU against labelled training pixels (log axis), one line per method; full masks as horizontal lines.

    None unless the sweep has a ``points`` axis with a ``full`` value.
    """
    if (budget := _budget_lines(configs, counts)) is None:
        return None
    lines, references = budget
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, line in lines.items():
        done = [(pixels, config.miou) for pixels, config in line if config.miou is not None]
        if done:
            ax.plot(*zip(*done), marker="o", label=label or "points")
    for label, miou in references.items():
        ax.axhline(miou, color="black", linestyle="--", linewidth=1, label=f"full masks {label}".strip())
    ax.set_xscale("log")
    ax.set_xlabel("labelled training pixels")
    ax.set_ylabel("validation mIoU (mean over seeds)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def heatmap_figure(configs: Sequence[Configuration], path: Path) -> Path | None:
    """mIoU over learning rate (rows) and batch size (columns); None without both axes.

    A cell without a finished run (diverged, failed or not run yet) is grey; where other axes vary too,
    a cell shows the best of its configurations.
    """
    if not configs or not {"lr", "batch_size"} <= set(configs[0].params):
        return None
    import numpy as np

    plt = pyplot()
    lrs = sorted({c.params["lr"] for c in configs})
    sizes = sorted({c.params["batch_size"] for c in configs})
    grid = np.full((len(lrs), len(sizes)), np.nan)
    missing: dict[tuple[int, int], str] = {}
    for c in configs:
        i, j = lrs.index(c.params["lr"]), sizes.index(c.params["batch_size"])
        if c.miou is not None:
            grid[i, j] = np.fmax(grid[i, j], c.miou)
        if "diverged" in c.statuses or "failed" in c.statuses:
            missing[i, j] = "diverged" if "diverged" in c.statuses else missing.get((i, j), "failed")
    fig, ax = plt.subplots(figsize=(1.6 * len(sizes) + 2.5, 1.1 * len(lrs) + 1.6))
    cmap = plt.get_cmap("viridis").copy()
    cmap.set_bad("lightgrey")
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap)
    middle = np.nanmean(grid) if not np.isnan(grid).all() else 0.0
    for (i, j), value in np.ndenumerate(grid):
        text, colour = (
            (missing.get((i, j), "not run"), "black")
            if np.isnan(value)
            else (f"{value:.3f}", "black" if value >= middle else "white")
        )
        ax.text(j, i, text, ha="center", va="center", color=colour)
    ax.set_xticks(range(len(sizes)), [str(s) for s in sizes])
    ax.set_yticks(range(len(lrs)), [str(lr) for lr in lrs])
    ax.set_xlabel("batch size")
    ax.set_ylabel("learning rate")
    ax.set_title("validation mIoU (mean over seeds)")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _curves(run: Path) -> dict[str, dict[int, float]]:
    """Per-epoch train loss, validation loss and mIoU of a run's metrics.csv."""
    curves: dict[str, dict[int, float]] = {"train_loss_epoch": {}, "val_loss": {}, "val_miou": {}}
    path = run / "metrics.csv"
    if path.exists():
        with path.open() as handle:
            for row in csv.DictReader(handle):
                for name, curve in curves.items():
                    if row.get(name):
                        curve[int(row["epoch"])] = float(row[name])
    return curves


def curves_figure(rows: Sequence[dict[str, Any]], axes: Sequence[str], sweep_dir: Path, path: Path) -> Path:
    """Training loss, validation loss and validation mIoU per epoch, one line per configuration (mean over seeds)."""
    plt = pyplot()
    fig, panels = plt.subplots(1, 3, figsize=(16, 4.5))
    grouped: dict[str, list[dict[str, dict[int, float]]]] = {}
    for row in rows:
        label = ", ".join(f"{a}={row.get(a)}" for a in axes)
        grouped.setdefault(label, []).append(_curves(sweep_dir / row["run"]))
    for label, runs in grouped.items():
        for panel, name in zip(panels, ("train_loss_epoch", "val_loss", "val_miou")):
            epochs = sorted(set().union(*(r[name] for r in runs)))
            means = [statistics.mean(r[name][e] for r in runs if e in r[name]) for e in epochs]
            panel.plot([e + 1 for e in epochs], means, marker="o", markersize=3, label=label)
    for panel, title in zip(panels, ("training loss", "validation loss", "validation mIoU")):
        panel.set_title(title)
        panel.set_xlabel("epoch")
        panel.grid(alpha=0.3)
    panels[0].set_yscale("log")
    panels[1].set_yscale("log")
    panels[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def panels_figure(run: Path, path: Path) -> Path | None:
    """Prediction panels of a finished run: two validation images and one training image with its points.

    None where the run has no checkpoint, or its data cannot be found (a warning says why): the
    rest of the report does without the panels.
    """
    from pointseg.config import TrainConfig
    from pointseg.data.points import PointLabels
    from pointseg.data.scenes import load_split
    from pointseg.predict import Segmenter
    from pointseg.report import prediction_figure, prediction_panels
    from pointseg.training import split_dataset

    if not (run / "model.ckpt").exists():
        return None
    config = TrainConfig.model_validate_json((run / "config.json").read_text())
    try:
        table, _, train_pairs, val_pairs = split_dataset(config)
    except PointsegError as err:
        message = f"the prediction panels are left out: {err.message}"
        if not config.data.is_absolute():
            message += " (the sweep's paths are relative: run the report from the folder the sweep ran in)"
        warnings.warn(PointsegWarning(message), stacklevel=2)
        return None
    points = PointLabels.read_csv(run / "points.csv", table) if (run / "points.csv").exists() else None
    segmenter = Segmenter.from_checkpoint(run / "model.ckpt")
    train_scenes, val_scenes = load_split(train_pairs[:1], val_pairs[:2], table)
    panels = prediction_panels(segmenter, val_scenes, train_scenes, points)
    return prediction_figure(panels, segmenter.classes, path)


def _image_data(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


@dataclass
class _Report:
    intro: str
    header: list[str]
    table: list[list[str]]
    findings: list[str]
    figures: list[tuple[Path, str]]
    budget: tuple[list[str], list[list[str]]] | None = None

    def markdown(self) -> str:
        lines = ["# Sweep report", "", self.intro, "", "## Results", "", *_markdown_table(self.header, self.table)]
        lines += ["", _SPREAD_NOTE, ""]
        if self.budget is not None:
            lines += ["## Label budget", "", _BUDGET_NOTE, "", *_markdown_table(*self.budget), ""]
        lines += ["## Conclusions", "", *(f"- {line}" for line in self.findings), ""]
        for image, caption in self.figures:
            lines += [f"## {caption}", "", f"![{caption}](figures/{image.name})", ""]
        return "\n".join(lines)

    def html(self) -> str:
        figures = "".join(
            f"<h2>{html.escape(caption)}</h2><img src='{_image_data(image)}' alt='{html.escape(caption)}'>"
            for image, caption in self.figures
        )
        findings = "".join(f"<li>{html.escape(line)}</li>" for line in self.findings)
        budget = "" if self.budget is None else f"<h2>Label budget</h2><p>{_BUDGET_NOTE}</p>{_html_table(*self.budget)}"
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>Sweep report</title><style>"
            "body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
            "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
            "img{max-width:100%}</style></head><body>"
            f"<h1>Sweep report</h1><p>{html.escape(self.intro)}</p><h2>Results</h2>{_html_table(self.header, self.table)}"
            f"<p>{_SPREAD_NOTE}</p>{budget}<h2>Conclusions</h2><ul>{findings}</ul>{figures}</body></html>"
        )


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(row) + " |" for row in rows)]


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


_BUDGET_NOTE = "Validation mIoU at each label budget and, in brackets, its share of the full-mask mIoU of the same options."
_SPREAD_NOTE = (
    "Values are mean ± standard deviation over the seeds whose run finished; "
    "a training loss marked (last) is where runs that did not finish stopped."
)
_NOT_SHOWN = frozenset({"data", "classes", "val_data", "progress_bar", "num_workers"})  # said elsewhere, or no effect
_BUDGET_WORDS = {"epochs": "epochs", "steps": "optimisation steps", "samples": "training crops seen"}


def read_sweep(sweep_dir: Path) -> tuple[SweepSpec, str | None]:
    """The specification and storage URL recorded in a sweep folder.

    Raises:
        ConfigError: The folder is not a sweep folder.
    """
    if not (sweep_dir / "sweep.json").is_file():
        raise ConfigError(f"{sweep_dir} is not a sweep folder (no sweep.json)", fix="pass the --out folder of `pointseg sweep`")
    stored = json.loads((sweep_dir / "sweep.json").read_text())
    storage = stored.pop("storage", None)
    return SweepSpec(**stored), storage


def write_report(sweep_dir: str | Path) -> list[Path]:
    """Write ``results.csv``, ``report.md``, ``report.html`` and ``figures/`` of a sweep folder.

    Raises:
        ConfigError: The folder is not a sweep folder.
    """
    sweep_dir = Path(sweep_dir)
    spec, storage = read_sweep(sweep_dir)
    rows = collect_results(sweep_dir, storage)
    axes = list(spec.axes)
    configs = summarise(rows, axes, spec.seeds, spec.configurations())
    with (sweep_dir / "results.csv").open("w", newline="") as handle:
        columns = list(dict.fromkeys(k for row in rows for k in row)) or [*axes, "seed", "status", *_METRICS]
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)

    figures_dir = sweep_dir / "figures"
    figures_dir.mkdir(exist_ok=True)
    counts = point_counts(sweep_dir, spec, configs)
    figures = [
        (heatmap_figure(configs, figures_dir / "heatmap.png"), "Validation mIoU by learning rate and batch size"),
        (budget_figure(configs, counts, figures_dir / "label-budget.png"), "Validation mIoU by label budget"),
    ]
    here = [r for r in rows if (sweep_dir / r["run"] / "outcome.json").is_file()]  # not those of folders elsewhere
    if logged := [r for r in here if (sweep_dir / r["run"] / "metrics.csv").is_file()]:
        note = ""
        if spec.base.get("precise_bn", TrainConfig.model_fields["precise_bn"].default):
            note = (
                "; validated during training with BatchNorm's running averages, the table's final scores after "
                "PreciseBN, so that the last points may differ from them"
            )
        caption = f"Learning curves (mean over seeds{note})"
        figures.append((curves_figure(logged, axes, sweep_dir, figures_dir / "curves.png"), caption))
    finished = _ranked(configs)
    if finished:
        best = finished[0]
        runs = (r["run"] for r in here if r["status"] == "done" and all(r.get(a) == best.params[a] for a in axes))
        if (run := next(runs, None)) is not None:  # the best configuration trained in this folder
            caption = f"Predictions of the best configuration ({best.label}): image, ground truth, training points, prediction"
            figures.append((panels_figure(sweep_dir / run, figures_dir / "predictions.png"), caption))

    fixed = ", ".join(f"{k}={v}" for k, v in spec.base.items() if k not in _NOT_SHOWN)
    intro = (
        (f"{spec.description} " if spec.description else "") + f"{len(rows)} of {len(spec.configurations())} trainings stored "
        f"({len(configs)} configurations, {spec.seeds} seed(s) each). "
        f"Every configuration had the same budget: {spec.amount} {_BUDGET_WORDS[spec.budget]}. Fixed options: {fixed}. "
        f"Data: {spec.base.get('data')}" + (f", validated on {spec.base['val_data']}." if spec.base.get("val_data") else ".")
    )
    if storage is not None and (elsewhere := len(rows) - len(here)):
        intro += (
            f" {elsewhere} of the trainings ran in another folder of the shared study ({storage}): their scores are here, "
            "their learning curves and predictions are in that folder's report."
        )
    header, table = table_rows(configs)
    figures = [(p, c) for p, c in figures if p is not None]
    findings = [*conclusions(configs), *budget_findings(configs, counts)]
    report = _Report(intro, header, table, findings, figures, budget_rows(configs, counts))
    (sweep_dir / "report.md").write_text(report.markdown())
    (sweep_dir / "report.html").write_text(report.html())
    return [sweep_dir / "report.md", sweep_dir / "report.html", sweep_dir / "results.csv"]
