"""Decode a dataset's dense masks to class indices, and account for unknown colours.

Pixels whose colour (or value) is in no class become :data:`~pointseg.classes.IGNORE_INDEX`.
Over the whole dataset, unknown colours are listed in one warning with their share of
pixels; when most pixels are unknown the classes table is wrong for these masks (for
example the Dubai set's ``classes.original.json`` colours), and loading fails with the
colours actually found, so the user can write the right table.

Example:
    >>> import numpy as np
    >>> from pointseg.classes import ClassTable
    >>> table = ClassTable.from_rows([("a", (255, 0, 0))])
    >>> summary = UnknownSummary()
    >>> labels = summary.decode(table, np.zeros((2, 2, 3), np.uint8) + [255, 0, 0], "x.png")
    >>> summary.total, summary.unknown_share
    (4, 0.0)
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pointseg.classes import ClassTable, Colour, describe_key
from pointseg.data.discover import ImagePair
from pointseg.data.imagery import read_mask
from pointseg.data.raster import is_raster, nodata_mask, open_raster
from pointseg.errors import ClassesError, PointsegWarning

MAX_UNKNOWN_SHARE = 0.5
"""Above this share of unknown pixels the classes table is taken to be wrong."""


class UnknownLabelsWarning(PointsegWarning):
    """Some mask pixels carry a colour or value in no class; they are ignored."""


@dataclass
class UnknownSummary:
    """Running count of known and unknown mask pixels over a dataset."""

    total: int = 0
    unknown: Counter = field(default_factory=Counter)
    known: Counter = field(default_factory=Counter)
    files_with_unknown: list[str] = field(default_factory=list)

    @property
    def unknown_share(self) -> float:
        """Share of all decoded pixels that matched no class."""
        return sum(self.unknown.values()) / self.total if self.total else 0.0

    def decode(self, table: ClassTable, raw: np.ndarray, source: str, empty: np.ndarray | None = None) -> np.ndarray:
        """Decode one raw mask, counting its pixels outside ``empty`` (no data); ``source`` names it in errors."""
        try:
            decoded = table.decode(raw, empty)
        except ClassesError as err:
            raise ClassesError(f"{source}: {err.message}", fix=err.fix) from err
        self.total += decoded.labels.size - (0 if empty is None else int(empty.sum()))
        self.unknown.update(decoded.unknown)
        indices, counts = np.unique(decoded.labels[decoded.labels >= 0], return_counts=True)
        self.known.update({table.keys[i]: c for i, c in zip(indices.tolist(), counts.tolist())})
        if decoded.unknown:
            self.files_with_unknown.append(source)
        return decoded.labels

    def check(self, table: ClassTable) -> None:
        """Warn about unknown colours, or fail when most pixels are unknown.

        Raises:
            ClassesError: More than :data:`MAX_UNKNOWN_SHARE` of the pixels match no class.
        """
        if not self.unknown:
            return
        if self.unknown_share > MAX_UNKNOWN_SHARE:
            found = (self.unknown + self.known).most_common(12)
            listing = "\n".join(
                f"    {describe_key(key)}: {count} px ({100 * count / self.total:.2f} %)"
                + ("" if key in self.known else "  <- in no class")
                for key, count in found
            )
            kind = "colours" if table.kind == "colour" else "values"
            raise ClassesError(
                f"{100 * self.unknown_share:.1f} % of mask pixels match no class of the table; "
                f"the masks hold these {kind} (most frequent first):\n{listing}",
                fix=f"write the classes table with the {kind} listed above (name,r,g,b or name,value)",
            )
        listing = ", ".join(f"{describe_key(key)} {100 * count / self.total:.3g} %" for key, count in self.unknown.most_common())
        warnings.warn(
            UnknownLabelsWarning(
                f"ignoring mask pixels in no class ({100 * self.unknown_share:.3g} % of pixels, "
                f"in {len(self.files_with_unknown)} files): {listing}"
            ),
            stacklevel=3,
        )


def load_masks(
    pairs: Sequence[ImagePair], table: ClassTable, nodata: Mapping[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """Decode the mask of every pair.

    Pixels without data, in the mask raster (its nodata value or mask, NaN) or in its
    image (``nodata``: ``(H, W)`` True where empty, by image key), are
    :data:`~pointseg.classes.IGNORE_INDEX` and count neither as known nor as unknown: a
    scene's area outside its footprint does not make the classes table look wrong.

    Returns:
        Labels by image key (pairs without a mask have none), ``int16`` with
        :data:`~pointseg.classes.IGNORE_INDEX` for unknown pixels and no data.

    Raises:
        ClassesError: Most pixels are unknown, or a mask's form does not fit the table.
        DatasetError: A mask cannot be read.
    """
    summary = UnknownSummary()
    labels: dict[str, np.ndarray] = {}
    overruled: dict[str, list[str]] = {}  # class name -> masks whose nodata value is that class's
    for pair in pairs:
        if pair.mask is not None:
            own = None
            if is_raster(pair.mask):
                if (name := _nodata_class(pair.mask, table)) is None:
                    own = nodata_mask(pair.mask)
                else:
                    overruled.setdefault(name, []).append(str(pair.mask))
            empties = [(nodata or {}).get(pair.key), own]
            empty = np.logical_or.reduce(parts) if (parts := [e for e in empties if e is not None]) else None
            raw = read_mask(pair.mask, table.kind)
            labels[pair.key] = summary.decode(table, raw, str(pair.mask), empty).astype(np.int16)
    for name, masks in overruled.items():
        warnings.warn(
            PointsegWarning(
                f"{len(masks)} mask(s) declare as nodata the value of the class {name!r}, e.g. {masks[0]}: read as "
                f"{name!r}, as the classes table says (if that value means no data, drop the class from the table)"
            ),
            stacklevel=2,
        )
    summary.check(table)
    return labels


def mask_nodata(path: str | Path, table: ClassTable) -> np.ndarray | None:
    """``(H, W)`` True where a mask raster has no data, or None: nowhere, or its nodata value is a class of ``table``."""
    return None if _nodata_class(path, table) is not None else nodata_mask(path)


def on_pixels_without_data(
    pairs: Sequence[ImagePair],
    table: ClassTable,
    keys: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    image_nodata: Mapping[str, np.ndarray | None] | None = None,
) -> np.ndarray:
    """True for each point whose pixel has no data in its image raster or its mask raster (:func:`mask_nodata`).

    A point lies on the pair named by its entry of ``keys`` at ``(rows, cols)``; a key of no pair is on no
    pixel without data. Points there are not trained on: the image says nothing there, or the mask holds
    no class to check them against. ``image_nodata`` gives the images' nodata maps by key where they were
    read already (as loaded scenes hold them: None where an image has data everywhere); else they are read here.
    """
    empty = np.zeros(len(keys), dtype=bool)
    for pair in pairs:
        mine = np.flatnonzero(np.asarray(keys) == pair.key)
        if not mine.size:
            continue
        holes = [
            image_nodata[pair.key] if image_nodata is not None else nodata_mask(pair.image) if is_raster(pair.image) else None,
            mask_nodata(pair.mask, table) if pair.mask is not None and is_raster(pair.mask) else None,
        ]
        for hole in (hole for hole in holes if hole is not None):
            empty[mine] |= hole[rows[mine], cols[mine]]
    return empty


def _nodata_class(path: str | Path, table: ClassTable) -> str | None:
    """The class whose value (or grey colour) a mask raster declares as its nodata value, if any.

    GIS tools often declare 0 as nodata when they rasterise classes (QGIS's Rasterize does by
    default), where 0 is also a class of the table: the table is taken to know better.
    """
    with open_raster(path) as source:
        value = source.nodata
    if value is None or not float(value).is_integer():
        return None
    key: Colour | int = int(value) if table.kind == "value" else (int(value),) * 3
    return table.names[table.keys.index(key)] if key in table.keys else None
