"""Mechanics of the detection core, without QGIS: tiling, duplicate merging,
the resolution check, pixel sources, nodata, progress, cancel, workers, and
the shape of every returned car.

These tests do not depend on how well the detector is tuned (that is
test_detection_accuracy.py): where they run the detector on a synthetic yard
they compare runs with each other, or check properties every detection must
have, or use loose tolerances against the truth.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from bench.scoring import match
from railwatch_plugin.core import (
    CAR_KINDS,
    METHOD_GAP,
    METHOD_SINGLE,
    ArraySource,
    DetectionParams,
    Railcar,
    check_resolution,
    detect_railcars,
    detect_railcars_in_array,
    merge_duplicates,
    tile_grid,
)
from railwatch_plugin.core.detect import tile_layout
from railwatch_synth import make_yard


GSD_M = 0.5
SMALL_YARD_M = (300.0, 200.0)  # 600 x 400 px at 0.5 m: quick to draw and detect
# Small enough for several tiles on a small yard: the detector raises the tile
# size to 2 * overlap + 64 px (344 px at 0.5 m with the default 70 m overlap).
SMALL_TILES = DetectionParams().with_(tile_size_px=344)


# --------------------------------------------------------------------- helpers


def _car(col, row, length_px, width_px, heading_deg=90.0, confidence=0.8, kind="box"):
    """A Railcar centred on (col, row); heading clockwise from image up."""
    h = math.radians(heading_deg)
    along = np.array([math.sin(h), -math.cos(h)])  # image up is -row
    across = np.array([math.cos(h), math.sin(h)])
    c = np.array([col, row], float)
    a, b = along * length_px / 2, across * width_px / 2
    corners = tuple(tuple(float(v) for v in p) for p in (c - a - b, c + a - b, c + a + b, c - a + b))
    return Railcar(
        col_px=float(col),
        row_px=float(row),
        corners_px=corners,
        length_m=length_px * GSD_M,
        width_m=width_px * GSD_M,
        heading_deg=heading_deg % 180.0,
        confidence=confidence,
        kind=kind,
        method=METHOD_SINGLE,
    )


def _polygon_area(corners) -> float:
    p = np.asarray(corners, float)
    x, y = p[:, 0], p[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _overlap_of_smaller(a, b) -> float:
    """Intersection area / area of the smaller box, by rasterising both boxes
    on a 0.25 px grid (independent of the code under test)."""
    pts = np.vstack([a.corners_px, b.corners_px])
    lo, hi = np.floor(pts.min(0)) - 1, np.ceil(pts.max(0)) + 1
    step = 0.25
    xs = np.arange(lo[0], hi[0], step) + step / 2
    ys = np.arange(lo[1], hi[1], step) + step / 2
    gx, gy = np.meshgrid(xs, ys)

    def inside(corners):
        p = np.asarray(corners, float)
        signs = []
        for i in range(4):
            (x0, y0), (x1, y1) = p[i], p[(i + 1) % 4]
            signs.append((x1 - x0) * (gy - y0) - (y1 - y0) * (gx - x0))
        s = np.stack(signs)
        return np.all(s >= 0, axis=0) | np.all(s <= 0, axis=0)

    ia, ib = inside(a.corners_px), inside(b.corners_px)
    smaller = min(ia.sum(), ib.sum())
    return float((ia & ib).sum()) / smaller if smaller else 0.0


def _assert_same_cars(found, expected):
    """Same count, positions, sizes and labels. Floats agree to 1e-6, not
    bit for bit: OpenCV's own threads sum in varying order (about 1e-11 px)."""
    assert len(found) == len(expected), f"{len(found)} cars vs {len(expected)}"
    for a, b in zip(found, expected):
        assert (a.col_px, a.row_px) == pytest.approx((b.col_px, b.row_px), abs=1e-6)
        assert np.allclose(a.corners_px, b.corners_px, atol=1e-6)
        assert (a.length_m, a.width_m, a.heading_deg, a.confidence) == pytest.approx(
            (b.length_m, b.width_m, b.heading_deg, b.confidence), abs=1e-6
        )
        assert (a.kind, a.method) == (b.kind, b.method)


def _positions(cars):
    return [(round(c.col_px, 3), round(c.row_px, 3)) for c in cars]


def _heading_difference_deg(a: float, b: float) -> float:
    d = abs(a - b) % 180.0
    return min(d, 180.0 - d)


def _assert_no_heavy_overlap(cars, max_overlap=0.5):
    for i, a in enumerate(cars):
        for b in cars[i + 1 :]:
            if math.dist((a.col_px, a.row_px), (b.col_px, b.row_px)) > 40 / GSD_M:
                continue  # farther apart than two long cars: cannot overlap
            share = _overlap_of_smaller(a, b)
            assert share <= max_overlap, (
                f"cars at ({a.col_px:.0f}, {a.row_px:.0f}) and ({b.col_px:.0f}, {b.row_px:.0f}) "
                f"overlap by {share:.0%} of the smaller box"
            )


@pytest.fixture(scope="module")
def small_yard():
    return make_yard(21, gsd_m=GSD_M, size_m=SMALL_YARD_M, difficulty="easy")


# ------------------------------------------------------------------ tile_grid

GRID_CASES = [
    # (width, height, tile_px, overlap_px)
    (1, 1, 256, 64),
    (5, 5, 256, 64),
    (100, 37, 256, 64),  # smaller than one tile
    (256, 256, 256, 64),  # exactly one tile
    (448, 640, 256, 64),  # exact multiples of the step (192) plus the overlap
    (1001, 777, 256, 64),  # odd sizes
    (257, 1999, 256, 64),  # one pixel more than a tile
    (2048, 300, 344, 140),  # the detector's small tile at 0.5 m
    (1235, 913, 600, 141),  # odd overlap
    (5000, 4099, 2048, 140),
]


@pytest.mark.parametrize("width,height,tile_px,overlap_px", GRID_CASES)
def test_tile_grid_owned_regions_tile_the_raster_exactly(width, height, tile_px, overlap_px):
    tiles = list(tile_grid(width, height, tile_px, overlap_px))
    assert tiles
    # Every pixel centre (and a few points between) is owned by exactly one tile.
    cols = np.arange(width) + 0.5
    rows = np.arange(height) + 0.5
    owners_col = np.zeros(width, int)
    owners_row = np.zeros(height, int)
    col_ranges = sorted({(o[0], o[2]) for *_, o in tiles})
    row_ranges = sorted({(o[1], o[3]) for *_, o in tiles})
    for lo, hi in col_ranges:
        owners_col += (cols >= lo) & (cols < hi)
    for lo, hi in row_ranges:
        owners_row += (rows >= lo) & (rows < hi)
    assert (owners_col == 1).all() and (owners_row == 1).all()
    # The owned intervals chain from 0 to the raster size with no gap or overlap.
    for ranges, size in ((col_ranges, width), (row_ranges, height)):
        assert ranges[0][0] == 0.0 and ranges[-1][1] == float(size)
        for (_, hi), (lo, _) in zip(ranges[:-1], ranges[1:]):
            assert hi == lo
    # The grid is the full product of column and row ranges, each tile once.
    assert len(tiles) == len(col_ranges) * len(row_ranges)
    assert len({o for *_, o in tiles}) == len(tiles)
    # Total owned area equals the raster area.
    owned_area = sum((o[2] - o[0]) * (o[3] - o[1]) for *_, o in tiles)
    assert owned_area == pytest.approx(width * height)


@pytest.mark.parametrize("width,height,tile_px,overlap_px", GRID_CASES)
def test_tile_windows_lie_inside_the_raster_and_overlap_at_least_as_asked(width, height, tile_px, overlap_px):
    tiles = list(tile_grid(width, height, tile_px, overlap_px))
    for c0, r0, cols, rows, (clo, rlo, chi, rhi) in tiles:
        assert 0 <= c0 and 0 <= r0 and 0 < cols <= tile_px and 0 < rows <= tile_px
        assert c0 + cols <= width and r0 + rows <= height
        # A car centred in the owned part is whole in the window when it is
        # shorter than the overlap: owned edges keep half the overlap from
        # every inner window edge.
        assert clo >= c0 and chi <= c0 + cols and rlo >= r0 and rhi <= r0 + rows
        if clo > 0:
            assert clo - c0 >= overlap_px / 2
        if chi < width:
            assert c0 + cols - chi >= overlap_px / 2
        if rlo > 0:
            assert rlo - r0 >= overlap_px / 2
        if rhi < height:
            assert r0 + rows - rhi >= overlap_px / 2
    starts_col = sorted({t[0] for t in tiles})
    starts_row = sorted({t[1] for t in tiles})
    for starts in (starts_col, starts_row):
        for a, b in zip(starts[:-1], starts[1:]):
            assert a + tile_px - b >= overlap_px, f"tiles at {a} and {b} overlap by {a + tile_px - b} < {overlap_px}"


# ----------------------------------------------------------- merge_duplicates


def test_merge_keeps_the_more_confident_of_two_overlapping_boxes():
    weak = _car(100, 100, 30, 6, confidence=0.6)
    strong = _car(104, 101, 30, 6, confidence=0.9)
    for cars in ([weak, strong], [strong, weak]):
        kept = merge_duplicates(cars)
        assert kept == [strong]


def test_merge_keeps_boxes_that_only_touch():
    left = _car(100, 100, 30, 6, confidence=0.6)
    right = _car(130, 100, 30, 6, confidence=0.9)  # shares the end edge at col 115
    beside = _car(100, 109, 30, 6, confidence=0.7)  # next track, 4.5 m centre to centre
    kept = merge_duplicates([left, right, beside])
    assert sorted(_positions(kept)) == sorted(_positions([left, right, beside]))


def test_merge_drops_a_band_closer_beside_a_car_than_tracks_can_be():
    # Parallel tracks are >= 4.5 m apart: a 3 m wide band 3 m beside a car is
    # its shadow or a ballast edge, not a second car, even though the boxes only touch.
    car = _car(100, 100, 30, 6, confidence=0.9)
    shadow = _car(100, 106, 30, 6, confidence=0.6)
    assert merge_duplicates([shadow, car]) == [car]


def test_merge_draws_the_line_between_a_shadow_twin_and_the_closest_real_track():
    # A shadow band taken for a car lies 3-3.5 m beside it; the closest real
    # tracks are 4 m apart.
    car = _car(100, 100, 30, 6, confidence=0.9)
    twin = _car(101, 106.8, 30, 6, confidence=0.6)  # 3.4 m beside
    neighbour = _car(101, 108, 30, 6, confidence=0.6)  # 4.0 m beside
    assert merge_duplicates([twin, car]) == [car]
    assert len(merge_duplicates([neighbour, car])) == 2


def test_merge_uses_overlap_of_the_smaller_box():
    # A 10 m car lying inside a 30 m one: IoU is only 1/3, but all of the
    # short box is covered, so it is a duplicate and the less confident goes.
    long_car = _car(200, 200, 60, 6, heading_deg=30, confidence=0.9)
    h = math.radians(30)
    along = np.array([math.sin(h), -math.cos(h)])
    for offset_px in (0.0, 20.0):  # in the middle, and flush with one end
        c = np.array([200.0, 200.0]) + along * offset_px
        short_car = _car(c[0], c[1], 20, 6, heading_deg=30, confidence=0.6)
        assert merge_duplicates([short_car, long_car]) == [long_car]
        confident_short = _car(c[0], c[1], 20, 6, heading_deg=30, confidence=0.95)
        assert merge_duplicates([long_car, confident_short]) == [confident_short]


def test_merge_keeps_boxes_overlapping_less_than_the_limit():
    a = _car(100, 100, 30, 6, confidence=0.9)
    b = _car(124, 100, 30, 6, confidence=0.5)  # 6 of 30 px overlap; ~6 % once ends are trimmed 15 %
    assert len(merge_duplicates([a, b])) == 2
    assert merge_duplicates([a, b], max_overlap=0.03) == [a]


def test_merge_is_deterministic_under_input_permutation():
    rng = np.random.default_rng(3)
    cars = []
    for i in range(10):  # ten cars in a row, each reported one to three times
        col, row = 40.0 + 32.0 * i, 100.0 + rng.uniform(-2, 2)
        for _ in range(rng.integers(1, 4)):
            jitter = rng.uniform(-3, 3, 2)
            conf = float(rng.choice([0.5, 0.7, 0.7, 0.9]))  # exact ties too
            cars.append(_car(col + jitter[0], row + jitter[1], rng.uniform(26, 30), 6, confidence=conf))
    reference = merge_duplicates(cars)
    assert 0 < len(reference) < len(cars)
    for _ in range(20):
        shuffled = [cars[i] for i in rng.permutation(len(cars))]
        assert merge_duplicates(shuffled) == reference
    # Nothing left overlaps by more than half the smaller box.
    _assert_no_heavy_overlap(reference)


# ------------------------------------------------------------ check_resolution


def _finest_gsd_named(message: str) -> float:
    found = re.search(r"Use imagery of ([0-9.]+) m per pixel or finer", message)
    assert found, f"message does not name the finest usable GSD: {message!r}"
    return float(found.group(1))


def test_half_metre_is_fine_enough():
    check = check_resolution(0.5)
    assert check.ok
    assert "0.50 m" in check.message
    assert check.car_width_px == pytest.approx(DetectionParams().car_width_m[0] / 0.5)


def test_two_metres_is_too_coarse_and_the_message_says_what_to_use():
    check = check_resolution(2.0)
    assert not check.ok
    assert "2.00 m per pixel" in check.message
    finest = _finest_gsd_named(check.message)
    assert 0.5 <= finest < 2.0
    # The named GSD is the boundary: slightly coarser fails.
    assert not check_resolution(finest * 1.05).ok


def test_the_finest_usable_gsd_named_in_the_message_is_accepted():
    # A user told "use 0.80 m or finer" who has 0.80 m imagery must not be refused.
    finest = _finest_gsd_named(check_resolution(2.0).message)
    assert check_resolution(finest).ok, check_resolution(finest).message


def test_anisotropic_gsd_is_judged_on_the_coarser_axis():
    for gsd in ((0.5, 2.0), (2.0, 0.5)):
        check = check_resolution(gsd)
        assert not check.ok
        assert "2.00 m per pixel" in check.message
    ok = check_resolution((0.3, 0.6))
    assert ok.ok and "0.60 m" in ok.message
    assert ok.car_length_px == pytest.approx(DetectionParams().car_length_m[0] / 0.6)


def test_invalid_gsd_raises_value_error():
    for bad in (0.0, -0.5, (0.5, 0.0)):
        with pytest.raises(ValueError, match="ground sample distance must be positive"):
            check_resolution(bad)


# ----------------------------------------------------------------- ArraySource


def test_array_source_marks_nodata_only_where_every_band_is_nodata():
    image = np.full((4, 6, 3), 50, np.uint8)
    image[0, 0] = 0  # all bands nodata -> invalid
    image[1, 2, 0] = 0  # one band only -> still valid
    image[3, 5] = 0
    src = ArraySource(image, nodata=0)
    assert (src.width, src.height) == (6, 4)
    window = src.read(0, 0, 6, 4)
    expected = np.ones((4, 6), bool)
    expected[0, 0] = expected[3, 5] = False
    assert np.array_equal(window.valid, expected)
    # A window elsewhere: offsets are applied to data and mask alike.
    part = src.read(4, 2, 2, 2)
    assert part.data.shape == (2, 2, 3)
    assert np.array_equal(part.valid, expected[2:4, 4:6])
    assert np.array_equal(part.data, image[2:4, 4:6])


def test_array_source_mask_and_nodata_combine():
    image = np.full((5, 5), 9, np.uint16)  # single band, 2-D
    image[4, 4] = 65535
    mask = np.full((5, 5), 255, np.uint8)  # an alpha band works as is
    mask[0, :] = 0
    src = ArraySource(image, nodata=65535, mask=mask)
    window = src.read(0, 0, 5, 5)
    assert window.data.shape == (5, 5, 1)
    expected = np.ones((5, 5), bool)
    expected[0, :] = False
    expected[4, 4] = False
    assert np.array_equal(window.valid, expected)


def test_array_source_without_nodata_or_mask_has_no_valid_array():
    window = ArraySource(np.zeros((3, 3, 3), np.uint8)).read(0, 0, 3, 3)
    assert window.valid is None


def test_array_source_rejects_bad_shapes_with_clear_messages():
    with pytest.raises(ValueError, match=r"image must be \(rows, cols\) or \(rows, cols, bands\)"):
        ArraySource(np.zeros((2, 3, 4, 5), np.uint8))
    with pytest.raises(ValueError, match=r"image must be"):
        ArraySource(np.zeros(7, np.uint8))
    with pytest.raises(ValueError, match=r"mask shape \(4, 4\) does not match image \(4, 5\)"):
        ArraySource(np.zeros((4, 5, 3), np.uint8), mask=np.ones((4, 4), bool))


# ------------------------------------------------- degenerate and refused input


def test_all_nodata_raster_gives_no_cars_and_no_error(small_yard):
    image = np.zeros_like(small_yard.image)
    result = detect_railcars_in_array(image, GSD_M, nodata=0)
    assert result.cars == [] and result.all_cars == []
    assert not result.canceled and result.resolution.ok
    masked = detect_railcars_in_array(small_yard.image, GSD_M, mask=np.zeros(image.shape[:2], bool))
    assert masked.all_cars == []


def test_tiny_raster_gives_no_cars():
    for image in (np.full((5, 5, 3), 128, np.uint8), np.zeros((1, 1), np.uint8), np.zeros((5, 5), np.float32)):
        result = detect_railcars_in_array(image, GSD_M)
        assert result.all_cars == []
        assert not result.canceled and result.tiles_done == 1


def test_too_coarse_gsd_returns_no_cars_and_the_resolution_warning():
    scene = make_yard(4, gsd_m=2.0, size_m=SMALL_YARD_M, difficulty="easy")
    assert scene.cars  # there are cars to be found, but not at 2 m
    result = detect_railcars_in_array(scene.image, 2.0)
    assert result.all_cars == []
    assert not result.resolution.ok
    assert result.warnings == [result.resolution.message]
    assert "2.00 m per pixel" in result.warnings[0] and "or finer" in result.warnings[0]
    assert result.tiles_done == 0


# --------------------------------------------------------- progress and cancel


def test_progress_rises_to_one_over_several_tiles(small_yard):
    fractions = []
    result = detect_railcars_in_array(small_yard.image, GSD_M, SMALL_TILES, progress=fractions.append, workers=2)
    assert result.tiles_done >= 4  # the small tile size really makes several tiles
    assert len(fractions) == result.tiles_done
    assert all(0 < f <= 1 for f in fractions)
    assert all(b > a for a, b in zip(fractions[:-1], fractions[1:]))
    assert fractions[-1] == pytest.approx(1.0)


def test_cancel_after_the_first_poll_stops_early(small_yard):
    full = detect_railcars_in_array(small_yard.image, GSD_M, SMALL_TILES, workers=1)
    polls = []

    def is_canceled():
        polls.append(1)
        return len(polls) > 1

    result = detect_railcars_in_array(small_yard.image, GSD_M, SMALL_TILES, is_canceled=is_canceled, workers=1)
    assert result.canceled
    assert not full.canceled
    assert result.tiles_done < full.tiles_done
    assert len(polls) == 2  # polled between tiles, stopped at the second poll


# ------------------------------------------------------- workers and tile seams


SEAM_TILE_PX = 400  # 6 tiles on the 900 x 600 px seam yard; seams at columns 330 and 580


@pytest.fixture(scope="module")
def seam_yard():
    """Tracks along the rows, so strings run across the vertical tile seams."""
    return make_yard(3, gsd_m=GSD_M, size_m=(450.0, 300.0), heading_deg=90.0, difficulty="easy")


@pytest.fixture(scope="module")
def seam_runs(seam_yard):
    """The seam yard detected in small tiles with 1 and 2 workers, and in one tile."""
    tiled = DetectionParams().with_(tile_size_px=SEAM_TILE_PX)
    return {
        "workers=1": detect_railcars_in_array(seam_yard.image, GSD_M, tiled, workers=1),
        "workers=2": detect_railcars_in_array(seam_yard.image, GSD_M, tiled, workers=2),
        "one tile": detect_railcars_in_array(seam_yard.image, GSD_M, DetectionParams().with_(tile_size_px=4096)),
        "network alone, tiled": detect_railcars_in_array(seam_yard.image, GSD_M, tiled.with_(string_support=False)),
        "network alone, one tile": detect_railcars_in_array(
            seam_yard.image, GSD_M, DetectionParams(string_support=False).with_(tile_size_px=4096)),
    }


def test_one_or_two_workers_give_identical_results(seam_runs):
    one, two = seam_runs["workers=1"], seam_runs["workers=2"]
    assert len(one.all_cars) > 0
    _assert_same_cars(two.all_cars, one.all_cars)
    assert one.tiles_done == two.tiles_done > 1


def test_tiling_does_not_change_the_count_where_strings_cross_seams(seam_yard, seam_runs):
    width, height = seam_yard.width_px, seam_yard.height_px
    params = DetectionParams().with_(tile_size_px=SEAM_TILE_PX)
    overlap_px = math.ceil(params.tile_overlap_m / GSD_M)
    tiles = list(tile_grid(width, height, max(SEAM_TILE_PX, 2 * overlap_px + 64), overlap_px))
    seams = sorted({o[2] for *_, o in tiles if o[2] < width})
    assert len(tiles) == seam_runs["workers=2"].tiles_done > 1
    # Precondition: some true strings really run across a seam.
    strings = {}
    for car in seam_yard.cars:
        strings.setdefault(car.string_id, []).append(car.col_px)
    crossing = [c for c in strings.values() if any(min(c) < s < max(c) for s in seams)]
    assert len(crossing) >= 2

    single, tiled = seam_runs["one tile"], seam_runs["workers=2"]
    assert single.tiles_done == 1
    assert len(single.cars) > 0
    # What the network finds does not depend on the tiling (a car's context
    # differs a little near a seam, so one car may come and go) ...
    alone_tiled, alone_single = (len(seam_runs[f"network alone, {k}"].cars) for k in ("tiled", "one tile"))
    assert abs(alone_tiled - alone_single) <= 1, f"network alone: tiled {alone_tiled} vs one tile {alone_single}"
    # ... and string support, which turns doubtful cars linked to sure ones into
    # counted cars, may carry such a change one car further (here 44 -> 46 and 43 -> 44).
    assert abs(len(tiled.cars) - len(single.cars)) <= 2, f"tiled {len(tiled.cars)} vs one tile {len(single.cars)}"
    _assert_no_heavy_overlap(tiled.all_cars)


def test_string_ids_count_from_zero_across_tiles_and_a_string_is_one_line_of_coupled_cars(seam_runs):
    result = seam_runs["workers=2"]
    cars = result.cars
    ids = sorted({c.string_id for c in cars})
    assert ids == list(range(len(ids)))
    assert all(c.string_id == -1 for c in result.all_cars if c.confidence < result.min_confidence)
    coupled = 0
    for sid in ids:
        members = [c for c in cars if c.string_id == sid]
        h = math.radians(members[0].heading_deg)
        along, across = np.array([math.sin(h), -math.cos(h)]), np.array([math.cos(h), math.sin(h)])
        members.sort(key=lambda c: along @ (c.col_px, c.row_px))
        for a, b in zip(members, members[1:]):
            d = (np.array([b.col_px, b.row_px]) - (a.col_px, a.row_px)) * GSD_M
            assert abs(d @ across) <= 1.5
            assert d @ along - 0.5 * (a.length_m + b.length_m) < 2.0 + 0.1 * 0.5 * (a.length_m + b.length_m)
            coupled += 1
        assert all(c.method == ("single" if len(members) == 1 else "gap") for c in members)
    assert coupled > 10  # the yard has strings of coupled cars to check


def test_cars_coupled_across_a_tile_seam_share_one_string_number(seam_runs):
    """Strings are formed over the whole raster's cars, after the tiles: two cars
    coupled end to end keep one number where a seam runs between them. (Whether
    the detector finds every car of a string, and its lengths so that they
    couple, is the benchmark's: ``bench/accuracy.py`` prints the strings it splits.)"""
    from railwatch_plugin.core.coupling import coupled_pairs

    cars = seam_runs["workers=2"].cars
    seams = (330, 580)
    coupled = [sorted((cars[i], cars[j]), key=lambda c: c.col_px)
               for i, j, _ in coupled_pairs(cars, (GSD_M, GSD_M), range(len(cars)))]
    across = [(a, b) for a, b in coupled if any(a.col_px < s < b.col_px for s in seams)]
    assert len(across) >= 2  # the yard has coupled cars on either side of both seams
    assert {s for s in seams if any(a.col_px < s < b.col_px for a, b in across)} == set(seams)
    assert all(a.string_id == b.string_id for a, b in across)


# --------------------------------------------------------------------- nodata


@pytest.mark.parametrize("how", ["mask", "nodata"])
def test_masking_the_left_half_removes_its_detections(small_yard, how):
    image = small_yard.image.copy()
    half = small_yard.width_px // 2
    unmasked = detect_railcars_in_array(image, GSD_M, workers=1)
    assert any(c.col_px < half for c in unmasked.all_cars)  # there was something to remove
    if how == "mask":
        mask = np.ones(image.shape[:2], bool)
        mask[:, :half] = False
        result = detect_railcars_in_array(image, GSD_M, mask=mask, workers=1)
    else:
        image[image == 0] = 1  # keep 0 free for nodata
        image[:, :half] = 0
        result = detect_railcars_in_array(image, GSD_M, nodata=0, workers=1)
    left = [(round(c.col_px), round(c.row_px)) for c in result.all_cars if c.col_px < half]
    assert left == [], f"detections centred in the nodata half: {left}"
    assert any(c.col_px >= half for c in result.cars)


# ------------------------------------------------------ what every car looks like


def test_every_car_is_well_formed(small_yard):
    assert {METHOD_SINGLE, METHOD_GAP} == {"single", "gap"}
    result = detect_railcars_in_array(small_yard.image, GSD_M, workers=1)
    assert len(result.all_cars) > 0
    for car in result.all_cars:
        assert len(car.corners_px) == 4 and all(len(p) == 2 for p in car.corners_px)
        assert 0.0 <= car.heading_deg < 180.0
        assert 0.0 <= car.confidence <= 1.0
        assert car.confidence >= DetectionParams().confidence_floor
        assert car.kind in CAR_KINDS
        assert car.method in {"single", "gap"}
        assert car.length_m > 0 and car.width_m > 0
        # The corners are the box the sizes describe, centred on the car.
        centre = np.mean(np.asarray(car.corners_px, float), axis=0)
        assert math.dist(centre, (car.col_px, car.row_px)) < 1.0
        assert _polygon_area(car.corners_px) * GSD_M**2 == pytest.approx(car.length_m * car.width_m, rel=0.1)
        assert 0 <= car.col_px < small_yard.width_px and 0 <= car.row_px < small_yard.height_px
    assert all(c.confidence >= result.min_confidence for c in result.cars)


@pytest.mark.parametrize("heading_deg", [0.0, 30.0, 75.0, 140.0])
def test_heading_agrees_with_the_tracks(heading_deg):
    scene = make_yard(31, gsd_m=GSD_M, size_m=SMALL_YARD_M, heading_deg=heading_deg, difficulty="easy")
    result = detect_railcars_in_array(scene.image, GSD_M, workers=1)
    _, pairs = match(result.cars, scene.cars, GSD_M)
    assert len(pairs) >= 5, f"only {len(pairs)} cars matched the truth"
    off = [
        (round(result.cars[i].heading_deg, 1), round(scene.cars[j].heading_deg, 1))
        for i, j in pairs
        if _heading_difference_deg(result.cars[i].heading_deg, scene.cars[j].heading_deg) > 5.0
    ]
    assert off == [], f"(found, true) headings more than 5 degrees apart: {off}"


def test_uint16_and_single_band_count_like_8_bit_colour():
    kwargs = dict(gsd_m=GSD_M, size_m=SMALL_YARD_M, difficulty="easy")
    colour = make_yard(13, **kwargs)
    deep = make_yard(13, dtype="uint16", **kwargs)
    grey = make_yard(13, bands=1, **kwargs)
    assert deep.image.dtype == np.uint16 and grey.image.shape[2] == 1
    assert deep.cars == colour.cars == grey.cars  # same truth, different pixels
    reference = len(detect_railcars_in_array(colour.image, GSD_M, workers=1).cars)
    assert reference > 0
    for scene in (deep, grey):
        n = len(detect_railcars_in_array(scene.image, GSD_M, workers=1).cars)
        assert abs(n - reference) <= 0.25 * reference, f"{scene.image.dtype} x{scene.image.shape[2]}: {n} vs {reference}"


def test_detect_railcars_reads_any_tile_source(small_yard):
    """A source that only implements the protocol (no numpy image behind it)."""

    class CountingSource:
        def __init__(self, image):
            self._inner = ArraySource(image)
            self.width, self.height = self._inner.width, self._inner.height
            self.reads = []

        def read(self, col0, row0, cols, rows):
            assert 0 <= col0 and col0 + cols <= self.width and 0 <= row0 and row0 + rows <= self.height
            self.reads.append((col0, row0, cols, rows))
            return self._inner.read(col0, row0, cols, rows)

    src = CountingSource(small_yard.image)
    result = detect_railcars(src, GSD_M, SMALL_TILES, workers=1)
    assert len(src.reads) == result.tiles_done > 1
    direct = detect_railcars_in_array(small_yard.image, GSD_M, SMALL_TILES, workers=1)
    _assert_same_cars(result.all_cars, direct.all_cars)


# ------------------------------------------------------- GSD a hair off a centimetre

def test_a_gsd_a_hair_off_a_centimetre_gets_the_same_tiles_and_the_same_cars(small_yard):
    """A UTM product of 0.5 m is 0.5002 m on the ground (scale factor 0.9996):
    it must count like 0.5 m. Before, every size in whole pixels (bands, gaps,
    the tile overlap) could round differently, and the demo scene gave 64 cars
    instead of 70."""
    assert tile_layout(GSD_M * 1.0004, DetectionParams()) == tile_layout(GSD_M, DetectionParams())
    exact = detect_railcars_in_array(small_yard.image, GSD_M, SMALL_TILES)
    off = detect_railcars_in_array(small_yard.image, GSD_M * 1.0004, SMALL_TILES)
    assert len(exact.cars) > 5
    assert len(off.cars) == len(exact.cars)
    np.testing.assert_allclose([(c.col_px, c.row_px, c.confidence) for c in off.cars],
                               [(c.col_px, c.row_px, c.confidence) for c in exact.cars], atol=1e-6)


@pytest.mark.parametrize("gsd_m", [0.3, 0.75, (0.3, 0.6)])
def test_a_yard_is_counted_at_finer_coarser_and_non_square_pixels(gsd_m):
    """Finer images are averaged down to the network's 0.5 m, coarser ones
    interpolated up, and non-square pixels made square, one axis each way."""
    from types import SimpleNamespace

    import cv2

    drawn = gsd_m if isinstance(gsd_m, float) else gsd_m[0]
    scene = make_yard(41, gsd_m=drawn, size_m=SMALL_YARD_M, difficulty="easy")
    image, truth = scene.image, scene.cars
    if not isinstance(gsd_m, float):  # every other row: 0.3 m across, 0.6 m down
        image = cv2.resize(image, (image.shape[1], image.shape[0] // 2), interpolation=cv2.INTER_AREA)
        truth = [SimpleNamespace(col_px=c.col_px, row_px=c.row_px / 2, length_m=c.length_m) for c in truth]
    result = detect_railcars_in_array(image, gsd_m, workers=1)
    score, _ = match(result.cars, truth, drawn)
    assert score.n_true >= 15 and score.f1 >= 0.95, score
