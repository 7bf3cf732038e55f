"""Rule local_treatment_dates: validated treatments + analysis cohort -> timing of each local treatment."""

import pandas as pd

from gistlm.causal.immortal_time import local_treatment_dates
from gistlm.extract.spreadsheets import write_table
from gistlm.provenance import recorded

with recorded(snakemake):
    cohort = pd.read_parquet(snakemake.input.cohort)
    lm_dates = pd.read_parquet(snakemake.input.liver_metastases).set_index("patient_id")["lm_diagnosis_date"]
    dates = local_treatment_dates(
        pd.read_parquet(snakemake.input.treatments),
        lm_dates,
        cohort,
        snakemake.params.precedence,
        snakemake.params.days_per_month,
    )
    write_table(dates, snakemake.output.dates)  # patient-level: pandas' bytes, faster
