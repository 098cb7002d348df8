"""Write a scene (or an array) as a georeferenced, tiled GeoTIFF with GDAL.

GDAL is imported inside the function so the rest of the package needs only
numpy and OpenCV.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np


def north_up_geotransform(origin_xy, gsd_m):
    gx, gy = (gsd_m, gsd_m) if np.isscalar(gsd_m) else gsd_m
    return (float(origin_xy[0]), float(gx), 0.0, float(origin_xy[1]), 0.0, -float(gy))


def write_geotiff(
    scene_or_array,
    path,
    crs: str = "EPSG:32652",
    geotransform: Optional[Sequence[float]] = None,
    origin_xy=(500000.0, 4700000.0),
    acquired: Optional[str] = None,
    nodata: Optional[float] = None,
    compress: str = "DEFLATE",
    tiled: bool = True,
    block: int = 256,
    *,
    gsd_m: Optional[float] = None,
    jpeg_quality: int = 85,
) -> str:
    """Write ``scene_or_array`` to ``path``; returns the path.

    ``acquired`` ("YYYY-MM-DD") goes into TIFFTAG_DATETIME and
    ACQUISITIONDATETIME (default and IMAGERY domains). Invalid pixels of a
    scene (``scene.valid``) are written as an internal per-dataset mask, which
    survives JPEG compression where a nodata value would not. JPEG on 3-band
    uint8 uses YCbCr photometric (as satellite vendors ship it).
    """
    from osgeo import gdal, osr

    gdal.UseExceptions()
    valid = None
    if hasattr(scene_or_array, "image"):
        image = scene_or_array.image
        valid = scene_or_array.valid
        gsd_m = scene_or_array.gsd_m if gsd_m is None else gsd_m
    else:
        image = np.asarray(scene_or_array)
    if image.ndim == 2:
        image = image[:, :, None]
    rows, cols, bands = image.shape
    if geotransform is None:
        if gsd_m is None:
            raise ValueError("an array needs gsd_m= or geotransform= to be georeferenced")
        geotransform = north_up_geotransform(origin_xy, gsd_m)
    gdal_type = {np.dtype("uint8"): gdal.GDT_Byte, np.dtype("uint16"): gdal.GDT_UInt16,
                 np.dtype("float32"): gdal.GDT_Float32}.get(image.dtype)
    if gdal_type is None:
        raise ValueError(f"unsupported dtype {image.dtype}; use uint8, uint16 or float32")

    compress = (compress or "NONE").upper()
    options = [f"COMPRESS={compress}", "BIGTIFF=IF_SAFER"]
    if tiled:
        options += ["TILED=YES", f"BLOCKXSIZE={block}", f"BLOCKYSIZE={block}"]
    if compress == "JPEG":
        if image.dtype != np.uint8:
            raise ValueError("JPEG compression needs uint8 data")
        options.append(f"JPEG_QUALITY={int(jpeg_quality)}")
        if bands == 3:
            options.append("PHOTOMETRIC=YCBCR")
    elif compress in ("DEFLATE", "LZW", "ZSTD"):
        options.append("PREDICTOR=2")
    if bands == 3 and compress != "JPEG":
        options.append("PHOTOMETRIC=RGB")

    srs = osr.SpatialReference()
    srs.SetFromUserInput(crs)
    mem = gdal.GetDriverByName("MEM").Create("", cols, rows, bands, gdal_type)
    mem.SetGeoTransform(tuple(float(v) for v in geotransform))
    mem.SetProjection(srs.ExportToWkt())
    for b in range(bands):
        band = mem.GetRasterBand(b + 1)
        band.WriteArray(image[:, :, b])
        if nodata is not None:
            band.SetNoDataValue(float(nodata))
    if bands >= 3:
        for b, ci in enumerate((gdal.GCI_RedBand, gdal.GCI_GreenBand, gdal.GCI_BlueBand)):
            mem.GetRasterBand(b + 1).SetColorInterpretation(ci)
    if acquired:
        stamp = _check_date(acquired)
        mem.SetMetadataItem("TIFFTAG_DATETIME", stamp.replace("-", ":") + " 00:00:00")
        mem.SetMetadataItem("ACQUISITIONDATETIME", stamp + "T00:00:00")
        mem.SetMetadataItem("ACQUISITIONDATETIME", stamp + "T00:00:00", "IMAGERY")
    if valid is not None and not np.all(valid):
        mem.CreateMaskBand(gdal.GMF_PER_DATASET)
        mem.GetRasterBand(1).GetMaskBand().WriteArray(np.where(valid, 255, 0).astype(np.uint8))
    config = {"GDAL_TIFF_INTERNAL_MASK": "YES"}
    for k, v in config.items():
        gdal.SetConfigOption(k, v)
    try:
        out = gdal.GetDriverByName("GTiff").CreateCopy(str(path), mem, 0, options)
        out.FlushCache()
        out = None
    finally:
        for k in config:
            gdal.SetConfigOption(k, None)
    return str(path)


def _check_date(text: str) -> str:
    import datetime as _dt

    try:
        return _dt.date.fromisoformat(str(text)[:10]).isoformat()
    except ValueError:
        raise ValueError(f'acquired must be a date like "2023-10-05", got {text!r}') from None
