"""The plugin loads the way QGIS loads it, its provider lists the three
algorithms (also for qgis_process), and it explains a missing OpenCV."""

from __future__ import annotations

import configparser
import csv
import json
import os
import shutil
import subprocess
import sys

import pytest
from qgis.core import QgsApplication, QgsProcessingParameterDefinition

from conftest import FRESH_QGIS_WITH_THE_PLUGIN, QGIS_PROCESS, REPO

ALGORITHM_IDS = {
    "railwatch:detectrailcars", "railwatch:counthistory", "railwatch:comparebaseline", "railwatch:exportlabels",
    "railwatch:adaptdetector",
}


def registry():
    return QgsApplication.processingRegistry()


def test_three_algorithms_are_registered(railwatch_plugin):
    provider = registry().providerById("railwatch")
    assert provider is not None
    assert provider.name() == "RailWatch"
    assert {a.id() for a in provider.algorithms()} == ALGORITHM_IDS
    for algorithm_id in ALGORITHM_IDS:
        assert registry().algorithmById(algorithm_id) is not None


def test_provider_icon_and_version_come_from_the_plugin_files(railwatch_plugin):
    provider = registry().providerById("railwatch")
    assert os.path.isfile(provider.svgIconPath())
    assert not provider.icon().isNull()
    metadata = configparser.ConfigParser(interpolation=None)
    metadata.read(os.path.join(REPO, "railwatch_plugin", "metadata.txt"))
    assert provider.versionInfo() == metadata["general"]["version"]
    assert metadata["general"]["hasProcessingProvider"] == "yes"
    assert metadata["general"]["qgisMinimumVersion"] == "3.22"


@pytest.mark.parametrize("algorithm_id", ["railwatch:detectrailcars", "railwatch:counthistory", "railwatch:exportlabels"])
def test_every_parameter_has_help_and_size_limits_are_advanced(railwatch_plugin, algorithm_id):
    algorithm = registry().algorithmById(algorithm_id)
    assert len(algorithm.shortHelpString()) > 100
    assert not algorithm.icon().isNull()
    for parameter in algorithm.parameterDefinitions():
        assert parameter.help(), f"{parameter.name()} has no help"
    advanced = {
        p.name() for p in algorithm.parameterDefinitions() if p.flags() & QgsProcessingParameterDefinition.FlagAdvanced
    }
    sizes = {"MIN_LENGTH_M", "MAX_LENGTH_M", "MIN_WIDTH_M", "MAX_WIDTH_M", "MIN_CONFIDENCE"}
    expected = {"railwatch:detectrailcars": sizes | {"OUTPUT_CANDIDATES"}, "railwatch:exportlabels": {"MARGIN_M"}}
    assert advanced == expected.get(algorithm_id, sizes)


def test_parameter_defaults_match_the_core(railwatch_plugin):
    from railwatch_plugin.core import DetectionParams

    core = DetectionParams()
    algorithm = registry().algorithmById("railwatch:detectrailcars")
    defaults = {p.name(): p.defaultValue() for p in algorithm.parameterDefinitions()}
    assert (defaults["MIN_LENGTH_M"], defaults["MAX_LENGTH_M"]) == core.car_length_m
    assert (defaults["MIN_WIDTH_M"], defaults["MAX_WIDTH_M"]) == core.car_width_m
    assert defaults["MIN_CONFIDENCE"] == core.min_confidence
    assert defaults["TRACK_BUFFER"] == 6.0


def test_unload_removes_the_provider_and_reload_restores_it(railwatch_plugin):
    railwatch_plugin.unload()
    try:
        assert registry().providerById("railwatch") is None
        assert registry().algorithmById("railwatch:detectrailcars") is None
    finally:
        railwatch_plugin.initProcessing()
    assert {a.id() for a in registry().providerById("railwatch").algorithms()} == ALGORITHM_IDS


MISSING_OPENCV_SCRIPT = r"""
import sys
sys.modules["cv2"] = None  # import cv2 now raises ImportError, as on a QGIS without OpenCV
""" + FRESH_QGIS_WITH_THE_PLUGIN + r"""
print("ALGORITHMS", sorted(a.id() for a in QgsApplication.processingRegistry().providerById("railwatch").algorithms()))
try:
    processing.run("railwatch:detectrailcars", {{"INPUT": {tif!r}, "OUTPUT": "TEMPORARY_OUTPUT"}})
    print("ERROR none")
except QgsProcessingException as exc:
    print("ERROR", str(exc).replace("\n", " "))
"""


def test_missing_opencv_still_loads_and_names_the_fix(easy_yard_tif):
    script = MISSING_OPENCV_SCRIPT.format(repo=REPO, tif=str(easy_yard_tif))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in done.stdout.splitlines() if " " in line}
    assert "railwatch:detectrailcars" in lines.get("ALGORITHMS", ""), done.stdout + done.stderr
    assert "railwatch:counthistory" in lines["ALGORITHMS"] and "railwatch:exportlabels" in lines["ALGORITHMS"]
    assert "RailWatch needs OpenCV: install the opencv-python-headless package" in lines["ERROR"]


@pytest.mark.skipif(not shutil.which(QGIS_PROCESS), reason="qgis_process is not installed")
def test_qgis_process_lists_and_runs_the_algorithms(qgis_process_env, easy_yard_tif, tmp_path):
    listed = subprocess.run([QGIS_PROCESS, "list"], capture_output=True, text=True, env=qgis_process_env, timeout=120)
    for algorithm_id in ALGORITHM_IDS:
        assert algorithm_id in listed.stdout, listed.stdout[-2000:] + listed.stderr
    table = tmp_path / "counts.csv"
    ran = subprocess.run(
        [QGIS_PROCESS, "--json", "run", "railwatch:detectrailcars", "--",
         f"INPUT={easy_yard_tif}", f"OUTPUT={tmp_path / 'cars.gpkg'}", f"OUTPUT_TABLE={table}"],
        capture_output=True, text=True, env=qgis_process_env, timeout=300,
    )
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    results = json.loads(ran.stdout[ran.stdout.index("{"):])["results"]
    assert results["COUNT"] >= 0
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1
    assert rows[0]["scene"] == "yard_utm"
    assert rows[0]["acquired"] == "2023-10-05"  # ISO, as spreadsheets read it (OGR alone writes 2023/10/05)
    assert int(rows[0]["count"]) == results["COUNT"]


@pytest.mark.skipif(not shutil.which(QGIS_PROCESS), reason="qgis_process is not installed")
def test_qgis_process_names_a_corrupt_image_in_inputs_and_nothing_else(qgis_process_env, tmp_path):
    """Only RailWatch's message: before, QGIS probed the file as a mesh first and
    printed "ERROR: Status 3: Unable to load mesh (null)" and four GDAL errors."""
    broken = tmp_path / "broken_2020-01-01.tif"
    broken.write_bytes(b"\x00garbage" * 500)
    ran = subprocess.run(
        [QGIS_PROCESS, "run", "railwatch:counthistory", "--", f"INPUTS={broken}", f"OUTPUT={tmp_path / 'history.csv'}"],
        capture_output=True, text=True, env=qgis_process_env, timeout=300,
    )
    assert ran.returncode != 0
    assert f"INPUTS: {broken} is not an image GDAL can read" in ran.stderr
    assert "mesh" not in ran.stderr and "not recognized as a supported file format" not in ran.stderr, ran.stderr
    assert not (tmp_path / "history.csv").exists()
