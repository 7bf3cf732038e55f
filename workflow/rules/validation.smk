rule validate_extract:
    """Check the pandera contracts and cross-table rules; quarantine patients that fail."""
    input:
        tables=interim("parquet"),
        conversions=interim("conversions.csv"),
        code=package_code("validation"),
    output:
        provenance="results/provenance/validate_extract.json",
        tables=validated_tables(),
        failures="results/validation/failure_cases.csv",
        quarantine="results/validation/quarantine.csv",
    params:
        tables=RAW_TABLES,
        latest_date=setting("validation", "latest_date"),
    log:
        "results/logs/validate_extract.log",
    benchmark:
        "results/benchmarks/validate_extract.tsv"
    conda:
        "../envs/gistlm.yaml"
    script:
        "../scripts/validate_extract.py"


rule patient_ledger:
    """Account for every raw patient: analysed, excluded or quarantined, with the reason."""
    input:
        tables=interim("parquet"),
        quarantine="results/validation/quarantine.csv",
        verdicts="results/cohort/eligibility.parquet",
        cohort="results/cohort/analysis.parquet",
        code=package_code("ledger"),
    output:
        provenance="results/provenance/patient_ledger.json",
        ledger="results/validation/ledger.parquet",
        csv="results/validation/ledger.csv",
        counts="results/validation/ledger_counts.csv",
    log:
        "results/logs/patient_ledger.log",
    benchmark:
        "results/benchmarks/patient_ledger.tsv"
    conda:
        "../envs/gistlm.yaml"
    script:
        "../scripts/patient_ledger.py"


rule data_quality_suite:
    """great-expectations suite on the analysis cohort, with its Data Docs."""
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
    conda:
        "../envs/gistlm.yaml"
    script:
        "../scripts/data_quality_suite.py"
