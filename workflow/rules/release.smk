# What may leave the hospital (issue 11): one disclosure decision per count for the whole
# release (rule disclosure_register, read by every rule that writes a released table), the
# folder results/release/ with the report, the released tables and figures, an audit that
# tries to recover every hidden count from them, and a manifest. Only results/release/ may
# leave the hospital; everything else under results/ stays.

RELEASED_TABLES = {
    "median_os": "results/survival/median_os.csv",
    "follow_up": "results/survival/follow_up.csv",
    "os_rates": "results/survival/os_rates.csv",
    "logrank": "results/survival/logrank.csv",
    "cox": "results/survival/cox.csv",
    "ph_test": "results/survival/ph_test.csv",
    "site_hazard_ratios": "results/survival/site_hazard_ratios.csv",
    "time_varying_cox": "results/causal/time_varying_cox.csv",
    "landmark_cox": "results/causal/landmark_cox.csv",
    "landmark_groups": "results/causal/landmark_groups.csv",
    "ccw_cox": "results/causal/ccw_cox.csv",
    "ccw_weights": "results/causal/ccw_weights.csv",
    "weights_summary": "results/causal/weights_summary.csv",
    "balance": "results/causal/balance.csv",
    "balance_verdict": "results/causal/balance_verdict.csv",
    "iptw_cox": "results/causal/iptw_cox.csv",
    "iptw_survival_at": "results/causal/iptw_survival_at.csv",
    "rmst": "results/causal/rmst.csv",
    "e_values": "results/causal/e_values.csv",
    "bootstrap_ci": "results/causal/bootstrap_ci.csv",
}
RELEASED_FIGURES = {
    "km": "results/figures/km.png",
    "forest": "results/figures/forest.png",
    "site_forest": "results/figures/site_forest.png",
    "love": "results/causal/figures/love.png",
    "overlap": "results/causal/figures/overlap.png",
    "landmark_km": "results/causal/figures/landmark_km.png",
    "iptw_km": "results/causal/figures/iptw_km.png",
    "ccw_km": "results/causal/figures/ccw_km.png",
}


rule disclosure_register:
    """Every count the release publishes (patients, deaths, censored per group, site, landmark) and its one suppression decision."""
    input:
        cohort="results/cohort/analysis.parquet",
        dates="results/cohort/treatment_dates.csv",
        code=package_code("count_register", "immortal_time"),
    output:
        provenance="results/provenance/disclosure_register.json",
        # the true counts: stays in the hospital
        register="results/cohort/disclosure_register.csv",
    params:
        groups=setting("groups"),
        landmarks=setting("causal", "landmarks_months"),
        min_cell_count=setting("privacy", "min_cell_count"),
    log:
        "results/logs/disclosure_register.log",
    benchmark:
        "results/benchmarks/disclosure_register.tsv"
    script:
        "../scripts/disclosure_register.py"


rule release_tables:
    """The released tables: the results tables as written (counts already decided), attrition, ledger and Table 1 with their small cells hidden."""
    input:
        **RELEASED_TABLES,
        attrition="results/cohort/attrition.csv",
        ledger="results/validation/ledger_counts.csv",
        table_one="results/cohort/table_one.csv",
        code=package_code("disclosure", "report", "data_dictionary", "author_tables"),
    output:
        provenance="results/provenance/release_tables.json",
        tables=directory("results/release/tables"),
    params:
        groups=setting("groups", "labels"),
        min_cell_count=setting("privacy", "min_cell_count"),
        copied=sorted(RELEASED_TABLES),
        dictionary=setting("data_dictionary"),
        cutoffs=setting("covariate_cutoffs"),
        alpha=setting("survival", "alpha"),
    log:
        "results/logs/release_tables.log",
    benchmark:
        "results/benchmarks/release_tables.tsv"
    script:
        "../scripts/release_tables.py"


rule disclosure_audit:
    """Tries to recover every hidden count from the released tables; in release mode a recoverable one stops the run."""
    input:
        tables="results/release/tables",
        register="results/cohort/disclosure_register.csv",
        code=package_code("disclosure_audit"),
    output:
        provenance="results/provenance/disclosure_audit.json",
        audit="results/release/disclosure_audit.csv",
    params:
        release=setting("privacy", "release"),
    log:
        "results/logs/disclosure_audit.log",
    benchmark:
        "results/benchmarks/disclosure_audit.tsv"
    script:
        "../scripts/disclosure_audit.py"


rule release_manifest:
    """results/release/: the report and figures beside the tables, and MANIFEST.tsv (file, SHA-256, bytes, audit verdict)."""
    input:
        report="results/report.html",
        tables="results/release/tables",
        audit="results/release/disclosure_audit.csv",
        **RELEASED_FIGURES,
        code=package_code("disclosure_audit", "provenance"),
    output:
        provenance="results/provenance/release_manifest.json",
        report="results/release/report.html",
        figures=directory("results/release/figures"),
        manifest="results/release/MANIFEST.tsv",
    params:
        figures=sorted(RELEASED_FIGURES),
    log:
        "results/logs/release_manifest.log",
    benchmark:
        "results/benchmarks/release_manifest.tsv"
    script:
        "../scripts/release_manifest.py"


# `snakemake --cores 4 release`: the folder that may leave the hospital
rule release:
    input:
        rules.release_manifest.output.manifest,


localrules: release
