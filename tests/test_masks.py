import warnings

import numpy as np
import pytest
from PIL import Image

from conftest import COLOURS
from pointseg.classes import IGNORE_INDEX, ClassTable
from pointseg.data.discover import discover_pairs
from pointseg.data.masks import UnknownLabelsWarning, load_masks
from pointseg.errors import ClassesError


def test_rgb_and_palette_masks_decode_to_the_same_classes(dataset, classes_csv):
    table = ClassTable.read_csv(classes_csv)
    masks = load_masks(discover_pairs(dataset), table)
    palette = np.asarray(Image.open(dataset / "part_1/masks/img_1.png"))
    assert np.array_equal(masks["part_1/img_1"], palette)  # palette index i is class i
    rgb = np.asarray(Image.open(dataset / "part_0/masks/img_0.png"))
    expected = np.select([np.all(rgb == c, axis=2) for c in COLOURS.values()], [0, 1, 2], default=99)
    assert np.array_equal(masks["part_0/img_0"], expected)


def test_index_masks_decode_by_value(tmp_path):
    for folder in ("images", "masks"):
        (tmp_path / folder).mkdir()
    Image.new("RGB", (3, 1)).save(tmp_path / "images/a.png")
    Image.fromarray(np.array([[0, 7, 3]], dtype=np.uint8)).save(tmp_path / "masks/a.png")
    table = ClassTable.from_rows([("background", 0), ("building", 7)])
    with pytest.warns(UnknownLabelsWarning):
        masks = load_masks(discover_pairs(tmp_path), table)
    assert masks["a"].tolist() == [[0, 1, IGNORE_INDEX]]


def test_unknown_colours_are_ignored_and_reported_with_their_share(dataset, classes_csv):
    path = dataset / "part_0/masks/img_0.png"
    rgb = np.asarray(Image.open(path)).copy()
    rgb[:2, :10] = (155, 155, 155)  # 20 of the 6 x 40 x 48 = 11520 pixels
    Image.fromarray(rgb).save(path)
    with pytest.warns(UnknownLabelsWarning, match=r"rgb\(155,155,155\) 0\.174 %") as record:
        masks = load_masks(discover_pairs(dataset), ClassTable.read_csv(classes_csv))
    assert "in 1 files" in str(record[0].message)
    assert (masks["part_0/img_0"][:2, :10] == IGNORE_INDEX).all()
    assert (masks["part_0/img_0"][2:] != IGNORE_INDEX).all()


def test_no_warning_when_every_colour_is_known(dataset, classes_csv):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_masks(discover_pairs(dataset), ClassTable.read_csv(classes_csv))


def test_a_wrong_table_fails_and_lists_the_colours_found(dataset, tmp_path):
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("name,r,g,b\nwater,80,227,194\nland,245,166,35\n")
    with pytest.raises(ClassesError) as info:
        load_masks(discover_pairs(dataset), ClassTable.read_csv(wrong))
    message = str(info.value)
    assert "100.0 % of mask pixels match no class" in message
    for colour in COLOURS.values():
        assert "rgb({},{},{})".format(*colour) in message


def test_a_grey_mask_against_a_colour_table_names_the_file(dataset, classes_csv):
    Image.new("L", (48, 40)).save(dataset / "part_0/masks/img_2.png")
    with pytest.raises(ClassesError, match=r"img_2\.png: a single-band mask"):
        load_masks(discover_pairs(dataset), ClassTable.read_csv(classes_csv))
