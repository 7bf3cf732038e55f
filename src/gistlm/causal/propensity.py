"""Confounding by indication: generalised propensity score, IPTW weights and covariate balance.

Surgeons resect patients with fewer, smaller, unilobar lesions, so the groups differ at LM
diagnosis. The generalised propensity score (GPS) is each patient's probability of every
group given baseline covariates, from a multinomial logistic model (unpenalised maximum
likelihood, gistlm.estimators.multinomial_logit). Stabilised inverse-probability-of-treatment weights for the
average treatment effect (ATE), P(group) / P(group | covariates), make every group resemble
the whole cohort; balance is checked by standardised mean differences (SMD) for each pair
of groups before and after weighting.

Groups stay as the published ones (fixed at LM diagnosis): weighting removes measured
confounding, not immortal time.
"""

import itertools

import numpy as np
import pandas as pd

from gistlm.estimators.cox import CoxFitter, hazard_ratio_table
from gistlm.estimators.kaplan_meier import from_time_zero, kaplan_meier
from gistlm.estimators.multinomial_logit import fit_by_distinct_rows, fit_multinomial_logit
from gistlm.estimators.multinomial_logit import probabilities as group_probabilities
from gistlm.survival.overall_survival import EVENT, TIME, group_indicators

# column of `propensity_table` holding a patient's probability of `label`
GPS_PREFIX = "gps_"


def gps_column(label: str) -> str:
    return f"{GPS_PREFIX}{label}"


def covariate_design(cohort: pd.DataFrame, covariates: list[str], drop_first: bool) -> pd.DataFrame:
    """Numeric design of the covariates: numbers as floats, text columns as 0/1 per level.

    `drop_first` leaves out each text column's first level (the model's reference); the
    balance table keeps every level. Rows with a missing covariate are kept (as NaN).
    """
    columns = []
    for name in covariates:
        values = cohort[name]
        if pd.api.types.is_numeric_dtype(values) and not isinstance(values.dtype, pd.CategoricalDtype):
            columns.append(values.astype("float64").rename(name))
        else:
            levels = sorted(values.dropna().astype(str).unique())[1 if drop_first else 0 :]
            for level in levels:
                columns.append(
                    (values.astype(str) == level).astype("float64").where(values.notna()).rename(f"{name}={level}")
                )
    return pd.concat(columns, axis=1)


def group_codes(group: pd.Series, labels: list[str]) -> np.ndarray:
    """Position of each patient's group among the configured labels."""
    codes = pd.Categorical(group.astype(str), categories=labels).codes
    if (codes < 0).any():
        raise ValueError("a patient's group is not one of the configured labels")
    return codes


def fit_generalised_propensity(
    design: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    start: np.ndarray | None = None,
    counts: np.ndarray | None = None,
) -> np.ndarray:
    """P(group | covariates), patients x groups, from a multinomial logit (gistlm.estimators.multinomial_logit).

    Newton-Raphson, unpenalised; a covariate constant in these data (e.g. a level absent
    from a bootstrap resample) is left out. Raises if the fit does not converge (e.g. a
    covariate separates the groups): weights from a failed fit would be meaningless.
    `start`: coefficients to start Newton from (`propensity_coefficients` of the whole
    cohort, for a bootstrap resample); the maximum is the same, found in fewer steps.
    `counts`: row i stands for counts[i] patients (frequency weights).
    """
    return _multinomial_logit(design, codes, n_groups, start, counts)[0]


def propensity_coefficients(design: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """The multinomial logit's coefficients, (intercept + every design column) x (groups - 1),
    NaN for a column left out: the `start` of the same model on a resample."""
    return _multinomial_logit(design, codes, n_groups)[1]


def _multinomial_logit(
    design: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    start: np.ndarray | None = None,
    counts: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    design = np.asarray(design, dtype=float)
    varying = (design != design[:1]).any(axis=0) if len(design) else np.zeros(design.shape[1], bool)
    kept = np.concatenate([[True], varying])
    exog = np.column_stack([np.ones(len(design)), design[:, varying]])
    # the model numbers the groups present; a group absent from the data has probability 0
    present, present_codes = np.unique(codes, return_inverse=True)
    start = _start_params(start, kept, len(present), n_groups)
    if counts is None:
        fitted, converged, probabilities = fit_by_distinct_rows(exog, present_codes, start)
    else:
        fitted, converged = fit_multinomial_logit(exog, present_codes, np.asarray(counts, float), start)
        probabilities = group_probabilities(exog, fitted)
    if not converged or not np.isfinite(probabilities).all():
        raise RuntimeError("the generalised propensity model did not converge")
    scores = np.zeros((len(codes), n_groups))
    scores[:, present] = probabilities
    coefficients = np.full((len(kept), len(present) - 1), np.nan)
    coefficients[kept] = fitted
    return scores, coefficients


def _start_params(start: np.ndarray | None, kept: np.ndarray, present: int, n_groups: int) -> np.ndarray | None:
    """`start`'s rows of these columns; None (zeros) when a group is absent (the equations
    differ) or a kept column had no coefficient."""
    if start is None or present != n_groups or not np.isfinite(start[kept]).all():
        return None
    return start[kept]


def stabilised_weights(scores: np.ndarray, codes: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
    """ATE weights P(group) / P(group | x): each group's weights sum to about n (row i
    counted `counts[i]` times)."""
    groups = np.bincount(codes, weights=counts, minlength=scores.shape[1])
    share = groups[codes] / (len(codes) if counts is None else np.sum(counts))
    return share / scores[np.arange(len(codes)), codes]


def common_support(scores: np.ndarray, min_probability: float) -> np.ndarray:
    """Patients whose probability of every group is at least `min_probability` (0 keeps all)."""
    return (scores >= min_probability).all(axis=1)


def truncate(weights: np.ndarray, percentiles: list[float] | None, counts: np.ndarray | None = None) -> np.ndarray:
    """Weights winsorised at the [lower, upper] percentiles of all weights (None: unchanged;
    row i counted `counts[i]` times)."""
    if not percentiles:
        return weights.copy()
    low, high = np.percentile(weights if counts is None else np.repeat(weights, counts), percentiles)
    return np.clip(weights, low, high)


def weigh(
    design: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    settings: dict,
    start: np.ndarray | None = None,
    counts: np.ndarray | None = None,
):
    """The whole weighting step on arrays: (scores, included, raw weights, final weights).

    Patients outside common support get weight 0; the group shares and weights are
    computed on the others; the final weights are truncated. The bootstrap calls this on
    every resample (`start`: see `fit_generalised_propensity`; `counts`: row i stands for
    counts[i] patients), `propensity_table` once.
    """
    scores = fit_generalised_propensity(design, codes, n_groups, start, counts)
    included = common_support(scores, settings["trim_min_probability"])
    kept = None if counts is None else np.asarray(counts)[included]
    raw, final = np.zeros(len(codes)), np.zeros(len(codes))
    raw[included] = stabilised_weights(scores[included], codes[included], kept)
    final[included] = truncate(raw[included], settings["truncate_percentiles"], kept)
    return scores, included, raw, final


def propensity_table(cohort: pd.DataFrame, labels: list[str], settings: dict) -> pd.DataFrame:
    """Per patient with complete covariates: GPS of every group (`gps_<label>`), raw and final weights.

    settings: covariates, trim_min_probability, truncate_percentiles. Patients outside
    common support are kept with `included` False and weight 0, so the table accounts
    for everyone who could be weighted.
    """
    design = covariate_design(cohort, settings["covariates"], drop_first=True)
    complete = design.notna().all(axis=1).to_numpy()
    rows = cohort.loc[complete, ["patient_id", "group"]].reset_index(drop=True)
    codes = group_codes(rows["group"], labels)
    scores, included, raw, final = weigh(design.to_numpy()[complete], codes, len(labels), settings)
    scores = pd.DataFrame(scores, columns=[gps_column(label) for label in labels])
    return pd.concat([rows, scores], axis=1).assign(included=included, weight_raw=raw, weight=final)


# --- diagnostics -------------------------------------------------------------------------


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size: (sum w)^2 / sum w^2."""
    return float(weights.sum() ** 2 / (weights**2).sum()) if weights.size else 0.0


def weight_summary(
    table: pd.DataFrame, labels: list[str], stages: tuple = (("stabilised", "weight_raw"), ("truncated", "weight"))
) -> pd.DataFrame:
    """Distribution of the weights of each (stage, column) - by default the raw and final
    (truncated) ones - by group and overall."""
    rows = []
    kept = table[table["included"]]
    for label in [*labels, "All"]:
        members = kept if label == "All" else kept[kept["group"].astype(str) == label]
        for stage, column in stages:
            w = members[column].to_numpy()
            quantiles = np.percentile(w, [0, 1, 25, 50, 75, 99, 100]) if w.size else [np.nan] * 7
            rows.append(
                {
                    "group": label,
                    "stage": stage,
                    "n": len(w),
                    "trimmed": int((table["group"].astype(str) == label).sum() - len(w))
                    if label != "All"
                    else int((~table["included"]).sum()),
                    "mean": w.mean() if w.size else np.nan,
                    "sd": w.std(ddof=1) if w.size > 1 else np.nan,
                    **dict(zip(["min", "p1", "p25", "median", "p75", "p99", "max"], quantiles)),
                    "sum": w.sum(),
                    "ess": effective_sample_size(w),
                }
            )
    return pd.DataFrame(rows)


def _variance(values: np.ndarray) -> float:
    """p(1-p) for a 0/1 covariate, else the sample variance (as Table 1's SMDs)."""
    if np.isin(values, [0.0, 1.0]).all():
        p = values.mean()
        return p * (1 - p)
    return values.var(ddof=1) if values.size > 1 else 0.0


def standardised_difference(
    a: np.ndarray, b: np.ndarray, weights_a: np.ndarray | None = None, weights_b: np.ndarray | None = None
) -> float:
    """(mean_a - mean_b) / sqrt((var_a + var_b) / 2), means weighted if weights are given.

    The denominator always uses the unweighted variances, so weighting changes the SMD only
    through the means (Austin 2009; the convention of R's cobalt).
    """
    mean_a = np.average(a, weights=weights_a)
    mean_b = np.average(b, weights=weights_b)
    spread = np.sqrt((_variance(a) + _variance(b)) / 2)
    if spread == 0:
        return 0.0 if mean_a == mean_b else np.inf * np.sign(mean_a - mean_b)
    return float((mean_a - mean_b) / spread)


def balance_table(
    cohort: pd.DataFrame, table: pd.DataFrame, labels: list[str], covariates: list[str], threshold: float
) -> pd.DataFrame:
    """SMD of every covariate (each level of a text one) for each pair of groups, before and after weighting."""
    kept = table[table["included"]]
    rows = cohort.set_index("patient_id").loc[kept["patient_id"]].reset_index()
    design = covariate_design(rows, covariates, drop_first=False)
    group = kept["group"].astype(str).to_numpy()
    weights = kept["weight"].to_numpy()
    found = []
    for first, second in itertools.combinations(labels, 2):
        a, b = group == second, group == first
        if not a.any() or not b.any():
            continue
        for column in design.columns:
            x = design[column].to_numpy()
            found.append(
                {
                    "comparison": f"{second} vs {first}",
                    "covariate": column,
                    "smd_unweighted": standardised_difference(x[a], x[b]),
                    "smd_weighted": standardised_difference(x[a], x[b], weights[a], weights[b]),
                }
            )
    balance = pd.DataFrame(found)
    balance["threshold"] = threshold
    balance["balanced"] = balance["smd_weighted"].abs() < threshold
    return balance


def balance_verdict(balance: pd.DataFrame) -> pd.DataFrame:
    """Per pair of groups: largest |SMD| before and after weighting, the covariates still at or
    above the threshold after it, and pass/fail."""
    keys = [key for key in ["weighting", "landmark_months", "comparison"] if key in balance.columns]
    verdict = (
        balance.groupby(keys, sort=False)
        .agg(
            max_abs_smd_unweighted=("smd_unweighted", lambda s: s.abs().max()),
            max_abs_smd_weighted=("smd_weighted", lambda s: s.abs().max()),
            threshold=("threshold", "first"),
            imbalanced=("balanced", lambda s: int((~s).sum())),
        )
        .reset_index()
    )
    failing = (
        balance[~balance["balanced"]]
        .groupby(keys, sort=False)["covariate"]
        .agg(", ".join)
        .rename("imbalanced_covariates")
    )
    verdict = verdict.merge(failing, left_on=keys, right_index=True, how="left")
    verdict["imbalanced_covariates"] = verdict["imbalanced_covariates"].fillna("")
    verdict["passed"] = verdict["imbalanced"] == 0
    return verdict


def read_scores(path) -> pd.DataFrame:
    """`propensity_table` as written by its rule (ids as text, exact floats)."""
    return pd.read_csv(
        path,
        dtype={"patient_id": str, "group": str},
        keep_default_na=False,
        na_values=[""],
        float_precision="round_trip",
    )


# --- weighted outcome analyses -----------------------------------------------------------


def weighted_cohort(cohort: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """The analysis rows of the weighted patients (weight > 0), with their `weight`."""
    weights = table.loc[table["included"], ["patient_id", "weight"]]
    return cohort.merge(weights, on="patient_id", how="inner")


def weighted_kaplan_meier_table(data: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """IPTW Kaplan-Meier per group (`weight`): weighted numbers at risk and deaths.

    No pointwise CI: the Greenwood interval ignores that the weights are estimated; the
    bootstrap gives intervals at the configured months.
    """
    tables = []
    for label in labels:
        rows = data[data["group"].astype(str) == label]
        if rows.empty:
            continue
        curve = from_time_zero(
            kaplan_meier(rows[TIME].to_numpy(float), rows[EVENT].to_numpy(), rows["weight"].to_numpy())
        )
        tables.append(
            pd.DataFrame(
                {
                    "group": label,
                    "time": curve.time,
                    "at_risk": curve.at_risk,
                    "events": curve.deaths,
                    "survival": curve.survival,
                }
            )
        )
    return pd.concat(tables, ignore_index=True)


def weighted_survival_at(km: pd.DataFrame, months: list[float]) -> pd.DataFrame:
    """IPTW survival per group at fixed months, read off the weighted KM table."""
    rows = []
    for label, curve in km.groupby("group", sort=False):
        for month in months:
            before = curve[curve["time"] <= month]
            observed = month <= curve["time"].max()
            rows.append(
                {
                    "group": label,
                    "month": month,
                    "survival": (before["survival"].iloc[-1] if len(before) else 1.0) if observed else np.nan,
                }
            )
    return pd.DataFrame(rows)


def weighted_cox(
    data: pd.DataFrame, labels: list[str], reference: str, alpha: float, weighting: str = "IPTW"
) -> pd.DataFrame:
    """Marginal structural Cox model: group alone, balancing weights, robust (sandwich) SEs.

    `weighting` names the weights in the table's `model` column (entropy balancing, GPS-IPTW).

    The hazard ratio compares the whole cohort treated one way against it treated the other
    (ATE); the robust variance accounts for the weights (conservative for estimated ones).
    """
    present = [label for label in labels if (data["group"].astype(str) == label).any()]
    indicators = group_indicators(data, present, reference)
    # one row per patient: robust=True clusters on the row, as lifelines' robust=True
    frame = pd.concat([data[[TIME, EVENT, "weight"]].reset_index(drop=True), indicators.reset_index(drop=True)], axis=1)
    fit = CoxFitter(alpha=alpha, center=False).fit(
        frame, duration_col=TIME, event_col=EVENT, weights_col="weight", robust=True
    )
    table = hazard_ratio_table(fit)
    table.insert(0, "model", weighting)
    return table.assign(
        n=len(data), events=int(data[EVENT].sum()), effective_n=effective_sample_size(data["weight"].to_numpy())
    )
