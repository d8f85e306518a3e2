"""Matplotlib without a display: every figure of pointseg is drawn with the pyplot of :func:`pyplot`.

Matplotlib is imported on first use only, so that commands which draw nothing start fast.

Example:
    >>> plt = pyplot()
    >>> plt.get_backend().lower()
    'agg'
"""

from __future__ import annotations

from types import ModuleType


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` on the Agg backend: figures are written to files, never shown."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
