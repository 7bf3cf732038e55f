rule ingest_table:
    """Read one raw table of one site (CSV, Excel or Parquet) into typed columns, logging every conversion."""
    input:
        raw=raw_table_path,
        code=package_code("extract.ingestion", "extract.pseudonyms", "extract.spreadsheets"),
    output:
        provenance="results/provenance/ingest_table/{site}/{table}.json",
        table="results/interim/{site}/{table}.parquet",
        conversions="results/interim/{site}/{table}.conversions.csv",
    log:
        "results/logs/ingest_table/{site}/{table}.log",
    benchmark:
        "results/benchmarks/ingest_table/{site}/{table}.tsv"
    params:
        encoding=setting("raw", "encoding"),
        privacy=setting("privacy"),
        # a new key must re-pseudonymise: its fingerprint (never the key) is a param
        key_fingerprint=pseudonym_key_fingerprint(),
        namespace=pseudonym_namespace,
    script:
        "../scripts/ingest_table.py"
