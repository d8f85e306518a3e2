"""BatchNorm's running averages as a source of noise in a run's score, and what PreciseBN leaves of it.

A network with BatchNorm is evaluated with running averages of its batches' statistics,
kept with momentum 0.1 during training: mostly the last 10-20 batches. Two measurements
on finished runs (Dubai views from ``benchmarks/dubai.py``; the training and validation
data are read from each run's ``config.json``):

``draws``: each checkpoint evaluated as saved; with its running averages rebuilt from
other batches the way training keeps them (momentum 0.1 over 50 batches of 8 crops),
``--draws`` times at other crop seeds; and with PreciseBN (the mean over
128, 512 and 1024 crops, at three crop seeds each), with the callback that ends
``pointseg train`` (over crops of another epoch than the last one trained). The weights
never change: every difference is BatchNorm's.

    python benchmarks/precise_bn.py draws --out docs/benchmarks/precise-bn/draws.json \\
        docs/benchmarks/clicks-balanced-typical/random/round-3 docs/benchmarks/clicks-balanced-typical/initial/round-0

``rescore``: every training of ``click_noise.py`` folders (the loop's own run and the
retrainings) scored again with PreciseBN over 1024 crops, written as ``precise.json``
beside each folder's ``noise.json`` in the same form, so that
``click_noise_seeds.py --scores precise`` compares the arms without BatchNorm's noise.

    python benchmarks/precise_bn.py rescore docs/benchmarks/click-noise/power-seed0 docs/benchmarks/click-noise/random-seed0

``runs``: finished runs that predate PreciseBN evaluated again after PreciseBN over 1024
crops, their full evaluation (the form of ``metrics.json``) written as ``precise.json`` in
each run folder, which ``methods.py --scores precise`` reads in place of ``metrics.json``.

    python benchmarks/precise_bn.py runs docs/benchmarks/methods-1500/*-seed2
"""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from click_noise import noise_summary

from pointseg.callbacks import PreciseBatchNorm
from pointseg.classes import ClassTable
from pointseg.config import PREDATED_OPTIONS, TrainConfig
from pointseg.data.datamodule import PointSegDataModule
from pointseg.data.dataset import Scene
from pointseg.data.discover import discover_pairs
from pointseg.data.scenes import load_scenes
from pointseg.evaluation import evaluate_module
from pointseg.predict import load_module

PRECISE_CROPS = (128, 512, 1024)
CROP_SEEDS = (10, 11, 12)


def ended_with_precise_bn(run: Path) -> bool:
    """Whether a run's training ended with PreciseBN: a ``config.json`` without ``precise_bn`` predates it (0)."""
    return (PREDATED_OPTIONS | json.loads((run / "config.json").read_text()))["precise_bn"] > 0


@functools.cache
def _scenes(root: Path, classes: ClassTable) -> list[Scene]:
    """The scenes under ``root``, read once for all the runs that train or validate on them."""
    return load_scenes(discover_pairs(root), classes)


class Run:
    """A finished run's module, its training scenes' crops and its validation data."""

    def __init__(self, folder: Path) -> None:
        config = TrainConfig.model_validate_json((folder / "config.json").read_text())
        self.module = load_module(folder / "model.ckpt")
        self.val_scenes = _scenes(config.val_data, self.module.classes)
        scenes = _scenes(config.data, self.module.classes)
        self.data = PointSegDataModule(scenes, [], self.module.band_stats, config.crop, config.batch_size, seed=0)

    def evaluate(self) -> dict[str, Any]:
        """Validation metrics (the form of ``metrics.json``) with the statistics the module holds now."""
        return evaluate_module(self.module, self.val_scenes, accelerator="cpu")

    def score(self) -> float:
        """Validation mIoU with the statistics the module holds now."""
        return float(self.evaluate()["miou"])

    def running_averages(self, seed: int, batches: int = 50) -> None:
        """Rebuild the running averages as training keeps them: momentum 0.1 over ``batches`` shuffled batches.

        They start from a PreciseBN estimate, as late in training from statistics already close: after a
        reset, 0.9 ** 50 = 0.5 % of its mean 0 and variance 1 would linger, which moved a run's score by 0.03.
        """
        self.precise(seed + 500, 1024)
        model = self.module.model
        self.data.train_dataset.set_epoch(1000 + seed)
        torch.manual_seed(seed)
        model.train()
        with torch.no_grad():
            for i, batch in enumerate(self.data.train_dataloader()):
                if i == batches:
                    break
                model(batch["image"])
        model.eval()

    def precise(self, seed: int, crops: int) -> None:
        """PreciseBN over ``crops`` crops with the callback that ends a training, on the crops of epoch ``1000 + seed``."""
        self.data.train_dataset.set_epoch(1000 + seed)
        torch.manual_seed(seed)
        trainer = SimpleNamespace(datamodule=self.data, world_size=1, strategy=SimpleNamespace(reduce=lambda t, reduce_op: t))
        PreciseBatchNorm(crops).on_train_end(trainer, SimpleNamespace(model=self.module.model, device=torch.device("cpu")))
        self.module.model.eval()


def draws(folders: list[Path], count: int, out: Path) -> None:
    """The ``draws`` measurement of the module docstring, written to ``out`` as JSON and printed."""
    results: dict[str, Any] = {}
    for folder in folders:
        run = Run(folder)
        entry: dict[str, Any] = {"saved": run.score(), "running_averages": [], "precise": {}}
        for seed in range(count):
            run.running_averages(seed)
            entry["running_averages"].append(run.score())
        for crops in PRECISE_CROPS:
            entry["precise"][crops] = []
            for seed in CROP_SEEDS:
                run.precise(seed, crops)
                entry["precise"][crops].append(run.score())
        results[str(folder)] = entry
        ema = np.array(entry["running_averages"])
        print(f"{folder}: saved {entry['saved']:.4f}; running averages {ema.mean():.4f} ± {ema.std(ddof=1):.4f} "
              f"({ema.min():.4f}-{ema.max():.4f})", flush=True)  # fmt: skip
        for crops, scores in entry["precise"].items():
            print(f"  PreciseBN over {crops} crops: {np.mean(scores):.4f} ± {np.std(scores, ddof=1):.4f}", flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2))


def rescore(folders: list[Path], crops: int = 1024, seed: int = CROP_SEEDS[0]) -> None:
    """The ``rescore`` measurement of the module docstring: ``precise.json`` beside each ``noise.json``."""
    for folder in folders:
        noise = json.loads((folder / "noise.json").read_text())
        scores = {}
        for seed_run in sorted(folder.glob("seed*")):
            key = int(seed_run.name.removeprefix("seed"))
            run = Run(seed_run)
            run.precise(seed, crops)
            scores[key] = run.score()
            print(f"{seed_run}: {scores[key]:.4f} (as saved {noise['miou_by_seed'][str(key)]:.4f})", flush=True)
        loop = Run(Path(noise["run"]))
        loop.precise(seed, crops)
        summary = noise_summary(Path(noise["run"]), noise["loop_seed"], loop.score(), scores)
        print(f"{noise['run']}: {summary['loop_miou']:.4f} (as saved {noise['loop_miou']:.4f})", flush=True)
        (folder / "precise.json").write_text(json.dumps(summary | {"precise_bn": crops}, indent=2))


def runs(folders: list[Path], crops: int = 1024, seed: int = CROP_SEEDS[0]) -> None:
    """The ``runs`` measurement of the module docstring: ``precise.json`` in each run folder."""
    for folder in folders:
        if ended_with_precise_bn(folder):
            raise SystemExit(f"{folder} ended with PreciseBN already: its metrics.json is the score after it")
        run = Run(folder)
        run.precise(seed, crops)
        metrics = run.evaluate() | {"precise_bn": crops, "crop_seed": seed}
        (folder / "precise.json").write_text(json.dumps(metrics, indent=2))
        saved = json.loads((folder / "metrics.json").read_text())["miou"]
        print(f"{folder}: {metrics['miou']:.4f} (as saved {saved:.4f})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    measure = commands.add_parser("draws", help="running averages against PreciseBN on the same weights")
    measure.add_argument("runs", type=Path, nargs="+", help="run folders (config.json, model.ckpt)")
    measure.add_argument("--draws", type=int, default=5, help="running averages rebuilt at this many crop seeds")
    measure.add_argument("--out", type=Path, required=True, help="JSON file to write")
    again = commands.add_parser("rescore", help="click_noise.py folders scored again with PreciseBN")
    again.add_argument("folders", type=Path, nargs="+", help="click_noise.py --out folders")
    finished = commands.add_parser("runs", help="finished runs scored again with PreciseBN")
    finished.add_argument("runs", type=Path, nargs="+", help="run folders (config.json, model.ckpt) without PreciseBN")
    args = parser.parse_args()
    if args.command == "draws":
        draws(args.runs, args.draws, args.out)
    elif args.command == "rescore":
        rescore(args.folders)
    else:
        runs(args.runs)


if __name__ == "__main__":
    main()
