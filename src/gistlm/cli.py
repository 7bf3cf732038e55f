"""`gistlm` command line: trace a result's provenance, or write a synthetic extract."""

import argparse
import json
import signal
import sys
from pathlib import Path

from gistlm.provenance import lineage


def provenance_command(args) -> int:
    records_path = Path(args.records)
    if not records_path.is_file():
        print(f"gistlm: {records_path} not found; run the workflow first (snakemake --cores 4).", file=sys.stderr)
        return 2
    provenance = json.loads(records_path.read_text())
    # jobs run on request only (e.g. results/report.pdf) are not gathered: read their records too
    for extra in sorted(records_path.parent.glob("provenance/**/*.json")):
        record = json.loads(extra.read_text())
        key = record["rule"] + "".join(f"[{value}]" for value in record["wildcards"].values())
        provenance["records"].setdefault(key, record)
    target = Path(args.path)
    bookkeeping = target.parts[:2] == ("results", "provenance") or target.stem == "gather_provenance"
    if target.resolve() == records_path.resolve() or bookkeeping:
        print(
            f"{target}: provenance bookkeeping itself (a record, or rule gather_provenance's own "
            "log or benchmark, which joins the records); trace a result instead."
        )
        return 0
    if target.name == "snakemake-report.zip":
        print(
            f"{target}: Snakemake's own report (snakemake --report), built from this run's outputs "
            "flagged with report(); trace the files inside it, e.g. results/survival/cox.csv."
        )
        return 0
    steps = lineage(provenance, str(target))
    if not steps:
        print(f"gistlm: no rule of this run wrote {target}; is it under results/?", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"file": str(target), "steps": steps}, indent=2, sort_keys=True))
    else:
        print(describe(target, steps))
    return 1 if any(step["problems"] for step in steps) else 0


def describe(target: Path, steps: list[dict]) -> str:
    """Lineage as text: one block per step, newest first, raw files last."""
    lines = [f"Lineage of {target} ({len(steps)} steps, back to the raw extract)"]
    for number, step in enumerate(steps, 1):
        lines.append(f"\n{number}. rule {step['step']} (finished {step['finished']})")
        lines += [f"   params  {name} = {json.dumps(value)}" for name, value in step["params"].items()]
        lines += [f"   code    {path}  sha256 {digest[:16]}" for path, digest in step["code"].items()]
        lines += [f"   input   {path}  sha256 {digest[:16]}" for path, digest in step["inputs"].items()]
        lines += [f"   output  {path}  sha256 {digest[:16]}" for path, digest in step["outputs"].items()]
        lines += [f"   !! {problem}" for problem in step["problems"]]
    flagged = sum(len(step["problems"]) for step in steps)
    lines.append(
        f"\n{flagged} file(s) no longer match their recorded hash."
        if flagged
        else "\nEvery recorded hash matches the files on disk."
    )
    return "\n".join(lines)


def synthesize_command(arguments: list[str]) -> int:
    from gistlm.synthetic import main as synthesize

    return synthesize(arguments, prog="gistlm synthesize") or 0


def main(argv=None) -> int:
    # a pipe closed early (e.g. `| head`) ends the output quietly, as for any Unix tool
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = argparse.ArgumentParser(prog="gistlm", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    trace = commands.add_parser("provenance", help="lineage of a result back to the raw files")
    trace.add_argument("path", help="a file under results/, e.g. results/survival/cox.csv")
    trace.add_argument("--json", action="store_true", help="machine-readable output")
    trace.add_argument("--records", default="results/provenance.json", help="the run's provenance file")
    trace.set_defaults(run=provenance_command)
    # its options (and --help) belong to gistlm.synthetic's own parser: argparse's
    # REMAINDER would refuse an option as the first of them ("unrecognized arguments")
    commands.add_parser("synthesize", add_help=False, help="write a synthetic raw extract (gistlm synthesize --help)")
    args, rest = parser.parse_known_args(argv)
    if args.command == "synthesize":
        return synthesize_command(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
