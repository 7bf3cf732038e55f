"""Rule derive_analysis_cohort: eligible patients -> group, OS and covariates."""
import pandas as pd

from gistlm.cohort import build_analysis_cohort
from gistlm.provenance import recorded

with recorded(snakemake):
    tables = {name: pd.read_parquet(path) for name, path in zip(snakemake.params.tables, snakemake.input.tables)}
    verdicts = pd.read_parquet(snakemake.input.verdicts)
    settings = {
        "groups": snakemake.params.groups,
        "outcome": snakemake.params.outcome,
        "covariate_cutoffs": snakemake.params.covariate_cutoffs,
    }
    cohort = build_analysis_cohort(tables, verdicts.loc[verdicts["eligible"], "patient_id"], settings)
    cohort.to_parquet(snakemake.output.cohort, index=False)
