"""Where to click next: the pixels whose label would teach the model most.

Four query strategies (``query``) rank the pixels of each image:

- ``entropy``: the model's predictive entropy, highest first, round-robin over the
  predicted classes (so that every class the model sees gets questions). The uncertainty
  sampling of active learning.
- ``typical``: TypiClust (Hacohen, Dekel and Weinshall, "Active Learning on a Budget:
  Opposite Strategies Suit High and Low Budgets", ICML 2022) on pixels. The features the
  network classifies (the input of its last layer) of about 10,000 pixels on a regular
  grid are clustered by k-means into as many clusters as the image will have labelled
  pixels; clusters holding the fewest labelled pixels come first, the largest first
  among them, and each gives its most typical pixel (the one closest, on average, to its
  20 nearest neighbours in the cluster). The paper's reasoning: at low budgets the
  uncertain samples are outliers that say little about the rest, the typical ones cover
  what the data holds.
- ``power``: stochastic power sampling (Kirsch, Farquhar, Atighehchian, Jesson,
  Branchaud-Charron and Gal, "Stochastic Batch Acquisition: A Simple Baseline for Deep
  Active Learning", TMLR 2023): pixels drawn at random without replacement, each with a
  chance in proportion to its entropy (the Gumbel-top-k trick), instead of the top-k.
  Every pixel keeps a chance, so the suggestions still cover each class roughly in
  proportion to its area, as random clicks do, only tilted towards where the model is
  unsure; no round-robin over predicted classes. Seeded: the same seed and image give
  the same draw. The default (:data:`~pointseg.config.DEFAULT_QUERY`).
- ``balanced``: ``power`` with each pixel's entropy divided by one plus the number of
  labels so far (over all images) of the class the model predicts there: the
  class-balanced acquisition of Cai, Xu, Liew and Foo ("Revisiting Superpixels for Active
  Learning in Semantic Segmentation with Realistic Annotation Costs", CVPR 2021), in
  which rare classes weigh more. Random clicks share out the labels as the classes share
  the pixels (on Dubai's training tiles, 8 % of them road, 39 % land); this draw gives the
  classes with few labels more of the next ones, flattening the labels' shares towards
  the balance that mIoU, a mean over classes, rewards. Without labels it draws as ``power``.

How each fares against random clicks in simulated annotation rounds on the Dubai images
(``power`` comes closest, 0.015 behind them with training noise averaged out, ``balanced``
trails them by less than training's own noise, ``entropy`` and ``typical`` fall behind):
``docs/learning-from-points.md``.

Whichever the strategy, suggestions are at least ``spacing`` pixels apart (Chebyshev
distance) and from the pixels already labelled, which are never suggested, nor are a
raster's pixels without data. With ``boundary_gap``, pixels closer than that to a change
of predicted class come last: the most uncertain pixels line the boundaries, where a
click is the hardest to place and says the least about the classes on either side. The
result is written as a CSV (``image,row,col``, the class the model guesses, ``x,y`` for
georeferenced images and the entropy) whose rows a user corrects and appends to the
points file of training (``--points-file``: the same first four columns), and optionally
as vector features whose class field holds the model's guess, to correct in QGIS.

Example:
    >>> probabilities = np.full((2, 6, 6), 0.5); probabilities[0, :, :3] = 0.99; probabilities[1, :, :3] = 0.01
    >>> rows, cols = suggest_pixels(probabilities, k=2, spacing=2, query="entropy")
    >>> sorted(zip(rows.tolist(), cols.tolist()))  # the uncertain right half, 2 pixels apart
    [(0, 3), (0, 5)]
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.cluster.vq import kmeans2, vq
from scipy.spatial import cKDTree
from skimage.morphology import dilation
from skimage.segmentation import find_boundaries

from pointseg.config import DEFAULT_QUERY, QUERIES, Query
from pointseg.data.discover import ImagePair
from pointseg.data.imagery import read_image
from pointseg.data.points import PointLabels, image_rng
from pointseg.data.vector import Georeference
from pointseg.errors import DatasetError, PointsegWarning, PointsError
from pointseg.predict import Ensemble, Segmenter


def entropy(probabilities: np.ndarray) -> np.ndarray:
    """Predictive entropy (nats) of class probabilities ``(C, ...)``: one value per pixel ``(...)``."""
    p = np.clip(probabilities, 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=0)


def check_options(k: int, spacing: int, boundary_gap: int = 0, query: str = DEFAULT_QUERY) -> None:
    """Refuse a number of suggestions or a spacing below 1, a negative boundary gap or an unknown query strategy.

    Raises:
        ValueError: ``k`` below 1 (nothing to suggest), ``spacing`` below 1 (a pixel would be suggested twice,
            or a labelled one again), ``boundary_gap`` below 0 or ``query`` not one of :data:`QUERIES`.
    """
    if k < 1:
        raise ValueError(f"the number of suggestions per image must be at least 1, not {k}")
    if spacing < 1:
        raise ValueError(f"the spacing of suggestions must be at least 1 pixel, not {spacing}")
    if boundary_gap < 0:
        raise ValueError(f"the gap of suggestions from class boundaries must be 0 pixels or more, not {boundary_gap}")
    if query not in QUERIES:
        raise ValueError(f"unknown query strategy {query!r}: choose one of {', '.join(QUERIES)}")


def near_boundaries(predicted: np.ndarray, gap: int) -> np.ndarray:
    """``(H, W)`` booleans: pixels closer than ``gap`` pixels (Chebyshev) to a change of class in ``predicted``.

    The pixels on either side of a change are at distance 0: ``gap`` 1 marks them alone, 0 nothing.

    Example:
        >>> near_boundaries(np.array([[0, 0, 0, 1, 1, 1]]), gap=2).astype(int)
        array([[0, 1, 1, 1, 1, 0]])
    """
    if gap == 0:
        return np.zeros(predicted.shape, dtype=bool)
    edges = find_boundaries(predicted, connectivity=2, mode="thick")
    return dilation(edges, np.ones((2 * gap - 1, 2 * gap - 1), dtype=bool))


def typicality(features: np.ndarray, neighbours: int = 20) -> np.ndarray:
    """Inverse mean Euclidean distance of each of ``(N, D)`` feature vectors to its ``neighbours`` nearest others.

    Fewer others than ``neighbours``: all of them; none: 0.

    >>> typicality(np.array([[0.0], [1.0], [3.0]]), neighbours=1).tolist()  # nearest: 1, 1 and 2 away
    [1.0, 1.0, 0.5]
    """
    count = min(neighbours, len(features) - 1)
    if count < 1:
        return np.zeros(len(features))
    distances, _ = cKDTree(features).query(features, k=count + 1)  # the first is the vector itself
    return 1 / np.maximum(distances[:, 1:].mean(axis=1), 1e-12)


class _Spacing:
    """The pixels of one image that a suggestion may no longer take: too close to a labelled or chosen one."""

    def __init__(self, spacing: int, labelled: np.ndarray | None, excluded: np.ndarray) -> None:
        self.spacing = spacing
        self.blocked = excluded.copy()  # ``(H, W)``: never suggested, but no reason to keep away from
        for pixel in np.flatnonzero(labelled) if labelled is not None else ():
            self.block(int(pixel))

    def block(self, pixel: int) -> None:
        """Block the pixels closer than the spacing to ``pixel`` (a flat index), itself included."""
        row, col = divmod(pixel, self.blocked.shape[1])
        s = self.spacing
        self.blocked[max(0, row - s + 1) : row + s, max(0, col - s + 1) : col + s] = True

    def open(self, queue: np.ndarray) -> np.ndarray:
        """The pixels of ``queue`` (flat indices) not blocked yet, in order.

        A large area without data is dropped at once, not stepped over pixel by pixel.
        """
        return queue[~self.blocked.ravel()[queue]]

    def first_free(self, queue: np.ndarray, start: int) -> int:
        """The position of the first pixel of ``queue`` (flat indices) from ``start`` on that is not blocked; its size if none."""
        while start < queue.size and self.blocked.flat[queue[start]]:
            start += 1
        return start


def suggest_pixels(
    probabilities: np.ndarray,
    k: int,
    spacing: int = 16,
    labelled: np.ndarray | None = None,
    boundary_gap: int = 0,
    query: Query = DEFAULT_QUERY,
    features: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    excluded: np.ndarray | None = None,
    class_counts: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cols)`` of up to ``k`` pixels to label next (see the module docstring).

    Args:
        probabilities: ``(C, H, W)`` class probabilities of one image; pixels where they are
            not finite (NaN) are never suggested.
        k: Number of suggestions (fewer only if the spacing leaves no room, or, for
            ``typical``, the grid of about 10,000 pixels it clusters runs out).
        spacing: Minimum distance in pixels between suggestions, and from labelled pixels
            (1: any other pixel).
        labelled: ``(H, W)`` booleans of the pixels already labelled.
        boundary_gap: Pixels closer than this to a change of predicted class come last: after
            the others of their predicted class (``entropy``, which takes turns over the
            classes), of their cluster (``typical``) or of the image (``power``, ``balanced``)
            (0: no gap; see :func:`near_boundaries`).
        query: The query strategy, ``entropy``, ``typical``, ``power`` (the default) or ``balanced``.
        features: ``(D, H, W)`` features of the pixels, for ``typical`` (see :meth:`Segmenter.features`).
        rng: The random draw of ``power`` and ``balanced`` (None: ``np.random.default_rng(0)``).
        excluded: ``(H, W)`` booleans of pixels never to suggest, such as a raster's pixels
            without data; unlike labelled pixels, they do not keep suggestions at a distance.
        class_counts: ``(C,)`` labels of each class so far, over all images, for ``balanced``
            (None: none yet, which draws as ``power`` does).

    Raises:
        ValueError: An option :func:`check_options` refuses, ``typical`` without ``features``,
            or a map not of the image's size.
    """
    check_options(k, spacing, boundary_gap, query)
    if query == "typical" and features is None:
        raise ValueError("the typical query strategy needs the features of the pixels")
    size = probabilities.shape[1:]
    for name, array in (("labelled", labelled), ("excluded", excluded), ("features", features)):
        if array is not None and array.shape[-2:] != size:
            raise ValueError(f"{name} has the shape {array.shape}, not that of the {size[0]} x {size[1]} image")
    unusable = ~np.isfinite(probabilities).all(axis=0)
    free = _Spacing(spacing, labelled, unusable if excluded is None else unusable | excluded)
    predicted = probabilities.argmax(axis=0)
    late = near_boundaries(predicted, boundary_gap).ravel()
    if query == "entropy":
        order = free.open(np.lexsort((-entropy(probabilities).ravel(), late)))  # last key first
        chosen = _round_robin(order, predicted.ravel()[order], k, free)
    elif query in ("power", "balanced"):
        weights = entropy(probabilities)
        if query == "balanced" and class_counts is not None:
            weights = weights / (1 + _checked_counts(class_counts, probabilities.shape[0]))[predicted]
        rng = np.random.default_rng(0) if rng is None else rng
        keys = np.log(np.maximum(weights.ravel(), 1e-12)) + rng.gumbel(size=late.size)
        order = free.open(np.lexsort((-keys, late)))  # the top keys: a draw in proportion to the weights
        chosen = _round_robin(order, np.zeros(order.size, np.int64), k, free)
    else:
        chosen = _most_typical(features, k, free, labelled, late)
    rows, cols = np.divmod(np.array(chosen, dtype=np.int64), probabilities.shape[2])
    return rows, cols


def _checked_counts(class_counts: np.ndarray, classes: int) -> np.ndarray:
    """``class_counts`` as floats, refused unless one count of 0 or more per class.

    Raises:
        ValueError: Not ``(classes,)``, or a count below 0.
    """
    counts = np.asarray(class_counts, dtype=np.float64)
    if counts.shape != (classes,) or (counts < 0).any():
        raise ValueError(f"class_counts must hold one count of 0 or more for each of {classes} classes, not {class_counts!r}")
    return counts


def _round_robin(order: np.ndarray, groups: np.ndarray, k: int, free: _Spacing) -> list[int]:
    """Up to ``k`` flat pixel indices of ``order`` (best first), taking turns over ``groups`` (one per pixel of ``order``).

    Each turn takes the first free pixel of every group, the group whose pixel comes first
    in ``order`` first: a last turn cut short by ``k`` goes to the best pixels.

    >>> _round_robin(np.arange(6), np.array([0, 0, 1, 1, 2, 2]), 4, _Spacing(1, None, np.zeros((1, 6), bool)))
    [0, 2, 4, 1]
    """
    queues = [np.flatnonzero(groups == group) for group in np.unique(groups)]  # places in order, best first
    pixels = [order[queue] for queue in queues]
    positions = [0] * len(queues)
    chosen: list[int] = []
    while len(chosen) < k and queues:
        positions = [free.first_free(p, start) for p, start in zip(pixels, positions)]
        live = [q for q in range(len(queues)) if positions[q] < queues[q].size]
        queues, pixels, positions = [queues[q] for q in live], [pixels[q] for q in live], [positions[q] for q in live]
        for q in sorted(range(len(queues)), key=lambda q: queues[q][positions[q]]):
            positions[q] = free.first_free(pixels[q], positions[q])  # a pixel chosen this turn may block it
            if positions[q] == queues[q].size or len(chosen) == k:
                continue
            chosen.append(int(pixels[q][positions[q]]))
            free.block(chosen[-1])
    return chosen


_GRID_PIXELS = 10_000
"""Pixels of each image clustered by the typical query strategy, on a regular grid."""


def _most_typical(features: np.ndarray, k: int, free: _Spacing, labelled: np.ndarray | None, late: np.ndarray) -> list[int]:
    """Up to ``k`` flat pixel indices by TypiClust (see the module docstring); ``late`` pixels come last in a cluster."""
    height, width = free.blocked.shape
    stride = max(1, math.ceil(math.sqrt(height * width / _GRID_PIXELS)))
    grid = np.zeros((height, width), dtype=bool)
    grid[stride // 2 :: stride, stride // 2 :: stride] = True
    candidates = np.flatnonzero(grid & ~free.blocked)
    vectors = features.reshape(features.shape[0], -1).T
    unit = _normalised(vectors[candidates])
    known = np.flatnonzero(labelled) if labelled is not None else np.zeros(0, dtype=np.int64)
    count = min(known.size + k, len(np.unique(unit, axis=0)))  # k-means++ needs as many distinct vectors
    if count == 0:
        return []
    with warnings.catch_warnings():  # a cluster that ends up empty is simply never asked
        warnings.filterwarnings("ignore", "One of the clusters is empty")
        centroids, cluster = kmeans2(unit, count, minit="++", rng=np.random.default_rng(0))
    covered = np.bincount(vq(_normalised(vectors[known]), centroids)[0], minlength=count) if known.size else np.zeros(count, int)
    sizes = np.bincount(cluster, minlength=count)
    queues = {}
    for c in np.flatnonzero(sizes):
        members = np.flatnonzero(cluster == c)
        queues[int(c)] = candidates[members[np.lexsort((-typicality(unit[members]), late[candidates[members]]))]]
    positions = dict.fromkeys(queues, 0)
    chosen: list[int] = []
    while len(chosen) < k and queues:
        c = min(queues, key=lambda c: (covered[c], -sizes[c], c))  # the least covered, then the largest cluster
        positions[c] = free.first_free(queues[c], positions[c])
        if positions[c] == queues[c].size:
            del queues[c]
            continue
        chosen.append(int(queues[c][positions[c]]))
        free.block(chosen[-1])
        covered[c] += 1
    return chosen


def _normalised(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float64 for k-means."""
    vectors = vectors.astype(np.float64)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def suggest(
    segmenter: Segmenter | Ensemble,
    pairs: Sequence[ImagePair],
    k: int,
    spacing: int = 16,
    labelled: PointLabels | None = None,
    boundary_gap: int = 0,
    query: Query = DEFAULT_QUERY,
    seed: int = 0,
    class_counts: np.ndarray | None = None,
) -> tuple[PointLabels, np.ndarray]:
    """Suggestions for every image of ``pairs`` (see :func:`suggest_pixels`) and their entropies.

    The class of each suggested point is the model's guess. The ``power`` and ``balanced``
    draws of an image depend on ``seed`` and the image's key alone, not on the other images;
    ``balanced`` weighs classes by ``class_counts``, the labels of each class so far (None:
    those of ``labelled``). A raster's pixels without data are never suggested, nor, with a
    warning, pixels where the model's probabilities are not finite (a diverged model, or NaN
    in the image). Images that get fewer than ``k`` suggestions are named in a warning.

    Raises:
        ValueError: An option :func:`check_options` refuses, before any image is predicted.
        DatasetError: An image, named, without the bands the model takes.
    """
    check_options(k, spacing, boundary_gap, query)
    if query == "balanced" and class_counts is None and labelled is not None:
        class_counts = labelled.class_counts(len(segmenter.classes.names))
    if class_counts is not None:
        class_counts = _checked_counts(class_counts, len(segmenter.classes.names))
    keys, rows, cols, classes, scores = [], [], [], [], []
    short = []
    for pair in pairs:
        try:
            image = read_image(pair.image)  # a raster's pixels without data NaN in every band
            if query == "typical":
                probabilities, features = segmenter.features(image)
            else:
                probabilities, features = segmenter.probabilities(image).numpy(), None
        except DatasetError as err:  # bands that do not fit the model
            raise DatasetError(f"{pair.image}: {err.message}", fix=err.fix) from err
        empty = np.isnan(image).all(axis=-1) if np.issubdtype(image.dtype, np.floating) else None  # not read again
        taken = None if labelled is None else labelled.label_map(pair.key, pair.size) >= 0
        rng = image_rng(seed, pair.key)
        if unusable := int((~np.isfinite(probabilities).all(axis=0)).sum()):
            message = f"{pair.image}: the model gives no finite class probabilities on {unusable} pixels, never suggested"
            warnings.warn(PointsegWarning(message), stacklevel=2)
        r, c = suggest_pixels(probabilities, k, spacing, taken, boundary_gap, query, features, rng, empty, class_counts)
        if r.size < k:
            short.append(f"{pair.key} ({r.size} of {k})")
        keys += [pair.key] * r.size
        rows.append(r)
        cols.append(c)
        chosen = probabilities[:, r, c]  # (classes, suggestions): the whole-image maps are not computed again
        classes.append(chosen.argmax(axis=0))
        scores.append(entropy(chosen))
    if short:
        message = (
            f"{len(short)} image(s) get fewer than {k} suggestions: no pixel with data is left {spacing} px or more from "
            f"the labelled ones and the others (--spacing): {', '.join(short[:3])}{', ...' if len(short) > 3 else ''}"
        )
        warnings.warn(PointsegWarning(message), stacklevel=2)
    columns = (np.concatenate([np.zeros(0), *x]).astype(np.int64) for x in (rows, cols, classes))
    return PointLabels(np.array(keys, dtype=object), *columns), np.concatenate([np.zeros(0), *scores])


def validated_on(segmenter: Segmenter | Ensemble, pairs: Sequence[ImagePair]) -> list[ImagePair]:
    """The ``pairs`` whose image the run of ``segmenter`` (of any member of an ensemble) validated on.

    Labels there would not be trained on (a run trains on the points of its training images
    alone), and they are dropped from the run's ``points.csv``, so that ``--labelled`` would
    not keep the same pixels from being suggested again.

    Raises:
        PointsError: Every one of ``pairs`` is such an image.
    """
    held_out = segmenter.validation_images
    validated = [pair for pair in pairs if Path(pair.image).resolve() in held_out]
    if validated and len(validated) == len(pairs):
        raise PointsError(
            f"the checkpoint's run validated on every image of --data ({len(pairs)}): it would train on none of their labels",
            fix="give --data the training images, or --include-validation to suggest on validation images",
        )
    return validated


def check_suggestions_path(path: str | Path) -> Path:
    """``path`` as a :class:`~pathlib.Path`, refused if a folder; call it before long work to fail early.

    Raises:
        PointsError: ``path`` is a folder.
    """
    path = Path(path)
    if path.is_dir():
        raise PointsError(f"{path} is a folder, not a CSV file", fix=f"give a file name, e.g. {path / 'suggestions.csv'}")
    return path


def write_suggestions(
    points: PointLabels, scores: np.ndarray, pairs: Sequence[ImagePair], class_names: Sequence[str], path: str | Path
) -> Path:
    """Write ``image,row,col,class,x,y,entropy`` rows: the model's class, ``x,y`` in the raster's CRS (empty for pictures).

    The first four columns are those of a points file, so corrected rows can be appended to one.

    Raises:
        PointsError: ``path`` is a folder (see :func:`check_suggestions_path`).
    """
    path = check_suggestions_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    references = {pair.key: Georeference.of(pair) for pair in pairs}
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "row", "col", "class", "x", "y", "entropy"])
        for key, row, col, cls, score in zip(points.keys, points.rows, points.cols, points.classes, scores):
            reference = references[key]
            x, y = ("", "") if reference.picture else reference.transform @ (col + 0.5, row + 0.5)
            writer.writerow([key, row, col, class_names[cls], x, y, f"{score:.4f}"])
    return path
