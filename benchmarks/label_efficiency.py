"""Points versus full masks on the Dubai aerial set: how much of full supervision do points buy?

Trains the same U-Net with the same budget twice per seed: once on the dense masks
(``--full-masks``) and once on random points at 0.01 % of pixels, on tiles 1-6, and
evaluates both on the whole images of tile 7. Prints the mean and spread of both mIoU
values and their ratio; writes ``summary.json`` in the output folder. Finished runs
(a ``seconds.txt`` in their folder) are not trained again, so an interrupted benchmark
resumes where it stopped, and two processes may train one arm each (``--arms``) before a
last one, given both, writes the summary.

    python benchmarks/label_efficiency.py --data ../shared/data/dubai-aerial --out benchmarks/out/label-efficiency
    python benchmarks/label_efficiency.py --seeds 2 --arms full --threads 1 &  # one arm per core
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path

import torch
from dubai import DUBAI, dubai_split, train_once

from pointseg.config import TrainConfig
from pointseg.figures import pyplot

ARMS = ["full", "points"]


def plot_curves(out: Path, seeds: list[int]) -> Path:
    """Validation mIoU against steps for every run (the last point is the final evaluation)."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for arm, colour in (("full", "tab:blue"), ("points", "tab:orange")):
        for seed in seeds:
            run = out / f"{arm}-seed{seed}"
            with (run / "metrics.csv").open() as handle:
                points = [(int(r["step"]), float(r["val_miou"])) for r in csv.DictReader(handle) if r.get("val_miou")]
            config = json.loads((run / "config.json").read_text())
            points.append((config["max_steps"], json.loads((run / "metrics.json").read_text())["miou"]))
            steps, mious = zip(*points)
            label = f"{'full masks' if arm == 'full' else 'points 0.01 %'}, seed {seed}"
            ax.plot(steps, mious, marker="o", color=colour, alpha=0.6 + 0.4 * (seed == seeds[0]), label=label)
    ax.set_xlabel("optimisation step")
    ax.set_ylabel("validation mIoU (tile 7)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=100)
    plt.close(fig)
    return out / "curves.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DUBAI)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/label-efficiency"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--points", default="0.0001", help="point density of the points arm (default 0.01 %% of pixels)")
    parser.add_argument("--max-steps", type=int, default=800)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--lr-schedule", choices=["cosine", "constant"], default="cosine", help="as pointseg train --lr-schedule")
    parser.add_argument("--val-every", type=int, default=4, help="validate every N epochs (for the learning curve)")
    parser.add_argument("--val-tile", type=int, default=7, help="validate on this tile, train on those before (6: tuning)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of this process")
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=ARMS, help="train these arms; the summary needs both")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    train_root, val_root, classes = dubai_split(args.data, args.val_tile)
    results: dict[str, list[float]] = {"full": [], "points": []}
    seconds: dict[str, list[float]] = {"full": [], "points": []}
    for seed in args.seeds:
        for arm in args.arms:
            config = TrainConfig(data=train_root, classes=classes, out=args.out / f"{arm}-seed{seed}", val_data=val_root,
                                 full_masks=arm == "full", points=args.points, seed=seed, max_steps=args.max_steps,
                                 batch_size=args.batch_size, crop=args.crop, width=args.width, val_every=args.val_every,
                                 lr_schedule=args.lr_schedule, progress_bar=False)  # fmt: skip
            metrics, run_seconds = train_once(config)
            results[arm].append(metrics["miou"])
            seconds[arm].append(run_seconds)
            print(f"{arm:>6} seed {seed}: mIoU {metrics['miou']:.4f}  ({seconds[arm][-1]:.0f} s)", flush=True)
    if set(args.arms) != set(ARMS):
        return

    def spread(values: list[float]) -> float:
        return statistics.stdev(values) if len(values) > 1 else 0.0

    full, points = statistics.mean(results["full"]), statistics.mean(results["points"])
    summary = {
        "budget": {
            "max_steps": args.max_steps,
            "batch_size": args.batch_size,
            "crop": args.crop,
            "width": args.width,
            "lr_schedule": args.lr_schedule,
        },
        "points": args.points,
        "seeds": args.seeds,
        "miou_full": results["full"],
        "miou_points": results["points"],
        "mean_full": full,
        "std_full": spread(results["full"]),
        "mean_points": points,
        "std_points": spread(results["points"]),
        "ratio": points / full,
        "seconds_per_run": statistics.mean(seconds["full"] + seconds["points"]),
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    plot_curves(args.out, args.seeds)
    print(f"full masks mIoU {full:.4f} ± {summary['std_full']:.4f}")
    print(f"points     mIoU {points:.4f} ± {summary['std_points']:.4f}")
    print(f"ratio points / full = {summary['ratio']:.3f}")


if __name__ == "__main__":
    main()
