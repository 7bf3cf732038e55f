rule baseline_table:
    """Table 1: baseline characteristics by group with SMDs and missingness."""
    input:
        cohort=rules.derive_analysis_cohort.output.cohort,
        code=package_code("cohort.table_one"),
    output:
        provenance="results/provenance/baseline_table.json",
        table=report("results/cohort/table_one.csv", caption="../report/table_one.rst", category="Participants"),
    log:
        "results/logs/baseline_table.log",
    benchmark:
        "results/benchmarks/baseline_table.tsv"
    params:
        groups=setting("groups", "labels"),
        continuous=setting("table_one", "continuous"),
        categorical=setting("table_one", "categorical"),
    script:
        "../scripts/baseline_table.py"


rule draw_figures:
    """Kaplan-Meier curves with numbers at risk, and the Cox forest plot."""
    input:
        cohort=rules.derive_analysis_cohort.output.cohort,
        cox=rules.cox_regression.output.cox,
        sites=rules.site_hazard_ratios.output.sites,
        code=package_code("report.figures"),
    output:
        provenance="results/provenance/draw_figures.json",
        km=report(
            "results/figures/km.png", caption="../report/km.rst", category="Overall survival", subcategory="Figures"
        ),
        forest=report(
            "results/figures/forest.png",
            caption="../report/forest.rst",
            category="Overall survival",
            subcategory="Figures",
        ),
        site_forest=report(
            "results/figures/site_forest.png",
            caption="../report/site_forest.rst",
            category="Overall survival",
            subcategory="Sites",
        ),
    log:
        "results/logs/draw_figures.log",
    benchmark:
        "results/benchmarks/draw_figures.tsv"
    params:
        groups=setting("groups", "labels"),
        alpha=setting("survival", "alpha"),
        max_months=setting("outcome", "max_months"),
        min_cell_count=setting("privacy", "min_cell_count"),
        dictionary=setting("data_dictionary"),
        cutoffs=setting("covariate_cutoffs"),
    script:
        "../scripts/draw_figures.py"


rule render_report:
    """The self-contained HTML report."""
    input:
        attrition=rules.apply_eligibility.output.attrition,
        exclusion_values=rules.apply_eligibility.output.exclusion_values,
        failures=rules.pool_sites.output.failures,
        quarantine=rules.pool_sites.output.quarantine,
        ledger=rules.patient_ledger.output.counts,
        ledger_by_site=rules.patient_ledger.output.by_site,
        site_hazard_ratios=rules.site_hazard_ratios.output.sites,
        expectations=rules.data_quality_suite.output.results,
        data_docs=rules.data_quality_suite.output.docs,
        table_one=rules.baseline_table.output.table,
        median=rules.kaplan_meier.output.median,
        follow_up=rules.kaplan_meier.output.follow_up,
        rates=rules.kaplan_meier.output.rates,
        logrank=rules.kaplan_meier.output.logrank,
        cox=rules.cox_regression.output.cox,
        ph_test=rules.cox_regression.output.ph_test,
        km_png=rules.draw_figures.output.km,
        forest_png=rules.draw_figures.output.forest,
        site_forest_png=rules.draw_figures.output.site_forest,
        raw_records=all_sites(rules.ingest_extract.output.provenance),
        published=shipped("resources/published_results.yaml"),
        causal=rules.render_causal_section.output.html,
        template=shipped("src/gistlm/report/templates/report.html.j2"),
        code=package_code(
            "report.render",
            "cohort.table_one",
            "provenance",
            "release.disclosure",
            "extract.spreadsheets",
            "report.data_dictionary",
        ),
    output:
        provenance="results/provenance/render_report.json",
        html="results/report.html",
    log:
        "results/logs/render_report.log",
    benchmark:
        "results/benchmarks/render_report.tsv"
    params:
        plan=analysis_plan(),
        config=setting(),
    script:
        "../scripts/render_report.py"


rule gather_provenance:
    """Join every job's provenance record into results/provenance.json."""
    input:
        records=provenance_records,
        code=package_code("provenance"),
    output:
        provenance="results/provenance.json",
    log:
        "results/logs/gather_provenance.log",
    benchmark:
        "results/benchmarks/gather_provenance.tsv"
    params:
        config=setting(),
    script:
        "../scripts/gather_provenance.py"


rule report_pdf:
    """The report as PDF, made only when asked for: snakemake --cores 4 results/report.pdf."""
    input:
        html=rules.render_report.output.html,
        code=package_code("report.render"),
    output:
        provenance="results/provenance/report_pdf.json",
        pdf="results/report.pdf",
    log:
        "results/logs/report_pdf.log",
    benchmark:
        "results/benchmarks/report_pdf.tsv"
    script:
        "../scripts/report_pdf.py"
