"""Suggested against random clicks over seeds: one table of several `pointseg simulate-clicks` loops.

The loops given must be the same loop at different seeds (their ``loop.json`` may differ in
``seed`` only, where the data paths are the same). For each round it lists each seed's
mIoU in both arms, the suggested arm's lead over the random one, and the mean of the
seeds; the last line counts the seeds in which suggestions lead after the last round.
Writes the table as Markdown to ``--out`` (and prints it).

    python benchmarks/click_seeds.py docs/benchmarks/clicks-balanced-gap4 \\
        docs/benchmarks/clicks-balanced-gap4-seed1 docs/benchmarks/clicks-balanced-gap4-seed2 \\
        --out docs/benchmarks/clicks-balanced-gap4-seeds.md
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from pointseg.clicks import loop_differences, read_loop


def check_same_loop(loops: list[Path]) -> list[dict]:
    """The loops' settings; ``SystemExit`` naming the settings other than the seed in which two of them differ."""
    settings = [read_loop(loop) for loop in loops]
    for loop, other in zip(loops[1:], settings[1:]):
        if differ := [key for key in loop_differences(settings[0], other) if key != "seed"]:
            raise SystemExit(f"{loop} is another loop than {loops[0]}, not another seed: {', '.join(differ)} differ")
    return settings


def mious(loop: Path) -> dict[tuple[str, int], float]:
    """The loop's mIoU per ``(arm, round)``, from its ``clicks.csv``."""
    with open(loop / "clicks.csv", newline="") as f:
        return {(row["arm"], int(row["round"])): float(row["miou"]) for row in csv.DictReader(f)}


def seeds_table(loops: list[Path]) -> str:
    """The Markdown table of the module docstring."""
    seeds = [settings["training"]["seed"] for settings in check_same_loop(loops)]
    per_seed = [mious(loop) for loop in loops]
    rounds = sorted({round_ for miou in per_seed for _, round_ in miou})
    head = ["round", *(f"seed {s}: suggested / random (lead)" for s in seeds), "mean: suggested / random (lead)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for round_ in rounds:
        pairs = [(m[("suggested", round_)], m[("random", round_)]) for m in per_seed]
        cells = [f"{s:.4f} / {r:.4f} ({s - r:+.4f})" for s, r in pairs]
        s, r = np.mean(pairs, axis=0)
        lines.append(f"| {round_} | " + " | ".join(cells) + f" | {s:.4f} / {r:.4f} ({s - r:+.4f}) |")
    last = rounds[-1]
    leads = [m[("suggested", last)] - m[("random", last)] for m in per_seed]
    wins = sum(lead > 0 for lead in leads)
    lines.append("")
    lines.append(
        f"After round {last}, suggested clicks lead random ones in {wins} of {len(leads)} seeds; "
        f"the lead is {np.mean(leads):+.4f} mIoU on average, from {min(leads):+.4f} to {max(leads):+.4f}."
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("loops", type=Path, nargs="+", help="simulate-clicks --out folders: one loop at several seeds")
    parser.add_argument("--out", type=Path, required=True, help="Markdown file to write")
    args = parser.parse_args()
    table = seeds_table(args.loops)
    args.out.write_text(table)
    print(table, end="")


if __name__ == "__main__":
    main()
