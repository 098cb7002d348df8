"""Both tile sources (GDAL on the file path, and a clone of a QGIS data provider
for layers GDAL cannot open) give the same windows, nodata and mask included."""

from __future__ import annotations

import numpy as np
import pytest
from qgis.core import QgsRasterLayer

from railwatch_plugin.algorithms.raster_reading import RasterReadError, _open_with_provider, open_raster


@pytest.fixture(scope="module")
def striped_tif(tmp_path_factory):
    from railwatch_synth import write_geotiff

    rng = np.random.default_rng(0)
    image = rng.integers(1, 255, size=(300, 500, 4), dtype=np.uint8)
    image[:40, :60] = 0  # nodata corner
    path = tmp_path_factory.mktemp("read") / "striped.tif"
    return write_geotiff(image, str(path), gsd_m=0.5, nodata=0), image


def windows_equal(a, b):
    assert np.array_equal(a.data, b.data)
    assert (a.valid is None) == (b.valid is None)
    if a.valid is not None:
        assert np.array_equal(a.valid, b.valid)


def test_gdal_and_provider_sources_read_the_same_windows(qgis_app, striped_tif):
    path, image = striped_tif
    layer = QgsRasterLayer(path, "striped", "gdal")
    assert layer.isValid()
    by_gdal = open_raster(layer, [1, 2, 3])
    by_provider = _open_with_provider(layer, [1, 2, 3])
    assert by_gdal.path == path and by_provider.path is None
    assert by_gdal.geotransform == pytest.approx(by_provider.geotransform)
    for window in ((0, 0, 100, 80), (37, 11, 200, 150), (300, 200, 200, 100)):
        a, b = by_gdal.source.read(*window), by_provider.source.read(*window)
        col0, row0, cols, rows = window
        assert np.array_equal(a.data, image[row0 : row0 + rows, col0 : col0 + cols, :3])
        windows_equal(a, b)
    corner = by_gdal.source.read(0, 0, 100, 80)
    assert not corner.valid[:40, :60].any() and corner.valid[40:, :].all() and corner.valid[:, 60:].all()


def test_default_bands_skip_alpha_and_prefer_rgb(qgis_app, striped_tif):
    path, _ = striped_tif
    opened = open_raster(QgsRasterLayer(path, "striped", "gdal"))
    assert opened.source.bands == [1, 2, 3]  # write_geotiff labels 1-3 as R, G, B
    assert opened.band_count == 4


def test_band_out_of_range_is_named(qgis_app, striped_tif):
    path, _ = striped_tif
    with pytest.raises(RasterReadError) as raised:
        open_raster(QgsRasterLayer(path, "striped", "gdal"), [1, 7])
    assert "band(s) [7] do not exist: the raster has bands 1 to 4" in str(raised.value)


def test_the_block_cache_is_lowered_while_reading_and_restored_after_overlapping_runs(qgis_app):
    """Two detections at once (two Processing tasks): QGIS's own cache size
    comes back when the last one ends, not the lowered one."""
    from osgeo import gdal

    from railwatch_plugin.algorithms.raster_reading import BLOCK_CACHE_BYTES, bounded_block_cache

    before = gdal.GetCacheMax()
    gdal.SetCacheMax(2 * BLOCK_CACHE_BYTES)
    try:
        first, second = bounded_block_cache(), bounded_block_cache()
        first.__enter__()
        second.__enter__()
        assert gdal.GetCacheMax() == BLOCK_CACHE_BYTES
        first.__exit__(None, None, None)
        assert gdal.GetCacheMax() == BLOCK_CACHE_BYTES  # the second still reads
        second.__exit__(None, None, None)
        assert gdal.GetCacheMax() == 2 * BLOCK_CACHE_BYTES
    finally:
        gdal.SetCacheMax(before)
