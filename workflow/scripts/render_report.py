"""Rule render_report: results tables and figures -> results/report.html."""
from pathlib import Path

import pandas as pd

from gistlm.report import embed_png, failure_summary, records, render_report
from gistlm.provenance import recorded, run_summary

with recorded(snakemake):
    inputs, plan = snakemake.input, snakemake.params.plan
    failures = pd.read_csv(inputs.failures, dtype={"value": str})
    table_one = pd.read_csv(inputs.table_one, dtype=str)
    context = {
        "plan": plan,
        "groups": plan["groups"]["labels"],
        "rate_months": plan["rate_months"],
        "ci_label": f"{100 * (1 - plan['alpha']):g}% CI",
        "attrition": records(pd.read_csv(inputs.attrition)),
        "failures": records(failures),
        "failures_total": len(failures),
        "failure_summary": records(failure_summary(failures)),
        "quarantined": len(pd.read_csv(inputs.quarantine)),
        "ledger": records(pd.read_csv(inputs.ledger)),
        "expectations": records(pd.read_csv(inputs.expectations)),
        # the report sits in results/, beside the data_docs folder
        "data_docs": str(Path(inputs.data_docs).relative_to(Path(snakemake.output.html).parent) / "index.html"),
        "table_one": records(table_one),
        "table_one_columns": list(table_one.columns),
        **{name: records(pd.read_csv(inputs[name]))
           for name in ["median", "follow_up", "logrank", "cox", "ph_test"]},
        "os_rates": records(pd.read_csv(inputs.rates)),
        "provenance": run_summary(inputs.raw_records, snakemake.params.config, snakemake.scriptdir),
        "km_png": embed_png(inputs.km_png),
        "forest_png": embed_png(inputs.forest_png),
    }
    context["median_os"] = context.pop("median")
    Path(snakemake.output.html).write_text(render_report(inputs.template, context), encoding="utf-8")
