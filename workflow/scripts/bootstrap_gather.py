"""Rule bootstrap_gather: every chunk's replicates -> full-data weighted estimates with percentile CIs
(none where too many replicates are degenerate)."""

import pandas as pd

from gistlm.causal.bootstrap import cohort_estimates, percentile_intervals
from gistlm.provenance import recorded

with recorded(snakemake):
    params = snakemake.params
    replicates = pd.concat(
        [
            pd.read_csv(path, keep_default_na=False, na_values=[""], float_precision="round_trip")
            for path in snakemake.input.chunks
        ],
        ignore_index=True,
    )
    estimates = cohort_estimates(
        pd.read_parquet(snakemake.input.cohort), params.labels, params.reference, params.settings
    )
    percentile_intervals(replicates, estimates, params.alpha, params.max_degenerate_share).to_csv(
        snakemake.output.intervals, index=False
    )
