"""Rule render_report: results tables and figures -> results/report.html (small cells hidden)."""

from pathlib import Path

import pandas as pd
import yaml

from gistlm.cohort.table_one import journal_table_one
from gistlm.extract.spreadsheets import read_csv
from gistlm.provenance import recorded, run_summary
from gistlm.release.disclosure import release_attrition, release_ledger, release_site_counts
from gistlm.report.data_dictionary import covariate_label, resolved, term_label
from gistlm.report.render import embed_png, failure_summary, published_vs_reproduced, records, render_report

with recorded(snakemake):
    inputs, plan = snakemake.input, snakemake.params.plan
    minimum, groups = plan["privacy"]["min_cell_count"], plan["groups"]["labels"]
    tables = {name: pd.read_csv(inputs[name]) for name in ["median", "follow_up", "rates", "logrank", "cox", "ph_test"]}
    dictionary = resolved(plan["data_dictionary"], plan["covariate_cutoffs"])
    table_one = journal_table_one(
        pd.read_csv(inputs.table_one, dtype=str, keep_default_na=False, na_values=[""]), groups, dictionary, minimum
    )
    failures = read_csv(inputs.failures, dtype={"value": str})
    published = yaml.safe_load(Path(inputs.published).read_text())["figures"]
    context = {
        "plan": plan,
        "groups": groups,
        "named": lambda columns: ", ".join(covariate_label(column, dictionary) for column in columns),
        "rate_months": plan["rate_months"],
        "ci_label": f"{100 * (1 - plan['alpha']):g}% CI",
        "attrition": records(release_attrition(pd.read_csv(inputs.attrition), minimum)),
        "failures": records(failures),
        "failures_total": len(failures),
        "failure_summary": records(failure_summary(failures)),
        "quarantined": len(pd.read_csv(inputs.quarantine)),
        # already released by apply_eligibility (small counts hidden)
        "exclusion_values": records(read_csv(inputs.exclusion_values, dtype=str, keep_default_na=False)),
        "ledger": records(release_ledger(pd.read_csv(inputs.ledger), minimum)),
        "sites": records(release_site_counts(pd.read_csv(inputs.ledger_by_site, dtype={"site": str}), minimum)),
        "site_hazard_ratios": records(pd.read_csv(inputs.site_hazard_ratios, dtype={"site": str})),
        "expectations": records(pd.read_csv(inputs.expectations)),
        # the report sits in results/, beside the data_docs folder
        "data_docs": str(Path(inputs.data_docs).relative_to(Path(snakemake.output.html).parent) / "index.html"),
        "table_one": records(table_one),
        "table_one_columns": list(table_one.columns),
        # the survival tables arrive with small counts already hidden
        "median_os": records(tables["median"]),
        "follow_up": records(tables["follow_up"]),
        "os_rates": records(tables["rates"]),
        "logrank": records(tables["logrank"]),
        "cox": records(tables["cox"].assign(term=tables["cox"]["term"].map(lambda t: term_label(t, dictionary)))),
        "ph_test": records(tables["ph_test"]),
        "published": published_vs_reproduced(published, tables, plan["groups"]["reference"]),
        "causal_section": Path(inputs.causal).read_text(encoding="utf-8"),
        "provenance": run_summary(inputs.raw_records, snakemake.params.config, snakemake.scriptdir),
        "km_png": embed_png(inputs.km_png),
        "forest_png": embed_png(inputs.forest_png),
        "site_forest_png": embed_png(inputs.site_forest_png) if plan["sites"] else None,
    }
    Path(snakemake.output.html).write_text(render_report(inputs.template, context), encoding="utf-8")
