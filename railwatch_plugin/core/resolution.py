"""Can railcars be resolved at this ground sample distance?"""

from __future__ import annotations

from .model import DetectionParams, ResolutionCheck, gsd_xy

# Below these a car is a smudge: no edges to measure, no coupler gaps to see.
MIN_CAR_LENGTH_PX = 10.0
MIN_CAR_WIDTH_PX = 3.0


def check_resolution(gsd_m, params: DetectionParams = DetectionParams()) -> ResolutionCheck:
    """Judge the shortest, narrowest car of ``params`` at ``gsd_m``."""
    gx, gy = gsd_xy(gsd_m)
    coarse = max(gx, gy)
    length_px = params.car_length_m[0] / coarse
    width_px = params.car_width_m[0] / coarse
    # A hair of tolerance: 2.4 m / 0.8 m must count as the 3 px it is.
    if length_px < MIN_CAR_LENGTH_PX - 1e-6 or width_px < MIN_CAR_WIDTH_PX - 1e-6:
        finest = min(params.car_length_m[0] / MIN_CAR_LENGTH_PX, params.car_width_m[0] / MIN_CAR_WIDTH_PX)
        return ResolutionCheck(
            ok=False,
            car_length_px=length_px,
            car_width_px=width_px,
            message=(
                f"The image is too coarse to separate railcars: {coarse:.2f} m per pixel makes a "
                f"{params.car_width_m[0]:.1f} m wide car {width_px:.1f} px wide and a "
                f"{params.car_length_m[0]:.0f} m car {length_px:.1f} px long. "
                f"Use imagery of {finest:.2f} m per pixel or finer."
            ),
        )
    return ResolutionCheck(
        ok=True,
        car_length_px=length_px,
        car_width_px=width_px,
        message=(
            f"{coarse:.2f} m per pixel: a {params.car_width_m[0]:.1f} m wide car is "
            f"{width_px:.1f} px wide, enough to resolve railcars."
        ),
    )
