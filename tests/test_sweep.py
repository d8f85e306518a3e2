"""The sweep: a grid in an Optuna study that resumes, records failures and shares work."""

import csv
import json
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import optuna
import pytest
from PIL import Image

import pointseg.sweep as sweep_module
from conftest import COLOURS, make_dataset
from pointseg.errors import ConfigError, DatasetError, PointsegWarning, TrainingDiverged
from pointseg.sweep import build_spec, collect_results, run_name, run_sweep
from pointseg.sweep_report import write_report

pytestmark = pytest.mark.slow


def tiny_options(dataset, classes_csv, **extra):
    options = {
        "data": str(dataset), "classes": str(classes_csv), "points": "20", "val_fraction": 0.34, "crop": 32,
        "width": 4, "depth": 2, "accelerator": "cpu", "progress_bar": False, "batch_size": 2, "max_steps": 6,
    }  # fmt: skip
    return options | extra


@pytest.fixture
def count_trainings(monkeypatch):
    calls = []
    real = sweep_module.train

    def counting(config, callbacks=()):
        calls.append(config.out.name)
        return real(config, callbacks=callbacks)

    monkeypatch.setattr(sweep_module, "train", counting)
    return calls


def test_sweep_stores_results_resumes_and_reports(dataset, classes_csv, tmp_path, count_trainings):
    spec = build_spec(tiny_options(dataset, classes_csv, lr="0.01,0.003"))
    out = tmp_path / "sweep"
    rows = run_sweep(spec, out)
    assert sorted(count_trainings) == ["lr=0.003_seed=0", "lr=0.01_seed=0"]
    assert {(r["lr"], r["status"]) for r in rows} == {(0.01, "done"), (0.003, "done")}
    for row in rows:
        metrics = json.loads((out / row["run"] / "metrics.json").read_text())
        assert row["miou"] == metrics["miou"] and row["kappa"] == metrics["kappa"]
    # every run trained on the same points, drawn once
    points = {(out / r["run"] / "points.csv").read_text() for r in rows}
    assert len(points) == 1
    # resume: nothing is trained again
    run_sweep(spec, out)
    assert len(count_trainings) == 2
    write_report(out)
    with (out / "results.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert sorted(float(r["miou"]) for r in table) == sorted(r["miou"] for r in rows)
    report = (out / "report.md").read_text()
    for row in rows:
        assert f"| {row['lr']} | " in report and f"{row['miou']:.4f}" in report
    assert "report.html" and "data:image/png;base64," in (out / "report.html").read_text()


def test_a_diverging_configuration_is_recorded_and_the_others_finish(dataset, classes_csv, tmp_path):
    spec = build_spec(tiny_options(dataset, classes_csv, lr="0.01,1000000"))
    rows = {r["lr"]: r for r in run_sweep(spec, tmp_path / "sweep")}
    assert rows[0.01]["status"] == "done" and rows[0.01]["miou"] is not None
    assert rows[1000000.0]["status"] == "diverged"
    assert rows[1000000.0]["step"] > 0 and "chance level" in rows[1000000.0]["message"]


def test_an_exception_is_a_failed_result(dataset, classes_csv, tmp_path, monkeypatch):
    real = sweep_module.train

    def flaky(config, callbacks=()):
        if config.lr > 0.005:
            raise RuntimeError("CUDA out of memory (simulated)\nTried to allocate 2 GiB")
        return real(config, callbacks=callbacks)

    monkeypatch.setattr(sweep_module, "train", flaky)
    rows = {r["lr"]: r for r in run_sweep(build_spec(tiny_options(dataset, classes_csv, lr="0.01,0.003")), tmp_path / "s")}
    assert rows[0.01]["status"] == "failed" and rows[0.01]["message"] == "RuntimeError: CUDA out of memory (simulated)"
    # the results keep one line; the run's outcome.json the whole error and where it was raised
    trace = json.loads((tmp_path / "s" / rows[0.01]["run"] / "outcome.json").read_text())["traceback"]
    assert "Tried to allocate 2 GiB" in trace and "in flaky" in trace
    assert rows[0.003]["status"] == "done"
    write_report(tmp_path / "s")  # the failed run logged nothing, but it ran here
    report = (tmp_path / "s/report.md").read_text()
    assert "another folder" not in report and "the table's final scores after PreciseBN" in report


def test_a_failed_configuration_is_trained_again_only_when_asked(dataset, classes_csv, tmp_path, monkeypatch):
    real = sweep_module.train
    calls = []

    def out_of_memory_once(config, callbacks=()):
        calls.append(config.out.name)
        if config.out.name == "lr=0.01_seed=0" and calls.count(config.out.name) == 1:  # its first training
            raise RuntimeError("CUDA out of memory (simulated)\nTried to allocate 2 GiB")
        return real(config, callbacks=callbacks)

    monkeypatch.setattr(sweep_module, "train", out_of_memory_once)
    spec = build_spec(tiny_options(dataset, classes_csv, lr="0.01,0.003"))
    first = {r["lr"]: r["status"] for r in run_sweep(spec, tmp_path / "s")}
    assert first == {0.01: "failed", 0.003: "done"} and sorted(calls) == ["lr=0.003_seed=0", "lr=0.01_seed=0"]
    run_sweep(spec, tmp_path / "s")  # a failure is a result: resuming does not train it again
    assert len(calls) == 2
    retried = []
    reordered = build_spec(tiny_options(dataset, classes_csv, lr="0.003,0.01"))  # the same sweep, its axis in another order
    rows = run_sweep(reordered, tmp_path / "s", retry_failed=True, on_retry=retried.append)
    assert calls[2:] == ["lr=0.01_seed=0"] and retried == [["lr=0.01_seed=0"]]  # only the failed one
    assert sorted((r["lr"], r["status"]) for r in rows) == [(0.003, "done"), (0.01, "done")]  # the retry's outcome replaces it
    assert all(r["miou"] is not None for r in rows) and collect_results(tmp_path / "s") == rows
    run_sweep(spec, tmp_path / "s", retry_failed=True, on_retry=retried.append)  # nothing left to retry
    assert len(calls) == 3 and retried[1:] == [[]]


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, lambda: SystemExit(1)], ids=["ctrl-c", "lightning-exit"])
def test_an_interrupted_configuration_runs_again_on_resume(dataset, classes_csv, tmp_path, monkeypatch, interruption):
    real = sweep_module.train
    calls = []

    def interrupted_once(config, callbacks=()):
        calls.append(config.out.name)
        if len(calls) == 2:
            raise interruption()  # Lightning answers Ctrl-C during fit with sys.exit(1)
        return real(config, callbacks=callbacks)

    monkeypatch.setattr(sweep_module, "train", interrupted_once)
    spec = build_spec(tiny_options(dataset, classes_csv, lr="0.01,0.003"))
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, tmp_path / "s")
    assert len(collect_results(tmp_path / "s")) == 1  # the finished one is kept
    rows = run_sweep(spec, tmp_path / "s")
    assert calls[2] == calls[1] and len(calls) == 3
    assert sorted(r["status"] for r in rows) == ["done", "done"]


def test_a_configuration_of_a_process_that_died_trains_once_its_heartbeat_is_found_stopped(
    dataset, classes_csv, tmp_path, monkeypatch, count_trainings
):
    spec = build_spec(tiny_options(dataset, classes_csv, lr="0.01,0.003", max_steps=2))
    (tmp_path / "s").mkdir()
    study = sweep_module.open_study(tmp_path / "s")
    sweep_module._store_spec(study, spec, tmp_path / "s", None)
    study.sampler = optuna.samplers.GridSampler({"lr": [0.01, 0.003], "seed": [0]}, seed=0)
    dead = study.ask()  # drawn from the grid by a process that then died: its grid point is taken
    dead.suggest_categorical("lr", [0.01, 0.003]), dead.suggest_categorical("seed", [0])
    calls = []

    def stale_after_the_first_look(study):  # Optuna fails a dead process's trial once its grace period is over
        calls.append(1)
        if len(calls) == 2:
            study.tell(dead.number, state=optuna.trial.TrialState.FAIL)

    monkeypatch.setattr(optuna.storages, "fail_stale_trials", stale_after_the_first_look)
    rows = run_sweep(spec, tmp_path / "s")  # the other configuration first, then the dead one's, in the same command
    assert sorted(r["lr"] for r in rows if r["status"] == "done") == [0.003, 0.01] and len(count_trainings) == 2


def test_two_processes_share_one_study(dataset, classes_csv, tmp_path):
    options = tiny_options(dataset, classes_csv, lr="0.01,0.003", batch_size="2,4")
    script = textwrap.dedent(
        f"""
        import sys
        from pointseg.sweep import build_spec, run_sweep
        spec = build_spec({options!r})
        with open(sys.argv[1], "w") as log:
            run_sweep(spec, {str(tmp_path / "shared")!r}, on_result=lambda o: (log.write(o["name"] + "\\n"), log.flush()))
        """
    )
    (tmp_path / "shared").mkdir()
    run_sweep(build_spec(options | {"lr": "0.01"}), tmp_path / "warm")  # points drawn and imports warm
    workers = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / f"log{i}")]) for i in range(2)]
    assert [w.wait(timeout=600) for w in workers] == [0, 0]
    trained = Counter(line for i in range(2) for line in (tmp_path / f"log{i}").read_text().splitlines())
    assert sorted(trained) == sorted(f"lr={lr}_batch_size={b}_seed=0" for lr in (0.01, 0.003) for b in (2, 4))
    assert set(trained.values()) == {1}
    assert len(collect_results(tmp_path / "shared")) == 4


def test_a_configuration_drawn_at_the_same_moment_goes_to_the_earlier_trial():
    sampler = optuna.samplers.PartialFixedSampler({"lr": 0.01}, optuna.samplers.RandomSampler(seed=0))
    study = optuna.create_study(sampler=sampler)
    first, second = study.ask(), study.ask()  # the first process has its trial but no parameters yet
    second.suggest_categorical("lr", [0.01, 0.003])
    threading.Timer(0.3, first.suggest_categorical, ("lr", [0.01, 0.003])).start()
    assert sweep_module._taken_by_another(second, {"lr": 0.01}, patience=30)  # waits for the first's draw
    assert not sweep_module._taken_by_another(first, {"lr": 0.01})  # the earlier trial keeps it
    other = optuna.create_study(sampler=sampler)
    other.ask()  # an earlier trial that never draws: its process died
    later = other.ask()
    later.suggest_categorical("lr", [0.01, 0.003])
    assert not sweep_module._taken_by_another(later, {"lr": 0.01}, patience=0.2)


def test_another_sweep_in_the_same_folder_is_refused_and_a_resume_on_another_machine_is_not(dataset, classes_csv, tmp_path):
    options = tiny_options(dataset, classes_csv, lr="0.01,0.02", max_steps=2)
    first = run_sweep(build_spec(options), tmp_path / "s")
    with pytest.raises(ConfigError, match=r"holds a sweep with other --lr, --width \(its options are in .*sweep.json\)"):
        run_sweep(build_spec(options | {"lr": "0.02", "width": 8}), tmp_path / "s")
    calls = []
    resumed = run_sweep(
        build_spec(options | {"lr": "0.02,0.01", "accelerator": "auto", "num_workers": 1, "seed": 0}, description="again"),
        tmp_path / "s",
        on_result=calls.append,
    )  # other machine options, the default seed given, the axis in another order: the same sweep, nothing to train
    assert calls == [] and [r["miou"] for r in resumed] == [r["miou"] for r in first]


@pytest.mark.parametrize("moment", ["_draw_points", "_requeue_interrupted", "train"])
def test_a_sweep_whose_folder_another_command_took_meanwhile_stores_no_result(
    dataset, classes_csv, tmp_path, monkeypatch, moment
):
    # another command on the empty folder stores its options: once the points are drawn, just before the
    # first trial, or during the first training
    options, out, trained, struck = tiny_options(dataset, classes_csv, lr="0.01,0.003", max_steps=2), tmp_path / "s", [], []
    real_train = sweep_module.train

    def counting(config, callbacks=()):
        trained.append(config.out.name)
        return real_train(config, callbacks=callbacks)

    monkeypatch.setattr(sweep_module, "train", counting)
    real = getattr(sweep_module, moment)

    def overtaken(*args, **kwargs):
        if not struck:
            study = optuna.load_study(study_name=sweep_module.STUDY_NAME, storage=f"sqlite:///{out / 'study.db'}")
            study.set_user_attr("spec", build_spec(options | {"lr": "0.02"}).model_dump(mode="json"))
            struck.append(moment)
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep_module, moment, overtaken)
    with pytest.raises(ConfigError, match="another command took the sweep of .* for other options"):
        run_sweep(build_spec(options), out)
    assert collect_results(out) == [] and len(trained) == (moment == "train")  # trains at most the one under way
    study = optuna.load_study(study_name=sweep_module.STUDY_NAME, storage=f"sqlite:///{out / 'study.db'}")
    assert len(study.trials) == (moment != "_draw_points")  # stopped as soon as the points are drawn, before any trial
    if trained:
        assert (out / "runs" / trained[0] / "metrics.json").exists()  # what was trained stays on disk


def test_a_sweep_stored_before_precise_bn_resumes_only_with_the_running_averages_it_ran_with(dataset, classes_csv, tmp_path):
    options, out = tiny_options(dataset, classes_csv, lr="0.01", max_steps=2), tmp_path / "s"
    run_sweep(build_spec(options), out)
    assert json.loads((out / "sweep.json").read_text())["base"]["precise_bn"] == 1024  # the default, recorded
    study = optuna.load_study(study_name=sweep_module.STUDY_NAME, storage=f"sqlite:///{out / 'study.db'}")
    older = study.user_attrs["spec"]
    del older["base"]["precise_bn"]
    study.set_user_attr("spec", older)
    with pytest.raises(ConfigError, match="holds a sweep with other --precise-bn"):
        run_sweep(build_spec(options), out)
    rows = run_sweep(build_spec(options | {"precise_bn": 0}), out)  # resumes: nothing left to train
    assert [r["status"] for r in rows] == ["done"]
    assert json.loads((out / "sweep.json").read_text())["base"]["precise_bn"] == 0


def test_a_label_budget_sweep_trains_full_masks_once_and_reports_the_budget(dataset, classes_csv, tmp_path, count_trainings):
    options = tiny_options(dataset, classes_csv, points="5,20,full", method="pce,superpixels", max_steps=2, lr=0.01, batch_size=2)
    out = tmp_path / "budget"
    rows = run_sweep(build_spec(options | {"superpixel_area": 40}), out)
    # grid order, the point budgets by their number: what the console table, results.csv and report.md list
    grid = [("5", "pce"), ("5", "superpixels"), ("20", "pce"), ("20", "superpixels"), ("full", "pce")]
    assert [(r["points"], r["method"]) for r in rows] == grid
    assert sorted(count_trainings) == sorted(f"points={p}_method={m}_seed=0" for p, m in grid)  # full masks once
    assert not (out / "points" / "full_random").exists()  # nothing drawn for full masks
    assert len(list((out / "superpixels").glob("*.npy"))) == 4  # one segmentation per training image, kept for the sweep
    write_report(out)
    with (out / "results.csv").open() as handle:
        assert [(r["points"], r["method"]) for r in csv.DictReader(handle)] == grid
    report = (out / "report.md").read_text()
    results = report.split("## Results")[1].split("\n\n")[1].splitlines()[2:]
    assert [tuple(line.split(" | ")[:2]) for line in results] == [(f"| {p}", m) for p, m in grid]
    assert "## Label budget" in report and "| method=superpixels | " in report and (out / "figures/label-budget.png").is_file()
    assert "| 20 labelled pixels | 80 labelled pixels | full masks |" in report  # 4 training images x 5 and x 20 points


def test_a_label_budget_without_pce_among_the_methods_is_refused_before_training(dataset, classes_csv, tmp_path):
    spec = build_spec(tiny_options(dataset, classes_csv, points="5,full", method="crf,superpixels"))
    with pytest.raises(ConfigError, match="add pce to --method"):
        run_sweep(spec, tmp_path / "budget")
    assert not (tmp_path / "budget" / "runs").exists()


def test_an_axis_of_paths_trains_each_and_stores_them_as_text(dataset, classes_csv, tmp_path):
    first = run_sweep(build_spec(tiny_options(dataset, classes_csv, lr="0.01", max_steps=2)), tmp_path / "first")
    weights, missing = tmp_path / "first" / first[0]["run"] / "model.ckpt", tmp_path / "missing.ckpt"
    out = tmp_path / "s"
    rows = run_sweep(
        build_spec(tiny_options(dataset, classes_csv, lr="0.01", max_steps=2, init_weights=f"{weights},{missing}")), out
    )
    assert [(r["init_weights"], r["status"]) for r in rows] == [(str(weights), "done"), (str(missing), "failed")]
    assert rows[1]["message"] == f"CheckpointError: weights file {missing} does not exist"
    assert json.loads((out / "sweep.json").read_text())["axes"] == {"init_weights": [str(weights), str(missing)]}
    assert [r["run"] for r in rows] == [f"runs/{run_name({'init_weights': w, 'seed': 0})}" for w in (weights, missing)]
    assert json.loads((out / rows[0]["run"] / "config.json").read_text())["init_weights"] == str(weights)


def test_a_typo_in_the_first_command_does_not_hold_the_folder(dataset, classes_csv, tmp_path, count_trainings):
    out = tmp_path / "s"
    with pytest.raises(DatasetError, match="dataset folder not found"):
        run_sweep(build_spec(tiny_options(tmp_path / "nodata", classes_csv, lr="0.01", max_steps=2)), out)
    rows = run_sweep(build_spec(tiny_options(dataset, classes_csv, lr="0.01", max_steps=2)), out)  # the corrected command
    assert [r["status"] for r in rows] == ["done"] and count_trainings == ["seed=0"]
    assert json.loads((out / "sweep.json").read_text())["base"]["data"] == str(dataset)


def test_a_first_command_whose_every_configuration_failed_does_not_hold_the_folder(dataset, classes_csv, tmp_path):
    out = tmp_path / "s"
    rows = run_sweep(build_spec(tiny_options(dataset, classes_csv, lr="0.01,0.02", max_steps=2, bands="1,7")), out)
    assert [r["status"] for r in rows] == ["failed", "failed"] and "--bands 1,7" in rows[0]["message"]
    corrected = tiny_options(dataset, classes_csv, lr="0.01,0.02", max_steps=2, bands="1,3", val_fraction=0.5)
    with pytest.warns(PointsegWarning, match="the 2 failed configuration.s. of the earlier options of .* are forgotten"):
        rows = run_sweep(build_spec(corrected), out)
    assert [r["status"] for r in rows] == ["done", "done"]
    assert json.loads((out / "sweep.json").read_text())["base"]["bands"] == "1,3"
    run_sweep(build_spec(corrected), tmp_path / "fresh")  # the points drawn again, for the new split
    (drawn,) = (out / "points").glob("*/points.csv")
    assert drawn.read_text() == next((tmp_path / "fresh/points").glob("*/points.csv")).read_text()
    with pytest.raises(ConfigError, match="holds a sweep with other --bands"):  # once one has finished, the folder is held
        run_sweep(build_spec(corrected | {"bands": "1,2"}), out)


def test_a_first_command_that_diverged_holds_the_folder(dataset, classes_csv, tmp_path, monkeypatch):
    def diverge(config, callbacks=()):
        raise TrainingDiverged(step=3, loss=float("nan"))

    monkeypatch.setattr(sweep_module, "train", diverge)
    run_sweep(build_spec(tiny_options(dataset, classes_csv, lr="10,20")), tmp_path / "s")
    with pytest.raises(ConfigError, match="holds a sweep with other --lr"):  # a diverged learning rate is a result
        run_sweep(build_spec(tiny_options(dataset, classes_csv, lr="0.01")), tmp_path / "s")


def test_results_are_read_only_from_a_study_that_exists(dataset, classes_csv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_sweep(build_spec(tiny_options(dataset, classes_csv, lr="0.01", max_steps=2)), "s", storage="sqlite:///shared.db")
    assert json.loads((tmp_path / "s/sweep.json").read_text())["storage"] == f"sqlite:///{tmp_path / 'shared.db'}"
    write_report(tmp_path / "s")
    kept = (tmp_path / "s/results.csv").read_text()
    # another machine's folder on the same database, with its own machine options: nothing to train, a report of its own
    other = tiny_options(dataset, classes_csv, lr="0.01", max_steps=2, accelerator="auto")
    assert run_sweep(build_spec(other), "s2", storage=f"sqlite:///{tmp_path / 'shared.db'}")[0]["status"] == "done"
    write_report(tmp_path / "s2")
    assert (tmp_path / "s2/results.csv").read_text() == kept  # the training loss too, from the study
    assert "1 of the trainings ran in another folder of the shared study" in (tmp_path / "s2/report.md").read_text()
    assert not (tmp_path / "s2/figures/curves.png").exists() and (tmp_path / "s/figures/curves.png").exists()
    monkeypatch.chdir(tmp_path / "s")  # the recorded storage names the database from any folder
    assert [r["status"] for r in collect_results(".", json.loads(Path("sweep.json").read_text())["storage"])] == ["done"]
    (tmp_path / "shared.db").rename(tmp_path / "moved.db")
    with pytest.raises(ConfigError, match="no study database .*shared.db"):
        write_report(tmp_path / "s")
    assert (tmp_path / "s/results.csv").read_text() == kept and not (tmp_path / "shared.db").exists()  # nothing replaced
    with pytest.raises(ConfigError, match="no study database"):
        collect_results(tmp_path / "empty")
    assert not (tmp_path / "empty").exists()
    optuna.create_study(storage=f"sqlite:///{tmp_path / 'other.db'}", study_name="not-a-sweep")
    with pytest.raises(ConfigError, match="holds no pointseg sweep"):
        collect_results(tmp_path, f"sqlite:///{tmp_path / 'other.db'}")


def test_a_sweep_without_results_takes_new_options_and_draws_its_points_again(dataset, classes_csv, tmp_path, monkeypatch):
    real = sweep_module.train
    calls = []

    def interrupted_first(config, callbacks=()):
        calls.append(config.out.name)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real(config, callbacks=callbacks)

    monkeypatch.setattr(sweep_module, "train", interrupted_first)
    out, drawn = tmp_path / "s", tmp_path / "s" / "points" / "20_random" / "points.csv"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(build_spec(tiny_options(dataset, classes_csv, lr="0.01,0.02", max_steps=2)), out)
    old_points = drawn.read_text()
    other = make_dataset(tmp_path / "other", seed=1)
    rows = run_sweep(build_spec(tiny_options(other, classes_csv, lr="0.02", max_steps=2)), out)
    assert len(calls) == 2 and calls[1] == "seed=0"  # the interrupted configuration of the old options is left alone
    assert [r["status"] for r in rows] == ["done"]
    stored = json.loads((out / "sweep.json").read_text())
    assert (stored["base"]["data"], stored["base"]["lr"], stored["axes"]) == (str(other), 0.02, {})
    assert drawn.read_text() != old_points and (out / rows[0]["run"] / "points.csv").read_text() == drawn.read_text()
    with pytest.raises(ConfigError, match="holds a sweep with other --data, --lr"):  # now it holds a result
        run_sweep(build_spec(tiny_options(dataset, classes_csv, lr="0.01", max_steps=2)), out)


def test_point_labels_are_read_by_each_run_not_drawn(dataset, classes_csv, tmp_path):
    colours = {colour: name for name, colour in COLOURS.items()}
    lines = ["image,x,y,class"]
    for mask in sorted(dataset.glob("*/masks/*.png")):
        rgb = np.asarray(Image.open(mask).convert("RGB"))
        key = f"{mask.parent.parent.name}/{mask.stem}"
        lines += [f"{key},{col + 0.5},{row + 0.5},{colours[tuple(rgb[row, col])]}" for row, col in ((3, 5), (20, 30), (35, 44))]
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n")
    options = tiny_options(dataset, classes_csv, lr="0.01", max_steps=2, point_labels=str(tmp_path / "labels.csv"))
    rows = run_sweep(build_spec(options), tmp_path / "s")
    assert [r["status"] for r in rows] == ["done"] and not (tmp_path / "s" / "points").exists()
    assert (
        len((tmp_path / "s" / rows[0]["run"] / "points.csv").read_text().splitlines()) - 1 == 3 * 4
    )  # the training images' points


def test_optuna_logs_a_trial_stopped_by_ctrl_c_no_more_but_logs_the_rest():
    import logging
    import sys

    def record(message, error=None):
        exc_info = None
        if error is not None:
            try:
                raise error
            except BaseException:
                exc_info = sys.exc_info()
        return logging.LogRecord("optuna.study._optimize", logging.WARNING, __file__, 1, message, None, exc_info)

    keep = sweep_module._not_an_interrupt
    assert not keep(record("Trial 0 failed with parameters: {'seed': 0} because of the following error", KeyboardInterrupt()))
    assert not keep(record("Trial 0 failed with value None."))
    assert keep(record("Trial 0 failed because of the following error", ValueError("kept")))
    assert keep(record("GridSampler is re-evaluating a configuration"))
