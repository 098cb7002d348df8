#!/usr/bin/env bash
# Build dist/railwatch_plugin-<version>.zip for the QGIS plugin repository and for
# Plugins > Manage and Install Plugins > Install from ZIP.
#
# The zip holds one top-level folder, railwatch_plugin/, with the plugin's own files
# only: no tests, no __pycache__/.pyc, no dev tooling, no vendored binaries
# (OpenCV is detected at run time and the panel says how to install it).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - "$@" <<'PY'
import configparser, os, sys, zipfile

PACKAGE = "railwatch_plugin"
SKIP_DIRS = {"__pycache__", "tests", "test", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
SKIP_SUFFIXES = (".pyc", ".pyo", ".orig", ".rej", "~", ".swp")

meta = configparser.ConfigParser(interpolation=None)
meta.read(os.path.join(PACKAGE, "metadata.txt"), encoding="utf-8")
version = meta.get("general", "version")
icon = meta.get("general", "icon")
if not os.path.exists(os.path.join(PACKAGE, icon)):
    sys.exit(f"metadata.txt names icon={icon}, which is not in {PACKAGE}/")

os.makedirs("dist", exist_ok=True)
target = os.path.join("dist", f"{PACKAGE}-{version}.zip")
tmp = target + ".part"
count = 0
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            if name.endswith(SKIP_SUFFIXES) or name.startswith("."):
                continue
            path = os.path.join(folder, name)
            zf.write(path, path)
            count += 1
    if os.path.exists("LICENSE"):
        zf.write("LICENSE", f"{PACKAGE}/LICENSE")
        count += 1
os.replace(tmp, target)
print(f"{target}: {count} files, version {version}")
PY
