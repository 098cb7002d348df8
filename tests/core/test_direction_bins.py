"""direction_bins takes most bins from cv2.phase: every bin must still be the exact one."""

import numpy as np
import pytest

from railwatch_plugin.core.direction_bins import direction_bins, exact_bins


def numpy_bins(gx, gy, bin_deg):
    """The histogram bins as first written, with numpy's float remainder."""
    theta = (np.degrees(np.arctan2(gy, gx)) + 90.0) % 180.0
    return (theta / bin_deg).astype(int).ravel() % int(180 / bin_deg)


@pytest.mark.parametrize("scale", [1e-30, 1e-7, 1e-3, 1.0, 255.0, 1e30])
@pytest.mark.parametrize("bin_deg", [1.0, 2.0])
def test_bins_are_the_exact_ones(scale, bin_deg):
    rng = np.random.default_rng(int(np.log10(scale)) + 40)
    gx = (rng.normal(size=(400, 500)) * scale).astype(np.float32)
    gy = (rng.normal(size=(400, 500)) * scale).astype(np.float32)
    gx[0, :40], gy[0, :20], gy[0, 20:40] = 0.0, 0.0, -0.0  # flat ground, signed zeros
    gx[1, :50] = np.float32(scale)  # angles on and just off bin edges
    gy[1, :50] = (np.tan(np.radians(np.arange(50) * 3.6 + np.repeat([0.0, 1e-4], 25))) * scale).astype(np.float32)
    gx[2, :4], gy[2, 4:8], gx[2, 8:10], gy[2, 8:10] = np.inf, -np.inf, np.nan, 1.0
    with np.errstate(invalid="ignore"):
        want = numpy_bins(gx, gy, bin_deg)
        np.testing.assert_array_equal(exact_bins(gx, gy, bin_deg), want)
        np.testing.assert_array_equal(direction_bins(gx, gy, bin_deg), want)
