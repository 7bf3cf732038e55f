"""Rule patient_ledger: raw ids, quarantine, verdicts, analysis cohort -> the balanced ledger."""
import pandas as pd

from gistlm.ledger import ledger_counts, patient_ledger
from gistlm.provenance import recorded

with recorded(snakemake):
    raw_ids = pd.concat([pd.read_parquet(path, columns=["patient_id"])["patient_id"]
                         for path in snakemake.input.tables]).drop_duplicates()
    # text only: an id such as "007" or "NA" must stay as written
    quarantine = pd.read_csv(snakemake.input.quarantine, dtype=str, keep_default_na=False)
    ledger = patient_ledger(raw_ids, quarantine, pd.read_parquet(snakemake.input.verdicts),
                            pd.read_parquet(snakemake.input.cohort, columns=["patient_id"])["patient_id"])
    ledger.to_parquet(snakemake.output.ledger, index=False)
    ledger.to_csv(snakemake.output.csv, index=False)
    ledger_counts(ledger).to_csv(snakemake.output.counts, index=False)
