"""Rule iptw_survival: cohort + both weightings -> weighted KM, survival at fixed months, weighted Cox,
and each weighted comparison's diagnostics (balance, effective sample size, deaths)."""

import pandas as pd

from gistlm.causal.diagnostics import gate_table, group_diagnostics
from gistlm.causal.effect_measures import marginal_method
from gistlm.causal.propensity import weighted_cohort, weighted_cox, weighted_kaplan_meier_table, weighted_survival_at
from gistlm.estimators.balancing import read_weights
from gistlm.provenance import recorded
from gistlm.release.disclosure import suppress_columns

with recorded(snakemake):
    params = snakemake.params
    cohort = pd.read_parquet(snakemake.input.cohort)
    verdicts = pd.read_csv(snakemake.input.verdict, keep_default_na=False, na_values=[""])
    km, survival_at, cox, gates = [], [], [], []
    for weighting, table in read_weights(snakemake.input.weights).items():
        data = weighted_cohort(cohort, table)
        curves = weighted_kaplan_meier_table(data, params.labels)
        km.append(curves.assign(weighting=weighting))
        survival_at.append(weighted_survival_at(curves, params.survival_at_months).assign(weighting=weighting))
        cox.append(weighted_cox(data, params.labels, params.reference, params.alpha, weighting=weighting))
        gates.append(
            gate_table(
                marginal_method(weighting),
                group_diagnostics(data, params.labels),
                verdicts[verdicts["weighting"] == weighting],
                params.labels,
                params.reference,
                params.diagnostics,
                params.min_cell_count,
            )
        )
    minimum = params.min_cell_count
    suppress_columns(pd.concat(km, ignore_index=True), ["at_risk", "events"], minimum).to_csv(
        snakemake.output.km, index=False
    )
    pd.concat(survival_at, ignore_index=True).to_csv(snakemake.output.survival_at, index=False)
    suppress_columns(pd.concat(cox, ignore_index=True), ["n", "events"], minimum).to_csv(
        snakemake.output.cox, index=False
    )
    pd.concat(gates, ignore_index=True).to_csv(snakemake.output.diagnostics, index=False)
