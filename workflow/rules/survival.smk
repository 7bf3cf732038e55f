rule kaplan_meier:
    """Kaplan-Meier OS per group: curves, medians, fixed-time rates, log-rank, follow-up."""
    input:
        cohort=rules.derive_analysis_cohort.output.cohort,
        register=DISCLOSURE_REGISTER,
        code=package_code("survival.overall_survival", "release.disclosure", "release.count_register"),
    output:
        provenance="results/provenance/kaplan_meier.json",
        km="results/survival/km.csv",
        median=report(
            "results/survival/median_os.csv",
            caption="../report/median_os.rst",
            category="Overall survival",
            subcategory="Tables",
        ),
        rates=report(
            "results/survival/os_rates.csv",
            caption="../report/os_rates.rst",
            category="Overall survival",
            subcategory="Tables",
        ),
        logrank=report(
            "results/survival/logrank.csv",
            caption="../report/logrank.rst",
            category="Overall survival",
            subcategory="Tables",
        ),
        follow_up="results/survival/follow_up.csv",
    log:
        "results/logs/kaplan_meier.log",
    benchmark:
        "results/benchmarks/kaplan_meier.tsv"
    params:
        groups=setting("groups", "labels"),
        reference=setting("groups", "reference"),
        alpha=setting("survival", "alpha"),
        rate_months=setting("survival", "rate_months"),
        min_cell_count=setting("privacy", "min_cell_count"),
    script:
        "../scripts/kaplan_meier.py"


rule cox_regression:
    """Univariable and multivariable Cox models of OS, with the proportional-hazards tests (R's cox.zph)."""
    input:
        cohort=rules.derive_analysis_cohort.output.cohort,
        register=DISCLOSURE_REGISTER,
        code=package_code("survival.overall_survival", "release.disclosure", "release.count_register"),
    output:
        provenance="results/provenance/cox_regression.json",
        cox=report(
            "results/survival/cox.csv", caption="../report/cox.rst", category="Overall survival", subcategory="Tables"
        ),
        ph_test="results/survival/ph_test.csv",
    log:
        "results/logs/cox_regression.log",
    benchmark:
        "results/benchmarks/cox_regression.tsv"
    params:
        groups=setting("groups", "labels"),
        reference=setting("groups", "reference"),
        alpha=setting("survival", "alpha"),
        covariates=setting("survival", "cox_covariates"),
        strata=["site"] if stratified_by_site() else [],
        ph_transform=setting("survival", "ph_test_transform"),
        min_cell_count=setting("privacy", "min_cell_count"),
    script:
        "../scripts/cox_regression.py"


rule site_hazard_ratios:
    """Each local treatment vs IM within each site, the site-stratified HR and the heterogeneity between sites."""
    input:
        cohort=rules.derive_analysis_cohort.output.cohort,
        register=DISCLOSURE_REGISTER,
        code=package_code("survival.overall_survival", "release.disclosure", "release.count_register"),
    output:
        provenance="results/provenance/site_hazard_ratios.json",
        sites=report(
            "results/survival/site_hazard_ratios.csv",
            caption="../report/site_hazard_ratios.rst",
            category="Overall survival",
            subcategory="Sites",
        ),
    log:
        "results/logs/site_hazard_ratios.log",
    benchmark:
        "results/benchmarks/site_hazard_ratios.tsv"
    params:
        groups=setting("groups", "labels"),
        reference=setting("groups", "reference"),
        alpha=setting("survival", "alpha"),
        min_cell_count=setting("privacy", "min_cell_count"),
    script:
        "../scripts/site_hazard_ratios.py"
