"""Rule bootstrap_chunk: analysis cohort -> the IPTW estimates of one chunk of bootstrap replicates."""

import pandas as pd

from gistlm.causal.bootstrap import run_chunk
from gistlm.provenance import recorded

with recorded(snakemake):
    params, bootstrap = snakemake.params, snakemake.params.bootstrap
    replicates = run_chunk(
        pd.read_parquet(snakemake.input.cohort),
        params.labels,
        params.reference,
        params.settings,
        bootstrap["replicates"],
        bootstrap["chunks"],
        int(snakemake.wildcards.chunk),
        bootstrap["seed"],
    )
    replicates.to_csv(snakemake.output.replicates, index=False)
