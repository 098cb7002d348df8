"""Value types shared by the detector and every front end.

Pixel coordinates follow GDAL: ``(col, row)`` continuous, ``(0, 0)`` is the
top-left corner of the top-left pixel, so a map position is
``gt[0] + col * gt[1] + row * gt[2]``, ``gt[3] + col * gt[4] + row * gt[5]``.
Every size is in metres; pixels appear only in names ending in ``_px``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional, Sequence, Tuple

CAR_KINDS = ("box", "tank", "hopper/gondola", "flat/container", "covered", "unknown")

# How a car's ends were found.
METHOD_SINGLE = "single"  # a car on its own: both ends stand against track or ground
METHOD_GAP = "gap"  # one of a string of coupled cars: an end is where the next car begins


@dataclass(frozen=True)
class DetectionParams:
    """Everything a user can tune. Sizes in metres so one set serves any GSD."""

    # The longest railcars are about 28 m over their couplers (coaches,
    # 89 ft flats and autoracks), and a stated pixel size can be 10-20 % too
    # large (the real yard's is: its 25 m coaches measure 33-34 m). A 30 m
    # limit dropped those coaches, which the network found at 0.6-1.0.
    car_length_m: Tuple[float, float] = (10.0, 35.0)
    car_width_m: Tuple[float, float] = (2.4, 3.6)
    # A car's confidence is the frame network's probability that it is a
    # real car (calibrated on yards of its own: scripts/frame_net_calibrate.py).
    min_confidence: float = 0.5
    # Tiles are read and processed one at a time; the overlap must hold more
    # than one long car so every car is whole in the tile that owns it.
    # None: about 1,024 working pixels a side (memory per tile stays bounded
    # whatever the input GSD).
    tile_size_px: Optional[int] = None
    tile_overlap_m: float = 70.0
    # Detections below this are dropped entirely (kept ones above it but under
    # min_confidence are still returned in DetectionResult.all_cars).
    confidence_floor: float = 0.1
    # A doubtful car end to end with a sure one is raised to what such cars
    # were measured to be worth (string_support.py); off only to measure it.
    string_support: bool = True

    def with_(self, **changes) -> "DetectionParams":
        return replace(self, **changes)


@dataclass(frozen=True)
class Railcar:
    """One detected railcar, in full-raster pixel coordinates."""

    col_px: float
    row_px: float
    corners_px: Tuple[Tuple[float, float], ...]  # 4 (col, row) corners, in order
    length_m: float
    width_m: float
    heading_deg: float  # 0-180, clockwise from image up (north on north-up rasters)
    confidence: float  # 0-1
    kind: str  # one of CAR_KINDS
    method: str  # METHOD_SINGLE / METHOD_GAP
    string_id: int = -1  # cars coupled in one string share this id


@dataclass(frozen=True)
class ResolutionCheck:
    """Whether cars can be resolved at a GSD, in words a user can act on."""

    ok: bool
    car_length_px: float
    car_width_px: float
    message: str


@dataclass
class DetectionResult:
    all_cars: list = field(default_factory=list)  # every car above confidence_floor
    min_confidence: float = 0.5
    resolution: Optional[ResolutionCheck] = None
    warnings: list = field(default_factory=list)  # plain-language notes for the user
    tiles_done: int = 0
    tiles_with_data: int = 0  # tiles read that held at least one valid pixel (0: nothing to count)
    canceled: bool = False
    model: str = ""  # which detector model found the cars (model_file.DetectorModel.label)

    @property
    def cars(self) -> list:
        """Cars at or above the confidence threshold: the count users see."""
        return [c for c in self.all_cars if c.confidence >= self.min_confidence]

    def filtered(self, min_confidence: float) -> list:
        return [c for c in self.all_cars if c.confidence >= min_confidence]


def gsd_xy(gsd_m) -> Tuple[float, float]:
    """Accept one GSD or an (x, y) pair; always return a positive pair."""
    if isinstance(gsd_m, (int, float)):
        gx = gy = float(gsd_m)
    else:
        gx, gy = (float(v) for v in gsd_m)
    if not (gx > 0 and gy > 0):
        raise ValueError(f"ground sample distance must be positive, got {gsd_m!r}")
    return gx, gy


TrackLines = Sequence[Sequence[Tuple[float, float]]]  # polylines in (col, row) px
