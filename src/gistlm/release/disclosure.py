"""Small-cell suppression of counts in tables meant to leave the hospital.

A count above 0 and below `minimum` (1 to `minimum - 1`; for a weighted count, e.g. 0.4
weighted deaths, anything in between) is shown as `<minimum`. Where suppressed cells belong
to a set whose total is shown, one suppressed cell alone could be recovered by subtraction,
so the next smallest cell of that set is suppressed as well (secondary suppression).
Statistics are computed from the full counts; suppression only changes how they are written.
"""

import numpy as np
import pandas as pd


def small(counts: pd.Series, minimum: int) -> pd.Series:
    numeric = pd.to_numeric(counts, errors="coerce")
    return (numeric > 0) & (numeric < minimum)


def count_text(count) -> str:
    """A count as written: whole numbers without decimals, weighted counts as they are."""
    return f"{count:.0f}" if float(count).is_integer() else repr(float(count))


def shown(counts: pd.Series, hidden: pd.Series, minimum: int) -> pd.Series:
    """Counts as text, `<minimum` where hidden."""
    text = counts.astype(object).where(counts.isna(), counts.map(lambda c: count_text(c) if c == c else ""))
    return text.where(~hidden, f"<{minimum}")


def with_secondary(counts: pd.Series, hidden: pd.Series) -> pd.Series:
    """If exactly one cell of a set is hidden, hide the smallest other non-zero one too."""
    if hidden.sum() != 1:
        return hidden
    others = counts[~hidden & (counts > 0)]
    if others.empty:
        return hidden
    return hidden | (counts.index == others.idxmin())


SECONDARY = "suppressed"


def release_counts(counts: pd.Series, minimum: int) -> pd.Series:
    """A set of counts whose total is shown elsewhere: small ones as `<minimum`, and the one
    hidden only to protect them (secondary suppression) as `suppressed`."""
    primary = small(counts, minimum)
    text = shown(counts, primary, minimum)
    return text.where(~(with_secondary(counts, primary) & ~primary), SECONDARY)


def suppress_columns(frame: pd.DataFrame, columns: list[str], minimum: int) -> pd.DataFrame:
    """Count columns of a release table with small counts suppressed (cell by cell)."""
    out = frame.copy()
    for column in columns:
        out[column] = shown(frame[column], small(frame[column], minimum), minimum)
    return out


def suppress_with_total(frame: pd.DataFrame, columns: list[str], total: pd.Series, minimum: int) -> pd.DataFrame:
    """Count columns where the `total` rows sum the others: secondary suppression among
    the other rows, so no hidden count can be recovered from the total."""
    out = frame.copy()
    for column in columns:
        parts = frame.loc[~total, column]
        out[column] = out[column].astype(object)
        out.loc[~total, column] = release_counts(parts, minimum)
        out.loc[total, column] = shown(frame.loc[total, column], small(frame.loc[total, column], minimum), minimum)
    return out


def suppress_within(frame: pd.DataFrame, columns: list[str], by: str, minimum: int) -> pd.DataFrame:
    """Count columns whose rows, within each value of `by`, add up to a total shown elsewhere
    (e.g. every patient of the cohort at one landmark): secondary suppression within each set."""
    out = frame.astype({column: object for column in columns})
    for rows in frame.groupby(by, sort=False).groups.values():
        for column in columns:
            out.loc[rows, column] = release_counts(frame.loc[rows, column], minimum)
    return out


def release_weight_summary(summary: pd.DataFrame, minimum: int) -> pd.DataFrame:
    """IPTW weight distributions for release: per stage, `n` and `trimmed` by group with the
    `All` row as their total. A group whose `n` is hidden shows no distribution either: its
    weights' sum over their mean would give `n` away."""
    statistics = [column for column in summary.columns if column not in ("group", "stage", "n", "trimmed")]
    stages = []
    for rows in summary.groupby("stage", sort=False).groups.values():
        part = summary.loc[rows]
        released = suppress_with_total(part, ["n", "trimmed"], part["group"] == "All", minimum)
        released.loc[released["n"].isin([f"<{minimum}", SECONDARY]), statistics] = np.nan
        stages.append(released)
    return pd.concat(stages).loc[summary.index]


def release_attrition(attrition: pd.DataFrame, minimum: int) -> pd.DataFrame:
    """Attrition for release: excluded counts suppressed with secondary suppression.

    Intermediate `remaining` counts would give each step away by subtraction, so only the
    raw total and the analysis cohort keep theirs.
    """
    steps = attrition.iloc[1:-1]
    out = attrition.astype({"remaining": object, "excluded": object})
    out.loc[steps.index, "excluded"] = release_counts(steps["excluded"], minimum)
    out.loc[steps.index, "remaining"] = ""
    return out


def release_ledger(counts: pd.DataFrame, minimum: int) -> pd.DataFrame:
    """Patients per ledger status with small counts hidden; the raw total stays."""
    statuses = counts["status"] != "raw patients"
    out = counts.astype({"patients": object})
    out.loc[statuses, "patients"] = release_counts(counts.loc[statuses, "patients"], minimum)
    return out


def release_site_counts(counts: pd.DataFrame, minimum: int) -> pd.DataFrame:
    """Patients per site and status for release. Each site's raw total and each status's
    total (the ledger) are shown, so a hidden cell must not be alone in its row or column:
    secondary suppression is repeated along both until no line has a single hidden cell."""
    statuses = [column for column in counts.columns if column not in ("site", "raw patients")]
    values = counts[statuses].astype(float)
    primary = values.apply(small, minimum=minimum)
    hidden = primary.copy()
    changed = True
    while changed:
        before = hidden.to_numpy().copy()
        for row in hidden.index:
            hidden.loc[row] = with_secondary(values.loc[row], hidden.loc[row]).to_numpy()
        for column in statuses:
            hidden[column] = with_secondary(values[column], hidden[column]).to_numpy()
        changed = (hidden.to_numpy() != before).any()
    out = counts.astype({column: object for column in statuses})
    for column in statuses:
        text = shown(values[column], primary[column], minimum)
        out[column] = text.where(~(hidden[column] & ~primary[column]), SECONDARY)
    return out


def suppress_blocks(counts: pd.DataFrame, blocks: pd.Series, complete: dict, total: str, minimum: int) -> pd.DataFrame:
    """Which cells of a Table 1 to hide: `counts` has one row per printed level, one column
    per group and the `total` column (their sum); `blocks` names each row's variable. Within
    a variable, a row adds up to its total, and where every level of the variable is printed
    (`complete[block]`, missing values included) each column adds up to the group size, which
    is shown. Small cells are hidden (primary); then, until no line of a variable has a single
    hidden cell, the smallest other non-zero cell of that line (complementary). Another
    variable is never touched. Returns 0 shown, 1 primary, 2 complementary per cell."""
    values = counts.astype(float)
    primary = values.apply(small, minimum=minimum)
    hidden = primary.copy()
    for block, rows in counts.groupby(blocks, sort=False).groups.items():
        changed = True
        while changed:
            before = hidden.loc[rows].to_numpy().copy()
            for row in rows:
                hidden.loc[row] = with_secondary(values.loc[row], hidden.loc[row]).to_numpy()
            if complete[block]:
                for column in counts.columns:
                    hidden.loc[rows, column] = with_secondary(
                        values.loc[rows, column], hidden.loc[rows, column]
                    ).to_numpy()
            changed = (hidden.loc[rows].to_numpy() != before).any()
    return primary.astype(int) + 2 * (hidden & ~primary).astype(int)
