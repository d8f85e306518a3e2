"""A resumable grid of trainings kept in an Optuna study: the learning-rate and batch-size study and its kin.

A sweep folder holds:

* ``study.db``: the Optuna study (SQLite) unless ``--storage`` names another database;
  several processes or machines given the same storage share the work;
* ``sweep.json``: the sweep's specification (fixed options, axes, seeds, budget);
* ``points/``: the point labels every configuration trains on (one set per point
  density and strategy), drawn once;
* ``superpixels/``: the SLIC segmentations of the superpixel methods, computed once;
* ``runs/<name>/``: one ordinary run folder per configuration and seed.

Each configuration is an Optuna trial of a :class:`optuna.samplers.GridSampler`. Its
outcome is stored with it as user attributes: ``status`` (``done``, ``diverged`` or
``failed``), the final metrics, the step of divergence or the error message (and, in the
run's ``outcome.json``, the traceback of a failure). A failure is
a result: the sweep goes on. Re-running the same command resumes: finished trials are
skipped; a trial that was interrupted (Ctrl-C) or whose process died is run again. Once
the cause of a failure is fixed, ``retry_failed`` trains the configurations whose outcome
is ``diverged`` or ``failed`` again; the new outcome replaces the old one in the results.

Example:
    >>> spec = SweepSpec(base={"data": "d", "classes": "c.csv"}, axes={"lr": [0.001, 0.01], "batch_size": [16, 32]}, seeds=2)
    >>> len(spec.configurations())
    8
    >>> run_name({"lr": 0.01, "batch_size": 16, "seed": 1})
    'lr=0.01_batch_size=16_seed=1'
"""

from __future__ import annotations

import csv
import itertools
import json
import logging
import math
import shutil
import time
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import optuna
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError

from pointseg.callbacks import ChanceMonitor
from pointseg.classes import ClassTable
from pointseg.config import (
    FULL,
    MACHINE_OPTIONS,
    PREDATED_OPTIONS,
    TrainConfig,
    describe_error,
    option_defaults,
    option_flag,
)
from pointseg.errors import ConfigError, PointsegWarning, TrainingDiverged
from pointseg.training import check_class_weights, check_machine, prepare_data, train

Budget = Literal["epochs", "steps", "samples"]
Amount = Annotated[int, Field(ge=1)]
"""The budget's number of epochs, steps or samples."""
STUDY_NAME = "pointseg-sweep"
DEFAULT_AXES: dict[str, list[Any]] = {"lr": [0.001, 0.01], "batch_size": [16, 32, 64]}

# options that belong to the sweep or to each run, not to the grid
_RESERVED = frozenset({"out", "seed", "points_file", "split_seed", "epochs", "max_steps"})
# options that decide the images and points every configuration trains and is validated on: the points are drawn once
_SAME_FOR_ALL = frozenset({"data", "classes", "val_fraction", "val_data", "point_labels", "label_field", "point_crs"})
# options TrainConfig requires that a sweep does not set itself, with what each takes
_REQUIRED = {"data": "DIR", "classes": "FILE.csv"}


class SweepSpec(BaseModel):
    """What a sweep trains: fixed options, the axes of the grid, seeds and the budget.

    Attributes:
        base: :class:`TrainConfig` options shared by every configuration (``data``, ``classes``...).
        axes: Option name -> values; the grid is their product.
        seeds: Each configuration is trained with seeds ``0 .. seeds - 1``.
        budget: The same number of ``epochs`` for every configuration (a larger batch
            takes fewer steps), the same number of ``steps``, or the same number of
            ``samples`` seen (steps = samples / batch size).
        amount: The budget's number: epochs, steps or samples.
        description: What the sweep is about, in words (the data's origin and credit, the
            question asked); the report opens with it.
    """

    model_config = ConfigDict(extra="forbid")

    base: dict[str, Any]
    axes: dict[str, list[Any]] = Field(default_factory=lambda: dict(DEFAULT_AXES))
    seeds: int = Field(1, ge=1)
    budget: Budget = "epochs"
    amount: Amount = 20
    description: str = ""

    def configurations(self) -> list[dict[str, Any]]:
        """Every grid point with every seed, in a stable order.

        Full masks (``points`` = ``full``) are the reference of a label-budget study: they
        are trained with plain cross-entropy (``method`` = ``pce``, which the method axis
        must then hold) once, whatever the method axis says, since the methods spread
        labels that full masks already have.

        >>> spec = SweepSpec(base={}, axes={"points": ["20", "full"], "method": ["pce", "crf"]})
        >>> [(c["points"], c["method"]) for c in spec.configurations()]
        [('20', 'pce'), ('20', 'crf'), ('full', 'pce')]
        """
        grid: list[dict[str, Any]] = []
        for params in self.grid():
            if (canonical := self.canonical(params)) not in grid:
                grid.append(canonical)
        return grid

    def grid(self) -> list[dict[str, Any]]:
        """The whole product of the axes and seeds, aliases of :meth:`canonical` included (Optuna's grid)."""
        names = list(self.axes)
        return [
            {**dict(zip(names, values)), "seed": seed}
            for values in itertools.product(*self.axes.values())
            for seed in range(self.seeds)
        ]

    @staticmethod
    def canonical(params: Mapping[str, Any]) -> dict[str, Any]:
        """The configuration a grid point trains: full masks with plain cross-entropy whatever the method."""
        if params.get("points") == FULL and "method" in params:
            return {**params, "method": "pce"}
        return dict(params)

    def train_config(
        self, params: Mapping[str, Any], out: Path, points_file: Path | None, superpixel_cache: Path | None = None
    ) -> TrainConfig:
        """The :class:`TrainConfig` of one configuration (``superpixel_cache``: the sweep's, unless the options give one).

        Raises:
            pydantic.ValidationError: An option value is invalid.
        """
        options = {**self.base, **params, "out": out}
        options.setdefault("split_seed", self.base.get("seed", 0))  # one validation split for every seed
        if superpixel_cache is not None:
            options.setdefault("superpixel_cache", superpixel_cache)
        if points_file is not None:
            options["points_file"] = points_file
        if self.budget == "epochs":
            options["epochs"] = self.amount
        elif self.budget == "steps":
            options["max_steps"] = self.amount
        else:
            options["max_steps"] = max(1, math.ceil(self.amount / int(options.get("batch_size", 8))))
        return TrainConfig(**options)

    def validate_all(self, out: Path) -> None:
        """Check every configuration before anything is trained.

        Raises:
            ConfigError: An axis or option is unknown, reserved, missing or has an invalid value, or asks
                for an accelerator, devices or a strategy this machine does not have.
        """
        for name, metavar in _REQUIRED.items():
            if name not in self.base and name not in self.axes:
                raise ConfigError(
                    f"{option_flag(name)} is required", fix=f"give {option_flag(name)} {metavar} (or {name}: in --config)"
                )
        if shared := sorted(_SAME_FOR_ALL & set(self.axes)):
            flag = option_flag(shared[0])
            raise ConfigError(
                f"{flag} cannot be an axis: every configuration of a sweep trains and is validated on the same images and points",
                fix=f"give {flag} one value, and run one sweep (each with its own --out) per value",
            )
        for name in [*self.base, *self.axes]:
            if name not in TrainConfig.model_fields or (name in _RESERVED and name in self.axes):
                raise ConfigError(
                    f"{option_flag(name)} cannot be a sweep option",
                    fix="use the options of `pointseg train`; the seed is repeated with --seeds; "
                    "the budget is one value of --epochs, --max-steps or --samples",
                )
        if "full_masks" in self.axes:
            raise ConfigError(
                "--full-masks cannot be an axis: full masks are a value of the points axis",
                fix="give --points 20,full (full masks as the reference of a label-budget study)",
            )
        if FULL in self.axes.get("points", []) and "pce" not in self.axes.get("method", [self.base.get("method", "pce")]):
            raise ConfigError(
                "--points full trains the full-mask reference with plain cross-entropy, which --method leaves out",
                fix="add pce to --method (e.g. --method pce,crf)",
            )
        checked: set[tuple] = set()
        for params in self.configurations():
            try:
                config = self.train_config(params, out, None)
            except ValidationError as err:
                raise ConfigError(
                    f"configuration {run_name(params)}: {describe_error(err)}", fix="correct the value or the axis"
                ) from err
            if isinstance(config.class_weights, list):  # else a failed run would keep the sweep's options
                check_class_weights(config, ClassTable.read_csv(config.classes))
            machine = (config.accelerator, config.devices, config.num_nodes, config.trainer_strategy)
            if machine not in checked:  # else every configuration would fail on it, one after the other
                check_machine(config)
                checked.add(machine)


def build_spec(options: Mapping[str, Any], seeds: int = 1, description: str = "") -> SweepSpec:
    """A :class:`SweepSpec` from command-line or YAML options.

    Args:
        options: ``pointseg train`` option names (``lr`` or ``batch-size``) -> a value, a list,
            or a comma-separated string (``"0.001,0.01"``); several values make an axis of the
            grid. An option whose value is a list (``class_weights``, ``bands``) takes a list of
            numbers or a comma string as one value; its axis is a list of such values. The
            budget is one of ``epochs``, ``max_steps`` or ``samples`` (default 20 epochs).
        seeds: Number of seeds each configuration is trained with.
        description: See :class:`SweepSpec`.

    Raises:
        ConfigError: An unknown option, a value of the wrong type, or a budget that is not one whole number of at least 1.

    >>> spec = build_spec({"data": "d", "classes": "c.csv", "lr": "0.001,0.01", "optimizer": "adam,sgd", "max-steps": 50})
    >>> spec.axes, spec.budget, spec.amount
    ({'lr': [0.001, 0.01], 'batch_size': [16, 32, 64], 'optimizer': ['adam', 'sgd']}, 'steps', 50)
    """
    options = {name.replace("-", "_"): value for name, value in options.items() if value is not None}
    if "out" in options:  # each configuration trains in a folder of the sweep's own
        raise ConfigError("out is the sweep's folder, not an option of its trainings", fix="give it to run_sweep as out")
    budgets = [
        (key, mode) for key, mode in (("epochs", "epochs"), ("max_steps", "steps"), ("samples", "samples")) if key in options
    ]
    if len(budgets) > 1:
        raise ConfigError("give one budget: --epochs, --max-steps or --samples", fix="keep one of them")
    budget, amount = (budgets[0][1], _amount(budgets[0][0], options.pop(budgets[0][0]))) if budgets else ("epochs", 20)
    base: dict[str, Any] = {}
    axes = dict(DEFAULT_AXES)
    for name, raw in options.items():
        field = TrainConfig.model_fields.get(name)
        if field is None:
            raise ConfigError(f"{option_flag(name)} is not an option of pointseg train", fix="see pointseg train --help")
        whole = "list" in str(field.annotation)  # e.g. class weights: one value made of numbers
        if isinstance(raw, list):  # a YAML list: an axis, unless it is the numbers of one such value
            values = [raw] if whole and not any(isinstance(v, list | str) for v in raw) else raw
        elif isinstance(raw, str) and "," in raw and not whole:
            values = [part.strip() for part in raw.split(",")]
        else:
            values = [raw]
        adapter = TypeAdapter(field.annotation)
        try:  # kept in JSON form (a path as text), as the study and sweep.json store them; TrainConfig types them
            if whole:  # an axis of lists takes them as comma strings, which Optuna's grid can hold and TrainConfig reads
                typed = values if len(values) == 1 else [",".join(map(str, v)) if isinstance(v, list) else v for v in values]
            else:
                typed = [adapter.dump_python(_validated(adapter, v), mode="json") for v in values]
        except ValidationError as err:
            raise ConfigError(
                f"{option_flag(name)} {raw!r}: {err.errors()[0]['msg']}", fix="give a value of the right type"
            ) from err
        if len(typed) > 1:
            axes[name] = typed
        else:
            base[name] = typed[0]
            axes.pop(name, None)
    return SweepSpec(base=base, axes=axes, seeds=seeds, budget=budget, amount=amount, description=description)


def _validated(adapter: TypeAdapter, value: Any) -> Any:
    """``value`` as ``adapter``'s type; a number where text is wanted (YAML's ``points: [5, 20, full]``) as its text."""
    try:
        return adapter.validate_python(value)
    except ValidationError:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return adapter.validate_python(str(value))
        raise


def _amount(name: str, raw: Any) -> int:
    """The budget's number, given as option ``name`` (``epochs``, ``max_steps`` or ``samples``).

    Raises:
        ConfigError: Not a whole number of at least 1.
    """
    try:
        return TypeAdapter(Amount).validate_python(raw)
    except ValidationError as err:
        flag = option_flag(name)
        raise ConfigError(
            f"{flag} {raw!r}: {err.errors()[0]['msg']}", fix=f"give {flag} a whole number of at least 1, e.g. {flag} 20"
        ) from err


def value_order(value: Any) -> tuple[int, float, str]:
    """Axis values in order: numbers, numeric text (point budgets) by their value, then the rest (``full``) by name.

    >>> sorted(["full", "20", "5"], key=value_order)
    ['5', '20', 'full']
    """
    try:
        return 0, float(value), ""
    except (TypeError, ValueError):
        return 1, 0.0, str(value)


def grid_key(params: Mapping[str, Any], names: Sequence[str]) -> tuple:
    """Sort key of a configuration: its values of ``names`` in that order, each in :func:`value_order`.

    >>> sorted([{"lr": 0.01, "batch_size": 16}, {"lr": 0.001, "batch_size": 64}], key=lambda p: grid_key(p, ["lr"]))[0]
    {'lr': 0.001, 'batch_size': 64}
    """
    return tuple(value_order(params.get(name)) for name in names)


def run_name(params: Mapping[str, Any]) -> str:
    """Folder name of a configuration: its parameters in order, ``name=value`` joined by ``_`` (a path's ``/`` as ``%2F``).

    >>> run_name({"init_weights": "runs/a/model.ckpt", "seed": 0})
    'init_weights=runs%2Fa%2Fmodel.ckpt_seed=0'
    """
    return "_".join(f"{name}={str(value).replace('/', '%2F')}" for name, value in params.items())


def points_key(options: Mapping[str, Any]) -> str:
    """Name of the point set of a configuration: its density and strategy (TrainConfig's defaults where unset)."""
    points, strategy = (options.get(name, TrainConfig.model_fields[name].default) for name in ("points", "strategy"))
    return f"{points}_{strategy}"


def _draw_points(spec: SweepSpec, folder: Path) -> dict[str, Path]:
    """Draw, once, the points of every point density and strategy of the sweep."""
    files = {}
    for params in spec.configurations():
        options = {**spec.base, **params}
        if any(options.get(name) for name in ("full_masks", "points_file", "point_labels")) or options.get("points") == FULL:
            continue  # nothing to draw: every run reads its own labels
        key = points_key(options)
        out = folder / key
        if key not in files and not (out / "points.csv").exists():
            config = spec.train_config({**params, "seed": spec.base.get("seed", 0)}, out, None, folder.parent / "superpixels")
            prepare_data(config).write_points(out)
        files[key] = out / "points.csv"
    return files


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return {k: str(v) for k, v in a.items()} == {k: str(v) for k, v in b.items()}


def _taken_by_another(trial: optuna.Trial, params: Mapping[str, Any], patience: float = 10.0) -> bool:
    """True if an earlier trial of the same configuration is running or has its outcome.

    Two processes may draw the same grid point at the same moment; the later trial
    (higher number) then leaves it to the earlier one. An earlier trial that runs but has not
    drawn all its parameters yet may be drawing these: it is read again until it has (at most
    ``patience`` seconds, for a process that died in between). A retry (see
    :func:`_requeue_failed`) is not held back by the outcome it retries, nor by those before it.
    """
    retried = trial.user_attrs.get(_RETRY_OF, -1)
    deadline = time.monotonic() + patience
    while True:
        drawing = False
        for other in trial.study.get_trials(deepcopy=False):
            if not retried < other.number < trial.number:
                continue
            running = other.state == optuna.trial.TrialState.RUNNING
            if running and other.params.keys() != params.keys():
                drawing = True
            elif _same(other.params, params) and (running or "status" in other.user_attrs):
                return True
        if not drawing or time.monotonic() > deadline:
            return False
        time.sleep(0.05)


_RETRY_OF = "retry_of"
"""User attribute of a retried configuration's new trial: the number of the trial whose outcome it retries."""


def _outcome(config: TrainConfig, num_classes: int) -> dict[str, Any]:
    """Train one configuration and describe what happened; every failure becomes a result."""
    try:
        result = train(config, callbacks=[ChanceMonitor(num_classes, label_smoothing=config.label_smoothing)])
    except SystemExit as err:  # Lightning turns Ctrl-C during fit into a graceful shutdown and exit(1)
        raise KeyboardInterrupt from err
    except TrainingDiverged as err:
        return {"status": "diverged", "step": err.step, "message": err.message}
    except Exception as err:  # out of memory, a bad option, a bug: recorded, and the sweep goes on
        # one line for the results table; the whole story, traceback included, in outcome.json
        trace = "".join(traceback.format_exception(err))
        return {"status": "failed", "message": f"{type(err).__name__}: {err}".splitlines()[0], "traceback": trace}
    return {"status": "done", "metrics": result.metrics}


def _queue_again(study: optuna.Study, trial: optuna.trial.FrozenTrial, **user_attrs: Any) -> None:
    """Add a waiting trial of ``trial``'s grid point, as optuna's RetryFailedTrialCallback does: same parameters."""
    study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.WAITING,
            params=trial.params,
            distributions=trial.distributions,
            system_attrs=trial.system_attrs,
            user_attrs=user_attrs,
        )
    )


def _requeue_interrupted(study: optuna.Study, spec: SweepSpec) -> None:
    """Queue again each configuration of ``spec`` whose last trial was interrupted or died before its outcome was stored.

    Interrupted trials of an earlier specification of the study (see :func:`_store_spec`) are left alone.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    trials = study.get_trials(deepcopy=False)
    active = {optuna.trial.TrialState.WAITING, optuna.trial.TrialState.RUNNING}
    settled = [t.params for t in trials if "status" in t.user_attrs or t.state in active]
    grid = spec.grid()
    for trial in trials:
        interrupted = trial.state == optuna.trial.TrialState.FAIL and any(_same(trial.params, p) for p in grid)
        if interrupted and not any(_same(trial.params, p) for p in settled):
            _queue_again(study, trial)
            settled.append(trial.params)


def _requeue_failed(study: optuna.Study) -> list[str]:
    """Queue again each configuration whose latest outcome is ``diverged`` or ``failed`` and that waits for no trial.

    Returns:
        The run names of the configurations queued again.
    """
    latest: dict[str, optuna.trial.FrozenTrial] = {}
    active: set[str] = set()
    for trial in study.get_trials(deepcopy=False):  # in order of their numbers
        if "status" in trial.user_attrs:
            latest[run_name(trial.params)] = trial
        elif trial.state in (optuna.trial.TrialState.WAITING, optuna.trial.TrialState.RUNNING):
            active.add(run_name(trial.params))
    retried = [
        name for name, trial in latest.items() if trial.user_attrs["status"] in ("diverged", "failed") and name not in active
    ]
    for name in retried:
        _queue_again(study, latest[name], **{_RETRY_OF: latest[name].number})
    return retried


def open_study(out: Path, storage: str | None = None, create: bool = True) -> optuna.Study:
    """The sweep's Optuna study: SQLite in ``out/study.db`` unless ``storage`` is a SQLAlchemy URL.

    A heartbeat lets a later run detect the trials of processes that died. With ``create``
    False (to read results), a study that does not exist yet is an error, and no database
    file is made.

    Raises:
        ConfigError: The database cannot be opened: a URL SQLAlchemy cannot parse, a driver that is not
            installed, a file that cannot be created, a server that cannot be reached; or, with ``create``
            False, it holds no sweep.
    """
    url = _url(out, storage)
    if not create:
        _require_study(out, url, storage)
    error: Exception | None = None
    for delay in (0.0, 0.2, 0.4, 0.8, 1.6):
        time.sleep(delay)
        try:
            with warnings.catch_warnings():  # the heartbeat is experimental, and said so at every sweep
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                rdb = optuna.storages.RDBStorage(url, heartbeat_interval=30, grace_period=120)
            if not create:
                return optuna.load_study(study_name=STUDY_NAME, storage=rdb)
            return optuna.create_study(study_name=STUDY_NAME, storage=rdb, direction="maximize", load_if_exists=True)
        except (IntegrityError, OperationalError) as err:  # processes creating the same new database at once: try again
            error = err
        except (ArgumentError, ImportError) as err:  # not a database SQLAlchemy can reach: trying again will not help
            error = err
            break
        except KeyError as err:  # load_study: the database holds no sweep
            raise ConfigError(
                f"{storage or out / 'study.db'} holds no pointseg sweep",
                fix="give the --storage of the sweep, or run `pointseg sweep` first",
            ) from err
    reason = str(error).splitlines()[0]
    if storage is None:
        raise ConfigError(
            f"cannot open the study {out / 'study.db'}: {reason}", fix="give --out a folder you can write to"
        ) from error
    raise ConfigError(
        f"--storage {storage}: cannot open this database: {reason}",
        fix="give --storage a SQLAlchemy URL of a database you can open (its driver installed), "
        "e.g. sqlite:///path/study.db or postgresql://user@host/db",
    ) from error


def _url(out: Path, storage: str | None) -> str:
    """The SQLAlchemy URL of the sweep's study: ``storage``, or SQLite in ``out/study.db``."""
    return storage or f"sqlite:///{(out / 'study.db').resolve()}"


def _require_study(out: Path, url: str, storage: str | None) -> None:
    """Refuse to read a SQLite study whose file does not exist (opening it would create an empty one).

    Raises:
        ConfigError: The file is missing.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        return  # open_study names the URL
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).is_file():
            where = f"--storage {storage}" if storage else str(out)
            raise ConfigError(
                f"{where}: no study database {parsed.database}",
                fix="give the sweep's --out folder, or the --storage URL it ran with",
            )


def absolute_storage(storage: str | None) -> str | None:
    """``storage`` with a relative SQLite path made absolute, so that the sweep folder names it from anywhere.

    >>> absolute_storage("postgresql://host/db"), absolute_storage(None)
    ('postgresql://host/db', None)
    >>> absolute_storage("sqlite:////data/study.db")
    'sqlite:////data/study.db'
    """
    if storage is None:
        return None
    try:
        parsed = make_url(storage)
    except ArgumentError:
        return storage  # open_study names the URL
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:") or Path(parsed.database).is_absolute():
        return storage
    return parsed.set(database=str(Path(parsed.database).resolve())).render_as_string(hide_password=False)


def _holds_result(trial: optuna.trial.FrozenTrial) -> bool:
    """True if the trial stored the outcome of a training (not of an alias of another configuration)."""
    return trial.user_attrs.get("status", "alias") != "alias"


def spec_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """The flags of the options in which two stored sweep specifications differ in what they train.

    The machine's options (:data:`~pointseg.config.MACHINE_OPTIONS`) and the description are
    not compared; an option one leaves out counts with its default; an axis is the set of its values.

    >>> a = {"base": {"accelerator": "cpu"}, "axes": {"lr": [0.01, 0.001]}, "seeds": 1, "amount": 20}
    >>> spec_differences(a, {"base": {"seed": 0}, "axes": {"lr": [0.001, 0.01]}, "seeds": 1, "amount": 20})
    []
    >>> spec_differences(a, {"base": {"width": 8}, "axes": {"lr": [0.001]}, "seeds": 2, "amount": 20})
    ['--lr', '--seeds', '--width']
    """
    defaults = option_defaults()

    def trained(spec: Mapping[str, Any]) -> dict[str, Any]:
        axes = {name: sorted(map(json.dumps, values)) for name, values in spec.get("axes", {}).items()}
        options = {name: value for name, value in {**defaults, **spec.get("base", {})}.items() if name not in axes}
        options |= {name: ("axis", values) for name, values in axes.items()}
        return {name: value for name, value in options.items() if name not in MACHINE_OPTIONS} | {
            name: spec.get(name) for name in ("seeds", "budget", "amount")
        }

    first, second = trained(a), trained(b)
    budget = {"budget": "--epochs, --max-steps or --samples", "amount": "--epochs, --max-steps or --samples"}
    return sorted(
        {budget.get(name, option_flag(name)) for name in first.keys() | second.keys() if first.get(name) != second.get(name)}
    )


def _store_spec(study: optuna.Study, spec: SweepSpec, out: Path, storage: str | None) -> dict[str, Any]:
    """Record ``spec`` in the study and in ``out/sweep.json``, unless the study holds another sweep's results; returns it.

    A study of another specification that holds no result yet (its first command had a typo, or was
    interrupted during its first training) takes the new one; the points drawn for the old one are removed.
    The options of :data:`~pointseg.config.PREDATED_OPTIONS` are recorded with their values, given or
    default, and a specification stored before one of them counts with the value it ran with.

    Raises:
        ConfigError: The study holds another specification with results, or with configurations training.
    """
    wanted = spec.model_dump(mode="json")
    wanted["base"] |= {name: TrainConfig.model_fields[name].default for name in PREDATED_OPTIONS if name not in wanted["base"]}
    stored = _stored_spec(study)
    if stored is not None and stored != wanted:
        if not (changed := spec_differences(stored, wanted)):  # another machine, description or order of axis values
            (out / "sweep.json").write_text(json.dumps({**stored, "storage": storage}, indent=2))  # a folder of its own
            return stored
        active = (optuna.trial.TrialState.WAITING, optuna.trial.TrialState.RUNNING)
        if any(_holds_result(t) or t.state in active for t in study.get_trials(deepcopy=False)):
            if storage is not None:  # one study name: a database holds one sweep
                raise ConfigError(
                    f"--storage {storage} holds a sweep with other {', '.join(changed)}: a database holds one sweep",
                    fix="run that sweep's command to resume it, or give another --storage for a new sweep",
                )
            raise ConfigError(
                f"{out} holds a sweep with other {', '.join(changed)} (its options are in {out / 'sweep.json'})",
                fix="run the same command to resume it, or give another --out (or --storage) for a new sweep",
            )
        shutil.rmtree(out / "points", ignore_errors=True)
    study.set_user_attr("spec", wanted)
    (out / "sweep.json").write_text(json.dumps({**wanted, "storage": storage}, indent=2))
    return wanted


def _forget_failures(study: optuna.Study, spec: SweepSpec, out: Path, storage: str | None) -> optuna.Study:
    """The study, emptied if it holds another specification whose every outcome is ``failed``.

    A first command whose every configuration failed (a typo in an option) leaves failures
    only: the corrected command takes the study and the sweep folder's points, as it would
    an empty one, and those failures are forgotten with a warning. A study with a finished
    or diverged configuration (a result), or one training, is left for :func:`_store_spec`
    to refuse.
    """
    stored = _stored_spec(study)
    if stored is None or not spec_differences(stored, spec.model_dump(mode="json")):
        return study
    trials = study.get_trials(deepcopy=False)
    active = (optuna.trial.TrialState.WAITING, optuna.trial.TrialState.RUNNING)
    failed = [t for t in trials if _holds_result(t)]
    if not failed or any(t.user_attrs["status"] != "failed" for t in failed) or any(t.state in active for t in trials):
        return study
    try:  # by its id: a command that took the study meanwhile has another one, left alone
        study._storage.delete_study(study._study_id)
    except KeyError:  # another corrected command deleted it first
        pass
    shutil.rmtree(out / "points", ignore_errors=True)  # drawn for the earlier options
    message = (
        f"the {len(failed)} failed configuration(s) of the earlier options of {out} are forgotten: these options replace them"
    )
    warnings.warn(PointsegWarning(message), stacklevel=3)
    return open_study(out, storage)


def _stored_spec(study: optuna.Study) -> dict[str, Any] | None:
    """The specification the study holds, a predated option counting with the value it ran with; None if none."""
    stored = study.user_attrs.get("spec")
    return None if stored is None else stored | {"base": PREDATED_OPTIONS | stored.get("base", {})}


def _require_spec(study: optuna.Study, stored: dict[str, Any], out: Path) -> None:
    """Stop if another command took the study for other options since this one stored ``stored``.

    Two commands with other options started on one empty study at the same moment both find it
    free; the later one's specification stands, and the earlier one must neither train nor store
    a result under it.

    Raises:
        ConfigError: The study's specification is no longer ``stored``.
    """
    if _stored_spec(study) != stored:
        raise ConfigError(
            f"another command took the sweep of {out} for other options while this one ran",
            fix="give this sweep its own --out (or --storage): the folder now holds the other command's sweep",
        )


def run_sweep(
    spec: SweepSpec,
    out: str | Path,
    storage: str | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    retry_failed: bool = False,
    on_retry: Callable[[list[str]], None] | None = None,
) -> list[dict[str, Any]]:
    """Train every configuration of ``spec`` not yet done, sharing the work through the study.

    Args:
        spec: The sweep.
        out: The sweep folder.
        storage: SQLAlchemy URL of the study (default: SQLite in the sweep folder).
        on_result: Called with each outcome as it is stored (for progress output).
        retry_failed: Train the configurations that diverged or failed again.
        on_retry: Called with the run names of the configurations ``retry_failed`` queued again.

    Returns:
        The rows of :func:`collect_results`.

    Raises:
        ConfigError: An invalid configuration, a storage that cannot be opened, or a sweep folder that holds
            another sweep with results.
        KeyboardInterrupt: Ctrl-C; finished configurations stay stored, the interrupted one runs again on resume.
    """
    out = Path(out)
    spec.validate_all(out)
    out.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for handler in optuna.logging.get_logger("optuna").handlers:  # where its modules' records end
        if _not_an_interrupt not in handler.filters:
            handler.addFilter(_not_an_interrupt)
    storage = absolute_storage(storage)
    study = _forget_failures(open_study(out, storage), spec, out, storage)
    stored = _store_spec(study, spec, out, storage)
    # the axes' values in the order stored first: a trial queued again keeps the choices of its first draw
    space = {**stored["axes"], "seed": list(range(spec.seeds))}
    study.sampler = optuna.samplers.GridSampler(space, seed=0)
    points = _draw_points(spec, out / "points")
    _require_spec(study, stored, out)  # another command taking the folder meanwhile removed or replaced them
    num_classes = ClassTable.read_csv(spec.base["classes"]).num_classes
    if retry_failed:
        retried = _requeue_failed(study)
        if on_retry is not None:
            on_retry(retried)

    def objective(trial: optuna.Trial) -> float:
        params = {name: trial.suggest_categorical(name, values) for name, values in space.items()}
        if (canonical := spec.canonical(params)) != params:  # trained as the canonical configuration
            trial.set_user_attr("alias_of", run_name(canonical))
            trial.set_user_attr("status", "alias")
            raise optuna.TrialPruned("alias")
        if _taken_by_another(trial, params):
            raise optuna.TrialPruned("taken by another process")
        _require_spec(study, stored, out)
        options = {**spec.base, **params}
        run, points_file = out / "runs" / run_name(params), points.get(points_key(options))
        config = spec.train_config(params, run, points_file, out / "superpixels")
        config.out.mkdir(parents=True, exist_ok=True)
        outcome = _outcome(config, num_classes)
        _require_spec(study, stored, out)  # the run folder keeps what was trained; the study takes no result of it
        # the outcome goes to disk first and "status" into the study last: a trial with a
        # status always has all its results, and a failed database write loses nothing
        (config.out / "outcome.json").write_text(json.dumps({"params": params, **outcome}, indent=2))
        trial.set_user_attr("run", str(config.out.relative_to(out)))
        trial.set_user_attr("train_loss", _last_train_loss(config.out))  # for reports of folders elsewhere on the study
        for key, value in outcome.items():
            if key != "status":
                trial.set_user_attr(key, value)
        trial.set_user_attr("status", outcome["status"])
        if on_result is not None:
            on_result({"name": run_name(params), **outcome})
        miou = (outcome.get("metrics") or {}).get("miou")
        if outcome["status"] != "done" or miou is None:  # diverged, failed, or trained without validation
            raise optuna.TrialPruned(outcome["status"])
        return miou

    total = len(spec.grid())
    while True:
        # before and after each round of trials: one of a process that died may have been failed meanwhile
        _requeue_interrupted(study, spec)
        progress = _progress(study)
        if progress[0] >= total:
            break
        # GridSampler stops a study once every grid point has a trial, even while requeued
        # trials still wait: go round until nothing more can be done here
        study.optimize(objective, n_trials=total - progress[0] + progress[1])
        _requeue_interrupted(study, spec)
        if _progress(study) == progress:  # the rest is running in other processes
            break
    return collect_results(out, storage)


def _not_an_interrupt(record: logging.LogRecord) -> bool:
    """Optuna's logs, less those of a trial stopped by Ctrl-C (traceback and all): the command says what it means.

    Every other failure of a trial is recorded as its outcome before Optuna sees it (:func:`_outcome`).
    """
    interrupted = record.exc_info is not None and isinstance(record.exc_info[1], KeyboardInterrupt)
    return not interrupted and "failed with value None" not in record.getMessage()


def _progress(study: optuna.Study) -> tuple[int, int]:
    """Grid points with an outcome and none waiting (a retry), and trials waiting to run."""
    trials = study.get_trials(deepcopy=False)
    waiting = [t for t in trials if t.state == optuna.trial.TrialState.WAITING]
    pending = {run_name(t.params) for t in waiting}
    settled = {run_name(t.params) for t in trials if "status" in t.user_attrs} - pending
    return len(settled), len(waiting)


def running_elsewhere(out: str | Path, storage: str | None = None) -> int:
    """Trials without outcome still marked running: in other processes, or in one that died.

    Optuna's heartbeat marks the trials of a dead process as failed two minutes after its
    last beat; the next run of the sweep then trains them again.
    """
    trials = open_study(Path(out), storage, create=False).get_trials(deepcopy=False)
    return sum(t.state == optuna.trial.TrialState.RUNNING and "status" not in t.user_attrs for t in trials)


def _last_train_loss(run: Path) -> float | None:
    """Mean training loss of the last logged epoch of a run."""
    path = run / "metrics.csv"
    if not path.exists():
        return None
    with path.open() as handle:
        losses = [row["train_loss_epoch"] for row in csv.DictReader(handle) if row.get("train_loss_epoch")]
    return float(losses[-1]) if losses else None


def collect_results(out: str | Path, storage: str | None = None) -> list[dict[str, Any]]:
    """One row per configuration and seed with an outcome (its latest), from the study store, in grid order.

    Columns: the sweep's axes and ``seed``, ``status``, ``train_loss``, ``val_loss``,
    ``val_accuracy``, ``miou``, ``kappa``, ``iou_<class>`` for each class, ``step`` (of
    divergence), ``message`` and ``run`` (the run folder, relative to the sweep folder).
    """
    out = Path(out)
    rows = {}
    names: list[str] = []
    for trial in open_study(out, storage, create=False).get_trials(deepcopy=False):  # in order: a retry replaces the first
        if not _holds_result(trial):
            continue
        attrs = trial.user_attrs
        metrics = attrs.get("metrics") or {}
        names = list(trial.params)
        rows[run_name(trial.params)] = {
            **trial.params,
            "status": attrs["status"],
            "train_loss": attrs["train_loss"] if "train_loss" in attrs else _last_train_loss(out / attrs["run"]),
            "val_loss": metrics.get("loss"),
            "val_accuracy": metrics.get("accuracy"),
            "miou": metrics.get("miou"),
            "kappa": metrics.get("kappa"),
            **{f"iou_{name}": iou for name, iou in (metrics.get("per_class_iou") or {}).items()},
            "step": attrs.get("step"),
            "message": attrs.get("message"),
            "run": attrs["run"],
        }
    return sorted(rows.values(), key=lambda row: grid_key(row, names))
