"""Rule baseline_table: analysis cohort -> Table 1 by group (tableone)."""

import pandas as pd

from gistlm.cohort.table_one import table_one
from gistlm.provenance import recorded

with recorded(snakemake):
    cohort = pd.read_parquet(snakemake.input.cohort)
    table = table_one(cohort, snakemake.params.groups, snakemake.params.continuous, snakemake.params.categorical)
    table.to_csv(snakemake.output.table, index=False)
