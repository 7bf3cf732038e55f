"""Report: the HTML report, its figures and the data dictionary's labels (workflow/rules/report.smk)."""
