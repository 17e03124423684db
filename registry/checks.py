"""Input checks for commands. Each returns a problem or None, so that a command can run every check and report
every mistake in one answer; `field` is the domain path of the value checked."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from registry.errors import Code, Path, Problem
from registry.validation import is_institution_code, is_practitioner_code, is_region_code, is_resident_id


def _label(field: Path) -> str:
    return str(field[-1]).replace("_", " ")


def text(value: str, limit: int, *field: str | int) -> Problem | None:
    if not value.strip() or len(value) > limit:
        return Problem(Code.INVALID_INPUT, f"{_label(field)} must be 1 to {limit} characters", field)
    return None


def not_future(value: date | None, today: date, *field: str | int) -> Problem | None:
    if value is not None and value > today:
        return Problem(Code.DATE_IN_FUTURE, f"{_label(field)} {value} is after today ({today})", field)
    return None


def region(code: str, *field: str | int) -> Problem | None:
    if not is_region_code(code):
        return Problem(Code.INVALID_CODE, "a region code is 6 digits (GB/T 2260)", field)
    return None


def institution_code(code: str, *field: str | int, message: str = "not an institution code") -> Problem | None:
    if not is_institution_code(code):
        return Problem(Code.INVALID_CODE, message, field)
    return None


def practitioner_code(code: str, *field: str | int, message: str = "not a practitioner code") -> Problem | None:
    if not is_practitioner_code(code):
        return Problem(Code.INVALID_CODE, message, field)
    return None


def resident_id(number: str, *field: str | int) -> Problem | None:
    if not is_resident_id(number):
        return Problem(Code.INVALID_ID_NUMBER, "not a valid 18-character resident ID number", field)
    return None


def points(value: int | None, *field: str | int) -> Problem | None:
    if value is not None and not 1 <= value <= 12:
        return Problem(Code.POINTS_OUT_OF_RANGE, "one decision gives 1 to 12 points", field)
    return None


def months(value: int | None, *field: str | int) -> Problem | None:
    if value is not None and not 1 <= value <= 6:
        return Problem(Code.SUSPENSION_MONTHS_OUT_OF_RANGE, "suspension months are 1 to 6", field)
    return None


def distinct(values: Sequence[str], message: str, *field: str | int) -> Problem | None:
    if len(set(values)) != len(values):
        return Problem(Code.INVALID_INPUT, message, field)
    return None


def that(condition: bool, message: str, *field: str | int) -> Problem | None:
    """An INVALID_INPUT problem unless `condition` holds."""
    return None if condition else Problem(Code.INVALID_INPUT, message, field)
