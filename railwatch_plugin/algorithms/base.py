"""What every RailWatch Processing algorithm shares, said once.

QGIS asks each algorithm for its toolbox group, its icon and a fresh
instance of itself; those answers were the same lines in every module.
An algorithm names its group in ``GROUP`` and inherits the rest.
"""

from __future__ import annotations

from qgis.core import QgsProcessingAlgorithm

from .plugin_info import algorithm_icon


class RailWatchAlgorithm(QgsProcessingAlgorithm):
    GROUP = ("Detection", "detection")  # (shown in the toolbox, id used by models and scripts)

    def group(self):
        return self.GROUP[0]

    def groupId(self):  # noqa: N802 (QGIS's name)
        return self.GROUP[1]

    def icon(self):
        return algorithm_icon()

    def createInstance(self):  # noqa: N802 (QGIS's name)
        return type(self)()
