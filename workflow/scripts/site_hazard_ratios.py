"""Rule site_hazard_ratios: analysis cohort -> per-site HRs, stratified HR, heterogeneity."""

import pandas as pd

from gistlm.provenance import recorded
from gistlm.release.count_register import PUBLISHED, read_register, released
from gistlm.survival.overall_survival import site_hazard_ratios

with recorded(snakemake):
    params = snakemake.params
    table = site_hazard_ratios(pd.read_parquet(snakemake.input.cohort), params.groups, params.reference, params.alpha)
    released(
        table, read_register(snakemake.input.register), PUBLISHED["site_hazard_ratios.csv"], params.min_cell_count
    ).to_csv(snakemake.output.sites, index=False)
