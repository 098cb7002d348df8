"""What the panel says about the active layer: is it a raster, what is its ground
sample distance in metres, and can railcars be resolved at it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from qgis.core import QgsMapLayer, QgsProject, QgsRasterLayer  # noqa: F401 (QgsMapLayer: typing)

from ..core import check_resolution


@dataclass(frozen=True)
class LayerStatus:
    runnable: bool  # Run may be pressed for this layer
    title: str  # one line naming the layer
    detail: str  # GSD and the resolution verdict, or why this layer cannot be used
    gsd_m: Optional[float] = None  # coarser of the two ground pixel sizes


def ground_gsd_m(layer: QgsRasterLayer):
    """Ground metres per pixel (x, y) at the raster's centre, for any CRS: the same
    helper the Processing algorithms use, so the panel and the toolbox agree."""
    from ..algorithms.ground_resolution import ground_gsd_m as processing_ground_gsd_m

    extent = layer.extent()
    geotransform = (
        extent.xMinimum(), layer.rasterUnitsPerPixelX(), 0.0,
        extent.yMaximum(), 0.0, -layer.rasterUnitsPerPixelY(),
    )
    return processing_ground_gsd_m(
        layer.crs(), geotransform, layer.width(), layer.height(), QgsProject.instance().transformContext()
    )


def describe_layer(layer: Optional[QgsMapLayer]) -> LayerStatus:
    if layer is None:
        return LayerStatus(False, "No layer selected", "Select a raster image in the Layers panel to count railcars.")
    if not isinstance(layer, QgsRasterLayer):
        return LayerStatus(
            False,
            f"{layer.name()} is not a raster",
            "RailWatch counts railcars on images. Select a raster layer (an aerial or satellite image).",
        )
    if not layer.isValid():
        return LayerStatus(False, f"{layer.name()} cannot be read", "The raster's source is missing or corrupt.")
    if not layer.crs().isValid():
        return LayerStatus(
            False,
            f"{layer.name()} has no coordinate reference system",
            "Set the layer's CRS (Layer Properties > Source) so pixel sizes can be measured in metres.",
        )
    try:
        gx, gy = ground_gsd_m(layer)
    except Exception as exc:  # a CRS QGIS cannot measure in: say so rather than crash the panel
        return LayerStatus(False, layer.name(), f"Could not measure the pixel size in metres: {exc}")
    if not (gx > 0 and gy > 0):
        return LayerStatus(False, layer.name(), "Could not measure the pixel size in metres.")
    check = check_resolution((gx, gy))
    gsd = max(gx, gy)
    if check.ok:
        detail = (
            f"GSD {gsd:.2f} m per pixel. Railcars can be resolved: a 2.4 m wide car is "
            f"{check.car_width_px:.1f} px wide."
        )
    else:
        # The core's message ends with the fix ("Use imagery of ... or finer."): keep it.
        fix = check.message[check.message.rfind("Use imagery"):] if "Use imagery" in check.message else check.message
        detail = (
            f"GSD {gsd:.2f} m per pixel. Too coarse to resolve railcars: a 2.4 m wide car is "
            f"{check.car_width_px:.1f} px wide. {fix}"
        )
    return LayerStatus(check.ok, layer.name(), detail, gsd)
