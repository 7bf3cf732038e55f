"""The disclosure audit: can a hidden count be recovered from what the release publishes?

It plays the data-protection officer with nothing but the released tables: it gathers every
count they publish (`count_register.PUBLISHED` says which column of which file is which
cell), and for each cell the register hides it tries three routes:

- the cell itself is published in some file (a table that did not suppress it);
- a clone-censor-weight arm's deaths are published while its group's deaths are hidden
  (the same patients counted another way);
- the linear relations of the register (n = deaths + censored, groups add up to All, sites to
  all sites, a landmark cohort plus those gone before it to the cohort) determine it from
  the published counts. Exact: the cell is determined when its unit vector lies in the row
  space of the relations restricted to the unpublished cells.

Its output names cells, never their hidden values, so it may leave with the release.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from gistlm.release.count_register import PUBLISHED, SHOWN, determined, relation_matrix, relations, table_cells

AUDIT_COLUMNS = ["cell", "status", "file", "check"]
PROTECTED, RECOVERABLE, PUBLISHED_STATUS = "protected", "RECOVERABLE", "published"


def _number(text) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if value == value else None


def published_counts(tables: dict[str, pd.DataFrame], register: pd.DataFrame) -> pd.DataFrame:
    """Every count the released tables publish: file, column, cell, arm, value (None if hidden)."""
    found = []
    for name, table in tables.items():
        if name not in PUBLISHED:
            continue
        cells = table_cells(table, PUBLISHED[name], register)
        cells.insert(0, "file", name)
        cells["number"] = cells["value"].map(_number)
        found.append(cells)
    columns = ["file", "row", "column", "arm", "cell", "value", "number"]
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=columns)


def audit(register: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One line per register cell: shown cells with the files that publish them, hidden cells
    as protected or RECOVERABLE with the file and the route."""
    counts = published_counts(tables, register)
    shown_numbers = counts[counts["number"].notna()]
    direct = shown_numbers[shown_numbers["arm"] == ""]
    arms = shown_numbers[shown_numbers["arm"] != ""]
    known = register["cell"].isin(direct["cell"]).to_numpy()
    matrix = relation_matrix(register, relations(register))
    solvable = determined(matrix, ~known)
    lines = []
    for index, cell in enumerate(register.itertuples(index=False)):
        hidden = cell.status != SHOWN
        in_files = direct[direct["cell"] == cell.cell]
        if not hidden:
            files = ", ".join(dict.fromkeys(in_files["file"])) or "not published"
            lines.append((cell.cell, PUBLISHED_STATUS if len(in_files) else "unpublished", files, "shown by decision"))
        elif len(in_files):
            first = in_files.iloc[0]
            lines.append(
                (
                    cell.cell,
                    RECOVERABLE,
                    first["file"],
                    f"published as {first['value']} in column {first['column']}, row {first['row'] + 1}",
                )
            )
        elif len(arm := arms[arms["cell"] == cell.cell]):
            first = arm.iloc[0]
            lines.append(
                (
                    cell.cell,
                    RECOVERABLE,
                    first["file"],
                    f"the deaths of arm '{first['arm']}' (the same patients) are published in column "
                    f"{first['column']}, row {first['row'] + 1}",
                )
            )
        elif solvable[index]:
            route, files = _route(register, matrix, known, index, direct)
            lines.append((cell.cell, RECOVERABLE, files, route))
        else:
            lines.append(
                (
                    cell.cell,
                    PROTECTED,
                    "",
                    f"not published; not determined by the {len(matrix)} relations "
                    "among the published counts (rank test)",
                )
            )
    return pd.DataFrame(lines, columns=AUDIT_COLUMNS)


def _route(
    register: pd.DataFrame, matrix: np.ndarray, known: np.ndarray, index: int, direct: pd.DataFrame
) -> tuple[str, str]:
    """The relation that gives a recoverable cell away, with the files of its other counts
    (a single relation when one does; otherwise the relations together)."""
    names = register["cell"].to_numpy()
    for relation in matrix[matrix[:, index] != 0]:
        members = np.flatnonzero(relation)
        if all(known[m] for m in members if m != index):
            others = [m for m in members if m != index]
            files = sorted({file for m in others for file in direct.loc[direct["cell"] == names[m], "file"]})
            total = [m for m in members if relation[m] < 0]
            equation = (
                f"{' + '.join(names[m] for m in members if relation[m] > 0)} = {' + '.join(names[m] for m in total)}"
            )
            return f"from {equation}", ", ".join(files)
    return "from several relations together (rank test)", ", ".join(sorted(set(direct["file"])))


def read_released(folder: str | Path) -> dict[str, pd.DataFrame]:
    """The released CSV tables by file name, every value as its text."""
    return {
        path.name: pd.read_csv(path, dtype=str, keep_default_na=False)
        for path in sorted(Path(folder).glob("*.csv"))
        if path.name in PUBLISHED
    }


def failures(result: pd.DataFrame) -> pd.DataFrame:
    return result[result["status"] == RECOVERABLE]


def failure_message(result: pd.DataFrame, audit_path: str) -> str:
    bad = failures(result)
    lines = [f"{row.cell} in {row.file or 'several files'} ({row.check})" for row in bad.itertuples()]
    return (
        f"the disclosure audit ({audit_path}) found {len(bad)} hidden count(s) that the released files give "
        f"away: {'; '.join(lines)}. privacy.release is true, so nothing is released: suppress the count in "
        "the named file (gistlm.release.count_register decides every count once; a table writing its own counts "
        "bypasses it) and rerun."
    )


def manifest(folder: str | Path, result: pd.DataFrame) -> pd.DataFrame:
    """Every file of the release folder (but the manifest) with its SHA-256, size and the
    audit's verdict: for a table whose counts the audit read, whether any gives a hidden one
    away; for the others, the verdict of the release as a whole."""
    from gistlm.provenance import sha256

    folder = Path(folder)
    bad = failures(result)
    leaking = {file.strip() for files in bad["file"] for file in files.split(",") if file.strip()}
    overall = "passed" if bad.empty else f"FAILED ({len(bad)} hidden count(s) recoverable)"
    rows = []
    for path in sorted(
        p for p in folder.rglob("*") if p.is_file() and p.name not in ("MANIFEST.tsv", ".snakemake_timestamp")
    ):
        if path.name in PUBLISHED:
            verdict = "FAILED: gives a hidden count away" if path.name in leaking else "passed (counts audited)"
        else:
            verdict = overall
        rows.append(
            {
                "file": path.relative_to(folder).as_posix(),
                "sha256": sha256(path),
                "bytes": path.stat().st_size,
                "audit": verdict,
            }
        )
    return pd.DataFrame(rows, columns=["file", "sha256", "bytes", "audit"])
