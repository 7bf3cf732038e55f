# What may leave the hospital (issue 11): one disclosure decision per count for the whole
# release (rule disclosure_register, read by every rule that writes a released table), the
# folder results/release/ with the report, the released tables and figures, an audit that
# tries to recover every hidden count from them, and a manifest. Only results/release/ may
# leave the hospital; everything else under results/ stays.

RELEASED_TABLES = {
    "median_os": rules.kaplan_meier.output.median,
    "follow_up": rules.kaplan_meier.output.follow_up,
    "os_rates": rules.kaplan_meier.output.rates,
    "logrank": rules.kaplan_meier.output.logrank,
    "cox": rules.cox_regression.output.cox,
    "ph_test": rules.cox_regression.output.ph_test,
    "site_hazard_ratios": rules.site_hazard_ratios.output.sites,
    "time_varying_cox": rules.time_varying_cox.output.cox,
    "landmark_cox": rules.landmark_analysis.output.cox,
    "landmark_groups": rules.landmark_analysis.output.groups,
    "ccw_cox": rules.clone_censor_weight.output.cox,
    "ccw_weights": rules.clone_censor_weight.output.weights,
    "weights_summary": rules.propensity_weights.output.summary,
    "balance": rules.propensity_weights.output.balance,
    "balance_verdict": rules.propensity_weights.output.verdict,
    "iptw_cox": rules.iptw_survival.output.cox,
    "iptw_survival_at": rules.iptw_survival.output.survival_at,
    "rmst": rules.restricted_mean_survival.output.rmst,
    "e_values": rules.e_values.output.table,
    "bootstrap_ci": rules.bootstrap_gather.output.intervals,
}
RELEASED_FIGURES = {
    "km": rules.draw_figures.output.km,
    "forest": rules.draw_figures.output.forest,
    "site_forest": rules.draw_figures.output.site_forest,
    "love": rules.draw_causal_figures.output.love,
    "overlap": rules.draw_causal_figures.output.overlap,
    "landmark_km": rules.draw_causal_figures.output.landmark,
    "iptw_km": rules.draw_causal_figures.output.iptw,
    "ccw_km": rules.draw_causal_figures.output.ccw,
}


rule disclosure_register:
    """Every count the release publishes (patients, deaths, censored per group, site, landmark) and its one suppression decision."""
    input:
        cohort=rules.derive_analysis_cohort.output.cohort,
        dates=rules.local_treatment_dates.output.dates,
        code=package_code("release.count_register", "causal.immortal_time"),
    output:
        provenance="results/provenance/disclosure_register.json",
        # the true counts: stays in the hospital
        register=DISCLOSURE_REGISTER,
    log:
        "results/logs/disclosure_register.log",
    benchmark:
        "results/benchmarks/disclosure_register.tsv"
    priority: 3  # on the longest chain, and every released table waits for it (see local_treatment_dates)
    params:
        groups=setting("groups"),
        landmarks=setting("causal", "landmarks_months"),
        min_cell_count=setting("privacy", "min_cell_count"),
    script:
        "../scripts/disclosure_register.py"


rule release_tables:
    """The released tables: the results tables as written (counts already decided), attrition, ledger and Table 1 with their small cells hidden."""
    input:
        **RELEASED_TABLES,
        attrition=rules.apply_eligibility.output.attrition,
        ledger=rules.patient_ledger.output.counts,
        table_one=rules.baseline_table.output.table,
        code=package_code("release.disclosure", "cohort.table_one", "report.data_dictionary", "release.author_tables"),
    output:
        provenance="results/provenance/release_tables.json",
        tables=directory("results/release/tables"),
    log:
        "results/logs/release_tables.log",
    benchmark:
        "results/benchmarks/release_tables.tsv"
    params:
        groups=setting("groups", "labels"),
        min_cell_count=setting("privacy", "min_cell_count"),
        copied=sorted(RELEASED_TABLES),
        dictionary=setting("data_dictionary"),
        cutoffs=setting("covariate_cutoffs"),
        alpha=setting("survival", "alpha"),
    script:
        "../scripts/release_tables.py"


rule disclosure_audit:
    """Tries to recover every hidden count from the released tables; in release mode a recoverable one stops the run."""
    input:
        tables=rules.release_tables.output.tables,
        register=rules.disclosure_register.output.register,
        code=package_code("release.audit"),
    output:
        provenance="results/provenance/disclosure_audit.json",
        audit="results/release/disclosure_audit.csv",
    log:
        "results/logs/disclosure_audit.log",
    benchmark:
        "results/benchmarks/disclosure_audit.tsv"
    params:
        release=setting("privacy", "release"),
    script:
        "../scripts/disclosure_audit.py"


rule release_manifest:
    """results/release/: the report and figures beside the tables, and MANIFEST.tsv (file, SHA-256, bytes, audit verdict)."""
    input:
        **RELEASED_FIGURES,
        report=rules.render_report.output.html,
        tables=rules.release_tables.output.tables,
        audit=rules.disclosure_audit.output.audit,
        code=package_code("release.audit", "provenance"),
    output:
        provenance="results/provenance/release_manifest.json",
        report="results/release/report.html",
        figures=directory("results/release/figures"),
        manifest="results/release/MANIFEST.tsv",
    log:
        "results/logs/release_manifest.log",
    benchmark:
        "results/benchmarks/release_manifest.tsv"
    params:
        figures=sorted(RELEASED_FIGURES),
    script:
        "../scripts/release_manifest.py"


# `snakemake --cores 4 release`: the folder that may leave the hospital
rule release:
    input:
        rules.release_manifest.output.manifest,


localrules:
    release,
