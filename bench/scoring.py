"""The benchmark's matching rule lives in the core (``railwatch_plugin.core.matching``), where the
adaptation to a site's imagery scores its held-out cars by it too."""

from railwatch_plugin.core.matching import MATCH_FRACTION_OF_LENGTH, Score, match  # noqa: F401


def split_strings(found, truth, pairs, min_cars: int = 3, whole_share: float = 0.9):
    """(true strings with at least ``min_cars`` matched cars, how many of them are split): a
    string is split when fewer than ``whole_share`` of its matched cars share one found
    ``string_id``. Lengths that come out short split strings at their gaps; the count does
    not show it, the strings do."""
    from collections import Counter

    ids_by_string = {}
    for i, j in pairs:
        ids_by_string.setdefault(truth[j].string_id, []).append(found[i].string_id)
    kept = [ids for ids in ids_by_string.values() if len(ids) >= min_cars]
    split = sum(Counter(ids).most_common(1)[0][1] < whole_share * len(ids) for ids in kept)
    return len(kept), split

