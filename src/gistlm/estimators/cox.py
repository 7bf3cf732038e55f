"""The weighted Cox model of every analysis, with lifelines' API, and R's cox.zph test.

`CoxFitter(alpha=...).fit(df, duration_col=..., event_col=...)` returns the fitter, with
`params_`, `standard_errors_` and `summary` named as lifelines' CoxPHFitter's. Efron's ties,
weights, late entry (start-stop rows), strata and a robust (sandwich) variance clustered on a
column, all checked against R's coxph in tests/test_r_reference.py.

Why not lifelines' CoxPHFitter (measured):
- its default stopping rule (log-likelihood change < 1e-9, steps of 0.95) stops short of the
  maximum: 1.6e-4 off R's on the shipped cohort (univariable `male`, issue 12); ours stops on
  the full Newton step (< 1e-10), within 1e-7 of R's;
- its fit took 64 of the pipeline's 151 s at 1M patients (benchmarks/side_by_side.py), and
  its robust variance loops over the rows (O(n^2); 26 s of the IPTW rule's 27 at 100k
  patients, 98 s for 10,000 patients' clones);
- with late entry it counts every row at risk from time 0 (wrong robust SEs for start-stop
  data), and its sandwich uses Breslow-form residuals (0.1-0.5% off R's with tied deaths);
- its counting-process fitter (CoxTimeVaryingFitter) loops over event times (119 s at 100k
  patients against 16 s).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from gistlm.estimators.partial_likelihood import PartialLikelihood, StratifiedPartialLikelihood

PH_TRANSFORMS = ("km", "rank", "identity", "log")


class CoxFitter:
    """Weighted Cox proportional-hazards model (Efron's ties), lifelines-shaped.

    `center=False` fits the covariates as given instead of centred on their means: the
    estimate is the same, its last digits are not. The analyses of weighted 0/1 indicators
    (IPTW, clone-censor-weight, time-varying, bootstrap) were fitted uncentred and stay so,
    which keeps their published results byte-identical.
    """

    def __init__(self, alpha: float = 0.05, center: bool = True):
        self.alpha, self.center = alpha, center

    def fit(
        self,
        df: pd.DataFrame,
        duration_col: str,
        event_col: str,
        weights_col: str | None = None,
        strata: list[str] | None = None,
        entry_col: str | None = None,
        robust: bool = False,
        cluster_col: str | None = None,
    ) -> CoxFitter:
        """Fit on `df`'s rows; every column not named here is a covariate. Robust SEs are
        clustered on `cluster_col`, or on the row with `robust` alone (lifelines' robust=True).
        A fit without a maximum (no deaths, a term without variation or separating the deaths)
        has `converged_` False and missing estimates."""
        strata = list(strata or [])
        named = {duration_col, event_col, weights_col, entry_col, cluster_col, *strata} - {None}
        self.terms = [column for column in df.columns if column not in named]
        if df[[*self.terms, duration_col, event_col]].isna().any().any():
            raise ValueError("CoxFitter: missing values in the model's columns; fit the complete cases")
        blocks = df.groupby(strata, sort=True, observed=True).indices.values() if strata else None
        self.model_ = StratifiedPartialLikelihood(
            df[duration_col].to_numpy(float),
            df[event_col].to_numpy(float),
            df[self.terms].to_numpy(float),
            None if weights_col is None else df[weights_col].to_numpy(float),
            blocks,
            None if entry_col is None else df[entry_col].to_numpy(float),
            self.center,
        )
        coef, self.converged_ = self.model_.fit()
        self._beta = coef
        self.params_ = pd.Series(
            coef if self.converged_ else np.nan, index=pd.Index(self.terms, name="covariate"), name="coef"
        )
        self._cluster = (
            df[cluster_col].to_numpy() if cluster_col is not None else np.arange(len(df)) if robust else None
        )
        for cached in ("variance_matrix_", "summary"):
            self.__dict__.pop(cached, None)
        return self

    @cached_property
    def variance_matrix_(self) -> pd.DataFrame:
        """Model-based (inverse information) or robust covariance of the coefficients."""
        if not self.converged_:
            values = np.full((len(self.terms), len(self.terms)), np.nan)
        elif self._cluster is None:
            values = self.model_.covariance(self._beta)
        else:
            values = self.model_.robust_covariance(self._beta, self._cluster)
        return pd.DataFrame(values, index=self.params_.index, columns=self.params_.index)

    @property
    def standard_errors_(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.variance_matrix_.to_numpy())), index=self.params_.index, name="se")

    @property
    def log_likelihood_(self) -> float:
        return float(self.model_.derivatives(self._beta)[0])

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Per covariate, as lifelines: coef, exp(coef), se(coef), the Wald interval of both
        at 1 - alpha, z and its two-sided p."""
        from scipy import special  # here: 0.15 s to import, for jobs that fit no model

        coef, se = self.params_.to_numpy(float), self.standard_errors_.to_numpy(float)
        z, level = special.ndtri(1 - self.alpha / 2), f"{100 * (1 - self.alpha):g}%"
        lower, upper = coef - z * se, coef + z * se
        return pd.DataFrame(
            {
                "coef": coef,
                "exp(coef)": np.exp(coef),
                "se(coef)": se,
                f"coef lower {level}": lower,
                f"coef upper {level}": upper,
                f"exp(coef) lower {level}": np.exp(lower),
                f"exp(coef) upper {level}": np.exp(upper),
                "z": coef / se,
                "p": 2 * special.ndtr(-np.abs(coef / se)),
            },
            index=self.params_.index,
        )


def hazard_ratio_table(fit: CoxFitter) -> pd.DataFrame:
    """The fit's summary as gistlm's tables name it: term, coef, se, hr, ci_lower, ci_upper, p_value."""
    summary = fit.summary
    level = f"{100 * (1 - fit.alpha):g}%"
    return pd.DataFrame(
        {
            "term": summary.index.to_numpy(),
            "coef": summary["coef"].to_numpy(),
            "se": summary["se(coef)"].to_numpy(),
            "hr": summary["exp(coef)"].to_numpy(),
            "ci_lower": summary[f"exp(coef) lower {level}"].to_numpy(),
            "ci_upper": summary[f"exp(coef) upper {level}"].to_numpy(),
            "p_value": summary["p"].to_numpy(),
        }
    )


# --- proportional-hazards test (R's cox.zph, survival >= 3.0) -----------------------------


def proportional_hazards_test(
    fit: CoxFitter,
    data: pd.DataFrame,
    duration_col: str,
    event_col: str,
    strata: list[str] | None = None,
    transform: str = "km",
    weights: np.ndarray | None = None,
) -> pd.DataFrame:
    """Proportional-hazards score test per term and global: R's cox.zph (survival >= 3.0).

    The score test, at the fitted coefficients, of adding each term times g(t) to the model,
    g the `transform` of time ("km": 1 - the Kaplan-Meier of all patients just before t,
    R's default; "rank", "identity", "log") centred on its mean over the deaths. It replaces
    the Grambsch-Therneau approximation on scaled Schoenfeld residuals (lifelines'
    proportional_hazard_test, R before 3.0), which can reach another conclusion. `weights`
    (case weights of `data`'s rows, as the fit's) enter the score and information, not g.
    """
    terms = list(fit.params_.index)
    beta = fit.params_.to_numpy(float)
    weights = np.ones(len(data)) if weights is None else np.asarray(weights, float)
    score, information = _time_weighted_score(data, duration_col, event_col, terms, beta, strata, transform, weights)
    from scipy import special

    p = len(terms)
    rows = []
    for j, term in [*enumerate(terms), (None, "global")]:
        kept = list(range(p)) + ([p + j] if j is not None else list(range(p, 2 * p)))
        u = np.r_[np.zeros(p), score[j] if j is not None else score]
        statistic = float(u @ np.linalg.solve(information[np.ix_(kept, kept)], u))
        df = 1 if j is not None else p
        rows.append(
            {
                "term": term,
                "statistic": statistic,
                "df": df,
                "p_value": special.chdtrc(df, statistic),
                "time_transform": transform,
            }
        )
    return pd.DataFrame(rows)


def _time_weighted_score(
    data: pd.DataFrame,
    duration_col: str,
    event_col: str,
    terms: list[str],
    beta: np.ndarray,
    strata: list[str] | None,
    transform: str,
    weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """R's zph1: the score of the terms times g(t) (the terms' own score is 0 at the fit) and
    the information of (terms, terms x g(t)), summed over strata (Efron's ties)."""
    time, event = data[duration_col].to_numpy(float), data[event_col].to_numpy(bool)
    scale = time_scale(time, event, transform)
    p = len(terms)
    score, information = np.zeros(p), np.zeros((2 * p, 2 * p))
    blocks = data.groupby(strata, sort=True, observed=True).indices.values() if strata else [np.arange(len(data))]
    for rows in blocks:
        model = PartialLikelihood(time[rows], event[rows], data[terms].to_numpy(float)[rows], weights[rows])
        if not len(model.death_times):
            continue
        _, expected, covariance = model.by_death_time(beta)
        g = scale.reindex(model.death_times).to_numpy()
        observed = model.at_deaths(model.weights[:, None] * model.x)
        score += g @ (observed - expected)
        information[:p, :p] += covariance.sum(axis=0)
        information[:p, p:] += np.tensordot(g, covariance, axes=1)
        information[p:, p:] += np.tensordot(g**2, covariance, axes=1)
    information[p:, :p] = information[:p, p:].T
    return score, information


def time_scale(time: np.ndarray, event: np.ndarray, transform: str) -> pd.Series:
    """g(t) of cox.zph by death time t, centred on its mean over the deaths (all strata)."""
    death_times, deaths = np.unique(time[event], return_counts=True)
    ordered = np.sort(time)
    before = np.searchsorted(ordered, death_times, side="left")  # rows leaving before t
    if transform == "km":
        # 1 - S(t-): the Kaplan-Meier of all rows, unweighted and unstratified, just before t
        survival_after = np.cumprod(1 - deaths / (len(time) - before))
        values = 1 - np.r_[1.0, survival_after[:-1]]
    elif transform == "rank":
        ties = np.searchsorted(ordered, death_times, side="right") - before
        values = before + (ties + 1) / 2  # R's rank(): ties share their average rank
    elif transform == "identity":
        values = death_times
    elif transform == "log":
        values = np.log(death_times)
    else:
        raise ValueError(f"unknown time transform {transform!r}: one of {', '.join(PH_TRANSFORMS)}")
    centred = values - (deaths * values).sum() / deaths.sum()
    return pd.Series(centred, index=death_times)
