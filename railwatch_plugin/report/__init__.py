"""Reports of a baseline comparison: an inline SVG chart and a self-contained HTML page.

No QGIS import here either; the algorithm and the panel both call it.
"""

from .chart_svg import history_chart_svg
from .html_report import build_html_report, write_html_report

__all__ = ["build_html_report", "history_chart_svg", "write_html_report"]
