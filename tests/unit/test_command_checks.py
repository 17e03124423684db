"""Every string and every date of every command is checked: generated from the commands' own fields, so that a
field added without a check fails here."""

from __future__ import annotations

import dataclasses
import inspect
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest

from registry import checks
from registry.errors import Code
from registry.points import commands as pc
from registry.points.enums import ReviewOutcome, SanctionKind
from registry.practitioners import commands as rc
from registry.practitioners.enums import InstitutionKind, PractitionerCategory
from tests import factories as f
from tests.samples import decision

TODAY = date(2025, 12, 31)
P, H = "D520201000001", "H52020100001"
KEY = {"case_number": "C-1", "region_code": "520201", "practitioner_code": P}
VALID: list[Any] = [
    rc.RegisterInstitution(H, "医院", InstitutionKind.MEDICAL_INSTITUTION, "520201"),
    rc.RegisterPractitioner(
        P, "张医生", f.resident_id(), PractitionerCategory.PHYSICIAN, "520201", (H,), date(2024, 6, 1)
    ),
    rc.AddAffiliation(P, H, date(2025, 1, 1)),
    rc.EndAffiliation(P, H, date(2025, 6, 1)),
    rc.DeregisterPractitioner(P, date(2025, 6, 1), "退休"),
    decision(amount_involved=Decimal("12.50"), conduct_from=date(2025, 1, 1), conduct_to=date(2025, 2, 1)),
    pc.FileObjection(**KEY, statement="我没有参与"),
    pc.ReviewPoints(**KEY, outcome=ReviewOutcome.UPHELD, reviewed_on=date(2025, 4, 1), reason="复核维持"),
    pc.RecordRestoration(P, "520201", "培训", date(2025, 5, 1)),
    pc.ListCriteria("520000", H, date(2025, 1, 1), date(2025, 12, 31), SanctionKind.SUSPENSION),
]


def problems(command: Any) -> list[Any]:
    wants_today = "today" in inspect.signature(command.problems).parameters
    return list(command.problems(TODAY) if wants_today else command.problems())


def leaves(command: Any, kinds: tuple[type, ...], path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """The paths of the command's values of these kinds (in nested commands and tuples too); enums (StrEnums are
    strings too) are the schema's to check."""
    found: list[tuple[str | int, ...]] = []
    for field in dataclasses.fields(command):
        value = getattr(command, field.name)
        here = (*path, field.name)
        items = list(enumerate(value)) if isinstance(value, tuple) else [(None, value)]
        for i, item in items:
            at = here if i is None else (*here, i)
            if dataclasses.is_dataclass(item):
                found += leaves(item, kinds, at)
            elif isinstance(item, kinds) and not isinstance(item, Enum):
                found.append(at)
    return found


def replaced(command: Any, path: tuple[str | int, ...], make: Any) -> Any:
    name, rest = path[0], path[1:]
    value = getattr(command, str(name))
    if not rest:
        return dataclasses.replace(command, **{str(name): make(value)})
    if isinstance(rest[0], int):
        i, rest = rest[0], rest[1:]
        item = value[i] if rest else make(value[i])
        items = list(value)
        items[i] = replaced(item, rest, make) if rest else item
        return dataclasses.replace(command, **{str(name): tuple(items)})
    return dataclasses.replace(command, **{str(name): replaced(value, rest, make)})


@pytest.mark.parametrize("command", VALID, ids=lambda c: type(c).__name__)
def test_the_samples_are_valid(command: Any) -> None:
    assert problems(command) == []


@pytest.mark.parametrize("command", VALID, ids=lambda c: type(c).__name__)
@pytest.mark.parametrize("poison", ["\x00", "\ud800", "\x1b", "\x9f", "\x7f"])
def test_every_string_refuses_control_characters(command: Any, poison: str) -> None:
    paths = leaves(command, (str,))
    assert paths
    for path in paths:
        found = problems(replaced(command, path, lambda v: v[:1] + poison + v[1:]))
        assert [p.field for p in found] == [path], (type(command).__name__, path, found)
        assert found[0].code in (Code.INVALID_INPUT, Code.INVALID_CODE, Code.INVALID_ID_NUMBER)


@pytest.mark.parametrize("command", VALID, ids=lambda c: type(c).__name__)
@pytest.mark.parametrize("day", [date(1, 1, 1), date(1899, 12, 31), date(2101, 1, 1), date(9999, 12, 31)])
def test_every_date_lies_within_the_calendar(command: Any, day: date) -> None:
    for path in leaves(command, (date,)):
        found = [p for p in problems(replaced(command, path, lambda _: day)) if p.field == path]
        assert found, (type(command).__name__, path)
        assert found[0].code in (Code.INVALID_INPUT, Code.DATE_IN_FUTURE)


def test_long_texts_may_break_lines_and_short_ones_may_not() -> None:
    assert checks.text("一\r\n\t二", 100, "behaviour", lines=True) is None
    problem = checks.text("一\n二", 100, "name")
    assert problem is not None and problem.field == ("name",) and "U+000A" in problem.message
