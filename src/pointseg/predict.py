"""Prediction with a trained checkpoint: colour masks for pictures, georeferenced class maps for rasters.

Pictures (JPEG, PNG) are predicted whole and written as colour masks in the classes'
colours. Rasters (GeoTIFFs, or pictures with a world file: see
:func:`~pointseg.data.raster.is_raster`) of any size are predicted in overlapping tiles
blended without seams (:mod:`pointseg.tiling`), read and written block by block so that
memory is set by the tile and panel sizes, never by the scene's, and written as a class
map GeoTIFF aligned with the input (:mod:`pointseg.data.raster`), with per-class
probabilities as a second file on request.
An :class:`Ensemble` of networks labels by their mean probabilities (used to suggest points).

Example:
    >>> segmenter = Segmenter.from_checkpoint("runs/a/model.ckpt")  # doctest: +SKIP
    >>> classes = segmenter.predict(read_image("scene.jpg"))  # doctest: +SKIP
    >>> predict_folder("runs/a/model.ckpt", "new-images", "predictions")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import torch
from PIL import Image
from rasterio.errors import RasterioIOError

from pointseg.classes import IGNORE_INDEX, ClassTable
from pointseg.data.dataset import BandStats
from pointseg.data.discover import list_images
from pointseg.data.imagery import read_image
from pointseg.data.raster import (
    NODATA,
    ClassCoding,
    alpha_note,
    band_count,
    class_map_profile,
    copy_georeference,
    create_raster,
    is_raster,
    nodata_in,
    open_raster,
    read_data,
    to_rasterio,
)
from pointseg.errors import CheckpointError, ConfigError, DatasetError
from pointseg.task import PointSegModule
from pointseg.tiling import TileGrid, blend_tiles


def load_module(checkpoint: str | Path, device: str | torch.device = "cpu") -> PointSegModule:
    """Load a pointseg checkpoint in evaluation mode.

    Raises:
        CheckpointError: The file is missing or is not a pointseg checkpoint.
    """
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise CheckpointError(f"checkpoint not found: {checkpoint}", fix="pass the model.ckpt of a training run folder")
    try:
        module = PointSegModule.load_from_checkpoint(checkpoint, map_location=device, weights_only=False)
    except Exception as err:  # torch and Lightning raise many kinds for a foreign or corrupt file
        raise CheckpointError(
            f"{checkpoint} is not a pointseg checkpoint ({type(err).__name__}: {err})",
            fix="pass the model.ckpt written by `pointseg train`",
        ) from err
    return module.eval()


def resolve_device(accelerator: str = "auto") -> torch.device:
    """The torch device of an ``--accelerator`` value, as Lightning would pick it.

    ``auto`` takes CUDA, else Apple's MPS, else the CPU; ``gpu`` takes CUDA or MPS.

    Raises:
        ConfigError: A GPU was asked for and none is there, or the value is unknown.
    """
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if accelerator == "cpu" or (accelerator == "auto" and not (cuda or mps)):
        return torch.device("cpu")
    if accelerator in {"auto", "gpu", "cuda", "mps"} and (cuda or mps):
        if accelerator == "mps" and not mps:
            raise ConfigError("--accelerator mps: Apple's MPS is not available here", fix="use --accelerator auto")
        if accelerator == "cuda" and not cuda:
            raise ConfigError("--accelerator cuda: no CUDA GPU here", fix="use --accelerator auto or gpu (Apple's MPS)")
        return torch.device("cuda" if cuda and accelerator != "mps" else "mps")
    raise ConfigError(f"--accelerator {accelerator}: no such device here", fix="use --accelerator auto, cpu or gpu")


WHOLE_PIXELS = 4096 * 4096
"""Most pixels of an image that :meth:`Segmenter.probabilities` and :meth:`Segmenter.features` predict at once."""


def _maps(image: np.ndarray, predict: Callable[[np.ndarray], np.ndarray], channels: int) -> np.ndarray:
    """``(channels, H, W)`` maps of an in-memory ``(H, W, bands)`` image: whole, or in blended tiles past :data:`WHOLE_PIXELS`."""
    if image.shape[0] * image.shape[1] <= WHOLE_PIXELS:
        return predict(image[None])[0]
    options = TileOptions()
    grid = TileGrid(image.shape[0], image.shape[1], options.tile, options.overlap)
    maps = np.empty((channels, *image.shape[:2]), np.float32)
    for window, block in blend_tiles(grid, lambda w: image[w.row : w.row + w.height, w.col : w.col + w.width], predict,
                                     channels, options.batch, options.panel):  # fmt: skip
        maps[:, window.row : window.row + window.height, window.col : window.col + window.width] = block
    return maps


@dataclass
class Segmenter:
    """A trained network with its classes and normalisation, ready to label images."""

    module: PointSegModule
    device: torch.device

    @classmethod
    def from_checkpoint(cls, checkpoint: str | Path, accelerator: str = "auto") -> Segmenter:
        """Load a checkpoint onto the device ``accelerator`` names."""
        device = resolve_device(accelerator)
        return cls(load_module(checkpoint, device), device)

    @property
    def classes(self) -> ClassTable:
        """The classes the network predicts."""
        return self.module.classes

    @property
    def band_stats(self) -> BandStats:
        """The normalisation of the training images."""
        return self.module.band_stats

    @property
    def validation_images(self) -> frozenset[Path]:
        """The images the network's run validated on, as absolute paths (none for checkpoints written before)."""
        return frozenset(map(Path, self.module.hparams.get("validation_images") or ()))

    def probabilities(self, image: np.ndarray) -> torch.Tensor:
        """Class probabilities ``(classes, H, W)`` of an ``(H, W, bands)`` image.

        An image of more than :data:`WHOLE_PIXELS` pixels is predicted in blended tiles
        (:class:`TileOptions`' defaults), so that the network's memory is set by the tile.
        """
        return torch.from_numpy(_maps(image, self.tile_probabilities, self.classes.num_classes))

    def predict(self, image: np.ndarray) -> np.ndarray:
        """Class index of every pixel of an ``(H, W, bands)`` image, as ``(H, W)``.

        A pixel NaN in every band (a raster's hole, as :func:`~pointseg.data.imagery.read_image`
        reads it) has no class: :data:`~pointseg.classes.IGNORE_INDEX`.
        """
        labels = self.probabilities(image).argmax(dim=0).numpy()
        if np.issubdtype(image.dtype, np.floating):
            labels[np.isnan(image).all(axis=-1)] = IGNORE_INDEX
        return labels

    @torch.inference_mode()
    def tile_probabilities(self, tiles: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, classes, H, W)`` of a batch of ``(N, H, W, bands)`` tiles."""
        return torch.softmax(self.module(self._batch(tiles)), dim=1).float().cpu().numpy()

    def features(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities ``(classes, H, W)`` and features ``(D, H, W)`` of an ``(H, W, bands)`` image.

        The features are what the network classifies: the input of its last layer (``head``, a
        1x1 convolution in every pointseg model), resized to the image where the network
        classifies a coarser grid. A large image is predicted in tiles, as by :meth:`probabilities`.
        """
        classes = self.classes.num_classes
        both = _maps(image, self._tile_features, classes + self.module.model.head.in_channels)
        return both[:classes], both[classes:]

    @torch.inference_mode()
    def _tile_features(self, tiles: np.ndarray) -> np.ndarray:
        """Class probabilities and features, stacked ``(N, classes + D, H, W)``, of ``(N, H, W, bands)`` tiles."""
        inputs: list[torch.Tensor] = []
        hook = self.module.model.head.register_forward_hook(lambda _, args, __: inputs.append(args[0]))
        try:
            logits = self.module(self._batch(tiles))
        finally:
            hook.remove()
        height, width = tiles.shape[1:3]
        features = inputs[0][..., :height, :width]  # a U-Net pads the image to a multiple of its scales
        if features.shape[-2:] != (height, width):
            features = torch.nn.functional.interpolate(features, size=(height, width), mode="bilinear", align_corners=False)
        return torch.cat([torch.softmax(logits, dim=1), features], dim=1).float().cpu().numpy()

    def _batch(self, tiles: np.ndarray) -> torch.Tensor:
        """``(N, bands, H, W)`` normalised tensor on the device, of ``(N, H, W, bands)`` tiles."""
        return torch.stack([self.band_stats.normalise(tile) for tile in tiles]).to(self.device)


@dataclass(frozen=True)
class Ensemble:
    """Networks trained for the same classes, labelling images together by their mean class probabilities.

    Networks trained on the same labels from other seeds (other initial weights and crops)
    disagree where the labels leave the answer open; the entropy of their mean
    probabilities adds that disagreement to each network's own doubt, so that uncertainty
    read from it belongs to the labels, not to one training (the committee of active
    learning; Beluch et al., "The power of ensembles for active learning in image
    classification", CVPR 2018). Each member normalises images with its own statistics. An
    ensemble of one labels as its member does.

    Example:
        >>> ensemble = Ensemble.from_checkpoints(["a/model.ckpt", "b/model.ckpt"])  # doctest: +SKIP
        >>> probabilities = ensemble.probabilities(read_image("scene.jpg"))  # doctest: +SKIP

    Raises:
        CheckpointError: No member, or members that predict other classes than the first.
    """

    members: tuple[Segmenter, ...]

    def __post_init__(self) -> None:
        if not self.members:
            raise CheckpointError("an ensemble of no model", fix="give one checkpoint or more")
        first = self.members[0].classes.names
        for number, member in enumerate(self.members[1:], start=2):
            if member.classes.names != first:
                raise CheckpointError(
                    f"model {number} predicts the classes {', '.join(member.classes.names)}, "
                    f"model 1 the classes {', '.join(first)}: their probabilities cannot be averaged",
                    fix="give checkpoints trained with the same classes table",
                )

    @classmethod
    def from_checkpoints(cls, checkpoints: Sequence[str | Path], accelerator: str = "auto") -> Ensemble:
        """Load each checkpoint onto the device ``accelerator`` names."""
        return cls(tuple(Segmenter.from_checkpoint(checkpoint, accelerator) for checkpoint in checkpoints))

    @property
    def classes(self) -> ClassTable:
        """The classes the networks predict."""
        return self.members[0].classes

    @property
    def validation_images(self) -> frozenset[Path]:
        """The images any member's run validated on (see :attr:`Segmenter.validation_images`)."""
        return frozenset().union(*(member.validation_images for member in self.members))

    def probabilities(self, image: np.ndarray) -> torch.Tensor:
        """Mean class probabilities ``(classes, H, W)`` of the members on an ``(H, W, bands)`` image."""
        return torch.stack([member.probabilities(image) for member in self.members]).mean(dim=0)

    def features(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean class probabilities ``(classes, H, W)`` and the members' features side by side ``(sum of D, H, W)``.

        See :meth:`Segmenter.features`.
        """
        probabilities, features = zip(*(member.features(image) for member in self.members))
        return np.mean(probabilities, axis=0), np.concatenate(features)


def colourise(labels: np.ndarray, classes: ClassTable) -> np.ndarray:
    """``(H, W)`` class indices -> ``(H, W, 3)`` ``uint8`` colours; ignored pixels are black.

    >>> table = ClassTable.from_rows([("a", (255, 0, 0)), ("b", (0, 0, 255))])
    >>> colourise(np.array([[0, 1, -100]]), table).tolist()
    [[[255, 0, 0], [0, 0, 255], [0, 0, 0]]]
    """
    palette = np.array([*classes.colours, (0, 0, 0)], dtype=np.uint8)
    return palette[np.where(labels == IGNORE_INDEX, len(classes.colours), labels)]


@dataclass(frozen=True)
class TileOptions:
    """How a raster is cut for prediction.

    Attributes:
        tile: Side of the square tiles in pixels.
        overlap: Pixels shared by neighbouring tiles, blended.
        batch: Tiles per forward pass.
        probabilities: Also write the per-class probabilities (``*_probabilities.tif``).
        panel: Most columns blended at once (a multiple of the output's 256-pixel blocks
            keeps writes block-aligned); see :func:`~pointseg.tiling.blend_tiles`.
    """

    tile: int = 512
    overlap: int = 64
    batch: int = 4
    probabilities: bool = False
    panel: int = 4096

    def __post_init__(self) -> None:
        """Refuse a ``--tile`` below 1, an ``--overlap`` not below the tile or a ``--batch`` below 1.

        Raises:
            ConfigError: A value out of range; the message names it.
        """
        if self.tile < 1 or not 0 <= self.overlap < self.tile:
            raise ConfigError(
                f"--tile {self.tile} with --overlap {self.overlap}: tiles need a side of 1 or more and an overlap below it",
                fix="give e.g. --tile 512 --overlap 64",
            )
        if self.batch < 1:
            raise ConfigError(f"--batch {self.batch}: need at least one tile per forward pass", fix="give --batch 1 or more")


Progress = Callable[[int, int], None]
"""Called with the tiles predicted so far in a raster and their total."""

GDAL_CACHE_MB = 64
"""GDAL's block cache during prediction: bounds the pixels read and written that it holds (its default is 5 % of RAM)."""


def predict_raster(
    segmenter: Segmenter,
    source_path: str | Path,
    target_path: str | Path,
    options: TileOptions = TileOptions(),
    on_tiles: Progress | None = None,
) -> Path:
    """Write the class map GeoTIFF of a raster of any size (see the module docstring).

    The class map has the source's size, CRS and transform (or its ground control points and
    RPCs), each class as its index or its value in a ``name,value`` table
    (:class:`~pointseg.data.raster.ClassCoding`: ``uint8`` with nodata
    :data:`~pointseg.data.raster.NODATA` where they fit), the classes' colours as its
    colour table and nodata where the source has no data. With ``options.probabilities``,
    ``<stem>_probabilities.tif`` holds one band per class, probability x 254 rounded (255 is
    nodata); without, an earlier prediction's (its bands named for these classes) is removed, as it would pass for
    this one's.

    Args:
        segmenter: The trained network.
        source_path: Input raster.
        target_path: Output class map (``.tif``).
        options: Tiling.
        on_tiles: Progress: tiles done and their total.
    """
    target_path = Path(target_path)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    classes = segmenter.classes.num_classes
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), open_raster(source_path) as source, ExitStack() as outputs:
        segmenter.band_stats.check(band_count(source), source_path, alpha_note(source))
        grid = TileGrid(source.height, source.width, options.tile, options.overlap)
        targets = [target_path] + [_probabilities_of(target_path)] * options.probabilities
        partial = outputs.enter_context(_replacing(targets))
        coding = ClassCoding.of(segmenter.classes)
        with _writing(target_path):
            profile = class_map_profile(source, dtype=coding.dtype, nodata=coding.nodata)
            labels_out = outputs.enter_context(create_raster(partial[0], profile))
            copy_georeference(source, labels_out)
            if (colours := coding.colour_table(segmenter.classes)) is not None:
                labels_out.write_colormap(1, colours)
            probabilities_out = None
            if options.probabilities:
                profile = class_map_profile(source, classes)
                probabilities_out = outputs.enter_context(create_raster(partial[1], profile))
                copy_georeference(source, probabilities_out)
                probabilities_out.descriptions = segmenter.classes.names
        total, done = grid.tile_count(options.panel), 0

        def advance(tiles: int) -> None:
            nonlocal done
            done += tiles
            if on_tiles is not None:
                on_tiles(done, total)

        blocks = blend_tiles(
            grid, lambda window: read_data(source, window), segmenter.tile_probabilities, classes, options.batch,
            options.panel, advance,
        )  # fmt: skip
        for window, block in blocks:
            nodata = nodata_in(source, window)
            labels = coding.values[block.argmax(axis=0)].astype(coding.dtype)
            labels[nodata] = coding.nodata
            with _writing(target_path):
                labels_out.write(labels, 1, window=to_rasterio(window))
                if probabilities_out is not None:
                    scaled = np.rint(block * 254).astype(np.uint8)
                    scaled[:, nodata] = NODATA
                    probabilities_out.write(scaled, window=to_rasterio(window))
        with _writing(target_path):
            outputs.close()  # flushed here, so that a full disk is named as such
    stale = _probabilities_of(target_path)
    if not options.probabilities and stale.is_file() and _probabilities_for(stale, segmenter.classes):
        stale.unlink()
    return target_path


def _probabilities_for(path: Path, classes: ClassTable) -> bool:
    """Whether ``path`` is probabilities as :func:`predict_raster` writes them for ``classes`` (a band named for each)."""
    try:
        with rasterio.open(path) as probabilities:
            return probabilities.descriptions == tuple(classes.names)
    except RasterioIOError:
        return False


def _probabilities_of(target: Path) -> Path:
    """Where :func:`predict_raster` writes the probabilities of the class map ``target``."""
    return target.with_name(f"{target.stem}_probabilities.tif")


@contextmanager
def _replacing(targets: Sequence[Path]) -> Iterator[list[Path]]:
    """Hidden files in place of ``targets``, each renamed to its target once the block ends, all removed if it fails.

    A prediction that fails (an unreadable tile, an interrupt) leaves no half-written class
    map, and an earlier prediction of the same input whole.
    """
    partial = [target.with_name(f".{target.name}.partial") for target in targets]
    try:
        yield partial
        for path, target in zip(partial, targets):
            path.replace(target)
    finally:
        for path in partial:  # left only where something failed
            path.unlink(missing_ok=True)


@contextmanager
def _writing(target: Path) -> Iterator[None]:
    """Name a failure to write ``target`` (or its probabilities) as such, not as one to read the input."""
    try:
        yield
    except (RasterioIOError, OSError) as err:
        raise DatasetError(f"cannot write {target}: {err}", fix="give an --out folder that is writable and has room") from err


def predict_folder(
    checkpoint: str | Path,
    source: str | Path,
    out: str | Path,
    accelerator: str = "auto",
    tiles: TileOptions = TileOptions(),
    on_tiles: Progress | None = None,
) -> Iterator[Path]:
    """Predict every image under ``source``: a colour mask (PNG) for a picture, a class map for a raster.

    Outputs keep the input's relative path and stem (``.png`` or ``.tif``).

    Yields:
        The path of each output as it is written.

    Raises:
        ConfigError: Before any prediction, where an output would overwrite an input or
            another output, or ``out`` lies inside a ``source`` folder (a later run would
            take the predictions for images).
    """
    source, out = Path(source), Path(out)
    targets = _targets(list_images(source), source, out, tiles.probabilities)
    segmenter = Segmenter.from_checkpoint(checkpoint, accelerator)
    for image_path, target in targets.items():
        if is_raster(image_path):
            yield predict_raster(segmenter, image_path, target, tiles, on_tiles)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        image = read_image(image_path)
        try:
            labels = segmenter.predict(image)
        except DatasetError as err:  # bands that do not fit the model
            raise DatasetError(f"{image_path}: {err.message}", fix=err.fix) from err
        Image.fromarray(colourise(labels, segmenter.classes)).save(target)
        yield target


def _targets(images: Sequence[Path], source: Path, out: Path, probabilities: bool) -> dict[Path, Path]:
    """The output of each image (see :func:`predict_folder`), refused where one would overwrite an input or another output."""
    if source.is_dir() and out.resolve().is_relative_to(source.resolve()):
        raise ConfigError(
            f"--out {out} is inside --input {source}: a later run would take the predictions for images",
            fix="give an --out folder outside the input folder",
        )
    targets, written = {}, {}
    inputs = {image.resolve() for image in images}
    for image in images:
        relative = image.relative_to(source) if source.is_dir() else Path(image.name)
        target = (out / relative).with_suffix(".tif" if is_raster(image) else ".png")
        files = [target] + ([_probabilities_of(target)] if probabilities and is_raster(image) else [])
        for file in files:
            if file.resolve() in inputs:
                raise ConfigError(f"the prediction of {image} would overwrite the input {file}", fix="give another --out folder")
            if (other := written.setdefault(file.resolve(), image)) != image:
                raise ConfigError(
                    f"{other} and {image} would both be predicted to {file}", fix="rename one of them or predict them apart"
                )
        targets[image] = target
    if source.is_file() and out.resolve() == source.resolve().parent:
        raise ConfigError(
            f"--out {out} is the folder of --input {source}: its prediction would be written among the files there, "
            "and could replace one of the same name",
            fix="give an --out folder of its own",
        )
    return targets
