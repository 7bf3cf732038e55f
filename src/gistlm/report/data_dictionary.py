"""The data dictionary of the released tables and figures (config `data_dictionary`).

Analysis-cohort columns become the words a journal prints: "Age at LM diagnosis, years",
"Sex" with levels "Female"/"Male", a binary variable as one row ("Male"), a Cox term as
"Male vs Female". Labels may name the covariate cut-offs ({age_years}, {lm_count}).
"""

import re


def resolved(dictionary: dict, cutoffs: dict) -> dict:
    """The dictionary with the cut-offs filled into its texts."""

    def fill(text: str) -> str:
        return str(text).format(**cutoffs)

    def pairs(levels) -> list:  # [value, name] pairs as in the config, or a mapping
        return list(levels.items()) if isinstance(levels, dict) else levels

    return {
        column: {
            "label": fill(entry["label"]),
            "levels": {str(value): fill(name) for value, name in pairs(entry.get("levels", {}))},
            **({"one_row": str(entry["one_row"])} if "one_row" in entry else {}),
        }
        for column, entry in dictionary.items()
    }


def level_key(value) -> str:
    """A stored value as the dictionary writes it: 1.0 -> "1", "stomach" stays."""
    text = str(value)
    return re.sub(r"^(-?\d+)\.0$", r"\1", text)


def variable_label(column: str, dictionary: dict) -> str:
    return dictionary.get(column, {}).get("label", column)


def level_label(column: str, value, dictionary: dict) -> str:
    key = level_key(value)
    return dictionary.get(column, {}).get("levels", {}).get(key, key)


def level_order(column: str, values: list, dictionary: dict) -> list:
    """Levels in the dictionary's order, any it does not list after them as stored."""
    listed = list(dictionary.get(column, {}).get("levels", {}))
    keys = [level_key(value) for value in values]
    return sorted(
        values,
        key=lambda value: (
            listed.index(level_key(value)) if level_key(value) in listed else len(listed) + keys.index(level_key(value))
        ),
    )


def term_label(term: str, dictionary: dict) -> str:
    """A Cox term as printed: a binary covariate as "Male vs Female", a continuous one by its
    label, a group comparison ("IM+HR vs IM") as it is."""
    entry = dictionary.get(term)
    if entry is None:
        return term
    if "one_row" in entry:
        others = [name for key, name in entry["levels"].items() if key != entry["one_row"]]
        shown = entry["levels"].get(entry["one_row"], entry["one_row"])
        return f"{shown} vs {others[0]}" if len(others) == 1 else shown
    return entry["label"]


def covariate_label(column: str, dictionary: dict) -> str:
    """A covariate as a row of a balance table or the Love plot: a binary one by the level it
    indicates ("Male"), any other by its label."""
    entry = dictionary.get(column)
    if entry is None:
        return column
    if "one_row" in entry:
        return entry["levels"].get(entry["one_row"], entry["label"])
    return entry["label"]
