"""GeoTIFF in and out, and large-scene prediction in blended tiles."""

import numpy as np
import pytest
import rasterio
import torch
from PIL import Image
from rasterio.crs import CRS
from rasterio.transform import from_origin

from conftest import untrained_segmenter
from pointseg.classes import ClassTable
from pointseg.data.dataset import BandStats
from pointseg.data.raster import NODATA, is_raster, read_raster
from pointseg.errors import PointsegWarning
from pointseg.predict import Segmenter, TileOptions, predict_raster

UTM_40N = CRS.from_epsg(32640)  # Dubai
TRANSFORM = from_origin(300_000, 2_800_000, 0.5, 0.5)
TABLE = ClassTable.from_rows([("land", (132, 41, 246)), ("water", (226, 169, 41)), ("road", (110, 193, 228))])


@pytest.fixture
def scene(tmp_path):
    """A 3-band uint8 GeoTIFF, 150 x 170 pixels, with a block of nodata (all bands 0)."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(1, 256, (3, 150, 170), dtype=np.uint8)
    pixels[:, 100:130, 20:60] = 0
    path = tmp_path / "scene.tif"
    with rasterio.open(path, "w", driver="GTiff", width=170, height=150, count=3, dtype="uint8", crs=UTM_40N,
                       transform=TRANSFORM, nodata=0) as dst:  # fmt: skip
        dst.write(pixels)
    return path, pixels


@pytest.fixture
def segmenter():
    return untrained_segmenter()


def test_the_class_map_is_aligned_with_the_input_and_keeps_its_nodata(scene, segmenter, tmp_path):
    path, pixels = scene
    out = predict_raster(segmenter, path, tmp_path / "out/scene.tif", TileOptions(tile=64, overlap=16, probabilities=True))
    with rasterio.open(out) as result:
        assert (result.crs, result.transform, result.width, result.height) == (UTM_40N, TRANSFORM, 170, 150)
        assert result.count == 1 and result.dtypes[0] == "uint8" and result.nodata == NODATA
        assert [result.colormap(1)[i] for i in range(3)] == [(132, 41, 246, 255), (226, 169, 41, 255), (110, 193, 228, 255)]
        assert result.profile["tiled"] and result.profile["compress"] == "deflate"
        labels = result.read(1)
    nodata = (pixels == 0).all(axis=0)
    assert nodata.sum() == 30 * 40 and (labels[nodata] == NODATA).all() and (labels[~nodata] < 3).all()
    with rasterio.open(tmp_path / "out/scene_probabilities.tif") as probabilities:
        assert probabilities.count == 3 and probabilities.descriptions == ("land", "water", "road")
        scaled = probabilities.read().astype(int)
    assert (scaled[:, nodata] == NODATA).all()
    assert np.abs(scaled[:, ~nodata].sum(axis=0) - 254).max() <= 2  # probabilities x 254, each rounded
    assert (scaled[:, ~nodata].argmax(axis=0) == labels[~nodata]).mean() > 0.99  # ties may round apart


def test_tiled_prediction_matches_the_whole_scene_at_once_away_from_its_border(scene, segmenter, tmp_path):
    path, pixels = scene
    whole = segmenter.tile_probabilities(read_raster(path)[None])[0]  # its hole NaN
    progress = []
    options = TileOptions(tile=64, overlap=24, probabilities=True, panel=96)  # two panels of columns
    on_tiles = lambda done, total: progress.append((done, total))  # noqa: E731
    out = predict_raster(segmenter, path, tmp_path / "tiled.tif", options, on_tiles)
    # tile starts 0, 40, 80, 86 down the 150 rows and 0, 40, 80, 106 across the 170 columns; columns 0-95 take the
    # tiles at 0, 40, 80 and columns 96-169 those at 40, 80, 106: 4 rows x 6 tiles, one batch per panel and row
    assert progress == [(3 * k, 24) for k in range(1, 9)]
    with rasterio.open(out.with_name("tiled_probabilities.tif")) as result:
        tiled = result.read().astype(np.float32) / 254
    keep = ~(pixels == 0).all(axis=0)
    keep[:8], keep[-8:], keep[:, :8], keep[:, -8:] = False, False, False, False  # away from the scene's border
    difference = np.abs(tiled[:, keep] - whole[:, keep])
    # stored as probability x 254 rounded: half a step is 0.00197; the blending itself adds under 0.001 here
    assert difference.max() < 0.003


WORLD_FILE = "0.5\n0\n0\n-0.5\n300000.25\n2799999.75\n"  # TRANSFORM: 0.5 m pixels, the first one centred here


@pytest.mark.parametrize(
    "picture, sidecar",
    [("a.png", "a.pgw"), ("a.png", "a.pngw"), ("a.png", "a.wld"), ("a.jpg", "a.jgw"), ("a.jpeg", "a.jgw"),
     ("a.JPG", "a.JGW"), ("a.jpg", "a.jpgw")],
)  # fmt: skip
def test_a_picture_beside_a_world_file_is_a_raster_as_gdal_reads_it(tmp_path, picture, sidecar):
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(tmp_path / picture, format="PNG" if "png" in picture else "JPEG")
    assert not is_raster(tmp_path / picture)
    (tmp_path / sidecar).write_text(WORLD_FILE)
    assert is_raster(tmp_path / picture)
    with rasterio.open(tmp_path / picture) as source:  # GDAL finds the same file
        assert source.transform == TRANSFORM and source.crs is None


def test_a_picture_is_a_raster_when_its_aux_xml_holds_a_geotransform_not_only_statistics(tmp_path):
    assert is_raster("a/b.TIF") and is_raster("x.tiff") and not is_raster(tmp_path / "x.png")
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(tmp_path / "x.png")
    (tmp_path / "x.png.aux.xml").write_text("<PAMDataset><Metadata><MDI key='STATISTICS_MEAN'>0</MDI></Metadata></PAMDataset>")
    assert not is_raster(tmp_path / "x.png")
    (tmp_path / "x.png.aux.xml").unlink()
    with rasterio.open(tmp_path / "x.png", "r+") as source:  # GDAL keeps the georeference in x.png.aux.xml
        source.transform, source.crs = TRANSFORM, UTM_40N
    assert is_raster(tmp_path / "x.png")
    with rasterio.open(tmp_path / "x.png") as source:
        assert (source.transform, source.crs) == (TRANSFORM, UTM_40N)


def test_georeferenced_pictures_give_georeferenced_class_maps_with_a_plain_copys_classes(scene, segmenter, tmp_path, monkeypatch):
    from pointseg import predict as predict_module

    _, pixels = scene
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("plain", "world", "aux"):
        Image.fromarray(np.moveaxis(pixels, 0, -1)).save(folder / f"{name}.png")
    (folder / "world.pgw").write_text(WORLD_FILE)  # a transform, no CRS
    with rasterio.open(folder / "aux.png", "r+") as source:
        source.transform, source.crs = TRANSFORM, UTM_40N
    monkeypatch.setattr(predict_module.Segmenter, "from_checkpoint", classmethod(lambda cls, *a, **k: segmenter))
    written = list(predict_module.predict_folder("model.ckpt", folder, tmp_path / "out", "cpu", TileOptions(tile=64, overlap=8)))
    assert sorted(p.name for p in written) == ["aux.tif", "plain.png", "world.tif"]
    colours = np.asarray(Image.open(tmp_path / "out/plain.png"))
    plain = np.stack([(colours == colour).all(axis=-1) for colour in segmenter.classes.colours]).argmax(axis=0)
    for name, crs in (("world", None), ("aux", UTM_40N)):
        with rasterio.open(tmp_path / f"out/{name}.tif") as result:
            assert (result.transform, result.crs) == (TRANSFORM, crs)
            labels = result.read(1)
        assert np.array_equal(labels, plain)  # PNG pixels are the same through GDAL and Pillow


def test_a_folder_of_rasters_and_pictures_gives_class_maps_and_colour_masks(scene, segmenter, tmp_path, monkeypatch):
    from PIL import Image

    from pointseg import predict as predict_module

    path, pixels = scene
    folder = tmp_path / "in"
    folder.mkdir()
    path.rename(folder / "scene.tif")
    Image.fromarray(np.moveaxis(pixels, 0, -1)).save(folder / "photo.png")
    monkeypatch.setattr(predict_module.Segmenter, "from_checkpoint", classmethod(lambda cls, *a, **k: segmenter))
    progress = []
    options = TileOptions(tile=64, overlap=8)
    on_tiles = lambda done, total: progress.append((done, total))  # noqa: E731
    written = list(predict_module.predict_folder("model.ckpt", folder, tmp_path / "out", "cpu", options, on_tiles))
    assert sorted(p.name for p in written) == ["photo.png", "scene.tif"]
    assert progress[-1] == (9, 9)  # 150 x 170 in tiles of 64 with stride 56: 3 rows and 3 columns
    with rasterio.open(tmp_path / "out/scene.tif") as result:
        assert result.crs == UTM_40N
    assert Image.open(tmp_path / "out/photo.png").mode == "RGB"


def tiny_config(data, classes, out, **overrides):
    """A run of a few steps of a tiny U-Net on the multiband rasters."""
    from pointseg.config import TrainConfig

    options = dict(data=data, classes=classes, out=out, points="30", val_fraction=0.34, crop=32, batch_size=2, width=4,
                   depth=2, max_steps=2, accelerator="cpu", progress_bar=False)  # fmt: skip
    return TrainConfig(**(options | overrides))


def write_raster(path, array, transform=TRANSFORM, nodata=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    count, height, width = array.shape
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=count, dtype=array.dtype.name,
                       crs=UTM_40N, transform=transform, nodata=nodata) as dst:  # fmt: skip
        dst.write(array)
    return path


@pytest.fixture
def multiband(tmp_path):
    """Two 4-band uint16 reflectance rasters with nodata 0 and their index masks (0 land, 1 water, 2 road)."""
    rng = np.random.default_rng(1)
    for name in ("a", "b", "c"):
        labels = np.zeros((1, 64, 72), np.uint8)
        labels[0, :, 36:] = 1
        labels[0, 30:34] = 2
        reflectance = (1000 + 3000 * labels.astype(np.int64) + rng.integers(0, 500, labels.shape)).repeat(4, axis=0)
        reflectance = reflectance.astype(np.uint16)
        reflectance[:, :8, :8] = 0  # no data in one corner
        write_raster(tmp_path / "data/images" / f"{name}.tif", reflectance, nodata=0)
        write_raster(tmp_path / "data/masks" / f"{name}.tif", labels)
    (tmp_path / "classes.csv").write_text("name,value\nland,0\nwater,1\nroad,2\n")
    return tmp_path / "data", tmp_path / "classes.csv"


def test_a_four_band_uint16_raster_with_nodata_trains_and_predicts(multiband, tmp_path):
    from pointseg.data.discover import discover_pairs
    from pointseg.data.scenes import load_scenes
    from pointseg.training import train

    data, classes = multiband
    scenes = load_scenes(discover_pairs(data), ClassTable.read_csv(classes))
    assert scenes[0].image.dtype == np.uint16 and scenes[0].image.shape == (64, 72, 4)
    assert (scenes[0].mask[:8, :8] == -100).all() and (scenes[0].mask[8:] >= 0).all()  # nodata is ignored
    result = train(tiny_config(data, classes, tmp_path / "run", max_steps=3))
    assert result.metrics["pixels"] == 64 * 72 - 8 * 8  # the validation image's pixels with data
    segmenter = Segmenter.from_checkpoint(result.checkpoint, "cpu")
    out = predict_raster(segmenter, data / "images/a.tif", tmp_path / "a.tif", TileOptions(tile=32, overlap=8))
    with rasterio.open(out) as prediction:
        labels = prediction.read(1)
        assert prediction.crs == UTM_40N and prediction.nodata == NODATA
    assert (labels[:8, :8] == NODATA).all() and (labels[8:] < 3).all()


def write_mosaic(path, tiles, height, bands=3):
    """A GDAL virtual raster (.vrt) of ``tiles``, ``(name, first column, width)`` side by side on :data:`TRANSFORM`."""
    width = sum(w for _, _, w in tiles)
    sources = lambda band: "".join(  # noqa: E731
        f'<SimpleSource><SourceFilename relativeToVRT="1">{name}</SourceFilename><SourceBand>{band}</SourceBand>'
        f'<SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{height}"/><DstRect xOff="{col}" yOff="0" xSize="{w}" ySize="{height}"/>'
        "</SimpleSource>"
        for name, col, w in tiles
    )
    path.write_text(
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}"><SRS>EPSG:32640</SRS>'
        f"<GeoTransform>{', '.join(map(str, TRANSFORM.to_gdal()))}</GeoTransform>"
        + "".join(
            f'<VRTRasterBand dataType="Byte" band="{b}"><NoDataValue>0</NoDataValue>{sources(b)}</VRTRasterBand>'
            for b in range(1, bands + 1)
        )
        + "</VRTDataset>"
    )
    return path


def test_a_virtual_mosaic_of_tiles_and_a_jpeg_2000_predict_as_the_scene_they_hold(scene, segmenter, tmp_path):
    from affine import Affine

    from pointseg.data.discover import list_images
    from pointseg.data.raster import read_raster

    path, pixels = scene
    folder = tmp_path / "in"
    for name, columns in (("left", slice(0, 90)), ("right", slice(90, 170))):
        write_raster(folder / f"tiles/{name}.tif", pixels[:, :, columns], TRANSFORM * Affine.translation(columns.start, 0), 0)
    mosaic = write_mosaic(folder / "tiles/mosaic.vrt", [("left.tif", 0, 90), ("right.tif", 90, 80)], 150)
    with rasterio.open(folder / "scene.jp2", "w", driver="JP2OpenJPEG", width=170, height=150, count=3, dtype="uint8",
                       crs=UTM_40N, transform=TRANSFORM, nodata=0, QUALITY=100, REVERSIBLE="YES") as dst:  # fmt: skip
        dst.write(pixels)  # lossless
    holed = np.where((pixels == 0).all(axis=0), np.nan, pixels).astype(np.float32)  # nodata 0 in every band: no data
    assert np.array_equal(read_raster(mosaic), np.moveaxis(holed, 0, -1), equal_nan=True)
    assert np.array_equal(read_raster(folder / "scene.jp2"), np.moveaxis(holed, 0, -1), equal_nan=True)
    assert (folder / "scene.jp2") in list_images(folder / "scene.jp2") and is_raster(mosaic)
    options = TileOptions(tile=64, overlap=16)
    with rasterio.open(predict_raster(segmenter, path, tmp_path / "out/scene.tif", options)) as expected:
        labels = expected.read(1)
    for source in (mosaic, folder / "scene.jp2"):
        with rasterio.open(predict_raster(segmenter, source, tmp_path / f"out/{source.stem}.tif", options)) as result:
            assert (result.crs, result.transform) == (UTM_40N, TRANSFORM) and np.array_equal(result.read(1), labels)


def test_a_mosaic_found_beside_its_own_tiles_is_an_error_naming_them(scene, tmp_path):
    from pointseg.data.discover import discover_pairs, list_images
    from pointseg.errors import DatasetError

    _, pixels = scene
    images = tmp_path / "data/images"
    write_raster(images / "a.tif", pixels[:, :, :90], nodata=0)
    write_raster(images / "b.tif", pixels[:, :, 90:], nodata=0)
    (tmp_path / "data/masks").mkdir()
    for name in ("a", "b", "ab"):
        (tmp_path / f"data/masks/{name}.png").touch()
    write_mosaic(images / "ab.vrt", [("a.tif", 0, 90), ("b.tif", 90, 80)], 150)
    with pytest.raises(DatasetError, match=r"ab.vrt mosaics .*a.tif \(and 1 more\), which the search finds as images too"):
        list_images(tmp_path / "data")
    with pytest.raises(DatasetError, match=r"ab.vrt mosaics .*a.tif \(and 1 more\)"):
        discover_pairs(tmp_path / "data", masks_required=False)
    (images / "b.tif").rename(tmp_path / "b.tif")  # a tile outside the images: the mosaic's pixels count once
    write_mosaic(images / "ab.vrt", [("a.tif", 0, 90), ("../../b.tif", 90, 80)], 150)
    with pytest.raises(DatasetError, match=r"ab.vrt mosaics .*a.tif, which"):
        list_images(tmp_path / "data")


def test_a_missing_tile_or_a_truncated_raster_is_named_with_gdals_reason(scene, tmp_path):
    from pointseg.data.discover import list_images
    from pointseg.data.raster import read_raster
    from pointseg.errors import DatasetError

    path, pixels = scene
    write_raster(tmp_path / "tiles/left.tif", pixels[:, :, :90], nodata=0)
    (tmp_path / "in").mkdir()
    mosaic = write_mosaic(tmp_path / "in/mosaic.vrt", [("../tiles/left.tif", 0, 90), ("../tiles/right.tif", 90, 80)], 150)
    with pytest.raises(DatasetError, match=r"mosaic.vrt mosaics .*tiles/right.tif, which is not there") as info:
        list_images(tmp_path / "in")  # found with the images, before any training
    assert "gdalbuildvrt" in info.value.fix
    with pytest.raises(DatasetError, match=r"cannot read the pixels of .*mosaic.vrt: .*right.tif: No such file"):
        read_raster(mosaic)
    (tmp_path / "cut.tif").write_bytes(path.read_bytes()[:20_000])  # the header and part of the pixels
    with pytest.raises(DatasetError, match=r"cannot read the pixels of .*cut.tif: .*cut.tif, band 1: IReadBlock failed") as info:
        read_raster(tmp_path / "cut.tif")
    assert "truncated" in info.value.fix


def test_a_truncated_validation_raster_stops_the_run_before_it_trains(multiband, tmp_path):
    import shutil

    from pointseg.errors import DatasetError
    from pointseg.training import train

    data, classes = multiband
    val = shutil.copytree(data, tmp_path / "val")
    with rasterio.open(val / "images/b.tif") as source:
        pixels = source.read()
    write_raster(val / "images/b.tif", pixels)  # no nodata: nothing reads its pixels while the data is loaded
    (val / "images/b.tif").write_bytes((val / "images/b.tif").read_bytes()[:20_000])
    with pytest.raises(DatasetError, match=r"cannot read the pixels of .*val/images/b.tif"):
        train(tiny_config(data, classes, tmp_path / "run", val_data=val, max_steps=2))
    assert not (tmp_path / "run").exists()  # nothing trained, nothing written


def test_an_alpha_band_is_the_rasters_mask_not_one_of_its_bands(scene, segmenter, tmp_path):
    from pointseg.data.raster import RasterPixels, nodata_mask, read_raster

    path, pixels = scene
    alpha = np.where((pixels == 0).all(axis=0), 0, 255).astype(np.uint8)  # the scene's nodata block, transparent
    rgba = tmp_path / "rgba.tif"
    with rasterio.open(rgba, "w", driver="GTiff", width=170, height=150, count=4, dtype="uint8", crs=UTM_40N,
                       transform=TRANSFORM, photometric="RGB", alpha="YES") as dst:  # fmt: skip
        dst.write(np.concatenate([pixels, alpha[None]]))
    holed = np.where(alpha == 0, np.nan, pixels).astype(np.float32)  # transparent: no data in any band
    assert np.array_equal(read_raster(rgba), np.moveaxis(holed, 0, -1), equal_nan=True)
    assert RasterPixels(rgba).shape == (150, 170, 3) and RasterPixels(rgba)[10:12, 0:5].shape == (2, 5, 3)
    assert np.array_equal(nodata_mask(rgba), alpha == 0)
    with_alpha = predict_raster(segmenter, rgba, tmp_path / "out/rgba.tif")  # a three-band model takes it
    with rasterio.open(with_alpha) as a, rasterio.open(predict_raster(segmenter, path, tmp_path / "out/rgb.tif")) as b:
        assert np.array_equal(a.read(), b.read())  # as the RGB scene with nodata 0


def test_a_fourth_band_flagged_as_alpha_is_named_when_the_bands_do_not_fit(segmenter, tmp_path):
    from pointseg.errors import DatasetError

    path = tmp_path / "rgbn.tif"  # GDAL flags band 4 of a 4-band byte GeoTIFF as alpha by default
    with rasterio.open(path, "w", driver="GTiff", width=8, height=8, count=4, dtype="uint8") as dst:
        dst.write(np.full((4, 8, 8), 100, np.uint8))
    segmenter.module.band_stats = BandStats((128.0,) * 4, (64.0,) * 4)  # a model of four bands
    with pytest.raises(DatasetError, match=r"rgbn.tif has 3 bands \(band 4 of 4 is flagged as alpha, .*colorinterp_4 undefined"):
        predict_raster(segmenter, path, tmp_path / "out.tif")
    from pointseg.data.raster import RasterPixels

    with pytest.raises(DatasetError, match=r"--bands 4,3,2: the images have bands 1 to 3 \(band 4 of 4 is flagged as alpha"):
        BandStats.compute([RasterPixels(path)], bands=[4, 3, 2])  # training


def test_a_complex_raster_is_refused_not_cast_to_its_real_part(tmp_path):
    from pointseg.data.raster import RasterPixels
    from pointseg.errors import DatasetError

    path = write_raster(tmp_path / "slc.tif", np.full((1, 8, 8), 3 + 4j, np.complex64))
    with pytest.raises(DatasetError, match=r"slc.tif holds complex values \(complex64") as info:
        RasterPixels(path)
    assert "amplitude" in info.value.fix


def test_a_one_band_raster_with_a_colour_table_is_read_as_its_colours(tmp_path):
    from pointseg.data.raster import read_raster

    indexes = np.array([[[0, 1, 2], [2, 2, 0]]], np.uint8)
    path = tmp_path / "palette.tif"
    with rasterio.open(path, "w", driver="GTiff", width=3, height=2, count=1, dtype="uint8", photometric="palette") as dst:
        dst.write(indexes)
        dst.write_colormap(1, {0: (10, 20, 30, 255), 1: (40, 50, 60, 255), 2: (70, 80, 90, 255)})
    expected = np.array([[[10, 20, 30], [40, 50, 60], [70, 80, 90]], [[70, 80, 90], [70, 80, 90], [10, 20, 30]]])
    assert np.array_equal(read_raster(path), expected)


@pytest.mark.parametrize("nodata", [np.nan, -9999.0])
def test_a_hole_in_a_raster_is_predicted_as_if_it_held_the_bands_mean(segmenter, tmp_path, nodata):
    rng = np.random.default_rng(2)
    pixels = rng.uniform(0, 255, (3, 60, 70)).astype(np.float32)
    pixels[:, 20:30, 30:45] = 128.0  # the untrained model's band means: normalised to 0
    filled = predict_raster(segmenter, write_raster(tmp_path / "filled.tif", pixels), tmp_path / "out/filled.tif",
                            TileOptions(tile=32, overlap=8, probabilities=True))  # fmt: skip
    pixels[:, 20:30, 30:45] = nodata
    holed = predict_raster(segmenter, write_raster(tmp_path / "holed.tif", pixels, nodata=nodata), tmp_path / "out/holed.tif",
                           TileOptions(tile=32, overlap=8, probabilities=True))  # fmt: skip
    hole = np.zeros((60, 70), bool)
    hole[20:30, 30:45] = True
    for one, other in (
        (filled, holed),
        (filled.with_name("filled_probabilities.tif"), holed.with_name("holed_probabilities.tif")),
    ):
        with rasterio.open(one) as a, rasterio.open(other) as b:
            expected, got = a.read(), b.read()
        assert (got[:, hole] == NODATA).all() and np.array_equal(got[:, ~hole], expected[:, ~hole])  # the hole's rim too


def test_a_hole_in_one_band_alone_is_that_bands_mean_and_no_hole_of_the_pixel(segmenter, tmp_path):
    from pointseg.data.imagery import read_image

    rng = np.random.default_rng(3)
    pixels = rng.uniform(0, 255, (3, 60, 70)).astype(np.float32)
    pixels[1, :, :4] = 128.0  # the untrained model's mean of band 2: normalised to 0
    options = TileOptions(tile=32, overlap=8, probabilities=True)
    filled = predict_raster(segmenter, write_raster(tmp_path / "filled.tif", pixels), tmp_path / "out/filled.tif", options)
    pixels[1, :, :4] = -9999.0  # band 2 missing at the swath's edge, bands 1 and 3 there
    holed_path = write_raster(tmp_path / "holed.tif", pixels, nodata=-9999.0)
    image = read_image(holed_path)
    assert np.isnan(image[:, :4, 1]).all() and not np.isnan(image[..., [0, 2]]).any() and not np.isnan(image[:, 4:]).any()
    holed = predict_raster(segmenter, holed_path, tmp_path / "out/holed.tif", options)
    for one, other in (
        (filled, holed),
        (filled.with_name("filled_probabilities.tif"), holed.with_name("holed_probabilities.tif")),
    ):
        with rasterio.open(one) as a, rasterio.open(other) as b:
            assert np.array_equal(a.read(), b.read())  # the raw -9999 reaches no pixel, and the pixels keep a class
    dark = np.full((3, 4, 4), 100, np.uint8)
    dark[0, 0, 0] = 0  # an orthophoto's dark water, nodata 0: one band at 0 is data, as GDAL reads it
    dark[:, 3, 3] = 0  # every band at 0: no data
    read = read_image(write_raster(tmp_path / "dark.tif", dark, nodata=0))
    assert read[0, 0].tolist() == [0, 100, 100] and np.isnan(read[3, 3]).all()
    pixels[:, 10:20, 30:40] = -9999.0  # a hole in every band: no class, in the Python API too
    labels = segmenter.predict(read_image(write_raster(tmp_path / "both.tif", pixels, nodata=-9999.0)))
    assert (labels[10:20, 30:40] == -100).all() and (np.delete(labels, np.s_[10:20], axis=0) >= 0).all()


def test_a_float_raster_with_nan_nodata_trains_with_finite_losses(multiband, tmp_path):
    from pointseg.training import train

    data, classes = multiband
    for name in ("a", "b", "c"):
        with rasterio.open(data / "images" / f"{name}.tif") as source:
            reflectance = source.read().astype(np.float32)
        reflectance[:, :8, :8] = np.nan
        write_raster(data / "images" / f"{name}.tif", reflectance, nodata=np.nan)
    result = train(tiny_config(data, classes, tmp_path / "run", max_steps=4, batch_size=3))
    assert np.isfinite(result.metrics["loss"]) and result.metrics["pixels"] == 64 * 72 - 8 * 8
    logged = (tmp_path / "run/metrics.csv").read_text()
    assert "nan" not in logged.lower()


def test_a_mask_off_the_grid_of_its_image_is_an_error(multiband):
    from pointseg.data.discover import discover_pairs
    from pointseg.data.scenes import load_scenes
    from pointseg.errors import DatasetError

    data, classes = multiband
    write_raster(data / "masks/b.tif", np.zeros((1, 64, 72), np.uint8), transform=from_origin(300_010, 2_800_000, 0.5, 0.5))
    with pytest.raises(DatasetError, match=r"b.tif is not on the grid of its image .*b.tif: transform"):
        load_scenes(discover_pairs(data), ClassTable.read_csv(classes))


def test_masks_on_the_image_grid_up_to_rounding_or_without_georeference_are_accepted(multiband):
    from affine import Affine

    from pointseg.data.discover import discover_pairs
    from pointseg.data.scenes import load_scenes
    from pointseg.errors import DatasetError

    data, classes = multiband
    write_raster(data / "masks/b.tif", np.ones((1, 64, 72), np.uint8), transform=TRANSFORM * Affine.translation(1e-9, 0))
    with rasterio.open(data / "masks/c.tif", "w", driver="GTiff", width=72, height=64, count=1, dtype="uint8") as plain:
        plain.write(np.full((1, 64, 72), 2, np.uint8))  # no CRS, no transform: matched by size, as a PNG is
    Image.fromarray(np.full((64, 72), 1, np.uint8)).save(data / "masks/a.png")  # a world file, no CRS: by its transform
    (data / "masks/a.tif").unlink()
    (data / "masks/a.pgw").write_text(WORLD_FILE)
    scenes = {scene.key: scene for scene in load_scenes(discover_pairs(data), ClassTable.read_csv(classes))}
    assert (scenes["a"].mask[8:] == 1).all() and (scenes["b"].mask[8:] == 1).all() and (scenes["c"].mask[8:] == 2).all()
    (data / "masks/a.pgw").write_text(WORLD_FILE.replace("300000.25", "300001.25"))  # a metre off
    with pytest.raises(DatasetError, match=r"a.png is not on the grid of its image .*a.tif: transform"):
        load_scenes(discover_pairs(data), ClassTable.read_csv(classes))


def test_an_index_mask_of_several_bands_is_an_error(multiband):
    from pointseg.data.discover import discover_pairs
    from pointseg.data.scenes import load_scenes
    from pointseg.errors import DatasetError

    data, classes = multiband
    write_raster(data / "masks/b.tif", np.zeros((3, 64, 72), np.uint8))  # an RGB mask for a name,value table
    with pytest.raises(DatasetError, match=r"b.tif has 3 bands, but the classes table gives values"):
        load_scenes(discover_pairs(data), ClassTable.read_csv(classes))


def test_a_masks_own_nodata_is_ignored_neither_a_class_nor_an_unknown_value(multiband):
    import warnings

    from pointseg.data.discover import discover_pairs
    from pointseg.data.scenes import load_scenes

    data, classes = multiband
    with rasterio.open(data / "masks/b.tif") as source:
        labels = source.read()
    outside = labels.copy()
    outside[:, :, :45] = 9  # a footprint's outside, 62 % of the mask, in no class but declared as nodata
    write_raster(data / "masks/b.tif", outside, nodata=9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no pixel reported in no class
        scenes = {scene.key: scene for scene in load_scenes(discover_pairs(data), ClassTable.read_csv(classes))}
    assert (scenes["b"].mask[:, :45] == -100).all() and (scenes["b"].mask[8:, 45:] == labels[0, 8:, 45:]).all()
    write_raster(data / "masks/c.tif", labels, nodata=0)  # as QGIS's Rasterize declares it, on the value of land
    with pytest.warns(PointsegWarning, match=r"1 mask\(s\) declare as nodata the value of the class 'land', e.g. .*c.tif"):
        scenes = {scene.key: scene for scene in load_scenes(discover_pairs(data), ClassTable.read_csv(classes))}
    assert np.array_equal(scenes["c"].mask[8:], labels[0, 8:])  # the table knows better: land stays land


def test_colour_masks_with_nodata_outside_the_colours_and_float_masks_past_any_value_decode():
    import warnings

    from pointseg.data.masks import UnknownSummary

    table = ClassTable.from_rows([("land", (132, 41, 246)), ("water", (226, 169, 41))])
    colours = np.array([[[132, 41, 246], [np.nan, np.nan, np.nan], [-1, -1, -1]]])  # NaN and a declared -1: no data
    labels = table.decode(colours, empty=np.array([[False, False, True]])).labels
    assert labels.tolist() == [[0, -100, -100]]
    values = ClassTable.from_rows([("a", 1), ("b", 2)])
    summary = UnknownSummary()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no cast warning
        decoded = summary.decode(values, np.array([[1.0, -3.4e38, 2.0]], np.float32), "m.tif")
    assert decoded.tolist() == [[0, -100, 1]] and list(summary.unknown) == [pytest.approx(-3.4e38)]


def test_nan_in_every_band_of_a_float_raster_is_no_data_even_undeclared(multiband, segmenter, tmp_path):
    from pointseg.data.discover import discover_pairs
    from pointseg.data.scenes import load_scenes

    data, classes = multiband
    with rasterio.open(data / "images/a.tif") as source:
        reflectance = source.read().astype(np.float32)
    reflectance[:, :, 60:] = np.nan  # a swath's edge, no nodata declared
    reflectance[1, 20, 10] = np.nan  # one band missing: the pixel still has data
    write_raster(data / "images/a.tif", reflectance)
    scene = {s.key: s for s in load_scenes(discover_pairs(data), ClassTable.read_csv(classes))}["a"]
    assert (scene.mask[:, 60:] == -100).all() and scene.mask[20, 10] >= 0 and (scene.mask[:, :60] >= 0).all()
    assert scene.nodata is not None and scene.nodata.sum() == 64 * 12
    rgb = reflectance[:3]
    write_raster(tmp_path / "rgb.tif", rgb)
    with rasterio.open(predict_raster(segmenter, tmp_path / "rgb.tif", tmp_path / "out.tif")) as prediction:
        labels = prediction.read(1)
    assert (labels[:, 60:] == NODATA).all() and (labels[:, :60] < 3).all()


def test_the_nodata_map_of_a_float_raster_read_in_strips_is_that_of_the_whole(tmp_path):
    from pointseg.data.raster import STRIP_ROWS, nodata_mask

    pixels = np.random.default_rng(4).uniform(0, 1, (2, 2 * STRIP_ROWS + 40, 12)).astype(np.float32)
    pixels[:, STRIP_ROWS - 5 : STRIP_ROWS + 5, 2:6] = np.nan  # across the first strips' border
    pixels[0, -1, 0] = np.nan  # one band only: data
    path = write_raster(tmp_path / "f.tif", pixels)
    assert np.array_equal(nodata_mask(path), np.isnan(pixels).all(axis=0)) and nodata_mask(path).sum() == 40


def test_a_float_index_mask_keeps_whole_values_reports_others_and_ignores_nan(multiband):
    from pointseg.data.discover import discover_pairs
    from pointseg.data.masks import UnknownLabelsWarning
    from pointseg.data.scenes import load_scenes

    data, classes = multiband
    with rasterio.open(data / "masks/b.tif") as source:
        labels = source.read().astype(np.float32)
    labels[0, 40:42] = 1.5  # resampled bilinearly across a boundary: in no class
    labels[0, 50:] = np.nan  # no data, undeclared
    write_raster(data / "masks/b.tif", labels)
    with pytest.warns(UnknownLabelsWarning, match=r"value 1\.5 ") as caught:
        scene = {s.key: s for s in load_scenes(discover_pairs(data), ClassTable.read_csv(classes))}["b"]
    assert "nan" not in str(caught[0].message).lower()
    assert (scene.mask[40:42] == -100).all() and (scene.mask[50:] == -100).all()
    assert np.array_equal(scene.mask[8:40], labels[0, 8:40].astype(np.int16))


def test_points_of_a_points_file_on_pixels_without_data_are_left_out(multiband, tmp_path):
    from pointseg.training import train

    data, classes = multiband
    points = tmp_path / "points.csv"
    points.write_text("image,row,col,class\na,2,3,land\na,20,10,land\nb,5,5,land\nb,40,50,water\n")  # 2 in the corners
    config = tiny_config(data, classes, tmp_path / "run", points_file=points, val_data=data)
    with pytest.warns(PointsegWarning, match=r"2 of the 4 points of .*points.csv lie on pixels without data: not trained on"):
        result = train(config)
    assert sorted(zip(result.data.points.keys, result.data.points.rows)) == [("a", 20), ("b", 40)]


def test_points_exported_for_qgis_train_a_model_as_real_annotations(multiband, tmp_path, capsys):
    from pointseg.cli import main

    def run(argv):
        with pytest.raises(SystemExit) as info:
            main(argv)
        return info.value.code, capsys.readouterr().out

    data, classes = multiband
    vector = tmp_path / "points.gpkg"
    code, out = run(["points", "--data", str(data), "--classes", str(classes), "--points", "25",
                     "--out", str(tmp_path / "pts"), "--vector", str(vector)])  # fmt: skip
    assert code == 0 and "as features:" in out
    code, _ = run(["train", "--data", str(data), "--classes", str(classes), "--out", str(tmp_path / "run"),
                   "--point-labels", str(vector), "--val-fraction", "0.34", "--crop", "32", "--width", "4", "--depth", "2",
                   "--max-steps", "2", "--accelerator", "cpu", "--no-progress-bar"])  # fmt: skip
    assert code == 0
    trained_on = (tmp_path / "run/points.csv").read_text().splitlines()
    simulated = (tmp_path / "pts/points.csv").read_text().splitlines()
    assert set(trained_on[1:]) < set(simulated[1:]) and len(trained_on) - 1 == 2 * 25  # the two training images' points


def test_selected_bands_and_statistics_without_nodata_reach_the_checkpoint_and_prediction(multiband, tmp_path):
    from pointseg.training import train

    data, classes = multiband
    result = train(tiny_config(data, classes, tmp_path / "run", bands="3,1"))
    stats = Segmenter.from_checkpoint(result.checkpoint, "cpu").band_stats
    assert stats.bands == (3, 1) and stats.input_bands == 2
    with_data = [np.asarray(s.image)[s.mask != -100] for s in result.data.train_scenes]  # the nodata corner left out
    expected = np.concatenate(with_data)[:, 2].astype(np.float64).mean()
    assert stats.mean[0] == pytest.approx(expected) and expected > 1000  # the zeros of nodata would pull it down
    segmenter = Segmenter.from_checkpoint(result.checkpoint, "cpu")
    out = predict_raster(segmenter, data / "images/a.tif", tmp_path / "a.tif", TileOptions(tile=32, overlap=8))
    with rasterio.open(out) as prediction:
        assert prediction.read(1)[:8, :8].tolist() == [[NODATA] * 8] * 8


def test_percentile_normalisation_of_uint16_bands_reaches_the_checkpoint(multiband, tmp_path):
    from pointseg.training import train

    data, classes = multiband
    result = train(tiny_config(data, classes, tmp_path / "run", max_steps=1, normalisation="percentiles"))
    stats = Segmenter.from_checkpoint(result.checkpoint, "cpu").band_stats
    with_data = np.concatenate([np.asarray(s.image)[s.mask != -100] for s in result.data.train_scenes]).astype(np.float64)
    assert stats.low == pytest.approx(tuple(np.percentile(with_data, 2, axis=0)))
    assert stats.high == pytest.approx(tuple(np.percentile(with_data, 98, axis=0)))


def test_real_points_train_without_any_dense_mask_and_validate_on_held_out_points(multiband, tmp_path):
    import shutil

    from pointseg.data.discover import discover_pairs
    from pointseg.data.points import PointLabels
    from pointseg.data.vector import write_vector_points
    from pointseg.training import train

    data, classes = multiband
    pairs = discover_pairs(data)
    rows, cols = np.array([20, 40, 50, 10, 12, 60, 61]), np.array([10, 50, 31, 40, 41, 5, 70])
    keys = np.array(["a", "a", "b", "b", "c", "c", "c"], dtype=object)
    truth = np.array([0, 1, 2, 1, 1, 0, 1])  # left half land, right half water, rows 30-33 road
    write_vector_points(PointLabels(keys, rows, cols, truth), ClassTable.read_csv(classes), pairs, tmp_path / "field.gpkg")
    shutil.rmtree(data / "masks")  # annotations only: no dense mask anywhere
    config = tiny_config(data, classes, tmp_path / "run", point_labels=tmp_path / "field.gpkg")
    with pytest.warns(PointsegWarning, match="lie on validation images: not trained on"):
        result = train(config)
    (val_key,) = [s.key for s in result.data.val_scenes]
    assert result.metrics["pixels"] == int((keys == val_key).sum())  # scored on its held-out points only
    assert len(result.data.points) == int((keys != val_key).sum())
    # the same points as pointseg's CSV (suggestions appended to a run's points.csv) need no mask either
    PointLabels(keys, rows, cols, truth).write_csv(tmp_path / "field.csv", ClassTable.read_csv(classes))
    config = tiny_config(data, classes, tmp_path / "run-csv", points_file=tmp_path / "field.csv")
    with pytest.warns(PointsegWarning, match="lie on validation images: not trained on"):
        again = train(config)
    assert again.metrics["pixels"] == result.metrics["pixels"] and len(again.data.points) == len(result.data.points)


def test_a_raster_trains_from_windows_read_on_demand_exactly_as_from_memory(tmp_path):
    import pickle

    from pointseg.data.dataset import RandomCropDataset, Scene
    from pointseg.data.raster import RasterPixels

    pixels = np.random.default_rng(3).integers(0, 4000, (4, 2100, 40), dtype=np.uint16)  # read in 3 strips of 1,024 rows
    path = tmp_path / "scene.tif"
    write_raster(path, pixels)
    array = np.moveaxis(pixels, 0, -1)
    lazy = RasterPixels(path)
    assert lazy.shape == (2100, 40, 4) and lazy.dtype == np.uint16
    assert np.array_equal(lazy[10:42, 5:37], array[10:42, 5:37]) and np.array_equal(np.asarray(lazy), array)
    assert np.array_equal(pickle.loads(pickle.dumps(lazy))[2090:3000, 30:], array[2090:, 30:])  # for loader workers
    assert [(row, valid) for row, _, valid in lazy.strips()] == [(0, None), (1024, None), (2048, None)]  # data everywhere

    keep = array[..., 0] > 1000
    for method in ("mean-std", "percentiles"):
        from_disk = BandStats.compute([lazy], bands=[4, 2], valid=[keep], method=method)
        in_memory = BandStats.compute([array], bands=[4, 2], valid=[keep], method=method)
        assert from_disk.mean == pytest.approx(in_memory.mean) and from_disk.std == pytest.approx(in_memory.std)
    assert from_disk.low == pytest.approx(tuple(np.percentile(array[keep][:, [3, 1]], 2, axis=0)))

    holes = pixels.copy()
    holes[:, 100:1500, :10] = 0  # nodata across the first two strips: left out of the statistics, masks or not
    write_raster(tmp_path / "holes.tif", holes, nodata=0)
    with_data = np.moveaxis(holes, 0, -1)[(holes != 0).any(axis=0)].astype(np.float64)  # an integer band's own 0 is data
    assert BandStats.compute([RasterPixels(tmp_path / "holes.tif")]).mean == pytest.approx(tuple(with_data.mean(axis=0)))

    labels = np.zeros((2100, 40), np.int16)
    stats = BandStats.compute([array])
    crops = [RandomCropDataset([Scene("s", image, labels=labels)], stats, crop=32, seed=5) for image in (lazy, array)]
    assert len(crops[0]) == 83  # ceil(2100 x 40 / 32^2)
    for i in range(len(crops[0])):
        assert torch.equal(crops[0][i]["image"], crops[1][i]["image"])


@pytest.mark.parametrize(
    ("layout", "out", "message"),
    [
        (["a.tif"], "images", "is inside --input"),  # --out the input folder itself
        (["a.png", "a.jpg"], "pred", "would both be predicted to"),
        (["a.tif", "a.tiff"], "pred", "would both be predicted to"),
    ],
)
def test_predictions_never_overwrite_an_input_or_each_other(tmp_path, layout, out, message):
    from pointseg.errors import ConfigError
    from pointseg.predict import predict_folder

    images = tmp_path / "images"
    for name in layout:
        if name.endswith((".tif", ".tiff")):
            write_raster(images / name, np.ones((3, 8, 8), np.uint8))
        else:
            images.mkdir(exist_ok=True)
            Image.fromarray(np.ones((8, 8, 3), np.uint8)).save(images / name)
    before = {path: path.read_bytes() for path in images.iterdir()}
    with pytest.raises(ConfigError, match=message):  # refused before the checkpoint is even read
        list(predict_folder(tmp_path / "no.ckpt", images, tmp_path / out))
    assert {path: path.read_bytes() for path in images.iterdir()} == before


def test_a_single_picture_predicted_into_its_own_folder_is_refused(tmp_path):
    from pointseg.errors import ConfigError
    from pointseg.predict import predict_folder

    Image.fromarray(np.ones((8, 8, 3), np.uint8)).save(tmp_path / "a.png")
    with pytest.raises(ConfigError, match=r"would overwrite the input .*a.png"):
        list(predict_folder(tmp_path / "no.ckpt", tmp_path / "a.png", tmp_path))
    Image.fromarray(np.ones((8, 8, 3), np.uint8)).save(tmp_path / "b.jpg")  # b.png beside it: another picture of the user's
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "b.png")
    with pytest.raises(ConfigError, match=r"--out .* is the folder of --input .*b.jpg") as info:
        list(predict_folder(tmp_path / "no.ckpt", tmp_path / "b.jpg", tmp_path))
    assert info.value.fix == "give an --out folder of its own" and np.asarray(Image.open(tmp_path / "b.png")).max() == 0


@pytest.mark.parametrize(("values", "dtype", "nodata"), [((10, 20, 30), "uint8", 255), ((0, 300, 5), "uint16", 65535)])
def test_a_value_tables_class_map_holds_its_values(scene, tmp_path, values, dtype, nodata):
    path, pixels = scene
    table = ClassTable.from_rows(list(zip(("tree", "water", "built"), values)))
    by_index = predict_raster(untrained_segmenter(), path, tmp_path / "index.tif")
    by_value = predict_raster(untrained_segmenter(classes=table), path, tmp_path / "value.tif")
    with rasterio.open(by_index) as a, rasterio.open(by_value) as b:
        indices, coded = a.read(1), b.read(1)
        assert (b.dtypes[0], b.nodata) == (dtype, nodata)
        assert b.colormap(1)[values[1]] == (*table.colours[1], 255)
    hole = indices == NODATA
    assert (coded[hole] == nodata).all() and np.array_equal(coded[~hole], np.array(values)[indices[~hole]])


def test_a_class_map_of_a_raster_georeferenced_by_control_points_keeps_them(tmp_path):
    from rasterio.control import GroundControlPoint

    gcps = [GroundControlPoint(row, col, 300_000 + col, 2_800_000 - row) for row, col in ((0, 0), (0, 40), (30, 0), (30, 40))]
    path = tmp_path / "level1.tif"
    with rasterio.open(path, "w", driver="GTiff", width=40, height=30, count=3, dtype="uint8", gcps=gcps, crs=UTM_40N) as dst:
        dst.write(np.full((3, 30, 40), 100, np.uint8))
    out = predict_raster(untrained_segmenter(), path, tmp_path / "out/level1.tif", TileOptions(probabilities=True))
    for written in (out, out.with_name("level1_probabilities.tif")):
        with rasterio.open(written) as result:
            kept, crs = result.gcps
            assert crs == UTM_40N and [(p.row, p.col, p.x, p.y) for p in kept] == [(p.row, p.col, p.x, p.y) for p in gcps]


def test_a_tiff_without_georeference_gives_a_class_map_without_one_unwarned(segmenter, tmp_path):
    import warnings

    path = tmp_path / "plain.tif"
    with rasterio.open(path, "w", driver="GTiff", width=8, height=8, count=3, dtype="uint8") as dst:
        dst.write(np.full((3, 8, 8), 100, np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = predict_raster(segmenter, path, tmp_path / "out/plain.tif")
    with rasterio.open(out) as result:
        assert result.crs is None and result.transform.is_identity and (result.read(1) < 3).all()


def test_a_prediction_without_probabilities_removes_an_earlier_ones(scene, segmenter, tmp_path):
    path, _ = scene
    predict_raster(segmenter, path, tmp_path / "scene.tif", TileOptions(probabilities=True))
    assert (tmp_path / "scene_probabilities.tif").is_file()
    predict_raster(segmenter, path, tmp_path / "scene.tif")  # another model, say: the old probabilities are not its
    assert (tmp_path / "scene.tif").is_file() and not (tmp_path / "scene_probabilities.tif").exists()
    write_raster(tmp_path / "scene_probabilities.tif", np.zeros((1, 4, 4), np.uint8))  # a file of the user's, not ours
    predict_raster(segmenter, path, tmp_path / "scene.tif")
    assert (tmp_path / "scene_probabilities.tif").is_file()


@pytest.mark.parametrize(("options", "message"), [(["--tile", "0"], "--tile 0"), (["--overlap", "512"], "--overlap 512"),
                                                  (["--batch", "0"], "--batch 0")])  # fmt: skip
def test_tile_options_out_of_range_are_an_error_with_a_fix(tmp_path, capsys, options, message):
    from pointseg.cli import main

    with pytest.raises(SystemExit) as info:
        main(["predict", "--checkpoint", str(tmp_path / "no.ckpt"), "--input", str(tmp_path), "--out", str(tmp_path / "o"),
              *options])  # fmt: skip
    err = capsys.readouterr().err
    assert info.value.code == 2 and message in err and "fix:" in err and "Traceback" not in err


def test_a_prediction_that_fails_halfway_leaves_the_earlier_one_whole(scene, segmenter, tmp_path, monkeypatch):
    path, _ = scene
    options = TileOptions(tile=64, overlap=16, probabilities=True)
    predict_raster(segmenter, path, tmp_path / "out/scene.tif", options)
    before = {file.name: file.read_bytes() for file in (tmp_path / "out").iterdir()}
    assert sorted(before) == ["scene.tif", "scene_probabilities.tif"]
    calls = []

    def failing(tiles):
        calls.append(len(tiles))
        if len(calls) == 2:
            raise RuntimeError("interrupted")
        return segmenter.__class__.tile_probabilities(segmenter, tiles)

    monkeypatch.setattr(segmenter, "tile_probabilities", failing)
    with pytest.raises(RuntimeError, match="interrupted"):
        predict_raster(segmenter, path, tmp_path / "out/scene.tif", options)
    assert len(calls) == 2 and {file.name: file.read_bytes() for file in (tmp_path / "out").iterdir()} == before


def test_an_output_that_cannot_be_written_is_named_not_the_input(scene, segmenter, tmp_path):
    from pointseg.errors import DatasetError

    path, _ = scene
    (tmp_path / "taken.tif").mkdir()  # a folder where the class map should go
    with pytest.raises(DatasetError, match=r"cannot write .*taken.tif") as info:
        predict_raster(segmenter, path, tmp_path / "taken.tif", TileOptions(tile=64, overlap=16))
    assert "cannot read" not in str(info.value) and "writable" in info.value.fix
    assert [file.name for file in tmp_path.iterdir() if file.name != "scene.tif"] == ["taken.tif"]  # nothing half-written


def test_a_large_image_is_suggested_from_blended_tiles_that_match_the_whole(segmenter, monkeypatch):
    from pointseg import predict

    image = np.random.default_rng(3).integers(0, 256, (600, 700, 3), dtype=np.uint8)
    whole, (whole_p, whole_f) = segmenter.probabilities(image).numpy(), segmenter.features(image)
    monkeypatch.setattr(predict, "WHOLE_PIXELS", 512 * 512)  # 600 x 700: four tiles of 512, overlapping by 64 and more
    calls = []
    original = segmenter.tile_probabilities
    monkeypatch.setattr(segmenter, "tile_probabilities", lambda tiles: calls.append(tiles.shape) or original(tiles))
    tiled, (tiled_p, tiled_f) = segmenter.probabilities(image).numpy(), segmenter.features(image)
    assert calls == [(2, 512, 512, 3), (2, 512, 512, 3)]  # two rows of two tiles in one panel, no whole image
    assert np.abs(tiled.sum(axis=0) - 1).max() < 1e-5  # every pixel covered
    assert tiled_f.shape == whole_f.shape == (segmenter.module.model.head.in_channels, 600, 700)
    assert np.abs(tiled - whole).max() < 1e-3 and np.abs(tiled_p - whole_p).max() < 1e-3  # measured: 2e-5
    assert np.abs(tiled_f - whole_f).max() < 0.01 * np.abs(whole_f).max()


def test_a_raster_read_in_strips_leaves_the_warning_filters_alone_between_strips(multiband):
    import warnings

    from pointseg.data.raster import RasterPixels

    data, _ = multiband
    before = list(warnings.filters)
    strips = RasterPixels(data / "images/a.tif").strips(rows=8)
    row, pixels, valid = next(strips)  # the file stays open while the caller works between strips
    assert (row, pixels.shape, valid[:8, :8].any()) == (0, (8, 72, 4), False) and warnings.filters == before
    strips.close()
