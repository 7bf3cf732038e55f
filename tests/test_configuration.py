"""Mistakes in the configuration stop the real `snakemake` before any job, with one paragraph.

Each case writes the user's config file as a statistician would and runs a dry run through
the command line; the message must name the config key (and, for a typo, the nearest valid
one), the exit status must be 1 and no Python traceback may be printed.
"""

import hashlib
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from benchmarks.workflow_runs import REPO, copy_workflow, snakemake
from gistlm.cohort.analysis_cohort import COVARIATES, baseline_covariates
from gistlm.configuration import is_synthetic, numeric_contract_columns
from gistlm.extract.schema import RAW_TABLES, column_types

SCHEMA = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
TABLES = ["patients", "liver_metastases", "treatments", "follow_up"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("configuration") / "gistlm")


def stopped(workdir: Path, user_config: dict | None, *args: str) -> str:
    """Dry run with `user_config` as --configfile; asserts a clean stop and returns the message."""
    if user_config is not None:
        (workdir / "my_extract.yaml").write_text(yaml.safe_dump(user_config))
        args = ("--configfile", "my_extract.yaml", *args)
    run = snakemake(workdir, "--dry-run", *args, check=False)
    console = run.stdout + run.stderr
    assert run.returncode == 1, console
    assert "Traceback" not in console and "Error in file" not in console, console
    messages = [line for line in console.splitlines() if line.startswith("gistlm: ")]
    assert len(messages) == 1, console  # one paragraph: a single line, wrapped by the terminal
    assert "Job stats" not in console  # stopped before the DAG's jobs
    return messages[0]


def own_extract(directory: Path) -> dict:
    """The four tables copied outside the shipped extract, as a user's config names them."""
    directory.mkdir(exist_ok=True)
    for table in TABLES:
        shutil.copy(REPO / "resources" / "extract" / f"{table}.csv", directory / f"{table}.csv")
    return {table: str(directory / f"{table}.csv") for table in TABLES}


def test_every_mapping_of_the_schema_rejects_unknown_keys():
    def objects(node, place):
        if isinstance(node, dict):
            if node.get("type") == "object":
                yield place, node.get("additionalProperties")
            for key, value in node.items():
                yield from objects(value, f"{place}.{key}")
        elif isinstance(node, list):
            for value in node:
                yield from objects(value, place)

    found = dict(objects(SCHEMA, "schema"))
    assert len(found) >= 20
    # free-keyed maps (labs, plausible ranges) give their values a schema instead of `false`
    assert {place: rule for place, rule in found.items() if rule is not False and not isinstance(rule, dict)} == {}
    assert isinstance(found["schema.properties.eligibility.properties.labs"], dict)
    assert found["schema.properties.eligibility.properties.labs.additionalProperties"] is False


@pytest.mark.parametrize(
    "user_config, expected",
    [
        (
            {"raw": {"patient": "/secure/p.xlsx"}},
            "config key `raw.patient` (set in my_extract.yaml) is not known; did you mean `raw.patients`?",
        ),
        (
            {"eligibility": {"max_ecg": 4}},
            "config key `eligibility.max_ecg` (set in my_extract.yaml) is not known; did you mean `eligibility.max_ecog`?",
        ),
        (
            {"statistics": {"alpha": 0.01}},
            "config key `statistics` (set in my_extract.yaml) is not known; the keys known there are causal, "
            "covariate_cutoffs, data_dictionary, eligibility, groups, outcome, privacy, quality, raw, sites, survival, table_one, validation.",
        ),
        (
            {
                "sites": [
                    {
                        "name": "S01",
                        "patient": "a.csv",
                        "liver_metastases": "b.csv",
                        "treatments": "c.csv",
                        "follow_up": "d.csv",
                    }
                ]
            },
            "config key `sites[1].patient` (set in my_extract.yaml) is not known; did you mean `sites[1].patients`?",
        ),
        (
            {"eligibility": {"labs": {"alt_u_l": {"maximum": 150}}}},
            "config key `eligibility.labs.alt_u_l.maximum` (set in my_extract.yaml) is not known; "
            "did you mean `eligibility.labs.alt_u_l.max`?",
        ),
        (
            {"quality": {"severity": {"unique_id": "warning"}}},
            "config key `quality.severity.unique_id` (set in my_extract.yaml) is not known; "
            "did you mean `quality.severity.unique_ids`?",
        ),
        (
            {"causal": {"bootstrap": {"replicate": 10}}},
            "config key `causal.bootstrap.replicate` (set in my_extract.yaml) is not known; "
            "did you mean `causal.bootstrap.replicates`?",
        ),
        (
            {"eligibility": {"max_ecog": 7}},
            "config key `eligibility.max_ecog` (set in my_extract.yaml) is not valid: 7 is greater than the maximum of 4.",
        ),
    ],
)
def test_an_unknown_or_invalid_key_stops_the_run_naming_it(workdir, user_config, expected):
    assert stopped(workdir, user_config) == f"gistlm: {expected}"


def test_a_typo_in_a_precedence_rule_is_named_with_its_place(workdir):
    precedence = [
        {"label": "IM+HR", "treatment": ["hepatic_resection"]},
        {"label": "IM+RFA/TACE", "treatments": ["rfa", "tace"]},
    ]
    message = stopped(workdir, {"groups": {"precedence": precedence}})
    assert message == (
        "gistlm: config key `groups.precedence[1].treatment` (set in my_extract.yaml) is not known; "
        "did you mean `groups.precedence[1].treatments`?"
    )


def test_a_typo_on_the_command_line_is_named_too(workdir):
    message = stopped(workdir, None, "--config", "sitess=[]")
    assert message == "gistlm: config key `sitess` (set in --config) is not known; did you mean `sites`?"


def test_a_user_extract_naming_only_some_tables_never_takes_the_others_from_the_demo(workdir, tmp_path):
    tables = own_extract(tmp_path / "secure")
    message = stopped(workdir, {"raw": {"patients": tables["patients"], "follow_up": tables["follow_up"]}})
    assert message == (
        "gistlm: your configuration (my_extract.yaml) names `raw.patients`, `raw.follow_up` but not "
        "`raw.liver_metastases`, `raw.treatments`: a configuration that names one raw table must name all four, "
        "so that the shipped synthetic extract (resources/extract/) is never mixed with your data; "
        "add the missing path."
    )


def test_a_users_table_beside_the_demo_tables_is_refused(workdir, tmp_path):
    tables = own_extract(tmp_path / "secure")
    mixed = {"raw": {**{table: f"resources/extract/{table}.csv" for table in TABLES}, "patients": tables["patients"]}}
    message = stopped(workdir, mixed)
    assert message.startswith(
        "gistlm: 3 mistakes in the configuration: (1) config key `raw.liver_metastases` "
        "(set in my_extract.yaml) is `resources/extract/liver_metastases.csv`, a table of the "
        "shipped synthetic extract, while other tables are your own: synthetic and real "
        "patients are never analysed together; name your own file."
    )


def test_a_complete_user_extract_is_planned_from_the_users_files_only(workdir, tmp_path):
    tables = own_extract(tmp_path / "secure")
    (workdir / "my_extract.yaml").write_text(yaml.safe_dump({"raw": tables}))
    run = snakemake(workdir, "--dry-run", "--configfile", "my_extract.yaml")
    raw_inputs = [
        path.strip()
        for line in run.stdout.splitlines()
        if line.strip().startswith("input:") and "ingestion.py" in line and "results/" not in line
        for path in line.split(":", 1)[1].split(",")
        if not path.strip().startswith("src/")
    ]  # the ingest_extract job's
    assert sorted(raw_inputs) == sorted(tables.values())
    assert "resources/extract" not in run.stdout


@pytest.mark.parametrize(
    "user_config, expected",
    [
        (
            {"raw": {"encoding": "utf8-nonsense"}},
            "config key `raw.encoding` (set in my_extract.yaml) is `utf8-nonsense`, which Python does not know as a "
            "text encoding; use e.g. utf-8 or gb18030.",
        ),
        (
            {"validation": {"latest_date": "2023-02-30"}},
            "config key `validation.latest_date` (set in my_extract.yaml) is `2023-02-30`, which is not a date "
            "(day is out of range for month); write YYYY-MM-DD.",
        ),
        (
            {"eligibility": {"labs": {"alt": {"max": 200}}}},
            "config key `eligibility.labs.alt` (set in my_extract.yaml) names no numeric column of the liver_metastases "
            "table (src/gistlm/extract/schema.py); did you mean `alt_u_l`?",
        ),
        (
            {"groups": {"reference": "im"}},
            "config key `groups.reference` (set in my_extract.yaml) is `im`, which is not one of `groups.labels` "
            "(IM, IM+HR, IM+RFA/TACE); did you mean `IM`?",
        ),
        (
            {"groups": {"reference": "IM+HR"}},
            "config key `groups.reference` (set in my_extract.yaml) is `IM+HR`, but every analysis compares a local "
            "treatment with none: it must be the group of `groups.default` (`IM`).",
        ),
        (
            {"groups": {"labels": ["IM", "IM+HR", "IM+RFA/TACE", "IM+SBRT"]}},
            "config key `groups.labels` (set in my_extract.yaml) lists IM+SBRT, which neither `groups.default` nor any "
            "`groups.precedence` rule assigns, so that group would be empty.",
        ),
        (
            {"survival": {"cox_covariates": ["age_over_cutoff", "sex"]}},
            "config key `survival.cox_covariates[2]` (set in my_extract.yaml) is `sex`, which is not one of "
            "age_over_cutoff, age_at_lm_years, male, extrahepatic_disease, lm_count_over_cutoff, lm_count, lm_bilobar, "
            "lm_max_size_cm, ecog, primary_size_cm, mitotic_count, imatinib_dose_mg_day; valid: age_over_cutoff, ",
        ),
        (
            {"table_one": {"continuous": ["age_at_lm_years"], "categorical": ["male", "ecogg"]}},
            "config key `table_one.categorical` (set in my_extract.yaml) names `ecogg`, which is not a column of the "
            "analysis cohort (src/gistlm/cohort/analysis_cohort.py); did you mean `ecog`?",
        ),
        (
            {"quality": {"plausible_ranges": {"age_years": [18, 100]}}},
            "config key `quality.plausible_ranges` (set in my_extract.yaml) names `age_years`, which is not a column of "
            "the analysis cohort (src/gistlm/cohort/analysis_cohort.py); did you mean `age_at_lm_years`?",
        ),
        (
            {"causal": {"propensity": {"covariates": ["male", "lm_size"]}}},
            "config key `causal.propensity.covariates` (set in my_extract.yaml) names `lm_size`, which is not a column of "
            "the analysis cohort (src/gistlm/cohort/analysis_cohort.py); did you mean `lm_max_size_cm`?",
        ),
        (
            {"causal": {"clone_censor_weight": {"covariates": ["Male"]}}},
            "config key `causal.clone_censor_weight.covariates` (set in my_extract.yaml) names `Male`, which is not a "
            "column of the analysis cohort (src/gistlm/cohort/analysis_cohort.py); did you mean `male`?",
        ),
    ],
)
def test_inconsistent_settings_stop_the_run_at_dag_build_time(workdir, user_config, expected):
    assert stopped(workdir, user_config).startswith(f"gistlm: {expected}")


def test_a_typo_in_a_precedence_label_is_one_readable_sentence(workdir):
    precedence = [
        {"label": "IM+HRR", "treatments": ["hepatic_resection"]},
        {"label": "IM+RFA/TACE", "treatments": ["rfa", "tace"]},
    ]
    message = stopped(workdir, {"groups": {"precedence": precedence}})
    assert message == (
        "gistlm: config key `groups.precedence[1].label` (set in my_extract.yaml) is `IM+HRR`, which "
        "is not one of `groups.labels` (IM, IM+HR, IM+RFA/TACE); did you mean `IM+HR`?"
    )


def test_several_mistakes_are_listed_in_one_paragraph(workdir):
    message = stopped(workdir, {"raw": {"encoding": "latin-99"}, "validation": {"latest_date": "2023-13-01"}})
    assert message.startswith("gistlm: 2 mistakes in the configuration: (1) config key `raw.encoding` ")
    assert " (2) config key `validation.latest_date` " in message


def test_the_cohort_columns_the_checks_know_are_the_ones_built(tiny_extract, typed_extract):
    from gistlm.cohort.eligibility import patient_baseline

    tables, _ = typed_extract(tiny_extract)
    built = baseline_covariates(patient_baseline(tables), tables["treatments"], {"age_years": 60, "lm_count": 3})
    assert list(built.columns) == COVARIATES


def test_the_numeric_columns_read_from_the_schema_file_are_the_models_numeric_columns():
    """The lab check reads the models' annotations without importing pandera: for every raw
    table, the same numeric columns as the pandera model's dtypes."""
    for table, model in RAW_TABLES.items():
        numeric = [name for name, kind in column_types(table).items() if kind in {"float64", "Int64"}]
        assert numeric_contract_columns(model.__name__) == numeric, table
    assert numeric_contract_columns("LiverMetastases")[:3] == ["lm_count", "lm_max_size_cm", "ecog"]


def test_the_shipped_extract_is_recognised_wherever_the_workflow_is(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths are the working directory's
    shipped = {"sites": [], "raw": {table: f"resources/extract/{table}.csv" for table in TABLES}}
    assert is_synthetic(shipped, tmp_path)
    assert not is_synthetic({"sites": [], "raw": own_extract(tmp_path / "secure")}, tmp_path)
    absolute = {"sites": [], "raw": {table: str(tmp_path / "resources/extract" / f"{table}.csv") for table in TABLES}}
    assert is_synthetic(absolute, tmp_path)


def test_a_full_disk_gives_one_paragraph_and_no_empty_log(tmp_path):
    workdir = copy_workflow(tmp_path / "gistlm")
    results = workdir / "results"
    results.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", str(results)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"a small tmpfs cannot be mounted here (needs root): {mounted.stderr.strip()}")
    try:
        run = snakemake(workdir, "results/interim/main/patients.parquet", check=False)
        logs = [path.read_text() for path in results.rglob("*.log")]
        empty = [path for path in results.rglob("*") if path.is_file() and path.stat().st_size == 0]
    finally:
        subprocess.run(["umount", str(results)], check=True)
    console = run.stdout + run.stderr
    assert run.returncode == 1
    assert "Traceback" not in console
    assert "gistlm: no space left on the disk (" in run.stderr
    assert "Free some space (or point results/ at a larger disk) and run the same command again" in run.stderr
    assert empty == []
    # the rule's log, if the disk had room for it, holds the same message
    assert all("gistlm: no space left on the disk (" in text for text in logs)


def test_a_run_on_the_demo_extract_warns_and_ends_with_a_summary(finished_run):
    console = (finished_run / "console.txt").read_text()
    assert (
        "gistlm: WARNING: synthetic demonstration data, not patients: this run analysed the shipped extract "
        "resources/extract/"
    ) in console
    summary = console[console.index("gistlm: run complete.") :]
    counts = pd.read_csv(finished_run / "results" / "validation" / "ledger_counts.csv")
    ledger = dict(zip(counts["status"], counts["patients"]))
    assert (
        f"Raw patients: {ledger['raw patients']}; analysed {ledger['analysed']}, excluded {ledger['excluded']} "
        f"(results/cohort/attrition.csv), quarantined {ledger['quarantined']}"
    ) in summary
    share = ledger["quarantined"] / ledger["raw patients"]
    assert (
        f"WARNING: {ledger['quarantined']} of {ledger['raw patients']} patients ({share:.0%}) were quarantined"
        in summary
    )
    assert "Report: results/report.html" in summary
    assert "WARNING: synthetic demonstration data, not patients" in summary
    digest = hashlib.sha256((finished_run / "resources/extract/patients.csv").read_bytes()).hexdigest()[:12]
    assert f"  patients: resources/extract/patients.csv (sha256 {digest})" in summary
    report = (finished_run / "results" / "report.html").read_text()
    assert "Synthetic demonstration data, not patients:" in report


def test_the_summary_of_a_users_extract_has_no_demo_warning(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from gistlm.configuration import closing_summary

    tables = own_extract(tmp_path / "secure")
    (tmp_path / "results" / "validation").mkdir(parents=True)
    (tmp_path / "results" / "validation" / "ledger_counts.csv").write_text(
        "status,patients\nanalysed,200\nexcluded,70\nquarantined,0\nraw patients,270\n"
    )
    monkeypatch.chdir(tmp_path)
    summary = closing_summary({"sites": [], "raw": tables}, SimpleNamespace(basedir=str(tmp_path)))
    digest = hashlib.sha256(Path(tables["treatments"]).read_bytes()).hexdigest()[:12]
    assert f"  treatments: {tables['treatments']} (sha256 {digest})" in summary
    assert (
        "Raw patients: 270; analysed 200, excluded 70 (results/cohort/attrition.csv), quarantined 0 "
        "(results/validation/quarantine.csv)."
    ) in summary
    assert "WARNING" not in summary and "Report:" not in summary  # no report made yet
