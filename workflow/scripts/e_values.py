"""Rule e_values: every method's hazard ratios -> one table by method with E-values."""
import pandas as pd

from gistlm.effect_measures import e_value_table, hazard_ratios_by_method
from gistlm.provenance import recorded

with recorded(snakemake):
    inputs = snakemake.input
    tables = {name: pd.read_csv(inputs[name]) for name in ["naive", "time_varying", "landmark", "iptw", "ccw"]}
    estimates = hazard_ratios_by_method(tables, snakemake.params.reference)
    e_value_table(estimates, snakemake.params.common_outcome).to_csv(snakemake.output.table, index=False)
