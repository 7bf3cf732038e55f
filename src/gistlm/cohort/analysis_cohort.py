"""The analysis cohort: one row per eligible patient with group, overall survival and covariates.

Overall survival runs from LM diagnosis to death, censored at last contact and, by the
registration's horizon, administratively at `max_months`.
"""

import pandas as pd

from gistlm.cohort.eligibility import patient_baseline
from gistlm.cohort.groups import assign_groups
from gistlm.extract.errors import ExtractError

DAYS_PER_YEAR = 365.25
YES_NO_COVARIATES = ["lm_bilobar", "extrahepatic_disease"]
LAB_COLUMNS = [
    "total_bilirubin_umol_l",
    "alt_u_l",
    "creatinine_umol_l",
    "neutrophils_1e9_l",
    "platelets_1e9_l",
    "hemoglobin_g_l",
]
# the columns baseline_covariates() builds, in order: the config's covariate lists name these
COVARIATES = [
    "age_at_lm_years",
    "age_over_cutoff",
    "male",
    "primary_site",
    "primary_size_cm",
    "mitotic_count",
    "mutation",
    "lm_count",
    "lm_count_over_cutoff",
    "lm_max_size_cm",
    "ecog",
    "imatinib_dose_mg_day",
    *YES_NO_COVARIATES,
    *LAB_COLUMNS,
]
COHORT_COLUMNS = ["site", "patient_id", "group", "os_months", "death", "months_to_local_treatment", *COVARIATES]


def overall_survival(base: pd.DataFrame, days_per_month: float, max_months: float) -> pd.DataFrame:
    """`os_months` and `death` (0/1) from LM diagnosis, censored administratively at max_months."""
    dead = base["vital_status"] == "dead"
    end = base["death_date"].where(dead, base["last_contact_date"])
    months = (end - base["lm_diagnosis_date"]).dt.days / days_per_month
    beyond = months > max_months
    return pd.DataFrame(
        {
            "os_months": months.clip(upper=max_months),
            "death": (dead & ~beyond).astype("int64"),
        },
        index=base.index,
    )


def baseline_covariates(base: pd.DataFrame, treatments: pd.DataFrame, cutoffs: dict) -> pd.DataFrame:
    """Covariates at LM diagnosis, raw and dichotomised at the configured cut-offs."""
    age = (base["lm_diagnosis_date"] - base["birth_date"]).dt.days / DAYS_PER_YEAR
    covariates = pd.DataFrame(
        {
            "age_at_lm_years": age.round(2),
            "age_over_cutoff": _flag(age > cutoffs["age_years"], age),
            "male": _flag(base["sex"] == "M", base["sex"]),
            "primary_site": base["primary_site"],
            "primary_size_cm": base["primary_size_cm"],
            "mitotic_count": base["mitotic_count"],
            "mutation": base["mutation"],
            "lm_count": base["lm_count"].astype("float64"),
            "lm_count_over_cutoff": _flag(base["lm_count"] > cutoffs["lm_count"], base["lm_count"]),
            "lm_max_size_cm": base["lm_max_size_cm"],
            "ecog": base["ecog"].astype("float64"),
            "imatinib_dose_mg_day": _first_imatinib_dose(treatments).reindex(base.index),
        },
        index=base.index,
    )
    for column in YES_NO_COVARIATES:
        covariates[column] = _flag(base[column] == "yes", base[column])
    for column in LAB_COLUMNS:
        covariates[column] = base[column]
    return covariates[COVARIATES]


def _flag(condition: pd.Series, source: pd.Series) -> pd.Series:
    """0/1 as float, missing where the source value is missing."""
    return condition.astype("float64").where(source.notna())


def _first_imatinib_dose(treatments: pd.DataFrame) -> pd.Series:
    # groupby keeps row order within a patient, so a stable sort by date alone gives the same
    # first dose as sorting by (patient_id, start_date); callers reindex by patient, so the
    # ids need no sorting either (sorting 1M id strings was most of this step)
    imatinib = treatments[treatments["treatment"] == "imatinib"].sort_values("start_date", kind="stable")
    return imatinib.groupby("patient_id", sort=False)["dose_mg_day"].first()


def check_someone_eligible(eligible: int, raw_patients: int, attrition_path: str) -> None:
    """Stop with one message when no patient is eligible (nothing to analyse)."""
    if eligible == 0:
        raise ExtractError(f"0 of {raw_patients} patients are eligible; see {attrition_path}.")


def check_groups_estimable(cohort: pd.DataFrame, labels: list[str], reference: str, attrition_path: str) -> None:
    """Stop with one paragraph when a group has no patients or no deaths: its survival curve,
    log-rank test and hazard ratio against the reference cannot be estimated."""
    size = cohort["group"].value_counts().reindex(labels, fill_value=0)
    deaths = cohort.groupby("group", observed=False)["death"].sum().reindex(labels, fill_value=0)
    problems = [
        f"{label} has no patients" if size[label] == 0 else f"{label} has no deaths among its {size[label]} patients"
        for label in labels
        if size[label] == 0 or deaths[label] == 0
    ]
    if problems:
        raise ExtractError(
            f"the {len(cohort)} eligible patients cannot be compared by group: {'; '.join(problems)}. "
            f"Survival curves, log-rank tests and hazard ratios against {reference} need patients and deaths "
            f"in every group of groups.labels; see {attrition_path} for the flow of patients, check the "
            "extract's treatments and follow_up tables, or merge the group into another in groups.precedence."
        )


def build_analysis_cohort(tables: dict[str, pd.DataFrame], eligible_ids: pd.Series, settings: dict) -> pd.DataFrame:
    """The analysis table, sorted by patient_id; settings: groups, outcome, covariate cut-offs."""
    base = patient_baseline(tables).loc[sorted(eligible_ids)]
    groups = assign_groups(
        tables["treatments"], base["lm_diagnosis_date"], settings["groups"]["precedence"], settings["groups"]["default"]
    )
    outcome = overall_survival(base, settings["outcome"]["days_per_month"], settings["outcome"]["max_months"])
    months_to_local = (groups["local_treatment_date"] - base["lm_diagnosis_date"]).dt.days / settings["outcome"][
        "days_per_month"
    ]
    cohort = pd.concat(
        [
            groups[["group"]],
            outcome,
            months_to_local.rename("months_to_local_treatment"),
            baseline_covariates(base, tables["treatments"], settings["covariate_cutoffs"]),
        ],
        axis=1,
    )
    cohort["group"] = pd.Categorical(cohort["group"], categories=settings["groups"]["labels"])
    if "site" in base:  # pooled tables (the workflow's) name each patient's hospital
        cohort.insert(0, "site", base["site"])
    return cohort.rename_axis("patient_id").reset_index()
