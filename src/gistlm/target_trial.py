"""Clone-censor-weight emulation of the target trial (Maringe et al., Int J Epidemiol 2020).

The trial we would have liked to run randomises each patient at LM diagnosis to a strategy:
"no local treatment" (the reference group's), or "a procedure of group X within the grace
period" (e.g. resection within 12 months). Observational patients are compatible with
several strategies at time zero, so each is cloned into every arm of a comparison:

- in arm X, a clone is artificially censored at the end of the grace period if it had no
  procedure of X by then (deaths during the grace period count in both arms);
- in the reference arm, a clone is censored at its first local procedure of any kind.

Artificial censoring depends on prognosis (surgeons choose whom to treat), so uncensored
clones are weighted by the inverse probability of remaining uncensored given baseline
covariates, from Cox models of the time to treatment: 1 / P(no procedure by t | x) in the
reference arm, 1 / P(procedure of X by the grace period | x) after it in arm X. Weighted
Kaplan-Meier curves and a weighted Cox model (robust SEs clustered on patient, as the
clones of a patient are correlated) compare the arms. Everything starts at LM diagnosis,
so there is no immortal time; the estimand is the effect of the strategies, not of the
procedure itself.
"""

import warnings

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter

from gistlm.immortal_time import months_to_column
from gistlm.propensity import covariate_design, effective_sample_size, truncate
from gistlm.survival import EVENT, TIME


def arm_label(label: str, reference: str, grace_months: float) -> str:
    """The strategy of an arm: no local treatment, or a procedure of `label` within the grace period."""
    return f"{reference}: no local treatment" if label == reference else f"{label} within {grace_months:g} months"


def treatment_survival(durations: np.ndarray, treated: np.ndarray, design: pd.DataFrame,
                       times: np.ndarray) -> np.ndarray:
    """P(no procedure by each of `times` | covariates), patients x times, from a Cox model.

    Death and end of follow-up censor the time to treatment.
    """
    if not treated.any():
        return np.ones((len(durations), len(times)))
    frame = design.assign(_duration=durations, _treated=treated.astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small covariate cells: a warning, not a failure
        fit = CoxPHFitter(penalizer=1e-4).fit(frame, "_duration", "_treated")
    return fit.predict_survival_function(design, times=times).to_numpy().T


def reference_arm(base: pd.DataFrame, design: pd.DataFrame) -> pd.DataFrame:
    """Reference-arm clones split at every treatment time, with 1 / P(untreated by start | x).

    A clone is censored at its first local procedure (if during follow-up); a procedure at
    month 0 leaves it no time in this arm.
    """
    first = base["months_to_first_local"].to_numpy(float)
    end = base[TIME].to_numpy(float)
    treated = np.nan_to_num(first, nan=np.inf) < end
    stop = np.where(treated, first, end)
    event = np.where(treated, 0, base[EVENT].to_numpy())
    durations = np.where(treated, first, end)
    grid = np.unique(durations[treated])
    probability = treatment_survival(durations, treated, design, grid)
    rows = []
    starts = np.r_[0.0, grid]
    for index in range(len(base)):
        cuts = starts[starts < stop[index]]
        ends = np.r_[cuts[1:], stop[index]]
        # weight over (start, stop]: P(still untreated just after `start`), i.e. at the cut
        at_cut = np.r_[1.0, probability[index, :len(cuts) - 1]]
        rows.append(pd.DataFrame({"row": index, "start": cuts, "stop": ends,
                                  EVENT: np.r_[np.zeros(len(cuts) - 1, int), event[index]],
                                  "probability_uncensored": at_cut}))
    return pd.concat(rows, ignore_index=True)


def treated_arm(base: pd.DataFrame, design: pd.DataFrame, label: str, grace_months: float) -> pd.DataFrame:
    """Arm "X within the grace period": clones split at the grace period's end.

    Untreated by then and still followed: censored there. Treated by then: weighted after it
    by 1 / P(procedure of X by the grace period | x). Died or left follow-up during the grace
    period: kept, weight 1 (compatible with the strategy up to then).
    """
    when = base[months_to_column(label)].to_numpy(float)
    end = base[TIME].to_numpy(float)
    treated_in_grace = np.nan_to_num(when, nan=np.inf) <= np.minimum(grace_months, end)
    ended_in_grace = end <= grace_months
    censored = ~treated_in_grace & ~ended_in_grace
    stop = np.where(censored, grace_months, end)
    event = np.where(censored, 0, base[EVENT].to_numpy())
    treated = np.nan_to_num(when, nan=np.inf) < end
    durations = np.where(treated, when, end)
    untreated_by_grace = treatment_survival(durations, treated, design, np.array([grace_months]))[:, 0]
    before = pd.DataFrame({"row": np.arange(len(base)), "start": 0.0, "stop": np.minimum(stop, grace_months),
                           EVENT: np.where(stop <= grace_months, event, 0), "probability_uncensored": 1.0})
    after = pd.DataFrame({"row": np.arange(len(base)), "start": grace_months, "stop": stop, EVENT: event,
                          "probability_uncensored": 1 - untreated_by_grace})[stop > grace_months]
    return pd.concat([before, after], ignore_index=True)


def clone_censor_weight(dates: pd.DataFrame, labels: list[str], reference: str, settings: dict) -> pd.DataFrame:
    """Start-stop rows of every clone, one arm per strategy: patient_id, arm, start, stop, death, weight.

    `dates` is `local_treatment_dates` joined with the covariates; settings: grace_months,
    covariates (of the treatment-time models), truncate_percentiles (of the weights, per arm).
    Patients with a missing covariate or no follow-up are left out.
    """
    design = covariate_design(dates, settings["covariates"], drop_first=True)
    complete = (design.notna().all(axis=1) & (dates[TIME] > 0)).to_numpy()
    base, design = dates[complete].reset_index(drop=True), design[complete].reset_index(drop=True)
    grace = settings["grace_months"]
    arms = []
    for label in labels:
        rows = reference_arm(base, design) if label == reference else treated_arm(base, design, label, grace)
        rows = rows[rows["stop"] > rows["start"]]
        weight = 1 / np.clip(rows["probability_uncensored"].to_numpy(), 1e-12, None)
        rows = rows.assign(arm=arm_label(label, reference, grace), weight_raw=weight,
                           weight=truncate(weight, settings["truncate_percentiles"]),
                           patient_id=base["patient_id"].to_numpy()[rows["row"].to_numpy()])
        arms.append(rows)
    columns = ["patient_id", "arm", "start", "stop", EVENT, "probability_uncensored", "weight_raw", "weight"]
    return pd.concat(arms, ignore_index=True)[columns]


def arm_kaplan_meier(clones: pd.DataFrame) -> pd.DataFrame:
    """Weighted Kaplan-Meier per arm (entry at each row's start, so weights may change over time)."""
    tables = []
    for arm, rows in clones.groupby("arm", sort=False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # non-integer weights: intended
            fit = KaplanMeierFitter().fit(rows["stop"], rows[EVENT], entry=rows["start"], weights=rows["weight"],
                                          label=arm)
        table = fit.event_table
        # the curve changes at deaths; the last follow-up time shows how far it reaches
        shown = (table["observed"] > 0) | (table.index == table.index.max())
        events = table[shown & (table.index > 0)]
        tables.append(pd.DataFrame({
            "arm": arm, "time": np.r_[0.0, events.index.to_numpy()],
            "at_risk": np.r_[rows.loc[rows["start"] == 0, "weight"].sum(), events["at_risk"].to_numpy()],
            "events": np.r_[0.0, events["observed"].to_numpy()],
            "survival": np.r_[1.0, fit.survival_function_[arm].reindex(events.index).to_numpy()],
        }))
    return pd.concat(tables, ignore_index=True)


def arm_cox(clones: pd.DataFrame, labels: list[str], reference: str, grace_months: float,
            alpha: float) -> pd.DataFrame:
    """Weighted Cox HR of each strategy vs the reference, robust SEs clustered on patient.

    Terms are named `<label> vs <reference>` to line up with the other methods.
    """
    rows = []
    reference_arm_name = arm_label(reference, reference, grace_months)
    for label in labels:
        if label == reference:
            continue
        arm = arm_label(label, reference, grace_months)
        pair = clones[clones["arm"].isin([reference_arm_name, arm])]
        frame = pd.DataFrame({"start": pair["start"], "stop": pair["stop"], EVENT: pair[EVENT],
                              "weight": pair["weight"], "patient_id": pair["patient_id"],
                              f"{label} vs {reference}": (pair["arm"] == arm).astype(float)})
        fit = CoxPHFitter(alpha=alpha).fit(frame, "stop", EVENT, entry_col="start", weights_col="weight",
                                           cluster_col="patient_id", robust=True)
        summary = fit.summary
        hr_ci = np.exp(fit.confidence_intervals_)
        rows.append({"model": "clone-censor-weight", "term": summary.index[0], "arm": arm,
                     "coef": summary["coef"].iloc[0], "se": summary["se(coef)"].iloc[0],
                     "hr": summary["exp(coef)"].iloc[0],
                     "ci_lower": hr_ci.iloc[0, 0], "ci_upper": hr_ci.iloc[0, 1], "p_value": summary["p"].iloc[0],
                     "n": pair["patient_id"].nunique(),
                     "events": int(pair.loc[pair["arm"] == arm, EVENT].sum()),
                     "events_reference": int(pair.loc[pair["arm"] == reference_arm_name, EVENT].sum())})
    return pd.DataFrame(rows)


def clone_weight_summary(clones: pd.DataFrame) -> pd.DataFrame:
    """Per arm: clones, rows, artificially censored clones, deaths, distribution of the weights."""
    rows = []
    for arm, members in clones.groupby("arm", sort=False):
        last = members.sort_values("stop").groupby("patient_id").last()
        w = members["weight"].to_numpy()
        rows.append({"arm": arm, "clones": members["patient_id"].nunique(), "rows": len(members),
                     "deaths": int(members[EVENT].sum()),
                     "weight_min": w.min(), "weight_median": float(np.median(w)), "weight_max": w.max(),
                     "weight_raw_max": members["weight_raw"].max(),
                     "ess_at_start": effective_sample_size(members.loc[members["start"] == 0, "weight"].to_numpy()),
                     "followed_to_end": int(len(last))})
    return pd.DataFrame(rows)
