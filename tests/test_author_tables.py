"""Word and Excel copies of the released tables (gistlm.release.author_tables): same values as the CSV
and the HTML report, same bytes on a rerun."""

import time

import pandas as pd

from gistlm.release.author_tables import causal_summary, cox_table, write_docx, write_xlsx

TABLE = pd.DataFrame(
    {
        "Characteristic": ["Patients, n", "Male, n (%)", ""],
        "Level": ["", "", "Missing"],
        "IM": ["126", "77 (61.1)", "<5"],
        "IM+HR": ["81", "suppressed", "0 (0.0)"],
    }
)


def docx_rows(path):
    from docx import Document

    table = Document(path).tables[0]
    return [[cell.text for cell in row.cells] for row in table.rows]


def test_word_and_excel_hold_the_released_values(tmp_path):
    write_docx([("Table 1", TABLE, "note")], tmp_path / "t.docx")
    write_xlsx([("Table 1", TABLE, "note")], tmp_path / "t.xlsx")
    assert docx_rows(tmp_path / "t.docx") == [list(TABLE.columns), *TABLE.values.tolist()]
    sheet = pd.read_excel(tmp_path / "t.xlsx", sheet_name="Table 1", dtype=str, nrows=len(TABLE)).fillna("")
    assert sheet.values.tolist() == TABLE.values.tolist()


def test_a_rewrite_gives_the_same_bytes(tmp_path):
    for name in ["a", "b"]:
        write_docx([("Table 1", TABLE, "note")], tmp_path / f"{name}.docx")
        write_xlsx([("Table 1", TABLE, "note")], tmp_path / f"{name}.xlsx")
        time.sleep(1.1)  # the zip and core-properties stamps have one-second resolution
    assert (tmp_path / "a.docx").read_bytes() == (tmp_path / "b.docx").read_bytes()
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()


def test_cox_and_causal_tables_by_label():
    cox = pd.DataFrame(
        {
            "model": ["multivariable"],
            "term": ["male"],
            "hr": [0.753],
            "ci_lower": [0.3567],
            "ci_upper": [1.5897],
            "p_value": [0.4569],
            "n": ["238"],
            "events": ["33"],
        }
    )
    dictionary = {"male": {"label": "Sex", "levels": {"0": "Female", "1": "Male"}, "one_row": "1"}}
    assert cox_table(cox, dictionary, "95% CI").iloc[0].tolist() == [
        "Multivariable",
        "Male vs Female",
        "0.75 (0.36–1.59)",
        "0.457",
        "238",
        "33",
    ]
    e_values = pd.DataFrame(
        {
            "method": ["IPTW (marginal)"],
            "term": ["IM+HR vs IM"],
            "hr": [0.1485],
            "ci_lower": [0.0367],
            "ci_upper": [0.6005],
            "ci_method": ["robust (sandwich)"],
            "e_value": [6.578],
            "e_value_ci": [2.198],
        }
    )
    assert causal_summary(e_values, "95% CI").iloc[0].tolist() == [
        "IPTW (marginal)",
        "IM+HR vs IM",
        "0.15 (0.04–0.60)",
        "robust (sandwich)",
        "6.58",
        "2.20",
    ]
