"""What stands around a yard: roads, pads, look-alikes, buildings, trees, masts.

Look-alikes (container stacks, lorries, sheds, a platform canopy, parked cars)
are the things a railcar detector most easily confuses with cars; they are put
off the tracks (checked on a 1 m occupancy grid) and recorded as distractors.
"""

from __future__ import annotations

import numpy as np

from .canvas import heading_vectors, rect
from .layout import GroundPatch, Occupancy, Part, Thing, clip_line
from .looks import CONTAINER_COLOURS

CONTAINER_W_M = 2.44
CONTAINER_H_M = 2.59
ROOF_COLOURS = [(150, 152, 155), (128, 82, 62), (70, 100, 140), (200, 200, 196), (84, 110, 92), (110, 110, 112)]
VEHICLE_COLOURS = [(225, 225, 222), (170, 172, 176), (30, 30, 34), (150, 30, 30), (40, 60, 120), (90, 90, 92)]
TRAILER_COLOURS = [(222, 222, 220), (190, 192, 194), (60, 90, 150), (150, 40, 36), (60, 110, 70), (200, 170, 60)]


def _jit(rng, rgb, sd=6.0):
    return tuple(float(np.clip(v + rng.normal(0, sd), 5, 250)) for v in rgb)


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def container_column(rng, centre, along, across, length_m, levels):
    colour = _jit(rng, _pick(rng, CONTAINER_COLOURS), 10)
    poly = rect(centre, along, across, length_m, CONTAINER_W_M)
    parts = [Part(poly, colour, 15.0, levels * CONTAINER_H_M)]
    # corrugated roof: faint ribs across the container
    step = 0.6
    shade = tuple(v * 0.9 for v in colour)
    for u in np.arange(-length_m / 2 + 0.4, length_m / 2 - 0.3, step):
        parts.append(Part(rect(centre + along * u, along, across, 0.12, CONTAINER_W_M - 0.1), shade, 15.0))
    return Thing("container_stack", poly, parts)


def lorry(rng, front_centre, along, across):
    """Semi-trailer with cab: 16.5 x 2.55 m overall, cab 2.5 m of another colour."""
    cab_c = front_centre - along * 1.25
    trailer_c = front_centre - along * (2.5 + 0.3 + 13.7 / 2)
    cab = rect(cab_c, along, across, 2.5, 2.5)
    trailer = rect(trailer_c, along, across, 13.7, 2.55)
    t_col = _jit(rng, _pick(rng, TRAILER_COLOURS), 8)
    c_col = _jit(rng, _pick(rng, VEHICLE_COLOURS + [(200, 60, 40), (40, 90, 160)]), 8)
    whole = rect(front_centre - along * 8.25, along, across, 16.5, 2.55)
    parts = [Part(trailer, t_col, 12.0, 4.0), Part(cab, c_col, 12.0, 3.0)]
    return Thing("lorry", whole, parts)


BUS_COLOURS = [(228, 178, 32), (232, 232, 228), (204, 206, 210), (236, 200, 60), (40, 90, 150), (180, 40, 36)]


def bus(rng, centre, along, across, colour):
    """A bus or coach from above: 10.5-13.5 x 2.55 m, a roof of one colour with
    lighter air-conditioning boxes on it, about the size and brightness of a tank car."""
    length = rng.uniform(10.5, 13.5)
    whole = rect(centre, along, across, length, 2.55)
    parts = [Part(whole, _jit(rng, colour, 6), 10.0, 3.2)]
    for u in rng.uniform(-length / 3, length / 3, int(rng.integers(0, 3))):
        parts.append(Part(rect(centre + along * u, along, across, 1.8, 1.6), _jit(rng, (220, 222, 224), 8), 6.0))
    return Thing("bus", whole, parts)


def vehicle_depot(rng, w, h, heading_deg, occ: Occupancy):
    """Rows of buses parked side by side on an asphalt lot: a look-alike of a
    string of tank cars across several tracks, with no rails under it (the
    real bus depot of ../shared/real is read as railcars). Returns (things, ground)."""
    things, ground = [], []
    angle = heading_deg if rng.random() < 0.5 else rng.uniform(0.0, 180.0)
    along, across = heading_vectors(angle)  # buses point along ``along``, stand side by side along ``across``
    n_rows, per_row = int(rng.integers(1, 5)), int(rng.integers(6, 26))
    pitch = rng.uniform(3.1, 4.2)
    row_step = rng.uniform(14.0, 19.0)
    lot_w, lot_l = per_row * pitch + 6.0, n_rows * row_step + 6.0
    for _attempt in range(12):  # somewhere off the tracks, roads and buildings
        centre = np.array([rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h])
        lot = rect(centre, across, along, lot_w, lot_l)
        if occ.is_free(lot):
            break
    else:
        return things, ground
    ground.append(GroundPatch(lot, None, 0, _jit(rng, _pick(rng, [(96, 96, 98), (120, 118, 114), (150, 148, 142)]), 6), 20.0))
    colour = _pick(rng, BUS_COLOURS)
    for i in range(n_rows):
        for j in range(per_row):
            if rng.random() < 0.12:
                continue  # an empty bay
            c = centre + along * ((i - (n_rows - 1) / 2) * row_step) + across * ((j - (per_row - 1) / 2) * pitch)
            things.append(bus(rng, c, along, across, colour if rng.random() < 0.85 else _pick(rng, BUS_COLOURS)))
    occ.mark_poly(lot)
    return things, ground


def gable_building(rng, centre, along, across, length_m, width_m, height_m, kind, sun_across):
    """Long roof with a ridge along its length; the sun side is brighter."""
    base = np.array(_jit(rng, _pick(rng, ROOF_COLOURS), 8))
    bright = 1.0 + 0.12 * sun_across
    half_a = rect(centre + across * width_m / 4, along, across, length_m, width_m / 2)
    half_b = rect(centre - across * width_m / 4, along, across, length_m, width_m / 2)
    whole = rect(centre, along, across, length_m, width_m)
    parts = [
        Part(half_a, tuple(base * bright), 12.0, height_m),
        Part(half_b, tuple(base * (2.0 - bright)), 12.0, height_m),
        Part(rect(centre, along, across, length_m, 0.25), tuple(base * 0.8), 5.0),
    ]
    step = float(rng.uniform(0.8, 1.5))
    for u in np.arange(-length_m / 2 + step, length_m / 2, step * 6):
        parts.append(Part(rect(centre + along * u, along, across, 0.3, width_m), tuple(base * 0.93), 5.0))
    return Thing(kind, whole, parts)


def flat_building(rng, centre, along, across, length_m, width_m, height_m):
    base = np.array(_jit(rng, _pick(rng, [(120, 120, 118), (84, 84, 86), (160, 156, 150), (140, 100, 80)]), 8))
    whole = rect(centre, along, across, length_m, width_m)
    parts = [Part(whole, tuple(base), 30.0, height_m)]
    inner = rect(centre, along, across, length_m - 0.8, width_m - 0.8)
    parts.append(Part(inner, tuple(base * 1.06), 30.0))
    for _ in range(int(rng.integers(0, 4))):  # rooftop units
        u = rng.uniform(-length_m / 3, length_m / 3)
        v = rng.uniform(-width_m / 4, width_m / 4)
        parts.append(Part(rect(centre + along * u + across * v, along, across, 2.0, 1.5), (170, 170, 168), 10.0, height_m + 1.5))
    return Thing("building", whole, parts)


def tree(rng, centre):
    r = rng.uniform(1.5, 4.0)
    n = 14
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    rad = r * (1 + rng.normal(0, 0.12, n))
    poly = np.asarray(centre) + np.stack([np.cos(ang) * rad, np.sin(ang) * rad], 1)
    col = _jit(rng, _pick(rng, [(52, 70, 40), (62, 84, 46), (44, 60, 38), (80, 96, 56)]), 6)
    inner = np.asarray(centre) + (poly - centre) * 0.55 + rng.normal(0, 0.3, 2)
    top = rng.uniform(5.0, 12.0)
    parts = [Part(poly, col, 90.0, top, base_m=top * 0.35), Part(inner, tuple(v * 1.15 for v in col), 90.0)]
    return Thing("tree", poly, parts, record=False)


def _try_place(occ, things, thing, pad=1.0):
    if occ.is_free(thing.footprint_m):
        things.append(thing)
        occ.mark_poly(thing.footprint_m)
        return True
    return False


def _place_group(occ, things, group):
    """Place things that stand close together (a container block, a row of
    lorries, a car park) as one: their hull must be free, gaps inside are fine."""
    group = [g for g in group if occ.is_free(g.footprint_m)]
    if not group:
        return 0
    pts = np.vstack([g.footprint_m for g in group]).astype(np.float32)
    import cv2

    hull = cv2.convexHull(pts).reshape(-1, 2).astype(np.float64)
    things.extend(group)
    occ.mark_poly(hull)
    return len(group)


def build_surroundings(rng, w, h, heading_deg, tracks, offsets, centre, electrified, occ: Occupancy, sun_dir):
    """Roads, pads, look-alikes, buildings, trees and catenary for one yard."""
    along, across = heading_vectors(heading_deg)
    things, ground, masts, wires = [], [], [], []
    side_out = 1.0 if rng.random() < 0.5 else -1.0
    edge_off = (offsets.max() if side_out > 0 else offsets.min()) + side_out * 3.0

    # service road along the yard, then one or two roads crossing the scene
    road_off = edge_off + side_out * rng.uniform(10.0, 25.0)
    p = centre + across * road_off
    rs = clip_line(p, along, w, h, margin=-20)
    roads = []
    if rs:
        roads.append((np.array([p + along * rs[0], p + along * rs[1]]), rng.uniform(4.0, 7.0)))
    for _ in range(int(rng.integers(1, 3))):
        a = rng.uniform(0, 180)
        d, _n = heading_vectors(a)
        q = np.array([rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h])
        r2 = clip_line(q, d, w, h, margin=-20)
        if r2:
            mid = q + _n * rng.normal(0, 15)
            roads.append((np.array([q + d * r2[0], mid, q + d * r2[1]]), rng.uniform(4.0, 6.5)))
    for line, width in roads:
        rgb = _jit(rng, _pick(rng, [(150, 132, 108), (136, 124, 108), (88, 88, 90)]), 5)
        ground.append(GroundPatch(None, line, width, rgb, 45.0))

    # loading area: concrete pad outside the yard with containers and lorries
    pad_w = rng.uniform(30.0, 55.0)
    pad_l = rng.uniform(70.0, 150.0)
    pad_off = road_off + side_out * (pad_w / 2 + rng.uniform(4.0, 10.0))
    pad_c = centre + across * pad_off + along * rng.uniform(-0.25, 0.25) * min(w, h)
    pad = rect(pad_c, along, across, pad_l, pad_w)
    ground.append(GroundPatch(pad, None, 0, _jit(rng, (172, 170, 164), 6), 25.0))

    # mark tracks and roads as taken before placing anything
    for t in tracks:
        occ.mark_line(t.points_m, t.ballast_width_m + 4.0)
    for line, width in roads:
        occ.mark_line(line, width + 1.0)

    # container blocks on the pad
    n_blocks = int(rng.integers(1, 4))
    for _ in range(n_blocks):
        rows = int(rng.integers(2, 7))
        cols = int(rng.integers(1, 4))
        length = 12.19 if rng.random() < 0.65 else 6.06
        turn = rng.random() < 0.3
        a_dir, c_dir = (across, along) if turn else (along, across)
        origin = pad_c + along * rng.uniform(-pad_l / 3, pad_l / 3) + across * rng.uniform(-pad_w / 3, pad_w / 3)
        block = []
        for i in range(rows):
            for j in range(cols):
                cc = origin + c_dir * i * (CONTAINER_W_M + rng.uniform(0.1, 0.4)) + a_dir * j * (length + rng.uniform(0.3, 1.0))
                block.append(container_column(rng, cc, a_dir, c_dir, length, int(rng.integers(1, 4))))
        _place_group(occ, things, block)

    # a row of lorries at the loading area, side by side
    n_lorries = int(rng.integers(3, 10))
    l_dir = along if rng.random() < 0.5 else across
    l_side = across if l_dir is along else along
    start = pad_c + along * rng.uniform(-pad_l / 3, pad_l / 3) + across * rng.uniform(-pad_w / 4, pad_w / 4)
    spacing = rng.uniform(3.6, 4.6)
    _place_group(occ, things, [lorry(rng, start + l_side * i * spacing, l_dir, l_side) for i in range(n_lorries)])
    occ.mark_poly(pad)  # nothing grows on the pad

    # lorries on the roads
    for line, width in roads:
        for p0, p1 in zip(line[:-1], line[1:]):
            seglen = float(np.linalg.norm(p1 - p0))
            if seglen < 50:
                continue
            dd = (p1 - p0) / seglen
            nn = np.array([-dd[1], dd[0]])
            for _ in range(int(rng.integers(0, 3))):
                lane = _pick(rng, [-1, 1])
                pos = p0 + dd * rng.uniform(0.1, 0.9) * seglen + nn * width * 0.22 * lane
                thing = lorry(rng, pos, dd * lane, nn * lane)
                if Occupancy(w, h).is_free(thing.footprint_m) and _not_on_tracks(thing, tracks):
                    things.append(thing)

    # long narrow sheds / warehouses parallel to the yard
    for _ in range(int(rng.integers(1, 4))):
        width = rng.uniform(6.0, 15.0)
        length = rng.uniform(30.0, 120.0)
        off = pad_off + side_out * (pad_w / 2 + width / 2 + rng.uniform(5, 30))
        if rng.random() < 0.4:
            off = (offsets.min() if side_out > 0 else offsets.max()) - side_out * (width / 2 + rng.uniform(8, 30))
        c = centre + across * off + along * rng.uniform(-0.4, 0.4) * max(w, h)
        _try_place(occ, things, gable_building(rng, c, along, across, length, width, rng.uniform(5.0, 9.0), "shed", float(np.dot(across, sun_dir))))

    # platform with a canopy beside the through line
    if rng.random() < 0.5:
        t0 = tracks[0]
        mean_off = float(np.mean(offsets))
        through_off = float(np.dot(t0.points_m[0] - centre, across))
        s = 1.0 if through_off >= mean_off else -1.0
        plat_w = rng.uniform(6.0, 9.0)
        can_w = plat_w - rng.uniform(1.0, 2.0)
        plat_l = rng.uniform(100.0, 220.0)
        can_l = plat_l * rng.uniform(0.5, 0.8)
        c = centre + across * (through_off + s * (t0.ballast_width_m / 2 + 0.8 + plat_w / 2)) + along * rng.uniform(-0.2, 0.2) * min(w, h)
        plat = rect(c, along, across, plat_l, plat_w)
        ground.append(GroundPatch(plat, None, 0, _jit(rng, (168, 164, 156), 5), 20.0))
        col = np.array(_jit(rng, _pick(rng, [(150, 152, 155), (120, 60, 50), (70, 100, 80), (190, 190, 186)]), 6))
        can = rect(c, along, across, can_l, can_w)
        parts = [Part(can, tuple(col), 10.0, 5.0)]
        for u in np.arange(-can_l / 2 + 3, can_l / 2, rng.uniform(6.0, 9.0)):
            parts.append(Part(rect(c + along * u, along, across, 0.3, can_w), tuple(col * 0.9), 10.0))
        things.append(Thing("canopy", can, parts))

    # ordinary buildings and a car park
    for _ in range(int(rng.integers(3, 10))):
        bl, bw = rng.uniform(8, 40), rng.uniform(8, 25)
        ang = heading_deg + (0 if rng.random() < 0.6 else rng.uniform(0, 90))
        ba, bc = heading_vectors(ang)
        c = np.array([rng.uniform(0.05, 0.95) * w, rng.uniform(0.05, 0.95) * h])
        hgt = rng.uniform(4.0, 14.0)
        b = flat_building(rng, c, ba, bc, bl, bw, hgt) if rng.random() < 0.5 else gable_building(rng, c, ba, bc, bl, bw, hgt, "building", float(np.dot(bc, sun_dir)))
        if _try_place(occ, things, b) and rng.random() < 0.5:
            lot_c = c + bc * (bw / 2 + 6)
            lot = []
            for i in range(int(rng.integers(4, 16))):
                row, k = divmod(i, 8)
                pc = lot_c + ba * (k * 2.6 - 9) + bc * row * 6
                car = rect(pc, bc, ba, 4.5, 1.8)
                lot.append(Thing("parked_car", car, [Part(car, _jit(rng, _pick(rng, VEHICLE_COLOURS), 6), 10.0, 1.5)]))
            _place_group(occ, things, lot)

    # trees in clumps
    for _ in range(int(rng.integers(5, 20))):
        c = np.array([rng.uniform(0, w), rng.uniform(0, h)])
        for _k in range(int(rng.integers(2, 25))):
            _try_place(occ, things, tree(rng, c + rng.normal(0, 8, 2)))

    # catenary: masts between tracks every 50-65 m, cantilever arms, wires
    if electrified:
        lat = sorted(offsets)
        lines = [lat[0] - 3.2, lat[-1] + 3.2] + [(a + b) / 2 for a, b in zip(lat[:-1], lat[1:]) if rng.random() < 0.5]
        step = rng.uniform(50.0, 65.0)
        phase = rng.uniform(0, step)
        for off in lines:
            p = centre + across * off
            rs = clip_line(p, along, w, h, margin=1.0)
            if rs is None:
                continue
            height = rng.uniform(7.5, 9.0)
            nearest = min(lat, key=lambda o: abs(o - off))
            for s in np.arange(rs[0] + phase, rs[1], step):
                pole_c = p + along * s
                pole = rect(pole_c, along, across, 0.35, 0.35)
                arm_len = abs(nearest - off) + 0.8
                arm_c = pole_c + across * np.sign(nearest - off) * arm_len / 2
                arm = rect(arm_c, along, across, 0.12, arm_len)
                masts.append(Thing("mast", pole, [Part(pole, (96, 98, 100), 0.0, height), Part(arm, (110, 112, 114), 0.0, height - 1.0, base_m=height - 1.1)], record=False))
        for t in tracks:
            if t.electrified:
                wires.append(t.points_m)
    return things, ground, masts, wires


def _not_on_tracks(thing, tracks):
    occ = Occupancy(max(thing.footprint_m[:, 0].max(), 1) + 10, max(thing.footprint_m[:, 1].max(), 1) + 10)
    for t in tracks:
        occ.mark_line(t.points_m, t.ballast_width_m + 3.0)
    return occ.is_free(thing.footprint_m, inside_margin=-1e9)
