import numpy as np

from pointseg.classes import IGNORE_INDEX
from pointseg.data.superpixels import expand_points, superpixels


def test_points_label_exactly_the_superpixels_that_contain_them():
    segments = np.repeat(np.arange(6).reshape(2, 3), 4, axis=0).repeat(4, axis=1)  # 6 blocks of 4 x 4
    points = np.full(segments.shape, IGNORE_INDEX, dtype=np.int16)
    points[1, 1] = 2  # block 0
    points[2, 6], points[3, 7] = 1, 1  # block 1, twice the same class
    points[5, 9], points[6, 10] = 0, 3  # block 5, two classes: left unlabelled
    expanded = expand_points(segments, points)
    assert (expanded[segments == 0] == 2).sum() == 15 and expanded[1, 1] == IGNORE_INDEX  # the point itself is left out
    assert (expanded[segments == 1] != IGNORE_INDEX).sum() == 16 - 2 and set(expanded[segments == 1].tolist()) == {1, -100}
    for block in (2, 3, 4, 5):
        assert (expanded[segments == block] == IGNORE_INDEX).all()


def test_slic_follows_colour_regions():
    image = np.zeros((40, 40, 3), np.uint8)
    image[:, 20:] = 255  # two uniform halves
    segments = superpixels(image, pixels_per_superpixel=200)
    assert 4 <= len(np.unique(segments)) <= 12
    left, right = set(np.unique(segments[:, :20]).tolist()), set(np.unique(segments[:, 20:]).tolist())
    assert left.isdisjoint(right)  # no superpixel crosses the edge


def test_pixels_without_data_belong_to_no_superpixel_and_leave_the_colours_alone():
    image = np.zeros((40, 40, 3), np.float32)
    image[:, 15:] = 1.0  # two uniform halves...
    image[:, 30:] = -9999  # ...and a nodata strip that would squash them to one colour in [0, 1]
    valid = image[..., 0] != -9999
    segments = superpixels(image, pixels_per_superpixel=100, valid=valid)
    assert (segments[~valid] == -1).all() and (segments[valid] >= 0).all()
    left, right = set(np.unique(segments[:, :15]).tolist()), set(np.unique(segments[:, 15:30]).tolist())
    assert left.isdisjoint(right)  # the edge between the halves is kept
    points = np.full(segments.shape, IGNORE_INDEX, dtype=np.int16)
    points[5, 20] = 1
    expanded = expand_points(segments, points)
    own = segments == segments[5, 20]
    assert (expanded[own] == 1).sum() == own.sum() - 1 and (expanded[~own] == IGNORE_INDEX).all()


def test_superpixels_keep_near_the_asked_area_on_texture():
    image = np.random.default_rng(0).integers(0, 255, (80, 80, 3), dtype=np.uint8)  # texture everywhere, no region
    areas = np.bincount(superpixels(image, pixels_per_superpixel=100).ravel())
    assert 40 <= areas.size <= 90 and areas.max() <= 300  # 64 asked; none sprawls over several times its area


def test_superpixels_of_selected_bands_ignore_the_others_and_have_their_own_cache_entry(tmp_path):
    from pointseg.data.superpixels import cached_superpixels

    rng = np.random.default_rng(1)
    halves = np.zeros((30, 40), np.float32)
    halves[:, 20:] = 200.0
    noise = rng.uniform(0, 255, (30, 40)).astype(np.float32)  # a broken band, left out by --bands 1
    image = np.stack([halves, noise], axis=-1)
    source = tmp_path / "a.tif"
    source.write_bytes(b"stands for the file: its path, size and time name the entry")
    cache = tmp_path / "cache"
    chosen = cached_superpixels(lambda: image, source, (30, 40), 100, 1.0, cache, bands=(1,))
    assert np.array_equal(chosen, superpixels(image[..., :1], 100, 1.0))
    assert not np.array_equal(chosen, superpixels(image, 100, 1.0))  # the noise band would cut other superpixels
    every = cached_superpixels(lambda: image, source, (30, 40), 100, 1.0, cache)
    assert np.array_equal(every, superpixels(image, 100, 1.0)) and len(list(cache.glob("*.npy"))) == 2


def test_segmentations_are_cached_per_file_and_area(tmp_path, monkeypatch):
    from PIL import Image

    from pointseg.data import superpixels as module

    image = np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)
    source = tmp_path / "a.png"
    Image.fromarray(image).save(source)
    calls = []
    real = module.superpixels
    monkeypatch.setattr(module, "superpixels", lambda *args: calls.append(args[1:3]) or real(*args))
    cache = tmp_path / "cache"
    reads = []
    read = lambda: reads.append(1) or image  # noqa: E731
    first = module.cached_superpixels(read, source, (30, 40), 100, 1.0, cache)
    again = module.cached_superpixels(read, source, (30, 40), 100, 1.0, cache)
    assert calls == [(100, 1.0)] and np.array_equal(first, again) and len(reads) == 1  # computed once, then read back
    (entry,) = cache.glob("*.npy")
    module.cached_superpixels(read, source, (30, 40), 50, 1.0, cache)
    module.cached_superpixels(read, source, (30, 40), 50, 3.0, cache)
    assert calls == [(100, 1.0), (50, 1.0), (50, 3.0)] and len(list(cache.glob("*.npy"))) == 3  # one entry per setting
    module.cached_superpixels(read, source, (30, 40), 100, 1.0, None)
    assert len(calls) == 4  # no cache: always computed
    for damage in (b"junk", np.lib.format.MAGIC_PREFIX, None):  # garbage, a file cut short, an array of another shape
        if damage is None:
            np.save(entry, np.zeros((3, 3), np.int64))
        else:
            entry.write_bytes(damage)
        healed = module.cached_superpixels(read, source, (30, 40), 100, 1.0, cache)
        assert np.array_equal(healed, first) and np.array_equal(np.load(entry), first)  # computed again and replaced
    assert len(calls) == 7
