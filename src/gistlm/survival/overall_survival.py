"""Overall-survival estimates: Kaplan-Meier, log-rank (lifelines), Cox, proportional-hazards tests.

Every function takes the analysis cohort (`os_months`, `death`, `group`, covariates) and
returns a tidy table, one CSV of `results/survival/` each. Kaplan-Meier curves and their
log(-log) intervals are gistlm.estimators.kaplan_meier's, missing where R's survfit gives none;
Cox models use Efron's ties, fitted to R's maximum by gistlm.estimators.cox;
the proportional-hazards test is R's cox.zph (survival >= 3.0). tests/test_r_reference.py
checks each against R.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gistlm.estimators.cox import CoxFitter, hazard_ratio_table, proportional_hazards_test
from gistlm.estimators.kaplan_meier import (
    KaplanMeier,
    first_time_at_or_below,
    from_time_zero,
    kaplan_meier,
    log_log_interval,
)
from gistlm.estimators.meta_analysis import dersimonian_laird
from gistlm.extract.errors import ExtractError

# lifelines and statsmodels are imported by the functions that use them (the log-rank tests,
# the meta-analysis's pooling): importing them costs a job 1-1.5 s of CPU, and the Cox rules need neither

TIME, EVENT = "os_months", "death"
# where lifelines' CoxPHFitter is still used as it is (target_trial's treatment model): its
# default stopping rule stops 1.6e-4 short of R's maximum on the shipped cohort (univariable
# `male`); stopping on the Newton step alone (norm < 1e-12 or decrement < 1e-12) reaches it
COX_FIT_OPTIONS = {"precision": 1e-12, "r_precision": 0.0}


def fit_kaplan_meier(cohort: pd.DataFrame, reverse: bool = False) -> KaplanMeier:
    """KM of overall survival from time 0 (everyone at risk); `reverse` estimates follow-up
    (censoring is the event)."""
    events = 1 - cohort[EVENT] if reverse else cohort[EVENT]
    return from_time_zero(kaplan_meier(cohort[TIME].to_numpy(float), events.to_numpy()))


def by_group(cohort: pd.DataFrame, groups: list[str]):
    """(label, rows) for each group in the configured order."""
    for label in groups:
        yield label, cohort[cohort["group"] == label]


def kaplan_meier_table(cohort: pd.DataFrame, groups: list[str], alpha: float) -> pd.DataFrame:
    """Per group and time (0, then each death or censoring): at risk, events, censored,
    survival and its log(-log) CI (missing where the survival is 1 or 0, as R's survfit)."""
    tables = []
    for label, rows in by_group(cohort, groups):
        curve = fit_kaplan_meier(rows)
        lower, upper = log_log_interval(curve, alpha)
        tables.append(
            pd.DataFrame(
                {
                    "group": label,
                    "time": curve.time,
                    "at_risk": curve.at_risk.astype("int64"),
                    "events": curve.deaths.astype("int64"),
                    "censored": curve.censored.astype("int64"),
                    "survival": curve.survival,
                    "ci_lower": lower,
                    "ci_upper": upper,
                }
            )
        )
    return pd.concat(tables, ignore_index=True)


def _finite(value: float) -> float:
    """Not reached (infinite) is written as missing."""
    return value if np.isfinite(value) else np.nan


def median_os(cohort: pd.DataFrame, groups: list[str], alpha: float, reverse: bool = False) -> pd.DataFrame:
    """Median (KM) per group with its CI (where the interval's limits reach 0.5); NaN where
    the curve does not reach 0.5."""
    rows = []
    for label, members in [*by_group(cohort, groups), ("All", cohort)]:
        curve = fit_kaplan_meier(members, reverse=reverse)
        # a limit is 1 where the survival is 1 and 0 where it is 0 (no interval there)
        limits = [
            np.where(curve.survival == 1, 1.0, np.where(curve.survival == 0, 0.0, limit))
            for limit in log_log_interval(curve, alpha)
        ]
        rows.append(
            {
                "group": label,
                "n": len(members),
                "events": int(curve.deaths.sum()),
                "median": _finite(first_time_at_or_below(curve.time, curve.survival)),
                "ci_lower": _finite(first_time_at_or_below(curve.time, limits[0])),
                "ci_upper": _finite(first_time_at_or_below(curve.time, limits[1])),
            }
        )
    return pd.DataFrame(rows)


def os_rates(cohort: pd.DataFrame, groups: list[str], alpha: float, months: list[float]) -> pd.DataFrame:
    """KM survival and CI at fixed months; NaN beyond a group's last follow-up."""
    rows = []
    for label, members in by_group(cohort, groups):
        curve = fit_kaplan_meier(members)
        lower, upper = log_log_interval(curve, alpha)
        for month in months:
            observed = month <= members[TIME].max()
            at = np.searchsorted(curve.time, month, side="right") - 1
            rows.append(
                {
                    "group": label,
                    "month": month,
                    "survival": curve.survival[at] if observed else np.nan,
                    "ci_lower": lower[at] if observed else np.nan,
                    "ci_upper": upper[at] if observed else np.nan,
                }
            )
    return pd.DataFrame(rows)


def logrank_tests(cohort: pd.DataFrame, groups: list[str], reference: str) -> pd.DataFrame:
    """Global log-rank across groups, then each group vs the reference, Holm-adjusted."""
    from lifelines.statistics import logrank_test, multivariate_logrank_test
    from statsmodels.stats.multitest import multipletests

    overall = multivariate_logrank_test(cohort[TIME], cohort["group"].astype(str), cohort[EVENT])
    rows = [
        {
            "comparison": "global",
            "statistic": overall.test_statistic,
            "df": overall.degrees_of_freedom,
            "p_value": overall.p_value,
        }
    ]
    reference_rows = cohort[cohort["group"] == reference]
    for label, members in by_group(cohort, [g for g in groups if g != reference]):
        test = logrank_test(members[TIME], reference_rows[TIME], members[EVENT], reference_rows[EVENT])
        rows.append(
            {
                "comparison": f"{label} vs {reference}",
                "statistic": test.test_statistic,
                "df": 1,
                "p_value": test.p_value,
            }
        )
    table = pd.DataFrame(rows)
    pairwise = table["comparison"] != "global"
    table.loc[pairwise, "p_adjusted"] = multipletests(table.loc[pairwise, "p_value"], method="holm")[1]
    return table


def group_indicators(cohort: pd.DataFrame, groups: list[str], reference: str) -> pd.DataFrame:
    """0/1 columns `<group> vs <reference>` for each non-reference group."""
    return pd.DataFrame(
        {
            f"{label} vs {reference}": (cohort["group"] == label).astype("float64")
            for label in groups
            if label != reference
        },
        index=cohort.index,
    )


def fit_cox(
    cohort: pd.DataFrame, terms: pd.DataFrame, alpha: float, strata: list[str] | None = None
) -> tuple[CoxFitter, pd.DataFrame]:
    """Cox model of OS on `terms` (a baseline hazard per level of `strata`; Efron's ties),
    complete cases only; returns the fit and its data."""
    data = pd.concat([cohort[[TIME, EVENT, *(strata or [])]], terms], axis=1).dropna()
    return CoxFitter(alpha=alpha).fit(data, duration_col=TIME, event_col=EVENT, strata=strata), data


def cox_summary(model: str, fit: CoxFitter, data: pd.DataFrame) -> pd.DataFrame:
    """One row per term: log-HR, SE, HR with its CI, Wald p; n and events of the model."""
    table = hazard_ratio_table(fit)
    table.insert(0, "model", model)
    return table.assign(n=len(data), events=int(data[EVENT].sum()))


def cox_models(
    cohort: pd.DataFrame,
    groups: list[str],
    reference: str,
    covariates: list[str],
    alpha: float,
    strata: list[str] | None = None,
    ph_transform: str = "km",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Univariable models (group; each covariate) and the multivariable one, with its PH tests
    on the `ph_transform` time scale; every model stratified by `strata` (e.g. ["site"]) if given."""
    indicators = group_indicators(cohort, groups, reference)
    univariable = [fit_cox(cohort, indicators, alpha, strata)]
    univariable += [fit_cox(cohort, cohort[[name]], alpha, strata) for name in covariates]
    full_fit, full_data = fit_cox(cohort, pd.concat([indicators, cohort[covariates]], axis=1), alpha, strata)
    for fit, data in [*univariable, (full_fit, full_data)]:
        check_converged(fit, data)
    table = pd.concat(
        [cox_summary("univariable", fit, data) for fit, data in univariable]
        + [cox_summary("multivariable", full_fit, full_data)],
        ignore_index=True,
    )
    return table, ph_tests(full_fit, full_data, strata, ph_transform)


def check_converged(fit: CoxFitter, data: pd.DataFrame) -> None:
    """Stop with one paragraph when a model of the primary analysis has no maximum."""
    if not fit.converged_:
        raise ExtractError(
            f"the Cox model of overall survival on {', '.join(fit.params_.index)} ({len(data)} patients, "
            f"{int(data[EVENT].sum())} deaths) did not converge: a term does not vary among these patients, "
            "or separates those who died from those who did not (e.g. every patient of a group died first). "
            "Check its values in results/cohort/analysis.parquet, or remove the covariate from "
            "survival.cox_covariates in the config."
        )


def ph_tests(
    fit: CoxFitter,
    data: pd.DataFrame,
    strata: list[str] | None = None,
    transform: str = "km",
    weights: np.ndarray | None = None,
) -> pd.DataFrame:
    """R's cox.zph of the multivariable model, per term and global (gistlm.estimators.cox)."""
    table = proportional_hazards_test(fit, data, TIME, EVENT, strata, transform, weights)
    table.insert(0, "model", "multivariable")
    return table


SITE_COLUMNS = [
    "site",
    "term",
    "patients_in_group",
    "deaths_in_group",
    "coef",
    "se",
    "hr",
    "ci_lower",
    "ci_upper",
    "p_value",
    "i2",
    "heterogeneity_p",
    "note",
]
STRATIFIED, RANDOM_EFFECTS = "all sites (stratified Cox)", "all sites (random-effects meta-analysis)"


def site_hazard_ratios(cohort: pd.DataFrame, groups: list[str], reference: str, alpha: float) -> pd.DataFrame:
    """Per site, each group vs the reference (univariable Cox within the site); then, with
    several sites, the site-stratified Cox and a DerSimonian-Laird random-effects pooling of
    the site estimates with I² and Cochran's Q p-value (heterogeneity between hospitals)."""
    rows = [
        row
        for site, members in cohort.groupby("site", sort=True, observed=True)
        for row in _site_rows(site, members, groups, reference, alpha)
    ]
    if cohort["site"].nunique() > 1:
        indicators = group_indicators(cohort, groups, reference)
        fit, data = fit_cox(cohort, indicators, alpha, ["site"])
        stratified = cox_summary(STRATIFIED, fit, data).rename(columns={"model": "site"})
        rows += [
            {**row, **_group_counts(cohort, indicators[row["term"]] == 1)} for row in stratified.to_dict("records")
        ]
        per_site = pd.DataFrame(rows)
        rows += [_random_effects(per_site[per_site["term"] == term], term, alpha) for term in indicators]
    return pd.DataFrame(rows).reindex(columns=SITE_COLUMNS)


def _site_rows(site: str, members: pd.DataFrame, groups: list[str], reference: str, alpha: float) -> list[dict]:
    """One row per non-reference group: the HR within this site, or why there is none."""
    indicators = group_indicators(members, groups, reference)
    in_reference = members["group"] == reference
    notes = {term: _inestimable(members, indicators[term] == 1, in_reference) for term in indicators}
    estimable = [term for term, note in notes.items() if not note]
    estimates = {}
    if estimable:
        estimates = _quiet_cox(members, indicators[estimable], alpha)
        if not estimates:
            notes.update({term: "no stable estimate (the Cox model did not converge)" for term in estimable})
    rows = []
    for term in indicators:
        estimate = {
            key: estimates.get(term, {}).get(key, np.nan)
            for key in ["hr", "ci_lower", "ci_upper", "p_value", "coef", "se"]
        }
        rows.append(
            {
                "site": site,
                "term": term,
                **_group_counts(members, indicators[term] == 1),
                **estimate,
                "note": notes[term],
            }
        )
    return rows


def _group_counts(members: pd.DataFrame, in_group: pd.Series) -> dict:
    # the group's own counts only: with a site's analysed total released, counts of the
    # reference group too would let a suppressed group size be recovered by subtraction
    return {"patients_in_group": int(in_group.sum()), "deaths_in_group": int(members.loc[in_group, EVENT].sum())}


def _inestimable(members: pd.DataFrame, exposed: pd.Series, in_reference: pd.Series) -> str:
    """Why a site's HR for one group cannot be estimated ('' if it can)."""
    for who, rows in [("the group", exposed), ("the reference group", in_reference)]:
        if not rows.any():
            return f"no patients in {who}"
        if members.loc[rows, EVENT].sum() == 0:
            return f"no deaths in {who}"
    return ""


def _quiet_cox(members: pd.DataFrame, terms: pd.DataFrame, alpha: float) -> dict:
    """term -> summary row of a Cox fit, or {} if it did not converge (a small site)."""
    fit, data = fit_cox(members, terms, alpha)
    if not fit.converged_:
        return {}
    return cox_summary("", fit, data).set_index("term").to_dict("index")


def _random_effects(sites: pd.DataFrame, term: str, alpha: float) -> dict:
    """DerSimonian-Laird pooling of the sites' log-HRs of one term (sites with an estimate)."""
    estimated = sites[sites["site"] != STRATIFIED].dropna(subset=["coef", "se"])
    # no counts: the sites left out are the small ones, which their sum would give away
    row = {"site": RANDOM_EFFECTS, "term": term}
    if len(estimated) < 2:
        return {**row, "note": "fewer than two sites with an estimate"}
    return {**row, **dersimonian_laird(estimated["coef"].to_numpy(), estimated["se"].to_numpy(), alpha), "note": ""}
