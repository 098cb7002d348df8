"""The ``railwatch`` Processing provider."""

from __future__ import annotations

from qgis.core import QgsProcessingProvider


class RailWatchProvider(QgsProcessingProvider):
    def id(self):
        return "railwatch"

    def name(self):
        return "RailWatch"

    def loadAlgorithms(self):  # noqa: N802 (QGIS's name)
        pass  # algorithms are added by their issues' work
