"""Load a dataset's pairs into memory as :class:`~pointseg.data.dataset.Scene` objects, and split them.

The split into training and validation is by whole image, so no validation pixel is
ever seen in training.

Example:
    >>> from pathlib import Path
    >>> pairs = [ImagePair(f"k{i}", Path(f"{i}.jpg"), None, (1, 1)) for i in range(10)]
    >>> train, val = split_pairs(pairs, 0.2, seed=0)
    >>> len(train), len(val), set(p.key for p in train) & set(p.key for p in val)
    (8, 2, set())
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pointseg.classes import ClassTable
from pointseg.data.dataset import Scene
from pointseg.data.discover import ImagePair
from pointseg.data.imagery import read_image
from pointseg.data.masks import load_masks
from pointseg.data.raster import RasterPixels, bands_note, check_same_grid, is_raster, nodata_mask
from pointseg.errors import DatasetError


def split_pairs(pairs: Sequence[ImagePair], val_fraction: float, seed: int) -> tuple[list[ImagePair], list[ImagePair]]:
    """Seeded split by whole image.

    Args:
        pairs: All pairs.
        val_fraction: Share of images for validation, in ``[0, 1)``; at least one image
            goes to validation when it is positive.
        seed: Seed of the shuffle.

    Raises:
        DatasetError: The fraction leaves no training image.
    """
    if not 0 <= val_fraction < 1:
        raise DatasetError(f"--val-fraction {val_fraction} is outside [0, 1)", fix="pass e.g. --val-fraction 0.2")
    n_val = max(1, round(val_fraction * len(pairs))) if val_fraction > 0 else 0
    if n_val >= len(pairs):
        raise DatasetError(
            f"the dataset has {len(pairs)} image(s): none would be left for training with --val-fraction {val_fraction}",
            fix="add images, pass --val-data, or --val-fraction 0 to train without validation",
        )
    order = np.random.default_rng(seed).permutation(len(pairs))
    val_index = set(order[:n_val].tolist())
    return (
        [p for i, p in enumerate(pairs) if i not in val_index],
        [p for i, p in enumerate(pairs) if i in val_index],
    )


def dense_masks(pairs: Sequence[ImagePair], table: ClassTable) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The decoded masks of ``pairs`` with their rasters' nodata ignored, and those nodata maps.

    Where a raster image or mask has no data (its nodata value or mask, or NaN in every
    band: :func:`~pointseg.data.raster.nodata_in`), the mask is
    :data:`~pointseg.classes.IGNORE_INDEX`: no point is drawn there, and neither the loss
    nor the metrics see those pixels. No image pixel is read for pictures.

    Returns:
        ``(masks, nodata)``: masks by image key (see :func:`~pointseg.data.masks.load_masks`),
        and ``(H, W)`` True where a raster has no data, for the rasters that have such pixels.

    Raises:
        DatasetError: A mask raster off its image's grid.
    """
    nodata = {}
    for pair in (pair for pair in pairs if is_raster(pair.image)):
        if pair.mask is not None and is_raster(pair.mask):
            check_same_grid(pair.image, pair.mask)
        if (empty := nodata_mask(pair.image)) is not None:
            nodata[pair.key] = empty
    return load_masks(pairs, table, nodata), nodata


def load_scenes(pairs: Sequence[ImagePair], table: ClassTable) -> list[Scene]:
    """Read the images of ``pairs`` with their :func:`dense_masks`.

    Pictures are read into memory; raster pixels stay on disk and are read window by
    window (:class:`~pointseg.data.raster.RasterPixels`): large scenes train without their
    pixels in memory (their label maps are, 2 bytes a pixel).

    Raises:
        DatasetError: A mask raster off its image's grid, or images with different band counts.
    """
    masks, nodata = dense_masks(pairs, table)
    scenes = []
    for pair in pairs:
        image = RasterPixels(pair.image) if is_raster(pair.image) else read_image(pair.image)
        if image.shape[:2] != pair.size:
            raise DatasetError(f"{pair.image} changed size while being read", fix="check the file")
        if scenes and image.shape[2] != scenes[0].image.shape[2]:
            raise DatasetError(
                f"{pair.image} has {image.shape[2]} bands{bands_note(image)} but {pairs[0].image} has "
                f"{scenes[0].image.shape[2]}{bands_note(scenes[0].image)}",
                fix="give images with the same bands",
            )
        scenes.append(Scene(pair.key, image, mask=masks.get(pair.key), nodata=nodata.get(pair.key)))
    return scenes


def load_split(
    train_pairs: Sequence[ImagePair], val_pairs: Sequence[ImagePair], table: ClassTable
) -> tuple[list[Scene], list[Scene]]:
    """:func:`load_scenes` of the training and the validation pairs of a run.

    One pass over both (one report of unknown colours), unless an image of one shares its
    key with an image of the other, as a separate validation root with the training
    root's file names does (``train/images/001.png`` and ``val/images/001.png``): then
    each apart, so that no image takes the other's mask.
    """
    if {pair.key for pair in train_pairs}.isdisjoint(pair.key for pair in val_pairs):
        scenes = load_scenes([*train_pairs, *val_pairs], table)
        return scenes[: len(train_pairs)], scenes[len(train_pairs) :]
    return load_scenes(train_pairs, table), load_scenes(val_pairs, table)
