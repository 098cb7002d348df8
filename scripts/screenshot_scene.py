"""Stand-ins for the demo data, for scripts/screenshot_desktop.sh when demo/ is empty.

    screenshot_scene.py RASTER.tif       a generated rail yard dated 2023-10-05
    screenshot_scene.py --history X.csv  five years of counts whose maximum is 20
"""

import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

HISTORY = (
    ("2018-10-01", 12), ("2019-04-12", 8), ("2019-10-03", 20), ("2020-05-20", 11), ("2020-09-28", 15),
    ("2021-04-30", 6), ("2021-10-06", 9), ("2022-06-15", 14), ("2022-10-04", 18),
)


def main(argv):
    if argv[0] == "--history":
        with open(argv[1], "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["acquired", "count"])
            writer.writerows(HISTORY)
        return
    from railwatch_synth import make_yard, write_geotiff

    last_error = None
    for seed in (2, 3, 5, 7, 11):  # some layouts cannot hold 73 cars: try another
        try:
            scene = make_yard(seed, gsd_m=0.5, n_cars=73)
        except ValueError as exc:
            last_error = exc
            continue
        write_geotiff(scene, argv[0], acquired="2023-10-05")
        return
    raise SystemExit(f"could not generate a stand-in scene: {last_error}")


if __name__ == "__main__":
    main(sys.argv[1:])
