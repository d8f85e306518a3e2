"""Building blocks shared by the networks: convolution units and padding to a multiple.

Example:
    >>> import torch
    >>> ResidualBlock(3, 8)(torch.zeros(1, 3, 10, 12)).shape
    torch.Size([1, 8, 10, 12])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

Block = Callable[[int, int], nn.Module]
"""Builds a unit that maps ``in_channels`` to ``out_channels`` at the same resolution."""


def conv_bn_relu(in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """Convolution (no bias), batch normalisation, ReLU; ``same`` padding for odd kernels."""
    padding = dilation * (kernel - 1) // 2
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=padding, dilation=dilation, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class DoubleConv(nn.Sequential):
    """Two 3x3 convolutions, each followed by batch normalisation and ReLU (the U-Net unit)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(*conv_bn_relu(in_channels, out_channels), *conv_bn_relu(out_channels, out_channels))


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with an identity (or 1x1 projection) shortcut.

    He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
    (the basic block of ResNet-18/34), with an optional ``stride`` on the first convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_bn_relu(in_channels, out_channels, stride=stride, dilation=dilation),
            nn.Conv2d(out_channels, out_channels, 3, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``relu(body(x) + shortcut(x))``."""
        return F.relu(self.body(x) + self.shortcut(x), inplace=True)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad the bottom and right of ``(N, C, H, W)`` to multiples of ``multiple``.

    Reflection where the image is large enough, replication otherwise; crop the output
    back with ``[..., :H, :W]``.
    """
    height, width = x.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    if not (pad_h or pad_w):
        return x
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
