"""Speed and memory of the whole detection, next to GDAL just reading the file.

    .venv/bin/python bench/speed.py [--size 16000] [--gsd 0.5] [--workers 2]
    .venv/bin/python bench/speed.py --size 4000          # quick run
    .venv/bin/python bench/speed.py --profile            # also cProfile one yard tile

Generates (once) a 3-band JPEG-compressed tiled GeoTIFF of --size x --size px
with synthetic rail yards (railwatch_synth.write_big_raster) into bench/out/,
then measures, in the same run and each in a fresh process:

* GDAL read: every window the detector would read (same tile grid, same
  GdalTileSource as the plugin), nothing else. This is the floor: the detector
  cannot be faster than reading its input.
* detection: detect_railcars over that GdalTileSource, reading included.

Each phase runs in its own subprocess so its peak RSS (getrusage ru_maxrss) is
its own, not inherited from the generator or the other phase. "RSS at start"
is the resident size after the imports (Python, numpy, OpenCV, GDAL, qgis.core
for raster_reading), before any pixel is read.

Issue 2 targets: >= 30 MP/s on 2 cores; peak RSS < 1 GB whatever the size.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

OUT_DIR = os.path.join(ROOT, "bench", "out")
TARGET_MP_PER_S = 30.0
TARGET_PEAK_RSS_MB = 1024.0


# ---------------------------------------------------------------- helpers

def peak_rss_mb() -> float:
    """Peak resident set of this process (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads (what the run costs,
    whatever else the machine is doing)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def current_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def raster_paths(size_px: int, gsd_m: float):
    stem = os.path.join(OUT_DIR, f"speed_{size_px}px_{gsd_m:g}m")
    return stem + ".tif", stem + "_truth.json"


def detector_tiles(width: int, height: int, gsd_m: float, params):
    """The windows detect_railcars reads, computed the way it computes them."""
    from railwatch_plugin.core import tile_grid
    from railwatch_plugin.core.detect import tile_layout

    tile_px, overlap_px = tile_layout(gsd_m, params)
    return list(tile_grid(width, height, tile_px, overlap_px)), tile_px, overlap_px


def open_source(path: str, cache_mb):
    """The plugin's GDAL tile source over bands 1-3 (what open_raster picks for RGB)."""
    from osgeo import gdal

    from railwatch_plugin.algorithms.raster_reading import GdalTileSource

    if cache_mb is not None:
        gdal.SetCacheMax(int(cache_mb) * 1024 * 1024)
    dataset = gdal.Open(path, gdal.GA_ReadOnly)
    if dataset is None:
        raise SystemExit(f"GDAL cannot open {path}: {gdal.GetLastErrorMsg()}")
    return GdalTileSource(dataset, [1, 2, 3]), gdal.GetCacheMax() / (1024 * 1024)


# ---------------------------------------------------------------- phases (each in its own process)

def phase_generate(a) -> dict:
    from railwatch_synth import write_big_raster

    tif, truth = raster_paths(a.size, a.gsd)
    os.makedirs(OUT_DIR, exist_ok=True)
    partial = tif + ".partial.tif"
    t0 = time.perf_counter()
    info = write_big_raster(partial, a.size, a.size, gsd_m=a.gsd, seed=a.seed, compress="JPEG")
    seconds = time.perf_counter() - t0
    os.replace(partial, tif)
    info["path"] = tif
    info["gsd_m"] = a.gsd
    info["seed"] = a.seed
    with open(truth, "w") as f:
        json.dump(info, f)
    return dict(seconds=seconds, n_cars=info["n_cars"], peak_rss_mb=peak_rss_mb())


def phase_read(a) -> dict:
    from railwatch_plugin.core import DetectionParams

    source, cache_mb = open_source(a.path, a.gdal_cache_mb)
    tiles, tile_px, overlap_px = detector_tiles(source.width, source.height, a.gsd, DetectionParams())
    rss_start, load_before, cpu0 = current_rss_mb(), os.getloadavg()[0], cpu_seconds()
    t0 = time.perf_counter()
    checksum = 0
    for c0, r0, cols, rows, _ in tiles:
        window = source.read(c0, r0, cols, rows)
        checksum += int(window.data[0, 0, 0])  # touch the pixels so nothing is lazily skipped
    seconds = time.perf_counter() - t0
    cpu_s, load = cpu_seconds() - cpu0, (load_before, os.getloadavg()[0])
    return dict(seconds=seconds, cpu_s=cpu_s, load=load, tiles=len(tiles), tile_px=tile_px,
                overlap_px=overlap_px, gdal_cache_mb=cache_mb, rss_start_mb=rss_start, peak_rss_mb=peak_rss_mb())


def phase_detect(a) -> dict:
    from types import SimpleNamespace

    from bench.scoring import match
    from railwatch_plugin.core import DetectionParams, detect_railcars

    source, cache_mb = open_source(a.path, a.gdal_cache_mb)
    rss_start, load_before, cpu0 = current_rss_mb(), os.getloadavg()[0], cpu_seconds()
    t0 = time.perf_counter()
    result = detect_railcars(source, a.gsd, DetectionParams(), workers=a.workers)
    seconds = time.perf_counter() - t0
    cpu_s = cpu_seconds() - cpu0
    load = (load_before, os.getloadavg()[0])
    with open(a.truth) as f:
        truth = [SimpleNamespace(**c) for c in json.load(f)["cars"]]
    score, _ = match(result.cars, truth, a.gsd)
    return dict(seconds=seconds, cpu_s=cpu_s, load=load, tiles=result.tiles_done, found=len(result.cars),
                matched=score.tp, n_true=len(truth), warnings=result.warnings, gdal_cache_mb=cache_mb,
                rss_start_mb=rss_start, peak_rss_mb=peak_rss_mb())


def phase_profile(a) -> dict:
    """cProfile detect_in_tile_net (the per-tile detector, on this thread) on one
    tile holding a yard and on one of countryside only, in this fresh process."""
    import cProfile
    import io
    import pstats

    from railwatch_plugin.core import DetectionParams
    from railwatch_plugin.core.frame_net import load_frame_net
    from railwatch_plugin.core.net_detector import detect_in_tile_net

    source, _ = open_source(a.path, a.gdal_cache_mb)
    params = DetectionParams()
    tiles, _, _ = detector_tiles(source.width, source.height, a.gsd, params)
    with open(a.truth) as f:
        yards = json.load(f)["yards"]

    def overlaps_yard(tile, centre_only):
        c0, r0, cols, rows, _ = tile
        for y in yards:
            if centre_only:
                cx, cy = y["col_px"] + y["width_px"] / 2, y["row_px"] + y["height_px"] / 2
                if c0 <= cx < c0 + cols and r0 <= cy < r0 + rows:
                    return True
            elif c0 < y["col_px"] + y["width_px"] and y["col_px"] < c0 + cols and \
                    r0 < y["row_px"] + y["height_px"] and y["row_px"] < r0 + rows:
                return True
        return False

    picks = [(label, next(t for t in tiles if test(t))) for label, test in (
        ("tile with a yard", lambda t: overlaps_yard(t, True)),
        ("tile of countryside only", lambda t: not overlaps_yard(t, False)),
    ) if any(test(t) for t in tiles)]
    reports = []
    for label, (c0, r0, cols, rows, _) in picks:
        window = source.read(c0, r0, cols, rows)
        rss_before = current_rss_mb()
        t0 = time.perf_counter()
        profiler = cProfile.Profile()
        profiler.enable()
        cars = detect_in_tile_net(load_frame_net(), window.data, window.valid, (a.gsd, a.gsd), params)
        profiler.disable()
        seconds = time.perf_counter() - t0
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(a.profile_lines)
        reports.append(dict(label=f"{label} at {c0},{r0} ({cols}x{rows} px, {len(cars)} cars before merging)",
                            seconds=seconds, mp_per_s=cols * rows / 1e6 / seconds, rss_before_mb=rss_before,
                            peak_rss_mb=peak_rss_mb(), text=text.getvalue()))
    return dict(reports=reports, peak_rss_mb=peak_rss_mb())


PHASES = {"generate": phase_generate, "read": phase_read, "detect": phase_detect, "profile": phase_profile}


# ---------------------------------------------------------------- orchestration

def run_phase(name: str, a, extra=()) -> dict:
    """Run one phase in a fresh interpreter; its last stdout line is JSON."""
    cmd = [sys.executable, os.path.abspath(__file__), "--phase", name, "--size", str(a.size), "--gsd", str(a.gsd),
           "--seed", str(a.seed), "--workers", str(a.workers), "--profile-lines", str(a.profile_lines)]
    if a.gdal_cache_mb is not None:
        cmd += ["--gdal-cache-mb", str(a.gdal_cache_mb)]
    cmd += list(extra)
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"phase {name} failed (exit {done.returncode}):\n{done.stdout}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def existing_raster(size_px: int, gsd_m: float, seed: int):
    """The generated raster and its truth, when both exist with this size, GSD and seed."""
    tif, truth = raster_paths(size_px, gsd_m)
    if not (os.path.exists(tif) and os.path.exists(truth)):
        return None
    with open(truth) as f:
        info = json.load(f)
    made_with = (info.get("width_px"), info.get("height_px"), info.get("gsd_m"), info.get("seed"))
    return (tif, truth) if made_with == (size_px, size_px, gsd_m, seed) else None


def print_table(a, tif, read, det, n_true):
    mp = a.size * a.size / 1e6
    file_mb = os.path.getsize(tif) / 1e6
    read_rate = mp / read["seconds"]
    det_rate = mp / det["seconds"]
    print(f"RailWatch speed: {a.size} x {a.size} px = {mp:.1f} MP, 3-band uint8 JPEG tiled GeoTIFF, "
          f"GSD {a.gsd:g} m, file {file_mb:.1f} MB ({os.path.relpath(tif, ROOT)})")
    print(f"detector tiles: {read['tiles']} windows of {read['tile_px']} px, overlap {read['overlap_px']} px; "
          f"detection workers {a.workers}; GDAL cache max {read['gdal_cache_mb']:.0f} MB; "
          f"{os.cpu_count()} CPUs on this machine")
    print(f"{'phase':<16} {'seconds':>8} {'MP/s':>8} {'CPU s':>8} {'RSS at start MB':>16} {'peak RSS MB':>12} "
          f"{'load avg before/after':>22}")
    for name, phase, rate in (("GDAL read only", read, read_rate), ("detection", det, det_rate)):
        load = f"{phase['load'][0]:.1f} / {phase['load'][1]:.1f}"
        print(f"{name:<16} {phase['seconds']:>8.2f} {rate:>8.1f} {phase['cpu_s']:>8.1f} "
              f"{phase['rss_start_mb']:>16.0f} {phase['peak_rss_mb']:>12.0f} {load:>22}")
    print(f"detection / read time: {det['seconds'] / read['seconds']:.1f}x "
          f"(CPU time {det['cpu_s'] / read['cpu_s']:.1f}x); a load average above {os.cpu_count()} means "
          f"other processes shared the CPUs and wall-clock figures are pessimistic")
    print(f"cars: found {det['found']} (confidence >= min), matching truth {det['matched']}, truth {n_true}")
    for w in det["warnings"]:
        print(f"detector warning: {w}")
    verdict_rate = "meets" if det_rate >= TARGET_MP_PER_S else "MISSES"
    verdict_rss = "meets" if max(read["peak_rss_mb"], det["peak_rss_mb"]) < TARGET_PEAK_RSS_MB else "MISSES"
    print(f"target >= {TARGET_MP_PER_S:.0f} MP/s: {verdict_rate} ({det_rate:.1f}); "
          f"target peak RSS < {TARGET_PEAK_RSS_MB:.0f} MB: {verdict_rss} ({det['peak_rss_mb']:.0f})")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=16000, help="raster width = height in px (default 16000)")
    ap.add_argument("--gsd", type=float, default=0.5, help="ground sample distance in m (default 0.5)")
    ap.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    ap.add_argument("--workers", type=int, default=2, help="detection threads (default 2)")
    ap.add_argument("--gdal-cache-mb", type=int, default=128,
                    help="GDAL block cache limit for both phases (default: GDAL's own, 5%% of RAM)")
    ap.add_argument("--regenerate", action="store_true", help="write the raster again even if it exists")
    ap.add_argument("--profile", action="store_true", help="also cProfile the detector on one tile")
    ap.add_argument("--profile-lines", type=int, default=15, help="lines of profile to print (default 15)")
    ap.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--truth", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    if a.phase:
        print(json.dumps(PHASES[a.phase](a)))
        return

    found = None if a.regenerate else existing_raster(a.size, a.gsd, a.seed)
    if found is None:
        print(f"generating a {a.size} x {a.size} px raster (once; kept in {os.path.relpath(OUT_DIR, ROOT)}) ...",
              flush=True)
        gen = run_phase("generate", a)
        print(f"generated in {gen['seconds']:.1f} s, {gen['n_cars']} cars, "
              f"generator peak RSS {gen['peak_rss_mb']:.0f} MB", flush=True)
        found = raster_paths(a.size, a.gsd)
    tif, truth = found
    with open(truth) as f:
        n_true = json.load(f)["n_cars"]
    files = ["--path", tif, "--truth", truth]
    read = run_phase("read", a, files)
    det = run_phase("detect", a, files)
    print_table(a, tif, read, det, n_true)
    if a.profile:
        prof = run_phase("profile", a, files)
        for r in prof["reports"]:
            print(f"\nprofile of detect_in_tile, {r['label']}: {r['seconds']:.2f} s, {r['mp_per_s']:.1f} MP/s "
                  f"on 1 thread; process RSS {r['rss_before_mb']:.0f} MB before, peak so far {r['peak_rss_mb']:.0f} MB")
            print(r["text"].strip())


if __name__ == "__main__":
    main()
