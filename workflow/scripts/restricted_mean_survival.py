"""Rule restricted_mean_survival: cohort + IPTW weights -> RMST per group and differences vs the reference."""
import pandas as pd

from gistlm.effect_measures import rmst_unadjusted, rmst_weighted
from gistlm.propensity import read_scores, weighted_cohort
from gistlm.provenance import recorded

with recorded(snakemake):
    params = snakemake.params
    cohort = pd.read_parquet(snakemake.input.cohort)
    weighted = weighted_cohort(cohort, read_scores(snakemake.input.scores))
    pd.concat([
        rmst_unadjusted(cohort, params.labels, params.reference, params.horizons, params.alpha),
        rmst_weighted(weighted, weighted["weight"].to_numpy(), params.labels, params.reference, params.horizons),
    ], ignore_index=True).to_csv(snakemake.output.rmst, index=False)
