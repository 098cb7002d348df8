"""Linking band-response ridges into strings of coupled cars."""

import numpy as np

from railwatch_plugin.core.strings import link_strings


def _ridge_image(pieces, shape=(60, 400)):
    """A ridge mask drawn from (row, col_start, col_end) runs, and flat maps to go with it."""
    ridges = np.zeros(shape, bool)
    for row, c0, c1 in pieces:
        ridges[row, c0:c1] = True
    response = ridges.astype(np.float32) * 30.0
    return ridges, response, np.zeros(shape, np.int32), np.zeros(shape, np.float32)


def _strings(pieces, **kw):
    ridges, response, width_index, tone = _ridge_image(pieces)
    return link_strings(ridges, response, width_index, tone, min_length_px=40, bridge_px=5, **kw)


def test_a_ridge_that_steps_two_rows_between_cars_stays_one_string():
    # One car's ridge ends at column 150, the next car's starts 2 rows lower:
    # a different width or a shadow moves the ridge, the track is the same.
    pieces = [(30, 20, 150), (32, 150, 300)]
    joined = _strings(pieces, join_rows_px=3.0)
    assert [(s.col_start, s.col_end) for s in joined] == [(20.0, 300.0)]
    # Without joining, 8-connectivity cannot bridge a two-row step.
    assert len(_strings(pieces)) == 2


def test_short_pieces_count_once_they_are_chained():
    # A car whose ridge broke into pieces shorter than a car (gaps of 8 px, beyond bridge_px).
    pieces = [(30, 20, 50), (30, 58, 88), (31, 96, 126)]
    assert _strings(pieces) == []
    joined = _strings(pieces, join_rows_px=3.0, join_gap_px=10.0)
    assert [(s.col_start, s.col_end) for s in joined] == [(20.0, 126.0)]


def test_parallel_tracks_are_not_joined():
    # The next track is 8 rows away (4 m at 0.5 m): two strings, whatever the overlap.
    pieces = [(20, 20, 200), (28, 180, 380)]
    strings = _strings(pieces, join_rows_px=3.0, join_gap_px=10.0)
    assert sorted((s.col_start, s.col_end) for s in strings) == [(20.0, 200.0), (180.0, 380.0)]
    assert sorted(round(float(s.row_at(100)), 1) for s in strings) == [20.0, 28.0]


def test_a_gap_longer_than_the_join_gap_keeps_strings_apart():
    pieces = [(30, 20, 150), (30, 170, 300)]
    strings = _strings(pieces, join_rows_px=3.0, join_gap_px=10.0)
    assert len(strings) == 2


def test_line_fit_is_numpys_polyfit_bit_for_bit():
    from railwatch_plugin.core.strings import _fit_line

    rng = np.random.default_rng(5)
    for k in range(300):
        n = int(rng.integers(2, 600))
        cols = np.sort(rng.integers(0, 1400, n))
        rows = np.round(rng.uniform(0, 1400) + rng.uniform(-0.5, 0.5) * cols + rng.normal(0, 1.5, n)).astype(np.int64)
        if k % 3 == 0:  # half the pixels one row lower: the line lies between two rows
            rows = np.where(np.arange(n) % 2, 20, 21)
        if np.ptp(cols) > 0 and np.ptp(rows) > 0:
            want_slope, want_intercept = np.polyfit(cols, rows, 1)
        else:
            want_slope, want_intercept = 0.0, float(np.mean(rows))
        want_wander = float(np.abs(rows - (want_slope * cols + want_intercept)).mean())
        assert _fit_line(rows, cols) == (float(want_slope), float(want_intercept), want_wander)
    # a flat ridge and a one-column ridge: no slope to fit
    assert _fit_line(np.array([5, 5, 5]), np.array([1, 2, 3]))[:2] == (0.0, 5.0)
    assert _fit_line(np.array([4, 6]), np.array([7, 7]))[:2] == (0.0, 5.0)
