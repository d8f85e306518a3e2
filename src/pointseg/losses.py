"""Partial cross-entropy: cross-entropy over labelled pixels only.

With point labels nearly every pixel is unlabelled (:data:`~pointseg.classes.IGNORE_INDEX`).
The partial cross-entropy sums the per-pixel cross-entropy over the labelled pixels and
divides by their number, so unlabelled pixels add nothing to the loss and receive no
gradient. With class weights the divisor is the summed weight of the labelled pixels
(a weighted mean, as in :func:`torch.nn.functional.cross_entropy`), so the loss keeps
its scale whatever the weights.

Example:
    >>> import torch
    >>> logits = torch.tensor([[[[2.0, 0.0]], [[0.0, 0.0]]]])  # (batch 1, 2 classes, 1x2 image)
    >>> labels = torch.tensor([[[0, IGNORE_INDEX]]])            # one labelled pixel
    >>> round(float(partial_cross_entropy(logits, labels)), 4)  # -log(e^2 / (e^2 + 1))
    0.1269
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from pointseg.classes import IGNORE_INDEX


def partial_cross_entropy(
    logits: torch.Tensor,
    labels: torch.Tensor,
    weight: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
    ignore_index: int = IGNORE_INDEX,
) -> torch.Tensor:
    """Cross-entropy averaged over the labelled pixels.

    Args:
        logits: ``(N, C, H, W)`` unnormalised class scores.
        labels: ``(N, H, W)`` class indices, ``ignore_index`` where unlabelled.
        weight: Optional ``(C,)`` class weights.
        label_smoothing: Share of the target mass spread uniformly over all classes.
        ignore_index: Label of unlabelled pixels.

    Returns:
        A scalar. With no labelled pixel it is zero, still attached to the graph
        (its gradient is zero), never NaN.
    """
    per_pixel = F.cross_entropy(
        logits, labels, weight=weight, ignore_index=ignore_index, reduction="none", label_smoothing=label_smoothing
    )
    labelled = labels != ignore_index
    if weight is None:
        denominator = labelled.sum()
    else:
        denominator = weight.to(logits.dtype)[labels.masked_fill(~labelled, 0)].masked_fill(~labelled, 0).sum()
    return per_pixel.sum() / denominator.clamp(min=1e-12) if bool(labelled.any()) else logits.sum() * 0.0


class PartialCrossEntropy(nn.Module):
    """:func:`partial_cross_entropy` as a module.

    Args:
        weight: Optional class weights, one per class.
        label_smoothing: Share of the target mass spread uniformly over all classes.
    """

    def __init__(self, weight: Sequence[float] | None = None, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("weight", None if weight is None else torch.as_tensor(weight, dtype=torch.float32))
        self.label_smoothing = label_smoothing

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Loss of ``logits`` ``(N, C, H, W)`` against ``labels`` ``(N, H, W)``."""
        return partial_cross_entropy(logits, labels, self.weight, self.label_smoothing)
