"""A rule's log, `snakemake.log[0]`: where its warnings, progress and stderr go.

Without it they go nowhere a user looks (on a cluster, into the scheduler's files), and a
finished run leaves its logs empty. `recorded` (gistlm.provenance) opens it first thing, and
notes what the rule read and wrote there.
"""

import logging
import sys
from pathlib import Path

# the terminal's stderr, kept for the one-paragraph messages the user must see there
_console = None


def open_rule_log(smk) -> logging.Logger:
    """Send this job's stderr, `logging` and `warnings` to its log file; return its logger."""
    global _console
    logger = logging.getLogger(f"gistlm.{smk.rule}")
    if not smk.log:
        return logger
    Path(smk.log[0]).parent.mkdir(parents=True, exist_ok=True)
    if _console is None:
        _console = sys.stderr
    # a fresh log per run of the job: a job killed and run again does not say everything twice
    sys.stderr = open(smk.log[0], "w", buffering=1, encoding="utf-8")
    # the libraries' warnings, and our own progress
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", force=True
    )
    logger.setLevel(logging.INFO)
    logging.captureWarnings(True)
    return logger


def console():
    """Where a message for the user goes: the terminal, also once the rule log has taken stderr."""
    return _console or sys.stderr


def describe(path: str | Path) -> str:
    """`path` and its size in the study's terms: rows of a table, files of a folder, else bytes."""
    path = Path(path)
    if path.is_dir():
        return f"{path} ({sum(1 for p in path.rglob('*') if p.is_file() and p.name != '.snakemake_timestamp')} files)"
    if path.suffix == ".parquet":
        # here: the Snakefile imports this module (configuration's errors), and pyarrow.parquet
        # took 75 ms of every Snakemake start, each Slurm job step's too
        import pyarrow.parquet as pq

        return f"{path} ({pq.read_metadata(path).num_rows} rows)"
    if path.suffix in {".csv", ".tsv"}:
        with open(path, "rb") as handle:
            lines = sum(1 for _ in handle)
        return f"{path} ({lines} lines)"
    return f"{path} ({path.stat().st_size} bytes)"
