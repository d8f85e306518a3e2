"""How right are the labels that superpixel propagation spreads? SLIC settings on the Dubai training tiles.

For each superpixel area and compactness asked, samples random points at 0.01 % of pixels
(the label-efficiency budget) on every ``--every``-th image of tiles 1-6, spreads them to
their SLIC superpixels exactly as ``--method superpixels`` does, and compares the spread
labels with the dense masks: per class, the pixels it gained per point and the share of
them that truly are that class (its precision). Tile 7 is not read, so the choice stays
blind to the validation tile. Writes ``superpixels.json`` in ``--out``.

    python benchmarks/superpixels.py --areas 100 400 --compactness 0.1 0.5 1 10
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from dubai import DUBAI, dubai_split

from pointseg.classes import IGNORE_INDEX, ClassTable
from pointseg.data.discover import discover_pairs
from pointseg.data.imagery import read_image
from pointseg.data.masks import UnknownLabelsWarning, load_masks
from pointseg.data.points import PointLabels, PointSpec, simulate_points
from pointseg.data.superpixels import expand_points, superpixels
from pointseg.metrics import confusion_matrix


def spread_confusion(
    images: dict[str, np.ndarray],
    masks: dict[str, np.ndarray],
    points: PointLabels,
    area: int,
    compactness: float,
    classes: int,
) -> np.ndarray:
    """``(classes, classes)`` pixel counts of true class (rows) against spread label (columns), over all images."""
    confusion = np.zeros((classes, classes), dtype=np.int64)
    for key, image in images.items():
        mask = masks[key]
        expanded = expand_points(superpixels(image, area, compactness), points.label_map(key, mask.shape))
        spread = expanded != IGNORE_INDEX
        confusion += confusion_matrix(torch.from_numpy(expanded[spread]), torch.from_numpy(mask[spread]), classes).numpy()
    return confusion


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DUBAI)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/superpixels"))
    parser.add_argument("--areas", type=int, nargs="+", default=[100, 400])
    parser.add_argument("--compactness", type=float, nargs="+", default=[0.1, 1.0, 10.0])
    parser.add_argument("--every", type=int, default=4, help="use every N-th training image")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    train_root, _, classes_csv = dubai_split(args.data)
    table = ClassTable.read_csv(classes_csv)
    pairs = discover_pairs(train_root)[:: args.every]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownLabelsWarning)  # the grey 'unlabeled' pixels, reported by pointseg train
        masks = load_masks(pairs, table)
    images = {pair.key: read_image(pair.image) for pair in pairs}
    points = simulate_points(masks, PointSpec.parse("0.0001"), "random", args.seed)
    per_class_points = points.class_counts(len(table.names))

    results = []
    print(f"{len(pairs)} images, {len(points)} points; per class: pixels gained per point, precision of the spread labels")
    print(f"{'area':>5} {'compact':>7}  " + "  ".join(f"{name:>16}" for name in table.names))
    for area in args.areas:
        for compactness in args.compactness:
            confusion = spread_confusion(images, masks, points, area, compactness, len(table.names))
            gained, right = confusion.sum(axis=0), np.diag(confusion)
            row = {
                "area": area,
                "compactness": compactness,
                "pixels_per_point": dict(zip(table.names, (gained / np.maximum(per_class_points, 1)).tolist())),
                "precision": dict(zip(table.names, (right / np.maximum(gained, 1)).tolist())),
            }
            results.append(row)
            cells = [f"{row['pixels_per_point'][n]:7.0f} px {row['precision'][n]:5.3f}" for n in table.names]
            print(f"{area:>5} {compactness:>7g}  " + "  ".join(f"{cell:>16}" for cell in cells), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "superpixels.json").write_text(
        json.dumps({"images": len(pairs), "points": len(points), "runs": results}, indent=2)
    )


if __name__ == "__main__":
    main()
