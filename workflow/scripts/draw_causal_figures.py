"""Rule draw_causal_figures: balance, scores and survival tables -> the causal section's PNGs."""

import pandas as pd

from gistlm.provenance import recorded
from gistlm.report.causal_figures import landmark_figure, love_plot, overlap_plot, weighted_km_figure
from gistlm.report.data_dictionary import resolved
from gistlm.report.figure_style import save_png

with recorded(snakemake):
    inputs, output, labels = snakemake.input, snakemake.output, snakemake.params.labels
    dictionary = resolved(snakemake.params.dictionary, snakemake.params.cutoffs)
    save_png(love_plot(pd.read_csv(inputs.balance), snakemake.params.threshold, dictionary), output.love)
    save_png(overlap_plot(pd.read_csv(inputs.scores), labels, snakemake.params.min_cell_count), output.overlap)
    save_png(
        landmark_figure(pd.read_csv(inputs.landmark_km), pd.read_csv(inputs.landmark_groups), labels), output.landmark
    )
    km = pd.read_csv(inputs.iptw_km)
    primary = km["weighting"].iloc[0]  # the configured weighting comes first
    save_png(
        weighted_km_figure(km[km["weighting"] == primary], "group", f"Overall survival weighted by {primary}", labels),
        output.iptw,
    )
    save_png(
        weighted_km_figure(pd.read_csv(inputs.ccw_km), "arm", "Clone-censor-weight: survival by strategy"), output.ccw
    )
