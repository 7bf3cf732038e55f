# Causal analyses beside the naive comparison (issue 4): immortal time (the treatment counts
# only from its date) and confounding by indication (weighting by the propensity score).
# Only the bootstrap rules receive the replicate count, so changing it reruns nothing else.
# Everything under results/causal/ is meant to leave the hospital: counts below
# privacy.min_cell_count are hidden there (gistlm.release.disclosure); patient-level tables (treatment
# dates, start-stop rows, propensity scores) are written to results/cohort/, which stays.


wildcard_constraints:
    chunk=r"\d+",


rule local_treatment_dates:
    """Per patient: months from LM diagnosis to the first procedure of each group, and which came first."""
    input:
        treatments=validated_tables()["treatments"],
        liver_metastases=validated_tables()["liver_metastases"],
        cohort=rules.derive_analysis_cohort.output.cohort,
        code=package_code("causal.immortal_time", "extract.spreadsheets"),
    output:
        provenance="results/provenance/local_treatment_dates.json",
        dates="results/cohort/treatment_dates.csv",
    log:
        "results/logs/local_treatment_dates.log",
    benchmark:
        "results/benchmarks/local_treatment_dates.tsv"
    # first when several jobs can start: the longest chain of the DAG runs through it, the
    # disclosure register and clone_censor_weight (at 1M patients the local scheduler left
    # them for last: clone_censor_weight's 33 s then ran alone on one of the two cores)
    priority: 3
    params:
        precedence=setting("groups", "precedence"),
        days_per_month=setting("outcome", "days_per_month"),
    script:
        "../scripts/local_treatment_dates.py"


rule time_varying_cox:
    """Cox model with local treatment as a time-dependent exposure (start-stop rows)."""
    input:
        dates=rules.local_treatment_dates.output.dates,
        cohort=rules.derive_analysis_cohort.output.cohort,
        register=DISCLOSURE_REGISTER,
        code=package_code(
            "causal.immortal_time", "release.disclosure", "release.count_register", "extract.spreadsheets"
        ),
    output:
        provenance="results/provenance/time_varying_cox.json",
        cox=report(
            "results/causal/time_varying_cox.csv",
            caption="../report/time_varying_cox.rst",
            category="Causal analyses",
            subcategory="Immortal time",
        ),
        rows="results/cohort/start_stop.csv",
    log:
        "results/logs/time_varying_cox.log",
    benchmark:
        "results/benchmarks/time_varying_cox.tsv"
    params:
        precedence=setting("groups", "precedence"),
        reference=setting("groups", "reference"),
        coding=setting("causal", "exposure_coding"),
        covariates=setting("survival", "cox_covariates"),
        alpha=setting("survival", "alpha"),
        min_cell_count=setting("privacy", "min_cell_count"),
    script:
        "../scripts/time_varying_cox.py"


rule landmark_analysis:
    """At each landmark: survivors grouped by treatment received so far, KM and Cox from the landmark."""
    input:
        dates=rules.local_treatment_dates.output.dates,
        cohort=rules.derive_analysis_cohort.output.cohort,
        register=DISCLOSURE_REGISTER,
        code=package_code("causal.immortal_time", "release.disclosure", "release.count_register"),
    output:
        provenance="results/provenance/landmark_analysis.json",
        km="results/causal/landmark_km.csv",
        cox=report(
            "results/causal/landmark_cox.csv",
            caption="../report/landmark_cox.rst",
            category="Causal analyses",
            subcategory="Immortal time",
        ),
        groups="results/causal/landmark_groups.csv",
    log:
        "results/logs/landmark_analysis.log",
    benchmark:
        "results/benchmarks/landmark_analysis.tsv"
    params:
        groups=setting("groups"),
        landmarks=setting("causal", "landmarks_months"),
        covariates=setting("survival", "cox_covariates"),
        alpha=setting("survival", "alpha"),
        min_cell_count=setting("privacy", "min_cell_count"),
    script:
        "../scripts/landmark_analysis.py"


rule landmark_weighted:
    """Both biases at once: at each landmark, groups by treatment received by then, weighted on
    baseline covariates (the primary weighting); weighted KM, Cox (robust SE) and RMST from the landmark."""
    input:
        dates=rules.local_treatment_dates.output.dates,
        cohort=rules.derive_analysis_cohort.output.cohort,
        code=package_code("causal.landmark_weighting", "release.disclosure"),
    output:
        provenance="results/provenance/landmark_weighted.json",
        km="results/causal/landmark_weighted_km.csv",
        cox=report(
            "results/causal/landmark_weighted_cox.csv",
            caption="../report/landmark_weighted_cox.rst",
            category="Causal analyses",
            subcategory="Immortal time and confounding",
        ),
        rmst="results/causal/landmark_weighted_rmst.csv",
        balance="results/causal/landmark_weighted_balance.csv",
        groups="results/causal/landmark_weighted_groups.csv",
        diagnostics="results/causal/landmark_weighted_diagnostics.csv",
    log:
        "results/logs/landmark_weighted.log",
    benchmark:
        "results/benchmarks/landmark_weighted.tsv"
    params:
        groups=setting("groups"),
        landmarks=setting("causal", "landmarks_months"),
        settings={
            "weighting": setting("causal", "weighting"),
            "propensity": setting("causal", "propensity"),
            "diagnostics": setting("causal", "diagnostics"),
            "rmst_horizons_months": setting("causal", "rmst_horizons_months"),
            "alpha": setting("survival", "alpha"),
        },
        min_cell_count=setting("privacy", "min_cell_count"),
    script:
        "../scripts/landmark_weighted.py"


rule clone_censor_weight:
    """Target-trial emulation: clones per strategy, censored at deviation, inverse-probability weighted."""
    input:
        dates=rules.local_treatment_dates.output.dates,
        cohort=rules.derive_analysis_cohort.output.cohort,
        register=DISCLOSURE_REGISTER,
        code=package_code("causal.target_trial", "release.disclosure", "release.count_register"),
    output:
        provenance="results/provenance/clone_censor_weight.json",
        km="results/causal/ccw_km.csv",
        cox=report(
            "results/causal/ccw_cox.csv",
            caption="../report/ccw_cox.rst",
            category="Causal analyses",
            subcategory="Target-trial emulation",
        ),
        weights="results/causal/ccw_weights.csv",
    log:
        "results/logs/clone_censor_weight.log",
    benchmark:
        "results/benchmarks/clone_censor_weight.tsv"
    priority: 2  # the longest job after the cohort (see local_treatment_dates)
    params:
        labels=setting("groups", "labels"),
        reference=setting("groups", "reference"),
        settings=setting("causal", "clone_censor_weight"),
        alpha=setting("survival", "alpha"),
        min_cell_count=setting("privacy", "min_cell_count"),
    script:
        "../scripts/clone_censor_weight.py"


rule propensity_weights:
    """Generalised propensity score; entropy-balancing and GPS-IPTW weights; covariate balance before/after."""
    input:
        cohort=rules.derive_analysis_cohort.output.cohort,
        code=package_code("estimators.balancing", "causal.propensity", "release.disclosure", "extract.spreadsheets"),
    output:
        provenance="results/provenance/propensity_weights.json",
        scores="results/cohort/propensity_scores.csv",
        weights="results/cohort/balancing_weights.csv",
        summary="results/causal/weights_summary.csv",
        balance="results/causal/balance.csv",
        verdict=report(
            "results/causal/balance_verdict.csv",
            caption="../report/balance_verdict.rst",
            category="Causal analyses",
            subcategory="Propensity score weighting",
        ),
    log:
        "results/logs/propensity_weights.log",
    benchmark:
        "results/benchmarks/propensity_weights.tsv"
    priority: 1  # the IPTW survival, RMST and E-values wait for it: early, not last
    params:
        labels=setting("groups", "labels"),
        propensity=setting("causal", "propensity"),
        weighting=setting("causal", "weighting"),
        min_cell_count=setting("privacy", "min_cell_count"),
    script:
        "../scripts/propensity_weights.py"


rule iptw_survival:
    """Weighted Kaplan-Meier per group and weighted Cox model with robust SEs, for both weightings,
    with each comparison's diagnostics (balance, effective sample size, deaths)."""
    input:
        cohort=rules.derive_analysis_cohort.output.cohort,
        weights=rules.propensity_weights.output.weights,
        verdict=rules.propensity_weights.output.verdict,
        code=package_code(
            "estimators.balancing",
            "causal.diagnostics",
            "causal.effect_measures",
            "causal.propensity",
            "release.disclosure",
        ),
    output:
        provenance="results/provenance/iptw_survival.json",
        diagnostics="results/causal/weighted_diagnostics.csv",
        km="results/causal/iptw_km.csv",
        cox=report(
            "results/causal/iptw_cox.csv",
            caption="../report/iptw_cox.rst",
            category="Causal analyses",
            subcategory="Propensity score weighting",
        ),
        survival_at="results/causal/iptw_survival_at.csv",
    log:
        "results/logs/iptw_survival.log",
    benchmark:
        "results/benchmarks/iptw_survival.tsv"
    params:
        labels=setting("groups", "labels"),
        reference=setting("groups", "reference"),
        alpha=setting("survival", "alpha"),
        survival_at_months=setting("causal", "survival_at_months"),
        diagnostics=setting("causal", "diagnostics"),
        min_cell_count=setting("privacy", "min_cell_count"),
    script:
        "../scripts/iptw_survival.py"


rule restricted_mean_survival:
    """RMST per group and difference vs the reference: unadjusted (delta-method CI) and both weightings."""
    input:
        cohort=rules.derive_analysis_cohort.output.cohort,
        weights=rules.propensity_weights.output.weights,
        code=package_code("causal.effect_measures", "estimators.balancing", "causal.propensity"),
    output:
        provenance="results/provenance/restricted_mean_survival.json",
        rmst=report(
            "results/causal/rmst.csv",
            caption="../report/rmst.rst",
            category="Causal analyses",
            subcategory="Estimates by method",
        ),
    log:
        "results/logs/restricted_mean_survival.log",
    benchmark:
        "results/benchmarks/restricted_mean_survival.tsv"
    params:
        labels=setting("groups", "labels"),
        reference=setting("groups", "reference"),
        horizons=setting("causal", "rmst_horizons_months"),
        alpha=setting("survival", "alpha"),
    script:
        "../scripts/restricted_mean_survival.py"


rule unweighted_diagnostics:
    """Whether each unweighted comparison (naive, time-varying, landmarks) has the deaths per group to be
    interpretable; in results/cohort/ as its effective sizes are the groups' unsuppressed counts."""
    input:
        cohort=rules.derive_analysis_cohort.output.cohort,
        dates=rules.local_treatment_dates.output.dates,
        code=package_code("causal.diagnostics", "causal.immortal_time"),
    output:
        provenance="results/provenance/unweighted_diagnostics.json",
        diagnostics="results/cohort/unweighted_diagnostics.csv",
    log:
        "results/logs/unweighted_diagnostics.log",
    benchmark:
        "results/benchmarks/unweighted_diagnostics.tsv"
    params:
        groups=setting("groups"),
        landmarks=setting("causal", "landmarks_months"),
        diagnostics=setting("causal", "diagnostics"),
    script:
        "../scripts/unweighted_diagnostics.py"


rule e_values:
    """The hazard ratio of each treated group vs the reference by every method, with its E-values."""
    input:
        naive=rules.cox_regression.output.cox,
        time_varying=rules.time_varying_cox.output.cox,
        landmark=rules.landmark_analysis.output.cox,
        iptw=rules.iptw_survival.output.cox,
        ccw=rules.clone_censor_weight.output.cox,
        landmark_weighted=rules.landmark_weighted.output.cox,
        iptw_diagnostics=rules.iptw_survival.output.diagnostics,
        landmark_diagnostics=rules.landmark_weighted.output.diagnostics,
        unweighted_diagnostics=rules.unweighted_diagnostics.output.diagnostics,
        code=package_code("causal.effect_measures", "causal.diagnostics", "estimators.balancing"),
    output:
        provenance="results/provenance/e_values.json",
        table=report(
            "results/causal/e_values.csv",
            caption="../report/e_values.rst",
            category="Causal analyses",
            subcategory="Estimates by method",
        ),
    log:
        "results/logs/e_values.log",
    benchmark:
        "results/benchmarks/e_values.tsv"
    params:
        labels=setting("groups", "labels"),
        reference=setting("groups", "reference"),
        common_outcome=setting("causal", "common_outcome"),
        diagnostics=setting("causal", "diagnostics"),
        min_cell_count=setting("privacy", "min_cell_count"),
    script:
        "../scripts/e_values.py"


rule bootstrap_chunk:
    """One block of bootstrap replicates of the whole IPTW analysis (one job per chunk)."""
    input:
        cohort=rules.derive_analysis_cohort.output.cohort,
        code=package_code("causal.bootstrap"),
    output:
        provenance="results/provenance/bootstrap_chunk/{chunk}.json",
        replicates="results/causal/bootstrap/chunk_{chunk}.csv",
    log:
        "results/logs/bootstrap_chunk/{chunk}.log",
    benchmark:
        "results/benchmarks/bootstrap_chunk/{chunk}.tsv"
    priority: 1  # long jobs with a job after them (bootstrap_gather): early, not last
    params:
        labels=setting("groups", "labels"),
        reference=setting("groups", "reference"),
        settings=bootstrap_settings(),
        bootstrap=setting("causal", "bootstrap"),
    script:
        "../scripts/bootstrap_chunk.py"


rule bootstrap_estimates:
    """The IPTW estimates of the analysis cohort itself: the point estimates of the bootstrap intervals."""
    input:
        cohort=rules.derive_analysis_cohort.output.cohort,
        code=package_code("causal.bootstrap"),
    output:
        provenance="results/provenance/bootstrap_estimates.json",
        estimates="results/causal/bootstrap/estimates.csv",
    log:
        "results/logs/bootstrap_estimates.log",
    benchmark:
        "results/benchmarks/bootstrap_estimates.tsv"
    params:
        labels=setting("groups", "labels"),
        reference=setting("groups", "reference"),
        settings=bootstrap_settings(),
    script:
        "../scripts/bootstrap_estimates.py"


rule bootstrap_gather:
    """Percentile confidence intervals of the IPTW estimates from all chunks."""
    input:
        chunks=expand(rules.bootstrap_chunk.output.replicates, chunk=range(config["causal"]["bootstrap"]["chunks"])),
        estimates=rules.bootstrap_estimates.output.estimates,
        code=package_code("causal.bootstrap"),
    output:
        provenance="results/provenance/bootstrap_gather.json",
        intervals=report(
            "results/causal/bootstrap_ci.csv",
            caption="../report/bootstrap_ci.rst",
            category="Causal analyses",
            subcategory="Propensity score weighting",
        ),
    log:
        "results/logs/bootstrap_gather.log",
    benchmark:
        "results/benchmarks/bootstrap_gather.tsv"
    params:
        alpha=setting("survival", "alpha"),
        max_degenerate_share=setting("causal", "diagnostics", "max_degenerate_share"),
    script:
        "../scripts/bootstrap_gather.py"


rule draw_causal_figures:
    """Love plot, propensity overlap, and landmark / IPTW / clone-censor-weight survival curves."""
    input:
        balance=rules.propensity_weights.output.balance,
        scores=rules.propensity_weights.output.scores,
        landmark_km=rules.landmark_analysis.output.km,
        landmark_groups=rules.landmark_analysis.output.groups,
        iptw_km=rules.iptw_survival.output.km,
        ccw_km=rules.clone_censor_weight.output.km,
        code=package_code("report.causal_figures"),
    output:
        provenance="results/provenance/draw_causal_figures.json",
        love=report(
            "results/causal/figures/love.png",
            caption="../report/love.rst",
            category="Causal analyses",
            subcategory="Propensity score weighting",
        ),
        overlap=report(
            "results/causal/figures/overlap.png",
            caption="../report/overlap.rst",
            category="Causal analyses",
            subcategory="Propensity score weighting",
        ),
        landmark=report(
            "results/causal/figures/landmark_km.png",
            caption="../report/landmark_km.rst",
            category="Causal analyses",
            subcategory="Immortal time",
        ),
        iptw=report(
            "results/causal/figures/iptw_km.png",
            caption="../report/iptw_km.rst",
            category="Causal analyses",
            subcategory="Propensity score weighting",
        ),
        ccw=report(
            "results/causal/figures/ccw_km.png",
            caption="../report/ccw_km.rst",
            category="Causal analyses",
            subcategory="Target-trial emulation",
        ),
    log:
        "results/logs/draw_causal_figures.log",
    benchmark:
        "results/benchmarks/draw_causal_figures.tsv"
    params:
        labels=setting("groups", "labels"),
        threshold=setting("causal", "propensity", "balance_threshold"),
        min_cell_count=setting("privacy", "min_cell_count"),
        dictionary=setting("data_dictionary"),
        cutoffs=setting("covariate_cutoffs"),
    script:
        "../scripts/draw_causal_figures.py"


rule render_causal_section:
    """The causal analyses as an HTML fragment for the report, figures embedded."""
    input:
        e_values=rules.e_values.output.table,
        time_varying=rules.time_varying_cox.output.cox,
        landmark_cox=rules.landmark_analysis.output.cox,
        landmark_groups=rules.landmark_analysis.output.groups,
        ccw_cox=rules.clone_censor_weight.output.cox,
        ccw_weights=rules.clone_censor_weight.output.weights,
        weights_summary=rules.propensity_weights.output.summary,
        balance_verdict=rules.propensity_weights.output.verdict,
        iptw_cox=rules.iptw_survival.output.cox,
        iptw_survival_at=rules.iptw_survival.output.survival_at,
        rmst=rules.restricted_mean_survival.output.rmst,
        bootstrap=rules.bootstrap_gather.output.intervals,
        weighted_diagnostics=rules.iptw_survival.output.diagnostics,
        landmark_weighted_cox=rules.landmark_weighted.output.cox,
        landmark_weighted_groups=rules.landmark_weighted.output.groups,
        landmark_weighted_rmst=rules.landmark_weighted.output.rmst,
        landmark_weighted_diagnostics=rules.landmark_weighted.output.diagnostics,
        love_png=rules.draw_causal_figures.output.love,
        overlap_png=rules.draw_causal_figures.output.overlap,
        landmark_png=rules.draw_causal_figures.output.landmark,
        iptw_png=rules.draw_causal_figures.output.iptw,
        ccw_png=rules.draw_causal_figures.output.ccw,
        template=shipped("src/gistlm/report/templates/causal_section.html.j2"),
        code=package_code(
            "report.render",
            "causal.bootstrap",
            "causal.effect_measures",
            "estimators.balancing",
            "causal.diagnostics",
            "report.data_dictionary",
        ),
    output:
        provenance="results/provenance/render_causal_section.json",
        html="results/causal/section.html",
    log:
        "results/logs/render_causal_section.log",
    benchmark:
        "results/benchmarks/render_causal_section.tsv"
    params:
        plan={
            "causal": setting("causal"),
            "groups": setting("groups"),
            "cox_covariates": setting("survival", "cox_covariates"),
            "alpha": setting("survival", "alpha"),
            "data_dictionary": setting("data_dictionary"),
            "covariate_cutoffs": setting("covariate_cutoffs"),
        },
    script:
        "../scripts/render_causal_section.py"
