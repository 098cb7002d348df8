"""Where an image's date is found: metadata first, then the file name."""

from __future__ import annotations

import datetime

from railwatch_plugin.algorithms.acquired_date import acquired_date, date_in_text


def test_tiff_datetime_tag():
    assert acquired_date({"TIFFTAG_DATETIME": "2023:10:05 03:12:00"}, "scene.tif") == datetime.date(2023, 10, 5)


def test_imagery_domain_beats_file_name():
    found = acquired_date({"IMAGERY:ACQUISITIONDATETIME": "2021-06-30T02:11:09Z"}, "/data/yard_2019-01-01.tif")
    assert found == datetime.date(2021, 6, 30)


def test_vendor_acquisition_date_item():
    assert acquired_date({"ACQUISITION_START_DATE": "2020/04/17"}, None) == datetime.date(2020, 4, 17)
    assert acquired_date({"PRODUCT_ACQUISITION_DATE": "20200417"}, None) == datetime.date(2020, 4, 17)


def test_file_name_dates():
    assert acquired_date({}, "/x/tumangang_2023-10-05.tif") == datetime.date(2023, 10, 5)
    assert acquired_date({}, "/x/S2_20190612_T52.jp2") == datetime.date(2019, 6, 12)
    assert acquired_date({}, "/x/yard.tif") is None


def test_impossible_dates_and_long_numbers_are_not_dates():
    assert date_in_text("scene_2023-02-30.tif") is None
    assert date_in_text("id_1202310051.tif") is None
    assert date_in_text("bad_2023-02-30_then_2022-12-01.tif") == datetime.date(2022, 12, 1)
