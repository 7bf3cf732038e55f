"""The whole workflow on a real Slurm cluster, through snakemake-executor-plugin-slurm.

A single-node cluster (munged, slurmctld, slurmd; see slurm_cluster.py) is started on this
machine for the module, the workflow runs in a throw-away copy of the repository with
`--workflow-profile profiles/slurm`, every rule except the `localrules` goes through sbatch
in the Slurm job of its job group (one sbatch call per group of the profile), and its Cox
models must equal a local run's. The profile's groups must cover every rule (checked
without a cluster too). Skipped when Slurm is not installed
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
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml
from slurm_cluster import (
    INSTALL_HINT,
    NODE_CPUS,
    SlurmCluster,
    SlurmUnusable,
    missing_daemons,
)

from benchmarks.workflow_runs import REPO, SNAKEMAKE, copy_workflow, with_own_package

PROFILE_PATH = REPO / "profiles" / "slurm" / "config.yaml"
PROFILE = yaml.safe_load(PROFILE_PATH.read_text())
CLUSTER_START_TIMEOUT = 60  # s, for the node to be idle in sinfo
# s; the Slurm run took 6 to 8 min on the 2-CPU machine with a load of 10 to 16 from other
# work (2026-12-01; 9.5 min before the job groups), about 4 min at a load of 0.4 to 3.8
# (2026-12-02)
SLURM_RUN_TIMEOUT = 900
LOCAL_RUN_TIMEOUT = 300
# the workflow's `localrules` (workflow/rules/common.smk and release.smk)
LOCAL_RULES = {
    "all",
    "gather_provenance",
    "release",
    "e_values",
    "bootstrap_gather",
    "render_causal_section",
    "render_report",
    "release_tables",
    "disclosure_audit",
    "release_manifest",
}
# The profile polls job states 10 s after each finished job (then 10 s more each time none
# has finished): made for a cluster; the test's group jobs take under a minute each on a
# quiet machine, so it polls after 2 s.
# (The plugin trusts squeue for job states when MinJobAge >= 3x this delay.)
SLURM_ARGS = [
    "--workflow-profile",
    "profiles/slurm",
    "--executor",
    "slurm",
    "--jobs",
    "4",
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--seconds-between-status-checks",
    "2",
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


def run_snakemake(workdir: Path, args: list[str], env: dict[str, str], timeout: float) -> tuple[str, float]:
    """Run snakemake in `workdir` (at most `timeout` s); its output and wall time."""
    env = dict(
        env,
        PYTHONPATH=with_own_package(workdir)["PYTHONPATH"],
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    log = workdir / "snakemake.out"
    start = time.monotonic()
    with open(log, "w") as output:
        process = subprocess.Popen(
            [*SNAKEMAKE, *args], cwd=workdir, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
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
        raise AssertionError(f"snakemake {' '.join(args)} failed ({why}, {seconds:.0f} s):\n{text[-6000:]}")
    return text, seconds


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("slurm_run") / "gistlm")
    output, seconds = run_snakemake(workdir, SLURM_ARGS, cluster.env(), SLURM_RUN_TIMEOUT)
    print(
        f"\nSlurm run: {seconds:.0f} s, {len(submissions(output))} sbatch submissions: snakemake {' '.join(SLURM_ARGS)}"
    )
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
    """(Slurm job id, log folder) of every job the plugin submitted: the folder is
    group_<group>_<its rules> for a group job, rule_<rule> for a single job."""
    return re.findall(r"has been submitted with SLURM jobid (\d+) \(log: \S*/slurm_logs/(\w+)[/.]", output)


def rules_run_in(slurm_log: Path) -> list[str]:
    """The rules whose jobs the Snakemake inside one Slurm job ran, from that job's log."""
    return re.findall(r"^rule (\w+):$", slurm_log.read_text(errors="replace"), flags=re.M)


def planned_jobs(output: str) -> dict[str, int]:
    """Jobs per rule of the run, from the job-stats table Snakemake prints first."""
    table = output.split("Job stats:")[1].split("\n\n")[0]
    return {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M) if rule != "total"}


def group_of(rules: list[str]) -> str:
    """The profile's job group of `rules` (all of them in one group)."""
    groups = {PROFILE["groups"].get(rule) for rule in rules}
    assert len(groups) == 1, f"one Slurm job ran the rules of groups {groups}: {rules}"
    return groups.pop()


def test_every_rule_is_in_a_job_group_of_the_profile():
    """A rule in no group still runs on Slurm, but as a submission of its own: new rules
    belong in the profile's `groups:` (and a renamed rule must be renamed there too)."""
    listed = subprocess.run(
        [*SNAKEMAKE, "--list-rules"], cwd=REPO, env=with_own_package(REPO), capture_output=True, text=True, check=True
    )
    # "rule (docstring)"; a long docstring continues on indented lines
    rules = set(re.findall(r"^(\w+)(?= \(|$)", listed.stdout, flags=re.M))
    groups = PROFILE["groups"]
    assert rules - LOCAL_RULES - set(groups) == set(), (
        f"add these rules to a job group in {PROFILE_PATH.relative_to(REPO)} (groups:)"
    )
    assert set(groups) - rules == set(), "the profile groups rules the workflow does not have"
    # each group says how many of its unconnected parts one Slurm job bundles
    assert set(PROFILE["group-components"]) == set(groups.values())


def test_the_workflow_went_to_slurm_as_one_job_per_group(slurm_run, cluster):
    workdir, output = slurm_run
    submitted = submissions(output)
    assert submitted, output[-3000:]
    # every cluster job ran inside a group job (a single job's log folder is rule_<rule>)
    assert all(folder.startswith("group_") for _, folder in submitted), submitted
    # the rules each Slurm job ran, from its log (the inner Snakemake prints "rule <name>:")
    logs = {path.stem: path for path in (workdir / ".snakemake" / "slurm_logs").rglob("*.log")}
    ran = {job: rules_run_in(logs[job]) for job, _ in submitted}
    groups = {job: group_of(rules) for job, rules in ran.items()}
    # a handful of sbatch calls: one per job group of the planned rules (its two bootstrap
    # chunks make one job; the `report` group's PDF is not asked for)
    planned = planned_jobs(output)
    assert "report_pdf" not in planned
    assert sorted(groups.values()) == ["bootstrap", "causal", "cohort", "primary"]
    assert sorted(groups.values()) == sorted({PROFILE["groups"][rule] for rule in planned if rule not in LOCAL_RULES})
    # inside them, every job the run planned (but the local rules') ran, each in the Slurm
    # job of its group
    assert planned["ingest_extract"] == 1 and planned["bootstrap_chunk"] == 2
    assert Counter(rule for rules in ran.values() for rule in rules) == Counter(
        {rule: count for rule, count in planned.items() if rule not in LOCAL_RULES}
    )
    assert all(PROFILE["groups"][rule] == group for job, group in groups.items() for rule in ran[job])
    finished = re.findall(r"Finished jobid: \d+ \(Rule: (\w+)\)", output)
    local = LOCAL_RULES & set(planned)  # `release` runs only when asked for
    assert local == LOCAL_RULES - {"release"} and local <= set(finished)
    # and Slurm itself ran each to completion, under this run's job name, on the CPUs the
    # profile sizes a group job for (at most the node's: more would never start)
    run_id = re.search(r"SLURM run ID: (\S+)", output).group(1)
    queue = cluster.client("squeue", "--noheader", "--states=all", "--format=%i|%T|%j|%C")
    jobs = {
        job: (state, name, int(cpus)) for job, state, name, cpus in (line.split("|") for line in queue.stdout.split())
    }
    assert set(groups) <= set(jobs), queue.stdout
    for job, group in groups.items():
        state, name, cpus = jobs[job]
        assert (state, name) == ("COMPLETED", run_id), queue.stdout
        assert cpus == PROFILE["cores"] <= NODE_CPUS, f"group {group} asked for {cpus} CPUs"


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
