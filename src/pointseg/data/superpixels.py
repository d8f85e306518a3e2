"""Superpixel propagation: each point's label spread to the superpixel that contains it.

Superpixels (SLIC, Achanta et al., "SLIC Superpixels Compared to State-of-the-art
Superpixel Methods", IEEE TPAMI 2012, through scikit-image) group pixels of similar colour
that lie together; a point labels its whole superpixel, with a lower weight in the loss
than the point itself (``--method superpixels``). A superpixel holding points of two
classes is left unlabelled (its points keep their own labels). The segmentation is
computed once per image when a run starts and, given a cache folder (a sweep gives its
own), kept there for the next run on the same file (:func:`cached_superpixels`).

Example:
    >>> segments = np.array([[0, 0, 1], [2, 2, 1]])
    >>> points = np.full((2, 3), IGNORE_INDEX); points[0, 0] = 4
    >>> expand_points(segments, points).tolist()
    [[-100, 4, -100], [-100, -100, -100]]
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import skimage
from skimage.segmentation import slic

from pointseg.classes import IGNORE_INDEX


def superpixels(
    image: np.ndarray, pixels_per_superpixel: int = 400, compactness: float = 1.0, valid: np.ndarray | None = None
) -> np.ndarray:
    """``(H, W)`` superpixel ids of an ``(H, W, bands)`` image (SLIC on the bands scaled to [0, 1]).

    Args:
        image: The image, any data type.
        pixels_per_superpixel: Mean superpixel area; sets their number.
        compactness: Balance of colour (low) and space (high) in SLIC's distance, colours being
            the scaled bands. On the Dubai tiles 1-6 at 400 px, 1 gives superpixels of about the
            asked area whose spread point labels are right for 88 % of land, 58 % of road pixels;
            0.1 let them sprawl to 1,000-2,500 px, right for 72 % and 36 %
            (``benchmarks/superpixels.py``).
        valid: ``(H, W)`` False where the image has no data: such pixels neither set the
            scaling nor belong to a superpixel (their id is -1). None: every pixel has data.
    """
    if valid is not None and valid.all():
        valid = None
    scaled = image.astype(np.float32)
    bands = scaled.reshape(-1, scaled.shape[2])
    counted = bands if valid is None else bands[valid.ravel()]
    if counted.size == 0:
        return np.full(image.shape[:2], -1, dtype=np.int64)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a band with no value at all: its range is NaN, filled below
        low, high = np.nanmin(counted, axis=0), np.nanmax(counted, axis=0)
    scaled = np.nan_to_num((scaled - low) / np.where(high > low, high - low, 1), nan=0.5)  # a band's hole: mid-range
    count = max(1, len(counted) // pixels_per_superpixel)
    return slic(scaled, n_segments=count, compactness=compactness, channel_axis=-1, start_label=0, convert2lab=False, mask=valid)


def cached_superpixels(
    read: Callable[[], np.ndarray],
    source: Path,
    shape: tuple[int, int],
    pixels_per_superpixel: int,
    compactness: float,
    cache: Path | None,
    valid: np.ndarray | None = None,
    bands: tuple[int, ...] | None = None,
) -> np.ndarray:
    """:func:`superpixels` of the image ``read`` returns (read from ``source``, ``shape`` its rows and columns,
    ``valid`` its data mask), on its 1-based ``bands`` (None: all, as ``--bands``), kept in ``cache``.

    The cache entry is named by the file's path, size and modification time, the superpixel
    area and compactness, scikit-image's version, the bands and whether nodata is masked, so
    an edited image, another area, other bands or another SLIC computes afresh; on a hit the
    image is not read. Entries are written atomically: processes sharing a cache never read
    half a file. An entry that cannot be read, or is not a
    label image of ``shape`` (a damaged file), is computed again and replaced.
    """

    def compute() -> np.ndarray:
        image = read()
        return superpixels(image if bands is None else image[..., [b - 1 for b in bands]], pixels_per_superpixel,
                           compactness, valid)  # fmt: skip

    if cache is None:
        return compute()
    stat = Path(source).stat()
    key = (
        f"{Path(source).resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{pixels_per_superpixel}|{compactness}|{skimage.__version__}"
        "|band holes NaN"  # not an entry of the versions that gave SLIC a float band's own nodata value
    )
    if valid is not None and not valid.all():
        key += "|nodata masked"  # not an entry of the versions that spread labels into nodata
    if bands is not None:
        key += f"|bands {','.join(map(str, bands))}"
    path = Path(cache) / f"{hashlib.sha1(key.encode()).hexdigest()}.npy"
    if path.is_file() and (segments := _read_entry(path)) is not None and segments.shape == tuple(shape):
        return segments
    segments = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    with partial.open("wb") as handle:
        np.save(handle, segments)
    partial.replace(path)
    return segments


def _read_entry(path: Path) -> np.ndarray | None:
    """A cached segmentation, None if the file is no integer ``.npy`` array."""
    try:
        segments = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    return segments if np.issubdtype(segments.dtype, np.integer) else None


def expand_points(segments: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The superpixel labels of ``points`` (a sparse label map), :data:`IGNORE_INDEX` on the points themselves and elsewhere.

    Each superpixel that contains points of one class takes that class; one that contains
    points of several classes stays unlabelled. The points' own pixels are left out, so that
    the point term and the superpixel term of the loss never count a pixel twice. Pixels
    of no superpixel (id -1: no data) stay unlabelled.
    """
    inside = segments >= 0
    labelled = (points != IGNORE_INDEX) & inside
    segment_ids, classes = segments[labelled], points[labelled].astype(np.int64)
    expanded = np.full(points.shape, IGNORE_INDEX, dtype=np.int16)
    if segment_ids.size == 0:
        return expanded
    lookup = np.full(int(segments.max()) + 1, IGNORE_INDEX, dtype=np.int64)
    pairs = np.unique(np.stack([segment_ids, classes]), axis=1)
    ids, counts = np.unique(pairs[0], return_counts=True)
    single = ids[counts == 1]
    lookup[pairs[0][np.isin(pairs[0], single)]] = pairs[1][np.isin(pairs[0], single)]
    expanded[inside] = lookup[segments[inside]]
    expanded[labelled] = IGNORE_INDEX
    return expanded
