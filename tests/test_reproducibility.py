"""Reruns give the same bytes: a second clean run, and a run killed mid-way then restarted."""

import hashlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from benchmarks.workflow_runs import SNAKEMAKE, copy_workflow, snakemake, with_own_package

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
    job = subprocess.Popen(
        [*SNAKEMAKE, "--cores", "2"],
        cwd=run,
        start_new_session=True,
        env=with_own_package(run),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
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


# --- package_code (workflow/rules/common.smk): the package files a rule declares -------------


def package_code_of(package: Path):
    """common.smk's package_code with its helpers, run on `package` (outside Snakemake)."""
    import ast
    import functools
    import os
    from types import SimpleNamespace

    from snakemake.exceptions import WorkflowError

    # common.smk is Snakemake's dialect, not Python: take the two functions' blocks (a `def`
    # line and the indented or blank lines after it)
    lines = (Path(__file__).resolve().parents[1] / "workflow" / "rules" / "common.smk").read_text().splitlines()
    blocks, inside = [], False
    for line in lines:
        if line and not line[0].isspace() and not inside_decorator(blocks, line):
            inside = (
                re.match(r"(@functools\.cache$|def (package_code|module_file|_imported_modules)\()", line) is not None
            )
        if inside:
            blocks.append(line)
    namespace = {
        "ast": ast,
        "functools": functools,
        "os": os,
        "re": re,
        "Path": Path,
        "WorkflowError": WorkflowError,
        "PACKAGE": package,
        "workflow": SimpleNamespace(basedir=package.parents[1]),
    }
    exec(compile("\n".join(blocks), "common.smk", "exec"), namespace)
    assert {"package_code", "module_file", "_imported_modules"} <= set(namespace)
    return namespace["package_code"]


def inside_decorator(blocks: list[str], line: str) -> bool:
    """A `def` line right after a kept decorator belongs to it."""
    return bool(blocks) and blocks[-1].startswith("@") and line.startswith("def ")


def test_package_code_follows_dotted_modules_and_their_packages(tmp_path, monkeypatch):
    package = tmp_path / "src" / "gistlm"
    modules = {
        "by_module.py": "from gistlm.estimators import cox\n",
        "by_name.py": "from gistlm.estimators.cox import CoxFitter\n",
        "by_import.py": "import gistlm.estimators.kaplan_meier\n",
        "flat.py": "from gistlm.by_name import CoxFitter\nimport numpy\n",
        "estimators/__init__.py": '"""Estimators."""\n',
        "estimators/cox.py": "from gistlm.estimators.partial_likelihood import PartialLikelihood\n",
        "estimators/partial_likelihood.py": "PartialLikelihood = object\n",
        "estimators/kaplan_meier.py": "import numpy as np\n",
        "unused.py": "",
    }
    for name, text in modules.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    monkeypatch.chdir(tmp_path)  # package_code names files from the working directory
    package_code = package_code_of(package)
    cox = {
        "src/gistlm/estimators/__init__.py",
        "src/gistlm/estimators/cox.py",
        "src/gistlm/estimators/partial_likelihood.py",
    }
    assert set(package_code("by_module")) == {"src/gistlm/by_module.py", *cox}
    assert set(package_code("by_name")) == {"src/gistlm/by_name.py", *cox}
    assert set(package_code("flat")) == {"src/gistlm/flat.py", "src/gistlm/by_name.py", *cox}
    assert set(package_code("by_import")) == {
        "src/gistlm/by_import.py",
        "src/gistlm/estimators/__init__.py",
        "src/gistlm/estimators/kaplan_meier.py",
    }
    assert set(package_code("estimators.kaplan_meier")) == {
        "src/gistlm/estimators/__init__.py",
        "src/gistlm/estimators/kaplan_meier.py",
    }


def imports_by_parsing_the_whole_file(path: Path) -> set[tuple[str, bool]]:
    """The oracle: every gistlm import anywhere in the file's syntax tree, as _imported_modules names them."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "gistlm":
            inner = node.module.partition(".")[2]
            names |= {(inner, True)} if inner else set()
            names |= {(f"{inner}.{alias.name}".lstrip("."), False) for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {(alias.name.partition(".")[2], True) for alias in node.names if alias.name.startswith("gistlm.")}
    return names


def test_the_import_lines_name_the_same_modules_as_the_whole_files_of_the_package():
    """package_code parses only the lines that begin a gistlm import: for every module of
    src/gistlm, the same imports as parsing the whole file."""
    package = Path(__file__).resolve().parents[1] / "src" / "gistlm"
    package_code = package_code_of(package)
    scan = package_code.__globals__["_imported_modules"]
    files = sorted(package.rglob("*.py"))
    assert len(files) > 40
    for path in files:
        assert set(scan(path)) == imports_by_parsing_the_whole_file(path), path
    assert ("estimators.cox", True) in scan(package / "causal" / "target_trial.py")  # a non-empty case


def test_import_looking_lines_that_do_not_parse_alone_fall_back_to_the_whole_file(tmp_path):
    package = tmp_path / "src" / "gistlm"
    package.mkdir(parents=True)
    (package / "documented.py").write_text(
        '''"""Use it as
from gistlm.estimators import (the estimators
"""

from gistlm.estimators.cox import (  # the fit (see below)
    CoxFitter,
)


def fit():
    from gistlm.estimators import kaplan_meier

    return kaplan_meier, CoxFitter
'''
    )
    scan = package_code_of(package).__globals__["_imported_modules"]
    assert set(scan(package / "documented.py")) == {
        ("estimators.cox", True),
        ("estimators.cox.CoxFitter", False),
        ("estimators", True),
        ("estimators.kaplan_meier", False),
    }
