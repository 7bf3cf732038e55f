"""The whole workflow on the shipped synthetic extract: counts, estimates and exact reruns."""

import json
import re

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
from study_config import CONFIG

from benchmarks.workflow_runs import REPO, clone_run, edit_config, planned_rules, snakemake
from gistlm.extract.pseudonyms import DEVELOPMENT_KEY, pseudonymise
from gistlm.survival.overall_survival import COX_FIT_OPTIONS

TRUTH = json.loads((REPO / "resources" / "extract" / "truth.json").read_text())
GROUPS = CONFIG["groups"]["labels"]
REPORT_STAGE = {"baseline_table", "draw_figures", "render_report", "gather_provenance"}
# the causal analyses (workflow/rules/causal.smk) sit downstream of the cohort and survival
CAUSAL = {
    "local_treatment_dates",
    "time_varying_cox",
    "landmark_analysis",
    "landmark_weighted",
    "clone_censor_weight",
    "propensity_weights",
    "iptw_survival",
    "restricted_mean_survival",
    "unweighted_diagnostics",
    "e_values",
    "bootstrap_chunk",
    "bootstrap_estimates",
    "bootstrap_gather",
    "draw_causal_figures",
    "render_causal_section",
}
# results/release/ (workflow/rules/release.smk) sits downstream of every released table and the report
RELEASE = {"release_tables", "disclosure_audit", "release_manifest"}
# the survival rules and what draws and reports their tables
SURVIVAL = {
    "kaplan_meier",
    "cox_regression",
    "site_hazard_ratios",
    "draw_figures",
    "render_report",
    "gather_provenance",
}


@pytest.fixture
def cohort(finished_run):
    return pd.read_parquet(finished_run / "results" / "cohort" / "analysis.parquet")


def read(run, name):
    # round_trip: event times must match lifelines' timeline to the last bit
    return pd.read_csv(run / "results" / name, float_precision="round_trip")


def test_default_cohort_matches_the_published_group_sizes(cohort):
    assert len(cohort) == 238
    assert cohort["patient_id"].is_unique
    assert cohort["group"].value_counts().to_dict() == {"IM": 126, "IM+HR": 81, "IM+RFA/TACE": 31}
    assert set(cohort["death"].unique()) <= {0, 1}
    assert cohort["os_months"].between(0, 200).all()


def test_attrition_counts_every_step_and_adds_up(finished_run):
    attrition = read(finished_run, "cohort/attrition.csv").set_index("step")
    # truth.json names the exclusion steps as the pipeline does, in its order
    steps = attrition.index.drop(["raw extract", "quarantine", "analysis cohort"])
    assert [expected["step"] for expected in TRUTH["expected_attrition"]] == list(steps)
    for expected in TRUTH["expected_attrition"]:
        assert attrition.loc[expected["step"], "excluded"] == expected["n_excluded"], expected["step"]
    assert attrition.loc["quarantine", "excluded"] == len(TRUTH["quarantine"])
    raw = attrition.loc["raw extract", "remaining"]
    assert raw == attrition["excluded"].sum() + attrition.loc["analysis cohort", "remaining"]
    assert attrition.loc["analysis cohort", "remaining"] == 238
    assert (attrition["remaining"].diff().dropna() <= 0).all()


def test_quarantined_patients_are_the_malformed_ones(finished_run):
    quarantined = read(finished_run, "validation/quarantine.csv")
    raw_ids = pd.Series([entry["patient_id"] for entry in TRUTH["quarantine"]])
    assert set(quarantined["patient_id"]) == set(pseudonymise(raw_ids, DEVELOPMENT_KEY))
    failures = read(finished_run, "validation/failure_cases.csv")
    assert {"table", "row", "column", "check", "value"} <= set(failures.columns)
    assert failures["row"].notna().all()


def test_kaplan_meier_equals_lifelines_on_the_analysis_table(finished_run, cohort):
    km = read(finished_run, "survival/km.csv")
    rates = read(finished_run, "survival/os_rates.csv")
    for group in GROUPS:
        rows = cohort[cohort["group"] == group]
        fit = KaplanMeierFitter().fit(rows["os_months"], rows["death"])
        ours = km[km["group"] == group].set_index("time")
        np.testing.assert_allclose(ours["survival"], fit.survival_function_.loc[ours.index].iloc[:, 0])
        # no log(-log) interval where survival is 1 (time 0, before the first death), as R
        certain = (ours["survival"] == 1).to_numpy()
        assert certain[0] and ours["ci_lower"].isna().tolist() == certain.tolist()
        np.testing.assert_allclose(
            ours["ci_lower"][~certain], fit.confidence_interval_.loc[ours.index].iloc[:, 0][~certain]
        )
        ten_year = rates[(rates["group"] == group) & (rates["month"] == 120)]["survival"].item()
        assert ten_year == pytest.approx(fit.survival_function_at_times(120).item())


def test_logrank_equals_lifelines_on_the_analysis_table(finished_run, cohort):
    logrank = read(finished_run, "survival/logrank.csv").set_index("comparison")
    direct = multivariate_logrank_test(cohort["os_months"], cohort["group"], cohort["death"])
    assert logrank.loc["global", "statistic"] == pytest.approx(direct.test_statistic)
    assert logrank.loc["global", "p_value"] == pytest.approx(direct.p_value)
    assert logrank.loc["global", "df"] == 2


def test_multivariable_cox_equals_lifelines_on_the_analysis_table(finished_run, cohort):
    cox = read(finished_run, "survival/cox.csv")
    covariates = CONFIG["survival"]["cox_covariates"]
    data = cohort[["os_months", "death"] + covariates].copy()
    for group in GROUPS[1:]:
        data[f"{group} vs IM"] = (cohort["group"] == group).astype(float)
    fit = CoxPHFitter().fit(data.dropna(), "os_months", "death", fit_options=COX_FIT_OPTIONS)
    ours = cox[cox["model"] == "multivariable"].set_index("term")
    for term in fit.summary.index:
        assert ours.loc[term, "hr"] == pytest.approx(fit.summary.loc[term, "exp(coef)"], rel=1e-6)
        assert ours.loc[term, "p_value"] == pytest.approx(fit.summary.loc[term, "p"], rel=1e-6)


def test_report_is_one_self_contained_file(finished_run):
    html = (finished_run / "results" / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 2
    assert 'src="http' not in html and 'href="http' not in html
    for text in [
        "Analysis cohort: <b>238</b>",
        "IM+HR vs IM",
        "Descriptive data",
        "log-rank tests",
        "Published versus reproduced",
    ]:
        assert text in html
    # no patient identifier, raw or pseudonymous, reaches the report
    raw_ids = pd.read_csv(REPO / "resources" / "extract" / "patients.csv", dtype=str)["patient_id"]
    pseudonyms = pd.read_parquet(finished_run / "results" / "interim" / "main" / "patients.parquet")["patient_id"]
    # without the embedded figures: their base64 text holds ids like P0008 by chance
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)
    assert not any(pid in text for pid in [*raw_ids, *pseudonyms])


def test_interim_tables_hold_pseudonyms_only(finished_run):
    raw_ids = set(pd.read_csv(REPO / "resources" / "extract" / "patients.csv", dtype=str)["patient_id"])
    for path in (finished_run / "results").rglob("*"):
        if path.suffix in {".csv", ".parquet"}:
            frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype=str)
            if "patient_id" in frame:
                assert not raw_ids & set(frame["patient_id"].dropna()), path
                assert frame["patient_id"].dropna().str.match(r"^PT-[0-9a-f]{16}$").all(), path


# --- exact incremental reruns: each scenario changes one thing in a copy of the finished run


def test_touching_nothing_reruns_nothing(finished_run, tmp_path):
    assert planned_rules(clone_run(finished_run, tmp_path / "run")) == set()


def test_reordering_the_config_keys_reruns_nothing(finished_run, tmp_path):
    run = clone_run(finished_run, tmp_path / "run")
    edit_config(run, lambda config: None)  # safe_dump writes the keys sorted
    assert planned_rules(run) == set()


def test_editing_the_report_template_reruns_only_the_report(finished_run, tmp_path):
    run = clone_run(finished_run, tmp_path / "run")
    with open(run / "src" / "gistlm" / "report" / "templates" / "report.html.j2", "a") as template:
        template.write("<!-- edited -->\n")
    assert planned_rules(run) == {"render_report", "release_manifest", "gather_provenance"}


def test_changing_cox_covariates_reruns_only_cox_and_report(finished_run, tmp_path):
    run = clone_run(finished_run, tmp_path / "run")
    edit_config(run, lambda config: config["survival"]["cox_covariates"].remove("lm_bilobar"))
    assert (
        planned_rules(run)
        == {
            "cox_regression",
            "draw_figures",
            "render_report",
            "gather_provenance",
            "time_varying_cox",
            "landmark_analysis",
            "e_values",
            "draw_causal_figures",
            "render_causal_section",
        }
        | RELEASE
    )


def test_changing_an_eligibility_threshold_reruns_eligibility_onwards(finished_run, tmp_path):
    run = clone_run(finished_run, tmp_path / "run")
    edit_config(run, lambda config: config["eligibility"]["labs"]["alt_u_l"].update(max=150))
    assert (
        planned_rules(run)
        == {
            "apply_eligibility",
            "derive_analysis_cohort",
            "kaplan_meier",
            "cox_regression",
            "site_hazard_ratios",
            "patient_ledger",
            "data_quality_suite",
            "disclosure_register",
        }
        | REPORT_STAGE
        | CAUSAL
        | RELEASE
    )


def test_editing_the_survival_module_reruns_survival_and_report(finished_run, tmp_path):
    run = clone_run(finished_run, tmp_path / "run")
    with open(run / "src" / "gistlm" / "survival" / "overall_survival.py", "a") as module:
        module.write("\n# edited\n")
    planned = planned_rules(run)
    # survival's fitters are reused by the causal modules, which rerun with it
    assert SURVIVAL <= planned and planned - SURVIVAL <= CAUSAL | RELEASE | {"disclosure_register"}


# every rule that imports gistlm.survival.overall_survival, gistlm.causal.propensity or gistlm.causal.immortal_time fits
# through gistlm.estimators, and no rule before the analysis cohort does
ESTIMATOR_USERS = SURVIVAL | {"disclosure_register"} | CAUSAL | RELEASE


@pytest.mark.parametrize("module", ["estimators/cox.py", "estimators/__init__.py"])
def test_editing_an_estimator_reruns_exactly_the_analyses_that_use_it(finished_run, tmp_path, module):
    """package_code follows `gistlm.estimators.cox` into the subpackage, with its
    __init__.py (run on import): the rules using the Cox model rerun, no others."""
    run = clone_run(finished_run, tmp_path / "run")
    with open(run / "src" / "gistlm" / module, "a") as source:
        source.write("\n# edited\n")
    assert planned_rules(run) == ESTIMATOR_USERS


def test_lint_is_clean():
    run = snakemake(REPO, "--lint", check=False)
    output = run.stdout + run.stderr
    # each finding is headed "Lints for rule <name> (...)" or "Lints for snakefile <path>"; any exits 1
    assert re.findall(r"^Lints for .*$", output, flags=re.M) == [], output
    assert run.returncode == 0, output
