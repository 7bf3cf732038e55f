"""Rule clone_censor_weight: treatment dates + covariates -> weighted KM and Cox per strategy."""

import pandas as pd

from gistlm.causal.immortal_time import read_dates
from gistlm.causal.target_trial import arm_cox, arm_kaplan_meier, clone_censor_weight, clone_weight_summary
from gistlm.provenance import recorded
from gistlm.release.count_register import PUBLISHED, read_register, released
from gistlm.release.disclosure import suppress_columns

with recorded(snakemake):
    params, settings = snakemake.params, snakemake.params.settings
    minimum = params.min_cell_count
    clones = clone_censor_weight(
        read_dates(snakemake.input.dates, pd.read_parquet(snakemake.input.cohort), settings["covariates"]),
        params.labels,
        params.reference,
        settings,
    )
    suppress_columns(arm_kaplan_meier(clones), ["at_risk", "events"], minimum).to_csv(snakemake.output.km, index=False)
    # an arm's deaths are its group's deaths counted another way: hidden where those are
    register = read_register(snakemake.input.register)
    suppress_columns(
        released(clone_weight_summary(clones), register, PUBLISHED["ccw_weights.csv"], minimum),
        ["rows", "artificially_censored"],
        minimum,
    ).to_csv(snakemake.output.weights, index=False)
    # the Cox model is the peak of memory: free the columns it does not use (~250 MB at 1M patients)
    clones = clones.drop(columns=["weight_raw", "deviated"])
    cox = arm_cox(clones, params.labels, params.reference, settings["grace_months"], params.alpha)
    released(cox, register, PUBLISHED["ccw_cox.csv"], minimum).to_csv(snakemake.output.cox, index=False)
