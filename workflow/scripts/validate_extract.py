"""Rule validate_extract: contracts and cross-table rules -> validated tables + quarantine."""

import pandas as pd

from gistlm.extract.spreadsheets import read_csv, write_csv
from gistlm.provenance import recorded
from gistlm.quality.validation import validate_extract

with recorded(snakemake):
    names, inputs = snakemake.params.tables, snakemake.input
    tables = {name: pd.read_parquet(inputs[name]) for name in names}
    conversions = {
        name: read_csv(inputs[f"{name}_conversions"], dtype={"value": str, "converted": str}) for name in names
    }
    validated, failures, quarantined = validate_extract(
        tables, conversions, pd.Timestamp(snakemake.params.latest_date), snakemake.params.patients_file
    )
    for name in names:
        validated[name].to_parquet(snakemake.output[name], index=False)
    write_csv(failures, snakemake.output.failures)
    write_csv(quarantined, snakemake.output.quarantine)
