"""Rule time_varying_cox: treatment dates + covariates -> start-stop rows and the time-varying Cox model."""

import pandas as pd

from gistlm.causal.immortal_time import read_dates, start_stop_rows, time_varying_cox
from gistlm.extract.spreadsheets import write_table
from gistlm.provenance import recorded
from gistlm.release.count_register import PUBLISHED, read_register, released
from gistlm.release.disclosure import suppress_columns

with recorded(snakemake):
    params = snakemake.params
    covariates = params.covariates
    dates = read_dates(snakemake.input.dates, pd.read_parquet(snakemake.input.cohort), covariates)
    labels = [rule["label"] for rule in params.precedence]
    rows = start_stop_rows(dates, labels, params.coding)
    write_table(rows, snakemake.output.rows)  # patient-level: stays in the hospital
    model = time_varying_cox(rows, labels, params.reference, covariates, params.alpha)
    model = released(
        model, read_register(snakemake.input.register), PUBLISHED["time_varying_cox.csv"], params.min_cell_count
    )
    suppress_columns(model, ["rows"], params.min_cell_count).to_csv(snakemake.output.cox, index=False)
