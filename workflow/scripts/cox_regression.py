"""Rule cox_regression: analysis cohort -> Cox models and proportional-hazards tests."""

import pandas as pd

from gistlm.provenance import recorded
from gistlm.release.count_register import PUBLISHED, read_register, released
from gistlm.survival.overall_survival import cox_models

with recorded(snakemake):
    cohort = pd.read_parquet(snakemake.input.cohort)
    cox, ph_test = cox_models(
        cohort,
        snakemake.params.groups,
        snakemake.params.reference,
        snakemake.params.covariates,
        snakemake.params.alpha,
        snakemake.params.strata or None,
        snakemake.params.ph_transform,
    )
    released(
        cox, read_register(snakemake.input.register), PUBLISHED["cox.csv"], snakemake.params.min_cell_count
    ).to_csv(snakemake.output.cox, index=False)
    ph_test.to_csv(snakemake.output.ph_test, index=False)
