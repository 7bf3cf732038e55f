"""Bootstrap confidence intervals of the IPTW estimates, in chunks that run as separate jobs.

Each replicate resamples patients with replacement and repeats the whole IPTW analysis
(propensity model, weights with their trimming and truncation, weighted Cox, weighted
Kaplan-Meier, RMST), so the intervals carry the uncertainty of the estimated weights.

Replicate r draws from its own random stream, `SeedSequence(seed, spawn_key=(r,))` — the
r-th child of `SeedSequence(seed).spawn` — so a replicate's result does not depend on which
chunk runs it, on how many chunks there are, or on the number of cores. Percentile
intervals are read off the replicates (no interpolation: the values at the ordered
positions, so infinite hazard ratios are handled).

With few deaths, some replicates are degenerate for a quantity: a compared group without a
death (hazard ratio 0 or infinite, survival stuck at 1), a model that did not converge, an
infinite estimate, a group absent from the resample, or weights that could not be found. They
are counted per quantity with their reasons; above `max_degenerate_share` of the replicates
the interval is reported as not estimable, never as a percentile of that distribution.

The refit is vectorised (gistlm.estimators' Kaplan-Meier and Cox partial likelihood)
because lifelines' fitters cost ~0.1 s per replicate; the tests check both against lifelines.
"""

import numpy as np
import pandas as pd

from gistlm.causal.effect_measures import marginal_method
from gistlm.causal.propensity import covariate_design, group_codes
from gistlm.estimators.balancing import WEIGHTING_LABELS, group_weights, weighting_solution, weightings
from gistlm.estimators.distinct_rows import distinct_rows
from gistlm.estimators.kaplan_meier import area_under_steps, kaplan_meier, survival_at
from gistlm.estimators.partial_likelihood import StratifiedPartialLikelihood
from gistlm.survival.overall_survival import EVENT, TIME

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
    reference group the others' HRs are infinite. `group`: labels, or their positions in
    `labels` (integers compare faster than text at 1M patients).
    """
    codes, event = _positions(group, labels), np.asarray(event).astype(bool)
    present = dict(zip(labels, np.bincount(codes, minlength=len(labels)) > 0))
    dying = dict(zip(labels, np.bincount(codes[event], minlength=len(labels)) > 0))
    others = [label for label in labels if label != reference and present[label]]
    result = {f"{label} vs {reference}": 0.0 for label in others if not dying[label]}
    if not dying[reference]:
        return {f"{label} vs {reference}": (np.inf if dying[label] else np.nan) for label in others}
    fitted = [label for label in others if dying[label]]
    position = {label: labels.index(label) for label in labels}
    keep = np.isin(codes, [position[label] for label in [reference, *fitted]])
    if fitted:
        # the partial likelihood on arrays: a CoxFitter's table cost more than the refit
        # itself on the shipped cohort (~2 ms of ~3 per replicate's model)
        rows = codes[keep]
        x = np.column_stack([rows == position[label] for label in fitted]).astype(float)
        model = StratifiedPartialLikelihood(
            np.asarray(time)[keep], event[keep], x, np.asarray(weights)[keep], center=False
        )
        coefficients, converged = model.fit()
        for label, coefficient in zip(fitted, coefficients):
            result[f"{label} vs {reference}"] = float(np.exp(coefficient)) if converged else np.nan
    return result


def _positions(group, labels: list[str]) -> np.ndarray:
    """Each patient's position in `labels`, from labels or positions."""
    group = np.asarray(group)
    if np.issubdtype(group.dtype, np.integer):
        return group
    return pd.Categorical(group.astype(str), categories=labels).codes.astype(np.int64)


# --- one replicate -----------------------------------------------------------------------


def analysis_arrays(cohort: pd.DataFrame, labels: list[str], covariates: list[str]) -> dict[str, np.ndarray]:
    """The cohort as arrays (design, group codes, time, death) of patients with complete covariates.

    Built once per job; a replicate only indexes rows. Text covariates take their levels from
    the full cohort; a level missing from a resample becomes a constant column, which the
    propensity model leaves out.
    """
    design = covariate_design(cohort, covariates, drop_first=True)
    complete = design.notna().all(axis=1).to_numpy()
    return {
        "design": design.to_numpy()[complete],
        "codes": group_codes(cohort["group"][complete], labels),
        "time": cohort[TIME].to_numpy(float)[complete],
        "event": cohort[EVENT].to_numpy()[complete],
    }


def iptw_estimates(
    data: dict[str, np.ndarray], labels: list[str], reference: str, settings: dict, method: str
) -> pd.DataFrame:
    """The quantities of one data set (`analysis_arrays`) weighted by `method`, long: quantity,
    term, months, value, degenerate (why the value is degenerate, "" if it is not).

    settings: propensity (covariates, trim_min_probability, truncate_percentiles),
    survival_at_months, rmst_horizons_months.
    Quantities: hazard_ratio (`X vs IM`), survival (group, month), rmst (group, horizon),
    rmst_difference (`X - IM`, horizon).
    """
    return pd.DataFrame(_estimate_rows(data, labels, reference, settings, method), columns=ESTIMATE_COLUMNS)


ESTIMATE_COLUMNS = ["quantity", "term", "months", "value", "degenerate"]


def _estimate_rows(
    data: dict[str, np.ndarray], labels: list[str], reference: str, settings: dict, method: str, start=None
) -> list[tuple]:
    """`iptw_estimates` as row tuples: the bootstrap builds one table of all its replicates'
    rows instead of a table per replicate (pandas cost more than a replicate's refit).
    `start`: `cohort_solution`, which a resample's weighting starts from."""
    included, weights = _weights(data, labels, settings, method, start)
    # without trimming every row is kept: views then, not four copies of 880,000 rows
    kept = slice(None) if included.all() else np.flatnonzero(included)
    time, event, codes, weights = data["time"][kept], data["event"][kept], data["codes"][kept], weights[kept]
    deaths = np.bincount(codes[event.astype(bool)], minlength=len(labels))
    no_death = {label: "" if dead else f"no death in {label}" for label, dead in zip(labels, deaths)}
    rows = [
        ("hazard_ratio", term, np.nan, value, _degenerate(value, no_death, term.split(" vs ")))
        for term, value in group_hazard_ratios(time, event, codes, weights, labels, reference).items()
    ]
    rmst = {}
    for position, label in enumerate(labels):
        # the group's rows by position: a boolean mask per array cost 8x as much at 1M patients
        member = np.flatnonzero(codes == position)
        if not len(member):
            continue
        member_time = time[member]
        fit = kaplan_meier(member_time, event[member], weights[member])
        curve = fit.time, fit.survival
        rows += [
            (
                "survival",
                label,
                month,
                survival_at(*curve, month) if month <= member_time.max() else np.nan,
                no_death[label],
            )
            for month in settings["survival_at_months"]
        ]
        for horizon in settings["rmst_horizons_months"]:
            rmst[label, horizon] = area_under_steps(*curve, horizon)
            rows.append(("rmst", label, horizon, rmst[label, horizon], no_death[label]))
    rows += [
        (
            "rmst_difference",
            f"{label} - {reference}",
            horizon,
            value - rmst[reference, horizon],
            _degenerate(value, no_death, [label, reference]),
        )
        for (label, horizon), value in rmst.items()
        if label != reference and (reference, horizon) in rmst
    ]
    return rows


def _weights(data: dict, labels: list[str], settings: dict, method: str, start) -> tuple[np.ndarray, np.ndarray]:
    """(included, weights) of each row of `data`. A resample holding `distinct` (its distinct
    rows of design and group, their counts and each row's distinct row) is weighted on its
    distinct rows, counted: the same weights for ~1/20 of the work at 1M patients."""
    if "distinct" not in data:
        design, codes, counts, of_row = data["design"], data["codes"], None, slice(None)
    else:
        design, codes, counts, of_row = data["distinct"]
    names = _column_names(design.shape[1])
    included, _, weights = group_weights(design, codes, labels, names, settings["propensity"], method, start, counts)
    return included[of_row], weights[of_row]


def _column_names(width: int) -> list[str]:
    """Names of the design's columns (the weightings match a resample's columns by name)."""
    return [f"column {position}" for position in range(width)]


def cohort_solution(data: dict[str, np.ndarray], labels: list[str], method: str):
    """What one weighting solves for on the whole cohort (`weighting_solution`), where each
    resample's fit starts: a resample's maximum is near the cohort's, so the multinomial
    logit and entropy balancing need 2-4 Newton steps instead of 5-10, to the same maximum
    (the replicates change in their last digits). None (resamples start from 0) where the
    cohort itself has no solution, which its point estimates then report.

    The Cox refits start from 0: started from the cohort's estimate, a resample whose
    likelihood has no maximum (a coefficient running to minus infinity) can stop at a
    finite-looking 1e-21 instead of failing to converge.
    """
    try:
        return weighting_solution(data["design"], data["codes"], labels, _column_names(data["design"].shape[1]), method)
    except (RuntimeError, np.linalg.LinAlgError, ValueError):
        return None


def _degenerate(value: float, no_death: dict[str, str], compared: list[str]) -> str:
    """Why a comparison's replicate value is degenerate ("" if it is not)."""
    reasons = [no_death[label] for label in compared if no_death[label]]
    if reasons:
        return "; ".join(reasons)
    if np.isnan(value):
        return "no convergence"
    return "" if np.isfinite(value) else "infinite estimate"


def cohort_estimates(cohort: pd.DataFrame, labels: list[str], reference: str, settings: dict) -> pd.DataFrame:
    """`iptw_estimates` of the analysis cohort itself, both weightings (settings: weighting,
    the primary one first): the point estimates of the intervals."""
    data = analysis_arrays(cohort, labels, settings["propensity"]["covariates"])
    return pd.concat(
        [
            iptw_estimates(data, labels, reference, settings, method).assign(weighting=WEIGHTING_LABELS[method])
            for method in weightings(settings["weighting"]["method"])
        ],
        ignore_index=True,
    ).drop(columns="degenerate")


def run_chunk(
    cohort: pd.DataFrame,
    labels: list[str],
    reference: str,
    settings: dict,
    replicates: int,
    chunks: int,
    chunk: int,
    seed: int,
) -> pd.DataFrame:
    """The replicates of one chunk: replicate, weighting, quantity, term, months, value, degenerate.

    Each replicate resamples the complete-covariate patients with replacement and repeats
    both weightings on the same resample. A weighting whose weights cannot be found there
    (the propensity model fails, e.g. a covariate separates the groups in that resample, or
    entropy balancing has no solution) is kept as a single row with quantity `failed`, so
    the gather can count it.
    """
    data = analysis_arrays(cohort, labels, settings["propensity"]["covariates"])
    # patients in time order and each resample's draws put in that order: the sorts of its
    # Cox and Kaplan-Meier fits then find sorted data (~8x faster at 1M patients). The draws
    # are the same patients (counted by patient, then read in time order), and no estimate
    # depends on order.
    by_time = np.argsort(data["time"], kind="stable")
    data = {name: values[by_time] for name, values in data.items()}
    n, methods = len(data["codes"]), weightings(settings["weighting"]["method"])
    starts = {method: cohort_solution(data, labels, method) for method in methods}
    first, distinct = distinct_rows(np.column_stack([data["design"], data["codes"]]))
    found = []
    for replicate in chunk_replicates(replicates, chunks, chunk):
        # each patient as often as drawn, in time order: the sorted draws, in linear time
        drawn = np.bincount(replicate_rng(seed, replicate).integers(0, n, n), minlength=n)
        rows = np.repeat(np.arange(n), drawn[by_time])
        resample = {name: data[name][rows] for name in ("time", "event", "codes")}
        resample["distinct"] = _distinct_of(distinct[rows], first, data)
        for method in methods:
            try:
                estimates = _estimate_rows(resample, labels, reference, settings, method, starts[method])
            except (RuntimeError, np.linalg.LinAlgError, ValueError):
                estimates = [("failed", "", np.nan, np.nan, "weights could not be found")]
            found += [(replicate, WEIGHTING_LABELS[method], *row) for row in estimates]
    columns = ["replicate", "weighting", *ESTIMATE_COLUMNS]
    return pd.DataFrame(found, columns=columns) if found else pd.DataFrame(columns=columns)


def _distinct_of(drawn: np.ndarray, first: np.ndarray, data: dict) -> tuple:
    """A resample's `distinct` (see `_weights`) from the cohort's distinct row of each drawn row."""
    counts = np.bincount(drawn, minlength=len(first))
    present = np.flatnonzero(counts)
    renumbered = np.zeros(len(first), np.int64)
    renumbered[present] = np.arange(len(present))
    rows = first[present]
    return data["design"][rows], data["codes"][rows], counts[present], renumbered[drawn]


# --- gathering ---------------------------------------------------------------------------


def read_bootstrap_table(path) -> pd.DataFrame:
    """A chunk's replicates or the cohort's estimates as their rule wrote them: every number
    to the last bit (the intervals must not depend on which job computed what), empty cells
    missing and the text "NA" as it is."""
    return pd.read_csv(path, keep_default_na=False, na_values=[""], float_precision="round_trip")


def percentile_intervals(
    replicates: pd.DataFrame, estimates: pd.DataFrame, alpha: float, max_degenerate_share: float = 0.01
) -> pd.DataFrame:
    """Full-data estimate with the bootstrap percentile interval of every quantity.

    Checks that the chunks hold each replicate 0..B-1 exactly once (a stale or missing chunk
    would otherwise go unnoticed). Failed replicates of a weighting are counted and left out. Per quantity,
    replicates that are degenerate for it (`iptw_estimates`; failed or without the quantity
    count too) are counted with their reasons; above `max_degenerate_share` of all
    replicates the interval is empty and `ci_status` says why.
    """
    numbers = np.sort(replicates["replicate"].unique())
    if not np.array_equal(numbers, np.arange(len(numbers))):
        raise ValueError("the bootstrap chunks do not hold replicates 0..B-1")
    if replicates.duplicated(["replicate", "weighting", "quantity", "term", "months"]).any():
        raise ValueError("a bootstrap replicate appears in more than one chunk")
    keys = ["weighting", "quantity", "term", "months"]
    rows = []
    for estimate in estimates.itertuples(index=False):
        mine = replicates[replicates["weighting"] == estimate.weighting]
        failed = int((mine["quantity"] == "failed").sum())
        same = (
            (mine["quantity"] == estimate.quantity)
            & (mine["term"] == estimate.term)
            & ((mine["months"] == estimate.months) | (mine["months"].isna() & pd.isna(estimate.months)))
        )
        found = mine[same]
        values = found["value"].dropna().to_numpy()
        reasons = _reason_counts(found["degenerate"], failed, len(numbers) - failed - len(found))
        degenerate = sum(reasons.values())
        estimable = degenerate <= max_degenerate_share * len(numbers) and values.size > 0
        low, high = (
            np.quantile(values, [alpha / 2, 1 - alpha / 2], method="inverted_cdf") if estimable else (np.nan, np.nan)
        )
        rows.append(
            {
                **{key: getattr(estimate, key) for key in keys},
                "estimate": estimate.value,
                "ci_lower": low,
                "ci_upper": high,
                "replicates": len(numbers),
                "usable": int(values.size),
                "failed": failed,
                "degenerate": degenerate,
                "degenerate_reasons": "; ".join(f"{reason}: {count}" for reason, count in reasons.items()),
                "ci_status": "" if estimable else _not_estimable(degenerate, len(numbers), max_degenerate_share),
                "ci_method": CI_METHOD,
            }
        )
    return pd.DataFrame(rows)


def _reason_counts(degenerate: pd.Series, failed: int, absent: int) -> dict[str, int]:
    """Degenerate replicates of one quantity by reason, largest first."""
    counts = degenerate.fillna("")[degenerate.fillna("") != ""].value_counts().to_dict()
    if failed:
        counts["weights could not be found"] = failed
    if absent > 0:
        counts["group absent from the resample"] = absent
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _not_estimable(degenerate: int, replicates: int, limit: float) -> str:
    return (
        f"not estimable: {degenerate} of {replicates} replicates ({100 * degenerate / replicates:.1f}%) "
        f"are degenerate, more than the {100 * limit:g}% allowed (causal.diagnostics.max_degenerate_share)"
    )


# --- intervals beside the point estimates ------------------------------------------------


def _intervals_of(intervals: pd.DataFrame, quantity: str) -> pd.DataFrame:
    rows = intervals[intervals["quantity"] == quantity]
    return rows[["weighting", "term", "months", "ci_lower", "ci_upper", "ci_status"]].rename(
        columns={"ci_lower": "bootstrap_ci_lower", "ci_upper": "bootstrap_ci_upper", "ci_status": "bootstrap_ci_status"}
    )


def hazard_ratio_intervals(estimates: pd.DataFrame, intervals: pd.DataFrame) -> pd.DataFrame:
    """`estimates` (method, term, ...) with bootstrap_ci_lower/upper/status on the rows of the
    marginal weighted models (method `<weighting> (marginal)`)."""
    found = _intervals_of(intervals, "hazard_ratio").drop(columns="months")
    found["method"] = found.pop("weighting").map(marginal_method)
    return estimates.merge(found, on=["method", "term"], how="left")


def rmst_intervals(rmst: pd.DataFrame, intervals: pd.DataFrame) -> pd.DataFrame:
    """The RMST table with the bootstrap intervals filled in on the weighted rows (method =
    the weighting); `ci_method` says why an interval is missing."""
    found = pd.concat([_intervals_of(intervals, "rmst"), _intervals_of(intervals, "rmst_difference")])
    found = found.rename(columns={"months": "horizon_months", "weighting": "method"})
    table = rmst.merge(found, on=["method", "horizon_months", "term"], how="left")
    weighted = table["method"].isin(found["method"])
    table.loc[weighted, "ci_lower"] = table.loc[weighted, "bootstrap_ci_lower"]
    table.loc[weighted, "ci_upper"] = table.loc[weighted, "bootstrap_ci_upper"]
    table.loc[weighted, "ci_method"] = [
        f"{CI_METHOD}; {status}" if isinstance(status, str) and status else CI_METHOD
        for status in table.loc[weighted, "bootstrap_ci_status"]
    ]
    return table.drop(columns=["bootstrap_ci_lower", "bootstrap_ci_upper", "bootstrap_ci_status"])


def survival_intervals(survival: pd.DataFrame, intervals: pd.DataFrame) -> pd.DataFrame:
    """Weighted survival at fixed months (weighting, group, month, survival) with bootstrap intervals."""
    found = _intervals_of(intervals, "survival").rename(columns={"term": "group", "months": "month"})
    return survival.merge(found, on=["weighting", "group", "month"], how="left")
