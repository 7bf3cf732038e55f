"""Rule kaplan_meier: analysis cohort -> KM curves, medians, OS rates, log-rank, follow-up."""

import pandas as pd

from gistlm.provenance import recorded
from gistlm.release.count_register import PUBLISHED, read_register, released
from gistlm.release.disclosure import suppress_columns
from gistlm.survival.overall_survival import kaplan_meier_table, logrank_tests, median_os, os_rates

with recorded(snakemake):
    cohort = pd.read_parquet(snakemake.input.cohort)
    groups, alpha = snakemake.params.groups, snakemake.params.alpha
    # tables that leave the hospital: small counts hidden (survival figures untouched)
    minimum = snakemake.params.min_cell_count
    suppress_columns(kaplan_meier_table(cohort, groups, alpha), ["at_risk", "events", "censored"], minimum).to_csv(
        snakemake.output.km, index=False
    )
    register = read_register(snakemake.input.register)  # one decision per count, for every table
    released(median_os(cohort, groups, alpha), register, PUBLISHED["median_os.csv"], minimum).to_csv(
        snakemake.output.median, index=False
    )
    os_rates(cohort, groups, alpha, snakemake.params.rate_months).to_csv(snakemake.output.rates, index=False)
    logrank_tests(cohort, groups, snakemake.params.reference).to_csv(snakemake.output.logrank, index=False)
    # median follow-up by reverse Kaplan-Meier (censoring as the event)
    released(median_os(cohort, groups, alpha, reverse=True), register, PUBLISHED["follow_up.csv"], minimum).to_csv(
        snakemake.output.follow_up, index=False
    )
