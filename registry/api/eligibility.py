"""Eligibility queries: one check, or a batch in one SQL statement."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum

import strawberry
from graphql import GraphQLError

from registry import clock
from registry.eligibility import service
from registry.errors import Code

from .context import Info

QualificationStatus = strawberry.enum(service.Status, name="QualificationStatus")


@strawberry.enum
class SanctionKind(Enum):
    SUSPENSION = "SUSPENSION"
    TERMINATION = "TERMINATION"


@strawberry.enum
class SanctionState(Enum):
    VALID = "VALID"
    LIFTED = "LIFTED"
    SUPERSEDED = "SUPERSEDED"


@strawberry.type(description="A suspension or termination of insurance payment qualification.")
class Sanction:
    practitioner_code: str
    kind: SanctionKind
    state: SanctionState
    starts_on: date = strawberry.field(description="The first day without payment qualification.")
    ends_on: date | None = strawberry.field(description="The last day of a suspension; null for a termination.")
    reregistration_allowed_from: date | None
    case_number: str = strawberry.field(description="The decision that brought it.")
    region_code: str = strawberry.field(description="The bureau that decided it.")
    policy_version: str = strawberry.field(description="The policy under which it was derived.")


@strawberry.type
class Eligibility:
    practitioner_code: str
    institution_code: str | None
    at: datetime
    eligible: bool
    status: QualificationStatus  # type: ignore[valid-type]
    affiliated: bool | None = strawberry.field(description="Null when no institution was given.")
    eligible_again_on: date | None
    sanction: Sanction | None
    policy_version: str | None = strawberry.field(
        description="The policy that answered (the practitioner's region, on that day); null when not registered."
    )


@strawberry.input
class EligibilityCheckInput:
    practitioner_code: str
    institution_code: str | None = None
    at: datetime | None = None
    emergency: bool | None = False


def _eligibility(answer: service.Answer) -> Eligibility:
    c, s = answer.check, answer.sanction
    return Eligibility(
        practitioner_code=c.practitioner_code,
        institution_code=c.institution_code,
        at=c.at,
        eligible=answer.eligible,
        status=answer.status,
        affiliated=answer.affiliated,
        eligible_again_on=answer.eligible_again_on,
        sanction=None
        if s is None
        else Sanction(
            practitioner_code=c.practitioner_code,
            kind=SanctionKind(s.kind),
            state=SanctionState(s.state),
            starts_on=s.starts_on,
            ends_on=s.ends_on,
            reregistration_allowed_from=s.reregistration_allowed_from,
            case_number=s.case_number,
            region_code=s.region_code,
            policy_version=s.policy_version,
        ),
        policy_version=answer.policy_version,
    )


def _forbid_unless_allowed(info: Info) -> None:
    actor = info.context.actor
    if not actor.may_check_eligibility:
        raise GraphQLError(f"{actor.subject} may not check eligibility", extensions={"code": Code.FORBIDDEN})


async def _check(info: Info, checks: list[service.Check]) -> list[Eligibility]:
    services = info.context.services
    answers = await service.check(services.db, services.policies, checks)
    return [_eligibility(a) for a in answers]


@strawberry.type
class EligibilityQuery:
    @strawberry.field(description="Was the practitioner eligible for insurance payment at `at` (default: now)?")
    async def eligibility(
        self,
        info: Info,
        practitioner_code: str,
        institution_code: str | None = None,
        at: datetime | None = None,
        emergency: bool | None = False,
    ) -> Eligibility:
        _forbid_unless_allowed(info)
        check = service.Check(practitioner_code, institution_code, at or clock.now(), bool(emergency))
        return (await _check(info, [check]))[0]

    @strawberry.field(description="Many checks in one request (a claims batch or a roster), answered in order.")
    async def eligibilities(self, info: Info, checks: list[EligibilityCheckInput]) -> list[Eligibility]:
        _forbid_unless_allowed(info)
        limit = info.context.services.max_batch_checks
        if len(checks) > limit:
            raise GraphQLError(
                f"{len(checks)} checks in one request; at most {limit}",
                extensions={"code": Code.TOO_MANY_CHECKS},
            )
        now = clock.now()
        return await _check(
            info,
            [service.Check(c.practitioner_code, c.institution_code, c.at or now, bool(c.emergency)) for c in checks],
        )
