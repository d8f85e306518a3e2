"""Reports: metrics as a terminal table and prediction panels as figures.

Example:
    >>> metrics = {"loss": 0.5, "accuracy": 0.9, "miou": 0.7, "kappa": 0.8,
    ...            "per_class_iou": {"land": 0.8, "water": 0.6}, "per_class_f1": {"land": 0.9, "water": 0.75}}
    >>> table = metrics_table(metrics)
    >>> list(table.columns[0].cells)
    ['mIoU', 'pixel accuracy', 'kappa', 'loss', 'class land', 'class water']
    >>> list(table.columns[1].cells), list(table.columns[2].cells)[-2:]
    (['0.7000', '0.9000', '0.8000', '0.5000', '', ''], ['0.8000', '0.6000'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.table import Table

from pointseg.classes import ClassTable
from pointseg.data.dataset import Scene
from pointseg.data.points import PointLabels
from pointseg.figures import pyplot

if TYPE_CHECKING:
    from pointseg.predict import Segmenter

_SUMMARY = (("miou", "mIoU"), ("accuracy", "pixel accuracy"), ("kappa", "kappa"), ("loss", "loss"))


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _rows(metrics: Mapping[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    summary = [(label, _fmt(metrics.get(key))) for key, label in _SUMMARY]
    per_class = [(name, _fmt(iou), _fmt(metrics["per_class_f1"].get(name))) for name, iou in metrics["per_class_iou"].items()]
    return summary, per_class


def metrics_table(metrics: Mapping[str, Any], title: str = "evaluation") -> Table:
    """A rich table of the summary metrics and per-class IoU and F1, for the terminal."""
    summary, per_class = _rows(metrics)
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("IoU", justify="right")
    table.add_column("F1", justify="right")
    for label, value in summary:
        table.add_row(label, value, "", "")
    for name, iou, f1 in per_class:
        table.add_row(f"class {name}", "", iou, f1)
    return table


@dataclass
class Panel:
    """One row of a prediction figure.

    Attributes:
        key: Image key, the row's title.
        image: ``(H, W, bands)`` image; the first three bands are shown.
        mask: Dense ground truth ``(H, W)`` or None.
        points: ``(rows, cols, classes)`` of the training points on this image, or None.
        prediction: Predicted classes ``(H, W)``.
    """

    key: str
    image: np.ndarray
    mask: np.ndarray | None
    points: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    prediction: np.ndarray


def _display(image: np.ndarray) -> np.ndarray:
    """An image's first three bands (or its one band as grey) stretched from its 1st to 99th percentile; holes black.

    >>> _display(np.array([[[0.0], [np.nan], [10.0]]]))[0, :, 0].tolist()
    [0.0, 0.0, 1.0]
    """
    rgb = image[..., :3].astype(np.float64)
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    if np.isnan(rgb).all():
        return np.zeros_like(rgb)
    low, high = np.nanpercentile(rgb, (1, 99))
    return np.nan_to_num(np.clip((rgb - low) / max(high - low, 1e-9), 0, 1), nan=0.0)


def prediction_figure(panels: Sequence[Panel], classes: ClassTable, path: str | Path) -> Path:
    """Save a figure with one row per image: image, ground truth, points, prediction."""
    plt = pyplot()
    from matplotlib.patches import Patch

    from pointseg.predict import colourise

    colours = np.array(classes.colours) / 255
    fig, axes = plt.subplots(len(panels), 4, figsize=(13, 3.3 * len(panels)), squeeze=False)
    for row, panel in zip(axes, panels):
        picture = _display(panel.image)
        row[0].imshow(picture)
        row[0].set_title(panel.key, fontsize=9)
        if panel.mask is not None:
            row[1].imshow(colourise(panel.mask, classes))
        row[1].set_title("ground truth", fontsize=9)
        row[2].imshow(picture)
        if panel.points is not None:
            rows, cols, cls = panel.points
            row[2].scatter(cols, rows, c=colours[cls], s=28, edgecolors="white", linewidths=0.8)
        points_title = "held out: no points" if panel.points is None else f"training points ({len(panel.points[0])})"
        row[2].set_title(points_title, fontsize=9)
        row[3].imshow(colourise(panel.prediction, classes))
        row[3].set_title("prediction", fontsize=9)
        for axis in row:
            axis.set_axis_off()
    handles = [Patch(color=c, label=n) for n, c in zip(classes.names, colours)]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    path = Path(path)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def prediction_panels(
    segmenter: Segmenter, held_out: Sequence[Scene], trained: Sequence[Scene], points: PointLabels | None
) -> list[Panel]:
    """Panels of validation scenes (no points) and of training scenes with their points."""
    panels = []
    for role, scenes in (("validation", held_out), ("training", trained)):
        for scene in scenes:
            image, own = np.asarray(scene.image), None
            if role == "training" and points is not None:
                mine = points.of_image(scene.key)
                own = (mine.rows, mine.cols, mine.classes)
            panels.append(Panel(f"{role}: {scene.key}", image, scene.mask, own, segmenter.predict(image)))
    return panels
