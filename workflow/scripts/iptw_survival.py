"""Rule iptw_survival: cohort + IPTW weights -> weighted KM, survival at fixed months, weighted Cox."""
import pandas as pd

from gistlm.disclosure import suppress_columns
from gistlm.propensity import (read_scores, weighted_cohort, weighted_cox, weighted_kaplan_meier_table,
                                weighted_survival_at)
from gistlm.provenance import recorded

with recorded(snakemake):
    params = snakemake.params
    data = weighted_cohort(pd.read_parquet(snakemake.input.cohort), read_scores(snakemake.input.scores))
    km = weighted_kaplan_meier_table(data, params.labels)
    suppress_columns(km, ["at_risk", "events"], params.min_cell_count).to_csv(snakemake.output.km, index=False)
    weighted_survival_at(km, params.survival_at_months).to_csv(snakemake.output.survival_at, index=False)
    suppress_columns(weighted_cox(data, params.labels, params.reference, params.alpha), ["n", "events"],
                     params.min_cell_count).to_csv(snakemake.output.cox, index=False)
