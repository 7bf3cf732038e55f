"""Ingestion: read one raw extract table (CSV, Excel or Parquet) into typed columns.

Table-level problems (missing file, wrong encoding, empty table, duplicate or missing
columns) raise ExtractError. Cell-level problems never drop anything: the cell becomes
missing and is logged as `unparseable` with its file row, so validation can quarantine
the patient; every non-trivial conversion (e.g. `2020/01/31`, an Excel serial date,
`YES`) is logged as `converted`.

Patient ids are text exactly as written (`NA`, `NULL` and `007` are ids), only trimmed of
surrounding spaces; a blank id stays missing and validation quarantines its row. Numeric
Parquet ids get one spelling whatever the column's type (`1` and `1.0` are the id `1`).
"""

import csv
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from gistlm.extract.errors import ExtractError
from gistlm.extract.schema import allowed_codes, column_types

# Spellings of an empty cell seen in hospital exports ("none" is a code, not a gap).
MISSING_TOKENS = {"", "na", "n/a", "nan", "null", "nat", "#n/a"}
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
# An Excel serial date must fall in 1900..2100 to be taken as one.
EXCEL_SERIAL_RANGE = (1, 73051)
DATE_FORMATS = {
    "%Y-%m-%d": None,  # ISO, the contract: not logged
    "%Y/%m/%d": "date YYYY/MM/DD",
    "%Y-%m-%d %H:%M:%S": "date-time at midnight",
}
# A bare year such as 2020 would otherwise pass as an Excel serial date (1905-07-12).
YEAR_ONLY = r"^(19|20)\d\d$"
LOG_COLUMNS = ["table", "row", "column", "value", "converted", "status", "conversion"]
ID_COLUMN = "patient_id"
# the conversion log is shared with the data manager: an id's row is logged, never the id
ID_WITHHELD = "(identifier)"


def read_raw_table(path: str | Path, table: str, encoding: str = "utf-8") -> pd.DataFrame:
    """Read a raw table as text, with `source_row` = its row number in the file (header = 1)."""
    path = Path(path)
    if path.is_dir():
        raise ExtractError(
            f"{table}: {path} is a directory, not a file; set raw.{table} in the config "
            "to the table's .csv, .xlsx or .parquet file."
        )
    if not path.is_file():
        raise ExtractError(f"{table}: file {path} does not exist; set raw.{table} in the config.")
    cells = _read_cells(path, table, encoding)
    if cells.empty:
        raise ExtractError(f"{table}: file {path} is empty; it needs a header row and data rows.")
    header = [str(name).strip().lower() for name in cells.iloc[0]]
    _check_header(header, path, table)
    frame = cells.iloc[1:].copy()
    frame.columns = header
    # row numbers count blank lines too, so they point at the file's own lines
    frame.insert(0, "source_row", _first_lines(path, len(cells), encoding)[1:])
    frame = frame[_has_content(frame.drop(columns="source_row"))]
    if frame.empty:
        raise ExtractError(f"{table}: file {path} has a header but no data rows.")
    return frame[["source_row", *column_types(table)]].reset_index(drop=True)


def _has_content(cells: pd.DataFrame) -> pd.Series:
    """Rows with at least one non-blank cell; only rows still blank so far are checked further
    (stripping every cell of a 1M-row table is the slow part of reading it)."""
    content = pd.Series(False, index=cells.index)
    for i in range(cells.shape[1]):
        todo = ~content
        if not todo.any():
            break
        content[todo] = cells.loc[todo, cells.columns[i]].astype(str).str.strip().ne("").to_numpy()
    return content


def _first_lines(path: Path, records: int, encoding: str) -> np.ndarray:
    """The file line (1-based) on which each record of the table starts, header included.

    Records are lines, except in a CSV whose quoted cells hold line breaks: there an editor's
    line number runs ahead of the record number, and the data manager must be sent to the line.
    """
    if path.suffix.lower() not in {".csv", ".txt"}:
        return np.arange(1, records + 1)
    with path.open("rb") as handle:
        data = handle.read()
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if lines == records:
        return np.arange(1, records + 1)
    starts, end = [], 0
    try:
        with path.open(encoding=_csv_encoding(encoding), newline="") as handle:
            reader = csv.reader(handle)
            for _ in reader:
                starts.append(end + 1)
                end = reader.line_num
    except csv.Error:
        starts = []
    # should Python's reader split records unlike pandas', record numbers are the best left
    return np.array(starts) if len(starts) == records else np.arange(1, records + 1)


def _csv_encoding(encoding: str) -> str:
    # utf-8-sig also accepts a byte-order mark
    return "utf-8-sig" if encoding.lower().replace("_", "-") in {"utf-8", "utf8"} else encoding


def _read_cells(path: Path, table: str, encoding: str) -> pd.DataFrame:
    """All cells as text, the header being row 0; file-format errors become ExtractError."""
    suffix = path.suffix.lower()
    configured = encoding
    try:
        if suffix in {".csv", ".txt"}:
            return pd.read_csv(
                path,
                header=None,
                dtype=str,
                keep_default_na=False,
                encoding=_csv_encoding(encoding),
                skip_blank_lines=False,
            )
        if suffix in {".xlsx", ".xlsm"}:
            # openpyxl named: pandas would otherwise guess the format, and a damaged workbook
            # would get a message about engines instead of BadZipFile
            return pd.read_excel(path, header=None, dtype=str, keep_default_na=False, engine="openpyxl")
        if suffix == ".parquet":
            return _parquet_cells(path)
    except zipfile.BadZipFile:
        # an .xlsx is a zip archive: a truncated download or a renamed .xls or .csv is not one
        raise ExtractError(
            f"{table}: file {path} is not a readable Excel workbook (not a valid .xlsx); "
            "open it in Excel and save it again as .xlsx, or export the table as CSV."
        ) from None
    except UnicodeDecodeError as error:
        raise ExtractError(
            f"{table}: file {path} is not valid {configured} text (byte {error.start}); "
            "set raw.encoding in the config (e.g. gb18030) or re-export as UTF-8."
        ) from None
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (ValueError, OSError, pd.errors.ParserError) as error:
        # parser messages can span lines; the user gets one paragraph
        reason = " ".join(str(error).split())
        advice = (
            "check that every row has as many cells as the header and that quotes are closed"
            if suffix in {".csv", ".txt"}
            else "save it again from the program that made it, or export it as CSV"
        )
        raise ExtractError(f"{table}: file {path} could not be read ({reason}); {advice}.") from None
    raise ExtractError(f"{table}: file {path} must end in .csv, .xlsx or .parquet.")


def _parquet_cells(path: Path) -> pd.DataFrame:
    """A Parquet table as text cells with its header as row 0, like the other formats."""
    frame = pd.read_parquet(path)
    text = pd.DataFrame(
        {
            i: _id_text(frame.iloc[:, i]) if str(name).strip().lower() == ID_COLUMN else _cell_text(frame.iloc[:, i])
            for i, name in enumerate(frame.columns)
        }
    )
    return pd.concat([pd.DataFrame([list(frame.columns)]), text], ignore_index=True)


def _id_text(column: pd.Series) -> pd.Series:
    """Numeric ids in one spelling whatever the column's type: a whole number as an integer.

    A hospital's tables may store the same id as int64 in one file and float64 in another
    (a float column as soon as one id is missing); `str` would give `1` and `1.0`.
    """
    if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
        return _cell_text(column)
    numbers = column.astype("float64")
    whole = numbers.notna() & (numbers % 1 == 0)
    text = _cell_text(column)
    text[whole] = [str(int(value)) for value in numbers[whole]]
    return text


def _cell_text(column: pd.Series) -> pd.Series:
    """One Parquet column as text: dates as YYYY-MM-DD, anything else as str(value), missing as "".

    Converted a whole column at a time by its type (a per-cell Python call is minutes at 1M rows);
    only an object column mixing dates with other values goes cell by cell.
    """
    missing = column.isna()
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.dt.strftime("%Y-%m-%d").where(~missing, "").astype(object)
    values = column.astype(object).where(~missing, "")
    typed = (
        pd.api.types.is_numeric_dtype(column)
        or pd.api.types.is_bool_dtype(column)
        or pd.api.types.is_string_dtype(column)
        and column.dtype != object
    )
    kind = "typed" if typed else pd.api.types.infer_dtype(values, skipna=False)
    if kind in {"string", "empty", "typed"}:
        # str() of each value, exactly as the cell-by-cell version (e.g. 400.0 -> "400.0")
        return values.astype(str).astype(object)
    return values.map(lambda value: value.strftime("%Y-%m-%d") if hasattr(value, "strftime") else str(value))


def _check_header(header: list[str], path: Path, table: str) -> None:
    # blank header cells are unnamed extra columns, ignored like any other extra column
    duplicated = sorted({name for name in header if name and header.count(name) > 1})
    if duplicated:
        raise ExtractError(f"{table}: file {path} has duplicate column(s) {duplicated} in its header.")
    missing = [name for name in column_types(table) if name not in header]
    if missing:
        raise ExtractError(
            f"{table}: file {path} lacks required column(s) {missing}; "
            f"found {header}. See the data dictionary in README.md."
        )


def type_raw_table(raw: pd.DataFrame, table: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Convert each contract column to its type; returns the typed table and the conversion log."""
    typed = raw[["source_row"]].copy()
    logs = []
    codes = allowed_codes(table)
    for column, dtype in column_types(table).items():
        convert = patient_ids if column == ID_COLUMN else convert_column
        values, how, failed = convert(raw[column], dtype, codes.get(column))
        typed[column] = values
        logs.append(_conversion_log(table, column, raw, values, how, failed))
    log = pd.concat(logs, ignore_index=True) if logs else pd.DataFrame(columns=LOG_COLUMNS)
    return typed, log


def convert_column(cells: pd.Series, dtype: str, codes: list[str] | None) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Per cell: the typed value, the conversion made (None if none) and whether it failed.

    A conversion depends on the cell's text alone, so each distinct text is converted once
    and the results spread back to the cells: a 1M-row column has a few thousand distinct
    dates or codes, and Python-level string methods per cell were the bulk of ingestion.
    """
    position, distinct = pd.factorize(cells.astype(str))
    original = pd.Series(distinct, dtype=object)
    text = original.str.strip()
    text = text.where(~text.str.lower().isin(MISSING_TOKENS))
    if dtype.startswith("datetime"):
        values, how = parse_dates(text)
    elif dtype in {"float64", "Int64"}:
        values, how = parse_numbers(text, integer=dtype == "Int64")
    else:
        values, how = canonical_codes(text, codes)
    trimmed = original != text.fillna(original)
    how = how.where(how.notna() | ~trimmed, "surrounding spaces")
    failed = values.isna() & text.notna()
    return tuple(per_value.take(position).set_axis(cells.index) for per_value in (values, how, failed))


def patient_ids(cells: pd.Series, dtype: str = "str", codes=None) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Ids as written, trimmed of surrounding spaces (logged); a blank id is missing.

    No missing-value token applies: `NA`, `NULL` or `#N/A` is what the hospital system wrote
    in the id column, so it is that patient's id. Case is kept (`p01` is not `P01`).
    """
    # a short CSV row has no cell at all in this column: blank, not the text "nan"
    original = cells.where(cells.notna(), "").astype(str)
    text = original.str.strip()
    how = pd.Series(np.where(text != original, "surrounding spaces", None), index=cells.index, dtype=object)
    values = text.where(text != "").astype(object)
    return values, how, pd.Series(False, index=cells.index)


def parse_dates(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Dates from ISO, YYYY/MM/DD, midnight date-times or Excel serial numbers."""
    values = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    how = pd.Series(None, index=text.index, dtype=object)
    for fmt, label in DATE_FORMATS.items():
        todo = values.isna() & text.notna()
        parsed = pd.to_datetime(text[todo], format=fmt, errors="coerce")
        values[parsed.dropna().index] = parsed.dropna()
        how[parsed.dropna().index] = label
    timed = values.notna() & (values != values.dt.normalize())
    values[timed] = values[timed].dt.normalize()
    how[timed] = "date-time, time of day dropped"
    candidates = text[values.isna() & text.notna()]
    serial = pd.to_numeric(candidates[~candidates.str.match(YEAR_ONLY)], errors="coerce")
    low, high = EXCEL_SERIAL_RANGE
    serial = serial[(serial % 1 == 0) & serial.between(low, high)]
    values[serial.index] = EXCEL_EPOCH + pd.to_timedelta(serial, unit="D")
    how[serial.index] = "Excel serial date"
    how[values.isna() & text.notna()] = "not a date (YYYY-MM-DD)"
    return values, how


def parse_numbers(text: pd.Series, integer: bool) -> tuple[pd.Series, pd.Series]:
    """Numbers; integers also accept `3.0`, but not `2.5`."""
    numbers = pd.to_numeric(text, errors="coerce")
    how = pd.Series(None, index=text.index, dtype=object)
    how[numbers.isna() & text.notna()] = "not a number"
    if not integer:
        return numbers.astype("float64"), how
    fractional = numbers.notna() & (numbers % 1 != 0)
    how[fractional] = "not a whole number"
    numbers = numbers.where(~fractional)
    reformatted = numbers.notna() & (text != numbers.astype("Int64").astype(str))
    how[reformatted] = "whole number"
    return numbers.astype("Int64"), how


def canonical_codes(text: pd.Series, codes: list[str] | None) -> tuple[pd.Series, pd.Series]:
    """Codes in their canonical spelling whatever the case (`YES` -> `yes`); others untouched."""
    how = pd.Series(None, index=text.index, dtype=object)
    if not codes:
        return text.astype(object), how
    canonical = text.str.lower().map({code.lower(): code for code in codes})
    recased = canonical.notna() & (canonical != text)
    how[recased] = "code spelling"
    return canonical.where(canonical.notna(), text).astype(object), how


def _conversion_log(table, column, raw, values, how, failed) -> pd.DataFrame:
    """Rows of the log for one column: cells whose spelling changed or could not be read."""
    logged = how.notna()
    identifier = column == ID_COLUMN
    return pd.DataFrame(
        {
            "table": table,
            "row": raw.loc[logged, "source_row"],
            "column": column,
            "value": ID_WITHHELD if identifier else raw.loc[logged, column].astype(str),
            "converted": ID_WITHHELD if identifier else values[logged].astype(str).where(~failed[logged], ""),
            "status": np.where(failed[logged], "unparseable", "converted"),
            "conversion": how[logged],
        },
        columns=LOG_COLUMNS,
    )


def ingest_tables(
    paths: dict[str, str | Path], encoding: str = "utf-8"
) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Each raw table of one site typed, with its conversion log: {table: (typed, log)}.

    Every table is read before a table-level problem stops the run, so that one message
    names the problems of all of them (a site's tables are one job: rule ingest_extract).
    """
    typed, problems = {}, []
    for table, path in paths.items():
        try:
            typed[table] = type_raw_table(read_raw_table(path, table, encoding), table)
        except ExtractError as problem:
            problems.append(str(problem))
    if len(problems) == 1:
        raise ExtractError(problems[0])
    if problems:
        listed = " ".join(f"({number}) {problem}" for number, problem in enumerate(problems, 1))
        raise ExtractError(f"{len(problems)} raw tables cannot be read: {listed}")
    return typed
