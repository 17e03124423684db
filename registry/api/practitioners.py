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
from .common import INSTITUTION_CODE, PRACTITIONER_CODE, REGION_CODE, USER_ERRORS, UserError, answer, attempt, refuse
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


LOOKED_UP = f"Looked up as given; longer than {mapping.MAX_CODE} characters or with control characters, INVALID_INPUT."
READERS = (
    "national, regulators, bureaus of the person's region or that scored them, the institutions they are affiliated "
    "with today, and the person"
)
STAFF_MANAGERS = "National, a bureau covering the institution's region, or the institution itself"


async def _year(info: Info, code: str, year: int) -> PersonYear:
    refuse(mapping.year(year, "year"))
    return await info.context.person_years.load((code, year))


@strawberry.type(description="A designated institution (定点医药机构). Its name and region are public.")
class Institution:
    code: str = strawberry.field(description=f"Its national code: {INSTITUTION_CODE}.")
    name: str = strawberry.field(description="Its registered name.")
    kind: InstitutionKind = strawberry.field(description="Medical institution (H…) or retail pharmacy (P…).")
    region_code: str = strawberry.field(
        description=f"Its region ({REGION_CODE}): the bureaus covering it manage its staff and decide its cases."
    )


@strawberry.type(
    description="A period in which a practitioner practises at an institution; several may run at once (多点执业)."
)
class Affiliation:
    institution_code: str = strawberry.field(description=f"The institution: {INSTITUTION_CODE}.")
    starts_on: date = strawberry.field(description="The first day of the affiliation.")
    ends_on: date | None = strawberry.field(
        description="The last day of the affiliation (inclusive); null while it runs."
    )


@strawberry.type(description="One person's points in one decision, as it stands after objections and reviews.")
class PointRecord:
    case_number: str = strawberry.field(description="The decision's case number, unique within `regionCode`.")
    region_code: str = strawberry.field(description=f"The deciding bureau's region ({REGION_CODE}).")
    practitioner_code: str = strawberry.field(description="The person scored.")
    points: int = strawberry.field(
        description="1 to 12: as decided, or the amended value after an AMENDED review. A REVOKED record's points no "
        "longer count."
    )
    responsibility: Responsibility = strawberry.field(description="The person's degree of responsibility, as decided.")
    decided_on: date = strawberry.field(description="The decision date: the points count in its calendar year.")
    state: RecordState = strawberry.field(
        description="VALID, DISPUTED (an objection is pending; the points still count) or REVOKED."
    )


@strawberry.type(
    description=f"A practitioner's record (相关人员). Read by {READERS}; every read is disclosed to the person "
    "(`myDisclosures`)."
)
class Practitioner:
    code: str = strawberry.field(description=f"The national code: {PRACTITIONER_CODE}.")
    name: str = strawberry.field(description="The name, as registered.")
    category: PractitionerCategory = strawberry.field(description="The person's role at their institutions.")
    region_code: str = strawberry.field(
        description=f"The region the person is registered in ({REGION_CODE}): its bureaus read, deregister and "
        "restore them."
    )
    id_number_masked: str = strawberry.field(
        description="The resident ID, masked: its first 4 and last 4 characters (5201**********123X); it is never "
        "stored in clear."
    )

    @classmethod
    def of(cls, row: rows.Practitioner) -> Practitioner:
        return output(cls, row, id_number_masked=row.id_masked)

    @strawberry.field(
        description="Qualification status now (China time), as an eligibility check with no institution "
        "would answer it."
    )
    async def status(self, info: Info) -> QualificationStatus:
        # Through the request's loader: several people's statuses are one statement.
        return (await info.context.eligibility.load(eligibility.Check(self.code, None, clock.now()))).status

    @strawberry.field(description="Every affiliation, past and current, in order of their first day.")
    async def affiliations(self, info: Info) -> list[Affiliation]:
        return [output(Affiliation, a) for a in await info.context.affiliations.load(self.code)]

    @strawberry.field(
        description="The year's total after revocations, amendments and restorations (0 for a year without points). "
        "Points count in the calendar year of the decision date and reset on 1 January."
    )
    async def points(self, info: Info, year: Year) -> int:
        return (await _year(info, self.code, year)).outcome.total

    @strawberry.field(
        description="Whether the year's points call for an interview and close supervision by the institution "
        "(where the policy has such a threshold, e.g. 6 in Tianjin). No payment effect."
    )
    async def interview_required(self, info: Info, year: Year) -> bool:
        return (await _year(info, self.code, year)).outcome.interview_required

    @strawberry.field(
        description="The point records of the decisions dated in that year, in every state, in decision order."
    )
    async def point_records(self, info: Info, year: Year) -> list[PointRecord]:
        return [output(PointRecord, r) for r in (await _year(info, self.code, year)).records]

    @strawberry.field(description="Every sanction, in every state, in order of their first day.")
    async def sanctions(self, info: Info) -> list[Sanction]:
        return [Sanction.of(s) for s in await info.context.sanctions.load(self.code)]


@strawberry.input(description="A designated institution to register.")
class RegisterInstitutionInput:
    code: str = strawberry.field(
        description=f"{INSTITUTION_CODE}; its first letter must agree with `kind`. Else INVALID_CODE."
    )
    name: str = strawberry.field(description="1 to 200 characters, else INVALID_INPUT.")
    kind: InstitutionKind = strawberry.field(description="Medical institution (H…) or retail pharmacy (P…).")
    region_code: str = strawberry.field(
        description=f"Its region ({REGION_CODE}), else INVALID_CODE. An institution registering itself states the "
        "region its code names (its characters 2 to 7)."
    )


@strawberry.input(description="A person to register (登记备案) at one or more institutions.")
class RegisterPractitionerInput:
    code: str = strawberry.field(
        description=f"The national code ({PRACTITIONER_CODE}), else INVALID_CODE; one that belongs to another person "
        "is ALREADY_REGISTERED."
    )
    name: str = strawberry.field(description="1 to 100 characters, else INVALID_INPUT.")
    id_number: str = strawberry.field(
        description="18-character resident ID; checksum verified (else INVALID_ID_NUMBER), never stored in clear. The "
        "same person registered under another code is ALREADY_REGISTERED."
    )
    category: PractitionerCategory = strawberry.field(description="The person's role.")
    region_code: str = strawberry.field(
        description=f"The person's region ({REGION_CODE}; else INVALID_CODE). Its bureaus read, deregister and "
        "restore them; it must lie within the caller's jurisdiction, or within the registering institution's region "
        "(else FORBIDDEN)."
    )
    institution_codes: list[str] = strawberry.field(
        description="The institutions' codes, H or P and 11 digits (else INVALID_CODE): at least one, each once (else "
        "INVALID_INPUT), each registered (else UNKNOWN_INSTITUTION). The person is affiliated with each from "
        "`registeredOn`."
    )
    registered_on: date = strawberry.field(
        description="The first day of the registration; not after today (DATE_IN_FUTURE). A running suspension, "
        "termination or re-registration bar of the person is REREGISTRATION_BARRED."
    )


@strawberry.input(description="One more institution for a registered practitioner (多点执业).")
class AddAffiliationInput:
    practitioner_code: str = strawberry.field(
        description="The practitioner's code; registered on `startsOn` (else UNKNOWN_PRACTITIONER or NOT_REGISTERED)."
    )
    institution_code: str = strawberry.field(
        description=f"The institution ({INSTITUTION_CODE}); registered, else UNKNOWN_INSTITUTION. An affiliation "
        "with it that runs on `startsOn` or later is ALREADY_REGISTERED."
    )
    starts_on: date = strawberry.field(description="The first day; not after today (DATE_IN_FUTURE).")


@strawberry.input(description="Ends the affiliation that covers `endsOn`, on that day.")
class EndAffiliationInput:
    practitioner_code: str = strawberry.field(description=f"The practitioner's code ({PRACTITIONER_CODE}).")
    institution_code: str = strawberry.field(
        description=f"The institution ({INSTITUTION_CODE}); registered, else UNKNOWN_INSTITUTION."
    )
    ends_on: date = strawberry.field(
        description="The last day of the affiliation; no affiliation covering it is UNKNOWN_AFFILIATION."
    )


@strawberry.input(description="Ends the registration that covers `endsOn`, on that day.")
class DeregisterPractitionerInput:
    practitioner_code: str = strawberry.field(
        description="A known practitioner (else UNKNOWN_PRACTITIONER) registered on `endsOn` (else NOT_REGISTERED)."
    )
    ends_on: date = strawberry.field(description="The last day of the registration.")
    reason: str = strawberry.field(description="Why: 1 to 2000 characters, line breaks allowed.")


@strawberry.type(description="What `registerInstitution` did.")
class RegisterInstitutionPayload:
    institution: Institution | None = strawberry.field(
        description="The institution as registered; null when `userErrors` is not empty."
    )
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What `registerPractitioner` or `deregisterPractitioner` did.")
class PractitionerPayload:
    practitioner: Practitioner | None = strawberry.field(
        description="The practitioner's record after the change; null when `userErrors` is not empty."
    )
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What `addAffiliation` or `endAffiliation` did.")
class AffiliationPayload:
    affiliation: Affiliation | None = strawberry.field(
        description="The affiliation added or ended; null when `userErrors` is not empty."
    )
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type
class PractitionerQuery:
    @strawberry.field(
        description=f"A practitioner's record, for {READERS}; others get FORBIDDEN. Null when no one has this code "
        "(national and regulators learn it; others get FORBIDDEN)."
    )
    async def practitioner(
        self,
        info: Info,
        code: Annotated[str, strawberry.argument(description=f"The national code ({PRACTITIONER_CODE}). {LOOKED_UP}")],
    ) -> Practitioner | None:
        refuse(mapping.code(code, "code"))
        read = points.practitioner(info.context.db, code, actor=info.context.actor, today=clock.today())
        row = await answer(read)
        await info.context.services.disclosures.record(info.context.actor, DisclosureKind.PRACTITIONER, [code])
        return None if row is None else Practitioner.of(row)

    @strawberry.field(description="A designated institution, for any caller; null when none has this code.")
    async def institution(
        self,
        info: Info,
        code: Annotated[str, strawberry.argument(description=f"{INSTITUTION_CODE}. {LOOKED_UP}")],
    ) -> Institution | None:
        refuse(mapping.code(code, "code"))
        row = await answer(queries.institution(info.context.db, code, actor=info.context.actor))
        return None if row is None else output(Institution, row)


@strawberry.type
class PractitionerMutation:
    @strawberry.mutation(
        description="Register a designated institution (定点医药机构): national, a bureau covering its region, or the "
        "institution itself (in the region its code names). The same again returns it and "
        "changes nothing; other details under its code are ALREADY_REGISTERED."
    )
    async def register_institution(
        self,
        info: Info,
        input: Annotated[RegisterInstitutionInput, strawberry.argument(description="The institution.")],
    ) -> RegisterInstitutionPayload:
        c = info.context
        cmd = command(commands.RegisterInstitution, input)
        row, errors = await attempt(institutions.register_institution(c.db, cmd, actor=c.actor, node=c.node))
        return RegisterInstitutionPayload(
            institution=None if row is None else output(Institution, row), user_errors=errors
        )

    @strawberry.mutation(
        description="Register a practitioner (登记备案) at one or more institutions: national, a bureau covering the "
        "institutions and the person's region, or an institution registering its own staff."
    )
    async def register_practitioner(
        self, info: Info, input: Annotated[RegisterPractitionerInput, strawberry.argument(description="The person.")]
    ) -> PractitionerPayload:
        c = info.context
        cmd = command(commands.RegisterPractitioner, input)
        use_case = registration.register_practitioner(c.db, cmd, actor=c.actor, node=c.node, today=clock.today())
        row, errors = await attempt(use_case)
        return PractitionerPayload(practitioner=None if row is None else Practitioner.of(row), user_errors=errors)

    @strawberry.mutation(
        description=f"Affiliate a registered practitioner with one more institution (多点执业). {STAFF_MANAGERS}."
    )
    async def add_affiliation(
        self, info: Info, input: Annotated[AddAffiliationInput, strawberry.argument(description="The affiliation.")]
    ) -> AffiliationPayload:
        c = info.context
        cmd = command(commands.AddAffiliation, input)
        use_case = affiliations.add_affiliation(c.db, cmd, actor=c.actor, node=c.node, today=clock.today())
        row, errors = await attempt(use_case)
        return AffiliationPayload(affiliation=None if row is None else output(Affiliation, row), user_errors=errors)

    @strawberry.mutation(description=f"End a practitioner's affiliation with an institution. {STAFF_MANAGERS}.")
    async def end_affiliation(
        self, info: Info, input: Annotated[EndAffiliationInput, strawberry.argument(description="The affiliation.")]
    ) -> AffiliationPayload:
        c = info.context
        cmd = command(commands.EndAffiliation, input)
        row, errors = await attempt(affiliations.end_affiliation(c.db, cmd, actor=c.actor, node=c.node))
        return AffiliationPayload(affiliation=None if row is None else output(Affiliation, row), user_errors=errors)

    @strawberry.mutation(
        description="End a practitioner's registration and every affiliation: national or a bureau covering the "
        "person's region. A running suspension still runs to its end."
    )
    async def deregister_practitioner(
        self,
        info: Info,
        input: Annotated[DeregisterPractitionerInput, strawberry.argument(description="The registration to end.")],
    ) -> PractitionerPayload:
        c = info.context
        cmd = command(commands.DeregisterPractitioner, input)
        row, errors = await attempt(registration.deregister_practitioner(c.db, cmd, actor=c.actor, node=c.node))
        return PractitionerPayload(practitioner=None if row is None else Practitioner.of(row), user_errors=errors)
