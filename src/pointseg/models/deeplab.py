"""DeepLabV3+ with a ResNet-18-like encoder.

Chen, Zhu, Papandreou, Schroff and Adam, "Encoder-Decoder with Atrous Separable
Convolution for Semantic Image Segmentation" (DeepLabV3+), ECCV 2018: a ResNet encoder
whose last stage keeps output stride 16 by dilation, atrous spatial pyramid pooling
(ASPP; Chen et al., "Rethinking Atrous Convolution for Semantic Image Segmentation",
2017) and a light decoder that fuses the ASPP output with stride-4 encoder features. The
encoder follows ResNet-18 (He et al., CVPR 2016): a stride-4 stem and four stages of two
basic blocks. ``width`` is the channels of the first stage (64 as in ResNet-18 makes
17 M parameters with the ASPP and decoder; the default 16 makes 1.0 M); the stages double it.

Example:
    >>> import torch
    >>> DeepLabV3Plus(in_channels=13, num_classes=4, width=8)(torch.zeros(2, 13, 45, 70)).shape
    torch.Size([2, 4, 45, 70])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pointseg.models.blocks import ResidualBlock, conv_bn_relu


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: a 1x1 branch, dilated 3x3 branches and image pooling, fused by a 1x1 convolution."""

    def __init__(self, in_channels: int, out_channels: int, rates: tuple[int, ...] = (6, 12, 18)) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            [conv_bn_relu(in_channels, out_channels, 1), *(conv_bn_relu(in_channels, out_channels, 3, dilation=r) for r in rates)]
        )
        # no batch normalisation after the pooled 1x1 map: a batch of one image would have no spread
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_channels, out_channels, 1), nn.ReLU(inplace=True))
        self.project = conv_bn_relu(out_channels * (len(rates) + 2), out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Multi-scale context at the resolution of ``x``."""
        pooled = self.pool(x).expand(-1, -1, *x.shape[-2:])
        return self.project(torch.cat([*(branch(x) for branch in self.branches), pooled], dim=1))


class DeepLabV3Plus(nn.Module):
    """ResNet-18-like encoder (output stride 16), ASPP and the DeepLabV3+ decoder.

    Args:
        in_channels: Number of input bands.
        num_classes: Number of output classes.
        width: Channels of the first encoder stage.
        blocks: Residual blocks per stage (ResNet-18: two each; ResNet-34: 3, 4, 6, 3).
    """

    def __init__(self, in_channels: int, num_classes: int, width: int = 16, blocks: tuple[int, ...] = (2, 2, 2, 2)) -> None:
        super().__init__()
        channels = [width * 2**i for i in range(4)]
        self.stem = nn.Sequential(conv_bn_relu(in_channels, width, 7, stride=2), nn.MaxPool2d(3, stride=2, padding=1))
        strides, dilations = (1, 2, 2, 1), (1, 1, 1, 2)  # the last stage dilates instead of striding: output stride 16
        stages = []
        previous = width
        for out, count, stride, dilation in zip(channels, blocks, strides, dilations):
            units = [ResidualBlock(previous, out, stride=stride, dilation=dilation)]
            units += [ResidualBlock(out, out, dilation=dilation) for _ in range(count - 1)]
            stages.append(nn.Sequential(*units))
            previous = out
        self.stages = nn.ModuleList(stages)
        self.aspp = ASPP(channels[-1], 4 * width)
        low = max(3 * width // 4, 8)
        self.reduce = conv_bn_relu(channels[0], low, 1)
        self.decode = nn.Sequential(conv_bn_relu(4 * width + low, 4 * width), conv_bn_relu(4 * width, 4 * width))
        self.head = nn.Conv2d(4 * width, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes, H, W)`` for an input ``(N, in_channels, H, W)``."""
        size = x.shape[-2:]
        x = self.stem(x)
        low = x = self.stages[0](x)
        for stage in self.stages[1:]:
            x = stage(x)
        low = self.reduce(low)
        x = F.interpolate(self.aspp(x), size=low.shape[-2:], mode="bilinear", align_corners=False)
        x = self.head(self.decode(torch.cat([x, low], dim=1)))
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
