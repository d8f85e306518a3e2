from pathlib import Path

import numpy as np
import pytest

from pointseg.classes import IGNORE_INDEX, ClassTable, describe_key
from pointseg.errors import ClassesError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "classes.csv"
    path.write_text(text)
    return path


def test_read_colour_table(tmp_path):
    table = ClassTable.read_csv(write(tmp_path, "name,r,g,b\nland,132,41,246\nwater, 226,169,41\n"))
    assert table.kind == "colour"
    assert table.names == ("land", "water")
    assert table.keys == ((132, 41, 246), (226, 169, 41))
    assert table.colours == table.keys


def test_read_value_table_gets_display_colours(tmp_path):
    table = ClassTable.read_csv(write(tmp_path, "name,value\nbackground,0\nbuilding,3\n"))
    assert table.kind == "value"
    assert table.keys == (0, 3)
    assert len(set(table.colours)) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("class,colour\nland,#fff\n", "has the columns class,colour"),
        ("name,r,g,b\nland,1,2\n", "line 2"),
        ("name,r,g,b\nland,1,2,300\n", "outside 0-255"),
        ("name,r,g,b\n", "lists no class"),
        ("name,r,g,b\nland,1,2,3\nwater,1,2,3\n", "twice"),
        ("name,value\nland,x\n", "not an integer value"),
        ("name,r,g,b\nland,1,2,3\n,60,16,152\n", "line 3: a class without a name"),
        ("name,r,g,b\nbuilding,60,16,152,9\n", "line 2: '9' beyond the header's 4 columns"),
        ("name,value\nland,0,1\n", "line 2: '1' beyond the header's 2 columns"),
        ("name,r,g,b\nland,1,2,3\n\n,60,16,152\n", "line 4: a class without a name"),  # the blank line counts
    ],
)
def test_bad_tables_name_the_problem(tmp_path, text, expected):
    with pytest.raises(ClassesError, match=expected):
        ClassTable.read_csv(write(tmp_path, text))


def test_missing_table(tmp_path):
    with pytest.raises(ClassesError, match="not found") as info:
        ClassTable.read_csv(tmp_path / "nope.csv")
    assert "name,r,g,b" in info.value.fix


def test_decode_colours_ignores_unknown_colours():
    table = ClassTable.from_rows([("a", (255, 0, 0)), ("b", (0, 255, 0))])
    mask = np.array([[[255, 0, 0], [0, 255, 0]], [[7, 7, 7], [7, 7, 7]]], dtype=np.uint8)
    decoded = table.decode(mask)
    assert decoded.labels.tolist() == [[0, 1], [IGNORE_INDEX, IGNORE_INDEX]]
    assert decoded.unknown == {(7, 7, 7): 2}


def test_decode_values():
    table = ClassTable.from_rows([("a", 10), ("b", 2)])
    decoded = table.decode(np.array([[10, 2, 5]], dtype=np.uint8))
    assert decoded.labels.tolist() == [[0, 1, IGNORE_INDEX]]
    assert decoded.unknown == {5: 1}


def test_decode_rejects_wrong_form():
    colour = ClassTable.from_rows([("a", (1, 2, 3))])
    value = ClassTable.from_rows([("a", 1)])
    with pytest.raises(ClassesError, match="single-band"):
        colour.decode(np.zeros((2, 2), np.uint8))
    with pytest.raises(ClassesError, match="colour mask"):
        value.decode(np.zeros((2, 2, 3), np.uint8))


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_decode_refuses_colours_outside_0_to_255(dtype):
    table = ClassTable.from_rows([("yellow", (255, 255, 0)), ("other", (1, 2, 3))])
    mask = np.zeros((1, 2, 3), dtype)
    mask[0, 0] = (0, 65535, 0) if dtype == np.uint16 else (1, 2, 3.5)  # would pack as yellow / truncate to other
    with pytest.raises(ClassesError, match="holds values outside the colours 0-255"):
        table.decode(mask)


def test_decode_leaves_empty_pixels_out_of_every_count():
    table = ClassTable.from_rows([("a", 1), ("b", 2)])
    decoded = table.decode(np.array([[1, 2, 7, 7]], np.uint8), empty=np.array([[False, True, True, False]]))
    assert decoded.labels.tolist() == [[0, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]] and decoded.unknown == {7: 1}


def test_dict_round_trip():
    table = ClassTable.from_rows([("a", (1, 2, 3)), ("b", (4, 5, 6))])
    assert ClassTable.from_dict(table.to_dict()) == table
    values = ClassTable.from_rows([("a", 1), ("b", 4)])
    assert ClassTable.from_dict(values.to_dict()) == values


def test_describe_key():
    assert describe_key((1, 2, 3)) == "rgb(1,2,3)"
    assert describe_key(4) == "value 4"
