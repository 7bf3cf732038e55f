"""Running the real workflow in a throw-away copy of the repository: for the workflow tests and the benchmarks."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_PARTS = ["Snakefile", "workflow", "config", "profiles", "resources", "src"]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def copy_workflow(destination: Path, source: Path = REPO) -> Path:
    """The workflow's files (not results or metadata) of the checkout `source` copied to `destination`."""
    destination.mkdir(parents=True, exist_ok=True)
    for part in WORKFLOW_PARTS:
        path = source / part
        if path.is_dir():
            shutil.copytree(path, destination / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(path, destination / part)
    return destination


def clone_run(source: Path, destination: Path) -> Path:
    """A finished run copied with its results, metadata and file times, to change freely."""
    shutil.copytree(source, destination, symlinks=True)
    return destination


def with_own_package(workdir: Path) -> dict:
    """The environment for a run in `workdir`: its own copy of gistlm, not the editable
    install's, so the code that runs is the code the rules declare and hash."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(workdir / "src"), os.environ.get("PYTHONPATH")])),
    }


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    run = subprocess.run(
        [*SNAKEMAKE, "--cores", "2", *args], cwd=workdir, capture_output=True, text=True, env=with_own_package(workdir)
    )
    if check and run.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{run.stdout[-3000:]}\n{run.stderr[-5000:]}")
    return run


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """Jobs per rule a dry run would execute (from its job-stats table), without `all`."""
    # targets and options first: `--quiet rules` would swallow a following target
    output = snakemake(workdir, *args, "--dry-run", "--quiet", "rules").stdout
    table = output.split("Job stats:")[1] if "Job stats:" in output else ""
    jobs = {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M)}
    return {rule: count for rule, count in jobs.items() if rule not in {"all", "total"}}


def planned_rules(workdir: Path, *args: str) -> set[str]:
    """Rules a dry run would execute, without `all`."""
    return set(planned_jobs(workdir, *args))


def edit_config(run: Path, change) -> None:
    """Apply `change(config)` to a run's config/config.yaml (written back with sorted keys)."""
    path = run / "config" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    change(config)
    path.write_text(yaml.safe_dump(config))
