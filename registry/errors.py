"""Domain errors with stable codes, and the input checks that produce them.

Services raise `UserErrors`; the API returns them as `userErrors` data. A problem names its field by a domain
path (`("entries", 0, "points")`); the API translates it into the caller's terms.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from registry.validation import is_institution_code, is_practitioner_code, is_region_code


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


def raise_if(problems: Iterable[Problem | None]) -> None:
    """End the use case before it writes anything, reporting every problem found."""
    if at_fault := found(*problems):
        raise UserErrors(at_fault)


# Input checks: each returns a problem or None, so that a command can list every check and report every mistake
# in one answer.


def _label(field: Path) -> str:
    return str(field[-1]).replace("_", " ")


def check_text(value: str, limit: int, *field: str | int) -> Problem | None:
    if not value.strip() or len(value) > limit:
        return Problem(Code.INVALID_INPUT, f"{_label(field)} must be 1 to {limit} characters", field)
    return None


def check_not_future(value: date | None, today: date, *field: str | int) -> Problem | None:
    if value is not None and value > today:
        return Problem(Code.DATE_IN_FUTURE, f"{_label(field)} {value} is after today ({today})", field)
    return None


def check_region(code: str, *field: str | int) -> Problem | None:
    if not is_region_code(code):
        return Problem(Code.INVALID_CODE, "a region code is 6 digits (GB/T 2260)", field)
    return None


def check_institution_code(code: str, *field: str | int, message: str = "not an institution code") -> Problem | None:
    if not is_institution_code(code):
        return Problem(Code.INVALID_CODE, message, field)
    return None


def check_practitioner_code(code: str, *field: str | int, message: str = "not a practitioner code") -> Problem | None:
    if not is_practitioner_code(code):
        return Problem(Code.INVALID_CODE, message, field)
    return None


def check_points(points: int | None, *field: str | int) -> Problem | None:
    if points is not None and not 1 <= points <= 12:
        return Problem(Code.POINTS_OUT_OF_RANGE, "one decision gives 1 to 12 points", field)
    return None


def check_months(months: int | None, *field: str | int) -> Problem | None:
    if months is not None and not 1 <= months <= 6:
        return Problem(Code.SUSPENSION_MONTHS_OUT_OF_RANGE, "suspension months are 1 to 6", field)
    return None


def check_distinct(values: Sequence[str], message: str, *field: str | int) -> Problem | None:
    if len(set(values)) != len(values):
        return Problem(Code.INVALID_INPUT, message, field)
    return None


def check_that(condition: bool, message: str, *field: str | int) -> Problem | None:
    """An INVALID_INPUT problem unless `condition` holds."""
    return None if condition else Problem(Code.INVALID_INPUT, message, field)
