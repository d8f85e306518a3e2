"""Training with PyTorch Lightning: data preparation, the Trainer set-up and :func:`train`.

A run folder receives everything the run produced:

* ``config.json``: the :class:`~pointseg.config.TrainConfig`;
* ``points.csv`` / ``points.json``: the point labels trained on (unless ``--full-masks``);
* ``init_weights.json``: with ``--init-weights``, which layers were loaded, adapted and left fresh;
* ``metrics.csv``: losses and validation metrics per step and epoch, ``hparams.yaml``: the
  network's and the loss's options (and ``tensorboard/`` where TensorBoard is installed);
* ``model.ckpt``: weights with everything needed to predict later: the model config, the
  classes with their colours and the band statistics; BatchNorm's statistics recomputed
  over ``--precise-bn`` training crops when training ends
  (:class:`~pointseg.callbacks.PreciseBatchNorm`);
* ``metrics.json``: the final evaluation on the validation images, with those statistics;
* ``evaluation/metrics.json``, later: ``pointseg evaluate``'s scores, by default (:data:`EVALUATION`).

Training again into the folder replaces all of these, and removes those it does not write
again (the points of an earlier point run, an earlier evaluation, an earlier run's report on its
initial weights), which would pass for its own; the earlier ``model.ckpt`` goes as the run
starts, so that a run that fails leaves no network beside its own settings.

Example:
    >>> from pointseg.config import TrainConfig
    >>> result = train(TrainConfig(data="my-data", classes="classes.csv", out="runs/a"))  # doctest: +SKIP
    >>> result.metrics["miou"]  # doctest: +SKIP
    0.61
"""

from __future__ import annotations

import importlib.util
import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

from pointseg.callbacks import MetricsWriter, PreciseBatchNorm
from pointseg.classes import IGNORE_INDEX, ClassTable
from pointseg.config import TrainConfig
from pointseg.data.datamodule import PointSegDataModule
from pointseg.data.dataset import BandStats, Scene
from pointseg.data.discover import ImagePair, discover_pairs
from pointseg.data.masks import on_pixels_without_data
from pointseg.data.points import PointLabels, simulate_points, write_points
from pointseg.data.raster import RasterPixels
from pointseg.data.scenes import load_split, split_pairs
from pointseg.data.superpixels import cached_superpixels, expand_points
from pointseg.data.vector import read_vector_points
from pointseg.errors import ConfigError, DatasetError, PointsegWarning, PointsError
from pointseg.losses import balanced_weights
from pointseg.models import ModelConfig
from pointseg.models.weights import load_weights
from pointseg.task import PointSegModule

INIT_WEIGHTS = "init_weights.json"
"""The file of a run that says how ``--init-weights`` was loaded."""
EVALUATION = "evaluation"
"""The folder of a run where ``pointseg evaluate`` writes its ``metrics.json`` unless told otherwise."""


@dataclass
class PreparedData:
    """The classes and the scenes of a run, with the point labels trained on."""

    table: ClassTable
    train_scenes: list[Scene]
    val_scenes: list[Scene]
    points: PointLabels | None
    settings: dict[str, object] | None = None
    """Where the points came from (their file, or how they were drawn), as ``points.json`` says."""
    val_images: list[Path] = field(default_factory=list)
    """The image files held out for validation, those without mask or point among them (not in ``val_scenes``)."""

    def write_points(self, out: Path) -> None:
        """Write ``points.csv`` and ``points.json`` into ``out``; with full masks, remove an earlier run's there."""
        if self.points is not None and self.settings is not None:
            write_points(out, self.points, self.table, self.settings)
        else:  # they would pass for this run's points (a report draws them on its figures)
            for name in ("points.csv", "points.json"):
                (out / name).unlink(missing_ok=True)


def split_dataset(config: TrainConfig) -> tuple[ClassTable, list[ImagePair], list[ImagePair], list[ImagePair]]:
    """The classes, all pairs of ``--data``, and the training and validation pairs of a run.

    With ``--point-labels`` or ``--points-file`` the images need no dense masks.
    """
    table = ClassTable.read_csv(config.classes)
    masks_required = config.point_labels is None and config.points_file is None
    pairs = discover_pairs(config.data, masks_required)
    if config.val_data is not None:
        return table, pairs, pairs, discover_pairs(config.val_data, masks_required)
    return table, pairs, *split_pairs(pairs, config.val_fraction, config.held_out_seed)


def _with_data(
    points: PointLabels, pairs: Sequence[ImagePair], scenes: Sequence[Scene], table: ClassTable, source: Path
) -> PointLabels:
    """The points of a points file on pixels where ``pairs`` (loaded as ``scenes``) have data, in the image and in
    its mask raster; the others left out with a warning, as ``--point-labels`` does."""
    image_nodata = {scene.key: scene.nodata for scene in scenes}  # read when the scenes were loaded
    empty = on_pixels_without_data(pairs, table, points.keys, points.rows, points.cols, image_nodata)
    if empty.any():
        message = f"{empty.sum()} of the {len(points)} points of {source} lie on pixels without data: not trained on"
        warnings.warn(PointsegWarning(message), stacklevel=3)
    return points.select(~empty)


def prepare_data(config: TrainConfig) -> PreparedData:
    """Discover, split and load the data of a run; simulate (or read) its points.

    Nothing is written into the run folder: :meth:`PreparedData.write_points` writes the points once the run
    is sure to start.

    Raises:
        PointsegError: Any problem with the data, the classes or the points.
    """
    table, pairs, train_pairs, val_pairs = split_dataset(config)
    train_scenes, val_scenes = load_split(train_pairs, val_pairs, table)
    points = None
    if config.full_masks:
        for scene in train_scenes:
            scene.labels = scene.mask
        return PreparedData(table, train_scenes, val_scenes, points, val_images=[p.image for p in val_pairs])
    source = config.points_file or config.point_labels
    if source is not None:
        if config.points_file is not None:
            points = PointLabels.read_csv(config.points_file, table, sizes={p.key: p.size for p in pairs})
            read = len(points)
            scenes = train_scenes if config.val_data is not None else [*train_scenes, *val_scenes]  # those of pairs
            points = _with_data(points, pairs, scenes, table, source)
        else:
            imported = read_vector_points(source, table, pairs, config.label_field, config.point_crs)
            if any(imported.skipped.values()):
                warnings.warn(PointsegWarning(f"{source}: {imported.summary()}"), stacklevel=2)
            points = imported.points
        trained = np.isin(points.keys, [p.key for p in train_pairs])
        if not trained.any():
            raise PointsError(
                f"none of the {len(points)} points of {source} lies on a training image",
                fix="check that the points file belongs to --data, or pass --val-data so that no image of --data is held out",
            )
        if not trained.all():
            message = f"{(~trained).sum()} of the {len(points)} points of {source} lie on validation images: not trained on"
            warnings.warn(PointsegWarning(message), stacklevel=2)
        held_out = points.select(~trained)
        for scene in val_scenes:  # validation images without a dense mask are scored on their held-out points
            if scene.mask is None:
                scene.mask = held_out.label_map(scene.key, scene.image.shape[:2])
        points = points.select(trained)
        if config.points_file is not None and config.points_file.resolve() == (config.out / "points.csv").resolve():
            if len(points) < read:  # the run writes its points.csv over the file with the points it trains on
                raise PointsError(
                    f"{read - len(points)} of the {read} points of {source} are not trained on (validation images, "
                    "pixels without data), and the run would write its points.csv over that file without them",
                    fix="copy the file elsewhere and pass the copy, or give another --out",
                )
        settings: dict[str, object] = {"source": str(source)}
    else:
        masks = {scene.key: scene.mask for scene in train_scenes}
        points = simulate_points(masks, config.point_spec, config.strategy, config.seed)
        settings = {"points": config.points, "strategy": config.strategy, "seed": config.seed}
        if len(points) == 0:
            raise PointsError(
                "no training point: the training masks have no labelled pixel", fix="check the masks and the classes table"
            )
    sources = {pair.key: pair.image for pair in train_pairs}
    for scene in train_scenes:
        scene.labels = points.label_map(scene.key, scene.image.shape[:2])
        if "superpixels" in config.method:
            read = partial(np.asarray, scene.image)  # the pixels are read on a cache miss only
            segments = cached_superpixels(
                read,
                sources[scene.key],
                scene.image.shape[:2],
                config.superpixel_area,
                config.superpixel_compactness,
                config.superpixel_cache,
                None if scene.nodata is None else ~scene.nodata,
                None if config.bands is None else tuple(config.bands),
            )
            scene.expanded = expand_points(segments, scene.labels)
    if unscored := [scene.key for scene in val_scenes if scene.mask is None or (scene.mask == IGNORE_INDEX).all()]:
        warnings.warn(
            PointsegWarning(f"{len(unscored)} validation image(s) have neither a dense mask nor a point, e.g. {unscored[0]}"),
            stacklevel=2,
        )
        val_scenes = [scene for scene in val_scenes if scene.key not in unscored]
    return PreparedData(table, train_scenes, val_scenes, points, settings, [p.image for p in val_pairs])


def _loggers(out: Path) -> list[Logger]:
    loggers: list[Logger] = [CSVLogger(out, name="", version="")]
    if importlib.util.find_spec("tensorboard") is not None:
        loggers.append(TensorBoardLogger(out, name="tensorboard", version="", default_hp_metric=False))
    return loggers


def make_trainer(**options: Any) -> L.Trainer:
    """A :class:`lightning.Trainer`; accelerator, device or strategy options it rejects raise :class:`ConfigError`."""
    try:
        return L.Trainer(**options)
    # ImportError: e.g. tpu without torch_xla; TypeError: a list of devices on the CPU
    except (MisconfigurationException, ValueError, RuntimeError, ImportError, TypeError) as err:
        raise ConfigError(
            f"cannot set up Lightning with accelerator={options.get('accelerator')!r}, devices={options.get('devices')!r}, "
            f"strategy={options.get('strategy', 'auto')!r}: {err}",
            fix="check --accelerator, --devices, --num-nodes and --trainer-strategy (--accelerator auto uses what is there)",
        ) from err


def check_machine(config: TrainConfig) -> None:
    """Fail now where this machine cannot run ``config``'s accelerator, devices, nodes and strategy.

    Raises:
        ConfigError: Lightning refuses them (e.g. ``--accelerator gpu`` without a GPU).
    """
    make_trainer(
        **_machine(config),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


def _machine(config: TrainConfig) -> dict[str, Any]:
    """The Trainer options of ``config``'s accelerator, devices, nodes and strategy; ``--devices`` a count
    (-1: every device) as a number, else as given."""
    devices: int | str = int(config.devices) if re.fullmatch(r"-?\d+", config.devices) else config.devices
    return {
        "accelerator": config.accelerator,
        "devices": devices,
        "num_nodes": config.num_nodes,
        "strategy": config.trainer_strategy,
    }


def build_trainer(config: TrainConfig, callbacks: Sequence[Callback] = ()) -> L.Trainer:
    """The Lightning Trainer of a run: budget, devices, loggers, checkpointing, progress bar."""
    return make_trainer(
        default_root_dir=config.out,
        max_epochs=config.epochs if config.max_steps is None else -1,
        max_steps=config.max_steps if config.max_steps is not None else -1,
        **_machine(config),
        check_val_every_n_epoch=config.val_every,
        num_sanity_val_steps=0,
        log_every_n_steps=10,
        enable_progress_bar=config.progress_bar,
        enable_model_summary=config.progress_bar,
        logger=_loggers(config.out),
        use_distributed_sampler=False,
        callbacks=[
            # keeps the latest epoch's weights if the run is stopped; train() writes the final ones over them
            ModelCheckpoint(dirpath=config.out, filename="model", save_top_k=1, enable_version_counter=False),
            *callbacks,
        ],
    )


@dataclass
class TrainResult:
    """A finished run: its checkpoint, its final validation metrics (None without validation), its data."""

    checkpoint: Path
    metrics: dict[str, Any] | None
    data: PreparedData


_TASK_OPTIONS = {
    "optimizer", "lr", "weight_decay", "label_smoothing", "class_weights", "lr_schedule", "method", "regulariser_weight",
    "superpixel_weight", "pseudo_threshold", "pseudo_quantile", "pseudo_weight", "self_training_start", "consistency_weight",
}  # fmt: skip
"""The options of a run that :class:`~pointseg.task.PointSegModule` takes as they are."""


def resolve_class_weights(config: TrainConfig, data: PreparedData) -> list[float] | None:
    """The loss's class weights: ``--class-weights`` as given, or ``balanced`` computed from the training labels.

    ``balanced`` (:func:`~pointseg.losses.balanced_weights`) counts the labels trained on:
    the points, or every pixel of the masks with ``--full-masks``.

    Raises:
        ConfigError: Not one weight per class.
        DatasetError: ``balanced`` with no labelled pixel to count.
    """
    if config.class_weights == "balanced":
        labels = (scene.labels for scene in data.train_scenes if scene.labels is not None)
        try:
            return balanced_weights(labels, data.table.num_classes)
        except ValueError as err:  # full masks with no labelled pixel: points without any were refused before
            raise DatasetError(f"--class-weights balanced: {err}", fix="check the masks and the classes table") from err
    check_class_weights(config, data.table)
    return config.class_weights


def check_class_weights(config: TrainConfig, table: ClassTable) -> None:
    """Fail unless ``--class-weights``, where it lists weights, gives one per class of ``table``.

    Raises:
        ConfigError: Not one weight per class.
    """
    if isinstance(config.class_weights, list) and len(config.class_weights) != table.num_classes:
        raise ConfigError(
            f"--class-weights gives {len(config.class_weights)} weights for {table.num_classes} classes",
            fix=f"give one weight per class, in the order {', '.join(table.names)}, or balanced",
        )


def train(config: TrainConfig, callbacks: Sequence[Callback] = ()) -> TrainResult:
    """Run one training as ``config`` says and write its run folder (see the module docstring).

    Args:
        config: The run's options.
        callbacks: Extra Lightning callbacks.

    Raises:
        PointsegError: Bad data or options; :class:`TrainingDiverged` when the loss turns NaN.
    """
    L.seed_everything(config.seed, workers=True, verbose=False)
    data = prepare_data(config)
    class_weights = resolve_class_weights(config, data)
    stats = BandStats.compute(  # over pixels of a known class where masks exist (a raster's nodata is left out anyway)
        [scene.image for scene in data.train_scenes],
        bands=config.bands,
        method=config.normalisation,
        valid=[None if scene.mask is None else scene.mask != IGNORE_INDEX for scene in data.train_scenes],
    )
    for scene in data.val_scenes:  # read whole only at the first validation, after minutes of training: check them now
        if isinstance(scene.image, RasterPixels):
            scene.image.check()
    module = PointSegModule(
        model=ModelConfig(
            name=config.model,
            in_channels=stats.input_bands,
            num_classes=data.table.num_classes,
            width=config.width,
            depth=config.depth,
        ).model_dump(),
        classes=data.table.to_dict(),
        band_stats=stats.to_dict(),
        **config.model_dump(include=_TASK_OPTIONS) | {"class_weights": class_weights},
        validation_images=[str(Path(image).resolve()) for image in data.val_images],
    )
    report = None if config.init_weights is None else load_weights(module.model, config.init_weights)
    datamodule = PointSegDataModule(
        data.train_scenes,
        data.val_scenes,
        stats,
        config.crop,
        config.batch_size,
        config.seed,
        config.num_workers,
        config.crop_placement,
    )
    metrics_path, checkpoint = config.out / "metrics.json", config.out / "model.ckpt"
    trainer = build_trainer(config, [MetricsWriter(metrics_path), PreciseBatchNorm(config.precise_bn), *callbacks])
    config.out.mkdir(parents=True, exist_ok=True)
    if rank_zero_only.rank == 0:  # every check passed: only now is an earlier run in the folder replaced
        (config.out / "config.json").write_text(config.model_dump_json(indent=2))
        data.write_points(config.out)
        for stale in (metrics_path, config.out / EVALUATION / "metrics.json", config.out / INIT_WEIGHTS, checkpoint):
            stale.unlink(missing_ok=True)
        if report is not None:
            (config.out / INIT_WEIGHTS).write_text(json.dumps(asdict(report), indent=2))
            warnings.warn(PointsegWarning(f"{report.summary()} (list in {config.out / INIT_WEIGHTS})"), stacklevel=2)
    trainer.fit(module, datamodule=datamodule)
    trainer.save_checkpoint(checkpoint)
    if data.val_scenes and (config.precise_bn or module.evaluation_step != trainer.global_step):
        # the network as saved, PreciseBN's statistics included, was not validated yet;
        # a Trainer without logger, so that metrics.csv of the fit is left as it is
        final = make_trainer(
            accelerator=config.accelerator,
            devices=trainer.num_devices,
            num_nodes=config.num_nodes,
            strategy=config.trainer_strategy,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=config.progress_bar,
            enable_model_summary=False,
            use_distributed_sampler=False,
            callbacks=[MetricsWriter(metrics_path)],
        )
        final.validate(module, datamodule=datamodule, verbose=False)
    metrics = json.loads(metrics_path.read_text()) if trainer.is_global_zero and metrics_path.exists() else None
    return TrainResult(checkpoint, metrics, data)
