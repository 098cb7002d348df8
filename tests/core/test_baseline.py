"""Baseline statistics and the summary sentence, on histories whose figures are worked out by hand.

No QGIS here: run with ``pytest -p no:qgis tests/core``.
"""

from __future__ import annotations

import datetime as dt
import math

import pytest

from railwatch_plugin.core.baseline import (
    Observation,
    compare_with_baseline,
    format_years,
    parse_observation_date,
)

CURRENT_DATE = dt.date(2023, 10, 5)

# Five earlier counts 4, 8, 8, 12, 20 plus two that are NOT history for 2023-10-05:
# one on that very day and one after it.
HISTORY = [
    Observation(dt.date(2019, 1, 10), 4, "a"),
    Observation(dt.date(2021, 6, 15), 8, "c"),  # out of date order on purpose
    Observation(dt.date(2020, 3, 1), 8, "b"),
    Observation(dt.date(2022, 2, 1), 12, "d"),
    Observation(dt.date(2023, 5, 20), 20, "e"),
    Observation(dt.date(2023, 10, 5), 50, "same day"),
    Observation(dt.date(2024, 1, 1), 99, "later"),
]


def tumangang_like_history():
    """42 observations, highest 20, every 43 days from 2018-10-20 (last 2023-08-18)."""
    return [
        Observation(dt.date(2018, 10, 20) + dt.timedelta(days=43 * i), 5 + (i * 7) % 16, f"scene_{i:02d}")
        for i in range(42)
    ]


def test_figures_of_a_known_history():
    result = compare_with_baseline(HISTORY, current_count=12, current_date=CURRENT_DATE)

    # only the five observations strictly before 2023-10-05 count, oldest first
    assert result.n == 5
    assert [o.scene for o in result.baseline] == ["a", "b", "c", "d", "e"]
    assert result.max == 20
    assert result.mean == pytest.approx(10.4)  # 52 / 5
    assert result.median == 8.0
    # sample std: squared deviations 40.96 + 5.76 + 5.76 + 2.56 + 92.16 = 147.2, / 4 = 36.8
    assert result.std == pytest.approx(math.sqrt(36.8))
    assert result.ratio_to_max == pytest.approx(0.6)
    assert result.ratio_to_mean == pytest.approx(12 / 10.4)
    assert result.zscore == pytest.approx(1.6 / math.sqrt(36.8))
    assert result.percentile == pytest.approx(70.0)  # 3 below, 1 tie: (3 + 0.5) / 5
    assert result.unprecedented is False
    assert result.first_date == dt.date(2019, 1, 10)
    assert result.last_date == dt.date(2023, 5, 20)
    assert result.years_spanned == pytest.approx(1591 / 365.25)
    assert result.current_count == 12
    assert result.current_date == CURRENT_DATE
    assert result.summary == (
        "12 railcars on 2023-10-05: within the baseline "
        "(highest 20, mean 10.4, 70th percentile of 5 observations over 4 years)."
    )


def test_baseline_years_keeps_only_the_window_before_the_current_date():
    # 2 years = 730.5 days -> window starts 2021-10-05: keeps 2022-02-01 (12) and 2023-05-20 (20)
    result = compare_with_baseline(HISTORY, 12, CURRENT_DATE, baseline_years=2)

    assert result.n == 2
    assert result.max == 20
    assert result.mean == pytest.approx(16.0)
    assert result.median == pytest.approx(16.0)
    assert result.std == pytest.approx(math.sqrt(32.0))  # (16 + 16) / (2 - 1)
    assert result.zscore == pytest.approx(-4 / math.sqrt(32.0))
    assert result.percentile == pytest.approx(25.0)  # 0 below, 1 tie of 2
    assert result.baseline_years == 2
    assert result.summary == (
        "12 railcars on 2023-10-05: within the baseline "
        "(highest 20, mean 16.0, 25th percentile of 2 observations over 1.3 years)."
    )


def test_the_tumangang_sentence():
    history = tumangang_like_history()
    assert max(o.count for o in history) == 20  # the construction is what the case says

    result = compare_with_baseline(history, 73, CURRENT_DATE)

    assert result.summary == (
        "73 railcars on 2023-10-05: 3.7 times the highest count (20) in 5 years of 42 observations; unprecedented."
    )
    assert result.unprecedented is True
    assert result.ratio_to_max == pytest.approx(3.65)
    assert result.percentile == 100.0


def test_ties_count_half_in_the_percentile():
    result = compare_with_baseline(HISTORY, 8, CURRENT_DATE)

    assert result.percentile == pytest.approx(40.0)  # 1 below (4), 2 ties: (1 + 1) / 5


def test_current_equal_to_the_highest_is_not_unprecedented():
    result = compare_with_baseline(HISTORY, 20, CURRENT_DATE)

    assert result.unprecedented is False
    assert result.ratio_to_max == 1.0
    assert result.percentile == pytest.approx(90.0)  # 4 below, 1 tie
    assert "within the baseline (highest 20," in result.summary


def test_one_observation_has_no_spread_and_no_zscore():
    result = compare_with_baseline([Observation(dt.date(2020, 1, 1), 5)], 5, CURRENT_DATE)

    assert result.n == 1
    assert result.std == 0.0
    assert result.zscore is None
    assert result.percentile == 50.0
    assert result.summary == (
        "5 railcars on 2023-10-05: within the baseline (highest 5, mean 5.0, 50th percentile of 1 observation)."
    )


def test_one_higher_observation_says_so():
    result = compare_with_baseline([Observation(dt.date(2020, 1, 1), 5)], 9, CURRENT_DATE)

    assert result.summary == (
        "9 railcars on 2023-10-05: 1.8 times the highest count (5) in the one earlier observation "
        "(2020-01-01); unprecedented."
    )


def test_no_railcars_ever_before_says_none_seen_before():
    history = [Observation(dt.date(2021, 1, 1) + dt.timedelta(days=200 * i), 0) for i in range(3)]

    result = compare_with_baseline(history, 4, CURRENT_DATE)

    assert result.max == 0
    assert result.ratio_to_max is None
    assert result.ratio_to_mean is None
    assert result.zscore is None  # all equal: no spread
    assert result.unprecedented is True
    assert result.summary == "4 railcars on 2023-10-05: none seen before in 1.1 years of 3 observations; unprecedented."


def test_zero_now_and_zero_before_is_not_unprecedented():
    history = [Observation(dt.date(2021, 1, 1), 0), Observation(dt.date(2022, 1, 1), 0)]

    result = compare_with_baseline(history, 0, CURRENT_DATE)

    assert result.unprecedented is False
    assert result.percentile == 50.0
    assert result.summary.startswith("0 railcars on 2023-10-05: within the baseline (highest 0, mean 0.0,")


def test_without_a_current_date_the_whole_history_is_the_baseline():
    result = compare_with_baseline(HISTORY, 100, None)

    assert result.n == 7
    assert result.max == 99
    assert result.current_date is None
    assert result.summary.startswith("100 railcars: 1.0 times the highest count (99) in 5 years of 7 observations")


def test_empty_baseline_raises_a_plain_message():
    with pytest.raises(ValueError) as empty:
        compare_with_baseline([], 5, CURRENT_DATE)
    with pytest.raises(ValueError) as all_later:
        compare_with_baseline(HISTORY, 5, dt.date(2018, 1, 1))
    with pytest.raises(ValueError) as window:
        compare_with_baseline(HISTORY, 5, CURRENT_DATE, baseline_years=0.25)

    assert str(empty.value).startswith("the history has no observations before 2023-10-05: it is empty.")
    assert str(all_later.value).startswith(
        "the history has no observations before 2018-01-01: its 7 observations run from 2019-01-10 to 2024-01-01."
    )
    assert str(window.value).startswith("the history has no observations in the 0.25 years before 2023-10-05:")


def test_negative_and_fractional_counts_are_refused():
    with pytest.raises(ValueError, match=r"the current count is negative \(-1\)"):
        compare_with_baseline(HISTORY, -1, CURRENT_DATE)
    with pytest.raises(ValueError, match=r"the count of 2020-01-01 is negative \(-3\)"):
        compare_with_baseline([Observation(dt.date(2020, 1, 1), -3)], 1, CURRENT_DATE)
    with pytest.raises(ValueError, match="must be a whole number of railcars, not 2.5"):
        compare_with_baseline(HISTORY, 2.5, CURRENT_DATE)
    with pytest.raises(ValueError, match="positive number of years"):
        compare_with_baseline(HISTORY, 1, CURRENT_DATE, baseline_years=0)


@pytest.mark.parametrize(
    "text",
    [
        "2023-10-05",
        "2023/10/05",
        "2023/10/5",
        "2023.10.05",
        "20231005",
        "2023-10-05T02:14:00Z",
        "2023-10-05T02:14:00.250+09:00",
        "2023-10-05 02:14:00",
        "20231005T021400",
        " 2023-10-05 ",
        20231005,
        dt.date(2023, 10, 5),
        dt.datetime(2023, 10, 5, 23, 59),
    ],
)
def test_dates_are_read_in_the_usual_spellings(text):
    assert parse_observation_date(text) == dt.date(2023, 10, 5)


@pytest.mark.parametrize("text", ["05/10/2023", "October 5", "2023-13-01", "2023-02-30", "202310", "2023-10-05x"])
def test_unreadable_dates_raise(text):
    with pytest.raises(ValueError, match="date"):
        parse_observation_date(text)


def test_empty_dates_are_none():
    assert parse_observation_date(None) is None
    assert parse_observation_date("  ") is None


@pytest.mark.parametrize(
    "years, expected",
    [(4.83, "5 years"), (2.6, "3 years"), (1.95, "2.0 years"), (1.29, "1.3 years"), (0.1, "37 days")],
)
def test_years_are_formatted_for_people(years, expected):
    assert format_years(years) == expected
