"""Compare today's railcar count with a site's history: the figures and one sentence.

An analyst's question is "is this count unusual for this place?". The answer here is a
handful of plain statistics over the *baseline* (the earlier counts) and a sentence that
can be pasted into a report::

    from datetime import date
    from railwatch_plugin.core.baseline import Observation, compare_with_baseline

    history = [Observation(date(2019, 5, 1), 12), Observation(date(2021, 3, 9), 20)]
    result = compare_with_baseline(history, current_count=73, current_date=date(2023, 10, 5))
    print(result.summary)

Definitions (all documented once, here):

- The baseline is every observation strictly *before* ``current_date`` (later ones
  cannot be "history" for it), and, when ``baseline_years`` is given, no older than that
  many years (365.25 days each) before it. Without ``current_date`` the whole history is
  the baseline and the window ends at its latest observation.
- ``std`` is the *sample* standard deviation (ddof=1): the baseline is a sample of the
  site's activity, not all of it. With one observation it is reported as 0.0 and the
  z-score is None (no spread can be measured from one count); with a spread of 0 the
  z-score is None too (it would be infinite or undefined).
- ``percentile`` is the percent of baseline counts strictly below the current count plus
  half of those equal to it (the "mid-rank" definition), so a count equal to every
  earlier one sits at the 50th percentile, and one above all of them at the 100th.
- ``unprecedented`` is True only when the current count is strictly above every earlier
  one; equal to the highest is not unprecedented.
- ``ratio_to_max`` / ``ratio_to_mean`` are None when the divisor is 0 (the sentence then
  says "none seen before").
- ``years_spanned`` runs from the first to the last baseline observation.

Pure Python and numpy: no QGIS import, so the panel, Processing and tests share it.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Optional, Sequence

import numpy as np

DAYS_PER_YEAR = 365.25

__all__ = [
    "BaselineComparison",
    "Observation",
    "compare_with_baseline",
    "format_years",
    "parse_observation_date",
]


@dataclass(frozen=True)
class Observation:
    """One earlier count: the image's date, the number of railcars, and where it came from."""

    acquired: _dt.date
    count: int
    scene: str = ""


@dataclass(frozen=True)
class BaselineComparison:
    """The current count set against its baseline. ``None`` marks a figure that cannot be
    computed (see the module docstring for when)."""

    n: int
    max: int
    mean: float
    median: float
    std: float
    ratio_to_max: Optional[float]
    ratio_to_mean: Optional[float]
    zscore: Optional[float]
    percentile: float
    unprecedented: bool
    first_date: _dt.date
    last_date: _dt.date
    years_spanned: float
    current_count: int
    current_date: Optional[_dt.date]
    summary: str
    baseline_years: Optional[float] = None
    baseline: tuple = ()  # the Observations used, oldest first (for charts and tables)

    @property
    def min(self) -> int:
        return min(o.count for o in self.baseline)


def compare_with_baseline(
    history: Sequence[Observation],
    current_count: int,
    current_date: Optional[_dt.date],
    baseline_years: Optional[float] = None,
) -> BaselineComparison:
    """Set ``current_count`` (seen on ``current_date``) against the earlier ``history``.

    Raises ValueError, with a message meant for people, when the count is negative, the
    window is not positive, or no observation falls in the baseline.
    """
    current_count = _whole_count(current_count, "the current count")
    for obs in history:
        _whole_count(obs.count, f"the count of {obs.acquired.isoformat()}")
    if baseline_years is not None and not baseline_years > 0:
        raise ValueError(f"the baseline window must be a positive number of years, not {baseline_years}.")

    baseline = _select_baseline(history, current_date, baseline_years)
    counts = np.array([o.count for o in baseline], dtype=float)
    n = len(baseline)
    highest = int(counts.max())
    mean = float(counts.mean())
    std = float(counts.std(ddof=1)) if n > 1 else 0.0
    below = int(np.count_nonzero(counts < current_count))
    ties = int(np.count_nonzero(counts == current_count))
    first_date, last_date = baseline[0].acquired, baseline[-1].acquired

    comparison = BaselineComparison(
        n=n,
        max=highest,
        mean=mean,
        median=float(np.median(counts)),
        std=std,
        ratio_to_max=current_count / highest if highest > 0 else None,
        ratio_to_mean=current_count / mean if mean > 0 else None,
        zscore=(current_count - mean) / std if std > 0 else None,
        percentile=100.0 * (below + 0.5 * ties) / n,
        unprecedented=current_count > highest,
        first_date=first_date,
        last_date=last_date,
        years_spanned=(last_date - first_date).days / DAYS_PER_YEAR,
        current_count=current_count,
        current_date=current_date,
        summary="",
        baseline_years=baseline_years,
        baseline=tuple(baseline),
    )
    return _with_summary(comparison)


def _whole_count(value, what: str) -> int:
    if isinstance(value, bool) or int(value) != value:
        raise ValueError(f"{what} must be a whole number of railcars, not {value!r}.")
    if value < 0:
        raise ValueError(f"{what} is negative ({value}); a railcar count is 0 or more.")
    return int(value)


def _select_baseline(history, current_date, baseline_years):
    ordered = sorted(history, key=lambda o: o.acquired)
    end = current_date
    baseline = [o for o in ordered if current_date is None or o.acquired < current_date]
    if end is None and ordered:
        end = ordered[-1].acquired
    window = ""
    if baseline_years is not None and end is not None:
        days = baseline_years * DAYS_PER_YEAR
        # A window reaching back before year 1 holds every earlier observation.
        start = end - _dt.timedelta(days=round(days)) if days < (end - _dt.date.min).days else _dt.date.min
        baseline = [o for o in baseline if o.acquired >= start]
        window = f" in the {_number(baseline_years)} years"
    if baseline:
        return baseline
    before = f" before {current_date.isoformat()}" if current_date else ""
    if not ordered:
        what = "it is empty"
    else:
        what = (
            f"its {len(ordered)} observation{'s' if len(ordered) != 1 else ''} run from "
            f"{ordered[0].acquired.isoformat()} to {ordered[-1].acquired.isoformat()}"
        )
    raise ValueError(
        f"the history has no observations{window}{before}: {what}. "
        "Use a history with earlier counts, a later current date or a longer baseline window."
    )


# --- the sentence -------------------------------------------------------------------


def _with_summary(c: BaselineComparison) -> BaselineComparison:
    from dataclasses import replace

    return replace(c, summary=summary_sentence(c))


def summary_sentence(c: BaselineComparison) -> str:
    """One sentence an analyst can paste, e.g. "73 railcars on 2023-10-05: 3.7 times the
    highest count (20) in 5 years of 42 observations; unprecedented."."""
    head = f"{c.current_count} railcar{'s' if c.current_count != 1 else ''}"
    if c.current_date is not None:
        head += f" on {c.current_date.isoformat()}"
    observations = f"{c.n} observation{'s' if c.n != 1 else ''}"
    if c.n == 1:
        period = f"in the one earlier observation ({c.first_date.isoformat()})"
    elif c.first_date == c.last_date:
        period = f"in {observations} on {c.first_date.isoformat()}"
    else:
        period = f"in {format_years(c.years_spanned)} of {observations}"
    if c.unprecedented and c.ratio_to_max is None:
        return f"{head}: none seen before {period}; unprecedented."
    if c.unprecedented:
        ratio = _round_half_up(Decimal(c.current_count) / Decimal(c.max), "0.1")
        return f"{head}: {ratio} times the highest count ({c.max}) {period}; unprecedented."
    span = "" if c.first_date == c.last_date else f" over {format_years(c.years_spanned)}"
    return (
        f"{head}: within the baseline (highest {c.max}, mean {_round_half_up(c.mean, '0.1')}, "
        f"{_ordinal(c.percentile)} percentile of {observations}{span})."
    )


def format_years(years: float) -> str:
    """Years for people: whole above 2 ("5 years"), one decimal below ("1.5 years"),
    days below two months ("40 days")."""
    if years * DAYS_PER_YEAR < 60:
        days = int(_round_half_up(years * DAYS_PER_YEAR, "1"))
        return f"{days} day{'s' if days != 1 else ''}"
    if years > 2:
        return f"{_round_half_up(years, '1')} years"
    return f"{_round_half_up(years, '0.1')} years"


def _number(value: float) -> str:
    return f"{value:g}"


def _round_half_up(value, quantum: str) -> Decimal:
    """Rounding people expect (3.65 -> 3.7), not the float artefact (3.65 -> 3.6)."""
    exact = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    return exact.quantize(Decimal(quantum), rounding=ROUND_HALF_UP)


def _ordinal(percentile: float) -> str:
    whole = int(_round_half_up(percentile, "1"))
    if 10 <= whole % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(whole % 10, "th")
    return f"{whole}{suffix}"


# --- reading dates ------------------------------------------------------------------

_DATE_PATTERN = re.compile(
    r"^\s*(\d{4})(?:[-/.](\d{1,2})[-/.](\d{1,2})|(\d{2})(\d{2}))"  # 2023-10-05, 2023/10/5, 20231005
    r"(?:(?:[T ]|T?(?=\d{6}))\d{1,2}:?\d{2}(?::?\d{2}(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?)?\s*$"
)


def parse_observation_date(value) -> Optional[_dt.date]:
    """The calendar date in ``value``, or None when it is empty; ValueError when unreadable.

    Accepts ``date``/``datetime``, Qt's QDate/QDateTime (anything with ``toPyDate`` or
    ``date()``), 8-digit integers (20231005) and strings: "2023-10-05", "2023/10/05",
    "2023.10.05", "20231005" and ISO date-times ("2023-10-05T02:14:00Z",
    "2023-10-05 02:14:00+09:00"). A time of day is ignored: the date is taken as written,
    without converting time zones, because that is the date the image is known by.
    """
    if value is None:
        return None
    if hasattr(value, "isNull") and value.isNull():  # QVariant NULL, null QDate
        return None
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if hasattr(value, "toPyDateTime"):  # QDateTime
        return value.toPyDateTime().date()
    if hasattr(value, "toPyDate"):  # QDate
        return value.toPyDate()
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = str(int(value))
    if isinstance(value, float) and value.is_integer():
        value = str(int(value))
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a date")
    if not value.strip():
        return None
    match = _DATE_PATTERN.match(value)
    if not match:
        raise ValueError(f"'{value}' is not a date such as 2023-10-05, 2023/10/05 or 20231005")
    year, month, day = match.group(1), match.group(2) or match.group(4), match.group(3) or match.group(5)
    try:
        return _dt.date(int(year), int(month), int(day))
    except ValueError as error:
        raise ValueError(f"'{value}' is not a valid date ({error})") from None
