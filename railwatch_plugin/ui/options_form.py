"""The detection options the panel offers: the toolbox parameters an analyst
touches most (areas of interest, tracks, minimum confidence, the detector
model), and *Adapt to this imagery*, which makes a model for the site from a
reviewed run (``railwatch:adaptdetector``) and chooses it for the next runs."""

from __future__ import annotations

from qgis.core import Qgis, QgsMapLayerProxyModel
from qgis.gui import QgsCollapsibleGroupBox, QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QPushButton

from ..algorithms.detection_parameters import DEFAULT_MIN_CONFIDENCE, DEFAULT_TRACK_BUFFER_M
from .run_task import AlgorithmRun, layer_for_a_task


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
        self.model_widget = QgsFileWidget()
        self.model_widget.setFilter("RailWatch detector model (*.npz)")
        self.model_widget.setToolTip("Empty: the model shipped with RailWatch. A model adapted to this site's "
                                     "imagery (Adapt to this imagery) is chosen here for the next runs.")
        form.addRow("Detector model", self.model_widget)
        self.adapt_button = QPushButton("Adapt to this imagery")
        self.adapt_button.setToolTip("After reviewing a run's cars: retrain the detector's last layers on them "
                                     "and use the result for this site if it finds the held-out cars clearly better.")
        self.adapt_button.setEnabled(False)
        form.addRow(self.adapt_button)
        self.adapt_run = None

    def add_to_parameters(self, params: dict) -> dict:
        """Add the chosen options to a railwatch:detectrailcars parameter dict; AOI and TRACKS
        as private copies of the layers (the task runs in another thread)."""
        params["MIN_CONFIDENCE"] = self.min_confidence_spin.value()
        if self.aoi_combo.currentLayer() is not None:
            params["AOI"] = layer_for_a_task(self.aoi_combo.currentLayer())
        if self.model_widget.filePath():
            params["MODEL"] = self.model_widget.filePath()
        if self.tracks_combo.currentLayer() is not None:
            params["TRACKS"] = layer_for_a_task(self.tracks_combo.currentLayer())
            params["TRACK_BUFFER"] = self.track_buffer_spin.value()
        return params

    def start_adaptation(self, reviewed, image, model_path: str, show_message) -> None:
        """Run railwatch:adaptdetector in the background on a reviewed run; choose the model it writes
        when adapting helped. ``reviewed``, ``image``: the run's reviewed cars and its image as
        run_task.layer_for_a_task gives them.
        ``show_message(text, level)`` tells the analyst how it went."""
        params = {"REVIEWED": [reviewed], "IMAGES": [image], "OUTPUT_MODEL": model_path}
        if self.model_widget.filePath():
            params["BASE_MODEL"] = self.model_widget.filePath()
        run = AlgorithmRun("railwatch:adaptdetector", params, parent=self)
        self.adapt_run = run
        self.adapt_button.setEnabled(False)
        run.done.connect(lambda ok, results, message: self._on_adapted(run, ok, results, message, show_message))
        run.start()
        show_message("Adapting the detector to this imagery (a few minutes; see the task bar).", Qgis.MessageLevel.Info)

    def _on_adapted(self, run, ok, results, message, show_message) -> None:
        self.adapt_button.setEnabled(True)
        if run is self.adapt_run:
            self.adapt_run = None
        if not ok:
            show_message(message, Qgis.MessageLevel.Info if message == "Canceled." else Qgis.MessageLevel.Critical)
            return
        figures = (f"F1 {results['BASE_F1']:.2f} -> {results['ADAPTED_F1']:.2f}, count error "
                   f"{100 * results['BASE_COUNT_ERROR']:.0f} % -> {100 * results['ADAPTED_COUNT_ERROR']:.0f} % "
                   f"on the reviewed cars, each part held out in turn; right where the base was wrong on "
                   f"{results['CARS_BETTER']:.0f} cars or false detections, wrong where it was right on "
                   f"{results['CARS_WORSE']:.0f}")
        if results.get("ADAPTED"):
            self.model_widget.setFilePath(results["OUTPUT_MODEL"])
            show_message(f"Adapted model {results['MODEL_NAME']} chosen for the next runs: {figures}.", Qgis.MessageLevel.Success)
        else:
            # The verdict first: a narrow dock's message bar shows the first two lines.
            show_message(f"Adapting did not help beyond chance, the detector is unchanged: {figures}.",
                         Qgis.MessageLevel.Warning)
