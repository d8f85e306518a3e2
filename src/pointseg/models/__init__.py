"""Segmentation networks, built by name from a :class:`ModelConfig` stored with each checkpoint.

======================  ==================================================  =====================
name                    network                                             width 16, 3 bands
======================  ==================================================  =====================
``unet``                U-Net (Ronneberger et al. 2015), the default        1.9 M parameters
``resunet``             U-Net with residual blocks (Zhang et al. 2018)      2.0 M
``attention-unet``      U-Net with attention-gated skips (Oktay et al. 2018) 2.0 M
``deeplabv3plus``       ResNet-18-like encoder, ASPP, decoder (Chen 2018)   1.0 M
``segformer``           mix-transformer B0 and all-MLP decoder (Xie 2021)   3.7 M
======================  ==================================================  =====================

Every network takes any number of bands and classes and any input size. ``width`` sets
the channels of the first level of each; ``depth`` (downsamplings) applies to the U-Nets.
Each ends in ``head``, the 1x1 convolution that classifies its last features (which
``pointseg suggest --query typical`` reads).

Example:
    >>> model = build_model(ModelConfig(name="segformer", in_channels=4, num_classes=5, width=4))
    >>> sum(p.numel() for p in model.parameters()) > 0
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from pointseg.models.deeplab import DeepLabV3Plus
from pointseg.models.segformer import SegFormer
from pointseg.models.unet import AttentionUNet, ResUNet, UNet

ModelName = Literal["unet", "resunet", "attention-unet", "deeplabv3plus", "segformer"]
U_NETS = frozenset({"unet", "resunet", "attention-unet"})
"""The networks that ``depth`` shapes: each halves the crop ``depth`` times."""


class ModelConfig(BaseModel):
    """Everything needed to rebuild a network before loading its weights.

    Attributes:
        name: Architecture (see the module's table).
        in_channels: Number of input bands.
        num_classes: Number of classes.
        width: Channels of the first level.
        depth: Number of downsamplings (U-Nets).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ModelName = "unet"
    in_channels: int = Field(3, ge=1)
    num_classes: int = Field(ge=1)
    width: int = Field(16, ge=1)
    depth: int = Field(4, ge=1, le=8)


MODELS: dict[str, Callable[[ModelConfig], nn.Module]] = {
    "unet": lambda c: UNet(c.in_channels, c.num_classes, width=c.width, depth=c.depth),
    "resunet": lambda c: ResUNet(c.in_channels, c.num_classes, width=c.width, depth=c.depth),
    "attention-unet": lambda c: AttentionUNet(c.in_channels, c.num_classes, width=c.width, depth=c.depth),
    "deeplabv3plus": lambda c: DeepLabV3Plus(c.in_channels, c.num_classes, width=c.width),
    "segformer": lambda c: SegFormer(c.in_channels, c.num_classes, width=c.width),
}
assert set(MODELS) == set(get_args(ModelName))


def build_model(config: ModelConfig) -> nn.Module:
    """The network that ``config`` describes, with fresh weights."""
    return MODELS[config.name](config)


__all__ = ["MODELS", "AttentionUNet", "DeepLabV3Plus", "ModelConfig", "ModelName", "ResUNet", "SegFormer", "UNet", "build_model"]
