"""Commands check their own input, and name each mistake by its domain field path (snake_case, list positions as
integers); the API alone translates those paths into GraphQL's."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from registry.errors import Code
from registry.points.commands import DecisionEntry, FileObjection, RecordRestoration, ReviewPoints
from registry.points.enums import ReviewOutcome
from registry.practitioners.commands import (
    AddAffiliation,
    DeregisterPractitioner,
    EndAffiliation,
    RegisterInstitution,
    RegisterPractitioner,
)
from registry.practitioners.enums import InstitutionKind, PractitionerCategory
from tests import factories as f
from tests import samples

TODAY = date(2025, 6, 30)
P, Q = "D520201000001", "D520201000002"
DECISION = samples.decision()
REVIEW = ReviewPoints("C-1", "520201", P, ReviewOutcome.UPHELD, date(2025, 4, 1), "维持")
PERSON = RegisterPractitioner(
    code=P,
    name="张医生",
    id_number=f.resident_id(),
    category=PractitionerCategory.PHYSICIAN,
    region_code="520201",
    institution_codes=("H52020100001", "P52020100002"),
    registered_on=date(2024, 6, 1),
)


def found(problems: list[Any]) -> list[tuple[Code, tuple[str | int, ...] | None]]:
    return [(p.code, p.field) for p in problems]


def test_valid_commands_have_no_problems() -> None:
    assert DECISION.problems(TODAY) == []
    assert REVIEW.problems(TODAY) == []
    assert PERSON.problems(TODAY) == []
    assert FileObjection("C-1", "520201", P, "我没有参与").problems() == []
    assert RecordRestoration(P, "120101", "培训", TODAY).problems(TODAY) == []
    assert RegisterInstitution("P52020100002", "药店", InstitutionKind.RETAIL_PHARMACY, "520201").problems() == []
    assert AddAffiliation(P, "H52020100001", TODAY).problems(TODAY) == []
    assert EndAffiliation(P, "H52020100001", TODAY).problems() == []
    assert DeregisterPractitioner(P, TODAY, "left").problems() == []


def entries(*changes: dict[str, Any]) -> tuple[DecisionEntry, ...]:
    return tuple(dataclasses.replace(e, **c) for e, c in zip(DECISION.entries, changes, strict=True))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"case_number": " "}, [(Code.INVALID_INPUT, ("case_number",))]),
        ({"case_number": "C" * 65}, [(Code.INVALID_INPUT, ("case_number",))]),
        ({"region_code": "5202"}, [(Code.INVALID_CODE, ("region_code",))]),
        ({"institution_code": "H999"}, [(Code.INVALID_CODE, ("institution_code",))]),
        ({"behaviour": ""}, [(Code.INVALID_INPUT, ("behaviour",))]),
        ({"decided_on": date(2025, 7, 1)}, [(Code.DATE_IN_FUTURE, ("decided_on",))]),
        (
            {"conduct_from": date(2025, 2, 1), "conduct_to": date(2025, 1, 1)},
            [(Code.INVALID_INPUT, ("conduct_from",))],
        ),
        ({"conduct_to": date(2025, 3, 11)}, [(Code.INVALID_INPUT, ("conduct_to",))]),
        (
            {"conduct_to": date(2025, 7, 1)},
            [(Code.DATE_IN_FUTURE, ("conduct_to",)), (Code.INVALID_INPUT, ("conduct_to",))],
        ),
        ({"amount_involved": Decimal("-0.01")}, [(Code.INVALID_INPUT, ("amount_involved",))]),
        ({"entries": ()}, [(Code.INVALID_INPUT, ("entries",))]),
        ({"entries": entries({}, {"practitioner_code": P})}, [(Code.INVALID_INPUT, ("entries",))]),
        ({"entries": entries({}, {"points": 13})}, [(Code.POINTS_OUT_OF_RANGE, ("entries", 1, "points"))]),
        ({"entries": entries({"points": 0}, {})}, [(Code.POINTS_OUT_OF_RANGE, ("entries", 0, "points"))]),
        (
            {"entries": entries({"suspension_months": 7}, {})},
            [(Code.SUSPENSION_MONTHS_OUT_OF_RANGE, ("entries", 0, "suspension_months"))],
        ),
        (
            {"entries": entries({}, {"practitioner_code": "D-1"})},
            [(Code.INVALID_CODE, ("entries", 1, "practitioner_code"))],
        ),
    ],
)
def test_a_decision_names_each_mistake_by_its_domain_path(
    change: dict[str, Any], expected: list[tuple[Code, tuple[str | int, ...]]]
) -> None:
    assert found(dataclasses.replace(DECISION, **change).problems(TODAY)) == expected


def test_a_decision_reports_every_mistake_at_once() -> None:
    bad = dataclasses.replace(
        DECISION, case_number="", decided_on=date(2099, 1, 1), entries=entries({"points": 13}, {"suspension_months": 0})
    )
    assert found(bad.problems(TODAY)) == [
        (Code.INVALID_INPUT, ("case_number",)),
        (Code.DATE_IN_FUTURE, ("decided_on",)),
        (Code.POINTS_OUT_OF_RANGE, ("entries", 0, "points")),
        (Code.SUSPENSION_MONTHS_OUT_OF_RANGE, ("entries", 1, "suspension_months")),
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"outcome": ReviewOutcome.AMENDED}, [(Code.INVALID_INPUT, ("points",))]),
        ({"outcome": ReviewOutcome.AMENDED, "points": 6, "suspension_months": 2}, []),
        ({"points": 6}, [(Code.INVALID_INPUT, ("points",))]),
        ({"suspension_months": 2}, [(Code.INVALID_INPUT, ("points",))]),
        ({"outcome": ReviewOutcome.AMENDED, "points": 13}, [(Code.POINTS_OUT_OF_RANGE, ("points",))]),
        (
            {"outcome": ReviewOutcome.AMENDED, "points": 10, "suspension_months": 9},
            [(Code.SUSPENSION_MONTHS_OUT_OF_RANGE, ("suspension_months",))],
        ),
        ({"reason": "\n"}, [(Code.INVALID_INPUT, ("reason",))]),
        ({"reviewed_on": date(2025, 7, 1)}, [(Code.DATE_IN_FUTURE, ("reviewed_on",))]),
    ],
)
def test_a_review_changes_points_only_when_it_amends(
    change: dict[str, Any], expected: list[tuple[Code, tuple[str | int, ...]]]
) -> None:
    assert found(dataclasses.replace(REVIEW, **change).problems(TODAY)) == expected


def test_objections_and_restorations() -> None:
    assert found(FileObjection("C-1", "520201", P, " ").problems()) == [(Code.INVALID_INPUT, ("statement",))]
    bad = RecordRestoration(P, "12", "", date(2025, 7, 1))
    assert found(bad.problems(TODAY)) == [
        (Code.INVALID_INPUT, ("activity",)),
        (Code.INVALID_CODE, ("region_code",)),
        (Code.DATE_IN_FUTURE, ("restored_on",)),
    ]


@pytest.mark.parametrize(
    ("code", "kind", "message"),
    [
        ("H5202010000", InstitutionKind.MEDICAL_INSTITUTION, "H or P followed by 11 digits"),
        ("P52020100001", InstitutionKind.MEDICAL_INSTITUTION, "H codes are medical institutions"),
        ("H52020100001", InstitutionKind.RETAIL_PHARMACY, "H codes are medical institutions"),
    ],
)
def test_an_institution_code_matches_its_kind(code: str, kind: InstitutionKind, message: str) -> None:
    (problem,) = RegisterInstitution(code, "x", kind, "520201").problems()
    assert (problem.code, problem.field) == (Code.INVALID_CODE, ("code",)) and message in problem.message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"code": "D" * 21}, [(Code.INVALID_CODE, ("code",))]),
        ({"name": ""}, [(Code.INVALID_INPUT, ("name",))]),
        ({"id_number": f.resident_id()[:17] + "Y"}, [(Code.INVALID_ID_NUMBER, ("id_number",))]),
        ({"region_code": "990101"}, [(Code.INVALID_CODE, ("region_code",))]),
        ({"institution_codes": ()}, [(Code.INVALID_INPUT, ("institution_codes",))]),
        (
            {"institution_codes": ("H52020100001", "H52020100001")},
            [(Code.INVALID_INPUT, ("institution_codes",))],
        ),
        ({"institution_codes": ("H52020100001", "H1")}, [(Code.INVALID_CODE, ("institution_codes", 1))]),
        ({"registered_on": date(2025, 7, 1)}, [(Code.DATE_IN_FUTURE, ("registered_on",))]),
    ],
)
def test_registering_a_practitioner(change: dict[str, Any], expected: list[tuple[Code, tuple[str | int, ...]]]) -> None:
    assert found(dataclasses.replace(PERSON, **change).problems(TODAY)) == expected


def test_affiliations_and_deregistration() -> None:
    assert found(AddAffiliation("D-1", "H1", date(2025, 7, 1)).problems(TODAY)) == [
        (Code.INVALID_CODE, ("practitioner_code",)),
        (Code.INVALID_CODE, ("institution_code",)),
        (Code.DATE_IN_FUTURE, ("starts_on",)),
    ]
    assert found(DeregisterPractitioner(P, TODAY, " ").problems()) == [(Code.INVALID_INPUT, ("reason",))]


def test_commands_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DECISION.case_number = "other"  # type: ignore[misc]
