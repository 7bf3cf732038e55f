"""The patient ledger against the raw patients file, the Excel-safe CSVs, and the clean stop of
a cohort with nothing to compare (issue 10: no silent wrong answers)."""

import numpy as np
import pandas as pd
import pytest

from gistlm.cohort.analysis_cohort import build_analysis_cohort, check_groups_estimable, check_someone_eligible
from gistlm.cohort.eligibility import apply_criteria
from gistlm.extract.errors import ExtractError
from gistlm.extract.spreadsheets import neutralise, read_csv, restore, write_csv, write_table
from gistlm.quality.ledger import LedgerImbalance, ledger_entries, patient_ledger, raw_entry_count


def verdicts_of(ids, eligible=True):
    return pd.DataFrame({"patient_id": ids, "eligible": eligible, "step": None, "reason": None})


NO_QUARANTINE = pd.DataFrame(columns=["patient_id", "reasons"])


def test_raw_entries_are_distinct_ids_as_written_plus_each_row_without_an_id():
    raw = pd.DataFrame({"patient_id": ["NA", " NA", "na", "P1", "", "  ", "1.0", "1"]})
    # NA and " NA" are one id; na, 1.0 and 1 are ids of their own; two rows have no id
    assert raw_entry_count(raw) == 5 + 2


def test_ledger_entries_name_a_row_without_an_id_by_file_and_line():
    patients = pd.DataFrame({"source_row": [2, 3, 4, 7], "patient_id": ["A", None, "A", None]})
    assert ledger_entries(patients, "x/patients.csv").tolist() == [
        "A",
        "x/patients.csv line 3",
        "x/patients.csv line 7",
    ]


def test_a_ledger_short_of_the_raw_file_does_not_balance():
    ids = pd.Series(["A", "B"])
    ledger = patient_ledger(ids, NO_QUARANTINE, verdicts_of(ids), ids, raw_total=2)
    assert len(ledger) == 2
    # the raw file held a third patient that ingestion lost: the stage fails
    with pytest.raises(LedgerImbalance, match="it has 2 entries but the raw patients file"):
        patient_ledger(ids, NO_QUARANTINE, verdicts_of(ids), ids, raw_total=3)


def test_csv_cells_that_excel_would_run_are_neutralised_and_read_back_exactly(tmp_path):
    values = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx", "\rx", "'=x", "''-y", "'plain", "ok", "", None]
    frame = pd.DataFrame({"value": values, "row": range(len(values))})
    written = neutralise(frame)["value"].tolist()
    assert written[:8] == ['\'=HYPERLINK("http://x")', "'+1", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "''=x", "'''-y"]
    assert written[8:11] == ["'plain", "ok", ""]
    write_csv(frame, tmp_path / "cases.csv")
    text = (tmp_path / "cases.csv").read_text()
    assert "\n=" not in text and ",=" not in text
    back = read_csv(tmp_path / "cases.csv", dtype={"value": str}, keep_default_na=False)
    assert back["value"].tolist() == [*values[:-1], ""]
    assert back["row"].tolist() == list(range(len(values)))


def test_only_cells_beginning_like_a_formula_are_neutralised_whatever_the_column_holds():
    # columns are first scanned joined (by a NUL): a formula character inside a cell, after
    # a NUL in a cell, or among numbers must neither be missed nor change a plain cell
    frame = pd.DataFrame(
        {
            "plain": ["a=b", "x+1", None, "PT-1", "ok"],
            "nul": ["a\x00=b", "b", "c", None, "=d"],
            "mixed": [1, "=x", 2.5, None, "y"],
            "numbers": [1.0, -2.0, 3.0, 4.0, 5.0],
        }
    )
    written = neutralise(frame)
    assert written["plain"].tolist() == ["a=b", "x+1", None, "PT-1", "ok"]
    assert written["nul"].tolist() == ["a\x00=b", "b", "c", None, "'=d"]
    assert written["mixed"].tolist() == [1, "'=x", 2.5, None, "y"]
    assert written["numbers"].tolist() == [1.0, -2.0, 3.0, 4.0, 5.0]
    assert restore(written).equals(frame)


@pytest.mark.parametrize("lineterminator", ["\n", "\r\n"])
def test_write_table_writes_pandas_bytes(tmp_path, lineterminator):
    floats = [0.1, 1e-05, 1e16, 1.5e-300, -0.0, 100.0, np.nan, np.inf, 1 / 3, 123456789.125, 2.0**60, -7.5]
    text = ["a", 'say "hi"', "x,y", "line\nbreak", "cr\rx", "", None, "tab\tx", "é", " lead", np.nan, "PT-1"]
    frame = pd.DataFrame(
        {
            "patient_id": text,
            "weight": floats,
            "count": range(-3, 9),
            "included": [True, False] * 6,
            'odd "name", here': np.arange(12, dtype=np.uint8),
        }
    )
    frame.to_csv(tmp_path / "pandas.csv", index=False, lineterminator=lineterminator)
    write_table(frame, tmp_path / "ours.csv", lineterminator)
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    # text categories (the groups) as their labels; types pandas writes its own way go to
    # pandas: nullable integers, number categories, a single column
    others = [frame.astype({"patient_id": "category"}), frame.astype({"count": "Int64"})]
    others += [frame.astype({"count": "category"}), frame[["weight"]]]
    for other in others:
        other.to_csv(tmp_path / "pandas.csv", index=False, lineterminator=lineterminator)
        write_table(other, tmp_path / "ours.csv", lineterminator)
        assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


def test_write_table_formats_repeated_values_once_and_keeps_their_signs(tmp_path):
    # each distinct value is formatted once: 0.0 and -0.0 compare equal but print apart,
    # and a NaN of another bit pattern is still an empty cell
    other_nan = np.array([0x7FF8000000000001], dtype=np.int64).view(np.float64)[0]
    floats = [0.0, -0.0, 0.5, np.nan, -0.0, 0.0, other_nan, 0.5, np.inf, -np.inf, 1e-300, -0.0]
    frame = pd.DataFrame(
        {"score": floats, "count": [3, -3, 0, 3, 2**40, 0, -3, 3, 1, 1, 0, 7], "id": list("abcabcabcabc")}
    )
    frame.to_csv(tmp_path / "pandas.csv", index=False)
    write_table(frame, tmp_path / "ours.csv")
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    assert (tmp_path / "ours.csv").read_text().splitlines()[1:3] == ["0.0,3,a", "-0.0,-3,b"]


def test_no_eligible_patient_is_one_message():
    with pytest.raises(ExtractError) as error:
        check_someone_eligible(0, 270, "results/cohort/attrition.csv")
    assert str(error.value) == "0 of 270 patients are eligible; see results/cohort/attrition.csv."
    check_someone_eligible(1, 270, "results/cohort/attrition.csv")


def test_a_group_without_patients_or_deaths_is_one_paragraph(tiny_extract, typed_extract, rules, settings):
    # tiny extract: P01 IM alive, P02 IM+HR dead, P03 IM+RFA/TACE alive
    tables, _ = typed_extract(tiny_extract)
    verdicts = apply_criteria(tables, rules)
    cohort = build_analysis_cohort(tables, verdicts["patient_id"], settings)
    labels = [*settings["groups"]["labels"], "IM+SBRT"]
    with pytest.raises(ExtractError) as error:
        check_groups_estimable(cohort, labels, "IM", "results/cohort/attrition.csv")
    message = str(error.value)
    assert message.startswith(
        "the 3 eligible patients cannot be compared by group: IM has no deaths among its "
        "1 patients; IM+RFA/TACE has no deaths among its 1 patients; IM+SBRT has no patients."
    )
    assert "\n" not in message and "results/cohort/attrition.csv" in message
    check_groups_estimable(cohort[cohort["group"] == "IM+HR"], ["IM+HR"], "IM+HR", "a.csv")
