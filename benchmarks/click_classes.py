"""How a `pointseg simulate-clicks` loop shares its labels out over the classes.

For each arm and round of each loop folder given, each class's share of the points the
round added (the masks' answers, read from the round's ``points.csv``; round 0: the
initial points) and of all the points it trained on, beside each class's share of the
labelled pixels of the training masks. Random clicks, as many in each image, follow the
classes' areas image by image; ``--query balanced`` means to give the classes with fewer
labels more. Reads the loop's classes and training data from its ``loop.json``, run from
the folder the loop ran in (recreate the Dubai views with ``benchmarks/dubai.py`` first),
and writes ``classes.json`` in each loop folder.

    python benchmarks/click_classes.py docs/benchmarks/clicks-balanced-power docs/benchmarks/clicks-balanced-query-balanced
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
from click_boundaries import rounds

from pointseg.clicks import read_loop
from pointseg.config import TrainConfig
from pointseg.data.masks import UnknownLabelsWarning
from pointseg.data.points import PointLabels
from pointseg.data.scenes import dense_masks
from pointseg.training import split_dataset


def class_shares(loop: Path) -> dict[str, dict[str, dict[str, list[float]] | float]]:
    """``pixels``: each class's share of the masks' labelled pixels; per arm, ``added`` and ``all``: per class, its
    share of each round's new points and of all its points."""
    table, _, pairs, _ = split_dataset(TrainConfig(**read_loop(loop)["training"], out=loop))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownLabelsWarning)  # Dubai's unlabelled grey
        masks, _ = dense_masks(pairs, table)
    count = len(table.names)
    pixels = sum(np.bincount(mask[mask >= 0].ravel(), minlength=count) for mask in masks.values())
    shares: dict[str, dict] = {"pixels": dict(zip(table.names, _rounded(pixels)))}
    for arm in ("suggested", "random"):
        labels = [PointLabels.read_csv(run / "points.csv", table) for run in rounds(loop, arm)]
        none = labels[0].select(np.zeros(len(labels[0]), dtype=bool))  # before round 0, every point is new
        added = [now.without(before).class_counts(count) for before, now in zip([none, *labels], labels)]
        every = [now.class_counts(count) for now in labels]
        shares[arm] = {
            kind: {name: [_rounded(c)[i] for c in counts] for i, name in enumerate(table.names)}
            for kind, counts in (("added", added), ("all", every))
        }
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
        print(loop, "pixels:", ", ".join(f"{name} {share}" for name, share in shares.pop("pixels").items()))
        for arm, kinds in shares.items():
            for kind, by_class in kinds.items():
                print(f"  {arm} {kind}:", ", ".join(f"{name} {' / '.join(map(str, s))}" for name, s in by_class.items()))


if __name__ == "__main__":
    main()
