"""The detection core: numpy and OpenCV only, no QGIS, usable anywhere.

    from railwatch_plugin.core import detect_railcars_in_array, DetectionParams
    result = detect_railcars_in_array(image, gsd_m=0.5)
    print(len(result.cars))
"""

from .detect import detect_railcars, detect_railcars_in_array, merge_duplicates, tile_grid
from .model import (
    CAR_KINDS,
    METHOD_GAP,
    METHOD_LENGTH,
    METHOD_SINGLE,
    DetectionParams,
    DetectionResult,
    Railcar,
    ResolutionCheck,
    gsd_xy,
)
from .resolution import check_resolution
from .source import ArraySource, TileSource, Window

__all__ = [
    "ArraySource", "CAR_KINDS", "DetectionParams", "DetectionResult", "METHOD_GAP", "METHOD_LENGTH",
    "METHOD_SINGLE", "Railcar", "ResolutionCheck", "TileSource", "Window", "check_resolution",
    "detect_railcars", "detect_railcars_in_array", "gsd_xy", "merge_duplicates", "tile_grid",
]
