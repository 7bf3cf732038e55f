"""The four raw tables as a hospital would export them, and writing them (one folder per site)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from gistlm.synthetic.defects import Malformation, TkiHistory
from gistlm.synthetic.model import LATER_LINES, Patients
from gistlm.synthetic.parameters import (
    LABS,
    NO_DATE,
    LmEvidence,
    Mutation,
    Pathology,
    PrimarySite,
    Treatment,
    VitalStatus,
    labels,
)

TABLE_COLUMNS: dict[str, list[str]] = {
    "patients": [
        "patient_id",
        "sex",
        "birth_date",
        "primary_site",
        "primary_diagnosis_date",
        "primary_pathology",
        "primary_size_cm",
        "mitotic_count",
        "mutation",
        "other_malignancy",
    ],
    "liver_metastases": [
        "patient_id",
        "lm_diagnosis_date",
        "lm_evidence",
        "lm_count",
        "lm_max_size_cm",
        "lm_bilobar",
        "extrahepatic_disease",
        "ecog",
        *LABS,
    ],
    "treatments": ["patient_id", "treatment", "line", "start_date", "end_date", "dose_mg_day"],
    "follow_up": ["patient_id", "last_contact_date", "vital_status", "death_date"],
}
TABLES = tuple(TABLE_COLUMNS)
PROCEDURE_LINE = 0  # procedures have no line (written empty)


def iso_dates(days: np.ndarray) -> np.ndarray:
    """Integer days -> object array of ISO dates, None where missing (NO_DATE).

    Only the distinct days are formatted; the result references one str object per distinct
    day, which keeps a million-patient extract small in memory.
    """
    uniq, inv = np.unique(days, return_inverse=True)
    text = np.datetime_as_string(np.where(uniq == NO_DATE, 0, uniq).astype("datetime64[D]"), unit="D")
    text = text.astype(object)
    text[uniq == NO_DATE] = None
    return text[inv.reshape(-1)]


def yes_no(flags: np.ndarray) -> np.ndarray:
    return np.where(flags, "yes", "no").astype(object)


def site_names(site: np.ndarray) -> np.ndarray:
    """Site codes 0, 1, ... -> "S01", "S02", ..."""
    return np.char.add("S", np.char.zfill((site + 1).astype(str), 2))


def patient_ids(patients: Patients, n_sites: int) -> np.ndarray:
    """Patient ids in array order (the caller orders patients by site first)."""
    n = patients["lm_day"].size
    if n_sites <= 1:
        width = max(4, len(str(n)))
        return np.char.add("P", np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)
    site = patients["site"]
    first = np.searchsorted(site, np.arange(n_sites))
    rank = np.arange(n) - first[site] + 1
    width = max(6, len(str(n)))
    return np.char.add(np.char.add(site_names(site), "-P"), np.char.zfill(rank.astype(str), width)).astype(object)


def patients_table(patients: Patients, ids: np.ndarray) -> pd.DataFrame:
    sex = np.where(patients["male"], "M", "F").astype(object)
    sex[patients["defect"] == Malformation.sex_invalid] = "X"
    return pd.DataFrame(
        {
            "patient_id": ids,
            "sex": sex,
            "birth_date": iso_dates(patients["birth_day"]),
            "primary_site": labels(PrimarySite)[patients["primary_site"]],
            "primary_diagnosis_date": iso_dates(patients["primary_day"]),
            "primary_pathology": labels(Pathology)[patients["pathology"]],
            "primary_size_cm": patients["primary_size"],
            "mitotic_count": patients["mitotic"],
            "mutation": labels(Mutation)[patients["mutation"]],
            "other_malignancy": yes_no(patients["other_malignancy"]),
        }
    )


def liver_metastases_table(patients: Patients, ids: np.ndarray) -> pd.DataFrame:
    count: np.ndarray = patients["lm_count"]
    free_text = patients["defect"] == Malformation.lm_count_non_numeric
    if free_text.any():  # a free-text entry makes the whole column text, as in a real export
        count = count.astype(str).astype(object)
        count[free_text] = "many"
    return pd.DataFrame(
        {
            "patient_id": ids,
            "lm_diagnosis_date": iso_dates(patients["lm_day"]),
            "lm_evidence": labels(LmEvidence)[patients["lm_evidence"]],
            "lm_count": count,
            "lm_max_size_cm": patients["lm_size"],
            "lm_bilobar": yes_no(patients["bilobar"]),
            "extrahepatic_disease": yes_no(patients["extrahepatic"]),
            "ecog": patients["ecog"].astype(np.int64),
            **{lab: patients[lab] for lab in LABS},
        }
    )


def follow_up_table(patients: Patients, ids: np.ndarray) -> pd.DataFrame:
    last_contact = patients["lm_day"] + patients["end_day"]
    dead = patients["status"] == VitalStatus.dead
    return pd.DataFrame(
        {
            "patient_id": ids,
            "last_contact_date": iso_dates(last_contact),
            "vital_status": labels(VitalStatus)[patients["status"]],
            "death_date": iso_dates(np.where(dead, last_contact, NO_DATE)),
        }
    )


def treatment_rows(patients: Patients) -> dict[str, np.ndarray]:
    """Long treatment rows as parallel arrays (patient index, treatment, line, start, end, dose)."""
    n = patients["lm_day"].size
    index = np.arange(n)
    lm_day, dead = patients["lm_day"], patients["status"] == VitalStatus.dead
    last_contact = lm_day + patients["end_day"]
    until_death = np.where(dead, last_contact, NO_DATE)  # last line runs until death or is ongoing
    history, adjuvant = patients["tki_history"], patients["adjuvant"]
    parts: list[tuple] = []

    def add(mask, treatment, line, start, end, dose):
        parts.append(
            (
                index[mask],
                np.broadcast_to(treatment, n)[mask],
                np.broadcast_to(line, n)[mask],
                np.broadcast_to(start, n)[mask],
                np.broadcast_to(end, n)[mask],
                np.broadcast_to(dose, n)[mask].astype(float),
            )
        )

    standard = history == TkiHistory.STANDARD
    add(standard & adjuvant, Treatment.imatinib, 1, patients["adj_start_day"], patients["adj_end_day"], 400.0)
    # Metastatic imatinib (0), then the later lines (1-3); a line ends the day before the next.
    line_day = patients["line_day"]
    later_starts = np.where(line_day >= 0, lm_day[:, None] + line_day, -1)
    starts = [lm_day + patients["im_offset"], *later_starts.T]
    for metastatic in range(LATER_LINES + 1):
        next_start = starts[metastatic + 1] if metastatic < LATER_LINES else np.full(n, -1)
        end = np.where(next_start >= 0, next_start - 1, until_death)
        given = standard & (starts[metastatic] >= 0)
        if metastatic == 0:
            add(given, Treatment.imatinib, 1 + adjuvant, starts[0], end, patients["im_dose"])
        else:
            add(
                given,
                patients["line_drug"][:, metastatic - 1],
                1 + adjuvant + metastatic,
                starts[metastatic],
                end,
                patients["line_dose"][:, metastatic - 1],
            )
    add(history == TkiHistory.SUNITINIB_ONLY, Treatment.sunitinib, 1, lm_day + patients["im_offset"], until_death, 37.5)
    before_lm = history == TkiHistory.LATER_LINE_BEFORE_LM
    add(before_lm, Treatment.imatinib, 1, patients["pre_imatinib_start"], patients["pre_sunitinib_start"] - 1, 400.0)
    add(before_lm, Treatment.sunitinib, 2, patients["pre_sunitinib_start"], until_death, 50.0)
    # Procedures: one row each, end date = start date.
    hr_day, rt_day = lm_day + patients["hr_day"], lm_day + patients["rt_day"]
    resected = patients["hr_day"] >= 0
    add(resected, Treatment.hepatic_resection, PROCEDURE_LINE, hr_day, hr_day, np.nan)
    ablated = patients["rt_day"] >= 0
    ablation = np.where(patients["rt_is_rfa"], Treatment.rfa, Treatment.tace)
    add(ablated, ablation, PROCEDURE_LINE, rt_day, rt_day, np.nan)
    repeat_day = rt_day + patients["repeat_tace_gap"]
    repeated = ablated & (ablation == Treatment.tace) & (patients["repeat_tace_gap"] > 0) & (repeat_day <= last_contact)
    add(repeated, Treatment.tace, PROCEDURE_LINE, repeat_day, repeat_day, np.nan)
    columns = [np.concatenate([part[i] for part in parts]) for i in range(6)]
    order = np.lexsort((columns[1], columns[3], columns[0]))
    return {
        name: values[order] for name, values in zip(("patient", "treatment", "line", "start", "end", "dose"), columns)
    }


def treatments_table(patients: Patients, ids: np.ndarray) -> pd.DataFrame:
    rows = treatment_rows(patients)
    line = pd.array(np.where(rows["line"] > 0, rows["line"], 0), dtype="Int64")
    line[rows["line"] <= PROCEDURE_LINE] = pd.NA
    return pd.DataFrame(
        {
            "patient_id": ids[rows["patient"]],
            "treatment": labels(Treatment)[rows["treatment"]],
            "line": line,
            "start_date": iso_dates(rows["start"]),
            "end_date": iso_dates(rows["end"]),
            "dose_mg_day": rows["dose"],
        }
    )


def raw_tables(patients: Patients, n_sites: int) -> dict[str, pd.DataFrame]:
    """The four tables; with several sites, each starts with a `site` column."""
    ids = patient_ids(patients, n_sites)
    tables = {
        "patients": patients_table(patients, ids),
        "liver_metastases": liver_metastases_table(patients, ids),
        "treatments": treatments_table(patients, ids),
        "follow_up": follow_up_table(patients, ids),
    }
    if n_sites <= 1:
        return tables
    site_of_patient = site_names(patients["site"]).astype(object)
    return {
        name: with_site(df, site_of_patient[pd.Index(ids).get_indexer(df["patient_id"])]) for name, df in tables.items()
    }


def with_site(table: pd.DataFrame, site: np.ndarray) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"site": site}, index=table.index), table], axis=1)


def write_table(df: pd.DataFrame, path: Path, fmt: str) -> None:
    if fmt == "csv":
        # Measurements keep one decimal ("12.0"); doses print as prescribed ("400", "37.5").
        # "\n" line ends give identical bytes on every platform.
        if "dose_mg_day" in df.columns:
            dose = df["dose_mg_day"].to_numpy(float)
            uniq, inv = np.unique(dose, return_inverse=True)
            text = np.array(["" if np.isnan(v) else f"{v:g}" for v in uniq], dtype=object)
            df = df.assign(dose_mg_day=text[inv.reshape(-1)])
        df.to_csv(path, index=False, encoding="utf-8", lineterminator="\n", float_format="%.1f")
    elif fmt == "parquet":
        df.to_parquet(path, index=False)
    else:
        raise ValueError(f"unknown format {fmt!r} (csv or parquet)")


def write_site_folders(tables: dict[str, pd.DataFrame], out: Path, fmt: str) -> list[Path]:
    """One folder per hospital, each a plain single-site extract (contract columns only), and
    sites.yaml: the workflow's `sites` config for them (--configfile out/sites.yaml)."""
    written, sites = [], []
    for site in sorted(tables["patients"]["site"].unique()):
        folder = out / f"site_{site[1:]}"
        folder.mkdir(exist_ok=True)
        paths = {name: folder / f"{name}.{fmt}" for name in TABLES}
        for name, path in paths.items():
            df = tables[name]
            write_table(df.loc[df["site"] == site, TABLE_COLUMNS[name]].reset_index(drop=True), path, fmt)
            written.append(path)
        sites.append({"name": site, **{name: str(path) for name, path in paths.items()}})
    path = out / "sites.yaml"
    path.write_text(yaml.safe_dump({"sites": sites}, sort_keys=False), encoding="utf-8")
    return [*written, path]


def write_extract(tables: dict[str, pd.DataFrame], truth: dict, out_dir, fmt: str = "csv") -> list[Path]:
    """Write {out_dir}/{table}.{fmt} (or one site_XX/ folder per site) and truth.json."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if "site" in tables["patients"].columns:
        written = write_site_folders(tables, out, fmt)
    else:
        written = []
        for name in TABLES:
            path = out / f"{name}.{fmt}"
            write_table(tables[name][TABLE_COLUMNS[name]], path, fmt)
            written.append(path)
    path = out / "truth.json"
    path.write_text(json.dumps(truth, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    return [*written, path]
