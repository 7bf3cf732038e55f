"""End-to-end wall time and peak memory of the workflow on large synthetic extracts.

For each size N: generate a multi-site Parquet extract (gistlm.synthetic, --sites
hospitals), point a config file's `sites` at it, run the whole workflow in a fresh copy of
the repository and read the `benchmark:` file every job writes (results/benchmarks/**.tsv).
Prints, and writes to DIR/N/benchmark.md, one Markdown table per size (rule, jobs, wall s
summed over its jobs, slowest job, peak RSS MB) with the total wall time and the largest
single-job RSS; with several sizes, also how each rule scales.

Targets (2 cores): 1M patients in 20 sites with 100 bootstrap replicates end to end <= 180 s
(issue 14; 10 min in issue 6), every job < 3 GB RSS, and no rule growing faster than n log n
(100k -> 1M: ratio <~ 10-13x).
Usage: python benchmarks/scale.py [--patients 100000 1000000] [--sites 10] [--seed S] [--out DIR]
       [--set causal.bootstrap.replicates=50 ...] [--targets results/report.html]
"""

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml
from workflow_runs import copy_workflow, with_own_package

TARGET_SECONDS = 180
TARGET_RSS_MB = 3000


def generate_extract(patients: int, sites: int, seed: int, folder: Path, file_format: str = "parquet") -> Path:
    """A multi-site extract of `patients` in folder/extract as `file_format` files (reused if
    already there); returns its sites.yaml (the `sites` config, absolute paths)."""
    extract = (folder / "extract").resolve()
    if not (extract / "sites.yaml").is_file():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "gistlm.synthetic",
                "--patients",
                str(patients),
                "--sites",
                str(sites),
                "--seed",
                str(seed),
                "--format",
                file_format,
                "--out",
                str(extract),
            ],
            check=True,
        )
    return extract / "sites.yaml"


def write_config(sites: Path, folder: Path, settings: list[str]) -> Path:
    """A config file with the extract's `sites` and any `key.path=value`.

    Snakemake merges it into config/config.yaml key by key, so other settings keep their values.
    """
    config = yaml.safe_load(sites.read_text())
    for setting in settings:
        keys, value = setting.split("=", 1)
        *parents, last = keys.split(".")
        node = config
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = yaml.safe_load(value)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=True))
    return path.resolve()


def run_workflow(folder: Path, config: Path, cores: int, targets: list[str]) -> float:
    """Wall seconds of a cold run in a fresh copy of the workflow; its log is folder/snakemake.log."""
    workdir = folder / "workflow"
    if workdir.exists():
        shutil.rmtree(workdir)
    copy_workflow(workdir)
    # targets first: --configfile takes every argument after it
    command = [sys.executable, "-m", "snakemake", *targets, "--cores", str(cores), "--configfile", str(config)]
    start = time.perf_counter()
    with open(folder / "snakemake.log", "w") as log:
        run = subprocess.run(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, env=with_own_package(workdir))
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        tail = (folder / "snakemake.log").read_text()[-4000:]
        raise SystemExit(f"snakemake failed after {seconds:.0f} s (see {folder / 'snakemake.log'}):\n{tail}")
    return seconds


def rule_costs(workdir: Path) -> pd.DataFrame:
    """One row per rule from its jobs' benchmark files (a per-site rule has one per site)."""
    root = workdir / "results" / "benchmarks"
    jobs = []
    for path in sorted(root.rglob("*.tsv")):
        bench = pd.read_csv(path, sep="\t", na_values=["-", "NA"])
        jobs.append(
            {
                "rule": path.relative_to(root).parts[0].removesuffix(".tsv"),
                "wall_s": float(bench["s"].max()),
                "peak_rss_mb": float(pd.to_numeric(bench["max_rss"], errors="coerce").max()),
            }
        )
    per_rule = pd.DataFrame(jobs, columns=["rule", "wall_s", "peak_rss_mb"]).groupby("rule")
    return per_rule.agg(
        jobs=("wall_s", "size"),
        wall_s=("wall_s", "sum"),
        slowest_job_s=("wall_s", "max"),
        peak_rss_mb=("peak_rss_mb", "max"),
    ).reset_index()


def markdown(costs: pd.DataFrame, patients: int, total: float) -> str:
    lines = [
        f"### {patients:,} patients",
        "",
        "| rule | jobs | wall s (all jobs) | slowest job s | peak RSS MB |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in costs.sort_values("wall_s", ascending=False).itertuples():
        lines.append(
            f"| {row.rule} | {row.jobs} | {row.wall_s:.1f} | {row.slowest_job_s:.1f} | {row.peak_rss_mb:.0f} |"
        )
    peak = costs["peak_rss_mb"].max()
    lines += [
        "",
        f"total wall time (snakemake, end to end): **{total:.0f} s** "
        f"(target {TARGET_SECONDS} s: {'met' if total <= TARGET_SECONDS else 'NOT met'})",
        f"max single-job RSS: **{peak:.0f} MB** "
        f"(target < {TARGET_RSS_MB} MB: {'met' if peak < TARGET_RSS_MB else 'NOT met'})",
        "",
    ]
    return "\n".join(lines)


def scaling(results: dict[int, pd.DataFrame]) -> str:
    """Per rule, wall time of the largest size over the smallest (n log n over 10x is ~12x)."""
    small, large = min(results), max(results)
    joined = results[small].merge(results[large], on="rule", suffixes=("_small", "_large"))
    joined["ratio"] = joined["wall_s_large"] / joined["wall_s_small"]
    lines = [
        f"### scaling {small:,} -> {large:,}",
        "",
        f"| rule | wall s @{small:,} | wall s @{large:,} | ratio |",
        "|---|---:|---:|---:|",
    ]
    for row in joined.sort_values("ratio", ascending=False).itertuples():
        lines.append(f"| {row.rule} | {row.wall_s_small:.1f} | {row.wall_s_large:.1f} | {row.ratio:.1f}x |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--sites", type=int, default=10, help="hospitals of the registry (default 10)")
    parser.add_argument("--seed", type=int, default=20230630)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="extra config setting, e.g. causal.bootstrap.replicates=50 (repeatable)",
    )
    parser.add_argument(
        "--targets",
        nargs="*",
        default=[],
        help="files to build instead of the whole DAG, e.g. results/report.html "
        "(the core analysis without the causal rules)",
    )
    args = parser.parse_args(argv)
    results = {}
    for patients in args.patients:
        folder = args.out / str(patients)
        folder.mkdir(parents=True, exist_ok=True)
        config = write_config(generate_extract(patients, args.sites, args.seed, folder), folder, args.set)
        total = run_workflow(folder, config, args.cores, args.targets)
        results[patients] = rule_costs(folder / "workflow")
        text = markdown(results[patients], patients, total)
        if args.set or args.targets:
            text += f"settings: {' '.join(args.set)} targets: {' '.join(args.targets) or 'all'}\n"
        (folder / "benchmark.md").write_text(text)
        print(text, flush=True)
    if len(results) > 1:
        text = scaling(results)
        (args.out / "scaling.md").write_text(text)
        print(text)


if __name__ == "__main__":
    main()
