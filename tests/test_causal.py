"""Causal analyses (issue 4): known values, lifelines cross-checks, and bootstrap chunk invariance."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, CoxTimeVaryingFitter, KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time
from study_config import CONFIG

from gistlm.causal.bootstrap import (
    analysis_arrays,
    chunk_replicates,
    cohort_estimates,
    group_hazard_ratios,
    iptw_estimates,
    percentile_intervals,
    read_bootstrap_table,
    replicate_rng,
    run_chunk,
)
from gistlm.causal.effect_measures import (
    e_value_of_risk_ratio,
    e_values,
    hazard_ratio_as_risk_ratio,
    hazard_ratios_by_method,
    rmst_unadjusted,
)
from gistlm.causal.immortal_time import (
    landmark_cohort,
    local_treatment_dates,
    months_to_column,
    read_dates,
    start_stop_rows,
    time_varying_cox,
)
from gistlm.causal.propensity import (
    balance_table,
    balance_verdict,
    common_support,
    covariate_design,
    fit_generalised_propensity,
    propensity_coefficients,
    propensity_table,
    stabilised_weights,
    standardised_difference,
    truncate,
    weight_summary,
)
from gistlm.causal.target_trial import (
    arm_cox,
    arm_kaplan_meier,
    clone_censor_weight,
    clone_weight_summary,
    reference_arm,
    treatment_survival,
    weight_cuts,
)
from gistlm.cohort.analysis_cohort import build_analysis_cohort
from gistlm.estimators import partial_likelihood
from gistlm.estimators.balancing import WEIGHTING_LABELS, group_weights
from gistlm.estimators.cox import CoxFitter
from gistlm.estimators.distinct_rows import distinct_rows
from gistlm.estimators.kaplan_meier import area_under_steps, kaplan_meier, rmst_with_se, survival_at, time_order
from gistlm.estimators.partial_likelihood import PartialLikelihood
from gistlm.release.disclosure import release_weight_summary, suppress_columns, suppress_within
from gistlm.report.causal_figures import love_plot
from gistlm.report.figure_style import save_png

# weights that are not integers are the point here, not a mistake lifelines should warn about
pytestmark = pytest.mark.filterwarnings("ignore::lifelines.exceptions.StatisticalWarning")

GROUPS = ["IM", "IM+HR", "IM+RFA/TACE"]
PRECEDENCE = CONFIG["groups"]["precedence"]  # what the tiny extract's groups are built on
LABELS = ["IM+HR", "IM+RFA/TACE"]
DPM = CONFIG["outcome"]["days_per_month"]
PROPENSITY = {
    "covariates": ["age_over_cutoff", "lm_count_over_cutoff", "size"],
    "trim_min_probability": 0.0,
    "truncate_percentiles": [1, 99],
    "balance_threshold": 0.1,
}
IPTW = {
    "weighting": {"method": "gps_iptw"},
    "propensity": PROPENSITY,
    "survival_at_months": [24],
    "rmst_horizons_months": [24, 60],
}


@pytest.fixture(scope="module")
def cohort(make_three_group_cohort):
    """A seeded 3-group cohort where treatment depends on two covariates that raise the hazard."""
    return make_three_group_cohort(
        seed=7,
        n=300,
        resection_log_hr=-0.7,
        tied_times=True,  # 0.1-month grid: ties
        treatment_utility=lambda age, count, size: (1.0 - 1.2 * count - 0.5 * age, -1.0 + 0.4 * count),
    )


# --- treatment dates, start-stop rows, landmarks -----------------------------------------


def test_treatment_dates_follow_the_group_precedence(tiny_extract, typed_extract, settings):
    tables, _ = typed_extract(tiny_extract)
    analysis = build_analysis_cohort(tables, pd.Series(["P01", "P02", "P03"]), settings)
    lm = tables["liver_metastases"].set_index("patient_id")["lm_diagnosis_date"]
    dates = local_treatment_dates(tables["treatments"], lm, analysis, PRECEDENCE, DPM).set_index("patient_id")
    assert dates.loc["P02", "first_local_treatment"] == "hepatic_resection"
    assert dates.loc["P02", months_to_column("IM+HR")] == pytest.approx(169 / DPM)  # 2017-06-15 -> 2017-12-01
    assert np.isnan(dates.loc["P02", months_to_column("IM+RFA/TACE")])
    assert dates.loc["P03", "first_local_treatment"] == "rfa"
    assert dates.loc["P03", "months_to_first_local"] == pytest.approx(387 / DPM)  # 2015-01-10 -> 2016-02-01
    assert dates.loc["P01", "first_local_treatment"] == "none"
    # the group's own procedure is the one the analysis cohort already dates
    own = analysis.set_index("patient_id")["months_to_local_treatment"]
    assert dates.loc["P02", "months_to_IM+HR"] == pytest.approx(own["P02"])
    assert dates.loc["P03", "months_to_IM+RFA/TACE"] == pytest.approx(own["P03"])


def test_read_dates_joins_each_patients_covariates_as_a_left_merge(tiny_extract, typed_extract, settings, tmp_path):
    tables, _ = typed_extract(tiny_extract)
    analysis = build_analysis_cohort(tables, pd.Series(["P01", "P02", "P03"]), settings)
    lm = tables["liver_metastases"].set_index("patient_id")["lm_diagnosis_date"]
    path = tmp_path / "treatment_dates.csv"
    local_treatment_dates(tables["treatments"], lm, analysis, PRECEDENCE, DPM).to_csv(path, index=False)
    shuffled = analysis.iloc[[2, 0, 1]]  # the cohort in another order than the dates
    covariates = ["male", "age_at_lm_years"]
    dates = read_dates(path, shuffled, covariates)
    merged = pd.read_csv(path, dtype={"patient_id": str, "first_local_treatment": str}).merge(
        shuffled[["patient_id", *covariates]], on="patient_id", how="left"
    )
    pd.testing.assert_frame_equal(dates, merged)
    assert dates.set_index("patient_id").loc["P02", "male"] == analysis.set_index("patient_id").loc["P02", "male"]
    assert read_dates(path, shuffled, []).columns.tolist() == merged.columns[: -len(covariates)].tolist()
    for asked in (covariates, []):  # checked whether or not covariates are joined, as the merge did
        with pytest.raises(ValueError, match="one row per patient"):
            read_dates(path, pd.concat([shuffled, shuffled]), asked)


def dates_frame(rows):
    return pd.DataFrame(rows, columns=["patient_id", "os_months", "death", "months_to_IM+HR", "months_to_IM+RFA/TACE"])


def test_start_stop_rows_switch_exposure_on_at_the_procedure():
    dates = dates_frame(
        [
            ("resected", 10.0, 1, 4.0, np.nan),  # unexposed (0, 4], exposed (4, 10] with the death
            ("never", 5.0, 0, np.nan, np.nan),  # one unexposed row
            ("both", 12.0, 0, 6.0, 2.0),  # ablation at 2, resection at 6
            ("at_zero", 3.0, 1, 0.0, np.nan),  # treated on the day of LM diagnosis: exposed throughout
            ("on_death_day", 8.0, 1, 8.0, np.nan),  # procedure on the last day starts no exposed time
            ("no_time", 0.0, 0, np.nan, np.nan),  # no follow-up: no rows
        ]
    )
    rows = start_stop_rows(dates, LABELS).set_index("patient_id")
    assert rows.loc["resected", ["start", "stop", "death", "IM+HR"]].values.tolist() == [[0, 4, 0, 0], [4, 10, 1, 1]]
    assert rows.loc[["never"], ["start", "stop", "death", "IM+HR", "IM+RFA/TACE"]].values.tolist() == [[0, 5, 0, 0, 0]]
    both = rows.loc["both", ["start", "stop", "IM+HR", "IM+RFA/TACE"]].values.tolist()
    assert both == [[0, 2, 0, 0], [2, 6, 0, 1], [6, 12, 1, 1]]
    assert rows.loc[["at_zero"], ["start", "stop", "death", "IM+HR"]].values.tolist() == [[0, 3, 1, 1]]
    assert rows.loc[["on_death_day"], ["stop", "death", "IM+HR"]].values.tolist() == [[8, 1, 0]]
    assert "no_time" not in rows.index
    # current-group coding: after the resection only IM+HR is on
    current = start_stop_rows(dates, LABELS, "current_group").set_index("patient_id")
    assert current.loc["both", ["IM+HR", "IM+RFA/TACE"]].values.tolist() == [[0, 0], [0, 1], [1, 0]]
    with pytest.raises(ValueError):
        start_stop_rows(dates, LABELS, "ever")


def test_time_varying_cox_equals_a_fixed_cox_when_nobody_switches(cohort):
    """Treated from month 0 means exposed throughout: the counting-process fit is the ordinary one."""
    dates = cohort[["patient_id", "os_months", "death", "age_over_cutoff"]].assign(
        **{
            "months_to_IM+HR": np.where(cohort["group"] == "IM+HR", 0.0, np.nan),
            "months_to_IM+RFA/TACE": np.where(cohort["group"] == "IM+RFA/TACE", 0.0, np.nan),
        }
    )
    tv = time_varying_cox(start_stop_rows(dates, LABELS), LABELS, "IM", ["age_over_cutoff"], 0.05).set_index("term")
    fixed = CoxPHFitter().fit(
        dates.assign(a=(cohort["group"] == "IM+HR") * 1.0, b=(cohort["group"] == "IM+RFA/TACE") * 1.0)[
            ["os_months", "death", "a", "b", "age_over_cutoff"]
        ],
        "os_months",
        "death",
    )
    # the two fitters stop their Newton iterations at slightly different points
    assert tv.loc["IM+HR vs IM", "coef"] == pytest.approx(fixed.params_["a"], rel=1e-3)
    assert tv.loc["IM+RFA/TACE vs IM", "se"] == pytest.approx(fixed.standard_errors_["b"], rel=1e-3)
    assert tv["n"].iloc[0] == len(cohort) and tv["events"].iloc[0] == cohort["death"].sum()


def test_time_varying_cox_equals_lifelines_coxtimevaryingfitter(cohort):
    """Switching at random months: the same estimates and SEs as lifelines' counting-process fit."""
    rng = np.random.default_rng(3)
    switch = np.where(cohort["group"] != "IM", rng.uniform(0, 1, len(cohort)) * cohort["os_months"], np.nan)
    dates = cohort[["patient_id", "os_months", "death", "age_over_cutoff"]].assign(
        **{
            "months_to_IM+HR": np.where(cohort["group"] == "IM+HR", switch, np.nan),
            "months_to_IM+RFA/TACE": np.where(cohort["group"] == "IM+RFA/TACE", switch, np.nan),
        }
    )
    rows = start_stop_rows(dates, LABELS)
    ours = time_varying_cox(rows, LABELS, "IM", ["age_over_cutoff"], 0.05).set_index("term")
    data = rows[["patient_id", "start", "stop", "death", *LABELS, "age_over_cutoff"]].dropna()
    theirs = CoxTimeVaryingFitter().fit(
        data, event_col="death", start_col="start", stop_col="stop", id_col="patient_id"
    )
    for label in LABELS:
        assert ours.loc[f"{label} vs IM", "coef"] == pytest.approx(theirs.params_[label], abs=1e-5)
        assert ours.loc[f"{label} vs IM", "se"] == pytest.approx(theirs.standard_errors_[label], rel=1e-5)
    assert ours.loc["age_over_cutoff", "p_value"] == pytest.approx(theirs.summary.loc["age_over_cutoff", "p"], rel=1e-3)


def test_landmark_keeps_survivors_grouped_by_treatment_before_it():
    dates = dates_frame(
        [
            ("early_hr", 30.0, 1, 3.0, np.nan),
            ("late_hr", 40.0, 0, 9.0, np.nan),  # resected after the 6-month landmark: IM at 6
            ("rfa_then_hr", 20.0, 1, 5.0, 2.0),  # both before 6: HR by precedence
            ("died_early", 4.0, 1, np.nan, np.nan),  # dead before the landmark: left out
            ("censored_at", 6.0, 0, np.nan, np.nan),  # not followed beyond the landmark: left out
            ("rfa", 7.0, 1, np.nan, 1.0),
        ]
    )
    rows = landmark_cohort(dates, 6, PRECEDENCE, "IM", GROUPS).set_index("patient_id")
    assert sorted(rows.index) == ["early_hr", "late_hr", "rfa", "rfa_then_hr"]
    assert rows["group"].astype(str).to_dict() == {
        "early_hr": "IM+HR",
        "late_hr": "IM",
        "rfa_then_hr": "IM+HR",
        "rfa": "IM+RFA/TACE",
    }
    assert rows.loc["early_hr", "os_months"] == 24.0 and rows.loc["rfa", "os_months"] == pytest.approx(1.0)
    assert rows.loc["rfa", "death"] == 1


# --- propensity score, weights, balance ---------------------------------------------------


def test_saturated_propensity_model_reproduces_the_observed_shares():
    x = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1], float)[:, None]
    codes = np.array([0, 0, 0, 1, 2, 0, 1, 1, 2, 2, 2])
    scores = fit_generalised_propensity(x, codes, 3)
    np.testing.assert_allclose(scores[0], [0.6, 0.2, 0.2], atol=1e-6)
    np.testing.assert_allclose(scores[-1], [1 / 6, 2 / 6, 3 / 6], atol=1e-6)
    # a covariate that separates the groups has no finite fit: refused, not silently used
    with pytest.raises(RuntimeError):
        fit_generalised_propensity(np.array([0, 0, 1, 1], float)[:, None], np.array([0, 0, 1, 1]), 2)


def test_a_warm_started_propensity_model_finds_the_same_fit_and_still_refuses_separation():
    """The bootstrap starts each resample's multinomial logit from the whole cohort's coefficients."""
    rng = np.random.default_rng(3)
    x = np.column_stack([rng.normal(size=300), rng.integers(0, 2, 300), np.zeros(300)])
    codes = (x[:, 0] + rng.normal(size=300) > 0).astype(int) + (rng.random(300) < 0.3).astype(int)
    start = propensity_coefficients(x, codes, 3)
    assert start.shape == (4, 2) and np.isnan(start[3]).all()  # the constant column is left out
    rows = rng.integers(0, 300, 300)
    cold = fit_generalised_propensity(x[rows], codes[rows], 3)
    np.testing.assert_allclose(fit_generalised_propensity(x[rows], codes[rows], 3, start), cold, rtol=1e-10)
    # a group absent from the data: the start does not fit the model, which starts from 0
    present = codes < 2
    scores = fit_generalised_propensity(x[present], codes[present], 3, start)
    np.testing.assert_allclose(scores, fit_generalised_propensity(x[present], codes[present], 3))
    separated = np.array([0, 0, 1, 1, 2, 2])
    with pytest.raises(RuntimeError):
        fit_generalised_propensity(np.array([0, 0, 1, 1, 2, 2], float)[:, None], separated, 3, start[:2])


def test_stabilised_weights_truncation_and_common_support_by_hand():
    scores = np.array([[0.5, 0.5], [0.8, 0.2], [0.25, 0.75], [0.4, 0.6]])
    codes = np.array([0, 0, 1, 1])
    # P(group) = 0.5 for both groups; weight = 0.5 / P(own group | x)
    np.testing.assert_allclose(stabilised_weights(scores, codes), [1.0, 0.625, 2 / 3, 5 / 6])
    weights = np.arange(1.0, 102.0)
    assert truncate(weights, [1, 99]).tolist()[:2] == [2.0, 2.0] and truncate(weights, [1, 99]).max() == 100.0
    assert truncate(weights, []).tolist() == weights.tolist()
    assert common_support(scores, 0.3).tolist() == [True, False, False, True]


def test_standardised_differences_by_hand():
    a, b = np.array([0.0, 0, 1, 1]), np.array([0.0, 1, 1, 1])
    # binary: (0.5 - 0.75) / sqrt((0.25 + 0.1875) / 2)
    assert standardised_difference(a, b) == pytest.approx(-0.25 / np.sqrt(0.21875))
    # weights that bring b's mean to 0.5 remove the difference; the denominator stays unweighted
    assert standardised_difference(a, b, None, np.array([3.0, 1, 1, 1])) == pytest.approx(0.0)
    assert standardised_difference(np.array([1.0, 2, 3]), np.array([2.0, 3, 4])) == pytest.approx(-1.0)


def test_iptw_improves_balance_and_summarises_the_weights(cohort):
    table = propensity_table(cohort, GROUPS, PROPENSITY)
    assert len(table) == len(cohort) and table["included"].all()
    assert np.allclose(table[[f"gps_{g}" for g in GROUPS]].sum(axis=1), 1)
    balance = balance_table(cohort, table, GROUPS, PROPENSITY["covariates"], 0.1)
    assert set(balance["comparison"]) == {"IM+HR vs IM", "IM+RFA/TACE vs IM", "IM+RFA/TACE vs IM+HR"}
    assert len(balance) == 3 * 3
    count = balance[balance["covariate"] == "lm_count_over_cutoff"]
    assert (count["smd_weighted"].abs() < count["smd_unweighted"].abs()).all()
    verdict = balance_verdict(balance)
    assert verdict["passed"].tolist() == (verdict["max_abs_smd_weighted"] < 0.1).tolist()
    summary = weight_summary(table, GROUPS).set_index(["group", "stage"])
    assert summary.loc[("All", "stabilised"), "n"] == len(cohort)
    w = table["weight_raw"].to_numpy()
    assert summary.loc[("All", "stabilised"), "ess"] == pytest.approx(w.sum() ** 2 / (w**2).sum())


def test_trimming_leaves_patients_out_with_weight_zero(cohort):
    table = propensity_table(cohort, GROUPS, {**PROPENSITY, "trim_min_probability": 0.15})
    left_out = ~table["included"]
    assert left_out.any() and (table.loc[left_out, "weight"] == 0).all()
    assert (table.loc[~left_out, [f"gps_{g}" for g in GROUPS]] >= 0.15).all().all()


# --- RMST, Kaplan-Meier, Cox: the vectorised versions equal lifelines ---------------------


def test_weighted_kaplan_meier_and_rmst_equal_lifelines(cohort):
    weights = np.random.default_rng(1).uniform(0.3, 3, len(cohort))
    time, event = cohort["os_months"].to_numpy(), cohort["death"].to_numpy()
    curve = kaplan_meier(time, event, weights)
    times, survival = curve.time, curve.survival
    fit = KaplanMeierFitter().fit(time, event, weights=weights)
    np.testing.assert_allclose(survival, fit.survival_function_.loc[times].iloc[:, 0], rtol=1e-12)
    for horizon in [24.0, 60.0, 500.0]:  # 500: beyond the last follow-up
        assert area_under_steps(times, survival, horizon) == pytest.approx(
            restricted_mean_survival_time(fit, t=horizon), rel=1e-12
        )
    assert survival_at(times, survival, 36.0) == pytest.approx(fit.survival_function_at_times(36.0).item())
    assert survival_at(times, survival, 0.0) == 1.0


def test_rmst_delta_method_by_hand():
    # KM 0.75 after t=1, 0.5 after t=2; RMST(3.5) = 1 + 0.75 + 0.5 x 1.5 = 2.5
    # A(1) = 0.75 + 0.75 = 1.5, A(2) = 0.75; Var = 1.5^2 / (4 x 3) + 0.75^2 / (3 x 2)
    rmst, se = rmst_with_se(np.array([1.0, 2, 3, 4]), np.array([1, 1, 0, 1]), 3.5)
    assert rmst == pytest.approx(2.5)
    assert se == pytest.approx(np.sqrt(2.25 / 12 + 0.5625 / 6))


def test_rmst_table_has_groups_and_differences_within_the_horizon(cohort):
    table = rmst_unadjusted(cohort, GROUPS, "IM", [24, 60], 0.05).set_index(["horizon_months", "term"])
    assert table.loc[(60, "IM+HR - IM"), "estimate"] == pytest.approx(
        table.loc[(60, "IM+HR"), "estimate"] - table.loc[(60, "IM"), "estimate"]
    )
    groups = table[~table.index.get_level_values("term").str.contains(" - ")]
    assert (groups["ci_upper"] <= groups.index.get_level_values("horizon_months")).all()


def test_vectorised_weighted_cox_equals_lifelines_with_ties(cohort):
    weights = np.random.default_rng(2).uniform(0.3, 3, len(cohort))
    x = pd.get_dummies(cohort["group"], drop_first=True).to_numpy(float)
    frame = pd.DataFrame(x, columns=["a", "b"]).assign(t=cohort["os_months"], e=cohort["death"], w=weights)
    ours = CoxFitter(center=False).fit(frame, duration_col="t", event_col="e", weights_col="w")
    beta, converged = ours.params_.to_numpy(), ours.converged_
    # lifelines' default stopping rule leaves ~1e-4 on the table; tightened, it meets ours
    fit = CoxPHFitter().fit(frame, "t", "e", weights_col="w", fit_options={"precision": 1e-12, "max_steps": 200})
    assert converged
    np.testing.assert_allclose(beta, fit.params_.to_numpy(), atol=1e-7)


def test_bootstrap_group_hazard_ratios_equal_lifelines(cohort):
    """The replicates' hazard ratios (the partial likelihood on arrays, no table) are
    lifelines' weighted Cox model of the group indicators, from labels or positions."""
    weights = np.random.default_rng(3).uniform(0.3, 3, len(cohort))
    x = pd.get_dummies(cohort["group"]).astype(float)[GROUPS[1:]]
    frame = x.assign(t=cohort["os_months"].to_numpy(), e=cohort["death"].to_numpy(), w=weights)
    fit = CoxPHFitter().fit(frame, "t", "e", weights_col="w", fit_options={"precision": 1e-12, "max_steps": 200})
    time, event = cohort["os_months"].to_numpy(), cohort["death"].to_numpy()
    for group in (cohort["group"].to_numpy(), pd.Categorical(cohort["group"], categories=GROUPS).codes):
        hrs = group_hazard_ratios(time, event, group, weights, GROUPS, "IM")
        assert list(hrs) == [f"{label} vs IM" for label in GROUPS[1:]]
        np.testing.assert_allclose(list(hrs.values()), np.exp(fit.params_[GROUPS[1:]].to_numpy()), rtol=1e-7)


@pytest.mark.parametrize("binary_columns", [0, 5])
def test_cox_on_row_patterns_equals_the_row_by_row_sums(monkeypatch, binary_columns):
    # group indicators (3 distinct rows), with five 0/1 covariates 96 (fewer than the rows
    # per death time): the Newton steps sum per (death time, pattern)
    rng = np.random.default_rng(7)
    n = 6000
    group = rng.integers(0, 3, n)
    x = np.column_stack([group == 1, group == 2, rng.integers(0, 2, (n, binary_columns))]).astype(float)
    time = rng.integers(1, 40, n).astype(float)  # many tied deaths
    entry = np.where(rng.random(n) < 0.3, rng.uniform(0, 1, n) * time, 0.0)
    event, weights = rng.random(n) < 0.6, rng.uniform(0.2, 3, n)
    beta = rng.normal(0, 0.5, x.shape[1])
    for start in (entry, None):
        by_pattern = PartialLikelihood(time, event, x, weights, start)
        with monkeypatch.context() as patched:
            patched.setattr(partial_likelihood, "MAX_PATTERNS", 0)
            by_row = PartialLikelihood(time, event, x, weights, start)
        assert len(by_pattern.patterns[0]) == 3 * 2**binary_columns and by_row.patterns is None
        for ours, theirs in zip(by_pattern.derivatives(beta), by_row.derivatives(beta)):
            np.testing.assert_allclose(ours, theirs, rtol=1e-11, atol=1e-12 * np.abs(theirs).max())
    # a continuous covariate has a pattern per row: the sums stay row by row
    assert PartialLikelihood(time, event, np.c_[x, rng.normal(size=n)], weights).patterns is None


def test_rows_already_in_time_order_give_the_same_fits_bit_for_bit():
    """The bootstrap's resamples come in time order, and the estimators then take the rows
    as they are instead of reordering them: the same fits, to the last bit, as from the rows
    in any order; and the Cox model keeps rows of its own (its callers free theirs)."""
    rng = np.random.default_rng(11)
    n = 500
    time = rng.integers(1, 30, n).astype(float)  # many ties
    rows = {
        "time": time,
        "event": rng.random(n) < 0.6,
        "x": np.column_stack([rng.integers(0, 2, n), rng.normal(size=n)]),
        "weights": rng.uniform(0.2, 3, n),
        "entry": np.where(rng.random(n) < 0.3, rng.uniform(0, 1, n) * time, 0.0),
    }
    order = np.argsort(time, kind="stable")
    in_order = {name: values[order] for name, values in rows.items()}
    assert time_order(in_order["time"]) == slice(None) and np.array_equal(time_order(time), order)
    assert isinstance(time_order(np.array([1.0, np.nan, 2.0])), np.ndarray)
    beta = np.array([0.3, -0.2])
    for entry in ("entry", None):
        fits = [
            PartialLikelihood(data["time"], data["event"], data["x"], data["weights"], entry and data[entry])
            for data in (rows, in_order)
        ]
        before = fits[1].derivatives(beta)
        for ours, theirs in zip(fits[0].derivatives(beta), before):
            np.testing.assert_array_equal(ours, theirs)
        for values in in_order.values():
            values[...] = 0  # the caller's rows change; the model's must not
        assert all(np.array_equal(a, b) for a, b in zip(before, fits[1].derivatives(beta)))
        in_order = {name: values[order] for name, values in rows.items()}
    curves = [kaplan_meier(data["time"], data["event"], data["weights"]) for data in (rows, in_order)]
    for ours, theirs in zip(*curves):
        np.testing.assert_array_equal(ours, theirs)


# a weighted Cox fit clustered on patient, as clone-censor-weight's, printing its robust
# covariance's bytes; 200,000 clusters: OpenBLAS splits a dot product this long between threads
ROBUST_FIT = """
import numpy as np, pandas as pd
from gistlm.estimators.cox import CoxFitter
rng = np.random.default_rng(5)
n = 200_000
frame = pd.DataFrame({"time": rng.exponential(10, n), "death": rng.random(n) < 0.7,
    "weight": rng.uniform(0.5, 2, n), "patient": np.arange(n), "arm": rng.integers(0, 2, n).astype(float)})
fit = CoxFitter(center=False).fit(frame, "time", "death", weights_col="weight", cluster_col="patient")
print(fit.variance_matrix_.to_numpy().tobytes().hex(), fit.standard_errors_.iloc[0])
"""


def test_robust_standard_errors_do_not_depend_on_the_number_of_blas_threads():
    """The sandwich's sum over clusters is numpy's own, not a BLAS dot product whose last
    digits change with the thread count (ccw_cox.csv at 1M patients differed between runs)."""
    printed = [
        subprocess.run(
            [sys.executable, "-c", ROBUST_FIT],
            env={**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        for threads in (1, 2)
    ]
    assert printed[0][0] == printed[1][0]
    assert 0.001 < float(printed[0][1]) < 0.01  # a real SE: the arm's log hazard ratio, n = 200,000


def test_a_group_without_deaths_has_hazard_ratio_zero():
    time = np.array([1.0, 2, 3, 4, 5, 6])
    event = np.array([1, 0, 1, 0, 1, 1])
    group = np.array(["IM", "IM+HR", "IM", "IM+HR", "IM+RFA/TACE", "IM+RFA/TACE"])
    hrs = group_hazard_ratios(time, event, group, np.ones(6), GROUPS, "IM")
    assert hrs["IM+HR vs IM"] == 0.0 and np.isfinite(hrs["IM+RFA/TACE vs IM"])


# --- E-values and the by-method table ---------------------------------------------------


def test_e_values_by_hand():
    assert e_value_of_risk_ratio(3.9) == pytest.approx(7.26, abs=0.005)  # VanderWeele & Ding's example
    assert e_value_of_risk_ratio(0.5) == pytest.approx(2 + np.sqrt(2))
    assert e_value_of_risk_ratio(1.0) == 1.0
    # common outcome: RR = (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)); HR 0.25 -> (1 - 0.5^0.5) / (1 - 0.5^2)
    rr = (1 - 0.5**0.5) / 0.75
    assert hazard_ratio_as_risk_ratio(0.25, True) == pytest.approx(rr)
    assert hazard_ratio_as_risk_ratio(0.25, False) == 0.25
    point, limit = e_values(0.25, 0.1, 0.6, common_outcome=True)
    assert point == pytest.approx(1 / rr + np.sqrt(1 / rr * (1 / rr - 1)))
    assert limit == pytest.approx(e_value_of_risk_ratio(hazard_ratio_as_risk_ratio(0.6, True)))
    assert e_values(0.5, 0.2, 1.3, common_outcome=False)[1] == 1.0  # CI covers 1
    assert e_values(2.0, 1.5, 3.0, common_outcome=False)[1] == pytest.approx(e_value_of_risk_ratio(1.5))


def test_hazard_ratios_by_method_takes_each_methods_group_terms():
    def cox(rows, **extra):
        return pd.DataFrame(rows, columns=["term", "hr", "ci_lower", "ci_upper"]).assign(**extra)

    tables = {
        "naive": pd.concat(
            [
                cox([("IM+HR vs IM", 0.5, 0.2, 0.9), ("male", 1.1, 0.5, 2)], model="univariable"),
                cox([("IM+HR vs IM", 0.4, 0.2, 0.8)], model="multivariable"),
            ]
        ),
        "time_varying": cox([("IM+HR vs IM", 0.6, 0.3, 1.2)]),
        "landmark": pd.concat(
            [
                cox([("IM+HR vs IM", 0.7, 0.3, 1.5)], model="multivariable", landmark_months=12),
                cox([("IM+HR vs IM", 0.9, 0.3, 1.5)], model="univariable", landmark_months=12),
            ]
        ),
        "iptw": cox([("IM+HR vs IM", 0.55, 0.2, 1.1)], model="IPTW"),
        "ccw": cox([("IM+HR vs IM", 0.65, 0.2, 1.9)]),
    }
    table = hazard_ratios_by_method(tables, "IM").set_index("method")["hr"]
    assert table.to_dict() == {
        "naive (groups fixed at LM diagnosis)": 0.4,
        "time-varying Cox": 0.6,
        "landmark 12 months": 0.7,
        "IPTW (marginal)": 0.55,
        "clone-censor-weight": 0.65,
    }


# --- clone-censor-weight -----------------------------------------------------------------


def test_clones_are_censored_when_they_deviate_from_their_arm():
    dates = dates_frame(
        [
            ("resected_5", 50.0, 1, 5.0, np.nan),
            ("resected_20", 60.0, 0, 20.0, np.nan),  # after the 12-month grace period
            ("never", 30.0, 1, np.nan, np.nan),
            ("died_in_grace", 8.0, 1, np.nan, np.nan),
        ]
    ).assign(
        months_to_first_local=lambda d: d[["months_to_IM+HR", "months_to_IM+RFA/TACE"]].min(axis=1),
        age=[0.0, 1.0, 0.0, 1.0],
    )
    settings = {"grace_months": 12, "covariates": ["age"], "truncate_percentiles": [], "weight_interval_months": 0}
    clones = clone_censor_weight(dates, GROUPS[:2], "IM", settings)
    last = clones.sort_values("stop").groupby(["arm", "patient_id"], observed=True).last()
    # reference arm: censored at the first procedure
    assert last.loc[("IM: no local treatment", "resected_5"), ["stop", "death"]].tolist() == [5.0, 0]
    assert last.loc[("IM: no local treatment", "never"), ["stop", "death"]].tolist() == [30.0, 1]
    # treatment arm: untreated at 12 months = censored there; a death in the grace period counts
    arm = "IM+HR within 12 months"
    assert last.loc[(arm, "resected_5"), ["stop", "death"]].tolist() == [50.0, 1]
    assert last.loc[(arm, "resected_20"), ["stop", "death"]].tolist() == [12.0, 0]
    assert last.loc[(arm, "never"), ["stop", "death"]].tolist() == [12.0, 0]
    assert last.loc[(arm, "died_in_grace"), ["stop", "death"]].tolist() == [8.0, 1]
    # artificially censored: resected_5 and resected_20 in the reference arm, resected_20 and never here
    deviated = last[last["deviated"]].index.tolist()
    assert sorted(deviated) == sorted(
        [
            ("IM: no local treatment", "resected_5"),
            ("IM: no local treatment", "resected_20"),
            (arm, "resected_20"),
            (arm, "never"),
        ]
    )
    assert clone_weight_summary(clones).set_index("arm")["artificially_censored"].tolist() == [2, 2]
    # weight 1 before anyone can deviate, > 1 once the uncensored stand in for the censored
    assert (clones.loc[clones["start"] == 0, "weight"] == 1).all()
    assert (clones.loc[(clones["arm"] == arm) & (clones["start"] == 12), "weight"] > 1).all()


def test_reference_arm_without_treatment_is_the_plain_kaplan_meier(cohort):
    dates = cohort.assign(
        **{"months_to_IM+HR": np.nan, "months_to_IM+RFA/TACE": np.nan, "months_to_first_local": np.nan}
    )
    settings = {
        "grace_months": 12,
        "covariates": ["age_over_cutoff"],
        "truncate_percentiles": [],
        "weight_interval_months": 1,
    }
    clones = clone_censor_weight(dates, ["IM"], "IM", settings)
    km = arm_kaplan_meier(clones)
    plain = KaplanMeierFitter().fit(cohort["os_months"], cohort["death"])
    deaths = km[km["events"] > 0]
    np.testing.assert_allclose(deaths["survival"], plain.survival_function_.loc[deaths["time"]].iloc[:, 0])


@pytest.fixture(scope="module")
def treated_later(cohort):
    """The seeded cohort with day-resolution treatment dates: resection and ablation months
    after LM diagnosis (some after the end of follow-up, i.e. never), sooner for the younger."""
    rng = np.random.default_rng(11)
    n = len(cohort)
    day = lambda months: np.round(months * DPM) / DPM  # noqa: E731
    hr = np.where(cohort["group"] == "IM+HR", day(rng.uniform(0.3, 16, n) * (1 + cohort["age_over_cutoff"])), np.nan)
    rfa = np.where(cohort["group"] == "IM+RFA/TACE", day(rng.uniform(0.3, 20, n)), np.nan)
    return cohort.assign(
        **{"months_to_IM+HR": hr, "months_to_IM+RFA/TACE": rfa, "months_to_first_local": np.fmin(hr, rfa)}
    )


def reference_arm_one_patient_at_a_time(base: pd.DataFrame, design: pd.DataFrame, interval: float) -> pd.DataFrame:
    """The reference arm as it was built before it was vectorised: a loop over patients."""
    first, end = base["months_to_first_local"].to_numpy(float), base["os_months"].to_numpy(float)
    treated = np.nan_to_num(first, nan=np.inf) < end
    stop, event = np.where(treated, first, end), np.where(treated, 0, base["death"].to_numpy())
    cuts = weight_cuts(first[treated], interval)
    probability = treatment_survival(stop, treated, design, cuts)
    starts, rows = np.r_[0.0, cuts], []
    for index in range(len(base)):
        begin = starts[starts < stop[index]]
        rows.append(
            pd.DataFrame(
                {
                    "row": index,
                    "start": begin,
                    "stop": np.r_[begin[1:], stop[index]],
                    "death": np.r_[np.zeros(len(begin) - 1, int), event[index]],
                    "probability_uncensored": np.r_[1.0, probability[index, : len(begin) - 1]],
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize("interval", [0, 1, 2.5])
def test_vectorised_reference_arm_equals_the_loop_over_patients(treated_later, interval):
    covariates = ["age_over_cutoff", "lm_count_over_cutoff", "size"]
    design = covariate_design(treated_later, covariates, drop_first=True)
    expected = reference_arm_one_patient_at_a_time(treated_later, design, interval)
    found = reference_arm(treated_later, design, interval)
    pd.testing.assert_frame_equal(found[expected.columns], expected, check_dtype=False)
    # monthly cuts: at most one row per month up to the last treatment, plus the rest of follow-up
    assert len(found) < len(reference_arm(treated_later, design, 0)) or interval == 0


def test_monthly_weights_keep_the_hazard_ratios_of_the_exact_ones(treated_later):
    """Before vectorisation: weights at every treatment time and lifelines' Cox model with late
    entry. Now: the vectorised Cox model (the same fit) and monthly weights (nearly the same)."""
    settings = {
        "grace_months": 12,
        "covariates": ["age_over_cutoff", "lm_count_over_cutoff", "size"],
        "truncate_percentiles": [0, 99],
        "weight_interval_months": 0,
    }
    exact = clone_censor_weight(treated_later, GROUPS, "IM", settings)
    ours = arm_cox(exact, GROUPS, "IM", 12, 0.05).set_index("term")
    for term, label in [
        ("IM+HR vs IM", "IM+HR within 12 months"),
        ("IM+RFA/TACE vs IM", "IM+RFA/TACE within 12 months"),
    ]:
        pair = exact[exact["arm"].isin(["IM: no local treatment", label])]
        frame = pd.DataFrame(
            {
                "start": pair["start"],
                "stop": pair["stop"],
                "death": pair["death"],
                "weight": pair["weight"],
                "x": (pair["arm"] == label).astype(float),
            }
        )
        before = CoxPHFitter().fit(
            frame, "stop", "death", entry_col="start", weights_col="weight", fit_options={"precision": 1e-12}
        )
        assert ours.loc[term, "coef"] == pytest.approx(before.params_["x"], abs=1e-6)
    # the grid alone (no truncation: a percentile of the rows' weights depends on how finely
    # the follow-up is split into rows, whatever the grid)
    untruncated = {**settings, "truncate_percentiles": []}
    exact = arm_cox(clone_censor_weight(treated_later, GROUPS, "IM", untruncated), GROUPS, "IM", 12, 0.05)
    monthly_clones = clone_censor_weight(treated_later, GROUPS, "IM", {**untruncated, "weight_interval_months": 1})
    monthly = arm_cox(monthly_clones, GROUPS, "IM", 12, 0.05)
    np.testing.assert_allclose(monthly["coef"], exact["coef"], atol=0.01)  # SEs ~0.2
    np.testing.assert_allclose(monthly["se"], exact["se"], rtol=0.01)
    # the weighted curves are lifelines' weighted Kaplan-Meier with late entry
    km = arm_kaplan_meier(monthly_clones)
    arm = monthly_clones[monthly_clones["arm"] == "IM: no local treatment"]
    fit = KaplanMeierFitter().fit(arm["stop"], arm["death"], entry=arm["start"], weights=arm["weight"])
    deaths = km[(km["arm"] == "IM: no local treatment") & (km["events"] > 0)]
    np.testing.assert_allclose(deaths["survival"], fit.survival_function_.loc[deaths["time"]].iloc[:, 0], rtol=1e-10)


def test_cox_with_late_entry_matches_lifelines_and_does_not_depend_on_splitting():
    """Robust SEs clustered on patient: lifelines' without late entry; a patient's follow-up
    cut into two start-stop rows is the same patient, so nothing may change (lifelines' robust
    variance does change: it counts every row at risk from time 0)."""
    rng = np.random.default_rng(3)
    n = 300
    x = np.column_stack([rng.integers(0, 2, n), rng.normal(size=n)])
    death_time = rng.exponential(1 / (0.1 * np.exp(0.5 * x[:, 0] - 0.3 * x[:, 1])))
    censor_time = rng.uniform(0, 20, n)
    data = pd.DataFrame(
        {
            "a": x[:, 0],
            "b": x[:, 1],
            "stop": np.minimum(death_time, censor_time),
            "death": (death_time <= censor_time).astype(int),
            "weight": rng.uniform(0.5, 2, n),
            "patient": np.arange(n) // 2,
        }
    )  # pairs of rows share a cluster
    fit = CoxPHFitter().fit(
        data,
        "stop",
        "death",
        weights_col="weight",
        cluster_col="patient",
        robust=True,
        fit_options={"precision": 1e-12},
    )
    ours = CoxFitter().fit(data, "stop", "death", weights_col="weight", cluster_col="patient")
    assert ours.converged_
    np.testing.assert_allclose(ours.params_, fit.params_, atol=1e-7)
    np.testing.assert_allclose(ours.standard_errors_, fit.standard_errors_, rtol=1e-6)
    cut = data["stop"] * rng.uniform(0.2, 0.8, n)
    split = pd.concat([data.assign(start=0.0, stop=cut, death=0), data.assign(start=cut)])
    split_fit = CoxFitter().fit(split, "stop", "death", weights_col="weight", entry_col="start", cluster_col="patient")
    np.testing.assert_allclose(split_fit.params_, ours.params_, atol=1e-9)
    np.testing.assert_allclose(split_fit.standard_errors_, fit.standard_errors_, rtol=1e-6)


# --- release tables: small counts hidden ----------------------------------------------------


def test_a_small_landmark_group_and_its_complement_are_hidden():
    groups = pd.DataFrame(
        {
            "landmark_months": [6, 6, 6, 6, 12, 12, 12, 12],
            "group": ["IM", "IM+HR", "IM+RFA/TACE", "excluded"] * 2,
            "n": [189, 29, 12, 8, 124, 63, 3, 48],
            "events": [29, 1, 3, 0, 24, 3, 6, 0],
        }
    )
    released = suppress_within(groups, ["n", "events"], "landmark_months", 5)
    # at 12 months 3 patients: hidden, and the smallest other count too, or 238 - the rest gives it away
    assert released["n"].tolist() == ["189", "29", "12", "8", "124", "63", "<5", "suppressed"]
    # deaths: two small counts at 6 months hide each other; one at 12 months needs a second
    assert released["events"].tolist() == ["29", "<5", "<5", "0", "24", "<5", "suppressed", "0"]


def test_weighted_counts_below_the_threshold_are_hidden_and_others_kept_exactly():
    km = pd.DataFrame({"time": [0.0, 1.5, 2.0], "at_risk": [238.0, 12.25, 4.5], "events": [0.0, 0.4, 1.0]})
    released = suppress_columns(km, ["at_risk", "events"], 5)
    assert released["at_risk"].tolist() == ["238", "12.25", "<5"]
    assert released["events"].tolist() == ["0", "<5", "<5"]
    assert km["at_risk"].tolist() == [238.0, 12.25, 4.5]  # the estimates' input is untouched


def test_weight_summary_hides_a_small_group_with_its_distribution():
    group = ["IM"] * 40 + ["IM+HR"] * 20 + ["IM+RFA/TACE"] * 3
    weights = np.random.default_rng(5).uniform(0.5, 3, len(group))
    table = pd.DataFrame(
        {"patient_id": range(len(group)), "group": group, "included": True, "weight_raw": weights, "weight": weights}
    )
    released = release_weight_summary(weight_summary(table, GROUPS), 5).set_index(["group", "stage"])
    for stage in ["stabilised", "truncated"]:
        # 40 + 20 + 3 = 63 in All: the 3 are hidden, and the 20 too, or 63 - 40 - 20 gives them away
        assert released.loc[[(g, stage) for g in [*GROUPS, "All"]], "n"].tolist() == ["40", "suppressed", "<5", "63"]
        # a hidden group's mean and sum would give its size away (sum / mean = n)
        assert released.loc[("IM+RFA/TACE", stage), ["mean", "sum", "ess", "max"]].isna().all()
        assert released.loc[("IM+HR", stage), ["mean", "sum"]].isna().all()
        assert released.loc[("IM", stage), "sum"] == pytest.approx(weights[:40].sum())


# --- bootstrap ----------------------------------------------------------------------------


def test_replicate_seeds_are_the_spawned_children():
    children = np.random.SeedSequence(99).spawn(5)
    expected = np.random.default_rng(children[4]).integers(0, 1000, 10)
    assert replicate_rng(99, 4).integers(0, 1000, 10).tolist() == expected.tolist()


def test_chunks_cover_every_replicate_once():
    blocks = [list(chunk_replicates(10, 3, c)) for c in range(3)]
    assert sum(blocks, []) == list(range(10))
    with pytest.raises(ValueError):
        chunk_replicates(10, 3, 3)


def test_bootstrap_intervals_do_not_depend_on_the_chunking(cohort):
    one = run_chunk(cohort, GROUPS, "IM", IPTW, 12, 1, 0, seed=5)
    three = pd.concat([run_chunk(cohort, GROUPS, "IM", IPTW, 12, 3, c, seed=5) for c in (2, 0, 1)])
    pd.testing.assert_frame_equal(one, three.sort_values(["replicate"], kind="stable").reset_index(drop=True))
    estimates = cohort_estimates(cohort, GROUPS, "IM", IPTW)
    pd.testing.assert_frame_equal(
        percentile_intervals(one, estimates, 0.05), percentile_intervals(three, estimates, 0.05)
    )
    intervals = percentile_intervals(one, estimates, 0.05)
    assert set(intervals["quantity"]) == {"hazard_ratio", "survival", "rmst", "rmst_difference"}
    assert (intervals["ci_lower"] <= intervals["ci_upper"]).all() and (intervals["replicates"] == 12).all()


def test_bootstrap_tables_written_and_read_back_give_the_same_intervals(cohort, tmp_path):
    """bootstrap_chunk and bootstrap_estimates write CSV files that bootstrap_gather reads:
    every number comes back to the last bit, missing months stay missing, and the intervals
    equal those computed in memory."""
    replicates = run_chunk(cohort, GROUPS, "IM", IPTW, 12, 1, 0, seed=5)
    estimates = cohort_estimates(cohort, GROUPS, "IM", IPTW)
    read_back = {}
    for name, table in {"replicates": replicates, "estimates": estimates}.items():
        table.to_csv(tmp_path / f"{name}.csv", index=False)  # as the rules write them
        read_back[name] = read_bootstrap_table(tmp_path / f"{name}.csv")
        # an empty text (a replicate that is not degenerate) reads as missing, as it did before
        expected = table.mask(table.isin([""]))
        pd.testing.assert_frame_equal(read_back[name], expected, check_exact=True, check_dtype=False)
    assert estimates["months"].isna().any() and read_back["estimates"]["months"].isna().equals(
        estimates["months"].isna()
    )
    pd.testing.assert_frame_equal(
        percentile_intervals(read_back["replicates"], read_back["estimates"], 0.05),
        percentile_intervals(replicates, estimates, 0.05),
        check_exact=True,
    )


@pytest.mark.parametrize("method", ["gps_iptw", "entropy_balance"])
def test_a_replicate_equals_the_analysis_of_its_resample_row_by_row(cohort, method):
    """run_chunk fits each resample in time order and weights its distinct rows, counted;
    the estimates are those of the drawn patients analysed one row each."""
    settings = {**IPTW, "weighting": {"method": method}}
    found = run_chunk(cohort, GROUPS, "IM", settings, 3, 1, 0, seed=5)
    data = analysis_arrays(cohort, GROUPS, PROPENSITY["covariates"])
    for replicate in range(3):
        rows = replicate_rng(5, replicate).integers(0, len(data["codes"]), len(data["codes"]))
        expected = iptw_estimates({name: values[rows] for name, values in data.items()}, GROUPS, "IM", settings, method)
        mine = found[(found["replicate"] == replicate) & (found["weighting"] == WEIGHTING_LABELS[method])]
        assert len(mine) == len(expected) > 5
        np.testing.assert_allclose(mine["value"], expected["value"], rtol=1e-9, atol=1e-12)
        assert mine["degenerate"].tolist() == expected["degenerate"].tolist()


def test_counted_distinct_rows_give_the_weights_of_the_rows_one_by_one():
    """Frequency counts (a resample's repeated patients) in both weightings, with trimming
    and truncation, which count every patient."""
    rng = np.random.default_rng(11)
    design = np.column_stack([rng.integers(0, 2, 900), rng.integers(0, 2, 900), rng.integers(0, 8, 900) / 2])
    codes = (rng.random(900) < 0.2 + 0.4 * design[:, 0]).astype(int) + (rng.random(900) < 0.1 + design[:, 2] / 5)
    settings = {"trim_min_probability": 0.1, "truncate_percentiles": [5, 95]}
    first, distinct = distinct_rows(np.column_stack([design, codes]))
    counts = np.bincount(distinct)
    assert len(first) < 100
    for method in ("gps_iptw", "entropy_balance"):
        names = ["a", "b", "size"]
        one_by_one = group_weights(design, codes, GROUPS, names, settings, method)
        counted = group_weights(design[first], codes[first], GROUPS, names, settings, method, counts=counts)
        assert not one_by_one[0].all() or method == "entropy_balance"  # some patients trimmed
        np.testing.assert_array_equal(counted[0][distinct], one_by_one[0])
        for ours, theirs in zip(counted[1:], one_by_one[1:]):
            np.testing.assert_allclose(ours[distinct], theirs, rtol=1e-9)


def test_gather_refuses_missing_or_repeated_replicates(cohort):
    replicates = run_chunk(cohort, GROUPS, "IM", IPTW, 6, 2, 1, seed=5)  # replicates 3-5 only
    estimates = cohort_estimates(cohort, GROUPS, "IM", IPTW)
    with pytest.raises(ValueError):
        percentile_intervals(replicates, estimates, 0.05)
    first = run_chunk(cohort, GROUPS, "IM", IPTW, 6, 2, 0, seed=5)
    with pytest.raises(ValueError):
        percentile_intervals(pd.concat([first, first.iloc[:3], replicates]), estimates, 0.05)


def test_iptw_cox_equals_lifelines_weighted_cox_with_robust_errors(cohort):
    from gistlm.causal.propensity import weighted_cohort, weighted_cox

    data = weighted_cohort(cohort, propensity_table(cohort, GROUPS, PROPENSITY))
    ours = weighted_cox(data, GROUPS, "IM", 0.05).set_index("term")
    frame = data[["os_months", "death", "weight"]].assign(
        a=(data["group"] == "IM+HR").astype(float), b=(data["group"] == "IM+RFA/TACE").astype(float)
    )
    theirs = CoxPHFitter().fit(frame, "os_months", "death", weights_col="weight", robust=True)
    for term, column in [("IM+HR vs IM", "a"), ("IM+RFA/TACE vs IM", "b")]:
        # lifelines stops its Newton iterations a little earlier (about 1e-6 on the log scale);
        # this cohort's times tie (a 0.5-month grid), where lifelines' robust SEs are not R's
        # and ours are (tests/test_r_reference.py): they differ by about 0.1%
        assert ours.loc[term, "coef"] == pytest.approx(theirs.params_[column], abs=1e-5)
        assert ours.loc[term, "se"] == pytest.approx(theirs.standard_errors_[column], rel=2e-3)
        assert ours.loc[term, "ci_upper"] == pytest.approx(
            np.exp(theirs.confidence_intervals_.loc[column].iloc[1]), rel=2e-3
        )


def test_bootstrap_point_estimate_equals_the_iptw_analysis(cohort):
    from gistlm.causal.propensity import weighted_cohort, weighted_cox

    table = propensity_table(cohort, GROUPS, PROPENSITY)
    analysis = weighted_cox(weighted_cohort(cohort, table), GROUPS, "IM", 0.05).set_index("term")
    ours = cohort_estimates(cohort, GROUPS, "IM", IPTW)
    hr = ours[(ours["quantity"] == "hazard_ratio") & (ours["weighting"] == "GPS-IPTW")].set_index("term")["value"]
    assert hr["IM+HR vs IM"] == pytest.approx(analysis.loc["IM+HR vs IM", "hr"], rel=1e-5)
    data = analysis_arrays(cohort, GROUPS, PROPENSITY["covariates"])
    assert len(data["codes"]) == len(cohort)


def test_figures_are_byte_identical_on_rerun(tmp_path):
    balance = pd.DataFrame(
        {
            "weighting": ["entropy balancing"] * 2 + ["GPS-IPTW"] * 2,
            "comparison": ["B vs A"] * 4,
            "covariate": ["x", "y"] * 2,
            "smd_unweighted": [0.5, -0.3] * 2,
            "smd_weighted": [0.0, 0.0, 0.05, 0.02],
        }
    )
    for name in ["one.png", "two.png"]:
        save_png(love_plot(balance, 0.1), str(tmp_path / name))
    assert (tmp_path / "one.png").read_bytes() == (tmp_path / "two.png").read_bytes()
