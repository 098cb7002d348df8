"""Strings of coupled cars: ridges of the band response, linked along the track.

Cars on one track touch or nearly touch, so the band response forms one long
horizontal ridge per string. A string is the unit in which cars are later
split, at coupler gaps or by length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

import cv2
import numpy as np

from .quick_stats import median


@dataclass
class CarString:
    col_start: float  # frame columns, inclusive
    col_end: float
    row_at_start: float  # centre row at col_start
    slope: float  # rows per column
    width_index: int  # most common best band width along the ridge
    strength: float  # median band response along the ridge
    tone: float  # median luminance of band minus sides (+ bright, - dark)

    def row_at(self, col):
        return self.row_at_start + self.slope * (np.asarray(col, np.float64) - self.col_start)

    @property
    def length_px(self) -> float:
        return self.col_end - self.col_start


def ridge_mask(response: np.ndarray, threshold: float, valid: np.ndarray, nms_rows: int) -> np.ndarray:
    """Pixels that are the strongest within +-nms_rows along their column."""
    local_max = cv2.dilate(response, np.ones((2 * nms_rows + 1, 1), np.uint8))
    return (response >= local_max) & (response >= threshold) & valid


def link_strings(
    ridges: np.ndarray,
    response: np.ndarray,
    width_index: np.ndarray,
    tone: np.ndarray,
    min_length_px: float,
    bridge_px: int,
) -> List[CarString]:
    """Connected ridge runs at least ``min_length_px`` long, as straight strings."""
    mask = ridges.astype(np.uint8)
    if bridge_px > 1:
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((1, bridge_px), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out: List[CarString] = []
    for lab in range(1, n):
        x, y, w, h, area = stats[lab]
        if w < min_length_px or area < 0.6 * min_length_px:
            continue
        sub = labels[y : y + h, x : x + w] == lab
        rr, cc = np.nonzero(sub & ridges[y : y + h, x : x + w])
        if len(cc) < 0.5 * min_length_px:
            continue
        rr = rr + y
        cc = cc + x
        if h > 1 and np.ptp(cc) > 0:
            slope, intercept = np.polyfit(cc, rr, 1)
        else:
            slope, intercept = 0.0, float(np.mean(rr))
        # A ridge that wanders far from its line is a field boundary, not a string.
        if np.abs(rr - (slope * cc + intercept)).mean() > 2.0:
            continue
        c0, c1 = float(cc.min()), float(cc.max() + 1)
        out.append(
            CarString(
                col_start=c0,
                col_end=c1,
                row_at_start=float(slope * c0 + intercept),
                slope=float(slope),
                width_index=int(np.bincount(width_index[rr, cc]).argmax()),
                strength=float(median(response[rr, cc])),
                tone=float(median(tone[rr, cc])),
            )
        )
    return out


@dataclass
class Profile:
    """Colours sampled along a string, one sample per frame column."""

    cols: np.ndarray  # (n,) frame columns (pixel centres)
    inner: np.ndarray  # (n, ch) mean colour inside the band
    above: np.ndarray  # (n, ch) strip above
    below: np.ndarray  # (n, ch) strip below
    contrast: np.ndarray  # (n,) min difference inner vs each side
    valid: np.ndarray  # (n,) bool


def sample_profile(image: np.ndarray, valid: np.ndarray, string: CarString, col0: int, col1: int, geom) -> Profile:
    rows_n, cols_n = image.shape[:2]
    cols = np.arange(max(0, col0), min(cols_n, col1))
    centre = np.round(string.row_at(cols + 0.5)).astype(int)

    def strip(lo, hi):
        offs = np.arange(lo, hi)
        r = np.minimum(np.maximum(centre[None, :] + offs[:, None], 0), rows_n - 1)  # np.clip, without its checks
        return image[r, cols[None, :]].mean(axis=0), valid[r, cols[None, :]].all(axis=0)

    inner, v_in = strip(*geom.inner)
    above, v_a = strip(*geom.above)
    below, v_b = strip(*geom.below)
    contrast = np.minimum(np.linalg.norm(inner - above, axis=1), np.linalg.norm(inner - below, axis=1))
    return Profile(cols=cols, inner=inner, above=above, below=below, contrast=contrast, valid=v_in & v_a & v_b)
