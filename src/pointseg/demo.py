"""The built-in demo: the whole pipeline on the Dubai sample that ships with pointseg.

Simulates random points, trains the U-Net with partial cross-entropy, evaluates it on
held-out whole images against their dense masks, predicts colour masks for them and
writes a short report (``report.md`` with the metrics and ``predictions.png``).

The sample (``pointseg/sample/dubai``) holds parts 1, 4 and 7 of tiles 1-6 of "Dubai
aerial imagery, Humans in the Loop / MBRSC, CC0 1.0", at half resolution. The demo puts
0.04 % of pixels as points on it: as many points per square metre as 0.01 % at the
original resolution.

Example:
    >>> result = run_demo("pointseg-demo")  # doctest: +SKIP
    >>> result.report  # doctest: +SKIP
    PosixPath('pointseg-demo/report.md')
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from pointseg.config import TrainConfig
from pointseg.predict import Segmenter, colourise
from pointseg.report import metrics_markdown, prediction_figure, prediction_panels
from pointseg.training import train

CREDIT = "Dubai aerial imagery, Humans in the Loop / MBRSC, CC0 1.0"


def sample_root() -> Path:
    """Folder of the built-in sample (images, masks and ``classes.csv``)."""
    return Path(str(importlib.resources.files("pointseg") / "sample" / "dubai"))


def demo_config(out: Path, max_steps: int = 300) -> TrainConfig:
    """The demo's training options: small crops and budget so it runs in minutes on a CPU."""
    root = sample_root()
    return TrainConfig(
        data=root,
        classes=root / "classes.csv",
        out=out / "run",
        points="0.0004",
        val_fraction=0.2,
        crop=128,
        batch_size=8,
        max_steps=max_steps,
        val_every=5,
        seed=0,
    )


@dataclass
class DemoResult:
    """What the demo wrote."""

    report: Path
    figure: Path
    run: Path
    metrics: dict[str, Any]


def run_demo(out: str | Path = "pointseg-demo", max_steps: int = 300, accelerator: str = "auto") -> DemoResult:
    """Run the demo and write its outputs under ``out``.

    Args:
        out: Output folder.
        max_steps: Training steps (300 takes about three minutes on two CPU cores).
        accelerator: ``auto`` uses a GPU where present.
    """
    out = Path(out)
    config = demo_config(out, max_steps).model_copy(update={"accelerator": accelerator})
    result = train(config)
    assert result.metrics is not None, "the demo always validates"
    segmenter = Segmenter.from_checkpoint(result.checkpoint, accelerator)
    predictions = out / "predictions"
    predictions.mkdir(parents=True, exist_ok=True)
    for scene in result.data.val_scenes:
        labels = segmenter.predict(scene.image)
        Image.fromarray(colourise(labels, segmenter.classes)).save(predictions / f"{scene.key.replace('/', '_')}.png")
    points = result.data.points
    panels = prediction_panels(segmenter, result.data.val_scenes[:2], result.data.train_scenes[:2], points)
    figure = prediction_figure(panels, segmenter.classes, out / "predictions.png")
    report = out / "report.md"
    report.write_text(
        "# pointseg demo\n\n"
        f"Data: the built-in sample ({CREDIT}), {len(result.data.train_scenes)} training and "
        f"{len(result.data.val_scenes)} validation images (whole images, seeded split).\n\n"
        f"Training: U-Net (width {config.width}, depth {config.depth}) with partial cross-entropy on "
        f"{len(points)} random points ({config.points} of pixels), Adam lr {config.lr}, batch {config.batch_size}, "  # type: ignore[arg-type]
        f"crops of {config.crop} px, {config.max_steps} steps.\n\n"
        "## Validation against the dense masks\n\n"
        f"{metrics_markdown(result.metrics)}\n\n"
        "## Predictions\n\n"
        "Image, ground truth, training points, prediction:\n\n"
        f"![predictions]({figure.name})\n"
    )
    return DemoResult(report=report, figure=figure, run=config.out, metrics=result.metrics)
