#!/usr/bin/env bash
# The main job on the embedded demo, through qgis_process (no QGIS window):
#   bash scripts/demo.sh [OUTPUT_DIR]        (default: ./output)
# 1. installs what is missing (scripts/setup.sh, idempotent);
# 2. railwatch:detectrailcars on demo/tumangang_2023-10-05.tif
#    -> OUTPUT_DIR/railcars.gpkg (layers "railcars" and "railcar_boxes") and OUTPUT_DIR/counts.csv;
# 3. railwatch:comparebaseline against demo/tumangang_history.csv
#    -> OUTPUT_DIR/baseline.csv and OUTPUT_DIR/report.html;
# 4. prints the count, the baseline sentence and the output folder.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${RAILWATCH_VENV:-$here/.venv}"
out="$(mkdir -p "${1:-$here/output}" && cd "${1:-$here/output}" && pwd)"
image="${RAILWATCH_DEMO_IMAGE:-$here/demo/tumangang_2023-10-05.tif}"
history="${RAILWATCH_DEMO_HISTORY:-$here/demo/tumangang_history.csv}"
qgis_process=/usr/bin/qgis_process.bin

bash "$here/scripts/setup.sh"
for f in "$image" "$history"; do
  [ -f "$f" ] || { echo "demo: missing $f (it ships with the repository: check out the whole repo)" >&2; exit 1; }
done

# qgis_process runs the system Python, not the venv: give it the venv's packages
# (OpenCV) and a private QGIS profile in which the plugin is enabled, so the
# user's own QGIS settings are left alone.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/plugins"
ln -s "$here/railwatch_plugin" "$work/plugins/railwatch_plugin"
site_packages="$("$venv/bin/python" -c 'import cv2, os; print(os.path.dirname(os.path.dirname(cv2.__file__)))')"
export QT_QPA_PLATFORM=offscreen
export QGIS_PLUGINPATH="$work/plugins"
export QGIS_CUSTOM_CONFIG_PATH="$work/profile"
export PYTHONPATH="$site_packages${PYTHONPATH:+:$PYTHONPATH}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$work}"
"$qgis_process" plugins enable railwatch_plugin > "$work/enable.log" 2>&1 || { cat "$work/enable.log" >&2; exit 1; }

run() {  # run ALGORITHM JSON_FILE PARAMETERS... ; quiet unless it fails
  local algorithm="$1" json="$2"; shift 2
  if ! "$qgis_process" --json run "$algorithm" -- "$@" > "$json" 2> "$work/stderr.log"; then
    echo "demo: $algorithm failed:" >&2
    cat "$work/stderr.log" >&2
    "$venv/bin/python" -c 'import sys; print(open(sys.argv[1]).read()[-3000:])' "$json" >&2
    exit 1
  fi
}

rm -f "$out/railcars.gpkg" "$out/counts.csv" "$out/baseline.csv" "$out/report.html"
echo "demo: detecting railcars on $(basename "$image") ..."
run railwatch:detectrailcars "$work/detect.json" \
  "INPUT=$image" \
  "OUTPUT=ogr:dbname='$out/railcars.gpkg' table=\"railcars\" (geom)" \
  "OUTPUT_BOXES=ogr:dbname='$out/railcars.gpkg' table=\"railcar_boxes\" (geom)" \
  "OUTPUT_TABLE=$out/counts.csv"
echo "demo: comparing with $(basename "$history") ..."
run railwatch:comparebaseline "$work/compare.json" \
  "HISTORY=$history" \
  "CURRENT=$out/counts.csv" \
  "OUTPUT=$out/baseline.csv" \
  "OUTPUT_HTML=$out/report.html"

"$venv/bin/python" - "$work/detect.json" "$work/compare.json" "$out" <<'PY'
import json, sys

def results(path):
    text = open(path).read()
    return json.loads(text[text.index("{"):])["results"]

detect, compare = results(sys.argv[1]), results(sys.argv[2])
print()
print(f"Railcars found: {int(detect['COUNT'])}")
print(compare["SUMMARY"])
print(f"Outputs in {sys.argv[3]}: railcars.gpkg (railcars, railcar_boxes), counts.csv, baseline.csv, report.html")
PY
