rule apply_eligibility:
    """Apply the inclusion and exclusion criteria in order; count every step."""
    input:
        **validated_tables(),
        quarantine=rules.pool_sites.output.quarantine,
        code=package_code("cohort.eligibility", "extract.spreadsheets"),
    output:
        provenance="results/provenance/apply_eligibility.json",
        verdicts="results/cohort/eligibility.parquet",
        attrition=report("results/cohort/attrition.csv", caption="../report/attrition.rst", category="Participants"),
        exclusion_values="results/cohort/exclusion_values.csv",
    log:
        "results/logs/apply_eligibility.log",
    benchmark:
        "results/benchmarks/apply_eligibility.tsv"
    params:
        tables=RAW_TABLES,
        rules=setting("eligibility"),
        min_cell_count=setting("privacy", "min_cell_count"),
    script:
        "../scripts/apply_eligibility.py"
