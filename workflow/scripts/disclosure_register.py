"""Rule disclosure_register: analysis cohort + treatment dates -> every released count and its decision."""

import pandas as pd

from gistlm.causal.immortal_time import landmark_cohort, read_dates
from gistlm.provenance import recorded
from gistlm.release.count_register import build_register, cohort_cells, decide, landmark_cells
from gistlm.survival.overall_survival import TIME

with recorded(snakemake):
    params, groups = snakemake.params, snakemake.params.groups
    cohort = pd.read_parquet(snakemake.input.cohort)
    dates = read_dates(snakemake.input.dates, cohort, [])
    # the landmark cohorts exactly as rule landmark_analysis builds them
    landmarks = {
        landmark: (
            landmark_cohort(dates, landmark, groups["precedence"], groups["default"], groups["labels"]),
            dates[dates[TIME] <= landmark],
        )
        for landmark in params.landmarks
    }
    cells = cohort_cells(cohort, groups["labels"]) + landmark_cells(landmarks, groups["labels"])
    decide(build_register(cells), params.min_cell_count).to_csv(snakemake.output.register, index=False)
