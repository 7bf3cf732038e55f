"""Reruns give the same bytes: a second clean run, and a run killed mid-way then restarted."""

import hashlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from workflow_runs import SNAKEMAKE, copy_workflow, snakemake, with_own_package

# Files that carry the time of the run by design: provenance records, benchmark timings,
# great-expectations' Data Docs (their validation pages are named by time), and the rule logs
# (what each job said, libraries' warnings included; like results, they are not compared).
TIMESTAMPED = ("results/provenance", "results/benchmarks", "results/data_docs", "results/logs")
RUN_DATE = re.compile(r"<tr><th class=\"l\">run date \(UTC\)</th><td class=\"l\">[^<]*</td></tr>")


def fingerprints(run: Path) -> dict[str, str]:
    found = {}
    for path in sorted((run / "results").rglob("*")):
        name = str(path.relative_to(run))
        if not path.is_file() or name.startswith(TIMESTAMPED) or name == "results/provenance.json":
            continue
        data = path.read_bytes()
        if name in ("results/report.html", "results/release/report.html"):
            data = RUN_DATE.sub("", data.decode()).encode()
        if name == "results/release/MANIFEST.tsv":  # lists the report's hash, which has the run date
            data = b"\n".join(line for line in data.splitlines() if not line.startswith(b"report.html\t"))
        found[name] = hashlib.sha256(data).hexdigest()
    return found


def test_two_clean_runs_give_identical_bytes(finished_run, tmp_path):
    second = copy_workflow(tmp_path / "second")
    snakemake(second)
    first_files, second_files = fingerprints(finished_run), fingerprints(second)
    assert len(first_files) > 30
    assert first_files == second_files


def test_a_run_killed_mid_way_and_restarted_matches_an_uninterrupted_one(finished_run, tmp_path):
    run = copy_workflow(tmp_path / "killed")
    job = subprocess.Popen([*SNAKEMAKE, "--cores", "2"], cwd=run, start_new_session=True, env=with_own_package(run),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    analysis = run / "results" / "cohort" / "analysis.parquet"
    deadline = time.monotonic() + 120
    while not analysis.exists() and time.monotonic() < deadline and job.poll() is None:
        time.sleep(0.05)
    assert job.poll() is None, "the run ended before it could be killed"
    os.killpg(job.pid, signal.SIGKILL)  # the whole process group: Snakemake and its jobs
    job.wait()
    assert not (run / "results" / "report.html").exists()
    snakemake(run, "--unlock")
    snakemake(run)  # the profile sets rerun-incomplete: half-written outputs are redone
    assert fingerprints(run) == fingerprints(finished_run)
