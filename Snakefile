# gistlm: the NCT06038552 analysis, from a hospital's raw extract to the survival report.
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "config/schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/ingestion.smk"
include: "workflow/rules/validation.smk"
include: "workflow/rules/eligibility.smk"
include: "workflow/rules/groups.smk"
include: "workflow/rules/survival.smk"
include: "workflow/rules/causal.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/release.smk"


rule all:
    input:
        "results/report.html",
        "results/provenance.json",
        "results/causal/section.html",
        "results/release/MANIFEST.tsv",
