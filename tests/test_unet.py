import pytest
import torch

from pointseg.models import ModelConfig, UNet, build_model


@pytest.mark.parametrize(("bands", "height", "width"), [(1, 33, 47), (3, 64, 64), (4, 17, 130), (13, 5, 9)])
def test_output_shape_for_any_size_and_band_count(bands, height, width):
    model = UNet(bands, num_classes=6, width=4, depth=3).eval()
    with torch.no_grad():
        assert model(torch.randn(2, bands, height, width)).shape == (2, 6, height, width)


def test_default_size_is_about_1_9_million_parameters():
    model = build_model(ModelConfig(num_classes=5))
    assert 1.85e6 < sum(p.numel() for p in model.parameters()) < 1.95e6


def test_width_and_depth_change_the_network():
    small = sum(p.numel() for p in UNet(3, 2, width=4, depth=2).parameters())
    wide = sum(p.numel() for p in UNet(3, 2, width=8, depth=2).parameters())
    deep = sum(p.numel() for p in UNet(3, 2, width=4, depth=3).parameters())
    assert small < wide and small < deep


def test_gradients_reach_the_first_layer():
    model = UNet(3, 2, width=4, depth=2)
    model(torch.randn(1, 3, 16, 16)).sum().backward()
    assert model.stem[0].weight.grad.abs().sum() > 0


def test_bad_config_is_rejected():
    with pytest.raises(ValueError):
        ModelConfig(num_classes=3, depth=0)
