"""Input checks for commands. Each returns a problem or None, so that a command can run every check and report
every mistake in one answer; `field` is the domain path of the value checked.

Every string a command carries is checked, codes by their format and texts by `text` or `printable`: control
characters (NUL included) and unpaired surrogates are refused everywhere; free texts (a decision's behaviour, a
statement, a reason, an activity) may also hold tabs and line breaks. Every date lies within `EARLIEST_DAY` to
`LATEST_DAY`, so that date arithmetic (suspension ends, re-registration bars) and PostgreSQL never overflow.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from registry.errors import Code, Path, Problem
from registry.validation import is_institution_code, is_practitioner_code, is_region_code, is_resident_id

# C0 and C1 controls, DEL, and surrogates (a lone one cannot be encoded as UTF-8: PostgreSQL would refuse it).
_NOT_IN_A_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_IN_A_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")  # tab, LF and CR allowed

EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2100, 12, 31)
# amountInvolved is stored as numeric(16, 2): yuan with at most 2 decimals, below 10^14.
MAX_AMOUNT = Decimal("99999999999999.99")
CENT = Decimal("0.01")


def _label(field: Path) -> str:
    return str(field[-1]).replace("_", " ") if field else "the value"


def _bad_character(value: str, lines: bool) -> str | None:
    found = (_NOT_IN_A_TEXT if lines else _NOT_IN_A_LINE).search(value)
    return None if found is None else f"U+{ord(found.group()):04X}"


def printable(value: str, *field: str | int, lines: bool = False) -> Problem | None:
    """No control character (NUL included) and no unpaired surrogate; tabs and line breaks only if `lines`."""
    if (bad := _bad_character(value, lines)) is not None:
        allowed = " (tabs and line breaks are allowed)" if lines else ""
        message = f"{_label(field)} contains {bad}, a control character or an unpaired surrogate{allowed}"
        return Problem(Code.INVALID_INPUT, message, field)
    return None


def text(value: str, limit: int, *field: str | int, lines: bool = False) -> Problem | None:
    """1 to `limit` characters, not only spaces, printable (see `printable`)."""
    if not value.strip() or len(value) > limit:
        return Problem(Code.INVALID_INPUT, f"{_label(field)} must be 1 to {limit} characters", field)
    return printable(value, *field, lines=lines)


def day(value: date | None, *field: str | int) -> Problem | None:
    if value is not None and not EARLIEST_DAY <= value <= LATEST_DAY:
        return Problem(Code.INVALID_INPUT, f"{_label(field)} must lie between {EARLIEST_DAY} and {LATEST_DAY}", field)
    return None


def not_future(value: date | None, today: date, *field: str | int) -> Problem | None:
    if value is not None and value > today:
        return Problem(Code.DATE_IN_FUTURE, f"{_label(field)} {value} is after today ({today})", field)
    return day(value, *field)


def amount(value: Decimal | None, *field: str | int) -> Problem | None:
    """An amount of money in yuan: 0 to 99,999,999,999,999.99, at most 2 decimals."""
    if value is None:
        return None
    if not value.is_finite() or not 0 <= value <= MAX_AMOUNT:
        return Problem(Code.INVALID_INPUT, f"{_label(field)} must be between 0 and {MAX_AMOUNT} yuan", field)
    if value != value.quantize(CENT):
        return Problem(
            Code.INVALID_INPUT, f'{_label(field)} has more than 2 decimals; send a string such as "12345.60"', field
        )
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
