rule apply_eligibility:
    """Apply the inclusion and exclusion criteria in order; count every step."""
    input:
        tables=validated_tables(),
        quarantine="results/validation/quarantine.csv",
        code=package_code("eligibility"),
    output:
        verdicts="results/cohort/eligibility.parquet",
        attrition="results/cohort/attrition.csv",
    params:
        tables=RAW_TABLES,
        rules=config["eligibility"],
    log:
        "results/logs/apply_eligibility.log",
    conda:
        "../envs/gistlm.yaml"
    script:
        "../scripts/apply_eligibility.py"
