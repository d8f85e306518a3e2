"""The extra cost of each ``--method`` per training step, measured in one process.

Trains every method for the same steps on the same synthetic data (U-Net width 8, batch 8
of 256-px crops, as in the Dubai benchmarks) through the real training loop, times the
steps after a warm-up, and prints seconds per step and the ratio to plain pCE. The
self-training warm-up is set to 0 so that every timed step pays for the teacher.
Superpixels cost once, before training: SLIC on every training image, timed separately.

    python benchmarks/method_cost.py --steps 30
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from lightning.pytorch.callbacks import Callback
from PIL import Image

from pointseg.config import TrainConfig
from pointseg.data.superpixels import superpixels
from pointseg.training import train

METHODS = ["pce", "crf", "superpixels", "self-training", "superpixels+crf", "consistency", "superpixels+consistency"]
COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


class StepTimer(Callback):
    """Seconds of every training step (data loading excluded)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._start = 0.0

    def on_train_batch_start(self, *args: object) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, *args: object) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def synthetic_dataset(root: Path, images: int = 4, size: int = 512) -> tuple[Path, Path]:
    """Blobs of three classes with noisy colours: ``(data_root, classes_csv)``."""
    rng = np.random.default_rng(0)
    for folder in ("images", "masks"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for i in range(images):
        y, x = np.mgrid[:size, :size]
        labels = ((np.sin(x / 37 + i) + np.cos(y / 53)) > 0).astype(int) + (x > size * 0.7)
        image = np.array(COLOURS)[labels] * 0.6 + rng.normal(60, 20, (size, size, 3))
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(root / "images" / f"{i}.png")
        Image.fromarray(np.array(COLOURS, np.uint8)[labels]).save(root / "masks" / f"{i}.png")
    classes = root / "classes.csv"
    classes.write_text("name,r,g,b\n" + "".join(f"c{k},{r},{g},{b}\n" for k, (r, g, b) in enumerate(COLOURS)))
    return root, classes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5, help="steps left out of the timing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data, classes = synthetic_dataset(Path(folder) / "data")
        per_step = {}
        for method in METHODS:
            timer = StepTimer()
            config = TrainConfig(data=data, classes=classes, out=Path(folder) / method, method=method, points="0.001",
                                 max_steps=args.steps, batch_size=8, crop=256, width=8, val_fraction=0.25,
                                 self_training_start=0.0, progress_bar=False)  # fmt: skip
            train(config, callbacks=[timer])
            per_step[method] = statistics.median(timer.seconds[args.warmup :])
        image = np.asarray(Image.open(data / "images/0.png"))
        start = time.perf_counter()
        superpixels(image, 400)
        slic = time.perf_counter() - start
    for method, seconds in per_step.items():
        print(f"{method:>16}: {seconds:.3f} s/step, {seconds / per_step['pce']:.2f} x pce")
    print(f"SLIC superpixels, once per training image: {slic:.2f} s for 512 x 512 px")


if __name__ == "__main__":
    main()
