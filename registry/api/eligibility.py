"""Eligibility queries: one check, or a batch in one SQL statement."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import strawberry
from graphql import GraphQLError

from registry import access, clock
from registry.disclosures import DisclosureKind
from registry.eligibility import service
from registry.errors import Code, Problem

from . import mapping
from .common import allow, refuse
from .context import Info
from .enums import QualificationStatus, SanctionKind, SanctionState
from .mapping import output


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

    @classmethod
    def of(cls, sanction: object) -> Sanction:
        """From a stored sanction, or from the sanction in force that an eligibility answer names."""
        return output(cls, sanction)


@strawberry.type
class Eligibility:
    practitioner_code: str
    institution_code: str | None
    at: datetime
    eligible: bool
    status: QualificationStatus
    affiliated: bool | None = strawberry.field(description="Null when no institution was given.")
    eligible_again_on: date | None
    sanction: Sanction | None
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


@strawberry.input
class EligibilityCheckInput:
    practitioner_code: str
    institution_code: str | None = None
    at: datetime | None = strawberry.field(
        default=None, description="Default: now. Its day in China time must lie between 1900-01-01 and 2100-12-31."
    )
    emergency: bool | None = False


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
    @strawberry.field(description="Was the practitioner eligible for insurance payment at `at` (default: now)?")
    async def eligibility(
        self,
        info: Info,
        practitioner_code: str,
        institution_code: str | None = None,
        at: datetime | None = None,
        emergency: bool | None = False,
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
        "batches as variables ($checks), not inline."
    )
    async def eligibilities(self, info: Info, checks: list[EligibilityCheckInput]) -> list[Eligibility]:
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
