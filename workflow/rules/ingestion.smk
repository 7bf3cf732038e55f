rule ingest_extract:
    """Read one site's raw tables (CSV, Excel or Parquet) into typed columns, logging every conversion."""
    input:
        # the site's four files, named by table. One job per site, not per table: each job
        # starts Python, pandas and pandera (~0.45 s); at 1M patients in 20 sites ingestion
        # took 92 s as 80 jobs, 41 s as 20
        unpack(raw_tables_of_site),
        code=package_code("extract.ingestion", "extract.pseudonyms", "extract.spreadsheets"),
    output:
        **by_table("results/interim/{site}/{table}.parquet"),
        **by_table("results/interim/{site}/{table}.conversions.csv", "_conversions"),
        provenance="results/provenance/ingest_extract/{site}.json",
    log:
        "results/logs/ingest_extract/{site}.log",
    benchmark:
        "results/benchmarks/ingest_extract/{site}.tsv"
    params:
        tables=RAW_TABLES,
        encoding=setting("raw", "encoding"),
        privacy=setting("privacy"),
        # a new key must re-pseudonymise: its fingerprint (never the key) is a param
        key_fingerprint=pseudonym_key_fingerprint(),
        namespace=pseudonym_namespace,
    script:
        "../scripts/ingest_extract.py"
