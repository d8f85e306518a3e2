"""Suggested against random clicks with training noise averaged out: one table of `click_noise.py` folders.

For each seed of a loop, `click_noise.py` trains a round of each arm again on the same
points at other training seeds (``--arm suggested`` and ``--arm random``, into one folder
each). This script pairs the folders seed by seed, scores each arm by the mean mIoU of its
trainings (the loop's own run and the retrainings at other seeds, each counted once) and
lists the suggested arm's lead, its mean over the seeds and that mean's standard error
(the spread of the leads over the seeds, divided by the square root of their number):
what is left of the lead when the training seed no longer decides it. Writes the table
as Markdown to ``--out`` (and prints it). With ``--scores precise`` each training counts
with its score after PreciseBN (``precise.json``, from ``precise_bn.py rescore``) instead
of as it was trained (``noise.json``).

    python benchmarks/click_noise_seeds.py \\
        --suggested docs/benchmarks/click-noise/power-seed0 docs/benchmarks/click-noise/power-seed1 \\
        --random docs/benchmarks/click-noise/random-seed0 docs/benchmarks/click-noise/random-seed1 \\
        --out docs/benchmarks/click-noise/power-seeds.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def trainings(folder: Path, scores: str = "noise") -> tuple[int, str, np.ndarray]:
    """The loop's seed, the arm and the mIoU of each training of a ``click_noise.py`` folder, the loop's own first.

    A retraining at the loop's own seed reproduces the loop's run, so it is not counted again.
    ``scores`` names the file read: ``noise`` (``noise.json``) or ``precise`` (``precise.json``).
    """
    noise = json.loads((folder / f"{scores}.json").read_text())
    others = [miou for seed, miou in noise["miou_by_seed"].items() if int(seed) != noise["loop_seed"]]
    return noise["loop_seed"], Path(noise["run"]).parent.name, np.array([noise["loop_miou"], *others])


def noise_table(suggested: list[Path], random: list[Path], scores: str = "noise") -> str:
    """The Markdown table of the module docstring; ``SystemExit`` where the folders do not pair seed by seed."""
    if len(suggested) != len(random):
        raise SystemExit(f"{len(suggested)} suggested folders against {len(random)} random ones: give one of each per seed")
    head = ["loop seed", "suggested: mean ± sd (trainings)", "random: mean ± sd (trainings)", "lead"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    leads, means = [], []
    for suggested_folder, random_folder in zip(suggested, random):
        (seed, arm, ours), (random_seed, random_arm, theirs) = (
            trainings(suggested_folder, scores),
            trainings(random_folder, scores),
        )
        if (arm, random_arm) != ("suggested", "random"):
            raise SystemExit(f"{suggested_folder} retrains the {arm} arm, {random_folder} the {random_arm} arm")
        if seed != random_seed:
            raise SystemExit(f"{suggested_folder} retrains the loop of seed {seed}, {random_folder} that of seed {random_seed}")
        cells = [f"{m.mean():.4f} ± {m.std(ddof=1):.4f} ({m.size})" for m in (ours, theirs)]
        leads.append(ours.mean() - theirs.mean())
        means.append((ours.mean(), theirs.mean()))
        lines.append(f"| {seed} | " + " | ".join(cells) + f" | {leads[-1]:+.4f} |")
    s, r = np.mean(means, axis=0)
    error = np.std(leads, ddof=1) / np.sqrt(len(leads)) if len(leads) > 1 else float("nan")
    lines.append(f"| mean | {s:.4f} | {r:.4f} | {np.mean(leads):+.4f} ± {error:.4f} |")
    wins = sum(lead > 0 for lead in leads)
    lines.append("")
    lines.append(
        f"Averaged over trainings, suggested clicks lead random ones in {wins} of {len(leads)} seeds; "
        f"the lead is {np.mean(leads):+.4f} mIoU on average (standard error {error:.4f}), "
        f"from {min(leads):+.4f} to {max(leads):+.4f}."
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suggested", type=Path, nargs="+", required=True, help="click_noise.py folders, --arm suggested")
    parser.add_argument("--random", type=Path, nargs="+", required=True, help="the same seeds' folders, --arm random")
    parser.add_argument("--scores", choices=["noise", "precise"], default="noise", help="as trained, or after PreciseBN")
    parser.add_argument("--out", type=Path, required=True, help="Markdown file to write")
    args = parser.parse_args()
    table = noise_table(args.suggested, args.random, args.scores)
    args.out.write_text(table)
    print(table, end="")


if __name__ == "__main__":
    main()
