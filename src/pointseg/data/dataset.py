"""The sample contract, band statistics, random crops with augmentation, whole images.

Every dataset yields a :class:`Sample`: a dict with

* ``image``: ``float32`` tensor ``(bands, H, W)``, normalised with :class:`BandStats`;
* ``labels``: ``int64`` tensor ``(H, W)`` of training labels (points, or a dense mask
  with ``--full-masks``), :data:`~pointseg.classes.IGNORE_INDEX` elsewhere;
* ``mask``: ``int64`` tensor ``(H, W)``, the dense mask where one exists (evaluation);
* ``expanded``: ``int64`` tensor ``(H, W)``, the points' labels spread to their
  superpixels, where the run uses them (``--method superpixels``);
* ``valid``: ``bool`` tensor ``(H, W)`` of training crops, False on a raster's nodata and
  on the padding of a crop larger than its image (no pseudo-label goes there);
* ``key``: the image key; ``origin``: ``(row, col)`` of the crop in its image.

Example:
    >>> import numpy as np
    >>> scene = Scene("a", np.full((40, 50, 3), 7, np.uint8), labels=np.zeros((40, 50), np.int16))
    >>> stats = BandStats.compute([scene.image])
    >>> crops = RandomCropDataset([scene], stats, crop=32, seed=0)
    >>> sample = crops[0]
    >>> tuple(sample["image"].shape), tuple(sample["labels"].shape), len(crops)
    ((3, 32, 32), (32, 32), 2)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NotRequired, TypedDict

import numpy as np
import torch
from torch.utils.data import Dataset

from pointseg.classes import IGNORE_INDEX
from pointseg.data.raster import RasterPixels, bands_note
from pointseg.errors import DatasetError


class Sample(TypedDict):
    """What every pointseg dataset yields (see the module docstring)."""

    image: torch.Tensor
    labels: torch.Tensor
    mask: NotRequired[torch.Tensor]
    expanded: NotRequired[torch.Tensor]
    valid: NotRequired[torch.Tensor]
    key: str
    origin: torch.Tensor


@dataclass
class Scene:
    """One image in memory with its labels.

    Attributes:
        key: Image key (see :mod:`pointseg.data.discover`).
        image: ``(H, W, bands)`` array in the image's own data type, or a raster read
            window by window (:class:`~pointseg.data.raster.RasterPixels`).
        labels: Sparse training labels ``(H, W)`` (``int16``), or None.
        mask: Dense mask ``(H, W)`` (``int16``), or None.
        expanded: The points' labels spread to their superpixels ``(H, W)`` (``int16``), or None.
        nodata: ``(H, W)`` True where a raster has no data, or None where it has data everywhere.
    """

    key: str
    image: np.ndarray | RasterPixels
    labels: np.ndarray | None = None
    mask: np.ndarray | None = None
    expanded: np.ndarray | None = None
    nodata: np.ndarray | None = None


Normalisation = Literal["mean-std", "percentiles"]
CropPlacement = Literal["anywhere", "labelled"]
"""Where training crops fall: ``anywhere`` in their image alike, or each on a ``labelled`` pixel (see
:class:`RandomCropDataset`)."""
SPARSE_LABELS = 1 / 16
"""Share of labelled pixels below which ``labelled`` crops keep an index of them (points); above it (a dense
mask) any pixel anchors a crop, which differs only on the unlabelled share and indexes no pixel."""
PERCENTILES = (2.0, 98.0)
"""The range a ``percentiles`` normalisation stretches to [-1, 1]; values beyond are clipped."""
PERCENTILE_SAMPLE = 1_000_000
"""Most valid pixels drawn (seeded, spread over the images) to estimate the percentiles."""


@dataclass(frozen=True)
class BandStats:
    """Which bands feed the network and how they are normalised.

    Computed once from the training images and stored in the checkpoint, so that
    prediction selects and normalises bands exactly as training did. Each band is
    clipped to ``[low, high]`` where those are set, then standardised, ``(x - mean) / std``.
    Pixels without data (NaN, or a raster's nodata given as a mask) count in no statistic
    and are normalised to 0, the mean.

    Two ways to compute them (``--normalisation``):

    * ``mean-std``: each band's mean and standard deviation; no clipping.
    * ``percentiles``: robust to clouds, glint and saturated or dead pixels: each band is
      clipped to its 2nd and 98th percentiles and stretched to [-1, 1] (``mean`` the
      middle of that range, ``std`` half its width). The usual choice for 16-bit
      reflectance, whose few extreme values would squash a mean/std normalisation.

    Attributes:
        mean: Centre of each input band.
        std: Scale of each input band.
        bands: 1-based indices of the source bands taken as input, in order (``--bands
            4,3,2``), or None for all bands as they are.
        low: Per-band lower clip, or None for no clipping.
        high: Per-band upper clip, or None for no clipping.
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]
    bands: tuple[int, ...] | None = None
    low: tuple[float, ...] | None = None
    high: tuple[float, ...] | None = None

    @classmethod
    def compute(
        cls,
        images: Sequence[np.ndarray | RasterPixels],
        bands: Sequence[int] | None = None,
        valid: Sequence[np.ndarray | None] | None = None,
        method: Normalisation = "mean-std",
    ) -> BandStats:
        """The statistics of every (selected) band over the valid pixels of ``images``.

        Rasters read on demand are read strip by strip, so memory stays bounded.

        Args:
            images: ``(H, W, bands)`` arrays or rasters.
            bands: 1-based band indices to take, or None for all.
            valid: For each image, ``(H, W)`` booleans of the pixels to count, or None for
                all of them; a raster's nodata pixels are left out in any case.
            method: ``mean-std`` or ``percentiles`` (see the class docstring); percentiles
                are estimated from a seeded sample of at most :data:`PERCENTILE_SAMPLE` pixels.

        Raises:
            DatasetError: No image, no valid pixel, or a band index the images do not have.

        >>> image = np.zeros((2, 2, 3)); image[..., 2] = [[1, 3], [5, 100]]
        >>> stats = BandStats.compute([image], bands=[3], valid=[np.array([[1, 1], [1, 0]], bool)])
        >>> stats.mean, stats.bands
        ((3.0,), (3,))
        >>> stretched = BandStats.compute([np.arange(101.0).reshape(1, 101, 1)], method="percentiles")
        >>> stretched.low, stretched.high, stretched.mean, stretched.std
        ((2.0,), (98.0,), (50.0,), (48.0,))
        """
        if not images:
            raise DatasetError("no training image to compute band statistics from", fix="check --data and --val-fraction")
        selection = None if bands is None else tuple(int(b) for b in bands)
        if selection is not None and (min(selection) < 1 or max(selection) > images[0].shape[2]):
            raise DatasetError(
                f"--bands {','.join(map(str, selection))}: the images have bands 1 to {images[0].shape[2]}"
                f"{bands_note(images[0])}",
                fix="give 1-based band indices that exist",
            )
        chooser = cls((), (), selection)
        size = len(selection) if selection else images[0].shape[2]
        share = min(1.0, PERCENTILE_SAMPLE / max(sum(image.shape[0] * image.shape[1] for image in images), 1))
        rng = np.random.default_rng(0)
        total, squares, count, drawn = np.zeros(size), np.zeros(size), 0, []
        for image, keep in zip(images, valid if valid is not None else [None] * len(images)):
            strips = image.strips() if isinstance(image, RasterPixels) else [(0, image, None)]
            for row, strip, has_data in strips:
                pixels = chooser.select(strip).reshape(-1, size)
                if keep is not None:
                    has_data = keep[row : row + strip.shape[0]] & (True if has_data is None else has_data)
                if has_data is not None:
                    pixels = pixels[has_data.ravel()]
                pixels = pixels[np.isfinite(pixels).all(axis=1)]  # NaN: no data, declared or not
                if method == "percentiles":
                    drawn.append(pixels[rng.random(len(pixels)) < share] if share < 1 else pixels)
                else:
                    total += pixels.sum(axis=0, dtype=np.float64)
                    squares += np.square(pixels, dtype=np.float64).sum(axis=0)
                    count += len(pixels)
        if (count if method == "mean-std" else sum(len(pixels) for pixels in drawn)) == 0:
            raise DatasetError(
                "no training pixel to compute band statistics from: all are without data or of no known class",
                fix="check that the training rasters hold data and their masks' colours or values are in the classes table",
            )
        if method == "percentiles":
            low, high = np.percentile(np.concatenate(drawn).astype(np.float64), PERCENTILES, axis=0)
            return cls.stretch(low, high, selection)
        mean = total / count
        std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
        return cls(tuple(mean.tolist()), tuple(np.where(std > 1e-6, std, 1.0).tolist()), selection)

    @classmethod
    def stretch(cls, low: np.ndarray, high: np.ndarray, bands: tuple[int, ...] | None = None) -> BandStats:
        """Clip each band to ``[low, high]`` and map that range to [-1, 1]."""
        half = (high - low) / 2
        return cls(
            tuple(((low + high) / 2).tolist()),
            tuple(np.where(half > 1e-6, half, 1.0).tolist()),
            bands,
            tuple(low.tolist()),
            tuple(high.tolist()),
        )

    @property
    def input_bands(self) -> int:
        """Number of bands the network takes."""
        return len(self.mean)

    def accepts(self, count: int) -> bool:
        """Whether an image of ``count`` bands has the bands the network takes."""
        return max(self.bands) <= count if self.bands else count == self.input_bands

    def check(self, count: int, image: str | Path, note: str = "") -> None:
        """Fail unless ``image``, of ``count`` bands, has the bands the network takes.

        Args:
            count: The bands the image is read with.
            image: Its file, named in the error.
            note: Why the file has other bands than it is read with (see :func:`~pointseg.data.raster.alpha_note`).

        Raises:
            DatasetError: Naming the file, its bands and the network's.

        >>> BandStats((0.0,) * 4, (1.0,) * 4).check(3, "scene.tif")
        Traceback (most recent call last):
        pointseg.errors.DatasetError: scene.tif has 3 bands but the model takes 4
          fix: give images with the bands the model was trained on
        """
        if not self.accepts(count):
            takes = f"{self.input_bands}" + (f" (bands {','.join(map(str, self.bands))})" if self.bands else "")
            raise DatasetError(
                f"{image} has {count} bands{note} but the model takes {takes}",
                fix="give images with the bands the model was trained on",
            )

    def select(self, image: np.ndarray) -> np.ndarray:
        """The input bands of an ``(H, W, source bands)`` image.

        Raises:
            DatasetError: The image lacks a selected band.
        """
        if self.bands is None:
            return image
        if max(self.bands) > image.shape[2]:
            raise DatasetError(
                f"the image has {image.shape[2]} bands but the model takes band(s) {','.join(map(str, self.bands))}",
                fix="give images with the bands the model was trained on",
            )
        return image[..., [b - 1 for b in self.bands]]

    def normalise(self, image: np.ndarray, nodata: np.ndarray | None = None) -> torch.Tensor:
        """``(H, W, source bands)`` array -> its input bands, normalised, as ``float32`` ``(bands, H, W)``.

        Values that are not finite and the pixels ``nodata`` marks (``(H, W)``, True where a
        raster has no data) become 0, the mean: a hole gives the network no extreme value to
        spread through its convolutions and batch statistics.

        >>> stats = BandStats(mean=(10.0,), std=(2.0,))
        >>> image = np.array([[[12.0], [np.nan], [-9999.0]]])
        >>> stats.normalise(image, nodata=np.array([[False, False, True]])).flatten().tolist()
        [1.0, 0.0, 0.0]

        Raises:
            DatasetError: The image has other bands than the model was trained on.
        """
        image = self.select(image)
        if image.shape[2] != self.input_bands:
            raise DatasetError(
                f"the image has {image.shape[2]} bands but the model was trained on {self.input_bands}",
                fix="give images with the bands the model was trained on",
            )
        tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float()
        if self.low is not None and self.high is not None:
            low, high = (torch.tensor(bound, dtype=torch.float32)[:, None, None] for bound in (self.low, self.high))
            tensor = torch.clamp(tensor, low, high)
        mean = torch.tensor(self.mean, dtype=torch.float32)[:, None, None]
        std = torch.tensor(self.std, dtype=torch.float32)[:, None, None]
        tensor = torch.nan_to_num((tensor - mean) / std, nan=0.0, posinf=0.0, neginf=0.0)
        if nodata is not None:
            tensor[:, torch.from_numpy(np.asarray(nodata, dtype=bool))] = 0.0
        return tensor

    def to_dict(self) -> dict[str, list[float] | list[int] | None]:
        """JSON-ready form."""
        return {name: None if value is None else list(value) for name, value in vars(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[float] | None]) -> BandStats:
        """Inverse of :meth:`to_dict` (older checkpoints have no ``bands``, ``low`` or ``high``)."""

        def optional(name: str, kind: type) -> tuple | None:
            value = data.get(name)
            return None if value is None else tuple(kind(v) for v in value)

        return cls(
            tuple(data["mean"]), tuple(data["std"]), optional("bands", int), optional("low", float), optional("high", float)
        )


def _labels_tensor(labels: np.ndarray | None, shape: tuple[int, int]) -> torch.Tensor:
    if labels is None:
        return torch.full(shape, IGNORE_INDEX, dtype=torch.int64)
    return torch.from_numpy(labels.astype(np.int64))


def augment(tensors: list[torch.Tensor], rng: np.random.Generator) -> list[torch.Tensor]:
    """Apply one random flip/rotation (of the 8 symmetries of a square) to all tensors alike.

    The last two dimensions are the spatial ones.
    """
    k = int(rng.integers(4))
    flip = bool(rng.integers(2))
    out = []
    for tensor in tensors:
        tensor = torch.rot90(tensor, k, dims=(-2, -1))
        out.append(torch.flip(tensor, dims=(-1,)) if flip else tensor)
    return out


class RandomCropDataset(Dataset[Sample]):
    """Random square crops of training scenes, with flips and 90-degree rotations.

    An epoch holds ``ceil(H * W / crop**2)`` crops of each scene, so it covers about as
    many pixels as the scenes have. Crop ``i`` of epoch ``e`` is drawn from a generator
    seeded with ``(seed, e, i)``: the same seed gives the same crops, in any number of
    worker processes or on any number of devices. Scenes smaller than the crop are padded
    (image 0 after normalisation, labels :data:`IGNORE_INDEX`).

    ``placement`` says where a crop falls in its scene:

    * ``anywhere``: its corner uniformly over the positions that keep it inside. A pixel
      near the border then lies in few crops: with 256-px crops of a 700-px image, one on
      the border in 1 of 445 positions along each side against 256 in the middle, so a point
      there is hardly ever trained on; and with a few points an image, a crop holds under one on the mean.
    * ``labelled``: around a labelled pixel drawn uniformly from the scene's (any pixel of a
      dense mask or of a scene without labels, see :data:`SPARSE_LABELS`), at a uniform
      place in the crop, moved inside the image where it would stick out: every crop holds
      a label, every point anchors crops alike wherever it lies, and a border pixel of a
      dense mask lies in about half as many crops as a middle one.

    Args:
        scenes: Scenes with ``labels``.
        stats: Band statistics for normalisation.
        crop: Side of the square crops in pixels.
        seed: Seed of crop positions and augmentations.
        augment: Whether to flip and rotate.
        placement: Where crops fall: ``anywhere`` or ``labelled``.

    Example:
        >>> labels = np.full((100, 100), IGNORE_INDEX, np.int16)
        >>> labels[99, 0] = 1  # one point, in a corner
        >>> scene = Scene("a", np.zeros((100, 100, 3), np.uint8), labels=labels)
        >>> stats = BandStats.compute([scene.image])
        >>> crops = RandomCropDataset([scene], stats, crop=32, seed=0, augment=False, placement="labelled")
        >>> all(crops[i]["origin"].tolist() == [68, 0] for i in range(len(crops)))
        True
    """

    def __init__(
        self,
        scenes: Sequence[Scene],
        stats: BandStats,
        crop: int,
        seed: int,
        augment: bool = True,
        placement: CropPlacement = "anywhere",
    ) -> None:
        if not scenes:
            raise DatasetError("no training image", fix="check --data and --val-fraction")
        self.scenes = list(scenes)
        self.stats = stats
        self.crop = crop
        self.seed = seed
        self.augment = augment
        self.placement = placement
        self.epoch = 0
        self.index = np.concatenate(
            [np.full(math.ceil(s.image.shape[0] * s.image.shape[1] / crop**2), i) for i, s in enumerate(self.scenes)]
        )
        self.anchors = [_sparse_labels(scene) if placement == "labelled" else None for scene in self.scenes]

    def __len__(self) -> int:
        return int(self.index.size)

    def set_epoch(self, epoch: int) -> None:
        """Draw other crops in the next epoch."""
        self.epoch = epoch

    def __getitem__(self, i: int) -> Sample:
        scene = self.scenes[int(self.index[i])]
        rng = np.random.default_rng([self.seed, self.epoch, i])
        top, left = self._corner(int(self.index[i]), rng)
        window = (slice(top, top + self.crop), slice(left, left + self.crop))
        image = self.stats.normalise(scene.image[window], None if scene.nodata is None else scene.nodata[window])
        maps = [_labels_tensor(None if scene.labels is None else scene.labels[window], tuple(image.shape[1:]))]
        if scene.expanded is not None:
            maps.append(_labels_tensor(scene.expanded[window], tuple(image.shape[1:])))
        valid = torch.ones(image.shape[1:], dtype=torch.bool)
        if scene.nodata is not None:
            valid = torch.from_numpy(~scene.nodata[window])
        pad_h, pad_w = self.crop - image.shape[1], self.crop - image.shape[2]
        if pad_h or pad_w:
            image = torch.nn.functional.pad(image, (0, pad_w, 0, pad_h))
            maps = [torch.nn.functional.pad(m, (0, pad_w, 0, pad_h), value=IGNORE_INDEX) for m in maps]
            valid = torch.nn.functional.pad(valid, (0, pad_w, 0, pad_h), value=False)
        if self.augment:
            image, valid, *maps = augment([image, valid, *maps], rng)
        sample = Sample(
            image=image.contiguous(),
            labels=maps[0].contiguous(),
            valid=valid.contiguous(),
            key=scene.key,
            origin=torch.tensor([top, left]),
        )
        if scene.expanded is not None:
            sample["expanded"] = maps[1].contiguous()
        return sample

    def _corner(self, index: int, rng: np.random.Generator) -> tuple[int, int]:
        """``(top, left)`` of a crop of scene ``index`` (see the class docstring)."""
        height, width = self.scenes[index].image.shape[:2]
        if self.placement == "anywhere":
            return int(rng.integers(max(height - self.crop, 0) + 1)), int(rng.integers(max(width - self.crop, 0) + 1))
        anchors = self.anchors[index]
        if anchors is None:
            row, col = int(rng.integers(height)), int(rng.integers(width))
        else:
            row, col = divmod(int(anchors[rng.integers(anchors.size)]), width)
        return _start(row, height, self.crop, rng), _start(col, width, self.crop, rng)


def _sparse_labels(scene: Scene) -> np.ndarray | None:
    """Flat indices of a scene's labelled pixels where fewer than :data:`SPARSE_LABELS` of them are; else None."""
    if scene.labels is None:
        return None
    labelled = scene.labels != IGNORE_INDEX
    if not 0 < np.count_nonzero(labelled) < SPARSE_LABELS * labelled.size:
        return None
    return np.flatnonzero(labelled)


def _start(anchor: int, length: int, crop: int, rng: np.random.Generator) -> int:
    """First row (or column) of a crop that holds ``anchor`` at a uniform place, moved inside ``length``.

    >>> rng = np.random.default_rng(0)
    >>> starts = [_start(5, 100, 32, rng) for _ in range(1000)]
    >>> min(starts), max(starts), _start(99, 100, 32, rng)
    (0, 5, 68)
    """
    return int(np.clip(anchor - rng.integers(crop), 0, max(length - crop, 0)))


class WholeImageDataset(Dataset[Sample]):
    """Whole scenes for validation and evaluation (use batch size 1), a large one in windows.

    A scene larger than ``window`` pixels a side comes as several samples, so that memory is
    set by the window, not by the scene: each covers a ``window`` x ``window`` core, read with
    ``context`` pixels of the scene around it so that the network sees across the core's
    edges, and its ``mask`` leaves that margin unlabelled (:data:`IGNORE_INDEX`). Every pixel
    of the mask is scored once; the confusion matrix and the loss summed over the samples are
    those of the whole scene, up to what the network would see beyond ``context``.

    Args:
        scenes: Scenes, with ``mask`` for evaluation against dense masks.
        stats: Band statistics for normalisation.
        window: Side of the cores in pixels.
        context: Pixels read around each core.

    >>> scene = Scene("s", np.zeros((5, 9, 1), np.float32), mask=np.ones((5, 9), np.int16))
    >>> samples = WholeImageDataset([scene], BandStats(mean=(0.0,), std=(1.0,)), window=4, context=1)
    >>> [(s["origin"].tolist(), tuple(s["mask"].shape)) for s in samples]
    [([0, 0], (5, 5)), ([0, 3], (5, 6)), ([0, 7], (5, 2)), ([3, 0], (2, 5)), ([3, 3], (2, 6)), ([3, 7], (2, 2))]
    >>> [int((s["mask"] == 1).sum()) for s in samples]  # the cores, 4 x 4 or what is left of the scene
    [16, 16, 4, 4, 4, 1]
    """

    def __init__(self, scenes: Sequence[Scene], stats: BandStats, window: int = 1024, context: int = 64) -> None:
        self.scenes = list(scenes)
        self.stats = stats
        self.window, self.context = window, context
        self.cores = [
            (index, top, left)
            for index, scene in enumerate(self.scenes)
            for top in range(0, scene.image.shape[0], window)
            for left in range(0, scene.image.shape[1], window)
        ]

    def __len__(self) -> int:
        return len(self.cores)

    def __getitem__(self, i: int) -> Sample:
        index, top, left = self.cores[i]
        scene = self.scenes[index]
        height, width = scene.image.shape[:2]
        rows = slice(max(top - self.context, 0), min(top + self.window + self.context, height))
        cols = slice(max(left - self.context, 0), min(left + self.window + self.context, width))
        shape = (rows.stop - rows.start, cols.stop - cols.start)
        nodata = None if scene.nodata is None else scene.nodata[rows, cols]
        sample = Sample(
            image=self.stats.normalise(np.asarray(scene.image[rows, cols]), nodata),
            labels=_labels_tensor(None if scene.labels is None else scene.labels[rows, cols], shape),
            key=scene.key,
            origin=torch.tensor([rows.start, cols.start]),
        )
        if scene.mask is not None:
            mask = _labels_tensor(scene.mask[rows, cols], shape)
            core = torch.zeros(shape, dtype=torch.bool)
            core[top - rows.start : top - rows.start + self.window, left - cols.start : left - cols.start + self.window] = True
            mask[~core] = IGNORE_INDEX  # the margin: scored in its own window
            sample["mask"] = mask
        return sample
