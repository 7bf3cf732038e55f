"""Wall time of a Slurm run of the whole workflow on the one-node test cluster.

Target (issue 14, on 2 cores): <= 90 s. Starts the cluster of tests/slurm_cluster.py (needs
root and `apt-get install slurm-wlm munge`), runs the workflow on the shipped extract with
tests/test_slurm.py's options (profiles/slurm, status checks from 2 s) --repeats times, each
in a fresh copy, and prints each run's wall time and `sbatch` count and their median. With
--compare ROOT (another checkout, e.g. `git worktree add /tmp/old <commit>`), the two
checkouts' runs alternate on the same cluster, so that both meet the same machine.

Usage: python benchmarks/slurm_timing.py [--repeats 3] [--compare ROOT]
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from workflow_runs import REPO, copy_workflow

sys.path[:0] = [str(REPO), str(REPO / "tests")]  # as pytest sees them
from slurm_cluster import SlurmCluster  # noqa: E402 (tests/ is not a package)
from test_slurm import CLUSTER_START_TIMEOUT, SLURM_ARGS, SLURM_RUN_TIMEOUT, run_snakemake, submissions  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compare", type=Path, help="another checkout, run alternately with this one")
    args = parser.parse_args(argv)
    roots = {"this checkout": REPO, **({f"{args.compare}": args.compare.resolve()} if args.compare else {})}
    runs = {name: [] for name in roots}
    with tempfile.TemporaryDirectory() as tmp:
        cluster = SlurmCluster(Path(tmp, "cluster"))
        cluster.start(timeout=CLUSTER_START_TIMEOUT)
        try:
            for repeat in range(args.repeats):
                for number, (name, root) in enumerate(roots.items()):
                    workdir = copy_workflow(Path(tmp, f"run{repeat}_{number}"), source=root)
                    output, seconds = run_snakemake(workdir, SLURM_ARGS, cluster.env(), SLURM_RUN_TIMEOUT)
                    runs[name].append((seconds, len(submissions(output))))
                    print(f"{name}: {seconds:.1f} s, {runs[name][-1][1]} sbatch", flush=True)
        finally:
            cluster.stop()
    for name, timed in runs.items():
        walls = [seconds for seconds, _ in timed]
        print(
            f"{name}: median {statistics.median(walls):.1f} s wall "
            f"(runs: {', '.join(f'{wall:.1f}' for wall in walls)}; sbatch: {timed[0][1]})"
        )


if __name__ == "__main__":
    main()
