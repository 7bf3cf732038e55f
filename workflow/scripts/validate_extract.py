"""Rule validate_extract: contracts and cross-table rules -> validated tables + quarantine."""
import pandas as pd

from gistlm.validation import validate_extract
from gistlm.provenance import recorded
from gistlm.spreadsheets import read_csv, write_csv

with recorded(snakemake):
    names = snakemake.params.tables
    tables = {name: pd.read_parquet(path) for name, path in zip(names, snakemake.input.tables)}
    conversions = {name: read_csv(path, dtype={"value": str, "converted": str})
                   for name, path in zip(names, snakemake.input.conversions)}
    validated, failures, quarantined = validate_extract(
        tables, conversions, pd.Timestamp(snakemake.params.latest_date), snakemake.params.patients_file)
    for name, path in zip(names, snakemake.output.tables):
        validated[name].to_parquet(path, index=False)
    write_csv(failures, snakemake.output.failures)
    write_csv(quarantined, snakemake.output.quarantine)
