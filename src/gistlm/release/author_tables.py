"""The released tables where clinical authors work: Word (.docx, python-docx) and Excel (.xlsx,
openpyxl), written from the same suppressed values as the HTML report.

Both formats are zip archives stamped with the time of writing; the stamps are fixed here
so that a rerun gives the same bytes (tests/test_reproducibility.py).
"""

import re
import zipfile
from datetime import datetime
from pathlib import Path

import pandas as pd

from gistlm.report.data_dictionary import term_label

FIXED_TIME = datetime(2000, 1, 1)
ZIP_TIME = (2000, 1, 1, 0, 0, 0)


def _ci(row: pd.Series, digits: int = 2) -> str:
    if pd.isna(row["hr"]):
        return "–"
    return f"{row['hr']:.{digits}f} ({row['ci_lower']:.{digits}f}–{row['ci_upper']:.{digits}f})"


def _p(value) -> str:
    return "–" if pd.isna(value) else "<0.001" if value < 0.001 else f"{value:.3f}"


def cox_table(cox: pd.DataFrame, dictionary: dict, ci_label: str) -> pd.DataFrame:
    """The Cox models as authors print them: term by its label, HR (CI), p, patients, deaths."""
    return pd.DataFrame(
        {
            "Model": cox["model"].str.capitalize(),
            "Term": cox["term"].map(lambda term: term_label(term, dictionary)),
            f"HR ({ci_label})": cox.apply(_ci, axis=1),
            "p": cox["p_value"].map(_p),
            "Patients": cox["n"].astype(str),
            "Deaths": cox["events"].astype(str),
        }
    )


def causal_summary(e_values: pd.DataFrame, ci_label: str) -> pd.DataFrame:
    """Each treated group's hazard ratio by every method, with its E-values."""
    return pd.DataFrame(
        {
            "Method": e_values["method"],
            "Comparison": e_values["term"],
            f"HR ({ci_label})": e_values.apply(_ci, axis=1),
            "CI method": e_values["ci_method"],
            "E-value": e_values["e_value"].map(lambda v: "–" if pd.isna(v) else f"{v:.2f}"),
            "E-value (CI)": e_values["e_value_ci"].map(lambda v: "–" if pd.isna(v) else f"{v:.2f}"),
        }
    )


def write_docx(tables: list[tuple[str, pd.DataFrame, str]], path: str | Path) -> None:
    """One Word document: per table a heading, the table (header row bold) and its note."""
    from docx import Document
    from docx.shared import Pt

    document = Document()
    document.core_properties.created = document.core_properties.modified = FIXED_TIME
    document.core_properties.last_printed = FIXED_TIME
    document.core_properties.author = document.core_properties.last_modified_by = "gistlm"
    document.core_properties.revision = 1
    for title, frame, note in tables:
        document.add_heading(title, level=2)
        table = document.add_table(rows=1, cols=len(frame.columns))
        table.style = "Table Grid"
        for cell, column in zip(table.rows[0].cells, frame.columns):
            cell.text = str(column)
            for run in cell.paragraphs[0].runs:
                run.bold = True
        for values in frame.itertuples(index=False):
            for cell, value in zip(table.add_row().cells, values):
                cell.text = "" if pd.isna(value) else str(value)
        for row in table.rows:
            for cell in row.cells:
                for paragraph in cell.paragraphs:
                    for run in paragraph.runs:
                        run.font.size = Pt(8)
        if note:
            document.add_paragraph(note).runs[0].font.size = Pt(8)
    document.save(path)
    _fix_zip_times(path)


def write_xlsx(tables: list[tuple[str, pd.DataFrame, str]], path: str | Path) -> None:
    """One workbook, a sheet per table (its title as the sheet name, at most 31 characters)."""
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for title, frame, note in tables:
            sheet = title[:31]
            frame.to_excel(writer, sheet_name=sheet, index=False)
            if note:
                writer.sheets[sheet].cell(row=len(frame) + 3, column=1, value=note)
        writer.book.properties.created = writer.book.properties.modified = FIXED_TIME
        writer.book.properties.creator = writer.book.properties.lastModifiedBy = "gistlm"
    _fix_zip_times(path)


def _fix_zip_times(path: str | Path) -> None:
    """Rewrite a zip archive with every entry stamped ZIP_TIME (same order, same content), and
    the document's own created/modified dates as FIXED_TIME (openpyxl stamps `modified` with
    the time of saving whatever the workbook says)."""
    path = Path(path)
    with zipfile.ZipFile(path) as archive:
        entries = [(info, archive.read(info.filename)) for info in archive.infolist()]
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    entries = [
        (
            info,
            re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
            if info.filename == "docProps/core.xml"
            else data,
        )
        for info, data in entries
    ]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in entries:
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            archive.writestr(fixed, data)
