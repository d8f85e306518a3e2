"""Build the built-in sample (src/pointseg/sample) from the Dubai aerial set.

Takes parts 1, 4 and 7 of tiles 1-6 and halves their resolution (images with Lanczos,
masks with nearest neighbour, palette masks kept as palette masks), so the sample stays
a few MB and the demo runs in minutes on two CPU cores.

    python scripts/make_sample.py ../shared/data/dubai-aerial
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from PIL import Image

PARTS = ("image_part_001", "image_part_004", "image_part_007")
TILES = range(1, 7)
SCALE = 0.5


def main(source: Path, target: Path) -> None:
    shutil.rmtree(target / "dubai", ignore_errors=True)
    for tile in TILES:
        for part in PARTS:
            image = Image.open(source / f"tile_{tile}/images/{part}.jpg")
            mask = Image.open(source / f"tile_{tile}/masks/{part}.png")
            size = (round(image.width * SCALE), round(image.height * SCALE))
            for folder in ("images", "masks"):
                (target / f"dubai/tile_{tile}/{folder}").mkdir(parents=True, exist_ok=True)
            image.resize(size, Image.Resampling.LANCZOS).save(target / f"dubai/tile_{tile}/images/{part}.jpg", quality=90)
            mask.resize(size, Image.Resampling.NEAREST).save(target / f"dubai/tile_{tile}/masks/{part}.png", optimize=True)
    shutil.copy(source / "classes.csv", target / "dubai/classes.csv")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).resolve().parents[1] / "src/pointseg/sample")
