"""Rule landmark_analysis: treatment dates + covariates -> KM, Cox and group sizes at each landmark."""

import pandas as pd

from gistlm.causal.immortal_time import landmark_cohort, landmark_groups, landmark_models, read_dates
from gistlm.provenance import recorded
from gistlm.release.count_register import PUBLISHED, read_register, released
from gistlm.release.disclosure import suppress_columns

with recorded(snakemake):
    params, groups = snakemake.params, snakemake.params.groups
    dates = read_dates(snakemake.input.dates, pd.read_parquet(snakemake.input.cohort), params.covariates)
    km, cox, sizes = [], [], []
    for landmark in params.landmarks:
        rows = landmark_cohort(dates, landmark, groups["precedence"], groups["default"], groups["labels"])
        curves, models = landmark_models(
            rows, groups["labels"], groups["reference"], params.covariates, params.alpha, landmark
        )
        km.append(curves)
        cox.append(models)
        sizes.append(landmark_groups(dates, rows, landmark, groups["labels"]))
    # release tables: counts as the disclosure register decided them (gistlm.release.count_register)
    minimum, register = params.min_cell_count, read_register(snakemake.input.register)
    suppress_columns(pd.concat(km, ignore_index=True), ["at_risk", "events", "censored"], minimum).to_csv(
        snakemake.output.km, index=False
    )
    released(pd.concat(cox, ignore_index=True), register, PUBLISHED["landmark_cox.csv"], minimum).to_csv(
        snakemake.output.cox, index=False
    )
    released(pd.concat(sizes, ignore_index=True), register, PUBLISHED["landmark_groups.csv"], minimum).to_csv(
        snakemake.output.groups, index=False
    )
