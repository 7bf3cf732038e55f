# gistlm: the NCT06038552 analysis, from a hospital's raw extract to the survival report.
from snakemake.utils import min_version, validate

from gistlm.configuration import announce_synthetic, check_consistency, check_settings, print_closing_summary

min_version("9.0")


configfile: "config/config.yaml"


# A mistake in the analysis plan stops the run here, before any job, with one paragraph
# naming the config key: unknown keys and schema violations, a user config naming only some
# raw tables, then (defaults filled in) settings that disagree with each other or the data.
# Checked once, by the Snakemake the user started: the Snakemake of each Slurm job and job
# step gets the same settings, and the checks cost it 0.15 s.
if workflow.is_main_process:
    check_settings(config, workflow)
validate(config, "config/schema.yaml")  # everywhere: it fills in the defaults
if workflow.is_main_process:
    check_consistency(config, workflow)


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
        rules.render_report.output.html,
        rules.gather_provenance.output.provenance,
        rules.render_causal_section.output.html,
        rules.release_manifest.output.manifest,


declare_software()


onstart:
    announce_synthetic(config, workflow)


onsuccess:
    print_closing_summary(config, workflow)
