import warnings

import numpy as np
import pytest

from pointseg.classes import IGNORE_INDEX, ClassTable
from pointseg.data.points import PointLabels, PointSpec, simulate_points, write_points
from pointseg.errors import PointsegWarning, PointsError


def masks():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, (60, 50)).astype(np.int16)
    a[:5] = IGNORE_INDEX
    b = np.zeros((30, 40), np.int16)
    b[:, 30:] = 2
    return {"a": a, "b": b}


def as_tuples(points):
    return list(zip(points.keys.tolist(), points.rows.tolist(), points.cols.tolist(), points.classes.tolist()))


@pytest.mark.parametrize("strategy", ["random", "class-balanced", "grid"])
def test_same_seed_same_points_other_seed_other_points(strategy):
    first = simulate_points(masks(), PointSpec.parse("30"), strategy, seed=1)
    again = simulate_points(masks(), PointSpec.parse("30"), strategy, seed=1)
    other = simulate_points(masks(), PointSpec.parse("30"), strategy, seed=2)
    assert as_tuples(first) == as_tuples(again)
    assert as_tuples(first) != as_tuples(other)


def test_an_images_points_do_not_depend_on_the_other_images():
    alone = simulate_points({"b": masks()["b"]}, PointSpec.parse("10"), "random", seed=3)
    together = simulate_points(masks(), PointSpec.parse("10"), "random", seed=3)
    assert as_tuples(alone) == [t for t in as_tuples(together) if t[0] == "b"]


def test_random_points_lie_on_labelled_pixels_with_their_class():
    data = masks()
    points = simulate_points(data, PointSpec.parse("40"), "random", seed=0)
    assert len(points) == 80
    for key, row, col, cls in as_tuples(points):
        assert data[key][row, col] == cls != IGNORE_INDEX
    assert len(set(as_tuples(points))) == 80  # no pixel twice


def test_more_random_points_than_labelled_pixels_take_them_all_with_a_warning():
    # a: 55 x 50 = 2750 labelled pixels (5 rows unlabelled), b: 30 x 40 = 1200
    with pytest.warns(
        PointsegWarning, match=r"1 image\(s\) get fewer points than asked \(they have fewer .*\): b \(1200 of 2000\)"
    ):
        points = simulate_points(masks(), PointSpec.parse("2000"), "random", seed=0)
    _, per_image = points.counts(ClassTable.from_rows([("x", 0), ("y", 1), ("z", 2)]))
    assert per_image == {"a": 2000, "b": 1200}


def test_class_balanced_points_a_class_cannot_take_go_to_the_others():
    # b: 900 pixels of class 0 and 300 of class 2: 500 each asks 200 too many of class 2, which class 0 takes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        points = simulate_points(masks(), PointSpec.parse("1000"), "class-balanced", seed=0)
    assert np.bincount(points.classes[points.keys == "b"], minlength=3).tolist() == [700, 0, 300]
    # past every labelled pixel, the image gets them all, with a warning
    with pytest.warns(
        PointsegWarning, match=r"1 image\(s\) get fewer points than asked \(they have fewer .*\): b \(1200 of 2000\)"
    ):
        points = simulate_points(masks(), PointSpec.parse("2000"), "class-balanced", seed=0)
    assert np.bincount(points.classes[points.keys == "b"], minlength=3).tolist() == [900, 0, 300]


def test_fraction_of_pixels():
    points = simulate_points(masks(), PointSpec.parse("0.01"), "random", seed=0)
    _, per_image = points.counts(ClassTable.from_rows([("x", 0), ("y", 1), ("z", 2)]))
    assert per_image == {"a": 30, "b": 12}


def test_class_balanced_gives_equal_counts_per_present_class():
    points = simulate_points(masks(), PointSpec.parse("31"), "class-balanced", seed=0)
    a = points.classes[points.keys == "a"]
    assert sorted(np.bincount(a).tolist()) == [10, 10, 11]
    b = points.classes[points.keys == "b"]
    assert np.bincount(b, minlength=3).tolist()[::2] in ([16, 15], [15, 16])
    assert np.bincount(b, minlength=3)[1] == 0


def test_grid_points_are_regularly_spaced():
    data = {"g": np.zeros((100, 100), np.int16)}
    points = simulate_points(data, PointSpec.parse("25"), "grid", seed=0)
    assert len(points) == 25
    assert set(np.diff(np.unique(points.rows)).tolist()) == {20}
    assert set(np.diff(np.unique(points.cols)).tolist()) == {20}
    for seed in range(10):  # a long strip: its points along its length, as many as asked whatever the shift
        strip = simulate_points({"s": np.zeros((10, 1000), np.int16)}, PointSpec.parse("5"), "grid", seed=seed)
        assert len(strip) == 5 and len(set(strip.rows.tolist())) == 1
        assert set(np.diff(strip.cols).tolist()) <= {199, 200, 201}


@pytest.mark.parametrize("text", ["0", "-3", "1.5", "abc", "2.0", "inf", "nan", "1"])
def test_point_spec_parsing(text):
    if text == "1":
        assert PointSpec.parse(text).per_image == 1
        return
    with pytest.raises(PointsError, match="--points"):
        PointSpec.parse(text)


def test_csv_round_trip(tmp_path):
    table = ClassTable.from_rows([("x", 0), ("y", 1), ("z", 2)])
    points = simulate_points(masks(), PointSpec.parse("7"), "random", seed=0)
    path = write_points(tmp_path, points, table, {"seed": 0})
    back = PointLabels.read_csv(path, table, sizes={"a": (60, 50), "b": (30, 40)})
    assert as_tuples(back) == as_tuples(points)
    assert (tmp_path / "points.json").exists()
    label_map = back.label_map("b", (30, 40))
    assert (label_map != IGNORE_INDEX).sum() == 7


def test_csv_errors_name_the_line(tmp_path):
    table = ClassTable.from_rows([("x", 0)])
    path = tmp_path / "p.csv"
    path.write_text("image,row,col,class\na,1,1,x\na,1,1,cloud\n")
    with pytest.raises(PointsError, match=r"line 3: class 'cloud'"):
        PointLabels.read_csv(path, table)
    path.write_text("image,row,col,class\n\na,3,4,x\n\na,3,4,cloud\n")  # blank lines count
    with pytest.raises(PointsError, match=r"p\.csv, line 5: class 'cloud'"):
        PointLabels.read_csv(path, table)
    path.write_text("image,row,col,class\na,3,4,x\na,3\n")
    with pytest.raises(PointsError, match=r"line 3: too few fields \(col, class missing\)") as info:
        PointLabels.read_csv(path, table)
    assert info.value.fix == "give image,row,col,class on every line"
    path.write_text("image,row,col,class\na,100,1,x\n")
    with pytest.raises(PointsError, match=r"line 2: pixel \(100, 1\) is outside"):
        PointLabels.read_csv(path, table, sizes={"a": (10, 10)})
    path.write_text("image,row,col,class\nq,1,1,x\n")
    with pytest.raises(PointsError, match="image 'q' is not in the dataset"):
        PointLabels.read_csv(path, table, sizes={"a": (10, 10)})


def test_spaces_around_a_points_csvs_columns_and_values_are_dropped(tmp_path):
    table = ClassTable.from_rows([("red", 0), ("blue", 1)])
    path = tmp_path / "p.csv"
    path.write_text("image, row, col, class\na, 3, 4, blue \n")  # as a spreadsheet writes it
    assert as_tuples(PointLabels.read_csv(path, table)) == [("a", 3, 4, 1)]


def test_a_pixel_given_twice_counts_once_and_two_classes_on_one_pixel_are_refused(tmp_path):
    table = ClassTable.from_rows([("x", 0), ("y", 1)])
    path = tmp_path / "p.csv"
    path.write_text("image,row,col,class\na,1,1,x\nb,1,1,y\na,1,1,x\na,2,1,y\n")  # a's (1, 1) again, as a correction appended
    with pytest.warns(PointsegWarning, match="1 point.* repeat an earlier line's pixel and class, counted once"):
        points = PointLabels.read_csv(path, table)
    assert as_tuples(points) == [("a", 1, 1, 0), ("b", 1, 1, 1), ("a", 2, 1, 1)] and points.class_counts(2).tolist() == [1, 2]
    path.write_text("image,row,col,class\na,1,1,x\nb,1,1,y\na,1,1,y\n")
    with pytest.raises(PointsError, match=r"line 4: pixel \(1, 1\) of 'a' is 'y' here but 'x' on line 2") as info:
        PointLabels.read_csv(path, table)
    assert "one class for each pixel" in info.value.fix
    path.write_text("image,row,col,class\na,-1,1,x\n")  # would wrap to the last row of a label map
    with pytest.raises(PointsError, match=r"line 2: pixel \(-1, 1\) has a negative row or col"):
        PointLabels.read_csv(path, table)


def test_csv_with_a_byte_order_mark_reads_like_any_other(tmp_path):
    table = ClassTable.from_rows([("x", 0), ("y", 1)])
    path = tmp_path / "excel.csv"  # Excel's "CSV UTF-8" starts with a BOM
    path.write_bytes(b"\xef\xbb\xbfimage,row,col,class\na,3,4,y\n")
    assert as_tuples(PointLabels.read_csv(path, table)) == [("a", 3, 4, 1)]
