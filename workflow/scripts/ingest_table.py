"""Rule ingest_table: one raw table -> typed Parquet + conversion log."""
from gistlm.provenance import recorded
from gistlm.ingestion import read_raw_table, type_raw_table

with recorded(snakemake):
    table = snakemake.wildcards.table
    raw = read_raw_table(snakemake.input.raw, table, snakemake.params.encoding)
    typed, conversions = type_raw_table(raw, table)
    typed.to_parquet(snakemake.output.table, index=False)
    conversions.to_csv(snakemake.output.conversions, index=False)
