"""An inline SVG chart of a site's counts over time, its baseline band and today's count.

SVG text (no plotting library, no QGIS): it embeds in a self-contained HTML report, opens
in any browser and scales without blurring. What it shows:

- each earlier count as a point, joined in date order by a thin line;
- the baseline band: the range seen before (lowest to highest earlier count), shaded,
  with the mean of the earlier counts as a dashed line;
- the current count as a larger red point, labelled with its value and date.
"""

from __future__ import annotations

import datetime as _dt
import math
from html import escape
from typing import List, Sequence, Tuple

from ..core.baseline import BaselineComparison

__all__ = ["history_chart_svg"]

EARLIER_COLOUR = "#3b6ea8"
CURRENT_COLOUR = "#c62828"
BAND_COLOUR = "#9ec3e6"
TEXT_COLOUR = "#222222"
GRID_COLOUR = "#dddddd"
FONT = 'font-family="DejaVu Sans, Arial, Helvetica, sans-serif"'
CHAR_WIDTH_PX = 7.0  # rough width of one 12 px character, to lay out labels without measuring


def history_chart_svg(comparison: BaselineComparison, width_px: int = 760, height_px: int = 360) -> str:
    """The chart for ``comparison`` as an ``<svg>`` element (a string)."""
    earlier = list(comparison.baseline)
    current_date = comparison.current_date or _after(earlier[-1].acquired, earlier[0].acquired)
    left, right, top, bottom = 56.0, width_px - 24.0, 44.0, height_px - 46.0

    start, end = _date_domain(earlier[0].acquired, current_date)
    top_count = _nice_ceiling(max(comparison.max, comparison.current_count, 1) * 1.05)
    y_ticks = _count_ticks(top_count)
    top_count = y_ticks[-1]

    def x_of(day: _dt.date) -> float:
        return left + (right - left) * (day - start).days / max((end - start).days, 1)

    def y_of(count: float) -> float:
        return bottom - (bottom - top) * count / top_count

    parts: List[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_px}" height="{height_px}" '
        f'viewBox="0 0 {width_px} {height_px}" role="img" aria-label="{escape(comparison.summary)}" {FONT} '
        f'font-size="12" style="background:#ffffff">',
        f"<title>{escape(comparison.summary)}</title>",
        f'<rect x="0" y="0" width="{width_px}" height="{height_px}" fill="#ffffff"/>',
    ]

    # grid and axes
    for tick in y_ticks:
        y = y_of(tick)
        parts.append(f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{right:.1f}" y2="{y:.1f}" stroke="{GRID_COLOUR}"/>')
        parts.append(
            f'<text x="{left - 6:.1f}" y="{y + 4:.1f}" text-anchor="end" fill="{TEXT_COLOUR}">{tick:g}</text>'
        )
    for day, label in _date_ticks(start, end, (right - left) / CHAR_WIDTH_PX):
        x = x_of(day)
        parts.append(f'<line x1="{x:.1f}" y1="{bottom:.1f}" x2="{x:.1f}" y2="{bottom + 5:.1f}" stroke="#555555"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 18:.1f}" text-anchor="middle" fill="{TEXT_COLOUR}">{label}</text>'
        )
    parts.append(f'<line x1="{left:.1f}" y1="{bottom:.1f}" x2="{right:.1f}" y2="{bottom:.1f}" stroke="#555555"/>')
    parts.append(f'<line x1="{left:.1f}" y1="{top:.1f}" x2="{left:.1f}" y2="{bottom:.1f}" stroke="#555555"/>')
    parts.append(
        f'<text x="14" y="{(top + bottom) / 2:.1f}" text-anchor="middle" fill="{TEXT_COLOUR}" '
        f'transform="rotate(-90 14 {(top + bottom) / 2:.1f})">railcars</text>'
    )
    parts.append(
        f'<text x="{(left + right) / 2:.1f}" y="{height_px - 8:.1f}" text-anchor="middle" '
        f'fill="{TEXT_COLOUR}">image date</text>'
    )

    # baseline band: lowest to highest earlier count, over the baseline period up to today
    band_x0, band_x1 = x_of(earlier[0].acquired), x_of(current_date)
    band_top, band_bottom = y_of(comparison.max), y_of(comparison.min)
    parts.append(
        f'<rect x="{band_x0:.1f}" y="{band_top:.1f}" width="{max(band_x1 - band_x0, 1):.1f}" '
        f'height="{max(band_bottom - band_top, 1.5):.1f}" fill="{BAND_COLOUR}" fill-opacity="0.45"/>'
    )
    mean_y = y_of(comparison.mean)
    parts.append(
        f'<line x1="{band_x0:.1f}" y1="{mean_y:.1f}" x2="{band_x1:.1f}" y2="{mean_y:.1f}" '
        f'stroke="{EARLIER_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4"/>'
    )

    # earlier counts
    points = " ".join(f"{x_of(o.acquired):.1f},{y_of(o.count):.1f}" for o in earlier)
    parts.append(f'<polyline points="{points}" fill="none" stroke="{EARLIER_COLOUR}" stroke-width="1" opacity="0.7"/>')
    for o in earlier:
        tip = escape(f"{o.acquired.isoformat()}: {o.count}" + (f" ({o.scene})" if o.scene else ""))
        parts.append(
            f'<circle cx="{x_of(o.acquired):.1f}" cy="{y_of(o.count):.1f}" r="3.5" fill="{EARLIER_COLOUR}">'
            f"<title>{tip}</title></circle>"
        )

    # the current count, labelled on whichever side has room
    cx, cy = x_of(current_date), y_of(comparison.current_count)
    parts.append(
        f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="6.5" fill="{CURRENT_COLOUR}" stroke="#ffffff" stroke-width="1.5"/>'
    )
    label = f"{comparison.current_count}" + (
        f" on {comparison.current_date.isoformat()}" if comparison.current_date else " now"
    )
    label_width = CHAR_WIDTH_PX * len(label)
    if cx + 10 + label_width <= width_px - 4:
        lx, anchor = cx + 10, "start"
    else:
        lx, anchor = cx - 10, "end"
    ly = cy - 10 if cy - 10 > top + 4 else cy + 20
    parts.append(
        f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="{anchor}" font-weight="bold" '
        f'fill="{CURRENT_COLOUR}">{escape(label)}</text>'
    )

    parts.extend(_legend(left, 18.0))
    parts.append("</svg>")
    return "\n".join(parts)


def _legend(x: float, y: float) -> List[str]:
    items = [
        ("band", "range of earlier counts"),
        ("mean", "their mean"),
        ("earlier", "earlier count"),
        ("current", "current count"),
    ]
    out = []
    for kind, text in items:
        if kind == "band":
            out.append(f'<rect x="{x:.1f}" y="{y - 6:.1f}" width="18" height="10" fill="{BAND_COLOUR}" fill-opacity="0.45"/>')
        elif kind == "mean":
            out.append(
                f'<line x1="{x:.1f}" y1="{y - 1:.1f}" x2="{x + 18:.1f}" y2="{y - 1:.1f}" stroke="{EARLIER_COLOUR}" '
                f'stroke-width="1.5" stroke-dasharray="6 4"/>'
            )
        else:
            colour, radius = (EARLIER_COLOUR, 3.5) if kind == "earlier" else (CURRENT_COLOUR, 6)
            out.append(f'<circle cx="{x + 9:.1f}" cy="{y - 1:.1f}" r="{radius}" fill="{colour}"/>')
        out.append(f'<text x="{x + 24:.1f}" y="{y + 3:.1f}" fill="{TEXT_COLOUR}">{escape(text)}</text>')
        x += 24 + CHAR_WIDTH_PX * len(text) + 22
    return out


def _after(last: _dt.date, first: _dt.date) -> _dt.date:
    """Where to draw a current count that has no date: a little after the last observation."""
    return last + _dt.timedelta(days=max(30, (last - first).days // 20))


def _date_domain(first: _dt.date, last: _dt.date) -> Tuple[_dt.date, _dt.date]:
    pad = _dt.timedelta(days=max(10, (last - first).days // 25))
    return first - pad, last + pad


def _nice_ceiling(value: float) -> float:
    return _count_ticks(value)[-1]


def _count_ticks(top: float, wanted: int = 5) -> List[float]:
    """Round tick values from 0 to at least ``top``: steps of 1, 2 or 5 times a power of 10."""
    raw_step = max(top / wanted, 1.0)
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw_step)
    count = math.ceil(top / step - 1e-9)
    return [i * step for i in range(count + 1)]


def _date_ticks(start: _dt.date, end: _dt.date, room_chars: float) -> Sequence[Tuple[_dt.date, str]]:
    """Ticks on whole years (labelled "2021") or whole months ("2023-04"), as many as fit."""
    years = list(range(start.year + 1, end.year + 1))
    if len(years) >= 2:
        step = 1
        while len(years) / step * (4 + 4) > room_chars or len(years) / step > 12:
            step += 1
        return [(_dt.date(y, 1, 1), str(y)) for y in years if y % step == 0 or step == 1]
    months = []
    y, m = start.year, start.month
    while True:
        m += 1
        if m > 12:
            y, m = y + 1, 1
        day = _dt.date(y, m, 1)
        if day > end:
            break
        months.append(day)
    label_chars = 7 + 4  # "2023-04" and a gap
    step = next((s for s in (1, 2, 3, 6, 12) if len(months) / s <= min(12, room_chars / label_chars)), 12)
    chosen = [d for d in months if (d.month - 1) % step == 0]
    if len(chosen) < 3:  # a few weeks: label days instead, a week or more apart
        days = (end - start).days
        step_days = next((s for s in (1, 2, 7, 14, 28) if days / s <= room_chars / (10 + 4)), 28)
        first = start + _dt.timedelta(days=1)
        return [(first + _dt.timedelta(days=i), (first + _dt.timedelta(days=i)).isoformat())
                for i in range(0, days - 1, step_days)]
    return [(d, f"{d.year}-{d.month:02d}") for d in chosen]
