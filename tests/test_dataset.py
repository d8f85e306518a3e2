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


def test_small_scenes_are_padded_with_ignored_labels():
    dataset = RandomCropDataset([coded_scene(height=10, width=12)], IDENTITY, crop=16, seed=0, augment=False)
    sample = dataset[0]
    assert sample["image"].shape == (3, 16, 16)
    assert (sample["labels"][10:] == IGNORE_INDEX).all() and (sample["labels"][:, 12:] == IGNORE_INDEX).all()
    assert (sample["labels"][:10, :12] != IGNORE_INDEX).all()


def test_whole_images_carry_mask_and_labels():
    scene = coded_scene()
    scene.mask = scene.labels
    scene.labels = None
    sample = WholeImageDataset([scene], IDENTITY)[0]
    assert sample["image"].shape == (3, 50, 70)
    assert torch.equal(sample["mask"], torch.from_numpy(scene.mask.astype(np.int64)))
    assert (sample["labels"] == IGNORE_INDEX).all()
