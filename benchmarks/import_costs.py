"""CPU seconds each rule script spends importing before it does any work.

Every job of a cold run is a fresh Python process; on the shipped extract most of a job's
1-3 s was starting Python and importing pandas, lifelines, statsmodels or matplotlib
(issue 14). For each workflow/scripts/*.py this runs the script's own import statements
(top level, as written) in a fresh interpreter and reports the least CPU time (user + system)
of --repeats runs: CPU time, not wall time, so that a shared machine's load does not count.
With --compare ROOT (another checkout, e.g. `git worktree add /tmp/old <commit>`), both
columns and their difference are printed. `python -X importtime -c "<the imports>"` shows
which module costs what.

Usage: python benchmarks/import_costs.py [--repeats 3] [--compare ROOT]
"""

import argparse
import ast
import os
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def import_lines(script: Path) -> str:
    """The script's top-level import statements (snakemake's own object aside)."""
    tree = ast.parse(script.read_text())
    return "\n".join(ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)))


def cpu_seconds(code: str, root: Path, repeats: int) -> float:
    """Least user + system CPU seconds of a fresh `python -c code` with root/src on the path."""
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    times = []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=root)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(times)


def costs(root: Path, repeats: int) -> dict[str, float]:
    """Script name -> CPU seconds of its imports; `(python alone)` is the interpreter's start."""
    found = {"(python alone)": cpu_seconds("pass", root, repeats)}
    for script in sorted((root / "workflow" / "scripts").glob("*.py")):
        found[script.stem] = cpu_seconds(import_lines(script), root, repeats)
    return found


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compare", type=Path, help="another checkout of the workflow (before)")
    args = parser.parse_args(argv)
    ours = costs(ROOT, args.repeats)
    theirs = costs(args.compare.resolve(), args.repeats) if args.compare else {}
    header = (
        "| rule script | import CPU s |" if not theirs else "| rule script | before CPU s | after CPU s | saved s |"
    )
    print(header)
    print("|---|---:|" if not theirs else "|---|---:|---:|---:|")
    for name, seconds in ours.items():
        if theirs:
            before = theirs.get(name, float("nan"))
            print(f"| {name} | {before:.2f} | {seconds:.2f} | {before - seconds:.2f} |")
        else:
            print(f"| {name} | {seconds:.2f} |")
    total = sum(seconds for name, seconds in ours.items() if not name.startswith("("))
    line = f"sum over the rule scripts (one job each): {total:.1f} CPU s"
    if theirs:
        line += f", before {sum(s for n, s in theirs.items() if not n.startswith('(')):.1f} CPU s"
    print(line)


if __name__ == "__main__":
    main()
