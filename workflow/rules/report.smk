rule baseline_table:
    """Table 1: baseline characteristics by group with SMDs and missingness."""
    input:
        cohort="results/cohort/analysis.parquet",
        code=package_code("report"),
    output:
        table="results/cohort/table_one.csv",
    params:
        groups=config["groups"]["labels"],
        continuous=config["table_one"]["continuous"],
        categorical=config["table_one"]["categorical"],
    log:
        "results/logs/baseline_table.log",
    conda:
        "../envs/gistlm.yaml"
    script:
        "../scripts/baseline_table.py"


rule draw_figures:
    """Kaplan-Meier curves with numbers at risk, and the Cox forest plot."""
    input:
        cohort="results/cohort/analysis.parquet",
        cox="results/survival/cox.csv",
        code=package_code("figures"),
    output:
        km="results/figures/km.png",
        forest="results/figures/forest.png",
    params:
        groups=config["groups"]["labels"],
        alpha=config["survival"]["alpha"],
        max_months=config["outcome"]["max_months"],
    log:
        "results/logs/draw_figures.log",
    conda:
        "../envs/gistlm.yaml"
    script:
        "../scripts/draw_figures.py"


rule render_report:
    """The self-contained HTML report."""
    input:
        attrition="results/cohort/attrition.csv",
        failures="results/validation/failure_cases.csv",
        quarantine="results/validation/quarantine.csv",
        ledger="results/validation/ledger_counts.csv",
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
        template="src/gistlm/templates/report.html.j2",
        code=package_code("report"),
    output:
        html="results/report.html",
    params:
        plan=analysis_plan(),
    log:
        "results/logs/render_report.log",
    conda:
        "../envs/gistlm.yaml"
    script:
        "../scripts/render_report.py"
