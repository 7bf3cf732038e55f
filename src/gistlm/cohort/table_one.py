"""Table 1: baseline characteristics by group, as tableone computes them and as a journal prints them.

`table_one` gives the counts and SMDs of the analysis cohort (results/cohort/table_one.csv);
`journal_table_one` labels them from the data dictionary and hides small cells for release.
"""

import warnings
from itertools import combinations

import numpy as np
import pandas as pd


def table_one(cohort: pd.DataFrame, groups: list[str], continuous: list[str], categorical: list[str]) -> pd.DataFrame:
    """Baseline characteristics by group with pairwise SMDs and missing counts: tableone's rows.

    The continuous rows are tableone's. The categorical rows are counted here, as tableone
    computes and prints them (tests/test_report.py compares the two files character by character): tableone
    turns every categorical cell into text in Python, once per group, which took 52 s of
    the job's 52 at 1M patients (42M calls).
    """
    data = cohort[continuous + categorical].copy()
    data["group"] = pd.Categorical(cohort["group"].astype(str), categories=groups)
    parts = [_size_row(data, groups)]
    if continuous:
        parts.append(tableone_rows(data, groups, continuous, []).iloc[1:])
    parts += [_categorical_rows(data, groups, column) for column in categorical]
    # tableone's columns: its SMD columns sorted by name
    smd = sorted(_smd_column(first, second) for first, second in combinations(groups, 2))
    table = pd.concat(parts, ignore_index=True).reindex(
        columns=["variable", "level", "Missing", "Overall", *groups, *smd]
    )
    return _with_missing_rows(table, data, groups)


def tableone_rows(data: pd.DataFrame, groups: list[str], continuous: list[str], categorical: list[str]) -> pd.DataFrame:
    """tableone's own Table 1 of `data` (with a categorical `group` column), one row per
    variable level: variable, level, Missing, Overall, the groups, SMD (a,b) per pair."""
    from tableone import TableOne  # here: ~0.9 s to import, and the report's jobs only relabel the table

    with warnings.catch_warnings():
        # tableone's own pandas deprecation warnings are noise in the rule log
        warnings.simplefilter("ignore", (FutureWarning, RuntimeWarning))
        table = TableOne(
            data,
            columns=continuous + categorical,
            categorical=categorical,
            groupby="group",
            smd=True,
            missing=True,
            include_null=False,
            pval=False,
            overall=True,
            order={"group": groups},
            decimals=1,
        ).tableone
    table.columns = [column for _, column in table.columns]
    return table.reset_index(names=["variable", "level"])


def _size_row(data: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    sizes = data["group"].value_counts()
    row = {"variable": "n", "level": "", "Missing": "", "Overall": str(len(data))}
    return pd.DataFrame([{**row, **{group: str(sizes[group]) for group in groups}}])


def _categorical_rows(data: pd.DataFrame, groups: list[str], column: str) -> pd.DataFrame:
    """One variable's `n (%)` rows as tableone gives them: its levels are the distinct values as
    text, sorted; the percentages are of the group's non-missing values; the overall missing
    count and the SMDs (Yang & Dalton's, tableone's formula) are on the first level's row."""
    codes, values = pd.factorize(data[column])  # missing: -1
    levels, level_of = np.unique(np.array([str(value) for value in values], dtype=object), return_inverse=True)
    known = codes >= 0
    if not known.any():
        from gistlm.extract.errors import ExtractError

        raise ExtractError(
            f"Table 1: `{column}` (config key `table_one.categorical`) has no value for any patient of "
            "the analysis cohort, so it has no level to count. Check that column of the extract, or "
            "remove it from `table_one.categorical`."
        )
    level = level_of[codes[known]]
    group = data["group"].cat.codes.to_numpy()[known]
    # counts: levels x (overall, groups)
    counts = np.column_stack(
        [np.bincount(level, minlength=len(levels))]
        + [np.bincount(level[group == g], minlength=len(levels)) for g in range(len(groups))]
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        percent = counts / counts.sum(axis=0) * 100
    rows = pd.DataFrame({"variable": f"{column}, n (%)", "level": levels, "Missing": ""})
    for j, name in enumerate(["Overall", *groups]):
        rows[name] = [f"{count} ({share:.1f})" for count, share in zip(counts[:, j], percent[:, j])]
    rows = rows.astype(object)
    rows.loc[0, "Missing"] = int((~known).sum())
    for first, second in combinations(range(len(groups)), 2):
        smd = _categorical_smd(percent[:, 1 + first] / 100, percent[:, 1 + second] / 100)
        text = f"{smd:.3f}"
        rows[_smd_column(groups[first], groups[second])] = ["<0.001" if text == "0.000" else text] + [""] * (
            len(levels) - 1
        )
    return rows


def _smd_column(first: str, second: str) -> str:
    """tableone's name of the SMD column of two groups, in the groups' order."""
    return f"SMD ({first},{second})"


def _categorical_smd(first: np.ndarray, second: np.ndarray) -> float:
    """Yang & Dalton's SMD of two groups' level proportions, the first level dropped: sqrt of
    d' S^-1 d, S the mean of the two multinomial covariances (tableone's _cat_smd, step by step)."""
    first, second = first[1:], second[1:]
    covariances = []
    for p in (first, second):
        covariance = -np.outer(p, p)
        covariance[np.diag_indices_from(covariance)] = p * (1 - p)
        covariances.append(covariance)
    difference = np.asarray(second - first).reshape((1, -1))
    try:
        squared = difference @ np.linalg.inv((covariances[0] + covariances[1]) / 2) @ difference.T
    except np.linalg.LinAlgError:
        return np.nan
    return float(np.sqrt(squared)[0][0]) if squared.size else np.nan


def _with_missing_rows(table: pd.DataFrame, data: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    """A `Missing` row under each variable with missing values: its count per group (tableone
    gives only the overall one), so that Table 1 can show missing values as their own line."""
    parts = []
    for variable, rows in table.groupby("variable", sort=False):
        parts.append(rows)
        column = variable.split(", ")[0]
        if column not in data or not data[column].isna().any():
            continue
        missing = data[column].isna().groupby(data["group"], observed=False).sum()
        sizes = data["group"].value_counts()
        row = {"variable": variable, "level": "Missing", "Overall": _count_percent(missing.sum(), len(data))}
        row.update({group: _count_percent(missing[group], sizes[group]) for group in groups})
        parts.append(pd.DataFrame([row]))
    return pd.concat(parts, ignore_index=True).reindex(columns=table.columns)


def _count_percent(count, total) -> str:
    return f"{int(count)} ({100 * count / total:.1f})" if total else f"{int(count)}"


def journal_table_one(table: pd.DataFrame, groups: list[str], dictionary: dict, minimum: int) -> pd.DataFrame:
    """Table 1 for release and print, from `table_one`'s output (read back as text).

    Labels and level names from the data dictionary (`data_dictionary.resolved`), levels in
    its order, a binary variable as one row, missing values as their own line; `n (%)` with
    the group size as denominator (so that a hidden missing count cannot be read back from a
    percentage). Small cells are hidden with complementary cells inside the same variable
    (`disclosure.suppress_blocks`), and the SMDs of a pair of groups with a hidden cell in
    that variable are left out (an SMD and one proportion would give the other away).
    """
    from gistlm.release.disclosure import suppress_blocks
    from gistlm.report.data_dictionary import level_order, variable_label

    columns = ["Overall", *groups]
    smd_columns = [column for column in table.columns if column.startswith("SMD (")]
    sizes = {column: int(table.loc[table["variable"] == "n", column].iloc[0]) for column in columns}
    rows = [
        {
            "Characteristic": "Patients, n",
            "Level": "",
            "block": None,
            **{column: str(sizes[column]) for column in columns},
        }
    ]
    complete, smd_rows = {}, {}  # smd_rows: the row holding a count variable's SMDs
    for variable, part in table[table["variable"] != "n"].groupby("variable", sort=False):
        name, statistic = variable.split(", ", 1)
        entry = dictionary.get(name, {})
        label = variable_label(name, dictionary)
        smd = {column: part[column].dropna().iloc[0] if part[column].notna().any() else "" for column in smd_columns}
        levels = part[part["level"].fillna("") != "Missing"]
        missing = part[part["level"].fillna("") == "Missing"]
        if statistic == "mean (SD)":
            rows.append(
                {
                    "Characteristic": f"{label}, mean (SD)",
                    "Level": "",
                    "block": None,
                    **{column: levels[column].iloc[0] for column in columns},
                    **smd,
                }
            )
            complete[name] = False  # the counts with a value are not printed
        elif "one_row" in entry:
            shown = levels[levels["level"].map(lambda v: _key(v)) == entry["one_row"]]
            level_name = entry["levels"].get(entry["one_row"], entry["one_row"])
            smd_rows[name] = len(rows)
            rows.append(
                {"Characteristic": f"{level_name}, n (%)", "Level": "", "block": name, **_counts(shown, columns), **smd}
            )
            complete[name] = False  # the other level is not printed
        else:
            smd_rows[name] = len(rows)
            rows.append({"Characteristic": f"{label}, n (%)", "Level": "", "block": None, **smd})
            for level in level_order(name, list(levels["level"]), dictionary):
                rows.append(
                    {
                        "Characteristic": "",
                        "Level": _level_name(name, level, dictionary),
                        "block": name,
                        **_counts(levels[levels["level"] == level], columns),
                    }
                )
            complete[name] = True
        if len(missing):
            rows.append({"Characteristic": "", "Level": "Missing", "block": name, **_counts(missing, columns)})
    out = pd.DataFrame(rows).reindex(columns=["Characteristic", "Level", "block", *columns, *smd_columns])
    counted = out["block"].notna()
    counts = out.loc[counted, columns].astype(float)
    status = suppress_blocks(counts, out.loc[counted, "block"], complete, "Overall", minimum)
    for column in columns:
        text = [
            f"{count:.0f} ({100 * count / sizes[column]:.1f})" if sizes[column] else f"{count:.0f}"
            for count in counts[column]
        ]
        out.loc[counted, column] = pd.Series(text, index=counts.index).where(
            status[column] == 0, pd.Series(status[column].map({1: f"<{minimum}", 2: "suppressed"}), index=counts.index)
        )
    blocks = out.loc[counted, "block"]
    for column in smd_columns:
        pair = [group for group in column[len("SMD (") : -1].split(",") if group in status]
        for block, row in smd_rows.items():
            if (status.loc[blocks == block, pair] != 0).any().any():
                out.loc[row, column] = ""
    return out.drop(columns="block").fillna("")


def _key(value) -> str:
    from gistlm.report.data_dictionary import level_key

    return level_key(value)


def _level_name(column: str, value, dictionary: dict) -> str:
    from gistlm.report.data_dictionary import level_label

    return level_label(column, value, dictionary)


def _counts(rows: pd.DataFrame, columns: list[str]) -> dict:
    """The counts of one Table 1 row from tableone's `n (%)` text (0 where tableone has no row)."""
    if rows.empty:
        return {column: 0 for column in columns}
    return {column: int(str(rows[column].iloc[0]).split(" ")[0]) for column in columns}
