"""Rule draw_figures: analysis cohort, Cox and per-site tables -> KM and forest PNGs."""

import pandas as pd

from gistlm.provenance import recorded
from gistlm.report.data_dictionary import resolved
from gistlm.report.figure_style import save_png
from gistlm.report.figures import forest_figure, km_figure, site_forest_figure

with recorded(snakemake):
    cohort = pd.read_parquet(snakemake.input.cohort)
    params = snakemake.params
    save_png(
        km_figure(cohort, params.groups, params.alpha, params.max_months, params.min_cell_count), snakemake.output.km
    )
    dictionary = resolved(params.dictionary, params.cutoffs)
    save_png(forest_figure(pd.read_csv(snakemake.input.cox), dictionary=dictionary), snakemake.output.forest)
    save_png(site_forest_figure(pd.read_csv(snakemake.input.sites)), snakemake.output.site_forest)
