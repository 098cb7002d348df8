"""The training-label format that ``railwatch:exportlabels`` writes and training reads.

A label folder holds::

    labels.json
    windows/000_<scene>.tif     one GeoTIFF window per scene: the image's bands, as read
    windows/001_<scene>.tif

``labels.json`` (UTF-8)::

    {"format": "railwatch-labels", "version": 1,
     "windows": [
       {"image": "windows/000_tumangang_2023-10-05.tif",   # relative to the folder
        "scene": "tumangang_2023-10-05", "acquired": "2023-10-05",   # or null
        "source": "/data/tumangang_2023-10-05.tif",        # the image the window was cut from
        "gsd_m": [0.5, 0.5],                               # ground metres per pixel (x, y) of the source
        "width_px": 1400, "height_px": 840,
        "crs": "EPSG:32652", "geotransform": [x0, dx, rx, y0, ry, dy],   # of the window (GDAL order)
        "cars": [
          {"col_px": 32.1, "row_px": 716.0,     # the car's centre in window pixels (GDAL: (0, 0) is
                                                #   the top-left corner of the top-left pixel)
           "length_m": 16.4, "width_m": 3.0,
           "heading_deg": 63.0,                 # 0-180, clockwise from the window's up (north on north-up
                                                #   images; turned from the layer's north otherwise); null
                                                #   for a car added as a bare point
           "kind": "tank",                      # one of core.CAR_KINDS
           "label": "railcar",                  # railcar (accepted or added) or lookalike (rejected)
           "review": "accepted"}]}]}           # the analyst's decision: accepted, added or rejected

Only reviewed cars are written: unreviewed ones are not labels. Pixel
positions are continuous (a centre in the middle of pixel (3, 4) is
col_px 3.5, row_px 4.5). :func:`read_labels` reads a folder back without QGIS.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import List, Optional, Tuple

LABELS_FILE = "labels.json"
WINDOWS_FOLDER = "windows"
FORMAT = "railwatch-labels"
VERSION = 1
RAILCAR = "railcar"
LOOKALIKE = "lookalike"


@dataclass
class LabelCar:
    col_px: float
    row_px: float
    length_m: float
    width_m: float
    heading_deg: Optional[float]  # None: unknown
    kind: str
    label: str  # RAILCAR or LOOKALIKE
    review: str  # accepted, added or rejected


@dataclass
class LabelWindow:
    image: str  # relative to the label folder
    scene: str
    acquired: Optional[str]
    source: str
    gsd_m: Tuple[float, float]
    width_px: int
    height_px: int
    crs: str
    geotransform: Tuple[float, ...]
    cars: List[LabelCar] = field(default_factory=list)

    def image_path(self, folder: str) -> str:
        return os.path.join(folder, self.image)


def write_labels(folder: str, windows: List[LabelWindow]) -> str:
    """Write ``labels.json`` into ``folder`` (the windows' images are written by the caller)."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, LABELS_FILE)
    document = {"format": FORMAT, "version": VERSION, "windows": [asdict(w) for w in windows]}
    tmp = path + ".part"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1)
    os.replace(tmp, path)
    return path


def read_labels(folder: str) -> List[LabelWindow]:
    """The windows and cars of a label folder written by ``railwatch:exportlabels``."""
    path = os.path.join(folder, LABELS_FILE)
    with open(path, encoding="utf-8") as handle:
        document = json.load(handle)
    if document.get("format") != FORMAT:
        raise ValueError(f"{path} is not a RailWatch label file (format {document.get('format')!r})")
    if int(document.get("version", 0)) > VERSION:
        raise ValueError(f"{path} is label format version {document['version']}; this code reads up to {VERSION}")
    windows = []
    for raw in document["windows"]:
        cars = [LabelCar(**car) for car in raw.get("cars", [])]
        values = {k: v for k, v in raw.items() if k != "cars"}
        values["gsd_m"] = tuple(values["gsd_m"])
        values["geotransform"] = tuple(values["geotransform"])
        windows.append(LabelWindow(**values, cars=cars))
    return windows
