"""Analysis cohort: overall survival, treatment groups and baseline covariates."""

import numpy as np
import pandas as pd
import pytest

from gistlm.cohort.analysis_cohort import baseline_covariates, build_analysis_cohort, overall_survival
from gistlm.cohort.eligibility import patient_baseline
from gistlm.cohort.groups import assign_groups, first_procedure_after_lm

DPM = 30.4375
PRECEDENCE = [
    {"label": "IM+HR", "treatments": ["hepatic_resection"]},
    {"label": "IM+RFA/TACE", "treatments": ["rfa", "tace"]},
]
CUTOFFS = {"age_years": 60, "lm_count": 3}
T = pd.Timestamp


# --- overall survival --------------------------------------------------------------------


def survival_base(rows):
    frame = pd.DataFrame(
        rows, columns=["patient_id", "lm_diagnosis_date", "vital_status", "last_contact_date", "death_date"]
    ).set_index("patient_id")
    for column in ["lm_diagnosis_date", "last_contact_date", "death_date"]:
        frame[column] = pd.to_datetime(frame[column])
    return frame


def test_os_runs_to_death_or_last_contact_in_months():
    base = survival_base(
        [
            ("alive", "2020-01-01", "alive", "2021-01-01", None),
            ("dead", "2020-01-01", "dead", "2020-07-01", "2020-07-01"),
            ("lost", "2019-05-10", "lost", "2019-08-18", None),
        ]
    )
    os = overall_survival(base, DPM, 200)
    assert os.loc["alive", "os_months"] == pytest.approx(366 / DPM)
    assert os.loc["dead", "os_months"] == pytest.approx(182 / DPM)
    assert os.loc["lost", "os_months"] == pytest.approx(100 / DPM)
    assert os["death"].tolist() == [0, 1, 0]
    assert os["death"].dtype == "int64"


def test_os_is_censored_administratively_at_max_months():
    base = survival_base(
        [
            # dead 6210 days (204.0 months) after LM: alive at 200 months
            ("late_death", "2000-01-01", "dead", "2017-01-01", "2017-01-01"),
            ("long_alive", "2000-01-01", "alive", "2020-01-01", None),
            ("early_death", "2000-01-01", "dead", "2016-01-01", "2016-01-01"),  # 5844 days = 192.0
        ]
    )
    os = overall_survival(base, DPM, 200)
    assert os.loc["late_death", "os_months"] == 200.0
    assert os.loc["late_death", "death"] == 0
    assert os.loc["long_alive", "os_months"] == 200.0
    assert os.loc["long_alive", "death"] == 0
    assert os.loc["early_death", "os_months"] == pytest.approx(5844 / DPM)
    assert os.loc["early_death", "death"] == 1


def test_os_uses_the_configured_month_length_and_horizon():
    base = survival_base([("p", "2020-01-01", "dead", "2020-03-01", "2020-03-01")])  # 60 days
    assert overall_survival(base, 30.0, 200).loc["p", "os_months"] == pytest.approx(2.0)
    capped = overall_survival(base, 30.0, 1.5)
    assert capped.loc["p", "os_months"] == 1.5 and capped.loc["p", "death"] == 0


# --- groups ------------------------------------------------------------------------------


def treatments_frame(rows):
    frame = pd.DataFrame(rows, columns=["patient_id", "treatment", "start_date"])
    frame["start_date"] = pd.to_datetime(frame["start_date"])
    return frame


LM_DATES = pd.Series(
    pd.to_datetime(
        ["2018-01-01", "2018-01-01", "2018-01-01", "2018-01-01", "2018-01-01", "2018-01-01", "2018-01-01", "2018-01-01"]
    ),
    index=pd.Index(["HR", "RFA", "HR_TACE", "TACE_HR", "BEFORE", "NONE", "SAMEDAY", "BEFORE_RFA"], name="patient_id"),
)
TREATMENTS = treatments_frame(
    [
        ("HR", "imatinib", "2018-01-05"),
        ("HR", "hepatic_resection", "2018-06-01"),
        ("RFA", "imatinib", "2018-01-05"),
        ("RFA", "rfa", "2018-04-01"),
        ("HR_TACE", "hepatic_resection", "2018-05-01"),
        ("HR_TACE", "tace", "2019-02-01"),
        ("TACE_HR", "tace", "2018-03-01"),
        ("TACE_HR", "hepatic_resection", "2018-09-01"),
        ("TACE_HR", "hepatic_resection", "2019-09-01"),
        ("BEFORE", "imatinib", "2017-06-01"),
        ("BEFORE", "hepatic_resection", "2017-12-31"),
        ("NONE", "imatinib", "2018-01-05"),
        ("SAMEDAY", "tace", "2018-01-01"),
        ("BEFORE_RFA", "hepatic_resection", "2017-06-01"),
        ("BEFORE_RFA", "rfa", "2018-02-01"),
    ]
)
EXPECTED_GROUPS = {
    "HR": ("IM+HR", "2018-06-01"),
    "RFA": ("IM+RFA/TACE", "2018-04-01"),
    "HR_TACE": ("IM+HR", "2018-05-01"),
    "TACE_HR": ("IM+HR", "2018-09-01"),
    "BEFORE": ("IM", None),
    "NONE": ("IM", None),
    "SAMEDAY": ("IM+RFA/TACE", "2018-01-01"),
    "BEFORE_RFA": ("IM+RFA/TACE", "2018-02-01"),
}


@pytest.mark.parametrize("pid", list(EXPECTED_GROUPS))
def test_group_assignment(pid):
    groups = assign_groups(TREATMENTS, LM_DATES, PRECEDENCE, "IM")
    group, when = EXPECTED_GROUPS[pid]
    assert groups.loc[pid, "group"] == group
    if when is None:
        assert pd.isna(groups.loc[pid, "local_treatment_date"])
    else:
        assert groups.loc[pid, "local_treatment_date"] == T(when)


def test_groups_cover_every_patient_in_lm_order():
    groups = assign_groups(TREATMENTS, LM_DATES, PRECEDENCE, "IM")
    assert list(groups.index) == list(LM_DATES.index)
    assert groups["group"].value_counts().to_dict() == {"IM+HR": 3, "IM+RFA/TACE": 3, "IM": 2}


def test_first_procedure_after_lm_ignores_earlier_ones():
    dates = first_procedure_after_lm(TREATMENTS, LM_DATES, ["hepatic_resection"])
    assert dates["TACE_HR"] == T("2018-09-01")
    assert pd.isna(dates["BEFORE"]) and pd.isna(dates["BEFORE_RFA"]) and pd.isna(dates["RFA"])


# --- the analysis cohort -----------------------------------------------------------------


def test_analysis_cohort_of_the_tiny_extract(tiny_extract, typed_extract, settings):
    tables, _ = typed_extract(tiny_extract)
    cohort = build_analysis_cohort(tables, pd.Series(["P03", "P01", "P02"]), settings)

    assert cohort["patient_id"].tolist() == ["P01", "P02", "P03"]
    assert cohort["group"].tolist() == ["IM", "IM+HR", "IM+RFA/TACE"]
    assert list(cohort["group"].cat.categories) == ["IM", "IM+HR", "IM+RFA/TACE"]
    days = [
        (T("2022-12-01") - T("2016-03-01")).days,
        (T("2021-05-01") - T("2017-06-15")).days,
        (T("2023-01-15") - T("2015-01-10")).days,
    ]
    np.testing.assert_allclose(cohort["os_months"], np.array(days) / DPM)
    assert cohort["death"].tolist() == [0, 1, 0]
    # months from LM diagnosis to the group-defining procedure
    assert np.isnan(cohort.loc[0, "months_to_local_treatment"])
    assert cohort.loc[1, "months_to_local_treatment"] == pytest.approx(169 / DPM)
    assert cohort.loc[2, "months_to_local_treatment"] == pytest.approx(387 / DPM)

    ages = [
        (T("2016-03-01") - T("1955-03-10")).days / 365.25,
        (T("2017-06-15") - T("1970-07-01")).days / 365.25,
        (T("2015-01-10") - T("1962-11-30")).days / 365.25,
    ]
    np.testing.assert_allclose(cohort["age_at_lm_years"], np.round(ages, 2))
    assert cohort["age_over_cutoff"].tolist() == [1.0, 0.0, 0.0]  # 60.98, 46.96, 52.11
    assert cohort["male"].tolist() == [1.0, 0.0, 1.0]
    assert cohort["lm_count"].tolist() == [2.0, 5.0, 1.0]
    assert cohort["lm_count_over_cutoff"].tolist() == [0.0, 1.0, 0.0]
    assert cohort["lm_bilobar"].tolist() == [0.0, 1.0, 0.0]
    assert cohort["extrahepatic_disease"].tolist() == [0.0, 0.0, 1.0]
    assert cohort["imatinib_dose_mg_day"].tolist() == [400.0, 800.0, 400.0]
    assert cohort["ecog"].tolist() == [0.0, 1.0, 0.0]
    assert cohort["total_bilirubin_umol_l"].tolist() == [12.0, 12.0, 12.0]


def test_cohort_holds_only_the_eligible_patients(tiny_extract, typed_extract, settings):
    tables, _ = typed_extract(tiny_extract)
    cohort = build_analysis_cohort(tables, pd.Series(["P02"]), settings)
    assert cohort["patient_id"].tolist() == ["P02"]
    assert cohort["group"].tolist() == ["IM+HR"]


def test_flags_keep_missing_values_missing(make_patient, make_extract, typed_extract):
    frames = make_extract(
        make_patient(
            "A",
            patient={"sex": "", "birth_date": ""},
            lm={"lm_count": "", "lm_bilobar": "", "extrahepatic_disease": "NA"},
        ),
        make_patient(
            "B",
            patient={"sex": "F", "birth_date": "1950-01-01"},
            lm={"lm_diagnosis_date": "2010-01-01", "lm_count": "3", "lm_bilobar": "yes"},
        ),
        make_patient(
            "C", patient={"birth_date": "1950-01-01"}, lm={"lm_diagnosis_date": "2010-01-02", "lm_count": "4"}
        ),
    )
    tables, _ = typed_extract(frames)
    base = patient_baseline(tables)
    covariates = baseline_covariates(base, tables["treatments"], CUTOFFS)

    for column in [
        "age_at_lm_years",
        "age_over_cutoff",
        "male",
        "lm_count",
        "lm_count_over_cutoff",
        "lm_bilobar",
        "extrahepatic_disease",
    ]:
        assert np.isnan(covariates.loc["A", column]), column
        assert covariates[column].dtype == "float64", column
    # B: exactly 60.0 years (21915 days) and 3 lesions: not over the cut-offs;
    # C: one day older than 60 and 4 lesions: over both
    assert covariates.loc["B", "age_at_lm_years"] == 60.0
    assert covariates.loc["B", "age_over_cutoff"] == 0.0
    assert covariates.loc["C", "age_over_cutoff"] == 1.0
    assert covariates.loc["B", "male"] == 0.0 and covariates.loc["C", "male"] == 1.0
    assert covariates.loc["B", "lm_count_over_cutoff"] == 0.0
    assert covariates.loc["C", "lm_count_over_cutoff"] == 1.0
    assert covariates.loc["B", "lm_bilobar"] == 1.0 and covariates.loc["C", "lm_bilobar"] == 0.0


def test_imatinib_dose_is_the_first_line_dose(make_patient, make_extract, typed_extract):
    frames = make_extract(
        make_patient(
            "A",
            treatments=[
                {"line": "2", "start_date": "2017-01-01", "dose_mg_day": "800"},
                {"line": "1", "start_date": "2016-03-10", "dose_mg_day": "400"},
            ],
        )
    )
    tables, _ = typed_extract(frames)
    covariates = baseline_covariates(patient_baseline(tables), tables["treatments"], CUTOFFS)
    assert covariates.loc["A", "imatinib_dose_mg_day"] == 400.0
