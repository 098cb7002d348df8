"""When was an image taken? From its metadata, else its file name, else unknown.

A count is only comparable with a site's history when it carries a date, so we
look where image vendors and GDAL put one: ``TIFFTAG_DATETIME``
(``YYYY:MM:DD HH:MM:SS``), ``ACQUISITIONDATETIME`` in the ``IMAGERY`` domain
(ISO 8601), other ``*ACQUISITION*DATE*`` items, then a ``YYYY-MM-DD`` or
``YYYYMMDD`` in the file name.
"""

from __future__ import annotations

import datetime
import os
import re
from typing import Mapping, Optional

# Checked in this order; the first that parses wins.
_PREFERRED_KEYS = (
    "IMAGERY:ACQUISITIONDATETIME",
    "ACQUISITIONDATETIME",
    "ACQUISITION_DATE",
    "ACQUISITIONDATE",
    "TIFFTAG_DATETIME",
)
_DATE_IN_TEXT = re.compile(r"(?<!\d)((?:19|20)\d\d)[-_:./]?(0[1-9]|1[0-2])[-_:./]?(0[1-9]|[12]\d|3[01])(?!\d)")


def date_in_text(text: str) -> Optional[datetime.date]:
    """The first plausible calendar date in ``text`` (1900-2099), else None."""
    for match in _DATE_IN_TEXT.finditer(text or ""):
        try:
            return datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            continue  # e.g. 2023-02-30
    return None


def acquired_date(metadata: Mapping[str, str], path_or_name: Optional[str]) -> Optional[datetime.date]:
    """Acquisition date from GDAL metadata items, else from the file name."""
    upper = {str(k).upper(): v for k, v in (metadata or {}).items()}
    keys = list(_PREFERRED_KEYS) + sorted(k for k in upper if "ACQ" in k and "DATE" in k)
    for key in keys:
        found = date_in_text(str(upper.get(key, "")))
        if found is not None:
            return found
    if path_or_name:
        return date_in_text(os.path.basename(path_or_name))
    return None
