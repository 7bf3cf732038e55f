"""The workflow's data stages run in-process, as the rule scripts chain them, for fast tests."""

from pathlib import Path

import pandas as pd
from study_config import CONFIG

from gistlm.cohort.analysis_cohort import build_analysis_cohort
from gistlm.cohort.eligibility import apply_criteria
from gistlm.extract.ingestion import read_raw_table, type_raw_table
from gistlm.quality.ledger import ledger_entries, patient_ledger, raw_entry_count
from gistlm.quality.validation import validate_extract

REPO = Path(__file__).resolve().parents[1]
TABLES = ["patients", "liver_metastases", "treatments", "follow_up"]
DEFAULT_EXTRACT = {table: REPO / "resources" / "extract" / f"{table}.csv" for table in TABLES}


def run_data_stages(paths: dict, encoding: str = "utf-8") -> dict:
    """Ingestion -> validation -> eligibility -> analysis cohort -> ledger, like the rules."""
    typed, conversions, raw = {}, {}, {}
    for table, path in paths.items():
        raw[table] = read_raw_table(path, table, encoding)
        typed[table], conversions[table] = type_raw_table(raw[table], table)
    validated, failures, quarantine = validate_extract(
        typed, conversions, pd.Timestamp(CONFIG["validation"]["latest_date"]), str(paths["patients"])
    )
    verdicts = apply_criteria(validated, CONFIG["eligibility"])
    settings = {key: CONFIG[key] for key in ["groups", "outcome", "covariate_cutoffs"]}
    cohort = build_analysis_cohort(validated, verdicts.loc[verdicts["eligible"], "patient_id"], settings)
    raw_ids = ledger_entries(typed["patients"], str(paths["patients"]))
    ledger = patient_ledger(raw_ids, quarantine, verdicts, cohort["patient_id"], raw_entry_count(raw["patients"]))
    return {"cohort": cohort, "ledger": ledger, "failures": failures, "quarantine": quarantine, "raw_ids": raw_ids}
