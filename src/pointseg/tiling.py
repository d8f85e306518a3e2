"""Overlapping tiles over a large scene and their seamless blending, streamed strip by strip.

The scene is covered by square tiles of side ``tile`` that overlap by ``overlap`` pixels
(the last row and column are moved back to end at the scene's edge). Each tile's class
probabilities are weighted by a window that falls smoothly to nearly zero over the
``overlap`` pixels at its sides, so neighbouring tiles fade into each other and no seam
shows; every pixel gets the weighted mean of the tiles that cover it. Rows of pixels are
final once the tiles of the next row start below them: :func:`blend_tiles` yields them
strip by strip, keeping one tile row of probabilities in memory, whatever the scene's
height.

Example:
    >>> grid = TileGrid(height=1000, width=700, tile=512, overlap=64)
    >>> grid.starts(1000), grid.starts(700)
    ([0, 448, 488], [0, 188])
    >>> len(grid.windows())
    6
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    """A rectangle of a scene: offsets and size in pixels."""

    row: int
    col: int
    height: int
    width: int


@dataclass(frozen=True)
class TileGrid:
    """Overlapping square tiles covering a ``height`` x ``width`` scene.

    Raises:
        ValueError: A tile under 1 pixel or an overlap that leaves no stride.
    """

    height: int
    width: int
    tile: int
    overlap: int

    def __post_init__(self) -> None:
        if self.tile < 1 or not 0 <= self.overlap < self.tile:
            raise ValueError(f"tile {self.tile} with overlap {self.overlap}: need tile >= 1 and 0 <= overlap < tile")

    def starts(self, length: int) -> list[int]:
        """Offsets of the tiles along a side of ``length`` pixels; the last ends at the edge."""
        size = min(self.tile, length)
        last = length - size
        stride = self.tile - self.overlap
        return sorted({*range(0, last, stride), last})

    def windows(self) -> list[Window]:
        """Every tile, row by row."""
        h, w = min(self.tile, self.height), min(self.tile, self.width)
        return [Window(r, c, h, w) for r in self.starts(self.height) for c in self.starts(self.width)]


def blend_weights(height: int, width: int, overlap: int) -> np.ndarray:
    """``(height, width)`` weights: 1 inside, a raised-cosine ramp over ``overlap`` pixels at each side.

    Never zero, so a pixel that only one tile covers (at the scene's edge) keeps its value.

    >>> blend_weights(1, 6, 2).astype(float).round(3).tolist()
    [[0.146, 0.854, 1.0, 1.0, 0.854, 0.146]]
    """

    def ramp(length: int) -> np.ndarray:
        weights = np.ones(length, np.float32)
        n = min(overlap, length // 2)
        if n:
            rise = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)
            weights[:n] = rise
            weights[length - n :] = rise[::-1]
        return weights

    return ramp(height)[:, None] * ramp(width)[None, :]


Predictor = Callable[[np.ndarray], np.ndarray]
"""``(N, H, W, bands)`` tiles -> ``(N, classes, H, W)`` class probabilities."""


def blend_tiles(
    grid: TileGrid,
    read: Callable[[Window], np.ndarray],
    predict: Predictor,
    classes: int,
    batch: int = 4,
    on_tile: Callable[[int], None] | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Predict every tile of ``grid`` and yield the blended probabilities, strip by strip.

    Args:
        grid: The tiling of the scene.
        read: Returns the ``(H, W, bands)`` pixels of a window.
        predict: Class probabilities of a batch of tiles.
        classes: Number of classes.
        batch: Tiles per call of ``predict``.
        on_tile: Called with the number of tiles just done (for a progress bar).

    Yields:
        ``(row, probabilities)``: the first scene row of the strip and its ``(classes, rows,
        width)`` blended probabilities, top to bottom, covering the whole scene once.
    """
    rows = grid.starts(grid.height)
    tile_h, tile_w = min(grid.tile, grid.height), min(grid.tile, grid.width)
    weight = blend_weights(tile_h, tile_w, grid.overlap)
    span = tile_h  # the strip in memory: each tile row starts where the previous strip was emitted
    total = np.zeros((classes, span, grid.width), np.float32)
    weights = np.zeros((span, grid.width), np.float32)
    top = 0  # scene row of the buffer's first row
    for index, row in enumerate(rows):
        windows = [Window(row, col, tile_h, tile_w) for col in grid.starts(grid.width)]
        for first in range(0, len(windows), batch):
            chunk = windows[first : first + batch]
            probabilities = predict(np.stack([read(window) for window in chunk]))
            for window, p in zip(chunk, probabilities):
                local = slice(window.row - top, window.row - top + tile_h), slice(window.col, window.col + tile_w)
                total[(slice(None), *local)] += p * weight
                weights[local] += weight
            if on_tile is not None:
                on_tile(len(chunk))
        done = rows[index + 1] if index + 1 < len(rows) else grid.height  # no later tile reaches above this row
        count = done - top
        yield top, total[:, :count] / weights[:count]
        total[:, : span - count] = total[:, count:]
        weights[: span - count] = weights[count:]
        total[:, span - count :] = 0
        weights[span - count :] = 0
        top = done
