"""The domain's enums, exposed to GraphQL as they are: one enum per concept, from the API to the database."""

from __future__ import annotations

import strawberry

from registry.auth import Role
from registry.disclosures import DisclosureKind
from registry.eligibility.service import QualificationStatus
from registry.points.enums import DecisionBasis, RecordState, Responsibility, ReviewOutcome, SanctionKind, SanctionState
from registry.practitioners.enums import InstitutionKind, PractitionerCategory

# strawberry.enum registers each class in place and returns it: the API's types annotate with the domain classes.
for enum, name in (
    (InstitutionKind, "InstitutionKind"),
    (PractitionerCategory, "PractitionerCategory"),
    (DecisionBasis, "DecisionBasis"),
    (Responsibility, "Responsibility"),
    (ReviewOutcome, "ReviewOutcome"),
    (RecordState, "PointRecordState"),
    (SanctionKind, "SanctionKind"),
    (SanctionState, "SanctionState"),
    (QualificationStatus, "QualificationStatus"),
    (Role, "Role"),
    (DisclosureKind, "DisclosureKind"),
):
    strawberry.enum(enum, name=name)

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
]
