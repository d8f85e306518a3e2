"""The Lightning data module: random training crops, whole validation images, sharded per process.

Under DDP each process takes its own share of the samples. Training crops are spread by
a :class:`~torch.utils.data.DistributedSampler`; validation images are dealt out without
the padding that sampler adds, so that no image is counted twice in the metrics.

Example:
    >>> import numpy as np
    >>> from pointseg.data.dataset import BandStats, Scene
    >>> scene = Scene("a", np.zeros((64, 64, 3), np.uint8), labels=np.zeros((64, 64), np.int16))
    >>> module = PointSegDataModule([scene], [], BandStats((0.0,) * 3, (1.0,) * 3), crop=32, batch_size=2, seed=0)
    >>> len(module.train_dataloader())
    2
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import lightning as L
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from pointseg.data.dataset import BandStats, CropPlacement, RandomCropDataset, Scene, WholeImageDataset
from pointseg.errors import DatasetError


class ShardSampler(Sampler[int]):
    """Indices ``rank, rank + replicas, ...``: every index exactly once over all processes."""

    def __init__(self, length: int, replicas: int, rank: int) -> None:
        self.indices = list(range(rank, length, replicas))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class PointSegDataModule(L.LightningDataModule):
    """Training crops and validation images for a :class:`lightning.Trainer`.

    Args:
        train_scenes: Scenes with training labels.
        val_scenes: Scenes with dense masks (may be empty).
        stats: Band statistics for normalisation.
        crop: Side of the square training crops.
        batch_size: Crops per batch (per process).
        seed: Seed of crops, augmentation and shuffling.
        num_workers: Data loading processes.
        placement: Where training crops fall (see :class:`~pointseg.data.dataset.RandomCropDataset`).
    """

    def __init__(
        self,
        train_scenes: Sequence[Scene],
        val_scenes: Sequence[Scene],
        stats: BandStats,
        crop: int,
        batch_size: int,
        seed: int,
        num_workers: int = 0,
        placement: CropPlacement = "anywhere",
    ) -> None:
        super().__init__()
        self.train_dataset = RandomCropDataset(train_scenes, stats, crop=crop, seed=seed, placement=placement)
        self.val_dataset = WholeImageDataset(val_scenes, stats)
        self.batch_size = batch_size
        self.seed = seed
        self.num_workers = num_workers

    def _replicas(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)

    def train_dataloader(self) -> DataLoader:
        """Shuffled crops; one shard per process under DDP."""
        replicas, rank = self._replicas()
        sampler = (
            DistributedSampler(self.train_dataset, num_replicas=replicas, rank=rank, shuffle=True, seed=self.seed)
            if replicas > 1
            else None
        )
        return DataLoader(
            self.train_dataset,
            batch_size=self.batch_size,
            shuffle=sampler is None,
            sampler=sampler,
            num_workers=self.num_workers,
            drop_last=len(self.train_dataset) >= self.batch_size * replicas,
        )

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        """Whole images (a large one in windows), one per batch, each in exactly one process; none without validation images."""
        replicas, rank = self._replicas()
        if len(self.val_dataset) == 0:
            return []  # Lightning then skips validation
        if len(self.val_dataset) < replicas:
            raise DatasetError(
                f"{len(self.val_dataset)} validation image(s) or window(s) for {replicas} processes: every process needs "
                "at least one",
                fix="hold out more images (--val-fraction, --val-data) or train on fewer devices",
            )
        return DataLoader(
            self.val_dataset,
            batch_size=1,
            sampler=ShardSampler(len(self.val_dataset), replicas, rank),
            num_workers=self.num_workers,
        )
