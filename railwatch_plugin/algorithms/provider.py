"""The ``railwatch`` Processing provider.

It always loads, even without OpenCV: the algorithms are listed and each one
explains, when run, what to install (see ``railwatch_plugin.dependencies``).
"""

from __future__ import annotations

from qgis.core import QgsMessageLog, QgsProcessingProvider

from ..dependencies import missing_dependency_message
from .adapt_algorithm import AdaptDetectorAlgorithm
from .count_history_algorithm import CountHistoryAlgorithm
from .detect_algorithm import DetectRailcarsAlgorithm
from .export_labels_algorithm import ExportLabelsAlgorithm
from .plugin_info import ICON_PATH, algorithm_icon, plugin_version


class RailWatchProvider(QgsProcessingProvider):
    def id(self):
        return "railwatch"

    def name(self):
        return "RailWatch"

    def longName(self):  # noqa: N802 (QGIS's name)
        return "RailWatch: railcar detection and counts"

    def icon(self):
        return algorithm_icon()

    def svgIconPath(self):  # noqa: N802 (QGIS's name)
        return ICON_PATH

    def versionInfo(self):  # noqa: N802 (QGIS's name)
        return plugin_version()

    def loadAlgorithms(self):  # noqa: N802 (QGIS's name)
        self.addAlgorithm(DetectRailcarsAlgorithm())
        self.addAlgorithm(CountHistoryAlgorithm())
        self.addAlgorithm(ExportLabelsAlgorithm())
        self.addAlgorithm(AdaptDetectorAlgorithm())
        try:
            from .compare_baseline_algorithm import CompareBaselineAlgorithm
        except Exception as exc:  # noqa: BLE001 (a broken module must not hide the others)
            QgsMessageLog.logMessage(f"comparebaseline is not available: {exc}", "RailWatch")
        else:
            self.addAlgorithm(CompareBaselineAlgorithm())
        missing = missing_dependency_message()
        if missing:
            QgsMessageLog.logMessage(missing, "RailWatch")
