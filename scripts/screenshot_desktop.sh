#!/usr/bin/env bash
# Screenshot of the RailWatch panel in real QGIS desktop, under Xvfb.
#
#   scripts/screenshot_desktop.sh [raster] [output.png]
#
# Builds the plugin zip, installs it into a fresh QGIS profile (nothing of your own
# profile is touched), enables it, opens the demo raster, opens the panel, presses
# Run, waits for the count and the baseline verdict, and saves the main window as
# PNG (default docs/panel_screenshot.png).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
RASTER="${1:-$ROOT/demo/tumangang_2023-10-05.tif}"
SHOT="${2:-$ROOT/docs/panel_screenshot.png}"
WORK="$(mktemp -d /tmp/railwatch_shot.XXXXXX)"
PROFILES="$WORK/profiles"
PLUGINS="$PROFILES/profiles/default/python/plugins"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || PY=python3

scripts/package.sh
ZIP="$(ls -t dist/railwatch_plugin-*.zip | head -n 1)"
mkdir -p "$PLUGINS" "$PROFILES/profiles/default/QGIS"
"$PY" -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" "$ZIP" "$PLUGINS"

cat > "$PROFILES/profiles/default/QGIS/QGIS3.ini" <<INI
[PythonPlugins]
railwatch_plugin=true

[qgis]
showTips322=false
checkVersion=false
allowVersionCheck=false

[core]
first_run=false

[UI]
hidePluginUpgradeNotifications=true
INI

# The demo raster and its history: use the repo's demo when it exists, else a
# generated stand-in (railwatch_synth), so the script works at any stage.
HISTORY="$(ls "$ROOT"/demo/*history*.csv 2>/dev/null | head -n 1 || true)"
if [ ! -f "$RASTER" ]; then
    echo "No $RASTER: generating a stand-in scene in $WORK" >&2
    RASTER="$WORK/tumangang_2023-10-05.tif"
    "$PY" scripts/screenshot_scene.py "$RASTER"
fi
if [ -z "$HISTORY" ]; then
    HISTORY="$WORK/tumangang_history.csv"
    "$PY" scripts/screenshot_scene.py --history "$HISTORY"
fi

# QGIS desktop runs the system Python: let it see the venv's OpenCV too.
SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
export RAILWATCH_SHOT="$WORK/shot.png" RAILWATCH_HISTORY="$HISTORY" RAILWATCH_SHOT_LOG="$WORK/shot.log"

set +e
timeout 300 xvfb-run -a -s "-screen 0 1600x1000x24" \
    qgis --profiles-path "$PROFILES" --nologo --noversioncheck \
    --code "$ROOT/scripts/screenshot_startup.py" "$RASTER" >"$WORK/qgis.out" 2>&1
STATUS=$?
set -e
cat "$WORK/shot.log" 2>/dev/null || true
if [ ! -s "$RAILWATCH_SHOT" ]; then
    echo "No screenshot (QGIS exit status $STATUS); QGIS output in $WORK/qgis.out" >&2
    exit 1
fi
mkdir -p "$(dirname "$SHOT")"
cp "$RAILWATCH_SHOT" "$SHOT"
echo "Screenshot: $SHOT (status $STATUS)"
