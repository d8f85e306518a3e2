"""The Dubai aerial set as the benchmarks split it: tiles 1-6 train, tile 7 validates (or 1-5 and 6, to tune).

The splits are folders of symbolic links to whole tiles, at a fixed place in the
temporary folder, so that every process of a benchmark (and every re-run that resumes
one) names the same data. :func:`train_once` trains a run unless it finished before and
keeps its wall-clock time in ``seconds.txt``.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from pointseg.config import TrainConfig
from pointseg.training import train

DUBAI = Path("../shared/data/dubai-aerial")
CREDIT = "Dubai aerial imagery, Humans in the Loop / MBRSC, CC0 1.0"


def tile_view(source: Path, tiles: range, folder: Path) -> Path:
    """A folder of symbolic links to some tiles of the dataset."""
    folder.mkdir(parents=True, exist_ok=True)
    for tile in tiles:
        link = folder / f"tile_{tile}"
        if not link.exists():
            link.symlink_to((source / f"tile_{tile}").resolve(), target_is_directory=True)
    return folder


def dubai_split(source: Path = DUBAI, val_tile: int = 7) -> tuple[Path, Path, Path]:
    """``(train_root, val_root, classes_csv)``: the tiles before ``val_tile``, that tile and the true classes table.

    The default validates on tile 7 and trains on tiles 1-6; ``val_tile=6`` (train on 1-5)
    is for choosing a method's options without looking at tile 7.
    """
    if not (source / "classes.csv").is_file():
        raise SystemExit(f"{source} is not the Dubai aerial set (no classes.csv); pass --data")
    views = Path(tempfile.gettempdir()) / "pointseg-dubai-views"
    train = tile_view(source, range(1, val_tile), views / f"tiles-1-{val_tile - 1}")
    return train, tile_view(source, range(val_tile, val_tile + 1), views / f"tile-{val_tile}"), source / "classes.csv"


def train_once(config: TrainConfig) -> tuple[dict, float]:
    """``(metrics, seconds)`` of the run in ``config.out``, trained (and timed) unless it has a ``seconds.txt``.

    ``seconds.txt`` is written when the training has returned, so it marks a finished run;
    ``metrics.json`` would not, as every validation during training rewrites it.
    """
    seconds = config.out / "seconds.txt"
    if not seconds.exists():
        start = time.perf_counter()
        train(config)
        seconds.write_text(f"{time.perf_counter() - start:.1f}\n")
    return json.loads((config.out / "metrics.json").read_text()), float(seconds.read_text())


if __name__ == "__main__":  # the views the benchmarks read: python benchmarks/dubai.py (from the repository root)
    for val_tile in (7, 6):
        print(*dubai_split(val_tile=val_tile))
