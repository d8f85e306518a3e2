import numpy as np
import pytest
from PIL import Image

from pointseg.classes import ClassTable
from pointseg.data.discover import discover_pairs
from pointseg.data.scenes import load_scenes, split_pairs
from pointseg.errors import DatasetError


def test_split_is_by_whole_image_and_seeded(dataset):
    pairs = discover_pairs(dataset)
    train, val = split_pairs(pairs, 0.34, seed=0)
    assert len(train) == 4 and len(val) == 2
    assert {p.key for p in train}.isdisjoint(p.key for p in val)
    assert split_pairs(pairs, 0.34, seed=0) == (train, val)
    assert any(split_pairs(pairs, 0.34, seed=s)[1] != val for s in range(1, 5))
    assert split_pairs(pairs, 0, seed=0) == (pairs, [])


def test_a_split_that_leaves_no_training_image(dataset):
    pairs = discover_pairs(dataset)[:1]
    with pytest.raises(DatasetError, match="none would be left for training"):
        split_pairs(pairs, 0.2, seed=0)
    with pytest.raises(DatasetError, match=r"--val-fraction 1\.5 is outside"):
        split_pairs(pairs, 1.5, seed=0)


def test_scenes_hold_image_and_decoded_mask(dataset, classes_csv):
    scenes = load_scenes(discover_pairs(dataset), ClassTable.read_csv(classes_csv))
    assert len(scenes) == 6
    assert scenes[0].image.shape == (40, 48, 3) and scenes[0].image.dtype == np.uint8
    assert scenes[0].mask.shape == (40, 48) and set(np.unique(scenes[0].mask)) <= {0, 1, 2}


def test_images_with_other_bands_are_named(dataset, classes_csv):
    Image.new("L", (48, 40)).save(dataset / "part_1/images/img_3.png")
    with pytest.raises(DatasetError, match=r"img_3\.png has 1 bands but .*img_0\.png has 3"):
        load_scenes(discover_pairs(dataset), ClassTable.read_csv(classes_csv))
