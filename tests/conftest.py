"""Tiny generated datasets, an untrained network on their classes and a stand-in of given probabilities, shared by the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# Three classes whose image appearance differs clearly, so a tiny network learns them fast.
COLOURS = {"land": (132, 41, 246), "water": (226, 169, 41), "road": (110, 193, 228)}
APPEARANCE = np.array([[200, 180, 120], [30, 60, 140], [120, 120, 120]], dtype=np.float64)


def class_layout(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Class indices: a vertical band of water, a horizontal road, land elsewhere."""
    labels = np.zeros((height, width), dtype=np.int64)
    left = int(rng.integers(0, width // 2))
    labels[:, left : left + width // 3] = 1
    top = int(rng.integers(0, height - 4))
    labels[top : top + 4, :] = 2
    return labels


def write_pair(root: Path, key: str, labels: np.ndarray, rng: np.random.Generator, palette: bool = False) -> None:
    """Write ``root/<dir>/images/<name>.png`` and its colour mask for ``key`` = ``<dir>/<name>``."""
    folder, name = key.rsplit("/", 1) if "/" in key else ("", key)
    (root / folder / "images").mkdir(parents=True, exist_ok=True)
    (root / folder / "masks").mkdir(parents=True, exist_ok=True)
    image = APPEARANCE[labels] + rng.normal(0, 12, labels.shape + (3,))
    Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(root / folder / "images" / f"{name}.png")
    if palette:  # palette index i holds the colour of class i
        mask = Image.fromarray(labels.astype(np.uint8), mode="P")
        mask.putpalette([c for colour in COLOURS.values() for c in colour])
    else:
        mask = Image.fromarray(np.array(list(COLOURS.values()), dtype=np.uint8)[labels])
    mask.save(root / folder / "masks" / f"{name}.png")


def write_classes(path: Path) -> Path:
    """A ``name,r,g,b`` table of :data:`COLOURS`."""
    path.write_text("name,r,g,b\n" + "".join(f"{n},{r},{g},{b}\n" for n, (r, g, b) in COLOURS.items()))
    return path


def make_dataset(root: Path, n_images: int = 6, size: tuple[int, int] = (40, 48), seed: int = 0) -> Path:
    """A dataset of ``n_images`` pairs in two sub-folders, one palette mask among them."""
    rng = np.random.default_rng(seed)
    for i in range(n_images):
        write_pair(root, f"part_{i % 2}/img_{i}", class_layout(*size, rng), rng, palette=i == 1)
    return root


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """Root of a tiny colour-mask dataset (6 images of 40x48 px, 3 classes)."""
    return make_dataset(tmp_path / "data")


@pytest.fixture
def classes_csv(tmp_path: Path) -> Path:
    """The classes table of :func:`dataset`."""
    return write_classes(tmp_path / "classes.csv")


def halves(height: int, width: int, dtype=np.float64) -> np.ndarray:
    """Probabilities ``(3, height, width)`` of equal entropy everywhere: class 0 predicted left, class 1 right."""
    probabilities = np.empty((3, height, width), dtype)
    probabilities[:, :, : width // 2] = np.array([0.5, 0.3, 0.2])[:, None, None]
    probabilities[:, :, width // 2 :] = np.array([0.3, 0.5, 0.2])[:, None, None]
    return probabilities


class FixedModel:
    """A segmenter of the classes of :data:`COLOURS` whose class probabilities are given, and whose features are 1 everywhere."""

    def __init__(self, probabilities: np.ndarray) -> None:
        import torch

        from pointseg.classes import ClassTable

        self.probabilities_ = torch.from_numpy(probabilities)
        self.classes = ClassTable.from_rows(list(COLOURS.items()))

    def probabilities(self, image):
        return self.probabilities_

    def features(self, image):
        return self.probabilities_.numpy(), np.ones((2, *self.probabilities_.shape[1:]))


def untrained_segmenter(model: str = "unet", classes=None):
    """A :class:`~pointseg.predict.Segmenter` of a seeded, untrained network (width 4) on the CPU.

    Its classes are ``classes`` (a three-class :class:`~pointseg.classes.ClassTable`), or :data:`COLOURS`.
    """
    import torch

    from pointseg.classes import ClassTable
    from pointseg.data.dataset import BandStats
    from pointseg.models import ModelConfig
    from pointseg.predict import Segmenter
    from pointseg.task import PointSegModule

    torch.manual_seed(0)
    module = PointSegModule(
        model=ModelConfig(name=model, in_channels=3, num_classes=len(COLOURS), width=4, depth=2).model_dump(),
        classes=(classes or ClassTable.from_rows(list(COLOURS.items()))).to_dict(),
        band_stats=BandStats((128.0,) * 3, (64.0,) * 3).to_dict(),
    )
    return Segmenter(module.eval(), torch.device("cpu"))
