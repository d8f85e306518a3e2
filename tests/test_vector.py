"""Point annotations in and out: reprojection, pixel placement, what is skipped, round trips."""

from pathlib import Path

import numpy as np
import pyogrio.raw
import pytest
import rasterio
import shapely
from PIL import Image
from rasterio.transform import from_origin

from pointseg.classes import ClassTable
from pointseg.data.discover import ImagePair
from pointseg.data.points import PointLabels
from pointseg.data.vector import read_vector_points, vector_driver, write_vector_points
from pointseg.errors import PointsError

TABLE = ClassTable.from_rows([("land", (132, 41, 246)), ("water", (226, 169, 41)), ("road", (110, 193, 228))])


def raster(path, transform, epsg=32640, size=(20, 30)):
    with rasterio.open(path, "w", driver="GTiff", width=size[1], height=size[0], count=1, dtype="uint8",
                       crs=f"EPSG:{epsg}", transform=transform) as dst:  # fmt: skip
        dst.write(np.zeros((1, *size), np.uint8))
    return ImagePair(Path(path).stem, Path(path), Path(path), size)


def write_features(path, xs, ys, classes, crs="EPSG:4326"):
    pyogrio.raw.write(path, shapely.to_wkb(shapely.points(xs, ys)), [np.array(classes, dtype=object)], ["class"],
                      geometry_type="Point", crs=crs)  # fmt: skip
    return path


def test_a_point_in_lon_lat_lands_on_the_pixel_computed_by_hand(tmp_path):
    # UTM 40N: longitude 57 E (the central meridian) is easting 500,000 m; the equator is northing 0.
    # With the raster's corner at (499,955, 55) and 10 m pixels: col (500000 - 499955) / 10 = 4.5, row (55 - 0) / 10 = 5.5.
    pair = raster(tmp_path / "utm.tif", from_origin(499_955, 55, 10, 10))
    path = write_features(tmp_path / "p.gpkg", [57.0], [0.0], ["water"])
    imported = read_vector_points(path, TABLE, [pair])
    assert (imported.points.keys.tolist(), imported.points.rows.tolist(), imported.points.cols.tolist()) == (["utm"], [5], [4])
    assert imported.points.classes.tolist() == [1] and sum(imported.skipped.values()) == 0


def test_points_outside_with_unknown_classes_or_conflicting_are_counted_and_skipped(tmp_path):
    pair = raster(tmp_path / "utm.tif", from_origin(499_955, 55, 10, 10))
    lon = [57.0, 57.0, 58.0, 57.0001, 57.0001, 57.0002, 57.0002]
    lat = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    classes = ["water", "water", "land", "cloud", "road", "land", "road"]  # 58 E is 111 km away; one pixel twice
    imported = read_vector_points(write_features(tmp_path / "p.geojson", lon, lat, classes), TABLE, [pair])
    assert imported.skipped == {
        "outside every image": 1,
        "on several pictures, none named in the image field": 0,
        "on pixels without data": 0,
        "unknown class": 1,
        "pixel given two classes": 2,
    }
    assert len(imported.points) == 2  # the duplicated water point counts once, and the road point beside it
    assert imported.summary() == "2 points read; skipped: 1 outside every image, 1 unknown class, 2 pixel given two classes"


def test_export_then_import_gives_the_same_pixels_and_classes(tmp_path):
    pairs = [raster(tmp_path / "a.tif", from_origin(300_000, 2_800_000, 0.5, 0.5)),
             raster(tmp_path / "b.tif", from_origin(400_000, 2_700_000, 2, 2), epsg=32639)]  # fmt: skip
    rng = np.random.default_rng(0)
    points = PointLabels(
        np.array(["a"] * 5 + ["b"] * 5, dtype=object), rng.integers(0, 20, 10), rng.integers(0, 30, 10), rng.integers(0, 3, 10)
    )
    path = write_vector_points(points, TABLE, pairs, tmp_path / "points.gpkg")
    meta = pyogrio.read_info(path)
    assert meta["crs"] == "EPSG:32640" and meta["features"] == 10  # in the first raster's CRS, b's points reprojected
    back = read_vector_points(path, TABLE, pairs).points
    order = lambda p: sorted(zip(p.keys.tolist(), p.rows.tolist(), p.cols.tolist(), p.classes.tolist()))  # noqa: E731
    assert order(back) == order(points)


def test_pictures_use_pixel_coordinates_and_a_csv_works_too(tmp_path):
    Image.new("RGB", (30, 20)).save(tmp_path / "pic.png")
    pair = ImagePair("pic", tmp_path / "pic.png", tmp_path / "pic.png", (20, 30))
    points = PointLabels(np.array(["pic", "pic"], dtype=object), np.array([3, 19]), np.array([29, 0]), np.array([2, 0]))
    path = write_vector_points(points, TABLE, [pair], tmp_path / "p.geojson")
    _, _, geometry, _ = pyogrio.raw.read(path)
    xy = shapely.get_coordinates(shapely.from_wkb(geometry)).tolist()
    assert xy == [[29.5, -3.5], [0.5, -19.5]]  # pixel centres as QGIS lays out a picture: x = column, y = -row
    back = read_vector_points(path, TABLE, [pair]).points
    assert back.rows.tolist() == [3, 19] and back.cols.tolist() == [29, 0] and back.classes.tolist() == [2, 0]
    (tmp_path / "p.csv").write_text("x,y,label\n29.5,3.5,road\n0.2,19.9,0\n")
    from_csv = read_vector_points(tmp_path / "p.csv", TABLE, [pair], label_field="label").points
    assert from_csv.rows.tolist() == [3, 19] and from_csv.classes.tolist() == [2, 0]  # by name, or by index


def test_a_point_naming_no_picture_is_placed_only_where_one_picture_holds_it(tmp_path):
    pairs = []
    for name, size in (("t/a", (20, 30)), ("t/b", (20, 30)), ("t/wide", (5, 60))):
        (tmp_path / "t").mkdir(exist_ok=True)
        Image.new("RGB", size[::-1]).save(tmp_path / f"{name}.png")
        pairs.append(ImagePair(name, tmp_path / f"{name}.png", tmp_path / f"{name}.png", size))
    # pixel (3, 4) lies on every picture; (10, 40) on the wide one only; the third names its picture
    (tmp_path / "p.csv").write_text("x,y,image,class\n4.5,-3.5,,road\n40.5,-2.5,,water\n4.5,-3.5,t/b,land\n1,1,a,land\n")
    imported = read_vector_points(tmp_path / "p.csv", TABLE, pairs)
    placed = zip(imported.points.keys.tolist(), imported.points.rows.tolist(), imported.points.cols.tolist())
    assert sorted(placed) == [("t/b", 3, 4), ("t/wide", 2, 40)]
    assert imported.skipped["on several pictures, none named in the image field"] == 2  # "a" is no key: t/a is
    (tmp_path / "q.csv").write_text("x,y,class\n4.5,-3.5,road\n1,1,land\n")
    with pytest.raises(PointsError, match=r"(?s)2 on several pictures, none named .* name each point's picture in its image"):
        read_vector_points(tmp_path / "q.csv", TABLE, pairs[:2])


def test_class_names_that_are_numbers_are_matched_by_name_before_index(tmp_path):
    codes = ClassTable.from_rows([("1", (9, 9, 1)), ("2", (9, 9, 2)), ("3", (9, 9, 3))])  # land-cover codes as names
    Image.new("RGB", (30, 20)).save(tmp_path / "pic.png")
    pair = ImagePair("pic", tmp_path / "pic.png", tmp_path / "pic.png", (20, 30))
    (tmp_path / "p.csv").write_text("x,y,class\n0.5,-0.5,1\n1.5,-0.5,2\n2.5,-0.5,3\n")
    assert read_vector_points(tmp_path / "p.csv", codes, [pair]).points.classes.tolist() == [0, 1, 2]


def test_a_geopackage_of_several_layers_is_refused_naming_them(tmp_path):
    pair = raster(tmp_path / "utm.tif", from_origin(499_955, 55, 10, 10))
    path = tmp_path / "p.gpkg"
    for layer, lon in (("old", 57.0), ("new", 57.0001)):
        pyogrio.raw.write(path, shapely.to_wkb(shapely.points([lon], [0.0])), [np.array(["water"], dtype=object)], ["class"],
                          geometry_type="Point", crs="EPSG:4326", layer=layer, append=layer == "new")  # fmt: skip
    with pytest.raises(PointsError, match=r"holds 2 layers of features \(old, new\)"):
        read_vector_points(path, TABLE, [pair])


def test_a_shapefile_written_again_for_pictures_leaves_no_earlier_projection_behind(tmp_path):
    pairs = [raster(tmp_path / "utm.tif", from_origin(499_955, 55, 10, 10))]
    points = PointLabels(np.array(["utm"], dtype=object), np.array([3]), np.array([4]), np.array([1]))
    write_vector_points(points, TABLE, pairs, tmp_path / "out/points.shp")
    assert (tmp_path / "out/points.prj").is_file()
    Image.new("RGB", (30, 20)).save(tmp_path / "pic.png")
    pictures = [ImagePair("pic", tmp_path / "pic.png", tmp_path / "pic.png", (20, 30))]
    points = PointLabels(np.array(["pic"], dtype=object), np.array([3]), np.array([4]), np.array([1]))
    path = write_vector_points(points, TABLE, pictures, tmp_path / "out/points.shp")
    assert not (tmp_path / "out/points.prj").exists() and pyogrio.read_info(path)["crs"] is None
    assert read_vector_points(path, TABLE, pictures).points.rows.tolist() == [3]


def test_a_missing_field_or_no_usable_point_is_a_clear_error(tmp_path):
    pair = raster(tmp_path / "utm.tif", from_origin(499_955, 55, 10, 10))
    path = write_features(tmp_path / "p.gpkg", [10.0], [10.0], ["water"])
    with pytest.raises(PointsError, match="has no field 'kind'"):
        read_vector_points(path, TABLE, [pair], label_field="kind")
    with pytest.raises(PointsError, match=r"no point of .* is usable \(1 outside every image"):
        read_vector_points(path, TABLE, [pair])


def test_a_csv_with_a_bad_coordinate_names_the_problem(tmp_path):
    Image.new("RGB", (30, 20)).save(tmp_path / "pic.png")
    pair = ImagePair("pic", tmp_path / "pic.png", tmp_path / "pic.png", (20, 30))
    (tmp_path / "p.csv").write_text("x,y,class\n3,four,road\n")
    with pytest.raises(PointsError, match="a coordinate is not a number"):
        read_vector_points(tmp_path / "p.csv", TABLE, [pair])


def test_points_on_pixels_without_data_are_counted_and_skipped(tmp_path):
    path = tmp_path / "holes.tif"
    with rasterio.open(path, "w", driver="GTiff", width=30, height=20, count=1, dtype="uint8", crs="EPSG:32640",
                       transform=from_origin(300_000, 2_800_000, 1, 1), nodata=0) as dst:  # fmt: skip
        pixels = np.full((1, 20, 30), 9, np.uint8)
        pixels[0, :, :10] = 0  # the left third has no data
        dst.write(pixels)
    pair = ImagePair("holes", path, None, (20, 30))
    xs, ys = [300_005.5, 300_020.5], [2_799_995.5, 2_799_995.5]  # columns 5 (no data) and 20, row 4
    imported = read_vector_points(write_features(tmp_path / "p.gpkg", xs, ys, ["water", "road"], "EPSG:32640"), TABLE, [pair])
    assert imported.skipped["on pixels without data"] == 1 and imported.points.cols.tolist() == [20]
    assert imported.points.rows.tolist() == [4] and imported.points.classes.tolist() == [2]


def test_a_csv_with_a_byte_order_mark_is_read(tmp_path):
    Image.new("RGB", (30, 20)).save(tmp_path / "pic.png")
    pair = ImagePair("pic", tmp_path / "pic.png", tmp_path / "pic.png", (20, 30))
    (tmp_path / "p.csv").write_bytes(b"\xef\xbb\xbfx,y,class\n29.5,3.5,road\n")  # Excel's "CSV UTF-8"
    points = read_vector_points(tmp_path / "p.csv", TABLE, [pair]).points
    assert (points.rows.tolist(), points.cols.tolist(), points.classes.tolist()) == ([3], [29], [2])


@pytest.mark.parametrize("name", ["p.gpkg", "p.geojson", "p.shp", "P.FGB"])
def test_each_supported_ending_round_trips(tmp_path, name):
    Image.new("RGB", (30, 20)).save(tmp_path / "pic.png")
    pair = ImagePair("pic", tmp_path / "pic.png", tmp_path / "pic.png", (20, 30))
    points = PointLabels(np.array(["pic", "pic"], dtype=object), np.array([3, 19]), np.array([29, 0]), np.array([2, 0]))
    for _ in range(2):  # the second write replaces the first
        path = write_vector_points(points, TABLE, [pair], tmp_path / name)
    back = read_vector_points(path, TABLE, [pair]).points
    assert (back.rows.tolist(), back.cols.tolist(), back.classes.tolist()) == ([3, 19], [29, 0], [2, 0])


def test_writing_to_an_unknown_ending_or_a_folder_is_refused(tmp_path):
    pair = ImagePair("pic", tmp_path / "pic.png", tmp_path / "pic.png", (20, 30))
    points = PointLabels(np.array(["pic"], dtype=object), np.array([3]), np.array([29]), np.array([2]))
    with pytest.raises(PointsError, match=r"v\.txt: unknown ending '\.txt'") as info:
        write_vector_points(points, TABLE, [pair], tmp_path / "v.txt")
    assert info.value.fix == "end the file name with one of .gpkg, .geojson, .shp, .fgb"
    with pytest.raises(PointsError, match="unknown ending '\\(none\\)'"):
        vector_driver(tmp_path / "points")
    (tmp_path / "out").mkdir()
    with pytest.raises(PointsError, match="out is a folder, not a vector file") as info:
        vector_driver(tmp_path / "out")
    assert "out/points.gpkg" in info.value.fix
    assert vector_driver(tmp_path / "a.GeoJSON") == "GeoJSON"


def test_a_csv_with_a_short_line_or_not_in_utf8_names_the_problem(tmp_path):
    Image.new("RGB", (30, 20)).save(tmp_path / "pic.png")
    pair = ImagePair("pic", tmp_path / "pic.png", tmp_path / "pic.png", (20, 30))
    (tmp_path / "p.csv").write_text("x,y,class\n29.5,3.5,road\n\n1.5,2.5\n")
    with pytest.raises(PointsError, match=r"p\.csv, line 4: too few fields \(class missing\)") as info:
        read_vector_points(tmp_path / "p.csv", TABLE, [pair])
    assert info.value.fix == "give x,y,class on every line"
    (tmp_path / "p.csv").write_bytes("x,y,class\n1,2,forêt\n".encode("latin-1"))
    with pytest.raises(PointsError, match=r"p\.csv is not a readable CSV file") as info:
        read_vector_points(tmp_path / "p.csv", TABLE, [pair])
    assert info.value.fix == "save it as UTF-8 CSV"


def test_points_in_a_crs_are_never_read_as_pixel_coordinates_of_a_picture(tmp_path):
    Image.new("RGB", (30, 20)).save(tmp_path / "pic.png")
    picture = ImagePair("pic", tmp_path / "pic.png", tmp_path / "pic.png", (20, 30))
    path = write_features(tmp_path / "p.gpkg", [12.0], [5.0], ["water"])  # lon 12, lat 5: inside the picture as x, y
    with pytest.raises(PointsError, match="gives its points in WGS 84, but the images are plain pictures") as info:
        read_vector_points(path, TABLE, [picture])
    assert "--point-crs pixels" in info.value.fix
    qgis = write_features(tmp_path / "qgis.gpkg", [12.5, 29.9], [-5.5, -0.1], ["water", "road"])  # QGIS's layout: y = -row
    for given, rows in ((path, [5]), (qgis, [5, 0])):  # said to be pixel coordinates, y down from 0 either way
        assert read_vector_points(given, TABLE, [picture], point_crs="pixels").points.rows.tolist() == rows
    utm = raster(tmp_path / "utm.tif", from_origin(499_955, 55, 10, 10))
    both = write_features(tmp_path / "both.gpkg", [57.0, 12.0], [0.0, 5.0], ["water", "road"])
    imported = read_vector_points(both, TABLE, [picture, utm])  # the raster takes its point; the other is in no image
    assert imported.points.keys.tolist() == ["utm"] and imported.skipped["outside every image"] == 1


def test_a_mixed_export_puts_the_pictures_points_back_on_the_picture(tmp_path):
    Image.new("RGB", (30, 20)).save(tmp_path / "pic.png")
    pairs = [raster(tmp_path / "utm.tif", from_origin(499_955, 55, 10, 10)),
             ImagePair("pic", tmp_path / "pic.png", tmp_path / "pic.png", (20, 30))]  # fmt: skip
    points = PointLabels(np.array(["utm", "pic"], dtype=object), np.array([5, 3]), np.array([4, 29]), np.array([1, 2]))
    for chosen in (points, points.of_image("pic")):  # the raster's CRS even without a point on it
        path = write_vector_points(chosen, TABLE, pairs, tmp_path / "mixed.gpkg")
        assert pyogrio.read_info(path)["crs"] == "EPSG:32640"  # the picture's point is in pixel coordinates all the same
        back = read_vector_points(path, TABLE, pairs).points
        rows = sorted(zip(back.keys.tolist(), back.rows.tolist(), back.cols.tolist(), back.classes.tolist()))
        assert rows == [("pic", 3, 29, 2), ("utm", 5, 4, 1)][: len(chosen)]


def test_a_point_added_in_qgis_to_an_exported_layer_is_placed_by_its_coordinates(tmp_path):
    # a (0.5 m pixels) lies inside b (1 m pixels, the same corner): a point in both goes to the image its field
    # names, and one whose field is empty or NULL (a feature added in QGIS) to the first image containing it
    pairs = [raster(tmp_path / "a.tif", from_origin(300_000, 2_800_000, 0.5, 0.5)),
             raster(tmp_path / "b.tif", from_origin(300_000, 2_800_000, 1, 1))]  # fmt: skip
    xs, ys = [300_001.75, 300_001.75, 300_003.25, 300_020.5], [2_799_998.25, 2_799_998.25, 2_799_996.75, 2_799_990.5]
    fields = [np.array(["b", "", None, ""], dtype=object), np.array(["water", "road", "land", "land"], dtype=object)]
    pyogrio.raw.write(tmp_path / "edited.gpkg", shapely.to_wkb(shapely.points(xs, ys)), fields, ["image", "class"],
                      geometry_type="Point", crs="EPSG:32640")  # fmt: skip
    imported = read_vector_points(tmp_path / "edited.gpkg", TABLE, pairs)
    placed = sorted(zip(imported.points.keys.tolist(), imported.points.rows.tolist(), imported.points.cols.tolist()))
    # named b: row 1, col 1 of b; empty: row 3, col 3 of a; NULL: row 6, col 6 of a; empty, outside a: row 9, col 20 of b
    assert placed == [("a", 3, 3), ("a", 6, 6), ("b", 1, 1), ("b", 9, 20)] and sum(imported.skipped.values()) == 0


def test_a_picture_beside_a_world_file_alone_keeps_its_map_coordinates_without_a_crs(tmp_path):
    from pointseg.suggest import write_suggestions

    Image.new("RGB", (30, 20)).save(tmp_path / "w.png")
    (tmp_path / "w.pgw").write_text("0.5\n0\n0\n-0.5\n300000.25\n2799999.75\n")  # 0.5 m pixels, corner (300000, 2800000)
    pairs = [ImagePair("w", tmp_path / "w.png", None, (20, 30))]
    points = PointLabels(np.array(["w", "w"], dtype=object), np.array([0, 19]), np.array([0, 29]), np.array([1, 2]))
    path = write_vector_points(points, TABLE, pairs, tmp_path / "points.gpkg")
    meta, _, geometry, _ = pyogrio.raw.read(path)
    assert meta["crs"] is None  # a world file names no CRS
    coordinates = shapely.get_coordinates(shapely.from_wkb(geometry)).tolist()
    assert coordinates == [[300_000.25, 2_799_999.75], [300_014.75, 2_799_990.25]]  # pixel centres, not pixel numbers
    back = read_vector_points(path, TABLE, pairs).points
    assert sorted(zip(back.rows.tolist(), back.cols.tolist())) == [(0, 0), (19, 29)]
    csv = tmp_path / "digitised.csv"  # in the CRS the user knows the world file is in
    csv.write_text("x,y,class\n300010.1,2799995.1,road\n")
    placed = read_vector_points(csv, TABLE, pairs, point_crs="EPSG:32640").points
    assert (placed.rows.tolist(), placed.cols.tolist()) == ([9], [20])
    rows = write_suggestions(points, np.zeros(2), pairs, TABLE.names, tmp_path / "next.csv").read_text().splitlines()
    assert rows[1] == "w,0,0,water,300000.25,2799999.75,0.0000"


def test_points_on_pixels_without_data_in_the_mask_alone_are_skipped(tmp_path):
    """The image has data everywhere; its mask raster has none in its left third, so a point there has no class to check."""
    profile = dict(driver="GTiff", width=30, height=20, crs="EPSG:32640", transform=from_origin(300_000, 2_800_000, 1, 1))
    with rasterio.open(tmp_path / "scene.tif", "w", count=3, dtype="uint8", **profile) as dst:
        dst.write(np.full((3, 20, 30), 9, np.uint8))
    with rasterio.open(tmp_path / "mask.tif", "w", count=3, dtype="uint8", nodata=0, **profile) as dst:
        colours = np.zeros((3, 20, 30), np.uint8)
        colours[:, :, 10:] = np.array((226, 169, 41), np.uint8)[:, None, None]  # water, right of column 10
        dst.write(colours)
    pair = ImagePair("scene", tmp_path / "scene.tif", tmp_path / "mask.tif", (20, 30))
    xs, ys = [300_005.5, 300_020.5, 300_009.5], [2_799_995.5, 2_799_995.5, 2_799_990.5]  # columns 5, 20 and 9
    imported = read_vector_points(write_features(tmp_path / "p.gpkg", xs, ys, ["water"] * 3, "EPSG:32640"), TABLE, [pair])
    assert imported.skipped["on pixels without data"] == 2
    assert imported.points.cols.tolist() == [20] and imported.points.rows.tolist() == [4]
