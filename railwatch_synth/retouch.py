"""Label outlines painted out of an image, as some labelled aerial sets are delivered.

A hand-labelled yard may come as a picture on which each car's outline was
drawn and then removed by inpainting. What is left is a soft smear along
every car's edge and across the gaps between coupled cars: the crisp
boundary and the dark coupler gap a detector leans on are gone, while the
roof itself is untouched. On the real Chinese yard of ``../shared/real``
painting outlines out this way (``bench/real.py --painted-out``) took the
shipped network's recall from 0.774 to 0.667, so training yards draw it too.
"""

from __future__ import annotations

from typing import Iterable

import cv2
import numpy as np

from .canvas import rect


def outline_mask(corners_px: Iterable[np.ndarray], shape, thickness_px: int) -> np.ndarray:
    """uint8 mask (255 on the outline) of each car's box, ``thickness_px`` wide."""
    mask = np.zeros(shape[:2], np.uint8)
    boxes = [np.round(np.asarray(c, np.float64)).astype(np.int32).reshape(-1, 1, 2) for c in corners_px]
    if boxes:
        cv2.polylines(mask, boxes, True, 255, max(1, int(thickness_px)), cv2.LINE_8)
    return mask


def paint_out(image: np.ndarray, mask: np.ndarray, radius_px: float = 3.0) -> np.ndarray:
    """``image`` with the pixels under ``mask`` inpainted (Telea); others unchanged.

    Works on float images in 0-255 as well as on uint8 (OpenCV inpaints 8-bit only)."""
    if not mask.any():
        return image
    as_u8 = np.clip(np.round(image), 0, 255).astype(np.uint8)
    filled = cv2.inpaint(np.ascontiguousarray(as_u8), mask, float(radius_px), cv2.INPAINT_TELEA)
    out = image.copy()
    on = mask > 0
    out[on] = filled[on].astype(image.dtype)
    return out


def paint_out_car_outlines(image: np.ndarray, cars, gsd_m: float, rng) -> np.ndarray:
    """Outlines of ``cars`` (synthetic CarSpecs, metres; pixel centres at +0.5) drawn and painted out:
    a line 0.3-1.0 m wide running 0.2 m inside to 0.6 m outside each car's edge."""
    thickness_px = max(1, int(round(rng.uniform(0.3, 1.0) / gsd_m)))
    pad_m = float(rng.uniform(-0.2, 0.6))
    boxes = [rect(c.centre_m / gsd_m - 0.5, c.along, (-c.along[1], c.along[0]), (c.length_m + 2 * pad_m) / gsd_m,
                  (c.width_m + 2 * pad_m) / gsd_m) for c in cars]
    return paint_out(image, outline_mask(boxes, image.shape, thickness_px), radius_px=max(2.0, 1.5 * thickness_px))
