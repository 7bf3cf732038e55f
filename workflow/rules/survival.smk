rule kaplan_meier:
    """Kaplan-Meier OS per group: curves, medians, fixed-time rates, log-rank, follow-up."""
    input:
        cohort="results/cohort/analysis.parquet",
        code=package_code("survival"),
    output:
        provenance="results/provenance/kaplan_meier.json",
        km="results/survival/km.csv",
        median="results/survival/median_os.csv",
        rates="results/survival/os_rates.csv",
        logrank="results/survival/logrank.csv",
        follow_up="results/survival/follow_up.csv",
    params:
        groups=setting("groups", "labels"),
        reference=setting("groups", "reference"),
        alpha=setting("survival", "alpha"),
        rate_months=setting("survival", "rate_months"),
    log:
        "results/logs/kaplan_meier.log",
    benchmark:
        "results/benchmarks/kaplan_meier.tsv"
    conda:
        "../envs/gistlm.yaml"
    script:
        "../scripts/kaplan_meier.py"


rule cox_regression:
    """Univariable and multivariable Cox models of OS, with Schoenfeld PH tests."""
    input:
        cohort="results/cohort/analysis.parquet",
        code=package_code("survival"),
    output:
        provenance="results/provenance/cox_regression.json",
        cox="results/survival/cox.csv",
        ph_test="results/survival/ph_test.csv",
    params:
        groups=setting("groups", "labels"),
        reference=setting("groups", "reference"),
        alpha=setting("survival", "alpha"),
        covariates=setting("survival", "cox_covariates"),
    log:
        "results/logs/cox_regression.log",
    benchmark:
        "results/benchmarks/cox_regression.tsv"
    conda:
        "../envs/gistlm.yaml"
    script:
        "../scripts/cox_regression.py"
