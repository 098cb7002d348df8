"""Third-party packages RailWatch needs, checked in one place.

QGIS ships numpy and GDAL but not OpenCV. The provider, the algorithms and the
panel all call :func:`missing_dependency_message` so a missing package is
reported once, in words naming the fix, instead of breaking QGIS start-up.
"""

from __future__ import annotations

from typing import Optional

OPENCV_FIX = (
    "RailWatch needs OpenCV: install the opencv-python-headless package into the Python "
    "that QGIS uses (for example `python3 -m pip install --user opencv-python-headless`, "
    "or run scripts/setup.sh), then restart QGIS."
)


def missing_dependency_message() -> Optional[str]:
    """None when everything imports, else a sentence naming what to install."""
    try:
        import cv2  # noqa: F401
    except ImportError as exc:
        return f"{OPENCV_FIX} (import error: {exc})"
    return None
