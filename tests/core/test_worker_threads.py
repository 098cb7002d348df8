"""Tiles run side by side with OpenCV (and numpy's BLAS) on one thread each (no QGIS)."""

import cv2
import numpy as np
import pytest

from railwatch_plugin.core.detect import detect_railcars_in_array, one_thread_each


def test_opencv_runs_on_one_thread_while_tiles_run_in_parallel_and_is_restored_after():
    before = cv2.getNumThreads()
    cv2.setNumThreads(2)
    try:
        with one_thread_each(workers=2):
            assert cv2.getNumThreads() == 1
        assert cv2.getNumThreads() == 2
        with one_thread_each(workers=1):
            assert cv2.getNumThreads() == 2
    finally:
        cv2.setNumThreads(before)


def test_the_thread_counts_come_back_even_when_detection_fails():
    before = cv2.getNumThreads()
    cv2.setNumThreads(2)
    try:
        with pytest.raises(RuntimeError):
            with one_thread_each(workers=2):
                raise RuntimeError("a tile failed")
        assert cv2.getNumThreads() == 2
    finally:
        cv2.setNumThreads(before)


def test_blas_runs_on_one_thread_too_where_threadpoolctl_is_installed():
    threadpoolctl = pytest.importorskip("threadpoolctl", reason="scripts/setup.sh installs python3-threadpoolctl")

    def blas_threads():
        return {info["num_threads"] for info in threadpoolctl.threadpool_info()
                if info["user_api"] == "blas" and "opencv" not in info["filepath"]}

    np.ones((64, 64)) @ np.ones((64, 64))  # make sure numpy's BLAS is loaded
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        with one_thread_each(workers=2):
            assert blas_threads() == {1}
        assert blas_threads() == {2}
        detect_railcars_in_array(np.zeros((300, 300, 3), np.uint8), 0.5, workers=2)
        assert blas_threads() == {2}


def test_two_detections_at_once_leave_the_thread_count_as_it_was():
    """Overlapping contexts (two Processing tasks): the first saves, the last restores."""
    before = cv2.getNumThreads()
    cv2.setNumThreads(3)
    first, second = one_thread_each(workers=2), one_thread_each(workers=2)
    first.__enter__()
    second.__enter__()
    assert cv2.getNumThreads() == 1
    first.__exit__(None, None, None)
    assert cv2.getNumThreads() == 1  # the second detection still runs
    second.__exit__(None, None, None)
    assert cv2.getNumThreads() == 3
    cv2.setNumThreads(before)
