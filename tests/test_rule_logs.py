"""Rule logs (gistlm.rule_log): a rule's stderr, warnings and progress land in snakemake.log[0]."""

import json
import logging
import re
import sys
import warnings
from types import SimpleNamespace

import pandas as pd

from gistlm import rule_log


def test_stderr_warnings_and_progress_go_to_the_rule_log(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stderr", sys.stderr)
    monkeypatch.setattr(rule_log, "_console", None)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    terminal = sys.stderr
    log_path = tmp_path / "logs" / "step.log"
    try:
        log = rule_log.open_rule_log(SimpleNamespace(rule="step", log=[str(log_path)]))
        print("a library's message", file=sys.stderr)
        warnings.warn("a pandas-style warning", UserWarning, stacklevel=2)
        log.info("12 of 20 patients eligible")
        logging.getLogger("some.library").info("chatter below warning level")
        assert rule_log.console() is terminal  # one-paragraph errors still reach the user
    finally:
        logging.captureWarnings(False)
        sys.stderr.close()
    text = log_path.read_text()
    assert "a library's message" in text
    assert "UserWarning: a pandas-style warning" in text
    assert "INFO gistlm.step: 12 of 20 patients eligible" in text
    assert "chatter" not in text


def test_describe_counts_rows_lines_and_files(tmp_path):
    pd.DataFrame({"x": range(7)}).to_parquet(tmp_path / "t.parquet")
    (tmp_path / "t.csv").write_text("x\n1\n2\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "a.csv").write_text("x\n")
    assert rule_log.describe(tmp_path / "t.parquet").endswith("(7 rows)")
    assert rule_log.describe(tmp_path / "t.csv").endswith("(3 lines)")
    assert rule_log.describe(tmp_path / "folder").endswith("(1 files)")


def test_a_finished_run_leaves_every_rule_log_saying_what_it_did(finished_run):
    logs = finished_run / "results" / "logs"
    empty = [str(path.relative_to(logs)) for path in logs.rglob("*.log") if path.stat().st_size == 0]
    assert not empty
    verdicts = pd.read_parquet(finished_run / "results" / "cohort" / "eligibility.parquet")
    cohort = pd.read_parquet(finished_run / "results" / "cohort" / "analysis.parquet")
    eligibility = (logs / "apply_eligibility.log").read_text()
    assert f"{verdicts['eligible'].sum()} of {len(verdicts)} patients eligible" in eligibility
    counts = cohort["group"].value_counts().sort_index()
    assert ", ".join(f"{group} {n}" for group, n in counts.items()) in (logs / "derive_analysis_cohort.log").read_text()
    km = (logs / "kaplan_meier.log").read_text()
    assert f"read cohort: results/cohort/analysis.parquet ({len(cohort)} rows)" in km
    written = len((finished_run / "results" / "survival" / "median_os.csv").read_text().splitlines())
    assert f"wrote median: results/survival/median_os.csv ({written} lines)" in km
    provenance = json.loads((finished_run / "results" / "provenance.json").read_text())
    joined = re.search(r"joined (\d+) records", (logs / "gather_provenance.log").read_text())
    assert joined and int(joined.group(1)) == len(provenance["records"])


def test_each_record_names_the_script_its_rule_ran(finished_run):
    records = json.loads((finished_run / "results" / "provenance.json").read_text())["records"]
    for key, record in records.items():
        scripts = [path for path in record["code"] if path.startswith("workflow/scripts/")]
        assert len(scripts) == 1, key
        assert (finished_run / scripts[0]).exists()
