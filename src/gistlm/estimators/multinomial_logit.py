"""The multinomial logit by Newton-Raphson, with frequency weights: the generalised
propensity model of gistlm.causal.propensity and of every bootstrap resample.

The model and its stopping rule are statsmodels' MNLogit's (the first group the reference,
full Newton steps from 0 or a given start, stop when no coefficient moves by 1e-8, at most
100 steps). Why not MNLogit itself (measured at 1M patients, benchmarks/bootstrap_timing.py):
it has no weights, so a bootstrap resample or a cohort with repeated covariate rows is
fitted row by row, and each step computes the probabilities three times and the Hessian
block by block (0.24 s a step). With frequency weights the ~40,000 distinct rows of
880,000 patients are fitted once each (`fit_by_distinct_rows`). Checked against R (an
exact Poisson-likelihood fit, tests/reference/multinomial_logit.R) in
tests/test_multinomial_logit.py.
"""

import numpy as np

from gistlm.estimators.distinct_rows import distinct_rows


def probabilities(exog: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """P(group | row), rows x groups, for coefficients (columns x (groups - 1)) of groups 1.. against 0."""
    linear = np.column_stack([np.zeros(len(exog)), exog @ coefficients])
    linear -= linear.max(axis=1, keepdims=True)  # exp stays finite; the ratios are unchanged
    odds = np.exp(linear)
    return odds / odds.sum(axis=1, keepdims=True)


def fit_multinomial_logit(
    exog: np.ndarray,
    codes: np.ndarray,
    weights: np.ndarray,
    start: np.ndarray | None = None,
    max_iter: int = 100,
    tolerance: float = 1e-8,
) -> tuple[np.ndarray, bool]:
    """Maximum-likelihood coefficients, columns x (groups - 1), and whether Newton converged.

    `exog`: rows x columns (the intercept included); `codes`: each row's group 0..J-1, every
    group present; `weights`: frequency weights. Not converged: no step below `tolerance`
    within `max_iter` steps, or a non-finite one (e.g. a covariate separates the groups).
    """
    groups = int(codes.max()) + 1
    columns = exog.shape[1]
    observed = np.zeros((len(codes), groups))
    observed[np.arange(len(codes)), codes] = 1.0
    coefficients = np.zeros((columns, groups - 1)) if start is None else np.array(start, float)
    for _ in range(max_iter):
        fitted = probabilities(exog, coefficients)[:, 1:]
        gradient = exog.T @ (weights[:, None] * (observed[:, 1:] - fitted))
        try:
            step = np.linalg.solve(_information(exog, fitted, weights), gradient.ravel(order="F"))
        except np.linalg.LinAlgError:  # no unique maximum (collinear columns)
            return coefficients, False
        coefficients = coefficients + step.reshape(columns, groups - 1, order="F")
        if not np.isfinite(step).all():
            return coefficients, False
        if np.abs(step).max() < tolerance:
            return coefficients, True
    return coefficients, False


def _information(exog: np.ndarray, fitted: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Minus the Hessian: block (a, b) is X' diag(w p_a (1[a = b] - p_b)) X, groups a, b >= 1."""
    groups, columns = fitted.shape[1], exog.shape[1]
    information = np.empty((groups * columns, groups * columns))
    for a in range(groups):
        for b in range(a, groups):
            scale = weights * fitted[:, a] * ((a == b) - fitted[:, b])
            block = exog.T @ (scale[:, None] * exog)
            information[a * columns : (a + 1) * columns, b * columns : (b + 1) * columns] = block
            information[b * columns : (b + 1) * columns, a * columns : (a + 1) * columns] = block.T
    return information


def fit_by_distinct_rows(exog: np.ndarray, codes: np.ndarray, start: np.ndarray | None = None):
    """`fit_multinomial_logit` of one row per patient, fitted on the distinct (row, group)
    pairs weighted by their counts (the same likelihood): (coefficients, converged,
    P(group | row) of every patient)."""
    first, pattern = distinct_rows(np.column_stack([exog, codes]))
    counts = np.bincount(pattern, minlength=len(first)).astype(float)
    coefficients, converged = fit_multinomial_logit(exog[first], codes[first], counts, start)
    return coefficients, converged, probabilities(exog[first], coefficients)[pattern]
