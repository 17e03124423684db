"""The domain's enums, exposed to GraphQL as they are: one enum per concept, from the API to the database."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import Enum
from typing import TypeVar

import strawberry
from strawberry.types.enum import StrawberryEnumDefinition

from registry.auth import Role
from registry.disclosures import DisclosureKind
from registry.eligibility.service import QualificationStatus
from registry.points.enums import DecisionBasis, RecordState, Responsibility, ReviewOutcome, SanctionKind, SanctionState
from registry.practitioners.enums import InstitutionKind, PractitionerCategory

E = TypeVar("E", bound=Enum)


def expose(enum: type[E], name: str, description: str, values: Mapping[E, str]) -> type[E]:
    """`strawberry.enum`, with a description for the enum and one for each of its values. The domain's classes stay
    plain (`strawberry.enum_value` would have to live in them), so the values' descriptions are set here."""
    strawberry.enum(enum, name=name, description=description)
    definition: StrawberryEnumDefinition = enum.__strawberry_definition__  # type: ignore[attr-defined]
    if set(values) != set(enum):
        raise ValueError(f"{name}: describe exactly its values, not {sorted(str(v) for v in values)}")
    definition.values = [dataclasses.replace(v, description=values[enum[v.name]]) for v in definition.values]
    return enum


# strawberry.enum registers each class in place and returns it: the API's types annotate with the domain classes.
expose(
    InstitutionKind,
    "InstitutionKind",
    "What kind of designated institution (定点医药机构) it is; it fixes the first letter of the institution's code.",
    {
        InstitutionKind.MEDICAL_INSTITUTION: "A designated medical institution (定点医疗机构); its code starts with H.",
        InstitutionKind.RETAIL_PHARMACY: "A designated retail pharmacy (定点零售药店); its code starts with P.",
    },
)
expose(
    PractitionerCategory,
    "PractitionerCategory",
    "The person's role at their institutions (相关人员). Regulators are told of suspensions and terminations by "
    "category: the health authority (卫生健康部门) of medical, nursing and technical staff, the drug regulator (药监) "
    "of pharmacists and pharmacy principals.",
    {
        PractitionerCategory.PHYSICIAN: "A physician (医师).",
        PractitionerCategory.NURSE: "A nurse (护士).",
        PractitionerCategory.PHARMACIST: "A pharmacist (药师), in a medical institution or, where the province says so, "
        "a pharmacy.",
        PractitionerCategory.MEDICAL_TECHNICIAN: "A medical technician (医技人员).",
        PractitionerCategory.THERAPIST: "A rehabilitation therapist (康复治疗师).",
        PractitionerCategory.SETTLEMENT_REVIEWER: "Staff who review charges and settlements (医保结算审核人员).",
        PractitionerCategory.PHARMACY_PRINCIPAL: "The principal named on a retail pharmacy's drug-business licence "
        "(主要负责人).",
    },
)
expose(
    DecisionBasis,
    "DecisionBasis",
    "How the institution itself was sanctioned; people are scored only after one of these.",
    {
        DecisionBasis.ADMINISTRATIVE_PENALTY: "An administrative penalty (行政处罚).",
        DecisionBasis.AGREEMENT_HANDLING: "An agreement handling (协议处理) under the institution's service agreement.",
    },
)
expose(
    Responsibility,
    "Responsibility",
    "The person's degree of responsibility for the conduct, as the decision states it.",
    {
        Responsibility.MAIN: "Main responsibility (主要).",
        Responsibility.IMPORTANT: "Important responsibility (重要).",
        Responsibility.GENERAL: "General responsibility (一般).",
    },
)
expose(
    ReviewOutcome,
    "ReviewOutcome",
    "What a review (复核) decided about a point record. Any suspension or termination derived from it follows at "
    "once, everywhere it was sent.",
    {
        ReviewOutcome.UPHELD: "The points stand as decided; a DISPUTED record is VALID again.",
        ReviewOutcome.AMENDED: "The points (and, if given, the suspension months) become the review's; the record "
        "keeps its identity and is VALID.",
        ReviewOutcome.REVOKED: "The points no longer count. Final: the record takes no more objections or reviews.",
    },
)
expose(
    RecordState,
    "PointRecordState",
    "Where a point record stands after objections and reviews.",
    {
        RecordState.VALID: "The points count: as decided, upheld or amended.",
        RecordState.DISPUTED: "An objection (异议申诉) is pending; the points still count.",
        RecordState.REVOKED: "A review revoked it; its points no longer count.",
    },
)
expose(
    SanctionKind,
    "SanctionKind",
    "What a sanction does to the person's insurance payment qualification, wherever they practise.",
    {
        SanctionKind.SUSPENSION: "A suspension (暂停) of 1 to 6 months; under the national policy 9 to 11 points in a "
        "year bring one. Emergency and rescue care (急诊、抢救) stays billable where the policy allows it.",
        SanctionKind.TERMINATION: "A termination (终止): 12 or more points in a year under the national policy. It "
        "lasts until the person is registered again, from reregistrationAllowedFrom.",
    },
)
expose(
    SanctionState,
    "SanctionState",
    "Whether a sanction stands.",
    {
        SanctionState.VALID: "It stands as decided, whether its days are past, present or future.",
        SanctionState.LIFTED: "Its cause was reviewed away.",
        SanctionState.SUPERSEDED: "Replaced by a longer suspension or a termination.",
    },
)
expose(
    QualificationStatus,
    "QualificationStatus",
    "A person's insurance payment qualification (医保支付资格) on a day.",
    {
        QualificationStatus.NORMAL: "Registered, and no suspension or termination is in force.",
        QualificationStatus.SUSPENDED: "A suspension is in force.",
        QualificationStatus.TERMINATED: "A termination is in force.",
        QualificationStatus.NOT_REGISTERED: "No registration (登记备案) covers the day, or no one has this code.",
    },
)
expose(
    Role,
    "Role",
    "Whom a token speaks for; its scope (a region, an institution, a practitioner) narrows what it may do.",
    {
        Role.NATIONAL: "The national administration (国家医保局) and the node's operators: every region.",
        Role.BUREAU: "A medical-insurance bureau: the regions its code covers (520000 covers 52xxxx, 520200 covers "
        "5202xx).",
        Role.INSTITUTION: "A designated institution: itself and its current staff.",
        Role.PRACTITIONER: "A practitioner: themselves.",
        Role.REGULATOR: "A health or drug regulator: reads records, eligibility and listings everywhere; changes "
        "nothing.",
    },
)
expose(
    DisclosureKind,
    "DisclosureKind",
    "What a disclosure read.",
    {
        DisclosureKind.PRACTITIONER: "The record: name, masked ID, affiliations, points, sanctions (`practitioner`).",
        DisclosureKind.ELIGIBILITY: "One eligibility check (`eligibility`).",
        DisclosureKind.ELIGIBILITIES: "A batch of eligibility checks that named the practitioner (`eligibilities`).",
    },
)

__all__ = [
    "DecisionBasis",
    "DisclosureKind",
    "InstitutionKind",
    "PractitionerCategory",
    "QualificationStatus",
    "RecordState",
    "Responsibility",
    "ReviewOutcome",
    "Role",
    "SanctionKind",
    "SanctionState",
    "expose",
]
