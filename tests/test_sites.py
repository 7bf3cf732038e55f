"""Multi-centre registries: per-site ingestion and validation, pooling, site-stratified Cox,
per-site hazard ratios with their heterogeneity, and the per-site counts of the report."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from benchmarks.workflow_runs import clone_run, copy_workflow, planned_jobs, snakemake
from gistlm.extract.pseudonyms import pseudonymise
from gistlm.quality.sites import pool_tables, site_counts
from gistlm.release.disclosure import release_site_counts
from gistlm.survival.overall_survival import (
    COX_FIT_OPTIONS,
    RANDOM_EFFECTS,
    STRATIFIED,
    fit_cox,
    ph_tests,
    site_hazard_ratios,
)

GROUPS = ["IM", "IM+HR", "IM+RFA/TACE"]
TERMS = ["IM+HR vs IM", "IM+RFA/TACE vs IM"]


def site_cohort(seed=7, sites=(("A", 160), ("B", 120), ("C", 90)), hr=0.4):
    """Three hospitals with their own baseline hazard and a common IM+HR effect."""
    rng = np.random.default_rng(seed)
    frames = []
    for shift, (site, n) in enumerate(sites):
        group = rng.choice(GROUPS, size=n, p=[0.5, 0.3, 0.2])
        rate = 0.01 * np.exp(0.4 * shift) * np.where(group == "IM+HR", hr, 1.0)
        event_time, censor_time = rng.exponential(1 / rate), rng.uniform(20, 150, n)
        frames.append(
            pd.DataFrame(
                {
                    "site": site,
                    "group": group,
                    "os_months": np.minimum(event_time, censor_time),
                    "death": (event_time <= censor_time).astype("int64"),
                    "male": rng.integers(0, 2, n).astype(float),
                }
            )
        )
    cohort = pd.concat(frames, ignore_index=True)
    cohort["group"] = pd.Categorical(cohort["group"], categories=GROUPS)
    return cohort


# --- pooling and pseudonyms --------------------------------------------------------------


def test_pooled_tables_keep_every_row_and_name_the_site_of_each_patient():
    site_a = {
        "patients": pd.DataFrame({"patient_id": ["p1", "p2"]}),
        "treatments": pd.DataFrame({"patient_id": ["p1", "p1", "p2"]}),
    }
    site_b = {"patients": pd.DataFrame({"patient_id": ["p3"]}), "treatments": pd.DataFrame({"patient_id": ["p3"]})}
    pooled = pool_tables({"A": site_a, "B": site_b})
    assert pooled["patients"].to_dict("list") == {"site": ["A", "A", "B"], "patient_id": ["p1", "p2", "p3"]}
    # only the patients table carries the site: the others join to it by patient id
    assert list(pooled["treatments"].columns) == ["patient_id"] and len(pooled["treatments"]) == 4


def test_the_same_hospital_id_at_two_sites_gets_two_pseudonyms():
    ids = pd.Series(["P0001", "P0002"])
    at_a, at_b = pseudonymise(ids, b"key", "S01"), pseudonymise(ids, b"key", "S02")
    assert not set(at_a) & set(at_b)
    assert at_a.equals(pseudonymise(ids, b"key", "S01"))  # stable within a site
    assert at_a[0] != pseudonymise(ids, b"key")[0]  # the namespace is part of the hash


def test_site_counts_add_up_per_site_and_in_total():
    ledger = pd.DataFrame(
        {
            "site": ["A"] * 4 + ["B"] * 3,
            "status": ["analysed", "analysed", "excluded", "quarantined", "analysed", "excluded", "excluded"],
        }
    )
    counts = site_counts(ledger, ["A", "B", "C"]).set_index("site")
    assert counts.loc["A"].to_dict() == {"raw patients": 4, "analysed": 2, "excluded": 1, "quarantined": 1}
    assert counts.loc["B"].to_dict() == {"raw patients": 3, "analysed": 1, "excluded": 2, "quarantined": 0}
    assert counts.loc["C", "raw patients"] == 0  # a site whose extract was empty is still listed
    assert counts["raw patients"].sum() == len(ledger)


def test_released_site_counts_never_leave_a_hidden_cell_alone_in_a_row_or_column():
    counts = pd.DataFrame(
        {
            "site": ["A", "B", "C", "D"],
            "raw patients": [50, 40, 30, 60],
            "analysed": [40, 37, 25, 50],
            "excluded": [7, 3, 5, 6],
            "quarantined": [3, 0, 0, 4],
        }
    )
    released = release_site_counts(counts, 5)
    statuses = ["analysed", "excluded", "quarantined"]
    hidden = released[statuses].isin(["<5", "suppressed"])
    assert released.loc[0, "quarantined"] == "<5" and released.loc[1, "excluded"] == "<5"
    assert released.loc[3, "quarantined"] == "<5"
    assert (released["raw patients"] == counts["raw patients"]).all()
    assert not (hidden.sum(axis=1) == 1).any() and not (hidden.sum(axis=0) == 1).any()
    # cells that needed no protection are shown as they are
    assert released.loc[2, "quarantined"] == "0"


# --- models ------------------------------------------------------------------------------


def test_per_site_hazard_ratios_are_the_site_only_cox_models():
    cohort = site_cohort()
    table = site_hazard_ratios(cohort, GROUPS, "IM", 0.05)
    for site, members in cohort.groupby("site"):
        data = members.assign(**{term: (members["group"] == term.split(" vs ")[0]).astype(float) for term in TERMS})
        # lifelines iterated to the maximum, as ours (its default stops up to 7e-5 short here)
        fit = CoxPHFitter().fit(data[["os_months", "death", *TERMS]], "os_months", "death", fit_options=COX_FIT_OPTIONS)
        ours = table[table["site"] == site].set_index("term")
        np.testing.assert_allclose(ours.loc[TERMS, "hr"], fit.hazard_ratios_[TERMS], rtol=1e-5)
        assert ours.loc["IM+HR vs IM", "patients_in_group"] == (members["group"] == "IM+HR").sum()


def test_stratified_row_is_lifelines_with_a_baseline_hazard_per_site():
    cohort = site_cohort()
    table = site_hazard_ratios(cohort, GROUPS, "IM", 0.05).set_index(["site", "term"])
    data = cohort.assign(**{term: (cohort["group"] == term.split(" vs ")[0]).astype(float) for term in TERMS})
    fit = CoxPHFitter(strata=["site"]).fit(
        data[["os_months", "death", "site", *TERMS]], "os_months", "death", fit_options=COX_FIT_OPTIONS
    )
    np.testing.assert_allclose(table.loc[STRATIFIED, "hr"].loc[TERMS], fit.hazard_ratios_[TERMS], rtol=1e-5)
    # a common true HR of 0.4 for IM+HR: the pooled estimate is close, the sites agree
    assert 0.2 < table.loc[(STRATIFIED, "IM+HR vs IM"), "hr"] < 0.7
    assert table.loc[(RANDOM_EFFECTS, "IM+HR vs IM"), "heterogeneity_p"] > 0.05


def test_random_effects_pooling_follows_dersimonian_laird():
    table = site_hazard_ratios(site_cohort(seed=11), GROUPS, "IM", 0.05)
    for term in TERMS:
        sites = table[(table["term"] == term) & ~table["site"].str.startswith("all sites")]
        y, v = sites["coef"].to_numpy(), sites["se"].to_numpy() ** 2
        w = 1 / v
        q = np.sum(w * (y - np.sum(w * y) / w.sum()) ** 2)
        tau2 = max(0.0, (q - (len(y) - 1)) / (w.sum() - np.sum(w**2) / w.sum()))
        w_star = 1 / (v + tau2)
        pooled = np.sum(w_star * y) / w_star.sum()
        half = 1.959964 / np.sqrt(w_star.sum())
        row = table[(table["site"] == RANDOM_EFFECTS) & (table["term"] == term)].iloc[0]
        np.testing.assert_allclose(
            [row["hr"], row["ci_lower"], row["ci_upper"]], np.exp([pooled, pooled - half, pooled + half]), rtol=1e-6
        )
        assert row["i2"] == pytest.approx(max(0.0, (q - (len(y) - 1)) / q))


def test_a_site_without_a_group_says_why_it_has_no_estimate():
    cohort = site_cohort()
    cohort = cohort[~((cohort["site"] == "C") & (cohort["group"] == "IM+RFA/TACE"))]
    table = site_hazard_ratios(cohort, GROUPS, "IM", 0.05).set_index(["site", "term"])
    row = table.loc[("C", "IM+RFA/TACE vs IM")]
    assert np.isnan(row["hr"]) and row["note"] == "no patients in the group"
    assert not np.isnan(table.loc[("C", "IM+HR vs IM"), "hr"])  # the other comparison still stands


def test_stratified_ph_test_sums_the_sites_on_one_time_scale():
    """cox.zph with strata: each site's own risk sets, one Kaplan-Meier time scale for all
    (R's values: tests/test_r_reference.py); shuffling the rows changes nothing."""
    cohort = site_cohort()
    fit, data = fit_cox(cohort, cohort[["male"]], 0.05, ["site"])
    table = ph_tests(fit, data, ["site"])
    shuffled = ph_tests(fit, data.sample(frac=1, random_state=1), ["site"])
    np.testing.assert_allclose(table["statistic"], shuffled["statistic"], rtol=1e-10)
    unstratified = ph_tests(fit, data)
    assert table["term"].tolist() == ["male", "global"]
    assert abs(table["statistic"].iloc[0] - unstratified["statistic"].iloc[0]) > 1e-6


# --- the workflow on a generated four-site registry ------------------------------------


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A finished run on a generated 4-site registry, which lies inside the run's folder
    (sites.yaml names its files by relative paths) so that a clone of the run has its own."""
    workdir = copy_workflow(tmp_path_factory.mktemp("registry") / "gistlm")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "gistlm.synthetic",
            "--patients",
            "1200",
            "--sites",
            "4",
            "--seed",
            "5",
            "--out",
            "registry",
        ],
        cwd=workdir,
        check=True,
        capture_output=True,
    )
    with open(workdir / SITES_CONFIG, "a") as config:  # merged key by key into config/config.yaml
        config.write("causal: {bootstrap: {replicates: 20}}\n")  # the bootstrap is not what is tested here
    snakemake(workdir, "--configfile", SITES_CONFIG)
    return workdir, json.loads((workdir / "registry" / "truth.json").read_text())


SITES_CONFIG = "registry/sites.yaml"


def test_every_patient_of_every_site_is_accounted_for(registry):
    workdir, truth = registry
    counts = pd.read_csv(workdir / "results" / "validation" / "ledger_by_site.csv").set_index("site")
    assert counts["raw patients"].to_dict() == truth["n_patients_by_site"]
    assert (counts[["analysed", "excluded", "quarantined"]].sum(axis=1) == counts["raw patients"]).all()
    cohort = pd.read_parquet(workdir / "results" / "cohort" / "analysis.parquet")
    assert len(cohort) == counts["analysed"].sum() == truth["n_eligible"]
    assert cohort.groupby("site").size().to_dict() == counts["analysed"].to_dict()


def test_pooled_cox_is_stratified_by_site(registry):
    workdir, _ = registry
    cohort = pd.read_parquet(workdir / "results" / "cohort" / "analysis.parquet")
    cox = pd.read_csv(workdir / "results" / "survival" / "cox.csv")
    univariable = cox[(cox["model"] == "univariable") & cox["term"].isin(TERMS)].set_index("term")
    data = cohort.assign(**{term: (cohort["group"] == term.split(" vs ")[0]).astype(float) for term in TERMS})
    fit = CoxPHFitter(strata=["site"]).fit(
        data[["os_months", "death", "site", *TERMS]], "os_months", "death", fit_options=COX_FIT_OPTIONS
    )
    np.testing.assert_allclose(univariable.loc[TERMS, "hr"], fit.hazard_ratios_[TERMS], rtol=1e-5)


def test_report_shows_per_site_counts_and_forest_plot(registry):
    workdir, _ = registry
    html = (workdir / "results" / "report.html").read_text()
    assert "a registry pooled from 4 hospitals" in html and "Main results by site" in html
    assert "stratified by site" in html
    assert all(f'<td class="l">S0{i}</td>' in html for i in range(1, 5))
    assert (workdir / "results" / "figures" / "site_forest.png").stat().st_size > 10_000


def test_a_change_to_one_sites_file_reruns_only_that_site_and_the_pooled_steps(registry, tmp_path):
    run = clone_run(registry[0], tmp_path / "run")
    assert planned_jobs(run, "--configfile", SITES_CONFIG) == {}
    with open(run / "registry" / "site_02" / "follow_up.csv", "a") as table:
        table.write("\n")  # new content in one site's table (a new time alone reruns nothing)
    jobs = planned_jobs(run, "--configfile", SITES_CONFIG)
    assert jobs["ingest_extract"] == 1 and jobs["validate_extract"] == 1 and jobs["pool_sites"] == 1
    assert {"apply_eligibility", "cox_regression", "site_hazard_ratios", "render_report"} <= set(jobs)
