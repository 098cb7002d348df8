"""Find railcars in one tile held in memory.

Steps: prepare a float image at one working GSD; find the tile's track
directions; skip a direction where a coarse look finds no car-like band
(``prescreen``); otherwise rotate so tracks run along the columns, compute the
band response and link its ridges into strings of coupled cars. Each string
is offered as many plausible cars (``hypotheses``), a network scores their
patches (``car_scorer``), the best non-overlapping set is kept, and those cars
are measured and described.
"""

from __future__ import annotations

import math
from typing import List, Optional, Tuple

import cv2
import numpy as np

from .bands import band_geometry
from .car_scorer import load_ensemble
from .cues import cross_section, track_evidence, track_line_map
from .describe import classify_kind, confidence_score, kind_from_logits
from .frame import RotatedFrame, rotate_to_horizontal
from .hypotheses import ALLOWED_OVERLAP_M, car_hypotheses, choose
from .hypothesis_cues import StringContext, hypothesis_cues
from .model import METHOD_GAP, METHOD_LENGTH, METHOD_SINGLE, DetectionParams, Railcar
from .orientation import coarse_luminance, dominant_directions
from .owned_part import centres_miss
from .patches import hypothesis_patches, sample_strip
from .prepare import WorkImage, prepare_tile
from .prescreen import may_hold_cars
from .quick_stats import median
from .split import boundary_strength, candidate_cuts, split_string
from .strings import CarString, link_strings, ridge_mask, sample_profile
from .valid_strips import band_response_near_valid

ALONG_SMOOTH_M = 3.0  # averages sleepers and noise, shorter than any car
FINE_SMOOTH_M = 0.6  # keeps coupler gaps visible
RIDGE_THRESHOLD = 9.0  # band response (0-255 scale) worth following
# Ridge pieces on one line are one string when they lie within JOIN_ROWS_M of
# it (parallel tracks are 4 m or more apart) and at most JOIN_GAP_M apart
# along it (a coupler gap plus the ridge fading at two car ends). Measured on
# 8 validation yards at 0.5 m: true cars with no right-cut hypothesis 49 -> 37.
JOIN_ROWS_M = 1.5
JOIN_GAP_M = 6.0
DEFAULT_TYPICAL_LENGTH_M = 15.0
N_WIDTHS = 3
CHOICE_BIAS = 0.2  # a hypothesis adds to a string's explanation when its confidence exceeds this
PROBE_MIN = 0.05  # see _score_string
LENGTH_TOLERANCE_M = 3.0  # beyond the user's length range; the splitting measures lengths to about this
METHOD_FACTOR = {METHOD_GAP: 1.0, METHOD_SINGLE: 0.95, METHOD_LENGTH: 0.85}
DEBUG_SAMPLES: Optional[list] = None  # a list collects (patches, cues, centres px, lengths m) per string: training


def detect_in_tile(
    image: np.ndarray,
    valid: Optional[np.ndarray],
    gsd_m: Tuple[float, float],
    params: DetectionParams,
    track_mask: Optional[np.ndarray] = None,
    owned_px: Optional[Tuple[float, float, float, float]] = None,
) -> List[Railcar]:
    """Railcars in ``image`` (rows, cols, bands), in the tile's own pixel coordinates.

    ``owned_px`` (col_min, row_min, col_max, row_max in tile pixels): when
    given, the caller keeps only cars centred there, and strings whose cars
    cannot be are not split or scored (see ``owned_part.centres_miss``)."""
    if image.shape[0] < 8 or image.shape[1] < 8:
        return []
    work = prepare_tile(image, valid, gsd_m, params.work_gsd_m)
    if not work.valid.any():
        return []
    g = work.gsd_m
    track_work = None
    if track_mask is not None:
        track_work = cv2.resize(
            track_mask.astype(np.uint8), (work.valid.shape[1], work.valid.shape[0]), interpolation=cv2.INTER_NEAREST
        ).astype(bool)
        if not track_work.any():
            return []
    if track_work is None:
        direction_area = work.valid
    else:
        # The tracks' surroundings (ballast edges, neighbouring rails) show their direction best.
        reach = 2 * int(round(10.0 / g)) + 1
        direction_area = cv2.dilate(track_work.astype(np.uint8), np.ones((reach, reach), np.uint8)).astype(bool) & work.valid
    # Orientation and prescreen both look at 1 m per pixel (SCREEN_GSD_M is
    # ANALYSIS_GSD_M): one coarse luminance serves both.
    coarse_lum, coarse_g = coarse_luminance(work.lum, g)
    directions = dominant_directions(coarse_lum, coarse_g, direction_area)
    cars: List[Railcar] = []
    for direction in directions:
        if not may_hold_cars(coarse_lum, work.valid, coarse_g, direction):
            continue
        frame = rotate_to_horizontal(work.features, work.valid, direction)
        cars.extend(_detect_in_frame(frame, work, params, owned_px))
    if track_mask is not None:
        cars = [c for c in cars if _inside(track_mask, c.col_px, c.row_px)]
    return cars


def _inside(mask: np.ndarray, col: float, row: float) -> bool:
    r, c = int(row), int(col)
    return 0 <= r < mask.shape[0] and 0 <= c < mask.shape[1] and bool(mask[r, c])


def _detect_in_frame(frame: RotatedFrame, work: WorkImage, params: DetectionParams, owned_px=None) -> List[Railcar]:
    g = work.gsd_m
    widths = np.linspace(params.car_width_m[0], params.car_width_m[1], N_WIDTHS)
    geoms = [band_geometry(w, g) for w in widths]
    along = max(1, int(round(ALONG_SMOOTH_M / g)))
    smooth = cv2.blur(frame.features, (along, 1))
    if smooth.ndim == 2:
        smooth = smooth[:, :, None]
    nms_rows = max(1, int(round(1.5 / g)))
    # Ridges are looked for at valid pixels, each against nms_rows rows either side.
    response, width_idx, tone = band_response_near_valid(smooth, geoms, frame.valid, exact_rows=nms_rows)
    inner_valid = cv2.erode(frame.valid.astype(np.uint8), np.ones((3, along), np.uint8)).astype(bool)
    ridges = ridge_mask(response, RIDGE_THRESHOLD, inner_valid, nms_rows=nms_rows)
    strings = link_strings(
        ridges,
        response,
        width_idx,
        tone,
        min_length_px=0.7 * params.car_length_m[0] / g,
        bridge_px=max(1, int(round(2.5 / g))),
        join_rows_px=JOIN_ROWS_M / g,
        join_gap_px=JOIN_GAP_M / g,
    )
    if not strings:  # nothing to split (most frames of countryside that passed the prescreen)
        return []
    fine = cv2.blur(frame.features, (max(1, int(round(FINE_SMOOTH_M / g))), 1))
    if fine.ndim == 2:
        fine = fine[:, :, None]
    typical = params.typical_car_length_m or DEFAULT_TYPICAL_LENGTH_M
    lines = track_line_map(np.ascontiguousarray(smooth[:, :, 0]), g)
    cars: List[Railcar] = []
    for sid, string in enumerate(strings):
        def surroundings(string=string):
            """(parallel neighbours, track evidence): asked for only by strings that get that far."""
            return (_parallel_neighbours(string, strings, g),
                    track_evidence(lines, string.row_at, string.col_start, string.col_end, g))

        cars.extend(_cars_in_string(string, sid, fine, frame, work, geoms, params, typical, surroundings, owned_px))
    return cars


def _parallel_neighbours(string: CarString, strings: List[CarString], g: float) -> int:
    """Strings beside this one at a track spacing (3.5-12 m), overlapping along the track."""
    n = 0
    mid = 0.5 * (string.col_start + string.col_end)
    for other in strings:
        if other is string or other.col_end < string.col_start or other.col_start > string.col_end:
            continue
        gap_m = abs(float(other.row_at(mid)) - float(string.row_at(mid))) * g
        if 3.5 <= gap_m <= 12.0:
            n += 1
    return n


def _string_extent(profile, string: CarString) -> Optional[Tuple[int, int]]:
    """Refine the string's ends: where the band stops standing out."""
    inside = (profile.cols >= string.col_start) & (profile.cols < string.col_end)
    if not inside.any():
        return None
    ref = float(median(profile.contrast[inside]))
    on = (profile.contrast >= 0.5 * ref) & profile.valid
    core = np.nonzero(inside & on)[0]
    if len(core) == 0:
        return None
    # Grow from the ridge's own extent outwards while the band stays on.
    a, b = core[0], core[-1]
    while a > 0 and on[a - 1]:
        a -= 1
    while b < len(on) - 1 and on[b + 1]:
        b += 1
    return int(a), int(b) + 1


def _cars_in_string(string, sid, fine, frame, work, geoms, params, typical, surroundings,
                    owned_px=None) -> List[Railcar]:
    g = work.gsd_m
    geom = geoms[string.width_index]
    ext = int(round(5.0 / g))
    profile = sample_profile(fine, frame.valid, string, int(string.col_start) - ext, int(string.col_end) + ext, geom)
    extent = _string_extent(profile, string)
    if extent is None:
        return []
    a, b = extent
    length_px = b - a
    if length_px * g < params.car_length_m[0] * 0.75:
        return []
    # A string that runs into invalid pixels or the frame edge may be cut short:
    # its cars are unreliable and belong to a neighbouring tile anyway.
    if (a == 0 and not profile.valid[0]) or (b == len(profile.cols) and not profile.valid[-1]):
        return []
    if owned_px is not None and DEBUG_SAMPLES is None and centres_miss(
            owned_px, frame, work, string, float(profile.cols[a]), float(b - a), _cross_half_px(params, g)):
        return []
    contrast = profile.contrast[a:b]
    strength = boundary_strength(contrast, profile.inner[a:b], g)
    cuts = candidate_cuts(strength, g)
    segments = split_string(length_px, cuts, g, params.car_length_m, typical)
    outside = np.r_[profile.contrast[max(0, a - ext) : a], profile.contrast[b : b + ext]]
    end_drop = 1.0 - (float(median(outside)) if len(outside) else 0.0) / max(float(median(contrast)), 1.0)
    neighbours, track = surroundings()
    ctx = StringContext(sum(s.n_cars for s in segments), length_px * g, neighbours, end_drop, string.strength,
                        string.tone, track[0], track[1])
    col0 = float(profile.cols[a])
    gap_px = 0.5 / g  # half a coupler gap taken off each cut end
    hyps, starts, ends = [], [], []
    for h in car_hypotheses(length_px, cuts, g, params.car_length_m, typical, segments):
        start = col0 + h.start + (gap_px if h.start > 0 else 0.0)
        end = col0 + h.end - (gap_px if h.end < length_px else 0.0)
        # Judged on the trimmed length, the one _make_car reports.
        if _within_range((end - start) * g, params.car_length_m, LENGTH_TOLERANCE_M) is not None:
            hyps.append(h)
            starts.append(start)
            ends.append(end)
    if not hyps:
        return []
    starts, ends = np.array(starts), np.array(ends)
    strip_col0 = int(col0) - ext
    strip = sample_strip(fine, string.row_at, strip_col0, int(col0 + length_px) + ext, g)

    def scorer_inputs(which: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(patches, cues) of the hypotheses selected by ``which``: each
        hypothesis's are its own, so a subset costs only its share."""
        patches, patch_stats = hypothesis_patches(strip, starts[which] - strip_col0, ends[which] - strip_col0)
        return patches, hypothesis_cues([h for h, w in zip(hyps, which) if w], contrast, strength, g, ctx, patch_stats)

    everything = np.ones(len(hyps), bool)
    all_inputs = None  # (patches, cues) of every hypothesis, once something needs them all
    scorer = load_ensemble()
    if scorer is not None:
        conf = _score_string(scorer, hyps, segments, scorer_inputs, g)
        if conf is None:
            return []
    else:  # no trained weights: contrast and context only
        all_inputs = scorer_inputs(everything)
        conf = np.array([confidence_score(float(np.expm1(c[6])), 1.0, min(1.0, (ctx.cars_in_best_split - 1) / 2.0),
                                          METHOD_FACTOR[h.method]) for h, c in zip(hyps, all_inputs[1])])
    if DEBUG_SAMPLES is not None:  # training (scripts/train_car_scorer.py collect runs without weights) and diagnosis
        patches, cues = all_inputs or scorer_inputs(everything)
        centres = np.stack([0.5 * (starts + ends), string.row_at(0.5 * (starts + ends)) + 0.5], axis=1)
        pts = frame.points_to_tile(centres) / np.array([work.scale_col, work.scale_row])
        DEBUG_SAMPLES.append((patches, cues, pts, (ends - starts) * g))
    keep = choose([(h.start, h.end) for h in hyps], conf - CHOICE_BIAS, ALLOWED_OVERLAP_M / g)
    kinds = _network_kinds(scorer, keep, len(hyps), scorer_inputs)
    return [_make_car(string, sid, starts[i], ends[i], fine, frame, work, geom, params, hyps[i].method, profile,
                      float(conf[i]), kinds.get(i)) for i in keep]


def _network_kinds(scorer, keep: List[int], n_hyps: int, scorer_inputs) -> dict:
    """Kept hypothesis index -> kind named by the scorer's kind network; empty
    without one (``_make_car`` then judges the kind from size and tone)."""
    if scorer is None or not scorer.kind_names or not keep:
        return {}
    which = np.zeros(n_hyps, bool)
    which[list(keep)] = True
    logits = scorer.kind_logits(*scorer_inputs(which))
    order = np.nonzero(which)[0]
    return {int(i): kind_from_logits(row, scorer.kind_names) for i, row in zip(order, logits)}


def _score_string(scorer, hyps, segments, scorer_inputs, g) -> Optional[np.ndarray]:
    """Scores of all hypotheses, or None when the string is clearly no cars.

    Most strings in a yard are not cars (ballast, empty tracks, platform
    edges). Their best single split is scored first; when none of its cars
    scores even PROBE_MIN, no other cut of the string will, and the rest of
    its hypotheses (nine in ten of the work) are never scored, nor are their
    patches made (``scorer_inputs(mask)`` gives the selected hypotheses'
    patches and cues): 3,690 patches -> 2,171 on the speed bench's yard tile."""
    tol = 0.5 / g
    best_split = [(seg.start + k * (seg.end - seg.start) / seg.n_cars, seg.start + (k + 1) * (seg.end - seg.start) / seg.n_cars)
                  for seg in segments for k in range(seg.n_cars)]
    probe = np.array([any(abs(h.start - a) <= tol and abs(h.end - b) <= tol for a, b in best_split) for h in hyps])
    conf = np.zeros(len(hyps), np.float32)
    if probe.any():
        conf[probe] = scorer.probability(*scorer_inputs(probe))
        if conf[probe].max() < PROBE_MIN:
            return None
    rest = ~probe
    if rest.any():
        conf[rest] = scorer.probability(*scorer_inputs(rest))
    return conf


def _cross_half_px(params: DetectionParams, g: float) -> int:
    """Half the cross-section _make_car measures a car's width on, in px."""
    return int(round(params.car_width_m[1] / 2.0 / g)) + 2


def _make_car(string, sid, c_start, c_end, fine, frame, work, geom, params, method, profile, confidence,
              kind: Optional[str] = None) -> Railcar:
    """Measure, describe and place one chosen car; ``kind`` is the scorer's
    guess, or None to judge it from size, cross-section and tone."""
    g = work.gsd_m
    i0 = int(round(c_start - profile.cols[0]))
    i1 = max(i0 + 1, int(round(c_end - profile.cols[0])))
    half = _cross_half_px(params, g)
    cross = cross_section(fine, string.row_at, c_start, c_end, g, half * g, g)[:, 0]
    width_m, centre_off = _measure_width(cross, g, geom)
    # The width is measured to a pixel or two (a shadow or a neighbour's edge
    # can pull it), so it is reported within the user's range rather than used
    # to reject; the length comes from the splitting and is trusted to 3 m.
    shown_width_m = float(np.clip(width_m, *params.car_width_m))
    length_m = (c_end - c_start) * g
    shown_length_m = _within_range(length_m, params.car_length_m, LENGTH_TOLERANCE_M)
    if kind is None:
        kind = _kind_from_looks(profile, i0, i1, cross, geom, half, length_m)
    # Geometry back to tile pixels.
    cc = 0.5 * (c_start + c_end)
    rc = float(string.row_at(cc)) + 0.5 + centre_off
    ux = np.array([1.0, string.slope]) / math.hypot(1.0, string.slope)
    uy = np.array([-ux[1], ux[0]])
    hl = 0.5 * shown_length_m / g
    hw = 0.5 * shown_width_m / g
    centre = np.array([cc, rc])
    corners = np.array([centre - hl * ux - hw * uy, centre + hl * ux - hw * uy, centre + hl * ux + hw * uy, centre - hl * ux + hw * uy])
    pts = frame.points_to_tile(np.vstack([centre, corners]))
    pts[:, 0] /= work.scale_col
    pts[:, 1] /= work.scale_row
    direction = frame.direction_deg + math.degrees(math.atan(string.slope))
    heading = (90.0 + direction) % 180.0
    return Railcar(
        col_px=float(pts[0, 0]),
        row_px=float(pts[0, 1]),
        corners_px=tuple((float(x), float(y)) for x, y in pts[1:]),
        length_m=shown_length_m,
        width_m=shown_width_m,
        heading_deg=float(heading),
        confidence=confidence,
        kind=kind,
        method=method,
        string_id=sid,
    )


def _kind_from_looks(profile, i0: int, i1: int, cross: np.ndarray, geom, half: int, length_m: float) -> str:
    """The kind from size, cross-section and tone (``describe.classify_kind``),
    for when no kind network is shipped."""
    inner = profile.inner[i0:i1]
    contrast = float(median(profile.contrast[i0:i1]))
    along_var = float(np.std(inner[:, 0]) / max(contrast, 5.0))
    inner_rows = slice(geom.inner[0] + half, geom.inner[1] + half)
    return classify_kind(length_m, cross[inner_rows], inner.mean(axis=0), along_var)


def _within_range(value: float, bounds: Tuple[float, float], tolerance: float) -> Optional[float]:
    lo, hi = bounds
    if value < lo - tolerance or value > hi + tolerance:
        return None
    return float(min(max(value, lo), hi))


def _measure_width(cross: np.ndarray, g: float, geom) -> Tuple[float, float]:
    """Width from the two strongest opposite edges of the cross-section; falls
    back to the band width. Returns (width_m, centre offset px)."""
    n = len(cross)
    mid = n // 2
    grad = np.gradient(cross)
    top = int(np.argmax(np.abs(grad[: mid])))
    bot = mid + int(np.argmax(np.abs(grad[mid:])))
    width_px = bot - top
    if width_px <= 1 or abs(grad[top]) < 2 or abs(grad[bot]) < 2:
        return geom.width_m, 0.0
    return float(width_px * g), float(0.5 * (top + bot) - mid)
