"""Where do the clicks of a `pointseg simulate-clicks` loop land: on class boundaries or inside the classes?

For each arm and round of each loop folder given, the share of the round's new points
closer than ``--gap`` pixels to a change of class in the dense masks (the same measure as
``suggest --boundary-gap``, :func:`pointseg.suggest.near_boundaries`, applied to the masks
instead of the predictions). Reads the training data and classes from the loop's
``loop.json`` (recreate the Dubai views with ``benchmarks/dubai.py`` first) and writes
``boundaries.json`` in each loop folder.

    python benchmarks/click_boundaries.py docs/benchmarks/clicks docs/benchmarks/clicks-balanced-gap4
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
from pointseg.suggest import near_boundaries


def rounds(loop: Path, arm: str) -> list[Path]:
    """The run folders of ``arm``'s rounds in order, the shared round 0 (``initial/round-0``) first."""
    return [loop / "initial/round-0", *sorted((loop / arm).glob("round-*"), key=lambda path: int(path.name.split("-")[1]))]


def boundary_shares(loop: Path, gap: int) -> dict[str, list[float]]:
    """Per arm, the share of each round's new points near a class boundary of the masks."""
    training = read_loop(loop)["training"]
    table = ClassTable.read_csv(training["classes"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownLabelsWarning)  # Dubai's unlabelled grey: its own boundaries
        masks = load_masks(discover_pairs(training["data"]), table)
    near = {key: near_boundaries(mask, gap) for key, mask in masks.items()}
    shares: dict[str, list[float]] = {}
    for arm in ("suggested", "random"):
        first, *later = rounds(loop, arm)
        before = PointLabels.read_csv(first / "points.csv", table)
        for run in later:
            after = PointLabels.read_csv(run / "points.csv", table)
            added = after.without(before)
            shares.setdefault(arm, []).append(
                round(float(np.mean([near[k][r, c] for k, r, c in zip(added.keys, added.rows, added.cols)])), 3)
            )
            before = after
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("loops", type=Path, nargs="+", help="simulate-clicks --out folders")
    parser.add_argument("--gap", type=int, default=4, help="pixels: closer than this to a class change is on a boundary")
    args = parser.parse_args()
    for loop in args.loops:
        shares = boundary_shares(loop, args.gap)
        (loop / "boundaries.json").write_text(json.dumps({"gap": args.gap, "share_near_boundaries": shares}, indent=2))
        print(loop, ", ".join(f"{arm} {' / '.join(f'{s:.2f}' for s in values)}" for arm, values in shares.items()))


if __name__ == "__main__":
    main()
