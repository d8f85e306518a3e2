"""Initial weights from a local file: layers matched by name and shape, the first convolution adapted to the bands.

A state dict (or a Lightning checkpoint, or a dict holding a ``state_dict`` or ``model``
entry) written elsewhere, for example an ImageNet or a self-supervised remote-sensing
encoder that a user downloaded, initialises every layer of the network with the same
name (after dropping a ``model.``, ``module.``, ``encoder.`` or ``backbone.`` prefix
where that makes names match) and the same shape. The first convolution, when its
weight differs only in its number of input channels (the bands), is adapted, as timm's ``adapt_input_conv`` does:
one band takes the sum of the source filters; more bands repeat the source filters
cyclically, scaled by ``source bands / bands`` so that activations keep their size.
Nothing is ever downloaded.

Example:
    >>> import torch
    >>> from torch import nn
    >>> source = nn.Conv2d(3, 8, 3).state_dict()
    >>> target = nn.Conv2d(4, 8, 3)
    >>> report = load_weights(target, source)
    >>> report.adapted, report.loaded
    (['weight'], ['bias'])
    >>> torch.allclose(target.weight[:, 3], source["weight"][:, 0] * 3 / 4)
    True
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from pointseg.errors import CheckpointError

_PREFIXES = ("model.", "module.", "encoder.", "backbone.")


@dataclass
class LoadReport:
    """What :func:`load_weights` did, layer by layer (parameter and buffer names of the network).

    Attributes:
        loaded: Copied as they are.
        adapted: Convolutions adapted to another number of input bands.
        skipped: Layers of the network left at their fresh values, with the reason.
        unused: Entries of the file that matched no layer.
    """

    loaded: list[str] = field(default_factory=list)
    adapted: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    unused: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the user."""
        total = len(self.loaded) + len(self.adapted) + len(self.skipped)
        text = f"initial weights: {len(self.loaded) + len(self.adapted)} of {total} tensors loaded"
        if self.adapted:
            text += f" ({len(self.adapted)} adapted to the bands: {', '.join(self.adapted)})"
        if self.skipped:
            text += f"; {len(self.skipped)} left fresh (e.g. {next(iter(self.skipped))}: {next(iter(self.skipped.values()))})"
        return text + (f"; {len(self.unused)} entries of the file unused" if self.unused else "")


def adapt_input_conv(weight: torch.Tensor, bands: int) -> torch.Tensor:
    """A convolution weight ``(out, in, kh, kw)`` for ``bands`` input channels (see the module docstring)."""
    source = weight.shape[1]
    if bands == 1:
        return weight.sum(dim=1, keepdim=True)
    repeated = weight.repeat(1, math.ceil(bands / source), 1, 1)[:, :bands]
    return repeated * (source / bands)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a weights file (a state dict, a Lightning checkpoint or a dict with ``state_dict``/``model``).

    Raises:
        CheckpointError: Missing or unreadable file, or no tensor in it.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file {path} does not exist", fix="give the path of a local .pt/.pth/.ckpt file")
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        # torch's message on a file that is not plain tensors advises weights_only=False: unsafe, and no help here
        reason = "not plain tensors" if isinstance(err, pickle.UnpicklingError) else f"{err}".split(". ")[0]
        raise CheckpointError(
            f"{path} is not a PyTorch weights file that loads without running code ({reason})",
            fix="give a state dict saved with torch.save(model.state_dict(), path), or a pointseg or Lightning checkpoint",
        ) from err
    for key in ("state_dict", "model"):
        if isinstance(content, Mapping) and isinstance(content.get(key), Mapping):
            content = content[key]
    tensors = {k: v for k, v in content.items() if isinstance(v, torch.Tensor)} if isinstance(content, Mapping) else {}
    if not tensors:
        raise CheckpointError(f"{path} holds no tensor", fix="save a state dict: torch.save(model.state_dict(), path)")
    return tensors


def _strip(name: str, names: set[str]) -> str:
    while name not in names and name.startswith(_PREFIXES):
        name = name.split(".", 1)[1]
    return name


def load_weights(model: nn.Module, source: Mapping[str, torch.Tensor] | str | Path) -> LoadReport:
    """Copy the matching tensors of ``source`` (a state dict or a file) into ``model``."""
    tensors = read_state_dict(source) if isinstance(source, str | Path) else dict(source)
    target = model.state_dict()
    available = {_strip(name, set(target)): tensor for name, tensor in tensors.items()}
    report = LoadReport(unused=sorted(set(available) - set(target)))
    first_conv = next((name for name, p in model.named_parameters() if p.dim() == 4), None)
    update = {}
    for name, current in target.items():
        tensor = available.get(name)
        if tensor is None:
            report.skipped[name] = "not in the file"
        elif tensor.shape == current.shape:
            update[name] = tensor
            report.loaded.append(name)
        elif name == first_conv and tensor.shape[0] == current.shape[0] and tensor.shape[2:] == current.shape[2:]:
            update[name] = adapt_input_conv(tensor, current.shape[1])
            report.adapted.append(name)
        else:
            report.skipped[name] = f"shape {tuple(tensor.shape)} in the file, {tuple(current.shape)} here"
    model.load_state_dict(update, strict=False)
    return report
