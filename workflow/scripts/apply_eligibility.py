"""Rule apply_eligibility: validated tables -> one verdict per patient + attrition counts."""
import pandas as pd

from gistlm.eligibility import apply_criteria, attrition
from gistlm.provenance import recorded

with recorded(snakemake):
    tables = {name: pd.read_parquet(path) for name, path in zip(snakemake.params.tables, snakemake.input.tables)}
    verdicts = apply_criteria(tables, snakemake.params.rules)
    quarantined = pd.read_csv(snakemake.input.quarantine)
    verdicts.to_parquet(snakemake.output.verdicts, index=False)
    attrition(verdicts, len(quarantined)).to_csv(snakemake.output.attrition, index=False)
