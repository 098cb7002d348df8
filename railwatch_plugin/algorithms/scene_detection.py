"""Detect railcars on one raster layer: the single code path of every algorithm.

``detect_scene`` checks the layer (CRS, readable, resolution), opens it for
windowed reading in the calling thread, turns TRACKS into pixel polylines, runs
the core detector with progress and cancel, and returns the cars with what is
needed to place them on the map. ``detectrailcars`` and ``counthistory`` both
call it; neither repeats any of it.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field, replace
from typing import List, Optional, Tuple

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeatureRequest,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingException,
    QgsRasterLayer,
    QgsUnitTypes,
)

from .acquired_date import acquired_date, date_in_text
from .detection_parameters import (
    DEFAULT_LENGTH_M,
    DEFAULT_WIDTH_M,
    DetectionSettings,
    model_error_message,
    require_dependencies,
)
from .ground_resolution import NoCrsError, ground_gsd_m, pixel_to_map
from .raster_reading import RasterReadError, bounded_block_cache, open_raster, reading_steps
from .track_lines import raster_extent, track_lines_px


@dataclass
class SceneDetection:
    scene: str
    acquired: Optional[datetime.date]
    crs: object  # QgsCoordinateReferenceSystem (invalid when the raster is not placed on the map)
    geotransform: Tuple[float, ...]  # of the grid the cars' pixel coordinates refer to
    gsd_m: Tuple[float, float]
    cars: list  # core Railcar, confidence >= MIN_CONFIDENCE, inside an AOI polygon when AOI is given
    candidates: list = field(default_factory=list)  # core Railcar below MIN_CONFIDENCE (inside the AOI), kept for review
    aois: Optional[list] = None  # AoiPolygon per AOI feature, when AOI is given
    warnings: List[str] = field(default_factory=list)
    canceled: bool = False
    # Why the image gave nothing to count (no valid pixel, AOI off the image, ...):
    # its count of 0 is no observation. None when the count is one.
    nothing_to_count: Optional[str] = None
    model: str = ""  # the detector model's label (core.model_file.DetectorModel.label)


def detect_scene(layer: QgsRasterLayer, settings: DetectionSettings, context, feedback) -> SceneDetection:
    """Railcars on ``layer``; bad input raises QgsProcessingException naming the fix."""
    require_dependencies()
    from ..core import check_resolution, detect_railcars
    from ..core.frame_net import NET_GSD_M
    from ..core.prepare import SNAP_TOLERANCE

    scene = layer.name()
    if not layer.isValid():
        raise QgsProcessingException(f"{scene}: not a raster QGIS can read ({layer.source()})")
    try:
        opened = open_raster(layer, settings.bands or None)
    except RasterReadError as exc:
        raise QgsProcessingException(f"{scene}: {exc}") from exc
    crs = layer.crs()
    if not (crs.isValid() and opened.georeferenced):
        opened, crs = _unplaced(scene, opened, crs, settings, feedback)
    width, height = opened.source.width, opened.source.height
    if settings.gsd_override_m:
        gsd_m = (settings.gsd_override_m, settings.gsd_override_m)
    else:
        try:
            gsd_m = ground_gsd_m(crs, opened.geotransform, width, height, context.transformContext())
        except ValueError as exc:
            raise QgsProcessingException(f"{scene}: {exc}") from exc
    params = settings.detection_params()
    model = detector_model(settings.model_path)
    resolution = check_resolution(gsd_m, params)
    if not resolution.ok:
        raise QgsProcessingException(f"{scene}: {_too_small_cars(gsd_m, settings) or resolution.message}")
    feedback.pushInfo(f"{scene}: {width} x {height} px, {gsd_m[0]:.3f} x {gsd_m[1]:.3f} m per pixel on the ground; "
                      f"detector model {model.label}")
    steps = reading_steps(gsd_m, NET_GSD_M, SNAP_TOLERANCE)
    if steps != (1, 1):  # finer than the detector works at: read averaged down (memory stays bounded)
        opened = opened.reduced(*steps)
        gsd_m = (gsd_m[0] * steps[0], gsd_m[1] * steps[1])
        width, height = opened.source.width, opened.source.height
        feedback.pushInfo(f"{scene}: read at {gsd_m[0]:.3f} x {gsd_m[1]:.3f} m per pixel ({width} x {height} px)")
    detection = SceneDetection(
        scene=scene,
        acquired=acquired_date(opened.metadata, opened.path or layer.source()) or date_in_text(scene),
        crs=crs,
        geotransform=opened.geotransform,
        gsd_m=gsd_m,
        cars=[],
        model=model.label,
    )

    if settings.aoi is not None:
        detection.aois = aoi_polygons(settings.aoi, crs, context)
        detection.nothing_to_count = _aoi_off_the_image(detection.aois, opened.geotransform, width, height, crs)
        if detection.nothing_to_count:
            return detection
    lines = None
    if settings.tracks is not None:
        map_units_per_m = abs(opened.geotransform[1]) / gsd_m[0]
        margin = 2 * settings.track_buffer_m * map_units_per_m
        lines = track_lines_px(settings.tracks, crs, opened.geotransform, width, height, context.transformContext(), margin)
        if not lines:
            feedback.pushWarning(f"{scene}: no rail centre line from TRACKS crosses this raster, so no car can be kept")

    try:
        with bounded_block_cache():
            result = detect_railcars(
                opened.source,
                gsd_m,
                params,
                track_lines_px=lines,
                track_buffer_m=settings.track_buffer_m,
                progress=lambda fraction: feedback.setProgress(100.0 * fraction),
                is_canceled=feedback.isCanceled,
                model=model,
            )
    except RasterReadError as exc:
        raise QgsProcessingException(f"{scene}: {exc}") from exc
    for warning in result.warnings:
        feedback.pushWarning(f"{scene}: {warning}")
    detection.warnings = list(result.warnings)
    detection.canceled = result.canceled
    detection.cars = list(result.cars)
    detection.candidates = [c for c in result.all_cars if c.confidence < result.min_confidence]
    if detection.aois is not None:
        detection.cars = cars_inside_any(detection.cars, detection.aois, detection.geotransform)
        detection.candidates = cars_inside_any(detection.candidates, detection.aois, detection.geotransform)
    if result.tiles_with_data == 0 and not result.canceled:
        detection.nothing_to_count = (
            "the image has no valid pixel (every pixel is nodata, masked or not a number), so there is nothing to count. "
            "Check the image, its nodata value (Layer Properties > Transparency) or BANDS"
        )
    return detection


def _unplaced(scene, opened, crs, settings, feedback):
    """(opened, crs) for a raster that is not placed on the map (no CRS, or no
    geotransform): counted in its own coordinates when GSD gives the scale."""
    if not settings.gsd_override_m:
        if crs.isValid():
            raise QgsProcessingException(
                f"{scene}: the raster has no geotransform or ground control points, so its pixels are not placed on "
                "the map: georeference it (Raster > Georeferencer), or give its ground resolution in GSD to count "
                "railcars in pixel coordinates"
            )
        raise QgsProcessingException(f"{scene}: {NoCrsError()}")
    if settings.aoi is not None or settings.tracks is not None:
        raise QgsProcessingException(
            f"{scene}: the raster is not placed on the map (no CRS or no geotransform), so AOI and TRACKS cannot be "
            "laid over it: assign its CRS (Raster > Projections > Assign Projection) or leave AOI and TRACKS empty"
        )
    if not opened.georeferenced:
        # QGIS shows a raster without a geotransform with rows going down from 0
        opened = replace(opened, geotransform=(0.0, 1.0, 0.0, 0.0, 0.0, -1.0))
    feedback.pushWarning(
        f"{scene}: the raster is not placed on the map (no CRS or no geotransform); with GSD given, the railcars "
        "are written in its own coordinates, with no CRS, where QGIS shows them over it"
    )
    return opened, QgsCoordinateReferenceSystem()


def _too_small_cars(gsd_m, settings) -> Optional[str]:
    """When the image would resolve railcars of the default sizes but not the
    shortest or narrowest car asked for: a message that blames the parameter."""
    from ..core import check_resolution
    from ..core.resolution import MIN_CAR_LENGTH_PX, MIN_CAR_WIDTH_PX

    defaults = replace(settings, length_m=(DEFAULT_LENGTH_M[0], settings.length_m[1]), width_m=(DEFAULT_WIDTH_M[0], settings.width_m[1]))
    if not check_resolution(gsd_m, defaults.detection_params()).ok:
        return None
    coarse = max(gsd_m)
    parts = []
    for name, metres, pixels in (("MIN_LENGTH_M", settings.length_m[0], MIN_CAR_LENGTH_PX),
                                 ("MIN_WIDTH_M", settings.width_m[0], MIN_CAR_WIDTH_PX)):
        if metres < pixels * coarse - 1e-6:
            least = math.ceil(pixels * coarse * 10 - 1e-6) / 10  # to 10 cm up: 5.0002 m is 5.1 m, not "5 m" again
            parts.append(f"{name} {metres:g} m is {metres / coarse:.1f} px; set it to {least:g} m or more")
    return (
        f"at {coarse:.2f} m per pixel the image resolves railcars, but not as small as asked: " + "; ".join(parts)
        + f" (at least {MIN_CAR_LENGTH_PX:g} px long and {MIN_CAR_WIDTH_PX:g} px wide; "
        f"the defaults are {DEFAULT_LENGTH_M[0]:g} m and {DEFAULT_WIDTH_M[0]:g} m)"
    )


def _aoi_off_the_image(aois, geotransform, width, height, crs) -> Optional[str]:
    """Why the AOI leaves nothing to count on this image, or None."""
    if not aois:
        return "the AOI layer has no polygon (it is empty, or its features have no geometry): choose a layer of polygons over the image"
    extent = QgsGeometry.fromRect(raster_extent(geotransform, width, height))
    if any(a.geometry.intersects(extent) for a in aois):
        return None
    distance = min(a.geometry.distance(extent) for a in aois)
    unit = QgsUnitTypes.toAbbreviatedString(crs.mapUnits())
    return (
        f"no AOI polygon overlaps the image (the nearest is {distance:,.0f} {unit} away from it): choose the AOI of "
        "this site, or check the AOI layer's CRS"
    )


def detector_model(path: Optional[str], parameter: str = "MODEL"):
    """The detector model in ``path`` (None: the shipped one); a bad file raises
    QgsProcessingException naming ``parameter``, the file and the fix."""
    from ..core.model_file import ModelFileError, load_model

    try:
        return load_model(path)
    except ModelFileError as exc:
        raise QgsProcessingException(model_error_message(parameter, exc)) from exc


@dataclass
class AoiPolygon:
    label: str
    geometry: QgsGeometry
    engine: object  # prepared QgsGeometryEngine

    def holds(self, point: QgsPointXY) -> bool:
        # keep the QgsGeometry alive while the engine reads its constGet() pointer
        point_geometry = QgsGeometry.fromPointXY(point)
        return self.engine.intersects(point_geometry.constGet())


_LABEL_FIELDS = ("name", "label", "title", "id", "aoi")


def aoi_polygons(source, crs, context) -> List[AoiPolygon]:
    """Each AOI feature in the raster's CRS, prepared for point-in-polygon tests."""
    request = QgsFeatureRequest().setDestinationCrs(crs, context.transformContext())
    names = {f.name().lower(): f.name() for f in source.fields()}
    label_field = next((names[n] for n in _LABEL_FIELDS if n in names), None)
    polygons = []
    for feature in source.getFeatures(request):
        geometry = feature.geometry()
        if geometry.isNull() or geometry.isEmpty():
            continue
        value = feature[label_field] if label_field else None
        label = str(value) if value not in (None, "") and not _is_null(value) else f"feature {feature.id()}"
        engine = QgsGeometry.createGeometryEngine(geometry.constGet())
        engine.prepareGeometry()
        polygons.append(AoiPolygon(label, geometry, engine))
    return polygons


def _is_null(value) -> bool:
    return hasattr(value, "isNull") and value.isNull()


def car_map_point(car, geotransform) -> QgsPointXY:
    return QgsPointXY(*pixel_to_map(geotransform, car.col_px, car.row_px))


def cars_inside(cars, polygon: AoiPolygon, geotransform) -> list:
    return [car for car in cars if polygon.holds(car_map_point(car, geotransform))]


def cars_inside_any(cars, polygons: List[AoiPolygon], geotransform) -> list:
    return [car for car in cars if any(p.holds(car_map_point(car, geotransform)) for p in polygons)]

