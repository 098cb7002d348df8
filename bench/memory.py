"""Peak memory of whole runs, as a user makes them: ``qgis_process run
railwatch:detectrailcars`` on images of about 100 MP at 0.05 m and 0.10 m per
pixel, and on a 100,000 x 100,000 px raster told GSD=0.001.

    .venv/bin/python bench/memory.py                 # all cases (~4 min the first time, ~2 min after)
    .venv/bin/python bench/memory.py --cases fine05  # one case
    .venv/bin/python bench/memory.py --size 4096     # smaller images (quick look)

The images are generated once into bench/out/ (never committed): a
``write_big_raster`` scene with rail yards at 0.5 m, resampled by GDAL to the
fine pixel size (JPEG-tiled GeoTIFF, no overviews: the worst case, every pixel
must be read), so the cars are where the 0.5 m scene put them; the huge raster
is a sparse GeoTIFF (a few KB on disk, 30 GB of pixels). Each run is its own
qgis_process, with a throw-away QGIS profile, started by a small launcher
process (see LAUNCHER); its peak resident set (``os.wait4``'s ru_maxrss)
includes GDAL's block cache, QGIS and Python.

Issue 15's target: peak RSS under 1 GB for any image size, pixel size and
content (before: 6-7 GB at 0.05 m, 1.9-2.0 GB at 0.10 m, a 27.9 GiB
allocation for GSD=0.001).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

OUT_DIR = os.path.join(ROOT, "bench", "out")
QGIS_PROCESS = "/usr/bin/qgis_process.bin"
TARGET_PEAK_RSS_MB = 1024.0
HUGE_PX = 100_000


def qgis_process_env(work: str) -> dict:
    """Environment for qgis_process with this checkout's plugin enabled in a
    private profile and the venv's OpenCV importable (as scripts/demo.sh does)."""
    import cv2

    plugins = os.path.join(work, "plugins")
    os.makedirs(plugins, exist_ok=True)
    link = os.path.join(plugins, "railwatch_plugin")
    if not os.path.exists(link):
        os.symlink(os.path.join(ROOT, "railwatch_plugin"), link)
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        QGIS_PLUGINPATH=plugins,
        QGIS_CUSTOM_CONFIG_PATH=os.path.join(work, "profile"),
        PYTHONPATH=os.path.dirname(os.path.dirname(cv2.__file__)),
        XDG_RUNTIME_DIR=work,
    )
    enabled = subprocess.run([QGIS_PROCESS, "plugins", "enable", "railwatch_plugin"], env=env,
                             capture_output=True, text=True, timeout=300)
    if enabled.returncode != 0:
        raise SystemExit(f"cannot enable the plugin for qgis_process: {enabled.stdout}{enabled.stderr}")
    return env


# Linux starts a process's peak RSS (ru_maxrss) at its parent's resident size
# when it forks and execs: a run started from this process, grown by the
# images it made, would report this process's size (603 MB for a 2 s run).
# So runs are started by a launcher, a bare Python started before anything
# is imported or made; it reports each run's own peak.
LAUNCHER = r"""
import json, os, subprocess, sys, threading, time
for line in sys.stdin:
    request = json.loads(line)
    with open(request["out"], "wb") as out, open(request["err"], "wb") as err:
        t0 = time.perf_counter()
        process = subprocess.Popen(request["command"], env=request["env"], stdout=out, stderr=err)
        timer = threading.Timer(request["timeout_s"], process.kill)
        timer.start()
        _, status, usage = os.wait4(process.pid, 0)
        timer.cancel()
    answer = dict(code=os.waitstatus_to_exitcode(status), seconds=time.perf_counter() - t0, peak_mb=usage.ru_maxrss / 1024.0)
    print(json.dumps(answer), flush=True)
"""


class Launcher:
    """Starts runs and measures each one's peak RSS on its own (see LAUNCHER).
    Make it before this process grows; one run at a time per launcher."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, "-S", "-c", LAUNCHER], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)

    def run(self, command, env, timeout_s: float):
        """(return code, stdout, stderr, seconds, peak RSS MB) of one process."""
        with tempfile.NamedTemporaryFile(delete=False) as out, tempfile.NamedTemporaryFile(delete=False) as err:
            pass
        try:
            request = dict(command=list(command), env=dict(env), timeout_s=timeout_s, out=out.name, err=err.name)
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            answer = json.loads(self.process.stdout.readline())
            with open(out.name, "rb") as o, open(err.name, "rb") as e:
                stdout, stderr = o.read().decode(errors="replace"), e.read().decode(errors="replace")
        finally:
            os.remove(out.name)
            os.remove(err.name)
        return answer["code"], stdout, stderr, answer["seconds"], answer["peak_mb"]

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def fine_image(size_px: int, gsd_m: float) -> dict:
    """A ``size_px`` square JPEG GeoTIFF at ``gsd_m`` resampled from a 0.5 m scene
    with yards; its truth (car count) alongside. Made once."""
    from osgeo import gdal

    from railwatch_synth import write_big_raster

    gdal.UseExceptions()
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, f"memory_{size_px}px_{gsd_m:g}m.tif")
    truth_path = path[:-4] + "_truth.json"
    if os.path.exists(path) and os.path.exists(truth_path):
        with open(truth_path) as f:
            return json.load(f)
    base_px = int(round(size_px * gsd_m / 0.5))
    base = path[:-4] + "_base.tif"
    info = write_big_raster(base, base_px, base_px, gsd_m=0.5, seed=15, compress="DEFLATE",
                            yard_size_m=(400.0, 300.0), n_yards=max(1, base_px // 1000))
    partial = path + ".partial.tif"
    gdal.SetCacheMax(128 * 1024 * 1024)
    gdal.Translate(partial, base, width=size_px, height=size_px, resampleAlg="bilinear",
                   creationOptions=["TILED=YES", "COMPRESS=JPEG", "PHOTOMETRIC=YCBCR", "JPEG_QUALITY=90",
                                    "BIGTIFF=IF_SAFER", "NUM_THREADS=ALL_CPUS"])
    os.replace(partial, path)
    os.remove(base)
    truth = dict(path=path, size_px=size_px, gsd_m=gsd_m, n_cars=info["n_cars"])
    with open(truth_path, "w") as f:
        json.dump(truth, f)
    return truth


def huge_sparse_image() -> dict:
    """100,000 x 100,000 px, 3 bands, sparse: no block is stored, every pixel reads 0."""
    from osgeo import gdal, osr

    gdal.UseExceptions()
    path = os.path.join(OUT_DIR, f"memory_{HUGE_PX}px_sparse.tif")
    if not os.path.exists(path):
        os.makedirs(OUT_DIR, exist_ok=True)
        dataset = gdal.GetDriverByName("GTiff").Create(
            path, HUGE_PX, HUGE_PX, 3, gdal.GDT_Byte, ["TILED=YES", "SPARSE_OK=TRUE", "COMPRESS=DEFLATE", "BIGTIFF=YES"])
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(32652)
        dataset.SetProjection(srs.ExportToWkt())
        dataset.SetGeoTransform((500000.0, 0.5, 0.0, 4700000.0, 0.0, -0.5))
        dataset = None
    return dict(path=path, size_px=HUGE_PX, gsd_m=0.001, n_cars=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10240, help="side of the fine images in px (default 10240: 105 MP)")
    parser.add_argument("--cases", default="fine05,fine10,huge", help="comma-separated: fine05, fine10, huge")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds allowed per run")
    a = parser.parse_args()
    cases = [c.strip() for c in a.cases.split(",") if c.strip()]
    launcher = Launcher()  # before this process grows
    images = {}
    t0 = time.perf_counter()
    for case in cases:
        images[case] = {"fine05": lambda: fine_image(a.size, 0.05), "fine10": lambda: fine_image(a.size, 0.10),
                        "huge": huge_sparse_image}[case]()
    print(f"images ready in {time.perf_counter() - t0:.0f} s (bench/out/)")

    work = tempfile.mkdtemp(prefix="railwatch-memory-")
    try:
        env = qgis_process_env(work)
        rows = []
        for case in cases:
            image = images[case]
            command = [QGIS_PROCESS, "--json", "run", "railwatch:detectrailcars", "--", f"INPUT={image['path']}",
                       f"OUTPUT={os.path.join(work, case + '.gpkg')}"]
            if case == "huge":
                command.append("GSD=0.001")
            code, out, err, seconds, peak = launcher.run(command, env, a.timeout)
            count = None
            if code == 0:
                count = int(json.loads(out[out.index("{"):])["results"]["COUNT"])
            reason = "" if code == 0 else (err.strip().splitlines() or ["?"])[-1][:200]
            rows.append(dict(case=case, megapixels=image["size_px"] ** 2 / 1e6, gsd_m=image["gsd_m"], seconds=seconds,
                             peak_rss_mb=peak, exit_code=code, count=count, n_true=image["n_cars"], reason=reason))
            print(f"{case}: exit {code}, {seconds:.0f} s, peak RSS {peak:.0f} MB, {count} cars of {image['n_cars']} {reason}",
                  flush=True)
    finally:
        launcher.close()
        shutil.rmtree(work, ignore_errors=True)

    print()
    print("| case | image | m per pixel | exit | cars found / true | seconds | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['megapixels']:,.0f} MP | {r['gsd_m']:g} | {r['exit_code']} | "
              f"{r['count']} / {r['n_true']} | {r['seconds']:.0f} | {r['peak_rss_mb']:.0f} MB |")
    worst = max(r["peak_rss_mb"] for r in rows)
    print(f"\nhighest peak RSS {worst:.0f} MB: {'under' if worst < TARGET_PEAK_RSS_MB else 'OVER'} the 1 GB target")


if __name__ == "__main__":
    main()
