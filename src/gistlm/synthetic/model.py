"""The true model: baseline covariates, intended local treatment, death under time-varying
treatment effects, censoring, and later TKI lines.

Patients are held as one dict of equal-length numpy arrays (a column per variable). Each
stage returns the columns it adds or replaces; `simulate_patients` merges them in order.
"""

from __future__ import annotations

import numpy as np

from gistlm.synthetic.parameters import (
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    DRUG_AVAILABLE,
    LAB_NORMAL,
    LABS,
    NOT_DONE,
    CohortParameters,
    Group,
    LmEvidence,
    Mutation,
    PrimarySite,
    Stream,
    Treatment,
    VitalStatus,
    day_number,
    months_to_days,
    random_stream,
)

Patients = dict[str, np.ndarray]
LATER_LINES = 3  # TKI lines after imatinib: sunitinib or avapritinib, regorafenib, ripretinib
# median time to progression on imatinib by mutation (months): D842V/wild type progress early
TTP_MEDIAN_ON_IMATINIB = np.array([30.0, 20.0, 8.0, 12.0, 24.0])  # indexed by Mutation
TTP_MEDIAN_LATER_LINES = (8.0, 6.0)  # second and third later line
# row of the mutation-probability table for each PrimarySite: stomach, small intestine, other
MUTATION_ROW_OF_SITE = np.array([0, 1, 2, 2, 2])


def categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """Row-wise categorical draw from an (n, k) probability matrix (inverse CDF)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(probs.shape[0]) * cum[:, -1]
    return np.minimum((u[:, None] >= cum).sum(axis=1), probs.shape[1] - 1)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def lm_diagnosis_days(rng: np.random.Generator, n: int, params: CohortParameters) -> np.ndarray:
    """LM diagnosis dates: density growing exponentially with calendar time."""
    first, last = day_number(params.lm_first_date), day_number(params.lm_last_date)
    span_years = (last - first) / DAYS_PER_YEAR
    growth = params.lm_date_growth_per_year
    quantile = rng.random(n)
    years = np.log1p(quantile * np.expm1(growth * span_years)) / growth if growth > 0 else quantile * span_years
    return np.minimum(first + np.floor(years * DAYS_PER_YEAR).astype(np.int64), last)


def baseline_covariates(seed: int, n: int, params: CohortParameters, n_sites: int) -> Patients:
    """Baseline covariates and dates at LM diagnosis (all patients eligible-looking)."""
    rng = random_stream(seed, Stream.BASELINE)
    lm_day = lm_diagnosis_days(rng, n, params)
    # Age at LM diagnosis, kept consistent with the birth date actually written.
    age_drawn = np.clip(rng.normal(params.age_mean, params.age_sd, n), 18.0, 90.0)
    birth_day = lm_day - np.rint(age_drawn * DAYS_PER_YEAR).astype(np.int64) - rng.integers(0, 2, n)
    age = (lm_day - birth_day) / DAYS_PER_YEAR
    male = rng.random(n) < params.p_male
    primary_site = rng.choice(len(PrimarySite), size=n, p=np.asarray(params.site_probs))
    # Mutation depends on primary site (KIT exon 9 mostly small intestine).
    by_site = np.array(
        [params.mutation_probs_stomach, params.mutation_probs_small_intestine, params.mutation_probs_other]
    )
    mutation = categorical(rng, by_site[MUTATION_ROW_OF_SITE[primary_site]])
    primary_size = np.round(np.clip(rng.lognormal(np.log(8.0), 0.5, n), 1.5, 35.0), 1)
    mitotic = np.clip(np.rint(rng.lognormal(np.log(7.0), 0.9, n)), 0, 150).astype(np.int64)
    # Primary diagnosis: synchronous (same month) or metachronous (months to years earlier).
    synchronous = rng.random(n) < params.p_synchronous
    gap_months = np.minimum(3.0 + rng.gamma(1.5, 24.0, n), (age - 17.0) * 12.0)
    gap_days = np.where(synchronous, rng.integers(0, 31, n), months_to_days(gap_months))
    primary_day = lm_day - gap_days
    # Adjuvant imatinib after resection of a metachronous primary (line 1, ended before LM).
    adj_start = primary_day + rng.integers(20, 61, n)
    adj_end = adj_start + months_to_days(rng.uniform(12.0, 36.0, n))
    adj_end = np.minimum(adj_end, lm_day - 90)
    adjuvant = (
        ~synchronous
        & (primary_day >= day_number("2004-01-01"))
        & (adj_end - adj_start >= 180)
        & (rng.random(n) < params.p_adjuvant_imatinib)
    )
    # Liver tumour burden: a latent score drives count, size, lobes and extrahepatic spread.
    burden = rng.normal(0.0, 1.0, n)
    lm_count = np.minimum(1 + rng.poisson(np.exp(params.lm_count_log_mean + 0.9 * burden)), 40).astype(np.int64)
    lm_size = np.round(np.clip(rng.lognormal(np.log(4.0) + 0.25 * burden, 0.6), 0.5, 25.0), 1)
    p_bilobar = sigmoid(-1.0 + 0.35 * (lm_count - 2) + 0.5 * burden)
    bilobar = (lm_count >= 2) & (rng.random(n) < p_bilobar)
    extrahepatic = rng.random(n) < sigmoid(-1.6 + 0.6 * burden)
    lm_evidence = np.where(rng.random(n) < params.p_lm_biopsy, LmEvidence.biopsy, LmEvidence.imaging)
    ecog = np.where(rng.random(n) < params.p_ecog0, 0, 1)
    labs = {}
    for lab in LABS:
        median, log_sd, low, high = LAB_NORMAL[lab]
        value = np.round(np.clip(rng.lognormal(np.log(median), log_sd, n), low, high), 1)
        labs[lab] = np.where(rng.random(n) < params.lab_missing_rate, np.nan, value)
    return {
        "lm_day": lm_day,
        "birth_day": birth_day,
        "age": age,
        "male": male,
        "primary_site": primary_site,
        "mutation": mutation,
        "primary_size": primary_size,
        "mitotic": mitotic,
        "pathology": np.zeros(n, np.int64),
        "other_malignancy": np.zeros(n, bool),
        "primary_day": primary_day,
        "adjuvant": adjuvant,
        "adj_start_day": adj_start,
        "adj_end_day": adj_end,
        "lm_count": lm_count,
        "lm_size": lm_size,
        "bilobar": bilobar,
        "extrahepatic": extrahepatic,
        "lm_evidence": lm_evidence,
        "ecog": ecog,
        **labs,
        "site": hospital_sites(rng, n, n_sites),
    }


def hospital_sites(rng: np.random.Generator, n: int, n_sites: int) -> np.ndarray:
    """Site of each patient: unequal sizes (each site has a small baseline log-hazard shift)."""
    if n_sites <= 1:
        return np.zeros(n, np.int64)
    weights = 1.0 / (1.0 + 0.3 * np.arange(n_sites))
    return rng.choice(n_sites, size=n, p=weights / weights.sum())


def site_log_hazard_shifts(seed: int, n_sites: int, params: CohortParameters) -> np.ndarray:
    if n_sites <= 1:
        return np.zeros(1)
    shifts = random_stream(seed, Stream.SITE_SHIFTS).normal(0.0, params.site_log_hazard_sd, n_sites)
    return shifts - shifts.mean()


def linear_predictor(patients: Patients, params: CohortParameters) -> np.ndarray:
    """b'x of the true hazard model (baseline covariates only)."""
    mutation = patients["mutation"]
    return (
        params.log_hr_age_over_60 * (patients["age"] > 60.0)
        + params.log_hr_male * patients["male"]
        + params.log_hr_ecog1 * (patients["ecog"] >= 1)
        + params.log_hr_extrahepatic * patients["extrahepatic"]
        + params.log_hr_lm_count_over_3 * (patients["lm_count"] > 3)
        + params.log_hr_lm_size_over_5cm * (patients["lm_size"] > 5.0)
        + params.log_hr_bilobar * patients["bilobar"]
        + params.log_hr_kit_exon9 * (mutation == Mutation.KIT_exon9)
        + params.log_hr_pdgfra * (mutation == Mutation.PDGFRA)
        + params.log_hr_wild_type * (mutation == Mutation.wild_type)
        + params.log_hr_mutation_unknown * (mutation == Mutation.unknown)
    )


def intended_local_treatment(seed: int, patients: Patients, params: CohortParameters) -> Patients:
    """Intended local treatment (confounding by indication) and its intended timing."""
    rng = random_stream(seed, Stream.INTENDED_TREATMENT)
    n = patients["lm_day"].size
    few, small = patients["lm_count"] <= 3, patients["lm_size"] <= 5.0
    bilobar, extrahepatic, age, ecog = (patients[column] for column in ("bilobar", "extrahepatic", "age", "ecog"))
    utility_resection = (
        params.hr_intercept
        + params.hr_lm_count_le_3 * few
        + params.hr_lm_size_le_5cm * small
        + params.hr_unilobar * ~bilobar
        + params.hr_no_extrahepatic * ~extrahepatic
        + params.hr_age_le_60 * (age <= 60.0)
        + params.hr_ecog0 * (ecog == 0)
    )
    utility_rfa_tace = (
        params.rt_intercept
        + params.rt_age_over_60 * (age > 60.0)
        + params.rt_ecog1 * (ecog >= 1)
        + params.rt_lm_count_over_3 * ~few
        + params.rt_bilobar * bilobar
        + params.rt_extrahepatic * extrahepatic
    )
    utility = np.column_stack([np.zeros(n), utility_resection, utility_rfa_tace])
    intended = categorical(rng, np.exp(utility - utility.max(axis=1, keepdims=True)))
    # Imatinib starts 0-60 days after LM diagnosis (>= 1 day after adjuvant imatinib so that
    # the restart, numbered line 2, is not a later line started on/before LM diagnosis).
    delay = np.minimum(np.rint(rng.exponential(params.im_start_delay_mean_days, n)), 60).astype(np.int64)
    im_offset = np.where(patients["adjuvant"], np.maximum(delay, 1), delay)
    local_delay = np.clip(
        rng.lognormal(np.log(params.local_delay_median_months), params.local_delay_log_sd, n), 3.0, 18.0
    )
    t_local = im_offset / DAYS_PER_MONTH + local_delay
    rfa_after_resection_months = rng.uniform(6.0, 36.0, n)
    resection = intended == Group.IM_HR
    rfa_after = resection & (rng.random(n) < params.p_rfa_after_resection)
    return {
        "intended": intended,
        "im_offset": im_offset,
        "t_hr_intended": np.where(resection, t_local, np.inf),
        "t_rt_intended": np.where(
            intended == Group.IM_RFA_TACE, t_local, np.where(rfa_after, t_local + rfa_after_resection_months, np.inf)
        ),
        "rt_is_rfa": resection | (rng.random(n) < params.p_rfa_given_rt),
        "repeat_tace_gap": np.where(rng.random(n) < params.p_repeat_tace, rng.integers(45, 121, n), -1),
    }


def event_time_piecewise_weibull(
    unit_exponential: np.ndarray,
    eta: np.ndarray,
    t1: np.ndarray,
    t2: np.ndarray,
    log_hr_after_t1: np.ndarray,
    log_hr_after_t2: np.ndarray,
    params: CohortParameters,
) -> np.ndarray:
    """Event time with hazard h0(t) exp(eta), x exp(log_hr_after_t1) after t1, x exp(log_hr_after_t2)
    instead after t2 (t1 <= t2).

    H0(t) = (t / scale)^shape; the cumulative hazard is piecewise, so solve H(T) = e on the
    interval where e falls, in closed form.
    """
    shape, scale = params.weibull_shape, params.weibull_scale_months
    e = unit_exponential
    with np.errstate(over="ignore", invalid="ignore"):
        h0_1 = (t1 / scale) ** shape
        h0_2 = (t2 / scale) ** shape
        m0, m1, m2 = np.exp(eta), np.exp(eta + log_hr_after_t1), np.exp(eta + log_hr_after_t2)
        cum1 = m0 * h0_1
        cum2 = cum1 + m1 * np.where(np.isinf(t2), np.inf, h0_2 - h0_1)
        u = np.where(e < cum1, e / m0, np.where(e < cum2, h0_1 + (e - cum1) / m1, h0_2 + (e - cum2) / m2))
    return scale * u ** (1.0 / shape)


def death_and_censoring(seed: int, patients: Patients, params: CohortParameters, shifts: np.ndarray) -> Patients:
    """Death time under the time-varying model, censoring, realised local treatments."""
    rng = random_stream(seed, Stream.DEATH)
    n = patients["lm_day"].size
    eta = linear_predictor(patients, params) + shifts[patients["site"]]
    t_hr, t_rt = patients["t_hr_intended"], patients["t_rt_intended"]
    t1, t2 = np.minimum(t_hr, t_rt), np.maximum(t_hr, t_rt)
    log_hr_first = np.where(t_hr <= t_rt, params.log_hr_resection, params.log_hr_rfa_tace)
    t_death = event_time_piecewise_weibull(
        rng.exponential(1.0, n),
        eta,
        t1,
        t2,
        log_hr_first,
        np.full(n, params.log_hr_resection + params.log_hr_rfa_tace),
        params,
    )
    # Censoring: last visit before the cut-off (administrative) or random loss to follow-up.
    censoring = random_stream(seed, Stream.CENSORING)
    admin_days = (
        day_number(params.data_cutoff)
        - censoring.integers(0, params.last_visit_gap_max_days + 1, n)
        - patients["lm_day"]
    )
    t_admin = admin_days / DAYS_PER_MONTH
    early = censoring.random(n) < params.p_early_loss
    t_loss = 1.0 + np.where(
        early,
        censoring.uniform(0.0, params.early_loss_window_months, n),
        censoring.exponential(1.0 / params.loss_rate_per_month, n),
    )
    t_censored = np.minimum(t_admin, t_loss)
    dead = t_death <= t_censored
    status = np.where(dead, VitalStatus.dead, np.where(t_loss < t_admin, VitalStatus.lost, VitalStatus.alive))
    end = np.minimum(t_death, t_censored)
    end_day = np.maximum(months_to_days(end), 1)  # days from LM diagnosis
    # A procedure is observed only if it happened before death/censoring.
    hr_day = np.where(t_hr < end, months_to_days(np.where(np.isinf(t_hr), 0, t_hr)), NOT_DONE)
    rt_day = np.where(
        (t_rt < end) & ((patients["intended"] == Group.IM_RFA_TACE) | (hr_day >= 0)),
        months_to_days(np.where(np.isinf(t_rt), 0, t_rt)),
        NOT_DONE,
    )
    return {
        "t_death": t_death,
        "status": status,
        "end_day": end_day,
        "hr_day": hr_day,
        "rt_day": rt_day,
        "im_offset": np.minimum(patients["im_offset"], end_day),
    }


def later_tki_lines(seed: int, patients: Patients, params: CohortParameters) -> Patients:
    """Progressions and later TKI lines (markers: deaths are preceded by progression)."""
    rng = random_stream(seed, Stream.TKI_LINES)
    n = patients["lm_day"].size
    end, lm_day, mutation = patients["end_day"].astype(float), patients["lm_day"], patients["mutation"]
    start = patients["im_offset"].astype(float)
    t_death_days = patients["t_death"] * DAYS_PER_MONTH
    available = {drug: day_number(date) for drug, date in DRUG_AVAILABLE.items()}
    line_day = np.full((n, LATER_LINES), NOT_DONE, np.int64)  # days from LM diagnosis
    line_drug = np.full((n, LATER_LINES), -1, np.int64)
    line_dose = np.full((n, LATER_LINES), np.nan)
    alive_on_line = np.ones(n, bool)
    medians = (TTP_MEDIAN_ON_IMATINIB[mutation], *(np.full(n, m) for m in TTP_MEDIAN_LATER_LINES))
    for later in range(LATER_LINES):  # a loop over lines, not over patients
        independent = rng.weibull(1.2, n) * medians[later] * DAYS_PER_MONTH / np.log(2) ** (1 / 1.2)
        linked_to_death = np.maximum(t_death_days - start, 0.0) * rng.uniform(0.35, 0.85, n)
        progression = start + np.minimum(independent, linked_to_death)
        next_start = progression + rng.integers(7, 46, n)
        calendar_day = lm_day + next_start.astype(np.int64)
        if later == 0:
            pdgfra = (mutation == Mutation.PDGFRA) & (calendar_day >= available["avapritinib"])
            drug = np.where(pdgfra, Treatment.avapritinib, Treatment.sunitinib)
            approved = np.where(pdgfra, True, calendar_day >= available["sunitinib"])
            dose = np.where(pdgfra, 300.0, np.where(rng.random(n) < 0.6, 37.5, 50.0))
        elif later == 1:
            drug, approved = np.full(n, Treatment.regorafenib), calendar_day >= available["regorafenib"]
            dose = np.where(rng.random(n) < 0.8, 160.0, 120.0)
        else:
            drug, approved = np.full(n, Treatment.ripretinib), calendar_day >= available["ripretinib"]
            dose = np.full(n, 150.0)
        given = alive_on_line & approved & (next_start < end) & (rng.random(n) < params.p_next_line)
        line_day[:, later] = np.where(given, next_start.astype(np.int64), NOT_DONE)
        line_drug[:, later] = np.where(given, drug, -1)
        line_dose[:, later] = np.where(given, dose, np.nan)
        alive_on_line, start = given, next_start
    dose_draw = rng.random(n)
    im_dose = np.where(
        mutation == Mutation.KIT_exon9,
        np.where(dose_draw < 0.7, 800.0, 400.0),
        np.where(dose_draw < 0.05, 300.0, np.where(dose_draw < 0.08, 600.0, 400.0)),
    )
    return {
        "line_day": line_day,
        "line_drug": line_drug,
        "line_dose": line_dose,
        "im_dose": im_dose,
        "tki_variant_draw": rng.random(n),
    }  # reserved for the no-imatinib defect's two variants


def simulate_patients(seed: int, n: int, params: CohortParameters, n_sites: int, shifts: np.ndarray) -> Patients:
    patients = baseline_covariates(seed, n, params, n_sites)
    patients = {**patients, **intended_local_treatment(seed, patients, params)}
    patients = {**patients, **death_and_censoring(seed, patients, params, shifts)}
    return {**patients, **later_tki_lines(seed, patients, params)}


def realised_group(patients: Patients) -> np.ndarray:
    """Realised analysis group: HR takes precedence over RFA/TACE."""
    return np.where(
        patients["hr_day"] >= 0, Group.IM_HR, np.where(patients["rt_day"] >= 0, Group.IM_RFA_TACE, Group.IM)
    )


def select(patients: Patients, index: np.ndarray) -> Patients:
    """The patients at `index` (positions or a mask), in that order."""
    return {column: values[index] for column, values in patients.items()}
