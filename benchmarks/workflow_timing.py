"""Wall time of a cold full run and of a no-op rerun of the workflow on the default data.

Targets (issue 2, on 2 cores): cold run <= 15 s, no-op rerun <= 2 s.
Usage: python benchmarks/workflow_timing.py [--repeats N]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from workflow_runs import copy_workflow, snakemake  # noqa: E402


def timed(workdir: Path, *args: str) -> float:
    start = time.perf_counter()
    snakemake(workdir, *args)
    return time.perf_counter() - start


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
    print(f"cold full run : median {statistics.median(cold):6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in cold)})")
    print(f"no-op rerun   : median {statistics.median(noop):6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in noop)})")


if __name__ == "__main__":
    main()
