"""The SVG chart and the HTML report, checked as documents (parsed, not string-matched only).

No QGIS here: run with ``pytest -p no:qgis tests/core``.
"""

from __future__ import annotations

import base64
import datetime as dt
import xml.etree.ElementTree as ET

from railwatch_plugin.core.baseline import Observation, compare_with_baseline
from railwatch_plugin.report import build_html_report, history_chart_svg, write_html_report
from railwatch_plugin.report.chart_svg import CHAR_WIDTH_PX, CURRENT_COLOUR, EARLIER_COLOUR

SVG = "{http://www.w3.org/2000/svg}"
PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


def tumangang():
    history = [
        Observation(dt.date(2018, 10, 20) + dt.timedelta(days=43 * i), 5 + (i * 7) % 16, f"scene_{i:02d}")
        for i in range(42)
    ]
    return compare_with_baseline(history, 73, dt.date(2023, 10, 5))


def parse(svg_text):
    return ET.fromstring(svg_text)


def test_chart_draws_every_earlier_count_and_the_current_one_on_top():
    comparison = tumangang()

    svg = parse(history_chart_svg(comparison, width_px=760, height_px=360))

    circles = svg.findall(f"{SVG}circle")
    earlier = [c for c in circles if c.get("fill") == EARLIER_COLOUR and c.find(f"{SVG}title") is not None]
    current = [c for c in circles if c.get("fill") == CURRENT_COLOUR and c.get("r") == "6.5"]
    assert len(earlier) == 42
    assert len(current) == 1
    # the current point is right of every earlier one and above them (smaller y in SVG)
    assert float(current[0].get("cx")) > max(float(c.get("cx")) for c in earlier)
    assert float(current[0].get("cy")) < min(float(c.get("cy")) for c in earlier)
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "73 on 2023-10-05" in texts
    assert ["2019", "2020", "2021", "2022", "2023"] == [t for t in texts if t and t.isdigit() and len(t) == 4]
    assert {"0", "20", "40", "60", "80"} <= set(texts)  # y axis reaches above 73


def test_chart_band_spans_the_lowest_to_the_highest_earlier_count():
    comparison = tumangang()
    svg = parse(history_chart_svg(comparison, width_px=760, height_px=360))
    circles = [c for c in svg.findall(f"{SVG}circle") if c.find(f"{SVG}title") is not None]
    y_of_count = {int(c.find(f"{SVG}title").text.split(": ")[1].split(" ")[0]): float(c.get("cy")) for c in circles}

    band = [r for r in svg.findall(f"{SVG}rect") if r.get("fill-opacity") == "0.45" and float(r.get("width")) > 100]

    assert len(band) == 1
    top, height = float(band[0].get("y")), float(band[0].get("height"))
    assert abs(top - y_of_count[20]) < 0.11
    assert abs(top + height - y_of_count[5]) < 0.11


def test_date_labels_do_not_overlap_for_short_and_long_histories():
    histories = {
        "weeks": [Observation(dt.date(2023, 9, 1) + dt.timedelta(days=3 * i), i) for i in range(8)],
        "months": [Observation(dt.date(2022, 5, 14) + dt.timedelta(days=43 * i), i) for i in range(12)],
        "decades": [Observation(dt.date(1990, 1, 1) + dt.timedelta(days=200 * i), i) for i in range(60)],
    }
    for name, history in histories.items():
        svg = parse(history_chart_svg(compare_with_baseline(history, 3, dt.date(2023, 10, 5))))
        labels = [t for t in svg.iter(f"{SVG}text") if t.get("text-anchor") == "middle" and t.text != "image date"]
        labels = [t for t in labels if t.get("transform") is None]
        xs = [float(t.get("x")) for t in labels]
        widths = [CHAR_WIDTH_PX * len(t.text) for t in labels]
        assert len(labels) >= 3, name
        gaps = [xs[i + 1] - xs[i] - (widths[i] + widths[i + 1]) / 2 for i in range(len(xs) - 1)]
        assert min(gaps) > 0, (name, [t.text for t in labels])


def test_html_report_is_self_contained_with_sentence_figures_chart_map_and_kinds():
    comparison = tumangang()

    html = build_html_report(
        comparison,
        site="Tumangang",
        map_png=PNG_1PX,
        map_caption="Tumangang yard, 2023-10-05",
        counts_by_kind={"box": 30, "tank": 43},
        detections=[{"kind": "box", "confidence": 0.91}, {"kind": "tank", "confidence": 0.77}],
    )

    assert html.startswith("<!DOCTYPE html>")
    assert comparison.summary in html
    assert html.count("<svg") == 1
    assert "data:image/png;base64," + base64.b64encode(PNG_1PX).decode() in html
    assert "<td>tank</td><td class=\"number\">43</td>" in html
    assert '<td class="number">0.91</td>' in html
    assert "<th>Highest earlier count</th><td class=\"number\">20</td>" in html
    assert "<th>Unprecedented</th><td class=\"number\">yes</td>" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # nothing fetched
    assert "https://" not in html
    # the chart inside is well-formed XML
    svg_text = html[html.index("<svg") : html.index("</svg>") + len("</svg>")]
    assert parse(svg_text).tag == f"{SVG}svg"


def test_html_report_leaves_out_optional_sections_and_escapes_text(tmp_path):
    comparison = tumangang()
    path = tmp_path / "report.html"

    written = write_html_report(str(path), comparison, site="Yard <A&B>")

    html = path.read_text(encoding="utf-8")
    assert written == str(path)
    assert "Yard &lt;A&amp;B&gt;" in html
    assert "<h2>Map</h2>" not in html
    assert "Railcars by kind" not in html
    assert "<h2>Detections</h2>" not in html
    assert "<summary>42 observations</summary>" in html
