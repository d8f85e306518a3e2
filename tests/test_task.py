"""The Lightning module's own parts: the transformed view of ``--method consistency``, the stop on a non-finite loss."""

import pytest
import torch
from torch import nn

from pointseg.classes import ClassTable
from pointseg.data.dataset import BandStats
from pointseg.losses import consistency_loss
from pointseg.task import PointSegModule


def consistency_module(jitter: float, method: str = "consistency") -> PointSegModule:
    """A module whose network is pointwise (logits band 0 and 0): it commutes with every flip and rotation."""
    module = PointSegModule(
        model={"in_channels": 3, "num_classes": 2, "width": 4, "depth": 2},
        classes=ClassTable.from_rows([("a", 0), ("b", 1)]).to_dict(),
        band_stats=BandStats((0.0,) * 3, (1.0,) * 3).to_dict(),
        method=method,
    )
    module.model = nn.Conv2d(3, 2, 1)
    with torch.no_grad():
        module.model.weight.zero_()
        module.model.bias.zero_()
        module.model.weight[0, 0] = 1.0
    module.VIEW_JITTER = jitter
    return module


def l_shaped_batch() -> dict[str, torch.Tensor]:
    """Valid pixels in an L (no symmetry of the square maps it to itself); band 0 is +1 there and -1 elsewhere."""
    valid = torch.zeros(2, 6, 6, dtype=torch.bool)
    valid[:, :, 0] = True
    valid[:, 5, :3] = True
    image = torch.randn(2, 3, 6, 6, generator=torch.Generator().manual_seed(0))
    image[:, 0] = torch.where(valid, 1.0, -1.0)
    return {"image": image, "valid": valid}


def test_the_view_flips_or_rotates_the_target_and_the_valid_pixels_with_the_image():
    module, batch = consistency_module(jitter=0.0), l_shaped_batch()
    logits = module(batch["image"])
    views = set()
    for seed in range(8):
        torch.manual_seed(seed)
        target, view_logits, valid = module._view(batch, logits)
        # the pointwise network predicts on the view what it predicted, moved alike: nothing to be consistent about
        assert torch.allclose(target, torch.softmax(view_logits, dim=1), atol=1e-6)
        assert float(consistency_loss(target, view_logits, valid)) == pytest.approx(0.0, abs=1e-6)
        assert torch.equal(valid, target[:, 0] > 0.5)  # the valid pixels moved with the image
        views.add(tuple(valid[0].flatten().tolist()))
    assert len(views) > 2  # the views differ from seed to seed, not always the batch itself


def test_the_recoloured_view_costs_a_seeded_positive_divergence_and_pce_makes_no_view():
    module, batch = consistency_module(jitter=0.25), l_shaped_batch()
    logits = module(batch["image"])
    torch.manual_seed(3)
    first = consistency_loss(*module._view(batch, logits))
    torch.manual_seed(3)
    again = consistency_loss(*module._view(batch, logits))
    assert float(first) > 1e-4 and torch.equal(first, again)
    assert consistency_module(jitter=0.25, method="pce")._view(batch, logits) is None
    combined_module = consistency_module(jitter=0.25, method="superpixels+consistency")
    torch.manual_seed(3)
    combined = combined_module._view(batch, logits)
    assert torch.equal(consistency_loss(*combined), first)  # superpixels+consistency makes the same view


class _Strategy:
    """A distributed strategy of which another process saw the decision ``others``."""

    def __init__(self, others: bool) -> None:
        self.others = others

    def reduce_boolean_decision(self, decision: bool, all: bool = True) -> bool:
        return decision and self.others


@pytest.mark.parametrize(("others_finite", "stops"), [(True, False), (False, True)])
def test_a_process_stops_when_any_process_saw_a_non_finite_loss(monkeypatch, others_finite, stops):
    from types import SimpleNamespace

    from pointseg.errors import TrainingDiverged

    module, batch = consistency_module(jitter=0.0, method="pce"), l_shaped_batch()
    batch["labels"] = torch.full((2, 6, 6), -100, dtype=torch.long)
    batch["labels"][:, 0, 0] = 1
    module.trainer = SimpleNamespace(strategy=_Strategy(others_finite), global_step=7)
    logged = []
    monkeypatch.setattr(module, "log", lambda name, *args, **kwargs: logged.append(name))
    if stops:  # this process's loss is finite, but stopping alone would leave the others waiting
        with pytest.raises(TrainingDiverged) as caught:
            module.training_step(batch, 0)
        assert caught.value.step == 7 and not logged
    else:
        loss = module.training_step(batch, 0)
        # one labelled pixel, of class 1, where the network's logits are (1, 0): -log softmax = log(1 + e)
        assert float(loss) == pytest.approx(float(torch.log1p(torch.exp(torch.tensor(1.0))))) and "train_pce" in logged
