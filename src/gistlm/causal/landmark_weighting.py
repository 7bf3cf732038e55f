"""Both biases at once: balancing weights within each landmark cohort.

At a landmark, patients alive and followed beyond it are grouped by the treatment received
by then (gistlm.causal.immortal_time.landmark_cohort), so no group is credited with time before its
treatment (immortal time). Within that landmark cohort the groups are then weighted on their
baseline covariates (gistlm.estimators.balancing: entropy balancing or GPS-IPTW) to resemble the whole
landmark cohort (measured confounding). From the landmark: weighted Kaplan-Meier, the
weighted Cox model with robust (sandwich) SEs (gistlm.estimators.cox via propensity.weighted_cox)
and the weighted RMST difference.

The estimand is the effect, among patients alive at the landmark, of having had the
procedure by then versus not (yet); patients treated later count as untreated, which pulls
the comparison towards no difference.
"""

import numpy as np
import pandas as pd

from gistlm.causal.diagnostics import gate_table, group_diagnostics
from gistlm.causal.effect_measures import rmst_weighted
from gistlm.causal.immortal_time import landmark_cohort
from gistlm.causal.propensity import (
    balance_table,
    balance_verdict,
    weighted_cohort,
    weighted_cox,
    weighted_kaplan_meier_table,
)
from gistlm.estimators.balancing import WEIGHTING_LABELS, BalanceError, weighting_table


def method_name(landmark: float, weighting: str) -> str:
    """How a landmark-weighted analysis is named in the e_values table and the report."""
    return f"landmark {landmark:g} months, {WEIGHTING_LABELS[weighting]}"


def landmark_weighted(dates: pd.DataFrame, landmark: float, groups: dict, settings: dict) -> dict[str, pd.DataFrame]:
    """Every table of one landmark's weighted analysis (full counts; the rule suppresses them).

    dates: treatment dates with the weighting covariates (immortal_time.read_dates);
    groups: the `groups` config; settings: weighting (method), propensity (covariates,
    balance_threshold, ...), alpha, rmst_horizons_months, diagnostics, min_cell_count.
    Returns km, cox, rmst, balance, verdict, groups (n, deaths, ESS per group) and gate.
    """
    labels, reference, method = groups["labels"], groups["reference"], settings["weighting"]["method"]
    propensity = settings["propensity"]
    rows = landmark_cohort(dates, landmark, groups["precedence"], groups["default"], labels)
    present = [label for label in labels if (rows["group"] == label).any()]
    name = method_name(landmark, method)
    failures = {}
    try:
        table = weighting_table(rows, present, propensity, method, failures)
    except (BalanceError, RuntimeError) as error:  # GPS-IPTW's model may not converge
        return unweightable(name, landmark, method, rows, labels, reference, str(error))
    if reference in failures:
        return unweightable(name, landmark, method, rows, labels, reference, failures[reference])
    weighted = [label for label in present if label not in failures]
    if weighted == [reference]:  # nothing left to compare
        return unweightable(
            name, landmark, method, rows, labels, reference, "no treated patient at the landmark", failures
        )
    data = weighted_cohort(rows, table)
    balance = balance_table(rows, table, weighted, propensity["covariates"], propensity["balance_threshold"])
    verdict = balance_verdict(balance)
    sizes = group_sizes(rows, table, labels)
    tag = {"landmark_months": landmark, "weighting": WEIGHTING_LABELS[method]}
    rmst = rmst_weighted(data, data["weight"].to_numpy(), weighted, reference, settings["rmst_horizons_months"])
    gate = gate_table(name, sizes, verdict, labels, reference, settings["diagnostics"], settings["min_cell_count"])
    for label, reason in failures.items():  # a group that could not be weighted has no estimate
        term = gate["term"] == f"{label} vs {reference}"
        gate.loc[term, ["interpretable", "reason"]] = [False, f"weighting failed: {reason}"]
    return {
        "km": weighted_kaplan_meier_table(data, weighted).assign(**tag),
        "cox": weighted_cox(data, weighted, reference, settings["alpha"], weighting=name).assign(**tag),
        "rmst": rmst.assign(method=name, **tag).drop(columns=["se", "ci_lower", "ci_upper", "ci_method"]),
        "balance": balance.assign(**tag),
        "verdict": verdict.assign(**tag),
        "groups": sizes.assign(**tag),
        "gate": gate.assign(landmark_months=landmark),
    }


def group_sizes(rows: pd.DataFrame, table: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """n, deaths and ESS of every group at the landmark, weighted or not (ESS empty if not)."""
    weights = rows.merge(table[["patient_id", "weight", "included"]], on="patient_id", how="left")
    sizes = group_diagnostics(weights.assign(weight=weights["weight"].where(weights["included"].eq(True), 0.0)), labels)
    unweighted = [label for label in labels if not weights.loc[weights["group"] == label, "included"].eq(True).any()]
    sizes.loc[sizes["group"].isin(unweighted), "ess"] = np.nan
    return sizes


def unweightable(
    name: str,
    landmark: float,
    method: str,
    rows: pd.DataFrame,
    labels: list[str],
    reference: str,
    reason: str,
    failures: dict | None = None,
) -> dict[str, pd.DataFrame]:
    """A landmark whose groups cannot be weighted: group sizes, and every term not
    interpretable for that reason (or its group's own, from `failures`); no estimate (it
    would not be adjusted)."""
    failures = failures or {}
    tag = {"landmark_months": landmark, "weighting": WEIGHTING_LABELS[method]}
    sizes = group_diagnostics(rows.assign(weight=np.nan), labels).assign(ess=np.nan, **tag)
    gate = pd.DataFrame(
        [
            {
                "method": name,
                "term": f"{label} vs {reference}",
                "max_abs_smd_weighted": np.nan,
                "balance_passed": False,
                "ess_treated": np.nan,
                "ess_reference": np.nan,
                "interpretable": False,
                "reason": f"weighting failed: {failures.get(label, reason)}",
                "landmark_months": landmark,
            }
            for label in labels
            if label != reference
        ]
    )
    return {
        "km": pd.DataFrame(),
        "cox": pd.DataFrame(),
        "rmst": pd.DataFrame(),
        "balance": pd.DataFrame(),
        "verdict": pd.DataFrame(),
        "groups": sizes,
        "gate": gate,
    }


def landmark_group_sizes(sizes: pd.DataFrame, dates: pd.DataFrame, landmark: float) -> pd.DataFrame:
    """The groups at a landmark and the patients left out (dead or censored by then), who
    with the groups make up the cohort: the set within which counts are suppressed."""
    gone = dates[dates["os_months"] <= landmark]
    excluded = pd.DataFrame(
        [
            {
                "group": "excluded: died or censored by the landmark",
                "n": len(gone),
                "events": int(gone["death"].sum()),
                "ess": np.nan,
            }
        ]
    )
    return pd.concat(
        [sizes.drop(columns=["landmark_months", "weighting"], errors="ignore"), excluded], ignore_index=True
    ).assign(landmark_months=landmark)
