"""Export the panel's result as one self-contained HTML file: the comparebaseline
report (sentence, figures, chart) plus a snapshot of the map as the analyst sees it."""

from __future__ import annotations

import base64
from html import escape
from typing import Optional

from qgis.core import QgsMapRendererParallelJob
from qgis.PyQt.QtCore import QBuffer, QByteArray, QIODevice, QSize


def render_map_png(canvas, width_px: int = 900) -> bytes:
    """The canvas's current view rendered off screen as PNG bytes (works without a
    visible window, unlike grabbing the widget)."""
    settings = canvas.mapSettings()
    size = settings.outputSize()
    if size.width() > 0 and size.height() > 0:
        height_px = max(1, int(round(width_px * size.height() / size.width())))
    else:
        height_px = int(width_px * 0.66)
    settings.setOutputSize(QSize(width_px, height_px))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data)


def _map_section(map_png: bytes, caption: str) -> str:
    encoded = base64.b64encode(map_png).decode("ascii")
    return (
        "<h2>Map</h2>\n"
        f'<img class="map" style="max-width:100%;border:1px solid #ccc" alt="{escape(caption)}" '
        f'src="data:image/png;base64,{encoded}"/>\n<p class="note">{escape(caption)}</p>\n'
    )


def add_map_to_report(report_html: str, map_png: bytes, caption: str) -> str:
    """Insert the map section into a comparebaseline report, before the list of
    earlier observations (or at the end of the body)."""
    section = _map_section(map_png, caption)
    for anchor in ("<h2>Earlier observations", "</body>"):
        index = report_html.find(anchor)
        if index >= 0:
            return report_html[:index] + section + report_html[index:]
    return report_html + section


def count_only_report(scene: str, count: int, table_rows: list, map_png: Optional[bytes], caption: str) -> str:
    """A report for a run with no baseline yet: the count, the count table, the map."""
    header = table_rows[0].keys() if table_rows else []
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape('' if v is None else str(v))}</td>" for v in row.values()) + "</tr>"
        for row in table_rows
    )
    table = (
        "<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + f"</tr>{rows}</table>" if table_rows else ""
    )
    body = [
        f"<h1>RailWatch: {escape(scene)}</h1>",
        f"<p class=\"summary\">{count} railcar{'s' if count != 1 else ''} detected. "
        "No baseline was compared: choose a history in the panel and press Compare.</p>",
        table,
    ]
    if map_png:
        body.append(_map_section(map_png, caption))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
        f"<title>RailWatch: {escape(scene)}</title></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def last_run_report(detection: dict, comparison: Optional[dict], canvas) -> str:
    """The HTML report of the panel's last run (``detection``, the panel's record of
    it) with the map as ``canvas`` shows it: the comparison's report when there
    is one, else the count and its table."""
    caption = f"{detection['scene']}: detected railcars on the map as shown in QGIS."
    map_png = render_map_png(canvas)
    if comparison is not None and comparison["html"]:
        return add_map_to_report(comparison["html"], map_png, caption)
    rows = []
    table = detection["layers"].get("table")
    if table is not None:
        names = table.fields().names()
        rows = [{n: f[n] for n in names} for f in table.getFeatures()]
    return count_only_report(detection["scene"], detection["count"], rows, map_png, caption)


def write_report(path: str, html: str) -> str:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(html)
    return path
