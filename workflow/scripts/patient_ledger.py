"""Rule patient_ledger: raw patients files, quarantine, verdicts, analysis cohort -> the balanced ledger."""

import pandas as pd

from gistlm.extract.ingestion import read_raw_table
from gistlm.extract.spreadsheets import read_csv, write_csv
from gistlm.provenance import recorded
from gistlm.quality.ledger import ledger_counts, ledger_entries, patient_ledger, raw_entry_count
from gistlm.quality.sites import site_counts

with recorded(snakemake):
    sites, inputs = snakemake.params.sites, snakemake.input
    # one site after another; a row without an id is named by its raw file and line
    entries = pd.concat(
        [
            ledger_entries(pd.read_parquet(interim, columns=["source_row", "patient_id"]), raw_file)
            .to_frame("patient_id")
            .assign(site=site)
            for site, interim, raw_file in zip(sites, inputs.patients, inputs.raw_patients)
        ]
    )
    site_of = entries.set_index("patient_id")["site"]
    # counted again from the files as written, independently of how ingestion typed them
    raw_total = sum(
        raw_entry_count(read_raw_table(path, "patients", snakemake.params.encoding)) for path in inputs.raw_patients
    )
    # text only: an id such as "007" or "NA" must stay as written
    quarantine = read_csv(inputs.quarantine, dtype=str, keep_default_na=False)
    ledger = patient_ledger(
        entries["patient_id"],
        quarantine,
        pd.read_parquet(inputs.verdicts),
        pd.read_parquet(inputs.cohort, columns=["patient_id"])["patient_id"],
        raw_total,
    )
    ledger.insert(1, "site", ledger["patient_id"].map(site_of))
    ledger.to_parquet(snakemake.output.ledger, index=False)
    # for the data manager; rules read the Parquet
    write_csv(ledger, snakemake.output.csv)
    ledger_counts(ledger).to_csv(snakemake.output.counts, index=False)
    site_counts(ledger, sites).to_csv(snakemake.output.by_site, index=False)
