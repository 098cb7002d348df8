"""Marks for tests whose expectation is a detector target not yet met (issue 2).

The expectation in such a test stays as it is; the mark records what the
detector measures today. The marks are strict: when the detector improves and
the test passes, the run fails until the mark is removed, so a target that has
been met is never left hidden.
"""

import pytest


def not_met_yet(measured: str):
    return pytest.mark.xfail(strict=True, reason=f"detector accuracy target not met yet (issue 2): {measured}")
