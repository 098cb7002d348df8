"""The review state without QGIS: decisions, the reviewed count, the order of cars."""

from railwatch_plugin.review import (
    ACCEPTED,
    ADDED,
    REJECTED,
    UNREVIEWED,
    ReviewItem,
    ReviewQueue,
    count_review,
    is_counted,
    normalize_review,
    review_order,
)


def items():
    # key: confidence; threshold 0.5
    return [ReviewItem(1, 0.99), ReviewItem(2, 0.55), ReviewItem(3, 0.30), ReviewItem(4, 0.48),
            ReviewItem(5, 0.80), ReviewItem(6, 0.12)]


def test_reviewed_count_is_accepted_plus_added_plus_unreviewed_at_or_above_the_threshold():
    cars = items()
    assert count_review(cars, 0.5).reviewed == 3 == count_review(cars, 0.5).automatic  # 0.99, 0.55, 0.80
    cars[1].review = REJECTED  # 0.55 was a look-alike
    cars[3].review = ACCEPTED  # 0.48 was a car the threshold left out
    cars.append(ReviewItem(7, None, ADDED))  # a car the detector missed
    counts = count_review(cars, 0.5)
    assert (counts.automatic, counts.reviewed) == (3, 4)  # 0.99, 0.80 unreviewed + 0.48 accepted + added
    assert (counts.accepted, counts.rejected, counts.added, counts.unreviewed, counts.candidates) == (1, 1, 1, 2, 2)
    assert counts.decided == 3
    assert count_review(cars, 0.5).reviewed == sum(is_counted(c.review, c.confidence, 0.5) for c in cars)


def test_a_car_exactly_at_the_threshold_counts_and_one_without_confidence_only_when_decided():
    assert is_counted(UNREVIEWED, 0.5, 0.5) and not is_counted(UNREVIEWED, 0.4999, 0.5)
    assert not is_counted(UNREVIEWED, None, 0.5) and is_counted(ADDED, None, 0.5)
    assert not is_counted(REJECTED, 0.99, 0.5) and is_counted(ACCEPTED, 0.01, 0.5)


def test_field_values_from_older_layers_read_as_unreviewed():
    assert [normalize_review(v) for v in (None, "", "NULL", " Accepted ", "added", "maybe")] == [
        UNREVIEWED, UNREVIEWED, UNREVIEWED, ACCEPTED, ADDED, UNREVIEWED]


def test_order_is_least_certain_first_above_and_below_the_threshold():
    cars = items() + [ReviewItem(7, None, ADDED)]
    assert review_order(cars, 0.5) == [4, 2, 3, 5, 6, 1]  # |c - 0.5|: .02 .05 .20 .30 .38 .49


def test_queue_moves_past_decided_cars_and_does_not_wrap():
    queue = ReviewQueue(items(), 0.5)
    assert queue.current == 4 and queue.remaining() == 6
    queue.set_review(4, ACCEPTED)
    queue.advance()
    assert queue.current == 2
    queue.skip()
    assert queue.current == 3
    queue.set_review(5, REJECTED)  # decided out of order (a click on the map)
    queue.set_review(3, REJECTED)
    queue.advance()
    assert queue.current == 6  # 5 is already decided
    queue.go_to(4)  # an undo brings the car back
    queue.set_review(4, UNREVIEWED)
    assert queue.current == 4
    queue.position = len(queue.order) - 1
    queue.advance()
    assert queue.current is None
    counts = queue.finish()
    assert queue.finished and counts.reviewed == 2  # 0.99 and 0.55 (skipped, unreviewed, above)


def test_a_resumed_queue_starts_at_the_first_unreviewed_car():
    cars = items()
    cars[3].review = ACCEPTED  # 0.48, the first in order, decided in an earlier session
    assert ReviewQueue(cars, 0.5).current == 2


def test_deleting_the_current_car_moves_on_and_adding_keeps_the_place():
    queue = ReviewQueue(items(), 0.5)
    queue.remove(4)
    assert queue.current == 2 and 4 not in queue.items
    queue.add(ReviewItem(10, None, ADDED))
    assert queue.current == 2 and queue.counts().added == 1
    queue.add(ReviewItem(4, 0.48))  # an undone deletion: back in the order, the current car stays
    assert queue.current == 2 and queue.order[0] == 4
    queue.remove(3)
    assert queue.current == 2 and queue.order == [4, 2, 5, 6, 1]
