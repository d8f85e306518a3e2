"""End-to-end training, evaluation and prediction on a tiny generated dataset."""

import csv
import json
import math
from collections import Counter

import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from PIL import Image

from conftest import COLOURS
from pointseg.classes import IGNORE_INDEX
from pointseg.config import TrainConfig
from pointseg.data.dataset import BandStats, Scene
from pointseg.data.discover import discover_pairs
from pointseg.data.imagery import read_image
from pointseg.errors import CheckpointError, ConfigError, DatasetError, PointsegWarning, PointsError, TrainingDiverged
from pointseg.evaluation import evaluate
from pointseg.predict import Segmenter, predict_folder
from pointseg.training import PreparedData, resolve_class_weights, train

pytestmark = pytest.mark.slow


def tiny_config(dataset, classes_csv, out, **overrides):
    options = dict(
        data=dataset, classes=classes_csv, out=out, points="20", val_fraction=0.34, crop=32, batch_size=4,
        width=4, depth=2, max_steps=60, lr=0.01, accelerator="cpu", progress_bar=False,
    )  # fmt: skip
    return TrainConfig(**(options | overrides))


def epoch_losses(run):
    with (run / "metrics.csv").open() as handle:
        return [float(r["train_loss_epoch"]) for r in csv.DictReader(handle) if r.get("train_loss_epoch")]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from conftest import make_dataset, write_classes

    root = tmp_path_factory.mktemp("e2e")
    dataset, classes_csv = make_dataset(root / "data"), write_classes(root / "classes.csv")
    config = tiny_config(dataset, classes_csv, root / "run")
    return config, train(config)


def test_a_validation_root_with_the_training_roots_file_names_keeps_each_image_its_own_mask(tmp_path):
    from conftest import make_dataset, write_classes
    from pointseg.classes import ClassTable
    from pointseg.data.scenes import load_scenes
    from pointseg.training import prepare_data

    data, val = make_dataset(tmp_path / "data"), make_dataset(tmp_path / "val", n_images=2, seed=1)
    classes = write_classes(tmp_path / "classes.csv")
    prepared = prepare_data(tiny_config(data, classes, tmp_path / "run", val_data=val, full_masks=True))
    table = ClassTable.read_csv(classes)
    own = {root: {s.key: s.mask for s in load_scenes(discover_pairs(root), table)} for root in (data, val)}
    assert set(own[val]) == {"part_0/img_0", "part_1/img_1"} < set(own[data])  # the same names in both roots
    assert not np.array_equal(own[val]["part_0/img_0"], own[data]["part_0/img_0"])
    for root, scenes in ((data, prepared.train_scenes), (val, prepared.val_scenes)):
        assert all(np.array_equal(scene.mask, own[root][scene.key]) for scene in scenes)
        assert all(np.array_equal(scene.labels, own[root][scene.key]) for scene in scenes if root == data)


def test_points_on_a_mask_rasters_nodata_or_lost_from_the_runs_own_points_file_are_refused(tmp_path):
    import rasterio

    from pointseg.training import prepare_data

    data = tmp_path / "data"
    for kind in ("images", "masks"):
        (data / kind).mkdir(parents=True)
    for name in ("a", "b"):
        with rasterio.open(data / f"images/{name}.tif", "w", driver="GTiff", width=16, height=16, count=3, dtype="uint8") as dst:
            dst.write(np.full((3, 16, 16), 90, np.uint8))
        with rasterio.open(data / f"masks/{name}.tif", "w", driver="GTiff", width=16, height=16, count=1, dtype="uint8",
                           nodata=255) as dst:  # fmt: skip
            labels = np.zeros((1, 16, 16), np.uint8)
            labels[:, :4] = 255  # rows 0-3: no data in the mask alone
            dst.write(labels)
    (tmp_path / "classes.csv").write_text("name,value\nbackground,0\nvegetation,1\n")
    points = tmp_path / "points.csv"
    points.write_text("image,row,col,class\na,2,5,background\na,9,9,vegetation\nb,3,3,background\nb,12,1,background\n")
    config = TrainConfig(data=data, classes=tmp_path / "classes.csv", out=tmp_path / "run", points_file=points, val_data=data)
    with pytest.warns(PointsegWarning, match=r"2 of the 4 points of .*points.csv lie on pixels without data"):
        prepared = prepare_data(config)
    assert sorted(zip(prepared.points.keys, prepared.points.rows)) == [("a", 9), ("b", 12)]
    (tmp_path / "run").mkdir()
    own = tmp_path / "run/points.csv"
    own.write_text(points.read_text())
    with pytest.raises(PointsError, match=r"2 of the 4 points of .*run/points.csv are not trained on .* write its points.csv"):
        prepare_data(config.model_copy(update={"points_file": own}))
    assert own.read_text() == points.read_text()


def test_the_runs_own_model_as_its_initial_weights_is_refused(tmp_path):
    with pytest.raises(ValueError, match="--init-weights .*run/model.ckpt is the run's own model.ckpt"):
        TrainConfig(data="d", classes="c.csv", out=tmp_path / "run", init_weights=tmp_path / "run/model.ckpt")


def test_full_masks_refuse_point_annotations_they_would_ignore(tmp_path):
    with pytest.raises(ValueError, match="--full-masks trains on the dense masks: drop --point-labels"):
        TrainConfig(data="d", classes="c.csv", out="o", full_masks=True, point_labels="field.gpkg")


def test_run_folder_holds_config_points_metrics_and_checkpoint(trained):
    config, result = trained
    for name in ("config.json", "points.csv", "points.json", "metrics.csv", "metrics.json", "model.ckpt"):
        assert (config.out / name).is_file(), name
    assert TrainConfig.model_validate_json((config.out / "config.json").read_text()) == config
    summary = json.loads((config.out / "points.json").read_text())
    assert summary["total"] == 20 * len(result.data.train_scenes) == 80


@pytest.mark.parametrize(
    "failure, error",
    [
        ({"points_file": "unknown-image.csv"}, PointsError),  # found while the data is prepared
        ({"init_weights": "corrupt.pt"}, CheckpointError),  # while the network is built
        ({"accelerator": "tpu"}, ConfigError),  # while Lightning is set up
    ],
)
def test_a_run_that_fails_before_training_leaves_the_earlier_run_in_its_folder(trained, tmp_path, failure, error):
    import shutil

    config, _ = trained
    out = shutil.copytree(config.out, tmp_path / "run")
    before = {file: file.read_bytes() for file in out.rglob("*") if file.is_file()}
    (tmp_path / "unknown-image.csv").write_text("image,row,col,class\nnot-an-image,1,1,background\n")
    (tmp_path / "corrupt.pt").write_text("not weights")
    options = {name: tmp_path / value if name != "accelerator" else value for name, value in failure.items()}
    with pytest.raises(error):
        train(config.model_copy(update={"out": out, **options}))
    assert {file: file.read_bytes() for file in out.rglob("*") if file.is_file()} == before


def test_a_full_mask_run_into_a_point_runs_folder_leaves_no_points_evaluation_or_initial_weights_of_the_earlier_run(
    trained, tmp_path
):
    import shutil

    config, _ = trained
    out = shutil.copytree(config.out, tmp_path / "run")
    (out / "evaluation").mkdir()
    (out / "evaluation/metrics.json").write_text('{"miou": 0.9}')  # pointseg evaluate's, of the earlier network
    (out / "init_weights.json").write_text('{"loaded": ["stem.0.weight"]}')  # of an earlier run with --init-weights
    assert (out / "points.csv").is_file()
    train(config.model_copy(update={"out": out, "full_masks": True, "max_steps": 1, "precise_bn": 0}))
    assert not (out / "points.csv").exists() and not (out / "points.json").exists()
    assert not (out / "evaluation/metrics.json").exists() and not (out / "init_weights.json").exists()
    assert TrainConfig.model_validate_json((out / "config.json").read_text()).full_masks


def test_training_lowers_the_loss_and_learns_the_classes(trained):
    config, result = trained
    losses = epoch_losses(config.out)
    assert losses[-1] < 0.6 * losses[0]
    metrics = json.loads((config.out / "metrics.json").read_text())
    assert metrics == result.metrics
    assert {"miou", "accuracy", "kappa", "loss", "per_class_iou", "per_class_f1", "confusion_matrix"} <= set(metrics)
    assert set(metrics["per_class_iou"]) == set(COLOURS)
    # the confusion matrix counts every pixel of the two validation masks
    assert np.sum(metrics["confusion_matrix"]) == metrics["pixels"] == 2 * 40 * 48
    assert metrics["miou"] > 0.5 and metrics["accuracy"] > 0.8


def test_checkpoint_carries_classes_stats_and_model(trained):
    config, result = trained
    segmenter = Segmenter.from_checkpoint(result.checkpoint, "cpu")
    assert segmenter.classes.names == tuple(COLOURS)
    assert segmenter.classes.colours == tuple(COLOURS.values())
    expected = BandStats.compute([s.image for s in result.data.train_scenes])
    assert segmenter.band_stats.mean == pytest.approx(expected.mean)
    assert segmenter.module.model_config.width == 4


def test_evaluate_reproduces_the_validation_metrics(trained, tmp_path):
    config, result = trained
    val_root = tmp_path / "val"
    from conftest import write_pair  # noqa: F401 (val images are copied, not regenerated)

    for scene in result.data.val_scenes:
        pair = next(p for p in discover_pairs(config.data) if p.key == scene.key)
        for kind, path in (("images", pair.image), ("masks", pair.mask)):
            (val_root / kind).mkdir(parents=True, exist_ok=True)
            (val_root / kind / path.name).write_bytes(path.read_bytes())
    metrics = evaluate(result.checkpoint, val_root, out=tmp_path / "eval", accelerator="cpu")
    assert metrics["confusion_matrix"] == result.metrics["confusion_matrix"]
    assert metrics["loss"] == pytest.approx(result.metrics["loss"], rel=1e-5)
    assert json.loads((tmp_path / "eval/metrics.json").read_text())["miou"] == pytest.approx(result.metrics["miou"])
    (tmp_path / "afile").write_text("kept")
    with pytest.raises(FileExistsError):  # a file in the way is found before the evaluation, not after it
        evaluate(result.checkpoint, val_root, out=tmp_path / "afile", accelerator="tpu")  # tpu: it would fail there


def test_evaluate_names_the_file_of_other_bands_and_masks_of_another_coding(trained, tmp_path):
    from pointseg.errors import ClassesError, DatasetError

    config, result = trained
    pair = discover_pairs(config.data)[0]
    for kind in ("images", "masks"):
        (tmp_path / "grey" / kind).mkdir(parents=True)
    Image.open(pair.image).convert("L").save(tmp_path / "grey/images/a.png")  # one band for a three-band model
    Image.open(pair.mask).save(tmp_path / "grey/masks/a.png")
    with pytest.raises(DatasetError, match=r"grey/images/a.png has 1 bands but the model takes 3"):
        evaluate(result.checkpoint, tmp_path / "grey", accelerator="cpu")
    Image.open(pair.mask).convert("L").save(tmp_path / "grey/masks/a.png")  # index values for a colour table
    with pytest.raises(ClassesError, match=r"masks under .*grey do not fit the classes the model was trained on") as info:
        evaluate(result.checkpoint, tmp_path / "grey", accelerator="cpu")
    assert "masks coded as the training masks were" in info.value.fix and "--classes" not in info.value.fix


def test_predict_writes_masks_in_the_class_colours(trained, tmp_path):
    config, result = trained
    written = list(predict_folder(result.checkpoint, config.data, tmp_path / "pred", accelerator="cpu"))
    assert len(written) == 6
    mask = np.asarray(Image.open(tmp_path / "pred/part_0/images/img_0.png"))
    assert mask.shape == (40, 48, 3)
    assert {tuple(c) for c in mask.reshape(-1, 3)} <= set(COLOURS.values())
    segmenter = Segmenter.from_checkpoint(result.checkpoint, "cpu")
    labels = segmenter.predict(read_image(config.data / "part_0/images/img_0.png"))
    assert tuple(mask[5, 7]) == list(COLOURS.values())[labels[5, 7]]


def test_batch_norm_statistics_are_recomputed_over_training_crops_when_training_ends(trained, tmp_path):
    config, result = trained
    kept = train(config.model_copy(update={"out": tmp_path / "kept", "precise_bn": 0}))
    precise, running = (torch.load(path, weights_only=False)["state_dict"] for path in (result.checkpoint, kept.checkpoint))
    tracked = [name for name in precise if name.endswith("num_batches_tracked")]
    assert tracked and all(
        torch.equal(precise[n], running[n])
        for n in precise
        if not n.endswith(("running_mean", "running_var", "num_batches_tracked"))
    )
    # the 1024 crops asked for are more than an epoch holds: 2 crops of each of the 4 training images, in batches of 4
    assert {int(precise[name]) for name in tracked} == {2}
    assert {int(running[name]) for name in tracked} == {60}  # the running averages of every training step
    assert not torch.equal(
        precise[tracked[0].replace("num_batches_tracked", "running_mean")],
        running[tracked[0].replace("num_batches_tracked", "running_mean")],
    )


def test_same_seed_same_run(trained, tmp_path):
    config, _ = trained
    again = train(config.model_copy(update={"out": tmp_path / "again", "max_steps": 8}))
    once_more = train(config.model_copy(update={"out": tmp_path / "once-more", "max_steps": 8}))
    assert (tmp_path / "again/points.csv").read_text() == (config.out / "points.csv").read_text()
    assert again.metrics["confusion_matrix"] == once_more.metrics["confusion_matrix"]
    assert epoch_losses(tmp_path / "again") == epoch_losses(tmp_path / "once-more")


def test_full_masks_and_a_points_file(trained, tmp_path):
    config, result = trained
    full = train(config.model_copy(update={"out": tmp_path / "full", "full_masks": True, "max_steps": 4}))
    assert not (tmp_path / "full/points.csv").exists()
    assert all((s.labels == s.mask).all() for s in full.data.train_scenes)
    reuse = {"out": tmp_path / "reuse", "points_file": config.out / "points.csv", "points": "3", "max_steps": 4}
    reused = train(config.model_copy(update=reuse))
    assert len(reused.data.points) == len(result.data.points)
    assert (tmp_path / "reuse/points.csv").read_text() == (config.out / "points.csv").read_text()
    # another seed holds out other images: points on them are reported, not trained on
    with pytest.warns(PointsegWarning, match="lie on validation images"):
        train(config.model_copy(update=reuse | {"out": tmp_path / "reuse9", "seed": 9}))


def test_without_validation_images_a_run_trains_on_every_image_and_scores_nothing(trained, tmp_path):
    config, _ = trained
    result = train(config.model_copy(update={"out": tmp_path / "all", "val_fraction": 0.0, "max_steps": 4}))
    assert result.metrics is None and not (tmp_path / "all/metrics.json").exists() and result.checkpoint.is_file()
    assert len(result.data.train_scenes) == 6 and result.data.val_scenes == []


def test_a_nan_loss_stops_training_with_a_clear_error(trained, tmp_path):
    config, _ = trained

    class Poison(Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            if trainer.global_step == 3:
                batch["image"][:] = math.nan

    with pytest.raises(TrainingDiverged, match="diverged at step 3") as info:
        train(config.model_copy(update={"out": tmp_path / "nan"}), callbacks=[Poison()])
    assert "--lr" in info.value.fix
    assert (tmp_path / "nan/points.csv").exists() and (tmp_path / "nan/metrics.csv").exists()


def test_a_run_that_fails_while_training_leaves_no_earlier_network_beside_its_settings(trained, tmp_path):
    import shutil

    config, _ = trained
    out = shutil.copytree(config.out, tmp_path / "run")  # an earlier run's folder, trained again

    class Poison(Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            batch["image"][:] = math.nan

    with pytest.raises(TrainingDiverged, match="diverged at step 0"):
        train(config.model_copy(update={"out": out, "lr": 0.5}), callbacks=[Poison()])
    assert TrainConfig.model_validate_json((out / "config.json").read_text()).lr == 0.5
    assert not (out / "model.ckpt").exists()


class Recorder(Callback):
    """Writes the crops each process trains on to seen-rank<R>.txt."""

    def __init__(self, folder):
        self.folder = folder

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        with (self.folder / f"seen-rank{trainer.global_rank}.txt").open("a") as handle:
            for key, origin in zip(batch["key"], batch["origin"].tolist()):
                handle.write(f"{trainer.current_epoch} {key} {origin[0]} {origin[1]}\n")


def test_ddp_on_two_cpu_processes_splits_the_samples(trained, tmp_path):
    config, _ = trained
    single = train(config.model_copy(update={"out": tmp_path / "single", "max_steps": 20}), callbacks=[Recorder(tmp_path)])
    (tmp_path / "seen-rank0.txt").rename(tmp_path / "seen-single.txt")
    ddp_config = config.model_copy(
        update={"out": tmp_path / "ddp", "max_steps": 20, "devices": "2", "trainer_strategy": "ddp_spawn", "batch_size": 2}
    )
    train(ddp_config, callbacks=[Recorder(tmp_path)])
    seen = [(tmp_path / f"seen-rank{r}.txt").read_text().splitlines() for r in (0, 1)]
    single_seen = (tmp_path / "seen-single.txt").read_text().splitlines()
    # crop i of epoch e is fixed by (seed, e, i): the two processes took half of the crops each,
    # and together exactly the crops one process takes with a batch twice as large
    assert len(seen[0]) == len(seen[1]) == 40
    assert Counter(seen[0]) + Counter(seen[1]) == Counter(single_seen)
    assert Counter(seen[0]) != Counter(seen[1])
    ddp_metrics = json.loads((tmp_path / "ddp/metrics.json").read_text())
    assert np.shape(ddp_metrics["confusion_matrix"]) == np.shape(single.metrics["confusion_matrix"])
    assert np.sum(ddp_metrics["confusion_matrix"]) == np.sum(single.metrics["confusion_matrix"])
    ddp_loss, single_loss = epoch_losses(tmp_path / "ddp")[-1], epoch_losses(tmp_path / "single")[-1]
    assert 0.5 < ddp_loss / single_loss < 2
    assert torch.load(tmp_path / "ddp/model.ckpt", weights_only=False)["hyper_parameters"]["classes"]["names"] == list(COLOURS)


def test_options_that_cannot_work_fail_before_training(dataset, classes_csv, tmp_path):
    with pytest.raises(ConfigError, match="gives 2 weights for 3 classes"):
        train(tiny_config(dataset, classes_csv, tmp_path / "w", class_weights="1,2"))
    with pytest.raises(ConfigError, match="accelerator='gpu'") as info:
        train(tiny_config(dataset, classes_csv, tmp_path / "g", accelerator="gpu"))
    assert "--accelerator auto" in info.value.fix


def test_class_weights_reach_the_loss(trained, tmp_path):
    config, _ = trained
    result = train(config.model_copy(update={"out": tmp_path / "cw", "class_weights": [1.0, 3.0, 2.0], "max_steps": 2}))
    segmenter = Segmenter.from_checkpoint(result.checkpoint, "cpu")
    assert segmenter.module.loss.cross_entropy.weight.tolist() == [1.0, 3.0, 2.0]


def test_balanced_class_weights_count_the_labels_trained_on(trained, tmp_path):
    config, result = trained
    with (config.out / "points.csv").open() as handle:  # the points of the run, 20 per training image
        counts = Counter(row["class"] for row in csv.DictReader(handle))
    n, k = sum(counts.values()), len(counts)
    expected = [n / (k * counts[name]) if counts[name] else 1.0 for name in COLOURS]
    update = {"out": tmp_path / "balanced", "class_weights": "balanced", "max_steps": 1}
    weights = Segmenter.from_checkpoint(
        train(config.model_copy(update=update)).checkpoint, "cpu"
    ).module.loss.cross_entropy.weight
    assert weights.tolist() == pytest.approx(expected)
    # with full masks, the pixels of the training masks are counted
    full = train(config.model_copy(update=update | {"out": tmp_path / "full", "full_masks": True}))
    pixels = Counter()
    for scene in full.data.train_scenes:
        pixels.update(scene.mask[scene.mask != IGNORE_INDEX].tolist())
    n, k = sum(pixels.values()), len(pixels)
    expected = [n / (k * pixels[index]) if pixels[index] else 1.0 for index in range(len(COLOURS))]
    weights = Segmenter.from_checkpoint(full.checkpoint, "cpu").module.loss.cross_entropy.weight
    assert weights.tolist() == pytest.approx(expected)


def test_balanced_class_weights_without_a_labelled_pixel_name_the_masks(trained):
    config, result = trained
    empty = [Scene(s.key, s.image, labels=np.full(s.image.shape[:2], IGNORE_INDEX, np.int16)) for s in result.data.train_scenes]
    data = PreparedData(result.data.table, empty, [], None)
    with pytest.raises(DatasetError, match="--class-weights balanced: .*none") as info:
        resolve_class_weights(config.model_copy(update={"class_weights": "balanced"}), data)
    assert info.value.fix == "check the masks and the classes table"


def test_a_points_file_of_other_images(trained, tmp_path):
    config, result = trained
    other = tmp_path / "other.csv"
    other.write_text(f"image,row,col,class\n{result.data.val_scenes[0].key},1,1,land\n")
    with pytest.raises(PointsError, match="none of the 1 points .* lies on a training image"):
        train(config.model_copy(update={"out": tmp_path / "o", "points_file": other}))


def test_cosine_schedule_anneals_the_learning_rate(trained, tmp_path):
    config, _ = trained
    seen = []

    class Rates(Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            seen.append(trainer.optimizers[0].param_groups[0]["lr"])

    train(config.model_copy(update={"out": tmp_path / "cos", "max_steps": 10, "lr": 0.01}), callbacks=[Rates()])
    assert seen[0] == pytest.approx(0.01)
    assert all(b < a for a, b in zip(seen, seen[1:]))
    assert seen[-1] == pytest.approx(0.01 * (1 + math.cos(math.pi * 9 / 10)) / 2)
    seen.clear()
    train(config.model_copy(update={"out": tmp_path / "flat", "max_steps": 4, "lr_schedule": "constant"}), callbacks=[Rates()])
    assert seen == [config.lr] * 4


def test_another_model_starts_from_the_weights_of_a_run(trained, tmp_path):
    config, result = trained
    update = {"out": tmp_path / "warm", "max_steps": 1, "init_weights": result.checkpoint}
    with pytest.warns(PointsegWarning, match=r"initial weights: \d+ of \d+ tensors loaded"):
        warm = train(config.model_copy(update=update))
    report = json.loads((tmp_path / "warm/init_weights.json").read_text())
    assert report["adapted"] == [] and report["skipped"] == {} and report["unused"] == []
    assert len(report["loaded"]) == len(torch.load(result.checkpoint, weights_only=False)["state_dict"])
    other = train(config.model_copy(update={"out": tmp_path / "segformer", "model": "segformer", "max_steps": 3}))
    assert torch.load(other.checkpoint, weights_only=False)["hyper_parameters"]["model"]["name"] == "segformer"
    assert warm.metrics is not None and other.metrics is not None and 0 <= other.metrics["miou"] <= 1


def test_the_crf_method_trains_and_logs_its_regulariser(trained, tmp_path):
    config, _ = trained
    result = train(config.model_copy(update={"out": tmp_path / "crf", "method": "crf", "max_steps": 12}))
    with (tmp_path / "crf/metrics.csv").open() as handle:
        values = [float(r["train_regulariser_epoch"]) for r in csv.DictReader(handle) if r.get("train_regulariser_epoch")]
    assert values and all(0 <= v <= 1 for v in values)  # a weighted share of disagreeing pairs
    assert torch.load(result.checkpoint, weights_only=False)["hyper_parameters"]["method"] == "crf"


def test_the_superpixel_method_spreads_the_points_and_trains(trained, tmp_path):
    config, _ = trained
    result = train(
        config.model_copy(update={"out": tmp_path / "sp", "method": "superpixels+crf", "max_steps": 6, "superpixel_area": 30})
    )
    scene = result.data.train_scenes[0]
    assert scene.expanded is not None and (scene.expanded != -100).sum() > 10 * (scene.labels != -100).sum()
    spread = scene.expanded != -100
    assert (scene.mask[spread] == scene.expanded[spread]).mean() > 0.8  # superpixels mostly keep to the true regions
    with (tmp_path / "sp/metrics.csv").open() as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("train_superpixels_epoch")]
    assert rows and rows[0].get("train_regulariser_epoch")


def test_consistency_trains_with_its_term_in_every_epoch(trained, tmp_path):
    config, _ = trained
    update = {"out": tmp_path / "cons", "method": "consistency", "max_steps": 4, "consistency_weight": 0.5}
    result = train(config.model_copy(update=update))
    with (tmp_path / "cons/metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    terms = [float(r["train_consistency_epoch"]) for r in rows if r.get("train_loss_epoch")]
    assert len(terms) == 2 and all(0 < value < math.log(len(COLOURS)) for value in terms)  # epochs of 2 steps
    assert torch.load(result.checkpoint, weights_only=False)["hyper_parameters"]["consistency_weight"] == 0.5


def test_self_training_adds_pseudo_labels_after_its_warm_up_from_an_ema_teacher(trained, tmp_path):
    config, _ = trained
    update = {"out": tmp_path / "st", "method": "self-training", "max_steps": 6, "self_training_start": 0.5,
              "pseudo_threshold": 0.2, "pseudo_quantile": 0.5, "lr_schedule": "constant"}  # fmt: skip
    result = train(config.model_copy(update=update))
    with (tmp_path / "st/metrics.csv").open() as handle:
        epochs = {int(r["epoch"]): r["train_self_training_epoch"] for r in csv.DictReader(handle) if r["train_loss_epoch"]}
    # epochs of 2 steps: steps 0-2 (the first half of 6) are the warm-up on the points alone, pseudo-labels from step 3
    assert epochs[0] == "" and float(epochs[1]) > 0 and float(epochs[2]) > 0
    checkpoint = torch.load(result.checkpoint, weights_only=False)
    assert int(checkpoint["state_dict"]["teacher.n_averaged"]) == 6  # updated after every step
    assert checkpoint["hyper_parameters"]["pseudo_quantile"] == 0.5
    student = checkpoint["state_dict"]["model.head.weight"]
    teacher = checkpoint["state_dict"]["teacher.module.head.weight"]
    assert not torch.equal(student, teacher)  # the teacher lags: 1 % of the way per step
    assert Segmenter.from_checkpoint(result.checkpoint, "cpu").module.teacher is not None  # the checkpoint loads back


@pytest.mark.parametrize(  # a list of GPUs; every device, as a number; a typo
    ("devices", "given"), [("0,1", "'0,1'"), ("-1", "-1"), ("--1", "'--1'")]
)
def test_devices_the_cpu_cannot_take_are_one_message_with_a_fix(tmp_path, devices, given):
    from pointseg.training import build_trainer

    config = TrainConfig(data="d", classes="c.csv", out=tmp_path, accelerator="cpu", devices=devices)
    with pytest.raises(ConfigError, match=f"cannot set up Lightning with accelerator='cpu', devices={given}, "):
        build_trainer(config)
