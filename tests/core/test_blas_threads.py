"""Tiles run side by side with numpy's BLAS on one thread each (no QGIS)."""

import numpy as np
import pytest

from railwatch_plugin.core.detect import detect_railcars_in_array, one_blas_thread_each

threadpoolctl = pytest.importorskip("threadpoolctl", reason="scripts/setup.sh installs python3-threadpoolctl")


def _blas_threads():
    """Thread counts of numpy's BLAS (OpenCV's wheel brings its own single-threaded copy: not counted)."""
    return {info["num_threads"] for info in threadpoolctl.threadpool_info()
            if info["user_api"] == "blas" and "opencv" not in info["filepath"]}


def test_blas_runs_on_one_thread_while_tiles_run_in_parallel_and_is_restored_after():
    np.ones((64, 64)) @ np.ones((64, 64))  # make sure numpy's BLAS is loaded
    before = _blas_threads()
    assert before, "numpy's BLAS library was not found"
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        with one_blas_thread_each(workers=2):
            assert _blas_threads() == {1}
        assert _blas_threads() == {2}
        with one_blas_thread_each(workers=1):
            assert _blas_threads() == {2}
    assert _blas_threads() == before


def test_detection_leaves_the_blas_thread_count_as_it_found_it():
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        detect_railcars_in_array(np.zeros((300, 300, 3), np.uint8), 0.5, workers=2)
        assert _blas_threads() == {2}
