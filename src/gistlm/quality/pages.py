"""The data-quality results as plain HTML pages (results/data_docs/), readable offline.

great-expectations' own Data Docs load Bootstrap, bootstrap-table, jQuery and Font Awesome
from public CDNs: on a hospital machine cut off from the internet their index lists no
validation and every page is unstyled. These pages are written from the same expectation
results, with their style inline and no script, so they render with the network off.
"""

from pathlib import Path

import jinja2
import pandas as pd

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
  body { font-family: "DejaVu Sans", Arial, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; padding: 0 1em; }
  h1 { font-size: 1.5em; border-bottom: 2px solid #1b6ca8; padding-bottom: 0.2em; }
  table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; width: 100%; }
  th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
  th { background: #f0f4f8; }
  td.n { text-align: right; }
  .passed { color: #2e7d32; font-weight: bold; }
  .failed { color: #c62828; font-weight: bold; }
  .note { color: #555; font-size: 0.9em; }
</style></head>
<body>
{% if suites is defined %}
<h1>Data quality: validations</h1>
<p class="note">Expectation suites run on the analysis cohort (great-expectations). Critical failures stop the run; warnings are listed in the report.</p>
<table>
  <tr><th>validation</th><th>result</th><th>expectations</th><th>passed</th><th>failed (critical)</th><th>failed (warning)</th></tr>
  {% for suite in suites %}<tr><td><a href="validations/{{ suite.name }}.html">{{ suite.name }}</a></td>
  <td class="{{ 'passed' if suite.failed == 0 else 'failed' }}">{{ "passed" if suite.failed == 0 else "failed" }}</td>
  <td class="n">{{ suite.total }}</td><td class="n">{{ suite.passed }}</td><td class="n">{{ suite.critical }}</td><td class="n">{{ suite.warning }}</td></tr>
  {% endfor %}
</table>
{% else %}
<p><a href="../index.html">&larr; all validations</a></p>
<h1>Validation: {{ name }}</h1>
<table>
  <tr><th>check</th><th>expectation</th><th>column</th><th>severity</th><th>result</th><th>unexpected</th><th>details</th></tr>
  {% for row in rows %}<tr><td>{{ row.check }}</td><td>{{ row.expectation }}</td><td>{{ row.column or "" }}</td><td>{{ row.severity }}</td>
  <td class="{{ 'passed' if row.success else 'failed' }}">{{ "passed" if row.success else "failed" }}</td><td class="n">{{ row.unexpected }}</td><td>{{ row.details }}</td></tr>
  {% endfor %}
</table>
{% endif %}
</body></html>
"""


def _template() -> jinja2.Template:
    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(PAGE)


def write_validation_pages(results: dict[str, pd.DataFrame], docs_dir: str | Path) -> None:
    """index.html listing each validation (suite name -> its expectation results, as
    `quality_suite.run_suite` returns them) and validations/<name>.html with its rows."""
    docs = Path(docs_dir)
    (docs / "validations").mkdir(parents=True, exist_ok=True)
    template = _template()
    suites = []
    for name, rows in results.items():
        failed = rows[~rows["success"].astype(bool)]
        suites.append(
            {
                "name": name,
                "total": len(rows),
                "passed": len(rows) - len(failed),
                "failed": len(failed),
                "critical": int((failed["severity"] == "critical").sum()),
                "warning": int((failed["severity"] == "warning").sum()),
            }
        )
        records = rows.astype(object).where(rows.notna(), None).to_dict("records")
        (docs / "validations" / f"{name}.html").write_text(
            template.render(title=f"Validation: {name}", name=name, rows=records), encoding="utf-8"
        )
    (docs / "index.html").write_text(
        template.render(title="Data quality: validations", suites=suites), encoding="utf-8"
    )
