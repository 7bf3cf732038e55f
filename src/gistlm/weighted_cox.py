"""Weighted Cox proportional-hazards model (and Kaplan-Meier) on arrays, vectorised (cost ~ n log n).

Efron's ties, weights as in lifelines, optional late entry (start-stop rows: a row is at
risk at t if entry < t <= time) and a robust (sandwich) variance clustered on patient (Lin &
Wei 1989). The bootstrap refits its IPTW model with it thousands of times, and the
clone-censor-weight model fits it to millions of start-stop rows. lifelines would do
neither at that size: its robust variance loops over the rows (O(n^2); 98 s for 10,000
patients' clones), and with late entry it counts every row at risk from time 0, which gives
wrong robust standard errors for start-stop data.
"""

import numpy as np
import pandas as pd
from scipy import stats


class PartialLikelihood:
    """Efron partial likelihood of (entry, time] rows with weights; risk-set sums by sorted search.

    At a time with d deaths, the k-th (k = 0..d-1) risk-set sum is R - (k/d) D, where R sums
    w exp(x'b) over those at risk and D over those dying; each death term is multiplied by
    the mean weight of the deaths.
    """

    def __init__(self, time, event, x, weights, entry=None):
        time, event = np.asarray(time, float), np.asarray(event).astype(bool)
        # row indices as int32 where they fit: at scale (13M clone rows) each array is 50 MB less
        self.order = order = _compact(np.argsort(time, kind="stable"))
        self.time, self.event = time[order], event[order]
        self.x = np.asarray(x, float).reshape(len(time), -1)[order]
        self.weights = np.asarray(weights, float)[order]
        self.entry = None if entry is None else np.asarray(entry, float)[order]
        self.death_times = np.unique(self.time[self.event])
        # rows at risk at t: stopping at or after t, less those entering at or after t
        self.from_time = np.searchsorted(self.time, self.death_times, side="left")
        if self.entry is not None:
            self.by_entry = _compact(np.argsort(self.entry, kind="stable"))
            self.from_entry = np.searchsorted(self.entry[self.by_entry], self.death_times, side="left")
        self.slot = _compact(np.minimum(np.searchsorted(self.death_times, self.time), max(len(self.death_times) - 1, 0)))
        self.deaths = self.at_deaths(np.ones(len(self.time)))
        self.mean_weight = self.at_deaths(self.weights) / self.deaths
        self.death_x = (self.weights[self.event, None] * self.x[self.event]).sum(axis=0)

    def at_risk(self, values: np.ndarray) -> np.ndarray:
        """Per death time, the sum of `values` (one per row, any shape) over the rows at risk."""
        def tail_sums(rows, first):
            sums = np.cumsum(rows[::-1], axis=0)[::-1]
            beyond = first >= len(rows)  # nobody enters at or after t
            picked = sums[np.minimum(first, len(rows) - 1)]
            picked[beyond] = 0.0
            return picked
        sums = tail_sums(values, self.from_time)
        if self.entry is not None:
            sums -= tail_sums(values[self.by_entry], self.from_entry)
        return sums

    def at_deaths(self, values: np.ndarray) -> np.ndarray:
        """Per death time, the sum of `values` over the rows dying then."""
        flat = values[self.event].reshape(int(self.event.sum()), int(np.prod(values.shape[1:])))
        sums = np.stack([np.bincount(self.slot[self.event], weights=flat[:, j], minlength=len(self.death_times))
                         for j in range(flat.shape[1])], axis=1)
        return sums.reshape((len(self.death_times), *values.shape[1:]))

    def product_limit(self):
        """Weighted Kaplan-Meier with late entry (the covariates are ignored): per death time,
        the weighted number at risk, weighted deaths and survival just after it."""
        at_risk, deaths = self.at_risk(self.weights), self.at_deaths(self.weights)
        return self.death_times, at_risk, deaths, np.cumprod(1 - deaths / at_risk)

    def derivatives(self, beta: np.ndarray):
        """Log partial likelihood, its gradient and Hessian at `beta`."""
        x, d = self.x, self.deaths
        risk = self.weights * np.exp(x @ beta)
        r0, r1, d0, d1 = (self.at_risk(risk), self.at_risk(risk[:, None] * x),
                          self.at_deaths(risk), self.at_deaths(risk[:, None] * x))
        # second moments one column at a time: rows x p x p at once is GBs at 1M patients
        r2 = np.stack([self.at_risk(risk[:, None] * (x * x[:, [j]])) for j in range(x.shape[1])], axis=2)
        d2 = np.stack([self.at_deaths(risk[:, None] * (x * x[:, [j]])) for j in range(x.shape[1])], axis=2)
        loglik, gradient, hessian = self.death_x @ beta, self.death_x.copy(), np.zeros((x.shape[1], x.shape[1]))
        for k in range(int(d.max())):
            active = k < d
            share = np.where(active, k / d, 0.0)
            phi = r0 - share * d0
            mean = (r1 - share[:, None] * d1) / phi[:, None]
            second = (r2 - share[:, None, None] * d2) / phi[:, None, None]
            scale = np.where(active, self.mean_weight, 0.0)
            loglik -= (scale * np.log(phi)).sum()
            gradient -= (scale[:, None] * mean).sum(axis=0)
            hessian -= (scale[:, None, None] * (second - mean[:, :, None] * mean[:, None, :])).sum(axis=0)
        return loglik, gradient, hessian

    def fit(self, max_iter: int = 50, tolerance: float = 1e-10):
        """Log hazard ratios by Newton-Raphson with step halving: (coefficients, converged)."""
        beta = np.zeros(self.x.shape[1])
        if not len(self.death_times):
            return beta * np.nan, False
        loglik, gradient, hessian = self.derivatives(beta)
        for _ in range(max_iter):
            step = np.linalg.solve(-hessian, gradient)
            new_loglik, new_gradient, new_hessian = self.derivatives(beta + step)
            while new_loglik < loglik - 1e-12 and np.abs(step).max() > tolerance:  # step halving
                step = step / 2
                new_loglik, new_gradient, new_hessian = self.derivatives(beta + step)
            beta, loglik, gradient, hessian = beta + step, new_loglik, new_gradient, new_hessian
            if np.abs(step).max() < tolerance:
                return beta, True
        return beta, False

    def robust_covariance(self, beta: np.ndarray, cluster) -> np.ndarray:
        """Sandwich covariance V (sum over clusters of U U') V, V the inverse information.

        U sums a cluster's score residuals, w_i [death_i (x_i - xbar(t_i)) - exp(x_i'b)
        sum over death times t_j in (entry_i, time_i] of (x_i - xbar(t_j)) dLambda(t_j)]
        (Breslow form, as lifelines; its robust variance without late entry is the same).
        """
        x, time = self.x, self.time
        inverse = np.linalg.inv(-self.derivatives(beta)[2])
        phi = np.exp(x @ beta)
        s0 = self.at_risk(self.weights * phi)
        xbar = self.at_risk((self.weights * phi)[:, None] * x) / s0[:, None]
        hazard = self.at_deaths(self.weights) / s0
        cumulative = np.r_[0.0, np.cumsum(hazard)]
        cumulative_x = np.vstack([np.zeros(x.shape[1]), np.cumsum(xbar * hazard[:, None], axis=0)])
        upto_stop = _compact(np.searchsorted(self.death_times, time, side="right"))
        upto_entry = (np.zeros(len(time), np.int32) if self.entry is None
                      else _compact(np.searchsorted(self.death_times, self.entry, side="right")))
        # in place: at scale these are arrays of millions of rows
        residual = x * (cumulative[upto_stop] - cumulative[upto_entry])[:, None]
        residual -= cumulative_x[upto_stop]
        residual += cumulative_x[upto_entry]
        del upto_stop, upto_entry
        residual *= -phi[:, None]
        residual += self.event[:, None] * (x - xbar[self.slot])
        residual *= self.weights[:, None]
        codes = _compact(pd.factorize(cluster)[0])[self.order]
        per_cluster = np.stack([np.bincount(codes, weights=residual[:, j]) for j in range(x.shape[1])], axis=1)
        return inverse @ (per_cluster.T @ per_cluster) @ inverse


def weighted_cox_coefficients(time, event, x, weights, entry=None):
    """Cox log hazard ratios (Efron's ties, weighted as in lifelines): (coefficients, converged)."""
    return PartialLikelihood(time, event, x, weights, entry).fit()


def _compact(indices: np.ndarray) -> np.ndarray:
    return indices.astype(np.int32) if len(indices) < 2**31 else indices


def wald_table(model: PartialLikelihood, terms: list[str], alpha: float, cluster=None) -> pd.DataFrame:
    """Fit `model`; per term: coef, se, hr with its CI and the Wald p-value, all missing if the
    fit does not converge. SEs are model-based, or robust (sandwich) clustered on `cluster`."""
    coef, converged = model.fit()
    if not converged:
        coef = np.full(len(terms), np.nan)
        se = coef.copy()
    elif cluster is None:
        se = np.sqrt(np.diag(np.linalg.inv(-model.derivatives(coef)[2])))
    else:
        se = np.sqrt(np.diag(model.robust_covariance(coef, cluster)))
    z = stats.norm.ppf(1 - alpha / 2)
    return pd.DataFrame({"term": terms, "coef": coef, "se": se, "hr": np.exp(coef),
                         "ci_lower": np.exp(coef - z * se), "ci_upper": np.exp(coef + z * se),
                         "p_value": 2 * stats.norm.sf(np.abs(coef / se))})
