"""Figures of the causal analyses, each drawn from its results table (not from the data).

Love plot of covariate balance, propensity-score overlap, and survival curves (landmark,
IPTW, clone-censor-weight) as step functions of their CSV tables. PNGs carry no software
stamp, so reruns give identical bytes.
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from gistlm.release.disclosure import release_counts
from gistlm.report.data_dictionary import covariate_label
from gistlm.report.figure_style import COLOURS


def love_plot(balance: pd.DataFrame, threshold: float, dictionary: dict | None = None) -> plt.Figure:
    """|SMD| of every covariate before (open) and after (filled) each weighting of the
    `weighting` column, one panel per pair; covariates named by the data dictionary
    (`data_dictionary.resolved`)."""
    comparisons = list(dict.fromkeys(balance["comparison"]))
    covariates = list(dict.fromkeys(balance["covariate"]))[::-1]
    fig, axes = plt.subplots(
        1,
        len(comparisons),
        figsize=(3.6 * len(comparisons) + 1.6, 0.32 * len(covariates) + 1.6),
        sharey=True,
        squeeze=False,
    )
    y = np.arange(len(covariates))
    for ax, comparison in zip(axes[0], comparisons):
        pair = balance[balance["comparison"] == comparison]
        weightings = list(dict.fromkeys(pair["weighting"]))
        rows = pair[pair["weighting"] == weightings[0]].set_index("covariate").reindex(covariates)
        ax.scatter(rows["smd_unweighted"].abs(), y, facecolors="none", edgecolors="#555555", label="unweighted")
        # not COLOURS[1]: that red is the threshold line's
        for colour, marker, weighting in zip([COLOURS[0], COLOURS[2], COLOURS[3]], ["o", "s", "^"], weightings):
            rows = pair[pair["weighting"] == weighting].set_index("covariate").reindex(covariates)
            ax.scatter(rows["smd_weighted"].abs(), y, color=colour, marker=marker, s=22, label=weighting)
        ax.axvline(threshold, color="#d1495b", linestyle="--", linewidth=1)
        ax.set(title=comparison, xlabel="|standardised mean difference|")
        ax.title.set_fontsize(10)
        ax.grid(alpha=0.3)
    axes[0][0].set_yticks(y, [covariate_label(covariate, dictionary or {}) for covariate in covariates])
    axes[0][-1].legend(loc="lower right", frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def overlap_plot(scores: pd.DataFrame, labels: list[str], min_cell_count: int) -> plt.Figure:
    """Distribution of each group's propensity score, by the group patients are actually in.

    The legend's group sizes are released counts (small ones hidden, see `disclosure`).
    """
    fig, axes = plt.subplots(1, len(labels), figsize=(4 * len(labels), 3.4), squeeze=False)
    bins = np.linspace(0, 1, 26)
    group = scores["group"].astype(str)
    sizes = release_counts(group.value_counts().reindex(labels, fill_value=0), min_cell_count)
    for ax, target in zip(axes[0], labels):
        for colour, label in zip(COLOURS, labels):
            values = scores.loc[group == label, f"gps_{target}"]
            if len(values):
                ax.hist(
                    values,
                    bins=bins,
                    density=True,
                    histtype="step",
                    linewidth=1.6,
                    color=colour,
                    label=f"{label} (n={sizes[label]})",
                )
        ax.set(title=f"P({target} | covariates)", xlabel="generalised propensity score", xlim=(0, 1))
        ax.title.set_fontsize(10)
    axes[0][0].set_ylabel("density")
    axes[0][-1].legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def survival_steps(ax, table: pd.DataFrame, by: str, order: list[str] | None = None) -> None:
    """Step curves of a table with columns `by`, time, survival (starting at 1 at time 0)."""
    names = order or list(dict.fromkeys(table[by]))
    for colour, name in zip(COLOURS, names):
        rows = table[table[by] == name].sort_values("time")
        if rows.empty:
            continue
        times = np.r_[0.0, rows["time"].to_numpy()]
        survival = np.r_[1.0, rows["survival"].to_numpy()]
        ax.step(times, survival, where="post", color=colour, label=name)
    ax.set(ylim=(0, 1.02), ylabel="Overall survival")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", frameon=False, fontsize=8)


def landmark_figure(km: pd.DataFrame, groups: pd.DataFrame, labels: list[str]) -> plt.Figure:
    """KM curves from each landmark, groups by the treatment received by then."""
    landmarks = sorted(km["landmark_months"].unique())
    fig, axes = plt.subplots(1, len(landmarks), figsize=(5.2 * len(landmarks), 4), squeeze=False, sharey=True)
    for ax, landmark in zip(axes[0], landmarks):
        sizes = groups[groups["landmark_months"] == landmark].set_index("group")["n"]
        rows = km[km["landmark_months"] == landmark].copy()
        rows["group"] = [f"{g} (n={sizes.get(g, 0)})" for g in rows["group"]]
        survival_steps(ax, rows, "group", [f"{g} (n={sizes.get(g, 0)})" for g in labels])
        ax.set(title=f"Landmark {landmark:g} months", xlabel=f"Months since the {landmark:g}-month landmark")
    fig.tight_layout()
    return fig


def weighted_km_figure(km: pd.DataFrame, by: str, title: str, order: list[str] | None = None) -> plt.Figure:
    """One panel of weighted survival curves (IPTW groups or clone-censor-weight arms)."""
    fig, ax = plt.subplots(figsize=(7, 4.4))
    survival_steps(ax, km, by, order)
    ax.set(title=title, xlabel="Months since liver-metastasis diagnosis")
    fig.tight_layout()
    return fig
