"""Rule bootstrap_estimates: analysis cohort -> the IPTW estimates of the cohort itself, by the
bootstrap's own code (the point estimates of its percentile intervals)."""

import pandas as pd

from gistlm.causal.bootstrap import cohort_estimates
from gistlm.provenance import recorded

with recorded(snakemake):
    params = snakemake.params
    estimates = cohort_estimates(
        pd.read_parquet(snakemake.input.cohort), params.labels, params.reference, params.settings
    )
    estimates.to_csv(snakemake.output.estimates, index=False)
