import csv
from types import SimpleNamespace

import numpy as np
import pyogrio
import pytest
import torch
from PIL import Image

from conftest import FixedModel, halves, untrained_segmenter
from pointseg.classes import ClassTable
from pointseg.config import QUERIES
from pointseg.data.dataset import BandStats
from pointseg.data.discover import ImagePair, discover_pairs
from pointseg.data.points import PointLabels
from pointseg.errors import CheckpointError, DatasetError, PointsegWarning, PointsError
from pointseg.predict import Ensemble, Segmenter
from pointseg.suggest import entropy, near_boundaries, suggest, suggest_pixels, typicality, validated_on


def uncertain_everywhere(height=30, width=40, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 0.3, (classes, height, width))
    return np.exp(logits) / np.exp(logits).sum(axis=0)


def test_entropy_by_hand():
    p = np.array([[[0.5]], [[0.5]]])
    assert entropy(p)[0, 0] == pytest.approx(np.log(2))
    assert entropy(np.array([[[1.0]], [[0.0]]]))[0, 0] == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("spacing", [1, 4, 7])
def test_exactly_k_suggestions_apart_from_each_other_and_from_labelled_pixels(spacing, query):
    probabilities = uncertain_everywhere()
    features = np.random.default_rng(1).normal(size=(4, 30, 40))
    labelled = np.zeros((30, 40), bool)
    labelled[10, 10] = labelled[25, 33] = True
    rows, cols = suggest_pixels(probabilities, k=12, spacing=spacing, labelled=labelled, query=query, features=features)
    assert rows.size == 12
    points = np.stack([rows, cols], axis=1)
    gaps = np.abs(points[:, None] - points[None]).max(axis=2) + np.eye(12, dtype=int) * 10**6
    assert gaps.min() >= spacing
    for r, c in [(10, 10), (25, 33)]:
        assert (np.maximum(abs(rows - r), abs(cols - c)) >= spacing).all()


def test_a_spacing_below_one_pixel_is_refused():
    with pytest.raises(ValueError, match="at least 1 pixel"):  # spacing 0 would suggest a pixel twice
        suggest_pixels(uncertain_everywhere(), k=4, spacing=0)


@pytest.mark.parametrize("k", [0, -3])
def test_fewer_than_one_suggestion_is_refused_before_predicting(k):
    with pytest.raises(ValueError, match=f"suggestions per image must be at least 1, not {k}"):
        suggest_pixels(uncertain_everywhere(), k=k, spacing=4)
    with pytest.raises(ValueError, match=f"at least 1, not {k}"):  # no segmenter needed: refused before any image
        suggest(None, [ImagePair("a", "missing.png", None, (30, 40))], k=k)


def test_typicality_is_the_inverse_mean_distance_to_the_nearest_others():
    points = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 3.0], [0.0, 7.0]])
    # distances to the nearest two: 1 and 3 -> 1/2; 1 and 2 -> 1/1.5; 2 and 3 -> 1/2.5; 4 and 6 -> 1/5
    assert typicality(points, neighbours=2) == pytest.approx([0.5, 1 / 1.5, 1 / 2.5, 0.2])
    assert typicality(points[:1]).tolist() == [0.0]  # nothing to be near


def two_parts(split, height=20, width=20):
    """Features ``(2, H, W)``: the columns left of ``split`` point one way, the others another."""
    features = np.zeros((2, height, width))
    features[0, :, :split] = 1
    features[1, :, split:] = 1
    return features


def test_typical_suggestions_go_first_to_the_cluster_that_no_labelled_pixel_covers():
    labelled = np.zeros((20, 20), bool)
    labelled[10, 3] = True  # in the larger, left part
    probabilities, features = uncertain_everywhere(20, 20, classes=2), two_parts(split=14)
    rows, cols = suggest_pixels(probabilities, k=1, spacing=2, labelled=labelled, query="typical", features=features)
    assert cols[0] >= 14  # the uncovered part, though smaller
    labelled[10, 16] = True  # both parts covered once: the larger one first
    rows, cols = suggest_pixels(probabilities, k=1, spacing=2, labelled=labelled, query="typical", features=features)
    assert cols[0] < 14


def test_typical_suggestions_take_the_dense_core_of_a_cluster_not_its_outliers():
    angles = np.zeros((12, 12))
    angles[:6] = np.linspace(0.3, 1.5, 72).reshape(6, 12)  # the upper half spreads out, the lower half is one point
    angles[:6] = angles[:6][:, np.random.default_rng(0).permutation(12)]
    features = np.stack([np.cos(angles), np.sin(angles)])
    rows, cols = suggest_pixels(uncertain_everywhere(12, 12), k=1, spacing=1, query="typical", features=features)
    assert rows[0] >= 6


def test_power_draws_pixels_in_proportion_to_their_entropy():
    probabilities = np.array([[[0.5, 0.9, 0.97, 1.0]], [[0.5, 0.1, 0.03, 0.0]]])
    weights = entropy(probabilities)[0]  # ln 2, 0.325, 0.135 and 0 nats
    first = [
        suggest_pixels(probabilities, k=1, spacing=1, query="power", rng=np.random.default_rng(s))[1][0] for s in range(4000)
    ]
    assert np.bincount(first, minlength=4) / 4000 == pytest.approx(weights / weights.sum(), abs=0.025)
    for seed in range(200):  # a certain pixel comes only once every uncertain one is taken
        rows, cols = suggest_pixels(probabilities, k=3, spacing=1, query="power", rng=np.random.default_rng(seed))
        assert sorted(cols.tolist()) == [0, 1, 2]


def test_an_ensemble_suggests_where_its_members_disagree_though_each_is_sure():
    sure = np.full((3, 1, 4), 0.01)
    sure[0] = 0.98  # land, sure, on four pixels
    doubtful, other = sure.copy(), sure.copy()
    doubtful[:, 0, 3] = 0.6, 0.3, 0.1  # one network doubts the last pixel a little
    other[:, 0, 1] = 0.01, 0.98, 0.01  # the other is sure the second pixel is water
    ensemble = Ensemble((FixedModel(doubtful), FixedModel(other)))
    mean = ensemble.probabilities(None).numpy()
    assert mean[:, 0, 1] == pytest.approx([0.495, 0.495, 0.01]) and mean[:, 0, 3] == pytest.approx([0.79, 0.155, 0.055])
    assert suggest_pixels(doubtful, k=1, spacing=1, query="entropy")[1].tolist() == [3]  # 0.90 nats, alone
    assert suggest_pixels(mean, k=1, spacing=1, query="entropy")[1].tolist() == [1]  # 0.74 nats against 0.64
    probabilities, features = ensemble.features(None)
    assert np.array_equal(probabilities, mean) and features.shape == (4, 1, 4)  # the members' features side by side
    assert Ensemble((FixedModel(doubtful),)).probabilities(None).numpy() == pytest.approx(doubtful)


def test_an_ensemble_of_models_of_other_classes_is_refused():
    other = FixedModel(np.full((3, 1, 4), 1 / 3))
    other.classes = ClassTable.from_rows([("land", (0, 0, 0)), ("sea", (0, 0, 255)), ("road", (9, 9, 9))])
    with pytest.raises(CheckpointError, match="model 2 predicts the classes land, sea, road, model 1 the classes land, water"):
        Ensemble((FixedModel(np.full((3, 1, 4), 1 / 3)), other))
    with pytest.raises(CheckpointError, match="an ensemble of no model"):
        Ensemble(())


def test_balanced_draws_the_classes_with_fewer_labels_more_often():
    probabilities = halves(1, 4)

    def left_share(**options):
        first = [
            suggest_pixels(probabilities, k=1, spacing=1, rng=np.random.default_rng(s), **options)[1][0] for s in range(4000)
        ]
        return np.mean(np.array(first) < 2)

    counts = np.array([9, 0, 0])  # weights 1/10 on the left, 1/1 on the right: 0.2 / 2.2 of the draws on the left
    assert left_share(query="balanced", class_counts=counts) == pytest.approx(0.2 / 2.2, abs=0.02)
    assert left_share(query="balanced") == pytest.approx(0.5, abs=0.03)  # no labels yet: as power
    assert left_share(query="power", class_counts=counts) == pytest.approx(0.5, abs=0.03)  # power takes no counts


def test_balanced_counts_the_labels_of_every_image_unless_told_the_counts(tmp_path, monkeypatch):
    pairs = []
    for key in ("a", "b"):
        Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(tmp_path / f"{key}.png")
        pairs.append(ImagePair(key, tmp_path / f"{key}.png", None, (30, 40)))
    segmenter = untrained_segmenter()
    monkeypatch.setattr(type(segmenter), "probabilities", lambda self, image: torch.from_numpy(halves(30, 40)))
    rows, cols = np.divmod(np.arange(200), 20)  # 200 labels of class 0, all in image a, on its left half
    labelled = PointLabels(np.array(["a"] * 200, dtype=object), rows, cols, np.zeros(200, np.int64))

    def columns(query, **options):
        points, _ = suggest(segmenter, pairs, k=10, spacing=1, labelled=labelled, query=query, **options)
        return points.of_image("b").cols

    assert (columns("balanced") >= 20).sum() >= 9  # class 1, on the right, has no label yet in any image
    assert (columns("power") < 20).sum() >= 3
    assert np.array_equal(columns("balanced", class_counts=np.zeros(3)), columns("power"))
    with pytest.raises(ValueError, match="one count of 0 or more for each of 3 classes"):
        columns("balanced", class_counts=np.array([1, 2]))
    monkeypatch.setattr(segmenter, "probabilities", lambda image: pytest.fail("predicted before the counts were checked"))
    with pytest.raises(ValueError, match="one count of 0 or more for each of 3 classes"):
        columns("balanced", class_counts=np.array([1, -2, 0]))


def test_maps_of_another_size_than_the_image_are_refused():
    probabilities = np.full((3, 5, 7), 1 / 3)
    for name in ("labelled", "excluded"):
        with pytest.raises(ValueError, match=rf"{name} has the shape \(2, 2\), not that of the 5 x 7 image"):
            suggest_pixels(probabilities, 2, **{name: np.zeros((2, 2), bool)})
    with pytest.raises(ValueError, match=r"features has the shape \(4, 7, 5\)"):
        suggest_pixels(probabilities, 2, query="typical", features=np.zeros((4, 7, 5)))


def test_a_power_draw_depends_on_the_seed_and_the_image_alone(tmp_path):
    rng = np.random.default_rng(0)
    pairs = []
    for key in ("a", "b"):
        Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).save(tmp_path / f"{key}.png")
        pairs.append(ImagePair(key, tmp_path / f"{key}.png", None, (30, 40)))
    segmenter = untrained_segmenter()

    def draw(pairs, seed):
        points, _ = suggest(segmenter, pairs, k=6, spacing=2, query="power", seed=seed)
        return {
            key: sorted(zip(points.of_image(key).rows.tolist(), points.of_image(key).cols.tolist()))
            for key in set(points.keys.tolist())
        }

    both = draw(pairs, seed=3)
    assert draw(pairs[1:], seed=3)["b"] == both["b"] and len(both["b"]) == 6  # image a drew nothing from b's stream
    assert draw(pairs, seed=3) == both and draw(pairs, seed=4)["b"] != both["b"]


def test_images_short_of_suggestions_are_named_in_a_warning(tmp_path):
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(tmp_path / "a.png")
    pair = ImagePair("a", tmp_path / "a.png", None, (30, 40))
    # 10 px apart, at most 4 x 4 suggestions fit in 30 x 40 pixels: never 20
    with pytest.warns(
        PointsegWarning, match=r"1 image\(s\) get fewer than 20 suggestions: .* 10 px .*: a \((\d+) of 20\)"
    ) as info:
        points, _ = suggest(untrained_segmenter(), [pair], k=20, spacing=10)
    assert f"a ({len(points)} of 20)" in str(info[0].message) and 6 <= len(points) <= 16


def test_an_unknown_query_or_typical_without_features_is_refused():
    with pytest.raises(ValueError, match="unknown query strategy 'margin': choose one of entropy, typical"):
        suggest_pixels(uncertain_everywhere(), k=4, query="margin")
    with pytest.raises(ValueError, match="unknown query strategy"):  # before any image is predicted
        suggest(None, [ImagePair("a", "missing.png", None, (30, 40))], k=4, query="margin")
    with pytest.raises(ValueError, match="needs the features"):
        suggest_pixels(uncertain_everywhere(), k=4, query="typical")


@pytest.mark.parametrize("name", ["unet", "deeplabv3plus"])  # features at the image's pixels, and at a quarter of them
def test_the_features_are_what_the_head_classifies_at_every_pixel(name):
    segmenter = untrained_segmenter(name)
    module = segmenter.module
    image = np.random.default_rng(0).integers(0, 256, (37, 29, 3)).astype(np.uint8)  # no multiple of the scales
    probabilities, features = segmenter.features(image)
    assert features.shape == (module.model.head.in_channels, 37, 29)
    np.testing.assert_allclose(probabilities, segmenter.probabilities(image).numpy(), atol=1e-6)
    with torch.no_grad():  # bilinear resizing and a 1x1 convolution commute: the head gives the probabilities back
        logits = module.model.head(torch.from_numpy(features)[None])
    np.testing.assert_allclose(torch.softmax(logits, dim=1)[0].numpy(), probabilities, atol=1e-5)


class RgbModel:
    """Stands for a segmenter trained on 3 bands: normalises as it does, predicts nothing."""

    def probabilities(self, image):
        BandStats((0.0,) * 3, (1.0,) * 3).normalise(image)
        raise AssertionError("a 3-band image was not expected here")


def test_an_image_with_other_bands_than_the_model_is_named(tmp_path):
    Image.new("L", (40, 30)).save(tmp_path / "grey.png")
    with pytest.raises(DatasetError, match=r"grey\.png: the image has 1 bands but the model was trained on 3") as info:
        suggest(RgbModel(), [ImagePair("grey", tmp_path / "grey.png", None, (30, 40))], k=4)
    assert info.value.fix == "give images with the bands the model was trained on"


def run_cli(argv):
    """Exit code of the pointseg command."""
    from pointseg.cli import main

    with pytest.raises(SystemExit) as info:
        main(argv)
    return info.value.code


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--k", "0"], "Invalid value for '--k'"),
        (["--k", "-3"], "Invalid value for '--k'"),
        (["--out", "folder"], "error: folder is a folder, not a CSV file fix: give a file name, e.g. folder/suggestions.csv"),
        (["--vector", "v.txt"], "unknown ending '.txt' fix: end the file name with one of .gpkg, .geojson, .shp, .fgb"),
        (["--vector", "folder"], "error: folder is a folder, not a vector file"),
    ],
)
def test_bad_outputs_and_counts_are_refused_before_the_model_is_loaded(tmp_path, monkeypatch, capsys, options, message):
    monkeypatch.chdir(tmp_path)  # short paths: the error is not wrapped mid-word
    (tmp_path / "folder").mkdir()
    code = run_cli(["suggest", "--checkpoint", "no.ckpt", "--data", "data", "--out", "s.csv", *options])
    error = " ".join(capsys.readouterr().err.split())
    assert code == 2 and message in error and "checkpoint" not in error  # no.ckpt does not exist: not read yet


def test_suggestions_take_turns_across_predicted_classes_from_the_most_uncertain():
    probabilities = np.zeros((2, 10, 10))
    probabilities[0], probabilities[1] = 0.95, 0.05
    probabilities[:, :, 5:] = probabilities[::-1, :, 5:]  # class 1 predicted on the right half
    probabilities[0, 2, 2], probabilities[1, 2, 2] = 0.6, 0.4  # the most uncertain pixel of class 0
    probabilities[1, 7, 8], probabilities[0, 7, 8] = 0.55, 0.45  # ... and of class 1
    rows, cols = suggest_pixels(probabilities, k=2, spacing=1, query="entropy")
    assert sorted(zip(rows.tolist(), cols.tolist())) == [(2, 2), (7, 8)]


def test_a_turn_cut_short_goes_to_the_classes_whose_next_pixel_is_the_most_uncertain():
    probabilities = np.zeros((3, 4, 9))
    for band, top in enumerate([0.95, 0.5, 0.7]):  # class c predicted on columns 3c to 3c + 2; class 1 the least sure
        probabilities[:, :, 3 * band : 3 * band + 3] = (1 - top) / 2
        probabilities[band, :, 3 * band : 3 * band + 3] = top
    for k, bands in [(1, [1]), (2, [1, 2]), (4, [1, 2, 0, 1])]:
        rows, cols = suggest_pixels(probabilities, k=k, spacing=1, query="entropy")
        assert (cols // 3).tolist() == bands


def test_pixels_near_a_change_of_class_by_hand():
    predicted = np.zeros((5, 6), int)
    predicted[:, 3:] = 1  # a vertical boundary between columns 2 and 3
    predicted[0, 0] = 2  # a one-pixel island in a corner
    assert not near_boundaries(predicted, gap=0).any()
    expected = np.zeros((5, 6), int)
    expected[:, 2:4] = 1  # both sides of the boundary
    expected[:2, :2] = 1  # the island and its 8 neighbours
    assert near_boundaries(predicted, gap=1).astype(int).tolist() == expected.tolist()
    expected[:, 1:5] = 1
    expected[:3, :3] = 1
    assert near_boundaries(predicted, gap=2).astype(int).tolist() == expected.tolist()


def test_a_boundary_gap_moves_suggestions_off_the_boundary_until_none_else_is_left():
    probabilities = np.zeros((2, 6, 12))
    probabilities[0], probabilities[1] = 0.9, 0.1
    probabilities[:, :, 6:] = probabilities[::-1, :, 6:]  # class 1 predicted right of column 5
    probabilities[:, :, 5] = [[0.51], [0.49]]  # the boundary: the most uncertain pixels
    probabilities[:, :, 6] = [[0.49], [0.51]]
    probabilities[0, 3, 1], probabilities[1, 3, 1] = 0.7, 0.3  # uncertain, far from the boundary
    probabilities[1, 2, 10], probabilities[0, 2, 10] = 0.7, 0.3
    rows, cols = suggest_pixels(probabilities, k=2, spacing=1, query="entropy")
    assert sorted(cols.tolist()) == [5, 6]  # without a gap: on the boundary, one per predicted class
    rows, cols = suggest_pixels(probabilities, k=2, spacing=1, boundary_gap=3, query="entropy")
    assert sorted(zip(rows.tolist(), cols.tolist())) == [(2, 10), (3, 1)]
    rows, cols = suggest_pixels(probabilities, k=72, spacing=1, boundary_gap=3, query="entropy")
    assert rows.size == 72 and len(set(zip(rows.tolist(), cols.tolist()))) == 72  # every pixel, the boundary's last
    assert set(cols[-36:].tolist()) == {3, 4, 5, 6, 7, 8}  # columns 5 and 6, 2 more each side
    for seed in range(20):  # the power draw takes the gap too: the boundary's entropy is 0.69 nats, the rest 0.33
        rows, cols = suggest_pixels(probabilities, k=2, spacing=1, boundary_gap=3, query="power", rng=np.random.default_rng(seed))
        assert not set(cols.tolist()) & {3, 4, 5, 6, 7, 8}
    with pytest.raises(ValueError, match="0 pixels or more, not -1"):
        suggest_pixels(probabilities, k=2, boundary_gap=-1)


@pytest.mark.parametrize("query", QUERIES)
def test_excluded_and_not_finite_pixels_are_never_suggested_and_keep_nothing_away(query):
    probabilities = np.zeros((3, 10, 10))
    probabilities[0], probabilities[1:] = 0.9, 0.05
    probabilities[:, :, :5] = 1 / 3  # the most uncertain pixels...
    probabilities[:, :, 4] = np.nan  # ...or none at all
    probabilities[:, :, 5] = np.array([[0.4], [0.3], [0.3]])  # the most uncertain of those left
    excluded = np.zeros((10, 10), bool)
    excluded[:, :4] = True  # e.g. a raster's pixels without data
    features = np.random.default_rng(0).normal(size=(2, 10, 10))
    rows, cols = suggest_pixels(probabilities, k=4, spacing=3, query=query, features=features, excluded=excluded)
    assert rows.size == 4 and cols.min() >= 5
    if query == "entropy":
        assert cols[0] == 5  # next to excluded and NaN pixels: they push nothing away


def test_a_rasters_pixels_without_data_are_never_suggested_and_a_nan_model_is_named(tmp_path):
    import rasterio
    from rasterio.transform import Affine

    pixels = np.random.default_rng(0).integers(1, 256, (3, 30, 40), dtype=np.uint8)
    pixels[:, :, :20] = 0  # the left half holds no data
    with rasterio.open(tmp_path / "scene.tif", "w", driver="GTiff", width=40, height=30, count=3, dtype="uint8",
                       crs="EPSG:32640", transform=Affine(0.5, 0, 500000, 0, -0.5, 2800000), nodata=0) as dst:  # fmt: skip
        dst.write(pixels)
    pair = ImagePair("scene", tmp_path / "scene.tif", None, (30, 40))
    for query in QUERIES:
        points, _ = suggest(untrained_segmenter(), [pair], k=20, spacing=1, query=query)
        assert len(points) == 20 and points.cols.min() >= 20

    class NanModel:
        def probabilities(self, image):
            probabilities = torch.full((3, *image.shape[:2]), 1 / 3)
            probabilities[:, :, :30] = torch.nan  # diverged on the left three quarters
            return probabilities

    with pytest.warns(PointsegWarning, match=r"scene\.tif: the model gives no finite class probabilities on 900 pixels"):
        points, scores = suggest(NanModel(), [pair], k=8, spacing=1, query="entropy")
    assert len(points) == 8 and points.cols.min() >= 30 and np.isfinite(scores).all()
    points, scores = suggest(NanModel(), [], k=8)  # no image: no suggestion
    assert len(points) == 0 and scores.size == 0


@pytest.mark.slow
def test_images_a_run_validated_on_are_found_by_their_files_and_not_all_left_out(tmp_path):
    pairs = [ImagePair(key, tmp_path / f"{key}.png", None, (8, 8)) for key in ("a", "b")]
    run = SimpleNamespace(validation_images=frozenset({(tmp_path / "b.png").resolve()}))
    assert validated_on(run, pairs) == pairs[1:]
    assert validated_on(SimpleNamespace(validation_images=frozenset()), pairs) == []  # a checkpoint from before
    with pytest.raises(PointsError, match=r"validated on every image of --data \(1\)"):
        validated_on(run, pairs[1:])


def test_suggest_from_the_command_line(dataset, classes_csv, tmp_path, monkeypatch, capsys):
    run = run_cli
    assert run(["train", "--data", str(dataset), "--classes", str(classes_csv), "--out", str(tmp_path / "run"),
                "--points", "10", "--crop", "32", "--width", "4", "--depth", "2", "--max-steps", "3",
                "--accelerator", "cpu", "--no-progress-bar"]) == 0  # fmt: skip

    def suggest_rows(*options, out="s.csv"):
        """Exit code and CSV rows of `pointseg suggest` of 5 pixels per image, 4 px apart, away from the run's points."""
        code = run(["suggest", "--checkpoint", str(tmp_path / "run/model.ckpt"), "--data", str(dataset), "--k", "5",
                    "--spacing", "4", "--labelled", str(tmp_path / "run/points.csv"), *options,
                    "--out", str(tmp_path / out)])  # fmt: skip
        with (tmp_path / out).open() as handle:
            return code, list(csv.DictReader(handle))

    def pixels(rows):
        return {(r["image"], r["row"], r["col"]) for r in rows}

    code, rows = suggest_rows("--vector", str(tmp_path / "s.gpkg"))
    out = " ".join(capsys.readouterr().out.split())
    assert code == 0 and "25 suggestions on 5 images" in out
    # the run's validation image: its labels would not be trained on, and its points.csv leaves them out
    (held_out,) = Segmenter.from_checkpoint(tmp_path / "run/model.ckpt", "cpu").validation_images
    (validated,) = [pair.key for pair in discover_pairs(dataset) if pair.image.resolve() == held_out]
    assert validated not in {r["image"] for r in rows}
    assert f"1 image(s) left out, e.g. {validated}: the checkpoint's run validated on them" in out
    code, everywhere = suggest_rows("--include-validation", out="everywhere.csv")
    assert code == 0 and "30 suggestions on 6 images" in capsys.readouterr().out
    assert {r["image"] for r in everywhere} - {r["image"] for r in rows} == {validated}
    meta, _, _, values = pyogrio.raw.read(tmp_path / "s.gpkg")
    assert list(meta["fields"]) == ["image", "row", "col", "class", "entropy"]  # to sort the features by in QGIS
    assert values[4].tolist() == [float(r["entropy"]) for r in rows]
    # the features, as an annotation layer, are pixels already labelled
    assert run(["suggest", "--checkpoint", str(tmp_path / "run/model.ckpt"), "--data", str(dataset), "--k", "5",
                "--spacing", "4", "--labelled", str(tmp_path / "s.gpkg"), "--out", str(tmp_path / "after.csv")]) == 0  # fmt: skip
    with (tmp_path / "after.csv").open() as handle:
        assert len(after := pixels(csv.DictReader(handle))) == 25 and not after & pixels(rows)
    with (tmp_path / "run/points.csv").open() as handle:
        labelled = pixels(csv.DictReader(handle))
    assert len(rows) == 25 and not labelled & pixels(rows)
    assert {r["class"] for r in rows} <= {"land", "water", "road"} and all(r["x"] == "" for r in rows)
    code, typical = suggest_rows("--query", "typical", out="typical.csv")
    assert code == 0 and "25 suggestions on 5 images" in capsys.readouterr().out
    typical = pixels(typical)
    assert len(typical) == 25 and not labelled & typical and typical != pixels(rows)
    code, uncertain = suggest_rows("--query", "entropy", out="entropy.csv")
    assert code == 0 and len(pixels(uncertain)) == 25 and pixels(uncertain) != pixels(rows)
    drawn = []
    for seed in ("0", "1"):
        code, power = suggest_rows("--query", "power", "--seed", seed, out="power.csv")
        drawn.append(pixels(power))
        assert code == 0 and len(drawn[-1]) == 25 and not labelled & drawn[-1]
    assert drawn[0] == pixels(rows) and drawn[1] != drawn[0]  # the default draws power's seed 0; the seed reaches the draw
    # a second model: the mean of two copies of one model suggests as that model does, with another model otherwise
    assert run(["train", "--data", str(dataset), "--classes", str(classes_csv), "--out", str(tmp_path / "other"),
                "--points", "10", "--crop", "32", "--width", "4", "--depth", "2", "--max-steps", "3", "--seed", "1",
                "--accelerator", "cpu", "--no-progress-bar"]) == 0  # fmt: skip
    code, twice = suggest_rows("--checkpoint", str(tmp_path / "run/model.ckpt"), out="twice.csv")
    assert code == 0 and pixels(twice) == pixels(rows)
    code, pair = suggest_rows("--checkpoint", str(tmp_path / "other/model.ckpt"), out="pair.csv")
    assert code == 0 and not labelled & pixels(pair) and pixels(pair) != pixels(rows)
    assert len(pixels(pair)) == 20  # the run at seed 1 validated on another image: both left out
    # corrected (here: as guessed) and appended to the points, it goes back to training as --points-file
    with (tmp_path / "run/points.csv").open() as old, (tmp_path / "s.csv").open() as new:
        (tmp_path / "next.csv").write_text(old.read() + "".join(new.readlines()[1:]))
    table = ClassTable.read_csv(classes_csv)
    points = PointLabels.read_csv(tmp_path / "next.csv", table)
    assert len(points) == len(labelled) + 25 and points.classes[-1] == table.names.index(rows[-1]["class"])
    # images of one band, the model trained on three: the error names the file
    monkeypatch.chdir(tmp_path)  # short paths: the error is not wrapped mid-word
    (tmp_path / "grey/images").mkdir(parents=True)
    Image.new("L", (48, 40)).save(tmp_path / "grey/images/g.png")
    assert run(["suggest", "--checkpoint", "run/model.ckpt", "--data", "grey", "--out", "g.csv"]) == 2
    error = " ".join(capsys.readouterr().err.split())
    assert "error: grey/images/g.png: the image has 1 bands but the model was trained on 3" in error
