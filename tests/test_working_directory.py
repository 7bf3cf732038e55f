"""The workflow runs from any working directory: shipped files are found from the workflow's
folder (`shipped`, `package_code`: workflow.basedir), the user's files and results from the
working directory (`snakemake --snakefile <checkout>/Snakefile --directory <elsewhere>`)."""

import subprocess

import yaml

from benchmarks.workflow_runs import REPO, SNAKEMAKE, copy_workflow, planned_jobs, with_own_package


def test_a_dry_run_from_another_working_directory_plans_the_whole_run(tmp_path):
    checkout = copy_workflow(tmp_path / "checkout")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "config").mkdir(parents=True)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    # the user's config names the extract from the working directory; here the shipped one
    config["raw"] = {key: str(checkout / value) if key != "encoding" else value for key, value in config["raw"].items()}
    (elsewhere / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    run = subprocess.run(
        [
            *SNAKEMAKE,
            "--snakefile",
            str(checkout / "Snakefile"),
            "--directory",
            str(elsewhere),
            "--cores",
            "2",
            "--dry-run",
            "--quiet",
            "rules",
        ],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env=with_own_package(checkout),
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    planned = dict(line.split() for line in run.stdout.split("Job stats:")[1].splitlines()[3:] if line.strip())
    # nothing written beside the workflow's files
    assert not (checkout / "results").exists() and not (checkout / ".snakemake").exists()
    assert {rule: int(n) for rule, n in planned.items() if rule not in {"all", "total"}} == planned_jobs(checkout)
