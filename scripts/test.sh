#!/usr/bin/env bash
# Run RailWatch's whole test suite on real QGIS, offscreen.
#   bash scripts/test.sh                 # everything
#   bash scripts/test.sh -k crs -x       # extra arguments go to pytest
# Installs what is missing first (scripts/setup.sh is idempotent).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${RAILWATCH_VENV:-$here/.venv}"

bash "$here/scripts/setup.sh"
cd "$here"
QT_QPA_PLATFORM=offscreen exec "$venv/bin/python" -m pytest "$@"
