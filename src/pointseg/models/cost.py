"""What each network costs, measured on this machine: parameters, GFLOPs, speed and peak memory.

Each network is measured in a fresh process, so that one network's memory does not count
against the next: parameters; forward GFLOPs of one image, counted by PyTorch's
``FlopCounterMode`` over the operations actually run (a multiply-add is two FLOPs);
training images per second (forward, partial cross-entropy, backward and an Adam step on a
batch) and inference images per second (forward without gradients), timed after a
warm-up; and the peak memory of a training step on the whole batch, over what the process
held before with the network and the batch loaded (on a GPU the allocator's peak; on the CPU
the process's peak resident memory). The peak holds the gradients and Adam's moments
besides the activations, so it is not the batch size times what one image costs.

Example:
    >>> cost = measure("unet", size=64, batch=2, width=4, repeats=1)  # doctest: +SKIP
    >>> cost.parameters  # doctest: +SKIP
    122118
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from pointseg.losses import partial_cross_entropy
from pointseg.models import ModelConfig, build_model


@dataclass(frozen=True)
class ModelCost:
    """Measured cost of one network (see the module docstring)."""

    name: str
    parameters: int
    gflops: float
    train_images_per_s: float
    infer_images_per_s: float
    train_peak_mb: float


def _peak_bytes(device: torch.device) -> int:
    """Peak memory so far: the GPU allocator's, or the process's peak resident memory."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    kilobytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux, bytes on macOS
    return kilobytes if sys.platform == "darwin" else kilobytes * 1024


def _current_bytes(device: torch.device) -> int:
    """Memory in use now: the GPU allocator's, or the process's resident memory (Linux; else its peak)."""
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device)
    statm = Path("/proc/self/statm")
    if statm.exists():
        return int(statm.read_text().split()[1]) * resource.getpagesize()
    return _peak_bytes(device)


def _timed(step, device: torch.device, repeats: int) -> float:  # noqa: ANN001
    step()  # warm-up: allocations, kernel selection
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def measure(
    name: str,
    bands: int = 3,
    classes: int = 6,
    size: int = 256,
    batch: int = 4,
    width: int = 16,
    repeats: int = 3,
    device: str = "cpu",
) -> ModelCost:
    """Measure one network in this process (:func:`measure_all` gives each its own process)."""
    target = torch.device(device)
    model = build_model(ModelConfig(name=name, in_channels=bands, num_classes=classes, width=width)).to(target)
    images = torch.randn(batch, bands, size, size, device=target)
    labels = torch.randint(0, classes, (batch, size, size), device=target)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.eval()(images[:1])
    gflops = counter.get_total_flops() / 1e9

    model.train()
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    if target.type == "cuda":
        torch.cuda.reset_peak_memory_stats(target)
    before = _current_bytes(target)

    def train_step() -> None:
        optimizer.zero_grad()
        partial_cross_entropy(model(images), labels).backward()
        optimizer.step()

    train_seconds = _timed(train_step, target, repeats)  # first: the process's peak is then the training's
    peak = (_peak_bytes(target) - before) / 2**20

    def infer() -> None:
        with torch.no_grad():
            model(images)

    model.eval()
    infer_seconds = _timed(infer, target, repeats)
    return ModelCost(
        name=name,
        parameters=sum(p.numel() for p in model.parameters()),
        gflops=gflops,
        train_images_per_s=batch * repeats / train_seconds,
        infer_images_per_s=batch * repeats / infer_seconds,
        train_peak_mb=peak,
    )


def measure_all(names: list[str], **options: object) -> list[ModelCost]:
    """:func:`measure` each network in a fresh process, one after the other (timings do not share the CPU).

    Each process uses as many threads as this one (``torch.set_num_threads``).
    """
    context = multiprocessing.get_context("spawn")
    costs = []
    for name in names:
        with context.Pool(1, initializer=torch.set_num_threads, initargs=(torch.get_num_threads(),)) as pool:
            costs.append(pool.apply(measure, (name,), options))
    return costs
