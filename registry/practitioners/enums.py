"""The registration domain's vocabularies. Pure: the commands, the models and the API all use these."""

from __future__ import annotations

from enum import StrEnum


class InstitutionKind(StrEnum):
    MEDICAL_INSTITUTION = "MEDICAL_INSTITUTION"  # 定点医疗机构, codes H…
    RETAIL_PHARMACY = "RETAIL_PHARMACY"  # 定点零售药店, codes P…


class PractitionerCategory(StrEnum):
    PHYSICIAN = "PHYSICIAN"
    NURSE = "NURSE"
    PHARMACIST = "PHARMACIST"
    MEDICAL_TECHNICIAN = "MEDICAL_TECHNICIAN"
    THERAPIST = "THERAPIST"
    SETTLEMENT_REVIEWER = "SETTLEMENT_REVIEWER"
    PHARMACY_PRINCIPAL = "PHARMACY_PRINCIPAL"
