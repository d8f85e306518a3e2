import math
from types import SimpleNamespace

import pytest
import torch

from pointseg.callbacks import ChanceMonitor
from pointseg.errors import TrainingDiverged


def _epoch_end(monitor, loss, step, total=None):
    metrics = {"train_pce": torch.tensor(loss), "train_loss_epoch": torch.tensor(loss if total is None else total)}
    trainer = SimpleNamespace(callback_metrics=metrics, global_step=step)
    monitor.on_train_epoch_end(trainer, pl_module=None)


def test_a_loss_at_chance_after_the_grace_stops_the_run():
    monitor = ChanceMonitor(num_classes=5, after_steps=200)
    with pytest.raises(TrainingDiverged) as caught:
        _epoch_end(monitor, loss=1.60, step=240)
    assert caught.value.step == 240 and caught.value.loss == pytest.approx(1.60)
    assert "after 240 steps" in caught.value.message and "(1.577, 0.98 of the way to ln C)" in caught.value.message


def test_with_label_smoothing_chance_is_judged_above_the_smoothed_targets_entropy():
    monitor = ChanceMonitor(num_classes=5, after_steps=200, label_smoothing=0.9)
    floor = -(0.28 * math.log(0.28) + 4 * 0.18 * math.log(0.18))  # a perfect network's loss: 1.5911
    _epoch_end(monitor, loss=floor + 0.005, step=400)  # above 0.98 ln C, but learning
    with pytest.raises(TrainingDiverged):
        _epoch_end(monitor, loss=floor + 0.99 * (math.log(5) - floor), step=400)


def test_few_steps_or_a_loss_below_chance_go_on():
    monitor = ChanceMonitor(num_classes=5, after_steps=200)
    _epoch_end(monitor, loss=1.90, step=199)  # a large batch after a few epochs: too early to judge
    _epoch_end(monitor, loss=1.50, step=400)  # learning
    _epoch_end(monitor, loss=1.00, step=10_000)
    _epoch_end(monitor, loss=1.25, step=400, total=1.80)  # a method's extra terms lift the total, not the point loss


def test_an_exploded_loss_stops_the_run_at_once():
    monitor = ChanceMonitor(num_classes=5, after_steps=200)
    _epoch_end(monitor, loss=10 * math.log(5) - 0.01, step=3)
    with pytest.raises(TrainingDiverged) as caught:
        _epoch_end(monitor, loss=10 * math.log(5) + 0.01, step=3)
    assert caught.value.step == 3 and "exploded to over 10 times chance level" in caught.value.message
