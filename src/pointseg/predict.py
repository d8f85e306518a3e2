"""Prediction with a trained checkpoint: class maps, and colour masks in the classes' colours.

Example:
    >>> segmenter = Segmenter.from_checkpoint("runs/a/model.ckpt")  # doctest: +SKIP
    >>> classes = segmenter.predict(read_image("scene.jpg"))  # doctest: +SKIP
    >>> predict_folder("runs/a/model.ckpt", "new-images", "predictions")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pointseg.classes import IGNORE_INDEX, ClassTable
from pointseg.data.dataset import BandStats
from pointseg.data.discover import list_images
from pointseg.data.imagery import read_image
from pointseg.errors import CheckpointError, ConfigError, DatasetError
from pointseg.task import PointSegModule


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
        return torch.device("cuda" if cuda and accelerator != "mps" else "mps")
    raise ConfigError(f"--accelerator {accelerator}: no such device here", fix="use --accelerator auto, cpu or gpu")


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

    @torch.inference_mode()
    def probabilities(self, image: np.ndarray) -> torch.Tensor:
        """Class probabilities ``(classes, H, W)`` of an ``(H, W, bands)`` image."""
        tensor = self.band_stats.normalise(image)[None].to(self.device)
        return torch.softmax(self.module(tensor), dim=1)[0].cpu()

    def predict(self, image: np.ndarray) -> np.ndarray:
        """Class index of every pixel of an ``(H, W, bands)`` image, as ``(H, W)``."""
        return self.probabilities(image).argmax(dim=0).numpy()


def colourise(labels: np.ndarray, classes: ClassTable) -> np.ndarray:
    """``(H, W)`` class indices -> ``(H, W, 3)`` ``uint8`` colours; ignored pixels are black.

    >>> table = ClassTable.from_rows([("a", (255, 0, 0)), ("b", (0, 0, 255))])
    >>> colourise(np.array([[0, 1, -100]]), table).tolist()
    [[[255, 0, 0], [0, 0, 255], [0, 0, 0]]]
    """
    palette = np.array([*classes.colours, (0, 0, 0)], dtype=np.uint8)
    return palette[np.where(labels == IGNORE_INDEX, len(classes.colours), labels)]


def predict_folder(checkpoint: str | Path, source: str | Path, out: str | Path, accelerator: str = "auto") -> Iterator[Path]:
    """Write a colour mask (PNG, same relative path and stem) for every image under ``source``.

    Yields:
        The path of each mask as it is written.
    """
    segmenter = Segmenter.from_checkpoint(checkpoint, accelerator)
    source, out = Path(source), Path(out)
    for image_path in list_images(source):
        relative = image_path.relative_to(source) if source.is_dir() else Path(image_path.name)
        target = (out / relative).with_suffix(".png")
        target.parent.mkdir(parents=True, exist_ok=True)
        image = read_image(image_path)
        try:
            labels = segmenter.predict(image)
        except DatasetError as err:  # bands that do not fit the model
            raise DatasetError(f"{image_path}: {err.message}", fix=err.fix) from err
        Image.fromarray(colourise(labels, segmenter.classes)).save(target)
        yield target
