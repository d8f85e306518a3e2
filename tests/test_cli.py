"""The command line: its contract, its output and its errors (exit status 2, no traceback)."""

import csv
import json
import os
import signal

import pytest

from pointseg.cli import main
from pointseg.task import PointSegModule


def run(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_points_writes_and_summarises(dataset, classes_csv, tmp_path, capsys):
    code, out, _ = run(
        ["points", "--data", str(dataset), "--classes", str(classes_csv), "--points", "12",
         "--strategy", "class-balanced", "--seed", "3", "--out", str(tmp_path / "pts")], capsys,
    )  # fmt: skip
    assert code == 0
    summary = json.loads((tmp_path / "pts/points.json").read_text())
    assert summary["total"] == 72
    assert summary["per_class"] == {"land": 24, "water": 24, "road": 24}
    assert summary["settings"] == {"points": "12", "strategy": "class-balanced", "seed": 3}
    assert "72 points on 6 images" in out
    assert len((tmp_path / "pts/points.csv").read_text().splitlines()) == 73


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "/no/such/folder"], "dataset folder not found: /no/such/folder"),
        (["--points", "many"], "--points 'many' is neither"),
        (["--classes", "/no/classes.csv"], "classes table not found"),
        (["--vector", "points.txt"], "points.txt: unknown ending '.txt'"),
    ],
)
def test_user_errors_are_one_message_with_a_fix(dataset, classes_csv, tmp_path, capsys, args, message):
    base = {"--data": str(dataset), "--classes": str(classes_csv), "--points": "5", "--out": str(tmp_path / "o")}
    base.update(dict(zip(args[::2], args[1::2])))
    code, _, err = run(["points", *[x for kv in base.items() for x in kv]], capsys)
    assert code == 2
    assert message in " ".join(err.split())
    assert "fix:" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # refused before anything is written


@pytest.mark.parametrize("option, path", [("--out", "afile"), ("--vector", "afile/points.gpkg")])
def test_an_output_folder_where_a_file_is_is_one_message_with_a_fix(dataset, classes_csv, tmp_path, capsys, option, path):
    (tmp_path / "afile").write_text("kept")
    args = {"--out": str(tmp_path / "pts"), option: str(tmp_path / path)}
    code, _, err = run(["points", "--data", str(dataset), "--classes", str(classes_csv), "--points", "5",
                        *[x for kv in args.items() for x in kv]], capsys)  # fmt: skip
    assert code == 2 and "Traceback" not in err and (tmp_path / "afile").read_text() == "kept"
    assert f"cannot make the folder {tmp_path / 'afile'}: a file is in the way" in " ".join(err.split()) and "fix:" in err


def test_an_output_file_where_a_folder_is_is_one_message_with_a_fix(dataset, classes_csv, tmp_path, capsys):
    (tmp_path / "pts/points.csv").mkdir(parents=True)
    code, _, err = run(["points", "--data", str(dataset), "--classes", str(classes_csv), "--points", "5",
                        "--out", str(tmp_path / "pts")], capsys)  # fmt: skip
    assert code == 2 and "Traceback" not in err and (tmp_path / "pts/points.csv").is_dir()
    assert [path.name for path in (tmp_path / "pts").iterdir()] == ["points.csv"]  # no half-written file left
    assert f"cannot write {tmp_path / 'pts/points.csv'}: a folder is in the way" in " ".join(err.split()) and "fix:" in err


def test_bad_option_values_name_the_option(dataset, classes_csv, tmp_path, capsys):
    common = ["train", "--data", str(dataset), "--classes", str(classes_csv), "--out", str(tmp_path / "o")]
    code, _, err = run([*common, "--lr", "-1"], capsys)
    assert code == 2 and "--lr" in err and "greater than 0" in err
    code, _, err = run([*common, "--epochs", "2", "--max-steps", "3"], capsys)
    assert code == 2 and "either --epochs or --max-steps" in err
    code, _, err = run([*common, "--optimizer", "adamax"], capsys)
    assert code == 2 and "adamax" in err
    for option, least in (("--size", 32), ("--batch", 1), ("--repeats", 1), ("--bands", 1)):  # before any network is built
        code, _, err = run(["models", option, str(least - 1)], capsys)
        assert code == 2 and f"Invalid value for '{option}'" in err and f"greater than or equal to {least}" in err
    for command in (["points", "--points", "5"], ["suggest", "--checkpoint", "m.ckpt", "--k", "3"]):  # seeds a draw takes
        code, _, err = run([*command, "--data", str(dataset), "--out", str(tmp_path / "p"), "--seed", "-1"], capsys)
        assert code == 2 and "--seed" in err and "greater than or equal to 0" in err and "Traceback" not in err


def test_a_missing_or_foreign_checkpoint(tmp_path, dataset, capsys):
    code, _, err = run(
        ["predict", "--checkpoint", str(tmp_path / "none.ckpt"), "--input", str(dataset), "--out", str(tmp_path)], capsys
    )
    assert code == 2 and "checkpoint not found" in err
    junk = tmp_path / ("long-folder-name-" * 4) / "junk.ckpt"  # the message runs past 80 columns
    junk.parent.mkdir()
    junk.write_bytes(b"junk")
    code, _, err = run(["evaluate", "--checkpoint", str(junk), "--data", str(dataset)], capsys)
    assert code == 2 and f"error: {junk} is not a pointseg checkpoint" in err  # one line, the path whole for copying


@pytest.mark.slow
def test_train_evaluate_predict_from_the_command_line(dataset, classes_csv, tmp_path, capsys):
    run_dir = tmp_path / "run"
    code, out, _ = run(
        ["train", "--data", str(dataset), "--classes", str(classes_csv), "--out", str(run_dir), "--points", "0.01",
         "--max-steps", "6", "--crop", "32", "--batch-size", "2", "--width", "4", "--depth", "2",
         "--accelerator", "cpu", "--no-progress-bar"], capsys,
    )  # fmt: skip
    assert code == 0
    assert "mIoU" in out and "run folder" in out
    config = json.loads((run_dir / "config.json").read_text())
    assert config["points"] == "0.01" and config["max_steps"] == 6 and config["strategy"] == "random"
    # 0.01 of 40 x 48 pixels is 19 points on each of the 5 training images (one held out)
    assert json.loads((run_dir / "points.json").read_text())["total"] == 5 * 19
    code, out, _ = run(
        ["evaluate", "--checkpoint", str(run_dir / "model.ckpt"), "--data", str(dataset), "--accelerator", "cpu"], capsys
    )
    assert code == 0
    metrics = json.loads((run_dir / "evaluation/metrics.json").read_text())
    assert sum(map(sum, metrics["confusion_matrix"])) == 6 * 40 * 48
    code, out, _ = run(
        ["predict", "--checkpoint", str(run_dir / "model.ckpt"), "--input", str(dataset), "--out", str(tmp_path / "pred")], capsys
    )
    assert code == 0 and "6 predictions written" in out


def test_a_training_stopped_by_sigterm_fails_with_status_143(dataset, classes_csv, tmp_path, capsys, monkeypatch):
    step = PointSegModule.training_step

    def terminated_at_step_2(module, batch, batch_idx):  # as a batch system's time limit does
        if module.global_step == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return step(module, batch, batch_idx)

    monkeypatch.setattr(PointSegModule, "training_step", terminated_at_step_2)
    code, _, err = run(
        ["train", "--data", str(dataset), "--classes", str(classes_csv), "--out", str(tmp_path / "run"), "--points", "5",
         "--max-steps", "50", "--crop", "16", "--batch-size", "2", "--width", "4", "--depth", "2",
         "--accelerator", "cpu", "--no-progress-bar"], capsys,
    )  # fmt: skip
    assert code == 143  # Lightning's own exit status here is 0: a job stopped half-way would pass for done
    assert "terminated by SIGTERM" in " ".join(err.split()) and "Traceback" not in err
    assert not (tmp_path / "run/model.ckpt").exists()
    # a sweep's training so stopped: the same status and message, the configuration to train again on resume
    code, _, err = run(
        ["sweep", "--data", str(dataset), "--classes", str(classes_csv), "--out", str(tmp_path / "sweep"), "--points", "5",
         "--lr", "0.01", "--batch-size", "2", "--max-steps", "50", "--crop", "16", "--width", "4", "--depth", "2",
         "--accelerator", "cpu", "--no-progress-bar"], capsys,
    )  # fmt: skip
    assert code == 143 and "terminated by SIGTERM" in " ".join(err.split()) and "Traceback" not in err


def test_labelled_crop_placement_puts_a_point_in_every_crop(dataset, classes_csv, tmp_path, capsys):
    code, _, _ = run(
        ["train", "--data", str(dataset), "--classes", str(classes_csv), "--out", str(tmp_path / "run"), "--points", "1",
         "--max-steps", "4", "--crop", "16", "--batch-size", "2", "--width", "4", "--depth", "2", "--precise-bn", "0",
         "--crop-placement", "labelled", "--accelerator", "cpu", "--no-progress-bar"], capsys,
    )  # fmt: skip
    assert code == 0 and json.loads((tmp_path / "run/config.json").read_text())["crop_placement"] == "labelled"
    with (tmp_path / "run/metrics.csv").open() as handle:
        labelled = [float(row["train_labelled_pixels"]) for row in csv.DictReader(handle) if row["train_labelled_pixels"]]
    assert labelled == [8.0]  # 4 steps of 2 crops of 16 px, each holding its image's one point (1 crop in 3 at random)


def test_only_the_first_process_of_a_distributed_training_reports(dataset, classes_csv, tmp_path, capsys, monkeypatch):
    from lightning.pytorch.utilities import rank_zero_only

    from pointseg import training

    # every process but the first gets no metrics back: it used to say "no validation image" beside the first's table
    monkeypatch.setattr(training, "train", lambda config: training.TrainResult(tmp_path / "model.ckpt", None, None))
    argv = ["train", "--data", str(dataset), "--classes", str(classes_csv), "--out", str(tmp_path / "run")]
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    assert run(argv, capsys) == (0, "", "")
    monkeypatch.setattr(rank_zero_only, "rank", 0)
    code, out, _ = run(argv, capsys)
    assert code == 0 and "no validation image" in out  # a run without validation, as the first process says it


@pytest.mark.slow
def test_sweep_and_report_from_the_command_line(dataset, classes_csv, tmp_path, capsys):
    config = tmp_path / "sweep.yaml"
    out = tmp_path / "sweep"
    config.write_text(
        f"data: {dataset}\nclasses: {classes_csv}\nout: {out}\ncrop: 32\nwidth: 4\ndepth: 2\nmax_steps: 100\nseeds: 3\n"
    )  # the sweep's folder in the file too
    argv = ["sweep", "--config", str(config), "--lr", "0.01,0.005", "--batch-size", "2", "--max-steps", "3",
            "--seeds", "1", "--points", "20", "--val-fraction", "0.34", "--accelerator", "cpu", "--no-progress-bar",
            "--description", "Toy rasters made by the tests."]  # fmt: skip
    code, out_text, _ = run(argv, capsys)
    assert code == 0
    assert "sweep of 2 trainings (steps budget 3)" in out_text and "2 of 2 configurations stored" in out_text
    stored = json.loads((out / "sweep.json").read_text())
    assert stored["axes"] == {"lr": [0.01, 0.005]} and stored["base"]["crop"] == 32 and stored["amount"] == 3
    code, out_text, _ = run([*argv, "--retry-failed"], capsys)  # resumed: nothing to train
    assert code == 0 and "nothing to train again" in out_text and "2 of 2 configurations stored" in out_text
    code, out_text, _ = run(["report", str(out)], capsys)
    assert code == 0 and "report.html" in out_text
    assert "\n\nToy rasters made by the tests. 2 of 2 trainings stored" in (out / "report.md").read_text()
    assert (out / "results.csv").read_text().count("\n") == 3
    code, _, err = run(["sweep", "--data", str(dataset), "--classes", str(classes_csv), "--out", str(tmp_path / "x"),
                        "--learning-rate", "0.1"], capsys)  # fmt: skip
    assert code == 2 and "--learning-rate is not an option of pointseg train" in err


@pytest.mark.slow
def test_models_measures_every_network(tmp_path, capsys):
    from pointseg.models import ModelConfig, build_model

    code, out_text, _ = run(
        ["models", "--size", "32", "--batch", "1", "--width", "2", "--repeats", "1", "--csv", str(tmp_path / "m.csv")], capsys
    )
    assert code == 0 and "networks at width 2, 32 x 32 px, 3 bands, on cpu" in out_text
    with (tmp_path / "m.csv").open() as handle:
        rows = {r["name"]: r for r in csv.DictReader(handle)}
    assert list(rows) == ["unet", "resunet", "attention-unet", "deeplabv3plus", "segformer"]
    for name, row in rows.items():
        model = build_model(ModelConfig(name=name, num_classes=6, width=2))
        assert int(row["parameters"]) == sum(p.numel() for p in model.parameters())
        assert float(row["gflops"]) > 0 and float(row["train_images_per_s"]) > 0 and float(row["train_peak_mb"]) >= 0


def test_accelerators_resolve_to_the_devices_they_name(monkeypatch):
    import torch

    from pointseg.errors import ConfigError
    from pointseg.predict import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)  # an Apple laptop
    assert [resolve_device(name).type for name in ("auto", "gpu", "mps", "cpu")] == ["mps", "mps", "mps", "cpu"]
    with pytest.raises(ConfigError, match="--accelerator cuda: no CUDA GPU here"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="--accelerator gpu: no such device here"):
        resolve_device("gpu")
