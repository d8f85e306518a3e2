"""How a `pointseg simulate-clicks` loop shares its labels out over the classes.

For each arm and round of each loop folder given, the share of each class among all the
points the round trained on (the masks' answers, read from the round's ``points.csv``),
beside each class's share of the labelled pixels of the training masks. Random clicks, as
many in each image, follow the classes' areas image by image; ``--query balanced`` means to
move the labels towards as many for each class. Reads the loop's classes and training data from its ``loop.json`` (recreate
the Dubai views with ``benchmarks/dubai.py`` first) and writes ``classes.json`` in each
loop folder.

    python benchmarks/click_classes.py docs/benchmarks/clicks-balanced-power docs/benchmarks/clicks-balanced-query-balanced
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

from pointseg.classes import ClassTable
from pointseg.clicks import read_loop
from pointseg.data.discover import discover_pairs
from pointseg.data.masks import UnknownLabelsWarning, load_masks
from pointseg.data.points import PointLabels


def class_shares(loop: Path) -> dict[str, dict[str, list[float]]]:
    """``pixels``: each class's share of the masks' labelled pixels; per arm, its share of each round's points."""
    training = read_loop(loop)["training"]
    table = ClassTable.read_csv(training["classes"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownLabelsWarning)  # Dubai's unlabelled grey
        masks = load_masks(discover_pairs(training["data"]), table)
    count = len(table.names)
    pixels = sum(np.bincount(mask[mask >= 0].ravel(), minlength=count) for mask in masks.values())
    shares = {"pixels": dict(zip(table.names, _rounded(pixels)))}
    for arm in ("suggested", "random"):
        runs = [loop / "initial/round-0", *sorted((loop / arm).glob("round-*"), key=lambda path: int(path.name.split("-")[1]))]
        labels = [np.bincount(PointLabels.read_csv(run / "points.csv", table).classes, minlength=count) for run in runs]
        shares[arm] = {name: [_rounded(counts)[c] for counts in labels] for c, name in enumerate(table.names)}
    return shares


def _rounded(counts: np.ndarray) -> list[float]:
    """``counts`` as shares of their sum, to three decimals."""
    return [round(float(x), 3) for x in counts / max(int(counts.sum()), 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("loops", type=Path, nargs="+", help="simulate-clicks --out folders")
    args = parser.parse_args()
    for loop in args.loops:
        shares = class_shares(loop)
        (loop / "classes.json").write_text(json.dumps(shares, indent=2))
        print(loop)
        for arm, by_class in shares.items():
            print(
                f"  {arm:9}",
                ", ".join(
                    f"{name} {share if arm == 'pixels' else ' / '.join(map(str, share))}" for name, share in by_class.items()
                ),
            )


if __name__ == "__main__":
    main()
