"""Ground metres per pixel from a raster's CRS and geotransform, for any CRS.

The detector works in metres on the ground, and a pixel's size in map units is
not that size on the ground:

* projected in metres (UTM): the same, up to the projection's scale factor;
* projected in US survey or international feet: a unit conversion;
* geographic (degrees): a degree of longitude shrinks with latitude, so x and
  y differ and both depend on where the raster is;
* Web Mercator (EPSG:3857): map metres are stretched by 1/cos(latitude), so at
  70 N a "1 m" pixel covers 0.34 m of ground.

One rule covers all of them: measure the pixel's two sides on the ellipsoid at
the raster centre (``QgsDistanceArea``). When the CRS has no usable ellipsoid
we fall back to the map unit's length in metres (``QgsUnitTypes``), or, for
degrees, the local length of a degree on WGS 84.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransformContext,
    QgsDistanceArea,
    QgsPointXY,
    QgsUnitTypes,
)

GeoTransform = Sequence[float]  # GDAL order: x0, dx/dcol, dx/drow, y0, dy/dcol, dy/drow

NO_CRS_MESSAGE = (
    "raster has no coordinate reference system: set one with Layer Properties > Source "
    "(or assign a CRS with Raster > Projections > Assign Projection) and run again, or give its ground "
    "resolution in GSD to count railcars in the raster's own coordinates"
)

# Pixels measured on each side of the centre: long enough that rounding in the
# CRS transform does not matter, short enough that scale does not change.
_MEASURE_HALF_SPAN_PX = 50


class NoCrsError(ValueError):
    """The raster has no (valid) coordinate reference system."""

    def __init__(self):
        super().__init__(NO_CRS_MESSAGE)


def pixel_to_map(geotransform: GeoTransform, col_px: float, row_px: float) -> Tuple[float, float]:
    """GDAL pixel coordinates (col, row) to map coordinates."""
    gt = geotransform
    return gt[0] + col_px * gt[1] + row_px * gt[2], gt[3] + col_px * gt[4] + row_px * gt[5]


def _pixel_axes(geotransform: GeoTransform):
    """Unit vectors (in map x, y) of the image's right (along a row) and up (against the columns)."""
    gt = geotransform
    right, up = (gt[1], gt[4]), (-gt[2], -gt[5])
    return tuple((x / math.hypot(x, y), y / math.hypot(x, y)) for x, y in (right, up))


def heading_on_map(heading_px_deg: float, geotransform: GeoTransform) -> float:
    """A heading clockwise from the image's up (the detector's) as one clockwise from the
    map's north (grid up): the same on north-up images; rotated or south-up images differ.
    (A rotated image in degrees is taken with square map units: a close approximation.)"""
    right, up = _pixel_axes(geotransform)
    h = math.radians(heading_px_deg)
    east, north = (math.sin(h) * right[i] + math.cos(h) * up[i] for i in (0, 1))
    return _half_turn(math.atan2(east, north))


def heading_in_pixels(heading_map_deg: float, geotransform: GeoTransform) -> float:
    """The inverse of :func:`heading_on_map`: a heading clockwise from the map's north as one
    clockwise from the image's up."""
    right, up = _pixel_axes(geotransform)
    h = math.radians(heading_map_deg)
    east, north = math.sin(h), math.cos(h)
    along_right, along_up = east * right[0] + north * right[1], east * up[0] + north * up[1]
    return _half_turn(math.atan2(along_right, along_up))


def _half_turn(radians: float) -> float:
    """An axis's direction in degrees, 0 <= d < 180 (rounding first, so -1e-15 is 0, not 180)."""
    return round(math.degrees(radians), 9) % 180.0


def ground_gsd_m(
    crs: QgsCoordinateReferenceSystem,
    geotransform: GeoTransform,
    width_px: int,
    height_px: int,
    transform_context: Optional[QgsCoordinateTransformContext] = None,
) -> Tuple[float, float]:
    """(x, y) ground metres per pixel at the raster centre.

    Raises NoCrsError when ``crs`` is invalid and ValueError when the pixel size
    cannot be turned into metres (unknown map units).
    """
    if crs is None or not crs.isValid():
        raise NoCrsError()
    centre = (width_px / 2.0, height_px / 2.0)
    measured = _ellipsoidal_gsd_m(crs, geotransform, centre, transform_context)
    if measured is not None:
        return measured
    return _map_unit_gsd_m(crs, geotransform, centre)


def _ellipsoidal_gsd_m(crs, geotransform, centre, transform_context) -> Optional[Tuple[float, float]]:
    ellipsoid = crs.ellipsoidAcronym()
    if not ellipsoid or ellipsoid.upper() == "NONE":
        return None
    distance = QgsDistanceArea()
    distance.setSourceCrs(crs, transform_context or QgsCoordinateTransformContext())
    if not distance.setEllipsoid(ellipsoid) or not distance.willUseEllipsoid():
        return None
    col, row = centre
    span = 2 * _MEASURE_HALF_SPAN_PX
    result = []
    for dcol, drow in ((_MEASURE_HALF_SPAN_PX, 0), (0, _MEASURE_HALF_SPAN_PX)):
        a = QgsPointXY(*pixel_to_map(geotransform, col - dcol, row - drow))
        b = QgsPointXY(*pixel_to_map(geotransform, col + dcol, row + drow))
        try:
            metres = distance.measureLine(a, b)
        except Exception:  # QgsCsException: centre outside the CRS's area of use
            return None
        if not (math.isfinite(metres) and metres > 0):
            return None
        result.append(metres / span)
    return result[0], result[1]


def _map_unit_gsd_m(crs, geotransform, centre) -> Tuple[float, float]:
    gt = geotransform
    size_x = math.hypot(gt[1], gt[4])
    size_y = math.hypot(gt[2], gt[5])
    if crs.isGeographic():
        _, lat = pixel_to_map(gt, *centre)
        per_deg_x, per_deg_y = metres_per_degree(lat)
        return size_x * per_deg_x, size_y * per_deg_y
    units = crs.mapUnits()
    if units == QgsUnitTypes.DistanceUnknownUnit:
        raise ValueError(
            f"the raster's CRS ({crs.authid() or crs.description()}) has unknown map units: "
            "give the ground resolution with the GSD parameter"
        )
    factor = QgsUnitTypes.fromUnitToUnitFactor(units, QgsUnitTypes.DistanceMeters)
    return size_x * factor, size_y * factor


def metres_per_degree(latitude_deg: float) -> Tuple[float, float]:
    """Length in metres of one degree of longitude and of latitude on WGS 84."""
    phi = math.radians(latitude_deg)
    lat_m = 111132.92 - 559.82 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi) - 0.0023 * math.cos(6 * phi)
    lon_m = 111412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi) + 0.118 * math.cos(5 * phi)
    return lon_m, lat_m
