"""Provenance: what each rule ran, on which bytes, with which settings, and what it wrote.

Every rule script runs inside `recorded(snakemake)`, which writes the rule's record (the
`provenance` output) once the rule's other outputs exist; `gather` joins the records into
`results/provenance.json`, and `lineage` walks them back from any result to the raw files.
"""

import hashlib
import json
import os
import platform
import subprocess
import sys
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from gistlm.extract.errors import report_extract_errors
from gistlm.rule_log import describe, open_rule_log

KEY_PACKAGES = [
    "snakemake",
    "pandas",
    "numpy",
    "pyarrow",
    "lifelines",
    "pandera",
    "great-expectations",
    "matplotlib",
    "tableone",
    "statsmodels",
    "jinja2",
    "gistlm",
]
CHUNK = 1 << 20


def sha256(path: str | Path) -> str:
    """SHA-256 of a file, or of a folder's files (names and contents, in sorted order)."""
    path = Path(path)
    digest = hashlib.sha256()
    # Snakemake stamps a finished output folder with .snakemake_timestamp: not content
    files = (
        sorted(p for p in path.rglob("*") if p.is_file() and p.name != ".snakemake_timestamp")
        if path.is_dir()
        else [path]
    )
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as handle:
            while block := handle.read(CHUNK):
                digest.update(block)
    return digest.hexdigest()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def package_versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in KEY_PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def git_state(directory: str | Path) -> dict:
    """Commit of the workflow's checkout and whether its tracked files were edited."""

    def git(*args):
        run = subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True)
        return run.stdout.strip() if run.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit or "unknown (not a git checkout)", "dirty": bool(dirty) if commit else None}


def _named_files(io) -> dict[str, list[str]]:
    """Snakemake's named input/output lists as {name: [paths]}; unnamed ones under `_`."""
    named = {name: ([value] if isinstance(value, str) else list(value)) for name, value in io.items()}
    listed = {path for paths in named.values() for path in paths}
    unnamed = [path for path in io if path not in listed]
    return {**named, **({"_": unnamed} if unnamed else {})}


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


def rule_record(smk, started: str, finished: str) -> dict:
    """The provenance record of one finished job, from Snakemake's script object."""
    inputs = _named_files(smk.input)
    code_files = [Path(rule_script()), *map(Path, inputs.pop("code", []))]
    outputs = {name: paths for name, paths in _named_files(smk.output).items() if name != "provenance"}
    params = {name: _jsonable(value) for name, value in smk.params.items()}
    return {
        "rule": smk.rule,
        "wildcards": dict(smk.wildcards.items()),
        "inputs": {path: sha256(path) for paths in inputs.values() for path in paths},
        "outputs": {path: sha256(path) for paths in outputs.values() for path in paths},
        "logs": list(smk.log),
        "params": params,
        "params_sha256": text_sha256(json.dumps(params, sort_keys=True)),
        "code": {str(path): sha256(path) for path in code_files if path.exists()},
        "versions": package_versions(),
        "git": git_state(smk.scriptdir),
        "started": started,
        "finished": finished,
    }


def rule_script() -> str:
    """The script the job runs, as Snakemake names it in the script's preamble (whatever the rule's name)."""
    return os.path.relpath(sys.modules["__main__"].__file__)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def recorded(smk):
    """Run a rule's body with its log open and clean user errors, then write its provenance record.

    The log says what the rule read and wrote, so that no log of a finished run is empty; the
    body gets the rule's logger (`with recorded(snakemake) as log:`) for what only it knows.
    """
    started = now()
    log = open_rule_log(smk)
    with report_extract_errors(smk.log[0] if smk.log else None):
        for name, paths in _named_files(smk.input).items():
            if name != "code":
                log.info("read %s: %s", name, ", ".join(map(describe, paths)))
        yield log
        for name, paths in _named_files(smk.output).items():
            if name != "provenance":
                log.info("wrote %s: %s", name, ", ".join(map(describe, paths)))
    record = rule_record(smk, started, now())
    Path(smk.output.provenance).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def gather(record_paths: list[str], config: dict) -> dict:
    """All rule records, keyed by output file, with the run's config and its hash."""
    records = [json.loads(Path(path).read_text()) for path in sorted(record_paths)]
    config_text = json.dumps(config, sort_keys=True)
    return {
        "config": config,
        "config_sha256": text_sha256(config_text),
        "records": {f"{r['rule']}{''.join(f'[{v}]' for v in r['wildcards'].values())}": r for r in records},
    }


def producer_of(provenance: dict, path: str) -> tuple[str, dict] | None:
    """The record that wrote `path` (a file, a log, a benchmark, or a file in an output folder)."""
    target = Path(path)
    if target.parts[:2] == ("results", "benchmarks"):
        # results/benchmarks/<rule>.tsv or results/benchmarks/<rule>/<wildcard>/.../<wildcard>.tsv
        rule, *values = target.with_suffix("").parts[2:]
        key = rule + "".join(f"[{value}]" for value in values)
        return (key, provenance["records"][key]) if key in provenance["records"] else None
    for key, record in provenance["records"].items():
        for output in [*record["outputs"], *record["logs"]]:
            if target == Path(output) or Path(output) in target.parents:
                return key, record
    return None


def lineage(provenance: dict, path: str) -> list[dict]:
    """Steps from `path` back to the raw files, each with its stale/edited flags."""
    steps, todo, seen = [], [path], set()
    while todo:
        current = todo.pop(0)
        found = producer_of(provenance, current)
        if found is None or found[0] in seen:
            continue
        key, record = found
        seen.add(key)
        steps.append(
            {
                "step": key,
                "rule": record["rule"],
                "params": record["params"],
                "code": record["code"],
                "inputs": record["inputs"],
                "outputs": record["outputs"],
                "finished": record["finished"],
                "problems": _problems(record),
            }
        )
        todo += list(record["inputs"])
    return steps


def _problems(record: dict) -> list[str]:
    """Files whose bytes no longer match the record: edited by hand, or since rerun."""
    problems = []
    for kind in ["inputs", "outputs", "code"]:
        for path, digest in record[kind].items():
            if not Path(path).exists():
                problems.append(f"{kind[:-1] if kind != 'code' else 'code'} {path} is missing")
            elif sha256(path) != digest:
                problems.append(f"{path} changed since the run (hash differs): stale or hand-edited")
    return problems


def run_summary(raw_record_paths: list[str], config: dict, directory: str | Path) -> dict:
    """What the report's provenance section shows: data, config, code, versions, date."""
    raw_files = {}
    for path in raw_record_paths:
        record = json.loads(Path(path).read_text())
        raw_files.update({name: digest for name, digest in record["inputs"].items() if name not in record["code"]})
    return {
        "raw_files": dict(sorted(raw_files.items())),
        "data_sha256": text_sha256(json.dumps(raw_files, sort_keys=True)),
        "config_sha256": text_sha256(json.dumps(config, sort_keys=True)),
        "config_text": json.dumps(config, indent=2, sort_keys=True),
        "git": git_state(directory),
        "versions": package_versions(),
        "run_date": now(),
    }
