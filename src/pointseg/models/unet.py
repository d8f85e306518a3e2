"""U-Net in plain PyTorch.

Ronneberger, Fischer and Brox, "U-Net: Convolutional Networks for Biomedical Image
Segmentation", MICCAI 2015, with batch normalisation after every convolution and
padded convolutions. ``width`` is the number of channels of the first level; every one
of the ``depth`` downsamplings doubles it. Inputs of any size are padded (by reflection)
to a multiple of ``2**depth`` and the output is cropped back.

Example:
    >>> import torch
    >>> model = UNet(in_channels=4, num_classes=6, width=8, depth=3)
    >>> model(torch.zeros(2, 4, 37, 50)).shape
    torch.Size([2, 6, 37, 50])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class DoubleConv(nn.Sequential):
    """Two 3x3 convolutions, each followed by batch normalisation and ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class UNet(nn.Module):
    """Encoder-decoder with skip connections.

    Args:
        in_channels: Number of input bands.
        num_classes: Number of output classes.
        width: Channels of the first level (16 gives 1.9 M parameters at depth 4).
        depth: Number of downsamplings.
    """

    def __init__(self, in_channels: int, num_classes: int, width: int = 16, depth: int = 4) -> None:
        super().__init__()
        if width < 1 or depth < 1:
            raise ValueError(f"width and depth must be positive, got width={width}, depth={depth}")
        self.depth = depth
        channels = [width * 2**level for level in range(depth + 1)]
        self.stem = DoubleConv(in_channels, channels[0])
        self.down = nn.ModuleList(DoubleConv(channels[i], channels[i + 1]) for i in range(depth))
        self.up = nn.ModuleList(nn.ConvTranspose2d(channels[i + 1], channels[i], 2, stride=2) for i in reversed(range(depth)))
        self.fuse = nn.ModuleList(DoubleConv(2 * channels[i], channels[i]) for i in reversed(range(depth)))
        self.head = nn.Conv2d(channels[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes, H, W)`` for an input ``(N, in_channels, H, W)``."""
        height, width = x.shape[-2:]
        multiple = 2**self.depth
        pad_h, pad_w = -height % multiple, -width % multiple
        if pad_h or pad_w:
            mode = "reflect" if pad_h < height and pad_w < width else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        skips = [self.stem(x)]
        for block in self.down:
            skips.append(block(F.max_pool2d(skips[-1], 2)))
        x = skips.pop()
        for up, fuse in zip(self.up, self.fuse):
            x = fuse(torch.cat([skips.pop(), up(x)], dim=1))
        return self.head(x)[..., :height, :width]
