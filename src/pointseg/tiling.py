"""Overlapping tiles over a large scene and their seamless blending, in blocks of bounded size.

The scene is covered by square tiles of side ``tile`` that overlap by ``overlap`` pixels
(the last row and column are moved back to end at the scene's edge). Each tile's class
probabilities are weighted by a window that falls smoothly to nearly zero over the
``overlap`` pixels at its sides, so neighbouring tiles fade into each other and no seam
shows; every pixel gets the weighted mean of the tiles that cover it.

Memory must not grow with the scene. :func:`blend_tiles` cuts it into vertical panels
of at most ``panel`` columns and goes down each panel one tile row at a time: rows are
final once the tiles of the next row start below them, so one tile row of the panel is
all it keeps. A tile that reaches into two panels is predicted for each (one or two
shared tile columns at each panel edge), the price of a memory set by
``tile`` and ``panel`` alone.

Example:
    >>> grid = TileGrid(height=1000, width=700, tile=512, overlap=64)
    >>> grid.starts(1000), grid.starts(700)
    ([0, 448, 488], [0, 188])
    >>> len(grid.windows())
    6
    >>> wide = TileGrid(height=512, width=1500, tile=512, overlap=64)
    >>> wide.panels(1000)  # columns 1000-1499 need the tiles at 896 and 988 again
    [(0, 1000, [0, 448, 896, 988]), (1000, 1500, [896, 988])]
    >>> wide.tile_count(1000), len(wide.windows())
    (6, 4)
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

    @property
    def tile_shape(self) -> tuple[int, int]:
        """Height and width of every tile (a side shorter than ``tile`` is one tile)."""
        return min(self.tile, self.height), min(self.tile, self.width)

    def windows(self) -> list[Window]:
        """Every tile, row by row."""
        h, w = self.tile_shape
        return [Window(r, c, h, w) for r in self.starts(self.height) for c in self.starts(self.width)]

    def panels(self, panel: int) -> list[tuple[int, int, list[int]]]:
        """Vertical panels of at most ``panel`` columns: ``(left, right, starts)`` with the tile columns reaching in."""
        if panel < 1:
            raise ValueError(f"panel {panel}: need at least 1 column")
        width = self.tile_shape[1]
        starts = self.starts(self.width)
        return [
            (left, min(left + panel, self.width), [c for c in starts if left - width < c < left + panel])
            for left in range(0, self.width, panel)
        ]

    def tile_count(self, panel: int) -> int:
        """Tiles :func:`blend_tiles` predicts with panels of ``panel`` columns (those shared by two count twice)."""
        return len(self.starts(self.height)) * sum(len(starts) for _, _, starts in self.panels(panel))


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
    panel: int = 4096,
    on_tile: Callable[[int], None] | None = None,
) -> Iterator[tuple[Window, np.ndarray]]:
    """Predict the tiles of ``grid`` and yield the blended probabilities block by block.

    Args:
        grid: The tiling of the scene.
        read: Returns the ``(H, W, bands)`` pixels of a window.
        predict: Class probabilities of a batch of tiles.
        classes: Number of classes.
        batch: Tiles per call of ``predict``.
        panel: Most columns blended at once; the buffers hold ``classes x tile x (panel + 2 tile)`` floats at most.
        on_tile: Called with the number of tiles just predicted (for a progress bar).

    Yields:
        ``(window, probabilities)``: a block of the scene and its ``(classes, height, width)``
        blended probabilities, panel by panel from the left, top to bottom within a panel,
        covering the scene once.
    """
    rows = grid.starts(grid.height)
    tile_h, tile_w = grid.tile_shape
    weight = blend_weights(tile_h, tile_w, grid.overlap)
    for left, right, starts in grid.panels(panel):
        origin = starts[0]  # scene column of the buffers' first column
        span = starts[-1] + tile_w - origin
        total = np.zeros((classes, tile_h, span), np.float32)
        weights = np.zeros((tile_h, span), np.float32)
        inside = slice(left - origin, right - origin)  # the panel's own columns within the buffers
        top = 0  # scene row of the buffers' first row
        for index, row in enumerate(rows):
            windows = [Window(row, col, tile_h, tile_w) for col in starts]
            for first in range(0, len(windows), batch):
                chunk = windows[first : first + batch]
                probabilities = predict(np.stack([read(window) for window in chunk]))
                for window, p in zip(chunk, probabilities):
                    local = (
                        slice(window.row - top, window.row - top + tile_h),
                        slice(window.col - origin, window.col - origin + tile_w),
                    )
                    total[(slice(None), *local)] += p * weight
                    weights[local] += weight
                if on_tile is not None:
                    on_tile(len(chunk))
            done = rows[index + 1] if index + 1 < len(rows) else grid.height  # no later tile reaches above this row
            count = done - top
            yield Window(top, left, count, right - left), total[:, :count, inside] / weights[:count, inside]
            total[:, : tile_h - count] = total[:, count:]
            weights[: tile_h - count] = weights[count:]
            total[:, tile_h - count :] = 0
            weights[tile_h - count :] = 0
            top = done
