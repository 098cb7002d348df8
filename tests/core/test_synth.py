"""Synthetic rail-yard scenes: determinism, truth matches the pixels, options, GeoTIFF I/O.

No QGIS here; GDAL (osgeo) only for the GeoTIFF round trips.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from railwatch_synth import CAR_KINDS, TrueCar, YardScene, make_yard, write_big_raster, write_geotiff
from railwatch_synth.config import HARD
from railwatch_synth.layout import CAR_SIZES


def _poly_mask(shape, corners_px, grow_px=0.0):
    """Pixels whose centre lies inside the polygon (optionally grown/shrunk)."""
    pts = np.asarray(corners_px, np.float64)
    c = pts.mean(0)
    if grow_px:
        d = pts - c
        pts = c + d * (1 + grow_px / np.linalg.norm(d, axis=1, keepdims=True))
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round((pts - 0.5) * 16).astype(np.int32).reshape(-1, 1, 2)], 1, cv2.LINE_8, 4)
    return mask.astype(bool)


def _dist_to_polyline(p, line):
    best = np.inf
    for a, b in zip(line[:-1], line[1:]):
        ab = b - a
        t = np.clip(np.dot(p - a, ab) / max(np.dot(ab, ab), 1e-12), 0, 1)
        best = min(best, float(np.linalg.norm(a + t * ab - p)))
    return best


@pytest.fixture(scope="module")
def hard_scene():
    return make_yard(7)


def test_same_seed_gives_identical_image_and_truth():
    a = make_yard(11, gsd_m=0.6, size_m=(300.0, 200.0))
    b = make_yard(11, gsd_m=0.6, size_m=(300.0, 200.0))
    assert np.array_equal(a.image, b.image)
    assert a.cars == b.cars
    c = make_yard(12, gsd_m=0.6, size_m=(300.0, 200.0))
    assert not np.array_equal(a.image, c.image)


def test_layout_in_metres_does_not_depend_on_gsd():
    coarse = make_yard(5, gsd_m=0.5, size_m=(300.0, 200.0), difficulty="easy")
    fine = make_yard(5, gsd_m=0.3, size_m=(300.0, 200.0), difficulty="easy")
    assert len(coarse.cars) == len(fine.cars) > 0
    for a, b in zip(coarse.cars, fine.cars):
        assert a.col_px * 0.5 == pytest.approx(b.col_px * 0.3, abs=1e-6)
        assert a.length_m == b.length_m and a.kind == b.kind
    assert fine.image.shape[:2] == (667, 1000)


def test_scene_shape_types_and_truth_fields(hard_scene):
    s = hard_scene
    assert isinstance(s, YardScene)
    assert s.image.shape == (800, 1200, 3) and s.image.dtype == np.uint8
    assert s.gsd_m == 0.5
    assert 20 <= len(s.cars) <= 80
    for car in s.cars:
        assert isinstance(car, TrueCar)
        assert car.kind in CAR_KINDS
        (l0, l1), (w0, w1), _ = CAR_SIZES[car.kind]
        assert l0 <= car.length_m <= l1 and w0 <= car.width_m <= w1
        assert 0.0 <= car.heading_deg < 180.0
        assert len(car.corners_px) == 4
        side = np.linalg.norm(np.subtract(car.corners_px[0], car.corners_px[3])) * s.gsd_m
        assert side == pytest.approx(car.length_m, abs=1e-6)
    for key in ("sun_azimuth_deg", "sun_elevation_deg", "seed"):
        assert key in s.meta
    assert 25.0 <= s.meta["sun_elevation_deg"] <= 65.0


def test_exact_car_count_when_asked():
    for n in (0, 1, 37, 73):
        s = make_yard(3, size_m=(600.0, 400.0), n_cars=n)
        assert len(s.cars) == n


def test_impossible_count_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot fit 2000 cars"):
        make_yard(3, size_m=(200.0, 150.0), n_cars=2000)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="difficulty"):
        make_yard(1, difficulty="medium")
    with pytest.raises(ValueError, match="bands"):
        make_yard(1, size_m=(200.0, 150.0), bands=2)
    with pytest.raises(ValueError, match="dtype"):
        make_yard(1, size_m=(200.0, 150.0), dtype="float64")


def test_truth_centres_lie_on_track_lines(hard_scene):
    s = hard_scene
    for car in s.cars:
        p = np.array([car.col_px, car.row_px])
        d_px = min(_dist_to_polyline(p, line) for line in s.track_lines_px)
        assert d_px * s.gsd_m < 0.05


def test_cars_are_drawn_exactly_inside_their_truth_boxes():
    """Same seed with and without cars: the pixels differ inside each truth box
    and nowhere else (easy scenes have no shadows)."""
    with_cars = make_yard(21, size_m=(400.0, 300.0), difficulty="easy", n_cars=20)
    empty = make_yard(21, size_m=(400.0, 300.0), difficulty="easy", n_cars=0)
    assert len(with_cars.track_lines_px) == len(empty.track_lines_px)  # same layout
    diff = np.abs(with_cars.image.astype(int) - empty.image.astype(int)).max(axis=2)
    shape = diff.shape
    near_any = np.zeros(shape, bool)
    for car in with_cars.cars:
        inside = _poly_mask(shape, car.corners_px, grow_px=-1.5)
        assert diff[inside].mean() > 25, car
        near_any |= _poly_mask(shape, car.corners_px, grow_px=3.5)
    assert np.percentile(diff[~near_any], 99.9) < 8


def test_easy_cars_stand_out_from_the_ballast_around_them():
    s = make_yard(8, size_m=(400.0, 300.0), difficulty="easy", n_cars=25)
    img = s.image.astype(float)
    contrasts = []
    for car in s.cars:
        inside = _poly_mask(img.shape[:2], car.corners_px, grow_px=-1.5)
        ring = _poly_mask(img.shape[:2], car.corners_px, grow_px=6) & ~_poly_mask(img.shape[:2], car.corners_px, grow_px=2)
        contrasts.append(np.abs(img[inside].mean(0) - img[ring].mean(0)).max())
    assert np.median(contrasts) > 25


def test_hard_scene_has_look_alikes_off_the_tracks(hard_scene):
    s = hard_scene
    kinds = {d["kind"] for d in s.distractors}
    assert {"container_stack", "lorry"} <= kinds
    for d in s.distractors:
        c = np.mean(d["corners_px"], axis=0)
        assert min(_dist_to_polyline(c, line) for line in s.track_lines_px) * s.gsd_m > 2.5, d["kind"]


def test_nodata_wedge_is_black_invalid_and_holds_no_truth():
    s = make_yard(4, n_cars=50, config=HARD.with_(nodata_probability=1.0))
    assert s.valid is not None and s.valid.dtype == bool
    assert 0 < (~s.valid).mean() < 0.3
    assert np.all(s.image[~s.valid] == 0)
    assert len(s.cars) == 50
    for car in s.cars:
        assert s.valid[int(car.row_px), int(car.col_px)]


@pytest.mark.parametrize("bands", [1, 4])
def test_band_options(bands):
    s = make_yard(2, size_m=(300.0, 200.0), bands=bands)
    assert s.image.shape == (400, 600, bands)
    if bands == 4:
        nir, lum = s.image[..., 3].astype(float), s.image[..., :3].astype(float).mean(2)
        assert np.corrcoef(nir.ravel(), lum.ravel())[0, 1] < 0.98  # not just a copy of luminance


def test_uint16_is_eleven_bit():
    s = make_yard(2, size_m=(300.0, 200.0), dtype="uint16")
    assert s.image.dtype == np.uint16
    assert 1000 < s.image.max() <= 2047


def test_a_default_yard_at_0_3_m_is_drawn_at_its_size():
    """The default 600 x 400 m yard at 0.3 m. (How fast the generator draws is
    a figure for a bench, not a test: a timed assertion fails on a busy machine.)"""
    s = make_yard(9, gsd_m=0.3)
    assert s.image.shape[:2] == (1333, 2000)
    assert s.gsd_m == 0.3


def test_write_geotiff_round_trip(tmp_path, hard_scene):
    from osgeo import gdal, osr

    path = write_geotiff(hard_scene, tmp_path / "yard.tif", origin_xy=(600000.0, 4700000.0), acquired="2023-10-05",
                         compress="JPEG")
    ds = gdal.Open(path)
    assert (ds.RasterXSize, ds.RasterYSize, ds.RasterCount) == (1200, 800, 3)
    assert ds.GetGeoTransform() == pytest.approx((600000.0, 0.5, 0.0, 4700000.0, 0.0, -0.5))
    srs = osr.SpatialReference(wkt=ds.GetProjection())
    srs.AutoIdentifyEPSG()
    assert srs.GetAuthorityCode(None) == "32652"
    assert ds.GetMetadataItem("TIFFTAG_DATETIME") == "2023:10:05 00:00:00"
    assert ds.GetMetadataItem("ACQUISITIONDATETIME").startswith("2023-10-05")
    assert ds.GetMetadataItem("COMPRESSION", "IMAGE_STRUCTURE") == "YCbCr JPEG"
    assert ds.GetRasterBand(1).GetBlockSize() == [256, 256]
    back = np.dstack([ds.GetRasterBand(b + 1).ReadAsArray() for b in range(3)]).astype(int)
    assert np.abs(back - hard_scene.image).mean() < 4.0


def test_write_geotiff_keeps_nodata_as_mask_and_array_needs_gsd(tmp_path):
    from osgeo import gdal

    s = make_yard(4, size_m=(300.0, 200.0), config=HARD.with_(nodata_probability=1.0))
    ds = gdal.Open(write_geotiff(s, tmp_path / "wedge.tif"))
    mask = ds.GetRasterBand(1).GetMaskBand().ReadAsArray()
    assert np.array_equal(mask > 0, s.valid)
    arr = np.zeros((10, 20), np.uint16)
    with pytest.raises(ValueError, match="gsd_m"):
        write_geotiff(arr, tmp_path / "a.tif")
    ds = gdal.Open(write_geotiff(arr, tmp_path / "a.tif", gsd_m=2.0, crs="EPSG:4326", origin_xy=(130.0, 42.0)))
    assert ds.GetGeoTransform()[1] == 2.0 and ds.RasterCount == 1


def test_big_raster_streams_yards_with_truth(tmp_path):
    from osgeo import gdal

    info = write_big_raster(tmp_path / "big.tif", 2600, 1700, gsd_m=0.5, seed=3, n_yards=2)
    assert len(info["yards"]) == 2
    assert info["n_cars"] == sum(y["n_cars"] for y in info["yards"]) == len(info["cars"]) > 0
    ds = gdal.Open(info["path"])
    assert (ds.RasterXSize, ds.RasterYSize, ds.RasterCount) == (2600, 1700, 3)
    for car in info["cars"]:
        assert any(y["col_px"] <= car["col_px"] < y["col_px"] + y["width_px"] and
                   y["row_px"] <= car["row_px"] < y["row_px"] + y["height_px"] for y in info["yards"])


def test_demo_files_match_the_tumangang_story():
    import csv
    from pathlib import Path

    from osgeo import gdal, osr

    demo = Path(__file__).resolve().parents[2] / "demo"
    ds = gdal.Open(str(demo / "tumangang_2023-10-05.tif"))
    assert ds.GetMetadataItem("TIFFTAG_DATETIME") == "2023:10:05 00:00:00"
    assert ds.GetMetadataItem("COMPRESSION", "IMAGE_STRUCTURE") == "YCbCr JPEG"
    gt = ds.GetGeoTransform()
    assert gt[1] == 0.5 and gt[5] == -0.5
    srs = osr.SpatialReference(wkt=ds.GetProjection())
    wgs = osr.SpatialReference()
    wgs.ImportFromEPSG(4326)
    for s in (srs, wgs):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    cx, cy = gt[0] + ds.RasterXSize * 0.25, gt[3] - ds.RasterYSize * 0.25
    lon, lat, _ = osr.CoordinateTransformation(srs, wgs).TransformPoint(cx, cy)
    assert lat == pytest.approx(42.42, abs=0.01) and lon == pytest.approx(130.60, abs=0.01)
    with open(demo / "tumangang_2023-10-05_truth.csv") as f:
        truth = list(csv.DictReader(f))
    assert len(truth) == 73
    assert all(0 <= float(r["col_px"]) < ds.RasterXSize and 0 <= float(r["row_px"]) < ds.RasterYSize for r in truth)
    assert float(truth[0]["x"]) == pytest.approx(gt[0] + float(truth[0]["col_px"]) * 0.5, abs=0.01)
    with open(demo / "tumangang_2021-06-14_truth.csv") as f:
        assert len(list(csv.DictReader(f))) == 12
    assert gdal.Open(str(demo / "tumangang_2021-06-14.tif")).GetMetadataItem("TIFFTAG_DATETIME").startswith("2021:06:14")
    with open(demo / "tumangang_history.csv") as f:
        hist = list(csv.DictReader(f))
    counts = [int(r["count"]) for r in hist]
    assert 35 <= len(hist) <= 45 and max(counts) == 20 and min(counts) >= 0
    assert hist[0]["acquired"] >= "2018-10-01" and hist[-1]["acquired"] <= "2023-09-30"
    assert sum(p.stat().st_size for p in demo.iterdir()) < 3_000_000


# ---------------------------------------------------------------- looks of real yards (VARIED)

def _strings(scene):
    by_string = {}
    for car in scene.cars:
        by_string.setdefault(car.string_id, []).append(car)
    return by_string


def test_coach_strings_are_long_alike_cars_on_close_tracks():
    from railwatch_synth.config import VARIED

    scene = make_yard(31, gsd_m=0.5, config=VARIED.with_(coach_string_probability=1.0))
    strings = _strings(scene)
    assert len(scene.cars) >= 30 and len(strings) >= 3
    for cars in strings.values():
        assert {c.kind for c in cars} == {"box"}
        assert all(23.5 <= c.length_m <= 26.5 for c in cars)
        assert len({round(c.length_m, 6) for c in cars}) == 1  # one train, one coach type


def test_unit_trains_repeat_one_car_and_dark_strings_are_dark():
    from railwatch_synth.config import VARIED

    scene = make_yard(32, gsd_m=0.5, config=VARIED.with_(coach_string_probability=0.0, dark_string_probability=1.0))
    lum = scene.image.astype(np.float32).mean(axis=2)
    centre_lum = [lum[int(c.row_px), int(c.col_px)] for c in scene.cars]
    assert np.median(centre_lum) < 90  # dark bodies (ballast is ~125 before the sensor)
    alike = [cars for cars in _strings(scene).values() if len({round(c.length_m, 6) for c in cars}) == 1 and len(cars) > 2]
    assert alike, "no unit train among the dark strings"


def test_hard_preset_draws_none_of_the_varied_looks():
    """The benchmark's scenes must not change when VARIED gains a look."""
    scene = make_yard(1000, gsd_m=0.5)
    assert all(c.length_m <= 27.0 for c in scene.cars)
    assert HARD.coach_string_probability == HARD.dark_string_probability == HARD.coarse_detail_probability == 0.0
    assert HARD.any_colour_string_probability == HARD.vehicle_depot_probability == 0.0
    assert HARD.painted_out_outline_probability == HARD.ballast_matched_string_probability == 0.0
    assert not any(d["kind"] == "bus" for d in scene.distractors)


def test_a_bus_depot_is_rows_of_bright_buses_off_the_tracks():
    from railwatch_synth.config import VARIED

    scene = make_yard(40, gsd_m=0.5, config=VARIED.with_(vehicle_depot_probability=1.0))
    buses = [d for d in scene.distractors if d["kind"] == "bus"]
    assert len(buses) >= 10
    car_xy = np.array([(c.col_px, c.row_px) for c in scene.cars])
    for bus in buses:
        xy = np.mean(bus["corners_px"], axis=0)
        assert np.hypot(*(car_xy - xy).T).min() > 10 / 0.5  # no bus within 10 m of a railcar: it stands off the tracks


def test_any_colour_strings_leave_the_palettes():
    """Wagon palettes are greys, browns and muted colours; a string painted in
    any colour is often strongly saturated (seed 34: none above 42 without it)."""
    from railwatch_synth.config import VARIED

    scene = make_yard(34, gsd_m=0.5, config=VARIED.with_(any_colour_string_probability=1.0, coach_string_probability=0.0,
                                                         dark_string_probability=0.0))
    img = scene.image.astype(np.float32)
    string_rgb = np.array([np.median([img[int(c.row_px), int(c.col_px)] for c in cars], axis=0)
                           for cars in _strings(scene).values()])
    saturation = string_rgb.max(axis=1) - string_rgb.min(axis=1)
    assert (saturation > 80).sum() >= 2, saturation


def test_ballast_matched_strings_take_the_tone_of_their_ballast():
    """A string in the tone of its ballast: within 35 % darker to 5 % lighter, and a
    little warmer or cooler, never a colour of its own."""
    from railwatch_synth.config import VARIED
    from railwatch_synth.looks import ballast_matched

    rng = np.random.default_rng(0)
    for ballast in ((110.0, 104.0, 112.0), (150.0, 140.0, 125.0), (80.0, 82.0, 78.0)):
        colours = np.array([ballast_matched(rng, ballast) for _ in range(200)])
        ratio = (colours @ (0.299, 0.587, 0.114)) / np.dot(ballast, (0.299, 0.587, 0.114))
        assert ratio.min() > 0.55 and ratio.max() < 1.15
        assert np.abs(colours - np.array(ballast) * ratio[:, None]).max() < 30  # the ballast's hue, give or take
    plain = VARIED.with_(coach_string_probability=0.0, dark_string_probability=0.0, any_colour_string_probability=0.0)
    scene = make_yard(34, gsd_m=0.5, config=plain.with_(ballast_matched_string_probability=1.0))
    other = make_yard(34, gsd_m=0.5, config=plain)
    assert not np.array_equal(scene.image, other.image)  # the look is drawn


def test_painted_out_outlines_soften_car_edges_and_leave_roofs():
    """Label outlines drawn and inpainted away (as some labelled aerial sets
    come): the sharpest one-pixel step across each car's long edges drops,
    the roof's middle and the cars themselves stay as they were."""
    from railwatch_synth.config import VARIED

    plain_cfg = VARIED.with_(vehicle_depot_probability=0.0, painted_out_outline_probability=0.0, jpeg_quality=None,
                             noise_sigma_dn=(0.0, 0.0), cloud_probability=0.0, nodata_probability=0.0)
    plain = make_yard(34, gsd_m=0.25, config=plain_cfg)
    painted = make_yard(34, gsd_m=0.25, config=plain_cfg.with_(painted_out_outline_probability=1.0))
    assert [(c.col_px, c.row_px) for c in plain.cars] == [(c.col_px, c.row_px) for c in painted.cars]

    def edge_step_and_centre(image, car):
        lum = image.astype(np.float32).mean(axis=2)
        h = np.radians(car.heading_deg)
        across = np.array([np.cos(h), np.sin(h)])  # perpendicular to (sin h, -cos h)
        centre = np.array([car.col_px, car.row_px]) - 0.5
        half_w_px = car.width_m / 2 / 0.25

        def at(offset_px):
            col, row = np.round(centre + across * offset_px).astype(int)
            return lum[row, col]
        steps = [max(abs(at(side * (half_w_px + k + 1)) - at(side * (half_w_px + k))) for k in range(-4, 4))
                 for side in (1, -1)]
        return sum(steps), at(0)

    plain_edges, painted_edges, centre_moves = [], [], []
    for a, b in zip(plain.cars, painted.cars):
        (ea, ca), (eb, cb) = edge_step_and_centre(plain.image, a), edge_step_and_centre(painted.image, b)
        plain_edges.append(ea)
        painted_edges.append(eb)
        centre_moves.append(abs(ca - cb))
    assert np.median(painted_edges) < 0.75 * np.median(plain_edges), (np.median(painted_edges), np.median(plain_edges))
    assert np.median(centre_moves) < 2.0


def test_dense_yards_hold_long_strings_on_neighbouring_tracks():
    """The dense preset: many cars, and most strings have a string on the next track within 5.2 m."""
    scene = make_yard(36002, gsd_m=0.5, difficulty="dense")
    assert len(scene.cars) >= 150
    strings = _strings(scene)
    assert len(strings) >= 10
    centres = {sid: np.array([(c.col_px, c.row_px) for c in cars]) * 0.5 for sid, cars in strings.items()}
    h = np.radians(scene.meta["heading_deg"])
    across = np.array([np.cos(h), np.sin(h)])
    offsets = {sid: float(np.median(xy @ across)) for sid, xy in centres.items()}
    with_neighbour = sum(any(0.5 < abs(offsets[s] - offsets[t]) < 5.2 for t in offsets if t != s) for s in offsets)
    assert with_neighbour >= 0.6 * len(offsets), (with_neighbour, len(offsets))
