"""Table 1: baseline characteristics by group, as tableone computes them and as a journal prints them.

`table_one` gives the counts and SMDs of the analysis cohort (results/cohort/table_one.csv);
`journal_table_one` labels them from the data dictionary and hides small cells for release.
"""

import warnings

import pandas as pd


def table_one(cohort: pd.DataFrame, groups: list[str], continuous: list[str], categorical: list[str]) -> pd.DataFrame:
    """Baseline characteristics by group with pairwise SMDs and missing counts (tableone)."""
    from tableone import TableOne  # here: ~0.9 s to import, and the report's jobs only relabel the table

    columns = continuous + categorical
    data = cohort[columns + ["group"]].copy()
    data["group"] = pd.Categorical(data["group"].astype(str), categories=groups)
    with warnings.catch_warnings():
        # tableone's own pandas deprecation warnings are noise in the rule log
        warnings.simplefilter("ignore", (FutureWarning, RuntimeWarning))
        table = TableOne(
            data,
            columns=columns,
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
    table = table.reset_index(names=["variable", "level"])
    return _with_missing_rows(table, data, groups)


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
