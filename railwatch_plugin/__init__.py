"""RailWatch: find, count and baseline railcars on satellite and aerial images.

Nothing here imports QGIS at module level, so ``railwatch_plugin.core`` can be
used (and tested) without QGIS.
"""


def classFactory(iface):  # noqa: N802 (QGIS's name)
    """QGIS entry point; imports lazily so a missing dependency cannot break start-up."""
    from .plugin import RailWatchPlugin

    return RailWatchPlugin(iface)
