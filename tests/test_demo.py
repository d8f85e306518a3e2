import csv

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


def test_demo_runs_the_classic_study_and_reports_it(tmp_path):
    result = run_demo(tmp_path / "demo", epochs=1, accelerator="cpu")
    with result.results.open() as handle:
        rows = list(csv.DictReader(handle))
    assert sorted((float(r["lr"]), int(r["batch_size"])) for r in rows) == [
        (lr, bs) for lr in (0.001, 0.01) for bs in (16, 32, 64)
    ]
    assert {r["status"] for r in rows} <= {"done", "diverged"}
    report = result.report.read_text()
    assert CREDIT in report
    assert "1 epochs" in report
    best = max((r for r in rows if r["status"] == "done"), key=lambda r: float(r["miou"]))
    assert f"| {best['lr']} | {best['batch_size']} |" in report
    assert f"{float(best['miou']):.4f}" in report
    assert (tmp_path / "demo/figures/heatmap.png").is_file()
    assert Image.open(tmp_path / "demo/figures/predictions.png").size[0] > 800
    # the sweep's points: 0.04 % of the 14 training images' pixels, drawn once for all configurations
    with (tmp_path / "demo/points/0.0004_random/points.csv").open() as handle:
        assert 900 < sum(1 for _ in csv.DictReader(handle)) < 1000


def test_a_demo_on_a_device_this_machine_lacks_is_refused_before_training(tmp_path, capsys):
    from pointseg.cli import main

    with pytest.raises(SystemExit) as info:  # every configuration used to fail on it, and a rerun trained nothing
        main(["demo", "--accelerator", "gpu", "--out", str(tmp_path / "demo"), "--epochs", "1"])
    err = " ".join(capsys.readouterr().err.split())
    assert info.value.code == 2 and "cannot set up Lightning with accelerator='gpu'" in err and "fix:" in err
    assert not (tmp_path / "demo/runs").exists()
