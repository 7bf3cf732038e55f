"""Wall time of a cold full run and of a no-op rerun of the workflow on the default data.

Targets (issue 2, on 2 cores): cold run <= 15 s, no-op rerun <= 2 s. Also prints the CPU
seconds (user + system of snakemake and every job) of each, which a shared machine's load
does not inflate as it does wall times.
Usage: python benchmarks/workflow_timing.py [--repeats N]
"""

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

from workflow_runs import copy_workflow, snakemake


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(workdir: Path, *args: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one snakemake run."""
    start, cpu = time.perf_counter(), children_cpu()
    snakemake(workdir, *args)
    return time.perf_counter() - start, children_cpu() - cpu


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    cold, noop = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            workdir = copy_workflow(Path(tmp) / "gistlm")
            cold.append(timed(workdir))
            noop.append(timed(workdir))
    for name, runs in [("cold full run", cold), ("no-op rerun  ", noop)]:
        walls, cpus = [wall for wall, _ in runs], [cpu for _, cpu in runs]
        print(
            f"{name} : median {statistics.median(walls):6.2f} s wall, {statistics.median(cpus):6.2f} s CPU  "
            f"(runs: {', '.join(f'{wall:.2f}/{cpu:.2f}' for wall, cpu in runs)})"
        )


if __name__ == "__main__":
    main()
