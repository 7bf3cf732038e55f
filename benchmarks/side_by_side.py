"""The pipeline's primary analysis against a plain R script on the same raw extract.

Generates (or reuses) a multi-site CSV extract, then times, each from scratch:
- R: benchmarks/r_primary_analysis.R (data.table fread, quarantine of the generator's malformed
  records, eligibility, groups, KM, log-rank, Cox stratified by site);
- the pipeline's path to the same results: `snakemake results/survival/cox.csv
  results/survival/km.csv results/survival/logrank.csv` in a fresh copy of the workflow
  (ingestion, validation, eligibility, groups, KM, log-rank, Cox).
Prints both times (median of --repeats), their ratio, the eligible counts and both vectors of
multivariable Cox coefficients, which must agree to 1e-4. On a shared machine wall times
mean little: it also prints both runs' CPU seconds (user + system of every process, from
getrusage) and their ratio, and the CPU seconds of each rule (its jobs' benchmark files).

Target (issue 14, 2 cores): pipeline <= 1.5 x R on 1M patients in 20 sites.
Needs Rscript with survival and data.table (Debian: r-base-core r-cran-survival r-cran-data.table).
Usage: python benchmarks/side_by_side.py [--patients 1000000] [--sites 20] [--repeats 3] [--out DIR]
"""

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml
from scale import generate_extract, run_workflow, write_config

HERE = Path(__file__).resolve().parent
TARGETS = ["results/survival/cox.csv", "results/survival/km.csv", "results/survival/logrank.csv"]
TARGET_RATIO = 1.5
COEFFICIENT_TOLERANCE = 1e-4


def manifest(sites_yaml: Path, folder: Path) -> Path:
    """site, table, path: the R script's list of raw files."""
    rows = [
        {"site": site["name"], "table": table, "path": site[table]}
        for site in yaml.safe_load(sites_yaml.read_text())["sites"]
        for table in ("patients", "liver_metastases", "treatments", "follow_up")
    ]
    path = folder / "manifest.tsv"
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return path


def children_cpu() -> float:
    """User + system CPU seconds of every finished child process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_r(manifest_path: Path, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["Rscript", str(HERE / "r_primary_analysis.R"), str(manifest_path), str(out)], check=True)
    return time.perf_counter() - start


def timed(run, *args) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the processes it ran)."""
    cpu = children_cpu()
    wall = run(*args)
    return wall, children_cpu() - cpu


def rule_cpu(workdir: Path) -> pd.DataFrame:
    """Per rule: jobs, CPU seconds summed over its jobs (snakemake's `benchmark:` files)."""
    root = workdir / "results" / "benchmarks"
    jobs = [
        {
            "rule": path.relative_to(root).parts[0].removesuffix(".tsv"),
            "cpu_s": float(pd.to_numeric(pd.read_csv(path, sep="\t")["cpu_time"], errors="coerce").max()),
        }
        for path in sorted(root.rglob("*.tsv"))
    ]
    table = pd.DataFrame(jobs).groupby("rule").agg(jobs=("cpu_s", "size"), cpu_s=("cpu_s", "sum"))
    return table.sort_values("cpu_s", ascending=False)


def pipeline_coefficients(workdir: Path) -> pd.Series:
    cox = pd.read_csv(workdir / "results" / "survival" / "cox.csv")
    return cox[cox["model"] == "multivariable"].set_index("term")["coef"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20230630)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "out" / "side_by_side")
    args = parser.parse_args(argv)
    if shutil.which("Rscript") is None:
        sys.exit("Rscript not found: apt-get install r-base-core r-cran-survival r-cran-data.table")
    folder = args.out / str(args.patients)
    folder.mkdir(parents=True, exist_ok=True)
    sites_yaml = generate_extract(args.patients, args.sites, args.seed, folder, file_format="csv")
    config = write_config(sites_yaml, folder, [])
    r_times, pipeline_times, r_cpu, pipeline_cpu = [], [], [], []
    for _ in range(args.repeats):
        wall, cpu = timed(run_r, manifest(sites_yaml, folder), folder / "r")
        r_times.append(wall)
        r_cpu.append(cpu)
        wall, cpu = timed(run_workflow, folder, config, args.cores, TARGETS)
        pipeline_times.append(wall)
        pipeline_cpu.append(cpu)
    r_cox = pd.read_csv(folder / "r" / "cox.csv").set_index("term")["coef"]
    ours = pipeline_coefficients(folder / "workflow").reindex(r_cox.index)
    counts = pd.read_csv(folder / "r" / "counts.csv").set_index("quantity")["value"]
    eligible = len(
        pd.read_parquet(folder / "workflow" / "results" / "cohort" / "analysis.parquet", columns=["patient_id"])
    )
    r_median, ours_median = statistics.median(r_times), statistics.median(pipeline_times)
    ratio = ours_median / r_median
    difference = (ours - r_cox).abs().max()
    print(f"{args.patients:,} patients, {args.sites} sites, median of {args.repeats}")
    print(f"R script:  {r_median:.1f} s  (runs: {', '.join(f'{t:.1f}' for t in r_times)})")
    print(f"pipeline:  {ours_median:.1f} s  (runs: {', '.join(f'{t:.1f}' for t in pipeline_times)})")
    print(
        f"ratio pipeline / R: {ratio:.2f} (target <= {TARGET_RATIO}: {'met' if ratio <= TARGET_RATIO else 'NOT met'})"
    )
    r_cpu_median, ours_cpu_median = statistics.median(r_cpu), statistics.median(pipeline_cpu)
    print(
        f"CPU seconds: R {r_cpu_median:.1f}, pipeline {ours_cpu_median:.1f} (all its jobs and snakemake); "
        f"ratio {ours_cpu_median / r_cpu_median:.2f}"
    )
    print("pipeline CPU seconds per rule (last run):")
    print(rule_cpu(folder / "workflow").to_string(float_format="%.1f"))
    print(f"eligible patients: R {int(counts['eligible']):,}, pipeline {eligible:,}")
    print(pd.DataFrame({"R": r_cox, "pipeline": ours, "difference": ours - r_cox}).to_string(float_format="%.7f"))
    agree = difference <= COEFFICIENT_TOLERANCE and int(counts["eligible"]) == eligible
    print(
        f"largest coefficient difference {difference:.2e} (tolerance {COEFFICIENT_TOLERANCE:g}): "
        f"{'agree' if agree else 'DISAGREE'}"
    )
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
