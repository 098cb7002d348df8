"""split.boundary_strength's sliding maxima equal the per-sample windows they replaced."""

import numpy as np
import pytest

from railwatch_plugin.core.split import boundary_strength


def per_sample_support(contrast, gsd_m):
    """min(strongest contrast far..near before, near..far after) per sample, one window at a time."""
    near = max(1, int(round(0.6 / gsd_m)))
    far = max(near + 1, int(round(3.0 / gsd_m)))
    padded = np.pad(contrast, far, mode="edge")
    n = len(contrast)
    left = np.array([padded[i : i + far - near + 1].max() for i in range(n)])
    right = np.array([padded[i + far + near : i + 2 * far + 1].max() for i in range(n)])
    return np.minimum(left, right)


@pytest.mark.parametrize("gsd_m", [0.25, 0.5, 0.7, 1.0])
@pytest.mark.parametrize("n", [1, 2, 9, 300])
def test_boundary_dips_use_the_right_windows(gsd_m, n):
    rng = np.random.default_rng(n)
    contrast = rng.random(n).astype(np.float32) * 60 + 20
    flat_inner = np.zeros((n, 3), np.float32)  # no colour change: the strength is the dip alone
    ref = max(float(np.median(contrast)), 1.0)
    support = np.minimum(per_sample_support(contrast, gsd_m), ref * 1.5)
    dip = np.clip(1.0 - contrast / np.maximum(support, 1e-6), 0.0, 1.0) * np.clip(support / ref, 0.0, 1.0)
    np.testing.assert_array_equal(boundary_strength(contrast, flat_inner, gsd_m), np.maximum(dip, 0.0))
