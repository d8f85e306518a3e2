"""The Dubai aerial set as the benchmarks split it: tiles 1-6 train, tile 7 validates.

The splits are folders of symbolic links to whole tiles, at a fixed place in the
temporary folder, so that every process of a benchmark (and every re-run that resumes
one) names the same data.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

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


def dubai_split(source: Path = DUBAI) -> tuple[Path, Path, Path]:
    """``(train_root, val_root, classes_csv)``: tiles 1-6, tile 7 and the true classes table."""
    if not (source / "classes.csv").is_file():
        raise SystemExit(f"{source} is not the Dubai aerial set (no classes.csv); pass --data")
    views = Path(tempfile.gettempdir()) / "pointseg-dubai-views"
    return tile_view(source, range(1, 7), views / "train"), tile_view(source, range(7, 8), views / "val"), source / "classes.csv"
