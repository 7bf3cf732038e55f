"""Ingestion: reading raw tables (CSV, Excel, Parquet) and typing their cells, with the log."""

import pandas as pd
import pytest

from gistlm.extract.errors import ExtractError, report_extract_errors
from gistlm.extract.ingestion import ingest_tables, read_raw_table, type_raw_table


def typed_table(frame, table, typed_extract):
    tables, conversions = typed_extract({table: frame})
    return tables[table], conversions[table]


def log_entry(log, row, column):
    """The single log row of a cell (file row, column)."""
    hits = log[(log["row"] == row) & (log["column"] == column)]
    assert len(hits) == 1, f"expected one log entry for row {row}, {column}; got\n{hits}"
    return hits.iloc[0]


# --- dates -------------------------------------------------------------------------------


def test_date_spellings_parse_to_the_same_day_and_non_iso_ones_are_logged(tiny_extract, typed_extract):
    patients = tiny_extract["patients"]
    # file rows 2, 3, 4 (header = row 1)
    patients["birth_date"] = ["1960-01-31", "1960/01/31", "21946"]
    patients["primary_diagnosis_date"] = ["2023-01-01 00:00:00", "44927", "2023/01/01"]
    typed, log = typed_table(patients, "patients", typed_extract)

    assert list(typed["birth_date"]) == [pd.Timestamp("1960-01-31")] * 3
    assert list(typed["primary_diagnosis_date"]) == [pd.Timestamp("2023-01-01")] * 3

    # ISO (the contract) is not logged
    assert log[(log["row"] == 2) & (log["column"] == "birth_date")].empty
    slash = log_entry(log, 3, "birth_date")
    assert (slash["value"], slash["status"], slash["conversion"]) == ("1960/01/31", "converted", "date YYYY/MM/DD")
    assert slash["converted"] == "1960-01-31"
    assert slash["table"] == "patients"
    serial = log_entry(log, 4, "birth_date")
    assert (serial["value"], serial["status"], serial["conversion"]) == ("21946", "converted", "Excel serial date")
    midnight = log_entry(log, 2, "primary_diagnosis_date")
    assert (midnight["status"], midnight["conversion"]) == ("converted", "date-time at midnight")
    assert log_entry(log, 3, "primary_diagnosis_date")["conversion"] == "Excel serial date"
    assert log_entry(log, 4, "primary_diagnosis_date")["conversion"] == "date YYYY/MM/DD"
    assert len(log) == 5


def test_unparseable_date_becomes_missing_and_is_logged_with_its_file_row(tiny_extract, typed_extract):
    follow_up = tiny_extract["follow_up"]
    follow_up.loc[1, "last_contact_date"] = "31/12/2021"  # P02, file row 3
    follow_up.loc[2, "last_contact_date"] = "99999999"  # P03, beyond the Excel serial range
    typed, log = typed_table(follow_up, "follow_up", typed_extract)

    assert pd.isna(typed.loc[1, "last_contact_date"])
    assert pd.isna(typed.loc[2, "last_contact_date"])
    assert typed.loc[0, "last_contact_date"] == pd.Timestamp("2022-12-01")
    entry = log_entry(log, 3, "last_contact_date")
    assert (entry["value"], entry["status"], entry["converted"]) == ("31/12/2021", "unparseable", "")
    assert entry["conversion"] == "not a date (YYYY-MM-DD)"
    assert log_entry(log, 4, "last_contact_date")["status"] == "unparseable"
    assert set(log["row"]) == {3, 4}


# --- numbers -----------------------------------------------------------------------------


def test_float_columns_accept_decimal_spelling_and_log_non_numbers(tiny_extract, typed_extract):
    treatments = tiny_extract["treatments"]
    treatments.loc[0, "dose_mg_day"] = "400.0"  # file row 2
    treatments.loc[1, "dose_mg_day"] = "400 mg"  # file row 3
    typed, log = typed_table(treatments, "treatments", typed_extract)

    assert typed["dose_mg_day"].dtype == "float64"
    assert typed.loc[0, "dose_mg_day"] == 400.0
    assert log[(log["row"] == 2) & (log["column"] == "dose_mg_day")].empty
    assert pd.isna(typed.loc[1, "dose_mg_day"])
    entry = log_entry(log, 3, "dose_mg_day")
    assert (entry["value"], entry["status"], entry["conversion"]) == ("400 mg", "unparseable", "not a number")
    assert typed.loc[4, "dose_mg_day"] == 37.5


def test_integer_columns_accept_whole_decimals_but_not_fractions(tiny_extract, typed_extract):
    lm = tiny_extract["liver_metastases"]
    lm["lm_count"] = ["3.0", "2.5", "4"]
    typed, log = typed_table(lm, "liver_metastases", typed_extract)

    assert str(typed["lm_count"].dtype) == "Int64"
    assert typed.loc[0, "lm_count"] == 3
    assert pd.isna(typed.loc[1, "lm_count"])
    assert typed.loc[2, "lm_count"] == 4
    whole = log_entry(log, 2, "lm_count")
    assert (whole["status"], whole["conversion"], whole["converted"]) == ("converted", "whole number", "3")
    fraction = log_entry(log, 3, "lm_count")
    assert (fraction["value"], fraction["status"], fraction["conversion"]) == (
        "2.5",
        "unparseable",
        "not a whole number",
    )
    assert log[(log["row"] == 4) & (log["column"] == "lm_count")].empty


# --- codes and missing values ------------------------------------------------------------


def test_codes_are_canonicalised_whatever_their_case_and_spaces(tiny_extract, typed_extract):
    patients = tiny_extract["patients"]
    patients["other_malignancy"] = ["YES", " Yes ", "no"]
    typed, log = typed_table(patients, "patients", typed_extract)

    assert list(typed["other_malignancy"]) == ["yes", "yes", "no"]
    upper = log_entry(log, 2, "other_malignancy")
    assert (upper["value"], upper["converted"], upper["status"], upper["conversion"]) == (
        "YES",
        "yes",
        "converted",
        "code spelling",
    )
    spaced = log_entry(log, 3, "other_malignancy")
    assert (spaced["value"], spaced["converted"], spaced["status"]) == (" Yes ", "yes", "converted")
    assert log[(log["row"] == 4) & (log["column"] == "other_malignancy")].empty


def test_unknown_codes_are_kept_as_written_for_validation(tiny_extract, typed_extract):
    patients = tiny_extract["patients"]
    patients.loc[0, "sex"] = "X"
    typed, log = typed_table(patients, "patients", typed_extract)
    assert typed.loc[0, "sex"] == "X"
    assert log[log["column"] == "sex"].empty


def test_missing_tokens_are_missing_but_none_stays_a_code(tiny_extract, typed_extract):
    lm = tiny_extract["liver_metastases"]
    lm["lm_bilobar"] = ["", "NA", "NULL"]
    lm["total_bilirubin_umol_l"] = ["n/a", "NA", "12.5"]
    lm["lm_evidence"] = ["none", "None", "biopsy"]
    typed, log = typed_table(lm, "liver_metastases", typed_extract)

    assert typed["lm_bilobar"].isna().all()
    assert typed["total_bilirubin_umol_l"].isna().tolist() == [True, True, False]
    assert list(typed["lm_evidence"]) == ["none", "none", "biopsy"]
    # a missing cell is not an error: nothing logged for those columns
    assert log[log["column"].isin(["lm_bilobar", "total_bilirubin_umol_l"])].empty
    recased = log_entry(log, 3, "lm_evidence")
    assert (recased["converted"], recased["conversion"]) == ("none", "code spelling")
    assert log[(log["row"] == 2) & (log["column"] == "lm_evidence")].empty


# --- table-level errors ------------------------------------------------------------------


def write_text(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def csv_text(frame):
    return frame.to_csv(index=False)


def test_missing_file_is_an_extract_error(tmp_path):
    path = tmp_path / "patients.csv"
    with pytest.raises(ExtractError) as error:
        read_raw_table(path, "patients")
    message = str(error.value)
    assert str(path) in message and "does not exist" in message and "raw.patients" in message


def test_empty_file_is_an_extract_error(tmp_path):
    path = write_text(tmp_path / "follow_up.csv", "")
    with pytest.raises(ExtractError, match="is empty") as error:
        read_raw_table(path, "follow_up")
    assert str(path) in str(error.value)


def test_header_only_file_is_an_extract_error(tmp_path):
    path = write_text(tmp_path / "follow_up.csv", "patient_id,last_contact_date,vital_status,death_date\n")
    with pytest.raises(ExtractError, match="header but no data rows") as error:
        read_raw_table(path, "follow_up")
    assert str(path) in str(error.value)


def test_a_sites_tables_are_ingested_together_and_all_their_problems_named_at_once(tmp_path, tiny_extract):
    """Rule ingest_extract reads a site's four tables in one job: each table typed as on its
    own, and a run stopped by broken files names every one of them, not only the first."""
    paths = {table: write_text(tmp_path / f"{table}.csv", csv_text(frame)) for table, frame in tiny_extract.items()}
    ingested = ingest_tables(paths)
    assert list(ingested) == list(paths)
    for table, (typed, log) in ingested.items():
        alone, alone_log = type_raw_table(read_raw_table(paths[table], table), table)
        pd.testing.assert_frame_equal(typed, alone)
        pd.testing.assert_frame_equal(log, alone_log)
    write_text(paths["follow_up"], "")
    with pytest.raises(ExtractError) as one:
        ingest_tables(paths)
    assert str(one.value) == f"follow_up: file {paths['follow_up']} is empty; it needs a header row and data rows."
    write_text(paths["patients"], csv_text(tiny_extract["patients"].drop(columns=["mutation"])))
    with pytest.raises(ExtractError) as both:
        ingest_tables(paths)
    message = str(both.value)
    assert message.startswith("2 raw tables cannot be read: (1) patients: file ") and "(2) follow_up: file " in message
    assert "lacks required column(s) ['mutation']" in message and str(paths["follow_up"]) in message
    assert "\n" not in message  # one paragraph


def test_duplicate_header_column_is_an_extract_error(tmp_path):
    path = write_text(
        tmp_path / "follow_up.csv",
        "patient_id,last_contact_date,vital_status,death_date,Vital_Status\nP01,2022-12-01,alive,,alive\n",
    )
    with pytest.raises(ExtractError, match="duplicate column") as error:
        read_raw_table(path, "follow_up")
    assert "vital_status" in str(error.value) and str(path) in str(error.value)


def test_missing_required_column_is_named(tmp_path, tiny_extract):
    frame = tiny_extract["patients"].drop(columns=["mutation"])
    path = write_text(tmp_path / "patients.csv", csv_text(frame))
    with pytest.raises(ExtractError, match="lacks required column") as error:
        read_raw_table(path, "patients")
    message = str(error.value)
    assert "['mutation']" in message and str(path) in message and message.startswith("patients:")


def test_non_utf8_bytes_are_an_extract_error_pointing_at_raw_encoding(tmp_path, tiny_extract):
    frame = tiny_extract["patients"].copy()
    frame.loc[0, "primary_pathology"] = "GIST (胃间质瘤)"
    with pytest.raises(UnicodeDecodeError):
        csv_text(frame).encode("gb18030").decode("utf-8")
    path = write_text(tmp_path / "patients.csv", csv_text(frame), encoding="gb18030")
    with pytest.raises(ExtractError) as error:
        read_raw_table(path, "patients", encoding="utf-8")
    message = str(error.value)
    assert "raw.encoding" in message and str(path) in message and "utf-8" in message


def test_utf8_bom_is_accepted(tmp_path, tiny_extract, typed_extract):
    path = write_text(tmp_path / "patients.csv", csv_text(tiny_extract["patients"]), encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    raw = read_raw_table(path, "patients")
    assert list(raw.columns)[:2] == ["source_row", "patient_id"]
    assert list(raw["patient_id"]) == ["P01", "P02", "P03"]
    assert list(raw["source_row"]) == [2, 3, 4]


def test_gb18030_csv_with_chinese_text_reads_with_its_encoding(tmp_path, tiny_extract):
    frame = tiny_extract["patients"].copy()
    frame["备注"] = ["胃间质瘤", "小肠", "肝转移"]  # an extra column in Chinese
    path = write_text(tmp_path / "patients.csv", csv_text(frame), encoding="gb18030")
    raw = read_raw_table(path, "patients", encoding="gb18030")
    assert "备注" not in raw.columns
    assert list(raw["patient_id"]) == ["P01", "P02", "P03"]
    assert list(raw["birth_date"]) == ["1955-03-10", "1970-07-01", "1962-11-30"]
    # the same bytes are not UTF-8: the encoding setting is what makes them readable
    with pytest.raises(ExtractError, match="raw.encoding"):
        read_raw_table(path, "patients", encoding="utf-8")


def test_extra_columns_are_ignored_and_column_names_normalised(tmp_path, tiny_extract):
    frame = tiny_extract["follow_up"].copy()
    frame.insert(1, "comment", ["x", "y", "z"])
    frame = frame.rename(columns={"vital_status": " Vital_Status "})
    path = write_text(tmp_path / "follow_up.csv", csv_text(frame))
    raw = read_raw_table(path, "follow_up")
    assert list(raw.columns) == ["source_row", "patient_id", "last_contact_date", "vital_status", "death_date"]
    assert list(raw["vital_status"]) == ["alive", "dead", "alive"]


def test_blank_header_cells_of_extra_columns_are_ignored(tmp_path):
    # exports often end every line with stray separators: unnamed, empty extra columns
    path = write_text(
        tmp_path / "follow_up.csv",
        "patient_id,last_contact_date,vital_status,death_date,,\n"
        "P01,2022-12-01,alive,,,\n"
        "P02,2021-05-01,dead,2021-05-01,,\n",
    )
    raw = read_raw_table(path, "follow_up")
    assert list(raw.columns) == ["source_row", "patient_id", "last_contact_date", "vital_status", "death_date"]
    assert list(raw["patient_id"]) == ["P01", "P02"]


def test_rows_after_a_blank_line_keep_their_file_row(tmp_path, typed_extract):
    path = write_text(
        tmp_path / "follow_up.csv",
        "patient_id,last_contact_date,vital_status,death_date\n"
        "P01,2022-12-01,alive,\n"
        "\n"
        "P02,2021-05-01,dead,31/05/2021\n",
    )
    raw = read_raw_table(path, "follow_up")
    assert list(raw["patient_id"]) == ["P01", "P02"]
    # P02 is on line 4 of the file: that is where a data manager must look
    assert list(raw["source_row"]) == [2, 4]
    _, log = type_raw_table(raw, "follow_up")
    assert log_entry(log, 4, "death_date")["status"] == "unparseable"


@pytest.mark.parametrize("encoding", ["UTF-8", "utf_8", "utf8"])
def test_utf8_bom_is_accepted_whatever_the_spelling_of_utf8(tmp_path, tiny_extract, encoding):
    path = write_text(tmp_path / "patients.csv", csv_text(tiny_extract["patients"]), encoding="utf-8-sig")
    raw = read_raw_table(path, "patients", encoding=encoding)
    assert list(raw["patient_id"]) == ["P01", "P02", "P03"]


# --- other formats -----------------------------------------------------------------------


def as_native(frame, typed):
    """The extract as a spreadsheet/Parquet user would save it: real dates and numbers."""
    native = frame.copy()
    for column in frame.columns:
        dtype = typed[column].dtype
        if pd.api.types.is_datetime64_any_dtype(dtype):
            native[column] = typed[column]
        elif str(dtype) == "Int64":
            native[column] = typed[column]
        elif dtype == "float64":
            native[column] = typed[column]
    return native


@pytest.mark.parametrize("table", ["patients", "liver_metastases", "treatments", "follow_up"])
def test_xlsx_and_parquet_give_the_same_typed_table_as_csv(tmp_path, tiny_extract, table):
    frame = tiny_extract[table]
    csv_path = write_text(tmp_path / f"{table}.csv", csv_text(frame))
    from_csv, _ = type_raw_table(read_raw_table(csv_path, table), table)

    native = as_native(frame, from_csv)
    dates = [c for c in native.columns if pd.api.types.is_datetime64_any_dtype(native[c])]
    assert dates, "the table should hold real date cells"
    xlsx_path = tmp_path / f"{table}.xlsx"
    native.to_excel(xlsx_path, index=False, engine="openpyxl")
    parquet_path = tmp_path / f"{table}.parquet"
    native.to_parquet(parquet_path, index=False)

    from_xlsx, _ = type_raw_table(read_raw_table(xlsx_path, table), table)
    from_parquet, _ = type_raw_table(read_raw_table(parquet_path, table), table)
    pd.testing.assert_frame_equal(from_xlsx, from_csv)
    pd.testing.assert_frame_equal(from_parquet, from_csv)


def test_parquet_cells_read_as_text_column_by_column_like_cell_by_cell():
    """The column-wise conversion gives each cell the text the per-cell one gave."""
    import datetime as dt

    import numpy as np

    from gistlm.extract.ingestion import _cell_text

    def per_cell(value):
        return value.strftime("%Y-%m-%d") if hasattr(value, "strftime") else str(value)

    columns = {
        "text": pd.Series(["a", None, " b ", "NA"]),
        "float": pd.Series([1.0, np.nan, 400.0, 1e-7]),
        "int": pd.Series([1, 2, 3, 4]),
        "nullable int": pd.Series([1, None, 3, 4], dtype="Int64"),
        "datetime": pd.to_datetime(pd.Series(["2020-01-01", None, "2021-02-03 04:05", "1999-12-31"]), format="ISO8601"),
        "date objects": pd.Series([dt.date(2020, 1, 2), None, dt.date(2021, 3, 4), dt.date(1999, 1, 1)]),
        "mixed": pd.Series(["x", 3, dt.datetime(2020, 1, 1, 5), np.nan]),
        "categorical": pd.Series(pd.Categorical(["u", None, "v", "u"])),
    }
    for name, column in columns.items():
        expected = [per_cell(v) for v in column.astype(object).where(column.notna(), "")]
        assert _cell_text(column).tolist() == expected, name


def test_xlsx_date_cells_are_logged_as_midnight_date_times(tmp_path, tiny_extract):
    frame = tiny_extract["follow_up"].copy()
    frame["last_contact_date"] = pd.to_datetime(frame["last_contact_date"])
    path = tmp_path / "follow_up.xlsx"
    frame.to_excel(path, index=False, engine="openpyxl")
    typed, log = type_raw_table(read_raw_table(path, "follow_up"), "follow_up")
    assert typed.loc[1, "last_contact_date"] == pd.Timestamp("2021-05-01")
    dated = log[log["column"] == "last_contact_date"]
    assert sorted(dated["row"]) == [2, 3, 4]
    assert set(dated["conversion"]) == {"date-time at midnight"}


def test_unknown_file_suffix_is_an_extract_error(tmp_path, tiny_extract):
    path = write_text(tmp_path / "patients.json", "{}")
    with pytest.raises(ExtractError, match=r"\.csv, \.xlsx or \.parquet"):
        read_raw_table(path, "patients")


# --- user-facing error report ------------------------------------------------------------


def test_report_extract_errors_exits_1_with_one_gistlm_line(capsys, tmp_path):
    log_path = tmp_path / "logs" / "ingest.log"
    with pytest.raises(SystemExit) as exit_info:
        with report_extract_errors(log_path):
            raise ExtractError("patients: file x.csv is empty; it needs a header row and data rows.")
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0] == "gistlm: patients: file x.csv is empty; it needs a header row and data rows."
    assert log_path.read_text(encoding="utf-8").strip() == lines[0]


def test_report_extract_errors_wraps_a_real_ingestion_failure(capsys, tmp_path):
    missing = tmp_path / "treatments.csv"
    with pytest.raises(SystemExit) as exit_info:
        with report_extract_errors():
            read_raw_table(missing, "treatments")
    assert exit_info.value.code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gistlm: treatments:") and "does not exist" in lines[0]


def test_report_extract_errors_lets_other_errors_through():
    with pytest.raises(ValueError):
        with report_extract_errors():
            raise ValueError("a bug, not a data problem")


def test_a_time_of_day_is_dropped_and_logged():
    from gistlm.extract.ingestion import parse_dates

    values, how = parse_dates(pd.Series(["2020-01-31 12:30:00", "2020-01-31 00:00:00"]))
    assert list(values) == [pd.Timestamp("2020-01-31")] * 2
    assert list(how) == ["date-time, time of day dropped", "date-time at midnight"]


def test_a_bare_year_is_not_taken_for_an_excel_serial_date():
    from gistlm.extract.ingestion import parse_dates

    values, how = parse_dates(pd.Series(["2020", "43861"]))
    assert pd.isna(values[0]) and how[0] == "not a date (YYYY-MM-DD)"
    assert values[1] == pd.Timestamp("2020-01-31") and how[1] == "Excel serial date"


def test_a_sites_tables_get_the_same_pseudonyms_whether_hashed_together_or_one_by_one():
    import hashlib
    import hmac

    from gistlm.extract.pseudonyms import pseudonymise, pseudonymise_all

    patients = pd.Series(["P0001", "P0002", "P0003"])
    treatments = pd.Series(["P0002", "P0002", None, "P0009", "P0001"])
    together = pseudonymise_all([patients, treatments], b"key", "S01")
    pd.testing.assert_series_equal(together[0], pseudonymise(patients, b"key", "S01"))
    pd.testing.assert_series_equal(together[1], pseudonymise(treatments, b"key", "S01"))
    assert together[1][0] == together[0][1] and pd.isna(together[1][2])
    # the keyed hash itself, computed here by hand: HMAC-SHA256 of "site/id", 16 hex digits
    expected = "PT-" + hmac.new(b"key", b"S01/P0009", hashlib.sha256).hexdigest()[:16]
    assert together[1][3] == expected


def test_pseudonyms_are_keyed_stable_and_keep_missing_ids(monkeypatch):
    from gistlm.extract.pseudonyms import load_key, pseudonymise

    ids = pd.Series(["P0001", "P0002", "P0001", None])
    first = pseudonymise(ids, b"key-1")
    assert first[0] == first[2] != first[1] and pd.isna(first[3])
    assert first[0].startswith("PT-") and len(first[0]) == 19 and "P0001" not in first[0]
    assert pseudonymise(ids, b"key-2")[0] != first[0]
    monkeypatch.delenv("GISTLM_TEST_KEY", raising=False)
    assert load_key("GISTLM_TEST_KEY", "", release=False)[1] == "development"
    with pytest.raises(ExtractError, match="release build needs a pseudonymisation key"):
        load_key("GISTLM_TEST_KEY", "", release=True)
    monkeypatch.setenv("GISTLM_TEST_KEY", "s3cret")
    assert load_key("GISTLM_TEST_KEY", "", release=True) == (b"s3cret", "environment")


# --- patient ids: text as written ---------------------------------------------------------


def test_missing_value_spellings_in_the_id_column_are_ids(tiny_extract, typed_extract):
    patients = tiny_extract["patients"]
    patients["patient_id"] = ["NA", "#N/A", "null"]
    typed, log = typed_table(patients, "patients", typed_extract)
    assert list(typed["patient_id"]) == ["NA", "#N/A", "null"]
    assert log[log["column"] == "patient_id"].empty


def test_spaces_around_an_id_are_trimmed_and_logged_without_the_id(tiny_extract, typed_extract):
    patients = tiny_extract["patients"]
    patients["patient_id"] = [" P01", "P02  ", "p03"]
    typed, log = typed_table(patients, "patients", typed_extract)
    # trimmed, never recased: p03 is not P03
    assert list(typed["patient_id"]) == ["P01", "P02", "p03"]
    entries = log[log["column"] == "patient_id"]
    assert entries["row"].tolist() == [2, 3]
    assert set(entries["conversion"]) == {"surrounding spaces"} and set(entries["status"]) == {"converted"}
    # the log goes to the data manager: the row, never the identifier
    assert set(entries["value"]) == set(entries["converted"]) == {"(identifier)"}


def test_a_blank_id_is_missing_for_validation_to_quarantine(tiny_extract, typed_extract):
    patients = tiny_extract["patients"]
    patients["patient_id"] = ["P01", "   ", ""]
    typed, _ = typed_table(patients, "patients", typed_extract)
    assert typed["patient_id"].isna().tolist() == [False, True, True]


def test_numeric_parquet_ids_have_one_spelling_whatever_their_type(tmp_path, tiny_extract):
    frames = {}
    for table, dtype in [("patients", "int64"), ("follow_up", "float64")]:
        frame = tiny_extract[table].assign(patient_id=pd.Series([1, 2, 30000000001]).astype(dtype))
        frame.to_parquet(tmp_path / f"{table}.parquet", index=False)
        frames[table] = read_raw_table(tmp_path / f"{table}.parquet", table)
    assert list(frames["patients"]["patient_id"]) == ["1", "2", "30000000001"]
    assert list(frames["follow_up"]["patient_id"]) == ["1", "2", "30000000001"]


def test_a_fractional_or_missing_parquet_id_is_kept_or_blank(tmp_path, tiny_extract):
    frame = tiny_extract["follow_up"].assign(patient_id=[1.5, float("nan"), 3.0])
    frame.to_parquet(tmp_path / "follow_up.parquet", index=False)
    assert list(read_raw_table(tmp_path / "follow_up.parquet", "follow_up")["patient_id"]) == ["1.5", "", "3"]


# --- messages -------------------------------------------------------------------------------


def test_a_directory_is_reported_as_a_directory(tmp_path):
    with pytest.raises(ExtractError) as error:
        read_raw_table(tmp_path, "follow_up")
    assert str(error.value) == (
        f"follow_up: {tmp_path} is a directory, not a file; set raw.follow_up in the "
        "config to the table's .csv, .xlsx or .parquet file."
    )


@pytest.mark.parametrize("damage", ["truncated", "renamed CSV"])
def test_a_corrupt_xlsx_is_one_paragraph(tmp_path, tiny_extract, damage):
    path = tmp_path / "patients.xlsx"
    tiny_extract["patients"].to_excel(path, index=False)
    if damage == "truncated":  # an interrupted copy: the zip's directory at its end is lost
        path.write_bytes(path.read_bytes()[:2000])
    else:
        write_text(path, csv_text(tiny_extract["patients"]))
    with pytest.raises(ExtractError) as error:
        read_raw_table(path, "patients")
    assert str(error.value) == (
        f"patients: file {path} is not a readable Excel workbook (not a valid .xlsx); "
        "open it in Excel and save it again as .xlsx, or export the table as CSV."
    )


def test_rows_after_a_quoted_line_break_are_numbered_by_file_line(tmp_path, typed_extract):
    path = write_text(
        tmp_path / "follow_up.csv",
        "patient_id,last_contact_date,vital_status,death_date\n"
        'P01,2022-12-01,"alive\nand well",\n'
        "\n"
        'P02,2021-05-01,dead,"31/05\n\n/2021"\n'
        "P03,2021-05-01,alivee,\n",
    )
    raw = read_raw_table(path, "follow_up")
    # what an editor shows: P02 starts on line 5, P03 on line 8
    assert list(raw["source_row"]) == [2, 5, 8]
    _, log = type_raw_table(raw, "follow_up")
    assert log_entry(log, 5, "death_date")["status"] == "unparseable"
