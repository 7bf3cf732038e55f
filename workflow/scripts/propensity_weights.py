"""Rule propensity_weights: analysis cohort -> GPS, both weightings (entropy balancing, GPS-IPTW),
their weight distributions and covariate balance."""

import pandas as pd

from gistlm.causal.propensity import balance_verdict, propensity_table
from gistlm.estimators.balancing import weighted_balance, weighted_summaries, weighting_table, weightings
from gistlm.extract.spreadsheets import write_table
from gistlm.provenance import recorded
from gistlm.release.disclosure import release_weight_summary

with recorded(snakemake):
    cohort = pd.read_parquet(snakemake.input.cohort)
    params = snakemake.params
    labels, settings, minimum = params.labels, params.propensity, params.min_cell_count
    write_table(propensity_table(cohort, labels, settings), snakemake.output.scores)  # patient-level: stays
    tables = {
        method: weighting_table(cohort, labels, settings, method) for method in weightings(params.weighting["method"])
    }
    write_table(pd.concat(tables.values(), ignore_index=True), snakemake.output.weights)  # patient-level
    tables = {table["weighting"].iloc[0]: table.drop(columns="weighting") for table in tables.values()}
    weighted_summaries(tables, labels, lambda summary: release_weight_summary(summary, minimum)).to_csv(
        snakemake.output.summary, index=False
    )
    balance = weighted_balance(cohort, tables, labels, settings["covariates"], settings["balance_threshold"])
    balance.to_csv(snakemake.output.balance, index=False)
    balance_verdict(balance).to_csv(snakemake.output.verdict, index=False)
