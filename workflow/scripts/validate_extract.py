"""Rule validate_extract: contracts and cross-table rules -> validated tables + quarantine."""
import pandas as pd

from gistlm.validation import validate_extract
from gistlm.provenance import recorded

with recorded(snakemake):
    names = snakemake.params.tables
    tables = {name: pd.read_parquet(path) for name, path in zip(names, snakemake.input.tables)}
    conversions = {name: pd.read_csv(path, dtype={"value": str, "converted": str})
                   for name, path in zip(names, snakemake.input.conversions)}
    validated, failures, quarantined = validate_extract(
        tables, conversions, pd.Timestamp(snakemake.params.latest_date))
    for name, path in zip(names, snakemake.output.tables):
        validated[name].to_parquet(path, index=False)
    failures.to_csv(snakemake.output.failures, index=False)
    quarantined.to_csv(snakemake.output.quarantine, index=False)
