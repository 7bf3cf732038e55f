"""Rule patient_ledger: raw ids, quarantine, verdicts, analysis cohort -> the balanced ledger."""
from itertools import product

import pandas as pd

from gistlm.ledger import ledger_counts, patient_ledger
from gistlm.provenance import recorded
from gistlm.sites import site_counts

with recorded(snakemake):
    sites, names = snakemake.params.sites, snakemake.params.tables
    # interim tables come site by site; a patient's site is the site of the file naming them
    raw = pd.concat([pd.read_parquet(path, columns=["patient_id"]).assign(site=site)
                     for (site, _), path in zip(product(sites, names), snakemake.input.tables)])
    site_of = raw.dropna().drop_duplicates("patient_id").set_index("patient_id")["site"]
    # text only: an id such as "007" or "NA" must stay as written
    quarantine = pd.read_csv(snakemake.input.quarantine, dtype=str, keep_default_na=False)
    ledger = patient_ledger(raw["patient_id"].drop_duplicates(), quarantine, pd.read_parquet(snakemake.input.verdicts),
                            pd.read_parquet(snakemake.input.cohort, columns=["patient_id"])["patient_id"])
    ledger.insert(1, "site", ledger["patient_id"].map(site_of))
    ledger.to_parquet(snakemake.output.ledger, index=False)
    ledger.to_csv(snakemake.output.csv, index=False)
    ledger_counts(ledger).to_csv(snakemake.output.counts, index=False)
    site_counts(ledger, sites).to_csv(snakemake.output.by_site, index=False)
