"""The monitoring log of one site: a GeoPackage with one row per counted scene.

Each save records what was counted and how (scene, acquired, count, mean
confidence, the detection parameters as JSON, the plugin version, when it was
saved; after an analyst's review also the reviewed count and whether the
review was finished). The log is a history table with ``acquired`` and ``count`` fields, so it
feeds ``railwatch:comparebaseline`` as is and becomes the default baseline for
the next run on the same site.

Two guarantees analysts rely on:

* Saving the same scene again (same scene name and acquisition date) replaces
  its row; a log never counts one image twice.
* A save is one SQLite transaction: if anything goes wrong half-way, the
  transaction rolls back and the file is exactly as it was.

Logs written before the review existed (RailWatch 0.2.0) lack the two review
columns; the first read or save adds them in place (``upgrade_site_log``), every
row kept, the new columns empty for the old rows.

No QGIS import here: GDAL/OGR creates the file (so it is a GeoPackage QGIS and
OGR recognise) and the standard library's sqlite3 writes the rows.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import sqlite3
import tempfile
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from typing import List, Optional

RUNS_TABLE = "runs"
# (name, OGR field type name); order is the table's column order.
RUN_FIELDS = (
    ("scene", "String"),
    ("acquired", "Date"),
    ("count", "Integer"),
    ("mean_confidence", "Real"),
    ("parameters", "String"),
    ("plugin_version", "String"),
    ("saved_at", "DateTime"),
    ("reviewed_count", "Integer"),  # accepted + added + unreviewed at or above the threshold; null: no review
    ("review_finished", "Boolean"),  # the analyst finished the review; null: no review
)
# Columns added after 0.2.0, with their SQLite declared types (GeoPackage: BOOLEAN is a boolean).
ADDED_COLUMNS = (("reviewed_count", "INTEGER"), ("review_finished", "BOOLEAN"))


@dataclass
class RunRecord:
    """One counted scene, as it is stored in the log."""

    scene: str
    acquired: Optional[str]  # ISO date "YYYY-MM-DD", or None when the image carries no date
    count: int
    mean_confidence: Optional[float] = None
    parameters: dict = field(default_factory=dict)
    plugin_version: str = ""
    saved_at: Optional[str] = None  # ISO UTC timestamp; filled in by save_run
    reviewed_count: Optional[int] = None  # the count after an analyst's review, if any
    review_finished: Optional[bool] = None


def site_name_from_layer_name(layer_name: str) -> str:
    """A default site name: the layer name without its date and separators.

    "tumangang_2023-10-05" -> "tumangang"; "Najin 20231005 pan" -> "Najin pan".
    """
    name = re.sub(r"(19|20)\d{2}[-_.]?\d{2}[-_.]?\d{2}", " ", layer_name)
    name = re.sub(r"[\s_\-.]+", " ", name).strip()
    return name or layer_name.strip() or "site"


def site_log_path(folder: str, site_name: str) -> str:
    """Where a site's log lives: ``<folder>/<site name as a safe file name>.gpkg``."""
    safe = re.sub(r"[^\w\-]+", "_", site_name.strip()).strip("_") or "site"
    return os.path.join(folder, f"{safe}.gpkg")


def create_site_log(path: str) -> None:
    """Create an empty log. Built in a temporary file and moved into place, so a
    crash never leaves a half-made GeoPackage behind."""
    from osgeo import gdal, ogr

    gdal.UseExceptions()
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(suffix=".gpkg", dir=folder)
    os.close(fd)
    os.remove(tmp_path)  # OGR wants to create the file itself
    try:
        ds = ogr.GetDriverByName("GPKG").CreateDataSource(tmp_path)
        layer = ds.CreateLayer(RUNS_TABLE, geom_type=ogr.wkbNone)
        for name, type_name in RUN_FIELDS:
            definition = ogr.FieldDefn(name, ogr.OFTInteger if type_name == "Boolean" else getattr(ogr, f"OFT{type_name}"))
            if type_name == "Boolean":
                definition.SetSubType(ogr.OFSTBoolean)
            layer.CreateField(definition)
        ds = None
        os.replace(tmp_path, path)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)


def _now_utc_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _delete_same_scene(conn: sqlite3.Connection, record: RunRecord) -> None:
    conn.execute(
        f'DELETE FROM "{RUNS_TABLE}" WHERE scene = ? AND acquired IS ?',
        (record.scene, record.acquired),
    )


def _insert_run(conn: sqlite3.Connection, record: RunRecord) -> None:
    names = [name for name, _ in RUN_FIELDS]
    values = (
        record.scene,
        record.acquired,
        int(record.count),
        None if record.mean_confidence is None else float(record.mean_confidence),
        json.dumps(record.parameters, sort_keys=True, default=str),
        record.plugin_version,
        record.saved_at,
        None if record.reviewed_count is None else int(record.reviewed_count),
        None if record.review_finished is None else int(bool(record.review_finished)),
    )
    columns = ", ".join(f'"{n}"' for n in names)
    conn.execute(f'INSERT INTO "{RUNS_TABLE}" ({columns}) VALUES ({", ".join("?" * len(names))})', values)


def save_run(path: str, record: RunRecord) -> None:
    """Add ``record`` to the log at ``path`` (created if missing), replacing any
    earlier row of the same scene and acquisition date, in one transaction."""
    if not os.path.exists(path):
        create_site_log(path)
    if record.saved_at is None:
        record.saved_at = _now_utc_iso()
    with _transaction(path) as conn:
        _add_missing_columns(conn)
        _delete_same_scene(conn, record)
        _insert_run(conn, record)
        conn.execute("UPDATE gpkg_contents SET last_change = ? WHERE table_name = ?", (record.saved_at, RUNS_TABLE))


@contextmanager
def _transaction(path: str):
    """One write transaction on the log: committed when the block ends, rolled back
    (the file exactly as it was) when it raises."""
    conn = sqlite3.connect(path, isolation_level=None)  # explicit BEGIN/COMMIT below
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()


def _missing_columns(conn: sqlite3.Connection) -> list:
    present = {row[1] for row in conn.execute(f'PRAGMA table_info("{RUNS_TABLE}")')}
    return [(name, kind) for name, kind in ADDED_COLUMNS if name not in present]


def _add_missing_columns(conn: sqlite3.Connection) -> bool:
    """Add the columns a 0.2.0 log lacks (inside the caller's transaction). True if any was added."""
    missing = _missing_columns(conn)
    for name, kind in missing:
        conn.execute(f'ALTER TABLE "{RUNS_TABLE}" ADD COLUMN "{name}" {kind}')
    return bool(missing)


def upgrade_site_log(path: str) -> bool:
    """Bring a log written by an earlier RailWatch up to today's columns, in place and in one
    transaction; rows are untouched. True if the file was changed."""
    with closing(sqlite3.connect(path)) as conn:
        if not _missing_columns(conn):
            return False  # today's log: no write, no lock
    with _transaction(path) as conn:
        return _add_missing_columns(conn)


def read_runs(path: str) -> List[RunRecord]:
    """Every run in the log, oldest acquisition first (an older log is upgraded first)."""
    if not os.path.exists(path):
        return []
    upgrade_site_log(path)
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            f'SELECT scene, acquired, count, mean_confidence, parameters, plugin_version, saved_at, '
            f'reviewed_count, review_finished FROM "{RUNS_TABLE}" ORDER BY acquired, scene'
        ).fetchall()
    finally:
        conn.close()
    return [
        RunRecord(
            scene=r[0], acquired=r[1], count=r[2], mean_confidence=r[3],
            parameters=json.loads(r[4] or "{}"), plugin_version=r[5] or "", saved_at=r[6],
            reviewed_count=r[7], review_finished=None if r[8] is None else bool(r[8]),
        )
        for r in rows
    ]


def ogr_uri(path: str) -> str:
    """The log's runs table as a QGIS/OGR layer source (for comparebaseline's HISTORY)."""
    return f"{path}|layername={RUNS_TABLE}"
