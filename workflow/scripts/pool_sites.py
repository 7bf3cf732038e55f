"""Rule pool_sites: every site's validated tables, failures and quarantine -> pooled ones."""

import pandas as pd

from gistlm.extract.spreadsheets import read_csv, write_csv
from gistlm.provenance import recorded
from gistlm.quality.sites import pool_tables, stack_sites


def read_text_table(path):
    # text only: ids such as "007" or "NA" and the failing values stay as written
    return read_csv(path, dtype=str, keep_default_na=False)


with recorded(snakemake):
    sites, names, inputs = snakemake.params.sites, snakemake.params.tables, snakemake.input
    # each named table lists its file of every site, in `sites` order
    per_site = {site: {name: pd.read_parquet(inputs[name][i]) for name in names} for i, site in enumerate(sites)}
    pooled = pool_tables(per_site)
    for name in names:
        pooled[name].to_parquet(snakemake.output[name], index=False)
    for kind in ["failures", "quarantine"]:
        stacked = stack_sites({site: read_text_table(path) for site, path in zip(sites, inputs[kind])})
        write_csv(stacked, snakemake.output[kind])
