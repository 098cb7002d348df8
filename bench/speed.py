"""Speed and memory of the whole detection, next to GDAL just reading the file,
on plain and on realistic content.

    .venv/bin/python bench/speed.py [--size 16000] [--real-size 12000] [--gsd 0.5] [--workers 2]
    .venv/bin/python bench/speed.py --size 4000 --real-size 4000   # quick run
    .venv/bin/python bench/speed.py --content realistic            # one of the two
    .venv/bin/python bench/speed.py --profile            # also cProfile one yard tile

Two rasters, each generated once into bench/out/ (git-ignored):

* plain: a 3-band JPEG-compressed tiled GeoTIFF of --size x --size px with
  synthetic rail yards in quiet countryside (railwatch_synth.write_big_raster);
* realistic: a --real-size square mosaic of mirrored copies of the real yard
  scene in ../shared/real (fields, villages, roads and a yard in every copy,
  bench/real_mosaic.py), with its labelled cars. That imagery may not be
  redistributed: the mosaic stays in bench/out/, and without ../shared/real
  this part is skipped.

For each it measures, in the same run and each in a fresh process:

* GDAL read: every window the detector would read (same tile grid, same
  GdalTileSource as the plugin), nothing else. This is the floor: the detector
  cannot be faster than reading its input.
* detection: detect_railcars over that GdalTileSource, reading included.

Each phase runs in its own subprocess so its peak RSS (getrusage ru_maxrss) is
its own, not inherited from the generator or the other phase. "RSS at start"
is the resident size after the imports (Python, numpy, OpenCV, GDAL, qgis.core
for raster_reading), before any pixel is read.

Targets: >= 30 MP/s on plain content (issue 2), >= 5 MP/s on realistic
content (issue 15) on 2 cores; peak RSS < 1 GB whatever the size.
Compare CPU seconds where the machine is shared: wall-clock rates drop with
the load, CPU time much less.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

OUT_DIR = os.path.join(ROOT, "bench", "out")
TARGET_MP_PER_S = {"plain": 30.0, "realistic": 5.0}
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


def raster_paths(content: str, size_px: int, gsd_m: float):
    if content == "realistic":
        stem = os.path.join(OUT_DIR, f"speed_real_mosaic_{size_px}px")
    else:
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
    tif, truth = raster_paths(a.content, a.size, a.gsd)
    os.makedirs(OUT_DIR, exist_ok=True)
    partial = tif + ".partial.tif"
    t0 = time.perf_counter()
    if a.content == "realistic":
        from bench.real_mosaic import write_mosaic

        info = write_mosaic(partial, a.size)
    else:
        from railwatch_synth import write_big_raster

        info = write_big_raster(partial, a.size, a.size, gsd_m=a.gsd, seed=a.seed, compress="JPEG")
        info["gsd_m"] = a.gsd
        info["seed"] = a.seed
    seconds = time.perf_counter() - t0
    os.replace(partial, tif)
    info["path"] = tif
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
    from bench.real_mosaic import score
    from railwatch_plugin.core import DetectionParams, detect_railcars

    source, cache_mb = open_source(a.path, a.gdal_cache_mb)
    rss_start, load_before, cpu0 = current_rss_mb(), os.getloadavg()[0], cpu_seconds()
    t0 = time.perf_counter()
    result = detect_railcars(source, a.gsd, DetectionParams(), workers=a.workers)
    seconds = time.perf_counter() - t0
    cpu_s = cpu_seconds() - cpu0
    load = (load_before, os.getloadavg()[0])
    # The detector's peak, before scoring: matching 6,000 cars against 8,000
    # builds distance matrices of several hundred MB (it read 1.9 GB at first).
    peak_mb = peak_rss_mb()
    with open(a.truth) as f:
        truth = [dict(c, disputed=c.get("disputed", False)) for c in json.load(f)["cars"]]
    scored = score(result.cars, truth, a.gsd)  # disputed cars (real labels) are don't-cares
    return dict(seconds=seconds, cpu_s=cpu_s, load=load, tiles=result.tiles_done, found=scored.n_found,
                matched=scored.tp, n_true=scored.n_true, warnings=result.warnings, gdal_cache_mb=cache_mb,
                rss_start_mb=rss_start, peak_rss_mb=peak_mb)


def phase_profile(a) -> dict:
    """cProfile detect_in_tile_net (the per-tile detector, on this thread), in
    this fresh process: on plain content, one tile holding a yard and one of
    countryside only; on realistic content, the first --profile-tiles tiles
    together (a copy of the scene: fields, villages, roads, the yard)."""
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
        yards = json.load(f).get("yards", [])

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

    if a.content == "realistic":
        picks = [(f"the first {min(a.profile_tiles, len(tiles))} tiles", tiles[: a.profile_tiles])]
    else:
        picks = [(label, [next(t for t in tiles if test(t))]) for label, test in (
            ("tile with a yard", lambda t: overlaps_yard(t, True)),
            ("tile of countryside only", lambda t: not overlaps_yard(t, False)),
        ) if any(test(t) for t in tiles)]
    reports = []
    for label, group in picks:
        windows = [source.read(c0, r0, cols, rows) for c0, r0, cols, rows, _ in group]
        rss_before = current_rss_mb()
        n_cars = 0
        t0 = time.perf_counter()
        profiler = cProfile.Profile()
        profiler.enable()
        for window in windows:
            n_cars += len(detect_in_tile_net(load_frame_net(), window.data, window.valid, (a.gsd, a.gsd), params))
        profiler.disable()
        seconds = time.perf_counter() - t0
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(a.profile_lines)
        mp = sum(cols * rows for _, _, cols, rows, _ in group) / 1e6
        where = f"at {group[0][0]},{group[0][1]} ({group[0][2]}x{group[0][3]} px" if len(group) == 1 else f"({mp:.1f} MP"
        reports.append(dict(label=f"{label} {where}, {n_cars} cars before merging)",
                            seconds=seconds, mp_per_s=mp / seconds, rss_before_mb=rss_before,
                            peak_rss_mb=peak_rss_mb(), text=text.getvalue()))
    return dict(reports=reports, peak_rss_mb=peak_rss_mb())


PHASES = {"generate": phase_generate, "read": phase_read, "detect": phase_detect, "profile": phase_profile}


# ---------------------------------------------------------------- orchestration

def run_phase(name: str, a, content: str, size: int, extra=()) -> dict:
    """Run one phase in a fresh interpreter; its last stdout line is JSON."""
    cmd = [sys.executable, os.path.abspath(__file__), "--phase", name, "--content", content, "--size", str(size),
           "--gsd", str(a.gsd), "--seed", str(a.seed), "--workers", str(a.workers),
           "--profile-lines", str(a.profile_lines), "--profile-tiles", str(a.profile_tiles)]
    if a.gdal_cache_mb is not None:
        cmd += ["--gdal-cache-mb", str(a.gdal_cache_mb)]
    cmd += list(extra)
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"phase {name} failed (exit {done.returncode}):\n{done.stdout}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def existing_raster(content: str, size_px: int, gsd_m: float, seed: int):
    """The generated raster and its truth, when both exist with this size, GSD (and seed)."""
    tif, truth = raster_paths(content, size_px, gsd_m)
    if not (os.path.exists(tif) and os.path.exists(truth)):
        return None
    with open(truth) as f:
        info = json.load(f)
    made_with = (info.get("width_px"), info.get("height_px"), info.get("gsd_m"), info.get("seed", seed))
    return (tif, truth) if made_with == (size_px, size_px, gsd_m, seed) else None


DESCRIPTION = {
    "plain": "synthetic yards in quiet countryside, 3-band uint8 JPEG tiled GeoTIFF",
    "realistic": "mirrored copies of the real yard scene (fields, villages, roads, the yard), "
                 "3-band uint8 DEFLATE tiled GeoTIFF",
}


def measure(a, content: str, size: int) -> Optional[dict]:
    """Generate (once), then read and detect in fresh processes; None when skipped."""
    if content == "realistic":
        from bench.real_mosaic import REAL_DIR, yard_paths

        if yard_paths() is None:
            print(f"realistic content skipped: the real yard scene is not in {REAL_DIR}")
            return None
    found = None if a.regenerate else existing_raster(content, size, a.gsd, a.seed)
    if found is None:
        print(f"generating the {content} {size} x {size} px raster (once; kept in "
              f"{os.path.relpath(OUT_DIR, ROOT)}) ...", flush=True)
        gen = run_phase("generate", a, content, size)
        print(f"generated in {gen['seconds']:.1f} s, {gen['n_cars']} cars, "
              f"generator peak RSS {gen['peak_rss_mb']:.0f} MB", flush=True)
        found = raster_paths(content, size, a.gsd)
    tif, truth = found
    files = ["--path", tif, "--truth", truth]
    read = run_phase("read", a, content, size, files)
    det = run_phase("detect", a, content, size, files)
    prof = run_phase("profile", a, content, size, files) if a.profile else None
    return dict(content=content, size=size, tif=tif, read=read, det=det, prof=prof)


def print_table(a, m):
    content, size, tif, read, det = m["content"], m["size"], m["tif"], m["read"], m["det"]
    mp = size * size / 1e6
    file_mb = os.path.getsize(tif) / 1e6
    read_rate = mp / read["seconds"]
    det_rate = mp / det["seconds"]
    print(f"\n{content}: {size} x {size} px = {mp:.1f} MP, {DESCRIPTION[content]}, "
          f"GSD {a.gsd:g} m, file {file_mb:.1f} MB ({os.path.relpath(tif, ROOT)})")
    print(f"detector tiles: {read['tiles']} windows of {read['tile_px']} px, overlap {read['overlap_px']} px; "
          f"detection workers {a.workers}; GDAL cache max {read['gdal_cache_mb']:.0f} MB; "
          f"{os.cpu_count()} CPUs on this machine")
    print(f"{'phase':<16} {'seconds':>8} {'MP/s':>8} {'CPU s':>8} {'MP/CPU s':>9} {'RSS at start MB':>16} "
          f"{'peak RSS MB':>12} {'load avg before/after':>22}")
    for name, phase, rate in (("GDAL read only", read, read_rate), ("detection", det, det_rate)):
        load = f"{phase['load'][0]:.1f} / {phase['load'][1]:.1f}"
        print(f"{name:<16} {phase['seconds']:>8.2f} {rate:>8.1f} {phase['cpu_s']:>8.1f} {mp / phase['cpu_s']:>9.1f} "
              f"{phase['rss_start_mb']:>16.0f} {phase['peak_rss_mb']:>12.0f} {load:>22}")
    print(f"detection / read time: {det['seconds'] / read['seconds']:.1f}x "
          f"(CPU time {det['cpu_s'] / read['cpu_s']:.1f}x); a load average above {os.cpu_count()} means "
          f"other processes shared the CPUs and wall-clock figures are pessimistic")
    print(f"cars: found {det['found']} (confidence >= min), matching truth {det['matched']}, truth {det['n_true']}"
          + (" (agreed labels; detections on disputed ones left out)" if content == "realistic" else ""))
    for w in det["warnings"]:
        print(f"detector warning: {w}")
    target = TARGET_MP_PER_S[content]
    verdict_rate = "meets" if det_rate >= target else "MISSES"
    verdict_rss = "meets" if max(read["peak_rss_mb"], det["peak_rss_mb"]) < TARGET_PEAK_RSS_MB else "MISSES"
    print(f"target >= {target:g} MP/s: {verdict_rate} ({det_rate:.1f}; {mp / det['cpu_s']:.1f} MP per CPU second, "
          f"{2 * mp / det['cpu_s']:.1f} MP/s if both cores were ours); "
          f"target peak RSS < {TARGET_PEAK_RSS_MB:.0f} MB: {verdict_rss} ({det['peak_rss_mb']:.0f})")
    if m["prof"]:
        for r in m["prof"]["reports"]:
            print(f"\nprofile of detect_in_tile_net, {content}, {r['label']}: {r['seconds']:.2f} s, "
                  f"{r['mp_per_s']:.1f} MP/s on 1 thread; process RSS {r['rss_before_mb']:.0f} MB before, "
                  f"peak so far {r['peak_rss_mb']:.0f} MB")
            print(r["text"].strip())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--content", choices=("plain", "realistic", "both"), default="both",
                    help="which raster(s) to measure (default both)")
    ap.add_argument("--size", type=int, default=16000, help="plain raster width = height in px (default 16000)")
    ap.add_argument("--real-size", type=int, default=12000,
                    help="realistic mosaic width = height in px (default 12000: 144 MP)")
    ap.add_argument("--gsd", type=float, default=0.5, help="ground sample distance in m (default 0.5)")
    ap.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    ap.add_argument("--workers", type=int, default=2, help="detection threads (default 2)")
    ap.add_argument("--gdal-cache-mb", type=int, default=128,
                    help="GDAL block cache limit for both phases (default: GDAL's own, 5%% of RAM)")
    ap.add_argument("--regenerate", action="store_true", help="write the raster again even if it exists")
    ap.add_argument("--profile", action="store_true", help="also cProfile the detector on one tile")
    ap.add_argument("--profile-lines", type=int, default=15, help="lines of profile to print (default 15)")
    ap.add_argument("--profile-tiles", type=int, default=16, help="realistic tiles to profile (default 16)")
    ap.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--truth", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    if a.phase:
        print(json.dumps(PHASES[a.phase](a)))
        return

    if a.content == "realistic" and a.gsd != 0.5:
        raise SystemExit("the realistic mosaic is at the real yard's own 0.5 m")
    contents = [("plain", a.size), ("realistic", a.real_size)]
    done = [m for content, size in contents if a.content in (content, "both")
            for m in [measure(a, content, size)] if m is not None]
    for m in done:
        print_table(a, m)
    if len(done) == 2:
        plain, real = (m["det"] for m in done)
        mp_plain, mp_real = (m["size"] ** 2 / 1e6 for m in done)
        print(f"\nrealistic vs plain, this run: {mp_real / real['cpu_s']:.2f} vs {mp_plain / plain['cpu_s']:.2f} MP "
              f"per CPU second ({(mp_real / real['cpu_s']) / (mp_plain / plain['cpu_s']):.2f}x), "
              f"peak RSS {real['peak_rss_mb']:.0f} vs {plain['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
