"""Eligibility queries: one check, or a batch in one SQL statement."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError

from registry import access, clock
from registry.disclosures import DisclosureKind
from registry.eligibility import service
from registry.errors import Code, Problem

from . import mapping
from .common import INSTITUTION_CODE, PRACTITIONER_CODE, REGION_CODE, allow, refuse
from .context import Info
from .enums import QualificationStatus, SanctionKind, SanctionState
from .mapping import output

# The arguments of `eligibility` and the fields of `EligibilityCheckInput`: one check, said once.
CHECKED_CODE = (
    f"The practitioner's national code ({PRACTITIONER_CODE}). Looked up as given: a code nobody registered is answered NOT_REGISTERED; longer than "
    f"{mapping.MAX_CODE} characters or with control characters, INVALID_INPUT."
)
AT_INSTITUTION = (
    f"The institution that provided the service ({INSTITUTION_CODE}): the person must be affiliated with it on that "
    "day, and its region's policy decides the emergency exception. Null: no affiliation is checked and the person's "
    "region's policy applies."
)
AT = (
    "The moment of the service (default: now). Its day in China time must lie between 1900-01-01 and 2100-12-31, "
    "else INVALID_INPUT."
)
EMERGENCY = (
    "Emergency or rescue care (急诊、抢救): eligible during a suspension, and during a termination where the policy "
    "says so."
)


@strawberry.type(description="A suspension or termination of insurance payment qualification.")
class Sanction:
    practitioner_code: str = strawberry.field(description="Whom it concerns: the practitioner's code.")
    kind: SanctionKind = strawberry.field(description="SUSPENSION or TERMINATION.")
    state: SanctionState = strawberry.field(
        description="Whether it stands: VALID, LIFTED (reviewed away) or SUPERSEDED (replaced)."
    )
    starts_on: date = strawberry.field(
        description="The first day without payment qualification: the decision date (`decidedOn`) of the decision "
        "that brought it."
    )
    ends_on: date | None = strawberry.field(
        description="The last day of a suspension (inclusive): a suspension of N months from a start day S ends on "
        "S + N months − 1 day (2025-03-10 + 4 months → 2025-07-09). Null for a termination."
    )
    reregistration_allowed_from: date | None = strawberry.field(
        description="A termination's first day on which the person may be registered again: the start day plus 1 year "
        "for an accumulated 12 points, or plus 3 years when a single decision gave 12 points. Null for a suspension."
    )
    case_number: str = strawberry.field(description="The case number of the decision that brought it.")
    region_code: str = strawberry.field(description=f"The bureau that decided it: its region ({REGION_CODE}).")
    policy_version: str = strawberry.field(
        description="The version of the policy under which it was derived (Policy.version)."
    )

    @classmethod
    def of(cls, sanction: object) -> Sanction:
        """From a stored sanction, or from the sanction in force that an eligibility answer names."""
        return output(cls, sanction)


@strawberry.type(
    description="Whether a practitioner could be paid for by the insurance fund at a moment, at an institution if one "
    "was given: what a billing system asks before settling a service."
)
class Eligibility:
    practitioner_code: str = strawberry.field(description="The practitioner asked about, as asked.")
    institution_code: str | None = strawberry.field(description="The institution asked about; null when none was.")
    at: datetime = strawberry.field(description="The moment asked about, as asked (now when none was).")
    eligible: bool = strawberry.field(
        description="True only when the person is registered, affiliated with `institutionCode` at `at` (when an "
        "institution is given), and no suspension or termination is in force at `at`. During a suspension "
        "`emergency: true` makes it true; policy decides whether that also holds during a termination."
    )
    status: QualificationStatus = strawberry.field(description="The qualification status at `at`.")
    affiliated: bool | None = strawberry.field(
        description="Whether the person is affiliated with `institutionCode` on the day of `at`; null when no "
        "institution was given."
    )
    eligible_again_on: date | None = strawberry.field(
        description="The first day of eligibility after a running suspension (its `endsOn` + 1 day), otherwise null."
    )
    sanction: Sanction | None = strawberry.field(
        description="The suspension or termination in force at `at` (a termination outranks a suspension); null when "
        "none is, or the person is not registered."
    )
    policy_version: str | None = strawberry.field(
        description="The policy that answered: of the institution's region when an institution is given (it decides "
        "the emergency exception), else of the practitioner's region, on that day; null when not registered."
    )

    @strawberry.field(
        description="True when a peer of this node is STALE, UNREACHABLE or HALTED: the answer may miss another "
        "province's latest sanctions, and a billing system may choose to fail closed."
    )
    async def degraded(self, info: Info) -> bool:
        return await info.context.degraded()

    @classmethod
    def of(cls, answer: service.Answer) -> Eligibility:
        # Written out rather than copied by name: a batch shapes thousands of these per request.
        c, s = answer.check, answer.sanction
        return cls(
            practitioner_code=c.practitioner_code,
            institution_code=c.institution_code,
            at=c.at,
            eligible=answer.eligible,
            status=answer.status,
            affiliated=answer.affiliated,
            eligible_again_on=answer.eligible_again_on,
            sanction=None if s is None else Sanction.of(s),
            policy_version=answer.policy_version,
        )


@strawberry.input(description="One eligibility check of a batch; its fields mean what `eligibility`'s arguments do.")
class EligibilityCheckInput:
    practitioner_code: str = strawberry.field(description=CHECKED_CODE)
    institution_code: str | None = strawberry.field(default=None, description=AT_INSTITUTION)
    at: datetime | None = strawberry.field(default=None, description=AT)
    emergency: bool | None = strawberry.field(default=False, description=EMERGENCY)


def _check_input(kind: type, value: Mapping[str, Any], context: object) -> EligibilityCheckInput:
    """One check as graphql-core coerced it (its scalars parsed, its defaults filled in): built directly, where
    strawberry would resolve each field's annotation again for each of a batch's thousands of checks."""
    return kind(  # type: ignore[no-any-return]
        practitioner_code=value["practitionerCode"],
        institution_code=value.get("institutionCode"),
        at=value.get("at"),
        emergency=value.get("emergency", False),
    )


EligibilityCheckInput.__strawberry_definition__.from_input = _check_input  # type: ignore[attr-defined]


def _check_problem(practitioner: str, institution: str | None, at: datetime | None, *path: str | int) -> Problem | None:
    """A code that is not one is answered NOT_REGISTERED; only what no lookup can take is refused."""
    return (
        mapping.code(practitioner, *path, "practitioner_code")
        or (None if institution is None else mapping.code(institution, *path, "institution_code"))
        or mapping.moment(at, *path, "at")
    )


@strawberry.type
class EligibilityQuery:
    @strawberry.field(
        description="Was the practitioner eligible for insurance payment at `at` (default: now)? For national, "
        "bureaus, institutions and regulators, about anyone (the status is shared nationwide); a practitioner gets "
        "FORBIDDEN and reads their own `status` on their record. Each answer is disclosed to the person "
        "(`myDisclosures`)."
    )
    async def eligibility(
        self,
        info: Info,
        practitioner_code: Annotated[str, strawberry.argument(description=CHECKED_CODE)],
        institution_code: Annotated[str | None, strawberry.argument(description=AT_INSTITUTION)] = None,
        at: Annotated[datetime | None, strawberry.argument(description=AT)] = None,
        emergency: Annotated[bool | None, strawberry.argument(description=EMERGENCY)] = False,
    ) -> Eligibility:
        refuse(_check_problem(practitioner_code, institution_code, at))
        c = info.context
        allow(access.check_eligibility(c.actor))
        check = service.Check(practitioner_code, institution_code, at or clock.now(), bool(emergency))
        answer = Eligibility.of(await c.eligibility.load(check))
        await c.services.disclosures.record(c.actor, DisclosureKind.ELIGIBILITY, [practitioner_code])
        return answer

    @strawberry.field(
        description="Many checks in one request (a claims batch or a roster), answered in order. A request asks at "
        "most REGISTRY_MAX_BATCH_CHECKS (10,000) checks over all its fields, else TOO_MANY_CHECKS; send large "
        "batches as variables ($checks), not inline. Who may ask, and the errors, as for `eligibility`."
    )
    async def eligibilities(
        self,
        info: Info,
        checks: Annotated[
            list[EligibilityCheckInput],
            strawberry.argument(
                description="The checks, answered in this order; a mistake in one (INVALID_INPUT, with "
                "`extensions.field` naming it) refuses the whole batch."
            ),
        ],
    ) -> list[Eligibility]:
        refuse(
            *(_check_problem(c.practitioner_code, c.institution_code, c.at, "checks", i) for i, c in enumerate(checks))
        )
        c = info.context
        allow(access.check_eligibility(c.actor))
        limit = c.services.max_batch_checks
        if len(checks) > limit:
            raise GraphQLError(service.too_many_checks(len(checks), limit), extensions={"code": Code.TOO_MANY_CHECKS})
        now = clock.now()
        batch = [service.Check(x.practitioner_code, x.institution_code, x.at or now, bool(x.emergency)) for x in checks]
        # One statement for the batch, straight from the service: a DataLoader would add a future per check.
        answers = [Eligibility.of(a) for a in await service.check(c.db, c.policies, batch)]
        await c.services.disclosures.record(
            c.actor, DisclosureKind.ELIGIBILITIES, [x.practitioner_code for x in checks]
        )
        return answers
