"""Say clearly why a raster (or vector) input cannot be used, before the run starts.

QGIS's own message for a corrupt file, a vector file or a missing file is the
same "... not found"; users need to know which it is. Imports neither the core
nor OpenCV, so it works (and explains) even when OpenCV is missing.
"""

from __future__ import annotations

import math
import os
from typing import Iterable, List, Optional, Tuple

from osgeo import gdal
from qgis.core import (
    QgsMapLayer,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingUtils,
    QgsProviderUtils,
    QgsRasterLayer,
    QgsVectorLayer,
)


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
    return _input_layer_problem(value, context, QgsRasterLayer, QgsMapLayer.RasterLayer, _raster_file_problem,
                                "is a vector layer, not a raster: choose a satellite or aerial image", "a raster")


def _raster_file_problem(value: str) -> Optional[str]:
    """For a path to an existing file or folder: why it is no raster ("" when it
    is one); None for anything else (a layer id, a URI). Loading a corrupt file as a
    layer would print QGIS's own "Unable to load mesh (null)" first."""
    path = value.split("|")[0]
    if not os.path.exists(path):
        return None
    raster, raster_error = _gdal_open(path, gdal.OF_RASTER)
    if raster is None and os.path.isdir(path):
        return f"{path} is a folder, not an image: choose an image file in it"
    if raster is None:
        vector, _ = _gdal_open(path, gdal.OF_VECTOR)
        if vector is not None:
            return f"{path} is a vector or table file, not a raster: choose a satellite or aerial image"
        return (
            f"{path} is not an image GDAL can read (a corrupt or incomplete file?): {raster_error or 'GDAL does not recognise the format'}. "
            "Check the file, or download or export it again"
        )
    return ""


def _what_gdal_reads(path: str) -> Tuple[str, str]:
    """What an existing ``path`` is to GDAL, looked at as a vector first:
    ("vector" | "folder" | "raster" | "unreadable", GDAL's error when unreadable)."""
    vector, vector_error = _gdal_open(path, gdal.OF_VECTOR)
    if vector is not None:
        return "vector", ""
    if os.path.isdir(path):
        return "folder", ""
    raster, _ = _gdal_open(path, gdal.OF_RASTER)
    if raster is not None:
        return "raster", ""
    return "unreadable", vector_error or "GDAL does not recognise the format"


def _vector_file_problem(value: str) -> Optional[str]:
    """For a path to an existing file or folder: why it is no vector layer (""
    when it is one); None for anything else (a layer id, a URI)."""
    path = value.split("|")[0]
    if not os.path.exists(path):
        return None
    kind, error = _what_gdal_reads(path)
    if kind == "vector":
        return ""
    if kind == "folder":
        return f"{path} is a folder, not a layer: choose the railcar layer's file in it"
    if kind == "raster":
        return f"{path} is an image, not a layer of railcars: give the railcar layer (points or outlines) that was reviewed"
    return f"{path} is not a layer GDAL can read (a corrupt or incomplete file?): {error}. Check the file, or export it again"


def input_vector_problem(value, context) -> Optional[str]:
    """``input_raster_problem`` for a vector input: why ``value`` (a layer, layer id
    or path) cannot be read as a vector layer; None when it can."""
    return _input_layer_problem(
        value, context, QgsVectorLayer, QgsMapLayer.VectorLayer, _vector_file_problem,
        "is not a layer of features: give the railcar layer (points or outlines) that was reviewed", "a vector")


def _input_layer_problem(value, context, layer_class, layer_type, file_problem, wrong_type: str,
                         kind_words: str) -> Optional[str]:
    """The check behind both: a file is judged by GDAL (``file_problem``) before
    QGIS tries it as every kind of layer; a layer of the other type is named."""
    if isinstance(value, QgsMapLayer):
        layer = value
    elif isinstance(value, str) and value:
        problem = file_problem(value)
        if problem is not None:
            return problem or None
        layer = QgsProcessingUtils.mapLayerFromString(value, context)
    else:
        return None  # QGIS reports missing or odd values itself
    if isinstance(layer, layer_class) and layer.isValid():
        return None
    if layer is not None and layer.type() != layer_type:
        return f"{layer.name()} {wrong_type}"
    path = str(value).split("|")[0]
    if not os.path.exists(path):
        return f"file not found: {path}"
    return file_problem(path) or f"{path} opens in GDAL but QGIS cannot load it as {kind_words} layer"


class _CheckedLayersParameter(QgsProcessingParameterMultipleLayers):
    """A multiple layers parameter whose generic check does not probe a file of
    the wrong kind.

    qgis_process checks every parameter value with the definition's own
    ``checkValueIsAcceptable`` before the algorithm's ``checkParameterValues``.
    QGIS's check loads each path as a vector, a raster and then a mesh layer,
    so a corrupt image printed GDAL's errors and "Unable to load mesh (null)"
    before RailWatch's message said what is wrong with the file. Here a path
    GDAL cannot open as the right kind of layer is refused without loading it;
    the algorithm's ``checkParameterValues`` then says why.
    """

    LAYER_TYPE = QgsProcessing.TypeMapLayer

    def __init__(self, name: str, description: str, optional: bool = False):
        super().__init__(name, description, self.LAYER_TYPE, None, optional)

    @staticmethod
    def file_problem(value: str) -> Optional[str]:
        return None

    def clone(self):
        copy = type(self)(self.name(), self.description(), bool(self.flags() & self.FlagOptional))
        copy.setFlags(self.flags())
        copy.setHelp(self.help())
        copy.setMinimumNumberInputs(self.minimumNumberInputs())
        copy.setDefaultValue(self.defaultValue())
        return copy

    def checkValueIsAcceptable(self, value, context=None):  # noqa: N802 (QGIS's name)
        values = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(v, str) and self.file_problem(v) for v in values):
            return False
        return super().checkValueIsAcceptable(value, context)


class RasterLayersParameter(_CheckedLayersParameter):
    """Several raster layers; a file GDAL cannot read as a raster is refused unloaded."""

    LAYER_TYPE = QgsProcessing.TypeRaster
    file_problem = staticmethod(_raster_file_problem)


class VectorLayersParameter(_CheckedLayersParameter):
    """Several vector layers (any geometry); a file GDAL cannot read as a vector is refused unloaded."""

    LAYER_TYPE = QgsProcessing.TypeVectorAnyGeometry
    file_problem = staticmethod(_vector_file_problem)


class PointLayersParameter(VectorLayersParameter):
    """Several point layers; a file GDAL cannot read as a vector is refused unloaded."""

    LAYER_TYPE = QgsProcessing.TypeVectorPoint


def parameter_values(parameters, name: str) -> list:
    """The values given for a multiple layers parameter, as a list."""
    raw = parameters.get(name)
    return list(raw) if isinstance(raw, (list, tuple)) else ([] if raw in (None, "") else [raw])


def first_layers_problem(parameters, name: str, context, problem_of) -> Optional[str]:
    """"NAME: why" for the first value of the multiple layers parameter ``name`` that
    ``problem_of`` (``input_raster_problem`` or ``input_vector_problem``) refuses;
    None when every value can be used."""
    for value in parameter_values(parameters, name):
        problem = problem_of(value, context)
        if problem:
            return f"{name}: {problem}"
    return None


def raster_layers(parameters, name: str, context) -> List[QgsRasterLayer]:
    """Each value of the multiple layers parameter ``name`` as a valid raster layer,
    or a QgsProcessingException naming the one that is not. A path is opened as a
    raster only: QGIS's ``parameterAsLayerList`` tries it as a vector, a raster and
    a mesh layer (printing "Unable to load mesh (null)" for a corrupt file) and
    silently leaves out what it cannot load. A layer loaded from a path is named as
    ``file_layer_name`` names it."""
    hint = QgsProcessingUtils.LayerHint.Raster
    layers = _layers(parameters, name, context, QgsRasterLayer, hint, input_raster_problem)
    for value, layer in zip(parameter_values(parameters, name), layers):
        name_as_its_file(layer, value, context)
    return layers


def vector_layers(parameters, name: str, context) -> List[QgsVectorLayer]:
    """``raster_layers`` for vector layers."""
    return _layers(parameters, name, context, QgsVectorLayer, QgsProcessingUtils.LayerHint.Vector, input_vector_problem)


def _layers(parameters, name, context, kind, hint, problem_of) -> list:
    layers = []
    for value in parameter_values(parameters, name):
        if isinstance(value, QgsMapLayer):
            layer = value
        elif isinstance(value, str) and value:
            layer = QgsProcessingUtils.mapLayerFromString(value, context, True, hint)
        else:
            layer = None
        if not isinstance(layer, kind) or not layer.isValid():
            problem = problem_of(value, context) or f"{value!r} is not a layer QGIS can open as this input"
            raise QgsProcessingException(f"{name}: {problem}")
        layers.append(layer)
    return layers


def file_layer_name(path: str) -> str:
    """The name QGIS gives a layer added from the file ``path``: the file name without its
    extension ("site.2021-03-01.v2" for site.2021-03-01.v2.tif). A scene read from a file
    is named so, whichever input it came in by."""
    return QgsProviderUtils.suggestLayerNameFromFilePath(path.split("|")[0])


def name_as_its_file(layer: QgsMapLayer, value, context) -> None:
    """Name a layer that Processing loaded from the path ``value`` as ``file_layer_name``
    does: Processing's own name stops at the first dot ("site" for site.2019-06-12.tif and
    for site.2021-03-01.tif alike). A layer of the project (a path Processing found there)
    keeps the name the analyst sees."""
    if layer is None or not isinstance(value, str) or not os.path.isfile(value.split("|")[0]):
        return
    project = context.project()
    if project is not None and project.mapLayer(layer.id()) is not None:
        return
    layer.setName(file_layer_name(value))


def input_table_problem(value, parameter: str) -> Optional[str]:
    """Why a path given as a table or vector input (``parameter``) is not one, in
    words that name the fix; None when it is a table, or not a path at all.
    QGIS says "... not found" about an image given as a table."""
    if not isinstance(value, str) or not os.path.isfile(value.split("|")[0]):
        return None
    path = value.split("|")[0]
    kind, _ = _what_gdal_reads(path)
    if kind == "vector":
        return None
    if kind == "raster":
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
