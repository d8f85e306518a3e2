import math

import pytest
import torch
import torch.nn.functional as F

from pointseg.classes import IGNORE_INDEX
from pointseg.losses import PartialCrossEntropy, partial_cross_entropy


def sparse_batch(seed=0, labelled=0.05):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 4, 9, 11, generator=generator, requires_grad=True)
    labels = torch.randint(0, 4, (2, 9, 11), generator=generator)
    keep = torch.rand(2, 9, 11, generator=generator) < labelled
    keep[0, 0, 0] = True
    return logits, torch.where(keep, labels, torch.full_like(labels, IGNORE_INDEX))


def test_matches_cross_entropy_with_ignore_index():
    logits, labels = sparse_batch()
    expected = F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX)
    assert torch.allclose(partial_cross_entropy(logits, labels), expected)


def test_value_computed_by_hand():
    # one image, 3 classes, 1x3 pixels; pixel 0 labelled 0, pixel 2 labelled 2, pixel 1 unlabelled
    logits = torch.tensor([[[[1.0, 5.0, 0.0]], [[0.0, 5.0, 0.0]], [[0.0, -5.0, 2.0]]]])
    labels = torch.tensor([[[0, IGNORE_INDEX, 2]]])
    first = -math.log(math.e / (math.e + 1 + 1))
    second = -math.log(math.e**2 / (1 + 1 + math.e**2))
    assert partial_cross_entropy(logits, labels).item() == pytest.approx((first + second) / 2, rel=1e-6)


def test_unlabelled_pixels_get_no_gradient():
    logits, labels = sparse_batch()
    partial_cross_entropy(logits, labels).backward()
    unlabelled = (labels == IGNORE_INDEX).unsqueeze(1).expand_as(logits)
    assert logits.grad[unlabelled].abs().max() == 0
    assert logits.grad[~unlabelled].abs().max() > 0


def test_empty_batch_is_zero_with_gradient_not_nan():
    logits = torch.randn(2, 3, 5, 5, requires_grad=True)
    labels = torch.full((2, 5, 5), IGNORE_INDEX)
    loss = partial_cross_entropy(logits, labels)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


def test_class_weights_give_a_weighted_mean():
    logits, labels = sparse_batch(seed=1, labelled=0.3)
    weight = torch.tensor([1.0, 2.0, 0.5, 3.0])
    expected = F.cross_entropy(logits, labels, weight=weight, ignore_index=IGNORE_INDEX)
    assert torch.allclose(partial_cross_entropy(logits, labels, weight=weight), expected)
    # and by hand: sum w_y * ce / sum w_y over labelled pixels
    per_pixel = F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX, reduction="none")
    mask = labels != IGNORE_INDEX
    w = weight[labels[mask]]
    assert torch.allclose(partial_cross_entropy(logits, labels, weight=weight), (w * per_pixel[mask]).sum() / w.sum())


def test_label_smoothing_only_touches_labelled_pixels():
    logits, labels = sparse_batch(seed=2)
    module = PartialCrossEntropy(label_smoothing=0.1)
    expected = F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX, label_smoothing=0.1)
    assert torch.allclose(module(logits, labels), expected)
    module(logits, labels).backward()
    unlabelled = (labels == IGNORE_INDEX).unsqueeze(1).expand_as(logits)
    assert logits.grad[unlabelled].abs().max() == 0


def test_module_weights_follow_the_device_and_match_the_function():
    logits, labels = sparse_batch(seed=3, labelled=0.5)
    module = PartialCrossEntropy(weight=[1, 2, 3, 4])
    assert torch.allclose(module(logits, labels), partial_cross_entropy(logits, labels, torch.tensor([1.0, 2, 3, 4])))
    assert "weight" in dict(module.named_buffers())


def test_weights_with_a_positive_ignore_index():
    logits, labels = sparse_batch(seed=4, labelled=0.3)
    labels = labels.masked_fill(labels == IGNORE_INDEX, 255)
    weight = torch.tensor([1.0, 2.0, 0.5, 3.0])
    expected = F.cross_entropy(logits, labels, weight=weight, ignore_index=255)
    assert torch.allclose(partial_cross_entropy(logits, labels, weight=weight, ignore_index=255), expected)
