"""Where an algorithm's outputs go: checked before anything is written, removed
again when the run fails, and CSV tables written as spreadsheets read them.

QGIS finds out that a destination cannot be written only when it creates it,
after the work and after the outputs before it were written; its message is
SQLite's "unable to open database file". A run that fails must leave no new
file behind, and two outputs must not overwrite each other.
"""

from __future__ import annotations

import csv
import gc
import os
import re
import tempfile
import traceback
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional

from qgis.core import QgsProcessingException, QgsProcessingParameterFileDestination

# Files a vector writer may create next to the one it was given.
_COMPANIONS = ("-wal", "-shm", "-journal", "t")  # GeoPackage/SQLite side files; CSV's .csvt
_SHAPEFILE_PARTS = (".shx", ".dbf", ".prj", ".cpg", ".qpj")
_OGR_DBNAME = re.compile(r"dbname='((?:[^']|'')*)'")
_OGR_TABLE = re.compile(r'table="((?:[^"]|"")*)"')


@dataclass(frozen=True)
class Destination:
    parameter: str
    path: str  # absolute path of the file written
    layer: Optional[str]  # the table or layer named inside that file, if any


def destination_of(algorithm, parameters, name: str, context) -> Optional[Destination]:
    """The file output ``name`` will write, or None (not asked for, a memory
    layer, a database connection)."""
    if parameters.get(name) in (None, ""):
        return None
    definition = algorithm.parameterDefinition(name)
    if isinstance(definition, QgsProcessingParameterFileDestination):
        uri = algorithm.parameterAsFileOutput(parameters, name, context)
    else:
        uri = algorithm.parameterAsOutputLayer(parameters, name, context)
    if not uri or uri == "TEMPORARY_OUTPUT" or uri.startswith("memory:"):
        return None
    layer = None
    if uri.startswith("ogr:"):
        dbname, table = _OGR_DBNAME.search(uri), _OGR_TABLE.search(uri)
        if dbname is None:
            return None
        path = dbname.group(1).replace("''", "'")
        layer = table.group(1).replace('""', '"') if table else None
    elif re.match(r"^[a-z]+:", uri) and not re.match(r"^[A-Za-z]:[\\/]", uri):
        return None  # postgres:, spatialite:, ... : not a file
    else:
        path, _, options = uri.partition("|")
        match = re.search(r"layername=([^|]+)", options)
        layer = match.group(1) if match else None
    return Destination(name, os.path.abspath(os.path.expanduser(path)), layer)


def check_destinations(algorithm, parameters, context, names: Iterable[str]) -> List[Destination]:
    """The file destinations among ``names``, each checked: its folder exists and
    can be written, and no two outputs write the same file (unless each names
    its own layer of it). Raises QgsProcessingException naming the fix."""
    found = [d for d in (destination_of(algorithm, parameters, n, context) for n in names) if d is not None]
    by_path: Dict[str, List[Destination]] = {}
    for destination in found:
        _check_folder(destination)
        by_path.setdefault(destination.path, []).append(destination)
    for path, sharing in by_path.items():
        layers = [d.layer for d in sharing]
        if len(sharing) > 1 and (None in layers or len(set(layers)) < len(layers)):
            names_text = " and ".join(d.parameter for d in sharing)
            raise QgsProcessingException(
                f"{names_text} both write {path}: the second would overwrite the first. Give each output its own "
                "file, or its own layer of one GeoPackage (ogr:dbname='cars.gpkg' table=\"railcars\")."
            )
    return found


def _check_folder(destination: Destination) -> None:
    folder = os.path.dirname(destination.path)
    where = f"{destination.parameter} ({destination.path})"
    if not os.path.isdir(folder):
        what = "is a file, not a folder" if os.path.exists(folder) else "does not exist"
        raise QgsProcessingException(f"{where}: the folder {folder} {what}. Create the folder or choose another one.")
    if os.path.isdir(destination.path):
        raise QgsProcessingException(f"{where} is a folder: give a file name in it, e.g. {os.path.join(destination.path, 'railcars.gpkg')}")
    try:  # the only sure test: permissions, read-only disks and root all answer it
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".railwatch-write-test-"):
            pass
    except OSError as exc:
        raise QgsProcessingException(
            f"{where}: cannot write in the folder {folder} ({exc.strerror or exc}). "
            "Choose a folder you can write to."
        ) from None
    if os.path.exists(destination.path) and not os.access(destination.path, os.W_OK):
        raise QgsProcessingException(f"{where}: the file exists and cannot be overwritten. Choose another file name.")


def removing_new_files_on_failure(destinations: List[Destination], work: Callable[[], dict]) -> dict:
    """``work()``; when it raises, the destination files it created are removed
    (those that existed before are left as they are) and the error goes on."""
    new = [d.path for d in destinations if not os.path.exists(d.path)]
    try:
        return work()
    except BaseException as exc:
        # The open sinks live in the frames of ``work``: close them before
        # their files go, or SQLite writes its side files again as they close.
        traceback.clear_frames(exc.__traceback__)
        gc.collect()
        for path in new:
            remove_file(path)
        raise


def remove_file(path: str) -> None:
    """``path`` and the side files a writer makes next to it."""
    stem = os.path.splitext(path)[0]
    candidates = [path] + [path + suffix for suffix in _COMPANIONS]
    if path.lower().endswith(".shp"):
        candidates += [stem + suffix for suffix in _SHAPEFILE_PARTS]
    for candidate in candidates:
        try:
            os.remove(candidate)
        except OSError:
            pass


def tidy_if_csv(destinations: List[Destination], parameter: str, date_fields: Iterable[str]) -> None:
    """``tidy_csv`` on the file of output ``parameter`` when it is a CSV (its sink closed)."""
    for destination in destinations:
        if destination.parameter == parameter and destination.path.lower().endswith(".csv") and os.path.isfile(destination.path):
            try:
                tidy_csv(destination.path, date_fields)
            except (OSError, UnicodeError, csv.Error):
                pass  # the table as OGR wrote it is still right, only less tidy


def tidy_csv(path: str, date_fields: Iterable[str]) -> None:
    """Rewrite a CSV written by OGR so spreadsheets and pandas read its values:
    dates as ISO 8601 (OGR writes 2023/10/05) and numbers unquoted (OGR quotes
    integers: "73"). Text is quoted only where it holds a comma, quote or
    line break."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return
    dates = {i for i, name in enumerate(rows[0]) if name in set(date_fields)}
    for row in rows[1:]:
        for i in dates:
            if i < len(row) and re.fullmatch(r"\d{4}/\d\d/\d\d", row[i]):
                row[i] = row[i].replace("/", "-")
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
