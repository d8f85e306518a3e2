"""Simulated annotation rounds: suggested against random clicks."""

import csv

import numpy as np
import pytest
import torch

from conftest import COLOURS
from pointseg.classes import IGNORE_INDEX, ClassTable
from pointseg.clicks import ClickLoop, random_clicks, suggested_clicks
from pointseg.data.dataset import BandStats
from pointseg.data.discover import discover_pairs
from pointseg.data.masks import load_masks
from pointseg.data.points import PointLabels
from pointseg.models import ModelConfig
from pointseg.predict import Segmenter
from pointseg.task import PointSegModule

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
    torch.manual_seed(0)
    module = PointSegModule(ModelConfig(in_channels=3, num_classes=3, width=4, depth=2).model_dump(), TABLE.to_dict(),
                            BandStats((128.0,) * 3, (64.0,) * 3).to_dict())  # fmt: skip
    segmenter = Segmenter(module.eval(), torch.device("cpu"))
    pairs = discover_pairs(dataset)[:2]
    masks = load_masks(pairs, TABLE)
    taken = PointLabels(np.array([p.key for p in pairs], dtype=object), np.array([5, 6]), np.array([7, 8]), np.array([0, 1]))
    clicks = suggested_clicks(segmenter, pairs, masks, taken, ClickLoop(k=4, spacing=5))
    for pair, (row, col) in zip(pairs, [(5, 7), (6, 8)]):
        own = clicks.of_image(pair.key)
        assert len(own) == 4 and np.array_equal(own.classes, masks[pair.key][own.rows, own.cols])
        assert (np.maximum(np.abs(own.rows - row), np.abs(own.cols - col)) >= 5).all()  # spacing from the labelled pixel


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
