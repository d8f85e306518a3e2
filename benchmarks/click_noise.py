"""How much of a click loop's round-to-round swing is training alone: the same points, other training seeds.

Trains one round of a `pointseg simulate-clicks` loop again on exactly its points (its
``points.csv``, as ``--points-file``) with the loop's training options but other seeds
(``--seed`` sets the initial weights and the crops; the points do not change), and writes
``noise.json`` beside the runs: the mIoU of each seed and their spread (the loop's own
run counted once: a seed equal to the loop's retrains it, to see that it reproduces). Any
difference between two arms smaller than this spread is what another seed of the same arm
gives. ``noise.json`` counts every seed finished in ``--out`` (its ``seed<N>/metrics.json``),
those that other processes trained there too (one seed each, in parallel), and is written
again after each seed; a seed finished before is read, not trained again, so that a stopped
process run again trains only the seeds it had not finished.

    python benchmarks/click_noise.py docs/benchmarks/clicks-balanced-power --arm random --round 3 \\
        --seeds 100 101 --out docs/benchmarks/click-noise/random-seed0
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from pointseg.clicks import read_loop
from pointseg.config import TrainConfig
from pointseg.training import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("loop", type=Path, help="simulate-clicks --out folder")
    parser.add_argument("--arm", default="random", choices=["suggested", "random"])
    parser.add_argument("--round", type=int, default=3, help="the round whose points are trained on again (0: initial)")
    parser.add_argument("--seeds", type=int, nargs="+", required=True, help="training seeds")
    parser.add_argument("--out", type=Path, required=True, help="folder of the runs and noise.json")
    parser.add_argument("--accelerator", default="auto")
    args = parser.parse_args()
    loop = read_loop(args.loop)
    run = args.loop / (args.arm if args.round else "initial") / f"round-{args.round}"
    for seed in args.seeds:
        out = args.out / f"seed{seed}"
        if not (out / "metrics.json").is_file():  # else trained before this process was stopped
            options = {**loop["training"], "seed": seed, "points_file": run / "points.csv"}
            config = TrainConfig(**options, out=out, accelerator=args.accelerator, progress_bar=False)
            print(f"{run} seed {seed}: mIoU {train(config).metrics['miou']:.4f}", flush=True)
        write_summary(run, loop["training"]["seed"], args.out)


def write_summary(run: Path, loop_seed: int, out: Path) -> None:
    """Write ``out/noise.json`` from the loop's ``run`` and every seed finished in ``out``."""
    scores = {
        int(path.parent.name.removeprefix("seed")): json.loads(path.read_text())["miou"]
        for path in out.glob("seed*/metrics.json")
    }
    summary = noise_summary(run, loop_seed, json.loads((run / "metrics.json").read_text())["miou"], scores)
    (out / "noise.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


def noise_summary(run: Path, loop_seed: int, loop_miou: float, scores: dict[int, float]) -> dict[str, Any]:
    """The loop's score and each seed's, with their spread and standard deviation (the loop's own seed counted once)."""
    scores = dict(sorted(scores.items()))
    values = np.array([loop_miou, *(score for seed, score in scores.items() if seed != loop_seed)])
    return {
        "run": str(run),
        "loop_seed": loop_seed,
        "loop_miou": loop_miou,
        "miou_by_seed": scores,
        "spread": round(float(values.max() - values.min()), 4),
        "std": round(float(values.std(ddof=1)), 4) if values.size > 1 else None,
    }


if __name__ == "__main__":
    main()
