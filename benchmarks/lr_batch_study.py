"""The learning-rate x batch-size study on the Dubai aerial set, with points at 0.01 % of pixels.

The classic grid (Adam, learning rate 0.001 and 0.01 by batch size 16, 32 and 64), each
configuration with two seeds and the same number of epochs, trained on random points on
tiles 1-6 and evaluated on the whole images of tile 7 against their dense masks; then
the sweep's report (``report.md``, ``report.html``, ``results.csv``, ``figures/``).

It is an ordinary ``pointseg sweep``: re-running resumes, and several processes started
with the same ``--out`` share the grid through the study's SQLite file (two processes of
one thread each use two cores better than one of two threads):

    python benchmarks/lr_batch_study.py --out docs/studies/dubai-lr-batch --threads 1 &
    python benchmarks/lr_batch_study.py --out docs/studies/dubai-lr-batch --threads 1
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from dubai import CREDIT, DUBAI, dubai_split

from pointseg.sweep import build_spec, run_sweep
from pointseg.sweep_report import write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DUBAI)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/dubai-lr-batch"))
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=4, help="budget of every configuration")
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None, help="torch threads of this process")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    train_root, val_root, classes = dubai_split(args.data)
    options = {
        "data": train_root,
        "val_data": val_root,
        "classes": classes,
        "points": "0.0001",
        "crop": args.crop,
        "width": args.width,
        "epochs": args.epochs,
        "progress_bar": False,
    }
    description = (
        f"The learning-rate x batch-size study on the Dubai aerial set ({CREDIT}): trained on random points "
        "at 0.01 % of the pixels of tiles 1-6, evaluated on the whole images of tile 7 against their dense masks."
    )
    spec = build_spec(options, seeds=args.seeds, description=description)

    def progress(outcome: dict) -> None:
        miou = (outcome.get("metrics") or {}).get("miou")
        print(f"{outcome['name']}: {outcome['status']}" + (f" mIoU {miou:.4f}" if miou is not None else ""), flush=True)

    rows = run_sweep(spec, args.out, on_result=progress)
    if len(rows) == len(spec.configurations()):
        for path in write_report(args.out):
            print(f"written: {path}")


if __name__ == "__main__":
    main()
