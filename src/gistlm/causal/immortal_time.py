"""Immortal time: analyses that count a local treatment only from the day it happens.

The published comparison fixes the group at LM diagnosis although resection or ablation
comes months later, so the treated groups are credited with the time their patients had to
survive to be treated (Lévesque et al., BMJ 2010;340:b5087). The remedies here:

- `local_treatment_dates`: per patient, the date (months from LM diagnosis) of the first
  procedure of each treatment group, and which procedure came first;
- `start_stop_rows` + `time_varying_cox`: the treatment as a time-dependent exposure,
  switched on at its date (the counting-process Cox model of lifelines' `CoxTimeVaryingFitter`);
- `landmark_cohort` + `landmark_models`: patients alive and followed at a landmark, grouped
  by the treatment received by then, time counted from the landmark.

Times are months from LM diagnosis, as `os_months` of the analysis cohort. An exposure is
indexed by its group label (`IM+HR`, `IM+RFA/TACE`) from the configured group precedence.
"""

import numpy as np
import pandas as pd

from gistlm.cohort.groups import first_procedure_after_lm
from gistlm.estimators.cox import CoxFitter, hazard_ratio_table
from gistlm.survival.overall_survival import EVENT, TIME, cox_summary, fit_cox, group_indicators, kaplan_meier_table

NONE = "none"
CODINGS = ("separate", "current_group")


def months_to_column(label: str) -> str:
    """Column of `local_treatment_dates` with the months from LM diagnosis to `label`'s first procedure."""
    return f"months_to_{label}"


def local_treatment_dates(
    treatments: pd.DataFrame, lm_dates: pd.Series, cohort: pd.DataFrame, precedence: list[dict], days_per_month: float
) -> pd.DataFrame:
    """One row per cohort patient: outcome, group, and the timing of each local treatment.

    `lm_dates` is indexed by patient_id. Columns: patient_id, group, os_months, death,
    first_local_treatment (the procedure, `none` if never), months_to_first_local, and
    `months_to_<label>` for each group of the precedence (missing if never). A procedure
    on the day of LM diagnosis is at month 0; one before it is not a treatment of the LM.
    """
    ids = pd.Index(cohort["patient_id"], name="patient_id")
    lm = lm_dates.reindex(ids)
    table = cohort.set_index("patient_id")[["group", TIME, EVENT]].copy()
    for rule in precedence:
        dates = first_procedure_after_lm(treatments, lm, rule["treatments"])
        table[months_to_column(rule["label"])] = (dates - lm).dt.days / days_per_month
    first, which = _first_local_procedure(treatments, lm, [t for rule in precedence for t in rule["treatments"]])
    table["first_local_treatment"] = which.fillna(NONE)
    table["months_to_first_local"] = (first - lm).dt.days / days_per_month
    return table.reset_index()


def _first_local_procedure(treatments: pd.DataFrame, lm: pd.Series, procedures: list[str]):
    """Date and name of each patient's first procedure on/after LM diagnosis.

    Two procedures on the same day: the one listed first in the precedence wins, as for
    the groups.
    """
    rows = treatments[treatments["treatment"].isin(procedures) & treatments["patient_id"].isin(lm.index)].copy()
    rows = rows[rows["start_date"] >= rows["patient_id"].map(lm)]
    rows["rank"] = rows["treatment"].map({name: i for i, name in enumerate(procedures)})
    first = rows.sort_values(["patient_id", "start_date", "rank"]).groupby("patient_id").first()
    return first["start_date"].reindex(lm.index), first["treatment"].reindex(lm.index)


def read_dates(path, cohort: pd.DataFrame, covariates: list[str]) -> pd.DataFrame:
    """`local_treatment_dates` as written by its rule, joined with the cohort's `covariates`."""
    dates = pd.read_csv(
        path,
        dtype={"patient_id": str, "first_local_treatment": str},
        keep_default_na=False,
        na_values=[""],
        float_precision="round_trip",
    )
    ids = pd.Index(cohort["patient_id"])
    if not (dates["patient_id"].is_unique and ids.is_unique):
        raise ValueError("the treatment dates and the cohort must have one row per patient")
    if not covariates:
        return dates
    # aligned by id rather than merged: the same rows at 1M patients in 0.3 s instead of 1.3 s
    joined = cohort[covariates].set_axis(ids).reindex(dates["patient_id"]).set_axis(dates.index)
    return pd.concat([dates, joined], axis=1)


# --- time-varying exposure ---------------------------------------------------------------


def start_stop_rows(dates: pd.DataFrame, labels: list[str], coding: str = "separate") -> pd.DataFrame:
    """Counting-process rows (start, stop]: follow-up split where an exposure switches on.

    `dates` is `local_treatment_dates` (plus any covariates, carried along). Each exposure
    column `labels[i]` is 0 before the first procedure of that group and 1 from its date on.
    coding `separate`: one indicator per group, several may be on (a resection after an
    ablation keeps the ablation on) — the form of the study's data-generating model;
    `current_group`: only the indicator of the group the patient would belong to with the
    procedures received so far (first in precedence order), so at most one is on.
    A procedure on the day of death or last contact starts no exposed time; a patient
    followed for zero months has no rows (no time at risk).
    """
    if coding not in CODINGS:
        raise ValueError(f"unknown exposure coding {coding!r}: one of {', '.join(CODINGS)}")
    base = dates[dates[TIME] > 0].reset_index(drop=True)
    switches = base[[months_to_column(label) for label in labels]].to_numpy(dtype=float)
    # a switch inside follow-up cuts the patient's time; month 0 or later than the end does not
    inside = (switches > 0) & (switches < base[TIME].to_numpy()[:, None])
    cuts = pd.DataFrame({"row": np.repeat(np.arange(len(base)), len(labels)), "start": switches.ravel()})[
        inside.ravel()
    ]
    starts = (
        pd.concat([pd.DataFrame({"row": np.arange(len(base)), "start": 0.0}), cuts])
        .drop_duplicates()
        .sort_values(["row", "start"], ignore_index=True)
    )
    row = starts["row"].to_numpy()
    last = np.r_[row[1:] != row[:-1], True]
    stop = np.where(last, base[TIME].to_numpy()[row], np.r_[starts["start"].to_numpy()[1:], 0.0])
    rows = base.iloc[row].reset_index(drop=True)
    rows.insert(1, "start", starts["start"].to_numpy())
    rows.insert(2, "stop", stop)
    rows[EVENT] = np.where(last, rows[EVENT], 0)
    on = (switches[row] <= rows["start"].to_numpy()[:, None]) & ~np.isnan(switches[row])
    if coding == "current_group":
        # only the first switched-on group in precedence order
        on &= np.cumsum(on, axis=1) == 1
    for i, label in enumerate(labels):
        rows[label] = on[:, i].astype("float64")
    return rows


def time_varying_cox(
    rows: pd.DataFrame, labels: list[str], reference: str, covariates: list[str], alpha: float
) -> pd.DataFrame:
    """Cox model with the local treatments as time-dependent exposures (complete cases).

    Terms are named `<label> vs <reference>` like the naive model's, but mean "after the
    first procedure of that group" against "not (yet) treated". n counts patients; rows
    the start-stop rows. The counting-process fit is lifelines' CoxTimeVaryingFitter's
    (same estimates and model-based SEs; tests compare them), computed by the vectorised
    gistlm.estimators.cox: lifelines loops over event times (119 s at 100k patients, against 16 s).
    """
    names = {label: f"{label} vs {reference}" for label in labels}
    complete = rows[["patient_id", "start", "stop", EVENT, *labels, *covariates]].rename(columns=names).dropna()
    terms = [*names.values(), *covariates]
    fit = CoxFitter(alpha=alpha, center=False).fit(
        complete[["start", "stop", EVENT, *terms]], duration_col="stop", event_col=EVENT, entry_col="start"
    )
    table = hazard_ratio_table(fit)
    table.insert(0, "model", "time-varying")
    return table.assign(n=complete["patient_id"].nunique(), events=int(complete[EVENT].sum()), rows=len(complete))


# --- landmark analysis -------------------------------------------------------------------


def landmark_cohort(
    dates: pd.DataFrame, landmark: float, precedence: list[dict], default: str, labels: list[str]
) -> pd.DataFrame:
    """Patients alive and followed beyond `landmark`, grouped by the treatment received by then.

    The group is the first of the precedence whose procedure happened on or before the
    landmark (otherwise `default`), whatever happened later; `os_months` is counted from
    the landmark. Columns other than the group and time are kept (death, covariates).
    """
    at_risk = dates[dates[TIME] > landmark].copy()
    group = pd.Series(default, index=at_risk.index, dtype=object)
    for rule in reversed(precedence):  # reversed: the first rule in precedence is written last
        treated = at_risk[months_to_column(rule["label"])] <= landmark
        group[treated] = rule["label"]
    at_risk["group"] = pd.Categorical(group, categories=labels)
    at_risk[TIME] = at_risk[TIME] - landmark
    return at_risk.reset_index(drop=True)


def landmark_groups(
    dates: pd.DataFrame, landmark_rows: pd.DataFrame, landmark: float, labels: list[str]
) -> pd.DataFrame:
    """Per landmark group: patients, deaths after the landmark; plus who was left out."""
    counts = [
        {
            "landmark_months": landmark,
            "group": label,
            "n": int((landmark_rows["group"] == label).sum()),
            "events": int(landmark_rows.loc[landmark_rows["group"] == label, EVENT].sum()),
        }
        for label in labels
    ]
    gone = dates[dates[TIME] <= landmark]
    counts.append(
        {
            "landmark_months": landmark,
            "group": "excluded: died or censored by the landmark",
            "n": len(gone),
            "events": int(gone[EVENT].sum()),
        }
    )
    return pd.DataFrame(counts)


def landmark_models(
    rows: pd.DataFrame, labels: list[str], reference: str, covariates: list[str], alpha: float, landmark: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """KM table per group and Cox models (group alone; group + covariates) after one landmark.

    A group with no patient at the landmark has no term (it cannot be estimated).
    """
    present = [label for label in labels if (rows["group"] == label).any()]
    km = kaplan_meier_table(rows, present, alpha)
    indicators = group_indicators(rows, present, reference)
    models = [("univariable", indicators), ("multivariable", pd.concat([indicators, rows[covariates]], axis=1))]
    cox = pd.concat([cox_summary(name, *fit_cox(rows, terms, alpha)) for name, terms in models], ignore_index=True)
    km.insert(0, "landmark_months", landmark)
    cox.insert(0, "landmark_months", landmark)
    return km, cox
