"""Domain errors with stable codes.

Services raise `UserErrors`; the API returns them as `userErrors` data. A problem names its field by a domain
path (`("entries", 0, "points")`); the API translates it into the caller's terms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Code(StrEnum):
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_CODE = "INVALID_CODE"
    INVALID_ID_NUMBER = "INVALID_ID_NUMBER"
    POINTS_OUT_OF_RANGE = "POINTS_OUT_OF_RANGE"
    SUSPENSION_MONTHS_OUT_OF_RANGE = "SUSPENSION_MONTHS_OUT_OF_RANGE"
    UNKNOWN_PRACTITIONER = "UNKNOWN_PRACTITIONER"
    UNKNOWN_INSTITUTION = "UNKNOWN_INSTITUTION"
    UNKNOWN_POINT_RECORD = "UNKNOWN_POINT_RECORD"
    UNKNOWN_AFFILIATION = "UNKNOWN_AFFILIATION"
    DUPLICATE_CASE_NUMBER = "DUPLICATE_CASE_NUMBER"
    ALREADY_REGISTERED = "ALREADY_REGISTERED"
    NOT_REGISTERED = "NOT_REGISTERED"
    REREGISTRATION_BARRED = "REREGISTRATION_BARRED"
    DATE_IN_FUTURE = "DATE_IN_FUTURE"
    POINT_RECORD_REVOKED = "POINT_RECORD_REVOKED"
    RESTORATION_NOT_ALLOWED = "RESTORATION_NOT_ALLOWED"
    RESTORATION_AFTER_TERMINATION = "RESTORATION_AFTER_TERMINATION"
    RESTORATION_CAP_EXCEEDED = "RESTORATION_CAP_EXCEEDED"
    TOO_MANY_CHECKS = "TOO_MANY_CHECKS"
    FORBIDDEN = "FORBIDDEN"
    # The fact belongs to another node: its region is served elsewhere, or its record was issued elsewhere.
    WRONG_NODE = "WRONG_NODE"
    # Refusals of a request as a whole (GraphQL errors, with the HTTP status in brackets where it is not 200).
    INVALID_QUERY = "INVALID_QUERY"  # the document does not parse or validate, or is too deep, long or aliased
    BAD_REQUEST = "BAD_REQUEST"  # the body is not a GraphQL request (400)
    UNAUTHENTICATED = "UNAUTHENTICATED"  # no token, or one this node does not accept (401)
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"  # the body is over REGISTRY_MAX_BODY_BYTES (413)
    RATE_LIMITED = "RATE_LIMITED"  # the token has spent its rate; retry after `retryAfter` seconds (429)
    UNAVAILABLE = "UNAVAILABLE"  # the database cannot be reached; retry later (503)


# A field of a command: names, and positions in its lists. `()` is the command as a whole.
Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    code: Code
    message: str
    field: Path | None = None  # None: no field is at fault (e.g. FORBIDDEN)


class UserErrors(Exception):
    """Failures a caller caused. Raised inside a service transaction, so everything it wrote is rolled back."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(f"{p.code}: {p.message}" for p in problems))
        self.problems = list(problems)


def fail(code: Code, message: str, *field: str | int) -> UserErrors:
    """One problem at `field`; with no field given, the command as a whole is at fault."""
    return UserErrors([Problem(code, message, field)])


def found(*problems: Problem | None) -> list[Problem]:
    """The problems among the results of several checks."""
    return [p for p in problems if p is not None]


def raise_if(problems: Sequence[Problem]) -> None:
    """End the use case before it writes anything, reporting every problem found."""
    if problems:
        raise UserErrors(problems)
