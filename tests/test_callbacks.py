import math
from types import SimpleNamespace

import pytest
import torch

from pointseg.callbacks import ChanceMonitor, PreciseBatchNorm
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


class _Loader(list):
    batch_size = 2


def test_precise_batch_norm_averages_the_statistics_of_the_first_batches_with_the_final_weights():
    # batches of 2 one-pixel images of 1 band: batch means 1 and 3, unbiased variances 2 and 8
    batches = [{"image": torch.tensor(v, dtype=torch.float32).view(2, 1, 1, 1)} for v in ([0, 2], [1, 5], [100, 200])]
    model = torch.nn.Sequential(torch.nn.BatchNorm2d(1, momentum=0.1))
    model[0].running_mean.fill_(50.0)
    reductions = []

    def reduce(tensor, reduce_op):  # the other process held statistics 2 above these
        reductions.append(reduce_op)
        return tensor + 1

    trainer = SimpleNamespace(
        datamodule=SimpleNamespace(train_dataloader=lambda: _Loader(batches)),
        world_size=1,
        strategy=SimpleNamespace(reduce=reduce),
    )
    callback = PreciseBatchNorm(crops=3)  # two batches of two: the third is not read
    callback.on_train_end(trainer, SimpleNamespace(model=model, device=torch.device("cpu")))
    norm = model[0]
    assert norm.running_mean.item() == pytest.approx(2.0 + 1)
    assert norm.running_var.item() == pytest.approx(5.0 + 1)
    assert reductions == ["mean", "mean"]
    assert int(norm.num_batches_tracked) == 2 and norm.momentum == 0.1 and norm.training


def test_precise_batch_norm_shares_the_crops_between_processes_and_leaves_a_teacher_alone():
    batches = [{"image": torch.tensor(v, dtype=torch.float32).view(2, 1, 1, 1)} for v in ([0, 2], [1, 5])]
    model, teacher = (torch.nn.Sequential(torch.nn.BatchNorm2d(1)) for _ in range(2))
    teacher[0].running_mean.fill_(50.0)
    trainer = SimpleNamespace(
        datamodule=SimpleNamespace(train_dataloader=lambda: _Loader(batches)),
        world_size=2,  # 4 crops in all: one batch of 2 in each process
        strategy=SimpleNamespace(reduce=lambda tensor, reduce_op: tensor),
    )
    module = SimpleNamespace(model=model, teacher=teacher, device=torch.device("cpu"))
    PreciseBatchNorm(crops=4).on_train_end(trainer, module)
    assert model[0].running_mean.item() == pytest.approx(1.0) and int(model[0].num_batches_tracked) == 1
    assert teacher[0].running_mean.item() == 50.0


def test_precise_batch_norm_with_no_crops_keeps_the_running_averages():
    model = torch.nn.Sequential(torch.nn.BatchNorm2d(1))
    model[0].running_mean.fill_(7.0)
    trainer = SimpleNamespace(datamodule=None, world_size=1, strategy=None)  # not read
    PreciseBatchNorm(crops=0).on_train_end(trainer, SimpleNamespace(model=model, device=torch.device("cpu")))
    assert model[0].running_mean.item() == 7.0
