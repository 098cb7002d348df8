"""Tile sources over a QGIS raster layer: the detector asks for windows only.

For layers GDAL can open (the ``gdal`` provider) we open the file path again in
the calling (worker) thread and read each window straight from GDAL: only the
requested bands, nodata and mask/alpha honoured. A raster placed by ground
control points only is warped as QGIS displays it; a paletted one has its
colour table expanded to red, green and blue; an error GDAL reports while
reading (a damaged JPEG tile) stops the run instead of leaving holes in it.
Other providers (WMS, XYZ, virtual rasters, ...) are read through a *clone* of
the layer's data provider, never the live one, which belongs to the main thread.

Images finer than the detector works at are read at a reduced resolution
(``OpenedRaster.reduced``): GDAL averages them down, from overviews when the
file has them, so a tile never holds more pixels than the detector uses.
"""

from __future__ import annotations

import contextlib
import math
import threading
from dataclasses import dataclass, replace
from typing import List, Optional, Sequence, Tuple

import numpy as np
from osgeo import gdal
from qgis.core import Qgis, QgsProviderRegistry, QgsRasterLayer, QgsRectangle

from ..core import Window

GeoTransform = Tuple[float, float, float, float, float, float]


class RasterReadError(ValueError):
    """The raster cannot be opened or read; the message says which and why."""


@dataclass
class OpenedRaster:
    """A tile source plus what is needed to place its pixels on the map."""

    source: object  # a core TileSource
    geotransform: GeoTransform
    band_count: int
    path: Optional[str]  # file GDAL opened, None for other providers
    metadata: dict  # GDAL metadata of the default and IMAGERY domains
    georeferenced: bool = True  # False: the geotransform is GDAL's placeholder (pixel coordinates)

    def reduced(self, step_col: int, step_row: int) -> "OpenedRaster":
        """The same raster read ``step_col`` x ``step_row`` input pixels to one
        (averaged), with the geotransform of that coarser grid."""
        if step_col == 1 and step_row == 1:
            return self
        gt = self.geotransform
        geotransform = (gt[0], gt[1] * step_col, gt[2] * step_row, gt[3], gt[4] * step_col, gt[5] * step_row)
        return replace(self, source=self.source.reduced(step_col, step_row), geotransform=geotransform)


def reading_steps(gsd_m: Tuple[float, float], coarsest_m: float, tolerance: float = 0.005) -> Tuple[int, int]:
    """Input pixels per read pixel along columns and rows: as many as keep the
    read pixels no coarser than ``coarsest_m`` (within ``tolerance``, the
    detector's own: a 0.1 m product is 0.10004 m on the ground, and five of
    its pixels are the 0.5 m the detector works at)."""
    return tuple(max(1, int(math.floor(coarsest_m / g * (1 + tolerance)))) for g in gsd_m)


# GDAL's block cache while we read: large enough to hold the blocks under one
# row of tiles, small enough that with the detector the run stays under 1 GB
# (QGIS sets it to 5 % of the machine's memory: 1.6 GB on a 32 GB machine).
BLOCK_CACHE_BYTES = 256 * 1024 * 1024


_CACHE_LOCK = threading.Lock()
_cache_users = 0  # detections now inside bounded_block_cache
_cache_saved = 0  # GDAL's cache size from before the first of them


@contextlib.contextmanager
def bounded_block_cache(max_bytes: int = BLOCK_CACHE_BYTES):
    """GDAL's block cache lowered to ``max_bytes`` (never raised) while inside.
    The setting is process-wide and two detections may run at once (two
    Processing tasks): the first in saves it, the last out restores it."""
    global _cache_users, _cache_saved
    with _CACHE_LOCK:
        if _cache_users == 0:
            _cache_saved = gdal.GetCacheMax()
            gdal.SetCacheMax(min(_cache_saved, max_bytes))
        _cache_users += 1
    try:
        yield
    finally:
        with _CACHE_LOCK:
            _cache_users -= 1
            if _cache_users == 0:
                gdal.SetCacheMax(_cache_saved)


def gdal_path_of(layer: QgsRasterLayer) -> Optional[str]:
    """The GDAL dataset name behind a ``gdal`` provider layer, else None."""
    if layer.providerType() != "gdal":
        return None
    parts = QgsProviderRegistry.instance().decodeUri("gdal", layer.source())
    path = parts.get("path") or layer.source()
    layer_name = parts.get("layerName")
    if layer_name and not path.upper().startswith(("GPKG:", "NETCDF:", "HDF")):
        # GeoPackage raster tables etc.: GDAL wants DRIVER:path:table
        if path.lower().endswith(".gpkg"):
            return f"GPKG:{path}:{layer_name}"
    return path


def open_raster(layer: QgsRasterLayer, bands: Optional[Sequence[int]] = None) -> OpenedRaster:
    """Open ``layer`` for windowed reading in the current thread.

    ``bands``: 1-based band numbers; None picks the red, green and blue bands
    when the raster labels them, else up to the first three non-alpha bands.
    """
    path = gdal_path_of(layer)
    if path is not None:
        return _open_with_gdal(path, bands)
    return _open_with_provider(layer, bands)


def _open_with_gdal(path: str, bands: Optional[Sequence[int]]) -> OpenedRaster:
    gdal.ErrorReset()
    try:
        dataset = gdal.Open(path, gdal.GA_ReadOnly)
    except RuntimeError as exc:  # when something switched GDAL exceptions on
        raise RasterReadError(f"GDAL cannot open {path}: {exc}") from exc
    if dataset is None:
        raise RasterReadError(f"GDAL cannot open {path}: {gdal.GetLastErrorMsg() or 'unknown format'}")
    if dataset.RasterCount == 0:
        raise RasterReadError(f"GDAL found no raster bands in {path}")
    metadata = dict(dataset.GetMetadata() or {})
    metadata.update({f"IMAGERY:{k}": v for k, v in (dataset.GetMetadata("IMAGERY") or {}).items()})
    band_count = dataset.RasterCount
    geotransform = dataset.GetGeoTransform(can_return_null=True)
    if geotransform is None and dataset.GetGCPCount() > 0:
        # Placed by ground control points only: warped as QGIS displays it.
        dataset = gdal.AutoCreateWarpedVRT(dataset, None, None, gdal.GRA_Bilinear)
        if dataset is None:
            raise RasterReadError(f"GDAL cannot place {path} by its ground control points: {gdal.GetLastErrorMsg()}")
        geotransform = dataset.GetGeoTransform(can_return_null=True)
    interpretations = [dataset.GetRasterBand(i).GetColorInterpretation() for i in range(1, dataset.RasterCount + 1)]
    chosen = _choose_bands(interpretations, bands)
    if dataset.GetRasterBand(chosen[0]).GetColorTable() is not None:
        # Palette indices are no brightness: the colours they stand for are.
        dataset = gdal.Translate("", dataset, format="VRT", bandList=[chosen[0]], rgbExpand="rgb")
        chosen = [1, 2, 3]
    return OpenedRaster(
        source=GdalTileSource(dataset, chosen),
        geotransform=tuple(geotransform or (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)),
        band_count=band_count,
        path=path,
        metadata=metadata,
        georeferenced=geotransform is not None,
    )


def _choose_bands(interpretations: List[int], bands: Optional[Sequence[int]]) -> List[int]:
    count = len(interpretations)
    if bands:
        wrong = [b for b in bands if not 1 <= b <= count]
        if wrong:
            raise RasterReadError(f"band(s) {wrong} do not exist: the raster has bands 1 to {count}")
        return list(bands)
    rgb = [gdal.GCI_RedBand, gdal.GCI_GreenBand, gdal.GCI_BlueBand]
    if all(c in interpretations for c in rgb):
        return [interpretations.index(c) + 1 for c in rgb]
    data_bands = [i + 1 for i, c in enumerate(interpretations) if c != gdal.GCI_AlphaBand]
    return data_bands[:3] or [1]


class GdalTileSource:
    """Windows of selected bands of a GDAL dataset, with nodata and mask honoured;
    with ``step``, of the grid of ``step`` (columns, rows) input pixels to one."""

    def __init__(self, dataset, bands: Sequence[int], step: Tuple[int, int] = (1, 1)):
        self.dataset = dataset
        self.bands = list(bands)
        self.step = (int(step[0]), int(step[1]))
        self.width = max(1, dataset.RasterXSize // self.step[0])
        self.height = max(1, dataset.RasterYSize // self.step[1])
        band_objects = [dataset.GetRasterBand(b) for b in self.bands]
        flags = [b.GetMaskFlags() for b in band_objects]
        if all(f & gdal.GMF_ALL_VALID for f in flags):
            self._mask_bands = []
        elif any(f & gdal.GMF_PER_DATASET for f in flags):
            # alpha band or dataset mask: one mask serves every band
            self._mask_bands = [band_objects[0].GetMaskBand()]
        else:
            # per-band nodata: a pixel is invalid only where every band is nodata
            self._mask_bands = [b.GetMaskBand() for b, f in zip(band_objects, flags) if not f & gdal.GMF_ALL_VALID]

    def reduced(self, step_col: int, step_row: int) -> "GdalTileSource":
        return GdalTileSource(self.dataset, self.bands, (self.step[0] * step_col, self.step[1] * step_row))

    def read(self, col0: int, row0: int, cols: int, rows: int) -> Window:
        sc, sr = self.step
        box = (col0 * sc, row0 * sr, cols * sc, rows * sr)
        where = (
            f"{self.dataset.GetDescription() or 'the raster'} is damaged: reading its pixels "
            f"{box[0]},{box[1]} to {box[0] + box[2]},{box[1] + box[3]} failed"
        )
        problems: List[str] = []

        def collect(kind, _number, message):
            if kind >= gdal.CE_Warning:
                problems.append(str(message).strip())

        # GDAL reports a damaged JPEG tile and goes on with a blank or partial
        # tile: counted, that is a silent wrong count.
        size = {"buf_xsize": cols, "buf_ysize": rows}
        if (sc, sr) != (1, 1):
            size["resample_alg"] = gdal.GRIORA_Average
        gdal.PushErrorHandler(collect)
        try:
            data = self._read_pixel_interleaved(*box, size)
            valid = None
            for mask_band in self._mask_bands:
                mask = mask_band.ReadAsArray(*box, **size)
                if mask is None:
                    problems.append(gdal.GetLastErrorMsg() or "GDAL returned no mask")
                    break
                # a read pixel is valid only where all the pixels it averages are
                ok = mask == 255 if (sc, sr) != (1, 1) else mask != 0
                valid = ok if valid is None else (valid | ok)
        except RuntimeError as exc:  # when something switched GDAL exceptions on
            problems.append(str(exc))
            data = None
        finally:
            gdal.PopErrorHandler()
        if problems or data is None:
            detail = "; ".join(dict.fromkeys(problems)) or "GDAL returned no pixels"
            raise RasterReadError(
                f"{where} ({detail[:500]}). Download or export the image again; "
                "counting what could be read would give a wrong count"
            )
        if data.ndim == 2:
            data = data[:, :, None]
        return Window(data=np.ascontiguousarray(data), valid=valid)

    def _read_pixel_interleaved(self, col0: int, row0: int, cols: int, rows: int, size: dict) -> Optional[np.ndarray]:
        """(rows, cols[, bands]) as the detector wants it, straight from GDAL
        (GDAL >= 3.6): reading band by band and moving the band axis last cost
        9 ms more per 1024 px RGB tile than the read itself (11.5 ms). ``size``:
        the buffer size and resampling of a reduced read."""
        if len(self.bands) > 1:
            try:
                return self.dataset.ReadAsArray(col0, row0, cols, rows, band_list=self.bands, interleave="pixel", **size)
            except TypeError:  # a GDAL without ``interleave``
                pass
        data = self.dataset.ReadAsArray(col0, row0, cols, rows, band_list=self.bands, **size)
        if data is None or data.ndim == 2:
            return data
        return np.moveaxis(data, 0, -1)


# QGIS raster data types as numpy dtypes (ARGB32 handled separately).
_NUMPY_TYPES = {
    Qgis.Byte: np.uint8,
    Qgis.UInt16: np.uint16,
    Qgis.Int16: np.int16,
    Qgis.UInt32: np.uint32,
    Qgis.Int32: np.int32,
    Qgis.Float32: np.float32,
    Qgis.Float64: np.float64,
}
_ARGB_TYPES = (Qgis.ARGB32, Qgis.ARGB32_Premultiplied)


def _open_with_provider(layer: QgsRasterLayer, bands: Optional[Sequence[int]]) -> OpenedRaster:
    provider = layer.dataProvider()
    if provider is None or not layer.isValid():
        raise RasterReadError(f"layer {layer.name()} is not a valid raster")
    clone = provider.clone()
    width, height = clone.xSize(), clone.ySize()
    extent = clone.extent()
    if width <= 0 or height <= 0:
        raise RasterReadError(
            f"layer {layer.name()} has no fixed pixel grid (a web map service?): "
            "save it as a GeoTIFF first (Raster > Conversion > Translate)"
        )
    geotransform = (extent.xMinimum(), extent.width() / width, 0.0, extent.yMaximum(), 0.0, -extent.height() / height)
    band_count = clone.bandCount()
    if bands:
        chosen = _choose_bands([0] * band_count, bands)
    else:
        chosen = list(range(1, min(3, band_count) + 1))
    return OpenedRaster(
        source=ProviderTileSource(clone, chosen, geotransform, width, height),
        geotransform=geotransform,
        band_count=band_count,
        path=None,
        metadata={},
    )


class ProviderTileSource:
    """Windows read with ``block()`` from a cloned QgsRasterDataProvider."""

    def __init__(self, provider, bands: Sequence[int], geotransform: GeoTransform, width: int, height: int):
        self.provider = provider
        self.bands = list(bands)
        self.geotransform = geotransform
        self.width = width
        self.height = height

    def reduced(self, step_col: int, step_row: int) -> "ProviderTileSource":
        gt = self.geotransform
        coarser = (gt[0], gt[1] * step_col, gt[2], gt[3], gt[4], gt[5] * step_row)
        return ProviderTileSource(self.provider, self.bands, coarser, max(1, self.width // step_col), max(1, self.height // step_row))

    def _extent(self, col0, row0, cols, rows) -> QgsRectangle:
        gt = self.geotransform
        x0 = gt[0] + col0 * gt[1]
        y0 = gt[3] + row0 * gt[5]
        return QgsRectangle(x0, y0 + rows * gt[5], x0 + cols * gt[1], y0)

    def read(self, col0: int, row0: int, cols: int, rows: int) -> Window:
        extent = self._extent(col0, row0, cols, rows)
        planes = []
        valid = None
        for band in self.bands:
            block = self.provider.block(band, extent, cols, rows)
            if block is None or not block.isValid():
                raise RasterReadError(f"the data provider returned no pixels for band {band}")
            kind = block.dataType()
            raw = bytes(block.data())
            if kind in _ARGB_TYPES:
                bgra = np.frombuffer(raw, np.uint8).reshape(rows, cols, 4)
                alpha_valid = bgra[:, :, 3] != 0
                valid = alpha_valid if valid is None else (valid | alpha_valid)
                planes.extend([bgra[:, :, 2], bgra[:, :, 1], bgra[:, :, 0]])
                continue
            dtype = _NUMPY_TYPES.get(kind)
            if dtype is None:
                raise RasterReadError(f"band {band} has a pixel type RailWatch cannot read ({kind})")
            plane = np.frombuffer(raw, dtype).reshape(rows, cols)
            planes.append(plane)
            if block.hasNoDataValue():
                band_valid = plane != block.noDataValue()
                valid = band_valid if valid is None else (valid | band_valid)
        return Window(data=np.ascontiguousarray(np.stack(planes, axis=-1)), valid=valid)

