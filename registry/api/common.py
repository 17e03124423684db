"""Types and helpers shared by every part of the schema: user errors, and running a use case."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import strawberry
from graphql import GraphQLError

from registry.access import Verdict
from registry.errors import Code, Problem, UserErrors

from .enums import expose
from .mapping import argument_path, graphql_path

# The shapes of codes, which many descriptions state: said the same way everywhere.
PRACTITIONER_CODE = "1 to 20 letters and digits, kept as text, e.g. D520201000001"
INSTITUTION_CODE = "H for a medical institution or P for a pharmacy, then 11 digits, e.g. H52020100001"
REGION_CODE = "6 digits of GB/T 2260, e.g. 520201; the first two are the province"
USER_ERRORS = (
    "What the caller must fix, each with a stable code; empty on success. When not empty, nothing was written."
)

ErrorCode = expose(
    Code,
    "UserErrorCode",
    "Stable, machine-readable error codes: a mutation's `userErrors[].code`, or a query's `errors[].extensions.code` "
    "(with `extensions.field` when an argument is at fault). Branch on the code, not on the message.",
    {
        Code.INVALID_INPUT: "A value is out of its range or shape: a text's length or characters, a date outside "
        "1900-01-01 to 2100-12-31, a page size or cursor, a field missing or contradicting another.",
        Code.INVALID_CODE: "A code lacks its format: a region is 6 digits of GB/T 2260, an institution H or P and 11 "
        "digits (H for medical institutions, P for pharmacies), a practitioner 1 to 20 letters and digits.",
        Code.INVALID_ID_NUMBER: "Not a valid 18-character resident ID (region, birth date, check character).",
        Code.POINTS_OUT_OF_RANGE: "One decision gives a person 1 to 12 points.",
        Code.SUSPENSION_MONTHS_OUT_OF_RANGE: "A suspension lasts 1 to 6 months.",
        Code.UNKNOWN_PRACTITIONER: "No practitioner with this code is known to this node.",
        Code.UNKNOWN_INSTITUTION: "No institution with this code is registered.",
        Code.UNKNOWN_POINT_RECORD: "The case (caseNumber of regionCode) gave this practitioner no points.",
        Code.UNKNOWN_AFFILIATION: "The practitioner is not affiliated with this institution on that day.",
        Code.DUPLICATE_CASE_NUMBER: "The deciding bureau's case number was recorded with other content (the same "
        "content again returns the stored decision).",
        Code.ALREADY_REGISTERED: "Already registered: the code is taken with other details or by another person, the "
        "person is registered under another code, or the affiliation already runs.",
        Code.NOT_REGISTERED: "The practitioner has no registration covering the day given.",
        Code.REREGISTRATION_BARRED: "A running suspension or termination, or a termination's bar, of this person "
        "(under any code) forbids registering them until the day the message names.",
        Code.DATE_IN_FUTURE: "A date of something done (registered, affiliated from, decided, conduct, reviewed, "
        "restored) is after today in China.",
        Code.POINT_RECORD_REVOKED: "The point record was revoked; it takes no more objections or reviews.",
        Code.RESTORATION_NOT_ALLOWED: "The granting bureau's policy has no points restoration (记分修复).",
        Code.RESTORATION_AFTER_TERMINATION: "The person is terminated, and the policy allows no restoration after a "
        "termination.",
        Code.RESTORATION_CAP_EXCEEDED: "The restoration would pass the policy's yearly cap of restored points (4 in "
        "Tianjin).",
        Code.TOO_MANY_CHECKS: "The request asks more eligibility checks, over all its fields, than "
        "REGISTRY_MAX_BATCH_CHECKS (10,000 by default).",
        Code.FORBIDDEN: "The caller's role and scope may not do this (the README's access matrix); nothing was read "
        "or written.",
        Code.WRONG_NODE: "The fact belongs to another node: its region is served by another province's node, or the "
        "case was decided there (file objections and reviews at that node).",
        Code.INVALID_QUERY: "The document does not parse or validate against this schema, or is too deep, too long or "
        "has too many aliases.",
        Code.BAD_REQUEST: "The HTTP body is not a GraphQL request (HTTP 400).",
        Code.UNAUTHENTICATED: "No bearer token, or one this node does not accept: expired, revoked, or badly signed "
        "(HTTP 401).",
        Code.PAYLOAD_TOO_LARGE: "The body is over REGISTRY_MAX_BODY_BYTES (HTTP 413).",
        Code.RATE_LIMITED: "The token has spent its rate; retry after `extensions.retryAfter` seconds (HTTP 429 with "
        "Retry-After).",
        Code.UNAVAILABLE: "The database cannot be reached; retry later (HTTP 503 with Retry-After).",
    },
)


@strawberry.type(description="A failure the caller caused. Nothing was written.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault (["input", "entries", "0", "points"]); ["input"] when the '
        "input as a whole is, null when no field is (FORBIDDEN)."
    )
    message: str = strawberry.field(description="What went wrong, in English, for a person to read; may change.")
    code: ErrorCode = strawberry.field(  # type: ignore[valid-type]
        description="What went wrong, for a program: stable."
    )


T = TypeVar("T")


def user_errors(exc: UserErrors) -> list[UserError]:
    return [UserError(field=graphql_path(p.field), message=p.message, code=p.code) for p in exc.problems]


async def attempt(use_case: Awaitable[T]) -> tuple[T | None, list[UserError]]:
    """Run one use case; turn the failures a user caused into `userErrors` data."""
    try:
        return await use_case, []
    except UserErrors as exc:
        return None, user_errors(exc)


def query_error(problem: Problem) -> GraphQLError:
    """A query's failure: its stable code and, when an argument is at fault, that argument's path."""
    extensions: dict[str, object] = {"code": str(problem.code)}
    if problem.field:
        extensions["field"] = argument_path(problem.field)
    return GraphQLError(problem.message, extensions=extensions)


def refuse(*problems: Problem | None) -> None:
    """Refuse a query whose arguments are wrong, naming the first at fault."""
    for problem in problems:
        if problem is not None:
            raise query_error(problem)


async def answer(read: Awaitable[T]) -> T:
    """Run a read; a failure the caller caused becomes a GraphQL error carrying its stable code."""
    try:
        return await read
    except UserErrors as exc:
        raise query_error(exc.problems[0]) from None


def allow(verdict: Verdict) -> None:
    """Refuse a query the actor may not make, as a GraphQL error with the code FORBIDDEN."""
    if verdict is not None:
        raise query_error(verdict)
