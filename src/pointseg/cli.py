"""The ``pointseg`` command line: parse, call the library, print. No logic of its own.

Errors caused by the user's input or data (:class:`~pointseg.errors.PointsegError`, bad
option values) are printed as one message with its fix, without a traceback, and the
command exits with status 2. A command that SIGTERM stops (a batch job's time limit) during
a training or an evaluation says so and exits with status 143, as a process killed by it would,
never 0.

Example:
    >>> main(["points", "--help"])  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import warnings
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, NoReturn, get_args

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from pointseg.classes import ClassTable
from pointseg.config import DEFAULT_QUERY, QUERIES, Method, Optimizer, Schedule, describe_error
from pointseg.data.dataset import CropPlacement, Normalisation
from pointseg.data.points import STRATEGIES
from pointseg.errors import ConfigError, PointsegError, PointsegWarning
from pointseg.models import ModelName

app = typer.Typer(
    name="pointseg",
    help="Semantic segmentation of remote sensing imagery trained from point labels.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's help, which wraps long option names instead of cutting them at 80 columns
)
console = Console()
errors = Console(stderr=True, soft_wrap=True)  # a long path in a message stays whole, for copying

DataOpt = Annotated[Path, typer.Option("--data", help="Dataset root: searched for images/ folders with a sibling masks/.")]
ClassesOpt = Annotated[
    Path, typer.Option("--classes", help="Classes CSV: name,r,g,b (colour masks) or name,value (index masks).")
]
PointsOpt = Annotated[
    str,
    typer.Option(
        "--points", help="Points per image (e.g. 50) or fraction of pixels (e.g. 0.0001); to train, full = dense masks."
    ),
]
StrategyChoice = Enum("StrategyChoice", {name: name for name in STRATEGIES}, type=str)  # type: ignore[misc]
ScheduleChoice = Enum("ScheduleChoice", {name: name for name in get_args(Schedule)}, type=str)  # type: ignore[misc]
ModelChoice = Enum("ModelChoice", {name: name for name in get_args(ModelName)}, type=str)  # type: ignore[misc]
MethodChoice = Enum("MethodChoice", {name: name for name in get_args(Method)}, type=str)  # type: ignore[misc]
CropPlacementChoice = Enum("CropPlacementChoice", {name: name for name in get_args(CropPlacement)}, type=str)  # type: ignore[misc]
NormalisationChoice = Enum("NormalisationChoice", {name: name for name in get_args(Normalisation)}, type=str)  # type: ignore[misc]
OptimizerChoice = Enum("OptimizerChoice", {name: name for name in get_args(Optimizer)}, type=str)  # type: ignore[misc]
StrategyOpt = Annotated[StrategyChoice, typer.Option("--strategy", help="How points are drawn from the masks.")]
SeedOpt = Annotated[int, typer.Option("--seed", min=0, help="Seed of points, split, crops and weights.")]
CheckpointOpt = Annotated[Path, typer.Option("--checkpoint", help="model.ckpt written by `pointseg train`.")]
AcceleratorOpt = Annotated[str, typer.Option("--accelerator", help="auto (GPU where present), cpu, gpu, ...")]
QueryChoice = Enum("QueryChoice", {name: name for name in QUERIES}, type=str)  # type: ignore[misc]
QueryOpt = Annotated[
    QueryChoice,
    typer.Option(
        "--query",
        help="power: pixels drawn at random in proportion to their entropy; balanced: power, weighing each pixel "
        "by the inverse of 1 + the labels of its predicted class so far; entropy: the most uncertain pixels; "
        "typical: the most typical pixels of uncovered feature clusters.",
    ),
]
BoundaryGapOpt = Annotated[
    int,
    typer.Option(
        "--boundary-gap", min=0, help="Suggest pixels closer than this to a predicted class boundary only when none else is left."
    ),
]


def _counts_table(title: str, counts: dict[str, int]) -> Table:
    table = Table(title=title)
    table.add_column(title.split()[-1])
    table.add_column("points", justify="right")
    for name, count in counts.items():
        table.add_row(name, str(count))
    return table


@app.command()
def points(
    data: DataOpt,
    classes: ClassesOpt,
    points: PointsOpt,
    out: Annotated[Path, typer.Option("--out", help="Folder for points.csv and points.json.")],
    strategy: StrategyOpt = StrategyChoice.random,
    seed: SeedOpt = 0,
    vector: Annotated[
        Path | None,
        typer.Option(
            "--vector", help="Also write the points as features (.gpkg, .geojson, .shp, .fgb) in the rasters' CRS, for QGIS."
        ),
    ] = None,
) -> None:
    """Simulate point labels from dense masks, write them and summarise them (no training)."""
    from pointseg.data.discover import discover_pairs
    from pointseg.data.points import PointSpec, simulate_points, write_points
    from pointseg.data.scenes import dense_masks
    from pointseg.data.vector import vector_driver, write_vector_points

    table = ClassTable.read_csv(classes)
    spec = PointSpec.parse(points)
    if vector is not None:
        vector_driver(vector)  # a bad ending is refused before anything is written
    pairs = discover_pairs(data)
    masks, _ = dense_masks(pairs, table)  # no point where a raster has no data
    labels = simulate_points(masks, spec, strategy.value, seed)
    path = write_points(out, labels, table, {"points": points, "strategy": strategy.value, "seed": seed})
    per_class, per_image = labels.counts(table)
    console.print(_counts_table("points per class", per_class))
    console.print(_counts_table("points per image", per_image))
    console.print(f"{len(labels)} points on {len(per_image)} images written to [bold]{path}[/bold]")
    if vector is not None:
        console.print(f"as features: [bold]{write_vector_points(labels, table, pairs, vector)}[/bold]")


@app.command()
def train(
    data: DataOpt,
    classes: ClassesOpt,
    out: Annotated[Path, typer.Option("--out", help="Run folder: config, points, metrics, checkpoint.")],
    val_data: Annotated[
        Path | None, typer.Option("--val-data", help="Separate validation root (else a split of --data).")
    ] = None,
    val_fraction: Annotated[float, typer.Option("--val-fraction", help="Share of whole images held out for validation.")] = 0.2,
    points: PointsOpt = "0.0001",
    points_file: Annotated[
        Path | None, typer.Option("--points-file", help="Train on the points of this CSV (from `pointseg points`).")
    ] = None,
    point_labels: Annotated[
        Path | None,
        typer.Option("--point-labels", help="Train on real annotations: GeoPackage, GeoJSON, Shapefile or x/y CSV."),
    ] = None,
    label_field: Annotated[str, typer.Option("--label-field", help="Field of --point-labels holding the class.")] = "class",
    point_crs: Annotated[
        str | None,
        typer.Option(
            "--point-crs",
            help="CRS of the coordinates of --point-labels (e.g. EPSG:4326), over what the file says: needed where it "
            "says nothing (an x,y CSV); pixels: pixel coordinates of pictures (points digitised on a picture in QGIS).",
        ),
    ] = None,
    full_masks: Annotated[
        bool, typer.Option("--full-masks", help="Train on the dense masks: the fully supervised reference.")
    ] = False,
    strategy: StrategyOpt = StrategyChoice.random,
    seed: SeedOpt = 0,
    model: Annotated[ModelChoice, typer.Option("--model", help="Network (`pointseg models` compares them).")] = ModelChoice.unet,
    init_weights: Annotated[
        Path | None,
        typer.Option(
            "--init-weights",
            help="Local state dict or pointseg/Lightning checkpoint: layers matching by name and shape are loaded.",
        ),
    ] = None,
    width: Annotated[int, typer.Option("--width", help="Channels of the network's first level.")] = 16,
    depth: Annotated[int, typer.Option("--depth", help="U-Nets: number of downsamplings.")] = 4,
    optimizer: Annotated[OptimizerChoice, typer.Option("--optimizer")] = OptimizerChoice.adam,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate (the peak of the schedule).")] = 1e-3,
    lr_schedule: Annotated[ScheduleChoice, typer.Option("--lr-schedule", help="cosine: annealed to 0 over the budget.")] = (
        ScheduleChoice.cosine
    ),
    weight_decay: Annotated[float, typer.Option("--weight-decay")] = 0.0,
    label_smoothing: Annotated[
        float, typer.Option("--label-smoothing", help="Share of the target spread over all classes.")
    ] = 0.0,
    class_weights: Annotated[
        str | None,
        typer.Option(
            "--class-weights",
            help="Loss weight per class, e.g. 1,2,1,1,1, or balanced: inverse to each class's share of the labels trained on.",
        ),
    ] = None,
    method: Annotated[
        MethodChoice,
        typer.Option(
            "--method",
            help="pce: partial cross-entropy on the points; crf: plus a Potts regulariser on all pixels; "
            "superpixels: plus the points spread to their SLIC superpixels; superpixels+crf: both; "
            "self-training: plus, after a warm-up, the confident predictions of an EMA teacher as pseudo-labels; "
            "consistency: plus, on all pixels, the same predictions on a flipped or rotated, recoloured view of each batch; "
            "superpixels+consistency: both.",
        ),
    ] = MethodChoice.pce,
    regulariser_weight: Annotated[float, typer.Option("--regulariser-weight", help="Weight of the crf regulariser.")] = 1.0,
    superpixel_weight: Annotated[
        float, typer.Option("--superpixel-weight", help="Weight of the superpixel labels (points weigh 1).")
    ] = 0.5,
    superpixel_area: Annotated[int, typer.Option("--superpixel-area", help="Mean superpixel area in pixels.")] = 400,
    superpixel_compactness: Annotated[
        float,
        typer.Option("--superpixel-compactness", help="SLIC's weight of space against colour (bands scaled to [0, 1])."),
    ] = 1.0,
    superpixel_cache: Annotated[
        Path | None, typer.Option("--superpixel-cache", help="Folder keeping SLIC segmentations between runs (a sweep has one).")
    ] = None,
    pseudo_threshold: Annotated[
        float, typer.Option("--pseudo-threshold", help="self-training: least teacher probability of a pseudo-label.")
    ] = 0.9,
    pseudo_quantile: Annotated[
        float | None,
        typer.Option(
            "--pseudo-quantile",
            help="self-training: per class, label at least the pixels above this quantile of the teacher's confidence "
            "over the batch's unlabelled pixels it predicts as that class, even below --pseudo-threshold "
            "(e.g. 0.5; default: off, the threshold alone).",
        ),
    ] = None,
    pseudo_weight: Annotated[float, typer.Option("--pseudo-weight", help="self-training: weight of the pseudo-labels.")] = 0.5,
    self_training_start: Annotated[
        float, typer.Option("--self-training-start", help="self-training: share of the budget on points alone first.")
    ] = 0.3,
    consistency_weight: Annotated[
        float, typer.Option("--consistency-weight", help="consistency: weight of the consistency term.")
    ] = 0.3,
    bands: Annotated[str | None, typer.Option("--bands", help="Input bands, 1-based, e.g. 4,3,2 (default: all).")] = None,
    normalisation: Annotated[
        NormalisationChoice,
        typer.Option(
            "--normalisation",
            help="mean-std: standardise each band; percentiles: clip to its 2nd-98th percentiles and stretch to [-1, 1] "
            "(robust to clouds and saturated pixels, for 16-bit reflectance).",
        ),
    ] = NormalisationChoice["mean-std"],
    batch_size: Annotated[int, typer.Option("--batch-size", help="Crops per batch (per device).")] = 8,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Budget in epochs (default 20).")] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", help="Budget in optimisation steps.")] = None,
    crop: Annotated[int, typer.Option("--crop", help="Side of the square training crops in pixels.")] = 256,
    crop_placement: Annotated[
        CropPlacementChoice,
        typer.Option(
            "--crop-placement",
            help="anywhere: crops fall anywhere in their image alike, so that few hold a point near its border; "
            "labelled: each crop holds a labelled pixel drawn at random, so that every point is trained on alike.",
        ),
    ] = CropPlacementChoice.anywhere,
    precise_bn: Annotated[
        int,
        typer.Option(
            "--precise-bn",
            min=0,
            help="Training crops over which BatchNorm's statistics are recomputed when training ends (PreciseBN); "
            "0 keeps the running averages of the last batches.",
        ),
    ] = 1024,
    val_every: Annotated[int, typer.Option("--val-every", help="Validate every N epochs.")] = 1,
    num_workers: Annotated[int, typer.Option("--num-workers", help="Data loading processes.")] = 0,
    accelerator: AcceleratorOpt = "auto",
    devices: Annotated[str, typer.Option("--devices", help="Lightning devices: auto, a count, or a list.")] = "auto",
    num_nodes: Annotated[int, typer.Option("--num-nodes", help="Lightning: number of machines.")] = 1,
    trainer_strategy: Annotated[
        str, typer.Option("--trainer-strategy", help="Lightning strategy: auto, ddp, ddp_spawn, ...")
    ] = "auto",
    progress_bar: Annotated[bool, typer.Option("--progress-bar/--no-progress-bar", help="Show a progress bar.")] = True,
) -> None:
    """Train a network with partial cross-entropy on point labels (or full masks) and evaluate it."""
    options = {name: getattr(value, "value", value) for name, value in locals().items() if value is not None}
    from lightning.pytorch.utilities import rank_zero_only

    from pointseg.config import TrainConfig
    from pointseg.report import metrics_table
    from pointseg.training import train as run_training

    result = run_training(TrainConfig(**options))
    if rank_zero_only.rank:  # another process of a distributed run: the first one reports
        return
    if result.metrics is None:
        console.print(f"run folder: [bold]{out}[/bold] (checkpoint {result.checkpoint.name}, metrics.csv; no validation image)")
        return
    console.print(metrics_table(result.metrics, title=f"validation ({len(result.data.val_scenes)} images)"))
    console.print(f"run folder: [bold]{out}[/bold] (checkpoint {result.checkpoint.name}, metrics.csv, metrics.json)")


@app.command()
def evaluate(
    checkpoint: CheckpointOpt,
    data: DataOpt,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for metrics.json (default: evaluation/ beside the checkpoint).")
    ] = None,
    accelerator: AcceleratorOpt = "auto",
) -> None:
    """Evaluate a checkpoint on whole images against their dense masks; write metrics.json."""
    from pointseg.evaluation import evaluate as run_evaluation
    from pointseg.report import metrics_table
    from pointseg.training import EVALUATION

    out = out if out is not None else checkpoint.parent / EVALUATION
    metrics = run_evaluation(checkpoint, data, out=out, accelerator=accelerator)
    console.print(metrics_table(metrics, title=f"evaluation on {data}"))
    console.print(f"metrics written to [bold]{out / 'metrics.json'}[/bold]")


@app.command()
def predict(
    checkpoint: CheckpointOpt,
    input: Annotated[Path, typer.Option("--input", help="An image or raster, or a folder of them.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for colour masks (PNG) and class maps (GeoTIFF).")],
    tile: Annotated[int, typer.Option("--tile", help="Rasters: side of the predicted tiles in pixels.")] = 512,
    overlap: Annotated[int, typer.Option("--overlap", help="Rasters: pixels shared and blended by neighbouring tiles.")] = 64,
    batch: Annotated[int, typer.Option("--batch", help="Rasters: tiles per forward pass.")] = 4,
    probabilities: Annotated[
        bool, typer.Option("--probabilities", help="Rasters: also write per-class probabilities (*_probabilities.tif).")
    ] = False,
    accelerator: AcceleratorOpt = "auto",
) -> None:
    """Predict colour masks for pictures and georeferenced class maps for rasters of any size."""
    from rich.progress import Progress

    from pointseg.predict import TileOptions, predict_folder

    options = TileOptions(tile=tile, overlap=overlap, batch=batch, probabilities=probabilities)
    with Progress(console=errors, transient=True) as progress:
        task = progress.add_task("tiles", total=None)

        def on_tiles(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        written = list(predict_folder(checkpoint, input, out, accelerator, options, on_tiles))
    console.print(f"{len(written)} predictions written to [bold]{out}[/bold]")


def _extra_options(args: list[str]) -> dict[str, Any]:
    """``--name value`` pairs and ``--flag`` / ``--no-flag`` switches left over by the parser, by field name."""
    options: dict[str, Any] = {}
    i = 0
    while i < len(args):
        if not args[i].startswith("--"):
            raise ConfigError(f"unexpected argument {args[i]!r}", fix="give options as --name value")
        name = args[i][2:].replace("-", "_")
        if i + 1 < len(args) and not args[i + 1].startswith("--"):
            options[name] = args[i + 1]
            i += 2
        else:
            options[name.removeprefix("no_")] = not name.startswith("no_")
            i += 1
    return options


def _progress_printer() -> Callable[[dict[str, Any]], None]:
    """Prints each configuration's outcome of a sweep as it is stored."""
    count = 0

    def progress(outcome: dict[str, Any]) -> None:
        nonlocal count
        count += 1
        miou = (outcome.get("metrics") or {}).get("miou")
        detail = f"mIoU {miou:.4f}" if miou is not None else outcome.get("message", "")
        console.print(f"[{count}] {outcome['name']}: [bold]{outcome['status']}[/bold] {detail}", highlight=False)

    return progress


@contextlib.contextmanager
def _resumable() -> Iterator[None]:
    """Ctrl-C during a sweep: say that nothing finished is lost, exit 130 (SIGTERM: :func:`main` exits 143)."""
    try:
        yield
    except KeyboardInterrupt as err:
        if isinstance(err.__cause__, SystemExit) and _terminated(err.__cause__):  # a sweep's training stopped by SIGTERM
            raise err.__cause__ from None
        errors.print("interrupted: finished configurations are stored; run the same command again to resume")
        raise typer.Exit(130) from None


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def sweep(
    ctx: typer.Context,
    data: Annotated[Path | None, typer.Option("--data", help="Dataset root (or in --config).")] = None,
    classes: Annotated[Path | None, typer.Option("--classes", help="Classes CSV (or in --config).")] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Sweep folder: study, points, one run folder per configuration (default sweep).", show_default=False
        ),
    ] = None,
    lr: Annotated[str | None, typer.Option("--lr", help="Learning rates, comma-separated (default 0.001,0.01).")] = None,
    batch_size: Annotated[str | None, typer.Option("--batch-size", help="Batch sizes (default 16,32,64).")] = None,
    seeds: Annotated[
        int | None, typer.Option("--seeds", min=1, help="Train every configuration with seeds 0..N-1 (default 1).")
    ] = None,
    storage: Annotated[
        str | None, typer.Option("--storage", help="SQLAlchemy URL of a shared study (default: SQLite in --out).")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML file of options; the command line wins.")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Budget: the same epochs for all (default 20).")] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", help="Budget: the same optimisation steps for all.")] = None,
    samples: Annotated[int | None, typer.Option("--samples", help="Budget: the same number of crops seen by all.")] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="What the sweep is about (data credit, question); opens the report.")
    ] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Train the configurations that diverged or failed again (cause fixed).")
    ] = False,
) -> None:
    """Train a grid of configurations (learning rate x batch size by default), resumably.

    Any option of `pointseg train` may follow, as one value or a comma list that becomes an
    axis of the grid: e.g. --optimizer adam,sgd --points 20,100. Re-running the same
    command resumes; several processes given the same --storage share the work.
    """
    from pointseg.sweep import build_spec, run_sweep
    from pointseg.sweep_report import results_table

    options = _read_yaml(config) if config is not None else {}
    seeds = seeds if seeds is not None else int(options.pop("seeds", 1))  # the command line's seeds win
    options.pop("seeds", None)
    description = description or str(options.pop("description", ""))
    options.pop("description", None)
    storage = storage or options.pop("storage", None)  # the command line's storage wins
    options.pop("storage", None)
    out = out or Path(options.pop("out", None) or "sweep")  # the command line's folder wins; an empty out: too
    options.pop("out", None)
    given = {"data": data, "classes": classes, "lr": lr, "batch_size": batch_size}
    given |= {"epochs": epochs, "max_steps": max_steps, "samples": samples}
    if any(given[k] is not None for k in ("epochs", "max_steps", "samples")):  # the command line's budget wins
        for key in ("epochs", "max_steps", "samples"):
            options.pop(key, None)
    options |= {k: v for k, v in given.items() if v is not None} | _extra_options(ctx.args)
    spec = build_spec(options, seeds=seeds, description=description)
    spec.validate_all(out)  # a bad option is reported before the sweep's header line
    total = len(spec.configurations())
    console.print(f"sweep of {total} trainings ({spec.budget} budget {spec.amount}) in [bold]{out}[/bold]")
    with _resumable():
        rows = run_sweep(
            spec, out, storage=storage, on_result=_progress_printer(), retry_failed=retry_failed, on_retry=_print_retried
        )
    console.print(results_table(rows))
    console.print(f"{len(rows)} of {total} configurations stored; `pointseg report {out}` writes the report")
    _say_running_elsewhere(out, storage)


def _say_running_elsewhere(out: Path, storage: str | None = None) -> None:
    from pointseg.sweep import running_elsewhere

    if elsewhere := running_elsewhere(out, storage):
        console.print(
            f"{elsewhere} configuration(s) still marked running: in other processes, or in one that died "
            "(re-run this command in two minutes to train those again)"
        )


def _print_retried(names: list[str]) -> None:
    if names:
        console.print(f"training again {len(names)} configuration(s) that failed or diverged: {', '.join(names)}")
    else:
        console.print("no configuration failed or diverged: nothing to train again")


@app.command()
def report(
    sweep_dir: Annotated[Path, typer.Argument(help="A sweep folder.")],
) -> None:
    """Write report.md, report.html and results.csv of a sweep, from its stored results."""
    from pointseg.sweep_report import write_report

    written = write_report(sweep_dir)
    for path in written:
        console.print(f"written: [bold]{path}[/bold]")


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    if not path.is_file():
        raise ConfigError(f"config file not found: {path}", fix="pass --config a YAML file of options")
    try:
        content = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}", fix="correct the file") from err
    if not isinstance(content, dict):
        raise ConfigError(f"{path} must map option names to values", fix="write e.g. `lr: [0.001, 0.01]`")
    return {str(k).replace("-", "_"): v for k, v in content.items()}


@app.command()
def suggest(
    checkpoints: Annotated[
        list[Path],
        typer.Option(
            "--checkpoint",
            help="model.ckpt written by `pointseg train`; give it again with other models (e.g. the same points "
            "trained at other seeds) to suggest from their mean probabilities.",
        ),
    ],
    data: DataOpt,
    out: Annotated[
        Path, typer.Option("--out", help="CSV of suggestions: image,row,col,class (the model's guess, to correct),x,y,entropy.")
    ],
    k: Annotated[int, typer.Option("--k", min=1, help="Suggestions per image.")] = 10,
    spacing: Annotated[int, typer.Option("--spacing", min=1, help="Minimum distance in pixels between suggestions.")] = 16,
    query: QueryOpt = QueryChoice[DEFAULT_QUERY],
    boundary_gap: BoundaryGapOpt = 0,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the power and balanced queries' draw.")] = 0,
    labelled: Annotated[
        Path | None,
        typer.Option(
            "--labelled",
            help="points.csv of the pixels already labelled, or features (.gpkg, .geojson, .shp, .fgb) as for "
            "--point-labels (never suggested; --query balanced counts their classes, and without them draws as power).",
        ),
    ] = None,
    label_field: Annotated[
        str, typer.Option("--label-field", help="--labelled as features: the field holding each point's class.")
    ] = "class",
    point_crs: Annotated[
        str | None,
        typer.Option("--point-crs", help="--labelled as features: the CRS of their coordinates, as for train --point-crs."),
    ] = None,
    vector: Annotated[
        Path | None,
        typer.Option("--vector", help="Also write them as features (.gpkg, .geojson, .shp, .fgb), class = the model's guess."),
    ] = None,
    include_validation: Annotated[
        bool,
        typer.Option(
            "--include-validation",
            help="Also suggest on the images the checkpoint's run validated on (left out by default: not trained on).",
        ),
    ] = False,
    accelerator: AcceleratorOpt = "auto",
) -> None:
    """Propose the pixels to label next, spread over the image: uncertain, typical, or drawn in proportion to uncertainty.

    --query balanced draws as power, weighing each class by the inverse of its labels so far.
    """
    from pointseg.data.discover import discover_pairs
    from pointseg.data.points import PointLabels
    from pointseg.data.vector import VECTOR_DRIVERS, read_vector_points, vector_driver, write_vector_points
    from pointseg.predict import Ensemble
    from pointseg.suggest import check_suggestions_path, validated_on, write_suggestions
    from pointseg.suggest import suggest as run_suggest

    check_suggestions_path(out)  # refuse a folder or an unknown vector format before predicting
    if vector is not None:
        vector_driver(vector)
    segmenter = Ensemble.from_checkpoints(checkpoints, accelerator)
    pairs = discover_pairs(data, masks_required=False)
    if labelled is None:
        known = None
    elif labelled.suffix.lower() in VECTOR_DRIVERS:  # the annotation layer of --point-labels
        known = read_vector_points(labelled, segmenter.classes, pairs, label_field, point_crs).points
    else:
        known = PointLabels.read_csv(labelled, segmenter.classes, {p.key: p.size for p in pairs})
    if not include_validation and (validated := validated_on(segmenter, pairs)):
        pairs = [pair for pair in pairs if pair not in validated]
        console.print(
            f"{len(validated)} image(s) left out, e.g. {validated[0].key}: the checkpoint's run validated on them and would "
            "not train on their labels (--include-validation suggests there too)"
        )
    points, scores = run_suggest(segmenter, pairs, k, spacing, known, boundary_gap, query.value, seed)
    path = write_suggestions(points, scores, pairs, segmenter.classes.names, out)
    console.print(f"{len(points)} suggestions on {len(pairs)} images written to [bold]{path}[/bold]")
    if vector is not None:
        features = write_vector_points(points, segmenter.classes, pairs, vector, {"entropy": scores.round(4)})
        console.print(f"as features: [bold]{features}[/bold]")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def simulate_clicks(
    ctx: typer.Context,
    data: DataOpt,
    classes: ClassesOpt,
    out: Annotated[Path, typer.Option("--out", help="Folder: a run per arm and round, clicks.csv, clicks.png.")],
    rounds: Annotated[int, typer.Option("--rounds", help="Rounds of added points.", min=1)] = 3,
    k: Annotated[int, typer.Option("--k", help="Points added per training image in each round.", min=1)] = 20,
    initial_points: Annotated[
        int, typer.Option("--initial-points", help="Random points per training image to start from.", min=1)
    ] = 10,
    spacing: Annotated[int, typer.Option("--spacing", min=1, help="Least distance in pixels between suggested points.")] = 16,
    query: QueryOpt = QueryChoice[DEFAULT_QUERY],
    boundary_gap: BoundaryGapOpt = 0,
    random_share: Annotated[
        float, typer.Option("--random-share", help="Share of each round's points of the suggested arm clicked at random.")
    ] = 0.0,
    fine_tune: Annotated[
        bool, typer.Option("--fine-tune", help="Start each round from its arm's previous model instead of from scratch.")
    ] = False,
    repeats: Annotated[
        int,
        typer.Option(
            "--repeats",
            min=1,
            help="Trainings per arm and round on the same points, at other seeds; scored by their mean, "
            "and the next suggestions drawn from their mean probabilities.",
        ),
    ] = 1,
    seed: SeedOpt = 0,
) -> None:
    """Simulate annotation rounds on dense masks: suggested clicks against random clicks, retraining each round.

    Any option of `pointseg train` may follow and sets every training, e.g. --epochs 10 --width 8.
    """
    from pointseg.clicks import ClickLoop
    from pointseg.clicks import simulate_clicks as run_loop
    from pointseg.config import TrainConfig

    options = {"data": data, "classes": classes, "out": out, "seed": seed} | _extra_options(ctx.args)
    loop = ClickLoop(
        rounds=rounds,
        k=k,
        initial_points=initial_points,
        spacing=spacing,
        query=query.value,
        boundary_gap=boundary_gap,
        random_share=random_share,
        fine_tune=fine_tune,
        repeats=repeats,
    )

    def report(row: dict[str, Any]) -> None:
        miou = "-" if row["miou"] is None else f"{row['miou']:.4f}"
        console.print(f"round {row['round']} {row['arm']}: {row['points']} points, mIoU {miou}", highlight=False)

    run_loop(TrainConfig(**options), loop, report)
    console.print(f"results in [bold]{out / 'clicks.csv'}[/bold], figure [bold]{out / 'clicks.png'}[/bold]")


@app.command()
def models(
    size: Annotated[int, typer.Option("--size", min=32, help="Side of the square test images in pixels.")] = 256,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Images per timed batch.")] = 4,
    bands: Annotated[int, typer.Option("--bands", min=1, help="Input bands.")] = 3,
    width: Annotated[int, typer.Option("--width", min=1, help="Channels of each network's first level.")] = 16,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Timed batches after one warm-up.")] = 3,
    accelerator: AcceleratorOpt = "cpu",
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Also write the table to this CSV file.")] = None,
) -> None:
    """Measure every network on this machine: parameters, GFLOPs, training and inference speed, peak memory."""
    import csv
    from dataclasses import asdict

    from pointseg.models.cost import measure_all
    from pointseg.predict import resolve_device

    device = str(resolve_device(accelerator))
    console.print(f"measuring {len(get_args(ModelName))} networks on {device}, {batch} images of {bands} x {size} x {size} ...")
    costs = measure_all(
        list(get_args(ModelName)), bands=bands, size=size, batch=batch, width=width, repeats=repeats, device=device
    )
    table = Table(title=f"networks at width {width}, {size} x {size} px, {bands} bands, on {device}")
    peak = f"training peak MB (batch {batch})"
    for column in ("model", "parameters", "GFLOPs / image", "train images/s", "inference images/s", peak):
        table.add_column(column, justify="left" if column == "model" else "right")
    for c in costs:
        table.add_row(
            c.name,
            f"{c.parameters / 1e6:.2f} M",
            f"{c.gflops:.2f}",
            f"{c.train_images_per_s:.2f}",
            f"{c.infer_images_per_s:.2f}",
            f"{c.train_peak_mb:.0f}",
        )
    console.print(table)
    if csv_path is not None:
        with csv_path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(asdict(costs[0])))
            writer.writeheader()
            writer.writerows(asdict(c) for c in costs)
        console.print(f"written: [bold]{csv_path}[/bold]")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Sweep folder of the demo.")] = Path("pointseg-demo"),
    epochs: Annotated[int, typer.Option("--epochs", help="Epochs of every configuration.")] = 20,
    accelerator: AcceleratorOpt = "auto",
) -> None:
    """Run the learning-rate x batch-size study on the built-in Dubai sample and write its report."""
    from pointseg.demo import run_demo
    from pointseg.sweep_report import results_table

    console.print(f"pointseg demo: 6 configurations x {epochs} epochs on the built-in sample, in [bold]{out}[/bold]")
    with _resumable():
        result = run_demo(out, epochs=epochs, accelerator=accelerator, on_result=_progress_printer())
    console.print(results_table(result.rows))
    console.print(f"report:   [bold]{result.report}[/bold] and {result.html.name} (figures in {out / 'figures'})")
    console.print(f"results:  [bold]{result.results}[/bold]")
    _say_running_elsewhere(out)
    if not any(row["status"] == "done" for row in result.rows):
        errors.print("[red]error:[/red] no configuration of the demo finished (see results.csv for why)", highlight=False)
        errors.print("[green]fix:[/green] correct the cause and run the demo again: it retries them", highlight=False)
        raise typer.Exit(1)


_default_showwarning = warnings.showwarning


def _show_warning(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001, ANN202
    if issubclass(category, PointsegWarning):
        errors.print(f"[yellow]warning:[/yellow] {message}", highlight=False)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``pointseg`` command."""
    warnings.filterwarnings(  # Lightning's advice that a pointseg user cannot act on
        "ignore",
        message=r".*(exists and is not empty|does not have many workers|LeafSpec|weights_only|than the logging interval).*",
    )
    warnings.showwarning = _show_warning
    # Lightning advertises a cloud logger at every Trainer; nothing a pointseg user can act on
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(lambda record: "litlogger" not in record.getMessage())
    try:
        app(args=argv)
    except PointsegError as err:
        _fail(err.message, err.fix)
    except ValidationError as err:
        _fail(describe_error(err))
    except (FileExistsError, NotADirectoryError) as err:  # making an output's folder where a file is
        _fail(f"cannot make the folder {err.filename}: a file is in the way", "give an output path whose folders are not files")
    except IsADirectoryError as err:  # writing an output file where a folder is
        target = err.filename2 or err.filename  # a file written aside, then renamed, names the rename's target second
        _fail(f"cannot write {target}: a folder is in the way", "move the folder, or give another output path")
    except SystemExit as err:
        if not _terminated(err):
            raise
        errors.print(
            "[red]terminated[/red] by SIGTERM (a job's time limit, or kill) before the command finished: a training "
            "stopped so has no model.ckpt; run the command again (a sweep or a click loop trains only what it had not "
            "finished)",
            highlight=False,
        )
        sys.exit(128 + signal.SIGTERM)


def _terminated(err: SystemExit) -> bool:
    """Whether ``err`` is how Lightning ends a fit or a validation on SIGTERM: a ``SystemExit`` whose status is 0."""
    lightning = sys.modules.get("lightning.pytorch.utilities.exceptions")  # not loaded: no Trainer ran
    return lightning is not None and isinstance(err, lightning.SIGTERMException)


def _fail(message: str, fix: str | None = None) -> NoReturn:
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    if fix:
        errors.print(f"[green]fix:[/green] {fix}", highlight=False)
    sys.exit(2)
