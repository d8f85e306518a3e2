"""Simulated annotation rounds: do the clicks `pointseg suggest` proposes beat random clicks?

The loop runs on a dataset with dense masks, which play the annotator. Every training
image starts with the same few random points; each round then adds up to ``k`` points
per image (a suggestion on a pixel the masks leave unlabelled is dropped), in one arm
where :func:`~pointseg.suggest.suggest` proposes them (from the model of the previous
round) and in the other at random, with their classes read from the masks; both arms
retrain from scratch on all their points so far and are scored on the same
validation images. Round 0 is shared. Everything is seeded: the same seed gives the same
points and, on the same machine, the same scores; an interrupted loop run again trains
only the rounds it had not finished.

The run folder holds one training run per arm and round (``initial/round-0/``,
``suggested/round-1/``...), each with the points it trained on (``points.csv``) and, once
finished, its final metrics again in ``round.json`` (the mark that the round is done), plus
``clicks.csv`` (one row per arm and round) and ``clicks.png`` (mIoU against points per
image, one line per arm).

Example:
    >>> config = TrainConfig(data="data", classes="classes.csv", out="clicks", epochs=5)  # doctest: +SKIP
    >>> rows = simulate_clicks(config, ClickLoop(rounds=3, k=20, initial_points=10))  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pointseg.classes import IGNORE_INDEX, ClassTable
from pointseg.config import TrainConfig
from pointseg.data.discover import ImagePair
from pointseg.data.points import PointLabels, PointSpec, simulate_points
from pointseg.data.scenes import dense_masks
from pointseg.figures import pyplot
from pointseg.predict import Segmenter
from pointseg.suggest import suggest
from pointseg.training import split_dataset, train

ARMS = ("suggested", "random")


@dataclass(frozen=True)
class ClickLoop:
    """The annotation rounds.

    Attributes:
        rounds: Rounds of added points after the initial ones.
        k: Points added per training image in each round.
        initial_points: Random points per training image before the first round.
        spacing: Least distance in pixels between suggested points (see :mod:`pointseg.suggest`).
    """

    rounds: int = 3
    k: int = 20
    initial_points: int = 10
    spacing: int = 16


def random_clicks(masks: Mapping[str, np.ndarray], taken: PointLabels, k: int, seed: int) -> PointLabels:
    """``k`` random labelled pixels per image, never one of ``taken``, with their masks' classes."""
    available = {}
    for key, mask in masks.items():
        mask = mask.copy()
        own = taken.of_image(key)
        mask[own.rows, own.cols] = IGNORE_INDEX
        available[key] = mask
    return simulate_points(available, PointSpec(per_image=k), "random", seed)


def suggested_clicks(
    segmenter: Segmenter, pairs: Sequence[ImagePair], masks: Mapping[str, np.ndarray], taken: PointLabels, loop: ClickLoop
) -> PointLabels:
    """The model's suggestions, labelled by the masks; any on an unlabelled mask pixel is dropped."""
    guesses, _ = suggest(segmenter, pairs, loop.k, loop.spacing, taken)
    classes = np.array([masks[key][row, col] for key, row, col in zip(guesses.keys, guesses.rows, guesses.cols)], np.int64)
    labelled = classes != IGNORE_INDEX
    return PointLabels(guesses.keys, guesses.rows, guesses.cols, classes).select(labelled)


def simulate_clicks(
    config: TrainConfig, loop: ClickLoop, on_round: Callable[[dict[str, Any]], None] | None = None
) -> list[dict[str, Any]]:
    """Run the rounds (see the module docstring) in ``config.out``; ``config`` sets every training.

    Returns:
        One row per arm and round: ``arm``, ``round``, ``points_per_image`` (their mean), ``points``,
        ``miou``, ``accuracy`` and the IoU of each class (``iou_<name>``).
    """
    out = Path(config.out)
    table, _, train_pairs, _ = split_dataset(config)
    masks, _ = dense_masks(train_pairs, table)
    points = {arm: simulate_points(masks, PointSpec(per_image=loop.initial_points), "random", config.seed) for arm in ARMS}
    rows: list[dict[str, Any]] = []
    checkpoint = Path()  # the latest model of the suggested arm
    for round_ in range(loop.rounds + 1):
        for arm in ARMS if round_ else ARMS[:1]:
            if round_:
                taken = points[arm]
                new = (
                    suggested_clicks(Segmenter.from_checkpoint(checkpoint, config.accelerator), train_pairs, masks, taken, loop)
                    if arm == "suggested"
                    else random_clicks(masks, taken, loop.k, config.seed * 1009 + round_)
                )
                points[arm] = PointLabels.concatenate(taken, new)
            run = out / (arm if round_ else "initial") / f"round-{round_}"
            metrics = _train_round(config, run, points[arm], table)
            if arm == "suggested":
                checkpoint = run / "model.ckpt"
            for each in ARMS if not round_ else (arm,):  # round 0 is both arms' start
                rows.append(_row(each, round_, len(train_pairs), points[arm], metrics, table))
                if on_round is not None:
                    on_round(rows[-1])
    write_results(rows, out)
    return rows


def _train_round(config: TrainConfig, run: Path, points: PointLabels, table: ClassTable) -> dict[str, Any]:
    """Train on ``points`` in ``run`` and return the final metrics; a round finished before is not trained again."""
    finished = run / "round.json"
    if finished.is_file():  # seeded: the points of an interrupted loop's rerun are the same
        return json.loads(finished.read_text())
    run.mkdir(parents=True, exist_ok=True)
    points.write_csv(run / "points.csv", table)  # read back by train, which keeps it as the run's points
    result = train(config.model_copy(update={"out": run, "points_file": run / "points.csv", "progress_bar": False}))
    finished.write_text(json.dumps(result.metrics or {}))
    return result.metrics or {}


def _row(arm: str, round_: int, images: int, points: PointLabels, metrics: Mapping, table: ClassTable) -> dict:
    per_class = metrics.get("per_class_iou", {})
    return {
        "arm": arm,
        "round": round_,
        "points_per_image": round(len(points) / images, 2),  # suggestions on unlabelled mask pixels are dropped
        "points": len(points),
        "miou": metrics.get("miou"),
        "accuracy": metrics.get("accuracy"),
        **{f"iou_{name}": per_class.get(name) for name in table.names},
    }


def write_results(rows: list[dict[str, Any]], out: Path) -> tuple[Path, Path]:
    """``clicks.csv`` and ``clicks.png`` (mIoU per round, one line per arm) in ``out``."""
    table = out / "clicks.csv"
    with table.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plt = pyplot()
    fig, axis = plt.subplots(figsize=(6, 4))
    for arm, style in zip(ARMS, ("o-", "s--")):
        mine = [row for row in rows if row["arm"] == arm and row["miou"] is not None]
        axis.plot([r["points_per_image"] for r in mine], [r["miou"] for r in mine], style, label=f"{arm} clicks")
    axis.set_xlabel("labelled points per training image")
    axis.set_ylabel("validation mIoU")
    axis.grid(alpha=0.3)
    axis.legend()
    fig.tight_layout()
    figure = out / "clicks.png"
    fig.savefig(figure, dpi=110)
    plt.close(fig)
    return table, figure
