"""Reading counts and dates out of QGIS tables for ``railwatch:comparebaseline``.

A history arrives in many shapes: a GeoPackage written by ``counthistory``, a CSV an
analyst typed (dates as text, counts maybe as text), a point layer. This module turns
any of them into ``Observation``s, and says exactly which row is wrong when one is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from qgis.core import QgsFeatureRequest, QgsProcessingException
from qgis.PyQt.QtCore import QVariant

from ..core import CAR_KINDS
from ..core.baseline import Observation, parse_observation_date
from .output_fields import REVIEWED_COUNT_FIELD, kind_field_name


def is_null(value) -> bool:
    """None, QGIS's NULL (a null QVariant) or an empty text cell."""
    if value is None or (isinstance(value, QVariant) and value.isNull()):
        return True
    return isinstance(value, str) and not value.strip()


def find_field(fields, requested: Optional[str], fallbacks: Sequence[str], what: str, parameter: str) -> str:
    """The name of the field to read: ``requested`` if the table has it (any letter case),
    else, when ``requested`` is empty or the default, the first of ``fallbacks`` present."""
    names = [f.name() for f in fields]
    candidates = [requested] if requested else []
    if not requested or requested.lower() == fallbacks[0].lower():
        candidates += list(fallbacks)
    for candidate in candidates:
        index = fields.lookupField(candidate)
        if index >= 0:
            return names[index]
    listed = ", ".join(names) if names else "no fields at all"
    tried = " or ".join(f"'{c}'" for c in dict.fromkeys(candidates))
    raise QgsProcessingException(
        f"The {what} table has no {tried} field; it has: {listed}. Choose the right field in {parameter}."
    )


def parse_count(value, where: str) -> Optional[int]:
    """A whole, non-negative count from an int, a float such as 12.0 or text such as "12";
    None for an empty cell."""
    if is_null(value):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise QgsProcessingException(f"{where}: the count '{value}' is not a number. Fix the table.") from None
    if number != number or not number.is_integer():
        raise QgsProcessingException(f"{where}: the count '{value}' is not a whole number of railcars. Fix the table.")
    if number < 0:
        raise QgsProcessingException(f"{where}: the count is negative ({value}). Counts are 0 or more; fix the table.")
    return int(number)


def parse_date(value, where: str) -> Optional[dt.date]:
    if is_null(value):
        return None
    try:
        return parse_observation_date(value)
    except ValueError as error:
        raise QgsProcessingException(
            f"{where}: cannot read the date '{value}' ({error}). Write dates as 2023-10-05, 2023/10/05 or 20231005."
        ) from None


@dataclass
class HistoryRows:
    observations: List[Observation]
    skipped: List[str] = field(default_factory=list)  # "row 7: no count" etc.
    reviewed: int = 0  # rows whose reviewed count was used instead of the automatic one


def reviewed_count_field(fields, count_field: str) -> Optional[str]:
    """The ``reviewed_count`` field to prefer over ``count_field``: only when the count is the
    table's own ``count`` (a site log or a count table) and the table has one."""
    index = fields.lookupField(REVIEWED_COUNT_FIELD)
    if index < 0 or count_field.lower() != "count":
        return None
    return fields[index].name()


def row_count(feature, count_field: str, reviewed_field: Optional[str], where: str) -> Tuple[Optional[int], bool]:
    """(count, True if it is the analyst's reviewed count): the reviewed count where the row has one."""
    if reviewed_field:
        reviewed = parse_count(feature[reviewed_field], where)
        if reviewed is not None:
            return reviewed, True
    return parse_count(feature[count_field], where), False


def read_history(
    source,
    date_field: str,
    count_field: str,
    scene_field: Optional[str] = None,
    progress: Callable[[float], None] = lambda fraction: None,
    is_canceled: Callable[[], bool] = lambda: False,
) -> HistoryRows:
    """Every row with a date and a count; rows missing either are skipped (and listed),
    because a cloudy or unread image is a gap in the history, not an error. A row with a
    ``reviewed_count`` (a site log after an analyst's review) counts with it."""
    total = max(source.featureCount(), 1)
    reviewed_field = reviewed_count_field(source.fields(), count_field)
    request = QgsFeatureRequest().setFlags(QgsFeatureRequest.NoGeometry)
    rows = HistoryRows([])
    for number, feature in enumerate(source.getFeatures(request), start=1):
        if is_canceled():
            break
        where = f"History row {number}"
        acquired = parse_date(feature[date_field], where)
        count, reviewed = row_count(feature, count_field, reviewed_field, where)
        rows.reviewed += int(reviewed and acquired is not None)
        if acquired is None or count is None:
            rows.skipped.append(f"row {number}: no {'date' if acquired is None else 'count'}")
        else:
            scene = feature[scene_field] if scene_field else ""
            rows.observations.append(Observation(acquired, count, "" if is_null(scene) else str(scene)))
        progress(number / total)
    return rows


@dataclass
class CurrentCount:
    count: int
    acquired: Optional[dt.date]
    counts_by_kind: Dict[str, int]
    how: str  # one line for the log: which rows were used


def read_current_table(source) -> CurrentCount:
    """The count in a ``detectrailcars`` count table.

    Such a table has one row per AOI polygon (field ``aoi`` holds its label) or one row
    for the whole image (``aoi`` absent or null). Whole-image rows win when present:
    they count every car once. Otherwise the AOI rows are summed (AOIs are assumed not
    to overlap). Rows from different dates are refused: that is a history, not a count.
    """
    fields = source.fields()
    count_name = find_field(fields, "count", ["count"], "CURRENT", "CURRENT (a count table from Detect railcars)")
    aoi_index = fields.lookupField("aoi")
    date_index = fields.lookupField("acquired")
    if date_index < 0:
        date_index = fields.lookupField("date")
    kind_names = {kind: fields.lookupField(kind_field_name(kind)) for kind in CAR_KINDS}
    reviewed_field = reviewed_count_field(fields, count_name)
    reviewed_rows = 0

    whole: List[Tuple] = []
    per_aoi: List[Tuple] = []
    for number, feature in enumerate(source.getFeatures(QgsFeatureRequest().setFlags(QgsFeatureRequest.NoGeometry)), 1):
        where = f"CURRENT row {number}"
        count, reviewed = row_count(feature, count_name, reviewed_field, where)
        if count is None:
            continue
        reviewed_rows += int(reviewed)
        acquired = parse_date(feature[date_index], where) if date_index >= 0 else None
        kinds = {k: parse_count(feature[i], where) or 0 for k, i in kind_names.items() if i >= 0}
        aoi = feature[aoi_index] if aoi_index >= 0 else None
        row = (count, acquired, kinds)
        (whole if is_null(aoi) else per_aoi).append(row)

    used = whole or per_aoi
    if not used:
        raise QgsProcessingException(
            "The CURRENT table has no row with a count. Give the count table written by Detect railcars, "
            "or type the number in CURRENT_COUNT."
        )
    dates = sorted({r[1] for r in used if r[1] is not None})
    if len(dates) > 1:
        raise QgsProcessingException(
            f"The CURRENT table holds counts from {len(dates)} dates ({', '.join(d.isoformat() for d in dates)}); "
            "it should be the count of one image. Use it as HISTORY, or type the number in CURRENT_COUNT."
        )
    kinds: Dict[str, int] = {}
    for _, _, row_kinds in used:
        for kind, n in row_kinds.items():
            kinds[kind] = kinds.get(kind, 0) + n
    if whole:
        how = f"the whole-image row{'s' if len(whole) > 1 else ''} of CURRENT"
    else:
        how = f"the sum of {len(per_aoi)} AOI row{'s' if len(per_aoi) > 1 else ''} of CURRENT"
    if reviewed_rows:
        how += " (the analyst's reviewed count)"
    return CurrentCount(sum(r[0] for r in used), dates[0] if dates else None, kinds, how)
