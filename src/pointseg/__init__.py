"""pointseg: semantic segmentation of remote sensing imagery trained from point labels.

The pipeline, one module per step: :mod:`pointseg.classes` (classes table, mask decoding),
:mod:`pointseg.data` (pairs, points, samples), :mod:`pointseg.losses` (partial
cross-entropy), :mod:`pointseg.models` (U-Net), :mod:`pointseg.training` (Lightning),
:mod:`pointseg.metrics` and :mod:`pointseg.evaluation`, :mod:`pointseg.predict`.

Example:
    >>> from pointseg import IGNORE_INDEX, partial_cross_entropy
    >>> IGNORE_INDEX
    -100
"""

from pointseg.classes import IGNORE_INDEX, ClassTable
from pointseg.losses import PartialCrossEntropy, partial_cross_entropy

__version__ = "0.1.0"

__all__ = ["IGNORE_INDEX", "ClassTable", "PartialCrossEntropy", "partial_cross_entropy"]
