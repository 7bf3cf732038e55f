"""Rule ingest_table: one raw table of one site -> typed Parquet (pseudonymous ids) + conversion log."""

from gistlm.extract.ingestion import read_raw_table, type_raw_table
from gistlm.extract.pseudonyms import load_key, pseudonymise
from gistlm.extract.spreadsheets import write_csv
from gistlm.provenance import recorded

with recorded(snakemake):
    table, privacy = snakemake.wildcards.table, snakemake.params.privacy
    key, _ = load_key(privacy["key_env"], privacy.get("key_file"), privacy["release"])
    raw = read_raw_table(snakemake.input.raw, table, snakemake.params.encoding)
    typed, conversions = type_raw_table(raw, table)
    typed["patient_id"] = pseudonymise(typed["patient_id"], key, snakemake.params.namespace)
    typed.to_parquet(snakemake.output.table, index=False)
    write_csv(conversions, snakemake.output.conversions)
