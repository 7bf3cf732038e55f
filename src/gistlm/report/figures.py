"""Report figures: Kaplan-Meier curves with numbers at risk, and the Cox forest plot.

PNGs are written without a software/version stamp so reruns give identical bytes.
"""

import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.plotting import add_at_risk_counts
from matplotlib.ticker import FuncFormatter

from gistlm.report.data_dictionary import term_label
from gistlm.report.figure_style import COLOURS
from gistlm.survival.overall_survival import EVENT, TIME, by_group


def km_figure(
    cohort: pd.DataFrame, groups: list[str], alpha: float, max_months: float, min_cell_count: int = 1
) -> plt.Figure:
    """OS curves per group with confidence bands, censoring ticks and numbers at risk
    (counts below `min_cell_count` shown as `<min_cell_count`)."""
    fig, ax = plt.subplots(figsize=(8, 5.6))
    fits = []
    for colour, (label, rows) in zip(COLOURS, by_group(cohort, groups)):
        # lifelines as it is, for its drawing: curve, band and at-risk table (the published
        # numbers are gistlm.estimators.kaplan_meier's)
        fit = KaplanMeierFitter(alpha=alpha).fit(rows[TIME], rows[EVENT], label=f"{label} (n={len(rows)})")
        fit.plot_survival_function(
            ax=ax, ci_show=True, show_censors=True, color=colour, censor_styles={"ms": 5, "marker": "|"}
        )
        fits.append(fit)
    ticks = np.arange(0, max_months + 1, 24)
    ax.set(
        xlim=(0, max_months),
        ylim=(0, 1.02),
        xticks=ticks,
        xlabel="Months since liver-metastasis diagnosis",
        ylabel="Overall survival",
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", frameon=False)
    add_at_risk_counts(*fits, ax=ax, rows_to_show=["At risk"], xticks=ticks)
    for table in fig.axes[1:]:
        _suppress_tick_counts(table, min_cell_count)
    fig.tight_layout()
    return fig


def _suppress_tick_counts(table_axis, minimum: int) -> None:
    """lifelines writes each at-risk column as one multi-line tick label: hide small counts."""

    def hide(match):
        return f"{match.group(1)}<{minimum}" if 0 < int(match.group(2)) < minimum else match.group(0)

    labels = [
        re.sub(r"(^|\s|n=)(\d+)(?=$|\))", hide, label.get_text(), flags=re.M) for label in table_axis.get_xticklabels()
    ]
    table_axis.set_xticks(table_axis.get_xticks(), labels=labels)


def forest_figure(cox: pd.DataFrame, model: str = "multivariable", dictionary: dict | None = None) -> plt.Figure:
    """Hazard ratios with confidence intervals on a log axis, one row per term, terms named
    as the data dictionary (`data_dictionary.resolved`) names them."""
    rows = cox[cox["model"] == model]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.4))
    _forest_rows(ax, rows, rows["term"].map(lambda term: term_label(term, dictionary or {})))
    ax.set_xlabel(f"Hazard ratio ({model} Cox model, log scale)")
    fig.tight_layout()
    return fig


def site_forest_figure(sites: pd.DataFrame) -> plt.Figure:
    """Per comparison: each site's HR, then the stratified and random-effects pooled HRs."""
    terms = list(dict.fromkeys(sites["term"]))
    fig, axes = plt.subplots(len(terms), 1, figsize=(8, 0.4 * len(sites) + 1.2 * len(terms)), squeeze=False)
    for ax, term in zip(axes[:, 0], terms):
        rows = sites[sites["term"] == term]
        labels = rows["site"] + np.where(rows["note"].fillna("") != "", "  (" + rows["note"].fillna("") + ")", "")
        pooled = rows["site"].str.startswith("all sites").to_numpy()
        _forest_rows(ax, rows, labels, pooled)
        ax.set_title(f"{term}: hazard ratio by site (log scale)", fontsize=10, loc="left")
    fig.tight_layout()
    return fig


def _forest_rows(ax, rows: pd.DataFrame, labels: pd.Series, pooled=None) -> None:
    """HR squares (diamonds where `pooled`) with CI whiskers, top row first, values at the right."""
    rows, labels = rows.iloc[::-1], list(labels)[::-1]
    pooled = np.zeros(len(rows), bool) if pooled is None else np.asarray(pooled)[::-1]
    y = np.arange(len(rows))
    for marker, subset in [("s", ~pooled), ("D", pooled)]:
        part = rows[subset]
        ax.errorbar(
            part["hr"],
            y[subset],
            xerr=[part["hr"] - part["ci_lower"], part["ci_upper"] - part["hr"]],
            fmt=marker,
            color="#1b6ca8",
            ecolor="#555555",
            capsize=3,
        )
    ax.axvline(1, color="#999999", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    # plain numbers (0.5, 2) rather than powers of ten on the log axis
    ax.xaxis.set_major_formatter(FuncFormatter(_plain_tick))
    ax.xaxis.set_minor_formatter(FuncFormatter(_minor_tick))
    ax.set_yticks(y, labels)
    for yi, (hr, lo, hi) in zip(y, rows[["hr", "ci_lower", "ci_upper"]].to_numpy()):
        if hr == hr:  # no estimate: the label says why
            ax.annotate(
                f"{hr:.2f} ({lo:.2f}-{hi:.2f})", (1.01, yi), xycoords=("axes fraction", "data"), va="center", fontsize=9
            )


def _plain_tick(value, _position) -> str:
    return f"{value:g}"


def _minor_tick(value, _position) -> str:
    """Only 2 and 5 (x a power of ten) between the decades, so labels do not collide."""
    text = f"{value:g}"
    return text if text.lstrip("0.")[:1] in {"2", "5"} else ""
