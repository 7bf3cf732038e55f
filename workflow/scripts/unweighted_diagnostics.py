"""Rule unweighted_diagnostics: analysis cohort and treatment dates -> whether each unweighted
comparison (naive, time-varying, landmarks) has the deaths per group to be interpretable."""

import pandas as pd

from gistlm.causal.diagnostics import unweighted_gates
from gistlm.causal.immortal_time import read_dates
from gistlm.provenance import recorded

with recorded(snakemake):
    params = snakemake.params
    cohort = pd.read_parquet(snakemake.input.cohort)
    dates = read_dates(snakemake.input.dates, cohort, [])
    gates = unweighted_gates(cohort, dates, params.groups, params.landmarks, params.diagnostics)
    gates.to_csv(snakemake.output.diagnostics, index=False)
