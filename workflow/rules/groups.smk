rule derive_analysis_cohort:
    """Treatment group, overall survival and baseline covariates of each eligible patient."""
    input:
        tables=validated_tables(),
        verdicts="results/cohort/eligibility.parquet",
        # its raw total names the patients when none is eligible
        attrition="results/cohort/attrition.csv",
        code=package_code("cohort"),
    output:
        provenance="results/provenance/derive_analysis_cohort.json",
        cohort="results/cohort/analysis.parquet",
    params:
        tables=RAW_TABLES,
        groups=setting("groups"),
        outcome=setting("outcome"),
        covariate_cutoffs=setting("covariate_cutoffs"),
    log:
        "results/logs/derive_analysis_cohort.log",
    benchmark:
        "results/benchmarks/derive_analysis_cohort.tsv"
    script:
        "../scripts/derive_analysis_cohort.py"
