"""Rule ingest_extract: one site's raw tables -> typed Parquet (pseudonymous ids) + conversion logs."""

from gistlm.extract.ingestion import ingest_tables
from gistlm.extract.pseudonyms import load_key, pseudonymise_all
from gistlm.extract.spreadsheets import write_csv
from gistlm.provenance import recorded

with recorded(snakemake):
    params, privacy = snakemake.params, snakemake.params.privacy
    key, _ = load_key(privacy["key_env"], privacy.get("key_file"), privacy["release"])
    raw = {table: snakemake.input[table] for table in params.tables}
    ingested = ingest_tables(raw, params.encoding)
    ids = pseudonymise_all([typed["patient_id"] for typed, _ in ingested.values()], key, params.namespace)
    for (table, (typed, conversions)), pseudonyms in zip(ingested.items(), ids):
        typed["patient_id"] = pseudonyms
        typed.to_parquet(snakemake.output[table], index=False)
        write_csv(conversions, snakemake.output[f"{table}_conversions"])
