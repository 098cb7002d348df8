"""What a review is: decisions on cars, the reviewed count, the order cars are shown in.

A railcar layer carries a ``review`` field (one of :data:`REVIEW_VALUES`) and a
``reviewed_at`` time. The **reviewed count** is::

    accepted + added + (unreviewed cars at or above the confidence threshold)

so an unfinished review counts the detector's cars the analyst has not yet
looked at, and a rejected car or a below-threshold candidate nobody accepted
does not count. The **automatic count** is the detector's: every detected car
(not an added one) at or above the threshold, whatever the analyst decided.

:class:`ReviewQueue` steps through the detected cars least certain first:
confidence nearest the threshold, above or below it (below-threshold
candidates are where missed cars hide). It knows only keys (feature ids),
confidences and decisions, so tests drive it without a canvas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional

REVIEW_FIELD = "review"
REVIEWED_AT_FIELD = "reviewed_at"
UNREVIEWED = "unreviewed"
ACCEPTED = "accepted"
REJECTED = "rejected"
ADDED = "added"
REVIEW_VALUES = (UNREVIEWED, ACCEPTED, REJECTED, ADDED)


def normalize_review(value) -> str:
    """A field value as one of REVIEW_VALUES: empty, null or unknown text is unreviewed."""
    text = str(value).strip().lower() if value is not None else ""
    return text if text in REVIEW_VALUES else UNREVIEWED


def number_or(value, default):
    """``value`` as a float, or ``default`` for null, text that is no number, or NaN
    (field values arrive as numbers, QGIS NULLs or text)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if number == number else default


def _confidence(value) -> Optional[float]:
    return number_or(value, None)


def is_counted(review: str, confidence, threshold: float) -> bool:
    """Whether one car is in the reviewed count."""
    review = normalize_review(review)
    if review in (ACCEPTED, ADDED):
        return True
    if review == REJECTED:
        return False
    value = _confidence(confidence)
    return value is not None and value >= threshold


@dataclass
class ReviewItem:
    """One car of a layer: its key (feature id), detector confidence (None for a
    car the analyst added) and decision."""

    key: int
    confidence: Optional[float]
    review: str = UNREVIEWED

    def __post_init__(self):
        self.confidence = _confidence(self.confidence)
        self.review = normalize_review(self.review)


@dataclass(frozen=True)
class ReviewCounts:
    automatic: int  # the detector's count: detected cars at or above the threshold
    reviewed: int  # accepted + added + unreviewed at or above the threshold
    accepted: int
    rejected: int
    added: int
    unreviewed: int  # unreviewed cars at or above the threshold (counted)
    candidates: int  # unreviewed cars below the threshold (not counted)

    @property
    def decided(self) -> int:
        return self.accepted + self.rejected + self.added


def count_review(items: Iterable[ReviewItem], threshold: float) -> ReviewCounts:
    tally = {ACCEPTED: 0, REJECTED: 0, ADDED: 0}
    automatic = unreviewed = candidates = 0
    for item in items:
        detected_above = item.confidence is not None and item.confidence >= threshold
        if detected_above and item.review != ADDED:
            automatic += 1
        if item.review == UNREVIEWED:
            if detected_above:
                unreviewed += 1
            else:
                candidates += 1
        else:
            tally[item.review] += 1
    return ReviewCounts(
        automatic=automatic,
        reviewed=tally[ACCEPTED] + tally[ADDED] + unreviewed,
        accepted=tally[ACCEPTED],
        rejected=tally[REJECTED],
        added=tally[ADDED],
        unreviewed=unreviewed,
        candidates=candidates,
    )


def review_order(items: Iterable[ReviewItem], threshold: float) -> List[int]:
    """Keys of the detected cars, least certain first (|confidence - threshold|
    smallest first; ties: the lower confidence, then the key). Added cars,
    which have no confidence, are not in it."""
    detected = [i for i in items if i.confidence is not None and i.review != ADDED]
    detected.sort(key=lambda i: (abs(i.confidence - threshold), i.confidence, i.key))
    return [i.key for i in detected]


class ReviewQueue:
    """The cars of one layer in review order, with a current car.

    Deciding on the current car moves on to the next car still unreviewed;
    skipping moves on and leaves the car unreviewed. The queue does not
    wrap around: when it runs out, :attr:`current` is None and the review
    can be finished. Decisions are recorded with :meth:`set_review` (the
    layer is the truth: the panel writes there and tells the queue).
    """

    def __init__(self, items: Iterable[ReviewItem], threshold: float):
        self.threshold = float(threshold)
        self.items: Dict[int, ReviewItem] = {}
        for item in items:
            self.items[item.key] = item
        self.order = review_order(self.items.values(), self.threshold)
        self.position = -1
        self.finished = False
        self.advance()

    # --- what is shown -----------------------------------------------------------

    @property
    def current(self) -> Optional[int]:
        return self.order[self.position] if 0 <= self.position < len(self.order) else None

    def counts(self) -> ReviewCounts:
        return count_review(self.items.values(), self.threshold)

    def remaining(self) -> int:
        """Unreviewed detected cars from the current one on (the current included)."""
        start = max(self.position, 0)
        return sum(1 for key in self.order[start:] if self.items[key].review == UNREVIEWED)

    # --- moving ------------------------------------------------------------------

    def advance(self) -> Optional[int]:
        """Move to the next unreviewed car after the current one."""
        position = self.position + 1
        while position < len(self.order) and self.items[self.order[position]].review != UNREVIEWED:
            position += 1
        self.position = position
        return self.current

    def skip(self) -> Optional[int]:
        return self.advance()

    def go_to(self, key: int) -> None:
        """Make ``key`` the current car (after an undo, or a click on it)."""
        if key in self.order:
            self.position = self.order.index(key)

    # --- what the layer says -----------------------------------------------------

    def set_review(self, key: int, review: str) -> None:
        """Record a decision (or its undo) that the layer now holds."""
        if key in self.items:
            self.items[key].review = normalize_review(review)
        self.finished = False

    def add(self, item: ReviewItem) -> None:
        """A car the analyst added (or a detected car back after an undo of its deletion)."""
        self.items[item.key] = item
        if item.confidence is not None and item.review != ADDED and item.key not in self.order:
            current = self.current
            self.order = review_order(self.items.values(), self.threshold)
            self.position = self.order.index(current) if current is not None else len(self.order)
        self.finished = False

    def remove(self, key: int) -> None:
        """A car deleted from the layer."""
        self.items.pop(key, None)
        if key in self.order:
            index = self.order.index(key)
            self.order.pop(index)
            if index < self.position:
                self.position -= 1
            elif index == self.position:  # the current car went: the next unreviewed one is current
                self.position -= 1
                self.advance()
        self.finished = False

    def finish(self) -> ReviewCounts:
        """The analyst says the review is done: unreviewed cars stay as the detector put them."""
        self.finished = True
        return self.counts()
