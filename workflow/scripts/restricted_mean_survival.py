"""Rule restricted_mean_survival: cohort + both weightings -> RMST per group and differences vs the reference."""

import pandas as pd

from gistlm.causal.effect_measures import rmst_unadjusted, rmst_weighted
from gistlm.causal.propensity import weighted_cohort
from gistlm.estimators.balancing import read_weights
from gistlm.provenance import recorded

with recorded(snakemake):
    params = snakemake.params
    cohort = pd.read_parquet(snakemake.input.cohort)
    weighted = []
    for weighting, table in read_weights(snakemake.input.weights).items():
        data = weighted_cohort(cohort, table)
        weighted.append(
            rmst_weighted(data, data["weight"].to_numpy(), params.labels, params.reference, params.horizons).assign(
                method=weighting
            )
        )
    pd.concat(
        [rmst_unadjusted(cohort, params.labels, params.reference, params.horizons, params.alpha), *weighted],
        ignore_index=True,
    ).to_csv(snakemake.output.rmst, index=False)
