import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pointseg.classes import IGNORE_INDEX
from pointseg.losses import (
    PartialCrossEntropy,
    PointLoss,
    balanced_weights,
    consistency_loss,
    partial_cross_entropy,
    potts_regulariser,
    pseudo_labels,
)


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


def test_balanced_weights_are_inverse_to_the_label_counts():
    first = np.array([[0, 0, 0, IGNORE_INDEX], [1, IGNORE_INDEX, 0, 0]])  # class 0: 5 pixels, class 1: 1
    second = np.array([[1, 3, IGNORE_INDEX]])  # class 1: 1 more, class 3: 1; class 2: none
    # 8 labelled pixels, 3 classes with labels: n / (3 n_c); a class without labels weighs 1
    assert balanced_weights([first, second], 4) == pytest.approx([8 / 15, 8 / 6, 1.0, 8 / 3])
    with pytest.raises(ValueError, match="none"):
        balanced_weights([np.full((2, 2), IGNORE_INDEX)], 4)


def test_label_smoothing_only_touches_labelled_pixels():
    logits, labels = sparse_batch(seed=2)
    module = PartialCrossEntropy(label_smoothing=0.1)
    expected = F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX, label_smoothing=0.1)
    assert torch.allclose(module(logits, labels), expected)
    module(logits, labels).backward()
    unlabelled = (labels == IGNORE_INDEX).unsqueeze(1).expand_as(logits)
    assert logits.grad[unlabelled].abs().max() == 0


def test_a_class_of_weight_zero_is_unlabelled_even_with_label_smoothing():
    logits, labels = sparse_batch(seed=5, labelled=0.4)
    weight = torch.tensor([0.0, 2.0, 0.5, 3.0])
    without = labels.masked_fill(labels == 0, IGNORE_INDEX)  # class 0's pixels left unlabelled by hand
    for smoothing in (0.0, 0.1):
        assert torch.allclose(
            partial_cross_entropy(logits, labels, weight, smoothing), partial_cross_entropy(logits, without, weight, smoothing)
        )
    only_zero = labels.masked_fill(labels != 0, IGNORE_INDEX)  # a batch whose labels are all of the weight-0 class
    logits.requires_grad_(True)
    loss = partial_cross_entropy(logits, only_zero, weight, 0.1)
    loss.backward()
    assert loss.item() == 0.0 and logits.grad.abs().max() == 0  # was 1e10: a smoothed share over a weight of 0


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


def two_region_image():
    """A 1 x 1 x 8 x 8 image: left half 0, right half 3 (a strong edge between columns 3 and 4)."""
    image = torch.zeros(1, 1, 8, 8)
    image[..., 4:] = 3.0
    return image


def split_prediction(column):
    """One-hot probabilities: class 0 left of ``column``, class 1 from it on."""
    probabilities = torch.zeros(1, 2, 8, 8)
    probabilities[:, 0, :, :column] = 1
    probabilities[:, 1, :, column:] = 1
    return probabilities


def test_regulariser_charges_a_class_change_inside_a_region_more_than_along_an_edge():
    image = two_region_image()
    along_edge = potts_regulariser(split_prediction(4), image, radius=1, dilation=1)
    inside_region = potts_regulariser(split_prediction(2), image, radius=1, dilation=1)
    assert 0 < along_edge < 0.01 < inside_region
    # by hand, radius 1: 4 offsets (0,1), (1,-1), (1,0), (1,1); a class change between columns 1 and 2 of a
    # uniform region is crossed by 8 pairs of offset (0,1) and 7 of each diagonal, with spatial weights exp(-1/18)
    # and exp(-2/18); the pairs number 56 + 49 + 56 + 49
    expected = (8 * math.exp(-1 / 18) + 2 * 7 * math.exp(-2 / 18)) / (56 + 49 + 56 + 49)
    assert float(inside_region) == pytest.approx(expected, rel=1e-6)


def test_regulariser_colour_affinity_is_the_same_for_any_number_of_bands():
    rgb = torch.zeros(1, 3, 8, 8)
    rgb[:, :, :, 4:] = torch.tensor([0.2, -0.1, 0.3]).view(1, 3, 1, 1)  # a faint edge between columns 3 and 4
    along_edge = potts_regulariser(split_prediction(4), rgb, radius=1, dilation=1)
    # by hand: the edge's 8 pairs of offset (0,1) and 7 of each diagonal, at the colour weight of a mean
    # squared difference (0.04 + 0.01 + 0.09) / 3 with sigma_colour^2 = 0.25 / 3, over 210 pairs
    colour = math.exp(-(0.14 / 3) / (2 * 0.25 / 3))
    expected = colour * (8 * math.exp(-1 / 18) + 2 * 7 * math.exp(-2 / 18)) / (56 + 49 + 56 + 49)
    assert float(along_edge) == pytest.approx(expected, rel=1e-6)
    thirteen_bands = torch.cat([rgb, rgb, rgb, rgb, rgb[:, :1]], dim=1)
    thirteen_bands[:, 12, :, 4:] = math.sqrt(0.14 / 3)  # the last band steps by the same root-mean-square
    assert float(potts_regulariser(split_prediction(4), thirteen_bands, radius=1, dilation=1)) == pytest.approx(
        expected, rel=1e-6
    )


def test_regulariser_leaves_out_pairs_with_a_pixel_without_data():
    image = torch.zeros(1, 3, 8, 8)  # one uniform region
    valid = torch.ones(1, 8, 8, dtype=torch.bool)
    valid[:, :, 5:] = False  # nodata (or padding) from column 5 on
    assert float(potts_regulariser(split_prediction(6), image, valid, radius=1, dilation=1)) == 0.0
    assert float(potts_regulariser(split_prediction(6), image, radius=1, dilation=1)) > 0
    # a change between columns 1 and 2, counted over the pairs of columns 0-4 only: 32 + 28 + 35 + 28
    expected = (8 * math.exp(-1 / 18) + 2 * 7 * math.exp(-2 / 18)) / (32 + 28 + 35 + 28)
    assert float(potts_regulariser(split_prediction(2), image, valid, radius=1, dilation=1)) == pytest.approx(expected)
    image[:, :, :, 6:] = float("nan")  # whatever a pixel without data holds, it stays out
    assert float(potts_regulariser(split_prediction(2), image, valid, radius=1, dilation=1)) == pytest.approx(expected)


def test_regulariser_is_zero_for_a_constant_one_hot_prediction_and_has_finite_gradients():
    image = torch.randn(2, 3, 16, 16)
    constant = torch.zeros(2, 4, 16, 16)
    constant[:, 2] = 1
    assert float(potts_regulariser(constant, image)) == 0.0
    logits = torch.randn(2, 4, 16, 16, requires_grad=True)
    potts_regulariser(torch.softmax(logits, dim=1), image).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_the_crf_method_adds_the_regulariser_and_leaves_the_labelled_term_alone():
    torch.manual_seed(0)
    logits, image = torch.randn(1, 3, 12, 12), torch.randn(1, 3, 12, 12)
    labels = torch.full((1, 12, 12), IGNORE_INDEX)
    labels[0, 3, 4], labels[0, 9, 9] = 2, 0
    plain = PointLoss("pce")(logits, labels, image)
    crf = PointLoss("crf", regulariser_weight=0.5)(logits, labels, image)
    assert set(plain) == {"loss", "pce"} and torch.equal(plain["loss"], plain["pce"])
    assert torch.equal(crf["pce"], plain["pce"]) and torch.equal(crf["pce"], partial_cross_entropy(logits, labels))
    assert float(crf["loss"]) == pytest.approx(float(plain["pce"] + 0.5 * crf["regulariser"]))
    other_labels = torch.full((1, 12, 12), IGNORE_INDEX)
    assert torch.equal(PointLoss("crf")(logits, other_labels, image)["regulariser"], crf["regulariser"])  # labels play no part


def test_pseudo_labels_obey_the_threshold_and_never_overwrite_a_real_point():
    _, labels = sparse_batch(seed=3, labelled=0.3)
    probabilities = torch.softmax(3 * torch.randn(2, 4, 9, 11, generator=torch.Generator().manual_seed(4)), dim=1)
    pseudo = pseudo_labels(probabilities, labels, threshold=0.8)
    confidence, best = probabilities.max(dim=1)
    made = pseudo != IGNORE_INDEX
    assert not (made & (labels != IGNORE_INDEX)).any()  # real points keep their own label, in the point term
    assert torch.equal(made, (confidence >= 0.8) & (labels == IGNORE_INDEX))
    assert torch.equal(pseudo[made], best[made]) and 0 < made.sum() < made.numel()
    valid = torch.ones_like(made)
    valid[:, :4] = False  # no data in the top rows
    bounded = pseudo_labels(probabilities, labels, threshold=0.8, valid=valid)
    assert (bounded[:, :4] == IGNORE_INDEX).all() and torch.equal(bounded[:, 4:], pseudo[:, 4:])


def test_per_class_quantile_thresholds_label_the_confident_share_of_a_class_the_teacher_is_never_sure_of():
    # class 0: confidences 0.95, 0.99 (above the global 0.9); class 1 (a thin class): 0.6, 0.7, 0.8; a real point at 0.65
    top = torch.tensor([0.95, 0.99, 0.4, 0.3, 0.2, 0.35])
    probabilities = torch.stack([top, 1 - top]).reshape(1, 2, 1, 6)
    labels = torch.tensor([[[IGNORE_INDEX] * 5 + [1]]])
    assert pseudo_labels(probabilities, labels, 0.9).tolist() == [[[0, 0, -100, -100, -100, -100]]]
    # the median of class 1 over its unlabelled pixels is 0.7 (the point is not counted): 0.7 and 0.8 are labelled;
    # class 0 keeps the global 0.9, lower than its median 0.97
    assert pseudo_labels(probabilities, labels, 0.9, quantile=0.5).tolist() == [[[0, 0, -100, 1, 1, -100]]]
    assert pseudo_labels(probabilities, labels, 0.9, quantile=0.9).tolist() == [[[0, 0, -100, -100, 1, -100]]]  # 0.78
    valid = torch.tensor([[[True, True, True, True, False, True]]])  # no data under the 0.8 pixel: median of 0.6, 0.7 is 0.65
    assert pseudo_labels(probabilities, labels, 0.9, valid, quantile=0.5).tolist() == [[[0, 0, -100, 1, -100, -100]]]


def test_self_training_adds_the_weighted_cross_entropy_of_the_pseudo_labels():
    logits = torch.tensor([[[[2.0, 0.0, 1.0]], [[0.0, 1.0, 1.0]]]])  # 2 classes, 1 x 3 pixels
    labels = torch.tensor([[[0, IGNORE_INDEX, IGNORE_INDEX]]])
    pseudo = torch.tensor([[[IGNORE_INDEX, 1, 0]]])
    terms = PointLoss("self-training", pseudo_weight=0.5)(logits, labels, torch.zeros(1, 3, 1, 3), pseudo=pseudo)
    point = -math.log(math.exp(2) / (math.exp(2) + 1))
    pseudo_term = (-math.log(math.e / (math.e + 1)) - math.log(0.5)) / 2  # pixel 2 says class 1, pixel 3 a tie
    assert float(terms["pce"]) == pytest.approx(point) and float(terms["self_training"]) == pytest.approx(pseudo_term)
    assert float(terms["loss"]) == pytest.approx(point + 0.5 * pseudo_term)
    warm_up = PointLoss("self-training")(logits, labels, torch.zeros(1, 3, 1, 3))  # no pseudo-labels yet
    assert set(warm_up) == {"loss", "pce"}


def test_consistency_is_the_weighted_divergence_from_the_target_over_valid_pixels_and_leaves_the_target_alone():
    target = torch.tensor([[[[0.5, 0.9, 0.2]], [[0.5, 0.1, 0.8]]]])  # 2 classes, 1 x 3 pixels
    logits = torch.tensor([[[[2.0, 0.0, 1.0]], [[0.0, 0.0, 1.0]]]], requires_grad=True)
    q = [math.exp(2) / (math.exp(2) + 1), 0.5, 0.5]  # softmax class 0 at each pixel
    kl = [0.5 * math.log(0.5 / q[0]) + 0.5 * math.log(0.5 / (1 - q[0])),
          0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5),
          0.2 * math.log(0.2 / 0.5) + 0.8 * math.log(0.8 / 0.5)]  # fmt: skip
    assert float(consistency_loss(target, logits)) == pytest.approx(sum(kl) / 3)
    valid = torch.tensor([[[True, False, True]]])
    assert float(consistency_loss(target, logits, valid)) == pytest.approx((kl[0] + kl[2]) / 2)
    # class weights: each pixel weighs as its target's top class (pixel 2: class 0, weight 1; pixel 3: class 1, weight 3)
    weight, middle_and_last = torch.tensor([1.0, 3.0]), torch.tensor([[[False, True, True]]])
    assert float(consistency_loss(target, logits, middle_and_last, weight)) == pytest.approx((kl[1] + 3 * kl[2]) / 4)
    assert float(consistency_loss(torch.softmax(logits, dim=1), logits)) == pytest.approx(0.0, abs=1e-7)  # agreement
    source = torch.tensor([[[[0.0, 2.0, -1.0]], [[0.0, 0.0, 1.0]]]], requires_grad=True)
    consistency_loss(torch.softmax(source, dim=1), logits).backward()
    assert source.grad is None and torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_the_consistency_method_adds_the_weighted_term_with_the_class_weights_and_needs_a_view():
    torch.manual_seed(0)
    logits, view_logits = torch.randn(1, 3, 6, 6), torch.randn(1, 3, 6, 6)
    labels = torch.full((1, 6, 6), IGNORE_INDEX)
    labels[0, 2, 3] = 1
    target = torch.softmax(logits, dim=1)
    terms = PointLoss("consistency", consistency_weight=0.3)(
        logits, labels, torch.zeros(1, 3, 6, 6), view=(target, view_logits, None)
    )
    assert torch.equal(terms["pce"], partial_cross_entropy(logits, labels))
    assert torch.equal(terms["consistency"], consistency_loss(target, view_logits))
    weighted = PointLoss("consistency", weight=[1.0, 2.0, 5.0])(logits, labels, logits, view=(target, view_logits, None))
    expected = consistency_loss(target, view_logits, weight=torch.tensor([1.0, 2.0, 5.0]))
    assert torch.equal(weighted["consistency"], expected) and not torch.equal(expected, terms["consistency"])
    assert float(terms["loss"]) == pytest.approx(float(terms["pce"] + 0.3 * terms["consistency"]))
    with pytest.raises(ValueError, match="consistency needs the predictions on a view"):
        PointLoss("consistency")(logits, labels, torch.zeros(1, 3, 6, 6))
    expanded = torch.full((1, 6, 6), IGNORE_INDEX)
    expanded[0, 1:4, 2:5] = 1  # the point's superpixel
    both = PointLoss("superpixels+consistency", superpixel_weight=0.5, consistency_weight=0.3)(
        logits, labels, torch.zeros(1, 3, 6, 6), expanded, view=(target, view_logits, None)
    )
    assert torch.equal(both["consistency"], terms["consistency"])
    assert torch.equal(both["superpixels"], partial_cross_entropy(logits, expanded))
    assert float(both["loss"]) == pytest.approx(float(both["pce"] + 0.5 * both["superpixels"] + 0.3 * both["consistency"]))
