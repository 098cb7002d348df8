"""The detection parameters every RailWatch algorithm shares, defined once.

``add_detection_parameters`` adds them to an algorithm; ``read_detection_settings``
turns the values of one run into a :class:`DetectionSettings`. Algorithms call
both instead of inheriting them, and nothing is kept on the algorithm instance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterBand,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsWkbTypes,
)

from ..dependencies import missing_dependency_message
from .input_checks import unreadable_number

GSD = "GSD"
BANDS = "BANDS"
TRACKS = "TRACKS"
TRACK_BUFFER = "TRACK_BUFFER"
AOI = "AOI"
MIN_LENGTH_M = "MIN_LENGTH_M"
MAX_LENGTH_M = "MAX_LENGTH_M"
MIN_WIDTH_M = "MIN_WIDTH_M"
MAX_WIDTH_M = "MAX_WIDTH_M"
MIN_CONFIDENCE = "MIN_CONFIDENCE"
MODEL = "MODEL"
NUMBERS = (GSD, TRACK_BUFFER, MIN_LENGTH_M, MAX_LENGTH_M, MIN_WIDTH_M, MAX_WIDTH_M, MIN_CONFIDENCE)

# The core's DetectionParams defaults, repeated here so the toolbox can list the
# algorithms even when OpenCV (which the core imports) is missing; a test keeps
# the two in step.
DEFAULT_LENGTH_M = (10.0, 35.0)
DEFAULT_WIDTH_M = (2.4, 3.6)
DEFAULT_MIN_CONFIDENCE = 0.5
DEFAULT_TRACK_BUFFER_M = 6.0


@dataclass
class DetectionSettings:
    """What one run asked for; the feature sources are read per raster."""

    gsd_override_m: Optional[float]
    bands: List[int]
    tracks: object  # QgsProcessingFeatureSource or None
    track_buffer_m: float
    aoi: object  # QgsProcessingFeatureSource or None
    length_m: Tuple[float, float]
    width_m: Tuple[float, float]
    min_confidence: float
    model_path: Optional[str] = None  # a detector model file (railwatch:adaptdetector); None: the shipped one

    def detection_params(self):
        """The core's DetectionParams for these settings (imports OpenCV)."""
        from ..core import DetectionParams

        return DetectionParams(car_length_m=self.length_m, car_width_m=self.width_m, min_confidence=self.min_confidence)


def with_help(parameter: QgsProcessingParameterDefinition, text: str, advanced: bool = False):
    """Attach help (QGIS >= 3.16) and optionally mark the parameter advanced."""
    if hasattr(parameter, "setHelp"):
        parameter.setHelp(text)
    if advanced:
        parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    return parameter


def _metres(name, description, default, minimum=0.0, maximum=None, optional=False):
    parameter = QgsProcessingParameterNumber(
        name, description, QgsProcessingParameterNumber.Double, defaultValue=default, optional=optional, minValue=minimum
    )
    if maximum is not None:
        parameter.setMaximum(maximum)
    return parameter


def add_detection_parameters(algorithm, band_parent: str = "", aoi_help: str = "") -> None:
    """Add GSD, BANDS, TRACKS, TRACK_BUFFER, AOI, the advanced size/confidence parameters and MODEL."""
    add = algorithm.addParameter
    add(with_help(
        _metres(GSD, "Ground resolution override (m per pixel)", None, optional=True),
        "Leave empty to compute metres per pixel on the ground from the raster's CRS "
        "(works for metres, feet, degrees and Web Mercator). Set it when the CRS is wrong or unknown: a raster "
        "with no CRS (or no georeferencing) is then counted, its railcars written in its own coordinates with "
        "no CRS, where QGIS shows them over it.",
    ))
    add(with_help(
        QgsProcessingParameterBand(BANDS, "Bands", None, band_parent or "", optional=True, allowMultiple=True),
        "Bands to use, 1-based. Empty: the red, green and blue bands if the raster labels them, "
        "else the first three bands that are not alpha.",
    ))
    add(with_help(
        QgsProcessingParameterFeatureSource(TRACKS, "Rail centre lines", [QgsProcessing.TypeVectorLine], optional=True),
        "Optional lines along the rails (for example OpenStreetMap railway=rail). "
        "Only cars within the track buffer of a line are kept, which removes look-alikes such as trucks.",
    ))
    add(with_help(
        _metres(TRACK_BUFFER, "Track buffer (m)", DEFAULT_TRACK_BUFFER_M, minimum=0.5),
        "How far (metres on the ground) a car's centre may lie from a rail centre line.",
    ))
    add(with_help(
        QgsProcessingParameterFeatureSource(AOI, "Areas of interest", [QgsProcessing.TypeVectorPolygon], optional=True),
        aoi_help or "Optional polygons: only cars inside them are kept.",
    ))
    add(with_help(
        _metres(MIN_LENGTH_M, "Shortest car (m)", DEFAULT_LENGTH_M[0], minimum=1.0), "Cars shorter than this are not counted.", advanced=True))
    add(with_help(
        _metres(MAX_LENGTH_M, "Longest car (m)", DEFAULT_LENGTH_M[1], minimum=1.0), "Cars longer than this are not counted. The longest railcars are about 28 m; the default leaves room "
        "for a stated pixel size that is 10-20 % too large.", advanced=True))
    add(with_help(
        _metres(MIN_WIDTH_M, "Narrowest car (m)", DEFAULT_WIDTH_M[0], minimum=0.5), "Cars narrower than this are not counted.", advanced=True))
    add(with_help(
        _metres(MAX_WIDTH_M, "Widest car (m)", DEFAULT_WIDTH_M[1], minimum=0.5), "Cars wider than this are not counted.", advanced=True))
    add(with_help(
        _metres(MIN_CONFIDENCE, "Minimum confidence (0-1)", DEFAULT_MIN_CONFIDENCE, minimum=0.0, maximum=1.0),
        "Detections below this confidence are left out of the outputs and the count. The confidence is the "
        "detector's probability that a detection is a railcar: at the default 0.5, a car is kept when it is "
        "more likely real than not. A car standing end to end with a car the detector is sure of gets the "
        "higher probability measured for such cars (coupled cars whose gaps do not show are often doubted one "
        "by one).",
        advanced=True,
    ))
    add(model_parameter(MODEL, "Detector model", True,
                        "Optional detector model file (.npz) made by 'Adapt the detector to reviewed cars' for "
                        "this site's imagery. Empty: the model shipped with RailWatch. The model's name goes into "
                        "every output, so a count always says which model made it."))


def model_parameter(name: str, description: str, optional: bool, text: str):
    """A model file parameter (.npz), with help."""
    return with_help(QgsProcessingParameterFile(name, description, QgsProcessingParameterFile.File, "npz",
                                                optional=optional, fileFilter="RailWatch detector model (*.npz)"), text)


def model_error_message(name: str, error) -> str:
    """A model file problem (a core ModelFileError) as the parameter ``name``'s, with the fix."""
    return (f"{name}: {str(error).rstrip('.')}. Choose a model file written by 'Adapt the detector to reviewed "
            f"cars', or leave {name} empty to use the model shipped with RailWatch.")


def model_problem(algorithm, parameters, context, name: str = MODEL) -> Optional[str]:
    """Why the detector model file given as ``name`` cannot be used, naming the file
    and the fix; None when it can, when none is given, or when OpenCV (which the
    detector needs) is missing: that is reported on its own. Reads the file once;
    the run then uses the cached model (core.model_file.load_model)."""
    if parameters.get(name) in (None, "") or missing_dependency_message():
        return None
    path = algorithm.parameterAsFile(parameters, name, context)
    if not path:
        return None
    from ..core.model_file import ModelFileError, load_model

    try:
        load_model(path)
    except ModelFileError as exc:
        return model_error_message(name, exc)
    return None


def require_model(algorithm, parameters, context, name: str = MODEL) -> None:
    """Raise a QgsProcessingException naming the file and the fix when the model
    file given as ``name`` cannot be used: called first thing in processAlgorithm,
    before any image is read or any output created (a background task runs the
    algorithm without checkParameterValues)."""
    problem = model_problem(algorithm, parameters, context, name)
    if problem:
        raise QgsProcessingException(problem)


def require_dependencies() -> None:
    """Raise a QgsProcessingException naming the fix when OpenCV is missing."""
    message = missing_dependency_message()
    if message:
        raise QgsProcessingException(message)


def parameter_problem(parameters) -> Optional[str]:
    """What is wrong with the detection parameters as given, before QGIS reads
    them (it reads ``GSD=abc`` as not set, and ``BANDS=3,2,1`` as band 0);
    None when nothing is."""
    raw_bands = parameters.get(BANDS)
    if raw_bands not in (None, "", []) and band_numbers(raw_bands) is None:
        return f"BANDS is '{raw_bands}', which is not a list of band numbers: give them 1-based, e.g. 3,2,1, or leave it empty"
    return unreadable_number(parameters, NUMBERS)


def band_numbers(raw) -> Optional[List[int]]:
    """Band numbers from a list (the toolbox, processing.run, repeated
    qgis_process arguments) or a text such as "3,2,1"; None when unreadable."""
    items = raw if isinstance(raw, (list, tuple)) else re.split(r"[,;\s]+", str(raw).strip())
    numbers = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            value = float(text)
        except ValueError:
            return None
        if not value.is_integer():
            return None
        numbers.append(int(value))
    return numbers


def _wrong_geometry_message(name: str, source, wanted) -> str:
    have = QgsWkbTypes.geometryDisplayString(QgsWkbTypes.geometryType(source.wkbType())).lower()
    if name == TRACKS:
        return (
            f"TRACKS holds {have} geometries ({source.sourceName()}), not lines: give rail centre lines (for example "
            "OpenStreetMap railway=rail); to use polygons' outlines, convert them with Polygons to lines"
        )
    return (
        f"AOI holds {have} geometries ({source.sourceName()}), not polygons, so no car can lie inside it: "
        "give polygons around the areas to count (for example the rail yard)"
    )


def read_detection_settings(algorithm, parameters, context) -> DetectionSettings:
    """Values of one run, checked; bad combinations raise QgsProcessingException."""
    problem = parameter_problem(parameters)
    if problem:
        raise QgsProcessingException(problem)
    raw_gsd = parameters.get(GSD)
    gsd = algorithm.parameterAsDouble(parameters, GSD, context) if raw_gsd not in (None, "") else 0.0
    length_m = (algorithm.parameterAsDouble(parameters, MIN_LENGTH_M, context), algorithm.parameterAsDouble(parameters, MAX_LENGTH_M, context))
    width_m = (algorithm.parameterAsDouble(parameters, MIN_WIDTH_M, context), algorithm.parameterAsDouble(parameters, MAX_WIDTH_M, context))
    if length_m[0] > length_m[1]:
        raise QgsProcessingException(f"Shortest car ({length_m[0]} m) is longer than longest car ({length_m[1]} m): swap or fix MIN_LENGTH_M / MAX_LENGTH_M")
    if width_m[0] > width_m[1]:
        raise QgsProcessingException(f"Narrowest car ({width_m[0]} m) is wider than widest car ({width_m[1]} m): swap or fix MIN_WIDTH_M / MAX_WIDTH_M")
    tracks = algorithm.parameterAsSource(parameters, TRACKS, context) if parameters.get(TRACKS) not in (None, "") else None
    if parameters.get(TRACKS) not in (None, "") and tracks is None:
        raise QgsProcessingException(algorithm.invalidSourceError(parameters, TRACKS))
    aoi = algorithm.parameterAsSource(parameters, AOI, context) if parameters.get(AOI) not in (None, "") else None
    if parameters.get(AOI) not in (None, "") and aoi is None:
        raise QgsProcessingException(algorithm.invalidSourceError(parameters, AOI))
    for name, source, wanted in ((TRACKS, tracks, QgsWkbTypes.LineGeometry), (AOI, aoi, QgsWkbTypes.PolygonGeometry)):
        if source is not None and QgsWkbTypes.geometryType(source.wkbType()) != wanted:
            raise QgsProcessingException(_wrong_geometry_message(name, source, wanted))
    bands = band_numbers(parameters.get(BANDS)) if parameters.get(BANDS) not in (None, "", []) else []
    return DetectionSettings(
        gsd_override_m=gsd if gsd > 0 else None,
        bands=[int(b) for b in bands],
        tracks=tracks,
        track_buffer_m=algorithm.parameterAsDouble(parameters, TRACK_BUFFER, context),
        aoi=aoi,
        length_m=length_m,
        width_m=width_m,
        min_confidence=algorithm.parameterAsDouble(parameters, MIN_CONFIDENCE, context),
        model_path=algorithm.parameterAsFile(parameters, MODEL, context) or None,
    )
