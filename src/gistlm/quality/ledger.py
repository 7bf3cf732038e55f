"""The patient ledger: every raw patient analysed, excluded or quarantined, with the reason.

Nothing may be lost between the raw extract and the analysis table, so the ledger is
checked against the raw `patients` file as written (its distinct ids, plus one entry per row
without an id), against the ids ingestion read from it, and against the rows of the analysis
cohort; a mismatch fails the stage.
"""

import pandas as pd

STATUSES = ["analysed", "excluded", "quarantined"]


def record_entry(patients_file: str, row) -> str:
    """The ledger entry of a `patients` row without an id: its file and the line an editor shows."""
    return f"{patients_file} line {int(row)}"


class LedgerImbalance(Exception):
    """Patients were lost or counted twice between the raw extract and the analysis."""


def ledger_entries(patients: pd.DataFrame, patients_file: str) -> pd.Series:
    """The entries one site's ingested `patients` table owes the ledger: each distinct id,
    and each row without an id under its own name (see record_entry)."""
    ids = patients["patient_id"]
    blank = [record_entry(patients_file, row) for row in patients.loc[ids.isna(), "source_row"]]
    return pd.concat([ids.dropna().drop_duplicates(), pd.Series(blank, dtype=object)], ignore_index=True)


def raw_entry_count(raw_patients: pd.DataFrame) -> int:
    """Ledger entries a reader of the raw `patients` cells counts: the distinct ids as written
    (surrounding spaces aside), plus one per row whose id is blank."""
    ids = raw_patients["patient_id"].astype(str).str.strip()
    return ids[ids != ""].nunique() + int((ids == "").sum())


def patient_ledger(
    raw_ids: pd.Series,
    quarantine: pd.DataFrame,
    verdicts: pd.DataFrame,
    analysed_ids: pd.Series,
    raw_total: int | None = None,
) -> pd.DataFrame:
    """One row per distinct raw patient: patient_id, status, reason.

    `raw_ids` are the entries of the ingested tables (ledger_entries), `raw_total` the count
    read from the raw files themselves (raw_entry_count).
    """
    quarantined = quarantine.assign(status="quarantined", reason=quarantine["reasons"])
    judged = verdicts.assign(
        status=verdicts["eligible"].map({True: "analysed", False: "excluded"}),
        reason=verdicts["step"].fillna("eligible") + ": " + verdicts["reason"].fillna("all criteria met"),
    )
    columns = ["patient_id", "status", "reason"]
    ledger = pd.concat([quarantined[columns], judged[columns]], ignore_index=True)
    check_balance(ledger, raw_ids, analysed_ids, raw_total)
    return ledger.sort_values("patient_id", ignore_index=True)


def check_balance(
    ledger: pd.DataFrame, raw_ids: pd.Series, analysed_ids: pd.Series, raw_total: int | None = None
) -> None:
    """Raise LedgerImbalance unless each raw patient has exactly one status."""
    raw = set(raw_ids.dropna())
    problems = []
    if raw_total is not None and len(ledger) != raw_total:
        problems.append(
            f"it has {len(ledger)} entries but the raw patients file(s) hold {raw_total} "
            "(distinct ids plus rows without an id)"
        )
    if not ledger["patient_id"].is_unique:
        problems.append(f"{ledger['patient_id'].duplicated().sum()} patient(s) have two statuses")
    if missing := raw - set(ledger["patient_id"]):
        problems.append(f"{len(missing)} raw patient(s) have no status, e.g. {sorted(missing)[:3]}")
    if unknown := set(ledger["patient_id"]) - raw:
        problems.append(f"{len(unknown)} ledger patient(s) are not in the raw extract")
    analysed = set(ledger.loc[ledger["status"] == "analysed", "patient_id"])
    if analysed != set(analysed_ids):
        problems.append(
            f"{len(analysed ^ set(analysed_ids))} patient(s) differ between the ledger and the analysis cohort"
        )
    if problems:
        raise LedgerImbalance("The patient ledger does not balance: " + "; ".join(problems) + ".")


def ledger_counts(ledger: pd.DataFrame) -> pd.DataFrame:
    """Patients per status, every status listed, with the raw total."""
    counts = ledger["status"].value_counts().reindex(STATUSES, fill_value=0)
    return pd.DataFrame({"status": [*STATUSES, "raw patients"], "patients": [*counts.to_list(), len(ledger)]})
