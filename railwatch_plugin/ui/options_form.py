"""The detection options the panel offers: the toolbox parameters an analyst
touches most (areas of interest, tracks, minimum confidence)."""

from __future__ import annotations

from qgis.core import QgsMapLayerProxyModel
from qgis.gui import QgsCollapsibleGroupBox, QgsMapLayerComboBox
from qgis.PyQt.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout

from ..algorithms.detection_parameters import DEFAULT_MIN_CONFIDENCE, DEFAULT_TRACK_BUFFER_M


def layer_combo(filters, allow_empty: bool, tooltip: str = "") -> QgsMapLayerComboBox:
    combo = QgsMapLayerComboBox()
    combo.setFilters(filters)
    combo.setAllowEmptyLayer(allow_empty)
    if allow_empty:
        combo.setLayer(None)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(12)
    combo.setToolTip(tooltip)
    return combo


class DetectionOptions(QgsCollapsibleGroupBox):
    def __init__(self, parent=None):
        super().__init__("Options", parent)
        self.setCollapsed(True)
        form = QFormLayout(self)
        self.aoi_combo = layer_combo(
            QgsMapLayerProxyModel.Filter.PolygonLayer, True, "Optional polygons (e.g. yards): counts are given per polygon."
        )
        form.addRow("Areas of interest", self.aoi_combo)
        self.tracks_combo = layer_combo(
            QgsMapLayerProxyModel.Filter.LineLayer, True, "Optional rail centre lines (e.g. OSM railways): only cars on them count."
        )
        form.addRow("Tracks", self.tracks_combo)
        self.track_buffer_spin = QDoubleSpinBox()
        self.track_buffer_spin.setRange(0.5, 100.0)
        self.track_buffer_spin.setValue(DEFAULT_TRACK_BUFFER_M)  # the algorithm's defaults: one path
        self.track_buffer_spin.setSuffix(" m")
        form.addRow("Track buffer", self.track_buffer_spin)
        self.min_confidence_spin = QDoubleSpinBox()
        self.min_confidence_spin.setRange(0.0, 1.0)
        self.min_confidence_spin.setSingleStep(0.05)
        self.min_confidence_spin.setValue(DEFAULT_MIN_CONFIDENCE)
        form.addRow("Minimum confidence", self.min_confidence_spin)

    def add_to_parameters(self, params: dict) -> dict:
        """Add the chosen options to a railwatch:detectrailcars parameter dict."""
        params["MIN_CONFIDENCE"] = self.min_confidence_spin.value()
        if self.aoi_combo.currentLayer() is not None:
            params["AOI"] = self.aoi_combo.currentLayer().id()
        if self.tracks_combo.currentLayer() is not None:
            params["TRACKS"] = self.tracks_combo.currentLayer().id()
            params["TRACK_BUFFER"] = self.track_buffer_spin.value()
        return params
