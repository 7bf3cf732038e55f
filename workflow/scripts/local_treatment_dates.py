"""Rule local_treatment_dates: validated treatments + analysis cohort -> timing of each local treatment."""

import pandas as pd

from gistlm.causal.immortal_time import local_treatment_dates
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
    dates.to_csv(snakemake.output.dates, index=False)
