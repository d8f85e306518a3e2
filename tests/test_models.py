from typing import get_args

import pytest
import torch

from pointseg.losses import partial_cross_entropy
from pointseg.models import MODELS, ModelConfig, ModelName, UNet, build_model
from pointseg.models.cost import measure
from pointseg.models.weights import adapt_input_conv, load_weights

NAMES = list(get_args(ModelName))


def small(name, bands=3, classes=6):
    return build_model(ModelConfig(name=name, in_channels=bands, num_classes=classes, width=4, depth=3))


def test_every_name_builds_a_network():
    assert set(MODELS) == set(NAMES) and len(NAMES) >= 5


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("bands", "height", "width"), [(1, 33, 47), (3, 64, 64), (4, 17, 130), (13, 9, 5)])
def test_output_shape_for_any_size_and_band_count(name, bands, height, width):
    model = small(name, bands).eval()
    with torch.no_grad():
        assert model(torch.randn(2, bands, height, width)).shape == (2, 6, height, width)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_the_first_layer(name):
    model = small(name)
    first = next(model.parameters())
    assert first.dim() == 4 and first.shape[1] == 3  # the first convolution, fed by the bands
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    assert first.grad is not None and first.grad.abs().sum() > 0


@pytest.mark.parametrize("name", NAMES)
def test_a_tiny_training_lowers_the_loss(name):
    torch.manual_seed(0)
    model = small(name)
    images = torch.randn(2, 3, 32, 32)
    labels = (images[:, 0] > 0).long()  # learnable from the first band
    optimizer = torch.optim.Adam(model.parameters(), 1e-2)
    losses = []
    for _ in range(40):
        optimizer.zero_grad()
        loss = partial_cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_unet_default_size_and_width_and_depth():
    assert 1.85e6 < sum(p.numel() for p in build_model(ModelConfig(num_classes=5)).parameters()) < 1.95e6
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(UNet(3, 2, width=4, depth=2)) < count(UNet(3, 2, width=8, depth=2))
    assert count(UNet(3, 2, width=4, depth=2)) < count(UNet(3, 2, width=4, depth=3))


def test_segformer_at_width_16_is_b0_sized():
    params = sum(p.numel() for p in build_model(ModelConfig(name="segformer", num_classes=6)).parameters())
    assert 3.6e6 < params < 3.8e6  # SegFormer-B0: 3.7 M


def test_bad_config_is_rejected():
    with pytest.raises(ValueError):
        ModelConfig(num_classes=3, depth=0)
    with pytest.raises(ValueError):
        ModelConfig(num_classes=3, name="vgg")


def test_adapting_rgb_filters_to_other_band_counts():
    weight = torch.arange(2 * 3 * 1 * 1, dtype=torch.float32).reshape(2, 3, 1, 1)  # filters (0,1,2) and (3,4,5)
    assert adapt_input_conv(weight, 1).flatten().tolist() == [3.0, 12.0]  # sums
    four = adapt_input_conv(weight, 4)
    assert four[:, :, 0, 0].tolist() == [[0.0, 0.75, 1.5, 0.0], [2.25, 3.0, 3.75, 2.25]]  # R,G,B,R scaled by 3/4


def test_init_weights_load_by_name_and_shape_and_adapt_the_first_convolution(tmp_path):
    source = small("unet", bands=3, classes=6)
    path = tmp_path / "encoder.pt"
    torch.save({"state_dict": {f"model.{k}": v for k, v in source.state_dict().items()}}, path)  # as Lightning writes it
    target = small("unet", bands=4, classes=2)
    report = load_weights(target, path)
    first = next(n for n, _ in target.named_parameters())
    assert report.adapted == [first]
    assert torch.allclose(target.state_dict()[first], adapt_input_conv(source.state_dict()[first], 4))
    assert set(report.skipped) == {"head.weight", "head.bias"}  # 2 classes here, 6 in the file
    assert report.skipped["head.weight"] == "shape (6, 4, 1, 1) in the file, (2, 4, 1, 1) here"
    assert len(report.loaded) == len(target.state_dict()) - 3 and report.unused == []
    name = report.loaded[5]
    assert torch.equal(target.state_dict()[name], source.state_dict()[name])
    assert report.summary().startswith(f"initial weights: {len(report.loaded) + 1} of {len(target.state_dict())} tensors loaded")


def test_init_weights_of_another_network_load_nothing_and_say_so(tmp_path):
    path = tmp_path / "other.pt"
    torch.save(small("segformer").state_dict(), path)
    report = load_weights(small("unet"), path)
    assert report.loaded == ["head.bias"] and report.adapted == []  # the only name and shape they share
    assert report.skipped["head.weight"] == "shape (6, 64, 1, 1) in the file, (6, 4, 1, 1) here"  # not the first layer
    assert len(report.unused) == len(small("segformer").state_dict()) - 2  # all but the head's two names


def test_a_file_that_is_no_weights_is_refused_without_torchs_unsafe_advice(tmp_path):
    from pointseg.errors import CheckpointError

    (tmp_path / "notes.pt").write_text("not weights")
    with pytest.raises(
        CheckpointError, match=r"notes.pt is not a PyTorch weights file that loads .* \(not plain tensors\)"
    ) as info:
        load_weights(small("unet"), tmp_path / "notes.pt")
    assert "weights_only" not in info.value.message and "state_dict" in info.value.fix
    (tmp_path / "cut.pt").write_bytes(b"PK\x03\x04" + bytes(60))  # a download cut short: torch's reason is kept
    with pytest.raises(CheckpointError, match=r"cut.pt is not .* \(PytorchStreamReader failed"):
        load_weights(small("unet"), tmp_path / "cut.pt")


def test_measured_flops_grow_with_the_pixels():
    at_64 = measure("unet", size=64, batch=1, width=4, repeats=1)
    at_128 = measure("unet", size=128, batch=1, width=4, repeats=1)
    assert at_64.parameters == sum(p.numel() for p in build_model(ModelConfig(num_classes=6, width=4)).parameters())
    assert at_128.gflops == pytest.approx(4 * at_64.gflops, rel=1e-6)
    assert at_64.train_images_per_s > 0 and at_64.infer_images_per_s > 0
