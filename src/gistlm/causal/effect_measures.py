"""Effect measures beside the hazard ratio: restricted mean survival time (RMST) and E-values.

RMST up to a horizon is the area under the survival curve: the mean number of months lived
out of the next `horizon`, which stays interpretable when hazards are not proportional.
Unadjusted RMSTs get delta-method (Greenwood-type) confidence intervals; IPTW-weighted ones
get bootstrap intervals (gistlm.causal.bootstrap), since the weights are estimated.

The E-value (VanderWeele & Ding, Ann Intern Med 2017) is the minimum strength of association,
on the risk-ratio scale, that an unmeasured confounder would need with both treatment and
death to explain an estimate away.
"""

import numpy as np
import pandas as pd

from gistlm.estimators.kaplan_meier import area_under_steps, kaplan_meier, rmst_with_se
from gistlm.survival.overall_survival import EVENT, TIME, by_group

IPTW_METHOD = "IPTW (marginal)"


def marginal_method(weighting: str) -> str:
    """The e_values method of a weighted Cox model with groups fixed at LM diagnosis."""
    return f"{weighting} (marginal)"


# --- RMST per group ----------------------------------------------------------------------


def rmst_unadjusted(
    cohort: pd.DataFrame, groups: list[str], reference: str, horizons: list[float], alpha: float
) -> pd.DataFrame:
    """RMST per group and its difference from the reference, with delta-method CIs.

    The difference's variance is the sum of the two groups' (independent samples); a
    group's interval is cut to [0, horizon].
    """
    from scipy import special  # not scipy.stats: 0.4 s more to import, for the same quantile

    z = special.ndtri(1 - alpha / 2)
    rows = []
    for horizon in horizons:
        found = {
            label: rmst_with_se(members[TIME].to_numpy(), members[EVENT].to_numpy(), horizon)
            for label, members in by_group(cohort, groups)
            if len(members)
        }
        rows += [
            {"horizon_months": horizon, "term": label, "estimate": value, "se": se}
            for label, (value, se) in found.items()
        ]
        rows += [
            {
                "horizon_months": horizon,
                "term": f"{label} - {reference}",
                "estimate": value - found[reference][0],
                "se": float(np.hypot(se, found[reference][1])),
            }
            for label, (value, se) in found.items()
            if label != reference and reference in found
        ]
    table = pd.DataFrame(rows)
    table["ci_lower"] = table["estimate"] - z * table["se"]
    table["ci_upper"] = table["estimate"] + z * table["se"]
    # a group's RMST lies in [0, horizon]; the symmetric interval may not
    group = ~table["term"].str.contains(f" - {reference}", regex=False)
    table.loc[group, "ci_lower"] = table.loc[group, "ci_lower"].clip(lower=0)
    table.loc[group, "ci_upper"] = table.loc[group, "ci_upper"].clip(upper=table.loc[group, "horizon_months"])
    table.insert(0, "method", "unadjusted")
    table["ci_method"] = "delta (Greenwood)"
    return table[["method", "horizon_months", "term", "estimate", "se", "ci_lower", "ci_upper", "ci_method"]]


def rmst_weighted(
    cohort: pd.DataFrame, weights: np.ndarray, groups: list[str], reference: str, horizons: list[float]
) -> pd.DataFrame:
    """IPTW RMST per group and differences from the reference (point estimates only)."""
    rows = []
    for horizon in horizons:
        found = {}
        for label in groups:
            member = (cohort["group"].astype(str) == label).to_numpy()
            if member.any():
                curve = kaplan_meier(cohort[TIME].to_numpy()[member], cohort[EVENT].to_numpy()[member], weights[member])
                found[label] = area_under_steps(curve.time, curve.survival, horizon)
        rows += [{"horizon_months": horizon, "term": label, "estimate": value} for label, value in found.items()]
        rows += [
            {"horizon_months": horizon, "term": f"{label} - {reference}", "estimate": value - found[reference]}
            for label, value in found.items()
            if label != reference and reference in found
        ]
    table = pd.DataFrame(rows)
    table.insert(0, "method", "IPTW")
    table["se"] = np.nan
    table["ci_lower"] = np.nan
    table["ci_upper"] = np.nan
    table["ci_method"] = "bootstrap percentile (results/causal/bootstrap_ci.csv)"
    return table[["method", "horizon_months", "term", "estimate", "se", "ci_lower", "ci_upper", "ci_method"]]


# --- every method's hazard ratio ---------------------------------------------------------


def hazard_ratios_by_method(tables: dict[str, pd.DataFrame], reference: str) -> pd.DataFrame:
    """Hazard ratios of each group vs the reference from every method, one row each.

    tables: naive (results/survival/cox.csv; its multivariable model), time_varying,
    landmark (multivariable model per landmark), iptw, ccw. Columns: method, term, hr,
    ci_lower, ci_upper, ci_method.
    """

    def pick(table, method, ci_method, mask=None):
        rows = table if mask is None else table[mask]
        rows = rows[rows["term"].str.endswith(f" vs {reference}")]
        return pd.DataFrame(
            {
                "method": method,
                "term": rows["term"].to_numpy(),
                "hr": rows["hr"].to_numpy(),
                "ci_lower": rows["ci_lower"].to_numpy(),
                "ci_upper": rows["ci_upper"].to_numpy(),
                "ci_method": ci_method,
            }
        )

    naive, landmark = tables["naive"], tables["landmark"]
    found = [
        pick(naive, "naive (groups fixed at LM diagnosis)", "Wald", naive["model"] == "multivariable"),
        pick(tables["time_varying"], "time-varying Cox", "Wald"),
    ]
    for months in sorted(landmark["landmark_months"].unique()):
        found.append(
            pick(
                landmark,
                f"landmark {months:g} months",
                "Wald",
                (landmark["landmark_months"] == months) & (landmark["model"] == "multivariable"),
            )
        )
    for weighting, rows in tables["iptw"].groupby("model", sort=False):  # one model per weighting
        found.append(pick(rows, marginal_method(weighting), "robust (sandwich)"))
    found.append(pick(tables["ccw"], "clone-censor-weight", "robust (sandwich, clustered on patient)"))
    return pd.concat(found, ignore_index=True)


# --- E-values ----------------------------------------------------------------------------


def hazard_ratio_as_risk_ratio(hr: float, common_outcome: bool) -> float:
    """The risk ratio an HR corresponds to, for the E-value.

    Rare outcome (< 15% by the end of follow-up): RR ~ HR. Common outcome: VanderWeele's
    square-root conversion RR ~ (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)).
    """
    if not common_outcome:
        return hr
    return (1 - 0.5 ** np.sqrt(hr)) / (1 - 0.5 ** np.sqrt(1 / hr))


def e_value_of_risk_ratio(rr: float) -> float:
    """RR + sqrt(RR (RR - 1)), after turning a protective RR (< 1) into 1 / RR."""
    if not np.isfinite(rr) or rr <= 0:
        return np.nan
    rr = max(rr, 1 / rr)
    return float(rr + np.sqrt(rr * (rr - 1)))


def e_values(hr: float, ci_lower: float, ci_upper: float, common_outcome: bool) -> tuple[float, float]:
    """E-value of the point estimate, and of the CI limit closer to 1 (1 if the CI covers 1)."""
    point = e_value_of_risk_ratio(hazard_ratio_as_risk_ratio(hr, common_outcome))
    if not all(np.isfinite([hr, ci_lower, ci_upper])):
        return point, np.nan
    if ci_lower <= 1 <= ci_upper:
        return point, 1.0
    closer = ci_upper if hr < 1 else ci_lower
    return point, e_value_of_risk_ratio(hazard_ratio_as_risk_ratio(closer, common_outcome))


def e_value_table(estimates: pd.DataFrame, common_outcome: bool) -> pd.DataFrame:
    """`estimates` (method, term, hr, ci_lower, ci_upper, ...) with e_value and e_value_ci."""
    table = estimates.copy()
    pairs = [e_values(row.hr, row.ci_lower, row.ci_upper, common_outcome) for row in table.itertuples()]
    table["e_value"] = [point for point, _ in pairs]
    table["e_value_ci"] = [limit for _, limit in pairs]
    table["outcome_assumed"] = "common (sqrt conversion)" if common_outcome else "rare (RR ~ HR)"
    return table
