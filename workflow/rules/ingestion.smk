rule ingest_table:
    """Read one raw table (CSV, Excel or Parquet) into typed columns, logging every conversion."""
    input:
        raw=raw_table_path,
        code=package_code("ingestion"),
    output:
        table="results/interim/{table}.parquet",
        conversions="results/interim/{table}.conversions.csv",
    params:
        encoding=config["raw"]["encoding"],
    log:
        "results/logs/ingest_table/{table}.log",
    conda:
        "../envs/gistlm.yaml"
    script:
        "../scripts/ingest_table.py"
