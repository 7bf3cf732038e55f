"""Rule data_quality_suite: analysis cohort -> expectation results + Data Docs."""

import pandas as pd

from gistlm.provenance import recorded
from gistlm.quality.expectations import run_suite, stop_on_critical

with recorded(snakemake):
    cohort = pd.read_parquet(snakemake.input.cohort)
    settings = {**snakemake.params.quality, "max_months": snakemake.params.max_months}
    results = run_suite(cohort, settings, snakemake.params.groups, snakemake.params.covariates, snakemake.output.docs)
    results.to_csv(snakemake.output.results, index=False)
    stop_on_critical(results, snakemake.input.cohort)
