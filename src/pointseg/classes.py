"""The classes table: class names, their mask colours or values, and mask decoding.

A classes table is a CSV file in one of two forms:

* ``name,r,g,b`` for colour masks (the "class dict" of many public remote sensing sets);
* ``name,value`` for single-band index masks.

Row order gives the class index used by the model. Pixels whose colour or value is in no
row are set to :data:`IGNORE_INDEX`, never to class 0.

Example:
    >>> import numpy as np
    >>> table = ClassTable.from_rows([("land", (132, 41, 246)), ("water", (226, 169, 41))])
    >>> mask = np.array([[[132, 41, 246], [226, 169, 41], [9, 9, 9]]], dtype=np.uint8)
    >>> decoded = table.decode(mask)
    >>> decoded.labels.tolist()
    [[0, 1, -100]]
    >>> decoded.unknown
    {(9, 9, 9): 1}
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from pointseg.errors import ClassesError

IGNORE_INDEX = -100
"""Label of pixels that carry no class: unlabelled, unknown colour or nodata.

The same value as the default ``ignore_index`` of :func:`torch.nn.functional.cross_entropy`.
"""

Colour = tuple[int, int, int]
MaskKind = Literal["colour", "value"]

# Colours given to classes of a value table, whose CSV carries none (matplotlib's tab10).
_DEFAULT_PALETTE: tuple[Colour, ...] = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)  # fmt: skip


@dataclass(frozen=True)
class DecodedMask:
    """A mask decoded to class indices.

    Attributes:
        labels: ``int64`` array of class indices, :data:`IGNORE_INDEX` where unknown.
        unknown: Pixel count of each colour (or value) that matches no class.
    """

    labels: np.ndarray
    unknown: dict[Colour | int | float, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ClassTable:
    """Class names with the colour or value that marks each in a mask.

    Attributes:
        names: Class names; the position is the class index.
        keys: The colour ``(r, g, b)`` or the integer value of each class in a mask.
        kind: ``"colour"`` for RGB (or palette) masks, ``"value"`` for index masks.
    """

    names: tuple[str, ...]
    keys: tuple[Colour, ...] | tuple[int, ...]
    kind: MaskKind

    def __post_init__(self) -> None:
        if not self.names:
            raise ClassesError("the classes table has no class", fix="add one row per class")
        for what, items in (("name", self.names), (self.kind, self.keys)):
            seen: set[object] = set()
            for item in items:
                if item in seen:
                    raise ClassesError(
                        f"the classes table lists the {what} {item!r} twice",
                        fix="give every class its own name and its own mask colour or value",
                    )
                seen.add(item)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, Colour | int]]) -> ClassTable:
        """Build a table from ``(name, colour)`` or ``(name, value)`` pairs."""
        rows = list(rows)
        kind: MaskKind = "colour" if rows and isinstance(rows[0][1], tuple) else "value"
        names = tuple(name for name, _ in rows)
        keys = tuple(tuple(int(c) for c in key) if kind == "colour" else int(key) for _, key in rows)  # type: ignore[union-attr, arg-type]
        return cls(names=names, keys=keys, kind=kind)  # type: ignore[arg-type]

    @classmethod
    def read_csv(cls, path: str | Path) -> ClassTable:
        """Read a ``name,r,g,b`` or ``name,value`` CSV file.

        Raises:
            ClassesError: The file is missing, has other columns, or a row is malformed.
        """
        path = Path(path)
        if not path.is_file():
            raise ClassesError(
                f"classes table not found: {path}",
                fix="pass --classes a CSV with columns name,r,g,b (colour masks) or name,value (index masks)",
            )
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                reader = csv.DictReader(handle)
                header = [h.strip().lower() for h in reader.fieldnames or []]
                read = [(reader.line_num, row) for row in reader]  # the line each row ends on: blank lines counted
            raw_rows = [{k.strip().lower(): (v or "").strip() for k, v in row.items() if k} for _, row in read]
            extra = [[v.strip() for v in row.get(None, []) if v.strip()] for _, row in read]  # fields beyond the header's
        except (UnicodeDecodeError, csv.Error) as err:
            raise ClassesError(f"{path} is not a readable CSV file: {err}", fix="save the classes table as UTF-8 CSV") from err
        if header[:4] == ["name", "r", "g", "b"]:
            columns: tuple[str, ...] = ("r", "g", "b")
        elif header[:2] == ["name", "value"]:
            columns = ("value",)
        else:
            raise ClassesError(
                f"{path} has the columns {','.join(header) or '(none)'}",
                fix="use the header name,r,g,b for colour masks or name,value for index masks",
            )
        rows: list[tuple[str, Colour | int]] = []
        for (line, _), row, beyond in zip(read, raw_rows, extra):
            if not row.get("name"):
                raise ClassesError(f"{path}, line {line}: a class without a name", fix="give every class a name")
            if beyond:
                raise ClassesError(
                    f"{path}, line {line}: {','.join(beyond)!r} beyond the header's {len(header)} columns",
                    fix=f"write each class as {','.join(header)}",
                )
            try:
                numbers = [int(row[c]) for c in columns]
            except (KeyError, ValueError) as err:
                raise ClassesError(
                    f"{path}, line {line}: {', '.join(row.get(c, '') for c in columns)!r} is not "
                    f"{'three integers r,g,b' if len(columns) == 3 else 'an integer value'}",
                    fix="write each class as name followed by whole numbers",
                ) from err
            if len(columns) == 3 and not all(0 <= n <= 255 for n in numbers):
                raise ClassesError(f"{path}, line {line}: colour {tuple(numbers)} is outside 0-255", fix="use 8-bit colours")
            rows.append((row["name"], tuple(numbers) if len(numbers) == 3 else numbers[0]))  # type: ignore[arg-type]
        if not rows:
            raise ClassesError(f"{path} lists no class", fix="add one row per class under the header")
        return cls.from_rows(rows)

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.names)

    @property
    def colours(self) -> tuple[Colour, ...]:
        """Display colour of each class: its mask colour, or a default palette for value tables."""
        if self.kind == "colour":
            return self.keys  # type: ignore[return-value]
        return tuple(_DEFAULT_PALETTE[i % len(_DEFAULT_PALETTE)] for i in range(self.num_classes))

    def decode(self, mask: np.ndarray, empty: np.ndarray | None = None) -> DecodedMask:
        """Turn a raw mask into class indices.

        Args:
            mask: ``(H, W, 3)`` colours (0-255) for a colour table, ``(H, W)`` values for a
                value table; in a floating-point mask, a value that is not a whole number is
                in no class, and NaN is no data.
            empty: ``(H, W)`` True where there is no data (the mask's or its image's nodata):
                :data:`IGNORE_INDEX`, and counted neither as known nor as unknown.

        Returns:
            The labels, with :data:`IGNORE_INDEX` and a count for every unknown colour or value.

        Raises:
            ClassesError: The mask's form does not fit the table (colours against values), or
                a colour mask holds values outside 0-255 (a 16-bit mask).

        >>> table = ClassTable.from_rows([("a", 1), ("b", 2)])
        >>> decoded = table.decode(np.array([[1.0, 2.0, 2.5, np.nan]]))
        >>> decoded.labels.tolist(), decoded.unknown
        ([[0, 1, -100, -100]], {2.5: 1})
        """
        empty = np.zeros(mask.shape[:2], bool) if empty is None else empty.copy()
        if self.kind == "colour":
            if mask.ndim != 3 or mask.shape[2] < 3:
                raise ClassesError(
                    "a single-band mask cannot be decoded with a colour classes table (name,r,g,b)",
                    fix="use a name,value classes table for index masks",
                )
            rgb = mask[..., :3]
            if np.issubdtype(rgb.dtype, np.floating):
                empty |= np.isnan(rgb).any(axis=-1)
            data = rgb[~empty]  # no data (a nodata value, NaN) may lie outside the colours
            fractional = np.issubdtype(data.dtype, np.floating) and not np.array_equal(data, np.floor(data))
            if data.size and (fractional or data.min() < 0 or data.max() > 255):
                raise ClassesError(
                    f"a colour mask of {rgb.dtype} holds values outside the colours 0-255 "
                    f"(from {data.min()} to {data.max()}, or not whole)",
                    fix="write the mask as 8-bit colours, or as one band of class values with a name,value classes table",
                )
            rgb = np.where(empty[..., None], 0, rgb).astype(np.int64)
            codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
            table_codes = np.array([(r << 16) | (g << 8) | b for r, g, b in self.keys], dtype=np.int64)  # type: ignore[misc]
            whole = np.ones(codes.shape, bool)
        else:
            if mask.ndim != 2:
                raise ClassesError(
                    "a colour mask cannot be decoded with a value classes table (name,value)",
                    fix="use a name,r,g,b classes table for colour masks",
                )
            whole = np.ones(mask.shape, bool)
            if np.issubdtype(mask.dtype, np.floating):
                empty |= np.isnan(mask)
                with np.errstate(invalid="ignore"):  # a float nodata such as -3.4e38 is past any class value
                    whole = ~empty & (np.abs(mask) < 2**62) & (mask == np.round(mask))
            codes = np.where(whole, mask, 0).astype(np.int64)
            table_codes = np.asarray(self.keys, dtype=np.int64)
        order = np.argsort(table_codes)
        sorted_codes = table_codes[order]
        position = np.clip(np.searchsorted(sorted_codes, codes), 0, len(sorted_codes) - 1)
        known = (sorted_codes[position] == codes) & whole & ~empty
        labels = np.where(known, order[position], IGNORE_INDEX).astype(np.int64)
        unknown: dict[Colour | int | float, int] = {}
        for values, is_code in ((codes[whole & ~known & ~empty], True), (mask[~whole & ~empty], False)):
            for value, count in zip(*(part.tolist() for part in np.unique(values, return_counts=True))):
                key = value if not is_code or self.kind == "value" else (value >> 16, (value >> 8) & 255, value & 255)
                unknown[key] = count
        return DecodedMask(labels=labels, unknown=unknown)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form, stored in checkpoints and run folders."""
        return {"kind": self.kind, "names": list(self.names), "keys": [list(k) if isinstance(k, tuple) else k for k in self.keys]}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ClassTable:
        """Inverse of :meth:`to_dict`."""
        names: Sequence[str] = data["names"]  # type: ignore[assignment]
        keys: Sequence[object] = data["keys"]  # type: ignore[assignment]
        return cls.from_rows((n, tuple(k) if isinstance(k, list | tuple) else int(k)) for n, k in zip(names, keys))  # type: ignore[misc, arg-type]


def describe_key(key: Colour | int | float) -> str:
    """Human form of a colour or value, as used in warnings and errors.

    >>> describe_key((155, 155, 155))
    'rgb(155,155,155)'
    >>> describe_key(7)
    'value 7'
    """
    if isinstance(key, tuple):
        return "rgb({},{},{})".format(*key)
    return f"value {key}"
