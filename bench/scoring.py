"""The benchmark's matching rule lives in the core (``railwatch_plugin.core.matching``), where the
adaptation to a site's imagery scores its held-out cars by it too."""

from railwatch_plugin.core.matching import MATCH_FRACTION_OF_LENGTH, Score, match  # noqa: F401
