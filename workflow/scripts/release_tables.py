"""Rule release_tables: results tables -> results/release/tables/ (the tables that may leave the hospital)."""
import shutil
from pathlib import Path

import pandas as pd

from gistlm.data_dictionary import resolved
from gistlm.disclosure import release_attrition, release_ledger
from gistlm.report import journal_table_one
from gistlm.provenance import recorded

with recorded(snakemake):
    inputs, params = snakemake.input, snakemake.params
    folder = Path(snakemake.output.tables)
    folder.mkdir(parents=True, exist_ok=True)
    for name in params.copied:  # their rules wrote the counts as the disclosure register decided
        shutil.copyfile(inputs[name], folder / Path(inputs[name]).name)
    minimum = params.min_cell_count
    release_attrition(pd.read_csv(inputs.attrition), minimum).to_csv(folder / "attrition.csv", index=False)
    release_ledger(pd.read_csv(inputs.ledger), minimum).to_csv(folder / "ledger_counts.csv", index=False)
    # Table 1 as the report prints it: labelled, small cells hidden within each variable
    dictionary = resolved(params.dictionary, params.cutoffs)
    journal_table_one(pd.read_csv(inputs.table_one, dtype=str, keep_default_na=False, na_values=[""]), params.groups,
                      dictionary, minimum).to_csv(folder / "table_one.csv", index=False)
