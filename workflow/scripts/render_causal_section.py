"""Rule render_causal_section: causal results tables and figures -> results/causal/section.html."""

from pathlib import Path

import pandas as pd

from gistlm.causal.bootstrap import hazard_ratio_intervals, rmst_intervals, survival_intervals
from gistlm.estimators.balancing import WEIGHTING_LABELS, weightings
from gistlm.provenance import recorded
from gistlm.report.data_dictionary import covariate_label, resolved, term_label
from gistlm.report.render import embed_png, records, render_report


def table(path):
    try:
        return pd.read_csv(path, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:  # no landmark could be weighted
        return pd.DataFrame()


def labelled_terms(frame: pd.DataFrame, dictionary: dict) -> pd.DataFrame:
    """Covariate terms as the journal prints them ("Male vs Female"); group comparisons unchanged."""
    if "term" not in frame:
        return frame
    return frame.assign(term=frame["term"].map(lambda term: term_label(term, dictionary)))


with recorded(snakemake):
    inputs, plan = snakemake.input, snakemake.params.plan
    dictionary = resolved(plan["data_dictionary"], plan["covariate_cutoffs"])
    primary, sensitivity = [WEIGHTING_LABELS[method] for method in weightings(plan["causal"]["weighting"]["method"])]
    bootstrap = pd.read_csv(inputs.bootstrap, keep_default_na=False, na_values=[""])
    estimates = hazard_ratio_intervals(pd.read_csv(inputs.e_values, keep_default_na=False, na_values=[""]), bootstrap)
    reference = plan["groups"]["reference"]
    context = {
        "plan": plan,
        "reference": reference,
        "primary_weighting": primary,
        "sensitivity_weighting": sensitivity,
        "terms": [f"{label} vs {reference}" for label in plan["groups"]["labels"] if label != reference],
        "ci_label": f"{100 * (1 - plan['alpha']):g}% CI",
        "estimates": records(estimates),
        "bootstrap_failed": bootstrap.groupby("weighting", sort=False)["failed"].max().to_dict(),
        "bootstrap_replicates": int(bootstrap["replicates"].max()) if len(bootstrap) else 0,
        "bootstrap": records(bootstrap),
        "rmst": records(rmst_intervals(pd.read_csv(inputs.rmst), bootstrap)),
        "iptw_survival_at": records(survival_intervals(pd.read_csv(inputs.iptw_survival_at), bootstrap)),
        # covariates by the data dictionary's names, as in Table 1, the Cox tables and the Love plot
        "named": lambda columns: ", ".join(covariate_label(column, dictionary) for column in columns),
        **{name: records(labelled_terms(table(inputs[name]), dictionary)) for name in ["time_varying", "landmark_cox"]},
        **{
            name: records(table(inputs[name]))
            for name in [
                "landmark_groups",
                "ccw_cox",
                "ccw_weights",
                "weights_summary",
                "balance_verdict",
                "iptw_cox",
                "weighted_diagnostics",
                "landmark_weighted_cox",
                "landmark_weighted_groups",
                "landmark_weighted_rmst",
                "landmark_weighted_diagnostics",
            ]
        },
        **{
            name: embed_png(inputs[name]) for name in ["love_png", "overlap_png", "landmark_png", "iptw_png", "ccw_png"]
        },
    }
    Path(snakemake.output.html).write_text(render_report(inputs.template, context), encoding="utf-8")
