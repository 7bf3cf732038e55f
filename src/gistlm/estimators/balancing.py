"""Balance by construction: entropy balancing of several groups towards the whole cohort.

GPS-IPTW (gistlm.causal.propensity) weights each group by a fitted model and then checks balance;
on the shipped cohort it leaves |SMD| of 0.15-0.24. Entropy balancing (Hainmueller, Polit
Anal 2012) instead asks for the weights directly: within each group, the weights closest to
uniform (least Kullback-Leibler divergence) under which the group's covariate means - and,
for continuous covariates, their variances - equal the whole cohort's. That is the ATE form
of R WeightIt's `weightit(..., method = "ebal", estimand = "ATE", moments = 2)`: every group
is made to resemble the cohort, so each pair of groups is balanced through it.

The weights are exp(lambda' c_i) / sum_j exp(lambda' c_j) for the balance columns c of the
group's patients; lambda minimises the convex dual log sum_i exp(lambda' (c_i - target)),
whose gradient is the weighted mean of (c - target). It is solved by Newton's method (exact
Hessian: the weighted covariance of c) with a backtracking line search. empirical-calibration
(Google) solves the same problem but brings scikit-learn, absl-py, patsy and six for these few
lines and stops at fsolve's default tolerance on lambda, not on the moments; here the moments
are checked to `TOLERANCE` after the fit, and a group that cannot reach the cohort (a target
outside what its patients can be weighted to) is an error naming the group and covariates.

With few patients in a group and strong confounding, the cohort's moments can lie outside
what a group can be weighted to: on the shipped cohort, IM+HR and IM+RFA/TACE at the 6-month
landmark, and about half of the bootstrap resamples of the whole cohort. That is reported
(not interpretable, interval not estimable), never papered over by relaxing the constraints.
"""

import numpy as np
import pandas as pd

from gistlm.causal.propensity import (
    balance_table,
    covariate_design,
    group_codes,
    propensity_coefficients,
    weigh,
    weight_summary,
)

# largest |weighted mean - target| allowed, on the scale of the cohort's SD of each column
TOLERANCE = 1e-8

ENTROPY_BALANCE = "entropy_balance"
GPS_IPTW = "gps_iptw"
# how each weighting is named in tables and the report
WEIGHTING_LABELS = {ENTROPY_BALANCE: "entropy balancing", GPS_IPTW: "GPS-IPTW"}


class BalanceError(RuntimeError):
    """Entropy balancing could not make a group resemble the cohort."""


def is_binary(column: np.ndarray) -> bool:
    return bool(np.isin(column, [0.0, 1.0]).all())


def balance_columns(
    design: np.ndarray, names: list[str], counts: np.ndarray | None = None
) -> tuple[np.ndarray, list[str]]:
    """The columns whose weighted means are constrained, and their names.

    Every covariate column, plus for a continuous one (values other than 0/1) its squared
    deviation from the cohort mean: with the mean matched, matching that column's mean
    matches the variance (population form, sum w (x - mean)^2 / sum w). Columns constant in
    the cohort are dropped: any weights balance them. `counts`: each row stands for that
    many patients (a bootstrap resample's distinct rows).
    """
    design = np.asarray(design, dtype=float)
    columns, found = [], []
    for position, name in enumerate(names):
        x = design[:, position]
        if np.ptp(x) == 0:
            continue
        columns.append(x)
        found.append(name)
        if not is_binary(x):
            columns.append((x - np.average(x, weights=counts)) ** 2)
            found.append(f"{name} (variance)")
    return (np.column_stack(columns) if columns else np.zeros((len(design), 0))), found


def _dual_value(lam: np.ndarray, centred: np.ndarray, counts: np.ndarray) -> tuple[float, tuple[np.ndarray, float]]:
    """Dual objective log mean exp(c lambda) over the patients (row i counted `counts[i]`
    times) and the rows' unnormalised weights counts * exp(c lambda - max), whose sum is
    (number of patients) * exp(value - max)."""
    scores = centred @ lam
    top = scores.max()
    p = np.exp(scores - top, out=scores)
    p *= counts
    total = p.sum()
    return float(top + np.log(total / counts.sum())), (p, total)


def _derivatives(weights: tuple[np.ndarray, float], centred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian of the dual at the point whose `_dual_value` weights are given."""
    p, total = weights
    p /= total
    gradient = p @ centred
    return gradient, (centred * p[:, None]).T @ centred - np.outer(gradient, gradient)


def _dual(lam: np.ndarray, centred: np.ndarray, counts: np.ndarray):
    """Dual objective, its gradient and Hessian."""
    value, p = _dual_value(lam, centred, counts)
    return value, *_derivatives(p, centred)


def entropy_weights(
    columns: np.ndarray, targets: np.ndarray, start: np.ndarray | None = None, counts: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Weights summing to 1 whose weighted column means equal `targets`, least KL from uniform,
    and their multipliers: the weights are proportional to exp(columns @ multipliers).

    The caller checks how close the means came (an unreachable target leaves a gap).
    Columns are standardised first: the solution does not change, the Newton steps are
    better conditioned. `start`: multipliers to start from (a bootstrap resample starts
    from the whole cohort's: the same solution in 2-3 Newton steps instead of 5-10).
    `counts`: row i stands for counts[i] patients, each of whom gets the row's weight (the
    weights times the counts sum to 1).
    """
    counts = np.ones(len(columns)) if counts is None else np.asarray(counts, float)
    _, scale = _mean_and_scale(columns, counts)
    centred = (columns - targets) / scale
    if centred.shape[1] == 0:
        return np.full(len(columns), 1 / counts.sum()), np.zeros(0)
    lam = _solve_dual(centred, counts, None if start is None else start * scale)
    scores = centred @ lam
    weights = np.exp(scores - scores.max())
    return weights / (counts @ weights), lam / scale


def _mean_and_scale(columns: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and (population) SD over the patients, row i counted `counts[i]`
    times; an SD of 0 (a constant column) is 1, as a scale."""
    if not len(columns):  # no patients: nothing is balanced, nothing is scaled
        return columns.mean(axis=0), np.ones(columns.shape[1])
    mean = np.average(columns, axis=0, weights=counts)
    scale = np.sqrt(np.average((columns - mean) ** 2, axis=0, weights=counts))
    scale[scale == 0] = 1.0
    return mean, scale


def _solve_dual(
    centred: np.ndarray, counts: np.ndarray, start: np.ndarray | None = None, max_iter: int = 100
) -> np.ndarray:
    """lambda minimising the dual, by Newton's method with backtracking (Armijo) line search,
    from `start` (default 0).

    Hand-written rather than scipy's trust-exact: the bootstrap solves thousands of these
    8 x 8 problems and trust-exact's per-step singular-value estimates cost ~1 ms each
    (measured: 5 s per infeasible resample against ~10 ms here). The dual's minimum is
    -KL(weights || uniform) >= -log n, so a value below -log n proves that the targets are
    out of reach and stops the search; a stalled line search stops it too.
    Near the optimum the Armijo test is decided by rounding (the step's decrease, half the
    squared Newton decrement, is below the objective's last digit): a line search there
    halved the step 20-40 times in vain. So once the decrement is that small, Newton's
    full step - quadratic convergence: the gradient goes to rounding - ends the search.
    Trial points get the objective only, the derivatives only once accepted.
    """
    lam = np.zeros(centred.shape[1]) if start is None else start.copy()
    value, gradient, hessian = _dual(lam, centred, counts)
    floor = -np.log(counts.sum())
    for _ in range(max_iter):
        if np.abs(gradient).max() < 1e-13 or value < floor - 1e-9:
            break
        step = -np.linalg.lstsq(hessian, gradient, rcond=None)[0]
        slope, size = gradient @ step, 1.0
        if -slope < 1e-15 * max(1.0, abs(value)):
            return lam + step
        while size > 1e-12:
            trial, p = _dual_value(lam + size * step, centred, counts)
            if trial <= value + 1e-4 * size * slope:
                break
            size /= 2
        else:
            break  # no decrease left: as close as floating point gets
        lam = lam + size * step
        value, (gradient, hessian) = trial, _derivatives(p, centred)
    return lam


def entropy_balance(
    design: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    names: list[str],
    group_labels: list[str] | None = None,
    start: dict | None = None,
    counts: np.ndarray | None = None,
) -> np.ndarray:
    """ATE entropy-balancing weights: each group's weights sum to its size.

    Targets are the whole cohort's (all groups') means of the balance columns. Raises
    BalanceError naming the group and the columns it misses when a group cannot be
    balanced to `TOLERANCE` (in cohort SDs). `start`: `balance_multipliers` of the whole
    cohort, which a resample's Newton steps start from. `counts`: row i stands for
    counts[i] patients (each gets the row's weight).
    """
    weights, failures, _ = _balance_groups(design, codes, n_groups, names, group_labels, start, counts)
    if failures:
        raise BalanceError(next(iter(failures.values())))
    return weights


def balance_each_group(
    design: np.ndarray, codes: np.ndarray, n_groups: int, names: list[str], group_labels: list[str] | None = None
) -> tuple[np.ndarray, dict[str, str]]:
    """`entropy_balance` group by group: (weights, {group: why it failed}).

    Each group is weighted towards the same cohort targets on its own, so a group that
    cannot reach them (weight 0 here) leaves the others' weights as they are.
    """
    weights, failures, _ = _balance_groups(design, codes, n_groups, names, group_labels)
    return weights, failures


def balance_multipliers(design: np.ndarray, codes: np.ndarray, n_groups: int, names: list[str]) -> dict:
    """Per group that balances, its multipliers by balance column name: `entropy_balance`'s
    `start` for a resample of these patients (matched by name, as a resample may lack a column)."""
    return _balance_groups(design, codes, n_groups, names)[2]


def _balance_groups(design, codes, n_groups, names, group_labels=None, start=None, counts=None):
    """(weights, {group label: why it failed}, {group code: {column name: multiplier}})."""
    labels = group_labels or [str(group) for group in range(n_groups)]
    counts = np.ones(len(codes)) if counts is None else np.asarray(counts, float)
    columns, column_names = balance_columns(design, names, counts)
    targets, cohort_sd = _mean_and_scale(columns, counts)
    weights, failures, multipliers = np.zeros(len(codes)), {}, {}
    for group in range(n_groups):
        member = codes == group
        if not member.any():
            continue
        known = (start or {}).get(group)
        first = None if known is None else np.array([known.get(name, 0.0) for name in column_names])
        found, solved = entropy_weights(columns[member], targets, first, counts[member])
        missed = np.abs((found * counts[member]) @ columns[member] - targets) / cohort_sd
        if not np.isfinite(missed).all() or missed.max() > TOLERANCE:
            bad = [name for name, gap in zip(column_names, missed) if not gap <= TOLERANCE]
            failures[labels[group]] = (
                f"entropy balancing found no weights of the {counts[member].sum():.0f} patients of group {labels[group]} "
                f"that match the whole cohort on {', '.join(bad)}: the cohort's values lie outside what that "
                f"group can be weighted to (too few patients for the number of constraints, or a level nobody "
                f"in the group has)"
            )
            continue
        weights[member] = found * counts[member].sum()
        multipliers[group] = dict(zip(column_names, solved))
    return weights, failures, multipliers


# --- one weighting of the cohort, either kind ---------------------------------------------


def group_weights(
    design: np.ndarray,
    codes: np.ndarray,
    labels: list[str],
    names: list[str],
    settings: dict,
    method: str,
    start=None,
    counts: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(included, raw weights, final weights) of one weighting on arrays.

    settings: causal.propensity (GPS-IPTW's trimming and truncation). Entropy balancing
    keeps everyone and has nothing to truncate, so its raw and final weights are the same.
    The bootstrap and the landmark analyses call this on every resample / landmark; the
    bootstrap starts each resample's fit from the whole cohort's (`start`:
    `weighting_solution`) and gives its distinct rows with their `counts` (the same
    weights as its rows one by one, for a fraction of the rows).
    """
    if method == GPS_IPTW:
        _, included, raw, final = weigh(design, codes, len(labels), settings, start, counts)
        return included, raw, final
    _check_method(method)
    weights = entropy_balance(design, codes, len(labels), names, labels, start, counts)
    return np.ones(len(codes), dtype=bool), weights, weights


def weighting_solution(design: np.ndarray, codes: np.ndarray, labels: list[str], names: list[str], method: str):
    """What one weighting solved for on these data: the propensity model's coefficients or
    each group's balancing multipliers; `group_weights`' `start` on a resample of them."""
    if method == GPS_IPTW:
        return propensity_coefficients(design, codes, len(labels))
    _check_method(method)
    return balance_multipliers(design, codes, len(labels), names)


def _check_method(method: str) -> None:
    if method not in WEIGHTING_LABELS:
        raise ValueError(f"unknown weighting {method!r}")


def weighting_table(
    cohort: pd.DataFrame, labels: list[str], settings: dict, method: str, failures: dict | None = None
) -> pd.DataFrame:
    """Per patient with complete covariates: weighting, group, included, weight_raw, weight.

    With a `failures` dict (entropy balancing only), a group that cannot be balanced is
    left out (included False) and why is added to the dict, instead of raising.
    """
    design = covariate_design(cohort, settings["covariates"], drop_first=True)
    complete = design.notna().all(axis=1).to_numpy()
    rows = cohort.loc[complete, ["patient_id", "group"]].reset_index(drop=True)
    codes = group_codes(rows["group"], labels)
    if failures is not None and method == ENTROPY_BALANCE:
        raw, found = balance_each_group(design.to_numpy()[complete], codes, len(labels), list(design.columns), labels)
        failures.update(found)
        included, final = ~np.isin(rows["group"].astype(str), list(found)), raw
    else:
        included, raw, final = group_weights(
            design.to_numpy()[complete], codes, labels, list(design.columns), settings, method
        )
    rows.insert(0, "weighting", WEIGHTING_LABELS[method])
    return rows.assign(included=included, weight_raw=raw, weight=final)


def weightings(primary: str) -> list[str]:
    """Both weightings, the configured primary one first (the other is the sensitivity analysis)."""
    return [primary, *[method for method in WEIGHTING_LABELS if method != primary]]


def read_weights(path) -> dict[str, pd.DataFrame]:
    """The rule's patient-level weights file, one table per weighting label (file order)."""
    table = pd.read_csv(
        path,
        dtype={"patient_id": str, "group": str},
        keep_default_na=False,
        na_values=[""],
        float_precision="round_trip",
    )
    return {
        label: rows.drop(columns="weighting").reset_index(drop=True)
        for label, rows in table.groupby("weighting", sort=False)
    }


def weighted_balance(
    cohort: pd.DataFrame, tables: dict[str, pd.DataFrame], labels: list[str], covariates: list[str], threshold: float
) -> pd.DataFrame:
    """`balance_table` of every weighting, with its `weighting` label first."""
    return pd.concat(
        [
            balance_table(cohort, table, labels, covariates, threshold).assign(weighting=label)
            for label, table in tables.items()
        ],
        ignore_index=True,
    ).pipe(_weighting_first)


def _weighting_first(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[["weighting", *[column for column in frame.columns if column != "weighting"]]]


def weighted_summaries(tables: dict[str, pd.DataFrame], labels: list[str], release) -> pd.DataFrame:
    """`weight_summary` of every weighting (entropy balancing has one stage: nothing is truncated),
    each passed through `release` (the small-cell suppression) on its own."""
    found = []
    for label, table in tables.items():
        stages = (
            [("stabilised", "weight_raw"), ("truncated", "weight")]
            if label == WEIGHTING_LABELS[GPS_IPTW]
            else [(label, "weight")]
        )
        found.append(release(weight_summary(table, labels, stages)).assign(weighting=label))
    return _weighting_first(pd.concat(found, ignore_index=True))
