"""Where training crops fall: `--crop-placement labelled` against `anywhere`, on the points of click loops.

Trains rounds of `pointseg simulate-clicks` loops again on exactly their points (their
``points.csv``, as ``--points-file``), with the loop's training options and seed (the same
initial weights) but ``--crop-placement labelled``, and compares each with the loop's own
run, whose crops fell anywhere. Besides mIoU it reads the labelled pixels that the crops
held per optimisation step (``train_labelled_pixels`` of ``metrics.csv``). Writes
``table.md`` and ``summary.json`` in ``--out``, again after each run; a run finished before
(its ``metrics.json``) is read, not trained again, so that a stopped benchmark resumes.

    python benchmarks/crop_placement.py docs/benchmarks/clicks5-balanced-power \\
        docs/benchmarks/clicks5-balanced-power-seed1 docs/benchmarks/clicks5-balanced-power-seed2 \\
        --runs initial/round-0 --out docs/benchmarks/crop-placement
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from pointseg.clicks import read_loop
from pointseg.config import TrainConfig
from pointseg.training import train


def labelled_per_step(run: Path) -> float:
    """Mean labelled pixels per optimisation step over a run's epochs (its ``metrics.csv``)."""
    with (run / "metrics.csv").open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("train_labelled_pixels")]
    steps = int(rows[-1]["step"]) + 1
    return sum(float(row["train_labelled_pixels"]) for row in rows) / steps


def compare(loop: Path, run: str, out: Path, accelerator: str) -> dict[str, Any]:
    """Train ``loop/run`` again with labelled crops (unless done) and compare it with the loop's run."""
    training = read_loop(loop)["training"]
    source = loop / run
    target = out / loop.name / run
    if not (target / "metrics.json").is_file():
        options = {**training, "points_file": source / "points.csv", "crop_placement": "labelled"}
        train(TrainConfig(**options, out=target, accelerator=accelerator, progress_bar=False))
    scores = [json.loads((folder / "metrics.json").read_text()) for folder in (source, target)]
    return {
        "loop": loop.name,
        "run": run,
        "seed": training["seed"],
        "points": json.loads((source / "points.json").read_text())["total"],
        "miou_anywhere": scores[0]["miou"],
        "miou_labelled": scores[1]["miou"],
        "iou_anywhere": scores[0]["per_class_iou"],
        "iou_labelled": scores[1]["per_class_iou"],
        "labelled_per_step_anywhere": labelled_per_step(source),
        "labelled_per_step_labelled": labelled_per_step(target),
    }


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown: each run's mIoU and labels per step both ways, and the mean gain per set of runs."""
    lines = [
        "| loop | run | points | mIoU, anywhere | mIoU, labelled | gain | labels a step, anywhere / labelled |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        gain = row["miou_labelled"] - row["miou_anywhere"]
        lines.append(
            f"| {row['loop']} | {row['run']} | {row['points']} | {row['miou_anywhere']:.4f} | {row['miou_labelled']:.4f} "
            f"| {gain:+.4f} | {row['labelled_per_step_anywhere']:.1f} / {row['labelled_per_step_labelled']:.1f} |"
        )
    for run in dict.fromkeys(row["run"] for row in rows):
        gains = np.array([row["miou_labelled"] - row["miou_anywhere"] for row in rows if row["run"] == run])
        error = f" ± {gains.std(ddof=1) / np.sqrt(gains.size):.4f} (standard error)" if gains.size > 1 else ""
        lines.append(
            f"\n{run}: labelled crops gain {gains.mean():+.4f}{error} mIoU over {gains.size} loops, ahead in {(gains > 0).sum()}."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("loops", type=Path, nargs="+", help="simulate-clicks --out folders")
    parser.add_argument("--runs", nargs="+", default=["initial/round-0"], help="run folders of each loop to train again")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--accelerator", default="auto")
    args = parser.parse_args()
    rows = []
    for run in args.runs:
        for loop in args.loops:
            rows.append(compare(loop, run, args.out, args.accelerator))
            (args.out / "summary.json").write_text(json.dumps(rows, indent=2))
            (args.out / "table.md").write_text(table(rows))
            print(table(rows), flush=True)


if __name__ == "__main__":
    main()
