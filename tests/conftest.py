"""Shared fixtures: the real plugin loaded into real (offscreen) QGIS.

Core tests (tests/core) do not use these and never import QGIS.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def railwatch_plugin(qgis_app, qgis_processing, qgis_iface):
    """The plugin as QGIS loads it: classFactory(iface), then initProcessing()."""
    import railwatch_plugin

    plugin = railwatch_plugin.classFactory(qgis_iface)
    plugin.initProcessing()
    yield plugin
    plugin.unload()
