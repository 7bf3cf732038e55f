rule apply_eligibility:
    """Apply the inclusion and exclusion criteria in order; count every step."""
    input:
        tables=validated_tables(),
        quarantine="results/validation/quarantine.csv",
        code=package_code("eligibility"),
    output:
        provenance="results/provenance/apply_eligibility.json",
        verdicts="results/cohort/eligibility.parquet",
        attrition=report("results/cohort/attrition.csv", caption="../report/attrition.rst", category="Participants"),
    params:
        tables=RAW_TABLES,
        rules=setting("eligibility"),
    log:
        "results/logs/apply_eligibility.log",
    benchmark:
        "results/benchmarks/apply_eligibility.tsv"
    conda:
        "../envs/gistlm.yaml"
    script:
        "../scripts/apply_eligibility.py"
