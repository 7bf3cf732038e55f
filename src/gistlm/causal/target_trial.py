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
clones of a patient are correlated) compare the arms. At scale (issue: 100,000 patients
ran > 22 minutes) everything is array operations, ~ n log n: the reference arm's weights
are updated on a monthly grid (`weight_cuts`) and the curves and Cox model come from the
vectorised estimators of gistlm.estimators. Everything starts at LM diagnosis,
so there is no immortal time; the estimand is the effect of the strategies, not of the
procedure itself.
"""

import warnings

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter

from gistlm.causal.immortal_time import months_to_column
from gistlm.causal.propensity import covariate_design, effective_sample_size, truncate
from gistlm.estimators.cox import CoxFitter, hazard_ratio_table
from gistlm.estimators.kaplan_meier import death_times, kaplan_meier
from gistlm.survival.overall_survival import COX_FIT_OPTIONS, EVENT, TIME


def arm_label(label: str, reference: str, grace_months: float) -> str:
    """The strategy of an arm: no local treatment, or a procedure of `label` within the grace period."""
    return f"{reference}: no local treatment" if label == reference else f"{label} within {grace_months:g} months"


def treatment_survival(
    durations: np.ndarray, treated: np.ndarray, design: pd.DataFrame, times: np.ndarray
) -> np.ndarray:
    """P(no procedure by each of `times` | covariates), patients x times, from a Cox model.

    Death and end of follow-up censor the time to treatment.
    """
    if not treated.any():
        return np.ones((len(durations), len(times)))
    frame = design.assign(_duration=durations, _treated=treated.astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small covariate cells: a warning, not a failure
        fit = CoxPHFitter(penalizer=1e-4).fit(frame, "_duration", "_treated", fit_options=COX_FIT_OPTIONS)
    return fit.predict_survival_function(design, times=times).to_numpy().T


def weight_cuts(treatment_times: np.ndarray, interval_months: float) -> np.ndarray:
    """Times at which the reference arm's censoring weights are updated (each clone is split there).

    interval_months 0: at every distinct treatment time (exact: the Cox model's P(untreated
    by t | x) only changes there). Otherwise every `interval_months` up to the first multiple
    at or after the last treatment, beyond which P(untreated) no longer changes. Why: the
    exact grid splits each clone at every distinct treatment day before its stop, 27 million
    rows for 88,000 patients (518 distinct days), which lifelines never finished; monthly
    cuts give 1.4 million, and on the shipped cohort the hazard ratios move by < 1%.
    """
    if not treatment_times.size:
        return np.empty(0)
    if not interval_months:
        return np.unique(treatment_times)
    last = int(np.ceil(treatment_times.max() / interval_months))
    return interval_months * np.arange(1, max(last, 1) + 1, dtype=float)


def reference_arm(base: pd.DataFrame, design: pd.DataFrame, interval_months: float) -> pd.DataFrame:
    """Reference-arm clones split at the weight cuts, with 1 / P(untreated by the row's start | x).

    A clone is censored at its first local procedure (if during follow-up); a procedure at
    month 0 leaves it no time in this arm. Built without a loop over patients: clone i has
    one row per cut before its stop, found by a sorted search.
    """
    first = base["months_to_first_local"].to_numpy(float)
    end = base[TIME].to_numpy(float)
    treated = np.nan_to_num(first, nan=np.inf) < end
    stop = np.where(treated, first, end)
    event = np.where(treated, 0, base[EVENT].to_numpy())
    cuts = weight_cuts(first[treated], interval_months)
    starts = np.r_[0.0, cuts]
    # weight over (start, stop]: P(still untreated just after `start`), i.e. at the cut
    probability = np.column_stack([np.ones(len(base)), treatment_survival(stop, treated, design, cuts)])
    pieces = np.searchsorted(starts, stop, side="left")  # cuts before the clone's stop, with 0
    row = np.repeat(np.arange(len(base)), pieces)
    piece = np.arange(len(row)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    last = piece == pieces[row] - 1
    return pd.DataFrame(
        {
            "row": row,
            "start": starts[piece],
            "stop": np.where(last, stop[row], starts[np.minimum(piece + 1, len(cuts))]),
            EVENT: np.where(last, event[row], 0),
            "deviated": last & treated[row],
            "probability_uncensored": probability[row, piece],
        },
        copy=False,  # the arrays as built: consolidating them copied ~1 GB at 1M patients
    )


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
    before = pd.DataFrame(
        {
            "row": np.arange(len(base)),
            "start": 0.0,
            "stop": np.minimum(stop, grace_months),
            EVENT: np.where(stop <= grace_months, event, 0),
            "deviated": censored,
            "probability_uncensored": 1.0,
        },
        copy=False,
    )
    after = pd.DataFrame(
        {
            "row": np.arange(len(base)),
            "start": grace_months,
            "stop": stop,
            EVENT: event,
            "deviated": False,
            "probability_uncensored": 1 - untreated_by_grace,
        },
        copy=False,
    )[stop > grace_months]
    return pd.concat([before, after], ignore_index=True)


def clone_censor_weight(dates: pd.DataFrame, labels: list[str], reference: str, settings: dict) -> pd.DataFrame:
    """Start-stop rows of every clone, one arm per strategy: patient_id, arm, start, stop, death,
    deviated (the clone is artificially censored at this row's stop), weight.

    `dates` is `local_treatment_dates` joined with the covariates; settings: grace_months,
    covariates (of the treatment-time models), truncate_percentiles (of the weights, per arm),
    weight_interval_months (how often the reference arm's weights are updated; 0 = at every
    treatment time).
    Patients with a missing covariate or no follow-up are left out; every row has start < stop.
    patient_id and arm are categorical (millions of rows at scale: grouping stays cheap).
    """
    design = covariate_design(dates, settings["covariates"], drop_first=True)
    complete = (design.notna().all(axis=1) & (dates[TIME] > 0)).to_numpy()
    base, design = dates[complete].reset_index(drop=True), design[complete].reset_index(drop=True)
    grace = settings["grace_months"]
    arms = [
        reference_arm(base, design, settings["weight_interval_months"])
        if label == reference
        else treated_arm(base, design, label, grace)
        for label in labels
    ]
    bounds = np.cumsum([0, *(len(rows) for rows in arms)])
    clones = pd.concat(arms, ignore_index=True)  # one copy: millions of rows at scale
    del arms
    clones.insert(
        0, "patient_id", pd.Categorical.from_codes(clones.pop("row").to_numpy(), base["patient_id"].astype(str))
    )
    clones.insert(
        1,
        "arm",
        pd.Categorical.from_codes(
            np.repeat(np.arange(len(labels)), np.diff(bounds)), [arm_label(label, reference, grace) for label in labels]
        ),
    )
    # popped, and deaths as int8: each column is ~100 MB at 1M patients (14M rows)
    clones["weight_raw"] = 1 / np.clip(clones.pop("probability_uncensored").to_numpy(), 1e-12, None)
    clones[EVENT] = clones[EVENT].astype(np.int8)
    weight = clones["weight_raw"].to_numpy().copy()
    for first, last in zip(bounds[:-1], bounds[1:]):  # truncated within each arm
        weight[first:last] = truncate(weight[first:last], settings["truncate_percentiles"])
    clones["weight"] = weight
    return clones


def arm_kaplan_meier(clones: pd.DataFrame) -> pd.DataFrame:
    """Weighted Kaplan-Meier per arm, each row at risk over (start, stop], so weights may change over time."""
    tables = []
    for arm in clones["arm"].unique():
        rows = (clones["arm"] == arm).to_numpy()
        start, stop, death, weight = (clones[name].to_numpy()[rows] for name in ["start", "stop", EVENT, "weight"])
        times, at_risk, deaths, _, survival, _ = death_times(kaplan_meier(stop, death, weight, entry=start))
        # the curve changes at deaths; the last follow-up time shows how far it reaches
        end = stop.max()
        tail = 0 if times.size and times[-1] == end else 1
        tables.append(
            pd.DataFrame(
                {
                    "arm": arm,
                    "time": np.r_[0.0, times, [end] * tail],
                    "at_risk": np.r_[
                        weight[start == 0].sum(), at_risk, [weight[(start < end) & (stop >= end)].sum()] * tail
                    ],
                    "events": np.r_[0.0, deaths, [0.0] * tail],
                    "survival": np.r_[1.0, survival, [survival[-1] if survival.size else 1.0] * tail],
                }
            )
        )
    return pd.concat(tables, ignore_index=True)


def arm_cox(clones: pd.DataFrame, labels: list[str], reference: str, grace_months: float, alpha: float) -> pd.DataFrame:
    """Weighted Cox HR of each strategy vs the reference, robust SEs clustered on patient.

    Terms are named `<label> vs <reference>` to line up with the other methods. Fitted by
    gistlm.estimators.cox (start-stop rows with late entry; Efron's ties); a fit that does not
    converge (e.g. no deaths in an arm) gives missing estimates.
    """
    tables = []
    reference_arm_name = arm_label(reference, reference, grace_months)
    for label in labels:
        if label == reference:
            continue
        arm = arm_label(label, reference, grace_months)
        pair = clones["arm"].isin([reference_arm_name, arm]).to_numpy()
        treated = (clones["arm"] == arm).to_numpy()[pair]
        death = clones[EVENT].to_numpy()[pair]
        # clustered on the patient's code: the same clusters as the ids, without 9M text
        # cells to hash (2.4 s and ~150 MB at 1M patients) or a Series' index (~100 MB)
        patients = clones["patient_id"].cat.codes.to_numpy()[pair]
        term = f"{label} vs {reference}"
        frame = pd.DataFrame(
            {
                "start": clones["start"].to_numpy()[pair],
                "stop": clones["stop"].to_numpy()[pair],
                EVENT: death,
                "weight": clones["weight"].to_numpy()[pair],
                "patient_id": patients,
                term: treated.astype(float),
            },
            copy=False,  # the selected arrays as they are: no second copy of millions of rows
        )
        fit = CoxFitter(alpha=alpha, center=False).fit(
            frame,
            duration_col="stop",
            event_col=EVENT,
            weights_col="weight",
            entry_col="start",
            cluster_col="patient_id",
        )
        # the model holds its own sorted copies: the selected rows (~400 MB at 1M patients)
        # go before its robust variance, and never two models are alive at once
        del frame
        table = hazard_ratio_table(fit)
        del fit
        tables.append(
            table.assign(
                model="clone-censor-weight",
                arm=arm,
                n=pd.unique(patients).size,  # hashed: sorting 9M codes took 2.8 s
                events=int(death[treated].sum()),
                events_reference=int(death[~treated].sum()),
            )
        )
    columns = [
        "model",
        "term",
        "arm",
        "coef",
        "se",
        "hr",
        "ci_lower",
        "ci_upper",
        "p_value",
        "n",
        "events",
        "events_reference",
    ]
    return pd.concat(tables, ignore_index=True)[columns]


def clone_weight_summary(clones: pd.DataFrame) -> pd.DataFrame:
    """Per arm: clones, rows, artificially censored clones, deaths, distribution of the weights."""
    rows = []
    for arm, members in clones.groupby("arm", sort=False, observed=True):
        w = members["weight"].to_numpy()
        rows.append(
            {
                "arm": arm,
                "clones": members["patient_id"].nunique(),
                "rows": len(members),
                "deaths": int(members[EVENT].sum()),
                "artificially_censored": int(members["deviated"].sum()),
                "weight_min": w.min(),
                "weight_median": float(np.median(w)),
                "weight_max": w.max(),
                "weight_raw_max": members["weight_raw"].max(),
                "ess_at_start": effective_sample_size(members.loc[members["start"] == 0, "weight"].to_numpy()),
            }
        )
    return pd.DataFrame(rows)
