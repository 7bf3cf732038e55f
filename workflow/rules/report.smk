rule baseline_table:
    """Table 1: baseline characteristics by group with SMDs and missingness."""
    input:
        cohort="results/cohort/analysis.parquet",
        code=package_code("report"),
    output:
        provenance="results/provenance/baseline_table.json",
        table=report("results/cohort/table_one.csv", caption="../report/table_one.rst", category="Participants"),
    params:
        groups=setting("groups", "labels"),
        continuous=setting("table_one", "continuous"),
        categorical=setting("table_one", "categorical"),
    log:
        "results/logs/baseline_table.log",
    benchmark:
        "results/benchmarks/baseline_table.tsv"
    script:
        "../scripts/baseline_table.py"


rule draw_figures:
    """Kaplan-Meier curves with numbers at risk, and the Cox forest plot."""
    input:
        cohort="results/cohort/analysis.parquet",
        cox="results/survival/cox.csv",
        sites="results/survival/site_hazard_ratios.csv",
        code=package_code("figures"),
    output:
        provenance="results/provenance/draw_figures.json",
        km=report("results/figures/km.png", caption="../report/km.rst", category="Overall survival", subcategory="Figures"),
        forest=report("results/figures/forest.png", caption="../report/forest.rst", category="Overall survival", subcategory="Figures"),
        site_forest=report("results/figures/site_forest.png", caption="../report/site_forest.rst", category="Overall survival", subcategory="Sites"),
    params:
        groups=setting("groups", "labels"),
        alpha=setting("survival", "alpha"),
        max_months=setting("outcome", "max_months"),
        min_cell_count=setting("privacy", "min_cell_count"),
        dictionary=setting("data_dictionary"),
        cutoffs=setting("covariate_cutoffs"),
    log:
        "results/logs/draw_figures.log",
    benchmark:
        "results/benchmarks/draw_figures.tsv"
    script:
        "../scripts/draw_figures.py"


rule render_report:
    """The self-contained HTML report."""
    input:
        attrition="results/cohort/attrition.csv",
        exclusion_values="results/cohort/exclusion_values.csv",
        failures="results/validation/failure_cases.csv",
        quarantine="results/validation/quarantine.csv",
        ledger="results/validation/ledger_counts.csv",
        ledger_by_site="results/validation/ledger_by_site.csv",
        site_hazard_ratios="results/survival/site_hazard_ratios.csv",
        expectations="results/validation/expectations.csv",
        data_docs="results/data_docs",
        table_one="results/cohort/table_one.csv",
        median="results/survival/median_os.csv",
        follow_up="results/survival/follow_up.csv",
        rates="results/survival/os_rates.csv",
        logrank="results/survival/logrank.csv",
        cox="results/survival/cox.csv",
        ph_test="results/survival/ph_test.csv",
        km_png="results/figures/km.png",
        forest_png="results/figures/forest.png",
        site_forest_png="results/figures/site_forest.png",
        raw_records=expand("results/provenance/ingest_table/{site}/{table}.json", site=SITES, table=RAW_TABLES),
        published="resources/published_results.yaml",
        causal="results/causal/section.html",
        template="src/gistlm/templates/report.html.j2",
        code=package_code("report", "provenance", "disclosure", "spreadsheets", "data_dictionary"),
    output:
        provenance="results/provenance/render_report.json",
        html="results/report.html",
    params:
        plan=analysis_plan(),
        config=setting(),
    log:
        "results/logs/render_report.log",
    benchmark:
        "results/benchmarks/render_report.tsv"
    script:
        "../scripts/render_report.py"


rule gather_provenance:
    """Join every job's provenance record into results/provenance.json."""
    input:
        records=provenance_records(),
        code=package_code("provenance"),
    output:
        provenance="results/provenance.json",
    params:
        config=setting(),
    log:
        "results/logs/gather_provenance.log",
    benchmark:
        "results/benchmarks/gather_provenance.tsv"
    script:
        "../scripts/gather_provenance.py"


rule report_pdf:
    """The report as PDF, made only when asked for: snakemake --cores 4 results/report.pdf."""
    input:
        html="results/report.html",
        code=package_code("report"),
    output:
        provenance="results/provenance/report_pdf.json",
        pdf="results/report.pdf",
    log:
        "results/logs/report_pdf.log",
    benchmark:
        "results/benchmarks/report_pdf.tsv"
    script:
        "../scripts/report_pdf.py"
