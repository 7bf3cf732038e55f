"""Bootstrap confidence intervals of the IPTW estimates, in chunks that run as separate jobs.

Each replicate resamples patients with replacement and repeats the whole IPTW analysis
(propensity model, weights with their trimming and truncation, weighted Cox, weighted
Kaplan-Meier, RMST), so the intervals carry the uncertainty of the estimated weights.

Replicate r draws from its own random stream, `SeedSequence(seed, spawn_key=(r,))` — the
r-th child of `SeedSequence(seed).spawn` — so a replicate's result does not depend on which
chunk runs it, on how many chunks there are, or on the number of cores. Percentile
intervals are read off the replicates (no interpolation: the values at the ordered
positions, so infinite hazard ratios are handled).

The refit is vectorised (numpy Kaplan-Meier, the numpy Efron Cox model of `weighted_cox`)
because lifelines' fitters cost ~0.1 s per replicate; the tests check both against lifelines.
"""

import numpy as np
import pandas as pd

from gistlm.effect_measures import area_under_steps, survival_at, weighted_kaplan_meier
from gistlm.propensity import covariate_design, group_codes, weigh
from gistlm.survival import EVENT, TIME
from gistlm.weighted_cox import weighted_cox_coefficients

CI_METHOD = "bootstrap percentile"


def replicate_rng(seed: int, replicate: int) -> np.random.Generator:
    """The random stream of one replicate, whatever the chunking."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(replicate,)))


def chunk_replicates(replicates: int, chunks: int, chunk: int) -> range:
    """Replicate numbers run by `chunk` (0-based) of `chunks`: consecutive, near-equal blocks."""
    if not 0 <= chunk < chunks:
        raise ValueError(f"chunk {chunk} is not one of 0..{chunks - 1}")
    return range(chunk * replicates // chunks, (chunk + 1) * replicates // chunks)


def group_hazard_ratios(time, event, group, weights, labels: list[str], reference: str) -> dict[str, float]:
    """Weighted Cox hazard ratio of each group vs the reference, `<label> vs <reference>`.

    A group without deaths has HR 0 (its MLE is minus infinity) and is left out of the fit,
    which is what its infinite coefficient would do to the risk sets; without deaths in the
    reference group the others' HRs are infinite.
    """
    group = np.asarray(group).astype(str)
    event = np.asarray(event)
    others = [label for label in labels if label != reference and (group == label).any()]
    result = {f"{label} vs {reference}": 0.0 for label in others if not event[group == label].any()}
    if not event[group == reference].any():
        return {f"{label} vs {reference}": (np.inf if event[group == label].any() else np.nan) for label in others}
    fitted = [label for label in others if event[group == label].any()]
    keep = np.isin(group, [reference, *fitted])
    if fitted:
        x = np.column_stack([(group[keep] == label).astype(float) for label in fitted])
        beta, converged = weighted_cox_coefficients(np.asarray(time)[keep], event[keep], x, np.asarray(weights)[keep])
        for label, coefficient in zip(fitted, beta):
            result[f"{label} vs {reference}"] = float(np.exp(coefficient)) if converged else np.nan
    return result


# --- one replicate -----------------------------------------------------------------------


def analysis_arrays(cohort: pd.DataFrame, labels: list[str], covariates: list[str]) -> dict[str, np.ndarray]:
    """The cohort as arrays (design, group codes, time, death) of patients with complete covariates.

    Built once per job; a replicate only indexes rows. Text covariates take their levels from
    the full cohort; a level missing from a resample becomes a constant column, which the
    propensity model leaves out.
    """
    design = covariate_design(cohort, covariates, drop_first=True)
    complete = design.notna().all(axis=1).to_numpy()
    return {"design": design.to_numpy()[complete], "codes": group_codes(cohort["group"][complete], labels),
            "time": cohort[TIME].to_numpy(float)[complete], "event": cohort[EVENT].to_numpy()[complete]}


def iptw_estimates(data: dict[str, np.ndarray], labels: list[str], reference: str, settings: dict) -> pd.DataFrame:
    """The IPTW quantities of one data set (`analysis_arrays`), long: quantity, term, months, value.

    settings: propensity (trim_min_probability, truncate_percentiles), survival_at_months,
    rmst_horizons_months. Quantities: hazard_ratio (`X vs IM`), survival (group, month),
    rmst (group, horizon), rmst_difference (`X - IM`, horizon).
    """
    _, included, _, weights = weigh(data["design"], data["codes"], len(labels), settings["propensity"])
    time, event = data["time"][included], data["event"][included]
    group, weights = np.asarray(labels, dtype=object)[data["codes"][included]], weights[included]
    rows = [("hazard_ratio", term, np.nan, value)
            for term, value in group_hazard_ratios(time, event, group, weights, labels, reference).items()]
    rmst = {}
    for label in labels:
        member = group == label
        if not member.any():
            continue
        curve = weighted_kaplan_meier(time[member], event[member], weights[member])
        rows += [("survival", label, month, survival_at(*curve, month) if month <= time[member].max() else np.nan)
                 for month in settings["survival_at_months"]]
        for horizon in settings["rmst_horizons_months"]:
            rmst[label, horizon] = area_under_steps(*curve, horizon)
            rows.append(("rmst", label, horizon, rmst[label, horizon]))
    rows += [("rmst_difference", f"{label} - {reference}", horizon, value - rmst[reference, horizon])
             for (label, horizon), value in rmst.items() if label != reference and (reference, horizon) in rmst]
    return pd.DataFrame(rows, columns=["quantity", "term", "months", "value"])


def cohort_estimates(cohort: pd.DataFrame, labels: list[str], reference: str, settings: dict) -> pd.DataFrame:
    """`iptw_estimates` of the analysis cohort itself: the point estimates of the intervals."""
    data = analysis_arrays(cohort, labels, settings["propensity"]["covariates"])
    return iptw_estimates(data, labels, reference, settings)


def run_chunk(cohort: pd.DataFrame, labels: list[str], reference: str, settings: dict, replicates: int,
              chunks: int, chunk: int, seed: int) -> pd.DataFrame:
    """The replicates of one chunk: replicate, quantity, term, months, value.

    Each replicate resamples the complete-covariate patients with replacement. One whose
    propensity model fails (e.g. a covariate separates the groups in that resample) is kept
    as a single row with quantity `failed`, so the gather can count it.
    """
    data = analysis_arrays(cohort, labels, settings["propensity"]["covariates"])
    n = len(data["codes"])
    found = []
    for replicate in chunk_replicates(replicates, chunks, chunk):
        rows = replicate_rng(seed, replicate).integers(0, n, n)
        try:
            estimates = iptw_estimates({name: values[rows] for name, values in data.items()}, labels, reference,
                                       settings)
        except (RuntimeError, np.linalg.LinAlgError, ValueError):
            estimates = pd.DataFrame({"quantity": ["failed"], "term": [""], "months": [np.nan], "value": [np.nan]})
        found.append(estimates.assign(replicate=replicate))
    columns = ["replicate", "quantity", "term", "months", "value"]
    return pd.concat(found, ignore_index=True)[columns] if found else pd.DataFrame(columns=columns)


# --- gathering ---------------------------------------------------------------------------


def percentile_intervals(replicates: pd.DataFrame, estimates: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Full-data estimate with the bootstrap percentile interval of every quantity.

    Checks that the chunks hold each replicate 0..B-1 exactly once (a stale or missing chunk
    would otherwise go unnoticed). Failed replicates are counted and left out.
    """
    numbers = np.sort(replicates["replicate"].unique())
    if not np.array_equal(numbers, np.arange(len(numbers))):
        raise ValueError("the bootstrap chunks do not hold replicates 0..B-1")
    if replicates.duplicated(["replicate", "quantity", "term", "months"]).any():
        raise ValueError("a bootstrap replicate appears in more than one chunk")
    failed = int((replicates["quantity"] == "failed").sum())
    keys = ["quantity", "term", "months"]
    usable = replicates[replicates["quantity"] != "failed"]
    rows = []
    for estimate in estimates.itertuples(index=False):
        same = ((usable["quantity"] == estimate.quantity) & (usable["term"] == estimate.term)
                & ((usable["months"] == estimate.months) | (usable["months"].isna() & pd.isna(estimate.months))))
        values = usable.loc[same, "value"].dropna().to_numpy()
        low, high = (np.quantile(values, [alpha / 2, 1 - alpha / 2], method="inverted_cdf")
                     if values.size else (np.nan, np.nan))
        rows.append({**dict(zip(keys, [estimate.quantity, estimate.term, estimate.months])),
                     "estimate": estimate.value, "ci_lower": low, "ci_upper": high,
                     "replicates": len(numbers), "usable": int(values.size), "failed": failed,
                     "ci_method": CI_METHOD})
    return pd.DataFrame(rows)


# --- intervals beside the point estimates ------------------------------------------------


def _intervals_of(intervals: pd.DataFrame, quantity: str) -> pd.DataFrame:
    rows = intervals[intervals["quantity"] == quantity]
    return rows[["term", "months", "ci_lower", "ci_upper"]].rename(
        columns={"ci_lower": "bootstrap_ci_lower", "ci_upper": "bootstrap_ci_upper"})


def hazard_ratio_intervals(estimates: pd.DataFrame, intervals: pd.DataFrame, method: str) -> pd.DataFrame:
    """`estimates` (method, term, ...) with bootstrap_ci_lower/upper on the rows of `method`."""
    found = _intervals_of(intervals, "hazard_ratio").drop(columns="months").assign(method=method)
    return estimates.merge(found, on=["method", "term"], how="left")


def rmst_intervals(rmst: pd.DataFrame, intervals: pd.DataFrame) -> pd.DataFrame:
    """The RMST table with the bootstrap intervals filled in on its IPTW rows."""
    found = pd.concat([_intervals_of(intervals, "rmst"), _intervals_of(intervals, "rmst_difference")])
    found = found.rename(columns={"months": "horizon_months"}).assign(method="IPTW")
    table = rmst.merge(found, on=["method", "horizon_months", "term"], how="left")
    iptw = table["method"] == "IPTW"
    table.loc[iptw, "ci_lower"] = table.loc[iptw, "bootstrap_ci_lower"]
    table.loc[iptw, "ci_upper"] = table.loc[iptw, "bootstrap_ci_upper"]
    table.loc[iptw, "ci_method"] = CI_METHOD
    return table.drop(columns=["bootstrap_ci_lower", "bootstrap_ci_upper"])


def survival_intervals(survival: pd.DataFrame, intervals: pd.DataFrame) -> pd.DataFrame:
    """IPTW survival at fixed months (group, month, survival) with bootstrap intervals."""
    found = _intervals_of(intervals, "survival").rename(columns={"term": "group", "months": "month"})
    return survival.merge(found, on=["group", "month"], how="left")
