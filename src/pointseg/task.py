"""The LightningModule: a segmentation network trained with partial cross-entropy, validated on dense masks.

Validation runs on whole images and accumulates a confusion matrix and the loss over
every labelled pixel of the dense masks; at the end of the epoch both are summed over
processes (DDP) and turned into the metrics of :mod:`pointseg.metrics`.

Example:
    >>> from pointseg.classes import ClassTable
    >>> task = PointSegModule(
    ...     model={"in_channels": 3, "num_classes": 2, "width": 4, "depth": 2},
    ...     classes=ClassTable.from_rows([("a", 0), ("b", 1)]).to_dict(),
    ...     band_stats={"mean": [0, 0, 0], "std": [1, 1, 1]},
    ... )
    >>> task(torch.zeros(1, 3, 10, 12)).shape
    torch.Size([1, 2, 10, 12])
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from pointseg.classes import IGNORE_INDEX, ClassTable
from pointseg.data.dataset import BandStats, Sample, augment
from pointseg.errors import TrainingDiverged
from pointseg.losses import PointLoss, pseudo_labels
from pointseg.metrics import confusion_matrix, segmentation_metrics
from pointseg.models import ModelConfig, build_model


class PointSegModule(L.LightningModule):
    """A segmentation network trained with partial cross-entropy, evaluated on dense masks.

    Its hyper-parameters are plain data (saved in every checkpoint), so that
    :meth:`load_from_checkpoint` rebuilds the model, the classes and the normalisation.

    Args:
        model: :class:`~pointseg.models.ModelConfig` fields.
        classes: :meth:`ClassTable.to_dict` of the classes.
        band_stats: :meth:`BandStats.to_dict` of the training images.
        optimizer: ``adam``, ``adamw`` or ``sgd``.
        lr: Learning rate.
        weight_decay: Weight decay.
        label_smoothing: Label smoothing of the training loss.
        class_weights: Optional weight of each class in the training loss.
        lr_schedule: ``constant``, or ``cosine`` annealing to zero over the training budget.
        method: ``pce``, ``crf``, ``superpixels``, ``superpixels+crf``, ``self-training``,
            ``consistency`` or ``superpixels+consistency`` (see :class:`~pointseg.losses.PointLoss`).
        regulariser_weight: Weight of the regulariser.
        superpixel_weight: Weight of the superpixel term.
        pseudo_threshold: Self-training: least teacher probability of a pseudo-label.
        pseudo_quantile: Self-training: per-class thresholds (see :func:`~pointseg.losses.pseudo_labels`).
        pseudo_weight: Self-training: weight of the pseudo-label term.
        self_training_start: Self-training: share of the training budget on points alone
            (warm-up) before pseudo-labels are added.
        consistency_weight: Consistency: weight of the consistency term.
        validation_images: Absolute paths of the images the run validated on, not trained on
            (``pointseg suggest`` suggests no click there).
    """

    EMA_DECAY = 0.99
    """Self-training: the teacher's weights move 1 % of the way to the network's after every step."""

    VIEW_JITTER = 0.25
    """Consistency: the view's bands are scaled by 1 +- up to this and shifted by up to this, in normalised units
    (standard deviations with ``mean-std``)."""

    def __init__(
        self,
        model: dict[str, Any],
        classes: dict[str, Any],
        band_stats: dict[str, Any],
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        label_smoothing: float = 0.0,
        class_weights: list[float] | None = None,
        lr_schedule: str = "constant",
        method: str = "pce",
        regulariser_weight: float = 1.0,
        superpixel_weight: float = 0.5,
        pseudo_threshold: float = 0.9,
        pseudo_quantile: float | None = None,
        pseudo_weight: float = 0.5,
        self_training_start: float = 0.3,
        consistency_weight: float = 0.3,
        validation_images: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model_config = ModelConfig(**model)
        self.classes = ClassTable.from_dict(classes)
        self.band_stats = BandStats.from_dict(band_stats)
        # channels-last runs the convolutions of oneDNN (CPU) and cuDNN faster.
        self.model = build_model(self.model_config).to(memory_format=torch.channels_last)
        self.loss = PointLoss(
            method, class_weights, label_smoothing, regulariser_weight, superpixel_weight, pseudo_weight, consistency_weight
        )
        self.teacher = (
            AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(self.EMA_DECAY), use_buffers=True).requires_grad_(False)
            if method == "self-training"
            else None
        )
        self._reset_validation()
        self.evaluation: dict[str, Any] | None = None
        self.evaluation_step = -1

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, classes, H, W)`` of normalised images ``(N, bands, H, W)``."""
        return self.model(image.contiguous(memory_format=torch.channels_last))

    def on_train_epoch_start(self) -> None:
        """Let the crop dataset draw new crops for this epoch."""
        dataset = getattr(self.trainer.train_dataloader, "dataset", None)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(self.current_epoch)

    def on_fit_start(self) -> None:
        """Self-training from scratch: the teacher starts as the network (with any ``--init-weights``)."""
        if self.teacher is not None and int(self.teacher.n_averaged) == 0:  # not one restored from a checkpoint
            self.teacher.module.load_state_dict(self.model.state_dict())

    def _pseudo_labels(self, batch: Sample) -> torch.Tensor | None:
        """Self-training after the warm-up: the teacher's confident classes where the batch has no label."""
        if self.teacher is None:
            return None
        if self.global_step < self.hparams.self_training_start * max(1, int(self.trainer.estimated_stepping_batches)):
            return None
        self.teacher.eval()
        with torch.no_grad():
            probabilities = torch.softmax(self.teacher(batch["image"].contiguous(memory_format=torch.channels_last)), dim=1)
        hparams = self.hparams
        return pseudo_labels(
            probabilities, batch["labels"], hparams.pseudo_threshold, batch.get("valid"), hparams.pseudo_quantile
        )

    def _view(self, batch: Sample, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | None:
        """Consistency: the batch's probabilities, and the logits of a view of it, on the view's grid.

        The view is the batch under one random flip or rotation (:func:`~pointseg.data.dataset.augment`)
        with each image's bands rescaled and shifted at random (:attr:`VIEW_JITTER`); the
        probabilities and the valid pixels are flipped or rotated alike. The draws come from
        torch's generator, so that a seeded run repeats them.
        """
        if "consistency" not in self.hparams.method:
            return None
        image, valid = batch["image"], batch.get("valid")
        rng = np.random.default_rng(int(torch.randint(2**62, ())))
        tensors = [image, torch.softmax(logits.detach(), dim=1)] + ([valid] if valid is not None else [])
        image, target, *valid_view = augment(tensors, rng)
        jitter = torch.rand(2, *image.shape[:2], 1, 1, device=image.device) * 2 - 1
        image = image * (1 + self.VIEW_JITTER * jitter[0]) + self.VIEW_JITTER * jitter[1]
        return target, self(image), valid_view[0] if valid_view else None

    def training_step(self, batch: Sample, batch_idx: int) -> torch.Tensor:
        """The loss of a batch (and the terms of its method); stops with :class:`TrainingDiverged` on NaN/inf."""
        pseudo = self._pseudo_labels(batch)
        logits = self(batch["image"])
        terms = self.loss(
            logits,
            batch["labels"],
            batch["image"],
            batch.get("expanded"),
            pseudo,
            batch.get("valid"),
            self._view(batch, logits),
        )
        loss = terms["loss"]
        if not self.trainer.strategy.reduce_boolean_decision(bool(torch.isfinite(loss)), all=True):
            # every process stops at the same step: one alone would leave the others waiting in the gradient all-reduce
            raise TrainingDiverged(step=self.global_step, loss=float(loss.detach()))
        labelled = (batch["labels"] != IGNORE_INDEX).sum()
        self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=batch["image"].shape[0])
        self.log("train_pce", terms["pce"], on_step=False, on_epoch=True, batch_size=batch["image"].shape[0], sync_dist=True)
        for name in ("regulariser", "superpixels", "self_training", "consistency"):
            if name in terms:
                self.log(f"train_{name}", terms[name], on_step=True, on_epoch=True, batch_size=batch["image"].shape[0])
        if pseudo is not None:
            self.log("train_pseudo_share", (pseudo != IGNORE_INDEX).float().mean(), on_step=False, on_epoch=True)
        self.log("train_labelled_pixels", labelled.float(), on_step=False, on_epoch=True, reduce_fx="sum")
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Sample, batch_idx: int) -> None:
        """Self-training: move the teacher towards the network just updated."""
        if self.teacher is not None:
            self.teacher.update_parameters(self.model)

    def _reset_validation(self) -> None:
        num_classes = self.classes.num_classes
        self._val_confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64)
        self._val_loss_sum = 0.0  # a Python float: float64 on every device, MPS included

    def validation_step(self, batch: Sample, batch_idx: int) -> None:
        """Accumulate the confusion matrix and the loss over all labelled pixels of the dense mask."""
        target = batch["mask"]
        logits = self(batch["image"])
        loss_sum = F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX, reduction="sum")
        self._val_loss_sum += float(loss_sum)
        matrix = confusion_matrix(logits.argmax(dim=1), target, self.classes.num_classes)
        self._val_confusion = self._val_confusion.to(self.device) + matrix

    def on_validation_epoch_end(self) -> None:
        """Sum the counts over processes, turn them into metrics, log them and keep them in :attr:`evaluation`."""
        reduce = self.trainer.strategy.reduce
        matrix = reduce(self._val_confusion.to(self.device), reduce_op="sum").cpu()
        loss_sum = float(reduce(torch.tensor(self._val_loss_sum, device=self.device), reduce_op="sum"))
        self._reset_validation()
        pixels = int(matrix.sum())
        loss = loss_sum / pixels if pixels else None
        metrics = segmentation_metrics(matrix, self.classes.names)
        self.evaluation = {"loss": loss, "pixels": pixels, **metrics.to_dict()}
        self.evaluation_step = self.global_step
        scalars = {
            "val_loss": loss if loss is not None else math.nan,
            "val_accuracy": metrics.accuracy,
            "val_kappa": metrics.kappa,
        }
        scalars |= {f"val_iou_{name}": iou for name, iou in metrics.per_class_iou.items()}
        self.log_dict({k: v for k, v in scalars.items() if not math.isnan(v)}, rank_zero_only=True)
        if not math.isnan(metrics.miou):
            self.log("val_miou", metrics.miou, prog_bar=True, rank_zero_only=True)

    def configure_optimizers(self) -> dict[str, Any]:
        """Adam (default), AdamW or SGD with momentum 0.9; the learning rate constant or cosine-annealed to zero."""
        hp = self.hparams
        params = self.model.parameters()
        if hp.optimizer == "adam":
            optimizer: torch.optim.Optimizer = torch.optim.Adam(params, lr=hp.lr, weight_decay=hp.weight_decay)
        elif hp.optimizer == "adamw":
            optimizer = torch.optim.AdamW(params, lr=hp.lr, weight_decay=hp.weight_decay)
        else:
            optimizer = torch.optim.SGD(params, lr=hp.lr, momentum=0.9, weight_decay=hp.weight_decay)
        if hp.lr_schedule == "constant":
            return {"optimizer": optimizer}
        steps = max(1, int(self.trainer.estimated_stepping_batches))
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
