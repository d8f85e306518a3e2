"""Typed options of a training run, validated when they are parsed, and the choices of other commands' options.

:class:`TrainConfig` is what ``pointseg train`` parses, what a run folder records in
``config.json``, and what later issues sweep over. A bad value fails at once with a
message naming the option, the value and the choices.

Example:
    >>> config = TrainConfig(data="d", classes="c.csv", out="run", points="50", lr=0.01)
    >>> config.optimizer, config.budget
    ('adam', 'epochs=20')
    >>> TrainConfig(data="d", classes="c.csv", out="run", optimizer="adamax")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for TrainConfig
    optimizer
      Input should be 'adam', 'adamw' or 'sgd' ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import to_jsonable_python

from pointseg.data.dataset import CropPlacement, Normalisation
from pointseg.data.points import PointSpec, Strategy
from pointseg.models import U_NETS, ModelName

Optimizer = Literal["adam", "adamw", "sgd"]
Method = Literal["pce", "crf", "superpixels", "superpixels+crf", "self-training", "consistency", "superpixels+consistency"]
Schedule = Literal["cosine", "constant"]
Query = Literal["entropy", "typical", "power", "balanced"]
QUERIES: tuple[Query, ...] = get_args(Query)
"""The query strategies of ``pointseg suggest``: how the pixels to label next are ranked (see :mod:`pointseg.suggest`)."""
DEFAULT_QUERY: Query = "power"
"""The query strategy unless one is given: on the Dubai click loops the one closest to random clicks,
though still behind them (``docs/learning-from-points.md``); ``balanced``, ``entropy`` and ``typical`` fall further behind."""
PREDATED_OPTIONS = {"precise_bn": 0}
"""Training options added after runs were first recorded whose default trains otherwise, each with the value
that a record without it (a click loop's ``loop.json``, a sweep's stored options) ran with."""
FULL = "full"
"""The ``points`` value that means every pixel of the masks (``--full-masks``): the label budget's upper end."""


class TrainConfig(BaseModel):
    """Options of one training run (see ``pointseg train --help`` for each)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    data: Path
    classes: Path
    out: Path
    val_data: Path | None = None
    val_fraction: float = Field(0.2, ge=0, lt=1)
    points: str = "0.0001"
    points_file: Path | None = None
    point_labels: Path | None = None
    label_field: str = "class"
    point_crs: str | None = None
    full_masks: bool = False
    strategy: Strategy = "random"
    seed: int = Field(0, ge=0)
    split_seed: int | None = Field(None, ge=0)
    model: ModelName = "unet"
    init_weights: Path | None = None
    width: int = Field(16, ge=1)
    depth: int = Field(4, ge=1, le=8)
    optimizer: Optimizer = "adam"
    lr: float = Field(1e-3, gt=0)
    lr_schedule: Schedule = "cosine"
    weight_decay: float = Field(0.0, ge=0)
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    method: Method = "pce"
    regulariser_weight: float = Field(1.0, ge=0)
    superpixel_weight: float = Field(0.5, ge=0)
    superpixel_area: int = Field(400, ge=4)
    superpixel_compactness: float = Field(1.0, gt=0)
    superpixel_cache: Path | None = None
    pseudo_threshold: float = Field(0.9, gt=0, lt=1)
    pseudo_quantile: float | None = Field(None, gt=0, lt=1)
    pseudo_weight: float = Field(0.5, ge=0)
    self_training_start: float = Field(0.3, ge=0, lt=1)
    consistency_weight: float = Field(0.3, ge=0)
    class_weights: list[float] | Literal["balanced"] | None = None
    bands: list[int] | None = None
    normalisation: Normalisation = "mean-std"
    batch_size: int = Field(8, ge=1)
    epochs: int | None = Field(None, ge=1)
    max_steps: int | None = Field(None, ge=1)
    crop: int = Field(256, ge=8)
    crop_placement: CropPlacement = "anywhere"
    precise_bn: int = Field(1024, ge=0)
    val_every: int = Field(1, ge=1)
    num_workers: int = Field(0, ge=0)
    accelerator: str = "auto"
    devices: str = "auto"
    num_nodes: int = Field(1, ge=1)
    trainer_strategy: str = "auto"
    progress_bar: bool = True

    @field_validator("points")
    @classmethod
    def _points_parse(cls, value: str) -> str:
        if value != FULL:
            PointSpec.parse(value)
        return value

    @field_validator("bands", mode="before")
    @classmethod
    def _bands_parse(cls, value: object) -> object:
        return comma_list(value)

    @field_validator("class_weights", mode="before")
    @classmethod
    def _weights_parse(cls, value: object) -> object:
        if isinstance(value, str) and value.strip() == "balanced":
            return "balanced"
        weights = comma_list(value)
        try:
            return [float(w) for w in weights] if isinstance(weights, list) else weights
        except (TypeError, ValueError):
            raise ValueError("give one number per class, e.g. 1,2,1, or balanced") from None

    @model_validator(mode="after")
    def _one_budget(self) -> TrainConfig:
        if self.epochs is not None and self.max_steps is not None:
            raise ValueError("give either --epochs or --max-steps, not both")
        if self.epochs is None and self.max_steps is None:
            self.epochs = 20
        if self.points == FULL:
            self.full_masks = True
        if self.points_file is not None and self.point_labels is not None:
            raise ValueError("give either --points-file or --point-labels, not both")
        if self.model in U_NETS and self.crop < 2 ** (self.depth + 1):
            raise ValueError(
                f"--crop {self.crop} is too small for --depth {self.depth}: the U-Net's deepest level would be "
                f"under 2x2 pixels; use --crop {2 ** (self.depth + 1)} or more, or a smaller --depth"
            )
        if self.bands is not None and (not self.bands or min(self.bands) < 1):
            raise ValueError("--bands takes 1-based band indices, e.g. 4,3,2")
        if isinstance(self.class_weights, list) and (any(w < 0 for w in self.class_weights) or not any(self.class_weights)):
            raise ValueError("--class-weights must not be negative, and one at least above 0")
        if self.init_weights is not None and self.init_weights.resolve() == (self.out / "model.ckpt").resolve():
            raise ValueError(
                f"--init-weights {self.init_weights} is the run's own model.ckpt, which training into --out {self.out} "
                "replaces as it starts: copy it elsewhere and start from the copy, or give another --out"
            )
        if self.superpixel_cache is not None and self.superpixel_cache.exists() and not self.superpixel_cache.is_dir():
            raise ValueError(f"--superpixel-cache {self.superpixel_cache} is a file: give a folder")
        if self.full_masks and (given := "--points-file" if self.points_file is not None else
                                "--point-labels" if self.point_labels is not None else None):  # fmt: skip
            raise ValueError(f"--full-masks trains on the dense masks: drop {given}")
        if self.full_masks and "superpixels" in self.method:
            raise ValueError(f"--method {self.method} spreads points to superpixels: it has nothing to add to --full-masks")
        return self

    @property
    def point_spec(self) -> PointSpec:
        """The parsed ``points`` option."""
        return PointSpec.parse(self.points)

    @property
    def held_out_seed(self) -> int:
        """The seed that picks the validation images of a split: ``split_seed``, else ``seed``."""
        return self.seed if self.split_seed is None else self.split_seed

    @property
    def budget(self) -> str:
        """The training budget in words, e.g. ``epochs=20`` or ``max_steps=1500``."""
        return f"epochs={self.epochs}" if self.max_steps is None else f"max_steps={self.max_steps}"


def comma_list(value: object) -> object:
    """A comma-separated string as its parts (``"1, 2"`` -> ``["1", "2"]``); any other value as it is."""
    return [part for part in value.split(",") if part.strip()] if isinstance(value, str) else value


MACHINE_OPTIONS = frozenset({"out", "progress_bar", "accelerator", "num_workers", "superpixel_cache"})
"""Training options that say where and how visibly a training runs, not what it learns: a resumed click loop or
sweep may change them (another machine of a shared sweep may use its GPU)."""
PATH_OPTIONS = frozenset({"data", "classes", "val_data", "points_file", "point_labels", "init_weights"})
"""Training options that name a file or folder of what a training learns from: the same whether given from another
folder or as an absolute path."""


def option_defaults() -> dict[str, Any]:
    """The default of every optional :class:`TrainConfig` option, as JSON records it.

    >>> option_defaults()["lr"], option_defaults()["class_weights"]
    (0.001, None)
    """
    return {
        name: to_jsonable_python(field.get_default(call_default_factory=True))
        for name, field in TrainConfig.model_fields.items()
        if not field.is_required()
    }


def option_flag(name: str) -> str:
    """The command-line flag of an option.

    >>> option_flag("batch_size")
    '--batch-size'
    """
    return f"--{name.replace('_', '-')}"


def describe_error(err: ValidationError) -> str:
    """The first problem of a validation error in command-line words.

    >>> try:
    ...     TrainConfig(data="d", classes="c", out="o", lr=-1)
    ... except ValidationError as err:
    ...     print(describe_error(err))
    --lr: Input should be greater than 0 (got -1)
    """
    problem = err.errors()[0]
    message = problem["msg"].removeprefix("Value error, ")
    if not problem["loc"]:  # a check across options names them itself
        return message
    option = option_flag(str(problem["loc"][0]))  # not the list index or union member it also names
    return f"{option}: {message} (got {problem.get('input')!r})"
