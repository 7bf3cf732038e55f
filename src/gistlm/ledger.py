"""The patient ledger: every raw patient analysed, excluded or quarantined, with the reason.

Nothing may be lost between the raw extract and the analysis table, so the ledger is
checked against the distinct patient ids of the raw tables and the rows of the analysis
cohort; a mismatch fails the stage.
"""

import pandas as pd

STATUSES = ["analysed", "excluded", "quarantined"]


class LedgerImbalance(Exception):
    """Patients were lost or counted twice between the raw extract and the analysis."""


def patient_ledger(raw_ids: pd.Series, quarantine: pd.DataFrame, verdicts: pd.DataFrame,
                   analysed_ids: pd.Series) -> pd.DataFrame:
    """One row per distinct raw patient: patient_id, status, reason."""
    quarantined = quarantine.assign(status="quarantined", reason=quarantine["reasons"])
    judged = verdicts.assign(
        status=verdicts["eligible"].map({True: "analysed", False: "excluded"}),
        reason=verdicts["step"].fillna("eligible") + ": " + verdicts["reason"].fillna("all criteria met"),
    )
    columns = ["patient_id", "status", "reason"]
    ledger = pd.concat([quarantined[columns], judged[columns]], ignore_index=True)
    check_balance(ledger, raw_ids, analysed_ids)
    return ledger.sort_values("patient_id", ignore_index=True)


def check_balance(ledger: pd.DataFrame, raw_ids: pd.Series, analysed_ids: pd.Series) -> None:
    """Raise LedgerImbalance unless each raw patient has exactly one status."""
    raw = set(raw_ids.dropna())
    problems = []
    if not ledger["patient_id"].is_unique:
        problems.append(f"{ledger['patient_id'].duplicated().sum()} patient(s) have two statuses")
    if missing := raw - set(ledger["patient_id"]):
        problems.append(f"{len(missing)} raw patient(s) have no status, e.g. {sorted(missing)[:3]}")
    if unknown := set(ledger["patient_id"]) - raw:
        problems.append(f"{len(unknown)} ledger patient(s) are not in the raw extract")
    analysed = set(ledger.loc[ledger["status"] == "analysed", "patient_id"])
    if analysed != set(analysed_ids):
        problems.append(f"{len(analysed ^ set(analysed_ids))} patient(s) differ between the ledger "
                        "and the analysis cohort")
    if problems:
        raise LedgerImbalance("The patient ledger does not balance: " + "; ".join(problems) + ".")


def ledger_counts(ledger: pd.DataFrame) -> pd.DataFrame:
    """Patients per status, every status listed, with the raw total."""
    counts = ledger["status"].value_counts().reindex(STATUSES, fill_value=0)
    return pd.DataFrame({"status": [*STATUSES, "raw patients"],
                         "patients": [*counts.to_list(), len(ledger)]})
