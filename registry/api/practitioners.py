"""Institutions, practitioners and their registration."""

from __future__ import annotations

from datetime import date
from enum import Enum

import strawberry
from graphql import GraphQLError

from registry import clock
from registry.eligibility import service as eligibility
from registry.errors import Code
from registry.points import service as points_service
from registry.points.models import Sanction as SanctionRow
from registry.practitioners import models, service

from .common import UserError, attempt
from .context import Info
from .eligibility import QualificationStatus, Sanction, SanctionKind, SanctionState


@strawberry.enum
class InstitutionKind(Enum):
    MEDICAL_INSTITUTION = "MEDICAL_INSTITUTION"
    RETAIL_PHARMACY = "RETAIL_PHARMACY"


@strawberry.enum
class PractitionerCategory(Enum):
    PHYSICIAN = "PHYSICIAN"
    NURSE = "NURSE"
    PHARMACIST = "PHARMACIST"
    MEDICAL_TECHNICIAN = "MEDICAL_TECHNICIAN"
    THERAPIST = "THERAPIST"
    SETTLEMENT_REVIEWER = "SETTLEMENT_REVIEWER"
    PHARMACY_PRINCIPAL = "PHARMACY_PRINCIPAL"


@strawberry.enum
class Responsibility(Enum):
    MAIN = "MAIN"
    IMPORTANT = "IMPORTANT"
    GENERAL = "GENERAL"


@strawberry.enum
class PointRecordState(Enum):
    VALID = "VALID"
    DISPUTED = "DISPUTED"
    REVOKED = "REVOKED"


@strawberry.type
class Institution:
    code: str
    name: str
    kind: InstitutionKind
    region_code: str

    @classmethod
    def of(cls, row: models.Institution) -> Institution:
        return cls(code=row.code, name=row.name, kind=InstitutionKind[row.kind], region_code=row.region_code)


@strawberry.type
class Affiliation:
    institution_code: str
    starts_on: date
    ends_on: date | None


@strawberry.type(description="One person's points in one decision, as it stands after objections and reviews.")
class PointRecord:
    case_number: str
    region_code: str
    practitioner_code: str
    points: int
    responsibility: Responsibility
    decided_on: date
    state: PointRecordState

    @classmethod
    def of(cls, view: points_service.RecordView) -> PointRecord:
        return cls(
            case_number=view.case_number,
            region_code=view.region_code,
            practitioner_code=view.practitioner_code,
            points=view.points,
            responsibility=Responsibility(view.responsibility),
            decided_on=view.decided_on,
            state=PointRecordState(str(view.state)),
        )


def sanction_of(row: SanctionRow) -> Sanction:
    return Sanction(
        practitioner_code=row.practitioner_code,
        kind=SanctionKind(row.kind),
        state=SanctionState(row.state),
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        reregistration_allowed_from=row.reregistration_allowed_from,
        case_number=row.case_number,
        region_code=row.region_code,
        policy_version=row.policy_version,
    )


@strawberry.type
class Practitioner:
    code: str
    name: str
    category: PractitionerCategory
    region_code: str
    id_number_masked: str = strawberry.field(description="The resident ID, masked; it is never stored in clear.")

    @classmethod
    def of(cls, row: models.Practitioner) -> Practitioner:
        return cls(
            code=row.code,
            name=row.name,
            category=PractitionerCategory[row.category],
            region_code=row.region_code,
            id_number_masked=row.id_masked,
        )

    @strawberry.field(description="Qualification status now.")
    async def status(self, info: Info) -> QualificationStatus:  # type: ignore[valid-type]
        services = info.context.services
        check = eligibility.Check(self.code, None, clock.now())
        return (await eligibility.check(services.db, services.policies, [check]))[0].status

    @strawberry.field
    async def affiliations(self, info: Info) -> list[Affiliation]:
        rows = await service.get_affiliations(info.context.services.db, self.code)
        return [
            Affiliation(institution_code=r.institution_code, starts_on=r.starts_on, ends_on=r.ends_on) for r in rows
        ]

    @strawberry.field(description="The year's total after revocations, amendments and restorations.")
    async def points(self, info: Info, year: int) -> int:
        services = info.context.services
        return await points_service.year_points(services.db, services.policies, self.code, year)

    @strawberry.field(
        description="Whether the year's points call for an interview and close supervision by the institution "
        "(where the policy has such a threshold, e.g. 6 in Tianjin). No payment effect."
    )
    async def interview_required(self, info: Info, year: int) -> bool:
        services = info.context.services
        outcome = await points_service.year_outcome(services.db, services.policies, self.code, year)
        return outcome is not None and outcome.interview_required

    @strawberry.field
    async def point_records(self, info: Info, year: int) -> list[PointRecord]:
        return [
            PointRecord.of(v) for v in await points_service.point_records(info.context.services.db, self.code, year)
        ]

    @strawberry.field(description="Every sanction, in every state.")
    async def sanctions(self, info: Info) -> list[Sanction]:
        return [sanction_of(s) for s in await points_service.sanctions_of(info.context.services.db, self.code)]


@strawberry.input
class RegisterInstitutionInput:
    code: str
    name: str
    kind: InstitutionKind
    region_code: str


@strawberry.input
class RegisterPractitionerInput:
    code: str
    name: str
    id_number: str = strawberry.field(description="18-character resident ID; checksum verified, never stored in clear.")
    category: PractitionerCategory
    region_code: str
    institution_codes: list[str]
    registered_on: date


@strawberry.input
class AddAffiliationInput:
    practitioner_code: str
    institution_code: str
    starts_on: date


@strawberry.input
class EndAffiliationInput:
    practitioner_code: str
    institution_code: str
    ends_on: date = strawberry.field(description="The last day of the affiliation.")


@strawberry.input
class DeregisterPractitionerInput:
    practitioner_code: str
    ends_on: date = strawberry.field(description="The last day of the registration.")
    reason: str


@strawberry.type
class RegisterInstitutionPayload:
    institution: Institution | None
    user_errors: list[UserError]


@strawberry.type
class PractitionerPayload:
    practitioner: Practitioner | None
    user_errors: list[UserError]


@strawberry.type
class AffiliationPayload:
    affiliation: Affiliation | None
    user_errors: list[UserError]


@strawberry.type
class PractitionerQuery:
    @strawberry.field
    async def practitioner(self, info: Info, code: str) -> Practitioner | None:
        if not info.context.actor.may_read_practitioner(code):
            raise GraphQLError(f"{info.context.actor.subject} may not read {code}", extensions={"code": Code.FORBIDDEN})
        row = await service.get_practitioner(info.context.services.db, code)
        return None if row is None else Practitioner.of(row)

    @strawberry.field
    async def institution(self, info: Info, code: str) -> Institution | None:
        row = await service.get_institution(info.context.services.db, code)
        return None if row is None else Institution.of(row)


@strawberry.type
class PractitionerMutation:
    @strawberry.mutation(description="A bureau or the institution itself registers a designated institution.")
    async def register_institution(self, info: Info, input: RegisterInstitutionInput) -> RegisterInstitutionPayload:
        s = info.context.services
        row, errors = await attempt(
            lambda: service.register_institution(
                s.db,
                node=s.node,
                actor=info.context.actor,
                code=input.code,
                name=input.name,
                kind=input.kind.value,
                region_code=input.region_code,
            )
        )
        return RegisterInstitutionPayload(institution=None if row is None else Institution.of(row), user_errors=errors)

    @strawberry.mutation(description="Register a practitioner (登记备案) at one or more institutions.")
    async def register_practitioner(self, info: Info, input: RegisterPractitionerInput) -> PractitionerPayload:
        s = info.context.services
        row, errors = await attempt(
            lambda: service.register_practitioner(
                s.db,
                node=s.node,
                actor=info.context.actor,
                today=clock.today(),
                code=input.code,
                name=input.name,
                id_number=input.id_number,
                category=input.category.value,
                region_code=input.region_code,
                institution_codes=input.institution_codes,
                registered_on=input.registered_on,
            )
        )
        return PractitionerPayload(practitioner=None if row is None else Practitioner.of(row), user_errors=errors)

    @strawberry.mutation(description="Affiliate a registered practitioner with one more institution (多点执业).")
    async def add_affiliation(self, info: Info, input: AddAffiliationInput) -> AffiliationPayload:
        s = info.context.services
        row, errors = await attempt(
            lambda: service.add_affiliation(
                s.db,
                node=s.node,
                actor=info.context.actor,
                today=clock.today(),
                practitioner_code=input.practitioner_code,
                institution_code=input.institution_code,
                starts_on=input.starts_on,
            )
        )
        return AffiliationPayload(affiliation=None if row is None else _affiliation(row), user_errors=errors)

    @strawberry.mutation(description="End a practitioner's affiliation with an institution.")
    async def end_affiliation(self, info: Info, input: EndAffiliationInput) -> AffiliationPayload:
        s = info.context.services
        row, errors = await attempt(
            lambda: service.end_affiliation(
                s.db,
                node=s.node,
                actor=info.context.actor,
                practitioner_code=input.practitioner_code,
                institution_code=input.institution_code,
                ends_on=input.ends_on,
            )
        )
        return AffiliationPayload(affiliation=None if row is None else _affiliation(row), user_errors=errors)

    @strawberry.mutation(description="End a practitioner's registration and every affiliation.")
    async def deregister_practitioner(self, info: Info, input: DeregisterPractitionerInput) -> PractitionerPayload:
        s = info.context.services
        row, errors = await attempt(
            lambda: service.deregister(
                s.db,
                node=s.node,
                actor=info.context.actor,
                practitioner_code=input.practitioner_code,
                ends_on=input.ends_on,
                reason=input.reason,
            )
        )
        return PractitionerPayload(practitioner=None if row is None else Practitioner.of(row), user_errors=errors)


def _affiliation(row: models.Affiliation) -> Affiliation:
    return Affiliation(institution_code=row.institution_code, starts_on=row.starts_on, ends_on=row.ends_on)
