"""SegFormer: a hierarchical mix-transformer encoder and an all-MLP decoder.

Xie, Wang, Yu, Anandkumar, Alvarez and Luo, "SegFormer: Simple and Efficient Design for
Semantic Segmentation with Transformers", NeurIPS 2021, at the size of its B0 variant:
four stages of overlapping patch embeddings (strides 4, 2, 2, 2), two transformer blocks
each with efficient self-attention (keys and values spatially reduced by 8, 4, 2, 1) and
a Mix-FFN whose 3x3 depth-wise convolution replaces positional encodings, so any input
size works. The decoder projects the four stages to one width, upsamples them to stride
4, fuses them and classifies. ``width`` scales the stage widths as ``width * (2, 4, 10,
16)``: 16 gives B0's 32, 64, 160 and 256 channels (3.7 M parameters).

Example:
    >>> import torch
    >>> SegFormer(in_channels=4, num_classes=3, width=4)(torch.zeros(2, 4, 50, 37)).shape
    torch.Size([2, 3, 50, 37])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pointseg.models.blocks import conv_bn_relu

_WIDTHS = (2, 4, 10, 16)
_HEADS = (1, 2, 5, 8)
_REDUCTIONS = (8, 4, 2, 1)


class PatchEmbed(nn.Module):
    """Overlapping patch embedding: a strided convolution and layer normalisation; returns tokens and the grid size."""

    def __init__(self, in_channels: int, dim: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, kernel, stride=stride, padding=kernel // 2)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        """``(N, C, H, W)`` -> tokens ``(N, h * w, dim)``, ``h``, ``w``."""
        x = self.proj(x)
        height, width = x.shape[-2:]
        return self.norm(x.flatten(2).transpose(1, 2)), height, width


class EfficientSelfAttention(nn.Module):
    """Multi-head self-attention whose keys and values come from a grid reduced by ``reduction``."""

    def __init__(self, dim: int, heads: int, reduction: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.reduce = nn.Conv2d(dim, dim, reduction, stride=reduction) if reduction > 1 else None
        self.norm = nn.LayerNorm(dim) if reduction > 1 else None

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Tokens ``(N, L, dim)`` of a ``height`` x ``width`` grid -> the same shape."""
        n, length, dim = x.shape
        context = x
        if self.reduce is not None and self.norm is not None and min(height, width) >= self.reduce.stride[0]:
            grid = x.transpose(1, 2).reshape(n, dim, height, width)
            context = self.norm(self.reduce(grid).flatten(2).transpose(1, 2))
        q = self.q(x).reshape(n, length, self.heads, -1).transpose(1, 2)
        k, v = self.kv(context).reshape(n, -1, 2, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(n, length, dim))


class MixFFN(nn.Module):
    """Linear, 3x3 depth-wise convolution, GELU, linear (the feed-forward of a mix-transformer block)."""

    def __init__(self, dim: int, expansion: int = 4) -> None:
        super().__init__()
        hidden = dim * expansion
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Tokens ``(N, L, dim)`` -> the same shape."""
        x = self.fc1(x)
        n, length, hidden = x.shape
        x = self.dwconv(x.transpose(1, 2).reshape(n, hidden, height, width)).flatten(2).transpose(1, 2)
        return self.fc2(F.gelu(x))


class MixBlock(nn.Module):
    """Pre-norm transformer block: efficient self-attention and Mix-FFN, each with a residual."""

    def __init__(self, dim: int, heads: int, reduction: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = EfficientSelfAttention(dim, heads, reduction)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = MixFFN(dim)

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Tokens ``(N, L, dim)`` -> the same shape."""
        x = x + self.attn(self.norm1(x), height, width)
        return x + self.ffn(self.norm2(x), height, width)


class MixStage(nn.Module):
    """One encoder stage: patch embedding, transformer blocks, layer normalisation."""

    def __init__(self, in_channels: int, dim: int, heads: int, reduction: int, blocks: int, first: bool) -> None:
        super().__init__()
        self.embed = PatchEmbed(in_channels, dim, kernel=7 if first else 3, stride=4 if first else 2)
        self.blocks = nn.ModuleList(MixBlock(dim, heads, reduction) for _ in range(blocks))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` -> ``(N, dim, H / stride, W / stride)``."""
        tokens, height, width = self.embed(x)
        for block in self.blocks:
            tokens = block(tokens, height, width)
        return self.norm(tokens).transpose(1, 2).reshape(x.shape[0], -1, height, width)


class SegFormer(nn.Module):
    """Mix-transformer encoder (B0 layout) and all-MLP decoder.

    Args:
        in_channels: Number of input bands.
        num_classes: Number of output classes.
        width: Scales the stage widths ``width * (2, 4, 10, 16)`` and the decoder width ``width * 16``.
        blocks: Transformer blocks per stage.
    """

    def __init__(self, in_channels: int, num_classes: int, width: int = 16, blocks: int = 2) -> None:
        super().__init__()
        dims = [width * w for w in _WIDTHS]
        inputs = [in_channels, *dims[:-1]]
        self.stages = nn.ModuleList(
            MixStage(i, d, h, r, blocks, first=s == 0) for s, (i, d, h, r) in enumerate(zip(inputs, dims, _HEADS, _REDUCTIONS))
        )
        decoder = width * 16
        self.project = nn.ModuleList(nn.Conv2d(d, decoder, 1) for d in dims)
        self.fuse = conv_bn_relu(4 * decoder, decoder, 1)
        self.head = nn.Conv2d(decoder, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes, H, W)`` for an input ``(N, in_channels, H, W)``."""
        size = x.shape[-2:]
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        grid = features[0].shape[-2:]
        fused = [
            F.interpolate(project(f), size=grid, mode="bilinear", align_corners=False)
            for project, f in zip(self.project, features)
        ]
        x = self.head(self.fuse(torch.cat(fused, dim=1)))
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
