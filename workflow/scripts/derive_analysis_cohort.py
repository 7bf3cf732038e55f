"""Rule derive_analysis_cohort: eligible patients -> group, OS and covariates (or one message
why there is nothing to compare)."""

import pandas as pd

from gistlm.cohort.analysis_cohort import build_analysis_cohort, check_groups_estimable, check_someone_eligible
from gistlm.provenance import recorded

with recorded(snakemake) as log:
    tables = {name: pd.read_parquet(snakemake.input[name]) for name in snakemake.params.tables}
    verdicts = pd.read_parquet(snakemake.input.verdicts)
    attrition = pd.read_csv(snakemake.input.attrition).set_index("step")
    eligible = verdicts.loc[verdicts["eligible"], "patient_id"]
    check_someone_eligible(len(eligible), int(attrition.loc["raw extract", "remaining"]), snakemake.input.attrition)
    groups = snakemake.params.groups
    settings = {
        "groups": groups,
        "outcome": snakemake.params.outcome,
        "covariate_cutoffs": snakemake.params.covariate_cutoffs,
    }
    cohort = build_analysis_cohort(tables, eligible, settings)
    check_groups_estimable(cohort, groups["labels"], groups["reference"], snakemake.input.attrition)
    cohort.to_parquet(snakemake.output.cohort, index=False)
    log.info(
        "patients per group: %s",
        ", ".join(f"{group} {n}" for group, n in cohort["group"].value_counts().sort_index().items()),
    )
