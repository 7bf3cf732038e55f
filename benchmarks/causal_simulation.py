"""Bias and 95%-CI coverage of the IM+HR estimators against the generator's true hazard ratio.

Generates repeated natural cohorts (gistlm.synthetic), runs each through ingestion,
validation, eligibility and the analysis cohort as the rules do, then estimates the effect
of hepatic resection with the naive fixed-group Cox model, the landmark models, the
time-varying Cox model, the fixed-group weighted Cox models (entropy balancing, GPS-IPTW) and
the landmark-weighted ones (groups by treatment received at the landmark, weighted on
baseline covariates: both biases at once), all with the workflow's config (config/config.yaml).
Truth: the generator's time-varying log HR of resection (0.35), a conditional effect of the
procedure from its date. Landmark and weighted estimators estimate other quantities (treated
by the landmark vs not yet; marginal effect of the published groups), so their "bias" measures
how far they are from that effect, not a coding error.

Scenarios: `default` (the shipped generator's parameters: deaths in the first 18 months,
when procedures happen, are rare) and `early-deaths` (constant baseline hazard, as in
tests/test_causal_truth.py, so patients die while waiting for their procedure).

Usage: python benchmarks/causal_simulation.py [--cohorts 50] [--patients 2000]
       [--scenario default early-deaths] [--seed 1] [--workers 1]
"""

import argparse
import math
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from gistlm.causal.immortal_time import landmark_cohort, local_treatment_dates, start_stop_rows, time_varying_cox
from gistlm.causal.landmark_weighting import landmark_weighted
from gistlm.causal.propensity import weighted_cohort, weighted_cox
from gistlm.cohort.analysis_cohort import build_analysis_cohort
from gistlm.cohort.eligibility import apply_criteria
from gistlm.estimators.balancing import weighting_table
from gistlm.extract.ingestion import read_raw_table, type_raw_table
from gistlm.quality.validation import validate_extract
from gistlm.survival.overall_survival import cox_summary, fit_cox, group_indicators
from gistlm.synthetic import CohortParameters, generate_extract, write_extract

REPO = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
SCENARIOS = {
    "default": CohortParameters(),
    "early-deaths": CohortParameters(
        weibull_shape=1.0, weibull_scale_months=60.0, p_early_loss=0.0, loss_rate_per_month=1e-6, hr_intercept=-4.0
    ),
}
TERM = "IM+HR vs IM"


def analysis_cohort(params: CohortParameters, patients: int, seed: int):
    """(cohort, treatment dates with covariates, truth) of one generated extract."""
    tables, truth = generate_extract(seed=seed, n_patients=patients, params=params)
    with tempfile.TemporaryDirectory() as folder:
        write_extract(tables, truth, folder)
        typed, conversions = {}, {}
        for name in tables:
            typed[name], conversions[name] = type_raw_table(read_raw_table(Path(folder) / f"{name}.csv", name), name)
    validated, _, _ = validate_extract(typed, conversions, pd.Timestamp(CONFIG["validation"]["latest_date"]))
    verdicts = apply_criteria(validated, CONFIG["eligibility"])
    settings = {key: CONFIG[key] for key in ["groups", "outcome", "covariate_cutoffs"]}
    cohort = build_analysis_cohort(validated, verdicts.loc[verdicts["eligible"], "patient_id"], settings)
    lm_dates = validated["liver_metastases"].set_index("patient_id")["lm_diagnosis_date"]
    dates = local_treatment_dates(
        validated["treatments"], lm_dates, cohort, CONFIG["groups"]["precedence"], CONFIG["outcome"]["days_per_month"]
    )
    covariates = [*dict.fromkeys(CONFIG["survival"]["cox_covariates"] + CONFIG["causal"]["propensity"]["covariates"])]
    return cohort, dates.merge(cohort[["patient_id", *covariates]], on="patient_id"), truth


def row_of(table: pd.DataFrame) -> tuple[float, float, float]:
    """(log HR, log CI lower, log CI upper) of the IM+HR term."""
    row = table[table["term"] == TERM].iloc[0]
    return math.log(row["hr"]), math.log(row["ci_lower"]), math.log(row["ci_upper"])


def estimates(cohort: pd.DataFrame, dates: pd.DataFrame) -> dict[str, tuple[float, float, float]]:
    """Every estimator's log HR and CI for IM+HR vs IM on one cohort (NaN if it fails)."""
    groups, covariates, alpha = CONFIG["groups"], CONFIG["survival"]["cox_covariates"], CONFIG["survival"]["alpha"]
    labels = [rule["label"] for rule in groups["precedence"]]
    found = {}

    def attempt(name, compute):
        try:
            found[name] = compute()
        except Exception:  # a failed fit in one replicate is counted, not fatal
            found[name] = (np.nan, np.nan, np.nan)

    def naive():
        terms = pd.concat([group_indicators(cohort, groups["labels"], groups["reference"]), cohort[covariates]], axis=1)
        return row_of(cox_summary("multivariable", *fit_cox(cohort, terms, alpha)))

    def landmark(months):
        rows = landmark_cohort(dates, months, groups["precedence"], groups["default"], groups["labels"])
        terms = pd.concat([group_indicators(rows, groups["labels"], groups["reference"]), rows[covariates]], axis=1)
        return row_of(cox_summary("multivariable", *fit_cox(rows, terms, alpha)))

    def time_varying():
        rows = start_stop_rows(dates, labels, CONFIG["causal"]["exposure_coding"])
        return row_of(time_varying_cox(rows, labels, groups["reference"], covariates, alpha))

    def weighted(method):
        table = weighting_table(cohort, groups["labels"], CONFIG["causal"]["propensity"], method)
        return row_of(weighted_cox(weighted_cohort(cohort, table), groups["labels"], groups["reference"], alpha))

    def landmark_weighting(months, method):
        settings = {
            **{key: CONFIG["causal"][key] for key in ["propensity", "diagnostics", "rmst_horizons_months"]},
            "weighting": {"method": method},
            "alpha": alpha,
            "min_cell_count": 0,
        }
        return row_of(landmark_weighted(dates, months, groups, settings)["cox"])

    attempt("naive (fixed groups)", naive)
    for months in CONFIG["causal"]["landmarks_months"]:
        attempt(f"landmark {months:g} months", lambda months=months: landmark(months))
    attempt("time-varying Cox", time_varying)
    attempt("GPS-IPTW (marginal)", lambda: weighted("gps_iptw"))
    attempt("entropy balancing (marginal)", lambda: weighted("entropy_balance"))
    for months in CONFIG["causal"]["landmarks_months"]:
        for method, name in [("entropy_balance", "entropy balancing"), ("gps_iptw", "GPS-IPTW")]:
            attempt(
                f"landmark {months:g} months, {name}",
                lambda months=months, method=method: landmark_weighting(months, method),
            )
    return found


def one_cohort(job):
    scenario, patients, seed = job
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cohort, dates, truth = analysis_cohort(SCENARIOS[scenario], patients, seed)
        found = estimates(cohort, dates)
    truth_log_hr = truth["true_hazard_model"]["time_varying_log_hr"]["hepatic_resection"]
    return [
        {
            "scenario": scenario,
            "seed": seed,
            "estimator": name,
            "log_hr": value,
            "lower": low,
            "upper": high,
            "truth": truth_log_hr,
            "n": len(cohort),
            "deaths": int(cohort["death"].sum()),
        }
        for name, (value, low, high) in found.items()
    ]


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Per scenario and estimator: mean HR, bias and SD on the log scale, 95%-CI coverage of the truth."""
    results = results.assign(covered=(results["lower"] <= results["truth"]) & (results["truth"] <= results["upper"]))
    # an estimator that failed in every cohort keeps its row (NaN statistics, all failed)
    ok = results.assign(log_hr=results["log_hr"].astype(float))
    table = ok.groupby(["scenario", "estimator"], sort=False).agg(
        cohorts=("log_hr", "count"),
        true_hr=("truth", lambda s: math.exp(s.iloc[0])),
        mean_hr=("log_hr", lambda s: math.exp(s.mean())),
        bias_log=("log_hr", "mean"),
        sd_log=("log_hr", "std"),
        coverage=("covered", lambda s: s[ok.loc[s.index, "log_hr"].notna()].mean()),
    )
    table["bias_log"] = table["bias_log"] - np.log(table["true_hr"])
    table["failed"] = (
        results.groupby(["scenario", "estimator"], sort=False)["log_hr"]
        .apply(lambda s: int(s.isna().sum()))
        .reindex(table.index)
    )
    return table.reset_index()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohorts", type=int, default=50)
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--scenario", nargs="+", choices=sorted(SCENARIOS), default=["default", "early-deaths"])
    parser.add_argument("--seed", type=int, default=1, help="first cohort's seed; cohort i uses seed + i")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", help="optional CSV of every cohort's estimates")
    args = parser.parse_args(argv)
    jobs = [(scenario, args.patients, args.seed + i) for scenario in args.scenario for i in range(args.cohorts)]
    start = time.perf_counter()
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            rows = [row for found in pool.map(one_cohort, jobs) for row in found]
    else:
        rows = [row for job in jobs for row in one_cohort(job)]
    results = pd.DataFrame(rows)
    if args.out:
        results.to_csv(args.out, index=False)
    table = summarise(results)
    print(
        f"{args.cohorts} cohorts x {args.patients} generated patients per scenario "
        f"({time.perf_counter() - start:.0f} s); effect of {TERM}, truth = the generator's time-varying HR"
    )
    print(
        "mean eligible patients / deaths per cohort: "
        + ", ".join(
            f"{s}: {g['n'].mean():.0f} / {g['deaths'].mean():.0f}"
            for s, g in results.drop_duplicates(["scenario", "seed"]).groupby("scenario", sort=False)
        )
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    sys.exit(main())
