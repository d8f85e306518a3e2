import pytest

from pointseg.errors import ConfigError
from pointseg.sweep import SweepSpec, build_spec, run_name

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
