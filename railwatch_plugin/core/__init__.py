"""The detection core: numpy and OpenCV only, no QGIS, usable anywhere.

    from railwatch_plugin.core import detect_railcars_in_array, DetectionParams
    result = detect_railcars_in_array(image, gsd_m=0.5)
    print(len(result.cars))

Names are imported on first use, so modules that need no OpenCV (the baseline
statistics, the value types) stay importable when OpenCV is missing, and the
plugin can say what to install instead of failing to load.
"""

from importlib import import_module

_WHERE = {
    "detect_railcars": ".detect",
    "detect_railcars_in_array": ".detect",
    "merge_duplicates": ".detect",
    "tile_grid": ".detect",
    "CAR_KINDS": ".model",
    "METHOD_GAP": ".model",
    "METHOD_SINGLE": ".model",
    "DetectionParams": ".model",
    "DetectionResult": ".model",
    "Railcar": ".model",
    "ResolutionCheck": ".model",
    "gsd_xy": ".model",
    "check_resolution": ".resolution",
    "ArraySource": ".source",
    "TileSource": ".source",
    "Window": ".source",
}

__all__ = sorted(_WHERE)


def __getattr__(name):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name], __name__), name)
    globals()[name] = value
    return value
