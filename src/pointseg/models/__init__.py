"""Segmentation networks, built from a :class:`ModelConfig` stored with each checkpoint.

Example:
    >>> model = build_model(ModelConfig(in_channels=3, num_classes=5, width=8, depth=2))
    >>> sum(p.numel() for p in model.parameters()) > 0
    True
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from pointseg.models.unet import UNet

ModelName = Literal["unet"]


class ModelConfig(BaseModel):
    """Everything needed to rebuild a network before loading its weights.

    Attributes:
        name: Architecture.
        in_channels: Number of input bands.
        num_classes: Number of classes.
        width: Channels of the first level.
        depth: Number of downsamplings.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ModelName = "unet"
    in_channels: int = Field(3, ge=1)
    num_classes: int = Field(ge=1)
    width: int = Field(16, ge=1)
    depth: int = Field(4, ge=1, le=8)


def build_model(config: ModelConfig) -> nn.Module:
    """The network that ``config`` describes, with fresh weights."""
    return UNet(config.in_channels, config.num_classes, width=config.width, depth=config.depth)


__all__ = ["ModelConfig", "ModelName", "UNet", "build_model"]
