"""Rule pool_sites: every site's validated tables, failures and quarantine -> pooled ones."""
import pandas as pd

from gistlm.provenance import recorded
from gistlm.sites import pool_tables, stack_sites
from gistlm.spreadsheets import read_csv, write_csv


def read_text_table(path):
    # text only: ids such as "007" or "NA" and the failing values stay as written
    return read_csv(path, dtype=str, keep_default_na=False)


with recorded(snakemake):
    sites, names, inputs = snakemake.params.sites, snakemake.params.tables, snakemake.input
    paths = iter(inputs.tables)  # site by site, each site's tables in `names` order
    per_site = {site: {name: pd.read_parquet(next(paths)) for name in names} for site in sites}
    pooled = pool_tables(per_site)
    for name, path in zip(names, snakemake.output.tables):
        pooled[name].to_parquet(path, index=False)
    for kind in ["failures", "quarantine"]:
        stacked = stack_sites({site: read_text_table(path) for site, path in zip(sites, inputs[kind])})
        write_csv(stacked, snakemake.output[kind])
