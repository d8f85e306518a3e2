"""Properties that hold for any mask and any confusion matrix (hypothesis)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pointseg.classes import IGNORE_INDEX
from pointseg.data.points import PointSpec, simulate_points
from pointseg.metrics import segmentation_metrics

masks = arrays(np.int16, st.tuples(st.integers(1, 30), st.integers(1, 30)), elements=st.sampled_from([IGNORE_INDEX, 0, 1, 2, 3]))


@settings(max_examples=60, deadline=None)
@given(mask=masks, count=st.integers(1, 50), seed=st.integers(0, 2**16), strategy=st.sampled_from(["random", "class-balanced"]))
def test_points_lie_on_labelled_pixels_once_with_their_class(mask, count, seed, strategy):
    points = simulate_points({"m": mask}, PointSpec(per_image=count), strategy, seed)
    labelled = int((mask != IGNORE_INDEX).sum())
    pixels = set(zip(points.rows.tolist(), points.cols.tolist()))
    assert len(pixels) == len(points)
    assert all(mask[r, c] == cls for r, c, cls in zip(points.rows, points.cols, points.classes))
    assert len(points) == min(count, labelled)
    if strategy == "class-balanced":  # equal shares as far as each class's pixels go (max-min fair)
        present, available = np.unique(mask[mask != IGNORE_INDEX], return_counts=True)
        taken = np.array([(points.classes == cls).sum() for cls in present])
        short = taken < available
        if short.any():
            assert taken[short].max() - taken[short].min() <= 1 and taken[~short].max(initial=0) <= taken[short].min() + 1


@settings(max_examples=100, deadline=None)
@given(arrays(np.int64, st.integers(2, 6).map(lambda n: (n, n)), elements=st.integers(0, 1000)))
def test_metrics_stay_in_their_ranges(matrix):
    if matrix.sum() == 0:
        return
    m = segmentation_metrics(matrix, [str(i) for i in range(len(matrix))])
    assert 0 <= m.accuracy <= 1 and m.kappa <= 1 + 1e-12
    for name, iou in m.per_class_iou.items():
        if not np.isnan(iou):
            assert 0 <= iou <= m.per_class_f1[name] <= 1  # IoU = F1 / (2 - F1) never exceeds F1
    assert np.isnan(m.miou) or 0 <= m.miou <= 1
