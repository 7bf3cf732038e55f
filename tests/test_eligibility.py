"""Eligibility: each criterion excludes at its own step, the first failed step wins, and the
attrition table adds up.

Every patient below is the default eligible patient of conftest (LM diagnosed 2016-03-01,
imatinib line 1 from 2016-03-10, alive at 2022-12-01) changed in one respect.
"""

import pandas as pd
import pytest

from gistlm.cohort.eligibility import (
    STEPS,
    apply_criteria,
    attrition,
    exclusion_values,
    patient_baseline,
    release_exclusion_values,
)
from gistlm.extract.errors import ExtractError

# patient id -> (overrides of patient_rows, expected step or None when eligible)
CASES = {
    "E00": ({}, None),
    "E01": ({"patient": {"primary_pathology": "leiomyosarcoma"}}, "not_gist"),
    "E02": ({"lm": {"lm_evidence": "none"}}, "no_lm_evidence"),
    "E03": ({"lm": {"ecog": "2"}}, "ecog_over_limit"),
    "E04": ({"lm": {"total_bilirubin_umol_l": "40"}}, "inadequate_organ_function"),
    "E05": ({"lm": {"total_bilirubin_umol_l": "", "platelets_1e9_l": "NA", "ecog": ""}}, None),
    "E06": ({"treatments": [{"treatment": "sunitinib", "dose_mg_day": "50"}]}, "no_imatinib"),
    "E07": (
        {
            "treatments": [
                {"start_date": "2015-01-10", "end_date": "2015-12-01"},
                {"treatment": "sunitinib", "line": "2", "start_date": "2015-12-10", "dose_mg_day": "37.5"},
            ]
        },
        "lm_on_later_line_tki",
    ),
    "E08": (
        {
            "treatments": [
                {},
                {"treatment": "sunitinib", "line": "2", "start_date": "2018-01-02", "dose_mg_day": "37.5"},
            ]
        },
        None,
    ),
    "E09": ({"patient": {"other_malignancy": "yes"}}, "other_malignancy"),
    "E10": ({"follow_up": {"last_contact_date": "2016-03-01"}}, "no_follow_up"),
    # boundaries: exactly at the limit is fine; dead on the LM day has follow-up
    "E11": ({"lm": {"ecog": "1", "total_bilirubin_umol_l": "31.5", "neutrophils_1e9_l": "1.5"}}, None),
    "E12": (
        {"follow_up": {"last_contact_date": "2016-03-01", "vital_status": "dead", "death_date": "2016-03-01"}},
        None,
    ),
    "E13": ({"lm": {"neutrophils_1e9_l": "1.2", "alt_u_l": "250"}}, "inadequate_organ_function"),
    # a sunitinib line 2 started on the LM day counts as "on a later line"
    "E14": (
        {
            "treatments": [
                {"start_date": "2015-01-10", "end_date": "2016-02-01"},
                {"treatment": "sunitinib", "line": "2", "start_date": "2016-03-01", "dose_mg_day": "37.5"},
            ]
        },
        "lm_on_later_line_tki",
    ),
    # failing two criteria: excluded at the earlier step only
    "E15": (
        {"patient": {"primary_pathology": "adenocarcinoma", "other_malignancy": "yes"}, "lm": {"ecog": "3"}},
        "not_gist",
    ),
    "E16": ({"lm": {"ecog": "2", "alt_u_l": "500"}}, "ecog_over_limit"),
}


@pytest.fixture(scope="module")
def verdicts(make_patient, make_extract, typed_extract, default_rules):
    frames = make_extract(*(make_patient(pid, **overrides) for pid, (overrides, _) in CASES.items()))
    tables, _ = typed_extract(frames)
    return apply_criteria(tables, default_rules).set_index("patient_id")


def test_every_patient_gets_one_verdict_sorted_by_id(verdicts):
    assert list(verdicts.index) == sorted(CASES)
    assert list(verdicts.columns) == ["eligible", "step", "reason"]


@pytest.mark.parametrize("pid", list(CASES))
def test_patient_is_excluded_at_the_expected_step(verdicts, pid):
    expected = CASES[pid][1]
    verdict = verdicts.loc[pid]
    if expected is None:
        assert bool(verdict["eligible"]) is True
        assert pd.isna(verdict["step"]) and pd.isna(verdict["reason"])
    else:
        assert bool(verdict["eligible"]) is False
        assert verdict["step"] == expected
        assert verdict["reason"].startswith(dict(STEPS)[expected])


def test_organ_function_reason_names_the_failing_labs(verdicts):
    assert verdicts.loc["E04", "reason"] == (
        "liver, haematologic or renal function outside the limits: total_bilirubin_umol_l"
    )
    assert verdicts.loc["E13", "reason"] == (
        "liver, haematologic or renal function outside the limits: alt_u_l, neutrophils_1e9_l"
    )
    # other steps keep their plain reason
    assert verdicts.loc["E16", "reason"] == "ECOG performance status above the limit"


def test_thresholds_come_from_the_rules(make_patient, make_extract, typed_extract, rules):
    frames = make_extract(
        make_patient("A", lm={"ecog": "2"}),
        make_patient("B", lm={"total_bilirubin_umol_l": "40"}),
        make_patient("C", patient={"primary_pathology": " gist "}),
    )
    tables, _ = typed_extract(frames)
    rules["max_ecog"] = 2
    rules["labs"]["total_bilirubin_umol_l"] = {"max": 50}
    verdicts = apply_criteria(tables, rules)
    assert verdicts["eligible"].tolist() == [True, True, True]


def test_criteria_alone_still_judge_a_patient_without_lm_or_follow_up_record(
    make_patient, make_extract, typed_extract, rules
):
    # in the workflow validation quarantines such patients first (missing data); the
    # criteria must nonetheless give them a verdict rather than fail
    frames = make_extract(make_patient("N1", lm=False), make_patient("N2", follow_up=False))
    tables, _ = typed_extract(frames)
    verdicts = apply_criteria(tables, rules).set_index("patient_id")
    assert verdicts.loc["N1", "step"] == "no_lm_evidence"
    assert verdicts.loc["N2", "step"] == "no_follow_up"


def test_attrition_counts_add_up(verdicts):
    table = attrition(verdicts.reset_index(), quarantined=4)
    steps = [step for step, _ in STEPS]
    assert table["step"].tolist() == ["raw extract", "quarantine", *steps, "analysis cohort"]
    counts = table.set_index("step")
    expected = pd.Series([CASES[pid][1] for pid in CASES]).value_counts()
    for step in steps:
        assert counts.loc[step, "excluded"] == expected.get(step, 0)
    n_eligible = sum(1 for _, step in CASES.values() if step is None)
    assert counts.loc["raw extract", "remaining"] == len(CASES) + 4
    assert counts.loc["quarantine", "excluded"] == 4
    assert counts.loc["quarantine", "remaining"] == len(CASES)
    assert counts.loc["analysis cohort", "remaining"] == n_eligible == 5
    # raw = quarantined + sum of exclusions + analysed
    assert counts.loc["raw extract", "remaining"] == (
        counts["excluded"].sum() + counts.loc["analysis cohort", "remaining"]
    )
    # each step removes exactly its exclusions; remaining never grows
    remaining = table["remaining"].tolist()
    assert all(later <= earlier for earlier, later in zip(remaining, remaining[1:]))
    for i in range(1, len(table) - 1):
        assert remaining[i - 1] - remaining[i] == table.loc[i, "excluded"]


HISTOLOGIES = ["GIST", " gist ", "GIST (high risk)", "gastrointestinal stromal tumour", "leiomyosarcoma", "GIST-like"]


@pytest.mark.parametrize(
    "accepted, eligible",
    [
        ("GIST", [True, True, False, False, False, False]),
        (["GIST", "GIST (high risk)"], [True, True, True, False, False, False]),
        (
            ["gist", {"pattern": r"GIST \(.*\)"}, "Gastrointestinal stromal tumour"],
            [True, True, True, True, False, False],
        ),
        ([{"pattern": "gist.*"}], [True, True, True, False, False, True]),
    ],
)
def test_histology_accepts_values_and_patterns(make_patient, make_extract, typed_extract, rules, accepted, eligible):
    frames = make_extract(
        *(make_patient(f"H{i}", patient={"primary_pathology": text}) for i, text in enumerate(HISTOLOGIES))
    )
    tables, _ = typed_extract(frames)
    rules["histology"] = accepted
    assert apply_criteria(tables, rules)["eligible"].tolist() == eligible


def test_an_invalid_histology_pattern_names_the_config_key(make_patient, make_extract, typed_extract, rules):
    tables, _ = typed_extract(make_extract(make_patient("A")))
    rules["histology"] = [{"pattern": "GIST ("}]
    with pytest.raises(ExtractError, match=r"^config eligibility.histology: pattern 'GIST \(' is not a regular"):
        apply_criteria(tables, rules)


def test_every_value_that_excluded_a_patient_is_listed_with_its_count(
    make_patient, make_extract, typed_extract, default_rules
):
    texts = ["GIST (high risk)"] * 6 + ["leiomyosarcoma"] * 2 + ["GIST"]
    patients = [make_patient(f"X{i}", patient={"primary_pathology": text}) for i, text in enumerate(texts)]
    patients.append(make_patient("Y", lm={"lm_evidence": "none"}))
    tables, _ = typed_extract(make_extract(*patients))
    verdicts = apply_criteria(tables, default_rules)
    values = exclusion_values(tables, verdicts)
    assert values.to_dict("records") == [
        {"step": "not_gist", "column": "primary_pathology", "value": "GIST (high risk)", "patients": 6},
        {"step": "not_gist", "column": "primary_pathology", "value": "leiomyosarcoma", "patients": 2},
        {"step": "no_lm_evidence", "column": "lm_evidence", "value": "none", "patients": 1},
    ]
    released = release_exclusion_values(values, 5)
    # 2 is hidden; 6 too, or 8 excluded as not GIST (attrition) minus 6 would give it away
    assert released["patients"].tolist() == ["suppressed", "<5", "<5"]


def test_the_baseline_of_some_columns_is_those_columns_of_the_whole_baseline(make_patient, make_extract, typed_extract):
    patients = [make_patient("A"), make_patient("B", lm={"lm_evidence": "none"}), make_patient("C", follow_up=False)]
    tables, _ = typed_extract(make_extract(*patients))
    whole = patient_baseline(tables)
    assert whole.shape == (3, len(whole.columns)) and "vital_status" in whole
    for columns in (["primary_pathology"], ["lm_evidence", "primary_pathology"], ["ecog", "vital_status"]):
        some = patient_baseline(tables, columns)
        pd.testing.assert_frame_equal(some, whole[[column for column in whole if column in columns]])


def test_the_baseline_aligns_each_patients_rows_as_a_left_join_would(make_patient, make_extract, typed_extract):
    # B has no follow-up row, C no LM row, and the tables list the patients in other orders
    patients = [make_patient("A"), make_patient("B", follow_up=False), make_patient("C", lm=False), make_patient("D")]
    tables, _ = typed_extract(make_extract(*patients))
    tables["liver_metastases"] = tables["liver_metastases"].iloc[::-1]
    tables["follow_up"] = tables["follow_up"].sample(frac=1, random_state=1)
    joined = tables["patients"].drop(columns="source_row")
    for name in ["liver_metastases", "follow_up"]:
        joined = joined.merge(tables[name].drop(columns="source_row"), on="patient_id", how="left")
    baseline = patient_baseline(tables)
    pd.testing.assert_frame_equal(baseline, joined.set_index("patient_id"))
    assert baseline.loc["B", "vital_status"] != baseline.loc["B", "vital_status"]  # missing: NaN
    assert (
        baseline.loc["A", "lm_evidence"] == tables["liver_metastases"].set_index("patient_id").loc["A", "lm_evidence"]
    )


@pytest.mark.parametrize(
    "histology, valid",
    [
        ("GIST", True),
        (["GIST", {"pattern": r"GIST \(.*\)"}], True),
        (["GIST", {"patern": "GIST.*"}], False),
        ([], False),
    ],
)
def test_the_config_schema_takes_one_histology_or_a_list_of_values_and_patterns(histology, valid):
    import copy
    from pathlib import Path

    import yaml
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    repo = Path(__file__).resolve().parents[1]
    config = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    config = copy.deepcopy(config)
    config["eligibility"]["histology"] = histology
    if valid:
        validate(config, str(repo / "config" / "schema.yaml"))
    else:
        with pytest.raises(WorkflowError):
            validate(config, str(repo / "config" / "schema.yaml"))
