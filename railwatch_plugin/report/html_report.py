"""A self-contained HTML report of one baseline comparison.

One file, nothing fetched from the network (the chart is inline SVG, a map snapshot is an
embedded base64 PNG), so it can be mailed or archived as is. Sections, in order: title,
the summary sentence, the key figures, the chart, an optional map snapshot, optional
counts per kind of car, optional list of detections, and the earlier observations.

    from railwatch_plugin.report import write_html_report
    write_html_report("/tmp/report.html", comparison, site="Tumangang")
"""

from __future__ import annotations

import base64
import datetime as _dt
from html import escape
from typing import Mapping, Optional, Sequence

from ..core.baseline import BaselineComparison, format_years
from .chart_svg import history_chart_svg

__all__ = ["build_html_report", "write_html_report"]

MAX_DETECTION_ROWS = 500  # a longer list belongs in the GeoPackage, not in a page

_STYLE = """
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; color: #222; margin: 2em auto;
       max-width: 820px; padding: 0 1em; line-height: 1.4; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
p.summary { font-size: 1.15em; background: #f4f7fb; border-left: 4px solid #3b6ea8; padding: 0.6em 0.8em; }
p.summary.unprecedented { border-left-color: #c62828; background: #fbf1f1; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { padding: 0.25em 0.8em; border-bottom: 1px solid #eee; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #666; font-size: 0.9em; }
img.map { max-width: 100%; border: 1px solid #ccc; }
"""


def build_html_report(
    comparison: BaselineComparison,
    *,
    title: str = "RailWatch: railcar count against its baseline",
    site: Optional[str] = None,
    map_png: Optional[bytes] = None,
    map_caption: str = "",
    counts_by_kind: Optional[Mapping[str, int]] = None,
    detections: Optional[Sequence[Mapping[str, object]]] = None,
    source_note: str = "",
    generated_at: Optional[_dt.datetime] = None,
) -> str:
    """The report as an HTML string. ``map_png`` is the PNG file's bytes;
    ``detections`` is a list of rows (dicts with the same keys, e.g. kind, confidence)."""
    generated_at = generated_at or _dt.datetime.now().replace(microsecond=0)
    heading = f"{title}: {site}" if site else title
    summary_class = "summary unprecedented" if comparison.unprecedented else "summary"
    body = [
        f"<h1>{escape(heading)}</h1>",
        f'<p class="note">Generated {escape(generated_at.isoformat(sep=" "))} by RailWatch.'
        + (f" {escape(source_note)}" if source_note else "")
        + "</p>",
        f'<p class="{summary_class}">{escape(comparison.summary)}</p>',
        "<h2>Key figures</h2>",
        _figures_table(comparison),
        "<h2>Counts over time</h2>",
        f'<div class="chart">{history_chart_svg(comparison)}</div>',
    ]
    if map_png:
        encoded = base64.b64encode(map_png).decode("ascii")
        body += [
            "<h2>Map</h2>",
            f'<img class="map" alt="{escape(map_caption or "map snapshot")}" src="data:image/png;base64,{encoded}"/>',
        ]
        if map_caption:
            body.append(f'<p class="note">{escape(map_caption)}</p>')
    if counts_by_kind:
        rows = "".join(
            f"<tr><td>{escape(str(kind))}</td><td class=\"number\">{count}</td></tr>"
            for kind, count in counts_by_kind.items()
        )
        body += ["<h2>Railcars by kind</h2>", f"<table><tr><th>kind</th><th>count</th></tr>{rows}</table>"]
    if detections:
        body += ["<h2>Detections</h2>", _rows_table(detections)]
    # ui/report_export.py inserts the panel's map before this heading: keep its start stable.
    body += ["<h2>Earlier observations (the baseline)</h2>", _baseline_table(comparison)]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
        f"<title>{escape(heading)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def write_html_report(path: str, comparison: BaselineComparison, **options) -> str:
    """Write :func:`build_html_report` to ``path`` (UTF-8) and return the path."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(build_html_report(comparison, **options))
    return path


def _figures_table(c: BaselineComparison) -> str:
    window = f"the {c.baseline_years:g} years before" if c.baseline_years else "all earlier observations"
    rows = [
        ("Current count", str(c.current_count)),
        ("Current date", c.current_date.isoformat() if c.current_date else "not given"),
        ("Baseline", window),
        ("Earlier observations", str(c.n)),
        ("Period", f"{c.first_date.isoformat()} to {c.last_date.isoformat()} ({format_years(c.years_spanned)})"),
        ("Highest earlier count", str(c.max)),
        ("Mean", f"{c.mean:.1f}"),
        ("Median", f"{c.median:g}"),
        ("Standard deviation (sample)", f"{c.std:.1f}"),
        ("Ratio to highest", _optional(c.ratio_to_max, "{:.2f}", "no earlier railcars")),
        ("Ratio to mean", _optional(c.ratio_to_mean, "{:.2f}", "no earlier railcars")),
        ("z-score", _optional(c.zscore, "{:.1f}", "no spread in the baseline")),
        ("Percentile", f"{c.percentile:.0f}"),
        ("Unprecedented", "yes" if c.unprecedented else "no"),
    ]
    cells = "".join(f'<tr><th>{escape(name)}</th><td class="number">{escape(value)}</td></tr>' for name, value in rows)
    return f"<table>{cells}</table>"


def _optional(value: Optional[float], pattern: str, why_missing: str) -> str:
    return pattern.format(value) if value is not None else f"— ({why_missing})"


def _rows_table(rows: Sequence[Mapping[str, object]]) -> str:
    columns = list(rows[0].keys())
    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    shown = rows[:MAX_DETECTION_ROWS]
    body = "".join("<tr>" + "".join(_cell(row.get(c)) for c in columns) + "</tr>" for row in shown)
    note = (
        f'<p class="note">First {MAX_DETECTION_ROWS} of {len(rows)} detections.</p>'
        if len(rows) > MAX_DETECTION_ROWS
        else ""
    )
    return f"<table><tr>{head}</tr>{body}</table>{note}"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f'<td class="number">{value:.2f}</td>'
    if isinstance(value, int):
        return f'<td class="number">{value}</td>'
    return f"<td>{escape('' if value is None else str(value))}</td>"


def _baseline_table(c: BaselineComparison) -> str:
    rows = "".join(
        f'<tr><td>{o.acquired.isoformat()}</td><td class="number">{o.count}</td><td>{escape(o.scene)}</td></tr>'
        for o in c.baseline
    )
    return f"<details><summary>{c.n} observations</summary><table><tr><th>date</th><th>count</th><th>scene</th></tr>{rows}</table></details>"
