"""Each fact's stable wire form, pinned field by field: the event log stores it and federation will sign it."""

from __future__ import annotations

import importlib.util
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from registry.facts import Fact, digest
from registry.federation import envelope
from registry.points.commands import DecisionEntry
from registry.points.enums import DecisionBasis, Responsibility, ReviewOutcome
from registry.points.facts import (
    DecisionRecorded,
    ObjectionFiled,
    PointsReviewed,
    RestorationRecorded,
)
from registry.practitioners.enums import InstitutionKind, PractitionerCategory
from registry.practitioners.facts import (
    AffiliationAdded,
    AffiliationEnded,
    InstitutionRegistered,
    PractitionerDeregistered,
    PractitionerRegistered,
)

DECISION = DecisionRecorded(
    case_number="黔医保罚〔2025〕3号",
    region_code="520111",
    institution_code="H52011100001",
    basis=DecisionBasis.ADMINISTRATIVE_PENALTY,
    decided_on=date(2025, 5, 6),
    conduct_from=date(2025, 1, 2),
    conduct_to=None,
    behaviour="虚构医疗服务",
    amount_involved=Decimal("12345.6"),
    # Given out of order: the fact keeps them sorted by practitioner code.
    entries=(
        DecisionEntry("D520111000002", 10, Responsibility.IMPORTANT, 3),
        DecisionEntry("D520111000001", 11, Responsibility.MAIN),
    ),
)

WIRE: list[tuple[Fact, str, dict[str, Any]]] = [
    (
        InstitutionRegistered("H52011100001", "贵阳某医院", InstitutionKind.MEDICAL_INSTITUTION, "520111"),
        "institution.registered",
        {"code": "H52011100001", "name": "贵阳某医院", "kind": "MEDICAL_INSTITUTION", "region_code": "520111"},
    ),
    (
        PractitionerRegistered(
            code="D520111000001",
            name="张医生",
            category=PractitionerCategory.PHYSICIAN,
            region_code="520111",
            id_digest="ab" * 32,
            id_masked="5201**********123X",
            institution_codes=("P52011100002", "H52011100001"),
            registered_on=date(2024, 6, 1),
        ),
        "practitioner.registered",
        {
            "code": "D520111000001",
            "name": "张医生",
            "category": "PHYSICIAN",
            "region_code": "520111",
            "id_digest": "ab" * 32,
            "id_masked": "5201**********123X",
            "institution_codes": ["P52011100002", "H52011100001"],
            "registered_on": "2024-06-01",
        },
    ),
    (
        PractitionerDeregistered("D520111000001", "520111", date(2025, 5, 31), "left"),
        "practitioner.deregistered",
        {"practitioner_code": "D520111000001", "region_code": "520111", "ends_on": "2025-05-31", "reason": "left"},
    ),
    (
        AffiliationAdded("D520111000001", "H50010100001", "500101", date(2025, 1, 1)),
        "affiliation.added",
        {
            "practitioner_code": "D520111000001",
            "institution_code": "H50010100001",
            "region_code": "500101",
            "starts_on": "2025-01-01",
        },
    ),
    (
        AffiliationEnded("D520111000001", "H50010100001", "500101", date(2025, 3, 31)),
        "affiliation.ended",
        {
            "practitioner_code": "D520111000001",
            "institution_code": "H50010100001",
            "region_code": "500101",
            "ends_on": "2025-03-31",
        },
    ),
    (
        DECISION,
        "decision.recorded",
        {
            "case_number": "黔医保罚〔2025〕3号",
            "region_code": "520111",
            "institution_code": "H52011100001",
            "basis": "ADMINISTRATIVE_PENALTY",
            "decided_on": "2025-05-06",
            "conduct_from": "2025-01-02",
            "conduct_to": None,
            "behaviour": "虚构医疗服务",
            "amount_involved": "12345.60",
            "entries": [
                {
                    "practitioner_code": "D520111000001",
                    "points": 11,
                    "responsibility": "MAIN",
                    "suspension_months": None,
                },
                {
                    "practitioner_code": "D520111000002",
                    "points": 10,
                    "responsibility": "IMPORTANT",
                    "suspension_months": 3,
                },
            ],
        },
    ),
    (
        ObjectionFiled("C-1", "520111", "D520111000001", "我没有参与"),
        "objection.filed",
        {
            "case_number": "C-1",
            "region_code": "520111",
            "practitioner_code": "D520111000001",
            "statement": "我没有参与",
        },
    ),
    (
        PointsReviewed("C-1", "520111", "D520111000001", ReviewOutcome.AMENDED, 10, None, date(2025, 4, 1), "调整"),
        "points.reviewed",
        {
            "case_number": "C-1",
            "region_code": "520111",
            "practitioner_code": "D520111000001",
            "outcome": "AMENDED",
            "points": 10,
            "suspension_months": None,
            "reviewed_on": "2025-04-01",
            "reason": "调整",
        },
    ),
    (
        RestorationRecorded("D120101000001", "120101", "培训", date(2025, 6, 1), 1),
        "restoration.recorded",
        {
            "practitioner_code": "D120101000001",
            "region_code": "120101",
            "activity": "培训",
            "restored_on": "2025-06-01",
            "points": 1,
        },
    ),
]


@pytest.mark.parametrize(("fact", "type_", "wire"), WIRE, ids=[w[1] for w in WIRE])
def test_wire_form(fact: Fact, type_: str, wire: dict[str, Any]) -> None:
    assert (type_, 1) == (fact.TYPE, fact.VERSION)
    assert fact.wire() == wire
    assert list(fact.wire()) == list(wire)  # the field order too
    assert type(fact).from_wire(wire) == fact


def test_subjects_name_the_case_or_the_person() -> None:
    assert DECISION.subject == "520111/黔医保罚〔2025〕3号"
    assert WIRE[1][0].subject == "D520111000001"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"basis": "FINE"}, "basis"),
        ({"decided_on": "6 May 2025"}, "decided_on"),
        ({"amount_involved": "a lot"}, "amount_involved"),
        ({"amount_involved": 12345.6}, "amount_involved"),
        (
            {
                "entries": [
                    {"practitioner_code": "D1", "points": "11", "responsibility": "MAIN", "suspension_months": None}
                ]
            },
            "points",
        ),
        ({"entries": [{"practitioner_code": "D1", "points": 11, "responsibility": "MAIN"}]}, "entries"),
        ({"surprise": 1}, "expected the fields"),
        ({"conduct_to": None, "behaviour": None}, "behaviour"),
    ],
)
def test_from_wire_is_strict(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DecisionRecorded.from_wire({**DECISION.wire(), **change})


def test_the_digest_is_of_the_content() -> None:
    reordered = DecisionRecorded.from_wire({**DECISION.wire(), "entries": DECISION.wire()["entries"][::-1]})
    assert digest(reordered) == digest(DECISION)
    other = DecisionRecorded.from_wire({**DECISION.wire(), "amount_involved": "12345.61"})
    assert digest(other) != digest(DECISION)


def test_the_migration_hashes_stored_decisions_as_the_code_does() -> None:
    path = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "20261125_0002_stable_fact_form.py"
    spec = importlib.util.spec_from_file_location("stable_fact_form", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    row = {name: getattr(DECISION, name) for name in DECISION.wire() if name != "entries"}
    entries = [
        {"practitioner_code": e.practitioner_code, "points": e.points, "responsibility": e.responsibility.value}
        | {"suspension_months": e.suspension_months}
        for e in DECISION.entries
    ]
    row["basis"] = DECISION.basis.value
    assert migration._wire_digest({"id": 1, **row}, entries) == digest(DECISION)


@pytest.mark.parametrize(("fact", "type_", "wire"), WIRE, ids=[w[1] for w in WIRE])
def test_the_envelope_accepts_exactly_this_wire_form(fact: Fact, type_: str, wire: dict[str, Any]) -> None:
    """What a node seals, its peers accept: the envelope module knows each fact's fields."""
    assert envelope.FACT_FIELDS[type_] == frozenset(wire)
    envelope.seal("000000", 1, envelope.GENESIS, type_, wire)
