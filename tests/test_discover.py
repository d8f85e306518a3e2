import os

import numpy as np
import pytest
from PIL import Image

from pointseg.data.discover import discover_pairs, list_images
from pointseg.data.imagery import read_image, read_mask
from pointseg.errors import DatasetError


def test_pairs_are_found_recursively_with_keys_and_sizes(dataset):
    pairs = discover_pairs(dataset)
    assert [p.key for p in pairs] == [f"part_{i % 2}/img_{i}" for i in (0, 2, 4, 1, 3, 5)]
    assert all(p.size == (40, 48) for p in pairs)
    assert pairs[0].image.name == "img_0.png" and pairs[0].mask.parent.name == "masks"


def test_symbolic_links_are_followed(dataset, tmp_path):
    view = tmp_path / "view"
    view.mkdir()
    os.symlink(dataset / "part_0", view / "linked", target_is_directory=True)
    assert [p.key for p in discover_pairs(view)] == ["linked/img_0", "linked/img_2", "linked/img_4"]


def test_a_link_to_an_ancestor_or_a_folder_already_searched_finds_each_image_once(dataset):
    os.symlink(dataset, dataset / "part_1/loop", target_is_directory=True)  # a loop
    os.symlink(dataset / "part_0", dataset / "zz_part_0_again", target_is_directory=True)  # a second path, searched after
    assert [p.key for p in discover_pairs(dataset)] == [f"part_{i % 2}/img_{i}" for i in (0, 2, 4, 1, 3, 5)]


def test_one_image_file_under_two_keys_is_an_error(dataset):
    for folder in ("images", "masks"):
        os.symlink(dataset / f"part_0/{folder}/img_0.png", dataset / f"part_1/{folder}/copy.png")
    with pytest.raises(DatasetError, match=r"part_0/images/img_0.png and .*part_1/images/copy.png are the same file"):
        discover_pairs(dataset)


def test_mask_without_image(dataset):
    (dataset / "part_0/images/img_0.png").unlink()
    with pytest.raises(DatasetError, match=r"mask without image: .*img_0\.png"):
        discover_pairs(dataset)


def test_image_without_mask(dataset):
    (dataset / "part_0/masks/img_2.png").unlink()
    with pytest.raises(DatasetError, match=r"image without mask: .*img_2\.png"):
        discover_pairs(dataset)


def test_size_mismatch_names_both_files(dataset):
    Image.new("RGB", (10, 12)).save(dataset / "part_1/masks/img_3.png")
    with pytest.raises(DatasetError, match=r"img_3\.png is 10x12 pixels but its image .*img_3\.png is 48x40"):
        discover_pairs(dataset)


def test_corrupt_file_is_named(dataset):
    (dataset / "part_1/images/img_5.png").write_bytes(b"not a picture")
    with pytest.raises(DatasetError, match=r"cannot read .*img_5\.png"):
        discover_pairs(dataset)


def test_truncated_pixel_data_is_named(dataset, tmp_path):
    path = dataset / "part_1/images/img_5.png"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"img_5\.png"):
        read_image(path)


def test_empty_and_missing_roots(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images found"):
        discover_pairs(tmp_path / "empty")
    with pytest.raises(DatasetError, match="not found"):
        discover_pairs(tmp_path / "nowhere")


def test_palette_masks_are_read_as_colours_or_indices(dataset):
    path = dataset / "part_1/masks/img_1.png"
    assert Image.open(path).mode == "P"
    colours = read_mask(path, "colour")
    indices = read_mask(path, "value")
    assert colours.shape == (40, 48, 3) and indices.shape == (40, 48)
    assert tuple(colours[indices == 1][0]) == (226, 169, 41)


def test_list_images_skips_masks(dataset):
    images = list_images(dataset)
    assert len(images) == 6 and all(p.parent.name == "images" for p in images)


def test_read_image_gives_bands_last(tmp_path):
    Image.fromarray(np.arange(12, dtype=np.uint8).reshape(3, 4)).save(tmp_path / "grey.png")
    assert read_image(tmp_path / "grey.png").shape == (3, 4, 1)
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    Image.fromarray(np.dstack([grey, np.full_like(grey, 200)]), mode="LA").save(tmp_path / "grey-alpha.png")
    assert np.array_equal(read_image(tmp_path / "grey-alpha.png"), grey[:, :, None])  # the alpha dropped, grey kept one band
