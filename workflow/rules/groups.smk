rule derive_analysis_cohort:
    """Treatment group, overall survival and baseline covariates of each eligible patient."""
    input:
        **validated_tables(),
        verdicts=rules.apply_eligibility.output.verdicts,
        # its raw total names the patients when none is eligible
        attrition=rules.apply_eligibility.output.attrition,
        code=package_code("cohort.analysis_cohort"),
    output:
        provenance="results/provenance/derive_analysis_cohort.json",
        cohort="results/cohort/analysis.parquet",
    log:
        "results/logs/derive_analysis_cohort.log",
    benchmark:
        "results/benchmarks/derive_analysis_cohort.tsv"
    params:
        tables=RAW_TABLES,
        groups=setting("groups"),
        outcome=setting("outcome"),
        covariate_cutoffs=setting("covariate_cutoffs"),
    script:
        "../scripts/derive_analysis_cohort.py"


# Checks of the cohort once it is built: every raw patient accounted for, and the expectations.


rule patient_ledger:
    """Account for every raw patient: analysed, excluded or quarantined, with the reason."""
    input:
        patients=all_sites(rules.ingest_extract.output.patients),
        # the ledger is counted against the raw files as written, not only as ingested
        raw_patients=raw_files("patients"),
        quarantine=rules.pool_sites.output.quarantine,
        verdicts=rules.apply_eligibility.output.verdicts,
        cohort=rules.derive_analysis_cohort.output.cohort,
        code=package_code("quality.ledger", "quality.sites", "extract.ingestion", "extract.spreadsheets"),
    output:
        provenance="results/provenance/patient_ledger.json",
        ledger="results/validation/ledger.parquet",
        csv="results/validation/ledger.csv",
        counts="results/validation/ledger_counts.csv",
        by_site="results/validation/ledger_by_site.csv",
    log:
        "results/logs/patient_ledger.log",
    benchmark:
        "results/benchmarks/patient_ledger.tsv"
    params:
        sites=list(SITES),
        encoding=setting("raw", "encoding"),
    script:
        "../scripts/patient_ledger.py"


rule data_quality_suite:
    """great-expectations suite on the analysis cohort, with its result pages (offline HTML)."""
    input:
        cohort=rules.derive_analysis_cohort.output.cohort,
        code=package_code("quality.expectations"),
    output:
        provenance="results/provenance/data_quality_suite.json",
        results=report(
            "results/validation/expectations.csv", caption="../report/expectations.rst", category="Data quality"
        ),
        docs=directory("results/data_docs"),
    log:
        "results/logs/data_quality_suite.log",
    benchmark:
        "results/benchmarks/data_quality_suite.tsv"
    priority: 1  # 15 s at 1M patients: early, not alone at the end
    params:
        quality=setting("quality"),
        groups=setting("groups", "labels"),
        covariates=setting("table_one", "continuous") + setting("table_one", "categorical"),
        max_months=setting("outcome", "max_months"),
    script:
        "../scripts/data_quality_suite.py"
