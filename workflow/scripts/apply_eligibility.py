"""Rule apply_eligibility: validated tables -> one verdict per patient, attrition counts and the
text values that excluded patients."""

import pandas as pd

from gistlm.cohort.eligibility import apply_criteria, attrition, exclusion_values, release_exclusion_values
from gistlm.extract.spreadsheets import write_csv
from gistlm.provenance import recorded

with recorded(snakemake) as log:
    tables = {name: pd.read_parquet(snakemake.input[name]) for name in snakemake.params.tables}
    verdicts = apply_criteria(tables, snakemake.params.rules)
    quarantined = pd.read_csv(snakemake.input.quarantine)
    verdicts.to_parquet(snakemake.output.verdicts, index=False)
    log.info("%d of %d patients eligible", verdicts["eligible"].sum(), len(verdicts))
    attrition(verdicts, len(quarantined)).to_csv(snakemake.output.attrition, index=False)
    values = release_exclusion_values(exclusion_values(tables, verdicts), snakemake.params.min_cell_count)
    write_csv(values, snakemake.output.exclusion_values)
