#!/usr/bin/env bash
# Install everything RailWatch needs on a fresh Debian 12 machine:
# QGIS 3.22 from Debian, a venv that sees PyQGIS/GDAL/Debian's numpy, and the
# few PyPI packages Debian lacks (headless OpenCV, pytest-qgis).
# Idempotent: a second run only checks.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${RAILWATCH_VENV:-$here/.venv}"

need_apt=()
for pkg in qgis python3-qgis qgis-providers python3-venv python3-numpy python3-gdal python3-threadpoolctl xvfb xauth; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating venv $venv (with system site packages)"
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
# numpy is pinned to Debian's copy through a constraints file so that no
# dependency can replace it: GDAL's array module is built against it.
constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
"$venv/bin/python" -c 'import numpy; print("numpy==" + numpy.__version__)' > "$constraints"
if ! "$venv/bin/python" -c 'import cv2, pytest_qgis, pytestqt' 2>/dev/null; then
  echo "setup: installing PyPI packages into the venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -c "$constraints" -r "$here/requirements-dev.txt"
fi
"$venv/bin/python" - <<'PY'
import numpy, cv2
from osgeo import gdal_array  # fails if numpy was replaced
from qgis.core import Qgis
print(f"setup: ok (QGIS {Qgis.QGIS_VERSION}, numpy {numpy.__version__}, OpenCV {cv2.__version__})")
PY
