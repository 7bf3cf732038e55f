"""Rule report_pdf: results/report.html -> results/report.pdf (headless Chromium)."""

from gistlm.provenance import recorded
from gistlm.report.render import print_pdf

with recorded(snakemake):
    print_pdf(snakemake.input.html, snakemake.output.pdf)
