"""Lightning callbacks of a run: metrics written as they come, and training that stays at chance stopped.

Example:
    >>> import math
    >>> monitor = ChanceMonitor(num_classes=5, after_epochs=2)
    >>> round(monitor.threshold, 3) == round(0.98 * math.log(5), 3)
    True
"""

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
    """Stop a run whose training loss stays at chance level.

    A network that has learnt nothing predicts every class alike and its cross-entropy is
    ``ln(num_classes)``. After ``after_epochs`` epochs, an epoch whose mean training loss
    is still above ``fraction * ln(num_classes)`` raises :class:`TrainingDiverged` (a
    sweep records the run as diverged, with the step).

    Args:
        num_classes: Number of classes.
        after_epochs: Epochs granted before the check starts.
        fraction: Share of ``ln(num_classes)`` above which the loss counts as chance.
    """

    def __init__(self, num_classes: int, after_epochs: int = 2, fraction: float = 0.98) -> None:
        self.threshold = fraction * math.log(num_classes)
        self.after_epochs = after_epochs

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Check the epoch's mean training loss."""
        loss = trainer.callback_metrics.get("train_loss_epoch")
        if loss is None or trainer.current_epoch + 1 < self.after_epochs:
            return
        if float(loss) > self.threshold:
            raise TrainingDiverged(
                step=trainer.global_step,
                loss=float(loss),
                reason=f"after {trainer.current_epoch + 1} epochs the training loss is still above chance level "
                f"({self.threshold:.3f} = {self.threshold / math.log(pl_module.classes.num_classes):.2f} ln C)",
            )
