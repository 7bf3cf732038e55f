"""Rule release_tables: results tables -> results/release/tables/ (the tables that may leave the hospital)."""

import shutil
from pathlib import Path

import pandas as pd

from gistlm.cohort.table_one import journal_table_one
from gistlm.provenance import recorded
from gistlm.release.author_tables import causal_summary, cox_table, write_docx, write_xlsx
from gistlm.release.disclosure import release_attrition, release_ledger
from gistlm.report.data_dictionary import resolved

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
    table_one = journal_table_one(
        pd.read_csv(inputs.table_one, dtype=str, keep_default_na=False, na_values=[""]),
        params.groups,
        dictionary,
        minimum,
    )
    table_one.to_csv(folder / "table_one.csv", index=False)
    # the same values for Word and Excel, where clinical authors work
    ci_label = f"{100 * (1 - params.alpha):g}% CI"
    hidden_note = (
        f"Counts below {minimum} are shown as <{minimum}; 'suppressed' marks a count hidden so that "
        "a small one cannot be recovered by subtraction."
    )
    for name, title, table in [
        ("table_one", "Table 1. Baseline characteristics", table_one),
        (
            "cox",
            "Cox models of overall survival",
            cox_table(pd.read_csv(inputs.cox, dtype={"n": str, "events": str}), dictionary, ci_label),
        ),
        (
            "causal_summary",
            "Hazard ratios by method, with E-values",
            causal_summary(pd.read_csv(inputs.e_values), ci_label),
        ),
    ]:
        write_docx([(title, table, hidden_note)], folder / f"{name}.docx")
        write_xlsx([(title, table, hidden_note)], folder / f"{name}.xlsx")
