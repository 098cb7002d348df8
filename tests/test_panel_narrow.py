"""Issue 15, item 11: on a narrow dock (a 1280-px screen leaves the panel about
320 px) the image description and the verdict wrap instead of running past
the right edge."""

from __future__ import annotations

import datetime as dt

import pytest
from qgis.PyQt.QtWidgets import QScrollArea

from test_panel import _activate, _add_raster, yard  # noqa: F401 (fixture; panel comes from conftest)
from test_bad_input import history_table

pytestmark = pytest.mark.gui


def right_edge_in_view(widget, viewport) -> int:
    return widget.mapTo(viewport, widget.rect().topRight()).x()


def test_description_and_verdict_wrap_on_a_narrow_dock(panel, qgis_iface, qtbot, yard, run_railwatch):
    _activate(qgis_iface, _add_raster(yard[1]))
    verdict = run_railwatch("comparebaseline", {
        "HISTORY": history_table([12, 20, 15, 9, 18], first=dt.date(2018, 10, 1)), "CURRENT_COUNT": 73,
        "CURRENT_DATE": "2023-10-05",
    })
    panel.baseline_view.show_comparison(verdict, None)
    panel.resize(320, 1200)
    qtbot.wait(50)
    viewport = panel.widget().findChild(QScrollArea).viewport()
    line = panel.layer_detail.fontMetrics().height()
    for label in (panel.layer_detail, panel.baseline_view.verdict_label):
        assert label.text() and label.isVisible()
        assert right_edge_in_view(label, viewport) <= viewport.width(), label.text()
        assert label.height() >= 2 * line, label.text()  # wrapped onto more lines, not cut off



def test_the_review_row_fits_a_narrow_dock(panel, qgis_iface, qtbot, yard):
    """The review's layer chooser had the row's whole stretch, and on a narrow dock it
    pushed Start/Stop review past the right edge (12 of its 40 px left in view)."""
    _activate(qgis_iface, _add_raster(yard[1]))
    review = panel.review_panel
    panel.resize(320, 1200)
    qtbot.wait(100)
    viewport = panel.widget().findChild(QScrollArea).viewport()
    button = review.start_button
    assert button.isVisible()
    assert right_edge_in_view(button, viewport) <= viewport.width()
    assert button.width() >= button.fontMetrics().horizontalAdvance("Stop review")  # its words readable
