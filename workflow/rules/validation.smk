rule validate_extract:
    """Check the pandera contracts and cross-table rules; quarantine patients that fail."""
    input:
        tables=interim("parquet"),
        conversions=interim("conversions.csv"),
        code=package_code("validation"),
    output:
        tables=validated_tables(),
        failures="results/validation/failure_cases.csv",
        quarantine="results/validation/quarantine.csv",
    params:
        tables=RAW_TABLES,
        latest_date=config["validation"]["latest_date"],
    log:
        "results/logs/validate_extract.log",
    conda:
        "../envs/gistlm.yaml"
    script:
        "../scripts/validate_extract.py"
