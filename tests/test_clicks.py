"""Simulated annotation rounds: suggested against random clicks."""

import csv
import json
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import COLOURS, FixedModel, halves, untrained_segmenter
from pointseg import clicks as clicks_module
from pointseg.classes import IGNORE_INDEX, ClassTable
from pointseg.clicks import ClickLoop, random_clicks, suggested_clicks
from pointseg.config import TrainConfig
from pointseg.data.discover import discover_pairs
from pointseg.data.masks import load_masks
from pointseg.data.points import PointLabels, PointSpec, simulate_points
from pointseg.errors import ConfigError, DatasetError, TrainingDiverged
from pointseg.predict import Segmenter
from pointseg.training import split_dataset

TABLE = ClassTable.from_rows(list(COLOURS.items()))


def test_random_clicks_are_new_labelled_pixels_with_their_masks_classes():
    mask = np.arange(60, dtype=np.int16).reshape(6, 10) % 3
    mask[0] = IGNORE_INDEX  # an unlabelled row: never clicked
    taken = PointLabels(np.array(["a"] * 3, dtype=object), np.array([1, 2, 3]), np.array([4, 5, 6]), np.array([0, 0, 0]))
    clicks = random_clicks({"a": mask}, taken, k=40, seed=0)
    assert len(clicks) == 40 and (clicks.rows > 0).all()
    assert not set(zip(clicks.rows.tolist(), clicks.cols.tolist())) & {(1, 4), (2, 5), (3, 6)}
    assert len(set(zip(clicks.rows.tolist(), clicks.cols.tolist()))) == 40
    assert np.array_equal(clicks.classes, mask[clicks.rows, clicks.cols])
    again = random_clicks({"a": mask}, taken, k=40, seed=0)
    assert np.array_equal(again.rows, clicks.rows) and np.array_equal(again.cols, clicks.cols)
    other = random_clicks({"a": mask}, taken, k=40, seed=1)  # the seed decides: 40 of the 47 free pixels differ
    assert set(zip(other.rows.tolist(), other.cols.tolist())) != set(zip(clicks.rows.tolist(), clicks.cols.tolist()))


def test_suggested_clicks_take_their_classes_from_the_masks_and_avoid_labelled_pixels(dataset):
    segmenter = untrained_segmenter()
    pairs = discover_pairs(dataset)[:2]
    masks = load_masks(pairs, TABLE)
    taken = PointLabels(np.array([p.key for p in pairs], dtype=object), np.array([5, 6]), np.array([7, 8]), np.array([0, 1]))
    clicks, guesses, scores = suggested_clicks(segmenter, pairs, masks, taken, k=4, spacing=5)
    assert len(guesses) == scores.size == 8 and len(clicks) == int((masks_at(masks, guesses) != IGNORE_INDEX).sum())
    for pair, (row, col) in zip(pairs, [(5, 7), (6, 8)]):
        own = clicks.of_image(pair.key)
        assert len(own) == 4 and np.array_equal(own.classes, masks[pair.key][own.rows, own.cols])
        assert (np.maximum(np.abs(own.rows - row), np.abs(own.cols - col)) >= 5).all()  # spacing from the labelled pixel


def masks_at(masks, points):
    return np.array([masks[key][row, col] for key, row, col in zip(points.keys, points.rows, points.cols)])


def test_a_skipped_suggestion_is_never_suggested_again_and_a_mixed_round_adds_random_clicks(dataset, tmp_path, monkeypatch):
    pair = discover_pairs(dataset)[0]
    masks = load_masks([pair], TABLE)
    mask = masks[pair.key]
    mask[3, 4] = IGNORE_INDEX  # a pixel the annotator cannot label
    probabilities = np.zeros((3, *mask.shape), np.float32)
    probabilities[0] = 0.98
    probabilities[1:] = 0.01
    probabilities[:, 3, 4] = 1 / 3  # the most uncertain pixel
    probabilities[:, 20, 25] = 0.5, 0.3, 0.2  # the next
    monkeypatch.setattr(Segmenter, "from_checkpoint", lambda *args: FixedModel(probabilities))
    config = TrainConfig(data=dataset, classes="classes.csv", out=tmp_path, seed=0)
    taken = PointLabels(np.array([pair.key], dtype=object), np.array([30]), np.array([40]), mask[[30], [40]])
    annotator = clicks_module._Annotator(config, ClickLoop(k=1, spacing=2, query="entropy"), [pair], masks, TABLE)
    first, shown = annotator.click("suggested", 1, tmp_path / "suggested/round-1", taken, taken)
    assert len(first) == 1  # the suggestion on (3, 4) is skipped...
    assert (tmp_path / "suggested/round-1/suggestions.csv").read_text().splitlines()[1].startswith(f"{pair.key},3,4,")
    second, shown = annotator.click("suggested", 2, tmp_path / "suggested/round-2", first, shown)
    second_shown = shown
    assert (second.rows[-1], second.cols[-1]) == (20, 25)  # ...and not suggested again
    mixed = clicks_module._Annotator(config, ClickLoop(k=4, spacing=2, query="entropy", random_share=0.5), [pair], masks, TABLE)
    assert pixels(shown) == {(30, 40), (3, 4), (20, 25)}  # the labelled point and both suggestions, each once
    third, shown = mixed.click("suggested", 3, tmp_path / "suggested/round-3", second, shown)
    suggested = (tmp_path / "suggested/round-3/suggestions.csv").read_text().splitlines()[1:]
    assert len(suggested) == 2 and len(third) == len(second) + 2 + 2  # 2 suggested (labelled here) and 2 random
    assert len(set(zip(third.rows.tolist(), third.cols.tolist()))) == len(third)  # no pixel twice
    assert len(shown) == len(pixels(shown)) == 3 + 4 and pixels(third) <= pixels(shown)
    third.write_csv(tmp_path / "suggested/round-3/points.csv", TABLE)  # as a training of the round writes them
    (tmp_path / "suggested/round-3" / clicks_module._DONE).write_text("{}")
    _, resumed = mixed.click("suggested", 3, tmp_path / "suggested/round-3", second, second_shown)
    assert len(resumed) == len(shown) and pixels(resumed) == pixels(shown)  # a finished round read back alike
    assert np.array_equal(third.classes, mask[third.rows, third.cols])


def pixels(points):
    return set(zip(points.rows.tolist(), points.cols.tolist()))


@pytest.mark.parametrize(("gap", "taken", "passed"), [(0, (10, 25), (30, 40)), (3, (30, 40), (10, 25))])
def test_the_loops_boundary_gap_and_query_reach_the_suggestions(dataset, tmp_path, monkeypatch, gap, taken, passed):
    pair = discover_pairs(dataset)[0]
    masks = load_masks([pair], TABLE)
    probabilities = np.zeros((3, *masks[pair.key].shape), np.float32)
    probabilities[0], probabilities[1:] = 0.9, 0.05
    probabilities[:, :, 24:] = probabilities[[1, 0, 2], :, 24:]  # class 1 predicted from column 24
    probabilities[:, 10, 25] = 0.35, 0.4, 0.25  # the most uncertain pixel of class 1, next to the boundary
    probabilities[:, 30, 40] = 0.3, 0.6, 0.1  # the next, far from it
    monkeypatch.setattr(Segmenter, "from_checkpoint", lambda *args: FixedModel(probabilities))
    config = TrainConfig(data=dataset, classes="classes.csv", out=tmp_path)
    none = PointLabels(np.array([], dtype=object), *(np.array([], np.int64),) * 3)
    annotator = clicks_module._Annotator(
        config, ClickLoop(k=2, spacing=1, query="entropy", boundary_gap=gap), [pair], masks, TABLE
    )
    points, _ = annotator.click("suggested", 1, tmp_path / "suggested/round-1", none, none)
    clicked = set(zip(points.rows.tolist(), points.cols.tolist()))  # one pixel per predicted class
    assert taken in clicked and passed not in clicked
    typical = ClickLoop(k=2, spacing=1, boundary_gap=gap, query="typical")
    annotator = clicks_module._Annotator(config, typical, [pair], masks, TABLE)
    points, _ = annotator.click("suggested", 1, tmp_path / "typical/round-1", none, none)
    clicked = set(zip(points.rows.tolist(), points.cols.tolist()))  # features all alike: no regard for uncertainty
    assert len(clicked) == 2 and not {taken, passed} & clicked


def test_the_loops_power_draws_are_seeded_by_the_loops_seed_and_round(dataset, tmp_path, monkeypatch):
    pair = discover_pairs(dataset)[0]
    masks = load_masks([pair], TABLE)
    uniform = np.full((3, *masks[pair.key].shape), 1 / 3, np.float32)  # equal entropies: a uniform draw
    monkeypatch.setattr(Segmenter, "from_checkpoint", lambda *args: FixedModel(uniform))
    none = PointLabels(np.array([], dtype=object), *(np.array([], np.int64),) * 3)

    def draw(seed, round_):
        config = TrainConfig(data=dataset, classes="classes.csv", out=tmp_path, seed=seed)
        annotator = clicks_module._Annotator(config, ClickLoop(k=5, spacing=1, query="power"), [pair], masks, TABLE)
        points, _ = annotator.click("suggested", round_, tmp_path / f"{seed}-{round_}/suggested/round-{round_}", none, none)
        return set(zip(points.rows.tolist(), points.cols.tolist()))

    first = draw(seed=0, round_=1)
    assert len(first) == 5 and draw(seed=0, round_=1) == first
    assert draw(seed=0, round_=2) != first and draw(seed=1, round_=1) != first


def test_the_loops_at_neighbouring_seeds_draw_other_points(dataset, tmp_path):
    pairs = discover_pairs(dataset)
    masks = load_masks(pairs, TABLE)

    def pixels(points):
        return set(zip(points.keys.tolist(), points.rows.tolist(), points.cols.tolist()))

    def initial(seed):
        return simulate_points(masks, PointSpec(per_image=40), "random", seed)

    def random_round(seed, round_):
        config = TrainConfig(data=dataset, classes="classes.csv", out=tmp_path, seed=seed)
        annotator = clicks_module._Annotator(config, ClickLoop(k=40), pairs, masks, TABLE)
        points, _ = annotator.click("random", round_, tmp_path / f"{seed}/random/round-{round_}", initial(seed), initial(seed))
        return points.without(initial(seed))

    # 40 of the 1,920 pixels of each of 6 images: about 5 pixels in common between two independent draws
    assert len(pixels(random_round(0, 1)) & pixels(initial(1))) < 20  # 48 of 240 before: seed 0 x 1009 + round 1 = seed 1
    assert len(pixels(random_round(0, 2)) & pixels(random_round(1, 1))) < 20


def test_the_loops_balanced_query_weighs_the_classes_the_masks_gave_not_the_models_guesses(dataset, tmp_path, monkeypatch):
    pair = discover_pairs(dataset)[0]
    masks = load_masks([pair], TABLE)
    height, width = masks[pair.key].shape
    probabilities = halves(height, width, np.float32)  # equal entropies: class 0 predicted left, class 1 right
    monkeypatch.setattr(Segmenter, "from_checkpoint", lambda *args: FixedModel(probabilities))
    rows, cols = np.divmod(np.arange(480), width // 2)
    keys = np.array([pair.key] * 480, dtype=object)
    cols = cols + width // 2  # on the right half: a plain draw would favour the left, with more free pixels
    taken = PointLabels(keys, rows, cols, np.zeros(480, np.int64))  # the masks' answers: class 0, 480 times
    shown = PointLabels(keys, rows, cols, np.ones(480, np.int64))  # the model's guesses there: class 1
    config = TrainConfig(data=dataset, classes="classes.csv", out=tmp_path, seed=0)

    def right(query):
        annotator = clicks_module._Annotator(config, ClickLoop(k=10, spacing=1, query=query), [pair], masks, TABLE)
        points, _ = annotator.click("suggested", 1, tmp_path / f"{query}/suggested/round-1", taken, shown)
        assert len(points) == 490
        return int((points.cols[480:] >= width // 2).sum())

    assert right("balanced") >= 9 and right("power") <= 3  # class 1, predicted on the right, has no label yet


@pytest.mark.parametrize("fine_tune", [False, True])
def test_a_fine_tuned_round_starts_from_its_arms_previous_model(dataset, classes_csv, tmp_path, monkeypatch, fine_tune):
    starts = {}

    def train(config):
        starts[str(config.out.relative_to(tmp_path))] = config.init_weights
        return SimpleNamespace(metrics={"miou": 0.5, "accuracy": 0.5, "per_class_iou": {}})

    probabilities = np.full((3, 40, 48), 1 / 3, np.float32)
    monkeypatch.setattr(clicks_module, "train", train)
    monkeypatch.setattr(Segmenter, "from_checkpoint", lambda *args: FixedModel(probabilities))
    given = tmp_path / "pretrained.ckpt"
    config = TrainConfig(data=dataset, classes=classes_csv, out=tmp_path, init_weights=given)
    clicks_module.simulate_clicks(config, ClickLoop(rounds=2, k=1, initial_points=1, fine_tune=fine_tune))
    expected = {"initial/round-0": given} | {f"{arm}/round-{r}": given for arm in ("suggested", "random") for r in (1, 2)}
    if fine_tune:
        expected |= {f"{arm}/round-1": tmp_path / "initial/round-0/model.ckpt" for arm in ("suggested", "random")}
        expected |= {f"{arm}/round-2": tmp_path / f"{arm}/round-1/model.ckpt" for arm in ("suggested", "random")}
    assert starts == expected


def test_repeats_train_each_round_again_on_its_points_at_other_seeds_and_score_the_mean(
    dataset, classes_csv, tmp_path, monkeypatch
):
    trained, asked = {}, []

    def train(config):
        run = str(config.out.relative_to(tmp_path))
        held_out = [pair.key for pair in split_dataset(config)[3]]
        trained[run] = (config.seed, config.points_file.read_text(), held_out)
        return SimpleNamespace(
            metrics={"miou": 0.25 if config.seed == 0 else 0.75, "accuracy": 0.5, "per_class_iou": {"land": 0.5}}
        )

    unsure, sure = np.full((3, 40, 48), 1 / 3, np.float32), np.full((3, 40, 48), 0.01, np.float32)
    sure[0] = 0.98

    def load(path, *args):
        asked.append(path.relative_to(tmp_path))
        return FixedModel(unsure if len(asked) == 1 else sure)

    monkeypatch.setattr(clicks_module, "train", train)
    monkeypatch.setattr(Segmenter, "from_checkpoint", load)
    config = TrainConfig(data=dataset, classes=classes_csv, out=tmp_path)
    rows = clicks_module.simulate_clicks(config, ClickLoop(rounds=1, k=1, initial_points=1, repeats=2))
    runs = ["initial/round-0", "suggested/round-1", "random/round-1"]
    assert sorted(trained) == sorted(runs + [f"{run}/repeat-1" for run in runs])
    for run in runs:  # the same points and validation images, the loop's seed and another
        assert trained[run][0] == 0 and trained[f"{run}/repeat-1"][0] == 100_003
        assert trained[run][1:] == trained[f"{run}/repeat-1"][1:] and trained[run][2] == ["part_1/img_1"]
    assert asked == [Path("initial/round-0/model.ckpt"), Path("initial/round-0/repeat-1/model.ckpt")]
    with (tmp_path / "suggested/round-1/suggestions.csv").open() as handle:  # drawn from both trainings' mean
        scores = [float(row["entropy"]) for row in csv.DictReader(handle)]
    mean = np.array([(1 / 3 + 0.98) / 2, (1 / 3 + 0.01) / 2, (1 / 3 + 0.01) / 2])
    assert len(scores) == 5 and scores == pytest.approx([-(mean * np.log(mean)).sum()] * 5, abs=1e-4)  # one per training image
    assert [(r["miou"], r["miou_std"], r["iou_land"]) for r in rows] == [(0.5, pytest.approx(0.5**0.5 / 2), 0.5)] * 4
    with pytest.raises(ConfigError, match="--repeats 2 with --fine-tune: each repeat would need a previous model"):
        ClickLoop(repeats=2, fine_tune=True)
    with pytest.raises(ConfigError, match="--repeats must be 1 or more, not 0"):
        ClickLoop(repeats=0)
    for bad in ({"rounds": 0}, {"initial_points": 0}):  # the library refuses them as the command line does
        with pytest.raises(ConfigError, match="the loop needs at least one of each"):
            ClickLoop(**bad)


def test_a_loop_resumes_only_with_its_own_settings_and_training_options(tmp_path):
    with pytest.raises(ConfigError, match="random share"):
        ClickLoop(random_share=1.0)
    with pytest.raises(ConfigError, match="1 random and 0 suggested"):
        ClickLoop(k=1, random_share=0.6)  # round(0.6) = 1 of 1: no suggestion left
    with pytest.raises(ConfigError, match="0 random and 4 suggested"):
        ClickLoop(k=4, random_share=0.1)  # round(0.4) = 0: no random click
    assert ClickLoop(k=4, random_share=0.25).random_k == 1
    with pytest.raises(ConfigError, match="unknown query strategy 'margin'"):
        ClickLoop(query="margin")
    with pytest.raises(ConfigError, match="suggestions per image must be at least 1, not 0"):  # before round 0 trains
        ClickLoop(k=0)
    config = TrainConfig(data="data", classes="classes.csv", out=tmp_path, seed=0)
    clicks_module._record_loop(tmp_path, ClickLoop(k=5), config.model_copy(update={"lr": 0.5}))
    clicks_module._record_loop(tmp_path, ClickLoop(k=5), config)  # no round finished yet: the corrected command replaces it
    assert json.loads((tmp_path / "loop.json").read_text())["training"]["lr"] == 0.001
    (tmp_path / "initial/round-0").mkdir(parents=True)
    (tmp_path / "initial/round-0/round.json").write_text("{}")  # once a round has finished, the loop keeps its settings
    clicks_module._record_loop(tmp_path, ClickLoop(k=5), config.model_copy(update={"accelerator": "gpu"}))  # resumed
    with pytest.raises(ConfigError, match=r"other settings: --k\n"):
        clicks_module._record_loop(tmp_path, ClickLoop(k=6), config)
    recorded = json.loads((tmp_path / "loop.json").read_text())
    assert recorded["click_stream"] == clicks_module.CLICK_STREAM == 2
    del recorded["click_stream"]  # a loop begun before the rounds' clicks had streams of their own
    (tmp_path / "loop.json").write_text(json.dumps(recorded))
    assert clicks_module._record_loop(tmp_path, ClickLoop(k=5, rounds=4), config)["click_stream"] == 1  # goes on as begun
    assert json.loads((tmp_path / "loop.json").read_text())["click_stream"] == 1
    # the same folders given as absolute paths, and rounds added, resume it
    absolute = config.model_copy(update={"data": Path("data").resolve(), "classes": Path("classes.csv").resolve()})
    clicks_module._record_loop(tmp_path, ClickLoop(k=5, rounds=5), absolute)
    assert json.loads((tmp_path / "loop.json").read_text())["rounds"] == 5
    with pytest.raises(ConfigError, match=r"other settings: --data\n"):
        clicks_module._record_loop(tmp_path, ClickLoop(k=5), config.model_copy(update={"data": Path("other")}))
    recorded = json.loads((tmp_path / "loop.json").read_text())
    older = {k: v for k, v in recorded.items() if k not in ("fine_tune", "boundary_gap", "query")}
    older["training"] = {k: v for k, v in recorded["training"].items() if k not in ("lr", "precise_bn")}
    older["training"]["superpixel_schedule"] = "constant"
    (tmp_path / "loop.json").write_text(json.dumps(older))
    # a loop begun before --fine-tune, --boundary-gap, --query and --precise-bn, with an option removed and without one
    # added since, resumes with the values it ran with
    config = config.model_copy(update={"precise_bn": 0})
    read = clicks_module.read_loop(tmp_path)["training"]  # the removed option left out: TrainConfig takes the rest
    assert "superpixel_schedule" not in read and TrainConfig(**read, out=tmp_path).precise_bn == 0
    clicks_module._record_loop(tmp_path, ClickLoop(k=5, query="entropy"), config)
    (tmp_path / "loop.json").write_text(json.dumps(older))
    with pytest.raises(ConfigError, match=r"other settings: --precise-bn\n"):  # its BatchNorm kept the running averages
        clicks_module._record_loop(tmp_path, ClickLoop(k=5, query="entropy"), config.model_copy(update={"precise_bn": 1024}))
    (tmp_path / "loop.json").write_text(json.dumps(older))
    with pytest.raises(ConfigError, match=r"other settings: --query\n"):  # it ran with entropy, before power was the default
        clicks_module._record_loop(tmp_path, ClickLoop(k=5), config)
    (tmp_path / "loop.json").write_text(json.dumps(older))
    with pytest.raises(ConfigError, match=r"other settings: --boundary-gap\n"):  # it ran without the gap
        clicks_module._record_loop(tmp_path, ClickLoop(k=5, query="entropy", boundary_gap=4), config)
    (tmp_path / "loop.json").write_text(json.dumps(older))
    with pytest.raises(ConfigError, match=r"other settings: --lr\n"):  # it ran at the default learning rate
        clicks_module._record_loop(tmp_path, ClickLoop(k=5, query="entropy"), config.model_copy(update={"lr": 0.01}))
    with pytest.raises(ConfigError, match=r"other settings: --fine-tune\n"):
        clicks_module._record_loop(tmp_path, ClickLoop(k=5, query="entropy", fine_tune=True), config)
    with pytest.raises(ConfigError, match=r"other settings: --query\n"):  # it ran with the entropy query
        clicks_module._record_loop(tmp_path, ClickLoop(k=5, query="typical"), config)
    with pytest.raises(ConfigError, match=r"other settings: --seed, --width\n"):
        clicks_module._record_loop(tmp_path, ClickLoop(k=5, query="entropy"), config.model_copy(update={"seed": 1, "width": 8}))
    (tmp_path / "loop.json").write_text('{"rounds": 3,')  # cut short
    with pytest.raises(ConfigError, match="loop.json is not valid JSON"):
        clicks_module._record_loop(tmp_path, ClickLoop(k=5), config)
    with pytest.raises(ConfigError, match="is a file"):
        clicks_module._record_loop(tmp_path / "loop.json", ClickLoop(k=5), config)
    (tmp_path / "loop.json").write_text("[3, 20]")  # valid JSON, but no settings
    with pytest.raises(ConfigError, match="loop.json holds a JSON list, not an object"):
        clicks_module._record_loop(tmp_path, ClickLoop(k=5), config)


def test_a_loop_refuses_training_options_that_replace_its_points(tmp_path, classes_csv):
    for update in ({"points": "full"}, {"points_file": tmp_path / "p.csv"}, {"point_labels": tmp_path / "p.gpkg"}):
        config = TrainConfig(data="data", classes="classes.csv", out=tmp_path, **update)
        with pytest.raises(ConfigError, match="trains on its own points"):
            clicks_module.simulate_clicks(config, ClickLoop())
    for update, named in (({"points": "50"}, "--points"), ({"points": "50", "strategy": "grid"}, "--points and --strategy")):
        config = TrainConfig(data="data", classes="classes.csv", out=tmp_path, **update)
        with pytest.raises(ConfigError, match=f"draws its own points: {named} would be ignored"):
            clicks_module.simulate_clicks(config, ClickLoop())
    with pytest.raises(DatasetError, match="dataset folder not found"):  # a mistyped --data records no loop
        clicks_module.simulate_clicks(TrainConfig(data=tmp_path / "dta", classes=classes_csv, out=tmp_path), ClickLoop())
    assert not (tmp_path / "loop.json").exists()


def test_a_garbled_round_mark_names_the_round_to_train_again(tmp_path):
    run = tmp_path / "suggested/round-1"
    run.mkdir(parents=True)
    (run / "round.json").write_text("garbage")
    with pytest.raises(ConfigError, match="round.json is not valid JSON") as caught:
        clicks_module._finished(run)
    assert caught.value.fix == f"delete {run} to train that round again"


@pytest.mark.slow
def test_the_click_loop_is_reproducible_resumes_and_scores_every_round(dataset, classes_csv, tmp_path, capsys, monkeypatch):
    from pointseg import clicks
    from pointseg.cli import main

    trained = []

    def counting(real):
        def train(config):
            trained.append(config.out)
            return real(config)

        return train

    def run(out):
        argv = ["simulate-clicks", "--data", str(dataset), "--classes", str(classes_csv), "--out", str(out), "--rounds", "2",
                "--k", "3", "--initial-points", "2", "--spacing", "4", "--val-fraction", "0.34", "--crop", "32",
                "--width", "4", "--depth", "2", "--max-steps", "2", "--accelerator", "cpu"]  # fmt: skip
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 0, capsys.readouterr()
        with (out / "clicks.csv").open() as handle:
            return list(csv.DictReader(handle))

    first, second = run(tmp_path / "a"), run(tmp_path / "b")
    assert first == second  # the same seed: the same points and the same scores
    (tmp_path / "a/random/round-2/round.json").unlink()  # as if the loop had been stopped during its last training
    monkeypatch.setattr(clicks, "train", counting(clicks.train))
    assert run(tmp_path / "a") == first and trained == [tmp_path / "a/random/round-2"]  # only the unfinished round again
    assert [(r["arm"], r["round"]) for r in first] == [
        ("suggested", "0"), ("random", "0"), ("suggested", "1"), ("random", "1"), ("suggested", "2"), ("random", "2")
    ]  # fmt: skip
    random_arm = [int(r["points"]) for r in first if r["arm"] == "random"]
    assert random_arm == [4 * 2, 4 * 5, 4 * 8]  # 4 training images: 2 points each, then 3 more per round
    assert all(float(r["miou"]) >= 0 for r in first) and (tmp_path / "a/clicks.png").stat().st_size > 0
    suggested = (tmp_path / "a/suggested/round-2/points.csv").read_text().splitlines()
    assert (tmp_path / "a/suggested/round-2/points.csv").read_text() == (tmp_path / "b/suggested/round-2/points.csv").read_text()
    assert len(suggested) - 1 == int(first[4]["points"]) and len(set(suggested[1:])) == len(suggested) - 1


def test_a_diverged_round_is_named_in_the_error(tmp_path, monkeypatch):
    def diverge(config):
        raise TrainingDiverged(step=3, loss=float("nan"))

    monkeypatch.setattr(clicks_module, "train", diverge)
    config = TrainConfig(data="data", classes="classes.csv", out=tmp_path)
    run = tmp_path / "random/round-2"
    points = PointLabels(np.array(["a"], dtype=object), np.array([1]), np.array([2]), np.array([0]))
    with pytest.raises(TrainingDiverged, match=f"step 3: the loss is not finite, in {run} ") as caught:
        clicks_module._train_round(config, run, points, TABLE, lambda: None)
    assert caught.value.step == 3 and not (run / "round.json").exists()  # not marked done: trained again on resume


def test_a_round_of_a_loop_taken_over_meanwhile_is_not_marked_done(tmp_path, monkeypatch):
    monkeypatch.setattr(clicks_module, "train", lambda config: SimpleNamespace(metrics={"miou": 0.5}))
    config = TrainConfig(data="data", classes="classes.csv", out=tmp_path)
    first = clicks_module._record_loop(tmp_path, ClickLoop(k=5), config)
    check = partial(clicks_module._require_loop, tmp_path, first)
    clicks_module._record_loop(tmp_path, ClickLoop(k=6), config)  # another command, while round 0 trains: no round done
    run = tmp_path / "initial/round-0"
    points = PointLabels(np.array(["a"], dtype=object), np.array([1]), np.array([2]), np.array([0]))
    with pytest.raises(ConfigError, match="another command took the click loop of .* for other settings"):
        clicks_module._train_round(config, run, points, TABLE, check)
    assert not (run / "round.json").exists()
    clicks_module._record_loop(tmp_path, ClickLoop(k=5, rounds=7), config)  # the same loop, more rounds
    assert clicks_module._train_round(config, run, points, TABLE, check) == {"miou": 0.5}
    assert (run / "round.json").exists()
