"""Load, open the panel, unload, reload: nothing may be left behind."""

from __future__ import annotations

import os

import pytest
from qgis.core import QgsApplication
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QCoreApplication, QEvent
from qgis.PyQt.QtWidgets import QDockWidget, QToolBar

import railwatch_plugin as package
from railwatch_plugin.plugin import MENU_NAME, TOOLBAR_OBJECT_NAME


def _flush_deletes():
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()


def _railwatch_toolbars(iface):
    return [t for t in iface.mainWindow().findChildren(QToolBar, TOOLBAR_OBJECT_NAME) if not sip.isdeleted(t)]


def _railwatch_docks(iface):
    return iface.mainWindow().findChildren(QDockWidget, "RailWatchDock")


@pytest.fixture
def session_provider_set_aside(railwatch_plugin):
    """The shared fixture's provider would make ours a duplicate: take it out for the
    test and put a fresh one back afterwards."""
    railwatch_plugin.unload()
    assert QgsApplication.processingRegistry().providerById("railwatch") is None
    yield
    railwatch_plugin.initProcessing()


def _load(iface):
    plugin = package.classFactory(iface)
    plugin.initGui()
    return plugin


def test_unload_and_reload_leave_nothing_behind(qgis_iface, session_provider_set_aside):
    registry = QgsApplication.processingRegistry()
    receivers_before = qgis_iface.receivers(qgis_iface.currentLayerChanged)

    for _cycle in range(2):
        plugin = _load(qgis_iface)
        try:
            dock = plugin.show_panel()
            action = plugin.action
            toolbar = plugin.toolbar
            provider = registry.providerById("railwatch")

            assert provider is plugin.provider
            assert {a.id() for a in provider.algorithms()} >= {"railwatch:detectrailcars"}
            assert _railwatch_toolbars(qgis_iface) == [toolbar]
            assert action in toolbar.actions()
            qgis_iface.addPluginToRasterMenu.assert_any_call(MENU_NAME, action)
            assert not dock.isHidden() and action.isChecked()
            assert qgis_iface.receivers(qgis_iface.currentLayerChanged) == receivers_before + 1
        finally:
            plugin.unload()
            _flush_deletes()

        qgis_iface.removePluginRasterMenu.assert_any_call(MENU_NAME, action)
        assert registry.providerById("railwatch") is None
        assert sip.isdeleted(action) and sip.isdeleted(toolbar) and sip.isdeleted(dock)
        assert _railwatch_toolbars(qgis_iface) == []
        assert _railwatch_docks(qgis_iface) == []
        assert qgis_iface.receivers(qgis_iface.currentLayerChanged) == receivers_before


def test_toolbar_button_toggles_the_panel(qgis_iface, session_provider_set_aside):
    qgis_iface.mainWindow().show()  # visibility follows the (offscreen) main window
    plugin = _load(qgis_iface)
    try:
        assert plugin.dock is None  # built on first use: QGIS start-up pays nothing for it
        plugin.action.trigger()
        assert plugin.dock is not None and plugin.dock.isVisible()
        plugin.action.trigger()
        assert not plugin.dock.isVisible()
        plugin.dock.show()  # e.g. from the View > Panels menu
        assert plugin.action.isChecked()
    finally:
        plugin.unload()
        _flush_deletes()


def test_unload_during_a_run_cancels_it_and_adds_nothing(qgis_iface, session_provider_set_aside, qgis_new_project,
                                                         qtbot, tmp_path):
    import numpy as np
    from osgeo import gdal, osr
    from qgis.core import QgsProject, QgsRasterLayer

    path = str(tmp_path / "busy_2023-10-05.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 400, 300, 3, gdal.GDT_Byte)
    ds.SetGeoTransform((500000.0, 0.5, 0.0, 4700000.0, 0.0, -0.5))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32652)
    ds.SetProjection(srs.ExportToWkt())
    for band in range(3):
        ds.GetRasterBand(band + 1).WriteArray(np.full((300, 400), 100 + band, np.uint8))
    ds = None
    raster = QgsRasterLayer(path, "busy_2023-10-05")
    QgsProject.instance().addMapLayer(raster)
    qgis_iface.setActiveLayer(raster)

    plugin = _load(qgis_iface)
    dock = plugin.show_panel()
    dock.set_layer(raster)
    dock.start_detection()
    run = dock.detection_run
    assert run is not None and not run.finished
    plugin.unload()
    _flush_deletes()

    qtbot.waitUntil(lambda: run.finished, timeout=60_000)
    assert run.canceled
    assert list(QgsProject.instance().mapLayers()) == [raster.id()]
    assert not os.path.exists(run.output_folder)


def test_package_zip_holds_the_plugin_only():
    import configparser
    import subprocess
    import zipfile

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(["bash", os.path.join(root, "scripts", "package.sh")], cwd=root, check=True,
                         capture_output=True, text=True).stdout
    zip_path = os.path.join(root, out.split(":")[0].strip())
    names = zipfile.ZipFile(zip_path).namelist()

    assert {n.split("/")[0] for n in names} == {"railwatch_plugin"}  # one folder: what Install from ZIP expects
    assert "railwatch_plugin/__init__.py" in names and "railwatch_plugin/metadata.txt" in names
    assert "railwatch_plugin/ui/dock.py" in names and "railwatch_plugin/icons/railwatch.svg" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/tests/" in n]
    meta = configparser.ConfigParser(interpolation=None)
    meta.read_string(zipfile.ZipFile(zip_path).read("railwatch_plugin/metadata.txt").decode("utf-8"))
    assert zip_path.endswith(f"railwatch_plugin-{meta['general']['version']}.zip")
    assert meta["general"]["qgisMinimumVersion"] == "3.22"
