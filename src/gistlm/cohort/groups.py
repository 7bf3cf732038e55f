"""Treatment groups: imatinib alone, or with the local treatment that followed LM diagnosis.

A patient joins the first group (in the configured precedence) whose liver procedures
include one on or after their LM diagnosis; otherwise the default group (`IM`). The date
of that first procedure is kept: the group is only known from then on (immortal time).
"""

import pandas as pd


def first_procedure_after_lm(treatments: pd.DataFrame, lm_dates: pd.Series, procedures: list[str]) -> pd.Series:
    """Per patient, the first of `procedures` on or after their LM diagnosis (NaT if none)."""
    rows = treatments[treatments["treatment"].isin(procedures)]
    after = rows[rows["start_date"] >= rows["patient_id"].map(lm_dates)]
    return after.groupby("patient_id")["start_date"].min().reindex(lm_dates.index)


def assign_groups(treatments: pd.DataFrame, lm_dates: pd.Series, precedence: list[dict], default: str) -> pd.DataFrame:
    """`group` and `local_treatment_date` per patient of `lm_dates` (indexed by patient_id)."""
    group = pd.Series(pd.NA, index=lm_dates.index, dtype=object)
    when = pd.Series(pd.NaT, index=lm_dates.index, dtype="datetime64[ns]")
    for rule in precedence:
        dates = first_procedure_after_lm(treatments, lm_dates, rule["treatments"])
        joins = group.isna() & dates.notna()
        group[joins] = rule["label"]
        when[joins] = dates[joins]
    return pd.DataFrame({"group": group.fillna(default), "local_treatment_date": when})
