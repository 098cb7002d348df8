"""The plugin's icon and version, read from the files QGIS itself uses."""

from __future__ import annotations

import configparser
import os

from qgis.PyQt.QtGui import QIcon

PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ICON_PATH = os.path.join(PLUGIN_DIR, "icons", "railwatch.svg")


def plugin_version() -> str:
    """``version`` from metadata.txt (next to the package in a checkout, inside it when installed)."""
    for folder in (PLUGIN_DIR, os.path.dirname(PLUGIN_DIR)):
        path = os.path.join(folder, "metadata.txt")
        if os.path.exists(path):
            parser = configparser.ConfigParser(interpolation=None)
            parser.read(path, encoding="utf-8")
            return parser.get("general", "version", fallback="")
    return ""


def algorithm_icon() -> QIcon:
    return QIcon(ICON_PATH)
