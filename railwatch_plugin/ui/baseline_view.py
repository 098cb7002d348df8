"""How today's count compares with the site's history: the verdict sentence,
the key figures and a small chart (counts over time, the baseline band, today's
point). The chart is the SVG the report module draws, shown as is."""

from __future__ import annotations

import re
from typing import Optional

from qgis.PyQt.QtCore import QByteArray, Qt
from qgis.PyQt.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

try:
    from qgis.PyQt.QtSvg import QSvgWidget
except ImportError:  # Qt 6 moved it
    from qgis.PyQt.QtSvgWidgets import QSvgWidget

NO_COMPARISON = (
    "No baseline yet: save runs to the site log, or choose a history under Baseline and press Compare again."
)

# (result name, label, format, tooltip); shown in this order.
KEY_FIGURES = (
    ("BASELINE_N", "Earlier counts", "{:.0f}", "How many earlier observations form the baseline"),
    ("BASELINE_MAX", "Highest before", "{:.0f}", "The highest earlier count"),
    ("BASELINE_MEAN", "Mean before", "{:.1f}", "The mean of the earlier counts"),
    ("RATIO_TO_MAX", "× highest", "{:.1f}", "This count divided by the highest earlier count"),
    ("ZSCORE", "z-score", "{:+.1f}", "Standard deviations above the mean of the earlier counts"),
    ("PERCENTILE", "Percentile", "{:.0f}", "Where this count falls among the earlier counts (100: above all)"),
)


def svg_from_html(html: str) -> Optional[str]:
    """The first inline ``<svg>…</svg>`` of a report, or None."""
    match = re.search(r"<svg\b.*?</svg>", html or "", flags=re.S | re.I)
    return match.group(0) if match else None


def _format(value, fmt):
    if value is None:
        return "–"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number != number or number in (float("inf"), float("-inf")):  # NaN/inf: no spread in the history
        return "–"
    return fmt.format(number)


class BaselineView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.verdict_label = QLabel(NO_COMPARISON)
        self.verdict_label.setWordWrap(True)
        self.verdict_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.verdict_label)
        self.figures = QGridLayout()
        self.figure_labels = {}
        for index, (name, label, _fmt, tooltip) in enumerate(KEY_FIGURES):
            value_label = QLabel("–")
            value_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            value_label.setStyleSheet("font-weight:bold;")
            name_label = QLabel(label)
            for widget in (name_label, value_label):
                widget.setToolTip(tooltip)
            self.figure_labels[name] = value_label
            row, col = divmod(index, 2)  # two a row: three made the panel 384 px wide at least
            self.figures.addWidget(name_label, row, col * 2)
            self.figures.addWidget(value_label, row, col * 2 + 1)
        layout.addLayout(self.figures)
        self.chart = QSvgWidget()
        self.chart.setMinimumHeight(150)
        self.chart.setVisible(False)
        layout.addWidget(self.chart)
        self.summary = ""
        self.svg = None

    def clear_comparison(self, message: str = NO_COMPARISON):
        self.summary = ""
        self.svg = None
        self.verdict_label.setText(message)
        for label in self.figure_labels.values():
            label.setText("–")
        self.chart.setVisible(False)

    def show_comparison(self, results: dict, svg: Optional[str]):
        self.summary = str(results.get("SUMMARY") or "")
        unprecedented = bool(results.get("UNPRECEDENTED"))
        style = "color:#b00020;" if unprecedented else ""
        self.verdict_label.setText(f"<b style='{style}'>{self.summary}</b>")
        for name, _label, fmt, _tooltip in KEY_FIGURES:
            self.figure_labels[name].setText(_format(results.get(name), fmt))
        self.svg = svg
        if svg:
            self.chart.load(QByteArray(svg.encode("utf-8")))
            size = self.chart.renderer().defaultSize()
            if size.width() > 0:
                self.chart.setFixedHeight(max(120, min(260, int(size.height() * 320 / size.width()))))
            self.chart.setVisible(True)
        else:
            self.chart.setVisible(False)
