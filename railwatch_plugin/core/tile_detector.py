"""Find railcars in one tile held in memory. (Placeholder: returns nothing yet.)"""

from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np

from .model import DetectionParams, Railcar


def detect_in_tile(
    image: np.ndarray,
    valid: Optional[np.ndarray],
    gsd_m: Tuple[float, float],
    params: DetectionParams,
    track_mask: Optional[np.ndarray] = None,
) -> List[Railcar]:
    """Railcars in ``image`` (rows, cols, bands), in the tile's own pixel coordinates."""
    return []
