"""Evaluate a checkpoint on whole images against their dense masks.

The same code computes the validation metrics during training
(:meth:`~pointseg.task.PointSegModule.validation_step`): loss over all labelled mask
pixels, pixel accuracy, mIoU, per-class IoU and F1, kappa and the confusion matrix.

Example:
    >>> metrics = evaluate("runs/a/model.ckpt", "dataset/val", out="runs/a/eval")  # doctest: +SKIP
    >>> sorted(metrics)[:3]  # doctest: +SKIP
    ['accuracy', 'confusion_matrix', 'kappa']
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch.utils.data import DataLoader

from pointseg.data.dataset import Scene, WholeImageDataset
from pointseg.data.discover import discover_pairs
from pointseg.data.raster import bands_note
from pointseg.data.scenes import load_scenes
from pointseg.errors import ClassesError
from pointseg.predict import load_module
from pointseg.task import PointSegModule
from pointseg.training import make_trainer


def evaluate(
    checkpoint: str | Path, data: str | Path, out: str | Path | None = None, accelerator: str = "auto"
) -> dict[str, Any]:
    """Metrics of a checkpoint on every image/mask pair under ``data``.

    Args:
        checkpoint: A ``model.ckpt`` written by training.
        data: Dataset root with ``images``/``masks`` folders.
        out: If given, ``metrics.json`` is written into this folder.
        accelerator: ``auto``, ``cpu`` or ``gpu``.

    Returns:
        The metrics, as written to ``metrics.json``.
    """
    module = load_module(checkpoint)
    pairs = discover_pairs(data)
    try:
        scenes = load_scenes(pairs, module.classes)
    except ClassesError as err:  # the table is the model's: the user cannot give another
        raise ClassesError(
            f"the masks under {data} do not fit the classes the model was trained on: {err.message}",
            fix="evaluate on masks coded as the training masks were (colours or values of the model's classes table: "
            f"{', '.join(module.classes.names)})",
        ) from err
    for pair, scene in zip(pairs, scenes):
        module.band_stats.check(scene.image.shape[2], pair.image, bands_note(scene.image))
    if out is not None:  # before the evaluation, so that a file in the way costs no evaluation
        Path(out).mkdir(parents=True, exist_ok=True)
    metrics = evaluate_module(module, scenes, accelerator)
    if out is not None:
        (Path(out) / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def evaluate_module(module: PointSegModule, scenes: Sequence[Scene], accelerator: str = "auto") -> dict[str, Any]:
    """Metrics of a module, as it is, on scenes with dense masks (their ``labels``); what :func:`evaluate` computes."""
    loader = DataLoader(WholeImageDataset(scenes, module.band_stats), batch_size=1)
    trainer = make_trainer(
        accelerator=accelerator, devices=1, logger=False, enable_model_summary=False, enable_checkpointing=False
    )
    trainer.validate(module, dataloaders=loader, verbose=False)
    return module.evaluation
