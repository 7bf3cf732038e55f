"""Rule propensity_weights: analysis cohort -> GPS and IPTW weights, weight distribution, balance."""
import pandas as pd

from gistlm.disclosure import release_weight_summary
from gistlm.propensity import balance_table, balance_verdict, propensity_table, weight_summary
from gistlm.provenance import recorded

with recorded(snakemake):
    cohort = pd.read_parquet(snakemake.input.cohort)
    labels, settings = snakemake.params.labels, snakemake.params.propensity
    table = propensity_table(cohort, labels, settings)
    table.to_csv(snakemake.output.scores, index=False)  # patient-level: stays in the hospital
    release_weight_summary(weight_summary(table, labels), snakemake.params.min_cell_count).to_csv(
        snakemake.output.summary, index=False)
    balance = balance_table(cohort, table, labels, settings["covariates"], settings["balance_threshold"])
    balance.to_csv(snakemake.output.balance, index=False)
    balance_verdict(balance).to_csv(snakemake.output.verdict, index=False)
