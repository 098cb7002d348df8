"""Rail centre lines from a vector layer, as polylines in raster pixels.

The detector keeps only cars near the given lines; it works in pixels, so each
line is reprojected to the raster CRS (by the feature request) and then taken
through the inverse geotransform.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np
from qgis.core import QgsFeatureRequest, QgsGeometry, QgsRectangle, QgsWkbTypes

from .ground_resolution import pixel_to_map


def inverse_geotransform(gt: Sequence[float]) -> Tuple[float, float, float, float, float, float]:
    """GDAL's InvGeoTransform: map (x, y) -> pixel (col, row)."""
    det = gt[1] * gt[5] - gt[2] * gt[4]
    if det == 0:
        raise ValueError(f"geotransform {tuple(gt)} cannot be inverted")
    inv1, inv2 = gt[5] / det, -gt[2] / det
    inv4, inv5 = -gt[4] / det, gt[1] / det
    return (
        -gt[0] * inv1 - gt[3] * inv2,
        inv1,
        inv2,
        -gt[0] * inv4 - gt[3] * inv5,
        inv4,
        inv5,
    )


def map_to_pixel(inverse_gt: Sequence[float], xy: np.ndarray) -> np.ndarray:
    """(N, 2) map coordinates to (N, 2) (col, row) pixel coordinates."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    col = inverse_gt[0] + xy[:, 0] * inverse_gt[1] + xy[:, 1] * inverse_gt[2]
    row = inverse_gt[3] + xy[:, 0] * inverse_gt[4] + xy[:, 1] * inverse_gt[5]
    return np.column_stack([col, row])


def raster_extent(geotransform: Sequence[float], width_px: int, height_px: int, margin: float = 0.0) -> QgsRectangle:
    """Bounding rectangle of the raster in map units, grown by ``margin``."""
    corners = [pixel_to_map(geotransform, c, r) for c in (0, width_px) for r in (0, height_px)]
    xs, ys = [p[0] for p in corners], [p[1] for p in corners]
    return QgsRectangle(min(xs) - margin, min(ys) - margin, max(xs) + margin, max(ys) + margin)


def track_lines_px(feature_source, raster_crs, geotransform, width_px, height_px, transform_context, margin_map=0.0) -> List[np.ndarray]:
    """Every line part of ``feature_source`` near the raster, as (N, 2) (col, row) arrays."""
    request = QgsFeatureRequest().setDestinationCrs(raster_crs, transform_context)
    request.setFilterRect(raster_extent(geotransform, width_px, height_px, margin_map))
    request.setNoAttributes()
    inverse_gt = inverse_geotransform(geotransform)
    lines: List[np.ndarray] = []
    for feature in feature_source.getFeatures(request):
        geometry: QgsGeometry = feature.geometry()
        if geometry.isNull() or geometry.type() != QgsWkbTypes.LineGeometry:
            continue
        parts = geometry.asMultiPolyline() if geometry.isMultipart() else [geometry.asPolyline()]
        for part in parts:
            if len(part) >= 2:
                lines.append(map_to_pixel(inverse_gt, [(p.x(), p.y()) for p in part]))
    return lines
