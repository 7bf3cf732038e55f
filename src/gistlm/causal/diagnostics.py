"""Diagnostics gate the headline: an estimate is reported only where its analysis can carry it.

A weighted analysis whose weights left a covariate imbalanced, whose effective sample size
in a compared group is below `causal.diagnostics.min_effective_n`, or in which a compared
group has fewer than `min_events` deaths, is "not interpretable": the report shows the
number with that reason, gives it no E-value and keeps it out of the summary's headline.

Each analysis is also classed by the biases it handles (immortal time, measured
confounding, both, neither); the analyses handling both are the primary ones, and the naive
comparison with groups fixed at LM diagnosis is the published-style replication.
"""

import numpy as np
import pandas as pd

from gistlm.causal.immortal_time import landmark_cohort, months_to_column
from gistlm.causal.propensity import effective_sample_size
from gistlm.survival.overall_survival import EVENT

NOT_INTERPRETABLE = "not interpretable"

BOTH = "both"
IMMORTAL_TIME = "immortal time"
CONFOUNDING = "measured confounding"
NEITHER = "neither"

PRIMARY = "primary"
REPLICATION = "published-style replication"
SECONDARY = "secondary"


def group_diagnostics(data: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Per group of a weighted analysis (rows with `group`, death, `weight`): n, deaths, ESS."""
    rows = []
    for label in labels:
        member = data["group"].astype(str) == label
        weights = data.loc[member, "weight"].to_numpy(float)
        rows.append(
            {
                "group": label,
                "n": int(member.sum()),
                "events": int(data.loc[member, EVENT].sum()),
                "ess": effective_sample_size(weights) if (weights > 0).any() else np.nan,
            }
        )
    return pd.DataFrame(rows)


def gate_reasons(groups: pd.DataFrame, compared: list[str], balance: pd.Series | None, limits: dict) -> list[str]:
    """Why a comparison of the `compared` groups is not interpretable ([] = it is).

    groups: `group_diagnostics`; balance: the pair's row of `balance_verdict` (None for an
    unweighted analysis); limits: causal.diagnostics (min_effective_n, min_events).
    Reasons never print a death count, only the limit it is below (counts may be small).
    """
    reasons = []
    if balance is not None and not bool(balance["passed"]):
        reasons.append(
            f"balance failed (largest weighted |SMD| {balance['max_abs_smd_weighted']:.3f} ≥ "
            f"{balance['threshold']:g}: {balance['imbalanced_covariates']})"
        )
    found = groups.set_index("group")
    for label in compared:
        if label not in found.index or found.loc[label, "n"] == 0:
            reasons.append(f"no patient in {label}")
            continue
        if found.loc[label, "events"] < limits["min_events"]:
            reasons.append(f"fewer than {limits['min_events']} deaths in {label}")
        if balance is not None and found.loc[label, "ess"] < limits["min_effective_n"]:
            reasons.append(
                f"effective sample size of {label} {found.loc[label, 'ess']:.1f} < {limits['min_effective_n']:g}"
            )
    return reasons


def gate_table(
    method: str,
    groups: pd.DataFrame,
    verdict: pd.DataFrame | None,
    labels: list[str],
    reference: str,
    limits: dict,
    min_cell_count: int,
) -> pd.DataFrame:
    """One row per `X vs reference` term of one analysis: the ESS of both groups,
    interpretable, reason. ESS is left empty for a group whose size disclosure control hides."""
    by_pair = None if verdict is None else verdict.set_index("comparison")
    found = groups.set_index("group")
    rows = []
    for label in labels:
        if label == reference:
            continue
        term = f"{label} vs {reference}"
        balance = None if by_pair is None or term not in by_pair.index else by_pair.loc[term]
        reasons = gate_reasons(groups, [label, reference], balance, limits)
        rows.append(
            {
                "method": method,
                "term": term,
                "max_abs_smd_weighted": np.nan if balance is None else balance["max_abs_smd_weighted"],
                "balance_passed": np.nan if balance is None else bool(balance["passed"]),
                **{
                    f"ess_{role}": _shown_ess(found, group, min_cell_count)
                    for role, group in [("treated", label), ("reference", reference)]
                },
                "interpretable": not reasons,
                "reason": "; ".join(reasons),
            }
        )
    return pd.DataFrame(rows)


def _shown_ess(found: pd.DataFrame, group: str, min_cell_count: int) -> float:
    if group not in found.index or found.loc[group, "n"] < min_cell_count:
        return np.nan
    return float(found.loc[group, "ess"])


def handled_biases(method: str, weighting_labels: list[str]) -> str:
    """Which biases an analysis of the e_values table handles, from its method name."""
    weighted = any(label in method for label in weighting_labels)
    if method.startswith("clone-censor-weight") or (method.startswith("landmark") and weighted):
        return BOTH
    if method.startswith("landmark") or method.startswith("time-varying"):
        return IMMORTAL_TIME
    if weighted:
        return CONFOUNDING
    return NEITHER


def role_of(method: str, handles: str) -> str:
    if handles == BOTH:
        return PRIMARY
    if method.startswith("naive"):
        return REPLICATION
    return SECONDARY


def gate_estimates(estimates: pd.DataFrame, gates: pd.DataFrame, weighting_labels: list[str]) -> pd.DataFrame:
    """The e_values table with handles, role, interpretable and reason per row; a row that is
    not interpretable loses its E-values (they would lend it a credibility it lacks).

    gates: `gate_table` rows of any analyses (method, term, interpretable, reason); rows of
    the estimates without one are interpretable (no diagnostic applies to them).
    """
    table = estimates.merge(gates[["method", "term", "interpretable", "reason"]], on=["method", "term"], how="left")
    table["interpretable"] = [True if pd.isna(value) else bool(value) for value in table["interpretable"]]
    table["reason"] = table["reason"].fillna("")
    table.loc[~table["interpretable"], ["e_value", "e_value_ci"]] = np.nan
    table["handles"] = [handled_biases(method, weighting_labels) for method in table["method"]]
    table["role"] = [role_of(method, handles) for method, handles in zip(table["method"], table["handles"])]
    return table


# --- deaths per compared group of the unweighted analyses --------------------------------


def time_varying_groups(dates: pd.DataFrame, labels: list[str], reference: str) -> pd.DataFrame:
    """Per group of the time-varying model: patients exposed by the end of follow-up and
    deaths while exposed (a procedure of that group on or before death); the reference:
    everyone (all start unexposed) and deaths before any procedure."""
    treated = [label for label in labels if label != reference]
    by_death = {label: dates[months_to_column(label)] <= dates["os_months"] for label in treated}
    untreated = ~pd.concat(by_death, axis=1).any(axis=1)
    rows = [{"group": reference, "n": len(dates), "events": int(dates.loc[untreated, EVENT].sum()), "ess": np.nan}]
    rows += [
        {"group": label, "n": int(exposed.sum()), "events": int(dates.loc[exposed, EVENT].sum()), "ess": np.nan}
        for label, exposed in by_death.items()
    ]
    return pd.DataFrame(rows)


def released_deaths(table: pd.DataFrame, reference: str, minimum: int) -> pd.DataFrame:
    """Deaths per arm from a released table whose counts may read `<minimum` (then taken as
    minimum - 1, the most they can be) or `suppressed` (at least `minimum`)."""

    def count(value):
        text = str(value)
        if text == "suppressed":
            return minimum
        return int(text[1:]) - 1 if text.startswith("<") else int(float(text))

    rows = [
        {"group": term.split(" vs ")[0], "n": 1, "events": count(events), "ess": np.nan}
        for term, events in zip(table["term"], table["events"])
    ]
    rows.append({"group": reference, "n": 1, "events": count(table["events_reference"].iloc[0]), "ess": np.nan})
    return pd.DataFrame(rows)


def unweighted_gates(
    cohort: pd.DataFrame, dates: pd.DataFrame, groups: dict, landmarks: list, limits: dict
) -> pd.DataFrame:
    """`gate_table` rows of the unweighted analyses from the deaths per compared group: the
    naive comparison (groups at LM diagnosis), the time-varying model and each landmark.

    groups: config `groups` (labels, reference, precedence, default); dates: `read_dates` of the cohort.
    """
    labels, reference = groups["labels"], groups["reference"]
    counted = {
        "naive (groups fixed at LM diagnosis)": group_diagnostics(cohort.assign(weight=1.0), labels),
        "time-varying Cox": time_varying_groups(dates, labels, reference),
    }
    for months in landmarks:
        rows = landmark_cohort(dates, months, groups["precedence"], groups["default"], labels)
        counted[f"landmark {months:g} months"] = group_diagnostics(rows.assign(weight=1.0), labels)
    return pd.concat(
        [gate_table(method, sizes, None, labels, reference, limits, 0) for method, sizes in counted.items()],
        ignore_index=True,
    )
