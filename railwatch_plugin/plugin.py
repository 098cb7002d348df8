"""QGIS glue: registers the Processing provider and (in QGIS desktop) the panel.

Everything ``initGui`` adds, ``unload`` removes (toolbar, menu entry, dock,
provider, signal connections), so reloading leaves nothing behind.
"""

from __future__ import annotations

from qgis.core import QgsApplication
from qgis.PyQt.QtWidgets import QAction

MENU_NAME = "&RailWatch"
TOOLBAR_OBJECT_NAME = "RailWatchToolbar"
ACTION_OBJECT_NAME = "RailWatchTogglePanel"


class RailWatchPlugin:
    def __init__(self, iface):
        self.iface = iface
        self.provider = None
        self.toolbar = None
        self.action = None
        self.dock = None

    def initProcessing(self):  # noqa: N802 (QGIS's name)
        if self.provider is not None:
            return
        from .algorithms.provider import RailWatchProvider

        provider = RailWatchProvider()
        # False when a provider "railwatch" is already registered (the registry then
        # discards ours): we must not remove the other one on unload.
        if QgsApplication.processingRegistry().addProvider(provider):
            self.provider = provider

    def initGui(self):  # noqa: N802 (QGIS's name)
        self.initProcessing()
        main_window = self.iface.mainWindow()
        from .algorithms.plugin_info import algorithm_icon

        self.action = QAction(algorithm_icon(), "RailWatch: count railcars", main_window)
        self.action.setObjectName(ACTION_OBJECT_NAME)
        self.action.setCheckable(True)
        self.action.setToolTip("Show or hide the RailWatch panel (detect and count railcars on the active raster)")
        self.action.toggled.connect(self._set_panel_visible)

        self.toolbar = self.iface.addToolBar("RailWatch")
        self.toolbar.setObjectName(TOOLBAR_OBJECT_NAME)
        self.toolbar.addAction(self.action)
        self.iface.addPluginToRasterMenu(MENU_NAME, self.action)

    # The dock is built on first use: QGIS start-up pays nothing for it.
    def _ensure_dock(self):
        if self.dock is None:
            from qgis.PyQt.QtCore import Qt

            from .ui.dock import RailWatchDock

            self.dock = RailWatchDock(self.iface, parent=self.iface.mainWindow())
            self.iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
            self.dock.visibilityChanged.connect(self._sync_action)
        return self.dock

    def _set_panel_visible(self, visible: bool):
        if visible:
            self._ensure_dock().show()
            self.dock.raise_()
        elif self.dock is not None:
            self.dock.hide()

    def _sync_action(self, visible: bool):
        if self.action is not None and self.action.isChecked() != visible:
            self.action.blockSignals(True)
            self.action.setChecked(visible)
            self.action.blockSignals(False)

    def show_panel(self):
        """Open the panel (used by the desktop screenshot script and tests)."""
        if self.action is not None:
            self.action.setChecked(True)
        else:
            self._set_panel_visible(True)
        return self.dock

    def unload(self):
        if self.dock is not None:
            self.dock.visibilityChanged.disconnect(self._sync_action)
            self.dock.close_down()
            self.iface.removeDockWidget(self.dock)
            self.dock.setParent(None)
            self.dock.deleteLater()
            self.dock = None
        if self.action is not None:
            self.action.toggled.disconnect(self._set_panel_visible)
            self.iface.removePluginRasterMenu(MENU_NAME, self.action)
            self.action.deleteLater()
            self.action = None
        if self.toolbar is not None:
            main_window = self.iface.mainWindow()
            if hasattr(main_window, "removeToolBar"):
                main_window.removeToolBar(self.toolbar)
            self.toolbar.setParent(None)
            self.toolbar.deleteLater()
            self.toolbar = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
