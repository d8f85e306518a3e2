"""The built-in demo: the learning-rate and batch-size study on the Dubai sample that ships with pointseg.

Runs the classic grid (Adam, learning rate 0.001 and 0.01 by batch size 16, 32 and 64)
as an ordinary sweep (:mod:`pointseg.sweep`): random points are drawn once, every
configuration trains a U-Net with partial cross-entropy on them for the same number of
epochs and is evaluated on held-out whole images against their dense masks; then the
sweep's report is written (``report.md``, ``report.html``, ``results.csv``, ``figures/``).
Re-running it resumes, as any sweep does.

The sample (``pointseg/sample/dubai``) holds parts 1, 4 and 7 of tiles 1-6 of "Dubai
aerial imagery, Humans in the Loop / MBRSC, CC0 1.0", at half resolution (18 images,
3.1 megapixels). The demo puts 0.04 % of pixels as points on it: as many points per
square metre as 0.01 % at the original resolution. To fit in minutes on two CPU cores it
trains a narrow U-Net (width 8, 0.5 M parameters) on 128-pixel crops.

Example:
    >>> result = run_demo("pointseg-demo")  # doctest: +SKIP
    >>> result.report  # doctest: +SKIP
    PosixPath('pointseg-demo/report.md')
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pointseg.sweep import SweepSpec, build_spec, run_sweep
from pointseg.sweep_report import write_report

CREDIT = "Dubai aerial imagery, Humans in the Loop / MBRSC, CC0 1.0"
DEMO_EPOCHS = 20


def sample_root() -> Path:
    """Folder of the built-in sample (images, masks and ``classes.csv``)."""
    return Path(str(importlib.resources.files("pointseg") / "sample" / "dubai"))


def demo_spec(epochs: int = DEMO_EPOCHS, accelerator: str = "auto") -> SweepSpec:
    """The demo's sweep: the classic grid on the sample, with options sized for a CPU.

    >>> spec = demo_spec()
    >>> spec.axes, spec.budget, spec.amount, spec.base["points"]
    ({'lr': [0.001, 0.01], 'batch_size': [16, 32, 64]}, 'epochs', 20, '0.0004')
    """
    root = sample_root()
    options = {
        "data": root,
        "classes": root / "classes.csv",
        "val_fraction": 0.2,
        "points": "0.0004",
        "crop": 128,
        "width": 8,
        "epochs": epochs,
        "accelerator": accelerator,
    }
    description = (
        f"pointseg demo on the built-in sample ({CREDIT}): 18 images at half resolution, "
        "4 of them held out (seeded split) and evaluated whole against their dense masks; "
        "random points on 0.04 % of the training pixels."
    )
    return build_spec(options, description=description)


@dataclass
class DemoResult:
    """What the demo wrote."""

    report: Path
    html: Path
    results: Path
    rows: list[dict[str, Any]]


def run_demo(
    out: str | Path = "pointseg-demo",
    epochs: int = DEMO_EPOCHS,
    accelerator: str = "auto",
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> DemoResult:
    """Run the demo's study and write its report under ``out``.

    Run again, it trains only what is not finished, the configurations that failed included
    (their cause fixed: say, a GPU asked for and since given back).

    Args:
        out: Sweep folder.
        epochs: Epochs of every configuration (20 take eight minutes in all on two CPU cores).
        accelerator: ``auto`` uses a GPU where present.
        on_result: Called with each configuration's outcome as it is stored.
    """
    out = Path(out)
    rows = run_sweep(demo_spec(epochs, accelerator), out, on_result=on_result, retry_failed=True)
    report, html, results = write_report(out)
    return DemoResult(report=report, html=html, results=results, rows=rows)
