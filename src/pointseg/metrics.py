"""Segmentation metrics computed from a confusion matrix.

The confusion matrix counts pixels: rows are the true class, columns the predicted one.
Pixels labelled :data:`~pointseg.classes.IGNORE_INDEX` are not counted. From it:

* overall (pixel) accuracy: trace / total;
* per-class IoU: TP / (TP + FP + FN) and F1: 2 TP / (2 TP + FP + FN); a class that is
  neither present nor predicted has no IoU (NaN, shown as ``null`` in JSON);
* mIoU: the mean of the defined per-class IoUs (macro average);
* Cohen's kappa: (p_o - p_e) / (1 - p_e), agreement corrected for chance.

Example:
    >>> import numpy as np
    >>> cm = np.array([[3, 1], [0, 4]])
    >>> m = segmentation_metrics(cm, ["a", "b"])
    >>> m.accuracy, round(m.miou, 4), m.kappa
    (0.875, 0.775, 0.75)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


def confusion_matrix(prediction: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``(num_classes, num_classes)`` pixel counts, rows true class, columns predicted.

    Pixels whose target is :data:`~pointseg.classes.IGNORE_INDEX` (or any negative
    value) are skipped.
    """
    valid = target >= 0
    index = target[valid].long() * num_classes + prediction[valid].long()
    return torch.bincount(index, minlength=num_classes**2).reshape(num_classes, num_classes)


@dataclass(frozen=True)
class SegmentationMetrics:
    """Scores of a prediction against dense masks.

    Attributes:
        accuracy: Share of labelled pixels predicted correctly.
        miou: Mean IoU over classes with a defined IoU.
        kappa: Cohen's kappa.
        per_class_iou: IoU by class name (NaN where undefined).
        per_class_f1: F1 by class name (NaN where undefined).
        confusion_matrix: Pixel counts, rows true, columns predicted.
    """

    accuracy: float
    miou: float
    kappa: float
    per_class_iou: dict[str, float]
    per_class_f1: dict[str, float]
    confusion_matrix: list[list[int]]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form; undefined values become None."""

        def clean(value: float) -> float | None:
            return None if math.isnan(value) else value

        return {
            "accuracy": clean(self.accuracy),
            "miou": clean(self.miou),
            "kappa": clean(self.kappa),
            "per_class_iou": {k: clean(v) for k, v in self.per_class_iou.items()},
            "per_class_f1": {k: clean(v) for k, v in self.per_class_f1.items()},
            "confusion_matrix": self.confusion_matrix,
        }


def segmentation_metrics(matrix: np.ndarray | torch.Tensor, names: Sequence[str]) -> SegmentationMetrics:
    """All metrics of a confusion matrix.

    Args:
        matrix: ``(C, C)`` counts, rows true class, columns predicted.
        names: The ``C`` class names.
    """
    cm = np.asarray(matrix, dtype=np.float64)
    if cm.shape != (len(names), len(names)):
        raise ValueError(f"confusion matrix of shape {cm.shape} for {len(names)} classes")
    total = cm.sum()
    tp = np.diag(cm)
    true_count, predicted_count = cm.sum(axis=1), cm.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = tp / (true_count + predicted_count - tp)
        f1 = 2 * tp / (true_count + predicted_count)
        accuracy = tp.sum() / total
        chance = (true_count * predicted_count).sum() / total**2
        kappa = (accuracy - chance) / (1 - chance) if chance < 1 else (1.0 if accuracy == 1 else 0.0)
        kappa = kappa if total else float("nan")  # no pixel: no agreement to measure, like accuracy
    miou = float(np.nanmean(iou)) if not np.isnan(iou).all() else float("nan")
    return SegmentationMetrics(
        accuracy=float(accuracy),
        miou=miou,
        kappa=float(kappa),
        per_class_iou=dict(zip(names, iou.tolist())),
        per_class_f1=dict(zip(names, f1.tolist())),
        confusion_matrix=cm.astype(np.int64).tolist(),
    )


__all__ = ["SegmentationMetrics", "confusion_matrix", "segmentation_metrics"]
