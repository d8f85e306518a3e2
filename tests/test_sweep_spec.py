import json
from pathlib import Path

import pytest

from pointseg.cli import main
from pointseg.errors import ConfigError
from pointseg.sweep import SweepSpec, build_spec, grid_key, run_name

BASE = {"data": "d", "classes": "c.csv"}


def test_the_default_grid_is_the_classic_one():
    spec = build_spec(BASE, seeds=2)
    assert spec.axes == {"lr": [0.001, 0.01], "batch_size": [16, 32, 64]}
    assert len(spec.configurations()) == 12
    assert (spec.budget, spec.amount) == ("epochs", 20)


def test_comma_lists_become_typed_axes_and_single_values_fixed_options():
    spec = build_spec(BASE | {"optimizer": "adam,sgd", "batch-size": "8", "full_masks": True, "points": "5,20"})
    assert spec.axes == {"lr": [0.001, 0.01], "optimizer": ["adam", "sgd"], "points": ["5", "20"]}
    assert spec.base["batch_size"] == 8 and spec.base["full_masks"] is True


def test_list_valued_options_are_one_value_unless_given_a_list_of_them():
    # from YAML: class_weights: [1, 2, 1] is one value, as the comma string "1,2,1" of the command line
    for weights in ([1, 2, 1], "1,2,1"):
        spec = build_spec(BASE | {"class_weights": weights, "bands": [3, 2, 1]})
        assert (spec.base["class_weights"], spec.base["bands"]) == (weights, [3, 2, 1])
        assert "class_weights" not in spec.axes
    spec = build_spec(BASE | {"class_weights": [[1, 2, 1], "balanced"]})
    assert spec.axes["class_weights"] == ["1,2,1", "balanced"]  # comma strings: values Optuna's grid can hold
    configs = [spec.train_config(p, Path("o"), None).class_weights for p in spec.configurations()]
    assert configs == [[1.0, 2.0, 1.0], "balanced"] * 6  # the axis crossed with lr x batch size


@pytest.mark.parametrize(
    ("budget", "expected_steps"),
    [({"epochs": 3}, None), ({"max_steps": 100}, 100), ({"samples": 640}, {16: 40, 32: 20, 64: 10})],
)
def test_budgets(tmp_path, budget, expected_steps):
    spec = build_spec(BASE | budget)
    for params in spec.configurations():
        config = spec.train_config(params, tmp_path, None)
        if expected_steps is None:
            assert config.epochs == 3 and config.max_steps is None
        elif isinstance(expected_steps, dict):
            assert config.max_steps == expected_steps[params["batch_size"]]
        else:
            assert config.max_steps == expected_steps


def test_every_configuration_keeps_the_same_split_whatever_its_seed(tmp_path):
    spec = build_spec(BASE | {"seed": 5}, seeds=3)
    splits = {spec.train_config(p, tmp_path, None).split_seed for p in spec.configurations()}
    assert splits == {5}
    given = build_spec(BASE | {"seed": 5, "split_seed": 11}, seeds=3)  # a split chosen with --split-seed is kept
    assert {given.train_config(p, tmp_path, None).split_seed for p in given.configurations()} == {11}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"learning_rate": "0.1"}, "--learning-rate is not an option of pointseg train"),
        ({"lr": "0.1,fast"}, "--lr"),
        ({"epochs": 2, "max_steps": 5}, "give one budget"),
        ({"out": "elsewhere"}, "out is the sweep's folder, not an option of its trainings"),
    ],
)
def test_bad_options_are_refused_before_training(options, message):
    with pytest.raises(ConfigError, match=message):
        build_spec(BASE | options)


def test_invalid_configurations_are_found_before_training(tmp_path):
    spec = SweepSpec(base=BASE | {"crop": 16}, axes={"depth": [2, 4]})
    with pytest.raises(ConfigError, match=r"configuration depth=4_seed=0: --crop 16 is too small"):
        spec.validate_all(tmp_path)
    with pytest.raises(ConfigError, match="--seed cannot be a sweep option"):
        SweepSpec(base=BASE, axes={"seed": [1, 2]}).validate_all(tmp_path)


def test_run_names():
    assert run_name({"lr": 0.001, "batch_size": 16, "seed": 0}) == "lr=0.001_batch_size=16_seed=0"


def test_an_axis_of_paths_is_kept_as_text_and_each_run_gets_a_path(tmp_path):
    spec = build_spec(BASE | {"data": Path("d"), "init_weights": "runs/a/model.ckpt,b.ckpt", "lr": "0.01", "batch_size": 8})
    assert spec.axes == {"init_weights": ["runs/a/model.ckpt", "b.ckpt"]} and spec.base["data"] == "d"
    assert json.loads(json.dumps(spec.model_dump(mode="json")))["axes"] == spec.axes  # as the study and sweep.json store it
    configs = spec.configurations()
    assert [spec.train_config(p, tmp_path, None).init_weights for p in configs] == [Path("runs/a/model.ckpt"), Path("b.ckpt")]
    assert [run_name(p) for p in configs] == ["init_weights=runs%2Fa%2Fmodel.ckpt_seed=0", "init_weights=b.ckpt_seed=0"]


@pytest.mark.parametrize(
    ("name", "values"),
    [("data", "d1,d2"), ("classes", "a.csv,b.csv"), ("val_fraction", "0.2,0.3"), ("val_data", "v1,v2"),
     ("point_labels", "a.gpkg,b.gpkg"), ("label_field", "class,kind")],
)  # fmt: skip
def test_the_data_its_split_and_its_annotations_cannot_be_axes(tmp_path, name, values):
    spec = build_spec(BASE | {name: values})
    flag = "--" + name.replace("_", "-")
    with pytest.raises(ConfigError) as info:
        spec.validate_all(tmp_path)
    assert info.value.message == (
        f"{flag} cannot be an axis: every configuration of a sweep trains and is validated on the same images and points"
    )
    assert info.value.fix == f"give {flag} one value, and run one sweep (each with its own --out) per value"


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ({"max_steps": 0}, "--max-steps 0: Input should be greater than or equal to 1"),
        ({"epochs": -1}, "--epochs -1: Input should be greater than or equal to 1"),
        ({"samples": "many"}, "--samples 'many': Input should be a valid integer, unable to parse string as an integer"),
    ],
)
def test_a_budget_that_is_not_a_whole_number_of_at_least_one_names_its_option(budget, message):
    with pytest.raises(ConfigError) as info:
        build_spec(BASE | budget)
    flag = message.split()[0]
    assert (info.value.message, info.value.fix) == (message, f"give {flag} a whole number of at least 1, e.g. {flag} 20")


@pytest.mark.parametrize(
    ("missing", "fix"),
    [("data", "give --data DIR (or data: in --config)"), ("classes", "give --classes FILE.csv (or classes: in --config)")],
)
def test_a_missing_data_or_classes_is_named_with_its_fix(tmp_path, missing, fix):
    spec = build_spec({k: v for k, v in BASE.items() if k != missing})
    with pytest.raises(ConfigError) as info:
        spec.validate_all(tmp_path)
    assert (info.value.message, info.value.fix) == (f"--{missing} is required", fix)


def test_configurations_follow_the_grid_with_point_budgets_by_number():
    spec = build_spec(BASE | {"points": "20,5,full", "method": "superpixels,pce", "lr": "0.01", "batch_size": 8})
    ordered = sorted(spec.configurations(), key=lambda p: grid_key(p, list(spec.axes)))
    assert [(p["points"], p["method"]) for p in ordered] == [
        ("5", "pce"), ("5", "superpixels"), ("20", "pce"), ("20", "superpixels"), ("full", "pce"),
    ]  # fmt: skip
    as_yaml = build_spec(BASE | {"points": [20, 5, "full"], "method": ["superpixels", "pce"], "lr": 0.01, "batch_size": 8})
    assert as_yaml == spec  # YAML's numbers for the point budgets, as the command line's text
    assert build_spec(BASE | {"points": 0.001}).base["points"] == "0.001"


@pytest.mark.parametrize(
    ("options", "message", "fix"),
    [
        ({"points": "20,full", "method": "crf"}, "--points full trains the full-mask reference with plain cross-entropy",
         "add pce to --method (e.g. --method pce,crf)"),  # one method, in the base, not an axis
        ({"points": "20", "full_masks": "true,false"}, "--full-masks cannot be an axis: full masks are a value of the points",
         "give --points 20,full (full masks as the reference of a label-budget study)"),
    ],
)  # fmt: skip
def test_full_masks_come_only_as_the_points_axiss_plain_cross_entropy_reference(tmp_path, options, message, fix):
    spec = build_spec(BASE | {"lr": "0.01"} | options)
    with pytest.raises(ConfigError, match=message) as info:
        spec.validate_all(tmp_path)
    assert info.value.fix == fix


STORAGE_FIX = (
    "give --storage a SQLAlchemy URL of a database you can open (its driver installed), "
    "e.g. sqlite:///path/study.db or postgresql://user@host/db"
)


@pytest.mark.parametrize(
    ("args", "error", "fix"),
    [
        ({"--max-steps": "0"}, "--max-steps 0: Input should be greater than or equal to 1",
         "give --max-steps a whole number of at least 1, e.g. --max-steps 20"),
        ({"--max-steps": None, "--epochs": "-1"}, "--epochs -1: Input should be greater than or equal to 1",
         "give --epochs a whole number of at least 1, e.g. --epochs 20"),
        ({"--data": None}, "--data is required", "give --data DIR (or data: in --config)"),
        ({"--storage": "foo://bar"}, "--storage foo://bar: cannot open this database: Can't load plugin: sqlalchemy.dialects:foo",
         STORAGE_FIX),
        ({"--storage": "sqlite:////nonexistent/x.db"},
         "--storage sqlite:////nonexistent/x.db: cannot open this database: "
         "(sqlite3.OperationalError) unable to open database file",
         STORAGE_FIX),
    ],
    ids=["max-steps", "epochs", "no-data", "unknown-dialect", "unreachable-sqlite"],
)  # fmt: skip
def test_the_command_line_names_the_bad_option_and_its_fix(tmp_path, capsys, monkeypatch, args, error, fix):
    monkeypatch.setattr("pointseg.sweep.time.sleep", lambda seconds: None)  # no wait between tries to open a database
    options = {"--data": "d", "--classes": "c.csv", "--out": str(tmp_path / "s"), "--max-steps": "2"} | args
    argv = ["sweep", *(part for option, value in options.items() if value is not None for part in (option, value))]
    with pytest.raises(SystemExit) as info:
        main(argv)
    captured = capsys.readouterr()
    err = " ".join(captured.err.split())  # the error and its fix as one line
    assert info.value.code == 2 and f"error: {error} fix: {fix}" in err and "Traceback" not in err and "{" not in err
    assert not (tmp_path / "s" / "sweep.json").exists()
    if "--storage" not in args:  # a bad option is told before the sweep's header (the storage is opened after it)
        assert "sweep of" not in captured.out


def test_class_weights_that_miss_a_class_are_refused_before_any_run_fails_on_them(tmp_path, classes_csv):
    spec = build_spec(BASE | {"classes": str(classes_csv), "lr": "0.01", "class_weights": "1,2"})
    with pytest.raises(ConfigError, match="--class-weights gives 2 weights for 3 classes") as info:
        spec.validate_all(tmp_path)
    assert info.value.fix == "give one weight per class, in the order land, water, road, or balanced"
    build_spec(BASE | {"classes": str(classes_csv), "lr": "0.01", "class_weights": "1,2,1"}).validate_all(tmp_path)
    build_spec(BASE | {"lr": "0.01", "class_weights": "balanced"}).validate_all(tmp_path)  # no table read: c.csv is none
