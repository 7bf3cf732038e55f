"""Rule e_values: every method's hazard ratios -> one table by method with E-values, the biases each
method handles, its role (primary, published-style replication, secondary) and whether it is
interpretable (diagnostics of the weighted analyses; deaths per group everywhere)."""

import pandas as pd

from gistlm.causal.diagnostics import (
    gate_estimates,
    gate_table,
    group_diagnostics,
    released_deaths,
    time_varying_groups,
)
from gistlm.causal.effect_measures import e_value_table, hazard_ratios_by_method
from gistlm.causal.immortal_time import landmark_cohort, read_dates
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
    # deaths per compared group of the unweighted analyses (the weighted ones bring their own gates)
    cohort = pd.read_parquet(inputs.cohort)
    dates = read_dates(inputs.dates, cohort, [])
    groups, labels, limits = params.groups, params.labels, params.diagnostics
    counted = {
        "naive (groups fixed at LM diagnosis)": group_diagnostics(cohort.assign(weight=1.0), labels),
        "time-varying Cox": time_varying_groups(dates, labels, reference),
        "clone-censor-weight": released_deaths(tables["ccw"], reference, params.min_cell_count),
    }
    for months in params.landmarks:
        rows = landmark_cohort(dates, months, groups["precedence"], groups["default"], labels)
        counted[f"landmark {months:g} months"] = group_diagnostics(rows.assign(weight=1.0), labels)
    gates = pd.concat(
        [
            *(gate_table(method, sizes, None, labels, reference, limits, 0) for method, sizes in counted.items()),
            *(read(path) for path in [inputs.iptw_diagnostics, inputs.landmark_diagnostics]),
        ],
        ignore_index=True,
    )
    table = gate_estimates(e_value_table(estimates, params.common_outcome), gates, list(WEIGHTING_LABELS.values()))
    table.to_csv(snakemake.output.table, index=False)
