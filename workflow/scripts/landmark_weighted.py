"""Rule landmark_weighted: treatment dates + covariates -> at each landmark, the groups by treatment
received by then weighted on baseline covariates: KM, Cox, RMST, balance, group sizes, diagnostics."""

import pandas as pd

from gistlm.causal.immortal_time import read_dates
from gistlm.causal.landmark_weighting import landmark_group_sizes, landmark_weighted
from gistlm.provenance import recorded
from gistlm.release.disclosure import suppress_columns, suppress_within


def stacked(results, name, counts=(), minimum=0):
    """One table of every landmark's `name` table, its `counts` suppressed; empty (a header-less
    file) where no landmark could be weighted."""
    frames = [result[name] for result in results if len(result[name])]
    if not frames:
        return pd.DataFrame()
    return suppress_columns(pd.concat(frames, ignore_index=True), list(counts), minimum)


with recorded(snakemake):
    params = snakemake.params
    settings = {**params.settings, "min_cell_count": params.min_cell_count}
    dates = read_dates(
        snakemake.input.dates, pd.read_parquet(snakemake.input.cohort), settings["propensity"]["covariates"]
    )
    results = [landmark_weighted(dates, landmark, params.groups, settings) for landmark in params.landmarks]
    minimum = params.min_cell_count
    sizes = pd.concat(
        [
            landmark_group_sizes(result["groups"], dates, landmark)
            for result, landmark in zip(results, params.landmarks)
        ],
        ignore_index=True,
    )
    # the groups and the excluded add up to the cohort at each landmark: a hidden count is
    # protected by a second one; an ESS would bound a hidden group size, so it goes too
    released = suppress_within(sizes, ["n", "events"], "landmark_months", minimum)
    released.loc[released["n"].isin([f"<{minimum}", "suppressed"]), "ess"] = float("nan")
    released.to_csv(snakemake.output.groups, index=False)
    stacked(results, "km", ["at_risk", "events"], minimum).to_csv(snakemake.output.km, index=False)
    stacked(results, "cox", ["n", "events"], minimum).to_csv(snakemake.output.cox, index=False)
    stacked(results, "rmst").to_csv(snakemake.output.rmst, index=False)
    stacked(results, "balance").to_csv(snakemake.output.balance, index=False)
    stacked(results, "gate").to_csv(snakemake.output.diagnostics, index=False)
