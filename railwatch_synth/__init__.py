"""Seeded synthetic rail-yard scenes with ground truth, for testing RailWatch.

Scenes are modelled in metres, drawn supersampled and degraded like a real
sensor, so a detector can be judged on pictures that look like the real thing.
numpy + OpenCV only; GDAL is imported only inside the GeoTIFF writers.
"""

from .big_raster import write_big_raster
from .geotiff import write_geotiff
from .model import CAR_KINDS, TrueCar, YardScene
from .scene import make_yard

__all__ = ["make_yard", "write_geotiff", "write_big_raster", "YardScene", "TrueCar", "CAR_KINDS"]
