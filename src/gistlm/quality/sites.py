"""Multi-centre registries: each hospital's extract is ingested and validated on its own, then pooled.

A single extract is one site. Pooled rows keep their hospital in a `site` column (the
patients table, the failure cases and the quarantine), so the ledger, the per-site counts
and the site-stratified models can tell hospitals apart. Pseudonyms are unique across
sites because ingestion hashes the site with each hospital's own id.
"""

import pandas as pd

from gistlm.quality.ledger import STATUSES


def stack_sites(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One table of every site's rows, in site order, with `site` as the first column."""
    stacked = pd.concat([frame.assign(site=site) for site, frame in frames.items()], ignore_index=True)
    return stacked[["site", *stacked.columns.drop("site")]]


def pool_tables(per_site: dict[str, dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """Each raw table stacked over the sites; only `patients` gets the site column (the others
    join to it by patient id, and a second site column would clash in those joins)."""
    names = next(iter(per_site.values())).keys()
    pooled = {name: pd.concat([tables[name] for tables in per_site.values()], ignore_index=True) for name in names}
    pooled["patients"] = stack_sites({site: tables["patients"] for site, tables in per_site.items()})
    return pooled


def site_counts(ledger: pd.DataFrame, sites: list[str]) -> pd.DataFrame:
    """Raw patients per site and how many were analysed, excluded or quarantined."""
    counts = pd.crosstab(ledger["site"], ledger["status"]).reindex(index=sites, columns=STATUSES, fill_value=0)
    counts.insert(0, "raw patients", counts.sum(axis=1))
    return counts.rename_axis(index="site", columns=None).reset_index()
