"""Say clearly why a raster input cannot be used, before the run starts.

QGIS's own message for a corrupt file, a vector file or a missing file is the
same "... not found"; users need to know which it is. Imports neither the core
nor OpenCV, so it works (and explains) even when OpenCV is missing.
"""

from __future__ import annotations

import math
import os
from typing import Iterable, Optional

from osgeo import gdal
from qgis.core import QgsMapLayer, QgsProcessing, QgsProcessingParameterMultipleLayers, QgsProcessingUtils, QgsRasterLayer


def _gdal_open(path: str, kind: int):
    """(dataset or None, error text); works whether or not GDAL exceptions are on,
    because a plugin must not switch them on for all of QGIS."""
    gdal.ErrorReset()
    gdal.PushErrorHandler("CPLQuietErrorHandler")  # the message goes into ours, not onto the console too
    try:
        dataset = gdal.OpenEx(path, kind)
    except RuntimeError as exc:
        return None, str(exc)
    finally:
        gdal.PopErrorHandler()
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
        problem = _raster_file_problem(value)
        if problem is not None:  # a file: judged by GDAL before QGIS tries it as every kind of layer
            return problem or None
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
    return _raster_file_problem(path) or f"{path} opens in GDAL but QGIS cannot load it as a raster layer"


def _raster_file_problem(value: str) -> Optional[str]:
    """For a path to an existing file: why it is no raster ("" when it is one);
    None for anything else (a layer id, a URI). Loading a corrupt file as a
    layer would print QGIS's own "Unable to load mesh (null)" first."""
    path = value.split("|")[0]
    if not os.path.isfile(path):
        return None
    raster, raster_error = _gdal_open(path, gdal.OF_RASTER)
    if raster is None:
        vector, _ = _gdal_open(path, gdal.OF_VECTOR)
        if vector is not None:
            return f"{path} is a vector or table file, not a raster: choose a satellite or aerial image"
        return (
            f"{path} is not an image GDAL can read (a corrupt or incomplete file?): {raster_error or 'GDAL does not recognise the format'}. "
            "Check the file, or download or export it again"
        )
    return ""


class RasterLayersParameter(QgsProcessingParameterMultipleLayers):
    """A multiple raster layers parameter whose generic check does not probe a
    file that is no raster.

    qgis_process checks every parameter value with the definition's own
    ``checkValueIsAcceptable`` before the algorithm's ``checkParameterValues``.
    QGIS's check loads each path as a vector, a raster and then a mesh layer,
    so a corrupt image printed GDAL's errors and "Unable to load mesh (null)"
    before RailWatch's message said what is wrong with the file. Here a path
    that GDAL cannot open as a raster is refused without loading it; the
    algorithm's ``checkParameterValues`` (``input_raster_problem``) then says why.
    """

    def __init__(self, name: str, description: str, optional: bool = False):
        super().__init__(name, description, QgsProcessing.TypeRaster, None, optional)

    def clone(self):
        copy = RasterLayersParameter(self.name(), self.description(), bool(self.flags() & self.FlagOptional))
        copy.setFlags(self.flags())
        copy.setHelp(self.help())
        copy.setMinimumNumberInputs(self.minimumNumberInputs())
        copy.setDefaultValue(self.defaultValue())
        return copy

    def checkValueIsAcceptable(self, value, context=None):  # noqa: N802 (QGIS's name)
        values = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(v, str) and _raster_file_problem(v) for v in values):
            return False
        return super().checkValueIsAcceptable(value, context)


def input_table_problem(value, parameter: str) -> Optional[str]:
    """Why a path given as a table or vector input (``parameter``) is not one, in
    words that name the fix; None when it is a table, or not a path at all.
    QGIS says "... not found" about an image given as a table."""
    if not isinstance(value, str) or not os.path.isfile(value.split("|")[0]):
        return None
    path = value.split("|")[0]
    vector, _ = _gdal_open(path, gdal.OF_VECTOR)
    if vector is not None:
        return None
    raster, _ = _gdal_open(path, gdal.OF_RASTER)
    if raster is not None:
        return f"{parameter}: {path} is an image, not a table: give a table of dates and counts (CSV, GeoPackage, ...)"
    return f"{parameter}: {path} is not a table GDAL can read (a corrupt or incomplete file?): check the file, or export it again"


def unreadable_number(parameters, names: Iterable[str]) -> Optional[str]:
    """The first of ``names`` given as text that is not a finite number, as a
    message naming the fix. QGIS treats such text in an optional number as
    "not set", so ``CURRENT_COUNT=1,200`` would silently become no count."""
    for name in names:
        raw = parameters.get(name)
        if raw is None or isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw):
            continue
        text = str(raw).strip()
        if text == "" or text.upper() == "NULL":
            continue
        try:
            number = float(text)
        except ValueError:
            number = None
        if number is None or not math.isfinite(number):
            return (
                f"{name} is '{raw}', which is not a number: write it with digits and a decimal point only "
                "(no units, no thousands separators, e.g. 1200 or 0.5), or leave it empty"
            )
    return None
