"""Rule render_causal_section: causal results tables and figures -> results/causal/section.html."""
from pathlib import Path

import pandas as pd

from gistlm.bootstrap import hazard_ratio_intervals, rmst_intervals, survival_intervals
from gistlm.effect_measures import IPTW_METHOD
from gistlm.provenance import recorded
from gistlm.report import embed_png, records, render_report

with recorded(snakemake):
    inputs, plan = snakemake.input, snakemake.params.plan
    bootstrap = pd.read_csv(inputs.bootstrap, keep_default_na=False, na_values=[""])
    estimates = hazard_ratio_intervals(pd.read_csv(inputs.e_values), bootstrap, IPTW_METHOD)
    reference = plan["groups"]["reference"]
    context = {
        "plan": plan,
        "reference": reference,
        "terms": [f"{label} vs {reference}" for label in plan["groups"]["labels"] if label != reference],
        "ci_label": f"{100 * (1 - plan['alpha']):g}% CI",
        "estimates": records(estimates),
        "bootstrap_failed": int(bootstrap["failed"].max()) if len(bootstrap) else 0,
        "bootstrap_replicates": int(bootstrap["replicates"].max()) if len(bootstrap) else 0,
        "rmst": records(rmst_intervals(pd.read_csv(inputs.rmst), bootstrap)),
        "iptw_survival_at": records(survival_intervals(pd.read_csv(inputs.iptw_survival_at), bootstrap)),
        **{name: records(pd.read_csv(inputs[name]))
           for name in ["time_varying", "landmark_cox", "landmark_groups", "ccw_cox", "ccw_weights",
                        "weights_summary", "balance_verdict", "iptw_cox"]},
        **{name: embed_png(inputs[name]) for name in ["love_png", "overlap_png", "landmark_png", "iptw_png", "ccw_png"]},
    }
    Path(snakemake.output.html).write_text(render_report(inputs.template, context), encoding="utf-8")
