"""The causal rules in a real run of the workflow: outputs, exact reruns, chunk-independent bootstrap,
release tables without small counts, Snakemake's report."""

import re
import zipfile

import pandas as pd
import pytest
import yaml

from benchmarks.workflow_runs import clone_run, edit_config, planned_rules, snakemake

BOOTSTRAP_RULES = {"bootstrap_chunk", "bootstrap_gather"}
# the report stage may follow the section (once render_report includes it)
ALLOWED_AFTER_BOOTSTRAP = BOOTSTRAP_RULES | {
    "render_causal_section",
    "render_report",
    "gather_provenance",
    "release_tables",
    "disclosure_audit",
    "release_manifest",
}


# count columns of the tables under results/causal/ (everything there may leave the hospital)
RELEASE_COUNTS = {
    "time_varying_cox.csv": ["n", "events", "rows"],
    "landmark_km.csv": ["at_risk", "events", "censored"],
    "landmark_cox.csv": ["n", "events"],
    "landmark_groups.csv": ["n", "events"],
    "ccw_km.csv": ["at_risk", "events"],
    "ccw_cox.csv": ["n", "events", "events_reference"],
    "ccw_weights.csv": ["clones", "rows", "deaths", "artificially_censored"],
    "weights_summary.csv": ["n", "trimmed"],
    "iptw_km.csv": ["at_risk", "events"],
    "iptw_cox.csv": ["n", "events"],
    "landmark_weighted_km.csv": ["at_risk", "events"],
    "landmark_weighted_cox.csv": ["n", "events"],
    "landmark_weighted_groups.csv": ["n", "events"],
}


def read(run, name):
    return pd.read_csv(run / "results" / "causal" / name, keep_default_na=False, na_values=[""])


def test_the_section_compares_every_method_without_identifiers(finished_run):
    html = (finished_run / "results" / "causal" / "section.html").read_text()
    assert "<html" not in html and "<body" not in html
    assert html.count("data:image/png;base64,") == 5
    for method in [
        "naive (groups fixed at LM diagnosis)",
        "time-varying Cox",
        "landmark 6 months",
        "landmark 12 months",
        "entropy balancing (marginal)",
        "GPS-IPTW (marginal)",
        "clone-censor-weight",
        "landmark 6 months, entropy balancing",
        "landmark 12 months, entropy balancing",
        "published-style replication",
        "not interpretable: balance failed",
    ]:
        assert method in html
    assert "Hazard ratio of death for IM+HR vs IM, by method" in html
    ids = pd.read_parquet(finished_run / "results" / "cohort" / "analysis.parquet")["patient_id"]
    assert not any(pid in html for pid in ids)


def between_headings(html: str, heading: str, next_heading: str) -> str:
    """The part of `html` from the heading titled `heading` up to the one titled `next_heading`."""
    start = re.search(rf"<h(\d)[^>]*>{re.escape(heading)}</h\1>", html)
    end = re.search(rf"<h(\d)[^>]*>{re.escape(next_heading)}</h\1>", html)
    assert start and end and start.end() <= end.start(), f"no heading {heading!r} followed by {next_heading!r}"
    return html[start.end() : end.start()]


def test_the_section_names_covariates_by_the_data_dictionary(finished_run):
    """Issue 11: the causal tables and text use the labels of Table 1, the Cox tables and the Love plot."""
    section = (finished_run / "results" / "causal" / "section.html").read_text()
    time_varying = between_headings(section, "Time-varying Cox model", "Landmark analyses")
    assert '<td class="l">Male vs Female</td>' in time_varying
    assert '<td class="l">Age &gt; 60 years vs Age ≤ 60 years</td>' in time_varying
    assert "adjusting for Age &gt; 60 years, Male, Extrahepatic disease" in time_varying
    for column in ["age_over_cutoff", "lm_count_over_cutoff", "extrahepatic_disease", "lm_bilobar"]:
        assert column not in time_varying


def test_every_method_has_a_hazard_ratio_and_only_interpretable_ones_e_values(finished_run):
    table = read(finished_run, "e_values.csv")
    headline = table[table["term"] == "IM+HR vs IM"].set_index("method")
    assert len(headline) == 8  # no landmark-weighted estimate at 6 months: its groups cannot be balanced
    assert headline[["hr", "ci_lower", "ci_upper"]].notna().all().all()
    assert headline["handles"].to_dict() == {
        "naive (groups fixed at LM diagnosis)": "neither",
        "time-varying Cox": "immortal time",
        "landmark 6 months": "immortal time",
        "landmark 12 months": "immortal time",
        "entropy balancing (marginal)": "measured confounding",
        "GPS-IPTW (marginal)": "measured confounding",
        "clone-censor-weight": "both",
        "landmark 12 months, entropy balancing": "both",
    }
    assert headline.loc["naive (groups fixed at LM diagnosis)", "role"] == "published-style replication"
    assert (headline.loc[headline["handles"] == "both", "role"] == "primary").all()
    # GPS-IPTW leaves covariates imbalanced: gated, without E-values
    gps = headline.loc["GPS-IPTW (marginal)"]
    assert not gps["interpretable"] and gps["reason"].startswith("balance failed (largest weighted |SMD|")
    # IM+HR has 4 deaths, below the default limit of 5: gated wherever deaths are counted
    assert "fewer than 5 deaths in IM+HR" in headline.loc["entropy balancing (marginal)", "reason"]
    gated = ~table["interpretable"]
    assert gated.any() and table.loc[gated, ["e_value", "e_value_ci"]].isna().all().all()
    assert table.loc[~gated, ["e_value", "e_value_ci"]].notna().all().all()
    assert (table.loc[gated, "reason"].str.len() > 0).all()


def test_the_unweighted_comparisons_are_gated_by_their_deaths_counted_by_hand(finished_run):
    """unweighted_diagnostics counts the deaths per compared group of the unweighted
    analyses (written to results/cohort/: its sizes are unsuppressed counts), and e_values
    gates those analyses by it."""
    cohort = pd.read_parquet(finished_run / "results" / "cohort" / "analysis.parquet")
    gates = pd.read_csv(finished_run / "results" / "cohort" / "unweighted_diagnostics.csv").fillna({"reason": ""})
    assert not (finished_run / "results" / "causal" / "unweighted_diagnostics.csv").exists()
    assert sorted(set(gates["method"])) == [
        "landmark 12 months",
        "landmark 6 months",
        "naive (groups fixed at LM diagnosis)",
        "time-varying Cox",
    ]
    naive = gates[gates["method"] == "naive (groups fixed at LM diagnosis)"].set_index("term")
    deaths = cohort.groupby("group", observed=True)["death"].sum()
    sizes = cohort["group"].value_counts()
    for treated in ["IM+HR", "IM+RFA/TACE"]:
        row = naive.loc[f"{treated} vs IM"]
        assert (row["ess_treated"], row["ess_reference"]) == (sizes[treated], sizes["IM"])
        few = [group for group in (treated, "IM") if deaths[group] < 5]  # causal.diagnostics.min_events
        assert row["interpretable"] == (not few)
        assert row["reason"] == "; ".join(f"fewer than 5 deaths in {group}" for group in few)
    assert naive.loc["IM+HR vs IM", "reason"] == "fewer than 5 deaths in IM+HR"  # 4 deaths
    table = read(finished_run, "e_values.csv").merge(gates, on=["method", "term"], suffixes=("", "_gate"))
    assert len(table) == len(gates) == 8
    assert table["interpretable"].tolist() == table["interpretable_gate"].tolist()


def test_entropy_balancing_balances_every_pair_and_reports_the_effective_sample_size(finished_run):
    verdict = read(finished_run, "balance_verdict.csv").set_index(["weighting", "comparison"])
    assert len(verdict) == 6
    balanced = verdict.loc["entropy balancing"]
    assert (balanced["max_abs_smd_weighted"] < 0.01).all() and balanced["passed"].all()
    assert (balanced["max_abs_smd_unweighted"] > 0.1).any()
    assert not verdict.loc["GPS-IPTW", "passed"].any()  # issue 12: 0.15-0.24 after GPS-IPTW
    summary = read(finished_run, "weights_summary.csv")
    groups = summary[summary["weighting"] == "entropy balancing"].set_index("group")
    assert set(groups.index) == {"IM", "IM+HR", "IM+RFA/TACE", "All"}
    n = pd.to_numeric(groups["n"])
    assert ((groups["ess"] > 0) & (groups["ess"] <= n)).all()
    assert groups.loc["IM+HR", "sum"] == pytest.approx(n["IM+HR"])  # each group keeps its size


def test_bootstrap_reports_sparse_events_instead_of_a_degenerate_interval(finished_run):
    intervals = read(finished_run, "bootstrap_ci.csv")
    assert (intervals["replicates"] == 1000).all()
    hr = intervals[intervals["quantity"] == "hazard_ratio"].set_index(["weighting", "term"])
    iptw = read(finished_run, "iptw_cox.csv").set_index(["model", "term"])
    for weighting in ["entropy balancing", "GPS-IPTW"]:
        assert hr.loc[(weighting, "IM+HR vs IM"), "estimate"] == pytest.approx(
            iptw.loc[(weighting, "IM+HR vs IM"), "hr"], rel=1e-4
        )
    gps = hr.loc[("GPS-IPTW", "IM+HR vs IM")]
    assert "no death in IM+HR: 18" in gps["degenerate_reasons"]  # 18 of 1000 resamples, as issue 12 found
    assert gps["ci_status"].startswith("not estimable: ") and pd.isna(gps["ci_lower"])
    estimable = intervals["ci_status"].isna()
    assert (intervals.loc[estimable, "degenerate"] <= 10).all()
    assert intervals.loc[estimable, ["ci_lower", "ci_upper"]].notna().all().all()


def test_landmark_weighted_analyses_report_balance_and_groups(finished_run):
    groups = read(finished_run, "landmark_weighted_groups.csv")
    assert set(groups["landmark_months"]) == {6, 12}
    diagnostics = read(finished_run, "landmark_weighted_diagnostics.csv")
    assert set(diagnostics["method"]) == {
        "landmark 6 months, entropy balancing",
        "landmark 12 months, entropy balancing",
    }
    cox = read(finished_run, "landmark_weighted_cox.csv")
    balance = read(finished_run, "landmark_weighted_balance.csv")
    for landmark in cox["landmark_months"].unique():  # every landmark with weights is balanced
        assert (balance.loc[balance["landmark_months"] == landmark, "smd_weighted"].abs() < 0.01).all()
    # a landmark without weights is reported, with the reason, not dropped
    unweighted = set(diagnostics["landmark_months"]) - set(cox["landmark_months"])
    for landmark in unweighted:
        rows = diagnostics[diagnostics["landmark_months"] == landmark]
        assert rows["reason"].str.startswith("weighting failed: ").all()


def test_changing_only_the_replicate_count_reruns_only_the_bootstrap_and_the_report(finished_run, tmp_path):
    run = clone_run(finished_run, tmp_path / "run")
    edit_config(run, lambda config: config["causal"]["bootstrap"].update(replicates=500))
    planned = planned_rules(run)
    assert planned <= ALLOWED_AFTER_BOOTSTRAP, planned - ALLOWED_AFTER_BOOTSTRAP
    assert planned >= BOOTSTRAP_RULES | {"render_causal_section"}


def test_bootstrap_results_do_not_depend_on_the_number_of_chunks(finished_run, tmp_path):
    run = clone_run(finished_run, tmp_path / "run")
    chunks = yaml.safe_load((run / "config" / "config.yaml").read_text())["causal"]["bootstrap"]["chunks"]
    edit_config(run, lambda config: config["causal"]["bootstrap"].update(chunks=chunks + 1))
    assert planned_rules(run) <= ALLOWED_AFTER_BOOTSTRAP
    snakemake(run)
    assert (run / "results" / "causal" / "bootstrap" / f"chunk_{chunks}.csv").exists()
    pd.testing.assert_frame_equal(read(run, "bootstrap_ci.csv"), read(finished_run, "bootstrap_ci.csv"))


def test_release_tables_hide_small_counts_and_hold_no_patient_rows(finished_run):
    minimum = yaml.safe_load((finished_run / "config" / "config.yaml").read_text())["privacy"]["min_cell_count"]
    hidden = {f"<{minimum}", "suppressed"}
    for path in (finished_run / "results" / "causal").rglob("*.csv"):
        assert "patient_id" not in pd.read_csv(path, nrows=0).columns, path
    for name in ["treatment_dates.csv", "start_stop.csv", "propensity_scores.csv"]:  # patient-level: stay inside
        assert "patient_id" in pd.read_csv(finished_run / "results" / "cohort" / name, nrows=0).columns
    small = 0
    for name, columns in RELEASE_COUNTS.items():
        table = read(finished_run, name).astype({column: str for column in RELEASE_COUNTS[name]})
        for column in columns:
            numbers = pd.to_numeric(table[column], errors="coerce")
            assert (table[column].isin(hidden) | (numbers == 0) | (numbers >= minimum)).all(), (name, column)
            small += int((table[column] == f"<{minimum}").sum())
    assert small > 0  # the shipped cohort has small cells (e.g. deaths in IM+HR at a landmark)
    # at a landmark the groups and the excluded add up to the cohort: never one hidden count alone
    for _, rows in read(finished_run, "landmark_groups.csv").groupby("landmark_months"):
        for column in ["n", "events"]:
            values = rows[column].astype(str)
            assert (values == f"<{minimum}").sum() != 1 or (values == "suppressed").any(), rows


def test_snakemake_report_has_the_causal_tables_and_figures(finished_run, tmp_path):
    run = clone_run(finished_run, tmp_path / "run")
    snakemake(run, "--report", "results/snakemake-report.zip")
    with zipfile.ZipFile(run / "results" / "snakemake-report.zip") as archive:
        names = archive.namelist()
    for expected in [
        "e_values.csv",
        "rmst.csv",
        "time_varying_cox.csv",
        "landmark_cox.csv",
        "ccw_cox.csv",
        "iptw_cox.csv",
        "balance_verdict.csv",
        "bootstrap_ci.csv",
        "landmark_weighted_cox.csv",
        "love.png",
        "overlap.png",
        "landmark_km.png",
        "iptw_km.png",
        "ccw_km.png",
    ]:
        assert any(name.endswith(f"/{expected}") for name in names), expected
    assert not any(name.endswith("propensity_scores.csv") or name.endswith("treatment_dates.csv") for name in names)
