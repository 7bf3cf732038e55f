"""CSV files a data manager opens in Excel: no cell copied from raw data may run as a formula.

OWASP's rule against CSV injection: a text cell beginning with `=`, `+`, `-`, `@`, a tab or a
carriage return gets a single quote in front, so a spreadsheet shows it as text. Rules that read
such a file back remove the quote again (read_csv), and the round trip is exact: a cell that
already began with quotes before one of those characters gets one more quote, so removing one
always gives the cell as it was.
"""

import re
from pathlib import Path

import numpy as np
import pandas as pd

# a cell beginning with one of these is run as a formula
FORMULA_START = "=+-@\t\r"
NEUTRALISE = rf"^'*[{re.escape(FORMULA_START)}]"
RESTORE = rf"^'+[{re.escape(FORMULA_START)}]"


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would take for a formula, prefixed with a single quote."""
    return _map_text(frame, NEUTRALISE, "'" + FORMULA_START, lambda text: "'" + text)


def restore(frame: pd.DataFrame) -> pd.DataFrame:
    """The cells as they were before `neutralise`."""
    return _map_text(frame, RESTORE, "'", lambda text: text.str[1:])


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """A CSV safe to open in Excel (index left out).

    Lines end in CRLF (RFC 4180): with pandas' bare LF, a cell holding a carriage return is
    written unquoted and read back as two rows.
    """
    write_table(neutralise(frame), path, lineterminator="\r\n")


def write_table(frame: pd.DataFrame, path: str | Path, lineterminator: str = "\n") -> None:
    """The bytes of pandas' `frame.to_csv(path, index=False, lineterminator=...)`, 4-9 times
    faster for tables of text, numbers and booleans: pandas formats each number through
    numpy's string conversion (at 1M patients: start_stop.csv 18.6 s, 1.9 s here; the
    propensity scores 8.5 s, 1.3 s here). Other column types, or a single column (where the
    csv module quotes an empty cell), are written by pandas itself."""
    cells = [_cells(frame[column], lineterminator) for column in frame.columns] if len(frame.columns) > 1 else None
    if cells is None or any(column is None for column in cells):
        frame.to_csv(path, index=False, lineterminator=lineterminator)
        return
    header = ",".join(_quoted(str(name), _special(lineterminator)) for name in frame.columns)
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(header + lineterminator)
        for start in range(0, len(frame), 100_000):  # memory: the lines of one block at a time
            block = zip(*(column[start : start + 100_000] for column in cells))
            out.writelines(",".join(row) + lineterminator for row in block)


def _cells(column: pd.Series, lineterminator: str) -> list[str] | None:
    """A column's cells as pandas writes them (missing: empty); None for a type left to pandas."""
    if isinstance(column.dtype, pd.CategoricalDtype) and column.cat.categories.dtype == object:
        column = column.astype(object)  # the groups: written as their labels
    kind = column.dtype.kind if isinstance(column.dtype, np.dtype) else None  # not pandas' own types
    values = column.to_numpy()
    if kind == "b":
        return np.where(values, "True", "False").tolist()
    if kind == "f" and column.dtype.itemsize == 8:
        # by bit pattern: -0.0 and 0.0 are two texts, and every NaN is written empty
        text = _each_distinct(values.view(np.int64), values, float.__repr__)
        text[np.isnan(values)] = ""
        return text.tolist()
    if kind in ("i", "u"):
        return _each_distinct(values, values, str).tolist()
    if kind != "O" or pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        return None
    cells = column.fillna("").astype(str).tolist()
    special = _special(lineterminator)
    if _any_cell_holds(cells, special):
        # each distinct text quoted once: the ledger's 1M reasons are a few texts with commas
        texts = np.array(cells, dtype=object)
        cells = _each_distinct(texts, texts, lambda cell: _quoted(cell, special)).tolist()
    return cells


def _each_distinct(keys: np.ndarray, values: np.ndarray, text) -> np.ndarray:
    """`text` of every value, called once per distinct key (`keys`: the values, or their bits):
    the patient-level tables repeat few values (0/1 indicators, times, one score per
    covariate pattern), and formatting each cell was most of writing them."""
    codes, distinct = pd.factorize(keys)
    return np.array(list(map(text, distinct.view(values.dtype).tolist())), dtype=object)[codes]


def _special(lineterminator: str) -> set[str]:
    """The characters that make the csv module's minimal quoting quote a cell."""
    return {",", '"', *lineterminator}


def _quoted(text: str, special: set[str]) -> str:
    """A cell as the csv module's minimal quoting writes it."""
    if any(character in text for character in special):
        return '"' + text.replace('"', '""') + '"'
    return text


def read_csv(path: str | Path, **options) -> pd.DataFrame:
    """A CSV written by write_csv, its cells as they were (options as for pandas.read_csv)."""
    return restore(pd.read_csv(path, **options))


def _map_text(frame: pd.DataFrame, start: str, first: str, change) -> pd.DataFrame:
    """`change` the text cells matching `start`, whose first character is one of `first`."""
    out = frame.copy()
    for column in out.columns:
        if not (pd.api.types.is_object_dtype(out[column]) or pd.api.types.is_string_dtype(out[column])):
            continue
        text = out[column]
        if not _may_begin_with(text, first):
            continue
        try:  # a cell that is not text gives NA, so False: one vectorised pass, not a test per cell
            hit = text.str.contains(start, regex=True, na=False).astype(bool)
        except AttributeError:  # no text in the column at all
            continue
        if hit.any():
            out.loc[hit, column] = change(text[hit].astype(str))
    return out


def _may_begin_with(text: pd.Series, first: str) -> bool:
    """False when no cell begins with one of the characters `first` (the expression then
    need not test each cell in Python: 1M ids in the ledger)."""
    values = text.dropna().to_numpy()
    if pd.api.types.infer_dtype(values, skipna=False) not in ("string", "empty"):
        return True  # not only text: the expression judges each cell
    return _any_cell_holds(values, ["\x00" + character for character in first])


def _any_cell_holds(cells, fragments) -> bool:
    """Whether a text cell holds one of `fragments`, "\\x00" standing for a cell's start: one
    scan in C of the cells joined by NUL, not a test per cell in Python (most columns need
    neither quotes nor a formula's quote)."""
    joined = "\x00" + "\x00".join(cells)
    return any(fragment in joined for fragment in fragments)
