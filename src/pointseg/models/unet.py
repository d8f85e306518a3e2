"""The U-Net family: plain, residual (ResUNet) and with attention gates (Attention U-Net).

* U-Net: Ronneberger, Fischer and Brox, "U-Net: Convolutional Networks for Biomedical
  Image Segmentation", MICCAI 2015, with batch normalisation after every convolution
  and padded convolutions.
* ResUNet: Zhang, Liu and Wang, "Road Extraction by Deep Residual U-Net", IEEE GRSL
  2018: every double convolution replaced by a residual block.
* Attention U-Net: Oktay et al., "Attention U-Net: Learning Where to Look for the
  Pancreas", MIDL 2018: each skip connection is weighted, pixel by pixel, by an
  additive attention gate driven by the coarser decoder features.

``width`` is the number of channels of the first level; every one of the ``depth``
downsamplings doubles it. Inputs of any size are padded (by reflection) to a multiple of
``2**depth`` and the output is cropped back.

Example:
    >>> import torch
    >>> model = UNet(in_channels=4, num_classes=6, width=8, depth=3)
    >>> model(torch.zeros(2, 4, 37, 50)).shape
    torch.Size([2, 6, 37, 50])
    >>> AttentionUNet(in_channels=1, num_classes=2, width=4, depth=2)(torch.zeros(1, 1, 9, 11)).shape
    torch.Size([1, 2, 9, 11])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pointseg.models.blocks import Block, DoubleConv, ResidualBlock, pad_to_multiple


class AttentionGate(nn.Module):
    """Additive attention gate (Oktay et al. 2018): weights skip features by a map in [0, 1].

    Args:
        skip_channels: Channels of the skip features (also the channels of the gating signal here).
        inner_channels: Channels of the intermediate projection.
    """

    def __init__(self, skip_channels: int, inner_channels: int) -> None:
        super().__init__()
        self.skip = nn.Conv2d(skip_channels, inner_channels, 1, bias=False)
        self.gate = nn.Conv2d(skip_channels, inner_channels, 1)
        self.score = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(inner_channels, 1, 1), nn.Sigmoid())

    def forward(self, skip: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        """``skip`` weighted by the attention map computed from ``skip`` and ``gate`` (same size)."""
        return skip * self.score(self.skip(skip) + self.gate(gate))


class UNet(nn.Module):
    """Encoder-decoder with skip connections.

    Args:
        in_channels: Number of input bands.
        num_classes: Number of output classes.
        width: Channels of the first level (16 gives 1.9 M parameters at depth 4).
        depth: Number of downsamplings.
        block: The unit of every level (:class:`DoubleConv`; :class:`ResidualBlock` for ResUNet).
        attention: Gate every skip connection (Attention U-Net).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        width: int = 16,
        depth: int = 4,
        block: Block = DoubleConv,
        attention: bool = False,
    ) -> None:
        super().__init__()
        if width < 1 or depth < 1:
            raise ValueError(f"width and depth must be positive, got width={width}, depth={depth}")
        self.depth = depth
        channels = [width * 2**level for level in range(depth + 1)]
        self.stem = block(in_channels, channels[0])
        self.down = nn.ModuleList(block(channels[i], channels[i + 1]) for i in range(depth))
        self.up = nn.ModuleList(nn.ConvTranspose2d(channels[i + 1], channels[i], 2, stride=2) for i in reversed(range(depth)))
        self.gates = (
            nn.ModuleList(AttentionGate(channels[i], max(channels[i] // 2, 1)) for i in reversed(range(depth)))
            if attention
            else None
        )
        self.fuse = nn.ModuleList(block(2 * channels[i], channels[i]) for i in reversed(range(depth)))
        self.head = nn.Conv2d(channels[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes, H, W)`` for an input ``(N, in_channels, H, W)``."""
        height, width = x.shape[-2:]
        skips = [self.stem(pad_to_multiple(x, 2**self.depth))]
        for block in self.down:
            skips.append(block(F.max_pool2d(skips[-1], 2)))
        x = skips.pop()
        for level, (up, fuse) in enumerate(zip(self.up, self.fuse)):
            x = up(x)
            skip = skips.pop()
            if self.gates is not None:
                skip = self.gates[level](skip, x)
            x = fuse(torch.cat([skip, x], dim=1))
        return self.head(x)[..., :height, :width]


class ResUNet(UNet):
    """U-Net with residual blocks (Zhang, Liu and Wang 2018); arguments as :class:`UNet`."""

    def __init__(self, in_channels: int, num_classes: int, width: int = 16, depth: int = 4) -> None:
        super().__init__(in_channels, num_classes, width, depth, block=ResidualBlock)


class AttentionUNet(UNet):
    """U-Net with attention-gated skips (Oktay et al. 2018); arguments as :class:`UNet`."""

    def __init__(self, in_channels: int, num_classes: int, width: int = 16, depth: int = 4) -> None:
        super().__init__(in_channels, num_classes, width, depth, attention=True)
