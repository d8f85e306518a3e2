import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pointseg.tiling import TileGrid, blend_tiles, blend_weights


@settings(deadline=None)
@given(height=st.integers(1, 300), width=st.integers(1, 300), tile=st.integers(4, 128), overlap_share=st.floats(0, 0.9))
def test_tiles_cover_every_pixel_and_stay_inside(height, width, tile, overlap_share):
    grid = TileGrid(height, width, tile, int(overlap_share * tile))
    covered = np.zeros((height, width), np.int32)
    for w in grid.windows():
        assert 0 <= w.row and w.row + w.height <= height and 0 <= w.col and w.col + w.width <= width
        assert (w.height, w.width) == (min(tile, height), min(tile, width))
        covered[w.row : w.row + w.height, w.col : w.col + w.width] += 1
    assert covered.min() >= 1


def test_tile_starts_by_hand():
    grid = TileGrid(height=1000, width=300, tile=512, overlap=64)
    assert grid.starts(1000) == [0, 448, 488]  # stride 448; the last tile ends at the edge
    assert grid.starts(300) == [0]  # narrower than a tile: one tile of 300
    with pytest.raises(ValueError):
        TileGrid(10, 10, tile=8, overlap=8)


def test_blend_weights_are_a_positive_raised_cosine():
    w = blend_weights(12, 12, 4)
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(4) + 0.5) / 4)
    np.testing.assert_allclose(w[6, :4], ramp, rtol=1e-6)  # row 6 is past the top and bottom ramps: weight 1 there
    np.testing.assert_allclose(w[6, 4:8], 1)
    np.testing.assert_allclose(w[0, 0], ramp[0] ** 2, rtol=1e-6)
    assert w.min() > 0 and w.max() == 1 and np.array_equal(w, w[::-1, ::-1])


def pointwise(tiles):
    """Probabilities that depend on each pixel alone: tiling must not change them."""
    first = tiles[..., 0].astype(np.float32) / 255
    return np.stack([first, 1 - first], axis=1)


@settings(deadline=None)
@given(
    height=st.integers(1, 90),
    width=st.integers(1, 90),
    tile=st.integers(4, 40),
    overlap=st.integers(0, 3),
    panel=st.integers(1, 100),
)
def test_blending_a_pointwise_predictor_gives_the_untiled_result_block_by_block(height, width, tile, overlap, panel):
    image = np.random.default_rng(height * 100 + width).integers(0, 256, (height, width, 2), dtype=np.uint8)
    grid = TileGrid(height, width, tile, overlap)
    read = lambda w: image[w.row : w.row + w.height, w.col : w.col + w.width]  # noqa: E731
    blended = np.full((2, height, width), np.nan, np.float32)
    for window, block in blend_tiles(grid, read, pointwise, classes=2, batch=3, panel=panel):
        assert block.shape == (2, window.height, window.width) and window.width <= panel
        target = blended[:, window.row : window.row + window.height, window.col : window.col + window.width]
        assert np.isnan(target).all()  # each pixel is yielded once
        target[...] = block
    np.testing.assert_allclose(blended, pointwise(image[None])[0], atol=1e-6)


def test_panels_bound_the_blended_width_and_count_the_tiles_they_share():
    grid = TileGrid(height=100, width=100, tile=40, overlap=10)  # tile starts 0, 30, 60 both ways
    assert grid.panels(50) == [(0, 50, [0, 30]), (50, 100, [30, 60])]  # the tile at 30 reaches both panels
    assert grid.tile_count(50) == 3 * 4 and grid.tile_count(100) == len(grid.windows()) == 9


def test_tiles_are_predicted_in_batches_and_counted():
    calls, done = [], []
    image = np.zeros((100, 100, 1), np.uint8)

    def predict(tiles):
        calls.append(len(tiles))
        return pointwise(tiles)

    read = lambda w: image[: w.height, : w.width]  # noqa: E731
    list(blend_tiles(TileGrid(100, 100, 40, 10), read, predict, classes=2, batch=2, on_tile=done.append))
    assert calls == [2, 1] * 3 and done == calls  # 3 x 3 tiles (starts 0, 30, 60), 2 per batch within a row
