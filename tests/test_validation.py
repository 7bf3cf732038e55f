"""Validation: pandera contracts, cross-table rules, and the patient quarantine they imply.

Rows are file rows (header = row 1). In the tiny extract, patients / liver_metastases /
follow_up rows are P01 = 2, P02 = 3, P03 = 4; treatments rows are 2 P01 imatinib,
3 P02 imatinib, 4 P02 hepatic_resection, 5 P03 imatinib, 6 P03 sunitinib, 7 P03 rfa.
"""

import pandas as pd
import pytest

from gistlm.extract.ingestion import read_raw_table, type_raw_table
from gistlm.quality.validation import cross_table_failures, quarantine, schema_failures, validate_extract

TODAY = pd.Timestamp("2023-06-30")
ALL = {"P01", "P02", "P03"}


def append_row(frame, row):
    frame.loc[len(frame)] = [row.get(column, "") for column in frame.columns]


def cases(failures):
    return {(t, int(r), c, k) for t, r, c, k in failures[["table", "row", "column", "check"]].itertuples(index=False)}


# --- defects: (mutation of the raw extract, expected failure cases, quarantined patient) --


def bad_sex(f):
    f["patients"].loc[1, "sex"] = "X"


def duplicate_patient(f):
    append_row(f["patients"], f["patients"].iloc[2].to_dict())  # P03 again, row 5


def orphan_treatment(f):
    append_row(
        f["treatments"],
        {"patient_id": "P99", "treatment": "imatinib", "line": "1", "start_date": "2016-01-01", "dose_mg_day": "400"},
    )  # row 8


def no_lm_row(f):
    f["liver_metastases"].drop(index=1, inplace=True)  # P02


def no_follow_up_row(f):
    f["follow_up"].drop(index=2, inplace=True)  # P03


def two_lm_rows(f):
    append_row(f["liver_metastases"], f["liver_metastases"].iloc[0].to_dict())  # P01 again, row 5


def death_before_lm(f):
    # dead on the day of last contact, but before the LM diagnosis (2017-06-15)
    f["follow_up"].loc[1, ["last_contact_date", "death_date"]] = ["2017-01-01", "2017-01-01"]


def death_before_lm_contact_after(f):
    f["follow_up"].loc[1, "death_date"] = "2017-01-01"


def death_not_last_contact(f):
    f["follow_up"].loc[1, "death_date"] = "2021-04-01"


def dead_without_death_date(f):
    f["follow_up"].loc[1, "death_date"] = ""


def alive_with_death_date(f):
    f["follow_up"].loc[0, "death_date"] = "2022-12-01"


def procedure_before_lm(f):
    f["treatments"].loc[2, "start_date"] = "2017-01-01"


def tki_end_before_start(f):
    f["treatments"].loc[3, "end_date"] = "2014-12-01"


def tki_line_reused(f):
    f["treatments"].loc[4, "line"] = "1"


def tki_without_line(f):
    f["treatments"].loc[4, "line"] = ""


def date_in_future(f):
    f["follow_up"].loc[0, "last_contact_date"] = "2023-07-15"


def unparseable_birth_date(f):
    f["patients"].loc[0, "birth_date"] = "1955/13/45"


def lm_count_zero(f):
    f["liver_metastases"].loc[2, "lm_count"] = "0"


def lm_before_primary(f):
    f["liver_metastases"].loc[0, "lm_diagnosis_date"] = "2014-12-31"  # primary 2015-01-15


DEFECTS = {
    "bad sex code": (bad_sex, {("patients", 3, "sex", "isin(['M', 'F'])")}, "P02"),
    "duplicate patient_id": (
        duplicate_patient,
        {("patients", 4, "patient_id", "field_uniqueness"), ("patients", 5, "patient_id", "field_uniqueness")},
        "P03",
    ),
    "no liver_metastases row": (
        no_lm_row,
        {("patients", 3, "patient_id", "patient has a liver_metastases row")},
        "P02",
    ),
    "no follow_up row": (no_follow_up_row, {("patients", 4, "patient_id", "patient has a follow_up row")}, "P03"),
    "two liver_metastases rows": (
        two_lm_rows,
        {
            ("liver_metastases", 2, "patient_id", "more than one row per patient"),
            ("liver_metastases", 5, "patient_id", "more than one row per patient"),
        },
        "P01",
    ),
    "death (= last contact) before LM": (
        death_before_lm,
        {
            ("follow_up", 3, "last_contact_date", "last_contact_date on or after lm_diagnosis_date"),
            ("follow_up", 3, "death_date", "death_date on or after lm_diagnosis_date"),
            ("treatments", 3, "start_date", "start_date on or before last_contact_date"),
            ("treatments", 4, "start_date", "start_date on or before last_contact_date"),
        },
        "P02",
    ),
    "death before LM, contact after": (
        death_before_lm_contact_after,
        {
            ("follow_up", 3, "death_date", "death_date on or after lm_diagnosis_date"),
            ("follow_up", 3, "death_date", "death_date equals last_contact_date"),
        },
        "P02",
    ),
    "death_date != last contact": (
        death_not_last_contact,
        {("follow_up", 3, "death_date", "death_date equals last_contact_date")},
        "P02",
    ),
    "dead without death_date": (
        dead_without_death_date,
        {("follow_up", 3, "death_date", "death_date given when dead")},
        "P02",
    ),
    "alive with death_date": (
        alive_with_death_date,
        {("follow_up", 2, "death_date", "death_date empty unless dead")},
        "P01",
    ),
    "procedure before LM": (
        procedure_before_lm,
        {("treatments", 4, "start_date", "procedure on or after lm_diagnosis_date")},
        "P02",
    ),
    "TKI end before start": (
        tki_end_before_start,
        {("treatments", 5, "end_date", "end_date on or after start_date")},
        "P03",
    ),
    "TKI line reused": (
        tki_line_reused,
        {
            ("treatments", 5, "line", "TKI line number not reused"),
            ("treatments", 6, "line", "TKI line number not reused"),
        },
        "P03",
    ),
    "TKI without line": (tki_without_line, {("treatments", 6, "line", "TKI row has a line number")}, "P03"),
    "date after today": (date_in_future, {("follow_up", 2, "last_contact_date", "date not in the future")}, "P01"),
    "unparseable date": (
        unparseable_birth_date,
        {
            ("patients", 2, "birth_date", "not_nullable"),
            ("patients", 2, "birth_date", "parse: not a date (YYYY-MM-DD)"),
        },
        "P01",
    ),
    "lm_count out of range": (
        lm_count_zero,
        {("liver_metastases", 4, "lm_count", "greater_than_or_equal_to(1)")},
        "P03",
    ),
    "LM before primary diagnosis": (
        lm_before_primary,
        {("liver_metastases", 2, "lm_diagnosis_date", "lm_diagnosis_date on or after primary_diagnosis_date")},
        "P01",
    ),
}


def test_clean_extract_has_no_failures_and_no_quarantine(tiny_extract, typed_extract):
    tables, conversions = typed_extract(tiny_extract)
    validated, failures, quarantined = validate_extract(tables, conversions, TODAY)
    assert failures.empty
    assert quarantined.empty
    assert list(quarantined.columns) == ["patient_id", "reasons"]
    for name, table in tables.items():
        pd.testing.assert_frame_equal(validated[name], table)


def test_a_date_on_today_is_not_in_the_future(tiny_extract, typed_extract):
    tiny_extract["follow_up"].loc[2, "last_contact_date"] = "2023-06-30"
    tables, conversions = typed_extract(tiny_extract)
    _, failures, _ = validate_extract(tables, conversions, TODAY)
    assert failures.empty


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_each_defect_is_reported_and_quarantines_exactly_its_patient(defect, tiny_extract, typed_extract):
    mutate, expected, patient = DEFECTS[defect]
    mutate(tiny_extract)
    tables, conversions = typed_extract(tiny_extract)
    validated, failures, quarantined = validate_extract(tables, conversions, TODAY)

    assert cases(failures) == expected
    assert set(failures["patient_id"]) == {patient}
    assert list(quarantined["patient_id"]) == [patient]
    reasons = quarantined.loc[0, "reasons"].split("; ")
    assert sorted(reasons) == sorted(f"{t}.{c} row {r}: {k}" for t, r, c, k in expected)
    # the quarantined patient is gone from every table; the others keep all their rows
    for name, table in tables.items():
        assert patient not in set(validated[name]["patient_id"])
        kept = table[table["patient_id"] != patient].reset_index(drop=True)
        pd.testing.assert_frame_equal(validated[name], kept)
    assert set(validated["patients"]["patient_id"]) == ALL - {patient}


def test_several_defects_collect_every_reason_per_patient(tiny_extract, typed_extract):
    bad_sex(tiny_extract)  # P02
    dead_without_death_date(tiny_extract)  # P02
    tki_end_before_start(tiny_extract)  # P03
    tables, conversions = typed_extract(tiny_extract)
    validated, failures, quarantined = validate_extract(tables, conversions, TODAY)

    assert len(failures) == 3
    reasons = dict(zip(quarantined["patient_id"], quarantined["reasons"]))
    assert reasons == {
        "P02": "follow_up.death_date row 3: death_date given when dead; patients.sex row 3: isin(['M', 'F'])",
        "P03": "treatments.end_date row 5: end_date on or after start_date",
    }
    assert list(validated["patients"]["patient_id"]) == ["P01"]
    assert list(validated["treatments"]["source_row"]) == [2]
    # failures are sorted by table then row
    assert list(failures["table"]) == ["follow_up", "patients", "treatments"]


def test_failure_rows_are_file_rows_when_read_from_csv(tmp_path, tiny_extract, write_csv_extract):
    bad_sex(tiny_extract)
    tki_line_reused(tiny_extract)
    paths = write_csv_extract(tiny_extract, tmp_path)
    tables, conversions = {}, {}
    for name, path in paths.items():
        tables[name], conversions[name] = type_raw_table(read_raw_table(path, name), name)
    _, failures, _ = validate_extract(tables, conversions, TODAY)
    assert cases(failures) == DEFECTS["bad sex code"][1] | DEFECTS["TKI line reused"][1]
    # the values are the ones in the file
    assert failures.loc[failures["column"] == "sex", "value"].tolist() == ["X"]


def test_schema_failures_alone_name_table_row_column_and_value(tiny_extract, typed_extract):
    tiny_extract["patients"].loc[2, "primary_size_cm"] = "75"  # P03, le=60
    tables, _ = typed_extract(tiny_extract)
    failures = schema_failures("patients", tables["patients"])
    assert failures[["table", "row", "column", "check", "value", "patient_id"]].values.tolist() == [
        ["patients", 4, "primary_size_cm", "less_than_or_equal_to(60)", "75.0", "P03"]
    ]


def test_cross_table_failures_without_defects_is_empty(tiny_extract, typed_extract):
    tables, _ = typed_extract(tiny_extract)
    assert cross_table_failures(tables, TODAY).empty


def test_quarantine_ignores_failures_without_a_patient():
    failures = pd.DataFrame(
        {
            "table": ["patients", "patients"],
            "row": [pd.NA, 3],
            "column": ["sex", "sex"],
            "check": ["dtype('str')", "isin(['M', 'F'])"],
            "value": ["object", "X"],
            "patient_id": [None, "P02"],
        }
    )
    assert quarantine(failures).to_dict("records") == [
        {"patient_id": "P02", "reasons": "patients.sex row 3: isin(['M', 'F'])"}
    ]


def test_an_orphan_row_is_a_failure_case_but_no_quarantined_patient(tiny_extract, typed_extract):
    orphan_treatment(tiny_extract)
    tables, conversions = typed_extract(tiny_extract)
    validated, failures, quarantined = validate_extract(tables, conversions, TODAY)
    assert cases(failures) == {("treatments", 8, "patient_id", "patient_id not in patients")}
    # the ledger counts the patients file's ids: P99 is no patient of it
    assert quarantined.empty
    assert "P99" not in set(validated["treatments"]["patient_id"])
    assert set(validated["patients"]["patient_id"]) == ALL


def test_a_follow_up_id_differing_only_in_case_quarantines_the_patient(tiny_extract, typed_extract):
    tiny_extract["follow_up"].loc[1, "patient_id"] = "p02"
    tables, conversions = typed_extract(tiny_extract)
    validated, failures, quarantined = validate_extract(tables, conversions, TODAY)
    assert cases(failures) == {
        ("patients", 3, "patient_id", "patient has a follow_up row"),
        ("follow_up", 3, "patient_id", "patient_id not in patients"),
    }
    assert quarantined.to_dict("records") == [
        {"patient_id": "P02", "reasons": "patients.patient_id row 3: patient has a follow_up row"}
    ]
    assert set(validated["patients"]["patient_id"]) == {"P01", "P03"}


def test_a_patients_row_without_id_is_a_quarantine_entry_of_its_own(tiny_extract, typed_extract):
    tiny_extract["patients"].loc[1, "patient_id"] = "  "  # P02's row, file line 3
    tables, conversions = typed_extract(tiny_extract)
    validated, failures, quarantined = validate_extract(tables, conversions, TODAY, "extract/patients.csv")
    entries = dict(zip(quarantined["patient_id"], quarantined["reasons"]))
    assert entries["extract/patients.csv line 3"] == "patients.patient_id row 3: not_nullable"
    # P02's rows in the other tables now name no patient: failure cases, not patients
    assert set(entries) == {"extract/patients.csv line 3"}
    assert ("liver_metastases", 3, "patient_id", "patient_id not in patients") in cases(failures)
    assert list(validated["patients"]["patient_id"]) == ["P01", "P03"]


@pytest.mark.parametrize("spelling", ["NA", "NULL", "N/A", "nan", "#N/A", "null"])
def test_missing_value_spellings_are_ids_as_written(spelling, tiny_extract, typed_extract):
    for table in tiny_extract.values():
        table.loc[table["patient_id"] == "P02", "patient_id"] = spelling
    tables, conversions = typed_extract(tiny_extract)
    validated, failures, quarantined = validate_extract(tables, conversions, TODAY)
    assert failures.empty and quarantined.empty
    assert set(validated["patients"]["patient_id"]) == {"P01", spelling, "P03"}
    assert list(validated["treatments"]["patient_id"]).count(spelling) == 2
