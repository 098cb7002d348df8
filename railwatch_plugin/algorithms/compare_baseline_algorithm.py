"""``railwatch:comparebaseline``: set a railcar count against the site's earlier counts.

The figures and the sentence come from ``core.baseline`` and the report from ``report``;
this module only reads the tables, checks the input and writes the outputs.
"""

from __future__ import annotations

import datetime as dt

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputBoolean,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QCoreApplication, QDate, QDateTime, QVariant

from ..core.baseline import compare_with_baseline, parse_observation_date
from ..report import write_html_report
from .base import RailWatchAlgorithm
from .destinations import check_destinations, removing_new_files_on_failure, tidy_if_csv
from .history_reading import find_field, read_current_table, read_history
from .input_checks import input_table_problem, unreadable_number


# (name in the results, field name in OUTPUT, QVariant type, attribute of BaselineComparison)
FIGURES = (
    ("BASELINE_N", "baseline_n", QVariant.LongLong, "n"),
    ("BASELINE_MAX", "baseline_max", QVariant.LongLong, "max"),
    ("BASELINE_MEAN", "baseline_mean", QVariant.Double, "mean"),
    ("BASELINE_MEDIAN", "baseline_median", QVariant.Double, "median"),
    ("BASELINE_STD", "baseline_std", QVariant.Double, "std"),
    ("RATIO_TO_MAX", "ratio_to_max", QVariant.Double, "ratio_to_max"),
    ("RATIO_TO_MEAN", "ratio_to_mean", QVariant.Double, "ratio_to_mean"),
    ("ZSCORE", "zscore", QVariant.Double, "zscore"),
    ("PERCENTILE", "percentile", QVariant.Double, "percentile"),
    ("UNPRECEDENTED", "unprecedented", QVariant.Bool, "unprecedented"),
)


def _qdate(day):
    return QDate(day.year, day.month, day.day) if day is not None else QVariant()


class CompareBaselineAlgorithm(RailWatchAlgorithm):
    GROUP = ("Baseline", "baseline")
    HISTORY = "HISTORY"
    DATE_FIELD = "DATE_FIELD"
    COUNT_FIELD = "COUNT_FIELD"
    CURRENT_COUNT = "CURRENT_COUNT"
    CURRENT = "CURRENT"
    CURRENT_DATE = "CURRENT_DATE"
    BASELINE_YEARS = "BASELINE_YEARS"
    OUTPUT = "OUTPUT"
    OUTPUT_HTML = "OUTPUT_HTML"
    SUMMARY = "SUMMARY"

    def tr(self, text):
        return QCoreApplication.translate("CompareBaselineAlgorithm", text)

    def name(self):
        return "comparebaseline"

    def displayName(self):  # noqa: N802
        return self.tr("Compare a count with its baseline")

    def shortHelpString(self):  # noqa: N802
        return self.tr(
            "Is today's railcar count unusual for this site? Sets the count against the site's earlier "
            "counts (the baseline) and writes the figures, one sentence an analyst can paste, and an "
            "HTML report with a chart.\n\n"
            "The baseline is every HISTORY row dated strictly before the current date (and within "
            "BASELINE_YEARS of it when given). Rows without a date or count are skipped and listed in "
            "the log. Where a row has a reviewed_count (a site log or count table after an analyst's review in "
            "the RailWatch panel), that count is used instead of the automatic one. Figures: number of observations, highest, mean, median, sample standard deviation "
            "(n-1), ratios of the current count to the highest and to the mean, z-score, percentile "
            "(percent of earlier counts below the current one plus half of those equal to it), and "
            "UNPRECEDENTED (true only when the count is above every earlier one).\n\n"
            "The current count is CURRENT_COUNT, or else read from CURRENT, a count table written by "
            "Detect railcars: its whole-image row when it has one, otherwise the sum of its AOI rows. "
            "The current date is CURRENT_DATE, else CURRENT's acquired date, else today.\n\n"
            "Example sentence: \"73 railcars on 2023-10-05: 3.7 times the highest count (20) in 5 years "
            "of 42 observations; unprecedented.\""
        )

    def initAlgorithm(self, config=None):  # noqa: N802
        history = QgsProcessingParameterFeatureSource(
            self.HISTORY, self.tr("History of earlier counts"), [QgsProcessing.TypeVector]
        )
        history.setHelp(
            self.tr(
                "Table or layer of earlier observations, one row per image: a date and a count. A CSV "
                "loaded as a table works, as does the output of Count railcars across dated images."
            )
        )
        date_field = QgsProcessingParameterField(
            self.DATE_FIELD, self.tr("Date field"), "acquired", self.HISTORY, optional=True
        )
        date_field.setHelp(
            self.tr(
                "Field holding each image's date (a date, or text such as 2023-10-05, 2023/10/05, "
                "20231005 or an ISO date-time). Default 'acquired', or 'date' when there is no 'acquired'."
            )
        )
        count_field = QgsProcessingParameterField(
            self.COUNT_FIELD, self.tr("Count field"), "count", self.HISTORY, optional=True
        )
        count_field.setHelp(self.tr("Field holding the number of railcars seen in each image. Default 'count'."))
        current_count = QgsProcessingParameterNumber(
            self.CURRENT_COUNT, self.tr("Current count"), QgsProcessingParameterNumber.Integer, None, optional=True
        )
        current_count.setHelp(
            self.tr("The count to judge. Leave empty to read it from CURRENT; when both are given this one wins.")
        )
        current = QgsProcessingParameterFeatureSource(
            self.CURRENT, self.tr("Current count table (from Detect railcars)"), [QgsProcessing.TypeVector],
            optional=True,
        )
        current.setHelp(
            self.tr(
                "The count table written by Detect railcars (fields scene, acquired, count, and aoi when "
                "counted per polygon). Its whole-image row is used when present, else its AOI rows are "
                "summed. Its acquired date is the current date unless CURRENT_DATE is given."
            )
        )
        current_date = QgsProcessingParameterString(self.CURRENT_DATE, self.tr("Current date"), optional=True)
        current_date.setHelp(
            self.tr(
                "Date of the current image, e.g. 2023-10-05. Empty: CURRENT's acquired date, else today. "
                "Only earlier observations count as baseline."
            )
        )
        years = QgsProcessingParameterNumber(
            self.BASELINE_YEARS, self.tr("Baseline window (years before the current date)"),
            QgsProcessingParameterNumber.Double, None, optional=True, minValue=0.0,
        )
        years.setHelp(self.tr("Only use observations this many years before the current date. Empty: all of them."))
        years.setFlags(years.flags() | QgsProcessingParameterNumber.FlagAdvanced)
        output = QgsProcessingParameterFeatureSink(
            self.OUTPUT, self.tr("Baseline figures"), QgsProcessing.TypeVector, optional=True, createByDefault=True
        )
        output.setHelp(
            self.tr(
                "Optional one-row table with the current count, the baseline figures and the sentence. "
                "Leave it out to get the verdict (SUMMARY and the figures) alone."
            )
        )
        html = QgsProcessingParameterFileDestination(
            self.OUTPUT_HTML, self.tr("HTML report"), self.tr("HTML files (*.html)"), optional=True
        )
        html.setHelp(
            self.tr("A self-contained HTML page: the sentence, the figures and a chart of counts over time.")
        )
        for parameter in (history, date_field, count_field, current_count, current, current_date, years, output, html):
            self.addParameter(parameter)

        for name, _, kind, _ in FIGURES:
            label = name.replace("_", " ").capitalize()
            if kind == QVariant.Bool:
                self.addOutput(QgsProcessingOutputBoolean(name, label))
            else:
                self.addOutput(QgsProcessingOutputNumber(name, label))
        self.addOutput(QgsProcessingOutputString(self.SUMMARY, self.tr("Summary sentence")))

    # --- running ------------------------------------------------------------------------

    def checkParameterValues(self, parameters, context):  # noqa: N802 (QGIS's name)
        problem = unreadable_number(parameters, (self.CURRENT_COUNT, self.BASELINE_YEARS))
        problem = problem or input_table_problem(parameters.get(self.HISTORY), self.HISTORY)
        problem = problem or input_table_problem(parameters.get(self.CURRENT), self.CURRENT)
        if problem:
            return False, problem
        return super().checkParameterValues(parameters, context)

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        problem = unreadable_number(parameters, (self.CURRENT_COUNT, self.BASELINE_YEARS))
        if problem:
            raise QgsProcessingException(problem)
        destinations = check_destinations(self, parameters, context, (self.OUTPUT, self.OUTPUT_HTML))
        results = removing_new_files_on_failure(destinations, lambda: self._compare(parameters, context, feedback))
        tidy_if_csv(destinations, self.OUTPUT, ["current_date", "first_date", "last_date"])
        return results

    def _compare(self, parameters, context, feedback) -> dict:
        history = self.parameterAsSource(parameters, self.HISTORY, context)
        if history is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, self.HISTORY))
        fields = history.fields()
        date_name = find_field(fields, self._field_name(parameters, self.DATE_FIELD, context), ["acquired", "date"],
                               "HISTORY", "DATE_FIELD")
        count_name = find_field(fields, self._field_name(parameters, self.COUNT_FIELD, context), ["count"],
                                "HISTORY", "COUNT_FIELD")
        scene_index = fields.lookupField("scene")

        current_count, current_date, counts_by_kind = self._current(parameters, context, feedback)
        years = parameters.get(self.BASELINE_YEARS)
        baseline_years = self.parameterAsDouble(parameters, self.BASELINE_YEARS, context) if years is not None else None

        feedback.pushInfo(f"Reading the history: dates from '{date_name}', counts from '{count_name}'.")
        rows = read_history(
            history, date_name, count_name, fields[scene_index].name() if scene_index >= 0 else None,
            progress=lambda fraction: feedback.setProgress(80 * fraction), is_canceled=feedback.isCanceled,
        )
        if feedback.isCanceled():
            return {}
        if rows.reviewed:
            feedback.pushInfo(f"{rows.reviewed} history row(s) have a reviewed count: it is used instead of '{count_name}'.")
        if rows.skipped:
            feedback.pushWarning(
                f"Skipped {len(rows.skipped)} history row(s) without a date or count: " + "; ".join(rows.skipped[:10])
            )
        if history.featureCount() > 0 and not rows.observations:
            raise QgsProcessingException(
                f"The history has no observations: none of its {history.featureCount()} rows has both a date "
                f"('{date_name}') and a count ('{count_name}'). Choose the right DATE_FIELD and COUNT_FIELD."
            )
        try:
            comparison = compare_with_baseline(rows.observations, current_count, current_date, baseline_years)
        except ValueError as error:
            message = str(error)
            raise QgsProcessingException(message[:1].upper() + message[1:]) from None
        feedback.pushInfo(comparison.summary)
        feedback.setProgress(85)

        results = {}
        html_path = self.parameterAsFileOutput(parameters, self.OUTPUT_HTML, context)
        if html_path:
            try:
                write_html_report(
                    html_path, comparison, counts_by_kind=counts_by_kind or None,
                    source_note=f"History: {history.sourceName()}.",
                )
            except OSError as error:
                raise QgsProcessingException(
                    f"OUTPUT_HTML: cannot write {html_path} ({error.strerror or error}). Choose a folder you can write to."
                ) from None
            results[self.OUTPUT_HTML] = html_path

        out_fields = self._output_fields()
        sink, sink_id = self.parameterAsSink(
            parameters, self.OUTPUT, context, out_fields, QgsWkbTypes.NoGeometry, QgsCoordinateReferenceSystem()
        )
        if sink is None and parameters.get(self.OUTPUT) not in (None, ""):
            raise QgsProcessingException(self.invalidSinkError(parameters, self.OUTPUT))
        if sink is not None:
            feature = QgsFeature(out_fields)
            feature.setAttributes(self._row(comparison))
            sink.addFeature(feature, QgsFeatureSink.FastInsert)
            results[self.OUTPUT] = sink_id
        feedback.setProgress(90)

        for name, _, _, attribute in FIGURES:
            results[name] = getattr(comparison, attribute)
        results[self.SUMMARY] = comparison.summary
        feedback.setProgress(100)
        return results

    def _field_name(self, parameters, name, context) -> str:
        chosen = self.parameterAsFields(parameters, name, context)
        return chosen[0] if chosen else ""

    def _current(self, parameters, context, feedback):
        """(count, date or None, counts per kind) from CURRENT_COUNT / CURRENT / CURRENT_DATE."""
        table = self.parameterAsSource(parameters, self.CURRENT, context) if parameters.get(self.CURRENT) else None
        if parameters.get(self.CURRENT) and table is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, self.CURRENT))
        from_table = read_current_table(table) if table is not None else None
        typed = parameters.get(self.CURRENT_COUNT)
        if typed is not None and typed != "":
            count = self.parameterAsDouble(parameters, self.CURRENT_COUNT, context)
            if count < 0 or not float(count).is_integer():
                raise QgsProcessingException(
                    f"CURRENT_COUNT is {count:g}; a railcar count is a whole number, 0 or more."
                )
            count = int(count)
        elif from_table is not None:
            count = from_table.count
            feedback.pushInfo(f"Current count {count}, from {from_table.how}.")
        else:
            raise QgsProcessingException(
                "There is no current count to compare: type it in CURRENT_COUNT, or give the count table "
                "written by Detect railcars as CURRENT."
            )

        current_date = self._typed_date(parameters, context)
        if current_date is None and from_table is not None:
            current_date = from_table.acquired
        if current_date is None:
            current_date = dt.date.today()
            feedback.pushWarning(
                f"No current date given; using today ({current_date.isoformat()}). Set CURRENT_DATE to the image's date."
            )
        kinds = from_table.counts_by_kind if from_table is not None and (typed is None or typed == "") else {}
        return count, current_date, kinds

    def _typed_date(self, parameters, context):
        raw = parameters.get(self.CURRENT_DATE)
        if isinstance(raw, (QDate, QDateTime, dt.date)):
            value = raw
        else:
            value = self.parameterAsString(parameters, self.CURRENT_DATE, context) if raw is not None else ""
        try:
            return parse_observation_date(value)
        except ValueError as error:
            raise QgsProcessingException(
                f"CURRENT_DATE: {error}. Give the image's date, e.g. 2023-10-05, or leave it empty."
            ) from None

    @staticmethod
    def _output_fields() -> QgsFields:
        fields = QgsFields()
        fields.append(QgsField("current_date", QVariant.Date))
        fields.append(QgsField("current_count", QVariant.LongLong))
        for _, field_name, kind, _ in FIGURES:
            fields.append(QgsField(field_name, kind))
        fields.append(QgsField("first_date", QVariant.Date))
        fields.append(QgsField("last_date", QVariant.Date))
        fields.append(QgsField("years_spanned", QVariant.Double))
        fields.append(QgsField("baseline_years", QVariant.Double))
        fields.append(QgsField("summary", QVariant.String))
        return fields

    @staticmethod
    def _row(c) -> list:
        figures = [getattr(c, attribute) for _, _, _, attribute in FIGURES]
        return (
            [_qdate(c.current_date), c.current_count]
            + [QVariant() if value is None else value for value in figures]
            + [
                _qdate(c.first_date),
                _qdate(c.last_date),
                round(c.years_spanned, 3),
                QVariant() if c.baseline_years is None else c.baseline_years,
                c.summary,
            ]
        )
