"""Tests of the synthetic raw hospital extract (gistlm.synthetic).

The study rules are re-implemented here on purpose, explicitly and independently of the
pipeline, as a check of the generator: the shipped extract must give exactly the published
group sizes and the attrition that truth.json promises.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gistlm import synthetic as sc
from gistlm.cohort.eligibility import STEPS

ROOT = Path(__file__).resolve().parents[1]

DAYS_PER_MONTH = 30.4375
CUTOFF = pd.Timestamp("2023-06-30")
PUBLISHED_10Y = {"IM": 0.611, "IM+HR": 0.919, "IM+RFA/TACE": 0.552}
BRIEF_ATTRITION = {
    "not_gist": 3,
    "no_lm_evidence": 2,
    "ecog_over_limit": 4,
    "inadequate_organ_function": 7,
    "no_imatinib": 4,
    "lm_on_later_line_tki": 3,
    "other_malignancy": 3,
    "no_follow_up": 3,
}
TKIS = {"imatinib", "sunitinib", "regorafenib", "ripretinib", "avapritinib"}


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
def read_extract(folder: Path) -> dict[str, pd.DataFrame]:
    """Read the CSVs as a pipeline would meet them: all text, empty cell = missing."""
    return {name: pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False) for name in sc.TABLES}


def as_text(tables: dict[str, pd.DataFrame], tmp: Path) -> dict[str, pd.DataFrame]:
    sc.write_extract(tables, {}, tmp)
    return read_extract(tmp)


def num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.replace("", np.nan), errors="coerce")


def date(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s.replace("", None), format="%Y-%m-%d")


def rule_failures(t: dict[str, pd.DataFrame], quarantine: set[str] = frozenset()) -> pd.DataFrame:
    """One boolean column per exclusion step (in the study's order), one row per patient."""
    pat = t["patients"].set_index("patient_id")
    lm = t["liver_metastases"].set_index("patient_id").reindex(pat.index)
    fu = t["follow_up"].set_index("patient_id").reindex(pat.index)
    tr = t["treatments"].copy()
    lm_date = date(lm["lm_diagnosis_date"])
    tr["start"] = date(tr["start_date"])
    tr["lm"] = tr["patient_id"].map(lm_date)
    lab_fail = pd.Series(False, index=pat.index)
    for lab, (kind, limit) in sc.LAB_LIMITS.items():
        v = num(lm[lab])  # NaN compares False: a missing lab does not exclude
        lab_fail |= (v > limit) if kind == "max" else (v < limit)
    has_imatinib = set(tr.loc[tr["treatment"] == "imatinib", "patient_id"])
    later = tr[tr["treatment"].isin(TKIS) & (num(tr["line"]) >= 2) & (tr["start"] <= tr["lm"])]
    dead = fu["vital_status"] == "dead"
    ids = pat.index.to_series()
    fails = pd.DataFrame(
        {
            "not_gist": pat["primary_pathology"] != "GIST",
            "no_lm_evidence": ~lm["lm_evidence"].isin(["biopsy", "imaging"]),
            "ecog_over_limit": num(lm["ecog"]) > 1,
            "inadequate_organ_function": lab_fail,
            "no_imatinib": ~ids.isin(has_imatinib),
            "lm_on_later_line_tki": ids.isin(set(later["patient_id"])),
            "other_malignancy": pat["other_malignancy"] == "yes",
            "no_follow_up": ~dead & (date(fu["last_contact_date"]) <= lm_date),
        }
    )
    return fails.drop(index=list(quarantine))


def apply_rules(t: dict[str, pd.DataFrame], quarantine: set[str] = frozenset()) -> dict:
    """The study's exclusion steps in order, grouping and OS derivation."""
    fails = rule_failures(t, quarantine)
    remaining, attrition = fails.index, {}
    for step in fails.columns:
        out = fails.loc[remaining, step].to_numpy()
        attrition[step] = int(out.sum())
        remaining = remaining[~out]

    pat = t["patients"].set_index("patient_id").loc[remaining]
    lm = t["liver_metastases"].set_index("patient_id").loc[remaining]
    fu = t["follow_up"].set_index("patient_id").loc[remaining]
    tr = t["treatments"]
    lm_date = date(lm["lm_diagnosis_date"])
    after = tr[date(tr["start_date"]) > tr["patient_id"].map(lm_date)]
    hr_ids = set(after.loc[after["treatment"] == "hepatic_resection", "patient_id"])
    rt_ids = set(after.loc[after["treatment"].isin(["rfa", "tace"]), "patient_id"])
    group = ["IM+HR" if i in hr_ids else "IM+RFA/TACE" if i in rt_ids else "IM" for i in remaining]
    dead = fu["vital_status"] == "dead"
    end = date(fu["death_date"]).where(dead, date(fu["last_contact_date"]))
    months = (end - lm_date).dt.days / DAYS_PER_MONTH
    age = (lm_date - date(pat["birth_date"])).dt.days / 365.25
    eligible = pd.DataFrame(
        {
            "group": group,
            "time": months.clip(upper=200.0),
            "death": (dead & (months <= 200)).astype(int),
            "age_over_60": (age > 60).astype(int),
            "male": (pat["sex"] == "M").astype(int),
            "extrahepatic_disease": (lm["extrahepatic_disease"] == "yes").astype(int),
            "lm_count_over_3": (num(lm["lm_count"]) > 3).astype(int),
            "lm_bilobar": (lm["lm_bilobar"] == "yes").astype(int),
        },
        index=remaining,
    )
    return {"attrition": attrition, "eligible": eligible}


def check_dates(t: dict[str, pd.DataFrame], quarantine: set[str] = frozenset()) -> None:
    """Date order that must hold for every non-quarantined patient."""
    pat = t["patients"].set_index("patient_id").drop(index=list(quarantine))
    lm = t["liver_metastases"].set_index("patient_id").reindex(pat.index)
    fu = t["follow_up"].set_index("patient_id").reindex(pat.index)
    tr = t["treatments"][~t["treatments"]["patient_id"].isin(quarantine)].copy()
    birth, prim, lmd = date(pat["birth_date"]), date(pat["primary_diagnosis_date"]), date(lm["lm_diagnosis_date"])
    last, death = date(fu["last_contact_date"]), date(fu["death_date"])
    assert (birth < prim).all() and (prim <= lmd).all() and (lmd <= last).all()
    assert (last <= CUTOFF).all()
    assert lmd.between(pd.Timestamp("2002-01-01"), pd.Timestamp("2022-04-30")).all()
    is_dead = fu["vital_status"] == "dead"
    assert set(fu["vital_status"]) <= {"alive", "dead", "lost"}
    assert (death[is_dead] == last[is_dead]).all()
    assert death[~is_dead].isna().all()
    tr["start"], tr["end"] = date(tr["start_date"]), date(tr["end_date"])
    tr["lm"] = tr["patient_id"].map(lmd)
    tr["last"] = tr["patient_id"].map(last)
    assert (tr["start"] <= tr["last"]).all()
    assert (tr["end"].dropna() <= CUTOFF).all()
    proc = tr[tr["treatment"].isin(["hepatic_resection", "rfa", "tace"])]
    assert (proc["start"] > proc["lm"]).all(), "procedures strictly after LM diagnosis"
    assert (proc["start"] <= proc["last"]).all()
    assert (proc["end"] == proc["start"]).all() and (proc["line"] == "").all()
    assert (proc["dose_mg_day"] == "").all()
    tki = tr[tr["treatment"].isin(TKIS)]
    assert (tki["end"].isna() | (tki["start"] <= tki["end"])).all()
    assert (tki["line"] != "").all() and (num(tki["dose_mg_day"]) > 0).all()
    assert not tki.duplicated(["patient_id", "line"]).any(), "a TKI line number is reused"
    # sorted by patient_id, then start_date
    assert tr.equals(tr.sort_values(["patient_id", "start_date"], kind="stable"))


def km_figures(elig: pd.DataFrame) -> dict:
    from lifelines import KaplanMeierFitter

    out = {}
    for g, d in elig.groupby("group"):
        km = KaplanMeierFitter().fit(d["time"], d["death"])
        out[g] = (float(km.survival_function_at_times(120.0).iloc[0]), float(km.median_survival_time_))
    rev = KaplanMeierFitter().fit(elig["time"], 1 - elig["death"])
    out["follow_up"] = float(rev.median_survival_time_)
    return out


# ---------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def default():
    return sc.generate_extract()


@pytest.fixture(scope="module")
def default_text(default, tmp_path_factory):
    folder = tmp_path_factory.mktemp("default")
    sc.write_extract(*default, folder)
    return read_extract(folder), json.loads((folder / "truth.json").read_text())


@pytest.fixture(scope="module")
def natural(tmp_path_factory):
    tables, truth = sc.generate_extract(seed=7, n_patients=20_000)
    return as_text(tables, tmp_path_factory.mktemp("natural")), truth


# ---------------------------------------------------------------------------------------
# determinism and contract
# ---------------------------------------------------------------------------------------
def test_same_seed_gives_identical_tables_and_truth(default):
    tables, truth = sc.generate_extract()
    for name in sc.TABLES:
        pd.testing.assert_frame_equal(tables[name], default[0][name])
    assert json.dumps(truth, sort_keys=True) == json.dumps(default[1], sort_keys=True)


def test_different_seed_gives_different_data(default):
    other, _ = sc.generate_extract(seed=1)
    assert not other["liver_metastases"]["lm_diagnosis_date"].equals(
        default[0]["liver_metastases"]["lm_diagnosis_date"]
    )
    a, _ = sc.generate_extract(seed=1, n_patients=500)
    b, _ = sc.generate_extract(seed=2, n_patients=500)
    assert not a["follow_up"].equals(b["follow_up"])


def test_csv_bytes_are_deterministic(default, tmp_path):
    sc.write_extract(*sc.generate_extract(), tmp_path / "a")
    sc.write_extract(*default, tmp_path / "b")
    for name in [f"{t}.csv" for t in sc.TABLES] + ["truth.json"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_column_contract(default, natural):
    for tables in (default[0], natural[0]):
        for name, cols in sc.TABLE_COLUMNS.items():
            assert list(tables[name].columns) == cols
    t = default[0]
    assert t["patients"]["patient_id"].is_unique
    assert t["patients"]["patient_id"].str.fullmatch(r"P\d{4}").all()
    for name in sc.TABLES:
        assert t[name]["patient_id"].is_monotonic_increasing
    assert len(t["liver_metastases"]) == len(t["follow_up"]) == len(t["patients"])
    assert set(t["treatments"]["treatment"]) <= set(sc.TREATMENTS)


def test_written_values_look_like_an_export(default_text):
    t, _ = default_text
    assert set(t["patients"]["mutation"]) == set(sc.MUTATIONS)
    assert set(t["patients"]["primary_site"]) <= set(sc.PRIMARY_SITES)
    doses = set(t["treatments"]["dose_mg_day"])
    assert {"400", "800", "37.5", ""} <= doses  # no "400.0"
    assert t["treatments"]["line"].isin(["", "1", "2", "3", "4", "5"]).all()
    lab = t["liver_metastases"]["alt_u_l"]
    assert (lab == "").mean() > 0 and lab[lab != ""].str.fullmatch(r"\d+\.\d").all()


# ---------------------------------------------------------------------------------------
# the default (study-sized) extract
# ---------------------------------------------------------------------------------------
def test_default_extract_gives_published_groups_and_known_attrition(default_text):
    t, truth = default_text
    quarantine = {q["patient_id"] for q in truth["quarantine"]}
    res = apply_rules(t, quarantine)
    elig = res["eligible"]
    assert len(elig) == 238
    assert elig["group"].value_counts().to_dict() == {"IM": 126, "IM+HR": 81, "IM+RFA/TACE": 31}
    expected = {a["step"]: a["n_excluded"] for a in truth["expected_attrition"]}
    # the pipeline's step names, in its order: truth.json's attrition reads like attrition.csv
    assert list(expected) == [step for step, _ in STEPS]
    assert res["attrition"] == expected == BRIEF_ATTRITION
    assert len(t["patients"]) == 238 + sum(BRIEF_ATTRITION.values()) + 3
    assert truth["n_by_group"] == {"IM": 126, "IM+HR": 81, "IM+RFA/TACE": 31}


def test_each_ineligible_patient_fails_exactly_one_criterion(default_text):
    t, truth = default_text
    fails = rule_failures(t, {q["patient_id"] for q in truth["quarantine"]})
    per_patient = fails.sum(axis=1)
    assert per_patient.max() == 1
    assert fails.sum().to_dict() == BRIEF_ATTRITION  # so the order of the steps does not matter


def test_malformed_patients_are_the_quarantine_list(default_text):
    t, truth = default_text
    q = {x["defect"]: x["patient_id"] for x in truth["quarantine"]}
    assert set(q) == set(sc.MALFORMED) and truth["n_quarantined"] == 3
    pat = t["patients"].set_index("patient_id")
    lm = t["liver_metastases"].set_index("patient_id")
    fu = t["follow_up"].set_index("patient_id")
    assert (pat["sex"] == "X").sum() == 1 and pat.loc[q["sex_invalid"], "sex"] == "X"
    assert set(pat["sex"]) == {"M", "F", "X"}
    bad_count = num(lm["lm_count"]).isna()
    assert list(lm.index[bad_count]) == [q["lm_count_non_numeric"]]
    assert lm.loc[q["lm_count_non_numeric"], "lm_count"] == "many"
    early = date(fu["death_date"]) < date(lm["lm_diagnosis_date"])
    assert list(fu.index[early]) == [q["death_before_lm_diagnosis"]]
    # ineligible and malformed patients are interleaved, not appended at the end
    positions = [pat.index.get_loc(i) for i in q.values()]
    assert min(positions) < len(pat) - 10


def test_default_dates_are_ordered(default_text):
    t, truth = default_text
    check_dates(t, {q["patient_id"] for q in truth["quarantine"]})


def test_default_has_missing_labs_and_resection_followed_by_rfa(default_text):
    t, truth = default_text
    elig = apply_rules(t, {q["patient_id"] for q in truth["quarantine"]})["eligible"]
    lm = t["liver_metastases"].set_index("patient_id").loc[elig.index]
    assert (lm[list(sc.LABS)] == "").any(axis=1).sum() >= 5
    tr = t["treatments"]
    hr = elig.index[elig["group"] == "IM+HR"]
    rfa_after_hr = tr[tr["patient_id"].isin(hr) & (tr["treatment"] == "rfa")]
    assert 1 <= rfa_after_hr["patient_id"].nunique() <= 20


def test_default_calibration_with_lifelines(default_text):
    lifelines = pytest.importorskip("lifelines")
    t, truth = default_text
    elig = apply_rules(t, {q["patient_id"] for q in truth["quarantine"]})["eligible"]
    fig = km_figures(elig)
    for g, target in PUBLISHED_10Y.items():
        assert abs(fig[g][0] - target) <= 0.06, (g, fig[g])
        assert fig[g][0] == pytest.approx(truth["calibration"]["os_120_months"][g], abs=1e-3)
    assert 115 <= fig["IM"][1] <= 150
    for g in ("IM+HR", "IM+RFA/TACE"):
        assert not np.isfinite(fig[g][1]) or fig[g][1] > 150
    assert 40 <= fig["follow_up"] <= 50
    assert fig["follow_up"] == pytest.approx(truth["calibration"]["median_follow_up_months_reverse_km"], abs=0.01)
    # Multivariable Cox on the fixed (immortal-time-biased) groups
    x = elig.assign(hr=(elig["group"] == "IM+HR").astype(int), rt=(elig["group"] == "IM+RFA/TACE").astype(int)).drop(
        columns="group"
    )
    cph = lifelines.CoxPHFitter().fit(x, "time", "death")
    assert cph.hazard_ratios_["age_over_60"] > 1 and cph.summary.loc["age_over_60", "p"] < 0.05
    assert cph.hazard_ratios_["hr"] < 1
    assert cph.hazard_ratios_["age_over_60"] == pytest.approx(
        truth["calibration"]["cox_fixed_group_breslow"]["age_over_60"]["hr"], rel=0.1
    )


def test_imatinib_starts_soon_after_lm_for_most(default_text):
    t, truth = default_text
    elig = apply_rules(t, {q["patient_id"] for q in truth["quarantine"]})["eligible"]
    tr = t["treatments"]
    im = tr[(tr["treatment"] == "imatinib") & tr["patient_id"].isin(elig.index)].copy()
    lmd = date(t["liver_metastases"].set_index("patient_id")["lm_diagnosis_date"])
    im["delay"] = (date(im["start_date"]) - im["patient_id"].map(lmd)).dt.days
    first_after = im[im["delay"] >= 0].groupby("patient_id")["delay"].min()
    assert len(first_after) == len(elig)  # everybody has imatinib for the metastases
    assert (first_after <= 60).mean() > 0.95


# ---------------------------------------------------------------------------------------
# natural mode
# ---------------------------------------------------------------------------------------
def test_natural_mode_rates_groups_and_truth(natural):
    t, truth = natural
    res = apply_rules(t)
    n = len(t["patients"])
    assert n == 20_000 and truth["n_quarantined"] == 0
    assert 0.05 <= 1 - len(res["eligible"]) / n <= 0.20
    counts = res["eligible"]["group"].value_counts()
    assert set(counts.index) == set(sc.GROUPS) and counts.min() > 1000
    assert res["attrition"] == {a["step"]: a["n_excluded"] for a in truth["expected_attrition"]}
    assert counts.to_dict() == truth["n_by_group"]
    check_dates(t)


def test_natural_mode_covariates_are_realistic(natural):
    t, _ = natural
    elig = apply_rules(t)["eligible"]
    pat = t["patients"].set_index("patient_id").loc[elig.index]
    lm = t["liver_metastases"].set_index("patient_id").loc[elig.index]
    age = (date(lm["lm_diagnosis_date"]) - date(pat["birth_date"])).dt.days / 365.25
    assert 57 <= age.median() <= 63
    assert 0.53 <= (pat["sex"] == "M").mean() <= 0.61
    site = pat["primary_site"].value_counts(normalize=True)
    assert 0.50 <= site["stomach"] <= 0.60 and 0.25 <= site["small_intestine"] <= 0.35
    mut = pat["mutation"].value_counts(normalize=True)
    assert 0.60 <= mut["KIT_exon11"] <= 0.70 and 0.09 <= mut["KIT_exon9"] <= 0.15
    assert 0.03 <= mut["PDGFRA"] <= 0.07 and 0.06 <= mut["wild_type"] <= 0.10
    exon9 = pat["mutation"] == "KIT_exon9"
    assert (pat.loc[exon9, "primary_site"] == "small_intestine").mean() > 0.5
    few = num(lm["lm_count"]) <= 3
    hr = elig["group"] == "IM+HR"
    assert 0.72 <= few[hr].mean() <= 0.86 and 0.22 <= few[~hr].mean() <= 0.38
    # exon-9 patients mostly on 800 mg/day imatinib
    tr = t["treatments"]
    im = tr[(tr["treatment"] == "imatinib") & tr["patient_id"].isin(pat.index[exon9])]
    assert (im["dose_mg_day"] == "800").mean() > 0.5


def test_natural_mode_local_treatment_timing(natural):
    t, _ = natural
    tr = t["treatments"]
    tr = tr.assign(start=date(tr["start_date"]))
    im_start = tr[tr["treatment"] == "imatinib"].groupby("patient_id")["start"].max()
    first_proc = tr[tr["treatment"].isin(["hepatic_resection", "rfa", "tace"])].groupby("patient_id")["start"].min()
    months = ((first_proc - im_start.reindex(first_proc.index)).dt.days / DAYS_PER_MONTH).dropna()
    assert months.between(2.9, 18.1).mean() > 0.98
    assert 5 <= months.median() <= 10
    later = tr[tr["treatment"].isin(["sunitinib", "regorafenib", "ripretinib"])]
    assert later["patient_id"].nunique() > 1000  # a share progress to later lines


def test_natural_mode_calibration_near_targets(natural):
    _, truth = natural
    cal = truth["calibration"]
    for g, target in PUBLISHED_10Y.items():
        assert abs(cal["os_120_months"][g] - target) < 0.08
    assert 38 <= cal["median_follow_up_months_reverse_km"] <= 52
    assert cal["cox_fixed_group_breslow"]["IM+HR"]["hr"] < 1


# ---------------------------------------------------------------------------------------
# sites, formats, CLI, shipped data
# ---------------------------------------------------------------------------------------
def test_sites_split_ids_columns_and_folders(tmp_path):
    tables, truth = sc.generate_extract(seed=3, n_patients=1500, sites=3)
    for name, cols in sc.TABLE_COLUMNS.items():
        assert list(tables[name].columns) == ["site"] + cols
    ids = tables["patients"]["patient_id"]
    assert ids.str.fullmatch(r"S0[1-3]-P\d{6}").all() and ids.is_unique
    assert (ids.str[:3] == tables["patients"]["site"]).all()
    assert set(truth["true_hazard_model"]["site_log_hazard_shift"]) == {"S01", "S02", "S03"}
    assert sum(truth["n_patients_by_site"].values()) == 1500
    sc.write_extract(tables, truth, tmp_path)
    assert (tmp_path / "truth.json").exists()
    total = 0
    for k in (1, 2, 3):
        part = read_extract(tmp_path / f"site_{k:02d}")
        for name, cols in sc.TABLE_COLUMNS.items():
            assert list(part[name].columns) == cols
        assert part["patients"]["patient_id"].str.startswith(f"S{k:02d}-").all()
        total += len(part["patients"])
    assert total == 1500


def test_parquet_output_round_trips(tmp_path):
    tables, truth = sc.generate_extract(seed=5, n_patients=400)
    sc.write_extract(tables, truth, tmp_path, fmt="parquet")
    for name in sc.TABLES:
        back = pd.read_parquet(tmp_path / f"{name}.parquet")
        assert list(back.columns) == sc.TABLE_COLUMNS[name] and len(back) == len(tables[name])
    assert json.loads((tmp_path / "truth.json").read_text())["n_patients_total"] == 400


def test_cli_writes_an_extract(tmp_path):
    assert sc.main(["--patients", "300", "--seed", "11", "--out", str(tmp_path)]) == 0
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["seed"] == 11 and truth["n_patients_total"] == 300
    assert len(read_extract(tmp_path)["patients"]) == 300


def test_cli_refuses_no_sites_or_patients_in_one_message(tmp_path, capsys):
    for arguments in (["--sites", "0"], ["--patients", "0"]):
        with pytest.raises(SystemExit) as stop:
            sc.main([*arguments, "--out", str(tmp_path)])
        assert stop.value.code == 2
        assert "take a whole number of 1 or more" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_shipped_extract_equals_a_fresh_generation(default, tmp_path):
    shipped = ROOT / "resources" / "extract"
    sc.write_extract(*default, tmp_path)
    for name in [f"{t}.csv" for t in sc.TABLES] + ["truth.json"]:
        assert (shipped / name).read_bytes() == (tmp_path / name).read_bytes(), (
            f"resources/extract/{name} drifted from the generator: "
            "regenerate with `PYTHONPATH=src python -m gistlm.synthetic`"
        )


def test_parameters_name_only_the_pipelines_exclusion_steps():
    with pytest.raises(ValueError, match="'ecog_over_1' is neither an exclusion step of gistlm.cohort.eligibility"):
        sc.CohortParameters(ineligible_counts=(("not_gist", 3), ("ecog_over_1", 4)))
    with pytest.raises(ValueError, match="'ast_u_l'"):
        sc.CohortParameters(lab_failure_counts=(("ast_u_l", 1),))
