"""The HTML report: one self-contained file rendered from the results tables and figures.

The report shows no patient identifiers: quarantined records are listed by file, row and
column, which is what a data manager needs to find them.
"""

import base64
import math
from pathlib import Path

import jinja2
import pandas as pd


def embed_png(path: str | Path) -> str:
    """A PNG as a data URI, so the report is one file."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_number(value, digits: int = 2, missing: str = "–") -> str:
    return missing if _missing(value) else f"{value:.{digits}f}"


def fmt_p(value) -> str:
    return "–" if _missing(value) else "<0.001" if value < 0.001 else f"{value:.3f}"


def fmt_percent(value) -> str:
    return "–" if _missing(value) else f"{100 * value:.1f}%"


def render_report(template_path: str | Path, context: dict) -> str:
    """Render the Jinja2 template with the report's formatting filters."""
    template_path = Path(template_path)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_path.parent),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=fmt_number, p=fmt_p, pct=fmt_percent)
    return env.get_template(template_path.name).render(**context)


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts for the template (missing values as None)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def failure_summary(failures: pd.DataFrame) -> pd.DataFrame:
    """Failure cases counted by table, column and check."""
    if failures.empty:
        return pd.DataFrame(columns=["table", "column", "check", "records"])
    return failures.groupby(["table", "column", "check"], dropna=False).size().rename("records").reset_index()


def reproduced_value(measure: str, group: str, tables: dict[str, pd.DataFrame], reference: str):
    """What this run computed for one published figure (None if it has no such figure)."""
    if measure == "patients":
        count = tables["median"].set_index("group").loc[group, "n"]
        return int(count) if str(count).isdigit() else str(count)  # "<5" when suppressed
    if measure in {"median_os", "median_follow_up"}:
        value = tables["median" if measure == "median_os" else "follow_up"].set_index("group").loc[group, "median"]
        return "not reached" if pd.isna(value) else round(float(value), 2)
    if measure == "os_120":
        rates = tables["rates"]
        return float(rates[(rates["group"] == group) & (rates["month"] == 120)]["survival"].iloc[0])
    if measure == "logrank_p":
        return float(tables["logrank"].set_index("comparison").loc["global", "p_value"])
    if measure == "cox_hr":
        cox = tables["cox"]
        term = f"{group} vs {reference}"
        return float(cox[(cox["model"] == "multivariable") & (cox["term"] == term)]["hr"].iloc[0])
    return None


def published_vs_reproduced(published: list[dict], tables: dict[str, pd.DataFrame], reference: str) -> list[dict]:
    """Each published figure beside this run's value, both formatted alike."""
    rows = []
    for figure in published:
        ours = reproduced_value(figure["measure"], figure["group"], tables, reference)
        percent = figure["measure"] == "os_120"
        rows.append(
            {
                "label": figure["label"],
                "published": _figure_text(figure["value"], percent),
                "reproduced": _figure_text(ours, percent),
            }
        )
    return rows


def _figure_text(value, percent: bool) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if percent:
        return fmt_percent(value)
    return f"{value:g}" if isinstance(value, int) or float(value).is_integer() else f"{value:.3g}"


def print_pdf(html_path: str | Path, pdf_path: str | Path, browser: str | None = None) -> None:
    """The report printed to PDF by headless Chromium, with the report's print stylesheet."""
    import shutil
    import subprocess

    from gistlm.extract.errors import ExtractError

    browser = browser or shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise ExtractError("results/report.pdf needs Chromium: apt-get install chromium (Debian/Ubuntu).")
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-pdf-header-footer",
            f"--print-to-pdf={Path(pdf_path).resolve()}",
            Path(html_path).resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
