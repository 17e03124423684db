"""The one place where the API translates: GraphQL inputs into commands, domain field paths into GraphQL paths,
domain objects into GraphQL types, and the arguments of queries (moments, years, page sizes, cursors, codes looked
up as given) into checked values.

Inputs and commands share their field names (snake_case in Python; strawberry camel-cases them in the schema), so
the translation is by name, with no field copied by hand.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import typing
from datetime import datetime
from typing import Any, TypeVar

from strawberry.utils.str_converters import to_camel_case

from registry import checks
from registry.clock import cst_date
from registry.errors import Code, Path, Problem

C = TypeVar("C")
T = TypeVar("T")


def command(kind: type[C], source: object, **given: Any) -> C:
    """The command (a dataclass) whose fields the strawberry input `source` carries under the same names, and `given`
    supplies; a list of inputs becomes a tuple of commands of the annotated type."""
    hints = _hints(typing.cast(type, kind))
    return kind(**{n: given[n] if n in given else _value(hints[n], getattr(source, n)) for n in hints})


def _value(kind: Any, value: object) -> object:
    if typing.get_origin(kind) is tuple and isinstance(value, list):
        item = typing.get_args(kind)[0]
        if isinstance(item, type) and dataclasses.is_dataclass(item):
            return tuple(command(item, v) for v in value)
        return tuple(value)
    return value


def graphql_path(field: Path | None) -> list[str] | None:
    """`("entries", 0, "points")` → `["input", "entries", "0", "points"]`; `()`, the whole command, → `["input"]`."""
    if field is None:
        return None
    return ["input", *(to_camel_case(part) if isinstance(part, str) else str(part) for part in field)]


def argument_path(field: Path | None) -> list[str] | None:
    """A query's argument path: `("checks", 3, "practitioner_code")` → `["checks", "3", "practitionerCode"]`."""
    if field is None:
        return None
    return [to_camel_case(part) if isinstance(part, str) else str(part) for part in field]


def output(kind: type[T], source: object, **given: Any) -> T:
    """The GraphQL type `kind` filled from `source`'s attributes of the same names, and from `given`."""
    return kind(**{n: given[n] if n in given else getattr(source, n) for n in _init_fields(typing.cast(type, kind))})


# Eligibility batches shape thousands of answers: read each class's fields once.


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    """A command's fields and their annotated types, in order."""
    hints = typing.get_type_hints(kind)
    return {f.name: hints[f.name] for f in dataclasses.fields(kind)}


@functools.cache
def _init_fields(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(kind) if f.init)


# ---- the arguments of queries ----------------------------------------------------------------------------------

MAX_PAGE = 500
FIRST_YEAR, LAST_YEAR = checks.EARLIEST_DAY.year, checks.LATEST_DAY.year
# A code looked up as given (an eligibility check, `practitioner(code:)`): longer than this is never a code.
MAX_CODE = 64
MAX_CURSOR = 32  # base64 of a row id below 2^63 takes 28 characters
_MAX_ID = 2**63 - 1  # PostgreSQL's bigint


def page_size(first: int, *field: str | int) -> Problem | None:
    if not 1 <= first <= MAX_PAGE:
        return Problem(Code.INVALID_INPUT, f"{_name(field)} must be 1 to {MAX_PAGE}", field)
    return None


def year(value: int, *field: str | int) -> Problem | None:
    if not FIRST_YEAR <= value <= LAST_YEAR:
        return Problem(Code.INVALID_INPUT, f"{_name(field)} must be {FIRST_YEAR} to {LAST_YEAR}", field)
    return None


def moment(value: datetime | None, *field: str | int) -> Problem | None:
    """A moment whose calendar day in China lies within the registry's calendar (a naive one is China time)."""
    if value is None:
        return None
    try:
        day = cst_date(value)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 has no day in China time
        day = None
    if day is None or checks.day(day) is not None:
        message = f"{_name(field)} must lie between {checks.EARLIEST_DAY} and {checks.LATEST_DAY} (China time)"
        return Problem(Code.INVALID_INPUT, message, field)
    return None


def code(value: str, *field: str | int) -> Problem | None:
    """A code that is looked up as given (an unknown one is an answer, not an error): short and printable."""
    if len(value) > MAX_CODE:
        return Problem(Code.INVALID_INPUT, f"{_name(field)} is longer than {MAX_CODE} characters", field)
    return checks.printable(value, *field)


def cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(str(row_id).encode()).decode()


def cursor_id(value: str | None) -> int | None:
    """The row id a cursor of `cursor` names; None for no cursor, or for one this API never gave."""
    if value is None or len(value) > MAX_CURSOR:
        return None
    try:
        decoded = base64.urlsafe_b64decode(value.encode("ascii"))
    except (UnicodeEncodeError, binascii.Error, ValueError):
        return None
    if not decoded.isdigit():
        return None
    row_id = int(decoded)
    return row_id if 1 <= row_id <= _MAX_ID else None


def after(value: str | None, *field: str | int) -> Problem | None:
    if value is not None and cursor_id(value) is None:
        return Problem(Code.INVALID_INPUT, f"`{_name(field)}` is not a cursor from this list", field)
    return None


def _name(field: Path) -> str:
    return to_camel_case(str(field[-1])) if field else "the value"
