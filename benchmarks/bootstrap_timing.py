"""CPU seconds of one bootstrap chunk's replicates on the shipped cohort, and where they go.

The bootstrap chunks are the largest jobs of a cold run (issue 14). This runs
`gistlm.causal.bootstrap.run_chunk` on the analysis cohort of a finished run with the default
settings, in a fresh interpreter, and reports its CPU seconds (imports excluded; least of
--repeats, CPU rather than wall time so that a shared machine's load counts less). With
--compare ROOT (another checkout), both are run alternately and their outputs must be equal
to the last bit; --profile prints the functions that take the time.

With --scaling RUN (a finished run's folder, e.g. benchmarks/out/100000/workflow from
scale.py, with its --configfile), the target of issue 14 instead: the wall time of
`snakemake --forcerun bootstrap_chunk` for --replicates replicates as 1 chunk on 1 core and as
2 chunks on 2 cores (median of --repeats, Snakemake's own start included), and the speed-up.

Usage: python benchmarks/bootstrap_timing.py [--results results] [--chunk 0] [--repeats 3]
       [--compare ROOT] [--profile]
       python benchmarks/bootstrap_timing.py --scaling RUN [--configfile FILE] [--replicates 100]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from workflow_runs import SNAKEMAKE, with_own_package

ROOT = Path(__file__).resolve().parents[1]

CHUNK = """
import cProfile, pstats, sys, time, pandas as pd, yaml
from gistlm.causal.bootstrap import run_chunk
config = yaml.safe_load(open(sys.argv[1]))
causal, groups = config["causal"], config["groups"]
settings = {key: causal[key] for key in ["weighting", "propensity", "survival_at_months", "rmst_horizons_months"]}
cohort = pd.read_parquet(sys.argv[2])
profile = cProfile.Profile() if sys.argv[5] == "1" else None
start = time.process_time()
if profile:
    profile.enable()
table = run_chunk(cohort, groups["labels"], groups["reference"], settings, causal["bootstrap"]["replicates"],
                  causal["bootstrap"]["chunks"], int(sys.argv[3]), causal["bootstrap"]["seed"])
seconds = time.process_time() - start
if profile:
    profile.disable()
    pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(15)
table.to_csv(sys.argv[4], index=False)
print(seconds)
"""


def chunk_cpu(root: Path, cohort: Path, chunk: int, output: Path, profile: bool) -> float:
    """CPU seconds of run_chunk with root's gistlm; its replicates are written to output."""
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            CHUNK,
            str(ROOT / "config" / "config.yaml"),
            str(cohort),
            str(chunk),
            str(output),
            "1" if profile else "0",
        ],
        env={**os.environ, "PYTHONPATH": str(root / "src")},
        check=True,
        capture_output=True,
        text=True,
    )
    if profile:
        print(found.stderr)
    return float(found.stdout.strip().splitlines()[-1])


def chunk_wall(run: Path, configs: list[Path], replicates: int, cores: int) -> float:
    """Wall seconds of snakemake rerunning the bootstrap as `cores` chunks on `cores` cores."""
    override = run / f".bootstrap_{cores}_chunks.yaml"
    override.write_text(yaml.safe_dump({"causal": {"bootstrap": {"replicates": replicates, "chunks": cores}}}))
    targets = [f"results/causal/bootstrap/chunk_{chunk}.csv" for chunk in range(cores)]
    command = [*SNAKEMAKE, *targets, "--cores", str(cores), "--forcerun", "bootstrap_chunk", "--quiet"]
    start = time.perf_counter()
    subprocess.run(
        [*command, "--configfile", *map(str, [*configs, override])],
        cwd=run,
        env=with_own_package(run),
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def scaling(run: Path, configs: list[Path], replicates: int, repeats: int) -> None:
    walls = {cores: [chunk_wall(run, configs, replicates, cores) for _ in range(repeats)] for cores in (1, 2)}
    for cores, found in walls.items():
        print(
            f"{replicates} replicates, {cores} chunk(s) on {cores} core(s): median {statistics.median(found):.1f} s "
            f"wall (runs: {', '.join(f'{value:.1f}' for value in found)})"
        )
    print(f"speed-up 1 -> 2 cores: {statistics.median(walls[1]) / statistics.median(walls[2]):.2f}x (target 1.8x)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    parser.add_argument("--chunk", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compare", type=Path)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--scaling", type=Path, metavar="RUN", help="a finished run's folder")
    parser.add_argument("--configfile", type=Path, action="append", default=[], help="the run's own config files")
    parser.add_argument("--replicates", type=int, default=100)
    args = parser.parse_args(argv)
    if args.scaling:
        configs = [args.scaling / "config" / "config.yaml", *[path.resolve() for path in args.configfile]]
        scaling(args.scaling.resolve(), configs, args.replicates, args.repeats)
        return
    cohort = args.results / "cohort" / "analysis.parquet"
    if not cohort.exists():
        sys.exit(f"{cohort} not found: run the workflow first (snakemake --cores 2)")
    roots = {"this checkout": ROOT, **({"compared": args.compare.resolve()} if args.compare else {})}
    with tempfile.TemporaryDirectory() as tmp:
        times = {name: [] for name in roots}
        for _ in range(args.repeats):
            for name, root in roots.items():
                times[name].append(
                    chunk_cpu(root, cohort, args.chunk, Path(tmp, f"{len(times[name])}{name}.csv"), args.profile)
                )
        for name, found in times.items():
            print(
                f"{name:14}: chunk {args.chunk} replicates {min(found):6.2f} CPU s (runs: "
                f"{', '.join(f'{value:.2f}' for value in found)})"
            )
        if args.compare:
            same = Path(tmp, "0this checkout.csv").read_bytes() == Path(tmp, "0compared.csv").read_bytes()
            print("replicates identical to the last bit" if same else "REPLICATES DIFFER")


if __name__ == "__main__":
    main()
