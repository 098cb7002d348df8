"""Shared fixtures: the real plugin loaded into real (offscreen) QGIS, and
synthetic rail yards written as GeoTIFFs.

Core tests (tests/core) do not use these and never import QGIS.
"""

from __future__ import annotations

import os
import subprocess

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The start of a script run in a process of its own (``.format(repo=REPO, ...)``):
# a fresh QGIS with Processing and the plugin loaded; then ``processing.run``.
FRESH_QGIS_WITH_THE_PLUGIN = r"""
import sys
sys.path.insert(0, {repo!r})
sys.path.append("/usr/share/qgis/python/plugins")
from qgis.core import QgsApplication, QgsProcessingException
app = QgsApplication([], False)
app.initQgis()
from processing.core.Processing import Processing
Processing.initialize()
import processing, railwatch_plugin
plugin = railwatch_plugin.classFactory(None)
plugin.initProcessing()
"""


QGIS_PROCESS = "/usr/bin/qgis_process.bin"


@pytest.fixture(scope="module")
def qgis_process_env(tmp_path_factory):
    """A private QGIS profile with the plugin (symlinked) enabled, and the venv's
    packages (OpenCV) visible to qgis_process's Python."""
    root = tmp_path_factory.mktemp("qgis_process")
    plugins = root / "plugins"
    plugins.mkdir()
    os.symlink(os.path.join(REPO, "railwatch_plugin"), plugins / "railwatch_plugin")
    import cv2

    site_packages = os.path.dirname(os.path.dirname(cv2.__file__))
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        QGIS_PLUGINPATH=str(plugins),
        QGIS_CUSTOM_CONFIG_PATH=str(root / "profile"),
        PYTHONPATH=os.pathsep.join([site_packages, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    )
    enabled = subprocess.run([QGIS_PROCESS, "plugins", "enable", "railwatch_plugin"], capture_output=True, text=True, env=env, timeout=120)
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    return env


@pytest.fixture(autouse=True, scope="session")
def _release_qgis_objects_before_qgis_exits(request):
    """Collect the session's dead Python wrappers (panels, layers, tasks) while
    QGIS is still running. pytest-qgis calls exitQgis() when the session ends,
    and pytest's last garbage collection comes after that: a wrapper freed
    then deletes its C++ object into an exited QGIS, and the run ends in a
    segmentation fault or heap corruption after every test has passed (about
    one run in two of tests/test_panel.py did).

    Without pytest-qgis (``-p no:qgis``, as the core tests can run where
    there is no QGIS) there is nothing to release."""
    if not request.config.pluginmanager.has_plugin("qgis"):
        yield
        return
    request.getfixturevalue("qgis_app")
    yield
    import gc

    from qgis.core import QgsProject
    from qgis.PyQt.QtCore import QCoreApplication

    QgsProject.instance().removeAllMapLayers()
    for _ in range(3):
        QCoreApplication.processEvents()
        gc.collect()


@pytest.fixture(scope="session")
def railwatch_plugin(qgis_app, qgis_processing, qgis_iface):
    """The plugin as QGIS loads it: classFactory(iface), then initProcessing()."""
    import railwatch_plugin

    plugin = railwatch_plugin.classFactory(qgis_iface)
    plugin.initProcessing()
    yield plugin
    plugin.unload()


@pytest.fixture(scope="session")
def run_railwatch(railwatch_plugin):
    """``run_railwatch("detectrailcars", {...})``: processing.run on the real provider."""
    import processing

    def run(algorithm: str, parameters: dict, feedback=None) -> dict:
        return processing.run(f"railwatch:{algorithm}", parameters, feedback=feedback)

    return run


@pytest.fixture(scope="session")
def easy_yard():
    """A clean 400 x 300 m yard at 0.5 m with 40 cars on 4 tracks (seeded: the same every run)."""
    from railwatch_synth import make_yard

    return make_yard(3, gsd_m=0.5, size_m=(400.0, 300.0), difficulty="easy")


@pytest.fixture(scope="session")
def easy_yard_tif(easy_yard, tmp_path_factory):
    """``easy_yard`` as a UTM 52N GeoTIFF dated 2023-10-05 (origin 500000, 4700000)."""
    from railwatch_synth import write_geotiff

    path = tmp_path_factory.mktemp("yard") / "yard_utm.tif"
    write_geotiff(easy_yard, str(path), crs="EPSG:32652", acquired="2023-10-05")
    return path


PANEL_RUN_TIMEOUT_MS = 90_000


@pytest.fixture
def panel(qgis_iface, railwatch_plugin, qgis_new_project, tmp_path, qtbot):
    """The RailWatch dock on a fresh project, its site logs (and reviews) in ``tmp_path``."""
    from railwatch_plugin.ui import run_task
    from railwatch_plugin.ui.dock import RailWatchDock

    dock = RailWatchDock(qgis_iface)
    dock.site_log_folder = str(tmp_path / "site_logs")
    qtbot.addWidget(dock)
    dock.show()
    yield dock
    dock.close_down()
    # A cancelled task may still be winding down in its thread: let it finish
    # before the next test clears the project under it.
    qtbot.waitUntil(lambda: not run_task._IN_FLIGHT, timeout=PANEL_RUN_TIMEOUT_MS)


@pytest.fixture
def info_feedback():
    """A processing feedback that keeps every message it is given."""
    from qgis.core import QgsProcessingFeedback

    class RecordingFeedback(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.messages = []

        def pushInfo(self, info):  # noqa: N802 (QGIS's name)
            self.messages.append(info)
            super().pushInfo(info)

        def reportError(self, error, fatalError=False):  # noqa: N802,N803 (QGIS's names)
            self.messages.append(error)
            super().reportError(error, fatalError)

        def pushWarning(self, warning):  # noqa: N802 (QGIS's name)
            self.messages.append(warning)
            super().pushWarning(warning)

    return RecordingFeedback()
