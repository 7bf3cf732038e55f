"""Validation: the pandera contracts plus cross-table rules, and the quarantine they imply.

Every failure is a row of `failure_cases` (table, row, column, check, value, patient_id),
`row` being the row in the raw file. A patient with any record-level failure is
quarantined whole, with every reason; the rest go on to eligibility. Missing data is a
data fault, not a clinical fact: a patient without a `liver_metastases` or `follow_up` row
is quarantined. A `patients` row without an id is quarantined as a ledger entry of its own
(its file and line). The quarantine holds patients of the `patients` table only: a row of
another table naming an unknown id stays a failure case, with its row.
"""

import pandas as pd
import pandera.pandas as pa

from gistlm.extract.schema import LOCAL_TREATMENTS, RAW_TABLES, TKI_DRUGS
from gistlm.quality.ledger import record_entry

FAILURE_COLUMNS = ["table", "row", "column", "check", "value", "patient_id"]
ONE_ROW_PER_PATIENT = ["patients", "liver_metastases", "follow_up"]


def schema_failures(table: str, typed: pd.DataFrame) -> pd.DataFrame:
    """All pandera failures of one typed table, collected lazily."""
    frame = typed.set_index("source_row", drop=False)
    try:
        RAW_TABLES[table].validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        # column-level failures (e.g. a wrong dtype) have no row: they name the column only
        rows = pd.to_numeric(cases["index"], errors="coerce").astype("Int64")
        return _failures(table, frame, rows, cases["column"], cases["check"], cases["failure_case"])
    return pd.DataFrame(columns=FAILURE_COLUMNS)


def parse_failures(conversions: pd.DataFrame, typed: pd.DataFrame) -> pd.DataFrame:
    """Cells that ingestion could not read, as failure cases."""
    bad = conversions[conversions["status"] == "unparseable"]
    frame = typed.set_index("source_row", drop=False)
    rows = bad["row"].astype("Int64")
    checks = "parse: " + bad["conversion"].astype(str)
    table = bad["table"].iloc[0] if len(bad) else ""
    return _failures(table, frame, rows, bad["column"], checks, bad["value"])


def cross_table_failures(tables: dict[str, pd.DataFrame], today: pd.Timestamp) -> pd.DataFrame:
    """Rules across tables: known patients, one row per patient, dates in order, consistency."""
    found = [
        _orphans(tables),
        *(_repeated_patients(name, tables[name]) for name in ONE_ROW_PER_PATIENT[1:]),
        *(_missing_rows(tables["patients"], name, tables[name]) for name in ONE_ROW_PER_PATIENT[1:]),
        _date_order(tables),
        _future_dates(tables, today),
        _vital_status(tables["follow_up"]),
        _tki_lines(tables["treatments"]),
    ]
    return _stack(found)


def quarantine(
    failures: pd.DataFrame, patient_ids: pd.Series | None = None, patients_file: str = "patients"
) -> pd.DataFrame:
    """One row per quarantined patient with all reasons, e.g. `patients.sex: isin(...)`.

    With `patient_ids` (those of the patients table), only those patients are quarantined,
    and each `patients` row without an id is an entry of its own, `<patients_file> line <row>`.
    """
    attributed = failures.dropna(subset=["patient_id"])
    if patient_ids is not None:
        attributed = attributed[attributed["patient_id"].isin(set(patient_ids.dropna()))]
        blank = failures[(failures["table"] == "patients") & failures["patient_id"].isna() & failures["row"].notna()]
        entries = [record_entry(patients_file, row) for row in blank["row"]]
        attributed = pd.concat([attributed, blank.assign(patient_id=entries)]) if len(blank) else attributed
    reasons = (
        attributed["table"]
        + "."
        + attributed["column"].astype(str)
        + " row "
        + attributed["row"].astype(str)
        + ": "
        + attributed["check"].astype(str)
    )
    grouped = reasons.groupby(attributed["patient_id"]).agg(lambda r: "; ".join(sorted(set(r))))
    return grouped.rename("reasons").rename_axis("patient_id").reset_index()


def _stack(found: list[pd.DataFrame]) -> pd.DataFrame:
    """Failure frames stacked (empty ones skipped, which pandas would warn about)."""
    found = [frame for frame in found if len(frame)]
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=FAILURE_COLUMNS)


def _failures(table, frame, rows, columns, checks, values) -> pd.DataFrame:
    """Failure rows, with the patient of each row looked up from the table."""
    ids = frame["patient_id"].reindex(rows.to_numpy()).to_numpy() if len(rows) else []
    out = pd.DataFrame(
        {
            "table": table,
            "row": rows.to_numpy(),
            "column": columns.to_numpy(),
            "check": checks.astype(str).to_numpy(),
            "value": values.astype(str).to_numpy(),
            "patient_id": ids,
        },
        columns=FAILURE_COLUMNS,
    )
    # a duplicated row number (duplicate patient ids) may map to several patients: keep each
    return out.explode("patient_id") if len(out) else out


def _table_failures(table: str, frame: pd.DataFrame, mask: pd.Series, column: str, check: str):
    hits = frame[mask]
    return pd.DataFrame(
        {
            "table": table,
            "row": hits["source_row"].astype("Int64"),
            "column": column,
            "check": check,
            "value": hits[column].astype(str),
            "patient_id": hits["patient_id"],
        },
        columns=FAILURE_COLUMNS,
    )


def _orphans(tables):
    known = set(tables["patients"]["patient_id"].dropna())
    found = [
        _table_failures(
            name,
            frame,
            frame["patient_id"].notna() & ~frame["patient_id"].isin(known),
            "patient_id",
            "patient_id not in patients",
        )
        for name, frame in tables.items()
        if name != "patients"
    ]
    return _stack(found)


def _repeated_patients(table, frame):
    repeated = frame["patient_id"].notna() & frame["patient_id"].duplicated(keep=False)
    return _table_failures(table, frame, repeated, "patient_id", "more than one row per patient")


def _missing_rows(patients, table, frame):
    """Patients without a row in a one-row-per-patient table: missing data, so quarantined
    (an id spelled differently there, e.g. in another case, is that table's orphan row)."""
    missing = patients["patient_id"].notna() & ~patients["patient_id"].isin(set(frame["patient_id"].dropna()))
    return _table_failures("patients", patients, missing, "patient_id", f"patient has a {table} row")


def _patient_dates(tables) -> pd.DataFrame:
    """Per patient, the key dates of each table side by side (first row if repeated)."""

    def first(name, columns):
        frame = tables[name].drop_duplicates("patient_id")
        return frame.set_index("patient_id")[columns + ["source_row"]].rename(columns={"source_row": f"{name}_row"})

    return (
        first("patients", ["birth_date", "primary_diagnosis_date"])
        .join(first("liver_metastases", ["lm_diagnosis_date"]), how="left")
        .join(first("follow_up", ["last_contact_date", "death_date"]), how="left")
    )


DATE_ORDER = [
    # (earlier, later, table holding `later`, strict)
    ("birth_date", "primary_diagnosis_date", "patients", True),
    ("primary_diagnosis_date", "lm_diagnosis_date", "liver_metastases", False),
    ("lm_diagnosis_date", "last_contact_date", "follow_up", False),
    ("lm_diagnosis_date", "death_date", "follow_up", False),
]


def _date_order(tables):
    dates = _patient_dates(tables)
    found = []
    for earlier, later, table, strict in DATE_ORDER:
        wrong = dates[later] <= dates[earlier] if strict else dates[later] < dates[earlier]
        hits = dates[wrong.fillna(False)].reset_index()
        found.append(
            pd.DataFrame(
                {
                    "table": table,
                    "row": hits[f"{table}_row"].astype("Int64"),
                    "column": later,
                    "check": f"{later} {'after' if strict else 'on or after'} {earlier}",
                    "value": hits[later].dt.strftime("%Y-%m-%d"),
                    "patient_id": hits["patient_id"],
                },
                columns=FAILURE_COLUMNS,
            )
        )
    found.append(_procedure_dates(tables["treatments"], dates))
    return _stack(found)


def _procedure_dates(treatments, dates):
    """Liver procedures between LM diagnosis and last contact; TKI start before its end."""
    merged = treatments.join(dates[["lm_diagnosis_date", "last_contact_date"]], on="patient_id")
    procedure = merged["treatment"].isin(LOCAL_TREATMENTS)
    before_lm = procedure & (merged["start_date"] < merged["lm_diagnosis_date"])
    after_contact = merged["start_date"] > merged["last_contact_date"]
    ends_early = merged["end_date"] < merged["start_date"]
    return _stack(
        [
            _table_failures("treatments", merged, before_lm, "start_date", "procedure on or after lm_diagnosis_date"),
            _table_failures(
                "treatments", merged, after_contact, "start_date", "start_date on or before last_contact_date"
            ),
            _table_failures("treatments", merged, ends_early, "end_date", "end_date on or after start_date"),
        ]
    )


def _future_dates(tables, today):
    found = []
    for name, frame in tables.items():
        for column in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[column]):
                found.append(_table_failures(name, frame, frame[column] > today, column, "date not in the future"))
    return _stack(found)


def _vital_status(follow_up):
    dead = follow_up["vital_status"] == "dead"
    return _stack(
        [
            _table_failures(
                "follow_up",
                follow_up,
                dead & follow_up["death_date"].isna(),
                "death_date",
                "death_date given when dead",
            ),
            _table_failures(
                "follow_up",
                follow_up,
                ~dead & follow_up["death_date"].notna(),
                "death_date",
                "death_date empty unless dead",
            ),
            _table_failures(
                "follow_up",
                follow_up,
                dead & follow_up["death_date"].notna() & (follow_up["death_date"] != follow_up["last_contact_date"]),
                "death_date",
                "death_date equals last_contact_date",
            ),
        ]
    )


def _tki_lines(treatments):
    tki = treatments["treatment"].isin(TKI_DRUGS)
    no_line = tki & treatments["line"].isna()
    lines = treatments[tki & treatments["line"].notna()]
    reused = lines.duplicated(["patient_id", "line"], keep=False).reindex(treatments.index, fill_value=False)
    line_on_procedure = ~tki & treatments["line"].notna()
    return _stack(
        [
            _table_failures("treatments", treatments, no_line, "line", "TKI row has a line number"),
            _table_failures("treatments", treatments, reused, "line", "TKI line number not reused"),
            _table_failures("treatments", treatments, line_on_procedure, "line", "procedure has no line number"),
        ]
    )


def validate_extract(
    tables: dict[str, pd.DataFrame],
    conversions: dict[str, pd.DataFrame],
    today: pd.Timestamp,
    patients_file: str = "patients",
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """Validated tables without quarantined patients, all failure cases, and the quarantine.

    `patients_file` (the raw file as configured) names the ledger entry of a row without an id.
    """
    found = [schema_failures(name, frame) for name, frame in tables.items()]
    found += [parse_failures(conversions[name], frame) for name, frame in tables.items()]
    found.append(cross_table_failures(tables, today))
    failures = _stack(found).sort_values(
        ["table", "row", "column", "check"], na_position="first", kind="stable", ignore_index=True
    )
    quarantined = quarantine(failures, tables["patients"]["patient_id"], patients_file)
    # rows of quarantined patients, of orphan ids and without an id go no further
    kept = set(tables["patients"]["patient_id"].dropna()) - set(quarantined["patient_id"])
    validated = {name: frame[frame["patient_id"].isin(kept)].reset_index(drop=True) for name, frame in tables.items()}
    return validated, failures, quarantined
