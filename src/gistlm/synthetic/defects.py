"""The data faults injected into the extract: ineligible patients, each failing exactly one
exclusion step, and malformed records that the data-quality stage must quarantine."""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from gistlm.synthetic.model import Patients
from gistlm.synthetic.parameters import (
    ATTRITION_STEPS,
    LAB_FAIL,
    LABS,
    NOT_DONE,
    CohortParameters,
    LmEvidence,
    Mutation,
    Pathology,
    Stream,
    VitalStatus,
    months_to_days,
    random_stream,
)

# A patient's defect code: 0 eligible, else the exclusion step they fail (position in the
# eligibility steps + 1; member names are the step names), or a malformation (>= 100).
Exclusion = IntEnum(
    "Exclusion", [("eligible", 0), *((step, code) for code, step in enumerate(ATTRITION_STEPS, 1))], module=__name__
)
ELIGIBLE = Exclusion.eligible
NO_LAB_FAILURE = -1  # lab_fail of a patient who does not fail on organ function


class Malformation(IntEnum):
    """Malformed records (the name is the defect listed in truth.json's quarantine)."""

    sex_invalid = 101
    death_before_lm_diagnosis = 102
    lm_count_non_numeric = 103


MALFORMED = tuple(member.name for member in Malformation)


class TkiHistory(IntEnum):
    """Which TKI rows a patient's treatment table gets."""

    STANDARD = 0  # (adjuvant,) metastatic imatinib, then later lines
    NO_TKI = 1
    SUNITINIB_ONLY = 2
    LATER_LINE_BEFORE_LM = 3  # imatinib, then sunitinib started before the LM diagnosis


def quota_defects(params: CohortParameters) -> tuple[list[int], list[int]]:
    """Defect codes and failing lab (index in LABS) given to the unused candidates of a quota
    cohort, in pool order: the ineligible counts, the lab failures, one record per malformation."""
    codes, labs = [], []
    for step, count in params.ineligible_counts:
        codes += [Exclusion[step]] * count
        labs += [NO_LAB_FAILURE] * count
    for lab, count in params.lab_failure_counts:
        codes += [Exclusion.inadequate_organ_function] * count
        labs += [LABS.index(lab)] * count
    codes += list(Malformation)
    labs += [NO_LAB_FAILURE] * len(Malformation)
    return codes, labs


def natural_defects(seed: int, n: int, params: CohortParameters) -> tuple[np.ndarray, np.ndarray]:
    """Defect codes and failing labs of a natural cohort: ineligibility at a fixed rate, spread
    over the steps (and labs) like the quota counts."""
    weights = dict(params.ineligible_counts)
    weights[Exclusion.inadequate_organ_function.name] = sum(count for _, count in params.lab_failure_counts)
    step_weights = np.array([weights.get(step, 0) for step in ATTRITION_STEPS], float)
    fraction = params.natural_ineligible_fraction
    probs = np.concatenate([[1.0 - fraction], fraction * step_weights / step_weights.sum()])
    rng = random_stream(seed, Stream.NATURAL_EXCLUSIONS)
    defect = rng.choice(len(probs), size=n, p=probs)
    lab_counts = dict(params.lab_failure_counts)
    lab_weights = np.array([lab_counts.get(lab, 0) for lab in LABS], float)
    lab_fail = np.where(
        defect == Exclusion.inadequate_organ_function,
        rng.choice(len(LABS), size=n, p=lab_weights / lab_weights.sum()),
        NO_LAB_FAILURE,
    )
    return defect, lab_fail


def inject_defects(seed: int, patients: Patients) -> Patients:
    """Turn patients whose 'defect' is not ELIGIBLE into ineligible or malformed records,
    vectorised; returns the patients with their changed columns."""
    rng = random_stream(seed, Stream.DEFECTS)
    n = patients["lm_day"].size
    defect, lab_fail, lm_day = patients["defect"], patients["lab_fail"], patients["lm_day"]
    not_gist = defect == Exclusion.not_gist
    pathology = np.where(not_gist, Pathology.leiomyosarcoma + rng.integers(0, 2, n), patients["pathology"])
    mutation = np.where(not_gist, Mutation.unknown, patients["mutation"])
    lm_evidence = np.where(defect == Exclusion.no_lm_evidence, LmEvidence.none, patients["lm_evidence"])
    ecog = np.where(
        defect == Exclusion.ecog_over_limit, rng.choice([2, 3, 4], size=n, p=[0.7, 0.25, 0.05]), patients["ecog"]
    )
    labs = {}
    for index, lab in enumerate(LABS):
        fails = (defect == Exclusion.inadequate_organ_function) & (lab_fail == index)
        low, high = LAB_FAIL[lab]
        labs[lab] = np.where(fails, np.round(rng.uniform(low, high, n), 1), patients[lab])
    other_malignancy = patients["other_malignancy"] | (defect == Exclusion.other_malignancy)
    # No imatinib: either no TKI at all or sunitinib only (line 1).
    no_imatinib = defect == Exclusion.no_imatinib
    # LM found while on a second-line TKI started before the LM diagnosis.
    later_line = defect == Exclusion.lm_on_later_line_tki
    no_imatinib_variant = np.where(patients["tki_variant_draw"] < 0.5, TkiHistory.NO_TKI, TkiHistory.SUNITINIB_ONLY)
    tki_history = np.where(
        no_imatinib, no_imatinib_variant, np.where(later_line, TkiHistory.LATER_LINE_BEFORE_LM, TkiHistory.STANDARD)
    )
    pre_imatinib_start = lm_day - months_to_days(rng.uniform(18.0, 40.0, n))
    pre_sunitinib_start = lm_day - months_to_days(rng.uniform(3.0, 10.0, n))
    primary_day = np.where(
        later_line,
        np.minimum(patients["primary_day"], pre_imatinib_start - rng.integers(10, 61, n)),
        patients["primary_day"],
    )
    no_follow_up = defect == Exclusion.no_follow_up
    adjuvant = patients["adjuvant"] & ~(no_imatinib | later_line | no_follow_up)
    # No follow-up: last contact on the day of LM diagnosis, nothing after it.
    status = np.where(
        no_follow_up, np.where(rng.random(n) < 0.5, VitalStatus.alive, VitalStatus.lost), patients["status"]
    )
    end_day = np.where(no_follow_up, 0, patients["end_day"])
    # Malformed: a typo'd death date one year or so before LM diagnosis.
    death_before_lm = defect == Malformation.death_before_lm_diagnosis
    status = np.where(death_before_lm, VitalStatus.dead, status)
    end_day = np.where(death_before_lm, -rng.integers(30, 400, n), end_day)
    return {
        **patients,
        "pathology": pathology,
        "mutation": mutation,
        "lm_evidence": lm_evidence,
        "ecog": ecog,
        **labs,
        "other_malignancy": other_malignancy,
        "tki_history": tki_history,
        "pre_imatinib_start": pre_imatinib_start,
        "pre_sunitinib_start": pre_sunitinib_start,
        "primary_day": primary_day,
        "adjuvant": adjuvant,
        "status": status,
        "end_day": end_day,
        "im_offset": np.where(no_follow_up, 0, patients["im_offset"]),
        "hr_day": np.where(no_follow_up, NOT_DONE, patients["hr_day"]),
        "rt_day": np.where(no_follow_up, NOT_DONE, patients["rt_day"]),
        "line_day": np.where(no_follow_up[:, None], NOT_DONE, patients["line_day"]),
    }
