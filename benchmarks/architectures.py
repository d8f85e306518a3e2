"""Networks compared at the same wall-clock budget on the Dubai aerial set: mIoU against training cost.

For every network of ``pointseg models``, measures its training speed on this machine
(crops of ``--crop`` px in batches of ``--batch-size``, a fresh process each), turns the
budget in minutes into that network's number of steps, and trains it twice per seed on
tiles 1-6: on random points at 0.01 % of pixels and on the full masks; both are evaluated
on the whole images of tile 7. Writes ``summary.json``, ``table.md`` and
``cost.png`` (mIoU from points against training GFLOPs, one point per network, the
full-mask mIoU beside each). Runs with a ``seconds.txt`` are not trained again, so the
seeds can run side by side, one core each, once the first process has written
``costs.json``, and a last call with every seed writes the summary of all:

    python benchmarks/architectures.py --minutes 8 --seeds 0 --threads 1 --out docs/benchmarks/architectures &
    python benchmarks/architectures.py --minutes 8 --seeds 1 --threads 1 --out docs/benchmarks/architectures
    python benchmarks/architectures.py --minutes 8 --seeds 0 1 --threads 1 --out docs/benchmarks/architectures
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import get_args

import torch
from dubai import DUBAI, dubai_split, train_once

from pointseg.config import TrainConfig
from pointseg.figures import pyplot
from pointseg.models import ModelName
from pointseg.models.cost import measure_all


def plot(rows: list[dict], path: Path) -> None:
    """Mean mIoU (points, full masks; bars: the spread over seeds) against FLOPs of training, one point per network."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for row in rows:
        x = row["train_gflops"] / 1000
        ax.errorbar(x, row["miou_points"], row["sd_points"], color="tab:orange", marker="o", capsize=3)
        ax.errorbar(x, row["miou_full"], row["sd_full"], color="tab:blue", marker="s", capsize=3)
        ax.plot([x] * 2, [row["miou_points"], row["miou_full"]], color="grey", alpha=0.4)
        ax.annotate(row["model"], (x, row["miou_points"]), textcoords="offset points", xytext=(5, -12))
    ax.scatter([], [], color="tab:orange", label="random points, 0.01 %")
    ax.scatter([], [], color="tab:blue", marker="s", label="full masks")
    ax.set_xlabel("training cost within the budget (TFLOPs: forward FLOPs x 3 x crops seen)")
    ax.set_ylabel("validation mIoU (tile 7)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def markdown(rows: list[dict], seeds: list[int]) -> str:
    """The table of the README: cost, budget and mIoU of every network, best mIoU from points first."""
    unet = next((r["miou_points"] for r in rows if r["model"] == "unet"), float("nan"))
    lines = [
        "| network | parameters | GFLOPs per 256 px image | steps in the budget "
        f"| mIoU from points (seeds {', '.join(map(str, seeds))}) | of the U-Net's | mIoU from full masks | points / full "
        "| minutes a run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in sorted(rows, key=lambda r: -r["miou_points"]):
        each = ", ".join(f"{m:.3f}" for m in row["points_by_seed"])
        minutes = (row["minutes_points"] + row["minutes_full"]) / 2
        lines.append(
            f"| {row['model']} | {row['parameters'] / 1e6:.2f} M | {row['gflops_per_image']:.2f} | {row['steps']} "
            f"| {row['miou_points']:.4f} ({each}) | {row['miou_points'] / unet:.2f} | {row['miou_full']:.4f} "
            f"| {row['miou_points'] / row['miou_full']:.3f} | {minutes:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DUBAI)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/architectures"))
    parser.add_argument("--models", nargs="+", default=list(get_args(ModelName)))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--minutes", type=float, default=8.0, help="wall-clock training budget of every run")
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None, help="torch threads of this process and its measurements")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    train_root, val_root, classes = dubai_split(args.data)

    costs_path = args.out / "costs.json"
    if not costs_path.exists():
        costs = measure_all(args.models, size=args.crop, batch=args.batch_size, width=args.width, repeats=10)
        costs_path.write_text(json.dumps([c.__dict__ for c in costs], indent=2))
    costs = {c["name"]: c for c in json.loads(costs_path.read_text())}

    rows = []
    for model in args.models:
        steps = max(1, int(args.minutes * 60 * costs[model]["train_images_per_s"] / args.batch_size))
        mious: dict[str, list[float]] = {"points": [], "full": []}
        minutes: dict[str, list[float]] = {"points": [], "full": []}
        for seed in args.seeds:
            for arm in ("points", "full"):
                config = TrainConfig(data=train_root, val_data=val_root, classes=classes, model=model, width=args.width,
                                     out=args.out / f"{model}-{arm}-seed{seed}", full_masks=arm == "full",
                                     points="0.0001", seed=seed, max_steps=steps, batch_size=args.batch_size,
                                     crop=args.crop, val_every=1000, progress_bar=False)  # fmt: skip
                metrics, seconds = train_once(config)
                mious[arm].append(metrics["miou"])
                minutes[arm].append(seconds / 60)
        row = {
            "model": model,
            "parameters": costs[model]["parameters"],
            "gflops_per_image": costs[model]["gflops"],
            "steps": steps,
            "train_gflops": 3 * costs[model]["gflops"] * steps * args.batch_size,
            "miou_points": statistics.mean(mious["points"]),
            "sd_points": statistics.stdev(mious["points"]) if len(mious["points"]) > 1 else 0.0,
            "miou_full": statistics.mean(mious["full"]),
            "sd_full": statistics.stdev(mious["full"]) if len(mious["full"]) > 1 else 0.0,
            "minutes_points": statistics.mean(minutes["points"]),
            "minutes_full": statistics.mean(minutes["full"]),
            "points_by_seed": mious["points"],
            "full_by_seed": mious["full"],
        }
        rows.append(row)
        print(f"{model}: {steps} steps, points {row['miou_points']:.4f}, full {row['miou_full']:.4f}", flush=True)
    (args.out / "table.md").write_text(markdown(rows, args.seeds))
    budget = {"minutes": args.minutes, "crop": args.crop, "batch_size": args.batch_size, "width": args.width}
    (args.out / "summary.json").write_text(json.dumps({"budget": budget, "seeds": args.seeds, "rows": rows}, indent=2))
    plot(rows, args.out / "cost.png")
    print(markdown(rows, args.seeds))


if __name__ == "__main__":
    main()
