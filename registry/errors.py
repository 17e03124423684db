"""Domain errors with stable codes. Services raise `UserErrors`; the API returns them as `userErrors` data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from registry.validation import is_region_code


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


@dataclass(frozen=True)
class Problem:
    code: Code
    message: str
    field: tuple[str, ...] | None = None


class UserErrors(Exception):
    """Failures a caller caused. Raised inside a service transaction, so everything it wrote is rolled back."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(f"{p.code}: {p.message}" for p in problems))
        self.problems = list(problems)


def fail(code: Code, message: str, *field: str) -> UserErrors:
    return UserErrors([Problem(code, message, field or None)])


class Forbidden(Exception):
    """A query outside the caller's scope (mutations report FORBIDDEN as a user error instead)."""


# Input checks that collect problems, so that a caller learns of every mistake in one answer.


def check_text(problems: list[Problem], value: str, limit: int, *field: str) -> None:
    if not value.strip() or len(value) > limit:
        problems.append(Problem(Code.INVALID_INPUT, f"{field[-1]} must be 1 to {limit} characters", field))


def check_not_future(problems: list[Problem], value: date | None, today: date, *field: str) -> None:
    if value is not None and value > today:
        problems.append(Problem(Code.DATE_IN_FUTURE, f"{field[-1]} {value} is after today ({today})", field))


def check_region(problems: list[Problem], code: str, *field: str) -> None:
    if not is_region_code(code):
        problems.append(Problem(Code.INVALID_CODE, "a region code is 6 digits (GB/T 2260)", field))


def raise_if(problems: list[Problem]) -> None:
    """End the use case before it writes anything."""
    if problems:
        raise UserErrors(problems)
