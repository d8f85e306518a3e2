"""Methods for learning more from few points, on the Dubai aerial set, against full masks.

Trains each ``--method`` with exactly the budget of the label-efficiency benchmark (U-Net
width 8, Adam 0.001 with cosine annealing, batch 8 of 256-px crops, 1,500 steps, random
points at 0.01 % of pixels on tiles 1-6, evaluated on tile 7) and compares it with that
benchmark's full-mask and plain-pCE runs of the same seeds (``--reference``). Prints and
writes (``summary.json``, ``table.md``, ``classes.png``; with seeds other than 0 alone,
``summary-seeds-0-1.json`` and so on) each method's mIoU as a fraction of full
supervision, its worst class as a fraction of that class's full-mask IoU, and its
seconds per run. An arm may change options of its method: ``crf:regulariser_weight=0.1``.
Finished runs are not trained again, so several processes may split the methods between
them and a last one, given all of them, writes the summary.

    python benchmarks/methods.py --methods crf self-training --threads 1 --no-summary &
    python benchmarks/methods.py --methods superpixels superpixels+crf --threads 1 --no-summary &
    python benchmarks/methods.py  # once both are done: the summary

``--scores precise`` summarises the scores after PreciseBN instead (files ending
``-precise-bn``): a run that ended with it (``--precise-bn``, the default since these runs)
by its ``metrics.json``, one that predates it by its ``precise.json`` from
``precise_bn.py runs``; ``--full`` names the arm that stands for full supervision. The
table of ``docs/benchmarks/methods-1500`` after PreciseBN, its arms trained anew with it
(``precise_bn=1024``) beside the first consistency runs scored again, against full masks
with balanced class weights:

    python benchmarks/methods.py --scores precise --seeds 0 1 2 --methods \
        consistency:class_weights=balanced,consistency_weight=0.3 \
        consistency:class_weights=balanced,consistency_weight=0.3,precise_bn=1024 \
        pce:precise_bn=1024 pce:points=full,precise_bn=1024 pce:points=full,class_weights=balanced,precise_bn=1024 \
        --full pce:points=full,class_weights=balanced,precise_bn=1024

Options are chosen without looking at tile 7: train on tiles 1-5 and validate on tile 6
(``--val-tile 6``), against reference runs on the same split, whose budget the arms take
(``docs/benchmarks/methods-tile6-600`` ran these, at 600 steps):

    python benchmarks/label_efficiency.py --val-tile 6 --max-steps 600 --val-every 100 --seeds 0 --out OUT/reference
    python benchmarks/methods.py --val-tile 6 --reference OUT/reference --out OUT --methods crf \
        crf:regulariser_weight=0.1 superpixels superpixels:superpixel_area=100 self-training \
        self-training:pseudo_quantile=0.5
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch
from dubai import DUBAI, dubai_split, train_once
from precise_bn import ended_with_precise_bn

from pointseg.config import TrainConfig
from pointseg.figures import pyplot

METHODS = ["crf", "superpixels", "self-training", "superpixels+crf"]
REFERENCE = Path("docs/benchmarks/label-efficiency-1500")


def parse_arm(spec: str) -> tuple[str, dict[str, str], str]:
    """``crf`` or ``crf:regulariser_weight=0.1,...`` -> the method, its option overrides and its folder stem."""
    method, _, options = spec.partition(":")
    overrides = dict(part.split("=", 1) for part in options.split(",") if part)
    return method, overrides, spec.replace(":", "_").replace(",", "_")


def run_method(spec: str, seed: int, args: argparse.Namespace) -> Path:
    """Train one arm and seed unless its run finished before (:func:`train_once`); returns the folder."""
    method, overrides, stem = parse_arm(spec)
    out = args.out / f"{stem}-seed{seed}"
    train_root, val_root, classes = dubai_split(args.data, args.val_tile)
    reference = json.loads((args.reference / "points-seed0" / "config.json").read_text())  # the budget of every seed
    same = {
        key: reference[key] for key in ("points", "max_steps", "batch_size", "crop", "width", "lr", "lr_schedule", "val_every")
    }
    config = TrainConfig(data=train_root, classes=classes, out=out, val_data=val_root, seed=seed, method=method,
                         progress_bar=False, **(same | overrides))  # fmt: skip
    train_once(config)
    return out


def scores(run: Path, precise: bool = False) -> tuple[float, dict[str, float], float] | None:
    """mIoU, per-class IoU and seconds of a finished run; None if it has not finished.

    ``precise``: the scores after PreciseBN, those of ``metrics.json`` for a run that ended with it and
    those of ``precise.json`` (``precise_bn.py runs``) for one that predates it; None if it has neither.
    """
    if not (run / "seconds.txt").exists():
        return None
    metrics = run / "metrics.json"
    if precise and not ended_with_precise_bn(run):
        metrics = run / "precise.json"
        if not metrics.exists():
            return None
    values = json.loads(metrics.read_text())
    return values["miou"], values["per_class_iou"], float((run / "seconds.txt").read_text())


def summarise(methods: list[str], seeds: list[int], args: argparse.Namespace) -> dict:
    """Each arm's mean mIoU, its fraction of full supervision (``args.full``) and its worst class's fraction.

    Arms without a score at every seed are left out; the full-supervision arm must have them.
    """
    runs = {"full": [args.reference / f"full-seed{s}" for s in seeds], "pce": [args.reference / f"points-seed{s}" for s in seeds]}
    runs |= {spec: [args.out / f"{parse_arm(spec)[2]}-seed{s}" for s in seeds] for spec in methods}
    measured = {arm: [scores(run, args.scores == "precise") for run in folders] for arm, folders in runs.items()}
    measured = {arm: values for arm, values in measured.items() if all(values)}
    if args.full not in measured:
        raise SystemExit(f"the full-supervision arm {args.full!r} is not among the arms or lacks a {args.scores} score at a seed")
    full = measured[args.full]
    full_miou = statistics.mean(m for m, _, _ in full)
    full_class = {name: statistics.mean(per[name] for _, per, _ in full) for name in full[0][1]}
    summary = {}
    for arm, values in measured.items():
        miou = statistics.mean(m for m, _, _ in values)
        per_class = {name: statistics.mean(per[name] for _, per, _ in values) for name in full_class}
        fractions = {name: per_class[name] / full_class[name] for name in full_class if full_class[name] > 0}
        worst = min(fractions, key=fractions.get)
        summary[arm] = {
            "miou": [m for m, _, _ in values],
            "mean_miou": miou,
            "fraction_of_full": miou / full_miou,
            "per_class_iou": per_class,
            "worst_class": worst,
            "worst_class_fraction": fractions[worst],
            "seconds_per_run": statistics.mean(s for _, _, s in values),
        }
    return summary


def markdown(summary: dict, seeds: list[int], full: str = "full") -> str:
    """The summary as a Markdown table, fractions of the arm ``full``."""
    seeds_text = ", ".join(map(str, seeds))
    reference, its_iou = ("full masks", "full-mask IoU") if full == "full" else (full, f"IoU in {full}")
    lines = [
        f"| method | mIoU (seeds {seeds_text}) | of {reference} | worst class, of its {its_iou} | minutes a run |",
        "|---|---|---|---|---|",
    ]
    for arm, row in summary.items():
        mious = " / ".join(f"{m:.4f}" for m in row["miou"])
        worst = "" if arm == full else f"{row['worst_class']} {row['worst_class_fraction']:.2f}"
        minutes = row["seconds_per_run"] / 60
        lines.append(
            f"| {arm} | {mious} (mean {row['mean_miou']:.4f}) | {row['fraction_of_full']:.3f} | {worst} | {minutes:.0f} |"
        )
    return "\n".join(lines) + "\n"


def plot_classes(summary: dict, path: Path, val_tile: int) -> Path:
    """Per-class IoU on the validation tile of every arm side by side (mean over seeds), written to ``path``."""
    plt = pyplot()
    import numpy as np

    classes = list(next(iter(summary.values()))["per_class_iou"])
    arms = list(summary)
    width = 0.8 / len(arms)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, arm in enumerate(arms):
        values = [summary[arm]["per_class_iou"][name] for name in classes]
        ax.bar(
            np.arange(len(classes)) + (i - (len(arms) - 1) / 2) * width,
            values,
            width,
            label=f"{arm} ({summary[arm]['mean_miou']:.3f})",
        )
    ax.set_xticks(range(len(classes)), classes)
    ax.set_ylabel(f"IoU on tile {val_tile} (mean over seeds)")
    ax.legend(title="arm (mIoU)", fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DUBAI)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/methods"))
    parser.add_argument("--reference", type=Path, default=REFERENCE, help="label-efficiency runs: full-seedN, points-seedN")
    parser.add_argument("--methods", nargs="+", default=METHODS, help="methods, or method:option=value,... variants")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--val-tile", type=int, default=7, help="validate on this tile, train on those before (6: tuning)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of this process")
    parser.add_argument(
        "--scores",
        choices=["saved", "precise"],
        default="saved",
        help="summarise the runs as saved, or after PreciseBN (precise.json of runs that predate it)",
    )
    parser.add_argument("--full", default="full", help="the arm whose mean is full supervision in the fractions")
    parser.add_argument(
        "--no-summary", action="store_true", help="train and print only: leave the summary files to a process given all arms"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    for seed in args.seeds:
        for method in args.methods:
            miou, _, seconds = scores(run_method(method, seed, args))
            print(f"{method:>16} seed {seed}: mIoU {miou:.4f} ({seconds:.0f} s)", flush=True)
    if args.no_summary:
        return
    summary = summarise(args.methods, args.seeds, args)
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.seeds == [0] else "-seeds-" + "-".join(map(str, args.seeds))
    suffix += "-precise-bn" if args.scores == "precise" else ""
    (args.out / f"summary{suffix}.json").write_text(json.dumps(summary, indent=2))
    (args.out / f"table{suffix}.md").write_text(markdown(summary, args.seeds, args.full))
    plot_classes(summary, args.out / f"classes{suffix}.png", args.val_tile)
    print(markdown(summary, args.seeds, args.full))


if __name__ == "__main__":
    main()
