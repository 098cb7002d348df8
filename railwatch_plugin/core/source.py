"""Where pixels come from. The detector only ever asks for windows, so a raster
of any size is processed in bounded memory; front ends adapt GDAL, a QGIS data
provider or a numpy array to this protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol

import numpy as np


@dataclass
class Window:
    """Pixels of one window: ``data`` is (rows, cols, bands); ``valid`` is a
    (rows, cols) bool array, or None when every pixel is valid."""

    data: np.ndarray
    valid: Optional[np.ndarray] = None


def finite_pixels(window: Window) -> Window:
    """``window`` with its NaN and infinite pixels (in any band) made invalid,
    as nodata is: one NaN in a float tile made its whole brightness scale
    NaN, and the tile held no car."""
    data = window.data
    if data.dtype.kind != "f":
        return window
    finite = np.isfinite(data).all(axis=2)
    if finite.all():
        return window
    valid = finite if window.valid is None else (window.valid & finite)
    return Window(data=np.where(finite[:, :, None], data, 0).astype(data.dtype, copy=False), valid=valid)


class TileSource(Protocol):
    width: int
    height: int

    def read(self, col0: int, row0: int, cols: int, rows: int) -> Window:
        """Read a window that lies fully inside the raster."""


class ArraySource:
    """An in-memory image as a TileSource (tests, scripts, small rasters).

    ``nodata`` marks pixels equal to it in every band as invalid; ``mask`` is a
    (rows, cols) array, non-zero where valid (an alpha band works as is).
    """

    def __init__(self, image: np.ndarray, nodata: Optional[float] = None, mask: Optional[np.ndarray] = None):
        image = np.asarray(image)
        if image.ndim == 2:
            image = image[:, :, None]
        if image.ndim != 3:
            raise ValueError(f"image must be (rows, cols) or (rows, cols, bands), got shape {image.shape}")
        if mask is not None and np.asarray(mask).shape != image.shape[:2]:
            raise ValueError(f"mask shape {np.asarray(mask).shape} does not match image {image.shape[:2]}")
        self.image = image
        self.nodata = nodata
        self.mask = None if mask is None else np.asarray(mask) != 0
        self.height, self.width = image.shape[:2]

    def read(self, col0: int, row0: int, cols: int, rows: int) -> Window:
        data = self.image[row0 : row0 + rows, col0 : col0 + cols]
        valid = None
        if self.nodata is not None:
            valid = ~np.all(data == self.nodata, axis=2)
        if self.mask is not None:
            m = self.mask[row0 : row0 + rows, col0 : col0 + cols]
            valid = m if valid is None else (valid & m)
        return Window(data=data, valid=valid)
