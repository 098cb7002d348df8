"""quick_stats.median must be np.median, value and type, only faster."""

import numpy as np
import pytest

from railwatch_plugin.core.quick_stats import SORT_BELOW, median


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 150, SORT_BELOW - 1, SORT_BELOW, SORT_BELOW + 1, 5000])
def test_median_is_numpys_median(n, dtype):
    values = np.random.default_rng(n).normal(size=n).astype(dtype)
    got, want = median(values), np.median(values)
    assert got == want and type(got) is type(want)


@pytest.mark.parametrize("n", [5, 6, 2000])
def test_a_nan_gives_nan_as_numpy_does(n):
    values = np.random.default_rng(n).normal(size=n)
    values[n // 3] = np.nan
    assert np.isnan(median(values)) and np.isnan(np.median(values))


def test_other_inputs_are_numpys_business():
    assert median(np.arange(6)) == np.median(np.arange(6))  # integers
    grid = np.random.default_rng(0).normal(size=(30, 40)).astype(np.float32)
    assert median(grid.ravel()) == np.median(grid)
