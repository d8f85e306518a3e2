"""The one exception hierarchy of pointseg.

Every error a user can trigger derives from :class:`PointsegError`. Its message says
what was wrong, where (a file, a row, a pixel count) and how to fix it; the command line
prints the message alone, without a traceback.

Example:
    >>> try:
    ...     raise DatasetError("no image/mask pairs under /data", fix="point --data at a folder holding images/ and masks/")
    ... except PointsegError as err:
    ...     print(err)
    no image/mask pairs under /data
      fix: point --data at a folder holding images/ and masks/
"""

from __future__ import annotations


class PointsegError(Exception):
    """Base class of every error caused by user input or user data.

    Args:
        message: What was wrong and where.
        fix: How to put it right; printed on its own line.
    """

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(message if fix is None else f"{message}\n  fix: {fix}")


class PointsegWarning(UserWarning):
    """Base class of warnings about user data; the command line prints them in one line."""


class ClassesError(PointsegError):
    """A classes table that cannot be read, or masks whose colours it does not describe."""


class DatasetError(PointsegError):
    """A dataset root without pairs, a missing or unreadable file, mismatched sizes."""


class PointsError(PointsegError):
    """A point specification or point file that cannot be used."""


class ConfigError(PointsegError):
    """Options that cannot work together or on this machine (e.g. ``--accelerator gpu`` without a GPU)."""


class CheckpointError(PointsegError):
    """A checkpoint that is missing or was not written by pointseg."""


class TrainingDiverged(PointsegError):
    """The training loss became NaN or infinite, or stayed at chance level.

    Args:
        step: The optimisation step at which it was detected.
        loss: The offending loss value.
        reason: What happened, in words.
    """

    def __init__(self, step: int, loss: float, reason: str = "the loss is not finite") -> None:
        self.step = step
        self.loss = loss
        self.reason = reason
        super().__init__(
            f"training diverged at step {step}: {reason} (loss {loss:.4g})",
            fix="lower the learning rate (--lr), e.g. by a factor of 10; metrics logged so far are kept in the run folder",
        )
