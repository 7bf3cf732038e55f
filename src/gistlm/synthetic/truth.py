"""The known truth written beside the extract (truth.json), and the realised figures that
check the generated cohort against the published ones.

The Kaplan-Meier and Cox estimates below are the generator's own, on purpose: truth.json is
the reference the pipeline's estimators are tested against, so it must not be computed by
them (an estimator's error would then agree with itself), and regenerating the shipped
extract must not depend on, or change with, the analysis code.
"""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np

from gistlm.synthetic.defects import ELIGIBLE, Exclusion, Malformation
from gistlm.synthetic.model import Patients, realised_group, site_log_hazard_shifts
from gistlm.synthetic.parameters import (
    ATTRITION_STEPS,
    DAYS_PER_MONTH,
    GROUPS,
    LABS,
    MAX_OS_MONTHS,
    STREAM_SALT,
    CohortParameters,
    Group,
    VitalStatus,
)

GENERATOR = "gistlm.synthetic"
COVARIATE_DEFINITIONS = {
    "age_over_60": "(lm_diagnosis_date - birth_date).days / 365.25 > 60",
    "male": "sex == M",
    "ecog1": "ecog >= 1",
    "extrahepatic": "extrahepatic_disease == yes",
    "lm_count_over_3": "lm_count > 3",
    "lm_size_over_5cm": "lm_max_size_cm > 5",
    "bilobar": "lm_bilobar == yes",
    "kit_exon9": "mutation == KIT_exon9",
    "pdgfra": "mutation == PDGFRA",
    "wild_type": "mutation == wild_type",
    "mutation_unknown": "mutation == unknown (reference KIT_exon11)",
}


def kaplan_meier(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier step function: (event times, survival just after each)."""
    order = np.argsort(time, kind="stable")
    time, event = time[order], event[order].astype(bool)
    unique_times, first = np.unique(time, return_index=True)
    at_risk = time.size - first
    events = np.add.reduceat(event.astype(np.int64), first) if time.size else np.zeros(0, np.int64)
    has_event = events > 0
    survival = np.cumprod(1.0 - events[has_event] / at_risk[has_event])
    return unique_times[has_event], survival


def survival_at(time: np.ndarray, event: np.ndarray, at: float) -> float:
    event_times, survival = kaplan_meier(time, event)
    i = np.searchsorted(event_times, at, side="right")
    return float(survival[i - 1]) if i > 0 else 1.0


def median_survival(time: np.ndarray, event: np.ndarray) -> float | None:
    event_times, survival = kaplan_meier(time, event)
    below = np.nonzero(survival <= 0.5)[0]
    return float(event_times[below[0]]) if below.size else None


def breslow_cox(
    x: np.ndarray, time: np.ndarray, event: np.ndarray, iterations: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """Cox partial likelihood (Breslow ties), Newton-Raphson; returns (beta, se)."""
    order = np.argsort(-time, kind="stable")
    x, time, event = x[order], time[order], event[order].astype(bool)
    n_terms = x.shape[1]
    # last index of each tie block in descending time order = full risk set of that time
    _, tie_block = np.unique(-time, return_inverse=True)
    block_end = np.searchsorted(tie_block, tie_block, side="right") - 1
    beta = np.zeros(n_terms)
    info = np.eye(n_terms)
    for _ in range(iterations):
        risk = np.exp(np.clip(x @ beta, -50, 50))
        s0 = np.cumsum(risk)[block_end]
        s1 = np.cumsum(risk[:, None] * x, axis=0)[block_end]
        s0_event, s1_event = s0[event], s1[event]
        grad = (x[event] - s1_event / s0_event[:, None]).sum(axis=0)
        # information = sum over events of (S2/S0 - S1 S1'/S0^2); S2 one pair at a time to keep
        # memory at O(n) for million-patient cohorts
        mean = s1_event / s0_event[:, None]
        info = -(mean.T @ mean)
        for a in range(n_terms):
            for b in range(a, n_terms):
                s2 = np.cumsum(risk * x[:, a] * x[:, b])[block_end][event]
                info[a, b] += (s2 / s0_event).sum()
                info[b, a] = info[a, b]
        step = np.linalg.solve(info, grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-9:
            break
    return beta, np.sqrt(np.diag(np.linalg.inv(info)))


def derived_os(patients: Patients) -> tuple[np.ndarray, np.ndarray]:
    """OS months and death indicator as the pipeline derives them (censored at 200 months)."""
    months = patients["end_day"] / DAYS_PER_MONTH
    death = (patients["status"] == VitalStatus.dead) & (months <= MAX_OS_MONTHS)
    return np.minimum(months, MAX_OS_MONTHS), death


def fixed_group_cox(covariates: dict[str, np.ndarray], time: np.ndarray, death: np.ndarray) -> dict | None:
    """HR and p of each covariate in a Breslow Cox model, or None where a cohort is too small
    (or degenerate) for an estimate."""
    x = np.column_stack([values.astype(float) for values in covariates.values()])
    if death.sum() <= x.shape[1] or not all(x[:, j].std() > 0 for j in range(x.shape[1])):
        return None
    try:
        beta, se = breslow_cox(x, time, death)
    except np.linalg.LinAlgError:  # tiny cohorts: no estimate rather than a crash
        return None
    if not (np.all(np.isfinite(beta) & (np.abs(beta) < 20)) and np.all(np.isfinite(se))):
        return None
    return {
        name: {"hr": round(float(np.exp(b)), 4), "p": float(f"{math.erfc(abs(b / s) / math.sqrt(2)):.4g}")}
        for name, b, s in zip(covariates, beta, se)
    }


def calibration(patients: Patients) -> dict:
    """Realised figures on the eligible patients (numpy KM, reverse KM and Breslow Cox)."""
    eligible = patients["defect"] == ELIGIBLE
    time, death = derived_os(patients)
    time, death, group = time[eligible], death[eligible], realised_group(patients)[eligible]
    in_group = {label: group == code for code, label in enumerate(GROUPS) if (group == code).any()}
    medians = {label: median_survival(time[rows], death[rows]) for label, rows in in_group.items()}
    follow_up = median_survival(time, ~death)
    figures = {
        "n": int(eligible.sum()),
        "n_deaths": int(death.sum()),
        "os_120_months": {
            label: round(survival_at(time[rows], death[rows], 120.0), 4) for label, rows in in_group.items()
        },
        "median_os_months": {label: (None if m is None else round(m, 2)) for label, m in medians.items()},
        "median_follow_up_months_reverse_km": None if follow_up is None else round(follow_up, 2),
    }
    covariates = {
        "IM+HR": group == Group.IM_HR,
        "IM+RFA/TACE": group == Group.IM_RFA_TACE,
        "age_over_60": patients["age"][eligible] > 60.0,
        "male": patients["male"][eligible],
        "extrahepatic_disease": patients["extrahepatic"][eligible],
        "lm_count_over_3": patients["lm_count"][eligible] > 3,
        "lm_bilobar": patients["bilobar"][eligible],
    }
    cox = fixed_group_cox(covariates, time, death)
    return figures if cox is None else {**figures, "cox_fixed_group_breslow": cox}


def true_hazard_model(params: CohortParameters, shifts: np.ndarray, n_sites: int) -> dict:
    log_hrs = params.log_hrs()
    return {
        "form": "h(t) = h0(t) exp(b'x + site_shift + g_HR 1[t >= t_HR] + g_RT 1[t >= t_RT]); "
        "t in months since LM diagnosis; h0 Weibull",
        "weibull_shape": params.weibull_shape,
        "weibull_scale_months": params.weibull_scale_months,
        "baseline_cumulative_hazard": "(t / scale) ** shape",
        "covariate_definitions": COVARIATE_DEFINITIONS,
        "log_hr": {name: round(value, 6) for name, value in log_hrs.items()},
        "hr": {name: round(math.exp(value), 6) for name, value in log_hrs.items()},
        "time_varying_log_hr": {
            "hepatic_resection": round(params.log_hr_resection, 6),
            "rfa_tace": round(params.log_hr_rfa_tace, 6),
        },
        "time_varying_hr": {
            "hepatic_resection": round(math.exp(params.log_hr_resection), 6),
            "rfa_tace": round(math.exp(params.log_hr_rfa_tace), 6),
        },
        "time_varying_note": "exposure switches on at the first hepatic_resection / first rfa-or-"
        "tace date after LM diagnosis (an RFA after resection also counts "
        "for rfa_tace); untreated before it",
        "site_log_hazard_shift": (
            {f"S{i + 1:02d}": round(float(shift), 6) for i, shift in enumerate(shifts)} if n_sites > 1 else {}
        ),
    }


def censoring_model(params: CohortParameters) -> dict:
    return {
        "administrative_cutoff": params.data_cutoff,
        "last_visit_gap_days_uniform": [0, params.last_visit_gap_max_days],
        "loss_to_follow_up": "1 month + (uniform(0, early_loss_window_months) with "
        "probability p_early_loss, else exponential(loss_rate_per_month))",
        "p_early_loss": params.p_early_loss,
        "early_loss_window_months": params.early_loss_window_months,
        "loss_rate_per_month": params.loss_rate_per_month,
        "vital_status": "dead if death first; lost if loss to follow-up first; "
        "alive if censored at the (last visit before the) cut-off",
    }


def truth_record(
    seed: int, patients: Patients, params: CohortParameters, n_sites: int, ids: np.ndarray, mode: str
) -> dict:
    """Everything known about the generated extract: parameters, true model, expected counts."""
    defect, group, intended = patients["defect"], realised_group(patients), patients["intended"]
    eligible = defect == ELIGIBLE
    quarantine = [
        {"patient_id": str(ids[i]), "defect": Malformation(defect[i]).name}
        for i in np.nonzero(defect >= min(Malformation))[0]
    ]
    by_site = {"n_patients_by_site": {f"S{i + 1:02d}": int((patients["site"] == i).sum()) for i in range(n_sites)}}
    return {
        "study": "NCT06038552",
        "generator": GENERATOR,
        "mode": mode,
        "seed": seed,
        "stream_salt": STREAM_SALT,
        "n_patients_total": int(defect.size),
        "n_sites": n_sites,
        "parameters": {
            name: (list(value) if isinstance(value, tuple) else value) for name, value in asdict(params).items()
        },
        "true_hazard_model": true_hazard_model(params, site_log_hazard_shifts(seed, n_sites, params), n_sites),
        "censoring": censoring_model(params),
        "n_eligible": int(eligible.sum()),
        "n_by_group": {label: int((eligible & (group == code)).sum()) for code, label in enumerate(GROUPS)},
        "n_intended_by_group": {label: int((eligible & (intended == code)).sum()) for code, label in enumerate(GROUPS)},
        "n_quarantined": len(quarantine),
        "quarantine": quarantine,
        "expected_attrition": [
            {"step": step, "n_excluded": int((defect == Exclusion[step]).sum())} for step in ATTRITION_STEPS
        ],
        "lab_failures": {
            lab: int(((defect == Exclusion.inadequate_organ_function) & (patients["lab_fail"] == index)).sum())
            for index, lab in enumerate(LABS)
        },
        "calibration": calibration(patients),
        "calibration_note": "numpy Kaplan-Meier / reverse Kaplan-Meier / Cox (Breslow ties) on the "
        "eligible patients, OS derived from the written dates, censored at 200 months",
        **(by_site if n_sites > 1 else {}),
    }
