"""Rule e_values: every method's hazard ratios -> one table by method with E-values, the biases each
method handles, its role (primary, published-style replication, secondary) and whether it is
interpretable (diagnostics of the weighted analyses; deaths per group everywhere)."""

import pandas as pd

from gistlm.causal.diagnostics import gate_estimates, gate_table, released_deaths
from gistlm.causal.effect_measures import e_value_table, hazard_ratios_by_method
from gistlm.estimators.balancing import WEIGHTING_LABELS
from gistlm.provenance import recorded


def read(path):
    try:
        return pd.read_csv(path, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:  # no landmark could be weighted
        return pd.DataFrame(columns=["model", "term", "hr", "ci_lower", "ci_upper"])


with recorded(snakemake):
    inputs, params = snakemake.input, snakemake.params
    tables = {name: pd.read_csv(inputs[name]) for name in ["naive", "time_varying", "landmark", "iptw", "ccw"]}
    estimates = hazard_ratios_by_method(tables, params.reference)
    landmark_weighted = read(inputs.landmark_weighted)
    reference = params.reference
    weighted = landmark_weighted[landmark_weighted["term"].str.endswith(f" vs {reference}")]
    estimates = pd.concat(
        [
            estimates,
            pd.DataFrame(
                {
                    "method": weighted["model"],
                    "term": weighted["term"],
                    "hr": weighted["hr"],
                    "ci_lower": weighted["ci_lower"],
                    "ci_upper": weighted["ci_upper"],
                    "ci_method": "robust (sandwich)",
                }
            ),
        ],
        ignore_index=True,
    )
    # deaths per compared group: the unweighted analyses' from their own rule (it reads the
    # whole cohort), the clone-censor-weight arms' from its released table; the weighted
    # analyses bring their own gates
    labels, limits = params.labels, params.diagnostics
    ccw_deaths = released_deaths(tables["ccw"], reference, params.min_cell_count)
    gates = pd.concat(
        [
            read(inputs.unweighted_diagnostics),
            gate_table("clone-censor-weight", ccw_deaths, None, labels, reference, limits, 0),
            *(read(path) for path in [inputs.iptw_diagnostics, inputs.landmark_diagnostics]),
        ],
        ignore_index=True,
    )
    table = gate_estimates(e_value_table(estimates, params.common_outcome), gates, list(WEIGHTING_LABELS.values()))
    table.to_csv(snakemake.output.table, index=False)
