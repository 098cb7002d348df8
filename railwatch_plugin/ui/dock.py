"""The RailWatch dock: the active raster, Run/Cancel, the count, the baseline verdict.

A thin front end. It builds the parameter dicts of ``railwatch:detectrailcars``
and ``railwatch:comparebaseline`` (the toolbox's algorithms, one path not two),
runs them as background tasks (:mod:`.run_task`), and adds their outputs to the
project only when a run succeeds. Problems go to the panel's message bar in
words, never to a traceback dialog.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
from typing import Optional

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsMapLayerProxyModel,
    QgsProject,
    QgsRasterLayer,
    QgsSettings,
    QgsVectorLayer,
)
from qgis.gui import QgsCollapsibleGroupBox, QgsDockWidget, QgsFileWidget, QgsMapLayerComboBox, QgsMessageBar
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from .. import site_log
from ..algorithms.plugin_info import plugin_version
from ..dependencies import missing_dependency_message
from .baseline_view import BaselineView, svg_from_html
from .layer_status import describe_layer
from .report_export import add_map_to_report, count_only_report, render_map_png, write_report
from .results_view import CountTableView
from .run_task import AlgorithmRun, new_output_folder

DETECT_ID = "railwatch:detectrailcars"
COMPARE_ID = "railwatch:comparebaseline"
SETTINGS_LOG_FOLDER = "RailWatch/site_log_folder"

# Baseline sources, in the order of the combo box.
BASELINE_SITE_LOG = "site log"
BASELINE_TABLE = "table layer"
BASELINE_CSV = "CSV file"
BASELINE_RASTER = "earlier raster"
BASELINE_SOURCES = (
    (BASELINE_SITE_LOG, "Site log (earlier saved runs)"),
    (BASELINE_TABLE, "History table in the project"),
    (BASELINE_CSV, "History CSV file"),
    (BASELINE_RASTER, "Earlier image of the same place"),
)
GROUP_PROPERTY = "railwatch/result_group"


def default_site_log_folder() -> str:
    return os.path.join(QgsApplication.qgisSettingsDirPath(), "railwatch", "sites")


def reports_errors(slot):
    """Show any exception of a panel slot in the message bar instead of a traceback dialog."""

    @functools.wraps(slot)
    def wrapper(self, *args, **kwargs):
        try:
            return slot(self, *args, **kwargs)
        except Exception as exc:  # the user sees the problem in words; the panel stays usable
            self.show_message(f"{exc}", Qgis.Critical)
            self._set_busy(False)
            return None

    return wrapper


def _iso_date(value) -> Optional[str]:
    if value is None:
        return None
    if hasattr(value, "isNull") and value.isNull():
        return None
    if hasattr(value, "toString") and hasattr(value, "isValid"):
        return value.toString("yyyy-MM-dd") if value.isValid() else None
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()[:10]
    text = str(value).strip()
    return text[:10] if text and text.upper() != "NULL" else None


class RailWatchDock(QgsDockWidget):
    def __init__(self, iface, parent=None):
        super().__init__("RailWatch", parent)
        self.setObjectName("RailWatchDock")
        self.iface = iface
        self.canvas = iface.mapCanvas()
        self.layer: Optional[QgsRasterLayer] = None
        self.detection_run: Optional[AlgorithmRun] = None
        self.compare_run: Optional[AlgorithmRun] = None
        self.baseline_run: Optional[AlgorithmRun] = None  # counting an earlier raster
        self.last_detection: Optional[dict] = None  # what the last successful run produced
        self.last_comparison: Optional[dict] = None
        self.messages = []  # (level, text): what the user was told, newest last
        self.missing_dependency = missing_dependency_message()
        self.site_log_folder = QgsSettings().value(SETTINGS_LOG_FOLDER, default_site_log_folder())
        self._build()
        self.iface.currentLayerChanged.connect(self._on_current_layer_changed)
        self.set_layer(self.iface.activeLayer())

    # --- building the widgets -------------------------------------------------------

    def _build(self):
        outer = QWidget()
        outer_layout = QVBoxLayout(outer)
        outer_layout.setContentsMargins(4, 4, 4, 4)
        self.message_bar = QgsMessageBar()
        outer_layout.addWidget(self.message_bar)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        scroll.setWidget(body)
        outer_layout.addWidget(scroll)
        self.setWidget(outer)

        self.dependency_label = QLabel()
        self.dependency_label.setWordWrap(True)
        self.dependency_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.dependency_label.setStyleSheet("color:#b00020; font-weight:bold;")
        self.dependency_label.setVisible(bool(self.missing_dependency))
        self.dependency_label.setText(self.missing_dependency or "")
        layout.addWidget(self.dependency_label)

        image_box = QGroupBox("Image")
        image_layout = QVBoxLayout(image_box)
        self.layer_title = QLabel()
        self.layer_title.setStyleSheet("font-weight:bold;")
        self.layer_title.setWordWrap(True)
        self.layer_detail = QLabel()
        self.layer_detail.setWordWrap(True)
        image_layout.addWidget(self.layer_title)
        image_layout.addWidget(self.layer_detail)
        layout.addWidget(image_box)

        options = QgsCollapsibleGroupBox("Options")
        options.setCollapsed(True)
        form = QFormLayout(options)
        self.aoi_combo = QgsMapLayerComboBox()
        self.aoi_combo.setFilters(QgsMapLayerProxyModel.PolygonLayer)
        self.aoi_combo.setAllowEmptyLayer(True)
        self.aoi_combo.setLayer(None)
        self.aoi_combo.setToolTip("Optional polygons: counts are given per polygon.")
        form.addRow("Areas of interest", self.aoi_combo)
        self.tracks_combo = QgsMapLayerComboBox()
        self.tracks_combo.setFilters(QgsMapLayerProxyModel.LineLayer)
        self.tracks_combo.setAllowEmptyLayer(True)
        self.tracks_combo.setLayer(None)
        self.tracks_combo.setToolTip("Optional rail centre lines (e.g. OSM railways): only cars on them count.")
        form.addRow("Tracks", self.tracks_combo)
        self.track_buffer_spin = QDoubleSpinBox()
        self.track_buffer_spin.setRange(0.5, 100.0)
        self.track_buffer_spin.setValue(6.0)
        self.track_buffer_spin.setSuffix(" m")
        form.addRow("Track buffer", self.track_buffer_spin)
        self.min_confidence_spin = QDoubleSpinBox()
        self.min_confidence_spin.setRange(0.0, 1.0)
        self.min_confidence_spin.setSingleStep(0.05)
        self.min_confidence_spin.setValue(0.5)
        form.addRow("Minimum confidence", self.min_confidence_spin)
        layout.addWidget(options)

        run_row = QHBoxLayout()
        self.run_button = QPushButton("Count railcars")
        self.run_button.setToolTip("Run railwatch:detectrailcars on the active raster")
        self.run_button.clicked.connect(self.start_detection)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        run_row.addWidget(self.run_button, 1)
        run_row.addWidget(self.cancel_button)
        layout.addLayout(run_row)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setValue(0)
        self.progress_bar.setVisible(False)
        layout.addWidget(self.progress_bar)

        count_box = QGroupBox("Count")
        count_layout = QVBoxLayout(count_box)
        self.count_label = QLabel("Not run yet.")
        self.count_label.setWordWrap(True)
        count_layout.addWidget(self.count_label)
        self.results_view = CountTableView(self.canvas)
        self.results_view.setMaximumHeight(140)
        count_layout.addWidget(self.results_view)
        layout.addWidget(count_box)

        baseline_box = QGroupBox("Baseline")
        baseline_layout = QVBoxLayout(baseline_box)
        site_form = QFormLayout()
        self.site_edit = QLineEdit()
        self.site_edit.setPlaceholderText("site name, e.g. tumangang")
        self.site_edit.textChanged.connect(self._on_site_changed)
        site_form.addRow("Site", self.site_edit)
        self.source_combo = QComboBox()
        for key, label in BASELINE_SOURCES:
            self.source_combo.addItem(label, key)
        site_form.addRow("Compare with", self.source_combo)
        self.source_stack = QStackedWidget()
        self.site_log_label = QLabel()
        self.site_log_label.setWordWrap(True)
        self.history_layer_combo = QgsMapLayerComboBox()
        self.history_layer_combo.setFilters(QgsMapLayerProxyModel.VectorLayer)
        self.history_csv_widget = QgsFileWidget()
        self.history_csv_widget.setFilter("CSV files (*.csv);;All files (*)")
        self.earlier_raster_combo = QgsMapLayerComboBox()
        self.earlier_raster_combo.setFilters(QgsMapLayerProxyModel.RasterLayer)
        for widget in (self.site_log_label, self.history_layer_combo, self.history_csv_widget, self.earlier_raster_combo):
            self.source_stack.addWidget(widget)
        self.source_combo.currentIndexChanged.connect(self.source_stack.setCurrentIndex)
        site_form.addRow("", self.source_stack)
        baseline_layout.addLayout(site_form)
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip("Run railwatch:comparebaseline: today's count against the chosen history")
        self.compare_button.clicked.connect(self.start_comparison)
        baseline_layout.addWidget(self.compare_button)
        self.baseline_view = BaselineView()
        baseline_layout.addWidget(self.baseline_view)
        layout.addWidget(baseline_box)

        buttons = QHBoxLayout()
        self.save_log_button = QPushButton("Save to site log")
        self.save_log_button.setToolTip("Record this run in the site's monitoring GeoPackage")
        self.save_log_button.clicked.connect(self.save_to_site_log)
        self.export_button = QPushButton("Export report…")
        self.export_button.setToolTip("Write an HTML report with the verdict, the chart and a map snapshot")
        self.export_button.clicked.connect(self.export_report_dialog)
        buttons.addWidget(self.save_log_button)
        buttons.addWidget(self.export_button)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self._update_buttons()

    # --- messages -------------------------------------------------------------------

    def show_message(self, text: str, level=Qgis.Info, duration: int = 0):
        self.messages.append((level, text))
        titles = {Qgis.Critical: "Problem", Qgis.Warning: "Warning", Qgis.Success: "Done"}
        self.message_bar.pushMessage(titles.get(level, "RailWatch"), text, level, duration)

    # --- the active layer -----------------------------------------------------------

    def _on_current_layer_changed(self, *_args):
        # pytest-qgis's iface declares this signal with a canvas argument; QGIS with
        # the layer. Ask the interface either way.
        self.set_layer(self.iface.activeLayer())

    def set_layer(self, layer):
        status = describe_layer(layer)
        self.layer = layer if isinstance(layer, QgsRasterLayer) else None
        self.layer_status = status
        self.layer_title.setText(status.title)
        self.layer_detail.setText(status.detail)
        if self.layer is not None and not self.site_edit.text().strip():
            self.site_edit.setText(site_log.site_name_from_layer_name(self.layer.name()))
        self._update_buttons()

    # --- state of the buttons -------------------------------------------------------

    def _busy(self) -> bool:
        return any(r is not None for r in (self.detection_run, self.compare_run, self.baseline_run))

    def _set_busy(self, busy: bool):
        if not busy:
            self.detection_run = self.compare_run = self.baseline_run = None
            self.progress_bar.setVisible(False)
        self._update_buttons()

    def _update_buttons(self):
        busy = self._busy()
        runnable = self.layer is not None and self.layer_status.runnable and not self.missing_dependency
        self.run_button.setEnabled(runnable and not busy)
        self.cancel_button.setEnabled(busy)
        self.compare_button.setEnabled(self.last_detection is not None and not busy)
        self.save_log_button.setEnabled(self.last_detection is not None and not busy)
        self.export_button.setEnabled(self.last_detection is not None and not busy)
        if hasattr(self, "site_log_label"):
            self._on_site_changed()

    @property
    def run_enabled(self) -> bool:
        return self.run_button.isEnabled()

    # --- detection ------------------------------------------------------------------

    def build_detection_parameters(self, raster: QgsRasterLayer, output_folder: str, with_layers: bool = True) -> dict:
        """The same dict a toolbox user or a script would pass to railwatch:detectrailcars."""
        params = {
            "INPUT": raster.id() if QgsProject.instance().mapLayer(raster.id()) else raster.source(),
            "MIN_CONFIDENCE": self.min_confidence_spin.value(),
            "OUTPUT": os.path.join(output_folder, "railcars.gpkg"),
            "OUTPUT_TABLE": os.path.join(output_folder, "counts.gpkg"),
        }
        if with_layers:
            params["OUTPUT_BOXES"] = os.path.join(output_folder, "railcar_boxes.gpkg")
        if self.aoi_combo.currentLayer() is not None:
            params["AOI"] = self.aoi_combo.currentLayer().id()
        if self.tracks_combo.currentLayer() is not None:
            params["TRACKS"] = self.tracks_combo.currentLayer().id()
            params["TRACK_BUFFER"] = self.track_buffer_spin.value()
        return params

    @reports_errors
    def start_detection(self, *_args):
        if self.layer is None or self._busy():
            return
        raster = self.layer
        folder = new_output_folder()
        params = self.build_detection_parameters(raster, folder)
        run = AlgorithmRun(DETECT_ID, params, output_folder=folder, parent=self)
        run.progress.connect(self._on_progress)
        run.done.connect(functools.partial(self._on_detection_done, run, raster.id(), raster.name()))
        self.detection_run = run
        self.progress_bar.setValue(0)
        self.progress_bar.setVisible(True)
        self.count_label.setText(f"Counting railcars on {raster.name()}…")
        self._update_buttons()
        run.start()

    def _on_progress(self, percent: float):
        self.progress_bar.setValue(int(percent))

    @reports_errors
    def cancel(self, *_args):
        for run in (self.detection_run, self.compare_run, self.baseline_run):
            if run is not None:
                run.cancel()

    @reports_errors
    def _on_detection_done(self, run, raster_id, scene, ok, results, message):
        if run is not self.detection_run:
            return
        self._set_busy(False)
        if not ok:
            self.count_label.setText("Canceled: nothing was added." if message == "Canceled." else "The run failed.")
            self.show_message(message, Qgis.Info if message == "Canceled." else Qgis.Critical)
            return
        raster = QgsProject.instance().mapLayer(raster_id)
        layers = self._add_result_layers(scene, run.parameters, results)
        table = layers.get("table")
        count = int(results.get("COUNT", layers["points"].featureCount() if "points" in layers else 0))
        acquired, mean_confidence = None, None
        if table is not None:
            rows = list(table.getFeatures())
            names = table.fields().names()
            if rows and "acquired" in names:
                acquired = _iso_date(rows[0]["acquired"])
            if "mean_confidence" in names:
                pairs = [(r["count"] or 0, r["mean_confidence"]) for r in rows if not _is_null(r["mean_confidence"])]
                total = sum(n for n, _ in pairs)
                mean_confidence = sum(n * c for n, c in pairs) / total if total else None
            self.results_view.show_table(table, layers.get("points"), raster, self.aoi_combo.currentLayer())
        self.last_detection = {
            "scene": scene,
            "acquired": acquired,
            "count": count,
            "mean_confidence": mean_confidence,
            "parameters": {k: v for k, v in run.parameters.items() if not k.startswith("OUTPUT")},
            "layers": layers,
            "table_path": run.parameters["OUTPUT_TABLE"],
            "raster_id": raster_id,
            "results": dict(results),
        }
        self.last_comparison = None
        self.baseline_view.clear_comparison()
        when = f" (acquired {acquired})" if acquired else " (acquisition date unknown)"
        self.count_label.setText(f"<b>{count} railcar{'s' if count != 1 else ''}</b> on {scene}{when}.")
        self._update_buttons()
        if self.baseline_available():
            self.start_comparison()

    def _add_result_layers(self, scene: str, params: dict, results: dict) -> dict:
        """Load the run's output files and add them to the project in a group named after
        the scene (replacing the group of an earlier run on the same scene)."""
        from ..algorithms import output_style  # the toolbox's own styling: one look everywhere

        project = QgsProject.instance()
        root = project.layerTreeRoot()
        for child in list(root.children()):
            if child.customProperty(GROUP_PROPERTY) == scene:
                project.removeMapLayers(child.findLayerIds())
                root.removeChildNode(child)
        specs = (
            ("boxes", "OUTPUT_BOXES", f"{scene} railcar boxes", getattr(output_style, "style_railcar_boxes", None)),
            ("points", "OUTPUT", f"{scene} railcars", getattr(output_style, "style_railcar_points", None)),
            ("table", "OUTPUT_TABLE", f"{scene} counts", None),
        )
        loaded = {}
        for key, name, title, style in specs:
            value = results.get(name) or params.get(name)
            if not value:
                continue
            layer = QgsVectorLayer(str(value), title, "ogr")
            if not layer.isValid():
                raise RuntimeError(f"the {name} output of {DETECT_ID} could not be read from {value}.")
            if style is not None:
                style(layer)
            loaded[key] = layer
        group = root.insertGroup(0, scene)
        group.setCustomProperty(GROUP_PROPERTY, scene)
        for key in ("points", "boxes", "table"):
            if key in loaded:
                project.addMapLayer(loaded[key], False)
                group.addLayer(loaded[key])
        return loaded

    # --- baseline -------------------------------------------------------------------

    def site_log_path(self) -> str:
        return site_log.site_log_path(self.site_log_folder, self.site_edit.text() or "site")

    def _on_site_changed(self, *_args):
        path = self.site_log_path()
        if os.path.exists(path):
            n = len(site_log.read_runs(path))
            self.site_log_label.setText(f"{n} saved run{'s' if n != 1 else ''} in {path}")
        else:
            self.site_log_label.setText(f"No runs saved for this site yet ({path}).")

    def baseline_source(self) -> str:
        return self.source_combo.currentData()

    def set_baseline_source(self, key: str):
        self.source_combo.setCurrentIndex(self.source_combo.findData(key))

    def baseline_available(self) -> bool:
        source = self.baseline_source()
        if source == BASELINE_SITE_LOG:
            return os.path.exists(self.site_log_path())
        if source == BASELINE_TABLE:
            return self.history_layer_combo.currentLayer() is not None
        if source == BASELINE_CSV:
            return bool(self.history_csv_widget.filePath())
        if source == BASELINE_RASTER:
            return self.earlier_raster_combo.currentLayer() is not None
        return False

    @reports_errors
    def start_comparison(self, *_args):
        if self.last_detection is None or self._busy():
            return
        source = self.baseline_source()
        if not self.baseline_available():
            hints = {
                BASELINE_SITE_LOG: f"no runs are saved for site '{self.site_edit.text()}' yet: press Save to site "
                "log after a run, or choose another baseline",
                BASELINE_TABLE: "choose a history table layer (fields acquired and count)",
                BASELINE_CSV: "choose a history CSV file (columns acquired and count)",
                BASELINE_RASTER: "choose an earlier image of the same place",
            }
            raise ValueError(f"No baseline to compare with: {hints[source]}.")
        if source == BASELINE_RASTER:
            self._count_earlier_raster(self.earlier_raster_combo.currentLayer())
            return
        if source == BASELINE_SITE_LOG:
            history = site_log.ogr_uri(self.site_log_path())
        elif source == BASELINE_TABLE:
            history = self.history_layer_combo.currentLayer().id()
        else:
            history = self.history_csv_widget.filePath()
        self._run_comparison(history, f"{self.source_combo.currentText()}")

    def _count_earlier_raster(self, raster):
        if raster.id() == self.last_detection["raster_id"]:
            raise ValueError("The earlier image is the image just counted: choose an earlier image of the same place.")
        folder = new_output_folder()
        params = self.build_detection_parameters(raster, folder, with_layers=False)
        run = AlgorithmRun(DETECT_ID, params, output_folder=folder, parent=self)
        run.progress.connect(self._on_progress)
        run.done.connect(functools.partial(self._on_earlier_counted, run, raster.name()))
        self.baseline_run = run
        self.progress_bar.setValue(0)
        self.progress_bar.setVisible(True)
        self._update_buttons()
        run.start()

    @reports_errors
    def _on_earlier_counted(self, run, name, ok, results, message):
        if run is not self.baseline_run:
            return
        self.baseline_run = None
        if not ok:
            self._set_busy(False)
            self.show_message(f"Counting {name}: {message}", Qgis.Info if message == "Canceled." else Qgis.Critical)
            return
        self._run_comparison(run.parameters["OUTPUT_TABLE"], f"{name}, counted the same way")

    def build_comparison_parameters(self, history, output_folder: str) -> dict:
        detection = self.last_detection
        params = {
            "HISTORY": history,
            "DATE_FIELD": "acquired",
            "COUNT_FIELD": "count",
            "CURRENT_COUNT": detection["count"],
            "OUTPUT": os.path.join(output_folder, "comparison.gpkg"),
            "OUTPUT_HTML": os.path.join(output_folder, "report.html"),
        }
        if detection["acquired"]:
            params["CURRENT_DATE"] = detection["acquired"]
        return params

    def _run_comparison(self, history, history_label: str):
        folder = new_output_folder()
        params = self.build_comparison_parameters(history, folder)
        run = AlgorithmRun(COMPARE_ID, params, output_folder=folder, parent=self)
        run.done.connect(functools.partial(self._on_comparison_done, run, history_label))
        self.compare_run = run
        self.progress_bar.setVisible(True)
        self._update_buttons()
        run.start()

    @reports_errors
    def _on_comparison_done(self, run, history_label, ok, results, message):
        if run is not self.compare_run:
            return
        self._set_busy(False)
        if not ok:
            self.baseline_view.clear_comparison("No comparison: " + message)
            self.show_message(message, Qgis.Info if message == "Canceled." else Qgis.Critical)
            return
        html_path = results.get("OUTPUT_HTML") or run.parameters["OUTPUT_HTML"]
        html = ""
        if html_path and os.path.exists(html_path):
            with open(html_path, encoding="utf-8") as handle:
                html = handle.read()
        self.last_comparison = {"results": results, "html": html, "history": history_label}
        self.baseline_view.show_comparison(results, svg_from_html(html))

    # --- site log -------------------------------------------------------------------

    @reports_errors
    def save_to_site_log(self, *_args):
        if self.last_detection is None:
            return
        site = self.site_edit.text().strip()
        if not site:
            raise ValueError("Give the site a name (Site field) before saving to its log.")
        d = self.last_detection
        record = site_log.RunRecord(
            scene=d["scene"], acquired=d["acquired"], count=d["count"], mean_confidence=d["mean_confidence"],
            parameters=json.loads(json.dumps(d["parameters"], default=str)), plugin_version=plugin_version(),
        )
        path = self.site_log_path()
        site_log.save_run(path, record)
        self._on_site_changed()
        self.show_message(f"Saved {d['scene']} ({d['count']} railcars) to the log of {site}: {path}", Qgis.Success, 5)

    # --- report ---------------------------------------------------------------------

    def export_report_dialog(self, *_args):
        path, _ = QFileDialog.getSaveFileName(self, "Export RailWatch report", "", "HTML (*.html)")
        if path:
            self.export_report(path if path.lower().endswith(".html") else path + ".html")

    @reports_errors
    def export_report(self, path: str) -> Optional[str]:
        if self.last_detection is None:
            raise ValueError("Run a count first: the report describes the last run.")
        d = self.last_detection
        caption = f"{d['scene']}: detected railcars on the map as shown in QGIS."
        map_png = render_map_png(self.canvas)
        if self.last_comparison is not None and self.last_comparison["html"]:
            html = add_map_to_report(self.last_comparison["html"], map_png, caption)
        else:
            rows = []
            table = d["layers"].get("table")
            if table is not None:
                names = table.fields().names()
                rows = [{n: f[n] for n in names} for f in table.getFeatures()]
            html = count_only_report(d["scene"], d["count"], rows, map_png, caption)
        write_report(path, html)
        self.show_message(f"Report written to {path}", Qgis.Success, 5)
        return path

    # --- life cycle -----------------------------------------------------------------

    def close_down(self):
        """Cancel running work and disconnect from QGIS (called by the plugin's unload)."""
        self.cancel()
        try:
            self.iface.currentLayerChanged.disconnect(self._on_current_layer_changed)
        except (TypeError, RuntimeError):
            pass


def _is_null(value) -> bool:
    return value is None or (hasattr(value, "isNull") and value.isNull())
