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


@pytest.mark.parametrize("percent", [99, 99.5, 90, 50, 75.3])
@pytest.mark.parametrize("seed", range(5))
def test_high_percentile_is_numpys_percentile(percent, seed):
    from railwatch_plugin.core.quick_stats import high_percentile

    rng = np.random.default_rng(seed)
    n = int(rng.integers(40_000, 300_000))
    values = rng.gamma(1.5, 20.0, size=n).astype(np.float32)
    if seed % 2:  # many ties and exact zeros, as edge magnitudes of flat ground have
        values = np.round(values / 4) * 4
        values[: n // 3] = 0
    grid = values.reshape(1, -1)  # any shape: the percentile of all values
    got, want = high_percentile(grid, percent), np.percentile(grid, percent)
    assert got == want and type(got) is type(want)


def test_high_percentile_leaves_small_and_odd_inputs_to_numpy():
    from railwatch_plugin.core.quick_stats import high_percentile

    rng = np.random.default_rng(1)
    values = rng.normal(size=100_000).astype(np.float32)
    values[17] = np.nan
    assert np.isnan(high_percentile(values, 99)) and np.isnan(np.percentile(values, 99))
    # Every value the sample sees is high: the threshold is too high to hold the 90th percentile.
    tricky = rng.normal(size=100_000)
    tricky[:: len(tricky) // 4096] = 1000.0
    assert high_percentile(tricky, 90) == np.percentile(tricky, 90)
    for small in (np.arange(10.0), rng.normal(size=999)):
        assert high_percentile(small, 99) == np.percentile(small, 99)
