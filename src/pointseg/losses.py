"""Partial cross-entropy over the labelled pixels, and a regulariser that spreads the labels along image structure.

With point labels nearly every pixel is unlabelled (:data:`~pointseg.classes.IGNORE_INDEX`).
The partial cross-entropy sums the per-pixel cross-entropy over the labelled pixels and
divides by their number, so unlabelled pixels add nothing to the loss and receive no
gradient. With class weights the divisor is the summed weight of the labelled pixels
(a weighted mean, as in :func:`torch.nn.functional.cross_entropy`), so the loss keeps
its scale whatever the weights.

The regulariser (:func:`potts_regulariser`) looks at every pixel, labelled or not: it
charges neighbouring pixels of similar colour for disagreeing, so the few labels spread
along image regions and stop at edges (the relaxed Potts / CRF loss of Tang et al., "On
Regularized Losses for Weakly-supervised CNN Segmentation", ECCV 2018, on a local window).

Self-training (:func:`pseudo_labels`) adds a teacher's confident predictions on unlabelled
pixels as labels of their own (Lee, "Pseudo-Label", ICML workshop 2013; the teacher an
exponential moving average of the network, Tarvainen and Valpola, "Mean teachers",
NeurIPS 2017); a real point is never overwritten.

Consistency (:func:`consistency_loss`) asks the network to predict on a flipped or rotated,
recoloured view of the batch what it predicts on the batch itself, on every pixel: the
transformation-consistency regularisation of semi-supervised learning (Laine and Aila,
"Temporal Ensembling for Semi-Supervised Learning", ICLR 2017; Sajjadi et al., NeurIPS 2016).

Example:
    >>> import torch
    >>> logits = torch.tensor([[[[2.0, 0.0]], [[0.0, 0.0]]]])  # (batch 1, 2 classes, 1x2 image)
    >>> labels = torch.tensor([[[0, IGNORE_INDEX]]])            # one labelled pixel
    >>> round(float(partial_cross_entropy(logits, labels)), 4)  # -log(e^2 / (e^2 + 1))
    0.1269
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
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
        (its gradient is zero), never NaN. A pixel of a class of weight 0 counts as
        unlabelled (with label smoothing it would still add its smoothed share, over a
        total weight of 0).
    """
    labelled = labels != ignore_index
    if weight is not None:
        labelled &= weight[labels.masked_fill(~labelled, 0)] > 0
        labels = labels.masked_fill(~labelled, ignore_index)
    per_pixel = F.cross_entropy(
        logits, labels, weight=weight, ignore_index=ignore_index, reduction="none", label_smoothing=label_smoothing
    )
    if weight is None:
        denominator = labelled.sum()
    else:
        denominator = weight.to(logits.dtype)[labels.masked_fill(~labelled, 0)].masked_fill(~labelled, 0).sum()
    return per_pixel.sum() / denominator.clamp(min=1e-12)  # no labelled pixel: 0 / 1e-12, no host sync to test for it


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


def balanced_weights(labels: Iterable[np.ndarray], num_classes: int) -> list[float]:
    """Class weights inverse to each class's share of the labelled pixels (``--class-weights balanced``).

    A class with ``n_c`` of the ``n`` labelled pixels weighs ``n / (k * n_c)``, ``k`` the
    number of classes that have labels, as scikit-learn's ``class_weight="balanced"``
    (King and Zeng, "Logistic Regression in Rare Events Data", 2001): every class then
    weighs as much in the loss as if all were equally frequent, so a class that few
    points fall on (a road among desert) is not learnt as the background's exception.
    A class without labels weighs 1.

    Args:
        labels: Label arrays, :data:`~pointseg.classes.IGNORE_INDEX` where unlabelled.
        num_classes: Number of classes.

    Raises:
        ValueError: No labelled pixel at all.

    Example:
        >>> balanced_weights([np.array([0, 0, 0, 1, IGNORE_INDEX])], 3)  # 4 pixels, 2 classes with labels
        [0.6666666666666666, 2.0, 1.0]
    """
    counts = np.zeros(num_classes, np.int64)
    for array in labels:
        counts += np.bincount(array[array != IGNORE_INDEX].ravel(), minlength=num_classes)[:num_classes]
    present = counts > 0
    if not present.any():
        raise ValueError("balanced class weights need labelled pixels: there are none")
    weights = np.ones(num_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights.tolist()


def potts_regulariser(
    probabilities: torch.Tensor,
    image: torch.Tensor,
    valid: torch.Tensor | None = None,
    radius: int = 2,
    dilation: int = 2,
    sigma_colour: float = 0.5 / math.sqrt(3),
    sigma_space: float = 3.0,
) -> torch.Tensor:
    """Relaxed Potts (CRF) energy of a soft segmentation under colour affinities, on a local window.

    ``sum over pixel pairs (i, j) of w_ij * (1 - S_i . S_j)``, averaged over the pairs, where
    ``S`` are class probabilities and ``w_ij = exp(-d_ij^2 / 2 sigma_colour^2 -
    |p_i - p_j|^2 / 2 sigma_space^2)``, ``d_ij^2`` the mean over bands of ``(I_i - I_j)^2``
    (so that the affinity means the same with 3 bands or 13), for pixels ``j`` within ``radius`` steps of
    ``dilation`` pixels of ``i`` (each pair counted once). It is zero for a one-hot
    segmentation that is constant, costs a pair that disagrees inside a uniform region its
    spatial weight (0.8 for the nearest pairs with the defaults) and little for a pair split
    by a strong edge. The labels play no part in it, nor do pairs with a pixel outside
    ``valid`` (nodata, padding). Its cost is one multiply-add per class and pair:
    ``2 radius (radius + 1)`` shifted products.

    Args:
        probabilities: ``(N, C, H, W)`` class probabilities (softmax of the logits).
        image: ``(N, B, H, W)`` the normalised input bands (``mean-std``: colour distances in standard
            deviations; ``percentiles``: bands in [-1, 1]).
        valid: ``(N, H, W)`` False where the image has no data (None: every pixel has).
        radius: Neighbours per direction.
        dilation: Pixels between neighbours.
        sigma_colour: Colour scale of the affinity, a root-mean-square difference over the normalised
            bands; the default, 0.29, is the scale 0.5 of the summed squares of three bands.
        sigma_space: Spatial scale of the affinity, in pixels.

    >>> flat = torch.zeros(1, 3, 8, 8)
    >>> one_hot = torch.zeros(1, 2, 8, 8); one_hot[:, 0] = 1
    >>> float(potts_regulariser(one_hot, flat))
    0.0
    """
    _, _, height, width = probabilities.shape
    total = probabilities.new_zeros(())
    pairs = probabilities.new_zeros(())  # a tensor, so that counting costs the GPU no sync per offset
    offsets = [(dy, dx) for dy in range(0, radius + 1) for dx in range(-radius, radius + 1) if dy > 0 or dx > 0]
    for dy, dx in offsets:
        oy, ox = dy * dilation, dx * dilation
        if oy >= height or abs(ox) >= width:
            continue
        a = (slice(None), slice(None), slice(0, height - oy), slice(max(0, -ox), width - max(0, ox)))
        b = (slice(None), slice(None), slice(oy, height), slice(max(0, ox), width - max(0, -ox)))
        colour = (image[a] - image[b]).square().mean(dim=1)
        weight = torch.exp(-colour / (2 * sigma_colour**2) - (oy**2 + ox**2) / (2 * sigma_space**2))
        agreement = (probabilities[a] * probabilities[b]).sum(dim=1)
        if valid is None:
            pairs += weight.numel()
        else:
            both = valid[a[:1] + a[2:]] & valid[b[:1] + b[2:]]  # the pixel slices, without the class axis
            weight = torch.where(both, weight, 0.0)
            pairs += both.sum()
        total = total + (weight * (1 - agreement)).sum()
    return total / pairs.clamp(min=1)


def pseudo_labels(
    probabilities: torch.Tensor,
    labels: torch.Tensor,
    threshold: float,
    valid: torch.Tensor | None = None,
    quantile: float | None = None,
) -> torch.Tensor:
    """A teacher's confident classes on the unlabelled pixels, :data:`IGNORE_INDEX` elsewhere.

    With ``quantile``, each predicted class has a threshold of its own: the lower of
    ``threshold`` and that quantile of the teacher's confidence over the unlabelled pixels
    of the batch it assigns to the class, so that a class the teacher is never sure of
    (thin roads) still gets its most confident ``1 - quantile`` share of pixels
    (class-balanced self-training, Zou et al., "Unsupervised Domain Adaptation for Semantic Segmentation via
    Class-Balanced Self-Training", ECCV 2018).

    Args:
        probabilities: ``(N, C, H, W)`` the teacher's class probabilities.
        labels: ``(N, H, W)`` the real labels: where one exists, no pseudo-label is made.
        threshold: Least probability of the top class for a pixel to be labelled.
        valid: ``(N, H, W)`` False where the image has no data (nodata, padding): no pseudo-label there.
        quantile: Per-class threshold as above (None: ``threshold`` for every class).

    >>> probabilities = torch.tensor([[[[0.95, 0.6, 0.97]], [[0.05, 0.4, 0.03]]]])
    >>> labels = torch.tensor([[[IGNORE_INDEX, IGNORE_INDEX, 1]]])
    >>> pseudo_labels(probabilities, labels, 0.9).tolist()  # confident; not confident; a real point
    [[[0, -100, -100]]]
    """
    confidence, classes = probabilities.max(dim=1)
    candidate = labels == IGNORE_INDEX
    if valid is not None:
        candidate &= valid
    least = torch.full_like(confidence, threshold)
    if quantile is not None:
        for c in classes[candidate].unique():
            of_class = candidate & (classes == c)
            ranked = confidence[of_class].sort().values  # torch.quantile refuses more than 2**24 values
            position = quantile * (ranked.numel() - 1)
            below, above = ranked[int(position)], ranked[math.ceil(position)]
            least[of_class] = torch.clamp(below + (above - below) * (position - int(position)), max=threshold)
    keep = candidate & (confidence >= least)
    return torch.where(keep, classes, torch.full_like(classes, IGNORE_INDEX))


def consistency_loss(
    target: torch.Tensor, logits: torch.Tensor, valid: torch.Tensor | None = None, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Kullback-Leibler divergence of ``softmax(logits)`` from ``target``, averaged over the valid pixels.

    ``KL(p || q) = sum_c p_c (log p_c - log q_c)`` per pixel, ``p`` the target probabilities
    (the network's own prediction on the untransformed batch, taken as a constant) and ``q``
    those of ``logits`` (its prediction on the transformed view, brought back to the same
    pixels). Zero where the two agree, whatever the class; labels play no part. With class
    weights each pixel weighs as much as its target's most likely class, and the mean is
    weighted, as in :func:`partial_cross_entropy`: without them the term, over every pixel,
    is ruled by the most common class and pulls rare ones towards it.

    Args:
        target: ``(N, C, H, W)`` class probabilities to match (no gradient flows into them).
        logits: ``(N, C, H, W)`` the logits that should match them.
        valid: ``(N, H, W)`` False on nodata and padding, left out (None: every pixel counts).
        weight: Optional ``(C,)`` class weights.

    >>> target = torch.tensor([[[[0.5]], [[0.5]]]])
    >>> float(consistency_loss(target, torch.zeros(1, 2, 1, 1)))
    0.0
    >>> round(float(consistency_loss(target, torch.tensor([[[[2.0]], [[0.0]]]]))), 4)  # 0.5 log(0.5/q0) + 0.5 log(0.5/q1)
    0.4338
    """
    target = target.detach()
    divergence = (torch.special.xlogy(target, target) - target * torch.log_softmax(logits, dim=1)).sum(dim=1)
    pixel_weight = torch.ones_like(divergence) if weight is None else weight.to(divergence.dtype)[target.argmax(dim=1)]
    if valid is not None:
        pixel_weight = pixel_weight * valid
    return (divergence * pixel_weight).sum() / pixel_weight.sum().clamp(min=1e-12)


class PointLoss(nn.Module):
    """The training loss of a ``--method``.

    * ``pce``: partial cross-entropy on the points;
    * ``crf``: plus ``regulariser_weight`` x :func:`potts_regulariser` on all pixels;
    * ``superpixels``: plus ``superpixel_weight`` x the partial cross-entropy of the points'
      labels spread to their superpixels (:mod:`pointseg.data.superpixels`);
    * ``superpixels+crf``: both;
    * ``self-training``: plus ``pseudo_weight`` x the partial cross-entropy of a teacher's
      :func:`pseudo_labels` (given as ``pseudo``; the teacher lives in the Lightning module);
    * ``consistency``: plus ``consistency_weight`` x :func:`consistency_loss` between the
      prediction on the batch and on a transformed view of it (given as ``view``; the view is
      made in the Lightning module), with the class weights of the cross-entropies;
    * ``superpixels+consistency``: both.

    Args:
        method: One of the above.
        weight: Optional class weights of the cross-entropies.
        label_smoothing: Label smoothing of the cross-entropies.
        regulariser_weight: Weight of the regulariser.
        superpixel_weight: Weight of the superpixel term (the points weigh 1).
        pseudo_weight: Weight of the pseudo-label term.
        consistency_weight: Weight of the consistency term.
    """

    def __init__(
        self,
        method: str = "pce",
        weight: Sequence[float] | None = None,
        label_smoothing: float = 0.0,
        regulariser_weight: float = 1.0,
        superpixel_weight: float = 0.5,
        pseudo_weight: float = 0.5,
        consistency_weight: float = 0.3,
    ) -> None:
        super().__init__()
        self.method = method
        self.cross_entropy = PartialCrossEntropy(weight, label_smoothing)
        self.regulariser_weight = regulariser_weight
        self.superpixel_weight = superpixel_weight
        self.pseudo_weight = pseudo_weight
        self.consistency_weight = consistency_weight

    def forward(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        image: torch.Tensor,
        expanded: torch.Tensor | None = None,
        pseudo: torch.Tensor | None = None,
        valid: torch.Tensor | None = None,
        view: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | None = None,
    ) -> dict[str, torch.Tensor]:
        """``{"loss": total, "pce": point term}`` and the method's terms, unweighted, by name.

        The names: ``"regulariser"`` (crf), ``"superpixels"``, ``"self_training"``, ``"consistency"``.

        ``pseudo`` is None during the warm-up of self-training: the term is left out.
        ``valid`` (False on nodata and padding) keeps such pixels out of the regulariser.
        ``view`` is ``(target probabilities, logits of the view, valid pixels of the view)``
        for :func:`consistency_loss`, all on the view's pixel grid.

        Raises:
            ValueError: A superpixel method without ``expanded`` labels, or consistency without ``view``.
        """
        terms = {"pce": self.cross_entropy(logits, labels)}
        loss = terms["pce"]
        if "superpixels" in self.method:
            if expanded is None:
                raise ValueError(f"--method {self.method} needs the superpixel labels of the batch")
            terms["superpixels"] = self.cross_entropy(logits, expanded)
            loss = loss + self.superpixel_weight * terms["superpixels"]
        if "crf" in self.method:
            terms["regulariser"] = potts_regulariser(torch.softmax(logits, dim=1), image, valid)
            loss = loss + self.regulariser_weight * terms["regulariser"]
        if pseudo is not None:
            terms["self_training"] = self.cross_entropy(logits, pseudo)
            loss = loss + self.pseudo_weight * terms["self_training"]
        if "consistency" in self.method:
            if view is None:
                raise ValueError(f"--method {self.method} needs the predictions on a view of the batch")
            terms["consistency"] = consistency_loss(*view, weight=self.cross_entropy.weight)
            loss = loss + self.consistency_weight * terms["consistency"]
        terms["loss"] = loss
        return terms
