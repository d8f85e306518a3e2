import pytest
from pydantic import ValidationError

from pointseg.config import TrainConfig
from pointseg.errors import PointsError

BASE = {"data": "d", "classes": "c.csv", "out": "o"}


def test_defaults_and_budget():
    config = TrainConfig(**BASE)
    assert (config.optimizer, config.lr, config.batch_size, config.epochs, config.max_steps) == ("adam", 1e-3, 8, 20, None)
    assert TrainConfig(**BASE, max_steps=100).budget == "max_steps=100"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"epochs": 2, "max_steps": 3}, "either --epochs or --max-steps"),
        ({"crop": 16, "depth": 4}, "--crop 16 is too small for --depth 4"),
        ({"seed": -1}, "greater than or equal to 0"),
        ({"strategy": "stratified"}, "'random', 'class-balanced' or 'grid'"),
        ({"full_masks": True, "points_file": "p.csv"}, "drop --points-file"),
        ({"class_weights": "1,-2"}, "must not be negative"),
        ({"class_weights": "0,0"}, "one at least above 0"),  # a loss of 0 that trains nothing
        ({"class_weights": "inf,1"}, "finite number"),
        ({"class_weights": "balancd"}, "one number per class, e.g. 1,2,1, or balanced"),
        ({"superpixel_weight": float("inf")}, "finite number"),  # not a divergence to blame on the learning rate
        ({"lr": float("nan")}, "finite number"),
        ({"superpixel_cache": "c.csv"}, "--superpixel-cache c.csv is a file: give a folder"),
    ],
)
def test_bad_values_fail_at_parse_time(options, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.csv").write_text("name,value\n")
    with pytest.raises(ValidationError, match=message):
        TrainConfig(**BASE, **options)


def test_the_depth_limits_the_crop_of_the_u_nets_alone():
    assert TrainConfig(**BASE, model="segformer", crop=16).crop == 16  # its depth is not --depth's
    assert TrainConfig(**BASE, model="deeplabv3plus", crop=16, depth=4).crop == 16
    with pytest.raises(ValidationError, match="--crop 16 is too small for --depth 4"):
        TrainConfig(**BASE, model="resunet", crop=16)


def test_points_and_class_weights_are_parsed():
    config = TrainConfig(**BASE, points="0.001", class_weights="1, 2.5,1")
    assert config.point_spec.fraction == 0.001
    assert config.class_weights == [1.0, 2.5, 1.0]
    assert TrainConfig(**BASE, class_weights=" balanced").class_weights == "balanced"
    with pytest.raises(PointsError):
        TrainConfig(**BASE, points="lots")


def test_superpixels_with_full_masks_is_refused():
    with pytest.raises(ValidationError, match="nothing to add to --full-masks"):
        TrainConfig(data="d", classes="c.csv", out="o", full_masks=True, method="superpixels")


def test_points_full_means_the_dense_masks():
    assert TrainConfig(**BASE, points="full").full_masks and not TrainConfig(**BASE, points="20").full_masks
    with pytest.raises(ValidationError, match="nothing to add to --full-masks"):
        TrainConfig(**BASE, points="full", method="superpixels+crf")
