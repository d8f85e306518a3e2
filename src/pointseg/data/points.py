"""Point labels: simulate them from dense masks, save, load and summarise them.

A point is ``(image key, row, col, class)``. Simulation is seeded per image (from the
seed and the image key), so the same seed gives the same points for an image whatever
other images the dataset holds. Three strategies:

* ``random``: uniform over the image's labelled pixels (the default);
* ``class-balanced``: the same number of points for every class present in the image, a class
  with fewer pixels than its share giving the rest to the others;
* ``grid``: a regular grid with a seeded offset, keeping the nodes on labelled pixels.

Density is a :class:`PointSpec`: points per image (``"50"``) or a fraction of the image's
pixels (``"0.001"``).

Example:
    >>> import numpy as np
    >>> masks = {"a": np.zeros((100, 100), np.int16)}
    >>> points = simulate_points(masks, PointSpec.parse("20"), "random", seed=0)
    >>> len(points), points.classes.tolist() == [0] * 20
    (20, True)
    >>> PointSpec.parse("0.001").count(100 * 100)
    10
"""

from __future__ import annotations

import csv
import json
import math
import os
import warnings
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from pointseg.classes import IGNORE_INDEX, ClassTable
from pointseg.errors import PointsegWarning, PointsError

Strategy = Literal["random", "class-balanced", "grid"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)
POINT_COLUMNS = ("image", "row", "col", "class")
"""The columns of a points file, in order."""


@dataclass(frozen=True)
class PointSpec:
    """How many points to put on an image: a count per image or a fraction of its pixels.

    Attributes:
        per_image: Points per image, or None.
        fraction: Fraction of the image's pixels in ``(0, 1)``, or None.
    """

    per_image: int | None = None
    fraction: float | None = None

    @classmethod
    def parse(cls, text: str | int | float) -> PointSpec:
        """Read ``"50"`` (points per image) or ``"0.001"`` (fraction of pixels).

        Raises:
            PointsError: Anything else.
        """
        raw = str(text).strip()
        try:
            number = float(raw)
        except ValueError:
            number = float("nan")
        if math.isfinite(number) and number >= 1 and number == int(number) and "." not in raw and "e" not in raw.lower():
            return cls(per_image=int(number))
        if 0 < number < 1:
            return cls(fraction=number)
        raise PointsError(
            f"--points {raw!r} is neither a whole number of points per image (e.g. 50) "
            "nor a fraction of pixels between 0 and 1 (e.g. 0.001)",
            fix="pass e.g. --points 50 or --points 0.0001",
        )

    def count(self, n_pixels: int) -> int:
        """Number of points for an image of ``n_pixels`` pixels (at least one)."""
        if self.per_image is not None:
            return self.per_image
        return max(1, round(self.fraction * n_pixels))  # type: ignore[operator]

    def __str__(self) -> str:
        return str(self.per_image) if self.per_image is not None else f"{self.fraction:g}"


def image_rng(seed: int, key: str) -> np.random.Generator:
    """The random generator of one image: depends on the seed and the image key only."""
    return np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))])


def _random(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    candidates = np.flatnonzero(labels.ravel() != IGNORE_INDEX)
    return rng.choice(candidates, size=min(n, candidates.size), replace=False)


def _class_balanced(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    flat = labels.ravel()
    present, sizes = np.unique(flat[flat != IGNORE_INDEX], return_counts=True)
    chosen = [np.empty(0, dtype=np.int64)]
    for cls, q in zip(present, _balanced_quota(sizes, n, rng)):
        chosen.append(rng.choice(np.flatnonzero(flat == cls), size=q, replace=False))
    return np.concatenate(chosen)


def _balanced_quota(sizes: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """How many of ``n`` points each class gets, given its ``sizes`` in pixels: equal shares, as far as the pixels go.

    A class with fewer pixels than its share gets them all and the others share what it leaves
    (a max-min fair share); the points left over from an even split go to classes drawn at
    random. The quotas add up to ``n``, or to all the pixels where there are fewer.

    >>> _balanced_quota(np.array([900, 300]), 1000, np.random.default_rng(0)).tolist()
    [700, 300]
    >>> _balanced_quota(np.array([5, 50, 50]), 31, np.random.default_rng(0)).tolist()
    [5, 13, 13]
    """
    quota = np.zeros(sizes.size, dtype=np.int64)
    open_ = np.ones(sizes.size, dtype=bool)
    remaining = min(n, int(sizes.sum()))
    while remaining:
        share = remaining // open_.sum()
        if (full := open_ & (sizes - quota <= share)).any():  # classes that run out: all their pixels, then share again
            remaining -= int((sizes - quota)[full].sum())
            quota[full], open_[full] = sizes[full], False
            continue
        quota[open_] += share
        quota[rng.choice(np.flatnonzero(open_), size=remaining - share * open_.sum(), replace=False)] += 1
        remaining = 0
    return quota


def _grid(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """About ``n`` pixels on a regular grid shifted at random, its rows and columns in the image's proportions.

    ``rows`` follows the image's height against its width and ``cols = n / rows`` (both
    rounded), so cells are near square and a long strip gets its points along its length;
    grid pixels without a label are dropped.
    """
    height, width = labels.shape
    rows = min(height, max(1, round(float(np.sqrt(n * height / width)))))
    cols = min(width, max(1, round(n / rows)))
    starts = [rng.uniform(0, size / count) + np.arange(count) * size / count for size, count in ((height, rows), (width, cols))]
    flat = (starts[0].astype(np.int64)[:, None] * width + starts[1].astype(np.int64)[None, :]).ravel()
    return flat[labels.ravel()[flat] != IGNORE_INDEX]


_SAMPLERS = {"random": _random, "class-balanced": _class_balanced, "grid": _grid}


def read_csv_records(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str | None]]]]:
    """The header of a UTF-8 CSV file (Excel's, with a byte-order mark, too) and its records, each with its line number.

    A record's line number is the line it ends on: blank lines are skipped, but counted. A
    short line's missing fields are None (see :func:`require_fields`). Spaces around the
    column names and the values are dropped, as a spreadsheet's ``image, row, col`` has them.

    Raises:
        PointsError: The file is not UTF-8 text or not CSV.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or []]
            reader.fieldnames = header
            strip = lambda value: value.strip() if isinstance(value, str) else value  # noqa: E731 (None, or a list of extras)
            return header, [(reader.line_num, {k: strip(v) for k, v in record.items()}) for record in reader]
    except (UnicodeDecodeError, csv.Error) as err:
        raise PointsError(f"{path} is not a readable CSV file: {err}", fix="save it as UTF-8 CSV") from err


def require_fields(where: str, record: Mapping[str, str | None], columns: Sequence[str]) -> None:
    """Refuse a record of :func:`read_csv_records` whose line has too few fields to fill ``columns``.

    Raises:
        PointsError: Naming ``where`` (file and line) and the missing columns.
    """
    missing = [column for column in columns if record.get(column) is None]
    if missing:
        raise PointsError(
            f"{where}: too few fields ({', '.join(missing)} missing)", fix=f"give {','.join(columns)} on every line"
        )


@dataclass(frozen=True)
class PointLabels:
    """A set of labelled points over the images of a dataset.

    Attributes:
        keys: Image key of each point.
        rows: Pixel row of each point.
        cols: Pixel column of each point.
        classes: Class index of each point.
    """

    keys: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    classes: np.ndarray

    def __len__(self) -> int:
        return int(self.rows.size)

    @classmethod
    def concatenate(cls, *parts: PointLabels) -> PointLabels:
        """All the points of ``parts``, in order."""
        return cls(*(np.concatenate(column) for column in zip(*((p.keys, p.rows, p.cols, p.classes) for p in parts))))

    def select(self, keep: np.ndarray) -> PointLabels:
        """The points where the boolean array ``keep`` is true."""
        return PointLabels(self.keys[keep], self.rows[keep], self.cols[keep], self.classes[keep])

    def without(self, other: PointLabels) -> PointLabels:
        """The points on pixels that ``other`` has no point on, whatever the classes.

        >>> points = PointLabels(np.array(["a", "a", "b"]), np.array([0, 1, 0]), np.zeros(3, int), np.array([2, 0, 2]))
        >>> len(points.without(points.select(np.array([True, False, False]))))
        2
        """
        others = set(zip(other.keys.tolist(), other.rows.tolist(), other.cols.tolist()))
        return self.select(
            np.array([p not in others for p in zip(self.keys.tolist(), self.rows.tolist(), self.cols.tolist())], bool)
        )

    def of_image(self, key: str) -> PointLabels:
        """The points of one image."""
        return self.select(self.keys == key)

    def label_map(self, key: str, shape: tuple[int, int]) -> np.ndarray:
        """A sparse ``int16`` label map of one image: point classes, :data:`IGNORE_INDEX` elsewhere."""
        labels = np.full(shape, IGNORE_INDEX, dtype=np.int16)
        own = self.of_image(key)
        labels[own.rows, own.cols] = own.classes
        return labels

    def class_counts(self, num_classes: int) -> np.ndarray:
        """Number of points of each class index, ``0`` to ``num_classes - 1``.

        >>> points = PointLabels(np.array(["a", "a", "b"]), np.zeros(3, int), np.zeros(3, int), np.array([2, 0, 2]))
        >>> points.class_counts(4).tolist()
        [1, 0, 2, 0]
        """
        return np.bincount(self.classes, minlength=num_classes)

    def counts(self, table: ClassTable) -> tuple[dict[str, int], dict[str, int]]:
        """Number of points per class name and per image key."""
        per_class = self.class_counts(len(table.names)).tolist()
        return dict(zip(table.names, per_class)), dict(sorted(Counter(self.keys.tolist()).items()))

    def write_csv(self, path: str | Path, table: ClassTable) -> None:
        """Write ``image,row,col,class`` rows, the class by name.

        The file appears whole or not at all (written aside, then renamed), so that a
        process reading it while another writes it never sees half a file.
        """
        path = Path(path)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        with partial.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(POINT_COLUMNS)
            for key, row, col, cls in zip(self.keys.tolist(), self.rows.tolist(), self.cols.tolist(), self.classes.tolist()):
                writer.writerow([key, row, col, table.names[cls]])
        try:
            os.replace(partial, path)
        except OSError:  # a folder where the file goes: leave nothing behind
            partial.unlink()
            raise

    @classmethod
    def read_csv(cls, path: str | Path, table: ClassTable, sizes: Mapping[str, tuple[int, int]] | None = None) -> PointLabels:
        """Read a file written by :meth:`write_csv` (or by hand, in that form).

        A point repeating an earlier line's pixel and class counts once, with a warning.

        Args:
            path: The CSV file.
            table: Classes to match the ``class`` column against, by name.
            sizes: ``(height, width)`` by image key; when given, points must lie on a known image.

        Raises:
            PointsError: Missing file or column, a line with too few fields, unknown class or image, a point outside its
                image (or at a negative row or col), a pixel given two classes.
        """
        path = Path(path)
        if not path.is_file():
            raise PointsError(f"points file not found: {path}", fix="write one with `pointseg points` or check the path")
        header, records = read_csv_records(path)
        if not set(POINT_COLUMNS) <= set(header):
            raise PointsError(f"{path} lacks the columns image,row,col,class", fix="write points with `pointseg points`")
        index = {name: i for i, name in enumerate(table.names)}
        keys, rows, cols, classes = [], [], [], []
        seen: dict[tuple[str | None, int, int], tuple[int, str]] = {}  # pixel -> line and class of its first point
        repeated = 0
        for line, record in records:
            where = f"{path}, line {line}"
            require_fields(where, record, POINT_COLUMNS)
            if record["class"] not in index:
                raise PointsError(
                    f"{where}: class {record['class']!r} is not in the classes table", fix=f"use one of {', '.join(table.names)}"
                )
            try:
                row, col = int(record["row"]), int(record["col"])
            except ValueError as err:
                raise PointsError(f"{where}: row and col must be whole numbers", fix="correct the row") from err
            if row < 0 or col < 0:
                raise PointsError(f"{where}: pixel ({row}, {col}) has a negative row or col", fix="correct the row")
            pixel = (record["image"], row, col)
            if pixel in seen:
                first, label = seen[pixel]
                if label != record["class"]:
                    raise PointsError(
                        f"{where}: pixel ({row}, {col}) of {record['image']!r} is {record['class']!r} here "
                        f"but {label!r} on line {first}",
                        fix="keep one class for each pixel (delete the wrong line)",
                    )
                repeated += 1
                continue
            seen[pixel] = (line, record["class"])
            if sizes is not None:
                if record["image"] not in sizes:
                    raise PointsError(
                        f"{where}: image {record['image']!r} is not in the dataset", fix="check --data or the points file"
                    )
                height, width = sizes[record["image"]]
                if not (0 <= row < height and 0 <= col < width):
                    raise PointsError(
                        f"{where}: pixel ({row}, {col}) is outside the {width}x{height} image", fix="correct the row"
                    )
            keys.append(record["image"])
            rows.append(row)
            cols.append(col)
            classes.append(index[record["class"]])
        if repeated:
            warnings.warn(
                PointsegWarning(f"{path}: {repeated} point(s) repeat an earlier line's pixel and class, counted once"),
                stacklevel=2,
            )
        return cls(
            np.asarray(keys, dtype=object), np.asarray(rows, np.int64), np.asarray(cols, np.int64), np.asarray(classes, np.int64)
        )


def simulate_points(masks: Mapping[str, np.ndarray], spec: PointSpec, strategy: Strategy, seed: int) -> PointLabels:
    """Sample point labels from dense masks.

    Args:
        masks: Dense labels by image key (:data:`IGNORE_INDEX` where unlabelled).
        spec: Points per image or fraction of pixels.
        strategy: ``"random"``, ``"class-balanced"`` or ``"grid"``.
        seed: Seed; with the image key it fixes each image's points.

    Returns:
        The points of all images, in key order.

    Warns:
        PointsegWarning: Images that get fewer random or class-balanced points than asked: they have fewer
            labelled pixels, and get every one.
    """
    if strategy not in _SAMPLERS:
        raise PointsError(f"unknown point strategy {strategy!r}", fix=f"use one of {', '.join(STRATEGIES)}")
    parts = []
    short = []
    for key in sorted(masks):
        labels = masks[key]
        asked = spec.count(labels.size)
        flat = _SAMPLERS[strategy](labels, asked, image_rng(seed, key))
        if strategy != "grid" and flat.size < asked:  # a grid's count is approximate by design
            short.append(f"{key} ({flat.size} of {asked})")
        flat = np.sort(flat)
        rows, cols = np.divmod(flat, labels.shape[1])
        parts.append((np.full(flat.size, key, dtype=object), rows, cols, labels.ravel()[flat].astype(np.int64)))
    if not parts:
        raise PointsError("no dense mask to sample points from", fix="give a dataset with masks")
    if short:
        warnings.warn(
            PointsegWarning(
                f"{len(short)} image(s) get fewer points than asked (they have fewer labelled pixels, and get them all): "
                f"{', '.join(short[:3])}"
                f"{', ...' if len(short) > 3 else ''}"
            ),
            stacklevel=2,
        )
    return PointLabels(*(np.concatenate(column) for column in zip(*parts)))


def write_points(folder: str | Path, points: PointLabels, table: ClassTable, settings: Mapping[str, object]) -> Path:
    """Write ``points.csv`` and ``points.json`` (settings and counts) into a folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    points.write_csv(folder / "points.csv", table)
    per_class, per_image = points.counts(table)
    summary = {"settings": dict(settings), "total": len(points), "per_class": per_class, "per_image": per_image}
    (folder / "points.json").write_text(json.dumps(summary, indent=2))
    return folder / "points.csv"
