"""Lightning callbacks of a run: metrics written as they come, and training that stays at chance stopped."""

from __future__ import annotations

import json
import math
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback

from pointseg.errors import TrainingDiverged


class MetricsWriter(Callback):
    """Write the latest validation metrics to a JSON file, from the global-zero process.

    Runs inside the training processes, so it works with every Lightning strategy,
    spawn-based ones included, and leaves the latest metrics behind if a run is stopped.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Write the module's ``evaluation``."""
        if trainer.is_global_zero and not trainer.sanity_checking:
            self.path.write_text(json.dumps(pl_module.evaluation, indent=2))


class ChanceMonitor(Callback):
    """Stop a run whose training loss stays at chance level, or explodes past it.

    A network that has learnt nothing predicts every class alike and its cross-entropy is
    ``ln(num_classes)``. The loss watched is the partial cross-entropy on the labelled
    pixels (``train_pce``), not the total, to which a ``--method`` adds terms of its own
    (superpixel or pseudo-labels, weighted) that would lift it above chance by themselves.
    Once ``after_steps`` optimisation steps are done, an epoch whose mean point loss is
    still above ``fraction * ln(num_classes)`` raises
    :class:`TrainingDiverged` (a sweep records the run as diverged, with the step). The
    grace is counted in steps, not epochs: a large batch on a small dataset takes few steps
    per epoch, and a run is not stuck before it has had the updates to learn. An epoch
    whose loss exceeds ``explode * ln(num_classes)`` (confidently wrong, as after a far too
    large learning rate) is stopped at once.

    With ``label_smoothing`` even a perfect network's loss is the entropy of the smoothed
    target, not 0: the share ``fraction`` is then of the way from that floor to chance.

    Args:
        num_classes: Number of classes.
        after_steps: Optimisation steps granted before the check for chance level starts.
        fraction: Share of ``ln(num_classes)`` above which the loss counts as chance.
        explode: Multiple of ``ln(num_classes)`` above which the loss has exploded.
        label_smoothing: The training's ``--label-smoothing``.

    Example:
        >>> monitor = ChanceMonitor(num_classes=5)
        >>> round(monitor.chance, 4), round(monitor.threshold, 4), monitor.after_steps
        (1.6094, 1.5772, 200)
        >>> round(ChanceMonitor(num_classes=5, label_smoothing=0.9).threshold, 4)  # a perfect loss is 1.5911 here
        1.6091
    """

    def __init__(
        self,
        num_classes: int,
        after_steps: int = 200,
        fraction: float = 0.98,
        explode: float = 10.0,
        label_smoothing: float = 0.0,
    ) -> None:
        self.chance = math.log(num_classes)
        right, wrong = 1 - label_smoothing + label_smoothing / num_classes, label_smoothing / num_classes
        floor = -sum(share * math.log(share) for share in [right] + [wrong] * (num_classes - 1) if share > 0)
        self.threshold = floor + fraction * (self.chance - floor)
        self.after_steps = after_steps
        self.fraction = fraction
        self.explode = explode

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Check the epoch's mean training loss."""
        loss = trainer.callback_metrics.get("train_pce")
        if loss is None:
            return
        loss = float(loss)
        if loss > self.explode * self.chance:
            reason = (
                f"the training loss on the points exploded to over {self.explode:g} times chance level ({self.explode:g} ln C)"
            )
        elif trainer.global_step >= self.after_steps and loss > self.threshold:
            reason = (
                f"after {trainer.global_step} steps the training loss on the points is still above chance level "
                f"({self.threshold:.3f}, {self.fraction:.2f} of the way to ln C)"
            )
        else:
            return
        raise TrainingDiverged(step=trainer.global_step, loss=loss, reason=reason)
