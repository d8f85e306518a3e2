import json

import numpy as np
import pytest
from PIL import Image

from pointseg.data.discover import discover_pairs
from pointseg.demo import CREDIT, run_demo, sample_root

pytestmark = pytest.mark.slow


def test_the_sample_ships_with_the_package():
    pairs = discover_pairs(sample_root())
    assert len(pairs) == 18
    assert {p.key.split("/")[0] for p in pairs} == {f"tile_{t}" for t in range(1, 7)}
    assert Image.open(sample_root() / "tile_2/masks/image_part_001.png").mode == "P"


def test_demo_runs_the_whole_pipeline(tmp_path):
    result = run_demo(tmp_path / "demo", max_steps=4, accelerator="cpu")
    metrics = json.loads((result.run / "metrics.json").read_text())
    assert metrics == result.metrics
    report = result.report.read_text()
    assert CREDIT in report
    assert f"| mIoU | {metrics['miou']:.4f} |" in report
    assert f"| land | {metrics['per_class_iou']['land']:.4f} |" in report
    predictions = sorted((tmp_path / "demo/predictions").glob("*.png"))
    assert len(predictions) == 4  # 0.2 of 18 images held out
    colours = {tuple(c) for c in np.asarray(Image.open(predictions[0])).reshape(-1, 3)}
    assert colours <= {(132, 41, 246), (226, 169, 41), (60, 16, 152), (254, 221, 58), (110, 193, 228)}
    assert Image.open(result.figure).size[0] > 800
