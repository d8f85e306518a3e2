"""Simulated annotation rounds: do the clicks `pointseg suggest` proposes beat random clicks?

The loop runs on a dataset with dense masks, which play the annotator. Every training
image starts with the same few random points; each round then adds up to ``k`` points
per image, in one arm where :func:`~pointseg.suggest.suggest` proposes them (from the
model of the previous round) and in the other at random, with their classes read from
the masks; both arms retrain (from scratch) on all their points so far and are scored on
the same validation images. Round 0 is shared. A suggestion on a pixel the masks leave
unlabelled is dropped, as an annotator would skip it, and never suggested again. With
``random_share``, that share of each round's points in the suggested arm is clicked at
random instead (exploration mixed into the suggestions). With ``fine_tune``, each round
starts from the weights of its arm's previous round (round 1 from round 0's), as an
annotator updating the model that asked the questions would, instead of from scratch.
With ``repeats``, each arm and round trains that many times on the same points, at other
training seeds (other initial weights and crops), and scores the mean: one training's
mIoU moves by a standard deviation of about 0.03 with its seed alone on the Dubai loops,
more than any query strategy's effect; the suggestions then come from the mean
probabilities of the previous round's trainings (an :class:`~pointseg.predict.Ensemble`),
not from one of them.
Everything is seeded: the same seed gives the same points and, on the same machine, the
same scores; an interrupted loop run again trains only the rounds it had not finished, on
the points they were given.

The run folder holds ``loop.json`` (the :class:`ClickLoop` and the training options: a loop
resumes only with the same), one training run per arm and round (``initial/round-0/``,
``suggested/round-1/``...), each with the points it trained on (``points.csv``), in the
suggested arm the round's suggestions as ``pointseg suggest`` writes them
(``suggestions.csv``) and, once finished, its final metrics again in ``round.json`` (the
mark that the round is done), with ``repeats`` its further trainings in ``repeat-1/``...
inside it, plus ``clicks.csv`` (one row per arm and round) and ``clicks.png`` (mIoU
against points per image, one line per arm).

Example:
    >>> config = TrainConfig(data="data", classes="classes.csv", out="clicks", epochs=5)  # doctest: +SKIP
    >>> rows = simulate_clicks(config, ClickLoop(rounds=3, k=20, initial_points=10))  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from pointseg.classes import IGNORE_INDEX, ClassTable
from pointseg.config import (
    DEFAULT_QUERY,
    MACHINE_OPTIONS,
    PATH_OPTIONS,
    PREDATED_OPTIONS,
    Query,
    TrainConfig,
    option_defaults,
    option_flag,
)
from pointseg.data.discover import ImagePair
from pointseg.data.points import PointLabels, PointSpec, simulate_points
from pointseg.data.scenes import dense_masks
from pointseg.errors import ConfigError, TrainingDiverged
from pointseg.figures import pyplot
from pointseg.predict import Ensemble, Segmenter
from pointseg.suggest import check_options, suggest, write_suggestions
from pointseg.training import split_dataset, train

ARMS = ("suggested", "random")
CLICK_STREAM = 2
"""How the rounds' clicks are seeded (see :func:`click_seed`); ``loop.json`` keeps its loop's."""


@dataclass(frozen=True)
class ClickLoop:
    """The annotation rounds.

    Attributes:
        rounds: Rounds of added points after the initial ones.
        k: Points added per training image in each round.
        initial_points: Random points per training image before the first round.
        spacing: Least distance in pixels between suggested points (see :mod:`pointseg.suggest`).
        query: How the suggested points are chosen: ``power`` (the default), ``balanced``, ``entropy``
            or ``typical`` (see :mod:`pointseg.suggest`).
        boundary_gap: Suggested points come closer than this to a change of predicted class only
            when nothing else is left (0: no gap; see :mod:`pointseg.suggest`).
        random_share: Share of each round's ``k`` points of the suggested arm clicked at random.
        fine_tune: Start each round's training from its arm's previous model, not from scratch.
        repeats: Trainings per arm and round, on the same points at training seeds ``seed``,
            ``seed + 100003``, ... (see :func:`repeat_seed`), scored by their mean; the next
            round's suggestions come from their mean probabilities.
    """

    rounds: int = 3
    k: int = 20
    initial_points: int = 10
    spacing: int = 16
    query: Query = DEFAULT_QUERY
    boundary_gap: int = 0
    random_share: float = 0.0
    fine_tune: bool = False
    repeats: int = 1

    def __post_init__(self) -> None:
        try:  # refused now, not after round 0 has trained
            check_options(self.k, self.spacing, self.boundary_gap, self.query)
        except ValueError as err:
            raise ConfigError(str(err), fix="see `pointseg simulate-clicks --help` for the values each option takes") from err
        if self.rounds < 1 or self.initial_points < 1:
            raise ConfigError(
                f"--rounds {self.rounds} and --initial-points {self.initial_points}: the loop needs at least one of each",
                fix="give e.g. --rounds 3 --initial-points 20",
            )
        if self.repeats < 1:
            raise ConfigError(
                f"--repeats must be 1 or more, not {self.repeats}", fix="give --repeats 1 (one training a round) or more"
            )
        if self.repeats > 1 and self.fine_tune:
            raise ConfigError(
                f"--repeats {self.repeats} with --fine-tune: each repeat would need a previous model of its own",
                fix="leave out --fine-tune, or give --repeats 1",
            )
        if not 0 <= self.random_share < 1:
            raise ConfigError(
                f"the random share of the suggested clicks must be in [0, 1), not {self.random_share}",
                fix="give e.g. --random-share 0.5; at 1 both arms would click at random",
            )
        if self.random_share and not 0 < self.random_k < self.k:
            raise ConfigError(
                f"--random-share {self.random_share} of --k {self.k} clicks makes {self.random_k} random and "
                f"{self.k - self.random_k} suggested clicks a round: no mix",
                fix="mixing needs --k 2 or more"
                if self.k < 2
                else f"give a share that makes 1 to {self.k - 1} of the {self.k} clicks random, e.g. 0.5",
            )

    @property
    def random_k(self) -> int:
        """Clicks per image and round of the suggested arm that are random: ``k x random_share``, rounded half to even.

        >>> ClickLoop(k=10, random_share=0.45).random_k, ClickLoop(k=10, random_share=0.55).random_k
        (4, 6)
        """
        return round(self.k * self.random_share)


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
    segmenter: Segmenter | Ensemble,
    pairs: Sequence[ImagePair],
    masks: Mapping[str, np.ndarray],
    labelled: PointLabels,
    k: int,
    spacing: int,
    boundary_gap: int = 0,
    query: Query = DEFAULT_QUERY,
    seed: int = 0,
    shown: PointLabels | None = None,
) -> tuple[PointLabels, PointLabels, np.ndarray]:
    """:func:`~pointseg.suggest.suggest` of ``k`` pixels per image, answered by the masks.

    No suggestion falls on (or within ``spacing`` of) the ``labelled`` points or the pixels
    ``shown`` to the annotator before; the ``balanced`` query weighs the classes of the
    ``labelled`` points alone, never the model's guesses on skipped pixels.

    Returns:
        ``(labelled, guesses, entropies)``: the suggestions the masks label, with the masks'
        classes (one on an unlabelled mask pixel is dropped); every suggestion, with the
        model's guess as its class; their predictive entropies.
    """
    avoided = labelled if shown is None else PointLabels.concatenate(labelled, shown)
    class_counts = labelled.class_counts(len(segmenter.classes.names))
    guesses, scores = suggest(segmenter, pairs, k, spacing, avoided, boundary_gap, query, seed, class_counts)
    classes = np.array([masks[key][row, col] for key, row, col in zip(guesses.keys, guesses.rows, guesses.cols)], np.int64)
    labelled = classes != IGNORE_INDEX
    return PointLabels(guesses.keys, guesses.rows, guesses.cols, classes).select(labelled), guesses, scores


def simulate_clicks(
    config: TrainConfig, loop: ClickLoop, on_round: Callable[[dict[str, Any]], None] | None = None
) -> list[dict[str, Any]]:
    """Run the rounds (see the module docstring) in ``config.out``; ``config`` sets every training.

    Returns:
        One row per arm and round: ``arm``, ``round``, ``points_per_image`` (their mean), ``points``,
        ``miou``, ``accuracy`` and the IoU of each class (``iou_<name>``).

    Raises:
        ConfigError: ``config.out`` holds a loop with other settings, or ``config`` trains on other labels
            (full masks, a points file, point labels).
        TrainingDiverged: A round's loss turned NaN; the error names the round's folder.
    """
    out = Path(config.out)
    _check_training(config)
    table, _, train_pairs, _ = split_dataset(config)
    masks, _ = dense_masks(train_pairs, table)
    recorded = _record_loop(out, loop, config)  # once the data is found: a mistyped --data leaves no loop to be refused by
    check_loop = partial(_require_loop, out, recorded)
    annotator = _Annotator(config, loop, train_pairs, masks, table, recorded["click_stream"])
    points = {arm: simulate_points(masks, PointSpec(per_image=loop.initial_points), "random", config.seed) for arm in ARMS}
    shown = points["suggested"]  # the pixels the suggested arm has labelled or skipped: never suggested again
    rows: list[dict[str, Any]] = []
    for round_ in range(loop.rounds + 1):
        for arm in ARMS if round_ else ARMS[:1]:
            run = out / (arm if round_ else "initial") / f"round-{round_}"
            if round_:
                points[arm], shown = annotator.click(arm, round_, run, points[arm], shown)
            start = _previous_run(out, arm, round_) / "model.ckpt" if round_ and loop.fine_tune else config.init_weights
            # every repeat holds out the loop's validation images, whatever its training seed
            round_options = {"init_weights": start, "split_seed": config.held_out_seed}
            trainings = [
                _train_round(
                    config.model_copy(update=round_options | {"seed": repeat_seed(config.seed, r)}),
                    folder,
                    points[arm],
                    table,
                    check_loop,
                )
                for r, folder in enumerate(_repeat_runs(run, loop.repeats))
            ]
            metrics = mean_metrics(trainings)
            for each in ARMS if not round_ else (arm,):  # round 0 is both arms' start
                rows.append(_row(each, round_, len(train_pairs), points[arm], metrics, table))
                if on_round is not None:
                    on_round(rows[-1])
    write_results(rows, out)
    return rows


@dataclass(frozen=True)
class _Annotator:
    """The dense masks answering the clicks of one loop."""

    config: TrainConfig
    loop: ClickLoop
    pairs: Sequence[ImagePair]
    masks: Mapping[str, np.ndarray]
    table: ClassTable
    stream: int = CLICK_STREAM
    """The seeding of the rounds' clicks (see :func:`click_seed`): the loop's own, as ``loop.json`` records it."""

    def click(self, arm: str, round_: int, run: Path, taken: PointLabels, shown: PointLabels) -> tuple[PointLabels, PointLabels]:
        """The arm's points after ``round_`` and the pixels shown to the annotator so far (the suggested arm's).

        A round finished before gives back the points it trained on. ``shown`` holds each pixel once.
        """
        if _finished(run) is not None:
            points = PointLabels.read_csv(run / "points.csv", self.table)
            if arm == "suggested":
                shown = PointLabels.concatenate(shown, PointLabels.read_csv(run / "suggestions.csv", self.table))
                shown = PointLabels.concatenate(shown, points.without(shown))
            return points, shown
        run.mkdir(parents=True, exist_ok=True)
        loop = self.loop
        random_k = loop.k if arm == "random" else loop.random_k
        round_seed = click_seed(self.config.seed, round_, self.stream)
        parts = [taken]
        if arm == "suggested":
            previous = _repeat_runs(_previous_run(run.parent.parent, arm, round_), loop.repeats)
            segmenter = Ensemble.from_checkpoints([each / "model.ckpt" for each in previous], self.config.accelerator)
            labelled, guesses, scores = suggested_clicks(
                segmenter,
                self.pairs,
                self.masks,
                taken,
                loop.k - random_k,
                loop.spacing,
                loop.boundary_gap,
                loop.query,
                round_seed,
                shown,
            )
            write_suggestions(guesses, scores, self.pairs, self.table.names, run / "suggestions.csv")
            parts.append(labelled)
            shown = PointLabels.concatenate(shown, guesses)
        if random_k:  # the random arm's clicks, or the random share of the suggested arm's
            seed = round_seed if arm == "random" else round_seed + _MIXED_STREAM
            parts.append(random_clicks(self.masks, PointLabels.concatenate(*parts), random_k, seed))
        points = PointLabels.concatenate(*parts)
        return points, PointLabels.concatenate(shown, points.without(shown)) if arm == "suggested" else shown


def _repeat_runs(run: Path, repeats: int) -> list[Path]:
    """The folders of a round's trainings: ``run`` itself, then ``run/repeat-1``... (see :attr:`ClickLoop.repeats`)."""
    return [run / f"repeat-{r}" if r else run for r in range(repeats)]


def _previous_run(out: Path, arm: str, round_: int) -> Path:
    """The run folder of ``arm``'s round before ``round_`` (round 0 is shared: ``initial/round-0``)."""
    return out / (arm if round_ > 1 else "initial") / f"round-{round_ - 1}"


_MIXED_STREAM = 500
"""Offset of the seeds of the suggested arm's random clicks, away from the random arm's (:func:`click_seed`)."""


def click_seed(seed: int, round_: int, stream: int = CLICK_STREAM) -> int:
    """The seed of the clicks of ``round_`` in the loop at ``seed``: ``2**32 + seed x 1009 + round``.

    A stream of its own: never the seed of another round, nor of any loop's initial points
    (the loop's seed itself). Loops recorded before it (``stream`` 1 in their ``loop.json``)
    drew round ``r`` at ``seed x 1009 + r``, so that the initial points of the loop at seed
    ``s + r`` mostly repeated the random clicks of round ``r`` at seed ``s``; they go on
    with it when resumed, so that the same seed still gives the same clicks.

    >>> click_seed(0, 1) - 2**32, click_seed(1, 0) - 2**32, click_seed(0, 1, stream=1)
    (1, 1009, 1)
    """
    return (0 if stream == 1 else 2**32) + seed * 1009 + round_


def _check_training(config: TrainConfig) -> None:
    """Refuse training options that would replace the loop's points with others, or that it would ignore."""
    if config.full_masks or config.points_file is not None or config.point_labels is not None:
        raise ConfigError(
            "the click loop trains on its own points, not on full masks, --points-file or --point-labels",
            fix="leave out --points full, --full-masks, --points-file and --point-labels",
        )
    if given := sorted({"points", "strategy"} & config.model_fields_set):
        raise ConfigError(
            f"the click loop draws its own points: {' and '.join(map(option_flag, given))} would be ignored",
            fix="leave them out; --initial-points sets the random points per image to start from, --k those of a round",
        )


def _record_loop(out: Path, loop: ClickLoop, config: TrainConfig) -> dict[str, Any]:
    """Write ``loop.json`` (the loop and its training options), or check that the loop in ``out`` has the same; returns them.

    Until a round has finished (a first command with a bad option), another command's settings
    replace the recorded ones; the number of rounds may change at any time, to stop a loop
    early or to add rounds to a finished one (a round's points depend only on those before it).
    """
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file", fix="give a folder for the loop's runs")
    training = config.model_dump(mode="json", exclude=set(MACHINE_OPTIONS))
    settings = {**asdict(loop), "training": training | _absolute(training), "click_stream": CLICK_STREAM}
    if (out / "loop.json").is_file() and any(out.rglob(_DONE)):
        recorded = read_loop(out)
        if changed := _other_settings(recorded, settings):
            raise ConfigError(
                f"{out} holds a click loop with other settings: {', '.join(map(option_flag, changed))}",
                fix="give another --out, or the settings of that loop (its loop.json) to resume it",
            )
        settings["click_stream"] = recorded["click_stream"]  # a loop goes on drawing as it began
    out.mkdir(parents=True, exist_ok=True)
    (out / "loop.json").write_text(json.dumps(settings, indent=2))
    return settings


def _require_loop(out: Path, recorded: Mapping[str, Any]) -> None:
    """Stop if another command took the loop in ``out`` for other settings since this one recorded ``recorded``.

    Until a round has finished a command with other settings may take the folder (see
    :func:`_record_loop`); one still training round 0 with the old settings must not mark it done.

    Raises:
        ConfigError: ``loop.json`` now holds other settings (the number of rounds aside).
    """
    if _other_settings(read_loop(out), recorded):
        raise ConfigError(
            f"another command took the click loop of {out} for other settings while this one ran",
            fix="give this loop its own --out: the folder now holds the other command's loop",
        )


def _other_settings(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """:func:`loop_differences` that make ``a`` and ``b`` other loops: the number of rounds is not one of them."""
    return [key for key in loop_differences(a, b) if key != "rounds"]


def _absolute(training: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`~pointseg.config.PATH_OPTIONS` of ``training`` that it gives, as absolute paths."""
    return {key: str(Path(training[key]).resolve()) for key in PATH_OPTIONS & training.keys() if training[key] is not None}


_PREDATED = {"boundary_gap": 0, "fine_tune": False, "query": "entropy", "repeats": 1, "click_stream": 1}
"""Each loop setting added after loops were first recorded, with the value that loops recorded before it ran with."""


def read_loop(out: Path) -> dict[str, Any]:
    """The settings of the loop in ``out``: its ``loop.json``, plus the settings added since with the values it ran with.

    Training options removed from ``pointseg train`` since the loop ran are left out, so that
    ``TrainConfig(**read_loop(out)["training"], ...)`` rebuilds its trainings' options.

    Raises:
        ConfigError: ``loop.json`` is missing, garbled or holds no JSON object.
    """
    path = out / "loop.json"
    if not path.is_file():
        raise ConfigError(f"{out} holds no click loop (no loop.json)", fix="give the --out folder of `pointseg simulate-clicks`")
    loop = {**_PREDATED, **_read_json(path, fix="delete it to resume with the settings of this command, or give another --out")}
    training = PREDATED_OPTIONS | loop.get("training", {})
    return loop | {"training": {key: value for key, value in training.items() if key in TrainConfig.model_fields}}


def loop_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """The settings in which two loops (as :func:`read_loop` gives them) differ.

    A training option that one loop does not record counts with its default there: an option
    added to ``pointseg train`` since the loop began, whose default trains as before it. One
    that only the older loop records, removed since, is not compared; nor is the seeding of
    the clicks (see :func:`click_seed`), which only draws other random points.

    >>> loop_differences({"k": 20, "training": {"seed": 0}}, {"k": 10, "training": {"seed": 1, "lr": 0.001}})
    ['k', 'seed']
    >>> loop_differences({"training": {"seed": 0, "superpixel_schedule": "constant"}}, {"training": {"seed": 0, "lr": 0.01}})
    ['lr']
    """
    changed = [key for key in (a.keys() | b.keys()) - {"training", "click_stream"} if a.get(key) != b.get(key)]
    defaults = option_defaults()
    training_a, training_b = ({**defaults, **loop.get("training", {})} for loop in (a, b))
    training_a, training_b = (training | _absolute(training) for training in (training_a, training_b))
    changed += [key for key in training_a.keys() & training_b.keys() if training_a[key] != training_b[key]]
    return sorted(changed, key=lambda key: (key in training_a, key))


def _read_json(path: Path, fix: str) -> dict[str, Any]:
    """The JSON object in ``path``; a file cut short, garbled or holding no object raises a :class:`ConfigError` that names it."""
    try:
        value = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} is not valid JSON ({err})", fix=fix) from err
    if not isinstance(value, dict):
        raise ConfigError(f"{path} holds a JSON {type(value).__name__}, not an object", fix=fix)
    return value


_DONE = "round.json"
"""A round's final metrics, written when its training ends: the mark that the round is done."""


def _finished(run: Path) -> dict[str, Any] | None:
    """The final metrics of a round trained before, None for a round to train."""
    path = run / _DONE
    return _read_json(path, fix=f"delete {run} to train that round again") if path.is_file() else None


def _train_round(
    config: TrainConfig, run: Path, points: PointLabels, table: ClassTable, check_loop: Callable[[], None]
) -> dict[str, Any]:
    """Train on ``points`` in ``run`` and return the final metrics; a round finished before is not trained again.

    ``check_loop`` (see :func:`_require_loop`) runs before the round is marked done.
    """
    if (metrics := _finished(run)) is not None:
        return metrics
    run.mkdir(parents=True, exist_ok=True)
    points.write_csv(run / "points.csv", table)  # read back by train, which keeps it as the run's points
    try:
        result = train(config.model_copy(update={"out": run, "points_file": run / "points.csv", "progress_bar": False}))
    except TrainingDiverged as err:  # name the arm and round
        raise TrainingDiverged(err.step, err.loss, f"{err.reason}, in {run}") from err
    check_loop()
    partial = run / f"{_DONE}.partial"  # renamed once complete: a killed write leaves no half-written mark
    partial.write_text(json.dumps(result.metrics or {}))
    partial.replace(run / _DONE)
    return result.metrics or {}


_REPEAT_STREAM = 100_003
"""Offset between the training seeds of a round's repeats: far from the seeds loops are run at."""


def repeat_seed(seed: int, repeat: int) -> int:
    """The training seed of a round's ``repeat`` (0: the loop's own ``seed``).

    >>> repeat_seed(0, 0), repeat_seed(0, 2), repeat_seed(5, 1)
    (0, 200006, 100008)
    """
    return seed + _REPEAT_STREAM * repeat


def mean_metrics(trainings: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The mean ``miou``, ``accuracy`` and ``per_class_iou`` of several trainings' metrics (one: its own).

    With more than one, ``miou_std`` holds their sample standard deviation. A value none of
    them has stays missing.

    >>> runs = [{"miou": 0.25, "accuracy": 0.5, "per_class_iou": {"road": 0.0}}, {"miou": 0.75, "accuracy": 0.75}]
    >>> mean_metrics(runs)
    {'miou': 0.5, 'accuracy': 0.625, 'per_class_iou': {'road': 0.0}, 'miou_std': 0.3535533905932738}
    """
    if len(trainings) == 1:
        return dict(trainings[0])

    def mean(values: list[Any]) -> float | None:
        present = [v for v in values if v is not None]
        return float(np.mean(present)) if present else None

    names = {name for t in trainings for name in t.get("per_class_iou", {})}
    scores = [t.get("miou") for t in trainings]
    return {
        "miou": mean(scores),
        "accuracy": mean([t.get("accuracy") for t in trainings]),
        "per_class_iou": {name: mean([t.get("per_class_iou", {}).get(name) for t in trainings]) for name in sorted(names)},
        "miou_std": float(np.std([v for v in scores if v is not None], ddof=1)) if None not in scores else None,
    }


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
        **({"miou_std": metrics["miou_std"]} if "miou_std" in metrics else {}),
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
