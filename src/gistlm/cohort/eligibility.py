"""Eligibility: the registration's inclusion and exclusion criteria, applied in order.

Every validated patient gets exactly one verdict: eligible, or excluded at the first
criterion they fail (with the reason spelled out). Thresholds and codes come from the
`eligibility` section of the config; a missing lab value does not exclude. Free text
(histology) is accepted by a list of values and patterns, and every distinct value that
excluded someone is listed with its count, so that `GIST (high risk)` cannot go unseen.
"""

import operator
import re

import pandas as pd

from gistlm.extract.errors import ExtractError
from gistlm.release.disclosure import suppress_within

# (step, reason shown in the attrition table), in the order the criteria are applied
STEPS = [
    ("not_gist", "primary pathology is not GIST"),
    ("no_lm_evidence", "liver metastasis not evidenced by biopsy or imaging"),
    ("ecog_over_limit", "ECOG performance status above the limit"),
    ("inadequate_organ_function", "liver, haematologic or renal function outside the limits"),
    ("no_imatinib", "imatinib never given"),
    ("lm_on_later_line_tki", "liver metastasis diagnosed on a second-or-later-line TKI"),
    ("other_malignancy", "another malignancy"),
    ("no_follow_up", "no follow-up after liver-metastasis diagnosis"),
]
LAB_BOUNDS = {"max": operator.gt, "min": operator.lt}
# steps judged on a patient's text value: the column whose values the exclusions are listed by
TEXT_CRITERIA = {"not_gist": "primary_pathology", "no_lm_evidence": "lm_evidence"}


def patient_baseline(tables: dict[str, pd.DataFrame], columns: list[str] | None = None) -> pd.DataFrame:
    """One row per patient: patients joined with their LM and follow-up rows (if any).

    With `columns`, only those; a table holding none of them is not joined. Validation
    leaves at most one row per patient in each table, so each table's rows are aligned to
    the patients' ids, not merged: at 1M patients a merge of these wide tables took 4.0 s,
    this 0.7 s.
    """
    ids = pd.Index(tables["patients"]["patient_id"], name="patient_id")
    parts = []
    for name in ["patients", "liver_metastases", "follow_up"]:
        frame = tables[name]
        kept = [c for c in frame if c not in {"patient_id", "source_row"} and (columns is None or c in columns)]
        if name == "patients":
            parts.append(frame[kept].set_axis(ids))
        elif kept:
            parts.append(frame[kept].set_axis(pd.Index(frame["patient_id"])).reindex(ids))
    return pd.concat(parts, axis=1)


def criteria_failed(base: pd.DataFrame, tables: dict[str, pd.DataFrame], rules: dict) -> pd.DataFrame:
    """A boolean column per step: does the patient (row of `base`) fail that criterion?"""
    failed = pd.DataFrame(index=base.index)
    failed["not_gist"] = ~accepted_text(base["primary_pathology"], rules["histology"], "eligibility.histology")
    failed["no_lm_evidence"] = ~base["lm_evidence"].isin(rules["lm_evidence"])
    failed["ecog_over_limit"] = (base["ecog"] > rules["max_ecog"]).fillna(False).astype(bool)
    failed["inadequate_organ_function"] = lab_failures(base, rules["labs"]).any(axis=1)
    failed["no_imatinib"] = ~base.index.isin(_treated_with(tables["treatments"], rules["required_tki"]))
    failed["lm_on_later_line_tki"] = base.index.isin(_later_line_before_lm(tables, rules["later_line_from"]))
    failed["other_malignancy"] = base["other_malignancy"] == "yes"
    failed["no_follow_up"] = no_follow_up(base)
    return failed[[step for step, _ in STEPS]]


def accepted_text(values: pd.Series, accepted, key: str) -> pd.Series:
    """Does each value match one accepted entry? `accepted`: one entry or a list of them, each
    a value (case and surrounding spaces aside) or `{pattern: regex}` (a full match, any case)."""
    entries = accepted if isinstance(accepted, list) else [accepted]
    text = values.astype(str).str.strip()
    matched = pd.Series(False, index=values.index)
    for entry in entries:
        if isinstance(entry, dict):
            try:
                pattern = re.compile(entry["pattern"], flags=re.IGNORECASE)
            except re.error as error:
                raise ExtractError(
                    f"config {key}: pattern {entry['pattern']!r} is not a regular expression "
                    f"({error}); write it in Python's re syntax, e.g. `GIST.*`."
                ) from None
            matched |= text.str.fullmatch(pattern).fillna(False).astype(bool)
        else:
            matched |= text.str.upper() == str(entry).strip().upper()
    return matched & values.notna()


def lab_failures(base: pd.DataFrame, limits: dict) -> pd.DataFrame:
    """Per lab, is the value beyond its limit? Missing values never fail."""
    return pd.DataFrame(
        {
            lab: LAB_BOUNDS[bound](base[lab], value).fillna(False).astype(bool)
            for lab, bounds in limits.items()
            for bound, value in bounds.items()
        },
        index=base.index,
    )


def _treated_with(treatments: pd.DataFrame, drug: str) -> set:
    return set(treatments.loc[treatments["treatment"] == drug, "patient_id"])


def _later_line_before_lm(tables: dict[str, pd.DataFrame], later_line_from: int) -> set:
    """Patients with a TKI of line >= later_line_from started on or before LM diagnosis."""
    # here, not at the top: the data dictionary imports pandera (0.3 s of CPU), which the
    # eligibility and cohort jobs otherwise do without
    from gistlm.extract.schema import TKI_DRUGS

    lm = tables["liver_metastases"].set_index("patient_id")["lm_diagnosis_date"]
    tki = tables["treatments"]
    later = tki[tki["treatment"].isin(TKI_DRUGS) & (tki["line"] >= later_line_from).fillna(False)]
    started_before = later["start_date"] <= later["patient_id"].map(lm)
    return set(later.loc[started_before, "patient_id"])


def no_follow_up(base: pd.DataFrame) -> pd.Series:
    """Not dead and last seen on or before the LM diagnosis (or no follow-up record)."""
    seen_after = base["last_contact_date"] > base["lm_diagnosis_date"]
    dead = base["vital_status"] == "dead"
    return ~(dead | seen_after.fillna(False).astype(bool))


def apply_criteria(tables: dict[str, pd.DataFrame], rules: dict) -> pd.DataFrame:
    """Each patient's first failed step (empty when eligible) and its reason."""
    base = patient_baseline(tables)
    failed = criteria_failed(base, tables, rules)
    reasons = dict(STEPS)
    first = failed.idxmax(axis=1).where(failed.any(axis=1))
    verdicts = pd.DataFrame({"eligible": first.isna(), "step": first, "reason": first.map(reasons)})
    labs = lab_failures(base, rules["labs"])
    organ = verdicts["step"] == "inadequate_organ_function"
    # name the failing labs: bool x "name, " concatenates the names of the True columns
    failing_labs = labs.astype(object).dot(labs.columns + ", ").str.rstrip(", ")
    verdicts.loc[organ, "reason"] += ": " + failing_labs[organ]
    return verdicts.rename_axis("patient_id").reset_index().sort_values("patient_id", ignore_index=True)


def exclusion_values(tables: dict[str, pd.DataFrame], verdicts: pd.DataFrame) -> pd.DataFrame:
    """Per text criterion, every distinct value (as written, trimmed) that excluded patients,
    with the number of patients; most frequent first."""
    base = patient_baseline(tables, list(TEXT_CRITERIA.values()))
    found = []
    for step, column in TEXT_CRITERIA.items():
        ids = verdicts.loc[verdicts["step"] == step, "patient_id"]
        values = base.loc[ids, column].astype(str).str.strip()
        counts = values.value_counts().rename_axis("value").reset_index(name="patients")
        found.append(counts.assign(step=step, column=column))
    table = pd.concat(found, ignore_index=True)[["step", "column", "value", "patients"]]
    # in the order the criteria are applied
    order = table["step"].map({step: i for i, (step, _) in enumerate(STEPS)})
    return (
        table.assign(order=order)
        .sort_values(["order", "patients", "value"], ascending=[True, False, True])
        .drop(columns="order")
        .reset_index(drop=True)
    )


def release_exclusion_values(values: pd.DataFrame, minimum: int) -> pd.DataFrame:
    """Counts below `minimum` shown as `<minimum`; each step's counts add up to its count in the
    attrition table, so a second one is hidden where subtraction would reveal the first."""
    if values.empty:
        return values
    return suppress_within(values, ["patients"], "step", minimum)


def attrition(verdicts: pd.DataFrame, quarantined: int) -> pd.DataFrame:
    """The flow from raw patients to the analysis cohort, quarantine first, each step counted."""
    remaining = len(verdicts) + quarantined
    rows = [("raw extract", remaining, 0, "distinct patients in the raw extract")]
    remaining -= quarantined
    rows.append(("quarantine", remaining, quarantined, "failed data-quality checks"))
    for step, reason in STEPS:
        excluded = int((verdicts["step"] == step).sum())
        remaining -= excluded
        rows.append((step, remaining, excluded, reason))
    rows.append(("analysis cohort", remaining, 0, "eligible patients analysed"))
    return pd.DataFrame(rows, columns=["step", "remaining", "excluded", "reason"])
