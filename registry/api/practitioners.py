"""Institutions, practitioners and their registration."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from registry import clock
from registry.disclosures import DisclosureKind
from registry.eligibility import service as eligibility
from registry.points import queries as points
from registry.points.records import PersonYear
from registry.practitioners import affiliations, commands, institutions, queries, registration
from registry.practitioners import models as rows

from . import mapping
from .common import UserError, answer, attempt, refuse
from .context import Info
from .eligibility import Sanction
from .enums import InstitutionKind, PractitionerCategory, QualificationStatus, RecordState, Responsibility
from .mapping import command, output

Year = Annotated[
    int,
    strawberry.argument(
        description=f"A calendar year, {mapping.FIRST_YEAR} to {mapping.LAST_YEAR}; any other is INVALID_INPUT."
    ),
]


async def _year(info: Info, code: str, year: int) -> PersonYear:
    refuse(mapping.year(year, "year"))
    return await info.context.person_years.load((code, year))


@strawberry.type
class Institution:
    code: str
    name: str
    kind: InstitutionKind
    region_code: str


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
    state: RecordState


@strawberry.type
class Practitioner:
    code: str
    name: str
    category: PractitionerCategory
    region_code: str
    id_number_masked: str = strawberry.field(description="The resident ID, masked; it is never stored in clear.")

    @classmethod
    def of(cls, row: rows.Practitioner) -> Practitioner:
        return output(cls, row, id_number_masked=row.id_masked)

    @strawberry.field(description="Qualification status now.")
    async def status(self, info: Info) -> QualificationStatus:
        # Through the request's loader: several people's statuses are one statement.
        return (await info.context.eligibility.load(eligibility.Check(self.code, None, clock.now()))).status

    @strawberry.field
    async def affiliations(self, info: Info) -> list[Affiliation]:
        return [output(Affiliation, a) for a in await info.context.affiliations.load(self.code)]

    @strawberry.field(description="The year's total after revocations, amendments and restorations.")
    async def points(self, info: Info, year: Year) -> int:
        return (await _year(info, self.code, year)).outcome.total

    @strawberry.field(
        description="Whether the year's points call for an interview and close supervision by the institution "
        "(where the policy has such a threshold, e.g. 6 in Tianjin). No payment effect."
    )
    async def interview_required(self, info: Info, year: Year) -> bool:
        return (await _year(info, self.code, year)).outcome.interview_required

    @strawberry.field
    async def point_records(self, info: Info, year: Year) -> list[PointRecord]:
        return [output(PointRecord, r) for r in (await _year(info, self.code, year)).records]

    @strawberry.field(description="Every sanction, in every state.")
    async def sanctions(self, info: Info) -> list[Sanction]:
        return [Sanction.of(s) for s in await info.context.sanctions.load(self.code)]


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
        refuse(mapping.code(code, "code"))
        read = points.practitioner(info.context.db, code, actor=info.context.actor, today=clock.today())
        row = await answer(read)
        await info.context.services.disclosures.record(info.context.actor, DisclosureKind.PRACTITIONER, [code])
        return None if row is None else Practitioner.of(row)

    @strawberry.field
    async def institution(self, info: Info, code: str) -> Institution | None:
        refuse(mapping.code(code, "code"))
        row = await answer(queries.institution(info.context.db, code, actor=info.context.actor))
        return None if row is None else output(Institution, row)


@strawberry.type
class PractitionerMutation:
    @strawberry.mutation(description="A bureau or the institution itself registers a designated institution.")
    async def register_institution(self, info: Info, input: RegisterInstitutionInput) -> RegisterInstitutionPayload:
        c = info.context
        cmd = command(commands.RegisterInstitution, input)
        row, errors = await attempt(institutions.register_institution(c.db, cmd, actor=c.actor, node=c.node))
        return RegisterInstitutionPayload(
            institution=None if row is None else output(Institution, row), user_errors=errors
        )

    @strawberry.mutation(description="Register a practitioner (登记备案) at one or more institutions.")
    async def register_practitioner(self, info: Info, input: RegisterPractitionerInput) -> PractitionerPayload:
        c = info.context
        cmd = command(commands.RegisterPractitioner, input)
        use_case = registration.register_practitioner(c.db, cmd, actor=c.actor, node=c.node, today=clock.today())
        row, errors = await attempt(use_case)
        return PractitionerPayload(practitioner=None if row is None else Practitioner.of(row), user_errors=errors)

    @strawberry.mutation(description="Affiliate a registered practitioner with one more institution (多点执业).")
    async def add_affiliation(self, info: Info, input: AddAffiliationInput) -> AffiliationPayload:
        c = info.context
        cmd = command(commands.AddAffiliation, input)
        use_case = affiliations.add_affiliation(c.db, cmd, actor=c.actor, node=c.node, today=clock.today())
        row, errors = await attempt(use_case)
        return AffiliationPayload(affiliation=None if row is None else output(Affiliation, row), user_errors=errors)

    @strawberry.mutation(description="End a practitioner's affiliation with an institution.")
    async def end_affiliation(self, info: Info, input: EndAffiliationInput) -> AffiliationPayload:
        c = info.context
        cmd = command(commands.EndAffiliation, input)
        row, errors = await attempt(affiliations.end_affiliation(c.db, cmd, actor=c.actor, node=c.node))
        return AffiliationPayload(affiliation=None if row is None else output(Affiliation, row), user_errors=errors)

    @strawberry.mutation(description="End a practitioner's registration and every affiliation.")
    async def deregister_practitioner(self, info: Info, input: DeregisterPractitionerInput) -> PractitionerPayload:
        c = info.context
        cmd = command(commands.DeregisterPractitioner, input)
        row, errors = await attempt(registration.deregister_practitioner(c.db, cmd, actor=c.actor, node=c.node))
        return PractitionerPayload(practitioner=None if row is None else Practitioner.of(row), user_errors=errors)
