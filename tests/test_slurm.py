"""The whole workflow on a real Slurm cluster, through snakemake-executor-plugin-slurm.

A single-node cluster (munged, slurmctld, slurmd; see slurm_cluster.py) is started on this
machine for the module, the workflow runs in a throw-away copy of the repository with
`--workflow-profile profiles/slurm`, every rule except the `localrules` goes through sbatch,
and its Cox models must equal a local run's. Skipped when Slurm is not installed
(`apt-get install slurm-wlm munge`), when not root, or when the machine has a Slurm
configuration of its own; an installed Slurm that does not start is an error.
"""

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from slurm_cluster import (
    INSTALL_HINT,
    SlurmCluster,
    SlurmUnusable,
    missing_daemons,
)
from workflow_runs import SNAKEMAKE, copy_workflow, with_own_package

CLUSTER_START_TIMEOUT = 60  # s, for the node to be idle in sinfo
# s; the Slurm run took 4.5 to 7 min on a 2-CPU machine busy with other work
SLURM_RUN_TIMEOUT = 600
LOCAL_RUN_TIMEOUT = 300
LOCAL_RULES = {"all", "gather_provenance"}
# The profile polls job states 10 s after each finished job (then 10 s more each time none
# has finished): made for a cluster; the test's jobs take 5-20 s, so it polls after 2 s.
# (The plugin trusts squeue for job states when MinJobAge >= 3x this delay.)
SLURM_ARGS = [
    "--workflow-profile", "profiles/slurm",
    "--executor", "slurm",
    "--jobs", "4",
    "--slurm-status-command", "squeue",
    "--slurm-init-seconds-before-status-checks", "2",
    "--seconds-between-status-checks", "2",
    "--slurm-keep-successful-logs",
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    missing = missing_daemons()
    if missing:
        pytest.skip(f"Slurm not installed ({', '.join(missing)} not found): {INSTALL_HINT}")
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.skip('snakemake-executor-plugin-slurm not installed: pip install -e ".[test]"')
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start(timeout=CLUSTER_START_TIMEOUT)
    except SlurmUnusable as reason:
        cluster.stop()
        pytest.skip(str(reason))
    except BaseException:  # installed but does not start: an error, with the daemons' logs
        cluster.stop()
        raise
    try:
        yield cluster
    finally:
        cluster.stop()


def run_snakemake(workdir: Path, args: list[str], env: dict[str, str],
                  timeout: float) -> tuple[str, float]:
    """Run snakemake in `workdir` (at most `timeout` s); its output and wall time."""
    env = dict(env, PYTHONPATH=with_own_package(workdir)["PYTHONPATH"],
               PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]))
    log = workdir / "snakemake.out"
    start = time.monotonic()
    with open(log, "w") as output:
        process = subprocess.Popen([*SNAKEMAKE, *args], cwd=workdir, env=env, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        timed_out = False
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            # SIGINT lets snakemake scancel its jobs; the cluster's teardown cancels the rest
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
    seconds = time.monotonic() - start
    text = log.read_text(errors="replace")
    if process.returncode != 0:
        why = f"timed out after {timeout:.0f} s" if timed_out else f"exit {process.returncode}"
        raise AssertionError(f"snakemake {' '.join(args)} failed ({why}, {seconds:.0f} s):\n"
                             f"{text[-6000:]}")
    return text, seconds


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("slurm_run") / "gistlm")
    output, seconds = run_snakemake(workdir, SLURM_ARGS, cluster.env(), SLURM_RUN_TIMEOUT)
    print(f"\nSlurm run: {seconds:.0f} s: snakemake {' '.join(SLURM_ARGS)}")
    return workdir, output


@pytest.fixture(scope="module")
def local_run(slurm_run, tmp_path_factory):
    """The Cox models computed on this machine (after the Slurm run, not beside it).

    Only up to results/survival/cox.csv: the whole workflow again would double the test's time.
    """
    workdir = copy_workflow(tmp_path_factory.mktemp("local_run") / "gistlm")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    args = ["--cores", "2", "results/survival/cox.csv"]
    output, seconds = run_snakemake(workdir, args, env, LOCAL_RUN_TIMEOUT)
    print(f"\nlocal run: {seconds:.0f} s: snakemake {' '.join(args)}")
    return workdir


def submissions(output: str) -> list[tuple[str, str]]:
    """(rule, Slurm job id) of every job the plugin submitted with sbatch."""
    return re.findall(r"has been submitted with SLURM jobid (\d+) \(log: \S*/rule_(\w+)/", output)


def test_every_cluster_job_went_through_sbatch(slurm_run, cluster):
    workdir, output = slurm_run
    submitted = submissions(output)
    finished = re.findall(r"Finished jobid: \d+ \(Rule: (\w+)\)", output)
    assert submitted, output[-3000:]
    # each job of the run, except the local rules, is one Slurm job, each in its own log folder
    assert sorted(rule for _, rule in submitted) == sorted(r for r in finished if r not in LOCAL_RULES)
    assert [rule for _, rule in submitted].count("ingest_table") == 4
    assert LOCAL_RULES <= set(finished)
    logs = {path.stem for path in (workdir / ".snakemake" / "slurm_logs").rglob("*.log")}
    assert {job for job, _ in submitted} <= logs
    # and Slurm itself ran them all to completion, under this run's job name
    run_id = re.search(r"SLURM run ID: (\S+)", output).group(1)
    queue = cluster.client("squeue", "--noheader", "--states=all", "--format=%i|%T|%j")
    states = dict(line.split("|")[:2] for line in queue.stdout.split())
    assert {job for job, _ in submitted} <= set(states), queue.stdout
    assert {states[job] for job, _ in submitted} == {"COMPLETED"}, queue.stdout
    assert run_id in queue.stdout


def test_slurm_run_has_the_report_and_the_cohort(slurm_run):
    workdir, _ = slurm_run
    report = workdir / "results" / "report.html"
    assert report.exists() and report.stat().st_size > 0
    assert (workdir / "results" / "provenance.json").exists()
    assert len(pd.read_parquet(workdir / "results" / "cohort" / "analysis.parquet")) == 238


def test_slurm_run_cox_equals_the_local_run(slurm_run, local_run):
    workdir, _ = slurm_run
    on_slurm = pd.read_csv(workdir / "results" / "survival" / "cox.csv")
    local = pd.read_csv(local_run / "results" / "survival" / "cox.csv")
    pd.testing.assert_frame_equal(on_slurm, local, check_exact=False, rtol=0, atol=1e-9)
