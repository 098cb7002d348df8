"""Analyst review of a railcar layer, in plain Python (no QGIS, no Qt).

:mod:`.state` holds what a review is: the four decisions, the reviewed count and
the order in which cars are shown. The panel (``ui/review_panel.py``), the map
tool (``ui/review_tool.py``) and the layer I/O (``ui/review_layer.py``) are thin
Qt around it.
"""

from .state import (
    ACCEPTED,
    ADDED,
    REJECTED,
    REVIEW_FIELD,
    REVIEW_VALUES,
    REVIEWED_AT_FIELD,
    UNREVIEWED,
    ReviewCounts,
    ReviewItem,
    ReviewQueue,
    count_review,
    is_counted,
    normalize_review,
    number_or,
    review_order,
)

__all__ = [
    "ACCEPTED",
    "ADDED",
    "REJECTED",
    "REVIEW_FIELD",
    "REVIEW_VALUES",
    "REVIEWED_AT_FIELD",
    "UNREVIEWED",
    "ReviewCounts",
    "ReviewItem",
    "ReviewQueue",
    "count_review",
    "is_counted",
    "normalize_review",
    "number_or",
    "review_order",
]
