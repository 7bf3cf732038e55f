"""Entropy balancing (against a dual solved in R), effective sample size, the diagnostics gate,
landmark-weighted analyses and the sparse-event bootstrap."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gistlm.causal.bootstrap import iptw_estimates, percentile_intervals
from gistlm.causal.diagnostics import gate_estimates, gate_reasons, gate_table, group_diagnostics, handled_biases
from gistlm.causal.landmark_weighting import landmark_weighted
from gistlm.causal.propensity import balance_verdict, effective_sample_size
from gistlm.estimators.balancing import (
    BalanceError,
    balance_columns,
    balance_multipliers,
    entropy_balance,
    entropy_weights,
    group_weights,
    weighted_balance,
    weighting_table,
)

REFERENCE = Path(__file__).parent / "reference"
GROUPS = ["IM", "IM+HR", "IM+RFA/TACE"]
COVARIATES = ["age_over_cutoff", "lm_count_over_cutoff", "size"]
PROPENSITY = {
    "covariates": COVARIATES,
    "trim_min_probability": 0.0,
    "truncate_percentiles": [],
    "balance_threshold": 0.1,
}
LIMITS = {"min_effective_n": 10, "min_events": 5}


@pytest.fixture(scope="module")
def cohort(make_three_group_cohort):
    """Seeded 3 groups whose covariate mix differs (treatment depends on count, age and size)."""
    return make_three_group_cohort(
        seed=11,
        n=400,
        resection_log_hr=-0.5,
        procedure_months=True,
        treatment_utility=lambda age, count, size: (0.8 - 1.2 * count - 0.5 * age - 0.1 * size, -1.0 + 0.4 * count),
    )


# --- entropy balancing -------------------------------------------------------------------


def test_entropy_balancing_equals_the_dual_solved_in_r():
    data = pd.read_csv(REFERENCE / "entropy_balance_lung_input.csv")
    expected = pd.read_csv(REFERENCE / "entropy_balance_lung_weights.csv")["weight"].to_numpy()
    ours = entropy_balance(
        data[["age", "sex", "wt.loss"]].to_numpy(float), data["ph.ecog"].to_numpy(), 3, ["age", "sex", "wt.loss"]
    )
    # R's BFGS reaches the moments to ~1e-8, so the two solutions agree to about that
    assert ours == pytest.approx(expected, rel=1e-7)
    assert ours.sum() == pytest.approx(len(data))


def test_every_group_matches_the_cohort_means_and_variances_by_construction(cohort):
    table = weighting_table(cohort, GROUPS, PROPENSITY, "entropy_balance")
    assert table["included"].all() and (table["weight"] > 0).all()
    x = cohort[COVARIATES].to_numpy(float)
    for label in GROUPS:
        member = (cohort["group"] == label).to_numpy()
        w = table["weight"].to_numpy()[member]
        assert w.sum() == pytest.approx(member.sum(), rel=1e-12)  # each group keeps its size
        means = np.average(x[member], axis=0, weights=w)
        assert np.abs(means - x.mean(axis=0)).max() < 1e-8 * x.std(axis=0).max()
        # continuous `size`: the weighted (population) variance equals the cohort's too
        size = x[member, 2]
        assert np.average((size - means[2]) ** 2, weights=w) == pytest.approx(x[:, 2].var(), abs=1e-8)
        # a 0/1 covariate's variance follows from its mean, so it is not constrained twice
    assert balance_columns(x, COVARIATES)[1] == [*COVARIATES, "size (variance)"]


def test_entropy_balancing_passes_where_gps_iptw_leaves_imbalance(cohort):
    tables = {
        label: weighting_table(cohort, GROUPS, PROPENSITY, method).drop(columns="weighting")
        for label, method in [("entropy balancing", "entropy_balance"), ("GPS-IPTW", "gps_iptw")]
    }
    verdict = balance_verdict(weighted_balance(cohort, tables, GROUPS, COVARIATES, 0.1)).set_index(
        ["weighting", "comparison"]
    )
    assert len(verdict) == 6
    assert (verdict.loc["entropy balancing", "max_abs_smd_weighted"] < 1e-8).all()
    assert verdict.loc["entropy balancing", "passed"].all()
    # the GPS weights leave some imbalance (they balance only in expectation)
    assert (verdict.loc["GPS-IPTW", "max_abs_smd_weighted"] > 1e-3).all()
    assert (verdict["max_abs_smd_unweighted"] > 0.1).any()


def stalled_group():
    table = pd.read_csv(Path(__file__).parent / "data" / "entropy_balance_stalled_group.csv")
    values = table.drop(columns="row").to_numpy(float)
    return values[table["row"] == "patient"], values[table["row"] == "target"][0]


def test_entropy_balancing_reaches_the_moments_where_the_line_search_stalls():
    columns, targets = stalled_group()
    weights, _ = entropy_weights(columns, targets)
    # in SDs of the group's columns: the solver's old stall left 1.1e-8 (over TOLERANCE)
    gap = np.abs(weights @ columns - targets) / columns.std(axis=0)
    assert gap.max() < 1e-13
    assert weights.sum() == pytest.approx(1.0)


def test_a_warm_start_finds_the_same_weights(cohort):
    """The bootstrap starts each resample from the whole cohort's multipliers."""
    design = cohort[COVARIATES].to_numpy(float)
    codes = pd.Categorical(cohort["group"], categories=GROUPS).codes
    start = balance_multipliers(design, codes, 3, COVARIATES)
    rows = np.random.default_rng(5).integers(0, len(cohort), len(cohort))
    cold = entropy_balance(design[rows], codes[rows], 3, COVARIATES)
    warm = entropy_balance(design[rows], codes[rows], 3, COVARIATES, start=start)
    assert warm == pytest.approx(cold, rel=1e-10)
    assert set(start) == {0, 1, 2} and set(start[0]) == {*COVARIATES, "size (variance)"}


def test_a_group_that_cannot_reach_the_cohort_is_an_error_naming_it():
    x = np.array([[0.0], [0.0], [0.0], [1.0], [1.0], [0.0]])
    codes = np.array([1, 1, 1, 0, 0, 0])  # nobody in group B has x = 1, the cohort mean is 1/3
    with pytest.raises(BalanceError, match=r"3 patients of group B .* on lm_bilobar"):
        entropy_balance(x, codes, 2, ["lm_bilobar"], ["A", "B"])


def test_unknown_weighting_is_refused(cohort):
    with pytest.raises(ValueError, match="unknown weighting"):
        group_weights(cohort[COVARIATES].to_numpy(), np.zeros(len(cohort), int), GROUPS, COVARIATES, PROPENSITY, "ebal")


def test_effective_sample_size_by_hand():
    assert effective_sample_size(np.array([1.0, 1.0, 2.0])) == pytest.approx(16 / 6)
    assert effective_sample_size(np.ones(7)) == pytest.approx(7)


# --- the diagnostics gate ----------------------------------------------------------------


def test_gate_names_every_reason_without_giving_the_death_count():
    groups = pd.DataFrame({"group": ["IM", "IM+HR"], "n": [100, 30], "events": [20, 4], "ess": [90.0, 8.2]})
    balance = pd.Series(
        {"passed": False, "max_abs_smd_weighted": 0.236, "threshold": 0.1, "imbalanced_covariates": "ecog, lm_bilobar"}
    )
    reasons = gate_reasons(groups, ["IM+HR", "IM"], balance, LIMITS)
    assert reasons == [
        "balance failed (largest weighted |SMD| 0.236 ≥ 0.1: ecog, lm_bilobar)",
        "fewer than 5 deaths in IM+HR",
        "effective sample size of IM+HR 8.2 < 10",
    ]
    passed = pd.Series({"passed": True, "max_abs_smd_weighted": 0.0, "threshold": 0.1, "imbalanced_covariates": ""})
    assert gate_reasons(groups.assign(events=[20, 5], ess=[90.0, 10.0]), ["IM+HR", "IM"], passed, LIMITS) == []
    # an unweighted analysis is gated by its deaths only
    assert gate_reasons(groups, ["IM+HR", "IM"], None, LIMITS) == ["fewer than 5 deaths in IM+HR"]


def test_a_gated_estimate_loses_its_e_values_and_is_classed(cohort):
    data = cohort.assign(weight=1.0)
    gates = gate_table(
        "entropy balancing (marginal)",
        group_diagnostics(data, GROUPS),
        None,
        GROUPS,
        "IM",
        {"min_effective_n": 10, "min_events": 10**6},
        5,
    )
    assert not gates["interpretable"].any() and gates["reason"].str.startswith("fewer than 1000000 deaths").all()
    estimates = pd.DataFrame(
        {
            "method": [
                "naive (groups fixed at LM diagnosis)",
                "entropy balancing (marginal)",
                "landmark 12 months, entropy balancing",
                "time-varying Cox",
            ],
            "term": "IM+HR vs IM",
            "hr": 0.5,
            "ci_lower": 0.3,
            "ci_upper": 0.8,
            "e_value": 3.4,
            "e_value_ci": 1.8,
        }
    )
    table = gate_estimates(estimates, gates, ["entropy balancing", "GPS-IPTW"]).set_index("method")
    assert table["handles"].tolist() == ["neither", "measured confounding", "both", "immortal time"]
    assert table["role"].tolist() == ["published-style replication", "secondary", "primary", "secondary"]
    assert table["interpretable"].tolist() == [True, False, True, True]
    assert np.isnan(table.loc["entropy balancing (marginal)", "e_value"])
    assert table.loc["naive (groups fixed at LM diagnosis)", "e_value"] == 3.4
    assert handled_biases("clone-censor-weight", ["GPS-IPTW"]) == "both"


# --- landmark-weighted analyses ----------------------------------------------------------


LANDMARK_GROUPS = {
    "labels": GROUPS,
    "reference": "IM",
    "default": "IM",
    "precedence": [{"label": "IM+HR"}, {"label": "IM+RFA/TACE"}],
}
LANDMARK_SETTINGS = {
    "weighting": {"method": "entropy_balance"},
    "propensity": PROPENSITY,
    "alpha": 0.05,
    "rmst_horizons_months": [24],
    "diagnostics": LIMITS,
    "min_cell_count": 5,
}


def test_landmark_weighted_analysis_balances_the_survivors_by_treatment_so_far(cohort):
    result = landmark_weighted(cohort, 6.0, LANDMARK_GROUPS, LANDMARK_SETTINGS)
    alive = cohort[cohort["os_months"] > 6]
    sizes = result["groups"].set_index("group")
    # treated by 6 months = procedure on or before the landmark, among those alive then
    treated = alive["months_to_IM+HR"] <= 6
    assert sizes.loc["IM+HR", "n"] == treated.sum()
    assert sizes["n"].sum() == len(alive)
    assert (result["verdict"]["max_abs_smd_weighted"] < 1e-8).all()
    cox = result["cox"].set_index("term")
    assert list(cox.index) == ["IM+HR vs IM", "IM+RFA/TACE vs IM"]
    assert (cox["model"] == "landmark 6 months, entropy balancing").all()
    assert set(result["rmst"]["term"]) == {*GROUPS, "IM+HR - IM", "IM+RFA/TACE - IM"}
    assert set(result["gate"]["term"]) == {"IM+HR vs IM", "IM+RFA/TACE vs IM"}


def test_a_group_that_cannot_be_balanced_at_a_landmark_is_reported_and_the_others_kept(cohort):
    # every IM+RFA/TACE patient has more than 3 lesions: no weighting of that group reaches
    # the cohort's share, while IM+HR can still be balanced
    count = cohort["lm_count_over_cutoff"].where(cohort["group"] != "IM+RFA/TACE", 1.0)
    odd = cohort.assign(lm_count_over_cutoff=count)
    result = landmark_weighted(odd, 6.0, LANDMARK_GROUPS, LANDMARK_SETTINGS)
    sizes = result["groups"].set_index("group")
    assert sizes.loc["IM+RFA/TACE", "n"] > 0 and np.isnan(sizes.loc["IM+RFA/TACE", "ess"])
    assert sizes.loc["IM+HR", "ess"] > 0
    gate = result["gate"].set_index("term")
    assert gate.loc["IM+RFA/TACE vs IM", "reason"].startswith(
        "weighting failed: entropy balancing found no weights of the"
    )
    assert "lm_count_over_cutoff" in gate.loc["IM+RFA/TACE vs IM", "reason"]
    assert not gate.loc["IM+RFA/TACE vs IM", "interpretable"]
    assert result["cox"]["term"].tolist() == ["IM+HR vs IM"]
    assert (result["balance"]["smd_weighted"].abs() < 1e-8).all()


# --- sparse-event bootstrap --------------------------------------------------------------


def replicates_with(degenerate: int, total: int = 1000) -> pd.DataFrame:
    """`total` hazard-ratio replicates, the first `degenerate` without an IM+HR death (HR 0)."""
    values = np.r_[np.zeros(degenerate), np.linspace(0.2, 2.0, total - degenerate)]
    return pd.DataFrame(
        {
            "replicate": np.arange(total),
            "weighting": "GPS-IPTW",
            "quantity": "hazard_ratio",
            "term": "IM+HR vs IM",
            "months": np.nan,
            "value": values,
            "degenerate": ["no death in IM+HR"] * degenerate + [""] * (total - degenerate),
        }
    )


def test_too_many_degenerate_replicates_give_no_interval_but_the_reason():
    estimates = pd.DataFrame(
        {
            "weighting": ["GPS-IPTW"],
            "quantity": ["hazard_ratio"],
            "term": ["IM+HR vs IM"],
            "months": [np.nan],
            "value": [0.6],
        }
    )
    gated = percentile_intervals(replicates_with(18), estimates, 0.05, 0.01).iloc[0]
    assert np.isnan(gated["ci_lower"]) and np.isnan(gated["ci_upper"])
    assert gated["degenerate"] == 18 and gated["degenerate_reasons"] == "no death in IM+HR: 18"
    assert gated["ci_status"] == (
        "not estimable: 18 of 1000 replicates (1.8%) are degenerate, more than the 1% "
        "allowed (causal.diagnostics.max_degenerate_share)"
    )
    kept = percentile_intervals(replicates_with(10), estimates, 0.05, 0.01).iloc[0]
    assert kept["ci_status"] == "" and kept["degenerate"] == 10
    assert 0 < kept["ci_lower"] < kept["ci_upper"]


def test_a_resample_without_deaths_in_a_group_is_marked_degenerate(cohort):
    data = {
        "design": cohort[COVARIATES].to_numpy(float),
        "codes": cohort["group"].cat.codes.to_numpy(),
        "time": cohort["os_months"].to_numpy(),
        "event": np.where(cohort["group"] == "IM+HR", 0, cohort["death"]).astype(int),
    }
    settings = {"propensity": PROPENSITY, "survival_at_months": [24], "rmst_horizons_months": [24]}
    found = iptw_estimates(data, GROUPS, "IM", settings, "entropy_balance").set_index(["quantity", "term"])
    assert found.loc[("hazard_ratio", "IM+HR vs IM"), "value"] == 0.0
    assert found.loc[("hazard_ratio", "IM+HR vs IM"), "degenerate"] == "no death in IM+HR"
    assert found.loc[("rmst_difference", "IM+HR - IM"), "degenerate"] == "no death in IM+HR"
    assert found.loc[("hazard_ratio", "IM+RFA/TACE vs IM"), "degenerate"] == ""


@pytest.mark.slow  # reruns R: it checks the stored reference the test above compares gistlm with
@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed")
def test_the_r_reference_regenerates_identically(tmp_path):
    """Rerun tests/reference/entropy_balance.R and compare with the kept CSVs."""
    shutil.copy(REFERENCE / "entropy_balance.R", tmp_path)
    subprocess.run(["Rscript", "entropy_balance.R"], cwd=tmp_path, check=True, capture_output=True)
    for name in ["entropy_balance_lung_input.csv", "entropy_balance_lung_weights.csv"]:
        fresh, kept = pd.read_csv(tmp_path / name), pd.read_csv(REFERENCE / name)
        pd.testing.assert_frame_equal(fresh, kept, rtol=1e-9)
