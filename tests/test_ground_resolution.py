"""Ground metres per pixel from the CRS: the detector's sizes are all in metres,
so a wrong GSD silently breaks every count. Each case is a 0.5 m pixel."""

from __future__ import annotations

import math

import pytest
from qgis.core import QgsCoordinateReferenceSystem

from railwatch_plugin.algorithms.ground_resolution import (
    NO_CRS_MESSAGE,
    NoCrsError,
    ground_gsd_m,
    metres_per_degree,
)

US_SURVEY_FOOT_M = 1200.0 / 3937.0
WIDTH, HEIGHT = 1200, 800


def mercator_y(lat_deg: float) -> float:
    return 6378137.0 * math.log(math.tan(math.pi / 4 + math.radians(lat_deg) / 2))


def test_utm_metres_are_ground_metres(qgis_app):
    gsd = ground_gsd_m(QgsCoordinateReferenceSystem("EPSG:32652"), (500000, 0.5, 0, 4700000, 0, -0.5), WIDTH, HEIGHT)
    # 0.9996 scale factor at the central meridian: ground pixels are 0.04 % larger
    assert gsd == pytest.approx((0.5002, 0.5002), abs=1e-4)


def test_geographic_degrees_differ_in_x_and_y(qgis_app):
    lat = 42.4
    per_deg_x, per_deg_y = metres_per_degree(lat)
    gt = (130.6, 0.5 / per_deg_x, 0, lat + 200 / per_deg_y, 0, -0.5 / per_deg_y)
    gsd = ground_gsd_m(QgsCoordinateReferenceSystem("EPSG:4326"), gt, WIDTH, HEIGHT)
    assert gsd == pytest.approx((0.5, 0.5), rel=2e-3)
    # the same degrees at the equator are far wider in x than at 42 N
    equator = ground_gsd_m(QgsCoordinateReferenceSystem("EPSG:4326"), (130.6, gt[1], 0, 0.1, 0, gt[5]), WIDTH, HEIGHT)
    assert equator[0] == pytest.approx(0.5 / math.cos(math.radians(lat)), rel=5e-3)
    assert equator[1] == pytest.approx(0.5, rel=5e-3)


def test_web_mercator_at_70_north_is_corrected_by_latitude(qgis_app):
    lat = 70.0
    map_px = 0.5 / math.cos(math.radians(lat))  # 1.46 "metres" of Web Mercator
    gt = (1_000_000.0, map_px, 0, mercator_y(lat) + HEIGHT / 2 * map_px, 0, -map_px)
    gsd = ground_gsd_m(QgsCoordinateReferenceSystem("EPSG:3857"), gt, WIDTH, HEIGHT)
    assert gsd == pytest.approx((0.5, 0.5), rel=3e-3)
    assert map_px > 1.4  # what a naive reading of the map units would have used


def test_state_plane_feet(qgis_app):
    feet = 0.5 / US_SURVEY_FOOT_M
    gsd = ground_gsd_m(QgsCoordinateReferenceSystem("EPSG:2263"), (980000, feet, 0, 200000, 0, -feet), WIDTH, HEIGHT)
    assert gsd == pytest.approx((0.5, 0.5), rel=1e-3)


def test_missing_crs_names_the_fix(qgis_app):
    with pytest.raises(NoCrsError) as raised:
        ground_gsd_m(QgsCoordinateReferenceSystem(), (0, 1, 0, 0, 0, -1), WIDTH, HEIGHT)
    assert str(raised.value) == NO_CRS_MESSAGE
    assert "Layer Properties > Source" in NO_CRS_MESSAGE


def test_metres_per_degree_matches_wgs84_reference_values():
    assert metres_per_degree(0.0) == pytest.approx((111319.5, 110574.3), abs=1.0)
    assert metres_per_degree(60.0) == pytest.approx((55800.0, 111412.0), rel=1e-3)
