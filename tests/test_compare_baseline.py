"""``railwatch:comparebaseline`` through real QGIS Processing: figures, outputs and error messages.

Histories are built here (memory layers and a CSV read by QGIS's delimited-text provider),
with figures worked out by hand or with Python's ``statistics`` (an independent
implementation of mean/median/sample std).
"""

from __future__ import annotations

import datetime as dt
import statistics

import pytest
from qgis.core import QgsFeature, QgsField, QgsProcessingException, QgsVectorLayer
from qgis.PyQt.QtCore import QDate, QVariant

ALG = "railwatch:comparebaseline"
TUMANGANG_SENTENCE = (
    "73 railcars on 2023-10-05: 3.7 times the highest count (20) in 5 years of 42 observations; unprecedented."
)


def table(fields, rows, name="history"):
    """A memory table (no geometry) with ``fields`` [(name, QVariant type)] and ``rows``."""
    layer = QgsVectorLayer("None", name, "memory")
    provider = layer.dataProvider()
    provider.addAttributes([QgsField(n, t) for n, t in fields])
    layer.updateFields()
    features = []
    for row in rows:
        feature = QgsFeature(layer.fields())
        feature.setAttributes(list(row))
        features.append(feature)
    provider.addFeatures(features)
    assert layer.featureCount() == len(rows)
    return layer


def tumangang_counts():
    return [
        (dt.date(2018, 10, 20) + dt.timedelta(days=43 * i), 5 + (i * 7) % 16, f"scene_{i:02d}") for i in range(42)
    ]


def tumangang_history():
    return table(
        [("scene", QVariant.String), ("acquired", QVariant.Date), ("count", QVariant.Int)],
        [(scene, QDate(day.year, day.month, day.day), count) for day, count, scene in tumangang_counts()],
    )


def run(processing, **parameters):
    parameters.setdefault("OUTPUT", "memory:")
    return processing.run(ALG, parameters)


@pytest.fixture()
def processing(railwatch_plugin):
    import processing as qgis_processing

    return qgis_processing


def test_algorithm_is_registered_with_help_and_icon(processing):
    from qgis.core import QgsApplication

    algorithm = QgsApplication.processingRegistry().algorithmById(ALG)

    assert algorithm is not None
    assert algorithm.displayName() == "Compare a count with its baseline"
    assert "percentile" in algorithm.shortHelpString()
    assert not algorithm.icon().isNull()
    for definition in algorithm.parameterDefinitions():
        assert definition.help(), definition.name()


def test_tumangang_case_gives_the_sentence_figures_table_and_report(processing, tmp_path):
    counts = [count for _, count, _ in tumangang_counts()]
    html_path = tmp_path / "report.html"

    results = run(
        processing,
        HISTORY=tumangang_history(),
        CURRENT_COUNT=73,
        CURRENT_DATE="2023-10-05",
        OUTPUT_HTML=str(html_path),
    )

    assert results["SUMMARY"] == TUMANGANG_SENTENCE
    assert results["BASELINE_N"] == 42
    assert results["BASELINE_MAX"] == 20
    assert results["BASELINE_MEAN"] == pytest.approx(statistics.mean(counts))
    assert results["BASELINE_MEDIAN"] == pytest.approx(statistics.median(counts))
    assert results["BASELINE_STD"] == pytest.approx(statistics.stdev(counts))
    assert results["RATIO_TO_MAX"] == pytest.approx(3.65)
    assert results["RATIO_TO_MEAN"] == pytest.approx(73 / statistics.mean(counts))
    assert results["ZSCORE"] == pytest.approx((73 - statistics.mean(counts)) / statistics.stdev(counts))
    assert results["PERCENTILE"] == 100.0
    assert results["UNPRECEDENTED"] is True

    output = results["OUTPUT"]
    rows = list(output.getFeatures())
    assert len(rows) == 1
    row = rows[0]
    assert row["summary"] == TUMANGANG_SENTENCE
    assert row["current_count"] == 73
    assert row["current_date"] == QDate(2023, 10, 5)
    assert row["baseline_n"] == 42
    assert row["baseline_max"] == 20
    assert row["unprecedented"] is True
    assert row["first_date"] == QDate(2018, 10, 20)
    assert row["last_date"] == QDate(2023, 8, 18)

    html = html_path.read_text(encoding="utf-8")
    assert results["OUTPUT_HTML"] == str(html_path)
    assert TUMANGANG_SENTENCE in html
    assert "<svg" in html and "</svg>" in html


CSV_HISTORY = """scene,date,count
a,2019/01/10,4
b,20200301,8
c,2021-06-15T10:20:00Z,8
cloudy,2021-09-01,
d,2022-02-01,12
e,2023-05-20 09:00:00,20
later,2024-01-01,99
"""


def csv_layer(path, text):
    path.write_text(text, encoding="utf-8")
    layer = QgsVectorLayer(f"file://{path}?delimiter=,&geomType=none", "csv history", "delimitedtext")
    assert layer.isValid()
    return layer


def count_table(rows, with_aoi=True):
    fields = [("scene", QVariant.String), ("acquired", QVariant.Date)]
    fields += [("aoi", QVariant.String)] if with_aoi else []
    fields += [("count", QVariant.Int), ("mean_confidence", QVariant.Double), ("n_box", QVariant.Int),
               ("n_tank", QVariant.Int)]
    return table(fields, rows, "counts")


def test_csv_history_with_date_field_and_a_current_count_table(processing, tmp_path):
    history = csv_layer(tmp_path / "history.csv", CSV_HISTORY)
    current = count_table(
        [
            ("yard.tif", QDate(2023, 10, 5), "north", 5, 0.8, 5, 0),
            ("yard.tif", QDate(2023, 10, 5), None, 12, 0.8, 9, 3),  # the whole image
            ("yard.tif", QDate(2023, 10, 5), "south", 7, 0.8, 4, 3),
        ]
    )
    html_path = tmp_path / "with_kinds.html"

    results = run(processing, HISTORY=history, CURRENT=current, OUTPUT_HTML=str(html_path))

    # baseline: 4, 8, 8, 12, 20 (the empty 'cloudy' row is skipped, 2024 is after the current date)
    assert results["BASELINE_N"] == 5
    assert results["BASELINE_MAX"] == 20
    assert results["BASELINE_MEAN"] == pytest.approx(10.4)
    assert results["BASELINE_MEDIAN"] == 8
    assert results["BASELINE_STD"] == pytest.approx(36.8**0.5)
    assert results["RATIO_TO_MAX"] == pytest.approx(0.6)
    assert results["PERCENTILE"] == pytest.approx(70.0)
    assert results["UNPRECEDENTED"] is False
    assert results["SUMMARY"] == (
        "12 railcars on 2023-10-05: within the baseline "
        "(highest 20, mean 10.4, 70th percentile of 5 observations over 4 years)."
    )
    html = html_path.read_text(encoding="utf-8")
    assert '<td>box</td><td class="number">9</td>' in html
    assert '<td>tank</td><td class="number">3</td>' in html


def test_current_table_without_a_whole_image_row_is_summed(processing, tmp_path):
    history = csv_layer(tmp_path / "history.csv", CSV_HISTORY)
    current = count_table(
        [
            ("yard.tif", QDate(2023, 10, 5), "north", 15, 0.8, 15, 0),
            ("yard.tif", QDate(2023, 10, 5), "south", 7, 0.8, 4, 3),
        ]
    )

    results = run(processing, HISTORY=history, CURRENT=current)

    assert results["SUMMARY"].startswith("22 railcars on 2023-10-05: 1.1 times the highest count (20)")
    assert results["UNPRECEDENTED"] is True


def test_baseline_years_and_typed_date_override(processing, tmp_path):
    history = csv_layer(tmp_path / "history.csv", CSV_HISTORY)

    results = run(processing, HISTORY=history, CURRENT_COUNT=12, CURRENT_DATE="20231005", BASELINE_YEARS=2)

    assert results["BASELINE_N"] == 2  # 2022-02-01 and 2023-05-20
    assert results["BASELINE_MEAN"] == pytest.approx(16.0)
    assert results["PERCENTILE"] == pytest.approx(25.0)
    assert results["ZSCORE"] == pytest.approx(-4 / 32**0.5)


def test_one_observation_gives_no_zscore(processing):
    history = table([("acquired", QVariant.Date), ("count", QVariant.Int)], [(QDate(2020, 1, 1), 5)])

    results = run(processing, HISTORY=history, CURRENT_COUNT=5, CURRENT_DATE="2023-10-05")

    assert results["BASELINE_STD"] == 0.0
    assert results["ZSCORE"] is None
    assert list(results["OUTPUT"].getFeatures())[0]["zscore"] in (None, QVariant())


def error_of(processing, **parameters) -> str:
    with pytest.raises(QgsProcessingException) as raised:
        run(processing, **parameters)
    return str(raised.value)


def test_error_empty_history(processing):
    empty = table([("acquired", QVariant.Date), ("count", QVariant.Int)], [])

    message = error_of(processing, HISTORY=empty, CURRENT_COUNT=5, CURRENT_DATE="2023-10-05")

    assert "history has no observations before 2023-10-05: it is empty" in message


def test_error_no_earlier_observation(processing):
    message = error_of(processing, HISTORY=tumangang_history(), CURRENT_COUNT=5, CURRENT_DATE="2015-01-01")

    assert "history has no observations before 2015-01-01: its 42 observations run from 2018-10-20" in message


def test_error_missing_fields_lists_the_fields(processing):
    history = table([("when", QVariant.Date), ("cars", QVariant.Int)], [(QDate(2020, 1, 1), 5)])

    no_date = error_of(processing, HISTORY=history, CURRENT_COUNT=5)
    no_count = error_of(processing, HISTORY=history, DATE_FIELD="when", CURRENT_COUNT=5)

    assert "no 'acquired' or 'date' field; it has: when, cars. Choose the right field in DATE_FIELD" in no_date
    assert "no 'count' field; it has: when, cars. Choose the right field in COUNT_FIELD" in no_count


def test_error_no_current_count(processing):
    message = error_of(processing, HISTORY=tumangang_history())

    assert "There is no current count to compare: type it in CURRENT_COUNT" in message


def test_error_unreadable_date_names_row_and_value(processing, tmp_path):
    history = csv_layer(tmp_path / "bad.csv", "date,count\n2020-01-01,3\n2021-01-01,4\n5 Oct 2022,6\n")

    message = error_of(processing, HISTORY=history, CURRENT_COUNT=5, CURRENT_DATE="2023-10-05")

    assert "History row 3: cannot read the date '5 Oct 2022'" in message
    assert "Write dates as 2023-10-05" in message


def test_error_negative_counts(processing, tmp_path):
    history = csv_layer(tmp_path / "negative.csv", "date,count\n2020-01-01,3\n2021-01-01,-4\n")

    in_history = error_of(processing, HISTORY=history, CURRENT_COUNT=5, CURRENT_DATE="2023-10-05")
    typed = error_of(processing, HISTORY=tumangang_history(), CURRENT_COUNT=-3, CURRENT_DATE="2023-10-05")

    assert "History row 2: the count is negative (-4)" in in_history
    assert "CURRENT_COUNT is -3; a railcar count is a whole number, 0 or more." in typed


def test_error_unreadable_current_date(processing):
    message = error_of(processing, HISTORY=tumangang_history(), CURRENT_COUNT=5, CURRENT_DATE="next Tuesday")

    assert "CURRENT_DATE: 'next Tuesday' is not a date" in message


def test_the_report_chart_renders_with_qt(processing, tmp_path):
    """Qt's own SVG renderer draws the chart: the current point red, earlier points blue."""
    import xml.etree.ElementTree as ET

    from qgis.PyQt.QtCore import QByteArray
    from qgis.PyQt.QtGui import QColor, QImage, QPainter
    from qgis.PyQt.QtSvg import QSvgRenderer

    html_path = tmp_path / "report.html"
    run(processing, HISTORY=tumangang_history(), CURRENT_COUNT=73, CURRENT_DATE="2023-10-05",
        OUTPUT_HTML=str(html_path))
    html = html_path.read_text(encoding="utf-8")
    svg_text = html[html.index("<svg") : html.index("</svg>") + len("</svg>")]
    circles = ET.fromstring(svg_text).findall("{http://www.w3.org/2000/svg}circle")
    current = next(c for c in circles if c.get("r") == "6.5")
    earlier = next(c for c in circles if c.get("r") == "3.5")

    renderer = QSvgRenderer(QByteArray(svg_text.encode("utf-8")))
    image = QImage(760, 360, QImage.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()

    assert renderer.isValid()
    red = QColor(image.pixel(round(float(current.get("cx"))), round(float(current.get("cy")))))
    blue = QColor(image.pixel(round(float(earlier.get("cx"))), round(float(earlier.get("cy")))))
    assert red.red() > 150 and red.green() < 80 and red.blue() < 80
    assert blue.blue() > 120 and blue.red() < 100


def test_reviewed_counts_are_used_where_history_rows_have_one(processing, tmp_path):
    """A site log written by 0.2.0, upgraded in place, then a run saved with its reviewed count."""
    import shutil

    from railwatch_plugin import site_log

    path = str(tmp_path / "tumangang.gpkg")
    shutil.copy(str(__import__("pathlib").Path(__file__).parent / "data" / "site_log_0.2.0.gpkg"), path)
    site_log.save_run(path, site_log.RunRecord(scene="tumangang_2023-01-10", acquired="2023-01-10", count=30,
                                               reviewed_count=19, review_finished=True))
    history = QgsVectorLayer(site_log.ogr_uri(path), "log", "ogr")
    assert history.isValid()
    results = run(processing, HISTORY=history, CURRENT_COUNT=25, CURRENT_DATE="2023-10-05")
    assert results["BASELINE_N"] == 3 and results["BASELINE_MAX"] == 19  # 12, 18 and the reviewed 19, not 30
    assert results["UNPRECEDENTED"] is True

    # An explicitly chosen count field is used as it is.
    results = run(processing, HISTORY=history, COUNT_FIELD="reviewed_count", CURRENT_COUNT=25, CURRENT_DATE="2023-10-05")
    assert results["BASELINE_N"] == 1


def test_current_table_with_a_reviewed_count_uses_it(processing):
    current = table(
        [("scene", QVariant.String), ("acquired", QVariant.Date), ("aoi", QVariant.String), ("count", QVariant.Int),
         ("reviewed_count", QVariant.Int)],
        [("s", QDate(2023, 10, 5), None, 68, 73)],
    )
    history = table([("acquired", QVariant.Date), ("count", QVariant.Int)], [(QDate(2022, 1, 1), 20)])
    results = run(processing, HISTORY=history, CURRENT=current)
    assert results["SUMMARY"].startswith("73 railcars on 2023-10-05")
