"""Data dictionary of the raw hospital extract: one pandera model per table.

A reader learns the input format from this file alone. Ingestion uses the models to know
which columns are required and which type each one is converted to; validation runs them
lazily so that every failure is collected with its row and column.
"""

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

YES_NO = ["yes", "no"]
TKI_DRUGS = ["imatinib", "sunitinib", "regorafenib", "ripretinib", "avapritinib"]
LOCAL_TREATMENTS = ["hepatic_resection", "rfa", "tace"]


class RawTable(pa.DataFrameModel):
    """Shared settings: extra columns are ignored, types are converted by ingestion."""

    patient_id: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})

    class Config:
        strict = False
        coerce = False


class Patients(RawTable):
    """`patients`: one row per patient, the primary tumour."""

    patient_id: Series[str] = pa.Field(nullable=False, unique=True, str_length={"min_value": 1})
    sex: Series[str] = pa.Field(isin=["M", "F"])
    birth_date: Series[pd.Timestamp] = pa.Field(nullable=False)
    primary_site: Series[str] = pa.Field(
        isin=["stomach", "small_intestine", "colorectum", "esophagus", "other"], nullable=True
    )
    primary_diagnosis_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    # free text: GIST or another histology, which eligibility excludes
    primary_pathology: Series[str] = pa.Field(nullable=False)
    primary_size_cm: Series[float] = pa.Field(nullable=True, gt=0, le=60)
    mitotic_count: Series[float] = pa.Field(nullable=True, ge=0, le=500)
    mutation: Series[str] = pa.Field(isin=["KIT_exon11", "KIT_exon9", "PDGFRA", "wild_type", "unknown"], nullable=True)
    other_malignancy: Series[str] = pa.Field(isin=YES_NO)


class LiverMetastases(RawTable):
    """`liver_metastases`: one row per patient, status at liver-metastasis diagnosis."""

    lm_diagnosis_date: Series[pd.Timestamp] = pa.Field(nullable=False)
    lm_evidence: Series[str] = pa.Field(isin=["biopsy", "imaging", "none"])
    lm_count: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=1, le=200)
    lm_max_size_cm: Series[float] = pa.Field(nullable=True, gt=0, le=40)
    lm_bilobar: Series[str] = pa.Field(isin=YES_NO, nullable=True)
    extrahepatic_disease: Series[str] = pa.Field(isin=YES_NO, nullable=True)
    ecog: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0, le=4)
    total_bilirubin_umol_l: Series[float] = pa.Field(nullable=True, ge=0, le=1000)
    alt_u_l: Series[float] = pa.Field(nullable=True, ge=0, le=10000)
    creatinine_umol_l: Series[float] = pa.Field(nullable=True, gt=0, le=3000)
    neutrophils_1e9_l: Series[float] = pa.Field(nullable=True, ge=0, le=100)
    platelets_1e9_l: Series[float] = pa.Field(nullable=True, ge=0, le=2000)
    hemoglobin_g_l: Series[float] = pa.Field(nullable=True, ge=10, le=250)


class Treatments(RawTable):
    """`treatments`: long, one row per TKI line or liver procedure."""

    treatment: Series[str] = pa.Field(isin=TKI_DRUGS + LOCAL_TREATMENTS)
    # TKI line number; empty for procedures
    line: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=1, le=10)
    start_date: Series[pd.Timestamp] = pa.Field(nullable=False)
    # empty while a drug is ongoing
    end_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    dose_mg_day: Series[float] = pa.Field(nullable=True, gt=0, le=1000)


class FollowUp(RawTable):
    """`follow_up`: one row per patient, the latest vital status."""

    last_contact_date: Series[pd.Timestamp] = pa.Field(nullable=False)
    vital_status: Series[str] = pa.Field(isin=["alive", "dead", "lost"])
    death_date: Series[pd.Timestamp] = pa.Field(nullable=True)


RAW_TABLES: dict[str, type[RawTable]] = {
    "patients": Patients,
    "liver_metastases": LiverMetastases,
    "treatments": Treatments,
    "follow_up": FollowUp,
}


def column_types(table: str) -> dict[str, str]:
    """Contract columns of a raw table with their pandas dtype name, in contract order."""
    schema = RAW_TABLES[table].to_schema()
    return {name: str(column.dtype) for name, column in schema.columns.items()}


def allowed_codes(table: str) -> dict[str, list[str]]:
    """Code lists of a table's categorical columns, used to canonicalise their spelling."""
    codes = {}
    for name, column in RAW_TABLES[table].to_schema().columns.items():
        for check in column.checks:
            values = check.statistics.get("allowed_values")
            if values is not None:
                codes[name] = list(values)
    return codes
