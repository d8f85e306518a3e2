import math

import numpy as np
import pytest
import torch

from pointseg.classes import IGNORE_INDEX
from pointseg.metrics import confusion_matrix, segmentation_metrics


def test_metrics_of_a_hand_written_confusion_matrix():
    # rows: true class, columns: predicted
    cm = np.array([[50, 10, 0], [5, 30, 5], [0, 0, 0]])
    m = segmentation_metrics(cm, ["a", "b", "c"])
    assert m.accuracy == pytest.approx(80 / 100)
    assert m.per_class_iou["a"] == pytest.approx(50 / (60 + 55 - 50))
    assert m.per_class_iou["b"] == pytest.approx(30 / (40 + 40 - 30))
    # class c never true but predicted 5 times: IoU 0, counted in the mean
    assert m.per_class_iou["c"] == 0
    assert m.miou == pytest.approx((50 / 65 + 30 / 50 + 0) / 3)
    assert m.per_class_f1["a"] == pytest.approx(2 * 50 / (60 + 55))
    chance = (60 * 55 + 40 * 40 + 0 * 5) / 100**2
    assert m.kappa == pytest.approx((0.8 - chance) / (1 - chance))
    assert m.confusion_matrix == cm.tolist()


def test_a_class_neither_present_nor_predicted_is_left_out_of_the_mean():
    m = segmentation_metrics(np.array([[4, 0], [0, 0]]), ["a", "b"])
    assert math.isnan(m.per_class_iou["b"])
    assert m.miou == 1.0
    assert m.to_dict()["per_class_iou"] == {"a": 1.0, "b": None}
    assert m.kappa == 1.0


def test_no_pixel_gives_no_metric_at_all():
    m = segmentation_metrics(np.zeros((2, 2)), ["a", "b"])
    assert all(math.isnan(value) for value in (m.accuracy, m.miou, m.kappa))
    assert m.to_dict()["kappa"] is None


def test_confusion_matrix_skips_ignored_pixels():
    target = torch.tensor([[0, 1, IGNORE_INDEX], [2, 2, 1]])
    prediction = torch.tensor([[0, 2, 1], [2, 1, 1]])
    cm = confusion_matrix(prediction, target, 3)
    assert cm.tolist() == [[1, 0, 0], [0, 1, 1], [0, 1, 1]]
