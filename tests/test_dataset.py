import numpy as np
import pytest
import torch

from pointseg.classes import IGNORE_INDEX
from pointseg.data.dataset import BandStats, RandomCropDataset, Scene, WholeImageDataset
from pointseg.errors import DatasetError


def coded_scene(key="s", height=50, width=70):
    """A scene whose labels can be read back from the image: band 0 holds label + 1."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 200, (height, width)).astype(np.int16)
    image = np.stack([labels + 1, rng.integers(0, 255, (height, width)), np.zeros((height, width))], axis=2)
    return Scene(key, image.astype(np.uint8), labels=labels)


IDENTITY = BandStats((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


def test_band_stats_over_all_pixels():
    a = np.zeros((2, 2, 2), np.uint8)
    b = np.full((1, 4, 2), 10, np.uint8)
    b[..., 1] = 4
    stats = BandStats.compute([a, b])
    assert stats.mean == pytest.approx((5.0, 2.0))
    assert stats.std == pytest.approx((5.0, 2.0))
    assert BandStats.from_dict(stats.to_dict()) == stats
    normalised = stats.normalise(b)
    assert normalised.shape == (2, 1, 4) and torch.allclose(normalised, torch.ones_like(normalised))


@pytest.mark.parametrize("method", ["mean-std", "percentiles"])
def test_statistics_without_a_valid_pixel_are_an_error(method):
    image = np.full((4, 4, 2), 7.0)
    image[0, 0] = np.nan
    with pytest.raises(DatasetError, match="no training pixel to compute band statistics from"):
        BandStats.compute([image], valid=[np.eye(4, dtype=bool) & False], method=method)
    stats = BandStats.compute([image], valid=[np.eye(4, dtype=bool)], method=method)  # the NaN on the diagonal skipped
    assert stats.mean == (7.0, 7.0)


def test_percentile_normalisation_clips_outliers_and_stretches_the_rest_to_plus_minus_one():
    band = np.arange(1, 101, dtype=np.uint16).reshape(10, 10, 1)  # reflectance 1..100
    band[0, 0] = 60000  # one saturated pixel: it would dominate a mean/std normalisation
    nodata = np.zeros((10, 10), bool)
    nodata[9] = True  # the last row (91..100) has no data and must not count
    stats = BandStats.compute([band], valid=[~nodata], method="percentiles")
    # valid values 2..90 and 60000: 90 of them; numpy's linear percentiles at 2 % and 98 % of 89 steps
    expected_low, expected_high = np.percentile(np.r_[np.arange(2, 91), 60000], [2, 98])
    assert stats.low == pytest.approx((expected_low,)) and stats.high == pytest.approx((expected_high,))
    assert stats.mean[0] == pytest.approx((expected_low + expected_high) / 2)
    normalised = stats.normalise(band)[0]
    assert normalised.min() == -1 and normalised.max() == 1  # 1 and 60000 clipped to the ends
    assert normalised[0, 0] == 1 and normalised[5, 5] == pytest.approx((56 - stats.mean[0]) / stats.std[0])
    assert BandStats.from_dict(stats.to_dict()) == stats
    assert BandStats.from_dict({"mean": [1.0], "std": [2.0]}) == BandStats((1.0,), (2.0,))  # an older checkpoint


def test_percentiles_of_a_large_dataset_come_from_a_seeded_sample(monkeypatch):
    from pointseg.data import dataset

    monkeypatch.setattr(dataset, "PERCENTILE_SAMPLE", 1000)
    image = np.random.default_rng(1).uniform(0, 1, (200, 200, 2))
    first, second = (BandStats.compute([image], method="percentiles") for _ in range(2))
    assert first == second  # the same sample every time
    assert first.low == pytest.approx((0.02, 0.02), abs=0.015) and first.high == pytest.approx((0.98, 0.98), abs=0.015)


def test_normalising_other_bands_is_an_error():
    with pytest.raises(DatasetError, match="has 4 bands but the model was trained on 3"):
        IDENTITY.normalise(np.zeros((2, 2, 4)))


def test_crops_and_augmentations_move_image_and_labels_together():
    dataset = RandomCropDataset([coded_scene()], IDENTITY, crop=16, seed=0)
    seen_rotated = False
    for i in range(len(dataset)):
        sample = dataset[i]
        assert torch.equal(sample["image"][0].long() - 1, sample["labels"])
        top, left = sample["origin"].tolist()
        window = coded_scene().labels[top : top + 16, left : left + 16]
        seen_rotated |= not np.array_equal(window, sample["labels"].numpy())
    assert seen_rotated


def test_epoch_length_covers_the_pixels_and_crops_are_seeded():
    dataset = RandomCropDataset([coded_scene(), coded_scene("t", 20, 20)], IDENTITY, crop=16, seed=5)
    assert len(dataset) == 14 + 2  # ceil(50*70/256) + ceil(400/256)
    again = RandomCropDataset([coded_scene(), coded_scene("t", 20, 20)], IDENTITY, crop=16, seed=5)
    assert torch.equal(dataset[3]["labels"], again[3]["labels"])
    dataset.set_epoch(1)
    assert not torch.equal(dataset[3]["labels"], again[3]["labels"])


def point_scene(points, height=100, width=120):
    """A scene labelled only at ``points`` ((row, col), class 1), band 0 of its image 1 there."""
    labels = np.full((height, width), IGNORE_INDEX, np.int16)
    image = np.zeros((height, width, 3), np.uint8)
    for row, col in points:
        labels[row, col], image[row, col, 0] = 1, 1
    return Scene("p", image, labels=labels)


def coverage(dataset, pixels, epochs=40):
    """Share of the crops of ``epochs`` epochs that hold each of ``pixels`` ((row, col))."""
    held, crops = np.zeros(len(pixels)), 0
    for epoch in range(epochs):
        dataset.set_epoch(epoch)
        for i in range(len(dataset)):
            top, left = dataset[i]["origin"].tolist()
            held += [top <= row < top + dataset.crop and left <= col < left + dataset.crop for row, col in pixels]
            crops += 1
    return held / crops


def test_labelled_crops_hold_a_point_each_and_train_a_border_point_as_often_as_a_middle_one():
    points = [(0, 0), (50, 60), (99, 119)]  # two corners and the middle
    anywhere = RandomCropDataset([point_scene(points)], IDENTITY, crop=32, seed=0, augment=False)
    labelled = RandomCropDataset([point_scene(points)], IDENTITY, crop=32, seed=0, augment=False, placement="labelled")
    assert labelled.anchors[0].tolist() == [0, 50 * 120 + 60, 99 * 120 + 119]
    near, middle, far = coverage(anywhere, points)
    assert near < 0.01 and far < 0.01 and 0.1 < middle < 0.25  # 1/69 x 1/89 of the crops against 32/69 x 32/89 (0.17)
    assert (coverage(labelled, points) > 0.25).all()  # each anchors a third of the crops
    for i in range(len(labelled)):
        sample = labelled[i]  # every crop holds a point, shown by the image as by the labels
        assert (sample["labels"] == 1).sum() >= 1 and torch.equal(sample["labels"] == 1, sample["image"][0] == 1)


def test_labelled_crops_of_a_dense_mask_cover_its_border_half_as_often_as_its_middle():
    scene = coded_scene(height=100, width=120)  # every pixel labelled: no index of them is kept
    labelled = RandomCropDataset([scene], IDENTITY, crop=32, seed=0, augment=False, placement="labelled")
    assert labelled.anchors == [None]
    corner, edge, middle = coverage(labelled, [(0, 0), (0, 60), (50, 60)], epochs=500)
    # along a side, the border lies in crops anchored within 32 px of it, moved inside: about (32 + 1) / 2 of 100 rows
    assert edge / middle == pytest.approx(0.5, abs=0.1) and corner / middle == pytest.approx(0.25, abs=0.08)


def test_labelled_crops_of_a_scene_without_labels_fall_anywhere():
    scene = point_scene([])
    labelled = RandomCropDataset([scene], IDENTITY, crop=32, seed=3, placement="labelled")
    assert labelled.anchors == [None]
    corners = {tuple(labelled[i]["origin"].tolist()) for i in range(len(labelled))}
    assert len(corners) > 1 and all(0 <= top <= 68 and 0 <= left <= 88 for top, left in corners)


def test_small_scenes_are_padded_with_ignored_labels():
    dataset = RandomCropDataset([coded_scene(height=10, width=12)], IDENTITY, crop=16, seed=0, augment=False)
    sample = dataset[0]
    assert sample["image"].shape == (3, 16, 16)
    assert (sample["labels"][10:] == IGNORE_INDEX).all() and (sample["labels"][:, 12:] == IGNORE_INDEX).all()
    assert (sample["labels"][:10, :12] != IGNORE_INDEX).all()
    assert sample["valid"][:10, :12].all() and not sample["valid"][10:].any() and not sample["valid"][:, 12:].any()


def test_nodata_is_not_valid_in_the_crops_and_follows_their_augmentation():
    scene = coded_scene(height=16, width=16)
    scene.nodata = np.zeros((16, 16), bool)
    scene.nodata[:, :5] = True  # the left columns have no data: band 0 holds label + 1 elsewhere
    for i in range(8):  # rotations and flips move image, labels and validity alike
        sample = RandomCropDataset([scene], IDENTITY, crop=16, seed=i)[0]
        valid = sample["valid"]
        codes = sample["image"][0].round().long() - 1
        nodata_codes = set(torch.from_numpy(scene.labels.astype(np.int64))[torch.from_numpy(scene.nodata)].tolist())
        assert int((~valid).sum()) == 16 * 5 and set(sample["labels"][~valid].tolist()) <= nodata_codes
        assert torch.equal(sample["labels"][valid], codes[valid])
        assert (sample["image"][:, ~valid] == 0).all()  # no data: the bands' mean, whatever the raster held there


def test_a_large_scene_is_scored_in_windows_with_context_each_pixel_once():
    scene = coded_scene()  # 50 x 70
    scene.mask = scene.labels
    windows = WholeImageDataset([scene], IDENTITY, window=16, context=8)
    assert len(windows) == 4 * 5
    scored = np.full(scene.mask.shape, IGNORE_INDEX, np.int64)
    for sample in windows:
        top, left = sample["origin"].tolist()
        height, width = sample["mask"].shape
        assert torch.equal(sample["image"], IDENTITY.normalise(scene.image[top : top + height, left : left + width]))
        core = sample["mask"] != IGNORE_INDEX
        assert (scored[top : top + height, left : left + width][core.numpy()] == IGNORE_INDEX).all()  # once
        scored[top : top + height, left : left + width][core.numpy()] = sample["mask"][core].numpy()
        assert max(height, width) <= 16 + 2 * 8  # memory set by the window
    assert np.array_equal(scored, scene.mask)


def test_whole_images_carry_mask_and_labels():
    scene = coded_scene()
    scene.mask = scene.labels
    scene.labels = None
    sample = WholeImageDataset([scene], IDENTITY)[0]
    assert sample["image"].shape == (3, 50, 70)
    assert torch.equal(sample["mask"], torch.from_numpy(scene.mask.astype(np.int64)))
    assert (sample["labels"] == IGNORE_INDEX).all()
