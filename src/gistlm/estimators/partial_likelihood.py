"""The Efron partial likelihood of the weighted Cox model on arrays, vectorised (cost ~ n log n).

Efron's ties, weights as in lifelines, optional late entry (start-stop rows: a row is at
risk at t if entry < t <= time), strata, and a robust (sandwich) variance clustered on any
column (Lin & Wei 1989) from Efron-form score residuals, as R's `coxph(..., robust = TRUE)`
and `cluster(id)` (tests/test_r_reference.py). gistlm.estimators.cox fits it, and says why
not lifelines. Arrays, not loops, because the bootstrap refits it thousands of times and
the clone-censor-weight model fits it to millions of start-stop rows.
"""

import numpy as np
import pandas as pd

from gistlm.estimators.distinct_rows import distinct_rows
from gistlm.estimators.kaplan_meier import time_order


class PartialLikelihood:
    """Efron partial likelihood of (entry, time] rows with weights; risk-set sums by sorted search.

    At a time with d deaths, the k-th (k = 0..d-1) risk-set sum is R - (k/d) D, where R sums
    w exp(x'b) over those at risk and D over those dying; each death term is multiplied by
    the mean weight of the deaths.
    """

    def __init__(self, time, event, x, weights, entry=None):
        time, event = np.asarray(time, float), np.asarray(event).astype(bool)
        # row indices as int32 where they fit: at scale (13M clone rows) each array is 50 MB less
        order = time_order(time)
        # compacted at once: an int64 order alive through the copies below raised the
        # clone-censor-weight job's peak by ~100 MB (9M rows at 1M patients)
        self.order = order = order if isinstance(order, slice) else _compact(order)
        self.time, self.event = _rows(time, order), _rows(event, order)
        self.x = _rows(np.asarray(x, float).reshape(len(time), -1), order)
        self.weights = _rows(np.asarray(weights, float), order)
        self.entry = None if entry is None else _rows(np.asarray(entry, float), order)
        self.death_times = np.unique(self.time[self.event])
        # rows at risk at t: stopping at or after t, less those entering at or after t
        self.from_time = np.searchsorted(self.time, self.death_times, side="left")
        if self.entry is not None:
            self.by_entry = _compact(np.argsort(self.entry, kind="stable"))
            self.from_entry = np.searchsorted(self.entry[self.by_entry], self.death_times, side="left")
        self.slot = _compact(
            np.minimum(np.searchsorted(self.death_times, self.time), max(len(self.death_times) - 1, 0))
        )
        # the deaths, sorted by time, start a new death time at these positions
        death_slots = self.slot[self.event]
        self.first_of_time = (
            np.flatnonzero(np.r_[True, death_slots[1:] != death_slots[:-1]]) if len(death_slots) else death_slots
        )
        self.deaths = self.at_deaths(np.ones(len(self.time)))
        self.mean_weight = self.at_deaths(self.weights) / self.deaths
        # Efron's steps: death times by their number of deaths, most first, and how many
        # of them have more than k deaths, k = 0..most - 1
        self.by_ties = np.argsort(-self.deaths, kind="stable")
        most = int(self.deaths.max()) if len(self.deaths) else 0
        self.more_than = np.searchsorted(-self.deaths[self.by_ties], -np.arange(most), side="left")
        self.death_x = (self.weights[self.event, None] * self.x[self.event]).sum(axis=0)
        self.patterns = self._pattern_sums()

    def _pattern_sums(self):
        """With few distinct covariate rows (group indicators, or a few 0/1 covariates: the
        IPTW, bootstrap, clone, time-varying and landmark models), per death time each row
        pattern's weight at risk and dying: (patterns, at risk, dying). A Newton step then
        costs death times x patterns instead of passes over every row. None with more
        patterns than MAX_PATTERNS or than rows per death time (then rows are cheaper)."""
        most = min(MAX_PATTERNS, len(self.time) // max(len(self.death_times), 1))
        found = distinct_rows(self.x, most)
        if found is None:
            return None
        first, codes = found
        codes = _compact(codes)
        # a row is at risk at the death times after its entry up to its own time
        at_risk = self._tail_sums(self.time, codes, len(first))
        if self.entry is not None:
            at_risk -= self._tail_sums(self.entry, codes, len(first))
        dead = self.event
        dying = np.bincount(
            self.slot[dead] * len(first) + codes[dead],
            weights=self.weights[dead],
            minlength=len(self.death_times) * len(first),
        )
        return self.x[first], at_risk, dying.reshape(len(self.death_times), len(first))

    def _tail_sums(self, times: np.ndarray, codes: np.ndarray, patterns: int) -> np.ndarray:
        """Per death time t and pattern, the weight of the rows whose `times` are t or later."""
        # bin 0: before the first death; in place, as the clone rows are 14M at 1M patients
        bins = np.searchsorted(self.death_times, times, side="right")
        bins *= patterns
        bins += codes
        sums = np.bincount(bins, weights=self.weights, minlength=(len(self.death_times) + 1) * patterns)
        sums = sums[patterns:].reshape(len(self.death_times), patterns)
        return np.cumsum(sums[::-1], axis=0)[::-1]

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
        if not len(self.death_times):
            return np.zeros((0, *values.shape[1:]))
        # the rows are sorted by time: each death time's deaths are one run of rows
        return np.add.reduceat(values[self.event], self.first_of_time, axis=0)

    def derivatives(self, beta: np.ndarray):
        """Log partial likelihood, its gradient and Hessian at `beta`."""
        log_risk, expected, information = self.by_death_time(beta)
        return self.death_x @ beta - log_risk.sum(), self.death_x - expected.sum(axis=0), -information.sum(axis=0)

    def by_death_time(self, beta: np.ndarray):
        """Per death time, Efron's sums over its deaths' risk sets: of the log risk-set totals,
        of the covariate means (the score is the deaths' covariates less these) and of the
        covariance matrices (the information). cox.zph weights them by a function of time."""
        order = self.by_ties
        r0, r1, r2, d0, d1, d2 = (moment[order] for moment in self._moments(beta))
        weight = self.mean_weight[order]
        log_risk, expected, information = np.zeros(len(order)), np.zeros_like(r1), np.zeros_like(r2)
        for at, share, phi, mean in self.efron_steps(r0, r1, d0, d1, in_tie_order=True):
            second = (r2[at] - share[:, None, None] * d2[at]) / phi[:, None, None]
            scale = weight[at]
            log_risk[at] += scale * np.log(phi)
            expected[at] += scale[:, None] * mean
            information[at] += scale[:, None, None] * (second - mean[:, :, None] * mean[:, None, :])
        back = np.empty_like(order)
        back[order] = np.arange(len(order))
        return log_risk[back], expected[back], information[back]

    def _moments(self, beta: np.ndarray):
        """Per death time, sums of w exp(x'b) times 1, x and x x' over the rows at risk
        (r0, r1, r2) and over the rows dying (d0, d1, d2)."""
        if self.patterns is not None:
            rows, at_risk, dying = self.patterns
            risk = np.exp(rows @ beta)
            first, second = risk[:, None] * rows, risk[:, None, None] * (rows[:, :, None] * rows[:, None, :])
            return tuple(
                np.tensordot(sums, moment, axes=1) for sums in (at_risk, dying) for moment in (risk, first, second)
            )
        x = self.x
        risk = self.weights * np.exp(x @ beta)
        # second moments one column at a time: rows x p x p at once is GBs at 1M patients
        return tuple(
            moment
            for sums in (self.at_risk, self.at_deaths)
            for moment in (
                sums(risk),
                sums(risk[:, None] * x),
                np.stack([sums(risk[:, None] * (x * x[:, [j]])) for j in range(x.shape[1])], axis=2),
            )
        )

    def efron_steps(self, r0, r1, d0, d1, in_tie_order: bool = False):
        """Efron's k-th (k = 0..most tied deaths - 1) of the d deaths at the death times that
        have one: (those times, share k/d, risk-set sum R - (k/d) D, its weighted covariate
        mean). Only where there are more than k deaths: every death time at every k cost 95%
        of a fit where a few times have many ties (administrative censoring).

        `in_tie_order`: the sums are given in `by_ties` order (most tied deaths first), so
        the times with more than k deaths are a leading slice: a view, not a copy, at every
        k (the Newton steps' hot loop). Otherwise they are indexed in time order."""
        deaths = self.deaths[self.by_ties]
        for k, reach in enumerate(self.more_than):
            at = slice(0, reach) if in_tie_order else self.by_ties[:reach]
            share = k / deaths[:reach]
            phi = r0[at] - share * d0[at]
            yield at, share, phi, (r1[at] - share[:, None] * d1[at]) / phi[:, None]

    def score_residuals(self, beta: np.ndarray) -> np.ndarray:
        """Weighted score residuals of the rows (in time order, `self.order`).

        Score residual of a row (R's coxscore2 / agscore3, Efron form): over the death times
        t in (entry, time], -exp(x'b) sum_k (x - xbar_k(t)) dLambda_k(t), the k-th of d tied
        deaths having risk-set sum R - (k/d) D, mean xbar_k over it and hazard increment
        dLambda_k = (mean weight of the d deaths) / (R - (k/d) D); a row dying at t also gets
        x minus the mean of the d means, and back the share k/d of each step it was charged
        (after the first of the tied deaths it is only partly at risk). With one death per
        time this is the Breslow form.
        """
        x, time = self.x, self.time
        phi = np.exp(x @ beta)
        risk = self.weights * phi
        pieces = (
            self.at_risk(risk),
            self.at_risk(risk[:, None] * x),
            self.at_deaths(risk),
            self.at_deaths(risk[:, None] * x),
        )
        hazard, early = np.zeros(len(self.death_times)), np.zeros(len(self.death_times))
        hazard_x, early_x, mean_of_means = (np.zeros_like(pieces[1]) for _ in range(3))
        for at, share, denominator, mean in self.efron_steps(*pieces):
            step = self.mean_weight[at] / denominator
            hazard[at] += step
            hazard_x[at] += mean * step[:, None]
            early[at] += share * step
            early_x[at] += mean * (share * step)[:, None]
            mean_of_means[at] += mean * (1 / self.deaths[at])[:, None]
        cumulative = np.r_[0.0, np.cumsum(hazard)]
        cumulative_x = np.vstack([np.zeros(x.shape[1]), np.cumsum(hazard_x, axis=0)])
        upto_stop = _compact(np.searchsorted(self.death_times, time, side="right"))
        upto_entry = (
            np.zeros(len(time), np.int32)
            if self.entry is None
            else _compact(np.searchsorted(self.death_times, self.entry, side="right"))
        )
        # in place: at scale these are arrays of millions of rows
        residual = x * (cumulative[upto_stop] - cumulative[upto_entry])[:, None]
        residual -= cumulative_x[upto_stop]
        residual += cumulative_x[upto_entry]
        del upto_stop, upto_entry
        residual *= -phi[:, None]
        dead, slot = self.event, self.slot[self.event]
        residual[dead] += (
            x[dead] - mean_of_means[slot] + phi[dead, None] * (x[dead] * early[slot, None] - early_x[slot])
        )
        residual *= self.weights[:, None]
        return residual


def newton_raphson(derivatives, width: int, max_iter: int = 50, tolerance: float = 1e-10):
    """Maximise a log partial likelihood from beta = 0 by Newton-Raphson with step halving,
    until no coefficient moves by `tolerance`: (coefficients, converged). `derivatives(beta)`
    gives the log-likelihood, gradient and Hessian. A singular information (a term without
    variation, or one that separates the deaths) is not converged."""
    beta = np.zeros(width)
    loglik, gradient, hessian = derivatives(beta)
    for _ in range(max_iter):
        try:
            step = np.linalg.solve(-hessian, gradient)
        except np.linalg.LinAlgError:
            return beta, False
        newton_size = np.abs(step).max()
        new_loglik, new_gradient, new_hessian = derivatives(beta + step)
        # halve the step only on a real decrease: near the maximum the log-likelihood of
        # 175,000 patients moves by less than its rounding (1e-11 of 2e5), and halving on
        # that noise stopped a fit 1.5e-7 short of R's (side_by_side.py, 200k patients)
        while new_loglik < loglik - 1e-9 * max(1.0, abs(loglik)) and np.abs(step).max() > tolerance:
            step = step / 2
            new_loglik, new_gradient, new_hessian = derivatives(beta + step)
        beta, loglik, gradient, hessian = beta + step, new_loglik, new_gradient, new_hessian
        if not np.isfinite(step).all():
            return beta, False
        if newton_size < tolerance:  # the full Newton step, not a halved one
            return beta, True
    return beta, False


class StratifiedPartialLikelihood:
    """Efron partial likelihood with a baseline hazard per stratum (R's `strata()`): the sum
    of each stratum's PartialLikelihood. `strata`: the row positions of each stratum (e.g.
    a DataFrame groupby's `indices.values()`); without, one stratum of every row.

    `center`: the covariates are centred first (on their mean over all rows), as R's coxph
    does: that changes neither the coefficients nor their information, and keeps exp(x'b)
    in range for large covariates.
    """

    def __init__(self, time, event, x, weights=None, strata=None, entry=None, center=True):
        time, event = np.asarray(time, float), np.asarray(event).astype(bool)
        x = np.asarray(x, float).reshape(len(time), -1)
        x = x - x.mean(axis=0) if center and len(x) else x
        weights = np.ones(len(time)) if weights is None else np.asarray(weights, float)
        entry = None if entry is None else np.asarray(entry, float)
        # without strata the arrays are used as they are: at scale (13M clone rows) no copies
        blocks = [slice(None)] if strata is None else strata
        self.width, self.rows = x.shape[1], len(time)
        parts = (
            (
                rows,
                PartialLikelihood(
                    time[rows], event[rows], x[rows], weights[rows], None if entry is None else entry[rows]
                ),
            )
            for rows in blocks
        )
        self.parts = [(rows, part) for rows, part in parts if len(part.death_times)]

    def derivatives(self, beta: np.ndarray):
        """Log partial likelihood, its gradient and Hessian at `beta`, summed over strata."""
        loglik, gradient, hessian = 0.0, np.zeros(self.width), np.zeros((self.width, self.width))
        for _, part in self.parts:
            part_loglik, part_gradient, part_hessian = part.derivatives(beta)
            loglik, gradient, hessian = loglik + part_loglik, gradient + part_gradient, hessian + part_hessian
        return loglik, gradient, hessian

    def fit(self, max_iter: int = 50, tolerance: float = 1e-10):
        """Log hazard ratios by Newton-Raphson with step halving: (coefficients, converged);
        no deaths at all is not converged."""
        if not self.parts:
            return np.full(self.width, np.nan), False
        return newton_raphson(self.derivatives, self.width, max_iter, tolerance)

    def covariance(self, beta: np.ndarray) -> np.ndarray:
        """Model-based covariance: the inverse information."""
        return np.linalg.inv(-self.derivatives(beta)[2])

    def robust_covariance(self, beta: np.ndarray, cluster) -> np.ndarray:
        """Sandwich covariance V (sum over clusters of U U') V, V the inverse information,
        U a cluster's sum of weighted score residuals (R's residuals(fit, "dfbeta") %*% V)."""
        inverse = self.covariance(beta)
        codes = _compact(pd.factorize(np.asarray(cluster))[0])
        residuals = [(codes[rows][part.order], part.score_residuals(beta)) for rows, part in self.parts]
        if len(residuals) == 1:
            codes, residual = residuals[0]
        else:
            codes, residual = np.concatenate([c for c, _ in residuals]), np.vstack([r for _, r in residuals])
        clusters = int(codes.max()) + 1 if len(codes) else 0
        per_cluster = [np.bincount(codes, weights=residual[:, j], minlength=clusters) for j in range(self.width)]
        return inverse @ _cross_products(per_cluster) @ inverse


def _cross_products(columns: list[np.ndarray]) -> np.ndarray:
    """The matrix of sums of products of the `columns` (U'U), by numpy's pairwise sums, not
    BLAS: OpenBLAS splits a long dot product between its threads, so a robust SE's last
    digits depended on the thread count (clone-censor-weight at 1M patients)."""
    width = len(columns)
    products = np.empty((width, width))
    for j in range(width):
        for k in range(j, width):
            products[j, k] = products[k, j] = np.add.reduce(columns[j] * columns[k])
    return products


# more distinct covariate rows than this: the sums go row by row
MAX_PATTERNS = 1024


def _rows(values: np.ndarray, order) -> np.ndarray:
    """`values`' rows in `time_order`, as the model's own array: callers free theirs
    (clone_censor_weight at 1M patients). Rows already in time order are copied, C-ordered
    as a row selection makes them, which is a fraction of the cost of selecting them."""
    return values[order].copy() if isinstance(order, slice) else values[order]


def _compact(indices: np.ndarray) -> np.ndarray:
    return indices.astype(np.int32) if len(indices) < 2**31 else indices
