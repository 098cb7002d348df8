"""Detect railcars on one raster layer: the single code path of every algorithm.

``detect_scene`` checks the layer (CRS, readable, resolution), opens it for
windowed reading in the calling thread, turns TRACKS into pixel polylines, runs
the core detector with progress and cancel, and returns the cars with what is
needed to place them on the map. ``detectrailcars`` and ``counthistory`` both
call it; neither repeats any of it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from qgis.core import QgsFeatureRequest, QgsGeometry, QgsPointXY, QgsProcessingException, QgsRasterLayer

from .acquired_date import acquired_date, date_in_text
from .detection_parameters import DetectionSettings, require_dependencies
from .ground_resolution import NoCrsError, ground_gsd_m, pixel_to_map
from .raster_reading import RasterReadError, open_raster
from .track_lines import track_lines_px


@dataclass
class SceneDetection:
    scene: str
    acquired: Optional[datetime.date]
    crs: object  # QgsCoordinateReferenceSystem
    geotransform: Tuple[float, ...]
    gsd_m: Tuple[float, float]
    cars: list  # core Railcar, confidence >= MIN_CONFIDENCE
    warnings: List[str] = field(default_factory=list)
    canceled: bool = False
    model: str = ""  # the detector model's label (core.model_file.DetectorModel.label)


def detect_scene(layer: QgsRasterLayer, settings: DetectionSettings, context, feedback) -> SceneDetection:
    """Railcars on ``layer``; bad input raises QgsProcessingException naming the fix."""
    require_dependencies()
    from ..core import check_resolution, detect_railcars

    scene = layer.name()
    if not layer.isValid():
        raise QgsProcessingException(f"{scene}: not a raster QGIS can read ({layer.source()})")
    crs = layer.crs()
    if not crs.isValid():
        raise QgsProcessingException(f"{scene}: {NoCrsError()}")
    try:
        opened = open_raster(layer, settings.bands or None)
    except RasterReadError as exc:
        raise QgsProcessingException(f"{scene}: {exc}") from exc
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
        raise QgsProcessingException(f"{scene}: {resolution.message}")
    feedback.pushInfo(f"{scene}: {width} x {height} px, {gsd_m[0]:.3f} x {gsd_m[1]:.3f} m per pixel on the ground; "
                      f"detector model {model.label}")

    lines = None
    if settings.tracks is not None:
        map_units_per_m = abs(opened.geotransform[1]) / gsd_m[0]
        margin = 2 * settings.track_buffer_m * map_units_per_m
        lines = track_lines_px(settings.tracks, crs, opened.geotransform, width, height, context.transformContext(), margin)
        if not lines:
            feedback.reportError(f"{scene}: no rail centre line from TRACKS crosses this raster, so no car can be kept", False)

    try:
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
        feedback.reportError(f"{scene}: {warning}", False)
    acquired = acquired_date(opened.metadata, opened.path or layer.source()) or date_in_text(scene)
    return SceneDetection(
        scene=scene,
        acquired=acquired,
        crs=crs,
        geotransform=opened.geotransform,
        gsd_m=gsd_m,
        cars=list(result.cars),
        warnings=list(result.warnings),
        canceled=result.canceled,
        model=model.label,
    )


def detector_model(path: Optional[str]):
    """The detector model in ``path`` (None: the shipped one); a bad file raises QgsProcessingException."""
    from ..core.model_file import ModelFileError, load_model

    try:
        return load_model(path)
    except ModelFileError as exc:
        raise QgsProcessingException(f"MODEL: {exc}") from exc


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

