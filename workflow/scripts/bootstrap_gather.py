"""Rule bootstrap_gather: every chunk's replicates and the cohort's own estimates -> full-data
weighted estimates with percentile CIs (none where too many replicates are degenerate)."""

import pandas as pd

from gistlm.causal.bootstrap import percentile_intervals, read_bootstrap_table
from gistlm.provenance import recorded

with recorded(snakemake):
    params = snakemake.params
    replicates = pd.concat([read_bootstrap_table(path) for path in snakemake.input.chunks], ignore_index=True)
    estimates = read_bootstrap_table(snakemake.input.estimates)
    percentile_intervals(replicates, estimates, params.alpha, params.max_degenerate_share).to_csv(
        snakemake.output.intervals, index=False
    )
