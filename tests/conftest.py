"""Shared builders of tiny hand-made hospital extracts (raw text, as a CSV export holds them).

`tiny_extract` is a valid, fully eligible 3-patient extract, one patient per group:

- P01: imatinib only                                  -> IM
- P02: imatinib, hepatic resection after LM, dead     -> IM+HR
- P03: imatinib, sunitinib (line 2 after LM), RFA     -> IM+RFA/TACE

Row numbers in every table are file rows (header = row 1), so P01's patients row is 2.
Treatments rows: 2 P01 imatinib, 3 P02 imatinib, 4 P02 hepatic_resection,
5 P03 imatinib, 6 P03 sunitinib, 7 P03 rfa.
"""

import copy
import pickle

import numpy as np
import pandas as pd
import pytest
from study_config import CONFIG

from gistlm.extract.ingestion import type_raw_table
from gistlm.extract.schema import column_types

TABLES = ["patients", "liver_metastases", "treatments", "follow_up"]
# the hand-made extracts below are built to pass the configuration's rules
TODAY = pd.Timestamp(CONFIG["validation"]["latest_date"])
RULES = CONFIG["eligibility"]
SETTINGS = {key: CONFIG[key] for key in ["groups", "outcome", "covariate_cutoffs"]}

# One eligible patient (group IM) with every column filled in; overrides change it.
DEFAULT_PATIENT = {
    "sex": "M",
    "birth_date": "1955-03-10",
    "primary_site": "stomach",
    "primary_diagnosis_date": "2015-01-15",
    "primary_pathology": "GIST",
    "primary_size_cm": "6.5",
    "mitotic_count": "8",
    "mutation": "KIT_exon11",
    "other_malignancy": "no",
}
DEFAULT_LM = {
    "lm_diagnosis_date": "2016-03-01",
    "lm_evidence": "biopsy",
    "lm_count": "2",
    "lm_max_size_cm": "3.5",
    "lm_bilobar": "no",
    "extrahepatic_disease": "no",
    "ecog": "0",
    "total_bilirubin_umol_l": "12.0",
    "alt_u_l": "30",
    "creatinine_umol_l": "70",
    "neutrophils_1e9_l": "3.5",
    "platelets_1e9_l": "220",
    "hemoglobin_g_l": "130",
}
DEFAULT_TREATMENTS = [
    {"treatment": "imatinib", "line": "1", "start_date": "2016-03-10", "end_date": "", "dose_mg_day": "400"},
]
DEFAULT_FOLLOW_UP = {"last_contact_date": "2022-12-01", "vital_status": "alive", "death_date": ""}


def patient_rows(pid, patient=None, lm=None, treatments=None, follow_up=None):
    """Raw rows of one patient per table: the default eligible IM patient, with overrides.

    `treatments` replaces the whole list of treatment rows (each row a dict of overrides of
    an imatinib line-1 row); `lm=False` / `follow_up=False` leave that table without a row.
    """
    rows = {name: [] for name in TABLES}
    rows["patients"].append({"patient_id": pid, **DEFAULT_PATIENT, **(patient or {})})
    if lm is not False:
        rows["liver_metastases"].append({"patient_id": pid, **DEFAULT_LM, **(lm or {})})
    for row in DEFAULT_TREATMENTS if treatments is None else treatments:
        rows["treatments"].append({"patient_id": pid, **DEFAULT_TREATMENTS[0], **row})
    if follow_up is not False:
        rows["follow_up"].append({"patient_id": pid, **DEFAULT_FOLLOW_UP, **(follow_up or {})})
    return rows


def build_extract(*patients):
    """Raw text frames (contract columns, no source_row) from several `patient_rows`."""
    frames = {}
    for name in TABLES:
        rows = [row for patient in patients for row in patient[name]]
        frames[name] = pd.DataFrame(copy.deepcopy(rows), columns=list(column_types(name)), dtype=object)
    return frames


def with_source_rows(frame):
    """What read_raw_table returns: the text cells plus `source_row` (header = row 1)."""
    raw = frame.reset_index(drop=True).copy()
    raw.insert(0, "source_row", np.arange(2, len(raw) + 2))
    return raw


# Typing is a pure function of a table's text, and most tests change one table of the same tiny
# extract (or none): each distinct table is typed once per session, callers get fresh copies.
_TYPED = {}


def type_extract(frames):
    """Typed tables and conversion logs, exactly as ingestion would produce them."""
    tables, conversions = {}, {}
    for name, frame in frames.items():
        key = (name, pickle.dumps(frame))  # equal bytes only for equal cells (None, NaN and "" differ)
        if key not in _TYPED:
            _TYPED[key] = type_raw_table(with_source_rows(frame), name)
        tables[name], conversions[name] = (result.copy(deep=True) for result in _TYPED[key])
    return tables, conversions


def tiny_extract_frames():
    return build_extract(
        patient_rows("P01"),
        patient_rows(
            "P02",
            patient={
                "sex": "F",
                "birth_date": "1970-07-01",
                "primary_site": "small_intestine",
                "primary_diagnosis_date": "2016-05-20",
                "primary_size_cm": "10",
                "mitotic_count": "12",
                "mutation": "KIT_exon9",
            },
            lm={
                "lm_diagnosis_date": "2017-06-15",
                "lm_evidence": "imaging",
                "lm_count": "5",
                "lm_max_size_cm": "6.0",
                "lm_bilobar": "yes",
                "ecog": "1",
            },
            treatments=[
                {"start_date": "2017-06-20", "dose_mg_day": "800"},
                {"treatment": "hepatic_resection", "line": "", "start_date": "2017-12-01", "dose_mg_day": ""},
            ],
            follow_up={"last_contact_date": "2021-05-01", "vital_status": "dead", "death_date": "2021-05-01"},
        ),
        patient_rows(
            "P03",
            patient={
                "birth_date": "1962-11-30",
                "primary_diagnosis_date": "2014-02-01",
                "primary_size_cm": "4",
                "mitotic_count": "3",
                "mutation": "PDGFRA",
            },
            lm={
                "lm_diagnosis_date": "2015-01-10",
                "lm_evidence": "imaging",
                "lm_count": "1",
                "lm_max_size_cm": "2.0",
                "extrahepatic_disease": "yes",
            },
            treatments=[
                {"start_date": "2015-01-20", "end_date": "2018-01-01"},
                {"treatment": "sunitinib", "line": "2", "start_date": "2018-01-02", "dose_mg_day": "37.5"},
                {"treatment": "rfa", "line": "", "start_date": "2016-02-01", "dose_mg_day": ""},
            ],
            follow_up={"last_contact_date": "2023-01-15"},
        ),
    )


GROUPS = SETTINGS["groups"]["labels"]


def three_group_cohort(seed, n, treatment_utility, resection_log_hr, tied_times=False, procedure_months=False):
    """A seeded analysis cohort of the three groups whose covariate mix differs.

    Binary age and LM-count indicators and a continuous `size`; `treatment_utility(age, count, size)`
    gives the multinomial utilities of IM+HR and IM+RFA/TACE (IM = 0); the hazard rises with age
    and count and resection multiplies it by exp(`resection_log_hr`); censoring is uniform on
    10-120 months. `tied_times` puts the times on a 0.1-month grid (ties); `procedure_months` adds
    each treated patient's months to its procedure (1-15).
    """
    rng = np.random.default_rng(seed)
    age = rng.integers(0, 2, n).astype(float)
    count = rng.integers(0, 2, n).astype(float)
    size = np.round(rng.lognormal(1.3, 0.5, n), 1)
    utility = np.column_stack([np.zeros(n), *treatment_utility(age, count, size)])
    probability = np.exp(utility) / np.exp(utility).sum(axis=1, keepdims=True)
    group = np.array([rng.choice(3, p=row) for row in probability])
    hazard = 0.01 * np.exp(0.8 * age + 0.6 * count + resection_log_hr * (group == 1))
    death_time, censor_time = rng.exponential(1 / hazard), rng.uniform(10, 120, n)
    months = np.minimum(death_time, censor_time)
    cohort = pd.DataFrame(
        {
            "patient_id": [f"P{i:03d}" for i in range(n)],
            "group": pd.Categorical(np.array(GROUPS)[group], categories=GROUPS),
            "os_months": np.round(months, 1) + 0.1 if tied_times else months,
            "death": (death_time <= censor_time).astype("int64"),
            "age_over_cutoff": age,
            "lm_count_over_cutoff": count,
            "size": size,
        }
    )
    if procedure_months:
        cohort["months_to_IM+HR"] = np.where(group == 1, rng.uniform(1, 15, n), np.nan)
        cohort["months_to_IM+RFA/TACE"] = np.where(group == 2, rng.uniform(1, 15, n), np.nan)
    return cohort


@pytest.fixture(scope="session")
def make_three_group_cohort():
    return three_group_cohort


@pytest.fixture
def tiny_extract():
    """A fresh valid 3-patient raw extract: {table: DataFrame of text cells}."""
    return tiny_extract_frames()


@pytest.fixture(scope="session")
def make_patient():
    return patient_rows


@pytest.fixture(scope="session")
def make_extract():
    return build_extract


@pytest.fixture(scope="session")
def typed_extract():
    """The function turning raw text frames into (typed tables, conversion logs)."""
    return type_extract


@pytest.fixture(scope="session")
def write_csv_extract():
    """Write raw text frames as CSV files in a directory; returns {table: path}."""

    def write(frames, directory, encoding="utf-8"):
        paths = {}
        for name, frame in frames.items():
            paths[name] = directory / f"{name}.csv"
            frame.to_csv(paths[name], index=False, encoding=encoding)
        return paths

    return write


@pytest.fixture
def rules():
    """The config's eligibility rules, a fresh copy a test may change."""
    return copy.deepcopy(RULES)


@pytest.fixture(scope="session")
def default_rules():
    """The config's eligibility rules, shared: not to be changed."""
    return copy.deepcopy(RULES)


@pytest.fixture
def settings():
    """The config's groups, outcome and covariate cut-offs (as the cohort rule gets them), a fresh copy."""
    return copy.deepcopy(SETTINGS)


@pytest.fixture
def today():
    """The config's data cut-off (validation.latest_date): later dates are impossible."""
    return TODAY


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """One real cold run of `snakemake` on the default data, shared by the workflow tests."""
    from benchmarks.workflow_runs import copy_workflow, snakemake

    workdir = copy_workflow(tmp_path_factory.mktemp("run") / "gistlm")
    run = snakemake(workdir)
    # what the user saw (the synthetic-data warning, the closing summary): tests/test_configuration.py
    (workdir / "console.txt").write_text(run.stdout + run.stderr)
    return workdir


# Modules whose tests run the real workflow, a Slurm cluster or a fresh install.
SLOW_HELPERS = {"benchmarks.workflow_runs", "slurm_cluster"}


def pytest_collection_modifyitems(items):
    """The fast lane, `pytest -m "not slow"`: a test that runs the real workflow (it uses the
    `finished_run` fixture, or its module imports benchmarks/workflow_runs.py) or a cluster is
    slow, so that a new workflow test joins the slow lane without anyone having to remember
    the marker."""
    for item in items:
        helpers = {getattr(value, "__module__", None) for value in vars(item.module).values()}
        if helpers & SLOW_HELPERS or "finished_run" in item.fixturenames:
            item.add_marker(pytest.mark.slow)
