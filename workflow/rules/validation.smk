rule validate_extract:
    """Check one site's pandera contracts and cross-table rules; quarantine patients that fail."""
    input:
        tables=site_interim("parquet"),
        conversions=site_interim("conversions.csv"),
        code=package_code("validation", "spreadsheets"),
    output:
        provenance="results/provenance/validate_extract/{site}.json",
        tables=expand("results/validated/{{site}}/{table}.parquet", table=RAW_TABLES),
        failures="results/validation/{site}/failure_cases.csv",
        quarantine="results/validation/{site}/quarantine.csv",
    params:
        tables=RAW_TABLES,
        latest_date=setting("validation", "latest_date"),
        patients_file=raw_patients_file,
    log:
        "results/logs/validate_extract/{site}.log",
    benchmark:
        "results/benchmarks/validate_extract/{site}.tsv"
    script:
        "../scripts/validate_extract.py"


rule pool_sites:
    """Stack the validated tables, failures and quarantine of every site, each row with its site."""
    input:
        # site by site, each site's four tables in RAW_TABLES order
        tables=expand("results/validated/{site}/{table}.parquet", site=SITES, table=RAW_TABLES),
        failures=all_sites("results/validation/{site}/failure_cases.csv"),
        quarantine=all_sites("results/validation/{site}/quarantine.csv"),
        code=package_code("sites", "spreadsheets"),
    output:
        provenance="results/provenance/pool_sites.json",
        tables=validated_tables(),
        failures="results/validation/failure_cases.csv",
        quarantine="results/validation/quarantine.csv",
    params:
        sites=list(SITES),
        tables=RAW_TABLES,
    log:
        "results/logs/pool_sites.log",
    benchmark:
        "results/benchmarks/pool_sites.tsv"
    script:
        "../scripts/pool_sites.py"


rule patient_ledger:
    """Account for every raw patient: analysed, excluded or quarantined, with the reason."""
    input:
        patients=all_sites("results/interim/{site}/patients.parquet"),
        # the ledger is counted against the raw files as written, not only as ingested
        raw_patients=raw_files("patients"),
        quarantine="results/validation/quarantine.csv",
        verdicts="results/cohort/eligibility.parquet",
        cohort="results/cohort/analysis.parquet",
        code=package_code("ledger", "sites", "ingestion", "spreadsheets"),
    output:
        provenance="results/provenance/patient_ledger.json",
        ledger="results/validation/ledger.parquet",
        csv="results/validation/ledger.csv",
        counts="results/validation/ledger_counts.csv",
        by_site="results/validation/ledger_by_site.csv",
    params:
        sites=list(SITES),
        encoding=setting("raw", "encoding"),
    log:
        "results/logs/patient_ledger.log",
    benchmark:
        "results/benchmarks/patient_ledger.tsv"
    script:
        "../scripts/patient_ledger.py"


rule data_quality_suite:
    """great-expectations suite on the analysis cohort, with its result pages (offline HTML)."""
    input:
        cohort="results/cohort/analysis.parquet",
        code=package_code("quality_suite"),
    output:
        provenance="results/provenance/data_quality_suite.json",
        results=report("results/validation/expectations.csv", caption="../report/expectations.rst", category="Data quality"),
        docs=directory("results/data_docs"),
    params:
        quality=setting("quality"),
        groups=setting("groups", "labels"),
        covariates=setting("table_one", "continuous") + setting("table_one", "categorical"),
        max_months=setting("outcome", "max_months"),
    log:
        "results/logs/data_quality_suite.log",
    benchmark:
        "results/benchmarks/data_quality_suite.tsv"
    script:
        "../scripts/data_quality_suite.py"
