"""Every command README.md shows runs as written, after the install README.md gives.

A copy of the repository is installed into a fresh venv exactly as Quick start command 1
says (`python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.lock &&
pip install --no-deps -e . && snakemake --cores 4`), with no help from the test environment (no PYTHONPATH, not this venv); then
each other command runs in that venv. Sizes are small where the README's are large. A
command added to the README fails `test_every_readme_command_is_run_or_has_a_reason` until
it is run here or given a reason not to be.
"""

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import yaml

from benchmarks.workflow_runs import REPO, WORKFLOW_PARTS

pytestmark = pytest.mark.slow

INSTALL_AND_RUN = (
    "python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.lock"
    " && pip install --no-deps -e . && snakemake --cores 4"
)
# README command -> what this test runs instead (a smaller size, or a config pointing at files that exist)
SMALLER = {
    "gistlm synthesize --patients 100000 --sites 12 --out registry": "gistlm synthesize --patients 300 --sites 2 --out registry",
}
RUN = {
    INSTALL_AND_RUN,
    "gistlm synthesize --patients 100000 --sites 12 --out registry",
    "snakemake --cores 4 --configfile my_extract.yaml",
    "gistlm provenance results/survival/cox.csv",
    "gistlm provenance results/survival/cox.csv --json",
    "snakemake --report results/snakemake-report.zip",
    "snakemake --cores 4 results/report.pdf",
    "snakemake --unlock",
    "python -m gistlm.synthetic --out resources/extract",
    "snakemake --lint",
    "snakemake --cores 4 release",
}
NOT_RUN = {
    "python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.lock && pip install --no-deps -e ."
    " && ruff check . && ruff format --check . && snakefmt --check . && snakemake --lint && pytest": "the test suite itself, which holds this test (CI runs it: .ci/run)",
    "pip install uv": "the tool that regenerates requirements.lock from PyPI; tests/test_lock.py checks the lock",
    "pytest tests/test_slurm.py": "the Slurm test (tests/test_slurm.py) is part of the suite",
    'pytest -m "not slow"': "the fast lane of this very suite",
    'python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[slurm]"': "Slurm setup: tests/test_slurm.py",
    "snakemake --workflow-profile profiles/slurm -n": "needs a Slurm cluster: tests/test_slurm.py",
    "snakemake --workflow-profile profiles/slurm": "needs a Slurm cluster: tests/test_slurm.py",
    "snakemake --workflow-profile profiles/slurm --default-resources "
    "slurm_partition=<partition> slurm_account=<account> mem_mb=1000 runtime=10": "needs a Slurm cluster",
    # (spaces are collapsed when commands are read)
    "printf 'causal:\\n bootstrap:\\n chunks: 10\\n' > cluster.yaml": "Slurm example (cluster.yaml)",
    "snakemake --workflow-profile profiles/slurm --configfile cluster.yaml": "needs a Slurm cluster",
    "snakemake --workflow-profile profiles/slurm --unlock": "needs a Slurm cluster",
    "python benchmarks/workflow_timing.py": "a benchmark (two timed whole runs), not a check",
    "python benchmarks/scale.py --patients 100000 1000000 --set causal.bootstrap.replicates=100": "a benchmark at 100k and 1M patients (minutes to hours)",
    "python benchmarks/causal_simulation.py": "a simulation study of the estimators, not a check",
    "python benchmarks/side_by_side.py --patients 1000000 --sites 20 --repeats 1": "a benchmark against R (minutes)",
    "python benchmarks/import_costs.py [--compare OLD_CHECKOUT]": "a benchmark of every rule script's imports",
    "python benchmarks/slurm_timing.py [--compare OLD_CHECKOUT]": "a benchmark on a Slurm test cluster (minutes)",
    "python benchmarks/bootstrap_timing.py --compare OLD_CHECKOUT": "a benchmark of one bootstrap chunk's replicates",
    "python benchmarks/bootstrap_timing.py --scaling RUN --configfile FILE": "a benchmark of the bootstrap on 1 and 2 cores",
}


def readme_commands() -> set[str]:
    """Shell commands of README.md: lines of its bash blocks and inline `snakemake ...`-like code."""
    text = (REPO / "README.md").read_text()
    commands = set()
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", "").splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command and not command.startswith("#"):
                commands.add(" ".join(command.split()))
    commands |= set(re.findall(r"`((?:snakemake|gistlm|python3?|pip|pytest) [^`]*)`", text))
    return commands


def test_every_readme_command_is_run_or_has_a_reason():
    commands = readme_commands()
    assert commands - RUN - set(NOT_RUN) == set()
    assert RUN | set(NOT_RUN) == commands  # no stale entry either


def clean_environment() -> dict:
    """The user's shell: no PYTHONPATH, no active venv, this test's venv off PATH."""
    environment = {
        key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    }
    ours = str(Path(sys.executable).parent)
    environment["PATH"] = os.pathsep.join(part for part in environment["PATH"].split(os.pathsep) if part != ours)
    return environment


def shell(workdir: Path, command: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    """`command` in bash in the installed venv (activated as the README does)."""
    run = subprocess.run(
        ["bash", "-c", f". .venv/bin/activate && {command}"],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=clean_environment(),
        timeout=timeout,
    )
    assert run.returncode == 0, f"{command} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return run


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A copy of the repository after README command 1, and the seconds that took."""
    workdir = tmp_path_factory.mktemp("readme") / "gistlm"
    workdir.mkdir()
    for part in [*WORKFLOW_PARTS, "pyproject.toml", "requirements.lock", "README.md", "benchmarks"]:
        source = REPO / part
        ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
        shutil.copytree(source, workdir / part, ignore=ignore) if source.is_dir() else shutil.copy2(source, workdir)
    started = time.monotonic()
    run = subprocess.run(
        ["bash", "-c", INSTALL_AND_RUN],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=clean_environment(),
        timeout=3600,
    )
    seconds = time.monotonic() - started
    assert run.returncode == 0, f"README command 1 failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    print(f"README command 1 (fresh venv, install from requirements.lock, whole run): {seconds:.0f} s")
    return workdir, run


def test_command_1_installs_and_analyses_the_shipped_extract(installed):
    workdir, run = installed
    assert (workdir / "results" / "report.html").is_file()
    # the editable install is the copy's own code, not this checkout's
    where = shell(workdir, "python -c 'import gistlm; print(gistlm.__file__)'").stdout.strip()
    assert where == str(workdir / "src" / "gistlm" / "__init__.py")
    assert "gistlm: WARNING: synthetic demonstration data, not patients" in run.stderr
    assert "gistlm: run complete." in run.stderr


def test_provenance_commands(installed):
    workdir, _ = installed
    text = shell(workdir, "gistlm provenance results/survival/cox.csv").stdout
    assert text.startswith("Lineage of results/survival/cox.csv")
    assert "Every recorded hash matches the files on disk." in text
    lineage = json.loads(shell(workdir, "gistlm provenance results/survival/cox.csv --json").stdout)
    assert lineage["file"] == "results/survival/cox.csv"
    assert {step["rule"] for step in lineage["steps"]} >= {"cox_regression", "ingest_extract"}


def test_the_release_folder(installed):
    workdir, _ = installed
    shell(workdir, "snakemake --cores 4 release")
    with open(workdir / "results" / "release" / "MANIFEST.tsv", newline="") as manifest:
        rows = list(csv.DictReader(manifest, delimiter="\t"))
    assert {"report.html", "disclosure_audit.csv", "tables/table_one.docx"} <= {row["file"] for row in rows}
    assert all(row["audit"].startswith("passed") for row in rows)


def test_snakemakes_own_report(installed):
    workdir, _ = installed
    shell(workdir, "snakemake --report results/snakemake-report.zip")
    with zipfile.ZipFile(workdir / "results" / "snakemake-report.zip") as report:
        assert any(name.endswith("report.html") for name in report.namelist())


def test_synthesize_and_a_users_config_file(installed):
    workdir, _ = installed
    shell(workdir, SMALLER["gistlm synthesize --patients 100000 --sites 12 --out registry"])
    sites = yaml.safe_load((workdir / "registry" / "sites.yaml").read_text())["sites"]
    assert [site["name"] for site in sites] == ["S01", "S02"]
    # the README's my_extract.yaml, its paths pointing at tables that exist here
    own = {
        "raw": {table: sites[0][table] for table in ["patients", "liver_metastases", "treatments", "follow_up"]}
        | {"encoding": "utf-8"}
    }
    (workdir / "my_extract.yaml").write_text(yaml.safe_dump(own))
    planned = shell(workdir, "snakemake --cores 4 --configfile my_extract.yaml --dry-run").stdout
    assert "registry/site_01/patients.csv" in planned and "resources/extract" not in planned
    planned = shell(workdir, "snakemake --cores 4 --configfile registry/sites.yaml --dry-run").stdout
    assert "registry/site_02/follow_up.csv" in planned


def test_regenerating_the_shipped_extract_gives_the_same_files(installed):
    workdir, _ = installed
    shipped = {path.name: path.read_bytes() for path in (REPO / "resources" / "extract").iterdir()}
    shell(workdir, "python -m gistlm.synthetic --out resources/extract")
    assert {path.name: path.read_bytes() for path in (workdir / "resources" / "extract").iterdir()} == shipped


def test_unlock_and_lint(installed):
    workdir, _ = installed
    shell(workdir, "snakemake --unlock")
    lint = shell(workdir, "snakemake --lint")  # exits 1 on any finding
    assert re.findall(r"^Lints for .*$", lint.stdout + lint.stderr, flags=re.M) == []


@pytest.mark.skipif(shutil.which("chromium") is None, reason="the PDF needs Debian's chromium (README)")
def test_the_pdf_on_request(installed):
    workdir, _ = installed
    shell(workdir, "snakemake --cores 4 results/report.pdf")
    assert (workdir / "results" / "report.pdf").read_bytes().startswith(b"%PDF")
