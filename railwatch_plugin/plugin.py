"""QGIS glue: registers the Processing provider and (in QGIS desktop) the panel.

Everything ``initGui`` adds, ``unload`` removes, so reloading leaves nothing behind.
"""

from __future__ import annotations

from qgis.core import QgsApplication


class RailWatchPlugin:
    def __init__(self, iface):
        self.iface = iface
        self.provider = None

    def initProcessing(self):  # noqa: N802 (QGIS's name)
        from .algorithms.provider import RailWatchProvider

        self.provider = RailWatchProvider()
        QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):  # noqa: N802 (QGIS's name)
        self.initProcessing()

    def unload(self):
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
