"""One disclosure decision per underlying count, for the whole release.

Every count the released tables publish - patients, deaths, censored; per group, per site,
per landmark - is one *cell* of a register, whatever table shows it and however (a column,
n - events, a total minus its parts). The linear relations between cells are known: each
group's patients are its deaths plus its censored, the groups add up to the cohort, the
sites to all sites, a landmark's groups to the landmark cohort, and the landmark cohort plus
those who died or were censored before the landmark to the whole cohort. Suppression is
decided once on the register:

- primary: a count above 0 and below the minimum cell count;
- complementary: more cells hidden until no hidden cell follows from the shown cells
  through the relations (checked exactly, by linear algebra, not only one relation at a time).

Every rule that writes a released table looks its counts up here (`released`), so a cell
reads the same in every file. The register itself holds the true counts and stays in the
hospital (results/cohort/).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gistlm.release.disclosure import SECONDARY, count_text
from gistlm.survival.overall_survival import EVENT

ALL = "All"
EXCLUDED = "excluded"  # at a landmark: died or censored by then
DIMENSIONS = ["measure", "group", "site", "landmark"]
SHOWN, PRIMARY, COMPLEMENTARY = "shown", "primary", "complementary"


def cell_name(measure: str, group: str = ALL, site: str = ALL, landmark: str = "") -> str:
    """How a cell is named in the register, the audit and error messages:
    `deaths[group=IM+HR]`, `patients[site=S01, group=All]`, `deaths[landmark=6, group=IM]`."""
    parts = ([f"landmark={landmark}"] if landmark != "" else []) + ([f"site={site}"] if site != ALL else [])
    return f"{measure}[{', '.join(parts + [f'group={group}'])}]"


def _landmark_text(value) -> str:
    return "" if value == "" or value is None else f"{float(value):g}"


# --- the register -------------------------------------------------------------------------


def _outcome_cells(rows: pd.DataFrame, group: str, site: str, landmark: str = "") -> list[dict]:
    deaths = int(rows[EVENT].sum())
    counts = {"patients": len(rows), "deaths": deaths, "censored": len(rows) - deaths}
    return [
        {"measure": measure, "group": group, "site": site, "landmark": landmark, "count": count}
        for measure, count in counts.items()
    ]


def cohort_cells(cohort: pd.DataFrame, groups: list[str]) -> list[dict]:
    """Patients, deaths and censored per group and All; per site too when there are several."""
    sites = sorted(cohort["site"].astype(str).unique()) if "site" in cohort else []
    per_site = sites if len(sites) > 1 else []
    cells = []
    for site in [ALL, *per_site]:
        members = cohort if site == ALL else cohort[cohort["site"].astype(str) == site]
        for group in [ALL, *groups]:
            rows = members if group == ALL else members[members["group"].astype(str) == group]
            cells += _outcome_cells(rows, group, site)
    return cells


def landmark_cells(landmark_cohorts: dict[float, tuple[pd.DataFrame, pd.DataFrame]], groups: list[str]) -> list[dict]:
    """Per landmark: the landmark cohort by group and All, and those gone before it.

    `landmark_cohorts` maps each landmark to (its cohort grouped by treatment so far, the
    patients who died or were censored by then), as `gistlm.causal.immortal_time` builds them.
    """
    cells = []
    for landmark, (rows, gone) in landmark_cohorts.items():
        text = _landmark_text(landmark)
        for group in [ALL, *groups]:
            members = rows if group == ALL else rows[rows["group"].astype(str) == group]
            cells += _outcome_cells(members, group, ALL, text)
        cells += _outcome_cells(gone, EXCLUDED, ALL, text)
    return cells


def relations(register: pd.DataFrame) -> list[dict[str, int]]:
    """The linear relations among the cells, each as {cell: coefficient} summing to 0."""
    cells = set(register["cell"])
    found = []

    def add(total: str, parts: list[str]):
        if total in cells and parts and all(part in cells for part in parts):
            relation = {total: -1}
            for part in parts:
                relation[part] = relation.get(part, 0) + 1
            found.append(relation)

    keys = register[["group", "site", "landmark"]].drop_duplicates().itertuples(index=False)
    for group, site, landmark in keys:  # patients = deaths + censored
        add(
            cell_name("patients", group, site, landmark),
            [cell_name(measure, group, site, landmark) for measure in ("deaths", "censored")],
        )
    groups = [g for g in register["group"].unique() if g not in (ALL, EXCLUDED)]
    sites = [s for s in register["site"].unique() if s != ALL]
    landmarks = [lm for lm in register["landmark"].unique() if lm != ""]
    for measure in ("patients", "deaths", "censored"):
        for site in [ALL, *sites]:  # the groups add up to all groups
            add(cell_name(measure, ALL, site), [cell_name(measure, g, site) for g in groups])
        for group in [ALL, *groups]:  # the sites add up to all sites
            if sites:
                add(cell_name(measure, group), [cell_name(measure, group, s) for s in sites])
        for landmark in landmarks:
            add(cell_name(measure, ALL, ALL, landmark), [cell_name(measure, g, ALL, landmark) for g in groups])
            # the landmark cohort lies within the cohort: the rest died or was censored before
            add(
                cell_name(measure),
                [cell_name(measure, ALL, ALL, landmark), cell_name(measure, EXCLUDED, ALL, landmark)],
            )
    return found


def build_register(cells: list[dict]) -> pd.DataFrame:
    register = pd.DataFrame(cells, columns=[*DIMENSIONS, "count"])
    register["landmark"] = register["landmark"].astype(str)
    register.insert(0, "cell", [cell_name(*row) for row in register[DIMENSIONS].itertuples(index=False)])
    return register


# --- the decision -------------------------------------------------------------------------


def relation_matrix(register: pd.DataFrame, found: list[dict[str, int]]) -> np.ndarray:
    position = {cell: i for i, cell in enumerate(register["cell"])}
    matrix = np.zeros((len(found), len(register)))
    for row, relation in enumerate(found):
        for cell, coefficient in relation.items():
            matrix[row, position[cell]] = coefficient
    return matrix


def determined(matrix: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Which hidden cells follow from the shown ones: x_i is fixed by the relations exactly
    when the unit vector e_i lies in the row space of the relations over the hidden cells."""
    unknown = matrix[:, hidden]
    rank = np.linalg.matrix_rank(unknown) if unknown.size else 0
    out = np.zeros(len(hidden), bool)
    for column, index in enumerate(np.flatnonzero(hidden)):
        unit = np.zeros((1, unknown.shape[1]))
        unit[0, column] = 1
        out[index] = np.linalg.matrix_rank(np.vstack([unknown, unit])) == rank
    return out


def decide(register: pd.DataFrame, minimum: int) -> pd.DataFrame:
    """The register with a `status` per cell: shown, primary or complementary.

    First the classic rule, relation by relation: a relation with a single hidden cell gets a
    partner hidden, its smallest shown non-zero cell (patient counts last: every figure shows
    them). Then the exact check; a cell the relations together still determine gets the
    partner that leaves the fewest cells determined.
    """
    out = register.copy()
    counts = out["count"].to_numpy(float)
    primary = (counts > 0) & (counts < minimum)
    hidden = primary.copy()
    matrix = relation_matrix(out, relations(out))
    order = np.lexsort((counts, (out["measure"] == "patients").to_numpy(), counts == 0))
    preference = np.empty(len(out), int)
    preference[order] = np.arange(len(out))
    while True:
        _hide_single_partners(matrix, hidden, preference)
        exposed = determined(matrix, hidden) & hidden
        if not exposed.any():
            break
        hidden[_best_partner(matrix, hidden, preference, np.flatnonzero(exposed)[0], out["cell"])] = True
    out["status"] = np.where(primary, PRIMARY, np.where(hidden, COMPLEMENTARY, SHOWN))
    return out


def _hide_single_partners(matrix: np.ndarray, hidden: np.ndarray, preference: np.ndarray) -> None:
    changed = True
    while changed:
        changed = False
        for relation in matrix != 0:
            if hidden[relation].sum() == 1 and (relation & ~hidden).any():
                shown = np.flatnonzero(relation & ~hidden)
                hidden[shown[np.argmin(preference[shown])]] = True
                changed = True


def _best_partner(matrix: np.ndarray, hidden: np.ndarray, preference: np.ndarray, cell: int, names) -> int:
    candidates = np.flatnonzero((matrix[matrix[:, cell] != 0] != 0).any(axis=0) & ~hidden)
    if candidates.size == 0:  # every neighbour hidden: look further
        candidates = np.flatnonzero(~hidden)
    if candidates.size == 0:
        raise AssertionError(f"{names.iloc[cell]} is determined although every cell is hidden")

    def exposed_after(candidate):
        trial = hidden.copy()
        trial[candidate] = True
        return (determined(matrix, trial) & trial).sum()

    return min(candidates, key=lambda candidate: (exposed_after(candidate), preference[candidate]))


# --- what the released tables publish -------------------------------------------------------


@dataclass(frozen=True)
class Published:
    """The counts one released table publishes: which column is which measure, and the cell
    of each row (group, site, landmark; `arm` for a clone-censor-weight arm, whose deaths are
    the same people as its group's deaths and so share their decision)."""

    file: str
    counts: dict[str, str]
    dims: Callable[[dict], dict] = field(default=lambda row: {})


def _group_of_term(term: str) -> str:
    return str(term).split(" vs ")[0]


def _site(value) -> str:
    return ALL if str(value).startswith("all sites") else str(value)


def _landmark_group(group: str) -> str:
    return EXCLUDED if str(group).startswith("excluded") else str(group)


def _arm_group(arm: str) -> str:
    return str(arm).split(":")[0].split(" within ")[0]


PUBLISHED = {
    "median_os.csv": Published("median_os.csv", {"n": "patients", "events": "deaths"}, lambda r: {"group": r["group"]}),
    # reverse Kaplan-Meier: its events are the censored
    "follow_up.csv": Published(
        "follow_up.csv", {"n": "patients", "events": "censored"}, lambda r: {"group": r["group"]}
    ),
    "cox.csv": Published("cox.csv", {"n": "patients", "events": "deaths"}),
    "site_hazard_ratios.csv": Published(
        "site_hazard_ratios.csv",
        {"patients_in_group": "patients", "deaths_in_group": "deaths"},
        lambda r: {"group": _group_of_term(r["term"]), "site": _site(r["site"])},
    ),
    "time_varying_cox.csv": Published("time_varying_cox.csv", {"n": "patients", "events": "deaths"}),
    "iptw_cox.csv": Published("iptw_cox.csv", {"n": "patients", "events": "deaths"}),
    "landmark_cox.csv": Published(
        "landmark_cox.csv", {"n": "patients", "events": "deaths"}, lambda r: {"landmark": r["landmark_months"]}
    ),
    "landmark_groups.csv": Published(
        "landmark_groups.csv",
        {"n": "patients", "events": "deaths"},
        lambda r: {"landmark": r["landmark_months"], "group": _landmark_group(r["group"])},
    ),
    "ccw_cox.csv": Published(
        "ccw_cox.csv",
        {"n": "patients", "events": "arm deaths", "events_reference": "arm deaths"},
        lambda r: {"arm": r["arm"], "group": _group_of_term(r["term"]), "reference": str(r["term"]).split(" vs ")[-1]},
    ),
    "ccw_weights.csv": Published(
        "ccw_weights.csv",
        {"clones": "patients", "deaths": "arm deaths"},
        lambda r: {"arm": r["arm"], "group": _arm_group(r["arm"])},
    ),
    "weights_summary.csv": Published("weights_summary.csv", {"n": "patients"}, lambda r: {"group": r["group"]}),
}


def table_cells(table: pd.DataFrame, published: Published, register: pd.DataFrame) -> pd.DataFrame:
    """Each count a table publishes: row, column, register cell (for an arm: its group's
    deaths cell, and `arm`), and the text as written. With a single site, that site's
    counts are the cohort's (the register has no site cells then)."""
    one_site = (register["site"] == ALL).all()
    rows = []
    for index, row in table.iterrows():
        dims = published.dims(row.to_dict())
        for column, measure in published.counts.items():
            if column not in table or pd.isna(row[column]) or str(row[column]) in ("", "nan"):
                continue  # no count in this row (e.g. the random-effects pooling)
            arm = ""
            group = dims.get("group", ALL)
            if measure == "arm deaths":  # a clone arm's deaths: its strategy's group
                arm = (
                    str(dims["arm"])
                    if column == "events" or "reference" not in dims
                    else f"{dims['reference']} (reference arm)"
                )
                group = dims["reference"] if column == "events_reference" else group
                measure = "deaths"
            if measure == "patients" and "arm" in dims:  # every patient is cloned into every arm
                group = ALL
            rows.append(
                {
                    "row": index,
                    "column": column,
                    "arm": arm,
                    "value": row[column],
                    "cell": cell_name(
                        measure,
                        group,
                        ALL if one_site else dims.get("site", ALL),
                        _landmark_text(dims.get("landmark", "")),
                    ),
                }
            )
    return pd.DataFrame(rows, columns=["row", "column", "arm", "cell", "value"])


def released(table: pd.DataFrame, register: pd.DataFrame, published: Published, minimum: int) -> pd.DataFrame:
    """`table` as released: each count as its register cell decides (`<minimum` primary,
    `suppressed` complementary). A clone arm's deaths are not in the register: hidden when
    small or when their group's deaths are hidden. A count that disagrees with its cell is
    a bug in the register, not something to release."""
    by_cell = register.set_index("cell")
    out = table.astype({column: object for column in published.counts if column in table})
    for entry in table_cells(table, published, register).itertuples(index=False):
        value = float(entry.value)
        status = by_cell.at[entry.cell, "status"] if entry.cell in by_cell.index else PRIMARY
        if entry.arm:
            status = PRIMARY if 0 < value < minimum else (COMPLEMENTARY if status != SHOWN else SHOWN)
        elif entry.cell not in by_cell.index:
            raise AssertionError(f"{published.file}: {entry.cell} is not in the disclosure register")
        elif by_cell.at[entry.cell, "count"] != value:
            raise AssertionError(
                f"{published.file}: {entry.cell} is {value:g} here but "
                f"{by_cell.at[entry.cell, 'count']} in the disclosure register"
            )
        out.at[entry.row, entry.column] = {SHOWN: count_text(value), PRIMARY: f"<{minimum}"}.get(status, SECONDARY)
    return out


def read_register(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"landmark": str, "site": str, "group": str}, keep_default_na=False)
