rule validate_extract:
    """Check one site's pandera contracts and cross-table rules; quarantine patients that fail."""
    input:
        # the site's four tables and their conversion logs, named by table
        **{name: path for name, path in rules.ingest_extract.output.items() if name != "provenance"},
        code=package_code("quality.validation", "extract.spreadsheets"),
    output:
        **by_table("results/validated/{site}/{table}.parquet"),
        provenance="results/provenance/validate_extract/{site}.json",
        failures="results/validation/{site}/failure_cases.csv",
        quarantine="results/validation/{site}/quarantine.csv",
    log:
        "results/logs/validate_extract/{site}.log",
    benchmark:
        "results/benchmarks/validate_extract/{site}.tsv"
    params:
        tables=RAW_TABLES,
        latest_date=setting("validation", "latest_date"),
        patients_file=raw_patients_file,
    script:
        "../scripts/validate_extract.py"


rule pool_sites:
    """Stack the validated tables, failures and quarantine of every site, each row with its site."""
    input:
        # each table (and the failures and quarantine) of every site, in `params.sites` order
        **{table: all_sites(rules.validate_extract.output[table]) for table in RAW_TABLES},
        failures=all_sites(rules.validate_extract.output.failures),
        quarantine=all_sites(rules.validate_extract.output.quarantine),
        code=package_code("quality.sites", "extract.spreadsheets"),
    output:
        **by_table("results/validated/{table}.parquet"),
        provenance="results/provenance/pool_sites.json",
        failures="results/validation/failure_cases.csv",
        quarantine="results/validation/quarantine.csv",
    log:
        "results/logs/pool_sites.log",
    benchmark:
        "results/benchmarks/pool_sites.tsv"
    params:
        sites=list(SITES),
        tables=RAW_TABLES,
    script:
        "../scripts/pool_sites.py"
