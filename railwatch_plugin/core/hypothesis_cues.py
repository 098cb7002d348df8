"""What the patch alone cannot show the scorer: how the string around a
hypothesis was read. All in metres or relative units, so they mean the same
at any GSD and brightness."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import METHOD_LENGTH, METHOD_SINGLE
from .quick_stats import median

CUE_NAMES = [
    "length_m", "gsd_m", "at_string_end", "start_cut", "end_cut", "inner_boundary", "contrast_log",
    "contrast_vs_string", "method_length", "method_single", "cars_in_best_split", "string_length_m",
    "parallel_neighbours", "end_drop", "string_strength", "string_tone", "track_beyond", "track_here",
    "patch_spread", "patch_lum",
]
INNER_MARGIN_M = 2.0  # a boundary this close to a hypothesis end is its own end, not inside it


@dataclass(frozen=True)
class StringContext:
    """Cues shared by every hypothesis of one string."""

    cars_in_best_split: int
    string_length_m: float
    parallel_neighbours: int
    end_drop: float  # how sharply the band stops at the string's ends (a car ends; an edge fades)
    strength: float
    tone: float
    track_beyond: float
    track_here: float


def hypothesis_cues(hyps, contrast: np.ndarray, strength: np.ndarray, gsd_m: float, ctx: StringContext,
                    patch_stats: np.ndarray) -> np.ndarray:
    """(n, len(CUE_NAMES)) float32; ``contrast`` and ``strength`` run along the
    string from its start, as the hypotheses' positions do."""
    margin = int(round(INNER_MARGIN_M / gsd_m))
    ref = max(float(median(contrast)), 1.0)
    csum = np.r_[0.0, np.cumsum(contrast)]
    rows = []
    for h in hyps:
        i0, i1 = int(h.start), max(int(h.start) + 1, int(h.end))
        inside = strength[i0 + margin : i1 - margin]
        mean_contrast = (csum[min(i1, len(contrast))] - csum[min(i0, len(contrast) - 1)]) / max(i1 - i0, 1)
        rows.append([
            (h.end - h.start) * gsd_m, gsd_m, float(h.at_string_end), h.start_cut, h.end_cut,
            float(inside.max()) if len(inside) else 0.0, np.log1p(mean_contrast), mean_contrast / ref,
            float(h.method == METHOD_LENGTH), float(h.method == METHOD_SINGLE), ctx.cars_in_best_split,
            ctx.string_length_m, ctx.parallel_neighbours, ctx.end_drop, ctx.strength, ctx.tone, ctx.track_beyond,
            ctx.track_here,
        ])
    out = np.asarray(rows, np.float32).reshape(len(rows), len(CUE_NAMES) - 2)
    return np.concatenate([out, patch_stats.astype(np.float32)], axis=1)
