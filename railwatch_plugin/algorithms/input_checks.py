"""Say clearly why a raster input cannot be used, before the run starts.

QGIS's own message for a corrupt file, a vector file or a missing file is the
same "... not found"; users need to know which it is. Imports neither the core
nor OpenCV, so it works (and explains) even when OpenCV is missing.
"""

from __future__ import annotations

import os
from typing import Optional

from osgeo import gdal
from qgis.core import QgsMapLayer, QgsProcessingUtils, QgsRasterLayer


def _gdal_open(path: str, kind: int):
    """(dataset or None, error text); works whether or not GDAL exceptions are on,
    because a plugin must not switch them on for all of QGIS."""
    gdal.ErrorReset()
    try:
        dataset = gdal.OpenEx(path, kind)
    except RuntimeError as exc:
        return None, str(exc)
    return dataset, gdal.GetLastErrorMsg()


def input_raster_problem(value, context) -> Optional[str]:
    """Why ``value`` (a layer, layer id or path given as a raster input) cannot be
    read, in words that name the fix; None when it is a readable raster.

    QGIS's own message for all of these is "... not found", even when the file
    exists but is corrupt or a vector file.
    """
    if isinstance(value, QgsMapLayer):
        layer = value
    elif isinstance(value, str) and value:
        layer = QgsProcessingUtils.mapLayerFromString(value, context)
    else:
        return None  # QGIS reports missing or odd values itself
    if isinstance(layer, QgsRasterLayer) and layer.isValid():
        return None
    if layer is not None and layer.type() != QgsMapLayer.RasterLayer:
        return f"{layer.name()} is a vector layer, not a raster: choose a satellite or aerial image"
    path = str(value).split("|")[0]
    if not os.path.exists(path):
        return f"file not found: {path}"
    raster, raster_error = _gdal_open(path, gdal.OF_RASTER)
    if raster is None:
        vector, _ = _gdal_open(path, gdal.OF_VECTOR)
        if vector is not None:
            return f"{path} is a vector or table file, not a raster: choose a satellite or aerial image"
        return (
            f"{path} is not an image GDAL can read (a corrupt or incomplete file?): {raster_error or 'GDAL does not recognise the format'}. "
            "Check the file, or download or export it again"
        )
    return f"{path} opens in GDAL but QGIS cannot load it as a raster layer"
