"""Where the baseline comes from: the site's log, a history table in the project,
a CSV file, or an earlier image of the same place (counted the same way)."""

from __future__ import annotations

import os

from qgis.core import QgsMapLayerProxyModel
from qgis.gui import QgsFileWidget
from qgis.PyQt.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QLineEdit, QPushButton, QStackedWidget

from .. import site_log
from .options_form import layer_combo

BASELINE_SITE_LOG = "site log"
BASELINE_TABLE = "table layer"
BASELINE_CSV = "CSV file"
BASELINE_RASTER = "earlier raster"
BASELINE_SOURCES = (  # in the combo box's order
    (BASELINE_SITE_LOG, "Site log (earlier saved runs)"),
    (BASELINE_TABLE, "History table in the project"),
    (BASELINE_CSV, "History CSV file"),
    (BASELINE_RASTER, "Earlier image of the same place"),
)
MISSING_HINTS = {
    BASELINE_SITE_LOG: "no runs are saved for site '{site}' yet: press Save to site log after a run, or choose "
    "another baseline",
    BASELINE_TABLE: "choose a history table layer (fields acquired and count)",
    BASELINE_CSV: "choose a history CSV file (columns acquired and count)",
    BASELINE_RASTER: "choose an earlier image of the same place",
}


class BaselineSource(QGroupBox):
    def __init__(self, site_log_folder: str, parent=None):
        super().__init__("Baseline", parent)
        self.site_log_folder = site_log_folder
        form = QFormLayout(self)
        self.site_edit = QLineEdit()
        self.site_edit.setPlaceholderText("site name, e.g. tumangang")
        self.site_edit.setToolTip("Runs saved under this name form the site's log, the default baseline.")
        form.addRow("Site", self.site_edit)
        self.source_combo = QComboBox()
        for key, label in BASELINE_SOURCES:
            self.source_combo.addItem(label, key)
        form.addRow("Compare with", self.source_combo)
        self.source_stack = QStackedWidget()
        self.site_log_label = QLabel()
        self.site_log_label.setWordWrap(True)
        self.history_layer_combo = layer_combo(QgsMapLayerProxyModel.Filter.VectorLayer, False)
        self.history_csv_widget = QgsFileWidget()
        self.history_csv_widget.setFilter("CSV files (*.csv);;All files (*)")
        self.earlier_raster_combo = layer_combo(QgsMapLayerProxyModel.Filter.RasterLayer, False)
        for widget in (self.site_log_label, self.history_layer_combo, self.history_csv_widget, self.earlier_raster_combo):
            self.source_stack.addWidget(widget)
        self.source_combo.currentIndexChanged.connect(self.source_stack.setCurrentIndex)
        form.addRow("", self.source_stack)
        self.compare_button = QPushButton("Compare again")
        self.compare_button.setToolTip(
            "Run railwatch:comparebaseline: the last count against the chosen history (Count railcars does this "
            "by itself when a baseline is available)"
        )
        self.site_edit.textChanged.connect(self.refresh_site_log_label)

    def site_log_path(self) -> str:
        return site_log.site_log_path(self.site_log_folder, self.site_edit.text() or "site")

    def refresh_site_log_label(self, *_args):
        path = self.site_log_path()
        if os.path.exists(path):
            n = len(site_log.read_runs(path))
            self.site_log_label.setText(f"{n} saved run{'s' if n != 1 else ''} in {os.path.basename(path)}")
        else:
            self.site_log_label.setText(f"No runs saved for this site yet ({os.path.basename(path)}).")
        self.site_log_label.setToolTip(path)

    def source(self) -> str:
        return self.source_combo.currentData()

    def set_source(self, key: str):
        self.source_combo.setCurrentIndex(self.source_combo.findData(key))

    def available(self) -> bool:
        source = self.source()
        if source == BASELINE_SITE_LOG:
            return os.path.exists(self.site_log_path())
        if source == BASELINE_TABLE:
            return self.history_layer_combo.currentLayer() is not None
        if source == BASELINE_CSV:
            return bool(self.history_csv_widget.filePath())
        return self.earlier_raster_combo.currentLayer() is not None

    def missing_hint(self) -> str:
        return MISSING_HINTS[self.source()].format(site=self.site_edit.text())

    def history_parameter(self):
        """The HISTORY value for railwatch:comparebaseline (not for an earlier raster)."""
        source = self.source()
        if source == BASELINE_SITE_LOG:
            return site_log.ogr_uri(self.site_log_path())
        if source == BASELINE_TABLE:
            return self.history_layer_combo.currentLayer().id()
        return self.history_csv_widget.filePath()
