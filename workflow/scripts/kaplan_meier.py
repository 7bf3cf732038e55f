"""Rule kaplan_meier: analysis cohort -> KM curves, medians, OS rates, log-rank, follow-up."""
import pandas as pd

from gistlm.survival import kaplan_meier_table, logrank_tests, median_os, os_rates
from gistlm.provenance import recorded

with recorded(snakemake):
    cohort = pd.read_parquet(snakemake.input.cohort)
    groups, alpha = snakemake.params.groups, snakemake.params.alpha
    kaplan_meier_table(cohort, groups, alpha).to_csv(snakemake.output.km, index=False)
    median_os(cohort, groups, alpha).to_csv(snakemake.output.median, index=False)
    os_rates(cohort, groups, alpha, snakemake.params.rate_months).to_csv(snakemake.output.rates, index=False)
    logrank_tests(cohort, groups, snakemake.params.reference).to_csv(snakemake.output.logrank, index=False)
    # median follow-up by reverse Kaplan-Meier (censoring as the event)
    median_os(cohort, groups, alpha, reverse=True).to_csv(snakemake.output.follow_up, index=False)
