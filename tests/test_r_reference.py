"""gistlm against R's survival (3.5) on the data and values kept in tests/reference/.

tests/reference/survival_reference.R wrote every data file there and R's values (coxph.csv,
zph.csv, km.csv, km_times.csv); these tests need no R. Where Rscript with survival is
installed, the last test reruns the script and compares its output with the stored one.
The shipped cohort's analysis data (shipped_cohort.csv, the pipeline's model data with row
numbers for ids) was written by

    run_data_stages(DEFAULT_EXTRACT)["cohort"][["patient_id", "os_months", "death", "group",
        *CONFIG["survival"]["cox_covariates"]]] with patient_id = row number,
        .to_csv(..., index=False, float_format="%.17g")

and test_shipped_cohort_is_the_pipelines_analysis_data keeps it in step with the pipeline.
Tolerances (issue 12): coefficients 1e-6 absolute; standard errors, robust and cluster SEs
1e-6 relative; cox.zph statistics and p-values 1e-6.
"""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from data_stages import CONFIG, DEFAULT_EXTRACT, run_data_stages
from scipy.stats import norm

from gistlm.estimators.cox import CoxFitter, hazard_ratio_table
from gistlm.estimators.kaplan_meier import kaplan_meier, log_log_interval
from gistlm.survival.overall_survival import EVENT, TIME, cox_models, fit_cox, kaplan_meier_table, os_rates, ph_tests

REFERENCE = Path(__file__).resolve().parent / "reference"
SCRIPT = REFERENCE / "survival_reference.R"
SHIPPED_TERMS = ["hr", "rfa", *CONFIG["survival"]["cox_covariates"]]
GROUPS = ["IM", "IM+HR", "IM+RFA/TACE"]


def read(name: str, folder: Path = REFERENCE) -> pd.DataFrame:
    return pd.read_csv(folder / name, float_precision="round_trip")  # the exact doubles R wrote


def dataset(name: str) -> pd.DataFrame:
    """A reference data set with the pipeline's column names for time and death."""
    if name == "shipped":
        data = read("shipped_cohort.csv")
        return data.assign(hr=(data["group"] == "IM+HR") * 1.0, rfa=(data["group"] == "IM+RFA/TACE") * 1.0)
    if name == "lung":
        return read("lung.csv").rename(columns={"time": TIME})
    if name == "tied":
        return read("tied_cohort.csv").rename(columns={"time": TIME})
    return read("heart.csv")


def r_rows(table: pd.DataFrame, **where) -> pd.DataFrame:
    keep = np.ones(len(table), bool)
    for column, value in where.items():
        keep &= (table[column] == value).to_numpy()
    assert keep.any(), f"no R reference row for {where}"
    return table[keep]


# --- Cox: coefficients, model-based, robust and cluster SEs --------------------------------

# (data set, R model): (entry column, terms, cluster column; None: each row its own cluster)
COX_MODELS = {
    ("lung", "age_sex_ecog"): (None, ["age", "sex", "ph.ecog"], None),
    ("lung", "sex"): (None, ["sex"], None),
    ("lung", "age_sex_ecog_inst"): (None, ["age", "sex", "ph.ecog"], "inst"),
    ("heart", "counting_process"): ("start", ["age", "year", "surgery", "transplant"], "id"),
    ("tied", "right_censored"): (None, ["x1", "x2", "hr", "rfa"], None),
    ("tied", "right_censored_cluster"): (None, ["x1", "x2", "hr", "rfa"], "cluster"),
    ("tied", "late_entry_cluster"): ("entry", ["x1", "x2", "hr", "rfa"], "cluster"),
}


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("key", list(COX_MODELS), ids=["-".join(key) for key in COX_MODELS])
def test_weighted_cox_equals_coxph_robust_and_cluster(key, weighted):
    """gistlm's own Cox (IPTW, clone-censor-weight, time-varying models): Efron coefficients,
    model-based SEs and robust SEs as coxph(robust = TRUE) / cluster(id), tied deaths included."""
    entry, terms, cluster = COX_MODELS[key]
    expected = r_rows(read("coxph.csv"), dataset=key[0], model=key[1], weighted=weighted)
    data = dataset(key[0])
    time, death = ("stop", "event") if key[0] == "heart" else (TIME, EVENT)
    data = data.dropna(subset=[*terms, *([cluster] if cluster else [])])
    assert len(data) == expected["n"].iloc[0] and data[death].sum() == expected["events"].iloc[0]
    frame = data[[time, death, *terms, *([entry] if entry else [])]].assign(
        _weight=data["weight"].to_numpy(float) if weighted else 1.0,
        _cluster=np.arange(len(data)) if cluster is None else data[cluster],
    )
    fit = CoxFitter().fit(
        frame, duration_col=time, event_col=death, weights_col="_weight", entry_col=entry, cluster_col="_cluster"
    )
    table = hazard_ratio_table(fit)
    assert table["term"].tolist() == expected["term"].tolist()
    np.testing.assert_allclose(table["coef"], expected["coef"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(table["se"], expected["robust_se"], rtol=1e-6)
    naive = CoxFitter().fit(
        frame.drop(columns="_cluster"), duration_col=time, event_col=death, weights_col="_weight", entry_col=entry
    )
    np.testing.assert_allclose(naive.standard_errors_, expected["se"], rtol=1e-6)
    assert fit.log_likelihood_ == pytest.approx(expected["loglik"].iloc[0], rel=1e-9)


def test_tied_deaths_are_what_the_efron_form_is_for():
    """The reference data have tied deaths (else Breslow and Efron forms coincide)."""
    for name, time, death in [("lung", TIME, EVENT), ("heart", "stop", "event"), ("tied", TIME, EVENT)]:
        data = dataset(name)
        assert data.loc[data[death] == 1, time].duplicated().sum() >= 10


def test_pipeline_cox_models_reach_rs_maximum_on_the_shipped_cohort():
    """cox.csv's models (lifelines, tightened): issue 12 found univariable `male` 1.6e-4 off."""
    data = dataset("shipped")
    table, _ = cox_models(data, GROUPS, "IM", CONFIG["survival"]["cox_covariates"], 0.05)
    expected = r_rows(read("coxph.csv"), dataset="shipped", weighted=False)
    names = {"hr": "IM+HR vs IM", "rfa": "IM+RFA/TACE vs IM"}
    for model in ["univariable", "multivariable"]:
        ours = table[table["model"] == model]
        theirs = expected[expected["model"].str.startswith(model)]
        assert ours["term"].tolist() == theirs["term"].replace(names).tolist()
        np.testing.assert_allclose(ours["coef"], theirs["coef"], rtol=0, atol=1e-6)
        np.testing.assert_allclose(ours["se"], theirs["se"], rtol=1e-6)


@pytest.mark.parametrize("model", ["age_sex_ecog", "sex"])
def test_pipeline_fit_reaches_rs_maximum_on_lung(model):
    terms = COX_MODELS[("lung", model)][1]
    data = dataset("lung")
    fit, _ = fit_cox(data, data[terms], 0.05)
    expected = r_rows(read("coxph.csv"), dataset="lung", model=model, weighted=False)
    np.testing.assert_allclose(fit.params_, expected["coef"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit.standard_errors_, expected["se"], rtol=1e-6)


def test_cox_fitter_has_lifelines_shape_and_rs_values():
    """The API every analysis uses: fit returns the fitter; params_, standard_errors_ and
    summary indexed by covariate, with lifelines' summary columns, at R's values (lung,
    age + sex + ph.ecog; robust SEs as coxph(robust = TRUE))."""
    terms = COX_MODELS[("lung", "age_sex_ecog")][1]
    data = dataset("lung").dropna(subset=terms)[[TIME, EVENT, *terms]]
    expected = r_rows(read("coxph.csv"), dataset="lung", model="age_sex_ecog", weighted=False).set_index("term")
    fitter = CoxFitter(alpha=0.10)
    assert fitter.fit(data, duration_col=TIME, event_col=EVENT) is fitter
    assert fitter.params_.index.tolist() == terms and fitter.params_.index.name == "covariate"
    assert fitter.standard_errors_.index.tolist() == terms
    summary = fitter.summary
    assert summary.columns.tolist() == [
        "coef",
        "exp(coef)",
        "se(coef)",
        "coef lower 90%",
        "coef upper 90%",
        "exp(coef) lower 90%",
        "exp(coef) upper 90%",
        "z",
        "p",
    ]
    np.testing.assert_allclose(summary["coef"], expected.loc[terms, "coef"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(summary["se(coef)"], expected.loc[terms, "se"], rtol=1e-6)
    np.testing.assert_allclose(summary["exp(coef)"], np.exp(expected.loc[terms, "coef"]), rtol=1e-6)
    z = norm.ppf(0.95)
    np.testing.assert_allclose(
        summary["exp(coef) upper 90%"], np.exp(expected.loc[terms, "coef"] + z * expected.loc[terms, "se"]), rtol=1e-6
    )
    np.testing.assert_allclose(
        summary["p"], 2 * norm.sf(np.abs(expected.loc[terms, "coef"] / expected.loc[terms, "se"])), rtol=1e-5
    )
    robust = CoxFitter().fit(data, duration_col=TIME, event_col=EVENT, robust=True)
    np.testing.assert_allclose(robust.standard_errors_, expected.loc[terms, "robust_se"], rtol=1e-6)
    assert robust.log_likelihood_ == pytest.approx(expected["loglik"].iloc[0], rel=1e-9)


def test_cox_fitter_without_a_maximum_gives_missing_estimates():
    data = pd.DataFrame({TIME: [1.0, 2, 3, 4], EVENT: [0, 0, 0, 0], "x": [0.0, 1, 0, 1]})
    fit = CoxFitter().fit(data, duration_col=TIME, event_col=EVENT)
    assert not fit.converged_ and fit.params_.isna().all() and fit.summary["p"].isna().all()


def test_one_kaplan_meier_equals_survfit_with_late_entry_and_weights():
    """The estimator itself on the counting-process heart data: R's survfit(Surv(start, stop,
    event) ~ 1) steps where the risk set is those entered before t; weights scale both sums."""
    data = dataset("heart")
    curve = kaplan_meier(data["stop"], data["event"], entry=data["start"])
    # every row at risk from its entry: at each death time the risk set is counted directly
    at = curve.deaths > 0
    direct = [((data["start"] < t) & (data["stop"] >= t)).sum() for t in curve.time[at]]
    np.testing.assert_array_equal(curve.at_risk[at], direct)
    np.testing.assert_allclose(curve.survival[at], np.cumprod(1 - curve.deaths[at] / np.array(direct)), rtol=1e-14)
    doubled = kaplan_meier(data["stop"], data["event"], np.full(len(data), 2.0), entry=data["start"])
    np.testing.assert_array_equal(doubled.survival, curve.survival)
    lower, upper = log_log_interval(curve, 0.05)
    inside = curve.survival < 1
    assert (lower[inside] < curve.survival[inside]).all() and (upper[inside] > curve.survival[inside]).all()


# --- cox.zph --------------------------------------------------------------------------------

ZPH_MODELS = {
    ("lung", "age_sex_ecog"): ["age", "sex", "ph.ecog"],
    ("lung", "sex"): ["sex"],
    ("tied", "right_censored"): ["x1", "x2", "hr", "rfa"],
    ("tied", "stratified_site"): ["x1", "x2", "hr", "rfa"],
    ("shipped", "multivariable"): SHIPPED_TERMS,
    ("shipped", "univariable_group"): ["hr", "rfa"],
}
ZPH_CASES = [
    (key, weighted, transform)
    for key in ZPH_MODELS
    for weighted in [False, True]
    for transform in ["km", "rank", "identity", "log"]
    if not (weighted and key[0] == "shipped")
]


@pytest.mark.parametrize(
    "key, weighted, transform",
    ZPH_CASES,
    ids=[f"{'-'.join(k)}-{'weighted' if w else 'unweighted'}-{t}" for k, w, t in ZPH_CASES],
)
def test_ph_test_equals_cox_zph(key, weighted, transform):
    terms = ZPH_MODELS[key]
    strata = ["site"] if key[1] == "stratified_site" else None
    data = dataset(key[0]).dropna(subset=terms)
    columns = [TIME, EVENT, *(strata or []), *terms, *(["weight"] if weighted else [])]
    fit = CoxFitter().fit(data[columns], TIME, EVENT, weights_col="weight" if weighted else None, strata=strata)
    table = ph_tests(fit, data, strata, transform, data["weight"] if weighted else None)
    expected = r_rows(read("zph.csv"), dataset=key[0], model=key[1], weighted=weighted, transform=transform)
    assert table["term"].tolist() == [*terms, "global"] and expected["term"].tolist() == [*terms, "GLOBAL"]
    np.testing.assert_allclose(table["statistic"], expected["chisq"], rtol=1e-6)
    np.testing.assert_allclose(table["p_value"], expected["p"], rtol=0, atol=1e-6)
    assert table["df"].tolist() == expected["df"].tolist()


def test_shipped_cohorts_ph_test_is_rs_not_the_old_approximation():
    """Issue 12: for IM+HR, R's cox.zph on the rank scale gives chi2 6.10, p = 0.014, where the
    Grambsch-Therneau approximation (lifelines) gave 3.29, p = 0.070. On R's default
    Kaplan-Meier scale, which ph_test.csv uses: 2.51, p = 0.113."""
    data = dataset("shipped")
    covariates = CONFIG["survival"]["cox_covariates"]
    by_rank = cox_models(data, GROUPS, "IM", covariates, 0.05, ph_transform="rank")[1].set_index("term")
    assert by_rank.loc["IM+HR vs IM", "statistic"] == pytest.approx(6.0983128, abs=1e-6)
    assert by_rank.loc["IM+HR vs IM", "p_value"] == pytest.approx(0.0135311, abs=1e-6)
    default = cox_models(data, GROUPS, "IM", covariates, 0.05)[1].set_index("term")
    assert (default["time_transform"] == "km").all()
    assert default.loc["IM+HR vs IM", "statistic"] == pytest.approx(2.5126303, abs=1e-6)
    assert default.loc["global", "statistic"] == pytest.approx(7.7436670, abs=1e-6)
    assert default.loc["global", "df"] == len(covariates) + 2


def test_shipped_cohort_is_the_pipelines_analysis_data():
    cohort = run_data_stages(DEFAULT_EXTRACT)["cohort"]
    stored = read("shipped_cohort.csv")
    columns = ["os_months", "death", *CONFIG["survival"]["cox_covariates"]]
    np.testing.assert_array_equal(stored[columns].to_numpy(float), cohort[columns].to_numpy(float))
    assert stored["group"].tolist() == cohort["group"].astype(str).tolist()


# --- Kaplan-Meier ---------------------------------------------------------------------------

KM_DATA = {
    "lung": ("sex", ["1", "2"]),
    "tied": ("group", GROUPS),
    "km_small": (None, ["all"]),
    "shipped": ("group", GROUPS),
}


def km_data(name: str) -> pd.DataFrame:
    data = read("km_small.csv").rename(columns={"time": TIME}) if name == "km_small" else dataset(name)
    column = KM_DATA[name][0]
    return data.assign(group="all" if column is None else data[column].astype(str))


@pytest.mark.parametrize("name", list(KM_DATA))
def test_km_intervals_equal_survfit_and_are_missing_where_rs_are(name):
    """survfit(conf.type = "log-log"): no interval where survival is 1 (before the first
    death) or 0; km.csv, landmark_km.csv and os_rates.csv come from these functions."""
    table = kaplan_meier_table(km_data(name), KM_DATA[name][1], 0.05)
    expected = read("km.csv").query("dataset == @name").astype({"strata": str})
    merged = expected.merge(
        table, left_on=["strata", "time"], right_on=["group", "time"], how="left", validate="one_to_one"
    )
    assert merged["survival"].notna().all()
    np.testing.assert_array_equal(merged["at_risk"], merged["n_risk"])
    np.testing.assert_allclose(merged["survival"], merged["surv"], rtol=0, atol=1e-12)
    for ours, theirs in [("ci_lower", "lower"), ("ci_upper", "upper")]:
        assert merged[ours].isna().tolist() == merged[theirs].isna().tolist()
        np.testing.assert_allclose(merged[ours].dropna(), merged[theirs].dropna(), rtol=1e-9)
    # lifelines adds time 0 (survival 1): no interval there either
    extra = table.merge(expected, left_on=["group", "time"], right_on=["strata", "time"], how="left", indicator=True)
    extra = extra[extra["_merge"] == "left_only"]
    assert (extra["time"] == 0).all() and extra["ci_lower"].isna().all() and extra["ci_upper"].isna().all()


@pytest.mark.parametrize("name", list(KM_DATA))
def test_os_rates_equal_survfit_summary(name):
    """summary(survfit, times, extend = FALSE). R's summary pads times before a curve's first
    time with the interval [1, 1]; survfit itself, and we, give none where survival is 1."""
    expected = read("km_times.csv").query("dataset == @name").astype({"strata": str})
    months = sorted(expected["time"].unique())
    data = km_data(name)
    rates = os_rates(data, KM_DATA[name][1], 0.05, months)
    merged = rates.merge(expected, left_on=["group", "month"], right_on=["strata", "time"], how="left")
    beyond = merged["surv"].isna()  # R leaves out times beyond the curve's follow-up
    assert merged.loc[beyond, ["survival", "ci_lower", "ci_upper"]].isna().all().all()
    shown = merged[~beyond]
    np.testing.assert_allclose(shown["survival"], shown["surv"], rtol=0, atol=1e-12)
    first_time = data.groupby("group")[TIME].min()
    padded = shown["month"].to_numpy() < shown["group"].map(first_time).to_numpy()
    assert (shown.loc[padded, ["lower", "upper"]] == 1).all().all()
    one = shown["survival"].isin([0, 1])
    assert shown.loc[one, ["ci_lower", "ci_upper"]].isna().all().all()
    assert shown.loc[one & ~padded, ["lower", "upper"]].isna().all().all()
    for ours, theirs in [("ci_lower", "lower"), ("ci_upper", "upper")]:
        np.testing.assert_allclose(shown.loc[~one, ours], shown.loc[~one, theirs], rtol=1e-9)


# --- the references themselves ----------------------------------------------------------------


def r_with_survival() -> bool:
    if not shutil.which("Rscript"):
        return False
    check = subprocess.run(["Rscript", "-e", "library(survival)"], capture_output=True)
    return check.returncode == 0


@pytest.mark.slow  # reruns R: it checks the stored references, which the tests above compare gistlm with
def test_r_script_reproduces_the_stored_references(tmp_path):
    if not r_with_survival():  # asked here, not at collection: the fast lane does not start R
        pytest.skip("Rscript with the survival package is not installed")
    subprocess.run(["Rscript", str(SCRIPT), str(tmp_path)], check=True, capture_output=True)
    # shipped_cohort.csv is Python's input to the script; entropy_balance*.csv and
    # multinomial_logit*.csv are their own R scripts' (tests/test_balancing.py and
    # tests/test_multinomial_logit.py rerun those)
    stored = sorted(
        path.name
        for path in REFERENCE.glob("*.csv")
        if path.name != "shipped_cohort.csv" and not path.name.startswith(("entropy_balance", "multinomial_logit"))
    )
    assert sorted(path.name for path in tmp_path.glob("*.csv")) == stored
    for name in stored:
        if name == "versions.csv":
            continue  # which R wrote them; the values must agree whatever the version
        ours, theirs = read(name), read(name, tmp_path)
        assert ours.columns.tolist() == theirs.columns.tolist() and len(ours) == len(theirs), name
        for column in ours.columns:
            if pd.api.types.is_float_dtype(ours[column]):
                np.testing.assert_allclose(theirs[column], ours[column], rtol=1e-8, atol=1e-12, err_msg=name)
            else:
                assert theirs[column].tolist() == ours[column].tolist(), (name, column)
