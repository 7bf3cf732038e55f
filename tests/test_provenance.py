"""Provenance of every result: records, the lineage command, and Snakemake's own report."""

import json
import zipfile

from benchmarks.workflow_runs import clone_run, snakemake
from gistlm.cli import main as gistlm


def trace(run, monkeypatch, capsys, *args):
    monkeypatch.chdir(run)
    code = gistlm(["provenance", *args])
    return code, capsys.readouterr()


def test_every_file_under_results_has_an_answer(finished_run, monkeypatch, capsys):
    files = sorted(p.relative_to(finished_run) for p in (finished_run / "results").rglob("*") if p.is_file())
    assert len(files) > 40
    for path in files:
        code, out = trace(finished_run, monkeypatch, capsys, str(path))
        assert code == 0, (path, out.err)
        assert out.out.startswith(("Lineage of", f"{path}: provenance bookkeeping")), path


def test_lineage_of_the_cox_table_reaches_the_raw_files(finished_run, monkeypatch, capsys):
    code, out = trace(finished_run, monkeypatch, capsys, "results/survival/cox.csv", "--json")
    assert code == 0
    steps = json.loads(out.out)["steps"]
    assert [step["rule"] for step in steps[:2]] == ["cox_regression", "derive_analysis_cohort"]
    # the counts it publishes are suppressed by the release-wide disclosure register
    assert {"apply_eligibility", "disclosure_register", "local_treatment_dates", "pool_sites"} <= {
        step["rule"] for step in steps
    }
    assert steps[0]["params"]["covariates"] == [
        "age_over_cutoff",
        "male",
        "extrahepatic_disease",
        "lm_count_over_cutoff",
        "lm_bilobar",
    ]
    assert "src/gistlm/survival/overall_survival.py" in steps[0]["code"]
    raw = {path for step in steps if step["rule"] == "ingest_extract" for path in step["inputs"]}
    assert {f"resources/extract/{t}.csv" for t in ["patients", "liver_metastases", "treatments", "follow_up"]} <= raw
    assert all(not step["problems"] for step in steps)


def test_a_hand_edited_result_is_flagged(finished_run, tmp_path, monkeypatch, capsys):
    run = clone_run(finished_run, tmp_path / "run")
    attrition = run / "results" / "cohort" / "attrition.csv"
    attrition.write_text(attrition.read_text().replace("238", "240"))
    code, out = trace(run, monkeypatch, capsys, "results/report.html")
    assert code == 1
    assert "results/cohort/attrition.csv changed since the run" in out.out


def test_provenance_json_gathers_every_job_with_versions_and_config(finished_run):
    provenance = json.loads((finished_run / "results" / "provenance.json").read_text())
    records = provenance["records"]
    assert {
        "ingest_extract[main]",
        "validate_extract[main]",
        "pool_sites",
        "cox_regression",
        "render_report",
    } <= set(records)
    cox = records["cox_regression"]
    assert cox["versions"]["lifelines"] and cox["versions"]["python"]
    assert cox["outputs"]["results/survival/cox.csv"] and cox["started"] <= cox["finished"]
    assert len(provenance["config_sha256"]) == 64


def test_snakemake_report_is_built_from_the_flagged_outputs(finished_run, tmp_path):
    run = clone_run(finished_run, tmp_path / "run")
    snakemake(run, "--report", "results/snakemake-report.zip")
    with zipfile.ZipFile(run / "results" / "snakemake-report.zip") as archive:
        names = archive.namelist()
    for expected in ["cox.csv", "km.png", "forest.png", "attrition.csv", "expectations.csv", "report.html"]:
        assert any(name.endswith(expected) for name in names), expected
