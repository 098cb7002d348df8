"""Strings of coupled cars: ridges of the band response, linked along the track.

Cars on one track touch or nearly touch, so the band response forms one long
horizontal ridge per string. A string is the unit in which cars are later
split, at coupler gaps or by length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

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


MAX_WANDER_PX = 2.0  # mean distance of a string's ridge from its line; more is a field boundary
PIECE_MIN_FRACTION = 0.25  # of min_length_px: shorter ridge pieces are noise, even in a chain


@dataclass
class _Piece:
    """One connected ridge run (or a chain of them): its pixels and their straight line."""

    rows: np.ndarray
    cols: np.ndarray
    slope: float
    intercept: float
    col_start: float
    col_end: float

    @classmethod
    def fitted(cls, rows: np.ndarray, cols: np.ndarray, slope: float, intercept: float) -> "_Piece":
        return cls(rows, cols, slope, intercept, float(cols.min()), float(cols.max() + 1))

    def row_at(self, col: float) -> float:
        return self.slope * col + self.intercept


def _fit_line(rows: np.ndarray, cols: np.ndarray) -> Tuple[float, float, float]:
    """(slope, intercept, mean absolute residual) of rows against cols."""
    if cols.max() > cols.min() and rows.max() > rows.min():
        slope, intercept = _polyfit_line(cols, rows)
    else:
        slope, intercept = 0.0, float(np.mean(rows))
    wander = float(np.abs(rows - (slope * cols + intercept)).mean())
    return float(slope), float(intercept), wander


def _polyfit_line(x: np.ndarray, y: np.ndarray) -> Tuple[float, float]:
    """``np.polyfit(x, y, 1)``, the same arithmetic without its argument checks.

    Bit for bit: ridge rows are whole numbers, so a line through them often
    passes exactly half-way between two rows, and a least-squares solution
    that differed in its last bit (a closed form did) rounded some strings
    onto the neighbouring row. Chaining a yard tile's ridge pieces fits some
    550 lines; polyfit's checks were a third of each fit's time."""
    x = x + 0.0
    lhs = np.empty((len(x), 2))
    lhs[:, 0] = x  # np.vander(x, 2)
    lhs[:, 1] = 1.0
    scale = np.sqrt((lhs * lhs).sum(axis=0))
    lhs /= scale
    coef = np.linalg.lstsq(lhs, y + 0.0, len(x) * np.finfo(np.float64).eps)[0] / scale
    return coef[0], coef[1]


def _ridge_pieces(ridges: np.ndarray, bridge_px: int, min_piece_px: float) -> List[_Piece]:
    mask = ridges.astype(np.uint8)
    if bridge_px > 1:
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((1, bridge_px), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    pieces: List[_Piece] = []
    for lab in range(1, n):
        x, y, w, h, area = stats[lab]
        if w < min_piece_px or area < 0.6 * min_piece_px:
            continue
        sub = labels[y : y + h, x : x + w] == lab
        rr, cc = np.nonzero(sub & ridges[y : y + h, x : x + w])
        if len(cc) < 0.5 * min_piece_px:
            continue
        rr, cc = rr + y, cc + x
        slope, intercept, wander = _fit_line(rr, cc)
        if wander > MAX_WANDER_PX:
            continue
        pieces.append(_Piece.fitted(rr, cc, slope, intercept))
    return pieces


def _chain_pieces(pieces: List[_Piece], join_gap_px: float, join_rows_px: float) -> List[_Piece]:
    """Join pieces that continue one another along one straight line.

    The ridge of a string breaks where one car meets the next: a different
    width or tone moves the ridge by a row or two, or a short gap opens. Left
    broken, a car whose ridge broke in its middle could never be offered as
    one car. A piece joins the chain whose end it starts near (within
    ``join_gap_px`` after it, or overlapping it by as much), on the chain's
    line (within ``join_rows_px``), if the joined ridge stays straight.
    """
    done: List[Tuple[int, _Piece]] = []  # chains ended too far back for any later piece to join
    chains: List[Tuple[int, _Piece]] = []  # (order of creation, chain): the output keeps that order
    for piece in sorted(pieces, key=lambda p: (p.col_start, p.intercept)):
        done.extend(oc for oc in chains if oc[1].col_end < piece.col_start - join_gap_px)
        chains = [oc for oc in chains if oc[1].col_end >= piece.col_start - join_gap_px]
        best, best_off = None, join_rows_px
        for k, (_, chain) in enumerate(chains):
            if chain.col_end - piece.col_start > join_gap_px:
                continue
            at = 0.5 * (piece.col_start + chain.col_end)
            off = abs(chain.row_at(at) - piece.row_at(at))
            if off <= best_off:
                best, best_off = k, off
        if best is not None:
            order, chain = chains[best]
            rows, cols = np.r_[chain.rows, piece.rows], np.r_[chain.cols, piece.cols]
            slope, intercept, wander = _fit_line(rows, cols)
            if wander <= MAX_WANDER_PX:
                chains[best] = (order, _Piece(rows, cols, slope, intercept, chain.col_start, max(chain.col_end, piece.col_end)))
                continue
        chains.append((len(done) + len(chains), piece))
    return [chain for _, chain in sorted(done + chains, key=lambda oc: oc[0])]


def link_strings(
    ridges: np.ndarray,
    response: np.ndarray,
    width_index: np.ndarray,
    tone: np.ndarray,
    min_length_px: float,
    bridge_px: int,
    join_rows_px: float = 0.0,
    join_gap_px: float = 0.0,
) -> List[CarString]:
    """Ridge runs, chained along their lines, at least ``min_length_px`` long, as straight strings."""
    pieces = _ridge_pieces(ridges, bridge_px, PIECE_MIN_FRACTION * min_length_px if join_rows_px > 0 else min_length_px)
    if join_rows_px > 0:
        pieces = _chain_pieces(pieces, max(float(bridge_px), join_gap_px), join_rows_px)
    out: List[CarString] = []
    for piece in pieces:
        c0, c1 = piece.col_start, piece.col_end
        if c1 - c0 < min_length_px or len(piece.cols) < 0.5 * min_length_px:
            continue
        rr, cc = piece.rows, piece.cols
        out.append(
            CarString(
                col_start=c0,
                col_end=c1,
                row_at_start=piece.row_at(c0),
                slope=piece.slope,
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
