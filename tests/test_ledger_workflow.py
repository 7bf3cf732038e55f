"""Messy extracts through the real `snakemake` command line: every raw record of the patients
file ends up analysed, excluded for a clinical reason or quarantined with its data fault, and
each user mistake ends in one message, exit status 1 and no traceback (issue 10, part B)."""

import pandas as pd
import pytest

from benchmarks.workflow_runs import copy_workflow, edit_config, snakemake
from gistlm.extract.pseudonyms import load_key, pseudonymise

LEDGER_TARGETS = [
    "results/validation/ledger.csv",
    "results/validation/ledger_counts.csv",
    "results/cohort/exclusion_values.csv",
]
DEAD = {"last_contact_date": "2021-05-01", "vital_status": "dead", "death_date": "2021-05-01"}
IMATINIB = {"start_date": "2016-03-10"}


def procedure(name):
    return {"treatment": name, "line": "", "start_date": "2016-09-01", "dose_mg_day": ""}


def pseudonym(pid):
    key, _ = load_key("GISTLM_PSEUDONYM_KEY", "", release=False)
    return pseudonymise(pd.Series([pid]), key)[0]


def raw_entries(path):
    """Ledger entries a reader of the raw patients file expects: distinct ids as written (spaces
    aside) plus one per row without an id (read by pandas, not by gistlm's ingestion)."""
    ids = pd.read_csv(path, dtype=str, keep_default_na=False)["patient_id"].str.strip()
    return ids[ids != ""].nunique() + int((ids == "").sum())


def one_message(run):
    """The run's `gistlm:` lines (the script's and Snakemake's copy of its log are one)."""
    # the tests write their extract where the shipped one lies, so the synthetic-data warning shows too
    return {
        line
        for line in run.stderr.splitlines()
        if line.startswith("gistlm:") and not line.startswith("gistlm: WARNING: synthetic demonstration data")
    }


def write_extract(workdir, frames):
    folder = workdir / "resources" / "extract"
    for name, frame in frames.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def messy_run(tmp_path_factory, make_patient, make_extract):
    """Ids spelled NA/NULL/N/A/nan/#N/A, an id with spaces, a row without id, a missing
    liver_metastases row, a follow_up id in another case, free-text histology, a formula cell
    and a quoted line break, each group with a death."""
    frames = make_extract(
        make_patient("NA", follow_up=DEAD),
        make_patient("NULL", treatments=[IMATINIB, procedure("hepatic_resection")], follow_up=DEAD),
        make_patient("N/A", treatments=[IMATINIB, procedure("rfa")], follow_up=DEAD),
        make_patient("nan"),
        make_patient("#N/A"),
        make_patient("P07"),
        make_patient("", lm=False, treatments=[], follow_up=False),
        make_patient("P08", lm=False),
        make_patient("P09"),
        make_patient("P10", patient={"primary_pathology": "GIST (high risk)"}),
        make_patient("P11", patient={"sex": "=1+1"}),
    )
    patients = frames["patients"]
    patients.loc[patients["patient_id"] == "P07", "patient_id"] = " P07 "
    # a free-text column the contract ignores, with a line break inside its quotes
    patients["note"] = ["seen twice,\nsee letter"] + [""] * (len(patients) - 1)
    frames["follow_up"].loc[frames["follow_up"]["patient_id"] == "P09", "patient_id"] = "p09"
    workdir = copy_workflow(tmp_path_factory.mktemp("messy") / "gistlm")
    write_extract(workdir, frames)
    run = snakemake(workdir, *LEDGER_TARGETS)
    return workdir, run


def read(workdir, path, **options):
    return pd.read_csv(workdir / "results" / path, **options)


def test_the_ledger_holds_every_raw_patient_as_written(messy_run):
    workdir, _ = messy_run
    counts = read(workdir, "validation/ledger_counts.csv").set_index("status")["patients"]
    assert counts["raw patients"] == raw_entries(workdir / "resources/extract/patients.csv") == 11
    assert counts[["analysed", "excluded", "quarantined"]].tolist() == [6, 1, 4]
    ledger = pd.read_parquet(workdir / "results/validation/ledger.parquet").set_index("patient_id")
    status = ledger["status"]
    for pid in ["NA", "NULL", "N/A", "nan", "#N/A", "P07"]:
        assert status[pseudonym(pid)] == "analysed", pid
    assert ledger.loc[pseudonym("P10"), "reason"].startswith("not_gist")
    cohort = pd.read_parquet(workdir / "results/cohort/analysis.parquet")
    assert cohort.groupby("group", observed=False).size().tolist() == [4, 1, 1]


def test_a_row_without_id_is_quarantined_under_its_file_line(messy_run):
    workdir, _ = messy_run
    text = (workdir / "resources/extract/patients.csv").read_text()
    # the editor's line of the row without an id (the quoted line break counts)
    line = 1 + text.split("\n").index(next(row for row in text.split("\n") if row.startswith(",M,")))
    ledger = read(workdir, "validation/ledger.csv", dtype=str, keep_default_na=False).set_index("patient_id")
    entry = f"resources/extract/patients.csv line {line}"
    assert ledger.loc[entry, "status"] == "quarantined"
    assert ledger.loc[entry, "reason"] == f"patients.patient_id row {line}: not_nullable"


def test_missing_per_patient_rows_are_quarantined_not_excluded(messy_run):
    workdir, _ = messy_run
    ledger = pd.read_parquet(workdir / "results/validation/ledger.parquet").set_index("patient_id")
    assert ledger.loc[pseudonym("P08"), "status"] == "quarantined"
    assert ledger.loc[pseudonym("P08"), "reason"].endswith("patient has a liver_metastases row")
    # its follow_up row says p09: another id, so P09 has no follow-up row
    assert ledger.loc[pseudonym("P09"), "status"] == "quarantined"
    assert ledger.loc[pseudonym("P09"), "reason"].endswith("patient has a follow_up row")
    failures = read(workdir, "validation/failure_cases.csv")
    orphan = failures[(failures["table"] == "follow_up") & (failures["check"] == "patient_id not in patients")]
    assert orphan["patient_id"].tolist() == [pseudonym("p09")]


def test_free_text_histology_that_excluded_someone_is_listed(messy_run):
    workdir, _ = messy_run
    values = read(workdir, "cohort/exclusion_values.csv", dtype=str)
    assert values.to_dict("records") == [
        {"step": "not_gist", "column": "primary_pathology", "value": "GIST (high risk)", "patients": "<5"}
    ]


def test_failure_rows_are_editor_lines_and_formula_cells_are_neutralised(messy_run):
    workdir, _ = messy_run
    lines = (workdir / "resources/extract/patients.csv").read_text().split("\n")
    line = 1 + next(i for i, row in enumerate(lines) if row.startswith("P11,"))
    raw_text = (workdir / "results/validation/failure_cases.csv").read_text()
    assert f"main,patients,{line},sex,\"isin(['M', 'F'])\",'=1+1," in raw_text
    assert ",=1+1" not in raw_text


def test_no_eligible_patient_ends_in_one_message(tmp_path, make_patient, make_extract):
    workdir = copy_workflow(tmp_path / "gistlm")
    write_extract(
        workdir, make_extract(*(make_patient(f"P{i}", patient={"primary_pathology": "schwannoma"}) for i in range(4)))
    )
    run = snakemake(workdir, *LEDGER_TARGETS, check=False)
    assert run.returncode == 1
    assert one_message(run) == {"gistlm: 0 of 4 patients are eligible; see results/cohort/attrition.csv."}
    assert "Traceback" not in run.stderr


def test_a_group_without_deaths_ends_in_one_paragraph(tmp_path, make_patient, make_extract):
    workdir = copy_workflow(tmp_path / "gistlm")
    write_extract(
        workdir,
        make_extract(
            make_patient("A", follow_up=DEAD),
            make_patient("B"),
            make_patient("C", treatments=[IMATINIB, procedure("hepatic_resection")]),
            make_patient("D", treatments=[IMATINIB, procedure("tace")], follow_up=DEAD),
        ),
    )
    run = snakemake(workdir, *LEDGER_TARGETS, check=False)
    assert run.returncode == 1
    (message,) = one_message(run)
    assert message.startswith(
        "gistlm: the 4 eligible patients cannot be compared by group: IM+HR has no deaths among its 1 patients."
    )
    assert "Traceback" not in run.stderr


def test_numeric_parquet_ids_of_different_types_are_one_patient(tmp_path, make_patient, make_extract):
    """int64 ids in patients, float64 in the other tables: the same patients, counted once."""
    workdir = copy_workflow(tmp_path / "gistlm")
    frames = make_extract(
        make_patient("1", follow_up=DEAD),
        make_patient("2"),
        make_patient("3", treatments=[IMATINIB, procedure("hepatic_resection")], follow_up=DEAD),
        make_patient("4", treatments=[IMATINIB, procedure("rfa")], follow_up=DEAD),
    )
    folder = workdir / "resources" / "extract"
    for name, frame in frames.items():
        frame.assign(patient_id=frame["patient_id"].astype("int64" if name == "patients" else "float64")).to_parquet(
            folder / f"{name}.parquet", index=False
        )
    edit_config(
        workdir, lambda config: config["raw"].update({name: f"resources/extract/{name}.parquet" for name in frames})
    )
    snakemake(workdir, *LEDGER_TARGETS)
    counts = read(workdir, "validation/ledger_counts.csv").set_index("status")["patients"]
    assert counts.to_dict() == {"analysed": 4, "excluded": 0, "quarantined": 0, "raw patients": 4}


@pytest.mark.parametrize(
    "damage, expected",
    [
        (
            lambda folder: (folder / "follow_up.csv").unlink() or (folder / "follow_up.csv").mkdir(),
            "gistlm: follow_up: resources/extract/follow_up.csv is a directory, not a file; set raw.follow_up",
        ),
        (
            lambda folder: (folder / "follow_up.xlsx").write_bytes(b"PK\x03\x04 cut short"),
            "gistlm: follow_up: file resources/extract/follow_up.xlsx is not a readable Excel workbook",
        ),
    ],
)
def test_a_table_path_mistake_is_one_message(tmp_path, damage, expected):
    workdir = copy_workflow(tmp_path / "gistlm")
    damage(workdir / "resources" / "extract")
    if "xlsx" in expected:
        edit_config(workdir, lambda config: config["raw"].update(follow_up="resources/extract/follow_up.xlsx"))
    run = snakemake(workdir, "results/validation/ledger.csv", check=False)
    assert run.returncode == 1
    (message,) = one_message(run)
    assert message.startswith(expected)
    assert "Traceback" not in run.stderr
