"""The RailWatch dock: the active raster, Run/Cancel, the count, the baseline verdict.

A thin front end. It builds the parameter dicts of ``railwatch:detectrailcars``
and ``railwatch:comparebaseline`` (the toolbox's algorithms, one path not two),
runs them as background tasks (:mod:`.run_task`), and adds their outputs to the
project only when a run succeeds. Problems go to the panel's message bar in
words, never to a traceback dialog.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Optional

from qgis.core import Qgis, QgsApplication, QgsProject, QgsRasterLayer, QgsSettings
from qgis.gui import QgsDockWidget, QgsMessageBar
from qgis.PyQt.QtCore import Qt, QTimer
from qgis.PyQt.QtWidgets import (
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from .. import site_log
from ..algorithms.plugin_info import plugin_version
from ..dependencies import missing_dependency_message
from .baseline_source import BASELINE_CSV, BASELINE_RASTER, BASELINE_SITE_LOG, BASELINE_TABLE, BaselineSource
from .baseline_view import BaselineView, svg_from_html
from .layer_status import describe_layer
from .narrow_layout import fit_to_narrow_width, wrapping_label
from .options_form import DetectionOptions
from .report_export import last_run_report, write_report
from .result_layers import add_result_layers, parameters_for_the_record, summarize_count_table
from .results_view import CountTableView
from .review_panel import ReviewPanel
from .run_task import AlgorithmRun, layer_for_a_task, new_output_folder, table_for_a_task

__all__ = ["RailWatchDock", "BASELINE_CSV", "BASELINE_RASTER", "BASELINE_SITE_LOG", "BASELINE_TABLE"]

DETECT_ID = "railwatch:detectrailcars"
COMPARE_ID = "railwatch:comparebaseline"
SETTINGS_LOG_FOLDER = "RailWatch/site_log_folder"



def default_site_log_folder() -> str:
    return os.path.join(QgsApplication.qgisSettingsDirPath(), "railwatch", "sites")


def reports_errors(slot):
    """Show any exception of a panel slot in the message bar instead of a traceback dialog."""

    @functools.wraps(slot)
    def wrapper(self, *args, **kwargs):
        try:
            return slot(self, *args, **kwargs)
        except Exception as exc:  # the user sees the problem in words; the panel stays usable
            self.show_message(f"{exc}", Qgis.MessageLevel.Critical)
            self._set_busy(False)
            return None

    return wrapper


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
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # the panel wraps to its width
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        scroll.setWidget(body)
        outer_layout.addWidget(scroll)
        self.setWidget(outer)

        # Input: the image, the options, the baseline. Then Run. Then what came out.
        self.dependency_label = wrapping_label("color:#b00020; font-weight:bold;")
        self.dependency_label.setVisible(bool(self.missing_dependency))
        self.dependency_label.setText(self.missing_dependency or "")
        layout.addWidget(self.dependency_label)

        image_box = QGroupBox("Image")
        image_layout = QVBoxLayout(image_box)
        self.layer_title = wrapping_label("font-weight:bold;")
        self.layer_detail = wrapping_label()
        image_layout.addWidget(self.layer_title)
        image_layout.addWidget(self.layer_detail)
        layout.addWidget(image_box)

        self.options = DetectionOptions()
        self.options.adapt_button.clicked.connect(self.adapt_to_imagery)
        layout.addWidget(self.options)
        self.baseline_source_box = BaselineSource(self.site_log_folder)
        self.baseline_source_box.compare_button.clicked.connect(self.start_comparison)
        layout.addWidget(self.baseline_source_box)

        run_row = QHBoxLayout()
        self.run_button = QPushButton("Count railcars")
        self.run_button.setToolTip("Run railwatch:detectrailcars on the active raster (then compare with the baseline)")
        self.run_button.clicked.connect(self.start_detection)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        run_row.addWidget(self.run_button, 1)
        run_row.addWidget(self.cancel_button)
        layout.addLayout(run_row)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setVisible(False)
        layout.addWidget(self.progress_bar)

        result_box = QGroupBox("Result")
        result_layout = QVBoxLayout(result_box)
        self.count_label = wrapping_label("font-size:13pt;")
        self.count_label.setText("Not run yet.")
        result_layout.addWidget(self.count_label)
        self.baseline_view = BaselineView()
        result_layout.addWidget(self.baseline_view)
        self.results_view = CountTableView(self.canvas)
        self.results_view._fit_height()
        result_layout.addWidget(self.results_view)
        buttons = QHBoxLayout()
        buttons.addWidget(self.baseline_source_box.compare_button)
        self.save_log_button = QPushButton("Save to site log")
        self.save_log_button.setToolTip("Record this run in the site's monitoring GeoPackage")
        self.save_log_button.clicked.connect(self.save_to_site_log)
        self.export_button = QPushButton("Export report")
        self.export_button.setToolTip("Write an HTML report with the verdict, the chart and a map snapshot")
        self.export_button.clicked.connect(self.export_report_dialog)
        buttons.addWidget(self.save_log_button)
        buttons.addWidget(self.export_button)
        result_layout.addLayout(buttons)
        layout.addWidget(result_box)
        self.review_panel = ReviewPanel(self.canvas)
        self.review_panel.keep_folder = os.path.join(self.site_log_folder, "reviews")  # see the site_log_folder setter
        self.review_panel.default_threshold = self.options.min_confidence_spin.value
        self.review_panel.message.connect(self.show_message)
        self.review_panel.counts_changed.connect(self._on_review_counts)
        self.review_panel.started.connect(self._on_review_started)
        layout.addWidget(self.review_panel)
        layout.addStretch(1)
        self._comparison_source = None  # (HISTORY, label) of the last comparison, rerun as the review goes
        self._last_review = None  # (points layer id, ReviewCounts, finished): kept when the review stops
        self._recompare_timer = QTimer(self)
        self._recompare_timer.setSingleShot(True)
        self._recompare_timer.setInterval(300)
        self._recompare_timer.timeout.connect(self._recompare)

        # Short names for the widgets other code (and the tests) use most.
        box = self.baseline_source_box
        self.site_edit, self.source_combo = box.site_edit, box.source_combo
        self.history_layer_combo, self.history_csv_widget = box.history_layer_combo, box.history_csv_widget
        self.earlier_raster_combo, self.site_log_label = box.earlier_raster_combo, box.site_log_label
        self.compare_button = box.compare_button
        self._site_name_derived = True
        self.site_edit.textEdited.connect(self._on_site_typed)
        fit_to_narrow_width(body)
        self._update_buttons()

    def _on_site_typed(self, *_args):
        self._site_name_derived = False

    # --- messages -------------------------------------------------------------------

    def show_message(self, text: str, level=Qgis.MessageLevel.Info, duration: int = 0):
        self.messages.append((level, text))
        titles = {Qgis.MessageLevel.Critical: "Problem", Qgis.MessageLevel.Warning: "Warning", Qgis.MessageLevel.Success: "Done"}
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
        # The site name follows the layer until the analyst types one of their own.
        if self.layer is not None and (self._site_name_derived or not self.site_edit.text().strip()):
            self.site_edit.setText(site_log.site_name_from_layer_name(self.layer.name()))
            self._site_name_derived = True
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
        self.baseline_source_box.refresh_site_log_label()

    @property
    def run_enabled(self) -> bool:
        return self.run_button.isEnabled()

    # --- detection ------------------------------------------------------------------

    def build_detection_parameters(self, raster: QgsRasterLayer, output_folder: str, with_layers: bool = True) -> dict:
        """The same dict a toolbox user or a script would pass to railwatch:detectrailcars."""
        params = {
            "INPUT": layer_for_a_task(raster),  # a private copy: the task runs in another thread
            "OUTPUT": os.path.join(output_folder, "railcars.gpkg"),
            "OUTPUT_TABLE": os.path.join(output_folder, "counts.gpkg"),
        }
        if with_layers:
            params["OUTPUT_BOXES"] = os.path.join(output_folder, "railcar_boxes.gpkg")
            params["OUTPUT_CANDIDATES"] = os.path.join(output_folder, "candidates.gpkg")
        return self.options.add_to_parameters(params)

    @reports_errors
    def start_detection(self, *_args):
        if self.layer is None or self._busy():
            return
        raster = self.layer
        folder = new_output_folder()
        params = self.build_detection_parameters(raster, folder)
        run = AlgorithmRun(DETECT_ID, params, output_folder=folder)
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
            self.show_message(message, Qgis.MessageLevel.Info if message == "Canceled." else Qgis.MessageLevel.Critical)
            return
        for warning in run.warnings:  # the count stands, but the analyst must know why it may be low
            self.show_message(warning, Qgis.MessageLevel.Warning)
        raster = QgsProject.instance().mapLayer(raster_id)
        layers = add_result_layers(scene, run.parameters, results)
        table = layers.get("table")
        count = int(results.get("COUNT", layers["points"].featureCount() if "points" in layers else 0))
        acquired, mean_confidence = summarize_count_table(table) if table is not None else (None, None)
        aoi_id = run.parameters.get("AOI")
        aoi = QgsProject.instance().mapLayer(aoi_id) if isinstance(aoi_id, str) else None  # the run's, not today's
        if table is not None:
            self.results_view.show_table(table, layers.get("points"), raster, aoi)
        self.last_detection = {
            "scene": scene,
            "acquired": acquired,
            "count": count,
            "mean_confidence": mean_confidence,
            "parameters": dict(parameters_for_the_record(run.parameters), model=results.get("MODEL_NAME", "")),
            "layers": layers,
            "table_path": run.parameters["OUTPUT_TABLE"],
            "raster_id": raster_id,
            "aoi_id": aoi.id() if aoi is not None else None,
            "results": dict(results),
        }
        self.last_comparison = None
        self._comparison_source = None
        self.options.adapt_button.setEnabled("points" in layers)
        self.baseline_view.clear_comparison()
        self._show_count()
        if "points" in layers:
            self.review_panel.offer(layers["points"], float(run.parameters["MIN_CONFIDENCE"]),
                                    results.get("OUTPUT_CANDIDATES") or run.parameters.get("OUTPUT_CANDIDATES"))
        self._update_buttons()
        if self.baseline_available():
            self.start_comparison()

    # --- baseline -------------------------------------------------------------------

    def site_log_path(self) -> str:
        return self.baseline_source_box.site_log_path()

    @property
    def site_log_folder(self) -> str:
        return self._site_log_folder

    @site_log_folder.setter
    def site_log_folder(self, folder: str):
        self._site_log_folder = folder
        if hasattr(self, "baseline_source_box"):
            self.baseline_source_box.site_log_folder = folder
            self.baseline_source_box.refresh_site_log_label()
        if hasattr(self, "review_panel"):
            self.review_panel.keep_folder = os.path.join(folder, "reviews")  # reviews live beside the site logs

    def baseline_source(self) -> str:
        return self.baseline_source_box.source()

    def set_baseline_source(self, key: str):
        self.baseline_source_box.set_source(key)

    def baseline_available(self) -> bool:
        return self.baseline_source_box.available()

    @reports_errors
    def start_comparison(self, *_args):
        if self.last_detection is None or self._busy():
            return
        box = self.baseline_source_box
        if not box.available():
            raise ValueError(f"No baseline to compare with: {box.missing_hint()}.")
        if box.source() == BASELINE_RASTER:
            self._count_earlier_raster(box.earlier_raster_combo.currentLayer())
            return
        self._run_comparison(box.history_parameter(), box.source_combo.currentText())

    def _count_earlier_raster(self, raster):
        if raster.id() == self.last_detection["raster_id"]:
            raise ValueError("The earlier image is the image just counted: choose an earlier image of the same place.")
        folder = new_output_folder()
        params = self.build_detection_parameters(raster, folder, with_layers=False)
        run = AlgorithmRun(DETECT_ID, params, output_folder=folder)
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
            self.show_message(f"Counting {name}: {message}", Qgis.MessageLevel.Info if message == "Canceled." else Qgis.MessageLevel.Critical)
            return
        for warning in run.warnings:
            self.show_message(f"Counting {name}: {warning}", Qgis.MessageLevel.Warning)
        self._run_comparison(run.parameters["OUTPUT_TABLE"], f"{name}, counted the same way")

    def build_comparison_parameters(self, history, output_folder: str) -> dict:
        detection = self.last_detection
        params = {
            "HISTORY": table_for_a_task(history),
            "DATE_FIELD": "acquired",
            "COUNT_FIELD": "count",
            "CURRENT_COUNT": self.current_count(),
            "OUTPUT": os.path.join(output_folder, "comparison.gpkg"),
            "OUTPUT_HTML": os.path.join(output_folder, "report.html"),
        }
        if detection["acquired"]:
            params["CURRENT_DATE"] = detection["acquired"]
        return params

    def _run_comparison(self, history, history_label: str):
        self._comparison_source = (history, history_label)
        folder = new_output_folder()
        params = self.build_comparison_parameters(history, folder)
        run = AlgorithmRun(COMPARE_ID, params, output_folder=folder)
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
            self.show_message(message, Qgis.MessageLevel.Info if message == "Canceled." else Qgis.MessageLevel.Critical)
            return
        html_path = results.get("OUTPUT_HTML") or run.parameters["OUTPUT_HTML"]
        html = ""
        if html_path and os.path.exists(html_path):
            with open(html_path, encoding="utf-8") as handle:
                html = handle.read()
        self.last_comparison = {"results": results, "html": html, "history": history_label}
        self.baseline_view.show_comparison(results, svg_from_html(html))

    @reports_errors
    def adapt_to_imagery(self, *_args):
        """Adapt the detector to the last run's reviewed cars; the model is kept beside the site's log."""
        d = self.last_detection
        if d is None or "points" not in d["layers"]:
            raise ValueError("Count railcars and review them first: the adaptation learns from the reviewed cars.")
        site = self.site_edit.text().strip() or "site"
        os.makedirs(self.site_log_folder, exist_ok=True)  # adaptdetector checks the folder before it starts
        path = os.path.join(self.site_log_folder, f"{site}_detector_model.npz")
        raster = QgsProject.instance().mapLayer(d["raster_id"])
        if raster is None:
            raise ValueError("The image of the last count is no longer in the project: add it again and count "
                             "its cars first.")
        self.options.start_adaptation(layer_for_a_task(d["layers"]["points"]), layer_for_a_task(raster), path,
                                      self.show_message)

    # --- site log -------------------------------------------------------------------

    @reports_errors
    def save_to_site_log(self, *_args):
        if self.last_detection is None:
            return
        site = self.site_edit.text().strip()
        if not site:
            raise ValueError("Give the site a name (Site field) before saving to its log.")
        d = self.last_detection
        review = self._review_of_last_run()
        record = site_log.RunRecord(
            scene=d["scene"], acquired=d["acquired"], count=d["count"], mean_confidence=d["mean_confidence"],
            parameters=json.loads(json.dumps(d["parameters"], default=str)), plugin_version=plugin_version(),
            reviewed_count=review[0].reviewed if review else None, review_finished=review[1] if review else None,
        )
        path = self.site_log_path()
        site_log.save_run(path, record)
        self.baseline_source_box.refresh_site_log_label()
        self.show_message(f"Saved {d['scene']} ({d['count']} railcars) to the log of {site}: {path}", Qgis.MessageLevel.Success, 5)

    # --- review ---------------------------------------------------------------------

    def _review_of_last_run(self):
        """(ReviewCounts, finished) of the last run's cars: live while the panel reviews them,
        else as the review left them (after Stop review), else None."""
        panel = self.review_panel
        points = self.last_detection["layers"].get("points") if self.last_detection else None
        if points is None:
            return None
        if panel.active and panel.layer is points:
            self._last_review = (points.id(), panel.counts(), panel.queue.finished)
        if self._last_review is None or self._last_review[0] != points.id():
            return None
        return self._last_review[1:]

    def current_count(self) -> int:
        """The count the verdict is about: the reviewed count while the last run is reviewed."""
        review = self._review_of_last_run()
        return review[0].reviewed if review else self.last_detection["count"]

    def _show_count(self):
        d = self.last_detection
        when = f" (acquired {d['acquired']})" if d["acquired"] else " (acquisition date unknown)"
        review = self._review_of_last_run()
        count = d["count"]
        text = f"<b>{count} railcar{'s' if count != 1 else ''}</b> on {d['scene']}{when}."
        if review is not None:
            state = "review finished" if review[1] else "review in progress"
            reviewed = review[0].reviewed
            text = f"Automatic <b>{count}</b> · reviewed <b>{reviewed}</b> railcars ({state}) on {d['scene']}{when}."
        self.count_label.setText(text)

    def _on_review_started(self, layer):
        """The run's outlines show the detector's cars only: the reviewed points draw their own."""
        boxes = self.last_detection["layers"].get("boxes") if self.last_detection else None
        node = QgsProject.instance().layerTreeRoot().findLayer(boxes.id()) if boxes is not None else None
        if node is not None and self._review_of_last_run() is not None:
            node.setItemVisibilityChecked(False)

    @reports_errors
    def _on_review_counts(self, counts, finished):
        if self._review_of_last_run() is None:
            return
        self._show_count()
        table = self.last_detection["layers"].get("table")
        if table is not None:
            self.results_view.show_reviewed_counts(table, self.review_panel.review_layer, self.review_panel.queue,
                                                   QgsProject.instance().mapLayer(self.last_detection["aoi_id"] or ""))
        self._recompare_timer.start()

    def _recompare(self):
        if self._comparison_source is None or self.detection_run is not None or self.baseline_run is not None:
            return
        self._run_comparison(*self._comparison_source)

    # --- report ---------------------------------------------------------------------

    def export_report_dialog(self, *_args):
        path, _ = QFileDialog.getSaveFileName(self, "Export RailWatch report", "", "HTML (*.html)")
        if path:
            self.export_report(path if path.lower().endswith(".html") else path + ".html")

    @reports_errors
    def export_report(self, path: str) -> Optional[str]:
        if self.last_detection is None:
            raise ValueError("Run a count first: the report describes the last run.")
        html = last_run_report(self.last_detection, self.last_comparison, self.canvas)
        write_report(path, html)
        self.show_message(f"Report written to {path}", Qgis.MessageLevel.Success, 5)
        return path

    # --- life cycle -----------------------------------------------------------------

    def close_down(self):
        """Cancel running work and disconnect from QGIS (called by the plugin's unload).

        A cancelled run still reports back later; the panel will be gone by then, so
        its signals are cut here (the run cleans up its own output files)."""
        for run in (self.detection_run, self.compare_run, self.baseline_run):
            if run is not None:
                run.cancel()
                run.done.disconnect()
                run.progress.disconnect()
        self.detection_run = self.compare_run = self.baseline_run = None
        self._recompare_timer.stop()
        self.review_panel.close_down()
        try:
            self.iface.currentLayerChanged.disconnect(self._on_current_layer_changed)
        except (TypeError, RuntimeError):
            pass

