"""CSV files a data manager opens in Excel: no cell copied from raw data may run as a formula.

OWASP's rule against CSV injection: a text cell beginning with `=`, `+`, `-`, `@`, a tab or a
carriage return gets a single quote in front, so a spreadsheet shows it as text. Rules that read
such a file back remove the quote again (read_csv), and the round trip is exact: a cell that
already began with quotes before one of those characters gets one more quote, so removing one
always gives the cell as it was.
"""

from pathlib import Path

import pandas as pd

NEUTRALISE = r"^'*[=+\-@\t\r]"
RESTORE = r"^'+[=+\-@\t\r]"


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would take for a formula, prefixed with a single quote."""
    return _map_text(frame, NEUTRALISE, lambda text: "'" + text)


def restore(frame: pd.DataFrame) -> pd.DataFrame:
    """The cells as they were before `neutralise`."""
    return _map_text(frame, RESTORE, lambda text: text.str[1:])


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """A CSV safe to open in Excel (index left out).

    Lines end in CRLF (RFC 4180): with pandas' bare LF, a cell holding a carriage return is
    written unquoted and read back as two rows.
    """
    neutralise(frame).to_csv(path, index=False, lineterminator="\r\n")


def read_csv(path: str | Path, **options) -> pd.DataFrame:
    """A CSV written by write_csv, its cells as they were (options as for pandas.read_csv)."""
    return restore(pd.read_csv(path, **options))


def _map_text(frame: pd.DataFrame, start: str, change) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if not (pd.api.types.is_object_dtype(out[column]) or pd.api.types.is_string_dtype(out[column])):
            continue
        text = out[column]
        is_text = text.map(lambda value: isinstance(value, str)).astype(bool)
        hit = text.where(is_text, "").astype(str).str.contains(start, regex=True) & is_text
        if hit.any():
            out.loc[hit, column] = change(text[hit].astype(str))
    return out
