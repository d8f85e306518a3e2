"""Where to click next: the pixels whose label would teach the model most.

For each image, the model's predictive entropy scores every pixel; suggestions are taken
greedily from the highest score, round-robin over the predicted classes (so that every
class the model sees gets questions), at least ``spacing`` pixels apart (Chebyshev
distance) and from the pixels already labelled, which are never suggested. With
``boundary_gap``, pixels closer than that to a change of predicted class come last:
the most uncertain pixels line the boundaries, where a click is the hardest to place and
says the least about the classes on either side. The result is
written as a CSV (``image,row,col``, the class the model guesses, ``x,y`` for
georeferenced images and the entropy) whose rows a user corrects and appends to the
points file of training (``--points-file``: the same first four columns), and optionally
as vector features whose class field holds the model's guess, to correct in QGIS.

Example:
    >>> probabilities = np.full((2, 6, 6), 0.5); probabilities[0, :, :3] = 0.99; probabilities[1, :, :3] = 0.01
    >>> rows, cols = suggest_pixels(probabilities, k=2, spacing=2)
    >>> sorted(zip(rows.tolist(), cols.tolist()))  # the uncertain right half, 2 pixels apart
    [(0, 3), (0, 5)]
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from skimage.morphology import dilation
from skimage.segmentation import find_boundaries

from pointseg.data.discover import ImagePair
from pointseg.data.imagery import read_image
from pointseg.data.points import PointLabels
from pointseg.data.vector import Georeference
from pointseg.errors import DatasetError, PointsError
from pointseg.predict import Segmenter


def entropy(probabilities: np.ndarray) -> np.ndarray:
    """Predictive entropy (nats) of class probabilities ``(C, ...)``: one value per pixel ``(...)``."""
    p = np.clip(probabilities, 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=0)


def check_counts(k: int, spacing: int, boundary_gap: int = 0) -> None:
    """Refuse a number of suggestions or a spacing below 1, or a negative boundary gap.

    Raises:
        ValueError: ``k`` below 1 (nothing to suggest), ``spacing`` below 1 (a pixel would be suggested twice,
            or a labelled one again) or ``boundary_gap`` below 0.
    """
    if k < 1:
        raise ValueError(f"the number of suggestions per image must be at least 1, not {k}")
    if spacing < 1:
        raise ValueError(f"the spacing of suggestions must be at least 1 pixel, not {spacing}")
    if boundary_gap < 0:
        raise ValueError(f"the gap of suggestions from class boundaries must be 0 pixels or more, not {boundary_gap}")


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


def suggest_pixels(
    probabilities: np.ndarray, k: int, spacing: int = 16, labelled: np.ndarray | None = None, boundary_gap: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cols)`` of up to ``k`` pixels to label next (see the module docstring).

    Args:
        probabilities: ``(C, H, W)`` class probabilities of one image.
        k: Number of suggestions (fewer only if the spacing leaves no room).
        spacing: Minimum distance in pixels between suggestions, and from labelled pixels
            (1: any other pixel).
        labelled: ``(H, W)`` booleans of the pixels already labelled.
        boundary_gap: Pixels closer than this to a change of predicted class are taken only once
            the others are used up (0: no gap; see :func:`near_boundaries`).

    Raises:
        ValueError: ``k`` or ``spacing`` below 1, or ``boundary_gap`` below 0 (see :func:`check_counts`).
    """
    check_counts(k, spacing, boundary_gap)
    scores = entropy(probabilities)
    height, width = scores.shape
    blocked = np.zeros((height, width), dtype=bool)

    def block(row: int, col: int) -> None:
        blocked[max(0, row - spacing + 1) : row + spacing, max(0, col - spacing + 1) : col + spacing] = True

    if labelled is not None:
        for row, col in zip(*np.nonzero(labelled)):
            block(int(row), int(col))
    predicted = probabilities.argmax(axis=0)
    order = np.lexsort((-scores.ravel(), near_boundaries(predicted, boundary_gap).ravel()))  # last key first
    predicted = predicted.ravel()
    queues = [order[predicted[order] == c] for c in range(probabilities.shape[0])]
    queues = [q for q in queues if q.size]
    positions = [0] * len(queues)
    chosen: list[tuple[int, int]] = []
    while len(chosen) < k and queues:
        for q in range(len(queues) - 1, -1, -1):  # one per class in turn
            queue = queues[q]
            while positions[q] < queue.size and blocked.flat[queue[positions[q]]]:
                positions[q] += 1
            if positions[q] == queue.size:
                del queues[q], positions[q]
                continue
            row, col = divmod(int(queue[positions[q]]), width)
            chosen.append((row, col))
            block(row, col)
            if len(chosen) == k:
                break
    rows = np.array([r for r, _ in chosen], dtype=np.int64)
    cols = np.array([c for _, c in chosen], dtype=np.int64)
    return rows, cols


def suggest(
    segmenter: Segmenter,
    pairs: Sequence[ImagePair],
    k: int,
    spacing: int = 16,
    labelled: PointLabels | None = None,
    boundary_gap: int = 0,
) -> tuple[PointLabels, np.ndarray]:
    """Suggestions for every image of ``pairs`` (see :func:`suggest_pixels`) and their entropies.

    The class of each suggested point is the model's guess.

    Raises:
        ValueError: ``k`` or ``spacing`` below 1 or ``boundary_gap`` below 0 (see :func:`check_counts`), before any
            image is predicted.
        DatasetError: An image, named, without the bands the model takes.
    """
    check_counts(k, spacing, boundary_gap)
    keys, rows, cols, classes, scores = [], [], [], [], []
    for pair in pairs:
        try:
            probabilities = segmenter.probabilities(read_image(pair.image)).numpy()
        except DatasetError as err:  # bands that do not fit the model
            raise DatasetError(f"{pair.image}: {err.message}", fix=err.fix) from err
        taken = None if labelled is None else labelled.label_map(pair.key, pair.size) >= 0
        r, c = suggest_pixels(probabilities, k, spacing, taken, boundary_gap)
        keys += [pair.key] * r.size
        rows.append(r)
        cols.append(c)
        chosen = probabilities[:, r, c]  # (classes, suggestions): the whole-image maps are not computed again
        classes.append(chosen.argmax(axis=0))
        scores.append(entropy(chosen))
    points = PointLabels(np.array(keys, dtype=object), *(np.concatenate(x).astype(np.int64) for x in (rows, cols, classes)))
    return points, np.concatenate(scores)


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
            x, y = ("", "") if reference.crs is None else reference.transform @ (col + 0.5, row + 0.5)
            writer.writerow([key, row, col, class_names[cls], x, y, f"{score:.4f}"])
    return path
